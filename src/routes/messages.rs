//! `POST /v1/messages`: Anthropic Messages for every Copilot model. Models that Copilot
//! serves on its native `/v1/messages` get the body passed through (thinking signatures,
//! `cache_control` and betas survive); the others are translated through
//! `/chat/completions` (see `messages_chat.rs`).

use crate::app::App;
use crate::features::images;
use crate::routes::fields::{self, initiator_header, vision_header};
use crate::routes::finished;
use crate::routes::messages_chat;
use crate::routing::{self, Api};
use crate::server::error::ApiError;
use crate::server::http::{Incoming, Outgoing};
use crate::server::stream::{End, Flow, Outcome, Sink, StreamBody, pump};
use crate::translate::anthropic_request::user_turn;
use crate::upstream::catalog::Model;
use serde_json::{Map, Value, json};
use std::io::Read;
use std::sync::Arc;

/// Anthropic's keepalive, sent during upstream silence.
pub const PING: &[u8] = b"event: ping\ndata: {\"type\":\"ping\"}\n\n";
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

pub fn create(app: &Arc<App>, rq: &Incoming) -> Result<Outgoing, ApiError> {
    let mut body = rq.json_object()?;
    let requested = fields::model(&body)?;
    validate(&body)?;
    let stream = fields::stream_flag(&body)?;
    if let Some(message) = images::tiny_png(&body) {
        return Err(ApiError::BadRequest(message));
    }
    if let Some(before) = app.config.image_trimming {
        let trimmed = images::trim_processed(&mut body, before);
        if trimmed > 0 {
            crate::debug!("trimmed {trimmed} answered image(s) from the request");
        }
    }
    let model = app.find_model(&requested);
    let limit = model.as_ref().and_then(Model::max_input);
    let messages = body
        .get("messages")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let extra = vec![initiator_header(user_turn(messages))];

    let native_messages = !app.config.no_native_messages;
    let route = routing::decide(Api::Messages, model.as_ref(), native_messages)
        .map_err(ApiError::BadRequest)?;
    let result = match (route, model) {
        (Api::Messages, Some(m)) => native(app, rq, body, &requested, &m, stream, extra),
        (Api::Chat | Api::Responses, model) => {
            messages_chat::create(app, body, &requested, model.as_ref(), route, stream, extra)
        }
        (other, _) => Err(ApiError::Internal(format!(
            "no Messages route to {other:?}"
        ))),
    };
    result.map_err(|e| anthropic_context_error(e, limit))
}

