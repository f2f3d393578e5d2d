//! Chat chunks from an upstream stream, whichever Copilot endpoint serves the model:
//! `/chat/completions` events are chunks already, `/responses` events are translated
//! (`translate::chat_responses`). Routes that work in Chat terms (Chat itself, and the
//! Messages and Responses routes translated through the Chat pivot) build their adapter
//! on this.

use super::{Fault, Step};
use crate::protocol::chat::ChunkHead;
use crate::protocol::chat_chunk::Chunk;
use crate::protocol::responses::upstream::UpstreamEvent;
use crate::sse::Event;
use crate::translate::chat_responses::{ChatChunk, ChatFromResponsesStream};
use serde_json::Value;

pub struct ChatSource {
    /// `None` for Copilot's `/chat/completions`.
    responses: Option<Box<ChatFromResponsesStream>>,
    /// A chunk carried a finish reason: the answer is complete even without `[DONE]`.
    finished: bool,
}

/// What one upstream event carried, for a translator: the chunk read borrowed from a
/// `/chat/completions` event, or the chunks a `/responses` event was translated into,
/// serialized (each read borrowed in turn, so no tree is built either way).
pub struct Chunks<'e> {
    borrowed: Option<Chunk<'e>>,
    /// An unusual `/chat/completions` event, read as a tree.
    trees: Vec<Value>,
    texts: Vec<String>,
    /// The upstream said the answer is complete.
    pub done: bool,
}

impl Chunks<'_> {
    /// Each chunk, in order.
    pub fn each(&self, mut f: impl FnMut(&Chunk)) {
        if let Some(c) = &self.borrowed {
            f(c);
        }
        for tree in &self.trees {
            f(&Chunk::from_value(tree));
        }
        for text in &self.texts {
            f(&serde_json::from_str(text).unwrap_or_default());
        }
    }
}

/// What one upstream event carried.
pub struct Decoded {
    pub chunks: Vec<Value>,
    /// The upstream said the answer is complete (`[DONE]`, `response.completed`).
    pub done: bool,
}

impl ChatSource {
    /// Events of Copilot's `/chat/completions`.
    pub fn chat() -> ChatSource {
        ChatSource {
            responses: None,
            finished: false,
        }
    }

    /// Events of Copilot's `/responses`, as chunks naming `requested_model`.
    pub fn responses(requested_model: &str) -> ChatSource {
        ChatSource {
            responses: Some(Box::new(ChatFromResponsesStream::new(requested_model))),
            finished: false,
        }
    }

    /// Whether chunks pass through as Copilot sent them (no translation).
    pub fn is_chat(&self) -> bool {
        self.responses.is_none()
    }

