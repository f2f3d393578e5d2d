//! Anthropic Messages request -> Copilot Chat Completions request (reference §2, with the
//! reference's bugs of §10 fixed).
//!
//! The body is checked (`validate`, 400s that name the field), read as the typed
//! `protocol::anthropic_request::MessagesRequest`, and mapped here at the top level
//! (sampling fields, tools, tool_choice, thinking, structured output); each message's
//! content in `anthropic_messages`, and the list's invariants in `chat_repair`. Unknown
//! fields are ignored.

mod validate;

use super::anthropic_messages::{self as content, join_nonempty};
use super::chat_repair;
use super::tool_names::ToolNames;
use crate::protocol::anthropic_request::{
    Block, Body, Format, MessagesRequest, Role, ToolChoice as Choice, ToolDef,
};
use crate::protocol::chat_chunk::Lenient;
use crate::protocol::chat_request::{
    ChatRequest, Function, Message, ResponseFormat, Role as ChatRole, StreamOptions, Tool,
    ToolChoice,
};
use serde::Deserialize;
use serde_json::{Map, Value, json};

/// The Chat request, and the alias map to translate the answer back.
#[derive(Debug)]
pub struct Translation {
    pub chat: ChatRequest,
    pub tools: ToolNames,
}

/// The answer given in place of a tool result the client never sent.
pub(crate) const MISSING_RESULT: &str =
    "[No result: the client sent no tool_result for this tool call.]";

/// Appended to the system prompt when a schema cannot be sent as `response_format`.
const JSON_ONLY: &str = "IMPORTANT: You MUST respond with valid JSON only. Do not include any text, explanation, or markdown outside the JSON object. Your entire response must be a single JSON object";

/// Translates the route's body (read by reference: no copy per attempt). Client mistakes
/// (missing `messages`, wrong types) are an `Err` with a message naming the field.
pub fn object_to_chat(
    req: &Map<String, Value>,
    upstream_model: &str,
) -> Result<Translation, String> {
    validate::validate(req)?;
    let req = MessagesRequest::deserialize(req).map_err(|e| format!("invalid request: {e}"))?;
    Ok(translate(&req, upstream_model))
}

fn translate(req: &MessagesRequest, upstream_model: &str) -> Translation {
    let tools = req.tools.as_deref().unwrap_or_default();
    let choice = req.tool_choice.as_ref().map(|c| &c.0);
    let names = tool_names(tools, &req.messages, choice);

    let mut system = content::system_text(&req.system);
    let mut chat_messages = Vec::new();
    for m in &req.messages {
        match m.role {
            // Claude Code sends a `role: "system"` message inside `messages` (environment,
            // deferred tools); Chat has one system prompt, first, so it joins that.
            Role::System => {
                system = join_nonempty([system.as_str(), &content::system_text(&m.content)])
            }
            Role::Assistant => chat_messages.extend(content::assistant_message(&m.content, &names)),
            Role::User => content::user_messages(&m.content, &names, &mut chat_messages),
        }
    }

    let mut out = ChatRequest {
        model: upstream_model.to_string(),
        ..ChatRequest::default()
    };
    copy_sampling(req, &mut out);
    let chat_tools = chat_tools(tools, &names);
    if !chat_tools.is_empty() {
        // tool_choice only with tools: upstream rejects it alone (reference §10.12).
        out.tool_choice = tool_choice(choice, &names, &chat_tools);
        out.tools = Some(chat_tools);
    }
    map_thinking(req, &mut out);
    if let Some(format) = structured_output(req) {
        if is_claude(upstream_model) {
            // Copilot answers 422 to `response_format` on Claude models (reference §2.10).
            system = join_nonempty([system.as_str(), &json_instruction(format)]);
        } else {
            out.response_format = Some(response_format(format));
        }
    }

    let mut all = Vec::with_capacity(chat_messages.len() + 1);
    if !system.is_empty() {
        all.push(Message::text(ChatRole::System, system));
    }
    all.extend(chat_repair::normalize(chat_messages, MISSING_RESULT));
    out.messages = all;
    Translation {
        chat: out,
        tools: names,
    }
}

/// Aliases for every tool name the request uses: definitions, calls in the history, and a
/// forced tool_choice.
fn tool_names(
    tools: &[Lenient<ToolDef>],
    messages: &[crate::protocol::anthropic_request::Message],
    choice: Option<&Choice>,
) -> ToolNames {
    let defined = tools.iter().filter_map(|t| t.0.name.get());
    let used = messages
        .iter()
        .filter_map(|m| match &m.content {
            Body::Items(blocks) => Some(blocks),
            _ => None,
        })
        .flatten()
        .filter_map(|b| match b {
            Block::ToolUse { name, .. } => name.get(),
            _ => None,
        });
    let forced = choice
        .filter(|c| c.kind.get() == Some("tool"))
        .and_then(|c| c.name.get());
    ToolNames::from_names(defined.chain(used).chain(forced))
}

fn copy_sampling(req: &MessagesRequest, out: &mut ChatRequest) {
    out.max_tokens = req.max_tokens;
    out.temperature = req.temperature.clone();
    out.top_p = req.top_p.clone();
    out.stop = req.stop_sequences.clone();
    if req.stream == Some(true) {
        out.stream = Some(true);
        out.stream_options = Some(StreamOptions {
            include_usage: true,
        });
    }
    out.user = req
        .metadata
        .as_ref()
        .and_then(|m| m.0.user_id.get())
        .map(str::to_string);
}

