//! Chat Completions stream -> Anthropic stream (reference §4.1, with §10 fixed).
//!
//! One `StreamState` per upstream attempt. Chunks go in, Anthropic events come out:
//! `message_start`, then blocks with contiguous indices from 0, one open at a time, then
//! `message_delta` with the real usage and `message_stop`. Reasoning gets its own
//! `thinking` block, signed by `reasoning_opaque` before it closes (an opaque token with no
//! thinking block to sign becomes `redacted_thinking`). Tool calls become `tool_use` blocks
//! fed by `input_json_delta`.
//!
//! Only one block can be open, yet upstream may interleave: a second tool call, or text,
//! can arrive while the first call's arguments are still incomplete. Such pieces wait in a
//! queue until the open call's JSON is complete (or the stream ends), so every argument
//! fragment lands in its own block. Sequential streams, the usual case, never queue.
//!
//! `message_start` is held until the first block (or the end), so an attempt that produced
//! nothing can be retried without the client seeing anything. The closing events wait for
//! the usage, which Copilot sends after the finish reason, in a chunk with no choices.

use super::anthropic_response::{message_id, parse_argument_text, stop_reason, tool_use_id, usage};
use super::json_scan::JsonScan;
use super::tool_names::ToolNames;
use crate::protocol::anthropic::{Block, Delta, StreamEvent};
use crate::protocol::chat_chunk::{Chunk, ToolCall, Usage as ChatUsage};
use crate::sse::Event;
use serde_json::Value;
use std::collections::VecDeque;

pub struct StreamState {
    model: String,
    tools: ToolNames,
    input_estimate: u64,
    /// The upstream id of the first chunk that had one.
    upstream_id: Option<String>,
    started: bool,
    /// `message_stop` or `error` was sent: nothing more may follow.
    done: bool,
    next_index: u64,
    open: Option<Open>,
    calls: Vec<Call>,
    queue: VecDeque<Piece>,
    finishes: Vec<String>,
    usage: Option<ChatUsage>,
    has_content: bool,
}

/// The block currently open, by kind.
#[derive(Clone, Copy)]
enum Open {
    Text(u64),
    Thinking { index: u64, signed: bool },
    Tool { index: u64, call: usize },
    Redacted(u64),
}

impl Open {
    fn index(self) -> u64 {
        match self {
            Open::Text(i) | Open::Redacted(i) => i,
            Open::Thinking { index, .. } | Open::Tool { index, .. } => index,
        }
    }
}

/// A piece of output: borrowed from the chunk as it arrives (`Piece<&str>`), owned while
/// it waits in the queue for the open tool call's arguments to complete, so only the rare
/// queued piece is copied.
enum Piece<S = String> {
    Text(S),
    Thinking(S),
    Signature(S),
    Tool(usize),
}

impl Piece {
    fn as_deref(&self) -> Piece<&str> {
        match self {
            Piece::Text(s) => Piece::Text(s),
            Piece::Thinking(s) => Piece::Thinking(s),
            Piece::Signature(s) => Piece::Signature(s),
            Piece::Tool(c) => Piece::Tool(*c),
        }
    }
}

impl Piece<&str> {
    fn to_owned(&self) -> Piece {
        match *self {
            Piece::Text(s) => Piece::Text(s.to_string()),
            Piece::Thinking(s) => Piece::Thinking(s.to_string()),
            Piece::Signature(s) => Piece::Signature(s.to_string()),
            Piece::Tool(c) => Piece::Tool(c),
        }
    }
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Stage {
    /// Its id or name has not arrived yet; arguments accumulate.
    Unnamed,
    /// Known, waiting in the queue for its block.
    Queued,
    /// Its block is open: arguments stream through.
    Live(u64),
    Closed,
}

struct Call {
    choice: u64,
    index: u64,
    id: Option<String>,
    name: Option<String>,
    args: String,
    scan: JsonScan,
    stage: Stage,
}

impl StreamState {
    pub fn new(requested_model: &str, tools: ToolNames, input_estimate: u64) -> Self {
        StreamState {
            model: requested_model.to_string(),
            tools,
            input_estimate,
            upstream_id: None,
            started: false,
            done: false,
            next_index: 0,
            open: None,
            calls: Vec::new(),
            queue: VecDeque::new(),
            finishes: Vec::new(),
            usage: None,
            has_content: false,
        }
    }

    /// Whether any content block (text, thinking or tool use) has been emitted.
    pub fn has_content(&self) -> bool {
        self.has_content
    }

    /// Translates one parsed upstream chunk. Every choice is read (Copilot may put text
    /// and tool calls in different choices); chunks without choices only carry usage or
    /// filter results.
    pub fn on_chunk(&mut self, chunk: &Value) -> Vec<Event> {
        let mut ev = Vec::new();
        self.on_typed(&Chunk::from_value(chunk), &mut ev);
        ev
    }

