//! Entities from links: records joined by links above the threshold are one entity (connected
//! components), and entity ids stay stable as records arrive — a merge keeps the oldest id, a
//! split keeps the id on its larger part, and every id change is recorded.

use rustc_hash::FxHashMap;
use serde::Serialize;

/// The component of each of `n` records joined by `links` (a component's number is its smallest
/// record).
pub fn components(n: usize, links: &[(u32, u32)]) -> Vec<u32> {
    let mut parent: Vec<u32> = (0..n as u32).collect();
    fn find(parent: &mut [u32], mut x: u32) -> u32 {
        while let Some(&p) = parent.get(x as usize) {
            if p == x {
                break;
            }
            let gp = parent.get(p as usize).copied().unwrap_or(p);
            if let Some(slot) = parent.get_mut(x as usize) {
                *slot = gp;
            }
            x = gp;
        }
        x
    }
    for &(a, b) in links {
        let (ra, rb) = (find(&mut parent, a), find(&mut parent, b));
        if ra != rb {
            let (lo, hi) = (ra.min(rb), ra.max(rb));
            if let Some(slot) = parent.get_mut(hi as usize) {
                *slot = lo;
            }
        }
    }
    (0..n as u32).map(|x| find(&mut parent, x)).collect()
}

/// An entity id that changed for a record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IdChange {
    pub record: String,
    pub from: u64,
    pub to: u64,
    /// `fusion` (its entity merged into an older one) or `division` (it left on a smaller part).
    pub reason: &'static str,
}

/// Entity ids for `records` grouped by `component`, given the ids they had (`previous`) and
/// the next free id: each previous id, oldest first, stays with the component holding most of
/// its records (ties: the component whose smallest record comes first) that has not already
/// taken an older id; components left without an id get new ones.
pub fn stable_ids(
    records: &[String],
    component: &[u32],
    previous: &FxHashMap<String, u64>,
    mut next_id: u64,
) -> (Vec<u64>, Vec<IdChange>, u64) {
    // Per previous id: how many of its records each component holds.
    let mut parts: FxHashMap<u64, FxHashMap<u32, usize>> = FxHashMap::default();
    for (r, c) in records.iter().zip(component) {
        if let Some(&id) = previous.get(r) {
            *parts.entry(id).or_default().entry(*c).or_default() += 1;
        }
    }
    let mut ids: Vec<u64> = parts.keys().copied().collect();
    ids.sort_unstable();
    let mut given: FxHashMap<u32, u64> = FxHashMap::default();
    for id in ids {
        let Some(p) = parts.get(&id) else { continue };
        let mut by_size: Vec<(u32, usize)> = p.iter().map(|(c, n)| (*c, *n)).collect();
        by_size.sort_unstable_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        // Its largest part not already holding an older id.
        if let Some(&(c, _)) = by_size.iter().find(|(c, _)| !given.contains_key(c)) {
            given.insert(c, id);
        }
    }
    // Fresh ids never reuse one in use.
    next_id = next_id.max(previous.values().max().map_or(0, |m| m + 1));
    let kept: rustc_hash::FxHashSet<u64> = given.values().copied().collect();
    let mut fresh: FxHashMap<u32, u64> = FxHashMap::default();
    let mut out = Vec::with_capacity(records.len());
    let mut changes = Vec::new();
    for (r, c) in records.iter().zip(component) {
        let id = match given.get(c) {
            Some(&id) => id,
            None => *fresh.entry(*c).or_insert_with(|| {
                next_id += 1;
                next_id - 1
            }),
        };
        if let Some(&old) = previous.get(r) {
            if old != id {
                // Its old id lives on elsewhere (a split) or not at all (merged away).
                let kept_elsewhere = kept.contains(&old);
                changes.push(IdChange {
                    record: r.clone(),
                    from: old,
                    to: id,
                    reason: if kept_elsewhere { "division" } else { "fusion" },
                });
            }
        }
        out.push(id);
    }
    (out, changes, next_id)
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn recs(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("r{i}")).collect()
    }

    #[test]
    fn linked_records_form_one_component_named_by_its_smallest_record() {
        assert_eq!(components(5, &[(3, 4), (1, 3)]), vec![0, 1, 2, 1, 1]);
    }

    #[test]
    fn new_records_join_an_entity_without_changing_its_id() {
        let r = recs(3);
        let previous: FxHashMap<String, u64> = [("r0".to_string(), 7)].into_iter().collect();
        let (ids, changes, next) = stable_ids(&r, &components(3, &[(0, 1)]), &previous, 10);
        assert_eq!(ids, vec![7, 7, 10]);
        assert!(changes.is_empty());
        assert_eq!(next, 11);
    }

    #[test]
    fn a_merge_keeps_the_oldest_id_and_records_the_change() {
        let r = recs(3);
        let previous: FxHashMap<String, u64> = [
            ("r0".to_string(), 5),
            ("r1".to_string(), 5),
            ("r2".to_string(), 3),
        ]
        .into_iter()
        .collect();
        let (ids, changes, _) = stable_ids(&r, &components(3, &[(0, 1), (1, 2)]), &previous, 10);
        assert_eq!(ids, vec![3, 3, 3]);
        assert_eq!(changes.len(), 2);
        assert!(changes
            .iter()
            .all(|c| c.from == 5 && c.to == 3 && c.reason == "fusion"));
    }

    #[test]
    fn fresh_ids_never_reuse_one_in_use() {
        let r = recs(2);
        let previous: FxHashMap<String, u64> = [("r0".to_string(), 12)].into_iter().collect();
        let (ids, _, next) = stable_ids(&r, &components(2, &[]), &previous, 3);
        assert_eq!(ids, vec![12, 13]);
        assert_eq!(next, 14);
    }

    #[test]
    fn a_split_keeps_the_id_on_the_larger_part() {
        let r = recs(3);
        let previous: FxHashMap<String, u64> = r.iter().map(|x| (x.clone(), 4)).collect();
        // r0 left alone; r1 and r2 still linked.
        let (ids, changes, _) = stable_ids(&r, &components(3, &[(1, 2)]), &previous, 10);
        assert_eq!(ids, vec![10, 4, 4]);
        assert_eq!(
            changes,
            vec![IdChange {
                record: "r0".into(),
                from: 4,
                to: 10,
                reason: "division"
            }]
        );
    }
}
