//! Record linkage (migration 0033): the administrative records still without a person and the
//! registered persons they may be, read for the model; trained models kept with their version;
//! links written and the clerical review queue (`linkage_reviews`) kept and decided. Which pairs
//! link, which go to review and who may decide them are rules of `vamos_app::linkage`; this
//! module only stores and filters — by district in SQL, like every other personal-data read.

use crate::sql::{in_tx, Param, Row};
use crate::{Backend, Result, StoreError};

/// Rows read per query when loading a whole side of a linkage (keyset pages by id), so that a
/// national registry never sits twice in memory as generic rows.
const PAGE: i64 = 200_000;

/// The fields a record is compared on, as stored (dates ISO, sex `hombre`/`mujer`).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Subject {
    pub id: i64,
    pub national_id: Option<i64>,
    pub given_names: Option<String>,
    pub family_names: Option<String>,
    pub birth_date: Option<String>,
    pub sex: Option<String>,
    pub district_code: Option<i64>,
}

fn subject(r: &Row) -> Subject {
    Subject {
        id: r.int(0).unwrap_or_default(),
        national_id: r.int(1),
        given_names: r.string(2),
        family_names: r.string(3),
        birth_date: r.string(4),
        sex: r.string(5),
        district_code: r.int(6),
    }
}

fn paged(
    sql: &mut dyn crate::sql::Sql,
    query: &str,
    extra: &[Param],
    out: &mut Vec<Subject>,
) -> Result<()> {
    let mut after = 0i64;
    loop {
        let mut params: Vec<Param> = vec![after.into(), PAGE.into()];
        params.extend_from_slice(extra);
        let rows = sql.query(query, &params)?;
        let n = rows.len();
        out.extend(rows.iter().map(subject));
        match out.last() {
            Some(s) if n as i64 == PAGE => after = s.id,
            _ => return Ok(()),
        }
    }
}

/// The administrative records without a person and not waiting in the review queue — of one
/// import, or of all.
pub fn unlinked_records(db: &mut crate::sql::Db<'_>, import: Option<i64>) -> Result<Vec<Subject>> {
    let mut out = Vec::new();
    let filter = if import.is_some() {
        "AND a.import_id = $3"
    } else {
        ""
    };
    let query = format!(
        "SELECT a.id, a.national_id, a.given_names, a.family_names, a.birth_date, a.sex, a.district_code
         FROM admin_records a
         WHERE a.id > $1 AND a.person_id IS NULL {filter}
           AND NOT EXISTS (SELECT 1 FROM linkage_reviews r WHERE r.admin_record_id = a.id AND r.state = 'pendiente')
         ORDER BY a.id LIMIT $2"
    );
    let extra: Vec<Param> = import.into_iter().map(Param::from).collect();
    paged(db.raw(), &query, &extra, &mut out)?;
    Ok(out)
}

/// Gives each record without a person the active person holding its cédula (a survey imported
/// after the record registered that person meanwhile) — not to a record whose cédula link the
/// model already doubted. Returns how many.
pub fn link_by_national_id(db: &mut crate::sql::Db<'_>, import: Option<i64>) -> Result<u64> {
    let (filter, params): (&str, Vec<Param>) = match import {
        Some(i) => ("AND import_id = $1", vec![i.into()]),
        None => ("", vec![]),
    };
    db.raw().execute(
        &format!(
            "UPDATE admin_records SET person_id = (SELECT MIN(p.id) FROM persons p
                 WHERE p.national_id = admin_records.national_id AND p.status = 'activo')
             WHERE person_id IS NULL AND national_id IS NOT NULL AND link_method IS NULL {filter}
               AND EXISTS (SELECT 1 FROM persons p WHERE p.national_id = admin_records.national_id AND p.status = 'activo')"
        ),
        &params,
    )
}

