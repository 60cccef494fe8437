//! Downloads (`f=csv`, `f=geojson` on every feature collection): every matching feature
//! as a file, written by a thread of its own in chunks while the client reads, so memory
//! stays flat however many rows go out (only the list of matching rows is held).

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use serde_json::{Map, Value};
use warp::http::{HeaderValue, StatusCode, header};
use warp::reply::Response;

use super::features;
use super::json_text;
use super::problem::{Problem, ProblemKind};
use super::{GEOJSON, Request};
use crate::atlas::Atlas;
use crate::live::Snapshot;
use crate::model::fields::{self, FieldValue};
use crate::model::{ACLED_COLUMNS, LonLat};
use crate::params::groups::{Download, Page};
use crate::query::{Hit, fill_distances};

/// How much downloads may take of the server.
#[derive(Debug, Clone, Copy)]
pub struct DownloadLimits {
    /// Rows one download may hold; a larger answer is refused (422), naming the cap.
    pub max_rows: usize,
    /// Downloads written at once; beyond, 503 with Retry-After.
    pub at_once: usize,
}

impl Default for DownloadLimits {
    fn default() -> Self {
        DownloadLimits {
            max_rows: 2_000_000,
            at_once: 4,
        }
    }
}

/// The downloads in progress, against [`DownloadLimits::at_once`].
#[derive(Debug, Default)]
pub struct Downloads {
    pub limits: DownloadLimits,
    running: Arc<AtomicUsize>,
}

/// A download's place among those running, given back when its writer ends.
struct Turn(Arc<AtomicUsize>);

impl Drop for Turn {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Downloads {
    pub fn new(limits: DownloadLimits) -> Downloads {
        Downloads {
            limits,
            running: Arc::default(),
        }
    }

    fn turn(&self) -> Result<Turn, Problem> {
        let max = self.limits.at_once;
        let taken = self
            .running
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max).then_some(n + 1)
            });
        match taken {
            Ok(_) => Ok(Turn(self.running.clone())),
            Err(_) => Err(Problem::new(
                ProblemKind::Overloaded,
                format!("{max} downloads are being written; try again in a moment"),
            )),
        }
    }
}

/// What a download holds.
pub enum Rows {
    /// Events (CSV in ACLED's columns), with distances from `from` when given.
    Events {
        hits: Vec<Hit>,
        from: Option<LonLat>,
    },
    /// Other features (bases, places, regions: a few hundred at most), as GeoJSON.
    Features(Vec<Value>),
}

#[allow(clippy::len_without_is_empty)]
impl Rows {
    pub fn len(&self) -> usize {
        match self {
            Rows::Events { hits, .. } => hits.len(),
            Rows::Features(f) => f.len(),
        }
    }

    /// The rows of `page`, when the client gave `limit` or `offset`.
    fn paged(self, page: Option<Page>) -> Rows {
        let Some(page) = page else { return self };
        match self {
            Rows::Events { hits, from } => Rows::Events {
                hits: page.slice(&hits).to_vec(),
                from,
            },
            Rows::Features(f) => Rows::Features(page.slice(&f).to_vec()),
        }
    }
}

/// How many rows a download will ask the query for: one past the cap, to tell "at the
/// cap" from "over it" without finding everything.
pub fn rows_wanted(r: &Request, page: Option<Page>) -> usize {
    let cap = r.state.downloads.limits.max_rows;
    page.map_or(cap, |p| p.offset.saturating_add(p.limit.min(cap)))
        .saturating_add(1)
}

/// A streamed download of `rows` named `name` (no extension), with `members` (foreign
/// members of the GeoJSON collection, e.g. the searched circle) ahead of the features.
///
/// # Errors
/// More rows than the cap (422), or too many downloads running (503).
pub fn respond(
    r: &Request,
    format: Download,
    name: &str,
    matched: usize,
    rows: Rows,
    page: Option<Page>,
    members: Map<String, Value>,
) -> Result<Response, Problem> {
    let rows = rows.paged(page);
    let cap = r.state.downloads.limits.max_rows;
    if rows.len() > cap {
        let detail = format!(
            "{} features match, more than this server's download cap of {cap} \
             (--max-download-rows); narrow the filters, or take them in parts with \
             limit and offset",
            matched.max(rows.len())
        );
        return Err(Problem::unprocessable("f", detail));
    }
    let snap = r.snap.clone();
    let header = Header { matched, members };
    let (ext, content_type) = match format {
        Download::Csv => ("csv", "text/csv; charset=utf-8; header=present"),
        Download::GeoJson => ("geojson", GEOJSON),
    };
    let file = format!("sahel-atlas-{}.{ext}", file_stem(name));
    streamed(r, content_type, &file, move |out| {
        write_all(&snap, format, rows, header, out)
    })
}

