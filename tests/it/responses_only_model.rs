//! The other inbound APIs reaching a model Copilot serves only on `/responses` (issue 5):
//! Chat Completions and Anthropic Messages translated through the Chat pivot, with tool
//! calls, reasoning and faults.

use crate::responses::CODEX;
use crate::support::responses_answers::{self, FAILED_MESSAGE};
use crate::support::scenarios::{ANSWER, ENCRYPTED, SUMMARY_PARTS, TEXT_PARTS};
use crate::support::*;
use crate::{
    FAST, anthropic_blocks, assert_anthropic_stream, chat_request, named_events, post_chat,
    post_json,
};
use serde_json::{Value, json};

/// Chat Completions reaching a model Copilot serves only on `/responses`.
#[test]
fn chat_completions_to_a_responses_only_model() {
    let fake = Fake::start();
    let proxy = Proxy::start(&fake, &[], &[]);
    let mut body = chat_request(CODEX, "hi", false);
    body["messages"] =
        json!([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}]);
    let resp = post_json(&proxy, "/v1/chat/completions", &[], &body);
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert!(fake.requests_to("/chat/completions").is_empty());
    let up = fake.requests_to("/responses").pop().unwrap().json();
    assert_eq!(up["model"], CODEX);
    assert_eq!(up["instructions"], "Be brief.");
    assert!(up.get("messages").is_none(), "{up}");
    let completion = resp.json();
    assert_eq!(completion["object"], "chat.completion");
    assert_eq!(completion["model"], CODEX);
    assert_eq!(
        completion["choices"][0]["message"]["content"],
        TEXT_PARTS.concat()
    );
    assert_eq!(completion["choices"][0]["finish_reason"], "stop");
    assert_eq!(completion["usage"]["prompt_tokens"], 12);
    assert_eq!(completion["usage"]["completion_tokens"], 5);

    // Streamed, with tool calls, usage asked for.
    for marker in ["text", "tools"] {
        let mut body = chat_request(CODEX, &format!("scenario:{marker}"), true);
        body["stream_options"] = json!({"include_usage": true});
        body["tools"] = json!([{"type": "function", "function": {"name": "exec_command",
                                "parameters": {"type": "object"}}}]);
        let resp = post_json(&proxy, "/v1/chat/completions", &[], &body);
        assert_eq!(resp.status, 200, "{marker}: {}", resp.text());
        let up = fake.requests_to("/responses").pop().unwrap().json();
        assert_eq!(up["stream"], true);
        let events = parse_sse(&resp.text());
        assert!(events.last().unwrap().is_done(), "{marker}: [DONE] last");
        let chunks = data_json(&events);
        assert!(
            chunks
                .iter()
                .all(|c| c["object"] == "chat.completion.chunk"),
            "{marker}"
        );
        let finish: Vec<&Value> = chunks
            .iter()
            .filter_map(|c| c.pointer("/choices/0/finish_reason"))
            .filter(|f| !f.is_null())
            .collect();
        let usage = chunks.iter().find(|c| c["usage"].is_object());
        assert_eq!(
            usage.map(|u| u["usage"]["total_tokens"].clone()),
            Some(json!(17)),
            "{marker}"
        );
        if marker == "text" {
            let text: String = chunks
                .iter()
                .filter_map(|c| {
                    c.pointer("/choices/0/delta/content")
                        .and_then(Value::as_str)
                })
                .collect();
            assert_eq!(text, TEXT_PARTS.concat());
            assert_eq!(finish, [&json!("stop")]);
            continue;
        }
        assert_eq!(finish, [&json!("tool_calls")]);
        let mut calls: Vec<(String, String, String)> = Vec::new();
        for c in &chunks {
            for call in c
                .pointer("/choices/0/delta/tool_calls")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let i = call["index"].as_u64().unwrap() as usize;
                if calls.len() <= i {
                    calls.resize(i + 1, Default::default());
                }
                if let Some(id) = call["id"].as_str() {
                    calls[i].0 = id.to_string();
                }
                if let Some(n) = call.pointer("/function/name").and_then(Value::as_str) {
                    calls[i].1 = n.to_string();
                }
                if let Some(a) = call.pointer("/function/arguments").and_then(Value::as_str) {
                    calls[i].2.push_str(a);
                }
            }
        }
        let want: Vec<(String, String, String)> = responses_answers::EXEC_CALLS
            .iter()
            .map(|(id, args)| (id.to_string(), "exec_command".into(), args.to_string()))
            .collect();
        assert_eq!(calls, want);
    }
}

