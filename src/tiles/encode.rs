//! Mapbox Vector Tile 2.1 encoding: the protobuf messages written directly, each layer's
//! keys and values shared through fast hash tables. The `mvt` crate (used before) allocated
//! a `String` and hashed it with SipHash for every attribute of every feature, which was
//! nearly half the time of a tile of single events.
//!
//! ```ignore
//! use crate::tiles::encode::{Geom, LayerWriter, TileWriter, Value};
//! let mut layer = LayerWriter::new("events");
//! layer.feature(&Geom::point([100, 200]), [("count", Value::Uint(3))]);
//! let mut tile = TileWriter::default();
//! tile.add(layer);
//! assert!(tile.finish().unwrap().len() > 10);
//! ```
//! (Run as the unit test `doc_example_module`: the module is internal.)

use std::borrow::Cow;

use rustc_hash::FxHashMap;

use super::coord::EXTENT;
use super::shapes::TileGeom;

#[cfg(test)]
#[path = "crosscheck.rs"]
pub(super) mod crosscheck;

/// A feature's geometry: its type and command integers (MVT section 4.3).
pub struct Geom {
    kind: u32,
    commands: Vec<u32>,
    /// In tests, the parts as given, for the `mvt` crate to encode too (`crosscheck`).
    #[cfg(test)]
    parts: Vec<Vec<[i32; 2]>>,
}

const POINT: u32 = 1;
const LINESTRING: u32 = 2;
const POLYGON: u32 = 3;

fn command(id: u32, count: usize) -> u32 {
    id | ((count as u32) << 3)
}

fn zigzag(v: i32) -> u32 {
    ((v << 1) ^ (v >> 31)) as u32
}

impl Geom {
    pub fn point(at: [i32; 2]) -> Geom {
        Geom {
            kind: POINT,
            commands: vec![command(1, 1), zigzag(at[0]), zigzag(at[1])],
            #[cfg(test)]
            parts: vec![vec![at]],
        }
    }

    /// Lines or polygon rings; `None` when nothing drawable is left. Repeated vertices
    /// are dropped (a LineTo must move), so are a ring's closing vertex (ClosePath draws
    /// it), lines of fewer than two vertices and rings of fewer than three.
    pub fn shape(g: &TileGeom) -> Option<Geom> {
        let (kind, parts): (u32, Vec<&Vec<[i32; 2]>>) = match g {
            TileGeom::Polygons(polys) => (POLYGON, polys.iter().flatten().collect()),
            TileGeom::Lines(lines) => (LINESTRING, lines.iter().collect()),
        };
        let mut commands = Vec::new();
        let mut cursor = [0i32; 2];
        let mut part = Vec::new();
        for p in parts {
            part.clear();
            part.extend(p.iter().copied());
            part.dedup();
            if kind == POLYGON && part.len() > 1 && part.first() == part.last() {
                part.pop();
            }
            if part.len() < if kind == POLYGON { 3 } else { 2 } {
                continue;
            }
            for (i, v) in part.iter().enumerate() {
                match i {
                    0 => commands.push(command(1, 1)),
                    1 => commands.push(command(2, part.len() - 1)),
                    _ => {}
                }
                commands.extend([zigzag(v[0] - cursor[0]), zigzag(v[1] - cursor[1])]);
                cursor = *v;
            }
            if kind == POLYGON {
                commands.push(command(7, 1));
            }
        }
        (!commands.is_empty()).then_some(Geom {
            kind,
            commands,
            #[cfg(test)]
            parts: match g {
                TileGeom::Polygons(polys) => polys.iter().flatten().cloned().collect(),
                TileGeom::Lines(lines) => lines.clone(),
            },
        })
    }
}

/// An attribute value.
#[derive(Debug, Clone)]
pub enum Value<'a> {
    Str(Cow<'a, str>),
    Uint(u64),
    Sint(i64),
    Double(f64),
}

