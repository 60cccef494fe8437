//! What the browser needs besides data: the web map's files (read once at start-up from
//! the web directory) and SDF glyph ranges for map labels, rendered from a TTF on first
//! request and kept (MapLibre draws text only from such glyphs; no font server is
//! reachable from here).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use bytes::Bytes;
use pbf_font_tools::prost::Message;
use warp::http::{HeaderValue, header};
use warp::reply::Response;

use super::params::values::GlyphRange;
use super::problem::{Problem, ProblemKind};

/// The web map's files, by URL path.
pub struct WebFiles {
    files: HashMap<String, (HeaderValue, Bytes)>,
}

/// The file's media type by its extension (`mime_guess`); text is UTF-8 here, said
/// explicitly so browsers need not guess.
fn content_type(path: &Path) -> HeaderValue {
    let mime = mime_guess::from_path(path).first_or_octet_stream();
    let value = if mime.type_() == mime_guess::mime::TEXT && mime.get_param("charset").is_none() {
        format!("{mime}; charset=utf-8")
    } else {
        mime.to_string()
    };
    HeaderValue::from_str(&value).unwrap_or(HeaderValue::from_static("application/octet-stream"))
}

impl WebFiles {
    /// Reads `dir`'s own files (served at `/name`) and the bundles of MapLibre and
    /// PMTiles from `dir/node_modules/*/dist` (served at `/vendor/name`). Missing files are
    /// reported and skipped: the API and tiles work without the web map.
    pub fn load(dir: &Path) -> WebFiles {
        let mut files = HashMap::new();
        let mut add = |url: String, path: PathBuf| match std::fs::read(&path) {
            Ok(b) => {
                files.insert(url, (content_type(&path), Bytes::from(b)));
            }
            Err(e) => tracing::warn!(file = %path.display(), "web map file not served: {e}"),
        };
        if let Ok(entries) = std::fs::read_dir(dir) {
            for entry in entries.flatten() {
                let path = entry.path();
                let name = entry.file_name().to_string_lossy().into_owned();
                if path.is_file() && !name.starts_with('.') && !name.starts_with("package") {
                    add(format!("/{name}"), path);
                }
            }
        }
        let modules = dir.join("node_modules");
        for (package, name) in [
            ("maplibre-gl", "maplibre-gl.js"),
            ("maplibre-gl", "maplibre-gl.css"),
            // Reads PMTiles archives on a CDN by range requests (`pmtiles://` sources).
            ("pmtiles", "pmtiles.js"),
        ] {
            add(
                format!("/vendor/{name}"),
                modules.join(package).join("dist").join(name),
            );
        }
        if !files.contains_key("/vendor/maplibre-gl.js") {
            tracing::warn!("MapLibre is missing: run `make run` (it runs npm ci in web/)");
        }
        WebFiles { files }
    }

    pub fn get(&self, path: &str) -> Option<Response> {
        let path = if path == "/" { "/index.html" } else { path };
        let (ct, bytes) = self.files.get(path)?;
        let mut resp = Response::new(bytes.clone().into());
        let h = resp.headers_mut();
        h.insert(header::CONTENT_TYPE, ct.clone());
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        Some(resp)
    }
}

/// SDF glyph ranges of one TTF, rendered on demand and cached.
pub struct Glyphs {
    font: PathBuf,
    rendered: Mutex<HashMap<u32, Bytes>>,
}

impl Glyphs {
    pub fn new(font: PathBuf) -> Glyphs {
        Glyphs {
            font,
            rendered: Mutex::new(HashMap::new()),
        }
    }

    /// `GET /fonts/{fontstack}/{start}-{end}.pbf`. Every font stack is answered with our
    /// one font, so a style may name whatever it likes.
    pub fn range(&self, range: GlyphRange) -> Result<Response, Problem> {
        let (start, end) = (range.start, range.start + 255);
        let cached = self
            .rendered
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&start)
            .cloned();
        let bytes = match cached {
            Some(b) => b,
            None => {
                let glyphs =
                    pbf_font_tools::glyph_range_for_font(&self.font, start, end, 24, 8, 0.25)
                        .map_err(|e| {
                            Problem::new(
                                ProblemKind::Unavailable,
                                format!("cannot render glyphs from {}: {e}", self.font.display()),
                            )
                        })?;
                let b = Bytes::from(glyphs.encode_to_vec());
                self.rendered
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(start, b.clone());
                b
            }
        };
        let mut resp = Response::new(bytes.into());
        let h = resp.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-protobuf"),
        );
        h.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=86400"),
        );
        Ok(resp)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_types_by_extension() {
        let ct = |name: &str| content_type(Path::new(name)).to_str().unwrap().to_string();
        assert_eq!(ct("index.html"), "text/html; charset=utf-8");
        assert_eq!(ct("app.js"), "text/javascript; charset=utf-8");
        assert_eq!(ct("maplibre-gl.css"), "text/css; charset=utf-8");
        assert_eq!(ct("style.json"), "application/json");
        assert_eq!(ct("logo.svg"), "image/svg+xml");
        assert_eq!(ct("README"), "application/octet-stream");
    }
}
