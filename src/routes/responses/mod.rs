//! `POST /v1/responses`: the OpenAI Responses API. Models Copilot serves on `/responses`
//! (GPT-5, Codex) get the body passed through (`passthrough.rs`), Codex's items untouched;
//! the others are translated through the Chat pivot (`translated.rs`), with the hosted
//! `web_search` tool served by the proxy's search loop (`web_search/`). A stream always
//! ends in `response.completed`, `response.incomplete` or `response.failed`, never
//! silently.

mod passthrough;
mod translated;
mod web_search;

use crate::app::App;
use crate::features::{admission, compaction};
use crate::http::{ApiError, Incoming, Outcome, Outgoing};
use crate::protocol::chat::KEEPALIVE;
use crate::protocol::responses::{failed_event, new_response_id};
use crate::routes::{compact, fields};
use crate::routing::Api;
use crate::streaming::streaming;
use serde_json::Value;
use std::sync::Arc;

pub fn create(app: &Arc<App>, rq: &Incoming) -> Result<Outgoing, ApiError> {
    let mut body = rq.json_object()?;
    let requested = fields::model(&body)?;
    match body.get("input") {
        None | Some(Value::String(_)) | Some(Value::Array(_)) => {}
        Some(_) => {
            return Err(ApiError::BadRequest(
                "`input` must be a string or an array of items".into(),
            ));
        }
    }
    fields::optional_types(
        &body,
        &[
            ("tools", fields::Kind::Array),
            ("max_output_tokens", fields::Kind::Integer),
            ("temperature", fields::Kind::Number),
            ("reasoning", fields::Kind::Object),
        ],
    )?;
    crate::routes::shapes::responses(&body)?;
    let stream = fields::stream_flag(&body)?;
    let admitted = admission::admit(app, rq, Api::Responses, &mut body, &requested)?;
    let (requested, model, route) = (admitted.requested, admitted.model, admitted.route);
    // Codex's remote compaction (issue 13): its items expanded, its trigger served.
    let items = compact::prepare(&mut body, route);
    if compaction::has_trigger(&items) {
        return compact::triggered(app, body, &requested, model.as_ref(), route, stream, |b| {
            passthrough::create(app, b, &requested, model.as_ref(), stream)
        });
    }
    let result = match route {
        Api::Responses => passthrough::create(app, body, &requested, model.as_ref(), stream),
        Api::Chat => translated::create(app, body, &requested, model.as_ref(), stream),
        other => Err(ApiError::Internal(format!(
            "no Responses route to {other:?}"
        ))),
    };
    match result {
        // Codex compacts only on a 2xx stream whose `response.failed` says so.
        Err(ApiError::ContextWindow { message, .. }) if stream => {
            Ok(context_window_stream(app, &message))
        }
        other => other,
    }
}

/// HTTP 200 with a single `response.failed` carrying `context_length_exceeded`.
fn context_window_stream(app: &App, message: &str) -> Outgoing {
    let event = failed_event(&new_response_id(), "context_length_exceeded", message, 0);
    streaming(app, KEEPALIVE, Box::new(|| {}), move |sink| {
        sink.forward(&event);
        Outcome::UpstreamError
    })
}
