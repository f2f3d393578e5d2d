//! `POST /v1/messages` for a model Copilot serves on its native Anthropic endpoint
//! (DESIGN.md §3): the body and the event stream pass through, with the documented edits,
//! pings during silence and a proper `error` event on every upstream fault; and
//! `POST /v1/messages/count_tokens`, answered locally.

use crate::messages_translated::{
    CLAUDE_CODE_HEADERS, claude_code_request, claude_code_tools, first_turn,
};
use crate::support::scenarios::{self, Api};
use crate::support::*;
use crate::{
    FAST, anthropic_blocks, assert_anthropic_error, assert_anthropic_stream, message_request,
    named, named_events, post_json, post_message, post_messages_at_once,
};
use serde_json::{Value, json};

const MODEL: &str = "claude-sonnet-4.5";

fn names(events: &[Sse]) -> Vec<String> {
    named(events).into_iter().map(|(n, _)| n).collect()
}

#[test]
fn stream_passes_anthropic_events_through_unchanged() {
    let fake = Fake::start();
    let proxy = Proxy::start(&fake, &[], &[]);
    for marker in ["text", "reasoning", "tools"] {
        let body = message_request(MODEL, &format!("scenario:{marker}"), true);
        let resp = post_json(&proxy, "/v1/messages?beta=true", &[], &body);
        assert_eq!(resp.status, 200, "{marker}: {}", resp.text());
        assert_eq!(
            resp.header("content-type"),
            Some("text/event-stream; charset=utf-8")
        );
        let upstream = fake.requests_to("/v1/messages").pop().unwrap();
        let sent = parse_sse(&scenarios::script_text(&messages_answers::messages(
            &Scenario::parse(marker).unwrap(),
            &upstream.json(),
        )));
        let got = parse_sse(&resp.text());
        assert_eq!(named(&got), named(&sent), "{marker}");
        assert_eq!(names(&got).last().map(String::as_str), Some("message_stop"));
    }
    assert!(fake.requests_to("/chat/completions").is_empty());
}

/// Claude Code's two-turn tool loop on the native path: the body passes through (only
/// `max_tokens` fitted), betas filtered, events relayed unchanged, and the thinking block
/// with its signature goes back upstream untouched in turn two.
#[test]
fn claude_code_tool_loop_passes_through_natively() {
    let fake = Fake::start();
    let proxy = Proxy::start(&fake, &[], &[]);
    let mut messages = first_turn("Which tools can fetch a web page?");
    fake.push_scenario(Scenario::ThinkCall("ToolSearch".into()));
    let body = claude_code_request(MODEL, json!(messages));
    let resp = post_json(
        &proxy,
        "/v1/messages?beta=true",
        &CLAUDE_CODE_HEADERS,
        &body,
    );
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert!(fake.requests_to("/chat/completions").is_empty());
    let up = fake.requests_to("/v1/messages").pop().unwrap();
    assert_eq!(up.header("x-initiator"), Some("user"));
    assert_eq!(
        up.header("anthropic-beta"),
        Some("interleaved-thinking-2025-05-14,context-management-2025-06-27")
    );
    let mut expected = body.clone();
    expected["max_tokens"] = json!(16000);
    assert_eq!(up.json(), expected, "passed through");
    let sent = named(&parse_sse(&scenarios::script_text(
        &messages_answers::messages(&Scenario::ThinkCall("ToolSearch".into()), &up.json()),
    )));
    assert_eq!(named(&parse_sse(&resp.text())), sent);
    let blocks = anthropic_blocks(&assert_anthropic_stream(&named_events(&resp.text())));
    assert_eq!(blocks[0]["signature"], scenarios::SIGNATURE);
    let call_id = blocks[1]["id"].as_str().unwrap().to_string();

    messages.push(json!({"role": "assistant", "content": [
        {"type": "thinking", "thinking": blocks[0]["thinking"], "signature": blocks[0]["signature"]},
        {"type": "tool_use", "id": call_id, "name": "ToolSearch", "input": blocks[1]["input"]}
    ]}));
    messages.push(json!({"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": call_id, "content": [
            {"type": "tool_reference", "tool_name": "WebFetch"},
            {"type": "text", "text": "Tool WebFetch loaded.", "cache_control": {"type": "ephemeral"}}
        ]}
    ]}));
    let body = claude_code_request(MODEL, json!(messages));
    let resp = post_json(
        &proxy,
        "/v1/messages?beta=true",
        &CLAUDE_CODE_HEADERS,
        &body,
    );
    assert_eq!(resp.status, 200, "{}", resp.text());
    let up = fake.requests_to("/v1/messages").pop().unwrap();
    assert_eq!(up.header("x-initiator"), Some("agent"));
    assert_eq!(up.json()["messages"], json!(messages), "history untouched");
    assert_eq!(up.json()["tools"], claude_code_tools());
    let blocks = anthropic_blocks(&assert_anthropic_stream(&named_events(&resp.text())));
    assert_eq!(blocks[0]["text"], scenarios::TEXT_PARTS.concat());
}

