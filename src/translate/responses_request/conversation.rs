//! Input items -> Chat messages: the assistant turn gathered from consecutive items, each
//! call answered right after its turn, images and orphan outputs kept as user content.

use super::{item_type, str_field};
use crate::translate::responses_response::OWN_REASONING;
use serde_json::{Map, Value, json};
use std::collections::{HashMap, HashSet};

/// The tool message given for a call whose output the client never sent: it says so,
/// rather than pretending the tool ran and printed nothing (reference §10.9).
pub(super) const MISSING_OUTPUT: &str =
    "[No output: the client sent no result for this tool call.]";
/// Stands in for an empty output, which some upstream models reject.
const EMPTY_OUTPUT: &str = "(no output)";

/// One tool output, as Chat takes it: text for the tool message, images for a user
/// message after the turn's tool messages (Chat tool messages carry no images).
struct Output {
    text: String,
    images: Vec<Value>,
}

/// The assistant turn being gathered: text, reasoning and calls of consecutive items.
#[derive(Default)]
struct Turn {
    text: String,
    reasoning: Vec<String>,
    opaque: Option<String>,
    calls: Vec<Value>,
    call_ids: Vec<String>,
}

impl Turn {
    fn has_reasoning(&self) -> bool {
        !self.reasoning.is_empty() || self.opaque.is_some()
    }
}

/// The message list under construction.
pub(super) struct Conversation {
    messages: Vec<Value>,
    turn: Turn,
    /// Outputs by call id, gathered up front so each is placed right after its call.
    outputs: HashMap<String, Output>,
    /// Every call id of the input: an output for any other id is an orphan.
    call_ids: HashSet<String>,
    pub(super) has_images: bool,
}

impl Conversation {
    pub(super) fn new(items: &[&Value]) -> Conversation {
        let mut conv = Conversation {
            messages: Vec::new(),
            turn: Turn::default(),
            outputs: HashMap::new(),
            call_ids: HashSet::new(),
            has_images: false,
        };
        for item in items {
            match item_type(item) {
                "function_call" | "custom_tool_call" => {
                    if let Some(id) = str_field(item, "call_id") {
                        conv.call_ids.insert(id.to_string());
                    }
                }
                "function_call_output" | "custom_tool_call_output" => {
                    if let Some(id) = str_field(item, "call_id") {
                        let out = tool_output(item.get("output"));
                        conv.outputs.entry(id.to_string()).or_insert(out);
                    }
                }
                _ => {}
            }
        }
        conv
    }

    pub(super) fn system(&mut self, text: String) {
        if !text.is_empty() {
            self.messages
                .push(json!({"role": "system", "content": text}));
        }
    }

    /// Adds one input item; `Err` names what is wrong with it (after its label).
    pub(super) fn item(&mut self, item: &Value) -> Result<(), String> {
        if !item.is_object() {
            return Err(" must be an object".into());
        }
        match item_type(item) {
            "message" => self.message(item),
            "reasoning" => {
                self.reasoning(item);
                Ok(())
            }
            "function_call" => {
                let name = str_field(item, "name").ok_or(".name is required")?;
                let args = match item.get("arguments") {
                    Some(Value::String(s)) => s.clone(),
                    None | Some(Value::Null) => "{}".into(),
                    Some(other) => other.to_string(),
                };
                self.call(item, name, args);
                Ok(())
            }
            "custom_tool_call" => {
                let name = str_field(item, "name").ok_or(".name is required")?;
                let input = str_field(item, "input").unwrap_or("");
                self.call(item, name, json!({"input": input}).to_string());
                Ok(())
            }
            "function_call_output" | "custom_tool_call_output" => {
                self.flush();
                let id = str_field(item, "call_id").ok_or(".call_id is required")?;
                if !self.call_ids.contains(id) {
                    self.orphan_output(id, item);
                }
                Ok(())
            }
            other => {
                // item_reference, web_search_call, compaction, ...: nothing Chat can take.
                crate::debug!("responses->chat: input item of type `{other}` skipped");
                Ok(())
            }
        }
    }

