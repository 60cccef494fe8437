//! The event store as a GeoPackage 1.3 (SQLite): an `events` feature table (point
//! geometry in EPSG:4326, ACLED column names) with the GeoPackage R-tree index, plus two
//! attribute tables of our own: `sahel_changes` (the numbered change log) and
//! `sahel_deleted` (ids hidden from the files). QGIS and GDAL open the file as it is.
//!
//! Durability: WAL journal with `synchronous=FULL`, so a commit has reached the disk
//! when [`EventStore::commit`] returns.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use chrono::{Datelike, NaiveDate};
use rusqlite::functions::FunctionFlags;
use rusqlite::{Connection, OptionalExtension, Transaction, params};

use super::{
    BadRow, Change, ChangeRecord, EventStore, Followed, ImportMark, Op, StoreError, Stored,
};
use crate::model::words::Interner;
use crate::model::{Event, LonLat};
use std::sync::Arc;

/// `PRAGMA application_id` of a GeoPackage ("GPKG") and the 1.3 `user_version`.
const GPKG_APPLICATION_ID: i32 = 0x4750_4B47;
const GPKG_VERSION: i32 = 10300;
const WGS84: i32 = 4326;

pub(crate) const SCHEMA: &str = r#"
CREATE TABLE gpkg_spatial_ref_sys (
  srs_name TEXT NOT NULL, srs_id INTEGER PRIMARY KEY, organization TEXT NOT NULL,
  organization_coordsys_id INTEGER NOT NULL, definition TEXT NOT NULL, description TEXT);
INSERT INTO gpkg_spatial_ref_sys VALUES
  ('Undefined cartesian SRS', -1, 'NONE', -1, 'undefined', 'undefined cartesian coordinate reference system'),
  ('Undefined geographic SRS', 0, 'NONE', 0, 'undefined', 'undefined geographic coordinate reference system'),
  ('WGS 84 geodetic', 4326, 'EPSG', 4326,
   'GEOGCS["WGS 84",DATUM["WGS_1984",SPHEROID["WGS 84",6378137,298.257223563,AUTHORITY["EPSG","7030"]],AUTHORITY["EPSG","6326"]],PRIMEM["Greenwich",0,AUTHORITY["EPSG","8901"]],UNIT["degree",0.0174532925199433,AUTHORITY["EPSG","9122"]],AXIS["Latitude",NORTH],AXIS["Longitude",EAST],AUTHORITY["EPSG","4326"]]',
   'longitude/latitude coordinates in decimal degrees on the WGS 84 spheroid');
CREATE TABLE gpkg_contents (
  table_name TEXT NOT NULL PRIMARY KEY, data_type TEXT NOT NULL, identifier TEXT UNIQUE,
  description TEXT DEFAULT '',
  last_change DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
  min_x DOUBLE, min_y DOUBLE, max_x DOUBLE, max_y DOUBLE, srs_id INTEGER,
  CONSTRAINT fk_gc_r_srs_id FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys(srs_id));
CREATE TABLE gpkg_geometry_columns (
  table_name TEXT NOT NULL, column_name TEXT NOT NULL, geometry_type_name TEXT NOT NULL,
  srs_id INTEGER NOT NULL, z TINYINT NOT NULL, m TINYINT NOT NULL,
  CONSTRAINT pk_geom_cols PRIMARY KEY (table_name, column_name),
  CONSTRAINT uk_gc_table_name UNIQUE (table_name),
  CONSTRAINT fk_gc_tn FOREIGN KEY (table_name) REFERENCES gpkg_contents(table_name),
  CONSTRAINT fk_gc_srs FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys (srs_id));
CREATE TABLE gpkg_extensions (
  table_name TEXT, column_name TEXT, extension_name TEXT NOT NULL, definition TEXT NOT NULL,
  scope TEXT NOT NULL,
  CONSTRAINT ge_tce UNIQUE (table_name, column_name, extension_name));

