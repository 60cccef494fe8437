//! The analysis endpoints over HTTP: the coverage timeline against GeographicLib on the
//! shipped events and bases, hexbins and the tiles' hexbins layer against the Python `h3`
//! package (`tests/truth/analysis.py`), and trends against a fixture worked by hand.
#![allow(clippy::too_many_lines, reason = "a test scenario reads top to bottom")]

mod common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::{Value, json};

fn geodata_file(name: &str) -> String {
    path_str(&geodata().join(name)).to_string()
}

/// Waits until the server's pre-summed data (cluster and hexbin pyramids) is ready.
fn wait_for_summaries(server: &Server) {
    let until = Instant::now() + Duration::from_secs(60);
    while server.json("/healthz")["summaries_ready"] != json!(true) {
        assert!(Instant::now() < until, "the pyramids were never ready");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn no_mismatches(report: &Value, what: &str) {
    assert_eq!(report["mismatches"], json!([]), "{what}: {report}");
}

#[test]
fn coverage_timeline_agrees_with_geographiclib() {
    let server = Server::start(&[]);
    let events = geodata_file("events.csv");
    let bases = geodata_file("bases.geojson");
    for query in [
        "",
        "radius_km=150&operator=MINUSMA&from=2014",
        "operator=barkhane&to=2018",
    ] {
        let args = ["timeline", &server.base, &bases, query, &events];
        let report = run_truth("analysis.py", &args);
        no_mismatches(&report, query);
        assert!(
            report["covered"].as_u64().unwrap() > 10,
            "{query}: {report}"
        );
    }

    // The CSV holds the JSON's figures: a row per year and operator, `all` first.
    let json = server.json("/api/coverage/timeline");
    let reply = server.get("/api/coverage/timeline?f=csv");
    assert_eq!(reply.status, 200);
    assert!(
        reply
            .header("content-type")
            .unwrap()
            .starts_with("text/csv")
    );
    assert_eq!(
        reply.header("content-disposition"),
        Some("attachment; filename=\"sahel-atlas-coverage-timeline.csv\"")
    );
    let mut csv = csv::Reader::from_reader(reply.bytes.as_slice());
    let rows: Vec<csv::StringRecord> = csv.records().map(Result::unwrap).collect();
    let years = json["years"].as_array().unwrap();
    let operators = years[0]["by_operator"].as_object().unwrap().len();
    assert_eq!(rows.len(), years.len() * (1 + operators));
    for (row, year) in rows.iter().step_by(1 + operators).zip(years) {
        assert_eq!(&row[0], year["year"].to_string());
        assert_eq!(&row[1], "all");
        assert_eq!(&row[5], year["covered_fatalities"].to_string());
    }

    // The hot spots: uncovered events per H3 cell, deadliest first.
    let hot = json["hotspots"]["features"].as_array().unwrap();
    assert!(!hot.is_empty());
    let deaths: Vec<u64> = hot
        .iter()
        .map(|f| f["properties"]["fatalities"].as_u64().unwrap())
        .collect();
    assert!(deaths.windows(2).all(|w| w[0] >= w[1]), "{deaths:?}");
    let csv = server.get("/api/coverage/timeline?f=csv&table=hotspots");
    let lines = csv.body.clone();
    assert_eq!(lines.lines().count(), hot.len() + 1, "{lines}");
    assert!(lines.starts_with("h3,res,count,fatalities,top_type,lon,lat,wkt\r\n"));

    let unknown = server.get("/api/coverage/timeline?operator=NATO");
    assert_eq!(unknown.status, 422);
    assert_eq!(unknown.json()["parameter"], "operator");
}

#[test]
fn hexbins_match_the_h3_package() {
    let synthetic = synthetic_events("hexbins", 20_000, 5);
    let server = Server::start(&["--events", path_str(&synthetic)]);
    wait_for_summaries(&server);
    let files = [geodata_file("events.csv"), path_str(&synthetic).to_string()];
    // Whole years come from the pyramid (res 3-7), the rest from the events.
    for query in ["", "from=2015&to=2018", "type=Battles"] {
        for res in 3..=9 {
            let res = res.to_string();
            let mut args = vec!["hexbins", &server.base, &res, query];
            args.extend(files.iter().map(String::as_str));
            let report = run_truth("analysis.py", &args);
            no_mismatches(&report, &format!("res {res} {query}"));
            assert!(report["cells"].as_u64().unwrap() > 5, "{report}");
        }
    }

    // The tiles' layer: cells whose outline reaches the tile, with all their events.
    for (z, lon, lat) in [
        (5, -4.18, 14.48),
        (8, -4.18, 14.48),
        (11, -4.2, 14.49),
        (13, -4.2, 14.49),
    ] {
        let (x, y) = tile_of(lon, lat, z);
        let (z, x, y) = (z.to_string(), x.to_string(), y.to_string());
        let mut args = vec!["tile", &server.base, &z, &x, &y];
        args.extend(files.iter().map(String::as_str));
        let report = run_truth("analysis.py", &args);
        no_mismatches(&report, &format!("tile {z}/{x}/{y}"));
        assert!(report["features"].as_u64().unwrap() > 0, "{report}");
    }

    // The hexbins are a tile set of their own: the map's tiles do not carry them.
    let tj = server.json("/tiles/hexbins.json?from=2015");
    assert_eq!(tj["vector_layers"][0]["id"], "hexbins");
    assert_eq!(tj["vector_layers"].as_array().unwrap().len(), 1);
    assert!(
        tj["tiles"][0]
            .as_str()
            .unwrap()
            .ends_with("/tiles/hexbins/{z}/{x}/{y}.mvt?from=2015")
    );
    let main = server.json("/tiles.json");
    assert!(
        main["vector_layers"]
            .as_array()
            .unwrap()
            .iter()
            .all(|l| l["id"] != "hexbins"),
        "{main}"
    );

    let csv = server.get("/api/hexbins?res=5&f=csv");
    let json = server.json("/api/hexbins?res=5");
    let text = csv.body.clone();
    assert_eq!(
        text.lines().count(),
        json["features"].as_array().unwrap().len() + 1
    );
    assert_eq!(server.get("/api/hexbins?res=2").status, 400);
    assert_eq!(server.get("/api/hexbins").status, 400);
}

/// A written event changes its cell in every tile the cell reaches, also in the tile next
/// to the event's own, whose cached copy must not be served.
#[test]
fn hexbin_tiles_follow_writes_into_neighbouring_tiles() {
    let key = "hexbin-key";
    let server = Server::start_env(&[], &[("SAHEL_ATLAS_WRITE_KEYS", key)]);
    wait_for_summaries(&server);
    // Just east of the western edge of z8 tile 125 (lon -4.21875): its res-5 cell (about
    // 17 km across) reaches tile 124 too.
    let (lon, lat) = (-4.2185, 14.48);
    let (x, y) = tile_of(lon, lat, 8);
    assert_eq!(x, 125);
    let tiles = [(x - 1).to_string(), x.to_string()];
    for tx in &tiles {
        let r = server.get(&format!("/tiles/hexbins/8/{tx}/{y}.mvt"));
        assert!(r.status == 200 || r.status == 204);
    }
    let feature = json!({
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [lon, lat]},
        "properties": {"event_id_cnty": "HEX-EDGE-1", "event_date": "2019-05-01",
                       "event_type": "Battles", "fatalities": 7, "location": "Tile edge"},
    });
    let auth = format!("Bearer {key}");
    let posted = server.send(
        "POST",
        "/api/events",
        &[
            ("Content-Type", "application/geo+json"),
            ("Authorization", &auth),
        ],
        feature.to_string().as_bytes(),
    );
    assert_eq!(posted.status, 201, "{}", posted.body);
    let written = scratch("hexbin-edge").join("written.csv");
    std::fs::write(
        &written,
        format!("event_id_cnty,event_date,event_type,fatalities,latitude,longitude\nHEX-EDGE-1,2019-05-01,Battles,7,{lat},{lon}\n"),
    )
    .unwrap();
    let box_ = format!(
        "{},{},{},{}",
        lon - 1e-4,
        lat - 1e-4,
        lon + 1e-4,
        lat + 1e-4
    );
    let cell = server.json(&format!("/api/hexbins?res=5&bbox={box_}"))["features"][0]["id"].clone();
    let (y, events) = (y.to_string(), geodata_file("events.csv"));
    for tx in &tiles {
        let args = [
            "tile",
            &server.base,
            "8",
            tx,
            &y,
            &events,
            path_str(&written),
        ];
        let report = run_truth("analysis.py", &args);
        no_mismatches(&report, &format!("tile 8/{tx}/{y} after the write"));
        assert!(
            report["cells"].as_array().unwrap().contains(&cell),
            "{cell} not drawn in 8/{tx}/{y}: {report}"
        );
    }
}

/// The fixture's events per region and quarter (tests/fixtures/trends.csv):
/// Mopti 1, 2, 3, 2 in 2018 then 6 in 2019-Q1 (10 deaths each); Gao 4, 4, 5, 3 then 1;
/// Kidal nothing then 2; Timbuktu 2, 2, 2, 2 then 4; plus Mopti events just outside the
/// window (2017-Q4, 2019-Q2).
#[test]
fn trends_match_a_fixture_worked_by_hand() {
    let fixture = repo().join("tests/fixtures/trends.csv");
    let server = Server::start(&["--no-shipped-events", "--events", path_str(&fixture)]);
    let t = server.json("/api/trends?unit=region&period=quarter&at=2019-Q1&baseline=4");
    assert_eq!(
        t["baseline_periods"],
        json!(["2018-Q1", "2018-Q2", "2018-Q3", "2018-Q4"])
    );
    // sqrt(((1-2)² + 0 + (3-2)² + 0) / 4), also Gao's, as answered: to 4 decimals.
    let sd = (0.5_f64.sqrt() * 1e4).round() / 1e4;
    let expect = [
        ("ML-5", 6.0, 2.0, sd, 4.0, json!(200.0), "increase"),
        ("ML-6", 4.0, 2.0, 0.0, 2.0, json!(100.0), "stable"),
        ("ML-8", 2.0, 0.0, 0.0, 2.0, Value::Null, "new"),
        ("ML-1", 0.0, 0.0, 0.0, 0.0, Value::Null, "stable"),
        ("ML-2", 0.0, 0.0, 0.0, 0.0, Value::Null, "stable"),
        ("ML-3", 0.0, 0.0, 0.0, 0.0, Value::Null, "stable"),
        ("ML-4", 0.0, 0.0, 0.0, 0.0, Value::Null, "stable"),
        ("ML-BKO", 0.0, 0.0, 0.0, 0.0, Value::Null, "stable"),
        ("ML-7", 1.0, 4.0, sd, -3.0, json!(-75.0), "decrease"),
    ];
    let units = t["units"].as_array().unwrap();
    assert_eq!(units.len(), expect.len(), "{t}");
    for (u, (id, value, mean, sd, change, pct, flag)) in units.iter().zip(expect) {
        assert_eq!(u["unit"], id, "{u}");
        assert_eq!(u["value"], value, "{u}");
        assert_eq!(u["baseline_mean"], mean, "{u}");
        assert_eq!(u["baseline_sd"], sd, "{u}");
        assert_eq!(u["change"], change, "{u}");
        assert_eq!(u["change_pct"], pct, "{u}");
        assert_eq!(u["flag"], flag, "{u}");
    }
    assert_eq!(units[0]["series"], json!([1.0, 2.0, 3.0, 2.0]));
    assert_eq!(units[0]["name"], "Mopti");

    // Fatalities: Mopti 60 against 1, 2, 3, 2; Gao and Kidal new.
    let f = server.json("/api/trends?period=quarter&at=2019-Q1&baseline=4&metric=fatalities");
    let flags: Vec<(String, f64, String)> = f["units"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|u| u["value"].as_f64().unwrap() > 0.0)
        .map(|u| {
            let s = |k: &str| u[k].as_str().unwrap().to_string();
            (s("unit"), u["change"].as_f64().unwrap(), s("flag"))
        })
        .collect();
    assert_eq!(
        flags,
        [
            ("ML-5".into(), 58.0, "increase".into()),
            ("ML-8".into(), 10.0, "new".into()),
            ("ML-7".into(), 2.0, "new".into()),
        ]
    );

    // A higher floor keeps Mopti's +4 and Gao's -3 stable.
    let floor = server.json("/api/trends?at=2019-Q1&baseline=4&min_change=5");
    for u in floor["units"].as_array().unwrap() {
        assert!(u["flag"] == "stable" || u["flag"] == "new", "{u}");
    }

    // Years: Mopti 8 in 2018, 10 in 2019.
    let y = server.json("/api/trends?period=year&at=2019&baseline=1");
    assert_eq!(y["units"][0]["unit"], "ML-5");
    assert_eq!(
        (
            y["units"][0]["value"].as_f64(),
            y["units"][0]["series"].clone()
        ),
        (Some(10.0), json!([8.0]))
    );

    // H3 cells: one per town, with the regions' figures.
    let h = server.json("/api/trends?unit=h3&res=5&at=2019-Q1&baseline=4");
    let cells = h["units"].as_array().unwrap();
    assert_eq!(cells.len(), 4, "{h}");
    assert_eq!(cells[0]["series"], json!([1.0, 2.0, 3.0, 2.0]));
    assert_eq!(cells[0]["flag"], "increase");
    assert_eq!(cells[0]["unit"].as_str().unwrap().len(), 15);
    assert_eq!(cells[0]["geometry"]["type"], "Polygon");

    // The CSV: the same rows with the baseline series as columns.
    let csv = server.get("/api/trends?at=2019-Q1&baseline=4&f=csv");
    let text = csv.body.clone();
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some(
            "unit,name,value,baseline_mean,baseline_sd,change,change_pct,flag,2018-Q1,2018-Q2,2018-Q3,2018-Q4"
        )
    );
    assert_eq!(
        lines.next(),
        Some("ML-5,Mopti,6,2,0.7071,4,200,increase,1,2,3,2")
    );

    for (query, parameter) in [
        ("period=month&at=2019-Q1", "at"),
        ("period=year&at=2019-03", "at"),
        ("unit=region&res=5", "res"),
        ("baseline=0", "baseline"),
        ("period=week", "period"),
    ] {
        let r = server.get(&format!("/api/trends?{query}"));
        assert!(r.status == 400 || r.status == 422, "{query}: {}", r.status);
        assert_eq!(r.json()["parameter"], parameter, "{query}");
    }
}
