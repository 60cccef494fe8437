//! `export tiles`: every non-empty tile of the atlas in a zoom range and box, as one file
//! to publish behind a CDN: a PMTiles v3 archive (clustered, deduplicated) or MBTiles 1.3
//! (SQLite, TMS rows). Tiles are encoded and gzipped on every core; one thread writes them
//! in PMTiles tile-id order.

use std::collections::BTreeMap;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::Instant;

use flate2::Compression as Level;
use rusqlite::{Connection, params};
use serde_json::json;

use crate::atlas::Atlas;
use crate::model::LonLat;
use crate::query::filter::EventFilter;
use crate::support::progress::Progress;
use crate::tiles::coord::{MAX_ZOOM, TileCoord, project};
use crate::tiles::{ATTRIBUTION, CENTER, TileError, TileSource, layers};

/// The archive formats `export tiles` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArchiveFormat {
    /// PMTiles v3: one file, read by range requests.
    Pmtiles,
    /// MBTiles 1.3: SQLite.
    Mbtiles,
}

/// What to export.
#[derive(Debug, Clone)]
pub struct ExportSpec {
    /// Which format to write.
    pub format: ArchiveFormat,
    /// The file to write (replaced once complete).
    pub out: PathBuf,
    /// The lowest zoom written.
    pub minzoom: u8,
    /// The highest zoom written.
    pub maxzoom: u8,
    /// `[west, south, east, north]` in degrees.
    pub bbox: [f64; 4],
}

/// What an export wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct Exported {
    /// Tile addresses in the zoom range and box.
    pub considered: u64,
    /// Non-empty tiles written.
    pub tiles: u64,
    /// Size of the archive.
    pub bytes: u64,
    /// Seconds it took.
    pub secs: f64,
}

/// Why an export failed.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The zoom range is not one.
    #[error("zooms {minzoom}-{maxzoom}: need minzoom <= maxzoom <= {max}")]
    Zooms {
        /// The lowest zoom asked for.
        minzoom: u8,
        /// The highest zoom asked for.
        maxzoom: u8,
        /// The highest zoom there is.
        max: u8,
    },
    /// The box (`[west, south, east, north]`) is not one within the Web Mercator world.
    #[error(
        "bbox {},{},{},{}: need west < east within ±180 and south < north within ±85",
        .0[0], .0[1], .0[2], .0[3]
    )]
    Bbox([f64; 4]),
    /// The file could not be written.
    #[error("cannot write {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// The archive's writer failed.
    #[error("cannot write {path}: {source}")]
    Archive {
        /// The archive being written.
        path: PathBuf,
        /// What failed.
        source: SinkError,
    },
    /// A tile could not be encoded.
    #[error(transparent)]
    Tile(#[from] TileError),
}

