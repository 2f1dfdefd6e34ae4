//! Storage of counter-referrals (migration `0007_access` and the intake log): locating the
//! persons they name, storing them at once or through the intake log (`counter_referral_log`),
//! answering the referrals they prove, the fingerprints that spare look-ups, the events the
//! Logros updater reads back, and the updater's saved progress.

use crate::bulk::*;
use crate::referrals::*;
pub mod intake_log;
pub mod places;

use crate::sql::{in_tx, lock, lock_shared, Param, Row, Sql};
use crate::Backend;
use crate::{Result, StoreError};
use rustc_hash::{FxHashMap, FxHashSet};
use serde::{Deserialize, Serialize};
use std::borrow::Borrow;
use std::collections::{HashMap, HashSet};
use std::sync::{PoisonError, RwLock};

/// A registered person as a counter-referral names them: id, household, community, district.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonPlace {
    pub person_id: i64,
    pub household_id: i64,
    pub community_id: i64,
    pub district_code: i64,
}

/// Persons found by id, and by cédula (a cédula may name several registered persons).
/// (Fx: filled and read once per event received, on the request's thread.)
pub type Located = (
    FxHashMap<i64, PersonPlace>,
    FxHashMap<i64, Vec<PersonPlace>>,
);

/// Finds persons by SIIS id or by cédula (the stored number), in bulk.
pub fn locate_persons(
    sql: &mut crate::sql::Db<'_>,
    ids: &[i64],
    cedulas: &[i64],
) -> Result<Located> {
    let sql = sql.raw();
    let place = |r: &Row| PersonPlace {
        person_id: r.int(0).unwrap_or_default(),
        household_id: r.int(1).unwrap_or_default(),
        community_id: r.int(2).unwrap_or_default(),
        district_code: r.int(3).unwrap_or_default(),
    };
    let mut by_id = FxHashMap::default();
    let mut by_cedula: FxHashMap<i64, Vec<PersonPlace>> = FxHashMap::default();
    for (list, col) in [(ids, "p.id"), (cedulas, "p.national_id")] {
        for chunk in list.chunks(500) {
            let mut params: Vec<Param> = Vec::with_capacity(chunk.len());
            let filter = crate::sql::in_ints(sql.dialect(), col, chunk, &mut params);
            let rows = sql.query(
                &format!(
                    "SELECT p.id, p.household_id, h.community_id, h.district_code, p.national_id
                     FROM persons p JOIN households h ON h.id = p.household_id WHERE {filter}"
                ),
                &params,
            )?;
            for r in &rows {
                let p = place(r);
                if col == "p.id" {
                    by_id.insert(p.person_id, p);
                } else if let Some(c) = r.int(4) {
                    by_cedula.entry(c).or_default().push(p);
                }
            }
        }
    }
    Ok((by_id, by_cedula))
}

/// A counter-referral to store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewCounterReferral {
    pub institution: String,
    pub event_key: String,
    /// SHA-256 of the event's content: an identical re-send is a duplicate, a different one a
    /// conflict.
    pub digest: String,
    pub person: PersonPlace,
    pub service: String,
    pub delivered_on: String,
    pub place: Option<String>,
    pub place_district: Option<i64>,
    pub channel: String,
    pub received_by: String,
}

/// The digests of events already received from `institution`, by event key.
pub fn known_events(
    sql: &mut crate::sql::Db<'_>,
    institution: &str,
    keys: &[&str],
) -> Result<HashMap<String, (i64, String)>> {
    let sql = sql.raw();
    let mut out = HashMap::new();
    for chunk in keys.chunks(500) {
        let mut params: Vec<Param> = vec![institution.into()];
        let filter = crate::sql::in_texts(sql.dialect(), "event_key", chunk, &mut params);
        for r in sql.query(
            &format!(
                "SELECT event_key, id, digest FROM counter_referrals WHERE institution = $1 AND {filter}"
            ),
            &params,
        )? {
            out.insert(r.text(0), (r.int(1).unwrap_or_default(), r.text(2)));
        }
    }
    Ok(out)
}

/// Which referral services a counter-referral of an institution's event code answers: the
/// catalogue services whose counter-referral evidence names that institution and code, each
/// with the kind of unit its referrals name (`persona`, `hogar`, `comunidad`).
pub type AnswerMap = HashMap<(String, String), AnsweredServices>;

/// The catalogue services an event code answers, with the kind of unit each one's referral
/// names.
pub type AnsweredServices = Vec<(String, &'static str)>;

/// What became of one event given to [`insert_counter_referrals`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Outcome {
    /// Stored with this id; `referral` is the referral it answered, if any.
    Stored { id: i64, referral: Option<i64> },
    /// Already received (stored, or earlier in the same call) with the same content.
    Duplicate { id: i64 },
    /// The same institution and event id already received with other content.
    Conflict,
    /// Appended with this id to the intake log ([`log_counter_referrals_and`]): acknowledged
    /// and durable, its referral answered when the log is applied, moments later.
    Logged { id: i64 },
}

/// Stores counter-referrals and answers the open (or expired) referrals they serve, in one
/// transaction with a durable commit: all or nothing. Returns one [`Outcome`] per event, in
/// input order: an event already known by `(institution, event_key)` (stored before, or earlier
/// in `events`) is not stored again — a duplicate when its digest is the same, a conflict when
/// not. Callers check events before (to report errors), so this only settles concurrent
/// re-sends and submissions grouped into one commit.
pub fn insert_counter_referrals<E: Borrow<NewCounterReferral>>(
    sql: &mut crate::sql::Db<'_>,
    events: &[E],
    answers: &AnswerMap,
    at: &str,
) -> Result<Vec<Outcome>> {
    let sql = sql.raw();
    if events.is_empty() {
        return Ok(Vec::new());
    }
    insert_counter_referrals_and(
        &mut crate::sql::Db::new(sql),
        events,
        answers,
        at,
        None,
        |_, outcomes| Ok(outcomes.to_vec()),
    )
}

