//! Chat Completions request -> Responses request, read from the client's bytes
//! (`protocol::chat_client`, borrowed) and written typed (`protocol::responses::request`):
//! the conversation's text goes from the body into the upstream bytes without a tree.
//! The tools and the settings that pass on as they came are read as small trees.

use crate::protocol::chat_chunk::Lenient;
use crate::protocol::chat_client::{CallIn, ChatIn, Content as In, MessageIn, PartIn};
use crate::protocol::lenient;
use crate::protocol::responses::request::{Content, InputItem, Part, Request};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use std::borrow::Cow;
use std::collections::HashSet;

/// Responses rejects a smaller `max_output_tokens`; clients probing with `max_tokens: 1`
/// get the minimum instead of a 400.
const MIN_OUTPUT_TOKENS: u64 = 16;

/// The Responses request bytes for Chat request bytes (already naming the upstream model).
pub fn request_from_bytes(chat: &[u8]) -> Result<Vec<u8>, String> {
    // serde reads a struct from an array too: only an object takes the typed path.
    let object = chat.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
    let mut de = serde_json::Deserializer::from_slice(chat);
    let typed = object
        .then(|| ChatIn::deserialize(&mut de).and_then(|req| de.end().map(|()| req)))
        .and_then(Result::ok);
    match typed {
        Some(req) => write(&req),
        // What the typed reader refuses (a body that is no object, a duplicate key) is
        // read as a tree, which reads such JSON as it always did.
        None => {
            let tree: Value = serde_json::from_slice(chat)
                .map_err(|e| format!("the request body is not valid JSON: {e}"))?;
            request_from_value(&tree)
        }
    }
}

/// `request_from_bytes` for a request already parsed into a tree (read borrowed from it).
pub fn request_from_value(chat: &Value) -> Result<Vec<u8>, String> {
    if !chat.is_object() {
        return Err("the request body must be a JSON object".into());
    }
    let req = ChatIn::deserialize(chat).map_err(|e| e.to_string())?;
    write(&req)
}

fn write(req: &ChatIn) -> Result<Vec<u8>, String> {
    let request = translate(req)?;
    serde_json::to_vec(&request).map_err(|e| e.to_string())
}

fn translate<'a>(req: &'a ChatIn<'a>) -> Result<Request<'a>, String> {
    let Some(lenient::List::Is(messages)) = &req.messages else {
        return Err("`messages` is required and must be an array".into());
    };
    if req.n.0.is_some_and(|n| n > 1) {
        return Err("`n` greater than 1 is not supported for this model".into());
    }

    let mut instructions = Vec::new();
    let mut input = Vec::new();
    let mut custom_calls = HashSet::new();
    for (i, Lenient(m)) in messages.iter().enumerate() {
        let at = || format!("messages.{i}");
        match m.role.get() {
            Some("system" | "developer") => {
                let text = plain_text(&m.content);
                if input.is_empty() {
                    instructions.push(text);
                } else if !text.is_empty() {
                    input.push(InputItem::message("developer", Content::Text(text)));
                }
            }
            Some("user") => {
                if let Some(c) = user_content(&m.content, &at)? {
                    input.push(InputItem::message("user", c));
                }
            }
            Some("assistant") => assistant_items(m, &at, &mut input, &mut custom_calls)?,
            Some("tool") => {
                let id = m
                    .tool_call_id
                    .get()
                    .ok_or_else(|| format!("{}.tool_call_id is required", at()))?;
                let custom = custom_calls.contains(id);
                input.push(InputItem::call_output(id, tool_output(&m.content), custom));
            }
            Some(other) => return Err(format!("{}.role `{other}` is not supported", at())),
            None => return Err(format!("{}.role is required", at())),
        }
    }

    let mut out = Request::new(req.model.get().unwrap_or_default(), input);
    let instructions: Vec<Cow<str>> = instructions.into_iter().filter(|s| !s.is_empty()).collect();
    if !instructions.is_empty() {
        out.instructions = Some(instructions.join("\n\n"));
    }
    let tools = tools(req.tools.as_ref())?;
    if !tools.is_empty() {
        out.tool_choice = req.tool_choice.as_ref().and_then(tool_choice);
        out.parallel_tool_calls = req.parallel_tool_calls.clone().filter(Value::is_boolean);
        out.tools = Some(tools);
    }
    settings(req, &mut out)?;
    // No `store`: Copilot's /responses rejects it (reference/peers.md §C3).
    Ok(out)
}

