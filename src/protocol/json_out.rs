//! JSON written by hand for the events a translated stream sends once per upstream delta
//! (`content_block_delta`, `response.output_text.delta`, ...). Their serde derives stay the
//! definition of their bytes (tests compare the two); this writes the same bytes with the
//! keys and the constant values copied as they are. Through serde every key and constant
//! is escaped byte by byte, and the buffer grows past its first 128 bytes: measured with
//! callgrind, that made a typed delta cost more than the hand-built string it replaced.

/// A string as serde_json writes it: quoted, with `"`, `\` and control characters
/// escaped (`\b \f \n \r \t`, the others as `\u00xx`), everything else as it is.
pub fn string(out: &mut String, s: &str) {
    out.push('"');
    let mut plain = 0;
    for (i, b) in s.bytes().enumerate() {
        let escape = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            0..0x20 => "",
            _ => continue,
        };
        // Every byte that needs an escape is ASCII: the slices fall on char boundaries.
        out.push_str(&s[plain..i]);
        if escape.is_empty() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.push_str("\\u00");
            out.push(HEX[usize::from(b >> 4)] as char);
            out.push(HEX[usize::from(b & 0xf)] as char);
        } else {
            out.push_str(escape);
        }
        plain = i + 1;
    }
    out.push_str(&s[plain..]);
    out.push('"');
}

/// A non-negative integer in decimal.
pub fn number(out: &mut String, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for &d in &digits[at..] {
        out.push(d as char);
    }
}

/// A buffer for an event whose variable parts are `strings`, sized so that it never grows
/// unless they need escapes.
pub fn buffer(fixed: usize, strings: &[&str]) -> String {
    String::with_capacity(fixed + strings.iter().map(|s| s.len() + 2).sum::<usize>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_and_numbers_are_serde_jsons_bytes() {
        let mut all: String = (0u8..0x80).map(char::from).collect();
        all.push_str("é \u{2028} \u{1F600} \u{7f}");
        for s in [all.as_str(), "", "plain", "\"", "a\\b", "\u{1}x\u{1f}"] {
            let mut out = String::new();
            string(&mut out, s);
            assert_eq!(out, serde_json::to_string(s).unwrap());
        }
        for n in [0, 7, 10, 99, 12345, u64::MAX] {
            let mut out = String::new();
            number(&mut out, n);
            assert_eq!(out, n.to_string());
        }
    }
}
