//! The parameter names a struct's serde derive reads, found without parsing anything: a
//! probe deserializer answers the derive's `deserialize_struct` call by returning the
//! field list it was given. Tests compare these names with the OpenAPI document.

use serde::Deserialize;
use serde::de::{self, Visitor};

/// A type whose parameters are read by serde, listed field by field (groups expanded).
pub trait ParamFields {
    fn fields() -> Vec<&'static str>;
}

/// The field names of struct `T` as its serde derive declares them (empty for a type
/// that is not read as a struct).
pub fn struct_fields<'de, T: Deserialize<'de>>() -> &'static [&'static str] {
    match T::deserialize(Probe) {
        Err(Found::Fields(fields)) => fields,
        _ => &[],
    }
}

struct Probe;

#[derive(Debug)]
enum Found {
    Fields(&'static [&'static str]),
    Other(String),
}

impl std::fmt::Display for Found {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Found::Fields(fields) => write!(f, "struct of {}", fields.join(", ")),
            Found::Other(msg) => f.write_str(msg),
        }
    }
}

impl std::error::Error for Found {}

impl de::Error for Found {
    fn custom<T: std::fmt::Display>(msg: T) -> Self {
        Found::Other(msg.to_string())
    }
}

impl<'de> de::Deserializer<'de> for Probe {
    type Error = Found;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Found> {
        Err(Found::Other("not a struct".into()))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, Found> {
        Err(Found::Fields(fields))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
        ignored_any
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    #[allow(dead_code)]
    struct Pair {
        a: u8,
        #[serde(rename = "b-name")]
        b: Option<String>,
    }

    #[test]
    fn reads_the_derived_field_list() {
        assert_eq!(struct_fields::<Pair>(), ["a", "b-name"]);
        assert!(struct_fields::<u8>().is_empty());
    }
}
