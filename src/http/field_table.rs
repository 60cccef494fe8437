//! Tests that hold every place an event's fields are spelled out to the one table
//! (`model::fields`): the names each place uses, and values that survive each round trip
//! (a CSV download read back by the CSV reader, a feature read back by the GeoJSON
//! reader, the GeoPackage store, the saved base).

use std::collections::BTreeSet;
use std::path::Path;

use crate::atlas::Atlas;
use crate::model::fields::{EVENT_FIELDS, FieldType, FieldValue, InBody, names};
use crate::model::{ACLED_COLUMNS, Event};
use crate::query::Hit;
use crate::query::filter::EventProp;
use crate::query::props::Queryable;

fn set<'a>(names: impl IntoIterator<Item = &'a str>) -> BTreeSet<String> {
    names.into_iter().map(|s| s.trim().to_string()).collect()
}

/// The stored fields' ACLED columns.
fn stored() -> BTreeSet<String> {
    set(EVENT_FIELDS
        .iter()
        .filter(|f| f.stored)
        .filter_map(|f| f.acled))
}

/// The columns of the `events` table in `schema`, each with whether it may be null.
fn table_columns(schema: &str) -> Vec<(String, bool)> {
    let start = schema.find(" events (").expect("an events table");
    let body = &schema[start..];
    let body = &body[body.find('(').unwrap() + 1..body.find(");").unwrap()];
    body.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| {
            let name = l.split_whitespace().next().unwrap().to_string();
            let nullable = !(l.contains("NOT NULL") || l.contains("PRIMARY KEY"));
            (name, nullable)
        })
        .collect()
}

#[test]
fn every_place_names_the_fields_of_the_table() {
    // OGC queryables.
    assert_eq!(EventProp::NAMES, names(|f| f.filterable).as_slice());
    // A single event's attributes in the tiles (a cluster's `count` besides).
    let tile: BTreeSet<String> = crate::tiles::layers::EVENTS
        .fields
        .iter()
        .map(|f| f.name.to_string())
        .filter(|n| n != "count")
        .collect();
    assert_eq!(tile, set(names(|f| f.in_tiles)));
    // CSV downloads and readers: ACLED's columns hold every ACLED field.
    for f in EVENT_FIELDS.iter().filter_map(|f| f.acled) {
        assert!(ACLED_COLUMNS.contains(&f), "{f}");
    }
    // Both stores keep exactly the stored fields, null where the table allows.
    for (name, schema) in [
        ("GeoPackage", crate::store::gpkg::SCHEMA),
        ("PostGIS", crate::store::postgis::SCHEMA),
    ] {
        let columns = table_columns(schema);
        for f in EVENT_FIELDS.iter().filter(|f| f.stored) {
            let column = f.acled.unwrap();
            let found = columns.iter().find(|(c, _)| c == column);
            let (_, nullable) = found.unwrap_or_else(|| panic!("{name} lacks {column}"));
            assert_eq!(*nullable, f.nullable, "{name}: {column}");
        }
    }
    assert_eq!(set(crate::store::gpkg::COLUMNS.split(',')), stored());
    // PostGIS derives `year` from the date as it reads.
    let mut postgis = set(crate::store::postgis::COLUMNS.split(','));
    postgis.insert("year".into());
    assert_eq!(postgis, stored());
}

