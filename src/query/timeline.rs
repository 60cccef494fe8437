//! Coverage over time: per year, the matching events and fatalities, and how many of them
//! lie within reach of a base **open that year** (geodesic distance within the base's
//! `coverage_km`, or one radius for all), overall and per operator; and the events no
//! such base reached, for the hot spots.

use std::collections::BTreeMap;

use chrono::Datelike;
use serde::Serialize;

use super::filter::Matcher;
use super::hexbins::{HexBin, bin_events};
use super::{Near, Sort, find_events};
use crate::atlas::Atlas;

/// Which bases count, and how far they reach.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TimelineRule {
    /// One radius for every base instead of each base's `coverage_km`.
    pub radius_km: Option<f64>,
    /// Only the bases of this operator (case-insensitive).
    pub operator: Option<String>,
}

/// Events and fatalities of one year, and those within reach of an open base.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Reach {
    pub events: u64,
    pub fatalities: u64,
    pub covered_events: u64,
    pub covered_fatalities: u64,
}

impl Reach {
    /// Share of the events within reach (0 to 1; `None` without events).
    pub fn share_events(&self) -> Option<f64> {
        (self.events > 0).then(|| self.covered_events as f64 / self.events as f64)
    }

    /// Share of the fatalities within reach (0 to 1; `None` without fatalities).
    pub fn share_fatalities(&self) -> Option<f64> {
        (self.fatalities > 0).then(|| self.covered_fatalities as f64 / self.fatalities as f64)
    }
}

/// One year: everything, and the same per operator (by the operator's bases alone).
#[derive(Debug, Clone, PartialEq)]
pub struct TimelineYear {
    pub year: i32,
    pub all: Reach,
    pub by_operator: BTreeMap<String, Reach>,
}

pub struct Timeline {
    pub years: Vec<TimelineYear>,
    /// The matching events no counted base open in their year reached, in date order.
    pub uncovered: Vec<u32>,
}

/// The coverage of events matching `m` year by year.
///
/// 1. The matching events give each year's events and fatalities.
/// 2. Each counted base finds the matching events within its radius (exact geodesic
///    test, see [`find_events`]) and keeps those of years it was open.
/// 3. The union per operator, and over all, gives the covered figures.
///
/// # Runtime
/// One radius search per base: about the number of events within every base's reach.
pub fn timeline(atlas: &Atlas, m: &Matcher, rule: &TimelineRule) -> Timeline {
    let matching = find_events(atlas, m, None, Sort::Date, 0);
    let mut by_op: BTreeMap<String, Vec<u32>> = BTreeMap::new();
    for b in atlas.bases() {
        if rule
            .operator
            .as_ref()
            .is_some_and(|o| !o.eq_ignore_ascii_case(&b.operator))
        {
            continue;
        }
        let near = Near {
            center: b.pos,
            radius_km: rule.radius_km.unwrap_or(b.coverage_km),
        };
        let covered = by_op.entry(b.operator.clone()).or_default();
        let hits = find_events(atlas, m, Some(near), Sort::Date, 0);
        covered.extend(
            hits.iter()
                .map(|h| h.event)
                .filter(|&i| b.open_in(atlas.event(i).date.year())),
        );
    }
    let mut all_covered: Vec<u32> = Vec::new();
    for covered in by_op.values_mut() {
        covered.sort_unstable();
        covered.dedup();
        all_covered.extend_from_slice(covered);
    }
    all_covered.sort_unstable();
    all_covered.dedup();

    let mut years: BTreeMap<i32, TimelineYear> = BTreeMap::new();
    for h in &matching {
        let e = atlas.event(h.event);
        let y = years.entry(e.date.year()).or_insert_with(|| TimelineYear {
            year: e.date.year(),
            all: Reach::default(),
            by_operator: by_op
                .keys()
                .map(|o| (o.clone(), Reach::default()))
                .collect(),
        });
        let fatalities = u64::from(e.fatalities);
        for r in std::iter::once(&mut y.all).chain(y.by_operator.values_mut()) {
            r.events += 1;
            r.fatalities += fatalities;
        }
    }
    let mut count_covered = |events: &[u32], op: Option<&str>| {
        for &i in events {
            let e = atlas.event(i);
            let Some(y) = years.get_mut(&e.date.year()) else {
                continue;
            };
            let r = match op {
                None => &mut y.all,
                Some(o) => y.by_operator.entry(o.to_string()).or_default(),
            };
            r.covered_events += 1;
            r.covered_fatalities += u64::from(e.fatalities);
        }
    };
    count_covered(&all_covered, None);
    for (op, covered) in &by_op {
        count_covered(covered, Some(op));
    }
    let uncovered = matching
        .iter()
        .map(|h| h.event)
        .filter(|i| all_covered.binary_search(i).is_err())
        .collect();
    Timeline {
        years: years.into_values().collect(),
        uncovered,
    }
}

/// The `n` H3 cells at `res` with the most fatalities among `events` (ties: more
/// events, then cell order).
pub fn hotspots(atlas: &Atlas, events: &[u32], res: u8, n: usize) -> Vec<HexBin> {
    let mut bins = bin_events(atlas, events.iter().copied(), res);
    bins.sort_by(|a, b| {
        b.fatalities
            .cmp(&a.fatalities)
            .then(b.count.cmp(&a.count))
            .then(a.cell.cmp(&b.cell))
    });
    bins.truncate(n);
    bins
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geodesy::distance_km;
    use crate::query::filter::EventFilter;

    /// Against a plain definition: every event against every base, Karney's distance.
    #[test]
    fn timeline_matches_every_event_against_every_base() {
        let atlas = crate::synth::test_atlas(5_000, 11);
        let f = EventFilter::default();
        let m = f.compile(&atlas);
        for rule in [
            TimelineRule::default(),
            TimelineRule {
                radius_km: Some(80.0),
                operator: Some("minusma".into()),
            },
        ] {
            let t = timeline(&atlas, &m, &rule);
            let mut expect: BTreeMap<i32, Reach> = BTreeMap::new();
            let mut uncovered = 0;
            for i in atlas.event_indices() {
                let e = atlas.event(i);
                let covered = atlas.bases().iter().any(|b| {
                    rule.operator
                        .as_ref()
                        .is_none_or(|o| o.eq_ignore_ascii_case(&b.operator))
                        && b.open_in(e.date.year())
                        && distance_km(b.pos, e.pos) <= rule.radius_km.unwrap_or(b.coverage_km)
                });
                let r = expect.entry(e.date.year()).or_default();
                r.events += 1;
                r.fatalities += u64::from(e.fatalities);
                if covered {
                    r.covered_events += 1;
                    r.covered_fatalities += u64::from(e.fatalities);
                } else {
                    uncovered += 1;
                }
            }
            let got: BTreeMap<i32, Reach> = t.years.iter().map(|y| (y.year, y.all)).collect();
            assert_eq!(got, expect, "{rule:?}");
            assert_eq!(t.uncovered.len(), uncovered);
            assert!(expect.values().any(|r| r.covered_events > 0));
        }
    }
}
