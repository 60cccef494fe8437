//! The HTTP interface. One warp filter hands every request to `dispatch`, which routes by
//! path segments; handlers return `Result<Response, Problem>`, so every failure a client
//! can cause becomes problem+json, and nothing below this module knows about HTTP.

pub mod api;
pub mod assets;
pub mod features;
pub mod metrics;
pub mod ogc;
pub mod openapi;
pub mod params;
pub mod problem;
pub mod tiles;

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use percent_encoding::percent_decode_str;
use serde::Serialize;
use serde_json::json;
use warp::Filter;
use warp::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use warp::reply::Response;

use crate::atlas::Atlas;
use crate::tiles::TileSource;
use crate::tiles::cache::TileCache;
use metrics::Metrics;
use problem::Problem;

pub const JSON: &str = "application/json";
pub const GEOJSON: &str = "application/geo+json";

/// One consistent view of the data: the atlas and the tile geometry built from it.
pub struct Snapshot {
    pub atlas: Atlas,
    pub tiles: TileSource,
}

impl Snapshot {
    pub fn new(atlas: Atlas) -> Snapshot {
        let tiles = TileSource::build(&atlas);
        Snapshot { atlas, tiles }
    }
}

/// Server settings a user may set on the command line.
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// Upper bound on the memory of the encoded-tile cache; 0 turns it off.
    pub tile_cache_bytes: u64,
    /// Base URL written into TileJSON and the style (default: from the `Host` header).
    pub public_url: Option<String>,
    /// Directory of the web map (index.html, app.js, ...; MapLibre in its node_modules).
    pub web_dir: std::path::PathBuf,
    /// TrueType font the map labels' glyphs are rendered from.
    pub font: std::path::PathBuf,
}

/// What every request handler can reach: the current snapshot, caches and metrics.
pub struct AppState {
    snapshot: Arc<Snapshot>,
    pub tile_cache: TileCache,
    pub public_url: Option<String>,
    web: assets::WebFiles,
    glyphs: assets::Glyphs,
    metrics: Metrics,
}

impl AppState {
    pub fn new(atlas: Atlas, config: Config) -> Self {
        let snapshot = Arc::new(Snapshot::new(atlas));
        let background = snapshot.clone();
        std::thread::spawn(move || {
            let started = std::time::Instant::now();
            background.tiles.prepare_clusters(&background.atlas);
            tracing::info!(
                ms = started.elapsed().as_millis() as u64,
                "cluster pyramid ready"
            );
        });
        AppState {
            snapshot,
            tile_cache: TileCache::new(config.tile_cache_bytes),
            public_url: config.public_url,
            web: assets::WebFiles::load(&config.web_dir),
            glyphs: assets::Glyphs::new(config.font),
            metrics: Metrics::default(),
        }
    }

    /// The snapshot a request works on, unaffected by later replacements.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.snapshot.clone()
    }
}

pub fn json_response<T: Serialize>(content_type: &'static str, body: &T) -> Response {
    match serde_json::to_vec(body) {
        Ok(bytes) => {
            let mut resp = Response::new(bytes.into());
            resp.headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
            resp
        }
        Err(e) => Problem::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Internal error",
            format!("could not serialise the response: {e}"),
        )
        .into_response(),
    }
}

/// The URL clients should use to reach us: `--public-url` if set, else from `Host`.
pub fn base_url(state: &AppState, headers: &HeaderMap) -> String {
    if let Some(u) = &state.public_url {
        return u.trim_end_matches('/').to_string();
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            !h.is_empty()
                && h.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b))
        })
        .unwrap_or("127.0.0.1:8080");
    format!("http://{host}")
}

/// A link to the same request with `offset` replaced (or, with `None`, as it was): for
/// `self`/`next`/`prev` paging links. `path` may be relative or absolute.
pub fn page_href(path: &str, raw_query: &str, offset: Option<usize>) -> String {
    let mut ser = form_urlencoded::Serializer::new(String::new());
    for (k, v) in form_urlencoded::parse(raw_query.as_bytes()) {
        if offset.is_none() || k != "offset" {
            ser.append_pair(&k, &v);
        }
    }
    if let Some(o) = offset {
        ser.append_pair("offset", &o.to_string());
    }
    let q = ser.finish();
    if q.is_empty() {
        path.to_string()
    } else {
        format!("{path}?{q}")
    }
}

fn text_response(content_type: &'static str, body: String) -> Response {
    let mut resp = Response::new(body.into());
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    resp
}

