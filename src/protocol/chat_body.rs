//! A client's Chat Completions body as the pass-through reads it: its top-level members in
//! their order, each kept as the bytes the client sent (`RawValue`), plus lenient borrowed
//! readers for the members the proxy checks (`messages`, `tools`). The upstream body is
//! written by splicing: a member the proxy changed (the model, the output limit, the
//! effort, `stream_options`) is serialized anew, every other member's bytes are copied as
//! they came, in the same order, so a 300 KB conversation is never parsed into a tree nor
//! serialized again (and numbers such as `1.50` or `123456789012345678901234567890` reach
//! Copilot exactly as written). The syntax (and duplicate keys) is checked before, by
//! `http::strict_json::check`.

use super::lenient::{Key, Kind, List, Obj, Shape, Str, kind_of};
use serde::Deserialize;
use serde::de::{Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::fmt;

/// The top-level members of a Chat body, in the client's order.
pub struct ChatBody<'a> {
    members: Vec<(Cow<'a, str>, &'a RawValue)>,
}

impl<'a> ChatBody<'a> {
    /// The view of a JSON object's bytes. Only the syntax is checked here; the caller
    /// checks the keys and each member as strictly as it checks a tree.
    pub fn parse(bytes: &'a [u8]) -> Result<ChatBody<'a>, serde_json::Error> {
        struct Members;
        impl<'de> Visitor<'de> for Members {
            type Value = ChatBody<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ChatBody<'de>, A::Error> {
                let mut members = Vec::with_capacity(16);
                while let Some(Key(key)) = map.next_key()? {
                    members.push((key, map.next_value::<&'de RawValue>()?));
                }
                Ok(ChatBody { members })
            }
        }
        let mut de = serde_json::Deserializer::from_slice(bytes);
        let body = de.deserialize_map(Members)?;
        de.end()?;
        Ok(body)
    }

    /// The members in the client's order.
    pub fn members(&self) -> &[(Cow<'a, str>, &'a RawValue)] {
        &self.members
    }

    /// A member's bytes.
    pub fn get(&self, key: &str) -> Option<&'a RawValue> {
        self.members
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, raw)| *raw)
    }

    /// A member's bytes unless absent or null (the `field` rule of the checks).
    pub fn field(&self, key: &str) -> Option<&'a RawValue> {
        self.get(key).filter(|raw| raw.get() != "null")
    }

    /// The named members (those present) as a small tree, for the checks and edits written
    /// over maps: the scalars and small objects at the top, never `messages` or `tools`.
    pub fn head(&self, keys: &[&str]) -> Map<String, Value> {
        let mut head = Map::new();
        for (key, raw) in &self.members {
            if keys.contains(&key.as_ref()) {
                // A checked body's member always parses; the null is never used.
                let value = serde_json::from_str(raw.get()).unwrap_or(Value::Null);
                head.insert(key.to_string(), value);
            }
        }
        head
    }

    /// The body to send upstream: `before` is what `head` returned, `after` the same map
    /// once edited. A member whose value changed is written anew where it stood, a removed
    /// one is left out, an added one goes at the end; all others are copied byte for byte.
    pub fn splice(&self, before: &Map<String, Value>, after: &Map<String, Value>) -> Vec<u8> {
        let size: usize = self
            .members
            .iter()
            .map(|(k, v)| k.len() + v.get().len() + 4)
            .sum();
        let mut out = Vec::with_capacity(size + 64);
        out.push(b'{');
        let member = |out: &mut Vec<u8>, key: &str, value: Result<&str, &Value>| {
            if out.len() > 1 {
                out.push(b',');
            }
            // Writing to a Vec cannot fail; a string or a Value always serializes.
            let _ = serde_json::to_writer(&mut *out, key);
            out.push(b':');
            match value {
                Ok(raw) => out.extend_from_slice(raw.as_bytes()),
                Err(v) => {
                    let _ = serde_json::to_writer(&mut *out, v);
                }
            }
        };
        for (key, raw) in &self.members {
            match (before.get(key.as_ref()), after.get(key.as_ref())) {
                (Some(old), Some(new)) if old != new => member(&mut out, key, Err(new)),
                (Some(_), None) => {}
                _ => member(&mut out, key, Ok(raw.get())),
            }
        }
        for (key, value) in after {
            if !before.contains_key(key) {
                member(&mut out, key, Err(value));
            }
        }
        out.push(b'}');
        out
    }

    /// `messages`, read leniently (None when absent).
    pub fn messages(&self) -> Option<List<Obj<Message<'a>>>> {
        read(self.get("messages")?)
    }

    /// `tools`, read leniently (None when absent or null).
    pub fn tools(&self) -> Option<List<Obj<Tool<'a>>>> {
        read(self.field("tools")?)
    }
}

