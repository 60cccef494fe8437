//! Tile archives (`sahel-atlas export tiles`), read by independent readers: the PMTiles
//! archive with the Python `pmtiles` package, the MBTiles with sqlite3; tiles decoded with
//! mapbox-vector-tile and compared, tile by tile over every zoom, with what the live
//! server returns for the same tile and filters (`tests/truth/archive.py`). Then the round
//! trip: the same archives served by `serve --archive` answer what the live tiles answer.

mod common;

use std::process::Command;

use common::{Server, get, get_with, path_str, run_truth, scratch};

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

/// The archives exported: name, format, file, filter.
const ARCHIVES: [(&str, &str, &str, &str); 3] = [
    ("all", "pmtiles", "all.pmtiles", ""),
    ("allmb", "mbtiles", "all.mbtiles", ""),
    (
        "battles",
        "pmtiles",
        "battles.pmtiles",
        "from=2018&type=Battles",
    ),
];

#[test]
fn exported_archives_match_the_live_tiles() {
    let dir = scratch("archives");
    let mut written = Vec::new();
    for (_, format, file, filter) in ARCHIVES {
        written.push(export(format, &dir.join(file), filter));
    }
    let specs: Vec<String> = ARCHIVES
        .iter()
        .map(|(name, _, file, _)| format!("{name}={}", dir.join(file).display()))
        .collect();
    let mut args = vec![
        "--archive",
        "cdn=https://tiles.example.org:8443/mali.pmtiles",
    ];
    for spec in &specs {
        args.extend(["--archive", spec.as_str()]);
    }
    let server = Server::start(&args);
    for ((name, format, file, filter), written) in ARCHIVES.into_iter().zip(written) {
        let out = dir.join(file);
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
        served_as_live(&server, name, filter);
    }
    archive_endpoints(&server);
    archive_files(&server, &std::fs::read(dir.join("all.pmtiles")).unwrap());
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

/// Tiles over every zoom of the archive: at each zoom, the whole world's corners and the
/// tiles over four towns, plus one past the archive's last zoom.
fn sample_tiles() -> Vec<(u8, u32, u32)> {
    let mut tiles = Vec::new();
    for z in 0..=11u8 {
        let last = (1u32 << z) - 1;
        tiles.extend([(z, 0, 0), (z, last, last)]);
        for (lon, lat) in [(-4.19, 14.49), (0.04, 16.27), (1.41, 18.44), (-8.0, 12.65)] {
            let (x, y) = common::tile_of(lon, lat, z);
            tiles.push((z, x, y));
        }
    }
    tiles.sort_unstable();
    tiles.dedup();
    tiles
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Read;
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut out)
        .expect("a gzip body");
    out
}

/// Every sampled tile of archive `name` is the live tile with `filter`, byte for byte once
/// unzipped, with gzip as stored to a client that takes it and plain MVT to one that does
/// not; 204 where the live server has an empty tile or the archive stops; ETags revalidate.
fn served_as_live(server: &Server, name: &str, filter: &str) {
    let (mut full, mut empty) = (0, 0);
    for (z, x, y) in sample_tiles() {
        let q = if filter.is_empty() {
            String::new()
        } else {
            format!("?{filter}")
        };
        let live = common::get_with(
            &format!("{}/tiles/{z}/{x}/{y}.mvt{q}", server.base),
            &[("Accept-Encoding", "gzip")],
        );
        let url = format!("{}/archives/{name}/{z}/{x}/{y}.mvt", server.base);
        let zipped = common::get_with(&url, &[("Accept-Encoding", "gzip")]);
        let plain = common::get_with(&url, &[("Accept-Encoding", "identity")]);
        let at = format!("{name} {z}/{x}/{y}");
        if z > 10 || live.status == 204 {
            assert_eq!((zipped.status, plain.status), (204, 204), "{at}");
            assert!(zipped.bytes.is_empty(), "{at}");
            empty += 1;
            continue;
        }
        assert_eq!(
            (live.status, zipped.status, plain.status),
            (200, 200, 200),
            "{at}"
        );
        for (reply, encoding) in [(&zipped, Some("gzip")), (&plain, None)] {
            assert_eq!(
                reply.content_type, "application/vnd.mapbox-vector-tile",
                "{at}"
            );
            assert_eq!(reply.header("content-encoding"), encoding, "{at}");
            assert_eq!(
                reply.header("cache-control"),
                live.header("cache-control"),
                "{at}"
            );
            assert_eq!(reply.header("vary"), Some("Accept-Encoding"), "{at}");
        }
        let live_mvt = gunzip(&live.bytes);
        assert_eq!(
            gunzip(&zipped.bytes),
            live_mvt,
            "{at}: the archive's tile differs"
        );
        assert_eq!(
            plain.bytes, live_mvt,
            "{at}: unzipped for a client without gzip"
        );
        let etag = zipped.header("etag").expect("an ETag");
        let again = common::get_with(&url, &[("If-None-Match", etag)]);
        assert_eq!(again.status, 304, "{at}");
        assert!(again.bytes.is_empty(), "{at}");
        full += 1;
    }
    assert!(
        full >= 30 && empty >= 10,
        "{name}: {full} tiles compared, {empty} empty"
    );
}

