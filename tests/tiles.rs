//! Vector tiles through HTTP, decoded by an independent decoder (Python
//! `mapbox-vector-tile`) and checked against the source files: layers, counts, attributes,
//! points inside their tile, cluster counts adding up, region area, and the 204/304/400
//! paths.
#![allow(clippy::too_many_lines, reason = "a test scenario reads top to bottom")]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use common::*;
use serde_json::Value;

struct CsvEvent {
    id: String,
    date: String,
    event_type: String,
    location: String,
    fatalities: u64,
    lon: f64,
    lat: f64,
}

fn csv_events(path: &Path) -> Vec<CsvEvent> {
    let mut r = csv::Reader::from_path(path).unwrap();
    let h = r.headers().unwrap().clone();
    let col = |n: &str| h.iter().position(|x| x == n).unwrap();
    let (id, date, ty, loc, fat, lon, lat) = (
        col("event_id_cnty"),
        col("event_date"),
        col("event_type"),
        col("location"),
        col("fatalities"),
        col("longitude"),
        col("latitude"),
    );
    r.records()
        .map(|row| {
            let row = row.unwrap();
            CsvEvent {
                id: row[id].to_string(),
                date: row[date].to_string(),
                event_type: row[ty].to_string(),
                location: row[loc].to_string(),
                fatalities: row[fat].parse().unwrap(),
                lon: row[lon].parse().unwrap(),
                lat: row[lat].parse().unwrap(),
            }
        })
        .collect()
}

/// Fetches a tile (200 expected), saves it, and decodes it with the Python decoder.
fn decoded_tile(server: &Server, path: &str, name: &str) -> Value {
    let r = server.get(path);
    assert_eq!(r.status, 200, "{path}: {}", r.body);
    assert_eq!(r.content_type, "application/vnd.mapbox-vector-tile");
    let file = scratch(&format!("tile_{name}")).join("t.mvt");
    std::fs::write(&file, &r.bytes).unwrap();
    run_truth("mvt.py", &["decode", path_str(&file)])
}

fn features<'a>(tile: &'a Value, layer: &str) -> Vec<&'a Value> {
    tile[layer]["features"]
        .as_array()
        .map(|a| a.iter().collect())
        .unwrap_or_default()
}

fn point(f: &Value) -> (f64, f64) {
    assert_eq!(f["type"], "Point", "{f}");
    let c = &f["coordinates"];
    (c[0].as_f64().unwrap(), c[1].as_f64().unwrap())
}

const ALL_LAYERS: [&str; 9] = [
    "country",
    "neighbours",
    "lakes",
    "rivers",
    "regions",
    "coverage",
    "bases",
    "places",
    "events",
];

