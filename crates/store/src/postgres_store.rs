//! The PostgreSQL backend: the production store.
//!
//! Same schema and behaviour as SQLite (the same behavioural tests run against both). Bulk rows
//! go through `COPY … FROM STDIN` in text format inside the import's transaction, so a national
//! load is a handful of streamed statements rather than millions of round trips.

use crate::load_sql::{event_source, queries, territory_filter, Filter};
use crate::reading::{Merge, Past, Reading};
use crate::LoadPart;
use crate::{
    answer_columns, check_len, district_range, Backend, DistrictCounts, ImportMeta, ImportRecord,
    ImportTx, KnownPerson, MeasurementMeta, MeasurementRecord, RegistrySnapshot, Result,
    SnapshotNeeds, Store, StoreError, UnitKind,
};
use postgres::fallible_iterator::FallibleIterator;
use postgres::types::ToSql;
use postgres::{Client, NoTls, Transaction};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::Write as _;
use vamos_domain::schema::{COMMUNITY_FIELDS, HOUSEHOLD_FIELDS, PERSON_FIELDS};
use vamos_domain::versions::{household_hash, person_hash};
use vamos_domain::{
    AdminEventRow, AdminRecord, AnswerRef, Community, CommunityRow, CommunitySurvey, DistrictCode,
    Household, HouseholdRow, NationalId, Person, PersonRow, RegistrySink, Sex, TerritoryCode,
    Value,
};

/// Migrations of the PostgreSQL schema, in order. Append-only.
pub const MIGRATIONS: &[(&str, &str)] = &[
    (
        "0001_registry",
        include_str!("../migrations/postgres/0001_registry.sql"),
    ),
    (
        "0002_measurements",
        include_str!("../migrations/postgres/0002_measurements.sql"),
    ),
    (
        "0003_audit",
        include_str!("../migrations/postgres/0003_audit.sql"),
    ),
    (
        "0004_server",
        include_str!("../migrations/postgres/0004_server.sql"),
    ),
    (
        "0005_dci",
        include_str!("../migrations/postgres/0005_dci.sql"),
    ),
    (
        "0006_audit_index",
        include_str!("../migrations/postgres/0006_audit_index.sql"),
    ),
    (
        "0007_access",
        include_str!("../migrations/postgres/0007_access.sql"),
    ),
    (
        "0008_referral_units",
        include_str!("../migrations/postgres/0008_referral_units.sql"),
    ),
    (
        "0009_referral_due",
        include_str!("../migrations/postgres/0009_referral_due.sql"),
    ),
    (
        "0010_community_households",
        include_str!("../migrations/postgres/0010_community_households.sql"),
    ),
    (
        "0011_self_registrations",
        include_str!("../migrations/postgres/0011_self_registrations.sql"),
    ),
    (
        "0012_counter_referral_log",
        include_str!("../migrations/postgres/0012_counter_referral_log.sql"),
    ),
    (
        "0013_referral_unit_services",
        include_str!("../migrations/postgres/0013_referral_unit_services.sql"),
    ),
    (
        "0014_counter_referral_person_check",
        include_str!("../migrations/postgres/0014_counter_referral_person_check.sql"),
    ),
    (
        "0015_counter_referral_person_hash",
        include_str!("../migrations/postgres/0015_counter_referral_person_hash.sql"),
    ),
    (
        "0016_audit_append_only",
        include_str!("../migrations/postgres/0016_audit_append_only.sql"),
    ),
    (
        "0017_measurement_publication",
        include_str!("../migrations/postgres/0017_measurement_publication.sql"),
    ),
    (
        "0018_versions",
        include_str!("../migrations/postgres/0018_versions.sql"),
    ),
    (
        "0019_change_requests",
        include_str!("../migrations/postgres/0019_change_requests.sql"),
    ),
    (
        "0020_grievances",
        include_str!("../migrations/postgres/0020_grievances.sql"),
    ),
    (
        "0022_measurement_known_at",
        include_str!("../migrations/postgres/0022_measurement_known_at.sql"),
    ),
    (
        "0023_change_units_by_change",
        include_str!("../migrations/postgres/0023_change_units_by_change.sql"),
    ),
    (
        "0024_cases",
        include_str!("../migrations/postgres/0024_cases.sql"),
    ),
    (
        "0025_case_candidates",
        include_str!("../migrations/postgres/0025_case_candidates.sql"),
    ),
    (
        "0026_barriers",
        include_str!("../migrations/postgres/0026_barriers.sql"),
    ),
    (
        "0027_import_rejects",
        include_str!("../migrations/postgres/0027_import_rejects.sql"),
    ),
    (
        "0028_targets",
        include_str!("../migrations/postgres/0028_targets.sql"),
    ),
    (
        "0029_planning",
        include_str!("../migrations/postgres/0029_planning.sql"),
    ),
    (
        "0030_unit_costs",
        include_str!("../migrations/postgres/0030_unit_costs.sql"),
    ),
    (
        "0031_ipm",
        include_str!("../migrations/postgres/0031_ipm.sql"),
    ),
    (
        "0032_referral_deprivation",
        include_str!("../migrations/postgres/0032_referral_deprivation.sql"),
    ),
    (
        "0033_linkage",
        include_str!("../migrations/postgres/0033_linkage.sql"),
    ),
    (
        "0034_governance",
        include_str!("../migrations/postgres/0034_governance.sql"),
    ),
];

/// A PostgreSQL registry.
pub struct PostgresStore {
    client: Client,
    /// Kept to open further connections ([`Store::reopen`]).
    url: String,
    /// Statements of [`crate::sql::Sql`] calls already prepared on this connection, by text:
    /// a repeated query costs one round trip instead of two (parse, then execute).
    statements: HashMap<String, postgres::Statement>,
}

