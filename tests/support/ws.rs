//! Codex's side of the Responses WebSocket (`GET /v1/responses`): a tungstenite client that
//! sends `response.create` frames and reads the event frames back.

use serde_json::Value;
use std::net::TcpStream;
use std::time::Duration;
use tungstenite::client::IntoClientRequest;
use tungstenite::http::{HeaderName, HeaderValue};
use tungstenite::{Message, WebSocket};

pub struct WsClient {
    pub socket: WebSocket<TcpStream>,
}

/// What the handshake got when it was refused: the status and the body.
#[derive(Debug)]
pub struct Refused {
    pub status: u16,
    pub body: String,
    pub headers: Vec<(String, String)>,
}

impl WsClient {
    /// Opens `ws://…{path}` on the proxy with Codex's headers plus `headers`.
    pub fn connect(url: &str, path: &str, headers: &[(&str, &str)]) -> Result<WsClient, Refused> {
        let ws_url = format!("{}{path}", url.replacen("http://", "ws://", 1));
        let mut request = ws_url.into_client_request().expect("a WebSocket request");
        let defaults = [
            ("openai-beta", "responses_websockets=2026-02-06"),
            ("originator", "codex_exec"),
            ("session-id", "019a3b2c-4d5e-7f60-8a9b-0c1d2e3f4a5b"),
        ];
        for (k, v) in defaults.iter().chain(headers) {
            request.headers_mut().insert(
                HeaderName::from_bytes(k.as_bytes()).expect("header name"),
                HeaderValue::from_str(v).expect("header value"),
            );
        }
        let addr = url.trim_start_matches("http://");
        let stream = TcpStream::connect(addr).expect("connect to the proxy");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("read timeout");
        match tungstenite::client(request, stream) {
            Ok((socket, _)) => Ok(WsClient { socket }),
            Err(tungstenite::HandshakeError::Failure(tungstenite::Error::Http(resp))) => {
                Err(Refused {
                    status: resp.status().as_u16(),
                    headers: resp
                        .headers()
                        .iter()
                        .map(|(k, v)| {
                            (k.as_str().to_string(), v.to_str().unwrap_or("").to_string())
                        })
                        .collect(),
                    body: resp
                        .body()
                        .as_ref()
                        .map(|b| String::from_utf8_lossy(b).into_owned())
                        .unwrap_or_default(),
                })
            }
            Err(e) => panic!("WebSocket handshake failed: {e}"),
        }
    }

    pub fn send(&mut self, frame: &Value) {
        self.socket
            .send(Message::text(frame.to_string()))
            .expect("send a frame");
    }

    /// The next JSON text frame; pings are answered by tungstenite and skipped here.
    pub fn next_event(&mut self) -> Value {
        loop {
            match self.socket.read().expect("a frame from the proxy") {
                Message::Text(t) => {
                    return serde_json::from_str(t.as_str())
                        .unwrap_or_else(|e| panic!("frame is not JSON ({e}): {t}"));
                }
                Message::Ping(_) | Message::Pong(_) => continue,
                other => panic!("unexpected frame: {other:?}"),
            }
        }
    }

    /// Events up to and including the terminal one (`response.completed`,
    /// `response.failed`, `response.incomplete`) or the proxy's own error frame (an `error`
    /// with a `status`; Copilot's `error` events, relayed, have none and are followed by
    /// `response.failed`).
    pub fn events_until_end(&mut self) -> Vec<Value> {
        let mut events = Vec::new();
        loop {
            let e = self.next_event();
            let end = matches!(
                e["type"].as_str(),
                Some("response.completed" | "response.failed" | "response.incomplete")
            ) || (e["type"] == "error" && e["status"].is_u64());
            events.push(e);
            if end {
                return events;
            }
        }
    }
}
