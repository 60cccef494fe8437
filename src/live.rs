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

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use arc_swap::ArcSwap;

use crate::atlas::{Atlas, saved};
use crate::load::{EventSources, LoadError, load_dataset, load_fixed};
use crate::store::{Change, ChangeRecord, EventStore, StoreError};
use crate::tiles::TileSource;
use crate::tiles::cache::TileEpochs;
use crate::tiles::coord::TileCoord;

/// Where the data files are: read at start-up and again on each reload.
#[derive(Debug, Clone)]
pub struct Sources {
    pub dir: PathBuf,
    pub events: EventSources,
    /// Where the base built from them is saved, to be read back at the next start while
    /// the inputs are unchanged (`None`: never saved).
    pub saved: Option<PathBuf>,
}

impl Sources {
    /// The fingerprint of the inputs the base is built from (the event files, the
    /// regions each event is placed in, the store), when a saved base is kept; a file
    /// that cannot be read gives none (the build names it).
    fn fingerprint(&self, store: &dyn EventStore) -> Option<String> {
        self.saved.as_ref()?;
        let mut files = self.events.files(&self.dir);
        files.push(self.dir.join("regions.geojson"));
        saved::fingerprint(&files, &store.name()).ok()
    }
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
        events = atlas.event_count(),
        bases = atlas.bases().len(),
        regions = atlas.regions().len(),
        places = atlas.places().len(),
        load_ms = loaded.as_millis() as u64,
        index_ms = (started.elapsed() - loaded).as_millis() as u64,
        "atlas ready"
    );
    Ok((atlas, sequence))
}

/// An atlas as opened by [`Live`]: read back from the saved base, or built.
struct Opened {
    atlas: Atlas,
    sequence: u64,
    /// The inputs' fingerprint, when the base is saved.
    fingerprint: Option<String>,
    /// Whether it was read back from the saved base (else built from the files).
    from_saved: bool,
    /// Whether its base is new (built, or the saved one with many writes merged in), and
    /// so to be saved for the next start.
    save: bool,
    millis: u64,
}

/// The atlas from the saved base when it was saved from these inputs, else built.
fn open_atlas(sources: &Sources, store: &dyn EventStore) -> Result<Opened, LoadFailed> {
    let started = Instant::now();
    let fingerprint = sources.fingerprint(store);
    if let (Some(path), Some(fp)) = (&sources.saved, &fingerprint)
        && let Some((atlas, sequence, merged)) = read_saved(sources, path, fp, store)?
    {
        return Ok(Opened {
            atlas,
            sequence,
            fingerprint,
            from_saved: true,
            save: merged,
            millis: started.elapsed().as_millis() as u64,
        });
    }
    let (atlas, sequence) = read_atlas(sources, Some(store))?;
    Ok(Opened {
        atlas,
        sequence,
        fingerprint,
        from_saved: false,
        save: true,
        millis: started.elapsed().as_millis() as u64,
    })
}

/// The base saved at `path` with the store's changes since it was saved laid over it,
/// the store sequence that makes, and whether those changes were many enough to be
/// merged into a new base; or `None` (logged) when it was saved from other inputs, is
/// damaged, or was saved from another store (the store's change at the saved sequence
/// is another, or missing).
fn read_saved(
    sources: &Sources,
    path: &std::path::Path,
    fingerprint: &str,
    store: &dyn EventStore,
) -> Result<Option<(Atlas, u64, bool)>, LoadFailed> {
    let started = Instant::now();
    let (mut atlas, mark) = match Atlas::open_saved(load_fixed(&sources.dir)?, path, fingerprint) {
        Ok(Some(found)) => found,
        Ok(None) => {
            tracing::info!(path = %path.display(), "no base saved from these inputs: building");
            return Ok(None);
        }
        Err(e) => {
            tracing::warn!("the saved base is not used, building from the files: {e}");
            return Ok(None);
        }
    };
    let read_ms = started.elapsed().as_millis() as u64;
    let saved_sequence = mark.sequence;
    let now = store.sequence()?;
    if now < saved_sequence || store_mark(store, saved_sequence)? != mark {
        tracing::warn!(
            saved_sequence,
            saved_change = mark.last_change,
            store_sequence = now,
            "the saved base was not saved from this store's changes (another store?): building"
        );
        return Ok(None);
    }
    // The writes since the save, all at once: a delta costs in proportion to its size.
    let (mut sequence, mut changes) = (saved_sequence, Vec::new());
    while sequence < now {
        let followed = store.changes_after(sequence, FOLLOW_BATCH)?;
        if followed.sequence == sequence {
            break;
        }
        changes.extend(followed.changes);
        sequence = followed.sequence;
    }
    atlas = atlas.with_changes(&changes);
    let merged = atlas.delta_size() > merge_threshold(atlas.base_events().len());
    if merged {
        atlas = atlas.merged();
    }
    tracing::info!(
        events = atlas.event_count(),
        saved_sequence,
        sequence,
        read_ms,
        ms = started.elapsed().as_millis() as u64,
        "atlas read from the saved base"
    );
    Ok(Some((atlas, sequence, merged)))
}

