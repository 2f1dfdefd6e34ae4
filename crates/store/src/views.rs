//! Registry reads for the server: one person, household or community, and searches with
//! keyset pagination, on both backends through [`Sql`].
//!
//! Searches take a [`Filter`] tree over a closed list of person columns ([`PersonColumn`]) and
//! the district ranges of the caller's scope, so every condition is a bound parameter and no
//! caller can widen its territory. Which fields the caller may *see* is decided above (the
//! server applies the role and the data-sharing agreement); this module returns whole rows.

use crate::sql::{Param, Row};
use crate::Result;
use serde_json::{Map, Value};
use vamos_domain::schema::PERSON_FIELDS;

/// The person columns a search may test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PersonColumn {
    Id,
    HouseholdId,
    District,
    GivenNames,
    FamilyNames,
    NationalId,
    BirthDate,
    Sex,
}

impl PersonColumn {
    fn sql(self) -> &'static str {
        match self {
            PersonColumn::Id => "p.id",
            PersonColumn::HouseholdId => "p.household_id",
            PersonColumn::District => "h.district_code",
            PersonColumn::GivenNames => "lower(p.given_names)",
            PersonColumn::FamilyNames => "lower(p.family_names)",
            PersonColumn::NationalId => "p.national_id",
            // Compared as ISO text on both backends.
            PersonColumn::BirthDate => "CAST(p.birth_date AS TEXT)",
            PersonColumn::Sex => "p.sex",
        }
    }

    /// Whether values compare as integers (else as text).
    pub fn is_integer(self) -> bool {
        matches!(
            self,
            PersonColumn::Id
                | PersonColumn::HouseholdId
                | PersonColumn::District
                | PersonColumn::NationalId
        )
    }
}

/// A comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Lt,
    Le,
    Gt,
    Ge,
    /// Text contains (case-insensitive for ASCII letters).
    Contains,
}

/// A condition tree over person columns.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    Cmp(PersonColumn, Op, Param),
    In(PersonColumn, Vec<Param>),
    And(Vec<Filter>),
    Or(Vec<Filter>),
    Not(Box<Filter>),
}

impl Filter {
    fn render(&self, sql: &mut String, params: &mut Vec<Param>) {
        match self {
            Filter::Cmp(c, op, v) => {
                let v = match (op, v) {
                    (Op::Contains, Param::Text(Some(t))) => {
                        Param::Text(Some(format!("%{}%", t.to_lowercase())))
                    }
                    (_, Param::Text(Some(t)))
                        if matches!(c, PersonColumn::GivenNames | PersonColumn::FamilyNames) =>
                    {
                        Param::Text(Some(t.to_lowercase()))
                    }
                    _ => v.clone(),
                };
                params.push(v);
                let o = match op {
                    Op::Eq => "=",
                    Op::Lt => "<",
                    Op::Le => "<=",
                    Op::Gt => ">",
                    Op::Ge => ">=",
                    Op::Contains => "LIKE",
                };
                sql.push_str(&format!("{} {o} ${}", c.sql(), params.len()));
            }
            Filter::In(c, vs) => {
                if vs.is_empty() {
                    sql.push_str("1 = 0");
                    return;
                }
                let mut ph = Vec::new();
                for v in vs {
                    params.push(v.clone());
                    ph.push(format!("${}", params.len()));
                }
                sql.push_str(&format!("{} IN ({})", c.sql(), ph.join(", ")));
            }
            Filter::And(fs) | Filter::Or(fs) => {
                if fs.is_empty() {
                    sql.push_str(if matches!(self, Filter::And(_)) {
                        "1 = 1"
                    } else {
                        "1 = 0"
                    });
                    return;
                }
                let joiner = if matches!(self, Filter::And(_)) {
                    " AND "
                } else {
                    " OR "
                };
                sql.push('(');
                for (i, f) in fs.iter().enumerate() {
                    if i > 0 {
                        sql.push_str(joiner);
                    }
                    f.render(sql, params);
                }
                sql.push(')');
            }
            Filter::Not(f) => {
                sql.push_str("NOT (");
                f.render(sql, params);
                sql.push(')');
            }
        }
    }
}

