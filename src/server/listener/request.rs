//! One request on a connection, as the handler sees it: the head's accessors, the body read
//! by its framing (`Content-Length` or chunked, `100 Continue` first when asked), and the
//! three ways to answer (`respond`, `into_writer`, `upgrade`), each deciding whether the
//! connection serves another request and draining a bounded amount of unread body. Apart
//! from `conn.rs`, which owns the socket and the buffer: this is HTTP message semantics
//! over the bytes `conn.rs` reads.

use super::answer::{Probe, Upgraded, Writer, reason, safe_header};
use super::conn::{Conn, invalid};
use super::head::{self, Framing, Head, Version};
use crate::http::ClientWrite;
use std::io::{self, Read, Write};
use std::sync::atomic::Ordering;

/// Unread body bytes drained after an answer so the connection can serve another request;
/// beyond this the connection is closed instead (tiny_http 0.12 allocated the whole
/// declared length to drain it).
pub const DRAIN_MAX: u64 = 1 << 20;

/// Runs one request through `handler`; true when the connection may serve another.
pub fn exchange(conn: &mut Conn, head: Head, handler: &super::Handler) -> bool {
    let body = match head.framing() {
        Ok(Framing::Length(n)) => Body::Length(n),
        Ok(Framing::Chunked) => Body::Chunk(Chunk::Size),
        Err(_) => Body::Failed,
    };
    conn.reusable = false;
    let rq = Request {
        head,
        conn: &mut *conn,
        body,
        continue_sent: false,
        answered: false,
    };
    let handled = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| handler(rq))).is_ok();
    handled && conn.reusable && !conn.broken.load(Ordering::Acquire)
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
