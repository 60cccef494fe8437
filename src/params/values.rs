//! The values a parameter can hold, each read from text by one function and documented by
//! one JSON Schema, so the OpenAPI document states exactly the rules that are enforced.
//! Rules a schema cannot state (a box's latitudes, two parameters that must go together)
//! are checked where the values are resolved (`groups`), and answer 422.

use std::marker::PhantomData;
use std::str::FromStr;

use chrono::NaiveDate;
use serde::{Deserialize, Deserializer};
use utoipa::ToSchema;
use utoipa::openapi::{ArrayBuilder, ObjectBuilder, RefOr, Schema, SchemaType};

use super::limits::*;
use crate::query::filter::{DateBound, parse_date_bound};
use crate::query::stats::GroupBy;

/// Why a parameter's text is not a value of its kind (the deserializer adds the
/// parameter's name). Each message quotes the text as sent.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ValueError {
    #[error("{0:?} is not a date (YYYY-MM-DD, YYYY-MM or YYYY)")]
    Date(String),
    #[error(
        "{0:?} is not an RFC 3339 date, date-time or interval (2018-01-01, 2018-01-01T00:00:00Z, 2018-01-01/2018-12-31, ../2018-12-31)"
    )]
    Interval(String),
    #[error("{0:?} is not four numbers west,south,east,north")]
    BboxNumbers(String),
    #[error("{raw:?} has {count} numbers; expected four: west,south,east,north")]
    BboxCount { raw: String, count: usize },
    #[error(
        "{0:?} is not a glyph range like 0-255 (start a multiple of 256, end = start + 255, up to 65535)"
    )]
    GlyphRange(String),
    #[error("{raw:?} is not one of {allowed}")]
    NotOneOf { raw: String, allowed: String },
    #[error("{0:?} is not a whole number of zero or more")]
    NotWhole(String),
    #[error("{0:?} is not a number")]
    NotNumber(String),
    #[error("{value} is outside the allowed range {min}..{max}")]
    OutOfRange {
        value: String,
        min: String,
        max: String,
    },
}

/// A value read from one parameter's text.
pub trait ParamValue: Sized {
    /// # Errors
    /// Why the text is not a value of this kind.
    fn parse(raw: &str) -> Result<Self, ValueError>;
    fn schema() -> Schema;
}

/// Reads a [`ParamValue`] inside the deserializer, so that its error names the parameter.
struct ParseVisitor<T>(PhantomData<T>);

impl<T: ParamValue> serde::de::Visitor<'_> for ParseVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a parameter value")
    }

    fn visit_str<E: serde::de::Error>(self, raw: &str) -> Result<T, E> {
        T::parse(raw).map_err(E::custom)
    }
}

/// Implements `Deserialize` (from the text) and `ToSchema` for [`ParamValue`]s.
macro_rules! param_value {
    ($($t:ty),+ $(,)?) => {$(
        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                d.deserialize_str(ParseVisitor::<$t>(PhantomData))
            }
        }
        impl<'s> ToSchema<'s> for $t {
            fn schema() -> (&'s str, RefOr<Schema>) {
                (stringify!($t), <$t as ParamValue>::schema().into())
            }
        }
    )+};
}

/// A non-blank string of at most [`MAX_TEXT_LEN`] characters.
#[derive(Debug, Clone, PartialEq)]
pub struct Text(pub String);

impl ParamValue for Text {
    fn parse(raw: &str) -> Result<Self, ValueError> {
        Ok(Text(raw.to_string()))
    }

    fn schema() -> Schema {
        text_schema().into()
    }
}

fn text_schema() -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(SchemaType::String)
        .min_length(Some(1))
        .max_length(Some(MAX_TEXT_LEN))
        .pattern(Some(r"[^\s]"))
}

/// One item of a comma list (`type=Battles,Riots`): non-blank, without commas.
#[derive(Debug, Clone, PartialEq)]
pub struct ListItem(pub String);

impl ParamValue for ListItem {
    fn parse(raw: &str) -> Result<Self, ValueError> {
        Ok(ListItem(raw.to_string()))
    }

    fn schema() -> Schema {
        ObjectBuilder::new()
            .schema_type(SchemaType::String)
            .min_length(Some(1))
            .max_length(Some(MAX_TEXT_LEN))
            .pattern(Some(r"^[^,]*[^,\s][^,]*$"))
            .into()
    }
}

