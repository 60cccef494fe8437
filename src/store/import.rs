//! `import`: ACLED and UCDP exports into a store, so a deployment starts from its store
//! rather than from files. Rows go in batches, each committed with a mark of how far the
//! file has got: an import that was stopped resumes after its last committed batch.

use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::load::{LoadError, load_events_file};
use crate::model::words::Interner;
use crate::store::{Change, EventStore, ImportMark, StoreError};
use crate::support::progress::Progress;

/// Why an import stopped.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// A record of the file is bad.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What one file's import did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileImported {
    pub file: PathBuf,
    /// Events in the file.
    pub events: u64,
    /// Events committed by this run (the rest were committed by an earlier one).
    pub committed: u64,
}

/// Imports each of `files` into `store`, `batch` events per transaction.
///
/// # Errors
/// A file that cannot be read or parsed (named with its line and field), or the store
/// failing; batches committed before stay, and the next run resumes after them.
pub fn import_files(
    store: &dyn EventStore,
    files: &[PathBuf],
    batch: usize,
) -> Result<Vec<FileImported>, ImportError> {
    files
        .iter()
        .map(|f| import_file(store, f, batch.max(1)))
        .collect()
}

fn import_file(
    store: &dyn EventStore,
    file: &Path,
    batch: usize,
) -> Result<FileImported, ImportError> {
    let io = |source| ImportError::Io {
        path: file.to_path_buf(),
        source,
    };
    let path = std::fs::canonicalize(file).map_err(io)?;
    let bytes = std::fs::metadata(&path).map_err(io)?.len();
    let key = path.display().to_string();
    // The same path with another size is another export: start it again.
    let from = match store.import_mark(&key)? {
        Some(m) if m.bytes == bytes && m.done => {
            tracing::info!(file = %key, rows = m.rows, "already imported");
            return Ok(FileImported {
                file: path,
                events: m.rows,
                committed: 0,
            });
        }
        Some(m) if m.bytes == bytes => m.rows,
        _ => 0,
    };
    let started = Instant::now();
    let events = load_events_file(&path, &mut Interner::default(), None)?;
    let total = events.len() as u64;
    if from > 0 {
        tracing::info!(file = %key, from, total, "resuming");
    }
    let progress = Progress::new(&key, "events", total, from);
    let mut done = from.min(total);
    let mut rest = events.into_iter().skip(done as usize).peekable();
    loop {
        let changes: Vec<Change> = rest.by_ref().take(batch).map(Change::Upsert).collect();
        done += changes.len() as u64;
        let mark = ImportMark {
            file: key.clone(),
            bytes,
            rows: done,
            done: rest.peek().is_none(),
        };
        store.commit_import(&changes, &mark)?;
        progress.set(done);
        if mark.done {
            break;
        }
    }
    progress.finish(started);
    Ok(FileImported {
        file: path,
        events: total,
        committed: total - from.min(total),
    })
}
