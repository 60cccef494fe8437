//! OGC API – Features, Part 1 (Core, GeoJSON, OpenAPI 3.0) under `/ogc`, over the same
//! atlas, GeoJSON features and event filters as `/api`.

use chrono::{Datelike, NaiveDate};
use geo::{Intersects, Rect};
use serde_json::{Value, json};
use warp::http::HeaderMap;
use warp::reply::Response;

use super::params::{Page, Params};
use super::problem::Problem;
use super::{AppState, GEOJSON, JSON, base_url, features, json_response, page_href};
use crate::atlas::Atlas;
use crate::query::filter::{Bbox, EventFilter, EventProp};
use crate::query::{Hit, Sort, find_events};

pub const OPENAPI: &str = "application/vnd.oai.openapi+json;version=3.0";
const CRS84: &str = "http://www.opengis.net/def/crs/OGC/1.3/CRS84";
pub const DEFAULT_LIMIT: usize = 10;
pub const MAX_LIMIT: usize = 10_000;

pub const CONFORMANCE: [&str; 3] = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
];

/// The four collections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Collection {
    Events,
    Bases,
    Regions,
    Places,
}

impl Collection {
    pub const ALL: [Collection; 4] = [
        Collection::Events,
        Collection::Bases,
        Collection::Regions,
        Collection::Places,
    ];

    pub fn id(self) -> &'static str {
        match self {
            Collection::Events => "events",
            Collection::Bases => "bases",
            Collection::Regions => "regions",
            Collection::Places => "places",
        }
    }

    fn parse(id: &str) -> Result<Collection, Problem> {
        Collection::ALL
            .into_iter()
            .find(|c| c.id() == id)
            .ok_or_else(|| {
                Problem::not_found(format!(
                    "no collection {id:?}; there are events, bases, regions and places"
                ))
            })
    }

    fn title(self) -> &'static str {
        match self {
            Collection::Events => "Conflict events",
            Collection::Bases => "Military and peacekeeping bases",
            Collection::Regions => "Regions of Mali",
            Collection::Places => "Towns and villages",
        }
    }

    fn description(self) -> &'static str {
        match self {
            Collection::Events => {
                "Conflict events (ACLED export columns): the shipped curated events plus any loaded ACLED/UCDP files. Filter by bbox, datetime and property equality."
            }
            Collection::Bases => {
                "MINUSMA, Barkhane, EUTM, G5 Sahel, FAMa and US installations; coverage_km is a modelling default. datetime selects bases open in the interval."
            }
            Collection::Regions => {
                "Mali's first-level regions (Natural Earth, public domain) with ACLED fatalities by year as printed by EPON (2019)."
            }
            Collection::Places => {
                "Gazetteer: GeoNames (CC BY 4.0) towns plus cited supplement villages."
            }
        }
    }

    /// Queryable properties: (name, JSON Schema type). Each is an equality filter on items.
    pub fn queryables(self) -> Vec<(&'static str, &'static str)> {
        match self {
            Collection::Events => EventProp::ALL.iter().map(|(n, _, t)| (*n, *t)).collect(),
            Collection::Bases => vec![
                ("operator", "string"),
                ("kind", "string"),
                ("sector", "string"),
                ("town", "string"),
                ("region", "string"),
            ],
            Collection::Regions => {
                vec![("id", "string"), ("name", "string"), ("name_fr", "string")]
            }
            Collection::Places => vec![
                ("name", "string"),
                ("feature_code", "string"),
                ("region", "string"),
            ],
        }
    }
}

fn link(href: String, rel: &str, ty: &str, title: &str) -> Value {
    json!({"href": href, "rel": rel, "type": ty, "title": title})
}

/// `GET /ogc`
pub fn landing(state: &AppState, headers: &HeaderMap) -> Response {
    let b = base_url(state, headers);
    json_response(
        JSON,
        &json!({
            "title": "Sahel Atlas",
            "description": "Conflict events, bases, regions and towns of Mali as OGC API – Features",
            "attribution": super::tiles::ATTRIBUTION,
            "links": [
                link(format!("{b}/ogc"), "self", JSON, "This document"),
                link(format!("{b}/ogc/api"), "service-desc", OPENAPI, "The API definition (OpenAPI 3.0)"),
                link(format!("{b}/ogc/conformance"), "conformance", JSON, "Conformance classes"),
                link(format!("{b}/ogc/collections"), "data", JSON, "The feature collections"),
            ],
        }),
    )
}