/// A region as a client names it: ISO code or name, case and accents ignored. Its schema
/// carries the format [`REGION_FORMAT`]; the OpenAPI document replaces it with the loaded
/// regions' codes and names.
#[derive(Debug, Clone, PartialEq)]
pub struct RegionKey(pub String);

pub const REGION_FORMAT: &str = "sahel-region";

impl ParamValue for RegionKey {
    fn parse(raw: &str) -> Result<Self, ValueError> {
        Ok(RegionKey(raw.to_string()))
    }

    fn schema() -> Schema {
        text_schema()
            .format(Some(utoipa::openapi::SchemaFormat::Custom(
                REGION_FORMAT.to_string(),
            )))
            .into()
    }
}

/// Calendar days: `YYYY-MM-DD` with the right number of days in each month.
const DAY: &str = "([0-9]{4}-(0[13578]|1[02])-(0[1-9]|[12][0-9]|3[01])\
|[0-9]{4}-(0[469]|11)-(0[1-9]|[12][0-9]|30)\
|[0-9]{4}-02-(0[1-9]|1[0-9]|2[0-8])\
|([0-9]{2}(0[48]|[2468][048]|[13579][26])|([02468][048]|[13579][26])00)-02-29)";

/// `YYYY`, `YYYY-MM` or `YYYY-MM-DD`.
fn partial_date_pattern() -> String {
    format!("^([0-9]{{4}}|[0-9]{{4}}-(0[1-9]|1[0-2])|{DAY})$")
}

/// The first day of a year, month or day (`from`): `2018` means 2018-01-01.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DateStart(pub NaiveDate);

/// The last day of a year, month or day (`to`): `2018` means 2018-12-31.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DateEnd(pub NaiveDate);

fn partial_date(raw: &str, bound: DateBound) -> Result<NaiveDate, ValueError> {
    parse_date_bound(raw, bound).ok_or_else(|| ValueError::Date(raw.to_string()))
}

fn date_schema() -> Schema {
    ObjectBuilder::new()
        .schema_type(SchemaType::String)
        .pattern(Some(partial_date_pattern()))
        .into()
}

impl ParamValue for DateStart {
    fn parse(raw: &str) -> Result<Self, ValueError> {
        partial_date(raw, DateBound::Start).map(DateStart)
    }

    fn schema() -> Schema {
        date_schema()
    }
}

impl ParamValue for DateEnd {
    fn parse(raw: &str) -> Result<Self, ValueError> {
        partial_date(raw, DateBound::End).map(DateEnd)
    }

    fn schema() -> Schema {
        date_schema()
    }
}

/// OGC API `datetime`: an instant (`2018-03-01`, `2018-03-01T10:00:00Z`) or an interval
/// `start/end`, an open end written `..` or left empty. Holds the first and last day
/// included (events carry days, not times); whether the interval runs forward is checked
/// where it is resolved.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Interval {
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
}

/// The time of an RFC 3339 date-time, after its date.
const TIME: &str = "[Tt ]([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\\.[0-9]+)?([Zz]|[+-]([01][0-9]|2[0-3]):[0-5][0-9])";

/// An RFC 3339 date or date-time, as its day (in UTC for a date-time).
fn instant(s: &str) -> Option<NaiveDate> {
    if s.len() == 10 {
        return s
            .split('-')
            .count()
            .eq(&3)
            .then(|| parse_date_bound(s, DateBound::Start))
            .flatten();
    }
    // The date part must be exactly YYYY-MM-DD, which chrono alone would not insist on.
    parse_date_bound(s.get(..10)?, DateBound::Start)?;
    chrono::DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.naive_utc().date())
}

impl ParamValue for Interval {
    fn parse(raw: &str) -> Result<Self, ValueError> {
        let bad = || ValueError::Interval(raw.to_string());
        let end = |s: &str| -> Result<Option<NaiveDate>, ValueError> {
            match s {
                "" | ".." => Ok(None),
                s => instant(s).map(Some).ok_or_else(bad),
            }
        };
        match raw.split_once('/') {
            None => {
                let day = instant(raw).ok_or_else(bad)?;
                Ok(Interval {
                    from: Some(day),
                    to: Some(day),
                })
            }
            Some((a, b)) => Ok(Interval {
                from: end(a)?,
                to: end(b)?,
            }),
        }
    }

