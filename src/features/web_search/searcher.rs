//! One client request's searches: each call the model makes becomes a search with the
//! configured provider (unless `max_uses` are spent), the blocks the client sees and the
//! result the model reads; the counts for the request's log line.

use super::blocks;
use super::detect::Plan;
use super::{SearchError, SearchQuery, SearchResult};
use crate::app::App;
use serde_json::{Value, json};
use std::sync::Arc;

/// Passes beyond `max_uses` + 1 mean a model that keeps calling a withdrawn tool.
const EXTRA_PASSES: usize = 2;

/// A search call the model made: its tool_use id and input.
#[derive(Debug, Clone)]
pub(crate) struct Call {
    pub id: String,
    pub input: Value,
}

/// What one search produced: the two blocks the client sees and the tool result the
/// model reads.
pub(crate) struct Ran {
    pub server_tool_use: Value,
    pub result: Value,
    pub tool_result: Value,
}

/// Runs the searches and keeps the counts of one client request.
pub(crate) struct Searcher {
    app: Arc<App>,
    pub plan: Plan,
    /// Searches attempted (what `max_uses` limits).
    attempted: usize,
    /// Searches that returned results (`usage.server_tool_use.web_search_requests`).
    pub succeeded: usize,
    pub upstream_calls: usize,
}

impl Searcher {
    pub fn new(app: Arc<App>, plan: Plan) -> Searcher {
        Searcher {
            app,
            plan,
            attempted: 0,
            succeeded: 0,
            upstream_calls: 0,
        }
    }

    pub fn exhausted(&self) -> bool {
        self.attempted >= self.plan.max_uses
    }

    /// Whether another pass may be sent (a model that keeps searching is cut off).
    pub fn may_continue(&self) -> bool {
        self.upstream_calls <= self.plan.max_uses + EXTRA_PASSES
    }

    /// Runs each call in order; those beyond `max_uses` get `max_uses_exceeded`.
    pub fn run(&mut self, calls: &[Call]) -> Vec<Ran> {
        calls.iter().map(|call| self.run_one(call)).collect()
    }

    pub fn run_one(&mut self, call: &Call) -> Ran {
        let id = blocks::server_tool_id();
        let query = call_query(&call.input);
        let found = self.lookup(&query);
        let result = match &found {
            Found::Results(results) => blocks::result_block(&id, results),
            Found::Failed(e) => blocks::error_block(&id, e.error_code()),
            Found::Exceeded => blocks::error_block(&id, "max_uses_exceeded"),
        };
        Ran {
            server_tool_use: blocks::server_tool_use(&id, &query),
            result,
            tool_result: json!({"type": "tool_result", "tool_use_id": call.id,
                                "content": found.model_text(&query)}),
        }
    }

    /// One search, unless `max_uses` are spent.
    pub fn lookup(&mut self, query: &str) -> Found {
        if self.exhausted() {
            return Found::Exceeded;
        }
        self.attempted += 1;
        let q = SearchQuery {
            allowed_domains: self.plan.allowed_domains.clone(),
            blocked_domains: self.plan.blocked_domains.clone(),
            ..SearchQuery::new(query)
        };
        match super::search(&self.app, &q) {
            Ok(results) => {
                self.succeeded += 1;
                Found::Results(results)
            }
            Err(e) => Found::Failed(e),
        }
    }

    /// The request's log line: what the searches cost.
    pub fn log(&self, requested: &str) {
        crate::info!(
            "web search for {requested}: {} search(es) ({} with results), {} upstream call(s)",
            self.attempted,
            self.succeeded,
            self.upstream_calls
        );
    }
}

/// What one search found.
pub(crate) enum Found {
    Results(Vec<SearchResult>),
    Failed(SearchError),
    /// `max_uses` searches already ran.
    Exceeded,
}

impl Found {
    /// What the model reads as the function's result.
    pub fn model_text(&self, query: &str) -> String {
        match self {
            Found::Results(results) => blocks::results_text(query, results),
            Found::Failed(SearchError::EmptyQuery) => {
                blocks::failure_text("could not parse search query.")
            }
            Found::Failed(e) => blocks::failure_text(&e.to_string()),
            Found::Exceeded => {
                blocks::failure_text("the maximum number of searches for this request was reached")
            }
        }
    }
}

/// The `query` of a call's input (trimmed; empty when missing).
pub(crate) fn call_query(input: &Value) -> String {
    input
        .get("query")
        .and_then(Value::as_str)
        .unwrap_or("")
        .trim()
        .to_string()
}
