//! The Copilot token lifecycle: exchange the GitHub token at `/copilot_internal/v2/token`,
//! refresh it on the wall clock before it expires, back off on failure, single-flight every
//! exchange, and refresh on demand when the upstream answers 401.
//!
//! The reference refreshes on a fixed timer from the first answer, busy-loops when
//! `refresh_in < 60` and dies (or serves 401s forever) after one failed refresh. Here the
//! schedule is recomputed from every answer, measured on the wall clock (so a laptop that
//! slept refreshes on wake), never faster than once a second, and failures only back off.

use crate::config::{Config, Endpoints, Versions};
use crate::ids::jitter;
use crate::upstream::client::Http;
use crate::upstream::headers;
use crate::{debug, error, info, warn};
use serde_json::Value;
use std::sync::MutexGuard;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Never exchange more often than this, whatever `refresh_in` says.
const MIN_INTERVAL: Duration = Duration::from_secs(1);
const BACKOFF_START: Duration = Duration::from_secs(1);
const BACKOFF_MAX: Duration = Duration::from_secs(60);
/// A request without a valid token keeps trying the exchange for this long...
const GET_BUDGET: Duration = Duration::from_secs(10);
/// ...pausing this long after the first failure, doubling after each up to `GET_RETRY_MAX`.
const GET_RETRY_START: Duration = Duration::from_millis(200);
const GET_RETRY_MAX: Duration = Duration::from_secs(1);
/// The refresher re-reads the wall clock at least this often, to notice a suspend.
const CLOCK_CHECK: Duration = Duration::from_secs(5);

#[derive(Debug)]
pub struct CopilotToken {
    pub value: String,
    /// The Copilot API base URL to use with this token.
    pub api_base: String,
    pub expires: SystemTime,
    refresh_at: SystemTime,
    /// Counts exchanges, so `force_refresh` can tell whether someone refreshed already.
    pub generation: u64,
}

/// Why an exchange failed.
#[derive(Debug, Clone)]
pub enum ExchangeError {
    /// GitHub refused the GitHub token itself (401/403) or the account has no Copilot
    /// (404): retrying cannot help; the user must log in again.
    Rejected(String),
    /// Network trouble or a server error: back off and retry.
    Transient(String),
}

impl ExchangeError {
    pub fn message(&self) -> &str {
        match self {
            ExchangeError::Rejected(m) | ExchangeError::Transient(m) => m,
        }
    }
}

pub struct TokenStore {
    github_token: String,
    endpoints: Endpoints,
    versions: Versions,
    show_token: bool,
    state: Mutex<State>,
    changed: Condvar,
}

#[derive(Default)]
struct State {
    current: Option<Arc<CopilotToken>>,
    refreshing: bool,
    generation: u64,
    failures: u32,
    next_attempt: Option<SystemTime>,
    last_error: Option<ExchangeError>,
}

impl TokenStore {
    pub fn new(config: &Config, github_token: String) -> Self {
        TokenStore {
            github_token,
            endpoints: config.endpoints.clone(),
            versions: config.versions.clone(),
            show_token: config.show_token,
            state: Mutex::new(State::default()),
            changed: Condvar::new(),
        }
    }

    /// A token valid now: the current one, or a fresh one if it has expired (for example
    /// after the machine slept through the scheduled refresh).
    ///
    /// With no valid token, a request waits for the exchange; a transient failure is tried
    /// again for up to ten seconds (single flight: concurrent requests share each attempt,
    /// and a failure shared with the refresher counts too, so the budget is time, not a
    /// number of attempts), so a few failed exchanges on waking from sleep, or while a
    /// short-lived token ran out, do not fail the requests waiting on it.
    pub fn get(&self, http: &Http) -> Result<Arc<CopilotToken>, ExchangeError> {
        if let Some(t) = self.valid() {
            return Ok(t);
        }
        self.retrying(|| self.refresh(http, None), || self.valid())
    }

    /// Runs `attempt` until it succeeds, fails for good, or `GET_BUDGET` has passed,
    /// pausing between transient failures; `ready` ends the wait early when another
    /// thread got a token meanwhile.
    fn retrying(
        &self,
        attempt: impl Fn() -> Result<Arc<CopilotToken>, ExchangeError>,
        ready: impl Fn() -> Option<Arc<CopilotToken>>,
    ) -> Result<Arc<CopilotToken>, ExchangeError> {
        let deadline = Instant::now() + GET_BUDGET;
        let mut pause = GET_RETRY_START;
        loop {
            match attempt() {
                Err(ExchangeError::Transient(_)) if Instant::now() + pause < deadline => {
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(GET_RETRY_MAX);
                    if let Some(t) = ready() {
                        return Ok(t);
                    }
                }
                done => return done,
            }
        }
    }

