//! The client side of a stream: a `Framing` turns each event into bytes on the wire (SSE
//! as HTTP chunks, SSE raw for HTTP/1.0, or another framing such as WebSocket frames), and
//! the `Sink` writes them, batching the events of one upstream read into one write.

use crate::http::ClientWrite;
use crate::sse::Event;
use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How events are put on the client connection. One implementation per transport; the
/// relay and the adapters never write bytes of their own.
pub trait Framing: Send + Sync {
    /// Appends one event: `name` is its SSE `event:` name (if any), `data` its payload
    /// (JSON, or `[DONE]`).
    fn event(&self, out: &mut Vec<u8>, name: Option<&str>, data: &str);
    /// Appends an event already in SSE wire form (`event: x\ndata: y\n\n`, or a `:`
    /// comment), as the upstream or a protocol constant spelled it. Only comments (upstream
    /// comments, the keepalive) and events with an `id:` line reach a framing this way on
    /// the Responses routes; a framing without SSE may drop comments or turn the keepalive
    /// into its own (a WebSocket ping).
    fn sse(&self, out: &mut Vec<u8>, wire: &[u8]);
    /// Appends what ends the body after the last event (the chunked terminator).
    fn end(&self, out: &mut Vec<u8>);
}

/// Server-sent events over HTTP/1.1 chunked encoding (one chunk per event), or raw for an
/// HTTP/1.0 client, whose body then ends when the connection closes.
pub struct Sse {
    pub chunked: bool,
}

impl Sse {
    fn open(&self, out: &mut Vec<u8>, len: usize) {
        if self.chunked {
            chunk_size(out, len);
        }
    }

    fn close(&self, out: &mut Vec<u8>) {
        if self.chunked {
            out.extend_from_slice(b"\r\n");
        }
    }
}

impl Framing for Sse {
    /// `event: name`, one `data:` line per line of `data`, a blank line; written straight
    /// into `out` (the chunk size is counted first, so nothing is copied twice).
    fn event(&self, out: &mut Vec<u8>, name: Option<&str>, data: &str) {
        let head = name.map_or(0, |n| "event: \n".len() + n.len());
        // Each line gains `data: ` and keeps its newline (the last one gains it). Nearly
        // every payload is one line (JSON on one line): it is found so with one search
        // and copied whole, not split.
        let first_break = crate::bytes::find(data.as_bytes(), b'\n');
        let breaks = first_break.map_or(0, |i| 1 + data[i + 1..].matches('\n').count());
        let len = head + data.len() + (breaks + 1) * "data: ".len() + 1 + 1;
        out.reserve(len + 12);
        self.open(out, len);
        if let Some(name) = name {
            out.extend_from_slice(b"event: ");
            out.extend_from_slice(name.as_bytes());
            out.push(b'\n');
        }
        if first_break.is_none() {
            out.extend_from_slice(b"data: ");
            out.extend_from_slice(data.as_bytes());
            out.extend_from_slice(b"\n\n");
        } else {
            for line in data.split('\n') {
                out.extend_from_slice(b"data: ");
                out.extend_from_slice(line.as_bytes());
                out.push(b'\n');
            }
            out.push(b'\n');
        }
        self.close(out);
    }

    fn sse(&self, out: &mut Vec<u8>, wire: &[u8]) {
        self.open(out, wire.len());
        out.extend_from_slice(wire);
        self.close(out);
    }

    fn end(&self, out: &mut Vec<u8>) {
        if self.chunked {
            out.extend_from_slice(b"0\r\n\r\n");
        }
    }
}

/// Appends a chunk-size line (`{len:x}\r\n`), written by hand: `write!` costs a trip
/// through `core::fmt` (about 200 instructions) on every event.
fn chunk_size(out: &mut Vec<u8>, len: usize) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut digits = [0u8; 16];
    let mut at = digits.len();
    let mut n = len;
    loop {
        at -= 1;
        digits[at] = HEX[n & 0xf];
        n >>= 4;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
    out.extend_from_slice(b"\r\n");
}

