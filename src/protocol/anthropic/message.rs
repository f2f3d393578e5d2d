//! An Anthropic `message` and its content blocks, typed: the answer of a translated
//! completion, the envelope `message_start` opens, and (read leniently) a native answer
//! the web-search loop edits. Strings are borrowed where the stream translator builds a
//! block from its state, owned where an answer outlives what it was read from.

use super::super::chat_chunk::{Lenient, U64};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};
use std::borrow::Cow;

/// A message. Its keys are written in sorted order (the bytes of the `Value` trees this
/// type replaced), with the fields the proxy does not read (`rest`, only ever set from a
/// native answer) in their sorted places among them.
pub struct Message<'a> {
    pub content: Vec<Block<'a>>,
    pub id: Cow<'a, str>,
    pub model: Cow<'a, str>,
    pub stop_reason: Option<Cow<'a, str>>,
    pub stop_sequence: Option<Cow<'a, str>>,
    pub usage: Usage,
    /// A native answer's other fields, passed on as they came.
    pub rest: Map<String, Value>,
}

/// The keys of `Message` itself, sorted.
const KEYS: [&str; 8] = [
    "content",
    "id",
    "model",
    "role",
    "stop_reason",
    "stop_sequence",
    "type",
    "usage",
];

impl<'a> Message<'a> {
    /// An assistant message with no content yet.
    pub fn new(id: impl Into<Cow<'a, str>>, model: impl Into<Cow<'a, str>>, usage: Usage) -> Self {
        Message {
            content: Vec::new(),
            id: id.into(),
            model: model.into(),
            stop_reason: None,
            stop_sequence: None,
            usage,
            rest: Map::new(),
        }
    }
}

impl Message<'static> {
    /// A native (`/v1/messages`) answer, read leniently: its blocks kept as they came
    /// (`Block::Other`; a `content` that is no array holds none), the usage counts it has
    /// (none when `usage` is no object), every other field in `rest`. `Err` only for
    /// a body that is no JSON object.
    pub fn from_native(body: &[u8]) -> Result<Message<'static>, serde_json::Error> {
        #[derive(Deserialize)]
        struct Native {
            #[serde(default)]
            content: Value,
            #[serde(default, deserialize_with = "string")]
            id: Option<String>,
            #[serde(default, deserialize_with = "string")]
            model: Option<String>,
            #[serde(default, deserialize_with = "string")]
            stop_reason: Option<String>,
            #[serde(default, deserialize_with = "string")]
            stop_sequence: Option<String>,
            #[serde(default)]
            usage: Lenient<Usage>,
            #[serde(flatten)]
            rest: Map<String, Value>,
        }
        let mut n: Native = serde_json::from_slice(body)?;
        // `role` and `type` are constants of a message; written back as such.
        n.rest.remove("role");
        n.rest.remove("type");
        Ok(Message {
            content: match n.content {
                Value::Array(blocks) => blocks.into_iter().map(Block::Other).collect(),
                _ => Vec::new(),
            },
            id: n.id.unwrap_or_default().into(),
            model: n.model.unwrap_or_default().into(),
            stop_reason: n.stop_reason.map(Cow::Owned),
            stop_sequence: n.stop_sequence.map(Cow::Owned),
            usage: n.usage.0,
            rest: n.rest,
        })
    }
}

impl Serialize for Message<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut keys: Vec<&str> = KEYS.to_vec();
        if !self.rest.is_empty() {
            keys.extend(self.rest.keys().map(String::as_str));
            keys.sort_unstable();
            keys.dedup();
        }
        let mut m = s.serialize_map(Some(keys.len()))?;
        for key in keys {
            match key {
                "content" => m.serialize_entry(key, &self.content)?,
                "id" => m.serialize_entry(key, &self.id)?,
                "model" => m.serialize_entry(key, &self.model)?,
                "role" => m.serialize_entry(key, "assistant")?,
                "stop_reason" => m.serialize_entry(key, &self.stop_reason)?,
                "stop_sequence" => m.serialize_entry(key, &self.stop_sequence)?,
                "type" => m.serialize_entry(key, "message")?,
                "usage" => m.serialize_entry(key, &self.usage)?,
                other => m.serialize_entry(key, &self.rest[other])?,
            }
        }
        m.end()
    }
}

