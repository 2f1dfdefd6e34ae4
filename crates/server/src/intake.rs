//! The single writer of counter-referrals (group commit). Requests check their events in
//! parallel on the pool (reads only), then hand the events to store to this writer: a thread
//! with its own connection that takes every submission waiting — single events, batches,
//! files — and stores them with their audit records in one transaction with one durable
//! commit, then answers each request. Under load many submissions share a disk sync instead of
//! queueing for the database's write lock one commit each; a lone submission is committed at
//! once. A submission is answered only after its commit, so every event acknowledged survives
//! a crash, and none goes unaudited. (Writing the audit records here rather than through the
//! pool's audit writer also spares SQLite a second writer between groups, whose commits made
//! this connection drop its page cache each time.)

use crate::access::{self as acc, Checked, Codes, IngestSummary};
use crate::error::{ApiError, ApiResult};
use axum::http::StatusCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};
use vamos_store::access::{insert_counter_referrals_and, NewCounterReferral};
use vamos_store::audit::append_in_tx;
use vamos_store::{AuditEntry, Store};

/// One submission: its checked events, its audit record (subject and outcome are filled in
/// once stored) and where to answer.
struct Job {
    checked: Checked,
    audit: AuditEntry,
    reply: oneshot::Sender<ApiResult<IngestSummary>>,
}

/// Most events committed together (a single larger submission is committed alone).
const MAX_GROUP_EVENTS: usize = 50_000;

/// The writer (see the module documentation).
#[derive(Clone)]
pub struct Intake {
    tx: mpsc::Sender<Job>,
    codes: Arc<Codes>,
    /// Submissions received so far (the Logros updater rests only while they keep coming).
    submitted: Arc<AtomicU64>,
}

impl Intake {
    /// Starts the writer thread for the database at `url` (connected lazily, reconnected
    /// after an error).
    pub fn start(url: &str, codes: Arc<Codes>) -> anyhow::Result<Intake> {
        let (tx, mut rx) = mpsc::channel::<Job>(1024);
        let url = url.to_string();
        let answers = codes.clone();
        std::thread::Builder::new()
            .name("contrarreferencias".into())
            .spawn(move || {
                let mut store: Option<Box<dyn Store>> = None;
                while let Some(first) = rx.blocking_recv() {
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
                    commit_group(&url, &mut store, &answers, jobs);
                }
            })?;
        Ok(Intake {
            tx,
            codes,
            submitted: Arc::default(),
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

fn commit_group(url: &str, store: &mut Option<Box<dyn Store>>, codes: &Codes, jobs: Vec<Job>) {
    let rows: Vec<NewCounterReferral> = jobs
        .iter()
        .flat_map(|j| j.checked.rows().cloned())
        .collect();
    let at = crate::auth::now_rfc3339();
    let (work, replies): (Vec<(Checked, AuditEntry)>, Vec<_>) = jobs
        .into_iter()
        .map(|j| ((j.checked, j.audit), j.reply))
        .unzip();
    // The events, the referrals they answer and the submissions' audit records: one
    // transaction, one durable commit.
    let stored = match store.as_mut() {
        Some(s) => Ok(s),
        None => vamos_store::open(url).map(|s| store.insert(s)),
    }
    .and_then(|s| {
        insert_counter_referrals_and(s.sql(), &rows, &codes.answers, &at, |sql, outcomes| {
            let mut sums = Vec::with_capacity(work.len());
            let mut entries = Vec::with_capacity(work.len());
            let mut offset = 0;
            for (checked, audit) in work {
                let n = checked.fresh_len();
                let part = outcomes.get(offset..offset + n).unwrap_or_default();
                offset += n;
                let sum = acc::finish(checked, part);
                entries.push(complete_audit(audit, &sum));
                sums.push(sum);
            }
            append_in_tx(sql, &entries)?;
            Ok(sums)
        })
    });
    match stored {
        Ok(sums) => {
            for (sum, reply) in sums.into_iter().zip(replies) {
                let _ = reply.send(Ok(sum));
            }
        }
        Err(e) => {
            *store = None;
            let why = e.to_string();
            for reply in replies {
                let _ = reply.send(Err(unavailable(&why)));
            }
        }
    }
}
