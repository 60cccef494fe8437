//! The in-memory store: the loaded data plus the indexes built once at start-up.
//! An `Atlas` is immutable; the server holds it behind an `Arc` so that a new snapshot
//! can replace it atomically while readers finish with the old one.
//!
//! The events come in two parts: the base ([`events::EventIndex`]: sorted by date,
//! indexed once, atlas indices `0..n`) and a small [`delta::Delta`] of what writes changed
//! since (indices `n..`), so a write costs in proportion to the delta, not the atlas.
//! Callers see one set of events: [`Atlas::event`], [`Atlas::event_indices`] and the
//! spatial queries never yield a base event that the delta replaced or deleted.

mod delta;
mod events;
pub mod grid;
pub mod ids;
pub mod pip;
pub mod plain_io;
pub mod points;
pub mod saved;

use std::collections::HashMap;
use std::sync::Arc;

use chrono::NaiveDate;
use geo::BoundingRect;
use rstar::RTree;
use rstar::primitives::{GeomWithData, Rectangle};

use crate::atlas::grid::EventGrid;
use crate::atlas::pip::BandedPolygon;
use crate::geodesy::Envelope;
use crate::load::Dataset;
use crate::model::text::fold;
use crate::model::{Base, Basemap, Change, Event, LonLat, Place, Region, RegionIdx};
use delta::Delta;
use events::EventIndex;
use points::PointIndex;

type IndexedBox = GeomWithData<Rectangle<[f64; 2]>, RegionIdx>;

/// The indexed atlas: regions, bases, places and events, with every index the queries and tiles read. Immutable: a write makes a new one sharing the base.
pub struct Atlas {
    fixed: Arc<Fixed>,
    base: Arc<EventIndex>,
    delta: Arc<Delta>,
    /// How many events lie in each region, parallel to `regions`.
    region_event_count: Vec<u64>,
    extents: Extents,
}

/// Where an atlas index points: into the base's events or the delta's.
enum Part {
    Base(usize),
    Delta(usize),
}

/// Everything but the events, and its indexes: shared by every snapshot of one load.
struct Fixed {
    regions: Vec<Region>,
    bases: Vec<Base>,
    places: Vec<Place>,
    basemap: Basemap,
    base_region: Vec<Option<RegionIdx>>,
    place_region: Vec<Option<RegionIdx>>,
    /// Accent- and case-folded names of each place: its name first, then alternates.
    place_keys: Vec<Vec<String>>,
    regions_index: RegionLocator,
    base_ids: HashMap<String, usize>,
    region_ids: HashMap<String, RegionIdx>,
    region_names: HashMap<String, RegionIdx>,
    /// The extents of everything but the events.
    extents: Extents,
}

impl Fixed {
    fn new(regions: Vec<Region>, bases: Vec<Base>, places: Vec<Place>, basemap: Basemap) -> Fixed {
        assert!(regions.len() < RegionIdx::MAX as usize, "too many regions");
        let regions_index = RegionLocator::new(&regions);
        Fixed {
            extents: Extents::of(&regions, &bases, &places),
            base_region: bases.iter().map(|b| regions_index.locate(b.pos)).collect(),
            place_region: places.iter().map(|p| regions_index.locate(p.pos)).collect(),
            regions_index,
            base_ids: bases
                .iter()
                .enumerate()
                .map(|(i, b)| (b.id.clone(), i))
                .collect(),
            region_ids: regions
                .iter()
                .enumerate()
                .map(|(i, r)| (r.id.to_ascii_uppercase(), i as RegionIdx))
                .collect(),
            region_names: regions
                .iter()
                .enumerate()
                .flat_map(|(i, r)| [fold(&r.name), fold(&r.name_fr)].map(|k| (k, i as RegionIdx)))
                .filter(|(k, _)| !k.is_empty())
                .collect(),
            place_keys: places
                .iter()
                .map(|p| {
                    std::iter::once(&p.name)
                        .chain(&p.alt_names)
                        .map(|n| fold(n))
                        .filter(|k| !k.is_empty())
                        .collect()
                })
                .collect(),
            regions,
            bases,
            places,
            basemap,
        }
    }
}

