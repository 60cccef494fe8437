//! The shared store: a PostgreSQL/PostGIS database that several replicas of the service
//! write to and follow.
//!
//! `events` holds the stored events (ACLED columns, a `geography(Point)` with a GiST
//! index, for QGIS and SQL users), `sahel_changes` numbers every change without gaps, and
//! `sahel_deleted` the ids hidden from the files. A commit takes an exclusive lock on
//! `sahel_changes`, so sequence numbers become visible in order: a replica that has read
//! up to N never later finds a smaller number committed. Each commit sends a `NOTIFY` with
//! its last number; replicas `LISTEN` and also poll, so a lost notice costs at most a poll
//! interval.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use chrono::{Datelike, NaiveDate};
use postgres::fallible_iterator::FallibleIterator;
use postgres::{Client, Config, GenericClient, IsolationLevel, NoTls, Row, Transaction};

use super::{
    BadRow, Change, ChangeRecord, EventStore, Followed, ImportMark, Op, StoreError, Stored,
};
use crate::model::words::Interner;
use crate::model::{Event, LonLat};

/// The channel commits notify on.
const CHANNEL: &str = "sahel_changes";

/// Serialises schema creation between replicas starting together (an arbitrary key).
const SCHEMA_LOCK: i64 = 0x5a48_454c_4154;

pub(crate) const SCHEMA: &str = r#"
CREATE EXTENSION IF NOT EXISTS postgis;
CREATE TABLE IF NOT EXISTS events (
  event_id_cnty text PRIMARY KEY,
  event_date date NOT NULL,
  year integer NOT NULL,
  event_type text NOT NULL,
  sub_event_type text,
  actor1 text,
  actor2 text,
  admin1 text,
  admin2 text,
  location text,
  latitude double precision NOT NULL CHECK (latitude BETWEEN -90 AND 90),
  longitude double precision NOT NULL CHECK (longitude BETWEEN -180 AND 180),
  geo_precision smallint,
  fatalities integer NOT NULL CHECK (fatalities >= 0),
  source text,
  notes text,
  geog geography(Point, 4326) NOT NULL,
  seq bigint NOT NULL);
CREATE INDEX IF NOT EXISTS events_geog ON events USING gist (geog);
CREATE TABLE IF NOT EXISTS sahel_changes (
  seq bigint PRIMARY KEY,
  op text NOT NULL CHECK (op IN ('upsert', 'delete')),
  event_id text NOT NULL,
  at timestamptz NOT NULL DEFAULT now());
CREATE TABLE IF NOT EXISTS sahel_deleted (event_id text PRIMARY KEY, seq bigint NOT NULL);
CREATE TABLE IF NOT EXISTS sahel_imports (
  file text PRIMARY KEY,
  bytes bigint NOT NULL,
  rows bigint NOT NULL,
  done boolean NOT NULL,
  at timestamptz NOT NULL DEFAULT now());
"#;

/// The event columns, in the order `event_of_row` reads them.
pub(crate) const COLUMNS: &str = "event_id_cnty, event_date, event_type, sub_event_type, actor1, actor2, \
    admin1, admin2, location, latitude, longitude, geo_precision, fatalities, source, notes";

pub struct PostgisStore {
    config: Config,
    /// The URL without its password.
    url: String,
    /// For reads and commits; reconnected after the server closed it.
    client: Mutex<Option<Client>>,
    /// Listens for other replicas' commits.
    listener: Mutex<Option<Client>>,
}