/// Custom tools become functions; the client-executed typed tools (bash, text editor) get
/// the function schema Anthropic documents for them; server tools (web search, code
/// execution, ...) cannot run through Chat Completions and are left out.
fn chat_tools(tools: &[Lenient<ToolDef>], names: &ToolNames) -> Vec<Tool> {
    let mut out = Vec::new();
    for Lenient(tool) in tools {
        let name = tool.name.get().unwrap_or("");
        let kind = tool.kind.get().unwrap_or("custom");
        let description = tool.description.get().map(str::to_string);
        let (description, parameters) = match &tool.input_schema {
            Some(schema) => (description, schema.clone()),
            None if kind == "custom" => (description, json!({"type": "object", "properties": {}})),
            None => match typed_tool_schema(kind) {
                Some((d, p)) => (Some(d.to_string()), p),
                None => {
                    crate::debug!("typed tool `{name}` ({kind}) has no Chat equivalent; left out");
                    continue;
                }
            },
        };
        out.push(Tool::function(Function {
            name: names.to_upstream(name),
            description,
            parameters,
            strict: tool.strict.0,
        }));
    }
    out
}

/// Function schemas for Anthropic's client-side typed tools, as documented for each.
fn typed_tool_schema(kind: &str) -> Option<(&'static str, Value)> {
    if kind.starts_with("bash_") {
        return Some((
            "Run commands in a bash shell. State persists between calls; set `restart` to start a new shell.",
            json!({"type": "object", "properties": {
                "command": {"type": "string", "description": "The bash command to run."},
                "restart": {"type": "boolean", "description": "Restart the shell instead of running a command."}
            }}),
        ));
    }
    if kind.starts_with("text_editor_") {
        // `undo_edit` exists only in the two oldest versions.
        let mut commands = vec!["view", "create", "str_replace", "insert"];
        if kind.ends_with("20241022") || kind.ends_with("20250124") {
            commands.push("undo_edit");
        }
        return Some((
            "View, create and edit files. `view` shows a file (optionally a line range) or lists a directory; `create` writes `file_text`; `str_replace` replaces the unique `old_str` with `new_str`; `insert` adds `new_str` after line `insert_line`.",
            json!({"type": "object", "properties": {
                "command": {"type": "string", "enum": commands},
                "path": {"type": "string", "description": "Absolute path of the file or directory."},
                "file_text": {"type": "string"},
                "old_str": {"type": "string"},
                "new_str": {"type": "string"},
                "insert_line": {"type": "integer"},
                "view_range": {"type": "array", "items": {"type": "integer"}}
            }, "required": ["command", "path"]}),
        ));
    }
    None
}

/// `auto`, `any` -> `required`, `tool` -> that function (when it was sent), `none`.
fn tool_choice(choice: Option<&Choice>, names: &ToolNames, tools: &[Tool]) -> Option<ToolChoice> {
    let choice = choice?;
    let mode = |m: &str| Some(ToolChoice::Mode(m.to_string()));
    match choice.kind.get()? {
        "auto" => mode("auto"),
        "any" => mode("required"),
        "none" => mode("none"),
        "tool" => {
            let alias = names.to_upstream(choice.name.get()?);
            let sent = tools.iter().any(|t| t.function.name == alias);
            sent.then(|| ToolChoice::function(alias))
        }
        _ => None,
    }
}

/// Thinking and effort as Copilot's Chat dialect takes them: a token budget
/// (`thinking_budget`, which the route fits to the model's limits) and `reasoning_effort`.
fn map_thinking(req: &MessagesRequest, out: &mut ChatRequest) {
    let thinking = req.thinking.as_ref().map(|t| &t.0);
    let on = thinking.is_some_and(|t| matches!(t.kind.get(), Some("enabled" | "adaptive")));
    if on {
        if let Some(mut budget) = thinking.and_then(|t| t.budget_tokens.0) {
            // The budget must stay below the output limit, as on Anthropic's API.
            if let Some(max) = req.max_tokens {
                budget = budget.min(max.saturating_sub(1).max(1));
            }
            out.thinking_budget = Some(budget);
        }
    }
    let effort = req.output_config.as_ref().and_then(|c| c.0.effort.get());
    if let Some(effort) = effort {
        // Anthropic's top level is `max`; OpenAI's scale ends at `high`.
        let effort = if effort == "max" { "high" } else { effort };
        out.reasoning_effort = Some(effort.to_string());
    }
}

/// `output_config.format` (or the older `output_format`) when it is a JSON schema.
fn structured_output<'r>(req: &'r MessagesRequest) -> Option<&'r Format<'r>> {
    let format = match req.output_config.as_ref().and_then(|c| c.0.format.as_ref()) {
        Some(format) => format,
        None => req.output_format.as_ref()?,
    };
    Some(&format.0).filter(|f| f.kind.get() == Some("json_schema"))
}

fn response_format(format: &Format) -> ResponseFormat {
    let schema = format
        .schema
        .clone()
        .unwrap_or_else(|| json!({"type": "object"}));
    ResponseFormat::JsonSchema {
        json_schema: json!({"name": "output", "schema": schema}),
    }
}

fn json_instruction(format: &Format) -> String {
    match &format.schema {
        Some(schema) => format!("{JSON_ONLY}, matching this JSON schema: {schema}"),
        None => format!("{JSON_ONLY}."),
    }
}

fn is_claude(model: &str) -> bool {
    model.to_ascii_lowercase().starts_with("claude")
}

#[cfg(test)]
pub(crate) mod tests;