/// [`insert_counter_referrals`], then `then` with the outcomes, in the same transaction and the
/// same durable commit (the server's writer appends the submissions' audit records there: one
/// disk sync for both). Nothing is committed if `then` fails. `known`: the writer's
/// fingerprints ([`KnownKeys`]), brought up to date with the ids stored, this call's included.
pub fn insert_counter_referrals_and<T, E: Borrow<NewCounterReferral>>(
    sql: &mut crate::sql::Db<'_>,
    events: &[E],
    answers: &AnswerMap,
    at: &str,
    known: Option<&mut KnownKeys>,
    then: impl FnOnce(&mut crate::sql::Db<'_>, &[Outcome]) -> Result<T>,
) -> Result<T> {
    let sql = sql.raw();
    let events: Vec<&NewCounterReferral> = events.iter().map(Borrow::borrow).collect();
    durable(sql, |sql| {
        let outcomes = store_counter_referrals(sql, &events, answers, at, known)?;
        then(&mut crate::sql::Db::new(sql), &outcomes)
    })
}

/// The writes of [`insert_counter_referrals`], inside the caller's transaction.
fn store_counter_referrals(
    sql: &mut dyn Sql,
    events: &[&NewCounterReferral],
    answers: &AnswerMap,
    at: &str,
    mut fingerprints: Option<&mut KnownKeys>,
) -> Result<Vec<Outcome>> {
    if events.is_empty() {
        return Ok(Vec::new());
    }
    lock(sql, ACCESS_LOCK)?;
    lock(sql, LOG_LOCK)?;
    let given = fingerprints.as_deref().map_or(0, |k| k.through);
    let (mut next, logged) = counter_referral_ids(sql, given)?;
    if logged {
        // Events the server's writer logged and has not applied yet: applied first (their ids
        // are lower), so that a re-send of one of them is recognised here. No applier is at
        // work meanwhile (they share the lock held here). The log is empty then, and the table
        // holds every id given (the log's newest row may not end with the largest: the
        // appliers of PostgreSQL apply side by side).
        apply_log_in(sql, answers, None, None)?;
        (next, _) = counter_referral_ids(sql, given)?;
    }
    if let Some(k) = fingerprints.as_deref_mut() {
        // Stored by someone else since the fingerprints were last brought up to date.
        k.catch_up(&mut crate::sql::Db::new(sql), next - 1)?;
    }
    let stored = stored_events(sql, events.iter().copied())?;
    let (mut outcomes, fresh) = settle(events, &stored, next);
    if let Some(k) = fingerprints {
        for (_, id, e) in &fresh {
            k.add(&e.institution, &e.event_key);
            k.through = k.through.max(*id);
        }
    }
    let rows: Vec<(i64, NewCounterReferral)> =
        fresh.iter().map(|(_, id, e)| (*id, (*e).clone())).collect();
    persons_exist(sql, &rows)?;
    let answered = apply_rows(sql, rows, answers, at, None)?;
    for ((i, _, _), answer) in fresh.iter().zip(answered) {
        if let Some(Outcome::Stored { referral, .. }) = outcomes.get_mut(*i) {
            *referral = answer;
        }
    }
    Ok(outcomes)
}

/// The (id, digest) of events already stored, by (institution, event key), for `events`.
fn stored_events<'a>(
    sql: &mut dyn Sql,
    events: impl Iterator<Item = &'a NewCounterReferral>,
) -> Result<HashMap<(String, String), (i64, String)>> {
    let mut by_inst: HashMap<&str, Vec<&str>> = HashMap::new();
    for e in events {
        by_inst
            .entry(e.institution.as_str())
            .or_default()
            .push(e.event_key.as_str());
    }
    let mut stored = HashMap::new();
    for (inst, keys) in by_inst {
        for (k, v) in known_events(&mut crate::sql::Db::new(sql), inst, &keys)? {
            stored.insert((inst.to_string(), k), v);
        }
    }
    Ok(stored)
}

