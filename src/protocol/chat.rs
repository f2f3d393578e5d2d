//! Chat Completions stream events the proxy writes itself.

/// The OpenAI keepalive (an SSE comment), sent during upstream silence on the Chat and
/// Responses APIs.
pub const KEEPALIVE: &[u8] = b": keepalive\n\n";

/// The last event of every Chat stream.
pub const DONE: &[u8] = b"data: [DONE]\n\n";

/// The chunk that reports a fault mid-stream (`kind` like `upstream_error`), sent before
/// `[DONE]`: the shape OpenAI's SDKs raise as an `APIError`.
pub fn error_chunk(message: &str, kind: &str) -> String {
    let body = serde_json::json!({
        "error": {"message": message, "type": kind, "param": null, "code": null},
    });
    format!("data: {body}\n\n")
}

/// What the Chat pass-through reads of an upstream chunk: whether it lacks a field the
/// proxy fills in, its model, whether it ends a choice or carries only usage, and whether
/// it is an error. Deserialized borrowed, without building a tree.
#[derive(serde::Deserialize)]
pub struct ChunkHead<'a> {
    #[serde(default, deserialize_with = "present")]
    pub object: bool,
    #[serde(default, deserialize_with = "present")]
    pub created: bool,
    #[serde(default, deserialize_with = "present")]
    pub id: bool,
    #[serde(borrow)]
    pub model: Option<std::borrow::Cow<'a, str>>,
    pub choices: Option<Vec<ChoiceHead>>,
    pub usage: Option<serde::de::IgnoredAny>,
    #[serde(default, deserialize_with = "present")]
    pub error: bool,
}

#[derive(serde::Deserialize)]
pub struct ChoiceHead {
    pub finish_reason: Option<serde::de::IgnoredAny>,
}

impl ChunkHead<'_> {
    /// A chunk that ends a choice (`finish_reason` set).
    pub fn finishes(&self) -> bool {
        self.choices
            .as_ref()
            .is_some_and(|c| c.iter().any(|c| c.finish_reason.is_some()))
    }

    /// `choices: []` with usage: the usage chunk of `stream_options.include_usage`.
    pub fn usage_only(&self) -> bool {
        self.choices.as_ref().is_some_and(Vec::is_empty) && self.usage.is_some()
    }
}

/// A field that is there, whatever its value (`null` included).
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    serde::de::IgnoredAny::deserialize(d).map(|_| true)
}

use serde::Deserialize;
