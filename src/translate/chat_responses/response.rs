//! Responses answer -> `chat.completion`.

use super::request::join_opaque;
use crate::translate::responses_response::now_secs;
use serde_json::{Map, Value, json};

/// A Responses `response` object as a `chat.completion`.
pub fn responses_to_chat(resp: &Value, requested_model: &str) -> Value {
    let mut texts = Vec::new();
    let mut refusal = String::new();
    let mut reasoning = Vec::new();
    let mut opaque = None;
    let mut calls = Vec::new();
    for item in resp
        .get("output")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        match item.get("type").and_then(Value::as_str) {
            Some("message") => {
                let mut text = String::new();
                for part in item
                    .get("content")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    match part.get("type").and_then(Value::as_str) {
                        Some("refusal") => refusal.push_str(part["refusal"].as_str().unwrap_or("")),
                        _ => text.push_str(part.get("text").and_then(Value::as_str).unwrap_or("")),
                    }
                }
                if !text.is_empty() {
                    texts.push(text);
                }
            }
            Some("reasoning") => {
                let t = reasoning_summary(item);
                if !t.is_empty() {
                    reasoning.push(t);
                }
                opaque = join_opaque(item).or(opaque);
            }
            Some("function_call") | Some("custom_tool_call") => calls.push(chat_call(item)),
            other => crate::debug!("responses->chat: output item `{other:?}` skipped"),
        }
    }
    let finish = finish_reason(resp, !calls.is_empty());
    let mut message = Map::new();
    message.insert("role".into(), "assistant".into());
    let content = if texts.is_empty() {
        Value::Null
    } else {
        texts.join("\n\n").into()
    };
    message.insert("content".into(), content);
    if !refusal.is_empty() {
        message.insert("refusal".into(), refusal.into());
    }
    if !reasoning.is_empty() {
        message.insert("reasoning_text".into(), reasoning.join("\n\n").into());
    }
    if let Some(o) = opaque {
        message.insert("reasoning_opaque".into(), o.into());
    }
    if !calls.is_empty() {
        message.insert("tool_calls".into(), Value::Array(calls));
    }
    let mut out = json!({
        "id": chat_id(resp),
        "object": "chat.completion",
        "created": resp.get("created_at").and_then(Value::as_u64).unwrap_or_else(now_secs),
        "model": requested_model,
        "choices": [{"index": 0, "message": message, "logprobs": null, "finish_reason": finish}],
    });
    if let Some(u) = chat_usage(resp.get("usage")) {
        out["usage"] = u;
    }
    out
}

pub(super) fn chat_id(resp: &Value) -> String {
    resp.get("id").and_then(Value::as_str).map_or_else(
        || crate::translate::responses_response::new_id("chatcmpl"),
        str::to_string,
    )
}

pub(super) fn reasoning_summary(item: &Value) -> String {
    let texts = |key: &str| -> Vec<String> {
        item.get(key)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .filter(|t| !t.is_empty())
            .map(str::to_string)
            .collect()
    };
    let summary = texts("summary");
    if summary.is_empty() {
        texts("content").join("\n\n")
    } else {
        summary.join("\n\n")
    }
}

pub(super) fn chat_call(item: &Value) -> Value {
    let s = |k: &str| item.get(k).and_then(Value::as_str).unwrap_or("");
    if item["type"] == "custom_tool_call" {
        json!({"id": s("call_id"), "type": "custom", "custom": {"name": s("name"), "input": s("input")}})
    } else {
        json!({"id": s("call_id"), "type": "function",
               "function": {"name": s("name"), "arguments": s("arguments")}})
    }
}

pub(super) fn finish_reason(resp: &Value, has_calls: bool) -> &'static str {
    let incomplete = resp.get("status").and_then(Value::as_str) == Some("incomplete");
    match resp
        .pointer("/incomplete_details/reason")
        .and_then(Value::as_str)
    {
        Some("content_filter") if incomplete => "content_filter",
        _ if incomplete => "length",
        _ if has_calls => "tool_calls",
        _ => "stop",
    }
}

