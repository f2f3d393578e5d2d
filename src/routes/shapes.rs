//! The shape of each API's request body, checked at every level before anything is
//! forwarded or translated: a wrong type anywhere (a number where a message's `content`
//! goes, a tool without a string `name`) is a 400 that names the place
//! (`messages[0].content[1].text`), not a request Copilot refuses later in its own words, or
//! a translation that guesses. Lenient where clients are: unknown fields and unknown block
//! types pass; only fields the protocol defines are checked, and only their types and
//! ranges. Also bounds a few scalars every API shares (model name length, sampling ranges).

use crate::http::ApiError;
use serde_json::{Map, Value};

/// The longest model name accepted; real ones are under 64 characters.
const MAX_MODEL_NAME: usize = 256;

pub(super) type Checked = Result<(), ApiError>;

pub(super) fn bad(at: &str, what: &str) -> ApiError {
    ApiError::BadRequest(format!("`{at}` must be {what}"))
}

/// The field's value when present and not null.
fn field<'a>(o: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    o.get(key).filter(|v| !v.is_null())
}

fn string(o: &Map<String, Value>, key: &str, at: &str) -> Checked {
    match field(o, key) {
        Some(v) if !v.is_string() => Err(bad(&format!("{at}{key}"), "a string")),
        _ => Ok(()),
    }
}

fn required_string(o: &Map<String, Value>, key: &str, at: &str) -> Checked {
    match o.get(key) {
        Some(Value::String(_)) => Ok(()),
        _ => Err(bad(&format!("{at}{key}"), "a string")),
    }
}

fn object<'a>(v: &'a Value, at: &str) -> Result<&'a Map<String, Value>, ApiError> {
    v.as_object().ok_or_else(|| bad(at, "an object"))
}

fn array<'a>(v: &'a Value, at: &str) -> Result<&'a Vec<Value>, ApiError> {
    v.as_array().ok_or_else(|| bad(at, "an array"))
}

fn boolean(o: &Map<String, Value>, key: &str) -> Checked {
    match field(o, key) {
        Some(v) if !v.is_boolean() => Err(bad(key, "true or false")),
        _ => Ok(()),
    }
}

/// A number within `min..=max` when present.
fn number_in(o: &Map<String, Value>, key: &str, min: f64, max: f64) -> Checked {
    match field(o, key) {
        Some(v) if !v.as_f64().is_some_and(|n| (min..=max).contains(&n)) => {
            Err(bad(key, &format!("a number from {min} to {max}")))
        }
        _ => Ok(()),
    }
}

/// A whole number of tokens when present.
fn tokens(o: &Map<String, Value>, key: &str) -> Checked {
    match field(o, key) {
        Some(v) if v.as_u64().is_none_or(|n| n > u64::from(u32::MAX)) => {
            Err(bad(key, "a whole number of tokens"))
        }
        _ => Ok(()),
    }
}

/// What every API shares: the model name and the sampling parameters.
pub(super) fn common(body: &Map<String, Value>) -> Checked {
    match body.get("model") {
        Some(Value::String(m)) if m.len() > MAX_MODEL_NAME => Err(ApiError::BadRequest(format!(
            "`model` is longer than {MAX_MODEL_NAME} characters"
        ))),
        Some(Value::String(_)) | None => Ok(()),
        Some(_) => Err(bad("model", "a string")),
    }?;
    boolean(body, "stream")?;
    number_in(body, "temperature", 0.0, 2.0)?;
    number_in(body, "top_p", 0.0, 1.0)?;
    for key in ["max_tokens", "max_completion_tokens", "max_output_tokens"] {
        tokens(body, key)?;
    }
    Ok(())
}

/// A JSON Schema's top level: an object whose `type`, if any, is a string or an array.
fn schema(v: &Value, at: &str) -> Checked {
    let o = object(v, at)?;
    match o.get("type") {
        None | Some(Value::String(_) | Value::Array(_)) => Ok(()),
        Some(_) => Err(bad(&format!("{at}.type"), "a string or an array")),
    }
}

