//! Invariants Copilot enforces on a Chat Completions message list, restored after
//! translation: every tool call answered by a tool message right after its turn, no tool
//! message without its call, no two adjacent messages of one role, and a user (or tool)
//! message last. Clients break these after an interrupted tool run, a cancelled turn or a
//! compaction; Copilot answers such a list with a 400 that no retry can fix. Every path
//! into the Chat pivot runs its messages through `normalize`.

use super::anthropic_messages::join_nonempty;
use crate::protocol::chat_request::{Content, Message, Part, Role};
use std::collections::HashSet;

/// Appended after a trailing assistant message (a prefill), which Copilot rejects.
const CONTINUE: &str = "Please continue.";

/// Applies every invariant; `missing_result` answers a tool call the client sent no
/// result for (each client protocol words it its own way). Merging runs first so that an
/// assistant turn split in two (text, then tool calls) is whole before its results are
/// paired, and again after, for orphaned results turned into user messages.
pub(crate) fn normalize(messages: Vec<Message>, missing_result: &str) -> Vec<Message> {
    let messages = merge_same_role(messages);
    let mut messages = merge_same_role(pair_tool_calls(messages, missing_result, Trailing::Drop));
    ensure_ends_with_user(&mut messages);
    messages
}

/// Only the pairing of tool calls with their results, for the Responses path: its
/// messages keep the turns and roles the client's items had (Codex sends its context and
/// its prompt as two user messages, an answer and its reasoning as separate turns), and a
/// call the conversation ends with is answered with `missing_result` too, since the
/// client's own history holds that call.
pub(crate) fn pair_results(messages: Vec<Message>, missing_result: &str) -> Vec<Message> {
    pair_tool_calls(messages, missing_result, Trailing::Answer)
}

/// What becomes of calls without a result in the last turn of the conversation.
#[derive(Clone, Copy, PartialEq)]
enum Trailing {
    /// Dropped: the client has not run them yet (an interrupted Anthropic tool turn).
    Drop,
    /// Answered with the placeholder, like calls without a result anywhere else.
    Answer,
}

fn result_id(m: &Message) -> &str {
    m.tool_call_id.as_deref().unwrap_or("")
}

/// Each assistant turn with tool calls is followed by exactly one tool message per call.
/// Results for unknown or already answered ids become user text (or go, when empty);
/// calls without a result get a placeholder when the conversation goes on, and are dropped
/// when the conversation ends with them, so upstream never believes a tool ran that did
/// not (reference §10.9) — unless `trailing` asks for them to be answered.
fn pair_tool_calls(
    messages: Vec<Message>,
    missing_result: &str,
    trailing: Trailing,
) -> Vec<Message> {
    let mut out = Vec::with_capacity(messages.len());
    let mut rest = messages.into_iter().peekable();
    while let Some(mut m) = rest.next() {
        if m.role == Role::Tool {
            orphan(m, &mut out);
            continue;
        }
        let ids: Vec<String> = m.call_ids().map(str::to_string).collect();
        if m.role != Role::Assistant || ids.is_empty() {
            out.push(m);
            continue;
        }
        let mut results = Vec::new();
        let mut strays = Vec::new();
        let mut answered = HashSet::new();
        while let Some(t) = rest.next_if(|n| n.role == Role::Tool) {
            if ids.iter().any(|id| id == result_id(&t))
                && answered.insert(result_id(&t).to_string())
            {
                results.push(t);
            } else {
                strays.push(t);
            }
        }
        let missing: Vec<&String> = ids.iter().filter(|id| !answered.contains(*id)).collect();
        if !missing.is_empty() && rest.peek().is_none() && trailing == Trailing::Drop {
            crate::warn!(
                "dropped {} trailing tool call(s) that have no result: {missing:?}",
                missing.len()
            );
            let missing: HashSet<String> = missing.into_iter().cloned().collect();
            drop_calls(&mut m, &missing);
        } else if !missing.is_empty() {
            crate::warn!(
                "{} tool call(s) have no tool_result; answered with a placeholder: {missing:?}",
                missing.len()
            );
            for id in missing {
                results.push(Message::tool_result(id.as_str(), missing_result));
            }
        }
        if has_substance(&m) {
            out.push(m);
        }
        out.append(&mut results);
        for s in strays {
            orphan(s, &mut out);
        }
    }
    out
}

