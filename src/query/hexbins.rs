//! H3 hexbins: matching events counted per H3 cell (`h3o`), with their fatalities and
//! most frequent type.
//!
//! Country-wide answers over a million events come from [`HexPyramid`], which sums the
//! base events per cell and year once, at resolutions [`MIN_RES`]..=[`PYRAMID_MAX_RES`]:
//! an answer then costs a pass over the cells, not the events, when the filter is at most
//! a range of whole years (as the web map's time slider sends). Anything else, and the
//! finer resolutions (asked of small areas), is counted from the events, with the same
//! result (tested).

use crate::model::Word;

use h3o::{CellIndex, LatLng, Resolution};
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::{AABB, RTree};
use rustc_hash::FxHashMap;

use super::filter::Matcher;
use super::types::{MAX_TYPES, Vocabulary, top_of};
use crate::atlas::Atlas;
use crate::geodesy::{Envelope, expand_envelope};
use crate::model::LonLat;

/// Coarsest and finest resolution served (res 3 cells average 12,400 km², res 9 0.1 km²).
pub const MIN_RES: u8 = 3;
pub const MAX_RES: u8 = 9;
/// Finest resolution the pyramid sums (5.2 km² cells); finer ones are counted from the
/// events, which a caller asks of small areas only.
pub const PYRAMID_MAX_RES: u8 = 7;

/// One cell's events.
#[derive(Debug, Clone, PartialEq)]
pub struct HexBin {
    pub cell: CellIndex,
    pub count: u64,
    pub fatalities: u64,
    /// The most frequent event type (ties: alphabetical).
    pub top_type: Word,
}

/// The H3 resolution `res` (within `MIN_RES..=MAX_RES`, which callers check).
///
/// # Panics
/// If `res` is above 15, which no caller passes.
pub fn resolution(res: u8) -> Resolution {
    Resolution::try_from(res).expect("an H3 resolution is 0..=15")
}

/// The cell of `pos` at `res` (`None` for a non-finite position).
///
/// ```ignore
/// use crate::model::LonLat;
/// use crate::query::hexbins::{cell_of, resolution};
/// let mopti = cell_of(LonLat::new(-4.18296, 14.4843), resolution(5)).unwrap();
/// assert_eq!(mopti.to_string().len(), 15);
/// ```
/// (Run as the unit test `doc_example_cell_of`: the module is internal.)
pub fn cell_of(pos: LonLat, res: Resolution) -> Option<CellIndex> {
    LatLng::new(pos.lat, pos.lon).ok().map(|ll| ll.to_cell(res))
}

/// The cell's outline as a closed lon/lat ring, counter-clockwise.
pub fn boundary(cell: CellIndex) -> Vec<LonLat> {
    let mut ring: Vec<LonLat> = cell
        .boundary()
        .iter()
        .map(|v| LonLat::new(v.lng(), v.lat()))
        .collect();
    if let Some(&first) = ring.first() {
        ring.push(first);
    }
    ring
}

/// The cell's centre.
pub fn center(cell: CellIndex) -> LonLat {
    let ll = LatLng::from(cell);
    LonLat::new(ll.lng(), ll.lat())
}

/// The lon/lat box around the cell's outline.
pub fn cell_envelope(cell: CellIndex) -> Envelope {
    let mut env = Envelope {
        min: [f64::INFINITY; 2],
        max: [f64::NEG_INFINITY; 2],
    };
    for v in cell.boundary().iter() {
        env.min = [env.min[0].min(v.lng()), env.min[1].min(v.lat())];
        env.max = [env.max[0].max(v.lng()), env.max[1].max(v.lat())];
    }
    env
}

/// A bound on the geodesic distance from any cell's centre to its outline at `res`, in
/// km: twice the average edge length (a hexagon's circumradius is its edge, and H3 edges
/// vary by less than that factor; the test checks cells from pole to pole).
///
/// # Units
/// Kilometres.
pub fn reach_km(res: Resolution) -> f64 {
    2.0 * res.edge_length_km()
}

fn envelopes_intersect(a: &Envelope, b: &Envelope) -> bool {
    a.min[0] <= b.max[0] && b.min[0] <= a.max[0] && a.min[1] <= b.max[1] && b.min[1] <= a.max[1]
}

/// A cell being counted from events: count, fatalities, events per type.
#[derive(Debug, Default)]
struct Counted {
    count: u64,
    fatalities: u64,
    types: Vec<(Word, u32)>,
}

