//! SDF glyph ranges for map labels, rendered from a TTF on first request and kept
//! (MapLibre draws text only from such glyphs; no font server is reachable from here).
//! The web map's own files are in `web_files`.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;

use bytes::Bytes;
use pbf_font_tools::prost::Message;
use warp::http::{HeaderMap, HeaderValue, header};
use warp::reply::Response;

use super::compress::accepts;
use super::problem::{Problem, ProblemKind};
use crate::params::values::GlyphRange;
use crate::support::gzip::{Compression, gzip};

/// SDF glyph ranges of one TTF, rendered on demand and cached.
pub struct Glyphs {
    font: PathBuf,
    /// Each range as rendered and gzipped.
    rendered: Mutex<HashMap<u32, (Bytes, Bytes)>>,
}

impl Glyphs {
    pub fn new(font: PathBuf) -> Glyphs {
        Glyphs {
            font,
            rendered: Mutex::new(HashMap::new()),
        }
    }

    /// `GET /fonts/{fontstack}/{start}-{end}.pbf`. Every font stack is answered with our
    /// one font, so a style may name whatever it likes. Gzipped when the client takes it
    /// (the Latin range: 87 KB, 29 KB gzipped), compressed once when rendered.
    pub fn range(&self, range: GlyphRange, headers: &HeaderMap) -> Result<Response, Problem> {
        let (start, end) = (range.start, range.start + 255);
        let cached = self
            .rendered
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&start)
            .cloned();
        let (raw, gzip) = match cached {
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
                let raw = Bytes::from(glyphs.encode_to_vec());
                let gzip = Bytes::from(gzip(&raw, Compression::best()));
                let both = (raw, gzip);
                self.rendered
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(start, both.clone());
                both
            }
        };
        let zipped = accepts(headers, "gzip") && !gzip.is_empty();
        let mut resp = Response::new(if zipped { gzip } else { raw }.into());
        let h = resp.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-protobuf"),
        );
        if zipped {
            h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        }
        h.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
        h.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=86400"),
        );
        Ok(resp)
    }
}
