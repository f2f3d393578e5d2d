//! A Responses API request as clients send it (Codex, the OpenAI SDKs): `input` as a
//! string or items, the items by `type` (the type-less "easy" `{role, content}` form is a
//! message), content parts, tools, `tool_choice`, `reasoning`, `text.format` and the
//! scalars the Chat pivot has a twin for. The same `Item` reads the stored history of a
//! `previous_response_id` chain.
//!
//! Lenient where Codex is: a field of the wrong shape that the proxy has always ignored
//! reads as absent, and an item, part or tool of a kind the proxy does not know is kept
//! (as `Unknown`) so the translator decides what to do with it. Shapes the translator
//! rejects (an `input` that is a number, user content that is neither text nor parts, a
//! non-numeric `temperature`) are kept as `Invalid` rather than failing here, so that the
//! 400 names the place (`input.3.content`) in the words it always had. Every composite is
//! read through one `serde_json::Value` (`#[serde(from = "Value")]`): the request is
//! already a tree when it gets here, and matching on the tree's variants is what lets an
//! odd shape be told apart from a missing one.

use serde::de::{Deserialize, DeserializeOwned, Deserializer};
use serde_json::{Map, Number, Value};

mod tools;
pub use tools::{FreeformFormat, Tool, ToolChoice, Tools};

/// The fields of a Responses request the Chat path reads; the rest (`store`, `include`,
/// `prompt_cache_key`, `metadata`, ...) have no Chat twin and are not kept.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct ResponsesRequest {
    pub input: Input,
    #[serde(deserialize_with = "lenient")]
    pub instructions: Option<String>,
    pub tools: Option<Tools>,
    pub tool_choice: Option<ToolChoice>,
    #[serde(deserialize_with = "lenient")]
    pub parallel_tool_calls: Option<bool>,
    pub max_output_tokens: Option<Checked<u64>>,
    pub temperature: Option<Checked<Number>>,
    pub top_p: Option<Checked<Number>>,
    #[serde(deserialize_with = "lenient")]
    pub reasoning: Option<ReasoningOptions>,
    #[serde(deserialize_with = "lenient")]
    pub text: Option<TextOptions>,
    #[serde(deserialize_with = "lenient")]
    pub stream: Option<bool>,
}

impl ResponsesRequest {
    /// Reads a request body; only a body that is not an object is refused here.
    pub fn from_value(body: &Value) -> Result<ResponsesRequest, String> {
        if !body.is_object() {
            return Err("the request body must be a JSON object".into());
        }
        ResponsesRequest::deserialize(body).map_err(|e| e.to_string())
    }
}

/// A value that had to have one shape: `Invalid` when it had another.
#[derive(Debug, Clone, PartialEq)]
pub enum Checked<T> {
    Valid(T),
    Invalid,
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for Checked<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(d)?;
        Ok(T::deserialize(value).map_or(Checked::Invalid, Checked::Valid))
    }
}

/// A field read only when it has the expected shape; any other value reads as absent.
fn lenient<'de, D: Deserializer<'de>, T: DeserializeOwned>(d: D) -> Result<Option<T>, D::Error> {
    let value = Value::deserialize(d)?;
    Ok(T::deserialize(value).ok())
}

/// `input`: absent (the `previous_response_id` history may hold everything), one user
/// message as a string, or items.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(from = "Value")]
pub enum Input {
    #[default]
    Absent,
    Text(String),
    Items(Vec<Item>),
    Invalid,
}

impl From<Value> for Input {
    fn from(v: Value) -> Input {
        match v {
            Value::Null => Input::Absent,
            Value::String(s) => Input::Text(s),
            Value::Array(items) => Input::Items(items.into_iter().map(Item::from).collect()),
            _ => Input::Invalid,
        }
    }
}

/// A message's role; `Other` is refused by the translator, which names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    User,
    Assistant,
    System,
    Developer,
    Other(String),
}

impl From<String> for Role {
    fn from(s: String) -> Role {
        match s.as_str() {
            "user" => Role::User,
            "assistant" => Role::Assistant,
            "system" => Role::System,
            "developer" => Role::Developer,
            _ => Role::Other(s),
        }
    }
}