/// One layer: its features as encoded, and the keys and values they refer to.
pub struct LayerWriter {
    name: &'static str,
    features: Vec<u8>,
    count: usize,
    keys: Vec<&'static str>,
    key_ids: FxHashMap<&'static str, u32>,
    /// The layer's values, in order (strings owned: they outlive the features' borrows).
    values: Vec<Value<'static>>,
    strings: FxHashMap<String, u32>,
    /// Numbers by kind (0 uint, 1 sint, 2 double) and bits.
    numbers: FxHashMap<(u8, u64), u32>,
    tags: Vec<u32>,
    /// In tests, every feature as given, for the `mvt` crate to encode too.
    #[cfg(test)]
    shadow: Vec<crosscheck::Feature>,
}

impl LayerWriter {
    pub fn new(name: &'static str) -> LayerWriter {
        LayerWriter {
            name,
            features: Vec::new(),
            count: 0,
            keys: Vec::new(),
            key_ids: FxHashMap::default(),
            values: Vec::new(),
            strings: FxHashMap::default(),
            numbers: FxHashMap::default(),
            tags: Vec::new(),
            #[cfg(test)]
            shadow: Vec::new(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    fn key(&mut self, k: &'static str) -> u32 {
        let next = self.keys.len() as u32;
        *self.key_ids.entry(k).or_insert_with(|| {
            self.keys.push(k);
            next
        })
    }

    fn value(&mut self, v: Value<'_>) -> u32 {
        let next = self.values.len() as u32;
        let (kind, bits, kept) = match v {
            Value::Str(s) => {
                if let Some(&i) = self.strings.get(&*s) {
                    return i;
                }
                let s = s.into_owned();
                self.strings.insert(s.clone(), next);
                self.values.push(Value::Str(Cow::Owned(s)));
                return next;
            }
            Value::Uint(n) => (0, n, Value::Uint(n)),
            Value::Sint(n) => (1, n as u64, Value::Sint(n)),
            Value::Double(x) => (2, x.to_bits(), Value::Double(x)),
        };
        *self.numbers.entry((kind, bits)).or_insert_with(|| {
            self.values.push(kept);
            next
        })
    }

    /// Adds a feature of `geom` with attributes `tags` (key, value).
    pub fn feature<'a>(
        &mut self,
        geom: &Geom,
        tags: impl IntoIterator<Item = (&'static str, Value<'a>)>,
    ) {
        let mut ids = std::mem::take(&mut self.tags);
        ids.clear();
        #[cfg(test)]
        let mut shadow = crosscheck::Feature::of(geom);
        for (k, v) in tags {
            #[cfg(test)]
            shadow.tag(k, &v);
            let k = self.key(k);
            ids.extend([k, self.value(v)]);
        }
        let mut f = Vec::with_capacity(8 + 5 * (ids.len() + geom.commands.len()));
        packed(&mut f, 2, &ids);
        field_varint(&mut f, 3, u64::from(geom.kind));
        packed(&mut f, 4, &geom.commands);
        field_bytes(&mut self.features, 2, &f);
        self.count += 1;
        self.tags = ids;
        #[cfg(test)]
        self.shadow.push(shadow);
    }

    fn encode(&self, out: &mut Vec<u8>) {
        let mut layer = Vec::with_capacity(self.features.len() + 64 * self.values.len() + 32);
        field_varint(&mut layer, 15, 2);
        field_bytes(&mut layer, 1, self.name.as_bytes());
        layer.extend_from_slice(&self.features);
        for k in &self.keys {
            field_bytes(&mut layer, 3, k.as_bytes());
        }
        let mut v = Vec::new();
        for value in &self.values {
            v.clear();
            match value {
                Value::Str(s) => field_bytes(&mut v, 1, s.as_bytes()),
                Value::Double(x) => {
                    varint(&mut v, (3 << 3) | 1);
                    v.extend_from_slice(&x.to_le_bytes());
                }
                Value::Uint(n) => field_varint(&mut v, 5, *n),
                Value::Sint(n) => field_varint(&mut v, 6, ((n << 1) ^ (n >> 63)) as u64),
            }
            field_bytes(&mut layer, 4, &v);
        }
        field_varint(&mut layer, 5, u64::from(EXTENT));
        field_bytes(out, 3, &layer);
    }
}

/// A tile: its layers, as encoded.
#[derive(Default)]
pub struct TileWriter {
    out: Vec<u8>,
    /// In tests, the same tile encoded by the `mvt` crate.
    #[cfg(test)]
    shadow: crosscheck::Shadow,
}

impl TileWriter {
    /// Adds `layer` unless it is empty (an empty layer is bytes for nothing).
    pub fn add(&mut self, layer: LayerWriter) {
        if !layer.is_empty() {
            layer.encode(&mut self.out);
            #[cfg(test)]
            self.shadow.add(layer.name, &layer.shadow);
        }
    }

    /// The tile's bytes; `None` when no layer has anything in it.
    pub fn finish(self) -> Option<Vec<u8>> {
        #[cfg(test)]
        self.shadow.keep();
        (!self.out.is_empty()).then_some(self.out)
    }
}

fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn field_varint(out: &mut Vec<u8>, field: u32, v: u64) {
    varint(out, u64::from(field << 3));
    varint(out, v);
}

fn field_bytes(out: &mut Vec<u8>, field: u32, bytes: &[u8]) {
    varint(out, u64::from((field << 3) | 2));
    varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

fn packed(out: &mut Vec<u8>, field: u32, values: &[u32]) {
    if values.is_empty() {
        return;
    }
    let mut body = Vec::with_capacity(values.len() * 2);
    for &v in values {
        varint(&mut body, u64::from(v));
    }
    field_bytes(out, field, &body);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_and_zigzag_as_the_protobuf_spec_gives_them() {
        let mut out = Vec::new();
        varint(&mut out, 300);
        assert_eq!(out, [0xac, 0x02]);
        assert_eq!(
            [0, -1, 1, -2, 2147483647, -2147483648].map(zigzag),
            [0, 1, 2, 3, 4294967294, 4294967295]
        );
    }

    /// The polygon and line of the MVT specification's examples (4.3.5), command for
    /// command.
    #[test]
    fn geometry_commands_follow_the_specification() {
        let line = TileGeom::Lines(vec![vec![[2, 2], [2, 10], [10, 10]]]);
        assert_eq!(
            Geom::shape(&line).unwrap().commands,
            [9, 4, 4, 18, 0, 16, 16, 0]
        );
        let ring = TileGeom::Polygons(vec![vec![vec![[3, 6], [8, 12], [20, 34], [3, 6]]]]);
        assert_eq!(
            Geom::shape(&ring).unwrap().commands,
            [9, 6, 12, 18, 10, 12, 24, 44, 15]
        );
        let lines = TileGeom::Lines(vec![vec![[2, 2], [2, 10], [10, 10]], vec![[1, 1], [3, 5]]]);
        assert_eq!(
            Geom::shape(&lines).unwrap().commands,
            [9, 4, 4, 18, 0, 16, 16, 0, 9, 17, 17, 10, 4, 8]
        );
    }

    #[test]
    fn degenerate_parts_are_dropped() {
        let g = TileGeom::Polygons(vec![vec![vec![[1, 1], [1, 1], [5, 5], [1, 1]]]]);
        assert!(Geom::shape(&g).is_none());
        let g = TileGeom::Lines(vec![vec![[4, 4], [4, 4]]]);
        assert!(Geom::shape(&g).is_none());
    }

    #[test]
    fn keys_and_values_are_shared_within_a_layer() {
        let mut layer = LayerWriter::new("l");
        let p = Geom::point([1, 1]);
        layer.feature(
            &p,
            [
                ("type", Value::Str("Battles".into())),
                ("n", Value::Uint(3)),
            ],
        );
        layer.feature(
            &p,
            [
                ("type", Value::Str("Battles".into())),
                ("n", Value::Sint(3)),
            ],
        );
        layer.feature(&p, [("n", Value::Uint(3)), ("x", Value::Double(0.5))]);
        assert_eq!(layer.keys, ["type", "n", "x"]);
        assert_eq!(layer.values.len(), 4, "Battles, uint 3, sint 3, 0.5");
    }
}

#[cfg(test)]
mod doc_examples {
    #[test]
    fn doc_example_module() {
        use crate::tiles::encode::{Geom, LayerWriter, TileWriter, Value};
        let mut layer = LayerWriter::new("events");
        layer.feature(&Geom::point([100, 200]), [("count", Value::Uint(3))]);
        let mut tile = TileWriter::default();
        tile.add(layer);
        assert!(tile.finish().unwrap().len() > 10);
    }
}
