//! Multidimensional poverty kept with a measurement (migration 0031): each measured district's
//! index as the engine's additive cells (JSON), written once with the method's version and read
//! back by territory. What the cells mean is `vamos_engine::ipm`'s business.

use crate::sql::{in_tx, Param};
use crate::Result;

/// Saves the cells of a measurement's districts (`(district, cells JSON)`), all or none;
/// saving again replaces them (a recomputation never duplicates).
pub fn save(
    db: &mut crate::sql::Db<'_>,
    measurement: i64,
    method_version: &str,
    districts: &[(u16, String)],
) -> Result<()> {
    in_tx(db.raw(), |sql| {
        sql.execute(
            "DELETE FROM ipm_districts WHERE measurement_id = $1",
            &[measurement.into()],
        )?;
        let rows: Vec<Vec<Param>> = districts
            .iter()
            .map(|(d, cells)| {
                vec![
                    measurement.into(),
                    i64::from(*d).into(),
                    method_version.into(),
                    cells.as_str().into(),
                ]
            })
            .collect();
        sql.execute_many(
            "INSERT INTO ipm_districts (measurement_id, district_code, method_version, cells) VALUES ($1, $2, $3, $4)",
            &rows,
        )?;
        Ok(())
    })
}

/// The cells of a measurement's districts within `[lo, hi]` (district codes: a department is
/// `DD00..DD99`, the nation everything), with the method version they were computed by; empty
/// when the measurement has none.
pub fn districts(
    db: &mut crate::sql::Db<'_>,
    measurement: i64,
    lo: u16,
    hi: u16,
) -> Result<Vec<(u16, String, String)>> {
    Ok(db
        .raw()
        .query(
            "SELECT district_code, method_version, cells FROM ipm_districts
             WHERE measurement_id = $1 AND district_code BETWEEN $2 AND $3 ORDER BY district_code",
            &[
                measurement.into(),
                i64::from(lo).into(),
                i64::from(hi).into(),
            ],
        )?
        .iter()
        .map(|r| {
            (
                u16::try_from(r.int(0).unwrap_or(0)).unwrap_or(0),
                r.text(1),
                r.text(2),
            )
        })
        .collect())
}
