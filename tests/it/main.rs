//! Integration tests: the real binary against the fake upstream on loopback (DESIGN.md §5).
//! All in one test binary to save link time (STYLE.md habit 10).

#[path = "../support/mod.rs"]
mod support;

mod bad_input;
mod chat;
mod chat_faults;
mod cli;
mod device_flow;
mod embeddings;
mod messages_native;
mod retries;
mod security;
mod startup;
mod streams;
mod token_refresh;

use serde_json::{Value, json};
use support::{Proxy, Resp, post};

/// Stream timing shortened for tests: keepalive after 0.2 s of silence, a stall after 1 s
/// (1.5 s before the first byte).
const FAST: [&str; 6] = [
    "--keepalive",
    "0.2",
    "--stall-timeout",
    "1",
    "--first-byte-timeout",
    "1.5",
];

/// Held by the tests that load the machine (many streams) and the one that measures
/// latency, so that they do not run at the same time on a two-core machine.
fn exclusive() -> std::sync::MutexGuard<'static, ()> {
    static HEAVY: std::sync::Mutex<()> = std::sync::Mutex::new(());
    HEAVY.lock().unwrap_or_else(|e| e.into_inner())
}

/// POSTs `body` as JSON to `path` on the proxy, with extra headers.
fn post_json(proxy: &Proxy, path: &str, headers: &[(&str, &str)], body: &Value) -> Resp {
    let mut all = vec![("content-type", "application/json")];
    all.extend_from_slice(headers);
    post(&proxy.at(path), &all, body.to_string().as_bytes())
}

/// A Chat Completions request with one user message.
fn chat_request(model: &str, text: &str, stream: bool) -> Value {
    json!({"model": model, "messages": [{"role": "user", "content": text}], "stream": stream})
}

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
