//! The loaders through the real binary: `sahel-atlas check` and `serve` on good and broken
//! data. A broken file must stop start-up with an error naming file, line or feature,
//! field and problem.
#![allow(clippy::too_many_lines, reason = "a test scenario reads top to bottom")]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

/// A copy of the shipped data directory to break.
fn data_copy(name: &str) -> PathBuf {
    let dir = scratch(name);
    for entry in std::fs::read_dir(geodata()).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), dir.join(entry.file_name())).unwrap();
    }
    dir
}

fn check(data: &Path, extra: &[&str]) -> (bool, String, String) {
    let out = Command::new(bin())
        .arg("check")
        .arg("--data")
        .arg(data)
        .args(extra)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn expect_error(data: &Path, extra: &[&str], fragments: &[&str]) {
    let (ok, _, err) = check(data, extra);
    assert!(!ok, "check should fail; stderr: {err}");
    for f in fragments {
        assert!(err.contains(f), "stderr lacks {f:?}:\n{err}");
    }
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
}

const ACLED_HEADER: &str = "event_id_cnty,event_date,year,event_type,sub_event_type,actor1,actor2,admin1,admin2,location,latitude,longitude,geo_precision,fatalities,notes,source";

#[test]
fn shipped_data_checks_clean() {
    let (ok, out, err) = check(&geodata(), &[]);
    assert!(ok, "{err}");
    assert!(
        out.contains("9 regions, 30 bases, 109 places, 72 events (0 outside every region)"),
        "{out}"
    );
    assert!(
        out.contains("1 country, 7 neighbours, 10 rivers, 1 lakes"),
        "{out}"
    );
}

#[test]
fn acled_variants_are_accepted_bom_dates_and_extra_columns() {
    let dir = scratch("acled_ok");
    let file = dir.join("export.csv");
    // BOM, extra columns (iso, timestamp) in other positions, all three date styles.
    write(
        &file,
        "\u{feff}iso,event_id_cnty,event_date,year,event_type,sub_event_type,actor1,actor2,admin1,admin2,location,latitude,longitude,geo_precision,fatalities,notes,source,timestamp\n\
         466,MLI1,2019-03-23,2019,Violence against civilians,Attack,A,B,Mopti,Bankass,Ogossagou,14.0775,-3.51594,2,157,n,s,1\n\
         466,MLI2,23-03-2019,2019,Battles,Armed clash,A,B,Mopti,Bankass,X,14.1,-3.5,1,3,n,s,1\n\
         466,MLI3,23 March 2019,2019,Battles,Armed clash,A,B,Mopti,Bankass,Y,14.2,-3.4,,0,n,s,1\n",
    );
    let (ok, out, err) = check(
        &geodata(),
        &["--events", path_str(&file), "--no-shipped-events"],
    );
    assert!(ok, "{err}");
    assert!(out.contains(" 3 events "), "{out}");
    // And they are served with the parsed dates.
    let server = Server::start(&["--events", path_str(&file), "--no-shipped-events"]);
    let fc = server.json("/api/events?from=2019-03-23&to=2019-03-23");
    assert_eq!(fc["numberMatched"], 3);
    let all = server.json("/api/events");
    assert_eq!(all["numberMatched"], 3, "shipped events must not be loaded");
    // Combined with the shipped events.
    let server = Server::start(&["--events", path_str(&file)]);
    assert_eq!(server.json("/api/events")["numberMatched"], 75);
}

#[test]
fn ucdp_ged_is_detected_and_loaded() {
    let dir = scratch("ucdp_ok");
    let file = dir.join("ged.csv");
    write(
        &file,
        "id,relid,year,active_year,type_of_violence,conflict_new_id,side_a,side_b,adm_1,adm_2,where_coordinates,where_prec,latitude,longitude,date_start,date_end,best,high,low,source_article\n\
         244657,MLI-2019-1,2019,1,3,123,JNIM,Civilians,Mopti region,Bankass,Ogossagou village,2,14.0775,-3.51594,2019-03-23 00:00:00.000,2019-03-23 00:00:00.000,157,160,150,\"AFP, 24 Mar 2019\"\n\
         244658,MLI-2019-2,2019,1,1,124,Government of Mali,JNIM,Mopti region,Djenné,Djenné town,1,13.90608,-4.55332,2019-05-01,2019-05-02,4,5,4,Reuters\n",
    );
    let (ok, out, err) = check(
        &geodata(),
        &["--events", path_str(&file), "--no-shipped-events"],
    );
    assert!(ok, "{err}");
    assert!(out.contains(" 2 events "), "{out}");
    let server = Server::start(&["--events", path_str(&file), "--no-shipped-events"]);
    let e = server.json("/api/events/UCDP-244657");
    assert_eq!(e["properties"]["event_type"], "One-sided violence");
    assert_eq!(e["properties"]["fatalities"], 157);
    assert_eq!(e["properties"]["event_date"], "2019-03-23");
    assert_eq!(e["properties"]["region"], "ML-5");
    let s = server.json("/api/events?type=state-based%20conflict");
    assert_eq!(s["numberMatched"], 1);
}

#[test]
fn bad_event_files_name_file_line_and_field() {
    let dir = scratch("acled_bad");
    let cases: &[(&str, &str, &[&str])] = &[
        (
            "bad_date.csv",
            "MLI1,2019-03-23,2019,Battles,x,A,B,M,M,L,14,-4,1,0,n,s\nMLI2,2019-02-30,2019,Battles,x,A,B,M,M,L,14,-4,1,0,n,s\n",
            &[
                "bad_date.csv",
                "line 3",
                "`event_date`",
                "\"2019-02-30\" is not a date",
            ],
        ),
        (
            "bad_lat.csv",
            "MLI1,2019-03-23,2019,Battles,x,A,B,M,M,L,95,-4,1,0,n,s\n",
            &["bad_lat.csv", "line 2", "`latitude`", "outside -90..90"],
        ),
        (
            "bad_lon.csv",
            "MLI1,2019-03-23,2019,Battles,x,A,B,M,M,L,14,west,1,0,n,s\n",
            &["line 2", "`longitude`", "\"west\" is not a number"],
        ),
        (
            "bad_fatalities.csv",
            "MLI1,2019-03-23,2019,Battles,x,A,B,M,M,L,14,-4,1,-2,n,s\n",
            &["line 2", "`fatalities`", "\"-2\" is not a whole number"],
        ),
        (
            "year_mismatch.csv",
            "MLI1,03-04-2019,2018,Battles,x,A,B,M,M,L,14,-4,1,0,n,s\n",
            &["line 2", "`year`", "does not match event_date"],
        ),
        (
            "dup.csv",
            "MLI1,2019-03-23,2019,Battles,x,A,B,M,M,L,14,-4,1,0,n,s\nMLI1,2019-03-24,2019,Battles,x,A,B,M,M,L,14,-4,1,0,n,s\n",
            &[
                "line 3",
                "`event_id_cnty`",
                "duplicate id \"MLI1\" (first on line 2)",
            ],
        ),
        (
            "ragged.csv",
            "MLI1,2019-03-23,2019,Battles,x,A,B,M,M,L,14,-4,1,0,n\n",
            &["ragged.csv", "line 2", "has 15 fields, the header has 16"],
        ),
        (
            "empty_type.csv",
            "MLI1,2019-03-23,2019,,x,A,B,M,M,L,14,-4,1,0,n,s\n",
            &["line 2", "`event_type`", "is empty"],
        ),
    ];
    for (name, rows, fragments) in cases {
        let file = dir.join(name);
        write(&file, &format!("{ACLED_HEADER}\n{rows}"));
        expect_error(&geodata(), &["--events", path_str(&file)], fragments);
    }
    // Missing required column, and an unrecognised header.
    let file = dir.join("no_lat.csv");
    write(
        &file,
        "event_id_cnty,event_date,event_type,longitude,fatalities\nMLI1,2019-03-23,Battles,-4,0\n",
    );
    expect_error(
        &geodata(),
        &["--events", path_str(&file)],
        &[
            "no_lat.csv",
            "line 1",
            "`latitude`",
            "required column is missing",
        ],
    );
    let file = dir.join("other.csv");
    write(&file, "a,b,c\n1,2,3\n");
    expect_error(
        &geodata(),
        &["--events", path_str(&file)],
        &["other.csv", "not an ACLED export"],
    );
    expect_error(
        &geodata(),
        &["--events", "/nonexistent/x.csv"],
        &["/nonexistent/x.csv", "cannot open"],
    );
    // Bad UCDP code.
    let file = dir.join("ucdp_bad.csv");
    write(
        &file,
        "id,type_of_violence,side_a,side_b,latitude,longitude,date_start,date_end,best\n1,7,A,B,14,-4,2019-01-01,2019-01-01,3\n",
    );
    expect_error(
        &geodata(),
        &["--events", path_str(&file)],
        &[
            "ucdp_bad.csv",
            "line 2",
            "`type_of_violence`",
            "\"7\" is not 1, 2 or 3",
        ],
    );
    // The same id in two files.
    let file = dir.join("clash.csv");
    write(
        &file,
        &format!(
            "{ACLED_HEADER}\nMLI-SEED-001,2019-03-23,2019,Battles,x,A,B,M,M,L,14,-4,1,0,n,s\n"
        ),
    );
    expect_error(
        &geodata(),
        &["--events", path_str(&file)],
        &[
            "clash.csv: event id \"MLI-SEED-001\" is also in",
            "geodata/events.csv",
        ],
    );
}

#[test]
fn bad_geojson_names_feature_and_field() {
    // A base with a negative coverage radius.
    let data = data_copy("bad_bases");
    let path = data.join("bases.geojson");
    let text = std::fs::read_to_string(&path).unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v["features"][3]["properties"]["coverage_km"] = serde_json::json!(-50);
    write(&path, &v.to_string());
    expect_error(
        &data,
        &[],
        &["bases.geojson", "feature 3", "`coverage_km`", "-50"],
    );

    // A region without a name.
    let data = data_copy("bad_regions");
    let path = data.join("regions.geojson");
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    v["features"][2]["properties"]["name"] = serde_json::json!("");
    write(&path, &v.to_string());
    expect_error(
        &data,
        &[],
        &["regions.geojson", "feature 2", "`name`", "missing or empty"],
    );

    // A place outside lon/lat range.
    let data = data_copy("bad_places");
    let path = data.join("places.geojson");
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    v["features"][5]["geometry"]["coordinates"] = serde_json::json!([400.0, 14.0]);
    write(&path, &v.to_string());
    expect_error(
        &data,
        &[],
        &["places.geojson", "feature 5", "`geometry`", "(400, 14)"],
    );

    // Not JSON at all.
    let data = data_copy("bad_json");
    write(
        &data.join("rivers.geojson"),
        "{\"type\": \"FeatureCollection\",\n \"features\": [oops]}",
    );
    expect_error(
        &data,
        &[],
        &[
            "rivers.geojson",
            "line 2",
            "not a GeoJSON FeatureCollection",
        ],
    );

    // A missing file.
    let data = data_copy("missing_file");
    std::fs::remove_file(data.join("lakes.geojson")).unwrap();
    expect_error(&data, &[], &["lakes.geojson", "cannot read"]);

    // serve refuses to start on bad data, with the same message.
    let out = Command::new(bin())
        .args(["serve", "--addr", "127.0.0.1:0", "--data"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("lakes.geojson"));
}

/// Every input a fuzz target crashed on (`scripts/fuzz.sh`), replayed: the loaders now
/// refuse it with an error naming the file, as the target demands, instead of panicking.
#[test]
fn inputs_the_fuzzer_crashed_on_are_refused_with_the_file_named() {
    use sahel_atlas::{load_bases, load_places, load_regions};
    let dir = common::repo().join("tests/fuzz-found/geojson_files");
    let mut replayed = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.display().to_string();
        for result in [
            load_regions(&path).map(|r| r.len()),
            load_bases(&path).map(|b| b.len()),
            load_places(&path).map(|p| p.len()),
        ] {
            let e = result.expect_err(&name).to_string();
            assert!(e.contains(&name), "{e}");
        }
        replayed += 1;
    }
    assert!(replayed >= 1);
    // The first one: a polygon vertex of one number.
    let e = load_regions(&dir.join("short-position.geojson")).unwrap_err();
    assert!(e.to_string().contains("feature 0"), "{e}");
    assert!(e.to_string().contains("position of 1 number"), "{e}");
}
