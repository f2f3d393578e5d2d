//! Chat Completions stream chunks -> OpenAI Responses SSE events: the state machine of
//! reference §5.8 with the bugs of §10.18 fixed.
//!
//! Each output (reasoning, message, every tool call) is its own item with its own
//! `output_index` and id, announced by `response.output_item.added` and closed by its
//! `.done` events. Items stay open until the upstream ends, because argument deltas of
//! parallel calls interleave and Copilot's reasoning token may come after the text has
//! started. The terminal event is sent by `finish`, after the last chunk, so it carries
//! the real usage whether upstream sent it on the finish chunk or in a later
//! `choices: []` chunk (the reference reported 0/0/0), under the id of
//! `response.created`, with the full `output`. Every event has a rising `sequence_number`
//! and its SSE event name equals its `type`.

use super::json_scan::MemberText;
use super::responses_response::{self as resp, Outcome};
use crate::protocol::chat_chunk::{Chunk, ToolCall, Usage as ChatUsage};
use crate::protocol::responses::{At, Echo, ErrorBody, OutputItem, Part, Response, StreamEvent};
use crate::sse::Event;
use serde_json::Value;
use std::borrow::Cow;
use std::collections::HashMap;

pub struct ResponsesStream {
    id: String,
    created_at: u64,
    /// The request's settings the envelope echoes, not the request itself.
    echo: Echo,
    custom_tools: Vec<String>,
    seq: u64,
    started: bool,
    ended: bool,
    items: Vec<Item>,
    reasoning: Option<usize>,
    message: Option<usize>,
    /// Open calls by (choice index, tool-call index), to their position in `items`.
    calls: HashMap<(u64, u64), usize>,
    usage: Option<ChatUsage>,
    finishes: Vec<String>,
}

/// One output item; its position in `items` is its `output_index`.
struct Item {
    id: String,
    kind: Kind,
}

enum Kind {
    Reasoning {
        summary: String,
        opaque: String,
        part_added: bool,
    },
    Message {
        text: String,
    },
    Call {
        call_id: String,
        name: String,
        args: String,
        /// Set for freeform (`custom`) tools: decodes `input` out of the arguments.
        freeform: Option<MemberText>,
    },
}

impl ResponsesStream {
    pub fn new(response_id: &str, req: &Value, custom_tools: Vec<String>) -> Self {
        ResponsesStream {
            id: response_id.to_string(),
            created_at: resp::now_secs(),
            echo: Echo::for_stream(req),
            custom_tools,
            seq: 0,
            started: false,
            ended: false,
            items: Vec::new(),
            reasoning: None,
            message: None,
            calls: HashMap::new(),
            usage: None,
            finishes: Vec::new(),
        }
    }

    /// `response.created` and `response.in_progress`, once. The other methods send them
    /// first when needed; a route may call this to open the stream before upstream answers.
    pub fn start(&mut self) -> Vec<Event> {
        if self.started {
            return Vec::new();
        }
        self.started = true;
        let seqs = [self.next_seq(), self.next_seq()];
        let snapshot = self.envelope(&Outcome {
            status: "in_progress",
            reason: None,
        });
        let kinds = ["response.created", "response.in_progress"];
        let events = kinds.iter().zip(seqs);
        events
            .map(|(kind, seq)| StreamEvent::response(kind, &snapshot, seq).to_event())
            .collect()
    }

    /// The events for one upstream chunk (a parsed `data:` line other than `[DONE]`).
    pub fn on_chunk(&mut self, chunk: &Value) -> Vec<Event> {
        let mut ev = Vec::new();
        self.on_typed(&Chunk::from_value(chunk), &mut ev);
        ev
    }

    /// `on_chunk` for a chunk read borrowed from the upstream event (the stream's path),
    /// its events appended to `ev`: the relay hands the same vector to every chunk.
    pub fn on_typed(&mut self, chunk: &Chunk, ev: &mut Vec<Event>) {
        if self.ended {
            return;
        }
        ev.append(&mut self.start());
        if let Some(u) = &chunk.usage {
            self.usage = Some(u.clone());
        }
        if let Some(err) = chunk.error.as_ref() {
            let message = err
                .get("message")
                .and_then(Value::as_str)
                .or(err.as_str())
                .unwrap_or("upstream error");
            let code = ["code", "type"]
                .iter()
                .find_map(|k| err.get(*k).and_then(Value::as_str))
                .unwrap_or("server_error");
            ev.append(&mut self.fail(message, code));
            return;
        }
        for choice in &chunk.choices.0 {
            let ci = choice.index.0.unwrap_or(0);
            if let Some(delta) = choice.delta() {
                if let Some(t) = delta.reasoning() {
                    self.reasoning_delta(t, ev);
                }
                if let Some(o) = delta.reasoning_opaque.nonempty() {
                    let i = self.open_reasoning(ev);
                    if let Kind::Reasoning { opaque, .. } = &mut self.items[i].kind {
                        opaque.push_str(o);
                    }
                }
                for text in [delta.content.nonempty(), delta.refusal.nonempty()]
                    .into_iter()
                    .flatten()
                {
                    self.text_delta(text, ev);
                }
                for call in &delta.tool_calls.0 {
                    self.tool_delta(ci, call, ev);
                }
            }
            if let Some(f) = choice.finish_reason.get() {
                self.finishes.push(f.to_string());
            }
        }
    }

