//! Live data: the snapshot every reader works on, replaced atomically after each durable
//! write, and the store behind the writes.
//!
//! A write is committed to the store first (the client's 2xx means it is on disk), then a
//! new snapshot with the change is swapped in; readers keep whichever snapshot they
//! started with and never wait for a writer. A new snapshot shares the atlas's base and
//! carries a new small delta (see `atlas`), so a write costs milliseconds however many
//! events there are; when the delta grows, a background thread folds it into a new base
//! and swaps that in. Per tile, the sequence number of the last write that touched it
//! (`tile_epoch`) is part of the tile cache key: exactly the affected tiles miss the
//! cache after a write.
//!
//! One file per concern: `open` (reading the atlas from the saved base or the files,
//! saving it, reloads), `snapshot` (one consistent view), `write` (commit, then swap),
//! `merge` (folding a grown delta into a new base), `follow` (other replicas' commits).

mod follow;
mod ingest;
mod merge;
mod open;
mod snapshot;
mod write;

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;

use crate::atlas::saved::SavedError;
use crate::store::EventStore;
use crate::tiles::cache::TileEpochs;

pub use crate::store::ChangeRecord;
pub use ingest::{BodyFormat, Location, RecordError, one_event, read_body};
pub use open::{LoadFailed, Sources, read_atlas};
pub use snapshot::Snapshot;
pub use write::{WriteError, Written};

/// How the last reload of the data files went.
#[derive(Debug, Clone, PartialEq)]
pub struct Reload {
    /// RFC 3339 time it finished.
    pub at: String,
    pub ok: bool,
    /// What was wrong (the old data kept serving), when not ok.
    pub error: Option<String>,
    pub events: usize,
    pub millis: u64,
}

/// Where the base of the current data came from, and how the last save of it went.
#[derive(Debug, Clone, Default)]
pub struct BaseReport {
    /// Read back from the saved base (else built from the files).
    pub from_saved: bool,
    /// Milliseconds to read or build it, at the last start or reload.
    pub millis: u64,
    /// The last save: `Ok(sequence)` it included, or what went wrong.
    pub saved: Option<Result<u64, Arc<SavedError>>>,
}

/// The current snapshot, the store and the data files; writes and reloads go through
/// here one at a time.
pub struct Live {
    current: Arc<ArcSwap<Snapshot>>,
    store: Box<dyn EventStore>,
    sources: Sources,
    writer: Mutex<()>,
    last_reload: Mutex<Option<Reload>>,
    /// Shared by every snapshot: per tile, the last write that touched it.
    epochs: Arc<TileEpochs>,
    /// Whether a merge of the delta is under way.
    merging: AtomicBool,
    /// The fingerprint of the inputs as last read, for the saved base.
    fingerprint: Mutex<Option<String>>,
    /// Where the base came from and how its last save went.
    base_report: Arc<Mutex<BaseReport>>,
    /// Held while the base is being saved: one save at a time.
    saving: Arc<Mutex<()>>,
    /// Tells change-stream subscribers about each write, and about shutting down.
    notices: tokio::sync::watch::Sender<Notice>,
}

/// What change-stream subscribers are told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notice {
    /// The store's sequence number after the latest write.
    Sequence(u64),
    /// The server is stopping: streams end so that shutdown does not wait on them.
    Closing,
}

impl Live {
    /// Notices of writes (and of shutdown), for change streams.
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<Notice> {
        self.notices.subscribe()
    }

    /// Ends every change stream (at shutdown).
    pub fn close(&self) {
        self.notices.send_replace(Notice::Closing);
    }

    /// How the last reload went, if there was one.
    pub fn last_reload(&self) -> Option<Reload> {
        self.last_reload
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The snapshot to answer a request from.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.current.load_full()
    }
}

#[cfg(test)]
mod tests;
