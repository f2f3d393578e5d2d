//! A Chat Completions request as Copilot receives it from the translators (Anthropic
//! Messages and Responses both pivot through it): the request, its messages, their content
//! parts, tool calls and tool definitions. Every field rule of the pivot lives here once:
//! which fields are left out when empty (so the body Copilot gets carries exactly the
//! fields it did when the translators built JSON trees), and that `reasoning_content` is
//! read as Copilot's `reasoning_text`. Fields the proxy does not model pass through in
//! `extra`.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Number, Value};

/// The request body sent to Copilot's `/chat/completions` (or pivoted to `/responses`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChatRequest {
    pub model: String,
    pub messages: Vec<Message>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u64>,
    /// Kept as the client's number (`1` stays `1`, never `1.0`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<Number>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<Number>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_options: Option<StreamOptions>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Absent rather than empty: Copilot rejects `tools: []` on some models.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<Tool>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<ToolChoice>,
    /// Copilot's thinking budget for Claude models on Chat (tokens).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thinking_budget: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning_effort: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_format: Option<ResponseFormat>,
    /// Fields sent as the client gave them.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct StreamOptions {
    pub include_usage: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    System,
    Developer,
    User,
    Assistant,
    Tool,
}

/// One message of the conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    pub role: Role,
    /// Absent (`None`), `null`, a string or parts: an assistant turn of only tool calls
    /// carries `content: null`, which Copilot expects rather than a missing field.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub content: Option<Content>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<Vec<ToolCall>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Copilot's reasoning summary of an assistant turn; other OpenAI-style servers call it
    /// `reasoning_content`.
    #[serde(
        default,
        alias = "reasoning_content",
        skip_serializing_if = "Option::is_none"
    )]
    pub reasoning_text: Option<String>,
    /// The signed or encrypted reasoning Copilot needs back to continue a thinking turn.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning_opaque: Option<String>,
    /// Fields passed through as they came.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Message {
    /// A message of `role` with `content` and nothing else.
    pub fn new(role: Role, content: Content) -> Message {
        Message {
            role,
            content: Some(content),
            tool_calls: None,
            tool_call_id: None,
            name: None,
            reasoning_text: None,
            reasoning_opaque: None,
            extra: Map::new(),
        }
    }

    pub fn text(role: Role, text: impl Into<String>) -> Message {
        Message::new(role, Content::Text(text.into()))
    }

    /// A tool result: Chat wants it right after the assistant turn that called it.
    pub fn tool_result(id: impl Into<String>, text: impl Into<String>) -> Message {
        Message {
            tool_call_id: Some(id.into()),
            ..Message::text(Role::Tool, text)
        }
    }

    /// The content when it is a plain string.
    pub fn content_text(&self) -> Option<&str> {
        self.content.as_ref().and_then(Content::as_text)
    }

    /// The ids of the message's tool calls, in order.
    pub fn call_ids(&self) -> impl Iterator<Item = &str> {
        self.tool_calls.iter().flatten().map(|c| c.id.as_str())
    }
}

/// A message's content: `null`, a string, or a list of parts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Content {
    Null,
    Text(String),
    Parts(Vec<Part>),
}

impl Content {
    /// Content with nothing in it (`null`, `""` or no parts).
    pub fn is_empty(&self) -> bool {
        match self {
            Content::Null => true,
            Content::Text(s) => s.is_empty(),
            Content::Parts(p) => p.is_empty(),
        }
    }

    pub fn as_text(&self) -> Option<&str> {
        match self {
            Content::Text(s) => Some(s),
            _ => None,
        }
    }
}

/// One content part. Part kinds the proxy does not build are kept as they came.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Part {
    Text {
        text: String,
    },
    ImageUrl {
        image_url: ImageUrl,
    },
    #[serde(untagged)]
    Other(Value),
}

impl Part {
    pub fn text(text: impl Into<String>) -> Part {
        Part::Text { text: text.into() }
    }

    pub fn image(url: impl Into<String>) -> Part {
        Part::ImageUrl {
            image_url: ImageUrl {
                url: url.into(),
                detail: None,
            },
        }
    }

