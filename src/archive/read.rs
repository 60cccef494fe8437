//! Tile archives served read-only beside the live tiles (`serve --archive NAME=FILE`):
//! PMTiles v3 and MBTiles 1.3, as `export tiles` writes them or as tippecanoe and
//! Protomaps do. Reads are synchronous, like every handler: PMTiles by positional reads
//! (the root directory parsed once, leaf directories on first use), MBTiles through a
//! few read-only SQLite connections.

use std::collections::HashMap;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use bytes::Bytes;
use rusqlite::{Connection, OpenFlags, OptionalExtension, params};
use serde_json::Value;

/// What an archive says about itself, for its TileJSON.
#[derive(Debug, Clone, PartialEq)]
pub struct ArchiveInfo {
    pub minzoom: u8,
    pub maxzoom: u8,
    /// `[west, south, east, north]`.
    pub bounds: [f64; 4],
    /// `[lon, lat, zoom]`.
    pub center: [f64; 3],
    /// The archive's JSON metadata (`vector_layers`, `attribution`, `name`, ...).
    pub metadata: serde_json::Map<String, Value>,
}

/// Why an archive cannot be opened or read.
#[derive(Debug, thiserror::Error)]
#[error("archive {}: {problem}", path.display())]
pub struct ArchiveError {
    /// The archive's file.
    pub path: PathBuf,
    /// What is wrong with it.
    pub problem: ArchiveProblem,
}

/// What is wrong with an archive, or what failed while reading it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ArchiveProblem {
    /// The file could not be read.
    #[error("{what}: {source}")]
    Io {
        /// What was being read.
        what: String,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// SQLite refused a query of an MBTiles file.
    #[error("{what}: {source}")]
    Sqlite {
        /// What was being read.
        what: &'static str,
        /// SQLite's error.
        source: rusqlite::Error,
    },
    /// The PMTiles header does not parse.
    #[error("header: {0}")]
    Header(pmtiles::PmtError),
    /// The file is not laid out as its format says.
    #[error("{0}")]
    Malformed(String),
    /// A valid file of a kind not served (another version, tile type or compression).
    #[error("{0}")]
    Unsupported(String),
    /// Reading one tile failed.
    #[error("tile {z}/{x}/{y}: {problem}")]
    Tile {
        /// Zoom.
        z: u8,
        /// Column, from the west.
        x: u32,
        /// Row, from the north.
        y: u32,
        /// What failed.
        problem: Box<ArchiveProblem>,
    },
}

use ArchiveProblem::{Malformed, Unsupported};

fn io(what: impl std::fmt::Display) -> impl FnOnce(std::io::Error) -> ArchiveProblem {
    move |source| ArchiveProblem::Io {
        what: what.to_string(),
        source,
    }
}

fn sqlite(what: &'static str) -> impl FnOnce(rusqlite::Error) -> ArchiveProblem {
    move |source| ArchiveProblem::Sqlite { what, source }
}

/// One open archive.
#[derive(Debug)]
pub struct Archive {
    /// The archive's file.
    pub path: PathBuf,
    /// What the archive says about itself.
    pub info: ArchiveInfo,
    /// The file's size and modification time when opened (its ETag as a whole).
    pub size: u64,
    /// Its modification time, seconds since 1970.
    pub modified: u64,
    reader: Reader,
}

#[derive(Debug)]
enum Reader {
    Pmtiles(Box<Pmtiles>),
    Mbtiles(Vec<Mutex<Connection>>),
}

