//! The only place that builds the upstream's ureq agents and requests: trust store,
//! outbound proxy, buffer sizes, timeouts, headers. Every upstream call goes through `Http`
//! (answers read whole) or `post` (the streamed completions of `call.rs`); the `health`
//! command's one-shot probe of a local proxy has an agent of its own.

use crate::config::Config;
use std::io::Read;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use ureq::config::Config as AgentConfig;
use ureq::tls::{Certificate, PemItem, RootCerts, TlsConfig};
use ureq::typestate::WithBody;
use ureq::{Agent, Proxy, RequestBuilder};

/// ureq's default 128 KiB buffers cost ~640 KB per TLS stream (4 buffers per connection);
/// 16 KiB brings 200 streams from 131 MB to 41 MB (reference/rust-stack.md §6).
const BUFFER_SIZE: usize = 16 * 1024;
/// GitHub and catalog calls are small; a stuck one must not hold the refresher forever.
const SHORT_CALL_TIMEOUT: Duration = Duration::from_secs(30);
/// Largest upstream body we read into memory (JSON answers, error bodies).
pub const MAX_BODY: u64 = 64 * 1024 * 1024;

pub struct Http {
    /// Shared agent for short calls (token, user, usage, models); its pool keeps connections.
    short: Agent,
    /// Agents for completion calls, which may take minutes.
    pub agents: Arc<AgentPool>,
    pub trust: TrustSummary,
    /// The outbound proxy, described without credentials, or None.
    pub proxy: Option<String>,
}

/// What the trust store holds, for `debug` and the start-up log.
#[derive(Debug, Clone)]
pub struct TrustSummary {
    pub native_roots: usize,
    pub extra_file: Option<String>,
    pub extra_roots: usize,
    pub native_errors: Vec<String>,
}

/// A completed upstream exchange: status, the headers we care about, and the body.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub content_type: String,
    pub retry_after: Option<String>,
    pub body: Vec<u8>,
    /// Copilot's `x-usage-ratelimit-*` headers, by name, when the answer carried them.
    pub limit_headers: Vec<(&'static str, String)>,
}

/// An upstream call that produced no HTTP status: DNS, connect, TLS, reset, timeout.
#[derive(Debug)]
pub struct NetError(pub String);

impl std::fmt::Display for NetError {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl Http {
    pub fn new(config: &Config) -> Result<Self, String> {
        let (roots, trust) = root_certs(config.ca_file.as_deref())?;
        let proxy = if config.proxy_env {
            proxy_from_env(&|k| std::env::var(k).ok())
        } else {
            None
        };
        let described = proxy.as_ref().map(describe_proxy);
        let base = || {
            Agent::config_builder()
                .tls_config(TlsConfig::builder().root_certs(roots.clone()).build())
                .proxy(proxy.clone())
                .http_status_as_error(false)
                .input_buffer_size(BUFFER_SIZE)
                .output_buffer_size(BUFFER_SIZE)
                .user_agent(config.versions.user_agent.as_str())
                .timeout_connect(Some(Duration::from_secs(10)))
        };
        let short = Agent::new_with_config(base().timeout_global(Some(SHORT_CALL_TIMEOUT)).build());
        // No total budget on completions: a healthy generation may run for many minutes.
        // The response head must come within the first-byte limit; after that
        // `timeout_per_read` (restarted by every read) only catches a stalled upstream, and
        // streams also have a watchdog applying the shorter stall limit.
        let t = config.stream_timing;
        let long = base()
            .timeout_recv_response(Some(t.first_byte))
            .timeout_per_read(Some(t.first_byte.max(t.stall)))
            .build();
        Ok(Http {
            short,
            agents: Arc::new(AgentPool {
                config: long,
                idle: Mutex::new(Vec::new()),
            }),
            trust,
            proxy: described,
        })
    }

    /// GET or POST on the short-call agent, body read in full.
    pub fn call(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, String)],
        body: Option<&[u8]>,
    ) -> Result<Reply, NetError> {
        send(&self.short, method, url, headers, body, None)
    }

    /// Like `call`, but the whole exchange must finish within `limit` (web-search
    /// providers, which get seconds, not the short calls' 30).
    pub fn call_within(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, String)],
        body: Option<&[u8]>,
        limit: Duration,
    ) -> Result<Reply, NetError> {
        send(&self.short, method, url, headers, body, Some(limit))
    }
}

