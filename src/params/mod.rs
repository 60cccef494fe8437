//! Query and path parameters as types: the query-string language of the HTTP API and of
//! `export tiles --filter`, below `http` so that the command line does not go through it.
//! Each endpoint's parameters are one struct of
//! groups (`queries`), each group a struct of typed values (`groups`, `values`); one
//! function, [`parse`], reads a query string into such a struct, and every failure names
//! the parameter. The same types generate the OpenAPI parameters (`utoipa::IntoParams`),
//! so what is documented is what is enforced.

pub mod analysis;
mod de;
pub mod fields;
pub mod groups;
pub mod limits;
pub mod queries;
pub mod values;

use fields::ParamFields;
use serde::de::DeserializeOwned;

#[cfg(doc)]
use limits::MAX_TEXT_LEN;

/// A parameter that cannot be read; `parameter` is filled in by the deserializer.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{}: {detail}", parameter.as_deref().unwrap_or("query"))]
pub struct ParamError {
    pub parameter: Option<String>,
    pub detail: String,
}

/// Why parameters cannot be answered, as the layer above turns it into a response: a
/// value that does not read (400), values that each read but together cannot be
/// answered (422), or a name the data does not know.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Rejected {
    /// A value that does not read (400).
    #[error(transparent)]
    Invalid(#[from] ParamError),
    /// Values each valid that break a rule a schema cannot state (422).
    #[error("{parameter}: {detail}")]
    Unprocessable {
        /// The parameter at fault.
        parameter: &'static str,
        /// What is wrong.
        detail: String,
    },
    /// A place or region the data does not know.
    #[error(transparent)]
    Query(#[from] crate::query::QueryError),
}

impl Rejected {
    /// 422 naming `parameter`.
    pub fn unprocessable(parameter: &'static str, detail: impl Into<String>) -> Rejected {
        Rejected::Unprocessable {
            parameter,
            detail: detail.into(),
        }
    }
}

impl ParamError {
    pub fn invalid(parameter: &str, detail: impl Into<String>) -> ParamError {
        ParamError {
            parameter: Some(parameter.to_string()),
            detail: detail.into(),
        }
    }

    /// Names the parameter, unless a nested value already did.
    fn named(mut self, parameter: &str) -> ParamError {
        self.parameter.get_or_insert_with(|| parameter.to_string());
        self
    }
}

impl serde::de::Error for ParamError {
    fn custom<T: std::fmt::Display>(msg: T) -> Self {
        ParamError {
            parameter: None,
            detail: msg.to_string(),
        }
    }

    fn unknown_variant(variant: &str, expected: &'static [&'static str]) -> Self {
        Self::custom(format!("{variant:?} is not one of {}", expected.join(", ")))
    }
}

/// Reads `raw` (a query string without `?`) into `T`.
///
/// Refused before `T` sees them (the router has refused a query string over
/// [`limits::MAX_QUERY_LEN`] bytes already): a name `T` does not accept (the error lists those it does), a name given twice, an empty value.
/// Values are trimmed; a value (or list item) over [`MAX_TEXT_LEN`] characters is refused
/// as it is read.
///
/// # Errors
/// A [`ParamError`] naming the parameter, for the first problem found.
pub fn parse<T: DeserializeOwned + ParamFields>(raw: &str) -> Result<T, ParamError> {
    // The names serde reads (static slices: nothing is built per request); a test holds
    // them equal to the documented ones.
    let accepted = T::fields();
    let pairs = pairs(raw, &accepted)?;
    T::deserialize(de::of_pairs(&pairs))
}

/// The event filter a tile URL's query string (`from=2018&type=Battles`) asks for,
/// resolved against `atlas` as `/tiles` resolves it: what `export tiles --filter` takes.
///
/// # Errors
/// What is wrong, naming the parameter.
pub fn tile_filter(
    raw: &str,
    atlas: &crate::atlas::Atlas,
) -> Result<crate::query::filter::EventFilter, Rejected> {
    let query: queries::TileQuery = parse(raw)?;
    query.filter.resolve(atlas, None)
}

/// Reads path segments captured by the router (name, value) into `T`.
///
/// # Errors
/// A [`ParamError`] naming the segment.
pub fn parse_path<T: DeserializeOwned>(captured: &[(String, String)]) -> Result<T, ParamError> {
    T::deserialize(de::of_pairs(captured))
}

fn pairs(raw: &str, accepted: &[&str]) -> Result<Vec<(String, String)>, ParamError> {
    let mut pairs: Vec<(String, String)> = Vec::new();
    for (k, v) in form_urlencoded::parse(raw.as_bytes()) {
        if !accepted.iter().any(|a| *a == k) {
            let mut names: Vec<&str> = accepted.to_vec();
            names.sort_unstable();
            let list = if names.is_empty() {
                "none".to_string()
            } else {
                names.join(", ")
            };
            return Err(ParamError::invalid(
                &k,
                format!("unknown parameter; this endpoint accepts: {list}"),
            ));
        }
        if pairs.iter().any(|(pk, _)| *pk == k) {
            return Err(ParamError::invalid(&k, "given more than once"));
        }
        let v = v.trim();
        if v.is_empty() {
            return Err(ParamError::invalid(&k, "is empty"));
        }
        pairs.push((k.into_owned(), v.to_string()));
    }
    Ok(pairs)
}
