//! The shape of a `POST /v1/chat/completions` body, checked over its bytes (the Chat
//! pass-through keeps no tree): `messages` and `tools` through the lenient borrowed readers
//! of `protocol::chat_body`, the top-level scalars as a small map, with the same 400s, in
//! the same order, as the other APIs' checks in `shapes` give over a tree.

use super::shapes::{Checked, bad};
use crate::http::ApiError;
use crate::protocol::chat_body::{Content, Message, Tool};
use crate::protocol::lenient::{Kind, List, Obj, Shape, Str};
use serde_json::{Map, Value};

/// `POST /v1/chat/completions`, over the body's bytes: `head` holds its top-level scalars
/// (`ChatBody::head`), `messages` (checked by the route to be an array) and `tools` are
/// read leniently from the bytes.
pub fn chat(
    head: &Map<String, Value>,
    messages: &[Obj<Message>],
    tools: Option<&List<Obj<Tool>>>,
) -> Checked {
    super::shapes::common(head)?;
    for (i, m) in messages.iter().enumerate() {
        chat_message(m, &format!("messages[{i}]"))?;
    }
    match tools {
        None => {}
        Some(List::Not) => return Err(bad("tools", "an array")),
        Some(List::Is(tools)) => {
            for (i, t) in tools.iter().enumerate() {
                chat_tool(t, &format!("tools[{i}]"))?;
            }
        }
    }
    Ok(())
}

/// An optional string member of a Chat object.
fn optional_string(shape: Shape, at: &str, key: &str) -> Checked {
    match shape.optional(Kind::String) {
        true => Ok(()),
        false => Err(bad(&format!("{at}.{key}"), "a string")),
    }
}

fn chat_object<'t, T>(o: &'t Obj<T>, at: &str) -> Result<&'t T, ApiError> {
    o.get().ok_or_else(|| bad(at, "an object"))
}

fn chat_message(m: &Obj<Message>, at: &str) -> Checked {
    let m = chat_object(m, at)?;
    if let Some(Str::Not(_)) = m.role {
        return Err(bad(&format!("{at}.role"), "a string"));
    }
    optional_string(m.name, at, "name")?;
    optional_string(m.tool_call_id, at, "tool_call_id")?;
    match &m.content {
        None | Some(Content::Text) => {}
        Some(Content::Not) => return Err(bad(&format!("{at}.content"), "an array")),
        Some(Content::Parts(parts)) => {
            for (j, part) in parts.iter().enumerate() {
                let at = format!("{at}.content[{j}]");
                let p = chat_object(part, &at)?;
                let Some(kind) = p.kind() else {
                    return Err(bad(&format!("{at}.type"), "a string"));
                };
                if kind == "text" && p.text.0 != Kind::String {
                    return Err(bad(&format!("{at}.text"), "a string"));
                }
            }
        }
    }
    match &m.tool_calls {
        None => {}
        Some(List::Not) => return Err(bad(&format!("{at}.tool_calls"), "an array")),
        Some(List::Is(calls)) => {
            for (j, call) in calls.iter().enumerate() {
                let at = format!("{at}.tool_calls[{j}]");
                let c = chat_object(call, &at)?;
                optional_string(c.id, &at, "id")?;
                if let Some(f) = &c.function {
                    let at = format!("{at}.function");
                    let f = chat_object(f, &at)?;
                    optional_string(f.name, &at, "name")?;
                    optional_string(f.arguments, &at, "arguments")?;
                }
            }
        }
    }
    Ok(())
}

