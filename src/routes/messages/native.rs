//! Copilot's native Messages endpoint: the body passes through with the model resolved
//! and what Copilot rejects removed, and the stream's events are relayed as they came
//! (only the model name restored).

use super::images::{send_with_image_fallback, with_vision};
use crate::app::App;
use crate::http::{ApiError, Incoming, Outgoing};
use crate::protocol::anthropic::{self, EventHead, MESSAGE_STOP, PING};
use crate::relay::{self, Adapter, Fault, Sink, Step};
use crate::routing::Api;
use crate::sse::Event;
use crate::streaming::{finished, streaming};
use crate::upstream::catalog::Model;
use serde_json::{Map, Value};
use std::sync::Arc;

/// Betas Copilot's native endpoint is known to accept (reference/peers.md §C2); others are
/// dropped rather than risking a 400 for the whole request.
const FORWARDED_BETAS: [&str; 4] = [
    "interleaved-thinking-",
    "context-management-",
    "advanced-tool-use-",
    "fine-grained-tool-streaming-",
];
/// Anthropic server tools Copilot rejects; removed (with a log line) so the request works.
const SERVER_TOOL_PREFIXES: [&str; 3] = ["web_search_", "web_fetch_", "code_execution_"];

/// Copilot's native Messages endpoint: the body passes through with the model resolved and
/// what Copilot rejects removed; events pass through unchanged.
pub fn create(
    app: &Arc<App>,
    rq: &Incoming,
    mut body: Map<String, Value>,
    requested: &str,
    model: &Model,
    stream: bool,
    mut extra: Vec<(&'static str, String)>,
) -> Result<Outgoing, ApiError> {
    native_request(rq, &mut body, model, &mut extra);
    let opened = send_with_image_fallback(&mut body, |b| {
        let payload = serde_json::to_vec(b).map_err(|e| ApiError::Internal(e.to_string()))?;
        let headers = with_vision(&extra, b);
        Ok(app
            .upstream
            .post(Api::Messages.path(), &payload, &headers, &app.metrics)?)
    })?;
    let tally = Some(opened.tally.clone());
    let rename = (requested != model.id).then(|| (model.id.clone(), requested.to_string()));
    let mut out = if stream {
        let (reader, lease) = opened.into_parts();
        streaming(app, PING, lease.canceller(), move |sink| {
            let mut adapter = NativeRelay {
                rename,
                open_block: None,
                saw_delta: false,
            };
            finished(lease, relay::relay_to_end(reader, sink, &mut adapter))
        })
    } else {
        let mut v: Value = serde_json::from_slice(&opened.read_all()?).map_err(|_| {
            ApiError::BadGateway("Copilot answered with something other than JSON".into())
        })?;
        if let Some((from, to)) = &rename {
            if v.get("model").and_then(Value::as_str) == Some(from.as_str()) {
                v["model"] = Value::from(to.as_str());
            }
        }
        Outgoing::json(200, &v)
    };
    out.model = Some(requested.to_string());
    out.tally = tally;
    Ok(out)
}

/// The body and headers of a native Messages call: the model resolved, what Copilot
/// rejects removed, the client's version and accepted betas forwarded.
pub(crate) fn native_request(
    rq: &Incoming,
    body: &mut Map<String, Value>,
    model: &Model,
    extra: &mut Vec<(&'static str, String)>,
) {
    body.insert("model".into(), Value::from(model.id.clone()));
    remove_server_tools(body);
    fit_max_tokens(body, model);
    crate::upstream::effort::clamp(body, Some(model));
    extra.push(("openai-intent", "messages-proxy".into()));
    extra.push((
        "anthropic-version",
        rq.header("anthropic-version")
            .unwrap_or("2023-06-01")
            .to_string(),
    ));
    let betas = rq.header("anthropic-beta").and_then(forwarded_betas);
    // `context_management` is only valid with its beta; without it the request would fail.
    if !betas
        .as_deref()
        .is_some_and(|b| b.contains("context-management-"))
    {
        body.remove("context_management");
    }
    if let Some(betas) = betas {
        extra.push(("anthropic-beta", betas));
    }
}

fn remove_server_tools(body: &mut Map<String, Value>) {
    let Some(Value::Array(tools)) = body.get_mut("tools") else {
        return;
    };
    let before = tools.len();
    tools.retain(|t| {
        let kind = t.get("type").and_then(Value::as_str).unwrap_or("");
        let server = SERVER_TOOL_PREFIXES.iter().any(|p| kind.starts_with(p));
        if server {
            crate::warn!("removed server tool `{kind}`, which Copilot does not serve");
        }
        !server
    });
    if tools.is_empty() && before > 0 {
        body.remove("tools");
        body.remove("tool_choice");
    }
}

/// `max_tokens` within the model's output limit, and a thinking budget below it (Anthropic
/// rejects `budget_tokens >= max_tokens`).
fn fit_max_tokens(body: &mut Map<String, Value>, model: &Model) {
    let Some(cap) = model.max_output else { return };
    let max = body
        .get("max_tokens")
        .and_then(Value::as_u64)
        .map_or(cap, |n| n.min(cap));
    body.insert("max_tokens".into(), Value::from(max));
    if let Some(budget) = body
        .get_mut("thinking")
        .and_then(|t| t.get_mut("budget_tokens"))
    {
        if budget.as_u64().is_some_and(|b| b >= max) {
            *budget = Value::from(max.saturating_sub(1));
        }
    }
}

fn forwarded_betas(header: &str) -> Option<String> {
    let kept: Vec<&str> = header
        .split(',')
        .map(str::trim)
        .filter(|b| FORWARDED_BETAS.iter().any(|p| b.starts_with(p)))
        .collect();
    (!kept.is_empty()).then(|| kept.join(","))
}

/// Relays Copilot's native Anthropic events as they came (only the model name restored).
/// Never ends silently: a fault closes the open block and sends an `error` event.
struct NativeRelay {
    rename: Option<(String, String)>,
    open_block: Option<u64>,
    saw_delta: bool,
}

impl NativeRelay {
    /// `message_start` with the model named as the client asked (once per stream).
    fn renamed(&self, data: &str) -> Option<String> {
        let (from, to) = self.rename.as_ref()?;
        let mut v: Value = serde_json::from_str(data).ok()?;
        if v.pointer("/message/model").and_then(Value::as_str) != Some(from.as_str()) {
            return None;
        }
        v["message"]["model"] = Value::from(to.as_str());
        Some(v.to_string())
    }
}

impl Adapter for NativeRelay {
    fn on_event(&mut self, event: &Event, sink: &mut Sink) -> Result<Step, Fault> {
        if event.comment.is_some() {
            return Ok(Step::Continue);
        }
        let head = EventHead::read(&event.data).map_err(|e| Fault::Malformed(e.to_string()))?;
        match head.kind.get().unwrap_or("") {
            "content_block_start" => self.open_block = head.index.0,
            "content_block_stop" => self.open_block = None,
            "message_delta" => self.saw_delta = true,
            "message_start" => {
                if let Some(renamed) = self.renamed(&event.data) {
                    sink.event(event.event.as_deref(), &renamed);
                    return Ok(Step::Continue);
                }
            }
            "message_stop" => {
                sink.forward(event);
                return Ok(Step::Done);
            }
            "error" => {
                // The upstream's own error event is the stream's terminal event.
                sink.forward(event);
                return Err(Fault::Relayed);
            }
            _ => {}
        }
        sink.forward(event);
        Ok(Step::Continue)
    }

    /// Everything but `message_stop` arrived: it is completed here.
    fn on_eof(&mut self, sink: &mut Sink) -> Result<(), Fault> {
        if self.saw_delta && self.open_block.is_none() {
            sink.sse(MESSAGE_STOP);
            return Ok(());
        }
        Err(Fault::ClosedEarly)
    }

    fn close(&mut self, ending: &Result<(), Fault>, sink: &mut Sink) {
        let Err(fault) = ending else { return };
        if *fault == Fault::Relayed {
            return;
        }
        let mut events = Vec::new();
        if let Some(index) = self.open_block.take() {
            events.push(anthropic::block_stop(index));
        }
        events.push(anthropic::error_event(
            fault.anthropic_type(),
            &fault.message(),
        ));
        sink.events(&events);
    }

    fn name(&self) -> &'static str {
        "messages"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::Outcome;
    use serde_json::json;

    /// The native relay over an upstream body given whole: what the client got, and how
    /// the stream ended.
    fn relayed(upstream: &str, rename: Option<(&str, &str)>) -> (String, Outcome) {
        let (mut sink, out) = Sink::capture();
        let mut adapter = NativeRelay {
            rename: rename.map(|(a, b)| (a.to_string(), b.to_string())),
            open_block: None,
            saw_delta: false,
        };
        let outcome = relay::relay_to_end(upstream.as_bytes(), &mut sink, &mut adapter);
        let text = String::from_utf8(out.lock().unwrap().clone()).unwrap();
        (text, outcome)
    }

    const START: &str = "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"model\":\"claude-sonnet-4.5\"}}\n\n";
    const BLOCK: &str = "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0}\n\nevent: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"hi\"}}\n\n";
    const END: &str = "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\nevent: message_delta\ndata: {\"type\":\"message_delta\"}\n\n";

    #[test]
    fn events_pass_as_they_came_with_the_model_renamed() {
        let stop = "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";
        let upstream = format!("{START}{BLOCK}{END}{stop}");
        let (text, outcome) = relayed(&upstream, Some(("claude-sonnet-4.5", "claude-sonnet-4-5")));
        assert_eq!(outcome, Outcome::Completed);
        let (start, rest) = text.split_at(text.find("event: content_block_start").unwrap());
        assert_eq!(rest, &upstream[START.len()..]);
        assert!(start.contains("\"model\":\"claude-sonnet-4-5\""), "{start}");
        assert!(!start.contains("4.5"), "{start}");
    }

    #[test]
    fn events_without_a_type_pass_unread() {
        let odd = "data: {\"no\":\"type\"}\n\ndata: [1]\n\ndata: {\"type\":7,\"index\":\"x\"}\n\n";
        let upstream = format!("{START}{odd}{BLOCK}{END}");
        let (text, outcome) = relayed(&upstream, None);
        assert_eq!(outcome, Outcome::Completed);
        assert!(text.starts_with(&upstream), "{text}");
    }

    #[test]
    fn a_missing_message_stop_is_completed_after_message_delta() {
        let (text, outcome) = relayed(&format!("{START}{BLOCK}{END}"), None);
        assert_eq!(outcome, Outcome::Completed);
        assert!(
            text.ends_with(std::str::from_utf8(MESSAGE_STOP).unwrap()),
            "{text}"
        );
    }

    #[test]
    fn a_cut_stream_closes_the_open_block_then_errors() {
        let (text, outcome) = relayed(&format!("{START}{BLOCK}"), None);
        assert_eq!(outcome, Outcome::UpstreamError);
        let tail = "event: content_block_stop\ndata: {\"index\":0,\"type\":\"content_block_stop\"}\n\nevent: error\n";
        assert!(text.contains(tail), "{text}");
        assert!(text.contains("\"api_error\""), "{text}");
        let (text, _) = relayed(&format!("{START}data: {{oops\n\n"), None);
        assert!(text.contains("malformed stream event"), "{text}");
    }

    #[test]
    fn the_upstreams_error_event_is_the_last_word() {
        let error = "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n";
        let (text, outcome) = relayed(&format!("{START}{BLOCK}{error}"), None);
        assert_eq!(outcome, Outcome::UpstreamError);
        assert!(text.ends_with(error), "{text}");
        assert_eq!(text.matches("event: error").count(), 1, "{text}");
    }

    #[test]
    fn server_tools_removed_and_betas_filtered() {
        let mut b = json!({"tools": [{"type": "web_search_20250305", "name": "web_search"}], "tool_choice": {"type": "auto"}})
            .as_object()
            .unwrap()
            .clone();
        remove_server_tools(&mut b);
        assert!(b.get("tools").is_none() && b.get("tool_choice").is_none());
        let header =
            "claude-code-20250219, interleaved-thinking-2025-05-14,context-management-2025-06-27";
        assert_eq!(
            forwarded_betas(header).as_deref(),
            Some("interleaved-thinking-2025-05-14,context-management-2025-06-27")
        );
        assert_eq!(forwarded_betas("claude-code-20250219"), None);
    }

    #[test]
    fn max_tokens_and_thinking_budget_fit_the_model() {
        let model = Model {
            max_output: Some(64_000),
            ..Model::from_upstream(&json!({"id": "claude-opus-4.8"})).unwrap()
        };
        let mut b = json!({"max_tokens": 128_000, "thinking": {"type": "enabled", "budget_tokens": 100_000}})
            .as_object()
            .unwrap()
            .clone();
        fit_max_tokens(&mut b, &model);
        assert_eq!(b["max_tokens"], 64_000);
        assert_eq!(b["thinking"]["budget_tokens"], 63_999);
    }
}
