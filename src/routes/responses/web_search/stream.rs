//! The hosted-search loop for a streaming `/v1/responses` client on a translated model:
//! every pass streams upstream and is translated by the route's own `ResponsesStream`,
//! with the model's `web_search` calls taken out of the chunks (the proxy runs them) and
//! the events renumbered into one response: one `response.created`, the items of every
//! pass and a `web_search_call` item per search (sent as soon as it ran) with rising
//! `output_index` and `sequence_number`, and one terminal event with the whole output.
//! The final answer's text gets its `url_citation` annotations as it closes.

use super::{Run, annotate, cite_text, search_item};
use crate::features::web_search::SearchResult;
use crate::features::web_search::blocks::TOOL_NAME;
use crate::features::web_search::searcher::{Found, call_query};
use crate::http::{Outcome, Outgoing};
use crate::protocol::chat::KEEPALIVE;
use crate::relay::{self, Adapter, ChatSource, Fault, Sink, Step};
use crate::sse::Event;
use crate::streaming::streaming;
use crate::translate::responses_stream::ResponsesStream;
use crate::upstream::call::Opened;
use serde_json::{Map, Value, json};
use std::sync::{Arc, Mutex};

type Canceller = Arc<Mutex<Box<dyn Fn() + Send + Sync>>>;

pub(super) fn start(run: Run, first: Opened) -> Outgoing {
    let current: Canceller = Arc::new(Mutex::new(first.lease.canceller()));
    let cancel = current.clone();
    let app = run.app.clone();
    let cancel = Box::new(move || (cancel.lock().unwrap_or_else(|e| e.into_inner()))());
    streaming(&app, KEEPALIVE, cancel, move |sink| {
        let mut out = Out {
            run,
            seq: 0,
            next_index: 0,
            items: Vec::new(),
            usage: Map::new(),
        };
        let outcome = out.passes(first, &current, sink);
        out.run.searcher.log(&out.run.turn.requested);
        outcome
    })
}

/// The client's one response, across passes.
struct Out {
    run: Run,
    seq: u64,
    next_index: u64,
    /// Every finished item, in `output_index` order.
    items: Vec<Value>,
    usage: Map<String, Value>,
}

impl Out {
    fn passes(&mut self, first: Opened, cancel: &Canceller, sink: &mut Sink) -> Outcome {
        let mut opened = first;
        let mut pass = 0;
        loop {
            let (reader, lease) = opened.into_parts();
            *cancel.lock().unwrap_or_else(|e| e.into_inner()) = lease.canceller();
            let turn = &self.run.turn;
            let stream =
                ResponsesStream::new(&turn.response_id, &turn.req, turn.custom_tools.clone());
            let mut adapter = Pass {
                source: ChatSource::chat(),
                stream,
                message: Accumulated::default(),
                first: pass == 0,
                offset: self.next_index,
                added: 0,
                cite: None,
                terminal: None,
                out: self,
            };
            let ending = relay::relay(reader, sink, &mut adapter);
            if let Err(fault) = ending {
                if fault == Fault::ClientGone {
                    return Outcome::ClientGone;
                }
                crate::warn!(
                    "responses web search stream ended early: {}",
                    fault.message()
                );
                let events = adapter.stream.fail(&fault.message(), fault.openai_code());
                adapter.forward(&events, sink);
                return fault.outcome();
            }
            lease.release();
            let calls = adapter.message.search_calls();
            let client_calls = adapter.message.calls.len() > calls.len();
            let last = calls.is_empty() || client_calls || !adapter.out.run.searcher.may_continue();
            if last && calls.is_empty() {
                adapter.cite = Some(adapter.out.run.sources.clone());
            }
            let events = adapter.stream.finish();
            adapter.forward(&events, sink);
            let (terminal, message) = (adapter.terminal.take(), adapter.message);
            // Each search's item goes out as soon as it ran.
            let mut outputs = Vec::new();
            for call in if last && !client_calls {
                &[][..]
            } else {
                &calls[..]
            } {
                let query = call_query(&serde_json::from_str(&call.1).unwrap_or(Value::Null));
                let found = self.run.searcher.lookup(&query);
                // Time spent searching is not upstream silence.
                sink.upstream_activity();
                let item = search_item(&query, &found);
                self.send_search_item(&item, sink);
                if let Found::Results(results) = &found {
                    self.run.sources.extend(results.iter().cloned());
                }
                outputs.push(json!({"role": "tool", "tool_call_id": call.0,
                                    "content": found.model_text(&query)}));
            }
            if last {
                return self.end(terminal, sink);
            }
            self.run.append(message.into_chat(), outputs);
            pass += 1;
            opened = match self.run.open(pass, true) {
                Ok(o) => {
                    sink.upstream_activity();
                    o
                }
                Err(e) => {
                    crate::warn!("responses web search: the next pass failed: {e}");
                    let response = json!({"id": self.run.turn.response_id, "object": "response",
                        "status": "failed", "output": self.items,
                        "error": {"code": "upstream_error", "message": e.to_string()}});
                    self.send(
                        json!({"type": "response.failed", "response": response}),
                        sink,
                    );
                    return Outcome::UpstreamError;
                }
            };
        }
    }

    fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq - 1
    }

    fn send(&mut self, mut data: Value, sink: &mut Sink) {
        data["sequence_number"] = json!(self.next_seq());
        let kind = data["type"].as_str().unwrap_or("").to_string();
        sink.event(Some(&kind), &data.to_string());
    }

    /// A search's item: added, in progress, searching, completed, done.
    fn send_search_item(&mut self, item: &Value, sink: &mut Sink) {
        let index = self.next_index;
        self.next_index += 1;
        let id = item["id"].clone();
        let mut opened = item.clone();
        opened["status"] = json!("in_progress");
        self.send(
            json!({"type": "response.output_item.added", "output_index": index, "item": opened}),
            sink,
        );
        for phase in ["in_progress", "searching", "completed"] {
            self.send(
                json!({"type": format!("response.web_search_call.{phase}"),
                             "output_index": index, "item_id": id}),
                sink,
            );
        }
        self.send(
            json!({"type": "response.output_item.done", "output_index": index, "item": item}),
            sink,
        );
        self.items.push(item.clone());
    }

    /// The terminal event with the whole output and the usage of every pass; the turn is
    /// kept for `previous_response_id`.
    fn end(&mut self, terminal: Option<Value>, sink: &mut Sink) -> Outcome {
        let Some(mut data) = terminal else {
            return Outcome::UpstreamError;
        };
        let text: String = self
            .items
            .iter()
            .filter(|i| i["type"] == "message")
            .flat_map(|i| i["content"].as_array().cloned().unwrap_or_default())
            .filter_map(|p| p["text"].as_str().map(str::to_string))
            .collect();
        data["response"]["output"] = Value::Array(self.items.clone());
        data["response"]["output_text"] = json!(text);
        if !self.usage.is_empty() {
            data["response"]["usage"] = Value::Object(self.usage.clone());
        }
        self.send(data, sink);
        let turn = &self.run.turn;
        self.run.app.responses.put(
            &turn.response_id,
            turn.conversation.clone(),
            self.items.clone(),
        );
        Outcome::Completed
    }
}

/// One upstream pass through the route's translator, renumbered into the client's
/// response.
struct Pass<'o> {
    source: ChatSource,
    stream: ResponsesStream,
    message: Accumulated,
    first: bool,
    /// The client's `output_index` of this pass's first item.
    offset: u64,
    /// Items this pass announced.
    added: u64,
    /// Set on the final pass: the sources its text is annotated with.
    cite: Option<Vec<SearchResult>>,
    /// The pass's `response.completed` / `.incomplete`, held until the loop ends.
    terminal: Option<Value>,
    out: &'o mut Out,
}

