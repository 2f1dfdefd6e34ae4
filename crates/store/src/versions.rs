//! Versions of households and persons (issue 36): the current version lives in `households` /
//! `persons`, every other one in `household_history` / `person_history` (migration 0018).
//!
//! Writes go through [`apply`], which runs a whole [`VersionSet`] in one transaction: a unit's
//! new current version first copies the row it replaces into the history, then overwrites it
//! in place (rows are referenced by referrals and evidence, so a replacement is an `UPDATE`,
//! never a delete). The rules — which versions an edit writes, how they are dated — are the
//! caller's (`vamos_app`, `vamos_ingest`); this module only stores them.

use crate::bulk::date_param;
use crate::sql::{in_tx, Db, Param, Row, Sql};
use crate::{iso, Backend, Result, StoreError};
use chrono::NaiveDate;
use vamos_domain::schema::{FieldKind, COMMUNITY_FIELDS, HOUSEHOLD_FIELDS, PERSON_FIELDS};
use vamos_domain::versions::{household_hash, person_hash, UnitStatus, VersionMeta};
use vamos_domain::{
    CommunitySurvey, DistrictCode, FieldSpec, Household, ImportKind, NationalId, Person,
    Provenance, Sex, Value,
};

/// Everything one edit writes, applied all or nothing by [`apply`].
#[derive(Debug, Default, Clone)]
pub struct VersionSet {
    /// New current versions of existing households (the old row goes to the history).
    pub households: Vec<(Household, VersionMeta)>,
    /// New current versions of existing persons.
    pub persons: Vec<(Person, VersionMeta)>,
    /// Persons new to the registry (a birth, a member who joined): inserted as current rows
    /// with the ids given (take them from [`next_person_id`] inside the same transaction).
    pub new_persons: Vec<(Person, VersionMeta)>,
    /// Households new to the registry (one split off another): inserted as current rows with
    /// the ids given (take them from [`next_household_id`] inside the same transaction).
    pub new_households: Vec<(Household, VersionMeta)>,
    /// Versions that do not become current (a correction of a past version): history only.
    pub past_households: Vec<(Household, VersionMeta)>,
    pub past_persons: Vec<(Person, VersionMeta)>,
}

const VERSION_COLS: [&str; 7] = [
    "valid_from",
    "recorded_at",
    "version",
    "status",
    "merged_into",
    "change_id",
    "content_hash",
];

fn household_cols() -> Vec<&'static str> {
    let mut c = vec![
        "id",
        "submission_key",
        "form",
        "district_code",
        "community_id",
        "area",
        "address",
        "latitude",
        "longitude",
        "interview_date",
    ];
    c.extend(HOUSEHOLD_FIELDS.iter().map(|f| f.name));
    c.extend(["import_id", "file_no", "source_row"]);
    c.extend(VERSION_COLS);
    c
}

fn person_cols() -> Vec<&'static str> {
    let mut c = vec![
        "id",
        "household_id",
        "submission_key",
        "given_names",
        "family_names",
        "national_id",
        "birth_date",
        "sex",
        "relationship",
    ];
    c.extend(PERSON_FIELDS.iter().map(|f| f.name));
    c.extend(["import_id", "file_no", "source_row"]);
    c.extend(VERSION_COLS);
    c
}

fn answer_param(v: &Value) -> Param {
    match v {
        Value::Null => Param::Text(None),
        Value::Int(n) => Param::Int(Some(*n)),
        Value::Text(s) => Param::Text(Some(s.clone())),
        Value::Code(s) => Param::Text(Some((*s).to_string())),
        Value::Date(d) => Param::Text(Some(iso(*d))),
    }
}

/// Integer answer columns bind a typed NULL (PostgreSQL checks the parameter's type).
fn answer_params(fields: &[FieldSpec], values: &[Value]) -> Vec<Param> {
    fields
        .iter()
        .zip(values)
        .map(|(f, v)| match (f.kind, v) {
            (FieldKind::Integer { .. }, Value::Null) => Param::Int(None),
            _ => answer_param(v),
        })
        .collect()
}

fn meta_params(m: &VersionMeta, hash: i64) -> [Param; 7] {
    [
        Param::Text(m.valid_from.map(iso)),
        Param::Text(Some(m.recorded_at.clone())),
        Param::Int(Some(m.version)),
        Param::Text(Some(m.status.as_str().into())),
        Param::Int(m.merged_into),
        Param::Int(m.change_id),
        Param::Int(Some(hash)),
    ]
}

