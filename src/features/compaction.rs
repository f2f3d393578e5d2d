//! Remote compaction for Codex, the pure part: the items, the opaque `encrypted_content`
//! the proxy writes and reads back, and the summary request's prompt. The calls are in
//! `routes/compact.rs`.
//!
//! Codex compacts a long session remotely in two forms (codex-rs/core/src/compact_remote.rs
//! and compact_remote_v2.rs): `POST {base}/responses/compact` with `{model, input,
//! instructions, …}`, answered `{"output": [retained user messages…, compaction item]}`
//! (`CompactHistoryResponse`, codex-rs/codex-api/src/endpoint/compact.rs); and (v2) an
//! ordinary streamed Responses request whose `input` ends in `{"type":"compaction_trigger"}`,
//! answered with exactly one `{"type":"compaction","encrypted_content":…}` output item. Codex
//! keeps that item and sends it back in later requests; it never reads it.
//!
//! When the proxy compacts, `encrypted_content` is the summary, base64 behind our own
//! prefix: opaque to Codex, readable by us, so a later request carrying it has it expanded
//! into the summary (as a user message) before it goes upstream.

use serde_json::{Value, json};

/// Marks a compaction item the proxy wrote (Copilot's own start differently).
const PREFIX: &str = "copilot-api.compaction.v1.";

/// How much of the user's own messages a proxy-made `/responses/compact` answer keeps
/// (the most recent first), in characters: about 64 k tokens, as Codex's own budget
/// (`RETAINED_MESSAGE_TOKEN_BUDGET` in compact_remote_v2.rs).
const RETAINED_CHARS: usize = 256 * 1024;

/// What the model is asked to write. Our own wording.
pub const PROMPT: &str = "The conversation above is about to be cut to save context. Write \
the handoff note that will replace it, so that you (or another assistant) can continue the \
work seamlessly from the note alone. Include: the user's goal and every explicit request or \
constraint they gave; what has been done so far and the current state (files created or \
changed with their paths, commands run and their important results, decisions made and why); \
errors met and how they were resolved or what is still failing; and the exact next steps. \
Keep names, paths, identifiers and numbers exact. Write only the note, in plain text or \
Markdown, with no preamble.";

/// How an expanded summary is introduced to the model.
const SUMMARY_HEAD: &str =
    "Summary of the earlier part of this conversation (it was compacted to save context):\n\n";

/// `compaction_trigger` is the last input item (Codex puts it at the end; anywhere counts).
pub fn has_trigger(items: &[Value]) -> bool {
    items.iter().any(is_trigger)
}

fn is_trigger(item: &Value) -> bool {
    item.get("type").and_then(Value::as_str) == Some("compaction_trigger")
}

fn is_compaction(item: &Value) -> bool {
    matches!(
        item.get("type").and_then(Value::as_str),
        Some("compaction" | "compaction_summary")
    )
}

/// The input without its `compaction_trigger`.
pub fn without_trigger(items: &[Value]) -> Vec<Value> {
    items.iter().filter(|i| !is_trigger(i)).cloned().collect()
}

pub fn encode(summary: &str) -> String {
    format!("{PREFIX}{}", crate::base64::encode(summary.as_bytes()))
}

/// The summary inside a compaction item the proxy wrote; None for anyone else's.
pub fn decode(encrypted_content: &str) -> Option<String> {
    let bytes = crate::base64::decode(encrypted_content.strip_prefix(PREFIX)?)?;
    String::from_utf8(bytes).ok()
}

/// The output item that answers a compaction.
pub fn compaction_item(summary: &str) -> Value {
    json!({
        "type": "compaction",
        "id": format!("cmp_{:016x}", crate::ids::random_u64()),
        "encrypted_content": encode(summary),
    })
}

/// Replaces each compaction item the proxy wrote by its summary, as a user message. A
/// compaction item from Copilot is kept when the request goes to Copilot's `/responses`
/// (`keep_foreign`), which can read it, and dropped otherwise (a translated model cannot).
/// Returns how many were expanded.
pub fn expand(items: &mut Vec<Value>, keep_foreign: bool) -> usize {
    let mut expanded = 0;
    let mut out = Vec::with_capacity(items.len());
    for item in items.drain(..) {
        if !is_compaction(&item) {
            out.push(item);
            continue;
        }
        let ours = item
            .get("encrypted_content")
            .and_then(Value::as_str)
            .and_then(decode);
        match ours {
            Some(summary) => {
                expanded += 1;
                out.push(user_message(&format!("{SUMMARY_HEAD}{summary}")));
            }
            None if keep_foreign => out.push(item),
            None => crate::warn!(
                "a compaction item from another server was dropped: this model cannot read it"
            ),
        }
    }
    *items = out;
    expanded
}

