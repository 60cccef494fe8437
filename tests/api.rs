//! HTTP-level tests of the query API against the real server, checked against truth
//! computed independently (Karney's GeographicLib in Python, the human-coded `admin1`
//! column, plain CSV counting).
#![allow(clippy::too_many_lines, reason = "a test scenario reads top to bottom")]

mod common;

use std::collections::{BTreeMap, HashMap};

use common::*;
use serde_json::Value;

const MOPTI: (f64, f64) = (-4.18296, 14.4843);

fn ids_and_distances(fc: &Value) -> BTreeMap<String, f64> {
    fc["features"]
        .as_array()
        .expect("features")
        .iter()
        .map(|f| {
            (
                f["id"].as_str().expect("id").to_string(),
                f["properties"]["distance_km"].as_f64().unwrap_or(f64::NAN),
            )
        })
        .collect()
}

fn truth_map(v: &Value) -> BTreeMap<String, f64> {
    v.as_object()
        .expect("object")
        .iter()
        .map(|(k, d)| (k.clone(), d.as_f64().expect("distance")))
        .collect()
}

fn assert_same_events(got: &BTreeMap<String, f64>, want: &BTreeMap<String, f64>, what: &str) {
    let got_ids: Vec<&String> = got.keys().collect();
    let want_ids: Vec<&String> = want.keys().collect();
    assert_eq!(got_ids, want_ids, "{what}: event ids differ");
    for (id, d) in want {
        // Distances are reported rounded to the metre.
        assert!(
            (got[id] - d).abs() <= 0.0006,
            "{what}: {id}: {} vs {d}",
            got[id]
        );
    }
}

/// The ring fixture: events a few metres either side of 50 km from Mopti, plus north-south
/// points where a spherical (haversine) distance lands on the wrong side.
fn ring_fixture() -> std::path::PathBuf {
    let dir = scratch("ring");
    let ring = dir.join("ring.csv");
    truth(&[
        "ring",
        "--lon",
        &MOPTI.0.to_string(),
        "--lat",
        &MOPTI.1.to_string(),
        "--out",
        path_str(&ring),
    ]);
    ring
}

#[test]
fn events_within_50_km_of_mopti_match_geographiclib() {
    let ring = ring_fixture();
    let server = Server::start(&["--events", path_str(&ring)]);
    let shipped = geodata().join("events.csv");
    let want = truth_map(&truth(&[
        "within",
        "--lon",
        &MOPTI.0.to_string(),
        "--lat",
        &MOPTI.1.to_string(),
        "--radius",
        "50",
        path_str(&shipped),
        path_str(&ring),
    ]));
    assert!(
        want.len() > 40,
        "fixture should put many events inside: {}",
        want.len()
    );
    assert!(
        want.contains_key("TEST-RING-073"),
        "49.8 km north must be inside"
    );
    assert!(
        !want.contains_key("TEST-RING-076"),
        "50.1 km north must be outside"
    );

    // Exactly as a user types it, and its variants.
    for q in [
        "near=Mopti&radius_km=50",
        "near=mopti&radius_km=50",
        "near=MOPTI&radius_km=50.0",
    ] {
        let fc = server.json(&format!("/api/events?{q}&limit=10000"));
        assert_eq!(fc["numberMatched"].as_u64(), Some(want.len() as u64), "{q}");
        assert_eq!(fc["center"]["place"], "Mopti");
        assert_eq!(fc["circle"]["type"], "Polygon");
        assert_eq!(
            fc["circle"]["coordinates"][0].as_array().unwrap().len(),
            129
        );
        assert_same_events(&ids_and_distances(&fc), &want, q);
        // Default sort with a centre is nearest first.
        let d: Vec<f64> = fc["features"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["properties"]["distance_km"].as_f64().unwrap())
            .collect();
        assert!(d.windows(2).all(|w| w[0] <= w[1]), "not sorted by distance");
    }
    let fc = server.json(&format!(
        "/api/events?lon={}&lat={}&radius_km=50&limit=10000",
        MOPTI.0, MOPTI.1
    ));
    assert_same_events(&ids_and_distances(&fc), &want, "lon/lat");

    // Page by page, nearest first: the pages join into the truth's distance order, each
    // distance exact (only the requested prefix is ranked exactly on the server).
    let mut by_distance: Vec<f64> = want.values().copied().collect();
    by_distance.sort_by(f64::total_cmp);
    let mut paged = Vec::new();
    for offset in (0..want.len()).step_by(7) {
        let fc = server.json(&format!(
            "/api/events?near=Mopti&radius_km=50&limit=7&offset={offset}"
        ));
        for f in fc["features"].as_array().unwrap() {
            let id = f["id"].as_str().unwrap();
            let d = f["properties"]["distance_km"].as_f64().unwrap();
            assert!((d - want[id]).abs() <= 0.0006, "{id}: {d} vs {}", want[id]);
            paged.push(d);
        }
    }
    assert_eq!(paged.len(), by_distance.len());
    for (g, w) in paged.iter().zip(&by_distance) {
        assert!((g - w).abs() <= 0.0006, "page order: {g} vs {w}");
    }
    // Date order with a centre still reports exact distances.
    let by_date = server.json("/api/events?near=Mopti&radius_km=50&sort=-date&limit=5&offset=3");
    for f in by_date["features"].as_array().unwrap() {
        let id = f["id"].as_str().unwrap();
        assert!((f["properties"]["distance_km"].as_f64().unwrap() - want[id]).abs() <= 0.0006);
    }
}

