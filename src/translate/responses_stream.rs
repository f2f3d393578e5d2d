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

use super::responses_response::{self as resp, Outcome};
use crate::protocol::chat_chunk::{Chunk, ToolCall};
use crate::protocol::responses;
use crate::sse::Event;
use serde_json::{Map, Value, json};
use std::collections::HashMap;

pub struct ResponsesStream {
    id: String,
    created_at: u64,
    req: Value,
    custom_tools: Vec<String>,
    seq: u64,
    started: bool,
    ended: bool,
    items: Vec<Item>,
    reasoning: Option<usize>,
    message: Option<usize>,
    /// Open calls by (choice index, tool-call index), to their position in `items`.
    calls: HashMap<(u64, u64), usize>,
    usage: Option<Value>,
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
        freeform: Option<Freeform>,
    },
}

impl ResponsesStream {
    pub fn new(response_id: &str, req: &Value, custom_tools: Vec<String>) -> Self {
        ResponsesStream {
            id: response_id.to_string(),
            created_at: resp::now_secs(),
            req: resp::echoed(req),
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
        let snapshot = self.envelope(
            &Outcome {
                status: "in_progress",
                reason: None,
            },
            Vec::new(),
            Value::Null,
        );
        vec![
            self.event("response.created", json!({"response": snapshot.clone()})),
            self.event("response.in_progress", json!({"response": snapshot})),
        ]
    }

    /// The events for one upstream chunk (a parsed `data:` line other than `[DONE]`).
    #[cfg(test)]
    pub fn on_chunk(&mut self, chunk: &Value) -> Vec<Event> {
        self.on_typed(&Chunk::from_value(chunk))
    }

    /// `on_chunk` for a chunk read borrowed from the upstream event (the stream's path).
    pub fn on_typed(&mut self, chunk: &Chunk) -> Vec<Event> {
        if self.ended {
            return Vec::new();
        }
        let mut ev = self.start();
        if let Some(u) = chunk.usage.as_ref().filter(|u| u.is_object()) {
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
            ev.extend(self.fail(message, code));
            return ev;
        }
        for choice in &chunk.choices.0 {
            let ci = choice.index.0.unwrap_or(0);
            if let Some(delta) = choice.delta() {
                if let Some(t) = delta.reasoning() {
                    self.reasoning_delta(t, &mut ev);
                }
                if let Some(o) = delta.reasoning_opaque.nonempty() {
                    let i = self.open_reasoning(&mut ev);
                    if let Kind::Reasoning { opaque, .. } = &mut self.items[i].kind {
                        opaque.push_str(o);
                    }
                }
                for text in [&delta.content, &delta.refusal] {
                    if let Some(t) = text.nonempty() {
                        self.text_delta(t, &mut ev);
                    }
                }
                for call in &delta.tool_calls.0 {
                    self.tool_delta(ci, call, &mut ev);
                }
            }
            if let Some(f) = choice.finish_reason.get() {
                self.finishes.push(f.to_string());
            }
        }
        ev
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
        let response = self.envelope(&outcome, self.output(), resp::usage(self.usage.as_ref()));
        ev.push(self.event(kind, json!({"response": response})));
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
        let mut response = self.envelope(&failed, self.output(), resp::usage(self.usage.as_ref()));
        response["error"] = json!({"code": code, "message": message});
        ev.push(self.event("response.failed", json!({"response": response})));
        self.ended = true;
        ev
    }

    /// The output items produced so far, in their final form (for the
    /// `previous_response_id` store).
    pub fn output(&self) -> Vec<Value> {
        self.items.iter().map(|i| self.item_value(i).0).collect()
    }

    fn envelope(&self, outcome: &Outcome, output: Vec<Value>, usage: Value) -> Value {
        resp::response_object(&self.id, self.created_at, &self.req, outcome, output, usage)
    }

    fn event(&mut self, kind: &str, fields: Value) -> Event {
        let mut data = match fields {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        data.insert("type".into(), kind.into());
        data.insert("sequence_number".into(), self.seq.into());
        self.seq += 1;
        Event {
            event: Some(kind.to_string()),
            data: Value::Object(data).to_string(),
            ..Event::default()
        }
    }

    fn push_item(&mut self, prefix: &str, kind: Kind) -> usize {
        self.items.push(Item {
            id: resp::new_id(prefix),
            kind,
        });
        self.items.len() - 1
    }

    fn added(&mut self, i: usize, item: Value, ev: &mut Vec<Event>) {
        let e = self.event(
            "response.output_item.added",
            json!({"output_index": i, "item": item}),
        );
        ev.push(e);
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
        let item = json!({"id": self.items[i].id, "type": "reasoning", "summary": []});
        self.added(i, item, ev);
        i
    }

    fn reasoning_delta(&mut self, text: &str, ev: &mut Vec<Event>) {
        let i = self.open_reasoning(ev);
        let item_id = self.items[i].id.clone();
        let Kind::Reasoning {
            summary,
            part_added,
            ..
        } = &mut self.items[i].kind
        else {
            return;
        };
        summary.push_str(text);
        let first = !std::mem::replace(part_added, true);
        if first {
            let e = self.event(
                "response.reasoning_summary_part.added",
                json!({"item_id": item_id, "output_index": i, "summary_index": 0,
                       "part": {"type": "summary_text", "text": ""}}),
            );
            ev.push(e);
        }
        let e = self.event(
            "response.reasoning_summary_text.delta",
            json!({"item_id": item_id, "output_index": i, "summary_index": 0, "delta": text}),
        );
        ev.push(e);
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
                let item_id = self.items[i].id.clone();
                self.added(
                    i,
                    json!({"id": item_id, "type": "message", "role": "assistant",
                           "status": "in_progress", "content": []}),
                    ev,
                );
                let e = self.event(
                    "response.content_part.added",
                    json!({"item_id": item_id, "output_index": i, "content_index": 0,
                           "part": resp::output_text("")}),
                );
                ev.push(e);
                i
            }
        };
        if let Kind::Message { text: all } = &mut self.items[i].kind {
            all.push_str(text);
        }
        ev.push(responses::text_delta(&self.items[i].id, i, text, self.seq));
        self.seq += 1;
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
        let item_id = self.items[i].id.clone();
        let Kind::Call {
            name: call_name,
            args,
            freeform,
            ..
        } = &mut self.items[i].kind
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
        let e = match freeform {
            Some(decoder) => {
                let decoded = decoder.feed(fragment);
                if decoded.is_empty() {
                    return;
                }
                self.event(
                    "response.custom_tool_call_input.delta",
                    json!({"item_id": item_id, "output_index": i, "delta": decoded}),
                )
            }
            None => self.event(
                "response.function_call_arguments.delta",
                json!({"item_id": item_id, "output_index": i, "delta": fragment}),
            ),
        };
        ev.push(e);
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
                freeform: custom.then(Freeform::default),
            },
        );
        self.calls.insert(key, i);
        let item_id = self.items[i].id.clone();
        let item = if custom {
            json!({"id": item_id, "type": "custom_tool_call", "status": "in_progress",
                   "call_id": call_id, "name": name, "input": ""})
        } else {
            json!({"id": item_id, "type": "function_call", "status": "in_progress",
                   "call_id": call_id, "name": name, "arguments": ""})
        };
        self.added(i, item, ev);
        i
    }

    /// An item in its final form, and whether it is complete (a call whose arguments
    /// had to be repaired is not).
    fn item_value(&self, item: &Item) -> (Value, bool) {
        match &item.kind {
            Kind::Reasoning {
                summary, opaque, ..
            } => {
                let opaque = (!opaque.is_empty()).then_some(opaque.as_str());
                (resp::reasoning_item(&item.id, summary, opaque), true)
            }
            Kind::Message { text } => (
                json!({"id": item.id, "type": "message", "role": "assistant",
                       "status": "completed", "content": [resp::output_text(text)]}),
                true,
            ),
            Kind::Call {
                call_id,
                name,
                args,
                freeform,
            } => resp::call_item(
                &item.id,
                call_id,
                name,
                args,
                freeform.as_ref().map(|f| f.decoded.as_str()),
                &self.custom_tools,
            ),
        }
    }

    /// The `.done` events of item `i`; returns whether it is complete.
    fn close_item(&mut self, i: usize, ev: &mut Vec<Event>) -> bool {
        let (value, complete) = self.item_value(&self.items[i]);
        let item_id = self.items[i].id.clone();
        match &self.items[i].kind {
            Kind::Reasoning {
                summary,
                part_added: true,
                ..
            } => {
                let text = summary.clone();
                let e = self.event(
                    "response.reasoning_summary_text.done",
                    json!({"item_id": item_id, "output_index": i, "summary_index": 0, "text": text}),
                );
                ev.push(e);
                let e = self.event(
                    "response.reasoning_summary_part.done",
                    json!({"item_id": item_id, "output_index": i, "summary_index": 0,
                           "part": {"type": "summary_text", "text": text}}),
                );
                ev.push(e);
            }
            Kind::Reasoning { .. } => {}
            Kind::Message { text } => {
                let text = text.clone();
                let e = self.event(
                    "response.output_text.done",
                    json!({"item_id": item_id, "output_index": i, "content_index": 0,
                           "text": text, "logprobs": []}),
                );
                ev.push(e);
                let e = self.event(
                    "response.content_part.done",
                    json!({"item_id": item_id, "output_index": i, "content_index": 0,
                           "part": resp::output_text(&text)}),
                );
                ev.push(e);
            }
            Kind::Call { freeform, .. } => {
                let e = if freeform.is_some() {
                    self.event(
                        "response.custom_tool_call_input.done",
                        json!({"item_id": item_id, "output_index": i, "input": value["input"]}),
                    )
                } else {
                    self.event(
                        "response.function_call_arguments.done",
                        json!({"item_id": item_id, "output_index": i, "name": value["name"],
                               "arguments": value["arguments"]}),
                    )
                };
                ev.push(e);
            }
        }
        let e = self.event(
            "response.output_item.done",
            json!({"output_index": i, "item": value}),
        );
        ev.push(e);
        complete
    }
}

