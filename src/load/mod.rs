//! Reading and validating data files. Every error names the file, the line or feature,
//! the field and the problem, so a user can fix their export without reading our code.

mod events_csv;
mod events_geojson;
mod geojson_files;
mod split_csv;

use crate::model::words::Interner;
use std::fmt;
use std::path::{Path, PathBuf};

pub use events_csv::read_events_csv;
pub use events_geojson::read_events_geojson;
pub use geojson_files::{load_basemap, load_bases, load_places, load_regions};
pub use split_csv::load_events_file;

use crate::model::{Base, Basemap, Event, Place, Region};

/// Where in a file a problem is.
#[derive(Debug, Clone, PartialEq)]
pub enum Location {
    File,
    Line(u64),
    Feature(usize),
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::File => Ok(()),
            Location::Line(n) => write!(f, "line {n}: "),
            Location::Feature(i) => write!(f, "feature {i}: "),
        }
    }
}

/// A data file that cannot be used, and exactly why.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{}: {location}{}{problem}", file.display(), field.as_ref().map(|f| format!("field `{f}`: ")).unwrap_or_default())]
pub struct LoadError {
    /// The file.
    pub file: PathBuf,
    /// Where in it.
    pub location: Location,
    /// The field, when one is at fault.
    pub field: Option<String>,
    /// What is wrong.
    pub problem: String,
}

impl LoadError {
    /// A problem with the file as a whole.
    pub fn file(file: &Path, problem: impl Into<String>) -> Self {
        LoadError {
            file: file.to_path_buf(),
            location: Location::File,
            field: None,
            problem: problem.into(),
        }
    }

    /// A problem at `location`, in `field`.
    pub fn at(file: &Path, location: Location, field: &str, problem: impl Into<String>) -> Self {
        LoadError {
            file: file.to_path_buf(),
            location,
            field: Some(field.to_string()),
            problem: problem.into(),
        }
    }
}

/// Everything the service serves, as read from disk and validated.
#[derive(Debug, Default)]
pub struct Dataset {
    /// Regions with their polygons.
    pub regions: Vec<Region>,
    /// Bases.
    pub bases: Vec<Base>,
    /// The gazetteer.
    pub places: Vec<Place>,
    /// Events, from every event file.
    pub events: Vec<Event>,
    /// The base map's layers.
    pub basemap: Basemap,
}

/// Which event files to read besides (or instead of) the shipped `events.csv`.
#[derive(Debug, Clone, Default)]
pub struct EventSources {
    /// Event files read besides the shipped one.
    pub extra_files: Vec<PathBuf>,
    /// Leave out the shipped `events.csv`.
    pub skip_shipped: bool,
    /// Where the events' notes are kept while they are served, off the heap (see
    /// [`crate::model::notes`]); `None`: on the heap.
    pub notes_dir: Option<PathBuf>,
}

impl EventSources {
    /// The event files to read, in order: the shipped `events.csv` of `dir` unless
    /// skipped, then the extra files.
    pub fn files(&self, dir: &Path) -> Vec<PathBuf> {
        let shipped = (!self.skip_shipped).then(|| dir.join("events.csv"));
        shipped
            .into_iter()
            .chain(self.extra_files.iter().cloned())
            .collect()
    }
}

/// Reads the data directory (`regions.geojson`, `bases.geojson`, `places.geojson`, the
/// base-map layers and `events.csv`) plus any extra ACLED/UCDP files.
pub fn load_dataset(dir: &Path, sources: &EventSources) -> Result<Dataset, LoadError> {
    let mut interner = Interner::default();
    let event_files = sources.files(dir);
    let mut events = Vec::new();
    let mut ends = Vec::new();
    for file in &event_files {
        events.extend(load_events_file(
            file,
            &mut interner,
            sources.notes_dir.as_deref(),
        )?);
        ends.push(events.len());
    }
    // Each file's own ids are checked as it is read.
    if event_files.len() > 1 {
        check_ids_across_files(&events, &event_files, &ends)?;
    }
    Ok(Dataset {
        events,
        ..load_fixed(dir)?
    })
}

/// Reads everything of the data directory but the events.
pub fn load_fixed(dir: &Path) -> Result<Dataset, LoadError> {
    Ok(Dataset {
        regions: load_regions(&dir.join("regions.geojson"))?,
        bases: load_bases(&dir.join("bases.geojson"))?,
        places: load_places(&dir.join("places.geojson"))?,
        basemap: load_basemap(dir)?,
        events: Vec::new(),
    })
}

/// Catches an id used in two files, each already free of repeats; `ends[i]` is one past
/// file i's last event.
fn check_ids_across_files(
    events: &[Event],
    files: &[PathBuf],
    ends: &[usize],
) -> Result<(), LoadError> {
    let Some((first, again)) = repeated_id(events.len(), |i| &events[i].id) else {
        return Ok(());
    };
    let file_of = |i: usize| ends.partition_point(|&end| end <= i);
    let (a, b) = (file_of(first), file_of(again));
    Err(LoadError::file(
        &files[b],
        format!(
            "event id {:?} is also in {}",
            events[again].id,
            files[a].display()
        ),
    ))
}

/// Two of `n` events with one id (`id_of(i)` is event `i`'s): the first event whose id
/// an earlier one has, and that earlier one.
///
/// # Runtime
/// A sort of the ids' hashes: 10M ids in well under a second, against several for a hash
/// map of them.
pub fn repeated_id<'a>(n: usize, id_of: impl Fn(usize) -> &'a str) -> Option<(usize, usize)> {
    let mut keyed: Vec<(u64, u32)> = (0..n)
        .map(|i| {
            (
                twox_hash::XxHash3_64::oneshot(id_of(i).as_bytes()),
                i as u32,
            )
        })
        .collect();
    keyed.sort_unstable();
    let id = |k: &(u64, u32)| id_of(k.1 as usize);
    keyed
        .chunk_by(|a, b| a.0 == b.0)
        .filter_map(|run| {
            // Equal hashes, in event order: the first event whose id an earlier one has
            // (almost always the run's first; others only for colliding hashes).
            run.iter().enumerate().skip(1).find_map(|(k, later)| {
                let earlier = run[..k].iter().find(|e| id(e) == id(later))?;
                Some((earlier.1 as usize, later.1 as usize))
            })
        })
        .min_by_key(|&(_, again)| again)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The sorted-hash search finds what a scan in file order with a map finds: the first
    /// event whose id came before, and that id's first event.
    #[test]
    fn repeated_id_is_the_first_repeat_in_order() {
        let mut seed = 7u64;
        for round in 0..200 {
            let n = 1 + round % 40;
            let ids: Vec<String> = (0..n)
                .map(|_| {
                    seed = seed
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    format!("E{}", (seed >> 33) % (2 * n as u64))
                })
                .collect();
            let mut first = std::collections::HashMap::new();
            let scanned = ids.iter().enumerate().find_map(|(j, id)| {
                let i = *first.entry(id).or_insert(j);
                (i != j).then_some((i, j))
            });
            assert_eq!(repeated_id(n, |i| &ids[i]), scanned, "{ids:?}");
        }
    }
}
