//! The event filters shared by every consumer (query API, tiles, OGC API): one parsed
//! `EventFilter`, compiled once per request against the atlas into a `Matcher`.

use chrono::{Datelike, NaiveDate};

use super::props::{PropKind, Queryable};

use crate::atlas::Atlas;
use crate::atlas::grid::{EventGrid, Slot, SlotTest};
use crate::model::text::fold;
use crate::model::{Event, LonLat, RegionIdx, Word};
use std::ops::Range;

/// A lon/lat box. `west > east` means it crosses the antimeridian.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bbox {
    pub west: f64,
    pub south: f64,
    pub east: f64,
    pub north: f64,
}

impl Bbox {
    pub fn contains(&self, p: LonLat) -> bool {
        let lon_ok = if self.west <= self.east {
            self.west <= p.lon && p.lon <= self.east
        } else {
            p.lon >= self.west || p.lon <= self.east
        };
        lon_ok && self.south <= p.lat && p.lat <= self.north
    }

    /// Width in degrees of longitude (antimeridian-aware).
    pub fn width(&self) -> f64 {
        if self.west <= self.east {
            self.east - self.west
        } else {
            360.0 - (self.west - self.east)
        }
    }

    pub fn height(&self) -> f64 {
        self.north - self.south
    }

    /// The box as one or two envelopes that do not cross the antimeridian.
    pub fn envelopes(&self) -> Vec<crate::geodesy::Envelope> {
        use crate::geodesy::Envelope;
        if self.west <= self.east {
            vec![Envelope {
                min: [self.west, self.south],
                max: [self.east, self.north],
            }]
        } else {
            vec![
                Envelope {
                    min: [self.west, self.south],
                    max: [180.0, self.north],
                },
                Envelope {
                    min: [-180.0, self.south],
                    max: [self.east, self.north],
                },
            ]
        }
    }
}

/// What a client asked for; all conditions must hold.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EventFilter {
    /// First day included.
    pub from: Option<NaiveDate>,
    /// Last day included.
    pub to: Option<NaiveDate>,
    /// Matches `event_type` or `sub_event_type`, case-insensitively; any of them.
    pub types: Vec<String>,
    /// Matches a part of `actor1` or `actor2`, accents and case ignored.
    pub actor: Option<String>,
    /// At least this many deaths.
    pub min_fatalities: Option<u32>,
    /// Only events in this region.
    pub region: Option<RegionIdx>,
    /// Only events in this box.
    pub bbox: Option<Bbox>,
    /// Exact (case-insensitive) values of single properties, e.g. `location` = `Gao`.
    pub equals: Vec<(EventProp, String)>,
}

/// Event properties that can be filtered by equality (OGC API queryables).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventProp {
    EventType,
    SubEventType,
    Actor1,
    Actor2,
    Admin1,
    Admin2,
    Location,
    Region,
    Fatalities,
    GeoPrecision,
}

impl Queryable for EventProp {
    const ALL: &'static [EventProp] = &[
        EventProp::EventType,
        EventProp::SubEventType,
        EventProp::Actor1,
        EventProp::Actor2,
        EventProp::Admin1,
        EventProp::Admin2,
        EventProp::Location,
        EventProp::Region,
        EventProp::Fatalities,
        EventProp::GeoPrecision,
    ];
    const NAMES: &'static [&'static str] = &[
        "event_type",
        "sub_event_type",
        "actor1",
        "actor2",
        "admin1",
        "admin2",
        "location",
        "region",
        "fatalities",
        "geo_precision",
    ];

    fn kind(self) -> PropKind {
        match self {
            EventProp::Fatalities | EventProp::GeoPrecision => PropKind::Integer,
            _ => PropKind::Text,
        }
    }
}

impl EventProp {
    fn matches(self, atlas: &Atlas, i: u32, want: &str) -> bool {
        let e = atlas.event(i);
        let text = |v: &str| v.eq_ignore_ascii_case(want);
        let number = |v: u32| want.parse::<u32>() == Ok(v);
        match self {
            EventProp::EventType => text(&e.event_type),
            EventProp::SubEventType => text(&e.sub_event_type),
            EventProp::Actor1 => text(&e.actor1),
            EventProp::Actor2 => text(&e.actor2),
            EventProp::Admin1 => text(&e.admin1),
            EventProp::Admin2 => text(&e.admin2),
            EventProp::Location => text(&e.location),
            EventProp::Region => atlas.region_of_event(i).is_some_and(|r| text(&r.id)),
            EventProp::Fatalities => number(e.fatalities),
            EventProp::GeoPrecision => e.geo_precision.is_some_and(|p| number(p as u32)),
        }
    }
}

