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
use crate::protocol::chat_chunk::{Chunk, Usage as ChatUsage};
use crate::protocol::responses::{
    Echo, InputDetails, OutputDetails, OutputItem, Part, Response, Usage,
};
use serde_json::Value;
use std::borrow::Cow;
use std::time::{SystemTime, UNIX_EPOCH};

/// The `response` for a Chat completion, owned: the hosted web search edits its output
/// before it is written.
pub fn from_chat(
    completion: &Chunk,
    req: &Value,
    custom_tools: &[String],
    response_id: &str,
) -> Response<'static> {
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
            let texts = m.content.texts().into_iter();
            parts.extend(texts.map(|t| Part::output_text(t.to_string())));
            if let Some(r) = m.refusal.get() {
                parts.push(Part::refusal(r.to_string()));
            }
            for call in &m.tool_calls.0 {
                let f = &call.function.0;
                let name = f.name.get().unwrap_or("");
                let call_id = call.id.get().map_or_else(|| new_id("call"), str::to_string);
                calls.push(call_item(
                    new_id(call_prefix(name, custom_tools)),
                    call_id,
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
        output.push(OutputItem::reasoning(
            new_id(OWN_REASONING),
            reasoning.join("\n\n"),
            opaque.map(str::to_string),
        ));
    }
    if !parts.is_empty() {
        output.push(OutputItem::message(new_id("msg"), "completed", parts));
    }
    let truncated_call = calls.iter().any(|(_, complete)| !complete);
    output.extend(calls.into_iter().map(|(item, _)| item));
    let outcome = Outcome::from_finishes(finishes, truncated_call);
    let created_at = completion.created.0.unwrap_or_else(now_secs);
    let echo = Cow::Owned(Echo::of(req));
    let mut response = outcome.response(response_id.to_string(), created_at, echo);
    response.output = output;
    response.usage = usage(completion.usage.as_ref());
    response
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

    /// The `response` envelope of an answer that ended so, its output still empty.
    pub fn response<'a>(
        &self,
        id: impl Into<Cow<'a, str>>,
        created_at: u64,
        echo: Cow<'a, Echo>,
    ) -> Response<'a> {
        Response::new(id, created_at, echo, self.status, self.reason)
    }
}

/// Chat usage in Responses terms; `None` (written `null`) when upstream sent none.
pub(super) fn usage(chat_usage: Option<&ChatUsage>) -> Option<Usage> {
    let u = chat_usage?;
    let input = u.prompt_tokens.0.unwrap_or(0);
    let output = u.completion_tokens.0.unwrap_or(0);
    Some(Usage {
        input_tokens: input,
        input_tokens_details: InputDetails {
            cached_tokens: u.prompt_tokens_details.0.cached_tokens.0.unwrap_or(0),
        },
        output_tokens: output,
        output_tokens_details: OutputDetails {
            reasoning_tokens: u
                .completion_tokens_details
                .0
                .reasoning_tokens
                .0
                .unwrap_or(0),
        },
        total_tokens: u.total_tokens.0.unwrap_or(input + output),
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
    id: String,
    call_id: String,
    name: &str,
    raw_args: &str,
    streamed_input: Option<&str>,
    custom_tools: &[String],
) -> (OutputItem, bool) {
    let (args, complete) = settle_arguments(raw_args);
    let status = if complete { "completed" } else { "incomplete" };
    if is_custom(name, custom_tools) {
        // Complete: the arguments say it all. Cut off: what was decoded while streaming
        // goes furthest, then the repaired arguments.
        let input = freeform_input(&args)
            .filter(|_| complete)
            .or_else(|| streamed_input.map(str::to_string))
            .or_else(|| freeform_input(&args))
            .unwrap_or_else(|| if complete { args } else { String::new() });
        let item = OutputItem::custom_tool_call(id, call_id, name.to_string(), input, status);
        return (item, complete);
    }
    let item = OutputItem::function_call(id, call_id, name.to_string(), args, status);
    (item, complete)
}

#[cfg(test)]
mod tests;
