//! The server: each request arrives from the listener (`listener`, our own HTTP/1.1
//! connection handling) on its connection's thread, runs under an in-flight cap, and is
//! answered here. Only this module and `listener` touch the wire.

pub mod auth;
pub mod listener;
pub mod shutdown;
pub mod tls;
mod websocket;

use crate::app::App;
use crate::http::{ApiError, Family, GoneProbe, Incoming, Outgoing};
use crate::routes;
use crate::warn;
use listener::{Limits, Listener, Request};
use std::io::Read;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

/// Handler threads need little stack; only touched pages count toward RSS. Debug builds
/// overflow below 256 KiB on deep JSON (reference/rust-stack.md §6).
const STACK_SIZE: usize = 512 * 1024;

/// A listening server: the listener, the address it is bound to, and what stops it
/// accepting.
pub struct Bound {
    pub listener: Listener,
    pub addr: std::net::SocketAddr,
    pub stopper: listener::Stopper,
}

/// Listens on `addr`; with `tls`, the port speaks HTTPS (the listener runs
/// `tls::handshake` on each connection).
pub fn bind(
    addr: std::net::SocketAddr,
    tls: Option<Arc<rustls::ServerConfig>>,
    config: &crate::config::Config,
) -> Result<Bound, String> {
    let limits = Limits {
        header_timeout: config.header_timeout,
        idle_timeout: config.idle_timeout,
        max_connections: config.max_connections,
        stack_size: STACK_SIZE,
    };
    let mut listener = Listener::bind(addr, limits)?;
    let stopper = listener.stopper();
    if let Some(config) = tls {
        listener = listener.with_tls(tls::handshake(config));
    }
    Ok(Bound {
        addr: listener.local_addr(),
        listener,
        stopper,
    })
}

