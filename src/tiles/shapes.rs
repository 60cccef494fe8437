//! Line and polygon geometry prepared once at start-up: projected to world coordinates
//! and simplified for each zoom, so a tile request only selects, clips and encodes.

use geo::{BoundingRect, Geometry, LineString, MapCoords, MultiLineString, MultiPolygon, Simplify};

use super::clip::{Rect, clip_line, clip_ring, quantize, wind};
use super::coord::{EXTENT, Mercator, MercatorBox, TileCoord, TileUnits, project};
use crate::model::LonLat;

/// Zooms up to this one get their own simplified geometry; deeper zooms reuse it.
pub const SIMPLIFY_MAX_ZOOM: u8 = 12;
/// Douglas–Peucker tolerance in tile units (4096 per tile): a quarter of a screen pixel
/// on a 512 px tile, well under what a viewer can see.
const SIMPLIFY_UNITS: f64 = 2.0;

/// Polygons or lines, in [`Mercator`] coordinates (`geo` types, so that `geo` can
/// simplify them).
#[derive(Debug, Clone)]
pub enum WorldGeom {
    Polygons(MultiPolygon<f64>),
    Lines(MultiLineString<f64>),
}

/// One feature's geometry at every zoom level, with its bounding box.
#[derive(Debug, Clone)]
pub struct Shape {
    levels: Vec<WorldGeom>,
    bbox: MercatorBox,
}

impl Shape {
    /// Projects a lon/lat geometry and simplifies it per zoom. Points and collections
    /// are not shapes (points are drawn from the atlas directly).
    pub fn new(lonlat: &Geometry<f64>) -> Option<Shape> {
        let world = lonlat.map_coords(|c| {
            let w = project(LonLat::new(c.x, c.y));
            geo::coord! { x: w.x, y: w.y }
        });
        let base = match world {
            Geometry::Polygon(p) => WorldGeom::Polygons(MultiPolygon(vec![p])),
            Geometry::MultiPolygon(m) => WorldGeom::Polygons(m),
            Geometry::LineString(l) => WorldGeom::Lines(MultiLineString(vec![l])),
            Geometry::MultiLineString(m) => WorldGeom::Lines(m),
            _ => return None,
        };
        let rect = match &base {
            WorldGeom::Polygons(m) => m.bounding_rect()?,
            WorldGeom::Lines(m) => m.bounding_rect()?,
        };
        let levels = (0..=SIMPLIFY_MAX_ZOOM)
            .map(|z| {
                let eps = SIMPLIFY_UNITS / (EXTENT as f64 * (1u64 << z) as f64);
                match &base {
                    WorldGeom::Polygons(m) => WorldGeom::Polygons(m.simplify(eps)),
                    WorldGeom::Lines(m) => WorldGeom::Lines(m.simplify(eps)),
                }
            })
            .collect();
        Some(Shape {
            levels,
            bbox: MercatorBox {
                min: Mercator {
                    x: rect.min().x,
                    y: rect.min().y,
                },
                max: Mercator {
                    x: rect.max().x,
                    y: rect.max().y,
                },
            },
        })
    }

    /// The geometry cut to the tile plus `buffer` and quantised: `None` when nothing
    /// of it is left (or only degenerate slivers).
    pub fn in_tile(&self, t: TileCoord, buffer: f64) -> Option<TileGeom> {
        if !self.bbox.intersects(&t.bounds(buffer)) {
            return None;
        }
        let rect = Rect {
            min: -buffer,
            max: EXTENT as f64 + buffer,
        };
        let to_tile = |ls: &LineString<f64>| -> Vec<TileUnits> {
            ls.0.iter()
                .map(|c| t.to_tile(Mercator { x: c.x, y: c.y }))
                .collect()
        };
        match &self.levels[t.z.min(SIMPLIFY_MAX_ZOOM) as usize] {
            WorldGeom::Polygons(m) => {
                let mut polygons = Vec::new();
                for p in &m.0 {
                    let Some(exterior) = ring_in_tile(&to_tile(p.exterior()), rect, true) else {
                        continue;
                    };
                    let mut rings = vec![exterior];
                    rings.extend(
                        p.interiors()
                            .iter()
                            .filter_map(|r| ring_in_tile(&to_tile(r), rect, false)),
                    );
                    polygons.push(rings);
                }
                (!polygons.is_empty()).then_some(TileGeom::Polygons(polygons))
            }
            WorldGeom::Lines(m) => {
                let lines: Vec<Vec<[i32; 2]>> =
                    m.0.iter()
                        .flat_map(|l| clip_line(&to_tile(l), rect))
                        .map(|part| quantize(&part, false))
                        .filter(|q| q.len() >= 2)
                        .collect();
                (!lines.is_empty()).then_some(TileGeom::Lines(lines))
            }
        }
    }
}

/// A ring clipped, quantised and wound; `None` if it collapses to no area.
pub fn ring_in_tile(ring: &[TileUnits], rect: Rect, exterior: bool) -> Option<Vec<[i32; 2]>> {
    let open = match ring.split_last() {
        Some((last, rest)) if Some(last) == rest.first() => rest,
        _ => ring,
    };
    let mut q = quantize(&clip_ring(open, rect), true);
    if q.len() < 3 || super::clip::signed_area2(&q) == 0 {
        return None;
    }
    wind(&mut q, exterior);
    Some(q)
}

/// Geometry in one tile's integer coordinates, ready to encode.
#[derive(Debug, Clone, PartialEq)]
pub enum TileGeom {
    /// Each polygon: exterior ring first (positive area), then holes (negative); rings
    /// are open (the first point is not repeated).
    Polygons(Vec<Vec<Vec<[i32; 2]>>>),
    Lines(Vec<Vec<[i32; 2]>>),
}