/// Where and when each kind of item lies: bounding boxes `[west, south, east, north]`
/// (`None` when there are no items) and time spans.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Extents {
    pub events: Option<[f64; 4]>,
    pub bases: Option<[f64; 4]>,
    pub places: Option<[f64; 4]>,
    pub regions: Option<[f64; 4]>,
    /// First and last event day.
    pub event_days: Option<(NaiveDate, NaiveDate)>,
    /// The year the earliest base opened.
    pub first_base_year: Option<i32>,
}

fn bbox_of(points: impl Iterator<Item = LonLat>) -> Option<[f64; 4]> {
    points.map(|p| [p.lon, p.lat, p.lon, p.lat]).reduce(union)
}

type Days = (NaiveDate, NaiveDate);

fn days_of<'a>(events: impl Iterator<Item = &'a Event>) -> Option<Days> {
    events.map(|e| (e.date, e.date)).reduce(union_days)
}

fn union_days(a: Days, b: Days) -> Days {
    (a.0.min(b.0), a.1.max(b.1))
}

impl Extents {
    /// The extents of everything but the events.
    fn of(regions: &[Region], bases: &[Base], places: &[Place]) -> Extents {
        Extents {
            events: None,
            bases: bbox_of(bases.iter().map(|b| b.pos)),
            places: bbox_of(places.iter().map(|p| p.pos)),
            regions: regions
                .iter()
                .filter_map(|r| r.geometry.bounding_rect())
                .map(|r| [r.min().x, r.min().y, r.max().x, r.max().y])
                .reduce(union),
            event_days: None,
            first_base_year: bases.iter().filter_map(|b| b.opened).min(),
        }
    }
}

fn union(a: [f64; 4], b: [f64; 4]) -> [f64; 4] {
    [
        a[0].min(b[0]),
        a[1].min(b[1]),
        a[2].max(b[2]),
        a[3].max(b[3]),
    ]
}

/// Which region a point is in: an R-tree of region envelopes, then a banded
/// point-in-polygon test.
pub(crate) struct RegionLocator {
    tree: RTree<IndexedBox>,
    shapes: Vec<BandedPolygon>,
}

impl RegionLocator {
    fn new(regions: &[Region]) -> RegionLocator {
        let tree = RTree::bulk_load(
            regions
                .iter()
                .enumerate()
                .filter_map(|(i, r)| {
                    let b = r.geometry.bounding_rect()?;
                    let rect =
                        Rectangle::from_corners([b.min().x, b.min().y], [b.max().x, b.max().y]);
                    Some(IndexedBox::new(rect, i as RegionIdx))
                })
                .collect(),
        );
        let shapes = regions
            .iter()
            .map(|r| BandedPolygon::new(&r.geometry))
            .collect();
        RegionLocator { tree, shapes }
    }

    pub(crate) fn locate(&self, p: LonLat) -> Option<RegionIdx> {
        self.tree
            .locate_all_at_point(&[p.lon, p.lat])
            .map(|b| b.data)
            .filter(|&i| self.shapes[i as usize].contains(p))
            .min()
    }
}

/// An index of the events' points; the `k`th event's data is `first + k`.
fn point_index<E: std::borrow::Borrow<Event>>(events: &[E], first: u32) -> PointIndex {
    PointIndex::new(
        events
            .iter()
            .enumerate()
            .map(|(k, e)| {
                let p = e.borrow().pos;
                ([p.lon, p.lat], first + k as u32)
            })
            .collect(),
    )
}

impl Atlas {
    /// Indexes `data`: places each event in its region and builds every index.
    pub fn build(data: Dataset) -> Atlas {
        let Dataset {
            regions,
            bases,
            places,
            events,
            basemap,
        } = data;
        let fixed = Fixed::new(regions, bases, places, basemap);
        let base = EventIndex::build(events, &fixed.regions_index, fixed.regions.len());
        Atlas::assemble(Arc::new(fixed), Arc::new(base), Arc::default())
    }

