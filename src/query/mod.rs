//! Questions asked of the atlas: events near a point or in a box, nearest events, base
//! coverage, statistics, gazetteer search. Nothing here knows about HTTP.

pub mod coverage;
pub mod filter;
pub mod hexbins;
pub mod items;
pub mod places;
pub mod plan;
pub mod props;
pub mod stats;
pub mod timeline;
pub mod trends;
pub mod types;

use crate::model::Word;
use std::collections::BTreeMap;

use chrono::Datelike;
use serde::Serialize;

use crate::atlas::Atlas;
use crate::geodesy::{APPROX_MARGIN, approx_distance_km, distance_km, search_envelopes};
use crate::model::{Event, LonLat};
use filter::Matcher;

/// A question the atlas cannot answer as asked.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum QueryError {
    /// No gazetteer entry has this name; `suggestions` are close names.
    #[error("no place called {name:?} in the gazetteer")]
    UnknownPlace {
        name: String,
        suggestions: Vec<String>,
    },
    #[error("unknown region {key:?}; known: {}", known.join(", "))]
    UnknownRegion { key: String, known: Vec<String> },
}

/// A geodesic radius search.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Near {
    /// The centre.
    pub center: LonLat,
    /// Geodesic radius, km.
    pub radius_km: f64,
}

/// The order of a page of events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sort {
    /// Oldest first (ties: file order, then events written at run time).
    Date,
    /// Newest first.
    DateDesc,
    /// Nearest first; only with a `Near`.
    Distance,
    /// Deadliest first, then oldest.
    FatalitiesDesc,
}

/// One matching event. With a centre, `distance_km` is the exact geodesic distance once
/// it is known: always for the ranked prefix of a distance sort, and for any page after
/// [`fill_distances`]; `None` otherwise.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hit {
    pub event: u32,
    pub distance_km: Option<f64>,
}

/// An event inside a radius: its spherical estimate, and its exact distance if deciding
/// membership needed it.
#[derive(Debug, Clone, Copy)]
struct Inside {
    event: u32,
    approx_km: f64,
    exact_km: Option<f64>,
}

/// Events within `radius_km` geodesic distance of `center` (inclusive), unordered. The
/// R-tree proposes candidates from a conservative envelope; an Andoyer–Lambert estimate settles
/// those clearly inside or outside (it is within `APPROX_MARGIN` of the truth); Karney's
/// WGS84 distance decides every candidate near the radius.
fn within(atlas: &Atlas, center: LonLat, radius_km: f64) -> Vec<Inside> {
    let test = RadiusTest::new(center, radius_km);
    atlas
        .event_points_in(search_envelopes(center, radius_km))
        .filter_map(|(i, pos)| test.inside(i, pos))
        .collect()
}

/// The membership decision shared by every radius search: the estimate settles clear
/// cases, Karney's distance the ones within the estimate's margin of the radius.
struct RadiusTest {
    center: LonLat,
    radius_km: f64,
    sure_in: f64,
    sure_out: f64,
}

impl RadiusTest {
    fn new(center: LonLat, radius_km: f64) -> RadiusTest {
        RadiusTest {
            center,
            radius_km,
            sure_in: radius_km * (1.0 - APPROX_MARGIN),
            sure_out: radius_km * (1.0 + APPROX_MARGIN),
        }
    }

    fn inside(&self, event: u32, pos: LonLat) -> Option<Inside> {
        let approx_km = approx_distance_km(self.center, pos);
        if approx_km > self.sure_out {
            return None;
        }
        let exact_km = (approx_km >= self.sure_in).then(|| distance_km(self.center, pos));
        if exact_km.is_some_and(|d| d > self.radius_km) {
            return None;
        }
        Some(Inside {
            event,
            approx_km,
            exact_km,
        })
    }
}

/// Orders events inside a radius nearest first, exactly for the first `prefix` of them:
/// if `t` is the prefix-th smallest estimate, every true member of the prefix has an
/// estimate within `t (1 + m) / (1 - m)`; those get exact distances and an exact sort, the
/// rest follow unordered (they are beyond any page asked for; sorting them would cost
/// more than the whole query).
fn rank_by_distance(
    atlas: &Atlas,
    center: LonLat,
    mut inside: Vec<Inside>,
    prefix: usize,
) -> Vec<Hit> {
    let exact = |x: &mut Inside| {
        let d = x
            .exact_km
            .unwrap_or_else(|| distance_km(center, atlas.event(x.event).pos));
        x.exact_km = Some(d);
        d
    };
    let cut = if prefix >= inside.len() {
        inside.len()
    } else if prefix == 0 {
        0
    } else {
        inside.select_nth_unstable_by(prefix - 1, |a, b| a.approx_km.total_cmp(&b.approx_km));
        let t = inside[prefix - 1].approx_km * (1.0 + APPROX_MARGIN) / (1.0 - APPROX_MARGIN);
        let mut k = 0;
        for j in 0..inside.len() {
            if inside[j].approx_km <= t {
                inside.swap(k, j);
                k += 1;
            }
        }
        k
    };
    let (head, tail) = inside.split_at_mut(cut);
    let mut head: Vec<(f64, u32)> = head.iter_mut().map(|x| (exact(x), x.event)).collect();
    head.sort_unstable_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    tail.sort_unstable_by(|a, b| {
        a.approx_km
            .total_cmp(&b.approx_km)
            .then(a.event.cmp(&b.event))
    });
    head.into_iter()
        .map(|(d, event)| Hit {
            event,
            distance_km: Some(d),
        })
        .chain(tail.iter().map(|x| Hit {
            event: x.event,
            distance_km: x.exact_km,
        }))
        .collect()
}