/// The records linked by their cédula alone to a person born another day — a mistyped cédula
/// that is someone else's, or a registry with another date: the model judges them again with
/// every field, the cédula among them.
pub fn doubted_national_id_links(
    db: &mut crate::sql::Db<'_>,
    import: Option<i64>,
) -> Result<Vec<Subject>> {
    let filter = if import.is_some() {
        "AND a.import_id = $3"
    } else {
        ""
    };
    let query = format!(
        "SELECT a.id, a.national_id, a.given_names, a.family_names, a.birth_date, a.sex, a.district_code
         FROM admin_records a JOIN persons p ON p.id = a.person_id
         WHERE a.id > $1 AND a.link_method IS NULL AND a.birth_date IS NOT NULL
           AND p.birth_date <> a.birth_date {filter}
         ORDER BY a.id LIMIT $2"
    );
    let extra: Vec<Param> = import.into_iter().map(Param::from).collect();
    let mut out = Vec::new();
    paged(db.raw(), &query, &extra, &mut out)?;
    Ok(out)
}

/// The registry's active persons (current versions), each with the district of its household;
/// within `districts` (inclusive ranges) when given.
pub fn persons(
    db: &mut crate::sql::Db<'_>,
    districts: Option<&[(i64, i64)]>,
) -> Result<Vec<Subject>> {
    // `paged` binds the key and the page size first ($1, $2): the ranges follow.
    let mut params: Vec<Param> = vec![0i64.into(), 0i64.into()];
    let scope = districts.map_or_else(String::new, |r| {
        format!(
            "AND {}",
            crate::bulk::ranges_sql("h.district_code", r, &mut params)
        )
    });
    let extra = params.split_off(2);
    let query = format!(
        "SELECT p.id, p.national_id, p.given_names, p.family_names, p.birth_date, p.sex, h.district_code
         FROM persons p JOIN households h ON h.id = p.household_id
         WHERE p.id > $1 AND p.status = 'activo' {scope}
         ORDER BY p.id LIMIT $2"
    );
    let mut out = Vec::new();
    paged(db.raw(), &query, &extra, &mut out)?;
    Ok(out)
}

/// The pairs analysts rejected: never linked or proposed again.
pub fn rejected_pairs(db: &mut crate::sql::Db<'_>) -> Result<Vec<(i64, i64)>> {
    Ok(db
        .raw()
        .query(
            "SELECT admin_record_id, person_id FROM linkage_reviews WHERE state = 'rechazado'",
            &[],
        )?
        .iter()
        .filter_map(|r| Some((r.int(0)?, r.int(1)?)))
        .collect())
}

/// A trained model to keep.
#[derive(Debug, Clone)]
pub struct NewModel<'a> {
    pub version: &'a str,
    pub settings: &'a str,
    /// What training depends on (not the thresholds): runs too small to train find the model
    /// by it.
    pub training_key: &'a str,
    pub parameters: &'a str,
    pub trained_at: &'a str,
    pub records_left: i64,
    pub records_right: i64,
    pub pairs: i64,
}

/// Keeps a trained model (once per version) and returns its id.
pub fn keep_model(db: &mut crate::sql::Db<'_>, m: &NewModel<'_>) -> Result<i64> {
    let sql = db.raw();
    in_tx(sql, |sql| {
        // Two runs keeping the same model at once: the second keeps nothing and reads the id.
        sql.execute(
            "INSERT INTO linkage_models (version, settings, parameters, trained_at, records_left, records_right, pairs, training_key)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (version) DO NOTHING",
            &[
                m.version.into(),
                m.settings.into(),
                m.parameters.into(),
                m.trained_at.into(),
                m.records_left.into(),
                m.records_right.into(),
                m.pairs.into(),
                m.training_key.into(),
            ],
        )?;
        sql.query_opt(
            "SELECT id FROM linkage_models WHERE version = $1",
            &[m.version.into()],
        )?
        .and_then(|r| r.int(0))
        .ok_or_else(|| StoreError::Invalid("el modelo no devolvió su número".into()))
    })
}

/// A stored model.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct StoredModel {
    pub id: i64,
    pub version: String,
    pub settings: String,
    pub parameters: String,
    pub trained_at: String,
    pub records_left: i64,
    pub records_right: i64,
    pub pairs: i64,
}

/// The latest model kept with training key `key` (what its training depended on).
pub fn kept_model(db: &mut crate::sql::Db<'_>, key: &str) -> Result<Option<StoredModel>> {
    db.raw()
        .query_opt(
            "SELECT id, version, settings, parameters, trained_at, records_left, records_right, pairs
             FROM linkage_models WHERE training_key = $1 ORDER BY id DESC LIMIT 1",
            &[key.into()],
        )?
        .map(|r| {
            Ok(StoredModel {
                id: r.req_int("id")?,
                version: r.req_text("version")?,
                settings: r.req_text("settings")?,
                parameters: r.req_text("parameters")?,
                trained_at: r.req_text("trained_at")?,
                records_left: r.req_int("records_left")?,
                records_right: r.req_int("records_right")?,
                pairs: r.req_int("pairs")?,
            })
        })
        .transpose()
}

