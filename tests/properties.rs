//! Property tests over HTTP (proptest): random and hostile tile coordinates, boxes, dates,
//! radii, ids and place names against one running server. Whatever comes in, the answer
//! is never a 5xx, and what is answered holds: a near result lies inside its radius (by
//! WGS84 geodesic distance, recomputed here), a bbox result inside its box.

mod common;

use geo::{Distance, Geodesic, Point};
use proptest::prelude::*;
use serde_json::Value;

use common::*;

fn enc(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// GETs `path`; fails the property on a 5xx or a non-problem error body.
fn ask(server: &Server, path: &str) -> Reply {
    let r = server.get(path);
    assert!(r.status < 500, "{path}: {} {}", r.status, r.body);
    if r.status >= 400 {
        assert_eq!(r.content_type, "application/problem+json", "{path}");
    }
    r
}

fn cases(n: u32) -> ProptestConfig {
    ProptestConfig {
        cases: n,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Numbers as a client might type them: ordinary, huge, tiny, signs, NaN and infinities.
fn number_text() -> impl Strategy<Value = String> {
    prop_oneof![
        (-200.0f64..200.0).prop_map(|v| format!("{v}")),
        (-20i32..40).prop_map(|v| v.to_string()),
        Just("NaN".to_string()),
        Just("inf".to_string()),
        Just("-inf".to_string()),
        Just("1e309".to_string()),
        Just("".to_string()),
        Just("0x10".to_string()),
        "[0-9.eE+-]{1,8}",
    ]
}

fn date_text() -> impl Strategy<Value = String> {
    prop_oneof![
        (1990u32..2030).prop_map(|y| y.to_string()),
        (1990u32..2030, 0u32..14).prop_map(|(y, m)| format!("{y}-{m:02}")),
        (1990u32..2030, 0u32..14, 0u32..33).prop_map(|(y, m, d)| format!("{y}-{m:02}-{d:02}")),
        (0u32..33, 0u32..14, 1990u32..2030).prop_map(|(d, m, y)| format!("{d:02}-{m:02}-{y}")),
        "[0-9/ :TZ-]{0,12}",
        "\\PC{0,12}",
    ]
}

fn features(r: &Reply) -> Vec<Value> {
    r.json()["features"].as_array().cloned().unwrap_or_default()
}

fn coordinates(f: &Value) -> (f64, f64) {
    let c = &f["geometry"]["coordinates"];
    (c[0].as_f64().unwrap(), c[1].as_f64().unwrap())
}

/// Runs `property` on `n` cases of `strategy` against a server of its own.
fn check<S: Strategy>(
    n: u32,
    strategy: S,
    property: impl Fn(&Server, S::Value) -> Result<(), TestCaseError>,
) {
    check_on(&Server::start(&[]), n, strategy, property);
}

fn check_on<S: Strategy>(
    server: &Server,
    n: u32,
    strategy: S,
    property: impl Fn(&Server, S::Value) -> Result<(), TestCaseError>,
) {
    let mut runner = proptest::test_runner::TestRunner::new(cases(n));
    if let Err(e) = runner.run(&strategy, |v| property(server, v)) {
        panic!("{e}");
    }
}

#[test]
fn any_tile_address_is_answered_or_refused() {
    let formats = prop_oneof![Just("mvt"), Just("pbf"), Just("png"), Just("")];
    let tiles = (0u32..40, 0u64..5_000_000_000, 0u64..5_000_000_000, formats);
    check(300, tiles, |server, (z, x, y, fmt)| {
        let r = ask(server, &format!("/tiles/{z}/{x}/{y}.{fmt}"));
        if r.status == 200 {
            prop_assert_eq!(
                r.content_type.as_str(),
                "application/vnd.mapbox-vector-tile"
            );
        }
        Ok(())
    });
}

/// The `count` and `fatalities` sums of a tile's event features, decoded by the
/// independent Python decoder; (0, 0) for an empty tile (204).
fn tile_sums(server: &Server, paths: &[String]) -> Vec<(u64, u64)> {
    let dir = scratch("sums");
    let mut files = Vec::new();
    for (i, path) in paths.iter().enumerate() {
        let r = ask(server, path);
        assert!(r.status == 200 || r.status == 204, "{path}: {}", r.status);
        let file = dir.join(format!("{i}.mvt"));
        std::fs::write(&file, &r.bytes).unwrap();
        files.push((r.status == 200).then_some(file));
    }
    let mut args = vec!["decode"];
    args.extend(files.iter().flatten().map(|f| path_str(f)));
    let decoded = if args.len() > 1 {
        match run_truth("mvt.py", &args) {
            Value::Array(a) if args.len() > 2 => a,
            one => vec![one],
        }
    } else {
        Vec::new()
    };
    let mut decoded = decoded.into_iter();
    let sum = |tile: &Value, key: &str| -> u64 {
        tile["events"]["features"].as_array().map_or(0, |fs| {
            fs.iter()
                .map(|f| f["properties"][key].as_u64().unwrap())
                .sum()
        })
    };
    files
        .iter()
        .map(|f| match f {
            Some(_) => {
                let tile = decoded.next().unwrap();
                (sum(&tile, "count"), sum(&tile, "fatalities"))
            }
            None => (0, 0),
        })
        .collect()
}

/// Each event lies in exactly one tile per zoom, so whatever the tile and the filter, a
/// tile's event counts and fatalities are the sums of its four children's: low zooms come
/// from the cluster pyramid, high ones from a scan, dense ones from a fine grid, and all
/// must agree. Random tiles over 20,000 synthetic events (and the shipped ones).
#[test]
fn tile_event_counts_add_up_over_random_tiles() {
    let file = synthetic_events("sums", 20_000, 3);
    let server = Server::start(&["--events", path_str(&file)]);
    let filters = prop_oneof![
        Just(String::new()),
        (1997i32..2021).prop_map(|y| format!("from={y}")),
        (1997i32..2021, 0i32..4).prop_map(|(y, n)| format!("from={y}&to={}", y + n)),
        Just("type=Battles,Protests".to_string()),
        (0u32..15).prop_map(|m| format!("min_fatalities={m}")),
        Just("actor=jnim&region=ML-5".to_string()),
    ];
    // Points over Mali, where the events are; zooms from the whole world to streets.
    let tiles = (0u8..15, -12.0f64..4.3, 10.0f64..25.0, filters);
    check_on(&server, 40, tiles, |server, (z, lon, lat, filter)| {
        let (x, y) = tile_of(lon, lat, z);
        let mut paths = vec![format!("/tiles/{z}/{x}/{y}.mvt?{filter}")];
        for (dx, dy) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
            let (cx, cy, cz) = (2 * x + dx, 2 * y + dy, z + 1);
            paths.push(format!("/tiles/{cz}/{cx}/{cy}.mvt?{filter}"));
        }
        let sums = tile_sums(server, &paths);
        let children = sums[1..].iter().fold((0, 0), |a, s| (a.0 + s.0, a.1 + s.1));
        prop_assert_eq!(sums[0], children, "{} vs its children", &paths[0]);
        Ok(())
    });
}

#[test]
fn boxes_hold_their_results() {
    // Half hostile text, half boxes over the data (some crossing the antimeridian's
    // convention: west > east), so that answers have events to check.
    let text = (number_text(), number_text(), number_text(), number_text());
    let over_mali = (-14.0f64..6.0, 8.0f64..26.0, -1.0f64..12.0, 0.0f64..10.0)
        .prop_map(|(w, s, dx, dy)| (w, s, w + dx, s + dy))
        .prop_map(|(w, s, e, n)| (w.to_string(), s.to_string(), e.to_string(), n.to_string()));
    let boxes = prop_oneof![text, over_mali];
    check(300, boxes, |server, (w, s, e, n)| {
        let q = [&w, &s, &e, &n].map(|v| enc(v)).join(",");
        let r = ask(server, &format!("/api/events?limit=500&bbox={q}"));
        if r.status == 200 {
            let [w, s, e, n] = [&w, &s, &e, &n].map(|v| v.parse::<f64>().unwrap());
            for f in features(&r) {
                let (lon, lat) = coordinates(&f);
                let in_lon = if w <= e {
                    lon >= w && lon <= e
                } else {
                    lon >= w || lon <= e
                };
                prop_assert!(
                    in_lon && lat >= s && lat <= n,
                    "{lon},{lat} outside {w},{s},{e},{n}"
                );
            }
        }
        Ok(())
    });
}

#[test]
fn dates_in_any_form_are_answered_or_refused() {
    check(300, (date_text(), date_text()), |server, (from, to)| {
        let (f, t) = (enc(&from), enc(&to));
        let r = ask(server, &format!("/api/events?limit=5&from={f}&to={t}"));
        if r.status == 200 {
            for e in features(&r) {
                let day = e["properties"]["event_date"].as_str().unwrap_or("");
                prop_assert!(day.len() == 10, "{day:?}");
            }
        }
        ask(
            server,
            &format!("/ogc/collections/events/items?limit=5&datetime={f}%2F{t}"),
        );
        Ok(())
    });
}

#[test]
fn near_results_lie_inside_their_radius() {
    let radius = prop_oneof![0.0f64..300.0, -5.0f64..0.0, 990.0f64..1100.0];
    let near = (-13.0f64..5.0, 9.0f64..26.0, radius);
    check(300, near, |server, (lon, lat, radius)| {
        let r = ask(
            server,
            &format!("/api/events?lon={lon}&lat={lat}&radius_km={radius}&limit=200"),
        );
        if r.status != 200 {
            prop_assert!(
                !(0.0..=1000.0).contains(&radius),
                "refused {radius}: {}",
                r.body
            );
            return Ok(());
        }
        for f in features(&r) {
            let (elon, elat) = coordinates(&f);
            let reported = f["properties"]["distance_km"].as_f64().unwrap();
            let d = Geodesic.distance(Point::new(lon, lat), Point::new(elon, elat)) / 1000.0;
            // Reported to the metre.
            prop_assert!(
                (d - reported).abs() <= 5e-4 + 1e-9,
                "reported {reported} km, geodesic {d} km"
            );
            prop_assert!(d <= radius + 1e-9, "{d} km outside {radius} km");
        }
        Ok(())
    });
}

#[test]
fn odd_names_and_ids_never_break_the_server() {
    let text = prop_oneof![
        "\\PC{0,40}",
        "[\\u{0}-\\u{7f}]{0,20}",
        Just("Ségou".to_string()),
        Just("..\\/%00".to_string()),
        Just("\u{202e}\u{200b}\u{feff}".to_string()),
    ];
    check(200, text, |server, text| {
        let q = enc(&text);
        ask(server, &format!("/api/places?q={q}"));
        ask(
            server,
            &format!("/api/events?near={q}&radius_km=10&limit=5"),
        );
        ask(server, &format!("/api/events?actor={q}&limit=5"));
        let r = ask(server, &format!("/api/events/{q}"));
        prop_assert!(matches!(r.status, 200 | 400 | 404), "{}", r.status);
        ask(server, &format!("/ogc/collections/events/items/{q}"));
        ask(server, &format!("/api/bases/{q}/coverage"));
        Ok(())
    });
}
