//! The tree-building translation `request` replaced, kept as the oracle its bytes are
//! compared with. The parts that still read trees in `request` (the tools, the tool
//! choice, the text format, the opaque reasoning id) are `request`'s own functions,
//! called from here, not copies: the oracle checks the typed message translation around
//! them.

use super::{MIN_OUTPUT_TOKENS, split_opaque, text_format, tool_choice, tools};
use serde_json::{Map, Value, json};
use std::collections::HashSet;

pub fn chat_to_responses(req: &Value, upstream_model: &str) -> Result<Value, String> {
    let req = req
        .as_object()
        .ok_or("the request body must be a JSON object")?;
    let messages = req
        .get("messages")
        .and_then(Value::as_array)
        .ok_or("`messages` is required and must be an array")?;
    if req.get("n").and_then(Value::as_u64).is_some_and(|n| n > 1) {
        return Err("`n` greater than 1 is not supported for this model".into());
    }

    let mut instructions = Vec::new();
    let mut input = Vec::new();
    let mut custom_calls = HashSet::new();
    for (i, m) in messages.iter().enumerate() {
        let at = format!("messages.{i}");
        let content = m.get("content").unwrap_or(&Value::Null);
        match m.get("role").and_then(Value::as_str) {
            Some("system" | "developer") => {
                let text = plain_text(content);
                if input.is_empty() {
                    instructions.push(text);
                } else if !text.is_empty() {
                    input.push(json!({"type": "message", "role": "developer", "content": text}));
                }
            }
            Some("user") => {
                if let Some(c) = user_content(content, &at)? {
                    input.push(json!({"type": "message", "role": "user", "content": c}));
                }
            }
            Some("assistant") => assistant_items(m, &at, &mut input, &mut custom_calls)?,
            Some("tool") => {
                let id = m
                    .get("tool_call_id")
                    .and_then(Value::as_str)
                    .ok_or_else(|| format!("{at}.tool_call_id is required"))?;
                let kind = if custom_calls.contains(id) {
                    "custom_tool_call_output"
                } else {
                    "function_call_output"
                };
                input.push(json!({"type": kind, "call_id": id, "output": tool_output(content)}));
            }
            Some(other) => return Err(format!("{at}.role `{other}` is not supported")),
            None => return Err(format!("{at}.role is required")),
        }
    }

    let mut out = Map::new();
    out.insert("model".into(), upstream_model.into());
    let instructions: Vec<String> = instructions.into_iter().filter(|s| !s.is_empty()).collect();
    if !instructions.is_empty() {
        out.insert("instructions".into(), instructions.join("\n\n").into());
    }
    out.insert("input".into(), Value::Array(input));
    let tools = tools(req.get("tools"))?;
    if !tools.is_empty() {
        if let Some(choice) = req.get("tool_choice").and_then(tool_choice) {
            out.insert("tool_choice".into(), choice);
        }
        if let Some(p) = req.get("parallel_tool_calls").filter(|p| p.is_boolean()) {
            out.insert("parallel_tool_calls".into(), p.clone());
        }
        out.insert("tools".into(), Value::Array(tools));
    }
    copy_scalars(req, &mut out)?;
    // No `store`: Copilot's /responses rejects it (reference/peers.md §C3).
    out.insert("include".into(), json!(["reasoning.encrypted_content"]));
    Ok(Value::Object(out))
}

fn copy_scalars(req: &Map<String, Value>, out: &mut Map<String, Value>) -> Result<(), String> {
    for key in ["max_completion_tokens", "max_tokens"] {
        match req.get(key) {
            None | Some(Value::Null) => continue,
            Some(v) => {
                let n = v
                    .as_u64()
                    .ok_or_else(|| format!("`{key}` must be a positive integer"))?;
                out.insert("max_output_tokens".into(), n.max(MIN_OUTPUT_TOKENS).into());
                break;
            }
        }
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
    if let Some(k) = req.get("prompt_cache_key").filter(|k| k.is_string()) {
        out.insert("prompt_cache_key".into(), k.clone());
    }
    let mut reasoning = req
        .get("reasoning")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    if let Some(effort) = req.get("reasoning_effort").and_then(Value::as_str) {
        reasoning.insert("effort".into(), effort.into());
    }
    // Thinking asked for (the Messages path's budget) or an effort given: ask for the
    // summaries too, which become `reasoning_text` and Anthropic thinking.
    if !reasoning.is_empty() || req.contains_key("thinking_budget") {
        reasoning.entry("summary").or_insert_with(|| "auto".into());
        out.insert("reasoning".into(), Value::Object(reasoning));
    }
    let mut text = Map::new();
    if let Some(format) = req.get("response_format").and_then(text_format) {
        text.insert("format".into(), format);
    }
    if let Some(v) = req.get("verbosity").filter(|v| v.is_string()) {
        text.insert("verbosity".into(), v.clone());
    }
    if !text.is_empty() {
        out.insert("text".into(), Value::Object(text));
    }
    if req.get("stream").and_then(Value::as_bool) == Some(true) {
        out.insert("stream".into(), true.into());
    }
    Ok(())
}

fn plain_text(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join("\n\n"),
        _ => String::new(),
    }
}

