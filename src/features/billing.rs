//! Who a turn is billed to: a new user prompt (`user`) or the agent continuing (`agent`),
//! by each inbound API's own rule. The routes set `X-Initiator` from it and the `--manual`
//! prompt shows it; it lives here, below both, so neither imports the other for it. Also
//! what the latest user turn says (the `--manual` prompt and the web-search preflight).

use crate::routing::Api;
use serde_json::{Map, Value};

/// Whether the latest turn is a new user prompt (billed `user`) rather than the agent
/// continuing, by the inbound API's own rule (for the `--manual` prompt).
pub fn billed_as_user(api: Api, body: &Map<String, Value>) -> bool {
    let messages = body
        .get("messages")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    match api {
        Api::Chat => last_turn_is_user(messages),
        Api::Messages => anthropic_user_turn(messages),
        Api::Responses => last_item_is_user(body.get("input").unwrap_or(&Value::Null)),
    }
}

/// A new user prompt is billed as `user`; a turn that only returns tool results (or any
/// turn not ending with a user message) is the agent continuing.
pub fn last_turn_is_user(messages: &[Value]) -> bool {
    last_role_is_user(
        messages
            .iter()
            .map(|m| m.get("role").and_then(Value::as_str)),
    )
}

/// `last_turn_is_user` over the messages' roles (None where a message has no string role),
/// for a body read without a tree.
pub fn last_role_is_user<'r>(roles: impl DoubleEndedIterator<Item = Option<&'r str>>) -> bool {
    let last = roles
        .rev()
        .find(|role| !matches!(role, Some("system" | "developer")));
    last.flatten() == Some("user")
}

/// Anthropic Messages: the last user message is a new prompt: it carries something and no tool result. A turn
/// answering tools (even with a reminder beside them) is the agent's.
pub fn anthropic_user_turn(messages: &[Value]) -> bool {
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
            !blocks.is_empty()
                && !blocks
                    .iter()
                    .any(|b| b.get("type").and_then(Value::as_str) == Some("tool_result"))
        }
        _ => false,
    }
}

/// The latest input item is a user message (a new prompt), not a tool output.
pub fn last_item_is_user(input: &Value) -> bool {
    let Some(items) = input.as_array() else {
        return true;
    };
    let Some(last) = items.iter().rev().find(|i| {
        !matches!(
            i.get("role").and_then(Value::as_str),
            Some("system" | "developer")
        )
    }) else {
        return true;
    };
    match last.get("role").and_then(Value::as_str) {
        Some(role) => role == "user",
        None => last.get("type").and_then(Value::as_str) == Some("message"),
    }
}

/// The text of the latest user message or input item (a string, or its text parts) of a
/// `messages` or `input` array: for the `--manual` prompt and the web-search preflight.
pub fn latest_user_text(items: Option<&Value>) -> String {
    let item = match items {
        Some(Value::String(s)) => return s.clone(),
        Some(Value::Array(a)) => a
            .iter()
            .rev()
            .find(|m| m.get("role").and_then(Value::as_str) == Some("user")),
        _ => None,
    };
    match item.and_then(|m| m.get("content")) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(parts)) => parts
            .iter()
            .filter(|p| {
                matches!(
                    p.get("type").and_then(Value::as_str),
                    Some("text" | "input_text")
                )
            })
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join(" "),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn latest_user_text_of_each_api() {
        let chat = json!([{"role": "user", "content": "first"}, {"role": "assistant", "content": "a"},
                          {"role": "user", "content": [{"type": "text", "text": "second"}]}]);
        assert_eq!(latest_user_text(Some(&chat)), "second");
        let responses = json!([{"type": "message", "role": "user",
                                "content": [{"type": "input_text", "text": "go"}]}]);
        assert_eq!(latest_user_text(Some(&responses)), "go");
        assert_eq!(latest_user_text(Some(&json!("plain"))), "plain");
        assert_eq!(latest_user_text(None), "");
    }
}
