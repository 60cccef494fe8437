//! The distinct event types of a set of events as small indexes, so that pre-summed data
//! (the tile clusters, the hexbin pyramid) can count events per type in a fixed array.

use crate::model::Word;

use rustc_hash::FxHashMap;

use crate::model::Event;

/// Pre-summed data tracks at most this many distinct event types (ACLED has 6, UCDP 3);
/// with more, callers fall back to counting from the events.
pub const MAX_TYPES: usize = 8;

/// Event type names in first-seen order, and each name's index among them.
#[derive(Debug, Clone, Default)]
pub struct Vocabulary {
    pub names: Vec<Word>,
    pub ids: FxHashMap<Word, usize>,
}

impl Vocabulary {
    /// The types of `events`, or `None` if there are more than [`MAX_TYPES`].
    ///
    /// ```ignore
    /// use crate::query::types::Vocabulary;
    /// let v = Vocabulary::of(&[]).unwrap();
    /// assert!(v.names.is_empty());
    /// ```
    /// (Run as the unit test `doc_example_of`: the module is internal.)
    pub fn of(events: &[Event]) -> Option<Vocabulary> {
        let mut v = Vocabulary::default();
        for e in events {
            if !v.ids.contains_key(&e.event_type) {
                if v.names.len() == MAX_TYPES {
                    return None;
                }
                v.ids.insert(e.event_type, v.names.len());
                v.names.push(e.event_type);
            }
        }
        Some(v)
    }

    /// The most frequent type of per-type `counts` (ties: alphabetical), `""` if none.
    pub fn top(&self, counts: &[u32; MAX_TYPES]) -> Word {
        let top = top_of(self.names.iter().zip(counts).map(|(n, &k)| (n.as_str(), k)));
        self.names
            .iter()
            .find(|n| **n == top)
            .map_or_else(|| Word::new(""), |n| *n)
    }
}

/// The most frequent of `(name, count)` pairs with a count above zero (ties: the
/// alphabetically first), `""` if none.
pub fn top_of<'a>(counts: impl Iterator<Item = (&'a str, u32)>) -> &'a str {
    counts
        .filter(|(_, k)| *k > 0)
        .max_by(|x, y| x.1.cmp(&y.1).then(y.0.cmp(x.0)))
        .map_or("", |(t, _)| t)
}

#[cfg(test)]
mod doc_examples {
    #[test]
    fn doc_example_of() {
        use crate::query::types::Vocabulary;
        let v = Vocabulary::of(&[]).unwrap();
        assert!(v.names.is_empty());
    }
}
