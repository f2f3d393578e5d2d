//! One Anthropic message's content -> Chat Completions messages.
//!
//! A user message becomes its `tool` messages (one per `tool_result`, in order, since Chat
//! wants them right after the assistant turn) and then whatever else it carried. Images
//! stay images: an image returned by a tool, or sent beside tool results, goes into a user
//! message after the tool messages (a tool message can only hold text). An assistant
//! message becomes text, `tool_calls`, and Copilot's `reasoning_text`/`reasoning_opaque`
//! for its thinking, so signed reasoning goes back upstream intact.

use super::tool_names::ToolNames;
use crate::protocol::anthropic_request::{Block, Body, Flag, Source, TextItem, tool_result_body};
use crate::protocol::chat_request::{Content, Message, Part, Role, ToolCall};
use serde_json::Value;

/// Tool results longer than this many characters are condensed (reference §2.7).
const COMPRESS_OVER: usize = 20_000;
const KEEP_HEAD: usize = 5_000;
const KEEP_MIDDLE: usize = 3_000;
const KEEP_TAIL: usize = 5_000;

/// Appends a user message's translation: tool messages first, then the rest.
pub(super) fn user_messages(content: &Body<Block>, names: &ToolNames, out: &mut Vec<Message>) {
    let blocks = match content {
        Body::Text(s) if !s.is_empty() => {
            out.push(Message::text(Role::User, s.as_ref()));
            return;
        }
        Body::Items(blocks) => blocks,
        _ => return,
    };
    let mut tools: Vec<Message> = Vec::new();
    let mut rest: Vec<Part> = Vec::new();
    for block in blocks {
        let Block::ToolResult {
            tool_use_id,
            content,
            is_error,
        } = block
        else {
            rest.extend(block_part(block));
            continue;
        };
        let id = tool_use_id.get().unwrap_or("");
        let (text, images) = tool_result(content.as_ref(), *is_error, names);
        if !images.is_empty() {
            rest.push(Part::text(format!("[Images returned by tool call {id}]")));
            rest.extend(images);
        }
        tools.push(Message::tool_result(id, text));
    }
    let has_image = rest.iter().any(Part::is_image);
    match tools.last_mut() {
        // Text beside tool results (Claude Code's `<system-reminder>`s) joins the last tool
        // message: some models (Gemini) answer nothing when a user message sits between
        // the tool results and their turn.
        Some(last) if !has_image && !rest.is_empty() => {
            let extra = join_texts(&rest);
            let before = last
                .content
                .as_ref()
                .and_then(Content::as_text)
                .unwrap_or("");
            last.content = Some(Content::Text(join_nonempty([before, extra.as_str()])));
            out.append(&mut tools);
        }
        _ => {
            out.append(&mut tools);
            if has_image {
                out.push(Message::new(Role::User, Content::Parts(rest)));
            } else if !rest.is_empty() {
                out.push(Message::text(Role::User, join_texts(&rest)));
            }
        }
    }
}

/// A tool result's text (condensed when huge, marked when an error) and its images.
fn tool_result(content: Option<&Value>, is_error: Flag, names: &ToolNames) -> (String, Vec<Part>) {
    let mut texts: Vec<String> = Vec::new();
    let mut images: Vec<Part> = Vec::new();
    match tool_result_body(content) {
        Body::Text(s) => texts.push(s.into_owned()),
        Body::Items(items) => {
            for item in &items {
                match item {
                    Block::Image { source } => match image_part(&source.0) {
                        part if part.is_image() => images.push(part),
                        part => texts.extend(part.as_text().map(str::to_string)),
                    },
                    // Claude Code's ToolSearch answers with references to the tools it has
                    // just loaded; here every tool is always loaded, so say so by name.
                    Block::ToolReference { tool_name } => texts.extend(
                        tool_name
                            .get()
                            .map(|n| format!("Tool `{}` is available.", names.to_upstream(n))),
                    ),
                    _ => texts.extend(block_text(item)),
                }
            }
        }
        // Missing or null content is an empty result, not an error (reference §10.8).
        Body::Absent => {}
    }
    let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
    let mut text = compress_tool_text(&join_nonempty(texts));
    if is_error.0 == Some(true) {
        text = if text.is_empty() {
            "Error".into()
        } else {
            format!("Error: {text}")
        };
    }
    if text.is_empty() && !images.is_empty() {
        text = "[The tool returned images; they follow in the next message.]".into();
    }
    (text, images)
}