/// Settles `events` against those `stored` before and each other, in order: a known
/// (institution, event key) is a duplicate when its digest is the same, a conflict when not;
/// every other event gets the next id from `next` (outcome `Stored` without a referral yet).
/// Returns the outcomes and the new events (index in `events`, id).
fn settle<'a>(
    events: &[&'a NewCounterReferral],
    stored: &HashMap<(String, String), (i64, String)>,
    next: i64,
) -> (Vec<Outcome>, Vec<(usize, i64, &'a NewCounterReferral)>) {
    // Fx: one insertion per event received, on the writer's thread.
    let mut seen: FxHashMap<(&str, &str), (i64, &str)> = stored
        .iter()
        .map(|((inst, key), (id, digest))| ((inst.as_str(), key.as_str()), (*id, digest.as_str())))
        .collect();
    let mut id = next;
    let mut outcomes = Vec::with_capacity(events.len());
    let mut fresh = Vec::new();
    seen.reserve(events.len());
    for (i, &e) in events.iter().enumerate() {
        let k = (e.institution.as_str(), e.event_key.as_str());
        match seen.get(&k) {
            Some((old, digest)) if *digest == e.digest => {
                outcomes.push(Outcome::Duplicate { id: *old })
            }
            Some(_) => outcomes.push(Outcome::Conflict),
            None => {
                seen.insert(k, (id, e.digest.as_str()));
                outcomes.push(Outcome::Stored { id, referral: None });
                fresh.push((i, id, e));
                id += 1;
            }
        }
    }
    (outcomes, fresh)
}

/// Stores counter-referrals that already have their ids (known to be new) and answers the open
/// (or expired) referrals they serve: the referrals of the person, its household or its
/// community for a service the event's code stands for; the first event to serve a referral
/// answers it. Returns the referral each row answered. Inside the caller's transaction. The
/// rows are taken: their texts move into the rows inserted, not copied.
///
/// The referrals are answered first, each only if still unanswered when locked
/// ([`mark_served`]): on PostgreSQL two appliers of the intake log may hold events for the same
/// referral at once, and the second to lock it finds it answered — its event is stored as
/// evidence without a referral.
fn apply_rows(
    sql: &mut dyn Sql,
    rows: Vec<(i64, NewCounterReferral)>,
    answers: &AnswerMap,
    at: &str,
    units: Option<&RwLock<ReferralUnits>>,
) -> Result<Vec<Option<i64>>> {
    let (mut answered, candidates) = {
        let held = units.map(|u| u.read().unwrap_or_else(PoisonError::into_inner));
        referrals_answered(sql, &rows, answers, held.as_deref())?
    };
    let updates = mark_served(sql, &candidates, at)?;
    if updates.len() < candidates.len() {
        // Each row names the first of its candidates still answered by it, if any.
        let kept: HashSet<i64> = updates.iter().map(|u| u.0).collect();
        let row_of: HashMap<i64, usize> = rows.iter().enumerate().map(|(i, r)| (r.0, i)).collect();
        answered.iter_mut().for_each(|slot| *slot = None);
        for (rid, _, cr) in &candidates {
            if kept.contains(rid) {
                if let Some(slot) = row_of.get(cr).and_then(|&i| answered.get_mut(i)) {
                    slot.get_or_insert(*rid);
                }
            }
        }
    }
    let mut values = Vec::with_capacity(rows.len());
    for ((id, e), answer) in rows.into_iter().zip(&answered) {
        values.push(vec![
            id.into(),
            e.institution.into(),
            e.event_key.into(),
            e.digest.into(),
            e.person.person_id.into(),
            e.service.into(),
            e.delivered_on.into(),
            e.place.into(),
            e.place_district.into(),
            (*answer).into(),
            e.channel.into(),
            at.into(),
            e.received_by.into(),
        ]);
    }
    insert_rows(
        sql,
        "counter_referrals",
        &[
            Col("id", false),
            Col("institution", false),
            Col("event_key", false),
            Col("digest", false),
            Col("person_id", false),
            Col("service", false),
            Col("delivered_on", true),
            Col("place", false),
            Col("place_district", false),
            Col("referral_id", false),
            Col("channel", false),
            Col("received_at", false),
            Col("received_by", false),
        ],
        &values,
    )?;
    let mut events_rows = Vec::with_capacity(updates.len());
    for (rid, from, cr) in &updates {
        events_rows.push(vec![
            (*rid).into(),
            at.into(),
            "contra-referencia".into(),
            from.as_str().into(),
            "atendida".into(),
            format!("contra-referencia {cr}").into(),
        ]);
    }
    insert_rows(sql, "referral_events", &EVENT_COLS, &events_rows)?;
    Ok(answered)
}

/// PostgreSQL: fails unless every row's person is in the registry — the check of the foreign
/// key that migration 0014 dropped, made for all of `rows` in one read that locks no row of
/// `persons` (the key's check locked each referenced person, a write per event). Persons are
/// never deleted, so no lock is needed to keep the answer true until the commit. SQLite keeps
/// its foreign key. Not made when the intake log is applied ([`apply_log_in`]): its events
/// name persons located in the registry when they were acknowledged, and the check — a probe
/// of the persons' index per event — cost the intake a large share of its end-to-end rate
/// (measured: BENCHMARKS.md, issue 5), as the foreign key's probe did on SQLite (switched off
/// there for the same reason, [`apply_logged_counter_referrals`]).
fn persons_exist(sql: &mut dyn Sql, rows: &[(i64, NewCounterReferral)]) -> Result<()> {
    if sql.dialect() != Backend::Postgres || rows.is_empty() {
        return Ok(());
    }
    let mut ids: Vec<i64> = rows.iter().map(|(_, e)| e.person.person_id).collect();
    ids.sort_unstable();
    ids.dedup();
    let missing = sql.query_opt(
        "SELECT u.id FROM UNNEST(CAST($1 AS BIGINT[])) AS u(id)
         WHERE NOT EXISTS (SELECT 1 FROM persons p WHERE p.id = u.id) LIMIT 1",
        &[Param::Ints(ids.into_iter().map(Some).collect())],
    )?;
    match missing.and_then(|r| r.int(0)) {
        Some(id) => Err(StoreError::Invalid(format!(
            "contra-referencia de la persona {id}, que no está en el registro: no se guarda"
        ))),
        None => Ok(()),
    }
}

/// For each row the referral it answers, and the updates to make: (referral, its status, the
/// counter-referral answering it).
type Answered = (Vec<Option<i64>>, Vec<(i64, String, i64)>);

/// The referrals `rows` answer (see [`apply_rows`]), looked up without writing.
fn referrals_answered(
    sql: &mut dyn Sql,
    rows: &[(i64, NewCounterReferral)],
    answers: &AnswerMap,
    units: Option<&ReferralUnits>,
) -> Result<Answered> {
    let mut wanted: HashMap<(&str, i64), Vec<(usize, &str)>> = HashMap::new();
    // The services of the previous event's (institution, code): a group's events mostly share
    // them, and the map's key is owned (a lookup builds it).
    let mut last: Option<(&str, &str, Option<&AnsweredServices>)> = None;
    for (f, (_, e)) in rows.iter().enumerate() {
        let services = match last {
            Some((i, c, found)) if i == e.institution && c == e.service => found,
            _ => {
                let found = answers.get(&(e.institution.clone(), e.service.clone()));
                last = Some((&e.institution, &e.service, found));
                found
            }
        };
        let Some(services) = services else {
            continue;
        };
        for (s, kind) in services {
            let unit = match *kind {
                "hogar" => e.person.household_id,
                "comunidad" => e.person.community_id,
                _ => e.person.person_id,
            };
            // No referral of this unit for this service was ever made: nothing to look up.
            if units.is_some_and(|u| !u.may_have(kind, unit, s)) {
                continue;
            }
            wanted
                .entry((kind, unit))
                .or_default()
                .push((f, s.as_str()));
        }
    }
    let mut answered: Vec<Option<i64>> = vec![None; rows.len()];
    // (referral, its status, the counter-referral answering it)
    let mut updates: Vec<(i64, String, i64)> = Vec::new();
    let mut taken: HashSet<i64> = HashSet::new();
    for kind in ["persona", "hogar", "comunidad"] {
        let mut ids: Vec<i64> = wanted
            .keys()
            .filter(|(k, _)| *k == kind)
            .map(|(_, u)| *u)
            .collect();
        ids.sort_unstable();
        for chunk in ids.chunks(500) {
            let mut params: Vec<Param> = vec![kind.into()];
            let filter = crate::sql::in_ints(sql.dialect(), "unit_id", chunk, &mut params);
            for r in sql.query(
                &format!(
                    "SELECT id, unit_id, service, status FROM referrals
                     WHERE unit_kind = $1 AND {filter} AND status IN {ANSWERABLE_SQL}"
                ),
                &params,
            )? {
                let (rid, unit, service, status) = (
                    r.int(0).unwrap_or_default(),
                    r.int(1).unwrap_or_default(),
                    r.text(2),
                    r.text(3),
                );
                let Some(list) = wanted.get(&(kind, unit)) else {
                    continue;
                };
                if let Some((f, _)) = list.iter().find(|(_, s)| *s == service) {
                    if taken.insert(rid) {
                        updates.push((rid, status, rows.get(*f).map_or(0, |x| x.0)));
                        if let Some(slot) = answered.get_mut(*f) {
                            slot.get_or_insert(rid);
                        }
                    }
                }
            }
        }
    }
    Ok((answered, updates))
}

/// The id the next counter-referral gets (after every stored one and every logged one), and
/// whether the intake log holds events. Under [`LOG_LOCK`]. `given`: the largest id the caller
/// knows to have been given (the server writer's [`KnownKeys::through`]; 0 when it knows none).
///
/// While the log holds events, ids are given only under that lock by the writer's log commits
/// (every other writer of counter-referrals applies the whole log first), so the largest id
/// given is the newest log row's last or, once a newer row was applied before an older one (the
/// appliers of PostgreSQL work side by side), one the writer gave and knows: the table is read
/// only when the log is empty. Reading it under load cost the writer's log commits dearly on
/// PostgreSQL: the appliers' uncommitted rows, up to a whole application's each, sit at the end
/// of the table's index, and its last visible id is found past all of them.
fn counter_referral_ids(sql: &mut dyn Sql, given: i64) -> Result<(i64, bool)> {
    let logged = sql
        .query_opt(
            "SELECT last_id FROM counter_referral_log ORDER BY id DESC LIMIT 1",
            &[],
        )?
        .and_then(|r| r.int(0));
    if let Some(last) = logged {
        return Ok((last.max(given) + 1, true));
    }
    let table = sql
        .query_opt("SELECT MAX(id) FROM counter_referrals", &[])?
        .and_then(|r| r.int(0));
    Ok((table.unwrap_or(0).max(given) + 1, false))
}

/// How many acknowledged counter-referrals wait in the intake log to be applied.
pub fn logged_counter_referrals(sql: &mut crate::sql::Db<'_>) -> Result<i64> {
    let sql = sql.raw();
    Ok(sql
        .query_opt(
            "SELECT CAST(COALESCE(SUM(events), 0) AS BIGINT) FROM counter_referral_log",
            &[],
        )?
        .and_then(|r| r.int(0))
        .unwrap_or(0))
}

/// Applies the oldest rows of the intake log (see [`log_counter_referrals_and`]), in id order,
/// each deleted as it is applied: until about `max_events` events (at least one row), or all
/// of them with `None`. Inside the caller's transaction (which holds [`ACCESS_LOCK`], shared or
/// not). Returns the number of events applied.
///
/// On PostgreSQL each row is claimed with `FOR UPDATE SKIP LOCKED`: the server's appliers
/// work side by side, each on rows the others have not claimed (a row claimed stays in the
/// log, for every other reader, until its applier commits).
fn apply_log_in(
    sql: &mut dyn Sql,
    answers: &AnswerMap,
    max_events: Option<usize>,
    units: Option<&RwLock<ReferralUnits>>,
) -> Result<usize> {
    let claim = match sql.dialect() {
        Backend::Postgres => {
            "SELECT id, received_at, payload FROM counter_referral_log ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED"
        }
        Backend::Sqlite => "SELECT id, received_at, payload FROM counter_referral_log ORDER BY id LIMIT 1",
    };
    let mut applied = 0;
    while max_events.is_none_or(|m| applied < m) {
        let Some(r) = sql.query_opt(claim, &[])? else {
            break;
        };
        let (id, at, payload) = (r.int(0).unwrap_or_default(), r.text(1), r.text(2));
        let rows = intake_log::decode(&payload, id)?;
        drop(payload);
        let n = rows.len();
        apply_rows(sql, rows, answers, &at, units)?;
        sql.execute(
            "DELETE FROM counter_referral_log WHERE id = $1",
            &[id.into()],
        )?;
        applied += n;
    }
    Ok(applied)
}

/// What one application of the intake log did ([`apply_logged_counter_referrals`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// This many events became counter-referrals (at least one).
    Events(usize),
    /// The log was empty.
    Empty,
    /// The log holds rows, every one claimed by another applier (PostgreSQL).
    Claimed,
}

