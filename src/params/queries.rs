//! What each endpoint accepts: one struct per endpoint, made of the groups in `groups`.
//! [`query!`] declares the struct and its OpenAPI parameters from the same field list,
//! so the two cannot drift apart.

use std::marker::PhantomData;

use serde::Deserialize;
use utoipa::IntoParams;
use utoipa::openapi::path::{Parameter, ParameterBuilder, ParameterIn};
use utoipa::openapi::{Required, Schema};

use super::analysis::{HexParams, TableFormatParams, TimelineParams, TrendParams};
use super::fields::{ParamFields, struct_fields};
use super::groups::*;
use super::values::*;
use crate::query::props::{PropKind, Queryable};
use crate::query::stats::GroupBy;

/// Declares an endpoint's query struct and its `IntoParams` (the concatenation of its
/// groups' parameters).
macro_rules! query {
    ($(#[$doc:meta])* $name:ident $(<$g:ident: $bound:path>)? { $($field:ident: $group:ty),* $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Deserialize)]
        #[serde(deny_unknown_fields)]
        $(#[serde(bound = "" )] #[doc = stringify!($g)])?
        #[allow(dead_code, reason = "some groups are only validated: a cache-busting `v`, `f=json`")]
        pub struct $name $(<$g: $bound>)? { $(pub $field: $group),* }

        impl $(<$g: $bound>)? IntoParams for $name $(<$g>)? {
            #[allow(unused_variables, unused_mut)]
            fn into_params(
                parameter_in: impl Fn() -> Option<ParameterIn>,
            ) -> Vec<Parameter> {
                let mut all = Vec::new();
                $(all.extend(<$group as IntoParams>::into_params(&parameter_in));)*
                all
            }
        }

        impl $(<$g: $bound>)? ParamFields for $name $(<$g>)? {
            #[allow(unused_mut)]
            fn fields() -> Vec<&'static str> {
                let mut all: Vec<&'static str> = Vec::new();
                $(all.extend(struct_fields::<$group>());)*
                all
            }
        }
    };
}

query!(
    /// Endpoints without parameters.
    NoQuery {}
);

/// `q`, the text a gazetteer search looks for.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SearchParams {
    /// Name or part of it (accents and case ignored).
    #[param(inline)]
    pub q: Text,
}

query!(
    /// `GET /api/places`
    PlacesQuery { search: SearchParams, page: PlacesPageParams }
);
query!(
    /// `GET /api/events`
    EventsQuery {
        filter: EventFilterParams,
        bbox: BboxParams,
        near: NearParams,
        page: PageParams,
        sort: SortParams,
        f: FormatParams,
    }
);
query!(
    /// `GET /api/events/nearest`
    NearestQuery { filter: EventFilterParams, bbox: BboxParams, point: PointParams }
);

/// Which bases `/api/bases` lists.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct BaseListParams {
    /// MINUSMA, Barkhane, EUTM, G5 Sahel, FAMa, United States (case-insensitive).
    #[param(inline, nullable = false)]
    pub operator: Option<Text>,
    /// Open at some time during this year.
    #[param(inline, nullable = false)]
    pub open_in: Option<Year>,
}

query!(
    /// `GET /api/bases`
    BasesQuery { bases: BaseListParams, bbox: BboxParams }
);
query!(
    /// `GET /api/bases/{id}/coverage` and `GET /api/coverage`
    CoverageQuery {
        filter: EventFilterParams,
        bbox: BboxParams,
        coverage: CoverageParams,
        page: PageParams,
        f: FormatParams,
    }
);

query!(
    /// `GET /api/coverage/timeline`
    TimelineQuery {
        timeline: TimelineParams,
        filter: EventFilterParams,
        bbox: BboxParams,
        f: TableFormatParams,
    }
);
query!(
    /// `GET /api/hexbins`
    HexbinsQuery {
        hex: HexParams,
        filter: EventFilterParams,
        bbox: BboxParams,
        f: TableFormatParams,
    }
);
query!(
    /// `GET /api/trends`
    TrendsQuery {
        trend: TrendParams,
        filter: EventFilterParams,
        bbox: BboxParams,
        f: TableFormatParams,
    }
);

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct GroupByParams {
    /// What to group by.
    #[param(inline)]
    pub group_by: GroupBy,
}

query!(
    /// `GET /api/stats`
    StatsQuery {
        group: GroupByParams,
        filter: EventFilterParams,
        bbox: BboxParams,
        near: NearParams,
    }
);
/// Where the change log starts.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ChangesParams {
    /// List changes after this sequence number (default 0: from the start).
    #[param(inline, nullable = false)]
    pub since: Option<Sequence>,
    /// At most this many changes (default 1000).
    #[param(inline, nullable = false)]
    pub limit: Option<ChangesLimit>,
}

query!(
    /// `GET /api/changes`
    ChangesQuery { changes: ChangesParams }
);
/// A data version a client names to get fresh tiles after a change.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct VersionParams {
    /// Any change sequence number (from /api/changes): a new URL, so caches fetch the
    /// tile again; the server always answers with the current data.
    #[param(inline, nullable = false)]
    #[allow(
        dead_code,
        reason = "accepted and documented; the answer does not depend on it"
    )]
    pub v: Option<Sequence>,
}

