//! Chat completion -> OpenAI Responses `response` object (reference §5.7, with §10.18
//! fixed), and the pieces the stream translator shares: the response envelope, usage,
//! item ids and the settling of tool-call arguments.
//!
//! Every choice is read (Copilot puts a Claude answer's text and its tool calls in
//! separate choices). Reasoning becomes a `reasoning` item carrying `encrypted_content`
//! so it round-trips; calls to freeform tools go back as `custom_tool_call`. Arguments
//! cut off by the token limit are repaired into valid JSON and the call and the response
//! are marked incomplete: a client never receives broken JSON, nor a half-written call
//! that passes for a finished one.

use super::json_repair;
use crate::protocol::chat_chunk::Chunk;
use serde_json::{Map, Value, json};
use std::time::{SystemTime, UNIX_EPOCH};

pub fn from_chat(chat: &Value, req: &Value, custom_tools: &[String], response_id: &str) -> Value {
    let completion = Chunk::from_value(chat);
    let mut reasoning = Vec::new();
    let mut opaque: Option<&str> = None;
    let mut parts = Vec::new();
    let mut calls = Vec::new();
    let mut finishes = Vec::new();
    for choice in &completion.choices.0 {
        if let Some(m) = choice.message() {
            reasoning.extend(m.reasoning());
            // One answer has one token, on whichever choice carries the reasoning.
            opaque = opaque.or(m.reasoning_opaque.nonempty());
            parts.extend(m.content.texts().into_iter().map(output_text));
            if let Some(r) = m.refusal.get() {
                parts.push(json!({"type": "refusal", "refusal": r}));
            }
            for call in &m.tool_calls.0 {
                let f = &call.function.0;
                let name = f.name.get().unwrap_or("");
                let call_id = call.id.get().map_or_else(|| new_id("call"), str::to_string);
                calls.push(call_item(
                    &new_id(call_prefix(name, custom_tools)),
                    &call_id,
                    name,
                    f.arguments.get().unwrap_or(""),
                    None,
                    custom_tools,
                ));
            }
        }
        if let Some(f) = choice.finish_reason.get() {
            finishes.push(f);
        }
    }

    let mut output = Vec::new();
    if !reasoning.is_empty() || opaque.is_some() {
        output.push(reasoning_item(
            &new_id(OWN_REASONING),
            &reasoning.join("\n\n"),
            opaque,
        ));
    }
    if !parts.is_empty() {
        output.push(json!({
            "id": new_id("msg"),
            "type": "message",
            "role": "assistant",
            "status": "completed",
            "content": parts,
        }));
    }
    let truncated_call = calls.iter().any(|(_, complete)| !complete);
    output.extend(calls.into_iter().map(|(item, _)| item));
    let outcome = Outcome::from_finishes(finishes, truncated_call);
    response_object(
        response_id,
        completion.created.0.unwrap_or_else(now_secs),
        req,
        &outcome,
        output,
        usage(completion.usage.as_ref()),
    )
}

/// How a response ended: `completed`, or `incomplete` with its reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Outcome {
    pub status: &'static str,
    pub reason: Option<&'static str>,
}

impl Outcome {
    /// From the Chat finish reasons of every choice and whether a call's arguments had to
    /// be repaired (a cut-off call is reported even when the finish reason hides it).
    pub fn from_finishes<'a>(
        finishes: impl IntoIterator<Item = &'a str>,
        truncated_call: bool,
    ) -> Outcome {
        let finishes: Vec<&str> = finishes.into_iter().collect();
        let reason = if truncated_call || finishes.contains(&"length") {
            Some("max_output_tokens")
        } else if finishes.contains(&"content_filter") {
            Some("content_filter")
        } else {
            None
        };
        Outcome {
            status: if reason.is_some() {
                "incomplete"
            } else {
                "completed"
            },
            reason,
        }
    }
}

