//! XYZ tile coordinates (Web Mercator, EPSG:3857, y from the top like OSM) and the three
//! coordinate spaces of tiling, each its own type so one cannot be passed for another:
//! [`LonLat`] (WGS84 degrees), [`Mercator`] (the whole map as a unit square) and
//! [`TileUnits`] (0..EXTENT inside one tile).

use super::TileError;
use crate::geodesy::Envelope;
use crate::model::LonLat;

/// Tile extent in MVT units.
pub const EXTENT: u32 = 4096;
/// How far (in tile units) geometry reaches past each tile edge, so strokes and fills
/// meet seamlessly between tiles.
pub const BUFFER: u32 = 64;
pub const MAX_ZOOM: u8 = 16;

/// Web Mercator's latitude limit: the map is a square.
pub const MAX_LAT: f64 = 85.051_128_779_806_59;

/// Web Mercator (EPSG:3857) scaled to the unit square: x 0..1 west to east, y 0..1
/// north to south (metres are `(x - 0.5) * 40_075_016.686`, y likewise and flipped).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Mercator {
    pub x: f64,
    pub y: f64,
}

/// A box in [`Mercator`] space.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MercatorBox {
    pub min: Mercator,
    pub max: Mercator,
}

impl MercatorBox {
    pub fn intersects(&self, o: &MercatorBox) -> bool {
        self.min.x <= o.max.x
            && o.min.x <= self.max.x
            && self.min.y <= o.max.y
            && o.min.y <= self.max.y
    }
}

/// A position relative to one tile in MVT units, `[x, y]`: 0..EXTENT across the tile
/// from its north-west corner (outside that range: in the buffer or beyond).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TileUnits(pub [f64; 2]);

/// A tile address: XYZ / Web Mercator, y from the top.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TileCoord {
    /// Zoom.
    pub z: u8,
    /// Column, from the west.
    pub x: u32,
    /// Row, from the north.
    pub y: u32,
}

impl TileCoord {
    /// The tile at zoom `z`, column `x`, row `y`.
    ///
    /// ```ignore
    /// use crate::tiles::coord::TileCoord;
    /// assert!(TileCoord::new(3, 7, 0).is_ok());
    /// assert!(TileCoord::new(3, 8, 0).is_err());
    /// ```
    /// (Run as the unit test `doc_example_new`: the module is internal.)
    ///
    /// # Errors
    /// [`TileError::OutsideGrid`] for a zoom over [`MAX_ZOOM`] or a column or row that
    /// does not exist at that zoom.
    pub fn new(z: u8, x: u32, y: u32) -> Result<TileCoord, TileError> {
        let outside = |axis, value| TileError::OutsideGrid {
            axis,
            value,
            z,
            max: if z > MAX_ZOOM { 0 } else { (1u32 << z) - 1 },
        };
        if z > MAX_ZOOM {
            return Err(outside("z", z as u32));
        }
        let n = 1u64 << z;
        if x as u64 >= n {
            return Err(outside("x", x));
        }
        if y as u64 >= n {
            return Err(outside("y", y));
        }
        Ok(TileCoord { z, x, y })
    }

    /// The tile of zoom `z` (at most [`MAX_ZOOM`]) holding map point `w`; points on or
    /// beyond the map's edge go to the edge tile.
    pub fn containing(w: Mercator, z: u8) -> TileCoord {
        let z = z.min(MAX_ZOOM);
        let n = (1u64 << z) as f64;
        let index = |v: f64| (v * n).floor().clamp(0.0, n - 1.0) as u32;
        TileCoord {
            z,
            x: index(w.x),
            y: index(w.y),
        }
    }

    /// Number of tiles along each axis at this zoom.
    pub fn span(self) -> f64 {
        (1u64 << self.z) as f64
    }

    /// A map position in this tile's units.
    pub fn to_tile(self, w: Mercator) -> TileUnits {
        let s = self.span();
        TileUnits([
            (w.x * s - self.x as f64) * EXTENT as f64,
            (w.y * s - self.y as f64) * EXTENT as f64,
        ])
    }

    /// Whether map point `w` lies in this tile. Tiles are half-open squares, so a point
    /// belongs to exactly one tile per zoom.
    pub fn contains(self, w: Mercator) -> bool {
        let s = self.span();
        (w.x * s).floor() as i64 == self.x as i64 && (w.y * s).floor() as i64 == self.y as i64
    }

