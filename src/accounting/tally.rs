//! What one request's upstream answers reported: tokens, AI credits and the moment the
//! first token arrived. Filled from a non-stream body (`observe_body`) or, for a stream,
//! by `Tap`, which watches the upstream bytes on their way to the relay, so every route
//! and translation is covered by one reader and no relay needs to know about accounting.
//!
//! Usage can sit in several places, and all are read: a Chat chunk's `usage` (inline on
//! the finish chunk or in a separate `choices: []` chunk), Anthropic's `message_start`
//! (`message.usage`) and `message_delta` (`usage`), and the Responses `response.completed`
//! (`response.usage`, plus `copilot_usage` at the top level or inside `response`).

use serde::Deserialize;
use serde_json::Value;
use std::io::Read;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Tokens and credits of one or more answers. `input` counts every prompt token, cached
/// ones included (Anthropic reports cache reads and writes apart; they are added in).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Counts {
    pub input: u64,
    pub output: u64,
    pub cached: u64,
    /// `copilot_usage.total_nano_aiu`; 10^9 nano-AIU are one AI credit.
    pub nano_aiu: Option<u64>,
}

impl Counts {
    fn add(&mut self, other: &Counts) {
        self.input += other.input;
        self.output += other.output;
        self.cached += other.cached;
        self.nano_aiu = match (self.nano_aiu, other.nano_aiu) {
            (None, None) => None,
            (a, b) => Some(a.unwrap_or(0) + b.unwrap_or(0)),
        };
    }
}

/// One request's accounting while it runs. Shared by the route (which may send again,
/// e.g. after an empty answer) and the stream's reader.
#[derive(Debug)]
pub struct Tally {
    /// The Copilot endpoint the first call went to (`/chat/completions`, ...).
    pub upstream: &'static str,
    /// Whether the first call was a user turn (the one that costs a premium request).
    pub user_turn: bool,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// Answers already finished (earlier attempts of this request).
    done: Counts,
    /// The answer being read; its usage fields replace each other as they arrive.
    current: Counts,
    first_token: Option<Instant>,
}

impl Tally {
    pub fn new(upstream: &'static str, user_turn: bool) -> Arc<Tally> {
        Arc::new(Tally {
            upstream,
            user_turn,
            state: Mutex::new(State::default()),
        })
    }

    /// Another answer for the same request begins (the route sent again).
    pub fn next_answer(&self) {
        let mut s = self.lock();
        let current = std::mem::take(&mut s.current);
        s.done.add(&current);
    }

    pub fn counts(&self) -> Counts {
        let s = self.lock();
        let mut total = s.done;
        total.add(&s.current);
        total
    }

    pub fn first_token(&self) -> Option<Instant> {
        self.lock().first_token
    }

    /// A complete JSON answer (non-stream).
    pub fn observe_body(&self, body: &[u8]) {
        if let Ok(peek) = serde_json::from_slice::<Peek>(body) {
            self.merge(&peek);
        }
    }

    /// One SSE `data:` payload of a stream.
    fn observe_event(&self, data: &str, waiting_for_token: bool) -> bool {
        let usage = mentions_usage_object(data);
        if !usage && !waiting_for_token {
            return false;
        }
        let Ok(v) = serde_json::from_str::<Value>(data) else {
            return false;
        };
        if usage {
            if let Ok(peek) = Peek::deserialize(&v) {
                self.merge(&peek);
            }
        }
        if waiting_for_token && carries_output(&v) {
            self.lock().first_token = Some(Instant::now());
            return true;
        }
        false
    }

