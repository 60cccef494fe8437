//! The one route table: routing, the index page and the OpenAPI document all read it.
//! Each entry names its path template, the types of its path and query parameters and its
//! handler; [`route!`] builds the entry so that what is documented is what is parsed.

use serde::de::DeserializeOwned;
use utoipa::IntoParams;
use utoipa::openapi::path::{Parameter, ParameterIn};
use warp::http::Method;
use warp::reply::Response;

use super::problem::Problem;
use super::{GEOJSON, JSON, Request, analysis, api, archives, ogc, tiles, writes};
use crate::params::fields::ParamFields;
#[cfg(test)]
use crate::params::fields::struct_fields;
use crate::params::queries::*;

/// A route's handler after its parameters are parsed: the work left, for the blocking
/// pool (it owns the parsed parameters).
pub type Job = Box<dyn FnOnce(&Request) -> Result<Response, Problem> + Send>;

/// What a route makes of a request: its path and query parsed once, then either an
/// answer given at once (a tile the cache holds, a near query the grid answers) or the
/// job that answers it.
pub enum Prepared {
    /// Answered on the async worker: quicker than the trip to the blocking pool.
    Answered(Response),
    /// To run on the blocking pool.
    Job(Job),
}

/// Parses a request for its route (a 400 names the parameter) and decides how it is
/// answered.
pub type Prepare = fn(&Request) -> Result<Prepared, Problem>;

/// An answer a route can give without the blocking pool, from its parsed parameters;
/// `None` when in doubt (the job answers then, errors included).
pub type Inline<P, Q> = fn(&Request, &P, &Q) -> Option<Response>;

pub struct Route {
    pub method: Method,
    /// OpenAPI path template; `{name}` captures one segment, `{name}.ext` one segment
    /// with the extension removed.
    pub path: &'static str,
    /// Label in metrics and logs.
    pub label: &'static str,
    pub summary: &'static str,
    pub path_params: fn() -> Vec<Parameter>,
    pub query_params: fn() -> Vec<Parameter>,
    /// Content type of a 200 answer.
    pub content_type: &'static str,
    /// Parses the request once and says how it is answered.
    pub prepare: Prepare,
    /// The names the path and query types read (serde's view, compared with the
    /// documented ones in tests).
    #[cfg(test)]
    pub fields: fn() -> Vec<&'static str>,
}

/// What path type `P` and query type `Q` read, in that order.
#[cfg(test)]
pub fn fields<P: DeserializeOwned, Q: ParamFields>() -> Vec<&'static str> {
    let mut all = struct_fields::<P>().to_vec();
    all.extend(Q::fields());
    all
}

/// Path parameters of `T` (none for `NoQuery`).
pub fn path_params<T: IntoParams>() -> Vec<Parameter> {
    T::into_params(|| Some(ParameterIn::Path))
}

pub fn query_params<T: IntoParams>() -> Vec<Parameter> {
    T::into_params(|| Some(ParameterIn::Query))
}

/// Parses path `P` and query `Q` once; answers from `inline` when it can (GET only),
/// else hands them to `handler` as the job.
pub fn prepare<P, Q>(
    r: &Request,
    handler: fn(&Request, P, Q) -> Result<Response, Problem>,
    inline: Option<Inline<P, Q>>,
) -> Result<Prepared, Problem>
where
    P: DeserializeOwned + Send + 'static,
    Q: DeserializeOwned + ParamFields + Send + 'static,
{
    let path: P = r.path()?;
    let query: Q = r.query()?;
    let quick = inline.filter(|_| r.method == Method::GET && r.body.is_empty());
    if let Some(resp) = quick.and_then(|answer| answer(r, &path, &query)) {
        return Ok(Prepared::Answered(resp));
    }
    Ok(Prepared::Job(Box::new(move |r| handler(r, path, query))))
}

