//! The Responses events and answers Copilot sends, read borrowed and leniently for the
//! Responses -> Chat translation (`translate::chat_responses`): a field that is absent or
//! of an unexpected JSON type reads as absent, an unknown event `type` or item `type` is
//! carried as text for the translator to skip, as the `Value` lookups these replaced did.

use crate::protocol::chat_chunk::{Lenient, List, Str, U64};
use crate::protocol::lenient::{Obj, any_value, skip, text};
use serde::Deserialize;
use serde::de::{Deserializer, Visitor};
use std::borrow::Cow;

/// One upstream stream event: the fields of every kind the translator reads, flat.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct UpstreamEvent<'a> {
    #[serde(rename = "type", borrow)]
    pub kind: Str<'a>,
    pub output_index: U64,
    pub summary_index: U64,
    #[serde(borrow)]
    pub delta: Str<'a>,
    #[serde(borrow)]
    pub item_id: Str<'a>,
    /// `.done` events of argument / freeform input streams carry the whole text.
    #[serde(borrow)]
    pub arguments: Str<'a>,
    #[serde(borrow)]
    pub input: Str<'a>,
    #[serde(borrow)]
    pub item: Lenient<Item<'a>>,
    #[serde(borrow)]
    pub response: Lenient<Response<'a>>,
    /// An `error` event's own `message`, else its `error.message`.
    #[serde(borrow)]
    pub message: Slot<'a>,
    #[serde(borrow)]
    pub error: Lenient<ErrorBody<'a>>,
}

/// A `response` object: the stream's final event, or the whole non-streaming answer.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct Response<'a> {
    #[serde(borrow)]
    pub id: Str<'a>,
    pub created_at: U64,
    #[serde(borrow)]
    pub status: Slot<'a>,
    #[serde(borrow)]
    pub incomplete_details: Lenient<IncompleteDetails<'a>>,
    #[serde(borrow)]
    pub error: Lenient<ErrorBody<'a>>,
    #[serde(borrow)]
    pub output: List<Item<'a>>,
    /// Absent (`Obj::Not`, its default) or not an object reads as no usage.
    pub usage: Obj<Usage>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct IncompleteDetails<'a> {
    #[serde(borrow)]
    pub reason: Str<'a>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ErrorBody<'a> {
    #[serde(borrow)]
    pub message: Str<'a>,
}

/// An output item: a message, reasoning, or a (function or custom tool) call.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct Item<'a> {
    #[serde(rename = "type", borrow)]
    pub kind: Str<'a>,
    #[serde(borrow)]
    pub id: Str<'a>,
    #[serde(borrow)]
    pub call_id: Str<'a>,
    #[serde(borrow)]
    pub name: Str<'a>,
    #[serde(borrow)]
    pub arguments: Str<'a>,
    #[serde(borrow)]
    pub input: Str<'a>,
    #[serde(borrow)]
    pub encrypted_content: Str<'a>,
    /// A reasoning item's summary parts, or its raw reasoning (`content`) ...
    #[serde(borrow)]
    pub summary: List<Part<'a>>,
    /// ... and a message's `output_text` / `refusal` parts.
    #[serde(borrow)]
    pub content: List<Part<'a>>,
}

impl Item<'_> {
    /// A call item: by type, or (Copilot may obscure the type) any item with a `call_id`
    /// that is not a message or reasoning.
    pub fn is_call(&self) -> bool {
        match self.kind.get() {
            Some("function_call" | "custom_tool_call") => true,
            Some("message" | "reasoning") => false,
            _ => self.call_id.get().is_some(),
        }
    }

    pub fn is_custom(&self) -> bool {
        self.kind.get() == Some("custom_tool_call")
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct Part<'a> {
    #[serde(rename = "type", borrow)]
    pub kind: Str<'a>,
    #[serde(borrow)]
    pub text: Str<'a>,
    #[serde(borrow)]
    pub refusal: Str<'a>,
}

/// Responses token usage.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct Usage {
    pub input_tokens: U64,
    pub output_tokens: U64,
    pub total_tokens: U64,
    pub input_tokens_details: Lenient<InputDetails>,
    pub output_tokens_details: Lenient<OutputDetails>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct InputDetails {
    pub cached_tokens: U64,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct OutputDetails {
    pub reasoning_tokens: U64,
}

/// A field whose presence matters apart from its type: absent, a string, or any other
/// value (`null` included), as `Value::get(..)` then `as_str` told them apart.
#[derive(Default, Debug, Clone, PartialEq, Eq)]
pub enum Slot<'a> {
    #[default]
    Absent,
    Text(Cow<'a, str>),
    Other,
}

impl Slot<'_> {
    pub fn get(&self) -> Option<&str> {
        match self {
            Slot::Text(s) => Some(s),
            _ => None,
        }
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Slot<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Slot<'a>;
            any_value!();
            text!(|s| Slot::Text(s));
            skip!(Slot::Other; bool, i64, u64, f64, unit, seq, map);
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

impl<'a> UpstreamEvent<'a> {
    /// An event already parsed into a tree, read the same way; anything that is not an
    /// object reads as an empty event.
    pub fn from_value(v: &'a serde_json::Value) -> UpstreamEvent<'a> {
        UpstreamEvent::deserialize(v).unwrap_or_default()
    }
}

impl<'a> Response<'a> {
    /// A non-streaming answer already parsed into a tree; anything that is not an object
    /// reads as an empty response.
    pub fn from_value(v: &'a serde_json::Value) -> Response<'a> {
        Response::deserialize(v).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn events_read_borrowed_and_odd_fields_as_absent() {
        let text = r#"{"type":"response.output_item.added","output_index":2,"item":{"type":"function_call","id":"fc","call_id":"c","name":"f","arguments":""}}"#;
        let e: UpstreamEvent = serde_json::from_str(text).unwrap();
        assert!(matches!(
            e.kind.0,
            Some(Cow::Borrowed("response.output_item.added"))
        ));
        assert_eq!(e.output_index.0, Some(2));
        let item = &e.item.0;
        assert!(item.is_call() && !item.is_custom());
        assert_eq!(
            (item.call_id.get(), item.name.get()),
            (Some("c"), Some("f"))
        );
        let odd = json!({"type": 3, "output_index": -1, "item": "x", "message": null,
                         "response": {"status": 5, "usage": [1], "output": [7, {"type": "message"}]}});
        let e = UpstreamEvent::from_value(&odd);
        assert_eq!((e.kind.get(), e.output_index.0), (None, None));
        assert!(!e.item.0.is_call());
        assert_eq!(e.message, Slot::Other);
        let r = &e.response.0;
        assert_eq!(r.status, Slot::Other);
        assert!(r.usage.get().is_none());
        assert_eq!(r.output.0.len(), 2);
        assert!(UpstreamEvent::from_value(&json!([1])).kind.get().is_none());
        // A call whose type Copilot obscured still is one by its `call_id`.
        let obscured = json!({"item": {"type": "x", "call_id": "c"}});
        let e = UpstreamEvent::from_value(&obscured);
        assert!(e.item.0.is_call());
        assert_eq!(e.message, Slot::Absent);
    }
}
