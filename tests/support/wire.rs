//! The fake upstream's HTTP/1.1 server, on plain std sockets.
//!
//! An off-the-shelf server (tiny_http, say) cannot play a broken upstream: it keeps every keep-alive connection open until
//! the client closes it, so a "dropped connection" is impossible, and its `Response`
//! buffers. Here each connection is ours: a reply is either a whole body or a script of
//! SSE steps written one HTTP chunk at a time, flushed, with pauses, stalls and drops, and
//! the end of every script (finished, dropped, peer closed, write failed) is reported so
//! tests can see when the binary let go of an upstream connection.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// In an event's text, replaced at write time by the send time in microseconds since the
/// UNIX epoch, so a test can measure how long the event took to reach the client.
pub const SENT_US: &str = "__SENT_US__";

/// How long a stall lasts at most when nobody closes the connection.
const STALL_MAX: Duration = Duration::from_secs(60);
/// How often an idle stream checks whether the peer closed the connection.
const POLL: Duration = Duration::from_millis(10);

/// A request as read from the socket.
pub struct Request {
    pub method: String,
    /// Path and query, as sent.
    pub target: String,
    /// Names lowercased, in arrival order.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub keep_alive: bool,
}

/// One step of a streamed answer.
#[derive(Debug, Clone)]
pub enum Step {
    /// One SSE event (or any bytes) as one HTTP chunk, flushed; `SENT_US` is filled in.
    Send(String),
    /// Silence for this long (the connection stays open).
    Wait(Duration),
    /// Silence until the peer closes the connection (or the fake stops).
    Stall,
    /// Close the socket at once, without the terminating chunk.
    Drop,
}

/// What a route answers.
pub enum Reply {
    Body {
        status: u16,
        content_type: &'static str,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    },
    /// `200 text/event-stream`, chunked, then the steps; the terminating chunk follows
    /// unless a step stalled or dropped.
    Stream(Vec<Step>),
    /// Close the connection without answering (a reset as the client sees it).
    Hangup,
    /// Read the request, then answer nothing at all until the peer gives up.
    Silence,
}

impl Reply {
    pub fn json(status: u16, body: &serde_json::Value) -> Reply {
        Reply::Body {
            status,
            content_type: "application/json",
            headers: Vec::new(),
            body: body.to_string().into_bytes(),
        }
    }
}

/// How a reply ended on the wire, as the fake saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamEnd {
    /// Every step written and the body terminated.
    Finished,
    /// The script dropped the connection.
    Dropped,
    /// The peer closed the connection while the fake was silent (stall, wait, silence).
    PeerClosed,
    /// A write failed: the peer had closed or reset the connection.
    WriteFailed,
    /// The fake itself was stopped.
    Stopped,
}

/// Reads one request. `Ok(None)` when the peer closed the connection between requests.
pub fn read_request(reader: &mut BufReader<TcpStream>) -> std::io::Result<Option<Request>> {
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Ok(None);
    }
    let mut parts = line.split_whitespace();
    let (method, target, version) = (
        parts.next().unwrap_or("").to_string(),
        parts.next().unwrap_or("/").to_string(),
        parts.next().unwrap_or("HTTP/1.1").to_string(),
    );
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h)? == 0 {
            return Ok(None);
        }
        let h = h.trim_end_matches(['\r', '\n']);
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
    }
    let header = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.to_ascii_lowercase())
    };
    let body = if header("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
        read_chunked(reader)?
    } else {
        let len = header("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0; len];
        reader.read_exact(&mut body)?;
        body
    };
    let keep_alive = match header("connection") {
        Some(v) if v.contains("close") => false,
        Some(v) if v.contains("keep-alive") => true,
        _ => version != "HTTP/1.0",
    };
    Ok(Some(Request {
        method,
        target,
        headers,
        body,
        keep_alive,
    }))
}

fn read_chunked(reader: &mut BufReader<TcpStream>) -> std::io::Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let mut size = String::new();
        reader.read_line(&mut size)?;
        let size = usize::from_str_radix(size.split(';').next().unwrap_or("").trim(), 16)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
        if size == 0 {
            // Trailers, then the blank line.
            loop {
                let mut t = String::new();
                if reader.read_line(&mut t)? == 0 || t.trim().is_empty() {
                    return Ok(body);
                }
            }
        }
        let start = body.len();
        body.resize(start + size, 0);
        reader.read_exact(&mut body[start..])?;
        let mut crlf = [0u8; 2];
        reader.read_exact(&mut crlf)?;
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        413 => "Payload Too Large",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

