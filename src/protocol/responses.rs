//! Responses stream events the proxy writes itself.

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

/// `response.output_text.delta`, the hot event of a translated stream, written straight
/// from the borrowed text: only the two strings are escaped. Fields in the sorted order
/// serde_json writes a map's, so the bytes are those of the tree this replaces (tested).
pub fn text_delta(item_id: &str, output_index: usize, text: &str, sequence: u64) -> Event {
    // Strings always serialize.
    let escaped = |s: &str| serde_json::to_string(s).unwrap_or_default();
    let data = format!(
        "{{\"content_index\":0,\"delta\":{},\"item_id\":{},\"logprobs\":[],\"output_index\":{output_index},\"sequence_number\":{sequence},\"type\":\"response.output_text.delta\"}}",
        escaped(text),
        escaped(item_id),
    );
    Event {
        event: Some("response.output_text.delta".into()),
        data,
        ..Event::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_delta_is_the_bytes_of_the_tree() {
        let text = "a \"q\"\n\u{1F600}";
        let tree = json!({"type": "response.output_text.delta", "sequence_number": 9,
                          "item_id": "msg_1", "output_index": 2, "content_index": 0,
                          "delta": text, "logprobs": []});
        let event = text_delta("msg_1", 2, text, 9);
        assert_eq!(event.data, tree.to_string());
        assert_eq!(event.event.as_deref(), Some("response.output_text.delta"));
    }
}
