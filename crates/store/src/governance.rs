//! Governance and territorial management (migration 0034): the bodies of the Modelo de
//! Gestión and their members, their meetings with the agreements each records, the six
//! territorial processes per district, the Espacios SPS attributes of the delivery points, the
//! communities' ranked priorities per district, the monitoring calendar, follow-up reports and
//! microdata releases. Rules — who may record what, when an agreement is overdue, what carries
//! over — are `vamos_app::governance`'s business; this module only reads and writes rows.

use crate::sql::{in_tx, Param, Row};
use crate::{Result, StoreError};
use serde::{Deserialize, Serialize};

/// A body (*instancia*) of the Modelo de Gestión.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Body {
    pub id: i64,
    pub code: String,
    pub name: String,
    pub kind: String,
    pub level: String,
    /// PY, DD or DDdd.
    pub territory: String,
    pub parent_code: Option<String>,
    pub installed_on: Option<String>,
    pub source: String,
}

/// A member of a body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Member {
    #[serde(default)]
    pub id: i64,
    #[serde(default)]
    pub body_id: i64,
    pub name: String,
    pub institution: String,
    pub role: String,
    #[serde(default)]
    pub account: Option<String>,
    #[serde(default)]
    pub since: Option<String>,
    #[serde(default)]
    pub until: Option<String>,
}

/// Who attended a meeting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attendee {
    pub name: String,
    #[serde(default)]
    pub institution: String,
}

/// A meeting and its minute.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Meeting {
    pub id: i64,
    pub body_id: i64,
    pub number: Option<i64>,
    pub title: String,
    pub held_on: String,
    pub place: String,
    pub time_from: Option<String>,
    pub time_to: Option<String>,
    pub objectives: Vec<String>,
    pub agenda: Vec<String>,
    pub development: Vec<String>,
    pub annexes: Vec<String>,
    /// `None` when the minute does not record who attended.
    pub attendance: Option<Vec<Attendee>>,
    pub endorsement: Option<String>,
    pub source: Option<String>,
    pub recorded_by: String,
    pub recorded_at: String,
    /// The agreements this meeting recorded (filled by [`meeting`]).
    pub agreements: Vec<Agreement>,
}

/// An agreement or next step of a meeting.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Agreement {
    pub id: i64,
    pub meeting_id: i64,
    pub position: i64,
    pub text: String,
    pub owner: Option<String>,
    pub owner_account: Option<String>,
    pub due_on: Option<String>,
    /// `pendiente`, `en_curso`, `cumplido`, `cancelado`.
    pub status: String,
    pub link_kind: Option<String>,
    pub link_ref: Option<String>,
    pub status_note: Option<String>,
    pub closed_on: Option<String>,
    pub updated_by: String,
    pub updated_at: String,
    /// Of the meeting that recorded it (filled when listed).
    pub body_id: i64,
    pub held_on: String,
}

const BODY_COLUMNS: &str =
    "id, code, name, kind, level, territory, parent_code, installed_on, source";

fn body(r: &Row) -> Body {
    Body {
        id: r.int(0).unwrap_or(0),
        code: r.text(1),
        name: r.text(2),
        kind: r.text(3),
        level: r.text(4),
        territory: r.text(5),
        parent_code: r.string(6),
        installed_on: r.string(7),
        source: r.text(8),
    }
}

/// Inserts the bodies whose code is not there yet (the shipped ones, each with its source);
/// how many were new.
pub fn seed_bodies(db: &mut crate::sql::Db<'_>, bodies: &[Body]) -> Result<u64> {
    in_tx(db.raw(), |sql| {
        let mut added = 0;
        for b in bodies {
            added += sql.execute(
                "INSERT INTO bodies (code, name, kind, level, territory, parent_code, installed_on, source)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (code) DO NOTHING",
                &[
                    b.code.as_str().into(),
                    b.name.as_str().into(),
                    b.kind.as_str().into(),
                    b.level.as_str().into(),
                    b.territory.as_str().into(),
                    b.parent_code.as_deref().into(),
                    b.installed_on.as_deref().into(),
                    b.source.as_str().into(),
                ],
            )?;
        }
        Ok(added)
    })
}

