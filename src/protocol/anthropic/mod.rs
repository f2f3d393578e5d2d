//! Anthropic Messages at the stream's edges: the keepalive and terminal events, what the native
//! relay reads of an upstream event, (in `events`) the typed events the translators write,
//! and (in `message`) the typed message and its blocks.

use super::chat_chunk::{Str, U64};
use crate::sse::Event;

mod events;
mod message;
pub use events::{Delta, StreamEvent};
pub use message::{Block, Message, ServerToolUse, Usage};

/// Anthropic's keepalive, sent during upstream silence.
pub const PING: &[u8] = b"event: ping\ndata: {\"type\":\"ping\"}\n\n";

/// The `message_stop` that completes a stream whose upstream left it out.
pub const MESSAGE_STOP: &[u8] = b"event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";

/// An `error` event (`kind` is the error type: `api_error`, `overloaded_error`, ...).
pub fn error_event(kind: &str, message: &str) -> Event {
    StreamEvent::error(kind, message).to_event()
}

/// The `content_block_stop` that closes block `index` before an error ends the stream.
pub fn block_stop(index: u64) -> Event {
    StreamEvent::block_stop(index).to_event()
}

/// An event named after its `type`, as Anthropic sends every event (for events relayed as
/// trees: the web-search passes).
pub fn named(data: serde_json::Value) -> Event {
    Event {
        event: data
            .get("type")
            .and_then(serde_json::Value::as_str)
            .map(|kind| kind.to_string().into()),
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