/// A record the model linked.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Link {
    pub admin_record_id: i64,
    pub person_id: i64,
    pub probability: f64,
}

/// A pair for an analyst to decide.
#[derive(Debug, Clone, PartialEq)]
pub struct NewReview {
    pub admin_record_id: i64,
    pub person_id: i64,
    pub probability: f64,
    pub waterfall: String,
    pub district_code: Option<i64>,
}

/// Rows per statement when links are written on PostgreSQL (arrays of this length).
const LINK_BATCH: usize = 50_000;

/// Writes a linkage run in one transaction: the doubted cédula links undone, each link on its
/// record (only if the record has no person by then), each review pair (once), and the model on
/// the import. Returns the links
/// written and the reviews queued.
pub fn record(
    db: &mut crate::sql::Db<'_>,
    model_id: i64,
    import: Option<i64>,
    doubted: &[i64],
    links: &[Link],
    reviews: &[NewReview],
    at: &str,
) -> Result<(u64, u64)> {
    let sql = db.raw();
    in_tx(sql, |sql| {
        // The doubted cédula links give way to what the model decided for those records (a
        // link, a pair for review, or nothing).
        let rows: Vec<Vec<Param>> = doubted.iter().map(|id| vec![(*id).into()]).collect();
        sql.execute_many(
            "UPDATE admin_records SET person_id = NULL, link_method = 'cedula_dudosa' WHERE id = $1 AND link_method IS NULL",
            &rows,
        )?;
        let mut linked = 0;
        match sql.dialect() {
            Backend::Postgres => {
                for chunk in links.chunks(LINK_BATCH) {
                    linked += sql.execute(
                        "UPDATE admin_records a SET person_id = l.person, link_method = 'enlace',
                           link_probability = l.p, linkage_model_id = $4
                         FROM UNNEST($1::bigint[], $2::bigint[], $3::float8[]) AS l(id, person, p)
                         WHERE a.id = l.id AND a.person_id IS NULL",
                        &[
                            Param::Ints(chunk.iter().map(|l| Some(l.admin_record_id)).collect()),
                            Param::Ints(chunk.iter().map(|l| Some(l.person_id)).collect()),
                            Param::Reals(chunk.iter().map(|l| Some(l.probability)).collect()),
                            model_id.into(),
                        ],
                    )?;
                }
            }
            Backend::Sqlite => {
                let rows: Vec<Vec<Param>> = links
                    .iter()
                    .map(|l| {
                        vec![
                            l.admin_record_id.into(),
                            l.person_id.into(),
                            Param::Real(Some(l.probability)),
                            model_id.into(),
                        ]
                    })
                    .collect();
                linked = sql.execute_many(
                    "UPDATE admin_records SET person_id = $2, link_method = 'enlace',
                       link_probability = $3, linkage_model_id = $4
                     WHERE id = $1 AND person_id IS NULL",
                    &rows,
                )?;
            }
        }
        let rows: Vec<Vec<Param>> = reviews
            .iter()
            .map(|r| {
                vec![
                    r.admin_record_id.into(),
                    r.person_id.into(),
                    model_id.into(),
                    Param::Real(Some(r.probability)),
                    r.waterfall.as_str().into(),
                    r.district_code.into(),
                    at.into(),
                ]
            })
            .collect();
        let queued = sql.execute_many(
            "INSERT INTO linkage_reviews (admin_record_id, person_id, linkage_model_id, probability, waterfall, district_code, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (admin_record_id, person_id) DO NOTHING",
            &rows,
        )?;
        if let Some(i) = import {
            sql.execute(
                "UPDATE imports SET linkage_model_id = $2 WHERE id = $1",
                &[i.into(), model_id.into()],
            )?;
        }
        Ok((linked, queued))
    })
}

