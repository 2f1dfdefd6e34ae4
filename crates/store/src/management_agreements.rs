//! Interinstitutional management agreements (migration 0029: *acuerdos de gestión*, distinct
//! from the data-sharing agreements of `accounts`): parties, territory, period, signature,
//! commitments and the shared targets each agreement takes on. Their status and how their
//! targets are followed are `vamos_app::management_agreements`' business.

use crate::sql::{in_tx, Param, Row, Sql};
use crate::{Result, StoreError};
use serde::{Deserialize, Serialize};

/// A commitment: `funcional`, `operativo` or `interno` (an internal arrangement).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Commitment {
    pub kind: String,
    pub institution: String,
    pub description: String,
}

/// A shared target the agreement takes on (its coverage is read from `targets`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetRef {
    pub territory: String,
    pub logro: i64,
    pub year: i64,
}

/// An agreement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Agreement {
    pub id: i64,
    pub title: String,
    pub territory: String,
    pub parties: Vec<String>,
    /// ISO dates.
    pub period_from: String,
    pub period_to: String,
    pub signed_on: Option<String>,
    pub arrangements: String,
    pub commitments: Vec<Commitment>,
    pub targets: Vec<TargetRef>,
    pub created_by: String,
    pub created_at: String,
    pub updated_at: String,
}

const COLUMNS: &str = "id, title, territory, parties, period_from, period_to, signed_on, arrangements, created_by, created_at, updated_at";

fn decode(r: &Row) -> Result<Agreement> {
    Ok(Agreement {
        id: r
            .int(0)
            .ok_or_else(|| StoreError::Invalid("acuerdo ilegible".into()))?,
        title: r.text(1),
        territory: r.text(2),
        parties: r
            .text(3)
            .split(',')
            .filter(|x| !x.is_empty())
            .map(str::to_string)
            .collect(),
        period_from: r.text(4),
        period_to: r.text(5),
        signed_on: r.string(6),
        arrangements: r.text(7),
        created_by: r.text(8),
        created_at: r.text(9),
        updated_at: r.text(10),
        ..Agreement::default()
    })
}

/// Stores `a` (a new one when `a.id` is 0, else replaces agreement `a.id` with its commitments
/// and targets), all or none; its number.
pub fn store(db: &mut crate::sql::Db<'_>, a: &Agreement) -> Result<i64> {
    in_tx(db.raw(), |sql| {
        let head = [
            a.title.as_str().into(),
            a.territory.as_str().into(),
            a.parties.join(",").into(),
            a.period_from.as_str().into(),
            a.period_to.as_str().into(),
            a.signed_on.as_deref().into(),
            a.arrangements.as_str().into(),
            a.updated_at.as_str().into(),
        ];
        let id = if a.id == 0 {
            let mut p: Vec<Param> = head.to_vec();
            p.push(a.created_by.as_str().into());
            p.push(a.created_at.as_str().into());
            sql.query_opt(
                "INSERT INTO management_agreements (title, territory, parties, period_from, period_to, signed_on, arrangements, updated_at, created_by, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
                &p,
            )?
            .and_then(|r| r.int(0))
            .ok_or_else(|| StoreError::Invalid("el acuerdo no devolvió su número".into()))?
        } else {
            let mut p: Vec<Param> = head.to_vec();
            p.push(a.id.into());
            let n = sql.execute(
                "UPDATE management_agreements SET title = $1, territory = $2, parties = $3, period_from = $4, period_to = $5,
                 signed_on = $6, arrangements = $7, updated_at = $8 WHERE id = $9",
                &p,
            )?;
            if n == 0 {
                return Err(StoreError::Invalid(format!(
                    "no existe el acuerdo {}",
                    a.id
                )));
            }
            for t in ["management_commitments", "management_targets"] {
                sql.execute(
                    &format!("DELETE FROM {t} WHERE agreement_id = $1"),
                    &[a.id.into()],
                )?;
            }
            a.id
        };
        insert_children(sql, id, a)?;
        Ok(id)
    })
}

fn insert_children(sql: &mut dyn Sql, id: i64, a: &Agreement) -> Result<()> {
    let rows: Vec<Vec<Param>> = a
        .commitments
        .iter()
        .map(|c| {
            vec![
                id.into(),
                c.kind.as_str().into(),
                c.institution.as_str().into(),
                c.description.as_str().into(),
            ]
        })
        .collect();
    sql.execute_many(
        "INSERT INTO management_commitments (agreement_id, kind, institution, description) VALUES ($1, $2, $3, $4)",
        &rows,
    )?;
    let rows: Vec<Vec<Param>> = a
        .targets
        .iter()
        .map(|t| {
            vec![
                id.into(),
                t.territory.as_str().into(),
                t.logro.into(),
                t.year.into(),
            ]
        })
        .collect();
    sql.execute_many(
        "INSERT INTO management_targets (agreement_id, territory, logro, year) VALUES ($1, $2, $3, $4)",
        &rows,
    )?;
    Ok(())
}

/// Every agreement's header (without commitments and targets), newest first.
pub fn list(db: &mut crate::sql::Db<'_>) -> Result<Vec<Agreement>> {
    db.raw()
        .query(
            &format!("SELECT {COLUMNS} FROM management_agreements ORDER BY id DESC"),
            &[],
        )?
        .iter()
        .map(decode)
        .collect()
}

/// Agreement `id` whole.
pub fn get(db: &mut crate::sql::Db<'_>, id: i64) -> Result<Option<Agreement>> {
    let sql = db.raw();
    let Some(mut a) = sql
        .query_opt(
            &format!("SELECT {COLUMNS} FROM management_agreements WHERE id = $1"),
            &[id.into()],
        )?
        .map(|r| decode(&r))
        .transpose()?
    else {
        return Ok(None);
    };
    a.commitments = sql
        .query(
            "SELECT kind, institution, description FROM management_commitments WHERE agreement_id = $1 ORDER BY id",
            &[id.into()],
        )?
        .iter()
        .map(|r| Commitment {
            kind: r.text(0),
            institution: r.text(1),
            description: r.text(2),
        })
        .collect();
    a.targets = sql
        .query(
            "SELECT territory, logro, year FROM management_targets WHERE agreement_id = $1 ORDER BY territory, logro, year",
            &[id.into()],
        )?
        .iter()
        .map(|r| TargetRef {
            territory: r.text(0),
            logro: r.int(1).unwrap_or(0),
            year: r.int(2).unwrap_or(0),
        })
        .collect();
    Ok(Some(a))
}