/// `GET /ogc/conformance`
pub fn conformance() -> Response {
    json_response(JSON, &json!({"conformsTo": CONFORMANCE}))
}

/// Bounding box of lon/lat points.
fn points_bbox(points: impl Iterator<Item = crate::model::LonLat>) -> Option<[f64; 4]> {
    points.fold(None, |acc, p| {
        Some(match acc {
            None => [p.lon, p.lat, p.lon, p.lat],
            Some([a, b, c, d]) => [a.min(p.lon), b.min(p.lat), c.max(p.lon), d.max(p.lat)],
        })
    })
}

fn collection_json(atlas: &Atlas, c: Collection, b: &str) -> Value {
    use geo::BoundingRect;
    let bbox = match c {
        Collection::Events => points_bbox(atlas.events.iter().map(|e| e.pos)),
        Collection::Bases => points_bbox(atlas.bases.iter().map(|x| x.pos)),
        Collection::Places => points_bbox(atlas.places.iter().map(|x| x.pos)),
        Collection::Regions => atlas
            .regions
            .iter()
            .filter_map(|r| r.geometry.bounding_rect())
            .fold(None, |acc: Option<[f64; 4]>, r| {
                Some(match acc {
                    None => [r.min().x, r.min().y, r.max().x, r.max().y],
                    Some([a, b, c, d]) => [
                        a.min(r.min().x),
                        b.min(r.min().y),
                        c.max(r.max().x),
                        d.max(r.max().y),
                    ],
                })
            }),
    }
    .unwrap_or([-180.0, -90.0, 180.0, 90.0]);
    let mut extent = json!({"spatial": {"bbox": [bbox], "crs": CRS84}});
    let temporal = match c {
        Collection::Events => atlas.events.first().zip(atlas.events.last()).map(|(a, z)| {
            json!([
                format!("{}T00:00:00Z", a.date),
                format!("{}T23:59:59Z", z.date)
            ])
        }),
        Collection::Bases => atlas
            .bases
            .iter()
            .filter_map(|x| x.opened)
            .min()
            .map(|y| json!([format!("{y}-01-01T00:00:00Z"), Value::Null])),
        _ => None,
    };
    if let Some(interval) = temporal {
        extent["temporal"] = json!({"interval": [interval], "trs": "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian"});
    }
    let id = c.id();
    json!({
        "id": id,
        "title": c.title(),
        "description": c.description(),
        "itemType": "feature",
        "crs": [CRS84],
        "extent": extent,
        "links": [
            link(format!("{b}/ogc/collections/{id}"), "self", JSON, c.title()),
            link(format!("{b}/ogc/collections/{id}/items"), "items", GEOJSON, "Items as GeoJSON"),
            link(format!("{b}/ogc/collections/{id}/queryables"), "http://www.opengis.net/def/rel/ogc/1.0/queryables", "application/schema+json", "Queryable properties"),
        ],
    })
}

/// Rejects `f` values other than JSON ones (the only encodings served).
fn check_format(p: &Params) -> Result<(), Problem> {
    match p.str("f")? {
        None
        | Some("json")
        | Some("geojson")
        | Some("application/json")
        | Some("application/geo+json") => Ok(()),
        Some(f) => Err(Problem::param(
            "f",
            format!("{f:?} is not offered; use f=json"),
        )),
    }
}

/// `GET /ogc/collections`
pub fn collections(state: &AppState, raw: &str, headers: &HeaderMap) -> Result<Response, Problem> {
    check_format(&Params::parse(raw, &[&["f"]])?)?;
    let b = base_url(state, headers);
    let snap = state.snapshot();
    let list: Vec<Value> = Collection::ALL
        .iter()
        .map(|&c| collection_json(&snap.atlas, c, &b))
        .collect();
    Ok(json_response(
        JSON,
        &json!({
            "links": [link(format!("{b}/ogc/collections"), "self", JSON, "The feature collections")],
            "collections": list,
        }),
    ))
}

/// `GET /ogc/collections/{id}`
pub fn collection(
    state: &AppState,
    id: &str,
    raw: &str,
    headers: &HeaderMap,
) -> Result<Response, Problem> {
    check_format(&Params::parse(raw, &[&["f"]])?)?;
    let c = Collection::parse(id)?;
    Ok(json_response(
        JSON,
        &collection_json(&state.snapshot().atlas, c, &base_url(state, headers)),
    ))
}