/// A member read through a lenient reader; a checked body always reads (every lenient
/// reader takes any JSON), so the `None` of a failure is never seen in practice.
fn read<'a, T: Deserialize<'a>>(raw: &'a RawValue) -> Option<T> {
    serde_json::from_str(raw.get()).ok()
}

/// One message, with the members the proxy checks or reads. A null member reads as absent.
#[derive(Deserialize)]
pub struct Message<'a> {
    #[serde(borrow, default)]
    pub role: Option<Str<'a>>,
    #[serde(default)]
    pub name: Shape,
    #[serde(default)]
    pub tool_call_id: Shape,
    #[serde(borrow, default)]
    pub content: Option<Content<'a>>,
    #[serde(default)]
    pub tool_calls: Option<List<Obj<ToolCall>>>,
}

impl Message<'_> {
    pub fn role(&self) -> Option<&str> {
        self.role.as_ref().and_then(Str::as_str)
    }

    /// Whether the content has an `image_url` part.
    pub fn has_image(&self) -> bool {
        let Some(Content::Parts(parts)) = &self.content else {
            return false;
        };
        parts.iter().any(|p| match p {
            Obj::Is(p) => p.kind() == Some("image_url"),
            Obj::Not => false,
        })
    }
}

/// A message's `content`: text (not kept: only its type is checked here), parts, or
/// another type.
pub enum Content<'a> {
    Text,
    Parts(Vec<Obj<Part<'a>>>),
    Not,
}

/// Read from the bytes: a text is skipped, not decoded; only parts are read.
impl<'de: 'a, 'a> Deserialize<'de> for Content<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Content<'a>, D::Error> {
        let raw = <&'de RawValue>::deserialize(d)?;
        Ok(match kind_of(raw) {
            Kind::String => Content::Text,
            Kind::Array => match serde_json::from_str(raw.get()) {
                Ok(parts) => Content::Parts(parts),
                Err(_) => Content::Not,
            },
            _ => Content::Not,
        })
    }
}

/// A content part: its `type`, and the type of its `text`.
#[derive(Deserialize)]
pub struct Part<'a> {
    #[serde(borrow, default, rename = "type")]
    pub kind: Option<Str<'a>>,
    #[serde(default)]
    pub text: Shape,
}

impl Part<'_> {
    pub fn kind(&self) -> Option<&str> {
        self.kind.as_ref().and_then(Str::as_str)
    }
}

/// An assistant message's tool call.
#[derive(Deserialize)]
pub struct ToolCall {
    #[serde(default)]
    pub id: Shape,
    #[serde(default)]
    pub function: Option<Obj<CallFunction>>,
}

#[derive(Deserialize)]
pub struct CallFunction {
    #[serde(default)]
    pub name: Shape,
    #[serde(default)]
    pub arguments: Shape,
}

/// A tool the client offers.
#[derive(Deserialize)]
pub struct Tool<'a> {
    #[serde(borrow, default, rename = "type")]
    pub kind: Option<Str<'a>>,
    #[serde(default)]
    pub function: Option<Obj<ToolFunction>>,
}