/// State shared by the relay thread and the watchdog.
pub(super) struct Shared {
    pub writer: Mutex<Box<dyn ClientWrite>>,
    pub framing: Box<dyn Framing>,
    started: Instant,
    pub last_upstream_ms: AtomicU64,
    pub last_write_ms: AtomicU64,
    pub got_first_byte: AtomicBool,
    pub client_gone: AtomicBool,
    pub stalled: AtomicBool,
    pub shut_down: AtomicBool,
}

impl Shared {
    pub fn new(writer: Box<dyn ClientWrite>, framing: Box<dyn Framing>) -> Shared {
        Shared {
            writer: Mutex::new(writer),
            framing,
            started: Instant::now(),
            last_upstream_ms: AtomicU64::new(0),
            last_write_ms: AtomicU64::new(0),
            got_first_byte: AtomicBool::new(false),
            client_gone: AtomicBool::new(false),
            stalled: AtomicBool::new(false),
            shut_down: AtomicBool::new(false),
        }
    }

    pub fn now_ms(&self) -> u64 {
        self.ms_at(Instant::now())
    }

    /// `at` in the stream's clock: milliseconds since the stream started.
    pub fn ms_at(&self, at: Instant) -> u64 {
        at.saturating_duration_since(self.started).as_millis() as u64
    }

    /// The instant a time in the stream's clock stands for.
    pub fn instant_at(&self, ms: u64) -> Instant {
        self.started + Duration::from_millis(ms)
    }

    /// Writes a keepalive already framed unless the client is not reading (its buffers
    /// are full): `None` when skipped, `Some(false)` when the client has gone.
    pub fn write_or_skip(&self, w: &mut dyn ClientWrite, framed: &[u8]) -> Option<bool> {
        match w.write_or_skip(framed) {
            Ok(false) => None,
            Ok(true) => {
                self.last_write_ms.store(self.now_ms(), Ordering::Release);
                Some(true)
            }
            Err(_) => {
                self.client_gone.store(true, Ordering::Release);
                Some(false)
            }
        }
    }

    /// Writes bytes already framed, and flushes; a failure means the client has gone.
    pub fn write(&self, w: &mut dyn Write, framed: &[u8]) -> bool {
        if w.write_all(framed).and_then(|_| w.flush()).is_err() {
            self.client_gone.store(true, Ordering::Release);
            return false;
        }
        self.last_write_ms.store(self.now_ms(), Ordering::Release);
        true
    }
}

/// The relay's handle on the client side of a stream. Every write goes through it.
pub struct Sink {
    pub(super) shared: Arc<Shared>,
    /// Framed bytes not yet written: the events of one upstream read while `batching`.
    buf: Vec<u8>,
    batching: bool,
}

impl Sink {
    pub(super) fn new(shared: Arc<Shared>) -> Sink {
        Sink {
            shared,
            buf: Vec::with_capacity(4096),
            batching: false,
        }
    }

    /// A sink over any writer, with no watchdog: the relay without a socket.
    #[cfg(test)]
    pub fn over(writer: Box<dyn ClientWrite>, framing: Box<dyn Framing>) -> Sink {
        Sink::new(Arc::new(Shared::new(writer, framing)))
    }