/// `GET /ogc/collections/{id}/queryables`
pub fn queryables(
    state: &AppState,
    id: &str,
    raw: &str,
    headers: &HeaderMap,
) -> Result<Response, Problem> {
    check_format(&Params::parse(raw, &[&["f"]])?)?;
    let c = Collection::parse(id)?;
    let mut props = serde_json::Map::new();
    for (name, ty) in c.queryables() {
        props.insert(name.to_string(), json!({"title": name, "type": ty}));
    }
    props.insert(
        "geometry".into(),
        json!({"$ref": if c == Collection::Regions { "https://geojson.org/schema/MultiPolygon.json" } else { "https://geojson.org/schema/Point.json" }}),
    );
    let mut resp = json_response(
        JSON,
        &json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": format!("{}/ogc/collections/{id}/queryables", base_url(state, headers)),
            "type": "object",
            "title": c.title(),
            "properties": props,
            "additionalProperties": false,
        }),
    );
    resp.headers_mut().insert(
        warp::http::header::CONTENT_TYPE,
        warp::http::HeaderValue::from_static("application/schema+json"),
    );
    Ok(resp)
}

/// The request's filters: bbox, datetime, and equality on each queryable present.
struct ItemQuery {
    bbox: Option<Bbox>,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    equals: Vec<(&'static str, String)>,
    page: Page,
}

fn item_query(c: Collection, raw: &str) -> Result<ItemQuery, Problem> {
    let names: Vec<&'static str> = c.queryables().iter().map(|(n, _)| *n).collect();
    let p = Params::parse(
        raw,
        &[&["bbox", "datetime", "limit", "offset", "f"], &names],
    )?;
    check_format(&p)?;
    let (from, to) = p.datetime("datetime")?;
    let mut equals = Vec::new();
    for n in names {
        if let Some(v) = p.str(n)? {
            equals.push((n, v.to_string()));
        }
    }
    Ok(ItemQuery {
        // OGC clients ask for whole-world boxes; results are paged, so no area cap here.
        bbox: p.bbox_within("bbox", None)?,
        from,
        to,
        equals,
        page: p.page(DEFAULT_LIMIT, MAX_LIMIT)?,
    })
}

fn text_eq(v: Option<&str>, want: &str) -> bool {
    v.is_some_and(|v| v.eq_ignore_ascii_case(want))
}

fn region_id(atlas: &Atlas, r: Option<crate::model::RegionIdx>) -> Option<&str> {
    r.map(|r| atlas.regions[r as usize].id.as_str())
}

/// Indices of the matching items of a non-event collection, in file order.
fn matching_items(atlas: &Atlas, c: Collection, q: &ItemQuery) -> Vec<usize> {
    let in_bbox = |p: crate::model::LonLat| q.bbox.is_none_or(|b| b.contains(p));
    match c {
        Collection::Bases => (0..atlas.bases.len())
            .filter(|&i| {
                let b = &atlas.bases[i];
                // A base matches a datetime interval it was open during.
                let opened = b.opened.unwrap_or(i32::MIN);
                let closed = b.closed.unwrap_or(i32::MAX);
                in_bbox(b.pos)
                    && q.from.is_none_or(|f| closed >= f.year())
                    && q.to.is_none_or(|t| opened <= t.year())
                    && q.equals.iter().all(|(n, v)| match *n {
                        "operator" => text_eq(Some(&b.operator), v),
                        "kind" => text_eq(Some(&b.kind), v),
                        "sector" => text_eq(b.sector.as_deref(), v),
                        "town" => text_eq(Some(&b.town), v),
                        "region" => text_eq(region_id(atlas, atlas.base_region[i]), v),
                        _ => false,
                    })
            })
            .collect(),
        Collection::Places => (0..atlas.places.len())
            .filter(|&i| {
                let p = &atlas.places[i];
                in_bbox(p.pos)
                    && q.equals.iter().all(|(n, v)| match *n {
                        "name" => text_eq(Some(&p.name), v),
                        "feature_code" => text_eq(p.feature_code.as_deref(), v),
                        "region" => text_eq(region_id(atlas, atlas.place_region[i]), v),
                        _ => false,
                    })
            })
            .collect(),
        Collection::Regions => (0..atlas.regions.len())
            .filter(|&i| {
                let r = &atlas.regions[i];
                q.bbox.is_none_or(|b| {
                    b.envelopes().iter().any(|e| {
                        let rect = Rect::new(
                            geo::coord! {x: e.min[0], y: e.min[1]},
                            geo::coord! {x: e.max[0], y: e.max[1]},
                        );
                        r.geometry.intersects(&rect)
                    })
                }) && q.equals.iter().all(|(n, v)| match *n {
                    "id" => text_eq(Some(&r.id), v),
                    "name" => text_eq(Some(&r.name), v),
                    "name_fr" => text_eq(Some(&r.name_fr), v),
                    _ => false,
                })
            })
            .collect(),
        Collection::Events => Vec::new(),
    }
}

fn item_json(atlas: &Atlas, c: Collection, i: usize) -> Value {
    match c {
        Collection::Events => features::event_value(
            atlas,
            Hit {
                event: i as u32,
                distance_km: None,
            },
        ),
        Collection::Bases => features::base(atlas, i),
        Collection::Places => features::place(atlas, i),
        Collection::Regions => features::region(atlas, i),
    }
}

/// `GET /ogc/collections/{id}/items`
pub fn items(
    state: &AppState,
    id: &str,
    raw: &str,
    headers: &HeaderMap,
) -> Result<Response, Problem> {
    let c = Collection::parse(id)?;
    let q = item_query(c, raw)?;
    let snap = state.snapshot();
    let atlas = &snap.atlas;
    let matched: Vec<usize> = match c {
        Collection::Events => {
            // The same filter code as /api/events and the tiles.
            let equals = q
                .equals
                .iter()
                .filter_map(|(n, v)| EventProp::by_name(n).map(|p| (p, v.clone())))
                .collect();
            let filter = EventFilter {
                from: q.from,
                to: q.to,
                bbox: q.bbox,
                equals,
                ..EventFilter::default()
            };
            find_events(atlas, &filter.compile(atlas), None, Sort::Date, 0)
                .into_iter()
                .map(|h| h.event as usize)
                .collect()
        }
        _ => matching_items(atlas, c, &q),
    };
    let page = q.page.slice(&matched);
    let feats: Vec<Value> = page.iter().map(|&i| item_json(atlas, c, i)).collect();

    let b = base_url(state, headers);
    let path = format!("{b}/ogc/collections/{id}/items");
    let with_offset = |offset: usize| page_href(&path, raw, Some(offset));
    let mut links = vec![
        link(page_href(&path, raw, None), "self", GEOJSON, "This page"),
        link(
            format!("{b}/ogc/collections/{id}"),
            "collection",
            JSON,
            c.title(),
        ),
    ];
    let (offset, limit) = (q.page.offset, q.page.limit);
    if limit > 0 && offset + feats.len() < matched.len() {
        links.push(link(
            with_offset(offset + limit),
            "next",
            GEOJSON,
            "Next page",
        ));
    }
    if offset > 0 {
        links.push(link(
            with_offset(offset.saturating_sub(limit)),
            "prev",
            GEOJSON,
            "Previous page",
        ));
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let stamp = chrono::DateTime::from_timestamp(now, 0).map_or(String::new(), |t| {
        t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
    });
    Ok(json_response(
        GEOJSON,
        &json!({
            "type": "FeatureCollection",
            "timeStamp": stamp,
            "numberMatched": matched.len(),
            "numberReturned": feats.len(),
            "links": links,
            "features": feats,
        }),
    ))
}

/// `GET /ogc/collections/{id}/items/{featureId}`
pub fn item(
    state: &AppState,
    id: &str,
    fid: &str,
    raw: &str,
    headers: &HeaderMap,
) -> Result<Response, Problem> {
    check_format(&Params::parse(raw, &[&["f"]])?)?;
    let c = Collection::parse(id)?;
    let snap = state.snapshot();
    let atlas = &snap.atlas;
    let index = match c {
        Collection::Events => atlas.event_index(fid).map(|i| i as usize),
        Collection::Bases => atlas.base_index(fid),
        Collection::Regions => atlas.regions.iter().position(|r| r.id == fid),
        Collection::Places => atlas.places.iter().position(|p| p.id == fid),
    }
    .ok_or_else(|| Problem::not_found(format!("no feature {fid:?} in collection {id}")))?;
    let mut f = item_json(atlas, c, index);
    let b = base_url(state, headers);
    f["links"] = json!([
        link(
            format!("{b}/ogc/collections/{id}/items/{fid}"),
            "self",
            GEOJSON,
            "This feature"
        ),
        link(
            format!("{b}/ogc/collections/{id}"),
            "collection",
            JSON,
            c.title()
        ),
    ]);
    Ok(json_response(GEOJSON, &f))
}
