//! The listener: tiny_http accepts, each request runs on its own named thread under an
//! in-flight cap, and every response is written here. Only this module touches tiny_http.

pub mod auth;
pub mod probe;
pub mod shutdown;
pub mod tls;
mod websocket;
mod workers;

use crate::app::App;
use crate::http::{ApiError, Family, GoneProbe, Incoming, Outgoing};
use crate::routes;
use crate::warn;
use std::io::Read;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;
use tiny_http::{Header, Request, Response, Server};

/// Handler threads need little stack; only touched pages count toward RSS. Debug builds
/// overflow below 256 KiB on deep JSON (reference/rust-stack.md §6).
const STACK_SIZE: usize = 512 * 1024;
/// tiny_http 0.12 drains an unread body on drop into one buffer of the remaining size:
/// a declared `Content-Length` of a terabyte aborts the process on that allocation. Above
/// this size we answer and keep the request's reader from ever being dropped (the
/// connection is then abandoned; the client closes it).
const DRAIN_MAX: usize = 1 << 30;

/// Pending connections the kernel may queue before `accept`.
const BACKLOG: i32 = 1024;

/// A listening server: tiny_http, the address it is bound to, and what stops it accepting.
pub struct Bound {
    pub server: Server,
    pub addr: std::net::SocketAddr,
    pub stopper: shutdown::Stopper,
}

/// Listens on `addr`; with `tls`, the port speaks HTTPS (`tls::front` terminates it in
/// front of tiny_http).
pub fn bind(
    addr: std::net::SocketAddr,
    tls: Option<(std::sync::Arc<rustls::ServerConfig>, usize)>,
) -> Result<Bound, String> {
    let listener = listen_socket(addr)?;
    let bound = listener.local_addr().unwrap_or(addr);
    let stopper = shutdown::Stopper::new(&listener);
    let server = match tls {
        None => Server::from_listener(listener, None),
        Some((config, max_connections)) => {
            let stopping = stopper.stopping.clone();
            Server::from_listener(
                tls::front(listener, config, max_connections, stopping)?,
                None,
            )
        }
    };
    let server = server.map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    Ok(Bound {
        server,
        addr: bound,
        stopper,
    })
}

fn listen_socket(addr: std::net::SocketAddr) -> Result<std::net::TcpListener, String> {
    use socket2::{Domain, Socket, Type};
    let fail = |e: std::io::Error| format!("cannot listen on {addr}: {e}");
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None).map_err(fail)?;
    socket.set_reuse_address(true).map_err(fail)?;
    socket.set_tcp_nodelay(true).map_err(fail)?;
    socket.bind(&addr.into()).map_err(fail)?;
    socket.listen(BACKLOG).map_err(fail)?;
    Ok(std::net::TcpListener::from(socket))
}

/// Serves until the process ends.
pub fn serve(app: Arc<App>, bound: Bound) {
    let Bound {
        server, stopper, ..
    } = bound;
    let stopping = stopper.stopping.clone();
    let inflight = Arc::new(AtomicUsize::new(0));
    if let Err(e) = shutdown::on_signals(app.clone(), inflight.clone(), stopper) {
        warn!("{e}; SIGTERM/SIGINT will end the process at once");
    }
    // Behind the TLS front tiny_http listens on a Unix socket: no port, no probe.
    let port = server.server_addr().to_ip().map(|a| a.port());
    let handler = Box::new(move |rq: Request| admit(&app, &inflight, port, rq));
    workers::Workers::serve(server, STACK_SIZE, handler, stopping);
}

