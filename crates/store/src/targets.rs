//! Shared targets (migration 0028): the coverage a Logro should reach in a territory by a year.
//! Who may set them and how a department's target is derived from its districts' is
//! `vamos_app::targets`' business.

use crate::sql::Param;
use crate::Result;

/// One target as stored.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Target {
    /// `PY`, `DD` or `DDdd`.
    pub territory: String,
    pub logro: i64,
    pub year: i64,
    pub coverage: f64,
    pub set_by: String,
    pub set_at: String,
}

/// Sets (or replaces) a target.
pub fn set(db: &mut crate::sql::Db<'_>, t: &Target) -> Result<()> {
    db.raw().execute(
        "INSERT INTO targets (territory, logro, year, coverage, set_by, set_at)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (territory, logro, year) DO UPDATE
         SET coverage = excluded.coverage, set_by = excluded.set_by, set_at = excluded.set_at",
        &[
            t.territory.as_str().into(),
            t.logro.into(),
            t.year.into(),
            Param::Real(Some(t.coverage)),
            t.set_by.as_str().into(),
            t.set_at.as_str().into(),
        ],
    )?;
    Ok(())
}

/// Every target (a few per territory: the table is small), by territory, Logro and year.
pub fn all(db: &mut crate::sql::Db<'_>) -> Result<Vec<Target>> {
    Ok(db
        .raw()
        .query(
            "SELECT territory, logro, year, coverage, set_by, set_at FROM targets
             ORDER BY territory, logro, year",
            &[],
        )?
        .iter()
        .map(|r| Target {
            territory: r.text(0),
            logro: r.int(1).unwrap_or(0),
            year: r.int(2).unwrap_or(0),
            coverage: r.at(3).real().unwrap_or(0.0),
            set_by: r.text(4),
            set_at: r.text(5),
        })
        .collect())
}