/// Most statements kept prepared per connection (the cache is emptied when full).
const MAX_STATEMENTS: usize = 256;

impl PostgresStore {
    pub fn connect(url: &str) -> Result<PostgresStore> {
        Ok(PostgresStore {
            client: Client::connect(url, NoTls)?,
            url: url.to_string(),
            statements: HashMap::new(),
        })
    }

    /// Direct access for tests and tools inside this workspace.
    pub fn client(&mut self) -> &mut Client {
        &mut self.client
    }

    fn is_initialised(&mut self) -> Result<bool> {
        let row = self
            .client
            .query_one("SELECT to_regclass('schema_migrations') IS NOT NULL", &[])?;
        Ok(row.get(0))
    }

    /// Whether any past version is stored (loads then read the versions a reading picks).
    fn has_history(&mut self) -> Result<bool> {
        let row = self.client.query_one(
            "SELECT EXISTS (SELECT 1 FROM household_history) OR EXISTS (SELECT 1 FROM person_history)",
            &[],
        )?;
        Ok(row.try_get(0)?)
    }
}

const NO_PARAMS: [&(dyn ToSql + Sync); 0] = [];

impl Store for PostgresStore {
    fn backend(&self) -> Backend {
        Backend::Postgres
    }

    fn migrate(&mut self) -> Result<Vec<String>> {
        crate::migrations::run(self, MIGRATIONS)
    }

