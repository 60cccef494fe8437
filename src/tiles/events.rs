//! The events layer of one tile: grid clusters at low zoom, single events from
//! [`INDIVIDUAL_FROM_ZOOM`] up. Every matching event whose point falls inside the tile is
//! counted exactly once, so the `count`s of a tile add up to its number of events.
//!
//! Cluster cells are a global grid (cell `floor(world * 2^z * cells_per_side)`), so the
//! same clusters come from scanning the events or from [`ClusterPyramid`], which sums
//! them per cell and year once at start-up: low-zoom tiles over a million events then cost
//! a few thousand cells instead of a million points, when the filter is at most a range
//! of whole years (as the web map's time slider sends).

use crate::model::Word;

use chrono::Datelike;
use rustc_hash::FxHashMap;

use super::coord::{EXTENT, Mercator, TileCoord, pixel, project};
use crate::atlas::Atlas;
use crate::query::filter::Matcher;
use crate::query::types::{MAX_TYPES, Vocabulary, top_of};

/// From this zoom up each event is its own feature (unless the tile is too dense).
pub const INDIVIDUAL_FROM_ZOOM: u8 = 10;
/// Above this many events, even a high-zoom tile is clustered, on a finer grid, so that no
/// tile grows past a few hundred KB whatever the data.
pub const MAX_INDIVIDUAL_PER_TILE: usize = 4000;
/// Cluster grid cell in tile units: 16 x 16 cells per tile (32 px on a 512 px tile).
pub const CLUSTER_CELL: u32 = 256;
/// Cell of the fallback grid for over-dense high-zoom tiles: 64 x 64 cells.
pub const DENSE_CELL: u32 = 64;

#[derive(Debug, Clone, PartialEq)]
pub enum EventFeature<'a> {
    Single {
        event: u32,
        at: [i32; 2],
    },
    Cluster {
        at: [i32; 2],
        count: u32,
        fatalities: u64,
        /// The most frequent event type among the members (ties: alphabetical).
        event_type: &'a str,
    },
}

/// A cluster being summed: count, fatalities, world position, events per type.
#[derive(Debug, Clone, Default)]
struct Acc<'a> {
    count: u32,
    fatalities: u64,
    sum: [f64; 2],
    types: Vec<(&'a str, u32)>,
}

impl<'a> Acc<'a> {
    fn add_type(&mut self, name: &'a str, n: u32) {
        match self.types.iter_mut().find(|(t, _)| *t == name) {
            Some((_, k)) => *k += n,
            None => self.types.push((name, n)),
        }
    }

    fn feature(&self, t: TileCoord) -> EventFeature<'a> {
        let n = self.count as f64;
        let event_type = top_of(self.types.iter().map(|&(t, k)| (t, k)));
        EventFeature::Cluster {
            at: pixel(t.to_tile(Mercator {
                x: self.sum[0] / n,
                y: self.sum[1] / n,
            })),
            count: self.count,
            fatalities: self.fatalities,
            event_type,
        }
    }
}

/// The pyramid's compact per-(cell, year) sums; types by index into its vocabulary.
#[derive(Debug, Clone, Copy, Default)]
struct Sums {
    count: u32,
    fatalities: u64,
    sum: [f64; 2],
    types: [u32; MAX_TYPES],
}

impl Sums {
    /// Counts one more event at world point `w` (`add`), or one fewer.
    fn count_event(&mut self, w: Mercator, fatalities: u32, type_index: usize, add: bool) {
        if add {
            self.count += 1;
            self.fatalities += u64::from(fatalities);
            self.sum[0] += w.x;
            self.sum[1] += w.y;
            self.types[type_index] += 1;
        } else {
            self.count -= 1;
            self.fatalities -= u64::from(fatalities);
            self.sum[0] -= w.x;
            self.sum[1] -= w.y;
            self.types[type_index] -= 1;
        }
    }

    fn merge(&mut self, o: &Sums) {
        self.count += o.count;
        self.fatalities += o.fatalities;
        self.sum[0] += o.sum[0];
        self.sum[1] += o.sum[1];
        for (a, b) in self.types.iter_mut().zip(o.types.iter()) {
            *a += b;
        }
    }
}

