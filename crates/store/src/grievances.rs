//! Grievances (*reclamos*, migration 0020): typed reads and writes of `grievances` and their
//! steps in `grievance_events`. Who may see or move one, deadlines, escalation and what the
//! person is told are rules of `vamos_app::grievances`; this module only stores and filters —
//! by scope in SQL, like every other personal-data read.

use crate::sql::{in_tx, Param, Row};
use crate::{Result, StoreError};

/// The closed states ([`vamos_domain::grievance::GrievanceState::is_closed`]) as an SQL list.
const CLOSED_SQL: &str = "('resuelto', 'no_corresponde')";

/// A grievance as stored.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Grievance {
    pub id: i64,
    pub category: String,
    pub state: String,
    pub level: i64,
    pub channel: String,
    pub lodged_by: String,
    pub lodged_at: String,
    pub due_at: String,
    pub updated_at: String,
    pub district_code: Option<i64>,
    pub institution: Option<String>,
    pub assigned_to: Option<String>,
    pub description: String,
    pub contact: Option<String>,
    pub national_id: Option<i64>,
    pub birth_date: Option<String>,
    pub given_names: Option<String>,
    pub family_names: Option<String>,
    pub person_id: Option<i64>,
    pub resolution: Option<String>,
    pub public_text: Option<String>,
    pub resolved_at: Option<String>,
    pub appealed_at: Option<String>,
    pub change_request_id: Option<i64>,
}

const COLUMNS: &str =
    "id, category, state, level, channel, lodged_by, lodged_at, due_at, updated_at, \
     district_code, institution, assigned_to, description, contact, national_id, birth_date, \
     given_names, family_names, person_id, resolution, public_text, resolved_at, appealed_at, \
     change_request_id";

fn decode(r: &Row) -> Result<Grievance> {
    Ok(Grievance {
        id: r.req_int("id")?,
        category: r.req_text("category")?,
        state: r.req_text("state")?,
        level: r.req_int("level")?,
        channel: r.req_text("channel")?,
        lodged_by: r.req_text("lodged_by")?,
        lodged_at: r.req_text("lodged_at")?,
        due_at: r.req_text("due_at")?,
        updated_at: r.req_text("updated_at")?,
        district_code: r.opt_int("district_code")?,
        institution: r.opt_text("institution")?,
        assigned_to: r.opt_text("assigned_to")?,
        description: r.req_text("description")?,
        contact: r.opt_text("contact")?,
        national_id: r.opt_int("national_id")?,
        birth_date: r.opt_text("birth_date")?,
        given_names: r.opt_text("given_names")?,
        family_names: r.opt_text("family_names")?,
        person_id: r.opt_int("person_id")?,
        resolution: r.opt_text("resolution")?,
        public_text: r.opt_text("public_text")?,
        resolved_at: r.opt_text("resolved_at")?,
        appealed_at: r.opt_text("appealed_at")?,
        change_request_id: r.opt_int("change_request_id")?,
    })
}

/// A step of a grievance.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Event {
    pub at: String,
    /// `presentado`, `asignado`, `comentario`, `escalado`, `resuelto`, `apelado`,
    /// `solicitud_cambio`.
    pub kind: String,
    pub actor: String,
    /// Internal: notes and reasons, never shown to the person.
    pub detail: Option<String>,
    /// Shown (date and kind only) on the tracking page.
    pub public: bool,
}

/// A new grievance: `code_hash` is the SHA-256 of its tracking code (the code is not stored).
#[derive(Debug, Clone)]
pub struct NewGrievance<'a> {
    pub code_hash: &'a str,
    pub category: &'a str,
    pub state: &'a str,
    pub channel: &'a str,
    pub lodged_by: &'a str,
    pub lodged_at: &'a str,
    pub due_at: &'a str,
    pub district_code: Option<i64>,
    pub institution: Option<&'a str>,
    pub description: &'a str,
    pub contact: Option<&'a str>,
    pub national_id: Option<i64>,
    pub birth_date: Option<&'a str>,
    pub given_names: Option<&'a str>,
    pub family_names: Option<&'a str>,
    pub person_id: Option<i64>,
}

