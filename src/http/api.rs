//! `/api/...`: the query endpoints. Each handler parses its parameters, asks `query`,
//! and shapes the answer as GeoJSON (or JSON for statistics).

use serde_json::{Value, json};
use warp::reply::Response;

use super::features;
use super::params::{self, FILTER_PARAMS, Page, Params, limits::*};
use super::problem::Problem;
use super::{GEOJSON, JSON, json_response, page_href as href};
use crate::atlas::Atlas;
use crate::geodesy;
use crate::query::coverage::{CoverageRule, base_coverage, coverage_all};
use crate::query::stats::{GroupBy, group};
use crate::query::{Hit, Sort, Totals, fill_distances, find_events, near_page, nearest, places};

const PAGE: &[&str] = &["limit", "offset"];
const NEAR: &[&str] = &["near", "lon", "lat", "radius_km"];

/// A FeatureCollection page: `numberMatched`/`numberReturned`, paging, foreign members
/// (`extra`), links, then the features (serialised straight from their structs).
#[derive(serde::Serialize)]
struct FeaturePage<F: serde::Serialize> {
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(rename = "numberMatched")]
    number_matched: usize,
    #[serde(rename = "numberReturned")]
    number_returned: usize,
    limit: usize,
    offset: usize,
    #[serde(flatten)]
    extra: serde_json::Map<String, Value>,
    links: Vec<Value>,
    features: Vec<F>,
}

/// A page of `features` out of `matched`, with `self` and (while more remain) `next` links.
fn collection<F: serde::Serialize>(
    path: &str,
    raw_query: &str,
    matched: usize,
    page: Page,
    features: Vec<F>,
    extra: Value,
) -> FeaturePage<F> {
    let mut links =
        vec![json!({"rel": "self", "type": GEOJSON, "href": href(path, raw_query, None)})];
    if page.offset + features.len() < matched && page.limit > 0 {
        links.push(json!({
            "rel": "next",
            "type": GEOJSON,
            "href": href(path, raw_query, Some(page.offset + page.limit)),
        }));
    }
    FeaturePage {
        kind: "FeatureCollection",
        number_matched: matched,
        number_returned: features.len(),
        limit: page.limit,
        offset: page.offset,
        extra: match extra {
            Value::Object(m) => m,
            _ => serde_json::Map::new(),
        },
        links,
        features,
    }
}

fn parse_sort(p: &Params, has_center: bool) -> Result<Sort, Problem> {
    match p.str("sort")? {
        None if has_center => Ok(Sort::Distance),
        None | Some("date") => Ok(Sort::Date),
        Some("-date") => Ok(Sort::DateDesc),
        Some("-fatalities") => Ok(Sort::FatalitiesDesc),
        Some("distance") if has_center => Ok(Sort::Distance),
        Some("distance") => Err(Problem::param("sort", "distance needs near= or lon=&lat=")),
        Some(s) => Err(Problem::param(
            "sort",
            format!("{s:?} is not one of date, -date, distance, -fatalities"),
        )),
    }
}

/// `GET /api/places?q=mop`
pub fn places(atlas: &Atlas, raw: &str) -> Result<Response, Problem> {
    let p = Params::parse(raw, &[&["q"], PAGE])?;
    let q = p
        .str("q")?
        .ok_or_else(|| Problem::param("q", "is required, e.g. q=mopti"))?;
    let page = p.page(10, 100)?;
    let found = places::search(atlas, q);
    let feats = page
        .slice(&found)
        .iter()
        .map(|&i| features::place(atlas, i))
        .collect();
    Ok(json_response(
        GEOJSON,
        &collection("/api/places", raw, found.len(), page, feats, json!({})),
    ))
}

/// `GET /api/events?near=Mopti&radius_km=50&from=&to=&type=&actor=&...`
pub fn events(atlas: &Atlas, raw: &str) -> Result<Response, Problem> {
    let p = Params::parse(raw, &[FILTER_PARAMS, NEAR, PAGE, &["sort"]])?;
    let filter = params::event_filter(&p, atlas)?;
    let near = params::near(&p, atlas)?;
    let sort = parse_sort(&p, near.is_some())?;
    let page = p.page(DEFAULT_LIMIT, MAX_LIMIT)?;
    let m = filter.compile(atlas);
    let (matched, mut shown) = match near {
        Some((n, _)) if sort == Sort::Distance => near_page(atlas, &m, n, page.offset, page.limit),
        _ => {
            let hits = find_events(atlas, &m, near.map(|(n, _)| n), sort, 0);
            (hits.len(), page.slice(&hits).to_vec())
        }
    };
    let extra = match near {
        Some((n, place)) => json!({
            "center": {
                "lon": n.center.lon,
                "lat": n.center.lat,
                "place": place.map(|i| &atlas.places[i].name),
            },
            "radius_km": n.radius_km,
            // The searched area, for drawing: a geodesic circle, not a planar one.
            "circle": features::polygon_geometry(&geodesy::circle(n.center, n.radius_km, 128)),
        }),
        None => json!({}),
    };
    if let Some((n, _)) = near {
        fill_distances(atlas, n.center, &mut shown);
    }
    let feats = shown
        .iter()
        .map(|&h| features::event(atlas, h))
        .collect::<Vec<_>>();
    Ok(json_response(
        GEOJSON,
        &collection("/api/events", raw, matched, page, feats, extra),
    ))
}

