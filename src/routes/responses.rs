//! `POST /v1/responses`: the OpenAI Responses API. Models Copilot serves on `/responses`
//! (GPT-5, Codex) get the body passed through, Codex's items untouched; events are relayed
//! as they come and a stream always ends in `response.completed`, `response.incomplete` or
//! `response.failed`, never silently.

use crate::app::App;
use crate::routes::fields::{self, initiator_header, vision_header};
use crate::routes::finished;
use crate::routes::responses_chat;
use crate::routing::{self, Api};
use crate::server::error::ApiError;
use crate::server::http::{Incoming, Outgoing};
use crate::server::stream::{End, Flow, Outcome, Sink, StreamBody, Timing, pump};
use crate::upstream::catalog::Model;
use serde_json::{Map, Value, json};
use std::io::Read;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

pub const KEEPALIVE: &[u8] = b": keepalive\n\n";

pub fn create(app: &Arc<App>, rq: &Incoming) -> Result<Outgoing, ApiError> {
    let body = rq.json_object()?;
    let requested = fields::model(&body)?;
    match body.get("input") {
        None | Some(Value::String(_)) | Some(Value::Array(_)) => {}
        Some(_) => {
            return Err(ApiError::BadRequest(
                "`input` must be a string or an array of items".into(),
            ));
        }
    }
    fields::optional_types(
        &body,
        &[
            ("tools", fields::Kind::Array),
            ("max_output_tokens", fields::Kind::Integer),
            ("temperature", fields::Kind::Number),
            ("reasoning", fields::Kind::Object),
        ],
    )?;
    let stream = fields::stream_flag(&body)?;
    let model = app.find_model(&requested);
    let route =
        routing::decide(Api::Responses, model.as_ref(), true).map_err(ApiError::BadRequest)?;
    let result = match route {
        Api::Responses => passthrough(app, body, &requested, model.as_ref(), stream),
        Api::Chat => responses_chat::create(app, body, &requested, model.as_ref(), stream),
        other => Err(ApiError::Internal(format!(
            "no Responses route to {other:?}"
        ))),
    };
    match result {
        // Codex compacts only on a 2xx stream whose `response.failed` says so.
        Err(ApiError::ContextWindow { message, .. }) if stream => {
            Ok(context_window_stream(&message, app.config.stream_timing))
        }
        other => other,
    }
}

/// Copilot serves the model on `/responses`: the body goes as it came.
fn passthrough(
    app: &Arc<App>,
    mut body: Map<String, Value>,
    requested: &str,
    model: Option<&Model>,
    stream: bool,
) -> Result<Outgoing, ApiError> {
    if let Some(m) = model {
        body.insert("model".into(), Value::from(m.id.clone()));
    }
    prepare_passthrough(&mut body);
    crate::features::effort::clamp(&mut body, model);
    let input = body.get("input").cloned().unwrap_or(Value::Null);
    let mut extra = vec![initiator_header(last_item_is_user(&input))];
    extra.extend(vision_header(has_input_image(&input, 0)));
    let payload = serde_json::to_vec(&body).map_err(|e| ApiError::Internal(e.to_string()))?;
    let opened = app
        .upstream
        .post(Api::Responses.path(), &payload, &extra, &app.metrics)?;
    let mut out = if stream {
        let (reader, lease) = opened.into_parts();
        Outgoing::stream(StreamBody {
            keepalive: KEEPALIVE,
            timing: app.config.stream_timing,
            cancel: lease.canceller(),
            produce: Box::new(move |sink| finished(lease, relay(reader, sink))),
        })
    } else {
        Outgoing::bytes(200, "application/json", opened.read_all()?)
    };
    out.model = Some(requested.to_string());
    Ok(out)
}

/// What Copilot's `/responses` rejects and clients send anyway: `store` (Codex sends
/// `false`), and `tool_choice` without tools.
fn prepare_passthrough(body: &mut Map<String, Value>) {
    body.remove("store");
    if body
        .get("tools")
        .and_then(Value::as_array)
        .is_none_or(Vec::is_empty)
    {
        body.remove("tool_choice");
    }
}

/// The latest input item is a user message (a new prompt), not a tool output.
pub fn last_item_is_user(input: &Value) -> bool {
    let Some(items) = input.as_array() else {
        return true;
    };
    let Some(last) = items.iter().rev().find(|i| {
        !matches!(
            i.get("role").and_then(Value::as_str),
            Some("system" | "developer")
        )
    }) else {
        return true;
    };
    match last.get("role").and_then(Value::as_str) {
        Some(role) => role == "user",
        None => last.get("type").and_then(Value::as_str) == Some("message"),
    }
}

/// Any `input_image` with a URL, however deep (images also sit inside tool outputs).
pub fn has_input_image(v: &Value, depth: usize) -> bool {
    if depth > 12 {
        return false;
    }
    match v {
        Value::Object(o) => {
            (o.get("type").and_then(Value::as_str) == Some("input_image")
                && o.get("image_url").is_some_and(Value::is_string))
                || o.values().any(|v| has_input_image(v, depth + 1))
        }
        Value::Array(a) => a.iter().any(|v| has_input_image(v, depth + 1)),
        _ => false,
    }
}