/// A user block as a Chat content part, or nothing for blocks with no content to show.
fn block_part(block: &Block) -> Option<Part> {
    if let Block::Image { source } = block {
        return Some(image_part(&source.0));
    }
    block_text(block).map(Part::text)
}

/// An `image_url` part for base64 and URL sources; a text note for sources Chat cannot carry
/// (Anthropic Files API references).
fn image_part(source: &Source) -> Part {
    match source.kind.get() {
        Some("url") => Part::image(source.url.get().unwrap_or("")),
        Some("base64") | None if source.data.is_some() => {
            let media = source.media_type.get().unwrap_or("image/png");
            let data = source.data.as_ref().and_then(|d| d.get()).unwrap_or("");
            Part::image(format!("data:{media};base64,{data}"))
        }
        _ => {
            let file = source.file_id.get().unwrap_or("unknown");
            Part::text(format!("[Image {file} is not available to this model]"))
        }
    }
}

/// The text a non-image block contributes (reference §2.6, with documents kept).
pub(super) fn block_text(block: &Block) -> Option<String> {
    let text = match block {
        Block::Text { text } => text.get().unwrap_or("").to_string(),
        Block::Document { title, source } => document_text(title.get(), &source.0),
        Block::ServerToolUse { fields } => {
            format!("[Server tool use: {}]", Block::server_tool_use_json(fields))
        }
        Block::SearchResult {
            title,
            source,
            content,
        } => format!(
            "[Search: {}]\nSource: {}\n{}",
            title.get().unwrap_or(""),
            source.get().unwrap_or(""),
            text_of(content)
        ),
        Block::ContainerUpload { file_id } => {
            format!("[Container upload: {}]", file_id.get().unwrap_or(""))
        }
        Block::Thinking { .. }
        | Block::RedactedThinking { .. }
        | Block::ToolUse { .. }
        | Block::Image { .. }
        | Block::ToolReference { .. } => return None,
        // A tool result where none belongs (an assistant turn, a nested result).
        Block::ToolResult { content, .. } => match content {
            Some(content) => format!("[tool_result: {content}]"),
            None => return None,
        },
        // Server tool results and future block types that carry content.
        Block::Other(unknown) => match &unknown.0.content {
            Some(content) => format!("[{}: {content}]", unknown.0.kind.get().unwrap_or("")),
            None => return None,
        },
    };
    (!text.is_empty()).then_some(text)
}

/// Documents keep their text: plain-text and content sources are inlined; PDFs (base64 or
/// URL) cannot be read through Chat Completions, which the model is told.
fn document_text(title: Option<&str>, source: &Source) -> String {
    let body = match source.kind.get() {
        Some("text") => source
            .data
            .as_ref()
            .and_then(|d| d.get())
            .unwrap_or("")
            .to_string(),
        Some("content") => text_of(&source.content),
        Some("url") => format!(
            "(document at {}; its content is not available to this model)",
            source.url.get().unwrap_or("")
        ),
        _ => "(PDF content is not available to this model)".to_string(),
    };
    match title {
        Some(title) => format!("[Document: {title}]\n{body}"),
        None => format!("[Document]\n{body}"),
    }
}

/// A string, or the text of a list of text items.
fn text_of(content: &Body<TextItem>) -> String {
    match content {
        Body::Text(s) => s.to_string(),
        Body::Items(items) => join_nonempty(items.iter().map(|b| b.text.get().unwrap_or(""))),
        Body::Absent => String::new(),
    }
}

/// The text of a system prompt or `role: "system"` message: a string, or its text blocks
/// joined (`cache_control` and other block kinds ignored).
pub(super) fn system_text(content: &Body<Block>) -> String {
    match content {
        Body::Items(blocks) => join_nonempty(blocks.iter().filter_map(|b| match b {
            Block::Text { text } => Some(text.get().unwrap_or("")),
            _ => None,
        })),
        Body::Text(s) => s.to_string(),
        Body::Absent => String::new(),
    }
}

