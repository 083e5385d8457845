//! Where imported data may land. The default is Vietnam: the mainland and the Hoàng Sa and
//! Trường Sa archipelagos (which several published province polygons leave out).

use crate::feature::Bbox;

#[derive(Debug, Clone)]
pub struct Region {
    pub name: String,
    pub boxes: Vec<Bbox>,
}

impl Region {
    pub fn vietnam() -> Region {
        let b = |west, south, east, north| Bbox { west, south, east, north };
        Region {
            name: "Vietnam (mainland, Hoàng Sa, Trường Sa)".into(),
            boxes: vec![
                b(102.0, 8.0, 110.0, 23.5),  // mainland and coastal islands
                b(110.0, 15.5, 113.5, 17.5), // Hoàng Sa (Paracel)
                b(111.0, 6.0, 118.0, 12.0),  // Trường Sa (Spratly)
            ],
        }
    }

    /// Adds a box `w,s,e,n` (from `--region`) to the allowed area.
    pub fn widen(&mut self, spec: &str) -> Result<(), String> {
        let parts: Vec<f64> = spec
            .split(',')
            .map(|p| p.trim().parse::<f64>())
            .collect::<Result<_, _>>()
            .map_err(|_| format!("--region '{spec}' is not 'west,south,east,north' in degrees, e.g. --region 100,0,125,25"))?;
        match parts[..] {
            [west, south, east, north]
                if west < east
                    && south < north
                    && (-180.0..=180.0).contains(&west)
                    && (-180.0..=180.0).contains(&east)
                    && (-90.0..=90.0).contains(&south)
                    && (-90.0..=90.0).contains(&north) =>
            {
                self.boxes.push(Bbox { west, south, east, north });
                self.name = format!("{} + {spec}", self.name);
                Ok(())
            }
            _ => Err(format!(
                "--region '{spec}' must be 'west,south,east,north' with west<east, south<north, in degrees"
            )),
        }
    }

    pub fn contains(&self, bbox: &Bbox) -> bool {
        self.boxes.iter().any(|b| b.contains(bbox))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn archipelagos_are_inside_and_bangkok_is_not() {
        let vn = Region::vietnam();
        let at = |lon, lat| Bbox {
            west: lon,
            south: lat,
            east: lon,
            north: lat,
        };
        assert!(vn.contains(&at(107.59, 16.46))); // Huế
        assert!(vn.contains(&at(112.33, 16.83))); // Hoàng Sa
        assert!(vn.contains(&at(114.28, 8.64))); // Trường Sa
        assert!(!vn.contains(&at(100.5, 13.75))); // Bangkok
        let mut wider = Region::vietnam();
        wider.widen("100,10,101,15").unwrap();
        assert!(wider.contains(&at(100.5, 13.75)));
        assert!(wider.widen("1,2,3").is_err());
    }
}
