//! Responses stream events the proxy writes itself.

use crate::sse::Event;
use serde_json::json;
use std::time::{SystemTime, UNIX_EPOCH};

/// A `response.failed` event, the Responses stream's way to end with an error, for a
/// response the proxy knows only by id (a relayed upstream stream).
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

/// `response.output_text.delta`, the hot event of a translated stream, serialized straight
/// from borrowed text. Fields in the sorted order serde_json writes a map's, so the bytes
/// are those of the tree this replaces.
#[derive(serde::Serialize)]
struct TextDelta<'a> {
    content_index: u32,
    delta: &'a str,
    item_id: &'a str,
    logprobs: [(); 0],
    output_index: usize,
    sequence_number: u64,
    #[serde(rename = "type")]
    kind: &'static str,
}

pub fn text_delta(item_id: &str, output_index: usize, text: &str, sequence: u64) -> Event {
    let kind = "response.output_text.delta";
    let delta = TextDelta {
        content_index: 0,
        delta: text,
        item_id,
        logprobs: [],
        output_index,
        sequence_number: sequence,
        kind,
    };
    Event {
        event: Some(kind.into()),
        // Plain fields always serialize.
        data: serde_json::to_string(&delta).unwrap_or_default(),
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
