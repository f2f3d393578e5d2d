//! The context-overflow switch: a prompt larger than the requested model's input limit goes
//! to the catalog model with the largest limit that holds it, instead of failing upstream.
//!
//! The estimate is the o200k token count of the prompt's text (messages, system,
//! instructions, input, tools), not the count_tokens figure, which is inflated on purpose
//! for Claude Code's compaction. Every o200k token is at least one byte, so a prompt whose
//! text is no longer in bytes than the limit cannot overflow and is not tokenized at all.
//! Messages switch only within the vendor (a Claude conversation's thinking signatures mean
//! nothing to another vendor's model); when nothing fits, nothing is switched and Copilot's
//! own context error reaches the client.

use crate::routing::{self, Api};
use crate::upstream::catalog::Model;
use serde_json::{Map, Value};

/// Framing tokens per message or input item, as OpenAI counts them.
const PER_MESSAGE: u64 = 3;
/// An image, whatever its size (its bytes are not text).
const IMAGE_TOKENS: u64 = 1000;
/// The body fields that make up the prompt, in all three APIs.
const PROMPT_FIELDS: [&str; 5] = ["system", "instructions", "messages", "input", "tools"];
/// Fields that carry bytes or opaque state rather than text the model reads as tokens.
const OPAQUE_FIELDS: [&str; 5] = [
    "data",
    "signature",
    "encrypted_content",
    "reasoning_opaque",
    "file_data",
];

/// A decided switch: the prompt estimate, the limit it exceeds, and the model to use.
pub struct Switch {
    pub tokens: u64,
    pub limit: u64,
    pub to: Model,
}

/// The model to use instead of `model` when the prompt does not fit it, if one fits.
pub fn switch(
    api: Api,
    body: &Map<String, Value>,
    model: &Model,
    catalog: &[Model],
    native_messages: bool,
) -> Option<Switch> {
    let limit = model.max_input()?;
    let mut prompt = Prompt::default();
    for field in PROMPT_FIELDS {
        if let Some(v) = body.get(field) {
            prompt.collect(field, v);
        }
    }
    if prompt.upper_bound() <= limit {
        return None;
    }
    let tokens = prompt.tokens();
    if tokens <= limit {
        return None;
    }
    let to = best_fit(api, model, tokens, catalog, native_messages)?;
    Some(Switch {
        tokens,
        limit,
        to: to.clone(),
    })
}

/// The chat model with the largest input limit that holds `tokens` and that this API can
/// reach (the first in the catalog on a tie); on Messages, of `model`'s vendor only.
fn best_fit<'a>(
    api: Api,
    model: &Model,
    tokens: u64,
    catalog: &'a [Model],
    native_messages: bool,
) -> Option<&'a Model> {
    let mut best: Option<(u64, &Model)> = None;
    for m in catalog {
        let Some(limit) = m.max_input() else { continue };
        let eligible = m.kind == "chat"
            && m.id != model.id
            && limit >= tokens
            && (api != Api::Messages || m.vendor == model.vendor)
            && routing::decide(api, Some(m), native_messages).is_ok();
        if eligible && best.is_none_or(|(b, _)| limit > b) {
            best = Some((limit, m));
        }
    }
    best.map(|(_, m)| m)
}

/// The prompt's text pieces, with the fixed costs counted along the way.
#[derive(Default)]
struct Prompt<'a> {
    texts: Vec<&'a str>,
    fixed: u64,
}

impl<'a> Prompt<'a> {
    fn collect(&mut self, field: &str, v: &'a Value) {
        match (field, v) {
            ("messages" | "input", Value::Array(items)) => {
                self.fixed += PER_MESSAGE * items.len() as u64;
                items.iter().for_each(|item| self.walk(item));
            }
            // Tool schemas are read as JSON, keys included.
            ("tools", Value::Array(tools)) => {
                let json: u64 = tools.iter().map(|t| t.to_string().len() as u64).sum();
                self.fixed += json / 3;
            }
            _ => self.walk(v),
        }
    }

