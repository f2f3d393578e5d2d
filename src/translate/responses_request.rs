//! OpenAI Responses request -> Copilot Chat Completions request, for models Copilot serves
//! only on `/chat/completions` (Claude, Gemini, gpt-4.x) (reference §5.6, with §10.17
//! fixed).
//!
//! Input items become messages: consecutive `function_call`s and the assistant text and
//! reasoning around them form ONE assistant turn whose every call is answered right after
//! it by its own output, wherever the client put that output (the reference split
//! parallel calls and lost the first one's output). Freeform `custom` tools (Codex's
//! `apply_patch`) become a function with one string parameter `input`; `reasoning` items
//! go back as Copilot's `reasoning_text`/`reasoning_opaque` (those another model family
//! made, after a model switch, are left out: no chat-path model can verify them);
//! assistant `output_text` history is kept. Hosted tools the Chat path cannot run
//! (`web_search`, `tool_search`, ...) are dropped with a log line, `namespace` tools
//! flattened.

use super::responses_response::OWN_REASONING;
use serde_json::{Map, Value, json};
use std::collections::{HashMap, HashSet};

/// The Chat body and the facts the route needs to translate the answer back and to set
/// the billing and vision headers.
#[derive(Debug)]
pub struct ChatFromResponses {
    pub body: Value,
    /// Names of the freeform `custom` tools, whose calls go back as `custom_tool_call`.
    pub custom_tools: Vec<String>,
    /// The last input item is a genuine user message (`X-Initiator: user`).
    pub user_turn: bool,
    pub has_images: bool,
}

/// The tool message given for a call whose output the client never sent: it says so,
/// rather than pretending the tool ran and printed nothing (reference §10.9).
const MISSING_OUTPUT: &str = "[No output: the client sent no result for this tool call.]";
/// Stands in for an empty output, which some upstream models reject.
const EMPTY_OUTPUT: &str = "(no output)";

pub fn to_chat(
    req: &Value,
    upstream_model: &str,
    history: &[Value],
) -> Result<ChatFromResponses, String> {
    let req = req
        .as_object()
        .ok_or("the request body must be a JSON object")?;
    let input = input_items(req.get("input"))?;
    let items: Vec<&Value> = history.iter().chain(input.iter()).collect();
    let first_input = history.len();
    let label = |i: usize| {
        if i >= first_input {
            format!("input.{}", i - first_input)
        } else {
            format!("previous_response_id history item {i}")
        }
    };

    let mut conv = Conversation::new(&items);
    if let Some(text) = req.get("instructions").and_then(Value::as_str) {
        conv.system(text.to_string());
    }
    for (i, item) in items.iter().enumerate() {
        conv.item(item).map_err(|e| format!("{}{e}", label(i)))?;
    }
    let has_images = conv.has_images;
    let messages = conv.finish();
    if messages.is_empty() {
        return Err("`input` holds no message to send".into());
    }

    let tools = ToolSet::from_request(req.get("tools"))?;
    let mut out = Map::new();
    out.insert("model".into(), upstream_model.into());
    out.insert("messages".into(), Value::Array(messages));
    if !tools.tools.is_empty() {
        if let Some(choice) = req.get("tool_choice").and_then(|c| tool_choice(c, &tools)) {
            out.insert("tool_choice".into(), choice);
        }
        if let Some(p) = req.get("parallel_tool_calls").filter(|p| p.is_boolean()) {
            out.insert("parallel_tool_calls".into(), p.clone());
        }
        out.insert("tools".into(), Value::Array(tools.tools));
    }
    copy_scalars(req, &mut out)?;

    Ok(ChatFromResponses {
        body: Value::Object(out),
        custom_tools: tools.custom,
        user_turn: items.last().is_some_and(|i| is_user_message(i)),
        has_images,
    })
}

/// `input` as items: a string is one user message; absent is none (the history may hold
/// everything).
fn input_items(input: Option<&Value>) -> Result<Vec<Value>, String> {
    match input {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(s)) => Ok(vec![json!({"role": "user", "content": s})]),
        Some(Value::Array(items)) => Ok(items.clone()),
        Some(_) => Err("`input` must be a string or an array of items".into()),
    }
}

fn item_type(item: &Value) -> &str {
    item.get("type")
        .and_then(Value::as_str)
        .unwrap_or("message")
}

fn str_field<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

fn is_user_message(item: &Value) -> bool {
    item_type(item) == "message" && str_field(item, "role") == Some("user")
}

