//! Events as GeoJSON: a Feature or FeatureCollection of Points whose properties are ACLED
//! (or UCDP) column names. Each feature becomes a record of those columns, with
//! `longitude`/`latitude` from its geometry, and goes through the same checks as a CSV
//! row; errors name the feature (1-based).

use std::collections::BTreeSet;
use std::path::Path;

use geojson::{Feature, GeoJson, GeometryValue};

use super::events_csv::IdCheck;
use super::events_csv::{ACLED_REQUIRED, UCDP_REQUIRED, events_of_records};
use super::{LoadError, Location};
use crate::model::Event;
use crate::model::notes::NoteSink;
use crate::model::words::Interner;

/// Reads the events of a GeoJSON Feature or FeatureCollection (`path` names it in errors):
/// every event, or the problems found (at most `max_errors`).
pub fn read_events_geojson(
    text: &str,
    path: &Path,
    interner: &mut Interner,
    max_errors: usize,
) -> Result<Vec<Event>, Vec<LoadError>> {
    let features = match text.parse::<GeoJson>() {
        Ok(GeoJson::FeatureCollection(fc)) => fc.features,
        Ok(GeoJson::Feature(f)) => vec![f],
        Ok(GeoJson::Geometry(_)) => {
            return Err(vec![LoadError::file(
                path,
                "is a bare geometry; send a Feature or FeatureCollection with ACLED properties",
            )]);
        }
        Err(e) => return Err(vec![LoadError::file(path, format!("is not GeoJSON: {e}"))]),
    };
    // The columns: every property name any feature has, and the coordinates.
    let mut names: BTreeSet<String> = features
        .iter()
        .flat_map(|f| f.properties.iter().flat_map(|p| p.keys().cloned()))
        .collect();
    // A required property no feature has is reported on every feature, not as a header.
    let ucdp = ["date_start", "type_of_violence"]
        .iter()
        .any(|n| names.contains(*n));
    let required = if ucdp { UCDP_REQUIRED } else { ACLED_REQUIRED };
    names.extend(required.iter().map(|n| n.to_string()));
    names.remove("longitude");
    names.remove("latitude");
    let header: csv::StringRecord = names
        .iter()
        .map(String::as_str)
        .chain(["longitude", "latitude"])
        .collect();
    let mut rows = features.iter().enumerate();
    let next = |record: &mut csv::StringRecord| {
        let Some((i, feature)) = rows.next() else {
            return Ok(None);
        };
        let at = Location::Feature(i + 1);
        *record = feature_record(feature, &names)
            .map_err(|(field, problem)| LoadError::at(path, at.clone(), field, problem))?;
        Ok(Some(at))
    };
    let read = (interner, IdCheck::Here, &mut NoteSink::heap());
    events_of_records(&header, next, path, read, max_errors)
}

/// One feature's values in `names` order, then longitude and latitude.
fn feature_record(
    f: &Feature,
    names: &BTreeSet<String>,
) -> Result<csv::StringRecord, (&'static str, String)> {
    let (lon, lat) = match f.geometry.as_ref().map(|g| &g.value) {
        Some(GeometryValue::Point { coordinates: c }) if c.len() >= 2 => (c[0], c[1]),
        Some(other) => {
            return Err((
                "geometry",
                format!("is a {}; events are Points", other.type_name()),
            ));
        }
        None => return Err(("geometry", "is missing; events are Points".to_string())),
    };
    let mut record = csv::StringRecord::new();
    // An event feature as this service writes it names its id `id` (property and
    // feature); ACLED's column is `event_id_cnty`: either is read.
    let feature_id = f.id.as_ref().map(|id| match id {
        geojson::feature::Id::String(s) => serde_json::Value::String(s.clone()),
        geojson::feature::Id::Number(n) => serde_json::Value::Number(n.clone()),
    });
    for name in names {
        let property = |name: &str| f.properties.as_ref().and_then(|p| p.get(name));
        let mut value = property(name).cloned();
        if name == "event_id_cnty" && value.is_none() {
            value = property("id").cloned().or_else(|| feature_id.clone());
        }
        match value.as_ref() {
            None | Some(serde_json::Value::Null) => record.push_field(""),
            Some(serde_json::Value::String(s)) => record.push_field(s),
            Some(serde_json::Value::Number(n)) => record.push_field(&n.to_string()),
            // Booleans, arrays and objects are no ACLED value (the body's schema says so).
            Some(_) => return Err(("properties", format!("{name} is not a string or number"))),
        }
    }
    record.push_field(&lon.to_string());
    record.push_field(&lat.to_string());
    Ok(record)
}