/// A review pair with both sides, as analysts see it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Review {
    pub id: i64,
    pub state: String,
    pub probability: f64,
    pub waterfall: String,
    pub district_code: Option<i64>,
    pub created_at: String,
    pub decided_by: Option<String>,
    pub decided_at: Option<String>,
    pub model_version: String,
    pub record: Subject,
    pub institution: String,
    pub service: String,
    pub event_date: String,
    pub person: Subject,
}

const REVIEW_SELECT: &str = "SELECT r.id, r.state, r.probability, r.waterfall, r.district_code, r.created_at, r.decided_by, r.decided_at, m.version,
       a.id, a.national_id, a.given_names, a.family_names, a.birth_date, a.sex, a.district_code,
       a.institution, a.service, a.event_date,
       p.id, p.national_id, p.given_names, p.family_names, p.birth_date, p.sex, h.district_code
     FROM linkage_reviews r
     JOIN admin_records a ON a.id = r.admin_record_id
     JOIN linkage_models m ON m.id = r.linkage_model_id
     LEFT JOIN persons p ON p.id = r.person_id
     LEFT JOIN households h ON h.id = p.household_id";

fn review(r: &Row) -> Review {
    let side = |at: usize| Subject {
        id: r.int(at).unwrap_or_default(),
        national_id: r.int(at + 1),
        given_names: r.string(at + 2),
        family_names: r.string(at + 3),
        birth_date: r.string(at + 4),
        sex: r.string(at + 5),
        district_code: r.int(at + 6),
    };
    Review {
        id: r.int(0).unwrap_or_default(),
        state: r.text(1),
        probability: r.at(2).real().unwrap_or_default(),
        waterfall: r.text(3),
        district_code: r.int(4),
        created_at: r.text(5),
        decided_by: r.string(6),
        decided_at: r.string(7),
        model_version: r.text(8),
        record: side(9),
        institution: r.text(16),
        service: r.text(17),
        event_date: r.text(18),
        person: side(19),
    }
}

/// Which reviews to list: a state (all when `None`), within district ranges (`None`: national,
/// pairs without a district too), one page.
#[derive(Debug, Clone, Default)]
pub struct ReviewFilter {
    pub state: Option<String>,
    pub districts: Option<Vec<(i64, i64)>>,
    pub limit: i64,
    pub offset: i64,
}

/// Within `ranges`: the pair's district and the person's household's (a pair shows both sides,
/// so both must be in the reader's territories).
fn scope_sql(ranges: &[(i64, i64)], params: &mut Vec<Param>) -> String {
    let pair = crate::bulk::ranges_sql("r.district_code", ranges, params);
    let person = crate::bulk::ranges_sql("h.district_code", ranges, params);
    format!("{pair} AND {person}")
}

fn review_where(f: &ReviewFilter, params: &mut Vec<Param>) -> String {
    let mut clauses = vec!["1 = 1".to_string()];
    if let Some(s) = &f.state {
        params.push(s.as_str().into());
        clauses.push(format!("r.state = ${}", params.len()));
    }
    if let Some(r) = &f.districts {
        clauses.push(scope_sql(r, params));
    }
    clauses.join(" AND ")
}

/// One page of the queue, likeliest pairs first, and how many match the filter.
pub fn reviews(db: &mut crate::sql::Db<'_>, f: &ReviewFilter) -> Result<(Vec<Review>, u64)> {
    let mut params = Vec::new();
    let w = review_where(f, &mut params);
    let total = db
        .raw()
        .query_opt(
            &format!(
                "SELECT COUNT(*) FROM linkage_reviews r
                 LEFT JOIN persons p ON p.id = r.person_id
                 LEFT JOIN households h ON h.id = p.household_id WHERE {w}"
            ),
            &params,
        )?
        .and_then(|r| r.int(0))
        .unwrap_or_default();
    params.push(f.limit.into());
    params.push(f.offset.into());
    let rows = db.raw().query(
        &format!(
            "{REVIEW_SELECT} WHERE {w} ORDER BY r.probability DESC, r.id LIMIT ${} OFFSET ${}",
            params.len() - 1,
            params.len()
        ),
        &params,
    )?;
    Ok((rows.iter().map(review).collect(), total as u64))
}

