//! Any request target (path and query string) as a GET to the whole router and its
//! handlers, over the shipped data: never a panic (the server would turn one into a 500,
//! which is checked here too) and every error is problem+json.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use sahel_atlas::{AppState, Config, EventSources, GeoPackageStore, Live, Sources, answer_get};

fn state() -> &'static AppState {
    static STATE: OnceLock<AppState> = OnceLock::new();
    STATE.get_or_init(|| {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let store = std::env::temp_dir().join(format!("sahel-fuzz-{}.gpkg", std::process::id()));
        let _ = std::fs::remove_file(&store);
        let sources = Sources {
            dir: root.join("geodata"),
            events: EventSources::default(),
            saved: None,
        };
        let store = GeoPackageStore::open(&store).expect("store");
        let live = Live::open(sources, Box::new(store)).expect("shipped data");
        let config = Config {
            tile_cache_bytes: 0,
            web_dir: root.join("web"),
            font: "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf".into(),
            ..Config::default()
        };
        AppState::new(live, config)
    })
}

fuzz_target!(|target: &str| {
    let resp = answer_get(state(), target);
    let status = resp.status().as_u16();
    assert!(status != 500, "500 for {target:?}");
    if status >= 400 {
        let ct = resp.headers().get("content-type").unwrap();
        assert_eq!(ct, "application/problem+json", "{target:?}");
    }
});
