//! Blocking: the candidate pairs are those that share every key of at least one rule. Each
//! rule's count of comparisons is known before any is made (from its groups' sizes), and a pair
//! two rules generate is compared once, under the first.

use crate::settings::Blocking;
use crate::table::Table;
use rayon::prelude::*;
use rustc_hash::FxHashMap;
use std::hash::{Hash, Hasher};

/// What is being linked: one table against itself, or two.
#[derive(Debug, Clone, Copy)]
pub enum Input<'a> {
    Dedupe(&'a Table),
    Link(&'a Table, &'a Table),
}

impl<'a> Input<'a> {
    pub fn left(&self) -> &'a Table {
        match self {
            Input::Dedupe(t) | Input::Link(t, _) => t,
        }
    }

    pub fn right(&self) -> &'a Table {
        match self {
            Input::Dedupe(t) | Input::Link(_, t) => t,
        }
    }

    /// Every pair there is (`n(n−1)/2`, or `n × m`).
    pub fn all_pairs(&self) -> u64 {
        match self {
            Input::Dedupe(t) => (t.len() as u64) * (t.len() as u64).saturating_sub(1) / 2,
            Input::Link(a, b) => a.len() as u64 * b.len() as u64,
        }
    }
}

/// Each record's key of each rule, hashed (`None`: a key part missing). Two different keys
/// hashing alike would only add a candidate pair, never lose one.
pub struct Keys {
    left: Vec<RuleKeys>,
    right: Vec<RuleKeys>,
}

/// One rule's hashed key per record.
type RuleKeys = Vec<Option<u64>>;

fn hashed(table: &Table, rules: &[Blocking]) -> Result<Vec<RuleKeys>, String> {
    rules
        .iter()
        .map(|rule| {
            let keys = table.keys(rule)?;
            Ok((0..table.len())
                .into_par_iter()
                .map(|r| {
                    table.rule_key(&keys, r).map(|k| {
                        let mut h = rustc_hash::FxHasher::default();
                        k.hash(&mut h);
                        h.finish()
                    })
                })
                .collect())
        })
        .collect()
}

impl Keys {
    pub fn new(input: Input<'_>, rules: &[Blocking]) -> Result<Keys, String> {
        let left = hashed(input.left(), rules)?;
        let right = match input {
            Input::Dedupe(_) => Vec::new(),
            Input::Link(_, r) => hashed(r, rules)?,
        };
        Ok(Keys { left, right })
    }

    fn of(&self, dedupe: bool) -> (&[RuleKeys], &[RuleKeys]) {
        (&self.left, if dedupe { &self.left } else { &self.right })
    }
}

/// The groups of one rule: records sharing a key (left and right members).
fn groups(left: &[Option<u64>], right: Option<&[Option<u64>]>) -> Vec<(Vec<u32>, Vec<u32>)> {
    let mut map: FxHashMap<u64, (Vec<u32>, Vec<u32>)> = FxHashMap::default();
    for (i, k) in left.iter().enumerate() {
        if let Some(k) = k {
            map.entry(*k).or_default().0.push(i as u32);
        }
    }
    if let Some(right) = right {
        for (j, k) in right.iter().enumerate() {
            if let Some(k) = k {
                if let Some(g) = map.get_mut(k) {
                    g.1.push(j as u32);
                }
            }
        }
    }
    map.into_values()
        .filter(|(l, r)| {
            if right.is_some() {
                !r.is_empty()
            } else {
                l.len() > 1
            }
        })
        .collect()
}

/// The comparisons each rule generates on its own, before any is made.
pub fn counts(input: Input<'_>, keys: &Keys) -> Vec<u64> {
    let dedupe = matches!(input, Input::Dedupe(_));
    let (l, r) = keys.of(dedupe);
    l.iter()
        .enumerate()
        .map(|(rule, lk)| {
            let rk = r.get(rule).map(Vec::as_slice);
            groups(lk, if dedupe { None } else { rk })
                .iter()
                .map(|(a, b)| {
                    if dedupe {
                        (a.len() as u64) * (a.len() as u64 - 1) / 2
                    } else {
                        a.len() as u64 * b.len() as u64
                    }
                })
                .sum()
        })
        .collect()
}

