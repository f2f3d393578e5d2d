//! Who a turn is billed to: a new user prompt (`user`) or the agent continuing (`agent`),
//! by each inbound API's own rule. The routes set `X-Initiator` from it and the `--manual`
//! prompt shows it; it lives here, below both, so neither imports the other for it.

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
        Api::Messages => crate::translate::anthropic_request::user_turn(messages),
        Api::Responses => last_item_is_user(body.get("input").unwrap_or(&Value::Null)),
    }
}

/// A new user prompt is billed as `user`; a turn that only returns tool results (or any
/// turn not ending with a user message) is the agent continuing.
pub fn last_turn_is_user(messages: &[Value]) -> bool {
    let last = messages.iter().rev().find(|m| {
        !matches!(
            m.get("role").and_then(Value::as_str),
            Some("system" | "developer")
        )
    });
    last.and_then(|m| m.get("role")).and_then(Value::as_str) == Some("user")
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
