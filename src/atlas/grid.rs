//! The base events bucketed in a lon/lat grid, for dense radius queries. Cells are kept
//! column by column, south to north, with each event's position and the attributes a
//! filter reads (day, type, fatalities) stored beside it in that order. So the cells of a
//! column wholly inside a circle are one contiguous run: counted in O(1) without a filter,
//! scanned sequentially with one. Only the cells along the circle's edge are examined
//! event by event; a query over 60,000 events touches a few thousand.
//!
//! Each attribute is its own array: a date filter reads 4 bytes a slot in a loop the
//! compiler vectorises, a type filter 2, rather than 16 bytes of every slot.

use std::ops::Range;

use crate::atlas::plain_io::{PlainReader, PlainWriter};
use crate::geodesy::APPROX_MARGIN;
use crate::model::{Event, LonLat, Word};

/// Cell size in degrees (about 550 m of latitude).
pub const CELL_DEG: f64 = 0.005;
/// An upper bound of the length of one degree, of latitude or longitude, anywhere (km).
const MAX_KM_PER_DEG: f64 = 111.7;

/// What a filter may read of a base event without a trip to its record.
#[derive(Debug, Clone, Copy)]
pub struct Slot {
    /// The event's atlas index.
    pub event: u32,
    /// Days since 0001-01-01 (`NaiveDate::num_days_from_ce`).
    pub day: i32,
    pub fatalities: u32,
    /// Index into [`EventGrid::kinds`].
    pub kind: u16,
}

/// A filter on the slot attributes alone (dates, types, fatalities), compiled against
/// the grid's kinds.
#[derive(Debug, Clone)]
pub struct SlotTest {
    pub from_day: i32,
    pub to_day: i32,
    pub min_fatalities: u32,
    /// Whether each kind matches; `None`: any type.
    pub kind_ok: Option<Vec<bool>>,
}

impl SlotTest {
    #[inline]
    pub fn matches(&self, s: &Slot) -> bool {
        s.day >= self.from_day
            && s.day <= self.to_day
            && s.fatalities >= self.min_fatalities
            && self.kind_ok.as_ref().is_none_or(|ok| ok[s.kind as usize])
    }
}

/// Base events grouped by cell, column by column.
pub struct EventGrid {
    /// Per slot, cell after cell: the event, its day, fatalities, kind and position.
    event: Vec<u32>,
    day: Vec<i32>,
    fatalities: Vec<u32>,
    kind: Vec<u16>,
    pos: Vec<LonLat>,
    /// The distinct (event_type, sub_event_type) pairs.
    kinds: Vec<(Word, Word)>,
    /// Occupied columns (x), ascending, and the index of each one's first cell (plus one
    /// past the last).
    col_x: Vec<i32>,
    col_first: Vec<u32>,
    /// Occupied cells (y within their column, ascending) and each one's first slot (plus
    /// one past the last).
    cell_y: Vec<i32>,
    cell_first: Vec<u32>,
}

fn cell_of(p: LonLat) -> (i32, i32) {
    (
        (p.lon / CELL_DEG).floor() as i32,
        (p.lat / CELL_DEG).floor() as i32,
    )
}

/// The part of one column that a disk reaches, as ranges of slots: the cells wholly
/// inside, and the cells on its edge (south and north of those) whose events must be
/// tested one by one.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnSpan {
    pub inside: Range<usize>,
    pub edge: [Range<usize>; 2],
}

