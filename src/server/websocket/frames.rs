//! The WebSocket side of the stream relay: the Responses route produces its stream as an
//! `EventStream` (the same relay loop, watchdog, keepalives and terminal events as over
//! HTTP), run here as raw SSE (`Sse { chunked: false }`, what an HTTP/1.0 client gets);
//! this writer turns each SSE event into one JSON text frame, as Codex reads them (no `event:`/`data:`
//! lines, no `[DONE]`; codex-rs/codex-api/src/endpoint/responses_websocket.rs), and the
//! relay's keepalive comments into WebSocket pings, and notes what the events say about the
//! response for the connection's next turn.

use super::turns::Capture;
use crate::server::listener::Upgraded;
use crate::sse::Parser;
use std::io::{self, Write};
use std::sync::{Arc, Mutex};
use tungstenite::protocol::WebSocket;
use tungstenite::{Bytes, Message};

/// The socket, shared by the connection loop (between responses) and the writer (during one).
pub type Socket = Arc<Mutex<WebSocket<Upgraded>>>;

/// Locks the socket; a panic elsewhere must not wedge the connection.
pub fn lock(socket: &Socket) -> std::sync::MutexGuard<'_, WebSocket<Upgraded>> {
    socket.lock().unwrap_or_else(|e| e.into_inner())
}

/// An `io::Write` for `EventStream::run`, writing frames to the socket.
pub struct FrameWriter {
    socket: Socket,
    /// `EventStream::run` starts with an HTTP response head, meant for an HTTP client; it is
    /// dropped (the socket already said 101) up to its blank line.
    head: Option<Vec<u8>>,
    parser: Parser,
    capture: Arc<Mutex<Capture>>,
}

impl FrameWriter {
    pub fn new(socket: Socket, capture: Arc<Mutex<Capture>>) -> FrameWriter {
        FrameWriter {
            socket,
            head: Some(Vec::new()),
            parser: Parser::default(),
            capture,
        }
    }

    fn send(&mut self, messages: Vec<Message>) -> io::Result<()> {
        if messages.is_empty() {
            return Ok(());
        }
        let mut ws = lock(&self.socket);
        for m in messages {
            ws.write(m).map_err(to_io)?;
        }
        // One flush per write from the relay: events that came in one upstream read leave
        // in one socket write.
        ws.flush().map_err(to_io)
    }
}

fn to_io(e: tungstenite::Error) -> io::Error {
    match e {
        tungstenite::Error::Io(e) => e,
        other => io::Error::new(io::ErrorKind::BrokenPipe, other.to_string()),
    }
}

impl Write for FrameWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let messages = match self.head.as_mut() {
            Some(head) => {
                head.extend_from_slice(buf);
                let Some(end) = head.windows(4).position(|w| w == b"\r\n\r\n") else {
                    return Ok(buf.len());
                };
                let rest = head.split_off(end + 4);
                self.head = None;
                self.messages(&rest)
            }
            None => self.messages(buf),
        };
        self.send(messages)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A keepalive (a ping) waits as every frame does: the WebSocket's socket sits behind
/// tungstenite, which cannot take back half a frame.
impl crate::http::ClientWrite for FrameWriter {}

impl FrameWriter {
    /// The frames for a piece of the SSE body.
    fn messages(&mut self, sse: &[u8]) -> Vec<Message> {
        let mut out = Vec::new();
        for event in self.parser.feed(sse) {
            if event.comment.is_some() {
                // The relay's keepalive: a ping keeps proxies and Codex's idle timer happy,
                // and a failed write tells the watchdog the client is gone.
                out.push(Message::Ping(Bytes::new()));
                continue;
            }
            let data = event.data.trim();
            if data.is_empty() || data == "[DONE]" {
                continue;
            }
            if let Ok(v) = serde_json::from_str::<serde_json::Value>(data) {
                self.capture
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .observe(&v);
            }
            out.push(Message::text(data.to_string()));
        }
        out
    }
}
