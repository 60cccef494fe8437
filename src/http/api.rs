//! `/api/...`: the query endpoints. Each handler gets its typed parameters, asks `query`,
//! and shapes the answer as GeoJSON (or JSON for statistics).

use std::sync::Arc;

use serde_json::value::RawValue;
use serde_json::{Map, Value, json};
use warp::reply::Response;

use super::download::{self, Rows, rows_wanted};
use super::features;
use super::json_text;
use super::problem::Problem;
use super::{GEOJSON, JSON, Request, bytes_response, json_response, page_href as href};
use crate::atlas::Atlas;
use crate::geodesy;
use crate::params::groups::{Centre, Download, Page};
use crate::params::limits::*;
use crate::params::queries::*;
use crate::query::coverage::{self as covering, coverage_all};
use crate::query::filter::{EventFilter, Matcher};
use crate::query::items::{self, BaseProp, ItemFilter};
use crate::query::plan::{EventSearch, search_circle};
use crate::query::stats::group;
use crate::query::{Hit, Near, Sort, Totals, fill_distances, find_events, nearest, places};

/// A FeatureCollection page: `numberMatched`/`numberReturned`, paging, foreign members
/// (`extra`), links, then the features.
struct FeaturePage<'a> {
    head: PageHead,
    features: PageFeatures<'a>,
}

/// The features of a page: values, or events written straight from the atlas
/// (`features::write_event`).
enum PageFeatures<'a> {
    Values(Vec<Value>),
    Events(&'a Atlas, Vec<Hit>),
}

impl PageFeatures<'_> {
    fn len(&self) -> usize {
        match self {
            PageFeatures::Values(v) => v.len(),
            PageFeatures::Events(_, hits) => hits.len(),
        }
    }
}

impl FeaturePage<'_> {
    /// Appends the page: the head as serde_json writes it, then the features.
    fn write(&self, out: &mut Vec<u8>) {
        json_text::write_open_object(out, &self.head);
        out.extend_from_slice(br#","features":["#);
        for k in 0..self.features.len() {
            if k > 0 {
                out.push(b',');
            }
            match &self.features {
                PageFeatures::Values(v) => json_text::write_value(out, &v[k]),
                PageFeatures::Events(atlas, hits) => features::write_event(out, atlas, hits[k]),
            }
        }
        out.extend_from_slice(b"]}");
    }

    fn response(&self, content_type: &'static str) -> Response {
        let mut out = Vec::with_capacity(16 * 1024 + 1024 * self.features.len());
        self.write(&mut out);
        bytes_response(content_type, out)
    }
}

/// A page's members before its features.
#[derive(serde::Serialize)]
struct PageHead {
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
    /// A radius search's circle, kept serialised (see `query::plan::search_circle`).
    #[serde(skip_serializing_if = "Option::is_none")]
    circle: Option<Arc<RawValue>>,
    links: Vec<Value>,
}

/// A page of `features` out of `matched`, with `self` and (while more remain) `next` links.
fn collection<'a>(
    path: &str,
    raw_query: &str,
    matched: usize,
    page: Page,
    features: PageFeatures<'a>,
    extra: Value,
) -> FeaturePage<'a> {
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
        head: PageHead {
            kind: "FeatureCollection",
            number_matched: matched,
            number_returned: features.len(),
            limit: page.limit,
            offset: page.offset,
            extra: match extra {
                Value::Object(m) => m,
                _ => serde_json::Map::new(),
            },
            circle: None,
            links,
        },
        features,
    }
}

/// `GET /api/places?q=mop`
pub fn places(r: &Request, _: NoQuery, q: PlacesQuery) -> Result<Response, Problem> {
    let atlas = r.atlas();
    let page = q.page.page();
    let found = places::search(atlas, &q.search.q.0);
    let feats = page
        .slice(&found)
        .iter()
        .map(|&i| features::place(atlas, i))
        .collect();
    let feats = PageFeatures::Values(feats);
    Ok(collection(
        "/api/places",
        r.raw_query,
        found.len(),
        page,
        feats,
        json!({}),
    )
    .response(GEOJSON))
}

/// What `GET /api/events` asks, resolved against the atlas: shared by the handler and
/// by the decision to answer it on the async worker.
struct EventsAsk {
    filter: EventFilter,
    near: Option<Centre>,
    sort: Sort,
    page: Page,
    download: Option<Download>,
}

