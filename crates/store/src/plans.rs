//! The strategic framework (migration 0029): plans with their objectives, strategic actions
//! (AE), indicators and each indicator's baseline and targets per territory and year. A plan is
//! stored whole: an import or an edit replaces its content in one transaction. What a plan
//! means (gaps, baselines from a measurement, who edits) is `vamos_app::plans`' business.

use crate::sql::{in_tx, Param, Row, Sql};
use crate::{Result, StoreError};
use serde::{Deserialize, Serialize};

/// A plan's header.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct Plan {
    pub id: i64,
    pub name: String,
    pub version: i64,
    pub period_from: i64,
    pub period_to: i64,
    /// `borrador`, `vigente` or `reemplazado`.
    pub status: String,
    pub illustrative: bool,
    pub created_by: String,
    pub created_at: String,
    pub updated_at: String,
}

/// A general objective (`parent` empty, `category` a life-cycle category code) or a specific one
/// (`parent` its general objective's code).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct Objective {
    pub code: String,
    pub parent: Option<String>,
    pub category: Option<String>,
    pub description: String,
}

/// A strategic action (AE).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct Action {
    pub code: String,
    pub objective: String,
    pub description: String,
    /// Institution codes.
    pub institutions: Vec<String>,
    /// Catalogue service codes it delivers.
    pub services: Vec<String>,
}

/// An AE's indicator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct Indicator {
    pub code: String,
    pub action: String,
    pub name: String,
    /// `logro`, `servicio`, `poblacion` or `manual`.
    pub kind: String,
    pub reference: String,
}

/// An indicator in a territory and year.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct Value {
    pub indicator: String,
    pub territory: String,
    pub year: i64,
    pub baseline: Option<f64>,
    pub baseline_measurement: Option<i64>,
    pub target: Option<f64>,
    pub reported: Option<f64>,
}

/// A whole plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct Framework {
    pub plan: Plan,
    pub objectives: Vec<Objective>,
    pub actions: Vec<Action>,
    pub indicators: Vec<Indicator>,
    pub values: Vec<Value>,
}

const PLAN_COLUMNS: &str = "id, name, version, period_from, period_to, status, illustrative, created_by, created_at, updated_at";

fn decode_plan(r: &Row) -> Result<Plan> {
    Ok(Plan {
        id: r
            .int(0)
            .ok_or_else(|| StoreError::Invalid("plan ilegible".into()))?,
        name: r.text(1),
        version: r.int(2).unwrap_or(1),
        period_from: r.int(3).unwrap_or(0),
        period_to: r.int(4).unwrap_or(0),
        status: r.text(5),
        illustrative: r.int(6).unwrap_or(0) != 0,
        created_by: r.text(7),
        created_at: r.text(8),
        updated_at: r.text(9),
    })
}

fn list_text(v: &[String]) -> String {
    v.join(",")
}

fn text_list(s: &str) -> Vec<String> {
    s.split(',')
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .map(str::to_string)
        .collect()
}

