//! Where synthetic dwellings and communities are placed on the map.
//!
//! District boundaries are not available to the project (see `data/README`), so points are drawn
//! inside the *department* polygon of `data/territory/departamentos.geojson` (INE/DGEEC
//! cartography, simplified, WGS84), parsed at start-up. Each district gets a fixed centre inside
//! its department (drawn from the district code, so it does not move between seeds); communities
//! scatter around it and dwellings around their community. Every point is tested against the
//! department polygon, so all of them fall inside Paraguay and inside the right department.

use crate::rng::Rng64;
use crate::SynthError;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

const GEOJSON: &str = include_str!("../../../data/territory/departamentos.geojson");

/// A point, degrees WGS84.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Point {
    pub lon: f64,
    pub lat: f64,
}

#[derive(Debug, Clone)]
struct Shape {
    ring: Vec<Point>,
    min: Point,
    max: Point,
}

impl Shape {
    /// Even-odd ray casting; the rings are simple polygons.
    fn contains(&self, p: Point) -> bool {
        if p.lon < self.min.lon
            || p.lon > self.max.lon
            || p.lat < self.min.lat
            || p.lat > self.max.lat
        {
            return false;
        }
        let mut inside = false;
        let mut prev = match self.ring.last() {
            Some(&q) => q,
            None => return false,
        };
        for &cur in &self.ring {
            if (cur.lat > p.lat) != (prev.lat > p.lat) {
                let x = cur.lon + (p.lat - cur.lat) * (prev.lon - cur.lon) / (prev.lat - cur.lat);
                if p.lon < x {
                    inside = !inside;
                }
            }
            prev = cur;
        }
        inside
    }
}

/// The 18 department shapes, indexed by department code.
#[derive(Debug, Clone)]
pub(crate) struct Geo {
    shapes: Vec<Option<Shape>>,
}

impl Geo {
    pub(crate) fn load() -> Result<Geo, SynthError> {
        let bad = |m: &str| SynthError::Calibration(format!("departamentos.geojson: {m}"));
        let v: serde_json::Value =
            serde_json::from_str(GEOJSON).map_err(|e| bad(&e.to_string()))?;
        let features = v
            .get("features")
            .and_then(|f| f.as_array())
            .ok_or_else(|| bad("sin features"))?;
        let mut shapes: Vec<Option<Shape>> = vec![None; 18];
        for f in features {
            let code = f
                .get("properties")
                .and_then(|p| p.get("DPTO"))
                .and_then(|d| d.as_str())
                .and_then(|d| d.parse::<usize>().ok())
                .ok_or_else(|| bad("DPTO ausente"))?;
            let ring = f
                .get("geometry")
                .and_then(|g| g.get("coordinates"))
                .and_then(|c| c.get(0))
                .and_then(|r| r.as_array())
                .ok_or_else(|| bad("geometría ausente"))?;
            let mut pts = Vec::with_capacity(ring.len());
            for xy in ring {
                let lon = xy.get(0).and_then(|x| x.as_f64());
                let lat = xy.get(1).and_then(|x| x.as_f64());
                if let (Some(lon), Some(lat)) = (lon, lat) {
                    pts.push(Point { lon, lat });
                }
            }
            if pts.len() < 3 {
                return Err(bad("polígono degenerado"));
            }
            let min = pts.iter().fold(
                Point {
                    lon: f64::MAX,
                    lat: f64::MAX,
                },
                |a, p| Point {
                    lon: a.lon.min(p.lon),
                    lat: a.lat.min(p.lat),
                },
            );
            let max = pts.iter().fold(
                Point {
                    lon: f64::MIN,
                    lat: f64::MIN,
                },
                |a, p| Point {
                    lon: a.lon.max(p.lon),
                    lat: a.lat.max(p.lat),
                },
            );
            if let Some(slot) = shapes.get_mut(code) {
                *slot = Some(Shape {
                    ring: pts,
                    min,
                    max,
                });
            }
        }
        if shapes.iter().any(Option::is_none) {
            return Err(bad("faltan departamentos"));
        }
        Ok(Geo { shapes })
    }

    fn shape(&self, dept: u8) -> Option<&Shape> {
        self.shapes.get(usize::from(dept)).and_then(Option::as_ref)
    }

    /// Whether a point lies inside a department.
    pub(crate) fn contains(&self, dept: u8, p: Point) -> bool {
        self.shape(dept).is_some_and(|s| s.contains(p))
    }

    /// Bounding-box diagonal scale of a department, degrees (used to size scatter radii).
    pub(crate) fn extent(&self, dept: u8) -> f64 {
        self.shape(dept)
            .map(|s| ((s.max.lon - s.min.lon) * (s.max.lat - s.min.lat)).sqrt())
            .unwrap_or(0.1)
    }

    /// A fixed point inside the department for a district (depends on the code only).
    pub(crate) fn district_centre(&self, dept: u8, district: u16) -> Point {
        let mut rng = ChaCha8Rng::seed_from_u64(0x5641_4d4f_5300_0000 ^ u64::from(district));
        let Some(s) = self.shape(dept) else {
            return Point {
                lon: -57.6,
                lat: -25.3,
            };
        };
        // Shrink the box a little so centres keep some distance from the border.
        for _ in 0..10_000 {
            let p = Point {
                lon: s.min.lon + (s.max.lon - s.min.lon) * (0.05 + 0.9 * rng.unit()),
                lat: s.min.lat + (s.max.lat - s.min.lat) * (0.05 + 0.9 * rng.unit()),
            };
            if s.contains(p) {
                return p;
            }
        }
        // Unreachable for the shipped polygons: the vertex mean of a convex-ish ring.
        let n = s.ring.len() as f64;
        Point {
            lon: s.ring.iter().map(|p| p.lon).sum::<f64>() / n,
            lat: s.ring.iter().map(|p| p.lat).sum::<f64>() / n,
        }
    }

    /// A point around `centre` (uniform in a disc of `radius` degrees), kept inside the
    /// department; falls back to `centre` (already inside) after a few tries.
    pub(crate) fn scatter(
        &self,
        rng: &mut impl Rng64,
        dept: u8,
        centre: Point,
        radius: f64,
    ) -> Point {
        for _ in 0..8 {
            let r = radius * rng.unit().sqrt();
            let a = std::f64::consts::TAU * rng.unit();
            // Longitude degrees are shorter than latitude degrees at -25°: widen by 1/cos.
            let p = Point {
                lon: centre.lon + r * a.cos() / 0.9,
                lat: centre.lat + r * a.sin(),
            };
            if self.contains(dept, p) {
                return p;
            }
        }
        centre
    }
}