/// `(h.district_code BETWEEN … OR …)` for a scope's district ranges.
fn scope_sql(ranges: &[(i64, i64)], params: &mut Vec<Param>) -> String {
    crate::bulk::ranges_sql("h.district_code", ranges, params)
}

/// Person columns returned by [`person`] and searches, in order.
pub(crate) fn person_columns() -> String {
    let mut cols = vec![
        "p.id".to_string(),
        "p.household_id".into(),
        "h.district_code".into(),
        "h.community_id".into(),
        "p.given_names".into(),
        "p.family_names".into(),
        "p.national_id".into(),
        "CAST(p.birth_date AS TEXT) AS birth_date".into(),
        "p.sex".into(),
        "p.relationship".into(),
    ];
    cols.extend(PERSON_FIELDS.iter().map(|f| format!("p.{}", f.name)));
    cols.join(", ")
}

/// One person (whole row) with its household's district.
pub fn person(
    sql: &mut crate::sql::Db<'_>,
    id: vamos_domain::PersonId,
) -> Result<Option<Map<String, Value>>> {
    let sql = sql.raw();
    Ok(sql
        .query_opt(
            &format!(
                "SELECT {} FROM persons p JOIN households h ON h.id = p.household_id WHERE p.id = $1",
                person_columns()
            ),
            &[id.into()],
        )?
        .map(|r| r.object()))
}

/// A household row and its members' rows.
pub type HouseholdView = (Map<String, Value>, Vec<Map<String, Value>>);

/// Whether household `id` came from a synthetic import (`synthetic` is an integer in SQLite and
/// a boolean in PostgreSQL: both read it as a condition).
pub fn household_is_synthetic(
    sql: &mut crate::sql::Db<'_>,
    id: vamos_domain::HouseholdId,
) -> Result<bool> {
    let sql = sql.raw();
    Ok(!sql
        .query(
            "SELECT 1 FROM households h JOIN imports i ON i.id = h.import_id WHERE h.id = $1 AND i.synthetic",
            &[id.into()],
        )?
        .is_empty())
}

/// One household with its members (whole rows).
pub fn household(
    sql: &mut crate::sql::Db<'_>,
    id: vamos_domain::HouseholdId,
) -> Result<Option<HouseholdView>> {
    let sql = sql.raw();
    let Some(h) = sql.query_opt(
        "SELECT h.id, h.district_code, h.community_id, c.name AS community_name, h.area, h.address,
                h.latitude, h.longitude, CAST(h.interview_date AS TEXT) AS interview_date, h.form
         FROM households h JOIN communities c ON c.id = h.community_id WHERE h.id = $1",
        &[id.into()],
    )?
    else {
        return Ok(None);
    };
    let members = sql.query(
        &format!(
            "SELECT {} FROM persons p JOIN households h ON h.id = p.household_id WHERE p.household_id = $1 ORDER BY p.id",
            person_columns()
        ),
        &[id.into()],
    )?;
    Ok(Some((
        h.object(),
        members.iter().map(Row::object).collect(),
    )))
}

/// One community with its counts and latest Entorno survey date.
pub fn community(
    sql: &mut crate::sql::Db<'_>,
    id: vamos_domain::CommunityId,
) -> Result<Option<Map<String, Value>>> {
    let sql = sql.raw();
    Ok(sql
        .query_opt(
            "SELECT c.id, c.district_code, c.name, c.area,
                    (SELECT COUNT(*) FROM households h WHERE h.community_id = c.id) AS households,
                    (SELECT COUNT(*) FROM persons p JOIN households h ON h.id = p.household_id WHERE h.community_id = c.id) AS persons,
                    (SELECT CAST(MAX(s.survey_date) AS TEXT) FROM community_surveys s WHERE s.community_id = c.id) AS last_survey
             FROM communities c WHERE c.id = $1",
            &[id.into()],
        )?
        .map(|r| r.object()))
}