#[test]
fn z5_tile_over_mali_has_every_layer_with_source_attributes() {
    let server = Server::start(&[]);
    let (x, y) = tile_of(-4.0, 15.0, 5);
    let tile = decoded_tile(&server, &format!("/tiles/5/{x}/{y}.mvt"), "z5");
    let names: BTreeSet<&str> = tile
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(names, ALL_LAYERS.into_iter().collect());
    for l in ALL_LAYERS {
        assert_eq!(tile[l]["extent"], 4096, "{l}");
        assert_eq!(tile[l]["version"], 2, "{l}");
    }

    // Bases: exactly those whose point falls in the tile, with their attributes.
    let bases: Value =
        serde_json::from_str(&std::fs::read_to_string(geodata().join("bases.geojson")).unwrap())
            .unwrap();
    let want: BTreeMap<String, &Value> = bases["features"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| {
            let c = &f["geometry"]["coordinates"];
            tile_of(c[0].as_f64().unwrap(), c[1].as_f64().unwrap(), 5) == (x, y)
        })
        .map(|f| {
            (
                f["properties"]["id"].as_str().unwrap().to_string(),
                &f["properties"],
            )
        })
        .collect();
    let got = features(&tile, "bases");
    assert_eq!(got.len(), want.len());
    assert!(!got.is_empty());
    for f in got {
        let p = &f["properties"];
        let w = want[p["id"].as_str().unwrap()];
        for k in ["name", "operator", "kind"] {
            assert_eq!(p[k], w[k], "{k}");
        }
        assert_eq!(p["coverage_km"].as_f64(), w["coverage_km"].as_f64());
        assert_eq!(p["opened"].as_i64(), w["opened"].as_i64());
        assert_eq!(p["closed"].as_i64(), w["closed"].as_i64());
    }
    // One coverage circle per base whose circle reaches the tile: at least those inside it.
    assert!(features(&tile, "coverage").len() >= want.len());

    // Regions carry id, name and the ACLED fatalities summed over all years.
    let regions: Value =
        serde_json::from_str(&std::fs::read_to_string(geodata().join("regions.geojson")).unwrap())
            .unwrap();
    for f in features(&tile, "regions") {
        let id = f["properties"]["id"].as_str().unwrap();
        let src = regions["features"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["properties"]["id"] == id)
            .unwrap();
        let total: u64 = src["properties"]["fatalities_by_year"]
            .as_object()
            .unwrap()
            .values()
            .map(|v| v.as_u64().unwrap())
            .sum();
        assert_eq!(f["properties"]["fatalities"].as_u64(), Some(total), "{id}");
        assert_eq!(f["properties"]["name"], src["properties"]["name"]);
    }
    assert_eq!(
        features(&tile, "rivers")
            .iter()
            .filter(|f| f["properties"]["name"] == "Niger")
            .count(),
        1
    );
}

#[test]
fn region_fatalities_follow_the_year_filter() {
    let server = Server::start(&[]);
    let (x, y) = tile_of(-4.0, 15.0, 5);
    let tile = decoded_tile(
        &server,
        &format!("/tiles/5/{x}/{y}.mvt?from=2017&to=2018"),
        "years",
    );
    let mopti = features(&tile, "regions")
        .into_iter()
        .find(|f| f["properties"]["id"] == "ML-5")
        .unwrap();
    // ACLED via EPON: Mopti 292 (2017) + 519 (2018).
    assert_eq!(mopti["properties"]["fatalities"], 292 + 519);
}

