//! The HTTP interface. One warp filter hands every request to `route`, which finds its
//! route in the one table (`routes`); handlers take typed path and query parameters
//! (`params`) and return `Result<Response, Problem>`, so every failure a client can cause
//! becomes problem+json. Nothing below this module knows about HTTP.

pub mod analysis;
pub mod api;
pub mod archives;
pub mod assets;
mod body_schema;
pub mod compress;
pub mod download;
pub mod features;
#[cfg(test)]
mod field_table;
pub mod json_text;
pub mod metrics;
pub mod ogc;
pub mod openapi;
pub mod problem;
pub mod routes;
pub mod server;
pub mod shed;
mod tile_body;
pub mod tiles;
pub mod web_files;
pub mod writes;

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;
use serde_json::json;
use warp::Filter;
use warp::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use warp::reply::Response;

use crate::atlas::Atlas;
use crate::live::{Live, Snapshot};
use crate::params::queries::{FontPath, NoQuery, OgcQuery};
use crate::params::{self, limits::MAX_BODY_BYTES};
use crate::tiles::cache::TileCache;
use metrics::Metrics;
use problem::{Problem, ProblemKind};
use routes::{Job, Prepared};

pub const JSON: &str = "application/json";
pub const GEOJSON: &str = "application/geo+json";

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
    /// Keys that may write (`Authorization: Bearer KEY`); none: writes are refused.
    pub write_keys: Vec<String>,
    /// Header deadline and connection cap.
    pub connections: server::ConnectionLimits,
    /// How many expensive requests run at once, and wait (see [`shed`]).
    pub shed: shed::ShedLimits,
    /// Tile archives served under /archives.
    pub archives: archives::Archives,
    /// Rows per download, and downloads at once.
    pub downloads: download::DownloadLimits,
}

/// What every request handler can reach: the live data, caches and metrics.
pub struct AppState {
    /// The data: the current snapshot, writes and reloads.
    pub live: Arc<Live>,
    write_keys: Vec<String>,
    /// Encoded tiles, by tile, filter and version.
    pub tile_cache: TileCache,
    /// Base URL for links, when set (else from the `Host` header).
    pub public_url: Option<String>,
    web: web_files::WebFiles,
    glyphs: assets::Glyphs,
    metrics: Metrics,
    connections: server::ConnectionLimits,
    expensive: shed::Gate,
    archives: archives::Archives,
    downloads: download::Downloads,
    /// The content security policy of pages.
    policy: HeaderValue,
}

impl AppState {
    /// The state a server answers from: `live`'s data with `config`'s limits, and the
    /// web map's files and label glyphs read at start-up.
    pub fn new(live: Live, config: Config) -> Self {
        let web = web_files::WebFiles::load(&config.web_dir);
        let web_styles = web.inline_style_sources().to_vec();
        AppState {
            live: Arc::new(live),
            write_keys: config.write_keys,
            tile_cache: TileCache::new(config.tile_cache_bytes),
            public_url: config.public_url,
            web,
            glyphs: assets::Glyphs::new(config.font),
            metrics: Metrics::default(),
            connections: config.connections,
            expensive: shed::Gate::new(config.shed),
            policy: content_security_policy(
                &config.archives.remote_origins(),
                web_styles.as_slice(),
            ),
            archives: config.archives,
            downloads: download::Downloads::new(config.downloads),
        }
    }

    /// Keys that may write.
    pub fn write_keys(&self) -> &[String] {
        &self.write_keys
    }

    /// The snapshot a request works on, unaffected by later writes.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.live.snapshot()
    }
}

/// A response of JSON already written.
pub fn bytes_response(content_type: &'static str, body: Vec<u8>) -> Response {
    let mut resp = Response::new(body.into());
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    resp
}

