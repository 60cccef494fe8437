//! `/archives`: tile archives (PMTiles, MBTiles) served beside the live tiles, with the
//! same headers (`serve --archive NAME=FILE`).

use std::sync::Arc;

use serde_json::{Value, json};
use warp::http::{HeaderValue, StatusCode, header};
use warp::reply::Response;

use super::problem::{Problem, ProblemKind};
use super::tile_body::{TileBody, tile_response};
use super::{JSON, Request, json_response};
use crate::archive::Archive;
use crate::params::queries::{ArchivePath, ArchiveTilePath, NoQuery};
use crate::tiles::cache::etag;
use crate::tiles::coord::TileCoord;

/// Where an archive is: a file this server reads, or a PMTiles URL (object storage
/// behind a CDN) that browsers read themselves, by HTTP range requests.
#[derive(Debug, Clone)]
pub enum Served {
    /// An archive file this server reads and serves.
    File(Arc<Archive>),
    /// The URL of a PMTiles archive that browsers read themselves.
    Remote(String),
}

/// The archives a server was started with, by name.
#[derive(Debug, Clone, Default)]
pub struct Archives(Vec<(String, Served)>);

impl Archives {
    /// The archives by name.
    pub fn new(named: Vec<(String, Served)>) -> Archives {
        Archives(named)
    }

    /// The archive named `name`, or a 404 problem.
    pub fn get(&self, name: &str) -> Result<&Served, Problem> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, a)| a)
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

    /// The names of the archives this server reads itself.
    pub fn local_names(&self) -> impl Iterator<Item = &str> {
        self.0
            .iter()
            .filter(|(_, s)| matches!(s, Served::File(_)))
            .map(|(n, _)| n.as_str())
    }

    /// An archive this server reads (a remote one is read from its URL, not here).
    pub fn file(&self, name: &str) -> Result<&Arc<Archive>, Problem> {
        match self.get(name)? {
            Served::File(a) => Ok(a),
            Served::Remote(url) => Err(Problem::not_found(format!(
                "archive {name:?} is not here: browsers read it from {url}"
            ))),
        }
    }

    /// The origins (`scheme://host[:port]`) of remote archives, which the web map's
    /// content security policy must let it fetch from.
    pub fn remote_origins(&self) -> Vec<String> {
        let mut origins: Vec<String> = self
            .0
            .iter()
            .filter_map(|(_, s)| match s {
                Served::Remote(url) => origin(url),
                Served::File(_) => None,
            })
            .collect();
        origins.sort();
        origins.dedup();
        origins
    }
}

/// `https://cdn.example.org:8443/a/b.pmtiles` -> `https://cdn.example.org:8443`.
pub fn origin(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let host = rest.split(['/', '?', '#']).next()?;
    let ok = matches!(scheme, "http" | "https")
        && !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b));
    ok.then(|| format!("{scheme}://{host}"))
}

