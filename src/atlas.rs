//! The in-memory store: the loaded data plus the indexes built once at start-up.
//! An `Atlas` is immutable; the server holds it behind an `Arc` so that a new snapshot
//! can replace it atomically while readers finish with the old one.

use std::collections::HashMap;
use std::sync::Arc;

use rustc_hash::FxHashMap;

use geo::BoundingRect;
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::{AABB, RTree};

use crate::geodesy::Envelope;
use crate::grid::EventGrid;
use crate::load::Dataset;
use crate::model::{Base, Basemap, Event, LonLat, Place, Region, RegionIdx};
use crate::pip::BandedPolygon;
use crate::text::fold;

/// A point in the R-tree, carrying the index of its item.
pub type IndexedPoint = GeomWithData<[f64; 2], u32>;
type IndexedBox = GeomWithData<Rectangle<[f64; 2]>, RegionIdx>;

pub struct Atlas {
    regions: Vec<Region>,
    bases: Vec<Base>,
    places: Vec<Place>,
    /// Sorted by (date, id), so index order is chronological order.
    events: Vec<Event>,
    basemap: Basemap,
    /// The region each event lies in (point in polygon), parallel to `events`.
    event_region: Vec<Option<RegionIdx>>,
    base_region: Vec<Option<RegionIdx>>,
    place_region: Vec<Option<RegionIdx>>,
    /// How many events lie in each region, parallel to `regions`.
    region_event_count: Vec<u64>,
    /// The distinct actors, for fast actor filters.
    actors: Actors,
    /// Accent- and case-folded names of each place: its name first, then alternates.
    place_keys: Vec<Vec<String>>,
    event_tree: RTree<IndexedPoint>,
    event_grid: EventGrid,
    regions_index: RegionLocator,
    event_ids: FxHashMap<Arc<str>, u32>,
    base_ids: HashMap<String, usize>,
    region_ids: HashMap<String, RegionIdx>,
    region_names: HashMap<String, RegionIdx>,
    extents: Extents,
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
    pub event_days: Option<(chrono::NaiveDate, chrono::NaiveDate)>,
    /// The year the earliest base opened.
    pub first_base_year: Option<i32>,
}

