//! A static spatial index of points: a packed Hilbert R-tree. Points are sorted along a
//! Hilbert curve and grouped sixteen to a node, level by level, all in three flat vectors.
//! Building it is a sort; freeing it returns three allocations, not one per node (which
//! matters when a merge replaces the index of a million events).
//!
//! ```ignore
//! use crate::atlas::points::PointIndex;
//! let index = PointIndex::new(vec![([-4.18, 14.48], 7), ([-0.04, 16.27], 8)]);
//! let found: Vec<u32> = index.in_box([-5.0, 14.0], [-3.0, 15.0]).map(|(d, _)| d).collect();
//! assert_eq!(found, [7]);
//! assert_eq!(index.nearest([0.0, 16.0]).next().map(|(d, _)| d), Some(8));
//! ```
//! (Run as the unit test `doc_example_module`: the module is internal.)

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use crate::atlas::plain_io::{PlainReader, PlainWriter};

/// Children per node.
const NODE: usize = 16;

pub struct PointIndex {
    /// The points in Hilbert order, and each one's data.
    points: Vec<[f64; 2]>,
    data: Vec<u32>,
    /// Node boxes `[min x, min y, max x, max y]`, level after level from the points'
    /// parents up to the root.
    boxes: Vec<[f64; 4]>,
    /// Where each level starts in `boxes`, and one past the last (level 1 first: level 0
    /// is the points).
    levels: Vec<usize>,
}

impl Default for PointIndex {
    fn default() -> PointIndex {
        PointIndex::new(Vec::new())
    }
}

/// Position of `(x, y)` (each below 2^16) along a Hilbert curve filling the square.
fn hilbert(mut x: u32, mut y: u32) -> u64 {
    const N: u32 = 1 << 16;
    let mut d = 0u64;
    let mut s = N / 2;
    while s > 0 {
        let rx = u32::from(x & s > 0);
        let ry = u32::from(y & s > 0);
        d += u64::from(s) * u64::from(s) * u64::from((3 * rx) ^ ry);
        if ry == 0 {
            if rx == 1 {
                x = N - 1 - x;
                y = N - 1 - y;
            }
            std::mem::swap(&mut x, &mut y);
        }
        s /= 2;
    }
    d
}

fn union(a: [f64; 4], b: [f64; 4]) -> [f64; 4] {
    [
        a[0].min(b[0]),
        a[1].min(b[1]),
        a[2].max(b[2]),
        a[3].max(b[3]),
    ]
}

impl PointIndex {
    /// Indexes `items` (point, data).
    pub fn new(mut items: Vec<([f64; 2], u32)>) -> PointIndex {
        let bounds = items
            .iter()
            .map(|(p, _)| [p[0], p[1], p[0], p[1]])
            .reduce(union);
        if let Some([x0, y0, x1, y1]) = bounds {
            let scale = |v: f64, lo: f64, hi: f64| {
                let span = (hi - lo).max(f64::MIN_POSITIVE);
                (((v - lo) / span) * 65535.0) as u32
            };
            items.sort_by_cached_key(|(p, _)| hilbert(scale(p[0], x0, x1), scale(p[1], y0, y1)));
        }
        let (points, data): (Vec<[f64; 2]>, Vec<u32>) = items.into_iter().unzip();
        let mut boxes: Vec<[f64; 4]> = points
            .chunks(NODE)
            .map(|c| {
                c.iter()
                    .map(|p| [p[0], p[1], p[0], p[1]])
                    .reduce(union)
                    .expect("chunks are not empty")
            })
            .collect();
        let mut levels = vec![0, boxes.len()];
        while levels[levels.len() - 1] - levels[levels.len() - 2] > 1 {
            let (start, end) = (levels[levels.len() - 2], levels[levels.len() - 1]);
            let parents: Vec<[f64; 4]> = boxes[start..end]
                .chunks(NODE)
                .map(|c| c.iter().copied().reduce(union).expect("not empty"))
                .collect();
            boxes.extend(parents);
            levels.push(boxes.len());
        }
        PointIndex {
            points,
            data,
            boxes,
            levels,
        }
    }

    pub fn len(&self) -> usize {
        self.points.len()
    }

    /// Writes the index as built, for [`PointIndex::read`].
    pub fn save<W: std::io::Write>(&self, w: &mut PlainWriter<W>) -> std::io::Result<()> {
        w.array(&self.points)?;
        w.array(&self.data)?;
        w.array(&self.boxes)?;
        let levels: Vec<u64> = self.levels.iter().map(|&l| l as u64).collect();
        w.array(&levels)
    }