#[test]
fn near_accepts_accented_and_plain_place_names() {
    let server = Server::start(&[]);
    for (q, place) in [
        ("S%C3%A9gou", "Ségou"),
        ("Segou", "Ségou"),
        ("segou", "Ségou"),
        ("Tombouctou", "Timbuktu"),
        ("Sevare", "Sévaré"),
        ("boulkessy", "Boulkessi"),
    ] {
        let fc = server.json(&format!("/api/events?near={q}&radius_km=100"));
        assert_eq!(fc["center"]["place"], place, "near={q}");
    }
}

#[test]
fn nearest_matches_a_brute_force_geodesic_ranking() {
    let ring = ring_fixture();
    let server = Server::start(&["--events", path_str(&ring)]);
    let shipped = geodata().join("events.csv");
    // A point between Bamako and Mopti: the nearest events are tens to hundreds of km away.
    let (lon, lat) = (-5.5, 13.2);
    let want = truth(&[
        "nearest",
        "--lon",
        &lon.to_string(),
        "--lat",
        &lat.to_string(),
        "--k",
        "15",
        path_str(&shipped),
        path_str(&ring),
    ]);
    let fc = server.json(&format!("/api/events/nearest?lon={lon}&lat={lat}&k=15"));
    let got: Vec<(String, f64)> = fc["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["id"].as_str().unwrap().to_string(),
                f["properties"]["distance_km"].as_f64().unwrap(),
            )
        })
        .collect();
    let want: Vec<(String, f64)> = want
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p[0].as_str().unwrap().to_string(), p[1].as_f64().unwrap()))
        .collect();
    assert_eq!(got.len(), 15);
    for (g, w) in got.iter().zip(&want) {
        assert!((g.1 - w.1).abs() <= 0.0006, "{g:?} vs {w:?}");
    }
    // Ties (events at the same town) may come in any order; compare as sets per distance.
    let mut g_ids: Vec<&String> = got.iter().map(|g| &g.0).collect();
    let mut w_ids: Vec<&String> = want.iter().map(|w| &w.0).collect();
    g_ids.sort();
    w_ids.sort();
    assert_eq!(g_ids, w_ids);
}

