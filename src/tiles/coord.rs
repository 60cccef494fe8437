//! XYZ tile coordinates (Web Mercator, EPSG:3857, y from the top like OSM) and the
//! projection between lon/lat, "world" coordinates (0..1 across the whole map) and tile
//! coordinates (0..EXTENT inside one tile).

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

/// Why a tile address is not valid.
#[derive(Debug, Clone, PartialEq)]
pub enum TileError {
    Zoom(String),
    X(String),
    Y(String),
}

impl TileCoord {
    /// Parses path segments `z`, `x`, `y` (digits only) and checks their ranges.
    pub fn parse(z: &str, x: &str, y: &str) -> Result<TileCoord, TileError> {
        let digits =
            |s: &str| !s.is_empty() && s.len() <= 10 && s.bytes().all(|b| b.is_ascii_digit());
        let z: u8 = (digits(z) && z.len() <= 2)
            .then(|| z.parse().ok())
            .flatten()
            .filter(|&z| z <= MAX_ZOOM)
            .ok_or_else(|| TileError::Zoom(format!("{z:?} is not a zoom level 0..{MAX_ZOOM}")))?;
        let n = 1u64 << z;
        let check = |v: &str| -> Option<u32> {
            digits(v)
                .then(|| v.parse::<u64>().ok())
                .flatten()
                .filter(|&v| v < n)
                .map(|v| v as u32)
        };
        let x = check(x).ok_or_else(|| {
            TileError::X(format!("{x:?} is not a column 0..{} at zoom {z}", n - 1))
        })?;
        let y = check(y)
            .ok_or_else(|| TileError::Y(format!("{y:?} is not a row 0..{} at zoom {z}", n - 1)))?;
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
    fn parses_and_bounds_tile_addresses() {
        assert_eq!(
            TileCoord::parse("0", "0", "0"),
            Ok(TileCoord { z: 0, x: 0, y: 0 })
        );
        assert_eq!(
            TileCoord::parse("6", "31", "29"),
            Ok(TileCoord { z: 6, x: 31, y: 29 })
        );
        assert!(matches!(
            TileCoord::parse("17", "0", "0"),
            Err(TileError::Zoom(_))
        ));
        assert!(matches!(
            TileCoord::parse("-1", "0", "0"),
            Err(TileError::Zoom(_))
        ));
        assert!(matches!(
            TileCoord::parse("2", "4", "0"),
            Err(TileError::X(_))
        ));
        assert!(matches!(
            TileCoord::parse("2", "0", "4"),
            Err(TileError::Y(_))
        ));
        assert!(matches!(
            TileCoord::parse("2", "+1", "0"),
            Err(TileError::X(_))
        ));
        assert!(matches!(
            TileCoord::parse("2", "1.0", "0"),
            Err(TileError::X(_))
        ));
        assert!(matches!(
            TileCoord::parse("16", "99999999999999", "0"),
            Err(TileError::X(_))
        ));
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