impl EventsAsk {
    fn of(atlas: &Atlas, q: &EventsQuery) -> Result<EventsAsk, Problem> {
        let near = q.near.resolve(atlas)?;
        let download = q.f.download();
        Ok(EventsAsk {
            filter: q.filter.resolve(atlas, q.bbox.resolve()?)?,
            sort: q.sort.resolve(near.is_some())?,
            page: q.page.page(DEFAULT_LIMIT, download.is_some())?,
            near,
            download,
        })
    }

    /// The search it asks for, planned by `query` (near grid or scan).
    fn search<'a>(&self, m: &'a Matcher<'a>) -> EventSearch<'a> {
        EventSearch {
            near: self.near.map(|(n, _)| n),
            sort: self.sort,
            matcher: m,
        }
    }
}

/// `GET /api/events?near=Mopti&radius_km=50&from=&to=&type=&actor=&...`
pub fn events(r: &Request, _: NoQuery, q: EventsQuery) -> Result<Response, Problem> {
    let atlas = r.atlas();
    let ask = EventsAsk::of(atlas, &q)?;
    let (near, sort) = (ask.near, ask.sort);
    let m = ask.filter.compile(atlas);
    if let Some(format) = ask.download {
        let _turn = r.expensive()?;
        let explicit = q.page.explicit();
        let hits = find_events(
            atlas,
            &m,
            near.map(|(n, _)| n),
            sort,
            rows_wanted(r, explicit),
        );
        let rows = Rows::Events {
            from: near.map(|(n, _)| n.center),
            hits,
        };
        let matched = rows.len();
        let (mut members, circle) = near_members(atlas, near);
        if let Some(c) = circle.and_then(|c| serde_json::from_str(c.get()).ok()) {
            members.insert("circle".into(), c);
        }
        return download::respond(r, format, "events", matched, rows, explicit, members);
    }
    let _turn = if ask.search(&m).grid_answers() {
        None
    } else {
        Some(r.expensive()?)
    };
    Ok(events_page(r, &ask, &m))
}

/// A page of `GET /api/events` (not a download).
fn events_page(r: &Request, ask: &EventsAsk, m: &Matcher) -> Response {
    let atlas = r.atlas();
    let page = ask.page;
    let (matched, shown) = ask.search(m).page(atlas, page.offset, page.limit);
    let (members, circle) = near_members(atlas, ask.near);
    let feats = PageFeatures::Events(atlas, shown);
    let mut answer = collection(
        "/api/events",
        r.raw_query,
        matched,
        page,
        feats,
        Value::Null,
    );
    (answer.head.extra, answer.head.circle) = (members, circle);
    answer.response(GEOJSON)
}

/// Pages at most this deep are answered on the async worker when the grid answers them.
const INLINE_PAGE: usize = 500;

/// The answer to `GET /api/events` when it is bounded, quick work (the near grid, a page
/// of at most [`INLINE_PAGE`]): a fraction of a millisecond, less than the trip to the
/// blocking pool, so it is given on the async worker. `None` for anything in doubt,
/// errors included: the handler answers those.
pub fn events_inline(r: &Request, _: &NoQuery, q: &EventsQuery) -> Option<Response> {
    let atlas = r.atlas();
    let ask = EventsAsk::of(atlas, q).ok()?;
    let m = ask.filter.compile(atlas);
    let quick = ask.download.is_none()
        && ask.page.offset.saturating_add(ask.page.limit) <= INLINE_PAGE
        && ask.search(&m).grid_answers();
    quick.then(|| events_page(r, &ask, &m))
}

/// What a radius search adds to its collection: the centre and radius, and the circle
/// (the searched area, for drawing: a geodesic circle, not a planar one).
fn near_members(
    atlas: &Atlas,
    near: Option<(Near, Option<usize>)>,
) -> (Map<String, Value>, Option<Arc<RawValue>>) {
    let Some((n, place)) = near else {
        return (Map::new(), None);
    };
    let members = json!({
        "center": {
            "lon": n.center.lon,
            "lat": n.center.lat,
            "place": place.map(|i| &atlas.places()[i].name),
        },
        "radius_km": n.radius_km,
    });
    (as_members(members), search_circle(n).geojson())
}

