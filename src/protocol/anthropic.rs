//! Anthropic Messages stream events the proxy writes itself.

use crate::sse::Event;
use serde_json::json;

/// Anthropic's keepalive, sent during upstream silence.
pub const PING: &[u8] = b"event: ping\ndata: {\"type\":\"ping\"}\n\n";

/// The `message_stop` that completes a stream whose upstream left it out.
pub const MESSAGE_STOP: &[u8] = b"event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";

/// An `error` event, the Anthropic stream's way to end with an error (`kind` is the error
/// type: `api_error`, `overloaded_error`, ...).
pub fn error_event(kind: &str, message: &str) -> Event {
    named(json!({"type": "error", "error": {"type": kind, "message": message}}))
}

/// The `content_block_stop` that closes block `index` before an error ends the stream.
pub fn block_stop(index: u64) -> Event {
    named(json!({"type": "content_block_stop", "index": index}))
}

/// An event named after its `type`, as Anthropic sends every event.
pub fn named(data: serde_json::Value) -> Event {
    Event {
        event: data
            .get("type")
            .and_then(serde_json::Value::as_str)
            .map(str::to_string),
        data: data.to_string(),
        ..Event::default()
    }
}

/// The Anthropic error type for an upstream HTTP status that ended a stream.
pub fn error_type(status: u16) -> &'static str {
    match status {
        429 => "rate_limit_error",
        400..=499 => "invalid_request_error",
        _ => "api_error",
    }
}

/// What the native relay reads of an upstream event: its type and a block's index.
/// Deserialized borrowed, without building a tree; the event's bytes pass on as they came.
#[derive(serde::Deserialize)]
pub struct EventHead<'a> {
    #[serde(rename = "type", borrow)]
    pub kind: std::borrow::Cow<'a, str>,
    pub index: Option<u64>,
}
