//! JSON parsing that refuses duplicate object keys. serde_json keeps the last of two equal
//! keys without a word, so `{"model": "a", "model": "b"}` would mean one thing to the
//! proxy and possibly another to whatever reads the body after it; a client that sends
//! that has a bug worth a 400. One pass, the same `Value` as `serde_json::from_slice`
//! (and the same nesting limit of 128).

use serde::de::{DeserializeSeed, Deserializer, Error, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt;

pub fn from_slice(bytes: &[u8]) -> Result<Value, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = Strict.deserialize(&mut de)?;
    de.end()?;
    Ok(value)
}

/// The same checks as `from_slice`, with the same errors at the same places, without
/// building the tree: for the pass-through paths that keep the body's bytes (the Chat
/// route's `protocol::chat_body`). Tells whether the top level is an object.
pub fn check(bytes: &[u8]) -> Result<bool, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let object = Check.deserialize(&mut de)?;
    de.end()?;
    Ok(object)
}

struct Strict;

impl<'de> DeserializeSeed<'de> for Strict {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(Strict)
    }
}

impl<'de> Visitor<'de> for Strict {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E: Error>(self, v: f64) -> Result<Value, E> {
        serde_json::Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| E::custom("number out of range"))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        while let Some(item) = seq.next_element_seed(Strict)? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let value = map.next_value_seed(Strict)?;
            if out.contains_key(&key) {
                return Err(A::Error::custom(format_args!("duplicate key `{key}`")));
            }
            out.insert(key, value);
        }
        Ok(Value::Object(out))
    }
}

/// `Strict` without the tree: visits every value and compares each object's keys.
/// Returns whether the value was an object. Public for readers that check a part of a
/// body they otherwise skip.
pub struct Check;

impl<'de> DeserializeSeed<'de> for Check {
    type Value = bool;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_any(Check)
    }
}

impl<'de> Visitor<'de> for Check {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<bool, E> {
        Ok(false)
    }

    fn visit_i64<E>(self, _: i64) -> Result<bool, E> {
        Ok(false)
    }

    fn visit_u64<E>(self, _: u64) -> Result<bool, E> {
        Ok(false)
    }

    fn visit_f64<E: Error>(self, v: f64) -> Result<bool, E> {
        match v.is_finite() {
            true => Ok(false),
            false => Err(E::custom("number out of range")),
        }
    }

    fn visit_str<E>(self, _: &str) -> Result<bool, E> {
        Ok(false)
    }

    fn visit_unit<E>(self) -> Result<bool, E> {
        Ok(false)
    }

    fn visit_none<E>(self) -> Result<bool, E> {
        Ok(false)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<bool, A::Error> {
        while seq.next_element_seed(Check)?.is_some() {}
        Ok(false)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<bool, A::Error> {
        // Keys borrowed from the body where they hold no escape. Objects are mostly
        // narrow, where a linear search beats hashing; a wide one moves to a set so that
        // a body of one huge object costs no quadratic time.
        let mut keys = Keys::default();
        while let Some(Key(key)) = map.next_key()? {
            map.next_value_seed(Check)?;
            keys.insert(key)?;
        }
        Ok(true)
    }
}

/// An object key, borrowed when the body holds it without escapes.
#[derive(serde::Deserialize)]
struct Key<'a>(#[serde(borrow)] Cow<'a, str>);

/// The keys of one object seen so far, to refuse a duplicate. Objects are mostly narrow,
/// where a linear search beats hashing; a wide one moves to a set so that a body of one
/// huge object costs no quadratic time.
#[derive(Default)]
pub struct Keys<'de> {
    few: Vec<Cow<'de, str>>,
    many: Option<HashSet<Cow<'de, str>>>,
}

impl<'de> Keys<'de> {
    /// Takes in the next key; a duplicate is the error `from_slice` gives.
    pub fn insert<E: Error>(&mut self, key: Cow<'de, str>) -> Result<(), E> {
        let seen = match &self.many {
            Some(set) => set.contains(&key),
            None => self.few.contains(&key),
        };
        if seen {
            return Err(E::custom(format_args!("duplicate key `{key}`")));
        }
        match &mut self.many {
            Some(set) => {
                set.insert(key);
            }
            None if self.few.len() < 16 => self.few.push(key),
            None => {
                let mut set: HashSet<Cow<'de, str>> = self.few.drain(..).collect();
                set.insert(key);
                self.many = Some(set);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_values_as_serde_json_and_duplicates_refused() {
        let text = br#"{"a": [1, -2, 3.5, "x", null, true, {"b": {}}], "c": 18446744073709551615}"#;
        assert_eq!(
            from_slice(text).unwrap(),
            serde_json::from_slice::<Value>(text).unwrap()
        );
        let e = from_slice(br#"{"m": 1, "x": {"k": 1, "k": 2}}"#).unwrap_err();
        let same = check(br#"{"m": 1, "x": {"k": 1, "k": 2}}"#).unwrap_err();
        assert_eq!(e.to_string(), same.to_string());
        let wide: Vec<String> = (0..40).map(|i| format!("\"k{i}\": {i}")).collect();
        let wide = format!("{{{}, \"k\\u0033\": 0}}", wide.join(", "));
        let wide = check(wide.as_bytes()).unwrap_err();
        assert!(wide.to_string().contains("duplicate key `k3`"), "{wide}");
        assert_eq!(
            check(br#"[1, {"a": 1e400}]"#).unwrap_err().to_string(),
            from_slice(br#"[1, {"a": 1e400}]"#).unwrap_err().to_string()
        );
        assert!(check(br#"{"a": [1.5, -0.0, 18446744073709551616]}"#).unwrap());
        assert!(!check(b"[]").unwrap());
        assert!(e.to_string().contains("duplicate key `k`"), "{e}");
        assert!(from_slice(br#"{"m": 1} x"#).is_err());
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(from_slice(deep.as_bytes()).is_err());
    }
}
