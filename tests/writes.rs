//! Live writes over HTTP: keys, POST/PUT/DELETE of events in GeoJSON and CSV, all or
//! nothing on bad records, every read (lists, radius, stats, OGC items, tiles) seeing a
//! write at once, the change log, and the GeoPackage store surviving a restart and
//! opening in GDAL.
#![allow(clippy::too_many_lines, reason = "a test scenario reads top to bottom")]

mod common;

use std::process::Command;

use common::{Server, fresh_store, path_str, run_truth, scratch};
use serde_json::{Value, json};

const KEY: &str = "test-key-1";
const GEOJSON: (&str, &str) = ("Content-Type", "application/geo+json");
const CSV: (&str, &str) = ("Content-Type", "text/csv");

fn auth() -> (&'static str, String) {
    ("Authorization", format!("Bearer {KEY}"))
}

fn writer(extra: &[&str]) -> Server {
    Server::start_env(
        extra,
        &[("SAHEL_ATLAS_WRITE_KEYS", &format!("other-key, {KEY}"))],
    )
}

fn write(
    server: &Server,
    method: &str,
    path: &str,
    kind: (&str, &str),
    body: &str,
) -> common::Reply {
    let (k, v) = auth();
    server.send(method, path, &[(k, &v), kind], body.as_bytes())
}

/// A Point feature with ACLED properties.
fn feature(id: &str, lon: f64, lat: f64, event_type: &str, fatalities: u32) -> Value {
    json!({
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [lon, lat]},
        "properties": {
            "event_id_cnty": id, "event_date": "2024-05-01", "event_type": event_type,
            "sub_event_type": "Armed clash", "actor1": "Test actor", "location": "Test place",
            "fatalities": fatalities, "notes": "written by tests/writes.rs"
        }
    })
}

fn collection(features: Vec<Value>) -> String {
    json!({"type": "FeatureCollection", "features": features}).to_string()
}

fn total(server: &Server, query: &str) -> u64 {
    server.json(&format!("/api/events?{query}&limit=0"))["numberMatched"]
        .as_u64()
        .unwrap()
}

/// Events in the decoded events layer of a tile (the sum of cluster counts).
fn tile_events(server: &Server, path: &str, name: &str) -> u64 {
    let r = server.get(path);
    if r.status == 204 {
        return 0;
    }
    assert_eq!(r.status, 200, "{path}: {}", r.body);
    let file = scratch(&format!("writes_{name}")).join("t.mvt");
    std::fs::write(&file, &r.bytes).unwrap();
    let decoded = run_truth("mvt.py", &["decode", path_str(&file)]);
    decoded["events"]["features"].as_array().map_or(0, |fs| {
        fs.iter()
            .map(|f| f["properties"]["count"].as_u64().unwrap())
            .sum()
    })
}

#[test]
fn writes_need_a_key_and_reads_stay_open() {
    let closed = Server::start(&[]);
    let r = closed.send("POST", "/api/events", &[GEOJSON], b"{}");
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(r.content_type, "application/problem+json");
    assert!(
        r.json()["detail"]
            .as_str()
            .unwrap()
            .contains("SAHEL_ATLAS_WRITE_KEYS")
    );

    let open = writer(&[]);
    let body = collection(vec![feature("KEYTEST-1", -4.0, 14.5, "Battles", 1)]);
    let none = open.send("POST", "/api/events", &[GEOJSON], body.as_bytes());
    assert_eq!(none.status, 401);
    assert_eq!(
        none.header("www-authenticate")
            .map(|h| h.starts_with("Bearer")),
        Some(true)
    );
    let wrong = open.send(
        "POST",
        "/api/events",
        &[("Authorization", "Bearer test-key-"), GEOJSON],
        body.as_bytes(),
    );
    assert_eq!(wrong.status, 401);
    assert_eq!(
        open.get("/api/events/KEYTEST-1").status,
        404,
        "nothing was written"
    );
    assert_eq!(open.get("/api/events?limit=1").status, 200);
}