/// The cell of world point `w` in a grid of `side` x `side` cells per tile of zoom `z`, as
/// global cell coordinates (exact: scaling by powers of two does not round).
fn global_cell(w: Mercator, z: u8, side: u32) -> (u64, u64) {
    let s = (1u64 << z) as f64 * side as f64;
    ((w.x * s).floor() as u64, (w.y * s).floor() as u64)
}

/// A tile's pre-summed cells: (cell within the tile, year, sums).
type TileCells = Vec<(u8, i16, Sums)>;

/// Cluster sums per (cell, year) for every cluster zoom, grouped by tile, of an atlas's
/// base events; a tile corrects them for the atlas's delta as it is read.
pub struct ClusterPyramid {
    type_names: Vec<Word>,
    type_ids: FxHashMap<Word, usize>,
    /// Per zoom below INDIVIDUAL_FROM_ZOOM: tile -> (cell in tile, year, sums).
    levels: Vec<FxHashMap<(u32, u32), TileCells>>,
}

impl ClusterPyramid {
    /// `None` when the data has more event types than the pyramid tracks.
    pub fn build(atlas: &Atlas) -> Option<ClusterPyramid> {
        let Vocabulary {
            names: type_names,
            ids: type_ids,
        } = Vocabulary::of(atlas.base_events())?;
        let side = EXTENT / CLUSTER_CELL;
        let top = INDIVIDUAL_FROM_ZOOM - 1;
        // The finest level from the events, coarser ones from it (a cell of zoom z is
        // 2 x 2 cells of zoom z + 1).
        let mut cells: FxHashMap<(u64, u64, i16), Sums> = FxHashMap::default();
        for e in atlas.base_events() {
            let w = project(e.pos);
            let (cx, cy) = global_cell(w, top, side);
            let c = cells.entry((cx, cy, e.date.year() as i16)).or_default();
            c.count_event(w, e.fatalities, type_ids[&e.event_type], true);
        }
        let mut levels = Vec::with_capacity(INDIVIDUAL_FROM_ZOOM as usize);
        for z in (0..INDIVIDUAL_FROM_ZOOM).rev() {
            if z < top {
                let mut coarser: FxHashMap<(u64, u64, i16), Sums> = FxHashMap::default();
                for (&(cx, cy, year), acc) in &cells {
                    coarser
                        .entry((cx >> 1, cy >> 1, year))
                        .or_default()
                        .merge(acc);
                }
                cells = coarser;
            }
            let mut by_tile: FxHashMap<(u32, u32), TileCells> = FxHashMap::default();
            let s = side as u64;
            for (&(cx, cy, year), acc) in &cells {
                let cell = ((cy % s) * s + cx % s) as u8;
                by_tile
                    .entry(((cx / s) as u32, (cy / s) as u32))
                    .or_default()
                    .push((cell, year, *acc));
            }
            levels.push(by_tile);
        }
        levels.reverse();
        Some(ClusterPyramid {
            type_names,
            type_ids,
            levels,
        })
    }

    /// The clusters of tile `t` (below INDIVIDUAL_FROM_ZOOM) for events of `atlas` in the
    /// years `from..=to` (open ends allowed); `None` if the atlas's delta has an event
    /// type the pyramid does not know.
    fn clusters(
        &self,
        atlas: &Atlas,
        t: TileCoord,
        from: Option<i32>,
        to: Option<i32>,
    ) -> Option<Vec<EventFeature<'_>>> {
        let side = (EXTENT / CLUSTER_CELL) as usize;
        let in_years = |y: i32| from.is_none_or(|f| y >= f) && to.is_none_or(|l| y <= l);
        let mut grid = vec![Sums::default(); side * side];
        if let Some(entries) = self.levels[t.z as usize].get(&(t.x, t.y)) {
            for (cell, year, sums) in entries {
                if in_years(*year as i32) {
                    grid[*cell as usize].merge(sums);
                }
            }
        }
        // Events written since the base: added ones count, replaced and deleted ones not.
        for (i, pos, added) in atlas.changed_points_in(vec![t.lonlat_envelope(1.0)]) {
            let (w, e) = (project(pos), atlas.event(i));
            if !t.contains(w) || !in_years(e.date.year()) {
                continue;
            }
            let type_index = *self.type_ids.get(&e.event_type)?;
            let (gx, gy) = global_cell(w, t.z, side as u32);
            let cell = (gy % side as u64) as usize * side + (gx % side as u64) as usize;
            grid[cell].count_event(w, e.fatalities, type_index, added);
        }
        let features = grid
            .iter()
            .filter(|s| s.count > 0)
            .map(|s| {
                let mut acc = Acc {
                    count: s.count,
                    fatalities: s.fatalities,
                    sum: s.sum,
                    types: Vec::new(),
                };
                for (k, name) in self.type_names.iter().enumerate() {
                    if s.types[k] > 0 {
                        acc.add_type(name, s.types[k]);
                    }
                }
                acc.feature(t)
            })
            .collect();
        Some(features)
    }
}

