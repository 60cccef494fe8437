//! Tile archives (`sahel-atlas export tiles`), read by independent readers: the PMTiles
//! archive with the Python `pmtiles` package, the MBTiles with sqlite3; tiles decoded with
//! mapbox-vector-tile and compared, tile by tile over every zoom, with what the live
//! server returns for the same tile and filters (`tests/truth/archive.py`).

mod common;

use std::process::Command;

use common::{Server, path_str, run_truth, scratch};

/// Exports z0-10 over the default box to `out` with `filter`; returns the tiles written.
fn export(format: &str, out: &std::path::Path, filter: &str) -> u64 {
    let data = common::geodata();
    let text = common::run_cli(&[
        "export".as_ref(),
        "tiles".as_ref(),
        "--format".as_ref(),
        format.as_ref(),
        "--maxzoom".as_ref(),
        "10".as_ref(),
        "--filter".as_ref(),
        filter.as_ref(),
        "--data".as_ref(),
        data.as_os_str(),
        "--out".as_ref(),
        out.as_os_str(),
    ]);
    // "wrote FILE: N tiles of M addresses ..."
    let n = text.split(": ").nth(1).and_then(|t| t.split(' ').next());
    n.and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no tile count in {text:?}"))
}

#[test]
fn exported_archives_match_the_live_tiles() {
    let dir = scratch("archives");
    let server = Server::start(&[]);
    for (format, file, filter) in [
        ("pmtiles", "all.pmtiles", ""),
        ("mbtiles", "all.mbtiles", ""),
        ("pmtiles", "battles.pmtiles", "from=2018&type=Battles"),
    ] {
        let out = dir.join(file);
        let written = export(format, &out, filter);
        let report = run_truth("archive.py", &[path_str(&out), &server.base, filter]);
        assert_eq!(
            report["mismatches"],
            serde_json::json!([]),
            "{file}: {report}"
        );
        assert_eq!(report["tiles"].as_u64(), Some(written), "{file}");
        assert_eq!(report["info"]["min_zoom"], 0);
        assert_eq!(report["info"]["max_zoom"], 10);
        assert_eq!(
            report["info"]["bounds"],
            serde_json::json!([-12.3, 10.1, 4.3, 25.0])
        );
        let layers = report["info"]["layers"].as_array().unwrap().len();
        assert_eq!(layers, 9, "{file}: {report}");
        let zooms: Vec<u64> = serde_json::from_value(report["zooms_compared"].clone()).unwrap();
        assert_eq!(zooms, (0..=10).collect::<Vec<_>>(), "{file}");
        assert!(
            report["compared"].as_u64().unwrap() >= 100,
            "{file}: {report}"
        );
        assert!(
            report["events_compared"].as_u64().unwrap() > 0,
            "{file}: {report}"
        );
        assert!(
            report["empty_checked"].as_u64().unwrap() > 0,
            "{file}: {report}"
        );
        if format == "pmtiles" {
            assert_eq!(report["info"]["tile_compression"], 2, "gzip");
        } else {
            assert_eq!(report["info"]["format"], "pbf");
        }
    }
    // Bad arguments are refused, naming them.
    let bad = Command::new(common::bin())
        .args(["export", "tiles", "--out"])
        .arg(dir.join("x.pmtiles"))
        .args(["--minzoom", "9", "--maxzoom", "3"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("zooms 9-3"));
}
