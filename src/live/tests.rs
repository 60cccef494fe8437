use super::*;
use crate::load::EventSources;
use crate::model::{Event, LonLat};
use crate::store::Change;
use crate::store::gpkg::GeoPackageStore;
use crate::tiles::coord::TileCoord;
use std::path::PathBuf;
use std::time::Instant;

fn open_live(store: &std::path::Path) -> Arc<Live> {
    let sources = Sources {
        dir: PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("geodata"),
        events: EventSources::default(),
        saved: Some(store.with_extension("base")),
    };
    let store = GeoPackageStore::open(store).unwrap();
    Arc::new(Live::open(sources, Box::new(store)).unwrap())
}

fn written(template: &Event, k: u32) -> Change {
    let mut e = template.clone();
    e.id = format!("T{k}").into();
    e.pos = LonLat::new(
        -4.0 + f64::from(k % 300) * 0.01,
        14.0 + f64::from(k / 300) * 0.01,
    );
    Change::Upsert(e)
}

/// A merge started from an older snapshot keeps the writes made after it, and a
/// batch past the threshold is merged in the background; a restart sees the same.
#[test]
fn merges_keep_every_write() {
    let (dir, path) = scratch_store("merges");
    let live = open_live(&path);
    let snap = live.snapshot();
    let (files, first) = (snap.atlas.event_count(), snap.atlas.event(0).clone());
    let batch: Vec<Change> = (0..500).map(|k| written(&first, k)).collect();
    live.write(&batch).unwrap();
    let before = live.snapshot();
    // Written after the snapshot the merge starts from.
    for k in 500..550 {
        live.write(&[written(&first, k)]).unwrap();
    }
    live.write(&[Change::Delete("T7".into())]).unwrap();
    live.write(&[Change::Delete(first.id.clone())]).unwrap();
    let Change::Upsert(mut moved) = written(&first, 8) else {
        unreachable!()
    };
    moved.pos = LonLat::new(0.5, 16.0);
    live.write(&[Change::Upsert(moved)]).unwrap();
    // The older snapshot must not cache its version of the tile the move touched; the
    // current one caches it under the move's sequence.
    let moved_to = crate::tiles::coord::project(LonLat::new(0.5, 16.0));
    let quiet = crate::tiles::coord::project(LonLat::new(100.0, -40.0));
    for z in [3, 10, 16] {
        let (t, u) = (
            TileCoord::containing(moved_to, z),
            TileCoord::containing(quiet, z),
        );
        assert_eq!(before.tile_epoch(t), None);
        assert_eq!(
            live.snapshot().tile_epoch(t),
            Some(live.snapshot().sequence)
        );
        assert_eq!(before.tile_epoch(u), Some(0));
    }
    live.merge(before).unwrap();
    let check = |live: &Live, extra: u32| {
        let atlas = &live.snapshot().atlas;
        assert_eq!(atlas.event_count(), files + 550 - 2 + extra as usize);
        assert!(atlas.event_index("T7").is_none() && atlas.event_index(&first.id).is_none());
        let t8 = atlas.event(atlas.event_index("T8").unwrap());
        assert_eq!(t8.pos, LonLat::new(0.5, 16.0));
        for k in (0..550).chain(1000..1000 + extra).filter(|&k| k != 7) {
            assert!(atlas.event_index(&format!("T{k}")).is_some(), "T{k}");
        }
    };
    assert!(live.snapshot().atlas.delta_size() <= 60);
    assert!(live.snapshot().atlas.base_events().len() >= files + 500);
    check(&live, 0);

    let big: Vec<Change> = (1000..10_000).map(|k| written(&first, k)).collect();
    live.write(&big).unwrap();
    let waited = Instant::now();
    while live.snapshot().atlas.delta_size() > 0 {
        assert!(
            waited.elapsed().as_secs() < 60,
            "no merge after a big batch"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    check(&live, 9_000);
    let merged_at = live.snapshot().sequence;
    wait_saved(&live, merged_at);
    // Written after the base was saved: a restart reads the saved base and these.
    live.write(&[written(&first, 20_000), Change::Delete("T9".into())])
        .unwrap();
    drop(live);
    let again = open_live(&path);
    assert!(again.base_report().from_saved);
    assert!(again.snapshot().atlas.event_index("T20000").is_some());
    assert!(again.snapshot().atlas.event_index("T9").is_none());
    assert_eq!(again.snapshot().sequence, merged_at + 2);
    assert_eq!(
        again.snapshot().atlas.event_count(),
        files + 550 - 2 + 9_000
    );
    std::fs::remove_dir_all(dir).unwrap();
}

/// A directory of its own for a test, and the store path in it.
fn scratch_store(name: &str) -> (PathBuf, PathBuf) {
    let dir = std::env::temp_dir().join(format!("sahel-live-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("store.gpkg");
    (dir, path)
}

fn wait_saved(live: &Live, sequence: u64) {
    let waited = Instant::now();
    while !matches!(live.base_report().saved, Some(Ok(s)) if s == sequence) {
        assert!(waited.elapsed().as_secs() < 60, "{:?}", live.base_report());
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// A base saved from one store is not laid under another put at the same path, even
/// one with as many changes: its change at the saved sequence is another.
#[test]
fn a_saved_base_is_not_used_with_another_store() {
    let (dir, path) = scratch_store("other");
    let live = open_live(&path);
    let first = live.snapshot().atlas.event(0).clone();
    live.write(&[written(&first, 1), written(&first, 2)])
        .unwrap();
    // Saved at 2 by a merge of those writes.
    live.merge(live.snapshot()).unwrap();
    wait_saved(&live, 2);
    drop(live);
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    // Another store, two other changes: the same sequence numbers.
    let other = GeoPackageStore::open(&path).unwrap();
    other
        .commit(&[written(&first, 8), written(&first, 9)])
        .unwrap();
    assert_eq!(other.sequence().unwrap(), 2);
    drop(other);
    let again = open_live(&path);
    assert!(!again.base_report().from_saved);
    let atlas = &again.snapshot().atlas;
    assert!(atlas.event_index("T8").is_some() && atlas.event_index("T9").is_some());
    assert!(atlas.event_index("T1").is_none() && atlas.event_index("T2").is_none());
    wait_saved(&again, 2); // built, so saved again: done before the directory goes
    drop(again);
    std::fs::remove_dir_all(dir).unwrap();
}

/// Writes past the merge threshold made while the server was down are merged into a
/// new base at the next start, and that base is saved: the start after reads it back
/// without merging them again.
#[test]
fn a_saved_base_merged_at_start_is_saved_again() {
    let (dir, path) = scratch_store("remerge");
    let live = open_live(&path);
    let first = live.snapshot().atlas.event(0).clone();
    wait_saved(&live, 0);
    drop(live);
    let store = GeoPackageStore::open(&path).unwrap();
    let many: Vec<Change> = (0..9_000).map(|k| written(&first, k)).collect();
    store.commit(&many).unwrap();
    drop(store);
    let again = open_live(&path);
    assert!(again.base_report().from_saved);
    assert_eq!(again.snapshot().atlas.delta_size(), 0, "merged at start");
    wait_saved(&again, 9_000);
    drop(again);
    let third = open_live(&path);
    assert!(third.base_report().from_saved);
    assert_eq!(third.snapshot().sequence, 9_000);
    assert_eq!(third.snapshot().atlas.delta_size(), 0);
    assert!(third.snapshot().atlas.event_index("T8999").is_some());
    drop(third);
    std::fs::remove_dir_all(dir).unwrap();
}