/// Computes the exact geodesic distance from `center` of every hit that lacks one (for
/// the page about to be shown).
pub fn fill_distances(atlas: &Atlas, center: LonLat, hits: &mut [Hit]) {
    for h in hits.iter_mut().filter(|h| h.distance_km.is_none()) {
        h.distance_km = Some(distance_km(center, atlas.event(h.event).pos));
    }
}

/// All events that match, optionally within a radius, sorted. With `Sort::Distance`, the
/// first `prefix` hits are exactly ranked with exact distances; ask for at least
/// `offset + limit` of the page to be shown.
pub fn find_events(
    atlas: &Atlas,
    m: &Matcher,
    near: Option<Near>,
    sort: Sort,
    prefix: usize,
) -> Vec<Hit> {
    let hit = |event| Hit {
        event,
        distance_km: None,
    };
    let mut hits: Vec<Hit> = match (near, m.filter().bbox) {
        (Some(n), _) => {
            let inside: Vec<Inside> = within(atlas, n.center, n.radius_km)
                .into_iter()
                .filter(|x| m.matches(x.event))
                .collect();
            if sort == Sort::Distance {
                return rank_by_distance(atlas, n.center, inside, prefix);
            }
            inside
                .iter()
                .map(|x| Hit {
                    event: x.event,
                    distance_km: x.exact_km,
                })
                .collect()
        }
        (None, Some(b)) => atlas
            .events_in(b.envelopes())
            .filter(|&i| m.matches(i))
            .map(hit)
            .collect(),
        (None, None) => atlas
            .event_indices()
            .filter(|&i| m.matches(i))
            .map(hit)
            .collect(),
    };
    sort_hits(atlas, &mut hits, sort);
    hits
}

fn sort_hits(atlas: &Atlas, hits: &mut [Hit], sort: Sort) {
    let date = |h: &Hit| atlas.date_key(h.event);
    match sort {
        Sort::Date | Sort::Distance => hits.sort_unstable_by_key(date),
        Sort::DateDesc => hits.sort_unstable_by_key(|h| std::cmp::Reverse(date(h))),
        Sort::FatalitiesDesc => hits.sort_unstable_by_key(|h| {
            (std::cmp::Reverse(atlas.event(h.event).fatalities), date(h))
        }),
    }
}

/// One page of the events within a radius, nearest first, and how many match in all:
/// the same answer as [`find_events`] with `Sort::Distance`, sliced, but from the atlas's
/// grid. Per column, the cells wholly inside the circle are one run of slots: counted
/// without reading them when every event counts, their slot attributes scanned in order
/// under a date/type/fatalities filter (other filters read each event). Only cells on the
/// edge are tested event by event. The page comes from [`nearest_within`]. The grid holds
/// the atlas's base events: the delta's changes are counted in and out separately.
pub fn near_page(
    atlas: &Atlas,
    m: &Matcher,
    near: Near,
    offset: usize,
    limit: usize,
) -> (usize, Vec<Hit>) {
    let prefix = offset.saturating_add(limit);
    let grid = atlas.grid();
    let keep = m.for_slots(grid.kinds());
    let (center, r) = (near.center, near.radius_km);
    let test = RadiusTest::new(center, r);
    // The delta: matching events added inside count, matching base events it hides do not.
    let mut added: Vec<Inside> = Vec::new();
    let mut hidden_inside = 0;
    for (i, pos, is_added) in atlas.changed_points_in(search_envelopes(center, r)) {
        match test.inside(i, pos) {
            Some(x) if m.matches(i) => {
                if is_added {
                    added.push(x);
                } else {
                    hidden_inside += 1;
                }
            }
            _ => {}
        }
    }
    let mut total = added.len();
    for span in grid.disk(center, r) {
        total += keep.count(grid, span.inside);
        for j in span.edge.into_iter().flatten() {
            let s = grid.slot(j);
            if keep.keeps(&s) && test.inside(s.event, grid.pos(j)).is_some() {
                total += 1;
            }
        }
    }
    total -= hidden_inside;
    if prefix == 0 || total == 0 {
        return (total, Vec::new());
    }
    // The page: the first `offset + limit` of the `total` matches inside, nearest first.
    let ranked = nearest_within(atlas, m, center, prefix.min(total), r);
    let page = ranked.iter().skip(offset).take(limit).copied().collect();
    (total, page)
}