#[derive(Deserialize)]
pub struct ToolFunction {
    #[serde(default)]
    pub name: Shape,
    #[serde(default)]
    pub parameters: Option<Obj<Schema>>,
}

/// A JSON Schema's top level: only its `type` is checked (a null `type` is not absent).
#[derive(Deserialize)]
pub struct Schema {
    #[serde(default, rename = "type")]
    pub kind: Shape,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const BODY: &str = r#"{"model": "gpt-4.1", "x": {"b": [1, 2.50, -0.0]},
        "big": 123456789012345678901234567890, "s\u00e9": "caf\u00e9 \ud83d\ude00",
        "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {}}]}],
        "max_tokens": 10, "stream": null}"#;

    #[test]
    fn members_in_order_and_spliced_byte_for_byte() {
        let body = ChatBody::parse(BODY.as_bytes()).unwrap();
        let keys: Vec<&str> = body.members.iter().map(|(k, _)| k.as_ref()).collect();
        assert_eq!(
            keys,
            [
                "model",
                "x",
                "big",
                "sé",
                "messages",
                "max_tokens",
                "stream"
            ]
        );
        assert_eq!(body.get("x").unwrap().get(), r#"{"b": [1, 2.50, -0.0]}"#);
        assert!(body.field("stream").is_none() && body.get("stream").is_some());
        let before = body.head(&["model", "max_tokens", "stream", "stream_options"]);
        let mut after = before.clone();
        after.insert("model".into(), json!("gpt-4.1-2025"));
        after.remove("max_tokens");
        after.insert("stream_options".into(), json!({"include_usage": true}));
        let out = String::from_utf8(body.splice(&before, &after)).unwrap();
        assert_eq!(
            out,
            r#"{"model":"gpt-4.1-2025","x":{"b": [1, 2.50, -0.0]},"big":123456789012345678901234567890,"sé":"caf\u00e9 \ud83d\ude00","messages":[{"role": "user", "content": [{"type": "image_url", "image_url": {}}]}],"stream":null,"stream_options":{"include_usage":true}}"#
        );
        let unchanged = body.splice(&before, &before);
        let reparsed: Value = serde_json::from_slice(&unchanged).unwrap();
        assert_eq!(reparsed, serde_json::from_str::<Value>(BODY).unwrap());
    }

    #[test]
    fn messages_and_tools_read_leniently() {
        let text = r#"{"messages": [{"role": "user", "content": "hi", "name": 3},
            {"role": 5, "content": [{"type": "text", "text": null}, 7]},
            {"role": "assistant", "content": null, "tool_calls": [{"id": "c", "function": {"name": "f"}}]}],
            "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": null}}}]}"#;
        let body = ChatBody::parse(text.as_bytes()).unwrap();
        let Some(List::Is(messages)) = body.messages() else {
            panic!()
        };
        let m = |i: usize| messages[i].get().unwrap();
        assert_eq!(m(0).role(), Some("user"));
        assert_eq!(m(0).name, Shape(Kind::Number));
        assert!(matches!(m(0).content, Some(Content::Text)));
        assert_eq!(m(1).role, Some(Str::Not(Kind::Number)));
        let Some(Content::Parts(parts)) = &m(1).content else {
            panic!()
        };
        assert_eq!(parts[0].get().unwrap().text, Shape(Kind::Null));
        assert!(matches!(parts[1], Obj::Not));
        assert!(m(2).content.is_none() && !m(2).has_image());
        let Some(List::Is(tools)) = body.tools() else {
            panic!()
        };
        let f = tools[0]
            .get()
            .unwrap()
            .function
            .as_ref()
            .unwrap()
            .get()
            .unwrap();
        let schema = f.parameters.as_ref().unwrap().get().unwrap();
        assert_eq!(schema.kind, Shape(Kind::Null));
        assert!(
            ChatBody::parse(BODY.as_bytes())
                .unwrap()
                .messages()
                .is_some_and(|m| matches!(m, List::Is(m) if m[0].get().unwrap().has_image()))
        );
    }
}
