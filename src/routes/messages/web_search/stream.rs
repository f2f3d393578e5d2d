//! The search loop for a streaming client. `message_start` goes out at once (pings follow
//! during silence); each pass is streamed upstream and relayed as it arrives, except the
//! model's `web_search` calls, which are held back; after the pass the searches run and
//! each one's `server_tool_use` and `web_search_tool_result` blocks are sent, then the
//! next pass streams, all as one Anthropic message with one run of block indices.

use super::{
    Backend, EMPTY_ANSWER, Pass, Target, append_turn, is_search_call, retry_empty, turn_usage,
};
use crate::features::web_search::searcher::{Call, Searcher};
use crate::http::{Outcome, Outgoing};
use crate::protocol::anthropic::{Block, PING, Usage, block_stop, error_event, named};
use crate::relay::{self, Adapter, ChatSource, Fault, Sink, Step};
use crate::sse::Event;
use crate::streaming::streaming;
use crate::translate::anthropic_stream::StreamState;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

type Canceller = Arc<Mutex<Box<dyn Fn() + Send + Sync>>>;

pub(super) fn start(
    backend: Backend,
    body: Map<String, Value>,
    searcher: Searcher,
    first: Pass,
) -> Outgoing {
    let current: Canceller = Arc::new(Mutex::new(first.opened.lease.canceller()));
    let cancel = current.clone();
    let app = backend.app.clone();
    let cancel = Box::new(move || (cancel.lock().unwrap_or_else(|e| e.into_inner()))());
    streaming(&app, PING, cancel, move |sink| {
        let mut run = Run {
            backend,
            body,
            searcher,
            usage: Usage::default(),
            next_index: 0,
            stop_reason: None,
        };
        let outcome = run.passes(first, &current, sink);
        run.searcher.log(&run.backend.requested);
        outcome
    })
}

struct Run {
    backend: Backend,
    body: Map<String, Value>,
    searcher: Searcher,
    usage: Usage,
    /// The client's next block index, across passes.
    next_index: u64,
    stop_reason: Option<String>,
}

impl Run {
    fn passes(&mut self, first: Pass, cancel: &Canceller, sink: &mut Sink) -> Outcome {
        send(sink, &self.message_start(first.estimate));
        let mut next = Some(first);
        let mut empties = 0;
        loop {
            let current = match next.take() {
                Some(p) => p,
                None => {
                    self.searcher.upstream_calls += 1;
                    // Every call after the first is the proxy's own (the agent's).
                    let index = self.searcher.upstream_calls - 1;
                    match self.backend.open(&mut self.body, true, index) {
                        Ok(p) => {
                            sink.upstream_activity();
                            p
                        }
                        Err(e) => {
                            let fault = Fault::Refused {
                                status: e.status(),
                                message: e.to_string(),
                            };
                            return fail(sink, &fault, None);
                        }
                    }
                }
            };
            let (reader, lease) = current.opened.into_parts();
            *cancel.lock().unwrap_or_else(|e| e.into_inner()) = lease.canceller();
            let mut filter = Filter::new(self.next_index);
            let ending = match &self.backend.target {
                Target::Native => relay::relay(reader, sink, &mut filter),
                Target::Translated(pivot, _) => {
                    let mut adapter = FromChat {
                        source: pivot.source(&self.backend.requested),
                        state: StreamState::new(
                            &self.backend.requested,
                            current.tools,
                            current.estimate,
                        ),
                        events: Vec::new(),
                        filter: &mut filter,
                    };
                    relay::relay(reader, sink, &mut adapter).and_then(|()| {
                        // The closing events (stop reason, usage) of a finished answer.
                        for e in adapter.state.finish() {
                            adapter.filter.on_anthropic(&e, sink)?;
                        }
                        Ok(())
                    })
                }
            };
            self.next_index = filter.next_index;
            match ending {
                Ok(()) => lease.release(),
                Err(fault) => return fail(sink, &fault, filter.open),
            }
            // The pass's counts, as the last of its events reported them.
            let counts = Value::Object(std::mem::take(&mut filter.usage));
            self.usage
                .add(&Usage::deserialize(&counts).unwrap_or_default());
            self.stop_reason = filter.stop_reason.clone();
            if filter.blocks.is_empty() {
                if retry_empty(&mut empties) {
                    // Nothing reached the client from this pass: ask again.
                    continue;
                }
                self.send_text(sink, EMPTY_ANSWER);
            }
            let calls = filter.calls();
            if calls.is_empty() || !self.searcher.may_continue() {
                return self.finish(sink, filter.client_call);
            }
            // Each search's blocks go out as soon as it ran.
            let mut ran = Vec::with_capacity(calls.len());
            for call in &calls {
                let r = self.searcher.run_one(call);
                // Time spent searching is not upstream silence.
                sink.upstream_activity();
                self.send_search(sink, &r.server_tool_use, &r.result);
                ran.push(r);
            }
            if filter.client_call {
                return self.finish(sink, true);
            }
            append_turn(&mut self.body, &filter.blocks, &ran, &self.searcher);
            empties = 0;
        }
    }