/// A tool message that answers no call of the turn before it: its content survives as user
/// text, an empty one is dropped.
fn orphan(m: Message, out: &mut Vec<Message>) {
    let id = result_id(&m).to_string();
    let content = m.content.unwrap_or(Content::Null);
    let blank = match &content {
        Content::Text(s) => s.trim().is_empty(),
        Content::Parts(p) => p.is_empty(),
        Content::Null => true,
    };
    if blank {
        crate::warn!("dropped an empty tool_result `{id}` that answers no tool call");
    } else {
        crate::warn!(
            "tool_result `{id}` answers no tool call of the turn before; sent as user text"
        );
        out.push(Message::new(Role::User, content));
    }
}

fn drop_calls(m: &mut Message, ids: &HashSet<String>) {
    if let Some(calls) = &mut m.tool_calls {
        calls.retain(|c| !ids.contains(&c.id));
        if calls.is_empty() {
            m.tool_calls = None;
            if matches!(m.content, None | Some(Content::Null)) {
                m.content = Some(Content::Text(String::new()));
            }
        }
    }
}

/// An assistant message left with no text and no tool calls says nothing.
fn has_substance(m: &Message) -> bool {
    m.content.as_ref().is_some_and(|c| !c.is_empty()) || m.tool_calls.is_some()
}

/// Adjacent messages of the same role (tool messages excepted) become one; text is joined
/// and image parts are kept (reference §10.7 dropped them), tool calls concatenated.
fn merge_same_role(messages: Vec<Message>) -> Vec<Message> {
    let mut out: Vec<Message> = Vec::with_capacity(messages.len());
    for m in messages {
        match out.last_mut() {
            Some(prev) if prev.role == m.role && m.role != Role::Tool => merge_into(prev, m),
            _ => out.push(m),
        }
    }
    out
}

/// Folds `next` into `prev`: content, tool calls and reasoning; `next`'s other fields go.
fn merge_into(prev: &mut Message, next: Message) {
    let a = prev.content.take().unwrap_or(Content::Null);
    let b = next.content.unwrap_or(Content::Null);
    prev.content = Some(merge_content(a, b));
    if let Some(more) = next.tool_calls {
        prev.tool_calls.get_or_insert_with(Vec::new).extend(more);
    }
    if let Some(more) = next.reasoning_text {
        let before = prev.reasoning_text.as_deref().unwrap_or("");
        prev.reasoning_text = Some(join_nonempty([before, more.as_str()]));
    }
    if prev.reasoning_opaque.is_none() {
        prev.reasoning_opaque = next.reasoning_opaque;
    }
}

fn merge_content(a: Content, b: Content) -> Content {
    match (a, b) {
        (Content::Null, Content::Null) => Content::Null,
        (a @ (Content::Text(_) | Content::Null), b @ (Content::Text(_) | Content::Null)) => {
            let text = join_nonempty([a.as_text().unwrap_or(""), b.as_text().unwrap_or("")]);
            if text.is_empty() && (a == Content::Null || b == Content::Null) {
                Content::Null
            } else {
                Content::Text(text)
            }
        }
        (a, b) => Content::Parts(parts(a).into_iter().chain(parts(b)).collect()),
    }
}

fn parts(content: Content) -> Vec<Part> {
    match content {
        Content::Parts(parts) => parts,
        Content::Text(s) if !s.is_empty() => vec![Part::text(s)],
        _ => Vec::new(),
    }
}

fn ensure_ends_with_user(messages: &mut Vec<Message>) {
    if messages
        .last()
        .is_some_and(|m| m.role == Role::Assistant && m.tool_calls.is_none())
    {
        messages.push(Message::text(Role::User, CONTINUE));
    }
}

#[cfg(test)]
mod tests;
