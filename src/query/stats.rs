//! Event counts and fatalities grouped by region, year, type or month.

use std::collections::BTreeMap;

use chrono::Datelike;

use super::{Hit, Tally};
use crate::atlas::Atlas;

/// What events are grouped by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupBy {
    Region,
    Year,
    Type,
    Month,
}

impl GroupBy {
    pub const ALL: [GroupBy; 4] = [
        GroupBy::Region,
        GroupBy::Year,
        GroupBy::Type,
        GroupBy::Month,
    ];

    /// The name clients use (`group_by=month`).
    pub fn name(self) -> &'static str {
        match self {
            GroupBy::Region => "region",
            GroupBy::Year => "year",
            GroupBy::Type => "type",
            GroupBy::Month => "month",
        }
    }

    pub fn by_name(name: &str) -> Option<GroupBy> {
        GroupBy::ALL.into_iter().find(|g| g.name() == name)
    }
}

/// One group: its key (region id, `2019`, event type, `2019-03`), a label for people
/// (the region's name; for other groupings the key), and its totals. Events outside
/// every region are grouped under the key `none`.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    pub key: String,
    pub label: String,
    pub tally: Tally,
}

/// Groups `hits` by `by`, in key order (chronological for years and months).
pub fn group(atlas: &Atlas, hits: &[Hit], by: GroupBy) -> Vec<Group> {
    let mut groups: BTreeMap<String, (String, Tally)> = BTreeMap::new();
    for h in hits {
        let e = atlas.event(h.event);
        let (key, label) = match by {
            GroupBy::Region => match atlas.region_of_event(h.event) {
                Some(r) => (r.id.clone(), r.name.clone()),
                None => ("none".to_string(), "Outside the regions".to_string()),
            },
            GroupBy::Year => {
                let y = e.date.year().to_string();
                (y.clone(), y)
            }
            GroupBy::Type => (e.event_type.to_string(), e.event_type.to_string()),
            GroupBy::Month => {
                let m = format!("{:04}-{:02}", e.date.year(), e.date.month());
                (m.clone(), m)
            }
        };
        groups
            .entry(key)
            .or_insert_with(|| (label, Tally::default()))
            .1
            .add(e);
    }
    groups
        .into_iter()
        .map(|(key, (label, tally))| Group { key, label, tally })
        .collect()
}
