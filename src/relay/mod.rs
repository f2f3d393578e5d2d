//! Server-sent event streams to the client: the head and one HTTP chunk per event written
//! straight to the socket and flushed (tiny_http's `Response` buffers 8 KiB and would hold
//! events back; reference/rust-stack.md §2), plus a watchdog per stream that sends
//! keepalives during silence and cancels the upstream on a stall or a vanished client.

use crate::config::Timing;
use crate::http::{EventStream, Outcome};
use crate::sse::{Event, Parser};
use std::io::{Read, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A response body produced event by event once the head is sent.
pub struct StreamBody {
    /// The protocol's keepalive, e.g. `: keepalive\n\n` or an Anthropic `ping` event.
    pub keepalive: &'static [u8],
    pub timing: Timing,
    /// Interrupts the upstream read (ureq's `Agent::shutdown`).
    pub cancel: Box<dyn Fn() + Send + Sync>,
    pub produce: Box<dyn FnOnce(&mut Sink) -> Outcome + Send>,
}

impl EventStream for StreamBody {
    fn run(
        self: Box<Self>,
        writer: Box<dyn Write + Send>,
        chunked: bool,
        headers: &[(String, String)],
    ) -> Outcome {
        run(writer, chunked, headers, *self)
    }
}

/// State shared by the relay thread and its watchdog.
struct Shared {
    writer: Mutex<Box<dyn Write + Send>>,
    chunked: bool,
    started: Instant,
    last_upstream_ms: AtomicU64,
    last_write_ms: AtomicU64,
    got_first_byte: AtomicBool,
    done: AtomicBool,
    client_gone: AtomicBool,
    stalled: AtomicBool,
}

impl Shared {
    fn now_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    /// One event as one HTTP chunk (raw bytes for HTTP/1.0), appended to `out`.
    fn frame(&self, out: &mut Vec<u8>, bytes: &[u8]) {
        if self.chunked {
            let _ = write!(out, "{:x}\r\n", bytes.len());
            out.extend_from_slice(bytes);
            out.extend_from_slice(b"\r\n");
        } else {
            out.extend_from_slice(bytes);
        }
    }

    /// One event written and flushed at once (the watchdog's keepalives).
    fn write_event(&self, w: &mut dyn Write, bytes: &[u8]) -> std::io::Result<()> {
        let mut frame = Vec::with_capacity(bytes.len() + 12);
        self.frame(&mut frame, bytes);
        w.write_all(&frame)?;
        w.flush()
    }
}

/// The relay's handle on the client side of a stream.
pub struct Sink {
    shared: Arc<Shared>,
    /// Events framed while a batch is open (see `pump`), written together at its end.
    batch: Option<Vec<u8>>,
}

impl Sink {
    /// Writes one event. False once the client has gone.
    pub fn send(&mut self, bytes: &[u8]) -> bool {
        if self.shared.client_gone.load(Ordering::Acquire) {
            return false;
        }
        if let Some(batch) = &mut self.batch {
            self.shared.frame(batch, bytes);
            return true;
        }
        let mut frame = Vec::with_capacity(bytes.len() + 12);
        self.shared.frame(&mut frame, bytes);
        self.write(&frame)
    }

    /// Writes bytes already framed, and flushes.
    fn write(&mut self, framed: &[u8]) -> bool {
        let mut w = self.shared.writer.lock().unwrap_or_else(|e| e.into_inner());
        if w.write_all(framed).and_then(|_| w.flush()).is_err() {
            self.shared.client_gone.store(true, Ordering::Release);
            return false;
        }
        self.shared
            .last_write_ms
            .store(self.shared.now_ms(), Ordering::Release);
        true
    }

    /// Events that arrived in one upstream read are framed one chunk each but written with
    /// one system call: as prompt as writing them one by one, at a fraction of the cost
    /// when the upstream bursts.
    fn begin_batch(&mut self) {
        self.batch = Some(Vec::new());
    }

    fn end_batch(&mut self) {
        if let Some(batch) = self.batch.take().filter(|b| !b.is_empty()) {
            self.write(&batch);
        }
    }

    /// Writes events in order, stopping if the client goes.
    pub fn send_events(&mut self, events: &[Event]) -> bool {
        events.iter().all(|e| self.send(e.to_wire().as_bytes()))
    }

    pub fn client_gone(&self) -> bool {
        self.shared.client_gone.load(Ordering::Acquire)
    }

    fn upstream_activity(&self) {
        self.shared.got_first_byte.store(true, Ordering::Release);
        self.shared
            .last_upstream_ms
            .store(self.shared.now_ms(), Ordering::Release);
    }
}

/// Why reading the upstream stopped.
#[derive(Debug, PartialEq, Eq)]
pub enum End {
    /// The event handler said the stream is complete.
    Done,
    /// The upstream closed the connection.
    Eof,
    /// Reading failed (reset, shutdown); the message says why.
    ReadError(String),
    Stalled,
    ClientGone,
}

/// What the event handler wants after an event.
pub enum Flow {
    Continue,
    Stop,
}

/// Reads upstream bytes, parses events and hands each to `on_event` until it says stop,
/// the upstream ends or fails, or the watchdog intervenes.
pub fn pump(
    mut upstream: impl Read,
    sink: &mut Sink,
    mut on_event: impl FnMut(Event, &mut Sink) -> Flow,
) -> End {
    let mut parser = Parser::default();
    let mut buf = vec![0u8; 16 * 1024];
    let stopped = |sink: &Sink| {
        if sink.shared.stalled.load(Ordering::Acquire) {
            Some(End::Stalled)
        } else if sink.client_gone() {
            Some(End::ClientGone)
        } else {
            None
        }
    };
    loop {
        let n = match upstream.read(&mut buf) {
            Ok(n) => n,
            Err(e) => return stopped(sink).unwrap_or_else(|| End::ReadError(read_error(e))),
        };
        if let Some(end) = stopped(sink) {
            return end;
        }
        if n == 0 {
            // An event the upstream left without its blank line still counts.
            if let Some(event) = parser.finish() {
                if let Flow::Stop = on_event(event, sink) {
                    return End::Done;
                }
            }
            return End::Eof;
        }
        sink.upstream_activity();
        sink.begin_batch();
        let mut stop = false;
        for event in parser.feed(&buf[..n]) {
            if let Flow::Stop = on_event(event, sink) {
                stop = true;
                break;
            }
        }
        sink.end_batch();
        if stop {
            return End::Done;
        }
        if sink.client_gone() {
            return End::ClientGone;
        }
    }
}

fn read_error(e: std::io::Error) -> String {
    match ureq::Error::from(e) {
        ureq::Error::Timeout(t) => format!("the upstream stalled ({t})"),
        other => format!("the upstream connection failed: {other}"),
    }
}

/// Writes the head, runs the producer under a watchdog, and ends the body properly.
fn run(
    mut writer: Box<dyn Write + Send>,
    chunked: bool,
    headers: &[(String, String)],
    body: StreamBody,
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
        (body.cancel)();
        return Outcome::ClientGone;
    }
    let shared = Arc::new(Shared {
        writer: Mutex::new(writer),
        chunked,
        started: Instant::now(),
        last_upstream_ms: AtomicU64::new(0),
        last_write_ms: AtomicU64::new(0),
        got_first_byte: AtomicBool::new(false),
        done: AtomicBool::new(false),
        client_gone: AtomicBool::new(false),
        stalled: AtomicBool::new(false),
    });
    let cancel: Arc<dyn Fn() + Send + Sync> = Arc::from(body.cancel);
    let watchdog = {
        let (shared, cancel) = (shared.clone(), cancel.clone());
        let (keepalive, timing) = (body.keepalive, body.timing);
        std::thread::Builder::new()
            .name("stream-watchdog".into())
            .stack_size(128 * 1024)
            .spawn(move || watch(&shared, keepalive, timing, &*cancel))
            .ok()
    };
    let mut sink = Sink {
        shared: shared.clone(),
        batch: None,
    };
    let outcome = (body.produce)(&mut sink);
    shared.done.store(true, Ordering::Release);
    if let Some(w) = watchdog {
        w.thread().unpark();
        let _ = w.join();
    }
    if chunked && !shared.client_gone.load(Ordering::Acquire) {
        let mut w = shared.writer.lock().unwrap_or_else(|e| e.into_inner());
        let _ = w.write_all(b"0\r\n\r\n").and_then(|_| w.flush());
    }
    outcome
}

fn watch(shared: &Shared, keepalive: &[u8], timing: Timing, cancel: &(dyn Fn() + Send + Sync)) {
    let shortest = timing.keepalive.min(timing.stall).min(timing.first_byte);
    let tick = (shortest / 4).clamp(Duration::from_millis(10), Duration::from_millis(250));
    while !shared.done.load(Ordering::Acquire) {
        std::thread::park_timeout(tick);
        if shared.done.load(Ordering::Acquire) {
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
        if shared.write_event(&mut **w, keepalive).is_err() {
            shared.client_gone.store(true, Ordering::Release);
            drop(w);
            crate::debug!("client went away during a stream; cancelling the upstream");
            cancel();
            return;
        }
        shared.last_write_ms.store(now, Ordering::Release);
    }
}
