//! The single writer of counter-referrals (group commit). Requests check their events in
//! parallel on the pool (reads only), then hand the events to store to this writer: a thread
//! with its own connection that takes every submission waiting — single events, batches,
//! files — and stores them with their audit records in one transaction with one durable
//! commit, then answers each request. Under load many submissions share a disk sync instead of
//! queueing for the database's write lock one commit each. A submission is answered only after
//! its commit, so every event acknowledged survives a crash, and none goes unaudited.
//!
//! Two ways of storing a group. A small one (at most [`APPLY_AT_ONCE`] events) while nothing
//! waits in the intake log is applied at once: the events become counter-referrals and answer
//! their referrals in the acknowledging commit (the answer names the referral). A larger one —
//! or any while the log holds events — is appended to the intake log (`counter_referral_log`)
//! as one row, its events told apart from those received before by fingerprints held in memory
//! ([`KnownKeys`], read on a thread of its own at start-up; until then every group is applied at
//! once): no read of the database per event, one row written per group. The writer applies the
//! log afterwards, in order, up to 150,000 events per transaction on SQLite and 5,000 on
//! PostgreSQL (`APPLY_CHUNK`): when no submission has come for [`QUIET`], and also between
//! groups once the oldest logged event waited [`MAX_LAG`] or the log holds [`MAX_BACKLOG`]
//! events. Applying an event looks up the referral it answers only when one may exist: the
//! (unit, service) pairs of every referral are held as fingerprints ([`ReferralUnits`], read on
//! a thread of its own at start-up, brought up to date before each application; until read,
//! every event is looked up). Every other writer of counter-referrals (a command-line import)
//! applies the log first. After a crash the log is applied on restart.
//! (Writing the audit records here rather than through the pool's audit writer also spares
//! SQLite a second writer between groups, whose commits made this connection drop its page
//! cache each time.)
//!
//! The writer is the one serial stage of the intake, so work that need not be on it is done
//! elsewhere: requests encode their events as lines of the log on the thread that checked them
//! ([`Checked::encode_for_log`]) and make their own summaries once answered (the writer only
//! fills in the audit records), and on SQLite a thread of its own (`checkpoint`) copies the
//! WAL into the database after the writer's commits while the log is in use (a passive
//! checkpoint on its own connection), so that the writer's commits seldom find much left to
//! copy.

use crate::access::{self as acc, Checked, Codes, Fresh, IngestSummary};
use crate::error::{ApiError, ApiResult};
use axum::http::StatusCode;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot, Notify};
use vamos_store::access::{
    insert_counter_referrals_and, log_counter_referrals_and, KnownKeys, Logged, NewCounterReferral,
    Outcome, ReferralUnits,
};
use vamos_store::audit::append_in_tx;
use vamos_store::{AuditEntry, Store};

/// One submission: its checked events, its audit record (subject and outcome are filled in
/// once stored) and where to answer.
struct Job {
    checked: Checked,
    audit: AuditEntry,
    reply: oneshot::Sender<ApiResult<Settled>>,
}

/// A submission committed: its events and what became of each, for its request to summarise.
struct Settled {
    checked: Checked,
    events: Vec<Fresh>,
    outcomes: Vec<Outcome>,
}