/// Agents for completion calls. Each call holds one agent (with its own connection pool)
/// for its duration, so that a watchdog's `shutdown()` cancels that call and nothing else;
/// an agent whose call ended cleanly goes back here, so its warm TLS connection serves
/// the next call instead of a new handshake.
pub struct AgentPool {
    config: AgentConfig,
    idle: Mutex<Vec<Agent>>,
}

/// Idle agents kept; more would only hold idle connections open.
const MAX_IDLE_AGENTS: usize = 32;

impl AgentPool {
    pub fn take(self: &Arc<Self>) -> Lease {
        let idle = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        Lease {
            agent: idle.unwrap_or_else(|| Agent::new_with_config(self.config.clone())),
            pool: self.clone(),
        }
    }
}

/// One call's agent. `release` after a clean end; a cancelled agent is just dropped.
pub struct Lease {
    agent: Agent,
    pool: Arc<AgentPool>,
}

impl Lease {
    pub fn agent(&self) -> &Agent {
        &self.agent
    }

    /// Interrupts any read on this call's connection, from another thread.
    pub fn canceller(&self) -> Box<dyn Fn() + Send + Sync> {
        let agent = self.agent.clone();
        Box::new(move || agent.clone().shutdown())
    }

    pub fn release(self) {
        let mut idle = self.pool.idle.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() < MAX_IDLE_AGENTS {
            idle.push(self.agent);
        }
    }
}

pub fn send(
    agent: &Agent,
    method: &str,
    url: &str,
    headers: &[(&str, String)],
    body: Option<&[u8]>,
    limit: Option<Duration>,
) -> Result<Reply, NetError> {
    let result = match method {
        "GET" => {
            let mut req = headers
                .iter()
                .fold(agent.get(url), |r, (k, v)| r.header(*k, v.as_str()));
            if let Some(limit) = limit {
                req = req.config().timeout_global(Some(limit)).build();
            }
            req.call()
        }
        _ => {
            let mut req = post(agent, url, headers);
            if let Some(limit) = limit {
                req = req.config().timeout_global(Some(limit)).build();
            }
            req.send(body.unwrap_or_default())
        }
    };
    let mut resp = result.map_err(|e| NetError(describe_error(&e)))?;
    let header = |name: &str| header(&resp, name);
    let content_type = header("content-type").unwrap_or_default();
    let retry_after = header("retry-after");
    let limit_headers = crate::accounting::limits::WINDOWS
        .iter()
        .filter_map(|(_, name)| Some((*name, header(name)?)))
        .collect();
    let status = resp.status().as_u16();
    let mut body = Vec::new();
    resp.body_mut()
        .as_reader()
        .take(MAX_BODY)
        .read_to_end(&mut body)
        .map_err(|e| NetError(format!("reading the upstream body failed: {e}")))?;
    Ok(Reply {
        status,
        content_type,
        retry_after,
        body,
        limit_headers,
    })
}

/// A POST with these headers, ready to send: the one way a POST is built, whether its
/// answer is read whole (`send`) or streamed (`Upstream::post`).
pub fn post(agent: &Agent, url: &str, headers: &[(&str, String)]) -> RequestBuilder<WithBody> {
    headers
        .iter()
        .fold(agent.post(url), |r, (k, v)| r.header(*k, v.as_str()))
}