/// A content block, as `content_block_start` opens it and a message holds it.
#[derive(Serialize)]
#[serde(untagged)]
pub enum Block<'a> {
    Text {
        text: Cow<'a, str>,
        #[serde(rename = "type")]
        kind: &'static str,
    },
    Thinking {
        signature: Cow<'a, str>,
        thinking: Cow<'a, str>,
        #[serde(rename = "type")]
        kind: &'static str,
    },
    RedactedThinking {
        data: Cow<'a, str>,
        #[serde(rename = "type")]
        kind: &'static str,
    },
    ToolUse {
        id: Cow<'a, str>,
        /// `None` for `{}`, as a streamed call's block opens.
        #[serde(serialize_with = "object_or_empty")]
        input: Option<Value>,
        name: Cow<'a, str>,
        #[serde(rename = "type")]
        kind: &'static str,
    },
    /// A block the proxy passes on as it came: a native answer's, a search's
    /// `server_tool_use` and `web_search_tool_result`.
    Other(Value),
}

impl<'a> Block<'a> {
    pub fn text(text: impl Into<Cow<'a, str>>) -> Self {
        Block::Text {
            text: text.into(),
            kind: "text",
        }
    }

    pub fn thinking(thinking: impl Into<Cow<'a, str>>, signature: impl Into<Cow<'a, str>>) -> Self {
        Block::Thinking {
            signature: signature.into(),
            thinking: thinking.into(),
            kind: "thinking",
        }
    }

    pub fn redacted_thinking(data: impl Into<Cow<'a, str>>) -> Self {
        Block::RedactedThinking {
            data: data.into(),
            kind: "redacted_thinking",
        }
    }

    pub fn tool_use(
        id: impl Into<Cow<'a, str>>,
        name: impl Into<Cow<'a, str>>,
        input: Option<Value>,
    ) -> Self {
        Block::ToolUse {
            id: id.into(),
            input,
            name: name.into(),
            kind: "tool_use",
        }
    }

    /// The block's `type`.
    pub fn kind(&self) -> &str {
        match self {
            Block::Text { kind, .. }
            | Block::Thinking { kind, .. }
            | Block::RedactedThinking { kind, .. }
            | Block::ToolUse { kind, .. } => kind,
            Block::Other(v) => v.get("type").and_then(Value::as_str).unwrap_or(""),
        }
    }

    /// A `tool_use` block's name, id and input.
    pub fn as_tool_use(&self) -> Option<(&str, &str, Option<&Value>)> {
        match self {
            Block::ToolUse {
                id, input, name, ..
            } => Some((name, id, input.as_ref())),
            Block::Other(v) if self.kind() == "tool_use" => {
                let text = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("");
                Some((text("name"), text("id"), v.get("input")))
            }
            _ => None,
        }
    }
}

fn object_or_empty<S: Serializer>(input: &Option<Value>, s: S) -> Result<S::Ok, S::Error> {
    match input {
        Some(v) => v.serialize(s),
        None => s.serialize_map(Some(0))?.end(),
    }
}

/// Anthropic usage. The cache counts appear only when upstream reported them; the
/// searches only on an answer that ran some. Read leniently: a count that is not a
/// non-negative integer reads as absent.
#[derive(Serialize, Deserialize, Debug, Clone, Default, PartialEq, Eq)]
pub struct Usage {
    #[serde(default, deserialize_with = "count")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache_creation_input_tokens: Option<u64>,
    #[serde(default, deserialize_with = "count")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache_read_input_tokens: Option<u64>,
    #[serde(default, deserialize_with = "zero_or_count")]
    pub input_tokens: u64,
    #[serde(default, deserialize_with = "zero_or_count")]
    pub output_tokens: u64,
    #[serde(default, skip_deserializing)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_tool_use: Option<ServerToolUse>,
}

