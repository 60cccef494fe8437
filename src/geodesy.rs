//! Distances, destination points and circles on the WGS84 ellipsoid (Karney's method via
//! `geo::Geodesic`), plus the conservative lon/lat envelope used to pre-filter R-tree
//! candidates before the exact geodesic test.

use geo::{Destination, Distance, Geodesic, LineString, Point, Polygon};

use crate::model::LonLat;

/// Smallest radius of curvature of the WGS84 ellipsoid (the meridional radius at the
/// equator, a(1-e²)), in km. Turning a distance into an angle with it overestimates the
/// angle anywhere on the ellipsoid, which is what a pre-filter needs.
const MIN_CURVATURE_RADIUS_KM: f64 = 6_335.439;

/// Extra relative margin on top of that, for the sphere-vs-ellipsoid difference in the
/// longitude bound.
const MARGIN: f64 = 1.01;

/// Geodesic distance in km between two lon/lat points on WGS84.
///
/// ```ignore
/// use crate::geodesy::distance_km;
/// use crate::model::LonLat;
/// // Bamako -> Mopti: 459.907 km (GeographicLib).
/// let d = distance_km(LonLat::new(-7.97522, 12.60915), LonLat::new(-4.18296, 14.48430));
/// assert!((d - 459.907).abs() < 0.001);
/// ```
/// (Run as the unit test `doc_example_distance_km`: the module is internal.)
pub fn distance_km(a: LonLat, b: LonLat) -> f64 {
    Geodesic.distance(Point::new(a.lon, a.lat), Point::new(b.lon, b.lat)) / 1000.0
}

/// WGS84 equatorial radius (km) and flattening.
const WGS84_A_KM: f64 = 6_378.137;
const WGS84_F: f64 = 1.0 / 298.257_223_563;

/// Relative error bound trusted for [`approx_distance_km`]: the estimate is within
/// 0.005% of Karney's distance everywhere from 1 m to 1,000 km (see the test below); this
/// margin is four times that.
pub const APPROX_MARGIN: f64 = 0.0002;

/// Andoyer–Lambert distance in km: the spherical distance with a first-order correction
/// for the ellipsoid's flattening. Cheap (a few trig calls), within `APPROX_MARGIN / 4`
/// of the geodesic up to 1,000 km: used to settle clear cases and to rank, never reported.
pub fn approx_distance_km(a: LonLat, b: LonLat) -> f64 {
    let (p1, p2) = (a.lat.to_radians(), b.lat.to_radians());
    let f_ = (p1 + p2) / 2.0;
    let g = (p1 - p2) / 2.0;
    let l = (a.lon - b.lon).to_radians() / 2.0;
    let (sg, cg, sf, cf, sl, cl) = (g.sin(), g.cos(), f_.sin(), f_.cos(), l.sin(), l.cos());
    let s = sg * sg * cl * cl + cf * cf * sl * sl;
    let c = cg * cg * cl * cl + sf * sf * sl * sl;
    if s <= 0.0 {
        return 0.0;
    }
    if c <= 0.0 {
        return std::f64::consts::PI * WGS84_A_KM;
    }
    let w = (s / c).sqrt().atan();
    let r = (s * c).sqrt() / w;
    let d = 2.0 * w * WGS84_A_KM;
    let h1 = (3.0 * r - 1.0) / (2.0 * c);
    let h2 = (3.0 * r + 1.0) / (2.0 * s);
    d * (1.0 + WGS84_F * h1 * sf * sf * cg * cg - WGS84_F * h2 * cf * cf * sg * sg)
}

/// The point reached from `origin` going `distance_km` along initial `bearing_deg`
/// (0 = north, 90 = east).
pub fn destination(origin: LonLat, bearing_deg: f64, distance_km: f64) -> LonLat {
    let p = Geodesic.destination(
        Point::new(origin.lon, origin.lat),
        bearing_deg,
        distance_km * 1000.0,
    );
    LonLat::new(p.x(), p.y())
}

/// A geodesic circle: `segments` points at exactly `radius_km` from `center`, as a
/// closed counter-clockwise polygon ring.
pub fn circle(center: LonLat, radius_km: f64, segments: usize) -> Polygon<f64> {
    let n = segments.max(8);
    let mut ring: Vec<(f64, f64)> = (0..n)
        .map(|i| {
            // Going through bearings 360 -> 0 traces the ring counter-clockwise.
            let bearing = 360.0 - 360.0 * i as f64 / n as f64;
            let p = destination(center, bearing % 360.0, radius_km);
            (p.lon, p.lat)
        })
        .collect();
    ring.push(ring[0]);
    Polygon::new(LineString::from(ring), vec![])
}