impl Extents {
    fn of(regions: &[Region], bases: &[Base], places: &[Place], events: &[Event]) -> Extents {
        let points = |it: &mut dyn Iterator<Item = LonLat>| {
            it.map(|p| [p.lon, p.lat, p.lon, p.lat]).reduce(union)
        };
        Extents {
            events: points(&mut events.iter().map(|e| e.pos)),
            bases: points(&mut bases.iter().map(|b| b.pos)),
            places: points(&mut places.iter().map(|p| p.pos)),
            regions: regions
                .iter()
                .filter_map(|r| r.geometry.bounding_rect())
                .map(|r| [r.min().x, r.min().y, r.max().x, r.max().y])
                .reduce(union),
            event_days: events
                .first()
                .zip(events.last())
                .map(|(a, z)| (a.date, z.date)),
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

/// The distinct actor names of all events, folded once, and each event's two actors as
/// indices into them: an actor filter folds each name once instead of once per event.
pub struct Actors {
    pub names: Vec<Arc<str>>,
    pub folded: Vec<String>,
    pub of_event: Vec<[u32; 2]>,
}

impl Actors {
    fn of(events: &[Event]) -> Actors {
        let mut index: FxHashMap<Arc<str>, u32> = FxHashMap::default();
        let mut names = Vec::new();
        let mut id = |a: &Arc<str>| {
            *index.entry(a.clone()).or_insert_with(|| {
                names.push(a.clone());
                (names.len() - 1) as u32
            })
        };
        let of_event = events
            .iter()
            .map(|e| [id(&e.actor1), id(&e.actor2)])
            .collect();
        let folded = names.iter().map(|n| fold(n)).collect();
        Actors {
            names,
            folded,
            of_event,
        }
    }
}

/// Which region a point is in: an R-tree of region envelopes, then a banded
/// point-in-polygon test.
struct RegionLocator {
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

    fn locate(&self, p: LonLat) -> Option<RegionIdx> {
        self.tree
            .locate_all_at_point(&[p.lon, p.lat])
            .map(|b| b.data)
            .filter(|&i| self.shapes[i as usize].contains(p))
            .min()
    }
}

fn point_tree<T>(items: &[T], pos: impl Fn(&T) -> LonLat) -> RTree<IndexedPoint> {
    RTree::bulk_load(
        items
            .iter()
            .enumerate()
            .map(|(i, it)| {
                let p = pos(it);
                IndexedPoint::new([p.lon, p.lat], i as u32)
            })
            .collect(),
    )
}

fn aabb(e: &Envelope) -> AABB<[f64; 2]> {
    AABB::from_corners(e.min, e.max)
}

impl Atlas {
    pub fn build(data: Dataset) -> Atlas {
        let Dataset {
            regions,
            bases,
            places,
            mut events,
            basemap,
        } = data;
        // Stable: events of the same day keep their order in the files.
        events.sort_by_key(|e| e.date);
        assert!(regions.len() < RegionIdx::MAX as usize, "too many regions");
        let regions_index = RegionLocator::new(&regions);

        // The per-event work is independent: spread it over the cores.
        let (event_tree, event_grid, event_region, event_ids, actors) = std::thread::scope(|s| {
            let tree = s.spawn(|| point_tree(&events, |e| e.pos));
            let grid = s.spawn(|| EventGrid::build(&events));
            let ids = s.spawn(|| {
                events
                    .iter()
                    .enumerate()
                    .map(|(i, e)| (e.id.clone(), i as u32))
                    .collect::<FxHashMap<_, _>>()
            });
            let actors = s.spawn(|| Actors::of(&events));
            let located: Vec<Option<RegionIdx>> =
                events.iter().map(|e| regions_index.locate(e.pos)).collect();
            (
                tree.join().expect("R-tree build"),
                grid.join().expect("grid build"),
                located,
                ids.join().expect("id map build"),
                actors.join().expect("actor index build"),
            )
        });
        let mut region_event_count = vec![0; regions.len()];
        for r in event_region.iter().flatten() {
            region_event_count[*r as usize] += 1;
        }
        Atlas {
            extents: Extents::of(&regions, &bases, &places, &events),
            event_tree,
            event_grid,
            base_region: bases.iter().map(|b| regions_index.locate(b.pos)).collect(),
            place_region: places.iter().map(|p| regions_index.locate(p.pos)).collect(),
            regions_index,
            event_ids,
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
            actors,
            event_region,
            region_event_count,
            regions,
            bases,
            places,
            events,
            basemap,
        }
    }

    /// An atlas with this one's regions, bases, places and base map, and `events`.
    pub fn with_events(&self, events: Vec<Event>) -> Atlas {
        Atlas::build(Dataset {
            regions: self.regions.clone(),
            bases: self.bases.clone(),
            places: self.places.clone(),
            basemap: self.basemap.clone(),
            events,
        })
    }

    pub fn regions(&self) -> &[Region] {
        &self.regions
    }

    pub fn bases(&self) -> &[Base] {
        &self.bases
    }

    pub fn places(&self) -> &[Place] {
        &self.places
    }

    /// Sorted by (date, id): index order is chronological order.
    pub fn events(&self) -> &[Event] {
        &self.events
    }

    pub fn basemap(&self) -> &Basemap {
        &self.basemap
    }

    /// The region each event lies in, parallel to [`Atlas::events`].
    pub fn event_region(&self) -> &[Option<RegionIdx>] {
        &self.event_region
    }

    pub fn base_region(&self) -> &[Option<RegionIdx>] {
        &self.base_region
    }

    pub fn place_region(&self) -> &[Option<RegionIdx>] {
        &self.place_region
    }

    /// How many events lie in each region, parallel to [`Atlas::regions`].
    pub fn region_event_count(&self) -> &[u64] {
        &self.region_event_count
    }

    pub fn actors(&self) -> &Actors {
        &self.actors
    }

    /// Accent- and case-folded names of each place: its name first, then alternates.
    pub fn place_keys(&self) -> &[Vec<String>] {
        &self.place_keys
    }

    /// Where and when each kind of item lies, computed once at build.
    pub fn extents(&self) -> &Extents {
        &self.extents
    }

    /// The region containing `p`, if any (lowest index if on a shared border).
    pub fn region_at(&self, p: LonLat) -> Option<RegionIdx> {
        self.regions_index.locate(p)
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
        envelopes
            .into_iter()
            .flat_map(|e| self.event_tree.locate_in_envelope(&aabb(&e)))
            .map(|p| (p.data, LonLat::new(p.geom()[0], p.geom()[1])))
    }

    /// Events in degree-space order of nearness to `p`: a candidate stream for exact
    /// geodesic nearest-neighbour search.
    pub fn events_by_planar_distance(&self, p: LonLat) -> impl Iterator<Item = u32> + '_ {
        self.event_tree
            .nearest_neighbor_iter(&[p.lon, p.lat])
            .map(|p| p.data)
    }

    /// The events by grid cell (for dense radius queries).
    pub fn grid(&self) -> &EventGrid {
        &self.event_grid
    }

    pub fn event_index(&self, id: &str) -> Option<u32> {
        self.event_ids.get(id).copied()
    }

    pub fn base_index(&self, id: &str) -> Option<usize> {
        self.base_ids.get(id).copied()
    }

    /// A region by ISO code (`ML-5`, case-insensitive) or by name (`Mopti`, `segou`,
    /// `Tombouctou`; accents and case ignored).
    pub fn region_index(&self, key: &str) -> Option<RegionIdx> {
        self.region_ids
            .get(&key.trim().to_ascii_uppercase())
            .or_else(|| self.region_names.get(&fold(key)))
            .copied()
    }

    pub fn region_of_event(&self, i: u32) -> Option<&Region> {
        self.event_region[i as usize].map(|r| &self.regions[r as usize])
    }
}
