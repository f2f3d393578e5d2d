//! Copilot serves the model on `/responses`: the body goes as it came (less what Copilot
//! rejects), and the stream's events are relayed unchanged.

use crate::app::App;
use crate::features::billing::last_item_is_user;
use crate::http::{ApiError, Outgoing};
use crate::protocol::chat::KEEPALIVE;
use crate::protocol::responses::{failed_event, new_response_id};
use crate::relay::{self, Adapter, Fault, Sink, Step};
use crate::routes::fields::{initiator_header, vision_header};
use crate::routing::Api;
use crate::sse::Event;
use crate::streaming::{finished, streaming};
use crate::upstream::catalog::Model;
use serde_json::{Map, Value};
use std::sync::Arc;

/// Copilot serves the model on `/responses`: the body goes as it came.
pub fn create(
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
    crate::upstream::effort::clamp(&mut body, model);
    let input = body.get("input").cloned().unwrap_or(Value::Null);
    let mut extra = vec![initiator_header(last_item_is_user(&input))];
    extra.extend(vision_header(has_input_image(&input, 0)));
    let payload = serde_json::to_vec(&body).map_err(|e| ApiError::Internal(e.to_string()))?;
    let opened = app
        .upstream
        .post(Api::Responses.path(), &payload, &extra, &app.metrics)?;
    let tally = Some(opened.tally.clone());
    let mut out = if stream {
        let (reader, lease) = opened.into_parts();
        streaming(app, KEEPALIVE, lease.canceller(), move |sink| {
            let mut adapter = Passthrough::default();
            finished(lease, relay::relay_to_end(reader, sink, &mut adapter))
        })
    } else {
        let answer = opened.read_all()?;
        // Relayed as it is, but only if it is JSON: a 200 with an empty or broken body is
        // an upstream fault, not an answer (issue 10's fault matrix).
        let json = std::str::from_utf8(&answer)
            .is_ok_and(|text| serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok());
        if !json {
            return Err(ApiError::BadGateway(
                "Copilot answered 200 with a body that is not JSON".into(),
            ));
        }
        Outgoing::bytes(200, "application/json", answer)
    };
    out.model = Some(requested.to_string());
    out.tally = tally;
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

/// How the upstream itself ended the response.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Terminal {
    /// `response.completed` or `response.incomplete`.
    Completed,
    /// `response.failed`, relayed as it came.
    Failed,
}

/// Relays Copilot's Responses events unchanged, remembering what a `response.failed` of
/// our own needs (the response id, the sequence number).
#[derive(Default)]
struct Passthrough {
    response_id: Option<String>,
    sequence: u64,
    terminal: Option<Terminal>,
}

impl Adapter for Passthrough {
    fn on_event(&mut self, event: &Event, sink: &mut Sink) -> Result<Step, Fault> {
        if event.comment.is_some() {
            sink.sse(event.to_wire().as_bytes());
            return Ok(Step::Continue);
        }
        if event.data.trim() == "[DONE]" {
            sink.event(None, "[DONE]");
            return self.on_eof(sink).map(|()| Step::Done);
        }
        let v: Value =
            serde_json::from_str(&event.data).map_err(|e| Fault::Malformed(e.to_string()))?;
        if let Some(id) = v.pointer("/response/id").and_then(Value::as_str) {
            self.response_id.get_or_insert_with(|| id.to_string());
        }
        self.sequence = v
            .get("sequence_number")
            .and_then(Value::as_u64)
            .unwrap_or(self.sequence);
        match v.get("type").and_then(Value::as_str).unwrap_or("") {
            "response.completed" | "response.incomplete" => {
                self.terminal = Some(Terminal::Completed)
            }
            "response.failed" => self.terminal = Some(Terminal::Failed),
            "error" => {
                // Relayed, then closed with the `response.failed` clients wait for.
                sink.sse(event.to_wire().as_bytes());
                let m = v.pointer("/error/message").or_else(|| v.get("message"));
                let m = m.and_then(Value::as_str).unwrap_or("upstream error");
                return Err(Fault::Upstream(m.to_string()));
            }
            _ => {}
        }
        sink.sse(event.to_wire().as_bytes());
        Ok(Step::Continue)
    }

    fn on_eof(&mut self, _: &mut Sink) -> Result<(), Fault> {
        self.settled().unwrap_or(Err(Fault::ClosedEarly))
    }

    fn settled(&self) -> Option<Result<(), Fault>> {
        self.terminal.map(|t| match t {
            Terminal::Completed => Ok(()),
            Terminal::Failed => Err(Fault::Relayed),
        })
    }

    fn close(&mut self, ending: &Result<(), Fault>, sink: &mut Sink) {
        let Err(fault) = ending else { return };
        if *fault == Fault::Relayed {
            return;
        }
        let id = self.response_id.take().unwrap_or_else(new_response_id);
        let event = failed_event(
            &id,
            fault.openai_code(),
            &fault.message(),
            self.sequence + 1,
        );
        sink.forward(&event);
    }

    fn name(&self) -> &'static str {
        "responses"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::Outcome;
    use serde_json::json;

    fn relayed(upstream: &[u8]) -> (String, Outcome) {
        let (mut sink, out) = Sink::capture();
        let outcome = relay::relay_to_end(upstream, &mut sink, &mut Passthrough::default());
        let text = String::from_utf8(out.lock().unwrap().clone()).unwrap();
        (text, outcome)
    }

    const CREATED: &str = "event: response.created\ndata: {\"type\":\"response.created\",\"sequence_number\":0,\"response\":{\"id\":\"resp_1\"}}\n\n";

    #[test]
    fn a_cut_stream_ends_with_response_failed_for_the_same_response() {
        let (text, outcome) = relayed(CREATED.as_bytes());
        assert_eq!(outcome, Outcome::UpstreamError);
        let last = text.rsplit("event: ").next().unwrap();
        assert!(last.starts_with("response.failed"), "{text}");
        assert!(
            last.contains("\"id\":\"resp_1\"") && last.contains("\"sequence_number\":1"),
            "{text}"
        );
    }

    #[test]
    fn after_response_completed_the_end_of_the_body_is_fine() {
        let done = "event: response.completed\ndata: {\"type\":\"response.completed\",\"sequence_number\":1}\n\n";
        let (text, outcome) = relayed(format!("{CREATED}{done}").as_bytes());
        assert_eq!(
            (text.as_str(), outcome),
            (format!("{CREATED}{done}").as_str(), Outcome::Completed)
        );
    }

    #[test]
    fn an_error_event_is_relayed_then_closed_with_response_failed() {
        let error = "event: error\ndata: {\"type\":\"error\",\"message\":\"boom\"}\n\n";
        let (text, outcome) = relayed(format!("{CREATED}{error}").as_bytes());
        assert_eq!(outcome, Outcome::UpstreamError);
        assert!(text.contains(error), "{text}");
        assert!(
            text.contains("response.failed") && text.contains("boom"),
            "{text}"
        );
    }

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
