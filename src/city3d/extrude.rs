//! LoD1 extrusion: a footprint (polygon with holes, or several) becomes a closed solid of roof,
//! floor and walls with outward normals, appended to a tile's vertex buffers. Positions are ECEF
//! metres relative to the tile centre, in glTF's y-up axes, as float32 (exact to millimetres within
//! a tile). Cleans rings (closing and repeated points, collapsed holes) and drops zero-area
//! triangles, so no degenerate triangle reaches a client.

use geo_types::{LineString, Polygon};

use super::building::{polygons, ring_area_m2, MIN_FOOTPRINT_M2, M_PER_DEG};
use super::geodesy::{ecef_to_gltf, Frame};
use crate::feature::Feature;

/// Vertex and index buffers of one primitive (one colour) of a tile.
#[derive(Debug, Default, Clone)]
pub struct Mesh {
    pub positions: Vec<[f32; 3]>,
    pub normals: Vec<[f32; 3]>,
    /// Row of the building in the tile's property table, as EXT_mesh_features wants: FLOAT.
    pub feature_ids: Vec<f32>,
    pub indices: Vec<u32>,
    /// How many buildings contributed (the primitive's `featureCount`).
    pub features: u32,
}

/// Points closer than this (m) are one point.
const SAME_POINT_M: f64 = 1e-3;
/// Triangles smaller than this (m²) are degenerate.
const MIN_TRIANGLE_M2: f64 = 1e-6;

/// One cleaned ring: geodetic frames of its vertices and local metric coordinates for
/// triangulation, counter-clockwise for an exterior, clockwise for a hole.
struct Ring {
    frames: Vec<Frame>,
    local: Vec<[f64; 2]>,
}

/// Local metres east/north of `origin`: for triangulation and orientation only.
fn local_xy(origin: (f64, f64), kx: f64, x: f64, y: f64) -> [f64; 2] {
    [(x - origin.0) * kx, (y - origin.1) * M_PER_DEG]
}

fn clean_ring(ring: &LineString<f64>, origin: (f64, f64), kx: f64, counter_clockwise: bool) -> Option<Ring> {
    let mut points: Vec<(f64, f64)> = Vec::with_capacity(ring.0.len());
    let mut local: Vec<[f64; 2]> = Vec::with_capacity(ring.0.len());
    for c in &ring.0 {
        let xy = local_xy(origin, kx, c.x, c.y);
        if local
            .last()
            .is_some_and(|p: &[f64; 2]| (p[0] - xy[0]).hypot(p[1] - xy[1]) < SAME_POINT_M)
        {
            continue;
        }
        points.push((c.x, c.y));
        local.push(xy);
    }
    // The closing point (and any run of repeats before it) duplicates the first one.
    let same_as_first = |p: &[f64; 2], first: &[f64; 2]| (p[0] - first[0]).hypot(p[1] - first[1]) < SAME_POINT_M;
    while local.len() > 1 && same_as_first(&local[local.len() - 1], &local[0]) {
        points.pop();
        local.pop();
    }
    if local.len() < 3 {
        return None;
    }
    let twice_area: f64 = (0..local.len())
        .map(|i| {
            let (a, b) = (local[i], local[(i + 1) % local.len()]);
            a[0] * b[1] - b[0] * a[1]
        })
        .sum();
    if twice_area.abs() / 2.0 < MIN_FOOTPRINT_M2 {
        return None;
    }
    if (twice_area > 0.0) != counter_clockwise {
        points.reverse();
        local.reverse();
    }
    Some(Ring {
        frames: points.iter().map(|&(x, y)| Frame::at(x, y)).collect(),
        local,
    })
}

fn relative(p: [f64; 3], center: [f64; 3]) -> [f32; 3] {
    let g = ecef_to_gltf([p[0] - center[0], p[1] - center[1], p[2] - center[2]]);
    [g[0] as f32, g[1] as f32, g[2] as f32]
}

fn unit_gltf(v: [f64; 3]) -> [f32; 3] {
    let len = (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]).sqrt();
    let g = ecef_to_gltf([v[0] / len, v[1] / len, v[2] / len]);
    [g[0] as f32, g[1] as f32, g[2] as f32]
}

impl Mesh {
    fn push(&mut self, position: [f64; 3], center: [f64; 3], normal: [f32; 3], feature: f32) -> u32 {
        let index = self.positions.len() as u32;
        self.positions.push(relative(position, center));
        self.normals.push(normal);
        self.feature_ids.push(feature);
        index
    }

