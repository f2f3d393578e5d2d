//! Remote compaction for Codex: `POST /v1/responses/compact` (and `/responses/compact`),
//! and a Responses request whose `input` ends in `{"type":"compaction_trigger"}`
//! (codex-rs/core/src/compact_remote.rs, compact_remote_v2.rs; the item shapes are in
//! `features/compaction.rs`).
//!
//! A model Copilot serves on `/responses` gets both forms passed through: Copilot compacts
//! and its `compaction` item goes back untouched. When Copilot does not take them (a 4xx),
//! and for every translated model, the proxy compacts itself: one summary request for the
//! conversation through the model's normal route (routing, translation, limits, effort
//! clamping as any request; `X-Initiator: agent`, since it is the proxy's own call), and the
//! answer is the `compaction` item Codex expects, holding the summary in an opaque form the
//! proxy expands on later turns.

use crate::app::App;
use crate::features::{admission, compaction};
use crate::http::{ApiError, Incoming, Outcome, Outgoing};
use crate::protocol::chat::KEEPALIVE;
use crate::protocol::responses::new_response_id;
use crate::routes::fields::{self, initiator_header};
use crate::routes::pivot::Pivot;
use crate::routes::streaming;
use crate::routing::Api;
use crate::translate::responses_request::to_chat;
use crate::upstream::catalog::Model;
use serde_json::{Map, Value, json};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// `POST /v1/responses/compact`: `{model, input, instructions, tools?, …}` in,
/// `{"output": [retained user messages…, compaction item]}` out.
pub fn create(app: &Arc<App>, rq: &Incoming) -> Result<Outgoing, ApiError> {
    let mut body = rq.json_object()?;
    let requested = fields::model(&body)?;
    if !matches!(body.get("input"), None | Some(Value::Array(_))) {
        return Err(ApiError::BadRequest(
            "`input` must be an array of items".into(),
        ));
    }
    // A client request like any other: the traffic gate resolves the model and the route.
    let admitted = admission::admit(app, rq, Api::Responses, &mut body, &requested)?;
    let (requested, model, route) = (admitted.requested, admitted.model, admitted.route);
    let items = prepare(&mut body, route);
    if route == Api::Responses {
        let mut upstream = body.clone();
        if let Some(m) = &model {
            upstream.insert("model".into(), Value::from(m.id.clone()));
        }
        // What Copilot's `/responses` rejects: `store`, and the stream flags.
        for field in ["store", "stream", "stream_options"] {
            upstream.remove(field);
        }
        let payload = Value::Object(upstream).to_string().into_bytes();
        let agent = [initiator_header(false)];
        match app
            .upstream
            .post("/responses/compact", &payload, &agent, &app.metrics)
            .map_err(ApiError::from)
        {
            Ok(opened) => {
                let mut out = Outgoing::bytes(200, "application/json", opened.read_all()?);
                out.model = Some(requested);
                return Ok(out);
            }
            Err(e) if not_taken(&e) => crate::info!(
                "{requested}: Copilot does not compact ({}); the proxy summarises",
                e.status()
            ),
            Err(e) => return Err(e),
        }
    }
    let (summary, usage) = summarize(app, &body, &requested, model.as_ref(), route, &items)?;
    let mut output = compaction::retained_user_messages(&items);
    output.push(compaction::compaction_item(&summary));
    let mut out = Outgoing::json(
        200,
        &json!({
            "id": format!("cmp_{:016x}", crate::ids::random_u64()),
            "object": "response.compaction",
            "created_at": now(),
            "output": output,
            "usage": usage,
        }),
    );
    out.model = Some(requested);
    Ok(out)
}

/// Expands the proxy's own compaction items in a Responses body's `input` (a compaction
/// item from Copilot stays only on its way back to Copilot's `/responses`); returns the
/// input items.
pub fn prepare(body: &mut Map<String, Value>, route: Api) -> Vec<Value> {
    let Some(Value::Array(items)) = body.get_mut("input") else {
        return Vec::new();
    };
    if compaction::expand(items, route == Api::Responses) > 0 {
        crate::debug!("compaction summaries expanded into the request");
    }
    items.clone()
}

