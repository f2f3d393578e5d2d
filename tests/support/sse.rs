//! The client side of event streams: a parser for a whole SSE body, and `StreamClient`, a
//! raw-socket client that reads a chunked response one HTTP chunk at a time and notes when
//! each chunk arrived (tests of promptness and of clients that hang up mid-stream).

use serde_json::Value;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, SystemTime};

/// One SSE block: an event, or a comment such as `: keepalive`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Sse {
    pub event: Option<String>,
    /// The `data:` lines joined by `\n`; None for a comment.
    pub data: Option<String>,
    pub comment: Option<String>,
}

impl Sse {
    /// The data as JSON; panics (showing the data) when it is not JSON.
    pub fn json(&self) -> Value {
        let data = self.data.as_deref().unwrap_or("");
        serde_json::from_str(data)
            .unwrap_or_else(|e| panic!("event data is not JSON ({e}): {data:?}"))
    }

    pub fn is_done(&self) -> bool {
        self.data.as_deref() == Some("[DONE]")
    }

    pub fn is_keepalive(&self) -> bool {
        self.comment
            .as_deref()
            .is_some_and(|c| c.trim() == "keepalive")
    }
}

/// Splits an SSE body (LF line ends, as the proxy writes) into blocks.
pub fn parse_sse(text: &str) -> Vec<Sse> {
    let mut out = Vec::new();
    for block in text.split("\n\n").filter(|b| !b.trim().is_empty()) {
        let mut sse = Sse::default();
        for line in block.lines() {
            if let Some(c) = line.strip_prefix(':') {
                sse.comment = Some(c.to_string());
            } else if let Some(v) = line.strip_prefix("event:") {
                sse.event = Some(v.trim_start().to_string());
            } else if let Some(v) = line.strip_prefix("data:") {
                let v = v.strip_prefix(' ').unwrap_or(v);
                sse.data = Some(match sse.data.take() {
                    Some(d) => format!("{d}\n{v}"),
                    None => v.to_string(),
                });
            }
        }
        out.push(sse);
    }
    out
}

/// The JSON of every `data:` event except `[DONE]`, in order.
pub fn data_json(events: &[Sse]) -> Vec<Value> {
    events
        .iter()
        .filter(|e| e.data.is_some() && !e.is_done())
        .map(Sse::json)
        .collect()
}

/// A request written by hand on a raw socket, its response read piece by piece.
pub struct StreamClient {
    stream: TcpStream,
    buf: Vec<u8>,
    pub status: u16,
    /// Names lowercased.
    pub headers: Vec<(String, String)>,
    chunked: bool,
    ended: bool,
    /// How the body ended, once it has: the last chunk, EOF, or the read error.
    pub end: Option<String>,
}

impl StreamClient {
    /// POSTs `body` to `url` (`http://host:port`) + `path` over HTTP/1.1 and reads the head.
    pub fn post(url: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> StreamClient {
        let addr = url.trim_start_matches("http://").trim_end_matches('/');
        let mut stream = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
        stream
            .set_read_timeout(Some(Duration::from_secs(15)))
            .expect("set read timeout");
        let _ = stream.set_nodelay(true);
        let mut head = format!(
            "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
            body.len()
        );
        for (k, v) in headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("\r\n");
        let mut request = head.into_bytes();
        request.extend_from_slice(body);
        stream.write_all(&request).expect("write request");
        let mut client = StreamClient {
            stream,
            buf: Vec::new(),
            status: 0,
            headers: Vec::new(),
            chunked: false,
            ended: false,
            end: None,
        };
        client.read_head();
        client
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Reads once from the socket; false at EOF or on an error (said in `end`).
    fn fill(&mut self) -> bool {
        let mut piece = [0u8; 4096];
        match self.stream.read(&mut piece) {
            Ok(0) => {
                self.end = Some("EOF".into());
                false
            }
            Err(e) => {
                self.end = Some(format!("read error: {e}"));
                false
            }
            Ok(n) => {
                self.buf.extend_from_slice(&piece[..n]);
                true
            }
        }
    }

    fn read_head(&mut self) {
        let end = loop {
            if let Some(pos) = find(&self.buf, b"\r\n\r\n") {
                break pos;
            }
            assert!(self.fill(), "connection closed before the response head");
        };
        let head = String::from_utf8_lossy(&self.buf[..end]).into_owned();
        self.buf.drain(..end + 4);
        let mut lines = head.split("\r\n");
        self.status = lines
            .next()
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("bad status line in {head:?}"));
        self.headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        self.chunked = self
            .header("transfer-encoding")
            .is_some_and(|v| v.eq_ignore_ascii_case("chunked"));
    }

    /// The next HTTP chunk's payload and when its last byte arrived; None at the end of the
    /// body. Without chunked encoding, whatever one read returned.
    pub fn next_chunk(&mut self) -> Option<(Vec<u8>, SystemTime)> {
        if self.ended {
            return None;
        }
        if !self.chunked {
            if self.buf.is_empty() && !self.fill() {
                self.ended = true;
                return None;
            }
            return Some((std::mem::take(&mut self.buf), SystemTime::now()));
        }
        loop {
            if let Some(line_end) = find(&self.buf, b"\r\n") {
                let line = String::from_utf8_lossy(&self.buf[..line_end]).into_owned();
                let size = usize::from_str_radix(line.split(';').next().unwrap_or("").trim(), 16)
                    .unwrap_or_else(|e| panic!("bad chunk size line {line:?}: {e}"));
                if size == 0 {
                    self.end = Some("last chunk".into());
                    self.ended = true;
                    return None;
                }
                let need = line_end + 2 + size + 2;
                if self.buf.len() >= need {
                    let payload = self.buf[line_end + 2..line_end + 2 + size].to_vec();
                    self.buf.drain(..need);
                    return Some((payload, SystemTime::now()));
                }
            }
            if !self.fill() {
                self.ended = true;
                return None;
            }
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