pub fn json_response<T: Serialize>(content_type: &'static str, body: &T) -> Response {
    // Answers run to tens of KB: growing from serde_json's 128 bytes reallocates and
    // copies ten times.
    let mut bytes = Vec::with_capacity(64 * 1024);
    match serde_json::to_writer(&mut bytes, body) {
        Ok(()) => bytes_response(content_type, bytes),
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
    /// The method (HEAD is routed as GET).
    pub method: &'a Method,
    pub captured: Vec<(String, String)>,
    pub raw_query: &'a str,
    pub headers: &'a HeaderMap,
    /// The request body (empty for GET), at most `MAX_BODY_BYTES`.
    pub body: &'a [u8],
}

impl<'a> Request<'a> {
    /// `req` with the path parameters its route captured, on snapshot `snap`.
    fn of(
        state: &'a AppState,
        req: &'a Incoming,
        captured: Vec<(String, String)>,
        body: &'a [u8],
        snap: Arc<Snapshot>,
    ) -> Request<'a> {
        Request {
            state,
            snap,
            method: &req.method,
            captured,
            raw_query: &req.query,
            headers: &req.headers,
            body,
        }
    }

    pub fn atlas(&self) -> &Atlas {
        &self.snap.atlas
    }

    /// The query string as `T` (see [`params::parse`]).
    pub fn query<T: serde::de::DeserializeOwned + params::fields::ParamFields>(
        &self,
    ) -> Result<T, Problem> {
        params::parse(self.raw_query).map_err(Problem::from)
    }

    /// The captured path parameters as `T`.
    pub fn path<T: serde::de::DeserializeOwned>(&self) -> Result<T, Problem> {
        params::parse_path(&self.captured).map_err(Problem::from)
    }

    pub fn base_url(&self) -> String {
        base_url(self.state, self.headers)
    }

    /// A turn to do expensive work (a filtered scan, coverage, stats, a filtered tile not
    /// yet cached); hold it until the work is done. A 503 when the server is saturated.
    pub fn expensive(&self) -> Result<shed::Permit<'_>, Problem> {
        self.state.expensive.enter()
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

/// Headers or a query string over their limits (431, 414), checked before routing.
fn over_limits(req: &Incoming) -> Option<Problem> {
    let header_bytes: usize = req
        .headers
        .iter()
        .map(|(k, v)| k.as_str().len() + v.len() + 4)
        .sum();
    let (headers, query) = (server::MAX_HEADER_BYTES, params::limits::MAX_QUERY_LEN);
    if header_bytes > headers {
        let detail = format!("the request headers take over {headers} bytes");
        return Some(Problem::new(ProblemKind::HeadersTooLarge, detail));
    }
    (req.query.len() > query).then(|| {
        let detail = format!("the query string is over {query} bytes");
        Problem::new(ProblemKind::UriTooLong, detail)
    })
}

/// Where a request stands once it is routed and its parameters parsed.
enum Step {
    /// Answered: an error, a web file, or a route's inline answer.
    Done(Response),
    /// The route's job, left for the blocking pool.
    Run(Pending),
}

/// A route's job with what it runs on: the path parameters the route captured and the
/// snapshot the request was parsed on.
struct Pending {
    job: Job,
    captured: Vec<(String, String)>,
    snap: Arc<Snapshot>,
}

impl Pending {
    /// Runs the job for `req` (a panic costs this request a 500, nothing more).
    fn answer(self, state: &AppState, req: &Incoming) -> Response {
        let body = req.body.as_ref().map_or(&[][..], |b| b.as_ref());
        guarded(
            || {
                let request = Request::of(state, req, self.captured, body, self.snap);
                (self.job)(&request).unwrap_or_else(Problem::into_response)
            },
            |r| r,
        )
    }
}

/// Routes one request and parses its parameters, once. Returns the route's label (for
/// metrics) and what is left to do.
fn route(state: &AppState, req: &Incoming) -> (&'static str, Step) {
    if req.method == Method::OPTIONS {
        return ("options", Step::Done(options_response()));
    }
    if let Some(p) = over_limits(req) {
        return ("over-limits", Step::Done(p.into_response()));
    }
    let path = req.path.as_str();
    if (req.method == Method::GET || req.method == Method::HEAD)
        && let Some(resp) = state.web.get(path, &req.headers)
    {
        return ("web", Step::Done(resp));
    }
    let path = if path.trim_matches('/').is_empty() {
        "/api"
    } else {
        path
    };
    let (route, captured) = match routes::find_for(&req.method, path) {
        routes::Found::Route(r, c) => (r, c),
        routes::Found::OtherMethods(allowed) => {
            return (
                "other",
                Step::Done(method_not_allowed(&req.method, &allowed)),
            );
        }
        routes::Found::Nothing => {
            let p = Problem::not_found(format!("no resource at {path}; see / for the endpoints"));
            return ("not_found", Step::Done(p.into_response()));
        }
    };
    let body = match &req.body {
        Ok(b) => b.as_ref(),
        Err(too_large) => return (route.label, Step::Done(too_large.clone().into_response())),
    };
    let request = Request::of(state, req, captured, body, state.snapshot());
    let step = match (route.prepare)(&request) {
        Err(p) => Step::Done(p.into_response()),
        Ok(Prepared::Answered(resp)) => Step::Done(resp),
        Ok(Prepared::Job(job)) => Step::Run(Pending {
            job,
            captured: request.captured,
            snap: request.snap,
        }),
    };
    (route.label, step)
}

/// `f`, or a 500 if it panics: a bug must cost one request, not the connection (and
/// never the server).
fn guarded<T>(f: impl FnOnce() -> T, bug: impl FnOnce(Response) -> T) -> T {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or_else(|_| {
        let p = Problem::internal("the server hit a bug handling this request; it has been logged");
        bug(p.into_response())
    })
}

/// Routes, parses and answers `req` on the calling thread.
fn handle(state: &AppState, req: Incoming) -> Response {
    let start = Instant::now();
    let (label, step) = guarded(|| route(state, &req), |r| ("panic", Step::Done(r)));
    let resp = match step {
        Step::Done(resp) => resp,
        Step::Run(pending) => pending.answer(state, &req),
    };
    finish(state, &req, label, resp, start)
}

fn method_not_allowed(method: &Method, allowed: &[Method]) -> Response {
    let mut names: Vec<&str> = allowed.iter().map(Method::as_str).collect();
    if names.contains(&"GET") {
        names.push("HEAD");
    }
    names.push("OPTIONS");
    let list = names.join(", ");
    let mut resp = Problem::new(
        ProblemKind::MethodNotAllowed,
        format!("{method} is not supported here; use {list}"),
    )
    .into_response();
    if let Ok(v) = HeaderValue::from_str(&list) {
        resp.headers_mut().insert(header::ALLOW, v);
    }
    resp
}

/// A request as it arrived: the body already read, or the problem of its size.
struct Incoming {
    method: Method,
    path: String,
    query: String,
    headers: HeaderMap,
    body: Result<bytes::Bytes, Problem>,
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
    let base = r.state.live.base_report();
    let saved = base.saved.map(|s| match s {
        Ok(sequence) => json!({"ok": true, "sequence": sequence}),
        Err(e) => json!({"ok": false, "error": e.to_string()}),
    });
    let reload = r.state.live.last_reload().map(
        |l| json!({"at": l.at, "ok": l.ok, "error": l.error, "events": l.events, "ms": l.millis}),
    );
    Ok(json_response(
        JSON,
        &json!({
            "status": "ok",
            "events": a.event_count(),
            "bases": a.bases().len(),
            "regions": a.regions().len(),
            "places": a.places().len(),
            "data_version": r.snap.data_version,
            "sequence": r.snap.sequence,
            // Written events not yet merged into the indexed base (plus those they hide).
            "delta": a.delta_size(),
            // Whether low-zoom tiles and country-wide hexbins read pre-summed data yet
            // (summed in the background after start-up; until then they scan).
            "summaries_ready": r.snap.summaries_ready(),
            "last_reload": reload,
            // How the indexed events were made at the last start or reload (read back
            // from the saved base, or built from the files), and the last save of them.
            "base": {
                "from": if base.from_saved { "saved" } else { "files" },
                "ms": base.millis,
                "last_save": saved,
            },
        }),
    ))
}

/// `GET /ogc/api`: the OpenAPI document, built from the route table. Here rather than
/// in `openapi` (which reads the table) so that the table does not import its reader.
pub fn openapi_document(r: &Request, _: NoQuery, _: OgcQuery) -> Result<Response, Problem> {
    Ok(json_response(
        ogc::OPENAPI,
        &openapi::build(
            &r.base_url(),
            r.atlas(),
            r.state.archives.local_names().next(),
        ),
    ))
}

pub fn metrics_text(r: &Request, _: NoQuery, _: NoQuery) -> Result<Response, Problem> {
    Ok(text_response(
        "text/plain; version=0.0.4",
        r.state
            .metrics
            .render(r.atlas(), r.state.tile_cache.weighted_bytes()),
    ))
}

pub fn glyphs(r: &Request, path: FontPath, _: NoQuery) -> Result<Response, Problem> {
    r.state.glyphs.range(path.range, r.headers)
}

/// What the web map may load: only this origin, and the origins of remote archives
/// (`connect`: MapLibre starts its worker from a `blob:` URL and its stylesheet draws control
/// icons from `data:` URLs); no framing, no plugins.
fn content_security_policy(remote: &[String], inline_styles: &[String]) -> HeaderValue {
    let connect: String = remote.iter().map(|o| format!(" {o}")).collect();
    let styles: String = inline_styles.iter().map(|s| format!(" {s}")).collect();
    let policy = format!(
        "default-src 'self'; script-src 'self'; style-src 'self'{styles}; \
         img-src 'self' data: blob:; font-src 'self'; connect-src 'self'{connect}; \
         worker-src 'self' blob:; child-src 'self' blob:; object-src 'none'; base-uri 'none'; \
         frame-ancestors 'none'; form-action 'self'"
    );
    // Origins are checked to be plain scheme://host[:port] when archives are named.
    HeaderValue::from_str(&policy).unwrap_or(HeaderValue::from_static("default-src 'self'"))
}

/// The headers a security review expects on every response; the policy on pages.
fn secure(h: &mut HeaderMap, policy: &HeaderValue) {
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    let page = h
        .get(header::CONTENT_TYPE)
        .is_some_and(|t| t.as_bytes().starts_with(b"text/html"));
    if page {
        h.insert(header::CONTENT_SECURITY_POLICY, policy.clone());
    }
}

/// What every answer gets: compression, CORS and security headers, caching, metrics and
/// the access log.
fn finish(
    state: &AppState,
    req: &Incoming,
    route: &'static str,
    resp: Response,
    start: Instant,
) -> Response {
    let mut resp = compress::maybe_gzip(&req.headers, resp);
    let h = resp.headers_mut();
    h.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    secure(h, &state.policy);
    if !h.contains_key(header::CACHE_CONTROL) {
        let cache = if req.method == Method::GET || req.method == Method::HEAD {
            "public, max-age=60"
        } else {
            "no-store"
        };
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    }
    let took = start.elapsed();
    let status = resp.status().as_u16();
    state.metrics.record(route, status, took);
    let (method, path, query) = (&req.method, req.path.as_str(), req.query.as_str());
    tracing::info!(%method, path, query, status, micros = took.as_micros() as u64, "request");
    resp
}

/// The answer to one `GET` of `target` (a path and query string, as sent), exactly as the
/// server gives it but without a connection: for the fuzzer, which feeds it hostile targets.
pub fn answer_get(state: &AppState, target: &str) -> Response {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    handle(
        state,
        Incoming {
            method: Method::GET,
            path: path.to_string(),
            query: query.to_string(),
            headers: HeaderMap::new(),
            body: Ok(bytes::Bytes::new()),
        },
    )
}

/// Reads a request body of at most [`MAX_BODY_BYTES`]; a longer one is a 413 (read no
/// further than the limit).
async fn read_body(
    declared: Option<u64>,
    mut body: impl futures_util::Stream<Item = Result<impl bytes::Buf, warp::Error>> + Unpin,
) -> Result<bytes::Bytes, Problem> {
    use futures_util::StreamExt;
    let too_large = || {
        Problem::new(
            ProblemKind::TooLarge,
            format!("the body is over {MAX_BODY_BYTES} bytes; send fewer events per request"),
        )
    };
    if declared.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
        return Err(too_large());
    }
    let mut out = bytes::BytesMut::new();
    while let Some(chunk) = body.next().await {
        let mut chunk = chunk.map_err(|e| {
            Problem::new(
                ProblemKind::InvalidRecords,
                format!("the body could not be read: {e}"),
            )
        })?;
        if out.len() + chunk.remaining() > MAX_BODY_BYTES {
            return Err(too_large());
        }
        while chunk.has_remaining() {
            let part = chunk.chunk();
            out.extend_from_slice(part);
            let n = part.len();
            chunk.advance(n);
        }
    }
    Ok(out.freeze())
}

