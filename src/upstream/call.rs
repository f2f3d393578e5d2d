//! Completion calls to Copilot: one attempt loop with the retry policy, the 401 token
//! replay, and the classification of upstream errors into what the client should see.
//!
//! Retries happen only here, before anything has been written to the client: transient
//! statuses (408, 429, 5xx) and connection failures, up to 5 attempts, 750 ms doubling or
//! the upstream's `Retry-After`. Deterministic 400s are never retried.

use crate::accounting::tally::{Tally, Tap};
use crate::metrics::Metrics;
use crate::upstream::client::{self, Lease, MAX_BODY, describe_error};
use crate::upstream::headers;
use crate::upstream::{Upstream, UpstreamError};
use crate::warn;
use serde_json::Value;
use std::io::Read;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime};

const MAX_ATTEMPTS: u32 = 5;
const BACKOFF_START: Duration = Duration::from_millis(750);
/// A `Retry-After` longer than this is not waited out: the client gets the 429 and the
/// header, and decides.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// A 2xx upstream response whose body has not been read yet, the lease on the agent
/// that owns its connection (so a watchdog can cancel it), and the request's accounting,
/// which reading the body fills.
pub struct Opened {
    pub response: ureq::http::Response<ureq::Body>,
    pub lease: Lease,
    pub tally: Arc<Tally>,
}

/// A stream's upstream body: the bytes as they come, shown to the request's tally.
pub type StreamReader = Tap<ureq::BodyReader<'static>>;

impl Opened {
    pub fn read_all(self) -> Result<Vec<u8>, UpstreamError> {
        let mut body = Vec::new();
        self.response
            .into_body()
            .into_reader()
            .take(MAX_BODY)
            .read_to_end(&mut body)
            .map_err(|e| {
                UpstreamError::Unreachable(format!("reading the upstream answer failed: {e}"))
            })?;
        self.lease.release();
        self.tally.observe_body(&body);
        Ok(body)
    }

    /// The body to stream and the lease to release once the stream ended cleanly.
    pub fn into_parts(self) -> (StreamReader, Lease) {
        let reader = Tap::new(self.response.into_body().into_reader(), self.tally);
        (reader, self.lease)
    }

    /// Accounts this answer to an earlier call's tally (the route sent the same request
    /// again), so that one request's answers add up.
    pub fn continuing(mut self, tally: &Arc<Tally>) -> Opened {
        tally.next_answer();
        self.tally = tally.clone();
        self
    }

    /// For a request that makes several calls (a search loop): the first answer's tally
    /// goes into `slot`, and every later answer is accounted to it.
    pub fn accounted_in(self, slot: &OnceLock<Arc<Tally>>) -> Opened {
        match slot.get() {
            Some(tally) => self.continuing(tally),
            None => {
                let _ = slot.set(self.tally.clone());
                self
            }
        }
    }
}

