//! Any bytes as an ACLED or UCDP CSV export: events or located errors, never a panic; every
//! event read has a position on the globe and an id.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sahel_atlas::{Interner, NoteSink, read_events_csv};

fuzz_target!(|data: &[u8]| {
    let path = std::path::Path::new("fuzz.csv");
    let read = (&mut Interner::default(), &mut NoteSink::heap());
    match read_events_csv(data, path, read, 100) {
        Ok(events) => {
            for e in events {
                assert!(e.pos.lon.abs() <= 180.0 && e.pos.lat.abs() <= 90.0, "{e:?}");
                assert!(!e.id.is_empty());
            }
        }
        Err(errors) => {
            assert!(!errors.is_empty() && errors.len() <= 100);
            for e in errors {
                assert!(e.to_string().starts_with("fuzz.csv"), "{e}");
            }
        }
    }
});
