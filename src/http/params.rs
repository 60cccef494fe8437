//! Query-string parsing with errors that name the parameter, and the limits on
//! everything a client controls.

use chrono::NaiveDate;

use super::problem::Problem;
use crate::atlas::Atlas;
use crate::model::LonLat;
use crate::query::filter::{Bbox, DateBound, EventFilter, parse_date_bound};
use crate::query::{Near, places};

/// Caps on client-controlled sizes (stated in the README).
pub mod limits {
    pub const MAX_LIMIT: usize = 10_000;
    pub const DEFAULT_LIMIT: usize = 100;
    pub const MAX_RADIUS_KM: f64 = 1_000.0;
    pub const DEFAULT_RADIUS_KM: f64 = 50.0;
    pub const MAX_BBOX_AREA_DEG2: f64 = 3_600.0;
    pub const MAX_K: usize = 1_000;
    pub const MAX_TEXT_LEN: usize = 200;
    pub const MAX_LIST_ITEMS: usize = 20;
    pub const MAX_QUERY_LEN: usize = 8_192;
}
use limits::*;

/// The filter parameters every event endpoint accepts.
pub const FILTER_PARAMS: &[&str] = &[
    "from",
    "to",
    "type",
    "actor",
    "min_fatalities",
    "region",
    "bbox",
];

/// A parsed query string, checked against the parameters an endpoint accepts so that a
/// typo (`radius=50`) is an error instead of a silently ignored filter.
pub struct Params {
    pairs: Vec<(String, String)>,
}

impl Params {
    pub fn parse(raw: &str, allowed: &[&[&str]]) -> Result<Params, Problem> {
        if raw.len() > MAX_QUERY_LEN {
            return Err(Problem::param(
                "query",
                format!("query string is longer than {MAX_QUERY_LEN} bytes"),
            ));
        }
        let mut pairs: Vec<(String, String)> = Vec::new();
        for (k, v) in form_urlencoded::parse(raw.as_bytes()) {
            let known = allowed.iter().flat_map(|a| a.iter()).any(|a| *a == k);
            if !known {
                let mut names: Vec<&str> = allowed.iter().flat_map(|a| a.iter().copied()).collect();
                names.sort_unstable();
                return Err(Problem::param(
                    &k,
                    format!(
                        "unknown parameter; this endpoint accepts: {}",
                        if names.is_empty() {
                            "none".to_string()
                        } else {
                            names.join(", ")
                        }
                    ),
                ));
            }
            if pairs.iter().any(|(pk, _)| *pk == k) {
                return Err(Problem::param(&k, "given more than once"));
            }
            if v.chars().count() > MAX_TEXT_LEN {
                return Err(Problem::param(
                    &k,
                    format!("longer than {MAX_TEXT_LEN} characters"),
                ));
            }
            pairs.push((k.into_owned(), v.into_owned()));
        }
        Ok(Params { pairs })
    }

    /// The trimmed value, `None` when absent; present-but-empty is an error.
    pub fn str(&self, name: &str) -> Result<Option<&str>, Problem> {
        match self.pairs.iter().find(|(k, _)| k == name) {
            None => Ok(None),
            Some((_, v)) if v.trim().is_empty() => Err(Problem::param(name, "is empty")),
            Some((_, v)) => Ok(Some(v.trim())),
        }
    }

    pub fn has(&self, name: &str) -> bool {
        self.pairs.iter().any(|(k, _)| k == name)
    }

    pub fn f64_in(&self, name: &str, min: f64, max: f64) -> Result<Option<f64>, Problem> {
        let Some(raw) = self.str(name)? else {
            return Ok(None);
        };
        let v: f64 = raw
            .parse()
            .ok()
            .filter(|v: &f64| v.is_finite())
            .ok_or_else(|| Problem::param(name, format!("{raw:?} is not a number")))?;
        if v < min || v > max {
            return Err(Problem::param(
                name,
                format!("{v} is outside the allowed range {min}..{max}"),
            ));
        }
        Ok(Some(v))
    }

    pub fn uint_in(&self, name: &str, min: u64, max: u64) -> Result<Option<u64>, Problem> {
        let Some(raw) = self.str(name)? else {
            return Ok(None);
        };
        let v: u64 = raw.parse().map_err(|_| {
            Problem::param(
                name,
                format!("{raw:?} is not a whole number of zero or more"),
            )
        })?;
        if v < min || v > max {
            return Err(Problem::param(
                name,
                format!("{v} is outside the allowed range {min}..{max}"),
            ));
        }
        Ok(Some(v))
    }