    /// After the upstream's last chunk: every open item closed with its `.done` events,
    /// then `response.completed` (or `response.incomplete` when the output was cut off)
    /// with the whole response and its usage.
    pub fn finish(&mut self) -> Vec<Event> {
        if self.ended {
            return Vec::new();
        }
        let mut ev = self.start();
        let mut truncated = false;
        for i in 0..self.items.len() {
            truncated |= !self.close_item(i, &mut ev);
        }
        let outcome = Outcome::from_finishes(self.finishes.iter().map(String::as_str), truncated);
        let kind = if outcome.status == "completed" {
            "response.completed"
        } else {
            "response.incomplete"
        };
        let seq = self.next_seq();
        let mut response = self.envelope(&outcome);
        response.output = self.output();
        response.usage = resp::usage(self.usage.as_ref());
        ev.push(StreamEvent::response(kind, &response, seq).to_event());
        self.ended = true;
        ev
    }

    /// Ends the stream with `response.failed` carrying `{code, message}` (preceded by
    /// `response.created` if nothing was sent yet). Nothing after the stream has ended.
    pub fn fail(&mut self, message: &str, code: &str) -> Vec<Event> {
        if self.ended {
            return Vec::new();
        }
        let mut ev = self.start();
        let failed = Outcome {
            status: "failed",
            reason: None,
        };
        let seq = self.next_seq();
        let mut response = self.envelope(&failed);
        response.output = self.output();
        response.usage = resp::usage(self.usage.as_ref());
        response.error = Some(ErrorBody {
            code: code.to_string(),
            message: message.to_string(),
        });
        ev.push(StreamEvent::response("response.failed", &response, seq).to_event());
        self.ended = true;
        ev
    }

    /// The output items produced so far, in their final form (for the
    /// `previous_response_id` store).
    pub fn output(&self) -> Vec<OutputItem> {
        self.items.iter().map(|i| self.item_value(i).0).collect()
    }

