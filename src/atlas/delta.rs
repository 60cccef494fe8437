//! What changed since the base events were indexed: events added or replaced, with small
//! indexes of their own, and the base events they hide (replaced or deleted). A write
//! builds a new delta in time proportional to the delta, not to the atlas; a background
//! merge folds it into a new base once it grows (see `live`).

use std::sync::Arc;

use rustc_hash::FxHashMap;

use super::events::{Actors, EventIndex};
use super::point_index;
use super::points::PointIndex;
use crate::model::{Change, Event, LonLat, RegionIdx, Word};

/// Events added or replaced since the base, and the base events hidden.
#[derive(Default)]
pub struct Delta {
    /// Event `k` has atlas index `base length + k`; shared with the deltas after it, so
    /// that the next write copies pointers, not events.
    pub events: Vec<Arc<Event>>,
    pub region: Vec<Option<RegionIdx>>,
    /// Each event's date key (see `Atlas::date_key`): in the top half, how many base
    /// events fall on its day or before (where it sorts among them, the base being in
    /// date order); in the bottom half, its rank among the delta's events by date.
    pub date_keys: Vec<u64>,
    /// Each event's actors: ids below the base's table length are the base's, the rest
    /// are `base length + id` in `new_actors`.
    pub actor_pairs: Vec<[u32; 2]>,
    pub new_actors: Actors,
    /// The added events' points (data: atlas index).
    pub added: PointIndex,
    /// Atlas index of each added event by id.
    pub ids: FxHashMap<Arc<str>, u32>,
    /// One bit per base event: set when replaced or deleted (empty: none).
    hidden: Vec<u64>,
    /// The hidden base events' points (data: base index).
    pub hidden_points: PointIndex,
    pub hidden_list: Vec<u32>,
}

impl Delta {
    /// Whether base event `i` is replaced or deleted.
    #[inline]
    pub fn hides(&self, i: u32) -> bool {
        self.hidden
            .get(i as usize / 64)
            .is_some_and(|w| (w >> (i % 64)) & 1 == 1)
    }

    /// How many base events are hidden plus how many events are added.
    pub fn size(&self) -> usize {
        self.events.len() + self.hidden_list.len()
    }

    /// This delta with `changes` applied in order (the last change of an id wins);
    /// `locate` finds the region of a new event.
    pub fn apply(
        &self,
        base: &EventIndex,
        changes: &[Change],
        locate: impl Fn(LonLat) -> Option<RegionIdx>,
    ) -> Delta {
        let n = base.events.len() as u32;
        let mut slots: Vec<Option<(Arc<Event>, Option<RegionIdx>)>> = self
            .events
            .iter()
            .cloned()
            .zip(self.region.iter().copied())
            .map(Some)
            .collect();
        let mut slot_of: FxHashMap<Arc<str>, usize> = self
            .ids
            .iter()
            .map(|(id, &i)| (id.clone(), (i - n) as usize))
            .collect();
        let mut hidden = self.hidden.clone();
        if hidden.is_empty() {
            hidden = vec![0; base.events.len().div_ceil(64)];
        }
        let mut hidden_list = self.hidden_list.clone();
        for c in changes {
            let id = c.id();
            if let Some(i) = base.index_of(id) {
                let (w, bit) = (i as usize / 64, 1u64 << (i % 64));
                if hidden[w] & bit == 0 {
                    hidden[w] |= bit;
                    hidden_list.push(i);
                }
            }
            match c {
                Change::Upsert(e) => {
                    let slot = Some((Arc::new(e.clone()), locate(e.pos)));
                    match slot_of.get(id) {
                        Some(&k) => slots[k] = slot,
                        None => {
                            slot_of.insert(id.clone(), slots.len());
                            slots.push(slot);
                        }
                    }
                }
                Change::Delete(_) => {
                    if let Some(k) = slot_of.remove(id) {
                        slots[k] = None;
                    }
                }
            }
        }
        let (events, region): (Vec<Arc<Event>>, Vec<Option<RegionIdx>>) =
            slots.into_iter().flatten().unzip();
        Delta::index(base, events, region, hidden, hidden_list)
    }

