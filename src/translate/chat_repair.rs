//! Invariants Copilot enforces on a Chat Completions message list, restored after
//! translation: every tool call answered by a tool message right after its turn, no tool
//! message without its call, no two adjacent messages of one role, and a user (or tool)
//! message last. Clients break these after an interrupted tool run, a cancelled turn or a
//! compaction; Copilot answers such a list with a 400 that no retry can fix.

use super::anthropic_messages::{join_nonempty, text_part};
use serde_json::{Value, json};
use std::collections::HashSet;

/// The answer given in place of a tool result the client never sent.
const MISSING_RESULT: &str = "[No result: the client sent no tool_result for this tool call.]";
/// Appended after a trailing assistant message (a prefill), which Copilot rejects.
const CONTINUE: &str = "Please continue.";

/// Applies every invariant. Merging runs first so that an assistant turn split in two
/// (text, then tool calls) is whole before its results are paired, and again after, for
/// orphaned results turned into user messages.
pub(super) fn normalize(messages: Vec<Value>) -> Vec<Value> {
    let messages = merge_same_role(messages);
    let mut messages = merge_same_role(pair_tool_calls(messages));
    ensure_ends_with_user(&mut messages);
    messages
}

fn role(m: &Value) -> &str {
    m.get("role").and_then(Value::as_str).unwrap_or("")
}

