//! Logging to stderr: one line per event, UTC timestamp, level, message; or, with
//! `--log-format json`, one JSON object per line (`ts`, `level`, `msg`, and the access-log
//! fields as their own keys) for a log collector.
//!
//! The level and format are process-wide because every layer logs (the token refresher runs
//! on its own thread, far from any request). They are set once at start-up from `--verbose`
//! and `--log-format`. Secrets never reach this module: callers log `redact(..)` forms.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

static VERBOSE: AtomicBool = AtomicBool::new(false);
static JSON: AtomicBool = AtomicBool::new(false);

/// `--log-format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
}

pub fn set_format(format: Format) {
    JSON.store(format == Format::Json, Ordering::Relaxed);
}

pub fn set_verbose(on: bool) {
    VERBOSE.store(on, Ordering::Relaxed);
}

pub fn verbose() -> bool {
    VERBOSE.load(Ordering::Relaxed)
}

/// Writes one line. Errors writing to stderr are ignored: logging must never fail a request.
pub fn write(level: &str, msg: std::fmt::Arguments) {
    emit(level, &msg.to_string(), None);
}

/// One access-log line: the text form joins the fields; the JSON form also carries each as
/// its own key, so a collector can filter on `status` or `path` without parsing `msg`.
pub struct Access<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub model: Option<&'a str>,
    pub status: u16,
    pub duration_ms: f64,
    /// How a streamed answer ended (`stream=completed`...), or None for a plain answer.
    pub stream: Option<&'a str>,
    /// A completion request's usage and cost: the text fields (` in=12 out=5 ...`) and the
    /// same as JSON fields.
    pub usage: Option<(String, serde_json::Value)>,
}

pub fn access(a: &Access) {
    let msg = format!(
        "{} {} {} {} {:.1}ms{}",
        a.method,
        a.path,
        a.model.unwrap_or("-"),
        a.status,
        a.duration_ms,
        a.stream.map(|s| format!(" stream={s}")).unwrap_or_default()
    ) + a.usage.as_ref().map_or("", |(text, _)| text);
    let mut fields = serde_json::json!({
        "method": a.method,
        "path": a.path,
        "model": a.model,
        "status": a.status,
        "duration_ms": (a.duration_ms * 10.0).round() / 10.0,
        "stream": a.stream,
    });
    if let (Some((_, serde_json::Value::Object(usage))), serde_json::Value::Object(f)) =
        (&a.usage, &mut fields)
    {
        f.extend(usage.clone());
    }
    emit("INFO", &msg, Some(fields));
}

fn emit(level: &str, msg: &str, fields: Option<serde_json::Value>) {
    let now = SystemTime::now();
    let line = if JSON.load(Ordering::Relaxed) {
        let mut object = serde_json::Map::new();
        object.insert("ts".into(), utc_timestamp_millis(now).into());
        object.insert("level".into(), level.into());
        object.insert("msg".into(), msg.into());
        if let Some(serde_json::Value::Object(extra)) = fields {
            object.extend(extra);
        }
        format!("{}\n", serde_json::Value::Object(object))
    } else {
        format!("{} {level} {msg}\n", utc_timestamp(now))
    };
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}

#[macro_export]
macro_rules! info { ($($t:tt)*) => { $crate::log::write("INFO", format_args!($($t)*)) } }
#[macro_export]
macro_rules! warn { ($($t:tt)*) => { $crate::log::write("WARN", format_args!($($t)*)) } }
#[macro_export]
macro_rules! error { ($($t:tt)*) => { $crate::log::write("ERROR", format_args!($($t)*)) } }
#[macro_export]
macro_rules! debug {
    ($($t:tt)*) => { if $crate::log::verbose() { $crate::log::write("DEBUG", format_args!($($t)*)) } }
}

/// `2026-11-23T22:47:08Z`, computed without a date crate (civil-from-days, H. Hinnant).
pub fn utc_timestamp(t: SystemTime) -> String {
    let secs = t
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// `2026-11-23T22:47:08.123Z`, for JSON logs where events within a second must stay ordered.
pub fn utc_timestamp_millis(t: SystemTime) -> String {
    let millis = t
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_millis())
        .unwrap_or(0);
    let whole = utc_timestamp(t);
    format!("{}.{millis:03}Z", whole.trim_end_matches('Z'))
}

fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// A secret as it may appear in a log: its length and a 4-character prefix at most, so two
/// tokens can be told apart without either being usable.
pub fn redact(secret: &str) -> String {
    let prefix: String = secret.chars().take(4).collect();
    format!("{prefix}…({} chars)", secret.chars().count())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn timestamps_are_utc_calendar_dates() {
        let t = |s| utc_timestamp(UNIX_EPOCH + Duration::from_secs(s));
        assert_eq!(t(0), "1970-01-01T00:00:00Z");
        assert_eq!(t(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(t(1_795_474_028), "2026-11-23T22:47:08Z");
        let ms = UNIX_EPOCH + Duration::from_millis(1_795_474_028_045);
        assert_eq!(utc_timestamp_millis(ms), "2026-11-23T22:47:08.045Z");
    }

    #[test]
    fn redaction_keeps_no_usable_secret() {
        assert_eq!(redact("gho_abcdefgh"), "gho_…(12 chars)");
        assert_eq!(redact(""), "…(0 chars)");
    }
}