query!(
    /// `GET /tiles/{z}/{x}/{y}.mvt`, `/tiles.json`, `/style.json`: the event filters (no box:
    /// a tile is its own box).
    TileQuery { filter: EventFilterParams, version: VersionParams }
);
/// The archive whose tiles draw the base map (`serve --archive NAME=FILE`).
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct BaseMapParams {
    /// An archive's name: land, borders, rivers and towns come from it; regions, bases and
    /// events stay live. Without it everything is live.
    #[param(inline, nullable = false)]
    pub basemap: Option<Text>,
}

query!(
    /// `GET /style.json`: the tile filters and the base map.
    StyleQuery { filter: EventFilterParams, version: VersionParams, base: BaseMapParams }
);

/// `/archives/{name}/tiles.json`
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct ArchivePath {
    /// The archive's name, as given to `serve --archive NAME=FILE`.
    #[param(inline)]
    pub name: Text,
}

/// `/archives/{name}/{z}/{x}/{y}.mvt`
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct ArchiveTilePath {
    /// The archive's name.
    #[param(inline)]
    pub name: Text,
    /// Zoom.
    #[param(inline)]
    pub z: Zoom,
    /// Column from the west (below 2^z; 422 otherwise).
    #[param(inline)]
    pub x: TileIndex,
    /// Row from the north (below 2^z; 422 otherwise).
    #[param(inline)]
    pub y: TileIndex,
}

query!(
    /// OGC API documents other than items.
    OgcQuery { f: DocFormatParams }
);

/// The box and time of OGC API items.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ItemParams {
    /// minLon,minLat,maxLon,maxLat (CRS84), or the 3D form with heights (ignored);
    /// latitudes within -90..90 and south <= north (422 otherwise).
    #[param(inline, nullable = false, style = Form, explode = false)]
    pub bbox: Option<OgcBbox>,
    /// RFC 3339 instant or interval (2018-01-01/2018-12-31, ../2018-12-31); bases match
    /// the years they were open.
    #[param(inline, nullable = false)]
    pub datetime: Option<Interval>,
}

query!(
    /// `GET /ogc/collections/{collectionId}/items`, with the collection's queryables `P`.
    ItemsQuery<P: Queryable> {
        items: ItemParams,
        page: PageParams,
        props: Equals<P>,
        f: FormatParams,
    }
);

/// Equality filters on a collection's queryable properties `P`, as given.
#[derive(Debug, Clone, PartialEq)]
pub struct Equals<P>(pub Vec<(P, String)>);

impl<'de, P: Queryable> Deserialize<'de> for Equals<P> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_struct("Equals", P::NAMES, EqualsVisitor(PhantomData))
    }
}

struct EqualsVisitor<P>(PhantomData<P>);

impl<'de, P: Queryable> serde::de::Visitor<'de> for EqualsVisitor<P> {
    type Value = Equals<P>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("property filters")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Equals<P>, A::Error> {
        let mut equals = Vec::new();
        while let Some(name) = map.next_key::<String>()? {
            let Some(prop) = P::by_name(&name) else {
                return Err(serde::de::Error::unknown_field(&name, P::NAMES));
            };
            let value = match prop.kind() {
                PropKind::Text => map.next_value::<Option<Text>>()?.map(|t| t.0),
                PropKind::Integer => map
                    .next_value::<Option<Fatalities>>()?
                    .map(|n| n.get().to_string()),
            };
            if let Some(v) = value {
                equals.push((prop, v));
            }
        }
        Ok(Equals(equals))
    }
}

impl<P: Queryable> IntoParams for Equals<P> {
    fn into_params(parameter_in: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        P::ALL
            .iter()
            .map(|&p| {
                let schema: Schema = match p.kind() {
                    PropKind::Text => <Text as ParamValue>::schema(),
                    PropKind::Integer => <Fatalities as ParamValue>::schema(),
                };
                ParameterBuilder::new()
                    .name(p.name())
                    .parameter_in(parameter_in().unwrap_or_default())
                    .required(Required::False)
                    .description(Some(format!("Equality filter on {}", p.name())))
                    .schema(Some(schema))
                    .build()
            })
            .collect()
    }
}

/// `{id}` of a single item.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct IdPath {
    /// Identifier.
    #[param(inline)]
    pub id: Text,
}

/// `/tiles/{z}/{x}/{y}.mvt`
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct TilePath {
    /// Zoom.
    #[param(inline)]
    pub z: Zoom,
    /// Column from the west (below 2^z; 422 otherwise).
    #[param(inline)]
    pub x: TileIndex,
    /// Row from the north (below 2^z; 422 otherwise).
    #[param(inline)]
    pub y: TileIndex,
}

/// `/fonts/{fontstack}/{range}.pbf`
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct FontPath {
    /// Any font name: every stack is answered with the one font served.
    #[param(inline)]
    #[allow(
        dead_code,
        reason = "accepted and documented; the answer does not depend on it"
    )]
    pub fontstack: Text,
    /// 256 code points: 0-255, 256-511, ...
    #[param(inline)]
    pub range: GlyphRange,
}
