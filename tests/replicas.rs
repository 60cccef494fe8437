//! Replicas sharing one PostgreSQL/PostGIS store, against a real server that the test
//! starts: the shipped events imported with `sahel-atlas import`, two replicas serving
//! from the store alone, a write to either visible on the other within a second (also
//! while both take writes at once), one replica killed with SIGKILL while the other keeps
//! serving and writing, the killed one catching up on restart, and every count equal to
//! PostGIS's own. Also: an import resumes after its last committed batch, in either store.
#![allow(clippy::too_many_lines, reason = "a test scenario reads top to bottom")]

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::postgres::Postgres;
use common::{Server, fresh_store, geodata, path_str};
use sahel_atlas::{Change, ImportMark, Interner, import_files, load_events_file};
use serde_json::json;

const KEY: &str = "replica-key";

fn replica(url: &str) -> Server {
    Server::start_env(
        &["--store", url, "--no-shipped-events"],
        &[("SAHEL_ATLAS_WRITE_KEYS", KEY)],
    )
}

fn import(url: &str, file: &std::path::Path) -> String {
    common::run_cli(&[
        "import".as_ref(),
        "--store".as_ref(),
        url.as_ref(),
        "--batch".as_ref(),
        "10".as_ref(),
        file.as_os_str(),
    ])
}

fn total(s: &Server) -> u64 {
    s.json("/api/events?limit=0")["numberMatched"]
        .as_u64()
        .unwrap()
}

fn stored(pg: &Postgres) -> u64 {
    pg.psql("sahel", "SELECT count(*) FROM events")
        .parse()
        .unwrap()
}

fn post(s: &Server, id: &str, lon: f64, lat: f64) -> u16 {
    let feature = json!({
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [lon, lat]},
        "properties": {"event_id_cnty": id, "event_date": "2024-03-01",
                       "event_type": "Battles", "fatalities": 2, "notes": "tests/replicas.rs"}
    });
    let auth = format!("Bearer {KEY}");
    s.send(
        "POST",
        "/api/events",
        &[
            ("Authorization", &auth),
            ("Content-Type", "application/geo+json"),
        ],
        feature.to_string().as_bytes(),
    )
    .status
}

