//! Trends against a baseline: for each unit (a region or an H3 cell), the value of one
//! period (events or fatalities), against the mean and standard deviation of the K
//! periods just before it, and a flag.
//!
//! The flags follow ACLED's change tools: the value is compared with a historical norm
//! made of the periods immediately before (ACLED Trendfinder: the previous 4 or 52 weeks),
//! and units with little activity are not flagged (ACLED: an average of two events or
//! fewer). Here the norm is mean ± one standard deviation rather than ACLED's percentage
//! bands, and the low-activity rule is a floor on the change itself (`min_change`):
//! - `new`: nothing in the whole baseline, something now;
//! - `increase`: above mean + sd, by at least `min_change`;
//! - `decrease`: below mean − sd, by at least `min_change`;
//! - `stable`: anything else.

use chrono::{Datelike, NaiveDate};
use h3o::CellIndex;
use rustc_hash::FxHashMap;

use super::filter::Matcher;
use super::hexbins::{cell_of, resolution};
use super::{Sort, find_events};
use crate::atlas::Atlas;

/// The length of a period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    Year,
    Quarter,
    Month,
}

impl Period {
    /// Periods per year.
    fn per_year(self) -> i32 {
        match self {
            Period::Year => 1,
            Period::Quarter => 4,
            Period::Month => 12,
        }
    }

    /// The period holding `d`, as a count of periods since year 0.
    pub fn of(self, d: NaiveDate) -> i32 {
        let within = (d.month0() as i32 * self.per_year()) / 12;
        d.year() * self.per_year() + within
    }

    /// `2019`, `2019-Q1` or `2019-03` (as the period's length says).
    ///
    /// ```ignore
    /// use crate::query::trends::Period;
    /// let q = Period::Quarter;
    /// assert_eq!(q.label(q.parse("2019-Q1").unwrap() - 1), "2018-Q4");
    /// assert_eq!(Period::Month.parse("2019-Q1"), None);
    /// ```
    /// (Run as the unit test `doc_example_label`: the module is internal.)
    pub fn label(self, p: i32) -> String {
        let (y, k) = (p.div_euclid(self.per_year()), p.rem_euclid(self.per_year()));
        match self {
            Period::Year => format!("{y:04}"),
            Period::Quarter => format!("{y:04}-Q{}", k + 1),
            Period::Month => format!("{y:04}-{:02}", k + 1),
        }
    }

    /// The period a label names, in this period's form only.
    pub fn parse(self, s: &str) -> Option<i32> {
        let (y, rest) = match s.split_once('-') {
            Some((y, rest)) => (y, Some(rest)),
            None => (s, None),
        };
        if y.len() != 4 || !y.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let y: i32 = y.parse().ok()?;
        let k = match (self, rest) {
            (Period::Year, None) => 1,
            (Period::Quarter, Some(q)) => q.strip_prefix('Q')?.parse::<i32>().ok()?,
            (Period::Month, Some(m)) if m.len() == 2 => m.parse::<i32>().ok()?,
            _ => return None,
        };
        (1..=self.per_year())
            .contains(&k)
            .then_some(y * self.per_year() + k - 1)
    }

    /// The first day of period `p`.
    fn start(self, p: i32) -> Option<NaiveDate> {
        let (y, k) = (p.div_euclid(self.per_year()), p.rem_euclid(self.per_year()));
        NaiveDate::from_ymd_opt(y, (k * 12 / self.per_year() + 1) as u32, 1)
    }
}

/// What a unit is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// The atlas's regions, every one listed.
    Region,
    /// H3 cells at this resolution, those with events in the window listed.
    H3(u8),
}

/// What is counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    Events,
    Fatalities,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Flag {
    Increase,
    Decrease,
    New,
    Stable,
}

/// The question.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrendQuery {
    pub unit: Unit,
    pub period: Period,
    /// The period looked at ([`Period::of`]).
    pub at: i32,
    /// How many periods just before `at` make the baseline (at least 1).
    pub baseline: usize,
    pub metric: Metric,
    /// The smallest change flagged as an increase or decrease.
    pub min_change: f64,
}

