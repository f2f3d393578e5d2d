//! Integration tests: the real binary against the fake upstream on loopback (DESIGN.md §5).
//! All in one test binary to save link time (STYLE.md habit 10).

#[path = "../support/mod.rs"]
mod support;

mod bad_input;
mod cli;
mod device_flow;
mod security;
mod startup;
mod token_refresh;

use serde_json::Value;
use support::Resp;

/// Asserts `{"error":{"message":str,"type":str,...}}` with this status, and the type when
/// given. Returns the `error` object.
fn assert_openai_error(resp: &Resp, status: u16, kind: Option<&str>) -> Value {
    assert_eq!(resp.status, status, "status; body: {}", resp.text());
    let body = resp.json();
    let error = &body["error"];
    assert!(
        error["message"].as_str().is_some_and(|m| !m.is_empty()),
        "OpenAI error needs error.message: {body}"
    );
    assert!(
        error["type"].is_string(),
        "OpenAI error needs error.type: {body}"
    );
    assert!(
        body.get("type").is_none(),
        "not the Anthropic shape: {body}"
    );
    if let Some(kind) = kind {
        assert_eq!(error["type"], kind, "error.type: {body}");
    }
    error.clone()
}

/// Asserts `{"type":"error","error":{"type":str,"message":str}}` with this status, and the
/// type when given.
fn assert_anthropic_error(resp: &Resp, status: u16, kind: Option<&str>) {
    assert_eq!(resp.status, status, "status; body: {}", resp.text());
    let body = resp.json();
    assert_eq!(body["type"], "error", "Anthropic error shape: {body}");
    assert!(body["error"]["type"].is_string(), "error.type: {body}");
    if let Some(kind) = kind {
        assert_eq!(body["error"]["type"], kind, "error.type: {body}");
    }
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "Anthropic error needs error.message: {body}"
    );
}