/// Whether tile `t` under filter `f` means a scan of a wide area (a low zoom with a filter
/// the cluster pyramid cannot answer): the one costly kind of tile to render.
pub fn scans_widely(t: TileCoord, f: &crate::query::filter::EventFilter) -> bool {
    t.z < INDIVIDUAL_FROM_ZOOM && f.whole_years().is_none()
}

/// A matching event of a tile, with what a cluster sums.
struct Member<'a> {
    event: u32,
    w: Mercator,
    fatalities: u32,
    event_type: &'a str,
}

/// The matching events whose points fall in tile `t`. Base events come from the grid,
/// which keeps them in spatial order with their day, type and fatalities beside them (a
/// dense tile read event records one cache miss each); the delta's added events from
/// their own index.
fn members<'a>(atlas: &'a Atlas, m: &Matcher, t: TileCoord) -> Vec<Member<'a>> {
    let grid = atlas.grid();
    let keep = m.for_slots(grid.kinds());
    let env = t.lonlat_envelope(1.0);
    let mut members = Vec::new();
    for j in grid.in_box(env.min, env.max) {
        let s = grid.slot(j);
        let w = project(grid.pos(j));
        if !t.contains(w) || atlas.is_hidden(s.event) {
            continue;
        }
        if keep.keeps(&s) {
            members.push(Member {
                event: s.event,
                w,
                fatalities: s.fatalities,
                event_type: &grid.kinds()[s.kind as usize].0,
            });
        }
    }
    for (i, pos, added) in atlas.changed_points_in(vec![env]) {
        let w = project(pos);
        if added && t.contains(w) && m.matches(i) {
            let e = atlas.event(i);
            members.push(Member {
                event: i,
                w,
                fatalities: e.fatalities,
                event_type: &e.event_type,
            });
        }
    }
    members
}

