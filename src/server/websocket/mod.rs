//! Codex's Responses API over WebSocket on `GET /v1/responses` (and `/responses`).
//!
//! Codex's built-in provider opens this socket first (`supports_websockets`,
//! codex-rs/model-provider-info/src/lib.rs) and sends one `response.create` frame per turn
//! (codex-rs/codex-api/src/common.rs, endpoint/responses_websocket.rs). Each frame becomes an
//! ordinary `POST /v1/responses` through the route table, so the upstream stays HTTPS/SSE
//! (Copilot's own WebSocket is reported unreliable) with the same routing, retries, token
//! refresh, watchdog and limits; its events come back as text frames (`frames.rs`).
//! Incremental turns are rebuilt per connection (`turns.rs`). Each turn passes the traffic
//! gate (`features::admission`, through the Responses route) like an HTTP request. A running
//! response holds a place under `--max-inflight`; an idle connection does not. A connection lives at most
//! `--websocket-max-age` (60 minutes, then `websocket_connection_limit_reached`, as OpenAI
//! documents); `--no-websocket` answers the upgrade 426 so Codex falls back to HTTP at once.

mod frames;
mod handshake;
mod turns;

use super::listener::Request;
use super::{Slot, auth, path_of};
use crate::app::App;
use crate::http::{ApiError, Family, GoneProbe, Incoming, Outcome, Outgoing};
use crate::routes;
use crate::{debug, info, warn};
use frames::{FrameWriter, Socket, lock};
use std::io::Write;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tungstenite::Message;
use tungstenite::protocol::frame::CloseFrame;
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::protocol::{Role, WebSocket, WebSocketConfig};
use turns::{Capture, Frame, Turn};

/// Headers of the handshake that describe the socket, not the turns sent over it.
const HOP_HEADERS: [&str; 8] = [
    "connection",
    "upgrade",
    "sec-websocket-key",
    "sec-websocket-version",
    "sec-websocket-extensions",
    "sec-websocket-protocol",
    "content-length",
    "transfer-encoding",
];

/// A WebSocket upgrade attempt on the Responses path.
pub(super) fn is_attempt(rq: &Request<'_>) -> bool {
    handshake::is_responses_path(path_of(rq.url()))
        && rq.headers().iter().any(|(k, v)| {
            k == "upgrade"
                && v.split(',')
                    .any(|p| p.trim().eq_ignore_ascii_case("websocket"))
        })
}

/// Answers the handshake (426, 401, 400 or 101) and serves the connection until it ends.
pub(super) fn serve(app: &Arc<App>, inflight: &Arc<AtomicUsize>, rq: Request<'_>) {
    // Lets a turn waiting in a rate-limit or approval queue notice that the client left.
    let probe = rq.probe();
    let incoming = Incoming {
        method: rq.method().to_ascii_uppercase(),
        path: path_of(rq.url()).to_string(),
        headers: rq.headers().to_vec(),
        ..Incoming::default()
    };
    let refused = if app.config.no_websocket {
        // Codex falls back to HTTP for the session at once on a 426.
        Err(Outgoing::json(
            426,
            &serde_json::json!({"error": {
                "message": "WebSockets are off on this proxy (--no-websocket); use POST /v1/responses",
                "type": "invalid_request_error", "code": "websocket_disabled"}}),
        ))
    } else if !auth::authorized(&app.config.api_keys, &incoming) {
        Err(ApiError::Unauthorized.to_response(Family::OpenAi))
    } else {
        handshake::accept_key(&incoming.method, &incoming.headers).map_err(|m| {
            ApiError::BadRequest(format!("bad WebSocket handshake: {m}"))
                .to_response(Family::OpenAi)
        })
    };
    let key = match refused {
        Ok(key) => key,
        Err(out) => {
            app.metrics
                .request(routes::label(&incoming.path), out.status);
            info!("GET {} (websocket) refused: {}", incoming.path, out.status);
            refuse(rq, out);
            return;
        }
    };
    app.metrics.request(routes::label(&incoming.path), 101);
    let mut stream = rq.upgrade();
    let head = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {key}\r\n\r\n"
    );
    if stream
        .write_all(head.as_bytes())
        .and_then(|_| stream.flush())
        .is_err()
    {
        debug!("websocket: the client left during the handshake");
        return;
    }
    let limit = app.config.max_body_bytes;
    let config = WebSocketConfig::default()
        .max_message_size(Some(limit))
        .max_frame_size(Some(limit));
    let socket: Socket = Arc::new(Mutex::new(WebSocket::from_raw_socket(
        stream,
        Role::Server,
        Some(config),
    )));
    info!("GET {} websocket opened", incoming.path);
    let mut session = Session {
        app,
        inflight,
        socket,
        headers: incoming
            .headers
            .into_iter()
            .filter(|(k, _)| !HOP_HEADERS.contains(&k.as_str()))
            .collect(),
        probe: GoneProbe::new(move || probe.client_gone()),
        opened: Instant::now(),
        last: None,
        responses: 0,
    };
    session.run();
    info!(
        "websocket closed after {} responses, {:.1}s",
        session.responses,
        session.opened.elapsed().as_secs_f64()
    );
}

