//! `POST /v1/chat/completions`: pass-through to Copilot's `/chat/completions`, with the
//! model id resolved, output limits fitted to the model, honest billing headers, and the
//! response normalized where Copilot departs from OpenAI's wire format.

use crate::app::App;
use crate::features::admission;
use crate::features::billing::last_turn_is_user;
use crate::http::{ApiError, Incoming, Outgoing};
use crate::protocol::chat::{ChunkHead, DONE, KEEPALIVE, error_chunk};
use crate::relay::{self, Adapter, ChatSource, Fault, Sink, Step};
use crate::routes::fields::{self, initiator_header, vision_header};
use crate::routes::pivot::Pivot;
use crate::routing::Api;
use crate::sse::Event;
use crate::streaming::{finished, streaming};
use crate::upstream::catalog::Model;
use serde_json::{Map, Value, json};
use std::time::{SystemTime, UNIX_EPOCH};

pub fn completions(app: &App, rq: &Incoming) -> Result<Outgoing, ApiError> {
    let mut body = rq.json_object()?;
    let requested = fields::model(&body)?;
    validate(&body)?;
    super::shapes::chat(&body)?;
    let stream = fields::stream_flag(&body)?;
    let admitted = admission::admit(app, rq, Api::Chat, &mut body, &requested)?;
    let (requested, model, route) = (admitted.requested, admitted.model, admitted.route);
    let pivot = Pivot::for_upstream(route);
    let naming = Naming::new(&requested, model.as_ref());
    body.insert("model".into(), Value::from(naming.upstream.clone()));
    fields::fit_output_limit(&mut body, model.as_ref());
    crate::upstream::effort::clamp(&mut body, model.as_ref());
    let client_wants_usage = client_wants_usage(&body);
    if stream {
        let options = body.entry("stream_options").or_insert_with(|| json!({}));
        if let Value::Object(o) = options {
            o.insert("include_usage".into(), Value::Bool(true));
        }
    }
    let messages = body
        .get("messages")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let mut extra = vec![initiator_header(last_turn_is_user(messages))];
    extra.extend(vision_header(messages.iter().any(has_image)));
    let payload = pivot.request(&Value::Object(body))?;
    let opened = app
        .upstream
        .post(pivot.path(), &payload, &extra, &app.metrics)?;
    let tally = Some(opened.tally.clone());
    if !stream {
        let mut v = pivot.completion(&opened.read_all()?, &requested)?;
        naming.normalize(&mut v, "chat.completion");
        let mut out = Outgoing::json(200, &v);
        out.model = Some(requested);
        out.tally = tally;
        return Ok(out);
    }
    let (reader, lease) = opened.into_parts();
    let mut out = streaming(app, KEEPALIVE, lease.canceller(), move |sink| {
        let mut adapter = ChatRelay {
            source: pivot.source(&naming.requested),
            naming,
            client_wants_usage,
        };
        finished(lease, relay::relay_to_end(reader, sink, &mut adapter))
    });
    out.model = Some(requested);
    out.tally = tally;
    Ok(out)
}

/// Types of the fields we read or that clients most often get wrong; the upstream judges
/// the rest.
fn validate(body: &Map<String, Value>) -> Result<(), ApiError> {
    let messages = match body.get("messages") {
        None => return Err(ApiError::BadRequest("`messages` is required".into())),
        Some(Value::Array(m)) if m.is_empty() => {
            return Err(ApiError::BadRequest(
                "`messages` must contain at least one message".into(),
            ));
        }
        Some(Value::Array(m)) => m,
        Some(_) => return Err(ApiError::BadRequest("`messages` must be an array".into())),
    };
    for (i, m) in messages.iter().enumerate() {
        if m.get("role").and_then(Value::as_str).is_none() {
            return Err(ApiError::BadRequest(format!(
                "`messages[{i}]` must be an object with a string `role`"
            )));
        }
    }
    fields::optional_types(
        body,
        &[
            ("max_tokens", fields::Kind::Integer),
            ("max_completion_tokens", fields::Kind::Integer),
            ("temperature", fields::Kind::Number),
            ("top_p", fields::Kind::Number),
            ("n", fields::Kind::Integer),
            ("tools", fields::Kind::Array),
            ("stream_options", fields::Kind::Object),
        ],
    )
}

/// Whether the client itself asked for the usage chunk.
fn client_wants_usage(body: &Map<String, Value>) -> bool {
    body.get("stream_options")
        .and_then(|o| o.get("include_usage"))
        .and_then(Value::as_bool)
        == Some(true)
}

fn has_image(message: &Value) -> bool {
    message
        .get("content")
        .and_then(Value::as_array)
        .is_some_and(|parts| {
            parts
                .iter()
                .any(|p| p.get("type").and_then(Value::as_str) == Some("image_url"))
        })
}

/// The model as the client named it and as Copilot knows it, and the fields Copilot's
/// answers sometimes lack.
struct Naming {
    requested: String,
    upstream: String,
    id: String,
    created: u64,
}