    fn index(
        base: &EventIndex,
        events: Vec<Arc<Event>>,
        region: Vec<Option<RegionIdx>>,
        hidden: Vec<u64>,
        hidden_list: Vec<u32>,
    ) -> Delta {
        let n = base.events.len() as u32;
        let base_actors = base.indexes.actors.names.len() as u32;
        let mut new_actors = Actors::default();
        let mut actor = |a: Word| {
            base.indexes
                .actors
                .get(a)
                .unwrap_or_else(|| base_actors + new_actors.id(a))
        };
        let actor_pairs = events
            .iter()
            .map(|e| [actor(e.actor1), actor(e.actor2)])
            .collect();
        let added = point_index(&events, n);
        let mut by_date: Vec<usize> = (0..events.len()).collect();
        by_date.sort_by_key(|&k| events[k].date);
        let mut date_keys = vec![0; events.len()];
        for (order, &k) in by_date.iter().enumerate() {
            let rank = base.events.partition_point(|b| b.date <= events[k].date);
            date_keys[k] = ((rank as u64) << 32) | order as u64;
        }
        let ids = events
            .iter()
            .enumerate()
            .map(|(k, e)| (e.id.clone(), n + k as u32))
            .collect();
        let hidden_points = PointIndex::new(
            hidden_list
                .iter()
                .map(|&i| {
                    let p = base.events[i as usize].pos;
                    ([p.lon, p.lat], i)
                })
                .collect(),
        );
        Delta {
            events,
            region,
            date_keys,
            actor_pairs,
            new_actors,
            added,
            ids,
            hidden,
            hidden_points,
            hidden_list,
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::atlas::Atlas;
    use crate::model::{Event, LonLat};
    use crate::query::filter::{Bbox, DateBound, EventFilter, parse_date_bound};
    use crate::query::{Near, Sort, fill_distances, find_events, nearest};

    fn ids(atlas: &Atlas, hits: impl IntoIterator<Item = u32>) -> Vec<String> {
        hits.into_iter()
            .map(|i| atlas.event(i).id.to_string())
            .collect()
    }

    fn same_event(a: &Event, b: &Event) -> bool {
        (a.id == b.id && a.pos == b.pos && a.date == b.date)
            && (a.event_type == b.event_type && a.fatalities == b.fatalities)
            && (a.actor1 == b.actor1 && a.actor2 == b.actor2)
    }

    /// The atlas with a delta answers like the same events indexed from scratch: counts,
    /// ids, regions, and every kind of query with filters and sorts.
    #[test]
    fn a_delta_answers_like_a_fresh_index() {
        let changed = crate::synth::test_changed_atlas(20_000, 11);
        let fresh = changed.merged();
        assert!(changed.delta_size() > 3_000, "{}", changed.delta_size());
        assert_eq!(fresh.delta_size(), 0);
        assert_eq!(changed.event_count(), fresh.event_count());
        assert_eq!(changed.region_event_count(), fresh.region_event_count());
        let mut a = ids(&changed, changed.event_indices());
        let mut b = ids(&fresh, fresh.event_indices());
        a.sort();
        b.sort();
        assert_eq!(a, b);
        for i in fresh.event_indices() {
            let e = fresh.event(i);
            let j = changed.event_index(&e.id).expect("every id found");
            assert!(same_event(e, changed.event(j)), "{}", e.id);
            assert_eq!(changed.event_region(j), fresh.event_region(i));
        }
        let day = |s| parse_date_bound(s, DateBound::Start);
        let filters = [
            EventFilter::default(),
            EventFilter {
                from: day("2012-03-01"),
                to: parse_date_bound("2019-06", DateBound::End),
                ..EventFilter::default()
            },
            EventFilter {
                types: vec!["Battles".into()],
                min_fatalities: Some(3),
                ..EventFilter::default()
            },
            EventFilter {
                actor: Some("written actor 1".into()),
                ..EventFilter::default()
            },
            EventFilter {
                region: fresh.region_index("Mopti"),
                ..EventFilter::default()
            },
            EventFilter {
                bbox: Some(Bbox {
                    west: -5.0,
                    south: 13.0,
                    east: -1.0,
                    north: 16.5,
                }),
                ..EventFilter::default()
            },
        ];
        let mopti = LonLat::new(-4.18296, 14.4843);
        for f in &filters {
            let (mc, mf) = (f.compile(&changed), f.compile(&fresh));
            for sort in [Sort::Date, Sort::DateDesc, Sort::FatalitiesDesc] {
                let got = find_events(&changed, &mc, None, sort, 0);
                let want = find_events(&fresh, &mf, None, sort, 0);
                assert!(!want.is_empty(), "{f:?}");
                let (got, want) = (got.iter().map(|h| h.event), want.iter().map(|h| h.event));
                assert_eq!(ids(&changed, got), ids(&fresh, want), "{f:?} {sort:?}");
            }
            let near = Some(Near {
                center: mopti,
                radius_km: 120.0,
            });
            let mut got = find_events(&changed, &mc, near, Sort::Distance, usize::MAX);
            let mut want = find_events(&fresh, &mf, near, Sort::Distance, usize::MAX);
            fill_distances(&changed, mopti, &mut got);
            fill_distances(&fresh, mopti, &mut want);
            let d = |h: &[crate::query::Hit]| -> Vec<f64> {
                h.iter().map(|x| x.distance_km.unwrap()).collect()
            };
            assert_eq!(d(&got), d(&want), "{f:?}");
            let (got, want) = (
                nearest(&changed, &mc, mopti, 25),
                nearest(&fresh, &mf, mopti, 25),
            );
            assert_eq!(d(&got), d(&want), "{f:?}");
        }
    }
}
