//! The parameters of the analysis endpoints (coverage timeline, hexbins, trends), and
//! how they resolve into the query layer's questions.

use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::Rejected;
use super::limits::*;
use super::values::*;
use crate::atlas::Atlas;
use crate::query::timeline::TimelineRule;
use crate::query::trends::{Metric, Period, TrendQuery, Unit};

/// Encodings of an analysis answer (`f=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
pub enum TableFormat {
    #[serde(rename = "json")]
    Json,
    /// The figures as a CSV file (RFC 4180, UTF-8; `Content-Disposition: attachment`).
    #[serde(rename = "csv")]
    Csv,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TableFormatParams {
    /// `json` (default), or `csv`: the same figures as a file to download.
    #[param(inline, nullable = false)]
    pub f: Option<TableFormat>,
}

impl TableFormatParams {
    pub fn csv(&self) -> bool {
        self.f == Some(TableFormat::Csv)
    }
}

/// Which table of the coverage timeline a CSV holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
pub enum TimelineTable {
    /// One row per year and operator (`all` first).
    #[serde(rename = "years")]
    Years,
    /// One row per hot spot.
    #[serde(rename = "hotspots")]
    Hotspots,
}

/// How coverage over time is decided, and the hot spots listed.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TimelineParams {
    /// Radius in km for every base instead of each base's coverage_km.
    #[param(inline, nullable = false)]
    pub radius_km: Option<RadiusKm>,
    /// Count only this operator's bases (MINUSMA, Barkhane, ...; case-insensitive).
    #[param(inline, nullable = false)]
    pub operator: Option<Text>,
    /// H3 resolution of the hot spots (default 5).
    #[param(inline, nullable = false)]
    pub res: Option<HexRes>,
    /// How many hot spots (default 10).
    #[param(inline, nullable = false)]
    pub hotspots: Option<HotspotCount>,
    /// With f=csv: `years` (default) or `hotspots`.
    #[param(inline, nullable = false)]
    pub table: Option<TimelineTable>,
}

impl TimelineParams {
    /// # Errors
    /// 422 for an operator no base has.
    pub fn rule(&self, atlas: &Atlas) -> Result<TimelineRule, Rejected> {
        if let Some(o) = &self.operator
            && !atlas
                .bases()
                .iter()
                .any(|b| b.operator.eq_ignore_ascii_case(&o.0))
        {
            let mut known: Vec<&str> = atlas.bases().iter().map(|b| &*b.operator).collect();
            known.sort_unstable();
            known.dedup();
            return Err(Rejected::unprocessable(
                "operator",
                format!(
                    "no base is run by {:?}; operators: {}",
                    o.0,
                    known.join(", ")
                ),
            ));
        }
        Ok(TimelineRule {
            radius_km: self.radius_km.map(InRange::get),
            operator: self.operator.as_ref().map(|o| o.0.clone()),
        })
    }

    pub fn res(&self) -> u8 {
        self.res.map_or(DEFAULT_HOTSPOT_RES, InRange::get)
    }

    pub fn hotspots(&self) -> usize {
        self.hotspots.map_or(DEFAULT_HOTSPOTS, |n| n.get() as usize)
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct HexParams {
    /// H3 resolution: 3 (12,400 km² cells) to 9 (0.1 km²).
    #[param(inline)]
    pub res: HexRes,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
pub enum UnitName {
    #[serde(rename = "region")]
    Region,
    #[serde(rename = "h3")]
    H3,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
pub enum PeriodName {
    #[serde(rename = "year")]
    Year,
    #[serde(rename = "quarter")]
    Quarter,
    #[serde(rename = "month")]
    Month,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
pub enum MetricName {
    #[serde(rename = "events")]
    Events,
    #[serde(rename = "fatalities")]
    Fatalities,
}

/// What a trend compares.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TrendParams {
    /// `region` (default; every region) or `h3` (cells with events in the window).
    #[param(inline, nullable = false)]
    pub unit: Option<UnitName>,
    /// H3 resolution with unit=h3 (default 5).
    #[param(inline, nullable = false)]
    pub res: Option<HexRes>,
    /// Length of a period: `year`, `quarter` (default) or `month`.
    #[param(inline, nullable = false)]
    pub period: Option<PeriodName>,
    /// The period looked at, in the period's form: 2019, 2019-Q1, 2019-03 (default: the
    /// period of the latest event).
    #[param(inline, nullable = false)]
    pub at: Option<PeriodLabel>,
    /// How many periods just before `at` make the baseline (default 8).
    #[param(inline, nullable = false)]
    pub baseline: Option<BaselinePeriods>,
    /// `events` (default) or `fatalities`.
    #[param(inline, nullable = false)]
    pub metric: Option<MetricName>,
    /// The smallest change flagged as an increase or a decrease (default 3).
    #[param(inline, nullable = false)]
    pub min_change: Option<MinChange>,
}

impl TrendParams {
    /// # Errors
    /// 422 when `at` is not in the form of `period`, or `res` is given without unit=h3.
    pub fn resolve(&self, atlas: &Atlas) -> Result<TrendQuery, Rejected> {
        let period = match self.period {
            Some(PeriodName::Year) => Period::Year,
            Some(PeriodName::Month) => Period::Month,
            None | Some(PeriodName::Quarter) => Period::Quarter,
        };
        let unit = match (self.unit, self.res) {
            (Some(UnitName::H3), res) => Unit::H3(res.map_or(DEFAULT_HOTSPOT_RES, InRange::get)),
            (_, Some(_)) => {
                return Err(Rejected::unprocessable("res", "res goes with unit=h3"));
            }
            _ => Unit::Region,
        };
        let at = match &self.at {
            Some(label) => period.parse(&label.0).ok_or_else(|| {
                let example = match period {
                    Period::Year => "2019",
                    Period::Quarter => "2019-Q1",
                    Period::Month => "2019-03",
                };
                Rejected::unprocessable(
                    "at",
                    format!(
                        "{:?} is not a {} like {example}",
                        label.0,
                        period_name(period)
                    ),
                )
            })?,
            None => {
                let last = atlas
                    .extents()
                    .event_days
                    .map_or_else(|| chrono::Utc::now().date_naive(), |(_, last)| last);
                period.of(last)
            }
        };
        Ok(TrendQuery {
            unit,
            period,
            at,
            baseline: self.baseline.map_or(DEFAULT_BASELINE, |b| b.get() as usize),
            metric: match self.metric {
                Some(MetricName::Fatalities) => Metric::Fatalities,
                _ => Metric::Events,
            },
            min_change: self.min_change.map_or(3.0, InRange::get),
        })
    }
}

pub fn period_name(p: Period) -> &'static str {
    match p {
        Period::Year => "year",
        Period::Quarter => "quarter",
        Period::Month => "month",
    }
}