    fn message(&mut self, item: &Value) -> Result<(), String> {
        let content = item.get("content").unwrap_or(&Value::Null);
        match str_field(item, "role") {
            Some("assistant") => {
                if !self.turn.calls.is_empty() {
                    self.flush();
                }
                self.turn.text.push_str(&plain_text(content, ""));
            }
            Some("system" | "developer") => {
                self.flush();
                self.system(plain_text(content, "\n\n"));
            }
            Some("user") => {
                self.flush();
                if let Some(c) = self.user_content(content)? {
                    self.messages.push(json!({"role": "user", "content": c}));
                }
            }
            Some(other) => return Err(format!(".role `{other}` is not a message role")),
            None => return Err(".role is required".into()),
        }
        Ok(())
    }

    /// Reasoning joins the assistant turn it belongs to; a turn carries one opaque token,
    /// so a second one starts the next turn.
    fn reasoning(&mut self, item: &Value) {
        if str_field(item, "id").is_some_and(|id| !id.starts_with(OWN_REASONING)) {
            crate::debug!("responses->chat: reasoning of another model family dropped");
            return;
        }
        let opaque = str_field(item, "encrypted_content").filter(|s| !s.is_empty());
        if self.turn.opaque.is_some() && opaque.is_some() {
            self.flush();
        }
        let summary = item.get("summary").map(|s| plain_text(s, "\n\n"));
        let text = summary
            .filter(|s| !s.is_empty())
            .or_else(|| item.get("content").map(|c| plain_text(c, "\n\n")))
            .unwrap_or_default();
        if !text.is_empty() {
            self.turn.reasoning.push(text);
        }
        if let Some(o) = opaque {
            self.turn.opaque = Some(o.to_string());
        }
    }

    fn call(&mut self, item: &Value, name: &str, arguments: String) {
        let id = str_field(item, "call_id")
            .or_else(|| str_field(item, "id"))
            .map_or_else(
                || format!("call_{:016x}", crate::ids::random_u64()),
                str::to_string,
            );
        self.turn.calls.push(json!({
            "id": id,
            "type": "function",
            "function": {"name": name, "arguments": arguments},
        }));
        self.turn.call_ids.push(id);
    }

    /// Ends the assistant turn: its message, then one tool message per call, then the
    /// images those tools returned.
    fn flush(&mut self) {
        let turn = std::mem::take(&mut self.turn);
        if turn.text.is_empty() && turn.calls.is_empty() {
            if turn.has_reasoning() {
                crate::debug!("responses->chat: reasoning without an answer dropped");
            }
            return;
        }
        let mut m = Map::new();
        m.insert("role".into(), "assistant".into());
        let content = if turn.text.is_empty() {
            Value::Null
        } else {
            turn.text.into()
        };
        m.insert("content".into(), content);
        if !turn.reasoning.is_empty() {
            m.insert("reasoning_text".into(), turn.reasoning.join("\n\n").into());
        }
        if let Some(o) = turn.opaque {
            m.insert("reasoning_opaque".into(), o.into());
        }
        if !turn.calls.is_empty() {
            m.insert("tool_calls".into(), Value::Array(turn.calls));
        }
        self.messages.push(Value::Object(m));

        let mut images = Vec::new();
        for id in turn.call_ids {
            let text = match self.outputs.remove(&id) {
                Some(out) => {
                    images.extend(out.images);
                    out.text
                }
                None => MISSING_OUTPUT.into(),
            };
            self.messages
                .push(json!({"role": "tool", "tool_call_id": id, "content": text}));
        }
        if !images.is_empty() {
            self.has_images = true;
            let mut parts =
                vec![json!({"type": "text", "text": "Images returned by the tool calls above:"})];
            parts.extend(images);
            self.messages
                .push(json!({"role": "user", "content": parts}));
        }
    }

    /// An output whose call is not in the input: kept as user text so nothing is lost,
    /// since Chat rejects a tool message without its call.
    fn orphan_output(&mut self, id: &str, item: &Value) {
        let out = tool_output(item.get("output"));
        if out.text == EMPTY_OUTPUT && out.images.is_empty() {
            return;
        }
        let mut parts = vec![
            json!({"type": "text", "text": format!("[Result of tool call {id}]\n{}", out.text)}),
        ];
        self.has_images |= !out.images.is_empty();
        parts.extend(out.images);
        self.messages
            .push(json!({"role": "user", "content": parts}));
    }