/// The matching events whose points fall in tile `t` (each point belongs to exactly one
/// tile per zoom: the one `floor(world * 2^z)` names), as features. Low-zoom tiles come
/// from `pyramid` when it is ready and the filter allows.
pub fn events_in_tile<'a>(
    atlas: &'a Atlas,
    pyramid: Option<&'a ClusterPyramid>,
    m: &Matcher,
    t: TileCoord,
) -> Vec<EventFeature<'a>> {
    if t.z < INDIVIDUAL_FROM_ZOOM
        && let (Some(p), Some((from, to))) = (pyramid, m.filter().whole_years())
        && let Some(clusters) = p.clusters(atlas, t, from, to)
    {
        return clusters;
    }
    let members = members(atlas, m, t);
    if t.z >= INDIVIDUAL_FROM_ZOOM && members.len() <= MAX_INDIVIDUAL_PER_TILE {
        let mut singles: Vec<(u32, [i32; 2])> = members
            .iter()
            .map(|x| (x.event, pixel(t.to_tile(x.w))))
            .collect();
        singles.sort_unstable_by_key(|s| s.0);
        return singles
            .into_iter()
            .map(|(event, at)| EventFeature::Single { event, at })
            .collect();
    }
    let side = EXTENT
        / if t.z >= INDIVIDUAL_FROM_ZOOM {
            DENSE_CELL
        } else {
            CLUSTER_CELL
        };
    let (x0, y0) = (t.x as u64 * side as u64, t.y as u64 * side as u64);
    let mut grid = vec![Acc::default(); (side * side) as usize];
    for x in &members {
        let (gx, gy) = global_cell(x.w, t.z, side);
        let cx = gx.saturating_sub(x0).min(side as u64 - 1) as usize;
        let cy = gy.saturating_sub(y0).min(side as u64 - 1) as usize;
        let acc = &mut grid[cy * side as usize + cx];
        acc.count += 1;
        acc.fatalities += x.fatalities as u64;
        acc.sum[0] += x.w.x;
        acc.sum[1] += x.w.y;
        acc.add_type(x.event_type, 1);
    }
    grid.iter()
        .filter(|a| a.count > 0)
        .map(|a| a.feature(t))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::filter::{DateBound, EventFilter, parse_date_bound};

    fn summary(mut f: Vec<EventFeature>) -> Vec<(i32, i32, u32, u64, String)> {
        f.sort_by_key(|x| match x {
            EventFeature::Cluster { at, .. } => (at[1], at[0]),
            EventFeature::Single { at, .. } => (at[1], at[0]),
        });
        f.into_iter()
            .map(|x| match x {
                EventFeature::Cluster {
                    at,
                    count,
                    fatalities,
                    event_type,
                } => (at[0], at[1], count, fatalities, event_type.to_string()),
                EventFeature::Single { .. } => panic!("no singles below zoom 10"),
            })
            .collect()
    }

    /// Every cluster zoom, tiles all over Mali, with and without whole-year filters: the
    /// pyramid gives the scan's clusters (positions may differ by a rounding unit).
    #[test]
    fn pyramid_matches_the_scan() {
        pyramid_matches_the_scan_of(&crate::synth::test_atlas(30_000, 3));
    }

    /// The same with writes in the atlas's delta (the pyramid sums only its base).
    #[test]
    fn pyramid_matches_the_scan_after_writes() {
        pyramid_matches_the_scan_of(&crate::synth::test_changed_atlas(30_000, 3));
    }

    fn pyramid_matches_the_scan_of(atlas: &Atlas) {
        let pyramid = ClusterPyramid::build(atlas).unwrap();
        let filters = [
            EventFilter::default(),
            EventFilter {
                from: parse_date_bound("2015", DateBound::Start),
                to: parse_date_bound("2018", DateBound::End),
                ..EventFilter::default()
            },
            EventFilter {
                from: parse_date_bound("2019", DateBound::Start),
                ..EventFilter::default()
            },
        ];
        let mut compared = 0;
        for f in &filters {
            assert!(f.whole_years().is_some());
            let m = f.compile(atlas);
            for z in 0..INDIVIDUAL_FROM_ZOOM {
                // Every tile over Mali at this zoom.
                let n = (1u64 << z) as f64;
                let nw = project(crate::model::LonLat::new(-12.3, 25.0));
                let se = project(crate::model::LonLat::new(4.3, 10.1));
                let (x0, x1) = ((nw.x * n) as u32, (se.x * n) as u32);
                let (y0, y1) = ((nw.y * n) as u32, (se.y * n) as u32);
                for x in x0..=x1 {
                    for y in y0..=y1 {
                        let t = TileCoord { z, x, y };
                        let scan = summary(events_in_tile(atlas, None, &m, t));
                        let pyr = summary(events_in_tile(atlas, Some(&pyramid), &m, t));
                        assert_eq!(scan.len(), pyr.len(), "{t:?}");
                        for (a, b) in scan.iter().zip(&pyr) {
                            assert_eq!((a.2, a.3, &a.4), (b.2, b.3, &b.4), "{t:?}");
                            assert!(
                                (a.0 - b.0).abs() <= 1 && (a.1 - b.1).abs() <= 1,
                                "{t:?}: {a:?} {b:?}"
                            );
                        }
                        compared += scan.len();
                    }
                }
            }
        }
        assert!(compared > 1000, "{compared}");
    }
}