/// Every body, national first, then by territory and name.
pub fn bodies(db: &mut crate::sql::Db<'_>) -> Result<Vec<Body>> {
    Ok(db
        .raw()
        .query(
            &format!("SELECT {BODY_COLUMNS} FROM bodies ORDER BY CASE level WHEN 'nacional' THEN 0 WHEN 'consultivo' THEN 1 WHEN 'departamental' THEN 2 ELSE 3 END, territory, id"),
            &[],
        )?
        .iter()
        .map(body)
        .collect())
}

/// Body `code` (or number, when `code` is digits).
pub fn body_by_code(db: &mut crate::sql::Db<'_>, code: &str) -> Result<Option<Body>> {
    let by_id = code.parse::<i64>().ok();
    Ok(db
        .raw()
        .query_opt(
            &format!("SELECT {BODY_COLUMNS} FROM bodies WHERE code = $1 OR id = $2"),
            &[code.into(), by_id.into()],
        )?
        .map(|r| body(&r)))
}

/// The members of body `id`.
pub fn members(db: &mut crate::sql::Db<'_>, body_id: i64) -> Result<Vec<Member>> {
    Ok(db
        .raw()
        .query(
            "SELECT id, body_id, name, institution, role, account, since, until FROM body_members WHERE body_id = $1 ORDER BY id",
            &[body_id.into()],
        )?
        .iter()
        .map(|r| Member {
            id: r.int(0).unwrap_or(0),
            body_id: r.int(1).unwrap_or(0),
            name: r.text(2),
            institution: r.text(3),
            role: r.text(4),
            account: r.string(5),
            since: r.string(6),
            until: r.string(7),
        })
        .collect())
}

/// Adds a member to a body; its number.
pub fn add_member(db: &mut crate::sql::Db<'_>, m: &Member) -> Result<i64> {
    db.raw()
        .query_opt(
            "INSERT INTO body_members (body_id, name, institution, role, account, since, until) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
            &[
                m.body_id.into(),
                m.name.as_str().into(),
                m.institution.as_str().into(),
                m.role.as_str().into(),
                m.account.as_deref().into(),
                m.since.as_deref().into(),
                m.until.as_deref().into(),
            ],
        )?
        .and_then(|r| r.int(0))
        .ok_or_else(|| StoreError::Invalid("el miembro no devolvió su número".into()))
}

/// Ends membership `member_id` of body `body_id` on `until`; whether it was a current member.
pub fn end_member(
    db: &mut crate::sql::Db<'_>,
    body_id: i64,
    member_id: i64,
    until: &str,
) -> Result<bool> {
    Ok(db.raw().execute(
        "UPDATE body_members SET until = $1 WHERE id = $2 AND body_id = $3 AND until IS NULL",
        &[until.into(), member_id.into(), body_id.into()],
    )? > 0)
}

/// The bodies account `account` sits in (as a current member).
pub fn bodies_of_account(db: &mut crate::sql::Db<'_>, account: &str) -> Result<Vec<i64>> {
    Ok(db
        .raw()
        .query(
            "SELECT DISTINCT body_id FROM body_members WHERE account = $1 AND until IS NULL",
            &[account.into()],
        )?
        .iter()
        .filter_map(|r| r.int(0))
        .collect())
}

fn json_list(v: &[String]) -> Result<String> {
    Ok(serde_json::to_string(v)?)
}

fn strings(s: &str) -> Vec<String> {
    serde_json::from_str(s).unwrap_or_default()
}

const MEETING_COLUMNS: &str = "id, body_id, number, title, held_on, place, time_from, time_to, objectives, agenda, development, annexes, attendance, endorsement, source, recorded_by, recorded_at";

fn meeting_row(r: &Row) -> Meeting {
    Meeting {
        id: r.int(0).unwrap_or(0),
        body_id: r.int(1).unwrap_or(0),
        number: r.int(2),
        title: r.text(3),
        held_on: r.text(4),
        place: r.text(5),
        time_from: r.string(6),
        time_to: r.string(7),
        objectives: strings(&r.text(8)),
        agenda: strings(&r.text(9)),
        development: strings(&r.text(10)),
        annexes: strings(&r.text(11)),
        attendance: r.string(12).and_then(|s| serde_json::from_str(&s).ok()),
        endorsement: r.string(13),
        source: r.string(14),
        recorded_by: r.text(15),
        recorded_at: r.text(16),
        agreements: Vec::new(),
    }
}