    fn message_start(&self, estimate: u64) -> Value {
        let id = format!(
            "msg_{:016x}{:08x}",
            crate::ids::random_u64(),
            crate::ids::random_u64() as u32
        );
        json!({"type": "message_start", "message": {
            "id": id, "type": "message", "role": "assistant", "model": self.backend.requested,
            "content": [], "stop_reason": null, "stop_sequence": null,
            "usage": {"input_tokens": estimate, "output_tokens": 0}
        }})
    }

    /// A text block of the proxy's own.
    fn send_text(&mut self, sink: &mut Sink, text: &str) {
        let index = self.next_index;
        send(
            sink,
            &json!({"type": "content_block_start", "index": index,
                           "content_block": {"type": "text", "text": ""}}),
        );
        send(
            sink,
            &json!({"type": "content_block_delta", "index": index,
                           "delta": {"type": "text_delta", "text": text}}),
        );
        send(sink, &json!({"type": "content_block_stop", "index": index}));
        self.next_index += 1;
    }

    /// One search's two blocks, as Anthropic streams them.
    fn send_search(&mut self, sink: &mut Sink, server_tool_use: &Value, result: &Value) {
        let index = self.next_index;
        let mut start = server_tool_use.clone();
        let input = start["input"].take();
        start["input"] = json!({});
        send(
            sink,
            &json!({"type": "content_block_start", "index": index, "content_block": start}),
        );
        send(
            sink,
            &json!({"type": "content_block_delta", "index": index,
                           "delta": {"type": "input_json_delta", "partial_json": input.to_string()}}),
        );
        send(sink, &json!({"type": "content_block_stop", "index": index}));
        send(
            sink,
            &json!({"type": "content_block_start", "index": index + 1, "content_block": result}),
        );
        send(
            sink,
            &json!({"type": "content_block_stop", "index": index + 1}),
        );
        self.next_index += 2;
    }

    fn finish(&self, sink: &mut Sink, client_call: bool) -> Outcome {
        let stop = match self.stop_reason.as_deref() {
            Some("tool_use") if !client_call => "end_turn",
            Some(other) => other,
            None if client_call => "tool_use",
            None => "end_turn",
        };
        send(
            sink,
            &json!({"type": "message_delta",
                           "delta": {"stop_reason": stop, "stop_sequence": null},
                           "usage": turn_usage(&self.usage, self.searcher.succeeded)}),
        );
        send(sink, &json!({"type": "message_stop"}));
        Outcome::Completed
    }
}

