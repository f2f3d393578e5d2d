//! The overflow switch's prompt read from a body's bytes (the Chat pass-through keeps no
//! tree): the same pieces `overflow::TreePrompt` finds in a tree, by the same rules, read in
//! one pass over each prompt field, which also checks the field as strictly as
//! `http::strict_json` checks a body, so the route decodes its bytes once for both.

use super::overflow::{
    IMAGE_TOKENS, LABEL_FIELDS, OPAQUE_FIELDS, PER_MESSAGE, Piece, Prompt, text,
};
use crate::http::{StrictCheck, StrictKeys};
use crate::protocol::lenient::Key;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;
use std::fmt;

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
