//! Criterion benchmarks over a large synthetic load (1,000,000 events under `cargo bench`,
//! generated on first use into target/bench-data; 20,000 when the bench target merely runs
//! as a test). `SAHEL_BENCH_EVENTS=N` overrides the size.
//!
//!     cargo bench --bench atlas
#![allow(
    missing_docs,
    reason = "criterion's macros write undocumented public functions"
)]
use std::path::{Path, PathBuf};
use std::time::Duration;

use criterion::{Criterion, black_box, criterion_group, criterion_main};
use sahel_atlas::{
    Atlas, CoverageRule, Dataset, EventFilter, EventSources, LonLat, Near, Sort, TileCoord,
    TileSource, coverage_all, fill_distances, find_events, load_dataset, load_places, load_regions,
    near_page, nearest, project,
};

const MOPTI: LonLat = LonLat {
    lon: -4.18296,
    lat: 14.4843,
};

fn geodata() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("geodata")
}

fn event_count() -> u64 {
    std::env::var("SAHEL_BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if std::env::args().any(|a| a == "--bench") {
            1_000_000
        } else {
            20_000
        })
}

/// The synthetic events file (seed 7), generated once per size.
fn events_file() -> PathBuf {
    let n = event_count();
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/bench-data");
    // The same file as bench/common.sh: ACLED's full 31 columns, as users load them.
    let file = dir.join(format!("acled31_{n}_seed7.csv"));
    if !file.exists() {
        std::fs::create_dir_all(&dir).unwrap();
        let anchors = Atlas::build(Dataset {
            regions: load_regions(&geodata().join("regions.geojson")).unwrap(),
            places: load_places(&geodata().join("places.geojson")).unwrap(),
            ..Dataset::default()
        });
        let tmp = file.with_extension("tmp");
        let out = std::io::BufWriter::new(std::fs::File::create(&tmp).unwrap());
        sahel_atlas::write_events(&anchors, n, 7, out).unwrap();
        std::fs::rename(&tmp, &file).unwrap();
    }
    file
}

fn load() -> Atlas {
    let file = events_file();
    let sources = EventSources {
        // Notes kept on disk, as a server with a saved base keeps them.
        notes_dir: file.parent().map(Path::to_path_buf),
        extra_files: vec![file],
        skip_shipped: false,
    };
    Atlas::build(load_dataset(&geodata(), &sources).unwrap())
}

fn startup(c: &mut Criterion) {
    events_file();
    let mut g = c.benchmark_group("startup");
    g.sample_size(10).measurement_time(Duration::from_secs(40));
    g.bench_function("parse_and_index", |b| b.iter_with_large_drop(load));
    g.finish();
}

fn queries(c: &mut Criterion) {
    let atlas = load();
    let all = EventFilter::default();
    let m = all.compile(&atlas);
    let mut g = c.benchmark_group("query");
    let near = Near {
        center: MOPTI,
        radius_km: 50.0,
    };
    // What /api/events?near=Mopti&radius_km=50&limit=100 computes.
    g.bench_function("near_mopti_50km_page_100", |b| {
        b.iter(|| {
            let (total, mut page) = near_page(&atlas, &m, near, 0, 100);
            fill_distances(&atlas, MOPTI, &mut page);
            black_box((total, page))
        })
    });
    // With filters the grid answers from the attributes beside each event.
    let since_2018 = EventFilter {
        from: chrono::NaiveDate::from_ymd_opt(2018, 1, 1),
        ..EventFilter::default()
    };
    let battles = EventFilter {
        types: vec!["Battles".into()],
        ..EventFilter::default()
    };
    for (name, filter) in [("from_2018", &since_2018), ("battles", &battles)] {
        let mf = filter.compile(&atlas);
        g.bench_function(format!("near_mopti_50km_page_100_{name}"), |b| {
            b.iter(|| {
                let (total, mut page) = near_page(&atlas, &mf, near, 0, 100);
                fill_distances(&atlas, MOPTI, &mut page);
                black_box((total, page))
            })
        });
    }
    // The same through the general path, for comparison.
    g.bench_function("near_mopti_50km_page_100_scan", |b| {
        b.iter(|| {
            let hits = find_events(&atlas, &m, Some(near), Sort::Distance, 100);
            let mut page = hits[..hits.len().min(100)].to_vec();
            fill_distances(&atlas, MOPTI, &mut page);
            black_box((hits.len(), page))
        })
    });
    g.bench_function("nearest_k10", |b| {
        b.iter(|| black_box(nearest(&atlas, &m, MOPTI, 10)))
    });
    g.sample_size(10);
    g.bench_function("coverage_of_every_base", |b| {
        b.iter(|| {
            black_box(
                coverage_all(&atlas, &m, CoverageRule::default())
                    .uncovered
                    .len(),
            )
        })
    });
    g.finish();
}

/// Encoding one tile from scratch (no tile cache): with the cluster pyramid (what any
/// unfiltered or whole-year request gets once it is built), and by scanning the events
/// (what other filters get; here `min_fatalities=0`, which matches every event).
fn tiles(c: &mut Criterion) {
    let atlas = load();
    let source = TileSource::build(&atlas);
    source.prepare_summaries(&atlas);
    let all = EventFilter::default();
    let scan = EventFilter {
        min_fatalities: Some(0),
        ..EventFilter::default()
    };
    let w = project(MOPTI);
    for (group, filter) in [("tile_encode_cold", &all), ("tile_encode_cold_scan", &scan)] {
        let m = filter.compile(&atlas);
        let mut g = c.benchmark_group(group);
        g.sample_size(20);
        for z in [4u8, 6, 8, 10, 12] {
            let n = (1u64 << z) as f64;
            let t = TileCoord {
                z,
                x: (w.x * n) as u32,
                y: (w.y * n) as u32,
            };
            g.bench_function(format!("z{z}_mopti"), |b| {
                b.iter(|| black_box(source.render(&atlas, t, &m).unwrap().map_or(0, |v| v.len())))
            });
        }
        g.finish();
    }
}

criterion_group!(benches, startup, queries, tiles);
criterion_main!(benches);
