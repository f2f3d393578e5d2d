//! One Anthropic message's content -> Chat Completions messages.
//!
//! A user message becomes its `tool` messages (one per `tool_result`, in order, since Chat
//! wants them right after the assistant turn) and then whatever else it carried. Images
//! stay images: an image returned by a tool, or sent beside tool results, goes into a user
//! message after the tool messages (a tool message can only hold text). An assistant
//! message becomes text, `tool_calls`, and Copilot's `reasoning_text`/`reasoning_opaque`
//! for its thinking, so signed reasoning goes back upstream intact.

use super::tool_names::ToolNames;
use serde_json::{Map, Value, json};

/// Tool results longer than this many characters are condensed (reference §2.7).
const COMPRESS_OVER: usize = 20_000;
const KEEP_HEAD: usize = 5_000;
const KEEP_MIDDLE: usize = 3_000;
const KEEP_TAIL: usize = 5_000;

pub(super) fn block_type(block: &Value) -> &str {
    block.get("type").and_then(Value::as_str).unwrap_or("")
}

fn str_field<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

pub(super) fn text_part(text: impl Into<String>) -> Value {
    json!({"type": "text", "text": text.into()})
}

pub(super) fn is_image_part(part: &Value) -> bool {
    block_type(part) == "image_url"
}

/// Appends a user message's translation: tool messages first, then the rest.
pub(super) fn user_messages(content: Option<&Value>, names: &ToolNames, out: &mut Vec<Value>) {
    let blocks = match content {
        Some(Value::String(s)) if !s.is_empty() => {
            out.push(json!({"role": "user", "content": s}));
            return;
        }
        Some(Value::Array(blocks)) => blocks,
        _ => return,
    };
    let mut tools: Vec<Value> = Vec::new();
    let mut rest: Vec<Value> = Vec::new();
    for block in blocks {
        if block_type(block) != "tool_result" {
            rest.extend(block_part(block));
            continue;
        }
        let id = str_field(block, "tool_use_id").unwrap_or("");
        let (text, images) = tool_result(block, names);
        if !images.is_empty() {
            rest.push(text_part(format!("[Images returned by tool call {id}]")));
            rest.extend(images);
        }
        tools.push(json!({"role": "tool", "tool_call_id": id, "content": text}));
    }
    let has_image = rest.iter().any(is_image_part);
    match tools.last_mut() {
        // Text beside tool results (Claude Code's `<system-reminder>`s) joins the last tool
        // message: some models (Gemini) answer nothing when a user message sits between
        // the tool results and their turn.
        Some(last) if !has_image && !rest.is_empty() => {
            let extra = join_texts(&rest);
            let before = last["content"].as_str().unwrap_or("");
            last["content"] = Value::from(join_nonempty([before, extra.as_str()]));
            out.append(&mut tools);
        }
        _ => {
            out.append(&mut tools);
            if has_image {
                out.push(json!({"role": "user", "content": rest}));
            } else if !rest.is_empty() {
                out.push(json!({"role": "user", "content": join_texts(&rest)}));
            }
        }
    }
}

