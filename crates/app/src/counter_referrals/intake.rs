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
//! once): no read of the database per event, one row written per group (a re-sent event is
//! looked up in the log and the table, without applying the log). The log is applied
//! afterwards, in order, up to 150,000 events per transaction on SQLite and 20,000 on PostgreSQL
//! (`APPLY_CHUNK`). On PostgreSQL by appliers ([`Applier`], `counter_referral_appliers` of them,
//! default 2): threads with a connection each, woken after each commit, that apply while the
//! log holds events, each on rows the others have not claimed — PostgreSQL lets several
//! transactions write at once, the writer's log commits take only the lock of ids, and the
//! appliers share the lock of referral answers, so acknowledging and applying go on side by
//! side. On SQLite, one writer at a time per file, by the writer itself between groups: when no
//! submission has come for [`QUIET`], and also once the oldest logged event waited [`MAX_LAG`]
//! or the log holds [`MAX_BACKLOG`] events (on PostgreSQL the writer then waits for the appliers
//! to bring it below: back-pressure). Applying an event looks up the referral it answers only
//! when one may exist: the (unit, service) pairs of every referral are held as fingerprints
//! ([`ReferralUnits`], read on a thread of its own at start-up, brought up to date before each
//! application; until read, every event is looked up). Every other writer of counter-referrals
//! (a command-line import) applies the log first. After a crash the log is applied on restart.
//! On SQLite the writer stands aside before each of its transactions while another connection
//! of the server waits for the write lock (the store's [`HeavyWriter`] sees to it), which it would
//! otherwise starve.
//! (Writing the audit records here rather than through the pool's audit writer also spares
//! SQLite a second writer between groups, whose commits made this connection drop its page
//! cache each time.)
//!
//! The writer is a serial stage of the intake (on PostgreSQL one applier was the other, and the
//! slower; measured: BENCHMARKS.md, issue 5), so work that need not be on it is done
//! elsewhere: requests encode their events as lines of the log on the thread that checked them
//! ([`Checked::encode_for_log`]) and make their own summaries once answered (the writer only
//! fills in the audit records), and on SQLite a thread of its own (`checkpoint`) copies the
//! WAL into the database after the writer's commits while the log is in use (a passive
//! checkpoint on its own connection), so that the writer's commits seldom find much left to
//! copy.

use super::misses::MissLimit;
use super::{self as acc, Checked, Codes, Fresh, IngestSummary};
use crate::error::{Error, ErrorKind, Result as AppResult};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot, Notify};
use vamos_store::audit::append_in_tx;
use vamos_store::counter_referrals::{
    insert_counter_referrals_and, log_counter_referrals_and, Applied, KnownKeys, Logged,
    NewCounterReferral, Outcome, ReferralUnits,
};
use vamos_store::heavy_writer::{HeavyWriter, WriteKind};
use vamos_store::{AuditEntry, Store};

