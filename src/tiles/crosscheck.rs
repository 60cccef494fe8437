//! The design card's `mvt` crate as an independent cross-check of our encoder
//! (`encode.rs`): in tests every tile is also encoded by the crate, from the same
//! features and attributes, and both are decoded by Python's `mapbox-vector-tile` and
//! compared (`tests/truth/mvt.py same`).

use std::cell::RefCell;

use super::{Geom, POINT, POLYGON, Value};

/// A feature as handed to our encoder.
pub(crate) struct Feature {
    kind: u32,
    parts: Vec<Vec<[i32; 2]>>,
    tags: Vec<(&'static str, Value<'static>)>,
}

impl Feature {
    pub(crate) fn of(geom: &Geom) -> Feature {
        Feature {
            kind: geom.kind,
            parts: geom.parts.clone(),
            tags: Vec::new(),
        }
    }

    pub(crate) fn tag(&mut self, key: &'static str, value: &Value<'_>) {
        let value = match value {
            Value::Str(s) => Value::Str(s.to_string().into()),
            Value::Uint(n) => Value::Uint(*n),
            Value::Sint(n) => Value::Sint(*n),
            Value::Double(x) => Value::Double(*x),
        };
        self.tags.push((key, value));
    }

    fn encode(&self, layer: mvt::Layer) -> mvt::Layer {
        let kind = match self.kind {
            POINT => mvt::GeomType::Point,
            POLYGON => mvt::GeomType::Polygon,
            _ => mvt::GeomType::Linestring,
        };
        let mut geom = mvt::GeomEncoder::<f64>::new(kind);
        let mut last_end = None;
        for part in &self.parts {
            // The crate skips a part's MoveTo when it starts where the last part ended
            // (meant for joined lines), which turns such a polygon ring into another
            // shape: start that ring one vertex later (the same ring) so the crate
            // encodes it as given. Seen on a region whose hole covers the whole tile.
            let mut part = part.clone();
            if kind == mvt::GeomType::Polygon && part.len() > 3 && last_end == part.first().copied()
            {
                part.remove(0);
                part.push(part[0]);
            }
            last_end = part.last().copied();
            for p in &part {
                geom.add_point(f64::from(p[0]), f64::from(p[1]))
                    .expect("a tile point");
            }
            geom.complete_geom().expect("a part");
        }
        let mut feature = layer.into_feature(geom.encode().expect("a geometry"));
        for (key, value) in &self.tags {
            match value {
                Value::Str(s) => feature.add_tag_string(key, s),
                Value::Uint(n) => feature.add_tag_uint(key, *n),
                Value::Sint(n) => feature.add_tag_sint(key, *n),
                Value::Double(x) => feature.add_tag_double(key, *x),
            }
        }
        feature.into_layer()
    }
}

/// The tile as the `mvt` crate encodes it.
pub(crate) struct Shadow(mvt::Tile);

impl Default for Shadow {
    fn default() -> Shadow {
        Shadow(mvt::Tile::new(super::EXTENT))
    }
}

thread_local! {
    /// The last tile this thread finished, as the `mvt` crate encoded it.
    static LAST: RefCell<Option<Vec<u8>>> = const { RefCell::new(None) };
}

impl Shadow {
    pub(crate) fn add(&mut self, name: &str, features: &[Feature]) {
        let mut layer = self.0.create_layer(name);
        for f in features {
            layer = f.encode(layer);
        }
        self.0.add_layer(layer).expect("a layer");
    }

    pub(crate) fn keep(self) {
        let bytes = (self.0.num_layers() > 0).then(|| self.0.to_bytes().expect("a tile"));
        LAST.with(|last| *last.borrow_mut() = bytes);
    }
}

/// The tile the `mvt` crate made of the last tile this thread finished.
pub(crate) fn last_tile() -> Option<Vec<u8>> {
    LAST.with(|last| last.borrow_mut().take())
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::process::Command;

    use super::last_tile;
    use crate::query::filter::EventFilter;
    use crate::tiles::coord::{TileCoord, project};
    use crate::tiles::{TileSet, TileSource};

    /// Tiles over Mali at every zoom 0-14 (clusters below z10, single events above,
    /// every layer of both sets), rendered with and without a filter.
    #[test]
    fn the_mvt_crate_decodes_the_same_as_our_encoder() {
        let atlas = crate::synth::test_atlas(20_000, 11);
        let source = TileSource::build(&atlas);
        source.prepare_summaries(&atlas);
        let all = EventFilter::default();
        let battles = EventFilter {
            types: vec!["Battles".into()],
            ..EventFilter::default()
        };
        let dir = std::env::temp_dir().join(format!("sahel-crosscheck-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut files: Vec<PathBuf> = Vec::new();
        let towns = [
            (-4.18, 14.48),
            (-8.0, 12.64),
            (-0.04, 16.27),
            (1.41, 18.44),
            (-3.0, 16.77),
        ];
        for z in 0..=14u8 {
            for (i, (lon, lat)) in towns.iter().enumerate() {
                let t = TileCoord::containing(project(crate::model::LonLat::new(*lon, *lat)), z);
                for (f, filter) in [&all, &battles].into_iter().enumerate() {
                    for set in [TileSet::Main, TileSet::Hexbins] {
                        let m = filter.compile(&atlas);
                        let ours = source.render_set(set, &atlas, t, &m).unwrap();
                        let theirs = last_tile();
                        assert_eq!(ours.is_some(), theirs.is_some(), "{t:?}");
                        let (Some(ours), Some(theirs)) = (ours, theirs) else {
                            continue;
                        };
                        let name = format!("{z}-{i}-{f}-{set:?}");
                        for (side, bytes) in [("ours", ours), ("mvt", theirs)] {
                            let path = dir.join(format!("{name}-{side}.mvt"));
                            std::fs::write(&path, bytes).unwrap();
                            files.push(path);
                        }
                    }
                }
            }
        }
        assert!(files.len() > 200, "{} tiles", files.len() / 2);
        let python = std::env::var_os("SAHEL_PYTHON").map_or_else(
            || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python"),
            PathBuf::from,
        );
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/truth/mvt.py");
        let out = Command::new(&python)
            .arg(script)
            .arg("same")
            .args(&files)
            .output()
            .unwrap_or_else(|e| panic!("{}: {e} (make test-setup installs it)", python.display()));
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(report["differences"], serde_json::json!([]), "{report}");
        assert!(report["features"].as_u64().unwrap() > 10_000, "{report}");
    }
}