    /// Appends the solid of `feature` from `base_m` to `top_m`; returns false when no polygon of
    /// it survived cleaning (nothing was appended).
    pub fn extrude(&mut self, feature: &Feature, base_m: f64, top_m: f64, center: [f64; 3], row: u32) -> bool {
        let mut any = false;
        for polygon in polygons(&feature.geometry) {
            any |= self.extrude_polygon(polygon, base_m, top_m, center, row as f32);
        }
        if any {
            self.features += 1;
        }
        any
    }

    fn extrude_polygon(&mut self, polygon: &Polygon<f64>, base_m: f64, top_m: f64, center: [f64; 3], feature: f32) -> bool {
        if ring_area_m2(polygon.exterior()) < MIN_FOOTPRINT_M2 {
            return false;
        }
        let Some(first) = polygon.exterior().0.first() else { return false };
        let origin = (first.x, first.y);
        let kx = M_PER_DEG * first.y.to_radians().cos();
        let Some(exterior) = clean_ring(polygon.exterior(), origin, kx, true) else {
            return false;
        };
        let mut rings = vec![exterior];
        rings.extend(polygon.interiors().iter().filter_map(|r| clean_ring(r, origin, kx, false)));

        let mut flat: Vec<f64> = Vec::with_capacity(rings.iter().map(|r| r.local.len() * 2).sum());
        let mut hole_starts = Vec::with_capacity(rings.len() - 1);
        for (i, ring) in rings.iter().enumerate() {
            if i > 0 {
                hole_starts.push(flat.len() / 2);
            }
            flat.extend(ring.local.iter().flat_map(|p| [p[0], p[1]]));
        }
        let Ok(triangles) = earcutr::earcut(&flat, &hole_starts, 2) else {
            return false;
        };
        let frames: Vec<&Frame> = rings.iter().flat_map(|r| r.frames.iter()).collect();

        // Roof (normal up) and floor (normal down): one vertex per footprint point each.
        let roof_start = self.positions.len() as u32;
        for f in &frames {
            self.push(f.at_height(top_m), center, unit_gltf(f.up), feature);
        }
        let floor_start = self.positions.len() as u32;
        for f in &frames {
            self.push(f.at_height(base_m), center, unit_gltf([-f.up[0], -f.up[1], -f.up[2]]), feature);
        }
        for t in triangles.chunks_exact(3) {
            let (a, b, c) = (t[0], t[1], t[2]);
            let (pa, pb, pc) = (&flat[2 * a..2 * a + 2], &flat[2 * b..2 * b + 2], &flat[2 * c..2 * c + 2]);
            let twice = (pb[0] - pa[0]) * (pc[1] - pa[1]) - (pc[0] - pa[0]) * (pb[1] - pa[1]);
            if twice.abs() / 2.0 < MIN_TRIANGLE_M2 {
                continue;
            }
            // Counter-clockwise seen from above for the roof, the reverse for the floor.
            let (b, c) = if twice > 0.0 { (b, c) } else { (c, b) };
            let (a, b, c) = (a as u32, b as u32, c as u32);
            self.indices.extend_from_slice(&[roof_start + a, roof_start + b, roof_start + c]);
            self.indices.extend_from_slice(&[floor_start + a, floor_start + c, floor_start + b]);
        }

        // Walls: one quad per edge with its own outward normal (flat shading). With exteriors
        // counter-clockwise and holes clockwise, outward is to the right of each edge.
        for ring in &rings {
            let n = ring.frames.len();
            for i in 0..n {
                let j = (i + 1) % n;
                let (p, q) = (&ring.frames[i], &ring.frames[j]);
                let (dx, dy) = (ring.local[j][0] - ring.local[i][0], ring.local[j][1] - ring.local[i][1]);
                let outward = [0, 1, 2].map(|k| p.east[k] * dy - p.north[k] * dx);
                let normal = unit_gltf(outward);
                let v = [
                    self.push(p.at_height(base_m), center, normal, feature),
                    self.push(q.at_height(base_m), center, normal, feature),
                    self.push(q.at_height(top_m), center, normal, feature),
                    self.push(p.at_height(top_m), center, normal, feature),
                ];
                self.indices.extend_from_slice(&[v[0], v[1], v[2], v[0], v[2], v[3]]);
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::city3d::geodesy::to_ecef;
    use crate::feature::Value;
    use geo_types::{polygon, Geometry};

    fn solid(geometry: Geometry<f64>) -> (Mesh, [f64; 3]) {
        let center = to_ecef(107.0, 16.0, 0.0);
        let mut mesh = Mesh::default();
        mesh.extrude(
            &Feature {
                id: 1,
                geometry,
                properties: vec![Value::Null],
            },
            0.0,
            10.0,
            center,
            0,
        );
        (mesh, center)
    }

    fn sub(a: [f32; 3], b: [f32; 3]) -> [f64; 3] {
        [(a[0] - b[0]) as f64, (a[1] - b[1]) as f64, (a[2] - b[2]) as f64]
    }

    fn cross(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
        [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]]
    }

    /// Every triangle's winding agrees with its normals, and normals point away from the solid's
    /// centre of mass (a convex box with a courtyard still has this for walls facing outward).
    fn assert_outward(mesh: &Mesh) {
        for t in mesh.indices.chunks_exact(3) {
            let [a, b, c] = [t[0], t[1], t[2]].map(|i| i as usize);
            let face = cross(sub(mesh.positions[b], mesh.positions[a]), sub(mesh.positions[c], mesh.positions[a]));
            let n = mesh.normals[a];
            let dot = face[0] * n[0] as f64 + face[1] * n[1] as f64 + face[2] * n[2] as f64;
            assert!(dot > 0.0, "triangle {t:?} winds against its normal");
        }
    }

    #[test]
    fn a_box_has_roof_floor_and_four_walls_wound_outward() {
        let (mesh, _) = solid(
            polygon![(x: 107.0, y: 16.0), (x: 107.0001, y: 16.0), (x: 107.0001, y: 16.0001), (x: 107.0, y: 16.0001), (x: 107.0, y: 16.0)]
                .into(),
        );
        // roof 2 + floor 2 + walls 4×2 triangles
        assert_eq!(mesh.indices.len() / 3, 12);
        assert_eq!(mesh.positions.len(), 4 + 4 + 16);
        assert_outward(&mesh);
        let n = mesh.normals[0];
        assert!(((n[0] * n[0] + n[1] * n[1] + n[2] * n[2]) - 1.0).abs() < 1e-6);
    }

    #[test]
    fn a_multipolygon_is_one_feature_of_several_solids() {
        let a = polygon![(x: 107.0, y: 16.0), (x: 107.0001, y: 16.0), (x: 107.0001, y: 16.0001), (x: 107.0, y: 16.0001)];
        let b = polygon![(x: 107.0003, y: 16.0), (x: 107.0004, y: 16.0), (x: 107.0004, y: 16.0001), (x: 107.0003, y: 16.0001)];
        let center = to_ecef(107.0, 16.0, 0.0);
        let mut mesh = Mesh::default();
        let feature = Feature {
            id: 9,
            geometry: geo_types::MultiPolygon(vec![a, b]).into(),
            properties: vec![],
        };
        assert!(mesh.extrude(&feature, 0.0, 10.0, center, 7));
        assert_eq!((mesh.indices.len() / 3, mesh.features), (24, 1));
        assert!(mesh.feature_ids.iter().all(|&f| f == 7.0));
        assert_outward(&mesh);
    }

    #[test]
    fn clockwise_input_with_a_courtyard_and_repeated_points_still_faces_out() {
        let outer = vec![
            (107.0, 16.0),
            (107.0, 16.0002),
            (107.0002, 16.0002),
            (107.0002, 16.0002),
            (107.0002, 16.0),
            (107.0, 16.0),
        ];
        let hole = vec![
            (107.00005, 16.00005),
            (107.00015, 16.00005),
            (107.00015, 16.00015),
            (107.00005, 16.00015),
            (107.00005, 16.00005),
        ];
        let collapsed = vec![(107.0001, 16.0001), (107.0001, 16.0001), (107.0001, 16.0001)];
        let p = Polygon::new(LineString::from(outer), vec![LineString::from(hole), LineString::from(collapsed)]);
        let (mesh, _) = solid(p.into());
        // 8 roof/floor triangles each (square with square hole), 8 walls
        assert_eq!(mesh.indices.len() / 3, 8 + 8 + 16);
        assert_outward(&mesh);
    }
}