    fn schema() -> Schema {
        let one = format!("{DAY}({TIME})?");
        ObjectBuilder::new()
            .schema_type(SchemaType::String)
            .pattern(Some(format!("^({one}|({one}|\\.\\.)?/({one}|\\.\\.)?)$")))
            .into()
    }
}

/// `west,south,east,north` in degrees; `N6` also takes the 3D form
/// `west,south,min_z,east,north,max_z` OGC API clients may send (heights ignored). Only
/// the count and the numbers are checked here: latitudes, order and area in `groups`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BboxNumbers<const N6: bool> {
    /// How many numbers were given: 4 or 6, or 5, which is refused when resolved.
    pub given: usize,
    pub west: f64,
    pub south: f64,
    pub east: f64,
    pub north: f64,
}

impl<const N6: bool> ParamValue for BboxNumbers<N6> {
    fn parse(raw: &str) -> Result<Self, ValueError> {
        let v: Vec<f64> = raw
            .split(',')
            .map(|s| s.trim().parse::<f64>().ok().filter(|x| x.is_finite()))
            .collect::<Option<_>>()
            .ok_or_else(|| ValueError::BboxNumbers(raw.to_string()))?;
        let (west, south, east, north) = match v[..] {
            [w, s, e, n] => (w, s, e, n),
            [w, s, _, e, n, _] if N6 => (w, s, e, n),
            [w, s, e, n, _] if N6 => (w, s, e, n),
            _ => {
                return Err(ValueError::BboxCount {
                    raw: raw.to_string(),
                    count: v.len(),
                });
            }
        };
        Ok(BboxNumbers {
            given: v.len(),
            west,
            south,
            east,
            north,
        })
    }

    /// Four or six numbers; five is refused where the box is resolved (422), since a
    /// schema of OpenAPI 3.0 that clients serialise as a list cannot say "4 or 6".
    fn schema() -> Schema {
        ArrayBuilder::new()
            .items(ObjectBuilder::new().schema_type(SchemaType::Number))
            .min_items(Some(4))
            .max_items(Some(if N6 { 6 } else { 4 }))
            .into()
    }
}

/// A bbox for `/api` (four numbers).
pub type ApiBbox = BboxNumbers<false>;
/// A bbox for OGC API (four or six numbers).
pub type OgcBbox = BboxNumbers<true>;

/// The glyph range of a `/fonts` URL: `0-255`, `256-511`, ... `65280-65535`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GlyphRange {
    pub start: u32,
}

impl ParamValue for GlyphRange {
    fn parse(raw: &str) -> Result<Self, ValueError> {
        let bad = || ValueError::GlyphRange(raw.to_string());
        let (start, end) = raw.split_once('-').ok_or_else(bad)?;
        let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit()) && !s.is_empty();
        if !digits(start) || !digits(end) {
            return Err(bad());
        }
        let (start, end): (u32, u32) = (
            start.parse().map_err(|_| bad())?,
            end.parse().map_err(|_| bad())?,
        );
        if start % 256 != 0 || end != start + 255 || end > 65535 {
            return Err(bad());
        }
        Ok(GlyphRange { start })
    }

    fn schema() -> Schema {
        let all: Vec<String> = (0..256u32)
            .map(|i| format!("{}-{}", i * 256, i * 256 + 255))
            .collect();
        ObjectBuilder::new()
            .schema_type(SchemaType::String)
            .enum_values(Some(all))
            .into()
    }
}

impl ParamValue for GroupBy {
    fn parse(raw: &str) -> Result<Self, ValueError> {
        GroupBy::by_name(raw).ok_or_else(|| {
            let names: Vec<&str> = GroupBy::ALL.iter().map(|g| g.name()).collect();
            ValueError::NotOneOf {
                raw: raw.to_string(),
                allowed: names.join(", "),
            }
        })
    }

    fn schema() -> Schema {
        ObjectBuilder::new()
            .schema_type(SchemaType::String)
            .enum_values(Some(GroupBy::ALL.iter().map(|g| g.name())))
            .into()
    }
}

