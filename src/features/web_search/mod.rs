//! Web search served by the proxy (issue #12): Anthropic's server `web_search` tool, which
//! Copilot rejects, is run here with Tavily, Brave or Copilot's own search, and the client
//! sees real search blocks. This file is the shared interface: one query in, results out,
//! with whichever provider `--web-search` chose (`/v1/alpha/search` uses it too). The loops
//! that run a whole turn with it are the routes' (`routes/messages/web_search/`,
//! `routes/responses/web_search/`).

pub mod blocks;
pub mod copilot;
pub mod detect;
pub mod preflight;
pub mod providers;
pub mod searcher;

use crate::app::App;
use crate::config::web_search::Provider;
use serde_json::{Map, Value};

/// Results a search returns unless the caller asks otherwise (reference/platform.md §9.4).
pub const DEFAULT_MAX_RESULTS: usize = 5;

/// One search to run.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchQuery {
    pub query: String,
    pub max_results: usize,
    /// Only results from these domains (Anthropic's `allowed_domains`).
    pub allowed_domains: Vec<String>,
    /// Never results from these (Anthropic's `blocked_domains`).
    pub blocked_domains: Vec<String>,
}

impl SearchQuery {
    pub fn new(query: &str) -> SearchQuery {
        SearchQuery {
            query: query.to_string(),
            max_results: DEFAULT_MAX_RESULTS,
            allowed_domains: Vec::new(),
            blocked_domains: Vec::new(),
        }
    }
}

/// One result: where, what it is called, what it says, and how old it is when known.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchResult {
    pub url: String,
    pub title: String,
    pub snippet: String,
    pub page_age: Option<String>,
}

/// Why a search produced no results. Shown to the model and logged; never holds a key.
#[derive(Debug, Clone, PartialEq)]
pub enum SearchError {
    /// `--web-search off`.
    Disabled,
    /// The provider's key variable is not set.
    NoKey(&'static str),
    /// No catalog model serves `/responses` for Copilot's own search.
    NoModel,
    /// The provider answered with a non-2xx status.
    Http(u16),
    /// It did not answer within the timeout.
    Timeout,
    /// It could not be reached (DNS, connect, reset).
    Network(String),
    /// Copilot's search call failed.
    Upstream(String),
    /// It answered with something unreadable.
    BadAnswer(String),
    /// The query is empty.
    EmptyQuery,
}

impl std::fmt::Display for SearchError {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        match self {
            SearchError::Disabled => f.write_str("web search is turned off (--web-search off)"),
            SearchError::NoKey(var) => write!(f, "{var} is not set"),
            SearchError::NoModel => {
                f.write_str("no model of the catalog is served on /responses for Copilot search")
            }
            SearchError::Http(status) => write!(f, "HTTP {status}"),
            SearchError::Timeout => f.write_str("request timed out"),
            SearchError::Network(m) | SearchError::Upstream(m) | SearchError::BadAnswer(m) => {
                f.write_str(m)
            }
            SearchError::EmptyQuery => f.write_str("the search query is empty"),
        }
    }
}

impl SearchError {
    fn from_net(e: crate::upstream::client::NetError) -> SearchError {
        if e.0.starts_with("upstream timed out") {
            SearchError::Timeout
        } else {
            SearchError::Network(e.0)
        }
    }

    /// Anthropic's `error_code` of a `web_search_tool_result_error` for this failure.
    pub fn error_code(&self) -> &'static str {
        match self {
            SearchError::EmptyQuery => "invalid_tool_input",
            SearchError::Http(429) => "too_many_requests",
            _ => "unavailable",
        }
    }
}