CREATE TABLE events (
  fid INTEGER PRIMARY KEY AUTOINCREMENT,
  geom POINT,
  event_id_cnty TEXT NOT NULL UNIQUE,
  event_date DATE NOT NULL,
  year INTEGER NOT NULL,
  event_type TEXT NOT NULL,
  sub_event_type TEXT,
  actor1 TEXT,
  actor2 TEXT,
  admin1 TEXT,
  admin2 TEXT,
  location TEXT,
  latitude DOUBLE NOT NULL,
  longitude DOUBLE NOT NULL,
  geo_precision INTEGER,
  fatalities INTEGER NOT NULL,
  source TEXT,
  notes TEXT);
INSERT INTO gpkg_contents (table_name, data_type, identifier, description, srs_id)
  VALUES ('events', 'features', 'events', 'Conflict events written to Sahel Atlas', 4326);
INSERT INTO gpkg_geometry_columns VALUES ('events', 'geom', 'POINT', 4326, 0, 0);

CREATE VIRTUAL TABLE rtree_events_geom USING rtree(id, minx, maxx, miny, maxy);
INSERT INTO gpkg_extensions VALUES ('events', 'geom', 'gpkg_rtree_index',
  'http://www.geopackage.org/spec120/#extension_rtree', 'write-only');
CREATE TRIGGER rtree_events_geom_insert AFTER INSERT ON events
  WHEN (new.geom NOT NULL AND NOT ST_IsEmpty(NEW.geom))
BEGIN
  INSERT OR REPLACE INTO rtree_events_geom VALUES (NEW.fid,
    ST_MinX(NEW.geom), ST_MaxX(NEW.geom), ST_MinY(NEW.geom), ST_MaxY(NEW.geom));
END;
-- The update triggers of GeoPackage 1.4 (update6/update7 replace 1.3's update1, whose
-- INSERT OR REPLACE fails under an UPSERT); same meaning, same names as GDAL writes.
CREATE TRIGGER rtree_events_geom_update2 AFTER UPDATE OF geom ON events
  WHEN OLD.fid = NEW.fid AND (NEW.geom ISNULL OR ST_IsEmpty(NEW.geom))
BEGIN
  DELETE FROM rtree_events_geom WHERE id = OLD.fid;
END;
CREATE TRIGGER rtree_events_geom_update4 AFTER UPDATE ON events
  WHEN OLD.fid != NEW.fid AND (NEW.geom ISNULL OR ST_IsEmpty(NEW.geom))
BEGIN
  DELETE FROM rtree_events_geom WHERE id IN (OLD.fid, NEW.fid);
END;
CREATE TRIGGER rtree_events_geom_update5 AFTER UPDATE ON events
  WHEN OLD.fid != NEW.fid AND (NEW.geom NOTNULL AND NOT ST_IsEmpty(NEW.geom))
BEGIN
  DELETE FROM rtree_events_geom WHERE id = OLD.fid;
  INSERT OR REPLACE INTO rtree_events_geom VALUES (NEW.fid,
    ST_MinX(NEW.geom), ST_MaxX(NEW.geom), ST_MinY(NEW.geom), ST_MaxY(NEW.geom));
END;
CREATE TRIGGER rtree_events_geom_update6 AFTER UPDATE OF geom ON events
  WHEN OLD.fid = NEW.fid AND (NEW.geom NOTNULL AND NOT ST_IsEmpty(NEW.geom))
    AND (OLD.geom NOTNULL AND NOT ST_IsEmpty(OLD.geom))
BEGIN
  UPDATE rtree_events_geom SET minx = ST_MinX(NEW.geom), maxx = ST_MaxX(NEW.geom),
    miny = ST_MinY(NEW.geom), maxy = ST_MaxY(NEW.geom) WHERE id = NEW.fid;
END;
CREATE TRIGGER rtree_events_geom_update7 AFTER UPDATE OF geom ON events
  WHEN OLD.fid = NEW.fid AND (NEW.geom NOTNULL AND NOT ST_IsEmpty(NEW.geom))
    AND (OLD.geom ISNULL OR ST_IsEmpty(OLD.geom))
