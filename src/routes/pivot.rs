//! The Chat Completions pivot on the upstream side: a route that works in Chat terms (the
//! Chat route itself, translated Messages, translated Responses) reaches Copilot either on
//! `/chat/completions` or, for models Copilot serves only on `/responses`, through the
//! Chat <-> Responses translation. This module hides which.

use crate::http::ApiError;
use crate::http::Outcome;
use crate::relay::{End, Flow, Sink, pump};
use crate::routing::Api;
use crate::sse::Event;
use crate::translate::chat_responses::{
    ChatFromResponsesStream, chat_to_responses, responses_to_chat,
};
use serde_json::Value;
use std::io::Read;

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
        let body = match self {
            Pivot::Chat => chat.clone(),
            Pivot::Responses => {
                let model = chat
                    .get("model")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string();
                chat_to_responses(chat, &model).map_err(ApiError::BadRequest)?
            }
        };
        serde_json::to_vec(&body).map_err(|e| ApiError::Internal(e.to_string()))
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

    pub fn decoder(self, requested_model: &str) -> Decoder {
        match self {
            Pivot::Chat => Decoder::Chat,
            Pivot::Responses => {
                Decoder::Responses(Box::new(ChatFromResponsesStream::new(requested_model)))
            }
        }
    }
}

/// Turns upstream stream events into Chat chunks.
pub enum Decoder {
    Chat,
    Responses(Box<ChatFromResponsesStream>),
}

/// What one upstream event meant.
pub struct Decoded {
    pub chunks: Vec<Value>,
    /// `Some(Ok)` when the upstream said the answer is complete, `Some(Err)` when it
    /// reported a failure (or sent something unreadable).
    pub end: Option<Result<(), String>>,
}

impl Decoder {
    /// Comments are not events; callers handle them before decoding.
    pub fn decode(&mut self, event: &Event) -> Decoded {
        let done = |chunks| Decoded {
            chunks,
            end: Some(Ok(())),
        };
        let fault = |m: String| Decoded {
            chunks: Vec::new(),
            end: Some(Err(m)),
        };
        if event.data.trim() == "[DONE]" {
            return done(Vec::new());
        }
        let v: Value = match serde_json::from_str(&event.data) {
            Ok(v) => v,
            Err(e) => return fault(format!("Copilot sent a malformed stream event: {e}")),
        };
        match self {
            Decoder::Chat => match v.get("error") {
                // The upstream's own words reach the client unchanged.
                Some(err) => fault(error_message(err)),
                // An `event: error` whose data is not wrapped in `error`.
                None if event.event.as_deref() == Some("error") => fault(error_message(&v)),
                None => Decoded {
                    chunks: vec![v],
                    end: None,
                },
            },
            Decoder::Responses(stream) => {
                let name = event
                    .event
                    .as_deref()
                    .or_else(|| v.get("type").and_then(Value::as_str))
                    .unwrap_or("");
                let chunks = stream.on_event(name, &v);
                match (stream.failure(), stream.done()) {
                    (Some(m), _) => Decoded {
                        chunks,
                        end: Some(Err(format!("Copilot reported an error: {m}"))),
                    },
                    (None, true) => done(chunks),
                    (None, false) => Decoded { chunks, end: None },
                }
            }
        }
    }
}

fn error_message(err: &Value) -> String {
    err.get("message")
        .and_then(Value::as_str)
        .map_or_else(|| err.to_string(), str::to_string)
}

/// How a relayed stream ended.
pub enum Ending {
    /// The upstream finished the answer (`[DONE]`, a terminal event, or a finish reason
    /// followed by the end of the body).
    Complete,
    ClientGone,
    /// The upstream failed, stalled or broke off; the message says how.
    Failed(Outcome, String),
}

pub const CLOSED_EARLY: &str = "Copilot closed the stream before the response was complete";
pub const STALLED: &str =
    "Copilot stopped sending data (stall timeout); the response is incomplete";