/// Most events committed together (a single larger submission is committed alone).
const MAX_GROUP_EVENTS: usize = 50_000;
/// Largest group applied in its acknowledging commit while the log is empty.
pub const APPLY_AT_ONCE: usize = 256;
/// No submission for this long: the writer applies the log.
pub const QUIET: Duration = Duration::from_millis(50);
/// The oldest logged event waited this long: the log is applied between groups, under load too.
pub const MAX_LAG: Duration = Duration::from_secs(10);
/// The log holds this many events: applied between groups, under load too.
pub const MAX_BACKLOG: u64 = 2_000_000;
/// Most events applied from the log in one transaction (at least one logged group): a
/// submission arriving meanwhile waits for it (about a second at national scale: the p99 of
/// batches under sustained load rose from ~0.6 to ~1.4 s against 50,000). Large, because a
/// transaction's cost is mostly the index pages it changes — the index of counter-referrals by
/// person gets its events at random —, written once however many of its events fall on them:
/// 50,000 events per transaction applied the log about one and a half times as fast as 5,000,
/// and 150,000 sustained about a tenth more than 50,000 end to end (BENCHMARKS.md, issue 5).
const APPLY_CHUNK: usize = 150_000;
/// [`APPLY_CHUNK`] on PostgreSQL: there 50,000 applied no faster end to end than 5,000 and kept
/// submissions waiting up to three seconds.
const APPLY_CHUNK_POSTGRES: usize = 5_000;

/// The writer (see the module documentation).
#[derive(Clone)]
pub struct Intake {
    tx: mpsc::Sender<Job>,
    codes: Arc<Codes>,
    /// Submissions received so far (the Logros updater rests only while they keep coming).
    submitted: Arc<AtomicU64>,
    /// What the writer shows of itself (`/api/ready`, `/metrics`).
    pub status: Arc<IntakeStatus>,
}

/// The writer's state as others see it.
#[derive(Debug, Default)]
pub struct IntakeStatus {
    /// Acknowledged events waiting in the intake log.
    pub pending: AtomicU64,
    /// Fingerprints of received events held in memory (0 while they are read).
    pub known: AtomicU64,
    /// Whether the fingerprints are held.
    pub known_ready: AtomicBool,
    /// (unit, service) pairs of referrals held in memory (0 while they are read).
    pub referral_pairs: AtomicU64,
    /// Whether they are held.
    pub referrals_ready: AtomicBool,
}

impl Intake {
    /// Starts the writer thread for the database at `url` (connected lazily, reconnected
    /// after an error). `applied` is woken whenever events become counter-referrals (the Logros
    /// updater).
    pub fn start(url: &str, codes: Arc<Codes>, applied: Arc<Notify>) -> anyhow::Result<Intake> {
        let (tx, rx) = mpsc::channel::<Job>(1024);
        let status = Arc::new(IntakeStatus::default());
        // Counted before the server answers: `/api/ready` never shows an earlier run's log as
        // empty before the writer has looked.
        let left = vamos_store::open(url)
            .and_then(|mut s| vamos_store::access::logged_counter_referrals(s.sql()))?;
        status
            .pending
            .store(u64::try_from(left).unwrap_or_default(), Ordering::Relaxed);
        let mut writer = Writer {
            url: url.to_string(),
            store: None,
            codes: codes.clone(),
            known: Background::default(),
            backlog: None,
            lag: VecDeque::new(),
            units: Background::default(),
            wal_pages: None,
            status: status.clone(),
            applied,
            checkpointer: None,
        };
        std::thread::Builder::new()
            .name("contrarreferencias".into())
            .spawn(move || writer.run(rx))?;
        Ok(Intake {
            tx,
            codes,
            submitted: Arc::default(),
            status,
        })
    }

    /// The catalogue's counter-referral codes (for [`acc::check`]).
    pub fn codes(&self) -> Arc<Codes> {
        self.codes.clone()
    }

    /// How many submissions have been handed to the writer since the server started.
    pub fn submissions(&self) -> u64 {
        self.submitted.load(Ordering::Relaxed)
    }

    /// Stores `checked` and `audit` with its outcome (in a group commit); answers once
    /// committed.
    pub async fn submit(&self, checked: Checked, audit: AuditEntry) -> ApiResult<IngestSummary> {
        let stored = self.store(checked, audit).await?;
        Ok(acc::finish_with(
            stored.checked,
            &stored.events,
            &stored.outcomes,
        ))
    }