impl Archive {
    /// Opens `path`, telling PMTiles from MBTiles by the file's first bytes.
    ///
    /// # Errors
    /// A file that is neither, or whose header, directory or metadata is malformed.
    pub fn open(path: &Path) -> Result<Archive, ArchiveError> {
        let fail = |problem: ArchiveProblem| ArchiveError {
            path: path.to_path_buf(),
            problem,
        };
        let file = File::open(path).map_err(|e| fail(io("open")(e)))?;
        let meta = file.metadata().map_err(|e| fail(io("metadata")(e)))?;
        let modified = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_secs());
        let mut magic = [0u8; 16];
        let n = file
            .read_at(&mut magic, 0)
            .map_err(|e| fail(io("first bytes")(e)))?;
        let (reader, info) = if magic[..n].starts_with(b"PMTiles") {
            let p = Pmtiles::open(file).map_err(fail)?;
            let info = p.info.clone();
            (Reader::Pmtiles(Box::new(p)), info)
        } else if magic[..n].starts_with(b"SQLite format 3\0") {
            let pool = mbtiles_pool(path).map_err(|e| fail(sqlite("open")(e)))?;
            let info = mbtiles_info(&pool[0].lock().expect("fresh")).map_err(fail)?;
            (Reader::Mbtiles(pool), info)
        } else {
            return Err(fail(Unsupported(
                "neither a PMTiles v3 nor an MBTiles (SQLite) file".into(),
            )));
        };
        Ok(Archive {
            path: path.to_path_buf(),
            info,
            size: meta.len(),
            modified,
            reader,
        })
    }

    /// `"pmtiles"` or `"mbtiles"`.
    pub fn format(&self) -> &'static str {
        match self.reader {
            Reader::Pmtiles(_) => "pmtiles",
            Reader::Mbtiles(_) => "mbtiles",
        }
    }

    /// `len` bytes of a PMTiles file from `offset` (what browsers read it by), clipped to
    /// the end of the file.
    ///
    /// # Errors
    /// An MBTiles archive, or the file cannot be read.
    pub fn bytes_at(&self, offset: u64, len: u64) -> Result<Bytes, ArchiveError> {
        let fail = |problem: ArchiveProblem| ArchiveError {
            path: self.path.clone(),
            problem,
        };
        let Reader::Pmtiles(p) = &self.reader else {
            return Err(fail(Unsupported(
                "only PMTiles archives are read by range".into(),
            )));
        };
        let len = len
            .min(self.size.saturating_sub(offset))
            .min(u64::from(MAX_READ));
        let mut buf = vec![0u8; len as usize];
        p.file
            .read_exact_at(&mut buf, offset)
            .map_err(|e| fail(io(format!("{len} bytes at {offset}"))(e)))?;
        Ok(Bytes::from(buf))
    }

    /// The tile's bytes as stored (gzipped MVT for our archives), `None` when the archive
    /// has no such tile.
    ///
    /// # Errors
    /// The file cannot be read or its directory is malformed.
    pub fn tile(&self, z: u8, x: u32, y: u32) -> Result<Option<Bytes>, ArchiveError> {
        let fail = |problem: ArchiveProblem| ArchiveError {
            path: self.path.clone(),
            problem: ArchiveProblem::Tile {
                z,
                x,
                y,
                problem: Box::new(problem),
            },
        };
        if z < self.info.minzoom || z > self.info.maxzoom {
            return Ok(None);
        }
        match &self.reader {
            Reader::Pmtiles(p) => p.tile(z, x, y).map_err(fail),
            Reader::Mbtiles(pool) => {
                // Any free connection; else wait for the one this tile hashes to.
                let conn = pool.iter().find_map(|c| c.try_lock().ok());
                let conn = match conn {
                    Some(c) => c,
                    None => pool[(x as usize ^ y as usize) % pool.len()]
                        .lock()
                        .map_err(|_| fail(Unsupported("a reader failed".into())))?,
                };
                // MBTiles counts rows from the south (TMS).
                let row = (1u32 << z) - 1 - y;
                conn.prepare_cached(
                    "SELECT tile_data FROM tiles \
                     WHERE zoom_level = ?1 AND tile_column = ?2 AND tile_row = ?3",
                )
                .and_then(|mut s| {
                    s.query_row(params![z, x, row], |r| r.get::<_, Vec<u8>>(0))
                        .optional()
                })
                .map(|t| t.map(Bytes::from))
                .map_err(|e| fail(sqlite("tiles table")(e)))
            }
        }
    }
}

