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

use crate::http::{StrictCheck, StrictKeys};
use crate::protocol::lenient::Key;
use crate::routing::{self, Api};
use crate::upstream::catalog::Model;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use std::fmt;

/// Framing tokens per message or input item, as OpenAI counts them.
const PER_MESSAGE: u64 = 3;
/// An image, whatever its size (its bytes are not text).
const IMAGE_TOKENS: u64 = 1000;
/// The body fields that make up the prompt, in all three APIs.
pub const PROMPT_FIELDS: [&str; 5] = ["system", "instructions", "messages", "input", "tools"];
/// Fields that carry bytes or opaque state rather than text the model reads as tokens.
const OPAQUE_FIELDS: [&str; 5] = [
    "data",
    "signature",
    "encrypted_content",
    "reasoning_opaque",
    "file_data",
];
/// Keys whose values are labels, not text the model reads.
const LABEL_FIELDS: [&str; 4] = ["type", "role", "id", "call_id"];

/// A decided switch: the prompt estimate, the limit it exceeds, and the model to use.
pub struct Switch {
    pub tokens: u64,
    pub limit: u64,
    pub to: Model,
}

/// One piece of a prompt: text the model reads, or a fixed cost counted without text.
pub enum Piece<'s> {
    Text(&'s str),
    Fixed(u64),
}

/// A prompt's pieces, in any order, each once per call: a body held as a tree
/// (`TreePrompt`) or as bytes (`RawPrompt`, the Chat pass-through).
pub trait Prompt {
    fn pieces(&self, each: &mut dyn FnMut(Piece<'_>));

    /// The prompt's text in bytes plus its fixed costs: no o200k token is shorter than a
    /// byte, so a prompt whose bound fits is not tokenized. A reader that already walked
    /// the prompt may answer from what it found.
    fn upper_bound(&self) -> u64 {
        let mut bound = 0;
        self.pieces(&mut |p| match p {
            Piece::Text(t) => bound += t.len() as u64,
            Piece::Fixed(n) => bound += n,
        });
        bound
    }
}

/// The model to use instead of `model` when the prompt does not fit it, if one fits.
pub fn switch(
    api: Api,
    prompt: &dyn Prompt,
    model: &Model,
    catalog: &[Model],
    native_messages: bool,
) -> Option<Switch> {
    let limit = model.max_input()?;
    if prompt.upper_bound() <= limit {
        return None;
    }
    let bpe = tiktoken_rs::o200k_base_singleton();
    let mut tokens = 0;
    prompt.pieces(&mut |p| match p {
        Piece::Text(t) => tokens += bpe.encode_ordinary(t).len() as u64,
        Piece::Fixed(n) => tokens += n,
    });
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

/// The prompt of a body held as a tree (Messages, Responses).
pub struct TreePrompt<'a>(pub &'a Map<String, Value>);

impl Prompt for TreePrompt<'_> {
    fn pieces(&self, each: &mut dyn FnMut(Piece<'_>)) {
        for field in PROMPT_FIELDS {
            match (field, self.0.get(field)) {
                (_, None) => {}
                ("messages" | "input", Some(Value::Array(items))) => {
                    each(Piece::Fixed(PER_MESSAGE * items.len() as u64));
                    items.iter().for_each(|item| walk_tree(item, each));
                }
                // Tool schemas are read as JSON, keys included.
                ("tools", Some(Value::Array(tools))) => {
                    let json: u64 = tools.iter().map(|t| t.to_string().len() as u64).sum();
                    each(Piece::Fixed(json / 3));
                }
                (_, Some(v)) => walk_tree(v, each),
            }
        }
    }
}

fn walk_tree(v: &Value, each: &mut dyn FnMut(Piece<'_>)) {
    match v {
        Value::String(s) => each(text(s)),
        Value::Array(items) => items.iter().for_each(|i| walk_tree(i, each)),
        Value::Object(map) => {
            for (k, v) in map {
                if k == "data" {
                    each(Piece::Fixed(IMAGE_TOKENS));
                } else if !OPAQUE_FIELDS.contains(&k.as_str())
                    && !LABEL_FIELDS.contains(&k.as_str())
                {
                    walk_tree(v, each);
                }
            }
        }
        _ => {}
    }
}

/// A string's piece: a data URL is an image, anything else text.
fn text(s: &str) -> Piece<'_> {
    match s.starts_with("data:") {
        true => Piece::Fixed(IMAGE_TOKENS),
        false => Piece::Text(s),
    }
}

/// The prompt of a body held as bytes: the same pieces as `TreePrompt` would find in the
/// same body, read in one pass over each prompt field without building a tree. `fields`
/// are the body's members named in `PROMPT_FIELDS`.
pub struct RawPrompt<'a> {
    pub fields: Vec<(&'static str, &'a RawValue)>,
}

impl RawPrompt<'_> {
    /// Walks every field, checking it as strictly as `http::strict_json` checks a body
    /// (duplicate keys, numbers out of range, anywhere inside), with `each` told the
    /// pieces. The Chat route walks its body's prompt this way once, for both.
    pub fn checked_pieces(&self, each: &mut dyn FnMut(Piece<'_>)) -> Result<(), serde_json::Error> {
        for (field, raw) in &self.fields {
            let at = match *field {
                "messages" | "input" => At::Items,
                "tools" => At::Tools,
                _ => At::Inside,
            };
            let mut de = serde_json::Deserializer::from_str(raw.get());
            Walk { each, at }.deserialize(&mut de)?;
            de.end()?;
        }
        Ok(())
    }
}

impl Prompt for RawPrompt<'_> {
    fn pieces(&self, each: &mut dyn FnMut(Piece<'_>)) {
        // Checked when the route first walked it: this walk does not fail.
        let _ = self.checked_pieces(each);
    }
}

/// Where a walk stands: at a prompt field (whose array means items or tools) or inside.
#[derive(Clone, Copy, PartialEq)]
enum At {
    Items,
    Tools,
    Inside,
}

/// Walks one value, reporting its pieces (the rule of `TreePrompt`).
struct Walk<'e> {
    each: &'e mut dyn FnMut(Piece<'_>),
    at: At,
}