    async fn store(&self, checked: Checked, audit: AuditEntry) -> ApiResult<Settled> {
        let (reply, answer) = oneshot::channel();
        self.submitted.fetch_add(1, Ordering::Relaxed);
        self.tx
            .send(Job {
                checked,
                audit,
                reply,
            })
            .await
            .map_err(|_| unavailable("escritor detenido"))?;
        answer.await.map_err(|_| unavailable("escritor detenido"))?
    }
}

/// Something the writer reads on a thread of its own — at start-up, again at most every 10 s
/// after a failed reading — and takes once read.
struct Background<T> {
    /// Once read.
    value: Option<T>,
    /// Where it arrives while read.
    arriving: Option<std::sync::mpsc::Receiver<anyhow::Result<T>>>,
    /// When the last reading started (`None`: start the next one at once).
    started: Option<Instant>,
}

impl<T> Default for Background<T> {
    fn default() -> Self {
        Background {
            value: None,
            arriving: None,
            started: None,
        }
    }
}

impl<T: Send + 'static> Background<T> {
    /// Takes the value if it has arrived; when neither held nor being read, starts the reading
    /// `make` returns on a thread named `thread` (`what` names it in the warning of a failure).
    fn poll<R>(&mut self, thread: &str, what: &str, make: impl FnOnce() -> R)
    where
        R: FnOnce() -> anyhow::Result<T> + Send + 'static,
    {
        if self.value.is_some() {
            return;
        }
        if let Some(rx) = &self.arriving {
            match rx.try_recv() {
                Ok(Ok(v)) => {
                    self.value = Some(v);
                    self.arriving = None;
                }
                Ok(Err(e)) => {
                    tracing::warn!(motivo = %e, "{what}: no leídas");
                    self.arriving = None;
                }
                Err(std::sync::mpsc::TryRecvError::Empty) => {}
                Err(std::sync::mpsc::TryRecvError::Disconnected) => self.arriving = None,
            }
            return;
        }
        if self
            .started
            .is_some_and(|t| t.elapsed() < Duration::from_secs(10))
        {
            return;
        }
        let read = make();
        let (tx, rx) = std::sync::mpsc::channel();
        let spawned = std::thread::Builder::new()
            .name(thread.into())
            .spawn(move || {
                let _ = tx.send(read());
            });
        if spawned.is_ok() {
            self.arriving = Some(rx);
        }
        self.started = Some(Instant::now());
    }
}

/// The writer thread's state.
struct Writer {
    url: String,
    store: Option<Box<dyn Store>>,
    codes: Arc<Codes>,
    /// Fingerprints of every event received.
    known: Background<KnownKeys>,
    /// Events in the log (`None` until counted).
    backlog: Option<u64>,
    /// Logged groups not yet applied, oldest first: their events and when they were logged.
    lag: VecDeque<(u64, Instant)>,
    /// The referrals events could answer (until read, every event is looked up).
    units: Background<ReferralUnits>,
    /// The connection's checkpoint threshold, in WAL pages (`None`: not set yet).
    wal_pages: Option<u32>,
    status: Arc<IntakeStatus>,
    applied: Arc<Notify>,
    /// Wakes the checkpointer after a commit (SQLite; `None` until started).
    checkpointer: Option<std::sync::mpsc::SyncSender<()>>,
}

impl Writer {
    fn run(&mut self, mut rx: mpsc::Receiver<Job>) {
        let Ok(rt) = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
        else {
            tracing::error!("escritor de contra-referencias sin reloj");
            return;
        };
        loop {
            self.take_known();
            self.take_units();
            let backlog = self.backlog();
            let first = if backlog == 0 {
                rx.blocking_recv()
            } else {
                match rt.block_on(async { tokio::time::timeout(QUIET, rx.recv()).await }) {
                    Ok(job) => job,
                    // Quiet: apply some of the log.
                    Err(_) => {
                        self.apply_some();
                        continue;
                    }
                }
            };
            let Some(first) = first else { break };
            let mut size = first.checked.fresh_len();
            let mut jobs = vec![first];
            while size < MAX_GROUP_EVENTS {
                match rx.try_recv() {
                    Ok(j) => {
                        size += j.checked.fresh_len();
                        jobs.push(j);
                    }
                    Err(_) => break,
                }
            }
            self.commit_group(jobs);
            let overdue = self
                .lag
                .front()
                .is_some_and(|(_, t)| t.elapsed() >= MAX_LAG);
            if overdue || self.backlog() >= MAX_BACKLOG {
                self.apply_some();
            }
        }
    }