    /// The atlas of `data` (its events are not used) over the base saved at `path`, and
    /// how far into the store that base goes; `None` when there is no saved base built
    /// from inputs with this `fingerprint` (see [`saved`]).
    ///
    /// # Errors
    /// A saved file that is damaged or cannot be read.
    pub fn open_saved(
        data: Dataset,
        path: &std::path::Path,
        fingerprint: &str,
    ) -> Result<Option<(Atlas, saved::StoreMark)>, saved::SavedError> {
        let Some((base, mark)) = saved::open(path, fingerprint, data.regions.len())? else {
            return Ok(None);
        };
        let fixed = Fixed::new(data.regions, data.bases, data.places, data.basemap);
        let atlas = Atlas::assemble(Arc::new(fixed), Arc::new(base), Arc::default());
        Ok(Some((atlas, mark)))
    }

    /// Saves the base (the events as built or last merged, without the delta's writes)
    /// to `path`, for [`Atlas::open_saved`]; `mark` is how far into the store it goes.
    ///
    /// # Errors
    /// The file cannot be written.
    pub fn save_base(
        &self,
        path: &std::path::Path,
        fingerprint: &str,
        mark: &saved::StoreMark,
    ) -> Result<(), saved::SavedError> {
        saved::save(&self.base, path, fingerprint, mark)
    }

    fn assemble(fixed: Arc<Fixed>, base: Arc<EventIndex>, delta: Arc<Delta>) -> Atlas {
        let mut region_event_count = base.region_event_count.clone();
        let hidden = delta
            .hidden_list
            .iter()
            .map(|&i| base.indexes.region[i as usize]);
        for r in hidden.flatten() {
            region_event_count[r as usize] -= 1;
        }
        for r in delta.region.iter().flatten() {
            region_event_count[*r as usize] += 1;
        }
        // Bounds of the base as built and the delta's events: a deleted event may leave
        // them a little wide until the next merge, never too narrow.
        let events = base
            .bbox
            .into_iter()
            .chain(bbox_of(delta.events.iter().map(|e| e.pos)));
        let days = base
            .days
            .into_iter()
            .chain(days_of(delta.events.iter().map(|e| &**e)));
        let extents = Extents {
            events: events.reduce(union),
            event_days: days.reduce(union_days),
            ..fixed.extents.clone()
        };
        Atlas {
            fixed,
            base,
            delta,
            region_event_count,
            extents,
        }
    }

    /// This atlas with `changes` applied in order, sharing everything but a new delta
    /// (time in proportion to the delta's size).
    pub fn with_changes(&self, changes: &[Change]) -> Atlas {
        let locator = &self.fixed.regions_index;
        let delta = self.delta.apply(&self.base, changes, |p| locator.locate(p));
        Atlas::assemble(self.fixed.clone(), self.base.clone(), Arc::new(delta))
    }

    /// The same events with the delta folded into a newly indexed base (as slow as
    /// building the atlas; done in the background).
    pub fn merged(&self) -> Atlas {
        let mut events = Vec::with_capacity(self.event_count());
        events.extend(self.event_indices().map(|i| self.event(i).clone()));
        let fixed = &self.fixed;
        let base = EventIndex::build(events, &fixed.regions_index, fixed.regions.len());
        Atlas::assemble(fixed.clone(), Arc::new(base), Arc::default())
    }

    /// Whether `other` is built on the same base (a delta apart).
    pub fn shares_base(&self, other: &Atlas) -> bool {
        Arc::ptr_eq(&self.base, &other.base)
    }

    /// How many events the delta adds plus how many base events it hides.
    pub fn delta_size(&self) -> usize {
        self.delta.size()
    }

    /// The regions, in file order.
    pub fn regions(&self) -> &[Region] {
        &self.fixed.regions
    }

    /// The bases, in file order.
    pub fn bases(&self) -> &[Base] {
        &self.fixed.bases
    }

    /// The places of the gazetteer, in file order.
    pub fn places(&self) -> &[Place] {
        &self.fixed.places
    }

    /// The base map's layers (country, neighbours, rivers, lakes).
    pub fn basemap(&self) -> &Basemap {
        &self.fixed.basemap
    }

    /// Which part holds atlas index `i`, and its index there.
    #[inline]
    fn part(&self, i: u32) -> Part {
        match (i as usize).checked_sub(self.base.events.len()) {
            None => Part::Base(i as usize),
            Some(k) => Part::Delta(k),
        }
    }

