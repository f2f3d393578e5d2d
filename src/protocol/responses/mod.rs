//! Responses at the stream's edges: the failure that ends a relayed stream, response ids,
//! (in `events`) the typed events the translator writes, and (in `response`) the typed
//! response object and output items.

use crate::sse::Event;
use serde_json::json;
use std::time::{SystemTime, UNIX_EPOCH};

/// A `response.failed` event, the Responses stream's way to end with an error, for a
/// response the proxy knows only by id (a relayed upstream stream).
pub fn failed_event(response_id: &str, code: &str, message: &str, sequence: u64) -> Event {
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
    Event {
        event: Some("response.failed".into()),
        data: data.to_string(),
        ..Event::default()
    }
}

pub fn new_response_id() -> String {
    format!("resp_{:016x}", crate::ids::random_u64())
}

mod events;
pub mod request;
mod response;
pub use events::{At, StreamEvent};
pub use response::{
    Echo, ErrorBody, InputDetails, OutputDetails, OutputItem, Part, Response, Usage,
};
pub mod upstream;

#[cfg(test)]
mod tests;
