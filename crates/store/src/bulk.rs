//! Bulk writes shared by the storage modules: many rows inserted at once (SQLite's prepared
//! statement reused, PostgreSQL's `UNNEST` arrays or `COPY` for large batches), date
//! parameters that both backends read alike, id ranges as SQL conditions, and ids assigned in
//! order.

use crate::sql::{Param, Sql};
use crate::Backend;
use crate::{Result, StoreError};

/// A date parameter: PostgreSQL `DATE` columns take text through a cast, SQLite stores text.
pub(crate) fn date_param(sql: &dyn Sql, n: usize) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bulk_inserts_and_value_lists_read_back_alike_on_both_backends() {
        use crate::sql::{in_ints, in_texts, Param};
        for db in crate::testing::all_dbs() {
            let mut s = db.open();
            let mut db_handle = s.db();
            let sql = db_handle.raw();
            sql.batch(
                "CREATE TABLE bulk_t (id BIGINT PRIMARY KEY, name TEXT, day DATE, x DOUBLE PRECISION)",
            )
            .unwrap();
            let rows: Vec<Vec<Param>> = (1..=25_000i64)
                .map(|i| {
                    vec![
                        i.into(),
                        if i % 7 == 0 {
                            Param::Text(None)
                        } else if i % 11 == 0 {
                            // What COPY's text format escapes, and a letter beyond ASCII.
                            format!("tab\tnl\ncr\rbs\\ñ{i}").into()
                        } else {
                            format!("n{i}").into()
                        },
                        Param::Text(Some(format!("2026-01-{:02}", i % 28 + 1))),
                        Param::Real(Some(i as f64 / 2.0)),
                    ]
                })
                .collect();
            let cols = [
                Col("id", false),
                Col("name", false),
                Col("day", true),
                Col("x", false),
            ];
            // Few rows (PostgreSQL: one UNNEST statement), then many (PostgreSQL: COPY).
            let (few, many) = rows.split_at(COPY_ROWS - 1);
            insert_rows(sql, "bulk_t", &cols, few).unwrap();
            insert_rows(sql, "bulk_t", &cols, many).unwrap();
            let one = |sql: &mut dyn crate::sql::Sql, q: &str, p: &[Param]| {
                sql.query_opt(q, p).unwrap().and_then(|r| r.int(0))
            };
            assert_eq!(
                one(sql, "SELECT count(*) FROM bulk_t", &[]),
                Some(25_000),
                "{}",
                db.label
            );
            assert_eq!(
                one(sql, "SELECT count(*) FROM bulk_t WHERE name IS NULL", &[]),
                Some(25_000 / 7),
                "{}",
                db.label
            );
            let r = sql
                .query_opt(
                    "SELECT name, CAST(day AS TEXT), x FROM bulk_t WHERE id = 20001",
                    &[],
                )
                .unwrap()
                .unwrap();
            assert_eq!(r.text(0), "n20001", "{}", db.label);
            assert_eq!(r.text(1), "2026-01-10", "{}", db.label);
            assert_eq!(r.at(2).real(), Some(10_000.5), "{}", db.label);
            // Escaped texts read back as written, by either way in.
            for id in [22i64, 22_000] {
                let got = sql
                    .query_opt("SELECT name FROM bulk_t WHERE id = $1", &[id.into()])
                    .unwrap()
                    .unwrap()
                    .text(0);
                assert_eq!(got, format!("tab\tnl\ncr\rbs\\ñ{id}"), "{}", db.label);
            }
            // Outside a transaction the rows are inserted all or none: a duplicate key in the
            // last row leaves the others out too — of a few rows and of many (PostgreSQL: UNNEST,
            // then one COPY).
            for n in [2i64, COPY_ROWS as i64] {
                let clash: Vec<Vec<Param>> = (30_001..=30_000 + n)
                    .chain([1])
                    .map(|i| {
                        vec![
                            i.into(),
                            "x".into(),
                            Param::Text(Some("2026-02-01".into())),
                            Param::Real(None),
                        ]
                    })
                    .collect();
                assert!(
                    insert_rows(sql, "bulk_t", &cols, &clash).is_err(),
                    "{} {n}",
                    db.label
                );
                assert_eq!(
                    one(sql, "SELECT count(*) FROM bulk_t WHERE id > 30000", &[]),
                    Some(0),
                    "{} {n}",
                    db.label
                );
            }
            // A row of the wrong width is refused before anything is written.
            let short = vec![vec![Param::from(99_999i64)]];
            assert!(
                insert_rows(sql, "bulk_t", &cols, &short).is_err(),
                "{}",
                db.label
            );
            // Value lists: the same rows on both backends, none for an empty list.
            for (ids, want) in [(vec![3, 14, 20001, 99_999], 3), (vec![], 0)] {
                let mut p = Vec::new();
                let f = in_ints(sql.dialect(), "id", &ids, &mut p);
                let q = format!("SELECT count(*) FROM bulk_t WHERE {f}");
                assert_eq!(one(sql, &q, &p), Some(want), "{} {ids:?}", db.label);
            }
            let mut p = vec![Param::from(10i64)];
            let f = in_texts(sql.dialect(), "name", &["n3", "n4", "n12", "nada"], &mut p);
            let q = format!("SELECT count(*) FROM bulk_t WHERE id < $1 AND {f}");
            assert_eq!(one(sql, &q, &p), Some(2), "{}", db.label);
        }
    }
}
