//! Request heads, pure: where a head ends in the bytes read so far, and what it says
//! (request line, headers, body framing, keep-alive). Bounded by construction: a head over
//! `MAX_HEAD_BYTES` or with more than `MAX_HEADERS` fields is refused before it is parsed,
//! so a header flood costs at most that much memory.

/// The largest request head accepted (request line and all headers).
pub const MAX_HEAD_BYTES: usize = 64 * 1024;
/// The most header fields accepted.
pub const MAX_HEADERS: usize = 128;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    Http10,
    Http11,
}

/// A parsed request head. Header names are lower case; values are trimmed.
#[derive(Debug, Clone)]
pub struct Head {
    pub method: String,
    /// The request target as sent (`/v1/messages?beta=true`).
    pub target: String,
    pub version: Version,
    pub headers: Vec<(String, String)>,
}

/// How the body that follows the head is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// `Content-Length: n` (0 when the head declares no body).
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
}

/// Why a head was refused; each maps to one status in the answer before the close.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeadError {
    /// Over `MAX_HEAD_BYTES` or `MAX_HEADERS` (431).
    TooLarge,
    /// Not `METHOD TARGET HTTP/1.x` (400).
    BadRequestLine,
    /// A header line without a name, with a bad name, folded, or not UTF-8 (400).
    BadHeader,
    /// An HTTP version other than 1.0 and 1.1 (505).
    BadVersion,
    /// Conflicting or invalid `Content-Length` / `Transfer-Encoding` (400).
    BadFraming,
}

impl HeadError {
    pub fn status(&self) -> u16 {
        match self {
            HeadError::TooLarge => 431,
            HeadError::BadVersion => 505,
            HeadError::BadRequestLine | HeadError::BadHeader | HeadError::BadFraming => 400,
        }
    }

    pub fn message(&self) -> &'static str {
        match self {
            HeadError::TooLarge => "request head too large",
            HeadError::BadRequestLine => "malformed request line",
            HeadError::BadHeader => "malformed header line",
            HeadError::BadVersion => "unsupported HTTP version",
            HeadError::BadFraming => "invalid Content-Length or Transfer-Encoding",
        }
    }
}

/// Empty lines a client may send before a request line (RFC 9112 §2.2).
pub fn skip_blank_lines(buf: &[u8]) -> usize {
    let mut i = 0;
    while i < buf.len() && (buf[i] == b'\r' || buf[i] == b'\n') {
        i += 1;
    }
    i
}

/// The length of the head at the start of `buf` (through the blank line), once complete.
/// Bare LF line ends are accepted, as most servers do. `buf` starts at the request line
/// (after `skip_blank_lines`).
#[cfg(test)]
pub fn head_end(buf: &[u8]) -> Option<usize> {
    head_end_from(buf, 0)
}

/// `head_end`, resuming at `from`, a line start known to lie before the end (so bytes that
/// arrive one at a time are scanned once, not once per arrival).
pub fn head_end_from(buf: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    while let Some(nl) = buf[i..].iter().position(|b| *b == b'\n') {
        let at = i + nl;
        // The line that just ended is empty (`\n` or `\r\n`).
        let line_start = i;
        if at > 0 && (at == line_start || (at == line_start + 1 && buf[line_start] == b'\r')) {
            return Some(at + 1);
        }
        i = at + 1;
    }
    None
}

/// Where `head_end_from` may resume once more bytes arrive: the start of the last line.
pub fn resume_at(buf: &[u8]) -> usize {
    buf.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1)
}

