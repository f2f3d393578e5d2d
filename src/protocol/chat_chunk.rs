//! An upstream Chat Completions chunk as the stream translators read it, deserialized
//! borrowed from the event's text: no tree, and strings point into the event unless they
//! had escapes. As lenient as looking fields up in a `serde_json::Value`: a field of an
//! unexpected type reads as absent, never as an error.

use super::lenient::{self, any_value, skip, text};
use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use std::borrow::Cow;

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct Chunk<'a> {
    #[serde(borrow)]
    pub id: Str<'a>,
    /// A completion's creation time.
    pub created: U64,
    /// `None` when absent or not an object.
    #[serde(deserialize_with = "object")]
    pub usage: Option<Usage>,
    pub error: Option<Value>,
    #[serde(borrow)]
    pub choices: List<Choice<'a>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct Choice<'a> {
    pub index: U64,
    #[serde(borrow)]
    delta: Option<Lenient<Delta<'a>>>,
    /// A completion's `message`, read like a delta. Boxed: a stream chunk never has one,
    /// and every byte of `Choice` is copied a few times per chunk as serde builds it.
    #[serde(borrow)]
    message: Option<Box<Lenient<Delta<'a>>>>,
    #[serde(borrow)]
    pub finish_reason: Str<'a>,
}

impl<'a> Choice<'a> {
    pub fn delta(&self) -> Option<&Delta<'a>> {
        self.delta
            .as_ref()
            .or(self.message.as_deref())
            .map(|d| &d.0)
    }

    /// A completion's `message` alone.
    pub fn message(&self) -> Option<&Delta<'a>> {
        self.message.as_deref().map(|d| &d.0)
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct Delta<'a> {
    #[serde(borrow)]
    pub content: Content<'a>,
    #[serde(borrow)]
    pub refusal: Str<'a>,
    #[serde(borrow)]
    reasoning_text: Str<'a>,
    #[serde(borrow)]
    reasoning_content: Str<'a>,
    #[serde(borrow)]
    pub reasoning_opaque: Str<'a>,
    #[serde(borrow)]
    pub tool_calls: List<ToolCall<'a>>,
}