/// Why the archive file could not be written, by the library that failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SinkError {
    /// The file.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// The PMTiles writer.
    #[error(transparent)]
    Pmtiles(#[from] pmtiles::PmtError),
    /// SQLite, for MBTiles.
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
    /// The metadata's JSON.
    #[error(transparent)]
    Json(#[from] serde_json::Error),
}

/// Tiles handed to a worker at a time.
const BATCH: usize = 64;

/// Encodes every tile of `spec`'s zooms and box with `filter`, and writes the non-empty
/// ones to `spec.out` (replaced only once complete).
///
/// # Errors
/// A zoom range or box that is not one, a tile that cannot be encoded, or the file.
pub fn export_tiles(
    atlas: &Atlas,
    source: &TileSource,
    filter: &EventFilter,
    spec: &ExportSpec,
) -> Result<Exported, ExportError> {
    let started = Instant::now();
    let coords = tile_list(spec)?;
    let partial = spec.out.with_extension("partial");
    let archive_error = |source: SinkError| ExportError::Archive {
        path: spec.out.clone(),
        source,
    };
    let mut sink = Sink::create(spec, &partial).map_err(archive_error)?;
    let progress = Progress::new(
        &spec.out.display().to_string(),
        "tiles",
        coords.len() as u64,
        0,
    );
    let (tx, rx) = mpsc::sync_channel::<(usize, Result<Vec<Encoded>, TileError>)>(16);
    let next = AtomicUsize::new(0);
    let batches = coords.chunks(BATCH).collect::<Vec<_>>();
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    let written = std::thread::scope(|s| -> Result<u64, ExportError> {
        for _ in 0..workers {
            let (tx, next, batches) = (tx.clone(), &next, &batches);
            s.spawn(move || {
                let matcher = filter.compile(atlas);
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(batch) = batches.get(i) else { return };
                    let encoded = batch
                        .iter()
                        .map(|&t| Ok((t, source.render(atlas, t, &matcher)?.map(|b| gzip(&b)))))
                        .collect();
                    if tx.send((i, encoded)).is_err() {
                        return; // the writer stopped on an error
                    }
                }
            });
        }
        drop(tx);
        // Batches arrive in any order; they are written in order.
        let (mut pending, mut want, mut done, mut written) = (BTreeMap::new(), 0, 0u64, 0u64);
        for (i, batch) in rx {
            pending.insert(i, batch?);
            while let Some(batch) = pending.remove(&want) {
                for (t, bytes) in batch {
                    if let Some(b) = bytes {
                        sink.add(t, &b).map_err(archive_error)?;
                        written += 1;
                    }
                }
                done += BATCH as u64;
                progress.set(done.min(coords.len() as u64));
                want += 1;
            }
        }
        Ok(written)
    })?;
    sink.finish().map_err(archive_error)?;
    std::fs::rename(&partial, &spec.out).map_err(|source| ExportError::Io {
        path: spec.out.clone(),
        source,
    })?;
    progress.finish(started);
    Ok(Exported {
        considered: coords.len() as u64,
        tiles: written,
        bytes: std::fs::metadata(&spec.out).map_or(0, |m| m.len()),
        secs: started.elapsed().as_secs_f64(),
    })
}

type Encoded = (TileCoord, Option<Vec<u8>>);

fn gzip(bytes: &[u8]) -> Vec<u8> {
    crate::support::gzip::gzip(bytes, Level::default())
}

/// Every tile address of the zoom range over the box, in PMTiles tile-id order (by zoom,
/// then along the Hilbert curve), which is also the order the archive is read best in.
fn tile_list(spec: &ExportSpec) -> Result<Vec<TileCoord>, ExportError> {
    let [west, south, east, north] = spec.bbox;
    if spec.minzoom > spec.maxzoom || spec.maxzoom > MAX_ZOOM {
        return Err(ExportError::Zooms {
            minzoom: spec.minzoom,
            maxzoom: spec.maxzoom,
            max: MAX_ZOOM,
        });
    }
    let in_range = west < east
        && south < north
        && (-180.0..=180.0).contains(&west)
        && (-180.0..=180.0).contains(&east)
        && (-85.0..=85.0).contains(&south)
        && (-85.0..=85.0).contains(&north);
    if !in_range {
        return Err(ExportError::Bbox(spec.bbox));
    }
    let mut coords = Vec::new();
    for z in spec.minzoom..=spec.maxzoom {
        let nw = TileCoord::containing(project(LonLat::new(west, north)), z);
        let se = TileCoord::containing(project(LonLat::new(east, south)), z);
        for x in nw.x..=se.x {
            for y in nw.y..=se.y {
                coords.push(TileCoord { z, x, y });
            }
        }
    }
    coords.sort_by_cached_key(|t| tile_id(*t));
    Ok(coords)
}

fn tile_id(t: TileCoord) -> u64 {
    pmtiles::TileCoord::new(t.z, t.x, t.y).map_or(u64::MAX, |c| pmtiles::TileId::from(c).value())
}

/// The archive being written.
enum Sink {
    Pmtiles(Box<pmtiles::PmTilesStreamWriter<BufWriter<std::fs::File>>>),
    Mbtiles(Connection),
}

