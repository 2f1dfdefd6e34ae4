//! The embedded SQLite backend: the default store, one file, no server to install.
//!
//! Imports hold one `BEGIN IMMEDIATE` transaction (one writer at a time; readers go on thanks to
//! WAL) and insert through cached prepared statements with positional binding, which is as
//! close to the `sqlite3` shell's own `.import` loop as a validating importer gets.

use crate::load_sql::{event_source, queries, territory_filter, Filter};
use crate::reading::{Merge, Past, Reading};
use crate::LoadPart;
use crate::{
    answer_columns, check_len, district_range, iso, parse_iso, Backend, DistrictCounts, ImportMeta,
    ImportRecord, ImportTx, KnownPerson, MeasurementMeta, MeasurementRecord, RegistrySnapshot,
    Result, SnapshotNeeds, Store, StoreError, UnitKind,
};
use rusqlite::{params, Connection, OptionalExtension, Statement};
use vamos_domain::schema::{COMMUNITY_FIELDS, HOUSEHOLD_FIELDS, PERSON_FIELDS};
use vamos_domain::versions::{household_hash, person_hash};
use vamos_domain::{
    AdminEventRow, AdminRecord, AnswerRef, Community, CommunityRow, CommunitySurvey, DistrictCode,
    Household, HouseholdRow, NationalId, Person, PersonRow, RegistrySink, Sex, TerritoryCode,
    Value,
};

/// Migrations of the SQLite schema, in order. Append-only.
pub const MIGRATIONS: &[(&str, &str)] = &[
    (
        "0001_registry",
        include_str!("../migrations/sqlite/0001_registry.sql"),
    ),
    (
        "0002_measurements",
        include_str!("../migrations/sqlite/0002_measurements.sql"),
    ),
    (
        "0003_audit",
        include_str!("../migrations/sqlite/0003_audit.sql"),
    ),
    (
        "0004_server",
        include_str!("../migrations/sqlite/0004_server.sql"),
    ),
    (
        "0005_dci",
        include_str!("../migrations/sqlite/0005_dci.sql"),
    ),
    (
        "0006_audit_index",
        include_str!("../migrations/sqlite/0006_audit_index.sql"),
    ),
    (
        "0007_access",
        include_str!("../migrations/sqlite/0007_access.sql"),
    ),
    (
        "0008_referral_units",
        include_str!("../migrations/sqlite/0008_referral_units.sql"),
    ),
    (
        "0009_referral_due",
        include_str!("../migrations/sqlite/0009_referral_due.sql"),
    ),
    (
        "0010_community_households",
        include_str!("../migrations/sqlite/0010_community_households.sql"),
    ),
    (
        "0011_self_registrations",
        include_str!("../migrations/sqlite/0011_self_registrations.sql"),
    ),
    (
        "0012_counter_referral_log",
        include_str!("../migrations/sqlite/0012_counter_referral_log.sql"),
    ),
    (
        "0013_referral_unit_services",
        include_str!("../migrations/sqlite/0013_referral_unit_services.sql"),
    ),
    (
        "0016_audit_append_only",
        include_str!("../migrations/sqlite/0016_audit_append_only.sql"),
    ),
    (
        "0017_measurement_publication",
        include_str!("../migrations/sqlite/0017_measurement_publication.sql"),
    ),
    (
        "0018_versions",
        include_str!("../migrations/sqlite/0018_versions.sql"),
    ),
    (
        "0019_change_requests",
        include_str!("../migrations/sqlite/0019_change_requests.sql"),
    ),
    (
        "0020_grievances",
        include_str!("../migrations/sqlite/0020_grievances.sql"),
    ),
    (
        "0022_measurement_known_at",
        include_str!("../migrations/sqlite/0022_measurement_known_at.sql"),
    ),
    (
        "0023_change_units_by_change",
        include_str!("../migrations/sqlite/0023_change_units_by_change.sql"),
    ),
    (
        "0024_cases",
        include_str!("../migrations/sqlite/0024_cases.sql"),
    ),
    (
        "0025_case_candidates",
        include_str!("../migrations/sqlite/0025_case_candidates.sql"),
    ),
    (
        "0026_barriers",
        include_str!("../migrations/sqlite/0026_barriers.sql"),
    ),
    (
        "0027_import_rejects",
        include_str!("../migrations/sqlite/0027_import_rejects.sql"),
    ),
    (
        "0028_targets",
        include_str!("../migrations/sqlite/0028_targets.sql"),
    ),
    (
        "0029_planning",
        include_str!("../migrations/sqlite/0029_planning.sql"),
    ),
    (
        "0030_unit_costs",
        include_str!("../migrations/sqlite/0030_unit_costs.sql"),
    ),
    (
        "0031_ipm",
        include_str!("../migrations/sqlite/0031_ipm.sql"),
    ),
    (
        "0032_referral_deprivation",
        include_str!("../migrations/sqlite/0032_referral_deprivation.sql"),
    ),
    (
        "0033_linkage",
        include_str!("../migrations/sqlite/0033_linkage.sql"),
    ),
    (
        "0034_governance",
        include_str!("../migrations/sqlite/0034_governance.sql"),
    ),
];

/// How much of the database file the server's counter-referral writer reads through a memory
/// map ([`map_whole_file`] on its connection): all of it. A page read then costs no system
/// call and no copy into SQLite's page cache — at national scale, where the writer reads random
/// index pages of a multi-gigabyte file and every commit of another connection empties its
/// cache, that copy was a sizeable share of its time. Not the default of every connection: the
/// bulk referral generation ran slower with it (measured: BENCHMARKS.md, issue 5). SQLite caps
/// the size at the `SQLITE_MAX_MMAP_SIZE` it was built with (2 GB by default):
/// `.cargo/config.toml` raises it.
pub(crate) const MMAP_SIZE: u64 = 1 << 40;

/// Sets a SQLite connection to read its whole file through a memory map ([`MMAP_SIZE`]) and
/// returns the size SQLite took (smaller if the build caps it); on PostgreSQL does nothing and
/// returns 0.
pub(crate) fn map_whole_file(sql: &mut crate::sql::Db<'_>) -> Result<u64> {
    let sql = sql.raw();
    let size = i64::try_from(MMAP_SIZE).unwrap_or(i64::MAX);
    Ok(u64::try_from(set_pragma(sql, "mmap_size", size)?).unwrap_or_default())
}