#[test]
fn every_base_coverage_matches_geographiclib() {
    let server = Server::start(&[]);
    let want = truth(&[
        "coverage",
        path_str(&geodata().join("bases.geojson")),
        path_str(&geodata().join("events.csv")),
    ]);
    let want = want.as_object().unwrap();
    assert_eq!(want.len(), 30);
    let mut covered_somewhere = std::collections::BTreeSet::new();
    for (base, events) in want {
        let fc = server.json(&format!("/api/bases/{base}/coverage?limit=10000"));
        let w = truth_map(events);
        assert_same_events(&ids_and_distances(&fc), &w, base);
        assert_eq!(
            fc["totals"]["count"].as_u64(),
            Some(w.len() as u64),
            "{base}"
        );
        assert_eq!(fc["circle"]["geometry"]["type"], "Polygon");
        covered_somewhere.extend(w.keys().cloned());
    }
    // /api/coverage: same per-base counts, and "uncovered" is exactly the rest.
    let report = server.json("/api/coverage?limit=10000");
    for b in report["bases"].as_array().unwrap() {
        let id = b["id"].as_str().unwrap();
        assert_eq!(
            b["totals"]["count"].as_u64(),
            Some(want[id].as_object().unwrap().len() as u64),
            "{id}"
        );
    }
    let all = server.json("/api/events?limit=10000");
    let all_ids: Vec<String> = ids_and_distances(&all).into_keys().collect();
    let mut uncovered: Vec<String> = ids_and_distances(&report["uncovered"])
        .into_keys()
        .collect();
    uncovered.sort();
    let expect: Vec<String> = all_ids
        .into_iter()
        .filter(|i| !covered_somewhere.contains(i))
        .collect();
    assert_eq!(uncovered, expect);
    assert!(
        !expect.is_empty(),
        "some shipped events lie outside every base's radius"
    );
}

#[test]
fn coverage_radius_override_and_active_years() {
    let server = Server::start(&[]);
    let gao = (-0.04472, 16.27167);
    let want = truth_map(&truth(&[
        "within",
        "--lon",
        &gao.0.to_string(),
        "--lat",
        &gao.1.to_string(),
        "--radius",
        "250",
        path_str(&geodata().join("events.csv")),
    ]));
    let fc = server.json("/api/bases/BARKHANE-GAO/coverage?radius_km=250&limit=10000");
    assert_eq!(fc["radius_km"].as_f64(), Some(250.0));
    assert_same_events(&ids_and_distances(&fc), &want, "radius override");
    // Barkhane Gao opened in 2014: active_only drops the 2012-2013 events.
    let active =
        server.json("/api/bases/BARKHANE-GAO/coverage?radius_km=250&active_only=true&limit=10000");
    for f in active["features"].as_array().unwrap() {
        let year: i32 = f["properties"]["event_date"].as_str().unwrap()[..4]
            .parse()
            .unwrap();
        assert!(year >= 2014, "{f}");
    }
    let before = want.len() as u64 - active["numberMatched"].as_u64().unwrap();
    assert!(before > 0, "some covered events predate the base");
}

