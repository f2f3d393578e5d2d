//! Anthropic Messages stream events the proxy writes itself.

use super::chat_chunk::{Str, U64};
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

/// A `content_block_delta` whose delta is `{"type": kind, field: text}`, written straight
/// from the borrowed text: the hot event of a translated stream. The keys come in the
/// order serde_json writes a map's (sorted; every delta field sorts before `type`), so the
/// bytes are those of the tree this replaces.
pub fn block_delta(index: u64, kind: &str, field: &str, text: &str) -> Event {
    let mut data = String::with_capacity(text.len() + field.len() + kind.len() + 64);
    data.push_str("{\"delta\":{\"");
    data.push_str(field);
    data.push_str("\":");
    // A string always serializes.
    data.push_str(&serde_json::to_string(text).unwrap_or_default());
    data.push_str(",\"type\":\"");
    data.push_str(kind);
    data.push_str("\"},\"index\":");
    data.push_str(&index.to_string());
    data.push_str(",\"type\":\"content_block_delta\"}");
    Event {
        event: Some("content_block_delta".into()),
        data,
        ..Event::default()
    }
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
/// Lenient: a missing or odd `type` or `index` reads as absent.
#[derive(serde::Deserialize, Default)]
#[serde(default)]
pub struct EventHead<'a> {
    #[serde(rename = "type", borrow)]
    pub kind: Str<'a>,
    pub index: U64,
}

impl EventHead<'_> {
    /// The head of an event's JSON data; an event that is valid JSON but no object has an
    /// empty head. `Err` only for data that is not JSON.
    pub fn read(data: &str) -> Result<EventHead<'_>, serde_json::Error> {
        serde_json::from_str(data).or_else(|_| {
            serde_json::from_str::<serde::de::IgnoredAny>(data).map(|_| EventHead::default())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_deltas_are_the_bytes_of_the_tree() {
        for (kind, field) in [
            ("text_delta", "text"),
            ("thinking_delta", "thinking"),
            ("signature_delta", "signature"),
            ("input_json_delta", "partial_json"),
        ] {
            let text = "a \"quoted\"\nline \u{1F600} \\ {\"k\":1}";
            let tree = named(json!({"type": "content_block_delta", "index": 7,
                                    "delta": {"type": kind, field: text}}));
            assert_eq!(block_delta(7, kind, field, text), tree);
        }
    }
}