/// Scalars with a Chat twin. `store`, `include`, `prompt_cache_key`, `client_metadata`,
/// `metadata`, `text.verbosity`, `truncation` and the like have none and are left out.
fn copy_scalars(req: &Map<String, Value>, out: &mut Map<String, Value>) -> Result<(), String> {
    if let Some(n) = req.get("max_output_tokens").filter(|v| !v.is_null()) {
        if !n.is_u64() {
            return Err("`max_output_tokens` must be a positive integer".into());
        }
        out.insert("max_tokens".into(), n.clone());
    }
    for key in ["temperature", "top_p"] {
        match req.get(key) {
            None | Some(Value::Null) => {}
            Some(v @ Value::Number(_)) => {
                out.insert(key.into(), v.clone());
            }
            Some(_) => return Err(format!("`{key}` must be a number")),
        }
    }
    if let Some(effort) = req
        .get("reasoning")
        .and_then(|r| r.get("effort"))
        .and_then(Value::as_str)
        .and_then(chat_effort)
    {
        out.insert("reasoning_effort".into(), effort.into());
    }
    if let Some(format) = req
        .get("text")
        .and_then(|t| t.get("format"))
        .and_then(response_format)
    {
        out.insert("response_format".into(), format);
    }
    if req.get("stream").and_then(Value::as_bool) == Some(true) {
        out.insert("stream".into(), true.into());
        out.insert("stream_options".into(), json!({"include_usage": true}));
    }
    Ok(())
}

/// Chat's effort scale is low/medium/high: the Responses ends of the scale are brought in
/// and `none` means no effort field at all.
fn chat_effort(effort: &str) -> Option<&str> {
    match effort {
        "none" => None,
        "minimal" => Some("low"),
        "xhigh" | "max" => Some("high"),
        other => Some(other),
    }
}

fn response_format(format: &Value) -> Option<Value> {
    match str_field(format, "type")? {
        "json_schema" => {
            let mut schema = Map::new();
            schema.insert(
                "name".into(),
                str_field(format, "name").unwrap_or("response").into(),
            );
            for key in ["schema", "strict", "description"] {
                if let Some(v) = format.get(key).filter(|v| !v.is_null()) {
                    schema.insert(key.into(), v.clone());
                }
            }
            Some(json!({"type": "json_schema", "json_schema": schema}))
        }
        "json_object" => Some(json!({"type": "json_object"})),
        _ => None,
    }
}

/// One tool output, as Chat takes it: text for the tool message, images for a user
/// message after the turn's tool messages (Chat tool messages carry no images).
struct Output {
    text: String,
    images: Vec<Value>,
}

/// The assistant turn being gathered: text, reasoning and calls of consecutive items.
#[derive(Default)]
struct Turn {
    text: String,
    reasoning: Vec<String>,
    opaque: Option<String>,
    calls: Vec<Value>,
    call_ids: Vec<String>,
}

impl Turn {
    fn has_reasoning(&self) -> bool {
        !self.reasoning.is_empty() || self.opaque.is_some()
    }
}

/// The message list under construction.
struct Conversation {
    messages: Vec<Value>,
    turn: Turn,
    /// Outputs by call id, gathered up front so each is placed right after its call.
    outputs: HashMap<String, Output>,
    /// Every call id of the input: an output for any other id is an orphan.
    call_ids: HashSet<String>,
    has_images: bool,
}

impl Conversation {
    fn new(items: &[&Value]) -> Conversation {
        let mut conv = Conversation {
            messages: Vec::new(),
            turn: Turn::default(),
            outputs: HashMap::new(),
            call_ids: HashSet::new(),
            has_images: false,
        };
        for item in items {
            match item_type(item) {
                "function_call" | "custom_tool_call" => {
                    if let Some(id) = str_field(item, "call_id") {
                        conv.call_ids.insert(id.to_string());
                    }
                }
                "function_call_output" | "custom_tool_call_output" => {
                    if let Some(id) = str_field(item, "call_id") {
                        let out = tool_output(item.get("output"));
                        conv.outputs.entry(id.to_string()).or_insert(out);
                    }
                }
                _ => {}
            }
        }
        conv
    }

    fn system(&mut self, text: String) {
        if !text.is_empty() {
            self.messages
                .push(json!({"role": "system", "content": text}));
        }
    }

