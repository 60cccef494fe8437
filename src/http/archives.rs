//! `/archives`: tile archives (PMTiles, MBTiles) served beside the live tiles, with the
//! same headers (`serve --archive NAME=FILE`).

use std::sync::Arc;

use serde_json::{Value, json};
use warp::reply::Response;

use super::params::queries::{ArchivePath, ArchiveTilePath, NoQuery};
use super::problem::Problem;
use super::tiles::{TileBody, tile_response};
use super::{JSON, Request, json_response};
use crate::archive::Archive;
use crate::tiles::cache::etag;
use crate::tiles::coord::TileCoord;

/// The archives a server was started with, by name.
#[derive(Debug, Clone, Default)]
pub struct Archives(Vec<(String, Arc<Archive>)>);

impl Archives {
    pub fn new(named: Vec<(String, Arc<Archive>)>) -> Archives {
        Archives(named)
    }

    pub fn get(&self, name: &str) -> Result<&Archive, Problem> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, a)| &**a)
            .ok_or_else(|| {
                let names: Vec<&str> = self.0.iter().map(|(n, _)| n.as_str()).collect();
                Problem::not_found(format!(
                    "no archive {name:?}; served: {} (see /archives)",
                    if names.is_empty() {
                        "none".to_string()
                    } else {
                        names.join(", ")
                    }
                ))
            })
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|(n, _)| n.as_str())
    }
}

/// The archive's tile URL template.
pub fn template(r: &Request, name: &str) -> String {
    let name = percent_encoding::utf8_percent_encode(name, percent_encoding::NON_ALPHANUMERIC);
    format!("{}/archives/{name}/{{z}}/{{x}}/{{y}}.mvt", r.base_url())
}

/// `GET /archives`: what is served, with each archive's zooms and box.
pub fn list(r: &Request, _: NoQuery, _: NoQuery) -> Result<Response, Problem> {
    let archives: Vec<Value> = r
        .state
        .archives
        .0
        .iter()
        .map(|(name, a)| {
            let tiles = template(r, name);
            json!({
                "name": name,
                "format": a.format(),
                "tiles": tiles,
                "tilejson": tiles.replace("{z}/{x}/{y}.mvt", "tiles.json"),
                "minzoom": a.info.minzoom,
                "maxzoom": a.info.maxzoom,
                "bounds": a.info.bounds,
            })
        })
        .collect();
    Ok(json_response(JSON, &json!({ "archives": archives })))
}

/// `GET /archives/{name}/tiles.json` (TileJSON 3.0.0, from the archive's header and
/// metadata).
pub fn tilejson(r: &Request, path: ArchivePath, _: NoQuery) -> Result<Response, Problem> {
    let a = r.state.archives.get(&path.name.0)?;
    let meta = &a.info.metadata;
    let mut tj = json!({
        "tilejson": "3.0.0",
        "tiles": [template(r, &path.name.0)],
        "name": meta.get("name").cloned().unwrap_or_else(|| json!(path.name.0)),
        "scheme": "xyz",
        "minzoom": a.info.minzoom,
        "maxzoom": a.info.maxzoom,
        "bounds": a.info.bounds,
        "center": a.info.center,
        "vector_layers": meta.get("vector_layers").cloned().unwrap_or_else(|| json!([])),
    });
    for key in ["description", "attribution", "version"] {
        if let Some(v) = meta.get(key) {
            tj[key] = v.clone();
        }
    }
    Ok(json_response(JSON, &tj))
}

/// `GET /archives/{name}/{z}/{x}/{y}.mvt`: the tile as stored, 204 when the archive
/// has none.
pub fn tile(r: &Request, path: ArchiveTilePath, _: NoQuery) -> Result<Response, Problem> {
    let a = r.state.archives.get(&path.name.0)?;
    let t = TileCoord::new(path.z.get() as u8, path.x.get(), path.y.get())?;
    let stored = a.tile(t.z, t.x, t.y).map_err(|e| {
        tracing::error!(error = %e, "archive read failed");
        Problem::internal(e.to_string())
    })?;
    let tag = stored.as_deref().map_or_else(|| etag(&[]), etag);
    let body = match stored {
        None => TileBody::Empty,
        Some(b) if b.is_empty() => TileBody::Empty,
        Some(b) if b.starts_with(&[0x1f, 0x8b]) => TileBody::Gzip(b),
        Some(b) => TileBody::Raw(b),
    };
    tile_response(r.headers, &tag, body)
}