/// A response whose body `write` produces on a thread of its own while the client reads
/// (a download turn is held until it ends), offered as the file `filename`.
///
/// # Errors
/// Too many downloads running (503).
pub fn streamed(
    r: &Request,
    content_type: &'static str,
    filename: &str,
    write: impl FnOnce(&mut dyn Write) -> std::io::Result<()> + Send + 'static,
) -> Result<Response, Problem> {
    let turn = r.state.downloads.turn()?;
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(4);
    std::thread::Builder::new()
        .name("download".into())
        .spawn(move || {
            let _turn = turn;
            let mut out = ChunkSender {
                buf: Vec::with_capacity(CHUNK),
                tx,
            };
            if let Err(e) = write(&mut out).and_then(|()| out.flush()) {
                tracing::info!(error = %e, "download stopped");
            }
        })
        .map_err(|e| Problem::new(ProblemKind::Unavailable, format!("no thread to write: {e}")))?;
    let mut resp = warp::reply::Reply::into_response(warp::reply::stream(Chunks(rx)));
    *resp.status_mut() = StatusCode::OK;
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    let disposition = format!("attachment; filename=\"{filename}\"");
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    Ok(resp)
}

/// A small table (figures a few thousand rows long at most) as a CSV file named
/// `sahel-atlas-NAME.csv`: RFC 4180 with CRLF, UTF-8, a header row of `columns`.
pub fn csv_table(name: &str, columns: &[&str], rows: Vec<Vec<String>>) -> Response {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    // Writing into memory cannot fail.
    let _ = w.write_record(columns);
    for row in rows {
        let _ = w.write_record(&row);
    }
    let body = w.into_inner().unwrap_or_default();
    let mut resp = Response::new(body.into());
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8; header=present"),
    );
    let disposition = format!(
        "attachment; filename=\"sahel-atlas-{}.csv\"",
        file_stem(name)
    );
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    resp
}

/// A name safe in a `filename=` (letters, digits, `-`, `_`).
fn file_stem(name: &str) -> String {
    let safe: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    safe.trim_matches('-').to_string()
}

/// The chunks the writer thread sends, as a response body.
struct Chunks(tokio::sync::mpsc::Receiver<Bytes>);

impl futures_util::Stream for Chunks {
    type Item = Result<Bytes, std::io::Error>;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        self.0.poll_recv(cx).map(|c| c.map(Ok))
    }
}

struct Header {
    matched: usize,
    members: Map<String, Value>,
}

/// Bytes gathered before a chunk is sent.
const CHUNK: usize = 64 << 10;
/// Events whose distances are computed at a time.
const BATCH: usize = 1024;

/// Writes into chunks for the response body; fails once the client has gone, which
/// ends the writer.
struct ChunkSender {
    buf: Vec<u8>,
    tx: tokio::sync::mpsc::Sender<Bytes>,
}

impl ChunkSender {
    fn send(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK)));
        self.tx
            .blocking_send(chunk)
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the client has gone"))
    }
}

impl Write for ChunkSender {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(bytes);
        if self.buf.len() >= CHUNK {
            self.send()?;
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.send()
    }
}

/// Writes the whole file to `out`; stops at the first write error (the client gone).
fn write_all(
    snap: &Snapshot,
    format: Download,
    rows: Rows,
    header: Header,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    let atlas = &snap.atlas;
    let mut out = Output::start(format, &rows, header, out)?;
    match rows {
        Rows::Events { hits, from } => {
            for batch in hits.chunks(BATCH) {
                let mut batch = batch.to_vec();
                if let Some(center) = from {
                    fill_distances(atlas, center, &mut batch);
                }
                for &hit in &batch {
                    out.event(atlas, hit, from.is_some())?;
                }
            }
        }
        Rows::Features(features) => {
            let columns = feature_columns(&features);
            if let Output::Csv(w) = &mut out {
                w.write_record(&columns)?;
            }
            for f in &features {
                out.feature(f, &columns)?;
            }
        }
    }
    out.finish()
}

/// The file being written: CSV records, or GeoJSON features after the collection's head.
enum Output<W: Write> {
    Csv(Box<csv::Writer<W>>),
    /// `out`: one feature at a time, written and then passed on.
    GeoJson {
        w: W,
        first: bool,
        out: Vec<u8>,
    },
}

impl<W: Write> Output<W> {
    fn start(format: Download, rows: &Rows, header: Header, w: W) -> std::io::Result<Self> {
        match format {
            Download::Csv => {
                let mut w = csv::WriterBuilder::new()
                    .terminator(csv::Terminator::CRLF)
                    .from_writer(w);
                if let Rows::Events { from, .. } = rows {
                    let extra = ["region_id"].into_iter().chain(from.map(|_| "distance_km"));
                    w.write_record(ACLED_COLUMNS.into_iter().chain(extra))?;
                }
                Ok(Output::Csv(Box::new(w)))
            }
            Download::GeoJson => {
                let mut w = w;
                let mut head = Map::new();
                head.insert("type".into(), "FeatureCollection".into());
                head.insert("numberMatched".into(), header.matched.into());
                head.insert("numberReturned".into(), rows.len().into());
                head.extend(header.members);
                let mut out = Vec::with_capacity(4096);
                json_text::write_open_object(&mut out, &head);
                out.extend_from_slice(b",\"features\":[\n");
                w.write_all(&out)?;
                Ok(Output::GeoJson {
                    w,
                    first: true,
                    out,
                })
            }
        }
    }