/// `route!(path, label, summary, content type, PathType, QueryType, handler)` for GET,
/// `route!(METHOD path, ...)`, and `..., handler, inline answer)` for a route that can
/// answer some requests on the async worker.
macro_rules! route {
    ($path:literal, $label:literal, $summary:literal, $ct:expr, $p:ty, $q:ty, $h:path $(, $i:path)?) => {
        route!(GET $path, $label, $summary, $ct, $p, $q, $h $(, $i)?)
    };
    ($method:ident $path:literal, $label:literal, $summary:literal, $ct:expr, $p:ty, $q:ty, $h:path $(, $i:path)?) => {
        Route {
            method: Method::$method,
            path: $path,
            label: $label,
            summary: $summary,
            path_params: path_params::<$p>,
            query_params: query_params::<$q>,
            content_type: $ct,
            prepare: |r| prepare::<$p, $q>(r, $h, None $(.or(Some($i)))?),
            #[cfg(test)]
            fields: fields::<$p, $q>,
        }
    };
}

const MVT: &str = "application/vnd.mapbox-vector-tile";
const PBF: &str = "application/x-protobuf";

/// Every route, literal paths before templates that would also match them.
pub static ROUTES: &[Route] = &[
    route!(
        "/api",
        "index",
        "The endpoints",
        JSON,
        NoQuery,
        NoQuery,
        super::index
    ),
    route!(
        "/healthz",
        "healthz",
        "Health and item counts",
        JSON,
        NoQuery,
        NoQuery,
        super::healthz
    ),
    route!(
        "/metrics",
        "metrics",
        "Prometheus metrics",
        "text/plain; version=0.0.4",
        NoQuery,
        NoQuery,
        super::metrics_text
    ),
    route!(
        "/tiles/{z}/{x}/{y}.mvt",
        "tiles",
        "Mapbox Vector Tile (XYZ, Web Mercator); 204 when empty",
        MVT,
        TilePath,
        TileQuery,
        tiles::tile,
        tiles::cached_main
    ),
    route!(
        "/tiles/hexbins/{z}/{x}/{y}.mvt",
        "hexbin_tiles",
        "The hexbins tile set: events per H3 cell, the resolution following the zoom; 204 when empty",
        MVT,
        TilePath,
        TileQuery,
        tiles::hexbin_tile,
        tiles::cached_hexbins
    ),
    route!(
        "/tiles/hexbins.json",
        "hexbin_tilejson",
        "TileJSON 3.0.0 of the hexbins tile set",
        JSON,
        NoQuery,
        TileQuery,
        tiles::hexbins_tilejson
    ),
    route!(
        "/tiles.json",
        "tilejson",
        "TileJSON 3.0.0 (tile filters are carried into the URL)",
        JSON,
        NoQuery,
        TileQuery,
        tiles::tilejson
    ),
    route!(
        "/style.json",
        "style",
        "MapLibre style over these tiles",
        JSON,
        NoQuery,
        StyleQuery,
        tiles::style
    ),
    route!(
        "/archives",
        "archives",
        "The tile archives served (serve --archive NAME=FILE)",
        JSON,
        NoQuery,
        NoQuery,
        archives::list
    ),
    route!(
        "/archives/{name}/tiles.json",
        "archive_tilejson",
        "TileJSON 3.0.0 of one archive",
        JSON,
        ArchivePath,
        NoQuery,
        archives::tilejson
    ),
    route!(
        "/archives/{name}/archive.pmtiles",
        "archive_file",
        "A PMTiles archive itself, whole or by Range (206), as object storage serves it",
        "application/vnd.pmtiles",
        ArchivePath,
        NoQuery,
        archives::file
    ),
    route!(
        "/archives/{name}/{z}/{x}/{y}.mvt",
        "archive_tiles",
        "A tile from an archive, as stored (gzip); 204 when the archive has none",
        MVT,
        ArchiveTilePath,
        NoQuery,
        archives::tile
    ),
    route!(
        "/fonts/{fontstack}/{range}.pbf",
        "fonts",
        "SDF glyphs for labels",
        PBF,
        FontPath,
        NoQuery,
        super::glyphs
    ),
    route!(
        "/api/places",
        "api_places",
        "Gazetteer search",
        GEOJSON,
        NoQuery,
        PlacesQuery,
        api::places
    ),
    route!(
        "/api/events",
        "api_events",
        "Events, optionally within a geodesic radius",
        GEOJSON,
        NoQuery,
        EventsQuery,
        api::events,
        api::events_inline
    ),
    route!(
        "/api/events/nearest",
        "api_events_nearest",
        "The k nearest events (geodesic)",
        GEOJSON,
        NoQuery,
        NearestQuery,
        api::events_nearest
    ),
    route!(
        "/api/events/{id}",
        "api_event",
        "One event",
        GEOJSON,
        IdPath,
        NoQuery,
        api::event
    ),
    route!(
        POST "/api/events",
        "api_events_post",
        "Insert or update events (GeoJSON or ACLED/UCDP CSV body; write key)",
        JSON,
        NoQuery,
        NoQuery,
        writes::post_events
    ),
    route!(
        PUT "/api/events/{id}",
        "api_event_put",
        "Replace or create one event (GeoJSON Feature or one-row CSV; write key)",
        JSON,
        IdPath,
        NoQuery,
        writes::put_event
    ),
    route!(
        DELETE "/api/events/{id}",
        "api_event_delete",
        "Delete one event (write key)",
        JSON,
        IdPath,
        NoQuery,
        writes::delete_event
    ),
    route!(
        POST "/admin/reload",
        "admin_reload",
        "Re-read the data files into a new snapshot (write key)",
        JSON,
        NoQuery,
        NoQuery,
        writes::reload
    ),
    route!(
        "/api/changes",
        "api_changes",
        "Changes written since a sequence number",
        JSON,
        NoQuery,
        ChangesQuery,
        writes::changes
    ),
    route!(
        "/api/regions",
        "api_regions",
        "Regions with ACLED fatalities by year",
        GEOJSON,
        NoQuery,
        NoQuery,
        api::regions
    ),
    route!(
        "/api/regions/{id}",
        "api_region",
        "One region (ISO code or name)",
        GEOJSON,
        IdPath,
        NoQuery,
        api::region
    ),
    route!(
        "/api/bases",
        "api_bases",
        "Bases",
        GEOJSON,
        NoQuery,
        BasesQuery,
        api::bases
    ),
    route!(
        "/api/bases/{id}",
        "api_base",
        "One base",
        GEOJSON,
        IdPath,
        NoQuery,
        api::base
    ),
    route!(
        "/api/bases/{id}/coverage",
        "api_base_coverage",
        "Events inside a base's coverage circle, with totals by type and year",
        GEOJSON,
        IdPath,
        CoverageQuery,
        api::base_coverage
    ),
    route!(
        "/api/coverage/timeline",
        "api_coverage_timeline",
        "Per year: events and fatalities within reach of a base open that year, overall and per operator, and the uncovered hot spots (H3)",
        JSON,
        NoQuery,
        TimelineQuery,
        analysis::timeline
    ),
    route!(
        "/api/hexbins",
        "api_hexbins",
        "Matching events per H3 cell: count, fatalities, most frequent type",
        GEOJSON,
        NoQuery,
        HexbinsQuery,
        analysis::hexbins
    ),
    route!(
        "/api/trends",
        "api_trends",
        "Each region or H3 cell: one period against the mean and sd of the periods before it, flagged",
        JSON,
        NoQuery,
        TrendsQuery,
        analysis::trends
    ),
    route!(
        "/api/coverage",
        "api_coverage",
        "Every base's totals and the events no base covers",
        JSON,
        NoQuery,
        CoverageQuery,
        api::coverage
    ),
    route!(
        "/api/stats",
        "api_stats",
        "Event counts and fatalities grouped",
        JSON,
        NoQuery,
        StatsQuery,
        api::stats
    ),
    route!(
        "/ogc",
        "ogc",
        "OGC API landing page",
        JSON,
        NoQuery,
        OgcQuery,
        ogc::landing
    ),
    route!(
        "/ogc/conformance",
        "ogc",
        "Conformance classes",
        JSON,
        NoQuery,
        OgcQuery,
        ogc::conformance
    ),
    route!(
        "/ogc/api",
        "ogc",
        "This document",
        ogc::OPENAPI,
        NoQuery,
        OgcQuery,
        super::openapi_document
    ),
    route!(
        "/ogc/collections",
        "ogc",
        "Feature collections",
        JSON,
        NoQuery,
        OgcQuery,
        ogc::collections
    ),
    route!(
        "/ogc/collections/{collectionId}",
        "ogc",
        "A collection",
        JSON,
        ogc::CollectionPath,
        OgcQuery,
        ogc::collection
    ),
    route!(
        "/ogc/collections/{collectionId}/queryables",
        "ogc",
        "Queryable properties (JSON Schema)",
        "application/schema+json",
        ogc::CollectionPath,
        OgcQuery,
        ogc::queryables
    ),
    Route {
        method: Method::GET,
        path: "/ogc/collections/{collectionId}/items",
        label: "ogc_items",
        summary: "Features of a collection (its queryables are listed under its own path)",
        path_params: path_params::<ogc::CollectionPath>,
        query_params: query_params::<ItemsQuery<crate::query::props::NoProp>>,
        content_type: GEOJSON,
        // The queryables depend on the collection: the job parses the query, once.
        prepare: |_| Ok(Prepared::Job(Box::new(ogc::items))),
        #[cfg(test)]
        fields: fields::<ogc::CollectionPath, ItemsQuery<crate::query::props::NoProp>>,
    },
    route!(
        "/ogc/collections/{collectionId}/items/{featureId}",
        "ogc_item",
        "One feature",
        GEOJSON,
        ogc::FeaturePath,
        OgcQuery,
        ogc::item
    ),
];