/// The sampling, reasoning and format settings, and whether to stream.
fn settings(req: &ChatIn, out: &mut Request) -> Result<(), String> {
    for (key, value) in [
        ("max_completion_tokens", &req.max_completion_tokens),
        ("max_tokens", &req.max_tokens),
    ] {
        if let Some(v) = value {
            let n = v
                .as_u64()
                .ok_or_else(|| format!("`{key}` must be a positive integer"))?;
            out.max_output_tokens = Some(n.max(MIN_OUTPUT_TOKENS));
            break;
        }
    }
    for (key, value, into) in [
        ("temperature", &req.temperature, &mut out.temperature),
        ("top_p", &req.top_p, &mut out.top_p),
    ] {
        match value {
            None => {}
            Some(v @ Value::Number(_)) => *into = Some(v.clone()),
            Some(_) => return Err(format!("`{key}` must be a number")),
        }
    }
    out.prompt_cache_key = req.prompt_cache_key.clone().filter(Value::is_string);
    let mut reasoning = match &req.reasoning {
        Some(Value::Object(r)) => r.clone(),
        _ => Map::new(),
    };
    if let Some(effort) = req.reasoning_effort.get() {
        reasoning.insert("effort".into(), effort.into());
    }
    // Thinking asked for (the Messages path's budget) or an effort given: ask for the
    // summaries too, which become `reasoning_text` and Anthropic thinking.
    if !reasoning.is_empty() || req.thinking_budget {
        reasoning.entry("summary").or_insert_with(|| "auto".into());
        out.reasoning = Some(reasoning);
    }
    let mut text = Map::new();
    if let Some(format) = req.response_format.as_ref().and_then(text_format) {
        text.insert("format".into(), format);
    }
    if let Some(v) = req.verbosity.as_ref().filter(|v| v.is_string()) {
        text.insert("verbosity".into(), v.clone());
    }
    if !text.is_empty() {
        out.text = Some(text);
    }
    if req.stream.as_ref().and_then(Value::as_bool) == Some(true) {
        out.stream = Some(true);
    }
    Ok(())
}

fn text_format(format: &Value) -> Option<Value> {
    match format.get("type").and_then(Value::as_str)? {
        "json_schema" => {
            let schema = format.get("json_schema")?;
            let mut f = Map::new();
            f.insert("type".into(), "json_schema".into());
            f.insert(
                "name".into(),
                schema
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or("response")
                    .into(),
            );
            for key in ["schema", "strict", "description"] {
                if let Some(v) = schema.get(key).filter(|v| !v.is_null()) {
                    f.insert(key.into(), v.clone());
                }
            }
            Some(Value::Object(f))
        }
        "json_object" => Some(json!({"type": "json_object"})),
        _ => None,
    }
}

/// The text of a content: the string, or the parts' texts joined.
fn plain_text<'a>(content: &'a In<'a>) -> Cow<'a, str> {
    match content {
        In::Text(s) => Cow::Borrowed(s),
        In::Parts(parts) => {
            let texts: Vec<&str> = parts.iter().filter_map(|p| p.0.text.get()).collect();
            Cow::Owned(texts.join("\n\n"))
        }
        In::Absent | In::Other(_) => Cow::Borrowed(""),
    }
}

fn user_content<'a>(
    content: &'a In<'a>,
    at: &dyn Fn() -> String,
) -> Result<Option<Content<'a>>, String> {
    let parts = match content {
        In::Absent => return Ok(None),
        In::Text(s) if s.is_empty() => return Ok(None),
        In::Text(s) => return Ok(Some(Content::Text(Cow::Borrowed(s)))),
        In::Parts(parts) => parts,
        In::Other(_) => {
            return Err(format!(
                "{}.content must be a string or an array of parts",
                at()
            ));
        }
    };
    let mut out = Vec::new();
    for Lenient(part) in parts {
        match part.kind.get() {
            Some("text") => out.push(Part::input_text(part.text.get().unwrap_or(""))),
            Some("image_url") => out.extend(input_image(part)),
            other => crate::warn!(
                "chat->responses: `{}` content part dropped",
                other.unwrap_or("?")
            ),
        }
    }
    Ok((!out.is_empty()).then_some(Content::Parts(out)))
}

fn input_image<'a>(part: &'a PartIn<'a>) -> Option<Part<'a>> {
    let image = &part.image_url;
    let url = image.url.as_deref()?;
    Some(Part::input_image(
        url,
        image.detail.as_deref().unwrap_or("auto"),
    ))
}

/// A tool message's content as a `function_call_output.output`: a string, or parts when
/// it holds images.
fn tool_output<'a>(content: &'a In<'a>) -> Content<'a> {
    match content {
        In::Parts(parts) if parts.iter().any(|p| p.0.kind.get() == Some("image_url")) => {
            let parts = parts.iter().filter_map(|Lenient(p)| match p.kind.get() {
                Some("image_url") => input_image(p),
                _ => p.text.get().map(Part::input_text),
            });
            Content::Parts(parts.collect())
        }
        In::Parts(_) | In::Text(_) => Content::Text(plain_text(content)),
        In::Absent => Content::Text(Cow::Borrowed("")),
        In::Other(other) => Content::Text(Cow::Owned(other.to_string())),
    }
}