    /// The current token if it has not expired.
    pub fn valid(&self) -> Option<Arc<CopilotToken>> {
        let state = crate::sync::lock(&self.state);
        state
            .current
            .clone()
            .filter(|t| SystemTime::now() < t.expires)
    }

    /// Called when the upstream answered 401 to a request made with token generation
    /// `seen`: exchanges again unless another thread already did; a transient failure is
    /// tried again as in `get`, since replaying the refused token cannot succeed.
    pub fn force_refresh(
        &self,
        http: &Http,
        seen: u64,
    ) -> Result<Arc<CopilotToken>, ExchangeError> {
        let newer = || self.valid().filter(|t| t.generation != seen);
        self.retrying(|| self.refresh(http, Some(seen)), newer)
    }

    /// Single-flight exchange. With `seen`, returns the current token instead when it is
    /// newer than `seen` (another thread already exchanged after that 401).
    fn refresh(&self, http: &Http, seen: Option<u64>) -> Result<Arc<CopilotToken>, ExchangeError> {
        self.refresh_with(seen, || self.exchange(http))
    }

    /// `refresh` with the exchange as a parameter, so tests can make it fail or panic.
    fn refresh_with(
        &self,
        seen: Option<u64>,
        exchange: impl FnOnce() -> Result<CopilotToken, ExchangeError>,
    ) -> Result<Arc<CopilotToken>, ExchangeError> {
        let mut state = crate::sync::lock(&self.state);
        if state.refreshing {
            // Another thread is exchanging: wait for its outcome and share it.
            let before = state.generation;
            while state.refreshing {
                state = crate::sync::wait(&self.changed, state);
            }
            return match (&state.current, &state.last_error) {
                (Some(t), _) if t.generation != before => Ok(t.clone()),
                (_, Some(e)) => Err(e.clone()),
                (Some(t), None) => Ok(t.clone()),
                (None, None) => Err(ExchangeError::Transient("no Copilot token yet".into())),
            };
        }
        // A 401 for the current generation always exchanges, however recent the last
        // exchange: Copilot just refused this token, and replaying it fails the request.
        // Storms are stopped by the single flight above, not by a minimum interval.
        if let (Some(seen), Some(current)) = (seen, &state.current) {
            if current.generation != seen {
                return Ok(current.clone());
            }
        }
        state.refreshing = true;
        drop(state);
        let flight = Flight(self);
        let result = exchange();
        let mut state = flight.land();
        let result = match result {
            Ok(mut token) => {
                state.generation += 1;
                token.generation = state.generation;
                let token = Arc::new(token);
                state.next_attempt = Some(token.refresh_at);
                state.current = Some(token.clone());
                state.failures = 0;
                state.last_error = None;
                Ok(token)
            }
            Err(e) => {
                state.failures += 1;
                let pause = backoff(state.failures);
                state.next_attempt = Some(SystemTime::now() + pause);
                state.last_error = Some(e.clone());
                error!(
                    "Copilot token exchange failed (attempt {}): {}; next try in {:.1} s",
                    state.failures,
                    e.message(),
                    pause.as_secs_f64()
                );
                Err(e)
            }
        };
        self.changed.notify_all();
        result
    }

    fn exchange(&self, http: &Http) -> Result<CopilotToken, ExchangeError> {
        let url = format!("{}/copilot_internal/v2/token", self.endpoints.github_api);
        let reply = http
            .call(
                "GET",
                &url,
                &headers::github(&self.versions, &self.github_token),
                None,
            )
            .map_err(|e| ExchangeError::Transient(e.0))?;
        let text = String::from_utf8_lossy(&reply.body);
        match reply.status {
            200..=299 => {}
            401 | 403 => {
                return Err(ExchangeError::Rejected(format!(
                    "GitHub rejected the GitHub token (HTTP {}); run `copilot-api auth` to log in again",
                    reply.status
                )));
            }
            404 => {
                return Err(ExchangeError::Rejected(
                    "this GitHub account has no Copilot access (HTTP 404 from the token exchange)"
                        .into(),
                ));
            }
            s => {
                return Err(ExchangeError::Transient(format!(
                    "HTTP {s} from the token exchange: {}",
                    text.chars().take(200).collect::<String>()
                )));
            }
        }
        let v: Value = serde_json::from_slice(&reply.body).map_err(|_| {
            ExchangeError::Transient("the token exchange answered with invalid JSON".into())
        })?;
        let token = parse_token(&v, SystemTime::now(), &self.endpoints)?;
        if self.show_token {
            info!("Copilot token: {}", token.value);
        }
        debug!(
            "Copilot token {} obtained; base {}, refresh in {} s",
            crate::log::redact(&token.value),
            token.api_base,
            token
                .refresh_at
                .duration_since(SystemTime::now())
                .unwrap_or_default()
                .as_secs()
        );
        Ok(token)
    }

