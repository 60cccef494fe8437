//! The HTTP interface. One warp filter hands every request to `dispatch`, which finds its
//! route in the one table (`routes`); handlers take typed path and query parameters
//! (`params`) and return `Result<Response, Problem>`, so every failure a client can cause
//! becomes problem+json. Nothing below this module knows about HTTP.

pub mod api;
pub mod assets;
pub mod features;
pub mod metrics;
pub mod ogc;
pub mod openapi;
pub mod params;
pub mod problem;
pub mod routes;
pub mod tiles;

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;
use serde_json::json;
use warp::Filter;
use warp::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use warp::reply::Response;

use crate::atlas::Atlas;
use crate::tiles::TileSource;
use crate::tiles::cache::TileCache;
use metrics::Metrics;
use params::queries::{FontPath, NoQuery};
use problem::{Problem, ProblemKind};

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
        Err(e) => {
            Problem::internal(format!("could not serialise the response: {e}")).into_response()
        }
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

/// One request as a handler sees it: the snapshot it works on, the path parameters the
/// route captured, the raw query string and the headers.
pub struct Request<'a> {
    pub state: &'a AppState,
    pub snap: Arc<Snapshot>,
    pub captured: Vec<(String, String)>,
    pub raw_query: &'a str,
    pub headers: &'a HeaderMap,
}

impl Request<'_> {
    pub fn atlas(&self) -> &Atlas {
        &self.snap.atlas
    }

    /// The query string as `T` (see [`params::parse`]).
    pub fn query<T: serde::de::DeserializeOwned + params::fields::ParamFields>(
        &self,
    ) -> Result<T, Problem> {
        params::parse_query(self.raw_query)
    }

    /// The captured path parameters as `T`.
    pub fn path<T: serde::de::DeserializeOwned>(&self) -> Result<T, Problem> {
        params::parse_path(&self.captured)
    }

    pub fn base_url(&self) -> String {
        base_url(self.state, self.headers)
    }
}

fn options_response() -> Response {
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
        return ("options", options_response());
    }
    if method != Method::GET && method != Method::HEAD {
        let mut resp = Problem::new(
            ProblemKind::MethodNotAllowed,
            format!("{method} is not supported; use GET"),
        )
        .into_response();
        resp.headers_mut().insert(
            header::ALLOW,
            HeaderValue::from_static("GET, HEAD, OPTIONS"),
        );
        return ("other", resp);
    }
    if let Some(resp) = state.web.get(path) {
        return ("web", resp);
    }
    let found = if path.trim_matches('/').is_empty() {
        routes::find("/api")
    } else {
        routes::find(path)
    };
    let Some((route, captured)) = found else {
        let p = Problem::not_found(format!("no resource at {path}; see / for the endpoints"));
        return ("not_found", p.into_response());
    };
    let request = Request {
        state,
        snap: state.snapshot(),
        captured,
        raw_query: query,
        headers,
    };
    let resp = (route.handler)(&request).unwrap_or_else(Problem::into_response);
    (route.label, resp)
}

/// `GET /` and `GET /api`: where things are, read from the route table.
pub fn index(_: &Request, _: NoQuery, _: NoQuery) -> Result<Response, Problem> {
    let endpoints: Vec<serde_json::Value> = routes::ROUTES
        .iter()
        .map(|r| json!({"path": r.path, "summary": r.summary}))
        .collect();
    Ok(json_response(
        JSON,
        &json!({
            "name": "Sahel Atlas",
            "description": "Regions, bases and conflict events in Mali and the Sahel",
            "endpoints": endpoints,
            "openapi": "/ogc/api",
            "attribution": tiles::ATTRIBUTION,
        }),
    ))
}

pub fn healthz(r: &Request, _: NoQuery, _: NoQuery) -> Result<Response, Problem> {
    let a = r.atlas();
    Ok(json_response(
        JSON,
        &json!({"status": "ok", "events": a.events().len(), "bases": a.bases().len(), "regions": a.regions().len(), "places": a.places().len()}),
    ))
}

pub fn metrics_text(r: &Request, _: NoQuery, _: NoQuery) -> Result<Response, Problem> {
    Ok(text_response(
        "text/plain; version=0.0.4",
        r.state.metrics.render(r.atlas()),
    ))
}

pub fn glyphs(r: &Request, path: FontPath, _: NoQuery) -> Result<Response, Problem> {
    r.state.glyphs.range(path.range)
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
        let p = Problem::internal("the server hit a bug handling this request; it has been logged");
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
                        Problem::internal("the request's task failed").into_response()
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