/// For every tile holding shipped events at zooms 0-14: the cluster counts (or single
/// events) add up to the events in that tile, computed here from the CSV.
#[test]
fn event_counts_add_up_in_every_tile_at_every_zoom() {
    // Besides the shipped events: events exactly on tile edges (x = 125/256 and 63/128 of
    // the world, exact in floating point), which belong to the tile east of the edge only.
    let fixture = scratch("edges").join("edges.csv");
    let mut csv = String::from(
        "event_id_cnty,event_date,year,event_type,sub_event_type,actor1,actor2,admin1,admin2,location,latitude,longitude,geo_precision,fatalities,notes,source\n",
    );
    for (i, (lon, lat)) in [
        (-4.21875, 14.1),
        (-4.21875, 14.1),
        (-4.21875, 15.0),
        (-2.8125, 15.5),
        (-2.8125, 16.0),
    ]
    .iter()
    .enumerate()
    {
        csv.push_str(&format!("EDGE-{i},2016-05-0{},2016,Battles,Armed clash,A,B,Mopti,,edge,{lat},{lon},1,{i},,test\n", i + 1));
    }
    std::fs::write(&fixture, csv).unwrap();
    let server = Server::start(&["--events", path_str(&fixture)]);
    let mut events = csv_events(&geodata().join("events.csv"));
    events.extend(csv_events(&fixture));
    for (query, keep) in [
        (
            "",
            Box::new(|_: &CsvEvent| true) as Box<dyn Fn(&CsvEvent) -> bool>,
        ),
        (
            "?from=2015-01-01&type=Battles",
            Box::new(|e: &CsvEvent| e.date.as_str() >= "2015-01-01" && e.event_type == "Battles"),
        ),
        (
            "?min_fatalities=20",
            Box::new(|e: &CsvEvent| e.fatalities >= 20),
        ),
    ] {
        for z in [0u8, 3, 5, 6, 8, 9, 10, 12, 14] {
            let mut per_tile: BTreeMap<(u32, u32), Vec<&CsvEvent>> = BTreeMap::new();
            for e in events.iter().filter(|e| keep(e)) {
                per_tile
                    .entry(tile_of(e.lon, e.lat, z))
                    .or_default()
                    .push(e);
            }
            // The tiles holding events and their neighbours (which must not count them).
            let n = 1u32 << z;
            let with_events: Vec<(u32, u32)> = per_tile.keys().copied().collect();
            for (x, y) in with_events {
                for (dx, dy) in [(-1i64, 0i64), (1, 0), (0, -1), (0, 1)] {
                    let (nx, ny) = (x as i64 + dx, y as i64 + dy);
                    if (0..n as i64).contains(&nx) && (0..n as i64).contains(&ny) {
                        per_tile.entry((nx as u32, ny as u32)).or_default();
                    }
                }
            }
            // Fetch every tile of this zoom, then decode them in one go.
            let dir = scratch("counts");
            let mut files = Vec::new();
            for (x, y) in per_tile.keys() {
                let path = format!("/tiles/{z}/{x}/{y}.mvt{query}");
                let r = server.get(&path);
                assert!(r.status == 200 || r.status == 204, "{path}");
                let file = dir.join(format!("{x}_{y}.mvt"));
                std::fs::write(&file, &r.bytes).unwrap();
                files.push(file);
            }
            let mut args = vec!["decode"];
            args.extend(files.iter().map(|f| path_str(f)));
            let decoded = run_truth("mvt.py", &args);
            let decoded: Vec<Value> = match decoded {
                Value::Array(a) => a,
                one => vec![one],
            };
            for (((x, y), members), tile) in per_tile.iter().zip(&decoded) {
                let path = format!("/tiles/{z}/{x}/{y}.mvt{query}");
                let feats = features(tile, "events");
                let sum: u64 = feats
                    .iter()
                    .map(|f| f["properties"]["count"].as_u64().unwrap())
                    .sum();
                assert_eq!(sum, members.len() as u64, "{path}");
                let fat: u64 = feats
                    .iter()
                    .map(|f| f["properties"]["fatalities"].as_u64().unwrap())
                    .sum();
                assert_eq!(
                    fat,
                    members.iter().map(|e| e.fatalities).sum::<u64>(),
                    "{path}"
                );
                for f in &feats {
                    let (px, py) = point(f);
                    assert!(
                        (0.0..4096.0).contains(&px) && (0.0..4096.0).contains(&py),
                        "{path}: {f}"
                    );
                }
                if z >= 10 {
                    // Single events with their attributes.
                    let ids: BTreeSet<&str> = feats
                        .iter()
                        .map(|f| f["properties"]["id"].as_str().unwrap())
                        .collect();
                    let want: BTreeSet<&str> = members.iter().map(|e| e.id.as_str()).collect();
                    assert_eq!(ids, want, "{path}");
                    for f in &feats {
                        let p = &f["properties"];
                        let e = members.iter().find(|e| e.id == p["id"]).unwrap();
                        assert_eq!(p["event_date"], e.date.as_str());
                        assert_eq!(p["event_type"], e.event_type.as_str());
                        assert_eq!(p["location"], e.location.as_str());
                        assert_eq!(p["fatalities"].as_u64(), Some(e.fatalities));
                        assert_eq!(p["count"], 1);
                    }
                } else {
                    // Clusters name their dominant type.
                    for f in &feats {
                        assert!(f["properties"]["event_type"].is_string(), "{f}");
                    }
                }
            }
        }
    }
}

