//! The Anthropic stream events the translators write, as typed values
//! serialized straight into each event's data.

use super::super::json_out;
use super::{Block, Message, Usage};
use crate::sse::Event;
use serde::Serialize;

/// A stream event the proxy writes, typed. Each serializes straight into the event's
/// data with its keys in sorted order, the bytes of the `Value` trees these types
/// replaced (a test compares them), and is named after its `type`, as Anthropic names
/// every event.
#[derive(Serialize)]
#[serde(untagged)]
pub enum StreamEvent<'a> {
    MessageStart {
        message: Message<'a>,
        #[serde(rename = "type")]
        kind: &'static str,
    },
    BlockStart {
        content_block: Block<'a>,
        index: u64,
        #[serde(rename = "type")]
        kind: &'static str,
    },
    BlockDelta {
        delta: Delta<'a>,
        index: u64,
        #[serde(rename = "type")]
        kind: &'static str,
    },
    BlockStop {
        index: u64,
        #[serde(rename = "type")]
        kind: &'static str,
    },
    MessageDelta {
        delta: StopDelta<'a>,
        #[serde(rename = "type")]
        kind: &'static str,
        usage: &'a Usage,
    },
    MessageStop {
        #[serde(rename = "type")]
        kind: &'static str,
    },
    Error {
        error: ErrorBody<'a>,
        #[serde(rename = "type")]
        kind: &'static str,
    },
}

impl<'a> StreamEvent<'a> {
    /// `message_start`: the message's envelope, before its first block.
    pub fn message_start(id: &'a str, model: &'a str, input_estimate: u64) -> Self {
        StreamEvent::MessageStart {
            message: Message::new(id, model, Usage::estimate(input_estimate)),
            kind: "message_start",
        }
    }

    pub fn block_start(index: u64, content_block: Block<'a>) -> Self {
        StreamEvent::BlockStart {
            content_block,
            index,
            kind: "content_block_start",
        }
    }

    pub fn block_delta(index: u64, delta: Delta<'a>) -> Self {
        StreamEvent::BlockDelta {
            delta,
            index,
            kind: "content_block_delta",
        }
    }

    pub fn block_stop(index: u64) -> Self {
        StreamEvent::BlockStop {
            index,
            kind: "content_block_stop",
        }
    }

    pub fn message_delta(stop_reason: &'a str, usage: &'a Usage) -> Self {
        StreamEvent::MessageDelta {
            delta: StopDelta {
                stop_reason,
                stop_sequence: None,
            },
            kind: "message_delta",
            usage,
        }
    }

    pub fn message_stop() -> Self {
        StreamEvent::MessageStop {
            kind: "message_stop",
        }
    }

    /// `error`, the Anthropic stream's way to end with an error (`kind` is the error
    /// type: `api_error`, `overloaded_error`, ...).
    pub fn error(kind: &'a str, message: &'a str) -> Self {
        StreamEvent::Error {
            error: ErrorBody { message, kind },
            kind: "error",
        }
    }

    /// The event's `type`, its SSE name.
    pub fn name(&self) -> &'static str {
        match self {
            StreamEvent::MessageStart { kind, .. }
            | StreamEvent::BlockStart { kind, .. }
            | StreamEvent::BlockDelta { kind, .. }
            | StreamEvent::BlockStop { kind, .. }
            | StreamEvent::MessageDelta { kind, .. }
            | StreamEvent::MessageStop { kind }
            | StreamEvent::Error { kind, .. } => kind,
        }
    }

    /// The SSE event: named after its type, the data serialized into it at once.
    pub fn to_event(&self) -> Event {
        let data = match self {
            StreamEvent::BlockDelta { delta, index, .. } => block_delta(*index, delta),
            // These types always serialize: strings, numbers and trees of them.
            _ => serde_json::to_string(self).unwrap_or_default(),
        };
        Event {
            event: Some(self.name().into()),
            data,
            ..Event::default()
        }
    }
}

/// The data of a `content_block_delta`, the hot event, by hand (see `json_out`).
fn block_delta(index: u64, delta: &Delta) -> String {
    let (field, text, kind) = delta.parts();
    let mut out = json_out::buffer(80, &[text]);
    out.push_str("{\"delta\":{\"");
    out.push_str(field);
    out.push_str("\":");
    json_out::string(&mut out, text);
    out.push_str(",\"type\":\"");
    out.push_str(kind);
    out.push_str("\"},\"index\":");
    json_out::number(&mut out, index);
    out.push_str(",\"type\":\"content_block_delta\"}");
    out
}

#[derive(Serialize)]
pub struct StopDelta<'a> {
    stop_reason: &'a str,
    stop_sequence: Option<&'static str>,
}

#[derive(Serialize)]
pub struct ErrorBody<'a> {
    message: &'a str,
    #[serde(rename = "type")]
    kind: &'a str,
}