/// A tool result's text (condensed when huge, marked when an error) and its images.
fn tool_result(block: &Value, names: &ToolNames) -> (String, Vec<Value>) {
    let mut texts: Vec<String> = Vec::new();
    let mut images: Vec<Value> = Vec::new();
    match block.get("content") {
        Some(Value::String(s)) => texts.push(s.clone()),
        Some(Value::Array(items)) => {
            for item in items {
                match block_type(item) {
                    "image" => match image_part(item) {
                        part if is_image_part(&part) => images.push(part),
                        part => texts.extend(str_field(&part, "text").map(str::to_string)),
                    },
                    // Claude Code's ToolSearch answers with references to the tools it has
                    // just loaded; here every tool is always loaded, so say so by name.
                    "tool_reference" => texts.extend(
                        str_field(item, "tool_name")
                            .map(|n| format!("Tool `{}` is available.", names.to_upstream(n))),
                    ),
                    _ => texts.extend(block_text(item)),
                }
            }
        }
        // Missing or null content is an empty result, not an error (reference §10.8).
        _ => {}
    }
    let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
    let mut text = compress_tool_text(&join_nonempty(texts));
    if block.get("is_error").and_then(Value::as_bool) == Some(true) {
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
fn block_part(block: &Value) -> Option<Value> {
    if block_type(block) == "image" {
        return Some(image_part(block));
    }
    block_text(block).map(text_part)
}

/// An `image_url` part for base64 and URL sources; a text note for sources Chat cannot carry
/// (Anthropic Files API references).
fn image_part(block: &Value) -> Value {
    let source = block.get("source").unwrap_or(&Value::Null);
    match str_field(source, "type") {
        Some("url") => {
            let url = str_field(source, "url").unwrap_or("");
            json!({"type": "image_url", "image_url": {"url": url}})
        }
        Some("base64") | None if source.get("data").is_some() => {
            let media = str_field(source, "media_type").unwrap_or("image/png");
            let data = str_field(source, "data").unwrap_or("");
            let url = format!("data:{media};base64,{data}");
            json!({"type": "image_url", "image_url": {"url": url}})
        }
        _ => {
            let file = str_field(source, "file_id").unwrap_or("unknown");
            text_part(format!("[Image {file} is not available to this model]"))
        }
    }
}

/// The text a non-image block contributes (reference §2.6, with documents kept).
pub(super) fn block_text(block: &Value) -> Option<String> {
    let text = match block_type(block) {
        "text" => str_field(block, "text").unwrap_or("").to_string(),
        "document" => document_text(block),
        "server_tool_use" => format!("[Server tool use: {block}]"),
        "search_result" => format!(
            "[Search: {}]\nSource: {}\n{}",
            str_field(block, "title").unwrap_or(""),
            str_field(block, "source").unwrap_or(""),
            text_of(block.get("content"))
        ),
        "container_upload" => format!(
            "[Container upload: {}]",
            str_field(block, "file_id").unwrap_or("")
        ),
        "thinking" | "redacted_thinking" | "tool_use" | "image" => return None,
        other => match block.get("content") {
            // Server tool results and future block types that carry content.
            Some(content) => format!("[{other}: {content}]"),
            None => return None,
        },
    };
    (!text.is_empty()).then_some(text)
}

/// Documents keep their text: plain-text and content sources are inlined; PDFs (base64 or
/// URL) cannot be read through Chat Completions, which the model is told.
fn document_text(block: &Value) -> String {
    let source = block.get("source").unwrap_or(&Value::Null);
    let body = match str_field(source, "type") {
        Some("text") => str_field(source, "data").unwrap_or("").to_string(),
        Some("content") => text_of(source.get("content")),
        Some("url") => format!(
            "(document at {}; its content is not available to this model)",
            str_field(source, "url").unwrap_or("")
        ),
        _ => "(PDF content is not available to this model)".to_string(),
    };
    match str_field(block, "title") {
        Some(title) => format!("[Document: {title}]\n{body}"),
        None => format!("[Document]\n{body}"),
    }
}

/// A string, or the text of an array of text blocks.
fn text_of(content: Option<&Value>) -> String {
    match content {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(items)) => {
            join_nonempty(items.iter().map(|b| str_field(b, "text").unwrap_or("")))
        }
        _ => String::new(),
    }
}

/// The text of a system prompt or `role: "system"` message: a string, or its text blocks
/// joined (`cache_control` and other block kinds ignored).
pub(super) fn system_text(content: Option<&Value>) -> String {
    match content {
        Some(Value::Array(blocks)) => join_nonempty(
            blocks
                .iter()
                .filter(|b| block_type(b) == "text")
                .map(|b| str_field(b, "text").unwrap_or("")),
        ),
        other => text_of(other),
    }
}

/// An assistant message: text, tool calls and reasoning. `None` when it holds nothing.
pub(super) fn assistant_message(content: Option<&Value>, names: &ToolNames) -> Option<Value> {
    let blocks = match content {
        Some(Value::String(s)) if !s.is_empty() => {
            return Some(json!({"role": "assistant", "content": s}));
        }
        Some(Value::Array(blocks)) => blocks,
        _ => return None,
    };
    let mut texts: Vec<String> = Vec::new();
    let mut calls: Vec<Value> = Vec::new();
    let mut reasoning: Vec<&str> = Vec::new();
    let mut opaque: Option<&str> = None;
    for block in blocks {
        match block_type(block) {
            "tool_use" => calls.push(tool_call(block, names)),
            "thinking" => {
                reasoning.extend(str_field(block, "thinking").filter(|t| !t.is_empty()));
                let signature = str_field(block, "signature").filter(|s| !s.is_empty());
                opaque = opaque.or(signature);
            }
            "redacted_thinking" => {
                opaque = opaque.or(str_field(block, "data").filter(|s| !s.is_empty()));
            }
            _ => texts.extend(block_text(block)),
        }
    }
    if texts.is_empty() && calls.is_empty() && reasoning.is_empty() && opaque.is_none() {
        return None;
    }
    let mut m = Map::new();
    m.insert("role".into(), "assistant".into());
    let text = join_nonempty(texts.iter().map(String::as_str));
    let content = if text.is_empty() && !calls.is_empty() {
        Value::Null
    } else {
        Value::from(text)
    };
    m.insert("content".into(), content);
    if !calls.is_empty() {
        m.insert("tool_calls".into(), Value::Array(calls));
    }
    if !reasoning.is_empty() {
        m.insert("reasoning_text".into(), reasoning.join("\n\n").into());
    }
    if let Some(o) = opaque {
        m.insert("reasoning_opaque".into(), o.into());
    }
    Some(Value::Object(m))
}

fn tool_call(block: &Value, names: &ToolNames) -> Value {
    let arguments = match block.get("input") {
        None | Some(Value::Null) => "{}".to_string(),
        Some(Value::String(s)) => s.clone(),
        Some(input) => input.to_string(),
    };
    json!({
        "id": str_field(block, "id").unwrap_or(""),
        "type": "function",
        "function": {
            "name": names.to_upstream(str_field(block, "name").unwrap_or("")),
            "arguments": arguments,
        },
    })
}

fn join_texts(parts: &[Value]) -> String {
    join_nonempty(parts.iter().filter_map(|p| str_field(p, "text")))
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
mod tests {
    use super::*;

    fn user(content: Value) -> Vec<Value> {
        let mut out = Vec::new();
        user_messages(Some(&content), &ToolNames::default(), &mut out);
        out
    }

    const PNG: &str = "iVBORw0KGgo=";

    fn b64_image() -> Value {
        json!({"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}})
    }

    #[test]
    fn user_blocks_by_case() {
        let cases: Vec<(&str, Value, Value)> = vec![
            (
                "string",
                json!("hi"),
                json!([{"role": "user", "content": "hi"}]),
            ),
            ("empty array", json!([]), json!([])),
            (
                "text blocks join",
                json!([{"type": "text", "text": "a", "cache_control": {"type": "ephemeral"}}, {"type": "text", "text": "b"}]),
                json!([{"role": "user", "content": "a\n\nb"}]),
            ),
            (
                "base64 and url images",
                json!([{"type": "text", "text": "look"}, b64_image(),
                       {"type": "image", "source": {"type": "url", "url": "https://x/y.png"}}]),
                json!([{"role": "user", "content": [
                    {"type": "text", "text": "look"},
                    {"type": "image_url", "image_url": {"url": format!("data:image/png;base64,{PNG}")}},
                    {"type": "image_url", "image_url": {"url": "https://x/y.png"}}]}]),
            ),
            (
                "text document is inlined",
                json!([{"type": "document", "title": "notes", "source": {"type": "text", "media_type": "text/plain", "data": "line 1"}}]),
                json!([{"role": "user", "content": "[Document: notes]\nline 1"}]),
            ),
            (
                "tool result string, then text joins the tool message",
                json!([{"type": "tool_result", "tool_use_id": "t1", "content": "out"},
                       {"type": "text", "text": "<system-reminder>x</system-reminder>"}]),
                json!([{"role": "tool", "tool_call_id": "t1", "content": "out\n\n<system-reminder>x</system-reminder>"}]),
            ),
            (
                "tool result without content, with is_error",
                json!([{"type": "tool_result", "tool_use_id": "t1"},
                       {"type": "tool_result", "tool_use_id": "t2", "content": "boom", "is_error": true}]),
                json!([{"role": "tool", "tool_call_id": "t1", "content": ""},
                       {"role": "tool", "tool_call_id": "t2", "content": "Error: boom"}]),
            ),
            (
                "tool_reference blocks",
                json!([{"type": "tool_result", "tool_use_id": "t1", "content": [
                    {"type": "tool_reference", "tool_name": "WebFetch"}, {"type": "text", "text": "loaded"}]}]),
                json!([{"role": "tool", "tool_call_id": "t1", "content": "Tool `WebFetch` is available.\n\nloaded"}]),
            ),
            (
                "server tool result serialized",
                json!([{"type": "web_search_tool_result", "tool_use_id": "s", "content": [{"url": "u"}]}]),
                json!([{"role": "user", "content": "[web_search_tool_result: [{\"url\":\"u\"}]]"}]),
            ),
        ];
        for (name, input, want) in cases {
            assert_eq!(Value::Array(user(input)), want, "{name}");
        }
    }

    #[test]
    fn images_next_to_tool_results_stay_images() {
        // A screenshot returned by a tool, and an image pasted beside the results.
        let out = user(json!([
            {"type": "tool_result", "tool_use_id": "t1", "content": [{"type": "text", "text": "shot"}, b64_image()]},
            {"type": "tool_result", "tool_use_id": "t2", "content": "ok"},
            {"type": "text", "text": "and this one"},
            {"type": "image", "source": {"type": "url", "url": "https://x/z.png"}}
        ]));
        assert_eq!(out.len(), 3, "{out:#?}");
        assert_eq!(
            out[0],
            json!({"role": "tool", "tool_call_id": "t1", "content": "shot"})
        );
        assert_eq!(
            out[1],
            json!({"role": "tool", "tool_call_id": "t2", "content": "ok"})
        );
        let parts = out[2]["content"].as_array().unwrap();
        assert_eq!(out[2]["role"], "user");
        assert_eq!(parts.len(), 4);
        assert_eq!(parts[0]["text"], "[Images returned by tool call t1]");
        assert_eq!(
            parts[1]["image_url"]["url"],
            format!("data:image/png;base64,{PNG}")
        );
        assert_eq!(parts[2]["text"], "and this one");
        assert_eq!(parts[3]["image_url"]["url"], "https://x/z.png");
        // Nothing stringified into the tool text (reference §10.6).
        assert!(!out[1]["content"].as_str().unwrap().contains("base64"));
    }

    #[test]
    fn image_only_tool_result_says_where_the_image_is() {
        let out =
            user(json!([{"type": "tool_result", "tool_use_id": "t", "content": [b64_image()]}]));
        assert!(
            out[0]["content"]
                .as_str()
                .unwrap()
                .contains("follow in the next message")
        );
        assert!(is_image_part(&out[1]["content"][1]));
    }

    #[test]
    fn assistant_blocks_become_text_tool_calls_and_reasoning() {
        let names = ToolNames::from_names(["mcp__a.b__c"]);
        let m = assistant_message(
            Some(&json!([
                {"type": "thinking", "thinking": "let me see", "signature": "sig-1"},
                {"type": "text", "text": "Reading."},
                {"type": "tool_use", "id": "toolu_1", "name": "mcp__a.b__c", "input": {"path": "x"}},
                {"type": "tool_use", "id": "toolu_2", "name": "Bash"}
            ])),
            &names,
        )
        .unwrap();
        assert_eq!(
            m,
            json!({
                "role": "assistant", "content": "Reading.",
                "tool_calls": [
                    {"id": "toolu_1", "type": "function", "function": {"name": "mcp__a_b__c", "arguments": "{\"path\":\"x\"}"}},
                    {"id": "toolu_2", "type": "function", "function": {"name": "Bash", "arguments": "{}"}}
                ],
                "reasoning_text": "let me see", "reasoning_opaque": "sig-1"
            })
        );
    }

    #[test]
    fn assistant_reasoning_edge_cases() {
        let names = ToolNames::default();
        let a = |v: Value| assistant_message(Some(&v), &names);
        // Redacted thinking travels as the opaque token; text never absorbs thinking.
        assert_eq!(
            a(
                json!([{"type": "redacted_thinking", "data": "enc"}, {"type": "text", "text": "hi"}])
            ),
            Some(json!({"role": "assistant", "content": "hi", "reasoning_opaque": "enc"}))
        );
        // Thinking alone keeps its reasoning with empty content.
        assert_eq!(
            a(json!([{"type": "thinking", "thinking": "t", "signature": ""}])),
            Some(json!({"role": "assistant", "content": "", "reasoning_text": "t"}))
        );
        // Tool calls without text: content null.
        assert_eq!(
            a(json!([{"type": "tool_use", "id": "x", "name": "f", "input": {}}])).unwrap()["content"],
            Value::Null
        );
        assert_eq!(a(json!([])), None);
        assert_eq!(a(json!("")), None);
        assert_eq!(
            a(json!("plain")),
            Some(json!({"role": "assistant", "content": "plain"}))
        );
    }

    #[test]
    fn system_text_joins_text_blocks_only() {
        let blocks = json!([
            {"type": "text", "text": "a", "cache_control": {"type": "ephemeral"}},
            {"type": "image", "source": {}},
            {"type": "text", "text": ""},
            {"type": "text", "text": "b"}
        ]);
        assert_eq!(system_text(Some(&blocks)), "a\n\nb");
        assert_eq!(system_text(Some(&json!("s"))), "s");
        assert_eq!(system_text(Some(&json!([]))), "");
        assert_eq!(system_text(None), "");
    }

    #[test]
    fn compression_keeps_head_middle_and_tail() {
        let exact = "a".repeat(COMPRESS_OVER);
        assert_eq!(compress_tool_text(&exact), exact);

        // The reference's verified case: 27,014 characters, middle sample from 12,007.
        let mut text = String::new();
        for i in 0..27_014 {
            text.push(char::from(b'a' + (i % 26) as u8));
        }
        let out = compress_tool_text(&text);
        assert!(out.starts_with("[Tool result condensed by proxy: kept the first 5,000, middle 3,000, and last 5,000 characters out of 27,014 total; omitted 14,014 characters across 1 lines"), "{}", &out[..300]);
        let section = |name: &str| {
            let begin = format!("=== BEGIN TOOL RESULT {name} ===\n");
            let start = out.find(&begin).unwrap() + begin.len();
            let end = out
                .find(&format!("\n=== END TOOL RESULT {name} ==="))
                .unwrap();
            out[start..end].to_string()
        };
        assert!(section("HEAD") == text[..5_000]);
        assert!(section("MIDDLE SAMPLE") == text[12_007..15_007]);
        assert!(section("TAIL") == text[22_014..]);
        assert!(out.chars().count() < 14_000);

        // Multi-byte text is cut on character boundaries.
        let wide = "é\n".repeat(15_000);
        let out = compress_tool_text(&wide);
        assert!(out.contains("out of 30,000 total"), "{}", &out[..200]);
        assert!(out.contains("across 15,001 lines"));
    }

    #[test]
    fn huge_tool_results_are_condensed_even_beside_images() {
        let big = "x".repeat(25_000);
        let out = user(
            json!([{"type": "tool_result", "tool_use_id": "t", "content": [{"type": "text", "text": big}, b64_image()]}]),
        );
        assert!(
            out[0]["content"]
                .as_str()
                .unwrap()
                .starts_with("[Tool result condensed")
        );
        // User text is never condensed.
        let out = user(json!([{"type": "text", "text": big}]));
        assert_eq!(out[0]["content"].as_str().unwrap().len(), 25_000);
    }

    #[test]
    fn thousands_separators() {
        for (n, s) in [
            (0, "0"),
            (999, "999"),
            (1_000, "1,000"),
            (27_014, "27,014"),
            (1_234_567, "1,234,567"),
        ] {
            assert_eq!(thousands(n), s);
        }
    }
}
