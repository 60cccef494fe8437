//! Groups of parameters several endpoints share, and how each resolves into the query
//! layer's types. Resolving checks what a schema cannot (two parameters that go together,
//! a box's latitudes, a region's name) and answers 422 for it, naming the parameter.

use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::Rejected;
use super::limits::*;
use super::values::*;
use crate::atlas::Atlas;
use crate::model::LonLat;
use crate::query::filter::{Bbox, EventFilter};
use crate::query::{Near, QueryError, Sort, places};

/// The event filters of every event endpoint and tile.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct EventFilterParams {
    /// First day included: YYYY-MM-DD, YYYY-MM or YYYY (the first day of that month or year).
    #[param(inline, nullable = false)]
    pub from: Option<DateStart>,
    /// Last day included: YYYY-MM-DD, YYYY-MM or YYYY (the last day of that month or year).
    #[param(inline, nullable = false)]
    pub to: Option<DateEnd>,
    /// Comma list of ACLED event types or sub-types (case-insensitive); any of them.
    #[serde(rename = "type")]
    #[param(rename = "type", inline, nullable = false, style = Form, explode = false, min_items = 1, max_items = 20)]
    pub types: Option<Vec<ListItem>>,
    /// Part of actor1 or actor2 (accents and case ignored).
    #[param(inline, nullable = false)]
    pub actor: Option<Text>,
    /// At least this many fatalities.
    #[param(inline, nullable = false)]
    pub min_fatalities: Option<Fatalities>,
    /// Region: ISO 3166-2 code (ML-5) or name (Mopti), case and accents ignored.
    #[param(inline, nullable = false)]
    pub region: Option<RegionKey>,
}

impl EventFilterParams {
    /// # Errors
    /// 422 when `from` is after `to`; 400 for a region the atlas does not have.
    pub fn resolve(&self, atlas: &Atlas, bbox: Option<Bbox>) -> Result<EventFilter, Rejected> {
        let from = self.from.map(|d| d.0);
        let to = self.to.map(|d| d.0);
        if let (Some(f), Some(t)) = (from, to)
            && f > t
        {
            return Err(Rejected::unprocessable(
                "from",
                format!("{f} is after to={t}"),
            ));
        }
        let region = match &self.region {
            None => None,
            Some(r) => Some(atlas.region_index(&r.0).ok_or_else(|| {
                Rejected::from(QueryError::UnknownRegion {
                    key: r.0.clone(),
                    known: atlas
                        .regions()
                        .iter()
                        .map(|r| format!("{} ({})", r.id, r.name))
                        .collect(),
                })
            })?),
        };
        Ok(EventFilter {
            from,
            to,
            types: self.types.iter().flatten().map(|t| t.0.clone()).collect(),
            actor: self.actor.as_ref().map(|a| a.0.clone()),
            min_fatalities: self.min_fatalities.map(InRange::get),
            region,
            bbox,
            equals: Vec::new(),
        })
    }
}

/// `bbox` for `/api`: at most [`MAX_BBOX_AREA_DEG2`] square degrees.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct BboxParams {
    /// west,south,east,north in degrees (WGS84); west > east crosses the antimeridian.
    /// Longitudes within -180..180, latitudes within -90..90, south <= north, at most
    /// 3600 square degrees (422 otherwise).
    #[param(inline, nullable = false, style = Form, explode = false)]
    pub bbox: Option<ApiBbox>,
}

impl BboxParams {
    pub fn resolve(&self) -> Result<Option<Bbox>, Rejected> {
        self.bbox
            .map(|b| checked_bbox(b, Some(MAX_BBOX_AREA_DEG2)))
            .transpose()
    }
}

/// The rules of a box a schema cannot state; 422 naming `bbox`.
pub fn checked_bbox<const N6: bool>(
    b: BboxNumbers<N6>,
    max_area: Option<f64>,
) -> Result<Bbox, Rejected> {
    let bad = |why: String| Rejected::unprocessable("bbox", why);
    if b.given == 5 {
        return Err(bad(
            "has 5 numbers; expected four (or six with heights)".into()
        ));
    }
    if !(-180.0..=180.0).contains(&b.west) || !(-180.0..=180.0).contains(&b.east) {
        return Err(bad("longitudes must be within -180..180".into()));
    }
    if !(-90.0..=90.0).contains(&b.south) || !(-90.0..=90.0).contains(&b.north) {
        return Err(bad("latitudes must be within -90..90".into()));
    }
    if b.south > b.north {
        return Err(bad(format!(
            "south {} is north of north {}",
            b.south, b.north
        )));
    }
    let bbox = Bbox {
        west: b.west,
        south: b.south,
        east: b.east,
        north: b.north,
    };
    let area = bbox.width() * bbox.height();
    if let Some(max) = max_area
        && area > max
    {
        return Err(bad(format!(
            "covers {area:.0} square degrees; the limit is {max:.0} (omit bbox to search everywhere)"
        )));
    }
    Ok(bbox)
}

