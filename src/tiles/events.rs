//! The events layer of one tile: grid clusters at low zoom, single events from
//! [`INDIVIDUAL_FROM_ZOOM`] up. Every matching event whose point falls inside the tile is
//! counted exactly once, so the `count`s of a tile add up to its number of events.

use super::coord::{EXTENT, TileCoord, pixel, project};
use crate::atlas::Atlas;
use crate::query::filter::Matcher;

/// From this zoom up each event is its own feature (unless the tile is too dense).
pub const INDIVIDUAL_FROM_ZOOM: u8 = 10;
/// Above this many events, even a high-zoom tile is clustered, on a finer grid, so that no
/// tile grows past a few hundred KB whatever the data.
pub const MAX_INDIVIDUAL_PER_TILE: usize = 4000;
/// Cluster grid cell in tile units: 16 x 16 cells per tile (32 px on a 512 px tile).
pub const CLUSTER_CELL: u32 = 256;
/// Cell of the fallback grid for over-dense high-zoom tiles: 64 x 64 cells.
pub const DENSE_CELL: u32 = 64;

#[derive(Debug, Clone, PartialEq)]
pub enum EventFeature<'a> {
    Single {
        event: u32,
        at: [i32; 2],
    },
    Cluster {
        at: [i32; 2],
        count: u32,
        fatalities: u64,
        /// The most frequent event type among the members (ties: alphabetical).
        event_type: &'a str,
    },
}

#[derive(Default)]
struct Acc<'a> {
    count: u32,
    fatalities: u64,
    sum: [f64; 2],
    types: Vec<(&'a str, u32)>,
}

/// The matching events whose points fall in tile `t` (each point belongs to exactly one
/// tile per zoom: the one `floor(world * 2^z)` names), as features.
pub fn events_in_tile<'a>(atlas: &'a Atlas, m: &Matcher, t: TileCoord) -> Vec<EventFeature<'a>> {
    let members: Vec<(u32, [f64; 2])> = atlas
        .events_in(vec![t.lonlat_envelope(1.0)])
        .filter_map(|i| {
            let w = project(atlas.events[i as usize].pos);
            (t.contains(w) && m.matches(i)).then(|| (i, t.to_tile(w)))
        })
        .collect();
    if t.z >= INDIVIDUAL_FROM_ZOOM && members.len() <= MAX_INDIVIDUAL_PER_TILE {
        let mut singles: Vec<EventFeature> = members
            .iter()
            .map(|&(event, p)| EventFeature::Single {
                event,
                at: pixel(p),
            })
            .collect();
        singles.sort_by_key(|f| match f {
            EventFeature::Single { event, .. } => *event,
            EventFeature::Cluster { .. } => u32::MAX,
        });
        return singles;
    }
    let cell = if t.z >= INDIVIDUAL_FROM_ZOOM {
        DENSE_CELL
    } else {
        CLUSTER_CELL
    };
    let side = (EXTENT / cell) as usize;
    let mut grid: Vec<Acc> = (0..side * side).map(|_| Acc::default()).collect();
    for &(i, p) in &members {
        let cx = ((p[0] / cell as f64) as usize).min(side - 1);
        let cy = ((p[1] / cell as f64) as usize).min(side - 1);
        let acc = &mut grid[cy * side + cx];
        let e = &atlas.events[i as usize];
        acc.count += 1;
        acc.fatalities += e.fatalities as u64;
        acc.sum[0] += p[0];
        acc.sum[1] += p[1];
        match acc.types.iter_mut().find(|(t, _)| *t == &*e.event_type) {
            Some((_, n)) => *n += 1,
            None => acc.types.push((&e.event_type, 1)),
        }
    }
    grid.into_iter()
        .filter(|a| a.count > 0)
        .map(|a| {
            let n = a.count as f64;
            let event_type = a
                .types
                .iter()
                .max_by(|x, y| x.1.cmp(&y.1).then(y.0.cmp(x.0)))
                .map_or("", |(t, _)| t);
            EventFeature::Cluster {
                at: pixel([a.sum[0] / n, a.sum[1] / n]),
                count: a.count,
                fatalities: a.fatalities,
                event_type,
            }
        })
        .collect()
}
