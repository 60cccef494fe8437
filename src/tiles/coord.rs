//! XYZ tile coordinates (Web Mercator, EPSG:3857, y from the top like OSM) and the
//! projection between lon/lat, "world" coordinates (0..1 across the whole map) and tile
//! coordinates (0..EXTENT inside one tile).

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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TileCoord {
    pub z: u8,
    pub x: u32,
    pub y: u32,
}

impl TileCoord {
    /// The tile at zoom `z`, column `x`, row `y`.
    ///
    /// ```
    /// use sahel_atlas::tiles::coord::TileCoord;
    /// assert!(TileCoord::new(3, 7, 0).is_ok());
    /// assert!(TileCoord::new(3, 8, 0).is_err());
    /// ```
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

    /// Number of tiles along each axis at this zoom.
    pub fn span(self) -> f64 {
        (1u64 << self.z) as f64
    }

    /// World coordinates -> this tile's coordinates (0..EXTENT inside the tile).
    pub fn to_tile(self, w: [f64; 2]) -> [f64; 2] {
        let s = self.span();
        [
            (w[0] * s - self.x as f64) * EXTENT as f64,
            (w[1] * s - self.y as f64) * EXTENT as f64,
        ]
    }

    /// Whether world point `w` lies in this tile. Tiles are half-open squares, so a point
    /// belongs to exactly one tile per zoom.
    pub fn contains(self, w: [f64; 2]) -> bool {
        let s = self.span();
        (w[0] * s).floor() as i64 == self.x as i64 && (w[1] * s).floor() as i64 == self.y as i64
    }

    /// Where world point `w` sits in this tile, in whole units, if it lies in the tile.
    pub fn point_position(self, w: [f64; 2]) -> Option<[i32; 2]> {
        self.contains(w).then(|| pixel(self.to_tile(w)))
    }

    /// The tile, grown by `margin` tile units on every side, in world coordinates
    /// `[min_x, min_y, max_x, max_y]`.
    pub fn world_bounds(self, margin: f64) -> [f64; 4] {
        let s = self.span();
        let m = margin / EXTENT as f64;
        [
            (self.x as f64 - m) / s,
            (self.y as f64 - m) / s,
            (self.x as f64 + 1.0 + m) / s,
            (self.y as f64 + 1.0 + m) / s,
        ]
    }

    /// The tile grown by `margin` tile units, as a lon/lat envelope (for R-tree queries).
    pub fn lonlat_envelope(self, margin: f64) -> Envelope {
        let [x0, y0, x1, y1] = self.world_bounds(margin);
        let a = unproject([x0.max(0.0), y1.min(1.0)]);
        let b = unproject([x1.min(1.0), y0.max(0.0)]);
        Envelope {
            min: [a.lon, a.lat],
            max: [b.lon, b.lat],
        }
    }
}

/// A position in tile units (inside the tile) as whole units within 0..EXTENT.
pub fn pixel(p: [f64; 2]) -> [i32; 2] {
    let max = EXTENT as i32 - 1;
    [
        (p[0].floor() as i32).clamp(0, max),
        (p[1].floor() as i32).clamp(0, max),
    ]
}

/// lon/lat -> world coordinates: x 0..1 west to east, y 0..1 north to south.
pub fn project(p: LonLat) -> [f64; 2] {
    let lat = p.lat.clamp(-MAX_LAT, MAX_LAT).to_radians();
    let x = (p.lon + 180.0) / 360.0;
    let y = (1.0 - (lat.tan() + 1.0 / lat.cos()).ln() / std::f64::consts::PI) / 2.0;
    [x, y]
}

/// World coordinates -> lon/lat.
pub fn unproject(w: [f64; 2]) -> LonLat {
    let lon = w[0] * 360.0 - 180.0;
    let n = std::f64::consts::PI * (1.0 - 2.0 * w[1]);
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
        assert_eq!(((w[0] * n).floor(), (w[1] * n).floor()), (xt, yt));
        let back = unproject(w);
        assert!((back.lon - lon).abs() < 1e-9 && (back.lat - lat).abs() < 1e-9);
    }
}