/// Applies the oldest rows of the intake log, up to about `max_events` events (at least one
/// row), in one transaction: the events become counter-referrals, answer their referrals, and
/// leave the log. The commit need not reach the disk at once (SQLite `NORMAL`, PostgreSQL
/// `synchronous_commit = off`): the events are durable in the log already, and a transaction
/// lost in a crash leaves its rows in the log, applied again afterwards.
///
/// On PostgreSQL under [`ACCESS_LOCK`] in shared mode: several appliers run at once, each on
/// rows of its own ([`apply_log_in`]), answering referrals only when still unanswered
/// ([`mark_served`]); every other writer of referral answers (a referral generation, a store at
/// once, a command-line import, the expiry of overdue referrals) takes the lock alone and waits
/// for them. Their commits need not follow the ids: [`last_counter_referral`] reads only as far as
/// the first id still in the log.
///
/// On SQLite the transaction runs without the foreign-key probe of `persons` (switched off for
/// it and on again after, on this connection only): every logged event names a person located
/// in the registry when it was acknowledged, and persons are never deleted, so the probe — one
/// random page of a multi-gigabyte table per event — could not fail, and it cost a large share
/// of the application at national scale (measured: BENCHMARKS.md, issue 5).
///
/// `units`: the caller's [`ReferralUnits`] (shared by the appliers), brought up to date here
/// (under the lock) and used to skip the lookup of referrals that cannot exist.
pub fn apply_logged_counter_referrals(
    sql: &mut crate::sql::Db<'_>,
    answers: &AnswerMap,
    max_events: usize,
    units: Option<&RwLock<ReferralUnits>>,
) -> Result<Applied> {
    let sql = sql.raw();
    let sqlite = sql.dialect() == Backend::Sqlite;
    if sqlite {
        sql.batch("PRAGMA foreign_keys = OFF")?;
    }
    let applied = in_tx(sql, |sql| {
        lock_shared(sql, ACCESS_LOCK)?;
        if !sqlite {
            sql.batch("SET LOCAL synchronous_commit = off")?;
        }
        if let Some(u) = units {
            u.write()
                .unwrap_or_else(PoisonError::into_inner)
                .catch_up(&mut crate::sql::Db::new(sql))?;
        }
        let n = apply_log_in(sql, answers, Some(max_events.max(1)), units)?;
        if n > 0 {
            return Ok(Applied::Events(n));
        }
        // Nothing claimed: empty, or (PostgreSQL) every row taken by another applier (still in
        // the log for this transaction until that one commits).
        let left = !sqlite
            && sql
                .query_opt("SELECT id FROM counter_referral_log LIMIT 1", &[])?
                .is_some();
        Ok(if left {
            Applied::Claimed
        } else {
            Applied::Empty
        })
    });
    if sqlite {
        sql.batch("PRAGMA foreign_keys = ON")?;
    }
    applied
}

/// The referrals a counter-referral could answer, held by the server's writer as 64-bit
/// fingerprints of (unit kind, unit, service): one per referral of a service that some event
/// code answers ([`AnswerMap`]), whatever its status. A triple not among them certainly has no
/// referral, so applying an event for it needs no lookup in `referrals` — the case of most
/// events when an institution reports every service it delivered, not only those it was
/// referred (active search); a triple found is looked up as before (status, id).
///
/// Referrals are never deleted and are created under the same lock (`ACCESS_LOCK`) with ids in
/// increasing order: those created after the fingerprints were read (a referral generation, by
/// any process) are read by [`ReferralUnits::catch_up`] under that lock, before each
/// application.
///
/// Those read at start-up are kept sorted in a vector (8 bytes each: 61 MB for the national
/// bench's 7.7 million, where a hash set would take about 150 MB) with a prefix index, those
/// caught up later in a hash set.
#[derive(Debug, Default)]
pub struct ReferralUnits {
    sorted: Vec<u64>,
    /// Where the fingerprints starting with each `bits`-bit prefix begin in `sorted` (one
    /// entry more at the end): a lookup reads one slot and a few neighbours, not the ~23
    /// scattered ones of a binary search over the whole vector.
    starts: Vec<u32>,
    bits: u32,
    recent: FxHashSet<u64>,
    services: HashSet<String>,
    through: i64,
}

/// The first `bits` bits of a fingerprint (0 when `bits` is 0).
fn fingerprint_prefix(f: u64, bits: u32) -> u64 {
    f.checked_shr(64 - bits).unwrap_or(0)
}

fn unit_fingerprint(kind: &str, unit: i64, service: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    kind.hash(&mut h);
    unit.hash(&mut h);
    service.hash(&mut h);
    h.finish()
}

impl ReferralUnits {
    /// Reads every referral of a service that an event code of `answers` answers, in pages.
    pub fn load(sql: &mut crate::sql::Db<'_>, answers: &AnswerMap) -> Result<ReferralUnits> {
        let sql = sql.raw();
        let mut u = ReferralUnits {
            services: answers
                .values()
                .flat_map(|list| list.iter().map(|(s, _)| s.clone()))
                .collect(),
            ..ReferralUnits::default()
        };
        let (all, _) = u.read_new(sql)?;
        u.set_sorted(all);
        Ok(u)
    }

    /// Holds `all` sorted, with the start of each prefix (4 to 8 fingerprints per prefix).
    fn set_sorted(&mut self, mut all: Vec<u64>) {
        all.sort_unstable();
        all.dedup();
        all.shrink_to_fit();
        // Fingerprints fit in u32 positions up to 4 billion referrals; beyond, the prefix
        // index is left out and the whole vector searched.
        let bits = (all.len() / 4).max(1).ilog2().min(28);
        let mut starts = Vec::new();
        if u32::try_from(all.len()).is_ok() {
            starts.reserve_exact((1 << bits) + 1);
            let mut at = 0usize;
            for prefix in 0..(1u64 << bits) {
                while all
                    .get(at)
                    .is_some_and(|f| fingerprint_prefix(*f, bits) < prefix)
                {
                    at += 1;
                }
                starts.push(at as u32);
            }
            starts.push(all.len() as u32);
        }
        self.sorted = all;
        self.starts = starts;
        self.bits = bits;
    }