/// A responses-only model's faults reach Chat clients as an error chunk then `[DONE]`, and
/// Messages clients as an `error` event, never silently.
#[test]
fn responses_upstream_faults_reach_chat_and_messages_clients() {
    let fake = Fake::start();
    let proxy = Proxy::start(&fake, &FAST, &[]);
    let markers = [
        "drop",
        "stall-mid",
        "malformed",
        "error-event",
        "failed",
        "truncated",
    ];
    let cases: Vec<(&str, &str)> = markers
        .iter()
        .flat_map(|m| [("/v1/chat/completions", *m), ("/v1/messages", *m)])
        .collect();
    let results: Vec<(&str, &str, Resp)> = std::thread::scope(|s| {
        let handles: Vec<_> = cases
            .iter()
            .map(|(api, marker)| {
                let proxy = &proxy;
                s.spawn(move || {
                    let text = format!("scenario:{marker}");
                    let body = if *api == "/v1/messages" {
                        json!({"model": CODEX, "max_tokens": 100, "stream": true,
                               "messages": [{"role": "user", "content": text}]})
                    } else {
                        chat_request(CODEX, &text, true)
                    };
                    (*api, *marker, post_json(proxy, api, &[], &body))
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for (api, marker, resp) in &results {
        assert_eq!(resp.status, 200, "{api} {marker}: {}", resp.text());
        if *api == "/v1/messages" {
            let events = named_events(&resp.text());
            let (last, data) = events.last().unwrap();
            assert_eq!(last, "error", "{marker}: {events:?}");
            assert!(data["error"]["message"].is_string(), "{marker}: {data}");
            assert!(
                !events.iter().any(|(n, _)| n == "message_stop"),
                "{marker}: {events:?}"
            );
            if *marker == "failed" {
                assert!(
                    data["error"]["message"]
                        .as_str()
                        .unwrap()
                        .contains(FAILED_MESSAGE),
                    "{data}"
                );
            }
            continue;
        }
        let events = parse_sse(&resp.text());
        let n = events.len();
        assert!(events[n - 1].is_done(), "{marker}: {}", resp.text());
        let error = events[n - 2].json();
        assert!(
            error["error"]["message"].is_string(),
            "{marker}: an error chunk before [DONE]: {}",
            resp.text()
        );
        assert_eq!(events.iter().filter(|e| e.is_done()).count(), 1);
    }
}

/// DESIGN.md §3 and the passthrough's own rule: Copilot's `/responses` rejects `store`
/// (reference/peers.md §C3), so no translated request may carry it.
#[test]
fn translated_requests_to_responses_carry_no_store() {
    let fake = Fake::start();
    let proxy = Proxy::start(&fake, &[], &[]);
    post_chat(&proxy, CODEX, "hi", false);
    let body =
        json!({"model": CODEX, "max_tokens": 100, "messages": [{"role": "user", "content": "hi"}]});
    post_json(&proxy, "/v1/messages", &[], &body);
    let ups = fake.requests_to("/responses");
    assert_eq!(ups.len(), 2);
    for up in ups {
        assert!(up.json().get("store").is_none(), "{}", up.json());
    }
}

/// Messages reaching a responses-only model: text, tool calls and reasoning (whose
/// encrypted content becomes the thinking signature and goes back on the next turn).
#[test]
fn messages_to_a_responses_only_model() {
    let fake = Fake::start();
    let proxy = Proxy::start(&fake, &[], &[]);
    let request = |text: &str, stream: bool| {
        json!({"model": CODEX, "max_tokens": 2000, "stream": stream,
               "thinking": {"type": "enabled", "budget_tokens": 1024},
               "tools": [{"name": "exec_command", "input_schema": {"type": "object"}}],
               "messages": [{"role": "user", "content": text}]})
    };
    let resp = post_json(&proxy, "/v1/messages", &[], &request("hi", true));
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert!(fake.requests_to("/chat/completions").is_empty());
    assert_eq!(fake.requests_to("/responses").len(), 1);
    let blocks = anthropic_blocks(&assert_anthropic_stream(&named_events(&resp.text())));
    assert_eq!(
        blocks,
        vec![json!({"type": "text", "text": TEXT_PARTS.concat()})]
    );

    let resp = post_json(
        &proxy,
        "/v1/messages",
        &[],
        &request("scenario:tools", true),
    );
    let events = assert_anthropic_stream(&named_events(&resp.text()));
    let blocks = anthropic_blocks(&events);
    assert_eq!(blocks.len(), 2, "{blocks:?}");
    for (block, (id, args)) in blocks.iter().zip(responses_answers::EXEC_CALLS) {
        assert_eq!(block["type"], "tool_use");
        assert_eq!(block["id"], id);
        assert_eq!(block["name"], "exec_command");
        assert_eq!(block["input"], serde_json::from_str::<Value>(args).unwrap());
    }
    assert_eq!(
        events[events.len() - 2].1["delta"]["stop_reason"],
        "tool_use"
    );

    let resp = post_json(
        &proxy,
        "/v1/messages",
        &[],
        &request("scenario:reasoning", false),
    );
    assert_eq!(resp.status, 200, "{}", resp.text());
    let message = resp.json();
    let content = message["content"].as_array().unwrap().clone();
    assert_eq!(content[0]["type"], "thinking", "{message}");
    assert_eq!(content[0]["thinking"], SUMMARY_PARTS.concat());
    let signature = content[0]["signature"].as_str().unwrap();
    assert!(signature.contains(ENCRYPTED), "{signature}");
    assert_eq!(content[1], json!({"type": "text", "text": ANSWER}));

    // The signature goes back as the reasoning item it came from.
    let body = json!({"model": CODEX, "max_tokens": 2000, "messages": [
        {"role": "user", "content": "first"},
        {"role": "assistant", "content": content},
        {"role": "user", "content": "second"}]});
    let resp = post_json(&proxy, "/v1/messages", &[], &body);
    assert_eq!(resp.status, 200, "{}", resp.text());
    let up = fake.requests_to("/responses").pop().unwrap().json();
    let reasoning = up["input"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["type"] == "reasoning")
        .unwrap_or_else(|| panic!("no reasoning item: {up}"))
        .clone();
    assert_eq!(reasoning["encrypted_content"], ENCRYPTED, "{reasoning}");
    assert_eq!(
        reasoning["id"],
        responses_answers::REASONING_ID,
        "{reasoning}"
    );
}
