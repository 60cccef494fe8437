//! Clipping lines and polygon rings to the buffered tile square, quantising to integer
//! tile units, and MVT v2 ring winding. Done here, before encoding, because the `mvt`
//! crate would clamp outside vertices onto the edge instead of cutting the geometry.

use super::coord::TileUnits;

/// An axis-aligned square in tile units.
#[derive(Debug, Clone, Copy)]
pub struct Rect {
    pub min: f64,
    pub max: f64,
}

impl Rect {
    fn inside(&self, p: TileUnits, edge: usize) -> bool {
        match edge {
            0 => p.0[0] >= self.min,
            1 => p.0[0] <= self.max,
            2 => p.0[1] >= self.min,
            _ => p.0[1] <= self.max,
        }
    }

    fn intersect(&self, a: TileUnits, b: TileUnits, edge: usize) -> TileUnits {
        let (axis, v) = match edge {
            0 => (0, self.min),
            1 => (0, self.max),
            2 => (1, self.min),
            _ => (1, self.max),
        };
        let (a, b) = (a.0, b.0);
        let t = (v - a[axis]) / (b[axis] - a[axis]);
        let mut p = [a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1])];
        p[axis] = v;
        TileUnits(p)
    }
}

/// Sutherland–Hodgman: the part of a closed ring (first point not repeated at the end)
/// inside the rectangle. Parts of the ring running outside come back as edges along the
/// border, which is what a fill needs; the buffer keeps those edges off the visible tile.
pub fn clip_ring(ring: &[TileUnits], r: Rect) -> Vec<TileUnits> {
    let mut out: Vec<TileUnits> = ring.to_vec();
    for edge in 0..4 {
        if out.is_empty() {
            break;
        }
        let input = std::mem::take(&mut out);
        let mut prev = *input.last().expect("non-empty");
        for &cur in &input {
            let (cin, pin) = (r.inside(cur, edge), r.inside(prev, edge));
            if cin {
                if !pin {
                    out.push(r.intersect(prev, cur, edge));
                }
                out.push(cur);
            } else if pin {
                out.push(r.intersect(prev, cur, edge));
            }
            prev = cur;
        }
    }
    out
}

/// Liang–Barsky: the pieces of a polyline inside the rectangle.
pub fn clip_line(line: &[TileUnits], r: Rect) -> Vec<Vec<TileUnits>> {
    let mut parts: Vec<Vec<TileUnits>> = Vec::new();
    let mut current: Vec<TileUnits> = Vec::new();
    for seg in line.windows(2) {
        let (a, b) = (seg[0], seg[1]);
        match clip_segment(a, b, r) {
            Some((p, q, q_is_b)) => {
                if current.last() != Some(&p) {
                    if current.len() > 1 {
                        parts.push(std::mem::take(&mut current));
                    }
                    current.clear();
                    current.push(p);
                }
                current.push(q);
                if !q_is_b {
                    parts.push(std::mem::take(&mut current));
                }
            }
            None => {
                if current.len() > 1 {
                    parts.push(std::mem::take(&mut current));
                }
                current.clear();
            }
        }
    }
    if current.len() > 1 {
        parts.push(current);
    }
    parts
}

/// The visible part of segment a-b, and whether it ends at b itself.
fn clip_segment(a: TileUnits, b: TileUnits, r: Rect) -> Option<(TileUnits, TileUnits, bool)> {
    let (pa, pb) = (a.0, b.0);
    let d = [pb[0] - pa[0], pb[1] - pa[1]];
    let (mut t0, mut t1) = (0.0f64, 1.0f64);
    for axis in 0..2 {
        for (p, q) in [(-d[axis], pa[axis] - r.min), (d[axis], r.max - pa[axis])] {
            if p == 0.0 {
                if q < 0.0 {
                    return None;
                }
            } else {
                let t = q / p;
                if p < 0.0 {
                    t0 = t0.max(t);
                } else {
                    t1 = t1.min(t);
                }
            }
        }
    }
    if t0 > t1 {
        return None;
    }
    let at = |t: f64| TileUnits([pa[0] + t * d[0], pa[1] + t * d[1]]);
    let start = if t0 == 0.0 { a } else { at(t0) };
    let end = if t1 == 1.0 { b } else { at(t1) };
    Some((start, end, t1 == 1.0))
}

