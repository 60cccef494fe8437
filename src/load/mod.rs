//! Reading and validating data files. Every error names the file, the line or feature,
//! the field and the problem, so a user can fix their export without reading our code.

mod events_csv;
mod events_geojson;
mod geojson_files;

use std::collections::HashSet;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use events_csv::{EventFormat, load_events_file, read_events_csv};
pub use events_geojson::read_events_geojson;
pub use geojson_files::{load_basemap, load_bases, load_places, load_regions};

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

/// Reads the data directory (`regions.geojson`, `bases.geojson`, `places.geojson`, the
/// base-map layers and `events.csv`) plus any extra ACLED/UCDP files.
pub fn load_dataset(dir: &Path, sources: &EventSources) -> Result<Dataset, LoadError> {
    let mut interner = Interner::default();
    let mut event_files = Vec::new();
    if !sources.skip_shipped {
        event_files.push(dir.join("events.csv"));
    }
    event_files.extend(sources.extra_files.iter().cloned());
    let mut events = Vec::new();
    for file in &event_files {
        events.extend(load_events_file(file, &mut interner)?);
    }
    check_unique_event_ids(&events, &event_files)?;
    Ok(Dataset {
        regions: load_regions(&dir.join("regions.geojson"))?,
        bases: load_bases(&dir.join("bases.geojson"))?,
        places: load_places(&dir.join("places.geojson"))?,
        basemap: load_basemap(dir)?,
        events,
    })
}

/// Ids are unique within a file (checked there); this catches clashes across files.
fn check_unique_event_ids(events: &[Event], files: &[PathBuf]) -> Result<(), LoadError> {
    let mut seen = HashSet::with_capacity(events.len());
    for e in events {
        if !seen.insert(e.id.clone()) {
            let names: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
            return Err(LoadError::file(
                Path::new(&names.join(", ")),
                format!(
                    "event id {:?} appears in more than one of these files",
                    e.id
                ),
            ));
        }
    }
    Ok(())
}

/// Shares one allocation between equal strings (event types, actors, places, sources).
#[derive(Default)]
pub struct Interner {
    set: rustc_hash::FxHashSet<Arc<str>>,
}

impl Interner {
    pub fn intern(&mut self, s: &str) -> Arc<str> {
        if let Some(a) = self.set.get(s) {
            return a.clone();
        }
        let a: Arc<str> = Arc::from(s);
        self.set.insert(a.clone());
        a
    }
}
