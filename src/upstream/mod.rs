//! Everything that talks to GitHub and Copilot. `Upstream` pairs the HTTP client with the
//! token store so that every Copilot call gets a valid token and one 401 replay.

pub mod call;
pub mod catalog;
pub mod client;
pub mod effort;
mod error;
pub mod github;
pub mod headers;
pub mod token;

use crate::config::{Config, Versions};
use client::{Http, Reply};
pub use error::UpstreamError;
use token::{ExchangeError, TokenStore};

pub struct Upstream {
    pub http: Http,
    pub tokens: TokenStore,
    pub versions: Versions,
    github_api: String,
    github_token: String,
}

impl Upstream {
    pub fn new(config: &Config, http: Http, github_token: String) -> Self {
        Upstream {
            tokens: TokenStore::new(config, github_token.clone()),
            http,
            versions: config.versions.clone(),
            github_api: config.endpoints.github_api.clone(),
            github_token,
        }
    }

    /// A call to the Copilot API (`path` like `/models`). On a 401 the token is refreshed
    /// once and the call replayed: the token may have been revoked or expired early.
    pub fn copilot(
        &self,
        method: &str,
        path: &str,
        body: Option<&[u8]>,
        extra: &[(&'static str, String)],
    ) -> Result<Reply, UpstreamError> {
        let send = |value: &str, api_base: &str| {
            let mut headers = headers::copilot(&self.versions, value);
            headers.extend(extra.iter().cloned());
            let url = format!("{api_base}{path}");
            self.http
                .call(method, &url, &headers, body)
                .map_err(|e| UpstreamError::Unreachable(e.0))
        };
        let token = self.tokens.get(&self.http).map_err(not_ready)?;
        let reply = send(&token.value, &token.api_base)?;
        if reply.status != 401 {
            return Ok(reply);
        }
        crate::warn!("Copilot answered 401 on {path}; refreshing the token and replaying once");
        let token = self
            .tokens
            .force_refresh(&self.http, token.generation)
            .map_err(not_ready)?;
        send(&token.value, &token.api_base)
    }

    /// A GET on api.github.com with the GitHub token (`/copilot_internal/user`).
    pub fn github(&self, path: &str) -> Result<Reply, UpstreamError> {
        let url = format!("{}{path}", self.github_api);
        let headers = headers::github(&self.versions, &self.github_token);
        self.http
            .call("GET", &url, &headers, None)
            .map_err(|e| UpstreamError::Unreachable(e.0))
    }
}

pub(crate) fn not_ready(e: ExchangeError) -> UpstreamError {
    UpstreamError::NoToken(format!("no valid Copilot token: {}", e.message()))
}

/// An upstream reply as an error unless it is a 2xx.
pub fn ok_or_forward(reply: Reply) -> Result<Reply, UpstreamError> {
    if (200..300).contains(&reply.status) {
        Ok(reply)
    } else {
        Err(UpstreamError::Status {
            status: reply.status,
            body: reply.body,
            content_type: reply.content_type,
            retry_after: reply.retry_after,
        })
    }
}