    fn merge(&self, peek: &Peek) {
        let mut s = self.lock();
        for level in [
            Some(&peek.top),
            peek.message.as_ref(),
            peek.response.as_ref(),
        ] {
            let Some(level) = level else { continue };
            if let Some(u) = &level.usage {
                merge_usage(&mut s.current, u);
            }
            if let Some(n) = level.copilot_usage.as_ref().and_then(nano_aiu) {
                s.current.nano_aiu = Some(n);
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The fields read from an answer or event; everything else is skipped unparsed.
#[derive(Deserialize)]
struct Peek {
    #[serde(flatten)]
    top: Level,
    message: Option<Level>,
    response: Option<Level>,
}

#[derive(Deserialize, Default)]
struct Level {
    usage: Option<Value>,
    copilot_usage: Option<Value>,
}

fn nano_aiu(v: &Value) -> Option<u64> {
    let n = v.get("total_nano_aiu")?;
    n.as_u64()
        .or_else(|| n.as_f64().map(|f| f.max(0.0).round() as u64))
}

/// Reads a `usage` object in any of the three APIs' spellings into `c`; a field present
/// replaces the earlier value (Anthropic sends input in `message_start`, output later).
pub fn merge_usage(c: &mut Counts, u: &Value) {
    let num = |k: &str| u.get(k).and_then(Value::as_u64);
    let cache_read = num("cache_read_input_tokens");
    let cache_write = num("cache_creation_input_tokens");
    if let Some(n) = num("prompt_tokens") {
        c.input = n;
    } else if let Some(n) = num("input_tokens") {
        // Anthropic's input_tokens exclude the cache; Responses' include it.
        c.input = n + cache_read.unwrap_or(0) + cache_write.unwrap_or(0);
    }
    if let Some(n) = num("completion_tokens").or(num("output_tokens")) {
        c.output = n;
    }
    let details = u
        .pointer("/prompt_tokens_details/cached_tokens")
        .or_else(|| u.pointer("/input_tokens_details/cached_tokens"))
        .and_then(Value::as_u64);
    if let Some(n) = details.or(cache_read) {
        c.cached = n;
    }
}

/// Whether `usage"` (or `copilot_usage"`) is followed by an object, not `null`: cheap
/// enough to run on every event, so only the few that carry usage are parsed.
fn mentions_usage_object(data: &str) -> bool {
    data.match_indices("usage\"").any(|(i, m)| {
        let rest = data[i + m.len()..].trim_start();
        rest.strip_prefix(':')
            .is_some_and(|r| r.trim_start().starts_with('{'))
    })
}

/// Where `usage"` first occurs in `bytes`: found through its `g`, a byte rare in stream
/// events' JSON.
fn find_usage(bytes: &[u8]) -> Option<usize> {
    crate::bytes::find_str(bytes, b"usage\"", 3)
}

/// Whether an event carries generated output: a Chat delta with content, reasoning or a
/// tool call, an Anthropic `content_block_delta`, or a Responses `*.delta` event.
fn carries_output(v: &Value) -> bool {
    if let Some(kind) = v.get("type").and_then(Value::as_str) {
        return kind == "content_block_delta" || kind.ends_with(".delta");
    }
    let Some(choices) = v.get("choices").and_then(Value::as_array) else {
        return false;
    };
    choices.iter().filter_map(|c| c.get("delta")).any(|d| {
        let text = |k: &str| {
            d.get(k)
                .and_then(Value::as_str)
                .is_some_and(|s| !s.is_empty())
        };
        text("content")
            || text("reasoning_text")
            || text("reasoning_content")
            || d.get("tool_calls").is_some_and(|t| !t.is_null())
    })
}

/// The upstream body of a stream, with each complete `data:` line shown to the tally.
/// Bytes pass through unchanged and in the same reads.
pub struct Tap<R> {
    inner: R,
    tally: Arc<Tally>,
    /// The unfinished last line of the previous read.
    partial: Vec<u8>,
    waiting_for_token: bool,
}

/// A line longer than this is not buffered whole for accounting (it is relayed all the
/// same): no usage event comes near it, and the buffer stays bounded.
const MAX_LINE: usize = 1 << 20;

impl<R> Tap<R> {
    pub fn new(inner: R, tally: Arc<Tally>) -> Tap<R> {
        Tap {
            inner,
            tally,
            partial: Vec::new(),
            waiting_for_token: true,
        }
    }

    fn line(&mut self, line: &str) {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if let Some(data) = line.strip_prefix("data:") {
            if self
                .tally
                .observe_event(data.trim_start(), self.waiting_for_token)
            {
                self.waiting_for_token = false;
            }
        }
    }

    /// Reads the complete lines among `bytes`. Until the first token every `data:` line
    /// is looked at; after it, only a line that mentions usage can matter, so the read is
    /// searched for `usage"` at memchr speed and only the lines holding it are read (most
    /// reads hold none: splitting every line cost more than the rest of the tap).
    fn scan(&mut self, bytes: &[u8]) {
        let mut rest = bytes;
        if !self.partial.is_empty() {
            let Some(nl) = rest.iter().position(|b| *b == b'\n') else {
                self.keep(rest);
                return;
            };
            let mut line = std::mem::take(&mut self.partial);
            line.extend_from_slice(&rest[..nl]);
            if let Ok(line) = std::str::from_utf8(&line) {
                self.line(line);
            }
            rest = &rest[nl + 1..];
        }
        if self.waiting_for_token {
            return self.scan_lines(rest);
        }
        let Some(last) = rest.iter().rposition(|b| *b == b'\n') else {
            self.keep(rest);
            return;
        };
        let (lines, tail) = rest.split_at(last + 1);
        let mut from = 0;
        while let Some(at) = find_usage(&lines[from..]) {
            let at = from + at;
            let start = lines[..at]
                .iter()
                .rposition(|b| *b == b'\n')
                .map_or(0, |nl| nl + 1);
            // `lines` ends with a newline, so the line holding `at` ends before it does.
            let end = lines[at..]
                .iter()
                .position(|b| *b == b'\n')
                .map_or(lines.len(), |nl| at + nl);
            if let Ok(line) = std::str::from_utf8(&lines[start..end]) {
                self.line(line);
            }
            from = (end + 1).min(lines.len());
        }
        self.keep(tail);
    }

    /// Splits the bytes into lines and reads each. The search runs over text, whose
    /// newline search is memchr-fast; a character cut by the read boundary waits in
    /// `partial` with its line.
    fn scan_lines(&mut self, rest: &[u8]) {
        let (mut text, tail) = match std::str::from_utf8(rest) {
            Ok(text) => (text, &rest[rest.len()..]),
            Err(e) => {
                let (valid, tail) = rest.split_at(e.valid_up_to());
                (std::str::from_utf8(valid).unwrap_or_default(), tail)
            }
        };
        while let Some(nl) = text.find('\n') {
            self.line(&text[..nl]);
            text = &text[nl + 1..];
            if !self.waiting_for_token {
                // The first token is in: the rest of the read takes the fast path.
                let done = rest.len() - tail.len() - text.len();
                return self.scan(&rest[done..]);
            }
        }
        self.keep(text.as_bytes());
        // Bytes that are not UTF-8 in mid-read: skip to the next line after them.
        match tail.iter().rposition(|b| *b == b'\n') {
            Some(nl) => {
                self.partial.clear();
                self.keep(&tail[nl + 1..]);
            }
            None => self.keep(tail),
        }
    }

    /// Holds the start of an unfinished line, up to `MAX_LINE`.
    fn keep(&mut self, bytes: &[u8]) {
        if self.partial.len() + bytes.len() <= MAX_LINE {
            self.partial.extend_from_slice(bytes);
        } else {
            self.partial.clear();
        }
    }
}

impl<R: Read> Read for Tap<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 && !self.partial.is_empty() {
            let last = std::mem::take(&mut self.partial);
            if let Ok(last) = std::str::from_utf8(&last) {
                self.line(last);
            }
        }
        self.scan(&buf[..n]);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_through(tally: &Arc<Tally>, stream: &str, piece: usize) {
        let mut tap = Tap::new(stream.as_bytes(), tally.clone());
        let mut buf = vec![0u8; piece];
        let mut seen = Vec::new();
        loop {
            let n = tap.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            seen.extend_from_slice(&buf[..n]);
        }
        assert_eq!(seen, stream.as_bytes(), "bytes pass through unchanged");
    }

    #[test]
    fn chat_stream_with_usage_in_a_separate_chunk_split_anywhere() {
        let stream = "data: {\"choices\":[{\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}],\"usage\":null}\n\n\
            data: {\"choices\":[{\"delta\":{\"content\":\"Hé € 🎉\"}}]}\n\n\
            data: {\"choices\":[{\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n\
            data: {\"choices\":[],\"usage\":{\"prompt_tokens\":120,\"completion_tokens\":7,\"prompt_tokens_details\":{\"cached_tokens\":100}}}\n\n\
            data: [DONE]\n\n";
        for piece in [1, 7, 64, 4096] {
            let tally = Tally::new("/chat/completions", true);
            read_through(&tally, stream, piece);
            let c = tally.counts();
            assert_eq!(
                (c.input, c.output, c.cached, c.nano_aiu),
                (120, 7, 100, None)
            );
            assert!(tally.first_token().is_some());
        }
    }

    #[test]
    fn anthropic_stream_input_from_start_output_from_delta() {
        let stream = "event: message_start\r\ndata: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":10,\"cache_read_input_tokens\":90,\"output_tokens\":1}}}\r\n\r\n\
            event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"delta\":{\"text\":\"x\"}}\n\n\
            event: message_delta\ndata: {\"type\":\"message_delta\",\"usage\":{\"output_tokens\":42}}\n\n";
        let tally = Tally::new("/v1/messages", false);
        read_through(&tally, stream, 33);
        let c = tally.counts();
        assert_eq!((c.input, c.output, c.cached), (100, 42, 90));
    }

    #[test]
    fn responses_completed_with_copilot_usage_at_either_level() {
        for copilot in [
            r#""copilot_usage":{"total_nano_aiu":2500000000},"response":{"usage":{"input_tokens":50,"input_tokens_details":{"cached_tokens":20},"output_tokens":9}}"#,
            r#""response":{"copilot_usage":{"total_nano_aiu":2500000000},"usage":{"input_tokens":50,"input_tokens_details":{"cached_tokens":20},"output_tokens":9}}"#,
        ] {
            let stream = format!(
                "event: response.output_text.delta\ndata: {{\"type\":\"response.output_text.delta\",\"delta\":\"a\"}}\n\n\
                 event: response.completed\ndata: {{\"type\":\"response.completed\",{copilot}}}\n\n"
            );
            let tally = Tally::new("/responses", true);
            read_through(&tally, &stream, 10);
            let c = tally.counts();
            assert_eq!(
                (c.input, c.output, c.cached, c.nano_aiu),
                (50, 9, 20, Some(2_500_000_000))
            );
        }
    }

    #[test]
    fn non_stream_bodies_and_repeated_answers_add_up() {
        let tally = Tally::new("/chat/completions", true);
        tally.observe_body(br#"{"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":0}}"#);
        tally.next_answer();
        tally.observe_body(br#"{"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":4}}"#);
        let c = tally.counts();
        assert_eq!((c.input, c.output), (6, 4));
        assert!(tally.first_token().is_none());
    }

    #[test]
    fn usage_after_the_first_token_is_read_wherever_the_reads_cut() {
        let stream = "data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\n\
            data: {\"choices\":[{\"delta\":{\"content\":\"usage\\\" g\"}}],\"usage\":null}\n\n\
            : keepalive\r\n\r\n\
            data: {\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":2}}\r\n\r\n\
            data: {\"choices\":[],\"usage\":{\"prompt_tokens\":6,\"completion_tokens\":3}}\n\n\
            data: [DONE]\n\n";
        for piece in 1..=stream.len() {
            let tally = Tally::new("/chat/completions", true);
            read_through(&tally, stream, piece);
            let c = tally.counts();
            assert_eq!((c.input, c.output), (6, 3), "reads of {piece}");
            assert!(tally.first_token().is_some());
        }
    }

    #[test]
    fn usage_mentions() {
        assert!(mentions_usage_object(r#"{"usage": {"a":1}}"#));
        assert!(!mentions_usage_object(r#"{"usage":null}"#));
        assert!(!mentions_usage_object(r#"{"content":"the usage is {x}"}"#));
        assert!(mentions_usage_object(
            r#"{"copilot_usage":{"total_nano_aiu":1}}"#
        ));
    }
}