/// Stores meeting `m` with its agreements, all or none; its number, or `None` when the body
/// already has a meeting with that date and title (a re-run adds nothing).
pub fn insert_meeting(db: &mut crate::sql::Db<'_>, m: &Meeting) -> Result<Option<i64>> {
    let attendance = m
        .attendance
        .as_ref()
        .map(serde_json::to_string)
        .transpose()?;
    let head: Vec<Param> = vec![
        m.body_id.into(),
        m.number.into(),
        m.title.as_str().into(),
        m.held_on.as_str().into(),
        m.place.as_str().into(),
        m.time_from.as_deref().into(),
        m.time_to.as_deref().into(),
        json_list(&m.objectives)?.into(),
        json_list(&m.agenda)?.into(),
        json_list(&m.development)?.into(),
        json_list(&m.annexes)?.into(),
        attendance.into(),
        m.endorsement.as_deref().into(),
        m.source.as_deref().into(),
        m.recorded_by.as_str().into(),
        m.recorded_at.as_str().into(),
    ];
    in_tx(db.raw(), |sql| {
        let Some(id) = sql
            .query_opt(
                "INSERT INTO meetings (body_id, number, title, held_on, place, time_from, time_to, objectives, agenda, development, annexes, attendance, endorsement, source, recorded_by, recorded_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
                 ON CONFLICT (body_id, held_on, title) DO NOTHING RETURNING id",
                &head,
            )?
            .and_then(|r| r.int(0))
        else {
            return Ok(None);
        };
        let rows: Vec<Vec<Param>> = m
            .agreements
            .iter()
            .map(|a| {
                vec![
                    id.into(),
                    a.position.into(),
                    a.text.as_str().into(),
                    a.owner.as_deref().into(),
                    a.owner_account.as_deref().into(),
                    a.due_on.as_deref().into(),
                    a.status.as_str().into(),
                    a.link_kind.as_deref().into(),
                    a.link_ref.as_deref().into(),
                    a.updated_by.as_str().into(),
                    a.updated_at.as_str().into(),
                ]
            })
            .collect();
        sql.execute_many(
            "INSERT INTO meeting_agreements (meeting_id, position, text, owner, owner_account, due_on, status, link_kind, link_ref, updated_by, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            &rows,
        )?;
        Ok(Some(id))
    })
}

/// The meetings of body `body_id` (every body when `None`), newest first, without agreements.
pub fn meetings(db: &mut crate::sql::Db<'_>, body_id: Option<i64>) -> Result<Vec<Meeting>> {
    let (filter, params): (&str, Vec<Param>) = match body_id {
        Some(id) => ("WHERE body_id = $1", vec![id.into()]),
        None => ("", Vec::new()),
    };
    Ok(db
        .raw()
        .query(
            &format!(
                "SELECT {MEETING_COLUMNS} FROM meetings {filter} ORDER BY held_on DESC, id DESC"
            ),
            &params,
        )?
        .iter()
        .map(meeting_row)
        .collect())
}

/// Meeting `id` with its agreements.
pub fn meeting(db: &mut crate::sql::Db<'_>, id: i64) -> Result<Option<Meeting>> {
    let Some(mut m) = db
        .raw()
        .query_opt(
            &format!("SELECT {MEETING_COLUMNS} FROM meetings WHERE id = $1"),
            &[id.into()],
        )?
        .map(|r| meeting_row(&r))
    else {
        return Ok(None);
    };
    m.agreements = agreements(
        db,
        &AgreementFilter {
            meeting_id: Some(id),
            ..AgreementFilter::default()
        },
    )?;
    Ok(Some(m))
}

/// Which agreements to list.
#[derive(Debug, Clone, Default)]
pub struct AgreementFilter {
    pub meeting_id: Option<i64>,
    pub body_id: Option<i64>,
    /// Only those still open (`pendiente` or `en_curso`).
    pub open: bool,
    /// Only open ones due before this date.
    pub due_before: Option<String>,
    /// Recorded at meetings held before this date.
    pub agreed_before: Option<String>,
    /// Only those of these bodies or owned by this account: (bodies, account).
    pub concerning: Option<(Vec<i64>, String)>,
    pub limit: Option<i64>,
}

