//! The Chat Completions pivot on the upstream side: a route that works in Chat terms (the
//! Chat route itself, translated Messages, translated Responses) reaches Copilot either on
//! `/chat/completions` or, for models Copilot serves only on `/responses`, through the
//! Chat <-> Responses translation. This module hides which: the request bytes, the
//! non-streaming answer, and the stream's `relay::ChatSource`.

use crate::http::ApiError;
use crate::protocol::chat_request::ChatRequest;
use crate::relay::ChatSource;
use crate::routing::Api;
use crate::translate::chat_responses::{chat_to_responses, responses_to_chat};
use serde_json::Value;

/// Which Copilot endpoint a Chat-shaped request goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pivot {
    Chat,
    Responses,
}

impl Pivot {
    pub fn for_upstream(api: Api) -> Pivot {
        if api == Api::Responses {
            Pivot::Responses
        } else {
            Pivot::Chat
        }
    }

    pub fn path(self) -> &'static str {
        match self {
            Pivot::Chat => Api::Chat.path(),
            Pivot::Responses => Api::Responses.path(),
        }
    }

    /// The bytes to send for a Chat request (already holding the upstream model id).
    pub fn request(self, chat: &Value) -> Result<Vec<u8>, ApiError> {
        let translated;
        let body = match self {
            // Serialized by reference: a request may be tens of MiB.
            Pivot::Chat => chat,
            Pivot::Responses => {
                let model = chat
                    .get("model")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string();
                translated = chat_to_responses(chat, &model).map_err(ApiError::BadRequest)?;
                &translated
            }
        };
        serde_json::to_vec(body).map_err(|e| ApiError::Internal(e.to_string()))
    }

    /// The bytes to send for a Chat body already written as bytes (the Chat pass-through's
    /// splice). On `/chat/completions` they go as they are; the Responses translation reads
    /// a tree, so only that path parses them (once).
    pub fn request_bytes(self, chat: Vec<u8>) -> Result<Vec<u8>, ApiError> {
        match self {
            Pivot::Chat => Ok(chat),
            Pivot::Responses => {
                let tree: Value =
                    serde_json::from_slice(&chat).map_err(|e| ApiError::Internal(e.to_string()))?;
                self.request(&tree)
            }
        }
    }

    /// The bytes to send for a typed Chat request: serialized straight from the types on
    /// `/chat/completions`, through a tree only for the Responses translation.
    pub fn request_typed(self, chat: &ChatRequest) -> Result<Vec<u8>, ApiError> {
        match self {
            Pivot::Chat => serde_json::to_vec(chat).map_err(|e| ApiError::Internal(e.to_string())),
            Pivot::Responses => {
                let tree =
                    serde_json::to_value(chat).map_err(|e| ApiError::Internal(e.to_string()))?;
                self.request(&tree)
            }
        }
    }

    /// A non-streaming answer as a `chat.completion`.
    pub fn completion(self, body: &[u8], requested_model: &str) -> Result<Value, ApiError> {
        let v: Value = serde_json::from_slice(body).map_err(|_| {
            ApiError::BadGateway("Copilot answered with something other than JSON".into())
        })?;
        Ok(match self {
            Pivot::Chat => v,
            Pivot::Responses => responses_to_chat(&v, requested_model),
        })
    }

    /// The stream's events as Chat chunks.
    pub fn source(self, requested_model: &str) -> ChatSource {
        match self {
            Pivot::Chat => ChatSource::chat(),
            Pivot::Responses => ChatSource::responses(requested_model),
        }
    }
}