    fn connection(&mut self) -> anyhow::Result<&mut Box<dyn Store>> {
        if self.store.is_none() {
            let mut s = vamos_store::open(&self.url)?;
            // SQLite: random index pages of the whole file, read without copying them.
            vamos_store::map_whole_file(s.sql())?;
            // SQLite: room for every page one application of the log changes.
            vamos_store::cache_kib(s.sql(), vamos_store::WRITER_CACHE_KIB)?;
            if s.sql().dialect() == vamos_store::Backend::Sqlite && self.checkpointer.is_none() {
                self.checkpointer = start_checkpointer(&self.url);
            }
            self.store = Some(s);
            self.wal_pages = None;
        }
        self.store
            .as_mut()
            .ok_or_else(|| anyhow::anyhow!("sin conexión"))
    }

    /// Sets after how many WAL pages the connection's commits checkpoint (SQLite): SQLite's
    /// 1,000 while events are applied at once — a checkpoint is then a few milliseconds, and a
    /// single event's answer waits for it —, [`vamos_store::WRITER_WAL_PAGES`] while the intake
    /// log is in use, where fewer, larger checkpoints copy a page written again only once.
    fn checkpoint_after(&mut self, pages: u32) -> anyhow::Result<()> {
        if self.wal_pages != Some(pages) {
            let s = self.connection()?;
            vamos_store::checkpoint_after_pages(s.sql(), pages)?;
            self.wal_pages = Some(pages);
        }
        Ok(())
    }

    /// Events in the log, counted once per connection.
    fn backlog(&mut self) -> u64 {
        if let Some(n) = self.backlog {
            return n;
        }
        let counted = self
            .connection()
            .and_then(|s| Ok(vamos_store::access::logged_counter_referrals(s.sql())?));
        match counted {
            Ok(n) => {
                let n = u64::try_from(n).unwrap_or_default();
                self.lag.clear();
                if n > 0 {
                    // Left by an earlier run: overdue already.
                    self.lag.push_back((
                        n,
                        Instant::now()
                            .checked_sub(MAX_LAG)
                            .unwrap_or_else(Instant::now),
                    ));
                }
                self.set_backlog(n);
                n
            }
            Err(e) => {
                tracing::error!(motivo = %e, "registro de contra-referencias no contado");
                self.store = None;
                // Unknown: as if some waited, so that the writer tries again shortly.
                1
            }
        }
    }

    fn set_backlog(&mut self, n: u64) {
        self.backlog = Some(n);
        self.status.pending.store(n, Ordering::Relaxed);
        if n == 0 {
            self.lag.clear();
        }
    }

    /// Takes the fingerprints once read; starts reading them when neither held nor being read.
    fn take_known(&mut self) {
        let (url, status) = (&self.url, &self.status);
        self.known.poll(
            "huellas-contrarreferencias",
            "huellas de contra-referencias",
            || {
                let (url, status, started) = (url.clone(), status.clone(), Instant::now());
                move || {
                    let k = vamos_store::open(&url).and_then(|mut s| KnownKeys::load(s.sql()))?;
                    tracing::info!(
                        eventos = k.len(),
                        segundos = started.elapsed().as_secs_f64(),
                        "huellas de contra-referencias en memoria"
                    );
                    // Shown at once; the writer takes them with its next submission.
                    status.known.store(k.len() as u64, Ordering::Relaxed);
                    status.known_ready.store(true, Ordering::Relaxed);
                    Ok(k)
                }
            },
        );
    }

