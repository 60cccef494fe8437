//! Errors as RFC 9457 `application/problem+json`: every failure a client can cause is
//! one of these, with the offending parameter named. Errors of the layers below convert
//! here once (`impl From<…> for Problem`).

use serde_json::{Map, Value, json};
use utoipa::ToSchema;
use warp::http::{HeaderValue, StatusCode, header};
use warp::reply::Response;

use crate::params::{ParamError, Rejected};

/// What went wrong, as a client sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProblemKind {
    /// A value is malformed or outside its documented range (400).
    InvalidParameter,
    /// Each value is well formed, but together (or against the data) they cannot be
    /// answered: rules the OpenAPI schema cannot state (422).
    UnprocessableParameters,
    /// No such resource (404).
    NotFound,
    /// A method the resource does not answer (405).
    MethodNotAllowed,
    /// No or a wrong write key (401, with `WWW-Authenticate: Bearer`).
    Unauthorized,
    /// Writes are not enabled on this server (403).
    WritesDisabled,
    /// A request body over the limit (413).
    TooLarge,
    /// A `Range` outside the file (416).
    RangeNotSatisfiable,
    /// A query string over the limit (414).
    UriTooLong,
    /// Request headers over the limit (431).
    HeadersTooLarge,
    /// A body in a format we do not read (415).
    UnsupportedMediaType,
    /// Records that cannot be stored, each listed in `errors` (422).
    InvalidRecords,
    /// The data files could not be reloaded; the previous data serves on (422).
    ReloadFailed,
    /// Something needed to answer is missing on the server (503).
    Unavailable,
    /// Too many expensive requests at once: shed, retry later (503, with `Retry-After`).
    Overloaded,
    /// A fault of the server (500); never for bad input.
    Internal,
}

impl ProblemKind {
    /// The HTTP status of this kind of problem.
    pub fn status(self) -> StatusCode {
        match self {
            ProblemKind::InvalidParameter => StatusCode::BAD_REQUEST,
            ProblemKind::UnprocessableParameters => StatusCode::UNPROCESSABLE_ENTITY,
            ProblemKind::NotFound => StatusCode::NOT_FOUND,
            ProblemKind::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ProblemKind::Unauthorized => StatusCode::UNAUTHORIZED,
            ProblemKind::WritesDisabled => StatusCode::FORBIDDEN,
            ProblemKind::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ProblemKind::RangeNotSatisfiable => StatusCode::RANGE_NOT_SATISFIABLE,
            ProblemKind::UriTooLong => StatusCode::URI_TOO_LONG,
            ProblemKind::HeadersTooLarge => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            ProblemKind::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ProblemKind::InvalidRecords | ProblemKind::ReloadFailed => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            ProblemKind::Unavailable | ProblemKind::Overloaded => StatusCode::SERVICE_UNAVAILABLE,
            ProblemKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The last part of the problem's `type` URI.
    pub fn slug(self) -> &'static str {
        match self {
            ProblemKind::InvalidParameter => "invalid-parameter",
            ProblemKind::UnprocessableParameters => "unprocessable-parameters",
            ProblemKind::NotFound => "not-found",
            ProblemKind::MethodNotAllowed => "method-not-allowed",
            ProblemKind::Unauthorized => "unauthorized",
            ProblemKind::WritesDisabled => "writes-disabled",
            ProblemKind::TooLarge => "too-large",
            ProblemKind::RangeNotSatisfiable => "range-not-satisfiable",
            ProblemKind::UriTooLong => "uri-too-long",
            ProblemKind::HeadersTooLarge => "headers-too-large",
            ProblemKind::UnsupportedMediaType => "unsupported-media-type",
            ProblemKind::InvalidRecords => "invalid-records",
            ProblemKind::ReloadFailed => "reload-failed",
            ProblemKind::Unavailable => "unavailable",
            ProblemKind::Overloaded => "overloaded",
            ProblemKind::Internal => "internal",
        }
    }

    /// The problem's title, the same for every problem of this kind.
    pub fn title(self) -> &'static str {
        match self {
            ProblemKind::InvalidParameter => "Invalid query parameter",
            ProblemKind::UnprocessableParameters => "Parameters cannot be answered as given",
            ProblemKind::NotFound => "Not found",
            ProblemKind::MethodNotAllowed => "Method not allowed",
            ProblemKind::Unauthorized => "Write key missing or wrong",
            ProblemKind::WritesDisabled => "Writes are not enabled",
            ProblemKind::TooLarge => "Request body too large",
            ProblemKind::RangeNotSatisfiable => "Range not satisfiable",
            ProblemKind::UriTooLong => "Query string too long",
            ProblemKind::HeadersTooLarge => "Request headers too large",
            ProblemKind::UnsupportedMediaType => "Unsupported media type",
            ProblemKind::InvalidRecords => "Records cannot be stored",
            ProblemKind::ReloadFailed => "Data files cannot be reloaded",
            ProblemKind::Unavailable => "Service unavailable",
            ProblemKind::Overloaded => "Too many expensive requests",
            ProblemKind::Internal => "Internal error",
        }
    }
}

