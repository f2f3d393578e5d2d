//! One function per fuzz target, each taking raw bytes. They only call the code under
//! test and check the invariants that must hold for any input (no panic is implicit:
//! libFuzzer reports it). Inputs that are JSON are parsed first; non-JSON inputs are
//! uninteresting to the translators (the routes answer 400 before translating).

use crate::protocol::chat_chunk::{self, Chunk};
use crate::protocol::chat_request::ChatRequest;
use crate::protocol::responses_request::ResponsesRequest;
use crate::relay::{ChatSource, Fault, Step};
use crate::routes::fields;
use crate::routes::pivot::Pivot;
use crate::server::listener::head;
use crate::sse::{Event, Parser};
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

/// The request translators as the routes drive them: the Anthropic body read as the typed
/// `MessagesRequest` (`/v1/messages`), the Responses body read as the typed
/// `ResponsesRequest` (`/v1/responses` on a chat-only model, `history` standing for the
/// `previous_response_id` items), and a Chat body for a responses-only model. A request
/// the translators accept must also pass the steps after them without an internal error
/// (a 500): the fitting to the model, which takes the typed request through a tree and
/// back, and the serialization for either upstream endpoint.
pub fn request_translators(data: &[u8]) {
    let Some(v) = json(data) else { return };
    // Claude models take structured output as a system instruction, others as
    // `response_format`: the input's length picks one, so both are reached.
    let model = if data.len() % 2 == 0 {
        "claude-sonnet-4.5"
    } else {
        "gpt-4.1"
    };
    if let Some(map) = v.as_object() {
        if let Ok(anthropic_request::Translation { chat, .. }) =
            anthropic_request::object_to_chat(map, model)
        {
            sent_upstream(chat);
        }
    }
    let history = v
        .get("history")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let typed = ResponsesRequest::from_value(&v);
    let translated = responses_request::to_chat(&v, model, &history);
    // `to_chat` is the typed reader followed by `from_request`: both see the same request.
    if let Err(e) = &typed {
        assert_eq!(
            translated.as_ref().err(),
            Some(e),
            "to_chat disagrees with from_value"
        );
    }
    if let Ok(up) = translated {
        sent_upstream(up.body);
    }
    // The Chat -> Responses request (a Responses-only model asked through Chat), from the
    // client's bytes as the pass-through route hands them over and from a tree.
    let _ = chat_responses::request_from_bytes(data);
    let _ = chat_responses::request_from_value(&v);
}

/// What the routes do with a translated Chat request: fit it to its model, then serialize
/// it for `/chat/completions` and, through the Chat -> Responses translation, for
/// `/responses`. Neither may fail on a request the translator accepted.
fn sent_upstream(mut chat: ChatRequest) {
    fields::fit_typed(&mut chat, None).expect("fitting a translated request failed");
    let bytes = Pivot::Chat
        .request_typed(&chat)
        .expect("a translated request does not serialize");
    let tree: Value = serde_json::from_slice(&bytes).expect("the request bytes are not JSON");
    // Serialized straight from the types: the same request as through a tree.
    assert_eq!(tree, serde_json::to_value(&chat).unwrap());
    let _ = Pivot::Responses.request_typed(&chat);
}

/// Non-stream answer translators out of the pivot, from a Chat completion and from a
/// Responses answer taken into the pivot first (a responses-only model), as
/// `Pivot::completion` does.
pub fn response_translators(data: &[u8]) {
    let Some(v) = json(data) else { return };
    let names: Vec<&str> = v["tools"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t["name"].as_str())
        .collect();
    let tools = ToolNames::from_names(names);
    let req = v.get("request").cloned().unwrap_or(Value::Null);
    let custom = ["apply_patch".to_string()];
    let from_responses = chat_responses::responses_to_chat(&v, "gpt-5");
    let _ = chat_responses::completion_from_responses(data, "gpt-5");
    let mut tree = None;
    let borrowed: Chunk = chat_chunk::read(data, &mut tree);
    for chat in [borrowed, Chunk::from_value(&from_responses)] {
        let _ = anthropic_response::from_chat(&chat, "claude-sonnet-4.5", &tools);
        let _ = responses_response::from_chat(&chat, &req, &custom, "resp_1");
    }
}

/// The stream translators as the relay drives them: each line is one upstream event's
/// data, read by `relay::ChatSource` as Chat chunks (borrowed when they parse as a chunk,
/// through a tree otherwise) or as Responses events (named by their `type`) translated
/// into Chat chunks; each source's chunks go to the typed Anthropic and Responses stream
/// translators, which are closed as the adapters close them: `finish` at `[DONE]` or at
/// the end of a complete answer, `fail` on a fault, an incomplete answer or, for an
/// even-length input, a stream that stalls after its last event. Every event
/// they emit must be valid JSON.
pub fn stream_translators(data: &[u8]) {
    let events: Vec<Event> = data
        .split(|b| *b == b'\n')
        .filter_map(|l| std::str::from_utf8(l).ok())
        .map(|l| Event {
            data: l.to_string(),
            ..Event::default()
        })
        .collect();
    if !events.iter().any(|e| json(e.data.as_bytes()).is_some()) {
        return;
    }
    let cut = data.len() % 2 == 0;
    for source in [ChatSource::chat(), ChatSource::responses("gpt-5")] {
        relay(&events, source, cut);
    }
}

fn relay(events: &[Event], mut source: ChatSource, cut: bool) {
    let tools = ToolNames::from_names(["Bash", "Read"]);
    let mut anthropic = anthropic_stream::StreamState::new("claude-sonnet-4.5", tools, 10);
    let req = serde_json::json!({"model": "gpt-4.1", "tools": [{"type": "custom", "name": "apply_patch"}]});
    let mut responses =
        responses_stream::ResponsesStream::new("resp_1", &req, vec!["apply_patch".into()]);
    check(&responses.start());
    // One vector per translator for the whole stream, as the adapters keep them; the
    // Anthropic events are held until the first content block.
    let (mut held, mut out) = (Vec::new(), Vec::new());
    let mut ending = None;
    for event in events {
        let step = source.each_chunk(event, |chunk| {
            anthropic.on_typed(chunk, &mut held);
            if anthropic.has_content() {
                check(&held);
                held.clear();
            }
            responses.on_typed(chunk, &mut out);
            check(&out);
            out.clear();
        });
        match step {
            Ok(Step::Continue) => {}
            Ok(Step::Done) => {
                ending = Some(Ok(()));
                break;
            }
            Err(fault) => {
                ending = Some(Err(fault));
                break;
            }
        }
    }
    // Past the last event: the upstream went silent (a stall), or its body ended.
    let ending = match ending {
        Some(ending) => ending,
        None if cut => Err(Fault::Stalled),
        None => source.on_eof(),
    };
    match ending {
        Ok(()) => {
            check(&anthropic.finish());
            check(&responses.finish());
        }
        Err(fault) => {
            check(&held);
            check(&anthropic.fail(&fault.message(), fault.anthropic_type()));
            check(&responses.fail(&fault.message(), fault.openai_code()));
        }
    }
    let _ = responses.output();
}

/// Every event a translator emits carries JSON data (or the `[DONE]` marker).
fn check(events: &[Event]) {
    for e in events {
        if e.data != "[DONE]" {
            assert!(
                serde_json::from_str::<Value>(&e.data).is_ok(),
                "event data not JSON: {:?}",
                e.data
            );
        }
    }
}
