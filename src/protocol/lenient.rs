//! Lenient borrowed readers for the parts of a client's body the proxy checks without
//! building a tree: each wrapper reads a value of the JSON type it wants (`Str`, `List`,
//! `Obj`) or, for any other type, skips it and records which type it was (`Not(Kind)`), so
//! the caller can answer with a 400 that names the place and the type it expected. `Shape`
//! records only the type. Nothing here fails on a well-formed body: the route has already
//! checked the syntax (`http::strict_json::check`).

use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

/// An object key, borrowed when it holds no escape.
#[derive(serde::Deserialize)]
pub struct Key<'a>(#[serde(borrow)] pub Cow<'a, str>);

/// A JSON value's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Kind {
    /// The member is not there (a `Shape` field's default).
    #[default]
    Absent,
    Null,
    Bool,
    Number,
    String,
    Array,
    Object,
}

/// The visits every reader answers alike: a type it does not want, skipped.
macro_rules! not_scalars {
    () => {
        fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
            Ok(Self::Value::not(Kind::Bool))
        }
        fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
            Ok(Self::Value::not(Kind::Number))
        }
        fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
            Ok(Self::Value::not(Kind::Number))
        }
        fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
            Ok(Self::Value::not(Kind::Number))
        }
        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok(Self::Value::not(Kind::Null))
        }
        fn visit_none<E>(self) -> Result<Self::Value, E> {
            Ok(Self::Value::not(Kind::Null))
        }
    };
}

macro_rules! not_str {
    () => {
        fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
            Ok(Self::Value::not(Kind::String))
        }
    };
}

macro_rules! not_seq {
    () => {
        fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<Self::Value, A::Error> {
            while a.next_element::<IgnoredAny>()?.is_some() {}
            Ok(Self::Value::not(Kind::Array))
        }
    };
}

macro_rules! not_map {
    () => {
        fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Self::Value, A::Error> {
            while a.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            Ok(Self::Value::not(Kind::Object))
        }
    };
}

/// Only the type of a value (for fields checked to be a string and otherwise unread).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Shape(pub Kind);

impl Shape {
    /// Absent, null, or of the wanted type (an optional field's check).
    pub fn optional(self, wanted: Kind) -> bool {
        matches!(self.0, Kind::Absent | Kind::Null) || self.0 == wanted
    }
}

/// Read from the value's bytes without decoding it: a string's type is its first byte, so
/// a long text whose type alone is checked is skipped, not copied out of its escapes.
impl<'de> Deserialize<'de> for Shape {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Shape, D::Error> {
        let raw = <&'de RawValue>::deserialize(d)?;
        Ok(Shape(kind_of(raw)))
    }
}

/// The type of a value, from its first byte.
pub fn kind_of(raw: &RawValue) -> Kind {
    match raw.get().as_bytes().first() {
        Some(b'"') => Kind::String,
        Some(b'[') => Kind::Array,
        Some(b'{') => Kind::Object,
        Some(b'n') => Kind::Null,
        Some(b't' | b'f') => Kind::Bool,
        Some(_) => Kind::Number,
        None => Kind::Absent,
    }
}

/// A string, borrowed when it holds no escape, or the type found instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Str<'a> {
    Is(Cow<'a, str>),
    Not(Kind),
}

impl<'a> Str<'a> {
    fn not(kind: Kind) -> Str<'a> {
        Str::Not(kind)
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Str::Is(s) => Some(s),
            Str::Not(_) => None,
        }
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Str<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Str<'a>, D::Error> {
        struct V<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Str<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Str<'a>, E> {
                Ok(Str::Is(Cow::Borrowed(s)))
            }
            fn visit_str<E>(self, s: &str) -> Result<Str<'a>, E> {
                Ok(Str::Is(Cow::Owned(s.to_string())))
            }
            not_scalars!();
            not_seq!();
            not_map!();
        }
        d.deserialize_any(V(PhantomData))
    }
}

/// An array of `T`, or another type (the checks only say that an array was expected).
#[derive(Debug)]
pub enum List<T> {
    Is(Vec<T>),
    Not,
}

impl<T> List<T> {
    fn not(_: Kind) -> List<T> {
        List::Not
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for List<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<List<T>, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = List<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<List<T>, A::Error> {
                let mut items = Vec::with_capacity(a.size_hint().unwrap_or(0).min(4096));
                while let Some(item) = a.next_element()? {
                    items.push(item);
                }
                Ok(List::Is(items))
            }
            not_scalars!();
            not_str!();
            not_map!();
        }
        d.deserialize_any(V(PhantomData))
    }
}

/// An object read as `T` (a struct of lenient fields, unknown members skipped), or
/// another type (the checks only say that an object was expected).
#[derive(Debug)]
pub enum Obj<T> {
    Is(T),
    Not,
}

impl<T> Obj<T> {
    fn not(_: Kind) -> Obj<T> {
        Obj::Not
    }

    pub fn get(&self) -> Option<&T> {
        match self {
            Obj::Is(t) => Some(t),
            Obj::Not => None,
        }
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Obj<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Obj<T>, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = Obj<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_map<A: MapAccess<'de>>(self, a: A) -> Result<Obj<T>, A::Error> {
                T::deserialize(de::value::MapAccessDeserializer::new(a)).map(Obj::Is)
            }
            not_scalars!();
            not_str!();
            not_seq!();
        }
        d.deserialize_any(V(PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize)]
    struct Item<'a> {
        #[serde(borrow, default)]
        name: Option<Str<'a>>,
        #[serde(default)]
        kind: Shape,
    }

    #[test]
    fn reads_what_it_wants_and_names_the_type_of_the_rest() {
        let text = r#"[{"name": "a", "kind": null, "x": [1, {"y": 2}]}, 5, {"name": "b\n"},
                       {"name": [1], "kind": "s"}, "str", {"name": null}]"#;
        let List::Is(items) = serde_json::from_str::<List<Obj<Item>>>(text).unwrap() else {
            panic!("an array");
        };
        let names: Vec<Option<Option<&str>>> = items
            .iter()
            .map(|i| i.get().map(|i| i.name.as_ref().and_then(Str::as_str)))
            .collect();
        assert_eq!(
            names,
            [
                Some(Some("a")),
                None,
                Some(Some("b\n")),
                Some(None),
                None,
                Some(None)
            ]
        );
        assert!(matches!(items[1], Obj::Not) && matches!(items[4], Obj::Not));
        let item = |i: usize| items[i].get().unwrap();
        assert_eq!(item(0).kind, Shape(Kind::Null));
        assert_eq!(item(2).kind, Shape(Kind::Absent));
        assert_eq!(item(3).kind, Shape(Kind::String));
        assert_eq!(item(3).name, Some(Str::Not(Kind::Array)));
        assert!(item(0).kind.optional(Kind::String) && !Shape(Kind::Bool).optional(Kind::String));
        assert!(matches!(
            serde_json::from_str::<List<Shape>>(r#"{"a": [1]}"#).unwrap(),
            List::Not
        ));
    }
}