/// Ends the client's stream on a fault: the open block closed, then Anthropic's `error`.
fn fail(sink: &mut Sink, fault: &Fault, open: Option<u64>) -> Outcome {
    if *fault == Fault::ClientGone {
        return Outcome::ClientGone;
    }
    crate::warn!("web search stream ended early: {}", fault.message());
    if let Some(index) = open {
        sink.events(&[block_stop(index)]);
    }
    if *fault != Fault::Relayed {
        sink.events(&[error_event(fault.anthropic_type(), &fault.message())]);
    }
    fault.outcome()
}

/// A translated pass: Chat chunks (from `/chat/completions` or `/responses`) become
/// Anthropic events, which go through the filter.
struct FromChat<'f> {
    source: ChatSource,
    state: StreamState,
    /// One event's Anthropic events, in one vector reused for the whole pass.
    events: Vec<Event>,
    filter: &'f mut Filter,
}

impl Adapter for FromChat<'_> {
    fn on_event(&mut self, event: &Event, sink: &mut Sink) -> Result<Step, Fault> {
        if event.comment.is_some() {
            return Ok(Step::Continue);
        }
        // Each chunk is read borrowed (`ChatSource::each_chunk`), no tree per event; its
        // events go through the filter once the event is read.
        let (state, events) = (&mut self.state, &mut self.events);
        let step = self
            .source
            .each_chunk(event, |chunk| state.on_typed(chunk, events))?;
        for e in self.events.drain(..) {
            self.filter.on_anthropic(&e, sink)?;
        }
        Ok(step)
    }

    fn on_eof(&mut self, _: &mut Sink) -> Result<(), Fault> {
        self.source.on_eof()
    }

    fn close(&mut self, _: &Result<(), Fault>, _: &mut Sink) {}

    fn name(&self) -> &'static str {
        "messages web search"
    }
}

/// A native pass: Copilot's Anthropic events straight into the filter.
impl Adapter for Filter {
    fn on_event(&mut self, event: &Event, sink: &mut Sink) -> Result<Step, Fault> {
        if event.comment.is_some() {
            return Ok(Step::Continue);
        }
        self.on_anthropic(event, sink)
    }

    fn on_eof(&mut self, _: &mut Sink) -> Result<(), Fault> {
        // Everything but `message_stop` arrived: the pass is complete.
        match self.stop_reason {
            Some(_) if self.open.is_none() => Ok(()),
            _ => Err(Fault::ClosedEarly),
        }
    }

    fn close(&mut self, _: &Result<(), Fault>, _: &mut Sink) {}

    fn name(&self) -> &'static str {
        "messages web search"
    }
}

/// Where an upstream block goes: to the client at an index of the client's message, or
/// held back (a search call).
enum Slot {
    Shown(u64),
    Held,
}

/// One pass's Anthropic events: renumbered into the client's message, search calls held
/// back, every block also collected whole (for the next pass's history), the pass's
/// stop reason and usage kept instead of sent.
struct Filter {
    next_index: u64,
    slots: HashMap<u64, (Slot, usize)>,
    open: Option<u64>,
    /// Each block of the pass as the events built it, kept as a tree.
    pub blocks: Vec<Block<'static>>,
    partial_json: HashMap<usize, String>,
    usage: Map<String, Value>,
    stop_reason: Option<String>,
    client_call: bool,
}

impl Filter {
    fn new(next_index: u64) -> Filter {
        Filter {
            next_index,
            slots: HashMap::new(),
            open: None,
            blocks: Vec::new(),
            partial_json: HashMap::new(),
            usage: Map::new(),
            stop_reason: None,
            client_call: false,
        }
    }

    fn calls(&self) -> Vec<Call> {
        super::search_calls(&self.blocks)
    }