/// The centre of a radius search: `near=<place>` or `lon=&lat=`, with `radius_km`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct NearParams {
    /// A place name from the gazetteer (accent- and case-insensitive); 404 with
    /// suggestions when none matches. Not with lon/lat.
    #[param(inline, nullable = false)]
    pub near: Option<Text>,
    /// Centre longitude (with lat), instead of near.
    #[param(inline, nullable = false)]
    pub lon: Option<Lon>,
    /// Centre latitude (with lon), instead of near.
    #[param(inline, nullable = false)]
    pub lat: Option<Lat>,
    /// Geodesic radius in km (default 50); needs a centre.
    #[param(inline, nullable = false)]
    pub radius_km: Option<RadiusKm>,
}

/// A resolved radius search, and the gazetteer place it is centred on (if named).
pub type Centre = (Near, Option<usize>);

impl NearParams {
    pub fn resolve(&self, atlas: &Atlas) -> Result<Option<Centre>, Rejected> {
        let point = lon_lat(self.lon, self.lat)?;
        let radius_km = self.radius_km.map(InRange::get);
        let (center, place) = match (&self.near, point) {
            (Some(_), Some(_)) => {
                return Err(Rejected::unprocessable(
                    "near",
                    "give either near=<place> or lon= and lat=, not both",
                ));
            }
            (Some(name), None) => {
                let i = places::resolve(atlas, &name.0)?;
                (atlas.places()[i].pos, Some(i))
            }
            (None, Some(pt)) => (pt, None),
            (None, None) => {
                if radius_km.is_some() {
                    return Err(Rejected::unprocessable(
                        "radius_km",
                        "needs a centre: near=<place> or lon= and lat=",
                    ));
                }
                return Ok(None);
            }
        };
        let near = Near {
            center,
            radius_km: radius_km.unwrap_or(DEFAULT_RADIUS_KM),
        };
        Ok(Some((near, place)))
    }
}

/// `lon` and `lat` together, or neither.
fn lon_lat(lon: Option<Lon>, lat: Option<Lat>) -> Result<Option<LonLat>, Rejected> {
    match (lon, lat) {
        (Some(lon), Some(lat)) => Ok(Some(LonLat::new(lon.get(), lat.get()))),
        (None, None) => Ok(None),
        (Some(_), None) => Err(Rejected::unprocessable("lat", "is required with lon")),
        (None, Some(_)) => Err(Rejected::unprocessable("lon", "is required with lat")),
    }
}

/// A point that must be given (`/api/events/nearest`), and how many events to find.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PointParams {
    /// Longitude.
    #[param(inline)]
    pub lon: Lon,
    /// Latitude.
    #[param(inline)]
    pub lat: Lat,
    /// How many events (default 10).
    #[param(inline, nullable = false)]
    pub k: Option<K>,
}

/// `limit` and `offset` of event and feature lists.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// Page size (default 100 on /api, 10 on /ogc).
    #[param(inline, nullable = false)]
    pub limit: Option<Limit>,
    /// Items to skip.
    #[param(inline, nullable = false)]
    pub offset: Option<Offset>,
}

impl PageParams {
    /// The page a download keeps: every row unless the client gave `limit` or `offset`.
    pub fn explicit(&self) -> Option<Page> {
        (self.limit.is_some() || self.offset.is_some()).then(|| Page {
            limit: self.limit.map_or(usize::MAX, |l| l.get() as usize),
            offset: self.offset.map_or(0, |o| o.get() as usize),
        })
    }

    /// The page to show; a page holds at most [`MAX_LIMIT`] features, a download
    /// (`download`) any number.
    pub fn page(&self, default_limit: usize, download: bool) -> Result<Page, Rejected> {
        let limit = self.limit.map_or(default_limit, |l| l.get() as usize);
        if limit > MAX_LIMIT && !download {
            return Err(Rejected::unprocessable(
                "limit",
                format!(
                    "{limit}: a page holds at most {MAX_LIMIT}; for more, download with f=csv or f=geojson"
                ),
            ));
        }
        Ok(Page {
            limit,
            offset: self.offset.map_or(0, |o| o.get() as usize),
        })
    }
}