impl PostgisStore {
    /// Connects to the database at `url` and creates the tables when missing.
    ///
    /// # Errors
    /// A URL that does not parse, a server that cannot be reached, or a database without
    /// the PostGIS extension available.
    pub fn connect(url: &str) -> Result<PostgisStore, StoreError> {
        let shown = redact(url);
        let config = Config::from_str(url).map_err(|e| StoreError::Postgres {
            url: shown.clone(),
            problem: format!("not a PostgreSQL URL: {e}"),
        })?;
        let store = PostgisStore {
            config,
            url: shown,
            client: Mutex::new(None),
            listener: Mutex::new(None),
        };
        store.with_client(|c| {
            let mut tx = c.transaction()?;
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&SCHEMA_LOCK])?;
            tx.batch_execute(SCHEMA)?;
            tx.commit()
        })?;
        Ok(store)
    }

    fn error(&self, e: &postgres::Error) -> StoreError {
        let problem = match e.as_db_error() {
            Some(db) => format!("{}: {}", db.severity(), db.message()),
            None => e.to_string(),
        };
        StoreError::Postgres {
            url: self.url.clone(),
            problem,
        }
    }

    fn invalid(&self, problem: String) -> StoreError {
        StoreError::Postgres {
            url: self.url.clone(),
            problem,
        }
    }

    /// Runs `f` on the connection, opening it when there is none; a connection the
    /// server closed is dropped, so the next call opens a new one.
    fn with_client<T>(
        &self,
        f: impl FnOnce(&mut Client) -> Result<T, postgres::Error>,
    ) -> Result<T, StoreError> {
        let mut slot = lock(&self.client);
        let client = match &mut *slot {
            Some(c) if !c.is_closed() => c,
            slot => slot.insert(self.config.connect(NoTls).map_err(|e| self.error(&e))?),
        };
        let result = f(client);
        if client.is_closed() {
            *slot = None;
        }
        result.map_err(|e| self.error(&e))
    }

    /// Opens a transaction that sees one consistent state of every table.
    fn reading<T>(
        &self,
        f: impl FnOnce(&mut Transaction) -> Result<T, postgres::Error>,
    ) -> Result<T, StoreError> {
        self.with_client(|c| {
            let mut tx = c
                .build_transaction()
                .isolation_level(IsolationLevel::RepeatableRead)
                .read_only(true)
                .start()?;
            let out = f(&mut tx)?;
            tx.commit()?;
            Ok(out)
        })
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic inside cannot leave a transaction open: it rolls back when dropped.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// `url` with any password replaced by `***`, for logs and errors.
fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    match rest[..end].rsplit_once('@') {
        Some((user, host)) => match user.split_once(':') {
            Some((name, _)) => format!("{scheme}://{name}:***@{host}{}", &rest[end..]),
            None => url.to_string(),
        },
        None => url.to_string(),
    }
}

impl EventStore for PostgisStore {
    fn commit_marked(
        &self,
        changes: &[Change],
        mark: Option<&ImportMark>,
    ) -> Result<Vec<ChangeRecord>, StoreError> {
        self.with_client(|c| {
            let mut tx = c.transaction()?;
            let records = apply(&mut tx, changes)?;
            if let Some(m) = mark {
                tx.execute(
                    "INSERT INTO sahel_imports (file, bytes, rows, done) VALUES ($1, $2, $3, $4)
                     ON CONFLICT (file) DO UPDATE SET bytes = excluded.bytes,
                       rows = excluded.rows, done = excluded.done, at = now()",
                    &[&m.file, &(m.bytes as i64), &(m.rows as i64), &m.done],
                )?;
            }
            tx.commit()?;
            Ok(records)
        })
    }

    fn load(&self) -> Result<Stored, StoreError> {
        let rows = self.reading(|tx| {
            let mut interner = Interner::default();
            let mut events = Vec::new();
            let sql = format!("SELECT {COLUMNS} FROM events");
            let mut it = tx.query_raw(&sql, std::iter::empty::<i32>())?;
            while let Some(row) = it.next()? {
                events.push(event_of_row(&row, 0, &mut interner));
            }
            drop(it);
            let deleted: Vec<Arc<str>> = tx
                .query("SELECT event_id FROM sahel_deleted ORDER BY seq", &[])?
                .iter()
                .map(|r| Arc::from(r.get::<_, &str>(0)))
                .collect();
            let sequence = last_sequence(tx)?;
            Ok((events, deleted, sequence))
        })?;
        let (events, deleted, sequence) = rows;
        let events = events
            .into_iter()
            .collect::<Result<Vec<_>, _>>()
            .map_err(|p| self.invalid(format!("events: {p}")))?;
        Ok(Stored {
            events,
            deleted,
            sequence,
        })
    }

