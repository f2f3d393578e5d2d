//! One function per fuzz target, each taking raw bytes. They only call the code under
//! test and check the invariants that must hold for any input (no panic is implicit:
//! libFuzzer reports it). Inputs that are JSON are parsed first; non-JSON inputs are
//! uninteresting to the translators (the routes answer 400 before translating).

use crate::protocol::chat_chunk::Chunk;
use crate::server::listener::head;
use crate::sse::Parser;
use crate::translate::tool_names::ToolNames;
use crate::translate::{
    anthropic_request, anthropic_response, anthropic_stream, chat_responses, json_repair,
    responses_request, responses_response, responses_stream,
};
use serde_json::Value;

fn json(data: &[u8]) -> Option<Value> {
    serde_json::from_slice(data).ok()
}

/// The request-head parser, as the listener drives it: byte by byte resumption must find
/// the same end as one scan, and a parsed head must answer every question without panic.
pub fn http_head(data: &[u8]) {
    let start = head::skip_blank_lines(data);
    let buf = &data[start..];
    let whole = head::head_end_from(buf, 0);
    let mut from = 0;
    let mut stepped = None;
    for end in 1..=buf.len() {
        if let Some(found) = head::head_end_from(&buf[..end], from) {
            stepped = Some(found);
            break;
        }
        from = head::resume_at(&buf[..end]);
    }
    assert_eq!(whole, stepped, "resumed scan disagrees with one scan");
    if let Some(end) = whole {
        if let Ok(h) = head::parse(&buf[..end]) {
            assert!(h.headers.len() <= head::MAX_HEADERS);
            let _ = (h.framing(), h.keep_alive(), h.expects_continue());
        }
    } else if buf.len() <= head::MAX_HEAD_BYTES {
        let _ = head::parse(buf);
    }
}

/// The SSE parser fed in pieces must give the same events as fed at once.
pub fn sse_parser(data: &[u8]) {
    let Some((&cut, body)) = data.split_first() else {
        return;
    };
    let mut whole = Parser::default();
    let mut at_once: Vec<String> = whole.feed(body).iter().map(|e| e.to_wire()).collect();
    at_once.extend(whole.finish().map(|e| e.to_wire()));
    let mut pieces = Parser::default();
    let step = usize::from(cut % 7) + 1;
    let mut in_pieces = Vec::new();
    for piece in body.chunks(step) {
        in_pieces.extend(pieces.feed(piece).iter().map(|e| e.to_wire()));
    }
    in_pieces.extend(pieces.finish().map(|e| e.to_wire()));
    assert_eq!(at_once, in_pieces);
}

/// JSON repair: whatever it returns parses.
pub fn json_repair(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Some(fixed) = json_repair::repair(text) {
        assert!(
            serde_json::from_str::<Value>(&fixed).is_ok(),
            "repair gave invalid JSON: {fixed:?}"
        );
    }
}

/// Request translators into the pivot and out of it.
pub fn request_translators(data: &[u8]) {
    let Some(v) = json(data) else { return };
    if let Some(map) = v.as_object() {
        let _ = anthropic_request::object_to_chat(map, "gpt-4.1");
    }
    let history = v
        .get("history")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let _ = responses_request::to_chat(&v, "gpt-4.1", &history);
    let _ = chat_responses::chat_to_responses(&v, "gpt-5");
}

/// Non-stream answer translators out of the pivot (and Responses into it).
pub fn response_translators(data: &[u8]) {
    let Some(v) = json(data) else { return };
    let names: Vec<&str> = v["tools"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t["name"].as_str())
        .collect();
    let tools = ToolNames::from_names(names);
    let _ = anthropic_response::from_chat(&v, "claude-sonnet-4.5", &tools);
    let req = v.get("request").cloned().unwrap_or(Value::Null);
    let _ = responses_response::from_chat(&v, &req, &["apply_patch".to_string()], "resp_1");
    let _ = chat_responses::responses_to_chat(&v, "gpt-5");
}

/// Stream translators over a sequence of chunks, one JSON value per line, ended by
/// `finish` or `fail`; the events they emit must be valid JSON.
pub fn stream_translators(data: &[u8]) {
    let lines: Vec<&str> = data
        .split(|b| *b == b'\n')
        .filter_map(|l| std::str::from_utf8(l).ok())
        .collect();
    // Chat chunks as the relay reads them: borrowed from each `data:` line.
    let chunks: Vec<Chunk> = lines
        .iter()
        .filter_map(|l| serde_json::from_str::<Chunk>(l).ok())
        .collect();
    let values: Vec<Value> = lines
        .iter()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    if values.is_empty() {
        return;
    }
    let fail = data.len() % 2 == 0;
    let check = |events: &[crate::sse::Event]| {
        for e in events {
            if e.data != "[DONE]" {
                assert!(
                    serde_json::from_str::<Value>(&e.data).is_ok(),
                    "event data not JSON: {:?}",
                    e.data
                );
            }
        }
    };
    let tools = ToolNames::from_names(["Bash", "Read"]);
    let mut anthropic = anthropic_stream::StreamState::new("claude-sonnet-4.5", tools, 10);
    for c in &chunks {
        check(&anthropic.on_typed(c));
    }
    check(&if fail {
        anthropic.fail("cut", "api_error")
    } else {
        anthropic.finish()
    });
    let req = serde_json::json!({"model": "gpt-4.1", "tools": [{"type": "custom", "name": "apply_patch"}]});
    let mut responses = responses_stream::ResponsesStream::new("resp_1", &req, vec!["apply_patch".into()]);
    check(&responses.start());
    for c in &chunks {
        check(&responses.on_typed(c));
    }
    check(&if fail {
        responses.fail("cut", "server_error")
    } else {
        responses.finish()
    });
    let _ = responses.output();
    // Responses events into Chat chunks (a chat client on a responses-only model).
    let mut chat = chat_responses::ChatFromResponsesStream::new("gpt-5");
    for v in &values {
        let name = v["type"].as_str().unwrap_or("").to_string();
        let _ = chat.on_event(&name, v);
    }
    let _ = (chat.done(), chat.failure());
}