/// Runs one search with the configured provider (Tavily, Brave or Copilot's own search).
pub fn search(app: &App, q: &SearchQuery) -> Result<Vec<SearchResult>, SearchError> {
    if q.query.trim().is_empty() {
        return Err(SearchError::EmptyQuery);
    }
    let s = &app.config.web_search;
    let q = &SearchQuery {
        max_results: q.max_results.clamp(1, 20),
        ..q.clone()
    };
    let started = std::time::Instant::now();
    let found = match s.provider {
        Provider::Tavily => providers::tavily(&app.upstream.http, s, q),
        Provider::Brave => providers::brave(&app.upstream.http, s, q),
        Provider::Copilot => copilot::search(app, s, q),
        Provider::Off => Err(SearchError::Disabled),
    }
    .map(|results| keep_domains(results, q));
    match &found {
        Ok(r) => crate::debug!(
            "web search ({}) for {:?}: {} result(s) in {} ms",
            s.provider.name(),
            q.query,
            r.len(),
            started.elapsed().as_millis()
        ),
        Err(e) => crate::warn!("web search ({}) failed: {e}", s.provider.name()),
    }
    found
}

/// Readies a `/v1/messages` body: search blocks of earlier turns are turned back into
/// what the model can read, and when the proxy serves this request's search tool, the tool
/// is replaced by the `web_search` function and the plan returned.
pub fn prepare_messages(
    app: &App,
    body: &mut Map<String, Value>,
    requested: &str,
) -> Option<detect::Plan> {
    let settings = &app.config.web_search;
    let plan = match detect::server_tool(body) {
        Some(_) if settings.provider == Provider::Off => {
            crate::info!(
                "web search is off (--web-search off): the server web_search tool is removed"
            );
            None
        }
        Some(plan) => Some(plan),
        None if settings.custom_tools && settings.provider != Provider::Off => {
            detect::custom_tool(body)
                .filter(|_| preflight::needs_search(app, body, requested))
                .map(|client_name| detect::Plan {
                    max_uses: detect::DEFAULT_MAX_USES,
                    allowed_domains: Vec::new(),
                    blocked_domains: Vec::new(),
                    client_name,
                })
        }
        None => None,
    };
    let restored = blocks::restore_history(body, plan.is_some());
    if restored > 0 {
        crate::debug!("{restored} earlier web search(es) restored for the model");
    }
    if let Some(plan) = &plan {
        detect::offer_function(body, plan);
    }
    plan
}

/// The domain filters applied to what came back as well: a provider that ignores them (or
/// Copilot's search, which has none) cannot leak a blocked site.
fn keep_domains(results: Vec<SearchResult>, q: &SearchQuery) -> Vec<SearchResult> {
    results
        .into_iter()
        .filter(|r| {
            let host = host_of(&r.url);
            let matches = |d: &String| {
                let d = d.trim().trim_start_matches("*.").to_ascii_lowercase();
                host == d || host.ends_with(&format!(".{d}"))
            };
            (q.allowed_domains.is_empty() || q.allowed_domains.iter().any(matches))
                && !q.blocked_domains.iter().any(matches)
        })
        .collect()
}

fn host_of(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = authority.rsplit('@').next().unwrap_or("");
    host.split(':').next().unwrap_or("").to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(url: &str) -> SearchResult {
        SearchResult {
            url: url.into(),
            title: String::new(),
            snippet: String::new(),
            page_age: None,
        }
    }

    #[test]
    fn domain_filters_match_subdomains_only_on_a_dot() {
        let q = SearchQuery {
            allowed_domains: vec!["rust-lang.org".into()],
            blocked_domains: vec!["blog.rust-lang.org".into()],
            ..SearchQuery::new("x")
        };
        let kept = keep_domains(
            vec![
                result("https://www.rust-lang.org/learn"),
                result("https://blog.rust-lang.org/2026/"),
                result("https://notrust-lang.org/"),
                result("https://rust-lang.org:443/x"),
            ],
            &q,
        );
        let urls: Vec<&str> = kept.iter().map(|r| r.url.as_str()).collect();
        assert_eq!(
            urls,
            [
                "https://www.rust-lang.org/learn",
                "https://rust-lang.org:443/x"
            ]
        );
    }

    #[test]
    fn errors_read_like_the_reference() {
        assert_eq!(SearchError::Http(502).to_string(), "HTTP 502");
        assert_eq!(SearchError::Timeout.to_string(), "request timed out");
        assert_eq!(SearchError::Timeout.error_code(), "unavailable");
        assert_eq!(SearchError::Http(429).error_code(), "too_many_requests");
    }
}