/// An assistant message as items: its reasoning (when it can be replayed), its text,
/// then its calls.
fn assistant_items<'a>(
    m: &'a MessageIn<'a>,
    at: &dyn Fn() -> String,
    input: &mut Vec<InputItem<'a>>,
    custom_calls: &mut HashSet<&'a str>,
) -> Result<(), String> {
    if let Some(opaque) = m.reasoning_opaque.get() {
        let (encrypted, id) = split_opaque(opaque);
        input.push(InputItem::reasoning(
            encrypted,
            id,
            m.reasoning_text.nonempty(),
        ));
    }
    let text = plain_text(&m.content);
    if !text.is_empty() {
        let content = Content::Parts(vec![Part::output_text(text)]);
        input.push(InputItem::message("assistant", content));
    }
    for (j, call) in m.tool_calls.0.iter().enumerate() {
        input.push(call_item(call, j, at, custom_calls)?);
    }
    Ok(())
}

/// One of an assistant's calls as its item.
fn call_item<'a>(
    call: &'a CallIn<'a>,
    j: usize,
    at: &dyn Fn() -> String,
    custom_calls: &mut HashSet<&'a str>,
) -> Result<InputItem<'a>, String> {
    let id = call
        .id
        .get()
        .ok_or_else(|| format!("{}.tool_calls.{j}.id is required", at()))?;
    if let Some(c) = &call.custom {
        custom_calls.insert(id);
        let (name, input) = (c.name.get().unwrap_or(""), c.input.get().unwrap_or(""));
        return Ok(InputItem::custom_tool_call(id, name, input));
    }
    let f = &call.function.0;
    let name = f
        .name
        .get()
        .ok_or_else(|| format!("{}.tool_calls.{j}.function.name is required", at()))?;
    let args = f.arguments.get().unwrap_or("{}");
    Ok(InputItem::function_call(id, name, args))
}

/// `encrypted@id` -> (encrypted, id). Base64 has no `@`, so the first one separates.
pub(super) fn split_opaque(opaque: &str) -> (&str, Option<&str>) {
    match opaque.split_once('@') {
        Some((enc, id)) if !id.is_empty() => (enc, Some(id)),
        _ => (opaque, None),
    }
}

fn tools(tools: Option<&Value>) -> Result<Vec<Value>, String> {
    let list = match tools {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(list)) => list,
        Some(_) => return Err("`tools` must be an array".into()),
    };
    let mut out = Vec::new();
    for (i, t) in list.iter().enumerate() {
        let kind = t.get("type").and_then(Value::as_str).unwrap_or("function");
        let Some(def) = t.get(kind).filter(|d| d.is_object()) else {
            crate::warn!("chat->responses: tool of type `{kind}` dropped");
            continue;
        };
        let name = def
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("tools.{i}.{kind}.name is required"))?;
        let mut tool = Map::new();
        tool.insert("type".into(), kind.into());
        tool.insert("name".into(), name.into());
        if let Some(d) = def.get("description").filter(|d| d.is_string()) {
            tool.insert("description".into(), d.clone());
        }
        match kind {
            "function" => {
                let params = def
                    .get("parameters")
                    .filter(|p| p.is_object())
                    .cloned()
                    .unwrap_or_else(|| json!({"type": "object", "properties": {}}));
                tool.insert("parameters".into(), params);
                // Chat's default is not strict; Responses' is strict, which rejects
                // ordinary schemas.
                let strict = def.get("strict").and_then(Value::as_bool).unwrap_or(false);
                tool.insert("strict".into(), strict.into());
            }
            "custom" => {
                if let Some(f) = def.get("format").filter(|f| f.is_object()) {
                    tool.insert("format".into(), f.clone());
                }
            }
            _ => {
                crate::warn!("chat->responses: tool of type `{kind}` dropped");
                continue;
            }
        }
        out.push(Value::Object(tool));
    }
    Ok(out)
}

fn tool_choice(choice: &Value) -> Option<Value> {
    match choice {
        Value::String(s) if matches!(s.as_str(), "auto" | "none" | "required") => {
            Some(choice.clone())
        }
        Value::Object(o) => {
            let kind = o.get("type").and_then(Value::as_str)?;
            match kind {
                "function" | "custom" => {
                    let name = o.get(kind)?.get("name")?.as_str()?;
                    Some(json!({"type": kind, "name": name}))
                }
                "allowed_tools" => o
                    .get("allowed_tools")
                    .and_then(|a| a.get("mode"))
                    .filter(|m| m.is_string())
                    .cloned(),
                _ => None,
            }
        }
        _ => None,
    }
}

#[cfg(test)]
mod oracle;
#[cfg(test)]
mod tests;