/// An axis-aligned lon/lat box, `min` and `max` corners in degrees.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Envelope {
    pub min: [f64; 2],
    pub max: [f64; 2],
}

/// Boxes (one, or two when the circle crosses the antimeridian) that contain every point
/// within `radius_km` geodesic distance of `center`. They are deliberately loose; the
/// caller must still test each candidate with [`distance_km`].
pub fn search_envelopes(center: LonLat, radius_km: f64) -> Vec<Envelope> {
    let rho = (radius_km / MIN_CURVATURE_RADIUS_KM * MARGIN).to_degrees();
    let min_lat = (center.lat - rho).max(-90.0);
    let max_lat = (center.lat + rho).min(90.0);
    // A cap of angular radius rho around latitude phi spans asin(sin rho / cos phi) in
    // longitude, unless it reaches a pole, in which case it spans every longitude.
    let spans_pole = center.lat.abs() + rho >= 90.0;
    let sin_ratio = rho.to_radians().sin() / center.lat.to_radians().cos();
    if spans_pole || rho >= 90.0 || sin_ratio >= 1.0 {
        return vec![Envelope {
            min: [-180.0, min_lat],
            max: [180.0, max_lat],
        }];
    }
    let dlon = sin_ratio.asin().to_degrees() * MARGIN;
    let (west, east) = (center.lon - dlon, center.lon + dlon);
    if west < -180.0 {
        vec![
            Envelope {
                min: [west + 360.0, min_lat],
                max: [180.0, max_lat],
            },
            Envelope {
                min: [-180.0, min_lat],
                max: [east, max_lat],
            },
        ]
    } else if east > 180.0 {
        vec![
            Envelope {
                min: [west, min_lat],
                max: [180.0, max_lat],
            },
            Envelope {
                min: [-180.0, min_lat],
                max: [east - 360.0, max_lat],
            },
        ]
    } else {
        vec![Envelope {
            min: [west, min_lat],
            max: [east, max_lat],
        }]
    }
}

/// `env` grown to contain every point within `km` geodesic distance of it, clamped to
/// the lon/lat range (it does not wrap across the antimeridian). Loose, like
/// [`search_envelopes`]: the same angle bound, with the longitude bound taken at the
/// box's latitude farthest from the equator, where a degree of longitude is shortest.
///
/// ```ignore
/// use crate::geodesy::{Envelope, expand_envelope};
/// let e = expand_envelope(Envelope { min: [-5.0, 14.0], max: [-4.0, 15.0] }, 100.0);
/// assert!(e.min[1] < 14.0 - 0.9 && e.max[0] > -4.0 + 0.93);
/// ```
/// (Run as the unit test `doc_example_expand_envelope`: the module is internal.)
pub fn expand_envelope(env: Envelope, km: f64) -> Envelope {
    let rho = (km / MIN_CURVATURE_RADIUS_KM * MARGIN).to_degrees();
    let min_lat = (env.min[1] - rho).max(-90.0);
    let max_lat = (env.max[1] + rho).min(90.0);
    let far_lat = min_lat.abs().max(max_lat.abs());
    let sin_ratio = rho.to_radians().sin() / far_lat.to_radians().cos();
    let dlon = if far_lat >= 90.0 || sin_ratio >= 1.0 {
        360.0
    } else {
        sin_ratio.asin().to_degrees() * MARGIN
    };
    Envelope {
        min: [(env.min[0] - dlon).max(-180.0), min_lat],
        max: [(env.max[0] + dlon).min(180.0), max_lat],
    }
}