impl Naming {
    fn new(requested: &str, model: Option<&Model>) -> Naming {
        Naming {
            requested: requested.to_string(),
            upstream: model.map_or_else(|| requested.to_string(), |m| m.id.clone()),
            id: format!("chatcmpl-{:016x}", crate::ids::random_u64()),
            created: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0),
        }
    }

    /// Whether `normalize` may change a chunk with this head.
    fn needs_normalizing(&self, head: &ChunkHead) -> bool {
        !(head.object && head.created && head.id)
            || (self.requested != self.upstream && head.model.as_deref() == Some(&self.upstream))
    }

    /// Adds a missing `object`, `created` or `id` (the OpenAI SDK's `.stream()` helper drops
    /// chunks without `object`), and reports the model id the client asked for. Returns
    /// whether anything changed.
    fn normalize(&self, v: &mut Value, object: &str) -> bool {
        let Value::Object(map) = v else { return false };
        let mut changed = false;
        let mut fill = |key: &str, value: Value| {
            if !map.contains_key(key) {
                map.insert(key.into(), value);
                changed = true;
            }
        };
        fill("object", Value::from(object));
        fill("created", Value::from(self.created));
        fill("id", Value::from(self.id.clone()));
        if self.requested != self.upstream
            && map.get("model").and_then(Value::as_str) == Some(self.upstream.as_str())
        {
            map.insert("model".into(), Value::from(self.requested.clone()));
            changed = true;
        }
        changed
    }
}

/// Relays Copilot's chunks to the client (unchanged bytes when nothing needed fixing).
/// Never ends silently: a normal end sends `[DONE]`; a fault an error chunk and then
/// `[DONE]`.
struct ChatRelay {
    source: ChatSource,
    naming: Naming,
    client_wants_usage: bool,
}

impl Adapter for ChatRelay {
    fn on_event(&mut self, event: &Event, sink: &mut Sink) -> Result<Step, Fault> {
        if event.comment.is_some() {
            sink.sse(event.to_wire().as_bytes());
            return Ok(Step::Continue);
        }
        if let Some(head) = self.source.head(event) {
            if head.usage_only() && !self.client_wants_usage {
                return Ok(Step::Continue);
            }
            if !self.naming.needs_normalizing(&head) {
                sink.forward(event);
                return Ok(Step::Continue);
            }
        }
        // A translated `/responses` stream: its chunks already name the requested model and
        // carry `object`, `created` and `id`, so they are written as they are.
        let wants_usage = self.client_wants_usage;
        let translated = self.source.each_translated(event, &mut |chunk| {
            if chunk.choices.is_empty() && chunk.usage.is_some() && !wants_usage {
                return;
            }
            if let Ok(text) = serde_json::to_string(chunk) {
                sink.event(None, &text);
            }
        });
        if let Some(step) = translated {
            return step;
        }
        let decoded = self.source.decode(event)?;
        for mut chunk in decoded.chunks {
            let choices = chunk.get("choices").and_then(Value::as_array);
            let usage_only = choices.is_some_and(Vec::is_empty)
                && chunk.get("usage").is_some_and(|u| !u.is_null());
            if usage_only && !self.client_wants_usage {
                continue;
            }
            if self.naming.normalize(&mut chunk, "chat.completion.chunk") || !self.source.is_chat()
            {
                sink.event(None, &chunk.to_string());
            } else {
                sink.forward(event);
            }
        }
        Ok(Step::done_if(decoded.done))
    }

    fn on_eof(&mut self, _: &mut Sink) -> Result<(), Fault> {
        self.source.on_eof()
    }

    fn close(&mut self, ending: &Result<(), Fault>, sink: &mut Sink) {
        if let Err(fault) = ending {
            sink.sse(error_chunk(&fault.message(), fault.openai_code()).as_bytes());
        }
        sink.sse(DONE);
    }

    fn name(&self) -> &'static str {
        "chat"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn initiator_follows_the_latest_turn() {
        let user = json!([{"role": "system", "content": "s"}, {"role": "user", "content": "hi"}]);
        assert!(last_turn_is_user(user.as_array().unwrap()));
        let tool = json!([{"role": "user", "content": "hi"}, {"role": "assistant", "tool_calls": []}, {"role": "tool", "content": "42"}]);
        assert!(!last_turn_is_user(tool.as_array().unwrap()));
        let later_user =
            json!([{"role": "assistant", "content": "a"}, {"role": "user", "content": "next"}]);
        assert!(last_turn_is_user(later_user.as_array().unwrap()));
    }

    #[test]
    fn normalization_fills_missing_fields_and_restores_the_model_name() {
        let catalog = Model::from_upstream(&json!({"id": "claude-sonnet-4.5"})).unwrap();
        let n = Naming::new("claude-sonnet-4-5-20250929", Some(&catalog));
        let mut v = json!({"choices": [], "model": "claude-sonnet-4.5"});
        assert!(n.normalize(&mut v, "chat.completion.chunk"));
        assert_eq!(v["object"], "chat.completion.chunk");
        assert_eq!(v["model"], "claude-sonnet-4-5-20250929");
        assert!(v["id"].as_str().unwrap().starts_with("chatcmpl-"));
        let same = Naming::new("gpt-4.1", None);
        let mut full =
            json!({"object": "chat.completion", "created": 1, "id": "x", "model": "gpt-4.1"});
        assert!(!same.normalize(&mut full, "chat.completion"));
    }
}