/// One submission: its checked events, its audit record (subject and outcome are filled in
/// once stored) and where to answer.
struct Job {
    checked: Checked,
    audit: AuditEntry,
    reply: oneshot::Sender<AppResult<Settled>>,
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
/// The log holds this many events: applied between groups, under load too (SQLite); the
/// writer takes no more submissions until the appliers have brought it below (PostgreSQL).
pub const MAX_BACKLOG: u64 = 2_000_000;
/// Most events applied from the log in one transaction (at least one logged group): a
/// submission arriving meanwhile waits for it, so a larger chunk lengthens the tail latency of
/// batches under sustained load. Large all the same, because a transaction's cost is mostly the
/// index pages it changes — the index of counter-referrals by person gets its events at
/// random —, written once however many of its events fall on them: larger transactions applied
/// the log faster and sustained more end to end (measured: BENCHMARKS.md, issue 5).
const APPLY_CHUNK: usize = 150_000;
/// [`APPLY_CHUNK`] on PostgreSQL, where each applier has a connection of its own and no
/// submission waits for its transactions: smaller chunks sustained clearly less end to end,
/// and larger ones barely more while their larger steps lengthened the tail latency of batches
/// held back by the writer's back-pressure (measured: BENCHMARKS.md, issue 5).
const APPLY_CHUNK_POSTGRES: usize = 20_000;

/// The writer (see the module documentation).
#[derive(Clone)]
pub struct Intake {
    tx: mpsc::Sender<Job>,
    codes: Arc<Codes>,
    /// Persons named but not found in the sender's scope, per account ([`MissLimit`]).
    misses: Arc<MissLimit>,
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
    /// updater); `audit` seals the submissions' audit records.
    pub fn start(
        url: &str,
        codes: Arc<Codes>,
        applied: Arc<Notify>,
        appliers: usize,
        audit: Arc<crate::audit::AuditConfig>,
        misses_per_hour: usize,
    ) -> anyhow::Result<Intake> {
        let (tx, rx) = mpsc::channel::<Job>(1024);
        let status = Arc::new(IntakeStatus::default());
        // Counted before the server answers: `/api/ready` never shows an earlier run's log as
        // empty before the writer has looked.
        let mut first = vamos_store::open(url)?;
        let left = vamos_store::counter_referrals::logged_counter_referrals(&mut first.db())?;
        let left = u64::try_from(left).unwrap_or_default();
        status.pending.store(left, Ordering::Relaxed);
        // PostgreSQL: the log is applied on connections of their own while the writer goes on
        // acknowledging (see the module documentation).
        let split = if first.backend() == vamos_store::Backend::Postgres {
            let backlog = Arc::new(Backlog::new(status.clone(), left));
            let application = Application::new(url, codes.clone(), status.clone());
            let mut wakes = Vec::new();
            for n in 1..=appliers.max(1) {
                let (wake, woken) = std::sync::mpsc::sync_channel::<()>(1);
                let mut applier = Applier {
                    url: url.to_string(),
                    store: None,
                    application: application.clone(),
                    backlog: backlog.clone(),
                    applied: applied.clone(),
                };
                std::thread::Builder::new()
                    .name(format!("aplicador-{n}"))
                    .spawn(move || applier.run(&woken))?;
                wakes.push(wake);
            }
            Some(Split { wakes, backlog })
        } else {
            None
        };
        let mut writer = Writer {
            url: url.to_string(),
            conn: HeavyWriter::new(url),
            codes: codes.clone(),
            known: Background::default(),
            backlog: None,
            lag: VecDeque::new(),
            application: Application::new(url, codes.clone(), status.clone()),
            status: status.clone(),
            applied,
            audit,
            split,
        };
        std::thread::Builder::new()
            .name("contrarreferencias".into())
            .spawn(move || writer.run(rx))?;
        Ok(Intake {
            tx,
            codes,
            misses: Arc::new(MissLimit::new(misses_per_hour)),
            submitted: Arc::default(),
            status,
        })
    }

    /// What [`check_submission`] reads besides the database.
    pub fn gate(&self) -> Gate {
        Gate {
            codes: self.codes.clone(),
            misses: self.misses.clone(),
        }
    }

    /// How many submissions have been handed to the writer since the server started.
    pub fn submissions(&self) -> u64 {
        self.submitted.load(Ordering::Relaxed)
    }

    /// Stores `checked` and `audit` with its outcome (in a group commit); answers once
    /// committed.
    pub async fn submit(&self, checked: Checked, audit: AuditEntry) -> AppResult<IngestSummary> {
        let stored = self.store(checked, audit).await?;
        Ok(acc::finish_with(
            stored.checked,
            &stored.events,
            &stored.outcomes,
        ))
    }

    async fn store(&self, checked: Checked, audit: AuditEntry) -> AppResult<Settled> {
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
    /// The writer's connection, tuned by the store for a heavy writer.
    conn: HeavyWriter,
    codes: Arc<Codes>,
    /// Fingerprints of every event received.
    known: Background<KnownKeys>,
    /// Events in the log (`None` until counted).
    backlog: Option<u64>,
    /// Logged groups not yet applied, oldest first: their events and when they were logged.
    lag: VecDeque<(u64, Instant)>,
    /// Applications of the log on this thread (SQLite; unused with appliers).
    application: Application,
    status: Arc<IntakeStatus>,
    applied: Arc<Notify>,
    /// The audit chain's key and checkpoint: the submissions' records are sealed in the
    /// writer's transactions, and the checkpoint advanced after each commit.
    audit: Arc<crate::audit::AuditConfig>,
    /// The appliers on threads of their own (PostgreSQL; `None`: this thread applies the log,
    /// and `backlog`, `lag`, `application` are this thread's).
    split: Option<Split>,
}

/// The writer's side of the appliers on threads of their own.
struct Split {
    /// Wake the appliers after a commit (at most one wake-up waits for each).
    wakes: Vec<std::sync::mpsc::SyncSender<()>>,
    backlog: Arc<Backlog>,
}

/// Events logged and applied since the server started, counted by the writer and the appliers
/// on their threads; what waits in the log (`IntakeStatus::pending`) is the difference,
/// published under the same lock so that two threads never publish out of order.
struct Backlog {
    /// (logged, applied)
    counts: std::sync::Mutex<(u64, u64)>,
    /// Notified when events are applied.
    applying: std::sync::Condvar,
    status: Arc<IntakeStatus>,
}

impl Backlog {
    /// `left`: events an earlier run left in the log.
    fn new(status: Arc<IntakeStatus>, left: u64) -> Backlog {
        Backlog {
            counts: std::sync::Mutex::new((left, 0)),
            applying: std::sync::Condvar::new(),
            status,
        }
    }

