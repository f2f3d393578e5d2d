//! The tools of a Responses request and its `tool_choice`, as clients send them.

use super::lenient;
use serde::Deserialize;
use serde_json::{Map, Value};

/// `tools`: a list, or (`Invalid`) anything else.
#[derive(Debug, serde::Deserialize)]
#[serde(from = "Value")]
pub enum Tools {
    List(Vec<Tool>),
    Invalid,
}

impl From<Value> for Tools {
    fn from(v: Value) -> Tools {
        match v {
            Value::Array(tools) => Tools::List(tools.into_iter().map(Tool::from).collect()),
            _ => Tools::Invalid,
        }
    }
}

/// One tool definition.
#[derive(Debug)]
pub enum Tool {
    Function {
        name: Option<String>,
        description: Option<String>,
        /// The JSON schema of the arguments, when it is an object.
        parameters: Option<Map<String, Value>>,
        strict: Option<bool>,
    },
    /// A freeform tool: the model writes raw text, optionally in a grammar.
    Custom {
        name: Option<String>,
        description: Option<String>,
        format: Option<FreeformFormat>,
    },
    /// Tools grouped under a name (Codex's MCP servers, `multi_agent_v1`).
    Namespace { tools: Vec<Tool> },
    /// `web_search`, `tool_search`, `file_search`, ...: tools the server runs.
    Hosted { kind: String },
    /// No `type` (or not an object).
    Untyped,
}

/// A custom tool's `format`: `{type: "grammar", syntax, definition}` or `{type: "text"}`.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct FreeformFormat {
    #[serde(deserialize_with = "lenient")]
    pub syntax: Option<String>,
    #[serde(deserialize_with = "lenient")]
    pub definition: Option<String>,
}

#[derive(serde::Deserialize)]
#[serde(default)]
#[derive(Default)]
struct ToolFields {
    #[serde(rename = "type", deserialize_with = "lenient")]
    kind: Option<String>,
    #[serde(deserialize_with = "lenient")]
    name: Option<String>,
    #[serde(deserialize_with = "lenient")]
    description: Option<String>,
    #[serde(deserialize_with = "lenient")]
    parameters: Option<Map<String, Value>>,
    #[serde(deserialize_with = "lenient")]
    strict: Option<bool>,
    #[serde(deserialize_with = "lenient")]
    format: Option<FreeformFormat>,
    #[serde(deserialize_with = "lenient")]
    tools: Option<Vec<Value>>,
}

impl From<Value> for Tool {
    fn from(v: Value) -> Tool {
        let f = match v {
            v @ Value::Object(_) => ToolFields::deserialize(v).unwrap_or_default(),
            _ => return Tool::Untyped,
        };
        match f.kind.as_deref() {
            None | Some("") => Tool::Untyped,
            Some("function") => Tool::Function {
                name: f.name,
                description: f.description,
                parameters: f.parameters,
                strict: f.strict,
            },
            Some("custom") => Tool::Custom {
                name: f.name,
                description: f.description,
                format: f.format,
            },
            Some("namespace") => Tool::Namespace {
                tools: f
                    .tools
                    .unwrap_or_default()
                    .into_iter()
                    .map(Tool::from)
                    .collect(),
            },
            Some(other) => Tool::Hosted {
                kind: other.to_string(),
            },
        }
    }
}

/// `tool_choice`, in every shape the Responses API takes.
#[derive(Debug, PartialEq, serde::Deserialize)]
#[serde(from = "Value")]
pub enum ToolChoice {
    /// `auto`, `none`, `required` (or another word, which names no mode).
    Mode(String),
    /// `{type: "function" | "custom", name}`.
    Named(Option<String>),
    /// `{type: "allowed_tools", mode, tools}`.
    AllowedTools { mode: Option<String> },
    /// A hosted tool (`{type: "web_search"}`) or another shape.
    Other,
}

#[derive(serde::Deserialize)]
struct ChoiceFields {
    #[serde(rename = "type", default, deserialize_with = "lenient")]
    kind: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    name: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    mode: Option<String>,
}

impl From<Value> for ToolChoice {
    fn from(v: Value) -> ToolChoice {
        let f = match v {
            Value::String(s) => return ToolChoice::Mode(s),
            v @ Value::Object(_) => ChoiceFields::deserialize(v).ok(),
            _ => None,
        };
        match f {
            Some(f) => match f.kind.as_deref() {
                Some("function" | "custom") => ToolChoice::Named(f.name),
                Some("allowed_tools") => ToolChoice::AllowedTools { mode: f.mode },
                _ => ToolChoice::Other,
            },
            None => ToolChoice::Other,
        }
    }
}
