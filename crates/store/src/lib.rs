//! Vamos storage: one narrow trait over the registry tables, with an embedded SQLite backend
//! (the default: a file, no server) and a PostgreSQL backend (production).
//!
//! The backend is chosen once from the URL (`sqlite:<path>` or `postgres://…`); callers hold a
//! `Box<dyn Store>`. Bulk paths are built in: an import runs in one transaction, SQLite with
//! prepared statements reused across batches, PostgreSQL with `COPY … FROM STDIN`.
//! Architecture invariant: the store has no business rules — validation happened before a
//! record reached it — and knows nothing of files, HTTP or the clock (timestamps are passed in).

pub mod accounts;
pub mod audit;
pub mod barriers;
mod bulk;
pub mod cases;
pub mod changes;
pub mod counter_referrals;
// The intake log's encoding and the persons' places are parts of counter-referrals, kept at
// their old paths for the crates above.
pub use counter_referrals::{intake_log, places};
pub mod budget;
pub mod costing;
pub mod dci;
pub mod delivery_points;
pub mod governance;
pub mod grievances;
pub mod heavy_writer;
pub mod ipm;
pub mod linkage;
mod load_sql;
mod lock_wait;
pub mod management_agreements;
pub mod measurements;
pub mod microdata;
mod migrations;
pub mod plans;
mod postgres_store;
pub mod reading;
pub mod referrals;
pub mod rejects;
pub mod reports;
pub mod self_registrations;
pub mod sql;
mod sqlite_store;
pub mod targets;
pub mod testing;
pub mod versions;
pub mod views;

pub use postgres_store::PostgresStore;
pub use reading::Reading;
pub use sql::Db;
pub use sqlite_store::{sqlite_copy_to, sqlite_integrity_check, SqliteStore};

use rustc_hash::{FxHashMap, FxHashSet};
use serde::Serialize;
use vamos_domain::{
    AdminRecord, Community, CommunitySurvey, DistrictCode, Household, ImportKind, NationalId,
    PartitionedSink, Person, RegistrySink, TerritoryCode, Value,
};

/// Everything that can go wrong in the store, in words an operator can act on.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("URL de base de datos no reconocida «{0}»: use sqlite:<archivo> o postgres://usuario@servidor/base")]
    BadUrl(String),
    #[error("SQLite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("PostgreSQL: {0}")]
    Postgres(String),
    #[error("E/S: {0}")]
    Io(#[from] std::io::Error),
    #[error("la base de datos no está inicializada: ejecute «vamos db init --db <URL>» primero")]
    NotInitialised,
    #[error("{0}")]
    Invalid(String),
    /// The data moved on since the caller read it (decided already, changed meanwhile).
    #[error("{0}")]
    Conflict(String),
}

impl From<postgres::Error> for StoreError {
    /// Keeps the server's own message (the driver's Display says only "db error").
    fn from(e: postgres::Error) -> Self {
        match e.as_db_error() {
            Some(db) => StoreError::Postgres(format!("{} ({})", db.message(), db.code().code())),
            None => StoreError::Postgres(e.to_string()),
        }
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Which backend a store is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Opens the store named by a URL: `sqlite:<path>` / `sqlite://<path>` or `postgres://…` /
/// `postgresql://…`. Does not migrate; see [`Store::migrate`].
pub fn open(url: &str) -> Result<Box<dyn Store>> {
    if let Some(path) = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
    {
        if path.is_empty() {
            return Err(StoreError::BadUrl(url.to_string()));
        }
        Ok(Box::new(SqliteStore::open(path)?))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Box::new(PostgresStore::connect(url)?))
    } else {
        Err(StoreError::BadUrl(url.to_string()))
    }
}

/// Describes an import run as it starts.
#[derive(Debug, Clone, Serialize)]
pub struct ImportMeta {
    pub kind: ImportKind,
    /// Source institution or survey operator (e.g. `UTGS`, `MEC`).
    pub source: Option<String>,
    pub synthetic: bool,
    /// RFC 3339 timestamp supplied by the caller.
    pub started_at: String,
    pub files: Vec<String>,
}

/// A submission read for a household that did not become its current row's key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HouseholdInterview {
    pub submission_key: String,
    pub household_id: i64,
    pub interview_date: chrono::NaiveDate,
    /// `sin_cambios` | `actualizado` | `en_revision`.
    pub outcome: &'static str,
}

