//! Following a shared store: other replicas' commits applied as this process applies
//! its own, woken by the store's notices and polling in case one is lost.

use std::sync::Arc;

use super::{Live, Notice};
use crate::store::StoreError;

/// Changes fetched at a time when following a shared store.
pub(super) const FOLLOW_BATCH: usize = 50_000;

/// How long the follower waits for a notice before it polls anyway.
const FOLLOW_POLL: std::time::Duration = std::time::Duration::from_secs(1);

impl Live {
    /// Applies what other processes committed to a shared store since the current
    /// snapshot; returns the sequence number now visible.
    ///
    /// # Errors
    /// The store cannot be read (the snapshot stays as it was).
    pub(super) fn catch_up(self: &Arc<Self>) -> Result<u64, StoreError> {
        let _one_writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        self.catch_up_locked()
    }

    pub(super) fn catch_up_locked(self: &Arc<Self>) -> Result<u64, StoreError> {
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
}
