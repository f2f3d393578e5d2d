//! Responses tools -> Chat tools: functions as they are, freeform `custom` tools as a
//! function of one string `input`, `namespace` tools flattened, hosted tools dropped; and
//! `tool_choice` in Chat's shape.

use super::str_field;
use serde_json::{Map, Value, json};
use std::collections::HashSet;

/// The Chat tools built from the request's, with the names of the freeform ones.
#[derive(Default)]
pub(super) struct ToolSet {
    pub(super) tools: Vec<Value>,
    names: HashSet<String>,
    pub(super) custom: Vec<String>,
    dropped: Vec<String>,
}

impl ToolSet {
    pub(super) fn from_request(tools: Option<&Value>) -> Result<ToolSet, String> {
        let mut set = ToolSet::default();
        match tools {
            None | Some(Value::Null) => {}
            Some(Value::Array(tools)) => {
                for (i, t) in tools.iter().enumerate() {
                    set.add(t, &format!("tools.{i}"))?;
                }
            }
            Some(_) => return Err("`tools` must be an array".into()),
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

    fn add(&mut self, tool: &Value, at: &str) -> Result<(), String> {
        let kind = str_field(tool, "type").unwrap_or("");
        match kind {
            "function" | "custom" => {
                let name = str_field(tool, "name")
                    .filter(|n| !n.is_empty())
                    .ok_or_else(|| format!("{at}.name is required"))?;
                if !self.names.insert(name.to_string()) {
                    crate::warn!("responses->chat: duplicate tool `{name}` dropped");
                    return Ok(());
                }
                let function = if kind == "custom" {
                    self.custom.push(name.to_string());
                    freeform_function(tool, name)
                } else {
                    function(tool, name)
                };
                self.tools
                    .push(json!({"type": "function", "function": function}));
            }
            "namespace" => {
                let inner = tool.get("tools").and_then(Value::as_array);
                for (i, t) in inner.into_iter().flatten().enumerate() {
                    self.add(t, &format!("{at}.tools.{i}"))?;
                }
            }
            "" => return Err(format!("{at}.type is required")),
            other => self.dropped.push(other.to_string()),
        }
        Ok(())
    }
}

fn function(tool: &Value, name: &str) -> Value {
    let mut f = Map::new();
    f.insert("name".into(), name.into());
    if let Some(d) = str_field(tool, "description") {
        f.insert("description".into(), d.into());
    }
    let params = tool
        .get("parameters")
        .filter(|p| p.is_object())
        .cloned()
        .unwrap_or_else(|| json!({"type": "object", "properties": {}}));
    f.insert("parameters".into(), params);
    if let Some(s) = tool.get("strict").filter(|s| s.is_boolean()) {
        f.insert("strict".into(), s.clone());
    }
    Value::Object(f)
}

/// A freeform tool as a function taking its raw text in `input`; a grammar, when given,
/// goes into the description so the model still knows the format.
fn freeform_function(tool: &Value, name: &str) -> Value {
    let mut description = str_field(tool, "description").unwrap_or("").to_string();
    let format = tool.get("format");
    if let Some(def) = format
        .and_then(|f| f.get("definition"))
        .and_then(Value::as_str)
    {
        let syntax = format
            .and_then(|f| str_field(f, "syntax"))
            .unwrap_or("grammar");
        description.push_str(&format!(
            "\n\nPass the raw text as the string parameter `input`; it must match this {syntax} grammar:\n{def}"
        ));
    }
    json!({
        "name": name,
        "description": description.trim_start(),
        "parameters": {
            "type": "object",
            "properties": {"input": {"type": "string", "description": "The raw input of the tool."}},
            "required": ["input"],
            "additionalProperties": false,
        },
    })
}

/// `tool_choice` in Chat's shape; `None` when it names no tool that was sent.
pub(super) fn tool_choice(choice: &Value, tools: &ToolSet) -> Option<Value> {
    match choice {
        Value::String(s) if matches!(s.as_str(), "auto" | "none" | "required") => {
            Some(choice.clone())
        }
        Value::Object(_) => match str_field(choice, "type")? {
            "function" | "custom" => {
                let name = str_field(choice, "name")?;
                tools
                    .names
                    .contains(name)
                    .then(|| json!({"type": "function", "function": {"name": name}}))
            }
            "allowed_tools" => str_field(choice, "mode")
                .filter(|m| matches!(*m, "auto" | "required"))
                .map(Value::from),
            // A hosted tool that was dropped.
            _ => None,
        },
        _ => None,
    }
}
