//! Chat Completions -> OpenAI Responses and back, for the models Copilot serves only on
//! `/responses` (GPT-5, Codex) when a client speaks Chat Completions (reference §5.2-5.4,
//! with §10.14-10.16 fixed): the request, the non-streaming answer and the stream.
//!
//! Every system message survives (the leading ones as `instructions`, later ones as
//! developer messages); assistant history is `output_text`; `tool_choice` takes the
//! Responses shape. Reasoning round-trips: a `reasoning` item's `encrypted_content` (and
//! its id, needed to replay it with `store: false`) travels as Copilot's
//! `reasoning_opaque`, `encrypted@id`, which base64 never confuses. Back from upstream,
//! only real calls become tool calls, `incomplete` maps to `length`, cached and reasoning
//! tokens are kept, and `response.failed` / `error` are reported instead of ignored.

use super::responses_response::now_secs;
use serde_json::{Map, Value, json};
use std::collections::{HashMap, HashSet};

/// Responses rejects a smaller `max_output_tokens`; clients probing with `max_tokens: 1`
/// get the minimum instead of a 400.
const MIN_OUTPUT_TOKENS: u64 = 16;

pub fn chat_to_responses(req: &Value, upstream_model: &str) -> Result<Value, String> {
    let req = req
        .as_object()
        .ok_or("the request body must be a JSON object")?;
    let messages = req
        .get("messages")
        .and_then(Value::as_array)
        .ok_or("`messages` is required and must be an array")?;
    if req.get("n").and_then(Value::as_u64).is_some_and(|n| n > 1) {
        return Err("`n` greater than 1 is not supported for this model".into());
    }

    let mut instructions = Vec::new();
    let mut input = Vec::new();
    let mut custom_calls = HashSet::new();
    for (i, m) in messages.iter().enumerate() {
        let at = format!("messages.{i}");
        let content = m.get("content").unwrap_or(&Value::Null);
        match m.get("role").and_then(Value::as_str) {
            Some("system" | "developer") => {
                let text = plain_text(content);
                if input.is_empty() {
                    instructions.push(text);
                } else if !text.is_empty() {
                    input.push(json!({"type": "message", "role": "developer", "content": text}));
                }
            }
            Some("user") => {
                if let Some(c) = user_content(content, &at)? {
                    input.push(json!({"type": "message", "role": "user", "content": c}));
                }
            }
            Some("assistant") => assistant_items(m, &at, &mut input, &mut custom_calls)?,
            Some("tool") => {
                let id = m
                    .get("tool_call_id")
                    .and_then(Value::as_str)
                    .ok_or_else(|| format!("{at}.tool_call_id is required"))?;
                let kind = if custom_calls.contains(id) {
                    "custom_tool_call_output"
                } else {
                    "function_call_output"
                };
                input.push(json!({"type": kind, "call_id": id, "output": tool_output(content)}));
            }
            Some(other) => return Err(format!("{at}.role `{other}` is not supported")),
            None => return Err(format!("{at}.role is required")),
        }
    }

    let mut out = Map::new();
    out.insert("model".into(), upstream_model.into());
    let instructions: Vec<String> = instructions.into_iter().filter(|s| !s.is_empty()).collect();
    if !instructions.is_empty() {
        out.insert("instructions".into(), instructions.join("\n\n").into());
    }
    out.insert("input".into(), Value::Array(input));
    let tools = tools(req.get("tools"))?;
    if !tools.is_empty() {
        if let Some(choice) = req.get("tool_choice").and_then(tool_choice) {
            out.insert("tool_choice".into(), choice);
        }
        if let Some(p) = req.get("parallel_tool_calls").filter(|p| p.is_boolean()) {
            out.insert("parallel_tool_calls".into(), p.clone());
        }
        out.insert("tools".into(), Value::Array(tools));
    }
    copy_scalars(req, &mut out)?;
    // No `store`: Copilot's /responses rejects it (reference/peers.md §C3).
    out.insert("include".into(), json!(["reasoning.encrypted_content"]));
    Ok(Value::Object(out))
}

fn copy_scalars(req: &Map<String, Value>, out: &mut Map<String, Value>) -> Result<(), String> {
    for key in ["max_completion_tokens", "max_tokens"] {
        match req.get(key) {
            None | Some(Value::Null) => continue,
            Some(v) => {
                let n = v
                    .as_u64()
                    .ok_or_else(|| format!("`{key}` must be a positive integer"))?;
                out.insert("max_output_tokens".into(), n.max(MIN_OUTPUT_TOKENS).into());
                break;
            }
        }
    }
    for key in ["temperature", "top_p"] {
        match req.get(key) {
            None | Some(Value::Null) => {}
            Some(v @ Value::Number(_)) => {
                out.insert(key.into(), v.clone());
            }
            Some(_) => return Err(format!("`{key}` must be a number")),
        }
    }
    if let Some(k) = req.get("prompt_cache_key").filter(|k| k.is_string()) {
        out.insert("prompt_cache_key".into(), k.clone());
    }
    let mut reasoning = req
        .get("reasoning")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    if let Some(effort) = req.get("reasoning_effort").and_then(Value::as_str) {
        reasoning.insert("effort".into(), effort.into());
    }
    // Thinking asked for (the Messages path's budget) or an effort given: ask for the
    // summaries too, which become `reasoning_text` and Anthropic thinking.
    if !reasoning.is_empty() || req.contains_key("thinking_budget") {
        reasoning.entry("summary").or_insert_with(|| "auto".into());
        out.insert("reasoning".into(), Value::Object(reasoning));
    }
    let mut text = Map::new();
    if let Some(format) = req.get("response_format").and_then(text_format) {
        text.insert("format".into(), format);
    }
    if let Some(v) = req.get("verbosity").filter(|v| v.is_string()) {
        text.insert("verbosity".into(), v.clone());
    }
    if !text.is_empty() {
        out.insert("text".into(), Value::Object(text));
    }
    if req.get("stream").and_then(Value::as_bool) == Some(true) {
        out.insert("stream".into(), true.into());
    }
    Ok(())
}

