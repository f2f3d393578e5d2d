//! Responses streams never end silently (issue 5, DESIGN.md §4): a context-window error is
//! a single `response.failed` with `context_length_exceeded` (a 400 when not streaming),
//! and every upstream fault ends the stream with `response.failed`.

use crate::responses::{CHAT_ONLY, CODEX, CODEX_HEADERS, codex_request, first_input};
use crate::support::responses_answers::{ERROR_MESSAGE, FAILED_MESSAGE};
use crate::support::*;
use crate::{FAST, assert_openai_error, named_events, post_json};
use serde_json::json;

/// Codex compacts only on a 200 stream whose single event is `response.failed` with
/// `context_length_exceeded`; a non-streaming client gets a 400 with that code.
#[test]
fn context_window_errors_as_codex_needs_them() {
    let fake = Fake::start();
    let proxy = Proxy::start(&fake, &[], &[]);
    for model in [CODEX, CHAT_ONLY] {
        let body = codex_request(model, &first_input("scenario:context-window"));
        let resp = post_json(&proxy, "/v1/responses", &CODEX_HEADERS, &body);
        assert_eq!(resp.status, 200, "{model}: {}", resp.text());
        let events = named_events(&resp.text());
        assert_eq!(events.len(), 1, "{model}: {events:?}");
        let (name, data) = &events[0];
        assert_eq!(name, "response.failed");
        assert_eq!(data["type"], "response.failed");
        assert_eq!(data["response"]["status"], "failed");
        assert_eq!(
            data["response"]["error"]["code"], "context_length_exceeded",
            "{model}"
        );
        assert!(data["response"]["error"]["message"].is_string());

        let mut body = body.clone();
        body["stream"] = json!(false);
        let resp = post_json(&proxy, "/v1/responses", &[], &body);
        let error = assert_openai_error(&resp, 400, Some("invalid_request_error"));
        assert_eq!(error["code"], "context_length_exceeded", "{model}: {error}");
    }
}

/// A Responses stream that faults ends with `response.failed`, on both paths.
#[test]
fn every_fault_ends_with_response_failed() {
    let fake = Fake::start();
    let proxy = Proxy::start(&fake, &FAST, &[]);
    let cases: Vec<(&str, &str)> = [
        "drop",
        "stall-mid",
        "malformed",
        "truncated",
        "stall-first",
        "failed",
    ]
    .iter()
    .map(|m| (CODEX, *m))
    .chain(
        [
            "drop",
            "stall-mid",
            "malformed",
            "error-event",
            "truncated",
            "stall-first",
        ]
        .iter()
        .map(|m| (CHAT_ONLY, *m)),
    )
    .collect();
    let results: Vec<(&str, &str, Resp)> = std::thread::scope(|s| {
        let handles: Vec<_> = cases
            .iter()
            .map(|(model, marker)| {
                let proxy = &proxy;
                s.spawn(move || {
                    let body = codex_request(model, &first_input(&format!("scenario:{marker}")));
                    (
                        *model,
                        *marker,
                        post_json(proxy, "/v1/responses", &[], &body),
                    )
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for (model, marker, resp) in &results {
        assert_eq!(resp.status, 200, "{model} {marker}: {}", resp.text());
        let events = parse_sse(&resp.text());
        let named = named_events(&resp.text());
        let (last, data) = named.last().unwrap();
        assert_eq!(last, "response.failed", "{model} {marker}: {named:?}");
        assert_eq!(data["response"]["status"], "failed");
        let message = data["response"]["error"]["message"].as_str().unwrap_or("");
        assert!(!message.is_empty(), "{model} {marker}: {data}");
        assert!(
            !named.iter().any(|(n, _)| n == "response.completed"),
            "{model} {marker}"
        );
        if *marker != "stall-first" {
            assert_eq!(named[0].0, "response.created", "{model} {marker}");
            assert_eq!(
                named.last().unwrap().1["response"]["id"],
                named[0].1["response"]["id"],
                "{model} {marker}: the failure names the response"
            );
        }
        if marker.starts_with("stall") {
            let keepalives = events.iter().filter(|e| e.is_keepalive()).count();
            assert!(keepalives >= 2, "{model} {marker}: keepalives: {events:?}");
        }
        match *marker {
            "failed" => assert_eq!(message, FAILED_MESSAGE),
            "error-event" => assert!(message.contains(ERROR_MESSAGE), "{message}"),
            _ => {}
        }
        assert!(!resp.text().contains(" lost"), "{model} {marker}");
    }
}

/// DESIGN.md §4: an upstream error event ends a Responses stream with `response.failed`.
#[test]
fn passthrough_error_event_ends_with_response_failed() {
    let fake = Fake::start();
    let proxy = Proxy::start(&fake, &FAST, &[]);
    let body = codex_request(CODEX, &first_input("scenario:error-event"));
    let resp = post_json(&proxy, "/v1/responses", &[], &body);
    let named = named_events(&resp.text());
    assert_eq!(
        named.last().map(|(n, _)| n.as_str()),
        Some("response.failed"),
        "{named:?}"
    );
}