    fn update(&self, f: impl FnOnce(&mut (u64, u64))) {
        let mut c = self
            .counts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut c);
        self.status
            .pending
            .store(c.0.saturating_sub(c.1), Ordering::Relaxed);
    }

    /// Events logged so far.
    fn logged_so_far(&self) -> u64 {
        self.counts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .0
    }

    /// `n` more events committed to the log.
    fn logged(&self, n: u64) {
        self.update(|c| c.0 += n);
    }

    /// `n` more events applied.
    fn applied(&self, n: u64) {
        self.update(|c| c.1 += n);
        self.applying.notify_all();
    }

    /// Returns once fewer than `limit` events wait (or after `patience`): the writer's
    /// back-pressure, so that acknowledged events never wait more than a bounded time for the
    /// appliers.
    fn wait_below(&self, limit: u64, patience: Duration) {
        let c = self
            .counts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let _ = self
            .applying
            .wait_timeout_while(c, patience, |c| c.0.saturating_sub(c.1) >= limit);
    }

    /// The log was found empty, after `logged` events had been counted logged: all of them are
    /// applied (some perhaps by another applier or writer — a command-line import applies the
    /// log first, as does a small group stored at once). Groups are counted logged after their
    /// commit, so those counted before the log was read were committed before it and, found
    /// gone, applied. (A row another applier is applying is still found: not empty.)
    fn emptied(&self, logged: u64) {
        self.update(|c| c.1 = c.1.max(logged));
        self.applying.notify_all();
    }
}

/// What applying the log needs besides a connection: the referrals events could answer, read
/// on a thread of its own (until read, every event is looked up) and shared by the appliers
/// (clones share them).
#[derive(Clone)]
struct Application {
    url: String,
    codes: Arc<Codes>,
    units: Arc<std::sync::Mutex<Background<Arc<RwLock<ReferralUnits>>>>>,
    status: Arc<IntakeStatus>,
}

impl Application {
    fn new(url: &str, codes: Arc<Codes>, status: Arc<IntakeStatus>) -> Application {
        Application {
            url: url.to_string(),
            codes,
            units: Arc::default(),
            status,
        }
    }

    /// The referrals' fingerprints once read; starts reading them when neither held nor being
    /// read.
    fn units(&self) -> Option<Arc<RwLock<ReferralUnits>>> {
        let (url, codes, status) = (&self.url, &self.codes, &self.status);
        let mut units = self
            .units
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        units.poll("referencias-en-memoria", "referencias", || {
            let (url, codes, status) = (url.clone(), codes.clone(), status.clone());
            let started = Instant::now();
            move || {
                let u = vamos_store::open(&url)
                    .and_then(|mut s| ReferralUnits::load(&mut s.db(), &codes.answers))?;
                tracing::info!(
                    pares = u.len(),
                    segundos = started.elapsed().as_secs_f64(),
                    "referencias que una contra-referencia puede responder, en memoria"
                );
                status
                    .referral_pairs
                    .store(u.len() as u64, Ordering::Relaxed);
                status.referrals_ready.store(true, Ordering::Relaxed);
                Ok(Arc::new(RwLock::new(u)))
            }
        });
        units.value.clone()
    }

    /// Whether the referrals' fingerprints are held.
    fn units_held(&self) -> bool {
        self.units
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .value
            .is_some()
    }

