//! Opening the atlas: read back from the saved base when the inputs are unchanged, else
//! built from the files; the store's writes laid over it; saving the base for the next
//! start; reloads.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use arc_swap::ArcSwap;

use super::follow::FOLLOW_BATCH;
use super::merge::merge_threshold;
use super::{BaseReport, Live, Notice, Reload, Snapshot};
use crate::atlas::{Atlas, saved};
use crate::load::{EventSources, LoadError, load_dataset, load_fixed};
use crate::store::{EventStore, StoreError};
use crate::tiles::cache::TileEpochs;

/// Where the data files are: read at start-up and again on each reload.
#[derive(Debug, Clone)]
pub struct Sources {
    /// The data directory (`geodata/`).
    pub dir: PathBuf,
    /// Which event files to read.
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
    /// A data file is bad or missing.
    #[error(transparent)]
    Files(#[from] LoadError),
    /// The store cannot be read.
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
    pub(super) fn save_base(&self, snap: Arc<Snapshot>, base_sequence: u64) {
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
            let saved = saved.map(|()| base_sequence).map_err(Arc::new);
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
                crate::support::memory::release_freed();
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
}