impl Pass<'_> {
    fn forward(&mut self, events: &[Event], sink: &mut Sink) {
        for e in events {
            let Ok(mut data) = serde_json::from_str::<Value>(&e.data) else {
                continue;
            };
            let kind = data["type"].as_str().unwrap_or("").to_string();
            match kind.as_str() {
                "response.created" | "response.in_progress" if !self.first => continue,
                "response.completed" | "response.incomplete" => {
                    if let Some(Value::Object(u)) = data.pointer("/response/usage") {
                        add_usage(&mut self.out.usage, u);
                    }
                    self.terminal = Some(data);
                    continue;
                }
                "response.failed" => {
                    let mut output = self.out.items.clone();
                    output.extend(
                        data["response"]["output"]
                            .as_array()
                            .cloned()
                            .unwrap_or_default(),
                    );
                    data["response"]["output"] = Value::Array(output);
                }
                _ => {}
            }
            if let Some(local) = data.get("output_index").and_then(Value::as_u64) {
                let index = self.offset + local;
                data["output_index"] = json!(index);
                if kind == "response.output_item.added" {
                    self.added = self.added.max(local + 1);
                    self.out.next_index = self.out.next_index.max(index + 1);
                }
            }
            if self.cite.is_some() && !self.citation(&kind, &mut data, sink) {
                continue;
            }
            if kind == "response.output_item.done" {
                self.out.items.push(data["item"].clone());
            }
            self.out.send(data, sink);
        }
    }

    /// On the final pass, annotates the text as it closes (an added "Sources" list goes
    /// out as one more delta). False when the event is replaced.
    fn citation(&mut self, kind: &str, data: &mut Value, sink: &mut Sink) -> bool {
        let sources = self.cite.as_deref().unwrap_or_default();
        match kind {
            "response.output_text.done" => {
                let text = data["text"].as_str().unwrap_or("").to_string();
                if let Some((cited, annotations)) = cite_text(&text, sources) {
                    let (item, index, content) = (
                        data["item_id"].clone(),
                        data["output_index"].clone(),
                        data["content_index"].clone(),
                    );
                    if cited.len() > text.len() {
                        self.out.send(json!({"type": "response.output_text.delta", "item_id": item,
                            "output_index": index, "content_index": content, "delta": &cited[text.len()..]}), sink);
                    }
                    for (a, annotation) in annotations.iter().enumerate() {
                        self.out.send(
                            json!({"type": "response.output_text.annotation.added",
                            "item_id": item, "output_index": index, "content_index": content,
                            "annotation_index": a, "annotation": annotation}),
                            sink,
                        );
                    }
                    data["text"] = json!(cited);
                }
            }
            "response.content_part.done" => annotate(&mut data["part"], sources),
            "response.output_item.done" if data["item"]["type"] == "message" => {
                for part in data["item"]["content"].as_array_mut().into_iter().flatten() {
                    annotate(part, sources);
                }
            }
            _ => {}
        }
        true
    }
}

fn add_usage(sum: &mut Map<String, Value>, usage: &Map<String, Value>) {
    for (k, v) in usage {
        if let Some(n) = v.as_u64() {
            let now = sum.get(k).and_then(Value::as_u64).unwrap_or(0);
            sum.insert(k.clone(), json!(now + n));
        } else if !sum.contains_key(k) {
            sum.insert(k.clone(), v.clone());
        }
    }
}

impl Adapter for Pass<'_> {
    fn on_event(&mut self, event: &Event, sink: &mut Sink) -> Result<Step, Fault> {
        if event.comment.is_some() {
            return Ok(Step::Continue);
        }
        let decoded = self.source.decode(event)?;
        for mut chunk in decoded.chunks {
            self.message.take_searches(&mut chunk);
            let events = self.stream.on_chunk(&chunk);
            self.forward(&events, sink);
        }
        Ok(Step::done_if(decoded.done))
    }

    fn on_eof(&mut self, _: &mut Sink) -> Result<(), Fault> {
        self.source.on_eof()
    }

    fn close(&mut self, _: &Result<(), Fault>, _: &mut Sink) {}

    fn name(&self) -> &'static str {
        "responses web search"
    }
}

/// The pass's assistant message in Chat terms, for the next pass's history.
#[derive(Default)]
struct Accumulated {
    content: String,
    reasoning_text: String,
    reasoning_opaque: String,
    /// By tool-call index: id, name, arguments.
    calls: Vec<(u64, String, String, String)>,
}

