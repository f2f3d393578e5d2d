//! `/v1/responses` for models Copilot serves only on `/chat/completions` (Claude, Gemini,
//! gpt-4.x): the request is translated to Chat, the answer back to a Responses object or
//! event stream, and the turn kept so that `previous_response_id` can chain to it. The
//! typed Chat request is fitted to its model and serialized straight into the upstream
//! bytes; only the hosted web search, which edits it as JSON, gets it as a tree.

use crate::app::App;
use crate::http::{ApiError, Outcome, Outgoing};
use crate::protocol::chat::KEEPALIVE;
use crate::protocol::chat_chunk::read;
use crate::protocol::responses::new_response_id;
use crate::relay::{self, Adapter, ChatSource, Fault, Sink, Step};
use crate::routes::fields::{self, initiator_header, vision_header};
use crate::routes::pivot::Pivot;
use crate::routes::responses::web_search::stored;
use crate::sse::Event;
use crate::streaming::{finished, streaming};
use crate::translate::responses_request::{ChatFromResponses, to_chat};
use crate::translate::responses_response::from_chat;
use crate::translate::responses_stream::ResponsesStream;
use crate::upstream::catalog::Model;
use serde_json::{Map, Value, json};
use std::sync::Arc;

pub fn create(
    app: &Arc<App>,
    body: Map<String, Value>,
    requested: &str,
    model: Option<&Model>,
    stream: bool,
) -> Result<Outgoing, ApiError> {
    let history = match body.get("previous_response_id").and_then(Value::as_str) {
        None => Vec::new(),
        Some(id) => app
            .responses
            .get(id)
            .ok_or_else(|| unknown_previous(id, app))?,
    };
    let req = Value::Object(body);
    let upstream_model = model.map_or(requested, |m| m.id.as_str());
    let ChatFromResponses {
        body: mut chat,
        custom_tools,
        user_turn,
        has_images,
    } = to_chat(&req, upstream_model, &history).map_err(ApiError::BadRequest)?;
    fields::fit_typed(&mut chat, model)?;
    let mut extra = vec![initiator_header(user_turn)];
    extra.extend(vision_header(has_images));
    if let Some(plan) = super::web_search::hosted_plan(app, &req) {
        // The hosted web_search tool, served by the proxy (`web_search/`).
        let mut conversation = history;
        conversation.extend(input_items(&req));
        // The search loop edits the request as JSON: it crosses into a tree here, once.
        let Ok(Value::Object(chat)) = serde_json::to_value(&chat) else {
            return Err(ApiError::Internal(
                "the translated request is not an object".into(),
            ));
        };
        let turn = super::web_search::Turn {
            chat,
            requested: requested.to_string(),
            custom_tools,
            extra,
            response_id: new_response_id(),
            conversation,
            stream,
            req,
        };
        return super::web_search::serve(app, turn, plan);
    }
    let payload = Pivot::Chat.request_typed(&chat)?;
    let opened = app
        .upstream
        .post(Pivot::Chat.path(), &payload, &extra, &app.metrics)?;
    let tally = Some(opened.tally.clone());
    let mut conversation = history;
    conversation.extend(input_items(&req));
    let response_id = new_response_id();
    let mut out = if stream {
        let (reader, lease) = opened.into_parts();
        let mut state = ResponsesStream::new(&response_id, &req, custom_tools);
        let store = app.clone();
        streaming(app, KEEPALIVE, lease.canceller(), move |sink| {
            sink.events(&state.start());
            let mut adapter = Translated {
                source: ChatSource::chat(),
                state,
                events: Vec::new(),
            };
            let outcome = relay::relay_to_end(reader, sink, &mut adapter);
            if outcome == Outcome::Completed {
                let output = adapter.state.output().iter().map(stored).collect();
                store.responses.put(&response_id, conversation, output);
            }
            finished(lease, outcome)
        })
    } else {
        let bytes = Pivot::Chat.completion_bytes(opened.read_all()?, requested)?;
        let mut tree = None;
        let chat = read(&bytes, &mut tree);
        let response = from_chat(&chat, &req, &custom_tools, &response_id);
        let output = response.output.iter().map(stored).collect();
        app.responses.put(&response_id, conversation, output);
        Outgoing::json(200, &response)
    };
    out.model = Some(requested.to_string());
    out.tally = tally;
    Ok(out)
}

fn unknown_previous(id: &str, app: &App) -> ApiError {
    let crate::config::StoreLimits { entries, ttl } = app.config.response_store;
    ApiError::BadRequest(format!(
        "previous_response_id `{id}` is not known here or has expired: this proxy keeps the last {entries} translated responses for {} s \
         (--response-store-size, --response-store-ttl); send the full conversation in `input` instead",
        ttl.as_secs()
    ))
}

/// The request's own input as items (a plain string is one user message).
fn input_items(req: &Value) -> Vec<Value> {
    match req.get("input") {
        Some(Value::String(text)) => {
            vec![
                json!({"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}),
            ]
        }
        Some(Value::Array(items)) => items.clone(),
        _ => Vec::new(),
    }
}

/// Translates Copilot's chunks into Responses events. A normal end sends the closing
/// events and `response.completed` (with usage); a fault sends `response.failed`.
struct Translated {
    source: ChatSource,
    state: ResponsesStream,
    /// Each chunk's events, in one vector reused for the whole stream.
    events: Vec<Event>,
}

impl Adapter for Translated {
    fn on_event(&mut self, event: &Event, sink: &mut Sink) -> Result<Step, Fault> {
        let (state, events) = (&mut self.state, &mut self.events);
        self.source.each_chunk(event, |chunk| {
            state.on_typed(chunk, events);
            sink.events(events);
            events.clear();
        })
    }

    fn on_eof(&mut self, _: &mut Sink) -> Result<(), Fault> {
        self.source.on_eof()
    }

    fn close(&mut self, ending: &Result<(), Fault>, sink: &mut Sink) {
        let events = match ending {
            Ok(()) => self.state.finish(),
            Err(fault) => self.state.fail(&fault.message(), fault.openai_code()),
        };
        sink.events(&events);
    }

    fn name(&self) -> &'static str {
        "responses"
    }
}
