//! Questions asked of the atlas: events near a point or in a box, nearest events, base
//! coverage, statistics, gazetteer search. Nothing here knows about HTTP.

pub mod coverage;
pub mod filter;
pub mod places;
pub mod stats;

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::Datelike;
use serde::Serialize;

use crate::atlas::Atlas;
use crate::geodesy::{distance_km, search_envelopes};
use crate::model::{Event, LonLat};
use filter::Matcher;

/// A geodesic radius search.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Near {
    pub center: LonLat,
    pub radius_km: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sort {
    /// Oldest first (ties by id).
    Date,
    /// Newest first.
    DateDesc,
    /// Nearest first; only with a `Near`.
    Distance,
    /// Deadliest first, then oldest.
    FatalitiesDesc,
}

/// One matching event; `distance_km` is set when the query had a centre.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hit {
    pub event: u32,
    pub distance_km: Option<f64>,
}

/// Events within `radius_km` geodesic distance of `center` (inclusive), with their
/// distances, in no particular order. The R-tree only proposes candidates from a
/// conservative envelope; every answer is decided by the WGS84 geodesic distance.
pub fn within(atlas: &Atlas, center: LonLat, radius_km: f64) -> Vec<(u32, f64)> {
    atlas
        .events_in(search_envelopes(center, radius_km))
        .filter_map(|i| {
            let d = distance_km(center, atlas.events[i as usize].pos);
            (d <= radius_km).then_some((i, d))
        })
        .collect()
}

/// All events that match, optionally within a radius, sorted.
pub fn find_events(atlas: &Atlas, m: &Matcher, near: Option<Near>, sort: Sort) -> Vec<Hit> {
    let mut hits: Vec<Hit> = match (near, m.filter().bbox) {
        (Some(n), _) => within(atlas, n.center, n.radius_km)
            .into_iter()
            .filter(|&(i, _)| m.matches(i))
            .map(|(i, d)| Hit {
                event: i,
                distance_km: Some(d),
            })
            .collect(),
        (None, Some(b)) => atlas
            .events_in(b.envelopes())
            .filter(|&i| m.matches(i))
            .map(|i| Hit {
                event: i,
                distance_km: None,
            })
            .collect(),
        (None, None) => (0..atlas.events.len() as u32)
            .filter(|&i| m.matches(i))
            .map(|i| Hit {
                event: i,
                distance_km: None,
            })
            .collect(),
    };
    sort_hits(atlas, &mut hits, sort);
    hits
}

fn sort_hits(atlas: &Atlas, hits: &mut [Hit], sort: Sort) {
    // Events are stored in (date, id) order, so index order is date order.
    match sort {
        Sort::Date => hits.sort_unstable_by_key(|h| h.event),
        Sort::DateDesc => hits.sort_unstable_by_key(|h| std::cmp::Reverse(h.event)),
        Sort::Distance => hits.sort_unstable_by(|a, b| {
            a.distance_km
                .unwrap_or(0.0)
                .total_cmp(&b.distance_km.unwrap_or(0.0))
                .then(a.event.cmp(&b.event))
        }),
        Sort::FatalitiesDesc => hits.sort_unstable_by_key(|h| {
            (
                std::cmp::Reverse(atlas.events[h.event as usize].fatalities),
                h.event,
            )
        }),
    }
}

/// The `k` matching events nearest to `p` by geodesic distance, nearest first.
///
/// Exact, not approximate: the first `k` matches in planar (degree) order are some `k`
/// events within `d` = their largest geodesic distance, so the true `k` nearest all lie
/// within `d`; a geodesic radius search of `d` then finds and ranks them.
pub fn nearest(atlas: &Atlas, m: &Matcher, p: LonLat, k: usize) -> Vec<Hit> {
    if k == 0 {
        return Vec::new();
    }
    let d = atlas
        .events_by_planar_distance(p)
        .filter(|&i| m.matches(i))
        .take(k)
        .map(|i| distance_km(p, atlas.events[i as usize].pos))
        .fold(None, |acc: Option<f64>, d| {
            Some(acc.map_or(d, |a| a.max(d)))
        });
    let Some(d) = d else {
        return Vec::new();
    };
    let mut hits = find_events(
        atlas,
        m,
        Some(Near {
            center: p,
            radius_km: d,
        }),
        Sort::Distance,
    );
    hits.truncate(k);
    hits
}

/// A count of events and the sum of their fatalities.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Tally {
    pub count: u64,
    pub fatalities: u64,
}

impl Tally {
    pub fn add(&mut self, e: &Event) {
        self.count += 1;
        self.fatalities += e.fatalities as u64;
    }
}

/// Totals of a set of events, overall and broken down by event type and by year.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Totals {
    #[serde(flatten)]
    pub all: Tally,
    pub by_type: BTreeMap<Arc<str>, Tally>,
    pub by_year: BTreeMap<i32, Tally>,
}

impl Totals {
    pub fn add(&mut self, e: &Event) {
        self.all.add(e);
        self.by_type.entry(e.event_type.clone()).or_default().add(e);
        self.by_year.entry(e.date.year()).or_default().add(e);
    }

    pub fn of(atlas: &Atlas, events: impl IntoIterator<Item = u32>) -> Totals {
        let mut t = Totals::default();
        for i in events {
            t.add(&atlas.events[i as usize]);
        }
        t
    }
}