#[test]
fn the_write_body_schema_is_the_table() {
    let json = serde_json::to_value(super::body_schema::post_body()).unwrap();
    let props = &json["oneOf"][0]["properties"]["properties"];
    let listed: BTreeSet<String> = props["properties"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    let in_body = EVENT_FIELDS.iter().filter(|f| f.in_body != InBody::No);
    assert_eq!(listed, set(in_body.map(|f| f.column())));
    let required: BTreeSet<String> = props["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    let must = EVENT_FIELDS
        .iter()
        .filter(|f| f.in_body == InBody::Required);
    assert_eq!(required, set(must.map(|f| f.column())));
}

/// Every field of `back` equals `want`'s, by the table and as a whole (a getter that
/// read the wrong field would agree with itself).
fn same_fields(want: &Event, back: &Event, via: &str) {
    let whole = |e: &Event| {
        format!(
            "{:?}",
            Event {
                pos: crate::model::LonLat::new(0.0, 0.0),
                ..e.clone()
            }
        )
    };
    assert_eq!(whole(want), whole(back), "{via}");
    for f in EVENT_FIELDS {
        let Some(get) = f.get else { continue };
        let (a, b) = (get(want), get(back));
        let same = match (a, b) {
            (FieldValue::Float(x), FieldValue::Float(y)) => (x - y).abs() < 1e-9,
            _ => a == b,
        };
        assert!(same, "{via}: {} of {}: {a:?} became {b:?}", f.name, want.id);
    }
}

fn hits(atlas: &Atlas) -> Vec<Hit> {
    atlas
        .event_indices()
        .step_by(3)
        .map(|event| Hit {
            event,
            distance_km: None,
        })
        .collect()
}

#[test]
fn values_survive_every_round_trip() {
    let atlas = crate::synth::test_changed_atlas(1_500, 4);
    let hits = hits(&atlas);
    let want: Vec<&Event> = hits.iter().map(|h| atlas.event(h.event)).collect();
    assert!(want.iter().any(|e| e.geo_precision.is_none()) || want.len() > 100);
    // A CSV download, read back by the CSV reader.
    let mut csv = csv::Writer::from_writer(Vec::new());
    csv.write_record(ACLED_COLUMNS).unwrap();
    for h in &hits {
        let mut row = super::download::acled_row(&atlas, *h, false);
        row.pop(); // region_id: not an ACLED column
        csv.write_record(row).unwrap();
    }
    let bytes = csv.into_inner().unwrap();
    let mut interner = crate::model::words::Interner::default();
    let mut notes = crate::model::notes::NoteSink::heap();
    let read = crate::load::read_events_csv(
        &bytes[..],
        Path::new("d.csv"),
        (&mut interner, &mut notes),
        5,
    );
    for (w, b) in want.iter().zip(read.unwrap()) {
        same_fields(w, &b, "CSV download");
    }
    // Event features, read back by the GeoJSON reader (a write body).
    let mut text = br#"{"type":"FeatureCollection","features":["#.to_vec();
    for (k, h) in hits.iter().enumerate() {
        if k > 0 {
            text.push(b',');
        }
        super::features::write_event(&mut text, &atlas, *h);
    }
    text.extend_from_slice(b"]}");
    let text = String::from_utf8(text).unwrap();
    let read = crate::load::read_events_geojson(&text, Path::new("b.json"), &mut interner, 5);
    for (w, b) in want.iter().zip(read.unwrap()) {
        same_fields(w, &b, "GeoJSON feature");
    }
    // The GeoPackage store.
    let dir = std::env::temp_dir().join(format!("sahel-fields-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("s.gpkg");
    let store = crate::store::gpkg::GeoPackageStore::open(&path).unwrap();
    use crate::store::EventStore;
    let changes: Vec<_> = want
        .iter()
        .map(|e| crate::model::Change::Upsert((*e).clone()))
        .collect();
    store.commit(&changes).unwrap();
    let stored = store.load().unwrap();
    for (w, b) in want.iter().zip(&stored.events) {
        same_fields(w, b, "GeoPackage");
    }
    // The saved base.
    let base = dir.join("s.base");
    let mark = crate::atlas::saved::StoreMark {
        sequence: 0,
        last_change: String::new(),
    };
    atlas.merged().save_base(&base, "inputs", &mark).unwrap();
    let geodata = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("geodata");
    let fixed = crate::load::load_fixed(&geodata).unwrap();
    let (back, _) = Atlas::open_saved(fixed, &base, "inputs").unwrap().unwrap();
    for e in &want {
        let i = back.event_index(&e.id).expect("saved");
        same_fields(e, back.event(i), "saved base");
    }
    std::fs::remove_dir_all(&dir).unwrap();
    // Every typed field was compared somewhere above.
    assert!(
        EVENT_FIELDS
            .iter()
            .all(|f| f.get.is_some() || f.ty == FieldType::Region)
    );
}
