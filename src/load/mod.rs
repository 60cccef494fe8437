//! Reading and validating data files. Every error names the file, the line or feature,
//! the field and the problem, so a user can fix their export without reading our code.

mod events_csv;
mod events_geojson;
mod geojson_files;
mod split_csv;

use crate::words::Interner;
use std::fmt;
use std::path::{Path, PathBuf};

pub use events_csv::{EventFormat, read_events_csv};
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
    pub file: PathBuf,
    pub location: Location,
    pub field: Option<String>,
    pub problem: String,
}

impl LoadError {
    pub fn file(file: &Path, problem: impl Into<String>) -> Self {
        LoadError {
            file: file.to_path_buf(),
            location: Location::File,
            field: None,
            problem: problem.into(),
        }
    }

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
    pub regions: Vec<Region>,
    pub bases: Vec<Base>,
    pub places: Vec<Place>,
    pub events: Vec<Event>,
    pub basemap: Basemap,
}

/// Which event files to read besides (or instead of) the shipped `events.csv`.
#[derive(Debug, Clone, Default)]
pub struct EventSources {
    pub extra_files: Vec<PathBuf>,
    pub skip_shipped: bool,
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
        events.extend(load_events_file(file, &mut interner)?);
        ends.push(events.len());
    }
    check_unique_event_ids(&events, &event_files, &ends)?;
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

/// Catches ids used twice across files, or across the pieces of one file read in
/// parallel (each piece checks its own); `ends[i]` is one past file i's last event.
fn check_unique_event_ids(
    events: &[Event],
    files: &[PathBuf],
    ends: &[usize],
) -> Result<(), LoadError> {
    let mut seen: rustc_hash::FxHashMap<&str, usize> = Default::default();
    seen.reserve(events.len());
    let file_of = |i: usize| ends.partition_point(|&end| end <= i);
    for (i, e) in events.iter().enumerate() {
        let Some(first) = seen.insert(&e.id, i) else {
            continue;
        };
        let (a, b) = (file_of(first), file_of(i));
        if a == b {
            // Both in one file: the one-thread reader names both lines.
            split_csv::read_in_one(&files[a], &mut Interner::default())?;
        }
        return Err(LoadError::file(
            &files[b],
            format!("event id {:?} is also in {}", e.id, files[a].display()),
        ));
    }
    Ok(())
}
