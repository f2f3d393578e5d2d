//! The Responses stream events the translators write, as typed values serialized straight
//! into each event's data.

use super::super::json_out;
use super::{OutputItem, Response};
use crate::sse::Event;
use serde::Serialize;

/// A Responses stream event the proxy writes, typed. Each serializes straight into the
/// event's data with its keys in sorted order (the bytes of the `Value` trees these types
/// replaced), its SSE name equal to its `type`, and a `sequence_number` the stream counts.
#[derive(Serialize)]
#[serde(untagged)]
pub enum StreamEvent<'a> {
    /// `response.created`, `.in_progress`, `.completed`, `.incomplete`, `.failed`.
    Response {
        response: &'a Response<'a>,
        sequence_number: u64,
        #[serde(rename = "type")]
        kind: &'static str,
    },
    /// `response.output_item.added`, `.done`.
    Item {
        item: &'a OutputItem,
        output_index: usize,
        sequence_number: u64,
        #[serde(rename = "type")]
        kind: &'static str,
    },
    /// `response.reasoning_summary_part.added`, `.done`.
    SummaryPart {
        item_id: &'a str,
        output_index: usize,
        part: SummaryText<'a>,
        sequence_number: u64,
        summary_index: u64,
        #[serde(rename = "type")]
        kind: &'static str,
    },
    /// `response.reasoning_summary_text.delta`.
    SummaryDelta {
        delta: &'a str,
        item_id: &'a str,
        output_index: usize,
        sequence_number: u64,
        summary_index: u64,
        #[serde(rename = "type")]
        kind: &'static str,
    },
    /// `response.reasoning_summary_text.done`.
    SummaryDone {
        item_id: &'a str,
        output_index: usize,
        sequence_number: u64,
        summary_index: u64,
        text: &'a str,
        #[serde(rename = "type")]
        kind: &'static str,
    },
    /// `response.content_part.added`, `.done`.
    ContentPart {
        content_index: u64,
        item_id: &'a str,
        output_index: usize,
        part: OutputText<'a>,
        sequence_number: u64,
        #[serde(rename = "type")]
        kind: &'static str,
    },
    /// `response.output_text.delta`, the hot event of a translated stream.
    TextDelta {
        content_index: u64,
        delta: &'a str,
        item_id: &'a str,
        logprobs: [(); 0],
        output_index: usize,
        sequence_number: u64,
        #[serde(rename = "type")]
        kind: &'static str,
    },
    /// `response.output_text.done`.
    TextDone {
        content_index: u64,
        item_id: &'a str,
        logprobs: [(); 0],
        output_index: usize,
        sequence_number: u64,
        text: &'a str,
        #[serde(rename = "type")]
        kind: &'static str,
    },
    /// `response.function_call_arguments.delta`, `response.custom_tool_call_input.delta`.
    CallDelta {
        delta: &'a str,
        item_id: &'a str,
        output_index: usize,
        sequence_number: u64,
        #[serde(rename = "type")]
        kind: &'static str,
    },
    /// `response.function_call_arguments.done`.
    ArgumentsDone {
        arguments: &'a str,
        item_id: &'a str,
        name: &'a str,
        output_index: usize,
        sequence_number: u64,
        #[serde(rename = "type")]
        kind: &'static str,
    },
    /// `response.custom_tool_call_input.done`.
    InputDone {
        input: &'a str,
        item_id: &'a str,
        output_index: usize,
        sequence_number: u64,
        #[serde(rename = "type")]
        kind: &'static str,
    },
}

/// A reasoning summary part: `{"type": "summary_text", "text": ...}`.
#[derive(Serialize)]
pub struct SummaryText<'a> {
    pub text: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
}

impl<'a> SummaryText<'a> {
    pub fn new(text: &'a str) -> Self {
        SummaryText {
            text,
            kind: "summary_text",
        }
    }
}

/// A message's text part: `{"type": "output_text", "text": ..., "annotations": []}`.
#[derive(Serialize)]
pub struct OutputText<'a> {
    annotations: [(); 0],
    pub text: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
}

