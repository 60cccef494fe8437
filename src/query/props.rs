//! Properties a client can filter items by equality (OGC API queryables): one enum per
//! kind of item, with its names and value kinds in one place.

/// The kind of value a property holds (its JSON Schema type).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PropKind {
    Text,
    Integer,
}

/// A closed set of filterable properties.
///
/// ```ignore
/// use crate::query::filter::EventProp;
/// use crate::query::props::Queryable;
/// assert_eq!(EventProp::by_name("location"), Some(EventProp::Location));
/// assert_eq!(EventProp::Location.name(), "location");
/// ```
/// (Run as the unit test `doc_example_queryable`: the module is internal.)
pub trait Queryable: Copy + PartialEq + 'static {
    const ALL: &'static [Self];
    /// The names of `ALL`, in the same order.
    const NAMES: &'static [&'static str];

    fn kind(self) -> PropKind;

    fn name(self) -> &'static str {
        let i = Self::ALL.iter().position(|p| *p == self).unwrap_or(0);
        Self::NAMES[i]
    }

    fn by_name(name: &str) -> Option<Self> {
        Self::NAMES
            .iter()
            .position(|n| *n == name)
            .map(|i| Self::ALL[i])
    }
}

/// Text equality as every filter does it: case-insensitive.
pub fn text_eq(value: Option<&str>, want: &str) -> bool {
    value.is_some_and(|v| v.eq_ignore_ascii_case(want))
}

/// No properties: for documents common to every collection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoProp {}

impl Queryable for NoProp {
    const ALL: &'static [NoProp] = &[];
    const NAMES: &'static [&'static str] = &[];

    fn kind(self) -> PropKind {
        match self {}
    }
}

#[cfg(test)]
mod doc_examples {
    #[test]
    fn doc_example_queryable() {
        use crate::query::filter::EventProp;
        use crate::query::props::Queryable;
        assert_eq!(EventProp::by_name("location"), Some(EventProp::Location));
        assert_eq!(EventProp::Location.name(), "location");
    }
}