/// An assistant message: text, tool calls and reasoning. `None` when it holds nothing.
pub(super) fn assistant_message(content: &Body<Block>, names: &ToolNames) -> Option<Message> {
    let blocks = match content {
        Body::Text(s) if !s.is_empty() => {
            return Some(Message::text(Role::Assistant, s.as_ref()));
        }
        Body::Items(blocks) => blocks,
        _ => return None,
    };
    let mut texts: Vec<String> = Vec::new();
    let mut calls: Vec<ToolCall> = Vec::new();
    let mut reasoning: Vec<&str> = Vec::new();
    let mut opaque: Option<&str> = None;
    for block in blocks {
        match block {
            Block::ToolUse { id, name, input } => calls.push(ToolCall::function(
                id.get().unwrap_or(""),
                names.to_upstream(name.get().unwrap_or("")),
                arguments(input.as_ref()),
            )),
            Block::Thinking {
                thinking,
                signature,
            } => {
                reasoning.extend(thinking.nonempty());
                opaque = opaque.or(signature.nonempty());
            }
            Block::RedactedThinking { data } => opaque = opaque.or(data.nonempty()),
            _ => texts.extend(block_text(block)),
        }
    }
    if texts.is_empty() && calls.is_empty() && reasoning.is_empty() && opaque.is_none() {
        return None;
    }
    let text = join_nonempty(texts.iter().map(String::as_str));
    let content = if text.is_empty() && !calls.is_empty() {
        Content::Null
    } else {
        Content::Text(text)
    };
    Some(Message {
        tool_calls: (!calls.is_empty()).then_some(calls),
        reasoning_text: (!reasoning.is_empty()).then(|| reasoning.join("\n\n")),
        reasoning_opaque: opaque.map(str::to_string),
        ..Message::new(Role::Assistant, content)
    })
}

/// A tool call's input as the JSON text Chat carries; a missing input is `{}`.
fn arguments(input: Option<&Value>) -> String {
    match input {
        None | Some(Value::Null) => "{}".to_string(),
        Some(Value::String(s)) => s.clone(),
        Some(input) => input.to_string(),
    }
}

fn join_texts(parts: &[Part]) -> String {
    join_nonempty(parts.iter().filter_map(Part::as_text))
}

pub(super) fn join_nonempty<'a>(texts: impl IntoIterator<Item = &'a str>) -> String {
    let mut out = String::new();
    for t in texts.into_iter().filter(|t| !t.is_empty()) {
        if !out.is_empty() {
            out.push_str("\n\n");
        }
        out.push_str(t);
    }
    out
}

/// Condenses a huge tool result to its head, a middle sample and its tail (reference §2.7),
/// counting characters rather than UTF-16 units so no character is ever split.
pub(super) fn compress_tool_text(text: &str) -> String {
    let len = text.chars().count();
    if len <= COMPRESS_OVER {
        return text.to_string();
    }
    let at = |chars: usize| {
        text.char_indices()
            .nth(chars)
            .map_or(text.len(), |(b, _)| b)
    };
    let head = text[..at(KEEP_HEAD)].trim_end();
    let middle_start = KEEP_HEAD.max((len - KEEP_MIDDLE) / 2);
    let middle = text[at(middle_start)..at(middle_start + KEEP_MIDDLE)].trim();
    let tail = text[at(len - KEEP_TAIL)..].trim_start();
    let omitted = len - KEEP_HEAD - KEEP_MIDDLE - KEEP_TAIL;
    let lines = text.split('\n').count();
    [
        format!(
            "[Tool result condensed by proxy: kept the first {}, middle {}, and last {} characters out of {} total; omitted {} characters across {} lines to avoid prompt overflow while preserving the latest tool findings.]",
            thousands(KEEP_HEAD),
            thousands(KEEP_MIDDLE),
            thousands(KEEP_TAIL),
            thousands(len),
            thousands(omitted),
            thousands(lines)
        ),
        "[If you need to stay within context, compact older conversation state before discarding this fresh tool result. If more detail is required, ask for a focused rerun or narrower command output.]".into(),
        String::new(),
        "=== BEGIN TOOL RESULT HEAD ===".into(),
        head.into(),
        "=== END TOOL RESULT HEAD ===".into(),
        String::new(),
        "=== BEGIN TOOL RESULT MIDDLE SAMPLE ===".into(),
        middle.into(),
        "=== END TOOL RESULT MIDDLE SAMPLE ===".into(),
        String::new(),
        "=== BEGIN TOOL RESULT TAIL ===".into(),
        tail.into(),
        "=== END TOOL RESULT TAIL ===".into(),
    ]
    .join("\n")
}

/// `27014` -> `27,014`, as the reference's en-US `toLocaleString()`.
pub(crate) fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests;
