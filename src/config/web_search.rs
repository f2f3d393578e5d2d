//! Which search provider serves web searches, and with what: resolved once at start-up from
//! `--web-search`, `--web-search-model`, `--web-search-custom-tools`,
//! `--web-search-timeout` and the `TAVILY_*` / `BRAVE_*` variables.

use crate::cli::UsageError;
/// The raw flag values, as `cli` parses them.
use crate::cli::WebSearchFlags as RawSettings;
use std::time::Duration;

/// Tavily's search API (reference/platform.md §9.4), overridable by `TAVILY_BASE_URL`.
pub const TAVILY_BASE_URL: &str = "https://api.tavily.com";
/// Brave's search API, overridable by `BRAVE_BASE_URL`.
pub const BRAVE_BASE_URL: &str = "https://api.search.brave.com";
/// Both third-party providers answer within this, or the search counts as failed.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// The provider that runs searches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    Tavily,
    Brave,
    /// Copilot's own search: a `/responses` call with the hosted `web_search` tool.
    Copilot,
    /// Web search is not served; server tools are removed as before.
    Off,
}

impl Provider {
    pub fn name(self) -> &'static str {
        match self {
            Provider::Tavily => "tavily",
            Provider::Brave => "brave",
            Provider::Copilot => "copilot",
            Provider::Off => "off",
        }
    }
}

/// The validated web-search configuration. Keys are kept here and nowhere else; `Debug`
/// never prints them.
#[derive(Clone)]
pub struct Settings {
    pub provider: Provider,
    /// `--web-search-model`: the model Copilot's own search runs on; None picks the
    /// cheapest catalog model served on `/responses`.
    pub model: Option<String>,
    /// `--web-search-custom-tools`: also serve client function tools named like a search.
    pub custom_tools: bool,
    pub timeout: Duration,
    pub tavily_key: Option<String>,
    pub brave_key: Option<String>,
    pub tavily_base: String,
    pub brave_base: String,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("provider", &self.provider)
            .field("model", &self.model)
            .field("custom_tools", &self.custom_tools)
            .field("timeout", &self.timeout)
            .field("tavily_base", &self.tavily_base)
            .field("brave_base", &self.brave_base)
            .finish_non_exhaustive()
    }
}

impl Settings {
    /// `env` returns trimmed, non-empty values only.
    pub fn resolve(
        raw: RawSettings,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Settings, UsageError> {
        let tavily_key = env("TAVILY_API_KEY");
        let brave_key = env("BRAVE_API_KEY");
        let provider = match raw.mode.as_deref().map(str::trim) {
            None | Some("auto") => {
                if tavily_key.is_some() {
                    Provider::Tavily
                } else if brave_key.is_some() {
                    Provider::Brave
                } else {
                    Provider::Copilot
                }
            }
            Some("tavily") if tavily_key.is_none() => {
                return Err(UsageError(
                    "--web-search tavily needs the TAVILY_API_KEY variable".into(),
                ));
            }
            Some("brave") if brave_key.is_none() => {
                return Err(UsageError(
                    "--web-search brave needs the BRAVE_API_KEY variable".into(),
                ));
            }
            Some("tavily") => Provider::Tavily,
            Some("brave") => Provider::Brave,
            Some("copilot") => Provider::Copilot,
            Some("off") => Provider::Off,
            Some(other) => {
                return Err(UsageError(format!(
                    "--web-search: `{other}` is not one of auto, tavily, brave, copilot, off"
                )));
            }
        };
        let model = match raw.model.map(|m| m.trim().to_string()) {
            Some(m) if m.is_empty() => {
                return Err(UsageError(
                    "--web-search-model: a model id is needed".into(),
                ));
            }
            other => other,
        };
        let timeout = match raw.timeout {
            None => DEFAULT_TIMEOUT,
            Some(v) => v
                .parse::<f64>()
                .ok()
                .filter(|s| s.is_finite() && *s >= 0.01 && *s <= 600.0)
                .map(Duration::from_secs_f64)
                .ok_or_else(|| {
                    UsageError(format!(
                        "--web-search-timeout: `{v}` is not a number of seconds (0.01 to 600)"
                    ))
                })?,
        };
        let base = |var: &str, default: &str| -> Result<String, UsageError> {
            match env(var) {
                None => Ok(default.to_string()),
                Some(v) if v.starts_with("http://") || v.starts_with("https://") => {
                    Ok(v.trim_end_matches('/').to_string())
                }
                Some(v) => Err(UsageError(format!("{var}: `{v}` is not an http(s) URL"))),
            }
        };
        Ok(Settings {
            provider,
            model,
            custom_tools: raw.custom_tools,
            timeout,
            tavily_base: base("TAVILY_BASE_URL", TAVILY_BASE_URL)?,
            brave_base: base("BRAVE_BASE_URL", BRAVE_BASE_URL)?,
            tavily_key,
            brave_key,
        })
    }

    /// The start-up log line: which provider, never a key.
    pub fn describe(&self) -> String {
        match self.provider {
            Provider::Off => {
                "web search off (--web-search off): server web_search tools are removed".into()
            }
            Provider::Copilot => format!(
                "web search on: provider copilot (Copilot's own search on {}); each search costs extra upstream calls (one for the search, one more model pass)",
                self.model
                    .as_deref()
                    .unwrap_or("the cheapest /responses model")
            ),
            p => format!(
                "web search on: provider {} ({}); each search costs one extra upstream model call",
                p.name(),
                match p {
                    Provider::Tavily => &self.tavily_base,
                    _ => &self.brave_base,
                }
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(mode: Option<&str>, env: &[(&str, &str)]) -> Result<Settings, UsageError> {
        let raw = RawSettings {
            mode: mode.map(Into::into),
            ..RawSettings::default()
        };
        Settings::resolve(raw, &|k| {
            env.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        })
    }

    #[test]
    fn auto_prefers_tavily_then_brave_then_copilot() {
        let both = [("TAVILY_API_KEY", "t"), ("BRAVE_API_KEY", "b")];
        assert_eq!(resolve(None, &both).unwrap().provider, Provider::Tavily);
        assert_eq!(
            resolve(Some("auto"), &both[1..]).unwrap().provider,
            Provider::Brave
        );
        assert_eq!(resolve(None, &[]).unwrap().provider, Provider::Copilot);
        assert_eq!(
            resolve(Some("brave"), &both).unwrap().provider,
            Provider::Brave
        );
        assert_eq!(resolve(Some("off"), &both).unwrap().provider, Provider::Off);
    }

    #[test]
    fn a_named_provider_needs_its_key_and_bad_values_name_the_flag() {
        assert!(
            resolve(Some("tavily"), &[])
                .unwrap_err()
                .0
                .contains("TAVILY_API_KEY")
        );
        assert!(
            resolve(Some("brave"), &[])
                .unwrap_err()
                .0
                .contains("BRAVE_API_KEY")
        );
        assert!(
            resolve(Some("bing"), &[])
                .unwrap_err()
                .0
                .starts_with("--web-search")
        );
        assert!(resolve(None, &[("TAVILY_BASE_URL", "ftp://x")]).is_err());
        let s = resolve(None, &[("TAVILY_API_KEY", "tvly-secret")]).unwrap();
        assert!(!format!("{s:?}").contains("tvly-secret"));
        assert!(!s.describe().contains("tvly-secret"));
        assert_eq!(s.tavily_base, TAVILY_BASE_URL);
    }
}
