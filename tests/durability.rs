//! The durability promise, tried the hard way: a client streams one-event writes while
//! the server is killed with SIGKILL at a random moment; after each restart every write
//! that was acknowledged (201) is there with exactly its content, and SQLite finds the
//! store intact. `scripts/kill-test.sh CYCLES` runs more cycles than CI does.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use common::{Server, fresh_store, path_str};
use serde_json::json;

const KEY: &str = "durability-key";

fn start(store: &str) -> Server {
    Server::start_env(&["--store", store], &[("SAHEL_ATLAS_WRITE_KEYS", KEY)])
}

/// The event written as number `n` of cycle `c`: its content follows from (c, n).
fn event(c: u32, n: u32) -> (String, serde_json::Value) {
    let id = format!("KILL-{c}-{n}");
    // Quotients of whole numbers: the nearest doubles, which print back as written.
    let lon = -f64::from(400 + n % 100) / 100.0;
    let lat = f64::from(1400 + c * 10) / 100.0;
    let feature = json!({
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [lon, lat]},
        "properties": {"event_id_cnty": id, "event_date": "2022-06-01", "event_type": "Battles",
                       "fatalities": n, "notes": format!("cycle {c} write {n}")}
    });
    (id, feature)
}

/// Writes events one by one until a write fails; returns those acknowledged.
fn stream_writes(base: String, cycle: u32, stop: Arc<AtomicBool>) -> Vec<u32> {
    let mut acked = Vec::new();
    let auth = format!("Bearer {KEY}");
    for n in 0.. {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let (_, feature) = event(cycle, n);
        let url = format!("{base}/api/events");
        let headers = [
            ("Authorization", auth.as_str()),
            ("Content-Type", "application/geo+json"),
        ];
        match common::try_send("POST", &url, &headers, feature.to_string().as_bytes()) {
            Ok(r) if r.status == 201 => acked.push(n),
            _ => break, // the server is gone: this write is not acknowledged
        }
    }
    acked
}

/// A pseudo-random delay in 50..650 ms, seeded from the clock (printed, to replay).
fn random_delay(seed: &mut u64) -> Duration {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    Duration::from_millis(50 + *seed % 600)
}

