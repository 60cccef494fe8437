//! The background merge: a grown delta folded into a new base beside the serving
//! snapshot, the writes made meanwhile laid over it, then swapped in.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use super::{Live, Snapshot};
use crate::store::{Change, StoreError};

/// When the delta is folded into a new base: rebuilding costs about a second per
/// million events, so not for every write; a bigger delta makes each write slower.
pub(super) fn merge_threshold(base_events: usize) -> usize {
    (base_events / 64).max(8_192)
}

impl Live {
    /// Folds the delta into a new base in the background, unless a merge is under way.
    pub(super) fn start_merge(self: &Arc<Self>) {
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

    pub(super) fn delta_too_big(&self) -> bool {
        let atlas = &self.current.load().atlas;
        atlas.delta_size() > merge_threshold(atlas.base_events().len())
    }

    /// Builds the events of `snap` into a new base beside the serving snapshot, lays the
    /// writes made since `snap` over it, and swaps it in.
    pub(super) fn merge(&self, snap: Arc<Snapshot>) -> Result<(), StoreError> {
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
        crate::support::memory::release_freed();
        if let Some(bytes) = crate::support::memory::in_use_bytes() {
            tracing::info!(mb = bytes >> 20, "memory in use after the merge");
        }
        Ok(())
    }

    /// Sums the current snapshot's clusters and hexbins in the background (tiles and
    /// hexbin answers scan meanwhile).
    pub(super) fn prepare_summaries(&self) {
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
