//! The Responses request the proxy writes for a Chat client (Chat -> Responses, for the
//! models Copilot serves only on `/responses`), typed: its conversation borrows the
//! client's text. Keys serialize in sorted order, the bytes of the `Value` tree this
//! type replaced; settings the proxy passes on as they came stay trees.

use serde::Serialize;
use serde_json::{Map, Value};
use std::borrow::Cow;

#[derive(Serialize)]
pub struct Request<'a> {
    /// `reasoning.encrypted_content`, always: reasoning must round-trip without `store`.
    pub include: [&'static str; 1],
    pub input: Vec<InputItem<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instructions: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_output_tokens: Option<u64>,
    pub model: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parallel_tool_calls: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prompt_cache_key: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reasoning: Option<Map<String, Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temperature: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<Map<String, Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_p: Option<Value>,
}

impl<'a> Request<'a> {
    /// A request for `model` with no settings yet.
    pub fn new(model: &'a str, input: Vec<InputItem<'a>>) -> Self {
        Request {
            include: ["reasoning.encrypted_content"],
            input,
            instructions: None,
            max_output_tokens: None,
            model,
            parallel_tool_calls: None,
            prompt_cache_key: None,
            reasoning: None,
            stream: None,
            temperature: None,
            text: None,
            tool_choice: None,
            tools: None,
            top_p: None,
        }
    }
}

/// An item of the request's `input`.
#[derive(Serialize)]
#[serde(untagged)]
pub enum InputItem<'a> {
    Message {
        content: Content<'a>,
        role: &'static str,
        #[serde(rename = "type")]
        kind: &'static str,
    },
    Reasoning {
        encrypted_content: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        id: Option<&'a str>,
        summary: Vec<Summary<'a>>,
        #[serde(rename = "type")]
        kind: &'static str,
    },
    FunctionCall {
        arguments: &'a str,
        call_id: &'a str,
        name: &'a str,
        #[serde(rename = "type")]
        kind: &'static str,
    },
    CustomToolCall {
        call_id: &'a str,
        input: &'a str,
        name: &'a str,
        #[serde(rename = "type")]
        kind: &'static str,
    },
    /// `function_call_output` or `custom_tool_call_output`.
    CallOutput {
        call_id: &'a str,
        output: Content<'a>,
        #[serde(rename = "type")]
        kind: &'static str,
    },
}

impl<'a> InputItem<'a> {
    /// A message from `role` (`user`, `assistant`, `developer`).
    pub fn message(role: &'static str, content: Content<'a>) -> Self {
        InputItem::Message {
            content,
            role,
            kind: "message",
        }
    }

    pub fn reasoning(encrypted: &'a str, id: Option<&'a str>, summary: Option<&'a str>) -> Self {
        InputItem::Reasoning {
            encrypted_content: encrypted,
            id,
            summary: summary.map(Summary::new).into_iter().collect(),
            kind: "reasoning",
        }
    }

    pub fn function_call(call_id: &'a str, name: &'a str, arguments: &'a str) -> Self {
        InputItem::FunctionCall {
            arguments,
            call_id,
            name,
            kind: "function_call",
        }
    }

    pub fn custom_tool_call(call_id: &'a str, name: &'a str, input: &'a str) -> Self {
        InputItem::CustomToolCall {
            call_id,
            input,
            name,
            kind: "custom_tool_call",
        }
    }

    /// The output of a call; `custom` for a freeform tool's.
    pub fn call_output(call_id: &'a str, output: Content<'a>, custom: bool) -> Self {
        InputItem::CallOutput {
            call_id,
            output,
            kind: if custom {
                "custom_tool_call_output"
            } else {
                "function_call_output"
            },
        }
    }
}

/// A message's content (or a call's output): text, or parts.
#[derive(Serialize)]
#[serde(untagged)]
pub enum Content<'a> {
    Text(Cow<'a, str>),
    Parts(Vec<Part<'a>>),
}

#[derive(Serialize)]
#[serde(untagged)]
pub enum Part<'a> {
    /// `input_text` (a client's text) or `output_text` (an assistant's, replayed).
    Text {
        text: Cow<'a, str>,
        #[serde(rename = "type")]
        kind: &'static str,
    },
    Image {
        detail: &'a str,
        image_url: &'a str,
        #[serde(rename = "type")]
        kind: &'static str,
    },
}

impl<'a> Part<'a> {
    pub fn input_text(text: impl Into<Cow<'a, str>>) -> Self {
        Part::Text {
            text: text.into(),
            kind: "input_text",
        }
    }

    pub fn output_text(text: impl Into<Cow<'a, str>>) -> Self {
        Part::Text {
            text: text.into(),
            kind: "output_text",
        }
    }

    pub fn input_image(image_url: &'a str, detail: &'a str) -> Self {
        Part::Image {
            detail,
            image_url,
            kind: "input_image",
        }
    }
}

/// A reasoning item's summary part.
#[derive(Serialize)]
pub struct Summary<'a> {
    text: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
}

impl<'a> Summary<'a> {
    fn new(text: &'a str) -> Self {
        Summary {
            text,
            kind: "summary_text",
        }
    }
}