/// One review pair, within `districts` when given (out of them: `None`, as if absent).
pub fn review_by_id(
    db: &mut crate::sql::Db<'_>,
    id: i64,
    districts: Option<&[(i64, i64)]>,
) -> Result<Option<Review>> {
    let mut params: Vec<Param> = vec![id.into()];
    let scope = match districts {
        Some(r) => format!("AND {}", scope_sql(r, &mut params)),
        None => String::new(),
    };
    Ok(db
        .raw()
        .query_opt(&format!("{REVIEW_SELECT} WHERE r.id = $1 {scope}"), &params)?
        .as_ref()
        .map(review))
}

/// What deciding a pair did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decided {
    Accepted,
    Rejected,
    /// Accepting found the record with a person already, or the person no longer active
    /// (merged, left): the pair is kept as `superado` and nothing else changes.
    Superseded,
}

/// Decides a pending pair: accepted links the record to the person — if the record still has
/// none and the person is still active, else the pair becomes `superado` —; rejected keeps the
/// label only. A pair decided already (even by someone deciding at the same moment) is a
/// conflict and changes nothing.
pub fn decide(
    db: &mut crate::sql::Db<'_>,
    id: i64,
    accept: bool,
    by: &str,
    at: &str,
) -> Result<Decided> {
    let sql = db.raw();
    in_tx(sql, |sql| {
        let lock = match sql.dialect() {
            Backend::Postgres => " FOR UPDATE",
            Backend::Sqlite => "",
        };
        let row = sql
            .query_opt(
                &format!("SELECT admin_record_id, person_id, probability, linkage_model_id, state FROM linkage_reviews WHERE id = $1{lock}"),
                &[id.into()],
            )?
            .ok_or_else(|| StoreError::Invalid(format!("no existe el par {id}")))?;
        if row.text(4) != "pendiente" {
            return Err(StoreError::Conflict(format!(
                "el par {id} ya fue decidido ({})",
                row.text(4)
            )));
        }
        let (record, person) = (
            row.int(0).unwrap_or_default(),
            row.int(1).unwrap_or_default(),
        );
        let mut decided = if accept {
            Decided::Accepted
        } else {
            Decided::Rejected
        };
        if accept {
            let n = sql.execute(
                "UPDATE admin_records SET person_id = $2, link_method = 'revision', link_probability = $3, linkage_model_id = $4
                 WHERE id = $1 AND person_id IS NULL
                   AND EXISTS (SELECT 1 FROM persons p WHERE p.id = $2 AND p.status = 'activo')",
                &[
                    record.into(),
                    person.into(),
                    Param::Real(row.at(2).real()),
                    row.int(3).into(),
                ],
            )?;
            if n == 0 {
                decided = Decided::Superseded;
            }
        }
        let state = match decided {
            Decided::Accepted => "aceptado",
            Decided::Rejected => "rechazado",
            Decided::Superseded => "superado",
        };
        let n = sql.execute(
            "UPDATE linkage_reviews SET state = $2, decided_by = $3, decided_at = $4 WHERE id = $1 AND state = 'pendiente'",
            &[id.into(), state.into(), by.into(), at.into()],
        )?;
        if n != 1 {
            return Err(StoreError::Conflict(format!("el par {id} ya fue decidido")));
        }
        if decided == Decided::Accepted {
            sql.execute(
                "UPDATE linkage_reviews SET state = 'superado', decided_at = $3
                 WHERE admin_record_id = $1 AND id <> $2 AND state = 'pendiente'",
                &[record.into(), id.into(), at.into()],
            )?;
        }
        Ok(decided)
    })
}

/// The person an administrative record has, if any.
pub fn record_person(db: &mut crate::sql::Db<'_>, admin_record_id: i64) -> Result<Option<i64>> {
    Ok(db
        .raw()
        .query_opt(
            "SELECT person_id FROM admin_records WHERE id = $1",
            &[admin_record_id.into()],
        )?
        .and_then(|r| r.int(0)))
}

/// Pending pairs whose record got a person meanwhile (a later cédula match, another accepted
/// pair), or whose person is no longer active (merged, left), leave the queue as `superado`.
/// Returns how many.
pub fn retire_settled(db: &mut crate::sql::Db<'_>, at: &str) -> Result<u64> {
    db.raw().execute(
        "UPDATE linkage_reviews SET state = 'superado', decided_at = $1
         WHERE state = 'pendiente'
           AND (admin_record_id IN (SELECT id FROM admin_records WHERE person_id IS NOT NULL)
                OR person_id NOT IN (SELECT id FROM persons WHERE status = 'activo'))",
        &[at.into()],
    )
}