/// A period: `2019`, `2019-Q1` or `2019-03` (which form fits is checked against `period`).
#[derive(Debug, Clone, PartialEq)]
pub struct PeriodLabel(pub String);

impl ParamValue for PeriodLabel {
    fn parse(raw: &str) -> Result<Self, ValueError> {
        Ok(PeriodLabel(raw.to_string()))
    }

    fn schema() -> Schema {
        ObjectBuilder::new()
            .schema_type(SchemaType::String)
            .pattern(Some("^[0-9]{4}(-Q[1-4]|-(0[1-9]|1[0-2]))?$"))
            .into()
    }
}

param_value!(
    Text,
    ListItem,
    RegionKey,
    DateStart,
    DateEnd,
    Interval,
    ApiBbox,
    OgcBbox,
    GlyphRange,
    GroupBy,
    PeriodLabel
);

/// The bounds of a numeric parameter.
pub trait Range {
    type Value: FromStr + PartialOrd + Copy + std::fmt::Display + Into<f64>;
    const MIN: Self::Value;
    const MAX: Self::Value;
    /// Whole numbers only.
    const INTEGER: bool;
}

/// A number within `R`'s bounds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct InRange<R: Range>(pub R::Value, PhantomData<R>);

impl<R: Range> InRange<R> {
    pub fn get(self) -> R::Value {
        self.0
    }
}

impl<R: Range> ParamValue for InRange<R> {
    fn parse(raw: &str) -> Result<Self, ValueError> {
        let v: R::Value = raw
            .parse()
            .ok()
            .filter(|v: &R::Value| (*v).into().is_finite())
            .ok_or_else(|| {
                if R::INTEGER {
                    ValueError::NotWhole(raw.to_string())
                } else {
                    ValueError::NotNumber(raw.to_string())
                }
            })?;
        if v < R::MIN || v > R::MAX {
            return Err(ValueError::OutOfRange {
                value: v.to_string(),
                min: R::MIN.to_string(),
                max: R::MAX.to_string(),
            });
        }
        Ok(InRange(v, PhantomData))
    }

    fn schema() -> Schema {
        let kind = if R::INTEGER {
            SchemaType::Integer
        } else {
            SchemaType::Number
        };
        ObjectBuilder::new()
            .schema_type(kind)
            .minimum(Some(R::MIN.into()))
            .maximum(Some(R::MAX.into()))
            .into()
    }
}

impl<'de, R: Range> Deserialize<'de> for InRange<R> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(ParseVisitor::<Self>(PhantomData))
    }
}

impl<'s, R: Range> ToSchema<'s> for InRange<R> {
    fn schema() -> (&'s str, RefOr<Schema>) {
        ("InRange", <Self as ParamValue>::schema().into())
    }
}

