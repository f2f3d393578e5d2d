//! The one incremental lexer of JSON text the translators share: fed a value's text in
//! fragments (tool-call arguments as they stream), it tracks strings, escapes and open
//! containers without parsing, and can decode strings as they arrive. The stream
//! translators ask it when the outermost value has closed (`complete`) and for the text of
//! a freeform tool's `input` as it is written (`MemberText`); the repair of cut-off
//! arguments asks it what is still open and where the last member began.

/// Where the lexer is inside a string: the escape it is in the middle of, if any. Every
/// state survives the end of a fragment, so an escape split across fragments decodes as
/// if it had arrived whole.
#[derive(Default, Debug, Clone, Copy)]
enum Escape {
    #[default]
    None,
    /// After `\`.
    Backslash,
    /// After `\u` and `n` hex digits (`high` set for the second half of a surrogate pair).
    Hex {
        high: Option<u32>,
        digits: [u8; 4],
        n: usize,
    },
    /// A high surrogate decoded: its low half must follow as `\uDC00`-`\uDFFF`.
    Pair(u32),
    /// ... and the `\` of that low half came.
    PairBackslash(u32),
}

/// What `feed_with` reports about strings, besides tracking structure.
#[derive(Debug, PartialEq, Eq)]
pub enum Lexeme<'a> {
    /// A string opens inside `depth` containers; `key` when it names an object member.
    Open { depth: usize, key: bool },
    /// The next piece of the open string's decoded text.
    Text(&'a str),
    /// The open string closed.
    Close,
}

#[derive(Default, Debug)]
pub struct JsonScan {
    /// Bytes fed so far: the offsets below count from the start of the whole text.
    offset: usize,
    in_string: bool,
    escape: Escape,
    /// Byte offset of the backslash of the last escape inside the open string.
    escape_at: Option<usize>,
    /// The closers still owed, innermost last.
    closers: Vec<char>,
    /// The outermost object or array has closed at least once.
    closed: bool,
    /// The last `{`, `[` or `,` outside strings, and its offset.
    last_structural: Option<(usize, char)>,
    /// A `:` came after the last `{`, `[` or `,`: a string now is a member's value.
    after_colon: bool,
}

impl JsonScan {
    /// A scan of a whole text.
    pub fn of(text: &str) -> JsonScan {
        let mut scan = JsonScan::default();
        scan.feed(text);
        scan
    }

    pub fn feed(&mut self, fragment: &str) {
        self.feed_with(fragment, |_| {});
    }

    /// `feed`, reporting each string's opening, decoded text and closing to `on`.
    pub fn feed_with(&mut self, fragment: &str, mut on: impl FnMut(Lexeme<'_>)) {
        // Every character that matters is ASCII, so byte offsets are character boundaries.
        let bytes = fragment.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            let at = self.offset + i;
            if !self.in_string {
                self.structure(bytes[i], at, &mut on);
                i += 1;
            } else if matches!(self.escape, Escape::None) && !matches!(bytes[i], b'"' | b'\\') {
                // A run of plain text, passed on as one piece.
                let end = bytes[i..]
                    .iter()
                    .position(|b| matches!(b, b'"' | b'\\'))
                    .map_or(bytes.len(), |n| i + n);
                on(Lexeme::Text(&fragment[i..end]));
                i = end;
            } else {
                if self.string_byte(bytes[i], at, &mut on) {
                    i += 1;
                }
            }
        }
        self.offset += fragment.len();
    }