/// `GET /api/events/nearest?lon=&lat=&k=10` (+ filters)
pub fn events_nearest(atlas: &Atlas, raw: &str) -> Result<Response, Problem> {
    let p = Params::parse(raw, &[FILTER_PARAMS, &["lon", "lat", "k"]])?;
    let filter = params::event_filter(&p, atlas)?;
    let point =
        params::lon_lat(&p)?.ok_or_else(|| Problem::param("lon", "lon and lat are required"))?;
    let k = p.uint_in("k", 1, MAX_K as u64)?.unwrap_or(10) as usize;
    let hits = nearest(atlas, &filter.compile(atlas), point, k);
    let page = Page {
        limit: k,
        offset: 0,
    };
    let feats = hits
        .iter()
        .map(|&h| features::event(atlas, h))
        .collect::<Vec<_>>();
    let extra = json!({"center": {"lon": point.lon, "lat": point.lat}, "k": k});
    Ok(json_response(
        GEOJSON,
        &collection("/api/events/nearest", raw, hits.len(), page, feats, extra),
    ))
}

/// `GET /api/events/{id}`
pub fn event(atlas: &Atlas, id: &str, raw: &str) -> Result<Response, Problem> {
    Params::parse(raw, &[])?;
    let i = atlas
        .event_index(id)
        .ok_or_else(|| Problem::not_found(format!("no event with id {id:?}")))?;
    let f = features::event(
        atlas,
        Hit {
            event: i,
            distance_km: None,
        },
    );
    Ok(json_response(GEOJSON, &f))
}

/// `GET /api/regions`
pub fn regions(atlas: &Atlas, raw: &str) -> Result<Response, Problem> {
    Params::parse(raw, &[])?;
    let feats: Vec<Value> = (0..atlas.regions.len())
        .map(|i| features::region(atlas, i))
        .collect();
    let n = feats.len();
    let page = Page {
        limit: n,
        offset: 0,
    };
    Ok(json_response(
        GEOJSON,
        &collection("/api/regions", raw, n, page, feats, json!({})),
    ))
}

/// `GET /api/regions/{id}` (ISO code or name)
pub fn region(atlas: &Atlas, id: &str, raw: &str) -> Result<Response, Problem> {
    Params::parse(raw, &[])?;
    let i = atlas
        .region_index(id)
        .ok_or_else(|| Problem::not_found(format!("no region with id or name {id:?}")))?
        as usize;
    Ok(json_response(GEOJSON, &features::region(atlas, i)))
}

/// `GET /api/bases?operator=MINUSMA&open_in=2019&bbox=`
pub fn bases(atlas: &Atlas, raw: &str) -> Result<Response, Problem> {
    let p = Params::parse(raw, &[&["operator", "open_in", "bbox"]])?;
    let operator = p.str("operator")?;
    let year = p.uint_in("open_in", 1900, 2100)?.map(|y| y as i32);
    let mut list: Vec<usize> = match p.bbox("bbox")? {
        Some(b) => atlas.bases_in(b.envelopes()).map(|i| i as usize).collect(),
        None => (0..atlas.bases.len()).collect(),
    };
    list.sort_unstable();
    list.retain(|&i| {
        let b = &atlas.bases[i];
        operator.is_none_or(|o| b.operator.eq_ignore_ascii_case(o))
            && year.is_none_or(|y| b.open_in(y))
    });
    let feats = list.iter().map(|&i| features::base(atlas, i)).collect();
    let page = Page {
        limit: list.len(),
        offset: 0,
    };
    Ok(json_response(
        GEOJSON,
        &collection("/api/bases", raw, list.len(), page, feats, json!({})),
    ))
}

fn base_index(atlas: &Atlas, id: &str) -> Result<usize, Problem> {
    atlas
        .base_index(id)
        .ok_or_else(|| Problem::not_found(format!("no base with id {id:?}")))
}

/// `GET /api/bases/{id}`
pub fn base(atlas: &Atlas, id: &str, raw: &str) -> Result<Response, Problem> {
    Params::parse(raw, &[])?;
    Ok(json_response(
        GEOJSON,
        &features::base(atlas, base_index(atlas, id)?),
    ))
}

fn coverage_rule(p: &Params) -> Result<CoverageRule, Problem> {
    Ok(CoverageRule {
        radius_km: p.f64_in("radius_km", 0.0, MAX_RADIUS_KM)?,
        active_only: p.bool("active_only")?,
    })
}