/// How long until `GET path` on `s` answers `status` (panics after 5 s).
fn seen_after(s: &Server, path: &str, status: u16, since: Instant) -> Duration {
    loop {
        if s.get(path).status == status {
            return since.elapsed();
        }
        assert!(
            since.elapsed() < Duration::from_secs(5),
            "{path} never answered {status} on {}",
            s.base
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Waits until every replica serves as many events as PostGIS holds.
fn counts_agree(pg: &Postgres, replicas: &[&Server]) -> u64 {
    let expected = stored(pg);
    let started = Instant::now();
    for r in replicas {
        while total(r) != expected {
            assert!(
                started.elapsed() < Duration::from_secs(3),
                "{} serves {} events, PostGIS holds {expected}",
                r.base,
                total(r)
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    expected
}

#[test]
fn replicas_share_writes_through_postgis() {
    let pg = Postgres::start("replicas");
    let url = pg.url();
    let shipped = geodata().join("events.csv");
    let first = import(&url, &shipped);
    let n = load_events_file(&shipped, &mut Interner::default(), None)
        .unwrap()
        .len() as u64;
    assert!(
        first.contains(&format!("{n} events, {n} committed now")),
        "{first}"
    );
    assert_eq!(stored(&pg), n);
    // Finished: a second run commits nothing.
    assert!(import(&url, &shipped).contains(&format!("{n} events, 0 committed now")));
    assert_eq!(
        pg.psql("sahel", "SELECT max(seq) FROM sahel_changes"),
        n.to_string()
    );

    let a = replica(&url);
    let b = replica(&url);
    assert_eq!(counts_agree(&pg, &[&a, &b]), n);
    // Our geodesic radius agrees with PostGIS geography on the stored events.
    let ours = a.json("/api/events?lon=-4.19&lat=14.49&radius_km=150&limit=0")["numberMatched"]
        .as_u64()
        .unwrap();
    let theirs = pg.psql(
        "sahel",
        "SELECT count(*) FROM events WHERE ST_DWithin(geog, \
         ST_SetSRID(ST_MakePoint(-4.19, 14.49), 4326)::geography, 150000, false)",
    );
    assert_eq!(ours.to_string(), theirs);

    // A write on one replica is visible on the other within a second, both ways.
    let mut worst = Duration::ZERO;
    for k in 0..20 {
        let (from, to) = if k % 2 == 0 { (&a, &b) } else { (&b, &a) };
        let id = format!("REPL-{k}");
        let t = Instant::now();
        assert_eq!(post(from, &id, -3.0 + f64::from(k) * 0.01, 15.0), 201);
        worst = worst.max(seen_after(to, &format!("/api/events/{id}"), 200, t));
    }
    eprintln!("replication lag: worst of 20 writes {worst:?}");
    assert!(worst < Duration::from_secs(1), "lag {worst:?}");
    let auth = format!("Bearer {KEY}");
    let t = Instant::now();
    let deleted = b.send(
        "DELETE",
        "/api/events/REPL-0",
        &[("Authorization", &auth)],
        b"",
    );
    assert_eq!(deleted.status, 204);
    assert!(seen_after(&a, "/api/events/REPL-0", 404, t) < Duration::from_secs(1));

    // Both take writes at once: sequence numbers interleave, nothing is lost on either.
    std::thread::scope(|s| {
        for (name, r) in [("A", &a), ("B", &b)] {
            s.spawn(move || {
                for k in 0..40 {
                    let lat = 13.0 + f64::from(k) * 0.01;
                    assert_eq!(post(r, &format!("BOTH-{name}-{k}"), -2.0, lat), 201);
                }
            });
        }
    });
    assert_eq!(counts_agree(&pg, &[&a, &b]), n + 19 + 80);

    // A dies hard; B keeps serving and writing.
    Command::new("kill")
        .args(["-KILL", &a.pid().to_string()])
        .status()
        .unwrap();
    drop(a);
    for k in 0..10 {
        assert_eq!(
            post(
                &b,
                &format!("WHILE-DOWN-{k}"),
                -1.0,
                14.0 + f64::from(k) * 0.01
            ),
            201
        );
    }
    assert_eq!(b.get("/tiles/5/15/14.mvt").status, 200);
    // A comes back and has everything written while it was down.
    let a = replica(&url);
    assert_eq!(a.get("/api/events/WHILE-DOWN-9").status, 200);
    assert_eq!(counts_agree(&pg, &[&a, &b]), n + 19 + 80 + 10);
    assert_eq!(
        a.json("/api/stats?group_by=year"),
        b.json("/api/stats?group_by=year")
    );
}

/// Stops an import after some batches (as a crash would, between commits) and runs it
/// again: it commits only the rest; a finished file is skipped; a changed file starts over.
fn resumes(spec: &str, dir: &std::path::Path) {
    let file = dir.join("events.csv");
    std::fs::copy(geodata().join("events.csv"), &file).unwrap();
    let events = load_events_file(&file, &mut Interner::default(), None).unwrap();
    let n = events.len() as u64;
    let store = sahel_atlas::open_store(spec).unwrap();
    let key = std::fs::canonicalize(&file).unwrap().display().to_string();
    let bytes = std::fs::metadata(&file).unwrap().len();
    let head: Vec<Change> = events[..30].iter().cloned().map(Change::Upsert).collect();
    let mark = ImportMark {
        file: key,
        bytes,
        rows: 30,
        done: false,
    };
    store.commit_import(&head, &mark).unwrap();
    let done = import_files(&*store, std::slice::from_ref(&file), 7).unwrap();
    assert_eq!((done[0].events, done[0].committed), (n, n - 30), "{spec}");
    assert_eq!(store.load().unwrap().events.len() as u64, n);
    // 30 + the rest, in batches of 7: one change per row, none twice.
    assert_eq!(store.sequence().unwrap(), n);
    let again = import_files(&*store, std::slice::from_ref(&file), 7).unwrap();
    assert_eq!(again[0].committed, 0);
    // Another export under the same name: imported from its first row.
    let text = std::fs::read_to_string(&file).unwrap();
    let shorter: Vec<&str> = text.lines().take(11).collect();
    std::fs::write(&file, shorter.join("\n") + "\n").unwrap();
    let other = import_files(&*store, &[file], 7).unwrap();
    assert_eq!((other[0].events, other[0].committed), (10, 10));
}

#[test]
fn an_import_resumes_after_its_last_committed_batch() {
    let dir = common::scratch("import-resume");
    resumes(path_str(&fresh_store()), &dir);
    let pg = Postgres::start("import");
    resumes(&pg.url(), &dir);
    assert_eq!(
        pg.psql("sahel", "SELECT rows, done FROM sahel_imports"),
        "10|t"
    );
}