impl Delta<'_> {
    /// The reasoning text: Copilot's `reasoning_text`, or `reasoning_content` as other
    /// OpenAI-compatible upstreams name it. The one place this alias is decided.
    pub fn reasoning(&self) -> Option<&str> {
        self.reasoning_text
            .nonempty()
            .or_else(|| self.reasoning_content.nonempty())
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ToolCall<'a> {
    pub index: U64,
    #[serde(borrow)]
    pub id: Str<'a>,
    #[serde(borrow)]
    pub function: Lenient<Function<'a>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct Function<'a> {
    #[serde(borrow)]
    pub name: Str<'a>,
    #[serde(borrow)]
    pub arguments: Arguments<'a>,
}

/// A completion's token usage; a count that is no non-negative integer reads as absent.
/// The one place Chat usage is read (into Anthropic's and Responses' usage).
#[derive(Deserialize, Default, Clone, Debug)]
#[serde(default)]
pub struct Usage {
    pub prompt_tokens: U64,
    pub completion_tokens: U64,
    pub total_tokens: U64,
    pub prompt_tokens_details: Lenient<PromptDetails>,
    pub completion_tokens_details: Lenient<CompletionDetails>,
}

#[derive(Deserialize, Default, Clone, Debug)]
#[serde(default)]
pub struct PromptDetails {
    pub cached_tokens: U64,
    /// Tokens written to the cache (Claude through Copilot).
    pub cache_creation_input_tokens: U64,
}

#[derive(Deserialize, Default, Clone, Debug)]
#[serde(default)]
pub struct CompletionDetails {
    pub reasoning_tokens: U64,
}

/// A message's `content`: a string (every stream delta), or in a completion an array of
/// parts whose `text` is read.
#[derive(Default)]
pub enum Content<'a> {
    #[default]
    Absent,
    Text(Cow<'a, str>),
    Parts(Vec<Str<'a>>),
}

impl Content<'_> {
    /// The content when it is a string.
    pub fn get(&self) -> Option<&str> {
        match self {
            Content::Text(t) => Some(t),
            _ => None,
        }
    }

    pub fn nonempty(&self) -> Option<&str> {
        self.get().filter(|s| !s.is_empty())
    }

    /// The non-empty texts: the string, or each part's `text`.
    pub fn texts(&self) -> Vec<&str> {
        match self {
            Content::Text(t) => vec![t.as_ref()],
            Content::Parts(parts) => parts.iter().filter_map(Str::get).collect(),
            Content::Absent => Vec::new(),
        }
        .into_iter()
        .filter(|t| !t.is_empty())
        .collect()
    }
}

/// A tool call's `arguments`: JSON text as Chat sends it, or (from some upstreams, in a
/// completion) the object itself.
#[derive(Default)]
pub enum Arguments<'a> {
    #[default]
    Absent,
    Text(Cow<'a, str>),
    Object(Value),
}

impl Arguments<'_> {
    /// The arguments when they are text.
    pub fn get(&self) -> Option<&str> {
        match self {
            Arguments::Text(t) => Some(t),
            _ => None,
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Part<'a> {
    #[serde(borrow)]
    text: Str<'a>,
}

impl<'a> Chunk<'a> {
    /// The same reading of a chunk already parsed into a tree (the chunks the
    /// Responses-to-Chat translation builds, and tests).
    pub fn from_value(v: &'a Value) -> Chunk<'a> {
        Chunk::deserialize(v).unwrap_or_default()
    }
}

/// `T` read borrowed from `bytes`, lenient as the `Value` lookups it replaced: what the
/// borrowed reader refuses (a duplicate key) is read from a tree of the same bytes, held
/// in `tree`; bytes that are not JSON read as `T::default()`.
pub fn read<'a, T: Deserialize<'a> + Default>(bytes: &'a [u8], tree: &'a mut Option<Value>) -> T {
    if let Ok(t) = serde_json::from_slice(bytes) {
        return t;
    }
    *tree = serde_json::from_slice(bytes).ok();
    let tree: &'a Option<Value> = tree;
    tree.as_ref()
        .and_then(|v| T::deserialize(v).ok())
        .unwrap_or_default()
}

/// A string field: `None` when absent or not a string.
#[derive(Default, Debug, Clone, PartialEq, Eq)]
pub struct Str<'a>(pub Option<Cow<'a, str>>);

impl Str<'_> {
    pub fn get(&self) -> Option<&str> {
        self.0.as_deref()
    }

    pub fn nonempty(&self) -> Option<&str> {
        self.get().filter(|s| !s.is_empty())
    }
}

/// A non-negative integer field: `None` when absent or anything else.
#[derive(Default, Debug, Clone, Copy, PartialEq, Eq)]
pub struct U64(pub Option<u64>);

/// An array field: empty when absent or not an array.
pub struct List<T>(pub Vec<T>);

impl<T> Default for List<T> {
    fn default() -> Self {
        List(Vec::new())
    }
}

/// An object field read into `T`, or `T::default()` when it is not an object.
#[derive(Default, Clone, Debug)]
pub struct Lenient<T>(pub T);

/// An object field read into `T`; `None` when it is anything else.
fn object<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    lenient::Obj::<T>::deserialize(d).map(lenient::Obj::into_option)
}

impl<'de: 'a, 'a> Deserialize<'de> for Str<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Str<'a>;
            any_value!();
            text!(|s| Str(Some(s)));
            skip!(Str(None); bool, i64, u64, f64, unit, seq, map);
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Content<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Content<'a>;
            any_value!();
            text!(|s| Content::Text(s));
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut parts = Vec::new();
                while let Some(part) = seq.next_element::<Lenient<Part<'a>>>()? {
                    parts.push(part.0.text);
                }
                Ok(Content::Parts(parts))
            }
            skip!(Content::Absent; bool, i64, u64, f64, unit, map);
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Arguments<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Arguments<'a>;
            any_value!();
            text!(|s| Arguments::Text(s));
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                Value::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(Arguments::Object)
            }
            skip!(Arguments::Absent; bool, i64, u64, f64, unit, seq);
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