    /// Holds the referrals created since the last reading (all of them again if the table's
    /// last id went back: referrals deleted by hand).
    pub fn catch_up(&mut self, sql: &mut crate::sql::Db<'_>) -> Result<()> {
        let sql = sql.raw();
        let (new, reread) = self.read_new(sql)?;
        if reread {
            self.set_sorted(Vec::new());
            self.recent.clear();
        }
        self.recent.extend(new);
        Ok(())
    }

    /// The fingerprints of the referrals of an answered service created after
    /// [`ReferralUnits::through`] — of all of them, and `true`, when the table's last id went
    /// back.
    fn read_new(&mut self, sql: &mut dyn Sql) -> Result<(Vec<u64>, bool)> {
        let mut new = Vec::new();
        let last = sql
            .query_opt(
                "SELECT CAST(COALESCE(MAX(id), 0) AS BIGINT) FROM referrals",
                &[],
            )?
            .and_then(|r| r.int(0))
            .unwrap_or(0);
        let reread = last < self.through;
        if reread {
            self.through = 0;
        }
        while self.through < last {
            let rows = sql.query(
                "SELECT id, unit_kind, unit_id, service FROM referrals WHERE id > $1 AND id <= $2 ORDER BY id LIMIT 100000",
                &[self.through.into(), last.into()],
            )?;
            for r in &rows {
                let service = r.text(3);
                if self.services.contains(&service) {
                    new.push(unit_fingerprint(
                        &r.text(1),
                        r.int(2).unwrap_or_default(),
                        &service,
                    ));
                }
                self.through = r.int(0).unwrap_or(self.through);
            }
            if rows.len() < 100_000 {
                self.through = last;
            }
        }
        Ok((new, reread))
    }

    /// Whether the unit may have a referral for the service (certainly not when `false`).
    pub fn may_have(&self, kind: &str, unit: i64, service: &str) -> bool {
        let f = unit_fingerprint(kind, unit, service);
        let prefix = fingerprint_prefix(f, self.bits) as usize;
        let held = match (self.starts.get(prefix), self.starts.get(prefix + 1)) {
            (Some(&a), Some(&b)) => self
                .sorted
                .get(a as usize..b as usize)
                .is_some_and(|s| s.contains(&f)),
            _ => self.sorted.binary_search(&f).is_ok(),
        };
        held || self.recent.contains(&f)
    }

    /// How many (unit, service) pairs are held (a pair referred again after start-up may
    /// count twice).
    pub fn len(&self) -> usize {
        self.sorted.len() + self.recent.len()
    }

    /// Whether none is held.
    pub fn is_empty(&self) -> bool {
        self.sorted.is_empty() && self.recent.is_empty()
    }
}

/// The (institution, event id) pairs of every counter-referral stored or logged, held by the
/// server's writer as 64-bit fingerprints: a pair not among them is certainly new, so a group
/// of events needs no read of the database to be told apart from what was received before
/// (only a fingerprint found — a re-send, or rarely two pairs sharing one — is looked up).
/// `through`: every id up to it is held; ids after it, stored by another process (a command-line
/// import), are read by [`KnownKeys::catch_up`].
#[derive(Debug, Default)]
pub struct KnownKeys {
    /// Fx: the fingerprints are hashes already (SipHash), one multiplication spreads them.
    set: FxHashSet<u64>,
    through: i64,
}

fn fingerprint(institution: &str, key: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    institution.hash(&mut h);
    key.hash(&mut h);
    h.finish()
}

impl KnownKeys {
    /// Reads every pair logged or stored (the log first: a row applied meanwhile is then read
    /// from the table), in pages.
    pub fn load(sql: &mut crate::sql::Db<'_>) -> Result<KnownKeys> {
        let sql = sql.raw();
        let mut k = KnownKeys::default();
        let logged = sql.query(
            "SELECT last_id, payload FROM counter_referral_log ORDER BY id",
            &[],
        )?;
        for r in &logged {
            let rows = intake_log::decode(&r.text(1), r.int(0).unwrap_or_default())?;
            for (_, e) in &rows {
                k.add(&e.institution, &e.event_key);
            }
            k.through = k.through.max(r.int(0).unwrap_or_default());
        }
        let table_through = k.read_after(sql, 0, i64::MAX)?;
        k.through = k.through.max(table_through);
        Ok(k)
    }

    /// Reads the pairs stored with ids in `(after, upto]`; returns the last id read (`after`
    /// when none).
    fn read_after(&mut self, sql: &mut dyn Sql, mut after: i64, upto: i64) -> Result<i64> {
        loop {
            let rows = sql.query(
                "SELECT id, institution, event_key FROM counter_referrals WHERE id > $1 AND id <= $2 ORDER BY id LIMIT 100000",
                &[after.into(), upto.into()],
            )?;
            for r in &rows {
                self.add(&r.text(1), &r.text(2));
                after = r.int(0).unwrap_or(after);
            }
            if rows.len() < 100_000 {
                return Ok(after);
            }
        }
    }

    /// Holds the pairs of every id up to `upto` (the last id assigned, read under the lock):
    /// those after [`KnownKeys::through`] were stored by someone else.
    pub fn catch_up(&mut self, sql: &mut crate::sql::Db<'_>, upto: i64) -> Result<()> {
        let sql = sql.raw();
        if upto > self.through {
            self.read_after(sql, self.through, upto)?;
            self.through = upto;
        }
        Ok(())
    }

    /// Holds one more pair.
    pub fn add(&mut self, institution: &str, key: &str) {
        self.hold(institution, key);
    }

    /// Holds one more pair; `true` when it was certainly not held before (not received).
    pub fn hold(&mut self, institution: &str, key: &str) -> bool {
        self.set.insert(fingerprint(institution, key))
    }

    /// Whether the pair may have been received (certainly not when `false`).
    pub fn may_contain(&self, institution: &str, key: &str) -> bool {
        self.set.contains(&fingerprint(institution, key))
    }

    /// How many pairs are held.
    pub fn len(&self) -> usize {
        self.set.len()
    }

    /// Whether none is held.
    pub fn is_empty(&self) -> bool {
        self.set.is_empty()
    }
}

/// What [`log_counter_referrals_and`] did besides its outcomes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Logged {
    /// Events appended to the log.
    pub logged: usize,
}

