//! Saved costing scenarios (migration 0029): a costing's question and its answer, kept to be
//! compared with others and with the budget; and unit costs set per territory (migration 0030). How a target is costed is `vamos_app::costing`'s
//! business; the answer is stored as the JSON it returns.

use crate::sql::Row;
use crate::{Result, StoreError};
use serde::Serialize;

/// A saved scenario.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Scenario {
    pub id: i64,
    pub name: String,
    pub territory: String,
    pub logro: i64,
    pub target: f64,
    pub by_year: i64,
    pub measurement: i64,
    pub catalogue_version: String,
    pub total_cost: i64,
    /// The costing as it answered.
    pub result: serde_json::Value,
    pub saved_by: String,
    pub saved_at: String,
}

const COLUMNS: &str = "id, name, territory, logro, target, by_year, measurement, catalogue_version, total_cost, result, saved_by, saved_at";

fn decode(r: &Row) -> Result<Scenario> {
    Ok(Scenario {
        id: r
            .int(0)
            .ok_or_else(|| StoreError::Invalid("escenario ilegible".into()))?,
        name: r.text(1),
        territory: r.text(2),
        logro: r.int(3).unwrap_or(0),
        target: r.at(4).real().unwrap_or(0.0),
        by_year: r.int(5).unwrap_or(0),
        measurement: r.int(6).unwrap_or(0),
        catalogue_version: r.text(7),
        total_cost: r.int(8).unwrap_or(0),
        result: serde_json::from_str(&r.text(9)).unwrap_or(serde_json::Value::Null),
        saved_by: r.text(10),
        saved_at: r.text(11),
    })
}

/// Saves a scenario; its number (`s.id` is ignored).
pub fn save(db: &mut crate::sql::Db<'_>, s: &Scenario) -> Result<i64> {
    db.raw()
        .query_opt(
            "INSERT INTO costing_scenarios (name, territory, logro, target, by_year, measurement, catalogue_version, total_cost, result, saved_by, saved_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
            &[
                s.name.as_str().into(),
                s.territory.as_str().into(),
                s.logro.into(),
                crate::sql::Param::Real(Some(s.target)),
                s.by_year.into(),
                s.measurement.into(),
                s.catalogue_version.as_str().into(),
                s.total_cost.into(),
                s.result.to_string().into(),
                s.saved_by.as_str().into(),
                s.saved_at.as_str().into(),
            ],
        )?
        .and_then(|r| r.int(0))
        .ok_or_else(|| StoreError::Invalid("el escenario no devolvió su número".into()))
}

/// Every saved scenario, newest first, without its result (a list to choose from).
pub fn list(db: &mut crate::sql::Db<'_>) -> Result<Vec<Scenario>> {
    db.raw()
        .query(
            &format!(
                "SELECT {} FROM costing_scenarios ORDER BY id DESC",
                COLUMNS.replace("result", "'null'")
            ),
            &[],
        )?
        .iter()
        .map(decode)
        .collect()
}

/// Scenario `id`, with its result.
pub fn get(db: &mut crate::sql::Db<'_>, id: i64) -> Result<Option<Scenario>> {
    db.raw()
        .query_opt(
            &format!("SELECT {COLUMNS} FROM costing_scenarios WHERE id = $1"),
            &[id.into()],
        )?
        .map(|r| decode(&r))
        .transpose()
}

/// Deletes scenario `id`; whether it existed.
pub fn delete(db: &mut crate::sql::Db<'_>, id: i64) -> Result<bool> {
    Ok(db
        .raw()
        .execute("DELETE FROM costing_scenarios WHERE id = $1", &[id.into()])?
        > 0)
}

/// A service's unit cost set for a territory.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UnitCost {
    /// `PY`, `DD` or `DDdd`.
    pub territory: String,
    /// Catalogue service code.
    pub service: String,
    pub unit_cost: i64,
    pub set_by: String,
    pub set_at: String,
}

/// Sets (or replaces) a unit cost; `None` removes it (the catalogue's applies again).
pub fn set_unit_cost(db: &mut crate::sql::Db<'_>, u: &UnitCost, remove: bool) -> Result<()> {
    if remove {
        db.raw().execute(
            "DELETE FROM unit_costs WHERE territory = $1 AND service = $2",
            &[u.territory.as_str().into(), u.service.as_str().into()],
        )?;
        return Ok(());
    }
    db.raw().execute(
        "INSERT INTO unit_costs (territory, service, unit_cost, set_by, set_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (territory, service) DO UPDATE
         SET unit_cost = excluded.unit_cost, set_by = excluded.set_by, set_at = excluded.set_at",
        &[
            u.territory.as_str().into(),
            u.service.as_str().into(),
            u.unit_cost.into(),
            u.set_by.as_str().into(),
            u.set_at.as_str().into(),
        ],
    )?;
    Ok(())
}

/// Every unit cost set (a few per territory: the table is small).
pub fn unit_costs(db: &mut crate::sql::Db<'_>) -> Result<Vec<UnitCost>> {
    Ok(db
        .raw()
        .query(
            "SELECT territory, service, unit_cost, set_by, set_at FROM unit_costs ORDER BY territory, service",
            &[],
        )?
        .iter()
        .map(|r| UnitCost {
            territory: r.text(0),
            service: r.text(1),
            unit_cost: r.int(2).unwrap_or(0),
            set_by: r.text(3),
            set_at: r.text(4),
        })
        .collect())
}