/// Every point of every point layer lies inside its tile, over a block of z7 tiles.
#[test]
fn points_lie_in_their_tile() {
    let server = Server::start(&[]);
    let (x0, y0) = tile_of(-6.0, 16.0, 7);
    let mut seen = 0;
    for x in x0..x0 + 4 {
        for y in y0..y0 + 4 {
            let r = server.get(&format!("/tiles/7/{x}/{y}.mvt"));
            if r.status == 204 {
                continue;
            }
            let tile = decoded_tile(&server, &format!("/tiles/7/{x}/{y}.mvt"), "points");
            for layer in ["bases", "places", "events"] {
                for f in features(&tile, layer) {
                    let (px, py) = point(f);
                    assert!(
                        (0.0..4096.0).contains(&px) && (0.0..4096.0).contains(&py),
                        "7/{x}/{y} {layer}: {f}"
                    );
                    seen += 1;
                }
            }
        }
    }
    assert!(seen > 10, "{seen}");
}

/// The decoded region polygons of a z5 tile cover the source polygons (cut to the tile)
/// to within 2 tile units along their outline (simplification tolerance + rounding), and
/// within 1% of the area for every region bigger than a sliver; all decode as valid
/// polygons (right ring winding).
#[test]
fn z5_region_polygons_match_the_source_area() {
    let server = Server::start(&[]);
    for (lon, lat) in [(-4.0, 15.0), (-8.0, 12.5), (0.5, 19.0)] {
        let (x, y) = tile_of(lon, lat, 5);
        let path = format!("/tiles/5/{x}/{y}.mvt");
        let r = server.get(&path);
        let file = scratch("area").join("t.mvt");
        std::fs::write(&file, &r.bytes).unwrap();
        let areas = run_truth(
            "mvt.py",
            &[
                "region-area",
                path_str(&file),
                "5",
                &x.to_string(),
                &y.to_string(),
                path_str(&geodata().join("regions.geojson")),
            ],
        );
        assert_eq!(
            areas["invalid"].as_array().unwrap().len(),
            0,
            "{path}: {areas}"
        );
        assert_mvt2_winding(&decoded_tile(&server, &path, "winding"), &path);
        let mut checked = 0;
        for (id, a) in areas
            .as_object()
            .unwrap()
            .iter()
            .filter(|(k, _)| *k != "invalid")
        {
            let (src, diff, perim) = (
                a["source"].as_f64().unwrap(),
                a["sym_diff"].as_f64().unwrap(),
                a["perimeter"].as_f64().unwrap(),
            );
            assert!(
                diff <= 2.0 * perim,
                "{path} {id}: sym diff {diff} > 2 x perimeter {perim}"
            );
            if src > 100_000.0 {
                assert!(diff / src < 0.01, "{path} {id}: {diff} / {src}");
            }
            checked += 1;
        }
        assert!(checked >= 1, "{path}");
    }
}

/// MVT v2: each polygon feature starts with an exterior ring of positive area (clockwise
/// on screen, y down); rings after it are holes (negative) or further exteriors.
fn assert_mvt2_winding(tile: &Value, path: &str) {
    let mut holes = 0;
    for (layer, content) in tile.as_object().unwrap() {
        for rings in content["polygon_ring_areas"].as_array().unwrap() {
            let areas: Vec<i64> = rings
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a.as_i64().unwrap())
                .collect();
            assert!(
                !areas.is_empty() && areas[0] > 0,
                "{path} {layer}: first ring not exterior: {areas:?}"
            );
            assert!(
                areas.iter().all(|&a| a != 0),
                "{path} {layer}: degenerate ring: {areas:?}"
            );
            holes += areas.iter().filter(|&&a| a < 0).count();
        }
    }
    // Koulikoro's polygon has Bamako as a hole: tiles around Bamako must carry it.
    if path.contains("/5/15/14.mvt") {
        assert!(holes >= 1, "{path}: Koulikoro's hole is missing");
    }
}