fn household_params(h: &Household, m: &VersionMeta) -> Vec<Param> {
    let mut p = vec![
        Param::Int(Some(h.id)),
        Param::Text(Some(h.submission_key.clone())),
        Param::Text(Some(h.form.as_str().into())),
        Param::Int(Some(i64::from(h.district.get()))),
        Param::Int(Some(h.community_id)),
        Param::Text(h.area.clone()),
        Param::Text(h.address.clone()),
        Param::Real(h.latitude),
        Param::Real(h.longitude),
        Param::Text(Some(iso(h.interview_date))),
    ];
    p.extend(answer_params(HOUSEHOLD_FIELDS, &h.answers));
    p.extend([
        Param::Int(Some(h.provenance.import_id)),
        Param::Int(Some(i64::from(h.provenance.file_no))),
        Param::Int(Some(h.provenance.row as i64)),
    ]);
    p.extend(meta_params(m, household_hash(h)));
    p
}

fn person_params(x: &Person, m: &VersionMeta) -> Vec<Param> {
    let mut p = vec![
        Param::Int(Some(x.id)),
        Param::Int(Some(x.household_id)),
        Param::Text(Some(x.submission_key.clone())),
        Param::Text(Some(x.given_names.clone())),
        Param::Text(Some(x.family_names.clone())),
        Param::Int(x.national_id.map(|n| i64::from(n.get()))),
        Param::Text(Some(iso(x.birth_date))),
        Param::Text(Some(x.sex.as_str().into())),
        Param::Text(Some(x.relationship.clone())),
    ];
    p.extend(answer_params(PERSON_FIELDS, &x.answers));
    p.extend([
        Param::Int(Some(x.provenance.import_id)),
        Param::Int(Some(i64::from(x.provenance.file_no))),
        Param::Int(Some(x.provenance.row as i64)),
    ]);
    p.extend(meta_params(m, person_hash(x)));
    p
}

/// `$n` for each column, with the date columns cast on PostgreSQL.
fn value_marks(sql: &dyn Sql, cols: &[&str]) -> Vec<String> {
    cols.iter()
        .enumerate()
        .map(|(i, c)| {
            if matches!(*c, "interview_date" | "birth_date") {
                date_param(sql, i + 1)
            } else {
                format!("${}", i + 1)
            }
        })
        .collect()
}

fn insert_sql(sql: &dyn Sql, table: &str, cols: &[&str]) -> String {
    format!(
        "INSERT INTO {table} ({}) VALUES ({})",
        cols.join(", "),
        value_marks(sql, cols).join(", ")
    )
}

/// Replaces the current row `id` of `table`, whose old content goes to `history` first.
fn replace_sql(sql: &dyn Sql, table: &str, cols: &[&str]) -> String {
    let marks = value_marks(sql, cols);
    let sets: Vec<String> = cols
        .iter()
        .zip(&marks)
        .skip(1)
        .map(|(c, m)| format!("{c} = {m}"))
        .collect();
    format!("UPDATE {table} SET {} WHERE id = $1", sets.join(", "))
}

/// Makes `rows` — (id, new version, the row's values in `cols` order) — the current rows of
/// `table`, the rows they replace moved to `history` first. On PostgreSQL in bulk — one version
/// check and one copy to the history per slice of ids, the new values by `COPY` into a temporary
/// table and one `UPDATE … FROM` (a re-interview wave replaces hundreds of thousands of rows:
/// one round trip per row would dominate); on SQLite row by row by primary key.
fn replace_current(
    sql: &mut dyn Sql,
    (label, table, history): (&str, &str, &str),
    cols: &[&str],
    rows: Vec<(i64, i64, Vec<Param>)>,
) -> Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    if sql.dialect() == Backend::Sqlite {
        // In process a statement costs no round trip: one prepared check, copy and update per
        // row, each by primary key.
        let text = replace_sql(sql, table, cols);
        for (id, next, values) in &rows {
            let current = sql
                .query_opt(
                    &format!("SELECT version FROM {table} WHERE id = $1"),
                    &[(*id).into()],
                )?
                .and_then(|r| r.int(0));
            check_version(label, *id, current, *next)?;
            sql.execute(
                &format!("INSERT INTO {history} SELECT * FROM {table} WHERE id = $1"),
                &[(*id).into()],
            )?;
            sql.execute(&text, values)?;
        }
        return Ok(());
    }
    let ids: Vec<i64> = rows.iter().map(|(id, _, _)| *id).collect();
    let current: std::collections::HashMap<i64, i64> = rows_in(
        sql,
        &format!("SELECT id, version FROM {table} WHERE {{in}}"),
        "id",
        &ids,
    )?
    .iter()
    .filter_map(|r| Some((r.int(0)?, r.int(1)?)))
    .collect();
    for (id, next, _) in &rows {
        check_version(label, *id, current.get(id).copied(), *next)?;
    }
    for slice in ids.chunks(10_000) {
        let mut params = Vec::new();
        let within = crate::sql::in_ints(sql.dialect(), "id", slice, &mut params);
        sql.execute(
            &format!("INSERT INTO {history} SELECT * FROM {table} WHERE {within}"),
            &params,
        )?;
    }
    let values: Vec<Vec<Param>> = rows.into_iter().map(|(_, _, v)| v).collect();
    let staged = format!("staged_{table}");
    sql.batch(&format!(
        "CREATE TEMP TABLE IF NOT EXISTS {staged} (LIKE {table}) ON COMMIT DROP;
         TRUNCATE {staged}"
    ))?;
    sql.copy_rows(&staged, cols, &values)?;
    let sets: Vec<String> = cols
        .iter()
        .skip(1)
        .map(|c| format!("{c} = s.{c}"))
        .collect();
    sql.execute(
        &format!(
            "UPDATE {table} x SET {} FROM {staged} s WHERE x.id = s.id",
            sets.join(", ")
        ),
        &[],
    )?;
    Ok(())
}

