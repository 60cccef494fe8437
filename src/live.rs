//! Live data: the snapshot every reader works on, replaced atomically after each durable
//! write, and the store behind the writes.
//!
//! A write is committed to the store first (the client's 2xx means it is on disk), then a
//! new snapshot with the change is built and swapped in; readers keep whichever snapshot
//! they started with and never wait for a writer. Each snapshot remembers, per tile, the
//! sequence number of the last write that touched it (`tile_epoch`), which is part of the
//! tile cache key: exactly the affected tiles miss the cache after a write.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use rustc_hash::FxHashMap;

use crate::atlas::Atlas;
use crate::model::{Event, LonLat};
use crate::store::{Change, ChangeRecord, EventStore, StoreError};
use crate::tiles::TileSource;
use crate::tiles::coord::{MAX_ZOOM, TileCoord, project};

/// One consistent view of the data: the atlas, the tile geometry built from it, and the
/// store sequence number it includes.
pub struct Snapshot {
    pub atlas: Atlas,
    pub tiles: TileSource,
    pub sequence: u64,
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
            epochs: Arc::default(),
        }
    }

    /// The sequence of the last write that touched tile `t` (0: none since start-up).
    pub fn tile_epoch(&self, t: TileCoord) -> u64 {
        self.epochs.get(&t).copied().unwrap_or(0)
    }

    /// This snapshot with `changes` (committed as `sequence`) applied.
    fn with_changes(&self, changes: &[Change], sequence: u64) -> Snapshot {
        let mut touched: Vec<LonLat> = Vec::new();
        let mut replaced: HashSet<&str> = HashSet::new();
        for c in changes {
            replaced.insert(c.id());
            if let Some(i) = self.atlas.event_index(c.id()) {
                touched.push(self.atlas.events()[i as usize].pos);
            }
        }
        // The last change of an id wins, as in the store.
        let mut latest: FxHashMap<&str, &Change> = FxHashMap::default();
        for c in changes {
            latest.insert(c.id(), c);
        }
        let mut events: Vec<Event> = self
            .atlas
            .events()
            .iter()
            .filter(|e| !replaced.contains(&*e.id))
            .cloned()
            .collect();
        for c in changes {
            if let Change::Upsert(e) = c
                && std::ptr::eq(latest[&*e.id], c)
            {
                touched.push(e.pos);
                events.push(e.clone());
            }
        }
        let mut epochs = (*self.epochs).clone();
        for p in touched {
            let w = project(p);
            for z in 0..=MAX_ZOOM {
                let n = (1u64 << z) as f64;
                let clamp = |v: f64| (v * n).floor().clamp(0.0, n - 1.0) as u32;
                if let Ok(t) = TileCoord::new(z, clamp(w.x), clamp(w.y)) {
                    epochs.insert(t, sequence);
                }
            }
        }
        let atlas = self.atlas.with_events(events);
        Snapshot {
            tiles: self.tiles.sharing_shapes(),
            atlas,
            sequence,
            epochs: Arc::new(epochs),
        }
    }
}

/// What a write did.
#[derive(Debug, Clone, PartialEq)]
pub struct Written {
    pub inserted: usize,
    pub updated: usize,
    pub deleted: usize,
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

/// The current snapshot and the store; writes go through here one at a time.
pub struct Live {
    current: ArcSwap<Snapshot>,
    store: Box<dyn EventStore>,
    writer: Mutex<()>,
}

impl Live {
    pub fn new(snapshot: Snapshot, store: Box<dyn EventStore>) -> Live {
        let live = Live {
            current: ArcSwap::from_pointee(snapshot),
            store,
            writer: Mutex::new(()),
        };
        live.prepare_clusters();
        live
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
        let (mut inserted, mut updated, mut deleted) = (0, 0, 0);
        for c in changes {
            let known = seen.contains(&**c.id()) || snap.atlas.event_index(c.id()).is_some();
            match c {
                Change::Upsert(_) if known => updated += 1,
                Change::Upsert(_) => inserted += 1,
                Change::Delete(id) if !known => {
                    return Err(WriteError::UnknownEvent(id.to_string()));
                }
                Change::Delete(_) => deleted += 1,
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
        self.prepare_clusters();
        Ok(Written {
            inserted,
            updated,
            deleted,
            records,
            sequence,
        })
    }

    /// Sums the current snapshot's clusters in the background (tiles scan meanwhile).
    fn prepare_clusters(&self) {
        let snap = self.snapshot();
        std::thread::spawn(move || {
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
