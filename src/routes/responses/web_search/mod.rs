//! Hosted web search on `/v1/responses` for models the proxy translates to Chat: the
//! hosted `{"type":"web_search"}` / `web_search_preview` tool (dropped before issue #12)
//! is served by the same search loop, in Chat terms. The answer carries a
//! `web_search_call` item per search (`action.type: "search"`, `action.query`) before the
//! model's message, whose text gets `url_citation` annotations for the sources it used.
//! Models Copilot serves on `/responses` keep the hosted tool: it passes through.
//!
//! A streaming client's passes stream (`stream.rs`); a JSON client's do not.

mod stream;

use crate::accounting::Tally;
use crate::app::App;
use crate::config::web_search::Provider;
use crate::features::web_search::detect::{DEFAULT_MAX_USES, Plan};
use crate::features::web_search::searcher::{Found, Searcher, call_query};
use crate::features::web_search::{SearchResult, blocks};
use crate::http::{ApiError, Outgoing};
use crate::protocol::chat_chunk::Chunk;
use crate::protocol::responses::{OutputItem, Part, Response};
use crate::routes::pivot::Pivot;
use crate::translate::responses_response::from_chat;
use crate::upstream::call::Opened;
use crate::upstream::headers::initiator_header;
use serde_json::{Map, Value, json};
use std::sync::{Arc, OnceLock};

/// The hosted search tool of a Responses request, when the proxy serves it.
pub fn hosted_plan(app: &App, req: &Value) -> Option<Plan> {
    if app.config.web_search.provider == Provider::Off {
        return None;
    }
    let tool = req.get("tools")?.as_array()?.iter().find(|t| {
        t.get("type").and_then(Value::as_str).is_some_and(|k| {
            k == "web_search"
                || k.starts_with("web_search_preview")
                || k.starts_with("web_search_20")
        })
    })?;
    let allowed = tool
        .pointer("/filters/allowed_domains")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect();
    Some(Plan {
        max_uses: DEFAULT_MAX_USES,
        allowed_domains: allowed,
        blocked_domains: Vec::new(),
        client_name: blocks::TOOL_NAME.to_string(),
    })
}

/// A translated Responses request with everything the route would answer with.
pub struct Turn {
    /// The Chat request (model resolved, limits fitted).
    pub chat: Map<String, Value>,
    /// The client's Responses request.
    pub req: Value,
    pub requested: String,
    pub custom_tools: Vec<String>,
    pub extra: Vec<(&'static str, String)>,
    pub response_id: String,
    /// The conversation so far, for the response store.
    pub conversation: Vec<Value>,
    pub stream: bool,
}

pub fn serve(app: &Arc<App>, turn: Turn, plan: Plan) -> Result<Outgoing, ApiError> {
    let mut run = Run {
        app: app.clone(),
        searcher: Searcher::new(app.clone(), plan),
        items: Vec::new(),
        sources: Vec::new(),
        turn,
        tally: OnceLock::new(),
    };
    run.offer_function();
    let requested = run.turn.requested.clone();
    // The first pass is made before answering: its errors are HTTP errors.
    let first = run.open(0, run.turn.stream)?;
    let tally = first.tally.clone();
    let mut out = if run.turn.stream {
        stream::start(run, first)
    } else {
        let completion = Pivot::Chat.completion(&first.read_all()?, &requested)?;
        let response = run.finish_loop(completion)?;
        run.searcher.log(&requested);
        Outgoing::json(200, &response)
    };
    out.model = Some(requested);
    out.tally = Some(tally);
    Ok(out)
}

/// One client request's loop state.
struct Run {
    pub app: Arc<App>,
    pub turn: Turn,
    pub searcher: Searcher,
    /// The items of the passes before the last (non-streaming): what the model said
    /// before searching, and a `web_search_call` per search.
    items: Vec<OutputItem>,
    /// Every result found, for the citations.
    pub sources: Vec<SearchResult>,
    /// The request's usage: every pass adds to the first one's.
    tally: OnceLock<Arc<Tally>>,
}

impl Run {
    fn offer_function(&mut self) {
        let function = blocks::function_tool();
        let tool = json!({"type": "function", "function": {
            "name": function["name"], "description": function["description"],
            "parameters": function["input_schema"]}});
        match self
            .turn
            .chat
            .get_mut("tools")
            .and_then(Value::as_array_mut)
        {
            Some(tools) => tools.push(tool),
            None => {
                self.turn.chat.insert("tools".into(), json!([tool]));
            }
        }
    }

    /// Sends pass number `pass`; every pass after the first is the agent's.
    pub fn open(&mut self, pass: usize, stream: bool) -> Result<Opened, ApiError> {
        self.searcher.upstream_calls += 1;
        let mut extra = self.turn.extra.clone();
        if pass > 0 {
            extra.retain(|(k, _)| *k != "x-initiator");
            extra.push(initiator_header(false));
        }
        if stream {
            self.turn.chat.insert("stream".into(), json!(true));
            self.turn
                .chat
                .insert("stream_options".into(), json!({"include_usage": true}));
        } else {
            self.turn.chat.insert("stream".into(), json!(false));
            self.turn.chat.remove("stream_options");
        }
        let payload = Pivot::Chat.request(&Value::Object(self.turn.chat.clone()))?;
        let opened =
            self.app
                .upstream
                .post(Pivot::Chat.path(), &payload, &extra, &self.app.metrics)?;
        Ok(opened.accounted_in(&self.tally))
    }