/// `GET /api/events/nearest?lon=&lat=&k=10` (+ filters)
pub fn events_nearest(r: &Request, _: NoQuery, q: NearestQuery) -> Result<Response, Problem> {
    let atlas = r.atlas();
    let filter = q.filter.resolve(atlas, q.bbox.resolve()?)?;
    let point = crate::model::LonLat::new(q.point.lon.get(), q.point.lat.get());
    let k = q.point.k.map_or(DEFAULT_K, |k| k.get() as usize);
    let m = filter.compile(atlas);
    // A filter may send the search far from the point, through many non-matching events.
    let _turn = if m.is_everything() {
        None
    } else {
        Some(r.expensive()?)
    };
    let hits = nearest(atlas, &m, point, k);
    let extra = json!({"center": {"lon": point.lon, "lat": point.lat}, "k": k});
    let page = Page {
        limit: k,
        offset: 0,
    };
    let matched = hits.len();
    let feats = PageFeatures::Events(atlas, hits);
    Ok(collection(
        "/api/events/nearest",
        r.raw_query,
        matched,
        page,
        feats,
        extra,
    )
    .response(GEOJSON))
}

/// `GET /api/events/{id}`
pub fn event(r: &Request, path: IdPath, _: NoQuery) -> Result<Response, Problem> {
    let atlas = r.atlas();
    let id = path.id.0;
    let i = atlas
        .event_index(&id)
        .ok_or_else(|| Problem::not_found(format!("no event with id {id:?}")))?;
    let hit = Hit {
        event: i,
        distance_km: None,
    };
    let mut out = Vec::with_capacity(2048);
    features::write_event(&mut out, atlas, hit);
    Ok(bytes_response(GEOJSON, out))
}

/// `GET /api/regions`
pub fn regions(r: &Request, _: NoQuery, _: NoQuery) -> Result<Response, Problem> {
    let atlas = r.atlas();
    let feats: Vec<Value> = (0..atlas.regions().len())
        .map(|i| features::region(atlas, i))
        .collect();
    let n = feats.len();
    let feats = PageFeatures::Values(feats);
    Ok(collection(
        "/api/regions",
        r.raw_query,
        n,
        Page::all(n),
        feats,
        json!({}),
    )
    .response(GEOJSON))
}

/// `GET /api/regions/{id}` (ISO code or name)
pub fn region(r: &Request, path: IdPath, _: NoQuery) -> Result<Response, Problem> {
    let id = path.id.0;
    let i = r
        .atlas()
        .region_index(&id)
        .ok_or_else(|| Problem::not_found(format!("no region with id or name {id:?}")))?;
    Ok(json_response(
        GEOJSON,
        &features::region(r.atlas(), i as usize),
    ))
}

/// `GET /api/bases?operator=MINUSMA&open_in=2019&bbox=`
pub fn bases(r: &Request, _: NoQuery, q: BasesQuery) -> Result<Response, Problem> {
    let atlas = r.atlas();
    let year = q.bases.open_in.map(|y| y.get() as i32);
    let filter = ItemFilter {
        bbox: q.bbox.resolve()?,
        years: (year, year),
        equals: q
            .bases
            .operator
            .map(|o| vec![(BaseProp::Operator, o.0)])
            .unwrap_or_default(),
    };
    let list = items::bases(atlas, &filter);
    let feats = PageFeatures::Values(list.iter().map(|&i| features::base(atlas, i)).collect());
    let page = Page::all(list.len());
    Ok(collection(
        "/api/bases",
        r.raw_query,
        list.len(),
        page,
        feats,
        json!({}),
    )
    .response(GEOJSON))
}

fn base_index(atlas: &Atlas, id: &str) -> Result<usize, Problem> {
    atlas
        .base_index(id)
        .ok_or_else(|| Problem::not_found(format!("no base with id {id:?}")))
}

/// `GET /api/bases/{id}`
pub fn base(r: &Request, path: IdPath, _: NoQuery) -> Result<Response, Problem> {
    let b = base_index(r.atlas(), &path.id.0)?;
    Ok(json_response(GEOJSON, &features::base(r.atlas(), b)))
}