/// Counts `events` per cell at `res`, in cell order.
pub fn bin_events(atlas: &Atlas, events: impl IntoIterator<Item = u32>, res: u8) -> Vec<HexBin> {
    let res = resolution(res);
    let mut cells: FxHashMap<CellIndex, Counted> = FxHashMap::default();
    for i in events {
        let e = atlas.event(i);
        let Some(cell) = cell_of(e.pos, res) else {
            continue;
        };
        let c = cells.entry(cell).or_default();
        c.count += 1;
        c.fatalities += u64::from(e.fatalities);
        match c.types.iter_mut().find(|(t, _)| *t == e.event_type) {
            Some((_, k)) => *k += 1,
            None => c.types.push((e.event_type, 1)),
        }
    }
    let mut bins: Vec<HexBin> = cells
        .into_iter()
        .map(|(cell, c)| {
            let top = top_of(c.types.iter().map(|(t, k)| (&**t, *k)));
            HexBin {
                cell,
                count: c.count,
                fatalities: c.fatalities,
                top_type: c
                    .types
                    .iter()
                    .find(|(t, _)| &**t == top)
                    .map_or_else(|| Word::new(""), |(t, _)| *t),
            }
        })
        .collect();
    bins.sort_unstable_by_key(|b| b.cell);
    bins
}

/// The matching events per cell at `res`, from `pyramid` when it can answer.
pub fn hexbins(atlas: &Atlas, pyramid: Option<&HexPyramid>, m: &Matcher, res: u8) -> Vec<HexBin> {
    if let (Some(p), Some((from, to))) = (pyramid, m.filter().whole_years())
        && let Some(bins) = p.bins(atlas, res, (from, to), None)
    {
        return bins;
    }
    match m.filter().bbox {
        Some(b) => bin_events(
            atlas,
            atlas.events_in(b.envelopes()).filter(|&i| m.matches(i)),
            res,
        ),
        None => bin_events(atlas, atlas.event_indices().filter(|&i| m.matches(i)), res),
    }
}

/// The cells at `res` whose outline's box meets `area`, each with all its matching events
/// (also those outside `area`): what a map tile draws, the same cell alike in every tile.
pub fn hexbins_touching(
    atlas: &Atlas,
    pyramid: Option<&HexPyramid>,
    m: &Matcher,
    res: u8,
    area: Envelope,
) -> Vec<HexBin> {
    if let (Some(p), Some((from, to))) = (pyramid, m.filter().whole_years())
        && let Some(bins) = p.bins(atlas, res, (from, to), Some(area))
    {
        return bins;
    }
    // An event whose cell meets `area` lies within the cell's diameter of it.
    let near = expand_envelope(area, 2.0 * reach_km(resolution(res)));
    let events = atlas
        .event_points_in(vec![near])
        .map(|(i, _)| i)
        .filter(|&i| m.matches(i));
    let mut bins = bin_events(atlas, events, res);
    bins.retain(|b| envelopes_intersect(&cell_envelope(b.cell), &area));
    bins
}

/// Per-(cell, year) sums: events, fatalities, events per type (by vocabulary index).
#[derive(Debug, Clone, Copy, Default)]
struct Sums {
    count: u32,
    fatalities: u64,
    types: [u32; MAX_TYPES],
}

impl Sums {
    fn count_event(&mut self, fatalities: u32, type_index: usize, add: bool) {
        if add {
            self.count += 1;
            self.fatalities += u64::from(fatalities);
            self.types[type_index] += 1;
        } else {
            self.count -= 1;
            self.fatalities -= u64::from(fatalities);
            self.types[type_index] -= 1;
        }
    }

    fn merge(&mut self, o: &Sums) {
        self.count += o.count;
        self.fatalities += o.fatalities;
        for (a, b) in self.types.iter_mut().zip(o.types.iter()) {
            *a += b;
        }
    }
}

type CellBox = GeomWithData<Rectangle<[f64; 2]>, u32>;

/// One resolution of the pyramid: each cell's per-year sums, and its outline's box.
struct Level {
    cells: Vec<CellIndex>,
    /// `years[k]` is cell k's range in `sums`.
    years: Vec<std::ops::Range<u32>>,
    sums: Vec<(i16, Sums)>,
    boxes: RTree<CellBox>,
}

