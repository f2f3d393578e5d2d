//! `POST /v1/messages/count_tokens`: a local count with the o200k tokenizer, tuned to err
//! on the high side (Claude Code compacts on it; an undercount ends in a context-window
//! error instead). The tokenizer loads on the first count (~200 ms, +44 MiB), never at start.

use crate::app::App;
use crate::http::ApiError;
use crate::http::{Incoming, Outgoing};
use crate::routes::fields;
use serde_json::{Value, json};

/// Anthropic's estimate for an image of unknown size (about 1.15 megapixels / 750).
const IMAGE_TOKENS: u64 = 1600;
/// Tokens Anthropic adds for the tool-use preamble when any tool is given.
const TOOLS_PREAMBLE: u64 = 346;
/// Per-message framing, as OpenAI counts it.
const PER_MESSAGE: u64 = 3;

pub fn count(app: &App, rq: &Incoming) -> Result<Outgoing, ApiError> {
    let body = rq.json_object()?;
    let requested = fields::model(&body)?;
    if !body.get("messages").is_some_and(Value::is_array) {
        return Err(ApiError::BadRequest("`messages` must be an array".into()));
    }
    super::shapes::anthropic(&body)?;
    let model = app.find_model(&requested).map_or(requested, |m| m.id);
    let body = Value::Object(body);
    let mut counter = Counter::default();
    counter.system(body.get("system"));
    for message in body["messages"].as_array().into_iter().flatten() {
        counter.tokens += PER_MESSAGE;
        counter.content(message.get("content"));
    }
    let tools = body
        .get("tools")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    for tool in tools {
        counter.text(&tool.to_string());
    }
    let mut total = counter.tokens + PER_MESSAGE;
    if model.starts_with("claude") {
        if !tools.is_empty() {
            total += TOOLS_PREAMBLE;
        }
        // Claude's tokenizer yields more tokens than o200k for the same text.
        total = total * 6 / 5;
    }
    let mut out = Outgoing::json(200, &json!({"input_tokens": total}));
    out.model = Some(model);
    Ok(out)
}

#[derive(Default)]
struct Counter {
    tokens: u64,
}

impl Counter {
    fn text(&mut self, text: &str) {
        if !text.is_empty() {
            self.tokens += tiktoken_rs::o200k_base_singleton()
                .encode_ordinary(text)
                .len() as u64;
        }
    }

    fn system(&mut self, system: Option<&Value>) {
        match system {
            Some(Value::String(s)) => self.text(s),
            Some(v @ Value::Array(_)) => self.content(Some(v)),
            _ => {}
        }
    }

    /// A message's content: a string, or blocks of any kind.
    fn content(&mut self, content: Option<&Value>) {
        let blocks = match content {
            Some(Value::String(s)) => return self.text(s),
            Some(Value::Array(blocks)) => blocks,
            _ => return,
        };
        for block in blocks {
            match block.get("type").and_then(Value::as_str).unwrap_or("") {
                "text" => self.text(block.get("text").and_then(Value::as_str).unwrap_or("")),
                "thinking" => {
                    self.text(block.get("thinking").and_then(Value::as_str).unwrap_or(""))
                }
                "image" => self.tokens += image_tokens(block),
                "document" => self.tokens += document_tokens(block),
                "tool_use" => {
                    self.text(block.get("name").and_then(Value::as_str).unwrap_or(""));
                    self.text(&block.get("input").map(Value::to_string).unwrap_or_default());
                }
                "tool_result" => self.content(block.get("content")),
                // redacted thinking, tool references and unknown blocks: their JSON.
                _ => self.text(&block.to_string()),
            }
        }
    }
}

/// Base64 images cost more when large (about one token per 120 bytes of base64 past the
/// fixed estimate); URL images count the fixed estimate.
fn image_tokens(block: &Value) -> u64 {
    let data = block
        .pointer("/source/data")
        .and_then(Value::as_str)
        .map_or(0, str::len) as u64;
    IMAGE_TOKENS.max(data.div_ceil(120))
}

fn document_tokens(block: &Value) -> u64 {
    let source = block.get("source");
    let data = source
        .and_then(|s| s.get("data"))
        .and_then(Value::as_str)
        .map_or(0, str::len) as u64;
    match source.and_then(|s| s.get("type")).and_then(Value::as_str) {
        Some("text") => data.div_ceil(4).max(1),
        Some("base64")
            if source.and_then(|s| s.get("media_type")) == Some(&json!("application/pdf")) =>
        {
            data.div_ceil(80).max(2500)
        }
        Some("base64") => data.div_ceil(4).max(1),
        _ => 2500,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_of_every_kind_are_counted() {
        let mut c = Counter::default();
        c.content(Some(&json!([
            {"type": "text", "text": "Hello, world!"},
            {"type": "image", "source": {"type": "url", "url": "https://x/y.png"}},
            {"type": "tool_result", "tool_use_id": "t", "content": [{"type": "text", "text": "Hello, world!"}]},
        ])));
        // "Hello, world!" is 4 o200k tokens.
        assert_eq!(c.tokens, 4 + IMAGE_TOKENS + 4);
        assert_eq!(
            image_tokens(&json!({"source": {"data": "a".repeat(1_200_000)}})),
            10_000
        );
        assert_eq!(document_tokens(&json!({"source": {"type": "url"}})), 2500);
    }
}