/// One input item.
#[derive(Debug, serde::Deserialize)]
#[serde(from = "Value")]
pub enum Item {
    /// `type: "message"`, or no `type` at all (the "easy" form).
    Message {
        role: Option<Role>,
        content: Option<Content>,
    },
    FunctionCall(Call),
    /// A freeform tool's call (Codex's `apply_patch`): `input` is the raw text.
    CustomToolCall(Call),
    FunctionCallOutput(CallOutput),
    CustomToolCallOutput(CallOutput),
    Reasoning {
        id: Option<String>,
        summary: Option<Content>,
        content: Option<Content>,
        encrypted_content: Option<String>,
    },
    /// A reference to an item the server stored, which this proxy never does.
    Reference {
        id: Option<String>,
    },
    /// `web_search_call`, `compaction`, ...: kept by name.
    Unknown {
        kind: String,
    },
    /// A string, number or array in place of an item.
    NotObject,
}

/// A `function_call` or `custom_tool_call`. `arguments` is the call's JSON text as sent
/// (`{}` when absent, a non-string value written out); `input` is a custom call's text.
#[derive(Debug)]
pub struct Call {
    pub call_id: Option<String>,
    pub id: Option<String>,
    pub name: Option<String>,
    pub arguments: String,
    pub input: Option<String>,
}

/// A `function_call_output` or `custom_tool_call_output`.
#[derive(Debug)]
pub struct CallOutput {
    pub call_id: Option<String>,
    pub output: ToolOutput,
}

/// What a tool returned.
#[derive(Debug)]
pub enum ToolOutput {
    Absent,
    Text(String),
    Parts(Vec<Part>),
    /// An older Codex shape, `{content, success}`; `raw` is the whole object.
    Legacy {
        content: Option<String>,
        raw: Map<String, Value>,
    },
    /// A number or a boolean.
    Other(Value),
}

/// The fields any item may carry, read once; `Item::from` sorts them by `type`.
#[derive(serde::Deserialize)]
struct ItemFields {
    #[serde(rename = "type", default, deserialize_with = "lenient")]
    kind: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    role: Option<String>,
    #[serde(default)]
    content: Option<Content>,
    #[serde(default, deserialize_with = "lenient")]
    id: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    call_id: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    name: Option<String>,
    #[serde(default)]
    arguments: Value,
    #[serde(default, deserialize_with = "lenient")]
    input: Option<String>,
    #[serde(default)]
    output: Value,
    #[serde(default)]
    summary: Option<Content>,
    #[serde(default, deserialize_with = "lenient")]
    encrypted_content: Option<String>,
}

impl From<Value> for Item {
    fn from(v: Value) -> Item {
        if !v.is_object() {
            return Item::NotObject;
        }
        // Every field is lenient, so an object always reads.
        let Ok(f) = ItemFields::deserialize(v) else {
            return Item::NotObject;
        };
        let call = |f: ItemFields| Call {
            call_id: f.call_id,
            id: f.id,
            name: f.name,
            arguments: match f.arguments {
                Value::String(s) => s,
                Value::Null => "{}".into(),
                other => other.to_string(),
            },
            input: f.input,
        };
        let output = |f: ItemFields| CallOutput {
            call_id: f.call_id,
            output: ToolOutput::from(f.output),
        };
        match f.kind.as_deref().unwrap_or("message") {
            "message" => Item::Message {
                role: f.role.map(Role::from),
                content: f.content,
            },
            "function_call" => Item::FunctionCall(call(f)),
            "custom_tool_call" => Item::CustomToolCall(call(f)),
            "function_call_output" => Item::FunctionCallOutput(output(f)),
            "custom_tool_call_output" => Item::CustomToolCallOutput(output(f)),
            "reasoning" => Item::Reasoning {
                id: f.id,
                summary: f.summary,
                content: f.content,
                encrypted_content: f.encrypted_content,
            },
            "item_reference" => Item::Reference { id: f.id },
            other => Item::Unknown {
                kind: other.to_string(),
            },
        }
    }
}

impl Item {
    /// A genuine user message (the turn is the user's, `X-Initiator: user`).
    pub fn is_user_message(&self) -> bool {
        matches!(
            self,
            Item::Message {
                role: Some(Role::User),
                ..
            }
        )
    }
}