impl EventGrid {
    pub fn build(events: &[Event]) -> EventGrid {
        let mut keyed: Vec<((i32, i32), u32)> = events
            .iter()
            .enumerate()
            .map(|(i, e)| (cell_of(e.pos), i as u32))
            .collect();
        keyed.sort_unstable();
        let mut kinds: Vec<(Word, Word)> = Vec::new();
        let mut kind_ids: rustc_hash::FxHashMap<(Word, Word), u16> = Default::default();
        let n = keyed.len();
        let mut grid = EventGrid {
            event: Vec::with_capacity(n),
            day: Vec::with_capacity(n),
            fatalities: Vec::with_capacity(n),
            kind: Vec::with_capacity(n),
            pos: Vec::with_capacity(n),
            kinds: Vec::new(),
            col_x: Vec::new(),
            col_first: Vec::new(),
            cell_y: Vec::new(),
            cell_first: Vec::new(),
        };
        for (j, &((x, y), i)) in keyed.iter().enumerate() {
            let e = &events[i as usize];
            let kind = *kind_ids
                .entry((e.event_type, e.sub_event_type))
                .or_insert_with(|| {
                    kinds.push((e.event_type, e.sub_event_type));
                    u16::try_from(kinds.len() - 1).unwrap_or(u16::MAX)
                });
            let new_cell = j == 0 || keyed[j - 1].0 != (x, y);
            if j == 0 || keyed[j - 1].0.0 != x {
                grid.col_x.push(x);
                grid.col_first.push(grid.cell_y.len() as u32);
            }
            if new_cell {
                grid.cell_y.push(y);
                grid.cell_first.push(j as u32);
            }
            grid.event.push(i);
            grid.day.push(chrono::Datelike::num_days_from_ce(&e.date));
            grid.fatalities.push(e.fatalities);
            grid.kind.push(kind);
            grid.pos.push(e.pos);
        }
        grid.col_first.push(grid.cell_y.len() as u32);
        grid.cell_first.push(keyed.len() as u32);
        grid.kinds = kinds;
        grid
    }

    /// Writes the grid as built, for [`EventGrid::read`].
    pub fn save<W: std::io::Write>(&self, w: &mut PlainWriter<W>) -> std::io::Result<()> {
        w.array(&self.event)?;
        w.array(&self.day)?;
        w.array(&self.fatalities)?;
        w.array(&self.kind)?;
        w.array(&self.pos)?;
        w.value(&(self.kinds.len() as u64))?;
        for (t, s) in &self.kinds {
            w.text(t)?;
            w.text(s)?;
        }
        w.array(&self.col_x)?;
        w.array(&self.col_first)?;
        w.array(&self.cell_y)?;
        w.array(&self.cell_first)
    }