BEGIN
  INSERT INTO rtree_events_geom VALUES (NEW.fid,
    ST_MinX(NEW.geom), ST_MaxX(NEW.geom), ST_MinY(NEW.geom), ST_MaxY(NEW.geom));
END;
CREATE TRIGGER rtree_events_geom_delete AFTER DELETE ON events
  WHEN old.geom NOT NULL
BEGIN
  DELETE FROM rtree_events_geom WHERE id = OLD.fid;
END;

CREATE TABLE sahel_changes (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  op TEXT NOT NULL CHECK (op IN ('upsert', 'delete')),
  event_id TEXT NOT NULL,
  at DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')));
CREATE TABLE sahel_deleted (event_id TEXT PRIMARY KEY, seq INTEGER NOT NULL);
INSERT INTO gpkg_contents (table_name, data_type, identifier, description) VALUES
  ('sahel_changes', 'attributes', 'sahel_changes', 'Every change written, numbered'),
  ('sahel_deleted', 'attributes', 'sahel_deleted', 'Event ids deleted (hidden from the data files)');
"#;

/// Added after the first stores were made: created in those when they are opened.
const IMPORTS: &str = r#"
CREATE TABLE IF NOT EXISTS sahel_imports (
  file TEXT PRIMARY KEY,
  bytes INTEGER NOT NULL,
  rows INTEGER NOT NULL,
  done INTEGER NOT NULL,
  at DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')));
INSERT OR IGNORE INTO gpkg_contents (table_name, data_type, identifier, description) VALUES
  ('sahel_imports', 'attributes', 'sahel_imports', 'Files imported, and how far');
"#;

/// The ACLED columns of `events`, in insert order (after `geom`).
pub(crate) const COLUMNS: &str = "event_id_cnty, event_date, year, event_type, sub_event_type, actor1, \
    actor2, admin1, admin2, location, latitude, longitude, geo_precision, fatalities, source, notes";

/// The embedded store: a GeoPackage file (SQLite) with an `events` point layer and the change log.
pub struct GeoPackageStore {
    path: PathBuf,
    conn: Mutex<Connection>,
}

impl GeoPackageStore {
    /// Opens the store at `path`, creating it (and its directory) when missing.
    ///
    /// # Errors
    /// A file that is not a GeoPackage made by us, or that SQLite cannot open.
    pub fn open(path: &Path) -> Result<GeoPackageStore, StoreError> {
        let name = path.display().to_string();
        let sqlite = |source| StoreError::Sqlite {
            path: name.clone(),
            source,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::Directory {
                path: dir.display().to_string(),
                source,
            })?;
        }
        let conn = Connection::open(path).map_err(sqlite)?;
        register_geometry_functions(&conn).map_err(sqlite)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(sqlite)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(sqlite)?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(sqlite)?;
        let store = GeoPackageStore {
            path: path.to_path_buf(),
            conn: Mutex::new(conn),
        };
        store.initialise()?;
        Ok(store)
    }

    fn sqlite(&self, source: rusqlite::Error) -> StoreError {
        StoreError::Sqlite {
            path: self.path.display().to_string(),
            source,
        }
    }

    fn invalid(&self, problem: impl Into<String>) -> StoreError {
        StoreError::Invalid {
            path: self.path.display().to_string(),
            problem: problem.into(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave a transaction half-applied (it
        // rolls back when dropped), so the connection stays usable.
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Creates the schema in an empty file; checks an existing one is ours.
    fn initialise(&self) -> Result<(), StoreError> {
        let conn = self.lock();
        let tables: i64 = conn
            .query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))
            .map_err(|e| self.sqlite(e))?;
        if tables == 0 {
            conn.pragma_update(None, "application_id", GPKG_APPLICATION_ID)
                .map_err(|e| self.sqlite(e))?;
            conn.pragma_update(None, "user_version", GPKG_VERSION)
                .map_err(|e| self.sqlite(e))?;
            conn.execute_batch(SCHEMA).map_err(|e| self.sqlite(e))?;
            conn.execute_batch(IMPORTS).map_err(|e| self.sqlite(e))?;
            // GDAL reads application_id from the file's header, not through SQLite: move
            // the new first page out of the WAL now.
            return conn
                .execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")
                .map_err(|e| self.sqlite(e));
        }
        let app: i32 = conn
            .pragma_query_value(None, "application_id", |r| r.get(0))
            .map_err(|e| self.sqlite(e))?;
        let ours: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' \
                 AND name IN ('events', 'sahel_changes', 'sahel_deleted')",
                [],
                |r| r.get(0),
            )
            .map_err(|e| self.sqlite(e))?;
        if app != GPKG_APPLICATION_ID || ours != 3 {
            return Err(self.invalid(
                "not a Sahel Atlas GeoPackage (needs the events, sahel_changes and sahel_deleted tables); \
                 move it away or pass another --store",
            ));
        }
        conn.execute_batch(IMPORTS).map_err(|e| self.sqlite(e))
    }
}

impl EventStore for GeoPackageStore {
    fn commit_marked(
        &self,
        changes: &[Change],
        mark: Option<&ImportMark>,
    ) -> Result<Vec<ChangeRecord>, StoreError> {
        let mut conn = self.lock();
        let tx = conn.transaction().map_err(|e| self.sqlite(e))?;
        let records = apply(&tx, changes).map_err(|e| self.sqlite(e))?;
        if let Some(m) = mark {
            tx.execute(
                "INSERT OR REPLACE INTO sahel_imports (file, bytes, rows, done) VALUES (?1, ?2, ?3, ?4)",
                params![m.file, m.bytes as i64, m.rows as i64, m.done],
            )
            .map_err(|e| self.sqlite(e))?;
        }
        // With synchronous=FULL in WAL mode the commit returns after the log is synced.
        tx.commit().map_err(|e| self.sqlite(e))?;
        Ok(records)
    }

    fn load(&self) -> Result<Stored, StoreError> {
        let conn = self.lock();
        let mut interner = Interner::default();
        let mut stmt = conn
            .prepare(&format!("SELECT fid, {COLUMNS} FROM events ORDER BY fid"))
            .map_err(|e| self.sqlite(e))?;
        let mut rows = stmt.query([]).map_err(|e| self.sqlite(e))?;
        let mut events = Vec::new();
        while let Some(row) = rows.next().map_err(|e| self.sqlite(e))? {
            events.push(
                event_of_row(row, &mut interner)
                    .map_err(|problem| self.invalid(format!("events: {problem}")))?,
            );
        }
        let mut stmt = conn
            .prepare("SELECT event_id FROM sahel_deleted ORDER BY seq")
            .map_err(|e| self.sqlite(e))?;
        let deleted = stmt
            .query_map([], |r| r.get::<_, String>(0))
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .map_err(|e| self.sqlite(e))?
            .into_iter()
            .map(Arc::from)
            .collect();
        drop(rows);
        Ok(Stored {
            events,
            deleted,
            sequence: last_sequence(&conn).map_err(|e| self.sqlite(e))?,
        })
    }

    fn import_mark(&self, file: &str) -> Result<Option<ImportMark>, StoreError> {
        self.lock()
            .query_row(
                "SELECT bytes, rows, done FROM sahel_imports WHERE file = ?1",
                [file],
                |r| {
                    Ok(ImportMark {
                        file: file.to_string(),
                        bytes: r.get::<_, i64>(0)? as u64,
                        rows: r.get::<_, i64>(1)? as u64,
                        done: r.get(2)?,
                    })
                },
            )
            .optional()
            .map_err(|e| self.sqlite(e))
    }

    fn changes_after(&self, since: u64, limit: usize) -> Result<Followed, StoreError> {
        let conn = self.lock();
        let mut interner = Interner::default();
        // The event columns first, where event_of_row reads them.
        let mut stmt = conn
            .prepare(&format!(
                "SELECT e.fid, {COLUMNS}, c.seq, c.event_id FROM sahel_changes c
                 LEFT JOIN events e ON e.event_id_cnty = c.event_id
                 WHERE c.seq > ?1 ORDER BY c.seq LIMIT ?2"
            ))
            .map_err(|e| self.sqlite(e))?;
        let mut rows = stmt
            .query(params![since as i64, limit.min(i64::MAX as usize) as i64])
            .map_err(|e| self.sqlite(e))?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(|e| self.sqlite(e))? {
            let seq = row.get::<_, i64>(17).map_err(|e| self.sqlite(e))? as u64;
            let id: Arc<str> = row.get::<_, String>(18).map_err(|e| self.sqlite(e))?.into();
            let stored = row.get::<_, Option<i64>>(0).map_err(|e| self.sqlite(e))?;
            let event = match stored {
                Some(_) => Some(
                    event_of_row(row, &mut interner)
                        .map_err(|problem| self.invalid(format!("events: {problem}")))?,
                ),
                None => None,
            };
            out.push((seq, id, event));
        }
        Ok(Followed::from_rows(since, out))
    }

    fn name(&self) -> String {
        self.path.display().to_string()
    }

    fn changes_since(&self, since: u64, limit: usize) -> Result<Vec<ChangeRecord>, StoreError> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare(
                "SELECT seq, op, event_id FROM sahel_changes WHERE seq > ?1 ORDER BY seq LIMIT ?2",
            )
            .map_err(|e| self.sqlite(e))?;
        let rows = stmt
            .query_map(
                params![since as i64, limit.min(i64::MAX as usize) as i64],
                |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                    ))
                },
            )
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .map_err(|e| self.sqlite(e))?;
        rows.into_iter()
            .map(|(seq, op, id)| {
                let op = Op::by_name(&op).ok_or_else(|| {
                    self.invalid(format!("sahel_changes {seq}: unknown op {op:?}"))
                })?;
                Ok(ChangeRecord {
                    seq: seq as u64,
                    op,
                    id,
                })
            })
            .collect()
    }

    fn sequence(&self) -> Result<u64, StoreError> {
        last_sequence(&self.lock()).map_err(|e| self.sqlite(e))
    }
}