    /// One Anthropic event of the pass: shown renumbered, held back, or kept.
    fn on_anthropic(&mut self, event: &Event, sink: &mut Sink) -> Result<Step, Fault> {
        let mut v: Value =
            serde_json::from_str(&event.data).map_err(|e| Fault::Malformed(e.to_string()))?;
        let index = v.get("index").and_then(Value::as_u64).unwrap_or(0);
        match v.get("type").and_then(Value::as_str).unwrap_or("") {
            "message_start" => {
                if let Some(Value::Object(u)) = v.pointer("/message/usage") {
                    self.usage.extend(u.clone());
                }
            }
            "content_block_start" => {
                let block = Block::Other(v.get("content_block").cloned().unwrap_or(Value::Null));
                let position = self.blocks.len();
                let slot = if is_search_call(&block) {
                    Slot::Held
                } else {
                    self.client_call |= block.kind() == "tool_use";
                    let shown = self.next_index;
                    self.next_index += 1;
                    v["index"] = json!(shown);
                    send(sink, &v);
                    self.open = Some(shown);
                    Slot::Shown(shown)
                };
                self.blocks.push(block);
                self.slots.insert(index, (slot, position));
            }
            "content_block_delta" => {
                let Some((slot, position)) = self.slots.get(&index) else {
                    return Ok(Step::Continue);
                };
                let (position, shown) = (
                    *position,
                    match slot {
                        Slot::Shown(i) => Some(*i),
                        Slot::Held => None,
                    },
                );
                self.apply(position, v.get("delta").unwrap_or(&Value::Null));
                if let Some(i) = shown {
                    v["index"] = json!(i);
                    send(sink, &v);
                }
            }
            "content_block_stop" => {
                let Some((slot, position)) = self.slots.get(&index) else {
                    return Ok(Step::Continue);
                };
                let position = *position;
                if let Slot::Shown(i) = slot {
                    let i = *i;
                    v["index"] = json!(i);
                    send(sink, &v);
                    self.open = None;
                }
                if let (Some(json), Block::Other(block)) = (
                    self.partial_json.remove(&position),
                    &mut self.blocks[position],
                ) {
                    block["input"] = serde_json::from_str(&json).unwrap_or_else(|_| json!({}));
                }
            }
            "message_delta" => {
                if let Some(s) = v.pointer("/delta/stop_reason").and_then(Value::as_str) {
                    self.stop_reason = Some(s.to_string());
                }
                if let Some(Value::Object(u)) = v.get("usage") {
                    // The final counts of this pass replace message_start's.
                    for (k, n) in u {
                        self.usage.insert(k.clone(), n.clone());
                    }
                }
            }
            "message_stop" => return Ok(Step::Done),
            "error" => {
                let message = v
                    .pointer("/error/message")
                    .and_then(Value::as_str)
                    .unwrap_or("Copilot reported an error")
                    .to_string();
                return Err(Fault::Upstream(message));
            }
            _ => {}
        }
        Ok(Step::Continue)
    }

    /// A delta applied to the collected block.
    fn apply(&mut self, position: usize, delta: &Value) {
        let Block::Other(block) = &mut self.blocks[position] else {
            return;
        };
        let text = |key: &str| delta.get(key).and_then(Value::as_str).unwrap_or("");
        let append = |block: &mut Value, key: &str, more: &str| {
            let now = block
                .get(key)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            block[key] = json!(now + more);
        };
        match delta.get("type").and_then(Value::as_str).unwrap_or("") {
            "text_delta" => append(block, "text", text("text")),
            "thinking_delta" => append(block, "thinking", text("thinking")),
            "signature_delta" => block["signature"] = json!(text("signature")),
            "input_json_delta" => self
                .partial_json
                .entry(position)
                .or_default()
                .push_str(text("partial_json")),
            "citations_delta" => {
                if let Some(c) = delta.get("citation") {
                    match block.get_mut("citations").and_then(Value::as_array_mut) {
                        Some(list) => list.push(c.clone()),
                        None => block["citations"] = json!([c]),
                    }
                }
            }
            _ => {}
        }
    }
}

fn send(sink: &mut Sink, v: &Value) -> bool {
    sink.events(&[named(v.clone())])
}