/// The counter-referral writer's page cache, in KiB (1 GiB; every other connection has 256 MiB).
/// An application of the intake log (150,000 events) changes most leaf pages of the
/// counter-referral indexes, which at national scale is estimated at more than 256 MiB: once
/// its dirty pages fill the cache SQLite spills them into the WAL before the commit, and a
/// page changed again after is written again. With the larger cache the intake sustained more
/// (measured: BENCHMARKS.md, issue 5). Only pages in use take memory.
pub(crate) const WRITER_CACHE_KIB: u64 = 1 << 20;

/// Sets the page cache of a SQLite connection to `kib` KiB (`PRAGMA cache_size`); on
/// PostgreSQL does nothing.
pub(crate) fn cache_kib(sql: &mut crate::sql::Db<'_>, kib: u64) -> Result<()> {
    let sql = sql.raw();
    // A negative size is in KiB (a positive one in pages).
    set_pragma(sql, "cache_size", -i64::try_from(kib).unwrap_or(i64::MAX))?;
    Ok(())
}

/// Sets a numeric pragma of a SQLite connection and returns the value SQLite answers (what it
/// took); on PostgreSQL does nothing and returns 0.
fn set_pragma(sql: &mut dyn crate::sql::Sql, name: &str, value: i64) -> Result<i64> {
    if sql.dialect() != crate::Backend::Sqlite {
        return Ok(0);
    }
    Ok(sql
        .query_opt(&format!("PRAGMA {name} = {value}"), &[])?
        .and_then(|r| r.int(0))
        .unwrap_or_default())
}

/// Sets after how many pages in the WAL a commit of this SQLite connection checkpoints it
/// (`PRAGMA wal_autocheckpoint`; SQLite's default is 1,000, 4 MiB) and returns the value SQLite
/// holds; on PostgreSQL does nothing and returns 0. The counter-referral writer waits for
/// 16,000 ([`WRITER_WAL_PAGES`]) in its log commits while it uses its intake log: its
/// transactions dirty index pages at random, and a page written again before the checkpoint is
/// copied into the database once; its applications of the log set 0 (none) while the server's
/// checkpointer thread copies the WAL for them.
pub(crate) fn checkpoint_after_pages(sql: &mut crate::sql::Db<'_>, pages: u32) -> Result<u32> {
    let sql = sql.raw();
    let held = set_pragma(sql, "wal_autocheckpoint", i64::from(pages))?;
    Ok(u32::try_from(held).unwrap_or_default())
}

/// SQLite: a consistent, compacted copy of the database at `path` (`VACUUM INTO`) while others
/// may keep reading and writing.
pub fn sqlite_copy_to(sql: &mut crate::sql::Db<'_>, path: &str) -> Result<()> {
    let sql = sql.raw();
    sql.batch(&format!("VACUUM INTO '{}'", path.replace('\'', "''")))
}

/// SQLite: the database's own integrity check (`ok` when sound, else what is wrong).
pub fn sqlite_integrity_check(sql: &mut crate::sql::Db<'_>) -> Result<String> {
    let sql = sql.raw();
    Ok(sql
        .query_opt("PRAGMA integrity_check", &[])?
        .map(|r| r.text(0))
        .unwrap_or_default())
}

/// SQLite: copies what the WAL holds into the database without blocking writers (a passive
/// checkpoint; the server's checkpointer thread runs it after the intake writer's commits).
/// Does nothing on PostgreSQL.
pub(crate) fn checkpoint_passive(sql: &mut crate::sql::Db<'_>) -> Result<()> {
    let sql = sql.raw();
    if sql.dialect() == crate::Backend::Sqlite {
        sql.query_opt("PRAGMA wal_checkpoint(PASSIVE)", &[])?;
    }
    Ok(())
}

/// Starts the checkpointer (SQLite): a thread with a connection of its own that, woken after
/// each of the writer's commits (at most one wake-up waits), runs a passive checkpoint — it
/// copies what the WAL holds into the database without blocking the writer, which would
/// otherwise do it in its own commits once the WAL reaches its threshold. `None` if the thread
/// cannot be started (the writer then checkpoints alone, as before).
pub(crate) fn start_checkpointer(url: &str) -> Option<std::sync::mpsc::SyncSender<()>> {
    let (tx, rx) = std::sync::mpsc::sync_channel::<()>(1);
    let url = url.to_string();
    std::thread::Builder::new()
        .name("checkpoint".into())
        .spawn(move || {
            let mut s = match crate::open(&url) {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(motivo = %e, "checkpoint: sin conexión; el escritor copia el WAL solo");
                    return;
                }
            };
            while rx.recv().is_ok() {
                if let Err(e) = checkpoint_passive(&mut s.db()) {
                    tracing::warn!(motivo = %e, "checkpoint del WAL no hecho");
                }
            }
        })
        .ok()?;
    Some(tx)
}

/// The counter-referral writer's checkpoint threshold while it uses its intake log, in pages
/// of 4 KiB (64 MiB): with it the sustained intake of batches rose end to end. Not while it
/// applies single events at once: with it then, their tail latency was worse (measured:
/// BENCHMARKS.md, issue 5).
pub(crate) const WRITER_WAL_PAGES: u32 = 16_000;

/// SQLite's own checkpoint threshold (`SQLITE_DEFAULT_WAL_AUTOCHECKPOINT`), in pages.
pub(crate) const SQLITE_WAL_PAGES: u32 = 1_000;

/// A SQLite registry in one file.
pub struct SqliteStore {
    conn: Connection,
}

impl SqliteStore {
    /// Opens (creating if needed) the database file and sets the connection up for a
    /// write-heavy registry: WAL journal, `synchronous=NORMAL` (durable at checkpoints, never
    /// corrupt), a 256 MiB page cache, foreign keys on, up to 10 s of waiting for the write
    /// lock ([`crate::lock_wait`]).
    pub fn open(path: &str) -> Result<SqliteStore> {
        let conn = Connection::open(path)?;
        conn.execute_batch(
            "PRAGMA journal_mode = WAL;
             PRAGMA synchronous = NORMAL;
             PRAGMA foreign_keys = ON;
             PRAGMA cache_size = -262144;
             PRAGMA temp_store = MEMORY;",
        )?;
        // Waits up to 10 s for the write lock, noting that it waits (see `lock_wait`).
        conn.busy_handler(Some(crate::lock_wait::wait_for_write_lock))?;
        // The server runs a few dozen distinct statements per connection; rusqlite's default
        // cache of 16 re-prepared them in turn.
        conn.set_prepared_statement_cache_capacity(128);
        Ok(SqliteStore { conn })
    }