/// Every candidate pair `(left, right, rule)` of `input`, each once (under the first rule that
/// generates it), folded in parallel: `f` maps a pair into `T`, and the results are combined
/// with `reduce` starting from `init()`.
pub fn fold_pairs<T, F, R, I>(input: Input<'_>, keys: &Keys, init: I, f: F, reduce: R) -> T
where
    T: Send,
    I: Fn() -> T + Sync + Send,
    F: Fn(&mut T, u32, u32, usize) + Sync + Send,
    R: Fn(T, T) -> T + Sync + Send,
{
    let dedupe = matches!(input, Input::Dedupe(_));
    let (l, r) = keys.of(dedupe);
    let mut total = init();
    for (rule, lk) in l.iter().enumerate() {
        let rk = r.get(rule).map(Vec::as_slice);
        let gs = groups(lk, if dedupe { None } else { rk });
        let earlier = |i: u32, j: u32| {
            (0..rule).any(|e| {
                let a = l.get(e).and_then(|k| k.get(i as usize)).copied().flatten();
                let b = r.get(e).and_then(|k| k.get(j as usize)).copied().flatten();
                a.is_some() && a == b
            })
        };
        let part = gs
            .par_iter()
            .fold(&init, |mut acc, (a, b)| {
                if dedupe {
                    for (x, &i) in a.iter().enumerate() {
                        for &j in a.iter().skip(x + 1) {
                            let (i, j) = (i.min(j), i.max(j));
                            if !earlier(i, j) {
                                f(&mut acc, i, j, rule);
                            }
                        }
                    }
                } else {
                    for &i in a {
                        for &j in b {
                            if !earlier(i, j) {
                                f(&mut acc, i, j, rule);
                            }
                        }
                    }
                }
                acc
            })
            .reduce(&init, &reduce);
        total = reduce(total, part);
    }
    total
}

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::settings::Settings;

    fn settings() -> Settings {
        toml::from_str(
            r#"
version = "prueba"
id_column = "id"
[[comparison]]
name = "apellido"
column = "apellido"
levels = ["exact"]
[[blocking]]
keys = ["apellido"]
[[blocking]]
keys = ["anio(nacimiento)"]
[training]
prior = 0.01
em_blocking = [{ keys = ["apellido"] }]
[thresholds]
link = 0.9
review = 0.5
[[comparison]]
name = "nacimiento"
column = "nacimiento"
kind = "fecha"
levels = ["exact"]
"#,
        )
        .unwrap()
    }

    fn table(rows: &[[&str; 3]]) -> Table {
        let cols = ["id", "apellido", "nacimiento"].map(String::from).to_vec();
        let rows: Vec<Vec<String>> = rows.iter().map(|r| r.map(String::from).to_vec()).collect();
        Table::new(&settings(), &cols, &rows).unwrap()
    }

    #[test]
    fn each_rule_counts_its_comparisons_and_a_pair_is_compared_once() {
        let t = table(&[
            ["1", "Benítez", "1980-01-01"],
            ["2", "BENITEZ", "1980-05-05"],
            ["3", "Benitez", "1990-01-01"],
            ["4", "Ortiz", "1980-02-02"],
            ["5", "", "1990-03-03"],
        ]);
        let s = settings();
        let input = Input::Dedupe(&t);
        let keys = Keys::new(input, &s.blocking).unwrap();
        // Surname: 1, 2, 3 (3 pairs); year: 1980 {1, 2, 4} (3) and 1990 {3, 5} (1).
        assert_eq!(counts(input, &keys), vec![3, 4]);
        let mut pairs = fold_pairs(
            input,
            &keys,
            Vec::new,
            |v: &mut Vec<(u32, u32, usize)>, i, j, r| v.push((i, j, r)),
            |mut a, b| {
                a.extend(b);
                a
            },
        );
        pairs.sort_unstable();
        // (0, 1) shares both keys: compared once, under the surname.
        assert_eq!(
            pairs,
            vec![
                (0, 1, 0),
                (0, 2, 0),
                (0, 3, 1),
                (1, 2, 0),
                (1, 3, 1),
                (2, 4, 1)
            ]
        );
    }

    #[test]
    fn linking_two_tables_pairs_left_with_right_only() {
        let a = table(&[["a1", "Ortiz", "1980-01-01"], ["a2", "Ortiz", "1981-01-01"]]);
        let b = table(&[["b1", "Ortiz", "1980-01-01"]]);
        let s = settings();
        let input = Input::Link(&a, &b);
        let keys = Keys::new(input, &s.blocking).unwrap();
        assert_eq!(counts(input, &keys), vec![2, 1]);
        assert_eq!(input.all_pairs(), 2);
        let n = fold_pairs(input, &keys, || 0u64, |n, _, _, _| *n += 1, |a, b| a + b);
        assert_eq!(n, 2);
    }
}