/// The list, TileJSON, and what a client gets wrong.
fn archive_endpoints(server: &Server) {
    let list = server.json("/archives");
    let names: Vec<&str> = list["archives"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["cdn", "all", "allmb", "battles"]);
    assert_eq!(list["archives"][2]["format"], "mbtiles");
    assert_eq!(
        list["archives"][1]["url"],
        format!("{}/archives/all/archive.pmtiles", server.base)
    );
    for name in &names[1..] {
        let tj = server.json(&format!("/archives/{name}/tiles.json"));
        assert_eq!(tj["tilejson"], "3.0.0");
        assert_eq!(
            tj["tiles"][0],
            format!("{}/archives/{name}/{{z}}/{{x}}/{{y}}.mvt", server.base)
        );
        assert_eq!(
            (tj["minzoom"].as_u64(), tj["maxzoom"].as_u64()),
            (Some(0), Some(10))
        );
        assert_eq!(tj["bounds"], serde_json::json!([-12.3, 10.1, 4.3, 25.0]));
        let live = server.json("/tiles.json");
        assert_eq!(tj["vector_layers"], live["vector_layers"], "{name}");
        assert_eq!(tj["attribution"], live["attribution"], "{name}");
    }
    let missing = server.get("/archives/nope/3/3/3.mvt");
    assert_eq!(missing.status, 404);
    assert!(
        missing.body.contains("all, allmb, battles"),
        "{}",
        missing.body
    );
    assert_eq!(
        server.get("/archives/all/3/9/0.mvt").status,
        422,
        "x beyond 2^z"
    );
    // The style draws the base map from an archive and events live, with the filters.
    let style = server.json("/style.json?basemap=all&from=2019");
    let base = &style["sources"]["basemap"];
    assert_eq!(
        base["tiles"][0],
        format!("{}/archives/all/{{z}}/{{x}}/{{y}}.mvt", server.base)
    );
    assert_eq!(base["maxzoom"], 10);
    assert_eq!(
        style["sources"]["sahel"]["tiles"][0],
        format!("{}/tiles/{{z}}/{{x}}/{{y}}.mvt?from=2019", server.base)
    );
    let source_of = |id: &str| {
        let layers = style["layers"].as_array().unwrap();
        let l = layers.iter().find(|l| l["id"] == id).unwrap();
        l["source"].as_str().unwrap().to_string()
    };
    assert_eq!(source_of("rivers"), "basemap");
    assert_eq!(source_of("events"), "sahel");
    assert_eq!(source_of("regions"), "sahel");
    // A remote archive: the style reads it through the web map's pmtiles:// protocol, and
    // the page's content security policy lets the map fetch from its origin.
    let remote = server.json("/style.json?basemap=cdn");
    assert_eq!(
        remote["sources"]["basemap"]["url"],
        "pmtiles://https://tiles.example.org:8443/mali.pmtiles"
    );
    let page = server.get("/");
    let csp = page.header("content-security-policy").unwrap_or("");
    assert!(
        csp.contains("connect-src 'self' https://tiles.example.org:8443;"),
        "{csp}"
    );
    assert_eq!(server.get("/archives/cdn/tiles.json").status, 404);
    let bad = server.get("/style.json?basemap=nope");
    assert_eq!(bad.status, 422);
    assert_eq!(bad.json()["parameter"], "basemap");
}

#[test]
fn serve_refuses_bad_archives_naming_them() {
    let dir = scratch("bad-archives");
    let junk = dir.join("junk.pmtiles");
    std::fs::write(&junk, b"not an archive at all").unwrap();
    let truncated = dir.join("truncated.pmtiles");
    std::fs::write(&truncated, b"PMTiles\x03 and then nothing").unwrap();
    for (arg, expect) in [
        (
            format!("x={}", junk.display()),
            "neither a PMTiles v3 nor an MBTiles",
        ),
        (format!("x={}", truncated.display()), "header"),
        (
            format!("x={}", dir.join("missing.pmtiles").display()),
            "No such file",
        ),
        ("no-equals-sign".to_string(), "expected NAME=FILE"),
        (format!("a/b={}", junk.display()), "the name may hold only"),
    ] {
        let out = Command::new(common::bin())
            .args(["serve", "--addr", "127.0.0.1:0", "--archive", &arg])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{arg}");
        assert!(
            err.contains(expect) && err.contains("--archive"),
            "{arg}: {err}"
        );
    }
}

/// The PMTiles file itself, as object storage serves it: whole, or by byte range.
fn archive_files(server: &Server, file: &[u8]) {
    let url = format!("{}/archives/all/archive.pmtiles", server.base);
    let whole = get(&url);
    assert_eq!(whole.status, 200);
    assert_eq!(whole.bytes.len(), file.len());
    assert!(whole.bytes == file, "the whole file, byte for byte");
    assert_eq!(whole.header("accept-ranges"), Some("bytes"));
    let etag = whole.header("etag").unwrap().to_string();
    let n = file.len();
    for (range, from, to) in [
        ("bytes=0-6".to_string(), 0, 6),
        (format!("bytes={}-", n - 10), n - 10, n - 1),
        ("bytes=-100".to_string(), n - 100, n - 1),
        (format!("bytes=127-{}", n + 1000), 127, n - 1),
    ] {
        let part = get_with(&url, &[("Range", range.as_str())]);
        assert_eq!(part.status, 206, "{range}");
        assert!(part.bytes == file[from..=to], "{range}");
        let content_range = format!("bytes {from}-{to}/{n}");
        assert_eq!(part.header("content-range"), Some(content_range.as_str()));
        assert_eq!(part.header("etag"), Some(etag.as_str()));
    }
    assert_eq!(&get_with(&url, &[("Range", "bytes=0-6")]).bytes, b"PMTiles");
    let past = get_with(&url, &[("Range", &format!("bytes={n}-"))]);
    assert_eq!(past.status, 416);
    assert_eq!(
        past.header("content-range"),
        Some(format!("bytes */{n}").as_str())
    );
    let mb = get(&format!("{}/archives/allmb/archive.pmtiles", server.base));
    assert_eq!(mb.status, 404, "an MBTiles archive is not served whole");
}
