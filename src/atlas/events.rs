//! The events as loaded (or last merged), sorted by date, with the indexes built over
//! them once: the R-tree, the grid, the id map, the regions and the actors.

use rustc_hash::FxHashMap;

use chrono::NaiveDate;

use super::ids::IdIndex;
use super::points::PointIndex;
use super::{RegionLocator, bbox_of, point_index};
use crate::atlas::grid::EventGrid;
use crate::model::text::fold;
use crate::model::{Event, RegionIdx, Word};

/// The distinct actor names of all events, folded once, and each event's two actors as
/// indices into them: an actor filter folds each name once instead of once per event.
#[derive(Default, Clone)]
pub struct Actors {
    pub names: Vec<Word>,
    pub folded: Vec<String>,
    ids: FxHashMap<Word, u32>,
}

impl Actors {
    /// The id of actor `name`, added if new.
    pub fn id(&mut self, name: Word) -> u32 {
        if let Some(&i) = self.ids.get(&name) {
            return i;
        }
        let i = self.names.len() as u32;
        self.ids.insert(name, i);
        self.names.push(name);
        self.folded.push(fold(&name));
        i
    }

    pub fn get(&self, name: Word) -> Option<u32> {
        self.ids.get(&name).copied()
    }

    /// The actor table of `events`, and each event's two actors.
    fn of(events: &[Event]) -> (Actors, Vec<[u32; 2]>) {
        let mut actors = Actors::default();
        let of_event = events
            .iter()
            .map(|e| [actors.id(e.actor1), actors.id(e.actor2)])
            .collect();
        (actors, of_event)
    }
}

/// The indexes over a base's events (in date order), as built or read back.
pub struct Indexes {
    /// The region each event lies in (point in polygon), parallel to the events.
    pub region: Vec<Option<RegionIdx>>,
    pub actors: Actors,
    pub actor_pairs: Vec<[u32; 2]>,
    pub points: PointIndex,
    pub grid: EventGrid,
    pub ids: IdIndex,
}

/// The base events of an atlas and their indexes; index order is date order.
pub struct EventIndex {
    pub events: Vec<Event>,
    pub indexes: Indexes,
    /// How many events lie in each region.
    pub region_event_count: Vec<u64>,
    /// The events' bounding box and first and last day.
    pub bbox: Option<[f64; 4]>,
    pub days: Option<(NaiveDate, NaiveDate)>,
}

impl EventIndex {
    /// The index of the base event with id `id`.
    pub fn index_of(&self, id: &str) -> Option<u32> {
        self.indexes.ids.get(id, |i| &self.events[i as usize].id)
    }

    pub fn build(mut events: Vec<Event>, regions: &RegionLocator, n_regions: usize) -> EventIndex {
        sort_by_date(&mut events);
        // The per-event work is independent: spread it over the cores.
        let (points, grid, ids, region, (actors, actor_pairs)) = std::thread::scope(|s| {
            let points = s.spawn(|| point_index(&events, 0));
            let grid = s.spawn(|| EventGrid::build(&events));
            let ids = s.spawn(|| IdIndex::build(events.iter().map(|e| &*e.id)));
            let actors = s.spawn(|| Actors::of(&events));
            let located: Vec<Option<RegionIdx>> =
                events.iter().map(|e| regions.locate(e.pos)).collect();
            (
                points.join().expect("point index build"),
                grid.join().expect("grid build"),
                ids.join().expect("id index build"),
                located,
                actors.join().expect("actor index build"),
            )
        });
        let indexes = Indexes {
            region,
            actors,
            actor_pairs,
            points,
            grid,
            ids,
        };
        EventIndex::assemble(events, indexes, n_regions)
    }

    /// The index of `events` (in date order) from its parts, built or read back; adds
    /// what is quick to derive.
    pub fn assemble(events: Vec<Event>, indexes: Indexes, n_regions: usize) -> EventIndex {
        let mut region_event_count = vec![0; n_regions];
        for r in indexes.region.iter().flatten() {
            region_event_count[*r as usize] += 1;
        }
        EventIndex {
            bbox: bbox_of(events.iter().map(|e| e.pos)),
            days: events
                .first()
                .zip(events.last())
                .map(|(a, z)| (a.date, z.date)),
            events,
            indexes,
            region_event_count,
        }
    }
}

/// Sorts by date, stably (events of one day keep their order in the files), in place: a
/// stable sort would borrow half the events again (about 100 MB at a million).
fn sort_by_date(events: &mut [Event]) {
    let mut keys: Vec<(NaiveDate, u32)> = events
        .iter()
        .enumerate()
        .map(|(i, e)| (e.date, i as u32))
        .collect();
    keys.sort_unstable();
    // Position i takes the event now at order[i]: follow each cycle once.
    let mut order: Vec<u32> = keys.into_iter().map(|(_, i)| i).collect();
    for start in 0..order.len() {
        let mut cur = start;
        loop {
            let next = order[cur] as usize;
            order[cur] = cur as u32;
            if next == start || next == cur {
                break;
            }
            events.swap(cur, next);
            cur = next;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorted_by_date_stably() {
        let day = |d| NaiveDate::from_ymd_opt(2019, 1, d).unwrap();
        let mut events: Vec<Event> = (0..500u32)
            .map(|i| Event {
                id: format!("E{i}").into(),
                date: day(1 + (i * 7919 % 13)),
                event_type: "Battles".into(),
                sub_event_type: "".into(),
                actor1: "".into(),
                actor2: "".into(),
                admin1: "".into(),
                admin2: "".into(),
                location: "".into(),
                geo_precision: None,
                fatalities: 0,
                source: "".into(),
                notes: "".into(),
                pos: crate::model::LonLat::new(0.0, 0.0),
            })
            .collect();
        let mut want = events.clone();
        want.sort_by_key(|e| e.date);
        sort_by_date(&mut events);
        let ids = |v: &[Event]| v.iter().map(|e| e.id.clone()).collect::<Vec<_>>();
        assert_eq!(ids(&events), ids(&want));
    }
}