/// Responses usage in Chat terms, cached and reasoning tokens included.
pub(super) fn chat_usage(usage: Option<&Value>) -> Option<Value> {
    let u = usage.filter(|u| u.is_object())?;
    let n = |p: &str| u.pointer(p).and_then(Value::as_u64).unwrap_or(0);
    let (input, output) = (n("/input_tokens"), n("/output_tokens"));
    let total = u
        .get("total_tokens")
        .and_then(Value::as_u64)
        .unwrap_or(input + output);
    Some(json!({
        "prompt_tokens": input,
        "completion_tokens": output,
        "total_tokens": total,
        "prompt_tokens_details": {"cached_tokens": n("/input_tokens_details/cached_tokens")},
        "completion_tokens_details": {"reasoning_tokens": n("/output_tokens_details/reasoning_tokens")},
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn responses_answer_becomes_a_chat_completion() {
        let resp = json!({
            "id": "resp_1", "object": "response", "created_at": 1700000000, "status": "completed",
            "output": [
                {"id": "rs_1", "type": "reasoning", "summary": [{"type": "summary_text", "text": "Plan."}],
                 "encrypted_content": "enc"},
                {"id": "msg_1", "type": "message", "role": "assistant",
                 "content": [{"type": "output_text", "text": "Calling.", "annotations": []}]},
                {"id": "fc_1", "type": "function_call", "call_id": "call_1", "name": "f", "arguments": "{}"},
                {"id": "ctc_1", "type": "custom_tool_call", "call_id": "call_2", "name": "apply_patch", "input": "*** Begin Patch"},
            ],
            "usage": {"input_tokens": 10, "input_tokens_details": {"cached_tokens": 4},
                      "output_tokens": 5, "output_tokens_details": {"reasoning_tokens": 3}, "total_tokens": 15},
        });
        let c = responses_to_chat(&resp, "gpt-5.5");
        assert_eq!(c["object"], "chat.completion");
        assert_eq!(c["model"], "gpt-5.5");
        let choice = &c["choices"][0];
        assert_eq!(choice["finish_reason"], "tool_calls");
        let m = &choice["message"];
        assert_eq!(m["content"], "Calling.");
        assert_eq!(m["reasoning_text"], "Plan.");
        assert_eq!(m["reasoning_opaque"], "enc@rs_1");
        assert_eq!(
            m["tool_calls"].as_array().unwrap().len(),
            2,
            "the reasoning item is no call (§10.14)"
        );
        assert_eq!(
            m["tool_calls"][1],
            json!({"id": "call_2", "type": "custom",
                                              "custom": {"name": "apply_patch", "input": "*** Begin Patch"}})
        );
        assert_eq!(
            c["usage"],
            json!({"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15,
                   "prompt_tokens_details": {"cached_tokens": 4},
                   "completion_tokens_details": {"reasoning_tokens": 3}})
        );

        let cases = [
            (
                json!({"status": "incomplete", "incomplete_details": {"reason": "max_output_tokens"}}),
                "length",
            ),
            (
                json!({"status": "incomplete", "incomplete_details": {"reason": "content_filter"}}),
                "content_filter",
            ),
            (
                json!({"status": "completed", "output": [
                {"type": "message", "content": [{"type": "output_text", "text": "a"}]},
                {"type": "message", "content": [{"type": "output_text", "text": "b"}]}]}),
                "stop",
            ),
        ];
        for (resp, finish) in &cases {
            let c = responses_to_chat(resp, "m");
            assert_eq!(c["choices"][0]["finish_reason"], *finish, "{resp}");
            assert!(c.get("usage").is_none(), "no usage, no panic");
        }
        let c = responses_to_chat(&cases[2].0, "m");
        assert_eq!(
            c["choices"][0]["message"]["content"], "a\n\nb",
            "every message item kept"
        );
    }
}