#[test]
fn empty_not_modified_bad_and_gzip_paths() {
    let server = Server::start(&[]);
    // Empty: the middle of the Pacific.
    let r = server.get("/tiles/5/2/15.mvt");
    assert_eq!(r.status, 204, "{}", r.body);
    assert!(r.bytes.is_empty());

    let (x, y) = tile_of(-4.0, 15.0, 6);
    let path = format!("/tiles/6/{x}/{y}.mvt");
    let plain = server.get(&path);
    assert_eq!(plain.status, 200);
    assert_eq!(plain.header("access-control-allow-origin"), Some("*"));
    assert!(plain.header("cache-control").unwrap().contains("max-age"));
    assert!(plain.header("content-encoding").is_none());
    let etag = plain.header("etag").expect("etag").to_string();

    // gzip when accepted, and it is the same tile.
    let gz = get_with(
        &format!("{}{path}", server.base),
        &[("Accept-Encoding", "gzip, deflate")],
    );
    assert_eq!(gz.header("content-encoding"), Some("gzip"));
    assert_eq!(&gz.bytes[..2], &[0x1f, 0x8b]);
    let mut raw = Vec::new();
    use std::io::Read;
    flate2::read::GzDecoder::new(&gz.bytes[..])
        .read_to_end(&mut raw)
        .unwrap();
    assert_eq!(raw, plain.bytes);
    assert_eq!(gz.header("etag"), Some(etag.as_str()));
    let refused = get_with(
        &format!("{}{path}", server.base),
        &[("Accept-Encoding", "gzip;q=0")],
    );
    assert!(refused.header("content-encoding").is_none());

    // Conditional request.
    let again = get_with(
        &format!("{}{path}", server.base),
        &[("If-None-Match", &etag)],
    );
    assert_eq!(again.status, 304);
    assert!(again.bytes.is_empty());
    let other = get_with(
        &format!("{}{path}", server.base),
        &[("If-None-Match", "\"something-else\"")],
    );
    assert_eq!(other.status, 200);
    // A filtered tile is a different tile.
    let filtered = server.get(&format!("{path}?from=2019"));
    assert_ne!(filtered.header("etag"), Some(etag.as_str()));

    // Beyond the grid at this zoom: each number is valid, together they are not.
    for (bad, param) in [("/tiles/3/8/0.mvt", "x"), ("/tiles/3/0/8.mvt", "y")] {
        let r = server.get(bad);
        assert_eq!(r.status, 422, "{bad}: {}", r.body);
        assert_eq!(r.json()["parameter"], param, "{bad}");
    }
    for (bad, param) in [
        ("/tiles/17/0/0.mvt", "z"),
        ("/tiles/-1/0/0.mvt", "z"),
        ("/tiles/a/0/0.mvt", "z"),
        ("/tiles/3/0/x.mvt", "y"),
        ("/tiles/3/0/1.png", "y"),
        ("/tiles/3/1.5/1.mvt", "x"),
        ("/tiles/5/15/14.mvt?from=2019-02-30", "from"),
        ("/tiles/5/15/14.mvt?min_fatalities=many", "min_fatalities"),
        ("/tiles/5/15/14.mvt?bbox=0,0,1,1", "bbox"),
        ("/tiles/5/15/14.mvt?region=Narnia", "region"),
    ] {
        let r = server.get(bad);
        assert_eq!(r.status, 400, "{bad}: {}", r.body);
        assert_eq!(r.content_type, "application/problem+json", "{bad}");
        assert_eq!(r.json()["parameter"], param, "{bad}");
    }
}