/// Declares a [`Range`] marker type and an alias for the values it bounds.
macro_rules! range {
    ($(#[$doc:meta])* $alias:ident = $marker:ident: $t:ty, $min:expr, $max:expr, $integer:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq)]
        pub struct $marker;
        impl Range for $marker {
            type Value = $t;
            const MIN: $t = $min;
            const MAX: $t = $max;
            const INTEGER: bool = $integer;
        }
        $(#[$doc])*
        pub type $alias = InRange<$marker>;
    };
}

range!(/// Degrees east.
    Lon = LonRange: f64, -180.0, 180.0, false);
range!(/// Degrees north.
    Lat = LatRange: f64, -90.0, 90.0, false);
range!(/// A geodesic radius in km.
    RadiusKm = RadiusRange: f64, 0.0, MAX_RADIUS_KM, false);
range!(/// A count of fatalities.
    Fatalities = FatalitiesRange: u32, 0, u32::MAX, true);
range!(/// Items to skip.
    Offset = OffsetRange: u32, 0, u32::MAX, true);
range!(/// Page size of feature lists: at most 10,000 for a page (422 beyond), any for a
    /// download (`f=csv|geojson`).
    Limit = LimitRange: u32, 0, u32::MAX, true);
range!(/// Page size of gazetteer matches.
    PlacesLimit = PlacesLimitRange: u32, 0, MAX_PLACES_LIMIT as u32, true);
range!(/// How many nearest events.
    K = KRange: u32, 1, MAX_K as u32, true);
range!(/// A calendar year.
    Year = YearRange: u32, MIN_YEAR as u32, MAX_YEAR as u32, true);
range!(/// An H3 resolution.
    HexRes = HexResRange: u8, crate::query::hexbins::MIN_RES, crate::query::hexbins::MAX_RES, true);
range!(/// Periods in a trend's baseline.
    BaselinePeriods = BaselineRange: u32, 1, MAX_BASELINE as u32, true);
range!(/// How many hot spots.
    HotspotCount = HotspotRange: u32, 0, MAX_HOTSPOTS as u32, true);
range!(/// A change in events or fatalities.
    MinChange = MinChangeRange: f64, 0.0, 1e9, false);
range!(/// A change sequence number.
    Sequence = SequenceRange: u32, 0, u32::MAX, true);
range!(/// Page size of the change log.
    ChangesLimit = ChangesLimitRange: u32, 1, MAX_CHANGES_LIMIT as u32, true);
range!(/// A zoom level.
    Zoom = ZoomRange: u32, 0, crate::tiles::coord::MAX_ZOOM as u32, true);
range!(/// A tile column or row (below 2^zoom, checked with the zoom).
    TileIndex = TileIndexRange: u32, 0, (1 << crate::tiles::coord::MAX_ZOOM) - 1, true);

#[cfg(test)]
mod tests {
    use super::*;

    fn schema_pattern(schema: Schema) -> regex::Regex {
        let Schema::Object(o) = schema else {
            panic!("not an object schema")
        };
        regex::Regex::new(&o.pattern.expect("a pattern")).expect("valid regex")
    }

    /// Dates and date-times around every month end, leap and century years, and malformed
    /// forms.
    fn date_samples() -> Vec<String> {
        let mut out = Vec::new();
        for y in [0, 1, 1900, 1999, 2000, 2019, 2020, 2024, 2100, 2400, 9999] {
            out.push(format!("{y:04}"));
            for m in 0..=13u32 {
                out.push(format!("{y:04}-{m:02}"));
                for d in [0, 1, 9, 10, 28, 29, 30, 31, 32] {
                    out.push(format!("{y:04}-{m:02}-{d:02}"));
                }
            }
        }
        out.extend(
            [
                "",
                "201",
                "20190",
                "2019-3",
                "2019-3-05",
                "2019-03-5",
                "2019/03/05",
                "-2019",
                "x",
            ]
            .map(String::from),
        );
        out
    }

    /// The documented patterns (read by clients as regular expressions) accept exactly
    /// what the parsers accept.
    #[test]
    fn documented_patterns_agree_with_the_parsers() {
        let date = schema_pattern(<DateStart as ParamValue>::schema());
        let interval = schema_pattern(<Interval as ParamValue>::schema());
        let mut checked = 0;
        for s in date_samples() {
            assert_eq!(date.is_match(&s), DateStart::parse(&s).is_ok(), "{s:?}");
            assert_eq!(
                DateStart::parse(&s).is_ok(),
                DateEnd::parse(&s).is_ok(),
                "{s:?}"
            );
            let day = s.len() == 10;
            for t in [
                s.clone(),
                format!("{s}T10:00:00Z"),
                format!("{s}T23:59:60.5+01:00"),
                format!("{s}T24:00:00Z"),
                format!("../{s}"),
                format!("{s}/"),
                format!("{s}/{s}"),
            ] {
                let ok = Interval::parse(&t).is_ok();
                assert_eq!(interval.is_match(&t), ok, "{t:?}");
                if day && t == s {
                    assert_eq!(ok, DateStart::parse(&s).is_ok(), "{t:?}");
                }
                checked += 1;
            }
        }
        assert!(checked > 8_000, "{checked}");
        let item = schema_pattern(<ListItem as ParamValue>::schema());
        for (s, ok) in [
            ("Battles", true),
            (" Riots", true),
            ("a,b", false),
            ("  ", false),
        ] {
            assert_eq!(item.is_match(s), ok, "{s:?}");
        }
        assert!(K::parse("0").is_err() && K::parse("1000").is_ok());
        assert!(Lon::parse("NaN").is_err() && Lon::parse("inf").is_err());
        assert!(GlyphRange::parse("256-511").is_ok() && GlyphRange::parse("0-256").is_err());
    }
}
