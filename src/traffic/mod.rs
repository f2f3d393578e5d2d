//! Traffic control state (DESIGN.md §8): the validated traffic flags and the running
//! limiters and approval queue built from them, held by `App`. The gate that uses them is
//! `features::admission`; nothing here imports `App` or `config`, so both can hold it.

pub mod approval;
pub mod limiter;

use approval::Approval;
use limiter::{Limiter, Rule};
use std::time::Duration;

/// The validated traffic flags (`config` builds this).
#[derive(Debug, Clone)]
pub struct Settings {
    /// `--rate-limit`: one admission per this long.
    pub interval: Option<Duration>,
    /// `--wait`: queue instead of answering 429.
    pub wait: bool,
    /// `--burst-count`, `--burst-window`, `--min-spacing`.
    pub burst: Option<Rule>,
    /// `--burst-scope model`: a burst window per resolved model.
    pub burst_per_model: bool,
    /// `--max-wait`: the longest a request may queue.
    pub max_wait: Duration,
    /// `--manual` with its `--manual-timeout`.
    pub manual: Option<Duration>,
    /// `--no-auto-switch`.
    pub no_auto_switch: bool,
}

/// The running limiters and approval queue of one instance.
pub struct Traffic {
    pub(crate) settings: Settings,
    pub(crate) interval: Option<Limiter>,
    pub(crate) burst: Option<Limiter>,
    pub(crate) approval: Option<Approval>,
}

impl Traffic {
    pub fn new(settings: &Settings) -> Traffic {
        Traffic {
            interval: settings.interval.map(|window| {
                Limiter::new(Rule {
                    count: 1,
                    window,
                    spacing: Duration::ZERO,
                })
            }),
            burst: settings.burst.map(Limiter::new),
            approval: settings.manual.map(Approval::new),
            settings: settings.clone(),
        }
    }
}

impl Traffic {
    /// The limits in force, for the start-up log.
    pub fn describe(&self) -> Vec<String> {
        let s = &self.settings;
        let mut lines = Vec::new();
        if let Some(i) = s.interval {
            let mode = if s.wait { "queued" } else { "429" };
            lines.push(format!(
                "rate limit: one request per {} s (early requests: {mode})",
                i.as_secs_f64()
            ));
        }
        if let Some(b) = s.burst {
            let scope = if s.burst_per_model {
                "per model"
            } else {
                "global"
            };
            lines.push(format!(
                "burst limit: {} requests per {} s, {} ms apart at least, {scope}",
                b.count,
                b.window.as_secs_f64(),
                b.spacing.as_millis()
            ));
        }
        if s.interval.is_some() || s.burst.is_some() {
            lines.push(format!(
                "longest queueing: {} s (--max-wait)",
                s.max_wait.as_secs_f64()
            ));
        }
        if let Some(t) = s.manual {
            lines.push(format!(
                "--manual: each request waits for approval on this terminal ({} s to answer)",
                t.as_secs_f64()
            ));
        }
        if s.no_auto_switch {
            lines.push("--no-auto-switch: prompts too large for their model are not moved".into());
        }
        lines
    }
}
