//! `/v1/messages` for models without Copilot's native Messages endpoint: the request is
//! translated to Chat Completions, and the answer (JSON or stream) back to Anthropic's
//! format. Empty answers are retried twice, then replaced by a clear message, so that
//! Claude Code never sees a turn with no content.

use super::images::{send_with_image_fallback, with_vision};
use crate::accounting::Tally;
use crate::app::App;
use crate::features::guidance::add_large_edit_note;
use crate::http::{ApiError, Outcome, Outgoing};
use crate::protocol::anthropic::{Block, PING};
use crate::protocol::chat_chunk::{Chunk, read};
use crate::relay::{self, Adapter, ChatSource, Fault, Sink, Step};
use crate::routes::fields::{self, initiator_header};
use crate::routes::pivot::Pivot;
use crate::routing::Api;
use crate::sse::Event;
use crate::streaming::{finished, streaming};
use crate::translate::anthropic_request::{Translation, object_to_chat};
use crate::translate::anthropic_response::from_chat;
use crate::translate::anthropic_stream::StreamState;
use crate::translate::tool_names::ToolNames;
use crate::upstream::call::{Opened, StreamReader};
use crate::upstream::catalog::Model;
use crate::upstream::client::Lease;
use serde_json::{Map, Value, json};
use std::sync::{Arc, Mutex};

/// Attempts for an answer with no content: the first and two retries.
const EMPTY_ATTEMPTS: usize = 3;
const EMPTY_ANSWER: &str = "The model returned an empty response after 3 attempts. It may be unavailable or \
     unable to handle this request; try again, or try another model.";