/// `GET /api/bases/{id}/coverage?radius_km=&active_only=` (+ filters, paging)
///
/// A FeatureCollection of the covered events (nearest first) with foreign members:
/// `base`, `radius_km`, `circle` (the geodesic circle as a Polygon feature) and `totals`.
pub fn base_coverage_handler(atlas: &Atlas, id: &str, raw: &str) -> Result<Response, Problem> {
    let p = Params::parse(raw, &[FILTER_PARAMS, PAGE, &["radius_km", "active_only"]])?;
    let b = base_index(atlas, id)?;
    let filter = params::event_filter(&p, atlas)?;
    let page = p.page(DEFAULT_LIMIT, MAX_LIMIT)?;
    let prefix = page.offset.saturating_add(page.limit);
    let c = base_coverage(atlas, b, &filter.compile(atlas), coverage_rule(&p)?, prefix);
    let circle = geodesy::circle(atlas.bases[b].pos, c.radius_km, 128);
    let extra = json!({
        "base": features::base(atlas, b),
        "radius_km": c.radius_km,
        "circle": {
            "type": "Feature",
            "geometry": features::polygon_geometry(&circle),
            "properties": {"base": atlas.bases[b].id, "radius_km": c.radius_km},
        },
        "totals": c.totals,
    });
    let mut shown = page.slice(&c.hits).to_vec();
    fill_distances(atlas, atlas.bases[b].pos, &mut shown);
    let feats = shown
        .iter()
        .map(|&h| features::event(atlas, h))
        .collect::<Vec<_>>();
    let path = format!("/api/bases/{id}/coverage");
    Ok(json_response(
        GEOJSON,
        &collection(&path, raw, c.hits.len(), page, feats, extra),
    ))
}

/// `GET /api/coverage?active_only=&radius_km=` (+ filters, paging of the uncovered list)
///
/// `bases`: every base with its radius and totals; `uncovered`: a FeatureCollection of the
/// matching events no base covers, with their totals.
pub fn coverage(atlas: &Atlas, raw: &str) -> Result<Response, Problem> {
    let p = Params::parse(raw, &[FILTER_PARAMS, PAGE, &["radius_km", "active_only"]])?;
    let filter = params::event_filter(&p, atlas)?;
    let page = p.page(DEFAULT_LIMIT, MAX_LIMIT)?;
    let report = coverage_all(atlas, &filter.compile(atlas), coverage_rule(&p)?);
    let bases: Vec<Value> = report
        .bases
        .iter()
        .map(|c| {
            let b = &atlas.bases[c.base];
            json!({
                "id": b.id,
                "name": b.name,
                "operator": b.operator,
                "radius_km": c.radius_km,
                "totals": c.totals,
            })
        })
        .collect();
    let uncovered_hits: Vec<Hit> = report
        .uncovered
        .iter()
        .map(|&i| Hit {
            event: i,
            distance_km: None,
        })
        .collect();
    let feats = page
        .slice(&uncovered_hits)
        .iter()
        .map(|&h| features::event(atlas, h))
        .collect::<Vec<_>>();
    let totals = Totals::of(atlas, report.uncovered.iter().copied());
    let uncovered = collection(
        "/api/coverage",
        raw,
        uncovered_hits.len(),
        page,
        feats,
        json!({"totals": totals}),
    );
    Ok(json_response(
        JSON,
        &json!({"bases": bases, "uncovered": uncovered}),
    ))
}

/// `GET /api/stats?group_by=region|year|type|month` (+ filters, near)
pub fn stats(atlas: &Atlas, raw: &str) -> Result<Response, Problem> {
    let p = Params::parse(raw, &[FILTER_PARAMS, NEAR, &["group_by"]])?;
    let names = || {
        GroupBy::ALL
            .iter()
            .map(|(n, _)| *n)
            .collect::<Vec<_>>()
            .join(", ")
    };
    let by_name = p
        .str("group_by")?
        .ok_or_else(|| Problem::param("group_by", format!("is required: one of {}", names())))?;
    let by = GroupBy::ALL
        .iter()
        .find(|(n, _)| *n == by_name)
        .map(|(_, g)| *g)
        .ok_or_else(|| {
            Problem::param("group_by", format!("{by_name:?} is not one of {}", names()))
        })?;
    let filter = params::event_filter(&p, atlas)?;
    let near = params::near(&p, atlas)?;
    let hits = find_events(
        atlas,
        &filter.compile(atlas),
        near.map(|(n, _)| n),
        Sort::Date,
        0,
    );
    let groups: Vec<Value> = group(atlas, &hits, by)
        .into_iter()
        .map(|g| json!({"key": g.key, "label": g.label, "count": g.tally.count, "fatalities": g.tally.fatalities}))
        .collect();
    let total = Totals::of(atlas, hits.iter().map(|h| h.event)).all;
    Ok(json_response(
        JSON,
        &json!({"group_by": by_name, "groups": groups, "total": total}),
    ))
}
