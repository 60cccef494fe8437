//! The answer for one tile, live or from an archive: ETag and 304, 204 when empty, gzip
//! as the client takes it. Shared by `/tiles` and `/archives`.

use std::sync::Arc;

use bytes::Bytes;
use headers::{ETag, HeaderMapExt, IfNoneMatch};
use warp::http::{HeaderMap, HeaderValue, StatusCode, header};
use warp::reply::Response;

use super::compress::accepts;
use super::problem::Problem;
use crate::tiles::cache::EncodedTile;

const MVT: &str = "application/vnd.mapbox-vector-tile";

/// Whether the client already has the tile with this ETag.
fn not_modified(headers: &HeaderMap, etag: &str) -> bool {
    let (Some(inm), Ok(tag)) = (headers.typed_get::<IfNoneMatch>(), etag.parse::<ETag>()) else {
        return false;
    };
    !inm.precondition_passes(&tag)
}

/// A tile's content as its source holds it.
pub enum TileBody {
    Empty,
    /// A live tile: raw, gzipped on demand.
    Live(Arc<EncodedTile>),
    /// Gzipped (archives), unzipped for a client that does not take gzip.
    Gzip(Bytes),
    /// Not compressed.
    Raw(Bytes),
}

impl TileBody {
    /// A live tile as the cache holds it (empty: 204).
    pub(super) fn of(encoded: &Arc<EncodedTile>) -> TileBody {
        if encoded.is_empty() {
            TileBody::Empty
        } else {
            TileBody::Live(encoded.clone())
        }
    }
}

/// The answer for one tile, live or from an archive: 304 when the client already has this
/// ETag, 204 when empty, else the MVT, gzipped when the client takes gzip.
pub fn tile_response(headers: &HeaderMap, etag: &str, body: TileBody) -> Result<Response, Problem> {
    let mut resp = Response::new(Default::default());
    let h = resp.headers_mut();
    // Short: events change at run time (the web map follows /api/changes and asks with
    // a new `v` at once); the ETag makes revalidation cheap.
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=60"),
    );
    h.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    if let Ok(v) = HeaderValue::from_str(etag) {
        h.insert(header::ETAG, v);
    }
    if not_modified(headers, etag) {
        *resp.status_mut() = StatusCode::NOT_MODIFIED;
        return Ok(resp);
    }
    let gzip = accepts(headers, "gzip");
    let (bytes, zipped) = match body {
        TileBody::Empty => {
            *resp.status_mut() = StatusCode::NO_CONTENT;
            return Ok(resp);
        }
        TileBody::Live(t) if gzip => (t.gzip(), true),
        TileBody::Live(t) => (t.raw.clone(), false),
        TileBody::Raw(raw) => (raw, false),
        TileBody::Gzip(g) if gzip => (g, true),
        TileBody::Gzip(g) => (gunzip(&g)?, false),
    };
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(MVT));
    if zipped {
        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    *resp.body_mut() = bytes.into();
    Ok(resp)
}

fn gunzip(gzipped: &[u8]) -> Result<Bytes, Problem> {
    use std::io::Read;
    let mut out = Vec::with_capacity(gzipped.len() * 3);
    flate2::read::GzDecoder::new(gzipped)
        .read_to_end(&mut out)
        .map_err(|e| Problem::internal(format!("a stored tile is not valid gzip: {e}")))?;
    Ok(out.into())
}