/// The searches the proxy ran for an answer.
#[derive(Serialize, Debug, Clone, PartialEq, Eq)]
pub struct ServerToolUse {
    pub web_search_requests: u64,
}

impl Usage {
    /// The usage before upstream reported any: the caller's estimate of the input.
    pub fn estimate(input_tokens: u64) -> Usage {
        Usage {
            input_tokens,
            ..Usage::default()
        }
    }

    /// Adds another answer's counts (the passes of a web-search loop); a cache count is
    /// present when any answer had it.
    pub fn add(&mut self, other: &Usage) {
        let sum = |a: Option<u64>, b: Option<u64>| match (a, b) {
            (None, None) => None,
            (a, b) => Some(a.unwrap_or(0) + b.unwrap_or(0)),
        };
        self.cache_creation_input_tokens = sum(
            self.cache_creation_input_tokens,
            other.cache_creation_input_tokens,
        );
        self.cache_read_input_tokens =
            sum(self.cache_read_input_tokens, other.cache_read_input_tokens);
        self.input_tokens += other.input_tokens;
        self.output_tokens += other.output_tokens;
    }
}

fn count<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    U64::deserialize(d).map(|n| n.0)
}

fn zero_or_count<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    count(d).map(Option::unwrap_or_default)
}

fn string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    super::super::chat_chunk::Str::deserialize(d).map(|s| s.0.map(Cow::into_owned))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_native_answer_reads_and_writes_back_as_its_tree() {
        let native = json!({"id": "msg_1", "type": "message", "role": "assistant",
            "model": "claude", "container": null, "stop_sequence": "STOP",
            "content": [{"type": "thinking", "thinking": "t", "signature": "s"},
                        {"type": "tool_use", "id": "t1", "name": "web_search", "input": {"query": "q"}}],
            "stop_reason": "tool_use", "zz": {"b": 1, "a": 2},
            "usage": {"input_tokens": 5, "output_tokens": 2, "cache_read_input_tokens": 1}});
        let m = Message::from_native(native.to_string().as_bytes()).unwrap();
        assert_eq!(serde_json::to_string(&m).unwrap(), native.to_string());
        let kinds: Vec<&str> = m.content.iter().map(Block::kind).collect();
        assert_eq!(kinds, ["thinking", "tool_use"]);
        let input = json!({"query": "q"});
        assert_eq!(
            m.content[1].as_tool_use(),
            Some(("web_search", "t1", Some(&input)))
        );
        assert!(m.content[0].as_tool_use().is_none());
        let odd = Message::from_native(br#"{"content": "x", "usage": null, "id": 5}"#).unwrap();
        assert!(odd.content.is_empty() && odd.id.is_empty());
        assert_eq!(odd.usage, Usage::default());
        assert!(Message::from_native(b"[1]").is_err());
    }

    #[test]
    fn usage_sums_and_reads_leniently() {
        let read = |v: Value| serde_json::from_value::<Usage>(v).unwrap();
        let mut total = read(json!({"input_tokens": 10, "output_tokens": 2, "service_tier": "x"}));
        total.add(&read(json!({"input_tokens": 5, "output_tokens": "3",
                                "cache_read_input_tokens": 1, "cache_creation": {"a": 1}})));
        total.server_tool_use = Some(ServerToolUse {
            web_search_requests: 2,
        });
        assert_eq!(
            serde_json::to_value(&total).unwrap(),
            json!({"input_tokens": 15, "output_tokens": 2, "cache_read_input_tokens": 1,
                   "server_tool_use": {"web_search_requests": 2}})
        );
    }
}