/// Decodes, as it streams in, the string value of `input` in arguments shaped
/// `{"input": "..."}`, so a freeform call's text can be relayed as it is written.
/// Resumes where it stopped; waits when a fragment ends inside an escape.
#[derive(Default)]
struct Freeform {
    raw: String,
    /// Byte offset in `raw` where decoding resumes, once the value's opening quote is found.
    at: Option<usize>,
    closed: bool,
    decoded: String,
}

impl Freeform {
    /// Takes an argument fragment; returns the newly decoded text.
    fn feed(&mut self, fragment: &str) -> String {
        self.raw.push_str(fragment);
        if self.closed {
            return String::new();
        }
        let mut at = match self.at {
            Some(at) => at,
            None => match value_start(&self.raw) {
                Some(at) => at,
                None => return String::new(),
            },
        };
        let mut out = String::new();
        let bytes = self.raw.as_bytes();
        while at < bytes.len() {
            match bytes[at] {
                b'"' => {
                    self.closed = true;
                    at += 1;
                    break;
                }
                b'\\' => match unescape(&self.raw[at..]) {
                    Some((s, len)) => {
                        out.push_str(&s);
                        at += len;
                    }
                    None => break,
                },
                _ => {
                    let c = self.raw[at..].chars().next().unwrap_or('\u{fffd}');
                    out.push(c);
                    at += c.len_utf8();
                }
            }
        }
        self.at = Some(at);
        self.decoded.push_str(&out);
        out
    }
}

