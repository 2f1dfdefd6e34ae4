//! Budget programmes and their execution (migration 0029): lines of the Presupuesto por
//! Resultados as the Ministry of Finance classifies them, with their stages in guaraníes.
//! Reading the Ministry's files (and the column mapping) is `vamos_app::budget`'s business;
//! this module stores lines and sums them.

use crate::sql::{in_tx, Param, Row};
use crate::Result;
use serde::Serialize;

/// One budget line.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct Line {
    pub year: i64,
    pub budget_type: String,
    pub program: String,
    pub subprogram: String,
    pub project: String,
    pub institution: String,
    pub object: String,
    /// 10 treasury, 20 public credit, 30 institutional resources.
    pub source: i64,
    pub financing: String,
    /// -1: national, not assigned to a department (00 is Asunción).
    pub department: i64,
    pub initial: i64,
    pub current: i64,
    pub obligated: i64,
    pub paid: i64,
    /// Catalogue service code ('' unlinked).
    pub service: String,
    /// Strategic action code ('' unlinked).
    pub action: String,
    /// External cooperation tag ('' none).
    pub cooperation: String,
    /// From an illustrative file.
    pub illustrative: bool,
}

/// Replaces every line of the years `lines` cover with `lines`, all or none (a file of the
/// Ministry is the year's budget as it stands: importing it again updates, never duplicates).
/// The lines replaced.
pub fn replace_years(
    db: &mut crate::sql::Db<'_>,
    lines: &[Line],
    file: &str,
    by: &str,
    at: &str,
) -> Result<u64> {
    let mut years: Vec<i64> = lines.iter().map(|l| l.year).collect();
    years.sort_unstable();
    years.dedup();
    in_tx(db.raw(), |sql| {
        let mut replaced = 0;
        for y in &years {
            replaced += sql.execute("DELETE FROM budget_lines WHERE year = $1", &[(*y).into()])?;
        }
        let rows: Vec<Vec<Param>> = lines
            .iter()
            .map(|l| {
                vec![
                    l.year.into(),
                    l.budget_type.as_str().into(),
                    l.program.as_str().into(),
                    l.subprogram.as_str().into(),
                    l.project.as_str().into(),
                    l.institution.as_str().into(),
                    l.object.as_str().into(),
                    l.source.into(),
                    l.financing.as_str().into(),
                    l.department.into(),
                    l.initial.into(),
                    l.current.into(),
                    l.obligated.into(),
                    l.paid.into(),
                    l.service.as_str().into(),
                    l.action.as_str().into(),
                    l.cooperation.as_str().into(),
                    file.into(),
                    by.into(),
                    at.into(),
                    i64::from(l.illustrative).into(),
                ]
            })
            .collect();
        sql.execute_many(
            "INSERT INTO budget_lines (year, budget_type, program, subprogram, project, institution, object, source, financing, department, initial, current, obligated, paid, service, action, cooperation, file, imported_by, imported_at, illustrative)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21)",
            &rows,
        )?;
        Ok(replaced)
    })
}

/// Every line of `year` (all years when `None`), optionally of one department (lines without a
/// department are national and always included).
pub fn lines(
    db: &mut crate::sql::Db<'_>,
    year: Option<i64>,
    department: Option<i64>,
) -> Result<Vec<Line>> {
    Ok(db
        .raw()
        .query(
            "SELECT year, budget_type, program, subprogram, project, institution, object, source, financing, department,
                    initial, current, obligated, paid, service, action, cooperation, illustrative
             FROM budget_lines
             WHERE (CAST($1 AS BIGINT) IS NULL OR year = CAST($1 AS BIGINT))
               AND (CAST($2 AS BIGINT) IS NULL OR department = CAST($2 AS BIGINT) OR department = -1)
             ORDER BY year, institution, program, subprogram, project, object, source, department",
            &[Param::Int(year), Param::Int(department)],
        )?
        .iter()
        .map(decode)
        .collect())
}

fn decode(r: &Row) -> Line {
    Line {
        year: r.int(0).unwrap_or(0),
        budget_type: r.text(1),
        program: r.text(2),
        subprogram: r.text(3),
        project: r.text(4),
        institution: r.text(5),
        object: r.text(6),
        source: r.int(7).unwrap_or(0),
        financing: r.text(8),
        department: r.int(9).unwrap_or(0),
        initial: r.int(10).unwrap_or(0),
        current: r.int(11).unwrap_or(0),
        obligated: r.int(12).unwrap_or(0),
        paid: r.int(13).unwrap_or(0),
        service: r.text(14),
        action: r.text(15),
        cooperation: r.text(16),
        illustrative: r.int(17).unwrap_or(0) != 0,
    }
}

/// The years with budget lines, newest first.
pub fn years(db: &mut crate::sql::Db<'_>) -> Result<Vec<i64>> {
    Ok(db
        .raw()
        .query(
            "SELECT DISTINCT year FROM budget_lines ORDER BY year DESC",
            &[],
        )?
        .iter()
        .filter_map(|r| r.int(0))
        .collect())
}