/// How far into `store` a base built at `sequence` goes (see [`saved::StoreMark`]).
fn store_mark(store: &dyn EventStore, sequence: u64) -> Result<saved::StoreMark, StoreError> {
    let last_change = match sequence {
        0 => String::new(),
        s => store
            .changes_since(s - 1, 1)?
            .first()
            .map(|r| format!("{} {} {}", r.seq, r.op.name(), r.id))
            .unwrap_or_default(),
    };
    Ok(saved::StoreMark {
        sequence,
        last_change,
    })
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
    epochs: Arc<TileEpochs>,
}

impl Snapshot {
    fn new(atlas: Atlas, sequence: u64, data_version: u64, epochs: Arc<TileEpochs>) -> Snapshot {
        let tiles = TileSource::build(&atlas);
        Snapshot {
            atlas,
            tiles,
            sequence,
            data_version,
            epochs,
        }
    }

    /// The sequence of the last write that touched tile `t` as of this snapshot (0: none
    /// since start-up), or `None` if a later write touched it: the tile as this snapshot
    /// draws it is then not the one cached under the newer epoch.
    pub fn tile_epoch(&self, t: TileCoord) -> Option<u64> {
        let epoch = self.epochs.get(t);
        (epoch <= self.sequence).then_some(epoch)
    }

    /// [`Snapshot::tile_epoch`] for a tile of the hexbins set: the latest write to it or to
    /// its eight neighbours, since a cell drawn in a tile may hold events of the tiles
    /// around (at each zoom's resolution a cell is narrower than a tile).
    pub fn tile_epoch_around(&self, t: TileCoord) -> Option<u64> {
        let n = 1i64 << t.z;
        let mut epoch = 0;
        for dy in -1..=1i64 {
            for dx in -1..=1i64 {
                let y = i64::from(t.y) + dy;
                if !(0..n).contains(&y) {
                    continue;
                }
                let x = (i64::from(t.x) + dx).rem_euclid(n);
                if let Ok(near) = TileCoord::new(t.z, x as u32, y as u32) {
                    epoch = epoch.max(self.epochs.get(near));
                }
            }
        }
        (epoch <= self.sequence).then_some(epoch)
    }

    /// This snapshot with `changes` (committed as `sequence`) applied.
    fn with_changes(&self, changes: &[Change], sequence: u64) -> Snapshot {
        Snapshot {
            atlas: self.atlas.with_changes(changes),
            tiles: self.tiles.clone(),
            sequence,
            data_version: self.data_version,
            epochs: self.epochs.clone(),
        }
    }
}

/// When the delta is folded into a new base: rebuilding costs about a second per
/// million events, so not for every write; a bigger delta makes each write slower.
fn merge_threshold(base_events: usize) -> usize {
    (base_events / 64).max(8_192)
}

/// Changes fetched at a time when following a shared store.
const FOLLOW_BATCH: usize = 50_000;