    pub fn bool(&self, name: &str) -> Result<bool, Problem> {
        match self.str(name)? {
            None | Some("false") | Some("0") => Ok(false),
            Some("true") | Some("1") => Ok(true),
            Some(v) => Err(Problem::param(name, format!("{v:?} is not true or false"))),
        }
    }

    /// `name=a,b,c` as a list of non-empty trimmed items.
    pub fn list(&self, name: &str) -> Result<Vec<String>, Problem> {
        let Some(raw) = self.str(name)? else {
            return Ok(Vec::new());
        };
        let items: Vec<String> = raw
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
        if items.len() > MAX_LIST_ITEMS {
            return Err(Problem::param(
                name,
                format!("more than {MAX_LIST_ITEMS} items"),
            ));
        }
        Ok(items)
    }

    pub fn date(&self, name: &str, bound: DateBound) -> Result<Option<NaiveDate>, Problem> {
        let Some(raw) = self.str(name)? else {
            return Ok(None);
        };
        parse_date_bound(raw, bound).map(Some).ok_or_else(|| {
            Problem::param(
                name,
                format!("{raw:?} is not a date (YYYY-MM-DD, YYYY-MM or YYYY)"),
            )
        })
    }

    /// `bbox=west,south,east,north` in degrees; `west > east` crosses the antimeridian.
    /// At most `MAX_BBOX_AREA_DEG2`.
    pub fn bbox(&self, name: &str) -> Result<Option<Bbox>, Problem> {
        self.bbox_within(name, Some(MAX_BBOX_AREA_DEG2))
    }

    /// Like [`Params::bbox`] with an optional area cap; also takes the six-number 3D form
    /// (`west,south,min_z,east,north,max_z`, heights ignored) OGC API clients may send.
    pub fn bbox_within(&self, name: &str, max_area: Option<f64>) -> Result<Option<Bbox>, Problem> {
        let Some(raw) = self.str(name)? else {
            return Ok(None);
        };
        let bad = |why: String| Problem::param(name, why);
        let v: Vec<f64> = raw
            .split(',')
            .map(|s| s.trim().parse::<f64>().ok().filter(|x| x.is_finite()))
            .collect::<Option<_>>()
            .ok_or_else(|| bad(format!("{raw:?} is not four numbers west,south,east,north")))?;
        let (west, south, east, north) = match v[..] {
            [w, s, e, n] => (w, s, e, n),
            [w, s, _, e, n, _] => (w, s, e, n),
            _ => {
                return Err(bad(format!(
                    "{raw:?} has {} numbers; expected four: west,south,east,north",
                    v.len()
                )));
            }
        };
        if !(-180.0..=180.0).contains(&west) || !(-180.0..=180.0).contains(&east) {
            return Err(bad("longitudes must be within -180..180".into()));
        }
        if !(-90.0..=90.0).contains(&south) || !(-90.0..=90.0).contains(&north) {
            return Err(bad("latitudes must be within -90..90".into()));
        }
        if south > north {
            return Err(bad(format!("south {south} is north of north {north}")));
        }
        let b = Bbox {
            west,
            south,
            east,
            north,
        };
        let area = b.width() * b.height();
        if let Some(max) = max_area
            && area > max
        {
            return Err(bad(format!(
                "covers {area:.0} square degrees; the limit is {max:.0} (omit bbox to search everywhere)"
            )));
        }
        Ok(Some(b))
    }

