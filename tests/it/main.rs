//! Integration tests: the real binary against the fake upstream on loopback (DESIGN.md §5).
//! All in one test binary to save link time (STYLE.md habit 10).

#[path = "../support/mod.rs"]
mod support;

mod alpha_search;
mod bad_input;
mod bad_input_catalogue;
mod chat;
mod chat_faults;
mod chat_raw;
mod cli;
mod codex_models;
mod compaction;
mod dashboard;
mod device_flow;
mod embeddings;
mod fault_matrix;
mod hardening;
mod http_conformance;
mod listener;
mod messages_native;
mod messages_recovery;
mod messages_translated;
mod nginx;
mod operate;
mod responses;
mod responses_chain;
mod responses_faults;
mod responses_only_model;
mod responses_ws;
mod retries;
mod routing_matrix;
mod security;
mod setup;
mod shutdown;
mod soak;
mod startup;
mod streams;
mod tls;
mod token_lifecycle;
mod token_refresh;
mod usage;
mod web_search;
mod web_search_loop;
mod web_search_responses;
mod web_search_setup;
mod wizard;
// Traffic control (#11).
mod approval;
mod overflow;
mod traffic;

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

/// An Anthropic Messages request with one user message.
fn message_request(model: &str, text: &str, stream: bool) -> Value {
    json!({"model": model, "max_tokens": 1024, "stream": stream,
           "messages": [{"role": "user", "content": text}]})
}

/// `POST /v1/messages` with one user message.
fn post_message(proxy: &Proxy, model: &str, text: &str, stream: bool) -> Resp {
    post_json(
        proxy,
        "/v1/messages",
        &[],
        &message_request(model, text, stream),
    )
}

/// One streamed `POST /v1/messages` per `scenario:` marker, all at once (each fault takes
/// its own timeout; in parallel they take the longest one).
fn post_messages_at_once<'m>(
    proxy: &Proxy,
    model: &str,
    markers: &[&'m str],
) -> Vec<(&'m str, Resp)> {
    std::thread::scope(|s| {
        let handles: Vec<_> = markers
            .iter()
            .map(|marker| {
                s.spawn(move || {
                    (
                        *marker,
                        post_message(proxy, model, &format!("scenario:{marker}"), true),
                    )
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

/// `POST /v1/chat/completions` with one user message.
fn post_chat(proxy: &Proxy, model: &str, text: &str, stream: bool) -> Resp {
    post_json(
        proxy,
        "/v1/chat/completions",
        &[],
        &chat_request(model, text, stream),
    )
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

/// `(event name, data)` of every event, comments and `[DONE]` left out.
fn named(events: &[support::Sse]) -> Vec<(String, Value)> {
    events
        .iter()
        .filter(|e| e.data.is_some() && !e.is_done())
        .map(|e| (e.event.clone().unwrap_or_default(), e.json()))
        .collect()
}

/// `named` of an SSE body.
fn named_events(text: &str) -> Vec<(String, Value)> {
    named(&support::parse_sse(text))
}

/// A Chat stream's text: its chunks' content deltas, joined.
fn contents(events: &[support::Sse]) -> String {
    support::data_json(events)
        .iter()
        .filter_map(|c| {
            c.pointer("/choices/0/delta/content")
                .and_then(Value::as_str)
        })
        .collect()
}

/// The time between each recorded request and the next.
fn gaps(requests: &[support::Recorded]) -> Vec<std::time::Duration> {
    requests.windows(2).map(|w| w[1].at - w[0].at).collect()
}

/// Asserts that a finished Anthropic stream follows the protocol: `message_start` first;
/// blocks opened one at a time with contiguous indices from 0, each delta on the open block
/// and of its kind; a `message_delta` with a stop reason and usage; `message_stop` last.
/// Pings may come anywhere after `message_start`. Returns the events without the pings.
fn assert_anthropic_stream(events: &[(String, Value)]) -> Vec<(String, Value)> {
    let events: Vec<(String, Value)> = events
        .iter()
        .filter(|(n, _)| n != "ping")
        .cloned()
        .collect();
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names.first(), Some(&"message_start"), "{names:?}");
    assert_eq!(names.last(), Some(&"message_stop"), "{names:?}");
    let mut open: Option<(u64, String)> = None;
    let mut next = 0;
    for (name, data) in &events {
        assert_eq!(
            data["type"],
            name.as_str(),
            "event name equals its type: {data}"
        );
        match name.as_str() {
            "content_block_start" => {
                assert!(
                    open.is_none(),
                    "a block opened while another is open: {names:?}"
                );
                assert_eq!(data["index"], next, "contiguous indices: {names:?}");
                let kind = data["content_block"]["type"].as_str().unwrap().to_string();
                open = Some((next, kind));
                next += 1;
            }
            "content_block_delta" => {
                let (index, kind) = open.clone().expect("a delta outside any block");
                assert_eq!(data["index"], index, "{data}");
                let allowed: &[&str] = match kind.as_str() {
                    "text" => &["text_delta"],
                    "thinking" => &["thinking_delta", "signature_delta"],
                    "tool_use" | "server_tool_use" => &["input_json_delta"],
                    _ => &[],
                };
                let delta = data["delta"]["type"].as_str().unwrap_or("");
                assert!(allowed.contains(&delta), "{delta} in a {kind} block");
            }
            "content_block_stop" => {
                let (index, _) = open.take().expect("a stop outside any block");
                assert_eq!(data["index"], index, "{data}");
            }
            "message_delta" => {
                assert!(open.is_none(), "message_delta with a block open: {names:?}");
                assert!(
                    data["delta"]["stop_reason"].is_string(),
                    "stop_reason: {data}"
                );
                assert!(data["usage"]["output_tokens"].is_u64(), "usage: {data}");
            }
            _ => {}
        }
    }
    assert_eq!(
        names.iter().filter(|n| **n == "message_delta").count(),
        1,
        "{names:?}"
    );
    events
}

/// The blocks of an Anthropic stream put together: `(type, block)` where a text block
/// holds its `text`, a thinking block its `thinking` and `signature`, a tool_use block its
/// `input` parsed from the joined `input_json_delta`s.
fn anthropic_blocks(events: &[(String, Value)]) -> Vec<Value> {
    let mut blocks: Vec<Value> = Vec::new();
    let mut json_parts: Vec<String> = Vec::new();
    for (name, data) in events {
        match name.as_str() {
            "content_block_start" => {
                blocks.push(data["content_block"].clone());
                json_parts.push(String::new());
            }
            "content_block_delta" => {
                let (b, j) = (blocks.last_mut().unwrap(), json_parts.last_mut().unwrap());
                let d = &data["delta"];
                let add = |b: &mut Value, key: &str, piece: &Value| {
                    let s = format!(
                        "{}{}",
                        b[key].as_str().unwrap_or(""),
                        piece.as_str().unwrap()
                    );
                    b[key] = json!(s);
                };
                match d["type"].as_str().unwrap() {
                    "text_delta" => add(b, "text", &d["text"]),
                    "thinking_delta" => add(b, "thinking", &d["thinking"]),
                    "signature_delta" => add(b, "signature", &d["signature"]),
                    "input_json_delta" => j.push_str(d["partial_json"].as_str().unwrap()),
                    other => panic!("unknown delta {other}"),
                }
            }
            _ => {}
        }
    }
    for (b, j) in blocks.iter_mut().zip(json_parts) {
        if (b["type"] == "tool_use" || b["type"] == "server_tool_use") && !j.is_empty() {
            b["input"] = serde_json::from_str(&j).unwrap_or_else(|e| panic!("{e}: {j}"));
        }
    }
    blocks
}
