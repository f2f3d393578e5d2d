//! Our own request and response types at the boundary: tiny_http stays in `server/mod.rs`,
//! and handlers are plain functions from `Incoming` to `Outgoing`, testable without a socket.

use crate::server::error::ApiError;
use crate::server::stream::StreamBody;
use serde_json::Value;

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
}

impl Incoming {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as a JSON object, or a 400 that says what is wrong with it.
    pub fn json_object(&self) -> Result<serde_json::Map<String, Value>, ApiError> {
        match serde_json::from_slice::<Value>(&self.body) {
            Ok(Value::Object(map)) => Ok(map),
            Ok(_) => Err(ApiError::BadRequest(
                "request body must be a JSON object".into(),
            )),
            Err(e) if self.body.is_empty() => Err(ApiError::BadRequest(format!(
                "request body is empty; expected JSON ({e})"
            ))),
            Err(e) => Err(ApiError::BadRequest(format!(
                "request body is not valid JSON: {e}"
            ))),
        }
    }
}

#[derive(Debug)]
pub struct Outgoing {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    body: Vec<u8>,
    /// Set for an event stream; `body` is then unused.
    pub stream: Option<StreamBody>,
    /// The model the request named, for the access log.
    pub model: Option<String>,
}

impl Outgoing {
    pub fn json(status: u16, value: &Value) -> Outgoing {
        Outgoing::bytes(status, "application/json", value.to_string().into_bytes())
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
            body,
            stream: None,
            model: None,
        }
    }

    pub fn stream(body: StreamBody) -> Outgoing {
        Outgoing {
            stream: Some(body),
            ..Outgoing::bytes(200, "text/event-stream", Vec::new())
        }
    }

    #[cfg(test)]
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    pub fn into_body(self) -> Vec<u8> {
        self.body
    }
}
