//! How good a linkage is against the truth (`record_id, cluster_id`): pairwise precision,
//! recall and F1, with recall over every true pair — those blocking never compared included.

use crate::model::Scored;
use crate::table::Table;
use rustc_hash::FxHashMap;
use serde::Serialize;

/// Pairwise figures.
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct Accuracy {
    pub true_pairs: u64,
    pub predicted: u64,
    pub true_positives: u64,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
}

/// The figures of the pairs `links` (indices into `left`, `right`; `right` is `left` when
/// deduplicating) against `truth` (record id → entity).
pub fn accuracy(
    left: &Table,
    right: Option<&Table>,
    links: &[Scored],
    truth: &FxHashMap<String, String>,
) -> Accuracy {
    let entity = |t: &Table, r: u32| t.ids.get(r as usize).and_then(|id| truth.get(id));
    let r = right.unwrap_or(left);
    let true_positives = links
        .iter()
        .filter(|p| {
            let a = entity(left, p.left);
            a.is_some() && a == entity(r, p.right)
        })
        .count() as u64;
    // True pairs: per entity, n(n−1)/2 within one table, or left × right across two.
    let count = |t: &Table| {
        let mut m: FxHashMap<&String, u64> = FxHashMap::default();
        for id in &t.ids {
            if let Some(e) = truth.get(id) {
                *m.entry(e).or_default() += 1;
            }
        }
        m
    };
    let lc = count(left);
    let true_pairs = match right {
        None => lc.values().map(|n| n * n.saturating_sub(1) / 2).sum(),
        Some(rt) => {
            let rc = count(rt);
            lc.iter()
                .map(|(e, n)| n * rc.get(e).copied().unwrap_or(0))
                .sum()
        }
    };
    let predicted = links.len() as u64;
    let precision = if predicted > 0 {
        true_positives as f64 / predicted as f64
    } else {
        0.0
    };
    let recall = if true_pairs > 0 {
        true_positives as f64 / true_pairs as f64
    } else {
        0.0
    };
    let f1 = if precision + recall > 0.0 {
        2.0 * precision * recall / (precision + recall)
    } else {
        0.0
    };
    Accuracy {
        true_pairs,
        predicted,
        true_positives,
        precision,
        recall,
        f1,
    }
}
