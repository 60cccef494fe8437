//! Downloads of any query (`f=csv`, `f=geojson`): checked against the paged JSON answer
//! by an independent reader (`tests/truth/download.py`: Python's csv and json), loaded
//! back by our own ACLED reader, capped, and limited in number while slow clients read.
#![allow(clippy::too_many_lines, reason = "a test scenario reads top to bottom")]

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::*;

/// The downloads of `path?query` agree with its pages; returns the report.
fn agrees(server: &Server, path: &str, query: &str, member: Option<&str>) -> serde_json::Value {
    let mut args = vec![server.base.as_str(), path, query];
    args.extend(member);
    let report = run_truth("download.py", &args);
    assert_eq!(
        report["mismatches"],
        serde_json::json!([]),
        "{path}?{query}: {report}"
    );
    assert_eq!(report["rows"], report["matched"], "{path}?{query}");
    let disposition = report["csv_disposition"].as_str().unwrap_or("");
    assert!(
        disposition.starts_with("attachment; filename=\"sahel-atlas-")
            && disposition.ends_with(".csv\""),
        "{disposition}"
    );
    let disposition = report["geojson_disposition"].as_str().unwrap_or("");
    assert!(disposition.ends_with(".geojson\""), "{disposition}");
    assert!(report["csv_type"].as_str().unwrap().starts_with("text/csv"));
    report
}

#[test]
fn downloads_hold_exactly_what_the_pages_hold() {
    let events = synthetic_events("downloads", 20_000, 11);
    let server = Server::start(&["--events", path_str(&events)]);
    let near = agrees(
        &server,
        "/api/events",
        "near=Mopti&radius_km=120&from=2012&type=Battles,Violence%20against%20civilians",
        None,
    );
    let rows = near["rows"].as_u64().unwrap();
    assert!(rows > 1000, "{rows} rows near Mopti");
    let header: Vec<&str> = near["header"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h.as_str().unwrap())
        .collect();
    assert_eq!(header.len(), 33);
    assert_eq!(&header[31..], ["region_id", "distance_km"]);
    assert_eq!(
        near["geojson_members"],
        serde_json::json!([
            "center",
            "circle",
            "numberMatched",
            "numberReturned",
            "radius_km",
            "type"
        ])
    );
    let all = agrees(
        &server,
        "/api/events",
        "from=2019-01-01&to=2019-06-30",
        None,
    );
    assert!(all["rows"].as_u64().unwrap() > 500);
    agrees(
        &server,
        "/api/bases/MINUSMA-GAO-SE/coverage",
        "from=2016",
        None,
    );
    let uncovered = agrees(&server, "/api/coverage", "type=Riots", Some("uncovered"));
    assert!(uncovered["rows"].as_u64().unwrap() > 10);
    agrees(
        &server,
        "/ogc/collections/events/items",
        "datetime=2018-01-01/2018-12-31",
        None,
    );
    let regions = agrees(&server, "/ogc/collections/regions/items", "", None);
    assert!(
        regions["header"]
            .as_array()
            .unwrap()
            .contains(&"wkt".into())
    );
    agrees(
        &server,
        "/ogc/collections/bases/items",
        "operator=MINUSMA",
        None,
    );

    // limit and offset still apply when given.
    let part = get(&format!(
        "{}/api/events?from=2019&f=csv&limit=7&offset=3",
        server.base
    ));
    assert_eq!(part.status, 200);
    assert_eq!(
        part.body.matches("\r\n").count(),
        8,
        "a header and 7 records"
    );

    // The CSV loads back through our own ACLED reader, every event kept.
    let file = scratch("downloads").join("near.csv");
    let csv = get(&format!(
        "{}/api/events?near=Mopti&radius_km=120&from=2012&f=csv",
        server.base
    ));
    std::fs::write(&file, &csv.bytes).unwrap();
    let checked = std::process::Command::new(bin())
        .args([
            "check",
            "--no-shipped-events",
            "--events",
            path_str(&file),
            "--data",
        ])
        .arg(geodata())
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&checked.stdout);
    assert!(
        checked.status.success(),
        "{out}{}",
        String::from_utf8_lossy(&checked.stderr)
    );
    let matched = server.json("/api/events?near=Mopti&radius_km=120&from=2012&limit=0");
    let n = matched["numberMatched"].as_u64().unwrap();
    assert!(
        out.contains(&format!(" {n} events ")),
        "{n} events matched; check said {out}"
    );
}

#[test]
fn downloads_are_capped_and_limited_in_number() {
    let events = synthetic_events("download-caps", 40_000, 5);
    let server = Server::start(&[
        "--events",
        path_str(&events),
        "--max-download-rows",
        "30000",
        "--max-downloads",
        "1",
    ]);
    let over = get(&format!("{}/api/events?f=csv", server.base));
    assert_eq!(over.status, 422, "{}", over.body);
    assert_eq!(over.json()["parameter"], "f");
    assert!(over.body.contains("30000"), "{}", over.body);
    let taken = get(&format!("{}/api/events?f=geojson&limit=30000", server.base));
    assert_eq!(taken.status, 200);
    assert_eq!(taken.json()["features"].as_array().unwrap().len(), 30000);

    // A client that asks and does not read holds the one download turn ...
    let host = server.base.trim_start_matches("http://");
    let mut slow = TcpStream::connect(host).unwrap();
    write!(
        slow,
        "GET /api/events?f=csv&limit=30000 HTTP/1.1\r\nHost: {host}\r\n\r\n"
    )
    .unwrap();
    let mut first = [0u8; 64];
    slow.read_exact(&mut first).unwrap();
    assert!(first.starts_with(b"HTTP/1.1 200"));
    // Still held a while later: the writer waits for the reader (were the body buffered
    // without bound, it would have finished, the whole file in memory, and let go).
    std::thread::sleep(Duration::from_millis(1500));
    let busy = get(&format!("{}/api/events?f=csv&limit=10", server.base));
    assert_eq!(busy.status, 503, "{}", busy.body);
    assert_eq!(busy.header("retry-after"), Some("1"));
    // ... and gives it back when it goes away.
    drop(slow);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let again = get(&format!("{}/api/events?f=csv&limit=10", server.base));
        if again.status == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "the turn was never given back");
        std::thread::sleep(Duration::from_millis(100));
    }
    // Pages stay capped as before; documents other than collections take no downloads.
    let page = get(&format!("{}/api/events?limit=10001", server.base));
    assert_eq!(page.status, 422);
    assert_eq!(page.json()["parameter"], "limit");
    let doc = get(&format!("{}/ogc/collections?f=csv", server.base));
    assert_eq!(doc.status, 400, "{}", doc.body);
}