    fn begin_import(&mut self, meta: &ImportMeta) -> Result<Box<dyn ImportTx + '_>> {
        if !self.is_initialised()? {
            return Err(StoreError::NotInitialised);
        }
        let mut tx = self.client.transaction()?;
        let id = insert_import(&mut tx, meta, "en_curso", None, None)?;
        Ok(Box::new(PgImport {
            tx: Some(tx),
            import_id: id,
            started_at: meta.started_at.clone(),
            statements: HashMap::new(),
        }))
    }

    fn record_refused_import(
        &mut self,
        meta: &ImportMeta,
        finished_at: &str,
        summary: &str,
    ) -> Result<i64> {
        if !self.is_initialised()? {
            return Err(StoreError::NotInitialised);
        }
        let mut tx = self.client.transaction()?;
        let id = insert_import(&mut tx, meta, "rechazada", Some(finished_at), Some(summary))?;
        tx.commit()?;
        Ok(id)
    }

    fn district_counts(&mut self) -> Result<Vec<DistrictCounts>> {
        if !self.is_initialised()? {
            return Err(StoreError::NotInitialised);
        }
        let mut map: std::collections::BTreeMap<u16, DistrictCounts> = Default::default();
        type Setter = fn(&mut DistrictCounts, u64);
        let queries: [(&str, Setter); 5] = [
            ("SELECT district_code, count(*) FROM households GROUP BY 1", |e, n| e.households = n),
            (
                "SELECT h.district_code, count(*) FROM persons p JOIN households h ON h.id = p.household_id GROUP BY 1",
                |e, n| e.persons = n,
            ),
            ("SELECT district_code, count(*) FROM communities GROUP BY 1", |e, n| e.communities = n),
            (
                "SELECT h.district_code, count(*) FROM households h JOIN imports i ON i.id = h.import_id
                 WHERE i.synthetic GROUP BY 1",
                |e, n| e.synthetic_households = n,
            ),
            (
                "SELECT h.district_code, count(*) FROM admin_records a JOIN persons p ON p.id = a.person_id
                 JOIN households h ON h.id = p.household_id GROUP BY 1",
                |e, n| e.admin_records = n,
            ),
        ];
        for (sql, set) in queries {
            for r in self.client.query(sql, &[])? {
                let d: i64 = r.get(0);
                let n: i64 = r.get(1);
                let d =
                    u16::try_from(d).map_err(|_| StoreError::Invalid(format!("distrito {d}")))?;
                let e = map.entry(d).or_insert(DistrictCounts {
                    district: d,
                    ..Default::default()
                });
                set(e, n.max(0) as u64);
            }
        }
        Ok(map.into_values().collect())
    }

    fn load_part(
        &mut self,
        territory: TerritoryCode,
        part: LoadPart,
        at: &Reading,
        sink: &mut dyn RegistrySink,
    ) -> Result<()> {
        if !self.is_initialised()? {
            return Err(StoreError::NotInitialised);
        }
        let (lo, hi) = district_range(territory);
        let history = self.has_history()?;
        let q = queries(
            |n| format!("${n}"),
            territory_filter(territory),
            at,
            history,
        );
        let c = &mut self.client;
        match part {
            LoadPart::Units => {
                stream_communities(c, &q.communities, &[&lo, &hi], sink)?;
                let mut picked = Past::default();
                let skip = versioned(c, &q.skip_households, &[&lo, &hi], |c| {
                    stream_households(c, &q.past_households, &[&lo, &hi], &mut picked)
                })?;
                let mut merge = Merge::new(sink, picked, skip);
                stream_households(c, &q.households, &[&lo, &hi], &mut merge)?;
                merge.finish();
                Ok(())
            }
            LoadPart::Persons { ids: (from, to) } => {
                let params: Params<'_> = &[&lo, &hi, &from, &to];
                let mut picked = Past::default();
                let skip = versioned(c, &q.skip_persons, params, |c| {
                    stream_persons(c, &q.past_persons, params, &mut picked)
                })?;
                let mut merge = Merge::new(sink, picked, skip);
                stream_persons(c, &q.persons, params, &mut merge)?;
                merge.finish();
                Ok(())
            }
            LoadPart::Events {
                counter_referrals_through,
            } => stream_events(c, &q.events, &[&lo, &hi, &counter_referrals_through], sink),
        }
    }

    fn load_communities(
        &mut self,
        communities: &[i64],
        counter_referrals_through: i64,
        at: &Reading,
        sink: &mut dyn RegistrySink,
    ) -> Result<()> {
        if !self.is_initialised()? {
            return Err(StoreError::NotInitialised);
        }
        let list = communities.to_vec();
        let history = self.has_history()?;
        let q = queries(
            |n| format!("${n}"),
            Filter::Communities("= ANY($1)"),
            at,
            history,
        );
        let c = &mut self.client;
        stream_communities(c, &q.communities, &[&list], sink)?;
        let mut picked = Past::default();
        let skip = versioned(c, &q.skip_households, &[&list], |c| {
            stream_households(c, &q.past_households, &[&list], &mut picked)
        })?;
        let mut merge = Merge::new(sink, picked, skip);
        stream_households(c, &q.households, &[&list], &mut merge)?;
        merge.finish();
        let mut picked = Past::default();
        let skip = versioned(c, &q.skip_persons, &[&list], |c| {
            stream_persons(c, &q.past_persons, &[&list], &mut picked)
        })?;
        let mut merge = Merge::new(sink, picked, skip);
        stream_persons(c, &q.persons, &[&list], &mut merge)?;
        merge.finish();
        stream_events(c, &q.events, &[&list, &counter_referrals_through], sink)
    }

    fn person_id_bounds(&mut self, territory: TerritoryCode) -> Result<Option<(i64, i64)>> {
        if !self.is_initialised()? {
            return Err(StoreError::NotInitialised);
        }
        let (lo, hi) = district_range(territory);
        let history = self.has_history()?;
        let q = queries(
            |n| format!("${n}"),
            territory_filter(territory),
            &Reading::at(chrono::NaiveDate::MAX),
            history,
        );
        let r = self.client.query_one(&q.bounds, &[&lo, &hi])?;
        let (a, b): (Option<i64>, Option<i64>) = (r.try_get(0)?, r.try_get(1)?);
        Ok(a.zip(b))
    }

    fn reopen(&self) -> Result<Box<dyn Store>> {
        Ok(Box::new(PostgresStore::connect(&self.url)?))
    }

    fn begin_read(&mut self) -> Result<i64> {
        self.client
            .batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")?;
        // The snapshot is taken by the first query; its answer identifies the registry's state.
        Ok(self
            .client
            .query_one("SELECT coalesce(max(id), 0)::bigint FROM imports", &[])?
            .try_get(0)?)
    }

    fn end_read(&mut self) -> Result<()> {
        self.client.batch_execute("COMMIT")?;
        Ok(())
    }

    fn save_measurement(
        &mut self,
        meta: &MeasurementMeta,
        districts: &[(u16, String)],
    ) -> Result<i64> {
        if !self.is_initialised()? {
            return Err(StoreError::NotInitialised);
        }
        let mut tx = self.client.transaction()?;
        tx.batch_execute("LOCK TABLE measurements IN EXCLUSIVE MODE")?;
        let id: i64 = tx
            .query_one("SELECT coalesce(max(id), 0) + 1 FROM measurements", &[])?
            .get(0);
        tx.execute(
            "INSERT INTO measurements (id, as_of, catalogue_version, catalogue_label, territory, synthetic, created_at, details, known_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            &[&id, &meta.as_of, &meta.catalogue_version, &meta.catalogue_label, &meta.territory, &meta.synthetic, &meta.created_at, &meta.details, &meta.known_at],
        )?;
        let st = tx.prepare("INSERT INTO measurement_districts (measurement_id, district_code, logros) VALUES ($1, $2, $3)")?;
        for (d, json) in districts {
            tx.execute(&st, &[&id, &i64::from(*d), json])?;
        }
        tx.commit()?;
        Ok(id)
    }

    fn measurement(
        &mut self,
        id: Option<i64>,
    ) -> Result<Option<(MeasurementRecord, Vec<(u16, String)>)>> {
        if !self.is_initialised()? {
            return Err(StoreError::NotInitialised);
        }
        let row = self.client.query_opt(
            "SELECT id, as_of::text, catalogue_version, catalogue_label, territory, synthetic, created_at, details, cr_applied_id, cr_updated_at, known_at
             FROM measurements WHERE id = coalesce($1, (SELECT max(id) FROM measurements))",
            &[&id],
        )?;
        let Some(r) = row else { return Ok(None) };
        let details: String = r.get(7);
        let rec = MeasurementRecord {
            id: r.get(0),
            as_of: r.get(1),
            catalogue_version: r.get(2),
            catalogue_label: r.get(3),
            territory: r.get(4),
            synthetic: r.get(5),
            created_at: r.get(6),
            details: serde_json::from_str(&details).unwrap_or(serde_json::Value::Null),
            counter_referrals_applied_through: r.get(8),
            counter_referrals_updated_at: r.get(9),
            known_at: r.get(10),
        };
        let rows = self.client.query(
            "SELECT district_code, logros FROM measurement_districts WHERE measurement_id = $1 ORDER BY district_code",
            &[&rec.id],
        )?;
        let districts = rows
            .iter()
            .filter_map(|r| {
                u16::try_from(r.get::<_, i64>(0))
                    .ok()
                    .map(|d| (d, r.get::<_, String>(1)))
            })
            .collect();
        Ok(Some((rec, districts)))
    }

    fn has_synthetic_data(&mut self) -> Result<bool> {
        if !self.is_initialised()? {
            return Err(StoreError::NotInitialised);
        }
        const SQL: &str =
            "SELECT EXISTS (SELECT 1 FROM imports WHERE synthetic AND status = 'completada')";
        Ok(self.client.query_one(SQL, &[])?.get::<_, bool>(0))
    }

    fn locate(&mut self, kind: UnitKind, key: i64) -> Result<Option<(i64, u16)>> {
        if !self.is_initialised()? {
            return Err(StoreError::NotInitialised);
        }
        let sql = match kind {
            UnitKind::Person => {
                "SELECT p.id, h.district_code FROM persons p JOIN households h ON h.id = p.household_id
                 WHERE p.id = $1"
            }
            UnitKind::Household => "SELECT id, district_code FROM households WHERE id = $1",
            UnitKind::Community => "SELECT id, district_code FROM communities WHERE id = $1",
        };
        let r = self.client.query_opt(sql, &[&key])?;
        Ok(r.and_then(|r| {
            u16::try_from(r.get::<_, i64>(1))
                .ok()
                .map(|d| (r.get(0), d))
        }))
    }

    fn locate_national_id(&mut self, national_id: i64) -> Result<Option<(i64, u16)>> {
        if !self.is_initialised()? {
            return Err(StoreError::NotInitialised);
        }
        let r = self.client.query_opt(
            "SELECT p.id, h.district_code FROM persons p JOIN households h ON h.id = p.household_id
             WHERE p.national_id = $1 ORDER BY p.status <> 'activo', p.id LIMIT 1",
            &[&national_id],
        )?;
        Ok(r.and_then(|r| {
            u16::try_from(r.get::<_, i64>(1))
                .ok()
                .map(|d| (r.get(0), d))
        }))
    }

    fn db(&mut self) -> crate::sql::Db<'_> {
        crate::sql::Db::new(self)
    }

    fn is_ready(&mut self) -> Result<bool> {
        self.is_initialised()
    }

    fn imports(&mut self, limit: u32) -> Result<Vec<ImportRecord>> {
        if !self.is_initialised()? {
            return Err(StoreError::NotInitialised);
        }
        let rows = self.client.query(
            "SELECT id, kind, source, synthetic, status, started_at, finished_at, summary
             FROM imports ORDER BY id DESC LIMIT $1",
            &[&i64::from(limit)],
        )?;
        Ok(rows
            .into_iter()
            .map(|r| {
                let summary: Option<String> = r.get(7);
                ImportRecord {
                    id: r.get(0),
                    kind: r.get(1),
                    source: r.get(2),
                    synthetic: r.get(3),
                    status: r.get(4),
                    started_at: r.get(5),
                    finished_at: r.get(6),
                    summary: summary.and_then(|s| serde_json::from_str(&s).ok()),
                }
            })
            .collect())
    }
}

