//! One connection, on its own thread: its read buffer, each request head read under the
//! header deadline, the wait between requests under the idle timeout, and the byte and line
//! reads a body is made of (`request.rs` frames them), each under a deadline and a size bound.

use super::answer::reason;
use super::head::{self, Head, HeadError};
use super::{Io, Limits, READ_CHUNK, Transport};
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// After an answer that closes the connection before the body was read, how long the rest
/// is read and discarded: a client still sending would otherwise get a reset, which can
/// destroy the answer before it reads it (nginx's "lingering close").
const LINGER: Duration = Duration::from_secs(2);
/// The longest chunk-size or trailer line of a chunked body.
const MAX_LINE: usize = 8 * 1024;

pub struct Conn {
    pub(super) io: Io,
    /// A clone of the socket (under TLS too): read deadlines and the client probe.
    pub(super) socket: TcpStream,
    /// Plain TCP, not TLS: a write can be tried without blocking (`Writer::write_or_skip`).
    pub(super) plain: bool,
    /// Bytes read but not yet consumed: `buf[pos..]`.
    pub(super) buf: Vec<u8>,
    pub(super) pos: usize,
    limits: Limits,
    /// Set by a response writer whose write failed: the connection is done.
    pub(super) broken: Arc<AtomicBool>,
    /// Whether the connection may serve another request after the current one.
    pub(super) reusable: bool,
}

impl Conn {
    pub fn new(io: Box<dyn Transport>, socket: TcpStream, plain: bool, limits: Limits) -> Conn {
        Conn {
            io: Arc::new(Mutex::new(io)),
            socket,
            plain,
            buf: Vec::new(),
            pos: 0,
            limits,
            broken: Arc::new(AtomicBool::new(false)),
            reusable: false,
        }
    }

    pub(super) fn pending(&self) -> &[u8] {
        &self.buf[self.pos..]
    }

    /// Reads more bytes, waiting at most until `deadline` (and at most `per_read` for
    /// one read). Ok(0) is the end of the stream; a timeout is `ErrorKind::TimedOut`.
    fn fill(&mut self, deadline: Option<Instant>, per_read: Duration) -> io::Result<usize> {
        let mut wait = per_read;
        if let Some(d) = deadline {
            wait = wait.min(d.saturating_duration_since(Instant::now()));
        }
        if wait.is_zero() {
            return Err(io::ErrorKind::TimedOut.into());
        }
        self.socket.set_read_timeout(Some(wait))?;
        if self.pos > 0 && self.pos == self.buf.len() {
            self.buf.clear();
            self.pos = 0;
        } else if self.pos >= READ_CHUNK {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        let old = self.buf.len();
        self.buf.resize(old + READ_CHUNK, 0);
        let read = crate::sync::lock(&self.io).read(&mut self.buf[old..]);
        self.buf.truncate(old + *read.as_ref().unwrap_or(&0));
        match read {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Err(io::ErrorKind::TimedOut.into()),
            other => other,
        }
    }

    /// The next request head. None when the client closed, went silent past the idle
    /// timeout, or did not complete the head by the header deadline: the connection ends
    /// without an answer, as there is no request to answer.
    pub fn read_head(&mut self, first: bool, accepted: Instant) -> Result<Option<Head>, HeadError> {
        let header = self.limits.header_timeout;
        let skip = head::skip_blank_lines(self.pending());
        self.pos += skip;
        if self.pending().is_empty() {
            // Waiting for a request to start: on a new connection that is part of the
            // head's time; between requests it is idleness.
            let wait = if first {
                self.fill(Some(accepted + header), header)
            } else {
                self.fill(None, self.limits.idle_timeout)
            };
            if !matches!(wait, Ok(n) if n > 0) {
                return Ok(None);
            }
        }
        let deadline = if first { accepted } else { Instant::now() } + header;
        let mut from = 0;
        loop {
            let skip = head::skip_blank_lines(self.pending());
            self.pos += skip;
            if skip > 0 {
                from = 0;
            }
            if let Some(end) = head::head_end_from(self.pending(), from) {
                let parsed = head::parse(&self.pending()[..end]);
                self.pos += end;
                return parsed.map(Some);
            }
            if self.pending().len() > head::MAX_HEAD_BYTES {
                return Err(HeadError::TooLarge);
            }
            from = head::resume_at(self.pending());
            if !matches!(self.fill(Some(deadline), header), Ok(n) if n > 0) {
                return Ok(None);
            }
        }
    }

    /// Answers a head that could not be parsed; the connection closes after it, since
    /// where the next request would start is unknown.
    pub fn refuse_head(&mut self, e: &HeadError) {
        let body =
            serde_json::json!({"error": {"message": e.message(), "type": "invalid_request_error"}})
                .to_string();
        let head = format!(
            "HTTP/1.1 {} {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            e.status(),
            reason(e.status()),
            body.len()
        );
        let mut io = crate::sync::lock(&self.io);
        let _ = io
            .write_all(head.as_bytes())
            .and_then(|_| io.write_all(body.as_bytes()))
            .and_then(|_| io.flush());
    }

    /// Half-closes, then reads and discards what the client still sends, for at most
    /// `LINGER` (memory: one read buffer).
    pub(super) fn linger(&mut self) {
        let _ = self.socket.shutdown(std::net::Shutdown::Write);
        let until = Instant::now() + LINGER;
        loop {
            self.pos = self.buf.len();
            match self.fill(Some(until), LINGER) {
                Ok(n) if n > 0 => {}
                _ => return,
            }
        }
    }

    pub(super) fn write_continue(&mut self) -> io::Result<()> {
        let mut io = crate::sync::lock(&self.io);
        io.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
        io.flush()
    }

    /// Up to `out.len()` body bytes from the buffer or the socket; Ok(0) at end of stream.
    pub(super) fn read_some(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.pending().is_empty() {
            let per_read = self.limits.header_timeout;
            if self.fill(None, per_read)? == 0 {
                return Ok(0);
            }
        }
        let n = out.len().min(self.pending().len());
        out[..n].copy_from_slice(&self.pending()[..n]);
        self.pos += n;
        Ok(n)
    }

    /// One line of a chunked body, without its CRLF.
    pub(super) fn read_line(&mut self) -> io::Result<Vec<u8>> {
        let mut from = 0;
        loop {
            if let Some(nl) = self.pending()[from..].iter().position(|b| *b == b'\n') {
                let end = from + nl;
                if end > MAX_LINE {
                    // Bounded whether the line arrived in one read or in many.
                    return Err(invalid("chunk line too long"));
                }
                // CRLF only, as hyper insists: a bare LF in chunked framing is read as a
                // line end by some parsers and as data by others (a smuggling vector),
                // unlike a bare LF in the head, which only ends lines earlier.
                let Some(line) = self.pending()[..end].strip_suffix(b"\r") else {
                    return Err(invalid("line not ended by CRLF"));
                };
                let line = line.to_vec();
                self.pos += end + 1;
                return Ok(line);
            }
            from = self.pending().len();
            if from > MAX_LINE {
                return Err(invalid("chunk line too long"));
            }
            if self.fill(None, self.limits.header_timeout)? == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
        }
    }
}

pub(super) fn invalid(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("bad chunked body: {what}"),
    )
}
