//! `previous_response_id` on the translated Responses path (issue 5, DESIGN.md §7): a
//! bounded in-memory store supplies the earlier turns; unknown, evicted and expired ids get
//! a clear 400.

use crate::responses::{CHAT_ONLY, assert_responses_stream, codex_tools, user};
use crate::support::responses_answers::SINGLE_CALL_ID;
use crate::support::scenarios::TEXT_PARTS;
use crate::support::*;
use crate::{assert_openai_error, named_events, post_json};
use serde_json::json;
use std::time::Duration;

/// `previous_response_id` on the translated path: the store supplies the earlier turns.
#[test]
fn previous_response_id_chains_translated_turns() {
    let fake = Fake::start();
    let proxy = Proxy::start(&fake, &[], &[]);
    // Turn 1, not streamed: text.
    let body = json!({"model": CHAT_ONLY, "instructions": "Be brief.",
                      "input": "What is Rust?", "store": false});
    let resp = post_json(&proxy, "/v1/responses", &[], &body);
    assert_eq!(resp.status, 200, "{}", resp.text());
    let first = resp.json();
    assert_eq!(first["object"], "response");
    assert_eq!(first["status"], "completed");
    assert_eq!(first["usage"]["total_tokens"], 17);
    let id1 = first["id"].as_str().unwrap().to_string();

    // Turn 2, streamed, only the new input and the id: a tool call.
    fake.push_scenario(Scenario::Call("exec_command".into()));
    let body = json!({"model": CHAT_ONLY, "previous_response_id": id1, "stream": true,
                      "input": [user("Show me the files.")],
                      "tools": [codex_tools()[0]]});
    let resp = post_json(&proxy, "/v1/responses", &[], &body);
    assert_eq!(resp.status, 200, "{}", resp.text());
    let up = fake.requests_to("/chat/completions").pop().unwrap().json();
    assert_eq!(
        up["messages"],
        json!([
            {"role": "user", "content": "What is Rust?"},
            {"role": "assistant", "content": TEXT_PARTS.concat()},
            {"role": "user", "content": "Show me the files."}
        ]),
        "turn 1 from the store (its instructions belonged to turn 1)"
    );
    let events = named_events(&resp.text());
    let done = assert_responses_stream(&events, "response.completed");
    let id2 = done["id"].as_str().unwrap().to_string();
    assert_ne!(id1, id2);

    // Turn 3: only the tool output, as Codex sends it over a WebSocket.
    let body = json!({"model": CHAT_ONLY, "previous_response_id": id2, "stream": true,
                      "input": [{"type": "function_call_output", "call_id": SINGLE_CALL_ID, "output": "a\nb"}],
                      "tools": [codex_tools()[0]]});
    let resp = post_json(&proxy, "/v1/responses", &[], &body);
    assert_eq!(resp.status, 200, "{}", resp.text());
    let up = fake.requests_to("/chat/completions").pop().unwrap();
    assert_eq!(up.header("x-initiator"), Some("agent"));
    let up = up.json();
    let messages = up["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 5, "{up}");
    assert_eq!(messages[3]["tool_calls"][0]["id"], SINGLE_CALL_ID);
    assert_eq!(
        messages[4],
        json!({"role": "tool", "tool_call_id": SINGLE_CALL_ID, "content": "a\nb"})
    );

    // An id the proxy never gave out.
    for stream in [false, true] {
        let body = json!({"model": CHAT_ONLY, "previous_response_id": "resp_unknown", "input": "hi", "stream": stream});
        let resp = post_json(&proxy, "/v1/responses", &[], &body);
        let error = assert_openai_error(&resp, 400, Some("invalid_request_error"));
        assert!(
            error["message"].as_str().unwrap().contains("resp_unknown"),
            "{error}"
        );
    }
    assert_eq!(fake.requests_to("/chat/completions").len(), 3);
}

#[test]
fn the_response_store_evicts_by_size_and_by_age() {
    let fake = Fake::start();
    let proxy = Proxy::start(
        &fake,
        &["--response-store-size", "2", "--response-store-ttl", "1"],
        &[],
    );
    let turn = |previous: Option<&str>| {
        let mut body = json!({"model": CHAT_ONLY, "input": "hi"});
        if let Some(p) = previous {
            body["previous_response_id"] = json!(p);
        }
        post_json(&proxy, "/v1/responses", &[], &body)
    };
    let ids: Vec<String> = (0..3)
        .map(|_| turn(None).json()["id"].as_str().unwrap().to_string())
        .collect();
    assert_openai_error(&turn(Some(&ids[0])), 400, Some("invalid_request_error"));
    assert_eq!(turn(Some(&ids[2])).status, 200, "the newest is kept");
    std::thread::sleep(Duration::from_millis(1300));
    let expired = turn(Some(&ids[1]));
    let error = assert_openai_error(&expired, 400, Some("invalid_request_error"));
    assert!(
        error["message"].as_str().unwrap().contains("expired")
            || error["message"].as_str().unwrap().contains("not known"),
        "{error}"
    );
}