/// Content parts (Chat, Responses) or blocks (Anthropic): objects with a string `type`
/// and, for the text kinds, a string `text`.
fn parts(v: &Value, at: &str, text_kinds: &[&str]) -> Checked {
    for (i, part) in array(v, at)?.iter().enumerate() {
        let at = format!("{at}[{i}]");
        let p = object(part, &at)?;
        required_string(p, "type", &format!("{at}."))?;
        if p.get("type")
            .and_then(Value::as_str)
            .is_some_and(|t| text_kinds.contains(&t))
        {
            required_string(p, "text", &format!("{at}."))?;
        }
    }
    Ok(())
}

/// `POST /v1/messages` and `/v1/messages/count_tokens`.
pub fn anthropic(body: &Map<String, Value>) -> Checked {
    common(body)?;
    const TEXT: &[&str] = &["text"];
    if let Some(messages) = field(body, "messages") {
        for (i, m) in array(messages, "messages")?.iter().enumerate() {
            let at = format!("messages[{i}]");
            let o = object(m, &at)?;
            required_string(o, "role", &format!("{at}."))?;
            match o.get("content") {
                Some(Value::String(_)) => {}
                Some(c @ Value::Array(_)) => {
                    let at = format!("{at}.content");
                    parts(c, &at, TEXT)?;
                    for (j, block) in c.as_array().into_iter().flatten().enumerate() {
                        block_fields(block, &format!("{at}[{j}]"))?;
                    }
                }
                _ => {
                    return Err(bad(
                        &format!("{at}.content"),
                        "a string or an array of blocks",
                    ));
                }
            }
        }
    }
    match field(body, "system") {
        None | Some(Value::String(_)) => {}
        Some(s) => parts(s, "system", TEXT)?,
    }
    if let Some(tools) = field(body, "tools") {
        for (i, t) in array(tools, "tools")?.iter().enumerate() {
            let at = format!("tools[{i}]");
            let o = object(t, &at)?;
            required_string(o, "name", &format!("{at}."))?;
            string(o, "type", &format!("{at}."))?;
            if let Some(s) = field(o, "input_schema") {
                schema(s, &format!("{at}.input_schema"))?;
            }
        }
    }
    Ok(())
}

/// The fields of the Anthropic block kinds the proxy reads.
fn block_fields(block: &Value, at: &str) -> Checked {
    let Some(b) = block.as_object() else {
        return Ok(());
    };
    let at_ = format!("{at}.");
    match b.get("type").and_then(Value::as_str) {
        Some("tool_use" | "server_tool_use") => {
            required_string(b, "id", &at_)?;
            required_string(b, "name", &at_)?;
            if let Some(input) = field(b, "input") {
                object(input, &format!("{at}.input"))?;
            }
        }
        Some("tool_result") => {
            required_string(b, "tool_use_id", &at_)?;
            match field(b, "content") {
                None | Some(Value::String(_)) => {}
                Some(c) => parts(c, &format!("{at}.content"), &["text"])?,
            }
        }
        Some("thinking") => string(b, "thinking", &at_)?,
        Some("image" | "document") => {
            object(
                b.get("source").unwrap_or(&Value::Null),
                &format!("{at}.source"),
            )?;
        }
        _ => {}
    }
    Ok(())
}

