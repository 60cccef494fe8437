//! Writes: committed to the store first (the client's 2xx means it is on disk), then a
//! snapshot with a new delta swapped in.

use std::collections::HashSet;
use std::sync::Arc;

use super::{Live, Notice, Snapshot};
use crate::atlas::Atlas;
use crate::store::{Change, ChangeRecord, StoreError};

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

impl Live {
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
    pub(super) fn apply_locked(
        self: &Arc<Self>,
        snap: &Snapshot,
        changes: &[Change],
        sequence: u64,
    ) {
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