    /// Keeps the token fresh until the process ends. Runs on its own thread.
    pub fn run_refresher(&self, http: &Http) {
        loop {
            let due = crate::sync::lock(&self.state).next_attempt;
            let now = SystemTime::now();
            match due {
                Some(due) if now < due => {
                    let left = due.duration_since(now).unwrap_or_default();
                    std::thread::sleep(left.min(CLOCK_CHECK));
                }
                _ => {
                    if let Err(ExchangeError::Rejected(m)) = self.refresh(http, None) {
                        warn!("{m}");
                    }
                }
            }
        }
    }

    /// For `/readyz` and the metrics: whether a valid token exists, and the last error.
    pub fn health(&self) -> (bool, Option<String>) {
        let state = crate::sync::lock(&self.state);
        let valid = state
            .current
            .as_ref()
            .is_some_and(|t| SystemTime::now() < t.expires);
        (
            valid,
            state.last_error.as_ref().map(|e| e.message().to_string()),
        )
    }
}

/// An exchange in progress. Landing clears `refreshing`; so does dropping it unlanded (the
/// exchange panicked), which also wakes the waiters with an error: a flag left set would
/// block every later refresh forever, a hang `catch_unwind` cannot see.
struct Flight<'a>(&'a TokenStore);

impl<'a> Flight<'a> {
    fn land(self) -> MutexGuard<'a, State> {
        let mut state = crate::sync::lock(&self.0.state);
        state.refreshing = false;
        std::mem::forget(self);
        state
    }
}

impl Drop for Flight<'_> {
    fn drop(&mut self) {
        let mut state = crate::sync::lock(&self.0.state);
        state.refreshing = false;
        state.failures += 1;
        state.next_attempt = Some(SystemTime::now() + backoff(state.failures));
        state.last_error = Some(ExchangeError::Transient(
            "the Copilot token exchange failed inside the proxy".into(),
        ));
        self.0.changed.notify_all();
    }
}

fn backoff(failures: u32) -> Duration {
    let exp = BACKOFF_START.saturating_mul(1 << failures.saturating_sub(1).min(16));
    exp.min(BACKOFF_MAX).mul_f64(jitter(0.25))
}

/// Reads the exchange answer and computes when to refresh: the earlier of `refresh_in - 60`
/// and `expires_at - 120`; for short-lived tokens (where that is under half of
/// `refresh_in`) at half of `refresh_in`; never under `MIN_INTERVAL`.
fn parse_token(
    v: &Value,
    now: SystemTime,
    endpoints: &Endpoints,
) -> Result<CopilotToken, ExchangeError> {
    let value = v
        .get("token")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            ExchangeError::Transient("the token exchange answered without a token".into())
        })?
        .to_string();
    let now_secs = now
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let refresh_in = v.get("refresh_in").and_then(Value::as_i64);
    let expires_in = v
        .get("expires_at")
        .and_then(Value::as_i64)
        .map(|e| e - now_secs);
    let refresh_in = refresh_in.or(expires_in.map(|e| e - 60)).unwrap_or(0);
    // A clock that runs ahead of GitHub's would make `expires_at` look past; trust
    // `refresh_in` then.
    let valid_for = match expires_in {
        Some(e) if e > 0 => e,
        _ => refresh_in.max(60),
    };
    let mut delay = (refresh_in - 60).min(valid_for - 120);
    if delay < refresh_in / 2 {
        delay = refresh_in / 2;
    }
    let delay = Duration::from_secs(delay.max(0) as u64).max(MIN_INTERVAL);
    let api_base = v
        .pointer("/endpoints/api")
        .and_then(Value::as_str)
        .filter(|u| allowed_api_host(u, endpoints.enterprise.as_deref()));
    let api_base = match (&endpoints.copilot_override, api_base) {
        (Some(o), _) => o.clone(),
        (None, Some(u)) => u.trim_end_matches('/').to_string(),
        (None, None) => endpoints.copilot_fallback.clone(),
    };
    Ok(CopilotToken {
        value,
        api_base,
        expires: now + Duration::from_secs(valid_for.max(1) as u64),
        refresh_at: now + delay,
        generation: 0,
    })
}

/// The Copilot token is only ever sent to `https://*.githubcopilot.com` or, for GitHub
/// Enterprise Cloud, to a host under the configured domain.
fn allowed_api_host(url: &str, enterprise: Option<&str>) -> bool {
    let Some(rest) = url.strip_prefix("https://") else {
        return false;
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    if host.contains(['@', ':']) {
        return false;
    }
    let under = |domain: &str| host.ends_with(&format!(".{domain}"));
    under("githubcopilot.com") || enterprise.is_some_and(under)
}

#[cfg(test)]
mod tests;