/// Writes `reply` to `stream`. Returns how it ended and whether the connection may carry
/// another request.
pub fn write_reply(
    stream: &mut TcpStream,
    reply: Reply,
    keep_alive: bool,
    stopping: &AtomicBool,
) -> (StreamEnd, bool) {
    match reply {
        Reply::Body {
            status,
            content_type,
            headers,
            body,
        } => {
            let mut head = format!(
                "HTTP/1.1 {status} {}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n",
                reason(status),
                body.len()
            );
            for (k, v) in headers {
                head.push_str(&format!("{k}: {v}\r\n"));
            }
            if !keep_alive {
                head.push_str("Connection: close\r\n");
            }
            head.push_str("\r\n");
            let mut out = head.into_bytes();
            out.extend_from_slice(&body);
            match stream.write_all(&out).and_then(|_| stream.flush()) {
                Ok(()) => (StreamEnd::Finished, keep_alive),
                Err(_) => (StreamEnd::WriteFailed, false),
            }
        }
        Reply::Stream(steps) => {
            let head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\nTransfer-Encoding: chunked\r\n\r\n";
            if stream
                .write_all(head.as_bytes())
                .and_then(|_| stream.flush())
                .is_err()
            {
                return (StreamEnd::WriteFailed, false);
            }
            let end = run_steps(stream, steps, stopping);
            (end, end == StreamEnd::Finished && keep_alive)
        }
        Reply::Hangup => {
            let _ = stream.shutdown(Shutdown::Both);
            (StreamEnd::Dropped, false)
        }
        Reply::Silence => match idle(stream, STALL_MAX, stopping) {
            Err(end) => (end, false),
            Ok(()) => (StreamEnd::Finished, false),
        },
    }
}

fn run_steps(stream: &mut TcpStream, steps: Vec<Step>, stopping: &AtomicBool) -> StreamEnd {
    for step in steps {
        let result = match step {
            Step::Send(text) => send_chunk(stream, &text),
            Step::Wait(d) => idle(stream, d, stopping),
            Step::Stall => idle(stream, STALL_MAX, stopping),
            Step::Drop => {
                let _ = stream.shutdown(Shutdown::Both);
                return StreamEnd::Dropped;
            }
        };
        if let Err(end) = result {
            return end;
        }
    }
    match stream.write_all(b"0\r\n\r\n").and_then(|_| stream.flush()) {
        Ok(()) => StreamEnd::Finished,
        Err(_) => StreamEnd::WriteFailed,
    }
}

fn send_chunk(stream: &mut TcpStream, text: &str) -> Result<(), StreamEnd> {
    let text = if text.contains(SENT_US) {
        text.replace(SENT_US, &unix_micros().to_string())
    } else {
        text.to_string()
    };
    let mut frame = format!("{:x}\r\n", text.len()).into_bytes();
    frame.extend_from_slice(text.as_bytes());
    frame.extend_from_slice(b"\r\n");
    stream
        .write_all(&frame)
        .and_then(|_| stream.flush())
        .map_err(|_| StreamEnd::WriteFailed)
}

/// Silence for `d`, watching the socket: `Err(PeerClosed)` as soon as the peer closes it.
fn idle(stream: &TcpStream, d: Duration, stopping: &AtomicBool) -> Result<(), StreamEnd> {
    let deadline = Instant::now() + d;
    let mut probe = [0u8; 1];
    let result = loop {
        if stopping.load(Ordering::SeqCst) {
            break Err(StreamEnd::Stopped);
        }
        let now = Instant::now();
        if now >= deadline {
            break Ok(());
        }
        let _ =
            stream.set_read_timeout(Some(POLL.min(deadline - now).max(Duration::from_millis(1))));
        match stream.peek(&mut probe) {
            // EOF: the peer closed its side. A peer never sends more while it reads a reply.
            Ok(0) => break Err(StreamEnd::PeerClosed),
            Ok(_) => std::thread::sleep(POLL),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => break Err(StreamEnd::PeerClosed),
        }
    };
    let _ = stream.set_read_timeout(None);
    result
}

pub fn unix_micros() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros())
        .unwrap_or(0)
}
