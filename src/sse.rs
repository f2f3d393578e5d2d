//! A server-sent events parser (the WHATWG event-stream format): bytes in, events out.
//!
//! Upstream bytes arrive in arbitrary pieces; lines may end in LF, CRLF or CR, a line may be
//! split across reads, `data:` may repeat within one event, comments start with `:`, and the
//! bytes may not be valid UTF-8 (replaced, never fatal). Pure: no I/O.

use std::borrow::Cow;

/// One dispatched item: an event, or a comment line (kept so the relay can pass it on).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Event {
    /// The `event:` name: borrowed for the names the proxy writes (its protocols' event
    /// types are constants, so a translated event allocates no name), owned when parsed.
    pub event: Option<Cow<'static, str>>,
    pub data: String,
    pub id: Option<String>,
    /// Set instead of the fields above for a `:` comment line.
    pub comment: Option<String>,
}

impl Event {
    /// The event serialized for the client: `event:` and `id:` when present, one `data:`
    /// line per data line, then a blank line.
    pub fn to_wire(&self) -> String {
        if let Some(c) = &self.comment {
            return format!(":{c}\n\n");
        }
        let mut out = String::with_capacity(self.data.len() + 32);
        if let Some(e) = &self.event {
            out.push_str("event: ");
            out.push_str(e);
            out.push('\n');
        }
        if let Some(id) = &self.id {
            out.push_str("id: ");
            out.push_str(id);
            out.push('\n');
        }
        for line in self.data.split('\n') {
            out.push_str("data: ");
            out.push_str(line);
            out.push('\n');
        }
        out.push('\n');
        out
    }
}

#[derive(Debug, Default)]
pub struct Parser {
    /// Bytes of an unfinished line.
    partial: Vec<u8>,
    /// The previous chunk ended in CR: an LF at the start of the next one belongs to it.
    after_cr: bool,
    /// The event being read. `feed_with` hands it out by reference when it is complete and
    /// then empties it, keeping its strings' buffers: an event costs no allocation.
    current: Event,
    /// A `data:` line was seen (an event with an empty payload is still dispatched).
    has_data: bool,
    /// The buffers of the last event's name and id, for the next one.
    spare_name: String,
    spare_id: String,
}

/// What one line did.
enum Line<'a> {
    /// A field was read, or the line is ignored.
    Field,
    /// A blank line: the event is complete (if it has data).
    Dispatch,
    /// A `:` comment line, with its text.
    Comment(&'a str),
}

impl Parser {
    /// Feeds bytes; returns every event completed by them.
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<Event> {
        let mut out = Vec::new();
        self.feed_with(bytes, |event| {
            out.push(event.clone());
            true
        });
        out
    }

    /// Feeds bytes, handing each event they complete to `emit` as it is found (the relay's
    /// path: no event is copied or allocated). `emit` returns false to stop: the rest of
    /// the bytes are then dropped, and `feed_with` returns false.
    pub fn feed_with(&mut self, mut bytes: &[u8], mut emit: impl FnMut(&Event) -> bool) -> bool {
        if self.after_cr && bytes.first() == Some(&b'\n') {
            bytes = &bytes[1..];
        }
        self.after_cr = false;
        let lf_only = !bytes.contains(&b'\r');
        loop {
            if lf_only && self.partial.is_empty() {
                // The common case, whole LF-terminated lines of UTF-8: validated once and
                // split at memchr speed (`bytes::find`), never copied. What is left (a partial
                // line, bytes that are not UTF-8) takes the general path below.
                let text = match std::str::from_utf8(bytes) {
                    Ok(text) => text,
                    Err(e) => std::str::from_utf8(&bytes[..e.valid_up_to()]).unwrap_or_default(),
                };
                let mut rest = text;
                while let Some(pos) = crate::bytes::find(rest.as_bytes(), b'\n') {
                    let line = &rest[..pos];
                    rest = &rest[pos + 1..];
                    if !self.take_line(line, &mut emit) {
                        return false;
                    }
                }
                bytes = &bytes[text.len() - rest.len()..];
            }
            let Some(pos) = bytes.iter().position(|b| *b == b'\n' || *b == b'\r') else {
                break;
            };
            let go_on = if self.partial.is_empty() {
                self.raw_line(&bytes[..pos], &mut emit)
            } else {
                self.partial.extend_from_slice(&bytes[..pos]);
                let line = std::mem::take(&mut self.partial);
                let go_on = self.raw_line(&line, &mut emit);
                // The line's buffer serves the next partial line.
                self.partial = line;
                self.partial.clear();
                go_on
            };
            if !go_on {
                return false;
            }
            let crlf = bytes[pos] == b'\r';
            bytes = &bytes[pos + 1..];
            if crlf {
                if bytes.first() == Some(&b'\n') {
                    bytes = &bytes[1..];
                } else if bytes.is_empty() {
                    self.after_cr = true;
                }
            }
        }
        self.partial.extend_from_slice(bytes);
        true
    }

