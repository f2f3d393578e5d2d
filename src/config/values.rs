//! The two value shapes most flags share, a positive count and a number of seconds, each
//! parsed with an error that names the flag. Apart from `mod.rs` so that `traffic.rs` can
//! use them without importing the module that imports it.

use crate::cli::UsageError;
use std::time::Duration;

/// A whole number above zero, or `default` when the flag is absent.
pub(super) fn positive(
    value: Option<String>,
    flag: &str,
    default: usize,
) -> Result<usize, UsageError> {
    match value {
        None => Ok(default),
        Some(v) => v
            .parse::<usize>()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| UsageError(format!("{flag}: `{v}` is not a positive whole number"))),
    }
}

/// A duration in seconds, fractions allowed (tests use sub-second timeouts).
pub(super) fn seconds(
    value: Option<String>,
    flag: &str,
    default: f64,
) -> Result<Duration, UsageError> {
    let secs = match value {
        None => default,
        Some(v) => v
            .parse::<f64>()
            .ok()
            .filter(|s| s.is_finite() && *s >= 0.01 && *s <= 86_400.0)
            .ok_or_else(|| {
                UsageError(format!(
                    "{flag}: `{v}` is not a number of seconds (0.01 to 86400)"
                ))
            })?,
    };
    Ok(Duration::from_secs_f64(secs))
}
