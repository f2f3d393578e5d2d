//! Responses events -> Chat chunks: each upstream event is read borrowed
//! (`protocol::responses::upstream`) and each chunk written typed (`chat_out`).

use super::chat_out::{CallDelta, ChatChunk, ChatUsage, ChunkChoice, Custom, Delta, Function};
use super::response::{finish_reason_for, join_opaque, reasoning_summary};
use crate::protocol::responses::upstream::{Item, Slot, UpstreamEvent};
use crate::translate::responses_response::now_secs;
#[cfg(test)]
use serde_json::Value;
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

    /// The chunks for one upstream event as trees, for the tests; its `type` wins over the
    /// SSE event name.
    #[cfg(test)]
    pub fn on_event(&mut self, event_name: &str, data: &Value) -> Vec<Value> {
        let mut out = Vec::new();
        self.on_typed(event_name, &UpstreamEvent::from_value(data), &mut |chunk| {
            out.push(serde_json::to_value(chunk).unwrap_or(Value::Null))
        });
        out
    }

    /// The chunks for one upstream event already read, each handed to `out` in order; its
    /// `type` wins over the SSE event name.
    pub fn on_typed(
        &mut self,
        event_name: &str,
        e: &UpstreamEvent,
        out: &mut dyn FnMut(&ChatChunk),
    ) {
        if self.done || self.failure.is_some() {
            return;
        }
        let kind = e.kind.get().unwrap_or(event_name);
        let oi = e.output_index.0;
        let delta = e.delta.get().unwrap_or("");
        let mut w = Writer { s: self, out };
        match kind {
            "response.created" | "response.in_progress" => w.role(),
            "response.output_item.added" if e.item.0.is_call() => {
                w.open_call(oi, &e.item.0);
            }
            "response.output_text.delta" if !delta.is_empty() => {
                w.s.text_seen.extend(oi);
                w.delta(Delta {
                    content: Some(delta),
                    ..Delta::default()
                });
            }
            "response.refusal.delta" if !delta.is_empty() => w.delta(Delta {
                refusal: Some(delta),
                ..Delta::default()
            }),
            "response.reasoning_summary_text.delta" | "response.reasoning_text.delta"
                if !delta.is_empty() =>
            {
                w.s.reasoning_seen.extend(oi);
                w.reasoning(delta);
            }
            "response.reasoning_summary_part.added" if e.summary_index.0 > Some(0) => {
                w.reasoning("\n\n")
            }
            "response.function_call_arguments.delta" | "response.custom_tool_call_input.delta" => {
                let i = w.call_for(oi, e.item_id.get());
                w.send_args(i, delta);
            }
            "response.function_call_arguments.done" | "response.custom_tool_call_input.done" => {
                let i = w.call_for(oi, e.item_id.get());
                if let Some(whole) = e.arguments.get().or(e.input.get()) {
                    w.catch_up(i, whole);
                }
            }
            "response.output_item.done" => w.item_done(oi, &e.item.0),
            "response.completed" | "response.incomplete" => {
                let resp = &e.response.0;
                let status = match &resp.status {
                    Slot::Absent if kind == "response.incomplete" => {
                        &Slot::Text("incomplete".into())
                    }
                    status => status,
                };
                let finish = finish_reason_for(status, resp, !w.s.calls.is_empty());
                w.push(Delta::default(), Some(finish));
                if let Some(u) = resp.usage.get() {
                    (w.out)(&ChatChunk {
                        choices: Vec::new(),
                        created: w.s.created,
                        id: &w.s.id,
                        model: &w.s.model,
                        object: "chat.completion.chunk",
                        usage: Some(ChatUsage::from_responses(u)),
                    });
                }
                w.s.done = true;
            }
            "response.failed" => {
                let msg = e.response.0.error.0.message.get();
                self.failure = Some(msg.unwrap_or("the upstream response failed").to_string());
            }
            "error" => {
                let msg = match &e.message {
                    Slot::Absent => e.error.0.message.get(),
                    message => message.get(),
                };
                self.failure = Some(msg.unwrap_or("upstream error").to_string());
            }
            _ => {}
        }
    }
}

/// The stream's state and where its chunks go, for the length of one event.
struct Writer<'s, 'o> {
    s: &'s mut ChatFromResponsesStream,
    out: &'o mut dyn FnMut(&ChatChunk),
}

impl Writer<'_, '_> {
    fn role(&mut self) {
        if !self.s.role_sent {
            self.s.role_sent = true;
            self.chunk(
                Delta {
                    role: Some("assistant"),
                    ..Delta::default()
                },
                None,
            );
        }
    }

    fn chunk(&mut self, delta: Delta, finish_reason: Option<&'static str>) {
        (self.out)(&ChatChunk {
            choices: vec![ChunkChoice {
                delta,
                finish_reason,
                index: 0,
                logprobs: (),
            }],
            created: self.s.created,
            id: &self.s.id,
            model: &self.s.model,
            object: "chat.completion.chunk",
            usage: None,
        });
    }

    fn push(&mut self, delta: Delta, finish: Option<&'static str>) {
        self.role();
        self.chunk(delta, finish);
    }

    fn delta(&mut self, delta: Delta) {
        self.push(delta, None);
    }