/// What an import needs to know about the registry before validating rows.
#[derive(Debug, Clone, Copy, Default)]
pub struct SnapshotNeeds {
    pub household_keys: bool,
    pub national_ids: bool,
    pub communities: bool,
    pub survey_keys: bool,
    /// Load admin record keys of these institutions' registries.
    pub admin_keys: bool,
}

/// A registered person as seen by the duplicate and matching checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KnownPerson {
    pub person_id: i64,
    pub birth_date: chrono::NaiveDate,
    /// The person's household in its current version (a re-interview matches by it).
    pub household_id: i64,
}

/// The parts of the registry an import validates against, loaded once inside its transaction.
#[derive(Debug, Default)]
pub struct RegistrySnapshot {
    /// Every submission key the registry has read for a household — current rows, earlier
    /// versions and re-interviews on record (`household_interviews`) — with that household's id.
    pub household_keys: FxHashMap<String, i64>,
    pub national_ids: FxHashMap<NationalId, KnownPerson>,
    pub communities: FxHashMap<(DistrictCode, String), i64>,
    pub survey_keys: FxHashSet<String>,
    pub admin_keys: FxHashSet<(String, String)>,
    pub next_household_id: i64,
    pub next_person_id: i64,
    pub next_community_id: i64,
    pub next_admin_id: i64,
}

/// Counts of one district.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct DistrictCounts {
    pub district: u16,
    pub persons: u64,
    pub households: u64,
    pub communities: u64,
    pub synthetic_households: u64,
    pub admin_records: u64,
}

/// One row of the import history.
#[derive(Debug, Clone, Serialize)]
pub struct ImportRecord {
    pub id: i64,
    pub kind: String,
    pub source: Option<String>,
    pub synthetic: bool,
    pub status: String,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub summary: Option<serde_json::Value>,
}

/// A classification run as it is saved.
#[derive(Debug, Clone, Serialize)]
pub struct MeasurementMeta {
    pub as_of: chrono::NaiveDate,
    pub catalogue_version: String,
    pub catalogue_label: String,
    /// The territory classified (`PY`, `DD`, `DDdd`).
    pub territory: String,
    pub synthetic: bool,
    /// RFC 3339, supplied by the caller.
    pub created_at: String,
    /// JSON: data sources and their dates, stage timings.
    pub details: String,
    /// The moment of the registry read (UTC, RFC 3339): only versions recorded by then count.
    pub known_at: Option<String>,
}

/// A saved measurement.
#[derive(Debug, Clone, Serialize)]
pub struct MeasurementRecord {
    pub id: i64,
    pub as_of: String,
    pub catalogue_version: String,
    pub catalogue_label: String,
    pub territory: String,
    pub synthetic: bool,
    pub created_at: String,
    pub details: serde_json::Value,
    /// The last counter-referral its Logros count (incremental updates move it).
    pub counter_referrals_applied_through: i64,
    /// When the Logros were last updated with counter-referrals.
    pub counter_referrals_updated_at: Option<String>,
    /// The moment of the registry the measurement read (`None`: taken before versions).
    pub known_at: Option<String>,
}

/// Which kind of unit to locate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UnitKind {
    Person,
    Household,
    Community,
}

/// One audit entry (a read or change of personal data).
#[derive(Debug, Clone, Serialize)]
pub struct AuditEntry {
    pub at: String,
    pub actor: String,
    pub action: String,
    pub subject_kind: String,
    pub subject_id: String,
    pub purpose: String,
    pub outcome: String,
    /// The actor's role and institution, when the actor is an account.
    pub role: Option<String>,
    pub institution: Option<String>,
    /// The HTTP request it belongs to, when it came through the server.
    pub request_id: Option<String>,
}

