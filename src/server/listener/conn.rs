//! One connection, on its own thread: reads each request head under the header deadline,
//! waits between requests under the idle timeout, hands the request to the handler on this
//! thread (no queue, no hop), reads the body by its framing, writes the answer, and after a
//! body the handler left unread drains a bounded amount or closes.

use super::answer::{Probe, Upgraded, Writer, reason, safe_header};
use super::head::{self, Framing, Head, HeadError, Version};
use super::{Io, Limits, READ_CHUNK, Transport};
use crate::http::ClientWrite;
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Unread body bytes drained after an answer so the connection can serve another request;
/// beyond this the connection is closed instead (tiny_http 0.12 allocated the whole
/// declared length to drain it).
pub const DRAIN_MAX: u64 = 1 << 20;
/// After an answer that closes the connection before the body was read, how long the rest
/// is read and discarded: a client still sending would otherwise get a reset, which can
/// destroy the answer before it reads it (nginx's "lingering close").
const LINGER: Duration = Duration::from_secs(2);
/// The longest chunk-size or trailer line of a chunked body.
const MAX_LINE: usize = 8 * 1024;

pub struct Conn {
    io: Io,
    /// A clone of the socket (under TLS too): read deadlines and the client probe.
    socket: TcpStream,
    /// Plain TCP, not TLS: a write can be tried without blocking (`Writer::write_or_skip`).
    plain: bool,
    /// Bytes read but not yet consumed: `buf[pos..]`.
    buf: Vec<u8>,
    pos: usize,
    limits: Limits,
    /// Set by a response writer whose write failed: the connection is done.
    broken: Arc<AtomicBool>,
    /// Whether the connection may serve another request after the current one.
    reusable: bool,
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