    fn reasoning(&mut self, text: &str) {
        self.delta(Delta {
            reasoning_text: Some(text),
            ..Delta::default()
        });
    }

    fn call(&mut self, call: CallDelta) {
        self.delta(Delta {
            tool_calls: Some([call]),
            ..Delta::default()
        });
    }

    /// A call's identity, first, before any argument fragment.
    fn open_call(&mut self, oi: Option<u64>, item: &Item) -> usize {
        let custom = item.is_custom();
        let i = self.s.calls.len();
        self.s.calls.push(StreamCall {
            custom,
            sent: String::new(),
        });
        if let Some(oi) = oi {
            self.s.by_output.insert(oi, i);
        }
        if let Some(id) = item.id.nonempty() {
            self.s.by_item.insert(id.to_string(), i);
        }
        let call_id = match item.call_id.nonempty() {
            None => crate::translate::responses_response::new_id("call"),
            Some(id) => id.to_string(),
        };
        let name = Some(item.name.get().unwrap_or(""));
        self.call(CallDelta {
            custom: custom.then_some(Custom { input: "", name }),
            function: (!custom).then_some(Function {
                arguments: "",
                name,
            }),
            id: Some(&call_id),
            index: i,
            kind: Some(if custom { "custom" } else { "function" }),
        });
        let already = if custom { &item.input } else { &item.arguments };
        self.send_args(i, already.get().unwrap_or(""));
        i
    }

    /// The call an event is about: by `output_index`, then item id, else the latest; a
    /// fragment of a call never announced opens one.
    fn call_for(&mut self, oi: Option<u64>, item_id: Option<&str>) -> usize {
        let by_item = item_id.and_then(|id| self.s.by_item.get(id));
        match oi.and_then(|oi| self.s.by_output.get(&oi)).or(by_item) {
            Some(&i) => i,
            None if !self.s.calls.is_empty() && oi.is_none() => self.s.calls.len() - 1,
            None => {
                let mut anonymous = Item::default();
                anonymous.kind.0 = Some("function_call".into());
                self.open_call(oi, &anonymous)
            }
        }
    }

    fn send_args(&mut self, i: usize, fragment: &str) {
        if fragment.is_empty() {
            return;
        }
        self.s.calls[i].sent.push_str(fragment);
        let custom = self.s.calls[i].custom;
        self.call(CallDelta {
            custom: custom.then_some(Custom {
                input: fragment,
                name: None,
            }),
            function: (!custom).then_some(Function {
                arguments: fragment,
                name: None,
            }),
            id: None,
            index: i,
            kind: None,
        });
    }

    /// Sends what a `.done` event holds beyond the fragments already sent.
    fn catch_up(&mut self, i: usize, whole: &str) {
        if let Some(rest) = whole.strip_prefix(self.s.calls[i].sent.as_str()) {
            self.send_args(i, rest);
        }
    }

    fn item_done(&mut self, oi: Option<u64>, item: &Item) {
        match item.kind.get() {
            Some("reasoning") => {
                let seen = oi.is_some_and(|oi| self.s.reasoning_seen.contains(&oi));
                let summary = reasoning_summary(item);
                if !seen && !summary.is_empty() {
                    self.reasoning(&summary);
                }
                if let Some(o) = join_opaque(item) {
                    self.delta(Delta {
                        reasoning_opaque: Some(&o),
                        ..Delta::default()
                    });
                }
            }
            Some("message") => {
                let seen = oi.is_some_and(|oi| self.s.text_seen.contains(&oi));
                let text: String = item
                    .content
                    .0
                    .iter()
                    .filter(|p| p.kind.get() == Some("output_text"))
                    .filter_map(|p| p.text.get())
                    .collect();
                if !seen && !text.is_empty() {
                    self.delta(Delta {
                        content: Some(&text),
                        ..Delta::default()
                    });
                }
            }
            _ if item.is_call() => {
                let known = oi
                    .and_then(|oi| self.s.by_output.get(&oi))
                    .or_else(|| item.id.get().and_then(|id| self.s.by_item.get(id)))
                    .copied();
                match known {
                    Some(i) => {
                        let whole = if self.s.calls[i].custom {
                            &item.input
                        } else {
                            &item.arguments
                        };
                        if let Some(whole) = whole.get() {
                            self.catch_up(i, whole);
                        }
                    }
                    None => {
                        self.open_call(oi, item);
                    }
                }
            }
            _ => {}
        }
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
        // Odd shapes read as absent: no panic, the same defaults as before.
        let mut s = ChatFromResponsesStream::new("m");
        let chunks = s.on_event(
            "x",
            &json!({"type": "response.incomplete", "response": "x"}),
        );
        assert_eq!(
            chunks.last().unwrap()["choices"][0]["finish_reason"],
            "length"
        );
        assert!(chunks.iter().all(|c| c.get("usage").is_none()));
        let mut s = ChatFromResponsesStream::new("m");
        s.on_event(
            "error",
            &json!({"message": null, "error": {"message": "inner"}}),
        );
        assert_eq!(s.failure().as_deref(), Some("upstream error"));
        let mut s = ChatFromResponsesStream::new("m");
        s.on_event("error", &json!({"error": {"message": "inner"}}));
        assert_eq!(s.failure().as_deref(), Some("inner"));
    }
}