    /// User content as Chat takes it: a string for plain text, parts otherwise.
    fn user_content(&mut self, content: &Value) -> Result<Option<Value>, String> {
        let parts = match content {
            Value::Null => return Ok(None),
            Value::String(s) if s.is_empty() => return Ok(None),
            Value::String(s) => return Ok(Some(s.clone().into())),
            Value::Array(parts) => parts,
            _ => return Err(".content must be a string or an array of parts".into()),
        };
        let mut out = Vec::new();
        for part in parts {
            if let Some(image) = image_part(part) {
                self.has_images = true;
                out.push(image);
            } else if let Some(text) = part_text(part) {
                if !text.is_empty() {
                    out.push(json!({"type": "text", "text": text}));
                }
            } else {
                let kind = str_field(part, "type").unwrap_or("?");
                crate::warn!(
                    "responses->chat: `{kind}` content part dropped (not supported on the chat path)"
                );
            }
        }
        Ok(match out.as_slice() {
            [] => None,
            [one] if one["type"] == "text" => Some(one["text"].clone()),
            _ => Some(Value::Array(out)),
        })
    }

    /// The messages, with adjacent system messages joined into one.
    pub(super) fn finish(mut self) -> Vec<Value> {
        self.flush();
        let mut out: Vec<Value> = Vec::with_capacity(self.messages.len());
        for m in self.messages {
            if let Some(prev) = out.last_mut() {
                if prev["role"] == "system" && m["role"] == "system" {
                    let joined = format!(
                        "{}\n\n{}",
                        prev["content"].as_str().unwrap_or(""),
                        m["content"].as_str().unwrap_or("")
                    );
                    prev["content"] = joined.into();
                    continue;
                }
            }
            out.push(m);
        }
        out
    }
}

/// The text of a part: `input_text`, `output_text`, `summary_text`, `reasoning_text`,
/// `refusal` and any other part that carries `text`.
fn part_text(part: &Value) -> Option<&str> {
    match part {
        Value::String(s) => Some(s),
        _ => str_field(part, "text").or_else(|| str_field(part, "refusal")),
    }
}

/// An `input_image` part as a Chat `image_url` part.
fn image_part(part: &Value) -> Option<Value> {
    if str_field(part, "type") != Some("input_image") {
        return None;
    }
    let url = match part.get("image_url") {
        Some(Value::String(u)) => u.as_str(),
        Some(obj) => str_field(obj, "url")?,
        None => {
            crate::warn!("responses->chat: `input_image` without an image_url (file_id) dropped");
            return None;
        }
    };
    let mut image = json!({"url": url});
    if let Some(d) = part.get("detail").filter(|d| d.is_string()) {
        image["detail"] = d.clone();
    }
    Some(json!({"type": "image_url", "image_url": image}))
}

/// Content of any shape as plain text, parts joined with `sep`.
fn plain_text(content: &Value, sep: &str) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(part_text)
            .filter(|t| !t.is_empty())
            .collect::<Vec<_>>()
            .join(sep),
        _ => String::new(),
    }
}

/// A `function_call_output.output`: a string, or parts with text and images.
fn tool_output(output: Option<&Value>) -> Output {
    let mut images = Vec::new();
    let text = match output {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(parts)) => {
            let mut texts = Vec::new();
            for part in parts {
                if let Some(image) = image_part(part) {
                    images.push(image);
                } else if let Some(t) = part_text(part) {
                    texts.push(t);
                }
            }
            texts.join("\n")
        }
        // An older Codex shape: `{content, success}`.
        Some(obj @ Value::Object(_)) => match str_field(obj, "content") {
            Some(c) => c.to_string(),
            None => obj.to_string(),
        },
        Some(other) => other.to_string(),
    };
    let text = if text.is_empty() {
        EMPTY_OUTPUT.to_string()
    } else {
        text
    };
    Output { text, images }
}