    fn import_mark(&self, file: &str) -> Result<Option<ImportMark>, StoreError> {
        let row = self.with_client(|c| {
            c.query_opt(
                "SELECT bytes, rows, done FROM sahel_imports WHERE file = $1",
                &[&file],
            )
        })?;
        Ok(row.map(|r| ImportMark {
            file: file.to_string(),
            bytes: r.get::<_, i64>(0) as u64,
            rows: r.get::<_, i64>(1) as u64,
            done: r.get(2),
        }))
    }

    fn changes_since(&self, since: u64, limit: usize) -> Result<Vec<ChangeRecord>, StoreError> {
        let rows = self.with_client(|c| {
            c.query(
                "SELECT seq, op, event_id FROM sahel_changes WHERE seq > $1 ORDER BY seq LIMIT $2",
                &[&(since as i64), &(limit.min(i64::MAX as usize) as i64)],
            )
        })?;
        rows.iter()
            .map(|r| {
                let (seq, op): (i64, &str) = (r.get(0), r.get(1));
                Ok(ChangeRecord {
                    seq: seq as u64,
                    op: Op::by_name(op).ok_or_else(|| {
                        self.invalid(format!("sahel_changes {seq}: unknown op {op:?}"))
                    })?,
                    id: r.get(2),
                })
            })
            .collect()
    }

    fn changes_after(&self, since: u64, limit: usize) -> Result<Followed, StoreError> {
        let rows = self.reading(|tx| {
            let mut interner = Interner::default();
            let sql = format!(
                "SELECT {COLUMNS}, c.seq, c.event_id, e.event_id_cnty IS NOT NULL
                 FROM sahel_changes c LEFT JOIN events e ON e.event_id_cnty = c.event_id
                 WHERE c.seq > $1 ORDER BY c.seq LIMIT $2"
            );
            let limit = limit.min(i64::MAX as usize) as i64;
            let rows = tx.query(&sql, &[&(since as i64), &limit])?;
            Ok(rows
                .iter()
                .map(|r| {
                    let seq = r.get::<_, i64>(15) as u64;
                    let id = Arc::from(r.get::<_, &str>(16));
                    let event = r
                        .get::<_, bool>(17)
                        .then(|| event_of_row(r, 0, &mut interner));
                    (seq, id, event)
                })
                .collect::<Vec<_>>())
        })?;
        let mut out = Vec::with_capacity(rows.len());
        for (seq, id, event) in rows {
            let event = event
                .transpose()
                .map_err(|p| self.invalid(format!("events: {p}")))?;
            out.push((seq, id, event));
        }
        Ok(Followed::from_rows(since, out))
    }

    fn sequence(&self) -> Result<u64, StoreError> {
        self.with_client(last_sequence)
    }

    fn shared(&self) -> bool {
        true
    }

    fn wait_for_changes(&self, timeout: Duration) -> Result<(), StoreError> {
        let mut slot = lock(&self.listener);
        let listener = match &mut *slot {
            Some(c) if !c.is_closed() => c,
            slot => {
                let mut c = self.config.connect(NoTls).map_err(|e| self.error(&e))?;
                c.batch_execute(&format!("LISTEN {CHANNEL}"))
                    .map_err(|e| self.error(&e))?;
                slot.insert(c)
            }
        };
        let waited = {
            let mut notices = listener.notifications();
            let first = notices.timeout_iter(timeout).next();
            // Drain whatever else arrived: one catch-up covers them all.
            first.and_then(|_| notices.iter().count())
        };
        if listener.is_closed() || waited.is_err() {
            *slot = None;
        }
        waited.map(drop).map_err(|e| self.error(&e))
    }

    fn name(&self) -> String {
        self.url.clone()
    }
}

fn last_sequence(c: &mut impl GenericClient) -> Result<u64, postgres::Error> {
    let row = c.query_one("SELECT coalesce(max(seq), 0) FROM sahel_changes", &[])?;
    Ok(row.get::<_, i64>(0) as u64)
}

