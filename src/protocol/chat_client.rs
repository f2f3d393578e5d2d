//! A client's Chat Completions request as the Chat -> Responses translation reads it:
//! borrowed from the body (no tree; strings point into it unless they had escapes) and as
//! lenient as looking fields up in a `serde_json::Value`: a field of an unexpected type
//! reads as absent, except where the translation names it as the client's error
//! (`messages` and `tools` that are not arrays, a `content` that is neither text nor
//! parts). `protocol::lenient` and `chat_body` read the same body for the pass-through's
//! checks, which keep types rather than text. The small settings that pass on as they are (`tools`, `tool_choice`,
//! `reasoning`, `response_format`, numbers) stay trees.

use super::chat_chunk::{Lenient, List, Str, U64};
use super::lenient::{self, any_value, skip, text};
use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use std::borrow::Cow;

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ChatIn<'a> {
    /// The upstream model (the routes have resolved it).
    #[serde(borrow)]
    pub model: Str<'a>,
    /// Anything but an array is the client's error.
    #[serde(borrow)]
    pub messages: Option<lenient::List<Lenient<MessageIn<'a>>>>,
    pub n: U64,
    pub tools: Option<Value>,
    pub tool_choice: Option<Value>,
    pub parallel_tool_calls: Option<Value>,
    pub max_completion_tokens: Option<Value>,
    pub max_tokens: Option<Value>,
    pub temperature: Option<Value>,
    pub top_p: Option<Value>,
    pub prompt_cache_key: Option<Value>,
    pub reasoning: Option<Value>,
    #[serde(borrow)]
    pub reasoning_effort: Str<'a>,
    /// Present at all (the Messages path's thinking budget), whatever its value.
    #[serde(deserialize_with = "present")]
    pub thinking_budget: bool,
    pub response_format: Option<Value>,
    pub verbosity: Option<Value>,
    pub stream: Option<Value>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct MessageIn<'a> {
    #[serde(borrow)]
    pub role: Str<'a>,
    #[serde(borrow)]
    pub content: Content<'a>,
    #[serde(borrow)]
    pub tool_call_id: Str<'a>,
    #[serde(borrow)]
    pub reasoning_text: Str<'a>,
    #[serde(borrow)]
    pub reasoning_opaque: Str<'a>,
    #[serde(borrow)]
    pub tool_calls: List<CallIn<'a>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct CallIn<'a> {
    #[serde(borrow)]
    pub id: Str<'a>,
    /// Present (even `null`): a call of a freeform tool.
    #[serde(borrow, deserialize_with = "present_object")]
    pub custom: Option<FunctionIn<'a>>,
    #[serde(borrow)]
    pub function: Lenient<FunctionIn<'a>>,
}

/// A call's `function` (or `custom`): its name and its arguments (or input).
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct FunctionIn<'a> {
    #[serde(borrow)]
    pub name: Str<'a>,
    #[serde(borrow)]
    pub arguments: Str<'a>,
    #[serde(borrow)]
    pub input: Str<'a>,
}

/// A message's `content`.
#[derive(Default)]
pub enum Content<'a> {
    /// Absent or `null`.
    #[default]
    Absent,
    Text(Cow<'a, str>),
    Parts(Vec<Lenient<PartIn<'a>>>),
    /// A number, boolean or object: kept as it came (a tool result passes it on as text).
    Other(Value),
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct PartIn<'a> {
    #[serde(rename = "type", borrow)]
    pub kind: Str<'a>,
    #[serde(borrow)]
    pub text: Str<'a>,
    #[serde(borrow)]
    pub image_url: ImageUrl<'a>,
}

/// An `image_url` part's image: its url given alone or as `{url, detail}`.
#[derive(Default)]
pub struct ImageUrl<'a> {
    pub url: Option<Cow<'a, str>>,
    pub detail: Option<Cow<'a, str>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ImageObject<'a> {
    #[serde(borrow)]
    url: Str<'a>,
    #[serde(borrow)]
    detail: Str<'a>,
}

/// A field that is there, whatever its value (`null` included).
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    IgnoredAny::deserialize(d).map(|_| true)
}

/// A field that is there, read into `T` (`T::default()` when it is no object).
fn present_object<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Lenient::<T>::deserialize(d).map(|l| Some(l.0))
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
                while let Some(part) = seq.next_element()? {
                    parts.push(part);
                }
                Ok(Content::Parts(parts))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                Value::deserialize(de::value::MapAccessDeserializer::new(map)).map(Content::Other)
            }
            fn visit_bool<E: de::Error>(self, b: bool) -> Result<Self::Value, E> {
                Ok(Content::Other(b.into()))
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<Self::Value, E> {
                Ok(Content::Other(n.into()))
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<Self::Value, E> {
                Ok(Content::Other(n.into()))
            }
            fn visit_f64<E: de::Error>(self, n: f64) -> Result<Self::Value, E> {
                Ok(Content::Other(n.into()))
            }
            skip!(Content::Absent; unit);
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for ImageUrl<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = ImageUrl<'a>;
            any_value!();
            text!(|url| ImageUrl {
                url: Some(url),
                detail: None,
            });
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                let o = ImageObject::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(ImageUrl {
                    url: o.url.0,
                    detail: o.detail.0,
                })
            }
            skip!(ImageUrl::default(); bool, i64, u64, f64, unit, seq);
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}