/// Answers a refused handshake and closes the connection: `Connection: close` tells Codex
/// not to reuse it (the connection cannot serve another request after an upgrade attempt).
fn refuse(rq: Request<'_>, out: Outgoing) {
    let status = out.status;
    let mut headers = out.headers.clone();
    if status == 426 {
        headers.push(("Upgrade".into(), "websocket".into()));
    }
    rq.respond(status, &headers, &out.into_body(), true);
}

struct Session<'a> {
    app: &'a Arc<App>,
    inflight: &'a Arc<AtomicUsize>,
    socket: Socket,
    /// The handshake's headers (user agent, Codex's session ids, the API key), given to
    /// every turn as if it had come over HTTP.
    headers: Vec<(String, String)>,
    probe: GoneProbe,
    opened: Instant,
    last: Option<Turn>,
    responses: u64,
}

#[derive(PartialEq)]
enum Next {
    Continue,
    Close,
}

impl Session<'_> {
    fn run(&mut self) {
        loop {
            let read = lock(&self.socket).read();
            let next = match read {
                Ok(Message::Text(text)) => self.on_text(text.as_str()),
                Ok(Message::Binary(_)) => {
                    debug!("websocket: binary frame ignored");
                    Next::Continue
                }
                // Pongs and close replies are queued by tungstenite and leave on a flush.
                Ok(_) => Next::Continue,
                Err(tungstenite::Error::Io(e))
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    // A socket read timeout (the listener's idle limit): nothing arrived.
                    if self.too_old() {
                        self.limit_reached();
                        Next::Close
                    } else {
                        Next::Continue
                    }
                }
                Err(tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed) => {
                    Next::Close
                }
                Err(e) => {
                    debug!("websocket ended: {e}");
                    Next::Close
                }
            };
            if next == Next::Close {
                return;
            }
            let _ = lock(&self.socket).flush();
        }
    }

    fn too_old(&self) -> bool {
        self.opened.elapsed() >= self.app.config.websocket_max_age
    }

    fn send_text(&self, text: String) -> bool {
        let mut ws = lock(&self.socket);
        ws.send(Message::text(text)).is_ok()
    }

    /// The documented end of a connection past its age limit: an error Codex retries on a
    /// new connection, then a close.
    fn limit_reached(&self) {
        let minutes = self.app.config.websocket_max_age.as_secs_f64() / 60.0;
        self.send_text(turns::error_frame(
            400,
            "invalid_request_error",
            "websocket_connection_limit_reached",
            &format!(
                "Responses websocket connection limit reached ({minutes:.0} minutes). Create a new websocket connection to continue."
            ),
        ));
        let _ = lock(&self.socket).close(Some(CloseFrame {
            code: CloseCode::Normal,
            reason: "connection limit reached".into(),
        }));
        let _ = lock(&self.socket).flush();
    }

    fn on_text(&mut self, text: &str) -> Next {
        let (mut body, generate) = match turns::parse_frame(text) {
            Frame::Create { body, generate } => (body, generate),
            Frame::Ignored(kind) => {
                debug!("websocket: `{kind}` frame ignored");
                return Next::Continue;
            }
            Frame::Invalid(message) => {
                let frame =
                    turns::error_frame(400, "invalid_request_error", "invalid_frame", &message);
                return self.keep_open(self.send_text(frame));
            }
        };
        if self.too_old() {
            self.limit_reached();
            return Next::Close;
        }
        let app = self.app;
        let input = match turns::rebuild(&mut body, self.last.as_ref(), |id| app.responses.get(id))
        {
            Ok(input) => input,
            Err(id) => {
                let frame = turns::error_frame(
                    400,
                    "invalid_request_error",
                    "previous_response_not_found",
                    &format!("Previous response with id '{id}' not found."),
                );
                return self.keep_open(self.send_text(frame));
            }
        };
        if !generate {
            return self.prewarm(&body, input);
        }
        self.respond(body, input)
    }

    fn keep_open(&self, sent: bool) -> Next {
        if sent { Next::Continue } else { Next::Close }
    }

    /// `generate: false`: Codex preloads instructions and tools; nothing to ask the model.
    fn prewarm(
        &mut self,
        body: &serde_json::Map<String, serde_json::Value>,
        input: Vec<serde_json::Value>,
    ) -> Next {
        let id = format!("resp_{:016x}", crate::ids::random_u64());
        let [created, completed] = turns::prewarm_events(body, &id);
        let sent = self.send_text(created.to_string()) && self.send_text(completed.to_string());
        self.last = Some(Turn {
            response_id: id,
            items: input,
        });
        self.keep_open(sent)
    }

    /// Accounts one turn as an HTTP request is (usage, cost, the access-log line), so a
    /// Codex session over the WebSocket shows in `/metrics` and the dashboard like one
    /// over HTTP.
    fn account(
        &self,
        requested: &str,
        status: u16,
        outcome: Option<&'static str>,
        started: Instant,
        tally: Option<Arc<crate::accounting::Tally>>,
    ) {
        let ended = super::Ended {
            method: "WS",
            path: "/v1/responses",
            model: Some(requested),
            status,
            outcome,
            started,
        };
        super::account(self.app, &ended, tally);
    }

    /// One `response.create`: a `POST /v1/responses` through the route table, its events
    /// relayed as frames.
    fn respond(
        &mut self,
        body: serde_json::Map<String, serde_json::Value>,
        input: Vec<serde_json::Value>,
    ) -> Next {
        let started = Instant::now();
        let max = self.app.config.max_inflight;
        if self.inflight.fetch_add(1, Ordering::AcqRel) >= max {
            self.inflight.fetch_sub(1, Ordering::AcqRel);
            warn!("websocket response refused: {max} requests in flight");
            let frame = turns::error_frame(
                503,
                "server_error",
                "server_busy",
                &format!(
                    "the proxy is serving {max} requests, its limit (--max-inflight); retry shortly"
                ),
            );
            return self.keep_open(self.send_text(frame));
        }
        let _slot = Slot(self.inflight.clone());
        self.responses += 1;
        let model = body
            .get("model")
            .and_then(serde_json::Value::as_str)
            .unwrap_or("-")
            .to_string();
        let mut headers = self.headers.clone();
        headers.push(("content-type".into(), "application/json".into()));
        let rq = Incoming {
            method: "POST".into(),
            path: "/v1/responses".into(),
            headers,
            body: serde_json::Value::Object(body).to_string().into_bytes(),
            probe: self.probe.clone(),
            ..Incoming::default()
        };
        let routed = catch_unwind(AssertUnwindSafe(|| routes::route(self.app, &rq)));
        let mut out = match routed {
            Ok(Ok(out)) => out,
            Ok(Err(e)) => e.to_response(Family::OpenAi),
            Err(_) => {
                crate::error!("handler for a websocket response panicked");
                ApiError::Internal("internal error in the proxy; see its log".into())
                    .to_response(Family::OpenAi)
            }
        };
        self.app.metrics.request("/v1/responses", out.status);
        let (status, tally) = (out.status, out.tally.take());
        let requested = out.model.take().unwrap_or(model);
        let Some(body) = out.take_stream() else {
            let retry_after = out
                .headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("retry-after"))
                .map(|(_, v)| v.clone());
            let bytes = out.into_body();
            let frame = if status >= 400 {
                turns::error_frame_from(status, &bytes, retry_after.as_deref())
            } else {
                String::from_utf8_lossy(&bytes).into_owned()
            };
            self.account(&requested, status, None, started, tally);
            return self.keep_open(self.send_text(frame));
        };
        let capture = Arc::new(Mutex::new(Capture::default()));
        let writer = FrameWriter::new(self.socket.clone(), capture.clone());
        // The stream runs as over HTTP/1.0 (raw SSE after a head); the writer turns it into
        // frames (frames.rs).
        let outcome = body.run(Box::new(writer), false, &[]);
        self.app.metrics.stream_ended(outcome);
        self.account(&requested, status, Some(outcome.name()), started, tally);
        let capture = std::mem::take(&mut *capture.lock().unwrap_or_else(|e| e.into_inner()));
        if let Some(turn) = capture.into_turn(input) {
            self.last = Some(turn);
        }
        if outcome == Outcome::ClientGone {
            Next::Close
        } else {
            Next::Continue
        }
    }
}
