//! Fast point-in-polygon for testing millions of points against a few detailed polygons.
//! Each polygon's ring edges are bucketed by latitude band, so a test looks only at the
//! few edges that cross the point's latitude instead of at every vertex.

use geo::{BoundingRect, MultiPolygon};

use crate::model::LonLat;

/// A multipolygon (holes included) prepared for repeated point tests.
#[derive(Debug, Clone)]
pub struct BandedPolygon {
    bbox: [f64; 4],
    band_height: f64,
    /// Per band: edges (x1, y1, x2, y2) whose latitude span overlaps the band.
    bands: Vec<Vec<[f64; 4]>>,
}

impl BandedPolygon {
    pub fn new(m: &MultiPolygon<f64>) -> BandedPolygon {
        let Some(r) = m.bounding_rect() else {
            return BandedPolygon {
                bbox: [f64::NAN; 4],
                band_height: 1.0,
                bands: vec![Vec::new()],
            };
        };
        let edges: Vec<[f64; 4]> =
            m.0.iter()
                .flat_map(|p| std::iter::once(p.exterior()).chain(p.interiors()))
                .flat_map(|ring| ring.lines())
                .map(|l| [l.start.x, l.start.y, l.end.x, l.end.y])
                .filter(|e| e[1] != e[3])
                .collect();
        let n = (edges.len() / 4).clamp(1, 4096);
        let (y0, h) = (r.min().y, (r.max().y - r.min().y).max(1e-12) / n as f64);
        let mut bands = vec![Vec::new(); n];
        let band = |y: f64| (((y - y0) / h) as usize).min(n - 1);
        for e in edges {
            let (lo, hi) = (e[1].min(e[3]), e[1].max(e[3]));
            for b in &mut bands[band(lo)..=band(hi)] {
                b.push(e);
            }
        }
        BandedPolygon {
            bbox: [r.min().x, r.min().y, r.max().x, r.max().y],
            band_height: h,
            bands,
        }
    }

    /// Even-odd ray casting towards +x. Points exactly on an edge may go either way.
    ///
    /// ```ignore
    /// use geo::{polygon, MultiPolygon};
    /// use crate::model::LonLat;
    /// use crate::pip::BandedPolygon;
    /// let square_with_hole = MultiPolygon(vec![polygon!(
    ///     exterior: [(x: 0., y: 0.), (x: 10., y: 0.), (x: 10., y: 10.), (x: 0., y: 10.)],
    ///     interiors: [[(x: 4., y: 4.), (x: 6., y: 4.), (x: 6., y: 6.), (x: 4., y: 6.)]],
    /// )]);
    /// let p = BandedPolygon::new(&square_with_hole);
    /// assert!(p.contains(LonLat::new(1.0, 1.0)));
    /// assert!(!p.contains(LonLat::new(5.0, 5.0)));
    /// assert!(!p.contains(LonLat::new(11.0, 5.0)));
    /// ```
    /// (Run as the unit test `doc_example_contains`: the module is internal.)
    pub fn contains(&self, p: LonLat) -> bool {
        let [x0, y0, x1, y1] = self.bbox;
        if !(p.lon >= x0 && p.lon <= x1 && p.lat >= y0 && p.lat <= y1) {
            return false;
        }
        let b = (((p.lat - y0) / self.band_height) as usize).min(self.bands.len() - 1);
        let mut inside = false;
        for &[ax, ay, bx, by] in &self.bands[b] {
            if (ay > p.lat) != (by > p.lat) {
                let x = ax + (p.lat - ay) * (bx - ax) / (by - ay);
                if x > p.lon {
                    inside = !inside;
                }
            }
        }
        inside
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::{Contains, Point};

    /// Agrees with geo's own containment test on a real region at many points.
    #[test]
    fn agrees_with_geo_on_a_region() {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/geodata/regions.geojson"
        ))
        .unwrap();
        let fc: geojson::FeatureCollection = text
            .parse::<geojson::GeoJson>()
            .unwrap()
            .try_into()
            .unwrap();
        for f in &fc.features {
            let g: geo::Geometry<f64> = f.geometry.as_ref().unwrap().try_into().unwrap();
            let m = match g {
                geo::Geometry::Polygon(p) => MultiPolygon(vec![p]),
                geo::Geometry::MultiPolygon(m) => m,
                _ => unreachable!(),
            };
            let banded = BandedPolygon::new(&m);
            let r = m.bounding_rect().unwrap();
            let mut inside = 0;
            for i in 0..60 {
                for j in 0..60 {
                    let p = LonLat::new(
                        r.min().x - 0.1 + (r.width() + 0.2) * (i as f64 + 0.37) / 60.0,
                        r.min().y - 0.1 + (r.height() + 0.2) * (j as f64 + 0.61) / 60.0,
                    );
                    let want = m.contains(&Point::new(p.lon, p.lat));
                    assert_eq!(banded.contains(p), want, "{p:?}");
                    inside += want as usize;
                }
            }
            assert!(inside > 0);
        }
    }
}

#[cfg(test)]
mod doc_examples {
    #[test]
    fn doc_example_contains() {
        use crate::atlas::pip::BandedPolygon;
        use crate::model::LonLat;
        use geo::{MultiPolygon, polygon};
        let square_with_hole = MultiPolygon(vec![polygon!(
            exterior: [(x: 0., y: 0.), (x: 10., y: 0.), (x: 10., y: 10.), (x: 0., y: 10.)],
            interiors: [[(x: 4., y: 4.), (x: 6., y: 4.), (x: 6., y: 6.), (x: 4., y: 6.)]],
        )]);
        let p = BandedPolygon::new(&square_with_hole);
        assert!(p.contains(LonLat::new(1.0, 1.0)));
        assert!(!p.contains(LonLat::new(5.0, 5.0)));
        assert!(!p.contains(LonLat::new(11.0, 5.0)));
    }
}