/// The storage trait. Narrow on purpose: each method is one job the layers above need.
pub trait Store: Send {
    fn backend(&self) -> Backend;
    /// Creates or migrates the schema and (re)loads the official territory list. Idempotent;
    /// returns the names of the migrations applied now (empty when already current).
    fn migrate(&mut self) -> Result<Vec<String>>;
    /// Starts an import run in its own transaction: nothing is visible until [`ImportTx::commit`].
    fn begin_import(&mut self, meta: &ImportMeta) -> Result<Box<dyn ImportTx + '_>>;
    /// Records an import that was refused as a whole (e.g. `--strict` with rejections), so the
    /// history shows it; none of its rows are stored.
    fn record_refused_import(
        &mut self,
        meta: &ImportMeta,
        finished_at: &str,
        summary: &str,
    ) -> Result<i64>;
    /// Registry counts per district (districts with nothing registered are omitted).
    fn district_counts(&mut self) -> Result<Vec<DistrictCounts>>;
    /// The import history, newest first.
    fn imports(&mut self, limit: u32) -> Result<Vec<ImportRecord>>;
    /// Streams the registry of a territory to `sink` (communities, households and persons in id
    /// order, then the matched administrative events), for classification, on this connection.
    /// [`load_registry_parallel`] reads persons and events on several connections at once.
    /// Units are read at `at`: per unit the version [`vamos_domain::versions::pick`] selects,
    /// if it is active (see [`reading`]).
    fn load_registry(
        &mut self,
        territory: TerritoryCode,
        at: &Reading,
        sink: &mut dyn RegistrySink,
    ) -> Result<()> {
        self.load_part(territory, LoadPart::Units, at, sink)?;
        // Within the territory's id range (an open one would read every person).
        if let Some(ids) = self.person_id_bounds(territory)? {
            self.load_part(territory, LoadPart::Persons { ids }, at, sink)?;
        }
        self.load_part(
            territory,
            LoadPart::Events {
                counter_referrals_through: i64::MAX,
            },
            at,
            sink,
        )
    }
    /// Streams one part of the registry of a territory to `sink`, in id order.
    fn load_part(
        &mut self,
        territory: TerritoryCode,
        part: LoadPart,
        at: &Reading,
        sink: &mut dyn RegistrySink,
    ) -> Result<()>;
    /// Streams some communities to `sink`: the communities, every household of them, the
    /// households' members (each kind in id order), then those members' events,
    /// counter-referrals up to `counter_referrals_through`. Everything whose figures a change in
    /// the evidence of a person living there can move — the person, the household, the
    /// community — for an incremental update.
    fn load_communities(
        &mut self,
        communities: &[i64],
        counter_referrals_through: i64,
        at: &Reading,
        sink: &mut dyn RegistrySink,
    ) -> Result<()>;
    /// The smallest and largest person id of a territory, over every version (`None` when it
    /// has no persons).
    fn person_id_bounds(&mut self, territory: TerritoryCode) -> Result<Option<(i64, i64)>>;
    /// Another connection to the same database, for reading in parallel.
    fn reopen(&self) -> Result<Box<dyn Store>>;
    /// Starts a read-only snapshot on this connection and returns the registry's state (the
    /// last import recorded): two connections whose states agree read the same registry.
    fn begin_read(&mut self) -> Result<i64>;
    /// Ends the snapshot started by [`Store::begin_read`].
    fn end_read(&mut self) -> Result<()>;
    /// Saves a measurement with the Logros of each district (JSON), in one transaction.
    fn save_measurement(
        &mut self,
        meta: &MeasurementMeta,
        districts: &[(u16, String)],
    ) -> Result<i64>;
    /// Whether any completed import was labelled synthetic (then every figure is *sintético*).
    fn has_synthetic_data(&mut self) -> Result<bool>;
    /// Finds a unit by its internal number and its district: `(id, district code)`.
    fn locate(&mut self, kind: UnitKind, key: i64) -> Result<Option<(i64, u16)>>;
    /// Finds the person with this cédula (an active one first) and its district. A cédula is
    /// never tried as an internal number, nor the reverse: at national scale most cédulas are
    /// also some person's number.
    fn locate_national_id(&mut self, national_id: i64) -> Result<Option<(i64, u16)>>;
    /// This connection, for the store's typed functions (accounts, audit, views, DCI, …).
    fn db(&mut self) -> sql::Db<'_>;
    /// Whether the schema exists (`vamos db init` has run).
    fn is_ready(&mut self) -> Result<bool>;
    /// A saved measurement (the latest when `id` is `None`) with its districts.
    #[allow(clippy::type_complexity)] // reason: a record and its rows; a named type adds nothing
    fn measurement(
        &mut self,
        id: Option<i64>,
    ) -> Result<Option<(MeasurementRecord, Vec<(u16, String)>)>>;
}