/// Parses a complete head (as delimited by `head_end`).
pub fn parse(head: &[u8]) -> Result<Head, HeadError> {
    if head.len() > MAX_HEAD_BYTES {
        return Err(HeadError::TooLarge);
    }
    let mut lines = head
        .split(|b| *b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l));
    let request_line = lines.next().ok_or(HeadError::BadRequestLine)?;
    let request_line = std::str::from_utf8(request_line).map_err(|_| HeadError::BadRequestLine)?;
    let mut parts = request_line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(HeadError::BadRequestLine);
    };
    if method.is_empty() || !method.bytes().all(is_token) {
        return Err(HeadError::BadRequestLine);
    }
    if target.is_empty() || target.bytes().any(|b| b.is_ascii_control() || b == b' ') {
        return Err(HeadError::BadRequestLine);
    }
    let version = match version {
        "HTTP/1.1" => Version::Http11,
        "HTTP/1.0" => Version::Http10,
        v if v.starts_with("HTTP/") => return Err(HeadError::BadVersion),
        _ => return Err(HeadError::BadRequestLine),
    };
    let mut headers = Vec::new();
    for line in lines {
        if line.is_empty() {
            break;
        }
        if headers.len() == MAX_HEADERS {
            return Err(HeadError::TooLarge);
        }
        // Obsolete line folding is refused (RFC 9112 §5.2), as is whitespace before ':'.
        let colon = line
            .iter()
            .position(|b| *b == b':')
            .ok_or(HeadError::BadHeader)?;
        let (name, value) = (&line[..colon], &line[colon + 1..]);
        if name.is_empty() || !name.iter().copied().all(is_token) {
            return Err(HeadError::BadHeader);
        }
        let value = std::str::from_utf8(value).map_err(|_| HeadError::BadHeader)?;
        if value.bytes().any(|b| b.is_ascii_control() && b != b'\t') {
            return Err(HeadError::BadHeader);
        }
        let name = String::from_utf8_lossy(name).to_ascii_lowercase();
        headers.push((name, value.trim().to_string()));
    }
    let head = Head {
        method: method.to_string(),
        target: target.to_string(),
        version,
        headers,
    };
    head.framing()?;
    Ok(head)
}

