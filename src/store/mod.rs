//! The durable event store: events written at run time (inserted, replaced, deleted) or
//! imported, kept across restarts and applied over the loaded files by event id.
//! [`EventStore`] is the small trait a store implements; [`gpkg::GeoPackageStore`] is the
//! embedded one (a GeoPackage that QGIS and GDAL open as it is), [`postgis::PostgisStore`]
//! the shared one that replicas of the service write to and follow.

pub mod gpkg;
pub mod import;
pub mod postgis;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use crate::model::Event;

pub use crate::model::Change;

impl Change {
    /// Whether this change upserts or deletes.
    pub fn op(&self) -> Op {
        match self {
            Change::Upsert(_) => Op::Upsert,
            Change::Delete(_) => Op::Delete,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Upsert,
    Delete,
}

impl Op {
    pub fn name(self) -> &'static str {
        match self {
            Op::Upsert => "upsert",
            Op::Delete => "delete",
        }
    }

    fn by_name(name: &str) -> Option<Op> {
        [Op::Upsert, Op::Delete]
            .into_iter()
            .find(|o| o.name() == name)
    }
}

/// A committed change: its sequence number (increasing, never reused), what it did, and
/// to which event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeRecord {
    pub seq: u64,
    pub op: Op,
    pub id: String,
}

/// Everything a store holds, to lay over the files at start-up.
#[derive(Debug, Default)]
pub struct Stored {
    pub events: Vec<Event>,
    pub deleted: Vec<Arc<str>>,
    /// The last committed sequence number (0: nothing yet).
    pub sequence: u64,
}

impl Stored {
    /// `events` (from the files) with the stored versions in place of the files' ones,
    /// stored deletions removed, and the events only the store has added at the end.
    pub fn apply_to(self, events: Vec<Event>) -> Vec<Event> {
        let replaced: HashSet<Arc<str>> = self
            .events
            .iter()
            .map(|e| e.id.clone())
            .chain(self.deleted.iter().cloned())
            .collect();
        let mut out: Vec<Event> = events
            .into_iter()
            .filter(|e| !replaced.contains(&e.id))
            .collect();
        out.extend(self.events);
        out
    }
}

/// The changes committed after a sequence number, each as the store holds its event now:
/// an upsert of the stored event, or a delete when the store no longer has it.
#[derive(Debug, Default)]
pub struct Followed {
    pub changes: Vec<Change>,
    /// The last sequence number these changes cover (the one asked from when none).
    pub sequence: u64,
}

impl Followed {
    /// From `(seq, id, the event as stored now)` rows in sequence order: one change per
    /// id (its latest state), in the order of each id's last change.
    fn from_rows(since: u64, rows: Vec<(u64, Arc<str>, Option<Event>)>) -> Followed {
        let sequence = rows.last().map_or(since, |r| r.0);
        let mut last: HashMap<Arc<str>, usize> = HashMap::new();
        for (i, (_, id, _)) in rows.iter().enumerate() {
            last.insert(id.clone(), i);
        }
        let changes = rows
            .into_iter()
            .enumerate()
            .filter(|(i, (_, id, _))| last.get(id) == Some(i))
            .map(|(_, (_, id, event))| match event {
                Some(e) => Change::Upsert(e),
                None => Change::Delete(id),
            })
            .collect();
        Followed { changes, sequence }
    }
}

/// How far the import of one file has got, kept in the store with the rows it covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportMark {
    /// The file's absolute path.
    pub file: String,
    /// Its size when the import began: another size means another file.
    pub bytes: u64,
    /// Rows of it committed.
    pub rows: u64,
    /// Whether the whole file is in.
    pub done: bool,
}

/// Whether `spec` names a PostgreSQL database (the shared store) rather than a GeoPackage.
pub fn is_postgres_url(spec: &str) -> bool {
    spec.starts_with("postgres://") || spec.starts_with("postgresql://")
}