fn text_format(format: &Value) -> Option<Value> {
    match format.get("type").and_then(Value::as_str)? {
        "json_schema" => {
            let schema = format.get("json_schema")?;
            let mut f = Map::new();
            f.insert("type".into(), "json_schema".into());
            f.insert(
                "name".into(),
                schema
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or("response")
                    .into(),
            );
            for key in ["schema", "strict", "description"] {
                if let Some(v) = schema.get(key).filter(|v| !v.is_null()) {
                    f.insert(key.into(), v.clone());
                }
            }
            Some(Value::Object(f))
        }
        "json_object" => Some(json!({"type": "json_object"})),
        _ => None,
    }
}

fn plain_text(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join("\n\n"),
        _ => String::new(),
    }
}

fn user_content(content: &Value, at: &str) -> Result<Option<Value>, String> {
    let parts = match content {
        Value::Null => return Ok(None),
        Value::String(s) if s.is_empty() => return Ok(None),
        Value::String(s) => return Ok(Some(s.clone().into())),
        Value::Array(parts) => parts,
        _ => {
            return Err(format!(
                "{at}.content must be a string or an array of parts"
            ));
        }
    };
    let mut out = Vec::new();
    for part in parts {
        match part.get("type").and_then(Value::as_str) {
            Some("text") => {
                let text = part.get("text").and_then(Value::as_str).unwrap_or("");
                out.push(json!({"type": "input_text", "text": text}));
            }
            Some("image_url") => out.extend(input_image(part)),
            other => crate::warn!(
                "chat->responses: `{}` content part dropped",
                other.unwrap_or("?")
            ),
        }
    }
    Ok((!out.is_empty()).then_some(Value::Array(out)))
}

fn input_image(part: &Value) -> Option<Value> {
    let image = part.get("image_url")?;
    let url = image
        .as_str()
        .or_else(|| image.get("url").and_then(Value::as_str))?;
    let detail = image
        .get("detail")
        .and_then(Value::as_str)
        .unwrap_or("auto");
    Some(json!({"type": "input_image", "image_url": url, "detail": detail}))
}

/// A tool message's content as a `function_call_output.output`: a string, or parts when
/// it holds images.
fn tool_output(content: &Value) -> Value {
    match content {
        Value::Array(parts) if parts.iter().any(|p| p["type"] == "image_url") => Value::Array(
            parts
                .iter()
                .filter_map(|p| match p["type"].as_str() {
                    Some("image_url") => input_image(p),
                    _ => p
                        .get("text")
                        .and_then(Value::as_str)
                        .map(|t| json!({"type": "input_text", "text": t})),
                })
                .collect(),
        ),
        Value::Array(_) | Value::String(_) => plain_text(content).into(),
        Value::Null => "".into(),
        other => other.to_string().into(),
    }
}

/// An assistant message as items: its reasoning (when it can be replayed), its text,
/// then its calls.
fn assistant_items(
    m: &Value,
    at: &str,
    input: &mut Vec<Value>,
    custom_calls: &mut HashSet<String>,
) -> Result<(), String> {
    if let Some(opaque) = m.get("reasoning_opaque").and_then(Value::as_str) {
        let (encrypted, id) = split_opaque(opaque);
        let summary = m
            .get("reasoning_text")
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
            .map_or_else(
                || json!([]),
                |t| json!([{"type": "summary_text", "text": t}]),
            );
        let mut item =
            json!({"type": "reasoning", "summary": summary, "encrypted_content": encrypted});
        if let Some(id) = id {
            item["id"] = id.into();
        }
        input.push(item);
    }
    let text = plain_text(m.get("content").unwrap_or(&Value::Null));
    if !text.is_empty() {
        input.push(json!({"type": "message", "role": "assistant",
                          "content": [{"type": "output_text", "text": text}]}));
    }
    for (j, call) in m
        .get("tool_calls")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let id = call
            .get("id")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("{at}.tool_calls.{j}.id is required"))?;
        if let Some(c) = call.get("custom") {
            custom_calls.insert(id.to_string());
            input.push(json!({"type": "custom_tool_call", "call_id": id,
                              "name": c.get("name").and_then(Value::as_str).unwrap_or(""),
                              "input": c.get("input").and_then(Value::as_str).unwrap_or("")}));
            continue;
        }
        let f = call.get("function").unwrap_or(&Value::Null);
        let name = f
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("{at}.tool_calls.{j}.function.name is required"))?;
        let args = f.get("arguments").and_then(Value::as_str).unwrap_or("{}");
        input
            .push(json!({"type": "function_call", "call_id": id, "name": name, "arguments": args}));
    }
    Ok(())
}

/// `encrypted@id` -> (encrypted, id). Base64 has no `@`, so the first one separates.
fn split_opaque(opaque: &str) -> (&str, Option<&str>) {
    match opaque.split_once('@') {
        Some((enc, id)) if !id.is_empty() => (enc, Some(id)),
        _ => (opaque, None),
    }
}

fn join_opaque(item: &Value) -> Option<String> {
    let enc = item
        .get("encrypted_content")
        .and_then(Value::as_str)
        .filter(|e| !e.is_empty())?;
    Some(match item.get("id").and_then(Value::as_str) {
        Some(id) if !id.is_empty() => format!("{enc}@{id}"),
        _ => enc.to_string(),
    })
}