/// A Responses request ending in `compaction_trigger`: passed to Copilot (`pass`) for a
/// `/responses` model, summarised by the proxy when Copilot does not take it or the model
/// is translated. The answer is a Responses answer (stream or object) whose one output
/// item is the compaction.
pub fn triggered(
    app: &Arc<App>,
    body: Map<String, Value>,
    requested: &str,
    model: Option<&Model>,
    route: Api,
    stream: bool,
    pass: impl FnOnce(Map<String, Value>) -> Result<Outgoing, ApiError>,
) -> Result<Outgoing, ApiError> {
    if route == Api::Responses {
        match pass(body.clone()) {
            Err(e) if not_taken(&e) => crate::info!(
                "{requested}: Copilot does not take compaction_trigger ({}); the proxy summarises",
                e.status()
            ),
            other => return other,
        }
    }
    let items = match body.get("input") {
        Some(Value::Array(items)) => items.clone(),
        _ => Vec::new(),
    };
    let (summary, usage) = summarize(app, &body, requested, model, route, &items)?;
    let item = compaction::compaction_item(&summary);
    let response = |status: &str, output: Vec<Value>| {
        json!({"id": new_response_id(), "object": "response", "created_at": now(),
               "status": status, "model": requested, "output": output,
               "usage": if status == "completed" { usage.clone() } else { Value::Null }})
    };
    let completed = response("completed", vec![item.clone()]);
    let mut out = if stream {
        let mut created = response("in_progress", Vec::new());
        created["id"] = completed["id"].clone();
        let events = [
            ("response.created", json!({"response": created})),
            (
                "response.output_item.added",
                json!({"output_index": 0, "item": item}),
            ),
            (
                "response.output_item.done",
                json!({"output_index": 0, "item": item}),
            ),
            ("response.completed", json!({"response": completed})),
        ];
        streaming(app, KEEPALIVE, Box::new(|| {}), move |sink| {
            for (seq, (name, mut data)) in events.into_iter().enumerate() {
                data["type"] = json!(name);
                data["sequence_number"] = json!(seq);
                if !sink.event(Some(name), &data.to_string()) {
                    return Outcome::ClientGone;
                }
            }
            Outcome::Completed
        })
    } else {
        Outgoing::json(200, &completed)
    };
    out.model = Some(requested.to_string());
    Ok(out)
}

/// Copilot's way of saying it does not serve a compaction form (unknown path, item type
/// or field), as opposed to a failure worth reporting.
fn not_taken(e: &ApiError) -> bool {
    matches!(
        e,
        ApiError::Upstream {
            status: 400 | 404 | 405 | 415 | 422 | 501,
            ..
        }
    )
}

/// Asks the model for the handoff note through its normal route; returns the note and the
/// call's usage in Responses terms.
fn summarize(
    app: &Arc<App>,
    body: &Map<String, Value>,
    requested: &str,
    model: Option<&Model>,
    route: Api,
    items: &[Value],
) -> Result<(String, Value), ApiError> {
    let upstream_model = model.map_or(requested, |m| m.id.as_str());
    let mut req = Map::new();
    req.insert("model".into(), Value::from(upstream_model));
    req.insert(
        "input".into(),
        Value::Array(compaction::summary_input(items)),
    );
    for field in ["instructions", "tools", "parallel_tool_calls"] {
        if let Some(v) = body.get(field) {
            req.insert(field.into(), v.clone());
        }
    }
    // Tool definitions stay (some models reject tool calls in history without them), but
    // the note must be text.
    if req
        .get("tools")
        .and_then(Value::as_array)
        .is_some_and(|t| !t.is_empty())
    {
        req.insert("tool_choice".into(), Value::from("none"));
    }
    // The proxy's own call (DESIGN §4): `agent`, whatever the conversation's last item.
    let agent = [initiator_header(false)];
    let (text, usage) = match route {
        Api::Responses => {
            req.insert("stream".into(), Value::Bool(false));
            let payload = Value::Object(req).to_string().into_bytes();
            let reply = app
                .upstream
                .post(Api::Responses.path(), &payload, &agent, &app.metrics)?
                .read_all()?;
            let v: Value = serde_json::from_slice(&reply)
                .map_err(|_| ApiError::BadGateway("Copilot's summary answer is not JSON".into()))?;
            (compaction::output_text(&v), v.get("usage").cloned())
        }
        _ => {
            let translated =
                to_chat(&Value::Object(req), upstream_model, &[]).map_err(ApiError::BadRequest)?;
            let mut chat = translated.body_object().map_err(ApiError::Internal)?;
            chat.insert("stream".into(), Value::Bool(false));
            fields::fit_translated(&mut chat, model);
            let payload = Pivot::Chat.request(&Value::Object(chat))?;
            let reply = app
                .upstream
                .post(Pivot::Chat.path(), &payload, &agent, &app.metrics)?
                .read_all()?;
            let v = Pivot::Chat.completion(&reply, requested)?;
            let text = v
                .pointer("/choices/0/message/content")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            let usage = v.get("usage").map(|u| {
                json!({"input_tokens": u["prompt_tokens"], "output_tokens": u["completion_tokens"],
                       "total_tokens": u["total_tokens"]})
            });
            (text, usage)
        }
    };
    if text.trim().is_empty() {
        return Err(ApiError::BadGateway(
            "the model returned an empty summary; the conversation was not compacted".into(),
        ));
    }
    crate::info!(
        "{requested}: conversation of {} items compacted into a {}-character summary",
        items.len(),
        text.len()
    );
    Ok((text, usage.unwrap_or(Value::Null)))
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