#[test]
fn thinking_signature_survives_the_stream() {
    let fake = Fake::start();
    let proxy = Proxy::start(&fake, &[], &[]);
    let body = message_request(MODEL, "scenario:reasoning", true);
    let resp = post_json(&proxy, "/v1/messages", &[], &body);
    let signatures: Vec<Value> = named(&parse_sse(&resp.text()))
        .into_iter()
        .filter(|(_, d)| d["delta"]["type"] == "signature_delta")
        .map(|(_, d)| d["delta"]["signature"].clone())
        .collect();
    assert_eq!(signatures, vec![json!(scenarios::SIGNATURE)]);
}

#[test]
fn non_stream_returns_the_message_json() {
    let fake = Fake::start();
    let proxy = Proxy::start(&fake, &[], &[]);
    for marker in ["text", "reasoning", "tools"] {
        let body = message_request(MODEL, &format!("scenario:{marker}"), false);
        let resp = post_json(&proxy, "/v1/messages?beta=true", &[], &body);
        assert_eq!(resp.status, 200, "{marker}: {}", resp.text());
        assert_eq!(
            resp.json(),
            messages_answers::anthropic_message(MODEL, &Scenario::parse(marker).unwrap()),
            "{marker}"
        );
    }
}

#[test]
fn headers_betas_version_and_both_client_auth_styles() {
    let fake = Fake::start();
    let key = "sk-anthropic-client-key";
    let proxy = Proxy::start(&fake, &["--api-key", key], &[]);
    let betas = "claude-code-20250219,interleaved-thinking-2025-05-14, context-management-2025-06-27,context-1m-2025-08-07,fine-grained-tool-streaming-2025-05-14,advanced-tool-use-2025-11-20,oauth-2025-04-20";
    let resp = post_json(
        &proxy,
        "/v1/messages?beta=true",
        &[
            ("x-api-key", key),
            ("anthropic-version", "2026-10-21"),
            ("anthropic-beta", betas),
        ],
        &message_request(MODEL, "hi", true),
    );
    assert_eq!(resp.status, 200, "{}", resp.text());
    let up = fake.requests_to("/v1/messages").pop().unwrap();
    assert_eq!(up.header("anthropic-version"), Some("2026-10-21"));
    let forwarded: Vec<&str> = up
        .header("anthropic-beta")
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .collect();
    assert_eq!(
        forwarded,
        [
            "interleaved-thinking-2025-05-14",
            "context-management-2025-06-27",
            "fine-grained-tool-streaming-2025-05-14",
            "advanced-tool-use-2025-11-20"
        ]
    );
    assert_eq!(up.header("x-initiator"), Some("user"));
    assert_eq!(up.header("x-api-key"), None);
    let bearer = format!("Bearer {}", fake.issued_tokens().last().unwrap());
    assert_eq!(up.header("authorization"), Some(bearer.as_str()));

    // Bearer auth, the other version, only betas Copilot does not take, a tool-result turn.
    let body = json!({"model": MODEL, "max_tokens": 64, "messages": [
        {"role": "user", "content": "weather?"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "w", "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "sunny"}]}
    ]});
    let client_bearer = format!("Bearer {key}");
    let resp = post_json(
        &proxy,
        "/v1/messages",
        &[
            ("authorization", &client_bearer),
            ("anthropic-version", "2023-06-01"),
            ("anthropic-beta", "claude-code-20250219,oauth-2025-04-20"),
        ],
        &body,
    );
    assert_eq!(resp.status, 200, "{}", resp.text());
    let up = fake.requests_to("/v1/messages").pop().unwrap();
    assert_eq!(up.header("anthropic-version"), Some("2023-06-01"));
    assert_eq!(up.header("anthropic-beta"), None);
    assert_eq!(up.header("x-initiator"), Some("agent"));
    for rq in fake.requests() {
        assert!(
            rq.headers.iter().all(|(_, v)| !v.contains(key)),
            "client key leaked upstream to {}",
            rq.path
        );
    }

    let denied = post_json(
        &proxy,
        "/v1/messages",
        &[("x-api-key", "wrong")],
        &message_request(MODEL, "hi", false),
    );
    assert_anthropic_error(&denied, 401, Some("authentication_error"));
}

#[test]
fn server_tools_removed_and_max_tokens_fitted_before_upstream() {
    let fake = Fake::start();
    // Web search served by the proxy is tested in web_search.rs; off, the tool is removed.
    let proxy = Proxy::start(&fake, &["--web-search", "off"], &[]);
    let custom = json!({"name": "get_weather", "description": "w",
                        "input_schema": {"type": "object", "properties": {}}});
    let body = json!({
        "model": MODEL, "max_tokens": 128000, "stream": true,
        "system": [{"type": "text", "text": "sys", "cache_control": {"type": "ephemeral"}}],
        "messages": [{"role": "user", "content": [{"type": "text", "text": "hi",
                      "cache_control": {"type": "ephemeral"}}]}],
        "tools": [{"type": "web_search_20250305", "name": "web_search", "max_uses": 5}, custom],
        "tool_choice": {"type": "auto"},
        "thinking": {"type": "enabled", "budget_tokens": 4000},
        "metadata": {"user_id": "user_abc"},
        "context_management": {"edits": [{"type": "clear_thinking_20251015"}]}
    });
    let beta = [("anthropic-beta", "context-management-2025-06-27")];
    let resp = post_json(&proxy, "/v1/messages?beta=true", &beta, &body);
    assert_eq!(resp.status, 200, "{}", resp.text());
    let mut expected = body.clone();
    expected["tools"] = json!([custom]);
    expected["max_tokens"] = json!(16000);
    assert_eq!(
        fake.requests_to("/v1/messages").pop().unwrap().json(),
        expected
    );

    // `context_management` is valid only with its beta, so it goes when the beta does.
    let resp = post_json(&proxy, "/v1/messages?beta=true", &[], &body);
    assert_eq!(resp.status, 200, "{}", resp.text());
    expected
        .as_object_mut()
        .unwrap()
        .remove("context_management");
    assert_eq!(
        fake.requests_to("/v1/messages").pop().unwrap().json(),
        expected
    );

    // Only a server tool: `tools` and `tool_choice` go with it.
    let mut only = message_request(MODEL, "hi", false);
    only["tools"] = json!([{"type": "web_search_20250305", "name": "web_search"}]);
    only["tool_choice"] = json!({"type": "any"});
    let resp = post_json(&proxy, "/v1/messages", &[], &only);
    assert_eq!(resp.status, 200, "{}", resp.text());
    let up = fake.requests_to("/v1/messages").pop().unwrap().json();
    assert!(
        up.get("tools").is_none() && up.get("tool_choice").is_none(),
        "{up}"
    );
}

#[test]
fn model_resolved_upstream_and_reported_as_named() {
    let fake = Fake::start();
    let proxy = Proxy::start(&fake, &[], &[]);
    let named_id = "claude-sonnet-4-5-20250929";
    let resp = post_message(&proxy, named_id, "hi", true);
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(
        fake.requests_to("/v1/messages").pop().unwrap().json()["model"],
        MODEL
    );
    let start = named(&parse_sse(&resp.text()))[0].clone();
    assert_eq!(start.0, "message_start");
    assert_eq!(start.1["message"]["model"], named_id);
    let resp = post_message(&proxy, named_id, "hi", false);
    assert_eq!(resp.json()["model"], named_id, "{}", resp.text());
}

#[test]
fn pings_fill_upstream_silence() {
    let fake = Fake::start();
    let proxy = Proxy::start(&fake, &FAST, &[]);
    let resp = post_message(&proxy, MODEL, "scenario:pause:800", true);
    assert_eq!(resp.status, 200);
    let got = names(&parse_sse(&resp.text()));
    let first_delta = got.iter().position(|n| n == "content_block_delta").unwrap();
    let second_delta = got
        .iter()
        .rposition(|n| n == "content_block_delta")
        .unwrap();
    let pings = got[first_delta..second_delta]
        .iter()
        .filter(|n| *n == "ping")
        .count();
    assert!((2..=5).contains(&pings), "0.8 s / 0.2 s pings: {got:?}");
    assert!(!got.contains(&"error".to_string()), "{got:?}");
    assert_eq!(got.last().map(String::as_str), Some("message_stop"));
    assert!(
        resp.text()
            .contains("event: ping\ndata: {\"type\":\"ping\"}\n\n"),
        "{}",
        resp.text()
    );
}

#[test]
fn every_upstream_fault_closes_the_block_and_ends_with_an_error_event() {
    let fake = Fake::start();
    let proxy = Proxy::start(&fake, &FAST, &[]);
    let markers = ["stall-mid", "drop", "malformed", "truncated", "stall-first"];
    let results = post_messages_at_once(&proxy, MODEL, &markers);
    for (marker, resp) in &results {
        assert_eq!(resp.status, 200, "{marker}: {}", resp.text());
        let events = named(&parse_sse(&resp.text()));
        let got: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
        let (last, data) = events.last().unwrap();
        assert_eq!(last, "error", "{marker}: {got:?}");
        assert_eq!(data["type"], "error");
        assert!(data["error"]["type"].is_string(), "{marker}: {data}");
        assert!(
            data["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "{marker}: {data}"
        );
        assert_eq!(got.iter().filter(|n| **n == "error").count(), 1, "{got:?}");
        assert!(!got.contains(&"message_stop"), "{marker}: {got:?}");
        if *marker == "stall-first" {
            assert!(!got.contains(&"content_block_stop"), "{got:?}");
            assert!(got.iter().filter(|n| **n == "ping").count() >= 2, "{got:?}");
            continue;
        }
        // The open text block is closed before the error.
        let stop = &events[events.len() - 2];
        assert_eq!(stop.0, "content_block_stop", "{marker}: {got:?}");
        assert_eq!(stop.1, json!({"type": "content_block_stop", "index": 0}));
        assert_eq!(
            &got[..3],
            [
                "message_start",
                "content_block_start",
                "content_block_delta"
            ],
            "{marker}"
        );
        if *marker == "stall-mid" {
            assert!(got.iter().filter(|n| **n == "ping").count() >= 2, "{got:?}");
        }
        assert!(!resp.text().contains(" lost"), "{marker}");
    }
}

#[test]
fn upstream_error_event_is_passed_on_and_ends_the_stream() {
    let fake = Fake::start();
    let proxy = Proxy::start(&fake, &FAST, &[]);
    let resp = post_message(&proxy, MODEL, "scenario:error-event", true);
    let events = named(&parse_sse(&resp.text()));
    let (last, data) = events.last().unwrap();
    assert_eq!(last, "error");
    assert_eq!(
        data,
        &json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})
    );
    assert_eq!(events.iter().filter(|(n, _)| n == "error").count(), 1);
}