/// The request fields a `response` envelope echoes back.
const ECHOED: [&str; 12] = [
    "model",
    "instructions",
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "reasoning",
    "text",
    "metadata",
    "temperature",
    "top_p",
    "max_output_tokens",
    "previous_response_id",
];

/// Only the fields of `req` that `response_object` echoes: what a stream keeps for its
/// whole life instead of the request (whose `input` history may be megabytes).
pub(super) fn echoed(req: &Value) -> Value {
    let kept = ECHOED
        .iter()
        .filter_map(|k| Some((k.to_string(), req.get(*k)?.clone())));
    Value::Object(kept.collect())
}

/// The `response` envelope: what was produced, plus the request's settings echoed back
/// as the OpenAI SDKs expect them (the fields of `ECHOED`).
pub(super) fn response_object(
    id: &str,
    created_at: u64,
    req: &Value,
    outcome: &Outcome,
    output: Vec<Value>,
    usage: Value,
) -> Value {
    let echo = |key: &str, default: Value| {
        req.get(key)
            .filter(|v| !v.is_null())
            .cloned()
            .unwrap_or(default)
    };
    let text = answer_text(&output);
    let mut r = Map::new();
    r.insert("id".into(), id.into());
    r.insert("object".into(), "response".into());
    r.insert("created_at".into(), created_at.into());
    r.insert("status".into(), outcome.status.into());
    r.insert("error".into(), Value::Null);
    r.insert(
        "incomplete_details".into(),
        outcome.reason.map_or(Value::Null, |r| json!({"reason": r})),
    );
    r.insert("model".into(), echo("model", Value::Null));
    r.insert("output".into(), Value::Array(output));
    r.insert("output_text".into(), text.into());
    r.insert("usage".into(), usage);
    r.insert("instructions".into(), echo("instructions", Value::Null));
    r.insert("tools".into(), echo("tools", json!([])));
    r.insert("tool_choice".into(), echo("tool_choice", json!("auto")));
    r.insert(
        "parallel_tool_calls".into(),
        echo("parallel_tool_calls", json!(true)),
    );
    r.insert(
        "reasoning".into(),
        echo("reasoning", json!({"effort": null, "summary": null})),
    );
    r.insert(
        "text".into(),
        echo("text", json!({"format": {"type": "text"}})),
    );
    r.insert("metadata".into(), echo("metadata", json!({})));
    for key in [
        "temperature",
        "top_p",
        "max_output_tokens",
        "previous_response_id",
    ] {
        r.insert(key.into(), echo(key, Value::Null));
    }
    r.insert("store".into(), echo("store", json!(true)));
    Value::Object(r)
}

/// Chat usage in Responses terms; `null` when upstream sent none.
pub(super) fn usage(chat_usage: Option<&Value>) -> Value {
    let Some(u) = chat_usage.filter(|u| u.is_object()) else {
        return Value::Null;
    };
    let n = |v: Option<&Value>| v.and_then(Value::as_u64).unwrap_or(0);
    let input = n(u.get("prompt_tokens"));
    let output = n(u.get("completion_tokens"));
    let total = u
        .get("total_tokens")
        .and_then(Value::as_u64)
        .unwrap_or(input + output);
    json!({
        "input_tokens": input,
        "input_tokens_details": {
            "cached_tokens": n(u.pointer("/prompt_tokens_details/cached_tokens")),
        },
        "output_tokens": output,
        "output_tokens_details": {
            "reasoning_tokens": n(u.pointer("/completion_tokens_details/reasoning_tokens")),
        },
        "total_tokens": total,
    })
}

/// The id prefix of the reasoning items this translation makes. Their `encrypted_content`
/// is a Copilot `reasoning_opaque` (a Claude or Gemini signature); reasoning items with
/// another id were made by another model family (an OpenAI `rs_…` replayed after the
/// client switched models) and cannot be verified by a chat-path model, nor ours by
/// OpenAI's.
pub const OWN_REASONING: &str = "rs_chat";

