//! What a Responses WebSocket connection remembers and how it reads Codex's frames; pure,
//! no I/O.
//!
//! Codex sends `{"type":"response.create", …the Responses body, flat…}`
//! (`ResponsesWsRequest` / `ResponseCreateWsRequest` in codex-rs/codex-api/src/common.rs).
//! On a reused connection it sends `previous_response_id` and only the items that are new
//! since that response (`get_incremental_items` in codex-rs/core/src/client.rs): the
//! connection keeps the previous request's whole input and the previous response's output,
//! so that Copilot, reached over HTTP, gets the full conversation every time.

use serde_json::{Map, Value, json};
use std::time::{SystemTime, UNIX_EPOCH};

/// One client frame, read.
#[derive(Debug, PartialEq)]
pub enum Frame {
    /// `response.create`: the Responses body (without `type`, `generate`, `stream`), and
    /// whether the model is to be called (`generate: false` is Codex's prewarm).
    Create {
        body: Map<String, Value>,
        generate: bool,
    },
    /// `response.processed` (an acknowledgement behind a Codex feature flag) and any type
    /// we do not serve: ignored, the connection stays open.
    Ignored(String),
    /// Not a JSON object with a `type`: answered with an error frame.
    Invalid(String),
}

pub fn parse_frame(text: &str) -> Frame {
    let mut frame = match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(o)) => o,
        Ok(_) => return Frame::Invalid("a frame must be a JSON object".into()),
        Err(e) => return Frame::Invalid(format!("the frame is not valid JSON: {e}")),
    };
    let kind = match frame.remove("type") {
        Some(Value::String(k)) => k,
        _ => return Frame::Invalid("the frame has no `type`".into()),
    };
    if kind != "response.create" {
        return Frame::Ignored(kind);
    }
    // codex-rs sends the fields flat; some other clients wrap them in `response`.
    let mut body = match frame.remove("response") {
        Some(Value::Object(inner)) if !frame.contains_key("model") => inner,
        Some(other) => {
            frame.insert("response".into(), other);
            frame
        }
        None => frame,
    };
    let generate = !matches!(body.remove("generate"), Some(Value::Bool(false)));
    // Responses arrive as events on the socket whatever the client says; `background`
    // has no meaning here.
    body.remove("background");
    body.insert("stream".into(), Value::Bool(true));
    Frame::Create { body, generate }
}

/// A finished response on this connection: the whole conversation up to and including its
/// output, under the response's id.
#[derive(Debug, Clone, PartialEq)]
pub struct Turn {
    pub response_id: String,
    pub items: Vec<Value>,
}

/// The request's `input` as items (a string is one user message).
pub fn input_items(body: &Map<String, Value>) -> Vec<Value> {
    match body.get("input") {
        Some(Value::Array(items)) => items.clone(),
        Some(Value::String(text)) => {
            vec![json!({"type": "message", "role": "user", "content": text})]
        }
        _ => Vec::new(),
    }
}

/// Replaces an incremental request's `input` by the whole conversation and drops its
/// `previous_response_id`; returns the whole input. `elsewhere` finds a response this
/// connection did not produce (the proxy's store of translated responses). Err(id) for
/// an id known nowhere: Codex then starts over with the full input
/// (`previous_response_not_found` is one of the errors it retries).
pub fn rebuild(
    body: &mut Map<String, Value>,
    last: Option<&Turn>,
    elsewhere: impl Fn(&str) -> Option<Vec<Value>>,
) -> Result<Vec<Value>, String> {
    let new = input_items(body);
    let previous = match body.remove("previous_response_id") {
        Some(Value::String(id)) if !id.is_empty() => id,
        _ => {
            body.insert("input".into(), Value::Array(new.clone()));
            return Ok(new);
        }
    };
    let mut items = match last.filter(|t| t.response_id == previous) {
        Some(turn) => turn.items.clone(),
        None => elsewhere(&previous).ok_or(previous)?,
    };
    items.extend(new);
    body.insert("input".into(), Value::Array(items.clone()));
    Ok(items)
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The answer to a prewarm (`generate: false`): `response.created` and an empty
/// `response.completed`, no model call.
pub fn prewarm_events(body: &Map<String, Value>, response_id: &str) -> [Value; 2] {
    let response = |status: &str| {
        json!({
            "id": response_id,
            "object": "response",
            "created_at": now(),
            "status": status,
            "model": body.get("model").cloned().unwrap_or(Value::Null),
            "output": [],
            "usage": {"input_tokens": 0, "input_tokens_details": {"cached_tokens": 0},
                      "output_tokens": 0, "output_tokens_details": {"reasoning_tokens": 0},
                      "total_tokens": 0},
        })
    };
    [
        json!({"type": "response.created", "sequence_number": 0, "response": response("in_progress")}),
        json!({"type": "response.completed", "sequence_number": 1, "response": response("completed")}),
    ]
}

/// An error as Codex reads it on the socket: `{"type":"error","status":N,"error":{…}}`
/// (`WrappedWebsocketErrorEvent` in codex-rs/codex-api/src/endpoint/responses_websocket.rs).
pub fn error_frame(status: u16, kind: &str, code: &str, message: &str) -> String {
    json!({"type": "error", "status": status,
           "error": {"type": kind, "code": code, "message": message}})
    .to_string()
}

/// The error frame for an HTTP error answer of the Responses route (`{"error":{…}}`).
pub fn error_frame_from(status: u16, body: &[u8], retry_after: Option<&str>) -> String {
    let error = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v.get("error").cloned())
        .filter(Value::is_object)
        .unwrap_or_else(|| {
            json!({"type": "api_error", "code": Value::Null,
                   "message": String::from_utf8_lossy(body)})
        });
    let mut frame = json!({"type": "error", "status": status, "error": error});
    if let Some(r) = retry_after {
        frame["headers"] = json!({"retry-after": r});
    }
    frame.to_string()
}