/// The server writer's way of storing a group of counter-referrals under load: the new events
/// get their ids and are appended to the intake log as one row, with `then`'s writes (the audit
/// records), in one transaction with one durable commit — without reading the database per
/// event: `known` tells new events apart, and only a fingerprint found sends the group's
/// doubtful events to be looked up, in the log and then in the table ([`received_events`]).
/// Outcomes as [`insert_counter_referrals`]'s, with [`Outcome::Logged`] for the events
/// appended. The log is applied later by [`apply_logged_counter_referrals`] (and first by every
/// other write of counter-referrals). Takes [`LOG_LOCK`] only: an application of the log on
/// another connection goes on meanwhile (PostgreSQL).
///
/// `encoded`: `events` in consecutive runs (one per submission), each with its events' lines
/// of the log payload when made ahead ([`intake_log::push_events`], on the thread that
/// checked them): a run whose events are all new is written as given, the others are encoded
/// here. Runs that do not add up to `events` are ignored.
pub fn log_counter_referrals_and<T, E: Borrow<NewCounterReferral>>(
    sql: &mut crate::sql::Db<'_>,
    events: &[E],
    encoded: &[(usize, Option<&str>)],
    at: &str,
    known: &mut KnownKeys,
    then: impl FnOnce(&mut crate::sql::Db<'_>, &[Outcome]) -> Result<T>,
) -> Result<(T, Logged)> {
    let sql = sql.raw();
    let events: Vec<&NewCounterReferral> = events.iter().map(Borrow::borrow).collect();
    durable(sql, |sql| {
        lock(sql, LOG_LOCK)?;
        let (next, _) = counter_referral_ids(sql, known.through)?;
        known.catch_up(&mut crate::sql::Db::new(sql), next - 1)?;
        let mut report = Logged::default();
        // Held from now on (one probe per event): an event whose pair was held already may
        // have been received, and is looked up (as is the second of two submissions of one
        // group naming the same event — a concurrent re-send).
        let doubtful: Vec<&NewCounterReferral> = events
            .iter()
            .copied()
            .filter(|e| !known.hold(&e.institution, &e.event_key))
            .collect();
        let stored = if doubtful.is_empty() {
            HashMap::new()
        } else {
            received_events(sql, &doubtful)?
        };
        let (mut outcomes, fresh) = settle(&events, &stored, next);
        let mut rows: Vec<(i64, &NewCounterReferral)> = Vec::with_capacity(fresh.len());
        for (i, id, e) in fresh {
            if let Some(o) = outcomes.get_mut(i) {
                *o = Outcome::Logged { id };
            }
            rows.push((id, e));
            known.through = known.through.max(id);
        }
        if let (Some(first), Some(last)) = (rows.first(), rows.last()) {
            let payload = log_payload(&events, &outcomes, encoded, first.0, rows.len());
            sql.execute(
                "INSERT INTO counter_referral_log (id, last_id, events, received_at, payload) VALUES ($1, $2, $3, $4, $5)",
                &[first.0.into(), last.0.into(), (rows.len() as i64).into(), at.into(), payload.into()],
            )?;
            report.logged = rows.len();
        }
        Ok((then(&mut crate::sql::Db::new(sql), &outcomes)?, report))
    })
}

/// Log rows read at a time by [`received_events`] (a row holds one group, up to 50,000 events).
const LOG_PAGE_ROWS: i64 = 16;

/// The (id, digest) of those of `events` received before, by (institution, event key): in the
/// intake log first, then in the table — under [`LOG_LOCK`] nothing is added to the log
/// meanwhile, and an application of the log committed between the two reads (on another
/// connection) has moved its events to the table, where the second read finds them. The log is
/// read in pages and decoded: a re-send is rare, and reading the log costs far less than
/// applying it to look in the table alone (what earlier versions did, holding the writer a
/// whole application of up to 2,000,000 events).
fn received_events(
    sql: &mut dyn Sql,
    events: &[&NewCounterReferral],
) -> Result<HashMap<(String, String), (i64, String)>> {
    let wanted: HashSet<(&str, &str)> = events
        .iter()
        .map(|e| (e.institution.as_str(), e.event_key.as_str()))
        .collect();
    let mut found = HashMap::new();
    let mut after = i64::MIN;
    loop {
        let page = sql.query(
            "SELECT id, payload FROM counter_referral_log WHERE id > $1 ORDER BY id LIMIT $2",
            &[after.into(), LOG_PAGE_ROWS.into()],
        )?;
        for r in &page {
            let id = r.int(0).unwrap_or_default();
            after = id;
            for (cr, e) in intake_log::decode(&r.text(1), id)? {
                if wanted.contains(&(e.institution.as_str(), e.event_key.as_str())) {
                    found.insert((e.institution, e.event_key), (cr, e.digest));
                }
            }
        }
        if (page.len() as i64) < LOG_PAGE_ROWS {
            break;
        }
    }
    found.extend(stored_events(sql, events.iter().copied())?);
    Ok(found)
}

/// The intake log payload of the events `outcomes` shows logged (ids consecutive from
/// `first`, `count` of them): each run of `encoded` all of whose events are logged as given,
/// the logged events of the others encoded here (see [`log_counter_referrals_and`]).
fn log_payload(
    events: &[&NewCounterReferral],
    outcomes: &[Outcome],
    encoded: &[(usize, Option<&str>)],
    first: i64,
    count: usize,
) -> String {
    let whole = [(events.len(), None)];
    let runs = if encoded.iter().map(|r| r.0).sum::<usize>() == events.len() {
        encoded
    } else {
        &whole[..]
    };
    let mut out = String::with_capacity(
        32 + runs
            .iter()
            .map(|r| r.1.map_or(r.0 * 128, str::len))
            .sum::<usize>(),
    );
    intake_log::push_header(&mut out, first, count);
    let mut start = 0;
    for &(n, text) in runs {
        let (run_events, run_outcomes) = (
            events.get(start..start + n).unwrap_or_default(),
            outcomes.get(start..start + n).unwrap_or_default(),
        );
        start += n;
        let logged = |o: &Outcome| matches!(o, Outcome::Logged { .. });
        match text {
            Some(t) if run_outcomes.iter().all(logged) => out.push_str(t),
            _ => intake_log::push_events(
                &mut out,
                run_events
                    .iter()
                    .zip(run_outcomes)
                    .filter(|(_, o)| logged(o))
                    .map(|(e, _)| *e),
            ),
        }
    }
    out
}

/// Runs `f` in a transaction whose commit reaches the disk before it returns: SQLite syncs it
/// (`FULL`; the connection's default, `NORMAL`, survives a crash of the process only);
/// PostgreSQL commits durably by default (`synchronous_commit = on`).
fn durable<T>(sql: &mut dyn Sql, f: impl FnOnce(&mut dyn Sql) -> Result<T>) -> Result<T> {
    let sqlite = sql.dialect() == Backend::Sqlite;
    if sqlite {
        sql.batch("PRAGMA synchronous = FULL")?;
    }
    let out = in_tx(sql, f);
    if sqlite {
        sql.batch("PRAGMA synchronous = NORMAL")?;
    }
    out
}

/// Marks referrals served: `(referral, its status, the counter-referral answering it)`, each
/// only if still unanswered (open or expired); returns those marked, with the status they had.
/// On PostgreSQL one statement over arrays (one round trip for the whole group); on SQLite one
/// prepared statement per referral (no round trips in-process).
fn mark_served(
    sql: &mut dyn Sql,
    candidates: &[(i64, String, i64)],
    at: &str,
) -> Result<Vec<(i64, String, i64)>> {
    if candidates.is_empty() {
        return Ok(Vec::new());
    }
    if sql.dialect() == Backend::Postgres {
        // Locked in id order (two appliers never wait for each other in a cycle), and each
        // taken only if, once locked, it is still unanswered: another applier's committed
        // answer is seen after the wait (READ COMMITTED re-reads a row it waited for).
        let rows = sql.query(
            &format!(
                "WITH s AS (
                   SELECT id, status FROM referrals
                   WHERE id = ANY(CAST($2 AS BIGINT[])) AND status IN {ANSWERABLE_SQL}
                   ORDER BY id FOR UPDATE
                 )
                 UPDATE referrals r SET status = 'atendida', closed_at = $1, updated_at = $1, counter_referral_id = u.cr
                 FROM s, UNNEST(CAST($2 AS BIGINT[]), CAST($3 AS BIGINT[])) AS u(id, cr)
                 WHERE r.id = s.id AND u.id = s.id
                 RETURNING r.id, s.status, u.cr"
            ),
            &[
                at.into(),
                Param::Ints(candidates.iter().map(|u| Some(u.0)).collect()),
                Param::Ints(candidates.iter().map(|u| Some(u.2)).collect()),
            ],
        )?;
        let mut done: Vec<(i64, String, i64)> = rows
            .iter()
            .map(|r| {
                (
                    r.int(0).unwrap_or_default(),
                    r.text(1),
                    r.int(2).unwrap_or_default(),
                )
            })
            .collect();
        done.sort_unstable_by_key(|u| u.0);
        return Ok(done);
    }
    // SQLite: one writer at a time, so the status read before holds (checked all the same).
    let mut done = Vec::with_capacity(candidates.len());
    for (rid, from, cr) in candidates {
        let n = sql.execute(
            &format!(
                "UPDATE referrals SET status = 'atendida', closed_at = $1, updated_at = $1, counter_referral_id = $2
                 WHERE id = $3 AND status IN {ANSWERABLE_SQL}"
            ),
            &[at.into(), (*cr).into(), (*rid).into()],
        )?;
        if n > 0 {
            done.push((*rid, from.clone(), *cr));
        }
    }
    Ok(done)
}