fn tools(tools: Option<&Value>) -> Result<Vec<Value>, String> {
    let list = match tools {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(list)) => list,
        Some(_) => return Err("`tools` must be an array".into()),
    };
    let mut out = Vec::new();
    for (i, t) in list.iter().enumerate() {
        let kind = t.get("type").and_then(Value::as_str).unwrap_or("function");
        let Some(def) = t.get(kind).filter(|d| d.is_object()) else {
            crate::warn!("chat->responses: tool of type `{kind}` dropped");
            continue;
        };
        let name = def
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("tools.{i}.{kind}.name is required"))?;
        let mut tool = Map::new();
        tool.insert("type".into(), kind.into());
        tool.insert("name".into(), name.into());
        if let Some(d) = def.get("description").filter(|d| d.is_string()) {
            tool.insert("description".into(), d.clone());
        }
        match kind {
            "function" => {
                let params = def
                    .get("parameters")
                    .filter(|p| p.is_object())
                    .cloned()
                    .unwrap_or_else(|| json!({"type": "object", "properties": {}}));
                tool.insert("parameters".into(), params);
                // Chat's default is not strict; Responses' is strict, which rejects
                // ordinary schemas.
                let strict = def.get("strict").and_then(Value::as_bool).unwrap_or(false);
                tool.insert("strict".into(), strict.into());
            }
            "custom" => {
                if let Some(f) = def.get("format").filter(|f| f.is_object()) {
                    tool.insert("format".into(), f.clone());
                }
            }
            _ => {
                crate::warn!("chat->responses: tool of type `{kind}` dropped");
                continue;
            }
        }
        out.push(Value::Object(tool));
    }
    Ok(out)
}

fn tool_choice(choice: &Value) -> Option<Value> {
    match choice {
        Value::String(s) if matches!(s.as_str(), "auto" | "none" | "required") => {
            Some(choice.clone())
        }
        Value::Object(o) => {
            let kind = o.get("type").and_then(Value::as_str)?;
            match kind {
                "function" | "custom" => {
                    let name = o.get(kind)?.get("name")?.as_str()?;
                    Some(json!({"type": kind, "name": name}))
                }
                "allowed_tools" => o
                    .get("allowed_tools")
                    .and_then(|a| a.get("mode"))
                    .filter(|m| m.is_string())
                    .cloned(),
                _ => None,
            }
        }
        _ => None,
    }
}

/// A Responses `response` object as a `chat.completion`.
pub fn responses_to_chat(resp: &Value, requested_model: &str) -> Value {
    let mut texts = Vec::new();
    let mut refusal = String::new();
    let mut reasoning = Vec::new();
    let mut opaque = None;
    let mut calls = Vec::new();
    for item in resp
        .get("output")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        match item.get("type").and_then(Value::as_str) {
            Some("message") => {
                let mut text = String::new();
                for part in item
                    .get("content")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    match part.get("type").and_then(Value::as_str) {
                        Some("refusal") => refusal.push_str(part["refusal"].as_str().unwrap_or("")),
                        _ => text.push_str(part.get("text").and_then(Value::as_str).unwrap_or("")),
                    }
                }
                if !text.is_empty() {
                    texts.push(text);
                }
            }
            Some("reasoning") => {
                let t = reasoning_summary(item);
                if !t.is_empty() {
                    reasoning.push(t);
                }
                opaque = join_opaque(item).or(opaque);
            }
            Some("function_call") | Some("custom_tool_call") => calls.push(chat_call(item)),
            other => crate::debug!("responses->chat: output item `{other:?}` skipped"),
        }
    }
    let finish = finish_reason(resp, !calls.is_empty());
    let mut message = Map::new();
    message.insert("role".into(), "assistant".into());
    let content = if texts.is_empty() {
        Value::Null
    } else {
        texts.join("\n\n").into()
    };
    message.insert("content".into(), content);
    if !refusal.is_empty() {
        message.insert("refusal".into(), refusal.into());
    }
    if !reasoning.is_empty() {
        message.insert("reasoning_text".into(), reasoning.join("\n\n").into());
    }
    if let Some(o) = opaque {
        message.insert("reasoning_opaque".into(), o.into());
    }
    if !calls.is_empty() {
        message.insert("tool_calls".into(), Value::Array(calls));
    }
    let mut out = json!({
        "id": chat_id(resp),
        "object": "chat.completion",
        "created": resp.get("created_at").and_then(Value::as_u64).unwrap_or_else(now_secs),
        "model": requested_model,
        "choices": [{"index": 0, "message": message, "logprobs": null, "finish_reason": finish}],
    });
    if let Some(u) = chat_usage(resp.get("usage")) {
        out["usage"] = u;
    }
    out
}

fn chat_id(resp: &Value) -> String {
    resp.get("id").and_then(Value::as_str).map_or_else(
        || super::responses_response::new_id("chatcmpl"),
        str::to_string,
    )
}

fn reasoning_summary(item: &Value) -> String {
    let texts = |key: &str| -> Vec<String> {
        item.get(key)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .filter(|t| !t.is_empty())
            .map(str::to_string)
            .collect()
    };
    let summary = texts("summary");
    if summary.is_empty() {
        texts("content").join("\n\n")
    } else {
        summary.join("\n\n")
    }
}

fn chat_call(item: &Value) -> Value {
    let s = |k: &str| item.get(k).and_then(Value::as_str).unwrap_or("");
    if item["type"] == "custom_tool_call" {
        json!({"id": s("call_id"), "type": "custom", "custom": {"name": s("name"), "input": s("input")}})
    } else {
        json!({"id": s("call_id"), "type": "function",
               "function": {"name": s("name"), "arguments": s("arguments")}})
    }
}

fn finish_reason(resp: &Value, has_calls: bool) -> &'static str {
    let incomplete = resp.get("status").and_then(Value::as_str) == Some("incomplete");
    match resp
        .pointer("/incomplete_details/reason")
        .and_then(Value::as_str)
    {
        Some("content_filter") if incomplete => "content_filter",
        _ if incomplete => "length",
        _ if has_calls => "tool_calls",
        _ => "stop",
    }
}

/// Responses usage in Chat terms, cached and reasoning tokens included.
fn chat_usage(usage: Option<&Value>) -> Option<Value> {
    let u = usage.filter(|u| u.is_object())?;
    let n = |p: &str| u.pointer(p).and_then(Value::as_u64).unwrap_or(0);
    let (input, output) = (n("/input_tokens"), n("/output_tokens"));
    let total = u
        .get("total_tokens")
        .and_then(Value::as_u64)
        .unwrap_or(input + output);
    Some(json!({
        "prompt_tokens": input,
        "completion_tokens": output,
        "total_tokens": total,
        "prompt_tokens_details": {"cached_tokens": n("/input_tokens_details/cached_tokens")},
        "completion_tokens_details": {"reasoning_tokens": n("/output_tokens_details/reasoning_tokens")},
    }))
}

