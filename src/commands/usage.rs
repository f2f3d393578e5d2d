//! `copilot-api check-usage`: the plan, the reset date, each quota as used / entitlement
//! with a bar, and Copilot's session and weekly usage limits when it reports them.

use crate::accounting::limits::{Limits, WINDOWS, Window};
use crate::commands::github_token;
use crate::config::Config;
use crate::http::ApiError;
use crate::upstream::client::Http;
use crate::upstream::{Upstream, ok_or_forward};
use serde_json::Value;

/// Characters in a bar.
const BAR: usize = 20;

pub fn run(config: &Config) -> Result<(), String> {
    let http = Http::new(config)?;
    let (token, _) = github_token(&http, config)?;
    let upstream = Upstream::new(config, http, token);
    let reply = upstream
        .github("/copilot_internal/user")
        .and_then(ok_or_forward)
        .map_err(ApiError::from)
        .map_err(|e| match e.status() {
            401 | 403 => format!("GitHub rejected the GitHub token ({e}); run `copilot-api auth`"),
            _ => format!("could not fetch Copilot usage: {e}"),
        })?;
    let v: Value = serde_json::from_slice(&reply.body)
        .map_err(|_| "the usage answer is not JSON".to_string())?;
    // The limit headers ride on Copilot's own answers: the model list is the cheapest
    // call that carries them, and costs nothing. Without it the limits are just unknown.
    let limits = Limits::default();
    limits.observe_pairs(&reply.limit_headers);
    match upstream.copilot("GET", "/models", None, &[]) {
        Ok(models) => limits.observe_pairs(&models.limit_headers),
        Err(e) => crate::debug!("usage limits unavailable: {}", ApiError::from(e)),
    }
    print!("{}", format_usage(&v, &limits.get()));
    Ok(())
}

fn format_usage(v: &Value, limits: &[Option<Window>; 2]) -> String {
    let text = |p: &str| {
        v.pointer(p)
            .and_then(Value::as_str)
            .unwrap_or("unknown")
            .to_string()
    };
    let mut out = format!(
        "Copilot usage (plan: {})\nQuota resets: {}\n\n",
        text("/copilot_plan"),
        text("/quota_reset_date")
    );
    let rows = [
        ("Premium requests", "premium_interactions"),
        ("Chat", "chat"),
        ("Completions", "completions"),
    ];
    for (label, key) in rows {
        let line = match v.pointer(&format!("/quota_snapshots/{key}")) {
            None | Some(Value::Null) => "not reported".to_string(),
            Some(q) => quota_line(q),
        };
        out.push_str(&format!("  {:<18}{line}\n", format!("{label}:")));
    }
    if limits.iter().any(Option::is_some) {
        out.push_str("\nUsage limits:\n");
        for ((window, _), w) in WINDOWS.iter().zip(limits) {
            let line = match w {
                None => "not reported".to_string(),
                Some(w) => limit_line(w),
            };
            let label = format!("{}{}:", window[..1].to_ascii_uppercase(), &window[1..]);
            out.push_str(&format!("  {label:<18}{line}\n"));
        }
    }
    out
}

/// `[####----]` filled to `pct` percent.
fn bar(pct: f64) -> String {
    let filled = ((pct.clamp(0.0, 100.0) / 100.0) * BAR as f64).round() as usize;
    format!("[{}{}]", "#".repeat(filled), "-".repeat(BAR - filled))
}

fn quota_line(q: &Value) -> String {
    if q.get("unlimited").and_then(Value::as_bool) == Some(true) {
        return format!("{} unlimited", bar(0.0));
    }
    let num = |k: &str| q.get(k).and_then(Value::as_f64);
    let (Some(entitlement), Some(remaining)) = (
        num("entitlement"),
        num("remaining").or(num("quota_remaining")),
    ) else {
        return "not reported".into();
    };
    let used = (entitlement - remaining).max(0.0);
    let used_pct = if entitlement > 0.0 {
        used / entitlement * 100.0
    } else {
        0.0
    };
    let left_pct = num("percent_remaining").unwrap_or(100.0 - used_pct);
    let mut line = format!(
        "{} {used} / {entitlement} used ({used_pct:.1}% used, {left_pct:.1}% remaining)",
        bar(used_pct)
    );
    if let Some(over) = num("overage_count").filter(|o| *o > 0.0) {
        line.push_str(&format!(", {over} over quota"));
    }
    line
}

fn limit_line(w: &Window) -> String {
    let mut line = format!("{} {}% remaining", bar(100.0 - w.remaining), w.remaining);
    match w.reset_unix() {
        Some(at) => line.push_str(&format!(
            ", resets {}",
            crate::log::utc_timestamp(
                std::time::UNIX_EPOCH + std::time::Duration::from_secs(at.max(0.0) as u64)
            )
        )),
        None if !w.reset.is_empty() => line.push_str(&format!(", resets {}", w.reset)),
        None => {}
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn quotas_print_readably_with_bars_and_tolerate_missing_snapshots() {
        let v = json!({
            "copilot_plan": "individual", "quota_reset_date": "2026-12-01",
            "quota_snapshots": {
                "chat": {"unlimited": true, "entitlement": 0, "remaining": 0},
                "premium_interactions": {"entitlement": 300, "remaining": 262, "percent_remaining": 87.3, "unlimited": false}
            }
        });
        let text = format_usage(&v, &[None, None]);
        assert!(text.contains("plan: individual"), "{text}");
        assert!(
            text.contains(
                "Premium requests: [###-----------------] 38 / 300 used (12.7% used, 87.3% remaining)"
            ),
            "{text}"
        );
        assert!(
            text.contains("Chat:             [--------------------] unlimited"),
            "{text}"
        );
        assert!(text.contains("Completions:      not reported"), "{text}");
        assert!(!text.contains("Usage limits"), "{text}");
        assert!(format_usage(&json!({}), &[None, None]).contains("plan: unknown"));
    }

    #[test]
    fn limits_print_when_known() {
        let session = Window {
            remaining: 75.0,
            reset: "1796400000".into(),
        };
        let text = format_usage(&json!({}), &[Some(session), None]);
        assert!(
            text.contains(
                "Session:          [#####---------------] 75% remaining, resets 2026-12-04T"
            ),
            "{text}"
        );
        assert!(text.contains("Weekly:           not reported"), "{text}");
    }
}
