//! Chat Completions response -> Anthropic `message` (reference §3, with §10 fixed).
//!
//! Copilot splits a Claude answer across several `choices` (text in one, tool calls in
//! another), so every choice is read. Reasoning becomes `thinking` with its signature (or
//! `redacted_thinking` when only the opaque token came), placed first as Anthropic does;
//! `stop_reason` is never null. The helpers for ids, stop reasons and usage are shared with
//! the stream translator.

use super::tool_names::ToolNames;
use crate::protocol::anthropic::{Block, Message, Usage};
use crate::protocol::chat_chunk::{Arguments, Chunk, Delta, Usage as ChatUsage};
use serde_json::{Value, json};

/// The Anthropic message for a Chat completion, owned (it outlives the upstream body):
/// the web-search loop edits its fields before it is written.
pub fn from_chat(chat: &Chunk, requested_model: &str, tools: &ToolNames) -> Message<'static> {
    let mut thinking = Vec::new();
    let mut text = Vec::new();
    let mut uses = Vec::new();
    let mut finishes = Vec::new();
    let mut truncated = false;
    for choice in &chat.choices.0 {
        if let Some(m) = choice.message() {
            thinking.extend(reasoning_block(m));
            let texts = m.content.texts().into_iter().chain(m.refusal.get());
            text.extend(texts.map(|t| Block::text(t.to_string())));
            for call in &m.tool_calls.0 {
                let f = &call.function.0;
                let (input, complete) = parse_arguments(&f.arguments);
                truncated |= !complete;
                let id = call.id.get().map_or_else(tool_use_id, str::to_string);
                let name = tools.to_client(f.name.get().unwrap_or(""));
                uses.push(Block::tool_use(id, name, Some(input)));
            }
        }
        if let Some(f) = choice.finish_reason.get() {
            finishes.push(f.to_string());
        }
    }
    let stop = stop_reason(&finishes, !uses.is_empty(), truncated);
    let id = message_id(chat.id.get());
    let mut message = Message::new(
        id,
        requested_model.to_string(),
        usage(chat.usage.as_ref(), 0),
    );
    message.content = thinking.into_iter().chain(text).chain(uses).collect();
    message.stop_reason = Some(stop.into());
    message
}

/// Reasoning (`Delta::reasoning` decides its field) with its `reasoning_opaque` as the
/// signature; an opaque token alone is redacted thinking.
fn reasoning_block(m: &Delta) -> Option<Block<'static>> {
    let own = |s: &str| s.to_string();
    match (m.reasoning(), m.reasoning_opaque.nonempty()) {
        (Some(t), o) => Some(Block::thinking(own(t), own(o.unwrap_or("")))),
        (None, Some(o)) => Some(Block::redacted_thinking(own(o))),
        (None, None) => None,
    }
}

/// Tool arguments as an input object, and whether they were complete. Empty arguments are
/// `{}`; arguments that do not parse (cut off by the token limit) are `{}` too, so a
/// half-written command is never handed to the client to run, and count as truncation.
pub(crate) fn parse_arguments(args: &Arguments) -> (Value, bool) {
    match args {
        Arguments::Text(s) => parse_argument_text(s),
        Arguments::Object(o) => (o.clone(), true),
        Arguments::Absent => (json!({}), true),
    }
}

/// `parse_arguments` for the accumulated text of a streamed call.
pub(crate) fn parse_argument_text(raw: &str) -> (Value, bool) {
    if raw.trim().is_empty() {
        return (json!({}), true);
    }
    match serde_json::from_str::<Value>(raw) {
        Ok(v @ Value::Object(_)) => (v, true),
        Ok(_) => (json!({}), true),
        Err(_) => (json!({}), false),
    }
}

/// The Anthropic stop reason for the finish reasons of every choice. Hitting the output
/// limit wins (a cut-off tool call is not a tool call to run), then tool use.
pub(crate) fn stop_reason(finishes: &[String], has_tools: bool, truncated: bool) -> &'static str {
    let any = |r: &str| finishes.iter().any(|f| f == r);
    if truncated || any("length") {
        "max_tokens"
    } else if has_tools {
        "tool_use"
    } else if any("content_filter") {
        "refusal"
    } else {
        "end_turn"
    }
}