#[test]
fn every_read_sees_a_write_at_once() {
    let server = writer(&[]);
    let near = "near=Mopti&radius_km=20";
    let (before_near, before_all) = (total(&server, near), total(&server, "from=1997"));
    let tile = "/tiles/12/2000/1881.mvt"; // holds Mopti (-4.19, 14.49)
    let before_tile = tile_events(&server, tile, "before");
    let etag_before = server.get(tile).header("etag").map(str::to_string);
    let untouched = "/tiles/8/127/116.mvt"; // Gao, far from the writes
    let untouched_etag = server.get(untouched).header("etag").map(str::to_string);

    let body = collection(vec![
        feature("LIVE-1", -4.19, 14.49, "Battles", 4),
        feature("LIVE-2", -4.195, 14.495, "Riots", 0),
    ]);
    let r = write(&server, "POST", "/api/events", GEOJSON, &body);
    assert_eq!(r.status, 201, "{}", r.body);
    let w = r.json();
    assert_eq!(
        (w["inserted"].as_u64(), w["updated"].as_u64()),
        (Some(2), Some(0))
    );
    assert_eq!(w["ids"], json!(["LIVE-1", "LIVE-2"]));

    // Lists, radius search, stats, one event, OGC items, tiles: all at once.
    assert_eq!(total(&server, near), before_near + 2);
    assert_eq!(total(&server, "from=1997"), before_all + 2);
    let e = server.json("/api/events/LIVE-1");
    assert_eq!(e["geometry"]["coordinates"], json!([-4.19, 14.49]));
    assert_eq!(e["properties"]["fatalities"], 4);
    let stats = server.json("/api/stats?group_by=type&from=2024");
    let riots = stats["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["key"] == "Riots");
    assert!(
        riots.is_some_and(|g| g["count"].as_u64() >= Some(1)),
        "{stats}"
    );
    assert_eq!(
        server.get("/ogc/collections/events/items/LIVE-2").status,
        200
    );
    assert_eq!(tile_events(&server, tile, "after"), before_tile + 2);
    assert_ne!(
        server.get(tile).header("etag").map(str::to_string),
        etag_before
    );
    assert_eq!(
        server.get(untouched).header("etag").map(str::to_string),
        untouched_etag,
        "a tile the write did not touch keeps its content"
    );

    // PUT moves an event; re-sending an id updates it.
    let moved = feature("LIVE-1", -3.0, 16.77, "Battles", 9);
    let r = write(
        &server,
        "PUT",
        "/api/events/LIVE-1",
        GEOJSON,
        &moved.to_string(),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["updated"], 1);
    assert_eq!(
        server.json("/api/events/LIVE-1")["properties"]["fatalities"],
        9
    );
    assert_eq!(total(&server, near), before_near + 1);
    assert_eq!(tile_events(&server, tile, "moved"), before_tile + 1);

    // DELETE hides it, from every read; twice is a 404.
    let (k, v) = auth();
    let r = server.send("DELETE", "/api/events/LIVE-2", &[(k, &v)], b"");
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(server.get("/api/events/LIVE-2").status, 404);
    assert_eq!(total(&server, near), before_near);
    assert_eq!(tile_events(&server, tile, "deleted"), before_tile);
    assert_eq!(
        server
            .send("DELETE", "/api/events/LIVE-2", &[(k, &v)], b"")
            .status,
        404
    );

    let log = server.json("/api/changes?since=0");
    let ops: Vec<(u64, &str, &str)> = log["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["seq"].as_u64().unwrap(),
                c["op"].as_str().unwrap(),
                c["id"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        ops,
        [
            (1, "upsert", "LIVE-1"),
            (2, "upsert", "LIVE-2"),
            (3, "upsert", "LIVE-1"),
            (4, "delete", "LIVE-2")
        ]
    );
    assert_eq!(log["sequence"], 4);
    assert_eq!(
        server.json("/api/changes?since=3")["changes"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn bad_records_are_all_listed_and_nothing_is_stored() {
    let server = writer(&[]);
    let csv = "event_id_cnty,event_date,event_type,latitude,longitude,fatalities\n\
               CSV-1,2023-02-01,Battles,14.5,-4.2,3\n\
               CSV-2,2023-13-01,Battles,14.5,-4.2,3\n\
               CSV-3,2023-02-03,Battles,94.5,-4.2,3\n";
    let r = write(&server, "POST", "/api/events", CSV, csv);
    assert_eq!(r.status, 422, "{}", r.body);
    let errors = r.json()["errors"].clone();
    assert_eq!(errors[0]["record"], 3, "{errors}");
    assert_eq!(errors[0]["field"], "event_date");
    assert_eq!(errors[1]["record"], 4);
    assert_eq!(errors[1]["field"], "latitude");
    assert_eq!(errors.as_array().unwrap().len(), 2);
    assert_eq!(
        server.get("/api/events/CSV-1").status,
        404,
        "all or nothing"
    );
    // Saved on Windows: the same lines.
    let r = write(
        &server,
        "POST",
        "/api/events",
        CSV,
        &csv.replace('\n', "\r\n"),
    );
    let errors = r.json()["errors"].clone();
    assert_eq!(
        (errors[0]["record"].clone(), errors[1]["record"].clone()),
        (json!(3), json!(4))
    );
    assert_eq!(server.json("/api/changes")["sequence"], 0);

    let bad = collection(vec![
        feature("GJ-1", -4.0, 14.0, "Battles", 1),
        json!({"type": "Feature", "geometry": {"type": "LineString", "coordinates": [[0, 0], [1, 1]]}, "properties": {}}),
    ]);
    let r = write(&server, "POST", "/api/events", GEOJSON, &bad);
    assert_eq!(r.status, 422);
    assert_eq!(r.json()["errors"][0]["record"], 2);
    assert_eq!(r.json()["errors"][0]["field"], "geometry");

    let r = write(
        &server,
        "POST",
        "/api/events",
        ("Content-Type", "text/plain"),
        "x",
    );
    assert_eq!(r.status, 415);

    // A good CSV batch, then a body over 32 MiB.
    let good = "event_id_cnty,event_date,event_type,latitude,longitude,fatalities\n\
                CSV-1,2023-02-01,Battles,14.5,-4.2,3\nCSV-2,2023-02-02,Protests,12.6,-8.0,0\n";
    let r = write(&server, "POST", "/api/events", CSV, good);
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.json()["inserted"], 2);
    assert_eq!(status_without_body(&server, (32 << 20) + 1), 413);
}

/// The status a server answers to a POST announcing `length` bytes of body, none of which
/// is sent: an over-long body is refused from its Content-Length, before it is read.
fn status_without_body(server: &Server, length: usize) -> u16 {
    use std::io::{Read, Write};
    let addr = server.base.trim_start_matches("http://");
    let mut conn = std::net::TcpStream::connect(addr).unwrap();
    conn.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    write!(
        conn,
        "POST /api/events HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {KEY}\r\n\
         Content-Type: text/csv\r\nContent-Length: {length}\r\n\r\n"
    )
    .unwrap();
    let mut head = [0u8; 12];
    conn.read_exact(&mut head).unwrap();
    let head = String::from_utf8_lossy(&head);
    head["HTTP/1.1 ".len()..].trim().parse().unwrap()
}

#[test]
fn the_store_survives_a_restart_and_opens_in_gdal() {
    let store = fresh_store();
    let store_arg = path_str(&store).to_string();
    let shipped = "MLI-SEED-002";
    {
        let server = writer(&["--store", &store_arg]);
        assert_eq!(server.get(&format!("/api/events/{shipped}")).status, 200);
        let body = collection(vec![
            feature("KEEP-1", -1.5, 16.3, "Battles", 2),
            feature("KEEP-2", -2.0, 15.0, "Riots", 0),
        ]);
        assert_eq!(
            write(&server, "POST", "/api/events", GEOJSON, &body).status,
            201
        );
        let replaced = feature(shipped, -3.5, 17.0, "Battles", 11);
        let r = write(
            &server,
            "PUT",
            &format!("/api/events/{shipped}"),
            GEOJSON,
            &replaced.to_string(),
        );
        assert_eq!(r.status, 200, "{}", r.body);
        let (k, v) = auth();
        assert_eq!(
            server
                .send("DELETE", "/api/events/KEEP-2", &[(k, &v)], b"")
                .status,
            204
        );
        assert_eq!(
            server
                .send("DELETE", "/api/events/MLI-SEED-001", &[(k, &v)], b"")
                .status,
            204
        );
    } // killed: no shutdown of its own

    let server = writer(&["--store", &store_arg]);
    let kept = server.json("/api/events/KEEP-1");
    assert_eq!(kept["geometry"]["coordinates"], json!([-1.5, 16.3]));
    assert_eq!(kept["properties"]["notes"], "written by tests/writes.rs");
    let replaced = server.json(&format!("/api/events/{shipped}"));
    assert_eq!(
        replaced["properties"]["fatalities"], 11,
        "the stored version replaces the file's"
    );
    assert_eq!(server.get("/api/events/KEEP-2").status, 404);
    assert_eq!(
        server.get("/api/events/MLI-SEED-001").status,
        404,
        "a stored deletion hides a file's event"
    );
    assert_eq!(server.json("/api/changes")["sequence"], 5);
    drop(server);

    // GDAL reads it as a GeoPackage: the layer, its geometry and ACLED columns.
    let out = Command::new("ogrinfo")
        .args(["-ro", "-al", "-q", &store_arg, "events"])
        .output()
        .expect("ogrinfo (gdal-bin, installed by make test)");
    let text = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(!stderr.contains("Warning"), "{stderr}");
    assert!(text.contains("event_id_cnty (String) = KEEP-1"), "{text}");
    assert!(text.contains("POINT (-1.5 16.3)"), "{text}");
    assert!(
        text.contains(&format!("event_id_cnty (String) = {shipped}")),
        "{text}"
    );
    assert!(!text.contains("KEEP-2"), "{text}");
    let summary = Command::new("ogrinfo")
        .args(["-ro", "-so", &store_arg, "events"])
        .output()
        .unwrap();
    let summary = String::from_utf8_lossy(&summary.stdout);
    assert!(summary.contains("Feature Count: 2"), "{summary}");
    assert!(summary.contains("Geometry: Point"), "{summary}");
    assert!(
        summary.contains("EPSG\",4326") || summary.contains("WGS 84"),
        "{summary}"
    );
}

/// A copy of the shipped data that a test may change.
fn data_copy(name: &str) -> std::path::PathBuf {
    let dir = scratch(name);
    for entry in std::fs::read_dir(common::geodata()).unwrap() {
        let entry = entry.unwrap();
        if entry.path().is_file() {
            std::fs::copy(entry.path(), dir.join(entry.file_name())).unwrap();
        }
    }
    dir
}

fn healthz_after(server: &Server, version: u64) -> Value {
    for _ in 0..200 {
        let h = server.json("/healthz");
        if h["data_version"].as_u64() >= Some(version) || h["last_reload"]["ok"] == false {
            return h;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("no reload to data version {version} within 10 s");
}

#[test]
fn sighup_and_admin_reload_swap_in_new_files_and_keep_the_old_on_error() {
    let data = data_copy("reload_data");
    let events = data.join("events.csv");
    let mut cmd = Command::new(common::bin());
    cmd.args(["serve", "--addr", "127.0.0.1:0", "--data", path_str(&data)])
        .arg("--store")
        .arg(fresh_store())
        .env("SAHEL_ATLAS_WRITE_KEYS", KEY);
    let server = Server::spawn(cmd);
    let h = server.json("/healthz");
    assert_eq!(
        (h["data_version"].as_u64(), h["last_reload"].is_null()),
        (Some(1), true)
    );
    let shipped = h["events"].as_u64().unwrap();
    let body = collection(vec![feature("KEPT-OVER-RELOAD", -2.0, 14.0, "Battles", 1)]);
    assert_eq!(
        write(&server, "POST", "/api/events", GEOJSON, &body).status,
        201
    );

    // A new row in the file, then SIGHUP.
    let header = std::fs::read_to_string(&events).unwrap();
    let columns: Vec<&str> = header.lines().next().unwrap().split(',').collect();
    let row: Vec<&str> = columns
        .iter()
        .map(|c| match *c {
            "event_id_cnty" => "MLI-RELOAD-1",
            "event_date" => "2021-01-02",
            "year" => "2021",
            "event_type" => "Battles",
            "latitude" => "14.3",
            "longitude" => "-3.6",
            "fatalities" => "2",
            "geo_precision" => "1",
            _ => "",
        })
        .collect();
    std::fs::write(&events, format!("{header}{}\n", row.join(","))).unwrap();
    let hup = Command::new("kill")
        .args(["-HUP", &server.pid().to_string()])
        .status()
        .unwrap();
    assert!(hup.success());
    let h = healthz_after(&server, 2);
    assert_eq!(h["last_reload"]["ok"], true, "{h}");
    assert_eq!(h["events"].as_u64(), Some(shipped + 2));
    assert_eq!(server.get("/api/events/MLI-RELOAD-1").status, 200);
    assert_eq!(
        server.get("/api/events/KEPT-OVER-RELOAD").status,
        200,
        "the store is laid over the new files"
    );

    // A broken file: the reload is refused, named, and the old data serves on.
    std::fs::write(&events, format!("{header}MLI-BAD,not-a-date,2021\n")).unwrap();
    let (k, v) = auth();
    let r = server.send("POST", "/admin/reload", &[(k, &v)], b"");
    assert_eq!(r.status, 422, "{}", r.body);
    let detail = r.json()["detail"].as_str().unwrap().to_string();
    assert!(
        detail.contains("events.csv") && detail.contains("line"),
        "{detail}"
    );
    let h = server.json("/healthz");
    assert_eq!(
        (h["data_version"].as_u64(), h["last_reload"]["ok"].as_bool()),
        (Some(2), Some(false))
    );
    assert_eq!(h["events"].as_u64(), Some(shipped + 2));
    assert_eq!(server.get("/api/events/MLI-RELOAD-1").status, 200);
    assert_eq!(server.send("POST", "/admin/reload", &[], b"").status, 401);
}

/// Opens `/api/changes` as an event stream; its `id:` lines arrive on the channel.
fn stream_ids(server: &Server, last_event_id: Option<&str>) -> std::sync::mpsc::Receiver<u64> {
    use std::io::BufRead;
    let url = format!("{}/api/changes", server.base);
    let last = last_event_id.map(str::to_string);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let agent: ureq::Agent = ureq::Agent::config_builder().build().into();
        let mut req = agent.get(&url).header("Accept", "text/event-stream");
        if let Some(id) = &last {
            req = req.header("Last-Event-ID", id);
        }
        let resp = req.call().expect("event stream");
        assert_eq!(
            resp.headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok()),
            Some("text/event-stream")
        );
        let lines = std::io::BufReader::new(resp.into_body().into_reader()).lines();
        for line in lines.map_while(Result::ok) {
            if let Some(id) = line.strip_prefix("id:")
                && tx.send(id.trim().parse().unwrap()).is_err()
            {
                return;
            }
        }
    });
    rx
}

#[test]
fn the_change_log_streams_as_server_sent_events() {
    let server = writer(&[]);
    let post = |id: &str| {
        let body = collection(vec![feature(id, -4.0, 14.4, "Battles", 1)]);
        assert_eq!(
            write(&server, "POST", "/api/events", GEOJSON, &body).status,
            201
        );
    };
    post("SSE-1");
    post("SSE-2");
    let wait = std::time::Duration::from_secs(10);
    let from_start = stream_ids(&server, None);
    assert_eq!(from_start.recv_timeout(wait), Ok(1), "the backlog first");
    assert_eq!(from_start.recv_timeout(wait), Ok(2));
    post("SSE-3");
    assert_eq!(
        from_start.recv_timeout(wait),
        Ok(3),
        "then each write as it is committed"
    );
    let resumed = stream_ids(&server, Some("2"));
    assert_eq!(
        resumed.recv_timeout(wait),
        Ok(3),
        "Last-Event-ID resumes after it"
    );
    post("SSE-4");
    assert_eq!(resumed.recv_timeout(wait), Ok(4));
    assert_eq!(from_start.recv_timeout(wait), Ok(4));
}
