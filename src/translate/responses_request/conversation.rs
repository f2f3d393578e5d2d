//! Input items -> Chat messages: the assistant turn gathered from consecutive items, each
//! call answered right after its turn, images and orphan outputs kept as user content.

use crate::protocol::responses_request::{CallOutput, Content, Item, Part, Role, ToolOutput};
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
    pub(super) fn new(items: &[&Item]) -> Conversation {
        let mut conv = Conversation {
            messages: Vec::new(),
            turn: Turn::default(),
            outputs: HashMap::new(),
            call_ids: HashSet::new(),
            has_images: false,
        };
        for item in items {
            match item {
                Item::FunctionCall(call) | Item::CustomToolCall(call) => {
                    if let Some(id) = &call.call_id {
                        conv.call_ids.insert(id.clone());
                    }
                }
                Item::FunctionCallOutput(out) | Item::CustomToolCallOutput(out) => {
                    if let Some(id) = &out.call_id {
                        if !conv.outputs.contains_key(id) {
                            conv.outputs.insert(id.clone(), tool_output(&out.output));
                        }
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
    pub(super) fn item(&mut self, item: &Item) -> Result<(), String> {
        match item {
            Item::NotObject => Err(" must be an object".into()),
            Item::Message { role, content } => self.message(role.as_ref(), content.as_ref()),
            Item::Reasoning {
                id,
                summary,
                content,
                encrypted_content,
            } => {
                self.reasoning(
                    id.as_deref(),
                    summary.as_ref(),
                    content.as_ref(),
                    encrypted_content.as_deref(),
                );
                Ok(())
            }
            Item::FunctionCall(call) => {
                let name = call.name.as_deref().ok_or(".name is required")?;
                self.call(
                    call.call_id.as_deref().or(call.id.as_deref()),
                    name,
                    call.arguments.clone(),
                );
                Ok(())
            }
            Item::CustomToolCall(call) => {
                let name = call.name.as_deref().ok_or(".name is required")?;
                let input = call.input.as_deref().unwrap_or("");
                let arguments = json!({"input": input}).to_string();
                self.call(
                    call.call_id.as_deref().or(call.id.as_deref()),
                    name,
                    arguments,
                );
                Ok(())
            }
            Item::FunctionCallOutput(out) | Item::CustomToolCallOutput(out) => {
                self.flush();
                let id = out.call_id.as_deref().ok_or(".call_id is required")?;
                if !self.call_ids.contains(id) {
                    self.orphan_output(id, out);
                }
                Ok(())
            }
            Item::Reference { id } => {
                // The proxy stores no items to resolve it from.
                let id = id.as_deref().unwrap_or("?");
                crate::debug!(
                    "responses->chat: input item of type `item_reference` ({id}) skipped"
                );
                Ok(())
            }
            Item::Unknown { kind } => {
                // web_search_call, compaction, ...: nothing Chat can take.
                crate::debug!("responses->chat: input item of type `{kind}` skipped");
                Ok(())
            }
        }
    }

    fn message(&mut self, role: Option<&Role>, content: Option<&Content>) -> Result<(), String> {
        match role {
            Some(Role::Assistant) => {
                if !self.turn.calls.is_empty() {
                    self.flush();
                }
                self.turn.text.push_str(&plain_text(content, ""));
            }
            Some(Role::System | Role::Developer) => {
                self.flush();
                self.system(plain_text(content, "\n\n"));
            }
            Some(Role::User) => {
                self.flush();
                if let Some(c) = self.user_content(content)? {
                    self.messages.push(json!({"role": "user", "content": c}));
                }
            }
            Some(Role::Other(other)) => {
                return Err(format!(".role `{other}` is not a message role"));
            }
            None => return Err(".role is required".into()),
        }
        Ok(())
    }

    /// Reasoning joins the assistant turn it belongs to; a turn carries one opaque token,
    /// so a second one starts the next turn.
    fn reasoning(
        &mut self,
        id: Option<&str>,
        summary: Option<&Content>,
        content: Option<&Content>,
        encrypted: Option<&str>,
    ) {
        if id.is_some_and(|id| !id.starts_with(OWN_REASONING)) {
            crate::debug!("responses->chat: reasoning of another model family dropped");
            return;
        }
        let opaque = encrypted.filter(|s| !s.is_empty());
        if self.turn.opaque.is_some() && opaque.is_some() {
            self.flush();
        }
        let summary = summary.map(|s| plain_text(Some(s), "\n\n"));
        let text = summary
            .filter(|s| !s.is_empty())
            .or_else(|| content.map(|c| plain_text(Some(c), "\n\n")))
            .unwrap_or_default();
        if !text.is_empty() {
            self.turn.reasoning.push(text);
        }
        if let Some(o) = opaque {
            self.turn.opaque = Some(o.to_string());
        }
    }

    fn call(&mut self, id: Option<&str>, name: &str, arguments: String) {
        let id = id.map_or_else(
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
    /// An output whose call is not in the input: kept as user text so nothing is lost,
    /// since Chat rejects a tool message without its call.
    fn orphan_output(&mut self, id: &str, out: &CallOutput) {
        let out = tool_output(&out.output);
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
    fn user_content(&mut self, content: Option<&Content>) -> Result<Option<Value>, String> {
        let parts = match content {
            None => return Ok(None),
            Some(Content::Text(s)) if s.is_empty() => return Ok(None),
            Some(Content::Text(s)) => return Ok(Some(s.clone().into())),
            Some(Content::Parts(parts)) => parts,
            Some(Content::Invalid) => {
                return Err(".content must be a string or an array of parts".into());
            }
        };
        let mut out = Vec::new();
        let mut only_text = true;
        for part in parts {
            match part {
                Part::Text(text) if text.is_empty() => {}
                Part::Text(text) => out.push(json!({"type": "text", "text": text})),
                Part::InputImage { .. } => {
                    if let Some(image) = image_part(part) {
                        self.has_images = true;
                        only_text = false;
                        out.push(image);
                    }
                }
                Part::InputFile => dropped_part("input_file"),
                Part::Unknown { kind } => dropped_part(kind),
            }
        }
        Ok(match out.as_mut_slice() {
            [] => None,
            [one] if only_text => Some(one["text"].take()),
            _ => Some(Value::Array(out)),
        })
    }

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

fn dropped_part(kind: &str) {
    crate::warn!("responses->chat: `{kind}` content part dropped (not supported on the chat path)");
}

/// An `input_image` part as a Chat `image_url` part.
fn image_part(part: &Part) -> Option<Value> {
    let Part::InputImage { url, detail } = part else {
        return None;
    };
    let Some(url) = url else {
        crate::warn!("responses->chat: `input_image` without an image_url (file_id) dropped");
        return None;
    };
    let mut image = json!({"url": url});
    if let Some(d) = detail {
        image["detail"] = d.as_str().into();
    }
    Some(json!({"type": "image_url", "image_url": image}))
}

/// Content of any shape as plain text, text parts joined with `sep`.
fn plain_text(content: Option<&Content>, sep: &str) -> String {
    match content {
        Some(Content::Text(s)) => s.clone(),
        Some(Content::Parts(parts)) => parts
            .iter()
            .filter_map(|p| match p {
                Part::Text(t) if !t.is_empty() => Some(t.as_str()),
                _ => None,
            })
            .collect::<Vec<_>>()
            .join(sep),
        _ => String::new(),
    }
}

/// A tool's output as Chat takes it: the text, and the images of an output in parts.
fn tool_output(output: &ToolOutput) -> Output {
    let mut images = Vec::new();
    let text = match output {
        ToolOutput::Absent => String::new(),
        ToolOutput::Text(s) => s.clone(),
        ToolOutput::Parts(parts) => {
            let mut texts = Vec::new();
            for part in parts {
                match part {
                    Part::Text(t) => texts.push(t.as_str()),
                    Part::InputImage { .. } => images.extend(image_part(part)),
                    Part::InputFile | Part::Unknown { .. } => {}
                }
            }
            texts.join("\n")
        }
        ToolOutput::Legacy { content, raw } => match content {
            Some(c) => c.clone(),
            None => Value::Object(raw.clone()).to_string(),
        },
        ToolOutput::Other(other) => other.to_string(),
    };
    let text = if text.is_empty() {
        EMPTY_OUTPUT.to_string()
    } else {
        text
    };
    Output { text, images }
}
