//! The one relay loop every stream runs through: an upstream event source, a protocol
//! adapter in the middle, a sink out.
//!
//! ```text
//! upstream bytes ──► sse::Parser ──► Adapter::on_event ──► Sink ──► Framing ──► client
//!  (any `Read`)                       (one per route)        (batches one read into one write)
//! ```
//!
//! * **Source**: any `Read` (ureq's body reader in production, a byte slice in tests). The
//!   events of one read leave in one write. A read error is `Fault::Dropped`; the
//!   watchdog's verdicts (stall, client gone, shutdown) are seen after every read.
//! * **Adapter** (`trait Adapter`, one per route: Chat pass-through, native and translated
//!   Messages, pass-through and translated Responses): turns each upstream event into
//!   client events written to the sink, says when the answer is complete
//!   (`Step::Done`, `on_eof`) or what went wrong (`Err(Fault)`), and writes the protocol's
//!   closing events in `close`. Adapters that work in Chat terms build on `ChatSource`.
//! * **Sink** (`sink::Sink` over a `sink::Framing`): frames each event (SSE chunks, raw
//!   SSE for HTTP/1.0; a WebSocket framing plugs in the same way through
//!   `StreamBody::serve`) and writes; the tests run it over an in-memory writer (`Sink::over`).
//! * **Fault** (`fault::Fault`): malformed JSON, an upstream error event, a dropped
//!   connection, a stall, a vanished client, a shutdown: one type, worded once.
//!
//! Entry points:
//!
//! * `relay_to_end(upstream, sink, adapter)`: the whole life of a one-upstream stream:
//!   `relay`, then `finish`.
//! * `relay(upstream, sink, adapter)`: relays one upstream stream into an already open
//!   client stream and returns how it ended *without* ending the client stream, so a
//!   route can relay several upstream calls into one client stream (a retry after an
//!   empty answer, a tool loop) and write its own events between them (`Sink::event`).
//! * `finish(ending, sink, adapter)`: the one place a stream's end is decided: it logs a
//!   fault, lets the adapter write the protocol's terminal events (`Adapter::close`:
//!   Anthropic `error` after closing the open block, Chat error chunk then
//!   `data: [DONE]`, Responses `response.failed`), and returns the `Outcome`.
//! * `StreamBody` (an `http::EventStream`): the head, the stream put under the watchdog
//!   (`watchdog`: one thread for every open stream, sleeping to the nearest deadline;
//!   keepalives during silence, cancelling the upstream on a stall, a vanished client or a
//!   `Shutdown`) and the producer closure that calls the functions above.

mod body;
mod chat_source;
mod fault;
mod sink;
mod watchdog;

pub use body::StreamBody;
pub use chat_source::ChatSource;
pub use fault::Fault;
pub use sink::{Framing, Sink, Sse};
pub use watchdog::Shutdown;

use crate::http::Outcome;
use crate::sse::{Event, Parser};
use std::io::Read;
use std::sync::atomic::Ordering;

/// What an adapter wants after an event.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    Continue,
    /// The answer is complete; stop reading.
    Done,
}

impl Step {
    pub fn done_if(done: bool) -> Step {
        if done { Step::Done } else { Step::Continue }
    }
}

/// A protocol adapter: upstream events in, client events out.
pub trait Adapter {
    /// Handles one upstream event (a `:` comment has `event.comment` set), writing what the
    /// client gets to `sink`.
    fn on_event(&mut self, event: &Event, sink: &mut Sink) -> Result<Step, Fault>;

    /// The upstream body ended before `Step::Done`: whether the answer is complete (the
    /// adapter may write what completes it).
    fn on_eof(&mut self, _sink: &mut Sink) -> Result<(), Fault> {
        Err(Fault::ClosedEarly)
    }

    /// Set once the upstream sent its own terminal event: how the stream ends whatever
    /// happens to the connection afterwards (a read error, a stall, the end of the body).
    fn settled(&self) -> Option<Result<(), Fault>> {
        None
    }

