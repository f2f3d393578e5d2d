//! The one incremental lexer of JSON text the translators share: fed a value's text in
//! fragments (tool-call arguments as they stream), it tracks strings, escapes and open
//! containers without parsing. The stream translator asks it when the outermost value has
//! closed (`complete`); the repair of cut-off arguments asks it what is still open and
//! where the last member began.

#[derive(Default, Debug)]
pub struct JsonScan {
    /// Bytes fed so far: the offsets below count from the start of the whole text.
    offset: usize,
    in_string: bool,
    escaped: bool,
    /// Byte offset of the backslash of the last escape inside the open string.
    escape_at: Option<usize>,
    /// The closers still owed, innermost last.
    closers: Vec<char>,
    /// The outermost object or array has closed at least once.
    closed: bool,
    /// The last `{`, `[` or `,` outside strings, and its offset.
    last_structural: Option<(usize, char)>,
}

impl JsonScan {
    /// A scan of a whole text.
    pub fn of(text: &str) -> JsonScan {
        let mut scan = JsonScan::default();
        scan.feed(text);
        scan
    }

    pub fn feed(&mut self, fragment: &str) {
        // Every character that matters is ASCII, so byte offsets are character boundaries.
        for (i, b) in fragment.bytes().enumerate() {
            let at = self.offset + i;
            if self.in_string {
                match b {
                    _ if self.escaped => self.escaped = false,
                    b'\\' => {
                        self.escaped = true;
                        self.escape_at = Some(at);
                    }
                    b'"' => {
                        self.in_string = false;
                        self.escape_at = None;
                    }
                    _ => {}
                }
                continue;
            }
            match b {
                b'"' => self.in_string = true,
                b'{' => self.closers.push('}'),
                b'[' => self.closers.push(']'),
                b'}' | b']' if self.closers.pop().is_some() => {
                    self.closed |= self.closers.is_empty();
                }
                _ => {}
            }
            if matches!(b, b'{' | b'[' | b',') {
                self.last_structural = Some((at, b as char));
            }
        }
        self.offset += fragment.len();
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
