//! `copilot-api check-usage`: the plan and each quota, readably.

use crate::commands::github_token;
use crate::config::Config;
use crate::http::ApiError;
use crate::upstream::client::Http;
use crate::upstream::{Upstream, ok_or_forward};
use serde_json::Value;

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
    print!("{}", format_usage(&v));
    Ok(())
}

fn format_usage(v: &Value) -> String {
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
    out
}

fn quota_line(q: &Value) -> String {
    if q.get("unlimited").and_then(Value::as_bool) == Some(true) {
        return "unlimited".into();
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
    let mut line =
        format!("{used} / {entitlement} used ({used_pct:.1}% used, {left_pct:.1}% remaining)");
    if let Some(over) = num("overage_count").filter(|o| *o > 0.0) {
        line.push_str(&format!(", {over} over quota"));
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn quotas_print_readably_and_tolerate_missing_snapshots() {
        let v = json!({
            "copilot_plan": "individual", "quota_reset_date": "2026-12-01",
            "quota_snapshots": {
                "chat": {"unlimited": true, "entitlement": 0, "remaining": 0},
                "premium_interactions": {"entitlement": 300, "remaining": 262, "percent_remaining": 87.3, "unlimited": false}
            }
        });
        let text = format_usage(&v);
        assert!(text.contains("plan: individual"), "{text}");
        assert!(
            text.contains("Premium requests: 38 / 300 used (12.7% used, 87.3% remaining)"),
            "{text}"
        );
        assert!(text.contains("Chat:             unlimited"), "{text}");
        assert!(text.contains("Completions:      not reported"), "{text}");
        assert!(format_usage(&json!({})).contains("plan: unknown"));
    }
}
