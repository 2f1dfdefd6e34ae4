//! The one migration runner of both backends: in one write transaction (on PostgreSQL under an
//! advisory lock, so two `vamos db init` at once cannot both apply a migration), applies every
//! migration of the backend's set not yet recorded in `schema_migrations`, in order, and reloads
//! the official territory — reference data shipped with the binary, so a corrected list reaches
//! existing databases. The sets themselves (append-only, one per backend) stay with each backend.

use crate::sql::{in_tx, lock, Sql};
use crate::{Backend, Result};
use vamos_domain::Territory;

/// Advisory-lock key of migrations (PostgreSQL).
const MIGRATION_LOCK: i64 = 7_261_001;

/// Applies the migrations of `set` (name, SQL) not applied yet; returns their names.
pub(crate) fn run(sql: &mut dyn Sql, set: &[(&str, &str)]) -> Result<Vec<String>> {
    in_tx(sql, |sql| {
        lock(sql, MIGRATION_LOCK)?;
        sql.batch(match sql.dialect() {
            Backend::Sqlite => {
                "CREATE TABLE IF NOT EXISTS schema_migrations (
                     version TEXT PRIMARY KEY,
                     applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')))"
            }
            Backend::Postgres => {
                "CREATE TABLE IF NOT EXISTS schema_migrations (
                     version TEXT PRIMARY KEY,
                     applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
            }
        })?;
        let mut applied = Vec::new();
        for (name, text) in set {
            let done = sql
                .query_opt(
                    "SELECT 1 FROM schema_migrations WHERE version = $1",
                    &[(*name).into()],
                )?
                .is_some();
            if !done {
                sql.batch(text)?;
                sql.execute(
                    "INSERT INTO schema_migrations (version) VALUES ($1)",
                    &[(*name).into()],
                )?;
                applied.push((*name).to_string());
            }
        }
        reload_territory(sql)?;
        Ok(applied)
    })
}

/// Writes the official departments and districts over what the database holds.
fn reload_territory(sql: &mut dyn Sql) -> Result<()> {
    let t = Territory::official();
    let departments: Vec<_> = t
        .departments()
        .iter()
        .map(|d| vec![i64::from(d.code.get()).into(), d.name.as_str().into()])
        .collect();
    sql.execute_many(
        "INSERT INTO departments (code, name) VALUES ($1, $2)
         ON CONFLICT (code) DO UPDATE SET name = excluded.name",
        &departments,
    )?;
    let districts: Vec<_> = t
        .districts()
        .iter()
        .map(|d| {
            vec![
                i64::from(d.code.get()).into(),
                i64::from(d.code.department().get()).into(),
                d.name.as_str().into(),
                d.code_source.as_str().into(),
            ]
        })
        .collect();
    sql.execute_many(
        "INSERT INTO districts (code, department_code, name, code_source) VALUES ($1, $2, $3, $4)
         ON CONFLICT (code) DO UPDATE SET department_code = excluded.department_code,
             name = excluded.name, code_source = excluded.code_source",
        &districts,
    )?;
    Ok(())
}
