//! Valid polygons after quantisation: MVT 2.1 (4.3.4.4) asks for OGC-valid polygons, and clipping
//! concave rings, Douglas-Peucker and rounding to the integer grid each can break validity (self
//! intersections, spikes, holes that poke out of their shell, multipolygon parts that overlap).
//!
//! [`Repair`] takes one feature's integer rings, exteriors with positive and holes with negative
//! surveyor's area, and decides: a lone ring that is already simple passes untouched (the common
//! case, checked exactly in integers); anything else goes through i_overlay's integer overlay with
//! the *positive* fill rule, which keeps exactly the points covered more by shells than by holes
//! (a hole sticking out of its shell cuts nothing outside it; an island in a lake stays) and
//! returns OGC-valid shapes on the same integer grid, so nothing is rounded after it.
//!
//! Owns ring validity only: projection, clipping and simplification stay in `shape`, encoding in
//! `mvt`.

use i_overlay::core::fill_rule::FillRule;
use i_overlay::core::overlay::{ContourDirection, IntOverlayOptions, Overlay, ShapeType};
use i_overlay::core::overlay_rule::OverlayRule;
use i_overlay::i_float::int::point::IntPoint;

/// Above this many vertices a lone ring skips the quadratic simplicity check and goes straight to
/// the overlay, whose sweep is O(n log n).
const QUADRATIC_CHECK_LIMIT: usize = 64;

/// A reusable integer overlay (its buffers live from feature to feature).
pub struct Repair {
    overlay: Overlay<i32>,
}

impl Default for Repair {
    fn default() -> Self {
        let options = IntOverlayOptions {
            // Positive surveyor's area (clockwise on screen with y down) is an MVT exterior.
            output_direction: ContourDirection::CounterClockwise,
            ..IntOverlayOptions::ogc()
        };
        Repair {
            overlay: Overlay::new_custom(64, options, Default::default()),
        }
    }
}

impl Repair {
    /// Makes the rings in `points` (open rings ending at each of `parts`) one valid polygon or
    /// multipolygon, in place: each exterior followed by its holes, exteriors with positive area.
    /// Rings are appended from `first_part` on; earlier parts are left alone.
    pub fn make_valid(&mut self, points: &mut Vec<[i32; 2]>, parts: &mut Vec<usize>, first_part: usize) {
        let start = if first_part == 0 { 0 } else { parts[first_part - 1] };
        let rings = parts.len() - first_part;
        if rings == 0 {
            return;
        }
        if rings == 1 && ring_is_simple(&points[start..]) {
            return;
        }
        self.overlay.clear();
        let mut from = start;
        for &end in &parts[first_part..] {
            let ring = points[from..end].iter().map(|p| IntPoint::new(p[0], p[1]));
            self.overlay.add_path_iter(ring, ShapeType::Subject);
            from = end;
        }
        let shapes = self.overlay.overlay(OverlayRule::Subject, FillRule::Positive);
        points.truncate(start);
        parts.truncate(first_part);
        for contour in shapes.iter().flatten() {
            points.extend(contour.iter().map(|p| [p.x, p.y]));
            parts.push(points.len());
        }
    }
}

/// Whether an open ring of distinct consecutive points is a simple polygon: at least three
/// points, no spike (an edge folding back on the one before it), and no two non-adjacent edges
/// meeting anywhere. Exact (integer arithmetic); false for rings too long to check cheaply.
pub fn ring_is_simple(ring: &[[i32; 2]]) -> bool {
    let n = ring.len();
    if !(3..=QUADRATIC_CHECK_LIMIT).contains(&n) {
        return false;
    }
    let edge = |i: usize| (ring[i], ring[(i + 1) % n]);
    for i in 0..n {
        let (a, b) = edge(i);
        let c = ring[(i + 2) % n];
        if a == b || (cross(a, b, c) == 0 && dot(a, b, c) > 0) {
            return false;
        }
        // Edges i and j (j > i + 1) are not neighbours unless they close the ring (i = 0, j = n - 1).
        let last = if i == 0 { n - 1 } else { n };
        for j in (i + 2)..last {
            let (c, d) = edge(j);
            if segments_meet(a, b, c, d) {
                return false;
            }
        }
    }
    true
}

/// Twice the signed area of triangle a, b, c (the orientation of c against a→b).
fn cross(a: [i32; 2], b: [i32; 2], c: [i32; 2]) -> i64 {
    let (ax, ay) = (a[0] as i64, a[1] as i64);
    (b[0] as i64 - ax) * (c[1] as i64 - ay) - (b[1] as i64 - ay) * (c[0] as i64 - ax)
}

/// Dot product of b→a and b→c: positive when the path a, b, c turns back on itself.
fn dot(a: [i32; 2], b: [i32; 2], c: [i32; 2]) -> i64 {
    let (bx, by) = (b[0] as i64, b[1] as i64);
    (a[0] as i64 - bx) * (c[0] as i64 - bx) + (a[1] as i64 - by) * (c[1] as i64 - by)
}