    /// A grid [`EventGrid::save`] wrote for `n` events, checked to be whole.
    pub fn read<R: std::io::Read>(r: &mut PlainReader<R>, n: usize) -> std::io::Result<EventGrid> {
        let event: Vec<u32> = r.array()?;
        let day: Vec<i32> = r.array()?;
        let fatalities: Vec<u32> = r.array()?;
        let kind: Vec<u16> = r.array()?;
        let pos: Vec<LonLat> = r.array()?;
        let n_kinds = r.count(2 * 8)?;
        let kinds = (0..n_kinds)
            .map(|_| Ok((Word::new(&r.text()?), Word::new(&r.text()?))))
            .collect::<std::io::Result<Vec<(Word, Word)>>>()?;
        let grid = EventGrid {
            col_x: r.array()?,
            col_first: r.array()?,
            cell_y: r.array()?,
            cell_first: r.array()?,
            event,
            day,
            fatalities,
            kind,
            pos,
            kinds,
        };
        let ascending = |v: &[u32], last: usize| {
            v.windows(2).all(|w| w[0] <= w[1]) && v.last().map(|&l| l as usize) == Some(last)
        };
        let whole = grid.event.len() == n
            && grid.day.len() == n
            && grid.fatalities.len() == n
            && grid.kind.len() == n
            && grid.pos.len() == n
            && grid.col_first.len() == grid.col_x.len() + 1
            && grid.cell_first.len() == grid.cell_y.len() + 1
            && ascending(&grid.col_first, grid.cell_y.len())
            && ascending(&grid.cell_first, n)
            && grid.event.iter().all(|&i| (i as usize) < n)
            && grid.kind.iter().all(|&k| (k as usize) < grid.kinds.len());
        if !whole {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "the event grid is not whole",
            ));
        }
        Ok(grid)
    }

    /// The number of slots (of base events).
    pub fn len(&self) -> usize {
        self.event.len()
    }

    pub fn is_empty(&self) -> bool {
        self.event.is_empty()
    }

    /// What slot `j` holds.
    #[inline]
    pub fn slot(&self, j: usize) -> Slot {
        Slot {
            event: self.event[j],
            day: self.day[j],
            fatalities: self.fatalities[j],
            kind: self.kind[j],
        }
    }

    /// How many of the slots `run` pass `test`. A date range alone or a type alone reads
    /// one column; anything else reads every slot.
    pub fn count(&self, run: Range<usize>, test: &SlotTest) -> usize {
        let any_day = test.from_day == i32::MIN && test.to_day == i32::MAX;
        match (&test.kind_ok, any_day, test.min_fatalities) {
            (None, _, 0) => {
                let (from, to) = (test.from_day, test.to_day);
                // `&` rather than `&&`: no branch, so the loop vectorises.
                self.day[run]
                    .iter()
                    .map(|&d| usize::from((d >= from) & (d <= to)))
                    .sum()
            }
            // Kinds (type and sub-type pairs; ACLED has about 25) as the bits of a word:
            // a shift rather than a bounds-checked load per slot.
            (Some(ok), true, 0) if ok.len() <= 64 => {
                let mask = (0..ok.len()).fold(0u64, |m, k| m | (u64::from(ok[k]) << k));
                self.kind[run]
                    .iter()
                    .map(|&k| ((mask >> (k & 63)) & 1) as usize)
                    .sum()
            }
            _ => run.filter(|&j| test.matches(&self.slot(j))).count(),
        }
    }

    /// The position of the event in slot `j`.
    #[inline]
    pub fn pos(&self, j: usize) -> LonLat {
        self.pos[j]
    }

    pub fn kinds(&self) -> &[(Word, Word)] {
        &self.kinds
    }

    /// The slots of the cells that meet the lon/lat box `min`..`max`, column by column: a
    /// superset of the events inside it (callers test each position), read in order.
    pub fn in_box(&self, min: [f64; 2], max: [f64; 2]) -> impl Iterator<Item = usize> + '_ {
        let (x0, y0) = cell_of(LonLat::new(min[0], min[1]));
        let (x1, y1) = cell_of(LonLat::new(max[0], max[1]));
        let first = self.col_x.partition_point(|&x| x < x0);
        (first..self.col_x.len())
            .take_while(move |&c| self.col_x[c] <= x1)
            .flat_map(move |c| {
                let cells = self.col_first[c] as usize..self.col_first[c + 1] as usize;
                let ys = &self.cell_y[cells.clone()];
                let a = cells.start + ys.partition_point(|&v| v < y0);
                let b = cells.start + ys.partition_point(|&v| v <= y1);
                self.cell_first[a] as usize..self.cell_first[b] as usize
            })
    }

    /// The columns that may hold events within `radius_km` of `center`, each with its
    /// cells wholly inside and on the edge. Bounds come from the triangle inequality:
    /// every point of a cell is within half its diagonal of the cell's centre, and the
    /// estimate of that centre's distance is within `APPROX_MARGIN` of the truth, and the
    /// estimate within `SPHERE_RATIO` of the distance on a sphere, on which the cells of
    /// a column within a distance are one run, found in closed form.
    pub fn disk(&self, center: LonLat, radius_km: f64) -> Vec<ColumnSpan> {
        let mut out = Vec::new();
        for env in crate::geodesy::search_envelopes(center, radius_km) {
            let (x0, y0) = cell_of(LonLat::new(env.min[0], env.min[1]));
            let (x1, y1) = cell_of(LonLat::new(env.max[0], env.max[1]));
            let first = self.col_x.partition_point(|&x| x < x0);
            for c in first..self.col_x.len() {
                if self.col_x[c] > x1 {
                    break;
                }
                let column = Column {
                    center,
                    radius_km,
                    x: self.col_x[c],
                    ys: (y0, y1),
                };
                if let Some(span) = column.span() {
                    out.push(self.slot_ranges(c, span));
                }
            }
        }
        out
    }

    /// Slot ranges of column `c` for the cell runs `[outer]` (edge) and `[inner]` (inside).
    fn slot_ranges(&self, c: usize, span: YSpan) -> ColumnSpan {
        let cells = self.col_first[c] as usize..self.col_first[c + 1] as usize;
        let ys = &self.cell_y[cells.clone()];
        // The first slot of the first cell at or north of `y`.
        let at = |y: i32| self.cell_first[cells.start + ys.partition_point(|&v| v < y)] as usize;
        let (a, z) = (at(span.outer.0), at(span.outer.1 + 1));
        match span.inner {
            Some((ia, iz)) => {
                let (ia, iz) = (at(ia), at(iz + 1));
                ColumnSpan {
                    inside: ia..iz,
                    edge: [a..ia, iz..z],
                }
            }
            None => ColumnSpan {
                inside: a..a,
                edge: [a..z, z..z],
            },
        }
    }
}

