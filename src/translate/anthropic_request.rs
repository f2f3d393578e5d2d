//! Anthropic Messages request -> Copilot Chat Completions request (reference §2, with the
//! reference's bugs of §10 fixed).
//!
//! The top level is mapped here (sampling fields, tools, tool_choice, thinking, structured
//! output); each message's content in `anthropic_messages`, and the list's invariants in
//! `chat_repair`. Client mistakes (missing `messages`, wrong types) are an `Err` with a
//! message naming the field, for an Anthropic 400; unknown fields are ignored.

use super::anthropic_messages::{self as content, block_type};
use super::chat_repair;
use super::tool_names::ToolNames;
use crate::protocol::chat_request::Message;
use serde_json::{Map, Value, json};

/// What the route needs besides the body: the alias map to translate the answer back,
/// and the facts behind the billing and vision headers.
#[derive(Debug)]
pub struct ChatRequest {
    pub body: Value,
    pub tools: ToolNames,
}

/// The answer given in place of a tool result the client never sent.
pub(crate) const MISSING_RESULT: &str =
    "[No result: the client sent no tool_result for this tool call.]";

/// Appended to the system prompt when a schema cannot be sent as `response_format`.
const JSON_ONLY: &str = "IMPORTANT: You MUST respond with valid JSON only. Do not include any text, explanation, or markdown outside the JSON object. Your entire response must be a single JSON object";

#[cfg(test)]
pub fn to_chat(req: &Value, upstream_model: &str) -> Result<ChatRequest, String> {
    let req = req
        .as_object()
        .ok_or("the request body must be a JSON object")?;
    object_to_chat(req, upstream_model)
}

/// `to_chat` of a body already known to be an object (the route's, read by reference: no
/// copy per attempt).
pub fn object_to_chat(
    req: &serde_json::Map<String, Value>,
    upstream_model: &str,
) -> Result<ChatRequest, String> {
    let messages = validate(req)?;
    let tools = req
        .get("tools")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let names = tool_names(tools, messages, req.get("tool_choice"));

    let mut system = content::system_text(req.get("system"));
    let mut chat_messages = Vec::new();
    for m in messages {
        let body = m.get("content");
        match m.get("role").and_then(Value::as_str) {
            // Claude Code sends a `role: "system"` message inside `messages` (environment,
            // deferred tools); Chat has one system prompt, first, so it joins that.
            Some("system") => {
                system = content::join_nonempty([system.as_str(), &content::system_text(body)])
            }
            Some("assistant") => chat_messages.extend(content::assistant_message(body, &names)),
            _ => content::user_messages(body, &names, &mut chat_messages),
        }
    }

    let mut out = Map::new();
    out.insert("model".into(), upstream_model.into());
    copy_sampling(req, &mut out);
    let chat_tools = chat_tools(tools, &names);
    if !chat_tools.is_empty() {
        // tool_choice only with tools: upstream rejects it alone (reference §10.12).
        if let Some(choice) = tool_choice(req.get("tool_choice"), &names, &chat_tools) {
            out.insert("tool_choice".into(), choice);
        }
        out.insert("tools".into(), Value::Array(chat_tools));
    }
    map_thinking(req, &mut out);
    if let Some(format) = structured_output(req) {
        if is_claude(upstream_model) {
            // Copilot answers 422 to `response_format` on Claude models (reference §2.10).
            system = content::join_nonempty([system.as_str(), &json_instruction(format)]);
        } else {
            out.insert("response_format".into(), response_format(format));
        }
    }

    let mut all = Vec::with_capacity(chat_messages.len() + 1);
    if !system.is_empty() {
        all.push(json!({"role": "system", "content": system}));
    }
    let typed: Vec<Message> = chat_messages
        .into_iter()
        .map(serde_json::from_value)
        .collect::<Result<_, _>>()
        .map_err(|e| format!("messages: {e}"))?;
    for m in chat_repair::normalize(typed, MISSING_RESULT) {
        all.push(serde_json::to_value(m).map_err(|e| format!("messages: {e}"))?);
    }
    out.insert("messages".into(), Value::Array(all));
    Ok(ChatRequest {
        body: Value::Object(out),
        tools: names,
    })
}

