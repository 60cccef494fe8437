//! The base events' ids, for lookups by id: their 64-bit hashes sorted, each with its
//! event, and where each run of hashes with the same leading bits starts. Three flat
//! arrays, built by one sort and saved and read back as they are; about a third of the
//! memory of a hash map of the ids (12 bytes an event against 40).
//!
//! ```ignore
//! use crate::atlas::ids::IdIndex;
//! let ids = ["MLI1", "MLI2", "BFO7"];
//! let index = IdIndex::build(ids.iter().copied());
//! assert_eq!(index.get("BFO7", |i| ids[i as usize]), Some(2));
//! assert_eq!(index.get("NER9", |i| ids[i as usize]), None);
//! ```
//! (Run as the unit test `doc_example_module`: the module is internal.)

use std::io::{self, Read, Write};

use crate::atlas::plain_io::{PlainReader, PlainWriter};

pub struct IdIndex {
    /// Hashes ascending, and the event of each.
    hashes: Vec<u64>,
    events: Vec<u32>,
    /// `starts[p]`: the first hash whose leading `bits` bits are `p` (plus one past the last).
    starts: Vec<u32>,
    bits: u32,
}

fn hash(id: &str) -> u64 {
    twox_hash::XxHash64::oneshot(0, id.as_bytes())
}

impl IdIndex {
    /// The index of `ids`, event `i` having the `i`th.
    pub fn build<'a>(ids: impl Iterator<Item = &'a str>) -> IdIndex {
        let mut keyed: Vec<(u64, u32)> = ids
            .enumerate()
            .map(|(i, id)| (hash(id), i as u32))
            .collect();
        keyed.sort_unstable();
        // About eight hashes a prefix.
        let bits = (keyed.len() / 8).max(1).ilog2().min(24);
        let (hashes, events): (Vec<u64>, Vec<u32>) = keyed.into_iter().unzip();
        let starts = starts_of(&hashes, bits);
        IdIndex {
            hashes,
            events,
            starts,
            bits,
        }
    }

    /// The event with id `id`; `id_of(i)` is the id of event `i` (hashes may collide).
    pub fn get<'a>(&self, id: &str, id_of: impl Fn(u32) -> &'a str) -> Option<u32> {
        self.find(hash(id), id, id_of)
    }

    fn find<'a>(&self, h: u64, id: &str, id_of: impl Fn(u32) -> &'a str) -> Option<u32> {
        let p = prefix(h, self.bits);
        let run = self.starts[p] as usize..self.starts[p + 1] as usize;
        let first = run.start + self.hashes[run.clone()].partition_point(|&x| x < h);
        self.hashes[first..run.end]
            .iter()
            .take_while(|&&x| x == h)
            .zip(&self.events[first..])
            .map(|(_, &e)| e)
            .find(|&e| id_of(e) == id)
    }

    pub fn save<W: Write>(&self, w: &mut PlainWriter<W>) -> io::Result<()> {
        w.value(&self.bits)?;
        w.array(&self.hashes)?;
        w.array(&self.events)
    }

    /// An index [`IdIndex::save`] wrote for `n` events, checked to be whole.
    pub fn read<R: Read>(r: &mut PlainReader<R>, n: usize) -> io::Result<IdIndex> {
        let bits: u32 = r.value()?;
        let hashes: Vec<u64> = r.array()?;
        let events: Vec<u32> = r.array()?;
        let whole = bits <= 24
            && hashes.len() == n
            && events.len() == n
            && hashes.windows(2).all(|w| w[0] <= w[1])
            && events.iter().all(|&e| (e as usize) < n);
        if !whole {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "the id index is not whole",
            ));
        }
        Ok(IdIndex {
            starts: starts_of(&hashes, bits),
            hashes,
            events,
            bits,
        })
    }
}

fn prefix(h: u64, bits: u32) -> usize {
    if bits == 0 {
        0
    } else {
        (h >> (64 - bits)) as usize
    }
}

fn starts_of(hashes: &[u64], bits: u32) -> Vec<u32> {
    let mut starts = vec![0u32; (1 << bits) + 1];
    for &h in hashes {
        starts[prefix(h, bits) + 1] += 1;
    }
    for p in 1..starts.len() {
        starts[p] += starts[p - 1];
    }
    starts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_every_id_and_no_other() {
        for n in [0, 1, 7, 100, 50_000] {
            let ids: Vec<String> = (0..n).map(|i| format!("MLI{i}")).collect();
            let index = IdIndex::build(ids.iter().map(String::as_str));
            for (i, id) in ids.iter().enumerate() {
                assert_eq!(index.get(id, |e| &ids[e as usize]), Some(i as u32));
            }
            for absent in ["", "MLI", "MLI-1", "BFO3"] {
                assert_eq!(index.get(absent, |e| &ids[e as usize]), None);
            }
        }
    }

    #[test]
    fn colliding_hashes_are_told_apart_by_the_id() {
        // A table built with one hash for all: every lookup must compare ids.
        let ids = ["A", "B", "C"];
        let hashes = vec![7u64; 3];
        let index = IdIndex {
            starts: starts_of(&hashes, 0),
            hashes,
            events: vec![0, 1, 2],
            bits: 0,
        };
        let id_of = |e: u32| ids[e as usize];
        assert_eq!(index.starts, [0, 3]);
        assert_eq!(index.find(7, "B", id_of), Some(1));
        assert_eq!(index.find(7, "C", id_of), Some(2));
        assert_eq!(index.find(7, "D", id_of), None);
        assert_eq!(index.find(8, "B", id_of), None);
    }
}

#[cfg(test)]
mod doc_examples {
    #[test]
    fn doc_example_module() {
        use crate::atlas::ids::IdIndex;
        let ids = ["MLI1", "MLI2", "BFO7"];
        let index = IdIndex::build(ids.iter().copied());
        assert_eq!(index.get("BFO7", |i| ids[i as usize]), Some(2));
        assert_eq!(index.get("NER9", |i| ids[i as usize]), None);
    }
}
