//! An Anthropic Messages request as the translator to Chat reads it: the messages with
//! their content blocks, the system prompt, tools, tool_choice, thinking, sampling fields
//! and output format. Lenient where clients are: block kinds the proxy does not know are
//! kept (their `type` and `content`), a field of an unexpected type reads as absent, and
//! unknown fields are ignored. The route checks the types the Anthropic API insists on
//! first (`translate::anthropic_request::validate`, whose 400s name the field), so reading
//! these types never fails on a request that passed it. Strings are borrowed from the
//! parsed body; a few subtrees (tool inputs and schemas, tool results, unknown blocks) are
//! kept as JSON because the Chat request carries them as JSON.

use super::chat_chunk::{Lenient, Str, U64};
use super::lenient::{any_value, skip, text};
use serde::Deserialize;
use serde::de::{Deserializer, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};
use std::borrow::Cow;

#[derive(Deserialize)]
pub struct MessagesRequest<'a> {
    #[serde(borrow)]
    pub messages: Vec<Message<'a>>,
    #[serde(default, borrow)]
    pub system: Body<'a, Block<'a>>,
    #[serde(default)]
    pub tools: Option<Vec<Lenient<ToolDef<'a>>>>,
    #[serde(default, borrow)]
    pub tool_choice: Option<Lenient<ToolChoice<'a>>>,
    #[serde(default, borrow)]
    pub thinking: Option<Lenient<Thinking<'a>>>,
    #[serde(default)]
    pub max_tokens: Option<u64>,
    #[serde(default)]
    pub temperature: Option<Number>,
    #[serde(default)]
    pub top_p: Option<Number>,
    #[serde(default)]
    pub stop_sequences: Option<Vec<String>>,
    #[serde(default)]
    pub stream: Option<bool>,
    #[serde(default, borrow)]
    pub metadata: Option<Lenient<Metadata<'a>>>,
    #[serde(default, borrow)]
    pub output_config: Option<Lenient<OutputConfig<'a>>>,
    /// The older spelling of `output_config.format`.
    #[serde(default, borrow)]
    pub output_format: Option<Lenient<Format<'a>>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    User,
    Assistant,
    System,
}

#[derive(Deserialize)]
pub struct Message<'a> {
    pub role: Role,
    #[serde(default, borrow)]
    pub content: Body<'a, Block<'a>>,
}

/// A content field: a string, a list of items, or nothing (absent, `null`, or any other
/// JSON type). Items that are not objects read as `B::default()`.
#[derive(Default)]
pub enum Body<'a, B> {
    #[default]
    Absent,
    Text(Cow<'a, str>),
    Items(Vec<B>),
}

/// One content block, tagged by `type`. (serde also takes a number as a kind's index; no
/// client sends one, and the route's checks refuse it in `messages`.)
#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Block<'a> {
    Text {
        #[serde(default, borrow)]
        text: Str<'a>,
    },
    Image {
        #[serde(default, borrow)]
        source: Lenient<Source<'a>>,
    },
    Document {
        #[serde(default, borrow)]
        title: Str<'a>,
        #[serde(default, borrow)]
        source: Lenient<Source<'a>>,
    },
    ToolUse {
        #[serde(default, borrow)]
        id: Str<'a>,
        #[serde(default, borrow)]
        name: Str<'a>,
        /// `Some(Value::Null)` when the field is there as `null`.
        #[serde(default, deserialize_with = "present")]
        input: Option<Value>,
    },
    ToolResult {
        #[serde(default, borrow)]
        tool_use_id: Str<'a>,
        /// Kept as JSON: read through `ToolResult::content`, and written out whole when
        /// the block turns up where a tool result cannot be.
        #[serde(default, deserialize_with = "present")]
        content: Option<Value>,
        #[serde(default)]
        is_error: Flag,
    },
    ToolReference {
        #[serde(default, borrow)]
        tool_name: Str<'a>,
    },
    Thinking {
        #[serde(default, borrow)]
        thinking: Str<'a>,
        #[serde(default, borrow)]
        signature: Str<'a>,
    },
    RedactedThinking {
        #[serde(default, borrow)]
        data: Str<'a>,
    },
    SearchResult {
        #[serde(default, borrow)]
        title: Str<'a>,
        #[serde(default, borrow)]
        source: Str<'a>,
        #[serde(default, borrow)]
        content: Body<'a, TextItem<'a>>,
    },
    ContainerUpload {
        #[serde(default, borrow)]
        file_id: Str<'a>,
    },
    /// A server tool call from an earlier turn: shown to the model as its JSON.
    ServerToolUse {
        #[serde(flatten)]
        fields: Map<String, Value>,
    },
    /// Any other kind (server tool results, kinds added later), or an item that is not
    /// a block at all.
    #[serde(untagged)]
    Other(Lenient<Unknown<'a>>),
}

