//! Atlas items as GeoJSON features (RFC 7946), shared by the query API and OGC API.

use serde::Serialize;
use serde_json::{Value, json};

use crate::atlas::Atlas;
use crate::model::fields::{EVENT_FIELDS, FieldValue};
use crate::model::{Base, LonLat};
use crate::query::Hit;

use super::json_text::{write_str, write_value};

/// GeoJSON Point geometry.
#[derive(Serialize)]
pub struct PointGeometry {
    #[serde(rename = "type")]
    kind: &'static str,
    coordinates: [f64; 2],
}

impl From<LonLat> for PointGeometry {
    fn from(p: LonLat) -> Self {
        PointGeometry {
            kind: "Point",
            coordinates: [p.lon, p.lat],
        }
    }
}

#[derive(Serialize)]
pub struct Feature<'a, P: Serialize> {
    #[serde(rename = "type")]
    kind: &'static str,
    id: &'a str,
    geometry: PointGeometry,
    properties: P,
}

impl<'a, P: Serialize> Feature<'a, P> {
    pub fn point(id: &'a str, pos: LonLat, properties: P) -> Self {
        Feature {
            kind: "Feature",
            id,
            geometry: pos.into(),
            properties,
        }
    }
}

/// Round a distance to the metre: more digits would be noise, not precision.
fn km(d: f64) -> f64 {
    (d * 1000.0).round() / 1000.0
}