#[test]
fn errors_use_the_anthropic_shape() {
    let fake = Fake::start();
    let proxy = Proxy::start(&fake, &[], &[]);
    let request = message_request(MODEL, "hi", true);

    // Upstream Anthropic-shaped JSON: forwarded as it is, with its status.
    fake.push_scenario(Scenario::status(400));
    let resp = post_json(&proxy, "/v1/messages", &[], &request);
    assert_anthropic_error(&resp, 400, Some("invalid_request_error"));
    assert_eq!(resp.json(), scenarios::error_json(Api::Messages, 400));

    // An HTML page, retried and then explained in Anthropic's shape.
    for _ in 0..5 {
        fake.push_scenario(Scenario::Error {
            status: 502,
            body: ErrorBody::Html,
            retry_after: Some("0".into()),
        });
    }
    let resp = post_json(&proxy, "/v1/messages", &[], &request);
    assert_anthropic_error(&resp, 502, None);
    let message = resp.json()["error"]["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        message.contains("HTML") && message.contains("502 Bad Gateway"),
        "{message}"
    );

    // A context-window error.
    let resp = post_message(&proxy, MODEL, "scenario:context-window", true);
    assert_anthropic_error(&resp, 400, Some("invalid_request_error"));

    // Client mistakes.
    for (body, word) in [
        (json!({"model": MODEL, "max_tokens": 10}), "`messages`"),
        (json!({"max_tokens": 10, "messages": []}), "`model`"),
        (
            json!({"model": MODEL, "max_tokens": "ten", "messages": []}),
            "`max_tokens`",
        ),
    ] {
        let resp = post_json(&proxy, "/v1/messages", &[], &body);
        assert_anthropic_error(&resp, 400, Some("invalid_request_error"));
        let m = resp.json()["error"]["message"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(m.contains(word), "{body}: {m}");
    }
    let resp = post(
        &proxy.at("/v1/messages"),
        &[("content-type", "application/json")],
        b"{not json",
    );
    assert_anthropic_error(&resp, 400, Some("invalid_request_error"));
    assert_eq!(fake.requests_to("/v1/messages").len(), 1 + 5 + 1);
}

#[test]
fn count_tokens_is_local_and_grows_with_the_text() {
    let fake = Fake::start();
    let proxy = Proxy::start(&fake, &[], &[]);
    let count = |text: &str| {
        let body = json!({"model": "claude-sonnet-4-5-20250929",
                          "messages": [{"role": "user", "content": text}]});
        let resp = post_json(&proxy, "/v1/messages/count_tokens?beta=true", &[], &body);
        assert_eq!(resp.status, 200, "{}", resp.text());
        let v = resp.json();
        assert_eq!(v.as_object().unwrap().len(), 1, "only input_tokens: {v}");
        v["input_tokens"].as_u64().unwrap()
    };
    let short = count("Hello there");
    let long = count(&"Hello there, how are you today? ".repeat(200));
    assert!(short > 0, "{short}");
    assert!(long > short * 100, "{short} vs {long}");
    let with_system = {
        let body = json!({"model": MODEL, "system": "You are terse. ".repeat(50),
                          "messages": [{"role": "user", "content": "Hello there"}]});
        post_json(&proxy, "/v1/messages/count_tokens", &[], &body).json()["input_tokens"]
            .as_u64()
            .unwrap()
    };
    assert!(with_system > short + 50, "{short} vs {with_system}");
    assert!(fake.requests_to("/v1/messages").is_empty());
    assert!(fake.requests_to("/chat/completions").is_empty());
    let resp = post_json(
        &proxy,
        "/v1/messages/count_tokens",
        &[],
        &json!({"model": MODEL}),
    );
    assert_anthropic_error(&resp, 400, Some("invalid_request_error"));
}

#[test]
fn no_native_messages_sends_claude_through_chat_completions() {
    let fake = Fake::start();
    let proxy = Proxy::start(&fake, &["--no-native-messages"], &[]);
    let resp = post_message(&proxy, MODEL, "hi", false);
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert!(fake.requests_to("/v1/messages").is_empty());
    let up = fake.requests_to("/chat/completions").pop().unwrap().json();
    assert_eq!(up["model"], MODEL);
    let v = resp.json();
    assert_eq!(v["type"], "message");
    assert_eq!(v["content"][0]["text"], scenarios::TEXT_PARTS.concat());
}
