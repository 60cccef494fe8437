//! SDF glyph ranges for map labels, rendered from a TTF on first request and kept
//! (MapLibre draws text only from such glyphs; no font server is reachable from here).
//! The web map's own files are in `web_files`.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;

use bytes::Bytes;
use pbf_font_tools::prost::Message;
use warp::http::{HeaderValue, header};
use warp::reply::Response;

use super::params::values::GlyphRange;
use super::problem::{Problem, ProblemKind};

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
