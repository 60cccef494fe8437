//! OGC API – Features, Part 1 (Core, GeoJSON, OpenAPI 3.0) under `/ogc`, over the same
//! atlas, GeoJSON features and event filters as `/api`.

use chrono::{Datelike, NaiveDate};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use utoipa::IntoParams;
use warp::reply::Response;

use super::download::{self, Rows};
use super::problem::Problem;
use super::{GEOJSON, JSON, Request, features, json_response, page_href};
use crate::atlas::Atlas;
use crate::params::groups::{Download, Page, checked_bbox};
use crate::params::limits::OGC_DEFAULT_LIMIT;
use crate::params::queries::{ItemsQuery, NoQuery, OgcQuery};
use crate::params::values::{Interval, Text};
use crate::params::{self};
use crate::query::filter::{Bbox, EventFilter, EventProp};
use crate::query::items::{self, BaseProp, ItemFilter, PlaceProp, RegionProp};
use crate::query::props::{PropKind, Queryable};
use crate::query::{Hit, Sort, find_events};

pub const OPENAPI: &str = "application/vnd.oai.openapi+json;version=3.0";
const CRS84: &str = "http://www.opengis.net/def/crs/OGC/1.3/CRS84";

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
        fn of<P: Queryable>() -> Vec<(&'static str, &'static str)> {
            P::ALL
                .iter()
                .map(|p| {
                    let ty = match p.kind() {
                        PropKind::Text => "string",
                        PropKind::Integer => "integer",
                    };
                    (p.name(), ty)
                })
                .collect()
        }
        match self {
            Collection::Events => of::<EventProp>(),
            Collection::Bases => of::<BaseProp>(),
            Collection::Regions => of::<RegionProp>(),
            Collection::Places => of::<PlaceProp>(),
        }
    }
}

/// `{collectionId}`
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct CollectionPath {
    /// events, bases, regions or places.
    #[serde(rename = "collectionId")]
    #[param(rename = "collectionId", inline)]
    pub collection_id: CollectionId,
}

/// `{collectionId}/items/{featureId}`
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct FeaturePath {
    /// events, bases, regions or places.
    #[serde(rename = "collectionId")]
    #[param(rename = "collectionId", inline)]
    pub collection_id: CollectionId,
    /// The feature's id.
    #[serde(rename = "featureId")]
    #[param(rename = "featureId", inline)]
    pub feature_id: Text,
}

/// A collection id as given: resolved by [`Collection::parse`] so that an unknown one is
/// a 404, not a malformed parameter.
#[derive(Debug, Deserialize)]
#[serde(transparent)]
pub struct CollectionId(pub Text);

impl<'s> utoipa::ToSchema<'s> for CollectionId {
    fn schema() -> (&'s str, utoipa::openapi::RefOr<utoipa::openapi::Schema>) {
        let ids: Vec<&str> = Collection::ALL.iter().map(|c| c.id()).collect();
        let s = utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::SchemaType::String)
            .enum_values(Some(ids));
        ("CollectionId", s.into())
    }
}

fn link(href: String, rel: &str, ty: &str, title: &str) -> Value {
    json!({"href": href, "rel": rel, "type": ty, "title": title})
}

/// `GET /ogc`
pub fn landing(r: &Request, _: NoQuery, _: OgcQuery) -> Result<Response, Problem> {
    let b = r.base_url();
    Ok(json_response(
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
    ))
}

/// `GET /ogc/conformance`
pub fn conformance(_: &Request, _: NoQuery, _: OgcQuery) -> Result<Response, Problem> {
    Ok(json_response(JSON, &json!({"conformsTo": CONFORMANCE})))
}

