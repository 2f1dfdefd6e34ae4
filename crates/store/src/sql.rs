//! A small SQL executor over either backend, for the many short queries of the server
//! (accounts, sessions, tokens, agreements, the audit chain, registry views, DCI transactions).
//!
//! Those queries are written once, in PostgreSQL placeholder style (`$1`, `$2`, …), and run on
//! both backends: SQLite reads `$N` as `?N`. Values cross the boundary as [`Param`] and [`Cell`]
//! so that callers never touch a driver type. The bulk import and classification paths keep
//! their backend-specific code (prepared statements, `COPY`), where speed matters; this path is
//! for correctness and one implementation.
//! Architecture invariant: parameters are always bound, never formatted into SQL text.

use crate::{Backend, Result, StoreError};

/// A bound parameter. Nulls carry their type (PostgreSQL needs it).
#[derive(Debug, Clone, PartialEq)]
pub enum Param {
    Int(Option<i64>),
    Text(Option<String>),
    Real(Option<f64>),
    /// Binary content (a change request's attachment): `BYTEA` / `BLOB`.
    Bytes(Option<Vec<u8>>),
    /// A list bound as one array parameter, PostgreSQL only (`= ANY($n)`, `UNNEST($n)`): the
    /// statement text stays the same whatever the number of values, so it is prepared once
    /// per connection. SQLite rejects it (see [`in_ints`] for lists that run on both).
    Ints(Vec<Option<i64>>),
    Texts(Vec<Option<String>>),
    Reals(Vec<Option<f64>>),
}

impl Param {
    /// The PostgreSQL array type of a list parameter (`None` for a single value).
    pub fn pg_array_type(&self) -> Option<&'static str> {
        match self {
            Param::Ints(_) => Some("BIGINT[]"),
            Param::Texts(_) => Some("TEXT[]"),
            Param::Reals(_) => Some("DOUBLE PRECISION[]"),
            _ => None,
        }
    }
}

/// `col IN (…)` over `values`, pushing its parameters onto `params`: one array parameter on
/// PostgreSQL (`col = ANY($n)`, one prepared statement for every length), one parameter per
/// value on SQLite. Callers split long lists (SQLite binds at most 32,766 parameters).
pub fn in_ints(dialect: Backend, col: &str, values: &[i64], params: &mut Vec<Param>) -> String {
    match dialect {
        Backend::Postgres => {
            params.push(Param::Ints(values.iter().map(|v| Some(*v)).collect()));
            format!("{col} = ANY(CAST(${} AS BIGINT[]))", params.len())
        }
        Backend::Sqlite => in_list(col, values.iter().map(|v| Param::from(*v)), params),
    }
}

/// [`in_ints`] for text values.
pub fn in_texts(dialect: Backend, col: &str, values: &[&str], params: &mut Vec<Param>) -> String {
    match dialect {
        Backend::Postgres => {
            params.push(Param::Texts(
                values.iter().map(|v| Some((*v).to_string())).collect(),
            ));
            format!("{col} = ANY(CAST(${} AS TEXT[]))", params.len())
        }
        Backend::Sqlite => in_list(col, values.iter().map(|v| Param::from(*v)), params),
    }
}

fn in_list(col: &str, values: impl Iterator<Item = Param>, params: &mut Vec<Param>) -> String {
    let marks: Vec<String> = values
        .map(|v| {
            params.push(v);
            format!("${}", params.len())
        })
        .collect();
    if marks.is_empty() {
        return "1 = 0".into();
    }
    format!("{col} IN ({})", marks.join(", "))
}

impl From<i64> for Param {
    fn from(v: i64) -> Self {
        Param::Int(Some(v))
    }
}
impl From<Option<i64>> for Param {
    fn from(v: Option<i64>) -> Self {
        Param::Int(v)
    }
}
impl From<&str> for Param {
    fn from(v: &str) -> Self {
        Param::Text(Some(v.to_string()))
    }
}
impl From<String> for Param {
    fn from(v: String) -> Self {
        Param::Text(Some(v))
    }
}
impl From<&String> for Param {
    fn from(v: &String) -> Self {
        Param::Text(Some(v.clone()))
    }
}
impl From<Option<String>> for Param {
    fn from(v: Option<String>) -> Self {
        Param::Text(v)
    }
}
impl From<Option<&str>> for Param {
    fn from(v: Option<&str>) -> Self {
        Param::Text(v.map(str::to_string))
    }
}
impl From<bool> for Param {
    /// Flags are stored as 0/1 integers on both backends.
    fn from(v: bool) -> Self {
        Param::Int(Some(i64::from(v)))
    }
}