    /// Takes the referrals' fingerprints once read; starts reading them when neither held nor
    /// being read.
    fn take_units(&mut self) {
        let (url, codes, status) = (&self.url, &self.codes, &self.status);
        self.units
            .poll("referencias-en-memoria", "referencias", || {
                let (url, codes, status) = (url.clone(), codes.clone(), status.clone());
                let started = Instant::now();
                move || {
                    let u = vamos_store::open(&url)
                        .and_then(|mut s| ReferralUnits::load(s.sql(), &codes.answers))?;
                    tracing::info!(
                        pares = u.len(),
                        segundos = started.elapsed().as_secs_f64(),
                        "referencias que una contra-referencia puede responder, en memoria"
                    );
                    status
                        .referral_pairs
                        .store(u.len() as u64, Ordering::Relaxed);
                    status.referrals_ready.store(true, Ordering::Relaxed);
                    Ok(u)
                }
            });
    }

    /// Wakes the checkpointer (if one is waiting to be woken already, nothing more).
    fn wake_checkpointer(&self) {
        if let Some(c) = &self.checkpointer {
            let _ = c.try_send(());
        }
    }

    /// Forgets the fingerprints (after a failed commit they may not match the database).
    fn forget_known(&mut self) {
        self.known.value = None;
        self.known.started = None;
        self.status.known_ready.store(false, Ordering::Relaxed);
        self.status.known.store(0, Ordering::Relaxed);
    }

    /// Applies about [`APPLY_CHUNK`] events of the log ([`APPLY_CHUNK_POSTGRES`] on PostgreSQL),
    /// in one transaction.
    fn apply_some(&mut self) {
        let codes = self.codes.clone();
        let mut units = self.units.value.take();
        let applied = self
            .connection()
            .map(|_| ())
            .and_then(|()| {
                self.checkpoint_after(application_wal_pages(self.checkpointer.is_some()))
            })
            .and_then(|()| self.connection())
            .and_then(|s| {
                let chunk = match s.sql().dialect() {
                    vamos_store::Backend::Postgres => APPLY_CHUNK_POSTGRES,
                    vamos_store::Backend::Sqlite => APPLY_CHUNK,
                };
                Ok(vamos_store::access::apply_logged_counter_referrals(
                    s.sql(),
                    &codes.answers,
                    chunk,
                    units.as_mut(),
                )?)
            });
        if let Some(u) = &units {
            self.status
                .referral_pairs
                .store(u.len() as u64, Ordering::Relaxed);
        }
        self.units.value = units;
        match applied {
            Ok(n) => {
                self.wake_checkpointer();
                let mut left = n as u64;
                while let Some((events, _)) = self.lag.front() {
                    if *events > left {
                        break;
                    }
                    left -= events;
                    self.lag.pop_front();
                }
                let backlog = self.backlog.unwrap_or_default().saturating_sub(n as u64);
                self.set_backlog(if n == 0 { 0 } else { backlog });
                if n > 0 {
                    self.applied.notify_one();
                }
            }
            Err(e) => {
                tracing::error!(motivo = %e, "registro de contra-referencias no aplicado");
                self.store = None;
                self.backlog = None;
                std::thread::sleep(Duration::from_secs(1));
            }
        }
    }