fn insert_import(
    tx: &mut Transaction<'_>,
    meta: &ImportMeta,
    status: &str,
    finished_at: Option<&str>,
    summary: Option<&str>,
) -> Result<i64> {
    // Import runs are serialised: ids are assigned here, and rows get ids from max(id) + 1.
    tx.batch_execute("LOCK TABLE imports IN EXCLUSIVE MODE")?;
    let id: i64 = tx
        .query_one("SELECT coalesce(max(id), 0) + 1 FROM imports", &[])?
        .get(0);
    tx.execute(
        "INSERT INTO imports (id, kind, source, synthetic, status, started_at, finished_at, summary)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        &[&id, &meta.kind.as_str(), &meta.source, &meta.synthetic, &status, &meta.started_at, &finished_at, &summary],
    )?;
    for (i, path) in meta.files.iter().enumerate() {
        tx.execute(
            "INSERT INTO import_files (import_id, file_no, path) VALUES ($1, $2, $3)",
            &[&id, &(i as i64), path],
        )?;
    }
    Ok(id)
}

/// The parameters of a load query.
type Params<'a> = &'a [&'a (dyn ToSql + Sync)];

fn bad(what: &str) -> StoreError {
    StoreError::Invalid(format!("dato almacenado inválido: {what}"))
}

fn district(n: i64) -> Result<DistrictCode> {
    DistrictCode::from_stored(n).ok_or_else(|| bad("distrito"))
}

/// Reads what versions change in a load: the past versions picked (`past`, which streams them
/// where it keeps them) and the ids of the current rows they outrank (query `skip`). Nothing is
/// read without history (empty SQL).
fn versioned(
    c: &mut Client,
    skip: &str,
    params: Params<'_>,
    past: impl FnOnce(&mut Client) -> Result<()>,
) -> Result<rustc_hash::FxHashSet<i64>> {
    let mut skipped = rustc_hash::FxHashSet::default();
    if !skip.is_empty() {
        past(c)?;
        for r in c.query(skip, params)? {
            skipped.insert(r.try_get::<_, i64>(0)?);
        }
    }
    Ok(skipped)
}

/// Streams the rows of a communities load query to `sink`.
fn stream_communities(
    c: &mut Client,
    sql: &str,
    params: Params<'_>,
    sink: &mut dyn RegistrySink,
) -> Result<()> {
    let mut it = c.query_raw(sql, params.iter().copied())?;
    while let Some(r) = it.next()? {
        let answers = pg_answers(&r, 4, COMMUNITY_FIELDS)?;
        sink.community(&CommunityRow {
            id: r.try_get(0)?,
            district: district(r.try_get(1)?)?,
            area: r.try_get(2)?,
            survey_date: r.try_get(3)?,
            answers: &answers,
        });
    }
    Ok(())
}

/// Streams the rows of a households load query to `sink`.
fn stream_households(
    c: &mut Client,
    sql: &str,
    params: Params<'_>,
    sink: &mut dyn RegistrySink,
) -> Result<()> {
    let mut it = c.query_raw(sql, params.iter().copied())?;
    while let Some(r) = it.next()? {
        let answers = pg_answers(&r, 5, HOUSEHOLD_FIELDS)?;
        sink.household(&HouseholdRow {
            id: r.try_get(0)?,
            district: district(r.try_get(1)?)?,
            community_id: r.try_get(2)?,
            area: r.try_get(3)?,
            interview_date: r.try_get(4)?,
            answers: &answers,
        });
    }
    Ok(())
}

/// Streams the rows of a persons load query to `sink`.
fn stream_persons(
    c: &mut Client,
    sql: &str,
    params: Params<'_>,
    sink: &mut dyn RegistrySink,
) -> Result<()> {
    let mut it = c.query_raw(sql, params.iter().copied())?;
    while let Some(r) = it.next()? {
        let answers = pg_answers(&r, 6, PERSON_FIELDS)?;
        let nid: Option<i64> = r.try_get(2)?;
        let sex: &str = r.try_get(4)?;
        sink.person(&PersonRow {
            id: r.try_get(0)?,
            household_id: r.try_get(1)?,
            national_id: nid.and_then(NationalId::from_stored),
            birth_date: r.try_get(3)?,
            sex: Sex::parse(sex).ok_or_else(|| bad("sexo"))?,
            relationship: r.try_get(5)?,
            answers: &answers,
        });
    }
    Ok(())
}

/// Streams the rows of an events load query to `sink`.
fn stream_events(
    c: &mut Client,
    sql: &str,
    params: Params<'_>,
    sink: &mut dyn RegistrySink,
) -> Result<()> {
    let mut it = c.query_raw(sql, params.iter().copied())?;
    while let Some(r) = it.next()? {
        let kind: i32 = r.try_get(4)?;
        sink.admin_event(&AdminEventRow {
            person_id: r.try_get(0)?,
            source: event_source(kind.into(), r.try_get(1)?)
                .ok_or_else(|| bad("tipo de evidencia"))?,
            service: r.try_get(2)?,
            event_date: r.try_get(3)?,
        });
    }
    Ok(())
}

/// Answer columns of a row, typed by the schema (integers are BIGINT, everything else TEXT).
fn pg_answers<'r>(
    r: &'r postgres::Row,
    from: usize,
    fields: &[vamos_domain::FieldSpec],
) -> Result<Vec<AnswerRef<'r>>> {
    fields
        .iter()
        .enumerate()
        .map(|(i, f)| {
            Ok(match f.kind {
                vamos_domain::FieldKind::Integer { .. } => r
                    .try_get::<_, Option<i64>>(from + i)?
                    .map_or(AnswerRef::Null, AnswerRef::Int),
                _ => r
                    .try_get::<_, Option<&str>>(from + i)?
                    .map_or(AnswerRef::Null, AnswerRef::Text),
            })
        })
        .collect()
}