/// One unit's trend.
#[derive(Debug, Clone, PartialEq)]
pub struct UnitTrend {
    /// The region's index, or the cell.
    pub unit: UnitKey,
    pub value: f64,
    /// The baseline periods' values, oldest first.
    pub series: Vec<f64>,
    pub baseline_mean: f64,
    /// Population standard deviation of the baseline (its K periods are all of it).
    pub baseline_sd: f64,
    /// `value - baseline_mean`.
    pub change: f64,
    pub flag: Flag,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UnitKey {
    Region(usize),
    Cell(CellIndex),
}

/// Each unit's trend for events matching `m`, largest change first (ties: unit order).
pub fn trends(atlas: &Atlas, m: &Matcher, q: &TrendQuery) -> Vec<UnitTrend> {
    let first = q.at - q.baseline as i32;
    let slots = q.baseline + 1;
    let window = (q.period.start(first), q.period.start(q.at + 1));
    let mut values: FxHashMap<UnitKey, Vec<f64>> = FxHashMap::default();
    if q.unit == Unit::Region {
        for r in 0..atlas.regions().len() {
            values.insert(UnitKey::Region(r), vec![0.0; slots]);
        }
    }
    for h in find_events(atlas, m, None, Sort::Date, 0) {
        let e = atlas.event(h.event);
        if window.0.is_some_and(|d| e.date < d) || window.1.is_some_and(|d| e.date >= d) {
            continue;
        }
        let key = match q.unit {
            Unit::Region => atlas
                .event_region(h.event)
                .map(|r| UnitKey::Region(r as usize)),
            Unit::H3(res) => cell_of(e.pos, resolution(res)).map(UnitKey::Cell),
        };
        let Some(key) = key else { continue };
        let slot = (q.period.of(e.date) - first) as usize;
        let v = values.entry(key).or_insert_with(|| vec![0.0; slots]);
        v[slot] += match q.metric {
            Metric::Events => 1.0,
            Metric::Fatalities => f64::from(e.fatalities),
        };
    }
    let mut out: Vec<UnitTrend> = values
        .into_iter()
        .map(|(unit, mut series)| {
            let value = series.pop().unwrap_or(0.0);
            trend(unit, value, series, q.min_change)
        })
        .collect();
    out.sort_by(|a, b| b.change.total_cmp(&a.change).then(unit_order(a, b)));
    out
}

fn unit_order(a: &UnitTrend, b: &UnitTrend) -> std::cmp::Ordering {
    match (a.unit, b.unit) {
        (UnitKey::Region(x), UnitKey::Region(y)) => x.cmp(&y),
        (UnitKey::Cell(x), UnitKey::Cell(y)) => x.cmp(&y),
        (UnitKey::Region(_), UnitKey::Cell(_)) => std::cmp::Ordering::Less,
        (UnitKey::Cell(_), UnitKey::Region(_)) => std::cmp::Ordering::Greater,
    }
}

/// The statistics and flag of one unit's `value` against its baseline `series`.
fn trend(unit: UnitKey, value: f64, series: Vec<f64>, min_change: f64) -> UnitTrend {
    let k = series.len().max(1) as f64;
    let mean = series.iter().sum::<f64>() / k;
    let sd = (series.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / k).sqrt();
    let change = value - mean;
    let flag = if mean == 0.0 && value > 0.0 {
        Flag::New
    } else if value > mean + sd && change >= min_change {
        Flag::Increase
    } else if value < mean - sd && -change >= min_change {
        Flag::Decrease
    } else {
        Flag::Stable
    };
    UnitTrend {
        unit,
        value,
        series,
        baseline_mean: mean,
        baseline_sd: sd,
        change,
        flag,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_round_trip_through_their_labels() {
        for period in [Period::Year, Period::Quarter, Period::Month] {
            for d in ["1997-01-01", "2012-03-31", "2012-04-01", "2019-12-31"] {
                let d: NaiveDate = d.parse().unwrap();
                let p = period.of(d);
                assert_eq!(period.parse(&period.label(p)), Some(p));
                assert!(period.start(p).unwrap() <= d && d < period.start(p + 1).unwrap());
            }
        }
        assert_eq!(
            Period::Quarter.label(Period::Quarter.parse("2019-Q1").unwrap()),
            "2019-Q1"
        );
        for bad in ["2019-Q5", "2019-Q0", "19-Q1", "2019-1", "2019-13"] {
            assert_eq!(
                Period::Quarter.parse(bad).or(Period::Month.parse(bad)),
                None,
                "{bad}"
            );
        }
    }

    /// Worked by hand: baseline 2, 4, 6 (mean 4, sd 1.633).
    #[test]
    fn flags_follow_mean_and_sd() {
        let b = vec![2.0, 4.0, 6.0];
        let u = UnitKey::Region(0);
        let t = trend(u, 6.0, b.clone(), 1.0);
        assert!((t.baseline_sd - 1.632_993).abs() < 1e-6);
        assert_eq!((t.change, t.flag), (2.0, Flag::Increase));
        assert_eq!(trend(u, 5.0, b.clone(), 1.0).flag, Flag::Stable);
        assert_eq!(trend(u, 6.0, b.clone(), 3.0).flag, Flag::Stable);
        assert_eq!(trend(u, 2.0, b.clone(), 1.0).flag, Flag::Decrease);
        assert_eq!(trend(u, 1.0, vec![0.0; 3], 5.0).flag, Flag::New);
        assert_eq!(trend(u, 0.0, vec![0.0; 3], 5.0).flag, Flag::Stable);
    }
}

#[cfg(test)]
mod doc_examples {
    #[test]
    fn doc_example_label() {
        use crate::query::trends::Period;
        let q = Period::Quarter;
        assert_eq!(q.label(q.parse("2019-Q1").unwrap() - 1), "2018-Q4");
        assert_eq!(Period::Month.parse("2019-Q1"), None);
    }
}