fn last_sequence(conn: &Connection) -> rusqlite::Result<u64> {
    conn.query_row("SELECT coalesce(max(seq), 0) FROM sahel_changes", [], |r| {
        r.get::<_, i64>(0)
    })
    .map(|s| s as u64)
}

/// Applies `changes` inside `tx` and logs each one.
fn apply(tx: &Transaction, changes: &[Change]) -> rusqlite::Result<Vec<ChangeRecord>> {
    let mut upsert = tx.prepare_cached(&format!(
        "INSERT INTO events (geom, {COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)
         ON CONFLICT (event_id_cnty) DO UPDATE SET geom = excluded.geom,
           event_date = excluded.event_date, year = excluded.year, event_type = excluded.event_type,
           sub_event_type = excluded.sub_event_type, actor1 = excluded.actor1,
           actor2 = excluded.actor2, admin1 = excluded.admin1, admin2 = excluded.admin2,
           location = excluded.location, latitude = excluded.latitude,
           longitude = excluded.longitude, geo_precision = excluded.geo_precision,
           fatalities = excluded.fatalities, source = excluded.source, notes = excluded.notes"
    ))?;
    let mut log = tx.prepare_cached("INSERT INTO sahel_changes (op, event_id) VALUES (?1, ?2)")?;
    let mut records = Vec::with_capacity(changes.len());
    let mut bounds: Option<[f64; 4]> = None;
    for change in changes {
        let id: &str = change.id();
        match change {
            Change::Upsert(e) => {
                upsert.execute(params![
                    point_blob(e.pos),
                    id,
                    e.date.format("%Y-%m-%d").to_string(),
                    e.date.year(),
                    &*e.event_type,
                    &*e.sub_event_type,
                    &*e.actor1,
                    &*e.actor2,
                    &*e.admin1,
                    &*e.admin2,
                    &*e.location,
                    e.pos.lat,
                    e.pos.lon,
                    e.geo_precision,
                    e.fatalities,
                    &*e.source,
                    &*e.notes,
                ])?;
                tx.execute("DELETE FROM sahel_deleted WHERE event_id = ?1", [id])?;
                let b = bounds.get_or_insert([e.pos.lon, e.pos.lat, e.pos.lon, e.pos.lat]);
                *b = [
                    b[0].min(e.pos.lon),
                    b[1].min(e.pos.lat),
                    b[2].max(e.pos.lon),
                    b[3].max(e.pos.lat),
                ];
            }
            Change::Delete(_) => {
                tx.execute("DELETE FROM events WHERE event_id_cnty = ?1", [id])?;
            }
        }
        log.execute(params![change.op().name(), id])?;
        let seq = tx.last_insert_rowid() as u64;
        if let Change::Delete(_) = change {
            tx.execute(
                "INSERT OR REPLACE INTO sahel_deleted (event_id, seq) VALUES (?1, ?2)",
                params![id, seq as i64],
            )?;
        }
        records.push(ChangeRecord {
            seq,
            op: change.op(),
            id: id.to_string(),
        });
    }
    touch_contents(tx, bounds)?;
    Ok(records)
}

