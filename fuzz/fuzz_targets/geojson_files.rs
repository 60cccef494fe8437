//! Any bytes as the shipped GeoJSON files (regions, bases, places): what loads, or an error
//! naming the file, never a panic.
#![no_main]

use std::io::Write;

use libfuzzer_sys::fuzz_target;
use sahel_atlas::{load_bases, load_places, load_regions};

fuzz_target!(|data: &[u8]| {
    // The loaders read files, as the server does: one per fuzzing process, rewritten.
    let path = std::env::temp_dir().join(format!("sahel-fuzz-{}.geojson", std::process::id()));
    std::fs::File::create(&path)
        .unwrap()
        .write_all(data)
        .unwrap();
    let name = path.display().to_string();
    for result in [
        load_regions(&path).map(|r| r.len()),
        load_bases(&path).map(|b| b.len()),
        load_places(&path).map(|p| p.len()),
    ] {
        if let Err(e) = result {
            assert!(e.to_string().contains(&name), "{e}");
        }
    }
});
