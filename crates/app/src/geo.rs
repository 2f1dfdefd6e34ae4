//! The departments' boundaries (INE/DGEEC, shipped in `data/territory/departamentos.geojson`),
//! read once and projected onto a plane with a cosine-of-latitude correction — what the web's
//! SVG maps and the follow-up report's PDF map both draw, so the two show the same country.
//! No district boundaries are available: a district is shown by highlighting its department.

use std::sync::OnceLock;

const GEOJSON: &str = include_str!("../../../data/territory/departamentos.geojson");

/// A closed line of points.
pub type Ring = Vec<(f64, f64)>;

/// Department code → its rings in longitude/latitude.
fn shapes() -> &'static Vec<(u8, Vec<Ring>)> {
    static SHAPES: OnceLock<Vec<(u8, Vec<Ring>)>> = OnceLock::new();
    SHAPES.get_or_init(|| read().unwrap_or_default())
}

fn read() -> Option<Vec<(u8, Vec<Ring>)>> {
    let v: serde_json::Value = serde_json::from_str(GEOJSON).ok()?;
    let mut out = Vec::new();
    for f in v.get("features")?.as_array()? {
        let code: u8 = f.get("properties")?.get("DPTO")?.as_str()?.parse().ok()?;
        let g = f.get("geometry")?;
        let coords = g.get("coordinates")?.as_array()?;
        let polygons: Vec<&serde_json::Value> = match g.get("type")?.as_str()? {
            "Polygon" => vec![g.get("coordinates")?],
            "MultiPolygon" => coords.iter().collect(),
            _ => continue,
        };
        let mut rings = Vec::new();
        for p in polygons {
            for ring in p.as_array()? {
                rings.push(
                    ring.as_array()?
                        .iter()
                        .filter_map(|xy| Some((xy.get(0)?.as_f64()?, xy.get(1)?.as_f64()?)))
                        .collect(),
                );
            }
        }
        out.push((code, rings));
    }
    Some(out)
}

/// The departments projected into a `w` × `h` plane with a margin of 5, y growing downwards
/// (north up), keeping the aspect ratio.
pub fn departments(w: f64, h: f64) -> Vec<(u8, Vec<Ring>)> {
    let shapes = shapes();
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for &(x, y) in shapes.iter().flat_map(|(_, r)| r.iter().flatten()) {
        x0 = x0.min(x);
        x1 = x1.max(x);
        y0 = y0.min(y);
        y1 = y1.max(y);
    }
    let k = ((y0 + y1) / 2.0).to_radians().cos();
    let scale = ((w - 10.0) / ((x1 - x0) * k)).min((h - 10.0) / (y1 - y0));
    shapes
        .iter()
        .map(|(code, rings)| {
            let rings = rings
                .iter()
                .map(|r| {
                    r.iter()
                        .map(|(x, y)| (5.0 + (x - x0) * k * scale, 5.0 + (y1 - y) * scale))
                        .collect()
                })
                .collect();
            (*code, rings)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_eighteen_departments_fit_the_plane() {
        let d = super::departments(400.0, 420.0);
        assert_eq!(d.len(), 18);
        for (_, rings) in &d {
            for &(x, y) in rings.iter().flatten() {
                assert!((0.0..=400.0).contains(&x) && (0.0..=420.0).contains(&y));
            }
        }
    }
}
