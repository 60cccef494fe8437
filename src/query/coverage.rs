//! Which events fall inside each base's coverage radius (geodesic), and which fall
//! inside none.

use chrono::Datelike;

use super::filter::Matcher;
use super::{Hit, Near, Sort, Totals, find_events};
use crate::atlas::Atlas;

/// How to decide whether a base covers an event.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CoverageRule {
    /// Use this radius instead of each base's `coverage_km`.
    pub radius_km: Option<f64>,
    /// Count only events from years in which the base was open.
    pub active_only: bool,
}

/// The events one base covers, nearest first, and their totals.
#[derive(Debug, Clone)]
pub struct BaseCoverage {
    pub base: usize,
    pub radius_km: f64,
    pub hits: Vec<Hit>,
    pub totals: Totals,
}

/// Events matching `m` within the base's coverage radius (or `rule.radius_km`), nearest
/// first; the first `prefix` exactly ranked (see [`find_events`]).
pub fn base_coverage(
    atlas: &Atlas,
    base: usize,
    m: &Matcher,
    rule: CoverageRule,
    prefix: usize,
) -> BaseCoverage {
    let b = &atlas.bases()[base];
    let radius_km = rule.radius_km.unwrap_or(b.coverage_km);
    // Dropping events after ranking would pull unranked ones into the prefix: with
    // active_only, rank them all.
    let prefix = if rule.active_only { usize::MAX } else { prefix };
    let mut hits = find_events(
        atlas,
        m,
        Some(Near {
            center: b.pos,
            radius_km,
        }),
        Sort::Distance,
        prefix,
    );
    if rule.active_only {
        hits.retain(|h| b.open_in(atlas.event(h.event).date.year()));
    }
    let totals = Totals::of(atlas, hits.iter().map(|h| h.event));
    BaseCoverage {
        base,
        radius_km,
        hits,
        totals,
    }
}

/// Every base's coverage, and the matching events no base covers (in date order).
pub struct CoverageReport {
    pub bases: Vec<BaseCoverage>,
    pub uncovered: Vec<u32>,
}

/// Every base's coverage totals under `rule`, and the matching events no base covers.
pub fn coverage_all(atlas: &Atlas, m: &Matcher, rule: CoverageRule) -> CoverageReport {
    let mut covered = vec![false; atlas.index_len()];
    let bases: Vec<BaseCoverage> = (0..atlas.bases().len())
        .map(|b| {
            let c = base_coverage(atlas, b, m, rule, 0);
            for h in &c.hits {
                covered[h.event as usize] = true;
            }
            c
        })
        .collect();
    let mut uncovered: Vec<u32> = atlas
        .event_indices()
        .filter(|&i| !covered[i as usize] && m.matches(i))
        .collect();
    uncovered.sort_unstable_by_key(|&i| atlas.date_key(i));
    CoverageReport { bases, uncovered }
}