/// The runs of cell rows of one column a disk reaches: `outer` holds every cell that may
/// hold a point inside, `inner` the cells wholly inside.
struct YSpan {
    outer: (i32, i32),
    inner: Option<(i32, i32)>,
}

/// Radius (km) of the sphere that stands in for the ellipsoid when classifying cells,
/// and the bound on the ratio of [`approx_distance_km`](crate::geodesy::approx_distance_km) to the great-circle distance on
/// it, anywhere (tested below: the meridian's curvature radius runs from 6,335 km at the
/// equator to 6,400 km at the poles, ±0.5% of this).
const SPHERE_KM: f64 = 6_367.5;
const SPHERE_RATIO: f64 = 1.006;

/// One column of cells, for one disk, limited to rows `ys`.
struct Column {
    center: LonLat,
    radius_km: f64,
    x: i32,
    ys: (i32, i32),
}

impl Column {
    /// The rows whose cell centres lie within `d_km` on the sphere, if any. Along a
    /// meridian, cos(distance / R) = k cos(lat - nearest), with 1 - k = `gap`: one
    /// closed form per column, in half-angle form (no cancellation at small distances).
    fn rows_within(&self, nearest: f64, k: f64, gap: f64, d_km: f64) -> Option<(i32, i32)> {
        if d_km < 0.0 {
            return None;
        }
        let s = (d_km.min(std::f64::consts::PI * SPHERE_KM) / (2.0 * SPHERE_KM)).sin();
        // sin²(half / 2) = (k - cos(d / R)) / 2k.
        let q = (2.0 * s * s - gap) / (2.0 * k);
        if q < 0.0 {
            return None;
        }
        let half = (2.0 * q.sqrt().min(1.0).asin()).to_degrees();
        // Cell y's centre is at (y + 0.5) CELL_DEG.
        let first = ((nearest - half) / CELL_DEG - 0.5).ceil() as i32;
        let last = ((nearest + half) / CELL_DEG - 0.5).floor() as i32;
        let (first, last) = (first.max(self.ys.0), last.min(self.ys.1));
        (first <= last).then_some((first, last))
    }