/// What the events of one response said: its id, its output, how it ended.
#[derive(Debug, Default)]
pub struct Capture {
    pub response_id: Option<String>,
    /// Items of `response.output_item.done`, in order.
    done_items: Vec<Value>,
    /// `response.output` of the terminal event.
    final_output: Option<Vec<Value>>,
    /// `response.completed`, `response.incomplete`, `response.failed` or `error`.
    pub terminal: Option<String>,
}

impl Capture {
    pub fn observe(&mut self, event: &Value) {
        let kind = event.get("type").and_then(Value::as_str).unwrap_or("");
        if let Some(id) = event.pointer("/response/id").and_then(Value::as_str) {
            self.response_id.get_or_insert_with(|| id.to_string());
        }
        match kind {
            "response.output_item.done" => self.done_items.extend(event.get("item").cloned()),
            "response.completed" | "response.incomplete" | "response.failed" | "error" => {
                self.terminal = Some(kind.to_string());
                self.final_output = event
                    .pointer("/response/output")
                    .and_then(Value::as_array)
                    .filter(|o| !o.is_empty())
                    .cloned();
            }
            _ => {}
        }
    }

    /// The finished turn, when the response completed (an incomplete one is a turn too:
    /// Codex continues from it).
    pub fn into_turn(self, mut input: Vec<Value>) -> Option<Turn> {
        let usable = matches!(
            self.terminal.as_deref(),
            Some("response.completed" | "response.incomplete")
        );
        let id = self.response_id.filter(|_| usable)?;
        input.extend(self.final_output.unwrap_or(self.done_items));
        Some(Turn {
            response_id: id,
            items: input,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn frames_flat_wrapped_prewarm_and_others() {
        let flat =
            r#"{"type":"response.create","model":"m","input":[],"stream":false,"generate":false}"#;
        assert_eq!(
            parse_frame(flat),
            Frame::Create {
                body: obj(json!({"model": "m", "input": [], "stream": true})),
                generate: false
            }
        );
        let wrapped = r#"{"type":"response.create","response":{"model":"m"}}"#;
        assert_eq!(
            parse_frame(wrapped),
            Frame::Create {
                body: obj(json!({"model": "m", "stream": true})),
                generate: true
            }
        );
        assert_eq!(
            parse_frame(r#"{"type":"response.processed","response_id":"r"}"#),
            Frame::Ignored("response.processed".into())
        );
        assert!(matches!(parse_frame("nope"), Frame::Invalid(_)));
        assert!(matches!(parse_frame(r#"{"model":"m"}"#), Frame::Invalid(_)));
    }

    #[test]
    fn incremental_input_is_rebuilt_from_the_last_turn_or_the_store() {
        let last = Turn {
            response_id: "resp_1".into(),
            items: vec![json!({"n": 1}), json!({"n": 2})],
        };
        let mut b = obj(json!({"previous_response_id": "resp_1", "input": [{"n": 3}]}));
        let all = rebuild(&mut b, Some(&last), |_| None).unwrap();
        assert_eq!(all, [json!({"n": 1}), json!({"n": 2}), json!({"n": 3})]);
        assert_eq!(b, obj(json!({"input": all})));
        let mut b = obj(json!({"previous_response_id": "resp_x", "input": "hi"}));
        let all = rebuild(&mut b, Some(&last), |id| {
            (id == "resp_x").then(|| vec![json!({"n": 0})])
        })
        .unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(all[1]["content"], "hi");
        let mut b = obj(json!({"previous_response_id": "resp_gone", "input": []}));
        assert_eq!(
            rebuild(&mut b, Some(&last), |_| None),
            Err("resp_gone".into())
        );
        let mut b = obj(json!({"input": [{"n": 9}]}));
        assert_eq!(rebuild(&mut b, Some(&last), |_| None).unwrap().len(), 1);
    }

    #[test]
    fn capture_keeps_the_output_of_a_completed_response() {
        let mut c = Capture::default();
        c.observe(&json!({"type": "response.created", "response": {"id": "resp_9"}}));
        c.observe(&json!({"type": "response.output_item.done", "item": {"type": "message"}}));
        c.observe(
            &json!({"type": "response.completed", "response": {"id": "resp_9", "output": []}}),
        );
        let turn = c.into_turn(vec![json!({"in": 1})]).unwrap();
        assert_eq!(turn.response_id, "resp_9");
        assert_eq!(turn.items, [json!({"in": 1}), json!({"type": "message"})]);
        let mut failed = Capture::default();
        failed.observe(&json!({"type": "response.failed", "response": {"id": "resp_8"}}));
        assert!(failed.into_turn(vec![]).is_none());
    }

    #[test]
    fn error_frames() {
        let f: Value = serde_json::from_str(&error_frame_from(
            429,
            br#"{"error":{"message":"slow down","type":"rate_limit_error","code":"rate_limited"}}"#,
            Some("3"),
        ))
        .unwrap();
        assert_eq!(f["type"], "error");
        assert_eq!(f["status"], 429);
        assert_eq!(f["error"]["code"], "rate_limited");
        assert_eq!(f["headers"]["retry-after"], "3");
        let f: Value = serde_json::from_str(&error_frame_from(502, b"<html>", None)).unwrap();
        assert_eq!(f["error"]["message"], "<html>");
    }
}
