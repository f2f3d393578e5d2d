//! Responses events -> Chat chunks.

use super::request::join_opaque;
use super::response::{chat_usage, finish_reason, reasoning_summary};
use crate::translate::responses_response::now_secs;
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};

/// Responses SSE events -> Chat Completions chunks.
pub struct ChatFromResponsesStream {
    id: String,
    model: String,
    created: u64,
    role_sent: bool,
    calls: Vec<StreamCall>,
    /// Chat tool-call index by the call's `output_index`, then by its item id (Copilot's
    /// item ids in delta events may not match, so the index comes first).
    by_output: HashMap<u64, usize>,
    by_item: HashMap<String, usize>,
    /// Output indexes whose text / reasoning arrived as deltas.
    text_seen: HashSet<u64>,
    reasoning_seen: HashSet<u64>,
    done: bool,
    failure: Option<String>,
}

struct StreamCall {
    custom: bool,
    /// The arguments (or freeform input) sent so far.
    sent: String,
}

impl ChatFromResponsesStream {
    pub fn new(requested_model: &str) -> Self {
        ChatFromResponsesStream {
            id: crate::translate::responses_response::new_id("chatcmpl"),
            model: requested_model.to_string(),
            created: now_secs(),
            role_sent: false,
            calls: Vec::new(),
            by_output: HashMap::new(),
            by_item: HashMap::new(),
            text_seen: HashSet::new(),
            reasoning_seen: HashSet::new(),
            done: false,
            failure: None,
        }
    }

    /// Upstream finished: `response.completed` or `response.incomplete` was seen.
    pub fn done(&self) -> bool {
        self.done
    }

    /// Upstream failed (`response.failed` or `error`), with its message.
    pub fn failure(&self) -> Option<String> {
        self.failure.clone()
    }

    /// The chunks for one upstream event; its `type` wins over the SSE event name.
    pub fn on_event(&mut self, event_name: &str, data: &Value) -> Vec<Value> {
        if self.done || self.failure.is_some() {
            return Vec::new();
        }
        let kind = data
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or(event_name);
        let oi = data.get("output_index").and_then(Value::as_u64);
        let delta = data.get("delta").and_then(Value::as_str).unwrap_or("");
        let mut out = Vec::new();
        match kind {
            "response.created" | "response.in_progress" => self.role(&mut out),
            "response.output_item.added" => {
                let item = data.get("item").unwrap_or(&Value::Null);
                if is_call(item) {
                    self.open_call(oi, item, &mut out);
                }
            }
            "response.output_text.delta" if !delta.is_empty() => {
                self.text_seen.extend(oi);
                self.delta(&mut out, json!({"content": delta}));
            }
            "response.refusal.delta" if !delta.is_empty() => {
                self.delta(&mut out, json!({"refusal": delta}))
            }
            "response.reasoning_summary_text.delta" | "response.reasoning_text.delta"
                if !delta.is_empty() =>
            {
                self.reasoning_seen.extend(oi);
                self.delta(&mut out, json!({"reasoning_text": delta}));
            }
            "response.reasoning_summary_part.added"
                if data.get("summary_index").and_then(Value::as_u64) > Some(0) =>
            {
                self.delta(&mut out, json!({"reasoning_text": "\n\n"}))
            }
            "response.function_call_arguments.delta" | "response.custom_tool_call_input.delta" => {
                let i = self.call_for(oi, data, &mut out);
                self.send_args(i, delta, &mut out);
            }
            "response.function_call_arguments.done" | "response.custom_tool_call_input.done" => {
                let i = self.call_for(oi, data, &mut out);
                let whole = ["arguments", "input"]
                    .iter()
                    .find_map(|k| data.get(*k).and_then(Value::as_str));
                if let Some(whole) = whole {
                    self.catch_up(i, whole, &mut out);
                }
            }
            "response.output_item.done" => {
                let item = data.get("item").unwrap_or(&Value::Null);
                self.item_done(oi, item, &mut out);
            }
            "response.completed" | "response.incomplete" => {
                let resp = data.get("response").unwrap_or(&Value::Null);
                let mut resp = resp.clone();
                if kind == "response.incomplete" && resp.get("status").is_none() {
                    resp["status"] = "incomplete".into();
                }
                let finish = finish_reason(&resp, !self.calls.is_empty());
                self.push(&mut out, json!({}), finish.into());
                if let Some(u) = chat_usage(resp.get("usage")) {
                    out.push(json!({"id": self.id, "object": "chat.completion.chunk",
                                    "created": self.created, "model": self.model,
                                    "choices": [], "usage": u}));
                }
                self.done = true;
            }
            "response.failed" => {
                let msg = data
                    .pointer("/response/error/message")
                    .and_then(Value::as_str)
                    .unwrap_or("the upstream response failed");
                self.failure = Some(msg.to_string());
            }
            "error" => {
                let msg = data
                    .get("message")
                    .or_else(|| data.pointer("/error/message"))
                    .and_then(Value::as_str)
                    .unwrap_or("upstream error");
                self.failure = Some(msg.to_string());
            }
            _ => {}
        }
        out
    }