impl Walk<'_> {
    fn inside(&mut self) -> Walk<'_> {
        Walk {
            each: &mut *self.each,
            at: At::Inside,
        }
    }
}

impl<'de> DeserializeSeed<'de> for Walk<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Walk<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E: de::Error>(self, n: f64) -> Result<(), E> {
        finite(n).map(|_| ())
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_str<E>(self, s: &str) -> Result<(), E> {
        (self.each)(text(s));
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<(), A::Error> {
        match self.at {
            At::Items => {
                let mut items = 0;
                while seq.next_element_seed(self.inside())?.is_some() {
                    items += 1;
                }
                (self.each)(Piece::Fixed(PER_MESSAGE * items));
            }
            // Tool schemas are read as JSON, keys included: the length a tree would
            // have serialized to.
            At::Tools => {
                let mut json = 0;
                while let Some(len) = seq.next_element_seed(Compact)? {
                    json += len;
                }
                (self.each)(Piece::Fixed(json / 3));
            }
            At::Inside => while seq.next_element_seed(self.inside())?.is_some() {},
        }
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<(), A::Error> {
        let mut keys = StrictKeys::default();
        while let Some(Key(k)) = map.next_key()? {
            if k == "data" {
                (self.each)(Piece::Fixed(IMAGE_TOKENS));
            }
            if OPAQUE_FIELDS.contains(&k.as_ref()) || LABEL_FIELDS.contains(&k.as_ref()) {
                map.next_value_seed(StrictCheck)?;
            } else {
                map.next_value_seed(self.inside())?;
            }
            keys.insert(k)?;
        }
        Ok(())
    }
}

/// A number a tree can hold (the error `http::strict_json` gives for one it cannot).
fn finite<E: de::Error>(n: f64) -> Result<f64, E> {
    match n.is_finite() {
        true => Ok(n),
        false => Err(E::custom("number out of range")),
    }
}

/// The length of a value serialized compactly (`Value::to_string`), counted from its bytes.
struct Compact;

/// Counts the bytes serde_json writes for one scalar.
fn written<T: serde::Serialize + ?Sized>(v: &T) -> u64 {
    struct Count(u64);
    impl std::io::Write for Count {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0 += b.len() as u64;
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    let _ = serde_json::to_writer(&mut count, v);
    count.0
}

impl<'de> DeserializeSeed<'de> for Compact {
    type Value = u64;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<u64, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Compact {
    type Value = u64;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, b: bool) -> Result<u64, E> {
        Ok(if b { 4 } else { 5 })
    }

    fn visit_i64<E>(self, n: i64) -> Result<u64, E> {
        Ok(written(&n))
    }

    fn visit_u64<E>(self, n: u64) -> Result<u64, E> {
        Ok(written(&n))
    }

    fn visit_f64<E: de::Error>(self, n: f64) -> Result<u64, E> {
        finite(n).map(|n| written(&n))
    }

    fn visit_unit<E>(self) -> Result<u64, E> {
        Ok(4)
    }

    fn visit_str<E>(self, s: &str) -> Result<u64, E> {
        Ok(written(s))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<u64, A::Error> {
        let (mut len, mut n) = (2, 0);
        while let Some(item) = seq.next_element_seed(Compact)? {
            len += item;
            n += 1;
        }
        Ok(len + n.max(1) - 1)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<u64, A::Error> {
        let (mut len, mut n) = (2, 0);
        let mut keys = StrictKeys::default();
        while let Some(Key(k)) = map.next_key()? {
            len += written(k.as_ref()) + 1 + map.next_value_seed(Compact)?;
            n += 1;
            keys.insert(k)?;
        }
        Ok(len + n.max(1) - 1)
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
        switch(api, &TreePrompt(&body(words)), m, &c, true).map(|s| s.to.id)
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

    /// The texts in order and the sum of the fixed costs.
    fn pieces(p: &dyn Prompt) -> (Vec<String>, u64) {
        let (mut texts, mut fixed) = (Vec::new(), 0);
        p.pieces(&mut |piece| match piece {
            Piece::Text(t) => texts.push(t.to_string()),
            Piece::Fixed(n) => fixed += n,
        });
        (texts, fixed)
    }

    #[test]
    fn images_and_opaque_fields_are_not_text() {
        let b = json!({"messages": [{"role": "user", "content": [
            {"type": "image", "source": {"type": "base64", "data": "A".repeat(100_000)}},
            {"type": "thinking", "thinking": "hm", "signature": "S".repeat(100_000)}
        ]}]});
        let (texts, fixed) = pieces(&TreePrompt(b.as_object().unwrap()));
        assert_eq!((texts, fixed), (vec!["hm".to_string()], 1003));
    }

    #[test]
    fn bytes_and_tree_make_the_same_prompt() {
        let text = r#"{"model": "m", "system": ["s\u00e9", {"id": "x", "text": "sys"}],
            "messages": [{"role": "user", "name": "n", "content": [{"type": "text", "text": "a\nb"},
              {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAA"}}]},
              {"role": "assistant", "content": null, "tool_calls": [{"id": "c", "call_id": "d",
               "function": {"name": "f", "arguments": "{\"x\": 1}"}}], "data": 5}],
            "tools": [{"type": "function", "function": {"name": "f\"q", "description": "caf\u00e9\u0001",
               "parameters": {"type": "object", "properties": {}, "enum": [1, -2, 2.50, 1e3, true, null, []]}}}],
            "instructions": 7, "input": "plain"}"#;
        let tree: Map<String, Value> = serde_json::from_str(text).unwrap();
        let raw: std::collections::BTreeMap<String, Box<RawValue>> =
            serde_json::from_str(text).unwrap();
        let fields = PROMPT_FIELDS
            .iter()
            .filter_map(|f| raw.get(*f).map(|r| (*f, &**r)))
            .collect();
        let (mut a, fa) = pieces(&TreePrompt(&tree));
        let (mut b, fb) = pieces(&RawPrompt { fields });
        // A tree walks an object's keys sorted, the bytes in their order.
        a.sort();
        b.sort();
        assert_eq!((a, fa), (b, fb));
        assert!(fa > 2000, "two images and the tools: {fa}");
    }
}