    /// A point of a cell is within half the cell's diagonal of its centre; the truth is
    /// within `APPROX_MARGIN` of the estimate, the estimate within `SPHERE_RATIO` of the
    /// sphere. So a cell is wholly inside when its centre is within `(r - h) / slack` on
    /// the sphere, and may reach inside only when within `(r + h) slack`.
    fn span(&self) -> Option<YSpan> {
        let lon = (self.x as f64 + 0.5) * CELL_DEG;
        let (p1, dl) = (
            self.center.lat.to_radians(),
            (lon - self.center.lon).to_radians(),
        );
        let (a, b) = (p1.sin(), p1.cos() * dl.cos());
        let (nearest, k) = (a.atan2(b).to_degrees(), a.hypot(b));
        // 1 - k = (1 - k²) / (1 + k), and 1 - k² = cos² lat sin² dl.
        let gap = (p1.cos() * dl.sin()).powi(2) / (1.0 + k);
        let h = CELL_DEG * MAX_KM_PER_DEG * std::f64::consts::FRAC_1_SQRT_2;
        let slack = SPHERE_RATIO * (1.0 + APPROX_MARGIN);
        let r = self.radius_km;
        let outer = self.rows_within(nearest, k, gap, (r + h) * slack)?;
        let inner = self.rows_within(nearest, k, gap, (r - h) / slack);
        Some(YSpan { outer, inner })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geodesy::distance_km;

    /// Every slot of an inside run is within the radius, and every event within the
    /// radius is in an inside run or on the edge; an event appears once.
    #[test]
    fn disk_runs_are_exact_bounds() {
        let atlas = crate::synth::test_atlas(30_000, 11);
        let grid = atlas.grid();
        let centres = [
            LonLat::new(-4.18296, 14.4843),
            LonLat::new(-7.97522, 12.60915),
            LonLat::new(-3.51234, 14.1),
            LonLat::new(2.0, 19.0),
        ];
        let mut inside_runs = 0;
        for c in centres {
            for r in [0.0, 0.3, 2.0, 10.0, 50.0, 120.0, 700.0] {
                let mut seen = vec![0u8; grid.len()];
                for span in grid.disk(c, r) {
                    for j in span.inside.clone() {
                        let d = distance_km(c, grid.pos(j));
                        assert!(d <= r, "{c:?} {r}: slot {j} at {d} km");
                        inside_runs += 1;
                    }
                    for j in span.inside.chain(span.edge.into_iter().flatten()) {
                        seen[j] += 1;
                    }
                }
                for (j, &n) in seen.iter().enumerate() {
                    let d = distance_km(c, grid.pos(j));
                    assert!(n <= 1, "{c:?} {r}: slot {j} seen {n} times");
                    assert!(d > r || n == 1, "{c:?} {r}: slot {j} at {d} km missed");
                }
            }
        }
        assert!(inside_runs > 10_000, "{inside_runs}");
    }

    /// Counting a run column by column gives what testing each slot gives, for date
    /// ranges, type sets, fatalities and their mixes.
    #[test]
    fn counts_agree_with_testing_each_slot() {
        let atlas = crate::synth::test_atlas(20_000, 5);
        let grid = atlas.grid();
        let n_kinds = grid.kinds().len();
        assert!((2..=64).contains(&n_kinds), "{n_kinds}");
        let mut seed = 99u64;
        let mut next = |m: u64| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) % m
        };
        let (first, last) = atlas.extents().event_days.unwrap();
        use chrono::Datelike;
        let (d0, d1) = (first.num_days_from_ce(), last.num_days_from_ce());
        let mut counted = 0;
        for round in 0..300 {
            let day = |r: u64| d0 + (r % (d1 - d0 + 1) as u64) as i32;
            let (a, b) = (day(next(1 << 30)), day(next(1 << 30)));
            let test = SlotTest {
                from_day: if round % 3 == 0 { i32::MIN } else { a.min(b) },
                to_day: if round % 5 == 0 { i32::MAX } else { a.max(b) },
                min_fatalities: if round % 4 == 1 { next(4) as u32 } else { 0 },
                kind_ok: (round % 2 == 1).then(|| (0..n_kinds).map(|_| next(3) == 0).collect()),
            };
            let start = next(grid.len() as u64) as usize;
            let run = start..(start + next(30_000) as usize).min(grid.len());
            let want = run.clone().filter(|&j| test.matches(&grid.slot(j))).count();
            assert_eq!(grid.count(run.clone(), &test), want, "{test:?} {run:?}");
            counted += want;
        }
        assert!(counted > 100_000, "{counted}");
    }

    /// The ratio of the estimate to the great-circle distance on `SPHERE_KM` stays within
    /// `SPHERE_RATIO`, from 1 m to 3,000 km, at every latitude and bearing.
    #[test]
    fn sphere_stands_in_for_the_ellipsoid() {
        let mut worst: f64 = 1.0;
        for lat in (-88..=88).step_by(4) {
            for bearing in (0..360).step_by(15) {
                for d in [0.001, 0.1, 1.0, 10.0, 50.0, 300.0, 1000.0, 3000.0] {
                    let a = LonLat::new(1.5, lat as f64 + 0.3);
                    let b = crate::geodesy::destination(a, bearing as f64, d);
                    let (p1, p2) = (a.lat.to_radians(), b.lat.to_radians());
                    let dl = (b.lon - a.lon).to_radians();
                    let hav = ((p2 - p1) / 2.0).sin().powi(2)
                        + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
                    let sphere = 2.0 * hav.sqrt().asin() * SPHERE_KM;
                    let approx = crate::geodesy::approx_distance_km(a, b);
                    let ratio = approx / sphere;
                    worst = worst.max(ratio).max(1.0 / ratio);
                }
            }
        }
        assert!(worst < SPHERE_RATIO, "{worst}");
        assert!(worst > 1.004, "{worst}: the bound is loose");
    }
}