    pub fn is_image(&self) -> bool {
        matches!(self, Part::ImageUrl { .. })
    }

    pub fn as_text(&self) -> Option<&str> {
        match self {
            Part::Text { text } => Some(text),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageUrl {
    pub url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// A call the assistant made; `arguments` is the JSON text of its input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolCall {
    pub id: String,
    #[serde(rename = "type", default = "function")]
    pub kind: String,
    pub function: FunctionCall,
}

impl ToolCall {
    pub fn function(
        id: impl Into<String>,
        name: impl Into<String>,
        arguments: impl Into<String>,
    ) -> ToolCall {
        ToolCall {
            id: id.into(),
            kind: function(),
            function: FunctionCall {
                name: name.into(),
                arguments: arguments.into(),
            },
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunctionCall {
    pub name: String,
    pub arguments: String,
}

/// A tool definition: always a function on Chat.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tool {
    #[serde(rename = "type", default = "function")]
    pub kind: String,
    pub function: Function,
}

impl Tool {
    pub fn function(function: Function) -> Tool {
        Tool {
            kind: self::function(),
            function,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Function {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The JSON schema of the input, as the client wrote it.
    pub parameters: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strict: Option<bool>,
}

/// `"auto"`, `"required"`, `"none"`, or one named function.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ToolChoice {
    Mode(String),
    Function {
        #[serde(rename = "type")]
        kind: String,
        function: FunctionName,
    },
}

impl ToolChoice {
    pub fn function(name: impl Into<String>) -> ToolChoice {
        ToolChoice::Function {
            kind: function(),
            function: FunctionName { name: name.into() },
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunctionName {
    pub name: String,
}

/// `response_format`: a JSON schema (as `{name, schema, strict?}`), any JSON object, or text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ResponseFormat {
    JsonSchema { json_schema: Value },
    JsonObject,
    Text,
}

fn function() -> String {
    "function".to_string()
}

/// A field that is there: `null` reads as `Some(Content::Null)`, not as absent.
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Content>, D::Error> {
    Content::deserialize(d).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn messages_round_trip_with_the_same_fields() {
        let cases = [
            json!({"role": "assistant", "content": null,
                   "tool_calls": [{"id": "t", "type": "function", "function": {"name": "f", "arguments": "{}"}}],
                   "reasoning_text": "r", "reasoning_opaque": "o"}),
            json!({"role": "tool", "tool_call_id": "t", "content": "out"}),
            json!({"role": "user", "content": [
                {"type": "text", "text": "a"},
                {"type": "image_url", "image_url": {"url": "data:x", "detail": "low"}},
                {"type": "input_audio", "input_audio": {"data": "AA"}}]}),
            json!({"role": "system"}),
            json!({"role": "user", "content": "hi", "name": "n", "cache_control": {"type": "ephemeral"}}),
        ];
        for m in cases {
            let typed: Message = serde_json::from_value(m.clone()).unwrap();
            assert_eq!(serde_json::to_value(&typed).unwrap(), m);
        }
    }

    #[test]
    fn reasoning_content_reads_as_reasoning_text() {
        let m: Message =
            serde_json::from_value(json!({"role": "assistant", "reasoning_content": "why"}))
                .unwrap();
        assert_eq!(m.reasoning_text.as_deref(), Some("why"));
        assert!(m.content.is_none());
    }

    #[test]
    fn request_leaves_out_what_is_unset() {
        let req = ChatRequest {
            model: "gpt-4.1".into(),
            messages: vec![Message::text(Role::User, "hi")],
            tool_choice: Some(ToolChoice::function("f")),
            response_format: Some(ResponseFormat::JsonObject),
            ..ChatRequest::default()
        };
        assert_eq!(
            serde_json::to_value(&req).unwrap(),
            json!({"model": "gpt-4.1", "messages": [{"role": "user", "content": "hi"}],
                   "tool_choice": {"type": "function", "function": {"name": "f"}},
                   "response_format": {"type": "json_object"}})
        );
        let choice: ToolChoice = serde_json::from_value(json!("auto")).unwrap();
        assert_eq!(choice, ToolChoice::Mode("auto".into()));
    }
}