/// A stored counter-referral.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CounterReferral {
    pub id: i64,
    pub institution: String,
    pub event_key: String,
    pub person_id: i64,
    pub service: String,
    pub delivered_on: String,
    pub place: Option<String>,
    pub place_district: Option<i64>,
    pub referral_id: Option<i64>,
    pub channel: String,
    pub received_at: String,
    pub received_by: String,
}

/// Counter-referrals of a person, newest delivery first.
pub fn counter_referrals_of(
    sql: &mut crate::sql::Db<'_>,
    person_id: vamos_domain::PersonId,
) -> Result<Vec<CounterReferral>> {
    let sql = sql.raw();
    Ok(sql
        .query(
            "SELECT id, institution, event_key, person_id, service, CAST(delivered_on AS TEXT), place, place_district, referral_id, channel, received_at, received_by
             FROM counter_referrals WHERE person_id = $1 ORDER BY delivered_on DESC, id DESC",
            &[person_id.into()],
        )?
        .iter()
        .map(|r| CounterReferral {
            id: r.int(0).unwrap_or_default(),
            institution: r.text(1),
            event_key: r.text(2),
            person_id: r.int(3).unwrap_or_default(),
            service: r.text(4),
            delivered_on: r.text(5),
            place: r.string(6),
            place_district: r.int(7),
            referral_id: r.int(8),
            channel: r.text(9),
            received_at: r.text(10),
            received_by: r.text(11),
        })
        .collect())
}

/// The last counter-referral id up to which every one is stored and visible (0 when none):
/// the largest id stored, but short of the first id still in the intake log. On PostgreSQL
/// the server's appliers commit side by side, not in id order ([`apply_logged_counter_referrals`]):
/// a larger id may be stored while a smaller one is still being applied, and a reader going by
/// the largest id alone (the Logros updater's watermark) would pass over the smaller for good.
///
/// The largest id is read first, the log after: a row being applied stays in the log until
/// its applier commits, and a row logged later holds larger ids than any stored before it, so
/// every id up to the value returned was visible when the log was read.
pub fn last_counter_referral(sql: &mut crate::sql::Db<'_>) -> Result<i64> {
    let sql = sql.raw();
    let stored = sql
        .query_opt("SELECT COALESCE(MAX(id), 0) FROM counter_referrals", &[])?
        .and_then(|r| r.int(0))
        .unwrap_or(0);
    let first_logged = sql
        .query_opt("SELECT MIN(id) FROM counter_referral_log", &[])?
        .and_then(|r| r.int(0));
    Ok(match first_logged {
        Some(first) => stored.min(first - 1),
        None => stored,
    })
}

/// The registry's state: the last import recorded, as [`crate::Store::begin_read`] reports it
/// (persons, households, communities and administrative records change only by imports).
pub fn registry_state(sql: &mut crate::sql::Db<'_>) -> Result<i64> {
    let sql = sql.raw();
    Ok(sql
        .query_opt(
            "SELECT CAST(COALESCE(MAX(id), 0) AS BIGINT) FROM imports",
            &[],
        )?
        .and_then(|r| r.int(0))
        .unwrap_or(0))
}

/// A counter-referral received after a measurement's last update, as the Logros updater needs
/// it: where its person lives and the event as the registry load gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedEvent {
    pub person_id: i64,
    pub community_id: i64,
    pub district_code: i64,
    /// The institution that reported it, as a counter-referral source.
    pub source: vamos_domain::EvidenceSource,
    pub service: String,
    pub delivered_on: chrono::NaiveDate,
}

/// The counter-referrals after `after` up to `through`, with where their persons live (found
/// in `places` when given, else joined in the database).
pub fn counter_referral_events(
    sql: &mut crate::sql::Db<'_>,
    after: i64,
    through: i64,
    places: Option<&places::PersonPlaces>,
) -> Result<Vec<ReceivedEvent>> {
    let sql = sql.raw();
    let event = |person: &PersonPlace, r: &Row, first: usize| {
        let day = r.text(first + 2);
        Ok(ReceivedEvent {
            person_id: person.person_id,
            community_id: person.community_id,
            district_code: person.district_code,
            source: vamos_domain::EvidenceSource::CounterReferral(r.text(first)),
            service: r.text(first + 1),
            delivered_on: iso_day(&day)
                .ok_or_else(|| StoreError::Invalid(format!("fecha de entrega ilegible: {day}")))?,
        })
    };
    // With the persons' places in memory, only the events are read (a range of the primary
    // key): joining each to its person and household was a random read of both tables per
    // event, a large share of a busy server's time (measured: BENCHMARKS.md, issue 5).
    if let Some(places) = places {
        let rows = sql.query(
            "SELECT person_id, institution, service, CAST(delivered_on AS TEXT)
             FROM counter_referrals WHERE id > $1 AND id <= $2",
            &[after.into(), through.into()],
        )?;
        let mut ids: Vec<i64> = rows.iter().filter_map(|r| r.int(0)).collect();
        ids.sort_unstable();
        ids.dedup();
        let (found, _) = places.locate(&mut crate::sql::Db::new(sql), &ids, &[])?;
        return rows
            .iter()
            .filter_map(|r| found.get(&r.int(0)?).map(|p| event(p, r, 1)))
            .collect();
    }
    sql.query(
        "SELECT c.person_id, h.community_id, h.district_code, c.institution, c.service, CAST(c.delivered_on AS TEXT)
         FROM counter_referrals c JOIN persons p ON p.id = c.person_id JOIN households h ON h.id = p.household_id
         WHERE c.id > $1 AND c.id <= $2",
        &[after.into(), through.into()],
    )?
    .iter()
    .map(|r| {
        let person = PersonPlace {
            person_id: r.int(0).unwrap_or_default(),
            household_id: 0,
            community_id: r.int(1).unwrap_or_default(),
            district_code: r.int(2).unwrap_or_default(),
        };
        event(&person, r, 3)
    })
    .collect()
}