impl<'de> Deserialize<'de> for U64 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = U64;
            any_value!();
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<U64, E> {
                Ok(U64(Some(n)))
            }
            skip!(U64(None); bool, i64, f64, str, unit, seq, map);
        }
        d.deserialize_any(V)
    }
}

impl<'de, T: Deserialize<'de> + Default> Deserialize<'de> for List<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de> + Default> Visitor<'de> for V<T> {
            type Value = List<T>;
            any_value!();
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element::<Lenient<T>>()? {
                    if items.capacity() == 0 {
                        // Room for the one item these lists nearly always hold (a chunk's
                        // choice): a first push would reserve four, too big a block for
                        // the allocator's fast path.
                        items.reserve_exact(1);
                    }
                    items.push(item.0);
                }
                Ok(List(items))
            }
            skip!(List::default(); bool, i64, u64, f64, str, unit, map);
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

/// Its own visitor rather than `object` then `unwrap_or_default`: a chunk's delta and
/// function are read through it, and the detour through `Option` cost ~1% of the
/// instructions per event on the translated paths (`scripts/profile`).
impl<'de, T: Deserialize<'de> + Default> Deserialize<'de> for Lenient<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de> + Default> Visitor<'de> for V<T> {
            type Value = Lenient<T>;
            any_value!();
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                T::deserialize(de::value::MapAccessDeserializer::new(map)).map(Lenient)
            }
            skip!(Lenient::default(); bool, i64, u64, f64, str, unit, seq);
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn strings_borrow_and_odd_types_read_as_absent() {
        let text = r#"{"id":"c1","choices":[{"index":0,"delta":{"content":"hi","reasoning_content":"r","tool_calls":[{"index":1,"id":"t","function":{"name":"f","arguments":"{\"a\""}}]},"finish_reason":null}],"usage":null}"#;
        let c: Chunk = serde_json::from_str(text).unwrap();
        assert!(matches!(c.id.0, Some(Cow::Borrowed("c1"))));
        let choice = &c.choices.0[0];
        let d = choice.delta().unwrap();
        assert_eq!((d.content.get(), d.reasoning()), (Some("hi"), Some("r")));
        let call = &d.tool_calls.0[0];
        assert_eq!((call.index.0, call.id.get()), (Some(1), Some("t")));
        assert_eq!(call.function.0.arguments.get(), Some("{\"a\""));
        assert!(c.usage.is_none() && choice.finish_reason.get().is_none());
        let odd = json!({"id": 5, "choices": [7, {"index": -1, "delta": null,
                          "message": {"content": ["x"]}, "finish_reason": 3}], "usage": {"a": 1}});
        let c = Chunk::from_value(&odd);
        assert_eq!(c.id.get(), None);
        assert_eq!(c.choices.0.len(), 2);
        let second = &c.choices.0[1];
        assert_eq!(second.index.0, None);
        assert_eq!(second.delta().unwrap().content.get(), None);
        assert!(c.usage.is_some());
        // A duplicate key is read as a tree reads it (the last wins); not JSON is empty.
        let mut tree = None;
        let dup: Chunk = read(br#"{"id":"a","id":"b"}"#, &mut tree);
        assert_eq!(dup.id.get(), Some("b"));
        let mut tree = None;
        let none: Chunk = read(b"{oops", &mut tree);
        assert!(none.id.get().is_none() && none.choices.0.is_empty());
        let not_a_chunk: Chunk = serde_json::from_str("[1,2]").unwrap_or_default();
        assert!(not_a_chunk.choices.0.is_empty());
    }
}