impl Accumulated {
    /// Notes the chunk, and removes the `web_search` calls from it (the proxy runs them;
    /// the client never sees them).
    fn take_searches(&mut self, chunk: &mut Value) {
        for choice in chunk["choices"].as_array_mut().into_iter().flatten() {
            let delta = &mut choice["delta"];
            if let Some(t) = delta["content"].as_str() {
                self.content.push_str(t);
            }
            if let Some(t) = delta["reasoning_text"].as_str() {
                self.reasoning_text.push_str(t);
            }
            if let Some(t) = delta["reasoning_opaque"].as_str() {
                self.reasoning_opaque.push_str(t);
            }
            let Some(Value::Array(calls)) = delta.get_mut("tool_calls") else {
                continue;
            };
            for call in calls.iter() {
                let index = call["index"].as_u64().unwrap_or(0);
                let at = match self.calls.iter().position(|c| c.0 == index) {
                    Some(at) => at,
                    None => {
                        self.calls
                            .push((index, String::new(), String::new(), String::new()));
                        self.calls.len() - 1
                    }
                };
                let c = &mut self.calls[at];
                if let Some(id) = call["id"].as_str() {
                    c.1 = id.to_string();
                }
                if let Some(name) = call.pointer("/function/name").and_then(Value::as_str) {
                    c.2.push_str(name);
                }
                if let Some(args) = call.pointer("/function/arguments").and_then(Value::as_str) {
                    c.3.push_str(args);
                }
            }
            let searches: Vec<u64> = self
                .calls
                .iter()
                .filter(|c| c.2 == TOOL_NAME)
                .map(|c| c.0)
                .collect();
            calls.retain(|c| !searches.contains(&c["index"].as_u64().unwrap_or(0)));
            if calls.is_empty() {
                delta.as_object_mut().map(|d| d.remove("tool_calls"));
            }
        }
    }

    /// The searches asked for: (call id, arguments).
    fn search_calls(&self) -> Vec<(String, String)> {
        self.calls
            .iter()
            .filter(|c| c.2 == TOOL_NAME)
            .map(|c| (c.1.clone(), c.3.clone()))
            .collect()
    }

    fn into_chat(self) -> Value {
        let calls: Vec<Value> = self
            .calls
            .iter()
            .map(|(_, id, name, args)| {
                json!({"id": id, "type": "function",
                                               "function": {"name": name, "arguments": args}})
            })
            .collect();
        let mut m = json!({"role": "assistant", "content": self.content, "tool_calls": calls});
        if !self.reasoning_text.is_empty() {
            m["reasoning_text"] = json!(self.reasoning_text);
        }
        if !self.reasoning_opaque.is_empty() {
            m["reasoning_opaque"] = json!(self.reasoning_opaque);
        }
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_calls_are_taken_out_of_the_chunks() {
        let mut acc = Accumulated::default();
        let mut first = json!({"choices": [{"index": 0, "delta": {"content": "Let me look.", "tool_calls": [
            {"index": 0, "id": "c1", "function": {"name": "web_search", "arguments": ""}},
            {"index": 1, "id": "c2", "function": {"name": "shell", "arguments": "{}"}}]}}]});
        acc.take_searches(&mut first);
        assert_eq!(
            first["choices"][0]["delta"]["tool_calls"]
                .as_array()
                .unwrap()
                .len(),
            1
        );
        let mut more = json!({"choices": [{"index": 0, "delta": {"tool_calls": [
            {"index": 0, "function": {"arguments": "{\"query\":\"q\"}"}}]}}]});
        acc.take_searches(&mut more);
        assert!(more["choices"][0]["delta"].get("tool_calls").is_none());
        assert_eq!(
            acc.search_calls(),
            [("c1".to_string(), "{\"query\":\"q\"}".to_string())]
        );
        let chat = acc.into_chat();
        assert_eq!(chat["content"], "Let me look.");
        assert_eq!(chat["tool_calls"].as_array().unwrap().len(), 2);
    }
}