    /// A sink over an in-memory buffer (raw SSE, no chunking), and that buffer: for the
    /// adapters' tests.
    #[cfg(test)]
    pub fn capture() -> (Sink, Arc<Mutex<Vec<u8>>>) {
        #[derive(Clone)]
        struct Shared(Arc<Mutex<Vec<u8>>>);
        impl Write for Shared {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(buf);
                Ok(buf.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        impl ClientWrite for Shared {}
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let sink = Sink::over(
            Box::new(Shared(buffer.clone())),
            Box::new(Sse { chunked: false }),
        );
        (sink, buffer)
    }

    /// Writes one event (`name`, `data`). False once the client has gone.
    pub fn event(&mut self, name: Option<&str>, data: &str) -> bool {
        self.put(|f, out| f.event(out, name, data))
    }

    /// Writes one event given in SSE wire form (the upstream's own bytes, or a protocol
    /// constant like `data: [DONE]\n\n`).
    pub fn sse(&mut self, wire: &[u8]) -> bool {
        self.put(|f, out| f.sse(out, wire))
    }

    /// Writes events in order, with one system call, stopping if the client goes.
    pub fn events(&mut self, events: &[Event]) -> bool {
        self.batch(|sink| events.iter().all(|e| sink.forward(e)))
    }

    /// Writes one parsed event as it came (comments and `id:` lines included).
    pub fn forward(&mut self, e: &Event) -> bool {
        match (&e.comment, &e.id) {
            (None, None) => self.event(e.event.as_deref(), &e.data),
            _ => self.sse(e.to_wire().as_bytes()),
        }
    }

    fn put(&mut self, frame: impl FnOnce(&dyn Framing, &mut Vec<u8>)) -> bool {
        if self.client_gone() {
            return false;
        }
        frame(&*self.shared.framing, &mut self.buf);
        self.batching || self.flush()
    }

    /// Writes what is buffered with one system call.
    fn flush(&mut self) -> bool {
        if self.buf.is_empty() {
            return !self.client_gone();
        }
        let shared = &self.shared;
        let ok = {
            let mut w = shared.writer.lock().unwrap_or_else(|e| e.into_inner());
            shared.write(&mut **w, &self.buf)
        };
        self.buf.clear();
        ok
    }

    /// Events that arrived in one upstream read are framed one by one but written with
    /// one system call: as prompt as writing them singly, at a fraction of the cost when
    /// the upstream bursts (each write is a TCP segment, and a wakeup of the client).
    pub(super) fn begin_batch(&mut self) {
        self.batching = true;
    }

    pub(super) fn end_batch(&mut self) {
        self.batching = false;
        self.flush();
    }

    /// Runs `write` with its events written in one system call at its end (inside a batch
    /// already open, they join that batch). False once the client has gone.
    pub(super) fn batch(&mut self, write: impl FnOnce(&mut Sink) -> bool) -> bool {
        if self.batching {
            return write(self);
        }
        self.batching = true;
        let ok = write(self);
        self.batching = false;
        self.flush() && ok
    }

    /// Ends the body (the chunked terminator), unless the client has gone.
    pub(super) fn end(&mut self) {
        if !self.client_gone() {
            self.shared.framing.end(&mut self.buf);
            self.flush();
        }
    }

    pub fn client_gone(&self) -> bool {
        self.shared.client_gone.load(Ordering::Acquire)
    }

    /// Marks upstream progress for the watchdog's stall limit. Also called by a route that
    /// feeds several upstream calls into one stream, for the work it does between them
    /// (a web search), which is not upstream silence.
    pub(crate) fn upstream_activity(&self) {
        self.shared.got_first_byte.store(true, Ordering::Release);
        self.shared
            .last_upstream_ms
            .store(self.shared.now_ms(), Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunk_sizes_are_lowercase_hex() {
        for len in [0, 1, 9, 10, 15, 16, 255, 4096, 0xabcdef, usize::MAX] {
            let mut out = Vec::new();
            chunk_size(&mut out, len);
            assert_eq!(String::from_utf8(out).unwrap(), format!("{len:x}\r\n"));
        }
    }

    #[test]
    fn events_are_framed_line_by_line_in_one_chunk() {
        let framing = Sse { chunked: true };
        for (name, data) in [
            (Some("x"), "{\"a\":1}"),
            (None, "one"),
            (None, "two\nlines"),
            (Some("e"), "\n\nthree\n"),
            (None, ""),
        ] {
            let mut out = Vec::new();
            framing.event(&mut out, name, data);
            let mut body = name.map_or(String::new(), |n| format!("event: {n}\n"));
            for line in data.split('\n') {
                body.push_str(&format!("data: {line}\n"));
            }
            body.push('\n');
            let expected = format!("{:x}\r\n{body}\r\n", body.len());
            assert_eq!(String::from_utf8(out).unwrap(), expected);
        }
    }
}