/// The offset just after the opening quote of the `"input"` value, once it has arrived.
fn value_start(raw: &str) -> Option<usize> {
    let key = raw.find("\"input\"")? + "\"input\"".len();
    let rest = raw[key..].trim_start();
    let rest = rest.strip_prefix(':')?.trim_start();
    rest.starts_with('"').then(|| raw.len() - rest.len() + 1)
}

/// The text of the escape at the start of `s` and its length in bytes; `None` when the
/// escape is not complete yet.
fn unescape(s: &str) -> Option<(String, usize)> {
    let c = s[1..].chars().next()?;
    let simple = match c {
        'n' => '\n',
        't' => '\t',
        'r' => '\r',
        'b' => '\u{8}',
        'f' => '\u{c}',
        'u' => return unicode_escape(s),
        // `\"`, `\\`, `\/`, and anything invalid, taken literally.
        other => other,
    };
    Some((simple.to_string(), 1 + c.len_utf8()))
}

fn unicode_escape(s: &str) -> Option<(String, usize)> {
    let hex = |from: usize| {
        s.get(from..from + 4)
            .and_then(|h| u32::from_str_radix(h, 16).ok())
    };
    let high = match hex(2) {
        Some(h) => h,
        // Not hex: skip the `\u` rather than wait forever.
        None if s.len() >= 6 => return Some(('\u{fffd}'.to_string(), 2)),
        None => return None,
    };
    if !(0xD800..0xDC00).contains(&high) {
        let c = char::from_u32(high).unwrap_or('\u{fffd}');
        return Some((c.to_string(), 6));
    }
    // A surrogate pair needs the next `\u` escape too.
    if s.len() < 12 {
        return None;
    }
    match (s.get(6..8), hex(8)) {
        (Some("\\u"), Some(low)) if (0xDC00..0xE000).contains(&low) => {
            let c = char::from_u32(0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00));
            Some((c.unwrap_or('\u{fffd}').to_string(), 12))
        }
        _ => Some(('\u{fffd}'.to_string(), 6)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req() -> Value {
        json!({"model": "claude-sonnet-4.5", "stream": true, "tool_choice": "auto",
               "tools": [{"type": "function", "name": "exec_command"}, {"type": "custom", "name": "apply_patch"}]})
    }

    fn stream() -> ResponsesStream {
        ResponsesStream::new("resp_abc", &req(), vec!["apply_patch".into()])
    }

    fn chunk(delta: Value, finish: Option<&str>) -> Value {
        json!({"id": "chatcmpl-1", "model": "claude-sonnet-4.5",
               "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
    }

    fn usage_chunk() -> Value {
        json!({"id": "chatcmpl-1", "choices": [],
               "usage": {"prompt_tokens": 50, "completion_tokens": 7, "total_tokens": 57,
                         "prompt_tokens_details": {"cached_tokens": 10}}})
    }

    /// Runs chunks through a stream and returns (type, data) of every event, checking the
    /// invariants every event must keep.
    fn run(s: &mut ResponsesStream, chunks: &[Value]) -> Vec<(String, Value)> {
        let mut events = Vec::new();
        for c in chunks {
            events.extend(s.on_chunk(c));
        }
        events.extend(s.finish());
        decode(events)
    }

    fn decode(events: Vec<Event>) -> Vec<(String, Value)> {
        let mut out = Vec::new();
        for (n, e) in events.into_iter().enumerate() {
            let data: Value = serde_json::from_str(&e.data).unwrap();
            let name = e.event.clone().unwrap();
            assert_eq!(data["type"], name.as_str(), "event name equals type");
            assert_eq!(data["sequence_number"], n as u64, "{name}");
            assert!(e.to_wire().starts_with(&format!("event: {name}\ndata: {{")));
            out.push((name, data));
        }
        out
    }

    fn names(events: &[(String, Value)]) -> Vec<&str> {
        events.iter().map(|(n, _)| n.as_str()).collect()
    }

    fn find<'a>(events: &'a [(String, Value)], name: &str) -> Vec<&'a Value> {
        events
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, d)| d)
            .collect()
    }

    #[test]
    fn text_stream_with_reasoning_and_separate_usage() {
        let mut s = stream();
        let events = run(
            &mut s,
            &[
                chunk(json!({"role": "assistant"}), None),
                chunk(json!({"reasoning_text": "Think"}), None),
                chunk(json!({"reasoning_text": "ing."}), None),
                chunk(json!({"content": "Hel", "reasoning_opaque": "sig=="}), None),
                chunk(json!({"content": "lo"}), None),
                chunk(json!({}), Some("stop")),
                usage_chunk(),
            ],
        );
        assert_eq!(
            names(&events),
            [
                "response.created",
                "response.in_progress",
                "response.output_item.added",
                "response.reasoning_summary_part.added",
                "response.reasoning_summary_text.delta",
                "response.reasoning_summary_text.delta",
                "response.output_item.added",
                "response.content_part.added",
                "response.output_text.delta",
                "response.output_text.delta",
                "response.reasoning_summary_text.done",
                "response.reasoning_summary_part.done",
                "response.output_item.done",
                "response.output_text.done",
                "response.content_part.done",
                "response.output_item.done",
                "response.completed",
            ]
        );
        let created = &events[0].1["response"];
        assert_eq!(created["id"], "resp_abc");
        assert_eq!(created["status"], "in_progress");
        let done = find(&events, "response.output_item.done");
        assert_eq!(done[0]["output_index"], 0);
        assert_eq!(done[0]["item"]["encrypted_content"], "sig==");
        assert_eq!(done[0]["item"]["summary"][0]["text"], "Thinking.");
        assert_eq!(done[1]["output_index"], 1);
        assert_eq!(done[1]["item"]["content"][0]["text"], "Hello");
        let text_delta = find(&events, "response.output_text.delta")[0];
        assert_eq!(text_delta["item_id"], done[1]["item"]["id"]);
        assert_eq!(text_delta["output_index"], 1);

        let completed = &events.last().unwrap().1["response"];
        assert_eq!(
            completed["id"], "resp_abc",
            "same id as response.created (§10.18)"
        );
        assert_eq!(completed["status"], "completed");
        assert_eq!(completed["model"], "claude-sonnet-4.5");
        assert_eq!(completed["output_text"], "Hello");
        assert_eq!(completed["output"].as_array().unwrap().len(), 2);
        assert_eq!(
            completed["usage"]["input_tokens"], 50,
            "usage after the finish chunk"
        );
        assert_eq!(completed["usage"]["output_tokens"], 7);
        assert_eq!(completed["usage"]["total_tokens"], 57);
        assert_eq!(
            completed["usage"]["input_tokens_details"]["cached_tokens"],
            10
        );
        assert_eq!(s.output(), completed["output"].as_array().unwrap().clone());
    }

    #[test]
    fn usage_inline_on_the_finish_chunk() {
        let mut finish = chunk(json!({"content": "ok"}), Some("stop"));
        finish["usage"] = usage_chunk()["usage"].clone();
        let events = run(&mut stream(), &[finish]);
        let completed = &events.last().unwrap().1;
        assert_eq!(completed["type"], "response.completed");
        assert_eq!(completed["response"]["usage"]["total_tokens"], 57);
    }

    #[test]
    fn parallel_calls_with_interleaved_arguments() {
        let events = run(
            &mut stream(),
            &[
                chunk(json!({"content": "Running both."}), None),
                chunk(
                    json!({"tool_calls": [{"index": 0, "id": "call_a", "type": "function",
                                             "function": {"name": "exec_command", "arguments": ""}}]}),
                    None,
                ),
                chunk(
                    json!({"tool_calls": [{"index": 0, "function": {"arguments": "{\"cmd\":"}}]}),
                    None,
                ),
                chunk(
                    json!({"tool_calls": [{"index": 1, "id": "call_b", "type": "function",
                                             "function": {"name": "exec_command", "arguments": "{\"cmd\":\"pwd\"}"}}]}),
                    None,
                ),
                // A late fragment of the first call, after the second started.
                chunk(
                    json!({"tool_calls": [{"index": 0, "function": {"arguments": "\"ls\"}"}}]}),
                    None,
                ),
                chunk(json!({}), Some("tool_calls")),
                usage_chunk(),
            ],
        );
        let added = find(&events, "response.output_item.added");
        assert_eq!(added.len(), 3);
        assert_eq!(added[1]["item"]["call_id"], "call_a");
        assert_eq!(added[1]["output_index"], 1);
        assert_eq!(added[2]["item"]["call_id"], "call_b");
        assert_eq!(added[2]["output_index"], 2);
        let deltas = find(&events, "response.function_call_arguments.delta");
        let for_a: String = deltas
            .iter()
            .filter(|d| d["output_index"] == 1)
            .map(|d| d["delta"].as_str().unwrap())
            .collect();
        assert_eq!(for_a, "{\"cmd\":\"ls\"}");
        assert!(
            deltas.iter().all(|d| d["item_id"]
                == added[d["output_index"].as_u64().unwrap() as usize]["item"]["id"])
        );
        let done = find(&events, "response.function_call_arguments.done");
        assert_eq!(done[0]["arguments"], "{\"cmd\":\"ls\"}");
        assert_eq!(done[1]["arguments"], "{\"cmd\":\"pwd\"}");
        let items = find(&events, "response.output_item.done");
        assert_eq!(items[1]["item"]["type"], "function_call");
        assert_eq!(items[1]["item"]["status"], "completed");
        assert_eq!(items[2]["item"]["call_id"], "call_b");
        let completed = &events.last().unwrap().1["response"];
        assert_eq!(completed["status"], "completed");
        assert_eq!(completed["output"].as_array().unwrap().len(), 3);
    }

    #[test]
    fn calls_reusing_index_zero_stay_apart() {
        let events = run(
            &mut stream(),
            &[
                chunk(
                    json!({"tool_calls": [{"index": 0, "id": "c1", "function": {"name": "exec_command", "arguments": "{}"}}]}),
                    None,
                ),
                chunk(
                    json!({"tool_calls": [{"index": 0, "id": "c2", "function": {"name": "exec_command", "arguments": "{\"a\":1}"}}]}),
                    Some("tool_calls"),
                ),
            ],
        );
        let items = find(&events, "response.output_item.done");
        assert_eq!(items.len(), 2);
        assert_eq!(items[0]["item"]["arguments"], "{}");
        assert_eq!(items[1]["item"]["arguments"], "{\"a\":1}");
    }

    #[test]
    fn apply_patch_streams_as_a_custom_tool_call() {
        let patch = "*** Begin Patch\n*** Add File: out.txt\n+hello \"x\" \u{e9}\n*** End Patch";
        let args = json!({"input": patch}).to_string();
        // Cut the arguments at awkward places: inside the key, inside escapes.
        let cuts = [3, 10, 12, 30, 31, 45, args.len() - 1];
        let mut pieces = Vec::new();
        let mut from = 0;
        for &to in &cuts {
            let to = (to..=args.len())
                .find(|&t| args.is_char_boundary(t))
                .unwrap();
            pieces.push(args[from..to].to_string());
            from = to;
        }
        pieces.push(args[from..].to_string());
        let mut chunks = vec![chunk(
            json!({"tool_calls": [{"index": 0, "id": "call_p", "type": "function",
                                   "function": {"name": "apply_patch", "arguments": ""}}]}),
            None,
        )];
        for p in &pieces {
            chunks.push(chunk(
                json!({"tool_calls": [{"index": 0, "function": {"arguments": p}}]}),
                None,
            ));
        }
        chunks.push(chunk(json!({}), Some("tool_calls")));
        let events = run(&mut stream(), &chunks);
        let added = find(&events, "response.output_item.added")[0];
        assert_eq!(added["item"]["type"], "custom_tool_call");
        assert!(added["item"]["id"].as_str().unwrap().starts_with("ctc_"));
        let streamed: String = find(&events, "response.custom_tool_call_input.delta")
            .iter()
            .map(|d| d["delta"].as_str().unwrap())
            .collect();
        assert_eq!(streamed, patch);
        assert_eq!(
            find(&events, "response.custom_tool_call_input.done")[0]["input"],
            patch
        );
        assert!(find(&events, "response.function_call_arguments.delta").is_empty());
        let item = &find(&events, "response.output_item.done")[0]["item"];
        assert_eq!(
            (
                &item["type"],
                &item["call_id"],
                &item["name"],
                &item["input"]
            ),
            (
                &json!("custom_tool_call"),
                &json!("call_p"),
                &json!("apply_patch"),
                &json!(patch)
            )
        );
    }

    #[test]
    fn truncated_arguments_end_incomplete_with_valid_json() {
        let events = run(
            &mut stream(),
            &[
                chunk(
                    json!({"tool_calls": [{"index": 0, "id": "c1", "function": {"name": "exec_command",
                                             "arguments": "{\"cmd\":[\"ls\""}}]}),
                    Some("length"),
                ),
                usage_chunk(),
            ],
        );
        let done = find(&events, "response.function_call_arguments.done")[0];
        assert_eq!(done["arguments"], "{\"cmd\":[\"ls\"]}");
        let item = &find(&events, "response.output_item.done")[0]["item"];
        assert_eq!(item["status"], "incomplete");
        let (name, last) = events.last().unwrap();
        assert_eq!(name, "response.incomplete");
        assert_eq!(last["response"]["status"], "incomplete");
        assert_eq!(
            last["response"]["incomplete_details"]["reason"],
            "max_output_tokens"
        );
        assert_eq!(last["response"]["usage"]["total_tokens"], 57);
    }

    #[test]
    fn failures() {
        // Before anything was sent: created, in_progress, then failed.
        let mut s = stream();
        let events = decode(s.fail("prompt is too long", "context_length_exceeded"));
        assert_eq!(
            names(&events),
            [
                "response.created",
                "response.in_progress",
                "response.failed"
            ]
        );
        let failed = &events[2].1["response"];
        assert_eq!(failed["status"], "failed");
        assert_eq!(
            failed["error"],
            json!({"code": "context_length_exceeded", "message": "prompt is too long"})
        );
        assert!(
            s.finish().is_empty() && s.on_chunk(&usage_chunk()).is_empty(),
            "ended"
        );

        // An error chunk mid-stream.
        let mut s = stream();
        let mut events = s.on_chunk(&chunk(json!({"content": "par"}), None));
        events.extend(s.on_chunk(&json!({"error": {"message": "boom", "code": "overloaded"}})));
        events.extend(s.finish());
        let events = decode(events);
        let (name, last) = events.last().unwrap();
        assert_eq!(name, "response.failed");
        assert_eq!(last["response"]["error"]["code"], "overloaded");
        assert_eq!(last["response"]["output"][0]["content"][0]["text"], "par");
    }

    #[test]
    fn empty_upstream_still_completes() {
        let mut s = stream();
        let mut events = s.start();
        events.extend(s.start());
        events.extend(s.finish());
        let events = decode(events);
        assert_eq!(
            names(&events),
            [
                "response.created",
                "response.in_progress",
                "response.completed"
            ]
        );
        assert_eq!(events[2].1["response"]["usage"], Value::Null);
    }

    #[test]
    fn freeform_decoder_waits_for_whole_escapes() {
        let cases: [(&[&str], &str); 7] = [
            (&["{\"in", "put\": \"a", "b\"}"], "ab"),
            (&["{\"input\":\"x\\", "ny\"}"], "x\ny"),
            (&["{\"input\":\"\\u00", "e9\"}"], "\u{e9}"),
            (&["{\"input\":\"\\ud83d", "\\ude00!\"}"], "\u{1f600}!"),
            (&["{\"input\":\"a\\\"b\"", ",\"x\":\"ignored\"}"], "a\"b"),
            (&["{\"input\":\"\\\u{e9}x\"}"], "\u{e9}x"),
            (&["{\"input\":\"\\uzzzzy\"}"], "\u{fffd}zzzzy"),
        ];
        for (pieces, want) in cases {
            let mut d = Freeform::default();
            let got: String = pieces.iter().map(|p| d.feed(p)).collect();
            assert_eq!(got, want, "{pieces:?}");
            assert_eq!(d.decoded, want);
        }
    }
}