/// Which rows of the registry [`Store::load_part`] reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoadPart {
    /// Communities, then households.
    Units,
    /// Persons whose id is in the inclusive range.
    Persons { ids: (i64, i64) },
    /// Administrative events matched to a person and the counter-referrals with an id up to
    /// `counter_referrals_through`.
    Events { counter_referrals_through: i64 },
}

/// Loads the registry of a territory into `sink`, reading the persons — most of the work — on
/// up to `readers` connections at once, all inside read snapshots of the same registry state
/// (a connection that sees another state, because an import committed in between, is not
/// used). The administrative events and the persons, cut into a few slices per reader by id,
/// are the work items; each reader takes the next item when it is free, and `store`'s own
/// connection reads the communities and households first, so the work evens out. Parts are
/// absorbed in order: the events' first (they hold person ids, linked when loading ends), then
/// the persons' in id order.
pub fn load_registry_parallel<S: PartitionedSink>(
    store: &mut dyn Store,
    territory: TerritoryCode,
    at: &Reading,
    sink: &mut S,
    readers: usize,
    counter_referrals_through: i64,
) -> Result<()> {
    const SLICES_PER_READER: usize = 4;
    let state = store.begin_read()?;
    let mut others: Vec<Box<dyn Store>> = Vec::new();
    let outcome = (|| {
        let bounds = store.person_id_bounds(territory)?;
        let Some((lo, hi)) = bounds.filter(|(lo, hi)| readers > 1 && hi > lo) else {
            store.load_part(territory, LoadPart::Units, at, sink)?;
            // Within the territory's id range (an open one would read every person).
            if let Some(ids) = bounds {
                store.load_part(territory, LoadPart::Persons { ids }, at, sink)?;
            }
            return store.load_part(
                territory,
                LoadPart::Events {
                    counter_referrals_through,
                },
                at,
                sink,
            );
        };
        for _ in 1..readers {
            let mut other = store.reopen()?;
            if other.begin_read()? != state {
                other.end_read()?;
                break;
            }
            others.push(other);
        }
        // The work: the administrative events (persons linked later, in `finish`), then the
        // persons slice by slice.
        let work_items: Vec<LoadPart> = std::iter::once(LoadPart::Events {
            counter_referrals_through,
        })
        .chain(
            split_ids(lo, hi, (others.len() + 1) * SLICES_PER_READER)
                .into_iter()
                .map(|ids| LoadPart::Persons { ids }),
        )
        .collect();
        let parts: Vec<std::sync::Mutex<Option<S>>> = work_items
            .iter()
            .map(|_| std::sync::Mutex::new(Some(sink.part())))
            .collect();
        let next = std::sync::atomic::AtomicUsize::new(0);
        // Takes slices until none is left: (slice number, its persons).
        let work = |reader: &mut dyn Store| -> Result<Vec<(usize, S)>> {
            let mut done = Vec::new();
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let (Some(&item), Some(slot)) = (work_items.get(i), parts.get(i)) else {
                    return Ok(done);
                };
                let taken = slot.lock().ok().and_then(|mut p| p.take());
                if let Some(mut part) = taken {
                    reader.load_part(territory, item, at, &mut part)?;
                    done.push((i, part));
                }
            }
        };
        let mut loaded = std::thread::scope(|scope| -> Result<Vec<(usize, S)>> {
            let handles: Vec<_> = others
                .iter_mut()
                .map(|other| scope.spawn(|| work(other.as_mut())))
                .collect();
            store.load_part(territory, LoadPart::Units, at, sink)?;
            let mut loaded = work(store)?;
            for h in handles {
                let theirs = h
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))?;
                loaded.extend(theirs);
            }
            Ok(loaded)
        })?;
        loaded.sort_by_key(|(i, _)| *i);
        for (_, part) in loaded {
            sink.absorb(part);
        }
        Ok(())
    })();
    let mut ended = store.end_read();
    for mut o in others {
        ended = ended.and(o.end_read());
    }
    outcome.and(ended)
}

