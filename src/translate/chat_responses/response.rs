//! Responses answer -> `chat.completion`.

use super::chat_out::{
    ChatCompletion, ChatUsage, CompletionChoice, Custom, Function, Message, ToolCall,
};
use crate::protocol::chat_chunk::read;
use crate::protocol::responses::upstream::{Item, Part, Response, Slot};
use crate::translate::responses_response::now_secs;
use serde_json::Value;

/// A Responses `response` object (a tree) as a `chat.completion` tree.
pub fn responses_to_chat(resp: &Value, requested_model: &str) -> Value {
    let completion = completion(&Response::from_value(resp), requested_model);
    serde_json::from_slice(&completion).unwrap_or(Value::Null)
}

/// A Responses `response` object's bytes as a `chat.completion`'s bytes, read borrowed
/// and written typed (no tree).
pub fn completion_from_responses(body: &[u8], requested_model: &str) -> Vec<u8> {
    let mut tree = None;
    completion(&read(body, &mut tree), requested_model)
}

fn completion(resp: &Response, requested_model: &str) -> Vec<u8> {
    let mut texts = Vec::new();
    let mut refusal = String::new();
    let mut reasoning = Vec::new();
    let mut opaque = None;
    let mut calls = Vec::new();
    for item in &resp.output.0 {
        match item.kind.get() {
            Some("message") => {
                let mut text = String::new();
                for part in &item.content.0 {
                    match part.kind.get() {
                        Some("refusal") => refusal.push_str(part.refusal.get().unwrap_or("")),
                        _ => text.push_str(part.text.get().unwrap_or("")),
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
    let id = chat_id(resp);
    let completion = ChatCompletion {
        choices: [CompletionChoice {
            finish_reason: finish_reason(resp, !calls.is_empty()),
            index: 0,
            logprobs: (),
            message: Message {
                content: (!texts.is_empty()).then(|| texts.join("\n\n")),
                reasoning_opaque: opaque,
                reasoning_text: (!reasoning.is_empty()).then(|| reasoning.join("\n\n")),
                refusal: (!refusal.is_empty()).then_some(refusal),
                role: "assistant",
                tool_calls: calls,
            },
        }],
        created: resp.created_at.0.unwrap_or_else(now_secs),
        id: &id,
        model: requested_model,
        object: "chat.completion",
        usage: resp.usage.get().map(ChatUsage::from_responses),
    };
    // Strings and numbers always serialize.
    serde_json::to_vec(&completion).unwrap_or_default()
}

pub(super) fn chat_id(resp: &Response) -> String {
    resp.id.get().map_or_else(
        || crate::translate::responses_response::new_id("chatcmpl"),
        str::to_string,
    )
}

/// A reasoning item's summary texts (else its raw reasoning texts), paragraphs apart.
pub(super) fn reasoning_summary(item: &Item) -> String {
    fn texts<'p>(parts: &'p [Part]) -> Vec<&'p str> {
        parts.iter().filter_map(|p| p.text.nonempty()).collect()
    }
    let summary = texts(&item.summary.0);
    if summary.is_empty() {
        texts(&item.content.0).join("\n\n")
    } else {
        summary.join("\n\n")
    }
}

/// A reasoning item's `encrypted_content` and id as Copilot's `reasoning_opaque`,
/// `encrypted@id` (the id is needed to replay it with `store: false`).
pub(super) fn join_opaque(item: &Item) -> Option<String> {
    let enc = item.encrypted_content.nonempty()?;
    Some(match item.id.nonempty() {
        Some(id) => format!("{enc}@{id}"),
        None => enc.to_string(),
    })
}

fn chat_call<'a>(item: &'a Item) -> ToolCall<'a> {
    let s = |f: &'a crate::protocol::chat_chunk::Str| f.get().unwrap_or("");
    if item.is_custom() {
        ToolCall {
            custom: Some(Custom {
                input: s(&item.input),
                name: Some(s(&item.name)),
            }),
            function: None,
            id: s(&item.call_id),
            kind: "custom",
        }
    } else {
        ToolCall {
            custom: None,
            function: Some(Function {
                arguments: s(&item.arguments),
                name: Some(s(&item.name)),
            }),
            id: s(&item.call_id),
            kind: "function",
        }
    }
}

/// `status` as the stream's end event gives it: absent on `response.incomplete` reads
/// as `incomplete`.
pub(super) fn finish_reason(resp: &Response, has_calls: bool) -> &'static str {
    finish_reason_for(&resp.status, resp, has_calls)
}

pub(super) fn finish_reason_for(status: &Slot, resp: &Response, has_calls: bool) -> &'static str {
    let incomplete = status.get() == Some("incomplete");
    match resp.incomplete_details.0.reason.get() {
        Some("content_filter") if incomplete => "content_filter",
        _ if incomplete => "length",
        _ if has_calls => "tool_calls",
        _ => "stop",
    }
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
        // Written straight from the types, the bytes are those of the tree.
        let bytes = completion_from_responses(resp.to_string().as_bytes(), "gpt-5.5");
        assert_eq!(String::from_utf8(bytes).unwrap(), c.to_string());
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
