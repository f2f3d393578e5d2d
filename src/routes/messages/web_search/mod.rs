//! The search loop of `POST /v1/messages`, on whichever route the model takes (native
//! Messages, or translated to Chat or Responses): each pass goes upstream with the
//! `web_search` function on offer; when the model calls it the proxy searches, appends the
//! call and its result to the conversation and sends the next pass, until the model
//! answers without searching, calls a client tool, or `max_uses` is spent. This file holds
//! what both answer shapes share and the non-streaming loop; `stream.rs` streams.

mod stream;

use crate::accounting::Tally;
use crate::app::App;
use crate::features::web_search::blocks::TOOL_NAME;
use crate::features::web_search::detect::{Plan, withdraw_function};
use crate::features::web_search::searcher::{Call, Ran, Searcher};
use crate::http::{ApiError, Incoming, Outgoing};
use crate::protocol::anthropic::{Block, Message, ServerToolUse, Usage};
use crate::protocol::chat_chunk::read;
use crate::routes::messages::images::{send_with_image_fallback, with_vision};
use crate::routes::messages::native::native_request;
use crate::routes::messages::translated::translate;
use crate::routes::pivot::Pivot;
use crate::routing::Api;
use crate::translate::anthropic_response::from_chat;
use crate::translate::tool_names::ToolNames;
use crate::upstream::call::Opened;
use crate::upstream::catalog::Model;
use crate::upstream::headers::initiator_header;
use serde_json::{Map, Value, json};
use std::sync::{Arc, OnceLock};

/// An answer with no content is asked for again this many times (as the Messages route
/// does), then explained.
const EMPTY_RETRIES: usize = 2;
const EMPTY_ANSWER: &str = "The model returned an empty response after 3 attempts. It may be unavailable or \
     unable to handle this request; try again, or try another model.";

/// Counts one more empty pass and says whether it may be asked again (at most
/// `EMPTY_RETRIES` times a turn), warning when it is.
fn retry_empty(empties: &mut usize) -> bool {
    if *empties >= EMPTY_RETRIES {
        return false;
    }
    *empties += 1;
    crate::warn!(
        "empty answer from Copilot in a web search loop (attempt {empties}/{}); retrying",
        EMPTY_RETRIES + 1
    );
    true
}