/// Pumps an upstream stream through `decoder`, hands every Chat chunk (with the event it
/// came in) to `on_chunk`, passes comments on when `forward_comments`, and says how the
/// stream ended.
pub fn relay_chunks(
    upstream: impl Read,
    sink: &mut Sink,
    decoder: &mut Decoder,
    forward_comments: bool,
    mut on_chunk: impl FnMut(Value, &Event, &mut Sink),
) -> Ending {
    let (mut finished, mut done) = (false, false);
    let mut fault: Option<String> = None;
    let end = pump(upstream, sink, |event, sink| {
        if event.comment.is_some() {
            if forward_comments {
                sink.send(event.to_wire().as_bytes());
            }
            return Flow::Continue;
        }
        let decoded = decoder.decode(&event);
        for chunk in decoded.chunks {
            finished |= has_finish(&chunk);
            on_chunk(chunk, &event, sink);
        }
        match decoded.end {
            None => Flow::Continue,
            Some(Ok(())) => {
                done = true;
                Flow::Stop
            }
            Some(Err(message)) => {
                fault = Some(message);
                Flow::Stop
            }
        }
    });
    match (end, fault) {
        (End::ClientGone, _) => Ending::ClientGone,
        (_, Some(message)) => Ending::Failed(Outcome::UpstreamError, message),
        (End::Done | End::Eof, None) if done || finished => Ending::Complete,
        (End::Done | End::Eof, None) => Ending::Failed(Outcome::UpstreamError, CLOSED_EARLY.into()),
        (End::ReadError(message), None) => Ending::Failed(Outcome::UpstreamError, message),
        (End::Stalled, None) => Ending::Failed(Outcome::Stalled, STALLED.into()),
    }
}

/// Whether a chunk ends a choice (`finish_reason` set).
fn has_finish(chunk: &Value) -> bool {
    chunk
        .get("choices")
        .and_then(Value::as_array)
        .is_some_and(|c| {
            c.iter()
                .any(|c| c.get("finish_reason").is_some_and(|f| !f.is_null()))
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(data: &str) -> Event {
        Event {
            data: data.into(),
            ..Event::default()
        }
    }

    #[test]
    fn chat_events_decode_to_chunks_done_and_faults() {
        let mut d = Pivot::Chat.decoder("m");
        let got = d.decode(&event(
            r#"{"choices":[{"index":0,"delta":{"content":"x"}}]}"#,
        ));
        assert_eq!((got.chunks.len(), got.end.is_none()), (1, true));
        assert!(matches!(d.decode(&event("[DONE]")).end, Some(Ok(()))));
        assert!(matches!(d.decode(&event("{oops")).end, Some(Err(_))));
        let err = d.decode(&event(r#"{"error":{"message":"boom"}}"#));
        assert!(matches!(err.end, Some(Err(m)) if m.contains("boom")));
        let named = Event {
            event: Some("error".into()),
            data: r#"{"message":"bad"}"#.into(),
            ..Event::default()
        };
        assert!(matches!(d.decode(&named).end, Some(Err(m)) if m == "bad"));
    }

    #[test]
    fn responses_events_decode_to_chat_chunks() {
        let mut d = Pivot::Responses.decoder("gpt-5.2-codex");
        let delta = json!({"type": "response.output_text.delta", "delta": "hi", "output_index": 0, "item_id": "m", "content_index": 0});
        let got = d.decode(&Event {
            event: Some("response.output_text.delta".into()),
            data: delta.to_string(),
            ..Event::default()
        });
        assert!(
            got.chunks.iter().any(|c| c.to_string().contains("\"hi\"")),
            "{:?}",
            got.chunks
        );
        let failed = json!({"type": "response.failed", "response": {"error": {"message": "nope"}}});
        assert!(matches!(
            d.decode(&event(&failed.to_string())).end,
            Some(Err(_))
        ));
    }
}