impl Envelope {
    pub fn contains(&self, p: LonLat) -> bool {
        self.min[0] <= p.lon && p.lon <= self.max[0] && self.min[1] <= p.lat && p.lat <= self.max[1]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Points just inside the radius, in every direction and at many latitudes, must fall
    /// inside the pre-filter envelope; otherwise the R-tree would drop true matches.
    #[test]
    fn envelope_contains_every_point_of_the_circle() {
        for &lat in &[-89.0, -60.0, -15.0, 0.0, 14.5, 45.0, 70.0, 85.0, 89.9] {
            for &lon in &[-179.9, -4.18, 0.0, 179.5] {
                for &r in &[0.001, 1.0, 50.0, 300.0, 2000.0, 5000.0] {
                    let c = LonLat::new(lon, lat);
                    let envs = search_envelopes(c, r);
                    for i in 0..360 {
                        let p = destination(c, i as f64, r * 0.999_999);
                        assert!(
                            envs.iter().any(|e| e.contains(p)),
                            "{p:?} at {r} km from {c:?} bearing {i} outside {envs:?}"
                        );
                    }
                }
            }
        }
    }

    /// Points within the distance of a box's edges and corners, at many latitudes and
    /// sizes, fall inside the grown box.
    #[test]
    fn expanded_envelope_contains_every_point_within_the_distance() {
        for &lat in &[-70.0, -20.0, 0.0, 12.0, 24.0, 60.0, 80.0] {
            for &(w, h) in &[(0.01, 0.01), (1.0, 0.5), (8.0, 6.0)] {
                for &km in &[0.5, 20.0, 300.0] {
                    let env = Envelope {
                        min: [-4.0, lat],
                        max: [-4.0 + w, (lat + h).min(89.0)],
                    };
                    let grown = expand_envelope(env, km);
                    let (x0, x1, y0, y1) = (env.min[0], env.max[0], env.min[1], env.max[1]);
                    for k in 0..=20 {
                        let f = k as f64 / 20.0;
                        let edge = [
                            LonLat::new(x0 + f * (x1 - x0), y0),
                            LonLat::new(x0 + f * (x1 - x0), y1),
                            LonLat::new(x0, y0 + f * (y1 - y0)),
                            LonLat::new(x1, y0 + f * (y1 - y0)),
                        ];
                        for p in edge {
                            for b in (0..360).step_by(10) {
                                let q = destination(p, b as f64, km * 0.999_999);
                                assert!(grown.contains(q), "{q:?} {km} km from {p:?}: {grown:?}");
                            }
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn circle_points_are_at_the_radius() {
        let c = LonLat::new(-4.18296, 14.4843);
        let poly = circle(c, 50.0, 64);
        assert_eq!(poly.exterior().0.len(), 65);
        for p in poly.exterior().points() {
            let d = distance_km(c, LonLat::new(p.x(), p.y()));
            assert!((d - 50.0).abs() < 1e-6, "{d}");
        }
        use geo::Orient;
        use geo::orient::Direction;
        assert_eq!(poly.orient(Direction::Default), poly);
    }

    /// The bound `APPROX_MARGIN` relies on: the estimate within 0.005% of Karney's
    /// distance, everywhere, from 1 m to 1,000 km (the largest query radius), in every
    /// direction.
    #[test]
    fn approx_distance_stays_within_the_margin() {
        let mut worst: f64 = 0.0;
        for lat in (-85..=85).step_by(5) {
            for bearing in (0..360).step_by(15) {
                for &d in &[0.001, 0.05, 1.0, 10.0, 50.0, 300.0, 1000.0] {
                    let a = LonLat::new(-4.0, lat as f64);
                    let b = destination(a, bearing as f64, d);
                    let rel = (approx_distance_km(a, b) - d).abs() / d;
                    worst = worst.max(rel);
                }
            }
        }
        assert!(worst < 0.00005, "{worst}");
        assert!(4.0 * worst <= APPROX_MARGIN);
    }

    /// The DESIGN.md reference: haversine is ~0.5% off near 15N; geodesic must not be.
    #[test]
    fn one_degree_of_latitude_near_15n() {
        let d = distance_km(LonLat::new(-4.0, 14.5), LonLat::new(-4.0, 15.5));
        // Meridian arc 14.5..15.5 N on WGS84 is 110.65 km (GeographicLib).
        assert!((d - 110.65).abs() < 0.01, "{d}");
    }
}

#[cfg(test)]
mod doc_examples {
    #[test]
    fn doc_example_expand_envelope() {
        use crate::geodesy::{Envelope, expand_envelope};
        let e = expand_envelope(
            Envelope {
                min: [-5.0, 14.0],
                max: [-4.0, 15.0],
            },
            100.0,
        );
        assert!(e.min[1] < 14.0 - 0.9 && e.max[0] > -4.0 + 0.93);
    }

    #[test]
    fn doc_example_distance_km() {
        use crate::geodesy::distance_km;
        use crate::model::LonLat;
        // Bamako -> Mopti: 459.907 km (GeographicLib).
        let d = distance_km(
            LonLat::new(-7.97522, 12.60915),
            LonLat::new(-4.18296, 14.48430),
        );
        assert!((d - 459.907).abs() < 0.001);
    }
}