/// Types of everything this module reads; the messages array on success.
fn validate(req: &Map<String, Value>) -> Result<&[Value], String> {
    let messages = match req.get("messages") {
        None | Some(Value::Null) => return Err("messages: field required".into()),
        Some(Value::Array(m)) if m.is_empty() => {
            return Err("messages: at least one message is required".into());
        }
        Some(Value::Array(m)) => m,
        Some(_) => return Err("messages: must be an array".into()),
    };
    let typed: [Check; 10] = [
        ("max_tokens", |v| v.is_u64(), "a non-negative integer"),
        ("temperature", Value::is_number, "a number"),
        ("top_p", Value::is_number, "a number"),
        ("stream", Value::is_boolean, "a boolean"),
        ("stop_sequences", is_string_array, "an array of strings"),
        (
            "system",
            |v| v.is_string() || v.is_array(),
            "a string or an array of blocks",
        ),
        ("tools", Value::is_array, "an array"),
        ("tool_choice", Value::is_object, "an object"),
        ("thinking", Value::is_object, "an object"),
        ("metadata", Value::is_object, "an object"),
    ];
    for (field, ok, what) in typed {
        if let Some(v) = req.get(field).filter(|v| !v.is_null()) {
            if !ok(v) {
                return Err(format!("{field}: must be {what}"));
            }
        }
    }
    for (i, tool) in req
        .get("tools")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        if tool.get("name").and_then(Value::as_str).is_none() {
            return Err(format!("tools.{i}.name: field required (a string)"));
        }
    }
    for (i, m) in messages.iter().enumerate() {
        let role = m.get("role").and_then(Value::as_str);
        if !matches!(role, Some("user" | "assistant" | "system")) {
            return Err(format!(
                "messages.{i}.role: must be \"user\", \"assistant\" or \"system\""
            ));
        }
        match m.get("content") {
            None | Some(Value::Null | Value::String(_)) => {}
            Some(Value::Array(blocks)) => {
                for (j, b) in blocks.iter().enumerate() {
                    if b.get("type").and_then(Value::as_str).is_none() {
                        return Err(format!(
                            "messages.{i}.content.{j}: must be an object with a string `type`"
                        ));
                    }
                }
            }
            Some(_) => {
                return Err(format!(
                    "messages.{i}.content: must be a string or an array of blocks"
                ));
            }
        }
    }
    Ok(messages)
}

/// A field, its type test, and the type as named in the error.
type Check = (&'static str, fn(&Value) -> bool, &'static str);

fn is_string_array(v: &Value) -> bool {
    v.as_array().is_some_and(|a| a.iter().all(Value::is_string))
}

/// Aliases for every tool name the request uses: definitions, calls in the history, and a
/// forced tool_choice.
fn tool_names(tools: &[Value], messages: &[Value], choice: Option<&Value>) -> ToolNames {
    let defined = tools
        .iter()
        .filter_map(|t| t.get("name").and_then(Value::as_str));
    let used = messages
        .iter()
        .filter_map(|m| m.get("content").and_then(Value::as_array))
        .flatten()
        .filter(|b| block_type(b) == "tool_use")
        .filter_map(|b| b.get("name").and_then(Value::as_str));
    let forced = choice
        .filter(|c| block_type(c) == "tool")
        .and_then(|c| c.get("name").and_then(Value::as_str));
    ToolNames::from_names(defined.chain(used).chain(forced))
}

fn copy_sampling(req: &Map<String, Value>, out: &mut Map<String, Value>) {
    for (from, to) in [
        ("max_tokens", "max_tokens"),
        ("temperature", "temperature"),
        ("top_p", "top_p"),
        ("stop_sequences", "stop"),
    ] {
        if let Some(v) = req.get(from).filter(|v| !v.is_null()) {
            out.insert(to.into(), v.clone());
        }
    }
    if req.get("stream").and_then(Value::as_bool) == Some(true) {
        out.insert("stream".into(), true.into());
        out.insert("stream_options".into(), json!({"include_usage": true}));
    }
    if let Some(user) = req
        .get("metadata")
        .and_then(|m| m.get("user_id"))
        .and_then(Value::as_str)
    {
        out.insert("user".into(), user.into());
    }
}