/// Row ids bind as their number.
macro_rules! row_id_params {
    ($($t:ty),+) => {$(
        impl From<$t> for Param {
            fn from(v: $t) -> Self {
                Param::Int(Some(v.get()))
            }
        }
        impl From<Option<$t>> for Param {
            fn from(v: Option<$t>) -> Self {
                Param::Int(v.map(<$t>::get))
            }
        }
    )+};
}
row_id_params!(
    vamos_domain::PersonId,
    vamos_domain::HouseholdId,
    vamos_domain::CommunityId,
    vamos_domain::ReferralId
);

/// One value read back.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
    /// A `BYTEA` / `BLOB` value.
    Bytes(Vec<u8>),
}

impl Cell {
    pub fn int(&self) -> Option<i64> {
        match self {
            Cell::Int(n) => Some(*n),
            Cell::Real(x) => Some(*x as i64),
            Cell::Text(t) => t.parse().ok(),
            Cell::Null | Cell::Bytes(_) => None,
        }
    }
    pub fn text(&self) -> Option<&str> {
        match self {
            Cell::Text(t) => Some(t),
            _ => None,
        }
    }
    pub fn string(&self) -> Option<String> {
        match self {
            Cell::Text(t) => Some(t.clone()),
            Cell::Int(n) => Some(n.to_string()),
            Cell::Real(x) => Some(x.to_string()),
            Cell::Bytes(b) => Some(String::from_utf8_lossy(b).into_owned()),
            Cell::Null => None,
        }
    }
    /// The bytes of a binary value (text as its UTF-8 bytes).
    pub fn bytes(&self) -> Option<Vec<u8>> {
        match self {
            Cell::Bytes(b) => Some(b.clone()),
            Cell::Text(t) => Some(t.as_bytes().to_vec()),
            _ => None,
        }
    }
    pub fn real(&self) -> Option<f64> {
        match self {
            Cell::Real(x) => Some(*x),
            Cell::Int(n) => Some(*n as f64),
            _ => None,
        }
    }
    pub fn is_null(&self) -> bool {
        matches!(self, Cell::Null)
    }
    /// As JSON: numbers stay numbers, text stays text, null stays null.
    pub fn json(&self) -> serde_json::Value {
        match self {
            Cell::Null => serde_json::Value::Null,
            Cell::Int(n) => serde_json::Value::from(*n),
            Cell::Real(x) => serde_json::Value::from(*x),
            Cell::Text(t) => serde_json::Value::from(t.as_str()),
            Cell::Bytes(b) => serde_json::Value::from(b.len()),
        }
    }
}

/// A result row with its column names (shared by all rows of one query).
#[derive(Debug, Clone)]
pub struct Row {
    pub cells: Vec<Cell>,
    pub columns: std::sync::Arc<[String]>,
}

impl Row {
    /// The cell at `i` (a `Null` cell past the end, so a short row never panics).
    pub fn at(&self, i: usize) -> &Cell {
        const NULL: Cell = Cell::Null;
        self.cells.get(i).unwrap_or(&NULL)
    }
    pub fn int(&self, i: usize) -> Option<i64> {
        self.at(i).int()
    }
    pub fn string(&self, i: usize) -> Option<String> {
        self.at(i).string()
    }
    /// Text at `i`, empty when null.
    pub fn text(&self, i: usize) -> String {
        self.at(i).string().unwrap_or_default()
    }
    /// The position of column `name` (its first, when a join repeats a name).
    fn position(&self, name: &str) -> Result<usize> {
        self.columns
            .iter()
            .position(|c| c == name)
            .ok_or_else(|| StoreError::Invalid(format!("la consulta no tiene la columna «{name}»")))
    }
    /// The integer in column `name`: an error if it is NULL or missing.
    pub fn req_int(&self, name: &str) -> Result<i64> {
        self.opt_int(name)?
            .ok_or_else(|| StoreError::Invalid(format!("la columna «{name}» es NULL")))
    }
    /// The integer in column `name`, `None` when NULL.
    pub fn opt_int(&self, name: &str) -> Result<Option<i64>> {
        Ok(self.at(self.position(name)?).int())
    }
    /// The text in column `name`: an error if it is NULL or missing.
    pub fn req_text(&self, name: &str) -> Result<String> {
        self.opt_text(name)?
            .ok_or_else(|| StoreError::Invalid(format!("la columna «{name}» es NULL")))
    }
    /// The text in column `name`, `None` when NULL.
    pub fn opt_text(&self, name: &str) -> Result<Option<String>> {
        Ok(self.at(self.position(name)?).string())
    }
    /// The row as a JSON object keyed by column name.
    pub fn object(&self) -> serde_json::Map<String, serde_json::Value> {
        self.object_from(0)
    }
    /// The columns from `start` on as a JSON object keyed by column name.
    pub fn object_from(&self, start: usize) -> serde_json::Map<String, serde_json::Value> {
        self.columns
            .iter()
            .zip(&self.cells)
            .skip(start)
            .map(|(k, v)| (k.clone(), v.json()))
            .collect()
    }
}