impl From<Value> for ToolOutput {
    fn from(v: Value) -> ToolOutput {
        match v {
            Value::Null => ToolOutput::Absent,
            Value::String(s) => ToolOutput::Text(s),
            Value::Array(parts) => ToolOutput::Parts(parts.into_iter().map(Part::from).collect()),
            Value::Object(raw) => ToolOutput::Legacy {
                content: raw
                    .get("content")
                    .and_then(Value::as_str)
                    .map(str::to_string),
                raw,
            },
            other => ToolOutput::Other(other),
        }
    }
}

/// Message content, a reasoning summary: text, parts, or (`Invalid`) anything else.
#[derive(Debug, serde::Deserialize)]
#[serde(from = "Value")]
pub enum Content {
    Text(String),
    Parts(Vec<Part>),
    Invalid,
}

impl From<Value> for Content {
    fn from(v: Value) -> Content {
        match v {
            Value::String(s) => Content::Text(s),
            Value::Array(parts) => Content::Parts(parts.into_iter().map(Part::from).collect()),
            _ => Content::Invalid,
        }
    }
}

/// One content part.
#[derive(Debug, Clone, PartialEq)]
pub enum Part {
    /// `input_image`: `url` is absent when the client sent a `file_id` instead.
    InputImage {
        url: Option<String>,
        detail: Option<String>,
    },
    /// `input_text`, `output_text`, `summary_text`, `reasoning_text`, `refusal`, or any
    /// other part carrying `text` (or `refusal`); a bare string in a parts list too.
    Text(String),
    /// `input_file`, which the Chat path cannot take.
    InputFile,
    /// A part of another kind without text (`input_audio`, ...), kept by name.
    Unknown { kind: String },
}

#[derive(serde::Deserialize)]
struct PartFields {
    #[serde(rename = "type", default, deserialize_with = "lenient")]
    kind: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    text: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    refusal: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    image_url: Option<ImageUrl>,
    #[serde(default, deserialize_with = "lenient")]
    detail: Option<String>,
}

/// `image_url` as a string or as `{url}`.
#[derive(serde::Deserialize)]
#[serde(untagged)]
enum ImageUrl {
    Url(String),
    Object { url: String },
}

impl From<Value> for Part {
    fn from(v: Value) -> Part {
        let fields = match v {
            Value::String(s) => return Part::Text(s),
            v @ Value::Object(_) => PartFields::deserialize(v).ok(),
            _ => None,
        };
        let Some(f) = fields else {
            return Part::Unknown { kind: "?".into() };
        };
        if f.kind.as_deref() == Some("input_image") {
            let url = f.image_url.map(|u| match u {
                ImageUrl::Url(url) | ImageUrl::Object { url } => url,
            });
            return Part::InputImage {
                url,
                detail: f.detail,
            };
        }
        match (f.text.or(f.refusal), f.kind) {
            (Some(text), _) => Part::Text(text),
            (None, Some(kind)) if kind == "input_file" => Part::InputFile,
            (None, kind) => Part::Unknown {
                kind: kind.unwrap_or_else(|| "?".into()),
            },
        }
    }
}

/// `reasoning`: the effort (`none` .. `xhigh`) and the summary setting.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct ReasoningOptions {
    #[serde(deserialize_with = "lenient")]
    pub effort: Option<String>,
    #[serde(deserialize_with = "lenient")]
    pub summary: Option<String>,
}

/// `text`: the output format (and `verbosity`, which Chat has no twin for).
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct TextOptions {
    #[serde(deserialize_with = "lenient")]
    pub format: Option<TextFormat>,
}

/// `text.format`: `json_schema` (its fields as sent, `null` ones absent), `json_object`
/// or `text`.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct TextFormat {
    #[serde(rename = "type", deserialize_with = "lenient")]
    pub kind: Option<String>,
    #[serde(deserialize_with = "lenient")]
    pub name: Option<String>,
    pub schema: Option<Value>,
    pub strict: Option<Value>,
    pub description: Option<Value>,
}

#[cfg(test)]
mod tests;
