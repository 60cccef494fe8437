//! The in-memory store: the loaded data plus the indexes built once at start-up.
//! An `Atlas` is immutable; the server holds it behind an `Arc` so that a new snapshot
//! can replace it atomically while readers finish with the old one.

use std::collections::HashMap;
use std::sync::Arc;

use geo::{BoundingRect, Intersects, Point};
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::{AABB, RTree};

use crate::geodesy::Envelope;
use crate::load::Dataset;
use crate::model::{Base, Basemap, Event, LonLat, Place, Region, RegionIdx};
use crate::text::fold;

/// A point in the R-tree, carrying the index of its item.
pub type IndexedPoint = GeomWithData<[f64; 2], u32>;
type IndexedBox = GeomWithData<Rectangle<[f64; 2]>, RegionIdx>;

pub struct Atlas {
    pub regions: Vec<Region>,
    pub bases: Vec<Base>,
    pub places: Vec<Place>,
    /// Sorted by (date, id), so index order is chronological order.
    pub events: Vec<Event>,
    pub basemap: Basemap,
    /// The region each event lies in (point in polygon), parallel to `events`.
    pub event_region: Vec<Option<RegionIdx>>,
    pub base_region: Vec<Option<RegionIdx>>,
    pub place_region: Vec<Option<RegionIdx>>,
    /// How many events lie in each region, parallel to `regions`.
    pub region_event_count: Vec<u64>,
    /// The distinct actors, for fast actor filters.
    pub actors: Actors,
    /// Accent- and case-folded names of each place: its name first, then alternates.
    pub place_keys: Vec<Vec<String>>,
    event_tree: RTree<IndexedPoint>,
    base_tree: RTree<IndexedPoint>,
    region_tree: RTree<IndexedBox>,
    event_ids: HashMap<Arc<str>, u32>,
    base_ids: HashMap<String, usize>,
    region_ids: HashMap<String, RegionIdx>,
    region_names: HashMap<String, RegionIdx>,
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
        let mut index: HashMap<Arc<str>, u32> = HashMap::new();
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
        events.sort_by(|a, b| a.date.cmp(&b.date).then_with(|| a.id.cmp(&b.id)));
        assert!(regions.len() < RegionIdx::MAX as usize, "too many regions");

        let region_tree = RTree::bulk_load(
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
        let mut atlas = Atlas {
            event_tree: point_tree(&events, |e| e.pos),
            base_tree: point_tree(&bases, |b| b.pos),
            region_tree,
            event_ids: events
                .iter()
                .enumerate()
                .map(|(i, e)| (e.id.clone(), i as u32))
                .collect(),
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
            actors: Actors::of(&events),
            event_region: Vec::new(),
            region_event_count: Vec::new(),
            base_region: Vec::new(),
            place_region: Vec::new(),
            regions,
            bases,
            places,
            events,
            basemap,
        };
        atlas.event_region = atlas
            .events
            .iter()
            .map(|e| atlas.region_at(e.pos))
            .collect();
        atlas.region_event_count = vec![0; atlas.regions.len()];
        for r in atlas.event_region.iter().flatten() {
            atlas.region_event_count[*r as usize] += 1;
        }
        atlas.base_region = atlas.bases.iter().map(|b| atlas.region_at(b.pos)).collect();
        atlas.place_region = atlas
            .places
            .iter()
            .map(|p| atlas.region_at(p.pos))
            .collect();
        atlas
    }

    /// The region containing `p` (boundary included), if any.
    pub fn region_at(&self, p: LonLat) -> Option<RegionIdx> {
        let pt = Point::new(p.lon, p.lat);
        self.region_tree
            .locate_all_at_point(&[p.lon, p.lat])
            .map(|b| b.data)
            .filter(|&i| self.regions[i as usize].geometry.intersects(&pt))
            .min()
    }

    /// Events whose point lies in any of the envelopes (a pre-filter: callers do the
    /// exact test). Indices come out in no particular order.
    pub fn events_in(&self, envelopes: Vec<Envelope>) -> impl Iterator<Item = u32> + '_ {
        envelopes
            .into_iter()
            .flat_map(|e| self.event_tree.locate_in_envelope(&aabb(&e)))
            .map(|p| p.data)
    }

    /// Events in degree-space order of nearness to `p`: a candidate stream for exact
    /// geodesic nearest-neighbour search.
    pub fn events_by_planar_distance(&self, p: LonLat) -> impl Iterator<Item = u32> + '_ {
        self.event_tree
            .nearest_neighbor_iter(&[p.lon, p.lat])
            .map(|p| p.data)
    }

    pub fn bases_in(&self, envelopes: Vec<Envelope>) -> impl Iterator<Item = u32> + '_ {
        envelopes
            .into_iter()
            .flat_map(|e| self.base_tree.locate_in_envelope(&aabb(&e)))
            .map(|p| p.data)
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