/// A connection (or an open transaction on it) as the store's area functions take it.
///
/// Opaque above the store on purpose: the crates above hand it from [`crate::Store::db`] to
/// the store's typed functions and can neither write SQL nor reach the driver through it, so
/// every statement the system runs is in this crate.
pub struct Db<'a>(&'a mut dyn Sql);

impl<'a> Db<'a> {
    pub(crate) fn new(sql: &'a mut dyn Sql) -> Self {
        Db(sql)
    }
    /// The executor, inside the store.
    pub(crate) fn raw(&mut self) -> &mut dyn Sql {
        &mut *self.0
    }
    /// Which backend this connection talks to (some use cases pick a batch size by it).
    pub fn backend(&self) -> Backend {
        self.0.dialect()
    }
}

/// Runs parameterised SQL on one connection. Implemented by both stores; private to the store
/// (callers above hold a [`Db`]).
pub(crate) trait Sql {
    fn dialect(&self) -> Backend;
    /// Rows of a query.
    fn query(&mut self, sql: &str, params: &[Param]) -> Result<Vec<Row>>;
    /// Runs a statement; returns the rows it changed.
    fn execute(&mut self, sql: &str, params: &[Param]) -> Result<u64>;
    /// Runs statements without parameters (`BEGIN`, DDL).
    fn batch(&mut self, sql: &str) -> Result<()>;
    /// Runs one statement once per row of parameters; returns the rows changed. This default
    /// runs them one by one; SQLite's prepares the statement once and runs all rows or none
    /// (inside the caller's transaction, or in one of its own).
    fn execute_many(&mut self, sql: &str, rows: &[Vec<Param>]) -> Result<u64> {
        let mut changed = 0;
        for row in rows {
            changed += self.execute(sql, row)?;
        }
        Ok(changed)
    }

    /// PostgreSQL: loads `rows` (one single value per column of `cols`, in order) into
    /// `table` with one `COPY … FROM STDIN` in its text format, inside the caller's
    /// transaction; returns the rows loaded. Each value is written as its text (a date column
    /// takes its ISO text as a `CAST` would). SQLite has no `COPY`: callers check the dialect.
    fn copy_rows(&mut self, table: &str, cols: &[&str], rows: &[Vec<Param>]) -> Result<u64> {
        let _ = (cols, rows);
        Err(StoreError::Invalid(format!(
            "COPY en {table}: solo PostgreSQL lo tiene"
        )))
    }

    /// The first row, if any.
    fn query_opt(&mut self, sql: &str, params: &[Param]) -> Result<Option<Row>> {
        Ok(self.query(sql, params)?.into_iter().next())
    }
}

/// Runs `f` in one write transaction (SQLite `BEGIN IMMEDIATE`: one writer at a time), committing
/// when it returns `Ok` and rolling back otherwise.
pub(crate) fn in_tx<T>(sql: &mut dyn Sql, f: impl FnOnce(&mut dyn Sql) -> Result<T>) -> Result<T> {
    sql.batch(match sql.dialect() {
        Backend::Sqlite => "BEGIN IMMEDIATE",
        Backend::Postgres => "BEGIN",
    })?;
    match f(sql) {
        Ok(v) => {
            sql.batch("COMMIT")?;
            Ok(v)
        }
        Err(e) => {
            // The original error matters more than a failed rollback.
            let _ = sql.batch("ROLLBACK");
            Err(e)
        }
    }
}

