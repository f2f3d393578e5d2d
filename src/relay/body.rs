//! A stream's life on the connection: the head, the producer (a route's relay) on the
//! connection's thread, with the stream under the watchdog (`watchdog`: one thread for all
//! streams) that sends keepalives during silence and cancels the upstream on a stall, a
//! vanished client or a shutdown.

use super::sink::Shared;
use super::watchdog::{self, Shutdown};
use super::{Framing, Sink, Sse};
use crate::config::Timing;
use crate::http::{ClientWrite, EventStream, Outcome};
use std::io::Write;
use std::sync::Arc;

/// A response body produced event by event once the head is sent.
pub struct StreamBody {
    /// The protocol's keepalive in SSE form (`protocol::chat::KEEPALIVE`,
    /// `protocol::anthropic::PING`); the framing puts it on the wire.
    pub keepalive: &'static [u8],
    pub timing: Timing,
    /// Interrupts the upstream read (ureq's `Agent::shutdown`).
    pub cancel: Box<dyn Fn() + Send + Sync>,
    /// Ends the stream early, with its protocol's terminal error, when triggered.
    pub shutdown: Shutdown,
    pub produce: Box<dyn FnOnce(&mut Sink) -> Outcome + Send>,
}

impl EventStream for StreamBody {
    /// The SSE head, then the events as chunks (raw for HTTP/1.0).
    fn run(
        self: Box<Self>,
        mut writer: Box<dyn ClientWrite>,
        chunked: bool,
        headers: &[(String, String)],
    ) -> Outcome {
        let mut head = String::from(
            "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream; charset=utf-8\r\nCache-Control: no-cache\r\nX-Accel-Buffering: no\r\n",
        );
        for (k, v) in headers
            .iter()
            .filter(|(k, _)| !k.eq_ignore_ascii_case("content-type"))
        {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str(if chunked {
            "Transfer-Encoding: chunked\r\n\r\n"
        } else {
            "Connection: close\r\n\r\n"
        });
        if writer
            .write_all(head.as_bytes())
            .and_then(|_| writer.flush())
            .is_err()
        {
            (self.cancel)();
            return Outcome::ClientGone;
        }
        self.serve(writer, Box::new(Sse { chunked }))
    }
}

impl StreamBody {
    /// Runs the producer with the stream under the watchdog on a connection whose head is
    /// already written, framing events with `framing` (SSE here; a WebSocket framing
    /// works the same way), and ends the body properly.
    pub fn serve(self, writer: Box<dyn ClientWrite>, framing: Box<dyn Framing>) -> Outcome {
        let shared = Arc::new(Shared::new(writer, framing));
        let watched = watchdog::watch(
            shared.clone(),
            self.keepalive,
            self.timing,
            self.shutdown,
            Arc::from(self.cancel),
        );
        let mut sink = Sink::new(shared);
        let outcome = (self.produce)(&mut sink);
        // Off the watchdog before the body ends: no keepalive after the terminator, and no
        // cancel of an upstream agent the producer may have handed back for reuse.
        drop(watched);
        sink.end();
        outcome
    }
}
