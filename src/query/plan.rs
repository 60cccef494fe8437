//! The plan of an event search: which path answers it, and the search circle it draws.
//!
//! A radius search sorted nearest first, under no filter or one the near grid keeps beside
//! each event (dates, types, fatalities), is answered by [`near_page`]: counts in closed
//! form per grid column, the page from the nearest-first stream. Anything else scans the
//! matching events ([`find_events`]). Callers ask [`EventSearch::grid_answers`] to decide
//! whether the work needs a turn under the expensive-request limit; [`EventSearch::page`]
//! takes whichever path the plan says.

use std::sync::{Arc, LazyLock, OnceLock};

use serde_json::value::RawValue;

use super::filter::Matcher;
use super::{Hit, Near, Sort, fill_distances, find_events, near_page};
use crate::atlas::Atlas;
use crate::geodesy;
use crate::model::LonLat;

/// An event search: the centre and radius (if any), the order, and the filter.
pub struct EventSearch<'a> {
    /// A geodesic radius search, or none.
    pub near: Option<Near>,
    /// The order of the answer.
    pub sort: Sort,
    /// The filter, compiled for the atlas.
    pub matcher: &'a Matcher<'a>,
}

impl EventSearch<'_> {
    /// Whether the near grid answers it: nearest first, with a filter that reads only
    /// what the grid keeps beside each event; anything else reads every matching event.
    pub fn grid_answers(&self) -> bool {
        let m = self.matcher;
        self.near.is_some() && self.sort == Sort::Distance && (m.is_everything() || m.slot_only())
    }

    /// How many events match in all, and the page `offset..offset + limit` of them in
    /// the search's order, each with its exact geodesic distance when there is a centre.
    pub fn page(&self, atlas: &Atlas, offset: usize, limit: usize) -> (usize, Vec<Hit>) {
        let (matched, mut shown) = match self.near {
            Some(n) if self.sort == Sort::Distance => {
                near_page(atlas, self.matcher, n, offset, limit)
            }
            _ => {
                let hits = find_events(atlas, self.matcher, self.near, self.sort, 0);
                let page = hits.iter().skip(offset).take(limit).copied().collect();
                (hits.len(), page)
            }
        };
        if let Some(n) = self.near {
            fill_distances(atlas, n.center, &mut shown);
        }
        (matched, shown)
    }
}

/// Vertices of a search circle.
const CIRCLE_VERTICES: usize = 128;

/// Search circles kept: clients ask about the same few places and radii again and again.
const CIRCLES_KEPT: u64 = 256;

/// The area a radius search covers, for drawing: a geodesic circle (not a planar one).
pub struct SearchCircle {
    /// The ring, [`CIRCLE_VERTICES`] geodesic destinations from the centre, closed.
    pub ring: Vec<LonLat>,
    /// Its GeoJSON Polygon geometry, written once.
    geojson: OnceLock<Option<Arc<RawValue>>>,
}

impl SearchCircle {
    /// The circle as a GeoJSON Polygon geometry, serialised (writing its 256 numbers
    /// cost more than the rest of a dense near query, so it is written once).
    pub fn geojson(&self) -> Option<Arc<RawValue>> {
        self.geojson
            .get_or_init(|| {
                let ring: Vec<[f64; 2]> = self.ring.iter().map(|p| [p.lon, p.lat]).collect();
                let geometry = serde_json::json!({"type": "Polygon", "coordinates": [ring]});
                serde_json::value::to_raw_value(&geometry)
                    .ok()
                    .map(Arc::from)
            })
            .clone()
    }
}

/// The search circle of `near`, from a bounded cache.
///
/// ```ignore
/// use crate::query::{Near, plan::search_circle};
/// let c = search_circle(Near { center: crate::model::LonLat::new(-4.18, 14.48), radius_km: 50.0 });
/// assert_eq!(c.ring.len(), 129);
/// ```
/// (Run as the unit test `doc_example_search_circle`: the module is internal.)
pub fn search_circle(near: Near) -> Arc<SearchCircle> {
    type Key = (u64, u64, u64);
    static CIRCLES: LazyLock<moka::sync::Cache<Key, Arc<SearchCircle>>> =
        LazyLock::new(|| moka::sync::Cache::new(CIRCLES_KEPT));
    let key = (
        near.center.lon.to_bits(),
        near.center.lat.to_bits(),
        near.radius_km.to_bits(),
    );
    CIRCLES.get_with(key, || {
        let polygon = geodesy::circle(near.center, near.radius_km, CIRCLE_VERTICES);
        let ring = polygon
            .exterior()
            .points()
            .map(|p| LonLat::new(p.x(), p.y()))
            .collect();
        Arc::new(SearchCircle {
            ring,
            geojson: OnceLock::new(),
        })
    })
}

#[cfg(test)]
mod doc_examples {
    #[test]
    fn doc_example_search_circle() {
        use crate::query::{Near, plan::search_circle};
        let c = search_circle(Near {
            center: crate::model::LonLat::new(-4.18, 14.48),
            radius_km: 50.0,
        });
        assert_eq!(c.ring.len(), 129);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::filter::EventFilter;

    /// The plan's page equals the plain scan's, whichever path it takes.
    #[test]
    fn the_page_is_the_scan_whichever_path() {
        let atlas = crate::synth::test_changed_atlas(20_000, 5);
        let mopti = LonLat::new(-4.18296, 14.4843);
        let filters = [
            EventFilter::default(),
            EventFilter {
                types: vec!["Battles".into()],
                ..EventFilter::default()
            },
            EventFilter {
                actor: Some("jnim".into()),
                ..EventFilter::default()
            },
        ];
        for f in &filters {
            let m = f.compile(&atlas);
            for radius_km in [10.0, 50.0, 200.0] {
                let near = Some(Near {
                    center: mopti,
                    radius_km,
                });
                let search = EventSearch {
                    near,
                    sort: Sort::Distance,
                    matcher: &m,
                };
                let mut all = find_events(&atlas, &m, near, Sort::Distance, usize::MAX);
                fill_distances(&atlas, mopti, &mut all);
                for (offset, limit) in [(0, 10), (5, 100), (0, 0)] {
                    let (matched, page) = search.page(&atlas, offset, limit);
                    assert_eq!(matched, all.len(), "{f:?} {radius_km}");
                    let want: Vec<u32> = all
                        .iter()
                        .skip(offset)
                        .take(limit)
                        .map(|h| h.event)
                        .collect();
                    let got: Vec<u32> = page.iter().map(|h| h.event).collect();
                    assert_eq!(got, want, "{f:?} {radius_km} {offset}");
                    assert!(page.iter().all(|h| h.distance_km.is_some()));
                }
            }
        }
    }

    #[test]
    fn circles_are_geodesic_and_kept() {
        let near = Near {
            center: LonLat::new(-3.0, 16.77),
            radius_km: 100.0,
        };
        let (a, b) = (search_circle(near), search_circle(near));
        assert!(Arc::ptr_eq(&a, &b));
        for p in &a.ring {
            let d = geodesy::distance_km(near.center, *p);
            assert!((d - 100.0).abs() < 1e-6, "{d}");
        }
        let json: serde_json::Value = serde_json::from_str(a.geojson().unwrap().get()).unwrap();
        assert_eq!(json["type"], "Polygon");
        assert_eq!(json["coordinates"][0].as_array().unwrap().len(), 129);
    }
}
