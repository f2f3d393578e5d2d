//! Repair of JSON cut off mid-way, as tool-call arguments are when a model runs out of
//! output tokens (reference §5.9, made stronger).
//!
//! The reference closed open strings and brackets and gave up on anything else: a dangling
//! `"key":`, a trailing comma or a partial literal failed. Here the text is also cut back
//! to the last complete member before closing, so every truncated object repairs; the
//! caller still reports the call as incomplete (reference §10.18: a repaired call must not
//! pass for a finished one).

use super::json_scan::JsonScan;
use serde_json::Value;

/// Valid JSON made from a truncated prefix by dropping the unfinished tail and closing
/// what is open; `None` when nothing parseable starts the text.
pub fn repair(text: &str) -> Option<String> {
    let mut cut = text.trim_end();
    // Each round cuts at least one structural character, so this ends.
    while !cut.is_empty() {
        if let Some(closed) = close(cut) {
            if serde_json::from_str::<Value>(&closed).is_ok() {
                return Some(closed);
            }
        }
        cut = cut_back(cut)?;
    }
    None
}

/// The prefix with its open string and containers closed, or `None` when it ends where
/// no value can be closed (after a `:`).
fn close(text: &str) -> Option<String> {
    let s = JsonScan::of(text);
    let mut out = text.to_string();
    if s.in_string() {
        // Drop an escape cut short (`\` or `\u12`): it cannot be completed.
        if let Some(at) = s.escape_at() {
            let tail = &out[at..];
            let whole = tail.len() >= 2 && !tail.starts_with("\\u") || tail.len() >= 6;
            if !whole {
                out.truncate(at);
            }
        }
        out.push('"');
    } else {
        let trimmed = out.trim_end().trim_end_matches(',').len();
        out.truncate(trimmed);
        if out.ends_with(':') {
            return None;
        }
    }
    out.extend(s.closers().iter().rev());
    Some(out)
}

/// The prefix without its last, unfinished member: up to the last comma, or up to and
/// including the last opening bracket (before it, when the text already ends there).
fn cut_back(text: &str) -> Option<&str> {
    match JsonScan::of(text).last_structural()? {
        (at, ',') => Some(&text[..at]),
        (at, _) if at + 1 == text.len() => Some(&text[..at]),
        (at, _) => Some(&text[..=at]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncations_repair_to_valid_json() {
        let cases = [
            (r#"{"command":["ls""#, Some(r#"{"command":["ls"]}"#)),
            (r#"{"cmd":"echo hi"#, Some(r#"{"cmd":"echo hi"}"#)),
            (r#"{"a":"#, Some("{}")),
            (r#"{"a":1,"#, Some(r#"{"a":1}"#)),
            (r#"{"a":1,"b":tr"#, Some(r#"{"a":1}"#)),
            (r#"{"cmd":"ls","wor"#, Some(r#"{"cmd":"ls"}"#)),
            (r#"{"a":{"b"#, Some(r#"{"a":{}}"#)),
            (r#"{"a":[1,2"#, Some(r#"{"a":[1,2]}"#)),
            (r#"{"s":"x\"#, Some(r#"{"s":"x"}"#)),
            (r#"{"s":"x\u00"#, Some(r#"{"s":"x"}"#)),
            (r#"{"s":"x\n"#, Some(r#"{"s":"x\n"}"#)),
            (r#"{"s":"a{b[c"#, Some(r#"{"s":"a{b[c"}"#)),
            ("{", Some("{}")),
            (r#"{"a":1}"#, Some(r#"{"a":1}"#)),
            ("", None),
            ("garbage", None),
        ];
        for (input, want) in cases {
            assert_eq!(repair(input).as_deref(), want, "{input}");
        }
    }
}