/// An `EventFilter` resolved against one atlas: cheap to test per event.
pub struct Matcher<'a> {
    atlas: &'a Atlas,
    filter: &'a EventFilter,
    /// For each distinct actor in the atlas, whether it matches `filter.actor`.
    actor_ok: Option<Vec<bool>>,
    /// No condition at all: skip reading the event.
    everything: bool,
}

impl EventFilter {
    /// The filter ready to test events of `atlas` (words and regions looked up once).
    pub fn compile<'a>(&'a self, atlas: &'a Atlas) -> Matcher<'a> {
        let actor_ok = self.actor.as_ref().map(|needle| {
            let needle = fold(needle);
            atlas.actors_folded().map(|a| a.contains(&needle)).collect()
        });
        // Dates spanning all the data (the map's full time range) restrict nothing.
        let spans_all = |f: &EventFilter| {
            let rest = EventFilter {
                from: None,
                to: None,
                ..f.clone()
            };
            let days = atlas.extents().event_days;
            rest.is_empty()
                && f.from.is_none_or(|d| days.is_some_and(|(a, _)| d <= a))
                && f.to.is_none_or(|d| days.is_some_and(|(_, z)| d >= z))
        };
        Matcher {
            atlas,
            filter: self,
            actor_ok,
            everything: self.is_empty() || spans_all(self),
        }
    }

    /// `Some((first year, last year))` (open ends as `None`) when the only conditions are
    /// dates covering whole calendar years; pre-summed per-year data can answer those.
    pub fn whole_years(&self) -> Option<(Option<i32>, Option<i32>)> {
        let rest = EventFilter {
            from: None,
            to: None,
            ..self.clone()
        };
        let from_ok = self.from.is_none_or(|d| d.month() == 1 && d.day() == 1);
        let to_ok = self.to.is_none_or(|d| d.month() == 12 && d.day() == 31);
        (rest.is_empty() && from_ok && to_ok)
            .then(|| (self.from.map(|d| d.year()), self.to.map(|d| d.year())))
    }

    /// Whether any condition is set (an empty filter matches everything).
    pub fn is_empty(&self) -> bool {
        *self == EventFilter::default()
    }
}

impl Matcher<'_> {
    pub fn filter(&self) -> &EventFilter {
        self.filter
    }

    /// Whether every event matches.
    pub fn is_everything(&self) -> bool {
        self.everything
    }

    pub fn matches(&self, i: u32) -> bool {
        if self.everything {
            return true;
        }
        let f = self.filter;
        let e: &Event = self.atlas.event(i);
        f.from.is_none_or(|d| e.date >= d)
            && f.to.is_none_or(|d| e.date <= d)
            && f.min_fatalities.is_none_or(|m| e.fatalities >= m)
            && (f.types.is_empty()
                || f.types.iter().any(|t| {
                    e.event_type.eq_ignore_ascii_case(t) || e.sub_event_type.eq_ignore_ascii_case(t)
                }))
            && f.region
                .is_none_or(|r| self.atlas.event_region(i) == Some(r))
            && f.bbox.is_none_or(|b| b.contains(e.pos))
            && self.actor_ok.as_ref().is_none_or(|ok| {
                let [a1, a2] = self.atlas.actor_pair(i);
                ok[a1 as usize] || ok[a2 as usize]
            })
            && f.equals.iter().all(|(p, v)| p.matches(self.atlas, i, v))
    }

    /// Whether the filter reads nothing but what the grid keeps beside each event:
    /// dates, types and fatalities.
    pub fn slot_only(&self) -> bool {
        let f = self.filter;
        *f == EventFilter {
            from: f.from,
            to: f.to,
            types: f.types.clone(),
            min_fatalities: f.min_fatalities,
            ..EventFilter::default()
        }
    }

    /// The filter as grid slots see it: from the slot's own attributes when
    /// [`Matcher::slot_only`], else by reading the event. `kinds` are the grid's
    /// (event_type, sub_event_type) pairs.
    pub fn for_slots(&self, kinds: &[(Word, Word)]) -> SlotFilter<'_> {
        if self.everything {
            return SlotFilter::Everything;
        }
        if !self.slot_only() {
            return SlotFilter::Events(self);
        }
        let f = self.filter;
        let type_ok = |(t, s): &(Word, Word)| {
            f.types
                .iter()
                .any(|w| t.eq_ignore_ascii_case(w) || s.eq_ignore_ascii_case(w))
        };
        SlotFilter::Slots(SlotTest {
            from_day: f.from.map_or(i32::MIN, |d| d.num_days_from_ce()),
            to_day: f.to.map_or(i32::MAX, |d| d.num_days_from_ce()),
            min_fatalities: f.min_fatalities.unwrap_or(0),
            kind_ok: (!f.types.is_empty()).then(|| kinds.iter().map(type_ok).collect()),
        })
    }

    /// Whether a calendar year overlaps the date range (for per-year region totals).
    pub fn year_in_range(&self, year: i32) -> bool {
        self.filter.from.is_none_or(|d| year >= d.year())
            && self.filter.to.is_none_or(|d| year <= d.year())
    }
}

