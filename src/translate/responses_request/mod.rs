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

mod conversation;
#[cfg(test)]
mod tests;
mod tools;

use conversation::Conversation;
use serde_json::{Map, Value, json};
use tools::{ToolSet, tool_choice};

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