    /// Applies about [`APPLY_CHUNK`] events of the log ([`APPLY_CHUNK_POSTGRES`] on
    /// PostgreSQL) in one transaction on `s`.
    fn apply(&self, s: &mut dyn Store) -> anyhow::Result<Applied> {
        let chunk = match s.backend() {
            vamos_store::Backend::Postgres => APPLY_CHUNK_POSTGRES,
            vamos_store::Backend::Sqlite => APPLY_CHUNK,
        };
        let units = self.units();
        let applied = vamos_store::counter_referrals::apply_logged_counter_referrals(
            &mut s.db(),
            &self.codes.answers,
            chunk,
            units.as_deref(),
        );
        if let Some(u) = &units {
            let pairs = u
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .len();
            self.status
                .referral_pairs
                .store(pairs as u64, Ordering::Relaxed);
        }
        Ok(applied?)
    }
}

/// An applier (PostgreSQL): a thread with a connection of its own that applies the log while
/// it holds events, woken by the writer after each commit. The server runs
/// `counter_referral_appliers` of them (default 2) side by side, each on rows of the log the
/// others have not claimed (`FOR UPDATE SKIP LOCKED`): a single applier's connection was the
/// slowest stage of the intake (measured: BENCHMARKS.md, issue 5).
/// Their transactions hold the lock of referral answers in shared mode, not that of ids, so
/// the writer's log commits go on meanwhile.
struct Applier {
    url: String,
    store: Option<Box<dyn Store>>,
    application: Application,
    backlog: Arc<Backlog>,
    applied: Arc<Notify>,
}

impl Applier {
    fn run(&mut self, woken: &std::sync::mpsc::Receiver<()>) {
        loop {
            let logged = self.backlog.logged_so_far();
            if self.store.is_none() {
                match vamos_store::open(&self.url) {
                    Ok(s) => self.store = Some(s),
                    Err(e) => {
                        tracing::error!(motivo = %e, "aplicador de contra-referencias sin conexión");
                        std::thread::sleep(Duration::from_secs(1));
                        continue;
                    }
                }
            }
            let applied = match self.store.as_mut() {
                Some(s) => self.application.apply(s.as_mut()),
                None => continue,
            };
            // Whether to wait for the writer's next commit, and how: `Some(true)` until it
            // comes, `Some(false)` a second at most.
            let wait = match applied {
                Ok(Applied::Events(n)) => {
                    self.backlog.applied(n as u64);
                    self.applied.notify_one();
                    None
                }
                // While the referrals are read, every second too, to take them.
                Ok(Applied::Empty) => {
                    self.backlog.emptied(logged);
                    Some(self.application.units_held())
                }
                // What is left is being applied by another applier, which goes on after it;
                // looked at again within a second (rows it gave back after an error).
                Ok(Applied::Claimed) => Some(false),
                Err(e) => {
                    tracing::error!(motivo = %e, "registro de contra-referencias no aplicado");
                    self.store = None;
                    std::thread::sleep(Duration::from_secs(1));
                    None
                }
            };
            let stopped = match wait {
                None => false,
                Some(true) => woken.recv().is_err(),
                Some(false) => matches!(
                    woken.recv_timeout(Duration::from_secs(1)),
                    Err(std::sync::mpsc::RecvTimeoutError::Disconnected)
                ),
            };
            if stopped {
                // The writer stopped (the server is shutting down).
                break;
            }
        }
    }
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
            match &self.split {
                // The log holds [`MAX_BACKLOG`] events: submissions wait for the appliers.
                Some(split) => split
                    .backlog
                    .wait_below(MAX_BACKLOG, Duration::from_secs(60)),
                None => {
                    self.application.units();
                }
            }
            let backlog = self.backlog();
            // With appliers of its own (PostgreSQL) the writer only acknowledges.
            let first = if backlog == 0 || self.split.is_some() {
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
            if self.split.is_some() {
                continue;
            }
            let overdue = self
                .lag
                .front()
                .is_some_and(|(_, t)| t.elapsed() >= MAX_LAG);
            if overdue || self.backlog() >= MAX_BACKLOG {
                self.apply_some();
            }
        }
    }