    /// An index [`PointIndex::save`] wrote, checked to be whole.
    pub fn read<R: std::io::Read>(r: &mut PlainReader<R>) -> std::io::Result<PointIndex> {
        let points: Vec<[f64; 2]> = r.array()?;
        let data: Vec<u32> = r.array()?;
        let boxes: Vec<[f64; 4]> = r.array()?;
        let levels: Vec<usize> = r.array::<u64>()?.into_iter().map(|l| l as usize).collect();
        let whole = data.len() == points.len()
            && levels.len() >= 2
            && levels[0] == 0
            && levels.windows(2).all(|w| w[0] <= w[1])
            && levels.last() == Some(&boxes.len())
            && levels[1] == points.len().div_ceil(NODE);
        if !whole {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "the point index is not whole",
            ));
        }
        Ok(PointIndex {
            points,
            data,
            boxes,
            levels,
        })
    }

    /// How many nodes (points for level 0) level `level` has.
    fn level_len(&self, level: usize) -> usize {
        match level {
            0 => self.points.len(),
            l => self.levels[l] - self.levels[l - 1],
        }
    }

    /// The box of node `j` of level `level` (>= 1).
    fn node_box(&self, level: usize, j: usize) -> [f64; 4] {
        self.boxes[self.levels[level - 1] + j]
    }

    /// The top level (the root's), 0 when empty.
    fn top(&self) -> usize {
        if self.points.is_empty() {
            0
        } else {
            self.levels.len() - 1
        }
    }

    /// The children of node `j` of level `level`: indices at `level - 1`.
    fn children(&self, level: usize, j: usize) -> std::ops::Range<usize> {
        j * NODE..((j + 1) * NODE).min(self.level_len(level - 1))
    }

    /// The data and point of every point inside the box `min..=max`, in no order.
    pub fn in_box(&self, min: [f64; 2], max: [f64; 2]) -> InBox<'_> {
        let top = self.top();
        InBox {
            index: self,
            min,
            max,
            stack: if top > 0 {
                vec![(top, 0, false)]
            } else {
                Vec::new()
            },
            points: 0..0,
            all: false,
        }
    }

    /// The data and point of every point, nearest to `q` first (planar distance).
    pub fn nearest(&self, q: [f64; 2]) -> Nearest<'_> {
        let mut heap = BinaryHeap::new();
        let top = self.top();
        if top > 0 {
            heap.push(Candidate {
                d2: 0.0,
                level: top,
                j: 0,
            });
        }
        Nearest {
            index: self,
            q,
            heap,
        }
    }
}

/// Iterator of [`PointIndex::in_box`].
pub struct InBox<'a> {
    index: &'a PointIndex,
    min: [f64; 2],
    max: [f64; 2],
    /// Nodes (level, index, wholly inside the box) still to open.
    stack: Vec<(usize, usize, bool)>,
    /// Points of the leaf being read, and whether they are all inside.
    points: std::ops::Range<usize>,
    all: bool,
}

impl Iterator for InBox<'_> {
    type Item = (u32, [f64; 2]);

    fn next(&mut self) -> Option<(u32, [f64; 2])> {
        let ix = self.index;
        let (min, max) = (self.min, self.max);
        loop {
            for i in self.points.by_ref() {
                let p = ix.points[i];
                let inside =
                    || p[0] >= min[0] && p[0] <= max[0] && p[1] >= min[1] && p[1] <= max[1];
                if self.all || inside() {
                    return Some((ix.data[i], p));
                }
            }
            let (level, j, all) = self.stack.pop()?;
            if level == 1 {
                self.points = ix.children(1, j);
                self.all = all;
                continue;
            }
            for c in ix.children(level, j) {
                let b = ix.node_box(level - 1, c);
                if all {
                    self.stack.push((level - 1, c, true));
                } else if b[0] <= max[0] && b[2] >= min[0] && b[1] <= max[1] && b[3] >= min[1] {
                    // A node wholly inside needs no more tests, nor do its points.
                    let within =
                        b[0] >= min[0] && b[2] <= max[0] && b[1] >= min[1] && b[3] <= max[1];
                    self.stack.push((level - 1, c, within));
                }
            }
        }
    }
}

/// A node (level >= 1) or point (level 0) waiting in the nearest-first search.
struct Candidate {
    d2: f64,
    level: usize,
    j: usize,
}

impl PartialEq for Candidate {
    fn eq(&self, o: &Self) -> bool {
        self.cmp(o) == Ordering::Equal
    }
}

impl Eq for Candidate {}

impl PartialOrd for Candidate {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}