/// Records the change time, and grows the layer's extent by `bounds` (GeoPackage readers
/// take it as the layer's extent; deletions do not shrink it, which the spec allows).
fn touch_contents(tx: &Transaction, bounds: Option<[f64; 4]>) -> rusqlite::Result<()> {
    let now = "strftime('%Y-%m-%dT%H:%M:%fZ','now')";
    match bounds {
        Some([x0, y0, x1, y1]) => tx.execute(
            &format!(
                "UPDATE gpkg_contents SET last_change = {now},
                   min_x = min(coalesce(min_x, ?1), ?1), min_y = min(coalesce(min_y, ?2), ?2),
                   max_x = max(coalesce(max_x, ?3), ?3), max_y = max(coalesce(max_y, ?4), ?4)
                 WHERE table_name = 'events'"
            ),
            params![x0, y0, x1, y1],
        )?,
        None => tx.execute(
            &format!("UPDATE gpkg_contents SET last_change = {now} WHERE table_name = 'events'"),
            [],
        )?,
    };
    Ok(())
}

/// One `events` row as an event; the error names the row and the column.
fn event_of_row(row: &rusqlite::Row, interner: &mut Interner) -> Result<Event, BadRow> {
    let fid: i64 = row.get(0).map_err(|e| BadRow::new("a row", "fid", e))?;
    let at = format!("fid {fid}");
    let text = |i: usize, name: &'static str| -> Result<String, BadRow> {
        row.get::<_, Option<String>>(i)
            .map(Option::unwrap_or_default)
            .map_err(|e| BadRow::new(&at, name, e))
    };
    let number =
        |i: usize, name: &'static str| row.get::<_, f64>(i).map_err(|e| BadRow::new(&at, name, e));
    let raw_date = text(2, "event_date")?;
    let date = NaiveDate::parse_from_str(&raw_date, "%Y-%m-%d")
        .map_err(|_| BadRow::new(&at, "event_date", format!("{raw_date:?} is not YYYY-MM-DD")))?;
    let (lat, lon) = (number(11, "latitude")?, number(12, "longitude")?);
    if !(-90.0..=90.0).contains(&lat) || !(-180.0..=180.0).contains(&lon) {
        let problem = format!("{lat}, {lon} out of range");
        return Err(BadRow::new(&at, "latitude/longitude", problem));
    }
    let geo_precision: Option<u8> = row
        .get(13)
        .map_err(|e| BadRow::new(&at, "geo_precision", e))?;
    let fatalities: u32 = row.get(14).map_err(|e| BadRow::new(&at, "fatalities", e))?;
    let mut intern = |i: usize, name| text(i, name).map(|s| interner.intern(&s));
    Ok(Event {
        id: text(1, "event_id_cnty")?.into(),
        date,
        event_type: intern(4, "event_type")?,
        sub_event_type: intern(5, "sub_event_type")?,
        actor1: intern(6, "actor1")?,
        actor2: intern(7, "actor2")?,
        admin1: intern(8, "admin1")?,
        admin2: intern(9, "admin2")?,
        location: intern(10, "location")?,
        geo_precision,
        fatalities,
        source: intern(15, "source")?,
        notes: text(16, "notes")?.into(),
        pos: LonLat::new(lon, lat),
    })
}

