//! Gzip for whole answers (JSON, GeoJSON, CSV, text) when the client takes it: on a slow
//! link a style or a page of features is a fifth of its size. Tiles and the web map's files
//! arrive already encoded and are left alone, as are streamed downloads (their size is not
//! known up front).

use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use http_body::Body as _;
use warp::http::{HeaderMap, HeaderValue, header};
use warp::reply::Response;

use crate::support::gzip::{Compression, gzip};

/// Smaller answers are sent as they are: gzip would save less than its framing.
const MIN_BYTES: u64 = 1024;

/// Whether `headers` accept the content coding `coding` (`gzip`, `br`) by name or as `*`;
/// a weight of zero (`q=0`, `q=0.000`) refuses it.
pub fn accepts(headers: &HeaderMap, coding: &str) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|enc| {
            let mut parts = enc.split(';').map(str::trim);
            let name = parts.next().unwrap_or("");
            let refused = parts.any(|p| {
                p.replace(' ', "")
                    .strip_prefix("q=")
                    .and_then(|q| q.parse::<f64>().ok())
                    .is_some_and(|q| q == 0.0)
            });
            (name.eq_ignore_ascii_case(coding) || name == "*") && !refused
        })
}

fn compressible(resp: &Response) -> bool {
    let h = resp.headers();
    let text = h
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.contains("json") || t.starts_with("text/"));
    let size = resp.body().size_hint();
    text && !h.contains_key(header::CONTENT_ENCODING)
        && size.exact().is_some_and(|n| n >= MIN_BYTES)
}

/// `resp` gzipped if `request` accepts gzip and the answer is whole text of some size.
pub fn maybe_gzip(request: &HeaderMap, mut resp: Response) -> Response {
    if !accepts(request, "gzip") || !compressible(&resp) {
        return resp;
    }
    let mut body = std::mem::take(resp.body_mut());
    let mut cx = Context::from_waker(Waker::noop());
    let mut bytes = Vec::new();
    loop {
        match Pin::new(&mut body).poll_frame(&mut cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Ok(data) = frame.into_data() {
                    bytes.extend_from_slice(&data);
                }
            }
            Poll::Ready(None) => break,
            // A whole body is always ready; anything else goes out as it came.
            Poll::Ready(Some(Err(_))) | Poll::Pending => {
                *resp.body_mut() = body;
                return resp;
            }
        }
    }
    // Level 1: most of the saving at a fraction of the time (answers are made per request).
    let zipped = gzip(&bytes, Compression::fast());
    let h = resp.headers_mut();
    h.append(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    h.remove(header::CONTENT_LENGTH);
    *resp.body_mut() = zipped.into();
    resp
}