/// The `k` matching events nearest to `p` by geodesic distance, nearest first.
///
/// Exact, not approximate: the first `k` matches in planar (degree) order are some `k`
/// events within `d` = their largest geodesic distance, so the true `k` nearest all lie
/// within `d`; a geodesic radius search of `d` then finds and ranks them.
pub fn nearest(atlas: &Atlas, m: &Matcher, p: LonLat, k: usize) -> Vec<Hit> {
    nearest_within(atlas, m, p, k, f64::INFINITY)
}

/// The `k` matching events nearest to `p` within `max_km`, nearest first, as
/// [`nearest`]. With at least `k` matches within `max_km`, the degree-space stream stops
/// inside the circle's bounding box, so it reads no more events than the circle holds.
fn nearest_within(atlas: &Atlas, m: &Matcher, p: LonLat, k: usize, max_km: f64) -> Vec<Hit> {
    if k == 0 {
        return Vec::new();
    }
    // An upper bound of their geodesic distances is enough to bound the search.
    let d = atlas
        .events_by_planar_distance(p)
        .filter(|&i| m.matches(i))
        .take(k)
        .map(|i| approx_distance_km(p, atlas.event(i).pos) * (1.0 + APPROX_MARGIN))
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
            radius_km: d.min(max_km),
        }),
        Sort::Distance,
        k,
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
    pub by_type: BTreeMap<Word, Tally>,
    pub by_year: BTreeMap<i32, Tally>,
}

impl Totals {
    pub fn add(&mut self, e: &Event) {
        self.all.add(e);
        self.by_type.entry(e.event_type).or_default().add(e);
        self.by_year.entry(e.date.year()).or_default().add(e);
    }

    pub fn of(atlas: &Atlas, events: impl IntoIterator<Item = u32>) -> Totals {
        let mut t = Totals::default();
        for i in events {
            t.add(atlas.event(i));
        }
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::filter::EventFilter;

    /// The grid's pages equal the full scan's, for many centres, radii and pages.
    #[test]
    fn near_page_matches_the_full_ranking() {
        near_page_matches_the_full_ranking_of(&crate::synth::test_atlas(40_000, 5));
    }

    /// The same with writes in the atlas's delta (the grid holds only its base).
    #[test]
    fn near_page_matches_the_full_ranking_after_writes() {
        near_page_matches_the_full_ranking_of(&crate::synth::test_changed_atlas(40_000, 5));
    }

    fn near_page_matches_the_full_ranking_of(atlas: &Atlas) {
        let date = |y, m, d| chrono::NaiveDate::from_ymd_opt(y, m, d);
        let filters = [
            EventFilter::default(),
            EventFilter {
                from: date(2018, 1, 1),
                ..EventFilter::default()
            },
            EventFilter {
                types: vec!["battles".into()],
                ..EventFilter::default()
            },
            EventFilter {
                from: date(2012, 3, 5),
                to: date(2016, 11, 30),
                types: vec!["Armed clash".into(), "Attack".into()],
                min_fatalities: Some(1),
                ..EventFilter::default()
            },
            // Not answerable from the slots: read per event.
            EventFilter {
                actor: Some("jnim".into()),
                ..EventFilter::default()
            },
        ];
        let centres = [
            LonLat::new(-4.18296, 14.4843),
            LonLat::new(-7.97522, 12.60915),
            LonLat::new(-0.04472, 16.27167),
            LonLat::new(-3.5, 14.1),
            LonLat::new(2.0, 19.0),
            LonLat::new(-11.44393, 14.44776),
        ];
        let mut compared = 0;
        for (k, filter) in filters.iter().enumerate() {
            let m = filter.compile(atlas);
            assert_eq!(m.is_everything(), k == 0);
            assert_eq!(m.slot_only(), k < 4);
            for c in centres {
                for r in [0.0, 0.5, 3.0, 25.0, 50.0, 200.0, 1000.0] {
                    let near = Near {
                        center: c,
                        radius_km: r,
                    };
                    let mut full = find_events(atlas, &m, Some(near), Sort::Distance, usize::MAX);
                    fill_distances(atlas, c, &mut full);
                    for (offset, limit) in [(0, 100), (0, 1), (37, 25), (500, 100), (0, 0)] {
                        let (total, page) = near_page(atlas, &m, near, offset, limit);
                        assert_eq!(total, full.len(), "{filter:?} {c:?} {r}");
                        let want: Vec<Hit> =
                            full.iter().skip(offset).take(limit).copied().collect();
                        assert_eq!(page.len(), want.len(), "{filter:?} {c:?} {r} {offset}");
                        for (g, w) in page.iter().zip(&want) {
                            // Equal distances may come in either order; the distances must match.
                            let (gd, wd) = (g.distance_km.unwrap(), w.distance_km.unwrap());
                            assert!(
                                (gd - wd).abs() < 1e-9,
                                "{filter:?} {c:?} {r} {offset}: {gd} vs {wd}"
                            );
                        }
                        compared += page.len();
                    }
                }
            }
        }
        assert!(compared > 20_000, "{compared}");
    }
}