#[test]
fn tilejson_and_style_describe_our_tiles_only() {
    let server = Server::start(&[]);
    let tj = server.json("/tiles.json?from=2018");
    assert_eq!(tj["tilejson"], "3.0.0");
    let url = tj["tiles"][0].as_str().unwrap();
    assert!(url.starts_with(&server.base), "{url}");
    assert!(url.contains("/tiles/{z}/{x}/{y}.mvt?from=2018"), "{url}");
    assert_eq!(tj["minzoom"], 0);
    assert_eq!(tj["maxzoom"], 16);
    let b: Vec<f64> = tj["bounds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    assert!(
        b[0] <= -12.2 && b[1] <= 10.2 && b[2] >= 4.2 && b[3] >= 24.9,
        "{b:?}"
    );
    assert_eq!(tj["center"].as_array().unwrap().len(), 3);
    let attribution = tj["attribution"].as_str().unwrap();
    assert!(attribution.contains("Natural Earth") && attribution.contains("GeoNames"));
    let ids: BTreeSet<&str> = tj["vector_layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ALL_LAYERS.into_iter().collect());

    // Every field a decoded tile carries is declared in vector_layers.
    let (x, y) = tile_of(-4.0, 15.0, 10);
    for path in [
        format!("/tiles/5/{}/{}.mvt", x >> 5, y >> 5),
        "/tiles/10/500/470.mvt".to_string(),
    ] {
        let tile = decoded_tile(&server, &path, "fields");
        for (layer, content) in tile.as_object().unwrap() {
            let declared = tj["vector_layers"]
                .as_array()
                .unwrap()
                .iter()
                .find(|l| l["id"] == *layer)
                .unwrap();
            for f in content["features"].as_array().unwrap() {
                for key in f["properties"].as_object().unwrap().keys() {
                    assert!(
                        declared["fields"].get(key).is_some(),
                        "{layer}.{key} not in TileJSON"
                    );
                }
            }
        }
    }
    let bad = server.get("/tiles.json?from=nope");
    assert_eq!(bad.status, 400);

    let style = server.json("/style.json");
    assert_eq!(style["version"], 8);
    let sources = style["sources"].as_object().unwrap();
    // The map's tiles, and the hexbins tile set.
    assert_eq!(
        sources.keys().map(String::as_str).collect::<BTreeSet<_>>(),
        BTreeSet::from(["hexbins", "sahel"])
    );
    for (_, s) in sources {
        for t in s["tiles"].as_array().unwrap() {
            assert!(t.as_str().unwrap().starts_with(&server.base), "{t}");
        }
    }
    // Nothing external: no sprite; labels' glyphs come from this server and render.
    assert!(style.get("sprite").is_none());
    let glyphs = style["glyphs"].as_str().expect("glyphs");
    assert!(glyphs.starts_with(&server.base), "{glyphs}");
    let mut fonts = BTreeSet::new();
    for l in style["layers"].as_array().unwrap() {
        if let Some(f) = l["layout"]["text-font"].as_array() {
            fonts.extend(f.iter().map(|v| v.as_str().unwrap().to_string()));
        }
    }
    assert!(!fonts.is_empty());
    for font in &fonts {
        for range in ["0-255", "256-511"] {
            let url = glyphs
                .replace("{fontstack}", &font.replace(' ', "%20"))
                .replace("{range}", range);
            let r = get(&url);
            assert_eq!(r.status, 200, "{url}");
            assert!(r.bytes.len() > 1000, "{url}: {} bytes", r.bytes.len());
        }
    }
    let bad = server.get("/fonts/DejaVu%20Sans/1-300.pbf");
    assert_eq!(bad.status, 400);
    let drawn: BTreeSet<&str> = style["layers"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|l| l["source-layer"].as_str())
        .collect();
    assert_eq!(
        drawn,
        ALL_LAYERS.into_iter().chain(["hexbins"]).collect(),
        "every layer is drawn"
    );
}

/// With a large synthetic load (200,000 events around real towns), the tiles under the
/// busiest towns stay far below 500 KB at every zoom (dense high-zoom tiles fall back to a
/// fine cluster grid) and their counts still add up.
#[test]
fn dense_tiles_stay_small_and_counts_add_up() {
    let file = synthetic_events("dense", 200_000, 11);
    let events = csv_events(&file);
    assert_eq!(events.len(), 200_000);
    let server = Server::start(&["--events", path_str(&file), "--no-shipped-events"]);

    let towns = [
        (-7.97522, 12.60915),
        (-4.18296, 14.4843),
        (-0.04472, 16.27167),
    ];
    let mut tiles: Vec<(u8, u32, u32)> = Vec::new();
    for z in 0..=16u8 {
        for &(lon, lat) in &towns {
            let (x, y) = tile_of(lon, lat, z);
            if !tiles.contains(&(z, x, y)) {
                tiles.push((z, x, y));
            }
        }
    }
    let mut files = Vec::new();
    let mut largest = 0;
    for &(z, x, y) in &tiles {
        let r = server.get(&format!("/tiles/{z}/{x}/{y}.mvt"));
        assert_eq!(r.status, 200, "{z}/{x}/{y}");
        assert!(
            r.bytes.len() < 500_000,
            "{z}/{x}/{y}: {} bytes",
            r.bytes.len()
        );
        largest = largest.max(r.bytes.len());
        let f = file.with_file_name(format!("{z}_{x}_{y}.mvt"));
        std::fs::write(&f, &r.bytes).unwrap();
        files.push(f);
    }
    let mut args = vec!["decode"];
    args.extend(files.iter().map(|f| path_str(f)));
    let decoded = run_truth("mvt.py", &args);
    let mut dense_clustered = 0;
    for (&(z, x, y), tile) in tiles.iter().zip(decoded.as_array().unwrap()) {
        let want = events
            .iter()
            .filter(|e| tile_of(e.lon, e.lat, z) == (x, y))
            .count() as u64;
        let feats = features(tile, "events");
        let sum: u64 = feats
            .iter()
            .map(|f| f["properties"]["count"].as_u64().unwrap())
            .sum();
        assert_eq!(sum, want, "{z}/{x}/{y}");
        if z >= 10
            && feats
                .iter()
                .any(|f| f["properties"]["count"].as_u64() > Some(1))
        {
            dense_clustered += 1;
        }
    }
    assert!(
        dense_clustered > 0,
        "the fixture should exercise the dense fallback"
    );
    eprintln!("largest tile under 200k events: {largest} bytes");
}

/// A tile the cache holds is answered on the async worker, not the blocking pool: the
/// answer must be the one a render gives, byte for byte and header for header, with and
/// without gzip, with filters, for both tile sets, and 304 for its ETag.
#[test]
fn cached_tiles_answer_like_rendered_ones() {
    let server = Server::start(&[]);
    let paths = [
        "/tiles/5/15/14.mvt",
        "/tiles/8/124/117.mvt?from=2018&to=2019",
        "/tiles/12/1998/1880.mvt?type=Battles",
        "/tiles/hexbins/6/31/29.mvt",
        "/tiles/3/0/0.mvt",
    ];
    let kept = |r: &Reply| {
        let mut h: Vec<(String, String)> = r
            .headers
            .iter()
            .filter(|(k, _)| !k.eq_ignore_ascii_case("date"))
            .map(|(k, v)| (k.to_lowercase(), v.clone()))
            .collect();
        h.sort();
        (r.status, h, r.bytes.clone())
    };
    for path in paths {
        for encoding in [&[][..], &[("Accept-Encoding", "gzip")][..]] {
            let first = server.send("GET", path, encoding, b"");
            let again = server.send("GET", path, encoding, b"");
            assert!(
                first.status == 200 || first.status == 204,
                "{path}: {}",
                first.status
            );
            assert_eq!(kept(&first), kept(&again), "{path} {encoding:?}");
            if let Some(etag) = first.header("etag") {
                let mut h = encoding.to_vec();
                h.push(("If-None-Match", etag));
                assert_eq!(server.send("GET", path, &h, b"").status, 304, "{path}");
            }
        }
    }
}