fn user_message(text: &str) -> Value {
    json!({"type": "message", "role": "user",
           "content": [{"type": "input_text", "text": text}]})
}

/// The input of the summary request: the conversation, then the request for the note.
pub fn summary_input(items: &[Value]) -> Vec<Value> {
    let mut input = without_trigger(items);
    input.push(user_message(PROMPT));
    input
}

/// The text of a Responses answer's `message` output items.
pub fn output_text(response: &Value) -> String {
    let mut text = String::new();
    for item in response
        .get("output")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|i| i.get("type").and_then(Value::as_str) == Some("message"))
    {
        for part in item
            .get("content")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(t) = part.get("text").and_then(Value::as_str) {
                text.push_str(t);
            }
        }
    }
    text
}

/// The user's own messages a `/responses/compact` answer keeps before the compaction item,
/// most recent within `RETAINED_CHARS`, in their order. Codex filters them further (it
/// drops its injected context) and appends the compaction item's expansion point.
pub fn retained_user_messages(items: &[Value]) -> Vec<Value> {
    let mut kept = Vec::new();
    let mut used = 0;
    for item in items.iter().rev() {
        let is_user = item.get("role").and_then(Value::as_str) == Some("user")
            && item
                .get("type")
                .and_then(Value::as_str)
                .unwrap_or("message")
                == "message";
        if !is_user {
            continue;
        }
        let size = item.to_string().len();
        if used + size > RETAINED_CHARS {
            break;
        }
        used += size;
        kept.push(item.clone());
    }
    kept.reverse();
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_items_round_trip_and_others_are_not_ours() {
        let item = compaction_item("Goal: ship it. Next: run tests — ünïcode ok.");
        let content = item["encrypted_content"].as_str().unwrap();
        assert!(!content.contains("ship"), "opaque: {content}");
        assert_eq!(
            decode(content).as_deref(),
            Some("Goal: ship it. Next: run tests — ünïcode ok.")
        );
        assert_eq!(decode("gAAAAABcopilot-made"), None);
        assert_eq!(decode("copilot-api.compaction.v1.%%%"), None);
    }

    #[test]
    fn expansion_keeps_or_drops_foreign_items() {
        let ours = compaction_item("the note");
        let foreign = json!({"type": "compaction", "encrypted_content": "gAAAAB-upstream"});
        let user = user_message("next question");
        let mut items = vec![ours.clone(), foreign.clone(), user.clone()];
        assert_eq!(expand(&mut items, true), 1);
        assert_eq!(items.len(), 3);
        assert!(items[0].to_string().contains("the note"));
        assert_eq!(items[1], foreign);
        let mut items = vec![ours, foreign, user.clone()];
        expand(&mut items, false);
        assert_eq!(items.len(), 2);
        assert_eq!(items[1], user);
    }

    #[test]
    fn triggers_summary_input_and_retained_messages() {
        let items = vec![
            user_message("first"),
            json!({"type": "function_call", "call_id": "c", "name": "x", "arguments": "{}"}),
            json!({"type": "message", "role": "developer", "content": "rules"}),
            user_message("second"),
            json!({"type": "compaction_trigger"}),
        ];
        assert!(has_trigger(&items));
        assert!(!has_trigger(&without_trigger(&items)));
        let input = summary_input(&items);
        assert_eq!(input.len(), 5);
        assert!(input[4].to_string().contains("handoff note"));
        let kept = retained_user_messages(&items);
        assert_eq!(kept, [user_message("first"), user_message("second")]);
        let response = json!({"output": [
            {"type": "reasoning", "summary": []},
            {"type": "message", "content": [{"type": "output_text", "text": "a"},
                                            {"type": "output_text", "text": "b"}]}]});
        assert_eq!(output_text(&response), "ab");
    }
}
