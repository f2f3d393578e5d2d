//! Where GitHub and Copilot live (`--account-type`, `--enterprise-url`, the URL overrides)
//! and the version headers the proxy sends them. Apart from `mod.rs` because these are the
//! upstream's settings, read by `upstream::` alone, with defaults that change whenever
//! Copilot's accepted client versions do.

use crate::cli::{RawArgs, UsageError};

/// Version headers Copilot checks (an out-of-date pair is answered with HTTP 466). Current
/// values as sent by the maintained peers (reference/peers.md §C2); each is overridable.
pub const DEFAULT_EDITOR_VERSION: &str = "vscode/1.114.0";
pub const DEFAULT_PLUGIN_VERSION: &str = "copilot-chat/0.52.0";
pub const DEFAULT_USER_AGENT: &str = "GitHubCopilotChat/0.52.0";
/// On calls to the Copilot API. Token and usage calls on api.github.com keep `2025-04-01`.
pub const DEFAULT_COPILOT_API_VERSION: &str = "2026-06-01";
pub const GITHUB_API_VERSION: &str = "2025-04-01";
pub const DEFAULT_INTEGRATION_ID: &str = "vscode-chat";

/// Where each upstream lives. The Copilot base URL is finally decided per token (its
/// `endpoints.api`), see `upstream::token`.
#[derive(Debug, Clone)]
pub struct Endpoints {
    pub github_web: String,
    pub github_api: String,
    /// `COPILOT_API_BASE_URL`: always wins over the token's `endpoints.api`.
    pub copilot_override: Option<String>,
    /// From `--account-type` / `--enterprise-url`: used when the token names no usable host.
    pub copilot_fallback: String,
    pub account_type: String,
    pub enterprise: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Versions {
    pub editor_version: String,
    pub plugin_version: String,
    pub user_agent: String,
    pub copilot_api_version: String,
    pub integration_id: String,
}

/// The version headers: each flag, else its environment variable (`env` yields only
/// non-empty values), else the default.
pub(super) fn versions(raw: &mut RawArgs, env: &dyn Fn(&str) -> Option<String>) -> Versions {
    let pick = |flag: Option<String>, var: &str, default: &str| {
        flag.or_else(|| env(var))
            .unwrap_or_else(|| default.to_string())
    };
    Versions {
        editor_version: pick(
            raw.editor_version.take(),
            "COPILOT_EDITOR_VERSION",
            DEFAULT_EDITOR_VERSION,
        ),
        plugin_version: pick(
            raw.editor_plugin_version.take(),
            "COPILOT_EDITOR_PLUGIN_VERSION",
            DEFAULT_PLUGIN_VERSION,
        ),
        user_agent: pick(
            raw.user_agent.take(),
            "COPILOT_USER_AGENT",
            DEFAULT_USER_AGENT,
        ),
        copilot_api_version: pick(
            raw.github_api_version.take(),
            "COPILOT_GITHUB_API_VERSION",
            DEFAULT_COPILOT_API_VERSION,
        ),
        integration_id: pick(
            raw.integration_id.take(),
            "COPILOT_INTEGRATION_ID",
            DEFAULT_INTEGRATION_ID,
        ),
    }
}

/// `--account-type` and `--enterprise-url` (checked here), then the `GITHUB_URL`,
/// `GITHUB_API_URL` and `COPILOT_API_BASE_URL` overrides from `env`.
pub(super) fn endpoints(
    account_type: Option<String>,
    enterprise_url: Option<String>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Endpoints, UsageError> {
    let account_type = account_type.unwrap_or_else(|| "individual".into());
    if account_type.is_empty()
        || !account_type
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-')
    {
        return Err(UsageError(format!(
            "--account-type: `{account_type}` is not valid (individual, business or enterprise)"
        )));
    }
    let enterprise = match enterprise_url {
        None => None,
        Some(u) => {
            let domain = u
                .trim()
                .trim_start_matches("https://")
                .trim_start_matches("http://")
                .trim_end_matches('/')
                .to_string();
            if domain.is_empty() || domain.contains(['/', ' ', '@']) {
                return Err(UsageError(format!(
                    "--enterprise-url: `{u}` is not a domain (e.g. acme.ghe.com)"
                )));
            }
            Some(domain)
        }
    };
    let (web, api, copilot) = match (&enterprise, account_type.as_str()) {
        (Some(d), _) => (
            format!("https://{d}"),
            format!("https://api.{d}"),
            format!("https://copilot-api.{d}"),
        ),
        (None, "individual") => (
            "https://github.com".into(),
            "https://api.github.com".into(),
            "https://api.githubcopilot.com".into(),
        ),
        (None, t) => (
            "https://github.com".into(),
            "https://api.github.com".into(),
            format!("https://api.{t}.githubcopilot.com"),
        ),
    };
    let url = |var: &str, default: String| -> Result<String, UsageError> {
        match env(var) {
            None => Ok(default),
            Some(v) if v.starts_with("http://") || v.starts_with("https://") => {
                Ok(v.trim_end_matches('/').to_string())
            }
            Some(v) => Err(UsageError(format!("{var}: `{v}` is not an http(s) URL"))),
        }
    };
    Ok(Endpoints {
        github_web: url("GITHUB_URL", web)?,
        github_api: url("GITHUB_API_URL", api)?,
        copilot_override: match env("COPILOT_API_BASE_URL") {
            None => None,
            Some(_) => Some(url("COPILOT_API_BASE_URL", String::new())?),
        },
        copilot_fallback: copilot,
        account_type,
        enterprise,
    })
}
