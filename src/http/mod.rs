//! The vocabulary every layer shares, at the bottom of the module graph (it imports
//! nothing from the crate but the usage tally, itself a leaf): our own request and response types at the boundary
//! (`Incoming`, `Outgoing`; the wire stays in `server/`), the one error type a route
//! answers with (`ApiError`, in `error.rs`), and how a stream ended (`Outcome`). Handlers
//! are plain functions from `Incoming` to `Outgoing`, testable without a socket.

mod error;
mod strict_json;

use crate::accounting::Tally;
pub use error::{ApiError, Family};
use serde_json::Value;
use std::io::Write;
use std::sync::Arc;
pub use strict_json::{Check as StrictCheck, Keys as StrictKeys};

#[derive(Debug, Default)]
pub struct Incoming {
    pub method: String,
    /// The path without the query string (`/v1/messages?beta=true` → `/v1/messages`).
    pub path: String,
    /// The query string without its `?` (empty when none).
    pub query: String,
    /// Header names in lower case.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Tells whether the client has gone, for requests that wait in a queue.
    pub probe: GoneProbe,
}

/// "Has the client gone?", asked while a request waits (rate limits, manual approval). The
/// server fills it in from the listener's `Probe::client_gone`; a default one never says gone.
#[derive(Clone, Default)]
pub struct GoneProbe(Option<std::sync::Arc<dyn Fn() -> bool + Send + Sync>>);

impl GoneProbe {
    pub fn new(probe: impl Fn() -> bool + Send + Sync + 'static) -> GoneProbe {
        GoneProbe(Some(std::sync::Arc::new(probe)))
    }

    pub fn gone(&self) -> bool {
        self.0.as_ref().is_some_and(|probe| probe())
    }
}

impl std::fmt::Debug for GoneProbe {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "GoneProbe"
        } else {
            "GoneProbe(none)"
        })
    }
}

impl Incoming {
    /// True once the client has closed its connection (checked while a request queues).
    pub fn client_gone(&self) -> bool {
        self.probe.gone()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as a JSON object, or a 400 that says what is wrong with it.
    pub fn json_object(&self) -> Result<serde_json::Map<String, Value>, ApiError> {
        match strict_json::from_slice(&self.body) {
            Ok(Value::Object(map)) => Ok(map),
            Ok(_) => Err(not_an_object()),
            Err(e) => Err(self.not_json(e)),
        }
    }

    /// The checks of `json_object`, with the same 400s, for a route that then reads the
    /// body's bytes without a tree (the Chat pass-through).
    pub fn check_json_object(&self) -> Result<(), ApiError> {
        match strict_json::check(&self.body) {
            Ok(true) => Ok(()),
            Ok(false) => Err(not_an_object()),
            Err(e) => Err(self.not_json(e)),
        }
    }

    fn not_json(&self, e: serde_json::Error) -> ApiError {
        if self.body.is_empty() {
            ApiError::BadRequest(format!("request body is empty; expected JSON ({e})"))
        } else {
            ApiError::BadRequest(format!("request body is not valid JSON: {e}"))
        }
    }
}

fn not_an_object() -> ApiError {
    ApiError::BadRequest("request body must be a JSON object".into())
}

#[derive(Debug)]
pub struct Outgoing {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    payload: Payload,
    /// The model the request named, for the access log.
    pub model: Option<String>,
    /// What the upstream answers of a completion request reported (tokens, credits).
    pub tally: Option<Arc<Tally>>,
}

/// What an answer carries: the whole body, or an event stream written as it comes.
#[derive(Debug)]
enum Payload {
    Bytes(Vec<u8>),
    Stream(Box<dyn EventStream>),
}

impl Outgoing {
    /// A JSON answer: a tree or a typed answer, serialized once.
    pub fn json(status: u16, value: &impl serde::Serialize) -> Outgoing {
        // Trees and the protocol's types (strings, numbers, maps with string keys) always
        // serialize.
        let body = serde_json::to_vec(value).unwrap_or_default();
        Outgoing::bytes(status, "application/json", body)
    }

    pub fn text(status: u16, text: &str) -> Outgoing {
        Outgoing::bytes(
            status,
            "text/plain; charset=utf-8",
            text.as_bytes().to_vec(),
        )
    }

    pub fn bytes(status: u16, content_type: &str, body: Vec<u8>) -> Outgoing {
        Outgoing {
            status,
            headers: vec![("Content-Type".into(), content_type.into())],
            payload: Payload::Bytes(body),
            model: None,
            tally: None,
        }
    }

    pub fn stream(body: impl EventStream + 'static) -> Outgoing {
        Outgoing {
            payload: Payload::Stream(Box::new(body)),
            ..Outgoing::bytes(200, "text/event-stream", Vec::new())
        }
    }

    /// The event stream, for an answer that is one; the answer is left with an empty body.
    pub fn take_stream(&mut self) -> Option<Box<dyn EventStream>> {
        match std::mem::replace(&mut self.payload, Payload::Bytes(Vec::new())) {
            Payload::Stream(stream) => Some(stream),
            bytes => {
                self.payload = bytes;
                None
            }
        }
    }

    /// The whole body; empty for a stream.
    #[cfg(test)]
    pub fn body(&self) -> &[u8] {
        match &self.payload {
            Payload::Bytes(body) => body,
            Payload::Stream(_) => &[],
        }
    }

    /// The whole body; empty for a stream.
    pub fn into_body(self) -> Vec<u8> {
        match self.payload {
            Payload::Bytes(body) => body,
            Payload::Stream(_) => Vec::new(),
        }
    }
}

/// The client side of a streamed answer. Every write waits for the client (bounded by the
/// connection's write timeout) except `write_or_skip`'s, which is for writes worth making
/// only if they cost no wait: the keepalives of the one watchdog thread that serves every
/// open stream, which must not stall behind a client that stopped reading.
pub trait ClientWrite: Write + Send {
    /// Writes all of `data` and flushes; or, when nothing can be written without waiting
    /// (the client's receive window and the send buffer are full), writes nothing and
    /// returns `Ok(false)`. The default waits, as `write_all` does.
    fn write_or_skip(&mut self, data: &[u8]) -> std::io::Result<bool> {
        self.write_all(data)?;
        self.flush()?;
        Ok(true)
    }
}

/// A response body produced event by event once the head is sent. The relay implements
/// it (`relay::StreamBody`); the server only calls `run`, so it never depends on the
/// routes' streaming code.
pub trait EventStream: Send {
    /// Writes the head (status 200 plus `headers`), then the events, to `writer`
    /// (HTTP/1.1 chunked when `chunked`, else raw until the connection closes), and says
    /// how the stream ended.
    fn run(
        self: Box<Self>,
        writer: Box<dyn ClientWrite>,
        chunked: bool,
        headers: &[(String, String)],
    ) -> Outcome;
}

impl std::fmt::Debug for dyn EventStream {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("EventStream")
    }
}

/// How a stream ended, for the access log and the metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Completed,
    ClientGone,
    UpstreamError,
    Stalled,
}

impl Outcome {
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Completed => "completed",
            Outcome::ClientGone => "client_gone",
            Outcome::UpstreamError => "upstream_error",
            Outcome::Stalled => "stalled",
        }
    }
}