impl<'a> OutputText<'a> {
    pub fn new(text: &'a str) -> Self {
        OutputText {
            annotations: [],
            text,
            kind: "output_text",
        }
    }
}

/// Where an event belongs: the item's id and its `output_index`.
#[derive(Clone, Copy)]
pub struct At<'a> {
    pub item_id: &'a str,
    pub output_index: usize,
}

impl<'a> StreamEvent<'a> {
    /// `kind` is one of `response.created`, `.in_progress`, `.completed`, `.incomplete`,
    /// `.failed`.
    pub fn response(kind: &'static str, response: &'a Response<'a>, seq: u64) -> Self {
        StreamEvent::Response {
            response,
            sequence_number: seq,
            kind,
        }
    }

    pub fn item_added(output_index: usize, item: &'a OutputItem, seq: u64) -> Self {
        StreamEvent::Item {
            item,
            output_index,
            sequence_number: seq,
            kind: "response.output_item.added",
        }
    }

    pub fn item_done(output_index: usize, item: &'a OutputItem, seq: u64) -> Self {
        StreamEvent::Item {
            item,
            output_index,
            sequence_number: seq,
            kind: "response.output_item.done",
        }
    }

    /// `response.reasoning_summary_part.added` (`done` false) or `.done`.
    pub fn summary_part(at: At<'a>, text: &'a str, done: bool, seq: u64) -> Self {
        StreamEvent::SummaryPart {
            item_id: at.item_id,
            output_index: at.output_index,
            part: SummaryText::new(text),
            sequence_number: seq,
            summary_index: 0,
            kind: if done {
                "response.reasoning_summary_part.done"
            } else {
                "response.reasoning_summary_part.added"
            },
        }
    }

    pub fn summary_delta(at: At<'a>, delta: &'a str, seq: u64) -> Self {
        StreamEvent::SummaryDelta {
            delta,
            item_id: at.item_id,
            output_index: at.output_index,
            sequence_number: seq,
            summary_index: 0,
            kind: "response.reasoning_summary_text.delta",
        }
    }

    pub fn summary_done(at: At<'a>, text: &'a str, seq: u64) -> Self {
        StreamEvent::SummaryDone {
            item_id: at.item_id,
            output_index: at.output_index,
            sequence_number: seq,
            summary_index: 0,
            text,
            kind: "response.reasoning_summary_text.done",
        }
    }

    /// `response.content_part.added` (`done` false) or `.done`.
    pub fn content_part(at: At<'a>, text: &'a str, done: bool, seq: u64) -> Self {
        StreamEvent::ContentPart {
            content_index: 0,
            item_id: at.item_id,
            output_index: at.output_index,
            part: OutputText::new(text),
            sequence_number: seq,
            kind: if done {
                "response.content_part.done"
            } else {
                "response.content_part.added"
            },
        }
    }

    pub fn text_delta(at: At<'a>, delta: &'a str, seq: u64) -> Self {
        StreamEvent::TextDelta {
            content_index: 0,
            delta,
            item_id: at.item_id,
            logprobs: [],
            output_index: at.output_index,
            sequence_number: seq,
            kind: "response.output_text.delta",
        }
    }

    pub fn text_done(at: At<'a>, text: &'a str, seq: u64) -> Self {
        StreamEvent::TextDone {
            content_index: 0,
            item_id: at.item_id,
            logprobs: [],
            output_index: at.output_index,
            sequence_number: seq,
            text,
            kind: "response.output_text.done",
        }
    }

    /// An argument fragment of a function call, or decoded text of a freeform (`custom`)
    /// call's input.
    pub fn call_delta(at: At<'a>, delta: &'a str, custom: bool, seq: u64) -> Self {
        StreamEvent::CallDelta {
            delta,
            item_id: at.item_id,
            output_index: at.output_index,
            sequence_number: seq,
            kind: if custom {
                "response.custom_tool_call_input.delta"
            } else {
                "response.function_call_arguments.delta"
            },
        }
    }

