//! Issue 13 item 2: Codex's remote compaction, both forms (`POST /v1/responses/compact` and
//! a `compaction_trigger` item), passed through for a model Copilot serves on `/responses`
//! (the fake compacts itself there) and done by the proxy for a translated one, then a
//! later turn carrying the compaction item.

use crate::post_json;
use crate::responses::{CHAT_ONLY, CODEX, codex_request, first_input, user};
use crate::support::responses_answers::FAKE_COMPACTION;
use crate::support::scenarios::TEXT_PARTS;
use crate::support::ws::WsClient;
use crate::support::*;
use serde_json::{Value, json};

const OURS: &str = "copilot-api.compaction.v1.";

/// A conversation long enough to compact: the first turn, a tool call and its output.
fn history() -> Vec<Value> {
    let mut items = first_input("Build the thing");
    items.push(
        json!({"type": "function_call", "call_id": "call_1", "name": "exec_command",
                      "arguments": "{\"cmd\":\"ls\"}"}),
    );
    items.push(json!({"type": "function_call_output", "call_id": "call_1", "output": "a.txt"}));
    items
}

fn compact_request(model: &str) -> Value {
    json!({"model": model, "input": history(), "instructions": "You are Codex.",
           "tools": crate::responses::codex_tools(), "parallel_tool_calls": true})
}

fn compaction_of(output: &[Value]) -> &Value {
    let items: Vec<&Value> = output
        .iter()
        .filter(|i| i["type"] == "compaction")
        .collect();
    assert_eq!(items.len(), 1, "exactly one compaction item: {output:?}");
    items[0]
}

#[test]
fn compact_endpoint_passes_through_for_a_responses_model() {
    let fake = Fake::start();
    let proxy = Proxy::start(&fake, &[], &[]);
    for path in ["/v1/responses/compact", "/responses/compact"] {
        let resp = post_json(&proxy, path, &[], &compact_request(CODEX));
        assert_eq!(resp.status, 200, "{path}: {}", resp.text());
        let output = resp.json()["output"].as_array().unwrap().clone();
        assert_eq!(compaction_of(&output)["encrypted_content"], FAKE_COMPACTION);
    }
    let sent = fake.requests_to("/responses/compact");
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[0].header("x-initiator"), Some("agent"));
    assert_eq!(sent[0].json()["model"], CODEX);
    assert!(fake.requests_to("/responses").is_empty());
}