fn call_ids(m: &Value) -> Vec<String> {
    m.get("tool_calls")
        .and_then(Value::as_array)
        .map(|calls| {
            calls
                .iter()
                .filter_map(|c| c.get("id").and_then(Value::as_str))
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

fn result_id(m: &Value) -> &str {
    m.get("tool_call_id").and_then(Value::as_str).unwrap_or("")
}

/// Each assistant turn with tool calls is followed by exactly one tool message per call.
/// Results for unknown or already answered ids become user text (or go, when empty);
/// calls without a result get a placeholder when the conversation goes on, and are dropped
/// when the conversation ends with them, so upstream never believes a tool ran that did
/// not (reference §10.9).
fn pair_tool_calls(messages: Vec<Value>) -> Vec<Value> {
    let mut out = Vec::with_capacity(messages.len());
    let mut rest = messages.into_iter().peekable();
    while let Some(mut m) = rest.next() {
        if role(&m) == "tool" {
            orphan(m, &mut out);
            continue;
        }
        let ids = call_ids(&m);
        if role(&m) != "assistant" || ids.is_empty() {
            out.push(m);
            continue;
        }
        let mut results = Vec::new();
        let mut strays = Vec::new();
        let mut answered = HashSet::new();
        while let Some(t) = rest.next_if(|n| role(n) == "tool") {
            if ids.iter().any(|id| id == result_id(&t))
                && answered.insert(result_id(&t).to_string())
            {
                results.push(t);
            } else {
                strays.push(t);
            }
        }
        let missing: Vec<&String> = ids.iter().filter(|id| !answered.contains(*id)).collect();
        if !missing.is_empty() && rest.peek().is_none() {
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
                results
                    .push(json!({"role": "tool", "tool_call_id": id, "content": MISSING_RESULT}));
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
fn orphan(m: Value, out: &mut Vec<Value>) {
    let id = result_id(&m).to_string();
    let content = m.get("content").cloned().unwrap_or(Value::Null);
    let blank = match &content {
        Value::String(s) => s.trim().is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => true,
    };
    if blank {
        crate::warn!("dropped an empty tool_result `{id}` that answers no tool call");
    } else {
        crate::warn!(
            "tool_result `{id}` answers no tool call of the turn before; sent as user text"
        );
        out.push(json!({"role": "user", "content": content}));
    }
}

fn drop_calls(m: &mut Value, ids: &HashSet<String>) {
    if let Some(calls) = m.get_mut("tool_calls").and_then(Value::as_array_mut) {
        calls.retain(|c| {
            !c.get("id")
                .and_then(Value::as_str)
                .is_some_and(|id| ids.contains(id))
        });
        if calls.is_empty() {
            m.as_object_mut().map(|o| o.remove("tool_calls"));
            if m["content"].is_null() {
                m["content"] = Value::from("");
            }
        }
    }
}

/// An assistant message left with no text and no tool calls says nothing.
fn has_substance(m: &Value) -> bool {
    let text = match &m["content"] {
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        _ => false,
    };
    text || m.get("tool_calls").is_some()
}

/// Adjacent messages of the same role (tool messages excepted) become one; text is joined
/// and image parts are kept (reference §10.7 dropped them), tool calls concatenated.
fn merge_same_role(messages: Vec<Value>) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::with_capacity(messages.len());
    for m in messages {
        match out.last_mut() {
            Some(prev) if role(prev) == role(&m) && role(&m) != "tool" => merge_into(prev, m),
            _ => out.push(m),
        }
    }
    out
}

fn merge_into(prev: &mut Value, mut next: Value) {
    let a = prev["content"].take();
    let b = next["content"].take();
    prev["content"] = merge_content(a, b);
    if let Some(Value::Array(more)) = next.get_mut("tool_calls").map(Value::take) {
        match prev.get_mut("tool_calls").and_then(Value::as_array_mut) {
            Some(calls) => calls.extend(more),
            None => prev["tool_calls"] = Value::Array(more),
        }
    }
    if let Some(more) = next.get("reasoning_text").and_then(Value::as_str) {
        let before = prev
            .get("reasoning_text")
            .and_then(Value::as_str)
            .unwrap_or("");
        prev["reasoning_text"] = Value::from(join_nonempty([before, more]));
    }
    if prev.get("reasoning_opaque").is_none() {
        if let Some(o) = next.get("reasoning_opaque") {
            prev["reasoning_opaque"] = o.clone();
        }
    }
}

fn merge_content(a: Value, b: Value) -> Value {
    match (a, b) {
        (Value::Null, Value::Null) => Value::Null,
        (a @ (Value::String(_) | Value::Null), b @ (Value::String(_) | Value::Null)) => {
            let text = join_nonempty([a.as_str().unwrap_or(""), b.as_str().unwrap_or("")]);
            if text.is_empty() && (a.is_null() || b.is_null()) {
                Value::Null
            } else {
                Value::from(text)
            }
        }
        (a, b) => Value::Array(parts(a).into_iter().chain(parts(b)).collect()),
    }
}

fn parts(content: Value) -> Vec<Value> {
    match content {
        Value::Array(parts) => parts,
        Value::String(s) if !s.is_empty() => vec![text_part(s)],
        _ => Vec::new(),
    }
}

fn ensure_ends_with_user(messages: &mut Vec<Value>) {
    if messages
        .last()
        .is_some_and(|m| role(m) == "assistant" && m.get("tool_calls").is_none())
    {
        messages.push(json!({"role": "user", "content": CONTINUE}));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(id: &str) -> Value {
        json!({"id": id, "type": "function", "function": {"name": "f", "arguments": "{}"}})
    }

    fn asst(ids: &[&str]) -> Value {
        let calls: Vec<Value> = ids.iter().map(|id| call(id)).collect();
        json!({"role": "assistant", "content": null, "tool_calls": calls})
    }

    fn tool(id: &str, content: &str) -> Value {
        json!({"role": "tool", "tool_call_id": id, "content": content})
    }

    fn user(content: &str) -> Value {
        json!({"role": "user", "content": content})
    }

    fn roles(ms: &[Value]) -> Vec<String> {
        ms.iter()
            .map(|m| match role(m) {
                "tool" => format!("tool:{}", result_id(m)),
                r => r.to_string(),
            })
            .collect()
    }

    #[test]
    fn invariants_by_case() {
        let cases: Vec<(&str, Vec<Value>, Vec<&str>)> = vec![
            (
                "well formed",
                vec![
                    user("q"),
                    asst(&["a", "b"]),
                    tool("b", "2"),
                    tool("a", "1"),
                    user("more"),
                ],
                vec!["user", "assistant", "tool:b", "tool:a", "user"],
            ),
            (
                "orphan result after plain text turn becomes user text and merges",
                vec![
                    user("q"),
                    json!({"role": "assistant", "content": "ok"}),
                    tool("x", "build output"),
                    user("Continue please."),
                ],
                vec!["user", "assistant", "user"],
            ),
            (
                "empty orphan is dropped",
                vec![user("q"), tool("x", "  "), user("r")],
                vec!["user"],
            ),
            (
                "missing result mid-conversation gets a placeholder",
                vec![user("q"), asst(&["a", "b"]), tool("a", "1"), user("next")],
                vec!["user", "assistant", "tool:a", "tool:b", "user"],
            ),
            (
                "result for another turn's call and a duplicate become user text",
                vec![
                    user("q"),
                    asst(&["a"]),
                    tool("a", "1"),
                    tool("a", "again"),
                    tool("z", "zz"),
                ],
                vec!["user", "assistant", "tool:a", "user"],
            ),
            (
                "trailing pending call is dropped, not answered",
                vec![user("q"), asst(&["a"])],
                vec!["user"],
            ),
            (
                "assistant turn split in two is merged before pairing",
                vec![
                    user("q"),
                    json!({"role": "assistant", "content": "let me look"}),
                    asst(&["a"]),
                    tool("a", "1"),
                ],
                vec!["user", "assistant", "tool:a"],
            ),
            (
                "prefill gets a user turn after it",
                vec![user("q"), json!({"role": "assistant", "content": "{"})],
                vec!["user", "assistant", "user"],
            ),
        ];
        for (name, input, want) in cases {
            let out = normalize(input);
            assert_eq!(roles(&out), want, "{name}: {out:#?}");
        }
    }

    #[test]
    fn repaired_contents() {
        let out = normalize(vec![
            user("q"),
            json!({"role": "assistant", "content": "ok"}),
            tool("x", "build output"),
            user("Continue please."),
        ]);
        assert_eq!(out[2]["content"], "build output\n\nContinue please.");

        let out = normalize(vec![
            user("q"),
            asst(&["a", "b"]),
            tool("a", "1"),
            user("n"),
        ]);
        assert_eq!(out[3]["content"], MISSING_RESULT);

        // A trailing turn keeps its text when its pending call is dropped.
        let mut turn = asst(&["a"]);
        turn["content"] = json!("I will run it");
        let out = normalize(vec![user("q"), turn]);
        assert_eq!(
            out[1],
            json!({"role": "assistant", "content": "I will run it"})
        );
        assert_eq!(out[2], user(CONTINUE));
    }

    #[test]
    fn merging_keeps_images_and_reasoning() {
        let image = json!({"type": "image_url", "image_url": {"url": "data:image/png;base64,AA"}});
        let out = normalize(vec![
            user("first"),
            json!({"role": "user", "content": [{"type": "text", "text": "second"}, image.clone()]}),
            json!({"role": "assistant", "content": "a", "reasoning_text": "r1", "reasoning_opaque": "o1"}),
            json!({"role": "assistant", "content": null, "reasoning_text": "r2", "reasoning_opaque": "o2",
                   "tool_calls": [call("c")]}),
            tool("c", "done"),
        ]);
        assert_eq!(
            out[0]["content"],
            json!([{"type": "text", "text": "first"}, {"type": "text", "text": "second"}, image])
        );
        assert_eq!(out[1]["content"], "a");
        assert_eq!(out[1]["reasoning_text"], "r1\n\nr2");
        assert_eq!(out[1]["reasoning_opaque"], "o1");
        assert_eq!(out[1]["tool_calls"].as_array().unwrap().len(), 1);
        assert_eq!(out.len(), 3);
    }
}