/// Each event's region is computed by point in polygon at load. Truth: shapely's
/// `covers` on the same polygons. The human-coded `admin1` column must agree too, except
/// for points within ~11 km of their admin1 border, where Natural Earth's 1:10m line and
/// the sources' region can differ (Anéfis, coded Kidal, lies 5 km inside NE's Gao; the
/// Kangaba attack, coded Koulikoro, is mapped to Bamako's coordinates).
#[test]
fn every_shipped_event_lies_in_its_region() {
    let server = Server::start(&[]);
    let truth = truth(&[
        "regions",
        path_str(&geodata().join("regions.geojson")),
        path_str(&geodata().join("events.csv")),
    ]);
    let iso: HashMap<&str, &str> = [
        ("Kayes", "ML-1"),
        ("Koulikoro", "ML-2"),
        ("Sikasso", "ML-3"),
        ("Segou", "ML-4"),
        ("Mopti", "ML-5"),
        ("Timbuktu", "ML-6"),
        ("Gao", "ML-7"),
        ("Kidal", "ML-8"),
        ("Bamako", "ML-BKO"),
    ]
    .into_iter()
    .collect();
    let all = server.json("/api/events?limit=10000");
    let feats = all["features"].as_array().unwrap();
    assert_eq!(feats.len(), 72);
    let mut disagree = Vec::new();
    for f in feats {
        let id = f["id"].as_str().unwrap();
        let p = &f["properties"];
        assert_eq!(p["region"], truth[id][0], "{id}: server vs shapely");
        let admin1 = iso[p["admin1"].as_str().unwrap()];
        if p["region"] != admin1 {
            let border_deg = truth[id][1].as_f64().unwrap();
            assert!(
                border_deg < 0.1,
                "{id}: admin1 {admin1} but {border_deg} deg from its border"
            );
            disagree.push(id.to_string());
        }
    }
    // Anéfis x4 (NE border) and Kangaba, coded Koulikoro but mapped to Bamako's point.
    assert_eq!(
        disagree,
        [
            "MLI-SEED-033",
            "MLI-SEED-034",
            "MLI-SEED-046",
            "MLI-SEED-047",
            "MLI-SEED-051"
        ]
    );
    // The region filter selects exactly the events in the region, by id or by name.
    let fc = server.json("/api/events?region=ML-5&limit=10000");
    let by_name = server.json("/api/events?region=mopti&limit=10000");
    assert_eq!(fc["numberMatched"], by_name["numberMatched"]);
    let n = feats
        .iter()
        .filter(|f| f["properties"]["region"] == "ML-5")
        .count();
    assert_eq!(fc["numberMatched"].as_u64(), Some(n as u64));
}

/// Reads the shipped CSV directly and counts by year and type, for comparison.
fn csv_counts(key: &str) -> BTreeMap<String, (u64, u64)> {
    let mut reader = csv::Reader::from_path(geodata().join("events.csv")).unwrap();
    let headers = reader.headers().unwrap().clone();
    let col = |n: &str| headers.iter().position(|h| h == n).unwrap();
    let (k, fat) = (col(key), col("fatalities"));
    let mut out: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for row in reader.records() {
        let row = row.unwrap();
        let e = out.entry(row[k].to_string()).or_default();
        e.0 += 1;
        e.1 += row[fat].parse::<u64>().unwrap();
    }
    out
}