    fn role(&mut self, out: &mut Vec<Value>) {
        if !self.role_sent {
            self.role_sent = true;
            out.push(self.chunk(json!({"role": "assistant"}), Value::Null));
        }
    }

    fn chunk(&self, delta: Value, finish: Value) -> Value {
        json!({"id": self.id, "object": "chat.completion.chunk", "created": self.created,
               "model": self.model,
               "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}]})
    }

    fn push(&mut self, out: &mut Vec<Value>, delta: Value, finish: Value) {
        self.role(out);
        out.push(self.chunk(delta, finish));
    }

    fn delta(&mut self, out: &mut Vec<Value>, delta: Value) {
        self.push(out, delta, Value::Null);
    }

    /// A call's identity, first, before any argument fragment.
    fn open_call(&mut self, oi: Option<u64>, item: &Value, out: &mut Vec<Value>) -> usize {
        let s = |k: &str| item.get(k).and_then(Value::as_str).unwrap_or("");
        let custom = item["type"] == "custom_tool_call";
        let i = self.calls.len();
        self.calls.push(StreamCall {
            custom,
            sent: String::new(),
        });
        if let Some(oi) = oi {
            self.by_output.insert(oi, i);
        }
        if !s("id").is_empty() {
            self.by_item.insert(s("id").to_string(), i);
        }
        let call_id = match s("call_id") {
            "" => crate::translate::responses_response::new_id("call"),
            id => id.to_string(),
        };
        let call = if custom {
            json!({"index": i, "id": call_id, "type": "custom", "custom": {"name": s("name"), "input": ""}})
        } else {
            json!({"index": i, "id": call_id, "type": "function",
                   "function": {"name": s("name"), "arguments": ""}})
        };
        self.delta(out, json!({"tool_calls": [call]}));
        let already = if custom { s("input") } else { s("arguments") };
        self.send_args(i, already, out);
        i
    }

    /// The call an event is about: by `output_index`, then item id, else the latest; a
    /// fragment of a call never announced opens one.
    fn call_for(&mut self, oi: Option<u64>, data: &Value, out: &mut Vec<Value>) -> usize {
        let by_item = data
            .get("item_id")
            .and_then(Value::as_str)
            .and_then(|id| self.by_item.get(id));
        match oi.and_then(|oi| self.by_output.get(&oi)).or(by_item) {
            Some(&i) => i,
            None if !self.calls.is_empty() && oi.is_none() => self.calls.len() - 1,
            None => self.open_call(oi, &json!({"type": "function_call"}), out),
        }
    }

    fn send_args(&mut self, i: usize, fragment: &str, out: &mut Vec<Value>) {
        if fragment.is_empty() {
            return;
        }
        self.calls[i].sent.push_str(fragment);
        let call = if self.calls[i].custom {
            json!({"index": i, "custom": {"input": fragment}})
        } else {
            json!({"index": i, "function": {"arguments": fragment}})
        };
        self.delta(out, json!({"tool_calls": [call]}));
    }

    /// Sends what a `.done` event holds beyond the fragments already sent.
    fn catch_up(&mut self, i: usize, whole: &str, out: &mut Vec<Value>) {
        if let Some(rest) = whole.strip_prefix(self.calls[i].sent.as_str()) {
            let rest = rest.to_string();
            self.send_args(i, &rest, out);
        }
    }

    fn item_done(&mut self, oi: Option<u64>, item: &Value, out: &mut Vec<Value>) {
        match item.get("type").and_then(Value::as_str) {
            Some("reasoning") => {
                let seen = oi.is_some_and(|oi| self.reasoning_seen.contains(&oi));
                let summary = reasoning_summary(item);
                if !seen && !summary.is_empty() {
                    self.delta(out, json!({"reasoning_text": summary}));
                }
                if let Some(o) = join_opaque(item) {
                    self.delta(out, json!({"reasoning_opaque": o}));
                }
            }
            Some("message") => {
                let seen = oi.is_some_and(|oi| self.text_seen.contains(&oi));
                let text: String = item
                    .get("content")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter(|p| p["type"] == "output_text")
                    .filter_map(|p| p["text"].as_str())
                    .collect();
                if !seen && !text.is_empty() {
                    self.delta(out, json!({"content": text}));
                }
            }
            _ if is_call(item) => {
                let known = oi
                    .and_then(|oi| self.by_output.get(&oi))
                    .or_else(|| {
                        item.get("id")
                            .and_then(Value::as_str)
                            .and_then(|id| self.by_item.get(id))
                    })
                    .copied();
                match known {
                    Some(i) => {
                        let key = if self.calls[i].custom {
                            "input"
                        } else {
                            "arguments"
                        };
                        if let Some(whole) = item.get(key).and_then(Value::as_str) {
                            self.catch_up(i, whole, out);
                        }
                    }
                    None => {
                        self.open_call(oi, item, out);
                    }
                }
            }
            _ => {}
        }
    }
}

/// A call item: by type, or (Copilot may obscure the type) any item with a `call_id`
/// that is not a message or reasoning.
pub(super) fn is_call(item: &Value) -> bool {
    match item.get("type").and_then(Value::as_str) {
        Some("function_call" | "custom_tool_call") => true,
        Some("message" | "reasoning") => false,
        _ => item.get("call_id").and_then(Value::as_str).is_some(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn feed(s: &mut ChatFromResponsesStream, events: &[Value]) -> Vec<Value> {
        events
            .iter()
            .flat_map(|e| s.on_event(e["type"].as_str().unwrap(), e))
            .collect()
    }

    fn deltas(chunks: &[Value]) -> Vec<&Value> {
        chunks
            .iter()
            .filter_map(|c| c["choices"].get(0))
            .map(|c| &c["delta"])
            .collect()
    }

    #[test]
    fn responses_stream_becomes_chat_chunks() {
        let mut s = ChatFromResponsesStream::new("gpt-5.5");
        let chunks = feed(
            &mut s,
            &[
                json!({"type": "response.created", "response": {"id": "r"}}),
                json!({"type": "response.output_item.added", "output_index": 0, "item": {"type": "reasoning", "id": "rs_1"}}),
                json!({"type": "response.reasoning_summary_text.delta", "output_index": 0, "delta": "think"}),
                json!({"type": "response.output_item.done", "output_index": 0,
                       "item": {"type": "reasoning", "id": "rs_1", "encrypted_content": "E", "summary": [{"type": "summary_text", "text": "think"}]}}),
                json!({"type": "response.output_item.added", "output_index": 1, "item": {"type": "message"}}),
                json!({"type": "response.output_text.delta", "output_index": 1, "delta": "Hello"}),
                // A call with no argument deltas at all still gets its identity and args.
                json!({"type": "response.output_item.added", "output_index": 2,
                       "item": {"type": "function_call", "id": "x1", "call_id": "call_9", "name": "f", "arguments": ""}}),
                json!({"type": "response.output_item.added", "output_index": 3,
                       "item": {"type": "function_call", "id": "x2", "call_id": "call_10", "name": "g", "arguments": ""}}),
                json!({"type": "response.function_call_arguments.delta", "output_index": 3, "item_id": "opaque", "delta": "{\"a\":"}),
                json!({"type": "response.function_call_arguments.delta", "output_index": 3, "item_id": "opaque", "delta": "1}"}),
                json!({"type": "response.function_call_arguments.done", "output_index": 2, "arguments": "{}"}),
                json!({"type": "response.output_item.done", "output_index": 3,
                       "item": {"type": "function_call", "call_id": "call_10", "name": "g", "arguments": "{\"a\":1}"}}),
                json!({"type": "response.completed", "response": {"status": "completed",
                       "usage": {"input_tokens": 50, "output_tokens": 7, "total_tokens": 57}}}),
            ],
        );
        assert!(s.done() && s.failure().is_none());
        let d = deltas(&chunks);
        assert_eq!(d[0], &json!({"role": "assistant"}), "role first");
        assert_eq!(d[1], &json!({"reasoning_text": "think"}));
        assert_eq!(d[2], &json!({"reasoning_opaque": "E@rs_1"}));
        assert_eq!(d[3], &json!({"content": "Hello"}));
        assert_eq!(
            d[4]["tool_calls"][0],
            json!({"index": 0, "id": "call_9", "type": "function",
                                                 "function": {"name": "f", "arguments": ""}})
        );
        assert_eq!(d[5]["tool_calls"][0]["id"], "call_10");
        assert_eq!(d[5]["tool_calls"][0]["index"], 1);
        assert_eq!(
            d[6]["tool_calls"][0],
            json!({"index": 1, "function": {"arguments": "{\"a\":"}})
        );
        assert_eq!(
            d[7]["tool_calls"][0],
            json!({"index": 1, "function": {"arguments": "1}"}})
        );
        assert_eq!(
            d[8]["tool_calls"][0],
            json!({"index": 0, "function": {"arguments": "{}"}})
        );
        let finish = &chunks[chunks.len() - 2];
        assert_eq!(finish["choices"][0]["finish_reason"], "tool_calls");
        let usage = chunks.last().unwrap();
        assert_eq!(usage["choices"], json!([]));
        assert_eq!(usage["usage"]["total_tokens"], 57);
        assert_eq!(
            chunks.len(),
            11,
            "no duplicate argument chunks: {chunks:#?}"
        );
        assert!(
            chunks
                .iter()
                .all(|c| c["model"] == "gpt-5.5" && c["object"] == "chat.completion.chunk")
        );
    }

    #[test]
    fn stream_failures_and_incomplete() {
        let mut s = ChatFromResponsesStream::new("m");
        feed(
            &mut s,
            &[
                json!({"type": "response.failed", "response": {"error": {"code": "x", "message": "boom"}}}),
            ],
        );
        assert_eq!(s.failure().as_deref(), Some("boom"));
        assert!(!s.done());
        let mut s = ChatFromResponsesStream::new("m");
        s.on_event("error", &json!({"message": "rate limited"}));
        assert_eq!(s.failure().as_deref(), Some("rate limited"));
        let mut s = ChatFromResponsesStream::new("m");
        let chunks = feed(
            &mut s,
            &[
                json!({"type": "response.output_text.delta", "output_index": 0, "delta": "cut"}),
                json!({"type": "response.incomplete", "response": {"incomplete_details": {"reason": "max_output_tokens"}}}),
            ],
        );
        assert!(s.done());
        assert_eq!(
            chunks.last().unwrap()["choices"][0]["finish_reason"],
            "length"
        );
        assert!(
            s.on_event("response.completed", &json!({})).is_empty(),
            "nothing after the end"
        );
    }
}
