//! A stream's life on the connection: the head, the producer (a route's relay) on the
//! request thread, and a watchdog thread beside it that sends keepalives during silence
//! and cancels the upstream on a stall, a vanished client or a shutdown.

use super::sink::Shared;
use super::{Framing, Sink, Sse};
use crate::config::Timing;
use crate::http::{EventStream, Outcome};
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

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

/// The graceful-shutdown hook shared by every open stream: once `trigger`ed, each
/// stream's watchdog cancels its upstream within one tick, and the relay ends the stream
/// with its protocol's terminal error event (`Fault::Shutdown`).
#[derive(Clone, Default)]
pub struct Shutdown(Arc<AtomicBool>);

impl Shutdown {
    // Called by the process's graceful shutdown; the relay tests trigger it too.
    #[allow(dead_code)]
    pub fn trigger(&self) {
        self.0.store(true, Ordering::Release);
    }

    pub fn triggered(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

impl EventStream for StreamBody {
    /// The SSE head, then the events as chunks (raw for HTTP/1.0).
    fn run(
        self: Box<Self>,
        mut writer: Box<dyn Write + Send>,
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
    /// Runs the producer under a watchdog on a connection whose head is already written,
    /// framing events with `framing` (SSE here; a WebSocket framing works the same way),
    /// and ends the body properly.
    pub fn serve(self, writer: Box<dyn Write + Send>, framing: Box<dyn Framing>) -> Outcome {
        let shared = Arc::new(Shared::new(writer, framing));
        let cancel: Arc<dyn Fn() + Send + Sync> = Arc::from(self.cancel);
        let watchdog = {
            let (shared, cancel, shutdown) = (shared.clone(), cancel.clone(), self.shutdown);
            let (keepalive, timing) = (self.keepalive, self.timing);
            std::thread::Builder::new()
                .name("stream-watchdog".into())
                .stack_size(128 * 1024)
                .spawn(move || watch(&shared, keepalive, timing, &shutdown, &*cancel))
                .ok()
        };
        let mut sink = Sink::new(shared.clone());
        let outcome = (self.produce)(&mut sink);
        shared.done.store(true, Ordering::Release);
        if let Some(w) = watchdog {
            w.thread().unpark();
            let _ = w.join();
        }
        sink.end();
        outcome
    }
}

fn watch(
    shared: &Shared,
    keepalive: &[u8],
    timing: Timing,
    shutdown: &Shutdown,
    cancel: &(dyn Fn() + Send + Sync),
) {
    let shortest = timing.keepalive.min(timing.stall).min(timing.first_byte);
    let tick = (shortest / 4).clamp(Duration::from_millis(10), Duration::from_millis(250));
    let mut framed = Vec::new();
    shared.framing.sse(&mut framed, keepalive);
    while !shared.done.load(Ordering::Acquire) {
        std::thread::park_timeout(tick);
        if shared.done.load(Ordering::Acquire) {
            return;
        }
        if shutdown.triggered() {
            shared.shut_down.store(true, Ordering::Release);
            crate::debug!("shutting down; ending the stream");
            cancel();
            return;
        }
        let now = shared.now_ms();
        let limit = if shared.got_first_byte.load(Ordering::Acquire) {
            timing.stall
        } else {
            timing.first_byte
        };
        if now.saturating_sub(shared.last_upstream_ms.load(Ordering::Acquire))
            >= limit.as_millis() as u64
        {
            shared.stalled.store(true, Ordering::Release);
            crate::warn!(
                "upstream silent for {:.1} s; cancelling the stream",
                limit.as_secs_f64()
            );
            cancel();
            return;
        }
        if now.saturating_sub(shared.last_write_ms.load(Ordering::Acquire))
            < timing.keepalive.as_millis() as u64
        {
            continue;
        }
        // The relay holds the lock while it writes; skip this tick rather than wait.
        let Ok(mut w) = shared.writer.try_lock() else {
            continue;
        };
        if !shared.write(&mut **w, &framed) {
            drop(w);
            crate::debug!("client went away during a stream; cancelling the upstream");
            cancel();
            return;
        }
    }
}
