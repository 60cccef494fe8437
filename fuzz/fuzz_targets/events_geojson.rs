//! Any text as the GeoJSON body of a write (a Feature or FeatureCollection of ACLED events):
//! events or located errors, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sahel_atlas::{Interner, read_events_geojson};

fuzz_target!(|text: &str| {
    let path = std::path::Path::new("body");
    match read_events_geojson(text, path, &mut Interner::default(), 100) {
        Ok(events) => {
            for e in events {
                assert!(e.pos.lon.abs() <= 180.0 && e.pos.lat.abs() <= 90.0, "{e:?}");
            }
        }
        Err(errors) => assert!(!errors.is_empty() && errors.len() <= 100),
    }
});