/// Applies `changes` in `tx`, numbering each after the last committed one: the tables
/// take each id's final state in a few set-based statements, the log every change.
fn apply(tx: &mut Transaction, changes: &[Change]) -> Result<Vec<ChangeRecord>, postgres::Error> {
    // Writers queue here, so sequence numbers are committed in order (readers pass).
    tx.batch_execute("LOCK TABLE sahel_changes IN EXCLUSIVE MODE")?;
    let first = last_sequence(tx)? + 1;
    let records: Vec<ChangeRecord> = changes
        .iter()
        .zip(first..)
        .map(|(c, seq)| ChangeRecord {
            seq,
            op: c.op(),
            id: c.id().to_string(),
        })
        .collect();
    if records.is_empty() {
        return Ok(records);
    }
    // Each id's last change in the batch decides what the tables hold.
    let mut last: HashMap<&str, usize> = HashMap::new();
    for (i, c) in changes.iter().enumerate() {
        last.insert(c.id(), i);
    }
    let mut finals: Vec<usize> = last.into_values().collect();
    finals.sort_unstable();
    let upserts: Vec<(&Event, i64)> = finals
        .iter()
        .filter_map(|&i| match &changes[i] {
            Change::Upsert(e) => Some((e, records[i].seq as i64)),
            Change::Delete(_) => None,
        })
        .collect();
    let deletes: Vec<(&str, i64)> = finals
        .iter()
        .filter(|&&i| matches!(changes[i], Change::Delete(_)))
        .map(|&i| (&*records[i].id, records[i].seq as i64))
        .collect();
    upsert_events(tx, &upserts)?;
    let ids: Vec<&str> = deletes.iter().map(|d| d.0).collect();
    let seqs: Vec<i64> = deletes.iter().map(|d| d.1).collect();
    tx.execute("DELETE FROM events WHERE event_id_cnty = ANY($1)", &[&ids])?;
    tx.execute(
        "INSERT INTO sahel_deleted (event_id, seq) SELECT * FROM unnest($1::text[], $2::bigint[])
         ON CONFLICT (event_id) DO UPDATE SET seq = excluded.seq",
        &[&ids, &seqs],
    )?;
    let seqs: Vec<i64> = records.iter().map(|r| r.seq as i64).collect();
    let ops: Vec<&str> = records.iter().map(|r| r.op.name()).collect();
    let ids: Vec<&str> = records.iter().map(|r| r.id.as_str()).collect();
    tx.execute(
        "INSERT INTO sahel_changes (seq, op, event_id)
         SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[])",
        &[&seqs, &ops, &ids],
    )?;
    let last_seq = records[records.len() - 1].seq.to_string();
    tx.execute("SELECT pg_notify($1, $2)", &[&CHANNEL, &last_seq])?;
    Ok(records)
}