pub(super) fn new_id(prefix: &str) -> String {
    format!(
        "{prefix}_{:016x}{:016x}",
        crate::ids::random_u64(),
        crate::ids::random_u64()
    )
}

pub(super) fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

pub(super) fn output_text(text: &str) -> Value {
    json!({"type": "output_text", "text": text, "annotations": []})
}

pub(super) fn reasoning_item(id: &str, summary: &str, opaque: Option<&str>) -> Value {
    let summary = if summary.is_empty() {
        json!([])
    } else {
        json!([{"type": "summary_text", "text": summary}])
    };
    let mut item = json!({"id": id, "type": "reasoning", "summary": summary});
    if let Some(o) = opaque {
        item["encrypted_content"] = o.into();
    }
    item
}

pub(super) fn is_custom(name: &str, custom_tools: &[String]) -> bool {
    custom_tools.iter().any(|c| c == name)
}

pub(super) fn call_prefix(name: &str, custom_tools: &[String]) -> &'static str {
    if is_custom(name, custom_tools) {
        "ctc"
    } else {
        "fc"
    }
}

/// Arguments as finally sent: valid JSON always; `false` when they had to be repaired
/// (cut off) and the call must be reported incomplete.
pub(super) fn settle_arguments(raw: &str) -> (String, bool) {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return ("{}".into(), true);
    }
    if serde_json::from_str::<Value>(trimmed).is_ok() {
        return (raw.to_string(), true);
    }
    let repaired = json_repair::repair(trimmed)
        .filter(|r| serde_json::from_str::<Value>(r).is_ok_and(|v| v.is_object()));
    (repaired.unwrap_or_else(|| "{}".into()), false)
}

/// The raw text of a freeform call from its one-string-argument function form.
pub(super) fn freeform_input(arguments: &str) -> Option<String> {
    match serde_json::from_str::<Value>(arguments).ok()? {
        Value::Object(o) => match o.get("input") {
            Some(Value::String(s)) => Some(s.clone()),
            _ => {
                let mut strings = o.values().filter_map(Value::as_str);
                match (strings.next(), strings.next()) {
                    (Some(only), None) => Some(only.to_string()),
                    _ => None,
                }
            }
        },
        Value::String(s) => Some(s),
        _ => None,
    }
}

/// A finished call as its output item, `function_call` or `custom_tool_call`, and whether
/// it is complete. `streamed_input` is the freeform text decoded while streaming, used
/// when the arguments cannot be read back.
pub(super) fn call_item(
    id: &str,
    call_id: &str,
    name: &str,
    raw_args: &str,
    streamed_input: Option<&str>,
    custom_tools: &[String],
) -> (Value, bool) {
    let (args, complete) = settle_arguments(raw_args);
    let status = if complete { "completed" } else { "incomplete" };
    if is_custom(name, custom_tools) {
        // Complete: the arguments say it all. Cut off: what was decoded while streaming
        // goes furthest, then the repaired arguments.
        let input = freeform_input(&args)
            .filter(|_| complete)
            .or_else(|| streamed_input.map(str::to_string))
            .or_else(|| freeform_input(&args))
            .unwrap_or_else(|| {
                if complete {
                    args.clone()
                } else {
                    String::new()
                }
            });
        let item = json!({
            "id": id, "type": "custom_tool_call", "status": status,
            "call_id": call_id, "name": name, "input": input,
        });
        return (item, complete);
    }
    let item = json!({
        "id": id, "type": "function_call", "status": status,
        "call_id": call_id, "name": name, "arguments": args,
    });
    (item, complete)
}

/// The text of a Responses answer's `message` items, `output_text` parts joined.
pub fn answer_text(output: &[Value]) -> String {
    output
        .iter()
        .filter(|i| i["type"] == "message")
        .filter_map(|i| i["content"].as_array())
        .flatten()
        .filter(|p| p["type"] == "output_text")
        .filter_map(|p| p["text"].as_str())
        .collect()
}

#[cfg(test)]
mod tests;