impl Upstream {
    /// POSTs `body` to the Copilot API path with retries; returns the first 2xx response.
    pub fn post(
        &self,
        path: &str,
        body: &[u8],
        extra: &[(&'static str, String)],
        metrics: &Metrics,
    ) -> Result<Opened, UpstreamError> {
        let mut token = self.tokens.get(&self.http).map_err(super::not_ready)?;
        let mut replayed_401 = false;
        // Set once Copilot rejected the reasoning effort: the body sent again without it.
        let mut without_effort: Option<Vec<u8>> = None;
        let mut attempt = 1;
        loop {
            let lease = self.http.agents.take();
            let agent = lease.agent();
            let mut hdrs = headers::copilot(&self.versions, &token.value);
            // A route's header replaces the default of the same name (e.g. `openai-intent`).
            hdrs.retain(|(k, _)| !extra.iter().any(|(e, _)| e == k));
            hdrs.extend(extra.iter().cloned());
            if attempt > 1 || replayed_401 {
                // A request the proxy makes on its own is the agent's (DESIGN.md §4).
                hdrs.iter_mut()
                    .filter(|(k, _)| *k == "x-initiator")
                    .for_each(|(_, v)| *v = "agent".into());
            }
            let url = format!("{}{path}", token.api_base);
            let request = client::post(agent, &url, &hdrs);
            let (wait, what) = match request.send(without_effort.as_deref().unwrap_or(body)) {
                Err(e) if matches!(e, ureq::Error::Timeout(_)) => {
                    return Err(UpstreamError::Timeout(format!(
                        "Copilot did not answer in time ({}); see --first-byte-timeout",
                        describe_error(&e)
                    )));
                }
                Err(e) => match retryable_network(&e) {
                    true if attempt < MAX_ATTEMPTS => (backoff(attempt), describe_error(&e)),
                    _ => return Err(UpstreamError::Unreachable(describe_error(&e))),
                },
                Ok(response) => {
                    let status = response.status().as_u16();
                    metrics.upstream_status(status);
                    metrics
                        .usage
                        .limits
                        .observe(|name| client::header(&response, name));
                    if (200..300).contains(&status) {
                        let tally = Tally::new(endpoint(path), user_turn(extra));
                        return Ok(Opened {
                            response,
                            lease,
                            tally,
                        });
                    }
                    let failure = Failure::read(response);
                    lease.release();
                    if without_effort.is_none()
                        && super::effort::rejects_effort(status, &failure.body)
                    {
                        if let Some(stripped) = super::effort::strip(body) {
                            warn!(
                                "Copilot rejected the reasoning effort on {path}; retrying once without it"
                            );
                            without_effort = Some(stripped);
                            continue;
                        }
                    }
                    if status == 401 && !replayed_401 {
                        replayed_401 = true;
                        warn!(
                            "Copilot answered 401 on {path}; refreshing the token and replaying once"
                        );
                        token = self
                            .tokens
                            .force_refresh(&self.http, token.generation)
                            .map_err(super::not_ready)?;
                        continue;
                    }
                    match failure.retry_wait(attempt) {
                        Some(wait) if attempt < MAX_ATTEMPTS => (wait, format!("HTTP {status}")),
                        _ => return Err(failure.into_error()),
                    }
                }
            };
            metrics.retry();
            warn!(
                "Copilot {path}: {what} on attempt {attempt}/{MAX_ATTEMPTS}; retrying in {} ms",
                wait.as_millis()
            );
            std::thread::sleep(wait);
            attempt += 1;
        }
    }
}

/// The Copilot endpoint as a fixed label (`/chat/completions`, `/responses`, ...).
fn endpoint(path: &str) -> &'static str {
    match path {
        "/chat/completions" => "/chat/completions",
        "/responses" => "/responses",
        "/v1/messages" => "/v1/messages",
        "/embeddings" => "/embeddings",
        _ => "other",
    }
}

/// Whether the route sent this call as a user turn (a retry is still that turn).
fn user_turn(extra: &[(&'static str, String)]) -> bool {
    extra
        .iter()
        .any(|(k, v)| *k == "x-initiator" && v == "user")
}

/// Connection-level failures worth another try. A timeout is not one: the upstream was
/// reached and went silent, and the stall limits already waited long enough.
fn retryable_network(e: &ureq::Error) -> bool {
    use std::io::ErrorKind::*;
    match e {
        ureq::Error::Io(io) => matches!(
            io.kind(),
            ConnectionReset | ConnectionAborted | ConnectionRefused | UnexpectedEof | BrokenPipe
        ),
        ureq::Error::ConnectionFailed => true,
        _ => false,
    }
}

fn backoff(attempt: u32) -> Duration {
    BACKOFF_START * 2u32.pow(attempt - 1)
}

/// A non-2xx upstream answer, read in full.
struct Failure {
    status: u16,
    body: Vec<u8>,
    content_type: String,
    retry_after: Option<String>,
}

impl Failure {
    fn read(response: ureq::http::Response<ureq::Body>) -> Failure {
        let header = |name: &str| client::header(&response, name);
        let (content_type, retry_after) = (
            header("content-type").unwrap_or_default(),
            header("retry-after"),
        );
        let status = response.status().as_u16();
        let mut body = Vec::new();
        let _ = response
            .into_body()
            .into_reader()
            .take(1 << 20)
            .read_to_end(&mut body);
        Failure {
            status,
            body,
            content_type,
            retry_after,
        }
    }

    /// How long to wait before retrying, or None when this answer is final.
    fn retry_wait(&self, attempt: u32) -> Option<Duration> {
        let transient = matches!(self.status, 408 | 429 | 500 | 502 | 503 | 504)
            || (self.status == 400 && retryable_400(&self.body));
        if !transient {
            return None;
        }
        match self.retry_after.as_deref().map(parse_retry_after) {
            Some(Some(wait)) if wait > MAX_RETRY_AFTER => None,
            Some(Some(wait)) => Some(wait),
            _ => Some(backoff(attempt)),
        }
    }

    fn into_error(self) -> UpstreamError {
        classify(self.status, self.body, self.content_type, self.retry_after)
    }
}

/// Copilot's `invalid_request_body` 400 is sometimes transient, except for the messages
/// that describe the request itself (reference/platform.md §11.4).
fn retryable_400(body: &[u8]) -> bool {
    let Ok(v) = serde_json::from_slice::<Value>(body) else {
        return false;
    };
    if v.pointer("/error/code").and_then(Value::as_str) != Some("invalid_request_body") {
        return false;
    }
    let message = v
        .pointer("/error/message")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_ascii_lowercase();
    const DETERMINISTIC: [&str; 8] = [
        "assistant message prefill",
        "must end with a user message",
        "must be a response to a preceeding message",
        "must be a response to a preceding message",
        "must have a corresponding tool_use",
        "unexpected tool_use_id",
        "exceeds the limit",
        "exceeds the maximum",
    ];
    !DETERMINISTIC.iter().any(|p| message.contains(p))
}

/// `Retry-After` as seconds or an HTTP date.
fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(SystemTime::now()).unwrap_or_default())
}

/// Maps an upstream error answer to what the client sees.
pub fn classify(
    status: u16,
    body: Vec<u8>,
    content_type: String,
    retry_after: Option<String>,
) -> UpstreamError {
    if status == 466 {
        return UpstreamError::VersionRejected;
    }
    let text = String::from_utf8_lossy(&body).to_string();
    if is_context_window(status, &text) {
        let message = serde_json::from_str::<Value>(&text)
            .ok()
            .and_then(|v| {
                v.pointer("/error/message")
                    .and_then(Value::as_str)
                    .map(str::to_string)
            })
            .unwrap_or_else(|| {
                "the request exceeds the model's context window; shorten the conversation".into()
            });
        return UpstreamError::ContextWindow {
            message,
            too_large: status == 413,
        };
    }
    UpstreamError::Status {
        status,
        body,
        content_type,
        retry_after,
    }
}

fn is_context_window(status: u16, text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    if status == 413 {
        return !lower.contains("failed to parse request");
    }
    const PHRASES: [&str; 6] = [
        "exceeds the context window",
        "context_length_exceeded",
        "maximum context length",
        "input exceeds",
        "exceeds the limit",
        "model_max_prompt_tokens_exceeded",
    ];
    (400..500).contains(&status) && PHRASES.iter().any(|p| lower.contains(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(status: u16, body: &str, retry_after: Option<&str>) -> Failure {
        Failure {
            status,
            body: body.as_bytes().to_vec(),
            content_type: String::new(),
            retry_after: retry_after.map(Into::into),
        }
    }

    #[test]
    fn which_answers_are_retried_and_how_long_we_wait() {
        assert_eq!(
            failure(429, "", None).retry_wait(1),
            Some(Duration::from_millis(750))
        );
        assert_eq!(
            failure(503, "", None).retry_wait(3),
            Some(Duration::from_millis(3000))
        );
        assert_eq!(
            failure(429, "", Some("2")).retry_wait(1),
            Some(Duration::from_secs(2))
        );
        assert_eq!(
            failure(429, "", Some("0")).retry_wait(1),
            Some(Duration::ZERO)
        );
        assert_eq!(failure(429, "", Some("3600")).retry_wait(1), None);
        assert_eq!(
            failure(400, r#"{"error":{"message":"x"}}"#, None).retry_wait(1),
            None
        );
        assert_eq!(failure(404, "", None).retry_wait(1), None);
        let transient = r#"{"error":{"code":"invalid_request_body","message":"try again"}}"#;
        assert!(failure(400, transient, None).retry_wait(1).is_some());
        let fixed = r#"{"error":{"code":"invalid_request_body","message":"tool_result must have a corresponding tool_use block"}}"#;
        assert_eq!(failure(400, fixed, None).retry_wait(1), None);
    }

    #[test]
    fn retry_after_as_http_date() {
        let later = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(30));
        let wait = parse_retry_after(&later).unwrap();
        assert!(
            wait > Duration::from_secs(27) && wait <= Duration::from_secs(30),
            "{wait:?}"
        );
        assert_eq!(parse_retry_after("soon"), None);
    }

    #[test]
    fn classification() {
        assert!(matches!(
            classify(466, vec![], String::new(), None),
            UpstreamError::VersionRejected
        ));
        let ctx = r#"{"error":{"message":"prompt token count of 140000 exceeds the limit of 128000","code":"model_max_prompt_tokens_exceeded"}}"#;
        match classify(400, ctx.into(), String::new(), None) {
            UpstreamError::ContextWindow { message, too_large } => {
                assert!(message.contains("140000") && !too_large)
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            classify(413, b"too big".to_vec(), String::new(), None),
            UpstreamError::ContextWindow {
                too_large: true,
                ..
            }
        ));
        assert!(matches!(
            classify(
                413,
                b"failed to parse request".to_vec(),
                String::new(),
                None
            ),
            UpstreamError::Status { status: 413, .. }
        ));
        assert!(matches!(
            classify(500, vec![], String::new(), None),
            UpstreamError::Status { status: 500, .. }
        ));
    }
}