/// Serves until the listener is stopped.
pub fn serve(app: Arc<App>, bound: Bound) {
    let Bound {
        listener, stopper, ..
    } = bound;
    let inflight = Arc::new(AtomicUsize::new(0));
    if let Err(e) = shutdown::on_signals(app.clone(), inflight.clone(), stopper) {
        warn!("{e}; SIGTERM/SIGINT will end the process at once");
    }
    let handler: Arc<listener::Handler> =
        Arc::new(move |rq: Request<'_>| admit(&app, &inflight, rq));
    listener.serve(handler);
    // Stopped: the graceful shutdown's drain thread ends the process once the requests in
    // flight are done (or their grace is over); until then they must keep running.
    loop {
        std::thread::park();
    }
}

/// Answers 503 above the in-flight cap, else handles the request under a slot.
fn admit(app: &Arc<App>, inflight: &Arc<AtomicUsize>, rq: Request<'_>) {
    if websocket::is_attempt(&rq) {
        // Not under a slot: a WebSocket takes one per running response (websocket/mod.rs).
        websocket::serve(app, inflight, rq);
        return;
    }
    if inflight.fetch_add(1, Ordering::AcqRel) >= app.config.max_inflight {
        inflight.fetch_sub(1, Ordering::AcqRel);
        let family = Family::for_path(path_of(rq.url()));
        let mut out = ApiError::NotReady(format!(
            "the proxy is serving {} requests, its limit (--max-inflight); retry shortly",
            app.config.max_inflight
        ))
        .to_response(family);
        out.headers.retain(|(k, _)| k != "Retry-After");
        out.headers.push(("Retry-After".into(), "1".into()));
        warn!(
            "{} {} refused: {} requests in flight",
            rq.method(),
            path_of(rq.url()),
            app.config.max_inflight
        );
        respond(rq, out, false);
        return;
    }
    let _slot = Slot(inflight.clone());
    handle(app, rq);
}

/// A place under the in-flight cap, given back when the request ends, however it ends.
struct Slot(Arc<AtomicUsize>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

fn path_of(url: &str) -> &str {
    url.split(['?', '#']).next().unwrap_or(url)
}

/// One request from arrival to the access-log line.
fn handle(app: &Arc<App>, mut rq: Request<'_>) {
    let started = Instant::now();
    let url = rq.url().to_string();
    let path = path_of(&url).to_string();
    let family = Family::for_path(&path);
    let incoming = Incoming {
        method: rq.method().to_ascii_uppercase(),
        headers: rq.headers().to_vec(),
        path: path.clone(),
        query: url
            .split_once('?')
            .map(|(_, q)| q.split('#').next().unwrap_or_default().to_string())
            .unwrap_or_default(),
        body: Vec::new(),
        probe: {
            let probe = rq.probe();
            GoneProbe::new(move || probe.client_gone())
        },
    };
    if crate::log::verbose() {
        crate::debug!(
            "{} {} {}",
            incoming.method,
            incoming.path,
            redacted_headers(&incoming.headers)
        );
    }
    let cors = auth::cors_headers(&app.config.cors_origins, &incoming);
    // An upgrade request (a WebSocket attempt, or h2c from `curl --http2`) is answered as
    // plain HTTP/1.1, and the connection closes after it: the client may switch protocols
    // on its side as soon as the answer is in.
    let upgrade = incoming
        .header("connection")
        .is_some_and(|c| c.to_ascii_lowercase().contains("upgrade"));
    // The key is checked before the body is read: a client without it must not make the
    // proxy read (and hold) up to --max-body-mb, nor get a `100 Continue` to send it.
    let denied = incoming.method != "OPTIONS"
        && !auth::is_public(&incoming.path)
        && !auth::authorized(&app.config.api_keys, &incoming);
    let body = if denied {
        Err(None)
    } else {
        read_body(&mut rq, app.config.max_body_bytes).map_err(Some)
    };
    let (mut out, close) = match body {
        Err(None) => (ApiError::Unauthorized.to_response(family), upgrade),
        Err(Some(e)) => (e.to_response(family), true),
        Ok(body) => {
            let incoming = Incoming { body, ..incoming };
            let mut out = match json_content_type(&incoming) {
                Ok(()) => dispatch(app, &incoming, family),
                Err(e) => e.to_response(family),
            };
            if out.model.is_none() && crate::accounting::api_of(&path).is_some() {
                // A refused completion request is accounted under the model it named.
                out.model = crate::accounting::requested_model(&incoming.body);
            }
            (out, upgrade)
        }
    };
    // While shutting down, each answer closes its connection, so that kept-alive clients
    // (a load balancer's pool) take their next request to another instance.
    let close = close || app.draining.load(Ordering::Acquire);
    out.headers.extend(cors);
    if family == Family::Anthropic {
        // Claude Code surfaces it as the request id of each turn.
        out.headers.push((
            "request-id".into(),
            format!("req_{:016x}", crate::ids::random_u64()),
        ));
    }
    let (method, status, model) = (rq.method().to_string(), out.status, out.model.take());
    let tally = out.tally.take();
    let route = routes::label(&path);
    app.metrics.request(route, status);
    let outcome = match out.take_stream() {
        Some(body) => {
            // HTTP/1.0 has no chunked encoding: raw body, closed at the end.
            let chunked = rq.version() == listener::head::Version::Http11;
            let outcome = body.run(rq.into_writer(), chunked, &out.headers);
            app.metrics.stream_ended(outcome);
            Some(outcome.name())
        }
        None => {
            respond(rq, out, close);
            None
        }
    };
    let ended = Ended {
        method: &method,
        path: &path,
        model: model.as_deref(),
        status,
        outcome,
        started,
    };
    account(app, &ended, tally);
}

/// What the access log and the usage ledger need of a request that has been answered.
pub(crate) struct Ended<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub model: Option<&'a str>,
    pub status: u16,
    /// How a stream ended, or None for a plain answer.
    pub outcome: Option<&'static str>,
    pub started: Instant,
}

/// Accounts a completion request (usage, cost, the duration histograms) and writes its
/// access-log line: for each HTTP request, and for each turn of a Responses WebSocket.
pub(crate) fn account(app: &App, e: &Ended, tally: Option<Arc<crate::accounting::Tally>>) {
    let catalog_model = e.model.and_then(|m| app.catalog.find(m));
    let usage = app.metrics.usage.finish(crate::accounting::Finished {
        path: e.path,
        route: routes::label(e.path),
        requested: e.model,
        model: catalog_model.as_ref().map(|m| crate::accounting::Resolved {
            id: &m.id,
            multiplier: m.multiplier,
        }),
        status: e.status,
        outcome: e.outcome,
        started: e.started,
        tally,
    });
    crate::log::access(&crate::log::Access {
        method: e.method,
        path: e.path,
        model: e.model,
        status: e.status,
        duration_ms: e.started.elapsed().as_secs_f64() * 1000.0,
        stream: e.outcome,
        usage,
    });
}

/// Request headers for the verbose log, credentials replaced by their redacted form.
fn redacted_headers(headers: &[(String, String)]) -> String {
    let secret = |name: &str| {
        matches!(
            name,
            "authorization" | "x-api-key" | "proxy-authorization" | "cookie"
        )
    };
    let shown: Vec<String> = headers
        .iter()
        .map(|(k, v)| {
            if secret(k) {
                format!("{k}: {}", crate::log::redact(v))
            } else {
                format!("{k}: {v}")
            }
        })
        .collect();
    shown.join("; ")
}

/// CORS preflight and routing (the key was checked in `handle`), with a panic in a
/// handler turned into a 500.
fn dispatch(app: &Arc<App>, rq: &Incoming, family: Family) -> Outgoing {
    if rq.method == "OPTIONS" {
        return Outgoing::bytes(204, "text/plain", Vec::new());
    }
    match catch_unwind(AssertUnwindSafe(|| routes::route(app, rq))) {
        Ok(Ok(out)) => out,
        Ok(Err(e)) => e.to_response(family),
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            crate::error!("handler for {} {} panicked: {what}", rq.method, rq.path);
            ApiError::Internal("internal error in the proxy; see its log".into())
                .to_response(family)
        }
    }
}

