//! Live data: the snapshot every reader works on, replaced atomically after each durable
//! write, and the store behind the writes.
//!
//! A write is committed to the store first (the client's 2xx means it is on disk), then a
//! new snapshot with the change is built and swapped in; readers keep whichever snapshot
//! they started with and never wait for a writer. Each snapshot remembers, per tile, the
//! sequence number of the last write that touched it (`tile_epoch`), which is part of the
//! tile cache key: exactly the affected tiles miss the cache after a write.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use arc_swap::ArcSwap;
use rustc_hash::FxHashMap;

use crate::atlas::Atlas;
use crate::load::{EventSources, LoadError, load_dataset};
use crate::model::LonLat;
use crate::store::{Change, ChangeRecord, EventStore, StoreError, Stored};
use crate::tiles::TileSource;
use crate::tiles::coord::{MAX_ZOOM, TileCoord, project};

/// Where the data files are: read at start-up and again on each reload.
#[derive(Debug, Clone)]
pub struct Sources {
    pub dir: PathBuf,
    pub events: EventSources,
}

/// Why data could not be (re)loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadFailed {
    #[error(transparent)]
    Files(#[from] LoadError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Reads the data files, lays `store`'s events over them (by id) and builds the atlas;
/// returns it with the store's sequence number (0 without a store).
///
/// # Errors
/// A file or the store that cannot be read, named with the problem.
pub fn read_atlas(
    sources: &Sources,
    store: Option<&dyn EventStore>,
) -> Result<(Atlas, u64), LoadFailed> {
    let started = Instant::now();
    let mut dataset = load_dataset(&sources.dir, &sources.events)?;
    let mut sequence = 0;
    if let Some(store) = store {
        let stored = store.load()?;
        sequence = stored.sequence;
        tracing::info!(
            events = stored.events.len(),
            deleted = stored.deleted.len(),
            sequence,
            "store read"
        );
        dataset.events = stored.apply_to(std::mem::take(&mut dataset.events));
    }
    let loaded = started.elapsed();
    let atlas = Atlas::build(dataset);
    tracing::info!(
        events = atlas.events().len(),
        bases = atlas.bases().len(),
        regions = atlas.regions().len(),
        places = atlas.places().len(),
        load_ms = loaded.as_millis() as u64,
        index_ms = (started.elapsed() - loaded).as_millis() as u64,
        "atlas ready"
    );
    Ok((atlas, sequence))
}

/// One consistent view of the data: the atlas, the tile geometry built from it, and the
/// store sequence number it includes.
pub struct Snapshot {
    pub atlas: Atlas,
    pub tiles: TileSource,
    pub sequence: u64,
    /// Counts the reloads of the data files (1 at start-up): part of every tile's cache
    /// key, since a reload may change anything.
    pub data_version: u64,
    /// Per tile, the sequence of the last write that changed an event in it.
    epochs: Arc<FxHashMap<TileCoord, u64>>,
}

impl Snapshot {
    pub fn new(atlas: Atlas, sequence: u64) -> Snapshot {
        let tiles = TileSource::build(&atlas);
        Snapshot {
            atlas,
            tiles,
            sequence,
            data_version: 1,
            epochs: Arc::default(),
        }
    }

    /// The sequence of the last write that touched tile `t` (0: none since start-up).
    pub fn tile_epoch(&self, t: TileCoord) -> u64 {
        self.epochs.get(&t).copied().unwrap_or(0)
    }

    /// This snapshot with `changes` (committed as `sequence`) applied.
    fn with_changes(&self, changes: &[Change], sequence: u64) -> Snapshot {
        // The last change of an id wins, as in the store; laid over the events the same
        // way the store is laid over the files.
        let mut latest: FxHashMap<&str, &Change> = FxHashMap::default();
        for c in changes {
            latest.insert(c.id(), c);
        }
        let mut overlay = Stored::default();
        let mut touched: Vec<LonLat> = Vec::new();
        for c in changes {
            if let Some(i) = self.atlas.event_index(c.id()) {
                touched.push(self.atlas.events()[i as usize].pos);
            }
            if !std::ptr::eq(latest[&**c.id()], c) {
                continue;
            }
            match c {
                Change::Upsert(e) => {
                    touched.push(e.pos);
                    overlay.events.push(e.clone());
                }
                Change::Delete(id) => overlay.deleted.push(id.clone()),
            }
        }
        let events = overlay.apply_to(self.atlas.events().to_vec());
        let mut epochs = (*self.epochs).clone();
        for p in touched {
            let w = project(p);
            for z in 0..=MAX_ZOOM {
                epochs.insert(TileCoord::containing(w, z), sequence);
            }
        }
        let atlas = self.atlas.with_events(events);
        Snapshot {
            tiles: self.tiles.sharing_shapes(),
            atlas,
            sequence,
            data_version: self.data_version,
            epochs: Arc::new(epochs),
        }
    }
}

/// What a write did.
#[derive(Debug, Clone, PartialEq)]
pub struct Written {
    pub inserted: usize,
    pub updated: usize,
    pub records: Vec<ChangeRecord>,
    pub sequence: u64,
}

/// Why a write was not done.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("no event with id {0:?}")]
    UnknownEvent(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

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

/// The current snapshot, the store and the data files; writes and reloads go through
/// here one at a time.
pub struct Live {
    current: Arc<ArcSwap<Snapshot>>,
    store: Box<dyn EventStore>,
    sources: Sources,
    writer: Mutex<()>,
    last_reload: Mutex<Option<Reload>>,
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
    /// Reads the data files with `store`'s events laid over them.
    ///
    /// # Errors
    /// A file or the store that cannot be read.
    pub fn open(sources: Sources, store: Box<dyn EventStore>) -> Result<Live, LoadFailed> {
        let (atlas, sequence) = read_atlas(&sources, Some(&*store))?;
        let live = Live {
            current: Arc::new(ArcSwap::from_pointee(Snapshot::new(atlas, sequence))),
            store,
            sources,
            writer: Mutex::new(()),
            last_reload: Mutex::new(None),
            notices: tokio::sync::watch::Sender::new(Notice::Sequence(sequence)),
        };
        live.prepare_clusters();
        Ok(live)
    }

    /// Re-reads the data files (and the store) into a new snapshot, built beside the
    /// serving one and swapped in when complete. On failure the old data keeps serving.
    pub fn reload(&self) -> Reload {
        let started = Instant::now();
        let _one_writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        let result = read_atlas(&self.sources, Some(&*self.store));
        let millis = started.elapsed().as_millis() as u64;
        let at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let report = match result {
            Ok((atlas, sequence)) => {
                let old = self.current.load();
                let mut next = Snapshot::new(atlas, sequence);
                next.data_version = old.data_version + 1;
                let events = next.atlas.events().len();
                self.current.store(Arc::new(next));
                self.prepare_clusters();
                tracing::info!(events, millis, "data reloaded");
                Reload {
                    at,
                    ok: true,
                    error: None,
                    events,
                    millis,
                }
            }
            Err(e) => {
                tracing::error!("reload failed, the previous data keeps serving: {e}");
                Reload {
                    at,
                    ok: false,
                    error: Some(e.to_string()),
                    events: self.current.load().atlas.events().len(),
                    millis,
                }
            }
        };
        *self.last_reload.lock().unwrap_or_else(|e| e.into_inner()) = Some(report.clone());
        report
    }

    /// Notices of writes (and of shutdown), for change streams.
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<Notice> {
        self.notices.subscribe()
    }

    /// Ends every change stream (at shutdown).
    pub fn close(&self) {
        self.notices.send_replace(Notice::Closing);
    }

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

    pub fn store(&self) -> &dyn EventStore {
        &*self.store
    }

    /// Commits `changes` durably, then makes them visible to every later request.
    ///
    /// # Errors
    /// Deleting an id no snapshot event has, or the store failing (nothing is then
    /// visible or kept).
    pub fn write(&self, changes: &[Change]) -> Result<Written, WriteError> {
        let _one_writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        let snap = self.current.load_full();
        let mut seen: HashSet<&str> = HashSet::new();
        let (mut inserted, mut updated) = (0, 0);
        for c in changes {
            let known = seen.contains(&**c.id()) || snap.atlas.event_index(c.id()).is_some();
            match c {
                Change::Upsert(_) if known => updated += 1,
                Change::Upsert(_) => inserted += 1,
                Change::Delete(id) if !known => {
                    return Err(WriteError::UnknownEvent(id.to_string()));
                }
                Change::Delete(_) => {}
            }
            match c {
                Change::Upsert(_) => seen.insert(c.id()),
                Change::Delete(_) => seen.remove(&**c.id()),
            };
        }
        let records = self.store.commit(changes)?;
        let sequence = records.last().map_or(snap.sequence, |r| r.seq);
        self.current
            .store(Arc::new(snap.with_changes(changes, sequence)));
        self.notices.send_replace(Notice::Sequence(sequence));
        self.prepare_clusters();
        Ok(Written {
            inserted,
            updated,
            records,
            sequence,
        })
    }

    /// Sums the current snapshot's clusters in the background (tiles scan meanwhile);
    /// skipped if another write has replaced the snapshot before the work starts.
    fn prepare_clusters(&self) {
        let snap = self.snapshot();
        let current = self.current.clone();
        std::thread::spawn(move || {
            if !Arc::ptr_eq(&current.load_full(), &snap) {
                return;
            }
            let started = std::time::Instant::now();
            snap.tiles.prepare_clusters(&snap.atlas);
            tracing::info!(
                ms = started.elapsed().as_millis() as u64,
                sequence = snap.sequence,
                "cluster pyramid ready"
            );
        });
    }
}
