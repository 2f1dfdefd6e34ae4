//! Bulk writes shared by the storage modules: many rows inserted at once (SQLite's prepared
//! statement reused, PostgreSQL's `UNNEST` arrays or `COPY` for large batches), date
//! parameters that both backends read alike, id ranges as SQL conditions, and ids assigned in
//! order.

use crate::sql::{Param, Sql};
use crate::Backend;
use crate::{Result, StoreError};

/// A date parameter: PostgreSQL `DATE` columns take text through a cast, SQLite stores text.
pub fn date_param(sql: &dyn Sql, n: usize) -> String {
    match sql.dialect() {
        Backend::Postgres => format!("CAST(CAST(${n} AS TEXT) AS DATE)"),
        Backend::Sqlite => format!("${n}"),
    }
}

/// One column of a bulk insert: its name and whether it holds a date.
pub struct Col(pub &'static str, pub bool);

/// Inserts rows: on SQLite with one single-row statement prepared once and run per row (a
/// multi-row `VALUES` list made SQLite copy every page it changed into a statement journal). On
/// PostgreSQL, [`COPY_ROWS`] rows or more with one `COPY … FROM STDIN` ([`Sql::copy_rows`]):
/// the server stores them in groups per page, with no array to decode and no intermediate
/// tuple per row — the intake log's applications ran faster end to end than with the array
/// insert (measured: BENCHMARKS.md, issue 5). Fewer rows go with one
/// `INSERT … SELECT FROM UNNEST` of one array per column, whose text does not depend on the
/// number of rows, so it is prepared once per connection and costs one round trip (`COPY`
/// takes two; a `VALUES` list of a new length was parsed and planned afresh every time).
pub fn insert_rows(
    sql: &mut dyn Sql,
    table: &str,
    cols: &[Col],
    rows: &[Vec<Param>],
) -> Result<()> {
    if let Some(row) = rows.iter().find(|r| r.len() != cols.len()) {
        return Err(StoreError::Invalid(format!(
            "fila con {} valores para {} columnas",
            row.len(),
            cols.len()
        )));
    }
    if sql.dialect() == Backend::Sqlite {
        return insert_rows_sqlite(sql, table, cols, rows);
    }
    if rows.len() >= COPY_ROWS {
        let names: Vec<&str> = cols.iter().map(|c| c.0).collect();
        sql.copy_rows(table, &names, rows)?;
        return Ok(());
    }
    let mut columns: Vec<Vec<Param>> = cols
        .iter()
        .map(|_| Vec::with_capacity(rows.len()))
        .collect();
    for row in rows {
        for (column, value) in columns.iter_mut().zip(row) {
            column.push(value.clone());
        }
    }
    insert_unnest(sql, table, cols, columns)
}

/// SQLite's [`insert_rows`]: one single-row statement prepared once, run per row.
fn insert_rows_sqlite(
    sql: &mut dyn Sql,
    table: &str,
    cols: &[Col],
    rows: &[Vec<Param>],
) -> Result<()> {
    let names: Vec<&str> = cols.iter().map(|c| c.0).collect();
    let values: Vec<String> = cols
        .iter()
        .enumerate()
        .map(|(i, c)| {
            if c.1 {
                date_param(sql, i + 1)
            } else {
                format!("${}", i + 1)
            }
        })
        .collect();
    let text = format!(
        "INSERT INTO {table} ({}) VALUES ({})",
        names.join(", "),
        values.join(", ")
    );
    sql.execute_many(&text, rows)?;
    Ok(())
}

/// Fewest rows [`insert_rows`] loads with `COPY` on PostgreSQL (fewer go by `UNNEST`, one
/// round trip where `COPY` takes two).
pub const COPY_ROWS: usize = 256;

/// One PostgreSQL `INSERT … SELECT … FROM UNNEST(…)` of rows given as `columns`, a list of
/// values per column (see [`insert_rows`]); nothing when they are empty. Each
/// column's array type follows its values (integers, text or reals; a column must not mix
/// them); date columns travel as text and are cast.
fn insert_unnest(
    sql: &mut dyn Sql,
    table: &str,
    cols: &[Col],
    columns: Vec<Vec<Param>>,
) -> Result<()> {
    if columns.first().is_none_or(Vec::is_empty) {
        return Ok(());
    }
    let mut params: Vec<Param> = Vec::with_capacity(cols.len());
    let mut selects = Vec::with_capacity(cols.len());
    let mut arrays = Vec::with_capacity(cols.len());
    for (j, (c, column)) in cols.iter().zip(columns).enumerate() {
        let list = match column.first() {
            Some(Param::Int(_)) => Param::Ints(
                column
                    .into_iter()
                    .map(|p| match p {
                        Param::Int(v) => Ok(v),
                        _ => Err(mixed(table, c.0)),
                    })
                    .collect::<Result<_>>()?,
            ),
            Some(Param::Real(_)) => Param::Reals(
                column
                    .into_iter()
                    .map(|p| match p {
                        Param::Real(v) => Ok(v),
                        Param::Int(v) => Ok(v.map(|n| n as f64)),
                        _ => Err(mixed(table, c.0)),
                    })
                    .collect::<Result<_>>()?,
            ),
            _ => Param::Texts(
                column
                    .into_iter()
                    .map(|p| match p {
                        Param::Text(v) => Ok(v),
                        _ => Err(mixed(table, c.0)),
                    })
                    .collect::<Result<_>>()?,
            ),
        };
        let ty = list.pg_array_type().unwrap_or("TEXT[]");
        params.push(list);
        arrays.push(format!("CAST(${} AS {ty})", j + 1));
        selects.push(if c.1 {
            format!("CAST(u.c{j} AS DATE)")
        } else {
            format!("u.c{j}")
        });
    }
    let names: Vec<&str> = cols.iter().map(|c| c.0).collect();
    let aliases: Vec<String> = (0..cols.len()).map(|j| format!("c{j}")).collect();
    sql.execute(
        &format!(
            "INSERT INTO {table} ({}) SELECT {} FROM UNNEST({}) AS u({})",
            names.join(", "),
            selects.join(", "),
            arrays.join(", "),
            aliases.join(", ")
        ),
        &params,
    )?;
    Ok(())
}

pub(crate) fn mixed(table: &str, col: &str) -> StoreError {
    StoreError::Invalid(format!("valores de tipos distintos en {table}.{col}"))
}

/// `(col BETWEEN … OR …)` for inclusive district ranges (`1 = 0` when there are none).
pub fn ranges_sql(col: &str, ranges: &[(i64, i64)], params: &mut Vec<Param>) -> String {
    if ranges.is_empty() {
        return "1 = 0".into();
    }
    let parts: Vec<String> = ranges
        .iter()
        .map(|(lo, hi)| {
            params.push((*lo).into());
            params.push((*hi).into());
            format!("{col} BETWEEN ${} AND ${}", params.len() - 1, params.len())
        })
        .collect();
    format!("({})", parts.join(" OR "))
}

pub(crate) fn next_id(sql: &mut dyn Sql, table: &str) -> Result<i64> {
    Ok(sql
        .query_opt(
            &format!("SELECT COALESCE(MAX(id), 0) + 1 FROM {table}"),
            &[],
        )?
        .and_then(|r| r.int(0))
        .unwrap_or(1))
}
