//! Plain data: what the loaders produce and the atlas indexes. No behaviour beyond
//! trivial accessors; spatial work lives in `geodesy`, `atlas` and `query`. Beside the
//! records: `words`, the vocabulary an event's shared text fields point into; `notes`,
//! where an event's notes live (heap or a mapped file); `text`, folding for search.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::NaiveDate;
use geo::{Geometry, MultiPolygon};

pub mod fields;
pub mod notes;
pub mod text;
pub mod words;

pub use notes::Notes;
pub use words::Word;

/// Index of a region in `Atlas::regions`.
pub type RegionIdx = u16;

/// A lon/lat position in degrees (WGS84).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LonLat {
    /// Longitude, degrees east.
    pub lon: f64,
    /// Latitude, degrees north.
    pub lat: f64,
}

impl LonLat {
    /// The position at `lon`, `lat`.
    pub fn new(lon: f64, lat: f64) -> Self {
        LonLat { lon, lat }
    }
}

/// A first-level administrative region with its ACLED fatalities per year.
#[derive(Debug, Clone)]
pub struct Region {
    /// ISO 3166-2 code, e.g. `ML-5`.
    pub id: String,
    pub name: String,
    pub name_fr: String,
    pub fatalities_by_year: BTreeMap<i32, u32>,
    pub geometry: MultiPolygon<f64>,
    pub label: LonLat,
}

/// A military or peacekeeping installation.
#[derive(Debug, Clone)]
pub struct Base {
    pub id: String,
    pub name: String,
    pub operator: String,
    pub kind: String,
    pub sector: Option<String>,
    pub town: String,
    pub opened: Option<i32>,
    pub closed: Option<i32>,
    pub coverage_km: f64,
    pub source: String,
    pub pos: LonLat,
}

impl Base {
    /// Whether the base was open at some point during `year` (unknown ends are open-ended).
    pub fn open_in(&self, year: i32) -> bool {
        self.opened.is_none_or(|o| o <= year) && self.closed.is_none_or(|c| year <= c)
    }
}

/// A gazetteer entry.
#[derive(Debug, Clone)]
pub struct Place {
    pub id: String,
    pub name: String,
    pub alt_names: Vec<String>,
    pub population: Option<u64>,
    pub feature_code: Option<String>,
    pub source: String,
    pub pos: LonLat,
}

/// ACLED's full export layout, in its order: what users load, what `gen-events` writes and
/// what CSV downloads follow.
pub const ACLED_COLUMNS: [&str; 31] = [
    "event_id_cnty",
    "event_date",
    "year",
    "time_precision",
    "disorder_type",
    "event_type",
    "sub_event_type",
    "actor1",
    "assoc_actor_1",
    "inter1",
    "actor2",
    "assoc_actor_2",
    "inter2",
    "interaction",
    "civilian_targeting",
    "iso",
    "region",
    "country",
    "admin1",
    "admin2",
    "admin3",
    "location",
    "latitude",
    "longitude",
    "geo_precision",
    "source",
    "source_scale",
    "notes",
    "fatalities",
    "tags",
    "timestamp",
];

/// One conflict event. Repeated text (types, actors, places, sources) is a [`Word`] of
/// the process-wide vocabulary; ids and notes are each event's own.
#[derive(Debug, Clone)]
pub struct Event {
    pub id: Arc<str>,
    pub date: NaiveDate,
    pub event_type: Word,
    pub sub_event_type: Word,
    pub actor1: Word,
    pub actor2: Word,
    pub admin1: Word,
    pub admin2: Word,
    pub location: Word,
    pub geo_precision: Option<u8>,
    pub fatalities: u32,
    pub source: Word,
    pub notes: Notes,
    pub pos: LonLat,
}

/// A feature of a base-map layer (country outline, neighbours, rivers, lakes).
#[derive(Debug, Clone)]
pub struct BasemapFeature {
    pub name: Option<String>,
    pub geometry: Geometry<f64>,
}

/// The base-map layers drawn under the data.
#[derive(Debug, Clone, Default)]
pub struct Basemap {
    pub country: Vec<BasemapFeature>,
    pub neighbours: Vec<BasemapFeature>,
    pub rivers: Vec<BasemapFeature>,
    pub lakes: Vec<BasemapFeature>,
}

/// One change to the events, as a client asked for it.
#[derive(Debug, Clone)]
pub enum Change {
    /// Insert the event, or replace the one with its id.
    Upsert(Event),
    /// Hide the event with this id (from the files or the store).
    Delete(Arc<str>),
}

impl Change {
    /// The id of the event this change is about.
    pub fn id(&self) -> &Arc<str> {
        match self {
            Change::Upsert(e) => &e.id,
            Change::Delete(id) => id,
        }
    }
}