    /// Where map point `w` sits in this tile, in whole units, if it lies in the tile.
    pub fn point_position(self, w: Mercator) -> Option<[i32; 2]> {
        self.contains(w).then(|| pixel(self.to_tile(w)))
    }

    /// The tile, grown by `margin` tile units on every side.
    pub fn bounds(self, margin: f64) -> MercatorBox {
        let s = self.span();
        let m = margin / EXTENT as f64;
        MercatorBox {
            min: Mercator {
                x: (self.x as f64 - m) / s,
                y: (self.y as f64 - m) / s,
            },
            max: Mercator {
                x: (self.x as f64 + 1.0 + m) / s,
                y: (self.y as f64 + 1.0 + m) / s,
            },
        }
    }

    /// The tile grown by `margin` tile units, as a lon/lat envelope (for R-tree queries).
    pub fn lonlat_envelope(self, margin: f64) -> Envelope {
        let MercatorBox { min, max } = self.bounds(margin);
        let a = unproject(Mercator {
            x: min.x.max(0.0),
            y: max.y.min(1.0),
        });
        let b = unproject(Mercator {
            x: max.x.min(1.0),
            y: min.y.max(0.0),
        });
        Envelope {
            min: [a.lon, a.lat],
            max: [b.lon, b.lat],
        }
    }
}

/// A position inside the tile as whole units within 0..EXTENT.
pub fn pixel(p: TileUnits) -> [i32; 2] {
    let max = EXTENT as i32 - 1;
    let [x, y] = p.0;
    [
        (x.floor() as i32).clamp(0, max),
        (y.floor() as i32).clamp(0, max),
    ]
}

/// lon/lat -> the map square (latitudes beyond Web Mercator's limit are clamped to it).
pub fn project(p: LonLat) -> Mercator {
    let lat = p.lat.clamp(-MAX_LAT, MAX_LAT).to_radians();
    let x = (p.lon + 180.0) / 360.0;
    let y = (1.0 - (lat.tan() + 1.0 / lat.cos()).ln() / std::f64::consts::PI) / 2.0;
    Mercator { x, y }
}

/// The map square -> lon/lat.
pub fn unproject(w: Mercator) -> LonLat {
    let lon = w.x * 360.0 - 180.0;
    let n = std::f64::consts::PI * (1.0 - 2.0 * w.y);
    LonLat::new(lon, n.sinh().atan().to_degrees())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_tile_addresses() {
        assert_eq!(
            TileCoord::new(0, 0, 0).ok(),
            Some(TileCoord { z: 0, x: 0, y: 0 })
        );
        assert_eq!(
            TileCoord::new(6, 31, 29).ok(),
            Some(TileCoord { z: 6, x: 31, y: 29 })
        );
        let axis = |r: Result<TileCoord, TileError>| match r {
            Err(TileError::OutsideGrid { axis, .. }) => axis,
            other => panic!("{other:?}"),
        };
        assert_eq!(axis(TileCoord::new(17, 0, 0)), "z");
        assert_eq!(axis(TileCoord::new(2, 4, 0)), "x");
        assert_eq!(axis(TileCoord::new(2, 0, 4)), "y");
        assert_eq!(axis(TileCoord::new(16, u32::MAX, 0)), "x");
    }

    /// Mopti (14.4843 N, 4.18296 W) is in OSM tile 10/500/470: check against the standard
    /// slippy-map formula written out independently.
    #[test]
    fn projection_matches_the_slippy_map_formula() {
        let (lon, lat): (f64, f64) = (-4.18296, 14.4843);
        let n = 1024.0;
        let xt = ((lon + 180.0) / 360.0 * n).floor();
        let lr = lat.to_radians();
        let yt =
            ((1.0 - (lr.tan() + 1.0 / lr.cos()).ln() / std::f64::consts::PI) / 2.0 * n).floor();
        assert_eq!((xt, yt), (500.0, 470.0));
        let w = project(LonLat::new(lon, lat));
        assert_eq!(((w.x * n).floor(), (w.y * n).floor()), (xt, yt));
        assert_eq!(
            TileCoord::containing(w, 10),
            TileCoord {
                z: 10,
                x: 500,
                y: 470
            }
        );
        let back = unproject(w);
        assert!((back.lon - lon).abs() < 1e-9 && (back.lat - lat).abs() < 1e-9);
    }
}

#[cfg(test)]
mod doc_examples {
    #[test]
    fn doc_example_new() {
        use crate::tiles::coord::TileCoord;
        assert!(TileCoord::new(3, 7, 0).is_ok());
        assert!(TileCoord::new(3, 8, 0).is_err());
    }
}