/// `n` contiguous inclusive slices of `lo..=hi`, in order.
fn split_ids(lo: i64, hi: i64, n: usize) -> Vec<(i64, i64)> {
    let n = n.max(1) as i128;
    let span = i128::from(hi) - i128::from(lo) + 1;
    (0..n)
        .map(|k| {
            let a = i128::from(lo) + span * k / n;
            let b = i128::from(lo) + span * (k + 1) / n - 1;
            (a as i64, b as i64)
        })
        .filter(|(a, b)| a <= b)
        .collect()
}

/// The inclusive range of district codes of a territory (`DDdd` numbers).
pub(crate) fn district_range(t: TerritoryCode) -> (i64, i64) {
    match t {
        TerritoryCode::Nation => (0, 9999),
        TerritoryCode::Department(d) => (i64::from(d.get()) * 100, i64::from(d.get()) * 100 + 99),
        TerritoryCode::District(d) => (i64::from(d.get()), i64::from(d.get())),
    }
}

/// Parses a stored ISO date quickly (`YYYY-MM-DD`, as both backends write it).
pub(crate) fn parse_iso(s: &str) -> Option<chrono::NaiveDate> {
    let b = s.as_bytes();
    if b.len() < 10 || b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') {
        return chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").ok();
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        b.get(r)?.iter().try_fold(0u32, |acc, &c| {
            c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
        })
    };
    chrono::NaiveDate::from_ymd_opt(num(0..4)? as i32, num(5..7)?, num(8..10)?)
}

/// One import run's transaction.
pub trait ImportTx: Send {
    fn import_id(&self) -> i64;
    fn snapshot(&mut self, needs: SnapshotNeeds) -> Result<RegistrySnapshot>;
    fn insert_communities(&mut self, rows: &[Community]) -> Result<()>;
    fn insert_households(&mut self, rows: &[Household]) -> Result<()>;
    fn insert_persons(&mut self, rows: &[Person]) -> Result<()>;
    fn insert_community_surveys(&mut self, rows: &[CommunitySurvey]) -> Result<()>;
    fn insert_admin_records(&mut self, rows: &[AdminRecord]) -> Result<()>;
    /// When the registry learns what this import writes (its start, RFC 3339 UTC).
    fn recorded_at(&self) -> &str;
    /// Re-interviews: the current versions of these households (absent ids are left out).
    fn current_households(
        &mut self,
        ids: &[i64],
    ) -> Result<Vec<(Household, vamos_domain::versions::VersionMeta)>>;
    /// Re-interviews: the current versions of every person of these households.
    fn current_members(
        &mut self,
        household_ids: &[i64],
    ) -> Result<Vec<(Person, vamos_domain::versions::VersionMeta)>>;
    /// Re-interviews: new versions written inside the import's transaction.
    fn write_versions(&mut self, set: &versions::VersionSet) -> Result<()>;
    /// Re-interviews that did not become a current row (unchanged, or sent to review).
    fn insert_interviews(&mut self, rows: &[HouseholdInterview]) -> Result<()>;
    /// Makes everything written visible at once and closes the run with its summary (JSON).
    fn commit(self: Box<Self>, finished_at: &str, summary: &str) -> Result<()>;
    /// Discards everything written in this run.
    fn rollback(self: Box<Self>) -> Result<()>;
}

/// Answer columns of a schema, comma separated (used to build INSERT / COPY statements).
pub(crate) fn answer_columns(fields: &[vamos_domain::FieldSpec]) -> String {
    fields.iter().map(|f| f.name).collect::<Vec<_>>().join(", ")
}

/// The text form of a date in both backends.
pub(crate) fn iso(d: chrono::NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

/// Answers checked against their schema length (a mismatch is a programming error upstream).
pub(crate) fn check_len(answers: &[Value], expected: usize, what: &str) -> Result<()> {
    if answers.len() == expected {
        Ok(())
    } else {
        Err(StoreError::Invalid(format!(
            "{what}: {} respuestas, se esperaban {expected}",
            answers.len()
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_unknown_urls() {
        assert!(matches!(open("mysql://x"), Err(StoreError::BadUrl(_))));
        assert!(matches!(open("sqlite:"), Err(StoreError::BadUrl(_))));
    }
}