    /// Direct access for tests and tools inside this workspace.
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    fn is_initialised(&self) -> Result<bool> {
        Ok(self
            .conn
            .query_row(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'",
                [],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
    }

    /// Whether any past version is stored (loads then read the versions a reading picks).
    fn has_history(&self) -> Result<bool> {
        Ok(self.conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM household_history) OR EXISTS (SELECT 1 FROM person_history)",
            [],
            |r| r.get(0),
        )?)
    }
}

fn bind_value(stmt: &mut Statement<'_>, i: usize, v: &Value) -> rusqlite::Result<()> {
    match v {
        Value::Null => stmt.raw_bind_parameter(i, rusqlite::types::Null),
        Value::Int(n) => stmt.raw_bind_parameter(i, n),
        Value::Text(s) => stmt.raw_bind_parameter(i, s.as_str()),
        Value::Code(s) => stmt.raw_bind_parameter(i, *s),
        Value::Date(d) => stmt.raw_bind_parameter(i, iso(*d)),
    }
}

fn text_ref(v: rusqlite::types::ValueRef<'_>) -> Option<&str> {
    match v {
        rusqlite::types::ValueRef::Text(t) => std::str::from_utf8(t).ok(),
        _ => None,
    }
}

fn answer(v: rusqlite::types::ValueRef<'_>) -> AnswerRef<'_> {
    match v {
        rusqlite::types::ValueRef::Integer(n) => AnswerRef::Int(n),
        rusqlite::types::ValueRef::Real(x) => AnswerRef::Int(x as i64),
        rusqlite::types::ValueRef::Text(t) => std::str::from_utf8(t)
            .map(AnswerRef::Text)
            .unwrap_or(AnswerRef::Null),
        _ => AnswerRef::Null,
    }
}

/// Room for the widest answer schema; checked at compile time.
const MAX_ANSWERS: usize = 64;
const _: () = assert!(
    PERSON_FIELDS.len() <= MAX_ANSWERS
        && HOUSEHOLD_FIELDS.len() <= MAX_ANSWERS
        && COMMUNITY_FIELDS.len() <= MAX_ANSWERS
);

/// Reads `n` answer columns starting at `from` into `buf` (no allocation per row).
fn answers_from<'r, 'b>(
    r: &'r rusqlite::Row<'_>,
    from: usize,
    n: usize,
    buf: &'b mut [AnswerRef<'r>; MAX_ANSWERS],
) -> rusqlite::Result<&'b [AnswerRef<'r>]> {
    for (i, slot) in buf.iter_mut().take(n).enumerate() {
        *slot = answer(r.get_ref(from + i)?);
    }
    Ok(buf.get(..n).unwrap_or(buf.as_slice()))
}

