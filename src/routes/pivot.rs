//! The Chat Completions pivot on the upstream side: a route that works in Chat terms (the
//! Chat route itself, translated Messages, translated Responses) reaches Copilot either on
//! `/chat/completions` or, for models Copilot serves only on `/responses`, through the
//! Chat <-> Responses translation. This module hides which: the request bytes, the
//! non-streaming answer, and the stream's `relay::ChatSource`.

use crate::http::ApiError;
use crate::protocol::chat_request::ChatRequest;
use crate::relay::ChatSource;
use crate::routing::Api;
use crate::translate::chat_responses::{
    completion_from_responses, request_from_bytes, request_from_value, responses_to_chat,
};
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
        match self {
            // Serialized by reference: a request may be tens of MiB.
            Pivot::Chat => serde_json::to_vec(chat).map_err(|e| ApiError::Internal(e.to_string())),
            Pivot::Responses => request_from_value(chat).map_err(ApiError::BadRequest),
        }
    }

    /// The bytes to send for a Chat body already written as bytes (the Chat pass-through's
    /// splice). On `/chat/completions` they go as they are; for `/responses` they are
    /// translated from the bytes.
    pub fn request_bytes(self, chat: Vec<u8>) -> Result<Vec<u8>, ApiError> {
        match self {
            Pivot::Chat => Ok(chat),
            Pivot::Responses => request_from_bytes(&chat).map_err(ApiError::BadRequest),
        }
    }

    /// The bytes to send for a typed Chat request: serialized straight from the types,
    /// and for `/responses` translated from those bytes.
    pub fn request_typed(self, chat: &ChatRequest) -> Result<Vec<u8>, ApiError> {
        let bytes = serde_json::to_vec(chat).map_err(|e| ApiError::Internal(e.to_string()))?;
        match self {
            Pivot::Chat => Ok(bytes),
            Pivot::Responses => request_from_bytes(&bytes).map_err(ApiError::BadRequest),
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

    /// A non-streaming answer as a `chat.completion`'s bytes, without a tree: Copilot's
    /// own, or translated from its `/responses` answer.
    pub fn completion_bytes(
        self,
        body: Vec<u8>,
        requested_model: &str,
    ) -> Result<Vec<u8>, ApiError> {
        if serde_json::from_slice::<serde::de::IgnoredAny>(&body).is_err() {
            return Err(ApiError::BadGateway(
                "Copilot answered with something other than JSON".into(),
            ));
        }
        Ok(match self {
            Pivot::Chat => body,
            Pivot::Responses => completion_from_responses(&body, requested_model),
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
