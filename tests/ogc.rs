//! OGC API – Features over HTTP, and with a real client: GDAL's OAPIF driver (`ogrinfo`,
//! `ogr2ogr` from Debian's gdal-bin).
#![allow(clippy::too_many_lines, reason = "a test scenario reads top to bottom")]

mod common;

use std::collections::BTreeSet;
use std::process::Command;

use common::*;
use serde_json::Value;

fn link<'a>(doc: &'a Value, rel: &str) -> Option<&'a Value> {
    doc["links"].as_array()?.iter().find(|l| l["rel"] == rel)
}

fn ids(fc: &Value) -> Vec<String> {
    fc["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn landing_conformance_collections_and_openapi() {
    let server = Server::start(&[]);
    let r = server.get("/ogc");
    assert_eq!(r.status, 200);
    assert_eq!(r.content_type, "application/json");
    let landing = r.json();
    for rel in ["self", "service-desc", "conformance", "data"] {
        let l = link(&landing, rel).unwrap_or_else(|| panic!("no {rel} link"));
        assert!(l["href"].as_str().unwrap().starts_with(&server.base), "{l}");
    }
    assert_eq!(
        link(&landing, "service-desc").unwrap()["type"],
        "application/vnd.oai.openapi+json;version=3.0"
    );

    let conf = server.json("/ogc/conformance");
    let classes: BTreeSet<&str> = conf["conformsTo"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    for c in ["core", "geojson", "oas30"] {
        assert!(
            classes.contains(
                format!("http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/{c}").as_str()
            ),
            "{c}"
        );
    }

    let cols = server.json("/ogc/collections");
    let list = cols["collections"].as_array().unwrap();
    let names: Vec<&str> = list.iter().map(|c| c["id"].as_str().unwrap()).collect();
    assert_eq!(names, ["events", "bases", "regions", "places"]);
    for c in list {
        let b = &c["extent"]["spatial"]["bbox"][0];
        assert_eq!(b.as_array().unwrap().len(), 4, "{c}");
        assert!(b[0].as_f64().unwrap() < b[2].as_f64().unwrap());
        assert!(link(c, "items").is_some());
    }
    let events = server.json("/ogc/collections/events");
    assert_eq!(
        events["extent"]["temporal"]["interval"][0][0],
        "2012-01-24T00:00:00Z"
    );
    assert_eq!(
        events["extent"]["temporal"]["interval"][0][1],
        "2020-08-18T23:59:59Z"
    );

    let q = server.get("/ogc/collections/events/queryables");
    assert_eq!(q.status, 200);
    assert_eq!(q.content_type, "application/schema+json");
    let q = q.json();
    assert_eq!(q["type"], "object");
    for p in ["event_type", "actor1", "location", "region", "fatalities"] {
        assert!(q["properties"][p].is_object(), "{p}");
    }

    let api = server.get("/ogc/api");
    assert_eq!(
        api.content_type,
        "application/vnd.oai.openapi+json;version=3.0"
    );
    let api = api.json();
    assert!(api["openapi"].as_str().unwrap().starts_with("3.0"));
    for p in [
        "/api/places",
        "/api/events",
        "/api/events/nearest",
        "/api/events/{id}",
        "/api/regions",
        "/api/regions/{id}",
        "/api/bases",
        "/api/bases/{id}",
        "/api/bases/{id}/coverage",
        "/api/coverage",
        "/api/stats",
        "/tiles/{z}/{x}/{y}.mvt",
        "/tiles.json",
        "/style.json",
        "/fonts/{fontstack}/{range}.pbf",
        "/healthz",
        "/metrics",
        "/ogc",
        "/ogc/conformance",
        "/ogc/api",
        "/ogc/collections",
        "/ogc/collections/{collectionId}",
        "/ogc/collections/{collectionId}/items",
        "/ogc/collections/{collectionId}/items/{featureId}",
        "/ogc/collections/{collectionId}/queryables",
        "/ogc/collections/events/items",
    ] {
        assert!(api["paths"][p]["get"].is_object(), "OpenAPI lacks {p}");
    }
    // That every field each route reads is documented is proven in
    // `http::openapi::tests`, from the parameter types themselves.
}

#[test]
fn items_paging_filters_and_errors() {
    let server = Server::start(&[]);
    let r = server.get("/ogc/collections/events/items");
    assert_eq!(r.content_type, "application/geo+json");
    let page = r.json();
    assert_eq!(page["numberMatched"], 72);
    assert_eq!(page["numberReturned"], 10, "default limit");
    assert!(page["timeStamp"].as_str().unwrap().ends_with('Z'));

    // Following `next` returns every event exactly once.
    let mut seen = Vec::new();
    let mut url = format!("{}/ogc/collections/events/items?limit=9", server.base);
    loop {
        let fc = get(&url).json();
        seen.extend(ids(&fc));
        match link(&fc, "next") {
            Some(l) => url = l["href"].as_str().unwrap().to_string(),
            None => break,
        }
    }
    let all = ids(&server.json("/api/events?limit=10000"));
    assert_eq!(seen, all);

    // datetime: instant, closed, open-start and open-end intervals agree with /api.
    for (dt, from, to) in [
        ("2019-03-23", "2019-03-23", "2019-03-23"),
        ("2019-03-23T12:00:00Z", "2019-03-23", "2019-03-23"),
        ("2015-01-01/2016-12-31", "2015-01-01", "2016-12-31"),
        ("../2013-12-31", "1900-01-01", "2013-12-31"),
        ("2019-01-01/..", "2019-01-01", "2100-12-31"),
        ("2019-01-01/", "2019-01-01", "2100-12-31"),
    ] {
        let o = server.json(&format!(
            "/ogc/collections/events/items?datetime={dt}&limit=1000"
        ));
        let a = server.json(&format!("/api/events?from={from}&to={to}&limit=1000"));
        assert_eq!(ids(&o), ids(&a), "datetime={dt}");
    }
    // bbox (no area cap: clients ask for the world) and property equality.
    let world = server.json("/ogc/collections/events/items?bbox=-180,-90,180,90&limit=1000");
    assert_eq!(world["numberMatched"], 72);
    let o = server.json("/ogc/collections/events/items?bbox=-5,13.5,-2.5,15.5&limit=1000");
    let a = server.json("/api/events?bbox=-5,13.5,-2.5,15.5&limit=1000");
    assert_eq!(ids(&o), ids(&a));
    let gao =
        server.json("/ogc/collections/events/items?location=gao&event_type=Battles&limit=1000");
    for f in gao["features"].as_array().unwrap() {
        assert_eq!(f["properties"]["location"], "Gao");
        assert_eq!(f["properties"]["event_type"], "Battles");
    }
    assert!(gao["numberMatched"].as_u64().unwrap() > 0);
    let ml5 = server.json("/ogc/collections/events/items?region=ML-5&limit=1000");
    assert_eq!(
        ml5["numberMatched"],
        server.json("/api/events?region=ML-5")["numberMatched"]
    );
    let barkhane = server.json("/ogc/collections/bases/items?operator=Barkhane&limit=100");
    assert_eq!(barkhane["numberMatched"], 7);
    let open2019 = server.json("/ogc/collections/bases/items?datetime=2019-06-01&limit=100");
    assert_eq!(
        open2019["numberMatched"],
        server.json("/api/bases?open_in=2019")["numberMatched"]
    );
    let kidal = server.json("/ogc/collections/regions/items?bbox=1,19,2,20");
    assert_eq!(ids(&kidal), ["ML-8"]);
    let towns = server.json("/ogc/collections/places/items?region=ML-5&limit=100");
    assert!(towns["numberMatched"].as_u64().unwrap() > 5);

    // Single items.
    for (c, id) in [
        ("events", "MLI-SEED-001"),
        ("bases", "EUTM-KLK"),
        ("regions", "ML-5"),
        ("places", "gn-2453348"),
    ] {
        let f = server.get(&format!("/ogc/collections/{c}/items/{id}"));
        assert_eq!(f.status, 200, "{c}/{id}");
        assert_eq!(f.content_type, "application/geo+json");
        let f = f.json();
        assert_eq!(f["id"], id);
        assert!(link(&f, "self").is_some() && link(&f, "collection").is_some());
    }

    for (path, status, param) in [
        (
            "/ogc/collections/events/items?limit=100001",
            422,
            Some("limit"),
        ),
        ("/ogc/collections/events/items?limit=x", 400, Some("limit")),
        (
            "/ogc/collections/events/items?bbox=1,2,3",
            400,
            Some("bbox"),
        ),
        (
            "/ogc/collections/events/items?bbox=10,0,0,-5",
            422,
            Some("bbox"),
        ),
        (
            "/ogc/collections/events/items?datetime=yesterday",
            400,
            Some("datetime"),
        ),
        (
            "/ogc/collections/events/items?datetime=2019-01-01/2018-01-01",
            422,
            Some("datetime"),
        ),
        (
            "/ogc/collections/events/items?colour=red",
            400,
            Some("colour"),
        ),
        ("/ogc/collections/events/items?f=html", 400, Some("f")),
        ("/ogc/collections/rivers/items", 404, None),
        ("/ogc/collections/rivers", 404, None),
        ("/ogc/collections/events/items/NOPE", 404, None),
        ("/ogc/collections/regions/items/ML-99", 404, None),
    ] {
        let r = server.get(path);
        assert_eq!(r.status, status, "{path}: {}", r.body);
        assert_eq!(r.content_type, "application/problem+json");
        if let Some(p) = param {
            assert_eq!(r.json()["parameter"], p, "{path}");
        }
    }
}

fn gdal(args: &[&str]) -> String {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run {} ({e}): the README's test command installs gdal-bin",
                args[0]
            )
        });
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{args:?}: {text}");
    assert!(!text.contains("ERROR"), "{args:?}: {text}");
    text
}

