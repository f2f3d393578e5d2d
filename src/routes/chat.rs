//! `POST /v1/chat/completions`: pass-through to Copilot's `/chat/completions`, with the
//! model id resolved, output limits fitted to the model, honest billing headers, and the
//! response normalized where Copilot departs from OpenAI's wire format.

use crate::app::App;
use crate::features::admission::{self, Body};
use crate::features::billing::{last_role_is_user, latest_user_text};
use crate::features::overflow::{self, PROMPT_FIELDS, RawPrompt};
use crate::http::{ApiError, Incoming, Outgoing, StrictCheck, StrictKeys};
use crate::protocol::chat::{ChunkHead, DONE, KEEPALIVE, error_chunk};
use crate::protocol::chat_body::{ChatBody, Message};
use crate::protocol::lenient::{List, Obj};
use crate::relay::{self, Adapter, ChatSource, Fault, Sink, Step};
use crate::routes::fields::{self, initiator_header, vision_header};
use crate::routes::pivot::Pivot;
use crate::routing::Api;
use crate::sse::Event;
use crate::streaming::{finished, streaming};
use crate::upstream::catalog::Model;
use serde::de::DeserializeSeed;
use serde_json::{Map, Value, json};
use std::time::{SystemTime, UNIX_EPOCH};

/// The top-level members the route reads or edits as values, all small: the checks and
/// the fitting to the model run over these as a map (`ChatBody::head`), and only those
/// that change are written anew upstream. `messages` and `tools`, nearly all of a body,
/// are read from the bytes and sent as they came.
const HEAD: [&str; 14] = [
    "model",
    "stream",
    "stream_options",
    "temperature",
    "top_p",
    "n",
    "max_tokens",
    "max_completion_tokens",
    "max_output_tokens",
    "reasoning_effort",
    "reasoning",
    "output_config",
    "thinking_budget",
    "thinking",
];

pub fn completions(app: &App, rq: &Incoming) -> Result<Outgoing, ApiError> {
    let (body, upper_bound) = read_body(rq)?;
    let head = body.head(&HEAD);
    let requested = fields::model(&head)?;
    let messages = body.messages();
    let tools = body.tools();
    let messages = validate(&head, messages.as_ref(), &body)?;
    super::shapes::chat(&head, messages, tools.as_ref())?;
    let stream = fields::stream_flag(&head)?;
    let read = ChatRead {
        body: &body,
        messages,
        tools: match &tools {
            Some(List::Is(tools)) => tools.len(),
            _ => 0,
        },
        stream,
        upper_bound,
    };
    let admitted = admission::admit_body(app, rq, Api::Chat, &read, &requested)?;
    let (requested, model, route) = (admitted.requested, admitted.model, admitted.route);
    let pivot = Pivot::for_upstream(route);
    let naming = Naming::new(&requested, model.as_ref());
    let mut edited = head.clone();
    edited.insert("model".into(), Value::from(naming.upstream.clone()));
    fields::fit_output_limit(&mut edited, model.as_ref());
    crate::upstream::effort::clamp(&mut edited, model.as_ref());
    let client_wants_usage = client_wants_usage(&edited);
    if stream {
        let options = edited.entry("stream_options").or_insert_with(|| json!({}));
        if let Value::Object(o) = options {
            o.insert("include_usage".into(), Value::Bool(true));
        }
    }
    let mut extra = vec![initiator_header(read.billed_as_user())];
    extra.extend(vision_header(
        messages
            .iter()
            .any(|m| m.get().is_some_and(Message::has_image)),
    ));
    let payload = pivot.request_bytes(body.splice(&head, &edited))?;
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

/// The body's view and its prompt's upper bound (`overflow::Prompt`), the body checked
/// as strictly as `Incoming::json_object` checks one, member by member: the prompt's
/// members by the walk that measures the prompt, the others by `StrictCheck`. On a fault
/// the whole-body check runs, for its words.
fn read_body(rq: &Incoming) -> Result<(ChatBody<'_>, u64), ApiError> {
    if let Some(read) = checked(&rq.body) {
        return Ok(read);
    }
    rq.check_json_object()?;
    Err(ApiError::BadRequest(
        "request body is not valid JSON".into(),
    ))
}

fn checked(bytes: &[u8]) -> Option<(ChatBody<'_>, u64)> {
    let body = ChatBody::parse(bytes).ok()?;
    let mut keys = StrictKeys::default();
    for (key, raw) in body.members() {
        keys.insert::<serde_json::Error>(key.clone()).ok()?;
        if !PROMPT_FIELDS.contains(&key.as_ref()) {
            let mut de = serde_json::Deserializer::from_str(raw.get());
            StrictCheck.deserialize(&mut de).ok()?;
        }
    }
    let mut bound = 0;
    raw_prompt(&body)
        .checked_pieces(&mut |p| match p {
            overflow::Piece::Text(t) => bound += t.len() as u64,
            overflow::Piece::Fixed(n) => bound += n,
        })
        .ok()?;
    Some((body, bound))
}

/// The members of a Chat body that make up its prompt.
fn raw_prompt<'a>(body: &ChatBody<'a>) -> RawPrompt<'a> {
    let fields = PROMPT_FIELDS
        .iter()
        .filter_map(|f| Some((*f, body.get(f)?)))
        .collect();
    RawPrompt { fields }
}