    /// The Chat pass-through's fast path: the head of a chunk from `/chat/completions`,
    /// read without building a tree. `None` when the event needs `decode` (an error,
    /// `[DONE]`, anything unreadable, or a `/responses` upstream).
    pub fn head<'a>(&mut self, event: &'a Event) -> Option<ChunkHead<'a>> {
        if self.responses.is_some() || event.event.as_deref() == Some("error") {
            return None;
        }
        let head: ChunkHead = serde_json::from_str(&event.data).ok()?;
        if head.error {
            return None;
        }
        self.finished |= head.finishes();
        Some(head)
    }

    /// A translator's whole reading of one upstream event: comments skipped, each Chat
    /// chunk handed to `f`, and what the relay does next.
    pub fn each_chunk(&mut self, event: &Event, f: impl FnMut(&Chunk)) -> Result<Step, Fault> {
        if event.comment.is_some() {
            return Ok(Step::Continue);
        }
        let chunks = self.chunks(event)?;
        chunks.each(f);
        Ok(Step::done_if(chunks.done))
    }

    /// `decode` for the translators: a `/chat/completions` chunk is read borrowed, without
    /// a tree; anything unusual (an error, `[DONE]`, a body that is not a chunk object)
    /// goes through `decode`, so both read an event the same way.
    pub fn chunks<'e>(&mut self, event: &'e Event) -> Result<Chunks<'e>, Fault> {
        if self.responses.is_some() {
            let mut texts = Vec::new();
            let done = self.translate(event, &mut |chunk| {
                texts.extend(serde_json::to_string(chunk).ok());
            })?;
            return Ok(Chunks {
                borrowed: None,
                trees: Vec::new(),
                texts,
                done,
            });
        }
        let plain = event.event.as_deref() != Some("error") && !event.data.contains("\"error\"");
        if plain {
            if let Ok(chunk) = serde_json::from_str::<Chunk>(&event.data) {
                self.finished |= chunk
                    .choices
                    .0
                    .iter()
                    .any(|c| c.finish_reason.get().is_some());
                return Ok(Chunks {
                    borrowed: Some(chunk),
                    trees: Vec::new(),
                    texts: Vec::new(),
                    done: false,
                });
            }
        }
        let decoded = self.decode(event)?;
        Ok(Chunks {
            borrowed: None,
            trees: decoded.chunks,
            texts: Vec::new(),
            done: decoded.done,
        })
    }

    /// A `/responses` upstream's event (not a comment) read borrowed and translated, each
    /// typed Chat chunk handed to `out` in order; whether the answer is complete. `None`
    /// for a `/chat/completions` upstream, whose chunks need no translation.
    pub fn each_translated(
        &mut self,
        event: &Event,
        out: &mut dyn FnMut(&ChatChunk),
    ) -> Option<Result<Step, Fault>> {
        self.responses.as_ref()?;
        Some(self.translate(event, out).map(Step::done_if))
    }

    /// The translation of one `/responses` event; whether the answer is complete.
    fn translate(&mut self, event: &Event, out: &mut dyn FnMut(&ChatChunk)) -> Result<bool, Fault> {
        if event.data.trim() == "[DONE]" {
            return Ok(true);
        }
        let Some(stream) = &mut self.responses else {
            return Ok(false);
        };
        let name = event.event.as_deref().unwrap_or("");
        let finished = &mut self.finished;
        let mut each = |chunk: &ChatChunk| {
            *finished |= chunk.choices.iter().any(|c| c.finish_reason.is_some());
            out(chunk);
        };
        match serde_json::from_str::<UpstreamEvent>(&event.data) {
            Ok(e) => stream.on_typed(name, &e, &mut each),
            // Text the borrowed reader refuses (a duplicate key, say) is read as a tree,
            // which reads such JSON as it always did; what is not JSON is a fault.
            Err(_) => {
                let v: Value = serde_json::from_str(&event.data)
                    .map_err(|e| Fault::Malformed(e.to_string()))?;
                stream.on_typed(name, &UpstreamEvent::from_value(&v), &mut each);
            }
        }
        if let Some(m) = stream.failure() {
            return Err(Fault::Upstream(format!("Copilot reported an error: {m}")));
        }
        Ok(stream.done())
    }

    /// The Chat chunks of one upstream event (not a comment), or the fault it reports.
    pub fn decode(&mut self, event: &Event) -> Result<Decoded, Fault> {
        if self.responses.is_some() {
            let mut chunks = Vec::new();
            let done = self.translate(event, &mut |chunk| {
                chunks.extend(serde_json::to_value(chunk).ok());
            })?;
            return Ok(Decoded { chunks, done });
        }
        if event.data.trim() == "[DONE]" {
            return Ok(Decoded {
                chunks: Vec::new(),
                done: true,
            });
        }
        let v: Value =
            serde_json::from_str(&event.data).map_err(|e| Fault::Malformed(e.to_string()))?;
        match v.get("error") {
            // The upstream's own words reach the client unchanged.
            Some(err) => Err(Fault::Upstream(error_message(err))),
            // An `event: error` whose data is not wrapped in `error`.
            None if event.event.as_deref() == Some("error") => {
                Err(Fault::Upstream(error_message(&v)))
            }
            None => {
                self.finished |= has_finish(&v);
                Ok(Decoded {
                    chunks: vec![v],
                    done: false,
                })
            }
        }
    }

    /// The upstream body ended: complete when a chunk carried a finish reason.
    pub fn on_eof(&self) -> Result<(), Fault> {
        if self.finished {
            Ok(())
        } else {
            Err(Fault::ClosedEarly)
        }
    }
}

fn error_message(err: &Value) -> String {
    err.get("message")
        .and_then(Value::as_str)
        .map_or_else(|| err.to_string(), str::to_string)
}

/// Whether a chunk ends a choice (`finish_reason` set).
pub fn has_finish(chunk: &Value) -> bool {
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
        let mut d = ChatSource::chat();
        let got = d
            .decode(&event(
                r#"{"choices":[{"index":0,"delta":{"content":"x"}}]}"#,
            ))
            .unwrap();
        assert_eq!((got.chunks.len(), got.done), (1, false));
        assert_eq!(d.on_eof(), Err(Fault::ClosedEarly));
        assert!(d.decode(&event("[DONE]")).unwrap().done);
        assert!(matches!(
            d.decode(&event("{oops")),
            Err(Fault::Malformed(_))
        ));
        let err = d.decode(&event(r#"{"error":{"message":"boom"}}"#));
        assert_eq!(err.err(), Some(Fault::Upstream("boom".into())));
        let named = Event {
            event: Some("error".into()),
            data: r#"{"message":"bad"}"#.into(),
            ..Event::default()
        };
        assert_eq!(d.decode(&named).err(), Some(Fault::Upstream("bad".into())));
        d.decode(&event(
            r#"{"choices":[{"index":0,"finish_reason":"stop"}]}"#,
        ))
        .unwrap();
        assert_eq!(d.on_eof(), Ok(()));
    }

    #[test]
    fn responses_events_decode_to_chat_chunks() {
        let mut d = ChatSource::responses("gpt-5.2-codex");
        let delta = json!({"type": "response.output_text.delta", "delta": "hi", "output_index": 0, "item_id": "m", "content_index": 0});
        let got = d
            .decode(&Event {
                event: Some("response.output_text.delta".into()),
                data: delta.to_string(),
                ..Event::default()
            })
            .unwrap();
        assert!(
            got.chunks.iter().any(|c| c.to_string().contains("\"hi\"")),
            "{:?}",
            got.chunks
        );
        let failed = json!({"type": "response.failed", "response": {"error": {"message": "nope"}}});
        assert!(matches!(
            d.decode(&event(&failed.to_string())),
            Err(Fault::Upstream(_))
        ));
    }
}