    fn commit_group(&mut self, mut jobs: Vec<Job>) {
        // The events are taken out of their submissions, not copied.
        let fresh: Vec<Vec<Fresh>> = jobs.iter_mut().map(|j| j.checked.take_fresh()).collect();
        let lines: Vec<Option<String>> = jobs
            .iter_mut()
            .map(|j| j.checked.take_log_lines())
            .collect();
        let rows: Vec<&NewCounterReferral> = fresh.iter().flatten().map(|(_, _, e)| e).collect();
        let runs: Vec<(usize, Option<&str>)> = fresh
            .iter()
            .zip(&lines)
            .map(|(f, l)| (f.len(), l.as_deref()))
            .collect();
        let at = crate::auth::now_rfc3339();
        let (mut work, replies): (Vec<(Checked, AuditEntry)>, Vec<_>) = jobs
            .into_iter()
            .map(|j| ((j.checked, j.audit), j.reply))
            .unzip();
        let backlog = self.backlog();
        let codes = self.codes.clone();
        let mut known = self.known.value.take();
        // Small while nothing waits: applied at once (also while the fingerprints are read).
        let small = backlog == 0 && rows.len() <= APPLY_AT_ONCE;
        let wal_pages = if small {
            vamos_store::SQLITE_WAL_PAGES
        } else {
            vamos_store::WRITER_WAL_PAGES
        };
        // The events (or their log row), the referrals they answer and the submissions'
        // audit records: one transaction, one durable commit. Each submission's summary is
        // made by its request afterwards (`Intake::submit`), off this thread.
        let stored = self
            .checkpoint_after(wal_pages)
            .and_then(|()| self.connection())
            .and_then(|s| {
                let sql = s.sql();
                let audit = |sql: &mut dyn vamos_store::sql::Sql, outcomes: &[Outcome]| {
                    let mut parts = Vec::with_capacity(work.len());
                    let mut entries = Vec::with_capacity(work.len());
                    let mut offset = 0;
                    for ((checked, audit), events) in work.iter_mut().zip(&fresh) {
                        let n = events.len();
                        let part = outcomes.get(offset..offset + n).unwrap_or_default();
                        offset += n;
                        let (subject, outcome) = checked.audit_fields(events, part);
                        let mut entry = audit.clone();
                        entry.subject_id = subject;
                        entry.outcome = outcome;
                        entries.push(entry);
                        parts.push(part.to_vec());
                    }
                    append_in_tx(sql, &entries)?;
                    Ok(parts)
                };
                match known.as_mut() {
                    Some(k) if !small => {
                        let (parts, logged) = log_counter_referrals_and(
                            sql,
                            &rows,
                            &runs,
                            &codes.answers,
                            &at,
                            k,
                            audit,
                        )?;
                        Ok((parts, logged, false))
                    }
                    k => {
                        let parts = insert_counter_referrals_and(
                            sql,
                            &rows,
                            &codes.answers,
                            &at,
                            k,
                            audit,
                        )?;
                        // Applied at once: the log, if any, was applied first.
                        Ok((parts, Logged::default(), true))
                    }
                }
            });
        match stored {
            Ok((parts, logged, applied)) => {
                // Only while the log is in use: a small group's commit (single events) leaves
                // the WAL to its own checkpoints, so that no answer waits on the disk behind
                // a checkpoint's writes.
                if !small {
                    self.wake_checkpointer();
                }
                self.known.value = known;
                if let Some(k) = &self.known.value {
                    self.status.known.store(k.len() as u64, Ordering::Relaxed);
                }
                if applied && fresh.iter().any(|f| !f.is_empty()) {
                    self.set_backlog(0);
                    self.applied.notify_one();
                } else {
                    let backlog =
                        backlog.saturating_sub(logged.drained as u64) + logged.logged as u64;
                    if logged.drained > 0 {
                        self.lag.clear();
                        self.applied.notify_one();
                    }
                    if logged.logged > 0 {
                        self.lag.push_back((logged.logged as u64, Instant::now()));
                    }
                    self.set_backlog(backlog);
                }
                for ((((checked, _), events), outcomes), reply) in
                    work.into_iter().zip(fresh).zip(parts).zip(replies)
                {
                    let _ = reply.send(Ok(Settled {
                        checked,
                        events,
                        outcomes,
                    }));
                }
            }
            Err(e) => {
                self.store = None;
                self.backlog = None;
                self.forget_known();
                let why = e.to_string();
                for reply in replies {
                    let _ = reply.send(Err(unavailable(&why)));
                }
            }
        }
    }
}

