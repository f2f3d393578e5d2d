//! Input items -> Chat messages: the assistant turn gathered from consecutive items, the
//! output of each of its calls placed right after it (Responses items are flat, linked by
//! `call_id` alone, so an output may come anywhere), images and outputs of unknown calls
//! kept as user content. Answering calls that got no output is the shared repair's
//! (`chat_repair::pair_results`), with this path's own words, `MISSING_OUTPUT`.

use crate::protocol::chat_request::{self as chat, ImageUrl, Message, ToolCall};
use crate::protocol::responses_request::{CallOutput, Content, Item, Part, Role, ToolOutput};
use crate::translate::responses_response::OWN_REASONING;
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
    images: Vec<chat::Part>,
}

/// The assistant turn being gathered: text, reasoning and calls of consecutive items.
#[derive(Default)]
struct Turn {
    text: String,
    reasoning: Vec<String>,
    opaque: Option<String>,
    calls: Vec<ToolCall>,
}

impl Turn {
    fn has_reasoning(&self) -> bool {
        !self.reasoning.is_empty() || self.opaque.is_some()
    }
}

/// The message list under construction.
pub(super) struct Conversation {
    messages: Vec<Message>,
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
            self.messages.push(Message::text(chat::Role::System, text));
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
                let arguments = serde_json::json!({"input": input}).to_string();
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
                    self.messages.push(Message::new(chat::Role::User, c));
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
        self.turn
            .calls
            .push(ToolCall::function(id, name, arguments));
    }

    /// Ends the assistant turn: its message, then a tool message for each call whose
    /// output the client sent (the repair answers the others), then the images those tools
    /// returned.
    fn flush(&mut self) {
        let turn = std::mem::take(&mut self.turn);
        if turn.text.is_empty() && turn.calls.is_empty() {
            if turn.has_reasoning() {
                crate::debug!("responses->chat: reasoning without an answer dropped");
            }
            return;
        }
        let content = if turn.text.is_empty() {
            chat::Content::Null
        } else {
            chat::Content::Text(turn.text)
        };
        let ids: Vec<String> = turn.calls.iter().map(|c| c.id.clone()).collect();
        self.messages.push(Message {
            reasoning_text: (!turn.reasoning.is_empty()).then(|| turn.reasoning.join("\n\n")),
            reasoning_opaque: turn.opaque,
            tool_calls: (!turn.calls.is_empty()).then_some(turn.calls),
            ..Message::new(chat::Role::Assistant, content)
        });

        let mut images = Vec::new();
        for id in ids {
            if let Some(out) = self.outputs.remove(&id) {
                images.extend(out.images);
                self.messages.push(Message::tool_result(id, out.text));
            }
        }
        if !images.is_empty() {
            self.has_images = true;
            let mut parts = vec![chat::Part::text("Images returned by the tool calls above:")];
            parts.extend(images);
            self.messages
                .push(Message::new(chat::Role::User, chat::Content::Parts(parts)));
        }
    }

    /// An output whose call is not in the input: a tool message the repair turns into user
    /// text (Chat rejects a tool message without its call), saying which call it answers so
    /// nothing is lost.
    fn orphan_output(&mut self, id: &str, out: &CallOutput) {
        let out = tool_output(&out.output);
        if out.text == EMPTY_OUTPUT && out.images.is_empty() {
            return;
        }
        let mut parts = vec![chat::Part::text(format!(
            "[Result of tool call {id}]\n{}",
            out.text
        ))];
        self.has_images |= !out.images.is_empty();
        parts.extend(out.images);
        self.messages.push(Message {
            tool_call_id: Some(id.to_string()),
            ..Message::new(chat::Role::Tool, chat::Content::Parts(parts))
        });
    }

    /// User content as Chat takes it: a string for plain text, parts otherwise.
    fn user_content(&mut self, content: Option<&Content>) -> Result<Option<chat::Content>, String> {
        let parts = match content {
            None => return Ok(None),
            Some(Content::Text(s)) if s.is_empty() => return Ok(None),
            Some(Content::Text(s)) => return Ok(Some(chat::Content::Text(s.clone()))),
            Some(Content::Parts(parts)) => parts,
            Some(Content::Invalid) => {
                return Err(".content must be a string or an array of parts".into());
            }
        };
        let mut out = Vec::new();
        for part in parts {
            match part {
                Part::Text(text) if text.is_empty() => {}
                Part::Text(text) => out.push(chat::Part::text(text.as_str())),
                Part::InputImage { .. } => {
                    if let Some(image) = image_part(part) {
                        self.has_images = true;
                        out.push(image);
                    }
                }
                Part::InputFile => dropped_part("input_file"),
                Part::Unknown { kind } => dropped_part(kind),
            }
        }
        Ok(match out.as_mut_slice() {
            [] => None,
            [chat::Part::Text { text }] => Some(chat::Content::Text(std::mem::take(text))),
            _ => Some(chat::Content::Parts(out)),
        })
    }

    /// The messages, with adjacent system messages joined into one.
    pub(super) fn finish(mut self) -> Vec<Message> {
        self.flush();
        let mut out: Vec<Message> = Vec::with_capacity(self.messages.len());
        for m in self.messages {
            if let Some(prev) = out.last_mut() {
                if prev.role == chat::Role::System && m.role == chat::Role::System {
                    let text = |m: &Message| {
                        m.content
                            .as_ref()
                            .and_then(chat::Content::as_text)
                            .unwrap_or("")
                            .to_string()
                    };
                    prev.content = Some(chat::Content::Text(format!(
                        "{}\n\n{}",
                        text(prev),
                        text(&m)
                    )));
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
fn image_part(part: &Part) -> Option<chat::Part> {
    let Part::InputImage { url, detail } = part else {
        return None;
    };
    let Some(url) = url else {
        crate::warn!("responses->chat: `input_image` without an image_url (file_id) dropped");
        return None;
    };
    Some(chat::Part::ImageUrl {
        image_url: ImageUrl {
            url: url.clone(),
            detail: detail.clone(),
        },
    })
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
            None => serde_json::Value::Object(raw.clone()).to_string(),
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