/// Read-only connections, one per core.
fn mbtiles_pool(path: &Path) -> rusqlite::Result<Vec<Mutex<Connection>>> {
    let n = std::thread::available_parallelism().map_or(2, |n| n.get());
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    (0..n)
        .map(|_| Connection::open_with_flags(path, flags).map(Mutex::new))
        .collect()
}

/// The `metadata` table as [`ArchiveInfo`]; `json` holds `vector_layers`.
fn mbtiles_info(conn: &Connection) -> Result<ArchiveInfo, ArchiveProblem> {
    let rows: HashMap<String, String> = conn
        .prepare("SELECT name, value FROM metadata")
        .and_then(|mut s| {
            s.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<rusqlite::Result<_>>()
        })
        .map_err(sqlite("metadata table"))?;
    let numbers = |key: &str, n: usize| -> Result<Option<Vec<f64>>, ArchiveProblem> {
        let Some(text) = rows.get(key) else {
            return Ok(None);
        };
        let v: Vec<f64> = text
            .split(',')
            .filter_map(|p| p.trim().parse().ok())
            .collect();
        if v.len() == n {
            Ok(Some(v))
        } else {
            Err(Malformed(format!(
                "metadata {key} {text:?}: expected {n} numbers"
            )))
        }
    };
    let zoom = |key: &str, default: u8| -> Result<u8, ArchiveProblem> {
        rows.get(key).map_or(Ok(default), |t| {
            t.trim()
                .parse()
                .map_err(|_| Malformed(format!("metadata {key} {t:?}: not a zoom")))
        })
    };
    let (minzoom, maxzoom) = (zoom("minzoom", 0)?, zoom("maxzoom", 22)?);
    let bounds = numbers("bounds", 4)?.map_or([-180.0, -85.0511, 180.0, 85.0511], |b| {
        [b[0], b[1], b[2], b[3]]
    });
    let center = numbers("center", 3)?.map_or(
        [
            (bounds[0] + bounds[2]) / 2.0,
            (bounds[1] + bounds[3]) / 2.0,
            f64::from(minzoom),
        ],
        |c| [c[0], c[1], c[2]],
    );
    let mut metadata = match rows.get("json") {
        Some(text) => match serde_json::from_str(text) {
            Ok(Value::Object(m)) => m,
            _ => return Err(Malformed("metadata json: not a JSON object".into())),
        },
        None => serde_json::Map::new(),
    };
    for key in ["name", "description", "attribution", "version"] {
        if let Some(v) = rows.get(key) {
            metadata.insert(key.into(), Value::String(v.clone()));
        }
    }
    Ok(ArchiveInfo {
        minzoom,
        maxzoom,
        bounds,
        center,
        metadata,
    })
}

/// A PMTiles v3 archive: the header's sections, the root directory, and the leaf
/// directories read so far.
#[derive(Debug)]
struct Pmtiles {
    file: File,
    info: ArchiveInfo,
    leaf_offset: u64,
    data_offset: u64,
    /// Compression of directories and metadata (the header's code: 1 none, 2 gzip).
    compression: u8,
    root: Vec<Entry>,
    leaves: RwLock<HashMap<u64, Arc<Vec<Entry>>>>,
}

/// A directory entry: a run of tiles with the same content, or (run 0) a leaf directory.
#[derive(Debug, Clone, Copy)]
struct Entry {
    tile_id: u64,
    offset: u64,
    length: u32,
    run: u32,
}

/// Leaf directories kept; beyond, the cache starts over (a full pyramid to z14 has a few
/// hundred).
const LEAVES_KEPT: usize = 4096;
const HEADER_LEN: usize = 127;
/// No tile or directory is larger (a malformed entry must not allocate gigabytes).
const MAX_READ: u32 = 64 << 20;