impl Ord for Candidate {
    /// Reversed, for a min-heap; points before nodes at equal distance.
    fn cmp(&self, o: &Self) -> Ordering {
        o.d2.total_cmp(&self.d2).then(o.level.cmp(&self.level))
    }
}

/// Iterator of [`PointIndex::nearest`]: best-first search over node boxes.
pub struct Nearest<'a> {
    index: &'a PointIndex,
    q: [f64; 2],
    heap: BinaryHeap<Candidate>,
}

impl Iterator for Nearest<'_> {
    type Item = (u32, [f64; 2]);

    fn next(&mut self) -> Option<(u32, [f64; 2])> {
        let ix = self.index;
        let q = self.q;
        while let Some(c) = self.heap.pop() {
            if c.level == 0 {
                return Some((ix.data[c.j], ix.points[c.j]));
            }
            for k in ix.children(c.level, c.j) {
                let d2 = if c.level == 1 {
                    let p = ix.points[k];
                    (p[0] - q[0]).powi(2) + (p[1] - q[1]).powi(2)
                } else {
                    let b = ix.node_box(c.level - 1, k);
                    let dx = (b[0] - q[0]).max(0.0).max(q[0] - b[2]);
                    let dy = (b[1] - q[1]).max(0.0).max(q[1] - b[3]);
                    dx * dx + dy * dy
                };
                self.heap.push(Candidate {
                    d2,
                    level: c.level - 1,
                    j: k,
                });
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn points(n: usize, seed: u64) -> Vec<([f64; 2], u32)> {
        let mut s = seed;
        let mut unit = || {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (s >> 11) as f64 / (1u64 << 53) as f64
        };
        (0..n)
            .map(|i| {
                // Clumps and duplicates, as events have.
                let (x, y) = if i % 5 == 0 {
                    (-4.0, 14.5)
                } else {
                    (-12.0 + unit() * 16.0, 10.0 + unit() * unit() * 15.0)
                };
                ([x, y], i as u32)
            })
            .collect()
    }

    /// Box queries give exactly the points a scan finds, for many sizes and boxes.
    #[test]
    fn in_box_matches_a_scan() {
        for n in [0, 1, 15, 16, 17, 255, 257, 5_000] {
            let items = points(n, n as u64);
            let index = PointIndex::new(items.clone());
            assert_eq!(index.len(), n);
            for (min, max) in [
                ([-13.0, 9.0], [5.0, 26.0]),
                ([-4.5, 14.0], [-3.5, 15.0]),
                ([-4.0, 14.5], [-4.0, 14.5]),
                ([0.0, 0.0], [1.0, 1.0]),
                ([-8.0, 11.0], [-2.0, 13.5]),
            ] {
                let mut got: Vec<u32> = index.in_box(min, max).map(|(d, _)| d).collect();
                got.sort_unstable();
                let want: Vec<u32> = items
                    .iter()
                    .filter(|(p, _)| {
                        p[0] >= min[0] && p[0] <= max[0] && p[1] >= min[1] && p[1] <= max[1]
                    })
                    .map(|(_, d)| *d)
                    .collect();
                assert_eq!(got, want, "n={n} {min:?} {max:?}");
            }
        }
    }

    /// The nearest-first stream yields every point once, in order of distance.
    #[test]
    fn nearest_is_ordered_and_complete() {
        for n in [0, 1, 16, 300, 5_000] {
            let items = points(n, 3 + n as u64);
            let index = PointIndex::new(items.clone());
            for q in [[-4.0, 14.5], [-20.0, 0.0], [-6.3, 17.1]] {
                let d2 = |p: [f64; 2]| (p[0] - q[0]).powi(2) + (p[1] - q[1]).powi(2);
                let got: Vec<(u32, [f64; 2])> = index.nearest(q).collect();
                assert_eq!(got.len(), n);
                assert!(got.windows(2).all(|w| d2(w[0].1) <= d2(w[1].1)), "n={n}");
                let mut ids: Vec<u32> = got.iter().map(|g| g.0).collect();
                ids.sort_unstable();
                assert!(ids.iter().enumerate().all(|(i, &d)| d == i as u32));
            }
        }
    }
}

#[cfg(test)]
mod doc_examples {
    #[test]
    fn doc_example_module() {
        use crate::atlas::points::PointIndex;
        let index = PointIndex::new(vec![([-4.18, 14.48], 7), ([-0.04, 16.27], 8)]);
        let found: Vec<u32> = index
            .in_box([-5.0, 14.0], [-3.0, 15.0])
            .map(|(d, _)| d)
            .collect();
        assert_eq!(found, [7]);
        assert_eq!(index.nearest([0.0, 16.0]).next().map(|(d, _)| d), Some(8));
    }
}