/// A page of results and the cursor of the next page.
#[derive(Debug, Clone, Default)]
pub struct Page {
    pub items: Vec<Map<String, Value>>,
    /// The `after` value that continues the listing; `None` on the last page.
    pub next: Option<i64>,
}

/// `SELECT <what> FROM persons … WHERE <scope> AND <filter>`, its parameters pushed to `params`.
fn persons_where(
    what: &str,
    filter: &Filter,
    scope: &[(i64, i64)],
    params: &mut Vec<Param>,
) -> String {
    let mut q =
        format!("SELECT {what} FROM persons p JOIN households h ON h.id = p.household_id WHERE ");
    q.push_str(&scope_sql(scope, params));
    q.push_str(" AND ");
    filter.render(&mut q, params);
    q
}

/// A person search: `filter` inside the scope's district ranges, ids after `after`.
pub fn search_persons(
    sql: &mut crate::sql::Db<'_>,
    filter: &Filter,
    scope: &[(i64, i64)],
    after: Option<i64>,
    limit: i64,
) -> Result<Page> {
    let sql = sql.raw();
    let mut params = Vec::new();
    let mut q = persons_where(&person_columns(), filter, scope, &mut params);
    params.push(after.unwrap_or(i64::MIN).into());
    q.push_str(&format!(" AND p.id > ${}", params.len()));
    let limit = limit.clamp(1, 1000);
    params.push((limit + 1).into());
    q.push_str(&format!(" ORDER BY p.id LIMIT ${}", params.len()));
    page(sql.query(&q, &params)?, limit)
}

/// A person search by page number (DCI pagination): `filter` inside the scope, ordered by
/// `sort` (column, descending?) then id, skipping `offset` rows.
pub fn search_persons_offset(
    sql: &mut crate::sql::Db<'_>,
    filter: &Filter,
    scope: &[(i64, i64)],
    sort: &[(PersonColumn, bool)],
    offset: i64,
    limit: i64,
) -> Result<Vec<Map<String, Value>>> {
    let sql = sql.raw();
    let mut params = Vec::new();
    let mut q = persons_where(&person_columns(), filter, scope, &mut params);
    q.push_str(" ORDER BY ");
    for (c, desc) in sort {
        q.push_str(c.sql());
        q.push_str(if *desc { " DESC, " } else { " ASC, " });
    }
    params.push(limit.clamp(1, 1000).into());
    params.push(offset.max(0).into());
    q.push_str(&format!(
        "p.id LIMIT ${} OFFSET ${}",
        params.len() - 1,
        params.len()
    ));
    Ok(sql.query(&q, &params)?.iter().map(Row::object).collect())
}

/// How many persons match (for DCI's `total_count`).
pub fn count_persons(
    sql: &mut crate::sql::Db<'_>,
    filter: &Filter,
    scope: &[(i64, i64)],
) -> Result<i64> {
    let sql = sql.raw();
    let mut params = Vec::new();
    let q = persons_where("COUNT(*)", filter, scope, &mut params);
    Ok(sql
        .query_opt(&q, &params)?
        .and_then(|r| r.int(0))
        .unwrap_or(0))
}

/// How many persons match, counted up to `cap` (a search across the country by a common name
/// would otherwise count millions to show a number nobody reads): `cap` means "at least".
pub fn count_persons_up_to(
    sql: &mut crate::sql::Db<'_>,
    filter: &Filter,
    scope: &[(i64, i64)],
    cap: i64,
) -> Result<i64> {
    let sql = sql.raw();
    let mut params = Vec::new();
    let inner = persons_where("1", filter, scope, &mut params);
    params.push(cap.max(1).into());
    let q = format!(
        "SELECT COUNT(*) FROM ({inner} LIMIT ${}) capped",
        params.len()
    );
    Ok(sql
        .query_opt(&q, &params)?
        .and_then(|r| r.int(0))
        .unwrap_or(0))
}

