//! Ingest: a write body read into events, all or nothing, with the vocabulary and notes a
//! written event keeps; the writes that follow; and the change log clients read.

use std::path::Path;

use serde_json::{Value, json};

use super::{Live, WriteError, Written};
use crate::load::{read_events_csv, read_events_geojson};
use crate::model::notes::NoteSink;
use crate::model::words::Interner;
use crate::model::{Change, Event};
use crate::store::{ChangeRecord, StoreError};

pub use crate::load::{LoadError as RecordError, Location};

/// How error messages name a request body.
const BODY: &str = "request body";

/// The formats a write body comes in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFormat {
    /// A GeoJSON Feature or FeatureCollection of Points with ACLED properties.
    GeoJson,
    /// An ACLED or UCDP CSV export, as `--events` reads it.
    Csv,
}

/// Reads the events of a write body, at most `max_errors` errors listed. With
/// `default_id`, a single GeoJSON Feature without an id is given it (a PUT's path).
///
/// # Errors
/// Every bad record (its line or feature, field and problem), a body that is not UTF-8
/// GeoJSON, or one that holds no events.
pub fn read_body(
    format: BodyFormat,
    body: &[u8],
    default_id: Option<&str>,
    max_errors: usize,
) -> Result<Vec<Event>, Vec<RecordError>> {
    let source = Path::new(BODY);
    let mut interner = Interner::default();
    let events = match format {
        BodyFormat::GeoJson => {
            let text = std::str::from_utf8(body)
                .map_err(|e| vec![RecordError::file(source, format!("is not UTF-8: {e}"))])?;
            let text = match default_id {
                Some(id) => with_default_id(text, id),
                None => text.to_string(),
            };
            read_events_geojson(&text, source, &mut interner, max_errors)?
        }
        BodyFormat::Csv => {
            // Written events keep their notes on the heap (see `crate::model::notes`).
            let read = (&mut interner, &mut NoteSink::heap());
            read_events_csv(body, source, read, max_errors)?
        }
    };
    if events.is_empty() {
        return Err(vec![RecordError::file(source, "holds no events")]);
    }
    Ok(events)
}

/// The one event a PUT of `id` replaces it with.
///
/// # Errors
/// A body of other than one event, or one whose id is not `id`.
pub fn one_event(mut events: Vec<Event>, id: &str) -> Result<Event, Vec<RecordError>> {
    if events.len() != 1 {
        let problem = format!("holds {} events; PUT replaces exactly one", events.len());
        return Err(vec![RecordError::file(Path::new(BODY), problem)]);
    }
    let event = events.remove(0);
    if *event.id != *id {
        let problem = format!("{:?} is not the id in the path ({id:?})", event.id);
        let at = Location::Feature(1);
        return Err(vec![RecordError::at(
            Path::new(BODY),
            at,
            "event_id_cnty",
            problem,
        )]);
    }
    Ok(event)
}

/// A single GeoJSON Feature given `event_id_cnty = id` unless it names an id itself
/// (anything else is passed on as it is, for the reader to judge).
fn with_default_id(text: &str, id: &str) -> String {
    let Ok(mut v) = serde_json::from_str::<Value>(text) else {
        return text.to_string();
    };
    if let Some(props) = v
        .get_mut("properties")
        .and_then(Value::as_object_mut)
        .filter(|p| !p.contains_key("event_id_cnty") && !p.contains_key("id"))
    {
        props.insert("event_id_cnty".into(), json!(id));
    }
    v.to_string()
}

impl Live {
    /// Inserts or updates `events` (by id), durably, all or nothing.
    ///
    /// # Errors
    /// The store failing (nothing is then visible or kept).
    pub fn upsert(self: &std::sync::Arc<Self>, events: Vec<Event>) -> Result<Written, WriteError> {
        let changes: Vec<Change> = events.into_iter().map(Change::Upsert).collect();
        self.write(&changes)
    }

    /// Deletes event `id`, durably.
    ///
    /// # Errors
    /// No such event, or the store failing.
    pub fn delete(self: &std::sync::Arc<Self>, id: &str) -> Result<Written, WriteError> {
        self.write(&[Change::Delete(id.into())])
    }

    /// The change log after `since`, oldest first, at most `limit`, and the last
    /// sequence number committed.
    ///
    /// # Errors
    /// The store cannot be read.
    pub fn changes_since(
        &self,
        since: u64,
        limit: usize,
    ) -> Result<(Vec<ChangeRecord>, u64), StoreError> {
        let list = self.store.changes_since(since, limit)?;
        Ok((list, self.store.sequence()?))
    }
}