#[test]
fn acknowledged_writes_survive_sigkill() {
    let cycles: u32 = std::env::var("SAHEL_KILL_CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let mut seed = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    println!("seed {seed}");
    let store = fresh_store();
    let store_arg = path_str(&store).to_string();
    let mut acknowledged: Vec<(u32, u32)> = Vec::new();
    for cycle in 0..cycles {
        let server = start(&store_arg);
        let stop = Arc::new(AtomicBool::new(false));
        let writer = {
            let (base, stop) = (server.base.clone(), stop.clone());
            std::thread::spawn(move || stream_writes(base, cycle, stop))
        };
        std::thread::sleep(random_delay(&mut seed));
        drop(server); // SIGKILL, mid-stream
        stop.store(true, Ordering::Relaxed);
        let acked = writer.join().expect("writer thread");
        println!(
            "cycle {cycle}: {} writes acknowledged before the kill",
            acked.len()
        );
        acknowledged.extend(acked.into_iter().map(|n| (cycle, n)));

        // Restarted: every acknowledged write, exactly as sent.
        let server = start(&store_arg);
        for &(c, n) in &acknowledged {
            let (id, sent) = event(c, n);
            let got = server.json(&format!("/api/events/{id}"));
            assert_eq!(got["geometry"], sent["geometry"], "{id}");
            assert_eq!(got["properties"]["fatalities"], n, "{id}");
            assert_eq!(
                got["properties"]["notes"], sent["properties"]["notes"],
                "{id}"
            );
        }
    }
    assert!(!acknowledged.is_empty(), "no write was acknowledged at all");
    let conn = rusqlite::Connection::open(&store).unwrap();
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
    // Nothing half-written: every stored row is one of the events sent, whole.
    let mut stmt = conn
        .prepare("SELECT event_id_cnty, fatalities, notes FROM events")
        .unwrap();
    let rows: Vec<(String, u32, String)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    for (id, fatalities, notes) in rows {
        let parts: Vec<u32> = id
            .trim_start_matches("KILL-")
            .split('-')
            .map(|p| p.parse().unwrap())
            .collect();
        let (_, sent) = event(parts[0], parts[1]);
        assert_eq!(fatalities, parts[1], "{id}");
        assert_eq!(notes, sent["properties"]["notes"].as_str().unwrap(), "{id}");
    }
}

/// Waits until the server reports its base saved.
fn wait_saved(s: &Server) -> serde_json::Value {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let h = s.json("/healthz");
        if h["base"]["last_save"]["ok"] == true {
            return h;
        }
        assert!(std::time::Instant::now() < deadline, "never saved: {h}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// What a restart must answer exactly as before.
fn answers(s: &Server) -> Vec<String> {
    [
        "/api/events?near=Mopti&radius_km=120&limit=40&offset=3",
        "/api/events?bbox=-5,13,-1,17&type=Battles&from=2015-01-01&limit=60",
        "/api/events/nearest?lon=-0.05&lat=16.3&k=15",
        "/api/stats?group_by=region",
        "/api/stats?group_by=type&actor=jnim",
        "/api/coverage",
    ]
    .iter()
    .map(|p| {
        let r = s.get(p);
        assert_eq!(r.status, 200, "{p}: {}", r.body);
        r.body
    })
    .chain(
        ["/tiles/7/62/58.mvt", "/tiles/11/1001/929.mvt"]
            .iter()
            .map(|p| {
                let r = s.get(p);
                format!(
                    "{p} {} {} bytes {:?}",
                    r.status,
                    r.body.len(),
                    r.header("etag")
                )
            }),
    )
    .collect()
}

/// A restart with unchanged files reads the saved base back (and the writes made since
/// it was saved) and answers exactly as the server that built it; a changed file is
/// read again.
#[test]
fn a_restart_reads_the_saved_base_until_a_file_changes() {
    let events = common::synthetic_events("saved-base", 30_000, 21);
    let store = fresh_store();
    let args = |s: &str| {
        vec![
            "--store".to_string(),
            s.to_string(),
            "--events".to_string(),
            path_str(&events).to_string(),
        ]
    };
    let start = |store: &str| {
        let a = args(store);
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        Server::start_env(&a, &[("SAHEL_ATLAS_WRITE_KEYS", KEY)])
    };
    let first = start(path_str(&store));
    let h = wait_saved(&first);
    assert_eq!(h["base"]["from"], "files");
    let built = h["events"].as_u64().unwrap();
    assert!(built > 30_000, "{h}");
    let auth = format!("Bearer {KEY}");
    let (id, feature) = event(99, 7);
    let posted = first.send(
        "POST",
        "/api/events",
        &[
            ("authorization", &auth),
            ("content-type", "application/json"),
        ],
        feature.to_string().as_bytes(),
    );
    assert_eq!(posted.status, 201, "{}", posted.body);
    let before = answers(&first);
    drop(first);

    let second = start(path_str(&store));
    let h = second.json("/healthz");
    assert_eq!(h["base"]["from"], "saved", "{h}");
    assert_eq!(h["events"], built + 1, "{h}");
    assert_eq!(second.get(&format!("/api/events/{id}")).status, 200);
    assert_eq!(answers(&second), before);
    drop(second);

    // One more event in the file: built from the files again, and saved again.
    let mut text = std::fs::read_to_string(&events).unwrap();
    let last = text.lines().last().unwrap().to_string();
    text.push_str(&last.replacen(last.split(',').next().unwrap(), "ADDED1", 1));
    text.push('\n');
    std::fs::write(&events, text).unwrap();
    let third = start(path_str(&store));
    let h = wait_saved(&third);
    assert_eq!(h["base"]["from"], "files", "{h}");
    assert_eq!(third.get("/api/events/ADDED1").status, 200);
    assert_eq!(third.get(&format!("/api/events/{id}")).status, 200);
}

/// Every event's id and notes, as a CSV download (`f=csv`) or an events file has them,
/// read with the `csv` crate.
fn notes_by_id(text: &[u8]) -> Vec<(String, String)> {
    let mut r = csv::Reader::from_reader(text);
    let header = r.headers().unwrap().clone();
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let (id, notes) = (col("event_id_cnty"), col("notes"));
    let mut all: Vec<(String, String)> = r
        .records()
        .map(|rec| {
            let rec = rec.unwrap();
            (rec[id].to_string(), rec[notes].to_string())
        })
        .collect();
    all.sort();
    all
}

/// The notes a server shows are the file's: on a first start, when they are kept in an
/// unlinked spill file beside the saved base (which leaves nothing behind), and after a
/// restart, when they are read from the saved base.
#[test]
fn notes_are_shown_as_the_file_has_them() {
    // Over 16 MB, so read in pieces, each spilling its own notes.
    let generated = common::synthetic_events("notes-file", 40_000, 9);
    let mut events = csv::Reader::from_path(&generated).unwrap();
    let header = events.headers().unwrap().clone();
    let notes_col = header.iter().position(|h| h == "notes").unwrap();
    let odd = [
        "",
        "\"Quoted\", with commas, and\na line break\r\nor two",
        "Tombouctou – Ménaka: ségou 🙂 \u{2028} end",
    ];
    let file = common::scratch("notes-events").join("events.csv");
    let mut out = csv::Writer::from_path(&file).unwrap();
    out.write_record(&header).unwrap();
    for (i, rec) in events.records().enumerate() {
        let rec = rec.unwrap();
        let row: Vec<&str> = (0..rec.len())
            .map(|c| match c {
                c if c == notes_col && i % 37 == 0 => odd[i / 37 % odd.len()],
                c => &rec[c],
            })
            .collect();
        out.write_record(&row).unwrap();
    }
    out.flush().unwrap();
    drop(out);
    let expected = notes_by_id(&std::fs::read(&file).unwrap());
    assert_eq!(expected.len(), 40_000);

    let dir = common::scratch("notes-store");
    let store = dir.join("events.gpkg");
    let start = || {
        Server::start(&[
            "--store",
            path_str(&store),
            "--events",
            path_str(&file),
            "--no-shipped-events",
        ])
    };
    let shown = |s: &Server| {
        let r = s.get("/api/events?f=csv");
        assert_eq!(r.status, 200);
        notes_by_id(r.body.as_bytes())
    };
    let first = start();
    assert_eq!(wait_saved(&first)["base"]["from"], "files");
    assert!(shown(&first) == expected, "first start");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with("events.gpkg"))
        .collect();
    names.sort();
    assert_eq!(names, Vec::<String>::new(), "files left beside the store");
    drop(first);

    let second = start();
    assert_eq!(second.json("/healthz")["base"]["from"], "saved");
    assert!(shown(&second) == expected, "restart");
}