/// Whether p lies within the bounding box of segment a-b (for p already collinear with it).
fn within(a: [i32; 2], b: [i32; 2], p: [i32; 2]) -> bool {
    p[0] >= a[0].min(b[0]) && p[0] <= a[0].max(b[0]) && p[1] >= a[1].min(b[1]) && p[1] <= a[1].max(b[1])
}

/// Whether closed segments a-b and c-d share at least one point (crossing or touching).
fn segments_meet(a: [i32; 2], b: [i32; 2], c: [i32; 2], d: [i32; 2]) -> bool {
    let (d1, d2) = (cross(c, d, a), cross(c, d, b));
    let (d3, d4) = (cross(a, b, c), cross(a, b, d));
    if ((d1 > 0 && d2 < 0) || (d1 < 0 && d2 > 0)) && ((d3 > 0 && d4 < 0) || (d3 < 0 && d4 > 0)) {
        return true;
    }
    (d1 == 0 && within(c, d, a)) || (d2 == 0 && within(c, d, b)) || (d3 == 0 && within(a, b, c)) || (d4 == 0 && within(a, b, d))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tiles::shape::signed_area2;

    fn repaired(rings: &[&[[i32; 2]]]) -> (Vec<[i32; 2]>, Vec<usize>) {
        let (mut points, mut parts) = (Vec::new(), Vec::new());
        for r in rings {
            points.extend_from_slice(r);
            parts.push(points.len());
        }
        Repair::default().make_valid(&mut points, &mut parts, 0);
        (points, parts)
    }

    fn areas(points: &[[i32; 2]], parts: &[usize]) -> Vec<i64> {
        let mut from = 0;
        parts
            .iter()
            .map(|&end| {
                let a = signed_area2(&points[from..end]);
                from = end;
                a
            })
            .collect()
    }

    // Exterior rings have positive surveyor's area in these tests (clockwise on screen, y down).
    const SQUARE: [[i32; 2]; 4] = [[0, 0], [10, 0], [10, 10], [0, 10]];

    #[test]
    fn simple_rings_pass_and_bad_ones_are_caught() {
        assert!(signed_area2(&SQUARE) > 0);
        assert!(ring_is_simple(&SQUARE));
        let bowtie = [[0, 0], [10, 10], [10, 0], [0, 10]];
        assert!(!ring_is_simple(&bowtie));
        let spike = [[0, 0], [5, 0], [5, -5], [5, 0], [10, 0], [10, 10], [0, 10]];
        assert!(!ring_is_simple(&spike));
        // Touching itself at one vertex (an inverted hole) is not simple either.
        let pinched = [[0, 0], [5, 5], [10, 0], [10, 10], [5, 5], [0, 10]];
        assert!(!ring_is_simple(&pinched));
        assert!(!ring_is_simple(&[[0, 0], [1, 1]]));
    }

    #[test]
    fn a_simple_ring_is_left_as_it_is() {
        let (points, parts) = repaired(&[&SQUARE]);
        assert_eq!(points, SQUARE.to_vec());
        assert_eq!(parts, vec![4]);
    }

    #[test]
    fn a_twisted_ring_keeps_the_lobe_that_winds_like_an_exterior() {
        // Rounding a thin strip can cross its two sides: the lobe wound backwards is the artefact.
        let (points, parts) = repaired(&[&[[0, 0], [10, 0], [0, 10], [10, 10]]]);
        assert_eq!(areas(&points, &parts), vec![50], "{points:?}");
        assert!(ring_is_simple(&points));
    }

    #[test]
    fn a_hole_poking_out_of_its_shell_cuts_only_inside() {
        let hole = [[5, 5], [5, 8], [15, 8], [15, 5]]; // negative area, half outside
        assert!(signed_area2(&hole) < 0);
        let (points, parts) = repaired(&[&SQUARE, &hole]);
        let a = areas(&points, &parts);
        assert_eq!(a.iter().sum::<i64>(), 200 - 2 * 15, "{points:?} {parts:?}");
        assert!(a.iter().all(|&x| x > 0), "a notch, not a hole: {a:?}");
    }

    #[test]
    fn overlapping_parts_merge_and_an_island_in_a_lake_stays() {
        let shifted: Vec<[i32; 2]> = SQUARE.iter().map(|p| [p[0] + 5, p[1]]).collect();
        let (points, parts) = repaired(&[&SQUARE, &shifted]);
        assert_eq!(areas(&points, &parts), vec![2 * 150]);
        let big = [[0, 0], [30, 0], [30, 30], [0, 30]];
        let lake = [[5, 5], [5, 25], [25, 25], [25, 5]];
        let island = [[10, 10], [20, 10], [20, 20], [10, 20]];
        let (points, parts) = repaired(&[&big, &lake, &island]);
        let a = areas(&points, &parts);
        assert_eq!(a.iter().sum::<i64>(), 2 * (900 - 400 + 100), "{a:?}");
        assert_eq!(a.len(), 3);
    }
}