/// Serves a Messages request that carries a search tool. `body` already offers the
/// function (`detect::offer_function`) and has its history restored.
#[allow(clippy::too_many_arguments)]
pub fn serve(
    app: &Arc<App>,
    rq: &Incoming,
    mut body: Map<String, Value>,
    requested: &str,
    model: Option<Model>,
    route: Api,
    stream: bool,
    mut extra: Vec<(&'static str, String)>,
    plan: Plan,
) -> Result<Outgoing, ApiError> {
    let target = match (route, model) {
        (Api::Messages, Some(m)) => {
            native_request(rq, &mut body, &m, &mut extra);
            Target::Native
        }
        (api, model) => Target::Translated(Pivot::for_upstream(api), Box::new(model)),
    };
    let backend = Backend {
        app: app.clone(),
        target,
        requested: requested.to_string(),
        extra,
        tally: OnceLock::new(),
    };
    let mut searcher = Searcher::new(app.clone(), plan);
    searcher.upstream_calls += 1;
    let first = backend.open(&mut body, stream, 0)?;
    let tally = first.opened.tally.clone();
    let mut out = if stream {
        stream::start(backend, body, searcher, first)
    } else {
        json_loop(&backend, body, searcher, first)?
    };
    out.model = Some(requested.to_string());
    out.tally = Some(tally);
    Ok(out)
}

/// Where the passes go.
enum Target {
    Native,
    Translated(Pivot, Box<Option<Model>>),
}

/// Sends passes and reads their answers, for one client request.
struct Backend {
    pub app: Arc<App>,
    pub target: Target,
    pub requested: String,
    /// The first pass's headers (the client's initiator; native version and betas).
    extra: Vec<(&'static str, String)>,
    /// The request's usage: every pass adds to the first one's.
    tally: OnceLock<Arc<Tally>>,
}

/// An opened pass and the tool-name aliases its translation used.
struct Pass {
    pub opened: Opened,
    pub tools: ToolNames,
    /// A local input estimate (about 4 bytes a token) for `message_start`.
    pub estimate: u64,
}

impl Backend {
    /// Sends pass number `pass`: the first as the client's turn, every later one as the
    /// agent's (the proxy makes it on its own).
    pub fn open(
        &self,
        body: &mut Map<String, Value>,
        stream: bool,
        pass: usize,
    ) -> Result<Pass, ApiError> {
        body.insert("stream".into(), Value::Bool(stream));
        let mut extra = self.extra.clone();
        if pass > 0 {
            extra.retain(|(k, _)| *k != "x-initiator");
            extra.push(initiator_header(false));
        }
        let app = &self.app;
        let mut sent = (ToolNames::default(), 0);
        let opened = send_with_image_fallback(body, |b| {
            let (path, payload, tools) = match &self.target {
                Target::Native => {
                    let payload =
                        serde_json::to_vec(b).map_err(|e| ApiError::Internal(e.to_string()))?;
                    (Api::Messages.path(), payload, ToolNames::default())
                }
                Target::Translated(pivot, model) => {
                    let model = model.as_ref().as_ref();
                    let upstream_model = model.map_or(self.requested.as_str(), |m| &m.id);
                    let (payload, tools) = translate(b, upstream_model, model, *pivot)?;
                    (pivot.path(), payload, tools)
                }
            };
            let headers = with_vision(&extra, b);
            let opened = app.upstream.post(path, &payload, &headers, &app.metrics)?;

            sent = (tools, payload.len() as u64 / 4);
            Ok(opened)
        })?
        .accounted_in(&self.tally);
        Ok(Pass {
            opened,
            tools: sent.0,
            estimate: sent.1,
        })
    }

    /// A non-streaming pass's answer as an Anthropic message.
    pub fn message(&self, pass: Pass) -> Result<Message<'static>, ApiError> {
        let bytes = pass.opened.read_all()?;
        match &self.target {
            Target::Native => Message::from_native(&bytes).map_err(|_| {
                ApiError::BadGateway("Copilot answered with something other than JSON".into())
            }),
            Target::Translated(pivot, _) => {
                let bytes = pivot.completion_bytes(bytes, &self.requested)?;
                let mut tree = None;
                let chat = read(&bytes, &mut tree);
                Ok(from_chat(&chat, &self.requested, &pass.tools))
            }
        }
    }
}

/// Whether a content block is the model's call of the search function.
fn is_search_call(block: &Block) -> bool {
    block
        .as_tool_use()
        .is_some_and(|(name, ..)| name == TOOL_NAME)
}

fn is_client_call(block: &Block) -> bool {
    block
        .as_tool_use()
        .is_some_and(|(name, ..)| name != TOOL_NAME)
}

fn search_calls(blocks: &[Block]) -> Vec<Call> {
    let calls = blocks.iter().filter_map(Block::as_tool_use);
    calls
        .filter(|(name, ..)| *name == TOOL_NAME)
        .map(|(_, id, input)| Call {
            id: id.to_string(),
            input: input.cloned().unwrap_or_else(|| json!({})),
        })
        .collect()
}

/// The pass's answer and the search results, appended for the next pass; the function is
/// withdrawn once `max_uses` searches ran.
fn append_turn(body: &mut Map<String, Value>, answer: &[Block], ran: &[Ran], searcher: &Searcher) {
    let results: Vec<Value> = ran.iter().map(|r| r.tool_result.clone()).collect();
    if let Some(Value::Array(messages)) = body.get_mut("messages") {
        messages.push(json!({"role": "assistant", "content": answer}));
        messages.push(json!({"role": "user", "content": results}));
    }
    release_forced_choice(body);
    if searcher.exhausted() {
        withdraw_function(body);
    }
}

/// A `tool_choice` that forced the search (by name, or `any` with no other tool) did its
/// work on the first pass; later passes may answer.
fn release_forced_choice(body: &mut Map<String, Value>) {
    let only_search = body
        .get("tools")
        .and_then(Value::as_array)
        .is_some_and(|t| t.len() == 1);
    let forced = body.get("tool_choice").is_some_and(|c| {
        let kind = c.get("type").and_then(Value::as_str);
        (kind == Some("tool") && c.get("name").and_then(Value::as_str) == Some(TOOL_NAME))
            || (kind == Some("any") && only_search)
    });
    if forced {
        body.insert("tool_choice".into(), json!({"type": "auto"}));
    }
}

/// The usage of a whole turn: every pass's counts summed, and the searches that ran.
fn turn_usage(passes: &Usage, searches: usize) -> Usage {
    Usage {
        server_tool_use: Some(ServerToolUse {
            web_search_requests: searches as u64,
        }),
        ..passes.clone()
    }
}

/// The non-streaming loop: passes until an answer without a search call.
fn json_loop(
    backend: &Backend,
    mut body: Map<String, Value>,
    mut searcher: Searcher,
    first: Pass,
) -> Result<Outgoing, ApiError> {
    let mut content: Vec<Block> = Vec::new();
    let mut usage = Usage::default();
    let mut next = Some(first);
    let mut empties = 0;
    let mut message = loop {
        let opened = match next.take() {
            Some(p) => p,
            None => {
                // Every call after the first is the proxy's own (the agent's).
                searcher.upstream_calls += 1;
                backend.open(&mut body, false, searcher.upstream_calls - 1)?
            }
        };
        let mut message = backend.message(opened)?;
        usage.add(&message.usage);
        let answer = std::mem::take(&mut message.content);
        if answer.is_empty() && retry_empty(&mut empties) {
            continue;
        }
        let calls = search_calls(&answer);
        if !calls.is_empty() && !searcher.may_continue() {
            crate::warn!("web search: the model keeps searching; its last calls are dropped");
        }
        if calls.is_empty() || !searcher.may_continue() {
            content.extend(answer.into_iter().filter(|b| !is_search_call(b)));
            break message;
        }
        let ran = searcher.run(&calls);
        let client_call = answer.iter().any(is_client_call);
        if !client_call {
            append_turn(&mut body, &answer, &ran, &searcher);
        }
        let mut results = ran.into_iter();
        for block in answer {
            match is_search_call(&block) {
                true => {
                    if let Some(r) = results.next() {
                        content.push(Block::Other(r.server_tool_use));
                        content.push(Block::Other(r.result));
                    }
                }
                false => content.push(block),
            }
        }
        if client_call {
            // The client runs its tools; the searches of this turn are already answered.
            break message;
        }
        empties = 0;
    };
    searcher.log(&backend.requested);
    if !content
        .iter()
        .any(|b| b.kind() == "text" || is_client_call(b))
        && empties > 0
    {
        content.push(Block::text(EMPTY_ANSWER));
    }
    if message.stop_reason.as_deref() == Some("tool_use") && !content.iter().any(is_client_call) {
        // Only searches were asked for, and they are answered (or cut off).
        message.stop_reason = Some("end_turn".into());
    }
    message.content = content;
    message.usage = turn_usage(&usage, searcher.succeeded);
    message.model = backend.requested.clone().into();
    Ok(Outgoing::json(200, &message))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_forced_search_is_forced_once() {
        let body = |choice: Value, tools: Value| {
            json!({"tool_choice": choice, "tools": tools})
                .as_object()
                .unwrap()
                .clone()
        };
        let search = json!([{"name": "web_search"}]);
        let both = json!([{"name": "web_search"}, {"name": "Read"}]);
        let cases = [
            (
                json!({"type": "tool", "name": "web_search"}),
                both.clone(),
                json!({"type": "auto"}),
            ),
            (json!({"type": "any"}), search, json!({"type": "auto"})),
            (json!({"type": "any"}), both.clone(), json!({"type": "any"})),
            (
                json!({"type": "tool", "name": "Read"}),
                both,
                json!({"type": "tool", "name": "Read"}),
            ),
        ];
        for (choice, tools, want) in cases {
            let mut b = body(choice, tools);
            release_forced_choice(&mut b);
            assert_eq!(b["tool_choice"], want);
        }
        let mut usage = Usage::default();
        let read = |v: Value| serde_json::from_value::<Usage>(v).unwrap();
        usage.add(&read(json!({"input_tokens": 10, "output_tokens": 2})));
        usage.add(&read(
            json!({"input_tokens": 5, "output_tokens": 3, "cache_read_input_tokens": 1}),
        ));
        assert_eq!(
            serde_json::to_value(turn_usage(&usage, 2)).unwrap(),
            json!({"input_tokens": 15, "output_tokens": 5, "cache_read_input_tokens": 1,
                   "server_tool_use": {"web_search_requests": 2}})
        );
    }
}