impl Level {
    /// From sums per (cell, year).
    fn new(by_cell_year: &FxHashMap<(CellIndex, i16), Sums>) -> Level {
        let mut keys: Vec<&(CellIndex, i16)> = by_cell_year.keys().collect();
        keys.sort_unstable();
        let (mut cells, mut years, mut sums) = (Vec::new(), Vec::new(), Vec::new());
        for key in keys {
            if cells.last() != Some(&key.0) {
                cells.push(key.0);
                years.push(sums.len() as u32..sums.len() as u32);
            }
            sums.push((key.1, by_cell_year[key]));
            if let Some(r) = years.last_mut() {
                r.end = sums.len() as u32;
            }
        }
        let boxes = cells
            .iter()
            .enumerate()
            .map(|(k, &c)| {
                let e = cell_envelope(c);
                GeomWithData::new(Rectangle::from_corners(e.min, e.max), k as u32)
            })
            .collect();
        Level {
            cells,
            years,
            sums,
            boxes: RTree::bulk_load(boxes),
        }
    }
}

/// The base events' sums per (cell at `res`, year).
fn sum_cells(
    atlas: &Atlas,
    types: &Vocabulary,
    res: Resolution,
) -> FxHashMap<(CellIndex, i16), Sums> {
    let mut sums: FxHashMap<(CellIndex, i16), Sums> = FxHashMap::default();
    for e in atlas.base_events() {
        let Some(cell) = cell_of(e.pos, res) else {
            continue;
        };
        let year = chrono::Datelike::year(&e.date) as i16;
        let s = sums.entry((cell, year)).or_default();
        s.count_event(e.fatalities, types.ids[&e.event_type], true);
    }
    sums
}

/// The base events' sums per cell and year at every resolution up to
/// [`PYRAMID_MAX_RES`]; an answer corrects them for the atlas's delta as it is read.
pub struct HexPyramid {
    types: Vocabulary,
    /// Index `res - MIN_RES`.
    levels: Vec<Level>,
}

impl HexPyramid {
    /// `None` when the data has more event types than the pyramid tracks.
    ///
    /// # Runtime
    /// One H3 cell per event and level.
    pub fn build(atlas: &Atlas) -> Option<HexPyramid> {
        let types = Vocabulary::of(atlas.base_events())?;
        // Levels apart, on every core: a coarser cell is not the parent of the finer
        // cell of the same point (H3 children do not tile their parent exactly), so
        // each level places every event itself.
        let levels = std::thread::scope(|s| {
            let workers: Vec<_> = (MIN_RES..=PYRAMID_MAX_RES)
                .map(|res| {
                    let types = &types;
                    s.spawn(move || Level::new(&sum_cells(atlas, types, resolution(res))))
                })
                .collect();
            workers
                .into_iter()
                .map(|w| w.join().expect("a pyramid level panicked"))
                .collect()
        });
        Some(HexPyramid { types, levels })
    }