/// Custom tools become functions; the client-executed typed tools (bash, text editor) get
/// the function schema Anthropic documents for them; server tools (web search, code
/// execution, ...) cannot run through Chat Completions and are left out.
fn chat_tools(tools: &[Value], names: &ToolNames) -> Vec<Value> {
    let mut out = Vec::new();
    for tool in tools {
        let name = tool.get("name").and_then(Value::as_str).unwrap_or("");
        let kind = tool.get("type").and_then(Value::as_str).unwrap_or("custom");
        let (description, parameters) = match tool.get("input_schema") {
            Some(schema) => (
                tool.get("description")
                    .and_then(Value::as_str)
                    .map(str::to_string),
                schema.clone(),
            ),
            None if kind == "custom" => (
                tool.get("description")
                    .and_then(Value::as_str)
                    .map(str::to_string),
                json!({"type": "object", "properties": {}}),
            ),
            None => match typed_tool_schema(kind) {
                Some((d, p)) => (Some(d.to_string()), p),
                None => {
                    crate::debug!("typed tool `{name}` ({kind}) has no Chat equivalent; left out");
                    continue;
                }
            },
        };
        let mut function = Map::new();
        function.insert("name".into(), names.to_upstream(name).into());
        if let Some(d) = description {
            function.insert("description".into(), d.into());
        }
        function.insert("parameters".into(), parameters);
        if let Some(strict) = tool.get("strict").and_then(Value::as_bool) {
            function.insert("strict".into(), strict.into());
        }
        out.push(json!({"type": "function", "function": function}));
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
fn tool_choice(choice: Option<&Value>, names: &ToolNames, tools: &[Value]) -> Option<Value> {
    let choice = choice?;
    match block_type(choice) {
        "auto" => Some("auto".into()),
        "any" => Some("required".into()),
        "none" => Some("none".into()),
        "tool" => {
            let alias = names.to_upstream(choice.get("name")?.as_str()?);
            let sent = tools
                .iter()
                .any(|t| t["function"]["name"] == alias.as_str());
            sent.then(|| json!({"type": "function", "function": {"name": alias}}))
        }
        _ => None,
    }
}

/// Thinking and effort as Copilot's Chat dialect takes them: a token budget
/// (`thinking_budget`, which the route fits to the model's limits) and `reasoning_effort`.
fn map_thinking(req: &Map<String, Value>, out: &mut Map<String, Value>) {
    let thinking = req.get("thinking").filter(|t| t.is_object());
    let on = thinking.is_some_and(|t| matches!(block_type(t), "enabled" | "adaptive"));
    if on {
        if let Some(mut budget) = thinking
            .and_then(|t| t.get("budget_tokens"))
            .and_then(Value::as_u64)
        {
            // The budget must stay below the output limit, as on Anthropic's API.
            if let Some(max) = req.get("max_tokens").and_then(Value::as_u64) {
                budget = budget.min(max.saturating_sub(1).max(1));
            }
            out.insert("thinking_budget".into(), budget.into());
        }
    }
    let effort = req
        .get("output_config")
        .and_then(|c| c.get("effort"))
        .and_then(Value::as_str);
    if let Some(effort) = effort {
        // Anthropic's top level is `max`; OpenAI's scale ends at `high`.
        let effort = if effort == "max" { "high" } else { effort };
        out.insert("reasoning_effort".into(), effort.into());
    }
}

/// `output_config.format` (or the older `output_format`) when it is a JSON schema.
fn structured_output(req: &Map<String, Value>) -> Option<&Value> {
    req.get("output_config")
        .and_then(|c| c.get("format"))
        .or_else(|| req.get("output_format"))
        .filter(|f| block_type(f) == "json_schema")
}

fn response_format(format: &Value) -> Value {
    let schema = format
        .get("schema")
        .cloned()
        .unwrap_or_else(|| json!({"type": "object"}));
    json!({"type": "json_schema", "json_schema": {"name": "output", "schema": schema}})
}

fn json_instruction(format: &Value) -> String {
    match format.get("schema") {
        Some(schema) => format!("{JSON_ONLY}, matching this JSON schema: {schema}"),
        None => format!("{JSON_ONLY}."),
    }
}

fn is_claude(model: &str) -> bool {
    model.to_ascii_lowercase().starts_with("claude")
}

/// The last user message is a new prompt: it carries something and no tool result. A turn
/// answering tools (even with a reminder beside them) is the agent's.
pub fn user_turn(messages: &[Value]) -> bool {
    let Some(last) = messages
        .iter()
        .rev()
        .find(|m| m.get("role").and_then(Value::as_str) == Some("user"))
    else {
        return false;
    };
    match last.get("content") {
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Array(blocks)) => {
            !blocks.is_empty() && !blocks.iter().any(|b| block_type(b) == "tool_result")
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chat(req: Value) -> ChatRequest {
        to_chat(&req, "gpt-4.1").unwrap_or_else(|e| panic!("{e}: {req}"))
    }

    fn base(extra: Value) -> Value {
        let mut req = json!({"model": "claude-sonnet-4-5", "max_tokens": 100,
                             "messages": [{"role": "user", "content": "hi"}]});
        for (k, v) in extra.as_object().unwrap() {
            req[k] = v.clone();
        }
        req
    }

    #[test]
    fn top_level_fields() {
        let r = chat(base(json!({
            "stream": true, "temperature": 0.2, "top_p": 0.9, "top_k": 5,
            "stop_sequences": ["END"], "metadata": {"user_id": "{\"session_id\":\"s\"}"},
            "context_management": {"edits": [{"type": "clear_thinking_20251015", "keep": "all"}]},
            "service_tier": "auto"
        })));
        assert_eq!(
            r.body,
            json!({
                "model": "gpt-4.1", "max_tokens": 100, "temperature": 0.2, "top_p": 0.9,
                "stop": ["END"], "stream": true, "stream_options": {"include_usage": true},
                "user": "{\"session_id\":\"s\"}",
                "messages": [{"role": "user", "content": "hi"}]
            })
        );
        let r = chat(base(json!({"stream": false})));
        assert!(r.body.get("stream").is_none() && r.body.get("stream_options").is_none());
    }

    #[test]
    fn client_errors_name_the_field() {
        let cases: Vec<(Value, &str)> = vec![
            (json!([]), "JSON object"),
            (json!({"model": "m"}), "messages: field required"),
            (json!({"messages": {}}), "messages: must be an array"),
            (json!({"messages": []}), "at least one message"),
            (json!({"messages": ["hi"]}), "messages.0.role"),
            (
                json!({"messages": [{"role": "bot", "content": "x"}]}),
                "messages.0.role",
            ),
            (
                json!({"messages": [{"role": "user", "content": 5}]}),
                "messages.0.content",
            ),
            (
                json!({"messages": [{"role": "user", "content": ["x"]}]}),
                "messages.0.content.0",
            ),
            (base(json!({"max_tokens": "10"})), "max_tokens"),
            (base(json!({"temperature": "hot"})), "temperature"),
            (base(json!({"stop_sequences": "END"})), "stop_sequences"),
            (base(json!({"system": 3})), "system"),
            (
                base(json!({"tools": [{"input_schema": {}}]})),
                "tools.0.name",
            ),
            (base(json!({"tool_choice": "auto"})), "tool_choice"),
        ];
        for (req, want) in cases {
            let err = to_chat(&req, "m")
                .err()
                .unwrap_or_else(|| panic!("accepted {req}"));
            assert!(err.contains(want), "{req}: {err}");
        }
    }

    #[test]
    fn system_prompt_and_system_messages() {
        let r = chat(json!({
            "system": [
                {"type": "text", "text": "x-anthropic-billing-header: cc_version=1"},
                {"type": "text", "text": "You are Claude.", "cache_control": {"type": "ephemeral"}}
            ],
            "messages": [
                {"role": "system", "content": [{"type": "text", "text": "env: linux", "cache_control": {"type": "ephemeral"}}],
                 "output_config": {"effort": "medium"}},
                {"role": "system", "content": []},
                {"role": "user", "content": "hi"}
            ]
        }));
        assert_eq!(
            r.body["messages"],
            json!([
                {"role": "system", "content": "x-anthropic-billing-header: cc_version=1\n\nYou are Claude.\n\nenv: linux"},
                {"role": "user", "content": "hi"}
            ])
        );
        let r = chat(
            json!({"system": "", "messages": [{"role": "system"}, {"role": "user", "content": "hi"}]}),
        );
        assert_eq!(
            r.body["messages"],
            json!([{"role": "user", "content": "hi"}])
        );
    }

    #[test]
    fn tools_and_tool_choice() {
        let long = "mcp__plugin_chrome-devtools-mcp_chrome-devtools__get_console_message";
        let tools = json!([
            {"name": "Read", "description": "Read a file", "input_schema": {"type": "object"}, "cache_control": {"type": "ephemeral"}},
            {"name": long, "input_schema": {"type": "object"}, "defer_loading": true, "strict": true},
            {"type": "bash_20250124", "name": "bash"},
            {"type": "text_editor_20250728", "name": "str_replace_based_edit_tool"},
            {"type": "web_search_20250305", "name": "web_search", "max_uses": 8}
        ]);
        let r = chat(base(
            json!({"tools": tools, "tool_choice": {"type": "tool", "name": long}}),
        ));
        let sent = r.body["tools"].as_array().unwrap();
        let alias = r.tools.to_upstream(long);
        assert_ne!(alias, long);
        assert_eq!(
            sent[0],
            json!({"type": "function", "function": {"name": "Read", "description": "Read a file", "parameters": {"type": "object"}}})
        );
        assert_eq!(
            sent[1],
            json!({"type": "function", "function": {"name": alias, "parameters": {"type": "object"}, "strict": true}})
        );
        assert_eq!(sent[2]["function"]["name"], "bash");
        assert!(sent[2]["function"]["parameters"]["properties"]["command"].is_object());
        let editor = &sent[3]["function"]["parameters"];
        assert_eq!(editor["required"], json!(["command", "path"]));
        assert!(
            !editor["properties"]["command"]["enum"]
                .as_array()
                .unwrap()
                .contains(&json!("undo_edit"))
        );
        assert_eq!(sent.len(), 4, "the server tool is left out");
        assert_eq!(
            r.body["tool_choice"],
            json!({"type": "function", "function": {"name": alias}})
        );
        assert_eq!(r.tools.to_client(&alias), long);

        let choice = |c: Value, tools: Value| {
            chat(base(json!({"tools": tools, "tool_choice": c})))
                .body
                .get("tool_choice")
                .cloned()
        };
        let read = json!([{"name": "Read", "input_schema": {}}]);
        let cases: Vec<(Value, Value, Option<Value>)> = vec![
            (json!({"type": "auto"}), read.clone(), Some(json!("auto"))),
            (
                json!({"type": "any", "disable_parallel_tool_use": true}),
                read.clone(),
                Some(json!("required")),
            ),
            (json!({"type": "none"}), read.clone(), Some(json!("none"))),
            (json!({"type": "tool"}), read.clone(), None),
            (
                json!({"type": "tool", "name": "Missing"}),
                read.clone(),
                None,
            ),
            (json!({"type": "weird"}), read.clone(), None),
            // Only a dropped server tool: no tools, and no tool_choice either (§10.12).
            (
                json!({"type": "auto"}),
                json!([{"type": "web_search_20250305", "name": "web_search"}]),
                None,
            ),
            (json!({"type": "auto"}), json!([]), None),
        ];
        for (c, tools, want) in cases {
            assert_eq!(choice(c.clone(), tools), want, "{c}");
        }
    }

    #[test]
    fn thinking_effort_and_structured_output() {
        let r = chat(base(
            json!({"thinking": {"type": "enabled", "budget_tokens": 31999}}),
        ));
        assert_eq!(r.body["thinking_budget"], 99, "kept below max_tokens (100)");
        let r = chat(base(
            json!({"max_tokens": 32000, "thinking": {"type": "enabled", "budget_tokens": 31999}}),
        ));
        assert_eq!(r.body["thinking_budget"], 31999);
        let r = chat(base(
            json!({"thinking": {"type": "adaptive", "display": "omitted"}, "output_config": {"effort": "medium"}}),
        ));
        assert!(r.body.get("thinking_budget").is_none());
        assert_eq!(r.body["reasoning_effort"], "medium");
        assert!(
            r.body.get("reasoning").is_none(),
            "no Responses-only field (§10.13)"
        );
        let r = chat(base(
            json!({"thinking": {"type": "disabled"}, "output_config": {"effort": "max"}}),
        ));
        assert!(r.body.get("thinking_budget").is_none());
        assert_eq!(r.body["reasoning_effort"], "high");

        let schema = json!({"type": "object", "properties": {"title": {"type": "string"}}});
        let req = base(
            json!({"system": "Write a title.", "output_config": {"format": {"type": "json_schema", "schema": schema}}}),
        );
        let r = to_chat(&req, "gpt-4.1").unwrap();
        assert_eq!(
            r.body["response_format"],
            json!({"type": "json_schema", "json_schema": {"name": "output", "schema": schema}})
        );
        assert_eq!(r.body["messages"][0]["content"], "Write a title.");
        let r = to_chat(&req, "claude-haiku-4.5").unwrap();
        assert!(r.body.get("response_format").is_none());
        let system = r.body["messages"][0]["content"].as_str().unwrap();
        assert!(
            system
                .starts_with("Write a title.\n\nIMPORTANT: You MUST respond with valid JSON only")
        );
        assert!(system.contains("\"title\""));
    }

    #[test]
    fn conversation_with_tools_thinking_and_images() {
        let long = "mcp__srv.v2__take_screenshot_of_the_current_browser_page_in_full_resolution";
        let r = chat(json!({
            "stream": true,
            "tools": [{"name": long, "input_schema": {"type": "object"}}],
            "messages": [
                {"role": "user", "content": "screenshot please"},
                {"role": "assistant", "content": [
                    {"type": "thinking", "thinking": "I should call the tool.", "signature": "EqQBsig"},
                    {"type": "tool_use", "id": "toolu_1", "name": long, "input": {}}
                ]},
                {"role": "user", "content": [
                    {"type": "tool_result", "tool_use_id": "toolu_1", "content": [
                        {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg", "data": "/9j/"}}]},
                    {"type": "text", "text": "what do you see?", "cache_control": {"type": "ephemeral"}}
                ]}
            ]
        }));
        let alias = r.tools.to_upstream(long);
        assert_eq!(
            r.body["messages"],
            json!([
                {"role": "user", "content": "screenshot please"},
                {"role": "assistant", "content": null,
                 "tool_calls": [{"id": "toolu_1", "type": "function", "function": {"name": alias, "arguments": "{}"}}],
                 "reasoning_text": "I should call the tool.", "reasoning_opaque": "EqQBsig"},
                {"role": "tool", "tool_call_id": "toolu_1", "content": "[The tool returned images; they follow in the next message.]"},
                {"role": "user", "content": [
                    {"type": "text", "text": "[Images returned by tool call toolu_1]"},
                    {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,/9j/"}},
                    {"type": "text", "text": "what do you see?"}
                ]}
            ])
        );
        let turns = [
            json!({"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t"}, {"type": "text", "text": "what do you see?"}]}),
        ];
        assert!(
            !user_turn(&turns),
            "a turn carrying tool results is the agent's"
        );
        assert!(user_turn(&[json!({"role": "user", "content": "hi"})]));
    }

    #[test]
    fn orphans_and_pending_calls_are_repaired() {
        let r = chat(json!({"messages": [
            {"role": "user", "content": "go"},
            {"role": "assistant", "content": [{"type": "text", "text": "done"}]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "gone", "content": "late output"},
                {"type": "text", "text": "Continue please."}
            ]},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "t9", "name": "Bash", "input": {"command": "ls"}}]}
        ]}));
        assert_eq!(
            r.body["messages"],
            json!([
                {"role": "user", "content": "go"},
                {"role": "assistant", "content": "done"},
                {"role": "user", "content": "late output\n\nContinue please."}
            ])
        );
    }

    #[test]
    fn user_turn_follows_the_last_user_message() {
        let turn = |messages: Value| user_turn(messages.as_array().unwrap());
        assert!(turn(
            json!([{"role": "user", "content": [{"type": "text", "text": "hi"}]}])
        ));
        assert!(!turn(json!([
            {"role": "user", "content": "q"},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "a", "name": "f", "input": {}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "a", "content": "r"}]}
        ])));
        // A prefill still answers the user's prompt before it.
        assert!(turn(
            json!([{"role": "user", "content": "q"}, {"role": "assistant", "content": "{"}])
        ));
        assert!(!turn(json!([{"role": "user", "content": ""}])));
    }
}