    fn pending(&self) -> &[u8] {
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

    /// Runs one request through `handler`; true when the connection may serve another.
    pub fn exchange(&mut self, head: Head, handler: &super::Handler) -> bool {
        let body = match head.framing() {
            Ok(Framing::Length(n)) => Body::Length(n),
            Ok(Framing::Chunked) => Body::Chunk(Chunk::Size),
            Err(_) => Body::Failed,
        };
        self.reusable = false;
        let rq = Request {
            head,
            conn: self,
            body,
            continue_sent: false,
            answered: false,
        };
        let handled =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| handler(rq))).is_ok();
        handled && self.reusable && !self.broken.load(Ordering::Acquire)
    }

    /// Half-closes, then reads and discards what the client still sends, for at most
    /// `LINGER` (memory: one read buffer).
    fn linger(&mut self) {
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

    fn write_continue(&mut self) -> io::Result<()> {
        let mut io = crate::sync::lock(&self.io);
        io.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
        io.flush()
    }

    /// Up to `out.len()` body bytes from the buffer or the socket; Ok(0) at end of stream.
    fn read_some(&mut self, out: &mut [u8]) -> io::Result<usize> {
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
    fn read_line(&mut self) -> io::Result<Vec<u8>> {
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

/// Where a request's body stands.
enum Body {
    /// This many bytes are left of a `Content-Length` body.
    Length(u64),
    Chunk(Chunk),
    Done,
    /// Malformed or cut short: the connection cannot be reused.
    Failed,
}

/// Position in a chunked body.
enum Chunk {
    Size,
    Data(u64),
    DataEnd,
}

fn invalid(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("bad chunked body: {what}"),
    )
}

/// One request, handed to the handler on the connection's thread. Answer it with
/// `respond`, `into_writer` or `upgrade`; dropping it unanswered closes the connection.
pub struct Request<'c> {
    head: Head,
    conn: &'c mut Conn,
    body: Body,
    continue_sent: bool,
    answered: bool,
}

impl Request<'_> {
    pub fn method(&self) -> &str {
        &self.head.method
    }

    /// The request target as sent, query string included.
    pub fn url(&self) -> &str {
        &self.head.target
    }

    /// Header names in lower case, values trimmed.
    pub fn headers(&self) -> &[(String, String)] {
        &self.head.headers
    }

    pub fn version(&self) -> Version {
        self.head.version
    }

    /// The declared `Content-Length`; None for a chunked body.
    pub fn body_length(&self) -> Option<u64> {
        match self.head.framing() {
            Ok(Framing::Length(n)) => Some(n),
            _ => None,
        }
    }

    /// A handle that tells whether the client has gone away while this request waits
    /// (say, in a queue); usable from any thread, for as long as it is held.
    pub fn probe(&self) -> Probe {
        Probe(self.conn.socket.try_clone().ok().map(socket2::Socket::from))
    }

    fn body_finished(&self) -> bool {
        matches!(self.body, Body::Done | Body::Length(0))
    }

    /// Whether the unread rest of the body can be drained to keep the connection.
    fn drainable(&self) -> bool {
        if self.head.expects_continue() && !self.continue_sent {
            // The client may be holding the body back, or sending it after its own
            // timeout: where the next request starts is unknowable.
            return self.body_finished();
        }
        match self.body {
            Body::Done | Body::Chunk(_) => true,
            Body::Length(n) => n <= DRAIN_MAX,
            Body::Failed => false,
        }
    }

    /// Writes a complete answer with a `Content-Length` body (none for HEAD).
    pub fn respond(mut self, status: u16, headers: &[(String, String)], body: &[u8], close: bool) {
        let close = close || !self.head.keep_alive() || !self.drainable();
        let mut head = format!("HTTP/1.1 {status} {}\r\n", reason(status));
        for (k, v) in headers.iter().filter(|(k, v)| safe_header(k, v)) {
            if k.eq_ignore_ascii_case("content-length") || k.eq_ignore_ascii_case("connection") {
                continue;
            }
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
        if close {
            head.push_str("Connection: close\r\n");
        } else if self.head.version == Version::Http10 {
            // An HTTP/1.0 client keeps the connection only when the answer says so
            // (RFC 9112 §9.3); without it, it would wait for a close that never comes.
            head.push_str("Connection: keep-alive\r\n");
        }
        head.push_str("\r\n");
        let mut wire = head.into_bytes();
        if self.head.method != "HEAD" {
            wire.extend_from_slice(body);
        }
        let written = {
            let mut io = crate::sync::lock(&self.conn.io);
            io.write_all(&wire).and_then(|_| io.flush())
        };
        self.answered = true;
        self.conn.reusable = !close && written.is_ok() && self.drain();
        if close && written.is_ok() && !self.body_finished() {
            self.conn.linger();
        }
    }

    /// The raw connection for an answer the caller frames itself (the status line,
    /// headers, then the body: chunked for HTTP/1.1, else closed at the end). The
    /// connection serves another request afterwards only for HTTP/1.1 keep-alive and if
    /// no write failed.
    pub fn into_writer(mut self) -> Box<dyn ClientWrite> {
        self.answered = true;
        let keep = self.head.version == Version::Http11 && self.head.keep_alive();
        self.conn.reusable = keep && self.drainable() && self.drain();
        if self.conn.pending().is_empty() {
            // A stream may stay open for minutes: it need not hold the read buffer
            // (16 KiB or more) meanwhile; the next request on the connection, if any,
            // allocates one again.
            self.conn.buf = Vec::new();
            self.conn.pos = 0;
        }
        Box::new(Writer {
            io: self.conn.io.clone(),
            broken: self.conn.broken.clone(),
            // Under TLS a write the socket refuses is still taken into the TLS buffer, so
            // it cannot be skipped: keepalives wait there as every write does.
            socket: if self.conn.plain {
                self.conn.socket.try_clone().ok()
            } else {
                None
            },
            pending: Vec::new(),
        })
    }

    /// Hands over the connection after the caller's `101 Switching Protocols` (or any
    /// answer it writes itself): bytes the client already sent come first on reads. The
    /// connection closes when the returned stream is dropped and the handler returns.
    pub fn upgrade(mut self) -> Upgraded {
        self.answered = true;
        self.conn.reusable = false;
        let early = self.conn.pending().to_vec();
        self.conn.pos = self.conn.buf.len();
        Upgraded {
            io: self.conn.io.clone(),
            early,
            at: 0,
        }
    }

    /// Reads and discards the rest of the body, up to `DRAIN_MAX`; true when it all came.
    fn drain(&mut self) -> bool {
        if self.body_finished() {
            return true;
        }
        let mut scratch = [0u8; 8192];
        let mut total = 0u64;
        while total <= DRAIN_MAX {
            match self.read(&mut scratch) {
                Ok(0) => return self.body_finished(),
                Ok(n) => total += n as u64,
                Err(_) => return false,
            }
        }
        false
    }

    fn read_chunked(&mut self, out: &mut [u8]) -> io::Result<usize> {
        loop {
            match self.body {
                Body::Chunk(Chunk::Size) => {
                    let line = self.conn.read_line()?;
                    let size = head::chunk_size(&line).ok_or_else(|| invalid("size"))?;
                    if size == 0 {
                        self.read_trailers()?;
                        self.body = Body::Done;
                        return Ok(0);
                    }
                    self.body = Body::Chunk(Chunk::Data(size));
                }
                Body::Chunk(Chunk::Data(left)) => {
                    let want = out.len().min(left.min(usize::MAX as u64) as usize);
                    let n = self.conn.read_some(&mut out[..want])?;
                    if n == 0 {
                        return Err(io::ErrorKind::UnexpectedEof.into());
                    }
                    let left = left - n as u64;
                    self.body = Body::Chunk(if left == 0 {
                        Chunk::DataEnd
                    } else {
                        Chunk::Data(left)
                    });
                    return Ok(n);
                }
                Body::Chunk(Chunk::DataEnd) => {
                    if !self.conn.read_line()?.is_empty() {
                        return Err(invalid("data longer than its size"));
                    }
                    self.body = Body::Chunk(Chunk::Size);
                }
                _ => return Ok(0),
            }
        }
    }

    fn read_trailers(&mut self) -> io::Result<()> {
        for _ in 0..head::MAX_HEADERS {
            if self.conn.read_line()?.is_empty() {
                return Ok(());
            }
        }
        Err(invalid("too many trailers"))
    }
}

/// The body, as it arrives. Sends `100 Continue` first when the client asked for it.
impl Read for Request<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if out.is_empty() || self.body_finished() {
            return Ok(0);
        }
        if self.head.expects_continue() && !self.continue_sent {
            self.continue_sent = true;
            self.conn.write_continue()?;
        }
        let result = match self.body {
            Body::Length(left) => {
                let want = out.len().min(left.min(usize::MAX as u64) as usize);
                match self.conn.read_some(&mut out[..want]) {
                    Ok(0) => Err(io::ErrorKind::UnexpectedEof.into()),
                    Ok(n) => {
                        self.body = Body::Length(left - n as u64);
                        Ok(n)
                    }
                    Err(e) => Err(e),
                }
            }
            Body::Chunk(_) => self.read_chunked(out),
            Body::Done => Ok(0),
            Body::Failed => Err(invalid("unreadable")),
        };
        if result.is_err() {
            self.body = Body::Failed;
        }
        result
    }
}

impl Drop for Request<'_> {
    fn drop(&mut self) {
        if !self.answered {
            self.conn.reusable = false;
        }
    }
}
