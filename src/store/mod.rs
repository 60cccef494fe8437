//! The durable event store: events written at run time (inserted, replaced, deleted),
//! kept across restarts and applied over the loaded files by event id. [`EventStore`] is
//! the small trait a store implements; [`gpkg::GeoPackageStore`] is the embedded one (a
//! GeoPackage that QGIS and GDAL open as it is).

pub mod gpkg;

use std::collections::HashSet;
use std::sync::Arc;

use crate::model::Event;

pub use crate::model::Change;

impl Change {
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

/// Why the store cannot do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store {path}: {source}")]
    Sqlite {
        path: String,
        source: rusqlite::Error,
    },
    #[error("store {path}: {problem}")]
    Invalid { path: String, problem: String },
    #[error("cannot create the store's directory {path}: {source}")]
    Directory {
        path: String,
        source: std::io::Error,
    },
}

/// A durable home for events written at run time.
pub trait EventStore: Send + Sync {
    /// Everything stored, for start-up.
    fn load(&self) -> Result<Stored, StoreError>;

    /// Applies `changes` in one transaction, in order, and returns their records once the
    /// transaction is committed and on disk: nothing of a failed batch is kept.
    fn commit(&self, changes: &[Change]) -> Result<Vec<ChangeRecord>, StoreError>;

    /// Changes after sequence number `since`, oldest first, at most `limit`.
    fn changes_since(&self, since: u64, limit: usize) -> Result<Vec<ChangeRecord>, StoreError>;

    /// The last committed sequence number.
    fn sequence(&self) -> Result<u64, StoreError>;
}