/// GDAL's OGC API – Features driver, as QGIS uses it.
#[test]
fn gdal_reads_every_layer_filters_and_pages() {
    let server = Server::start(&[]);
    let src = format!("OAPIF:{}/ogc", server.base);
    let listing = gdal(&["ogrinfo", "-ro", &src]);
    for (i, layer) in ["events", "bases", "regions", "places"].iter().enumerate() {
        assert!(
            listing.contains(&format!("{}: {layer}", i + 1)),
            "{listing}"
        );
    }

    // A spatial filter around Mopti: the same events as /api/events?bbox=.
    let (w, s, e, n) = (-5.0, 13.5, -2.5, 15.5);
    let out = gdal(&[
        "ogrinfo",
        "-ro",
        "-al",
        "-q",
        &src,
        "events",
        "-spat",
        &w.to_string(),
        &s.to_string(),
        &e.to_string(),
        &n.to_string(),
    ]);
    let mut got: Vec<String> = out
        .lines()
        .filter_map(|l| l.trim().strip_prefix("id (String) = "))
        .map(str::to_string)
        .collect();
    got.sort();
    let mut want = ids(&server.json(&format!("/api/events?bbox={w},{s},{e},{n}&limit=10000")));
    want.sort();
    assert!(!want.is_empty());
    assert_eq!(got, want);

    // Paging through every event (7 per page) returns each exactly once.
    let dir = scratch("gdal");
    let csv = dir.join("events.csv");
    gdal(&[
        "ogr2ogr",
        "-f",
        "CSV",
        path_str(&csv),
        &src,
        "events",
        "-oo",
        "PAGE_SIZE=7",
    ]);
    let mut reader = csv::Reader::from_path(&csv).unwrap();
    let col = reader
        .headers()
        .unwrap()
        .iter()
        .position(|h| h == "id")
        .unwrap();
    let mut paged: Vec<String> = reader
        .records()
        .map(|r| r.unwrap()[col].to_string())
        .collect();
    let n_paged = paged.len();
    paged.sort();
    paged.dedup();
    assert_eq!(n_paged, paged.len(), "duplicates while paging");
    let mut all = ids(&server.json("/api/events?limit=10000"));
    all.sort();
    assert_eq!(paged, all);

    // Regions come through as polygons with their attributes.
    let regions = gdal(&["ogrinfo", "-ro", "-al", "-so", &src, "regions"]);
    assert!(regions.contains("Feature Count: 9"), "{regions}");
    assert!(regions.contains("Multi Polygon"), "{regions}");
}