impl Default for Block<'_> {
    fn default() -> Self {
        Block::Other(Lenient::default())
    }
}

impl Block<'_> {
    /// The whole `server_tool_use` block as JSON text, `type` included.
    pub fn server_tool_use_json(fields: &Map<String, Value>) -> String {
        let mut block = fields.clone();
        block.insert("type".into(), "server_tool_use".into());
        Value::Object(block).to_string()
    }
}

/// What the proxy reads of a block kind it does not know.
#[derive(Default, Deserialize)]
pub struct Unknown<'a> {
    #[serde(default, rename = "type", borrow)]
    pub kind: Str<'a>,
    #[serde(default, deserialize_with = "present")]
    pub content: Option<Value>,
}

/// An item of a text list (search results, document content): only its `text` counts.
#[derive(Default, Deserialize)]
pub struct TextItem<'a> {
    #[serde(default, borrow)]
    pub text: Str<'a>,
}

/// The source of an image or document.
#[derive(Default, Deserialize)]
pub struct Source<'a> {
    #[serde(default, rename = "type", borrow)]
    pub kind: Str<'a>,
    #[serde(default, borrow)]
    pub url: Str<'a>,
    #[serde(default, borrow)]
    pub media_type: Str<'a>,
    /// Base64 (images) or plain text (documents); `Some` whenever the field is there.
    #[serde(default, deserialize_with = "present", borrow)]
    pub data: Option<Str<'a>>,
    #[serde(default, borrow)]
    pub file_id: Str<'a>,
    /// A document's own content blocks (`type: "content"`).
    #[serde(default, borrow)]
    pub content: Body<'a, TextItem<'a>>,
}

#[derive(Default, Deserialize)]
pub struct ToolDef<'a> {
    #[serde(default, borrow)]
    pub name: Str<'a>,
    /// `custom` (or absent) for the client's own tools; versioned names for Anthropic's
    /// typed tools (`bash_20250124`, `web_search_20250305`, ...).
    #[serde(default, rename = "type", borrow)]
    pub kind: Str<'a>,
    #[serde(default, borrow)]
    pub description: Str<'a>,
    #[serde(default, deserialize_with = "present")]
    pub input_schema: Option<Value>,
    #[serde(default)]
    pub strict: Flag,
}

#[derive(Default, Deserialize)]
pub struct ToolChoice<'a> {
    #[serde(default, rename = "type", borrow)]
    pub kind: Str<'a>,
    #[serde(default, borrow)]
    pub name: Str<'a>,
}

#[derive(Default, Deserialize)]
pub struct Thinking<'a> {
    #[serde(default, rename = "type", borrow)]
    pub kind: Str<'a>,
    #[serde(default)]
    pub budget_tokens: U64,
}

#[derive(Default, Deserialize)]
pub struct Metadata<'a> {
    #[serde(default, borrow)]
    pub user_id: Str<'a>,
}

#[derive(Default, Deserialize)]
pub struct OutputConfig<'a> {
    #[serde(default, borrow)]
    pub effort: Str<'a>,
    /// `Some` whenever the field is there, so a `null` here hides `output_format`.
    #[serde(default, deserialize_with = "present", borrow)]
    pub format: Option<Lenient<Format<'a>>>,
}

/// A structured-output format; only `json_schema` is acted on.
#[derive(Default, Deserialize)]
pub struct Format<'a> {
    #[serde(default, rename = "type", borrow)]
    pub kind: Str<'a>,
    #[serde(default, deserialize_with = "present")]
    pub schema: Option<Value>,
}

/// A boolean field: `None` when absent or not a boolean.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Flag(pub Option<bool>);

/// A field that is there, whatever its value: `null` reads as `Some`, not as absent.
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

