//! What a request's handler gets to answer with besides `Request::respond`: the writer for
//! an answer it frames itself (SSE), the upgraded connection (WebSocket), and the probe that
//! tells whether the client has left; plus the response-head helpers they share.

use super::{Io, Transport};
use crate::http::ClientWrite;
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Tells whether the client of a request has gone away, without reading its data.
pub struct Probe(pub(super) Option<socket2::Socket>);

/// Linux `MSG_PEEK | MSG_DONTWAIT`: look at the receive queue without consuming it and
/// without blocking (the socket itself stays blocking for the connection's thread).
const PEEK_NOW: std::ffi::c_int = 0x2 | 0x40;

impl Probe {
    /// True once the client closed or reset the connection. Bytes waiting (a pipelined
    /// request, a TLS alert) count as present; a client that half-closes after sending
    /// its request counts as gone.
    pub fn client_gone(&self) -> bool {
        let Some(socket) = &self.0 else {
            return false;
        };
        let mut byte = [std::mem::MaybeUninit::<u8>::uninit(); 1];
        match socket.recv_with_flags(&mut byte, PEEK_NOW) {
            Ok(0) => true,
            Ok(_) => false,
            Err(e) => !matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
            ),
        }
    }
}

/// A response body the caller frames, written through under the connection's lock: each
/// `write` is one whole write, so a watchdog thread can interleave whole writes. Not
/// buffered here: the relay's sink hands over each batch of events already framed in
/// one buffer (a second copy per stream cost a memcpy per byte and up to a batch of
/// memory per open stream).
pub(super) struct Writer {
    pub(super) io: Io,
    pub(super) broken: Arc<AtomicBool>,
    /// The socket itself, on plain TCP only: `write_or_skip` makes it non-blocking for
    /// one write.
    pub(super) socket: Option<TcpStream>,
    /// The rest of a frame `write_or_skip` could write only in part, written before
    /// anything else so that frames stay whole and in order.
    pub(super) pending: Vec<u8>,
}

impl Writer {
    fn fail<T>(&self, e: io::Error) -> io::Result<T> {
        self.broken.store(true, Ordering::Release);
        Err(e)
    }
}

impl Write for Writer {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if self.broken.load(Ordering::Acquire) {
            return Err(io::ErrorKind::BrokenPipe.into());
        }
        let mut io = crate::sync::lock(&self.io);
        let written = io
            .write_all(&self.pending)
            .and_then(|()| io.write_all(data));
        drop(io);
        self.pending.clear();
        match written {
            Ok(()) => Ok(data.len()),
            Err(e) => self.fail(e),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match crate::sync::lock(&self.io).flush() {
            Ok(()) => Ok(()),
            Err(e) => self.fail(e),
        }
    }
}

impl ClientWrite for Writer {
    /// Non-blocking attempts under the connection's lock (no other write runs meanwhile;
    /// the flag is the socket's, shared with `io`'s handle on it): nothing written while
    /// the send buffer is full; a frame taken in part is finished by the next write.
    fn write_or_skip(&mut self, data: &[u8]) -> io::Result<bool> {
        let Some(socket) = &self.socket else {
            self.write_all(data)?;
            self.flush()?;
            return Ok(true);
        };
        if self.broken.load(Ordering::Acquire) {
            return Err(io::ErrorKind::BrokenPipe.into());
        }
        let mut io = crate::sync::lock(&self.io);
        let attempt = socket.set_nonblocking(true).and_then(|()| {
            let pending = write_now(&mut **io, &self.pending)?;
            self.pending.drain(..pending);
            if !self.pending.is_empty() {
                return Ok(false);
            }
            let n = write_now(&mut **io, data)?;
            if n > 0 {
                self.pending.extend_from_slice(&data[n..]);
            }
            Ok(n > 0)
        });
        let restored = socket.set_nonblocking(false);
        drop(io);
        match attempt.and_then(|taken| restored.map(|()| taken)) {
            Ok(taken) => Ok(taken),
            Err(e) => self.fail(e),
        }
    }
}

/// Writes what a non-blocking socket takes now: the count, 0 when its buffer is full.
fn write_now(io: &mut dyn Transport, mut data: &[u8]) -> io::Result<usize> {
    let all = data.len();
    while !data.is_empty() {
        match io.write(data) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => data = &data[n..],
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(all - data.len())
}

/// The connection after an upgrade: read and write from one thread at a time.
pub struct Upgraded {
    pub(super) io: Io,
    pub(super) early: Vec<u8>,
    pub(super) at: usize,
}

impl Read for Upgraded {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.at < self.early.len() {
            let n = out.len().min(self.early.len() - self.at);
            out[..n].copy_from_slice(&self.early[self.at..self.at + n]);
            self.at += n;
            return Ok(n);
        }
        crate::sync::lock(&self.io).read(out)
    }
}

impl Write for Upgraded {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        crate::sync::lock(&self.io).write(data)
    }

    fn flush(&mut self) -> io::Result<()> {
        crate::sync::lock(&self.io).flush()
    }
}

/// A header that cannot split the response (no CR or LF) and has a valid name.
pub(super) fn safe_header(name: &str, value: &str) -> bool {
    !name.is_empty()
        && name.bytes().all(|b| b.is_ascii_graphic() && b != b':')
        && !value.bytes().any(|b| b == b'\r' || b == b'\n')
}

pub fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        101 => "Switching Protocols",
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        304 => "Not Modified",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        413 => "Payload Too Large",
        415 => "Unsupported Media Type",
        422 => "Unprocessable Entity",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        _ => "Status",
    }
}