/// A `response.failed` event, the Responses stream's way to end with an error.
pub fn failed_event(response_id: &str, code: &str, message: &str, sequence: u64) -> String {
    let created = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let data = json!({
        "type": "response.failed",
        "sequence_number": sequence,
        "response": {
            "id": response_id,
            "object": "response",
            "created_at": created,
            "status": "failed",
            "error": {"code": code, "message": message},
            "output": [],
            "usage": null,
            "metadata": {},
        },
    });
    format!("event: response.failed\ndata: {data}\n\n")
}

pub fn new_response_id() -> String {
    format!("resp_{:016x}", crate::ids::random_u64())
}

/// HTTP 200 with a single `response.failed` carrying `context_length_exceeded`.
fn context_window_stream(message: &str, timing: Timing) -> Outgoing {
    let event = failed_event(&new_response_id(), "context_length_exceeded", message, 0);
    Outgoing::stream(StreamBody {
        keepalive: KEEPALIVE,
        timing,
        cancel: Box::new(|| {}),
        produce: Box::new(move |sink| {
            sink.send(event.as_bytes());
            Outcome::UpstreamError
        }),
    })
}

/// Relays Copilot's Responses events unchanged.
fn relay(upstream: impl Read, sink: &mut Sink) -> Outcome {
    let mut response_id: Option<String> = None;
    let mut sequence = 0u64;
    let mut terminal: Option<bool> = None; // Some(true) completed, Some(false) failed
    let mut fault: Option<String> = None;
    let end = pump(upstream, sink, |event, sink| {
        if event.comment.is_none() && event.data.trim() == "[DONE]" {
            sink.send(b"data: [DONE]\n\n");
            return Flow::Stop;
        }
        if event.comment.is_none() {
            let v: Value = match serde_json::from_str(&event.data) {
                Ok(v) => v,
                Err(e) => {
                    fault = Some(format!("Copilot sent a malformed stream event: {e}"));
                    return Flow::Stop;
                }
            };
            if let Some(id) = v.pointer("/response/id").and_then(Value::as_str) {
                response_id.get_or_insert_with(|| id.to_string());
            }
            sequence = v
                .get("sequence_number")
                .and_then(Value::as_u64)
                .unwrap_or(sequence);
            match v.get("type").and_then(Value::as_str).unwrap_or("") {
                "response.completed" | "response.incomplete" => terminal = Some(true),
                "response.failed" => terminal = Some(false),
                "error" => {
                    // Relayed, then closed with the `response.failed` clients wait for.
                    sink.send(event.to_wire().as_bytes());
                    let m = v.pointer("/error/message").or_else(|| v.get("message"));
                    fault = Some(
                        m.and_then(Value::as_str)
                            .unwrap_or("upstream error")
                            .to_string(),
                    );
                    return Flow::Stop;
                }
                _ => {}
            }
        }
        sink.send(event.to_wire().as_bytes());
        Flow::Continue
    });
    let message = match (end, fault, terminal) {
        (End::ClientGone, _, _) => return Outcome::ClientGone,
        (_, Some(m), _) => m,
        (_, None, Some(true)) => return Outcome::Completed,
        (_, None, Some(false)) => return Outcome::UpstreamError,
        (End::ReadError(m), None, None) => m,
        (End::Stalled, None, None) => {
            let id = response_id.unwrap_or_else(new_response_id);
            let m = "Copilot stopped sending data (stall timeout); the response is incomplete";
            sink.send(failed_event(&id, "upstream_timeout", m, sequence + 1).as_bytes());
            return Outcome::Stalled;
        }
        (End::Done | End::Eof, None, None) => {
            "Copilot closed the stream before response.completed".to_string()
        }
    };
    crate::warn!("responses stream ended early: {message}");
    let id = response_id.unwrap_or_else(new_response_id);
    sink.send(failed_event(&id, "upstream_error", &message, sequence + 1).as_bytes());
    Outcome::UpstreamError
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn initiator_from_the_last_item() {
        assert!(last_item_is_user(&json!("hi")));
        assert!(last_item_is_user(&json!([
            {"role": "developer", "content": "rules"},
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "go"}]}
        ])));
        assert!(!last_item_is_user(&json!([
            {"type": "message", "role": "user", "content": "go"},
            {"type": "function_call", "call_id": "c", "name": "exec_command", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "c", "output": "ok"}
        ])));
        assert!(!last_item_is_user(
            &json!([{"type": "custom_tool_call_output", "call_id": "c", "output": "ok"}])
        ));
    }

    #[test]
    fn images_found_at_any_depth_and_store_removed() {
        let nested = json!([{"type": "function_call_output", "output": [{"type": "input_image", "image_url": "data:x"}]}]);
        assert!(has_input_image(&nested, 0));
        assert!(!has_input_image(
            &json!([{"type": "input_text", "text": "input_image"}]),
            0
        ));
        let mut b = json!({"store": false, "tool_choice": "auto", "input": []})
            .as_object()
            .unwrap()
            .clone();
        prepare_passthrough(&mut b);
        assert!(b.get("store").is_none() && b.get("tool_choice").is_none());
    }
}
