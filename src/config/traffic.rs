//! The traffic-control flags (`--rate-limit`, `--wait`, `--burst-*`, `--min-spacing`,
//! `--max-wait`, `--manual*`, `--no-auto-switch`) validated into `traffic::Settings`.

use super::values::{positive, seconds};
use crate::cli::{RawArgs, UsageError};
use crate::traffic::Settings;
use crate::traffic::limiter::Rule;
use std::io::IsTerminal;
use std::time::Duration;

/// The traffic-control flags: each value checked, and the flags that only make sense
/// together required together. `--manual` also needs a terminal to ask on.
pub(super) fn settings(raw: &RawArgs) -> Result<Settings, UsageError> {
    let optional = |v: &Option<String>, flag: &str| match v {
        None => Ok(None),
        Some(_) => seconds(v.clone(), flag, 0.0).map(Some),
    };
    let interval = optional(&raw.rate_limit, "--rate-limit")?;
    if raw.wait && interval.is_none() {
        return Err(UsageError("--wait needs --rate-limit SECS".into()));
    }
    let count = match &raw.burst_count {
        None => None,
        Some(_) => Some(positive(raw.burst_count.clone(), "--burst-count", 1)?),
    };
    let window = optional(&raw.burst_window, "--burst-window")?;
    let spacing = match raw.min_spacing.as_deref() {
        None => Duration::ZERO,
        Some(v) => v
            .parse::<u64>()
            .ok()
            .filter(|ms| *ms <= 86_400_000)
            .map(Duration::from_millis)
            .ok_or_else(|| {
                UsageError(format!(
                    "--min-spacing: `{v}` is not a whole number of milliseconds"
                ))
            })?,
    };
    let burst = match (count, window) {
        (Some(count), Some(window)) => Some(Rule {
            count,
            window,
            spacing,
        }),
        (None, None) if raw.min_spacing.is_none() && raw.burst_scope.is_none() => None,
        _ => {
            return Err(UsageError(
                "--burst-count and --burst-window go together (--min-spacing and --burst-scope need them)"
                    .into(),
            ));
        }
    };
    let burst_per_model = match raw.burst_scope.as_deref() {
        None | Some("global") => false,
        Some("model") => true,
        Some(other) => {
            return Err(UsageError(format!(
                "--burst-scope: `{other}` is not global or model"
            )));
        }
    };
    let manual_timeout = seconds(raw.manual_timeout.clone(), "--manual-timeout", 300.0)?;
    if raw.manual && !std::io::stdin().is_terminal() {
        return Err(UsageError(
            "--manual needs an interactive terminal to ask for approval on (standard input is not one)"
                .into(),
        ));
    }
    Ok(Settings {
        interval,
        wait: raw.wait,
        burst,
        burst_per_model,
        max_wait: seconds(raw.max_wait.clone(), "--max-wait", 300.0)?,
        manual: raw.manual.then_some(manual_timeout),
        no_auto_switch: raw.no_auto_switch,
    })
}