/// Routes one request. Returns the route's label (for metrics) and the response.
fn dispatch(
    state: &AppState,
    method: &Method,
    path: &str,
    query: &str,
    headers: &HeaderMap,
) -> (&'static str, Response) {
    if method == Method::OPTIONS {
        let mut resp = Response::new(Default::default());
        *resp.status_mut() = StatusCode::NO_CONTENT;
        let h = resp.headers_mut();
        h.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("GET, HEAD, OPTIONS"),
        );
        h.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static("*"),
        );
        h.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static("86400"),
        );
        return ("options", resp);
    }
    if method != Method::GET && method != Method::HEAD {
        let mut resp = Problem::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method-not-allowed",
            "Method not allowed",
            format!("{method} is not supported; use GET"),
        )
        .into_response();
        resp.headers_mut().insert(
            header::ALLOW,
            HeaderValue::from_static("GET, HEAD, OPTIONS"),
        );
        return ("other", resp);
    }
    let segments: Vec<String> = path
        .trim_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| percent_decode_str(s).decode_utf8_lossy().into_owned())
        .collect();
    let seg: Vec<&str> = segments.iter().map(String::as_str).collect();
    let snap = state.snapshot();
    let a = &snap.atlas;
    if let Some(resp) = state.web.get(path) {
        return ("web", resp);
    }
    let (route, result): (&'static str, Result<Response, Problem>) = match seg.as_slice() {
        [] => ("index", Ok(json_response(JSON, &index()))),
        ["api"] => ("index", Ok(json_response(JSON, &index()))),
        ["fonts", _stack, range] => ("fonts", state.glyphs.range(range)),
        ["healthz"] => (
            "healthz",
            Ok(json_response(
                JSON,
                &json!({"status": "ok", "events": a.events.len(), "bases": a.bases.len(), "regions": a.regions.len(), "places": a.places.len()}),
            )),
        ),
        ["metrics"] => (
            "metrics",
            Ok(text_response(
                "text/plain; version=0.0.4",
                state.metrics.render(a),
            )),
        ),
        ["tiles", z, x, y] => ("tiles", tiles::tile(state, z, x, y, query, headers)),
        ["tiles.json"] => ("tilejson", tiles::tilejson(state, query, headers)),
        ["style.json"] => ("style", tiles::style(state, query, headers)),
        ["ogc"] => ("ogc", Ok(ogc::landing(state, headers))),
        ["ogc", "conformance"] => ("ogc", Ok(ogc::conformance())),
        ["ogc", "api"] => ("ogc", Ok(openapi::document(state, headers))),
        ["ogc", "collections"] => ("ogc", ogc::collections(state, query, headers)),
        ["ogc", "collections", id] => ("ogc", ogc::collection(state, id, query, headers)),
        ["ogc", "collections", id, "queryables"] => {
            ("ogc", ogc::queryables(state, id, query, headers))
        }
        ["ogc", "collections", id, "items"] => ("ogc_items", ogc::items(state, id, query, headers)),
        ["ogc", "collections", id, "items", fid] => {
            ("ogc_item", ogc::item(state, id, fid, query, headers))
        }
        ["api", "places"] => ("api_places", api::places(a, query)),
        ["api", "events"] => ("api_events", api::events(a, query)),
        ["api", "events", "nearest"] => ("api_events_nearest", api::events_nearest(a, query)),
        ["api", "events", id] => ("api_event", api::event(a, id, query)),
        ["api", "regions"] => ("api_regions", api::regions(a, query)),
        ["api", "regions", id] => ("api_region", api::region(a, id, query)),
        ["api", "bases"] => ("api_bases", api::bases(a, query)),
        ["api", "bases", id] => ("api_base", api::base(a, id, query)),
        ["api", "bases", id, "coverage"] => (
            "api_base_coverage",
            api::base_coverage_handler(a, id, query),
        ),
        ["api", "coverage"] => ("api_coverage", api::coverage(a, query)),
        ["api", "stats"] => ("api_stats", api::stats(a, query)),
        _ => (
            "not_found",
            Err(Problem::not_found(format!(
                "no resource at {path}; see / for the endpoints"
            ))),
        ),
    };
    (route, result.unwrap_or_else(Problem::into_response))
}

/// `GET /`: where things are (the web map replaces this later).
fn index() -> serde_json::Value {
    json!({
        "name": "Sahel Atlas",
        "description": "Regions, bases and conflict events in Mali and the Sahel",
        "endpoints": [
            "/tiles/{z}/{x}/{y}.mvt", "/tiles.json", "/style.json",
            "/api/places?q=mop",
            "/api/events?near=Mopti&radius_km=50",
            "/api/events/nearest?lon=-4.18&lat=14.48&k=10",
            "/api/events/{id}",
            "/api/regions", "/api/regions/{id}",
            "/api/bases", "/api/bases/{id}", "/api/bases/{id}/coverage",
            "/api/coverage",
            "/api/stats?group_by=region",
            "/healthz", "/metrics"
        ],
        "attribution": tiles::ATTRIBUTION,
    })
}

fn handle(
    state: &AppState,
    method: Method,
    path: &str,
    query: &str,
    headers: &HeaderMap,
) -> Response {
    let start = Instant::now();
    // A bug must cost one request a 500, not the connection (and never the server).
    let (route, mut resp) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        dispatch(state, &method, path, query, headers)
    }))
    .unwrap_or_else(|_| {
        let p = Problem::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Internal error",
            "the server hit a bug handling this request; it has been logged".to_string(),
        );
        ("panic", p.into_response())
    });
    let h = resp.headers_mut();
    h.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=60"),
        );
    }
    let took = start.elapsed();
    let status = resp.status().as_u16();
    state.metrics.record(route, status, took);
    tracing::info!(%method, path, query, status, micros = took.as_micros() as u64, "request");
    resp
}

/// Serves until `shutdown` completes, then finishes in-flight requests and returns.
pub async fn serve(
    state: Arc<AppState>,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let routes = warp::method()
        .and(warp::path::full())
        .and(warp::query::raw().or(warp::any().map(String::new)).unify())
        .and(warp::header::headers_cloned())
        .then(
            move |method: Method, path: warp::path::FullPath, query: String, headers: HeaderMap| {
                let state = state.clone();
                // Handlers are CPU work (a cold low-zoom tile over a million events takes
                // a few hundred ms): run them off the async workers so they never stall
                // other connections.
                async move {
                    tokio::task::spawn_blocking(move || {
                        handle(&state, method, path.as_str(), &query, &headers)
                    })
                    .await
                    .unwrap_or_else(|_| {
                        Problem::new(
                            StatusCode::INTERNAL_SERVER_ERROR,
                            "internal",
                            "Internal error",
                            "the request's task failed".to_string(),
                        )
                        .into_response()
                    })
                }
            },
        );
    warp::serve(routes)
        .incoming(listener)
        .graceful(shutdown)
        .run()
        .await;
}