/// A decided pair: a label for evaluating the model.
#[derive(Debug, Clone, PartialEq)]
pub struct Label {
    pub admin_record_id: i64,
    pub person_id: i64,
    pub probability: f64,
    /// `aceptado` or `rechazado`.
    pub decision: String,
    pub model_version: String,
}

/// The decided pairs, oldest decision first.
pub fn labels(db: &mut crate::sql::Db<'_>) -> Result<Vec<Label>> {
    Ok(db
        .raw()
        .query(
            "SELECT r.admin_record_id, r.person_id, r.probability, r.state, m.version
             FROM linkage_reviews r JOIN linkage_models m ON m.id = r.linkage_model_id
             WHERE r.state IN ('aceptado', 'rechazado') ORDER BY r.decided_at, r.id",
            &[],
        )?
        .iter()
        .map(|r| Label {
            admin_record_id: r.int(0).unwrap_or_default(),
            person_id: r.int(1).unwrap_or_default(),
            probability: r.at(2).real().unwrap_or_default(),
            decision: r.text(3),
            model_version: r.text(4),
        })
        .collect())
}

/// An administrative record's key with how it stands: its person's submission key (the survey
/// member's `KEY`), how it was linked, and whether it waits in review — for measuring links
/// against a synthetic population's truth.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordKey {
    pub record_key: String,
    pub person_key: Option<String>,
    pub link_method: Option<String>,
    pub in_review: bool,
}

/// [`RecordKey`] of every administrative record.
pub fn record_keys(db: &mut crate::sql::Db<'_>) -> Result<Vec<RecordKey>> {
    Ok(db
        .raw()
        .query(
            "SELECT a.record_key, p.submission_key, a.link_method,
               CASE WHEN EXISTS (SELECT 1 FROM linkage_reviews r WHERE r.admin_record_id = a.id AND r.state = 'pendiente') THEN 1 ELSE 0 END
             FROM admin_records a LEFT JOIN persons p ON p.id = a.person_id",
            &[],
        )?
        .iter()
        .map(|r| RecordKey {
            record_key: r.text(0),
            person_key: r.string(1),
            link_method: r.string(2),
            in_review: r.int(3) == Some(1),
        })
        .collect())
}

/// The active persons born on one of `births` (ISO dates) or holding one of `national_ids`,
/// each with its household: the registrations a new one may repeat.
pub fn persons_like(
    db: &mut crate::sql::Db<'_>,
    births: &[&str],
    national_ids: &[i64],
    districts: Option<&[(i64, i64)]>,
) -> Result<Vec<(Subject, i64)>> {
    if births.is_empty() && national_ids.is_empty() {
        return Ok(Vec::new());
    }
    let dialect = db.backend();
    let mut params = Vec::new();
    let by_birth = match dialect {
        Backend::Postgres => {
            params.push(Param::Texts(
                births.iter().map(|b| Some((*b).to_string())).collect(),
            ));
            // The parameter is text (the driver binds what the statement declares it to be).
            format!(
                "p.birth_date = ANY(CAST(CAST(${} AS TEXT[]) AS DATE[]))",
                params.len()
            )
        }
        Backend::Sqlite if births.is_empty() => "1 = 0".to_string(),
        Backend::Sqlite => crate::sql::in_texts(dialect, "p.birth_date", births, &mut params),
    };
    let by_id = if national_ids.is_empty() {
        "1 = 0".to_string()
    } else {
        crate::sql::in_ints(dialect, "p.national_id", national_ids, &mut params)
    };
    let scope = match districts {
        Some(r) => format!(
            "AND {}",
            crate::bulk::ranges_sql("h.district_code", r, &mut params)
        ),
        None => String::new(),
    };
    Ok(db
        .raw()
        .query(
            &format!(
                "SELECT p.id, p.national_id, p.given_names, p.family_names, p.birth_date, p.sex, h.district_code, p.household_id
                 FROM persons p JOIN households h ON h.id = p.household_id
                 WHERE p.status = 'activo' AND ({by_birth} OR {by_id}) {scope}
                 ORDER BY p.id LIMIT 5000"
            ),
            &params,
        )?
        .iter()
        .map(|r| (subject(r), r.int(7).unwrap_or_default()))
        .collect())
}