fn check_version(table: &str, id: i64, current: Option<i64>, next: i64) -> Result<()> {
    match current {
        None => Err(StoreError::Invalid(format!("{table} {id}: no existe"))),
        Some(v) if next <= v => Err(StoreError::Invalid(format!(
            "{table} {id}: la versión {next} no sigue a la vigente {v}"
        ))),
        Some(_) => Ok(()),
    }
}

/// Writes `set` in the caller's transaction (see [`apply`]).
pub(crate) fn write(sql: &mut dyn Sql, set: &VersionSet) -> Result<()> {
    let hcols = household_cols();
    let pcols = person_cols();
    replace_current(
        sql,
        ("hogar", "households", "household_history"),
        &hcols,
        set.households
            .iter()
            .map(|(h, m)| (h.id, m.version, household_params(h, m)))
            .collect(),
    )?;
    if !set.new_households.is_empty() {
        let text = insert_sql(sql, "households", &hcols);
        let rows: Vec<Vec<Param>> = set
            .new_households
            .iter()
            .map(|(h, m)| household_params(h, m))
            .collect();
        sql.execute_many(&text, &rows)?;
    }
    replace_current(
        sql,
        ("persona", "persons", "person_history"),
        &pcols,
        set.persons
            .iter()
            .map(|(p, m)| (p.id, m.version, person_params(p, m)))
            .collect(),
    )?;
    if !set.new_persons.is_empty() {
        let text = insert_sql(sql, "persons", &pcols);
        let rows: Vec<Vec<Param>> = set
            .new_persons
            .iter()
            .map(|(p, m)| person_params(p, m))
            .collect();
        sql.execute_many(&text, &rows)?;
    }
    if !set.past_households.is_empty() {
        let text = insert_sql(sql, "household_history", &hcols);
        let rows: Vec<Vec<Param>> = set
            .past_households
            .iter()
            .map(|(h, m)| household_params(h, m))
            .collect();
        sql.execute_many(&text, &rows)?;
    }
    if !set.past_persons.is_empty() {
        let text = insert_sql(sql, "person_history", &pcols);
        let rows: Vec<Vec<Param>> = set
            .past_persons
            .iter()
            .map(|(p, m)| person_params(p, m))
            .collect();
        sql.execute_many(&text, &rows)?;
    }
    Ok(())
}

/// Applies `set` in one transaction of its own: all of it or nothing.
pub fn apply(db: &mut Db<'_>, set: &VersionSet) -> Result<()> {
    in_tx(db.raw(), |sql| write(sql, set))
}

/// The next free person id (current and past versions), for [`VersionSet::new_persons`].
pub fn next_person_id(db: &mut Db<'_>) -> Result<i64> {
    next_person_id_in(db.raw())
}

pub(crate) fn next_person_id_in(sql: &mut dyn Sql) -> Result<i64> {
    let row = sql.query_opt(
        "SELECT MAX(m) FROM (SELECT MAX(id) AS m FROM persons
         UNION ALL SELECT MAX(id) AS m FROM person_history) t",
        &[],
    )?;
    Ok(row.and_then(|r| r.int(0)).unwrap_or(0) + 1)
}

