//! Lenient borrowed readers for the parts of a client's body the proxy checks without
//! building a tree: each wrapper reads a value of the JSON type it wants (`Str`, `List`,
//! `Obj`) or, for any other type, skips it and records which type it was (`Not(Kind)`), so
//! the caller can answer with a 400 that names the place and the type it expected. `Shape`
//! records only the type. Nothing here fails on a well-formed body: the route has already
//! checked the syntax (`http::strict_json::check`).
//!
//! The visitor pieces every lenient reader of the crate is built from live here too
//! (`skip!`, `text!`, `any_value!`): the chat chunk's, the Chat client request's, the
//! Anthropic request's and the upstream Responses event's readers differ only in what they
//! keep, never in how they skip what they do not want.

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;
use std::borrow::Cow;
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

/// Visitor methods that take a value of these JSON types, skip it (an array's items, an
/// object's members), and return `$value`: what a lenient reader reads for a type it does
/// not want. Every lenient reader of the crate (here, `chat_chunk`, `chat_client`,
/// `anthropic_request`, `responses::upstream`) is built from these pieces. In the form
/// `|kind| value` the value is built from the `Kind` skipped.
macro_rules! skip {
    (|$k:ident| $v:expr; $($kind:ident),*) => {
        $( $crate::protocol::lenient::skip!(@$kind $k $v); )*
    };
    ($v:expr; $($kind:ident),*) => {
        $( $crate::protocol::lenient::skip!(@$kind _kind $v); )*
    };
    (@bool $k:ident $v:expr) => {
        $crate::protocol::lenient::skip!(@one visit_bool (bool) Bool $k $v);
    };
    (@i64 $k:ident $v:expr) => {
        $crate::protocol::lenient::skip!(@one visit_i64 (i64) Number $k $v);
    };
    (@u64 $k:ident $v:expr) => {
        $crate::protocol::lenient::skip!(@one visit_u64 (u64) Number $k $v);
    };
    (@f64 $k:ident $v:expr) => {
        $crate::protocol::lenient::skip!(@one visit_f64 (f64) Number $k $v);
    };
    (@str $k:ident $v:expr) => {
        $crate::protocol::lenient::skip!(@one visit_str (&str) String $k $v);
    };
    (@one $f:ident ($t:ty) $kind:ident $k:ident $v:expr) => {
        fn $f<E: serde::de::Error>(self, _: $t) -> Result<Self::Value, E> {
            let $k = $crate::protocol::lenient::Kind::$kind;
            Ok($v)
        }
    };
    (@unit $k:ident $v:expr) => {
        fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            let $k = $crate::protocol::lenient::Kind::Null;
            Ok($v)
        }
        fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            let $k = $crate::protocol::lenient::Kind::Null;
            Ok($v)
        }
    };
    (@seq $k:ident $v:expr) => {
        fn visit_seq<A: serde::de::SeqAccess<'de>>(
            self,
            mut seq: A,
        ) -> Result<Self::Value, A::Error> {
            while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
            let $k = $crate::protocol::lenient::Kind::Array;
            Ok($v)
        }
    };
    (@map $k:ident $v:expr) => {
        fn visit_map<A: serde::de::MapAccess<'de>>(
            self,
            mut map: A,
        ) -> Result<Self::Value, A::Error> {
            while map
                .next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?
                .is_some()
            {}
            let $k = $crate::protocol::lenient::Kind::Object;
            Ok($v)
        }
    };
}
pub(crate) use skip;

/// Visitor methods that read a string as `Cow` text, borrowed from the input when it holds
/// no escape, and return `$value` built from it.
macro_rules! text {
    (|$s:ident| $v:expr) => {
        fn visit_borrowed_str<E: serde::de::Error>(self, s: &'de str) -> Result<Self::Value, E> {
            let $s = std::borrow::Cow::Borrowed(s);
            Ok($v)
        }
        fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Self::Value, E> {
            let $s = std::borrow::Cow::Owned(s.to_string());
            Ok($v)
        }
        fn visit_string<E: serde::de::Error>(self, s: String) -> Result<Self::Value, E> {
            let $s = std::borrow::Cow::Owned(s);
            Ok($v)
        }
    };
}
pub(crate) use text;

/// The visitor's `expecting` (every lenient reader takes any value), and `null` wrapped as
/// an option (`Option` fields) read as the value inside.
macro_rules! any_value {
    () => {
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("any JSON value")
        }
        fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_any(self)
        }
    };
}
pub(crate) use any_value;

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

impl Str<'_> {
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
            any_value!();
            text!(|s| Str::Is(s));
            skip!(|kind| Str::Not(kind); bool, i64, u64, f64, unit, seq, map);
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

impl<'de, T: Deserialize<'de>> Deserialize<'de> for List<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<List<T>, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = List<T>;
            any_value!();
            fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<List<T>, A::Error> {
                let mut items = Vec::with_capacity(a.size_hint().unwrap_or(0).min(4096));
                while let Some(item) = a.next_element()? {
                    items.push(item);
                }
                Ok(List::Is(items))
            }
            skip!(List::Not; bool, i64, u64, f64, str, unit, map);
        }
        d.deserialize_any(V(PhantomData))
    }
}

/// An object read as `T` (a struct of lenient fields, unknown members skipped), or
/// another type (the checks only say that an object was expected).
#[derive(Debug, Default)]
pub enum Obj<T> {
    Is(T),
    /// Not an object (or, as a `#[serde(default)]` field's default, absent).
    #[default]
    Not,
}

impl<T> Obj<T> {
    pub fn get(&self) -> Option<&T> {
        match self {
            Obj::Is(t) => Some(t),
            Obj::Not => None,
        }
    }

    pub fn into_option(self) -> Option<T> {
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
            any_value!();
            fn visit_map<A: MapAccess<'de>>(self, a: A) -> Result<Obj<T>, A::Error> {
                T::deserialize(de::value::MapAccessDeserializer::new(a)).map(Obj::Is)
            }
            skip!(Obj::Not; bool, i64, u64, f64, str, unit, seq);
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