/// `limit` and `offset` of gazetteer search.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PlacesPageParams {
    /// Page size (default 10).
    #[param(inline, nullable = false)]
    pub limit: Option<PlacesLimit>,
    /// Items to skip.
    #[param(inline, nullable = false)]
    pub offset: Option<Offset>,
}

impl PlacesPageParams {
    pub fn page(&self) -> Page {
        Page {
            limit: self
                .limit
                .map_or(DEFAULT_PLACES_LIMIT, |l| l.get() as usize),
            offset: self.offset.map_or(0, |o| o.get() as usize),
        }
    }
}

/// Which page of a list to show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub limit: usize,
    pub offset: usize,
}

impl Page {
    /// Everything, as one page.
    pub fn all(n: usize) -> Page {
        Page {
            limit: n,
            offset: 0,
        }
    }

    pub fn slice<'a, T>(&self, items: &'a [T]) -> &'a [T] {
        let start = self.offset.min(items.len());
        let end = start.saturating_add(self.limit).min(items.len());
        &items[start..end]
    }
}

/// Orders of an event list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
pub enum SortKey {
    #[serde(rename = "date")]
    Date,
    #[serde(rename = "-date")]
    DateDesc,
    #[serde(rename = "distance")]
    Distance,
    #[serde(rename = "-fatalities")]
    FatalitiesDesc,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SortParams {
    /// date (oldest first), -date, distance (nearest first; needs a centre, and is the
    /// default with one), -fatalities.
    #[param(inline, nullable = false)]
    pub sort: Option<SortKey>,
}

impl SortParams {
    pub fn resolve(&self, has_center: bool) -> Result<Sort, Rejected> {
        Ok(match self.sort {
            None if has_center => Sort::Distance,
            None | Some(SortKey::Date) => Sort::Date,
            Some(SortKey::DateDesc) => Sort::DateDesc,
            Some(SortKey::FatalitiesDesc) => Sort::FatalitiesDesc,
            Some(SortKey::Distance) if has_center => Sort::Distance,
            Some(SortKey::Distance) => {
                return Err(Rejected::unprocessable(
                    "sort",
                    "distance needs near= or lon=&lat=",
                ));
            }
        })
    }
}

/// How a base's coverage is decided.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CoverageParams {
    /// Radius in km instead of each base's coverage_km.
    #[param(inline, nullable = false)]
    pub radius_km: Option<RadiusKm>,
    /// Count only events from years the base was open.
    #[param(nullable = false)]
    pub active_only: Option<bool>,
}

impl CoverageParams {
    pub fn rule(&self) -> crate::query::coverage::CoverageRule {
        crate::query::coverage::CoverageRule {
            radius_km: self.radius_km.map(InRange::get),
            active_only: self.active_only.unwrap_or(false),
        }
    }
}

/// Encodings of OGC API documents other than items (`f=`): JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
pub enum DocFormat {
    #[serde(rename = "json")]
    Json,
    #[serde(rename = "geojson")]
    GeoJson,
    #[serde(rename = "application/json")]
    JsonMime,
    #[serde(rename = "application/geo+json")]
    GeoJsonMime,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DocFormatParams {
    /// Encoding: JSON (GeoJSON for a feature), the only one served.
    #[param(inline, nullable = false)]
    #[allow(
        dead_code,
        reason = "accepted and documented; the answer does not depend on it"
    )]
    pub f: Option<DocFormat>,
}

/// Encodings of feature collections (`f=`): a JSON page, or every matching feature as a
/// file to download.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
pub enum Format {
    #[serde(rename = "json")]
    Json,
    #[serde(rename = "application/json")]
    JsonMime,
    #[serde(rename = "application/geo+json")]
    GeoJsonMime,
    /// A GeoJSON file of every matching feature (`Content-Disposition: attachment`).
    #[serde(rename = "geojson")]
    GeoJson,
    /// A CSV file (RFC 4180, UTF-8) of every matching feature; events in ACLED's columns.
    #[serde(rename = "csv")]
    Csv,
}

/// The file formats of downloads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Download {
    GeoJson,
    Csv,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct FormatParams {
    /// `json` (default): a page of GeoJSON. `geojson` or `csv`: every matching feature as
    /// a file to download, streamed, up to the server's row cap; `limit` still applies
    /// when given, `offset` too.
    #[param(inline, nullable = false)]
    pub f: Option<Format>,
}

impl FormatParams {
    /// The file asked for, if this is a download.
    pub fn download(&self) -> Option<Download> {
        match self.f? {
            Format::GeoJson => Some(Download::GeoJson),
            Format::Csv => Some(Download::Csv),
            _ => None,
        }
    }
}