/// The day of an ISO date (`AAAA-MM-DD`, anything after the day ignored), read without a
/// format string (the Logros updater reads one per event received).
fn iso_day(s: &str) -> Option<chrono::NaiveDate> {
    let b = s.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        b.get(r)?.iter().try_fold(0u32, |n, d| {
            d.is_ascii_digit().then(|| n * 10 + u32::from(d - b'0'))
        })
    };
    if b.get(4) != Some(&b'-')
        || b.get(7) != Some(&b'-')
        || b.get(10).is_some_and(u8::is_ascii_digit)
    {
        return None;
    }
    chrono::NaiveDate::from_ymd_opt(i32::try_from(num(0..4)?).ok()?, num(5..7)?, num(8..10)?)
}

/// Stores a measurement's updated district Logros and the counter-referral watermark, in one
/// transaction, if nobody moved the watermark meanwhile (`Ok(false)` then).
///
/// Updaters are kept apart by the measurement's row (PostgreSQL `FOR UPDATE`: a second updater
/// waits for the first to commit, then finds the watermark moved; SQLite admits one writer),
/// not by [`ACCESS_LOCK`]: saving figures answers no referral, and holding that lock alone
/// through the save — a statement per district, hundreds after a stream of single events from
/// the whole country — held up every store made at once and every applier meanwhile, which
/// slowed PostgreSQL's single events badly (measured: BENCHMARKS.md, issue 5). The
/// districts are written with one upsert (PostgreSQL: one statement over arrays).
pub fn save_progress(
    sql: &mut crate::sql::Db<'_>,
    measurement_id: i64,
    expected: i64,
    applied_through: i64,
    districts: &[(i64, String)],
    at: &str,
) -> Result<bool> {
    let sql = sql.raw();
    in_tx(sql, |sql| {
        let current = sql
            .query_opt(
                match sql.dialect() {
                    Backend::Postgres => {
                        "SELECT cr_applied_id FROM measurements WHERE id = $1 FOR UPDATE"
                    }
                    Backend::Sqlite => "SELECT cr_applied_id FROM measurements WHERE id = $1",
                },
                &[measurement_id.into()],
            )?
            .and_then(|r| r.int(0))
            .unwrap_or(0);
        if current != expected {
            return Ok(false);
        }
        let upsert =
            "ON CONFLICT (measurement_id, district_code) DO UPDATE SET logros = excluded.logros";
        match sql.dialect() {
            Backend::Postgres if !districts.is_empty() => {
                sql.execute(
                    &format!(
                        "INSERT INTO measurement_districts (measurement_id, district_code, logros)
                         SELECT $1, u.d, u.j FROM UNNEST(CAST($2 AS BIGINT[]), CAST($3 AS TEXT[])) AS u(d, j) {upsert}"
                    ),
                    &[
                        measurement_id.into(),
                        Param::Ints(districts.iter().map(|(d, _)| Some(*d)).collect()),
                        Param::Texts(districts.iter().map(|(_, j)| Some(j.clone())).collect()),
                    ],
                )?;
            }
            Backend::Postgres => {}
            Backend::Sqlite => {
                let rows: Vec<Vec<Param>> = districts
                    .iter()
                    .map(|(d, j)| vec![measurement_id.into(), (*d).into(), j.as_str().into()])
                    .collect();
                sql.execute_many(
                    &format!(
                        "INSERT INTO measurement_districts (measurement_id, district_code, logros)
                         VALUES ($1, $2, $3) {upsert}"
                    ),
                    &rows,
                )?;
            }
        }
        sql.execute(
            "UPDATE measurements SET cr_applied_id = $1, cr_updated_at = $2 WHERE id = $3",
            &[applied_through.into(), at.into(), measurement_id.into()],
        )?;
        Ok(true)
    })
}

/// The counter-referrals a classification at `as_of` reads: every one up to the first
/// delivered after `as_of` (those later ones, and all after them, are applied incrementally by
/// the updater, which counts deliveries up to its own day).
pub fn classification_watermark(sql: &mut crate::sql::Db<'_>, as_of: &str) -> Result<i64> {
    let sql = sql.raw();
    // Only as far as every id is stored ([`last_counter_referral`]).
    let through = last_counter_referral(&mut crate::sql::Db::new(sql))?;
    let d = date_param(sql, 1);
    Ok(sql
        .query_opt(
            &format!(
                "SELECT MIN(id) - 1 FROM counter_referrals WHERE delivered_on > {d} AND id <= $2"
            ),
            &[as_of.into(), through.into()],
        )?
        .and_then(|r| r.int(0))
        .unwrap_or(through))
}

/// Sets the counter-referral watermark of a new measurement (what its classification read).
pub fn set_measurement_watermark(
    sql: &mut crate::sql::Db<'_>,
    measurement_id: i64,
    through: i64,
) -> Result<()> {
    let sql = sql.raw();
    sql.execute(
        "UPDATE measurements SET cr_applied_id = $1 WHERE id = $2",
        &[through.into(), measurement_id.into()],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delivery_days_read_as_chrono_reads_them() {
        for s in [
            "2026-11-20",
            "2026-11-20 00:00:00",
            "2026-11-20T00:00:00Z",
            "2024-02-29",
            "2023-02-29",
            "2026-13-01",
            "2026-11-2",
            "2026-11-201",
            "26-11-20",
            "2026/11/20",
            "2026-1a-20",
            "",
        ] {
            let chrono = chrono::NaiveDate::parse_from_str(s.get(..10).unwrap_or(""), "%Y-%m-%d")
                .ok()
                .filter(|_| !s.as_bytes().get(10).is_some_and(u8::is_ascii_digit));
            assert_eq!(iso_day(s), chrono, "{s:?}");
        }
    }

    #[test]
    fn referral_units_find_every_pair_held_and_no_other() {
        for n in [0usize, 1, 3, 50_000] {
            let mut u = ReferralUnits::default();
            u.set_sorted(
                (0..n as i64)
                    .map(|i| unit_fingerprint("persona", i, "control_prenatal"))
                    .collect(),
            );
            assert_eq!(u.len(), n);
            for i in 0..n as i64 {
                assert!(u.may_have("persona", i, "control_prenatal"), "{i} of {n}");
            }
            for i in n as i64..n as i64 + 50_000 {
                assert!(!u.may_have("persona", i, "control_prenatal"), "{i} of {n}");
            }
            assert!(!u.may_have("hogar", 0, "control_prenatal"));
            assert!(!u.may_have("persona", 0, "vacunas"));
            // Caught up later: held too.
            u.recent.insert(unit_fingerprint("hogar", 7, "vivienda"));
            assert!(u.may_have("hogar", 7, "vivienda"));
        }
    }
}