/// The next free household id (current and past versions), for
/// [`VersionSet::new_households`].
pub fn next_household_id(db: &mut Db<'_>) -> Result<i64> {
    next_household_id_in(db.raw())
}

pub(crate) fn next_household_id_in(sql: &mut dyn Sql) -> Result<i64> {
    let row = sql.query_opt(
        "SELECT MAX(m) FROM (SELECT MAX(id) AS m FROM households
         UNION ALL SELECT MAX(id) AS m FROM household_history) t",
        &[],
    )?;
    Ok(row.and_then(|r| r.int(0)).unwrap_or(0) + 1)
}

fn select_list(cols: &[&str]) -> String {
    cols.iter()
        .map(|c| match *c {
            // Dates come back as ISO text from both backends.
            "interview_date" | "birth_date" => format!("CAST({c} AS TEXT) AS {c}"),
            _ => (*c).to_string(),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn bad(what: &str) -> StoreError {
    StoreError::Invalid(format!("versión ilegible: {what}"))
}

fn date(s: Option<String>, what: &str) -> Result<NaiveDate> {
    s.and_then(|s| NaiveDate::parse_from_str(&s, "%Y-%m-%d").ok())
        .ok_or_else(|| bad(what))
}

fn answers(r: &Row, start: usize, fields: &[FieldSpec]) -> Vec<Value> {
    fields
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let c = r.at(start + i);
            match f.kind {
                FieldKind::Integer { .. } => c.int().map_or(Value::Null, Value::Int),
                _ => c.string().map_or(Value::Null, Value::Text),
            }
        })
        .collect()
}

fn meta(r: &Row, start: usize) -> Result<VersionMeta> {
    Ok(VersionMeta {
        valid_from: match r.string(start) {
            None => None,
            s => Some(date(s, "valid_from")?),
        },
        recorded_at: r.string(start + 1).unwrap_or_default(),
        version: r.int(start + 2).ok_or_else(|| bad("version"))?,
        status: r
            .string(start + 3)
            .as_deref()
            .and_then(UnitStatus::parse)
            .ok_or_else(|| bad("status"))?,
        merged_into: r.int(start + 4),
        change_id: r.int(start + 5),
    })
}

fn decode_household(r: &Row) -> Result<(Household, VersionMeta)> {
    let n = HOUSEHOLD_FIELDS.len();
    let district = r
        .int(3)
        .and_then(DistrictCode::from_stored)
        .ok_or_else(|| bad("district_code"))?;
    let h = Household {
        id: r.int(0).ok_or_else(|| bad("id"))?,
        submission_key: r.text(1),
        form: ImportKind::parse(&r.text(2)).ok_or_else(|| bad("form"))?,
        district,
        community_id: r.int(4).ok_or_else(|| bad("community_id"))?,
        area: r.string(5),
        address: r.string(6),
        latitude: r.at(7).real(),
        longitude: r.at(8).real(),
        interview_date: date(r.string(9), "interview_date")?,
        answers: answers(r, 10, HOUSEHOLD_FIELDS),
        provenance: Provenance {
            import_id: r.int(10 + n).unwrap_or(0),
            file_no: r.int(11 + n).unwrap_or(0) as u32,
            row: r.int(12 + n).unwrap_or(0) as u64,
        },
    };
    Ok((h, meta(r, 13 + n)?))
}

fn decode_person(r: &Row) -> Result<(Person, VersionMeta)> {
    let n = PERSON_FIELDS.len();
    let p = Person {
        id: r.int(0).ok_or_else(|| bad("id"))?,
        household_id: r.int(1).ok_or_else(|| bad("household_id"))?,
        submission_key: r.text(2),
        given_names: r.text(3),
        family_names: r.text(4),
        national_id: r
            .int(5)
            .and_then(|n| u32::try_from(n).ok())
            .and_then(|n| NationalId::parse_optional(&n.to_string()).ok().flatten()),
        birth_date: date(r.string(6), "birth_date")?,
        sex: Sex::parse(&r.text(7)).ok_or_else(|| bad("sex"))?,
        relationship: r.text(8),
        answers: answers(r, 9, PERSON_FIELDS),
        provenance: Provenance {
            import_id: r.int(9 + n).unwrap_or(0),
            file_no: r.int(10 + n).unwrap_or(0) as u32,
            row: r.int(11 + n).unwrap_or(0) as u64,
        },
    };
    Ok((p, meta(r, 12 + n)?))
}

/// The current version of household `id`.
pub fn household(db: &mut Db<'_>, id: i64) -> Result<Option<(Household, VersionMeta)>> {
    let cols = household_cols();
    db.raw()
        .query_opt(
            &format!(
                "SELECT {} FROM households WHERE id = $1",
                select_list(&cols)
            ),
            &[id.into()],
        )?
        .as_ref()
        .map(decode_household)
        .transpose()
}

/// The current version of person `id`.
pub fn person(db: &mut Db<'_>, id: i64) -> Result<Option<(Person, VersionMeta)>> {
    let cols = person_cols();
    db.raw()
        .query_opt(
            &format!("SELECT {} FROM persons WHERE id = $1", select_list(&cols)),
            &[id.into()],
        )?
        .as_ref()
        .map(decode_person)
        .transpose()
}

/// Every version of household `id`, oldest first (by version number), the current one last.
pub fn household_versions(db: &mut Db<'_>, id: i64) -> Result<Vec<(Household, VersionMeta)>> {
    let list = select_list(&household_cols());
    let rows = db.raw().query(
        &format!(
            "SELECT {list} FROM household_history WHERE id = $1
             UNION ALL SELECT {list} FROM households WHERE id = $1
             ORDER BY version"
        ),
        &[id.into()],
    )?;
    rows.iter().map(decode_household).collect()
}

/// Every version of every person who was ever a member of household `id` (in any version),
/// ordered by person and version.
pub fn member_versions(db: &mut Db<'_>, household_id: i64) -> Result<Vec<(Person, VersionMeta)>> {
    let list = select_list(&person_cols());
    let rows = db.raw().query(
        &format!(
            "WITH ids AS (SELECT id FROM persons WHERE household_id = $1
                          UNION SELECT id FROM person_history WHERE household_id = $1)
             SELECT {list} FROM person_history WHERE id IN (SELECT id FROM ids)
             UNION ALL SELECT {list} FROM persons WHERE id IN (SELECT id FROM ids)
             ORDER BY id, version"
        ),
        &[household_id.into()],
    )?;
    rows.iter().map(decode_person).collect()
}