/// Stores `f` whole: the plan of the same name and version is replaced (its content and
/// header, keeping its number and creation), otherwise a new plan is made. A plan stored as
/// `vigente` makes the other versions of its name that were `reemplazado`. Its number.
pub fn store(db: &mut crate::sql::Db<'_>, f: &Framework) -> Result<i64> {
    in_tx(db.raw(), |sql| {
        let p = &f.plan;
        let existing = sql
            .query_opt(
                "SELECT id FROM plans WHERE name = $1 AND version = $2",
                &[p.name.as_str().into(), p.version.into()],
            )?
            .and_then(|r| r.int(0));
        let id = match existing {
            Some(id) => {
                sql.execute(
                    "UPDATE plans SET period_from = $2, period_to = $3, status = $4, illustrative = $5, updated_at = $6 WHERE id = $1",
                    &[
                        id.into(),
                        p.period_from.into(),
                        p.period_to.into(),
                        p.status.as_str().into(),
                        i64::from(p.illustrative).into(),
                        p.updated_at.as_str().into(),
                    ],
                )?;
                for t in ["plan_values", "plan_indicators", "plan_actions", "plan_objectives"] {
                    sql.execute(&format!("DELETE FROM {t} WHERE plan_id = $1"), &[id.into()])?;
                }
                id
            }
            None => sql
                .query_opt(
                    "INSERT INTO plans (name, version, period_from, period_to, status, illustrative, created_by, created_at, updated_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
                    &[
                        p.name.as_str().into(),
                        p.version.into(),
                        p.period_from.into(),
                        p.period_to.into(),
                        p.status.as_str().into(),
                        i64::from(p.illustrative).into(),
                        p.created_by.as_str().into(),
                        p.created_at.as_str().into(),
                        p.updated_at.as_str().into(),
                    ],
                )?
                .and_then(|r| r.int(0))
                .ok_or_else(|| StoreError::Invalid("el plan no devolvió su número".into()))?,
        };
        if p.status == "vigente" {
            sql.execute(
                "UPDATE plans SET status = 'reemplazado' WHERE name = $1 AND id <> $2 AND status = 'vigente'",
                &[p.name.as_str().into(), id.into()],
            )?;
        }
        insert_content(sql, id, f)?;
        Ok(id)
    })
}

fn insert_content(sql: &mut dyn Sql, id: i64, f: &Framework) -> Result<()> {
    let rows: Vec<Vec<Param>> = f
        .objectives
        .iter()
        .map(|o| {
            vec![
                id.into(),
                o.code.as_str().into(),
                o.parent.as_deref().into(),
                o.category.as_deref().into(),
                o.description.as_str().into(),
            ]
        })
        .collect();
    sql.execute_many(
        "INSERT INTO plan_objectives (plan_id, code, parent, category, description) VALUES ($1, $2, $3, $4, $5)",
        &rows,
    )?;
    let rows: Vec<Vec<Param>> = f
        .actions
        .iter()
        .map(|a| {
            vec![
                id.into(),
                a.code.as_str().into(),
                a.objective.as_str().into(),
                a.description.as_str().into(),
                list_text(&a.institutions).into(),
                list_text(&a.services).into(),
            ]
        })
        .collect();
    sql.execute_many(
        "INSERT INTO plan_actions (plan_id, code, objective, description, institutions, services) VALUES ($1, $2, $3, $4, $5, $6)",
        &rows,
    )?;
    let rows: Vec<Vec<Param>> = f
        .indicators
        .iter()
        .map(|i| {
            vec![
                id.into(),
                i.code.as_str().into(),
                i.action.as_str().into(),
                i.name.as_str().into(),
                i.kind.as_str().into(),
                i.reference.as_str().into(),
            ]
        })
        .collect();
    sql.execute_many(
        "INSERT INTO plan_indicators (plan_id, code, action, name, kind, reference) VALUES ($1, $2, $3, $4, $5, $6)",
        &rows,
    )?;
    upsert_values(sql, id, &f.values)
}

fn upsert_values(sql: &mut dyn Sql, id: i64, values: &[Value]) -> Result<()> {
    let rows: Vec<Vec<Param>> = values
        .iter()
        .map(|v| {
            vec![
                id.into(),
                v.indicator.as_str().into(),
                v.territory.as_str().into(),
                v.year.into(),
                Param::Real(v.baseline),
                Param::Int(v.baseline_measurement),
                Param::Real(v.target),
                Param::Real(v.reported),
            ]
        })
        .collect();
    sql.execute_many(
        "INSERT INTO plan_values (plan_id, indicator, territory, year, baseline, baseline_measurement, target, reported)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT (plan_id, indicator, territory, year) DO UPDATE
         SET baseline = excluded.baseline, baseline_measurement = excluded.baseline_measurement,
             target = excluded.target, reported = excluded.reported",
        &rows,
    )?;
    Ok(())
}

/// Sets (or replaces) some values of plan `id`, all or none, and marks the plan updated at `at`.
pub fn set_values(db: &mut crate::sql::Db<'_>, id: i64, values: &[Value], at: &str) -> Result<()> {
    in_tx(db.raw(), |sql| {
        upsert_values(sql, id, values)?;
        sql.execute(
            "UPDATE plans SET updated_at = $2 WHERE id = $1",
            &[id.into(), at.into()],
        )?;
        Ok(())
    })
}

