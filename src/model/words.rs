//! The process-wide vocabulary: every event type, actor, place and source is stored once,
//! and an event holds a 4-byte [`Word`] for each. Eight `Arc<str>` fields were 128 of an
//! event's 200 bytes; as words they are 32, which is 0.96 GB at 10M events.
//!
//! The vocabulary only grows: a word stays when the last event using it is gone. Its size
//! is the number of distinct values ever loaded or written (ACLED's whole world export has
//! about 300k), not the number of events.
//!
//! Reading a word is lock-free: the strings sit in chunks that never move, each slot set
//! once. Adding one takes a lock, so loaders put an [`Interner`] in front of it that
//! remembers the words it has seen.

use std::fmt;
use std::sync::{Mutex, OnceLock};

use rustc_hash::FxHashMap;

/// An interned string: equal strings have equal words, so comparing two is comparing two
/// integers. Derefs to the string; orders and prints as the string.
///
/// ```ignore
/// use crate::model::words::Word;
/// let a = Word::new("Battles");
/// assert_eq!(a, Word::new("Battles"));
/// assert_eq!(&*a, "Battles");
/// assert!(Word::new("Abc") < Word::new("Battles"));
/// ```
/// (Run as the unit test `doc_example_word`: the module is internal.)
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Word(u32);

/// Chunk `k` holds `FIRST << k` slots: 23 chunks hold more words than a `u32` counts.
const FIRST: usize = 1024;
const CHUNKS: usize = 23;

struct Vocabulary {
    chunks: [OnceLock<Box<[OnceLock<&'static str>]>>; CHUNKS],
    index: Mutex<FxHashMap<&'static str, Word>>,
}

fn vocabulary() -> &'static Vocabulary {
    static V: OnceLock<Vocabulary> = OnceLock::new();
    V.get_or_init(|| Vocabulary {
        chunks: std::array::from_fn(|_| OnceLock::new()),
        index: Mutex::new(FxHashMap::default()),
    })
}

/// Chunk and slot of word number `n`.
fn place(n: usize) -> (usize, usize) {
    let shifted = n + FIRST;
    let chunk =
        (usize::BITS - 1 - shifted.leading_zeros()) as usize - FIRST.trailing_zeros() as usize;
    (chunk, shifted - (FIRST << chunk))
}

impl Word {
    /// The word for `s`, adding it to the vocabulary if it is new. Takes a lock: loaders
    /// go through an [`Interner`].
    pub fn new(s: &str) -> Word {
        let v = vocabulary();
        let mut index = v.index.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(w) = index.get(s) {
            return *w;
        }
        let n = index.len();
        let (chunk, slot) = place(n);
        assert!(
            n <= u32::MAX as usize && chunk < CHUNKS,
            "the vocabulary is full"
        );
        let s: &'static str = Box::leak(s.into());
        let slots =
            v.chunks[chunk].get_or_init(|| (0..FIRST << chunk).map(|_| OnceLock::new()).collect());
        // Set before the word exists anywhere, under the lock: no other call sets it.
        let _ = slots[slot].set(s);
        let w = Word(n as u32);
        index.insert(s, w);
        w
    }

    pub fn as_str(self) -> &'static str {
        let (chunk, slot) = place(self.0 as usize);
        // A word is only made by `new`, after its slot is set.
        vocabulary().chunks[chunk]
            .get()
            .and_then(|slots| slots[slot].get())
            .expect("a word's slot is set before the word exists")
    }
}

impl std::ops::Deref for Word {
    type Target = str;

    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for Word {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl PartialOrd for Word {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Word {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        if self.0 == other.0 {
            return std::cmp::Ordering::Equal;
        }
        self.as_str().cmp(other.as_str())
    }
}

impl PartialEq<str> for Word {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Word {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl fmt::Debug for Word {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Word {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<&str> for Word {
    fn from(s: &str) -> Word {
        Word::new(s)
    }
}

impl From<String> for Word {
    fn from(s: String) -> Word {
        Word::new(&s)
    }
}

impl serde::Serialize for Word {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// Remembers the words one loader has made, so a repeated value does not take the
/// vocabulary's lock. One per thread.
#[derive(Default)]
pub struct Interner {
    seen: FxHashMap<&'static str, Word>,
}

impl Interner {
    /// The word for `s`, added to the vocabulary if new.
    pub fn intern(&mut self, s: &str) -> Word {
        if let Some(w) = self.seen.get(s) {
            return *w;
        }
        let w = Word::new(s);
        self.seen.insert(w.as_str(), w);
        w
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_cover_each_number_once() {
        assert_eq!(place(0), (0, 0));
        assert_eq!(place(FIRST - 1), (0, FIRST - 1));
        assert_eq!(place(FIRST), (1, 0));
        assert_eq!(place(3 * FIRST - 1), (1, 2 * FIRST - 1));
        assert_eq!(place(3 * FIRST), (2, 0));
        let mut last = place(0);
        for n in 1..100_000 {
            let p = place(n);
            assert!(
                p == (last.0, last.1 + 1)
                    || (p == (last.0 + 1, 0) && last.1 == (FIRST << last.0) - 1)
            );
            last = p;
        }
    }

    #[test]
    fn words_are_shared_across_threads_and_read_back() {
        let made: Vec<Vec<(String, Word)>> = std::thread::scope(|s| {
            let hands: Vec<_> = (0..4)
                .map(|t| {
                    s.spawn(move || {
                        let mut i = Interner::default();
                        (0..5_000)
                            .map(|k| {
                                let text = format!("word-{}", (k * 7 + t) % 3_000);
                                let w = i.intern(&text);
                                (text, w)
                            })
                            .collect()
                    })
                })
                .collect();
            hands.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let mut by_text: FxHashMap<String, Word> = FxHashMap::default();
        for (text, w) in made.into_iter().flatten() {
            assert_eq!(w.as_str(), text);
            assert_eq!(*by_text.entry(text).or_insert(w), w, "one word per string");
        }
        assert_eq!(Word::new("word-17"), by_text["word-17"]);
    }
}

#[cfg(test)]
mod doc_examples {
    #[test]
    fn doc_example_word() {
        use crate::model::words::Word;
        let a = Word::new("Battles");
        assert_eq!(a, Word::new("Battles"));
        assert_eq!(&*a, "Battles");
        assert!(Word::new("Abc") < Word::new("Battles"));
    }
}