/// Anthropic usage from Chat usage: input excludes cached (and cache-written) tokens, which
/// are reported apart. Without usage, the input is the caller's estimate.
pub(crate) fn usage(u: Option<&ChatUsage>, input_estimate: u64) -> Usage {
    let Some(u) = u else {
        return Usage::estimate(input_estimate);
    };
    let details = &u.prompt_tokens_details.0;
    let (cached, written) = (
        details.cached_tokens.0,
        details.cache_creation_input_tokens.0,
    );
    Usage {
        cache_creation_input_tokens: written,
        cache_read_input_tokens: cached,
        input_tokens: (u.prompt_tokens.0.unwrap_or(0))
            .saturating_sub(cached.unwrap_or(0))
            .saturating_sub(written.unwrap_or(0)),
        output_tokens: u.completion_tokens.0.unwrap_or(0),
        server_tool_use: None,
    }
}

/// `msg_` + the upstream id (Claude Code keys its history on the prefix), or a fresh one.
pub(crate) fn message_id(upstream: Option<&str>) -> String {
    match upstream.filter(|s| !s.is_empty()) {
        Some(id) if id.starts_with("msg_") => id.to_string(),
        Some(id) => format!("msg_{id}"),
        None => format!("msg_{}", random_hex()),
    }
}

/// A tool-use id for a call upstream sent without one.
pub(crate) fn tool_use_id() -> String {
    format!("toolu_{}", random_hex())
}