/// Refreshes the query planner's statistics of `tables` after a bulk write. PostgreSQL plans
/// with them, and a server whose autovacuum is off (or has not got there yet) plans a freshly
/// loaded table as if it were empty, which slows batches of counter-referrals by orders of
/// magnitude until an `ANALYZE` (measured: BENCHMARKS.md, issue 5). SQLite runs
/// `PRAGMA optimize`.
pub fn refresh_statistics(sql: &mut crate::sql::Db<'_>, tables: &[&str]) -> Result<()> {
    let sql = sql.raw();
    match sql.dialect() {
        Backend::Postgres => sql.batch(&format!("ANALYZE {}", tables.join(", "))),
        Backend::Sqlite => sql.batch("PRAGMA optimize"),
    }
}

/// Refreshes a table's planner statistics on PostgreSQL when it has changed by more than a
/// tenth since they were taken (autovacuum's own rule; these machines run with autovacuum off,
/// and a server must not depend on it). Returns whether it did. Counter-referrals accumulate
/// while the server runs: with statistics taken when the table was small, the planner hashed
/// the whole table for every district the Logros updater read, slower than the index it uses
/// once analysed (measured: BENCHMARKS.md, issue 5). SQLite: nothing to do.
pub fn refresh_statistics_if_stale(sql: &mut crate::sql::Db<'_>, table: &str) -> Result<bool> {
    let sql = sql.raw();
    if sql.dialect() != Backend::Postgres {
        return Ok(false);
    }
    let stale = sql
        .query_opt(
            "SELECT n_mod_since_analyze > 1000 + n_live_tup / 10 FROM pg_stat_user_tables
             WHERE relname = $1 AND schemaname = current_schema()",
            &[table.into()],
        )?
        .and_then(|r| r.int(0))
        .unwrap_or(0)
        != 0;
    if stale {
        refresh_statistics(&mut crate::sql::Db::new(sql), &[table])?;
    }
    Ok(stale)
}

/// Serialises writers on a named lock inside a transaction: PostgreSQL takes an advisory
/// transaction lock; SQLite's `BEGIN IMMEDIATE` already admits one writer.
pub(crate) fn lock(sql: &mut dyn Sql, key: i64) -> Result<()> {
    if sql.dialect() == Backend::Postgres {
        sql.query("SELECT pg_advisory_xact_lock($1)", &[Param::from(key)])?;
    }
    Ok(())
}

/// Takes a named lock in shared mode inside a transaction: PostgreSQL's shared advisory
/// transaction lock, held at once by any number of sharers and excluding [`lock`]'s holders;
/// SQLite's `BEGIN IMMEDIATE` already admits one writer.
pub(crate) fn lock_shared(sql: &mut dyn Sql, key: i64) -> Result<()> {
    if sql.dialect() == Backend::Postgres {
        sql.query(
            "SELECT pg_advisory_xact_lock_shared($1)",
            &[Param::from(key)],
        )?;
    }
    Ok(())
}

/// `$N` placeholders as SQLite's `?N` (outside quoted text).
pub(crate) fn sqlite_placeholders(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut quoted = false;
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\'' {
            quoted = !quoted;
        }
        if c == '$' && !quoted && chars.peek().is_some_and(|d| d.is_ascii_digit()) {
            out.push('?');
        } else {
            out.push(c);
        }
    }
    out
}

/// `(a, b, …)` text for an `IN` list of integers — integers only, so formatting is safe.
pub fn int_list(values: &[i64]) -> String {
    let inner: Vec<String> = values.iter().map(i64::to_string).collect();
    format!("({})", inner.join(", "))
}

impl From<serde_json::Error> for StoreError {
    fn from(e: serde_json::Error) -> Self {
        StoreError::Invalid(format!("JSON: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_become_sqlite_style_outside_quotes() {
        assert_eq!(
            sqlite_placeholders("SELECT $1, '$2', $10 FROM t WHERE a = $2"),
            "SELECT ?1, '$2', ?10 FROM t WHERE a = ?2"
        );
        assert_eq!(int_list(&[1, -2]), "(1, -2)");
    }
}