struct PgImport<'c> {
    tx: Option<Transaction<'c>>,
    import_id: i64,
    /// Written as each new row's `recorded_at` (when the registry learnt it).
    started_at: String,
    /// Prepared statements of the re-interview path (one per text), valid in this transaction.
    statements: HashMap<String, postgres::Statement>,
}

impl<'c> PgImport<'c> {
    fn tx(&mut self) -> Result<&mut Transaction<'c>> {
        self.tx
            .as_mut()
            .ok_or_else(|| StoreError::Invalid("transacción cerrada".into()))
    }

    fn prepared(&mut self, sql: &str) -> Result<postgres::Statement> {
        if let Some(st) = self.statements.get(sql) {
            return Ok(st.clone());
        }
        let st = self.tx()?.prepare(sql)?;
        self.statements.insert(sql.to_string(), st.clone());
        Ok(st)
    }
}

/// The import's transaction as the store's SQL executor, so the re-interview path reuses the
/// column lists and statements of [`crate::versions`].
impl crate::sql::Sql for PgImport<'_> {
    fn dialect(&self) -> Backend {
        Backend::Postgres
    }

    fn query(&mut self, sql: &str, params: &[crate::sql::Param]) -> Result<Vec<crate::sql::Row>> {
        let st = self.prepared(sql)?;
        let columns: std::sync::Arc<[String]> =
            st.columns().iter().map(|c| c.name().to_string()).collect();
        let refs = pg_params(params);
        let rows = self.tx()?.query(&st, &refs)?;
        pg_rows(rows, columns)
    }

    fn execute(&mut self, sql: &str, params: &[crate::sql::Param]) -> Result<u64> {
        let st = self.prepared(sql)?;
        let refs = pg_params(params);
        Ok(self.tx()?.execute(&st, &refs)?)
    }

    fn batch(&mut self, sql: &str) -> Result<()> {
        Ok(self.tx()?.batch_execute(sql)?)
    }

    fn copy_rows(
        &mut self,
        table: &str,
        cols: &[&str],
        rows: &[Vec<crate::sql::Param>],
    ) -> Result<u64> {
        let buf = copy_text(cols, rows)?;
        let mut w = self
            .tx()?
            .copy_in(&format!("COPY {table} ({}) FROM STDIN", cols.join(", ")))?;
        w.write_all(buf.as_bytes())?;
        Ok(w.finish()?)
    }
}

/// `rows` in COPY's text format.
fn copy_text(cols: &[&str], rows: &[Vec<crate::sql::Param>]) -> Result<String> {
    let mut buf = String::with_capacity(rows.len() * 16 * cols.len().max(1));
    for row in rows {
        let mut r = CopyRow::new(&mut buf);
        for p in row {
            r.param(p)?;
        }
        r.end();
    }
    Ok(buf)
}

/// Appends one field in COPY text format (tab separated, `\N` for NULL, backslash escapes).
struct CopyRow<'b> {
    buf: &'b mut String,
    first: bool,
}