    /// The cells at `res` (all, or those whose box meets `area`) with the events of
    /// `atlas` in `years` (first and last, open ends allowed). `None` when `res` is finer
    /// than the pyramid, or the atlas's delta has an event type it does not know.
    fn bins(
        &self,
        atlas: &Atlas,
        res: u8,
        years: (Option<i32>, Option<i32>),
        area: Option<Envelope>,
    ) -> Option<Vec<HexBin>> {
        let level = self.levels.get(usize::from(res.checked_sub(MIN_RES)?))?;
        let in_years = |y: i32| years.0.is_none_or(|f| y >= f) && years.1.is_none_or(|l| y <= l);
        let mut found: FxHashMap<CellIndex, Sums> = FxHashMap::default();
        let mut add_cell = |k: usize| {
            let mut total = Sums::default();
            for (year, s) in &level.sums[level.years[k].start as usize..level.years[k].end as usize]
            {
                if in_years(i32::from(*year)) {
                    total.merge(s);
                }
            }
            found.insert(level.cells[k], total);
        };
        match area {
            Some(a) => {
                let aabb = AABB::from_corners(a.min, a.max);
                for b in level.boxes.locate_in_envelope_intersecting(&aabb) {
                    add_cell(b.data as usize);
                }
            }
            None => (0..level.cells.len()).for_each(add_cell),
        }
        // Events written since the base: added ones count, replaced and deleted ones not.
        let h3_res = resolution(res);
        let changed = match area {
            Some(a) => vec![expand_envelope(a, 2.0 * reach_km(h3_res))],
            None => vec![Envelope {
                min: [-180.0, -90.0],
                max: [180.0, 90.0],
            }],
        };
        for (i, pos, added) in atlas.changed_points_in(changed) {
            let e = atlas.event(i);
            let Some(cell) = cell_of(pos, h3_res) else {
                continue;
            };
            if !in_years(chrono::Datelike::year(&e.date))
                || area.is_some_and(|a| !envelopes_intersect(&cell_envelope(cell), &a))
            {
                continue;
            }
            let type_index = *self.types.ids.get(&e.event_type)?;
            found
                .entry(cell)
                .or_default()
                .count_event(e.fatalities, type_index, added);
        }
        let mut bins: Vec<HexBin> = found
            .into_iter()
            .filter(|(_, s)| s.count > 0)
            .map(|(cell, s)| HexBin {
                cell,
                count: u64::from(s.count),
                fatalities: s.fatalities,
                top_type: self.types.top(&s.types),
            })
            .collect();
        bins.sort_unstable_by_key(|b| b.cell);
        Some(bins)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geodesy::distance_km;
    use crate::query::filter::{DateBound, EventFilter, parse_date_bound};

    fn years(from: Option<&str>, to: Option<&str>) -> EventFilter {
        EventFilter {
            from: from.and_then(|y| parse_date_bound(y, DateBound::Start)),
            to: to.and_then(|y| parse_date_bound(y, DateBound::End)),
            ..EventFilter::default()
        }
    }

    /// Every pyramid resolution, with and without whole-year filters, country-wide and
    /// over many areas: the pyramid gives the scan's cells and counts.
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
        let pyramid = HexPyramid::build(atlas).unwrap();
        let filters = [
            EventFilter::default(),
            years(Some("2015"), Some("2018")),
            years(Some("2019"), None),
            years(None, Some("2012")),
        ];
        let mut compared = 0;
        for f in &filters {
            let m = f.compile(atlas);
            for res in MIN_RES..=PYRAMID_MAX_RES {
                let scan = bin_events(atlas, atlas.event_indices().filter(|&i| m.matches(i)), res);
                assert_eq!(hexbins(atlas, Some(&pyramid), &m, res), scan, "res {res}");
                compared += scan.len();
                for (lon, lat, size) in [(-4.2, 14.5, 0.3), (-8.0, 12.6, 1.5), (-3.0, 16.3, 4.0)] {
                    let area = Envelope {
                        min: [lon, lat],
                        max: [lon + size, lat + size * 0.7],
                    };
                    let fast = hexbins_touching(atlas, Some(&pyramid), &m, res, area);
                    let slow = hexbins_touching(atlas, None, &m, res, area);
                    assert_eq!(fast, slow, "res {res} area {area:?}");
                    compared += fast.len();
                }
            }
        }
        assert!(compared > 10_000, "{compared}");
    }

    /// The bound the scan's search area relies on: no cell vertex is farther than
    /// `reach_km` from its centre, for cells from pole to pole at every resolution.
    #[test]
    fn cells_lie_within_their_reach() {
        for res in MIN_RES..=MAX_RES {
            let r = resolution(res);
            let mut worst: f64 = 0.0;
            for lat in (-88..=88).step_by(4) {
                for lon in (-178..=178).step_by(17) {
                    let cell = cell_of(LonLat::new(lon as f64, lat as f64), r).unwrap();
                    let c = center(cell);
                    for v in boundary(cell) {
                        worst = worst.max(distance_km(c, v) / reach_km(r));
                    }
                }
            }
            assert!(worst < 1.0, "res {res}: {worst}");
        }
    }

    #[test]
    fn boundary_is_a_closed_ring_around_the_centre() {
        let cell = cell_of(LonLat::new(-4.18296, 14.4843), resolution(6)).unwrap();
        let ring = boundary(cell);
        assert_eq!(ring.len(), 7);
        assert_eq!(ring.first(), ring.last());
        let env = cell_envelope(cell);
        assert!(env.contains(center(cell)) && env.contains(LonLat::new(-4.18296, 14.4843)));
    }
}

#[cfg(test)]
mod doc_examples {
    #[test]
    fn doc_example_cell_of() {
        use crate::model::LonLat;
        use crate::query::hexbins::{cell_of, resolution};
        let mopti = cell_of(LonLat::new(-4.18296, 14.4843), resolution(5)).unwrap();
        assert_eq!(mopti.to_string().len(), 15);
    }
}