/// Every plan's header, newest version of each name first.
pub fn list(db: &mut crate::sql::Db<'_>) -> Result<Vec<Plan>> {
    db.raw()
        .query(
            &format!("SELECT {PLAN_COLUMNS} FROM plans ORDER BY name, version DESC"),
            &[],
        )?
        .iter()
        .map(decode_plan)
        .collect()
}

/// Plan `id` whole, if it exists.
pub fn get(db: &mut crate::sql::Db<'_>, id: i64) -> Result<Option<Framework>> {
    let sql = db.raw();
    let Some(plan) = sql
        .query_opt(
            &format!("SELECT {PLAN_COLUMNS} FROM plans WHERE id = $1"),
            &[id.into()],
        )?
        .map(|r| decode_plan(&r))
        .transpose()?
    else {
        return Ok(None);
    };
    let objectives = sql
        .query(
            "SELECT code, parent, category, description FROM plan_objectives WHERE plan_id = $1 ORDER BY code",
            &[id.into()],
        )?
        .iter()
        .map(|r| Objective {
            code: r.text(0),
            parent: r.string(1),
            category: r.string(2),
            description: r.text(3),
        })
        .collect();
    let actions = sql
        .query(
            "SELECT code, objective, description, institutions, services FROM plan_actions WHERE plan_id = $1 ORDER BY code",
            &[id.into()],
        )?
        .iter()
        .map(|r| Action {
            code: r.text(0),
            objective: r.text(1),
            description: r.text(2),
            institutions: text_list(&r.text(3)),
            services: text_list(&r.text(4)),
        })
        .collect();
    let indicators = sql
        .query(
            "SELECT code, action, name, kind, reference FROM plan_indicators WHERE plan_id = $1 ORDER BY code",
            &[id.into()],
        )?
        .iter()
        .map(|r| Indicator {
            code: r.text(0),
            action: r.text(1),
            name: r.text(2),
            kind: r.text(3),
            reference: r.text(4),
        })
        .collect();
    let values = sql
        .query(
            "SELECT indicator, territory, year, baseline, baseline_measurement, target, reported
             FROM plan_values WHERE plan_id = $1 ORDER BY indicator, territory, year",
            &[id.into()],
        )?
        .iter()
        .map(|r| Value {
            indicator: r.text(0),
            territory: r.text(1),
            year: r.int(2).unwrap_or(0),
            baseline: r.at(3).real(),
            baseline_measurement: r.int(4),
            target: r.at(5).real(),
            reported: r.at(6).real(),
        })
        .collect();
    Ok(Some(Framework {
        plan,
        objectives,
        actions,
        indicators,
        values,
    }))
}

/// A service-coverage target of a plan in force: service code, year, target, plan name,
/// whether the plan is illustrative.
pub type ServiceTargetRow = (String, i64, f64, String, bool);

/// The service-coverage targets of the plans in force for `territory` from year `from` on,
/// official plans first, then by year — what a dashboard shows beside each service row, read
/// without loading whole plans.
pub fn service_targets(
    db: &mut crate::sql::Db<'_>,
    territory: &str,
    from: i64,
) -> Result<Vec<ServiceTargetRow>> {
    Ok(db
        .raw()
        .query(
            "SELECT i.reference, v.year, v.target, p.name, p.illustrative
             FROM plan_values v
             JOIN plan_indicators i ON i.plan_id = v.plan_id AND i.code = v.indicator
             JOIN plans p ON p.id = v.plan_id
             WHERE p.status = 'vigente' AND i.kind = 'servicio' AND v.territory = $1
               AND v.year >= $2 AND v.target IS NOT NULL
             ORDER BY p.illustrative, v.year, p.id",
            &[territory.into(), from.into()],
        )?
        .iter()
        .map(|r| {
            (
                r.text(0),
                r.int(1).unwrap_or(0),
                r.at(2).real().unwrap_or(0.0),
                r.text(3),
                r.int(4).unwrap_or(0) != 0,
            )
        })
        .collect())
}