impl Sink {
    fn create(spec: &ExportSpec, path: &Path) -> Result<Sink, SinkError> {
        let _ = std::fs::remove_file(path);
        let [west, south, east, north] = spec.bbox;
        let center = [
            CENTER[0].clamp(west, east),
            CENTER[1].clamp(south, north),
            f64::from((CENTER[2] as u8).clamp(spec.minzoom, spec.maxzoom)),
        ];
        let layers = serde_json::to_value(layers::vector_layers(layers::LAYERS))?;
        let name = "Sahel Atlas";
        let description = "Regions, bases, coverage, towns and conflict events in Mali";
        match spec.format {
            ArchiveFormat::Pmtiles => {
                let file = std::fs::File::create(path)?;
                let metadata = json!({
                    "name": name, "description": description, "attribution": ATTRIBUTION,
                    "version": env!("CARGO_PKG_VERSION"), "type": "overlay",
                    "vector_layers": layers,
                });
                let writer = pmtiles::PmTilesWriter::new(pmtiles::TileType::Mvt)
                    .precompressed(pmtiles::Compression::Gzip)
                    .min_zoom(spec.minzoom)
                    .max_zoom(spec.maxzoom)
                    .bounds(west, south, east, north)
                    .center(center[0], center[1])
                    .center_zoom(center[2] as u8)
                    .metadata(metadata.to_string())
                    .create(BufWriter::new(file))?;
                Ok(Sink::Pmtiles(Box::new(writer)))
            }
            ArchiveFormat::Mbtiles => {
                let conn = Connection::open(path)?;
                conn.execute_batch(
                    "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;
                     CREATE TABLE metadata (name TEXT, value TEXT);
                     CREATE TABLE tiles (zoom_level INTEGER, tile_column INTEGER,
                       tile_row INTEGER, tile_data BLOB);
                     BEGIN;",
                )?;
                let json = json!({"vector_layers": layers}).to_string();
                let meta = [
                    ("name", name.to_string()),
                    ("description", description.to_string()),
                    ("attribution", ATTRIBUTION.to_string()),
                    ("version", env!("CARGO_PKG_VERSION").to_string()),
                    ("type", "overlay".to_string()),
                    ("format", "pbf".to_string()),
                    ("bounds", format!("{west},{south},{east},{north}")),
                    (
                        "center",
                        format!("{},{},{}", center[0], center[1], center[2]),
                    ),
                    ("minzoom", spec.minzoom.to_string()),
                    ("maxzoom", spec.maxzoom.to_string()),
                    ("json", json),
                ];
                for (k, v) in meta {
                    conn.execute("INSERT INTO metadata VALUES (?1, ?2)", params![k, v])?;
                }
                Ok(Sink::Mbtiles(conn))
            }
        }
    }

    fn add(&mut self, t: TileCoord, gzipped: &[u8]) -> Result<(), SinkError> {
        match self {
            Sink::Pmtiles(w) => {
                let c = pmtiles::TileCoord::new(t.z, t.x, t.y)?;
                Ok(w.add_tile(c, gzipped)?)
            }
            Sink::Mbtiles(conn) => {
                // MBTiles counts rows from the south (TMS).
                let row = (1u32 << t.z) - 1 - t.y;
                conn.prepare_cached("INSERT INTO tiles VALUES (?1, ?2, ?3, ?4)")
                    .and_then(|mut s| s.execute(params![t.z, t.x, row, gzipped]))
                    .map(drop)
                    .map_err(SinkError::from)
            }
        }
    }

    fn finish(self) -> Result<(), SinkError> {
        match self {
            Sink::Pmtiles(w) => Ok(w.finalize()?),
            Sink::Mbtiles(conn) => conn
                .execute_batch(
                    "COMMIT;
                     CREATE UNIQUE INDEX tile_index ON tiles (zoom_level, tile_column, tile_row);",
                )
                .map_err(SinkError::from),
        }
    }
}