/// How long the follower waits for a notice before it polls anyway.
const FOLLOW_POLL: std::time::Duration = std::time::Duration::from_secs(1);

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

/// Where the base of the current data came from, and how the last save of it went.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BaseReport {
    /// Read back from the saved base (else built from the files).
    pub from_saved: bool,
    /// Milliseconds to read or build it, at the last start or reload.
    pub millis: u64,
    /// The last save: `Ok(sequence)` it included, or what went wrong.
    pub saved: Option<Result<u64, String>>,
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
    /// Reads the data files with `store`'s events laid over them.
    ///
    /// # Errors
    /// A file or the store that cannot be read.
    pub fn open(sources: Sources, store: Box<dyn EventStore>) -> Result<Live, LoadFailed> {
        let opened = open_atlas(&sources, &*store)?;
        let epochs = Arc::new(TileEpochs::default());
        let first = Snapshot::new(opened.atlas, opened.sequence, 1, epochs.clone());
        let live = Live {
            current: Arc::new(ArcSwap::from_pointee(first)),
            epochs,
            merging: AtomicBool::new(false),
            fingerprint: Mutex::new(opened.fingerprint),
            base_report: Arc::new(Mutex::new(BaseReport {
                from_saved: opened.from_saved,
                millis: opened.millis,
                saved: None,
            })),
            saving: Arc::default(),
            store,
            sources,
            writer: Mutex::new(()),
            last_reload: Mutex::new(None),
            notices: tokio::sync::watch::Sender::new(Notice::Sequence(opened.sequence)),
        };
        live.prepare_summaries();
        if opened.save {
            live.save_base(live.snapshot(), opened.sequence);
        }
        Ok(live)
    }

    /// Saves the base of `snap`, which includes the store up to `base_sequence`, for the
    /// next start, from a thread of its own (when a saved base is kept).
    fn save_base(&self, snap: Arc<Snapshot>, base_sequence: u64) {
        let fingerprint = self
            .fingerprint
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let (Some(path), Some(fingerprint)) = (self.sources.saved.clone(), fingerprint) else {
            return;
        };
        let mark = match store_mark(&*self.store, base_sequence) {
            Ok(mark) => mark,
            Err(e) => {
                tracing::warn!("the base was not saved (the next start builds it): {e}");
                return;
            }
        };
        let (report, saving) = (self.base_report.clone(), self.saving.clone());
        let current = self.current.clone();
        std::thread::spawn(move || {
            let _one_save = saving.lock().unwrap_or_else(|e| e.into_inner());
            if !current.load().atlas.shares_base(&snap.atlas) {
                return; // a merge or reload replaced this base, and saves its own
            }
            let started = Instant::now();
            let saved = snap.atlas.save_base(&path, &fingerprint, &mark);
            match &saved {
                Ok(()) => tracing::info!(
                    path = %path.display(),
                    events = snap.atlas.base_events().len(),
                    sequence = base_sequence,
                    ms = started.elapsed().as_millis() as u64,
                    "base saved for the next start"
                ),
                Err(e) => tracing::warn!("the base was not saved (the next start builds it): {e}"),
            }
            let saved = saved.map(|()| base_sequence).map_err(|e| e.to_string());
            report.lock().unwrap_or_else(|e| e.into_inner()).saved = Some(saved);
        });
    }

    /// Where the current base came from and how its last save went.
    pub fn base_report(&self) -> BaseReport {
        self.base_report
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Re-reads the data files (and the store) into a new snapshot, built beside the
    /// serving one and swapped in when complete. On failure the old data keeps serving.
    pub fn reload(&self) -> Reload {
        let started = Instant::now();
        let _one_writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        let result = open_atlas(&self.sources, &*self.store);
        let millis = started.elapsed().as_millis() as u64;
        let at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let record = |report: &Reload| {
            *self.last_reload.lock().unwrap_or_else(|e| e.into_inner()) = Some(report.clone());
        };
        match result {
            Ok(opened) => {
                let version = self.current.load().data_version + 1;
                let next =
                    Snapshot::new(opened.atlas, opened.sequence, version, self.epochs.clone());
                *self.fingerprint.lock().unwrap_or_else(|e| e.into_inner()) = opened.fingerprint;
                {
                    let mut report = self.base_report.lock().unwrap_or_else(|e| e.into_inner());
                    report.from_saved = opened.from_saved;
                    report.millis = opened.millis;
                }
                let report = Reload {
                    at,
                    ok: true,
                    error: None,
                    events: next.atlas.event_count(),
                    millis,
                };
                // Recorded first: whoever sees the new data also sees how it came.
                record(&report);
                self.current.store(Arc::new(next));
                crate::memory::release_freed();
                self.prepare_summaries();
                if opened.save {
                    self.save_base(self.snapshot(), opened.sequence);
                }
                tracing::info!(events = report.events, millis, "data reloaded");
                report
            }
            Err(e) => {
                tracing::error!("reload failed, the previous data keeps serving: {e}");
                let report = Reload {
                    at,
                    ok: false,
                    error: Some(e.to_string()),
                    events: self.current.load().atlas.event_count(),
                    millis,
                };
                record(&report);
                report
            }
        }
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
    pub fn write(self: &Arc<Self>, changes: &[Change]) -> Result<Written, WriteError> {
        let _one_writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        let shared = self.store.shared();
        if shared {
            // Others write too: check ids against what they have committed.
            self.catch_up_locked()?;
        }
        let snap = self.current.load_full();
        let (inserted, updated) = count_changes(&snap.atlas, changes)?;
        let records = self.store.commit(changes)?;
        let sequence = records.last().map_or(snap.sequence, |r| r.seq);
        let contiguous = records.first().is_none_or(|r| r.seq == snap.sequence + 1);
        if shared && !contiguous {
            // Another replica committed in between: take its changes and ours, in order.
            self.catch_up_locked()?;
        } else {
            self.apply_locked(&snap, changes, sequence);
        }
        Ok(Written {
            inserted,
            updated,
            records,
            sequence,
        })
    }

    /// Makes `changes`, committed up to `sequence`, visible over `snap` (the current
    /// snapshot; the caller holds the writer lock).
    fn apply_locked(self: &Arc<Self>, snap: &Snapshot, changes: &[Change], sequence: u64) {
        // Before the swap: a reader of the old snapshot then sees the new epoch and does
        // not cache its (old) version of these tiles under it.
        let atlas = &snap.atlas;
        let old = changes
            .iter()
            .filter_map(|c| atlas.event_index(c.id()).map(|i| atlas.event(i).pos));
        let new = changes.iter().filter_map(|c| match c {
            Change::Upsert(e) => Some(e.pos),
            Change::Delete(_) => None,
        });
        self.epochs.touch(old.chain(new), sequence);
        self.current
            .store(Arc::new(snap.with_changes(changes, sequence)));
        self.notices.send_if_modified(|n| match n {
            Notice::Closing => false,
            n => {
                *n = Notice::Sequence(sequence);
                true
            }
        });
        if self.delta_too_big() {
            self.start_merge();
        }
    }

    /// Applies what other processes committed to a shared store since the current
    /// snapshot; returns the sequence number now visible.
    ///
    /// # Errors
    /// The store cannot be read (the snapshot stays as it was).
    fn catch_up(self: &Arc<Self>) -> Result<u64, StoreError> {
        let _one_writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        self.catch_up_locked()
    }

    fn catch_up_locked(self: &Arc<Self>) -> Result<u64, StoreError> {
        loop {
            let snap = self.current.load_full();
            let followed = self.store.changes_after(snap.sequence, FOLLOW_BATCH)?;
            if followed.sequence == snap.sequence {
                return Ok(snap.sequence);
            }
            self.apply_locked(&snap, &followed.changes, followed.sequence);
        }
    }

    /// Follows the writes other replicas make to a shared store, from a thread of its
    /// own: woken by the store's notices, and polling every second in case one is lost.
    /// Does nothing for a store only this process writes.
    pub fn follow(self: &Arc<Self>) {
        if !self.store.shared() {
            return;
        }
        let live = self.clone();
        let mut notices = self.subscribe();
        std::thread::spawn(move || {
            let mut failing = false;
            while *notices.borrow_and_update() != Notice::Closing {
                let result = live
                    .store
                    .wait_for_changes(FOLLOW_POLL)
                    .and_then(|()| live.catch_up());
                match result {
                    Err(e) if !failing => {
                        tracing::error!("following the store failed (retrying every second): {e}");
                        failing = true;
                    }
                    Err(_) => std::thread::sleep(FOLLOW_POLL),
                    Ok(seq) if failing => {
                        tracing::info!(sequence = seq, "following the store again");
                        failing = false;
                    }
                    Ok(_) => {}
                }
            }
        });
    }

    /// Folds the delta into a new base in the background, unless a merge is under way.
    fn start_merge(self: &Arc<Self>) {
        if self.merging.swap(true, Ordering::AcqRel) {
            return;
        }
        let live = self.clone();
        std::thread::spawn(move || {
            loop {
                let merged = live.merge(live.snapshot());
                live.merging.store(false, Ordering::Release);
                if let Err(e) = merged {
                    tracing::error!(
                        "merging written events failed (retried at the next write): {e}"
                    );
                    return;
                }
                // Writes made during the merge may have grown the delta past the mark again.
                if !live.delta_too_big() || live.merging.swap(true, Ordering::AcqRel) {
                    return;
                }
            }
        });
    }

    fn delta_too_big(&self) -> bool {
        let atlas = &self.current.load().atlas;
        atlas.delta_size() > merge_threshold(atlas.base_events().len())
    }

    /// Builds the events of `snap` into a new base beside the serving snapshot, lays the
    /// writes made since `snap` over it, and swaps it in.
    fn merge(&self, snap: Arc<Snapshot>) -> Result<(), StoreError> {
        let started = Instant::now();
        let merged = snap.atlas.merged();
        let tiles = snap.tiles.sharing_shapes();
        tiles.prepare_summaries(&merged);
        let _one_writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        let now = self.current.load_full();
        if now.data_version != snap.data_version {
            return Ok(()); // a reload replaced everything meanwhile
        }
        let mut atlas = merged;
        if now.sequence != snap.sequence {
            let mut ids: Vec<Arc<str>> = Vec::new();
            let mut seen = HashSet::new();
            for r in self.store.changes_since(snap.sequence, usize::MAX)? {
                if seen.insert(r.id.clone()) {
                    ids.push(r.id.into());
                }
            }
            let redo: Vec<Change> = ids
                .into_iter()
                .map(|id| match now.atlas.event_index(&id) {
                    Some(i) => Change::Upsert(now.atlas.event(i).clone()),
                    None => Change::Delete(id),
                })
                .collect();
            atlas = atlas.with_changes(&redo);
        }
        let events = atlas.event_count();
        let merged = Arc::new(Snapshot {
            atlas,
            tiles,
            sequence: now.sequence,
            data_version: now.data_version,
            epochs: self.epochs.clone(),
        });
        self.current.store(merged.clone());
        // The new base holds the writes up to `snap`'s sequence; later ones are its delta.
        self.save_base(merged, snap.sequence);
        tracing::info!(
            events,
            ms = started.elapsed().as_millis() as u64,
            sequence = now.sequence,
            "written events merged into the base"
        );
        // Readers finish with the old base within moments; then its memory can go back.
        drop((snap, now, _one_writer));
        std::thread::sleep(std::time::Duration::from_secs(1));
        crate::memory::release_freed();
        if let Some(bytes) = crate::memory::in_use_bytes() {
            tracing::info!(mb = bytes >> 20, "memory in use after the merge");
        }
        Ok(())
    }

    /// Sums the current snapshot's clusters and hexbins in the background (tiles and
    /// hexbin answers scan meanwhile).
    fn prepare_summaries(&self) {
        let snap = self.snapshot();
        std::thread::spawn(move || {
            let started = std::time::Instant::now();
            snap.tiles.prepare_summaries(&snap.atlas);
            tracing::info!(
                ms = started.elapsed().as_millis() as u64,
                sequence = snap.sequence,
                "cluster and hexbin pyramids ready"
            );
        });
    }
}

/// How many of `changes` insert and how many update an event of `atlas` (or of an
/// earlier change in the batch).
///
/// # Errors
/// A deletion of an id that does not exist.
fn count_changes(atlas: &Atlas, changes: &[Change]) -> Result<(usize, usize), WriteError> {
    let mut seen: HashSet<&str> = HashSet::new();
    let (mut inserted, mut updated) = (0, 0);
    for c in changes {
        let known = seen.contains(&**c.id()) || atlas.event_index(c.id()).is_some();
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
    Ok((inserted, updated))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::EventSources;
    use crate::model::{Event, LonLat};
    use crate::store::gpkg::GeoPackageStore;

    fn open_live(store: &std::path::Path) -> Arc<Live> {
        let sources = Sources {
            dir: PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("geodata"),
            events: EventSources::default(),
            saved: Some(store.with_extension("base")),
        };
        let store = GeoPackageStore::open(store).unwrap();
        Arc::new(Live::open(sources, Box::new(store)).unwrap())
    }

    fn written(template: &Event, k: u32) -> Change {
        let mut e = template.clone();
        e.id = format!("T{k}").into();
        e.pos = LonLat::new(
            -4.0 + f64::from(k % 300) * 0.01,
            14.0 + f64::from(k / 300) * 0.01,
        );
        Change::Upsert(e)
    }

    /// A merge started from an older snapshot keeps the writes made after it, and a
    /// batch past the threshold is merged in the background; a restart sees the same.
    #[test]
    fn merges_keep_every_write() {
        let (dir, path) = scratch_store("merges");
        let live = open_live(&path);
        let snap = live.snapshot();
        let (files, first) = (snap.atlas.event_count(), snap.atlas.event(0).clone());
        let batch: Vec<Change> = (0..500).map(|k| written(&first, k)).collect();
        live.write(&batch).unwrap();
        let before = live.snapshot();
        // Written after the snapshot the merge starts from.
        for k in 500..550 {
            live.write(&[written(&first, k)]).unwrap();
        }
        live.write(&[Change::Delete("T7".into())]).unwrap();
        live.write(&[Change::Delete(first.id.clone())]).unwrap();
        let Change::Upsert(mut moved) = written(&first, 8) else {
            unreachable!()
        };
        moved.pos = LonLat::new(0.5, 16.0);
        live.write(&[Change::Upsert(moved)]).unwrap();
        // The older snapshot must not cache its version of the tile the move touched; the
        // current one caches it under the move's sequence.
        let moved_to = crate::tiles::coord::project(LonLat::new(0.5, 16.0));
        let quiet = crate::tiles::coord::project(LonLat::new(100.0, -40.0));
        for z in [3, 10, 16] {
            let (t, u) = (
                TileCoord::containing(moved_to, z),
                TileCoord::containing(quiet, z),
            );
            assert_eq!(before.tile_epoch(t), None);
            assert_eq!(
                live.snapshot().tile_epoch(t),
                Some(live.snapshot().sequence)
            );
            assert_eq!(before.tile_epoch(u), Some(0));
        }
        live.merge(before).unwrap();
        let check = |live: &Live, extra: u32| {
            let atlas = &live.snapshot().atlas;
            assert_eq!(atlas.event_count(), files + 550 - 2 + extra as usize);
            assert!(atlas.event_index("T7").is_none() && atlas.event_index(&first.id).is_none());
            let t8 = atlas.event(atlas.event_index("T8").unwrap());
            assert_eq!(t8.pos, LonLat::new(0.5, 16.0));
            for k in (0..550).chain(1000..1000 + extra).filter(|&k| k != 7) {
                assert!(atlas.event_index(&format!("T{k}")).is_some(), "T{k}");
            }
        };
        assert!(live.snapshot().atlas.delta_size() <= 60);
        assert!(live.snapshot().atlas.base_events().len() >= files + 500);
        check(&live, 0);

        let big: Vec<Change> = (1000..10_000).map(|k| written(&first, k)).collect();
        live.write(&big).unwrap();
        let waited = Instant::now();
        while live.snapshot().atlas.delta_size() > 0 {
            assert!(
                waited.elapsed().as_secs() < 60,
                "no merge after a big batch"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        check(&live, 9_000);
        let merged_at = live.snapshot().sequence;
        wait_saved(&live, merged_at);
        // Written after the base was saved: a restart reads the saved base and these.
        live.write(&[written(&first, 20_000), Change::Delete("T9".into())])
            .unwrap();
        drop(live);
        let again = open_live(&path);
        assert!(again.base_report().from_saved);
        assert!(again.snapshot().atlas.event_index("T20000").is_some());
        assert!(again.snapshot().atlas.event_index("T9").is_none());
        assert_eq!(again.snapshot().sequence, merged_at + 2);
        assert_eq!(
            again.snapshot().atlas.event_count(),
            files + 550 - 2 + 9_000
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    /// A directory of its own for a test, and the store path in it.
    fn scratch_store(name: &str) -> (PathBuf, PathBuf) {
        let dir = std::env::temp_dir().join(format!("sahel-live-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("store.gpkg");
        (dir, path)
    }

    fn wait_saved(live: &Live, sequence: u64) {
        let waited = Instant::now();
        while !matches!(live.base_report().saved, Some(Ok(s)) if s == sequence) {
            assert!(waited.elapsed().as_secs() < 60, "{:?}", live.base_report());
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    /// A base saved from one store is not laid under another put at the same path, even
    /// one with as many changes: its change at the saved sequence is another.
    #[test]
    fn a_saved_base_is_not_used_with_another_store() {
        let (dir, path) = scratch_store("other");
        let live = open_live(&path);
        let first = live.snapshot().atlas.event(0).clone();
        live.write(&[written(&first, 1), written(&first, 2)])
            .unwrap();
        // Saved at 2 by a merge of those writes.
        live.merge(live.snapshot()).unwrap();
        wait_saved(&live, 2);
        drop(live);
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
        // Another store, two other changes: the same sequence numbers.
        let other = GeoPackageStore::open(&path).unwrap();
        other
            .commit(&[written(&first, 8), written(&first, 9)])
            .unwrap();
        assert_eq!(other.sequence().unwrap(), 2);
        drop(other);
        let again = open_live(&path);
        assert!(!again.base_report().from_saved);
        let atlas = &again.snapshot().atlas;
        assert!(atlas.event_index("T8").is_some() && atlas.event_index("T9").is_some());
        assert!(atlas.event_index("T1").is_none() && atlas.event_index("T2").is_none());
        wait_saved(&again, 2); // built, so saved again: done before the directory goes
        drop(again);
        std::fs::remove_dir_all(dir).unwrap();
    }

    /// Writes past the merge threshold made while the server was down are merged into a
    /// new base at the next start, and that base is saved: the start after reads it back
    /// without merging them again.
    #[test]
    fn a_saved_base_merged_at_start_is_saved_again() {
        let (dir, path) = scratch_store("remerge");
        let live = open_live(&path);
        let first = live.snapshot().atlas.event(0).clone();
        wait_saved(&live, 0);
        drop(live);
        let store = GeoPackageStore::open(&path).unwrap();
        let many: Vec<Change> = (0..9_000).map(|k| written(&first, k)).collect();
        store.commit(&many).unwrap();
        drop(store);
        let again = open_live(&path);
        assert!(again.base_report().from_saved);
        assert_eq!(again.snapshot().atlas.delta_size(), 0, "merged at start");
        wait_saved(&again, 9_000);
        drop(again);
        let third = open_live(&path);
        assert!(third.base_report().from_saved);
        assert_eq!(third.snapshot().sequence, 9_000);
        assert_eq!(third.snapshot().atlas.delta_size(), 0);
        assert!(third.snapshot().atlas.event_index("T8999").is_some());
        drop(third);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