    /// Writes the protocol's closing events: after a complete answer (`Ok`), or the
    /// terminal error for a fault. Never called once the client has gone.
    fn close(&mut self, ending: &Result<(), Fault>, sink: &mut Sink);

    /// The stream's name in log lines ("chat", "messages", "responses").
    fn name(&self) -> &'static str;
}

/// Relays one upstream stream into an open client stream until the adapter says the
/// answer is complete, the upstream ends or fails, or the watchdog intervenes. Writes no
/// closing events (see `finish`).
pub fn relay(
    mut upstream: impl Read,
    sink: &mut Sink,
    adapter: &mut impl Adapter,
) -> Result<(), Fault> {
    let mut parser = Parser::default();
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match upstream.read(&mut buf) {
            Ok(n) => n,
            Err(e) => {
                let fault = interrupted(sink).unwrap_or_else(|| Fault::Dropped(read_error(e)));
                return settle(adapter, fault);
            }
        };
        if let Some(fault) = interrupted(sink) {
            return settle(adapter, fault);
        }
        if n == 0 {
            // An event the upstream left without its blank line still counts.
            if let Some(event) = parser.finish() {
                if adapter.on_event(&event, sink)? == Step::Done {
                    return Ok(());
                }
            }
            return match adapter.settled() {
                Some(ending) => ending,
                None => adapter.on_eof(sink),
            };
        }
        sink.upstream_activity();
        sink.begin_batch();
        let mut step = Ok(Step::Continue);
        parser.feed_with(&buf[..n], |event| {
            step = adapter.on_event(event, sink);
            step == Ok(Step::Continue)
        });
        sink.end_batch();
        match step {
            Ok(Step::Continue) if sink.client_gone() => return Err(Fault::ClientGone),
            Ok(Step::Continue) => {}
            Ok(Step::Done) => return Ok(()),
            Err(fault) => return Err(fault),
        }
    }
}

/// The watchdog's verdict, if it intervened.
fn interrupted(sink: &Sink) -> Option<Fault> {
    let shared = &sink.shared;
    if shared.stalled.load(Ordering::Acquire) {
        Some(Fault::Stalled)
    } else if sink.client_gone() {
        Some(Fault::ClientGone)
    } else if shared.shut_down.load(Ordering::Acquire) {
        Some(Fault::Shutdown)
    } else {
        None
    }
}

/// A fault on the connection, unless the upstream had already ended the answer.
fn settle(adapter: &impl Adapter, fault: Fault) -> Result<(), Fault> {
    match (adapter.settled(), fault) {
        (_, Fault::ClientGone) => Err(Fault::ClientGone),
        (Some(ending), _) => ending,
        (None, fault) => Err(fault),
    }
}

fn read_error(e: std::io::Error) -> String {
    match ureq::Error::from(e) {
        ureq::Error::Timeout(t) => format!("the upstream stalled ({t})"),
        other => format!("the upstream connection failed: {other}"),
    }
}

/// Ends a stream: logs a fault, has the adapter write the protocol's closing events
/// (unless the client has gone), and says how the stream ended.
pub fn finish(ending: Result<(), Fault>, sink: &mut Sink, adapter: &mut impl Adapter) -> Outcome {
    match &ending {
        Ok(()) => {}
        Err(Fault::ClientGone) => return Outcome::ClientGone,
        Err(fault) => crate::warn!("{} stream ended early: {}", adapter.name(), fault.message()),
    }
    // The closing events (an Anthropic block stop, `message_delta` and `message_stop`;
    // Responses' four `.done` events) leave in one write, as the events of one read do.
    sink.batch(|sink| {
        adapter.close(&ending, sink);
        true
    });
    ending.map_or_else(|f| f.outcome(), |()| Outcome::Completed)
}

/// `relay` then `finish`: the whole life of a stream fed by one upstream call.
pub fn relay_to_end(upstream: impl Read, sink: &mut Sink, adapter: &mut impl Adapter) -> Outcome {
    let ending = relay(upstream, sink, adapter);
    finish(ending, sink, adapter)
}

#[cfg(test)]
mod tests;