    /// Adds one input item; `Err` names what is wrong with it (after its label).
    fn item(&mut self, item: &Value) -> Result<(), String> {
        if !item.is_object() {
            return Err(" must be an object".into());
        }
        match item_type(item) {
            "message" => self.message(item),
            "reasoning" => {
                self.reasoning(item);
                Ok(())
            }
            "function_call" => {
                let name = str_field(item, "name").ok_or(".name is required")?;
                let args = match item.get("arguments") {
                    Some(Value::String(s)) => s.clone(),
                    None | Some(Value::Null) => "{}".into(),
                    Some(other) => other.to_string(),
                };
                self.call(item, name, args);
                Ok(())
            }
            "custom_tool_call" => {
                let name = str_field(item, "name").ok_or(".name is required")?;
                let input = str_field(item, "input").unwrap_or("");
                self.call(item, name, json!({"input": input}).to_string());
                Ok(())
            }
            "function_call_output" | "custom_tool_call_output" => {
                self.flush();
                let id = str_field(item, "call_id").ok_or(".call_id is required")?;
                if !self.call_ids.contains(id) {
                    self.orphan_output(id, item);
                }
                Ok(())
            }
            other => {
                // item_reference, web_search_call, compaction, ...: nothing Chat can take.
                crate::debug!("responses->chat: input item of type `{other}` skipped");
                Ok(())
            }
        }
    }

    fn message(&mut self, item: &Value) -> Result<(), String> {
        let content = item.get("content").unwrap_or(&Value::Null);
        match str_field(item, "role") {
            Some("assistant") => {
                if !self.turn.calls.is_empty() {
                    self.flush();
                }
                self.turn.text.push_str(&plain_text(content, ""));
            }
            Some("system" | "developer") => {
                self.flush();
                self.system(plain_text(content, "\n\n"));
            }
            Some("user") => {
                self.flush();
                if let Some(c) = self.user_content(content)? {
                    self.messages.push(json!({"role": "user", "content": c}));
                }
            }
            Some(other) => return Err(format!(".role `{other}` is not a message role")),
            None => return Err(".role is required".into()),
        }
        Ok(())
    }

    /// Reasoning joins the assistant turn it belongs to; a turn carries one opaque token,
    /// so a second one starts the next turn.
    fn reasoning(&mut self, item: &Value) {
        if str_field(item, "id").is_some_and(|id| !id.starts_with(OWN_REASONING)) {
            crate::debug!("responses->chat: reasoning of another model family dropped");
            return;
        }
        let opaque = str_field(item, "encrypted_content").filter(|s| !s.is_empty());
        if self.turn.opaque.is_some() && opaque.is_some() {
            self.flush();
        }
        let summary = item.get("summary").map(|s| plain_text(s, "\n\n"));
        let text = summary
            .filter(|s| !s.is_empty())
            .or_else(|| item.get("content").map(|c| plain_text(c, "\n\n")))
            .unwrap_or_default();
        if !text.is_empty() {
            self.turn.reasoning.push(text);
        }
        if let Some(o) = opaque {
            self.turn.opaque = Some(o.to_string());
        }
    }

    fn call(&mut self, item: &Value, name: &str, arguments: String) {
        let id = str_field(item, "call_id")
            .or_else(|| str_field(item, "id"))
            .map_or_else(
                || format!("call_{:016x}", crate::ids::random_u64()),
                str::to_string,
            );
        self.turn.calls.push(json!({
            "id": id,
            "type": "function",
            "function": {"name": name, "arguments": arguments},
        }));
        self.turn.call_ids.push(id);
    }

    /// Ends the assistant turn: its message, then one tool message per call, then the
    /// images those tools returned.
    fn flush(&mut self) {
        let turn = std::mem::take(&mut self.turn);
        if turn.text.is_empty() && turn.calls.is_empty() {
            if turn.has_reasoning() {
                crate::debug!("responses->chat: reasoning without an answer dropped");
            }
            return;
        }
        let mut m = Map::new();
        m.insert("role".into(), "assistant".into());
        let content = if turn.text.is_empty() {
            Value::Null
        } else {
            turn.text.into()
        };
        m.insert("content".into(), content);
        if !turn.reasoning.is_empty() {
            m.insert("reasoning_text".into(), turn.reasoning.join("\n\n").into());
        }
        if let Some(o) = turn.opaque {
            m.insert("reasoning_opaque".into(), o.into());
        }
        if !turn.calls.is_empty() {
            m.insert("tool_calls".into(), Value::Array(turn.calls));
        }
        self.messages.push(Value::Object(m));

        let mut images = Vec::new();
        for id in turn.call_ids {
            let text = match self.outputs.remove(&id) {
                Some(out) => {
                    images.extend(out.images);
                    out.text
                }
                None => MISSING_OUTPUT.into(),
            };
            self.messages
                .push(json!({"role": "tool", "tool_call_id": id, "content": text}));
        }
        if !images.is_empty() {
            self.has_images = true;
            let mut parts =
                vec![json!({"type": "text", "text": "Images returned by the tool calls above:"})];
            parts.extend(images);
            self.messages
                .push(json!({"role": "user", "content": parts}));
        }
    }