/// The writer's checkpoint threshold for an application of the log, in WAL pages: none at all
/// (0) while the checkpointer runs — it is woken right after the commit and copies the
/// application's pages (tens of thousands) off the writer's thread; the writer's next log
/// commits, at [`vamos_store::WRITER_WAL_PAGES`] again, then find little left to copy, and
/// their checkpoint lets the WAL start over. With the writer copying them itself in its commit,
/// checkpoints and their `fsync` were about a seventh of its samples; without, the intake
/// sustained 100,466–102,503 events/s against 92,149–92,982 in alternated runs (BENCHMARKS.md,
/// issue 5, ninth session).
fn application_wal_pages(checkpointer: bool) -> u32 {
    if checkpointer {
        0
    } else {
        vamos_store::WRITER_WAL_PAGES
    }
}

/// Starts the checkpointer (SQLite): a thread with a connection of its own that, woken after
/// each of the writer's commits (at most one wake-up waits), runs a passive checkpoint — it
/// copies what the WAL holds into the database without blocking the writer, which would
/// otherwise do it in its own commits once the WAL reaches its threshold. `None` if the thread
/// cannot be started (the writer then checkpoints alone, as before).
fn start_checkpointer(url: &str) -> Option<std::sync::mpsc::SyncSender<()>> {
    let (tx, rx) = std::sync::mpsc::sync_channel::<()>(1);
    let url = url.to_string();
    std::thread::Builder::new()
        .name("checkpoint".into())
        .spawn(move || {
            let mut s = match vamos_store::open(&url) {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(motivo = %e, "checkpoint: sin conexión; el escritor copia el WAL solo");
                    return;
                }
            };
            while rx.recv().is_ok() {
                if let Err(e) = s.sql().query_opt("PRAGMA wal_checkpoint(PASSIVE)", &[]) {
                    tracing::warn!(motivo = %e, "checkpoint del WAL no hecho");
                }
            }
        })
        .ok()?;
    Some(tx)
}

fn unavailable(why: &str) -> ApiError {
    tracing::error!(motivo = %why, "contra-referencias no guardadas");
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "contrarreferencias_no_guardadas",
        "no se pudieron guardar las contra-referencias; reintente el envío (los eventos ya recibidos se reconocen como duplicados)",
    )
}

/// Fills in an audit record of a counter-referral submission with what became of it.
pub fn complete_audit(mut e: AuditEntry, sum: &IngestSummary) -> AuditEntry {
    e.subject_id = sum.audit_subject();
    e.outcome = sum.audit_outcome();
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn applications_leave_the_wal_to_the_checkpointer_when_there_is_one() {
        assert_eq!(application_wal_pages(true), 0);
        assert_eq!(application_wal_pages(false), vamos_store::WRITER_WAL_PAGES);
    }

    #[test]
    fn the_checkpointer_copies_the_wal_into_the_database_when_woken() {
        let db = vamos_store::testing::sqlite_db();
        let mut s = db.open();
        // The writer's own commits leave the WAL alone (no automatic checkpoint).
        vamos_store::checkpoint_after_pages(s.sql(), 0).unwrap();
        let wake = start_checkpointer(&db.url).unwrap();
        // (frames in the WAL, frames copied into the database) as a passive checkpoint by a
        // third party finds them — it copies what is left, so ask only once done.
        let wal = |s: &mut Box<dyn Store>| {
            let r = s
                .sql()
                .query_opt("PRAGMA wal_checkpoint(PASSIVE)", &[])
                .unwrap()
                .unwrap();
            (r.int(1).unwrap(), r.int(2).unwrap())
        };
        s.sql()
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
