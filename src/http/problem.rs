//! Errors as RFC 9457 `application/problem+json`: every failure a client can cause is
//! one of these, with the offending parameter named.

use serde_json::{Map, Value, json};
use warp::http::StatusCode;
use warp::reply::Response;

#[derive(Debug, Clone)]
pub struct Problem {
    pub status: StatusCode,
    /// Short machine-readable kind, e.g. `invalid-parameter`.
    pub kind: &'static str,
    pub title: &'static str,
    pub detail: String,
    /// Extension members (`parameter`, `suggestions`, ...).
    pub extra: Vec<(&'static str, Value)>,
}

impl Problem {
    pub fn new(
        status: StatusCode,
        kind: &'static str,
        title: &'static str,
        detail: String,
    ) -> Self {
        Problem {
            status,
            kind,
            title,
            detail,
            extra: Vec::new(),
        }
    }

    /// 400 for a parameter that is malformed, out of range or not allowed here.
    pub fn param(name: &str, detail: impl Into<String>) -> Self {
        let mut p = Problem::new(
            StatusCode::BAD_REQUEST,
            "invalid-parameter",
            "Invalid query parameter",
            format!("{name}: {}", detail.into()),
        );
        p.extra.push(("parameter", json!(name)));
        p
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Problem::new(
            StatusCode::NOT_FOUND,
            "not-found",
            "Not found",
            detail.into(),
        )
    }

    pub fn with(mut self, key: &'static str, value: Value) -> Self {
        self.extra.retain(|(k, _)| *k != key);
        self.extra.push((key, value));
        self
    }

    pub fn into_response(self) -> Response {
        let mut body = Map::new();
        body.insert(
            "type".into(),
            json!(format!("urn:sahel-atlas:problem:{}", self.kind)),
        );
        body.insert("title".into(), json!(self.title));
        body.insert("status".into(), json!(self.status.as_u16()));
        body.insert("detail".into(), json!(self.detail));
        body.extend(self.extra.into_iter().map(|(k, v)| (k.to_string(), v)));
        let bytes = serde_json::to_vec(&Value::Object(body)).unwrap_or_default();
        let mut resp = Response::new(bytes.into());
        *resp.status_mut() = self.status;
        resp.headers_mut().insert(
            warp::http::header::CONTENT_TYPE,
            warp::http::HeaderValue::from_static("application/problem+json"),
        );
        resp
    }
}