/// A community and its versions: its surveys, oldest first (by survey date, then submission
/// key — the order [`crate::Reading`] picks them in), each with when the registry learnt it
/// (its import's finish, RFC 3339 UTC; `None` while the import is under way). `None` when
/// there is no such community.
#[allow(clippy::type_complexity)] // reason: one place reads it; a struct would only rename
pub fn community_versions(
    db: &mut Db<'_>,
    id: i64,
) -> Result<Option<(DistrictCode, String, Vec<(CommunitySurvey, Option<String>)>)>> {
    let Some(c) = db.raw().query_opt(
        "SELECT district_code, name FROM communities WHERE id = $1",
        &[id.into()],
    )?
    else {
        return Ok(None);
    };
    let district = c
        .int(0)
        .and_then(DistrictCode::from_stored)
        .ok_or_else(|| bad("district_code"))?;
    let answers_list = COMMUNITY_FIELDS
        .iter()
        .map(|f| format!("s.{}", f.name))
        .collect::<Vec<_>>()
        .join(", ");
    let rows = db.raw().query(
        &format!(
            "SELECT s.submission_key, CAST(s.survey_date AS TEXT), s.latitude, s.longitude,
                    s.import_id, s.file_no, s.source_row, i.finished_at, {answers_list}
             FROM community_surveys s JOIN imports i ON i.id = s.import_id
             WHERE s.community_id = $1 ORDER BY s.survey_date, s.submission_key"
        ),
        &[id.into()],
    )?;
    let surveys = rows
        .iter()
        .map(|r| {
            let s = CommunitySurvey {
                submission_key: r.text(0),
                community_id: id,
                survey_date: date(r.string(1), "survey_date")?,
                latitude: r.at(2).real(),
                longitude: r.at(3).real(),
                provenance: Provenance {
                    import_id: r.int(4).unwrap_or(0),
                    file_no: r.int(5).unwrap_or(0) as u32,
                    row: r.int(6).unwrap_or(0) as u64,
                },
                answers: answers(r, 8, COMMUNITY_FIELDS),
            };
            Ok((s, r.string(7)))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Some((district, c.text(1), surveys)))
}

/// Every version of person `id`, oldest first.
pub fn person_versions(db: &mut Db<'_>, id: i64) -> Result<Vec<(Person, VersionMeta)>> {
    let list = select_list(&person_cols());
    let rows = db.raw().query(
        &format!(
            "SELECT {list} FROM person_history WHERE id = $1
             UNION ALL SELECT {list} FROM persons WHERE id = $1
             ORDER BY version"
        ),
        &[id.into()],
    )?;
    rows.iter().map(decode_person).collect()
}

/// Every household submission key on record with its household: current rows, earlier
/// versions and re-interviews kept in `household_interviews` (a re-run finds them all).
pub(crate) const KNOWN_KEYS_SQL: &str = "SELECT submission_key, id FROM households
     UNION ALL SELECT submission_key, id FROM household_history
     UNION ALL SELECT submission_key, household_id FROM household_interviews";

/// `IN (…)` list of ids: integers formatted here, never text from outside.
/// Rows of `select … WHERE <col IN ids>` (the template's `{in}`), the ids bound as parameters in
/// slices SQLite can bind.
fn rows_in(sql: &mut dyn Sql, template: &str, col: &str, ids: &[i64]) -> Result<Vec<Row>> {
    let mut out = Vec::new();
    for slice in ids.chunks(10_000) {
        let mut params = Vec::new();
        let within = crate::sql::in_ints(sql.dialect(), col, slice, &mut params);
        out.extend(sql.query(&template.replace("{in}", &within), &params)?);
    }
    Ok(out)
}

/// The current versions of households `ids` (inside the caller's transaction).
pub(crate) fn current_households(
    sql: &mut dyn Sql,
    ids: &[i64],
) -> Result<Vec<(Household, VersionMeta)>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let rows = rows_in(
        sql,
        &format!(
            "SELECT {} FROM households WHERE {{in}}",
            select_list(&household_cols())
        ),
        "id",
        ids,
    )?;
    rows.iter().map(decode_household).collect()
}