/// RFC 9110 `tchar`.
fn is_token(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

impl Head {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body's framing. Both `Transfer-Encoding` and `Content-Length`, a coding other
    /// than `chunked`, or differing lengths are refused: each is a request-smuggling
    /// vector behind another proxy.
    pub fn framing(&self) -> Result<Framing, HeadError> {
        let te: Vec<&str> = self
            .headers
            .iter()
            .filter(|(n, _)| n == "transfer-encoding")
            .map(|(_, v)| v.as_str())
            .collect();
        let lengths: Vec<&str> = self
            .headers
            .iter()
            .filter(|(n, _)| n == "content-length")
            .flat_map(|(_, v)| v.split(','))
            .map(str::trim)
            .collect();
        if !te.is_empty() {
            let chunked = te.len() == 1 && te[0].eq_ignore_ascii_case("chunked");
            if !chunked || !lengths.is_empty() || self.version == Version::Http10 {
                return Err(HeadError::BadFraming);
            }
            return Ok(Framing::Chunked);
        }
        let Some(first) = lengths.first() else {
            return Ok(Framing::Length(0));
        };
        if lengths.iter().any(|l| l != first)
            || first.is_empty()
            || first.len() > 19
            || !first.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(HeadError::BadFraming);
        }
        first
            .parse()
            .map(Framing::Length)
            .map_err(|_| HeadError::BadFraming)
    }

    /// Whether the client wants the connection kept open after this exchange.
    pub fn keep_alive(&self) -> bool {
        let says = |word: &str| {
            self.headers
                .iter()
                .filter(|(n, _)| n == "connection")
                .flat_map(|(_, v)| v.split(','))
                .any(|t| t.trim().eq_ignore_ascii_case(word))
        };
        match self.version {
            Version::Http11 => !says("close"),
            Version::Http10 => says("keep-alive"),
        }
    }

    /// `Expect: 100-continue`: the client waits for a go-ahead before sending the body.
    pub fn expects_continue(&self) -> bool {
        self.version == Version::Http11
            && self
                .header("expect")
                .is_some_and(|v| v.eq_ignore_ascii_case("100-continue"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(raw: &str) -> Result<Head, HeadError> {
        let end = head_end(raw.as_bytes()).expect("complete head");
        parse(&raw.as_bytes()[..end])
    }

    #[test]
    fn finds_the_end_of_a_head() {
        assert_eq!(head_end(b"GET / HTTP/1.1\r\nA: b\r\n\r\nbody"), Some(24));
        assert_eq!(head_end(b"GET / HTTP/1.1\nA: b\n\nbody"), Some(21));
        assert_eq!(head_end(b"GET / HTTP/1.1\r\nA: b\r\n"), None);
        assert_eq!(head_end(b""), None);
        assert_eq!(skip_blank_lines(b"\r\n\r\nGET"), 4);
    }

    #[test]
    fn parses_request_line_headers_and_framing() {
        let h = parsed("POST /v1/messages?beta=true HTTP/1.1\r\nHost: x\r\nContent-Length: 12\r\nX-Api-Key:  k \r\n\r\n").unwrap();
        assert_eq!(h.method, "POST");
        assert_eq!(h.target, "/v1/messages?beta=true");
        assert_eq!(h.header("x-api-key"), Some("k"));
        assert_eq!(h.framing(), Ok(Framing::Length(12)));
        assert!(h.keep_alive() && !h.expects_continue());
        let h = parsed("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n").unwrap();
        assert_eq!(h.framing(), Ok(Framing::Chunked));
        assert!(!h.keep_alive() && h.expects_continue());
        let h = parsed("GET / HTTP/1.0\r\n\r\n").unwrap();
        assert!(!h.keep_alive());
        assert_eq!(h.framing(), Ok(Framing::Length(0)));
    }

    #[test]
    fn refuses_what_it_cannot_frame_or_read() {
        let cases = [
            ("GET /\r\n\r\n", HeadError::BadRequestLine),
            ("GET  / HTTP/1.1\r\n\r\n", HeadError::BadRequestLine),
            ("G(T / HTTP/1.1\r\n\r\n", HeadError::BadRequestLine),
            ("GET / HTTP/2.0\r\n\r\n", HeadError::BadVersion),
            ("GET / HTTP/1.1\r\nNo colon\r\n\r\n", HeadError::BadHeader),
            (
                "GET / HTTP/1.1\r\nA: b\r\n folded\r\n\r\n",
                HeadError::BadHeader,
            ),
            ("GET / HTTP/1.1\r\nA b: c\r\n\r\n", HeadError::BadHeader),
            ("GET / HTTP/1.1\r\nA: \u{1}\r\n\r\n", HeadError::BadHeader),
            (
                "POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
                HeadError::BadFraming,
            ),
            (
                "POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
                HeadError::BadFraming,
            ),
            (
                "POST / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n",
                HeadError::BadFraming,
            ),
            (
                "POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n",
                HeadError::BadFraming,
            ),
            (
                "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
                HeadError::BadFraming,
            ),
        ];
        for (raw, want) in cases {
            assert_eq!(parsed(raw).unwrap_err(), want, "{raw:?}");
        }
        let flood: String = (0..=MAX_HEADERS).map(|i| format!("H{i}: v\r\n")).collect();
        assert_eq!(
            parsed(&format!("GET / HTTP/1.1\r\n{flood}\r\n")).unwrap_err(),
            HeadError::TooLarge
        );
        assert_eq!(
            parse(&vec![b'a'; MAX_HEAD_BYTES + 1]).unwrap_err(),
            HeadError::TooLarge
        );
        // Same length twice is fine.
        assert!(parsed("POST / HTTP/1.1\r\nContent-Length: 2, 2\r\n\r\n").is_ok());
        // Invalid UTF-8 in a value.
        let mut raw = b"GET / HTTP/1.1\r\nA: ".to_vec();
        raw.extend_from_slice(&[0xff, 0xfe]);
        raw.extend_from_slice(b"\r\n\r\n");
        assert_eq!(parse(&raw).unwrap_err(), HeadError::BadHeader);
    }
}
