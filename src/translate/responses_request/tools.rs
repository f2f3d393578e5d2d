//! Responses tools -> Chat tools: functions as they are, freeform `custom` tools as a
//! function of one string `input`, `namespace` tools flattened, hosted tools dropped; and
//! `tool_choice` in Chat's shape.

use crate::protocol::chat_request::{self as chat, Function};
use crate::protocol::responses_request::{FreeformFormat, Tool, ToolChoice};
use serde_json::{Map, Value, json};
use std::collections::HashSet;

/// The Chat tools built from the request's, with the names of the freeform ones.
#[derive(Default)]
pub(super) struct ToolSet {
    pub(super) tools: Vec<chat::Tool>,
    names: HashSet<String>,
    pub(super) custom: Vec<String>,
    dropped: Vec<String>,
}

impl ToolSet {
    pub(super) fn from_request(tools: &[Tool]) -> Result<ToolSet, String> {
        let mut set = ToolSet::default();
        for (i, t) in tools.iter().enumerate() {
            set.add(t, &format!("tools.{i}"))?;
        }
        if !set.dropped.is_empty() {
            // Codex sends them with every request: a debug line, not a warning each time.
            crate::debug!(
                "responses->chat: tools the chat path cannot serve were dropped: {}",
                set.dropped.join(", ")
            );
        }
        Ok(set)
    }

    fn add(&mut self, tool: &Tool, at: &str) -> Result<(), String> {
        let function = match tool {
            Tool::Function {
                name,
                description,
                parameters,
                strict,
            } => {
                let Some(name) = self.new_name(name.as_deref(), at)? else {
                    return Ok(());
                };
                function(name, description.as_deref(), parameters.as_ref(), *strict)
            }
            Tool::Custom {
                name,
                description,
                format,
            } => {
                let Some(name) = self.new_name(name.as_deref(), at)? else {
                    return Ok(());
                };
                self.custom.push(name.to_string());
                freeform_function(name, description.as_deref(), format.as_ref())
            }
            Tool::Namespace { tools } => {
                for (i, t) in tools.iter().enumerate() {
                    self.add(t, &format!("{at}.tools.{i}"))?;
                }
                return Ok(());
            }
            Tool::Hosted { kind } => {
                self.dropped.push(kind.clone());
                return Ok(());
            }
            Tool::Untyped => return Err(format!("{at}.type is required")),
        };
        self.tools.push(chat::Tool::function(function));
        Ok(())
    }

    /// The tool's name, or `None` for a second tool of a name already taken.
    fn new_name<'a>(&mut self, name: Option<&'a str>, at: &str) -> Result<Option<&'a str>, String> {
        let name = name
            .filter(|n| !n.is_empty())
            .ok_or_else(|| format!("{at}.name is required"))?;
        if !self.names.insert(name.to_string()) {
            crate::warn!("responses->chat: duplicate tool `{name}` dropped");
            return Ok(None);
        }
        Ok(Some(name))
    }
}

fn function(
    name: &str,
    description: Option<&str>,
    parameters: Option<&Map<String, Value>>,
    strict: Option<bool>,
) -> Function {
    let parameters = parameters.map_or_else(
        || json!({"type": "object", "properties": {}}),
        |p| Value::Object(p.clone()),
    );
    Function {
        name: name.to_string(),
        description: description.map(str::to_string),
        parameters,
        strict,
    }
}

/// A freeform tool as a function taking its raw text in `input`; a grammar, when given,
/// goes into the description so the model still knows the format.
fn freeform_function(
    name: &str,
    description: Option<&str>,
    format: Option<&FreeformFormat>,
) -> Function {
    let mut description = description.unwrap_or("").to_string();
    if let Some(format) = format {
        if let Some(def) = &format.definition {
            let syntax = format.syntax.as_deref().unwrap_or("grammar");
            description.push_str(&format!(
                "\n\nPass the raw text as the string parameter `input`; it must match this {syntax} grammar:\n{def}"
            ));
        }
    }
    Function {
        name: name.to_string(),
        description: Some(description.trim_start().to_string()),
        parameters: json!({
            "type": "object",
            "properties": {"input": {"type": "string", "description": "The raw input of the tool."}},
            "required": ["input"],
            "additionalProperties": false,
        }),
        strict: None,
    }
}

/// `tool_choice` in Chat's shape; `None` when it names no tool that was sent.
pub(super) fn tool_choice(choice: &ToolChoice, tools: &ToolSet) -> Option<chat::ToolChoice> {
    match choice {
        ToolChoice::Mode(mode) if matches!(mode.as_str(), "auto" | "none" | "required") => {
            Some(chat::ToolChoice::Mode(mode.clone()))
        }
        ToolChoice::Named(Some(name)) => tools
            .names
            .contains(name)
            .then(|| chat::ToolChoice::function(name.as_str())),
        ToolChoice::AllowedTools { mode } => mode
            .as_deref()
            .filter(|m| matches!(*m, "auto" | "required"))
            .map(|m| chat::ToolChoice::Mode(m.to_string())),
        // Another word, a choice without a name, or a hosted tool that was dropped.
        ToolChoice::Mode(_) | ToolChoice::Named(None) | ToolChoice::Other => None,
    }
}