/// The current versions of every person of households `household_ids`, by person id.
pub(crate) fn current_members(
    sql: &mut dyn Sql,
    household_ids: &[i64],
) -> Result<Vec<(Person, VersionMeta)>> {
    if household_ids.is_empty() {
        return Ok(Vec::new());
    }
    let rows = rows_in(
        sql,
        &format!(
            "SELECT {} FROM persons WHERE {{in}}",
            select_list(&person_cols())
        ),
        "household_id",
        household_ids,
    )?;
    let mut out = rows.iter().map(decode_person).collect::<Result<Vec<_>>>()?;
    out.sort_by_key(|(p, _)| p.id);
    Ok(out)
}

/// Records re-interviews that did not become a current row.
pub(crate) fn insert_interviews(
    sql: &mut dyn Sql,
    rows: &[crate::HouseholdInterview],
    import_id: i64,
) -> Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let params: Vec<Vec<Param>> = rows
        .iter()
        .map(|r| {
            vec![
                Param::Text(Some(r.submission_key.clone())),
                Param::Int(Some(r.household_id)),
                Param::Text(Some(iso(r.interview_date))),
                Param::Int(Some(import_id)),
                Param::Text(Some(r.outcome.into())),
            ]
        })
        .collect();
    let text = format!(
        "INSERT INTO household_interviews
         (submission_key, household_id, interview_date, import_id, outcome)
         VALUES ($1, $2, {}, $4, $5)",
        date_param(sql, 3)
    );
    sql.execute_many(&text, &params)?;
    Ok(())
}

/// The file name of each (import, file number) among `imports` (a version's provenance).
pub fn import_files(
    db: &mut Db<'_>,
    imports: &[i64],
) -> Result<std::collections::BTreeMap<(i64, i64), String>> {
    if imports.is_empty() {
        return Ok(Default::default());
    }
    let rows = rows_in(
        db.raw(),
        "SELECT import_id, file_no, path FROM import_files WHERE {in}",
        "import_id",
        imports,
    )?;
    Ok(rows
        .iter()
        .filter_map(|r| Some(((r.int(0)?, r.int(1)?), r.string(2)?)))
        .collect())
}

/// When the registry last learnt something: the latest finish of an import and the latest
/// applied change request (RFC 3339 UTC text, as stored), if any.
pub fn latest_write(db: &mut Db<'_>) -> Result<Option<String>> {
    Ok(db
        .raw()
        .query_opt(
            "SELECT (SELECT MAX(finished_at) FROM imports),
                    (SELECT MAX(decided_at) FROM change_requests WHERE state = 'aplicada')",
            &[],
        )?
        .and_then(|r| {
            let a = r.string(0);
            let b = r.string(1);
            a.into_iter().chain(b).max()
        }))
}