    /// `on_chunk` for a chunk read borrowed from the upstream event (the stream's path),
    /// its events appended to `ev`: the relay hands the same vector to every chunk.
    pub fn on_typed(&mut self, chunk: &Chunk, ev: &mut Vec<Event>) {
        if self.done {
            return;
        }
        if self.upstream_id.is_none() {
            self.upstream_id = chunk.id.nonempty().map(str::to_string);
        }
        if let Some(u) = &chunk.usage {
            self.usage = Some(u.clone());
        }
        let choices = &chunk.choices.0;
        for (position, choice) in choices.iter().enumerate() {
            let choice_index = choice.index.0.unwrap_or(position as u64);
            if let Some(delta) = choice.delta() {
                if let Some(t) = delta.reasoning() {
                    self.put(Piece::Thinking(t), ev);
                }
                if let Some(s) = delta.reasoning_opaque.nonempty() {
                    self.put(Piece::Signature(s), ev);
                }
                if let Some(t) = delta.content.nonempty() {
                    self.put(Piece::Text(t), ev);
                }
                for call in &delta.tool_calls.0 {
                    self.tool_delta(choice_index, call, ev);
                }
            }
            if let Some(f) = choice.finish_reason.nonempty() {
                self.finishes.push(f.to_string());
            }
        }
        // The usage chunk after the finish reason is the last thing upstream sends. An
        // answer without content stays open, so the caller can still retry it or add an
        // explanation before `finish()`.
        if choices.is_empty()
            && chunk.usage.is_some()
            && !self.finishes.is_empty()
            && self.has_content
        {
            ev.append(&mut self.finish());
        }
    }

    /// Upstream ended normally: the queue is flushed, the open block closed, then
    /// `message_delta` (stop reason, real usage or the estimate) and `message_stop`.
    pub fn finish(&mut self) -> Vec<Event> {
        let mut ev = Vec::new();
        if self.done {
            return ev;
        }
        for c in 0..self.calls.len() {
            let call = &mut self.calls[c];
            if call.stage != Stage::Unnamed {
                continue;
            }
            if call.name.is_some() {
                call.id.get_or_insert_with(tool_use_id);
                call.stage = Stage::Queued;
                self.queue.push_back(Piece::Tool(c));
            } else {
                crate::warn!(
                    "dropped a streamed tool call that never got a name (arguments: {} bytes)",
                    call.args.len()
                );
            }
        }
        while let Some(piece) = self.queue.pop_front() {
            self.emit(piece.as_deref(), &mut ev);
        }
        self.close(&mut ev);
        self.start(&mut ev);
        let emitted = || self.calls.iter().filter(|c| c.stage == Stage::Closed);
        let truncated = emitted().any(|c| !parse_argument_text(&c.args).1);
        let has_tools = emitted().next().is_some();
        let stop = stop_reason(&self.finishes, has_tools, truncated);
        let usage = usage(self.usage.as_ref(), self.input_estimate);
        ev.push(StreamEvent::message_delta(stop, &usage).to_event());
        ev.push(StreamEvent::message_stop().to_event());
        self.done = true;
        ev
    }

    /// Upstream failed mid-stream: the open block is closed and an `error` event ends the
    /// stream (after `message_start`, sent first if it was not yet).
    pub fn fail(&mut self, message: &str, error_type: &str) -> Vec<Event> {
        let mut ev = Vec::new();
        if self.done {
            return ev;
        }
        self.start(&mut ev);
        self.close(&mut ev);
        ev.push(StreamEvent::error(error_type, message).to_event());
        self.done = true;
        ev
    }

    fn tool_delta(&mut self, choice: u64, delta: &ToolCall, ev: &mut Vec<Event>) {
        let index = delta.index.0.unwrap_or(0);
        let id = delta.id.nonempty();
        let name = delta.function.0.name.nonempty();
        let args = delta.function.0.arguments.get().unwrap_or("");
        // The call this delta continues; a different id at a known index is a new call
        // (some upstreams number every call 0).
        let existing = self.calls.iter().rposition(|c| {
            c.choice == choice
                && c.index == index
                && (id.is_none() || c.id.is_none() || c.id.as_deref() == id)
        });
        let c = existing.unwrap_or_else(|| {
            self.calls.push(Call {
                choice,
                index,
                id: None,
                name: None,
                args: String::new(),
                scan: JsonScan::default(),
                stage: Stage::Unnamed,
            });
            self.calls.len() - 1
        });
        let call = &mut self.calls[c];
        if call.id.is_none() {
            call.id = id.map(str::to_string);
        }
        if call.name.is_none() {
            call.name = name.map(str::to_string);
        }
        if !args.is_empty() {
            call.args.push_str(args);
            call.scan.feed(args);
            match call.stage {
                Stage::Live(block) => {
                    ev.push(input_json(block, args));
                    if call.scan.complete() {
                        self.drain(ev);
                    }
                }
                Stage::Closed if !args.trim().is_empty() => crate::warn!(
                    "tool call {:?} sent arguments after its block was closed; they are lost",
                    call.id
                ),
                _ => {}
            }
        }
        let call = &mut self.calls[c];
        if call.stage == Stage::Unnamed && call.id.is_some() && call.name.is_some() {
            call.stage = Stage::Queued;
            self.put(Piece::Tool(c), ev);
        }
    }