fn random_hex() -> String {
    format!(
        "{:016x}{:08x}",
        crate::ids::random_u64(),
        crate::ids::random_u64() as u32
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    /// The answer as the client reads it, read from the completion's bytes.
    fn from_chat(resp: &Value, requested_model: &str, tools: &ToolNames) -> Value {
        let bytes = serde_json::to_vec(resp).unwrap();
        let mut tree = None;
        let chat = crate::protocol::chat_chunk::read(&bytes, &mut tree);
        serde_json::to_value(super::from_chat(&chat, requested_model, tools)).unwrap()
    }

    #[test]
    fn merges_choices_thinking_text_then_tools() {
        // Copilot's split Claude answer: text in one choice, the tool call in another.
        let names = ToolNames::from_names(["mcp__a.b__c"]);
        let resp_of = |v: &Value| {
            let chat = Chunk::from_value(v);
            let typed =
                serde_json::to_string(&super::from_chat(&chat, "claude-sonnet-4-5", &names));
            // The bytes a client gets are those of the tree, keys in the same order.
            let tree = from_chat(v, "claude-sonnet-4-5", &names);
            assert_eq!(typed.unwrap(), tree.to_string());
        };
        let resp = json!({
            "id": "chatcmpl-1", "model": "claude-sonnet-4.5",
            "choices": [
                {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "Let me check.",
                  "reasoning_text": "The user wants x.", "reasoning_opaque": "EqQBsig"}},
                {"index": 1, "finish_reason": "tool_calls", "message": {"role": "assistant", "content": "",
                  "tool_calls": [{"id": "toolu_1", "type": "function", "function": {"name": "mcp__a_b__c", "arguments": "{\"q\":1}"}}]}}
            ],
            "usage": {"prompt_tokens": 100, "completion_tokens": 20, "prompt_tokens_details": {"cached_tokens": 30}}
        });
        resp_of(&resp);
        assert_eq!(
            from_chat(&resp, "claude-sonnet-4-5", &names),
            json!({
                "id": "msg_chatcmpl-1", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5",
                "content": [
                    {"type": "thinking", "thinking": "The user wants x.", "signature": "EqQBsig"},
                    {"type": "text", "text": "Let me check."},
                    {"type": "tool_use", "id": "toolu_1", "name": "mcp__a.b__c", "input": {"q": 1}}
                ],
                "stop_reason": "tool_use", "stop_sequence": null,
                "usage": {"input_tokens": 70, "output_tokens": 20, "cache_read_input_tokens": 30}
            })
        );
    }

    #[test]
    fn reference_example_without_the_empty_text_block() {
        let resp = json!({"id": "c", "choices": [{"finish_reason": "stop", "message": {"content": "",
            "tool_calls": [{"id": "x", "function": {"name": "f", "arguments": "{\"a\":1}"}}]}}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 2, "prompt_tokens_details": {"cached_tokens": 4}}});
        assert_eq!(
            from_chat(&resp, "m", &ToolNames::default()),
            json!({"id": "msg_c", "type": "message", "role": "assistant", "model": "m",
                   "content": [{"type": "tool_use", "id": "x", "name": "f", "input": {"a": 1}}],
                   "stop_reason": "tool_use", "stop_sequence": null,
                   "usage": {"input_tokens": 6, "output_tokens": 2, "cache_read_input_tokens": 4}})
        );
    }

    #[test]
    fn stop_reasons_by_case() {
        let s = |f: &[&str], tools, cut| {
            stop_reason(
                &f.iter().map(|x| x.to_string()).collect::<Vec<_>>(),
                tools,
                cut,
            )
        };
        let cases: &[(&[&str], bool, bool, &str)] = &[
            (&["stop"], false, false, "end_turn"),
            (&[], false, false, "end_turn"),
            (&["STOP"], false, false, "end_turn"),
            (&["length"], false, false, "max_tokens"),
            (&["tool_calls"], true, false, "tool_use"),
            (&["stop"], true, false, "tool_use"),
            (&["tool_calls"], false, false, "end_turn"),
            (&["content_filter"], false, false, "refusal"),
            (&["length"], true, false, "max_tokens"),
            (&["tool_calls"], true, true, "max_tokens"),
            (&["stop", "tool_calls"], true, false, "tool_use"),
        ];
        for (f, tools, cut, want) in cases {
            assert_eq!(s(f, *tools, *cut), *want, "{f:?} {tools} {cut}");
        }
    }

    #[test]
    fn arguments_by_case() {
        let cases: Vec<(Value, Value, bool)> = vec![
            (json!("{\"a\":1}"), json!({"a": 1}), true),
            (json!(""), json!({}), true),
            (json!("  "), json!({}), true),
            (Value::Null, json!({}), true),
            (json!("[1]"), json!({}), true),
            (json!({"a": 1}), json!({"a": 1}), true),
            (
                json!("{\"file_path\":\"a\",\"content\":\"abc"),
                json!({}),
                false,
            ),
        ];
        for (args, want, complete) in cases {
            let typed = Arguments::deserialize(&args).unwrap();
            assert_eq!(parse_arguments(&typed), (want, complete), "{args}");
        }
    }

    #[test]
    fn truncated_tool_call_is_max_tokens_with_empty_input() {
        let resp = json!({"choices": [{"finish_reason": "length", "message": {"content": "x",
            "tool_calls": [{"id": "w", "function": {"name": "Write", "arguments": "{\"file_path\":\"a\",\"content\":\"abc"}}]}}]});
        let m = from_chat(&resp, "m", &ToolNames::default());
        assert_eq!(m["stop_reason"], "max_tokens");
        assert_eq!(m["content"][1]["input"], json!({}));
        assert!(m["id"].as_str().unwrap().starts_with("msg_"));
        assert_eq!(m["usage"], json!({"input_tokens": 0, "output_tokens": 0}));
    }

    #[test]
    fn reasoning_variants_and_refusal() {
        let one = |m: Value| {
            from_chat(
                &json!({"choices": [{"message": m}]}),
                "m",
                &ToolNames::default(),
            )["content"]
                .clone()
        };
        assert_eq!(
            one(json!({"reasoning_opaque": "enc", "content": "hi"})),
            json!([{"type": "redacted_thinking", "data": "enc"}, {"type": "text", "text": "hi"}])
        );
        assert_eq!(
            one(json!({"reasoning_content": "why", "content": null})),
            json!([{"type": "thinking", "thinking": "why", "signature": ""}])
        );
        assert_eq!(one(json!({"content": ""})), json!([]));
        assert_eq!(
            one(json!({"content": null, "refusal": "I can't."})),
            json!([{"type": "text", "text": "I can't."}])
        );
        let r = from_chat(
            &json!({"choices": [{"finish_reason": "content_filter", "message": {"content": null}}]}),
            "m",
            &ToolNames::default(),
        );
        assert_eq!(r["stop_reason"], "refusal");
    }

    #[test]
    fn ids_and_usage() {
        assert_eq!(message_id(Some("msg_x")), "msg_x");
        assert_eq!(message_id(Some("abc")), "msg_abc");
        assert_ne!(message_id(None), message_id(Some("")));
        assert!(tool_use_id().starts_with("toolu_"));
        let usage = |u: Option<Value>, e| {
            let u = u.map(|u| ChatUsage::deserialize(&u).unwrap());
            serde_json::to_value(usage(u.as_ref(), e)).unwrap()
        };
        assert_eq!(
            usage(
                Some(json!({"prompt_tokens": 50, "completion_tokens": 5,
                "prompt_tokens_details": {"cached_tokens": 10, "cache_creation_input_tokens": 15}})),
                7
            ),
            json!({"input_tokens": 25, "output_tokens": 5, "cache_read_input_tokens": 10, "cache_creation_input_tokens": 15})
        );
        assert_eq!(
            usage(Some(json!({"prompt_tokens": 3})), 7),
            json!({"input_tokens": 3, "output_tokens": 0})
        );
        assert_eq!(
            usage(None, 7),
            json!({"input_tokens": 7, "output_tokens": 0})
        );
    }
}