/// A filter over the slots of the atlas's [`EventGrid`].
pub enum SlotFilter<'a> {
    /// No condition.
    Everything,
    /// Conditions on what a slot holds.
    Slots(SlotTest),
    /// Conditions that read the event.
    Events(&'a Matcher<'a>),
}

impl SlotFilter<'_> {
    /// Whether slot `s` passes.
    #[inline]
    pub fn keeps(&self, s: &Slot) -> bool {
        match self {
            SlotFilter::Everything => true,
            SlotFilter::Slots(t) => t.matches(s),
            SlotFilter::Events(m) => m.matches(s.event),
        }
    }

    /// How many of the slots `run` pass.
    pub fn count(&self, grid: &EventGrid, run: Range<usize>) -> usize {
        match self {
            SlotFilter::Everything => run.len(),
            SlotFilter::Slots(t) => grid.count(run, t),
            SlotFilter::Events(m) => run.filter(|&j| m.matches(grid.slot(j).event)).count(),
        }
    }
}

/// Which end of a partial date (`2018`, `2018-06`) a bound stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateBound {
    Start,
    End,
}

/// Parses `YYYY`, `YYYY-MM` or `YYYY-MM-DD`; a partial date means the first or last day of
/// the year or month, per `bound`, so `from=2018&to=2018` is the whole of 2018.
///
/// ```ignore
/// use crate::query::filter::{parse_date_bound, DateBound};
/// use chrono::NaiveDate;
/// assert_eq!(parse_date_bound("2018", DateBound::End), NaiveDate::from_ymd_opt(2018, 12, 31));
/// assert_eq!(parse_date_bound("2020-02", DateBound::End), NaiveDate::from_ymd_opt(2020, 2, 29));
/// assert_eq!(parse_date_bound("2019-03-23", DateBound::Start), NaiveDate::from_ymd_opt(2019, 3, 23));
/// assert_eq!(parse_date_bound("2019-13", DateBound::Start), None);
/// ```
/// (Run as the unit test `doc_example_parse_date_bound`: the module is internal.)
pub fn parse_date_bound(s: &str, bound: DateBound) -> Option<NaiveDate> {
    let parts: Vec<&str> = s.trim().split('-').collect();
    let num = |p: &str, len: usize| {
        (p.len() == len && p.bytes().all(|b| b.is_ascii_digit()))
            .then(|| p.parse::<u32>().ok())
            .flatten()
    };
    match parts.as_slice() {
        [y] => {
            let y = num(y, 4)? as i32;
            match bound {
                DateBound::Start => NaiveDate::from_ymd_opt(y, 1, 1),
                DateBound::End => NaiveDate::from_ymd_opt(y, 12, 31),
            }
        }
        [y, m] => {
            let (y, m) = (num(y, 4)? as i32, num(m, 2)?);
            let first = NaiveDate::from_ymd_opt(y, m, 1)?;
            match bound {
                DateBound::Start => Some(first),
                DateBound::End => first.checked_add_months(chrono::Months::new(1))?.pred_opt(),
            }
        }
        [y, m, d] => NaiveDate::from_ymd_opt(num(y, 4)? as i32, num(m, 2)?, num(d, 2)?),
        _ => None,
    }
}

#[cfg(test)]
mod doc_examples {
    #[test]
    fn doc_example_parse_date_bound() {
        use crate::query::filter::{DateBound, parse_date_bound};
        use chrono::NaiveDate;
        assert_eq!(
            parse_date_bound("2018", DateBound::End),
            NaiveDate::from_ymd_opt(2018, 12, 31)
        );
        assert_eq!(
            parse_date_bound("2020-02", DateBound::End),
            NaiveDate::from_ymd_opt(2020, 2, 29)
        );
        assert_eq!(
            parse_date_bound("2019-03-23", DateBound::Start),
            NaiveDate::from_ymd_opt(2019, 3, 23)
        );
        assert_eq!(parse_date_bound("2019-13", DateBound::Start), None);
    }
}