impl<'b> CopyRow<'b> {
    fn new(buf: &'b mut String) -> Self {
        CopyRow { buf, first: true }
    }
    fn sep(&mut self) {
        if !self.first {
            self.buf.push('\t');
        }
        self.first = false;
    }
    fn null(&mut self) {
        self.sep();
        self.buf.push_str("\\N");
    }
    fn text(&mut self, s: &str) {
        self.sep();
        if !s
            .bytes()
            .any(|b| matches!(b, b'\\' | b'\t' | b'\n' | b'\r'))
        {
            self.buf.push_str(s);
            return;
        }
        for c in s.chars() {
            match c {
                '\\' => self.buf.push_str("\\\\"),
                '\t' => self.buf.push_str("\\t"),
                '\n' => self.buf.push_str("\\n"),
                '\r' => self.buf.push_str("\\r"),
                c => self.buf.push(c),
            }
        }
    }
    fn opt_text(&mut self, s: Option<&str>) {
        match s {
            Some(s) => self.text(s),
            None => self.null(),
        }
    }
    fn int(&mut self, n: i64) {
        self.sep();
        let _ = write!(self.buf, "{n}");
    }
    fn opt_int(&mut self, n: Option<i64>) {
        match n {
            Some(n) => self.int(n),
            None => self.null(),
        }
    }
    fn opt_float(&mut self, x: Option<f64>) {
        match x {
            Some(x) => {
                self.sep();
                let _ = write!(self.buf, "{x}");
            }
            None => self.null(),
        }
    }
    fn date(&mut self, d: chrono::NaiveDate) {
        self.sep();
        let _ = write!(self.buf, "{}", d.format("%Y-%m-%d"));
    }
    fn value(&mut self, v: &Value) {
        match v {
            Value::Null => self.null(),
            Value::Int(n) => self.int(*n),
            Value::Text(s) => self.text(s),
            Value::Code(s) => self.text(s),
            Value::Date(d) => self.date(*d),
        }
    }
    /// One single value of [`crate::sql::Param`]; a list is not a field.
    fn param(&mut self, p: &crate::sql::Param) -> Result<()> {
        use crate::sql::Param;
        match p {
            Param::Int(n) => self.opt_int(*n),
            Param::Text(t) => self.opt_text(t.as_deref()),
            Param::Real(x) => self.opt_float(*x),
            Param::Bytes(_) | Param::Ints(_) | Param::Texts(_) | Param::Reals(_) => {
                return Err(StoreError::Invalid(
                    "una lista no es un valor de fila de COPY".into(),
                ))
            }
        }
        Ok(())
    }
    fn end(self) {
        self.buf.push('\n');
    }
}

impl PgImport<'_> {
    fn copy(&mut self, sql: &str, data: String) -> Result<()> {
        let tx = self
            .tx
            .as_mut()
            .ok_or_else(|| StoreError::Invalid("transacción cerrada".into()))?;
        let mut w = tx.copy_in(sql)?;
        w.write_all(data.as_bytes())?;
        w.finish()?;
        Ok(())
    }

    fn stream_keys<F: FnMut(&postgres::Row) -> Result<()>>(
        &mut self,
        sql: &str,
        mut f: F,
    ) -> Result<()> {
        let tx = self
            .tx
            .as_mut()
            .ok_or_else(|| StoreError::Invalid("transacción cerrada".into()))?;
        let mut it = tx.query_raw(sql, NO_PARAMS)?;
        while let Some(row) = it.next()? {
            f(&row)?;
        }
        Ok(())
    }

    fn next_id(&mut self, table: &str) -> Result<i64> {
        let tx = self
            .tx
            .as_mut()
            .ok_or_else(|| StoreError::Invalid("transacción cerrada".into()))?;
        Ok(tx
            .query_one(
                &format!("SELECT coalesce(max(id), 0) + 1 FROM {table}"),
                &[],
            )?
            .get(0))
    }
}