/// Rounds to integer tile units and drops repeated points (and a repeated closing point).
pub fn quantize(points: &[TileUnits], closed: bool) -> Vec<[i32; 2]> {
    let mut out: Vec<[i32; 2]> = Vec::with_capacity(points.len());
    for p in points {
        let q = [p.0[0].round() as i32, p.0[1].round() as i32];
        if out.last() != Some(&q) {
            out.push(q);
        }
    }
    if closed {
        while out.len() > 1 && out.first() == out.last() {
            out.pop();
        }
    }
    out
}

/// Twice the signed area by the surveyor's formula in tile coordinates (y down):
/// positive for rings that look clockwise on screen, which MVT v2 requires of exterior
/// rings (interior rings: negative).
pub fn signed_area2(ring: &[[i32; 2]]) -> i64 {
    let n = ring.len();
    (0..n)
        .map(|i| {
            let (a, b) = (ring[i], ring[(i + 1) % n]);
            a[0] as i64 * b[1] as i64 - b[0] as i64 * a[1] as i64
        })
        .sum()
}

/// Orients a ring: exterior rings to positive area, interior rings to negative.
pub fn wind(ring: &mut [[i32; 2]], exterior: bool) {
    let area = signed_area2(ring);
    if (area > 0) != exterior {
        ring.reverse();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn units(points: &[[f64; 2]]) -> Vec<TileUnits> {
        points.iter().map(|&p| TileUnits(p)).collect()
    }

    const R: Rect = Rect {
        min: 0.0,
        max: 10.0,
    };

    #[test]
    fn ring_clipped_to_square() {
        // A square twice the size of the rect, centred on its corner.
        let ring = units(&[[-5.0, -5.0], [5.0, -5.0], [5.0, 5.0], [-5.0, 5.0]]);
        let c = quantize(&clip_ring(&ring, R), true);
        let mut c2 = c.clone();
        wind(&mut c2, true);
        assert_eq!(signed_area2(&c2), 2 * 25);
        assert!(
            c.iter()
                .all(|p| (0..=10).contains(&p[0]) && (0..=10).contains(&p[1]))
        );
        // Entirely outside: nothing left.
        let far = units(&[[20.0, 20.0], [30.0, 20.0], [30.0, 30.0]]);
        assert!(clip_ring(&far, R).is_empty());
    }

    #[test]
    fn line_split_into_visible_parts() {
        // In, out, back in.
        let line = units(&[[1.0, 1.0], [1.0, 20.0], [5.0, 20.0], [5.0, 1.0]]);
        let parts = clip_line(&line, R);
        assert_eq!(
            parts,
            vec![
                units(&[[1.0, 1.0], [1.0, 10.0]]),
                units(&[[5.0, 10.0], [5.0, 1.0]])
            ]
        );
        // Crossing straight through.
        let parts = clip_line(&units(&[[-5.0, 5.0], [15.0, 5.0]]), R);
        assert_eq!(parts, vec![units(&[[0.0, 5.0], [10.0, 5.0]])]);
        assert!(clip_line(&units(&[[-5.0, -5.0], [-1.0, 20.0]]), R).is_empty());
    }

    #[test]
    fn winding_follows_mvt_v2() {
        // Clockwise on screen (y down): right, down, left.
        let mut cw = vec![[0, 0], [10, 0], [10, 10], [0, 10]];
        assert!(signed_area2(&cw) > 0);
        wind(&mut cw, false);
        assert!(signed_area2(&cw) < 0);
        wind(&mut cw, true);
        assert!(signed_area2(&cw) > 0);
    }
}