fn user_content(content: &Value, at: &str) -> Result<Option<Value>, String> {
    let parts = match content {
        Value::Null => return Ok(None),
        Value::String(s) if s.is_empty() => return Ok(None),
        Value::String(s) => return Ok(Some(s.clone().into())),
        Value::Array(parts) => parts,
        _ => {
            return Err(format!(
                "{at}.content must be a string or an array of parts"
            ));
        }
    };
    let mut out = Vec::new();
    for part in parts {
        match part.get("type").and_then(Value::as_str) {
            Some("text") => {
                let text = part.get("text").and_then(Value::as_str).unwrap_or("");
                out.push(json!({"type": "input_text", "text": text}));
            }
            Some("image_url") => out.extend(input_image(part)),
            other => crate::warn!(
                "chat->responses: `{}` content part dropped",
                other.unwrap_or("?")
            ),
        }
    }
    Ok((!out.is_empty()).then_some(Value::Array(out)))
}

fn input_image(part: &Value) -> Option<Value> {
    let image = part.get("image_url")?;
    let url = image
        .as_str()
        .or_else(|| image.get("url").and_then(Value::as_str))?;
    let detail = image
        .get("detail")
        .and_then(Value::as_str)
        .unwrap_or("auto");
    Some(json!({"type": "input_image", "image_url": url, "detail": detail}))
}

/// A tool message's content as a `function_call_output.output`: a string, or parts when
/// it holds images.
fn tool_output(content: &Value) -> Value {
    match content {
        Value::Array(parts) if parts.iter().any(|p| p["type"] == "image_url") => Value::Array(
            parts
                .iter()
                .filter_map(|p| match p["type"].as_str() {
                    Some("image_url") => input_image(p),
                    _ => p
                        .get("text")
                        .and_then(Value::as_str)
                        .map(|t| json!({"type": "input_text", "text": t})),
                })
                .collect(),
        ),
        Value::Array(_) | Value::String(_) => plain_text(content).into(),
        Value::Null => "".into(),
        other => other.to_string().into(),
    }
}

/// An assistant message as items: its reasoning (when it can be replayed), its text,
/// then its calls.
fn assistant_items(
    m: &Value,
    at: &str,
    input: &mut Vec<Value>,
    custom_calls: &mut HashSet<String>,
) -> Result<(), String> {
    if let Some(opaque) = m.get("reasoning_opaque").and_then(Value::as_str) {
        let (encrypted, id) = split_opaque(opaque);
        let summary = m
            .get("reasoning_text")
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
            .map_or_else(
                || json!([]),
                |t| json!([{"type": "summary_text", "text": t}]),
            );
        let mut item =
            json!({"type": "reasoning", "summary": summary, "encrypted_content": encrypted});
        if let Some(id) = id {
            item["id"] = id.into();
        }
        input.push(item);
    }
    let text = plain_text(m.get("content").unwrap_or(&Value::Null));
    if !text.is_empty() {
        input.push(json!({"type": "message", "role": "assistant",
                          "content": [{"type": "output_text", "text": text}]}));
    }
    for (j, call) in m
        .get("tool_calls")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let id = call
            .get("id")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("{at}.tool_calls.{j}.id is required"))?;
        if let Some(c) = call.get("custom") {
            custom_calls.insert(id.to_string());
            input.push(json!({"type": "custom_tool_call", "call_id": id,
                              "name": c.get("name").and_then(Value::as_str).unwrap_or(""),
                              "input": c.get("input").and_then(Value::as_str).unwrap_or("")}));
            continue;
        }
        let f = call.get("function").unwrap_or(&Value::Null);
        let name = f
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("{at}.tool_calls.{j}.function.name is required"))?;
        let args = f.get("arguments").and_then(Value::as_str).unwrap_or("{}");
        input
            .push(json!({"type": "function_call", "call_id": id, "name": name, "arguments": args}));
    }
    Ok(())
}