/// Where a request goes: its route and the path parameters captured (percent-decoded),
/// or, when the path exists only for other methods, those methods.
pub enum Found {
    Route(&'static Route, Vec<(String, String)>),
    OtherMethods(Vec<Method>),
    Nothing,
}

/// The route for `method` (HEAD as GET) on `path`.
pub fn find_for(method: &Method, path: &str) -> Found {
    let method = if method == Method::HEAD {
        &Method::GET
    } else {
        method
    };
    let segments = segments(path);
    let mut others = Vec::new();
    for r in ROUTES {
        if let Some(c) = captures(r.path, &segments) {
            if r.method == *method {
                return Found::Route(r, c);
            }
            others.push(r.method.clone());
        }
    }
    if others.is_empty() {
        Found::Nothing
    } else {
        Found::OtherMethods(others)
    }
}

fn segments(path: &str) -> Vec<String> {
    path.trim_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .into_owned()
        })
        .collect()
}

fn captures(template: &str, segments: &[String]) -> Option<Vec<(String, String)>> {
    let parts: Vec<&str> = template.trim_matches('/').split('/').collect();
    if parts.len() != segments.len() {
        return None;
    }
    let mut captured = Vec::new();
    for (part, seg) in parts.iter().zip(segments) {
        match part.strip_prefix('{').and_then(|p| p.split_once('}')) {
            None if part == seg => {}
            None => return None,
            Some((name, ext)) => {
                // `{y}.mvt` takes `7.mvt` as 7; any other ending is left for the value's
                // own check to report.
                let value = seg.strip_suffix(ext).filter(|_| !ext.is_empty());
                captured.push((name.to_string(), value.unwrap_or(seg).to_string()));
            }
        }
    }
    Some(captured)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn find(path: &str) -> Option<(&'static Route, Vec<(String, String)>)> {
        match find_for(&Method::GET, path) {
            Found::Route(r, c) => Some((r, c)),
            _ => None,
        }
    }

    #[test]
    fn literal_routes_win_and_captures_are_decoded() {
        let (r, c) = find("/api/events/nearest").unwrap();
        assert_eq!(r.path, "/api/events/nearest");
        assert!(c.is_empty());
        let (r, c) = find("/api/events/MLI%2D1").unwrap();
        assert_eq!(r.path, "/api/events/{id}");
        assert_eq!(c, [("id".to_string(), "MLI-1".to_string())]);
        let (r, c) = find("/tiles/5/15/14.mvt").unwrap();
        assert_eq!(r.label, "tiles");
        assert_eq!(c[2], ("y".to_string(), "14".to_string()));
        assert_eq!(find("/tiles/5/15/14.png").unwrap().1[2].1, "14.png");
        assert!(find("/nowhere").is_none());
    }
}