#[test]
fn stats_agree_with_counting_the_csv() {
    let server = Server::start(&[]);
    for (group_by, column) in [("year", "year"), ("type", "event_type")] {
        let s = server.json(&format!("/api/stats?group_by={group_by}"));
        let got: BTreeMap<String, (u64, u64)> = s["groups"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| {
                (
                    g["key"].as_str().unwrap().to_string(),
                    (
                        g["count"].as_u64().unwrap(),
                        g["fatalities"].as_u64().unwrap(),
                    ),
                )
            })
            .collect();
        assert_eq!(got, csv_counts(column), "group_by={group_by}");
        assert_eq!(s["total"]["count"].as_u64(), Some(72));
    }
    let regions = server.json("/api/stats?group_by=region");
    let sum: u64 = regions["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["count"].as_u64().unwrap())
        .sum();
    assert_eq!(sum, 72);
    // Filters apply to stats too.
    let y2019 = server.json("/api/stats?group_by=type&from=2019&to=2019");
    let events2019 = server.json("/api/events?from=2019-01-01&to=2019-12-31&limit=10000");
    assert_eq!(y2019["total"]["count"], events2019["numberMatched"]);
    assert_eq!(
        csv_counts("year")["2019"].0,
        events2019["numberMatched"].as_u64().unwrap()
    );
}

#[test]
fn filters_narrow_results_as_documented() {
    let server = Server::start(&[]);
    let all = server.json("/api/events?limit=10000");
    assert_eq!(all["numberMatched"], 72);
    let feats = |v: &Value| v["features"].as_array().unwrap().clone();

    let battles = server.json("/api/events?type=battles&limit=10000");
    let n_battles = feats(&all)
        .iter()
        .filter(|f| f["properties"]["event_type"] == "Battles")
        .count();
    assert_eq!(battles["numberMatched"].as_u64(), Some(n_battles as u64));

    let deadly = server.json("/api/events?min_fatalities=50&limit=10000");
    let n_deadly = feats(&all)
        .iter()
        .filter(|f| f["properties"]["fatalities"].as_u64().unwrap() >= 50)
        .count();
    assert_eq!(deadly["numberMatched"].as_u64(), Some(n_deadly as u64));
    assert!(n_deadly > 0);

    let jnim = server.json("/api/events?actor=jnim&limit=10000");
    let n_jnim = feats(&all)
        .iter()
        .filter(|f| {
            let p = &f["properties"];
            format!("{} {}", p["actor1"], p["actor2"])
                .to_lowercase()
                .contains("jnim")
        })
        .count();
    assert_eq!(jnim["numberMatched"].as_u64(), Some(n_jnim as u64));
    assert!(n_jnim > 0);

    // bbox around the Mopti region's towns.
    let bbox = server.json("/api/events?bbox=-5,13.5,-2.5,15.5&limit=10000");
    let n_bbox = feats(&all)
        .iter()
        .filter(|f| {
            let c = &f["geometry"]["coordinates"];
            let (x, y) = (c[0].as_f64().unwrap(), c[1].as_f64().unwrap());
            (-5.0..=-2.5).contains(&x) && (13.5..=15.5).contains(&y)
        })
        .count();
    assert_eq!(bbox["numberMatched"].as_u64(), Some(n_bbox as u64));
    assert!(n_bbox > 0);

    // Dates: inclusive, partial dates cover the whole period, sorted oldest first.
    let y2015 = server.json("/api/events?from=2015&to=2015&limit=10000");
    let dates: Vec<String> = feats(&y2015)
        .iter()
        .map(|f| f["properties"]["event_date"].as_str().unwrap().to_string())
        .collect();
    assert!(!dates.is_empty());
    assert!(dates.iter().all(|d| d.starts_with("2015-")));
    assert!(dates.windows(2).all(|w| w[0] <= w[1]));
    let desc = server.json("/api/events?from=2015&to=2015&sort=-date&limit=10000");
    let rev: Vec<String> = feats(&desc)
        .iter()
        .map(|f| f["properties"]["event_date"].as_str().unwrap().to_string())
        .collect();
    let mut sorted = dates.clone();
    sorted.reverse();
    assert_eq!(rev, sorted);
}

#[test]
fn paging_returns_every_event_exactly_once() {
    let server = Server::start(&[]);
    let mut seen = Vec::new();
    let mut path = "/api/events?limit=10".to_string();
    loop {
        let fc = server.json(&path);
        assert_eq!(fc["numberMatched"], 72);
        for f in fc["features"].as_array().unwrap() {
            seen.push(f["id"].as_str().unwrap().to_string());
        }
        let next = fc["links"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["rel"] == "next")
            .map(|l| l["href"].as_str().unwrap().to_string());
        match next {
            Some(n) => path = n,
            None => break,
        }
    }
    assert_eq!(seen.len(), 72);
    let mut dedup = seen.clone();
    dedup.sort();
    dedup.dedup();
    assert_eq!(dedup.len(), 72);
    let past = server.json("/api/events?offset=500");
    assert_eq!(past["numberReturned"], 0);
    assert_eq!(past["numberMatched"], 72);
}

#[test]
fn gazetteer_search_ignores_accents_and_case() {
    let server = Server::start(&[]);
    let first = |q: &str| {
        let fc = server.json(&format!("/api/places?q={q}"));
        fc["features"][0]["properties"]["name"]
            .as_str()
            .unwrap_or("")
            .to_string()
    };
    assert_eq!(first("mop"), "Mopti");
    assert_eq!(first("S%C3%A9g"), "Ségou");
    assert_eq!(first("seg"), "Ségou");
    assert_eq!(first("tombouctou"), "Timbuktu");
    assert_eq!(first("DJENNE"), "Djenné");
    assert_eq!(first("menaka"), "Ménaka");
    let none = server.json("/api/places?q=zzzzqq");
    assert_eq!(none["numberMatched"], 0);
}

#[test]
fn single_items_and_lists() {
    let server = Server::start(&[]);
    let e = server.json("/api/events/MLI-SEED-001");
    assert_eq!(e["type"], "Feature");
    assert_eq!(e["properties"]["event_date"], "2012-01-24");
    assert_eq!(e["properties"]["fatalities"], 80);
    let regions = server.json("/api/regions");
    assert_eq!(regions["numberMatched"], 9);
    let mopti = server.json("/api/regions/ML-5");
    assert_eq!(mopti["properties"]["name"], "Mopti");
    assert_eq!(mopti["properties"]["fatalities_by_year"]["2018"], 519);
    assert_eq!(mopti["geometry"]["type"], "MultiPolygon");
    let bases = server.json("/api/bases");
    assert_eq!(bases["numberMatched"], 30);
    let minusma = server.json("/api/bases?operator=minusma");
    assert_eq!(minusma["numberMatched"], 13);
    let open2019 = server.json("/api/bases?open_in=2019");
    for f in open2019["features"].as_array().unwrap() {
        let p = &f["properties"];
        assert!(p["opened"].as_i64().is_none_or(|o| o <= 2019), "{p}");
        assert!(p["closed"].as_i64().is_none_or(|c| c >= 2019), "{p}");
    }
    let kidal_box = server.json("/api/bases?bbox=0,17,2,21");
    assert!(kidal_box["numberMatched"].as_u64().unwrap() >= 4);
    let b = server.json("/api/bases/EUTM-KLK");
    assert_eq!(b["properties"]["operator"], "EUTM");
    let health = server.json("/healthz");
    assert_eq!(health["status"], "ok");
    let metrics = server.get("/metrics");
    assert_eq!(metrics.status, 200);
    assert!(
        metrics
            .body
            .contains("sahel_http_requests_total{route=\"healthz\",status=\"200\"} 1"),
        "{}",
        metrics.body
    );
    assert!(
        metrics
            .body
            .contains("sahel_atlas_items{kind=\"events\"} 72")
    );
}

#[test]
fn bad_input_is_a_problem_naming_the_parameter() {
    let server = Server::start(&[]);
    // 400: a value its schema rejects; 422: values each valid that break a rule the
    // OpenAPI schema cannot state (two parameters together, a box's latitudes and area).
    let cases: &[(&str, u16, Option<&str>)] = &[
        ("/api/events?radius=50", 400, Some("radius")),
        (
            "/api/events?near=Mopti&radius_km=-5",
            400,
            Some("radius_km"),
        ),
        (
            "/api/events?near=Mopti&radius_km=abc",
            400,
            Some("radius_km"),
        ),
        (
            "/api/events?near=Mopti&radius_km=100000",
            400,
            Some("radius_km"),
        ),
        (
            "/api/events?near=Mopti&radius_km=NaN",
            400,
            Some("radius_km"),
        ),
        ("/api/events?radius_km=50", 422, Some("radius_km")),
        ("/api/events?lon=-4", 422, Some("lat")),
        ("/api/events?lon=200&lat=14", 400, Some("lon")),
        ("/api/events?near=Mopti&lon=1&lat=2", 422, Some("near")),
        ("/api/events?bbox=1,2,3", 400, Some("bbox")),
        ("/api/events?bbox=a,b,c,d", 400, Some("bbox")),
        ("/api/events?bbox=-10,20,10,10", 422, Some("bbox")),
        ("/api/events?bbox=-180,-90,180,90", 422, Some("bbox")),
        ("/api/events?from=2019-13-01", 400, Some("from")),
        ("/api/events?to=yesterday", 400, Some("to")),
        ("/api/events?from=2019&to=2018", 422, Some("from")),
        ("/api/events?limit=-1", 400, Some("limit")),
        ("/api/events?limit=1000000", 422, Some("limit")),
        ("/api/events?offset=x", 400, Some("offset")),
        ("/api/events?min_fatalities=-3", 400, Some("min_fatalities")),
        ("/api/events?region=Atlantis", 400, Some("region")),
        ("/api/events?sort=distance", 422, Some("sort")),
        ("/api/events?sort=name", 400, Some("sort")),
        ("/api/events?limit=5&limit=6", 400, Some("limit")),
        ("/api/events?type=", 400, Some("type")),
        ("/api/events/nearest?k=5", 400, Some("lon")),
        ("/api/events/nearest?lon=1&lat=2&k=0", 400, Some("k")),
        ("/api/events/nearest?lon=1&lat=2&k=100000", 400, Some("k")),
        ("/api/places", 400, Some("q")),
        ("/api/stats", 400, Some("group_by")),
        ("/api/stats?group_by=colour", 400, Some("group_by")),
        (
            "/api/bases/MINUSMA-GAO-SE/coverage?radius_km=5000",
            400,
            Some("radius_km"),
        ),
        (
            "/api/bases/MINUSMA-GAO-SE/coverage?active_only=maybe",
            400,
            Some("active_only"),
        ),
        ("/api/bases?open_in=1066", 400, Some("open_in")),
        ("/api/regions?x=1", 400, Some("x")),
        ("/api/events?near=Mopt", 404, Some("near")),
        ("/api/events/NOPE-1", 404, None),
        ("/api/regions/ML-99", 404, None),
        ("/api/bases/NOPE", 404, None),
        ("/api/bases/NOPE/coverage", 404, None),
        ("/nowhere", 404, None),
    ];
    for &(path, status, param) in cases {
        let r = server.get(path);
        assert_eq!(r.status, status, "{path}: {}", r.body);
        assert_eq!(r.content_type, "application/problem+json", "{path}");
        let p = r.json();
        assert_eq!(p["status"].as_u64(), Some(status as u64), "{path}");
        assert!(p["title"].is_string() && p["type"].is_string(), "{path}");
        let detail = p["detail"].as_str().unwrap_or("");
        assert!(!detail.is_empty(), "{path}");
        if let Some(param) = param {
            assert_eq!(p["parameter"], param, "{path}: {p}");
        }
    }
    // Unknown place: close matches are suggested.
    let p = server.get("/api/events?near=Mopt").json();
    assert!(
        p["suggestions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s == "Mopti"),
        "{p}"
    );
    let p = server.get("/api/events?near=Tombuctoo").json();
    assert!(
        p["suggestions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s == "Timbuktu"),
        "{p}"
    );
    // A very long parameter is refused, not processed.
    let long = "a".repeat(5000);
    let r = server.get(&format!("/api/places?q={long}"));
    assert_eq!(r.status, 400);
    // Wrong method.
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let resp = agent
        .post(&format!("{}/api/regions", server.base))
        .send("x")
        .unwrap();
    assert_eq!(resp.status().as_u16(), 405);
    let allow = resp.headers().get("allow").and_then(|v| v.to_str().ok());
    assert_eq!(allow, Some("GET, HEAD, OPTIONS"));
}

#[test]
fn responses_are_cors_enabled_geojson() {
    let server = Server::start(&[]);
    let r = server.get("/api/events?near=Mopti&radius_km=50");
    assert_eq!(r.content_type, "application/geo+json");
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    let bad = server.get("/api/events?radius=50");
    assert_eq!(bad.header("access-control-allow-origin"), Some("*"));
}

#[test]
fn sigterm_shuts_down_gracefully() {
    let server = Server::start(&[]);
    assert_eq!(server.get("/healthz").status, 200);
    let pid = server.pid();
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = server
        .wait_exit(std::time::Duration::from_secs(10))
        .expect("server did not exit within 10 s of SIGTERM");
    assert!(exit.success(), "{exit:?}");
}