/// Opens the store `spec` names: a `postgres://` or `postgresql://` URL for PostGIS,
/// otherwise the path of a GeoPackage (created when missing).
///
/// # Errors
/// A store that cannot be opened or is not ours.
pub fn open(spec: &str) -> Result<Box<dyn EventStore>, StoreError> {
    if is_postgres_url(spec) {
        Ok(Box::new(postgis::PostgisStore::connect(spec)?))
    } else {
        Ok(Box::new(gpkg::GeoPackageStore::open(
            std::path::Path::new(spec),
        )?))
    }
}

/// Why the store cannot do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// PostgreSQL failed.
    #[error("store {url}: {problem}")]
    Postgres {
        /// The database's URL, its password hidden.
        url: String,
        /// What failed.
        problem: String,
    },
    /// SQLite failed.
    #[error("store {path}: {source}")]
    Sqlite {
        /// The store's file.
        path: String,
        /// SQLite's error.
        source: rusqlite::Error,
    },
    /// The store holds something that is not as written.
    #[error("store {path}: {problem}")]
    Invalid {
        /// The store's file.
        path: String,
        /// What is wrong in it.
        problem: String,
    },
    /// The store's directory cannot be made.
    #[error("cannot create the store's directory {path}: {source}")]
    Directory {
        /// The directory.
        path: String,
        /// The operating system's error.
        source: std::io::Error,
    },
}

/// A stored row that does not make an event: the row (its fid or event id), the column
/// and the problem, as a loader names a file's line and field.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{row}: {column}: {problem}")]
pub struct BadRow {
    pub row: String,
    pub column: &'static str,
    pub problem: String,
}

impl BadRow {
    pub fn new(
        row: impl std::fmt::Display,
        column: &'static str,
        problem: impl std::fmt::Display,
    ) -> BadRow {
        BadRow {
            row: row.to_string(),
            column,
            problem: problem.to_string(),
        }
    }
}

/// A durable home for events written at run time.
pub trait EventStore: Send + Sync {
    /// Everything stored, for start-up.
    fn load(&self) -> Result<Stored, StoreError>;

    /// Applies `changes` in one transaction, in order, with `mark` (an import's progress)
    /// when given, and returns their records once the transaction is committed and on
    /// disk: nothing of a failed batch is kept.
    fn commit_marked(
        &self,
        changes: &[Change],
        mark: Option<&ImportMark>,
    ) -> Result<Vec<ChangeRecord>, StoreError>;

    /// Commits `changes` (see [`EventStore::commit_marked`]).
    fn commit(&self, changes: &[Change]) -> Result<Vec<ChangeRecord>, StoreError> {
        self.commit_marked(changes, None)
    }

    /// Changes after sequence number `since`, oldest first, at most `limit`.
    fn changes_since(&self, since: u64, limit: usize) -> Result<Vec<ChangeRecord>, StoreError>;

    /// The last committed sequence number.
    fn sequence(&self) -> Result<u64, StoreError>;

    /// The changes after sequence number `since` (at most `limit` of them), with the
    /// events as stored now: what a reader that has seen up to `since` must apply.
    fn changes_after(&self, since: u64, limit: usize) -> Result<Followed, StoreError>;

    /// Commits `changes` and, in the same transaction, `mark`: an import resumes from
    /// what was committed.
    fn commit_import(
        &self,
        changes: &[Change],
        mark: &ImportMark,
    ) -> Result<Vec<ChangeRecord>, StoreError> {
        self.commit_marked(changes, Some(mark))
    }

    /// Where the import of `file` has got to, if it was begun.
    fn import_mark(&self, file: &str) -> Result<Option<ImportMark>, StoreError>;

    /// Whether other processes write to this store too: this one then follows them.
    fn shared(&self) -> bool {
        false
    }

    /// Returns when another process may have committed, or after `timeout`.
    fn wait_for_changes(&self, timeout: Duration) -> Result<(), StoreError> {
        std::thread::sleep(timeout);
        Ok(())
    }

    /// How the store is named in logs (a URL without its password, or a path).
    fn name(&self) -> String;
}