#[test]
fn compact_endpoint_summarises_through_the_normal_route_when_copilot_cannot() {
    let fake = Fake::start();
    let proxy = Proxy::start(&fake, &[], &[]);
    // A translated model: one summary call on /chat/completions.
    let resp = post_json(
        &proxy,
        "/v1/responses/compact",
        &[],
        &compact_request(CHAT_ONLY),
    );
    assert_eq!(resp.status, 200, "{}", resp.text());
    let output = resp.json()["output"].as_array().unwrap().clone();
    let item = compaction_of(&output).clone();
    let content = item["encrypted_content"].as_str().unwrap();
    assert!(
        content.starts_with(OURS) && !content.contains("fake"),
        "{content}"
    );
    assert!(
        output
            .iter()
            .any(|i| i.to_string().contains("Build the thing"))
    );
    let summary_call = fake.requests_to("/chat/completions").pop().unwrap();
    assert_eq!(summary_call.header("x-initiator"), Some("agent"));
    let call = summary_call.json();
    let last = call["messages"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .to_string();
    assert!(last.contains("handoff note"), "{last}");
    assert!(
        call.to_string().contains("a.txt"),
        "the conversation was sent"
    );
    assert!(fake.requests_to("/responses/compact").is_empty());

    // A later turn carrying the item: Copilot gets the summary, not the item.
    let mut input = vec![item.clone()];
    input.push(user("Continue"));
    let resp = post_json(
        &proxy,
        "/v1/responses",
        &[],
        &codex_request(CHAT_ONLY, &input),
    );
    assert_eq!(resp.status, 200, "{}", resp.text());
    let sent = fake
        .requests_to("/chat/completions")
        .pop()
        .unwrap()
        .json()
        .to_string();
    assert!(sent.contains("Summary of the earlier part"), "{sent}");
    assert!(
        sent.contains(&TEXT_PARTS.concat()),
        "the fake's summary: {sent}"
    );
    assert!(!sent.contains(OURS), "{sent}");

    // The same item on a /responses model is expanded too (Copilot cannot read ours).
    let resp = post_json(&proxy, "/v1/responses", &[], &codex_request(CODEX, &input));
    assert_eq!(resp.status, 200, "{}", resp.text());
    let sent = fake
        .requests_to("/responses")
        .pop()
        .unwrap()
        .json()
        .to_string();
    assert!(sent.contains("Summary of the earlier part") && !sent.contains(OURS));

    // A /responses model whose compaction Copilot refuses: the proxy summarises.
    let mut request = compact_request(CODEX);
    request["input"]
        .as_array_mut()
        .unwrap()
        .push(user("scenario:status:404"));
    let resp = post_json(&proxy, "/v1/responses/compact", &[], &request);
    assert_eq!(resp.status, 200, "{}", resp.text());
    let output = resp.json()["output"].as_array().unwrap().clone();
    let content = compaction_of(&output)["encrypted_content"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(content.starts_with(OURS), "{content}");
    let summary = fake.requests_to("/responses").pop().unwrap();
    assert_eq!(summary.header("x-initiator"), Some("agent"));
    assert!(summary.json().to_string().contains("handoff note"));
}

fn trigger_request(model: &str, stream: bool) -> Value {
    let mut input = history();
    input.push(json!({"type": "compaction_trigger"}));
    let mut body = codex_request(model, &input);
    body["stream"] = json!(stream);
    body
}

#[test]
fn compaction_trigger_passes_through_for_a_responses_model() {
    let fake = Fake::start();
    let proxy = Proxy::start(&fake, &[], &[]);
    let resp = post_json(&proxy, "/v1/responses", &[], &trigger_request(CODEX, true));
    assert_eq!(resp.status, 200, "{}", resp.text());
    let events = crate::named_events(&resp.text());
    let done: Vec<Value> = events
        .iter()
        .filter(|(n, _)| n == "response.output_item.done")
        .map(|(_, d)| d["item"].clone())
        .collect();
    assert_eq!(compaction_of(&done)["encrypted_content"], FAKE_COMPACTION);
    assert_eq!(events.last().unwrap().0, "response.completed");
    let sent = fake.requests_to("/responses").pop().unwrap().json();
    assert_eq!(
        sent["input"].as_array().unwrap().last().unwrap()["type"],
        "compaction_trigger"
    );
    // A later turn with Copilot's item sends it back untouched.
    let input = vec![done[0].clone(), user("Continue")];
    post_json(&proxy, "/v1/responses", &[], &codex_request(CODEX, &input));
    let sent = fake.requests_to("/responses").pop().unwrap().json();
    assert_eq!(sent["input"][0]["encrypted_content"], FAKE_COMPACTION);
}

#[test]
fn compaction_trigger_on_a_translated_model_is_answered_by_the_proxy() {
    let fake = Fake::start();
    let proxy = Proxy::start(&fake, &[], &[]);
    let resp = post_json(
        &proxy,
        "/v1/responses",
        &[],
        &trigger_request(CHAT_ONLY, true),
    );
    assert_eq!(resp.status, 200, "{}", resp.text());
    let events = crate::named_events(&resp.text());
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "response.created",
            "response.output_item.added",
            "response.output_item.done",
            "response.completed"
        ]
    );
    let completed = &events[3].1["response"];
    let output = completed["output"].as_array().unwrap();
    let content = compaction_of(output)["encrypted_content"].as_str().unwrap();
    assert!(content.starts_with(OURS));
    assert_eq!(completed["id"], events[0].1["response"]["id"]);
    let call = fake.requests_to("/chat/completions").pop().unwrap();
    assert_eq!(call.header("x-initiator"), Some("agent"));
    assert!(!call.json().to_string().contains("compaction_trigger"));
    // Not streamed: the response object.
    let resp = post_json(
        &proxy,
        "/v1/responses",
        &[],
        &trigger_request(CHAT_ONLY, false),
    );
    assert_eq!(resp.status, 200, "{}", resp.text());
    let v = resp.json();
    assert_eq!(v["status"], "completed");
    compaction_of(v["output"].as_array().unwrap());
}

#[test]
fn compaction_over_the_websocket_then_a_turn_from_it() {
    let fake = Fake::start();
    let proxy = Proxy::start(&fake, &[], &[]);
    let mut ws = WsClient::connect(&proxy.url, "/v1/responses", &[]).unwrap();
    let mut frame = trigger_request(CHAT_ONLY, true);
    frame["type"] = json!("response.create");
    ws.send(&frame);
    let events = ws.events_until_end();
    let last = events.last().unwrap();
    assert_eq!(last["type"], "response.completed", "{events:?}");
    let item = compaction_of(last["response"]["output"].as_array().unwrap()).clone();
    let mut next = codex_request(CHAT_ONLY, &[item, user("Go on")]);
    next["type"] = json!("response.create");
    ws.send(&next);
    assert_eq!(
        ws.events_until_end().last().unwrap()["type"],
        "response.completed"
    );
    let sent = fake
        .requests_to("/chat/completions")
        .pop()
        .unwrap()
        .json()
        .to_string();
    assert!(sent.contains("Summary of the earlier part") && sent.contains("Go on"));
}
