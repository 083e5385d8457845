//! Geometry literals of both encodings, built from their coordinates with the checks CQL2's
//! geometry rules make (finite numbers, 2+ positions a line, closed rings of 4+) and a budget of
//! vertices over the whole filter. Coordinates stay as written: binding puts them in CRS84.

use geo_types::{Coord, Geometry, LineString, Polygon, Rect};

use super::MAX_VERTICES;

/// The vertices the rest of one filter's literals may still hold.
pub struct Budget(usize);

impl Default for Budget {
    fn default() -> Self {
        Budget(MAX_VERTICES)
    }
}

impl Budget {
    /// Takes one vertex from the budget.
    pub fn take(&mut self) -> Result<(), String> {
        self.0 = self
            .0
            .checked_sub(1)
            .ok_or_else(|| format!("the geometry literals hold more than {MAX_VERTICES} positions; send a smaller geometry"))?;
        Ok(())
    }
}

/// A position from its numbers (x y, or x y z with z dropped).
pub fn position(numbers: &[f64], budget: &mut Budget) -> Result<Coord<f64>, String> {
    match numbers {
        [x, y] | [x, y, _] if x.is_finite() && y.is_finite() => {
            budget.take()?;
            Ok(Coord { x: *x, y: *y })
        }
        [_, _] | [_, _, _] => Err("a position has a coordinate that is not a finite number".into()),
        other => Err(format!("a position has {} numbers; give 2 (or 3 with a height)", other.len())),
    }
}

pub fn line(coords: Vec<Coord<f64>>) -> Result<LineString<f64>, String> {
    if coords.len() < 2 {
        return Err(format!("a line has {} position(s); give at least 2", coords.len()));
    }
    Ok(LineString(coords))
}

pub fn ring(coords: Vec<Coord<f64>>) -> Result<LineString<f64>, String> {
    if coords.len() < 4 || coords.first() != coords.last() {
        return Err("a polygon ring needs at least 4 positions, the last equal to the first".into());
    }
    Ok(LineString(coords))
}

pub fn polygon(mut rings: Vec<LineString<f64>>) -> Result<Polygon<f64>, String> {
    if rings.is_empty() {
        return Err("a polygon has no rings".into());
    }
    let exterior = rings.remove(0);
    Ok(Polygon::new(exterior, rings))
}

/// `BBOX(minx, miny, maxx, maxy)` (or 6 numbers with heights) as a polygon.
pub fn bbox(numbers: &[f64], budget: &mut Budget) -> Result<Geometry<f64>, String> {
    let [x0, y0, x1, y1] = crate::ogc::box_corners(numbers).map_err(|e| format!("a bbox {e}"))?;
    if ![x0, y0, x1, y1].iter().all(|v| v.is_finite()) || x0 > x1 || y0 > y1 {
        return Err(
            "a bbox needs finite numbers with its minimum before its maximum on both axes (split a box across the antimeridian in two, joined by OR)"
                .into(),
        );
    }
    for _ in 0..4 {
        budget.take()?;
    }
    Ok(Geometry::Polygon(Rect::new((x0, y0), (x1, y1)).to_polygon()))
}