fn collection_json(atlas: &Atlas, c: Collection, b: &str) -> Value {
    let x = atlas.extents();
    let bbox = match c {
        Collection::Events => x.events,
        Collection::Bases => x.bases,
        Collection::Places => x.places,
        Collection::Regions => x.regions,
    }
    .unwrap_or([-180.0, -90.0, 180.0, 90.0]);
    let mut extent = json!({"spatial": {"bbox": [bbox], "crs": CRS84}});
    let temporal = match c {
        Collection::Events => x
            .event_days
            .map(|(a, z)| json!([format!("{a}T00:00:00Z"), format!("{z}T23:59:59Z")])),
        Collection::Bases => x
            .first_base_year
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

/// `GET /ogc/collections`
pub fn collections(r: &Request, _: NoQuery, _: OgcQuery) -> Result<Response, Problem> {
    let b = r.base_url();
    let list: Vec<Value> = Collection::ALL
        .iter()
        .map(|&c| collection_json(r.atlas(), c, &b))
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
pub fn collection(r: &Request, path: CollectionPath, _: OgcQuery) -> Result<Response, Problem> {
    let c = Collection::parse(&path.collection_id.0.0)?;
    Ok(json_response(
        JSON,
        &collection_json(r.atlas(), c, &r.base_url()),
    ))
}

/// `GET /ogc/collections/{id}/queryables`
pub fn queryables(r: &Request, path: CollectionPath, _: OgcQuery) -> Result<Response, Problem> {
    let c = Collection::parse(&path.collection_id.0.0)?;
    let mut props = serde_json::Map::new();
    for (name, ty) in c.queryables() {
        props.insert(name.to_string(), json!({"title": name, "type": ty}));
    }
    let geometry = if c == Collection::Regions {
        "https://geojson.org/schema/MultiPolygon.json"
    } else {
        "https://geojson.org/schema/Point.json"
    };
    props.insert("geometry".into(), json!({ "$ref": geometry }));
    let id = c.id();
    Ok(json_response(
        "application/schema+json",
        &json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": format!("{}/ogc/collections/{id}/queryables", r.base_url()),
            "type": "object",
            "title": c.title(),
            "properties": props,
            "additionalProperties": false,
        }),
    ))
}

/// An items request resolved: box, days, equality filters and page.
struct ItemRequest<P> {
    bbox: Option<Bbox>,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    equals: Vec<(P, String)>,
    page: Page,
    /// `f=csv|geojson`, and then `limit`/`offset` only as given.
    download: Option<(Download, Option<Page>)>,
}

impl<P: Queryable> ItemRequest<P> {
    fn read(raw: &str) -> Result<ItemRequest<P>, Problem> {
        let q: ItemsQuery<P> = params::parse(raw)?;
        let Interval { from, to } = q.items.datetime.unwrap_or(Interval {
            from: None,
            to: None,
        });
        if let (Some(f), Some(t)) = (from, to)
            && f > t
        {
            return Err(Problem::unprocessable(
                "datetime",
                format!("the interval starts ({f}) after it ends ({t})"),
            ));
        }
        Ok(ItemRequest {
            // OGC clients ask for whole-world boxes; results are paged, so no area cap here.
            bbox: q.items.bbox.map(|b| checked_bbox(b, None)).transpose()?,
            from,
            to,
            equals: q.props.0,
            page: q.page.page(OGC_DEFAULT_LIMIT, q.f.download().is_some())?,
            download: q.f.download().map(|d| (d, q.page.explicit())),
        })
    }

    /// Bases, places or regions found by `find` with this request's filter (bases match
    /// the years they were open).
    fn matched(self, find: impl FnOnce(&ItemFilter<P>) -> Vec<usize>) -> Matched {
        let years = (self.from.map(|d| d.year()), self.to.map(|d| d.year()));
        let f = ItemFilter {
            bbox: self.bbox,
            years,
            equals: self.equals,
        };
        Matched {
            rows: find(&f),
            page: self.page,
            download: self.download,
        }
    }
}

/// The matching items of a collection (in file order; events in date order), the page
/// to show, and the download asked for.
struct Matched {
    rows: Vec<usize>,
    page: Page,
    download: Option<(Download, Option<Page>)>,
}

fn matching(r: &Request, c: Collection) -> Result<Matched, Problem> {
    let (atlas, raw) = (r.atlas(), r.raw_query);
    Ok(match c {
        Collection::Events => {
            let q = ItemRequest::<EventProp>::read(raw)?;
            // The same filter code as /api/events and the tiles.
            let filter = EventFilter {
                from: q.from,
                to: q.to,
                bbox: q.bbox,
                equals: q.equals,
                ..EventFilter::default()
            };
            // Pages are in date order: every matching event is found and sorted.
            let _turn = r.expensive()?;
            let hits = find_events(atlas, &filter.compile(atlas), None, Sort::Date, 0);
            Matched {
                rows: hits.into_iter().map(|h| h.event as usize).collect(),
                page: q.page,
                download: q.download,
            }
        }
        Collection::Bases => {
            ItemRequest::<BaseProp>::read(raw)?.matched(|f| items::bases(atlas, f))
        }
        Collection::Places => {
            ItemRequest::<PlaceProp>::read(raw)?.matched(|f| items::places(atlas, f))
        }
        Collection::Regions => {
            ItemRequest::<RegionProp>::read(raw)?.matched(|f| items::regions(atlas, f))
        }
    })
}

/// Every matching item as a file (`f=csv|geojson`).
fn items_download(
    r: &Request,
    c: Collection,
    m: Matched,
    (format, explicit): (Download, Option<Page>),
) -> Result<Response, Problem> {
    let atlas = r.atlas();
    let matched = m.rows.len();
    let rows = match c {
        Collection::Events => Rows::Events {
            hits: m
                .rows
                .into_iter()
                .map(|i| Hit {
                    event: i as u32,
                    distance_km: None,
                })
                .collect(),
            from: None,
        },
        _ => {
            // A few hundred at most: cut to the page first, then build the features.
            let page = explicit.unwrap_or(Page::all(matched));
            let features = page.slice(&m.rows).iter().map(|&i| item_json(atlas, c, i));
            return download::respond(
                r,
                format,
                c.id(),
                matched,
                Rows::Features(features.collect()),
                None,
                Map::new(),
            );
        }
    };
    download::respond(r, format, c.id(), matched, rows, explicit, Map::new())
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

/// Links to this page, its collection, and the pages before and after it.
fn page_links(
    b: &str,
    id: &str,
    c: Collection,
    raw: &str,
    page: Page,
    shown: usize,
    matched: usize,
) -> Vec<Value> {
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
    let (offset, limit) = (page.offset, page.limit);
    if limit > 0 && offset + shown < matched {
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
    links
}

/// `GET /ogc/collections/{id}/items`
pub fn items(r: &Request) -> Result<Response, Problem> {
    let path: CollectionPath = r.path()?;
    let id = path.collection_id.0.0;
    let c = Collection::parse(&id)?;
    let atlas = r.atlas();
    let m = matching(r, c)?;
    if let Some(d) = m.download {
        return items_download(r, c, m, d);
    }
    let (matched, page) = (m.rows, m.page);
    let feats: Vec<Value> = page
        .slice(&matched)
        .iter()
        .map(|&i| item_json(atlas, c, i))
        .collect();
    let links = page_links(
        &r.base_url(),
        c.id(),
        c,
        r.raw_query,
        page,
        feats.len(),
        matched.len(),
    );
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
pub fn item(r: &Request, path: FeaturePath, _: OgcQuery) -> Result<Response, Problem> {
    let c = Collection::parse(&path.collection_id.0.0)?;
    let fid = path.feature_id.0;
    let atlas = r.atlas();
    let index = match c {
        Collection::Events => atlas.event_index(&fid).map(|i| i as usize),
        Collection::Bases => atlas.base_index(&fid),
        Collection::Regions => atlas.regions().iter().position(|r| r.id == fid),
        Collection::Places => atlas.places().iter().position(|p| p.id == fid),
    }
    .ok_or_else(|| Problem::not_found(format!("no feature {fid:?} in collection {}", c.id())))?;
    let mut f = item_json(atlas, c, index);
    let (b, id) = (r.base_url(), c.id());
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