/// The body of every error response (documented in the OpenAPI document).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ProblemBody {
    /// `urn:sahel-atlas:problem:<kind>`
    #[schema(rename = "type")]
    kind: String,
    title: String,
    status: u16,
    detail: String,
    /// The query or path parameter at fault, when there is one.
    parameter: Option<String>,
}

/// Seconds a shed client is told to wait (`Retry-After`).
pub const RETRY_AFTER_SECS: u64 = 1;

/// An error answer: `application/problem+json` with the kind's type, title and status.
#[derive(Debug, Clone)]
pub struct Problem {
    /// What kind of problem.
    pub kind: ProblemKind,
    /// What exactly went wrong, for a person.
    pub detail: String,
    /// Extension members (`parameter`, `suggestions`, ...).
    pub extra: Vec<(&'static str, Value)>,
}

impl Problem {
    /// A problem of `kind` with `detail`.
    pub fn new(kind: ProblemKind, detail: impl Into<String>) -> Self {
        Problem {
            kind,
            detail: detail.into(),
            extra: Vec::new(),
        }
    }

    /// 400 for a parameter that is malformed, out of range or not allowed here.
    pub fn param(name: &str, detail: impl Into<String>) -> Self {
        Problem::about(ProblemKind::InvalidParameter, name, detail)
    }

    /// 422 for a parameter that breaks a rule its schema cannot state.
    pub fn unprocessable(name: &str, detail: impl Into<String>) -> Self {
        Problem::about(ProblemKind::UnprocessableParameters, name, detail)
    }

    fn about(kind: ProblemKind, name: &str, detail: impl Into<String>) -> Self {
        Problem::new(kind, format!("{name}: {}", detail.into())).with("parameter", json!(name))
    }

    /// 404 with `detail`.
    pub fn not_found(detail: impl Into<String>) -> Self {
        Problem::new(ProblemKind::NotFound, detail)
    }

    /// 500 with `detail`.
    pub fn internal(detail: impl Into<String>) -> Self {
        Problem::new(ProblemKind::Internal, detail)
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.kind.status()
    }

    /// Adds the extension member `key`.
    pub fn with(mut self, key: &'static str, value: Value) -> Self {
        self.extra.retain(|(k, _)| *k != key);
        self.extra.push((key, value));
        self
    }

    /// The problem as a response.
    pub fn into_response(self) -> Response {
        let status = self.status();
        let mut body = Map::new();
        body.insert(
            "type".into(),
            json!(format!("urn:sahel-atlas:problem:{}", self.kind.slug())),
        );
        body.insert("title".into(), json!(self.kind.title()));
        body.insert("status".into(), json!(status.as_u16()));
        body.insert("detail".into(), json!(self.detail));
        body.extend(self.extra.into_iter().map(|(k, v)| (k.to_string(), v)));
        let bytes = serde_json::to_vec(&Value::Object(body)).unwrap_or_default();
        let mut resp = Response::new(bytes.into());
        *resp.status_mut() = status;
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        let h = resp.headers_mut();
        match self.kind {
            ProblemKind::Unauthorized => {
                h.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"sahel-atlas\""),
                );
            }
            ProblemKind::Overloaded => {
                h.insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
            }
            _ => {}
        }
        resp
    }
}

impl From<crate::live::WriteError> for Problem {
    fn from(e: crate::live::WriteError) -> Self {
        use crate::live::WriteError;
        match e {
            WriteError::UnknownEvent(_) => Problem::not_found(e.to_string()),
            // The store's own words go to the log; the client learns nothing was kept.
            WriteError::Store(store) => {
                tracing::error!("store: {store}");
                Problem::new(
                    ProblemKind::Unavailable,
                    "the event store failed; nothing was stored",
                )
            }
        }
    }
}

impl From<Rejected> for Problem {
    fn from(e: Rejected) -> Self {
        match e {
            Rejected::Invalid(e) => Problem::from(e),
            Rejected::Unprocessable { parameter, detail } => {
                Problem::unprocessable(parameter, detail)
            }
            Rejected::Query(e) => Problem::from(e),
        }
    }
}

impl From<ParamError> for Problem {
    fn from(e: ParamError) -> Self {
        match e.parameter {
            Some(name) => Problem::param(&name, e.detail),
            None => Problem::param("query", e.detail),
        }
    }
}

impl From<crate::query::QueryError> for Problem {
    fn from(e: crate::query::QueryError) -> Self {
        use crate::query::QueryError;
        let detail = e.to_string();
        match e {
            QueryError::UnknownPlace { suggestions, .. } => Problem::not_found(detail)
                .with("parameter", json!("near"))
                .with("suggestions", json!(suggestions)),
            QueryError::UnknownRegion { key, known } => Problem::param(
                "region",
                format!("unknown region {key:?}; known: {}", known.join(", ")),
            ),
        }
    }
}

impl From<crate::tiles::TileError> for Problem {
    fn from(e: crate::tiles::TileError) -> Self {
        use crate::tiles::TileError;
        match e {
            TileError::OutsideGrid { axis, .. } => Problem::unprocessable(axis, e.to_string()),
        }
    }
}