    /// The model's message and the search results, appended for the next pass; the
    /// function is withdrawn once `max_uses` searches ran.
    pub fn append(&mut self, message: Value, outputs: Vec<Value>) {
        if let Some(Value::Array(messages)) = self.turn.chat.get_mut("messages") {
            messages.push(message);
            messages.extend(outputs);
        }
        if self.searcher.exhausted() {
            self.withdraw_function();
        }
    }

    /// Runs passes from the first answer on until one needs no search; returns the
    /// Responses object (stored for `previous_response_id`).
    fn finish_loop(&mut self, first: Value) -> Result<Response<'static>, ApiError> {
        let mut completion = first;
        let mut pass = 0;
        loop {
            let message = completion
                .pointer("/choices/0/message")
                .cloned()
                .unwrap_or(Value::Null);
            let calls: Vec<Value> = message["tool_calls"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|c| {
                    c.pointer("/function/name").and_then(Value::as_str) == Some(blocks::TOOL_NAME)
                })
                .cloned()
                .collect();
            if calls.is_empty() || !self.searcher.may_continue() {
                break;
            }
            let client_calls = message["tool_calls"].as_array().map_or(0, Vec::len) > calls.len();
            if !client_calls {
                // What the model said before searching stays in the answer, in order.
                let mut said = completion.clone();
                strip_search_calls(&mut said);
                let turn = &self.turn;
                let said = Chunk::from_value(&said);
                let partial = from_chat(&said, &turn.req, &turn.custom_tools, &turn.response_id);
                self.items.extend(partial.output);
            }
            let mut outputs = Vec::new();
            for call in &calls {
                let args = call
                    .pointer("/function/arguments")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                let query = call_query(&serde_json::from_str(args).unwrap_or(Value::Null));
                let found = self.searcher.lookup(&query);
                self.items
                    .push(OutputItem::Other(search_item(&query, &found)));
                if let Found::Results(results) = &found {
                    self.sources.extend(results.iter().cloned());
                }
                outputs.push(json!({"role": "tool", "tool_call_id": call["id"],
                                    "content": found.model_text(&query)}));
            }
            if client_calls {
                // The client runs its own tools; the searches are answered already.
                break;
            }
            self.append(message, outputs);
            pass += 1;
            let bytes = self.open(pass, false)?.read_all()?;
            completion = Pivot::Chat.completion(&bytes, &self.turn.requested)?;
        }
        strip_search_calls(&mut completion);
        let turn = &self.turn;
        let mut response = from_chat(
            &Chunk::from_value(&completion),
            &turn.req,
            &turn.custom_tools,
            &turn.response_id,
        );
        // The earlier passes' items first; `output_text` follows the edited output.
        response.output.splice(0..0, self.items.iter().cloned());
        cite(&mut response.output, &self.sources);
        let output = response.output.iter().map(stored).collect();
        self.app.responses.put(
            &self.turn.response_id,
            self.turn.conversation.clone(),
            output,
        );
        Ok(response)
    }

    fn withdraw_function(&mut self) {
        let Some(Value::Array(tools)) = self.turn.chat.get_mut("tools") else {
            return;
        };
        if tools.len() > 1 {
            tools.retain(|t| {
                t.pointer("/function/name").and_then(Value::as_str) != Some(blocks::TOOL_NAME)
            });
        } else {
            self.turn.chat.insert("tool_choice".into(), json!("none"));
        }
    }
}

/// A `web_search_call` item for one search.
fn search_item(query: &str, found: &Found) -> Value {
    let (status, sources) = match found {
        Found::Results(results) => (
            "completed",
            results
                .iter()
                .map(|r| json!({"type": "url", "url": r.url}))
                .collect(),
        ),
        _ => ("failed", Vec::new()),
    };
    json!({
        "type": "web_search_call",
        "id": format!("ws_{:016x}", crate::ids::random_u64()),
        "status": status,
        "action": {"type": "search", "query": query, "sources": sources},
    })
}

/// The answer without its calls of the search function (when a client tool call ends the
/// loop, or the loop was cut off).
fn strip_search_calls(completion: &mut Value) {
    for choice in completion["choices"].as_array_mut().into_iter().flatten() {
        if let Some(Value::Array(calls)) = choice.pointer_mut("/message/tool_calls") {
            calls.retain(|c| {
                c.pointer("/function/name").and_then(Value::as_str) != Some(blocks::TOOL_NAME)
            });
            if calls.is_empty() {
                if let Some(m) = choice["message"].as_object_mut() {
                    m.remove("tool_calls");
                }
                if choice["finish_reason"] == "tool_calls" {
                    choice["finish_reason"] = json!("stop");
                }
            }
        }
    }
}

