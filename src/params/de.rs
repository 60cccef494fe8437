//! A serde `Deserializer` over a query string's pairs.
//!
//! A query string is one flat map, but an endpoint's parameters are a struct of groups
//! (event filters, a radius search, paging). Serde's `flatten` cannot carry typed values or
//! say which parameter failed, so this deserializer walks the struct itself: it offers
//! every field of a struct by name, recursing into fields that are structs (groups) and
//! reading the rest (leaves) from the pairs. Every error names the parameter it concerns.

use serde::de::{self, DeserializeSeed, IntoDeserializer, MapAccess, Visitor};

use super::ParamError;
use super::limits::{MAX_LIST_ITEMS, MAX_TEXT_LEN};

/// A deserializer for a struct of parameters read from `pairs` (unique keys, trimmed
/// non-empty values): the whole query is a group with no text of its own.
pub fn of_pairs(pairs: &[(String, String)]) -> impl de::Deserializer<'_, Error = ParamError> {
    Value {
        name: "query",
        raw: None,
        pairs,
    }
}

/// Offers each field of a struct in turn, present or not.
struct Fields<'a> {
    pairs: &'a [(String, String)],
    fields: &'static [&'static str],
    next: usize,
}

impl<'de> MapAccess<'de> for Fields<'_> {
    type Error = ParamError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, ParamError> {
        let Some(name) = self.fields.get(self.next) else {
            return Ok(None);
        };
        seed.deserialize((*name).into_deserializer()).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, ParamError> {
        let name = self.fields[self.next];
        self.next += 1;
        let raw = self
            .pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str());
        seed.deserialize(Value {
            name,
            raw,
            pairs: self.pairs,
        })
    }
}

/// One field: a leaf read from its pair (if given), or a group of further fields.
struct Value<'a> {
    name: &'static str,
    raw: Option<&'a str>,
    pairs: &'a [(String, String)],
}

impl Value<'_> {
    /// The text of a leaf: required, and at most [`MAX_TEXT_LEN`] characters.
    fn raw(&self) -> Result<&str, ParamError> {
        let raw = self
            .raw
            .ok_or_else(|| ParamError::invalid(self.name, "is required"))?;
        if raw.chars().count() > MAX_TEXT_LEN {
            return Err(ParamError::invalid(
                self.name,
                format!("longer than {MAX_TEXT_LEN} characters"),
            ));
        }
        Ok(raw)
    }
}

impl<'de> de::Deserializer<'de> for Value<'_> {
    type Error = ParamError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ParamError> {
        let raw = self.raw()?;
        visitor
            .visit_str(raw)
            .map_err(|e: ParamError| e.named(self.name))
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ParamError> {
        match self.raw {
            None => visitor.visit_none(),
            Some(_) => visitor.visit_some(self),
        }
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ParamError> {
        match self.raw()? {
            "true" => visitor.visit_bool(true),
            "false" => visitor.visit_bool(false),
            v => Err(ParamError::invalid(
                self.name,
                format!("{v:?} is not true or false"),
            )),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, ParamError> {
        visitor.visit_newtype_struct(self)
    }

    /// `a,b,c`: trimmed items, none empty.
    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ParamError> {
        let name = self.name;
        let whole = self
            .raw
            .ok_or_else(|| ParamError::invalid(name, "is required"))?;
        let items: Vec<&str> = whole.split(',').map(str::trim).collect();
        if let Some(n) = items.iter().position(|s| s.is_empty()) {
            return Err(ParamError::invalid(
                name,
                format!("item {} of the comma list is empty", n + 1),
            ));
        }
        if items.len() > MAX_LIST_ITEMS {
            return Err(ParamError::invalid(
                name,
                format!("more than {MAX_LIST_ITEMS} items"),
            ));
        }
        let pairs = self.pairs;
        let values = items.into_iter().map(|item| Value {
            name,
            raw: Some(item),
            pairs,
        });
        visitor
            .visit_seq(de::value::SeqDeserializer::new(values))
            .map_err(|e| e.named(name))
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, ParamError> {
        let raw = self.raw()?;
        let access: de::value::StrDeserializer<'_, ParamError> = raw.into_deserializer();
        visitor.visit_enum(access).map_err(|e| e.named(self.name))
    }

    /// A group: its fields are read from the same pairs.
    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, ParamError> {
        visitor.visit_map(Fields {
            pairs: self.pairs,
            fields,
            next: 0,
        })
    }

    serde::forward_to_deserialize_any! {
        i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        unit unit_struct tuple tuple_struct map identifier ignored_any
    }
}

impl<'de> IntoDeserializer<'de, ParamError> for Value<'_> {
    type Deserializer = Self;

    fn into_deserializer(self) -> Self {
        self
    }
}