/// Responses SSE events -> Chat Completions chunks.
pub struct ChatFromResponsesStream {
    id: String,
    model: String,
    created: u64,
    role_sent: bool,
    calls: Vec<StreamCall>,
    /// Chat tool-call index by the call's `output_index`, then by its item id (Copilot's
    /// item ids in delta events may not match, so the index comes first).
    by_output: HashMap<u64, usize>,
    by_item: HashMap<String, usize>,
    /// Output indexes whose text / reasoning arrived as deltas.
    text_seen: HashSet<u64>,
    reasoning_seen: HashSet<u64>,
    done: bool,
    failure: Option<String>,
}

struct StreamCall {
    custom: bool,
    /// The arguments (or freeform input) sent so far.
    sent: String,
}

impl ChatFromResponsesStream {
    pub fn new(requested_model: &str) -> Self {
        ChatFromResponsesStream {
            id: super::responses_response::new_id("chatcmpl"),
            model: requested_model.to_string(),
            created: now_secs(),
            role_sent: false,
            calls: Vec::new(),
            by_output: HashMap::new(),
            by_item: HashMap::new(),
            text_seen: HashSet::new(),
            reasoning_seen: HashSet::new(),
            done: false,
            failure: None,
        }
    }

    /// Upstream finished: `response.completed` or `response.incomplete` was seen.
    pub fn done(&self) -> bool {
        self.done
    }

    /// Upstream failed (`response.failed` or `error`), with its message.
    pub fn failure(&self) -> Option<String> {
        self.failure.clone()
    }

    /// The chunks for one upstream event; its `type` wins over the SSE event name.
    pub fn on_event(&mut self, event_name: &str, data: &Value) -> Vec<Value> {
        if self.done || self.failure.is_some() {
            return Vec::new();
        }
        let kind = data
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or(event_name);
        let oi = data.get("output_index").and_then(Value::as_u64);
        let delta = data.get("delta").and_then(Value::as_str).unwrap_or("");
        let mut out = Vec::new();
        match kind {
            "response.created" | "response.in_progress" => self.role(&mut out),
            "response.output_item.added" => {
                let item = data.get("item").unwrap_or(&Value::Null);
                if is_call(item) {
                    self.open_call(oi, item, &mut out);
                }
            }
            "response.output_text.delta" if !delta.is_empty() => {
                self.text_seen.extend(oi);
                self.delta(&mut out, json!({"content": delta}));
            }
            "response.refusal.delta" if !delta.is_empty() => {
                self.delta(&mut out, json!({"refusal": delta}))
            }
            "response.reasoning_summary_text.delta" | "response.reasoning_text.delta"
                if !delta.is_empty() =>
            {
                self.reasoning_seen.extend(oi);
                self.delta(&mut out, json!({"reasoning_text": delta}));
            }
            "response.reasoning_summary_part.added"
                if data.get("summary_index").and_then(Value::as_u64) > Some(0) =>
            {
                self.delta(&mut out, json!({"reasoning_text": "\n\n"}))
            }
            "response.function_call_arguments.delta" | "response.custom_tool_call_input.delta" => {
                let i = self.call_for(oi, data, &mut out);
                self.send_args(i, delta, &mut out);
            }
            "response.function_call_arguments.done" | "response.custom_tool_call_input.done" => {
                let i = self.call_for(oi, data, &mut out);
                let whole = ["arguments", "input"]
                    .iter()
                    .find_map(|k| data.get(*k).and_then(Value::as_str));
                if let Some(whole) = whole {
                    self.catch_up(i, whole, &mut out);
                }
            }
            "response.output_item.done" => {
                let item = data.get("item").unwrap_or(&Value::Null);
                self.item_done(oi, item, &mut out);
            }
            "response.completed" | "response.incomplete" => {
                let resp = data.get("response").unwrap_or(&Value::Null);
                let mut resp = resp.clone();
                if kind == "response.incomplete" && resp.get("status").is_none() {
                    resp["status"] = "incomplete".into();
                }
                let finish = finish_reason(&resp, !self.calls.is_empty());
                self.push(&mut out, json!({}), finish.into());
                if let Some(u) = chat_usage(resp.get("usage")) {
                    out.push(json!({"id": self.id, "object": "chat.completion.chunk",
                                    "created": self.created, "model": self.model,
                                    "choices": [], "usage": u}));
                }
                self.done = true;
            }
            "response.failed" => {
                let msg = data
                    .pointer("/response/error/message")
                    .and_then(Value::as_str)
                    .unwrap_or("the upstream response failed");
                self.failure = Some(msg.to_string());
            }
            "error" => {
                let msg = data
                    .get("message")
                    .or_else(|| data.pointer("/error/message"))
                    .and_then(Value::as_str)
                    .unwrap_or("upstream error");
                self.failure = Some(msg.to_string());
            }
            _ => {}
        }
        out
    }

    fn role(&mut self, out: &mut Vec<Value>) {
        if !self.role_sent {
            self.role_sent = true;
            out.push(self.chunk(json!({"role": "assistant"}), Value::Null));
        }
    }