    /// Emits a piece now, or queues it behind an incomplete tool call.
    fn put(&mut self, piece: Piece<&str>, ev: &mut Vec<Event>) {
        if self.queue.is_empty() && !self.blocked() {
            self.emit(piece, ev);
            return;
        }
        match (self.queue.back_mut(), piece) {
            (Some(Piece::Text(a)), Piece::Text(b)) => a.push_str(b),
            (Some(Piece::Thinking(a)), Piece::Thinking(b)) => a.push_str(b),
            (_, piece) => self.queue.push_back(piece.to_owned()),
        }
    }

    /// The open block is a tool call whose arguments are not yet a complete JSON value.
    fn blocked(&self) -> bool {
        matches!(self.open, Some(Open::Tool { call, .. }) if !self.calls[call].scan.complete())
    }

    fn drain(&mut self, ev: &mut Vec<Event>) {
        while !self.blocked() {
            let Some(piece) = self.queue.pop_front() else {
                return;
            };
            self.emit(piece.as_deref(), ev);
        }
    }

    fn emit(&mut self, piece: Piece<&str>, ev: &mut Vec<Event>) {
        match piece {
            Piece::Text(text) => {
                let index = match self.open {
                    Some(Open::Text(i)) => i,
                    _ => self.open_block(Block::text(""), Open::Text, ev),
                };
                ev.push(delta(index, Delta::text(text)));
            }
            Piece::Thinking(text) => {
                let index = match self.open {
                    Some(Open::Thinking {
                        index,
                        signed: false,
                    }) => index,
                    _ => self.open_block(
                        Block::thinking("", ""),
                        |index| Open::Thinking {
                            index,
                            signed: false,
                        },
                        ev,
                    ),
                };
                ev.push(delta(index, Delta::thinking(text)));
            }
            Piece::Signature(signature) => match self.open {
                Some(Open::Thinking {
                    index,
                    signed: false,
                }) => {
                    ev.push(delta(index, Delta::signature(signature)));
                    self.open = Some(Open::Thinking {
                        index,
                        signed: true,
                    });
                }
                // Nothing left to sign (the thinking block closed when text began): the
                // token still has to reach the client to come back on the next turn.
                _ => {
                    self.open_block(Block::redacted_thinking(signature), Open::Redacted, ev);
                    self.close(ev);
                }
            },
            Piece::Tool(c) => {
                let id = self.calls[c].id.clone().unwrap_or_else(tool_use_id);
                let name = self
                    .tools
                    .to_client(self.calls[c].name.as_deref().unwrap_or(""));
                let block = Block::tool_use(&id, &name, None);
                let index = self.open_block(block, |index| Open::Tool { index, call: c }, ev);
                let call = &mut self.calls[c];
                call.stage = Stage::Live(index);
                if !call.args.is_empty() {
                    ev.push(input_json(index, &call.args));
                }
            }
        }
    }

    fn open_block(
        &mut self,
        block: Block,
        open: impl FnOnce(u64) -> Open,
        ev: &mut Vec<Event>,
    ) -> u64 {
        self.close(ev);
        self.start(ev);
        let index = self.next_index;
        self.next_index += 1;
        ev.push(StreamEvent::block_start(index, block).to_event());
        self.open = Some(open(index));
        self.has_content = true;
        index
    }

    fn close(&mut self, ev: &mut Vec<Event>) {
        let Some(open) = self.open.take() else {
            return;
        };
        if let Open::Tool { call, .. } = open {
            self.calls[call].stage = Stage::Closed;
        }
        ev.push(StreamEvent::block_stop(open.index()).to_event());
    }

    fn start(&mut self, ev: &mut Vec<Event>) {
        if self.started {
            return;
        }
        self.started = true;
        let id = message_id(self.upstream_id.as_deref());
        ev.push(StreamEvent::message_start(&id, &self.model, self.input_estimate).to_event());
    }
}

fn delta(index: u64, delta: Delta) -> Event {
    StreamEvent::block_delta(index, delta).to_event()
}

fn input_json(index: u64, partial: &str) -> Event {
    delta(index, Delta::input_json(partial))
}

#[cfg(test)]
mod tests;