impl<'de: 'a, 'a, B: Deserialize<'de> + Default> Deserialize<'de> for Body<'a, B> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a, B>(std::marker::PhantomData<(&'a (), B)>);
        impl<'de: 'a, 'a, B: Deserialize<'de> + Default> Visitor<'de> for V<'a, B> {
            type Value = Body<'a, B>;
            any_value!();
            text!(|s| Body::Text(s));
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
                while let Some(item) = seq.next_element::<Lenient<B>>()? {
                    items.push(item.0);
                }
                Ok(Body::Items(items))
            }
            skip!(Body::Absent; bool, i64, u64, f64, unit, map);
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

impl<'de> Deserialize<'de> for Flag {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Flag(Value::deserialize(d)?.as_bool()))
    }
}

/// The typed view of a tool result's JSON `content`, borrowed from it.
pub fn tool_result_body(content: Option<&Value>) -> Body<'_, Block<'_>> {
    content.map_or(Body::Absent, |v| {
        Body::deserialize(v).unwrap_or(Body::Absent)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn read(v: &Value) -> MessagesRequest<'_> {
        MessagesRequest::deserialize(v).unwrap()
    }

    #[test]
    fn blocks_by_kind_with_unknown_kinds_kept() {
        let v = json!({"messages": [{"role": "user", "content": [
            {"type": "text", "text": "hi", "cache_control": {"type": "ephemeral"}},
            {"type": "web_search_tool_result", "tool_use_id": "s", "content": [{"url": "u"}]},
            {"type": "server_tool_use", "id": "s", "name": "web_search", "input": {}},
            {"type": "tool_result", "tool_use_id": "t", "content": null, "is_error": "yes"},
            {"type": "tool_use", "id": "u", "name": "f"},
            {"type": "text", "text": 5},
            "not a block",
            {"text": "no type"}
        ]}]});
        let req = read(&v);
        let Body::Items(blocks) = &req.messages[0].content else {
            panic!("content is not a list")
        };
        assert!(matches!(&blocks[0], Block::Text { text } if text.get() == Some("hi")));
        match &blocks[1] {
            Block::Other(Lenient(u)) => {
                assert_eq!(u.kind.get(), Some("web_search_tool_result"));
                assert_eq!(u.content, Some(json!([{"url": "u"}])));
            }
            _ => panic!("unexpected block"),
        }
        match &blocks[2] {
            Block::ServerToolUse { fields } => assert_eq!(
                Block::server_tool_use_json(fields),
                r#"{"id":"s","input":{},"name":"web_search","type":"server_tool_use"}"#
            ),
            _ => panic!("unexpected block"),
        }
        assert!(matches!(
            &blocks[3],
            Block::ToolResult {
                content: Some(Value::Null),
                is_error: Flag(None),
                ..
            }
        ));
        assert!(matches!(&blocks[4], Block::ToolUse { input: None, .. }));
        assert!(matches!(&blocks[5], Block::Text { text } if text.get().is_none()));
        assert!(matches!(&blocks[6], Block::Other(Lenient(u)) if u.kind.get().is_none()));
        assert!(matches!(&blocks[7], Block::Other(Lenient(u)) if u.kind.get().is_none()));
    }

    #[test]
    fn tags_of_other_types_never_fail_the_request() {
        let v = json!([{"type": true, "content": "x"}, {"type": null}, {"type": {}},
                       {"type": 1.5}, {"type": "text", "text": "a"}]);
        let Body::Items(items) = tool_result_body(Some(&v)) else {
            panic!("not read as a list")
        };
        assert_eq!(items.len(), 5);
        assert!(matches!(&items[0], Block::Other(Lenient(u)) if u.content == Some(json!("x"))));
        assert!(matches!(&items[4], Block::Text { text } if text.get() == Some("a")));
    }

    #[test]
    fn strings_are_borrowed_and_odd_fields_read_as_absent() {
        let v = json!({"messages": [{"role": "assistant", "content": "hello"}],
                       "system": 3, "output_config": "x", "output_format": {"type": "json_schema"},
                       "thinking": {"type": "enabled", "budget_tokens": "many"}, "unknown": 1});
        let req = read(&v);
        assert!(matches!(
            &req.messages[0].content,
            Body::Text(Cow::Borrowed("hello"))
        ));
        assert!(matches!(req.system, Body::Absent));
        assert!(req.output_config.as_ref().unwrap().0.format.is_none());
        assert_eq!(req.output_format.unwrap().0.kind.get(), Some("json_schema"));
        assert_eq!(req.thinking.unwrap().0.budget_tokens, U64(None));
    }
}