    /// Events in the log, counted once per connection (as the appliers count them, with theirs).
    fn backlog(&mut self) -> u64 {
        if self.split.is_some() {
            return self.status.pending.load(Ordering::Relaxed);
        }
        if let Some(n) = self.backlog {
            return n;
        }
        let counted = self
            .conn
            .connection()
            .and_then(|s| vamos_store::counter_referrals::logged_counter_referrals(&mut s.db()));
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
                self.conn.reset();
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
                    let k =
                        vamos_store::open(&url).and_then(|mut s| KnownKeys::load(&mut s.db()))?;
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

    /// Forgets the fingerprints (after a failed commit they may not match the database).
    fn forget_known(&mut self) {
        self.known.value = None;
        self.known.started = None;
        self.status.known_ready.store(false, Ordering::Relaxed);
        self.status.known.store(0, Ordering::Relaxed);
    }

    /// Applies some of the log on this thread's connection (see [`Application::apply`]).
    fn apply_some(&mut self) {
        let applied = match self.conn.prepare(WriteKind::Application) {
            Ok(s) => self.application.apply(s.as_mut()),
            Err(e) => Err(e.into()),
        };
        match applied {
            Ok(applied) => {
                // On SQLite no other applier claims rows: nothing applied, nothing left.
                let n = match applied {
                    Applied::Events(n) => n,
                    Applied::Empty | Applied::Claimed => 0,
                };
                self.conn.committed(WriteKind::Application);
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
                self.conn.reset();
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
        let at = crate::clock::now_rfc3339();
        let (mut work, replies): (Vec<(Checked, AuditEntry)>, Vec<_>) = jobs
            .into_iter()
            .map(|j| ((j.checked, j.audit), j.reply))
            .unzip();
        let backlog = self.backlog();
        let codes = self.codes.clone();
        let mut known = self.known.value.take();
        // Small while nothing waits: applied at once (also while the fingerprints are read).
        let small = backlog == 0 && rows.len() <= APPLY_AT_ONCE;
        let kind = if small {
            WriteKind::Small
        } else {
            WriteKind::Batch
        };
        // The events (or their log row), the referrals they answer and the submissions'
        // audit records: one transaction, one durable commit. Each submission's summary is
        // made by its request afterwards (`Intake::submit`), off this thread.
        let config = self.audit.clone();
        let stored = self.conn.prepare(kind).and_then(|s| {
            let sql = &mut s.db();
            let audit = |sql: &mut vamos_store::Db<'_>, outcomes: &[Outcome]| {
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
                let segment = append_in_tx(sql, config.key(), &entries)?;
                Ok((parts, segment))
            };
            let stored = match known.as_mut() {
                Some(k) if !small => {
                    let ((parts, segment), logged) =
                        log_counter_referrals_and(sql, &rows, &runs, &at, k, audit)?;
                    (parts, segment, logged, false)
                }
                k => {
                    let (parts, segment) =
                        insert_counter_referrals_and(sql, &rows, &codes.answers, &at, k, audit)?;
                    // Applied at once: the log, if any, was applied first.
                    (parts, segment, Logged::default(), true)
                }
            };
            // Committed: the checkpoint follows (a failure to write it is logged; the
            // submissions are stored).
            let (parts, segment, logged, applied) = stored;
            if let Err(e) = config.after_commit(sql, &segment) {
                tracing::error!(motivo = %e, "punto de control de auditoría no escrito");
            }
            Ok((parts, logged, applied))
        });
        match stored {
            Ok((parts, logged, applied)) => {
                self.conn.committed(kind);
                self.known.value = known;
                if let Some(k) = &self.known.value {
                    self.status.known.store(k.len() as u64, Ordering::Relaxed);
                }
                if let Some(split) = &self.split {
                    split.backlog.logged(logged.logged as u64);
                    if applied && fresh.iter().any(|f| !f.is_empty()) {
                        self.applied.notify_one();
                    }
                    // Not after a small group stored at once: it is stored so only while
                    // nothing waits in the log, so the appliers would find it empty — and
                    // their shared hold of the referral-answer lock, taken to look, made the
                    // next such group wait for them (single events on PostgreSQL were slower,
                    // in rate and latency, with these wake-ups; measured: BENCHMARKS.md,
                    // issue 5). A large group stored at once (no known keys yet) applied what
                    // the log held: the appliers, woken, find it empty and count it applied.
                    if !(applied && small) {
                        for wake in &split.wakes {
                            let _ = wake.try_send(());
                        }
                    }
                } else if applied && fresh.iter().any(|f| !f.is_empty()) {
                    self.set_backlog(0);
                    self.applied.notify_one();
                } else {
                    if logged.logged > 0 {
                        self.lag.push_back((logged.logged as u64, Instant::now()));
                    }
                    self.set_backlog(backlog + logged.logged as u64);
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
                self.conn.reset();
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

fn unavailable(why: &str) -> Error {
    tracing::error!(motivo = %why, "contra-referencias no guardadas");
    Error::new(
        ErrorKind::Unavailable,
        "contrarreferencias_no_guardadas",
        "no se pudieron guardar las contra-referencias; reintente el envío (los eventos ya recibidos se reconocen como duplicados)",
    )
}

/// What the checks of a submission read besides the database ([`Intake::gate`]): the
/// catalogue's codes and the server's count of persons named but not found in scope.
#[derive(Clone)]
pub struct Gate {
    pub codes: Arc<Codes>,
    pub misses: Arc<MissLimit>,
}

/// A submission of counter-referrals checked for the writer ([`check_submission`]).
pub enum Checking {
    /// Nothing to store (every event rejected or already received): its audit record is
    /// written.
    Done(IngestSummary),
    /// Events to hand to [`Intake::submit`], with the audit record the writer completes and
    /// writes with them.
    ToStore(Box<(Checked, AuditEntry)>),
}

/// The reading half of a submission of `actor` on `channel` (the API's three routes and the
/// inbox page): the sender's right to send is checked ([`acc::sender_for`]), the events are
/// checked against `codes` and `places` (reads only; run in parallel on the pool) and encoded
/// for the log; when nothing is left to store, the submission's audit record is written here.
/// The persons named that are not registered within the sender's scope count against `limit`
/// (the server's [`MissLimit`]): a submission that would pass it is refused whole, answering
/// nothing about any event, and its refusal audited with what it tried.
pub fn check_submission(
    store: &mut dyn Store,
    actor: &crate::Actor,
    catalogue: &vamos_catalogue::Catalogue,
    gate: &Gate,
    events: Vec<vamos_ingest::counter_referrals::Located>,
    channel: &str,
    places: Option<&vamos_store::places::PersonPlaces>,
) -> AppResult<Checking> {
    let limit = &gate.misses;
    let who = acc::sender_for(actor, channel, events.len())?;
    let mut entry = actor.audit_entry(
        "recibir contra-referencias",
        "contra-referencias",
        "",
        channel,
        "",
    );
    let today = crate::clock::now().date_naive();
    let mut checked = acc::check(store, catalogue, &gate.codes, events, &who, today, places)?;
    let account = super::misses::account_of(&actor.name);
    if let Err(before) = limit.admit(account, checked.misses(), std::time::Instant::now()) {
        let per_hour = limit.per_hour();
        entry.subject_id = "ninguna contra-referencia guardada".into();
        entry.outcome = format!(
            "denegado: demasiadas personas no encontradas en su ámbito ({before} en la última hora, límite {per_hour}){}",
            acc::misses_note(checked.misses())
        );
        crate::audit::write_audit(store, entry)?;
        return Err(Error::new(
            ErrorKind::TooMany,
            "demasiadas_personas_no_encontradas",
            format!(
                "el envío nombra demasiadas personas que no están registradas en su ámbito territorial (a lo sumo {per_hour} distintas por hora); no se guardó ningún evento. Registre primero a las personas o espere una hora"
            ),
        ));
    }
    if checked.fresh_len() > 0 {
        checked.encode_for_log();
        return Ok(Checking::ToStore(Box::new((checked, entry))));
    }
    let note = acc::misses_note(checked.misses());
    let sum = acc::finish(checked, &[]);
    let mut entry = complete_audit(entry, &sum);
    entry.outcome.push_str(&note);
    crate::audit::write_audit(store, entry)?;
    Ok(Checking::Done(sum))
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
    fn the_backlog_is_what_was_logged_and_not_applied_and_holds_the_writer_back() {
        let status = Arc::new(IntakeStatus::default());
        let pending = || status.pending.load(Ordering::Relaxed);
        let b = Backlog::new(status.clone(), 5);
        b.update(|_| ());
        assert_eq!(pending(), 5);
        b.logged(10);
        assert_eq!((pending(), b.logged_so_far()), (10 + 5, 15));
        b.applied(12);
        assert_eq!(pending(), 3);
        // Found empty after 15 were counted logged: all applied (by whoever).
        b.emptied(15);
        assert_eq!(pending(), 0);
        // Applied before the writer counted them logged: never below zero, then exact.
        b.applied(4);
        assert_eq!(pending(), 0);
        b.logged(4);
        b.logged(7);
        assert_eq!(pending(), 7);
        // Below the limit: no wait; at it, the writer waits until events are applied.
        let t = Instant::now();
        b.wait_below(8, Duration::from_secs(30));
        assert!(t.elapsed() < Duration::from_secs(5));
        let t = Instant::now();
        b.wait_below(7, Duration::from_millis(200));
        assert!(t.elapsed() >= Duration::from_millis(200));
        let b = Arc::new(b);
        let applier = {
            let b = b.clone();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(100));
                b.applied(1);
            })
        };
        let t = Instant::now();
        b.wait_below(7, Duration::from_secs(30));
        assert!(t.elapsed() < Duration::from_secs(20));
        assert_eq!(pending(), 6);
        applier.join().unwrap();
    }
}
