//! Events bucketed in a lon/lat grid, for dense radius queries: cells wholly inside a
//! circle are counted without looking at their events, and the nearest events are found
//! by visiting cells outward from the centre, so a query over 60,000 events touches the
//! few thousand along the circle's edge and near its centre.

use rustc_hash::FxHashMap;

use crate::geodesy::{APPROX_MARGIN, approx_distance_km};
use crate::model::{Event, LonLat};

/// Cell size in degrees (about 1.1 km of latitude).
pub const CELL_DEG: f64 = 0.01;
/// An upper bound of the length of one degree, of latitude or longitude, anywhere (km).
const MAX_KM_PER_DEG: f64 = 111.7;

/// Event indices grouped by cell.
pub struct EventGrid {
    /// Event indices, cell after cell.
    order: Vec<u32>,
    /// Cell -> range in `order`.
    cells: FxHashMap<(i32, i32), (u32, u32)>,
}

fn cell_of(p: LonLat) -> (i32, i32) {
    (
        (p.lon / CELL_DEG).floor() as i32,
        (p.lat / CELL_DEG).floor() as i32,
    )
}

/// A cell of a query: its events and bounds on their true distance from the centre.
pub struct Cell<'a> {
    pub events: &'a [u32],
    /// No event of the cell is nearer than this (km).
    pub lower_km: f64,
    /// No event of the cell is farther than this (km).
    pub upper_km: f64,
}

impl EventGrid {
    pub fn build(events: &[Event]) -> EventGrid {
        let mut keyed: Vec<((i32, i32), u32)> = events
            .iter()
            .enumerate()
            .map(|(i, e)| (cell_of(e.pos), i as u32))
            .collect();
        keyed.sort_unstable();
        let mut cells = FxHashMap::default();
        let mut start = 0;
        for i in 1..=keyed.len() {
            if i == keyed.len() || keyed[i].0 != keyed[start].0 {
                cells.insert(keyed[start].0, (start as u32, i as u32));
                start = i;
            }
        }
        EventGrid {
            order: keyed.into_iter().map(|(_, i)| i).collect(),
            cells,
        }
    }

    /// The non-empty cells that may hold events within `radius_km` of `center`, with
    /// bounds on their events' distances. Bounds come from the triangle inequality: every
    /// point of a cell is within half its diagonal of the cell's centre, and the
    /// estimate of that centre's distance is within `APPROX_MARGIN` of the truth.
    pub fn cells_near(&self, center: LonLat, radius_km: f64) -> Vec<Cell<'_>> {
        let half_diag = CELL_DEG * MAX_KM_PER_DEG * std::f64::consts::FRAC_1_SQRT_2;
        let mut out = Vec::new();
        for env in crate::geodesy::search_envelopes(center, radius_km) {
            let (x0, y0) = cell_of(LonLat::new(env.min[0], env.min[1]));
            let (x1, y1) = cell_of(LonLat::new(env.max[0], env.max[1]));
            if (x1 - x0) as i64 * (y1 - y0) as i64 > 4 * self.cells.len() as i64 {
                // A huge circle over sparse data: walk the occupied cells instead.
                for (&(x, y), &range) in &self.cells {
                    if (x0..=x1).contains(&x) && (y0..=y1).contains(&y) {
                        out.push(self.cell(center, x, y, range, half_diag));
                    }
                }
                continue;
            }
            for x in x0..=x1 {
                for y in y0..=y1 {
                    if let Some(&range) = self.cells.get(&(x, y)) {
                        out.push(self.cell(center, x, y, range, half_diag));
                    }
                }
            }
        }
        out.retain(|c| c.lower_km <= radius_km);
        out
    }

    fn cell(&self, center: LonLat, x: i32, y: i32, (a, b): (u32, u32), half_diag: f64) -> Cell<'_> {
        let mid = LonLat::new((x as f64 + 0.5) * CELL_DEG, (y as f64 + 0.5) * CELL_DEG);
        let approx = approx_distance_km(center, mid);
        Cell {
            events: &self.order[a as usize..b as usize],
            lower_km: (approx / (1.0 + APPROX_MARGIN) - half_diag).max(0.0),
            upper_km: approx * (1.0 + APPROX_MARGIN) + half_diag,
        }
    }
}