const AGREEMENT_COLUMNS: &str = "a.id, a.meeting_id, a.position, a.text, a.owner, a.owner_account, a.due_on, a.status, a.link_kind, a.link_ref, a.status_note, a.closed_on, a.updated_by, a.updated_at, m.body_id, m.held_on";

fn agreement_row(r: &Row) -> Agreement {
    Agreement {
        id: r.int(0).unwrap_or(0),
        meeting_id: r.int(1).unwrap_or(0),
        position: r.int(2).unwrap_or(0),
        text: r.text(3),
        owner: r.string(4),
        owner_account: r.string(5),
        due_on: r.string(6),
        status: r.text(7),
        link_kind: r.string(8),
        link_ref: r.string(9),
        status_note: r.string(10),
        closed_on: r.string(11),
        updated_by: r.text(12),
        updated_at: r.text(13),
        body_id: r.int(14).unwrap_or(0),
        held_on: r.text(15),
    }
}

/// The agreements `f` selects, oldest meeting first.
pub fn agreements(db: &mut crate::sql::Db<'_>, f: &AgreementFilter) -> Result<Vec<Agreement>> {
    let mut params: Vec<Param> = Vec::new();
    let mut clauses: Vec<String> = Vec::new();
    let bind = |p: Param, params: &mut Vec<Param>| {
        params.push(p);
        format!("${}", params.len())
    };
    if let Some(id) = f.meeting_id {
        clauses.push(format!("a.meeting_id = {}", bind(id.into(), &mut params)));
    }
    if let Some(id) = f.body_id {
        clauses.push(format!("m.body_id = {}", bind(id.into(), &mut params)));
    }
    if f.open {
        clauses.push("a.status IN ('pendiente', 'en_curso')".into());
    }
    if let Some(d) = &f.due_before {
        clauses.push(format!(
            "a.status IN ('pendiente', 'en_curso') AND a.due_on IS NOT NULL AND a.due_on < {}",
            bind(d.as_str().into(), &mut params)
        ));
    }
    if let Some(d) = &f.agreed_before {
        clauses.push(format!(
            "m.held_on < {}",
            bind(d.as_str().into(), &mut params)
        ));
    }
    if let Some((bodies, account)) = &f.concerning {
        let mut c = format!(
            "a.owner_account = {}",
            bind(account.as_str().into(), &mut params)
        );
        if !bodies.is_empty() {
            let list = crate::sql::int_list(bodies);
            c = format!("({c} OR m.body_id IN {list})");
        }
        clauses.push(c);
    }
    let filter = if clauses.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", clauses.join(" AND "))
    };
    let limit = f.limit.map(|n| format!(" LIMIT {n}")).unwrap_or_default();
    Ok(db
        .raw()
        .query(
            &format!("SELECT {AGREEMENT_COLUMNS} FROM meeting_agreements a JOIN meetings m ON m.id = a.meeting_id {filter} ORDER BY m.held_on, a.meeting_id, a.position{limit}"),
            &params,
        )?
        .iter()
        .map(agreement_row)
        .collect())
}

/// Agreement `id`.
pub fn agreement(db: &mut crate::sql::Db<'_>, id: i64) -> Result<Option<Agreement>> {
    Ok(db
        .raw()
        .query_opt(
            &format!("SELECT {AGREEMENT_COLUMNS} FROM meeting_agreements a JOIN meetings m ON m.id = a.meeting_id WHERE a.id = $1"),
            &[id.into()],
        )?
        .map(|r| agreement_row(&r)))
}

/// Rewrites agreement `a`'s status, owner, due date, link and note; whether it existed.
pub fn update_agreement(db: &mut crate::sql::Db<'_>, a: &Agreement) -> Result<bool> {
    Ok(db.raw().execute(
        "UPDATE meeting_agreements SET status = $1, owner = $2, owner_account = $3, due_on = $4, link_kind = $5, link_ref = $6,
         status_note = $7, closed_on = $8, updated_by = $9, updated_at = $10 WHERE id = $11",
        &[
            a.status.as_str().into(),
            a.owner.as_deref().into(),
            a.owner_account.as_deref().into(),
            a.due_on.as_deref().into(),
            a.link_kind.as_deref().into(),
            a.link_ref.as_deref().into(),
            a.status_note.as_deref().into(),
            a.closed_on.as_deref().into(),
            a.updated_by.as_str().into(),
            a.updated_at.as_str().into(),
            a.id.into(),
        ],
    )? > 0)
}

