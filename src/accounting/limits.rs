//! Copilot's usage limits as its answers report them: `x-usage-ratelimit-session` and
//! `x-usage-ratelimit-weekly`, each `rem=<remaining>&rst=<reset>` (reference/peers-2026-12.md
//! U3). The latest values are kept for `/metrics`, the dashboard and `check-usage`.

use serde_json::{Value, json};
use std::sync::Mutex;

/// The two windows, with their header names.
pub const WINDOWS: [(&str, &str); 2] = [
    ("session", "x-usage-ratelimit-session"),
    ("weekly", "x-usage-ratelimit-weekly"),
];

/// One window's latest report.
#[derive(Debug, Clone, PartialEq)]
pub struct Window {
    /// `rem`: what is left (Copilot sends a percentage).
    pub remaining: f64,
    /// `rst`: when the window resets, as sent (Unix seconds or a date).
    pub reset: String,
}

impl Window {
    /// `rst` as Unix seconds, when it is a number.
    pub fn reset_unix(&self) -> Option<f64> {
        self.reset.parse::<f64>().ok().filter(|f| f.is_finite())
    }
}

/// Parses `rem=..&rst=..`; None when `rem` is missing or not a number.
pub fn parse(value: &str) -> Option<Window> {
    let mut remaining = None;
    let mut reset = String::new();
    for pair in value.split('&') {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        match k.trim() {
            "rem" => remaining = v.trim().parse::<f64>().ok().filter(|f| f.is_finite()),
            // Dates arrive form-encoded (`+` for a space, `%3A` for `:`).
            "rst" => reset = decode(v.trim()),
            _ => {}
        }
    }
    Some(Window {
        remaining: remaining?,
        reset,
    })
}

/// Form decoding of the few characters a date or number can hold; anything unexpected
/// is dropped, so the value can be shown anywhere as plain text.
fn decode(v: &str) -> String {
    let mut out = String::new();
    let mut chars = v.chars();
    while let Some(c) = chars.next() {
        match c {
            '+' => out.push(' '),
            '%' => {
                let hex: String = chars.by_ref().take(2).collect();
                if let Ok(b) = u8::from_str_radix(&hex, 16) {
                    out.push(char::from(b));
                }
            }
            c => out.push(c),
        }
    }
    out.retain(|c| c.is_ascii_alphanumeric() || " :.-+TZ".contains(c));
    out.truncate(40);
    out
}

/// The latest report of each window.
#[derive(Default)]
pub struct Limits {
    latest: Mutex<[Option<Window>; 2]>,
}

impl Limits {
    /// Reads the limit headers of one upstream answer (any status).
    pub fn observe(&self, header: impl Fn(&str) -> Option<String>) {
        for (i, (_, name)) in WINDOWS.iter().enumerate() {
            if let Some(w) = header(name).as_deref().and_then(parse) {
                self.latest.lock().unwrap_or_else(|e| e.into_inner())[i] = Some(w);
            }
        }
    }

    /// The limit headers of a reply read in full (`upstream::client::Reply`).
    pub fn observe_pairs(&self, headers: &[(&'static str, String)]) {
        self.observe(|name| {
            let (_, v) = headers.iter().find(|(k, _)| *k == name)?;
            Some(v.clone())
        });
    }

    pub fn get(&self) -> [Option<Window>; 2] {
        self.latest
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// `{"session": {"remaining": 80, "reset": "..."}, "weekly": null}`.
    pub fn to_json(&self) -> Value {
        let latest = self.get();
        let one = |w: &Option<Window>| match w {
            Some(w) => json!({"remaining": w.remaining, "reset": w.reset}),
            None => Value::Null,
        };
        json!({"session": one(&latest[0]), "weekly": one(&latest[1])})
    }

    /// The gauges of `/metrics`.
    pub fn render(&self, out: &mut String) {
        use std::fmt::Write;
        let latest = self.get();
        out.push_str("# TYPE copilot_api_usage_limit_remaining gauge\n");
        for ((window, _), w) in WINDOWS.iter().zip(&latest) {
            if let Some(w) = w {
                let _ = writeln!(
                    out,
                    "copilot_api_usage_limit_remaining{{window=\"{window}\"}} {}",
                    w.remaining
                );
            }
        }
        out.push_str("# TYPE copilot_api_usage_limit_reset_timestamp_seconds gauge\n");
        for ((window, _), w) in WINDOWS.iter().zip(&latest) {
            if let Some(at) = w.as_ref().and_then(Window::reset_unix) {
                let _ = writeln!(
                    out,
                    "copilot_api_usage_limit_reset_timestamp_seconds{{window=\"{window}\"}} {at}"
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_parse_and_the_latest_wins() {
        assert_eq!(
            parse("rem=82.5&rst=1796400000"),
            Some(Window {
                remaining: 82.5,
                reset: "1796400000".into()
            })
        );
        assert_eq!(
            parse("rst=2026-12-07T00%3A00%3A00Z&rem=3").unwrap().reset,
            "2026-12-07T00:00:00Z"
        );
        assert_eq!(parse("rst=1"), None);
        assert_eq!(parse("rem=<b>&rst=1"), None);
        assert_eq!(parse("rem=1&rst=<script>").unwrap().reset, "script");
        let limits = Limits::default();
        limits.observe(|h| (h == "x-usage-ratelimit-weekly").then(|| "rem=40&rst=99".into()));
        limits.observe(|h| (h == "x-usage-ratelimit-weekly").then(|| "rem=39&rst=99".into()));
        let mut text = String::new();
        limits.render(&mut text);
        assert!(text.contains("copilot_api_usage_limit_remaining{window=\"weekly\"} 39"));
        assert!(
            text.contains("copilot_api_usage_limit_reset_timestamp_seconds{window=\"weekly\"} 99")
        );
        assert!(!text.contains("session\"}"));
        assert_eq!(limits.to_json()["session"], Value::Null);
    }
}