    fn chunk(&self, delta: Value, finish: Value) -> Value {
        json!({"id": self.id, "object": "chat.completion.chunk", "created": self.created,
               "model": self.model,
               "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}]})
    }

    fn push(&mut self, out: &mut Vec<Value>, delta: Value, finish: Value) {
        self.role(out);
        out.push(self.chunk(delta, finish));
    }

    fn delta(&mut self, out: &mut Vec<Value>, delta: Value) {
        self.push(out, delta, Value::Null);
    }

    /// A call's identity, first, before any argument fragment.
    fn open_call(&mut self, oi: Option<u64>, item: &Value, out: &mut Vec<Value>) -> usize {
        let s = |k: &str| item.get(k).and_then(Value::as_str).unwrap_or("");
        let custom = item["type"] == "custom_tool_call";
        let i = self.calls.len();
        self.calls.push(StreamCall {
            custom,
            sent: String::new(),
        });
        if let Some(oi) = oi {
            self.by_output.insert(oi, i);
        }
        if !s("id").is_empty() {
            self.by_item.insert(s("id").to_string(), i);
        }
        let call_id = match s("call_id") {
            "" => super::responses_response::new_id("call"),
            id => id.to_string(),
        };
        let call = if custom {
            json!({"index": i, "id": call_id, "type": "custom", "custom": {"name": s("name"), "input": ""}})
        } else {
            json!({"index": i, "id": call_id, "type": "function",
                   "function": {"name": s("name"), "arguments": ""}})
        };
        self.delta(out, json!({"tool_calls": [call]}));
        let already = if custom { s("input") } else { s("arguments") };
        self.send_args(i, already, out);
        i
    }

    /// The call an event is about: by `output_index`, then item id, else the latest; a
    /// fragment of a call never announced opens one.
    fn call_for(&mut self, oi: Option<u64>, data: &Value, out: &mut Vec<Value>) -> usize {
        let by_item = data
            .get("item_id")
            .and_then(Value::as_str)
            .and_then(|id| self.by_item.get(id));
        match oi.and_then(|oi| self.by_output.get(&oi)).or(by_item) {
            Some(&i) => i,
            None if !self.calls.is_empty() && oi.is_none() => self.calls.len() - 1,
            None => self.open_call(oi, &json!({"type": "function_call"}), out),
        }
    }

    fn send_args(&mut self, i: usize, fragment: &str, out: &mut Vec<Value>) {
        if fragment.is_empty() {
            return;
        }
        self.calls[i].sent.push_str(fragment);
        let call = if self.calls[i].custom {
            json!({"index": i, "custom": {"input": fragment}})
        } else {
            json!({"index": i, "function": {"arguments": fragment}})
        };
        self.delta(out, json!({"tool_calls": [call]}));
    }

    /// Sends what a `.done` event holds beyond the fragments already sent.
    fn catch_up(&mut self, i: usize, whole: &str, out: &mut Vec<Value>) {
        if let Some(rest) = whole.strip_prefix(self.calls[i].sent.as_str()) {
            let rest = rest.to_string();
            self.send_args(i, &rest, out);
        }
    }

    fn item_done(&mut self, oi: Option<u64>, item: &Value, out: &mut Vec<Value>) {
        match item.get("type").and_then(Value::as_str) {
            Some("reasoning") => {
                let seen = oi.is_some_and(|oi| self.reasoning_seen.contains(&oi));
                let summary = reasoning_summary(item);
                if !seen && !summary.is_empty() {
                    self.delta(out, json!({"reasoning_text": summary}));
                }
                if let Some(o) = join_opaque(item) {
                    self.delta(out, json!({"reasoning_opaque": o}));
                }
            }
            Some("message") => {
                let seen = oi.is_some_and(|oi| self.text_seen.contains(&oi));
                let text: String = item
                    .get("content")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter(|p| p["type"] == "output_text")
                    .filter_map(|p| p["text"].as_str())
                    .collect();
                if !seen && !text.is_empty() {
                    self.delta(out, json!({"content": text}));
                }
            }
            _ if is_call(item) => {
                let known = oi
                    .and_then(|oi| self.by_output.get(&oi))
                    .or_else(|| {
                        item.get("id")
                            .and_then(Value::as_str)
                            .and_then(|id| self.by_item.get(id))
                    })
                    .copied();
                match known {
                    Some(i) => {
                        let key = if self.calls[i].custom {
                            "input"
                        } else {
                            "arguments"
                        };
                        if let Some(whole) = item.get(key).and_then(Value::as_str) {
                            self.catch_up(i, whole, out);
                        }
                    }
                    None => {
                        self.open_call(oi, item, out);
                    }
                }
            }
            _ => {}
        }
    }
}

/// A call item: by type, or (Copilot may obscure the type) any item with a `call_id`
/// that is not a message or reasoning.
fn is_call(item: &Value) -> bool {
    match item.get("type").and_then(Value::as_str) {
        Some("function_call" | "custom_tool_call") => true,
        Some("message" | "reasoning") => false,
        _ => item.get("call_id").and_then(Value::as_str).is_some(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::translate::{responses_request, responses_response, responses_stream};

    #[test]
    fn chat_request_becomes_a_responses_request() {
        let req = json!({
            "model": "gpt-5.5",
            "messages": [
                {"role": "system", "content": "You are helpful."},
                {"role": "system", "content": [{"type": "text", "text": "Be terse."}]},
                {"role": "user", "content": [{"type": "text", "text": "What is in this image?"},
                                             {"type": "image_url", "image_url": {"url": "data:image/png;base64,AA"}}]},
                {"role": "assistant", "content": "Let me check.", "reasoning_text": "Look first.",
                 "reasoning_opaque": "gAAAAB==@rs_42",
                 "tool_calls": [{"id": "call_1", "type": "function",
                                 "function": {"name": "get_weather", "arguments": "{\"city\":\"London\"}"}}]},
                {"role": "tool", "tool_call_id": "call_1", "content": "{\"temp\": 15}"},
                {"role": "system", "content": "Late rule."},
                {"role": "user", "content": "Thanks!"},
            ],
            "tools": [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}],
            "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
            "max_tokens": 500,
            "reasoning_effort": "high",
            "response_format": {"type": "json_schema", "json_schema": {"name": "w", "schema": {"type": "object"}, "strict": true}},
            "stream": true,
            "stream_options": {"include_usage": true},
            "stop": ["x"],
            "user": "u1",
        });
        let r = chat_to_responses(&req, "gpt-5.5").unwrap();
        assert_eq!(r["model"], "gpt-5.5");
        assert_eq!(r["instructions"], "You are helpful.\n\nBe terse.");
        assert!(r.get("store").is_none());
        assert_eq!(r["include"], json!(["reasoning.encrypted_content"]));
        assert_eq!(r["max_output_tokens"], 500);
        assert_eq!(r["reasoning"], json!({"effort": "high", "summary": "auto"}));
        assert_eq!(
            r["tool_choice"],
            json!({"type": "function", "name": "get_weather"})
        );
        assert_eq!(
            r["tools"],
            json!([{"type": "function", "name": "get_weather", "parameters": {"type": "object"}, "strict": false}])
        );
        assert_eq!(
            r["text"],
            json!({"format": {"type": "json_schema", "name": "w", "schema": {"type": "object"}, "strict": true}})
        );
        assert_eq!(r["stream"], true);
        for absent in [
            "messages",
            "stream_options",
            "stop",
            "user",
            "max_tokens",
            "reasoning_effort",
        ] {
            assert!(r.get(absent).is_none(), "{absent}");
        }
        assert_eq!(
            r["input"],
            json!([
                {"type": "message", "role": "user", "content": [
                    {"type": "input_text", "text": "What is in this image?"},
                    {"type": "input_image", "image_url": "data:image/png;base64,AA", "detail": "auto"}]},
                {"type": "reasoning", "id": "rs_42", "encrypted_content": "gAAAAB==",
                 "summary": [{"type": "summary_text", "text": "Look first."}]},
                {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Let me check."}]},
                {"type": "function_call", "call_id": "call_1", "name": "get_weather", "arguments": "{\"city\":\"London\"}"},
                {"type": "function_call_output", "call_id": "call_1", "output": "{\"temp\": 15}"},
                {"type": "message", "role": "developer", "content": "Late rule."},
                {"type": "message", "role": "user", "content": "Thanks!"},
            ])
        );
    }

    #[test]
    fn request_edge_cases() {
        let base = |extra: Value| {
            let mut r = json!({"messages": [{"role": "user", "content": "hi"}]});
            r.as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            r
        };
        // tool_choice without tools is dropped; max_tokens is raised to the minimum.
        let r = chat_to_responses(
            &base(json!({"tool_choice": "auto", "max_completion_tokens": 1})),
            "m",
        )
        .unwrap();
        assert!(r.get("tool_choice").is_none() && r.get("tools").is_none());
        assert_eq!(r["max_output_tokens"], MIN_OUTPUT_TOKENS);
        assert!(r.get("reasoning").is_none());
        // The Messages path's thinking budget asks for summaries.
        let r = chat_to_responses(&base(json!({"thinking_budget": 1000})), "m").unwrap();
        assert_eq!(r["reasoning"], json!({"summary": "auto"}));

        let errors = [
            (json!({}), "`messages`"),
            (base(json!({"n": 2})), "`n`"),
            (json!({"messages": [{"content": "x"}]}), "messages.0.role"),
            (
                json!({"messages": [{"role": "tool", "content": "x"}]}),
                "messages.0.tool_call_id",
            ),
            (
                json!({"messages": [{"role": "user", "content": 1}]}),
                "messages.0.content",
            ),
            (
                base(json!({"tools": [{"type": "function", "function": {}}]})),
                "tools.0.function.name",
            ),
            (base(json!({"max_tokens": "x"})), "max_tokens"),
        ];
        for (req, want) in errors {
            let err = chat_to_responses(&req, "m")
                .err()
                .unwrap_or_else(|| panic!("accepted {req}"));
            assert!(err.contains(want), "{req}: {err}");
        }
    }

    #[test]
    fn responses_answer_becomes_a_chat_completion() {
        let resp = json!({
            "id": "resp_1", "object": "response", "created_at": 1700000000, "status": "completed",
            "output": [
                {"id": "rs_1", "type": "reasoning", "summary": [{"type": "summary_text", "text": "Plan."}],
                 "encrypted_content": "enc"},
                {"id": "msg_1", "type": "message", "role": "assistant",
                 "content": [{"type": "output_text", "text": "Calling.", "annotations": []}]},
                {"id": "fc_1", "type": "function_call", "call_id": "call_1", "name": "f", "arguments": "{}"},
                {"id": "ctc_1", "type": "custom_tool_call", "call_id": "call_2", "name": "apply_patch", "input": "*** Begin Patch"},
            ],
            "usage": {"input_tokens": 10, "input_tokens_details": {"cached_tokens": 4},
                      "output_tokens": 5, "output_tokens_details": {"reasoning_tokens": 3}, "total_tokens": 15},
        });
        let c = responses_to_chat(&resp, "gpt-5.5");
        assert_eq!(c["object"], "chat.completion");
        assert_eq!(c["model"], "gpt-5.5");
        let choice = &c["choices"][0];
        assert_eq!(choice["finish_reason"], "tool_calls");
        let m = &choice["message"];
        assert_eq!(m["content"], "Calling.");
        assert_eq!(m["reasoning_text"], "Plan.");
        assert_eq!(m["reasoning_opaque"], "enc@rs_1");
        assert_eq!(
            m["tool_calls"].as_array().unwrap().len(),
            2,
            "the reasoning item is no call (§10.14)"
        );
        assert_eq!(
            m["tool_calls"][1],
            json!({"id": "call_2", "type": "custom",
                                              "custom": {"name": "apply_patch", "input": "*** Begin Patch"}})
        );
        assert_eq!(
            c["usage"],
            json!({"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15,
                   "prompt_tokens_details": {"cached_tokens": 4},
                   "completion_tokens_details": {"reasoning_tokens": 3}})
        );

        let cases = [
            (
                json!({"status": "incomplete", "incomplete_details": {"reason": "max_output_tokens"}}),
                "length",
            ),
            (
                json!({"status": "incomplete", "incomplete_details": {"reason": "content_filter"}}),
                "content_filter",
            ),
            (
                json!({"status": "completed", "output": [
                {"type": "message", "content": [{"type": "output_text", "text": "a"}]},
                {"type": "message", "content": [{"type": "output_text", "text": "b"}]}]}),
                "stop",
            ),
        ];
        for (resp, finish) in &cases {
            let c = responses_to_chat(resp, "m");
            assert_eq!(c["choices"][0]["finish_reason"], *finish, "{resp}");
            assert!(c.get("usage").is_none(), "no usage, no panic");
        }
        let c = responses_to_chat(&cases[2].0, "m");
        assert_eq!(
            c["choices"][0]["message"]["content"], "a\n\nb",
            "every message item kept"
        );
    }

    fn feed(s: &mut ChatFromResponsesStream, events: &[Value]) -> Vec<Value> {
        events
            .iter()
            .flat_map(|e| s.on_event(e["type"].as_str().unwrap(), e))
            .collect()
    }

    fn deltas(chunks: &[Value]) -> Vec<&Value> {
        chunks
            .iter()
            .filter_map(|c| c["choices"].get(0))
            .map(|c| &c["delta"])
            .collect()
    }

    #[test]
    fn responses_stream_becomes_chat_chunks() {
        let mut s = ChatFromResponsesStream::new("gpt-5.5");
        let chunks = feed(
            &mut s,
            &[
                json!({"type": "response.created", "response": {"id": "r"}}),
                json!({"type": "response.output_item.added", "output_index": 0, "item": {"type": "reasoning", "id": "rs_1"}}),
                json!({"type": "response.reasoning_summary_text.delta", "output_index": 0, "delta": "think"}),
                json!({"type": "response.output_item.done", "output_index": 0,
                       "item": {"type": "reasoning", "id": "rs_1", "encrypted_content": "E", "summary": [{"type": "summary_text", "text": "think"}]}}),
                json!({"type": "response.output_item.added", "output_index": 1, "item": {"type": "message"}}),
                json!({"type": "response.output_text.delta", "output_index": 1, "delta": "Hello"}),
                // A call with no argument deltas at all still gets its identity and args.
                json!({"type": "response.output_item.added", "output_index": 2,
                       "item": {"type": "function_call", "id": "x1", "call_id": "call_9", "name": "f", "arguments": ""}}),
                json!({"type": "response.output_item.added", "output_index": 3,
                       "item": {"type": "function_call", "id": "x2", "call_id": "call_10", "name": "g", "arguments": ""}}),
                json!({"type": "response.function_call_arguments.delta", "output_index": 3, "item_id": "opaque", "delta": "{\"a\":"}),
                json!({"type": "response.function_call_arguments.delta", "output_index": 3, "item_id": "opaque", "delta": "1}"}),
                json!({"type": "response.function_call_arguments.done", "output_index": 2, "arguments": "{}"}),
                json!({"type": "response.output_item.done", "output_index": 3,
                       "item": {"type": "function_call", "call_id": "call_10", "name": "g", "arguments": "{\"a\":1}"}}),
                json!({"type": "response.completed", "response": {"status": "completed",
                       "usage": {"input_tokens": 50, "output_tokens": 7, "total_tokens": 57}}}),
            ],
        );
        assert!(s.done() && s.failure().is_none());
        let d = deltas(&chunks);
        assert_eq!(d[0], &json!({"role": "assistant"}), "role first");
        assert_eq!(d[1], &json!({"reasoning_text": "think"}));
        assert_eq!(d[2], &json!({"reasoning_opaque": "E@rs_1"}));
        assert_eq!(d[3], &json!({"content": "Hello"}));
        assert_eq!(
            d[4]["tool_calls"][0],
            json!({"index": 0, "id": "call_9", "type": "function",
                                                 "function": {"name": "f", "arguments": ""}})
        );
        assert_eq!(d[5]["tool_calls"][0]["id"], "call_10");
        assert_eq!(d[5]["tool_calls"][0]["index"], 1);
        assert_eq!(
            d[6]["tool_calls"][0],
            json!({"index": 1, "function": {"arguments": "{\"a\":"}})
        );
        assert_eq!(
            d[7]["tool_calls"][0],
            json!({"index": 1, "function": {"arguments": "1}"}})
        );
        assert_eq!(
            d[8]["tool_calls"][0],
            json!({"index": 0, "function": {"arguments": "{}"}})
        );
        let finish = &chunks[chunks.len() - 2];
        assert_eq!(finish["choices"][0]["finish_reason"], "tool_calls");
        let usage = chunks.last().unwrap();
        assert_eq!(usage["choices"], json!([]));
        assert_eq!(usage["usage"]["total_tokens"], 57);
        assert_eq!(
            chunks.len(),
            11,
            "no duplicate argument chunks: {chunks:#?}"
        );
        assert!(
            chunks
                .iter()
                .all(|c| c["model"] == "gpt-5.5" && c["object"] == "chat.completion.chunk")
        );
    }

    #[test]
    fn stream_failures_and_incomplete() {
        let mut s = ChatFromResponsesStream::new("m");
        feed(
            &mut s,
            &[
                json!({"type": "response.failed", "response": {"error": {"code": "x", "message": "boom"}}}),
            ],
        );
        assert_eq!(s.failure().as_deref(), Some("boom"));
        assert!(!s.done());
        let mut s = ChatFromResponsesStream::new("m");
        s.on_event("error", &json!({"message": "rate limited"}));
        assert_eq!(s.failure().as_deref(), Some("rate limited"));
        let mut s = ChatFromResponsesStream::new("m");
        let chunks = feed(
            &mut s,
            &[
                json!({"type": "response.output_text.delta", "output_index": 0, "delta": "cut"}),
                json!({"type": "response.incomplete", "response": {"incomplete_details": {"reason": "max_output_tokens"}}}),
            ],
        );
        assert!(s.done());
        assert_eq!(
            chunks.last().unwrap()["choices"][0]["finish_reason"],
            "length"
        );
        assert!(
            s.on_event("response.completed", &json!({})).is_empty(),
            "nothing after the end"
        );
    }

    /// A Chat client's tool loop against a responses-only model: the request, the answer
    /// and the next turn all go through Responses and back without losing a call, an
    /// output or the reasoning.
    #[test]
    fn chat_responses_chat_round_trip_of_a_tool_loop() {
        let turn1 = json!({"messages": [{"role": "user", "content": "list files"}],
                           "tools": [{"type": "function", "function": {"name": "exec", "parameters": {"type": "object"}}}]});
        let up1 = chat_to_responses(&turn1, "gpt-5.5").unwrap();
        assert_eq!(up1["input"][0]["content"], "list files");
        // Upstream answers with reasoning and two parallel calls.
        let answer = json!({"id": "resp_u", "status": "completed", "output": [
            {"type": "reasoning", "id": "rs_9", "summary": [], "encrypted_content": "ENC"},
            {"type": "function_call", "call_id": "c1", "name": "exec", "arguments": "{\"cmd\":\"ls\"}"},
            {"type": "function_call", "call_id": "c2", "name": "exec", "arguments": "{\"cmd\":\"pwd\"}"},
        ], "usage": {"input_tokens": 1, "output_tokens": 1, "total_tokens": 2}});
        let chat = responses_to_chat(&answer, "gpt-5.5");
        let assistant = chat["choices"][0]["message"].clone();
        let mut messages = turn1["messages"].as_array().unwrap().clone();
        messages.push(assistant);
        messages.push(json!({"role": "tool", "tool_call_id": "c1", "content": "a.txt"}));
        messages.push(json!({"role": "tool", "tool_call_id": "c2", "content": "/tmp"}));
        let turn2 = json!({"messages": messages, "tools": turn1["tools"]});
        let up2 = chat_to_responses(&turn2, "gpt-5.5").unwrap();
        let kinds: Vec<&str> = up2["input"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["type"].as_str().unwrap())
            .collect();
        assert_eq!(
            kinds,
            [
                "message",
                "reasoning",
                "function_call",
                "function_call",
                "function_call_output",
                "function_call_output"
            ]
        );
        assert_eq!(
            up2["input"][1],
            json!({"type": "reasoning", "id": "rs_9", "summary": [], "encrypted_content": "ENC"})
        );
        assert_eq!(up2["input"][2]["arguments"], "{\"cmd\":\"ls\"}");
        assert_eq!(
            up2["input"][5],
            json!({"type": "function_call_output", "call_id": "c2", "output": "/tmp"})
        );
    }

    /// Codex against a chat-only model: Responses -> Chat -> Responses, with parallel
    /// calls and an apply_patch freeform call, both directions.
    #[test]
    fn responses_chat_responses_round_trip_keeps_parallel_calls() {
        let patch = "*** Begin Patch\n*** Add File: out.txt\n+hello\n*** End Patch";
        let req = json!({"model": "claude-sonnet-4.5", "stream": true, "input": [
                {"role": "user", "content": "do both"}],
            "tools": [{"type": "function", "name": "exec_command", "parameters": {"type": "object"}},
                      {"type": "custom", "name": "apply_patch"}]});
        let up = responses_request::to_chat(&req, "claude-sonnet-4.5", &[]).unwrap();
        // The chat model streams two parallel calls, one of them freeform.
        let mut s = responses_stream::ResponsesStream::new("resp_1", &req, up.custom_tools.clone());
        let chunk = |delta: Value, finish: Value| json!({"choices": [{"index": 0, "delta": delta, "finish_reason": finish}]});
        let mut events = Vec::new();
        for c in [
            chunk(
                json!({"reasoning_text": "both", "reasoning_opaque": "SIG"}),
                Value::Null,
            ),
            chunk(
                json!({"tool_calls": [{"index": 0, "id": "t1", "function": {"name": "exec_command", "arguments": "{\"cmd\":\"ls\"}"}}]}),
                Value::Null,
            ),
            chunk(
                json!({"tool_calls": [{"index": 1, "id": "t2", "function": {"name": "apply_patch",
                   "arguments": json!({"input": patch}).to_string()}}]}),
                json!("tool_calls"),
            ),
            json!({"choices": [], "usage": {"prompt_tokens": 9, "completion_tokens": 3, "total_tokens": 12}}),
        ] {
            events.extend(s.on_chunk(&c));
        }
        events.extend(s.finish());
        let completed: Value = serde_json::from_str(&events.last().unwrap().data).unwrap();
        assert_eq!(completed["type"], "response.completed");
        assert_eq!(completed["response"]["usage"]["total_tokens"], 12);
        let output = s.output();
        assert_eq!(
            completed["response"]["output"],
            Value::Array(output.clone())
        );
        let kinds: Vec<&str> = output.iter().map(|i| i["type"].as_str().unwrap()).collect();
        assert_eq!(kinds, ["reasoning", "function_call", "custom_tool_call"]);
        assert_eq!(output[2]["input"], patch);

        // Codex replays the output with both results; the next Chat request has one
        // assistant turn with both calls, its reasoning, and both results.
        let mut input = req["input"].as_array().unwrap().clone();
        input.extend(output);
        input.push(json!({"type": "function_call_output", "call_id": "t1", "output": "a.txt"}));
        input.push(
            json!({"type": "custom_tool_call_output", "call_id": "t2", "output": "Success."}),
        );
        let next = json!({"input": input, "tools": req["tools"]});
        let up2 = responses_request::to_chat(&next, "claude-sonnet-4.5", &[]).unwrap();
        let m = up2.body["messages"].as_array().unwrap();
        assert_eq!(m.len(), 4);
        assert_eq!(m[1]["reasoning_opaque"], "SIG");
        assert_eq!(
            m[1]["tool_calls"][1]["function"]["arguments"],
            json!({"input": patch}).to_string()
        );
        assert_eq!(
            m[2],
            json!({"role": "tool", "tool_call_id": "t1", "content": "a.txt"})
        );
        assert_eq!(
            m[3],
            json!({"role": "tool", "tool_call_id": "t2", "content": "Success."})
        );

        // Non-streaming, the same answer as one Chat completion.
        let chat = json!({"choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
            "role": "assistant", "content": null, "tool_calls": [
                {"id": "t1", "type": "function", "function": {"name": "exec_command", "arguments": "{}"}},
                {"id": "t2", "type": "function", "function": {"name": "apply_patch", "arguments": json!({"input": patch}).to_string()}}]}}]});
        let r = responses_response::from_chat(&chat, &req, &up.custom_tools, "resp_2");
        assert_eq!(r["output"][1]["type"], "custom_tool_call");
        assert_eq!(r["output"][1]["input"], patch);
    }
}