/// Writes event `hit` as a GeoJSON feature: every field of the event, the region its
/// point lies in (ISO code, `null` outside all regions) and, for a search around a point,
/// `distance_km` (to the metre). Written directly (see `json_text`): event features are
/// most of what the service sends.
pub fn write_event(out: &mut Vec<u8>, atlas: &Atlas, hit: Hit) {
    let e = atlas.event(hit.event);
    out.extend_from_slice(br#"{"type":"Feature","id":"#);
    write_str(out, &e.id);
    out.extend_from_slice(br#","geometry":{"type":"Point","coordinates":["#);
    write_value(out, &e.pos.lon);
    out.push(b',');
    write_value(out, &e.pos.lat);
    out.extend_from_slice(br#"]},"properties":{"#);
    for (k, f) in EVENT_FIELDS.iter().filter(|f| f.in_features).enumerate() {
        if k > 0 {
            out.push(b',');
        }
        // Field names are plain ASCII identifiers: nothing to escape.
        out.push(b'"');
        out.extend_from_slice(f.name.as_bytes());
        out.extend_from_slice(b"\":");
        let value = match f.get {
            Some(get) => get(e),
            None => atlas
                .region_of_event(hit.event)
                .map_or(FieldValue::Null, |r| FieldValue::Text(&r.id)),
        };
        match value {
            FieldValue::Text(s) => write_str(out, s),
            FieldValue::Date(d) => write_day(out, d),
            FieldValue::Uint(n) => write_value(out, &n),
            FieldValue::Float(x) => write_value(out, &x),
            FieldValue::Null => out.extend_from_slice(b"null"),
        }
    }
    if let Some(d) = hit.distance_km {
        out.extend_from_slice(br#","distance_km":"#);
        write_value(out, &km(d));
    }
    out.extend_from_slice(b"}}");
}

/// A date as `"YYYY-MM-DD"`, without a trip through `fmt` and a `String`.
fn write_day(out: &mut Vec<u8>, day: chrono::NaiveDate) {
    use chrono::Datelike;
    let (y, m, d) = (day.year(), day.month(), day.day());
    if !(0..=9999).contains(&y) {
        return write_str(out, &day.to_string());
    }
    let digit = |n: u32| b'0' + (n % 10) as u8;
    let y = y as u32;
    out.extend_from_slice(&[
        b'"',
        digit(y / 1000),
        digit(y / 100),
        digit(y / 10),
        digit(y),
        b'-',
        digit(m / 10),
        digit(m),
        b'-',
        digit(d / 10),
        digit(d),
        b'"',
    ]);
}

/// The feature [`write_event`] writes, as a value (OGC API pages are built as values).
pub fn event_value(atlas: &Atlas, hit: Hit) -> Value {
    let mut out = Vec::with_capacity(1024);
    write_event(&mut out, atlas, hit);
    serde_json::from_slice(&out).unwrap_or(Value::Null)
}

pub fn base_properties(atlas: &Atlas, i: usize) -> Value {
    let b: &Base = &atlas.bases()[i];
    json!({
        "id": b.id,
        "name": b.name,
        "operator": b.operator,
        "kind": b.kind,
        "sector": b.sector,
        "town": b.town,
        "opened": b.opened,
        "closed": b.closed,
        "coverage_km": b.coverage_km,
        "region": atlas.base_region()[i].map(|r| &atlas.regions()[r as usize].id),
        "source": b.source,
    })
}

pub fn base(atlas: &Atlas, i: usize) -> Value {
    let b = &atlas.bases()[i];
    json!(Feature::point(&b.id, b.pos, base_properties(atlas, i)))
}

pub fn place(atlas: &Atlas, i: usize) -> Value {
    let p = &atlas.places()[i];
    json!(Feature::point(
        &p.id,
        p.pos,
        json!({
            "id": p.id,
            "name": p.name,
            "alt_names": p.alt_names,
            "population": p.population,
            "feature_code": p.feature_code,
            "region": atlas.place_region()[i].map(|r| &atlas.regions()[r as usize].id),
            "source": p.source,
        })
    ))
}

/// A region with its geometry, the ACLED fatalities by year, and how many of the loaded
/// events fall in it.
pub fn region(atlas: &Atlas, i: usize) -> Value {
    let r = &atlas.regions()[i];
    let total: u64 = r.fatalities_by_year.values().map(|&v| v as u64).sum();
    json!({
        "type": "Feature",
        "id": r.id,
        "geometry": geojson::Geometry::from(&r.geometry),
        "properties": {
            "id": r.id,
            "name": r.name,
            "name_fr": r.name_fr,
            "fatalities_by_year": r.fatalities_by_year,
            "fatalities_total": total,
            "fatalities_source": "ACLED, as printed in EPON (2019) Figure 5",
            "events": atlas.region_event_count()[i],
            "label": [r.label.lon, r.label.lat],
        }
    })
}

/// A GeoJSON Polygon for a `geo` polygon.
pub fn polygon_geometry(p: &geo::Polygon<f64>) -> Value {
    json!(geojson::Geometry::from(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The written feature is, byte for byte, what serde_json makes of the event's fields
    /// put together by hand: events in and outside regions, with and without a distance,
    /// written ones included.
    #[test]
    fn events_are_written_as_serde_json_writes_their_fields() {
        let atlas = crate::synth::test_changed_atlas(3_000, 8);
        let mut checked = 0;
        for (n, i) in atlas.event_indices().enumerate().step_by(7) {
            let e = atlas.event(i);
            let distance = (n % 2 == 0).then_some(n as f64 * 0.123_456_7);
            let mut want = json!({
                "type": "Feature",
                "id": &*e.id,
                "geometry": {"type": "Point", "coordinates": [e.pos.lon, e.pos.lat]},
                "properties": {
                    "id": &*e.id,
                    "event_date": e.date.to_string(),
                    "event_type": e.event_type.as_str(),
                    "sub_event_type": e.sub_event_type.as_str(),
                    "actor1": e.actor1.as_str(),
                    "actor2": e.actor2.as_str(),
                    "admin1": e.admin1.as_str(),
                    "admin2": e.admin2.as_str(),
                    "location": e.location.as_str(),
                    "region": atlas.region_of_event(i).map(|r| r.id.clone()),
                    "fatalities": e.fatalities,
                    "geo_precision": e.geo_precision,
                    "source": e.source.as_str(),
                    "notes": &*e.notes,
                },
            });
            if let Some(d) = distance {
                want["properties"]["distance_km"] = json!((d * 1000.0).round() / 1000.0);
            }
            let mut out = Vec::new();
            let hit = Hit {
                event: i,
                distance_km: distance,
            };
            write_event(&mut out, &atlas, hit);
            assert_eq!(
                String::from_utf8(out).unwrap(),
                want.to_string(),
                "event {i}"
            );
            checked += 1;
        }
        assert!(checked > 300, "{checked}");
    }

    /// Dates are written as chrono writes them, over four centuries and out to the ends
    /// of chrono's range.
    #[test]
    fn days_are_written_as_chrono_writes_them() {
        let check = |d: chrono::NaiveDate| {
            let mut out = Vec::new();
            write_day(&mut out, d);
            assert_eq!(String::from_utf8(out).unwrap(), format!("\"{d}\""));
        };
        let mut d = chrono::NaiveDate::from_ymd_opt(1899, 12, 25).unwrap();
        let end = chrono::NaiveDate::from_ymd_opt(2300, 1, 5).unwrap();
        while d < end {
            check(d);
            d = d.succ_opt().unwrap();
        }
        for d in [
            chrono::NaiveDate::MIN,
            chrono::NaiveDate::MAX,
            chrono::NaiveDate::from_ymd_opt(0, 1, 1).unwrap(),
            chrono::NaiveDate::from_ymd_opt(9999, 12, 31).unwrap(),
        ] {
            check(d);
        }
    }
}