/// Types of the fields we read or that clients most often get wrong; the upstream judges
/// the rest. Returns the messages (at least one).
fn validate<'m, 'a>(
    head: &Map<String, Value>,
    messages: Option<&'m List<Obj<Message<'a>>>>,
    body: &ChatBody,
) -> Result<&'m [Obj<Message<'a>>], ApiError> {
    let messages = match messages {
        None => return Err(ApiError::BadRequest("`messages` is required".into())),
        Some(List::Is(m)) if m.is_empty() => {
            return Err(ApiError::BadRequest(
                "`messages` must contain at least one message".into(),
            ));
        }
        Some(List::Is(m)) => m,
        Some(List::Not) => {
            return Err(ApiError::BadRequest("`messages` must be an array".into()));
        }
    };
    for (i, m) in messages.iter().enumerate() {
        if m.get().and_then(Message::role).is_none() {
            return Err(ApiError::BadRequest(format!(
                "`messages[{i}]` must be an object with a string `role`"
            )));
        }
    }
    fields::optional_types(
        head,
        &[
            ("max_tokens", fields::Kind::Integer),
            ("max_completion_tokens", fields::Kind::Integer),
            ("temperature", fields::Kind::Number),
            ("top_p", fields::Kind::Number),
            ("n", fields::Kind::Integer),
        ],
    )?;
    if body
        .field("tools")
        .is_some_and(|t| !t.get().starts_with('['))
    {
        return Err(ApiError::BadRequest("`tools` must be an array".into()));
    }
    fields::optional_types(head, &[("stream_options", fields::Kind::Object)])?;
    Ok(messages)
}

/// Whether the client itself asked for the usage chunk.
fn client_wants_usage(body: &Map<String, Value>) -> bool {
    body.get("stream_options")
        .and_then(|o| o.get("include_usage"))
        .and_then(Value::as_bool)
        == Some(true)
}

/// What the admission gate reads of a Chat body held as bytes.
struct ChatRead<'r, 'a> {
    body: &'r ChatBody<'a>,
    messages: &'r [Obj<Message<'a>>],
    tools: usize,
    stream: bool,
    /// Measured when the body was checked (`checked`).
    upper_bound: u64,
}

impl overflow::Prompt for ChatRead<'_, '_> {
    fn pieces(&self, each: &mut dyn FnMut(overflow::Piece<'_>)) {
        raw_prompt(self.body).pieces(each)
    }

    fn upper_bound(&self) -> u64 {
        self.upper_bound
    }
}

impl Body for ChatRead<'_, '_> {
    fn stream(&self) -> bool {
        self.stream
    }