/// Stores a grievance and its first step (`presentado`, public) in one transaction; its id.
pub fn insert(db: &mut crate::sql::Db<'_>, n: &NewGrievance<'_>) -> Result<i64> {
    let sql = db.raw();
    in_tx(sql, |sql| {
        let id = sql
            .query_opt(
                "INSERT INTO grievances (code_hash, category, state, level, channel, lodged_by, lodged_at, due_at, updated_at,
                 district_code, institution, description, contact, national_id, birth_date, given_names, family_names, person_id)
                 VALUES ($1, $2, $3, 1, $4, $5, $6, $7, $6, $8, $9, $10, $11, $12, $13, $14, $15, $16) RETURNING id",
                &[
                    n.code_hash.into(),
                    n.category.into(),
                    n.state.into(),
                    n.channel.into(),
                    n.lodged_by.into(),
                    n.lodged_at.into(),
                    n.due_at.into(),
                    n.district_code.into(),
                    n.institution.into(),
                    n.description.into(),
                    n.contact.into(),
                    n.national_id.into(),
                    n.birth_date.into(),
                    n.given_names.into(),
                    n.family_names.into(),
                    n.person_id.into(),
                ],
            )?
            .and_then(|r| r.int(0))
            .ok_or_else(|| StoreError::Invalid("el reclamo no devolvió su número".into()))?;
        add_event(
            sql,
            id,
            &Event {
                at: n.lodged_at.to_string(),
                kind: "presentado".into(),
                actor: n.lodged_by.to_string(),
                detail: None,
                public: true,
            },
        )?;
        Ok(id)
    })
}

fn add_event(sql: &mut dyn crate::sql::Sql, id: i64, e: &Event) -> Result<()> {
    sql.execute(
        "INSERT INTO grievance_events (grievance_id, at, kind, actor, detail, public) VALUES ($1, $2, $3, $4, $5, $6)",
        &[
            id.into(),
            e.at.as_str().into(),
            e.kind.as_str().into(),
            e.actor.as_str().into(),
            e.detail.clone().into(),
            e.public.into(),
        ],
    )?;
    Ok(())
}

/// The grievance whose tracking code hashes to `code_hash`.
pub fn by_code_hash(db: &mut crate::sql::Db<'_>, code_hash: &str) -> Result<Option<Grievance>> {
    db.raw()
        .query_opt(
            &format!("SELECT {COLUMNS} FROM grievances WHERE code_hash = $1"),
            &[code_hash.into()],
        )?
        .as_ref()
        .map(decode)
        .transpose()
}

/// Where a reader may look: every grievance (national), or those of some districts and, for an
/// institution's operator, only those assigned to that institution.
#[derive(Debug, Clone, Default)]
pub struct Reach {
    /// Inclusive district-number ranges; `None`: national (grievances without a district too).
    pub districts: Option<Vec<(i64, i64)>>,
    /// Only grievances assigned to this institution.
    pub institution: Option<String>,
}

fn reach_sql(reach: &Reach, params: &mut Vec<Param>, clauses: &mut Vec<String>) {
    if let Some(ranges) = &reach.districts {
        clauses.push(crate::bulk::ranges_sql("district_code", ranges, params));
    }
    if let Some(inst) = &reach.institution {
        params.push(inst.as_str().into());
        clauses.push(format!("institution = ${}", params.len()));
    }
}

/// One grievance, if within `reach`.
pub fn get(db: &mut crate::sql::Db<'_>, id: i64, reach: &Reach) -> Result<Option<Grievance>> {
    let mut params: Vec<Param> = vec![id.into()];
    let mut clauses = vec!["id = $1".to_string()];
    reach_sql(reach, &mut params, &mut clauses);
    db.raw()
        .query_opt(
            &format!(
                "SELECT {COLUMNS} FROM grievances WHERE {}",
                clauses.join(" AND ")
            ),
            &params,
        )?
        .as_ref()
        .map(decode)
        .transpose()
}

/// Which grievances to list.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub state: Option<String>,
    /// Only open ones (every state but `resuelto` and `no_corresponde`).
    pub open: bool,
    pub category: Option<String>,
    /// Only open ones whose deadline is before this moment (RFC 3339 UTC).
    pub overdue_at: Option<String>,
    pub limit: i64,
}