/// A response header as text; None when absent or not visible ASCII.
pub fn header(response: &ureq::http::Response<ureq::Body>, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// A ureq error as a log-safe sentence (ureq never puts credentials in its messages, and
/// URLs we call carry none).
pub fn describe_error(e: &ureq::Error) -> String {
    match e {
        ureq::Error::Timeout(t) => format!("upstream timed out ({t})"),
        ureq::Error::Io(io) => format!("upstream connection failed: {io}"),
        ureq::Error::HostNotFound => "upstream host not found (DNS)".into(),
        other => format!("upstream request failed: {other}"),
    }
}

/// The outbound proxy from `ALL_PROXY`, `HTTPS_PROXY`, `HTTP_PROXY` (upper or lower case, in
/// that order, as ureq reads them) with `NO_PROXY`, plus loopback always going direct: a
/// proxy elsewhere cannot reach this machine's loopback (an upstream override pointing at
/// a local service, as the tests do).
fn proxy_from_env(env: &dyn Fn(&str) -> Option<String>) -> Option<Proxy> {
    let either = |name: &str| {
        env(name)
            .or_else(|| env(&name.to_ascii_lowercase()))
            .filter(|v| !v.trim().is_empty())
    };
    let url = ["ALL_PROXY", "HTTPS_PROXY", "HTTP_PROXY"]
        .into_iter()
        .find_map(either)?;
    let found = match Proxy::new(url.trim()) {
        Ok(p) => p,
        Err(e) => {
            crate::warn!("ignoring the proxy variable: {e}");
            return None;
        }
    };
    let mut builder = Proxy::builder(found.protocol())
        .host(found.host())
        .port(found.port());
    if let Some(user) = found.username() {
        builder = builder.username(user);
    }
    if let Some(password) = found.password() {
        builder = builder.password(password);
    }
    let no_proxy = either("NO_PROXY").unwrap_or_default();
    for entry in
        no_proxy
            .split(',')
            .map(str::trim)
            .chain(["localhost", "127.0.0.1", "::1", "[::1]"])
    {
        if !entry.is_empty() {
            builder = builder.no_proxy(entry);
        }
    }
    builder.build().ok()
}

/// `http://host:port` of a proxy, never its user or password.
fn describe_proxy(p: &Proxy) -> String {
    let scheme = format!("{:?}", p.protocol()).to_lowercase();
    format!("{scheme}://{}:{}", p.host(), p.port())
}

/// The operating system's roots (rustls-native-certs honours SSL_CERT_FILE/SSL_CERT_DIR)
/// plus an extra PEM bundle. Falls back to the bundled Mozilla roots when both are empty
/// (e.g. a scratch container without /etc/ssl).
fn root_certs(extra: Option<&std::path::Path>) -> Result<(RootCerts, TrustSummary), String> {
    let found = rustls_native_certs::load_native_certs();
    let mut certs: Vec<Certificate<'static>> = found
        .certs
        .iter()
        .map(|c| Certificate::from_der(c.as_ref()).to_owned())
        .collect();
    let native_roots = certs.len();
    let mut extra_roots = 0;
    if let Some(path) = extra {
        let pem = std::fs::read(path).map_err(|e| format!("--ca-file {}: {e}", path.display()))?;
        for item in ureq::tls::parse_pem(&pem) {
            match item.map_err(|e| format!("--ca-file {}: {e}", path.display()))? {
                PemItem::Certificate(c) => {
                    certs.push(c);
                    extra_roots += 1;
                }
                _ => continue,
            }
        }
        if extra_roots == 0 {
            return Err(format!(
                "--ca-file {}: no certificate found in the file",
                path.display()
            ));
        }
    }
    let summary = TrustSummary {
        native_roots,
        extra_file: extra.map(|p| p.display().to_string()),
        extra_roots,
        native_errors: found.errors.iter().map(|e| e.to_string()).collect(),
    };
    let roots = if certs.is_empty() {
        RootCerts::WebPki
    } else {
        RootCerts::Specific(Arc::new(certs))
    };
    Ok((roots, summary))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxy_from_env_keeps_credentials_no_proxy_and_bypasses_loopback() {
        let env = |k: &str| match k {
            "https_proxy" => Some("http://user:pw@proxy.corp:8080".to_string()),
            "NO_PROXY" => Some("internal.corp, .svc".to_string()),
            _ => None,
        };
        let p = proxy_from_env(&env).unwrap();
        assert_eq!((p.host(), p.port()), ("proxy.corp", 8080));
        assert_eq!((p.username(), p.password()), (Some("user"), Some("pw")));
        assert_eq!(describe_proxy(&p), "http://proxy.corp:8080");
        let direct = |url: &str| p.is_no_proxy(&url.parse().unwrap());
        assert!(
            direct("http://127.0.0.1:9/x")
                && direct("http://localhost/")
                && direct("https://internal.corp/")
        );
        assert!(direct("https://a.svc/"));
        assert!(!direct("https://api.githubcopilot.com/"));
        assert!(proxy_from_env(&|_| None).is_none());
    }
}