impl Pmtiles {
    fn open(file: File) -> Result<Pmtiles, ArchiveProblem> {
        let mut head = [0u8; HEADER_LEN];
        file.read_exact_at(&mut head, 0).map_err(io("header"))?;
        let header = pmtiles::Header::try_from_bytes(Bytes::copy_from_slice(&head))
            .map_err(ArchiveProblem::Header)?;
        if header.spec_version() != 3 {
            return Err(Unsupported(format!(
                "PMTiles version {}: only 3 is read",
                header.spec_version()
            )));
        }
        if header.tile_type != pmtiles::TileType::Mvt {
            return Err(Unsupported(format!(
                "tile type {:?}: only MVT is served",
                header.tile_type
            )));
        }
        let u64_at = |i: usize| u64::from_le_bytes(head[i..i + 8].try_into().expect("8 bytes"));
        let section = |name: &str, at: usize| -> Result<Vec<u8>, ArchiveProblem> {
            let (offset, len) = (u64_at(at), u64_at(at + 8));
            let len = usize::try_from(len)
                .ok()
                .filter(|&l| l <= MAX_READ as usize)
                .ok_or_else(|| Malformed(format!("{name}: {len} bytes is too large")))?;
            let mut buf = vec![0u8; len];
            file.read_exact_at(&mut buf, offset)
                .map_err(io(format!("{name} at {offset}")))?;
            Ok(buf)
        };
        let compression = head[97];
        let root = section("root directory", 8)?;
        let root = parse_directory(&decompress(compression, root)?)
            .map_err(|e| Malformed(format!("root directory: {e}")))?;
        let metadata = decompress(compression, section("metadata", 24)?)?;
        let metadata = match serde_json::from_slice(&metadata) {
            Ok(Value::Object(m)) => m,
            _ if metadata.is_empty() => serde_json::Map::new(),
            _ => return Err(Malformed("metadata: not a JSON object".into())),
        };
        let info = ArchiveInfo {
            minzoom: header.min_zoom,
            maxzoom: header.max_zoom,
            bounds: [
                header.min_longitude,
                header.min_latitude,
                header.max_longitude,
                header.max_latitude,
            ],
            center: [
                header.center_longitude,
                header.center_latitude,
                f64::from(header.center_zoom),
            ],
            metadata,
        };
        Ok(Pmtiles {
            info,
            leaf_offset: u64_at(40),
            data_offset: u64_at(56),
            compression,
            root,
            leaves: RwLock::default(),
            file,
        })
    }

    fn tile(&self, z: u8, x: u32, y: u32) -> Result<Option<Bytes>, ArchiveProblem> {
        let Ok(coord) = pmtiles::TileCoord::new(z, x, y) else {
            return Ok(None);
        };
        let id = pmtiles::TileId::from(coord).value();
        let mut dir = None::<Arc<Vec<Entry>>>;
        // The spec allows leaves of leaves; four levels is far beyond any real archive.
        for _ in 0..4 {
            let entries = dir.as_deref().map_or(self.root.as_slice(), Vec::as_slice);
            let Some(e) = find(entries, id) else {
                return Ok(None);
            };
            if e.run > 0 {
                return self.read(self.data_offset, e).map(Some);
            }
            dir = Some(self.leaf(e)?);
        }
        Err(Malformed("leaf directories nest too deep".into()))
    }

    fn leaf(&self, e: Entry) -> Result<Arc<Vec<Entry>>, ArchiveProblem> {
        let at = self.leaf_offset.saturating_add(e.offset);
        if let Some(d) = self.leaves.read().expect("not poisoned").get(&at) {
            return Ok(d.clone());
        }
        let raw = self.read(self.leaf_offset, e)?;
        let entries = Arc::new(
            parse_directory(&decompress(self.compression, raw.to_vec())?)
                .map_err(|err| Malformed(format!("leaf directory at {at}: {err}")))?,
        );
        let mut leaves = self.leaves.write().expect("not poisoned");
        if leaves.len() >= LEAVES_KEPT {
            leaves.clear();
        }
        leaves.insert(at, entries.clone());
        Ok(entries)
    }