/// Serves until `shutdown` completes, then finishes in-flight requests and returns.
pub async fn serve(
    state: Arc<AppState>,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let limits = state.connections;
    let routes = warp::method()
        .and(warp::path::full())
        .and(warp::query::raw().or(warp::any().map(String::new)).unify())
        .and(warp::header::headers_cloned())
        .and(warp::header::optional::<u64>("content-length"))
        .and(warp::body::stream())
        .then(
            move |method: Method,
                  path: warp::path::FullPath,
                  query: String,
                  headers: HeaderMap,
                  declared: Option<u64>,
                  body| {
                let state = state.clone();
                async move {
                    let body = read_body(declared, body).await;
                    let req = Incoming {
                        method,
                        path: path.as_str().to_string(),
                        query,
                        headers,
                        body,
                    };
                    // Routing and parsing happen here, once; answers quicker than a trip
                    // to the blocking pool (a cached tile, a near query the grid answers)
                    // are given here too. Jobs are CPU work (a cold low-zoom tile over a
                    // million events takes a few hundred ms) or wait for the disk: they
                    // run off the async workers so they never stall other connections.
                    let start = Instant::now();
                    let (label, step) =
                        guarded(|| route(&state, &req), |r| ("panic", Step::Done(r)));
                    let pending = match step {
                        Step::Done(resp) => return finish(&state, &req, label, resp, start),
                        Step::Run(pending) => pending,
                    };
                    tokio::task::spawn_blocking(move || {
                        let resp = pending.answer(&state, &req);
                        finish(&state, &req, label, resp, start)
                    })
                    .await
                    .unwrap_or_else(|_| {
                        Problem::internal("the request's task failed").into_response()
                    })
                }
            },
        );
    server::run(warp::service(routes), limits, listener, shutdown).await;
}