fn chat_tool(t: &Obj<Tool>, at: &str) -> Checked {
    let t = chat_object(t, at)?;
    if let Some(Str::Not(_)) = t.kind {
        return Err(bad(&format!("{at}.type"), "a string"));
    }
    match &t.function {
        Some(f) => {
            let at = format!("{at}.function");
            let f = chat_object(f, &at)?;
            if f.name.0 != Kind::String {
                return Err(bad(&format!("{at}.name"), "a string"));
            }
            if let Some(p) = &f.parameters {
                let at = format!("{at}.parameters");
                let schema = chat_object(p, &at)?;
                if !matches!(schema.kind.0, Kind::Absent | Kind::String | Kind::Array) {
                    return Err(bad(&format!("{at}.type"), "a string or an array"));
                }
            }
        }
        None if t.kind.as_ref().and_then(Str::as_str) == Some("function") => {
            return Err(bad(&format!("{at}.function"), "an object"));
        }
        None => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::shapes::message;
    use super::*;
    use serde_json::json;

    /// `chat` over a body's bytes, as the Chat route calls it.
    fn chat_checked(v: &Value) -> Checked {
        let bytes = v.to_string();
        let body = crate::protocol::chat_body::ChatBody::parse(bytes.as_bytes()).unwrap();
        let head = body.head(&["model", "stream", "temperature", "top_p", "max_tokens"]);
        let messages = match body.messages() {
            Some(List::Is(m)) => m,
            _ => Vec::new(),
        };
        chat(&head, &messages, body.tools().as_ref())
    }

    #[test]
    fn names_the_place_of_a_wrong_type() {
        let chat = json!({"model": "m", "messages": [{"role": "user", "content": [{"type": "text", "text": 5}]}]});
        assert_eq!(
            message(chat_checked(&chat)),
            "`messages[0].content[0].text` must be a string"
        );
        for (body, says) in [
            (
                json!({"messages": [{"role": "user", "content": 5}]}),
                "`messages[0].content` must be an array",
            ),
            (
                json!({"messages": [{"role": "user", "name": 5}]}),
                "`messages[0].name` must be a string",
            ),
            (
                json!({"messages": [{"role": "user", "content": [7]}]}),
                "`messages[0].content[0]` must be an object",
            ),
            (
                json!({"messages": [{"role": "user", "content": [{"type": null}]}]}),
                "`messages[0].content[0].type` must be a string",
            ),
            (
                json!({"messages": [{"role": "assistant", "tool_calls": {}}]}),
                "`messages[0].tool_calls` must be an array",
            ),
            (
                json!({"messages": [{"role": "assistant", "tool_calls": [{"id": 1}]}]}),
                "`messages[0].tool_calls[0].id` must be a string",
            ),
            (
                json!({"messages": [{"role": "assistant", "tool_calls": [{"function": {"arguments": {}}}]}]}),
                "`messages[0].tool_calls[0].function.arguments` must be a string",
            ),
            (
                json!({"messages": [{"role": "assistant", "tool_calls": [{"function": 3}]}]}),
                "`messages[0].tool_calls[0].function` must be an object",
            ),
            (json!({"tools": {}}), "`tools` must be an array"),
            (
                json!({"tools": [{"type": "function"}]}),
                "`tools[0].function` must be an object",
            ),
            (
                json!({"tools": [{"type": 1}]}),
                "`tools[0].type` must be a string",
            ),
            (
                json!({"tools": [{"type": "function", "function": {"name": null}}]}),
                "`tools[0].function.name` must be a string",
            ),
            (
                json!({"tools": [{"function": {"name": "f", "parameters": []}}]}),
                "`tools[0].function.parameters` must be an object",
            ),
            (
                json!({"tools": [{"function": {"name": "f", "parameters": {"type": null}}}]}),
                "`tools[0].function.parameters.type` must be a string or an array",
            ),
            (
                json!({"temperature": 3}),
                "`temperature` must be a number from 0 to 2",
            ),
        ] {
            assert_eq!(message(chat_checked(&body)), says, "{body}");
        }
    }

    #[test]
    fn lenient_where_clients_are() {
        let chat = json!({"messages": [{"role": "assistant", "content": null, "tool_calls": [{"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}]}],
            "tools": [{"type": "function", "function": {"name": "f"}}], "temperature": null});
        assert!(chat_checked(&chat).is_ok());
    }
}