pub fn create(
    app: &Arc<App>,
    mut body: Map<String, Value>,
    requested: &str,
    model: Option<&Model>,
    route: Api,
    stream: bool,
    extra: Vec<(&'static str, String)>,
) -> Result<Outgoing, ApiError> {
    let pivot = Pivot::for_upstream(route);
    let upstream_model = model.map_or(requested, |m| m.id.as_str()).to_string();
    let mut sent = None;
    let first = send_with_image_fallback(&mut body, |b| {
        let (payload, tools) = translate(b, &upstream_model, model, pivot)?;
        let headers = with_vision(&extra, b);
        let opened = app
            .upstream
            .post(pivot.path(), &payload, &headers, &app.metrics)?;
        sent = Some((payload, tools, headers));
        Ok(opened)
    })?;
    let Some((payload, tools, extra)) = sent else {
        return Err(ApiError::Internal("no request was sent".into()));
    };
    // A cheap local estimate for `message_start` (about 4 bytes a token); the real count
    // arrives in `message_delta`. Tokenizing here would cost more than the whole relay.
    let estimate = payload.len() as u64 / 4;
    let tally = first.tally.clone();
    let call = Call {
        app: app.clone(),
        pivot,
        payload,
        extra,
        requested: requested.to_string(),
        tools,
        estimate,
        tally: tally.clone(),
    };
    let mut out = if stream {
        call.stream(first)
    } else {
        call.json(first)?
    };
    out.model = Some(requested.to_string());
    out.tally = Some(tally);
    Ok(out)
}

/// The Anthropic body as the Chat request Copilot gets, and the tool-name aliases used.
pub(crate) fn translate(
    body: &Map<String, Value>,
    upstream_model: &str,
    model: Option<&Model>,
    pivot: Pivot,
) -> Result<(Vec<u8>, ToolNames), ApiError> {
    let Translation { mut chat, tools } =
        object_to_chat(body, upstream_model).map_err(ApiError::BadRequest)?;
    fields::fit_typed(&mut chat, model)?;
    add_large_edit_note(&mut chat, model.and_then(|m| m.max_output));
    let payload = pivot.request_typed(&chat)?;
    Ok((payload, tools))
}

/// Everything needed to (re)send the translated request and translate its answer.
struct Call {
    app: Arc<App>,
    pivot: Pivot,
    payload: Vec<u8>,
    extra: Vec<(&'static str, String)>,
    requested: String,
    tools: ToolNames,
    estimate: u64,
    /// The first answer's accounting; retries add to it.
    tally: Arc<Tally>,
}

impl Call {
    /// Sends the request again (an empty answer is being retried): the proxy's own
    /// request, so it is billed as the agent's.
    fn send(&self) -> Result<Opened, ApiError> {
        let mut extra = self.extra.clone();
        extra.retain(|(k, _)| *k != "x-initiator");
        extra.push(initiator_header(false));
        let opened =
            self.app
                .upstream
                .post(self.pivot.path(), &self.payload, &extra, &self.app.metrics)?;
        Ok(opened.continuing(&self.tally))
    }

    fn json(self, first: Opened) -> Result<Outgoing, ApiError> {
        let mut opened = Some(first);
        for attempt in 1..=EMPTY_ATTEMPTS {
            let bytes = match opened.take() {
                Some(o) => o.read_all()?,
                None => self.send()?.read_all()?,
            };
            let bytes = self.pivot.completion_bytes(bytes, &self.requested)?;
            let mut tree = None;
            let chat = read(&bytes, &mut tree);
            let message = from_chat(&chat, &self.requested, &self.tools);
            if !message.content.is_empty() {
                return Ok(Outgoing::json(200, &message));
            }
            crate::warn!("empty answer from Copilot (attempt {attempt}/{EMPTY_ATTEMPTS})");
        }
        let chat = synthetic_chunk(false);
        let mut message = from_chat(&Chunk::from_value(&chat), &self.requested, &self.tools);
        message.content = vec![Block::text(EMPTY_ANSWER)];
        Ok(Outgoing::json(200, &message))
    }

    /// The first attempt was sent before answering, so that upstream errors (context
    /// window, rate limits) reach the client as HTTP errors; this streams its answer.
    fn stream(self, first: Opened) -> Outgoing {
        let (reader, lease) = first.into_parts();
        // The agent in use changes when an empty answer is retried; the watchdog cancels
        // whichever is current.
        let current: Arc<Mutex<Box<dyn Fn() + Send + Sync>>> =
            Arc::new(Mutex::new(lease.canceller()));
        let cancel = current.clone();
        let app = self.app.clone();
        let cancel = Box::new(move || (cancel.lock().unwrap_or_else(|e| e.into_inner()))());
        streaming(&app, PING, cancel, move |sink| {
            self.relay(reader, lease, &current, sink)
        })
    }

    /// Relays attempts into the one client stream until one has content (or the attempts
    /// run out), then ends the stream.
    fn relay(
        &self,
        mut reader: StreamReader,
        mut lease: Lease,
        cancel: &Mutex<Box<dyn Fn() + Send + Sync>>,
        sink: &mut Sink,
    ) -> Outcome {
        let mut attempt = 1;
        loop {
            let mut adapter = Translated {
                source: self.pivot.source(&self.requested),
                state: StreamState::new(&self.requested, self.tools.clone(), self.estimate),
                held: Vec::new(),
            };
            let ending = relay::relay(reader, sink, &mut adapter);
            let empty = ending.is_ok() && !adapter.state.has_content();
            if !empty {
                return finished(lease, relay::finish(ending, sink, &mut adapter));
            }
            if attempt == EMPTY_ATTEMPTS {
                // Out of retries: a clear message instead of an empty turn.
                let mut events = adapter.state.on_chunk(&synthetic_chunk(true));
                events.extend(adapter.state.finish());
                sink.events(&events);
                return finished(lease, Outcome::UpstreamError);
            }
            crate::warn!(
                "empty answer from Copilot (attempt {attempt}/{EMPTY_ATTEMPTS}); retrying"
            );
            attempt += 1;
            let opened = match self.send() {
                Ok(o) => o,
                Err(e) => {
                    let fault = Fault::Refused {
                        status: e.status(),
                        message: e.to_string(),
                    };
                    return relay::finish(Err(fault), sink, &mut adapter);
                }
            };
            lease.release();
            (reader, lease) = opened.into_parts();
            *cancel.lock().unwrap_or_else(|e| e.into_inner()) = lease.canceller();
        }
    }
}

/// Translates one upstream attempt's Chat chunks into Anthropic events. Events are held
/// back until the first content block, so that an empty answer can be retried without the
/// client seeing it.
struct Translated {
    source: ChatSource,
    state: StreamState,
    held: Vec<Event>,
}

impl Adapter for Translated {
    fn on_event(&mut self, event: &Event, sink: &mut Sink) -> Result<Step, Fault> {
        let (state, held) = (&mut self.state, &mut self.held);
        self.source.each_chunk(event, |chunk| {
            // Held until the first block; then the same vector carries every chunk's events.
            state.on_typed(chunk, held);
            if state.has_content() {
                sink.events(held);
                held.clear();
            }
        })
    }

    fn on_eof(&mut self, _: &mut Sink) -> Result<(), Fault> {
        self.source.on_eof()
    }

    fn close(&mut self, ending: &Result<(), Fault>, sink: &mut Sink) {
        match ending {
            Ok(()) => sink.events(&self.state.finish()),
            Err(fault) => {
                sink.events(&std::mem::take(&mut self.held));
                sink.events(&self.state.fail(&fault.message(), fault.anthropic_type()))
            }
        };
    }

    fn name(&self) -> &'static str {
        "messages"
    }
}

/// A Chat answer carrying the empty-answer explanation, as a chunk or a completion.
fn synthetic_chunk(delta: bool) -> Value {
    let key = if delta { "delta" } else { "message" };
    json!({"choices": [{"index": 0, key: {"role": "assistant", "content": EMPTY_ANSWER}, "finish_reason": "stop"}]})
}