/// A GeoPackage geometry blob of a point: the `GP` header (version 0, little-endian, no
/// envelope, SRS 4326) followed by the WKB point.
pub fn point_blob(p: LonLat) -> Vec<u8> {
    let mut b = Vec::with_capacity(29);
    b.extend_from_slice(b"GP");
    b.push(0); // version 1.0
    b.push(0b0000_0001); // little-endian, no envelope, not empty
    b.extend_from_slice(&WGS84.to_le_bytes());
    b.push(1); // WKB little-endian
    b.extend_from_slice(&1u32.to_le_bytes()); // Point
    b.extend_from_slice(&p.lon.to_le_bytes());
    b.extend_from_slice(&p.lat.to_le_bytes());
    b
}

/// The envelope `[min_x, max_x, min_y, max_y]` of a GeoPackage geometry blob: from its
/// header when it carries one, else from a WKB point. `None` for empty or unreadable
/// geometry (the R-tree triggers then skip it).
fn blob_envelope(b: &[u8]) -> Option<[f64; 4]> {
    if b.len() < 8 || &b[..2] != b"GP" {
        return None;
    }
    let flags = b[3];
    if flags & 0b0001_0000 != 0 {
        return None;
    }
    let little = flags & 1 == 1;
    let f64_at = |at: usize, little: bool| -> Option<f64> {
        let bytes: [u8; 8] = b.get(at..at + 8)?.try_into().ok()?;
        Some(if little {
            f64::from_le_bytes(bytes)
        } else {
            f64::from_be_bytes(bytes)
        })
    };
    let envelope_len = match (flags >> 1) & 0b111 {
        0 => 0,
        1 => 32,
        2 | 3 => 48,
        4 => 64,
        _ => return None,
    };
    if envelope_len > 0 {
        return Some([
            f64_at(8, little)?,
            f64_at(16, little)?,
            f64_at(24, little)?,
            f64_at(32, little)?,
        ]);
    }
    // No envelope: only a point can be read without walking the geometry.
    let wkb = 8;
    let wkb_little = *b.get(wkb)? == 1;
    let kind_bytes: [u8; 4] = b.get(wkb + 1..wkb + 5)?.try_into().ok()?;
    let kind = if wkb_little {
        u32::from_le_bytes(kind_bytes)
    } else {
        u32::from_be_bytes(kind_bytes)
    };
    if kind % 1000 != 1 {
        return None;
    }
    let (x, y) = (f64_at(wkb + 5, wkb_little)?, f64_at(wkb + 13, wkb_little)?);
    (!x.is_nan() && !y.is_nan()).then_some([x, x, y, y])
}