    /// The bytes of entry `e` in the section starting at `section`.
    fn read(&self, section: u64, e: Entry) -> Result<Bytes, ArchiveProblem> {
        let (offset, length) = (section.checked_add(e.offset), e.length);
        let offset = offset.filter(|_| length <= MAX_READ).ok_or_else(|| {
            Malformed(format!(
                "an entry of {length} bytes at {} is malformed",
                e.offset
            ))
        })?;
        let mut buf = vec![0u8; length as usize];
        self.file
            .read_exact_at(&mut buf, offset)
            .map_err(io(format!("{length} bytes at {offset}")))?;
        Ok(Bytes::from(buf))
    }
}

/// The entry covering tile `id`: the last entry at or before it, when its run reaches
/// `id` or it is a leaf directory.
fn find(entries: &[Entry], id: u64) -> Option<Entry> {
    let i = entries
        .partition_point(|e| e.tile_id <= id)
        .checked_sub(1)?;
    let e = entries[i];
    (e.run == 0 || id - e.tile_id < u64::from(e.run)).then_some(e)
}

/// Internal compression codes of the PMTiles header: 1 none, 2 gzip.
fn decompress(compression: u8, bytes: Vec<u8>) -> Result<Vec<u8>, ArchiveProblem> {
    match compression {
        0 | 1 => Ok(bytes),
        2 => {
            use std::io::Read;
            let mut out = Vec::with_capacity(bytes.len() * 3);
            flate2::read::GzDecoder::new(bytes.as_slice())
                .take(256 << 20)
                .read_to_end(&mut out)
                .map_err(io("gzip"))?;
            Ok(out)
        }
        c => Err(Unsupported(format!(
            "internal compression {c} is not supported (gzip or none)"
        ))),
    }
}