    /// The end of the upstream body: an event still open is dispatched only if the stream
    /// ended right after a complete line (the spec drops an unterminated event; we keep
    /// what a line-complete upstream sent, e.g. `data: [DONE]\n` without the blank line).
    pub fn finish(&mut self) -> Option<Event> {
        let rest = std::mem::take(&mut self.partial);
        let mut found = None;
        if !rest.is_empty() {
            self.raw_line(&rest, &mut |event: &Event| {
                found = Some(event.clone());
                false
            });
            if found.is_some() {
                return found;
            }
        }
        self.dispatch(|event| {
            found = Some(event.clone());
            true
        });
        found
    }

    /// A line as it came: validation alone is several times cheaper than the lossy
    /// decoder, which is only needed for the rare line that is not UTF-8.
    fn raw_line(&mut self, raw: &[u8], emit: &mut impl FnMut(&Event) -> bool) -> bool {
        match std::str::from_utf8(raw) {
            Ok(line) => self.take_line(line, emit),
            Err(_) => self.take_line(&String::from_utf8_lossy(raw), emit),
        }
    }

    /// Reads one line, emitting what it completes; false if `emit` said stop.
    fn take_line(&mut self, line: &str, emit: &mut impl FnMut(&Event) -> bool) -> bool {
        match self.text_line(line) {
            Line::Field => true,
            Line::Dispatch => self.dispatch(emit),
            Line::Comment(text) => emit(&Event {
                comment: Some(text.to_string()),
                ..Event::default()
            }),
        }
    }

    fn text_line<'a>(&mut self, line: &'a str) -> Line<'a> {
        if line.is_empty() {
            return Line::Dispatch;
        }
        if let Some(comment) = line.strip_prefix(':') {
            return Line::Comment(comment);
        }
        // `data:` and `event:` lines are nearly all there is: their field is known from the
        // prefix (the text up to the first colon) without searching for the colon.
        let (field, value) = if let Some(v) = line.strip_prefix("data:") {
            ("data", v)
        } else if let Some(v) = line.strip_prefix("event:") {
            ("event", v)
        } else {
            line.split_once(':').unwrap_or((line, ""))
        };
        let value = value.strip_prefix(' ').unwrap_or(value);
        match field {
            "data" => {
                if self.has_data {
                    self.current.data.push('\n');
                }
                self.current.data.push_str(value);
                self.has_data = true;
            }
            "event" => set_name(&mut self.current.event, &mut self.spare_name, value),
            "id" if !value.contains('\0') => set(&mut self.current.id, &mut self.spare_id, value),
            _ => {} // `retry` and unknown fields are ignored, as the spec says.
        }
        Line::Field
    }

    /// Ends the event being read: emits it if it has data, and empties it either way
    /// (keeping its buffers).
    fn dispatch(&mut self, mut emit: impl FnMut(&Event) -> bool) -> bool {
        let go_on = !self.has_data || emit(&self.current);
        self.has_data = false;
        self.current.data.clear();
        if let Some(Cow::Owned(name)) = self.current.event.take() {
            self.spare_name = name;
        }
        if let Some(id) = self.current.id.take() {
            self.spare_id = id;
        }
        go_on
    }
}