fn placeholders(n: usize) -> String {
    (1..=n)
        .map(|i| format!("?{i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Store for SqliteStore {
    fn backend(&self) -> Backend {
        Backend::Sqlite
    }

    fn migrate(&mut self) -> Result<Vec<String>> {
        crate::migrations::run(self, MIGRATIONS)
    }

    fn begin_import(&mut self, meta: &ImportMeta) -> Result<Box<dyn ImportTx + '_>> {
        if !self.is_initialised()? {
            return Err(StoreError::NotInitialised);
        }
        self.conn.execute_batch("BEGIN IMMEDIATE")?;
        let id = match insert_import(&self.conn, meta, "en_curso", None, None) {
            Ok(id) => id,
            Err(e) => {
                let _ = self.conn.execute_batch("ROLLBACK");
                return Err(e);
            }
        };
        Ok(Box::new(SqliteImport {
            conn: &mut self.conn,
            import_id: id,
            started_at: meta.started_at.clone(),
            open: true,
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
        self.conn.execute_batch("BEGIN IMMEDIATE")?;
        match insert_import(
            &self.conn,
            meta,
            "rechazada",
            Some(finished_at),
            Some(summary),
        ) {
            Ok(id) => {
                self.conn.execute_batch("COMMIT")?;
                Ok(id)
            }
            Err(e) => {
                let _ = self.conn.execute_batch("ROLLBACK");
                Err(e)
            }
        }
    }

    fn district_counts(&mut self) -> Result<Vec<DistrictCounts>> {
        if !self.is_initialised()? {
            return Err(StoreError::NotInitialised);
        }
        let mut map: std::collections::BTreeMap<u16, DistrictCounts> = Default::default();
        let mut q = |sql: &str, set: fn(&mut DistrictCounts, u64)| -> Result<()> {
            let mut st = self.conn.prepare(sql)?;
            let mut rows = st.query([])?;
            while let Some(r) = rows.next()? {
                let d: i64 = r.get(0)?;
                let n: i64 = r.get(1)?;
                let d =
                    u16::try_from(d).map_err(|_| StoreError::Invalid(format!("distrito {d}")))?;
                let e = map.entry(d).or_insert(DistrictCounts {
                    district: d,
                    ..Default::default()
                });
                set(e, n.max(0) as u64);
            }
            Ok(())
        };
        q(
            "SELECT district_code, count(*) FROM households GROUP BY 1",
            |e, n| e.households = n,
        )?;
        q(
            "SELECT h.district_code, count(*) FROM persons p JOIN households h ON h.id = p.household_id GROUP BY 1",
            |e, n| e.persons = n,
        )?;
        q(
            "SELECT district_code, count(*) FROM communities GROUP BY 1",
            |e, n| e.communities = n,
        )?;
        q(
            "SELECT h.district_code, count(*) FROM households h JOIN imports i ON i.id = h.import_id
             WHERE i.synthetic = 1 GROUP BY 1",
            |e, n| e.synthetic_households = n,
        )?;
        q(
            "SELECT h.district_code, count(*) FROM admin_records a JOIN persons p ON p.id = a.person_id
             JOIN households h ON h.id = p.household_id GROUP BY 1",
            |e, n| e.admin_records = n,
        )?;
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
        let q = queries(
            |n| format!("?{n}"),
            territory_filter(territory),
            at,
            self.has_history()?,
        );
        match part {
            LoadPart::Units => {
                stream_communities(&self.conn, &q.communities, params![lo, hi], sink)?;
                let past = |c: &Connection, s: &mut dyn RegistrySink| {
                    stream_households(c, &q.past_households, params![lo, hi], s)
                };
                let merge = versioned(&self.conn, past, &q.skip_households, params![lo, hi], sink)?;
                let mut merge = merge;
                stream_households(&self.conn, &q.households, params![lo, hi], &mut merge)?;
                merge.finish();
                Ok(())
            }
            LoadPart::Persons { ids: (from, to) } => {
                let past = |c: &Connection, s: &mut dyn RegistrySink| {
                    stream_persons(c, &q.past_persons, params![lo, hi, from, to], s)
                };
                let mut merge = versioned(
                    &self.conn,
                    past,
                    &q.skip_persons,
                    params![lo, hi, from, to],
                    sink,
                )?;
                stream_persons(
                    &self.conn,
                    &q.persons,
                    params![lo, hi, from, to],
                    &mut merge,
                )?;
                merge.finish();
                Ok(())
            }
            LoadPart::Events {
                counter_referrals_through,
            } => stream_events(
                &self.conn,
                &q.events,
                params![lo, hi, counter_referrals_through],
                sink,
            ),
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
        let list = json_list(communities);
        let q = queries(
            |n| format!("?{n}"),
            Filter::Communities("IN (SELECT value FROM json_each(?1))"),
            at,
            self.has_history()?,
        );
        stream_communities(&self.conn, &q.communities, params![list], sink)?;
        let past = |c: &Connection, s: &mut dyn RegistrySink| {
            stream_households(c, &q.past_households, params![list], s)
        };
        let mut merge = versioned(&self.conn, past, &q.skip_households, params![list], sink)?;
        stream_households(&self.conn, &q.households, params![list], &mut merge)?;
        merge.finish();
        let past = |c: &Connection, s: &mut dyn RegistrySink| {
            stream_persons(c, &q.past_persons, params![list], s)
        };
        let mut merge = versioned(&self.conn, past, &q.skip_persons, params![list], sink)?;
        stream_persons(&self.conn, &q.persons, params![list], &mut merge)?;
        merge.finish();
        stream_events(
            &self.conn,
            &q.events,
            params![list, counter_referrals_through],
            sink,
        )
    }

    fn person_id_bounds(&mut self, territory: TerritoryCode) -> Result<Option<(i64, i64)>> {
        if !self.is_initialised()? {
            return Err(StoreError::NotInitialised);
        }
        let (lo, hi) = district_range(territory);
        let q = queries(
            |n| format!("?{n}"),
            territory_filter(territory),
            &Reading::at(chrono::NaiveDate::MAX),
            self.has_history()?,
        );
        let (a, b): (Option<i64>, Option<i64>) =
            self.conn
                .query_row(&q.bounds, params![lo, hi], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(a.zip(b))
    }

    fn reopen(&self) -> Result<Box<dyn Store>> {
        let path = self
            .conn
            .path()
            .filter(|p| !p.is_empty())
            .ok_or_else(|| StoreError::Invalid("base de datos sin archivo".into()))?;
        Ok(Box::new(SqliteStore::open(path)?))
    }

    fn begin_read(&mut self) -> Result<i64> {
        self.conn.execute_batch("BEGIN DEFERRED")?;
        // The first read starts the snapshot; its answer identifies the registry's state.
        Ok(self
            .conn
            .query_row("SELECT coalesce(max(id), 0) FROM imports", [], |r| r.get(0))?)
    }

    fn end_read(&mut self) -> Result<()> {
        if !self.conn.is_autocommit() {
            self.conn.execute_batch("COMMIT")?;
        }
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
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let id: i64 = tx.query_row(
            "SELECT coalesce(max(id), 0) + 1 FROM measurements",
            [],
            |r| r.get(0),
        )?;
        tx.execute(
            "INSERT INTO measurements (id, as_of, catalogue_version, catalogue_label, territory, synthetic, created_at, details, known_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![id, iso(meta.as_of), meta.catalogue_version, meta.catalogue_label, meta.territory, meta.synthetic, meta.created_at, meta.details, meta.known_at],
        )?;
        {
            let mut st = tx.prepare("INSERT INTO measurement_districts (measurement_id, district_code, logros) VALUES (?1, ?2, ?3)")?;
            for (d, json) in districts {
                st.execute(params![id, d, json])?;
            }
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
        let rec = self
            .conn
            .query_row(
                "SELECT id, as_of, catalogue_version, catalogue_label, territory, synthetic, created_at, details, cr_applied_id, cr_updated_at, known_at
                 FROM measurements WHERE id = coalesce(?1, (SELECT max(id) FROM measurements))",
                [id],
                |r| {
                    let details: String = r.get(7)?;
                    Ok(MeasurementRecord {
                        id: r.get(0)?,
                        as_of: r.get(1)?,
                        catalogue_version: r.get(2)?,
                        catalogue_label: r.get(3)?,
                        territory: r.get(4)?,
                        synthetic: r.get::<_, i64>(5)? != 0,
                        created_at: r.get(6)?,
                        details: serde_json::from_str(&details).unwrap_or(serde_json::Value::Null),
                        counter_referrals_applied_through: r.get(8)?,
                        counter_referrals_updated_at: r.get(9)?,
                        known_at: r.get(10)?,
                    })
                },
            )
            .optional()?;
        let Some(rec) = rec else { return Ok(None) };
        let mut st = self.conn.prepare("SELECT district_code, logros FROM measurement_districts WHERE measurement_id = ?1 ORDER BY district_code")?;
        let rows = st
            .query_map([rec.id], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let districts = rows
            .into_iter()
            .filter_map(|(d, j)| u16::try_from(d).ok().map(|d| (d, j)))
            .collect();
        Ok(Some((rec, districts)))
    }

    fn has_synthetic_data(&mut self) -> Result<bool> {
        if !self.is_initialised()? {
            return Err(StoreError::NotInitialised);
        }
        const SQL: &str =
            "SELECT EXISTS (SELECT 1 FROM imports WHERE synthetic = 1 AND status = 'completada')";
        Ok(self.conn.query_row(SQL, [], |r| r.get::<_, i64>(0))? != 0)
    }

    fn locate(&mut self, kind: UnitKind, key: i64) -> Result<Option<(i64, u16)>> {
        if !self.is_initialised()? {
            return Err(StoreError::NotInitialised);
        }
        let sql = match kind {
            UnitKind::Person => {
                "SELECT p.id, h.district_code FROM persons p JOIN households h ON h.id = p.household_id
                 WHERE p.id = ?1"
            }
            UnitKind::Household => "SELECT id, district_code FROM households WHERE id = ?1",
            UnitKind::Community => "SELECT id, district_code FROM communities WHERE id = ?1",
        };
        let r: Option<(i64, i64)> = self
            .conn
            .query_row(sql, [key], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        Ok(r.and_then(|(id, d)| u16::try_from(d).ok().map(|d| (id, d))))
    }

    fn locate_national_id(&mut self, national_id: i64) -> Result<Option<(i64, u16)>> {
        if !self.is_initialised()? {
            return Err(StoreError::NotInitialised);
        }
        let r: Option<(i64, i64)> = self
            .conn
            .query_row(
                "SELECT p.id, h.district_code FROM persons p JOIN households h ON h.id = p.household_id
                 WHERE p.national_id = ?1 ORDER BY p.status <> 'activo', p.id LIMIT 1",
                [national_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        Ok(r.and_then(|(id, d)| u16::try_from(d).ok().map(|d| (id, d))))
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
        let mut st = self.conn.prepare(
            "SELECT id, kind, source, synthetic, status, started_at, finished_at, summary
             FROM imports ORDER BY id DESC LIMIT ?1",
        )?;
        let rows = st.query_map([limit], |r| {
            let summary: Option<String> = r.get(7)?;
            Ok(ImportRecord {
                id: r.get(0)?,
                kind: r.get(1)?,
                source: r.get(2)?,
                synthetic: r.get::<_, i64>(3)? != 0,
                status: r.get(4)?,
                started_at: r.get(5)?,
                finished_at: r.get(6)?,
                summary: summary.and_then(|s| serde_json::from_str(&s).ok()),
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }
}

fn insert_import(
    conn: &Connection,
    meta: &ImportMeta,
    status: &str,
    finished_at: Option<&str>,
    summary: Option<&str>,
) -> Result<i64> {
    let id: i64 = conn.query_row("SELECT coalesce(max(id), 0) + 1 FROM imports", [], |r| {
        r.get(0)
    })?;
    conn.execute(
        "INSERT INTO imports (id, kind, source, synthetic, status, started_at, finished_at, summary)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![id, meta.kind.as_str(), meta.source, meta.synthetic, status, meta.started_at, finished_at, summary],
    )?;
    for (i, path) in meta.files.iter().enumerate() {
        conn.execute(
            "INSERT INTO import_files (import_id, file_no, path) VALUES (?1, ?2, ?3)",
            params![id, i as i64, path],
        )?;
    }
    Ok(id)
}

struct SqliteImport<'c> {
    conn: &'c mut Connection,
    import_id: i64,
    /// Written as each new row's `recorded_at` (when the registry learnt it).
    started_at: String,
    open: bool,
}

impl Drop for SqliteImport<'_> {
    fn drop(&mut self) {
        if self.open {
            // Dropped without commit (error or panic upstream): nothing of this run survives.
            let _ = self.conn.execute_batch("ROLLBACK");
        }
    }
}

fn next_id(conn: &Connection, table: &str) -> Result<i64> {
    Ok(conn.query_row(
        &format!("SELECT coalesce(max(id), 0) + 1 FROM {table}"),
        [],
        |r| r.get(0),
    )?)
}

impl ImportTx for SqliteImport<'_> {
    fn import_id(&self) -> i64 {
        self.import_id
    }

    fn snapshot(&mut self, needs: SnapshotNeeds) -> Result<RegistrySnapshot> {
        let c = &*self.conn;
        let mut s = RegistrySnapshot {
            next_household_id: next_id(c, "households")?,
            next_person_id: next_id(c, "persons")?,
            next_community_id: next_id(c, "communities")?,
            next_admin_id: next_id(c, "admin_records")?,
            ..Default::default()
        };
        if needs.household_keys {
            let mut st = c.prepare(crate::versions::KNOWN_KEYS_SQL)?;
            let mut rows = st.query([])?;
            while let Some(r) = rows.next()? {
                s.household_keys.insert(r.get(0)?, r.get(1)?);
            }
        }
        if needs.national_ids {
            let mut st = c.prepare(
                "SELECT national_id, id, birth_date, household_id FROM persons
                 WHERE national_id IS NOT NULL",
            )?;
            let mut rows = st.query([])?;
            while let Some(r) = rows.next()? {
                let nid: i64 = r.get(0)?;
                let date: String = r.get(2)?;
                if let (Some(nid), Ok(birth_date)) = (
                    NationalId::from_stored(nid),
                    chrono::NaiveDate::parse_from_str(&date, "%Y-%m-%d"),
                ) {
                    s.national_ids.insert(
                        nid,
                        KnownPerson {
                            person_id: r.get(1)?,
                            birth_date,
                            household_id: r.get(3)?,
                        },
                    );
                }
            }
        }
        if needs.communities {
            let mut st = c.prepare("SELECT district_code, name_key, id FROM communities")?;
            let mut rows = st.query([])?;
            while let Some(r) = rows.next()? {
                let d: i64 = r.get(0)?;
                if let Some(d) = DistrictCode::from_stored(d) {
                    s.communities.insert((d, r.get(1)?), r.get(2)?);
                }
            }
        }
        if needs.survey_keys {
            let mut st = c.prepare("SELECT submission_key FROM community_surveys")?;
            let mut rows = st.query([])?;
            while let Some(r) = rows.next()? {
                s.survey_keys.insert(r.get(0)?);
            }
        }
        if needs.admin_keys {
            let mut st = c.prepare("SELECT institution, record_key FROM admin_records")?;
            let mut rows = st.query([])?;
            while let Some(r) = rows.next()? {
                s.admin_keys.insert((r.get(0)?, r.get(1)?));
            }
        }
        Ok(s)
    }

    fn insert_communities(&mut self, rows: &[Community]) -> Result<()> {
        let mut st = self.conn.prepare_cached(
            "INSERT INTO communities (id, district_code, name, name_key, area, import_id)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?;
        for c in rows {
            st.execute(params![
                c.id,
                c.district.get(),
                c.name,
                Community::name_key(&c.name),
                c.area,
                self.import_id
            ])?;
        }
        Ok(())
    }

    fn insert_households(&mut self, rows: &[Household]) -> Result<()> {
        let fixed = 10;
        let sql = format!(
            "INSERT INTO households (id, submission_key, form, district_code, community_id, area,
             address, latitude, longitude, interview_date, {}, import_id, file_no, source_row,
             recorded_at, content_hash)
             VALUES ({})",
            answer_columns(HOUSEHOLD_FIELDS),
            placeholders(fixed + HOUSEHOLD_FIELDS.len() + 5)
        );
        let mut st = self.conn.prepare_cached(&sql)?;
        for h in rows {
            check_len(&h.answers, HOUSEHOLD_FIELDS.len(), "hogar")?;
            st.raw_bind_parameter(1, h.id)?;
            st.raw_bind_parameter(2, h.submission_key.as_str())?;
            st.raw_bind_parameter(3, h.form.as_str())?;
            st.raw_bind_parameter(4, h.district.get())?;
            st.raw_bind_parameter(5, h.community_id)?;
            st.raw_bind_parameter(6, h.area.as_deref())?;
            st.raw_bind_parameter(7, h.address.as_deref())?;
            st.raw_bind_parameter(8, h.latitude)?;
            st.raw_bind_parameter(9, h.longitude)?;
            st.raw_bind_parameter(10, iso(h.interview_date))?;
            let mut i = fixed + 1;
            for v in &h.answers {
                bind_value(&mut st, i, v)?;
                i += 1;
            }
            st.raw_bind_parameter(i, self.import_id)?;
            st.raw_bind_parameter(i + 1, h.provenance.file_no)?;
            st.raw_bind_parameter(i + 2, h.provenance.row as i64)?;
            st.raw_bind_parameter(i + 3, self.started_at.as_str())?;
            st.raw_bind_parameter(i + 4, household_hash(h))?;
            st.raw_execute()?;
        }
        Ok(())
    }

    fn insert_persons(&mut self, rows: &[Person]) -> Result<()> {
        let fixed = 9;
        let sql = format!(
            "INSERT INTO persons (id, household_id, submission_key, given_names, family_names,
             national_id, birth_date, sex, relationship, {}, import_id, file_no, source_row,
             recorded_at, content_hash)
             VALUES ({})",
            answer_columns(PERSON_FIELDS),
            placeholders(fixed + PERSON_FIELDS.len() + 5)
        );
        let mut st = self.conn.prepare_cached(&sql)?;
        for p in rows {
            check_len(&p.answers, PERSON_FIELDS.len(), "persona")?;
            st.raw_bind_parameter(1, p.id)?;
            st.raw_bind_parameter(2, p.household_id)?;
            st.raw_bind_parameter(3, p.submission_key.as_str())?;
            st.raw_bind_parameter(4, p.given_names.as_str())?;
            st.raw_bind_parameter(5, p.family_names.as_str())?;
            st.raw_bind_parameter(6, p.national_id.map(|n| n.get()))?;
            st.raw_bind_parameter(7, iso(p.birth_date))?;
            st.raw_bind_parameter(8, p.sex.as_str())?;
            st.raw_bind_parameter(9, p.relationship.as_str())?;
            let mut i = fixed + 1;
            for v in &p.answers {
                bind_value(&mut st, i, v)?;
                i += 1;
            }
            st.raw_bind_parameter(i, self.import_id)?;
            st.raw_bind_parameter(i + 1, p.provenance.file_no)?;
            st.raw_bind_parameter(i + 2, p.provenance.row as i64)?;
            st.raw_bind_parameter(i + 3, self.started_at.as_str())?;
            st.raw_bind_parameter(i + 4, person_hash(p))?;
            st.raw_execute()?;
        }
        Ok(())
    }

    fn insert_community_surveys(&mut self, rows: &[CommunitySurvey]) -> Result<()> {
        let sql = format!(
            "INSERT INTO community_surveys (submission_key, community_id, survey_date, latitude,
             longitude, {}, import_id, file_no, source_row) VALUES ({})",
            answer_columns(COMMUNITY_FIELDS),
            placeholders(5 + COMMUNITY_FIELDS.len() + 3)
        );
        let mut st = self.conn.prepare_cached(&sql)?;
        for s in rows {
            check_len(&s.answers, COMMUNITY_FIELDS.len(), "comunidad")?;
            st.raw_bind_parameter(1, s.submission_key.as_str())?;
            st.raw_bind_parameter(2, s.community_id)?;
            st.raw_bind_parameter(3, iso(s.survey_date))?;
            st.raw_bind_parameter(4, s.latitude)?;
            st.raw_bind_parameter(5, s.longitude)?;
            let mut i = 6;
            for v in &s.answers {
                bind_value(&mut st, i, v)?;
                i += 1;
            }
            st.raw_bind_parameter(i, self.import_id)?;
            st.raw_bind_parameter(i + 1, s.provenance.file_no)?;
            st.raw_bind_parameter(i + 2, s.provenance.row as i64)?;
            st.raw_execute()?;
        }
        Ok(())
    }

    fn insert_admin_records(&mut self, rows: &[AdminRecord]) -> Result<()> {
        let mut st = self.conn.prepare_cached(
            "INSERT INTO admin_records (id, institution, record_key, national_id, person_id,
             given_names, family_names, birth_date, sex, district_code, service, event_date, detail,
             import_id, file_no, source_row)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
        )?;
        for a in rows {
            st.execute(params![
                a.id,
                a.institution,
                a.record_key,
                a.national_id.map(|n| n.get()),
                a.person_id,
                a.given_names,
                a.family_names,
                a.birth_date.map(iso),
                a.sex.map(|s| s.as_str()),
                a.district.map(|d| d.get()),
                a.service,
                iso(a.event_date),
                a.detail,
                self.import_id,
                a.provenance.file_no,
                a.provenance.row as i64
            ])?;
        }
        Ok(())
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
        self.conn.execute(
            "UPDATE imports SET status = 'completada', finished_at = ?2, summary = ?3 WHERE id = ?1",
            params![self.import_id, finished_at, summary],
        )?;
        self.conn.execute_batch("COMMIT")?;
        self.open = false;
        Ok(())
    }

    fn rollback(mut self: Box<Self>) -> Result<()> {
        self.open = false;
        self.conn.execute_batch("ROLLBACK")?;
        Ok(())
    }
}

/// A list of ids as a JSON array (bound to `json_each`).
fn json_list(ids: &[i64]) -> String {
    let mut s = String::with_capacity(ids.len() * 8 + 2);
    s.push('[');
    for (i, id) in ids.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        s.push_str(&id.to_string());
    }
    s.push(']');
    s
}

fn bad(what: &str) -> StoreError {
    StoreError::Invalid(format!("dato almacenado inválido: {what}"))
}

fn district(n: i64) -> Result<DistrictCode> {
    DistrictCode::from_stored(n).ok_or_else(|| bad("distrito"))
}

/// Reads what versions change in a load — the past versions picked (`past`) and the ids of
/// the current rows they outrank (`skip`, a query of ids) — and returns the sink the current
/// rows go through. Both are empty without history (empty SQL: nothing is read).
fn versioned<'s>(
    conn: &Connection,
    past: impl FnOnce(&Connection, &mut dyn RegistrySink) -> Result<()>,
    skip: &str,
    params: &[&dyn rusqlite::ToSql],
    sink: &'s mut dyn RegistrySink,
) -> Result<Merge<'s>> {
    let mut picked = Past::default();
    let mut skipped = rustc_hash::FxHashSet::default();
    if !skip.is_empty() {
        past(conn, &mut picked)?;
        let mut st = conn.prepare(skip)?;
        let mut rows = st.query(params)?;
        while let Some(r) = rows.next()? {
            skipped.insert(r.get::<_, i64>(0)?);
        }
    }
    Ok(Merge::new(sink, picked, skipped))
}

/// Streams the rows of a communities load query to `sink`.
fn stream_communities(
    conn: &Connection,
    sql: &str,
    params: &[&dyn rusqlite::ToSql],
    sink: &mut dyn RegistrySink,
) -> Result<()> {
    let mut st = conn.prepare(sql)?;
    let mut rows = st.query(params)?;
    while let Some(r) = rows.next()? {
        let mut buf = [AnswerRef::Null; MAX_ANSWERS];
        let row_answers = answers_from(r, 4, COMMUNITY_FIELDS.len(), &mut buf)?;
        let date: Option<String> = r.get(3)?;
        sink.community(&CommunityRow {
            id: r.get(0)?,
            district: district(r.get(1)?)?,
            area: text_ref(r.get_ref(2)?),
            survey_date: date.as_deref().and_then(parse_iso),
            answers: row_answers,
        });
    }
    Ok(())
}

/// Streams the rows of a households load query to `sink`.
fn stream_households(
    conn: &Connection,
    sql: &str,
    params: &[&dyn rusqlite::ToSql],
    sink: &mut dyn RegistrySink,
) -> Result<()> {
    let mut st = conn.prepare(sql)?;
    let mut rows = st.query(params)?;
    while let Some(r) = rows.next()? {
        let mut buf = [AnswerRef::Null; MAX_ANSWERS];
        let answers = answers_from(r, 5, HOUSEHOLD_FIELDS.len(), &mut buf)?;
        let date = text_ref(r.get_ref(4)?)
            .and_then(parse_iso)
            .ok_or_else(|| bad("fecha de entrevista"))?;
        sink.household(&HouseholdRow {
            id: r.get(0)?,
            district: district(r.get(1)?)?,
            community_id: r.get(2)?,
            area: text_ref(r.get_ref(3)?),
            interview_date: date,
            answers,
        });
    }
    Ok(())
}

/// Streams the rows of a persons load query to `sink`.
fn stream_persons(
    conn: &Connection,
    sql: &str,
    params: &[&dyn rusqlite::ToSql],
    sink: &mut dyn RegistrySink,
) -> Result<()> {
    let mut st = conn.prepare(sql)?;
    let mut rows = st.query(params)?;
    while let Some(r) = rows.next()? {
        let mut buf = [AnswerRef::Null; MAX_ANSWERS];
        let answers = answers_from(r, 6, PERSON_FIELDS.len(), &mut buf)?;
        let nid: Option<i64> = r.get(2)?;
        sink.person(&PersonRow {
            id: r.get(0)?,
            household_id: r.get(1)?,
            national_id: nid.and_then(NationalId::from_stored),
            birth_date: text_ref(r.get_ref(3)?)
                .and_then(parse_iso)
                .ok_or_else(|| bad("fecha de nacimiento"))?,
            sex: text_ref(r.get_ref(4)?)
                .and_then(Sex::parse)
                .ok_or_else(|| bad("sexo"))?,
            relationship: text_ref(r.get_ref(5)?).unwrap_or(""),
            answers,
        });
    }
    Ok(())
}

/// Streams the rows of an events load query to `sink`.
fn stream_events(
    conn: &Connection,
    sql: &str,
    params: &[&dyn rusqlite::ToSql],
    sink: &mut dyn RegistrySink,
) -> Result<()> {
    let mut st = conn.prepare(sql)?;
    let mut rows = st.query(params)?;
    while let Some(r) = rows.next()? {
        let kind = r
            .get_ref(4)?
            .as_i64()
            .map_err(|_| bad("tipo de evidencia"))?;
        sink.admin_event(&AdminEventRow {
            person_id: r.get(0)?,
            source: event_source(kind, text_ref(r.get_ref(1)?).unwrap_or(""))
                .ok_or_else(|| bad("tipo de evidencia"))?,
            service: text_ref(r.get_ref(2)?).unwrap_or(""),
            event_date: text_ref(r.get_ref(3)?)
                .and_then(parse_iso)
                .ok_or_else(|| bad("fecha del evento"))?,
        });
    }
    Ok(())
}

impl crate::sql::Sql for SqliteStore {
    fn dialect(&self) -> Backend {
        Backend::Sqlite
    }
    fn query(&mut self, sql: &str, params: &[crate::sql::Param]) -> Result<Vec<crate::sql::Row>> {
        conn_query(&self.conn, sql, params)
    }
    fn execute(&mut self, sql: &str, params: &[crate::sql::Param]) -> Result<u64> {
        conn_execute(&self.conn, sql, params)
    }
    fn batch(&mut self, sql: &str) -> Result<()> {
        Ok(self.conn.execute_batch(sql)?)
    }
    /// Prepared once, bound and stepped per row: a one-row statement needs no statement
    /// journal, where a multi-row `VALUES` list copied every page it changed into one.
    fn execute_many(&mut self, sql: &str, rows: &[Vec<crate::sql::Param>]) -> Result<u64> {
        conn_execute_many(&self.conn, sql, rows)
    }
}

/// The import's transaction as the store's SQL executor (the re-interview path reuses
/// [`crate::versions`]); the transaction is already open, so statements run inside it.
impl crate::sql::Sql for SqliteImport<'_> {
    fn dialect(&self) -> Backend {
        Backend::Sqlite
    }
    fn query(&mut self, sql: &str, params: &[crate::sql::Param]) -> Result<Vec<crate::sql::Row>> {
        conn_query(self.conn, sql, params)
    }
    fn execute(&mut self, sql: &str, params: &[crate::sql::Param]) -> Result<u64> {
        conn_execute(self.conn, sql, params)
    }
    fn batch(&mut self, sql: &str) -> Result<()> {
        Ok(self.conn.execute_batch(sql)?)
    }
    fn execute_many(&mut self, sql: &str, rows: &[Vec<crate::sql::Param>]) -> Result<u64> {
        conn_execute_many(self.conn, sql, rows)
    }
}

fn conn_query(
    conn: &Connection,
    sql: &str,
    params: &[crate::sql::Param],
) -> Result<Vec<crate::sql::Row>> {
    use crate::sql::{Cell, Row};
    use rusqlite::types::ValueRef;
    let mut st = conn.prepare_cached(&crate::sql::sqlite_placeholders(sql))?;
    bind_params(&mut st, params)?;
    let columns: std::sync::Arc<[String]> =
        st.column_names().iter().map(|c| c.to_string()).collect();
    let n = columns.len();
    let mut rows = st.raw_query();
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        let mut cells = Vec::with_capacity(n);
        for i in 0..n {
            cells.push(match r.get_ref(i)? {
                ValueRef::Null => Cell::Null,
                ValueRef::Integer(v) => Cell::Int(v),
                ValueRef::Real(v) => Cell::Real(v),
                ValueRef::Text(t) => Cell::Text(String::from_utf8_lossy(t).into_owned()),
                ValueRef::Blob(b) => Cell::Bytes(b.to_vec()),
            });
        }
        out.push(Row {
            cells,
            columns: columns.clone(),
        });
    }
    Ok(out)
}

fn conn_execute(conn: &Connection, sql: &str, params: &[crate::sql::Param]) -> Result<u64> {
    let mut st = conn.prepare_cached(&crate::sql::sqlite_placeholders(sql))?;
    bind_params(&mut st, params)?;
    Ok(st.raw_execute()? as u64)
}

fn conn_execute_many(conn: &Connection, sql: &str, rows: &[Vec<crate::sql::Param>]) -> Result<u64> {
    let own_tx = conn.is_autocommit();
    if own_tx {
        conn.execute_batch("BEGIN IMMEDIATE")?;
    }
    let run = |conn: &Connection| -> Result<u64> {
        let mut st = conn.prepare_cached(&crate::sql::sqlite_placeholders(sql))?;
        let mut changed = 0;
        for row in rows {
            bind_params(&mut st, row)?;
            changed += st.raw_execute()? as u64;
        }
        Ok(changed)
    };
    let r = run(conn);
    if own_tx {
        match &r {
            Ok(_) => conn.execute_batch("COMMIT")?,
            Err(_) => {
                let _ = conn.execute_batch("ROLLBACK");
            }
        }
    }
    r
}

fn bind_params(st: &mut Statement<'_>, params: &[crate::sql::Param]) -> Result<()> {
    use crate::sql::Param;
    if st.parameter_count() != params.len() {
        return Err(StoreError::Invalid(format!(
            "consulta con {} parámetros y {} valores",
            st.parameter_count(),
            params.len()
        )));
    }
    for (i, p) in params.iter().enumerate() {
        match p {
            Param::Int(v) => st.raw_bind_parameter(i + 1, v)?,
            Param::Text(v) => st.raw_bind_parameter(i + 1, v)?,
            Param::Real(v) => st.raw_bind_parameter(i + 1, v)?,
            Param::Bytes(v) => st.raw_bind_parameter(i + 1, v)?,
            Param::Ints(_) | Param::Texts(_) | Param::Reals(_) => {
                return Err(StoreError::Invalid(
                    "parámetro de lista: solo en PostgreSQL".into(),
                ))
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod checkpointer_tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[test]
    fn the_checkpointer_copies_the_wal_into_the_database_when_woken() {
        let db = crate::testing::sqlite_db();
        let mut s = db.open();
        // The writer's own commits leave the WAL alone (no automatic checkpoint).
        checkpoint_after_pages(&mut s.db(), 0).unwrap();
        let wake = start_checkpointer(&db.url).unwrap();
        // (frames in the WAL, frames copied into the database) as a passive checkpoint by a
        // third party finds them — it copies what is left, so ask only once done.
        let wal = |s: &mut Box<dyn crate::Store>| {
            let r = s
                .db()
                .raw()
                .query_opt("PRAGMA wal_checkpoint(PASSIVE)", &[])
                .unwrap()
                .unwrap();
            (r.int(1).unwrap(), r.int(2).unwrap())
        };
        s.db()
            .raw()
            .batch("CREATE TABLE t (x TEXT); INSERT INTO t SELECT hex(randomblob(500)) FROM (WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000) SELECT i FROM n)")
            .unwrap();
        let size = |p: &str| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
        let file = db.url.trim_start_matches("sqlite:").to_string();
        let before = size(&file);
        wake.try_send(()).unwrap();
        // Copied by the checkpointer: the database file grows to hold the new pages.
        let deadline = Instant::now() + Duration::from_secs(20);
        while size(&file) <= before + 1_000_000 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(
            size(&file) > before + 1_000_000,
            "{} -> {}",
            before,
            size(&file)
        );
        let (frames, copied) = wal(&mut s);
        assert_eq!(frames, copied);
    }
}