/// `url_citation` annotations on the answer's (last) text.
fn cite(output: &mut [OutputItem], sources: &[SearchResult]) {
    let mut parts = output.iter_mut().flat_map(|item| match item {
        OutputItem::Message { content, .. } => content.as_mut_slice(),
        _ => &mut [],
    });
    let last = parts.rfind(|p| matches!(p, Part::OutputText { .. }));
    let Some(Part::OutputText {
        text, annotations, ..
    }) = last
    else {
        return;
    };
    if let Some((cited, found)) = cite_text(text, sources) {
        *text = cited;
        *annotations = found;
    }
}

/// An output item as the response store keeps it, a tree (the next turn's history).
pub(crate) fn stored(item: &OutputItem) -> Value {
    // Strings, numbers and trees of them always convert.
    serde_json::to_value(item).unwrap_or_default()
}

/// `url_citation` annotations on one content part, if it is `output_text` (the stream
/// annotates each text part as it closes).
fn annotate(part: &mut Value, sources: &[SearchResult]) {
    if part["type"] != "output_text" {
        return;
    }
    let text = part["text"].as_str().unwrap_or("").to_string();
    if let Some((cited, annotations)) = cite_text(&text, sources) {
        part["text"] = json!(cited);
        part["annotations"] = Value::Array(annotations);
    }
}

/// The text and its `url_citation` annotations: where it names a source's url, else a
/// closing "Sources" list (annotated). None without sources.
fn cite_text(text: &str, sources: &[SearchResult]) -> Option<(String, Vec<Value>)> {
    if sources.is_empty() {
        return None;
    }
    let mut text = text.to_string();
    let mut annotations = Vec::new();
    let mut listed: Vec<&SearchResult> = Vec::new();
    for s in sources {
        if !listed.iter().any(|l| l.url == s.url) {
            listed.push(s);
        }
    }
    for s in &listed {
        if let Some(at) = text.find(&s.url) {
            let start = text[..at].chars().count();
            annotations.push(citation(s, start, start + s.url.chars().count()));
        }
    }
    if annotations.is_empty() {
        text.push_str("\n\nSources:");
        for s in listed.into_iter().take(5) {
            text.push_str("\n- ");
            let start = text.chars().count();
            text.push_str(&format!("[{}]({})", s.title, s.url));
            annotations.push(citation(s, start, text.chars().count()));
        }
    }
    Some((text, annotations))
}

fn citation(s: &SearchResult, start: usize, end: usize) -> Value {
    json!({"type": "url_citation", "url": s.url, "title": s.title,
           "start_index": start, "end_index": end})
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(n: u32) -> SearchResult {
        SearchResult {
            url: format!("https://e.com/{n}"),
            title: format!("T{n}"),
            snippet: String::new(),
            page_age: None,
        }
    }

    #[test]
    fn citations_point_at_the_url_or_a_sources_list() {
        let message = |text: &str| {
            let part = Part::output_text(text.to_string());
            vec![OutputItem::message("m".into(), "completed", vec![part])]
        };
        let tree = |output: Vec<OutputItem>| serde_json::to_value(output).unwrap();
        let mut output = message("See https://e.com/2 now.");
        cite(&mut output, &[source(1), source(2)]);
        let output = tree(output);
        let a = &output[0]["content"][0]["annotations"];
        assert_eq!(a.as_array().unwrap().len(), 1);
        assert_eq!(
            (a[0]["start_index"].as_u64(), a[0]["end_index"].as_u64()),
            (Some(4), Some(19))
        );
        let mut output = message("Plain é.");
        cite(&mut output, &[source(1), source(1), source(3)]);
        let output = tree(output);
        let part = &output[0]["content"][0];
        let text = part["text"].as_str().unwrap();
        assert_eq!(
            text,
            "Plain é.\n\nSources:\n- [T1](https://e.com/1)\n- [T3](https://e.com/3)"
        );
        let a = part["annotations"].as_array().unwrap();
        assert_eq!(a.len(), 2);
        let chars: Vec<char> = text.chars().collect();
        let span = |x: &Value| -> String {
            chars[x["start_index"].as_u64().unwrap() as usize
                ..x["end_index"].as_u64().unwrap() as usize]
                .iter()
                .collect()
        };
        assert_eq!(span(&a[1]), "[T3](https://e.com/3)");
    }

    #[test]
    fn only_hosted_search_tools_make_a_plan() {
        let completion = |v: Value| v;
        let mut c = completion(
            json!({"choices": [{"message": {"content": "x", "tool_calls": [
            {"id": "1", "function": {"name": "web_search", "arguments": "{}"}}]}, "finish_reason": "tool_calls"}]}),
        );
        strip_search_calls(&mut c);
        assert!(c["choices"][0]["message"].get("tool_calls").is_none());
        assert_eq!(c["choices"][0]["finish_reason"], "stop");
        let item = search_item("q", &Found::Results(vec![source(1)]));
        assert_eq!(
            item["action"],
            json!({"type": "search", "query": "q", "sources": [{"type": "url", "url": "https://e.com/1"}]})
        );
        assert_eq!(item["status"], "completed");
    }
}