    pub fn arguments_done(at: At<'a>, name: &'a str, arguments: &'a str, seq: u64) -> Self {
        StreamEvent::ArgumentsDone {
            arguments,
            item_id: at.item_id,
            name,
            output_index: at.output_index,
            sequence_number: seq,
            kind: "response.function_call_arguments.done",
        }
    }

    pub fn input_done(at: At<'a>, input: &'a str, seq: u64) -> Self {
        StreamEvent::InputDone {
            input,
            item_id: at.item_id,
            output_index: at.output_index,
            sequence_number: seq,
            kind: "response.custom_tool_call_input.done",
        }
    }

    /// The event's `type`, its SSE name.
    pub fn name(&self) -> &'static str {
        match self {
            StreamEvent::Response { kind, .. }
            | StreamEvent::Item { kind, .. }
            | StreamEvent::SummaryPart { kind, .. }
            | StreamEvent::SummaryDelta { kind, .. }
            | StreamEvent::SummaryDone { kind, .. }
            | StreamEvent::ContentPart { kind, .. }
            | StreamEvent::TextDelta { kind, .. }
            | StreamEvent::TextDone { kind, .. }
            | StreamEvent::CallDelta { kind, .. }
            | StreamEvent::ArgumentsDone { kind, .. }
            | StreamEvent::InputDone { kind, .. } => kind,
        }
    }

    /// The SSE event: named after its type, the data serialized into it at once.
    pub fn to_event(&self) -> Event {
        Event {
            event: Some(self.name().into()),
            data: self.data(),
            ..Event::default()
        }
    }

    /// The event's JSON. The deltas, sent once per upstream chunk, are written by hand
    /// (see `json_out`); the rest through serde.
    fn data(&self) -> String {
        let mut out;
        let kind = match *self {
            StreamEvent::TextDelta {
                content_index,
                delta,
                item_id,
                output_index,
                sequence_number,
                kind,
                ..
            } => {
                out = json_out::buffer(160, &[delta, item_id]);
                out.push_str("{\"content_index\":");
                json_out::number(&mut out, content_index);
                out.push_str(",\"delta\":");
                json_out::string(&mut out, delta);
                out.push_str(",\"item_id\":");
                json_out::string(&mut out, item_id);
                out.push_str(",\"logprobs\":[],\"output_index\":");
                json_out::number(&mut out, output_index as u64);
                out.push_str(",\"sequence_number\":");
                json_out::number(&mut out, sequence_number);
                kind
            }
            StreamEvent::SummaryDelta {
                delta,
                item_id,
                output_index,
                sequence_number,
                summary_index,
                kind,
            } => {
                out = json_out::buffer(160, &[delta, item_id]);
                call_delta_head(&mut out, delta, item_id, output_index, sequence_number);
                out.push_str(",\"summary_index\":");
                json_out::number(&mut out, summary_index);
                kind
            }
            StreamEvent::CallDelta {
                delta,
                item_id,
                output_index,
                sequence_number,
                kind,
            } => {
                out = json_out::buffer(160, &[delta, item_id]);
                call_delta_head(&mut out, delta, item_id, output_index, sequence_number);
                kind
            }
            // These types always serialize: strings, numbers and trees of them.
            _ => return serde_json::to_string(self).unwrap_or_default(),
        };
        out.push_str(",\"type\":\"");
        out.push_str(kind);
        out.push_str("\"}");
        out
    }
}

/// The keys a delta event shares, up to its `sequence_number`.
fn call_delta_head(out: &mut String, delta: &str, item_id: &str, index: usize, seq: u64) {
    out.push_str("{\"delta\":");
    json_out::string(out, delta);
    out.push_str(",\"item_id\":");
    json_out::string(out, item_id);
    out.push_str(",\"output_index\":");
    json_out::number(out, index as u64);
    out.push_str(",\"sequence_number\":");
    json_out::number(out, seq);
}