/// Answers 503 above the in-flight cap, else handles the request under a slot.
fn admit(app: &Arc<App>, inflight: &Arc<AtomicUsize>, port: Option<u16>, rq: Request) {
    let Some(rq) = refuse_huge_body(rq, app.config.max_body_bytes) else {
        return;
    };
    if websocket::is_attempt(&rq) {
        // Not under a slot: a WebSocket takes one per running response (websocket/mod.rs).
        websocket::serve(app, inflight, port, rq);
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
    handle(app, rq, port);
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
fn handle(app: &Arc<App>, mut rq: Request, port: Option<u16>) {
    let started = Instant::now();
    let url = rq.url().to_string();
    let path = path_of(&url).to_string();
    let family = Family::for_path(&path);
    let incoming = Incoming {
        method: rq.method().as_str().to_ascii_uppercase(),
        headers: rq
            .headers()
            .iter()
            .map(|h| {
                (
                    h.field.as_str().as_str().to_ascii_lowercase(),
                    h.value.as_str().to_string(),
                )
            })
            .collect(),
        path: path.clone(),
        query: url
            .split_once('?')
            .map(|(_, q)| q.split('#').next().unwrap_or_default().to_string())
            .unwrap_or_default(),
        body: Vec::new(),
        probe: {
            let probe = probe::ClientProbe::new(rq.remote_addr().copied(), port);
            GoneProbe::new(move || probe.gone())
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
    // tiny_http hands over the raw socket as the body of an upgrade request (a WebSocket
    // attempt, or h2c from `curl --http2`): only the declared length may be read, and the
    // connection cannot serve another request after it.
    let upgrade = incoming
        .header("connection")
        .is_some_and(|c| c.to_ascii_lowercase().contains("upgrade"));
    let (mut out, close) = match read_body(&mut rq, app.config.max_body_bytes, upgrade) {
        Err(e) => (e.to_response(family), true),
        Ok(body) => {
            let incoming = Incoming { body, ..incoming };
            (dispatch(app, &incoming, family), upgrade)
        }
    };
    out.headers.extend(cors);
    if family == Family::Anthropic {
        // Claude Code surfaces it as the request id of each turn.
        out.headers.push((
            "request-id".into(),
            format!("req_{:016x}", crate::ids::random_u64()),
        ));
    }
    let (method, status, model) = (rq.method().to_string(), out.status, out.model.take());
    app.metrics.request(&path, status);
    let outcome = match out.stream.take() {
        Some(body) => {
            // HTTP/1.0 has no chunked encoding: raw body, closed at the end.
            let chunked = *rq.http_version() != tiny_http::HTTPVersion(1, 0);
            let outcome = body.run(rq.into_writer(), chunked, &out.headers);
            app.metrics.stream_ended(outcome);
            Some(outcome.name())
        }
        None => {
            respond(rq, out, close);
            None
        }
    };
    crate::log::access(&crate::log::Access {
        method: &method,
        path: &path,
        model: model.as_deref(),
        status,
        duration_ms: started.elapsed().as_secs_f64() * 1000.0,
        stream: outcome,
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

/// Auth, CORS preflight and routing, with a panic in a handler turned into a 500.
fn dispatch(app: &Arc<App>, rq: &Incoming, family: Family) -> Outgoing {
    if rq.method == "OPTIONS" {
        return Outgoing::bytes(204, "text/plain", Vec::new());
    }
    if !auth::is_public(&rq.path) && !auth::authorized(&app.config.api_keys, rq) {
        return ApiError::Unauthorized.to_response(family);
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

/// Reads the body, refusing more than `limit` bytes: by `Content-Length` before reading,
/// or by counting a chunked body as it arrives.
fn read_body(rq: &mut Request, limit: usize, upgrade: bool) -> Result<Vec<u8>, ApiError> {
    if rq.body_length().is_some_and(|n| n > limit) {
        return Err(ApiError::TooLarge(limit));
    }
    let mut body = Vec::with_capacity(rq.body_length().unwrap_or(0));
    let readable = match (upgrade, rq.body_length()) {
        (true, Some(n)) => n as u64,
        (true, None) => 0,
        (false, _) => limit as u64 + 1,
    };
    rq.as_reader()
        .take(readable)
        .read_to_end(&mut body)
        .map_err(|e| ApiError::BadRequest(format!("could not read the request body: {e}")))?;
    if body.len() > limit {
        return Err(ApiError::TooLarge(limit));
    }
    Ok(body)
}

/// Answers a request whose declared body is too large for tiny_http to drain safely (see
/// `DRAIN_MAX`) and returns None; passes every other request on.
fn refuse_huge_body(rq: Request, limit: usize) -> Option<Request> {
    if rq.body_length().is_none_or(|n| n <= DRAIN_MAX) {
        return Some(rq);
    }
    warn!(
        "{} {}: declared body of {:?} bytes refused",
        rq.method(),
        path_of(rq.url()),
        rq.body_length()
    );
    let family = Family::for_path(path_of(rq.url()));
    let out = ApiError::TooLarge(limit).to_response(family);
    let response = to_response(out, true);
    // `upgrade` hands us the reader together with the writer; forgetting that stream is
    // what keeps tiny_http from draining (and allocating) the declared size.
    std::mem::forget(rq.upgrade("close", response));
    None
}

fn respond(rq: Request, out: Outgoing, close: bool) {
    let _ = rq.respond(to_response(out, close));
}

fn to_response(out: Outgoing, close: bool) -> Response<std::io::Cursor<Vec<u8>>> {
    let status = out.status;
    let mut headers = out.headers.clone();
    if close {
        headers.push(("Connection".into(), "close".into()));
    }
    let mut response = Response::from_data(out.into_body()).with_status_code(status);
    for (k, v) in headers {
        if let Ok(h) = Header::from_bytes(k.as_bytes(), v.as_bytes()) {
            response.add_header(h);
        }
    }
    response
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