// ------------------------------------------------------------------------------ rollout

/// One of the six territorial processes of a district.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct RolloutStep {
    pub district: i64,
    pub process: i64,
    /// `pendiente`, `en_curso`, `completado`.
    pub status: String,
    pub started_on: Option<String>,
    pub completed_on: Option<String>,
    pub coordinator: Option<String>,
    pub evidence: Vec<Evidence>,
    pub note: Option<String>,
    pub updated_by: String,
    pub updated_at: String,
}

/// A document that shows a step done.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    pub title: String,
    #[serde(default)]
    pub reference: String,
}

/// The recorded steps of the districts numbered `districts` (every district when empty).
pub fn rollout(db: &mut crate::sql::Db<'_>, districts: &[i64]) -> Result<Vec<RolloutStep>> {
    let filter = if districts.is_empty() {
        String::new()
    } else {
        format!("WHERE district IN {}", crate::sql::int_list(districts))
    };
    Ok(db
        .raw()
        .query(
            &format!("SELECT district, process, status, started_on, completed_on, coordinator, evidence, note, updated_by, updated_at FROM rollout_steps {filter} ORDER BY district, process"),
            &[],
        )?
        .iter()
        .map(|r| RolloutStep {
            district: r.int(0).unwrap_or(0),
            process: r.int(1).unwrap_or(0),
            status: r.text(2),
            started_on: r.string(3),
            completed_on: r.string(4),
            coordinator: r.string(5),
            evidence: serde_json::from_str(&r.text(6)).unwrap_or_default(),
            note: r.string(7),
            updated_by: r.text(8),
            updated_at: r.text(9),
        })
        .collect())
}

/// Writes a step (insert or replace).
pub fn put_rollout(db: &mut crate::sql::Db<'_>, s: &RolloutStep) -> Result<()> {
    let evidence = serde_json::to_string(&s.evidence)?;
    db.raw().execute(
        "INSERT INTO rollout_steps (district, process, status, started_on, completed_on, coordinator, evidence, note, updated_by, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
         ON CONFLICT (district, process) DO UPDATE SET status = excluded.status, started_on = excluded.started_on,
           completed_on = excluded.completed_on, coordinator = excluded.coordinator, evidence = excluded.evidence,
           note = excluded.note, updated_by = excluded.updated_by, updated_at = excluded.updated_at",
        &[
            s.district.into(),
            s.process.into(),
            s.status.as_str().into(),
            s.started_on.as_deref().into(),
            s.completed_on.as_deref().into(),
            s.coordinator.as_deref().into(),
            evidence.into(),
            s.note.as_deref().into(),
            s.updated_by.as_str().into(),
            s.updated_at.as_str().into(),
        ],
    )?;
    Ok(())
}

// ------------------------------------------------------------------------- priorities

/// How often a priority was ranked in a district's latest Entorno surveys.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PriorityCount {
    pub district: i64,
    pub priority: String,
    /// 1, 2 or 3.
    pub rank: i64,
    pub communities: i64,
    /// Participants of the surveys that ranked it so (a survey that did not count them counts
    /// one).
    pub participants: i64,
}