impl ImportTx for PgImport<'_> {
    fn import_id(&self) -> i64 {
        self.import_id
    }

    fn snapshot(&mut self, needs: SnapshotNeeds) -> Result<RegistrySnapshot> {
        let mut s = RegistrySnapshot {
            next_household_id: self.next_id("households")?,
            next_person_id: self.next_id("persons")?,
            next_community_id: self.next_id("communities")?,
            next_admin_id: self.next_id("admin_records")?,
            ..Default::default()
        };
        if needs.household_keys {
            self.stream_keys(crate::versions::KNOWN_KEYS_SQL, |r| {
                s.household_keys.insert(r.try_get(0)?, r.try_get(1)?);
                Ok(())
            })?;
        }
        if needs.national_ids {
            self.stream_keys(
                "SELECT national_id, id, birth_date, household_id FROM persons
                 WHERE national_id IS NOT NULL",
                |r| {
                    if let Some(nid) = NationalId::from_stored(r.try_get(0)?) {
                        s.national_ids.insert(
                            nid,
                            KnownPerson {
                                person_id: r.try_get(1)?,
                                birth_date: r.try_get(2)?,
                                household_id: r.try_get(3)?,
                            },
                        );
                    }
                    Ok(())
                },
            )?;
        }
        if needs.communities {
            self.stream_keys("SELECT district_code, name_key, id FROM communities", |r| {
                let d: i64 = r.try_get(0)?;
                if let Some(d) = DistrictCode::from_stored(d) {
                    s.communities.insert((d, r.try_get(1)?), r.try_get(2)?);
                }
                Ok(())
            })?;
        }
        if needs.survey_keys {
            self.stream_keys("SELECT submission_key FROM community_surveys", |r| {
                s.survey_keys.insert(r.try_get(0)?);
                Ok(())
            })?;
        }
        if needs.admin_keys {
            self.stream_keys("SELECT institution, record_key FROM admin_records", |r| {
                s.admin_keys.insert((r.try_get(0)?, r.try_get(1)?));
                Ok(())
            })?;
        }
        Ok(s)
    }

    fn insert_communities(&mut self, rows: &[Community]) -> Result<()> {
        let mut buf = String::new();
        for c in rows {
            let mut r = CopyRow::new(&mut buf);
            r.int(c.id);
            r.int(i64::from(c.district.get()));
            r.text(&c.name);
            r.text(&Community::name_key(&c.name));
            r.opt_text(c.area.as_deref());
            r.int(self.import_id);
            r.end();
        }
        self.copy(
            "COPY communities (id, district_code, name, name_key, area, import_id) FROM STDIN",
            buf,
        )
    }

    fn insert_households(&mut self, rows: &[Household]) -> Result<()> {
        let mut buf = String::with_capacity(rows.len() * 200);
        for h in rows {
            check_len(&h.answers, HOUSEHOLD_FIELDS.len(), "hogar")?;
            let mut r = CopyRow::new(&mut buf);
            r.int(h.id);
            r.text(&h.submission_key);
            r.text(h.form.as_str());
            r.int(i64::from(h.district.get()));
            r.int(h.community_id);
            r.opt_text(h.area.as_deref());
            r.opt_text(h.address.as_deref());
            r.opt_float(h.latitude);
            r.opt_float(h.longitude);
            r.date(h.interview_date);
            for v in &h.answers {
                r.value(v);
            }
            r.int(self.import_id);
            r.int(i64::from(h.provenance.file_no));
            r.int(h.provenance.row as i64);
            r.text(&self.started_at);
            r.int(household_hash(h));
            r.end();
        }
        let sql = format!(
            "COPY households (id, submission_key, form, district_code, community_id, area, address,
             latitude, longitude, interview_date, {}, import_id, file_no, source_row, recorded_at,
             content_hash) FROM STDIN",
            answer_columns(HOUSEHOLD_FIELDS)
        );
        self.copy(&sql, buf)
    }

    fn insert_persons(&mut self, rows: &[Person]) -> Result<()> {
        let mut buf = String::with_capacity(rows.len() * 200);
        for p in rows {
            check_len(&p.answers, PERSON_FIELDS.len(), "persona")?;
            let mut r = CopyRow::new(&mut buf);
            r.int(p.id);
            r.int(p.household_id);
            r.text(&p.submission_key);
            r.text(&p.given_names);
            r.text(&p.family_names);
            r.opt_int(p.national_id.map(|n| i64::from(n.get())));
            r.date(p.birth_date);
            r.text(p.sex.as_str());
            r.text(&p.relationship);
            for v in &p.answers {
                r.value(v);
            }
            r.int(self.import_id);
            r.int(i64::from(p.provenance.file_no));
            r.int(p.provenance.row as i64);
            r.text(&self.started_at);
            r.int(person_hash(p));
            r.end();
        }
        let sql = format!(
            "COPY persons (id, household_id, submission_key, given_names, family_names, national_id,
             birth_date, sex, relationship, {}, import_id, file_no, source_row, recorded_at,
             content_hash) FROM STDIN",
            answer_columns(PERSON_FIELDS)
        );
        self.copy(&sql, buf)
    }

    fn insert_community_surveys(&mut self, rows: &[CommunitySurvey]) -> Result<()> {
        let mut buf = String::new();
        for s in rows {
            check_len(&s.answers, COMMUNITY_FIELDS.len(), "comunidad")?;
            let mut r = CopyRow::new(&mut buf);
            r.text(&s.submission_key);
            r.int(s.community_id);
            r.date(s.survey_date);
            r.opt_float(s.latitude);
            r.opt_float(s.longitude);
            for v in &s.answers {
                r.value(v);
            }
            r.int(self.import_id);
            r.int(i64::from(s.provenance.file_no));
            r.int(s.provenance.row as i64);
            r.end();
        }
        let sql = format!(
            "COPY community_surveys (submission_key, community_id, survey_date, latitude, longitude,
             {}, import_id, file_no, source_row) FROM STDIN",
            answer_columns(COMMUNITY_FIELDS)
        );
        self.copy(&sql, buf)
    }

    fn insert_admin_records(&mut self, rows: &[AdminRecord]) -> Result<()> {
        let mut buf = String::new();
        for a in rows {
            let mut r = CopyRow::new(&mut buf);
            r.int(a.id);
            r.text(&a.institution);
            r.text(&a.record_key);
            r.opt_int(a.national_id.map(|n| i64::from(n.get())));
            r.opt_int(a.person_id);
            r.opt_text(a.given_names.as_deref());
            r.opt_text(a.family_names.as_deref());
            match a.birth_date {
                Some(d) => r.date(d),
                None => r.null(),
            }
            r.opt_text(a.sex.map(|s| s.as_str()));
            r.opt_int(a.district.map(|d| i64::from(d.get())));
            r.text(&a.service);
            r.date(a.event_date);
            r.opt_text(a.detail.as_deref());
            r.int(self.import_id);
            r.int(i64::from(a.provenance.file_no));
            r.int(a.provenance.row as i64);
            r.end();
        }
        self.copy(
            "COPY admin_records (id, institution, record_key, national_id, person_id, given_names,
             family_names, birth_date, sex, district_code, service, event_date, detail, import_id,
             file_no, source_row) FROM STDIN",
            buf,
        )
    }

    fn recorded_at(&self) -> &str {
        &self.started_at
    }

    fn current_households(
        &mut self,
        ids: &[i64],
    ) -> Result<Vec<(Household, vamos_domain::versions::VersionMeta)>> {
        crate::versions::current_households(self, ids)
    }

    fn current_members(
        &mut self,
        household_ids: &[i64],
    ) -> Result<Vec<(Person, vamos_domain::versions::VersionMeta)>> {
        crate::versions::current_members(self, household_ids)
    }

    fn write_versions(&mut self, set: &crate::versions::VersionSet) -> Result<()> {
        crate::versions::write(self, set)
    }

    fn insert_interviews(&mut self, rows: &[crate::HouseholdInterview]) -> Result<()> {
        let id = self.import_id;
        crate::versions::insert_interviews(self, rows, id)
    }

    fn commit(mut self: Box<Self>, finished_at: &str, summary: &str) -> Result<()> {
        let mut tx = self
            .tx
            .take()
            .ok_or_else(|| StoreError::Invalid("transacción cerrada".into()))?;
        tx.execute(
            "UPDATE imports SET status = 'completada', finished_at = $2, summary = $3 WHERE id = $1",
            &[&self.import_id, &finished_at, &summary],
        )?;
        tx.commit()?;
        Ok(())
    }

    fn rollback(mut self: Box<Self>) -> Result<()> {
        if let Some(tx) = self.tx.take() {
            tx.rollback()?;
        }
        Ok(())
    }
}