/// A `content_block_delta`'s delta: `{"type": kind, field: text}`. Every field sorts
/// before `type`.
#[derive(Serialize)]
#[serde(untagged)]
pub enum Delta<'a> {
    Text {
        text: &'a str,
        #[serde(rename = "type")]
        kind: &'static str,
    },
    Thinking {
        thinking: &'a str,
        #[serde(rename = "type")]
        kind: &'static str,
    },
    Signature {
        signature: &'a str,
        #[serde(rename = "type")]
        kind: &'static str,
    },
    InputJson {
        partial_json: &'a str,
        #[serde(rename = "type")]
        kind: &'static str,
    },
}

impl<'a> Delta<'a> {
    /// (field, text, type).
    fn parts(&self) -> (&'static str, &'a str, &'static str) {
        match *self {
            Delta::Text { text, kind } => ("text", text, kind),
            Delta::Thinking { thinking, kind } => ("thinking", thinking, kind),
            Delta::Signature { signature, kind } => ("signature", signature, kind),
            Delta::InputJson { partial_json, kind } => ("partial_json", partial_json, kind),
        }
    }

    pub fn text(text: &'a str) -> Self {
        Delta::Text {
            text,
            kind: "text_delta",
        }
    }

    pub fn thinking(thinking: &'a str) -> Self {
        Delta::Thinking {
            thinking,
            kind: "thinking_delta",
        }
    }

    pub fn signature(signature: &'a str) -> Self {
        Delta::Signature {
            signature,
            kind: "signature_delta",
        }
    }

    pub fn input_json(partial_json: &'a str) -> Self {
        Delta::InputJson {
            partial_json,
            kind: "input_json_delta",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{MESSAGE_STOP, named};
    use super::*;

    use serde_json::json;

    #[test]
    fn events_are_the_bytes_of_the_trees() {
        let text = "a \"quoted\"\nline \u{1F600} \\ {\"k\":1}";
        for (delta, kind, field) in [
            (Delta::text(text), "text_delta", "text"),
            (Delta::thinking(text), "thinking_delta", "thinking"),
            (Delta::signature(text), "signature_delta", "signature"),
            (Delta::input_json(text), "input_json_delta", "partial_json"),
        ] {
            let tree = named(json!({"type": "content_block_delta", "index": 7,
                                    "delta": {"type": kind, field: text}}));
            let event = StreamEvent::block_delta(7, delta);
            assert_eq!(event.to_event(), tree);
            assert_eq!(
                event.to_event().data,
                serde_json::to_string(&event).unwrap()
            );
        }
        let input = json!({"b": [1], "a": "x"});
        let usage = Usage {
            cache_read_input_tokens: Some(3),
            ..Usage::estimate(5)
        };
        let cases = [
            (
                StreamEvent::message_start("msg_1", "m\"", 9),
                json!({"type": "message_start", "message": {"id": "msg_1", "type": "message",
                       "role": "assistant", "content": [], "model": "m\"", "stop_reason": null,
                       "stop_sequence": null, "usage": {"input_tokens": 9, "output_tokens": 0}}}),
            ),
            (
                StreamEvent::block_start(0, Block::text("")),
                json!({"type": "content_block_start", "index": 0,
                       "content_block": {"type": "text", "text": ""}}),
            ),
            (
                StreamEvent::block_start(1, Block::thinking("", "")),
                json!({"type": "content_block_start", "index": 1,
                       "content_block": {"type": "thinking", "thinking": "", "signature": ""}}),
            ),
            (
                StreamEvent::block_start(2, Block::redacted_thinking("enc")),
                json!({"type": "content_block_start", "index": 2,
                       "content_block": {"type": "redacted_thinking", "data": "enc"}}),
            ),
            (
                StreamEvent::block_start(3, Block::tool_use("t", "Bash", None)),
                json!({"type": "content_block_start", "index": 3,
                       "content_block": {"type": "tool_use", "id": "t", "name": "Bash", "input": {}}}),
            ),
            (
                StreamEvent::block_start(3, Block::tool_use("t", "Bash", Some(input.clone()))),
                json!({"type": "content_block_start", "index": 3,
                       "content_block": {"type": "tool_use", "id": "t", "name": "Bash", "input": input}}),
            ),
            (
                StreamEvent::block_stop(4),
                json!({"type": "content_block_stop", "index": 4}),
            ),
            (
                StreamEvent::message_delta("end_turn", &usage),
                json!({"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": null},
                       "usage": {"input_tokens": 5, "output_tokens": 0, "cache_read_input_tokens": 3}}),
            ),
            (StreamEvent::message_stop(), json!({"type": "message_stop"})),
            (
                StreamEvent::error("api_error", "boom"),
                json!({"type": "error", "error": {"type": "api_error", "message": "boom"}}),
            ),
        ];
        for (event, tree) in cases {
            assert_eq!(event.to_event(), named(tree));
        }
        let stop = MESSAGE_STOP;
        assert_eq!(
            StreamEvent::message_stop().to_event().to_wire().as_bytes(),
            stop
        );
    }
}