/// Why a serialised directory cannot be read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
enum DirectoryError {
    #[error("{n} entries in {bytes} bytes")]
    TooManyEntries { n: u64, bytes: usize },
    #[error("{0} overflows")]
    Overflow(&'static str),
    #[error("the first entry has no offset")]
    FirstOffset,
    #[error("directory ends early")]
    EndsEarly,
    #[error("a varint runs over 64 bits")]
    LongVarint,
}

/// A serialised directory: the entry count, then tile-id deltas, run lengths, lengths and
/// offsets, each a column of varints (an offset of 0 after the first means "right after
/// the previous entry").
fn parse_directory(mut buf: &[u8]) -> Result<Vec<Entry>, DirectoryError> {
    let n = varint(&mut buf)?;
    if n > buf.len() as u64 / 4 {
        return Err(DirectoryError::TooManyEntries {
            n,
            bytes: buf.len(),
        });
    }
    let mut entries = vec![
        Entry {
            tile_id: 0,
            offset: 0,
            length: 0,
            run: 0
        };
        n as usize
    ];
    let mut id = 0u64;
    for e in &mut entries {
        id = id
            .checked_add(varint(&mut buf)?)
            .ok_or(DirectoryError::Overflow("tile id"))?;
        e.tile_id = id;
    }
    for e in &mut entries {
        e.run =
            u32::try_from(varint(&mut buf)?).map_err(|_| DirectoryError::Overflow("run length"))?;
    }
    for e in &mut entries {
        e.length =
            u32::try_from(varint(&mut buf)?).map_err(|_| DirectoryError::Overflow("length"))?;
    }
    for i in 0..entries.len() {
        let v = varint(&mut buf)?;
        entries[i].offset = match (v, i) {
            (0, 1..) => entries[i - 1].offset + u64::from(entries[i - 1].length),
            (0, 0) => return Err(DirectoryError::FirstOffset),
            _ => v - 1,
        };
    }
    Ok(entries)
}

fn varint(buf: &mut &[u8]) -> Result<u64, DirectoryError> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let (&b, rest) = buf.split_first().ok_or(DirectoryError::EndsEarly)?;
        *buf = rest;
        v |= u64::from(b & 0x7f) << shift;
        if b < 0x80 {
            return Ok(v);
        }
    }
    Err(DirectoryError::LongVarint)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An archive of every tile z0-7 (21,845, too many for the root directory, so the
    /// writer adds leaf directories), each tile its own address except a stretch of equal
    /// ones the writer stores once, as runs.
    #[test]
    fn reads_every_tile_through_leaf_directories_and_runs() {
        let path = std::env::temp_dir().join(format!("leaves-{}.pmtiles", std::process::id()));
        let content = |z: u8, x: u32, y: u32| {
            if z == 7 && x < 16 {
                b"the same tile".to_vec()
            } else {
                format!("{z}/{x}/{y}").into_bytes()
            }
        };
        let mut coords = Vec::new();
        for z in 0..=7u8 {
            for x in 0..1u32 << z {
                for y in 0..1u32 << z {
                    coords.push((z, x, y));
                }
            }
        }
        let id = |&(z, x, y): &(u8, u32, u32)| {
            pmtiles::TileId::from(pmtiles::TileCoord::new(z, x, y).unwrap()).value()
        };
        coords.sort_by_key(id);
        let file = File::create(&path).unwrap();
        let mut w = pmtiles::PmTilesWriter::new(pmtiles::TileType::Mvt)
            .max_zoom(7)
            .create(file)
            .unwrap();
        for &(z, x, y) in &coords {
            let c = pmtiles::TileCoord::new(z, x, y).unwrap();
            w.add_tile(c, &content(z, x, y)).unwrap();
        }
        w.finalize().unwrap();

        let a = Archive::open(&path).unwrap();
        assert_eq!((a.info.minzoom, a.info.maxzoom), (0, 7));
        for &(z, x, y) in &coords {
            // The writer gzips what it is given.
            let got = a.tile(z, x, y).unwrap().unwrap();
            let got = decompress(2, got.to_vec()).unwrap();
            assert_eq!(got, content(z, x, y), "{z}/{x}/{y}");
        }
        assert_eq!(a.tile(8, 0, 0).unwrap(), None, "beyond the last zoom");
        let Reader::Pmtiles(p) = &a.reader else {
            panic!("read as PMTiles")
        };
        assert!(
            p.root.iter().any(|e| e.run == 0),
            "the root points to leaves"
        );
        let leaves = p.leaves.read().unwrap();
        assert!(!leaves.is_empty());
        let runs = leaves.values().flat_map(|d| d.iter()).filter(|e| e.run > 1);
        assert!(runs.count() > 0, "equal neighbours are stored as runs");
        drop(leaves);
        let _ = std::fs::remove_file(path);
    }

    #[test]
    fn malformed_directories_are_errors_not_panics() {
        assert!(parse_directory(&[]).is_err());
        assert!(
            parse_directory(&[5, 1]).is_err(),
            "five entries in one byte"
        );
        // One entry: tile 0, run 1, length 3, offset 0 means "after the previous": none.
        assert!(parse_directory(&[1, 0, 1, 3, 0]).is_err());
        assert!(
            parse_directory(&[0xff; 12]).is_err(),
            "a varint over 64 bits"
        );
        let one = parse_directory(&[1, 4, 2, 3, 8]).unwrap();
        assert_eq!((one[0].tile_id, one[0].run, one[0].length), (4, 2, 3));
        assert_eq!(one[0].offset, 7);
        assert_eq!(find(&one, 5).map(|e| e.tile_id), Some(4));
        assert!(find(&one, 6).is_none() && find(&one, 3).is_none());
    }
}