/// `POST /v1/responses`.
pub fn responses(body: &Map<String, Value>) -> Checked {
    common(body)?;
    string(body, "instructions", "")?;
    string(body, "previous_response_id", "")?;
    match field(body, "input") {
        None | Some(Value::String(_)) => {}
        Some(items) => {
            for (i, item) in array(items, "input")?.iter().enumerate() {
                let at = format!("input[{i}]");
                let o = object(item, &at)?;
                let at_ = format!("{at}.");
                string(o, "type", &at_)?;
                string(o, "role", &at_)?;
                match o.get("type").and_then(Value::as_str) {
                    Some("function_call") => {
                        required_string(o, "call_id", &at_)?;
                        required_string(o, "name", &at_)?;
                        string(o, "arguments", &at_)?;
                    }
                    Some("function_call_output" | "custom_tool_call_output") => {
                        required_string(o, "call_id", &at_)?;
                    }
                    Some("custom_tool_call") => {
                        required_string(o, "call_id", &at_)?;
                        required_string(o, "name", &at_)?;
                        string(o, "input", &at_)?;
                    }
                    _ => {}
                }
                if o.contains_key("role") {
                    match o.get("content") {
                        Some(Value::String(_)) => {}
                        Some(c @ Value::Array(_)) => {
                            parts(c, &format!("{at}.content"), &["input_text", "output_text"])?
                        }
                        _ => {
                            return Err(bad(
                                &format!("{at}.content"),
                                "a string or an array of parts",
                            ));
                        }
                    }
                }
            }
        }
    }
    if let Some(tools) = field(body, "tools") {
        for (i, t) in array(tools, "tools")?.iter().enumerate() {
            let at = format!("tools[{i}]");
            let o = object(t, &at)?;
            required_string(o, "type", &format!("{at}."))?;
            string(o, "name", &format!("{at}."))?;
            if o.get("type").and_then(Value::as_str) == Some("function") {
                required_string(o, "name", &format!("{at}."))?;
            }
            if let Some(p) = field(o, "parameters") {
                schema(p, &format!("{at}.parameters"))?;
            }
        }
    }
    Ok(())
}

/// `POST /v1/embeddings`: `input` is a string, or an array of strings or of token arrays.
pub fn embeddings(body: &Map<String, Value>) -> Checked {
    common(body)?;
    match field(body, "input") {
        None | Some(Value::String(_)) => Ok(()),
        Some(Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                let ok = match item {
                    Value::String(_) | Value::Number(_) => true,
                    Value::Array(tokens) => tokens.iter().all(Value::is_u64),
                    _ => false,
                };
                if !ok {
                    return Err(bad(
                        &format!("input[{i}]"),
                        "a string or an array of tokens",
                    ));
                }
            }
            Ok(())
        }
        Some(_) => Err(bad("input", "a string or an array")),
    }
}

/// The message of the 400 a check answered (the tests of both shape modules).
#[cfg(test)]
pub(super) fn message(r: Checked) -> String {
    match r {
        Err(ApiError::BadRequest(m)) => m,
        other => panic!("{other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn names_the_place_of_a_wrong_type() {
        let msgs = map(
            json!({"messages": [{"role": "user", "content": [{"type": "tool_use", "id": "t", "name": 1, "input": {}}]}]}),
        );
        assert_eq!(
            message(anthropic(&msgs)),
            "`messages[0].content[0].name` must be a string"
        );
        let resp = map(json!({"input": [{"role": "user", "content": 3}]}));
        assert!(message(responses(&resp)).contains("input[0].content"));
        let emb = map(json!({"input": [{"x": 1}]}));
        assert!(message(embeddings(&emb)).contains("input[0]"));
        assert!(message(common(&map(json!({"temperature": 1e23})))).contains("temperature"));
        assert!(message(common(&map(json!({"model": "m".repeat(300)})))).contains("longer"));
    }

    #[test]
    fn lenient_where_clients_are() {
        // Unknown block types, unknown fields, nulls and string content all pass.
        let msgs = map(
            json!({"model": "claude", "max_tokens": 5, "system": "s", "metadata": {"x": 1},
            "messages": [{"role": "user", "content": [{"type": "tool_reference", "tool_name": "x"}, {"type": "text", "text": "a", "cache_control": {"type": "ephemeral"}}]},
                         {"role": "assistant", "content": "b"}],
            "tools": [{"type": "web_search_20250305", "name": "web_search", "max_uses": 5}]}),
        );
        assert!(anthropic(&msgs).is_ok());
        let resp = map(
            json!({"input": [{"type": "reasoning", "encrypted_content": "x", "summary": []}, {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "a"}]}],
            "tools": [{"type": "custom", "name": "apply_patch"}, {"type": "web_search"}]}),
        );
        assert!(responses(&resp).is_ok());
    }
}