/// Sets the event's name to `value`, in the buffer of the name already set or else the
/// spare one.
fn set_name(field: &mut Option<Cow<'static, str>>, spare: &mut String, value: &str) {
    let mut text = match field.take() {
        Some(Cow::Owned(text)) => text,
        _ => std::mem::take(spare),
    };
    text.clear();
    text.push_str(value);
    *field = Some(Cow::Owned(text));
}

/// Sets a field to `value`, in the spare buffer when the field is not set yet.
fn set(field: &mut Option<String>, spare: &mut String, value: &str) {
    let text = field.get_or_insert_with(|| std::mem::take(spare));
    text.clear();
    text.push_str(value);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(events: &[Event]) -> Vec<&str> {
        events
            .iter()
            .filter(|e| e.comment.is_none())
            .map(|e| e.data.as_str())
            .collect()
    }

    #[test]
    fn splits_anywhere_give_the_same_events() {
        let input = b"data: {\"a\":1}\r\n\r\n: keep\n\nevent: x\ndata: l1\ndata: l2\nid: 7\n\ndata: [DONE]\n\n";
        let whole = Parser::default().feed(input);
        assert_eq!(data(&whole), ["{\"a\":1}", "l1\nl2", "[DONE]"]);
        assert_eq!(whole[1].comment.as_deref(), Some(" keep"));
        assert_eq!(
            (whole[2].event.as_deref(), whole[2].id.as_deref()),
            (Some("x"), Some("7"))
        );
        for cut in 1..input.len() {
            let mut p = Parser::default();
            let mut got = p.feed(&input[..cut]);
            got.extend(p.feed(&input[cut..]));
            assert_eq!(got, whole, "cut at {cut}");
        }
        let mut p = Parser::default();
        let bytewise: Vec<Event> = input.iter().flat_map(|b| p.feed(&[*b])).collect();
        assert_eq!(bytewise, whole);
    }

    #[test]
    fn lf_only_input_split_anywhere_even_inside_a_character() {
        let input =
            "data: {\"a\":\"\u{e9}t\u{e9} \u{1F600}\"}\n\n: c\n\nevent: x\ndata: 1\ndata: 2\n\n";
        let input = input.as_bytes();
        let whole = Parser::default().feed(input);
        assert_eq!(
            data(&whole),
            ["{\"a\":\"\u{e9}t\u{e9} \u{1F600}\"}", "1\n2"]
        );
        for cut in 1..input.len() {
            let mut p = Parser::default();
            let mut got = p.feed(&input[..cut]);
            got.extend(p.feed(&input[cut..]));
            assert_eq!(got, whole, "cut at {cut}");
        }
        let events = Parser::default().feed(b"data: a\n\ndata: b\xffc\n\ndata: d\n\n");
        assert_eq!(data(&events), ["a", "b\u{fffd}c", "d"]);
    }

    #[test]
    fn cr_only_lines_and_no_space_after_colon() {
        let events = Parser::default().feed(b"data:a\r\rdata:b\r\r");
        assert_eq!(data(&events), ["a", "b"]);
    }

    #[test]
    fn invalid_utf8_is_replaced_not_fatal() {
        let events = Parser::default().feed(b"data: caf\xff\n\n");
        assert_eq!(events[0].data, "caf\u{fffd}");
    }

    #[test]
    fn events_without_data_are_not_dispatched_and_finish_flushes() {
        let mut p = Parser::default();
        assert!(p.feed(b"event: ping\n\n").is_empty());
        assert!(p.feed(b"data: [DONE]").is_empty());
        assert_eq!(p.finish().unwrap().data, "[DONE]");
        assert!(p.finish().is_none());
    }

    #[test]
    fn wire_form_round_trips() {
        let e = Event {
            event: Some("message_start".into()),
            data: "a\nb".into(),
            id: None,
            comment: None,
        };
        assert_eq!(e.to_wire(), "event: message_start\ndata: a\ndata: b\n\n");
        assert_eq!(Parser::default().feed(e.to_wire().as_bytes()), vec![e]);
    }
}