    fn walk(&mut self, v: &'a Value) {
        match v {
            Value::String(s) if s.starts_with("data:") => self.fixed += IMAGE_TOKENS,
            Value::String(s) => self.texts.push(s),
            Value::Array(items) => items.iter().for_each(|i| self.walk(i)),
            Value::Object(map) => {
                for (k, v) in map {
                    if OPAQUE_FIELDS.contains(&k.as_str()) {
                        if k == "data" {
                            self.fixed += IMAGE_TOKENS;
                        }
                    } else if k != "type" && k != "role" && k != "id" && k != "call_id" {
                        self.walk(v);
                    }
                }
            }
            _ => {}
        }
    }

    /// No o200k token is shorter than a byte.
    fn upper_bound(&self) -> u64 {
        self.fixed + self.texts.iter().map(|t| t.len() as u64).sum::<u64>()
    }

    fn tokens(&self) -> u64 {
        let bpe = tiktoken_rs::o200k_base_singleton();
        let text: u64 = self
            .texts
            .iter()
            .map(|t| bpe.encode_ordinary(t).len() as u64)
            .sum();
        self.fixed + text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn model(id: &str, vendor: &str, prompt: u64, endpoints: &[&str]) -> Model {
        Model::from_upstream(&json!({
            "id": id, "vendor": vendor, "supported_endpoints": endpoints,
            "capabilities": {"type": "chat", "limits": {"max_prompt_tokens": prompt}},
        }))
        .unwrap()
    }

    fn catalog() -> Vec<Model> {
        let chat = ["/chat/completions"];
        let claude = ["/chat/completions", "/v1/messages"];
        vec![
            model("tiny", "OpenAI", 50, &chat),
            model("tiny-claude", "Anthropic", 50, &claude),
            model("mid-claude", "Anthropic", 500, &claude),
            model("big", "Google", 5000, &chat),
            model("big-twin", "Google", 5000, &chat),
            model("responses-only", "OpenAI", 9000, &["/responses"]),
        ]
    }

    fn body(words: usize) -> Map<String, Value> {
        let text = "word ".repeat(words);
        json!({"messages": [{"role": "user", "content": text}]})
            .as_object()
            .unwrap()
            .clone()
    }

    fn pick(api: Api, from: &str, words: usize) -> Option<String> {
        let c = catalog();
        let m = c.iter().find(|m| m.id == from).unwrap();
        switch(api, &body(words), m, &c, true).map(|s| s.to.id)
    }

    #[test]
    fn under_the_limit_stays() {
        assert_eq!(pick(Api::Chat, "tiny", 10), None);
    }

    #[test]
    fn over_goes_to_the_largest_reachable_first_on_ties() {
        // Chat reaches the Responses-only model through translation: the largest.
        assert_eq!(
            pick(Api::Chat, "tiny", 200).as_deref(),
            Some("responses-only")
        );
        assert_eq!(
            pick(Api::Chat, "tiny", 6000).as_deref(),
            Some("responses-only")
        );
        assert_eq!(pick(Api::Chat, "tiny", 20_000), None);
    }

    #[test]
    fn messages_stay_with_the_vendor() {
        assert_eq!(
            pick(Api::Messages, "tiny-claude", 200).as_deref(),
            Some("mid-claude")
        );
        assert_eq!(pick(Api::Messages, "tiny-claude", 2000), None);
    }

    #[test]
    fn images_and_opaque_fields_are_not_text() {
        let b = json!({"messages": [{"role": "user", "content": [
            {"type": "image", "source": {"type": "base64", "data": "A".repeat(100_000)}},
            {"type": "thinking", "thinking": "hm", "signature": "S".repeat(100_000)}
        ]}]});
        let mut p = Prompt::default();
        p.collect("messages", &b["messages"]);
        assert!(p.upper_bound() < 1100, "{}", p.upper_bound());
    }
}
