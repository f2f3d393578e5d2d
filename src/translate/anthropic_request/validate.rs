//! The checks an Anthropic Messages request passes before it is read as
//! `protocol::anthropic_request::MessagesRequest`: the types the Anthropic API insists on,
//! each failure a message naming the field (`messages.3.content.0: ...`) for an Anthropic
//! 400. Unknown fields are not checked; they are ignored.

use serde_json::{Map, Value};

/// Types of everything the translator reads, checked on the JSON body so that a 400 names
/// the field as the client wrote it.
pub(super) fn validate(req: &Map<String, Value>) -> Result<(), String> {
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
    Ok(())
}

/// A field, its type test, and the type as named in the error.
type Check = (&'static str, fn(&Value) -> bool, &'static str);

fn is_string_array(v: &Value) -> bool {
    v.as_array().is_some_and(|a| a.iter().all(Value::is_string))
}