/// A body that declares a type must declare JSON: `text/xml` or `multipart/form-data` is a
/// client mistake. No type at all, and curl's default for `-d`
/// (`application/x-www-form-urlencoded`), are read as JSON, since people type
/// `curl -d '{...}'` without `-H`.
fn json_content_type(rq: &Incoming) -> Result<(), ApiError> {
    let Some(kind) = rq.header("content-type") else {
        return Ok(());
    };
    if rq.body.is_empty() {
        return Ok(());
    }
    let kind = kind
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if kind.is_empty()
        || kind.ends_with("/json")
        || kind.ends_with("+json")
        || kind == "application/x-www-form-urlencoded"
    {
        return Ok(());
    }
    Err(ApiError::BadRequest(format!(
        "Content-Type `{kind}` is not JSON; send application/json"
    )))
}

/// Reads the body, refusing more than `limit` bytes: by `Content-Length` before reading
/// (nothing is allocated from a declared size), or by counting a chunked body as it
/// arrives. The caller closes the connection after a refusal, so the rest is never read.
fn read_body(rq: &mut Request<'_>, limit: usize) -> Result<Vec<u8>, ApiError> {
    if rq.body_length().is_some_and(|n| n > limit as u64) {
        return Err(ApiError::TooLarge(limit));
    }
    let mut body = Vec::with_capacity(rq.body_length().unwrap_or(0) as usize);
    rq.take(limit as u64 + 1)
        .read_to_end(&mut body)
        .map_err(|e| ApiError::BadRequest(format!("could not read the request body: {e}")))?;
    if body.len() > limit {
        return Err(ApiError::TooLarge(limit));
    }
    Ok(body)
}

fn respond(rq: Request<'_>, out: Outgoing, close: bool) {
    let status = out.status;
    let headers = out.headers.clone();
    rq.respond(status, &headers, &out.into_body(), close);
}

#[cfg(test)]
mod tests {
    #[test]
    fn verbose_header_log_redacts_credentials() {
        let h = vec![
            (
                "authorization".to_string(),
                "Bearer sk-secret-123".to_string(),
            ),
            ("x-api-key".to_string(), "sk-other".to_string()),
            ("user-agent".to_string(), "curl".to_string()),
        ];
        let line = super::redacted_headers(&h);
        assert!(
            !line.contains("secret-123") && !line.contains("sk-other"),
            "{line}"
        );
        assert!(line.contains("user-agent: curl"));
    }
}