    /// OGC API `datetime`: an instant (`2018-03-01`, `2018-03-01T10:00:00Z`) or an
    /// interval `start/end` with `..` or nothing for an open end. Returns the first and
    /// last day included (events carry days, not times).
    pub fn datetime(&self, name: &str) -> Result<(Option<NaiveDate>, Option<NaiveDate>), Problem> {
        let Some(raw) = self.str(name)? else {
            return Ok((None, None));
        };
        let bad = || {
            Problem::param(
                name,
                format!(
                    "{raw:?} is not an RFC 3339 date, date-time or interval (2018-01-01, 2018-01-01T00:00:00Z, 2018-01-01/2018-12-31, ../2018-12-31)"
                ),
            )
        };
        let day = |s: &str| -> Result<Option<NaiveDate>, Problem> {
            let s = s.trim();
            if s.is_empty() || s == ".." {
                return Ok(None);
            }
            if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
                return Ok(Some(d));
            }
            chrono::DateTime::parse_from_rfc3339(s)
                .map(|t| Some(t.naive_utc().date()))
                .map_err(|_| bad())
        };
        let (from, to) = match raw.split_once('/') {
            None => {
                let d = day(raw)?.ok_or_else(bad)?;
                (Some(d), Some(d))
            }
            Some((a, b)) => (day(a)?, day(b)?),
        };
        if let (Some(f), Some(t)) = (from, to)
            && f > t
        {
            return Err(Problem::param(
                name,
                format!("the interval starts ({f}) after it ends ({t})"),
            ));
        }
        Ok((from, to))
    }

    /// `limit` and `offset`.
    pub fn page(&self, default_limit: usize, max_limit: usize) -> Result<Page, Problem> {
        Ok(Page {
            limit: self
                .uint_in("limit", 0, max_limit as u64)?
                .map_or(default_limit, |v| v as usize),
            offset: self
                .uint_in("offset", 0, u32::MAX as u64)?
                .map_or(0, |v| v as usize),
        })
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Page {
    pub limit: usize,
    pub offset: usize,
}

impl Page {
    pub fn slice<'a, T>(&self, items: &'a [T]) -> &'a [T] {
        let start = self.offset.min(items.len());
        let end = start.saturating_add(self.limit).min(items.len());
        &items[start..end]
    }
}

/// The shared event filters (see [`FILTER_PARAMS`]).
pub fn event_filter(p: &Params, atlas: &Atlas) -> Result<EventFilter, Problem> {
    let from = p.date("from", DateBound::Start)?;
    let to = p.date("to", DateBound::End)?;
    if let (Some(f), Some(t)) = (from, to)
        && f > t
    {
        return Err(Problem::param("from", format!("{f} is after to={t}")));
    }
    let region = match p.str("region")? {
        None => None,
        Some(r) => Some(atlas.region_index(r).ok_or_else(|| {
            let known: Vec<String> = atlas
                .regions
                .iter()
                .map(|r| format!("{} ({})", r.id, r.name))
                .collect();
            Problem::param(
                "region",
                format!("unknown region {r:?}; known: {}", known.join(", ")),
            )
        })?),
    };
    Ok(EventFilter {
        from,
        to,
        types: p.list("type")?,
        actor: p.str("actor")?.map(str::to_string),
        min_fatalities: p
            .uint_in("min_fatalities", 0, u32::MAX as u64)?
            .map(|v| v as u32),
        region,
        bbox: p.bbox("bbox")?,
        equals: Vec::new(),
    })
}

/// A point given as `lon` + `lat`.
pub fn lon_lat(p: &Params) -> Result<Option<LonLat>, Problem> {
    match (
        p.f64_in("lon", -180.0, 180.0)?,
        p.f64_in("lat", -90.0, 90.0)?,
    ) {
        (Some(lon), Some(lat)) => Ok(Some(LonLat::new(lon, lat))),
        (None, None) => Ok(None),
        (Some(_), None) => Err(Problem::param("lat", "is required with lon")),
        (None, Some(_)) => Err(Problem::param("lon", "is required with lat")),
    }
}

/// The centre of a radius search: `near=<place name>` or `lon=&lat=`, with `radius_km`.
/// Returns the resolved place's index when `near` named one.
pub fn near(p: &Params, atlas: &Atlas) -> Result<Option<(Near, Option<usize>)>, Problem> {
    let point = lon_lat(p)?;
    let radius = p.f64_in("radius_km", 0.0, MAX_RADIUS_KM)?;
    let (center, place) = match (p.str("near")?, point) {
        (Some(_), Some(_)) => {
            return Err(Problem::param(
                "near",
                "give either near=<place> or lon= and lat=, not both",
            ));
        }
        (Some(name), None) => {
            let i = places::resolve(atlas, name).map_err(|suggestions| {
                Problem::not_found(format!("no place called {name:?} in the gazetteer"))
                    .with("parameter", "near".into())
                    .with("suggestions", serde_json::json!(suggestions))
            })?;
            (atlas.places[i].pos, Some(i))
        }
        (None, Some(pt)) => (pt, None),
        (None, None) => {
            if radius.is_some() {
                return Err(Problem::param(
                    "radius_km",
                    "needs a centre: near=<place> or lon= and lat=",
                ));
            }
            return Ok(None);
        }
    };
    Ok(Some((
        Near {
            center,
            radius_km: radius.unwrap_or(DEFAULT_RADIUS_KM),
        },
        place,
    )))
}