/// The SQL functions GeoPackage's R-tree triggers call (GDAL registers the same ones).
fn register_geometry_functions(conn: &Connection) -> rusqlite::Result<()> {
    let flags = FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC;
    conn.create_scalar_function("ST_IsEmpty", 1, flags, |ctx| {
        let blob: Option<Vec<u8>> = ctx.get(0)?;
        Ok(blob.is_none_or(|b| blob_envelope(&b).is_none()))
    })?;
    for (name, i) in [
        ("ST_MinX", 0),
        ("ST_MaxX", 1),
        ("ST_MinY", 2),
        ("ST_MaxY", 3),
    ] {
        conn.create_scalar_function(name, 1, flags, move |ctx| {
            let blob: Option<Vec<u8>> = ctx.get(0)?;
            Ok(blob.and_then(|b| blob_envelope(&b)).map(|e| e[i]))
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(id: &str, lon: f64, lat: f64, fatalities: u32) -> Event {
        Event {
            id: id.into(),
            date: NaiveDate::from_ymd_opt(2019, 3, 23).unwrap(),
            event_type: "Violence against civilians".into(),
            sub_event_type: "Attack".into(),
            actor1: "Dan Na Ambassagou".into(),
            actor2: "Civilians (Mali)".into(),
            admin1: "Mopti".into(),
            admin2: "Bankass".into(),
            location: "Ogossagou".into(),
            geo_precision: Some(1),
            fatalities,
            source: "test".into(),
            notes: "a note, with \"quotes\"".into(),
            pos: LonLat::new(lon, lat),
        }
    }

    #[test]
    fn point_blobs_read_back() {
        let b = point_blob(LonLat::new(-3.9, 14.4));
        assert_eq!(b.len(), 29);
        assert_eq!(blob_envelope(&b), Some([-3.9, -3.9, 14.4, 14.4]));
        assert_eq!(blob_envelope(b"nope"), None);
    }

    #[test]
    fn commits_survive_reopening_and_deletions_hide_ids() {
        let dir = std::env::temp_dir().join(format!("sahel-gpkg-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let path = dir.join("store").join("atlas.gpkg");
        {
            let store = GeoPackageStore::open(&path).unwrap();
            let r = store
                .commit(&[
                    Change::Upsert(event("T1", -3.9, 14.4, 3)),
                    Change::Upsert(event("T2", -4.0, 14.5, 0)),
                ])
                .unwrap();
            assert_eq!(r.iter().map(|c| c.seq).collect::<Vec<_>>(), [1, 2]);
            store
                .commit(&[
                    Change::Upsert(event("T1", -3.8, 14.3, 7)),
                    Change::Delete("T2".into()),
                    Change::Delete("FILE-9".into()),
                ])
                .unwrap();
        }
        let store = GeoPackageStore::open(&path).unwrap();
        let stored = store.load().unwrap();
        assert_eq!(stored.sequence, 5);
        assert_eq!(stored.events.len(), 1);
        let e = &stored.events[0];
        assert_eq!(
            (&*e.id, e.fatalities, e.pos),
            ("T1", 7, LonLat::new(-3.8, 14.3))
        );
        assert_eq!(&*e.notes, "a note, with \"quotes\"");
        let deleted: Vec<&str> = stored.deleted.iter().map(|d| &**d).collect();
        assert_eq!(deleted, ["T2", "FILE-9"]);
        let since = store.changes_since(2, 10).unwrap();
        assert_eq!(
            since
                .iter()
                .map(|c| (c.seq, c.op, c.id.as_str()))
                .collect::<Vec<_>>(),
            [
                (3, Op::Upsert, "T1"),
                (4, Op::Delete, "T2"),
                (5, Op::Delete, "FILE-9")
            ]
        );
        // The R-tree index follows the table: one row, at the moved point.
        let conn = store.lock();
        let rtree: Vec<(f64, f64)> = conn
            .prepare("SELECT minx, miny FROM rtree_events_geom")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(rtree.len(), 1);
        assert!((rtree[0].0 + 3.8).abs() < 1e-5 && (rtree[0].1 - 14.3).abs() < 1e-5);
        let ok: String = conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(ok, "ok");
        drop(conn);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn refuses_a_file_that_is_not_ours() {
        let path = std::env::temp_dir().join(format!("sahel-other-{}.gpkg", std::process::id()));
        let _ = std::fs::remove_file(&path);
        Connection::open(&path)
            .unwrap()
            .execute_batch("CREATE TABLE t (x)")
            .unwrap();
        let err = GeoPackageStore::open(&path).err().unwrap().to_string();
        assert!(err.contains("not a Sahel Atlas GeoPackage"), "{err}");
        std::fs::remove_file(&path).unwrap();
    }
}