/// Grievances within `reach` matching `f`, oldest deadline first.
pub fn list(db: &mut crate::sql::Db<'_>, reach: &Reach, f: &Filter) -> Result<Vec<Grievance>> {
    let mut params: Vec<Param> = Vec::new();
    let mut clauses: Vec<String> = vec!["1 = 1".into()];
    reach_sql(reach, &mut params, &mut clauses);
    if let Some(s) = &f.state {
        params.push(s.as_str().into());
        clauses.push(format!("state = ${}", params.len()));
    }
    if f.open || f.overdue_at.is_some() {
        clauses.push(format!("state NOT IN {CLOSED_SQL}"));
    }
    if let Some(c) = &f.category {
        params.push(c.as_str().into());
        clauses.push(format!("category = ${}", params.len()));
    }
    if let Some(now) = &f.overdue_at {
        params.push(now.as_str().into());
        clauses.push(format!("due_at < ${}", params.len()));
    }
    params.push(f.limit.into());
    db.raw()
        .query(
            &format!(
                "SELECT {COLUMNS} FROM grievances WHERE {} ORDER BY due_at, id LIMIT ${}",
                clauses.join(" AND "),
                params.len()
            ),
            &params,
        )?
        .iter()
        .map(decode)
        .collect()
}

/// The steps of grievance `id`, in order.
pub fn events(db: &mut crate::sql::Db<'_>, id: i64) -> Result<Vec<Event>> {
    db.raw()
        .query(
            "SELECT at, kind, actor, detail, public FROM grievance_events WHERE grievance_id = $1 ORDER BY id",
            &[id.into()],
        )?
        .iter()
        .map(|r| {
            Ok(Event {
                at: r.req_text("at")?,
                kind: r.req_text("kind")?,
                actor: r.req_text("actor")?,
                detail: r.opt_text("detail")?,
                public: r.int(4) == Some(1),
            })
        })
        .collect()
}

/// Writes the changed fields of `g` and step `e`, in one transaction, if nobody changed the
/// grievance since it was read (`seen_updated_at`); false when somebody did (nothing written).
pub fn save(
    db: &mut crate::sql::Db<'_>,
    g: &Grievance,
    seen_updated_at: &str,
    e: &Event,
) -> Result<bool> {
    let sql = db.raw();
    in_tx(sql, |sql| {
        let n = sql.execute(
            "UPDATE grievances SET state = $1, level = $2, due_at = $3, updated_at = $4, institution = $5,
             assigned_to = $6, resolution = $7, public_text = $8, resolved_at = $9, appealed_at = $10,
             change_request_id = $11
             WHERE id = $12 AND updated_at = $13",
            &[
                g.state.as_str().into(),
                g.level.into(),
                g.due_at.as_str().into(),
                g.updated_at.as_str().into(),
                g.institution.clone().into(),
                g.assigned_to.clone().into(),
                g.resolution.clone().into(),
                g.public_text.clone().into(),
                g.resolved_at.clone().into(),
                g.appealed_at.clone().into(),
                g.change_request_id.into(),
                g.id.into(),
                seen_updated_at.into(),
            ],
        )?;
        if n != 1 {
            return Ok(false);
        }
        add_event(sql, g.id, e)?;
        Ok(true)
    })
}

/// Adds a step that changes no field (an internal note).
pub fn note(db: &mut crate::sql::Db<'_>, id: i64, e: &Event) -> Result<()> {
    add_event(db.raw(), id, e)
}

/// A registered person as a grievance is matched against: id, birth date, names and where
/// the household lives.
#[derive(Debug, Clone, PartialEq)]
pub struct PersonMatch {
    pub person_id: i64,
    pub birth_date: String,
    pub given_names: String,
    pub family_names: String,
    pub district_code: i64,
}

/// The current registry persons with cédula `national_id` (usually one).
pub fn persons_by_national_id(
    db: &mut crate::sql::Db<'_>,
    national_id: i64,
) -> Result<Vec<PersonMatch>> {
    db.raw()
        .query(
            "SELECT p.id, CAST(p.birth_date AS TEXT) AS birth_date, p.given_names, p.family_names, h.district_code
             FROM persons p JOIN households h ON h.id = p.household_id
             WHERE p.national_id = $1 ORDER BY p.id LIMIT 10",
            &[national_id.into()],
        )?
        .iter()
        .map(|r| {
            Ok(PersonMatch {
                person_id: r.req_int("id")?,
                birth_date: r.req_text("birth_date")?,
                given_names: r.req_text("given_names")?,
                family_names: r.req_text("family_names")?,
                district_code: r.req_int("district_code")?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::CLOSED_SQL;
    use vamos_domain::grievance::GrievanceState;

    #[test]
    fn the_sql_list_of_closed_states_is_the_domain_s() {
        let codes: Vec<String> = GrievanceState::ALL
            .into_iter()
            .filter(|s| s.is_closed())
            .map(|s| format!("'{}'", s.code()))
            .collect();
        assert_eq!(CLOSED_SQL, format!("({})", codes.join(", ")));
    }
}