/// Per district (of `districts`, or all when empty), priority and rank: how many communities'
/// latest survey ranked it there, and their participants.
pub fn priority_counts(
    db: &mut crate::sql::Db<'_>,
    districts: &[i64],
) -> Result<Vec<PriorityCount>> {
    let filter = if districts.is_empty() {
        String::new()
    } else {
        format!("AND c.district_code IN {}", crate::sql::int_list(districts))
    };
    // The latest survey of each community (a community surveyed again speaks with its newest
    // voice); ties on the date go to the later submission.
    let latest = format!(
        "SELECT c.district_code AS district, s.prioridad_1 AS p1, s.prioridad_2 AS p2, s.prioridad_3 AS p3, CASE WHEN s.participantes > 0 THEN s.participantes ELSE 1 END AS n
         FROM community_surveys s JOIN communities c ON c.id = s.community_id
         WHERE NOT EXISTS (SELECT 1 FROM community_surveys t WHERE t.community_id = s.community_id
             AND (t.survey_date > s.survey_date OR (t.survey_date = s.survey_date AND t.submission_key > s.submission_key))) {filter}"
    );
    let q = format!(
        "WITH latest AS ({latest})
         SELECT district, priority, rank, COUNT(*), CAST(SUM(n) AS BIGINT) FROM (
            SELECT district, p1 AS priority, 1 AS rank, n FROM latest WHERE p1 IS NOT NULL
            UNION ALL SELECT district, p2, 2, n FROM latest WHERE p2 IS NOT NULL
            UNION ALL SELECT district, p3, 3, n FROM latest WHERE p3 IS NOT NULL) x
         GROUP BY district, priority, rank ORDER BY district, priority, rank"
    );
    Ok(db
        .raw()
        .query(&q, &[])?
        .iter()
        .map(|r| PriorityCount {
            district: r.int(0).unwrap_or(0),
            priority: r.text(1),
            rank: r.int(2).unwrap_or(0),
            communities: r.int(3).unwrap_or(0),
            participants: r.int(4).unwrap_or(0),
        })
        .collect())
}

/// A priority linked to a planned AE or a budget line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PriorityLink {
    pub district: i64,
    pub priority: String,
    /// `ae` or `presupuesto`.
    pub link_kind: String,
    pub link_ref: String,
    pub created_by: String,
    pub created_at: String,
}

/// The links of districts `districts` (all when empty).
pub fn priority_links(db: &mut crate::sql::Db<'_>, districts: &[i64]) -> Result<Vec<PriorityLink>> {
    let filter = if districts.is_empty() {
        String::new()
    } else {
        format!("WHERE district IN {}", crate::sql::int_list(districts))
    };
    Ok(db
        .raw()
        .query(
            &format!("SELECT district, priority, link_kind, link_ref, created_by, created_at FROM priority_links {filter} ORDER BY district, priority, link_kind, link_ref"),
            &[],
        )?
        .iter()
        .map(|r| PriorityLink {
            district: r.int(0).unwrap_or(0),
            priority: r.text(1),
            link_kind: r.text(2),
            link_ref: r.text(3),
            created_by: r.text(4),
            created_at: r.text(5),
        })
        .collect())
}

/// Adds a link (nothing when it is there already); whether it was new.
pub fn add_priority_link(db: &mut crate::sql::Db<'_>, l: &PriorityLink) -> Result<bool> {
    Ok(db.raw().execute(
        "INSERT INTO priority_links (district, priority, link_kind, link_ref, created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (district, priority, link_kind, link_ref) DO NOTHING",
        &[
            l.district.into(),
            l.priority.as_str().into(),
            l.link_kind.as_str().into(),
            l.link_ref.as_str().into(),
            l.created_by.as_str().into(),
            l.created_at.as_str().into(),
        ],
    )? > 0)
}

/// Whether what an agreement or a priority links to exists: a shared target (`meta`:
/// `TERRITORIO:LOGRO:AÑO`), a strategic action of a plan (`ae`: its code) or a budget line
/// (`presupuesto`: its number). Cases and change requests are checked by the app, within the
/// caller's scope.
pub fn link_exists(db: &mut crate::sql::Db<'_>, kind: &str, reference: &str) -> Result<bool> {
    let sql = db.raw();
    let found = match kind {
        "meta" => {
            let mut parts = reference.split(':');
            let (Some(t), Some(l), Some(y), None) =
                (parts.next(), parts.next(), parts.next(), parts.next())
            else {
                return Ok(false);
            };
            let (Ok(l), Ok(y)) = (l.parse::<i64>(), y.parse::<i64>()) else {
                return Ok(false);
            };
            sql.query_opt(
                "SELECT 1 FROM targets WHERE territory = $1 AND logro = $2 AND year = $3",
                &[t.into(), l.into(), y.into()],
            )?
        }
        "ae" => sql.query_opt(
            "SELECT 1 FROM plan_actions WHERE code = $1",
            &[reference.into()],
        )?,
        "presupuesto" => {
            let Ok(id) = reference.parse::<i64>() else {
                return Ok(false);
            };
            sql.query_opt("SELECT 1 FROM budget_lines WHERE id = $1", &[id.into()])?
        }
        _ => None,
    };
    Ok(found.is_some())
}