    /// An output whose call is not in the input: kept as user text so nothing is lost,
    /// since Chat rejects a tool message without its call.
    fn orphan_output(&mut self, id: &str, item: &Value) {
        let out = tool_output(item.get("output"));
        if out.text == EMPTY_OUTPUT && out.images.is_empty() {
            return;
        }
        let mut parts = vec![
            json!({"type": "text", "text": format!("[Result of tool call {id}]\n{}", out.text)}),
        ];
        self.has_images |= !out.images.is_empty();
        parts.extend(out.images);
        self.messages
            .push(json!({"role": "user", "content": parts}));
    }

    /// User content as Chat takes it: a string for plain text, parts otherwise.
    fn user_content(&mut self, content: &Value) -> Result<Option<Value>, String> {
        let parts = match content {
            Value::Null => return Ok(None),
            Value::String(s) if s.is_empty() => return Ok(None),
            Value::String(s) => return Ok(Some(s.clone().into())),
            Value::Array(parts) => parts,
            _ => return Err(".content must be a string or an array of parts".into()),
        };
        let mut out = Vec::new();
        for part in parts {
            if let Some(image) = image_part(part) {
                self.has_images = true;
                out.push(image);
            } else if let Some(text) = part_text(part) {
                if !text.is_empty() {
                    out.push(json!({"type": "text", "text": text}));
                }
            } else {
                let kind = str_field(part, "type").unwrap_or("?");
                crate::warn!(
                    "responses->chat: `{kind}` content part dropped (not supported on the chat path)"
                );
            }
        }
        Ok(match out.as_slice() {
            [] => None,
            [one] if one["type"] == "text" => Some(one["text"].clone()),
            _ => Some(Value::Array(out)),
        })
    }

    /// The messages, with adjacent system messages joined into one.
    fn finish(mut self) -> Vec<Value> {
        self.flush();
        let mut out: Vec<Value> = Vec::with_capacity(self.messages.len());
        for m in self.messages {
            if let Some(prev) = out.last_mut() {
                if prev["role"] == "system" && m["role"] == "system" {
                    let joined = format!(
                        "{}\n\n{}",
                        prev["content"].as_str().unwrap_or(""),
                        m["content"].as_str().unwrap_or("")
                    );
                    prev["content"] = joined.into();
                    continue;
                }
            }
            out.push(m);
        }
        out
    }
}

/// The text of a part: `input_text`, `output_text`, `summary_text`, `reasoning_text`,
/// `refusal` and any other part that carries `text`.
fn part_text(part: &Value) -> Option<&str> {
    match part {
        Value::String(s) => Some(s),
        _ => str_field(part, "text").or_else(|| str_field(part, "refusal")),
    }
}

/// An `input_image` part as a Chat `image_url` part.
fn image_part(part: &Value) -> Option<Value> {
    if str_field(part, "type") != Some("input_image") {
        return None;
    }
    let url = match part.get("image_url") {
        Some(Value::String(u)) => u.as_str(),
        Some(obj) => str_field(obj, "url")?,
        None => {
            crate::warn!("responses->chat: `input_image` without an image_url (file_id) dropped");
            return None;
        }
    };
    let mut image = json!({"url": url});
    if let Some(d) = part.get("detail").filter(|d| d.is_string()) {
        image["detail"] = d.clone();
    }
    Some(json!({"type": "image_url", "image_url": image}))
}

/// Content of any shape as plain text, parts joined with `sep`.
fn plain_text(content: &Value, sep: &str) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(part_text)
            .filter(|t| !t.is_empty())
            .collect::<Vec<_>>()
            .join(sep),
        _ => String::new(),
    }
}