/// Inserts or replaces `events` (each with the sequence number of its change) in one
/// statement, and un-hides their ids.
fn upsert_events(tx: &mut Transaction, events: &[(&Event, i64)]) -> Result<(), postgres::Error> {
    if events.is_empty() {
        return Ok(());
    }
    let text = |f: fn(&Event) -> &str| -> Vec<&str> { events.iter().map(|(e, _)| f(e)).collect() };
    let ids = text(|e| &e.id);
    let dates: Vec<NaiveDate> = events.iter().map(|(e, _)| e.date).collect();
    let years: Vec<i32> = events.iter().map(|(e, _)| e.date.year()).collect();
    let lats: Vec<f64> = events.iter().map(|(e, _)| e.pos.lat).collect();
    let lons: Vec<f64> = events.iter().map(|(e, _)| e.pos.lon).collect();
    let precision: Vec<Option<i16>> = events
        .iter()
        .map(|(e, _)| e.geo_precision.map(i16::from))
        .collect();
    let fatalities: Vec<i64> = events
        .iter()
        .map(|(e, _)| i64::from(e.fatalities))
        .collect();
    let seqs: Vec<i64> = events.iter().map(|(_, s)| *s).collect();
    tx.execute(
        "INSERT INTO events (event_id_cnty, event_date, year, event_type, sub_event_type, actor1,
           actor2, admin1, admin2, location, latitude, longitude, geo_precision, fatalities,
           source, notes, geog, seq)
         SELECT id, d, y, t, st, a1, a2, ad1, ad2, loc, lat, lon, gp, f, src, notes,
           ST_SetSRID(ST_MakePoint(lon, lat), 4326)::geography, seq
         FROM unnest($1::text[], $2::date[], $3::int[], $4::text[], $5::text[], $6::text[],
           $7::text[], $8::text[], $9::text[], $10::text[], $11::float8[], $12::float8[],
           $13::int2[], $14::int8[], $15::text[], $16::text[], $17::int8[])
           AS u(id, d, y, t, st, a1, a2, ad1, ad2, loc, lat, lon, gp, f, src, notes, seq)
         ON CONFLICT (event_id_cnty) DO UPDATE SET event_date = excluded.event_date,
           year = excluded.year, event_type = excluded.event_type,
           sub_event_type = excluded.sub_event_type, actor1 = excluded.actor1,
           actor2 = excluded.actor2, admin1 = excluded.admin1, admin2 = excluded.admin2,
           location = excluded.location, latitude = excluded.latitude,
           longitude = excluded.longitude, geo_precision = excluded.geo_precision,
           fatalities = excluded.fatalities, source = excluded.source, notes = excluded.notes,
           geog = excluded.geog, seq = excluded.seq",
        &[
            &ids,
            &dates,
            &years,
            &text(|e| &e.event_type),
            &text(|e| &e.sub_event_type),
            &text(|e| &e.actor1),
            &text(|e| &e.actor2),
            &text(|e| &e.admin1),
            &text(|e| &e.admin2),
            &text(|e| &e.location),
            &lats,
            &lons,
            &precision,
            &fatalities,
            &text(|e| &e.source),
            &text(|e| &e.notes),
            &seqs,
        ],
    )?;
    tx.execute(
        "DELETE FROM sahel_deleted WHERE event_id = ANY($1)",
        &[&ids],
    )?;
    Ok(())
}

/// The event in `row`'s columns from `at` on (in `COLUMNS` order); the error names the
/// event and the column.
fn event_of_row(row: &Row, at: usize, interner: &mut Interner) -> Result<Event, BadRow> {
    let id: &str = row.get(at);
    let get = |i: usize, name: &'static str| -> Result<Option<&str>, BadRow> {
        row.try_get::<_, Option<&str>>(at + i)
            .map_err(|e| BadRow::new(id, name, e))
    };
    let mut text =
        |i: usize, name: &'static str| get(i, name).map(|s| interner.intern(s.unwrap_or("")));
    let event_type = text(2, "event_type")?;
    let sub_event_type = text(3, "sub_event_type")?;
    let actor1 = text(4, "actor1")?;
    let actor2 = text(5, "actor2")?;
    let admin1 = text(6, "admin1")?;
    let admin2 = text(7, "admin2")?;
    let location = text(8, "location")?;
    let source = text(13, "source")?;
    let notes = get(14, "notes")?.unwrap_or("");
    let precision: Option<i16> = row.get(at + 11);
    let geo_precision = precision
        .map(u8::try_from)
        .transpose()
        .map_err(|_| BadRow::new(id, "geo_precision", format!("{precision:?} is not 0-255")))?;
    let fatalities: i32 = row.get(at + 12);
    Ok(Event {
        id: id.into(),
        date: row.get(at + 1),
        event_type,
        sub_event_type,
        actor1,
        actor2,
        admin1,
        admin2,
        location,
        geo_precision,
        fatalities: u32::try_from(fatalities)
            .map_err(|_| BadRow::new(id, "fatalities", format!("{fatalities} is negative")))?,
        source,
        notes: notes.into(),
        pos: LonLat::new(row.get(at + 10), row.get(at + 9)),
    })
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn passwords_are_not_shown() {
        assert_eq!(
            redact("postgres://atlas:s3cret@db:5432/sahel"),
            "postgres://atlas:***@db:5432/sahel"
        );
        assert_eq!(
            redact("postgresql://atlas@db/sahel?sslmode=disable"),
            "postgresql://atlas@db/sahel?sslmode=disable"
        );
        assert_eq!(
            redact("postgres://a:b@c@host/db"),
            "postgres://a:***@host/db"
        );
    }
}