    fn items(&self) -> usize {
        self.messages.len()
    }

    fn tools(&self) -> usize {
        self.tools
    }

    fn billed_as_user(&self) -> bool {
        last_role_is_user(
            self.messages
                .iter()
                .map(|m| m.get().and_then(Message::role)),
        )
    }

    /// Only the `--manual` prompt asks, so the messages are read into a tree here, on
    /// that path alone.
    fn latest_user_text(&self) -> String {
        let tree = self
            .body
            .get("messages")
            .and_then(|raw| serde_json::from_str::<Value>(raw.get()).ok());
        latest_user_text(tree.as_ref())
    }
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

    /// The billing rule over a body's bytes, as the route reads it.
    fn billed_as_user(messages_tree: Value) -> bool {
        let text = json!({"messages": messages_tree}).to_string();
        let body = ChatBody::parse(text.as_bytes()).unwrap();
        let Some(List::Is(messages)) = body.messages() else {
            panic!("an array")
        };
        let read = ChatRead {
            body: &body,
            messages: &messages,
            tools: 0,
            stream: false,
            upper_bound: 0,
        };
        let tree = crate::features::billing::last_turn_is_user(messages_tree.as_array().unwrap());
        assert_eq!(read.billed_as_user(), tree, "the same rule as over a tree");
        tree
    }

    #[test]
    fn the_gate_reads_the_bytes_as_it_reads_a_tree() {
        use crate::features::admission::TreeBody;
        use crate::features::overflow::{Piece, Prompt};
        let tree = json!({"model": "m", "stream": true, "messages": [
            {"role": "user", "content": [{"type": "text", "text": "first"}, {"type": "text", "text": "part"}]},
            {"role": "assistant", "content": null, "tool_calls": [{"id": "c", "function": {"name": "f", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "c", "content": "42"}],
            "tools": [{"type": "function", "function": {"name": "f", "description": "caf\u{e9}\n"}}]});
        let text = tree.to_string();
        let body = ChatBody::parse(text.as_bytes()).unwrap();
        let (Some(List::Is(messages)), Some(List::Is(tools))) = (body.messages(), body.tools())
        else {
            panic!("arrays")
        };
        let read = ChatRead {
            body: &body,
            messages: &messages,
            tools: tools.len(),
            stream: true,
            upper_bound: checked(text.as_bytes()).unwrap().1,
        };
        let map = tree.as_object().unwrap();
        let as_tree = TreeBody {
            api: Api::Chat,
            map,
        };
        let facts = |b: &dyn Body| {
            let (mut texts, mut fixed) = (Vec::new(), 0);
            b.pieces(&mut |p| match p {
                Piece::Text(t) => texts.push(t.to_string()),
                Piece::Fixed(n) => fixed += n,
            });
            texts.sort();
            let who = (b.stream(), b.items(), b.tools(), b.billed_as_user());
            (who, b.latest_user_text(), texts, fixed)
        };
        assert_eq!(facts(&read), facts(&as_tree));
        assert_eq!(read.upper_bound(), as_tree.upper_bound());
        assert_eq!(facts(&read).0, (true, 3, 1, false));
        assert_eq!(facts(&read).1, "first part");
    }

    #[test]
    fn initiator_follows_the_latest_turn() {
        let user = json!([{"role": "system", "content": "s"}, {"role": "user", "content": "hi"}]);
        assert!(billed_as_user(user));
        let tool = json!([{"role": "user", "content": "hi"}, {"role": "assistant", "tool_calls": []}, {"role": "tool", "content": "42"}]);
        assert!(!billed_as_user(tool));
        let later_user =
            json!([{"role": "assistant", "content": "a"}, {"role": "user", "content": "next"}]);
        assert!(billed_as_user(later_user));
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