    fn event(&mut self, atlas: &Atlas, hit: Hit, with_distance: bool) -> std::io::Result<()> {
        match self {
            Output::Csv(w) => Ok(w.write_record(acled_row(atlas, hit, with_distance))?),
            Output::GeoJson { w, first, out } => {
                if !std::mem::take(first) {
                    w.write_all(b",\n")?;
                }
                out.clear();
                features::write_event(out, atlas, hit);
                w.write_all(out)
            }
        }
    }

    fn feature(&mut self, f: &Value, columns: &[String]) -> std::io::Result<()> {
        match self {
            Output::Csv(w) => Ok(w.write_record(columns.iter().map(|c| feature_cell(f, c)))?),
            Output::GeoJson { w, first, .. } => {
                if !std::mem::take(first) {
                    w.write_all(b",\n")?;
                }
                Ok(serde_json::to_writer(w, f)?)
            }
        }
    }

    fn finish(self) -> std::io::Result<()> {
        match self {
            Output::Csv(mut w) => w.flush(),
            Output::GeoJson { mut w, .. } => {
                w.write_all(b"\n]}\n")?;
                w.flush()
            }
        }
    }
}

/// An event as a record of [`ACLED_COLUMNS`] (columns the atlas does not keep are
/// empty), then the region it lies in and, for a radius search, its distance.
pub(super) fn acled_row(atlas: &Atlas, hit: Hit, with_distance: bool) -> Vec<String> {
    let e = atlas.event(hit.event);
    let mut row = Vec::with_capacity(ACLED_COLUMNS.len() + 2);
    for column in ACLED_COLUMNS {
        let value = fields::by_column(column)
            .and_then(|f| f.get)
            .map(|get| get(e));
        row.push(value.map(FieldValue::to_text).unwrap_or_default());
    }
    let region = atlas.region_of_event(hit.event).map(|r| r.id.as_str());
    row.push(region.unwrap_or("").to_string());
    if with_distance {
        row.push(
            hit.distance_km
                .map(|d| format!("{d:.3}"))
                .unwrap_or_default(),
        );
    }
    row
}

/// The CSV columns of features that are not events: every property in order of first
/// appearance, then the point's `longitude`/`latitude` or any other geometry as `wkt`.
fn feature_columns(features: &[Value]) -> Vec<String> {
    let mut columns: Vec<String> = Vec::new();
    for f in features {
        if let Some(props) = f["properties"].as_object() {
            for k in props.keys() {
                if !columns.contains(k) {
                    columns.push(k.clone());
                }
            }
        }
    }
    let points = features.iter().all(|f| f["geometry"]["type"] == "Point");
    if points {
        columns.extend(["longitude".into(), "latitude".into()]);
    } else {
        columns.push("wkt".into());
    }
    columns
}

fn feature_cell(f: &Value, column: &str) -> String {
    let geometry = &f["geometry"];
    match column {
        "longitude" | "latitude" if geometry["type"] == "Point" => {
            let i = usize::from(column == "latitude");
            geometry["coordinates"][i].to_string()
        }
        "wkt" => serde_json::from_value::<geojson::Geometry>(geometry.clone())
            .ok()
            .and_then(|g| geo::Geometry::<f64>::try_from(g).ok())
            .map(|g| wkt_of(&g))
            .unwrap_or_default(),
        _ => match &f["properties"][column] {
            Value::Null => String::new(),
            Value::String(s) => s.clone(),
            other => other.to_string(),
        },
    }
}

/// Well-known text of polygons and multipolygons (the only non-point features served).
fn wkt_of(g: &geo::Geometry<f64>) -> String {
    let ring = |r: &geo::LineString<f64>| {
        let points: Vec<String> = r.points().map(|p| format!("{} {}", p.x(), p.y())).collect();
        format!("({})", points.join(", "))
    };
    let polygon = |p: &geo::Polygon<f64>| {
        let rings: Vec<String> = std::iter::once(p.exterior())
            .chain(p.interiors())
            .map(ring)
            .collect();
        format!("({})", rings.join(", "))
    };
    match g {
        geo::Geometry::Polygon(p) => format!("POLYGON {}", polygon(p)),
        geo::Geometry::MultiPolygon(mp) => {
            let parts: Vec<String> = mp.0.iter().map(polygon).collect();
            format!("MULTIPOLYGON ({})", parts.join(", "))
        }
        _ => String::new(),
    }
}