impl PostgresStore {
    /// The prepared statement for `sql`, from the cache or prepared now.
    fn statement(&mut self, sql: &str) -> Result<postgres::Statement> {
        if let Some(st) = self.statements.get(sql) {
            return Ok(st.clone());
        }
        let st = self.client.prepare(sql)?;
        if self.statements.len() >= MAX_STATEMENTS {
            self.statements.clear();
        }
        self.statements.insert(sql.to_string(), st.clone());
        Ok(st)
    }
}

impl crate::sql::Sql for PostgresStore {
    fn dialect(&self) -> Backend {
        Backend::Postgres
    }

    fn query(&mut self, sql: &str, params: &[crate::sql::Param]) -> Result<Vec<crate::sql::Row>> {
        let st = self.statement(sql)?;
        let refs = pg_params(params);
        let columns: std::sync::Arc<[String]> =
            st.columns().iter().map(|c| c.name().to_string()).collect();
        let rows = self.client.query(&st, &refs).inspect_err(|_| {
            self.statements.remove(sql);
        })?;
        pg_rows(rows, columns)
    }

    fn execute(&mut self, sql: &str, params: &[crate::sql::Param]) -> Result<u64> {
        let st = self.statement(sql)?;
        let refs = pg_params(params);
        Ok(self.client.execute(&st, &refs).inspect_err(|_| {
            // A statement may be stale after a schema change: prepare it afresh next time.
            self.statements.remove(sql);
        })?)
    }

    fn batch(&mut self, sql: &str) -> Result<()> {
        Ok(self.client.batch_execute(sql)?)
    }

    fn copy_rows(
        &mut self,
        table: &str,
        cols: &[&str],
        rows: &[Vec<crate::sql::Param>],
    ) -> Result<u64> {
        let buf = copy_text(cols, rows)?;
        let mut w = self
            .client
            .copy_in(&format!("COPY {table} ({}) FROM STDIN", cols.join(", ")))?;
        w.write_all(buf.as_bytes())?;
        Ok(w.finish()?)
    }
}

/// Driver rows as the store's [`crate::sql::Row`]s (dates as ISO text, integers widened).
fn pg_rows(
    rows: Vec<postgres::Row>,
    columns: std::sync::Arc<[String]>,
) -> Result<Vec<crate::sql::Row>> {
    use crate::sql::{Cell, Row};
    use postgres::types::Type;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let mut cells = Vec::with_capacity(columns.len());
        for (i, c) in r.columns().iter().enumerate() {
            let t = c.type_();
            let cell = if *t == Type::INT8 {
                r.try_get::<_, Option<i64>>(i)?.map(Cell::Int)
            } else if *t == Type::INT4 {
                r.try_get::<_, Option<i32>>(i)?.map(|v| Cell::Int(v.into()))
            } else if *t == Type::INT2 {
                r.try_get::<_, Option<i16>>(i)?.map(|v| Cell::Int(v.into()))
            } else if *t == Type::BOOL {
                r.try_get::<_, Option<bool>>(i)?
                    .map(|v| Cell::Int(v.into()))
            } else if *t == Type::FLOAT8 {
                r.try_get::<_, Option<f64>>(i)?.map(Cell::Real)
            } else if *t == Type::FLOAT4 {
                r.try_get::<_, Option<f32>>(i)?
                    .map(|v| Cell::Real(v.into()))
            } else if *t == Type::DATE {
                r.try_get::<_, Option<chrono::NaiveDate>>(i)?
                    .map(|d| Cell::Text(crate::iso(d)))
            } else if *t == Type::TIMESTAMPTZ {
                r.try_get::<_, Option<chrono::DateTime<chrono::Utc>>>(i)?
                    .map(|d| Cell::Text(d.to_rfc3339()))
            } else if *t == Type::BYTEA {
                r.try_get::<_, Option<Vec<u8>>>(i)?.map(Cell::Bytes)
            } else if *t == Type::VOID {
                None
            } else {
                r.try_get::<_, Option<String>>(i)?.map(Cell::Text)
            };
            cells.push(cell.unwrap_or(Cell::Null));
        }
        out.push(Row {
            cells,
            columns: columns.clone(),
        });
    }
    Ok(out)
}

/// The parameters as the driver takes them, borrowed: a list of 20,000 texts (an intake
/// application's insert) is encoded from the caller's values, not copied first.
fn pg_params(params: &[crate::sql::Param]) -> Vec<&(dyn ToSql + Sync)> {
    use crate::sql::Param;
    params
        .iter()
        .map(|p| -> &(dyn ToSql + Sync) {
            match p {
                Param::Int(v) => v,
                Param::Text(v) => v,
                Param::Real(v) => v,
                Param::Bytes(v) => v,
                Param::Ints(v) => v,
                Param::Texts(v) => v,
                Param::Reals(v) => v,
            }
        })
        .collect()
}
