//! Atlas items as GeoJSON features (RFC 7946), shared by the query API and OGC API.

use serde::Serialize;
use serde_json::{Value, json};

use crate::atlas::Atlas;
use crate::model::{Base, LonLat};
use crate::query::Hit;

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

/// A date written `YYYY-MM-DD` without a trip through `fmt` and a `String` (a hundred
/// per near answer).
pub struct Day(pub chrono::NaiveDate);

impl Serialize for Day {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use chrono::Datelike;
        let (y, m, d) = (self.0.year(), self.0.month(), self.0.day());
        if !(0..=9999).contains(&y) {
            return s.collect_str(&self.0);
        }
        let digit = |n: u32| b'0' + (n % 10) as u8;
        let y = y as u32;
        let text = [
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
        ];
        s.serialize_str(std::str::from_utf8(&text).unwrap_or_default())
    }
}

#[derive(Serialize)]
pub struct EventProperties<'a> {
    pub id: &'a str,
    pub event_date: Day,
    pub event_type: &'a str,
    pub sub_event_type: &'a str,
    pub actor1: &'a str,
    pub actor2: &'a str,
    pub admin1: &'a str,
    pub admin2: &'a str,
    pub location: &'a str,
    /// ISO code of the region the point lies in (computed), `null` outside all regions.
    pub region: Option<&'a str>,
    pub fatalities: u32,
    pub geo_precision: Option<u8>,
    pub source: &'a str,
    pub notes: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub distance_km: Option<f64>,
}

/// Round a distance to the metre: more digits would be noise, not precision.
fn km(d: f64) -> f64 {
    (d * 1000.0).round() / 1000.0
}

pub fn event(atlas: &Atlas, hit: Hit) -> Feature<'_, EventProperties<'_>> {
    let e = atlas.event(hit.event);
    Feature::point(
        &e.id,
        e.pos,
        EventProperties {
            id: &e.id,
            event_date: Day(e.date),
            event_type: &e.event_type,
            sub_event_type: &e.sub_event_type,
            actor1: &e.actor1,
            actor2: &e.actor2,
            admin1: &e.admin1,
            admin2: &e.admin2,
            location: &e.location,
            region: atlas.region_of_event(hit.event).map(|r| r.id.as_str()),
            fatalities: e.fatalities,
            geo_precision: e.geo_precision,
            source: &e.source,
            notes: &e.notes,
            distance_km: hit.distance_km.map(km),
        },
    )
}

pub fn event_value(atlas: &Atlas, hit: Hit) -> Value {
    serde_json::to_value(event(atlas, hit)).unwrap_or(Value::Null)
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

    /// `Day` writes what chrono's `Display` writes, over four centuries and out to the
    /// ends of chrono's range.
    #[test]
    fn days_are_written_as_chrono_writes_them() {
        let mut d = chrono::NaiveDate::from_ymd_opt(1899, 12, 25).unwrap();
        let end = chrono::NaiveDate::from_ymd_opt(2300, 1, 5).unwrap();
        while d < end {
            assert_eq!(serde_json::to_string(&Day(d)).unwrap(), format!("\"{d}\""));
            d = d.succ_opt().unwrap();
        }
        for d in [
            chrono::NaiveDate::MIN,
            chrono::NaiveDate::MAX,
            chrono::NaiveDate::from_ymd_opt(0, 1, 1).unwrap(),
            chrono::NaiveDate::from_ymd_opt(9999, 12, 31).unwrap(),
        ] {
            assert_eq!(serde_json::to_string(&Day(d)).unwrap(), format!("\"{d}\""));
        }
    }
}