    /// The `response` envelope, its output and usage still empty.
    fn envelope(&self, outcome: &Outcome) -> Response<'_> {
        outcome.response(&*self.id, self.created_at, Cow::Borrowed(&self.echo))
    }

    /// The next event's `sequence_number`.
    fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq - 1
    }

    /// Where events about item `i` belong.
    fn at(&self, i: usize) -> At<'_> {
        At {
            item_id: &self.items[i].id,
            output_index: i,
        }
    }

    fn push_item(&mut self, prefix: &str, kind: Kind) -> usize {
        self.items.push(Item {
            id: resp::new_id(prefix),
            kind,
        });
        self.items.len() - 1
    }

    fn added(&mut self, i: usize, item: OutputItem, ev: &mut Vec<Event>) {
        ev.push(StreamEvent::item_added(i, &item, self.next_seq()).to_event());
    }

    fn open_reasoning(&mut self, ev: &mut Vec<Event>) -> usize {
        if let Some(i) = self.reasoning {
            return i;
        }
        let i = self.push_item(
            resp::OWN_REASONING,
            Kind::Reasoning {
                summary: String::new(),
                opaque: String::new(),
                part_added: false,
            },
        );
        self.reasoning = Some(i);
        let item = OutputItem::reasoning(self.items[i].id.clone(), String::new(), None);
        self.added(i, item, ev);
        i
    }

    fn reasoning_delta(&mut self, text: &str, ev: &mut Vec<Event>) {
        let i = self.open_reasoning(ev);
        let Kind::Reasoning {
            summary,
            part_added,
            ..
        } = &mut self.items[i].kind
        else {
            return;
        };
        summary.push_str(text);
        if !std::mem::replace(part_added, true) {
            let seq = self.next_seq();
            ev.push(StreamEvent::summary_part(self.at(i), "", false, seq).to_event());
        }
        let seq = self.next_seq();
        ev.push(StreamEvent::summary_delta(self.at(i), text, seq).to_event());
    }

    fn text_delta(&mut self, text: &str, ev: &mut Vec<Event>) {
        let i = match self.message {
            Some(i) => i,
            None => {
                let i = self.push_item(
                    "msg",
                    Kind::Message {
                        text: String::new(),
                    },
                );
                self.message = Some(i);
                let item = OutputItem::message(self.items[i].id.clone(), "in_progress", Vec::new());
                self.added(i, item, ev);
                let seq = self.next_seq();
                ev.push(StreamEvent::content_part(self.at(i), "", false, seq).to_event());
                i
            }
        };
        if let Kind::Message { text: all } = &mut self.items[i].kind {
            all.push_str(text);
        }
        let seq = self.next_seq();
        ev.push(StreamEvent::text_delta(self.at(i), text, seq).to_event());
    }

    /// One `tool_calls` entry of a delta. A delta with a new `id` opens a call (some
    /// models reuse index 0 for every call); one without continues the call at its index,
    /// however many calls have started since.
    fn tool_delta(&mut self, choice: u64, call: &ToolCall, ev: &mut Vec<Event>) {
        let key = (choice, call.index.0.unwrap_or(0));
        let id = call.id.nonempty();
        let name = call.function.0.name.nonempty();
        let existing = self
            .calls
            .get(&key)
            .copied()
            .filter(|&i| match (&self.items[i].kind, id) {
                (Kind::Call { call_id, .. }, Some(id)) => call_id == id,
                _ => true,
            });
        let i = match existing {
            Some(i) => i,
            None => self.open_call(key, id, name, ev),
        };
        let fragment = call.function.0.arguments.get().unwrap_or("");
        let item = &mut self.items[i];
        let Kind::Call {
            name: call_name,
            args,
            freeform,
            ..
        } = &mut item.kind
        else {
            return;
        };
        if let (Some(n), true) = (name, call_name.is_empty()) {
            *call_name = n.to_string();
        }
        if fragment.is_empty() {
            return;
        }
        args.push_str(fragment);
        let (delta, custom) = match freeform {
            Some(input) => (input.feed(fragment), true),
            None => (fragment, false),
        };
        if delta.is_empty() {
            return;
        }
        let at = At {
            item_id: &item.id,
            output_index: i,
        };
        ev.push(StreamEvent::call_delta(at, delta, custom, self.seq).to_event());
        self.seq += 1;
    }

    fn open_call(
        &mut self,
        key: (u64, u64),
        id: Option<&str>,
        name: Option<&str>,
        ev: &mut Vec<Event>,
    ) -> usize {
        let call_id = id.map_or_else(|| resp::new_id("call"), str::to_string);
        let name = name.unwrap_or("").to_string();
        let custom = resp::is_custom(&name, &self.custom_tools);
        let i = self.push_item(
            resp::call_prefix(&name, &self.custom_tools),
            Kind::Call {
                call_id: call_id.clone(),
                name: name.clone(),
                args: String::new(),
                freeform: custom.then(|| MemberText::new("input")),
            },
        );
        self.calls.insert(key, i);
        let item_id = self.items[i].id.clone();
        let (status, empty) = ("in_progress", String::new());
        let item = if custom {
            OutputItem::custom_tool_call(item_id, call_id, name, empty, status)
        } else {
            OutputItem::function_call(item_id, call_id, name, empty, status)
        };
        self.added(i, item, ev);
        i
    }

    /// An item in its final form, and whether it is complete (a call whose arguments
    /// had to be repaired is not).
    fn item_value(&self, item: &Item) -> (OutputItem, bool) {
        match &item.kind {
            Kind::Reasoning {
                summary, opaque, ..
            } => {
                let opaque = (!opaque.is_empty()).then(|| opaque.clone());
                let id = item.id.clone();
                (OutputItem::reasoning(id, summary.clone(), opaque), true)
            }
            Kind::Message { text } => {
                let content = vec![Part::output_text(text.clone())];
                let id = item.id.clone();
                (OutputItem::message(id, "completed", content), true)
            }
            Kind::Call {
                call_id,
                name,
                args,
                freeform,
            } => resp::call_item(
                item.id.clone(),
                call_id.clone(),
                name,
                args,
                freeform.as_ref().map(MemberText::text),
                &self.custom_tools,
            ),
        }
    }

    /// The `.done` events of item `i`; returns whether it is complete.
    fn close_item(&mut self, i: usize, ev: &mut Vec<Event>) -> bool {
        let (value, complete) = self.item_value(&self.items[i]);
        let mut seqs = self.seq..;
        let mut seq = || seqs.next().unwrap_or_default();
        let at = At {
            item_id: &self.items[i].id,
            output_index: i,
        };
        match &self.items[i].kind {
            Kind::Reasoning {
                summary,
                part_added: true,
                ..
            } => {
                ev.push(StreamEvent::summary_done(at, summary, seq()).to_event());
                ev.push(StreamEvent::summary_part(at, summary, true, seq()).to_event());
            }
            Kind::Reasoning { .. } => {}
            Kind::Message { text } => {
                ev.push(StreamEvent::text_done(at, text, seq()).to_event());
                ev.push(StreamEvent::content_part(at, text, true, seq()).to_event());
            }
            Kind::Call { .. } => match &value {
                OutputItem::CustomToolCall { input, .. } => {
                    ev.push(StreamEvent::input_done(at, input, seq()).to_event());
                }
                OutputItem::FunctionCall {
                    name, arguments, ..
                } => {
                    let done = StreamEvent::arguments_done(at, name, arguments, seq());
                    ev.push(done.to_event());
                }
                // A call's item is always one of the two.
                _ => {}
            },
        }
        ev.push(StreamEvent::item_done(i, &value, seq()).to_event());
        self.seq = seqs.start;
        complete
    }
}

#[cfg(test)]
mod tests;