/// A `function_call_output.output`: a string, or parts with text and images.
fn tool_output(output: Option<&Value>) -> Output {
    let mut images = Vec::new();
    let text = match output {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(parts)) => {
            let mut texts = Vec::new();
            for part in parts {
                if let Some(image) = image_part(part) {
                    images.push(image);
                } else if let Some(t) = part_text(part) {
                    texts.push(t);
                }
            }
            texts.join("\n")
        }
        // An older Codex shape: `{content, success}`.
        Some(obj @ Value::Object(_)) => match str_field(obj, "content") {
            Some(c) => c.to_string(),
            None => obj.to_string(),
        },
        Some(other) => other.to_string(),
    };
    let text = if text.is_empty() {
        EMPTY_OUTPUT.to_string()
    } else {
        text
    };
    Output { text, images }
}

/// The Chat tools built from the request's, with the names of the freeform ones.
#[derive(Default)]
struct ToolSet {
    tools: Vec<Value>,
    names: HashSet<String>,
    custom: Vec<String>,
    dropped: Vec<String>,
}

impl ToolSet {
    fn from_request(tools: Option<&Value>) -> Result<ToolSet, String> {
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
fn tool_choice(choice: &Value, tools: &ToolSet) -> Option<Value> {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn chat(req: Value) -> ChatFromResponses {
        to_chat(&req, "claude-sonnet-4.5", &[]).expect("translates")
    }

    fn messages(r: &ChatFromResponses) -> &Vec<Value> {
        r.body["messages"].as_array().unwrap()
    }

    /// The request Codex 0.169 sends (reference clients.md §4), abridged.
    fn codex_request() -> Value {
        json!({
            "model": "gpt-5.5",
            "stream": true,
            "store": false,
            "include": ["reasoning.encrypted_content"],
            "prompt_cache_key": "019a-session",
            "client_metadata": {"installation_id": "x"},
            "text": {"verbosity": "low"},
            "tool_choice": "auto",
            "parallel_tool_calls": true,
            "reasoning": {"effort": "medium"},
            "input": [
                {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "You are Codex."}]},
                {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "Skills: none"}]},
                {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "<environment_context>cwd</environment_context>"}]},
                {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Create out.txt containing hello"}]},
            ],
            "tools": [
                {"type": "function", "name": "exec_command", "description": "Run a command",
                 "strict": false,
                 "parameters": {"type": "object", "properties": {"cmd": {"type": "string"}}, "required": ["cmd"]}},
                {"type": "custom", "name": "apply_patch", "description": "Edit files.",
                 "format": {"type": "grammar", "syntax": "lark", "definition": "start: begin_patch"}},
                {"type": "tool_search", "execution": "client", "description": "Find tools",
                 "parameters": {"type": "object", "properties": {"query": {"type": "string"}}}},
                {"type": "web_search", "external_web_access": true, "search_content_types": ["text", "image"]},
                {"type": "namespace", "name": "multi_agent_v1", "description": "agents", "tools": [
                    {"type": "function", "name": "spawn_agent", "parameters": {"type": "object", "properties": {}}},
                    {"type": "function", "name": "exec_command", "parameters": {}},
                ]},
            ],
        })
    }

    #[test]
    fn codex_request_becomes_a_chat_request() {
        let r = chat(codex_request());
        let b = &r.body;
        assert_eq!(b["model"], "claude-sonnet-4.5");
        assert_eq!(b["stream"], true);
        assert_eq!(b["stream_options"], json!({"include_usage": true}));
        assert_eq!(b["reasoning_effort"], "medium");
        assert_eq!(b["tool_choice"], "auto");
        assert_eq!(b["parallel_tool_calls"], true);
        for absent in [
            "store",
            "include",
            "prompt_cache_key",
            "client_metadata",
            "text",
            "reasoning",
            "input",
            "metadata",
        ] {
            assert!(b.get(absent).is_none(), "{absent} forwarded");
        }
        let m = messages(&r);
        assert_eq!(m.len(), 3);
        assert_eq!(
            m[0],
            json!({"role": "system", "content": "You are Codex.\n\nSkills: none"})
        );
        assert_eq!(
            m[1]["content"],
            "<environment_context>cwd</environment_context>"
        );
        assert_eq!(m[2]["content"], "Create out.txt containing hello");

        let names: Vec<&str> = b["tools"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["function"]["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["exec_command", "apply_patch", "spawn_agent"]);
        let exec = &b["tools"][0];
        assert_eq!(exec["type"], "function");
        assert_eq!(exec["function"]["strict"], false);
        assert_eq!(exec["function"]["parameters"]["required"], json!(["cmd"]));
        let patch = &b["tools"][1]["function"];
        assert_eq!(patch["parameters"]["required"], json!(["input"]));
        assert_eq!(patch["parameters"]["properties"]["input"]["type"], "string");
        let desc = patch["description"].as_str().unwrap();
        assert!(
            desc.starts_with("Edit files.") && desc.contains("lark grammar:\nstart: begin_patch"),
            "{desc}"
        );
        assert_eq!(r.custom_tools, ["apply_patch"]);
        assert!(r.user_turn);
        assert!(!r.has_images);
    }

    #[test]
    fn two_turn_exec_command_loop() {
        let mut req = codex_request();
        let input = req["input"].as_array_mut().unwrap();
        input.extend([
            json!({"type": "reasoning", "id": "rs_chat_1", "summary": [{"type": "summary_text", "text": "I will run echo."}],
                   "content": null, "encrypted_content": "EqQBsig"}),
            json!({"type": "function_call", "id": "fc_1", "call_id": "toolu_1", "name": "exec_command",
                   "arguments": "{\"cmd\":\"echo hello > out.txt\"}", "status": "completed"}),
            json!({"type": "function_call_output", "id": "fco_1", "call_id": "toolu_1", "output": "exit 0"}),
        ]);
        let r = chat(req.clone());
        let m = messages(&r);
        assert_eq!(m.len(), 5);
        assert_eq!(
            m[3],
            json!({"role": "assistant", "content": null,
                   "reasoning_text": "I will run echo.", "reasoning_opaque": "EqQBsig",
                   "tool_calls": [{"id": "toolu_1", "type": "function",
                                   "function": {"name": "exec_command", "arguments": "{\"cmd\":\"echo hello > out.txt\"}"}}]})
        );
        assert_eq!(
            m[4],
            json!({"role": "tool", "tool_call_id": "toolu_1", "content": "exit 0"})
        );
        assert!(!r.user_turn, "a turn of tool results is the agent's");

        // Second loop: the model answered, the user asks again.
        let input = req["input"].as_array_mut().unwrap();
        input.extend([
            json!({"type": "message", "role": "assistant", "id": "msg_1",
                   "content": [{"type": "output_text", "text": "Done.", "annotations": []}]}),
            json!({"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Thanks"}]}),
        ]);
        let r = chat(req);
        let m = messages(&r);
        assert_eq!(m[5], json!({"role": "assistant", "content": "Done."}));
        assert_eq!(m[6], json!({"role": "user", "content": "Thanks"}));
        assert!(r.user_turn);
    }

    #[test]
    fn parallel_calls_keep_every_call_and_output() {
        // Reference §10.17: the first call's output was replaced by an empty placeholder.
        let cases = [
            // Calls first, then outputs (Codex).
            vec!["fc_a", "fc_b", "out_a", "out_b"],
            // Outputs in the other order.
            vec!["fc_a", "fc_b", "out_b", "out_a"],
        ];
        for order in cases {
            let input: Vec<Value> = order
                .iter()
                .map(|k| match *k {
                    "fc_a" => json!({"type": "function_call", "call_id": "A", "name": "f", "arguments": "{\"x\":1}"}),
                    "fc_b" => json!({"type": "function_call", "call_id": "B", "name": "g", "arguments": "{}"}),
                    "out_a" => json!({"type": "function_call_output", "call_id": "A", "output": "resA"}),
                    _ => json!({"type": "function_call_output", "call_id": "B", "output": "resB"}),
                })
                .collect();
            let mut all = vec![json!({"role": "user", "content": "go"})];
            all.extend(input);
            let r = chat(json!({"input": all}));
            let m = messages(&r);
            assert_eq!(m.len(), 4, "{order:?}: {m:?}");
            let ids: Vec<&str> = m[1]["tool_calls"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["id"].as_str().unwrap())
                .collect();
            assert_eq!(ids, ["A", "B"]);
            assert_eq!(
                m[2],
                json!({"role": "tool", "tool_call_id": "A", "content": "resA"})
            );
            assert_eq!(
                m[3],
                json!({"role": "tool", "tool_call_id": "B", "content": "resB"})
            );
        }
    }

    #[test]
    fn apply_patch_custom_call_goes_up_as_a_function_call() {
        let patch = "*** Begin Patch\n*** Add File: out.txt\n+hello\n*** End Patch";
        let r = chat(json!({
            "input": [
                {"role": "user", "content": "make out.txt"},
                {"type": "custom_tool_call", "id": "ctc_1", "call_id": "call_p", "name": "apply_patch",
                 "input": patch, "status": "completed"},
                {"type": "custom_tool_call_output", "call_id": "call_p", "output": "Success. Updated: A out.txt"},
            ],
            "tools": [{"type": "custom", "name": "apply_patch"}],
        }));
        let m = messages(&r);
        let call = &m[1]["tool_calls"][0];
        assert_eq!(call["function"]["name"], "apply_patch");
        let args: Value =
            serde_json::from_str(call["function"]["arguments"].as_str().unwrap()).unwrap();
        assert_eq!(args, json!({"input": patch}));
        assert_eq!(m[2]["content"], "Success. Updated: A out.txt");
        assert_eq!(m[2]["tool_call_id"], "call_p");
    }

    #[test]
    fn history_is_prepended_and_instructions_lead() {
        let history = vec![
            json!({"role": "user", "content": "hi"}),
            json!({"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "hello"}]}),
        ];
        let req = json!({"instructions": "Be brief.", "input": "again"});
        let r = to_chat(&req, "m", &history).unwrap();
        assert_eq!(
            r.body["messages"],
            json!([
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "hi"},
                {"role": "assistant", "content": "hello"},
                {"role": "user", "content": "again"},
            ])
        );
        assert!(r.user_turn);
    }

    #[test]
    fn images_and_missing_or_orphan_outputs() {
        let r = chat(json!({"input": [
            {"role": "user", "content": [
                {"type": "input_text", "text": "what is this"},
                {"type": "input_image", "image_url": "data:image/png;base64,AAA", "detail": "high"},
            ]},
            {"type": "function_call", "call_id": "A", "name": "view_image", "arguments": "{}"},
            {"type": "function_call", "call_id": "B", "name": "f", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "A", "output": [
                {"type": "input_text", "text": "the image"},
                {"type": "input_image", "image_url": "data:image/png;base64,BBB"},
            ]},
            {"type": "function_call_output", "call_id": "Z", "output": "stray"},
        ]}));
        assert!(r.has_images);
        let m = messages(&r);
        assert_eq!(
            m[0]["content"][1],
            json!({"type": "image_url", "image_url": {"url": "data:image/png;base64,AAA", "detail": "high"}})
        );
        assert_eq!(
            m[2],
            json!({"role": "tool", "tool_call_id": "A", "content": "the image"})
        );
        assert_eq!(
            m[3],
            json!({"role": "tool", "tool_call_id": "B", "content": MISSING_OUTPUT})
        );
        assert_eq!(m[4]["role"], "user");
        assert_eq!(
            m[4]["content"][1]["image_url"]["url"],
            "data:image/png;base64,BBB"
        );
        assert_eq!(m[5]["content"][0]["text"], "[Result of tool call Z]\nstray");
        assert!(!r.user_turn);
    }

    #[test]
    fn scalars_and_formats() {
        let r = chat(json!({
            "input": "hi",
            "max_output_tokens": 100,
            "temperature": 0.2,
            "top_p": 0.9,
            "text": {"format": {"type": "json_schema", "name": "out", "strict": true,
                                "schema": {"type": "object"}}},
            "reasoning": {"effort": "xhigh", "summary": "auto"},
            "metadata": {"a": "b"},
        }));
        let b = &r.body;
        assert_eq!(b["max_tokens"], 100);
        assert_eq!(b["temperature"], 0.2);
        assert_eq!(b["top_p"], 0.9);
        assert_eq!(b["reasoning_effort"], "high");
        assert_eq!(
            b["response_format"],
            json!({"type": "json_schema", "json_schema": {"name": "out", "strict": true, "schema": {"type": "object"}}})
        );
        assert!(b.get("stream").is_none() && b.get("tools").is_none());
        let r = chat(
            json!({"input": "hi", "text": {"format": {"type": "json_object"}}, "reasoning": {"effort": "none"}}),
        );
        assert_eq!(r.body["response_format"], json!({"type": "json_object"}));
        assert!(r.body.get("reasoning_effort").is_none());
    }

    #[test]
    fn tool_choice_shapes() {
        let tools = json!([{"type": "function", "name": "f"}, {"type": "custom", "name": "p"},
                           {"type": "web_search"}]);
        let cases = [
            (json!("auto"), Some(json!("auto"))),
            (json!("required"), Some(json!("required"))),
            (json!("none"), Some(json!("none"))),
            (
                json!({"type": "function", "name": "f"}),
                Some(json!({"type": "function", "function": {"name": "f"}})),
            ),
            (
                json!({"type": "custom", "name": "p"}),
                Some(json!({"type": "function", "function": {"name": "p"}})),
            ),
            (json!({"type": "function", "name": "gone"}), None),
            (json!({"type": "web_search"}), None),
            (
                json!({"type": "allowed_tools", "mode": "required", "tools": []}),
                Some(json!("required")),
            ),
        ];
        for (choice, want) in cases {
            let r = chat(json!({"input": "hi", "tools": tools, "tool_choice": choice}));
            assert_eq!(r.body.get("tool_choice"), want.as_ref(), "{choice}");
        }
        // Without any tool left, neither tools nor tool_choice nor parallel_tool_calls.
        let r = chat(
            json!({"input": "hi", "tools": [{"type": "web_search"}], "tool_choice": "auto",
                            "parallel_tool_calls": true}),
        );
        for key in ["tools", "tool_choice", "parallel_tool_calls"] {
            assert!(r.body.get(key).is_none(), "{key}");
        }
    }

    #[test]
    fn reasoning_placement() {
        // Reasoning after the text of the same answer (its opaque token came late) still
        // joins that answer; a second opaque starts the next turn.
        let r = chat(json!({"input": [
            {"role": "user", "content": "q"},
            {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "a1"}]},
            {"type": "reasoning", "id": "rs_chat_9", "summary": [], "encrypted_content": "o1"},
            {"type": "reasoning", "summary": [{"type": "summary_text", "text": "t2"}], "encrypted_content": "o2"},
            {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "a2"}]},
            {"type": "reasoning", "summary": [{"type": "summary_text", "text": "lonely"}]},
            {"role": "user", "content": "q2"},
        ]}));
        let m = messages(&r);
        assert_eq!(
            m[1],
            json!({"role": "assistant", "content": "a1", "reasoning_opaque": "o1"})
        );
        assert_eq!(
            m[2],
            json!({"role": "assistant", "content": "a2", "reasoning_text": "t2\n\nlonely", "reasoning_opaque": "o2"})
        );
        assert_eq!(m[3]["content"], "q2");

        // Reasoning an OpenAI model made before the client switched models: its
        // encrypted content means nothing to a chat-path model and is not sent.
        let r = chat(json!({"input": [
            {"role": "user", "content": "q"},
            {"type": "reasoning", "id": "rs_68af0c", "summary": [{"type": "summary_text", "text": "gpt"}],
             "encrypted_content": "gAAAAB"},
            {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "a"}]},
            {"role": "user", "content": "q2"},
        ]}));
        assert_eq!(
            messages(&r)[1],
            json!({"role": "assistant", "content": "a"})
        );
    }

    #[test]
    fn client_errors() {
        let cases = [
            (json!([]), "JSON object"),
            (json!({"input": 5}), "`input`"),
            (json!({"input": []}), "no message"),
            (json!({"input": ["hi"]}), "input.0 must be an object"),
            (
                json!({"input": [{"role": "robot", "content": "x"}]}),
                "input.0.role",
            ),
            (
                json!({"input": [{"type": "function_call", "call_id": "a"}]}),
                "input.0.name",
            ),
            (
                json!({"input": [{"type": "function_call_output", "output": "x"}]}),
                "input.0.call_id",
            ),
            (
                json!({"input": [{"role": "user", "content": 3}]}),
                "input.0.content",
            ),
            (json!({"input": "x", "tools": {}}), "`tools`"),
            (
                json!({"input": "x", "tools": [{"type": "function"}]}),
                "tools.0.name",
            ),
            (
                json!({"input": "x", "tools": [{"name": "f"}]}),
                "tools.0.type",
            ),
            (
                json!({"input": "x", "max_output_tokens": "9"}),
                "max_output_tokens",
            ),
            (json!({"input": "x", "temperature": "hot"}), "temperature"),
        ];
        for (req, want) in cases {
            let err = to_chat(&req, "m", &[])
                .err()
                .unwrap_or_else(|| panic!("accepted {req}"));
            assert!(err.contains(want), "{req}: {err}");
        }
    }

    #[test]
    fn unknown_items_and_keys_are_tolerated() {
        let r = chat(json!({
            "input": [
                {"type": "item_reference", "id": "msg_0"},
                {"type": "message", "role": "user", "id": "m1", "x-extra": true,
                 "content": [{"type": "input_text", "text": "hi", "cache": 1}, {"type": "input_audio"}]},
                {"type": "web_search_call", "id": "ws_1", "status": "completed"},
            ],
            "unknown_top_level": {"a": 1},
            "service_tier": "auto",
        }));
        assert_eq!(
            r.body["messages"],
            json!([{"role": "user", "content": "hi"}])
        );
    }
}