    /// A byte outside strings.
    fn structure(&mut self, b: u8, at: usize, on: &mut impl FnMut(Lexeme<'_>)) {
        match b {
            b'"' => {
                self.in_string = true;
                let key = self.closers.last() == Some(&'}') && !self.after_colon;
                on(Lexeme::Open {
                    depth: self.closers.len(),
                    key,
                });
            }
            b'{' => self.closers.push('}'),
            b'[' => self.closers.push(']'),
            b'}' | b']' if self.closers.pop().is_some() => {
                self.closed |= self.closers.is_empty();
            }
            b':' => self.after_colon = true,
            _ => {}
        }
        if matches!(b, b'{' | b'[' | b',') {
            self.last_structural = Some((at, b as char));
            self.after_colon = false;
        }
    }

    /// A quote, a backslash, or any byte of an escape inside a string. Returns false when
    /// the byte must be looked at again in the state it left (an escape that turned out
    /// invalid ends before it).
    fn string_byte(&mut self, b: u8, at: usize, on: &mut impl FnMut(Lexeme<'_>)) -> bool {
        match self.escape {
            Escape::None if b == b'"' => {
                self.in_string = false;
                self.escape_at = None;
                on(Lexeme::Close);
            }
            // Plain text never comes here: it is passed on in runs.
            Escape::None => {
                self.escape = Escape::Backslash;
                self.escape_at = Some(at);
            }
            Escape::Backslash => {
                self.escape = Escape::None;
                let simple = match b {
                    b'u' => {
                        self.escape = Escape::Hex {
                            high: None,
                            digits: [0; 4],
                            n: 0,
                        };
                        return true;
                    }
                    b'n' => '\n',
                    b't' => '\t',
                    b'r' => '\r',
                    b'b' => '\u{8}',
                    b'f' => '\u{c}',
                    // `\"`, `\\`, `\/`, and any other ASCII taken literally.
                    b if b.is_ascii() => b as char,
                    // A backslash before a multi-byte character: the character is taken
                    // literally, as part of the next run.
                    _ => return false,
                };
                emit(on, simple);
            }
            Escape::Hex {
                high,
                mut digits,
                n,
            } => {
                if !b.is_ascii_hexdigit() {
                    // Not an escape after all: the `\u` (and a surrogate waiting for its
                    // other half) become U+FFFD, the digits so far stay as text.
                    if high.is_some() {
                        emit(on, '\u{fffd}');
                    }
                    emit(on, '\u{fffd}');
                    for &d in &digits[..n] {
                        emit(on, d as char);
                    }
                    self.escape = Escape::None;
                    return false;
                }
                digits[n] = b;
                if n + 1 < 4 {
                    self.escape = Escape::Hex {
                        high,
                        digits,
                        n: n + 1,
                    };
                    return true;
                }
                self.escape = Escape::None;
                let code = digits
                    .iter()
                    .fold(0, |v, d| v * 16 + (*d as char).to_digit(16).unwrap_or(0));
                match high {
                    Some(h) if (0xDC00..0xE000).contains(&code) => {
                        let c = char::from_u32(0x10000 + ((h - 0xD800) << 10) + (code - 0xDC00));
                        emit(on, c.unwrap_or('\u{fffd}'));
                    }
                    Some(_) if (0xD800..0xDC00).contains(&code) => {
                        emit(on, '\u{fffd}');
                        self.escape = Escape::Pair(code);
                    }
                    None if (0xD800..0xDC00).contains(&code) => self.escape = Escape::Pair(code),
                    Some(_) | None => {
                        if high.is_some() {
                            emit(on, '\u{fffd}');
                        }
                        emit(on, char::from_u32(code).unwrap_or('\u{fffd}'));
                    }
                }
            }
            Escape::Pair(high) => {
                if b != b'\\' {
                    emit(on, '\u{fffd}');
                    self.escape = Escape::None;
                    return false;
                }
                self.escape = Escape::PairBackslash(high);
                self.escape_at = Some(at);
            }
            Escape::PairBackslash(high) => {
                if b != b'u' {
                    // Another escape follows a lone high surrogate.
                    emit(on, '\u{fffd}');
                    self.escape = Escape::Backslash;
                    return false;
                }
                self.escape = Escape::Hex {
                    high: Some(high),
                    digits: [0; 4],
                    n: 0,
                };
            }
        }
        true
    }

    /// The outermost object or array has closed, and nothing is left open.
    pub fn complete(&self) -> bool {
        self.closed && self.closers.is_empty() && !self.in_string
    }

    pub fn in_string(&self) -> bool {
        self.in_string
    }

    pub fn escape_at(&self) -> Option<usize> {
        self.escape_at
    }

    /// The closers still owed, innermost last.
    pub fn closers(&self) -> &[char] {
        &self.closers
    }

    pub fn last_structural(&self) -> Option<(usize, char)> {
        self.last_structural
    }
}

/// One decoded character of a string.
fn emit(on: &mut impl FnMut(Lexeme<'_>), c: char) {
    on(Lexeme::Text(c.encode_utf8(&mut [0; 4])));
}

/// The decoded text of one string member of the outermost object (`input` in a freeform
/// tool call's `{"input": "..."}`), as its JSON streams in, so it can be relayed as it is
/// written. Text after that member is ignored.
#[derive(Debug)]
pub struct MemberText {
    key: &'static str,
    scan: JsonScan,
    stage: Stage,
    /// All the text decoded so far.
    text: String,
}

#[derive(Debug, PartialEq, Eq)]
enum Stage {
    /// Looking for the key; holds the text of the key being read.
    Seeking(Option<String>),
    /// The key was read; its value comes next.
    Found,
    /// Inside the value.
    Value,
    /// The value closed.
    Done,
}

impl MemberText {
    pub fn new(key: &'static str) -> MemberText {
        MemberText {
            key,
            scan: JsonScan::default(),
            stage: Stage::Seeking(None),
            text: String::new(),
        }
    }

    /// Takes a fragment of the JSON; returns the newly decoded text of the member.
    pub fn feed(&mut self, fragment: &str) -> &str {
        let from = self.text.len();
        if self.stage == Stage::Done {
            return "";
        }
        let (key, stage, text) = (self.key, &mut self.stage, &mut self.text);
        self.scan
            .feed_with(fragment, |lexeme| match (&mut *stage, lexeme) {
                (Stage::Done, _) => {}
                (Stage::Value, Lexeme::Text(t)) => text.push_str(t),
                (Stage::Value, Lexeme::Close) => *stage = Stage::Done,
                (
                    Stage::Found,
                    Lexeme::Open {
                        depth: 1,
                        key: false,
                    },
                ) => *stage = Stage::Value,
                (
                    _,
                    Lexeme::Open {
                        depth: 1,
                        key: true,
                    },
                ) => *stage = Stage::Seeking(Some(String::new())),
                (Stage::Seeking(Some(name)), Lexeme::Text(t)) => name.push_str(t),
                (Stage::Seeking(name @ Some(_)), Lexeme::Close) => {
                    if name.as_deref() == Some(key) {
                        *stage = Stage::Found;
                    } else {
                        *name = None;
                    }
                }
                _ => {}
            });
        &self.text[from..]
    }

    /// All the text decoded so far.
    pub fn text(&self) -> &str {
        &self.text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn complete_tracks_strings_and_nesting() {
        let cases: &[(&[&str], bool)] = &[
            (&["{}"], true),
            (&["{\"a\":", "\"}\"", "}"], true),
            (&["{\"a\":\"\\\"}\""], false),
            (&["{\"a\":\"\\\"}\"}"], true),
            (&["{\"a\":\"\\u00", "7d\"}"], true),
            (&["{\"a\":\"\\ud83d\\", "\"}\"}"], true),
            (&["{\"a\":[1,{\"b\":2}]"], false),
            (&["{\"a\":[1,{\"b\":2}]}"], true),
            (&[""], false),
            (&["  "], false),
        ];
        for (parts, want) in cases {
            let mut scan = JsonScan::default();
            for p in *parts {
                scan.feed(p);
            }
            assert_eq!(scan.complete(), *want, "{parts:?}");
        }
    }

    #[test]
    fn member_text_waits_for_whole_escapes() {
        let cases: &[(&[&str], &str)] = &[
            (&["{\"in", "put\": \"a", "b\"}"], "ab"),
            (&["{\"input\":\"x\\", "ny\"}"], "x\ny"),
            (&["{\"input\":\"\\u00", "e9\"}"], "\u{e9}"),
            (&["{\"input\":\"\\ud83d", "\\ude00!\"}"], "\u{1f600}!"),
            (
                &["{\"input\":\"\\ud8", "3d\\", "u", "de00!\"}"],
                "\u{1f600}!",
            ),
            (&["{\"input\":\"a\\\"b\"", ",\"x\":\"ignored\"}"], "a\"b"),
            (&["{\"input\":\"\\\u{e9}x\"}"], "\u{e9}x"),
            (&["{\"input\":\"\\uzzzzy\"}"], "\u{fffd}zzzzy"),
            (&["{\"input\":\"\\u12", "zz\"}"], "\u{fffd}12zz"),
            (&["{\"input\":\"\\ud83d\\n\"}"], "\u{fffd}\n"),
            (&["{\"input\":\"\\ud83dx\"}"], "\u{fffd}x"),
            (&["{\"input\":\"\\ud83d\\u0041\"}"], "\u{fffd}A"),
            (&["{\"input\":\"\\udc00\"}"], "\u{fffd}"),
            (
                &["{\"input\":\"a\\/\\\\\\t\\b\\f\\r\"}"],
                "a/\\\t\u{8}\u{c}\r",
            ),
            // Other members, before or nested, are not the one asked for.
            (
                &[
                    "{\"x\":\"input\",\"y\":{\"input\":\"no\"},",
                    "\"input\":\"yes\"}",
                ],
                "yes",
            ),
            (&["{\"in\\u0070ut\":\"escaped key\"}"], "escaped key"),
            (&["{\"input\":5,\"other\":\"no\"}"], ""),
            (&["{\"inputs\":\"no\"}"], ""),
        ];
        for (pieces, want) in cases {
            let mut d = MemberText::new("input");
            let got: String = pieces.iter().map(|p| d.feed(p).to_string()).collect();
            assert_eq!(got, *want, "{pieces:?}");
            assert_eq!(d.text(), *want);
        }
    }

    #[test]
    fn every_cut_decodes_like_a_whole_text() {
        let value = "*** Begin Patch\n+h\u{e9}llo \"x\" \\ \u{1f600}\t/\n*** End Patch";
        let args = serde_json::json!({"input": value}).to_string();
        let escaped = args
            .replace('\u{1f600}', "\\ud83d\\ude00")
            .replace('/', "\\/");
        for text in [&args, &escaped] {
            for cut in (0..=text.len()).filter(|&c| text.is_char_boundary(c)) {
                let mut d = MemberText::new("input");
                let got = d.feed(&text[..cut]).to_string() + d.feed(&text[cut..]);
                assert_eq!(got, value, "cut at {cut} of {text}");
            }
        }
    }
}