    /// Event `i`'s entry in one of two parallel columns, the base's or the delta's.
    #[inline]
    fn pick<T: Copy>(&self, i: u32, base: &[T], delta: &[T]) -> T {
        match self.part(i) {
            Part::Base(j) => base[j],
            Part::Delta(k) => delta[k],
        }
    }

    /// The event with atlas index `i`.
    #[inline]
    pub fn event(&self, i: u32) -> &Event {
        match self.part(i) {
            Part::Base(j) => &self.base.events[j],
            Part::Delta(k) => &self.delta.events[k],
        }
    }

    /// How many events there are.
    pub fn event_count(&self) -> usize {
        self.base.events.len() - self.delta.hidden_list.len() + self.delta.events.len()
    }

    /// One more than the largest atlas index (for arrays indexed by event).
    pub fn index_len(&self) -> usize {
        self.base.events.len() + self.delta.events.len()
    }

    /// Every event's atlas index: the base's in date order, then the delta's.
    pub fn event_indices(&self) -> impl Iterator<Item = u32> + '_ {
        let n = self.base.events.len() as u32;
        (0..n)
            .filter(|&i| !self.delta.hides(i))
            .chain(n..self.index_len() as u32)
    }

    /// A key that sorts atlas indices by date (ties: base events in file order, then
    /// written ones in the delta's order). Reads no event: sorting a million by date must
    /// not mean a million scattered reads.
    #[inline]
    pub fn date_key(&self, i: u32) -> u64 {
        match self.part(i) {
            // The base is in date order: base event j sorts after every written event
            // that a date puts before it.
            Part::Base(j) => ((j as u64) << 32) | u64::from(u32::MAX),
            // Before the first base event of a later day, after those of its own day.
            Part::Delta(k) => self.delta.date_keys[k],
        }
    }

    /// The base events as indexed, including the ones the delta hides (for summaries that
    /// subtract those, see [`Atlas::changed_points_in`]).
    pub fn base_events(&self) -> &[Event] {
        &self.base.events
    }

    /// Whether atlas index `i` is a base event the delta replaced or deleted.
    #[inline]
    pub fn is_hidden(&self, i: u32) -> bool {
        self.delta.hides(i)
    }

    /// The region event `i` lies in.
    pub fn event_region(&self, i: u32) -> Option<RegionIdx> {
        self.pick(i, &self.base.indexes.region, &self.delta.region)
    }

    /// Event `i`'s two actors, as indices into [`Atlas::actors_folded`].
    pub fn actor_pair(&self, i: u32) -> [u32; 2] {
        self.pick(i, &self.base.indexes.actor_pairs, &self.delta.actor_pairs)
    }

    /// The distinct actor names, accent- and case-folded.
    pub fn actors_folded(&self) -> impl Iterator<Item = &str> {
        let base = self.base.indexes.actors.folded.iter();
        base.chain(&self.delta.new_actors.folded)
            .map(String::as_str)
    }

    /// The region each base lies in, parallel to [`Atlas::bases`].
    pub fn base_region(&self) -> &[Option<RegionIdx>] {
        &self.fixed.base_region
    }

    /// The region each place lies in, parallel to [`Atlas::places`].
    pub fn place_region(&self) -> &[Option<RegionIdx>] {
        &self.fixed.place_region
    }

    /// How many events lie in each region, parallel to [`Atlas::regions`].
    pub fn region_event_count(&self) -> &[u64] {
        &self.region_event_count
    }

    /// Accent- and case-folded names of each place: its name first, then alternates.
    pub fn place_keys(&self) -> &[Vec<String>] {
        &self.fixed.place_keys
    }

    /// Where and when each kind of item lies.
    pub fn extents(&self) -> &Extents {
        &self.extents
    }

    /// The region containing `p`, if any (lowest index if on a shared border).
    pub fn region_at(&self, p: LonLat) -> Option<RegionIdx> {
        self.fixed.regions_index.locate(p)
    }

    /// Events whose point lies in any of the envelopes (a pre-filter: callers do the
    /// exact test). Indices come out in no particular order.
    pub fn events_in(&self, envelopes: Vec<Envelope>) -> impl Iterator<Item = u32> + '_ {
        self.event_points_in(envelopes).map(|(i, _)| i)
    }

    /// Like [`Atlas::events_in`], with each event's position read from the index itself
    /// (no trip to the event records: at tens of thousands of candidates that matters).
    pub fn event_points_in(
        &self,
        envelopes: Vec<Envelope>,
    ) -> impl Iterator<Item = (u32, LonLat)> + '_ {
        let base = envelopes
            .clone()
            .into_iter()
            .flat_map(|e| self.base.indexes.points.in_box(e.min, e.max))
            .filter(|p| !self.delta.hides(p.0));
        let added = envelopes
            .into_iter()
            .flat_map(|e| self.delta.added.in_box(e.min, e.max));
        base.chain(added).map(point)
    }

    /// What the delta changed in the envelopes: the points of added events (`true`) and
    /// of hidden base events (`false`), for summaries of the base to correct.
    pub fn changed_points_in(
        &self,
        envelopes: Vec<Envelope>,
    ) -> impl Iterator<Item = (u32, LonLat, bool)> + '_ {
        let added = envelopes
            .clone()
            .into_iter()
            .flat_map(|e| self.delta.added.in_box(e.min, e.max))
            .map(|p| (point(p), true));
        let hidden = envelopes
            .into_iter()
            .flat_map(|e| self.delta.hidden_points.in_box(e.min, e.max))
            .map(|p| (point(p), false));
        added.chain(hidden).map(|((i, pos), added)| (i, pos, added))
    }

    /// Events in degree-space order of nearness to `p`: a candidate stream for exact
    /// geodesic nearest-neighbour search.
    pub fn events_by_planar_distance(&self, p: LonLat) -> impl Iterator<Item = u32> + '_ {
        let q = [p.lon, p.lat];
        let d2 = move |x: &(u32, [f64; 2])| (x.1[0] - q[0]).powi(2) + (x.1[1] - q[1]).powi(2);
        let mut base = self
            .base
            .indexes
            .points
            .nearest(q)
            .filter(|x| !self.delta.hides(x.0))
            .peekable();
        let mut added = self.delta.added.nearest(q).peekable();
        // Two streams, each nearest first: merge them.
        std::iter::from_fn(move || {
            let next = match (base.peek(), added.peek()) {
                (Some(a), Some(b)) if d2(a) > d2(b) => added.next(),
                (Some(_), _) => base.next(),
                (None, _) => added.next(),
            };
            next.map(|x| x.0)
        })
    }

    /// The base events by grid cell (for dense radius queries). It includes hidden base
    /// events (skip them with [`Atlas::is_hidden`]) and not the delta's (see
    /// [`Atlas::changed_points_in`]).
    pub fn grid(&self) -> &EventGrid {
        &self.base.indexes.grid
    }

    /// The index of the event with id `id`, if there is one.
    pub fn event_index(&self, id: &str) -> Option<u32> {
        if let Some(&i) = self.delta.ids.get(id) {
            return Some(i);
        }
        let i = self.base.index_of(id)?;
        (!self.delta.hides(i)).then_some(i)
    }

    /// The index of the base with id `id`, if there is one.
    pub fn base_index(&self, id: &str) -> Option<usize> {
        self.fixed.base_ids.get(id).copied()
    }

    /// A region by ISO code (`ML-5`, case-insensitive) or by name (`Mopti`, `segou`,
    /// `Tombouctou`; accents and case ignored).
    pub fn region_index(&self, key: &str) -> Option<RegionIdx> {
        self.fixed
            .region_ids
            .get(&key.trim().to_ascii_uppercase())
            .or_else(|| self.fixed.region_names.get(&fold(key)))
            .copied()
    }

    /// The region event `i` lies in.
    pub fn region_of_event(&self, i: u32) -> Option<&Region> {
        self.event_region(i)
            .map(|r| &self.fixed.regions[r as usize])
    }
}

fn point((i, p): (u32, [f64; 2])) -> (u32, LonLat) {
    (i, LonLat::new(p[0], p[1]))
}