/// `GET /api/bases/{id}/coverage?radius_km=&active_only=` (+ filters, paging)
///
/// A FeatureCollection of the covered events (nearest first) with foreign members:
/// `base`, `radius_km`, `circle` (the geodesic circle as a Polygon feature) and `totals`.
pub fn base_coverage(r: &Request, path: IdPath, q: CoverageQuery) -> Result<Response, Problem> {
    let atlas = r.atlas();
    let id = path.id.0;
    let b = base_index(atlas, &id)?;
    let filter = q.filter.resolve(atlas, q.bbox.resolve()?)?;
    let page = q.page.page(DEFAULT_LIMIT, q.f.download().is_some())?;
    let explicit = q.page.explicit();
    let prefix = match q.f.download() {
        Some(_) => rows_wanted(r, explicit),
        None => page.offset.saturating_add(page.limit),
    };
    let _turn = r.expensive()?;
    let c = covering::base_coverage(atlas, b, &filter.compile(atlas), q.coverage.rule(), prefix);
    let base = &atlas.bases()[b];
    let circle = geodesy::circle(base.pos, c.radius_km, 128);
    let extra = json!({
        "base": features::base(atlas, b),
        "radius_km": c.radius_km,
        "circle": {
            "type": "Feature",
            "geometry": features::polygon_geometry(&circle),
            "properties": {"base": base.id, "radius_km": c.radius_km},
        },
        "totals": c.totals,
    });
    if let Some(format) = q.f.download() {
        let (matched, name) = (c.hits.len(), format!("coverage-{id}"));
        let rows = Rows::Events {
            hits: c.hits,
            from: Some(base.pos),
        };
        let members = as_members(extra);
        return download::respond(r, format, &name, matched, rows, explicit, members);
    }
    let mut shown = page.slice(&c.hits).to_vec();
    fill_distances(atlas, base.pos, &mut shown);
    let feats = PageFeatures::Events(atlas, shown);
    let path = format!("/api/bases/{id}/coverage");
    Ok(collection(&path, r.raw_query, c.hits.len(), page, feats, extra).response(GEOJSON))
}

/// `GET /api/coverage?active_only=&radius_km=` (+ filters, paging of the uncovered list)
///
/// `bases`: every base with its radius and totals; `uncovered`: a FeatureCollection of the
/// matching events no base covers, with their totals.
pub fn coverage(r: &Request, _: NoQuery, q: CoverageQuery) -> Result<Response, Problem> {
    let atlas = r.atlas();
    let filter = q.filter.resolve(atlas, q.bbox.resolve()?)?;
    let page = q.page.page(DEFAULT_LIMIT, q.f.download().is_some())?;
    let _turn = r.expensive()?;
    let report = coverage_all(atlas, &filter.compile(atlas), q.coverage.rule());
    let bases: Vec<Value> = report
        .bases
        .iter()
        .map(|c| {
            let b = &atlas.bases()[c.base];
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
    let totals = Totals::of(atlas, report.uncovered.iter().copied());
    if let Some(format) = q.f.download() {
        let matched = uncovered_hits.len();
        let rows = Rows::Events {
            hits: uncovered_hits,
            from: None,
        };
        let members = as_members(json!({ "totals": totals }));
        let explicit = q.page.explicit();
        return download::respond(r, format, "uncovered", matched, rows, explicit, members);
    }
    let feats = PageFeatures::Events(atlas, page.slice(&uncovered_hits).to_vec());
    let uncovered = collection(
        "/api/coverage",
        r.raw_query,
        uncovered_hits.len(),
        page,
        feats,
        json!({"totals": totals}),
    );
    let mut out = Vec::with_capacity(64 * 1024);
    out.extend_from_slice(br#"{"bases":"#);
    json_text::write_value(&mut out, &bases);
    out.extend_from_slice(br#","uncovered":"#);
    uncovered.write(&mut out);
    out.push(b'}');
    Ok(bytes_response(JSON, out))
}

/// `GET /api/stats?group_by=region|year|type|month` (+ filters, near)
pub fn stats(r: &Request, _: NoQuery, q: StatsQuery) -> Result<Response, Problem> {
    let atlas = r.atlas();
    let filter = q.filter.resolve(atlas, q.bbox.resolve()?)?;
    let near = q.near.resolve(atlas)?;
    let _turn = r.expensive()?;
    let hits = find_events(
        atlas,
        &filter.compile(atlas),
        near.map(|(n, _)| n),
        Sort::Date,
        0,
    );
    let by = q.group.group_by;
    let groups: Vec<Value> = group(atlas, &hits, by)
        .into_iter()
        .map(|g| json!({"key": g.key, "label": g.label, "count": g.tally.count, "fatalities": g.tally.fatalities}))
        .collect();
    let total = Totals::of(atlas, hits.iter().map(|h| h.event)).all;
    Ok(json_response(
        JSON,
        &json!({"group_by": by.name(), "groups": groups, "total": total}),
    ))
}

fn as_members(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}