/// The vector source a style draws an archive from: this server's tile URLs, or the
/// PMTiles URL through the web map's `pmtiles://` protocol.
pub fn style_source(r: &Request, name: &str, served: &Served) -> Value {
    match served {
        Served::File(a) => json!({
            "type": "vector",
            "tiles": [template(r, name)],
            "minzoom": a.info.minzoom,
            "maxzoom": a.info.maxzoom,
            "bounds": a.info.bounds,
            "attribution": a.info.metadata.get("attribution").cloned()
                .unwrap_or_else(|| json!(crate::tiles::ATTRIBUTION)),
        }),
        Served::Remote(url) => json!({
            "type": "vector",
            "url": format!("pmtiles://{url}"),
            "attribution": crate::tiles::ATTRIBUTION,
        }),
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
        .map(|(name, served)| match served {
            Served::File(a) => {
                let tiles = template(r, name);
                let mut entry = json!({
                    "name": name,
                    "format": a.format(),
                    "tiles": tiles,
                    "tilejson": tiles.replace("{z}/{x}/{y}.mvt", "tiles.json"),
                    "minzoom": a.info.minzoom,
                    "maxzoom": a.info.maxzoom,
                    "bounds": a.info.bounds,
                });
                if a.format() == "pmtiles" {
                    entry["url"] = json!(tiles.replace("{z}/{x}/{y}.mvt", "archive.pmtiles"));
                }
                entry
            }
            Served::Remote(url) => json!({"name": name, "format": "pmtiles", "url": url}),
        })
        .collect();
    Ok(json_response(JSON, &json!({ "archives": archives })))
}

/// `GET /archives/{name}/tiles.json` (TileJSON 3.0.0, from the archive's header and
/// metadata).
pub fn tilejson(r: &Request, path: ArchivePath, _: NoQuery) -> Result<Response, Problem> {
    let a = r.state.archives.file(&path.name.0)?;
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
    let a = r.state.archives.file(&path.name.0)?;
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

const PMTILES: &str = "application/vnd.pmtiles";

/// `GET /archives/{name}/archive.pmtiles`: the PMTiles file itself, whole (streamed) or
/// by `Range: bytes=…` (206), as object storage serves it, for the web map's `pmtiles://`
/// protocol and for anyone publishing it elsewhere.
pub fn file(r: &Request, path: ArchivePath, _: NoQuery) -> Result<Response, Problem> {
    let a = r.state.archives.file(&path.name.0)?;
    if a.format() != "pmtiles" {
        return Err(Problem::not_found(format!(
            "archive {:?} is an MBTiles file; only PMTiles archives are served whole",
            path.name.0
        )));
    }
    let etag = format!("\"{:x}-{:x}\"", a.size, a.modified);
    let range = r
        .headers
        .get(header::RANGE)
        .map(|v| byte_range(v.to_str().unwrap_or(""), a.size));
    let mut resp = match range {
        None => {
            let (archive, name) = (r.state.archives.clone(), path.name.0.clone());
            let filename = format!("{}.pmtiles", name);
            let size = a.size;
            super::download::streamed(r, PMTILES, &filename, move |out| {
                let a = archive
                    .file(&name)
                    .map_err(|p| std::io::Error::other(p.detail))?;
                let mut at = 0;
                while at < size {
                    let chunk = a.bytes_at(at, 1 << 20).map_err(std::io::Error::other)?;
                    out.write_all(&chunk)?;
                    at += chunk.len().max(1) as u64;
                }
                Ok(())
            })?
        }
        Some(None) => {
            let mut resp = Problem::new(
                ProblemKind::RangeNotSatisfiable,
                format!(
                    "Range: the file has {} bytes; ask for one range within them",
                    a.size
                ),
            )
            .into_response();
            if let Ok(v) = HeaderValue::from_str(&format!("bytes */{}", a.size)) {
                resp.headers_mut().insert(header::CONTENT_RANGE, v);
            }
            return Ok(resp);
        }
        Some(Some((start, end))) => {
            let bytes = a
                .bytes_at(start, end - start + 1)
                .map_err(|e| Problem::internal(e.to_string()))?;
            let last = start + bytes.len() as u64 - 1;
            let mut resp = Response::new(bytes.into());
            *resp.status_mut() = StatusCode::PARTIAL_CONTENT;
            let h = resp.headers_mut();
            h.insert(header::CONTENT_TYPE, HeaderValue::from_static(PMTILES));
            let content_range = format!("bytes {start}-{last}/{}", a.size);
            if let Ok(v) = HeaderValue::from_str(&content_range) {
                h.insert(header::CONTENT_RANGE, v);
            }
            resp
        }
    };
    let h = resp.headers_mut();
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=60"),
    );
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    // Cross-origin readers (a web map elsewhere) need these to check what they got.
    h.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static("ETag, Content-Range, Content-Length, Accept-Ranges"),
    );
    Ok(resp)
}

/// One byte range of a `Range` header over a file of `size` bytes: `Some((first, last))`
/// inclusive, `None` when it cannot be satisfied. Only the first of several ranges is read.
fn byte_range(value: &str, size: u64) -> Option<(u64, u64)> {
    let spec = value.trim().strip_prefix("bytes=")?;
    let first = spec.split(',').next()?.trim();
    let (start, end) = first.split_once('-')?;
    let (start, end) = match (start.trim(), end.trim()) {
        ("", suffix) => {
            let n: u64 = suffix.parse().ok().filter(|&n| n > 0)?;
            (size.saturating_sub(n), size.checked_sub(1)?)
        }
        (s, "") => (s.parse().ok()?, size.checked_sub(1)?),
        (s, e) => {
            let (s, e): (u64, u64) = (s.parse().ok()?, e.parse().ok()?);
            (s, e.min(size.checked_sub(1)?))
        }
    };
    (start <= end && start < size).then_some((start, end))
}

#[cfg(test)]
mod tests {
    use super::byte_range;

    #[test]
    fn ranges_as_rfc_9110_reads_them() {
        assert_eq!(byte_range("bytes=0-6", 100), Some((0, 6)));
        assert_eq!(byte_range("bytes=90-", 100), Some((90, 99)));
        assert_eq!(byte_range("bytes=-10", 100), Some((90, 99)));
        assert_eq!(byte_range("bytes=-500", 100), Some((0, 99)));
        assert_eq!(byte_range("bytes=95-200", 100), Some((95, 99)));
        assert_eq!(byte_range("bytes=0-1, 5-6", 100), Some((0, 1)));
        assert_eq!(byte_range("bytes=100-", 100), None);
        assert_eq!(byte_range("bytes=7-3", 100), None);
        assert_eq!(byte_range("bytes=-0", 100), None);
        assert_eq!(byte_range("items=0-1", 100), None);
        assert_eq!(byte_range("bytes=x-1", 100), None);
        assert_eq!(byte_range("bytes=0-", 0), None);
    }
}