/// Households of a territory range (inside the scope), ids after `after`.
pub fn list_households(
    sql: &mut crate::sql::Db<'_>,
    within: &[(i64, i64)],
    scope: &[(i64, i64)],
    after: Option<i64>,
    limit: i64,
) -> Result<Page> {
    let sql = sql.raw();
    let mut params = Vec::new();
    let mut q = "SELECT h.id, h.district_code, h.community_id, h.area, CAST(h.interview_date AS TEXT) AS interview_date,
                        (SELECT COUNT(*) FROM persons p WHERE p.household_id = h.id) AS members
                 FROM households h WHERE ".to_string();
    q.push_str(&scope_sql(scope, &mut params));
    q.push_str(" AND ");
    q.push_str(&scope_sql(within, &mut params));
    params.push(after.unwrap_or(i64::MIN).into());
    q.push_str(&format!(" AND h.id > ${}", params.len()));
    let limit = limit.clamp(1, 1000);
    params.push((limit + 1).into());
    q.push_str(&format!(" ORDER BY h.id LIMIT ${}", params.len()));
    page(sql.query(&q, &params)?, limit)
}

/// Communities of a territory range (inside the scope), ids after `after`.
pub fn list_communities(
    sql: &mut crate::sql::Db<'_>,
    within: &[(i64, i64)],
    scope: &[(i64, i64)],
    after: Option<i64>,
    limit: i64,
) -> Result<Page> {
    let sql = sql.raw();
    let mut params = Vec::new();
    let mut q =
        "SELECT h.id, h.district_code, h.name, h.area FROM communities h WHERE ".to_string();
    q.push_str(&scope_sql(scope, &mut params));
    q.push_str(" AND ");
    q.push_str(&scope_sql(within, &mut params));
    params.push(after.unwrap_or(i64::MIN).into());
    q.push_str(&format!(" AND h.id > ${}", params.len()));
    let limit = limit.clamp(1, 1000);
    params.push((limit + 1).into());
    q.push_str(&format!(" ORDER BY h.id LIMIT ${}", params.len()));
    page(sql.query(&q, &params)?, limit)
}

/// Every measurement without its districts, newest first (at most 1000), with who published
/// it and when (`null` while unpublished).
pub fn measurements(sql: &mut crate::sql::Db<'_>) -> Result<Vec<Value>> {
    let sql = sql.raw();
    Ok(sql
        .query(
            "SELECT id, as_of, catalogue_version, catalogue_label, territory, synthetic, created_at,
                    published_at, published_by, known_at
             FROM measurements ORDER BY id DESC LIMIT 1000",
            &[],
        )?
        .iter()
        .map(|r| {
            let mut o = r.object();
            o.insert("synthetic".into(), Value::Bool(r.int(5) == Some(1)));
            Value::Object(o)
        })
        .collect())
}

fn page(mut rows: Vec<Row>, limit: i64) -> Result<Page> {
    let more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    let next = if more {
        rows.last().and_then(|r| r.int(0))
    } else {
        None
    };
    Ok(Page {
        items: rows.iter().map(Row::object).collect(),
        next,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_render_bound_parameters_only() {
        let f = Filter::And(vec![
            Filter::Cmp(
                PersonColumn::FamilyNames,
                Op::Contains,
                "Gómez'; DROP".into(),
            ),
            Filter::Or(vec![
                Filter::Cmp(PersonColumn::BirthDate, Op::Ge, "2020-01-01".into()),
                Filter::Not(Box::new(Filter::In(
                    PersonColumn::Sex,
                    vec!["F".into(), "M".into()],
                ))),
            ]),
        ]);
        let mut sql = String::new();
        let mut params = Vec::new();
        f.render(&mut sql, &mut params);
        assert_eq!(
            sql,
            "(lower(p.family_names) LIKE $1 AND (CAST(p.birth_date AS TEXT) >= $2 OR NOT (p.sex IN ($3, $4))))"
        );
        assert_eq!(params[0], Param::from("%gómez'; drop%"));
        assert_eq!(params.len(), 4);
        let mut p2 = Vec::new();
        assert_eq!(
            scope_sql(&[(1100, 1199)], &mut p2),
            "(h.district_code BETWEEN $1 AND $2)"
        );
    }
}