/// Copilot's native Messages endpoint: the body passes through with the model resolved and
/// what Copilot rejects removed; events pass through unchanged.
fn native(
    app: &Arc<App>,
    rq: &Incoming,
    mut body: Map<String, Value>,
    requested: &str,
    model: &Model,
    stream: bool,
    mut extra: Vec<(&'static str, String)>,
) -> Result<Outgoing, ApiError> {
    body.insert("model".into(), Value::from(model.id.clone()));
    remove_server_tools(&mut body);
    fit_max_tokens(&mut body, model);
    crate::features::effort::clamp(&mut body, Some(model));
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
    let opened = send_with_image_fallback(&mut body, |b| {
        let payload = serde_json::to_vec(b).map_err(|e| ApiError::Internal(e.to_string()))?;
        let headers = with_vision(&extra, b);
        app.upstream
            .post(Api::Messages.path(), &payload, &headers, &app.metrics)
    })?;
    let rename = (requested != model.id).then(|| (model.id.clone(), requested.to_string()));
    let mut out = if stream {
        let (reader, lease) = opened.into_parts();
        Outgoing::stream(StreamBody {
            keepalive: PING,
            timing: app.config.stream_timing,
            cancel: lease.canceller(),
            produce: Box::new(move |sink| finished(lease, relay_native(reader, sink, rename))),
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
    Ok(out)
}

/// Sends, and when Copilot answers 413 (body too large) sends again without the older
/// images, then without any; after that the client gets the context-window error that
/// makes Claude Code compact.
pub fn send_with_image_fallback<T>(
    body: &mut Map<String, Value>,
    mut send: impl FnMut(&Map<String, Value>) -> Result<T, ApiError>,
) -> Result<T, ApiError> {
    let too_large = |r: &Result<T, ApiError>| {
        matches!(
            r,
            Err(ApiError::ContextWindow {
                too_large: true,
                ..
            })
        )
    };
    let first = send(body);
    if !too_large(&first) {
        return first;
    }
    for keep_last in [true, false] {
        let removed = images::strip(body, keep_last);
        if removed == 0 {
            continue;
        }
        crate::warn!("Copilot answered 413; removed {removed} image(s) and sending again");
        let again = send(body);
        if !too_large(&again) {
            return again;
        }
    }
    first
}

/// Context-window errors in the words Claude Code reacts to by compacting:
/// `prompt is too long: N tokens > M maximum`, with Copilot's numbers when it gives them.
fn anthropic_context_error(e: ApiError, limit: Option<u64>) -> ApiError {
    let ApiError::ContextWindow { message, too_large } = e else {
        return e;
    };
    let message = match (exceeds_numbers(&message), limit) {
        (Some((n, m)), _) => format!("prompt is too long: {n} tokens > {m} maximum"),
        (None, Some(m)) => format!("prompt is too long: {} tokens > {m} maximum", m + m / 2),
        (None, None) => format!("prompt is too long: {message}"),
    };
    ApiError::ContextWindow { message, too_large }
}

/// `N` and `M` from "... N exceeds the limit of M" (thousands separators allowed).
fn exceeds_numbers(text: &str) -> Option<(u64, u64)> {
    let lower = text.to_ascii_lowercase();
    let at = lower.find("exceeds the limit of")?;
    let number = |s: &str| -> Option<u64> {
        let digits: String = s.chars().filter(|c| *c != ',').collect();
        digits.parse().ok()
    };
    let before = lower[..at].trim_end();
    let start = before
        .rfind(|c: char| !(c.is_ascii_digit() || c == ','))
        .map_or(0, |i| i + 1);
    let after = lower[at + "exceeds the limit of".len()..].trim_start();
    let end = after
        .find(|c: char| !(c.is_ascii_digit() || c == ','))
        .unwrap_or(after.len());
    Some((number(&before[start..])?, number(&after[..end])?))
}

fn validate(body: &Map<String, Value>) -> Result<(), ApiError> {
    match body.get("messages") {
        Some(Value::Array(m))
            if m.iter()
                .all(|m| m.get("role").and_then(Value::as_str).is_some()) => {}
        Some(Value::Array(_)) => {
            return Err(ApiError::BadRequest(
                "each of `messages` must be an object with a string `role`".into(),
            ));
        }
        Some(_) => return Err(ApiError::BadRequest("`messages` must be an array".into())),
        None => return Err(ApiError::BadRequest("`messages` is required".into())),
    }
    if body
        .get("system")
        .is_some_and(|s| !(s.is_string() || s.is_array() || s.is_null()))
    {
        return Err(ApiError::BadRequest(
            "`system` must be a string or an array of text blocks".into(),
        ));
    }
    fields::optional_types(
        body,
        &[
            ("max_tokens", fields::Kind::Integer),
            ("temperature", fields::Kind::Number),
            ("top_p", fields::Kind::Number),
            ("tools", fields::Kind::Array),
            ("stop_sequences", fields::Kind::Array),
            ("thinking", fields::Kind::Object),
            ("metadata", fields::Kind::Object),
        ],
    )
}

/// The route's headers plus the vision header when this body (after any image removal)
/// still carries an image.
pub fn with_vision(
    extra: &[(&'static str, String)],
    body: &Map<String, Value>,
) -> Vec<(&'static str, String)> {
    let messages = body
        .get("messages")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let mut headers = extra.to_vec();
    headers.extend(vision_header(messages.iter().any(has_image)));
    headers
}

/// Any image block, also inside tool results.
pub fn has_image(message: &Value) -> bool {
    fn in_blocks(v: &Value) -> bool {
        v.as_array().is_some_and(|blocks| {
            blocks.iter().any(|b| {
                b.get("type").and_then(Value::as_str) == Some("image")
                    || b.get("content").is_some_and(in_blocks)
            })
        })
    }
    message.get("content").is_some_and(in_blocks)
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

/// Relays Copilot's native Anthropic events unchanged (only the model name restored).
/// Never ends silently: a fault closes the open block and sends an `error` event.
fn relay_native(upstream: impl Read, sink: &mut Sink, rename: Option<(String, String)>) -> Outcome {
    let mut open_block: Option<u64> = None;
    let mut saw_delta = false;
    let mut fault: Option<(String, String)> = None;
    let mut stopped = false;
    let end = pump(upstream, sink, |event, sink| {
        if event.comment.is_some() {
            return Flow::Continue;
        }
        let v: Value = match serde_json::from_str(&event.data) {
            Ok(v) => v,
            Err(e) => {
                fault = Some((
                    "api_error".into(),
                    format!("Copilot sent a malformed stream event: {e}"),
                ));
                return Flow::Stop;
            }
        };
        match v.get("type").and_then(Value::as_str).unwrap_or("") {
            "content_block_start" => open_block = v.get("index").and_then(Value::as_u64),
            "content_block_stop" => open_block = None,
            "message_delta" => saw_delta = true,
            "message_start" => {
                if let Some((from, to)) = &rename {
                    let mut v = v.clone();
                    if v.pointer("/message/model").and_then(Value::as_str) == Some(from.as_str()) {
                        v["message"]["model"] = Value::from(to.as_str());
                        let event = crate::sse::Event {
                            data: v.to_string(),
                            ..event
                        };
                        sink.send(event.to_wire().as_bytes());
                        return Flow::Continue;
                    }
                }
            }
            "message_stop" => {
                stopped = true;
                sink.send(event.to_wire().as_bytes());
                return Flow::Stop;
            }
            "error" => {
                sink.send(event.to_wire().as_bytes());
                fault = Some((String::new(), String::new()));
                return Flow::Stop;
            }
            _ => {}
        }
        sink.send(event.to_wire().as_bytes());
        Flow::Continue
    });
    let (outcome, kind, message) = match (end, fault) {
        (End::ClientGone, _) => return Outcome::ClientGone,
        (End::Done, None) if stopped => return Outcome::Completed,
        // The upstream's own error event was forwarded as it came.
        (End::Done, Some((kind, _))) if kind.is_empty() => return Outcome::UpstreamError,
        (End::Done, Some((kind, message))) => (Outcome::UpstreamError, kind, message),
        (End::Eof, _) | (End::Done, None) if saw_delta && open_block.is_none() => {
            // Everything but `message_stop` arrived; complete it.
            sink.send(b"event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n");
            return Outcome::Completed;
        }
        (End::Eof, _) | (End::Done, None) => (
            Outcome::UpstreamError,
            "api_error".into(),
            "Copilot closed the stream before the response was complete".into(),
        ),
        (End::ReadError(m), _) => (Outcome::UpstreamError, "api_error".into(), m),
        (End::Stalled, _) => (
            Outcome::Stalled,
            "overloaded_error".into(),
            "Copilot stopped sending data (stall timeout); the response is incomplete".into(),
        ),
    };
    crate::warn!("messages stream ended early: {message}");
    if let Some(index) = open_block {
        let stop = json!({"type": "content_block_stop", "index": index});
        sink.send(format!("event: content_block_stop\ndata: {stop}\n\n").as_bytes());
    }
    sink.send(error_event(&kind, &message).as_bytes());
    outcome
}

/// An Anthropic stream `error` event.
pub fn error_event(kind: &str, message: &str) -> String {
    let data = json!({"type": "error", "error": {"type": kind, "message": message}});
    format!("event: error\ndata: {data}\n\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_found_in_tool_results_too() {
        let img = json!({"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "x"}});
        assert!(has_image(
            &json!({"role": "user", "content": [img.clone()]})
        ));
        assert!(has_image(
            &json!({"role": "user", "content": [{"type": "tool_result", "content": [img]}]})
        ));
        assert!(!has_image(&json!({"role": "user", "content": "no"})));
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
    fn context_errors_become_prompt_too_long() {
        let e = |m: &str| ApiError::ContextWindow {
            message: m.into(),
            too_large: false,
        };
        let text = |e: ApiError| e.to_string();
        let real = e("prompt token count of 622,303 exceeds the limit of 168,000");
        assert_eq!(
            text(anthropic_context_error(real, None)),
            "prompt is too long: 622303 tokens > 168000 maximum"
        );
        assert_eq!(
            text(anthropic_context_error(e("too big"), Some(128_000))),
            "prompt is too long: 192000 tokens > 128000 maximum"
        );
        assert!(matches!(
            anthropic_context_error(ApiError::Unauthorized, None),
            ApiError::Unauthorized
        ));
    }

    #[test]
    fn image_fallback_strips_older_then_all() {
        let img = json!({"type": "image", "source": {"type": "base64", "media_type": "image/jpeg", "data": "AAAA"}});
        let mut body = json!({"messages": [{"role": "user", "content": [img.clone(), img]}]})
            .as_object()
            .unwrap()
            .clone();
        let mut seen = Vec::new();
        let result: Result<(), ApiError> = send_with_image_fallback(&mut body, |b| {
            seen.push(
                b["messages"][0]["content"]
                    .to_string()
                    .matches("\"image\"")
                    .count(),
            );
            Err(ApiError::ContextWindow {
                message: "413".into(),
                too_large: true,
            })
        });
        assert_eq!(seen, [2, 1, 0]);
        assert!(result.is_err());
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
