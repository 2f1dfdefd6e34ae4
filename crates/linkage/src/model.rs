//! Fellegi–Sunter: u from random pairs, the prior from deterministic rules, m by EM (one
//! session per training rule, u fixed, the blocked columns left out), term-frequency
//! adjustments for exact agreements; then every candidate pair's match weight, probability and
//! the explanation of its score, level by level.

use crate::block::{fold_pairs, Input, Keys};
use crate::compare::{level, NULL};
use crate::settings::{Level, Settings};
use crate::table::Table;
use rand::{Rng, SeedableRng};
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

/// The smallest probability a level keeps: a level never seen weighs a lot, not infinitely.
const FLOOR: f64 = 1e-6;

/// One comparison's trained parameters, per level (the last is "distinto").
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Params {
    pub name: String,
    pub m: Vec<f64>,
    pub u: Vec<f64>,
    /// How many EM sessions estimated m.
    pub sessions: usize,
}

/// A trained model.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Model {
    /// The prior share of random pairs that match.
    pub prior: f64,
    pub params: Vec<Params>,
    /// Term frequencies of the comparisons that use them (value → share of records): taken
    /// from the data a model scores, never kept with it ([`Model::with_term_frequencies`]).
    #[serde(skip)]
    pub tf: Vec<Option<FxHashMap<String, f64>>>,
    /// EM iterations run, per session.
    pub iterations: Vec<usize>,
}

/// The comparison vector of a pair.
pub fn gamma(settings: &Settings, left: &Table, right: &Table, i: u32, j: u32, out: &mut Vec<u8>) {
    out.clear();
    for (k, c) in settings.comparisons.iter().enumerate() {
        let a = left
            .values
            .get(k)
            .and_then(|v| v.get(i as usize))
            .and_then(Option::as_ref);
        let b = right
            .values
            .get(k)
            .and_then(|v| v.get(j as usize))
            .and_then(Option::as_ref);
        out.push(level(&c.levels, a, b));
    }
}

/// Shares of each level among non-null pairs, smoothed so none is zero.
fn shares(counts: &[u64]) -> Vec<f64> {
    let total: u64 = counts.iter().sum();
    counts
        .iter()
        .map(|&c| ((c as f64 + 0.5) / (total as f64 + 0.5 * counts.len() as f64)).max(FLOOR))
        .collect()
}

/// Random pairs drawn per chunk of the u estimate: each chunk has its own generator seeded from
/// the settings' seed and its number, so the draw is the same whatever the number of threads.
const U_CHUNK: usize = 1 << 16;

/// u: the share of each level among random pairs.
fn estimate_u(settings: &Settings, input: Input<'_>) -> Vec<Vec<f64>> {
    use rayon::prelude::*;
    let (left, right) = (input.left(), input.right());
    let empty: Vec<Vec<u64>> = settings
        .comparisons
        .iter()
        .map(|c| vec![0; c.levels.len() + 1])
        .collect();
    let dedupe = matches!(input, Input::Dedupe(_));
    let add = |counts: &mut Vec<Vec<u64>>, g: &[u8]| {
        for (c, &l) in counts.iter_mut().zip(g) {
            if let Some(x) = c.get_mut(usize::from(l)) {
                *x += 1;
            }
        }
    };
    let merge = |mut a: Vec<Vec<u64>>, b: Vec<Vec<u64>>| {
        for (x, y) in a.iter_mut().zip(b) {
            for (p, q) in x.iter_mut().zip(y) {
                *p += q;
            }
        }
        a
    };
    // Fewer pairs than the sample: every pair, once (no draw, as Splink does).
    if input.all_pairs() <= settings.training.u_pairs as u64 {
        let counts = (0..left.len() as u32)
            .into_par_iter()
            .map(|i| {
                let mut counts = empty.clone();
                let mut g = Vec::new();
                let from = if dedupe { i + 1 } else { 0 };
                for j in from..right.len() as u32 {
                    gamma(settings, left, right, i, j, &mut g);
                    add(&mut counts, &g);
                }
                counts
            })
            .reduce(|| empty.clone(), merge);
        return counts.iter().map(|c| shares(c)).collect();
    }
    let n = settings.training.u_pairs;
    let counts = (0..n.div_ceil(U_CHUNK))
        .into_par_iter()
        .map(|chunk| {
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(
                settings.training.seed ^ (chunk as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15),
            );
            let mut counts = empty.clone();
            let mut g = Vec::new();
            for _ in 0..U_CHUNK.min(n - chunk * U_CHUNK) {
                let i = rng.random_range(0..left.len()) as u32;
                let j = rng.random_range(0..right.len()) as u32;
                if dedupe && i == j {
                    continue;
                }
                gamma(settings, left, right, i, j, &mut g);
                add(&mut counts, &g);
            }
            counts
        })
        .reduce(|| empty.clone(), merge);
    counts.iter().map(|c| shares(c)).collect()
}

/// The prior: pairs the deterministic rules find, over the recall assumed, over every pair.
fn estimate_prior(settings: &Settings, input: Input<'_>) -> Result<f64, String> {
    if let Some(p) = settings.training.prior {
        return Ok(p);
    }
    let keys = Keys::new(input, &settings.training.deterministic)?;
    let found = fold_pairs(input, &keys, || 0u64, |n, _, _, _| *n += 1, |a, b| a + b);
    let all = input.all_pairs().max(1);
    let p = found as f64 / settings.training.deterministic_recall / all as f64;
    // A floor of one pair in all, a ceiling of one half (`max` then `min`: never a panic, even
    // with a single possible pair).
    Ok(p.max(1.0 / all as f64).min(0.5))
}

/// One EM session over the patterns of a rule's pairs: the comparisons in `estimated` get m.
/// EM stops when no parameter moves by more than this (Splink's default).
const EM_CONVERGENCE: f64 = 1e-4;

/// One EM session: m per comparison (`None` where the session could not estimate it: not
/// asked, or no pair with a value) and the iterations run. `patterns` are sorted, so the sums
/// run in the same order every time (the same data, the same model, bit for bit).
fn em(
    patterns: &[(Vec<u8>, u64)],
    u: &[Vec<f64>],
    estimated: &[bool],
    max_iterations: usize,
) -> (Vec<Option<Vec<f64>>>, usize) {
    // Start: agreement likely among matches, each level half as likely as the one before.
    let mut m: Vec<Vec<f64>> = u
        .iter()
        .map(|levels| {
            let raw: Vec<f64> = (0..levels.len()).map(|l| 0.5f64.powi(l as i32)).collect();
            let sum: f64 = raw.iter().sum();
            raw.iter().map(|x| x / sum).collect()
        })
        .collect();
    let mut lambda = 0.3;
    let mut iterations = 0;
    let mut observed = vec![false; m.len()];
    for _ in 0..max_iterations {
        iterations += 1;
        let mut sums: Vec<Vec<f64>> = m.iter().map(|l| vec![0.0; l.len()]).collect();
        let (mut matched, mut total) = (0.0, 0.0);
        for (g, c) in patterns {
            let c = *c;
            let (mut pm, mut pu) = (lambda, 1.0 - lambda);
            for (k, &l) in g.iter().enumerate() {
                if l == NULL || !estimated.get(k).copied().unwrap_or(false) {
                    continue;
                }
                pm *= m
                    .get(k)
                    .and_then(|x| x.get(usize::from(l)))
                    .copied()
                    .unwrap_or(FLOOR);
                pu *= u
                    .get(k)
                    .and_then(|x| x.get(usize::from(l)))
                    .copied()
                    .unwrap_or(FLOOR);
            }
            let p = pm / (pm + pu);
            let w = p * c as f64;
            matched += w;
            total += c as f64;
            for (k, &l) in g.iter().enumerate() {
                if l != NULL {
                    if let Some(x) = sums.get_mut(k).and_then(|s| s.get_mut(usize::from(l))) {
                        *x += w;
                    }
                }
            }
        }
        let mut change: f64 = 0.0;
        for (k, s) in sums.iter().enumerate() {
            let sum: f64 = s.iter().sum();
            if sum <= 0.0 || !estimated.get(k).copied().unwrap_or(false) {
                continue;
            }
            if let Some(o) = observed.get_mut(k) {
                *o = true;
            }
            if let Some(mk) = m.get_mut(k) {
                for (x, v) in mk.iter_mut().zip(s) {
                    let new = (v / sum).max(FLOOR);
                    change = change.max((new - *x).abs());
                    *x = new;
                }
            }
        }
        let new_lambda = if total > 0.0 { matched / total } else { lambda };
        change = change.max((new_lambda - lambda).abs());
        lambda = new_lambda;
        if change < EM_CONVERGENCE {
            break;
        }
    }
    let m = m
        .into_iter()
        .zip(observed)
        .map(|(mk, o)| o.then_some(mk))
        .collect();
    (m, iterations)
}

/// The median of each level's m over the sessions that estimated it (as Splink combines them).
fn median_m(sessions: &[Vec<f64>]) -> Vec<f64> {
    let levels = sessions.first().map_or(0, Vec::len);
    (0..levels)
        .map(|l| {
            let mut v: Vec<f64> = sessions.iter().filter_map(|s| s.get(l).copied()).collect();
            v.sort_by(f64::total_cmp);
            let at = |i: usize| v.get(i).copied().unwrap_or(FLOOR);
            match v.len() {
                0 => FLOOR,
                n if n % 2 == 1 => at(n / 2),
                n => (at(n / 2 - 1) + at(n / 2)) / 2.0,
            }
        })
        .collect()
}

/// Term frequencies of a comparison's values over `tables`, each distinct record counted once
/// (records equal in every compared value are one: a file with duplicates does not make a
/// name look commoner than it is).
fn term_frequencies(k: usize, tables: &[&Table]) -> FxHashMap<String, f64> {
    let mut seen: rustc_hash::FxHashSet<Vec<Option<&str>>> = Default::default();
    let mut counts: FxHashMap<String, u64> = FxHashMap::default();
    let mut total = 0u64;
    for t in tables {
        for r in 0..t.len() {
            let record: Vec<Option<&str>> = t
                .values
                .iter()
                .map(|c| c.get(r).and_then(Option::as_ref).map(|v| v.text.as_str()))
                .collect();
            let Some(Some(v)) = record.get(k).copied() else {
                continue;
            };
            let v = v.to_string();
            if seen.insert(record) {
                *counts.entry(v).or_default() += 1;
                total += 1;
            }
        }
    }
    counts
        .into_iter()
        .map(|(v, c)| (v, c as f64 / total.max(1) as f64))
        .collect()
}

/// Trains a model of `settings` on `input`.
pub fn train(settings: &Settings, input: Input<'_>) -> Result<Model, String> {
    settings.check()?;
    let u = estimate_u(settings, input);
    let prior = estimate_prior(settings, input)?;
    let (left, right) = (input.left(), input.right());
    let mut estimates: Vec<Vec<Vec<f64>>> = vec![Vec::new(); u.len()];
    let mut iterations = Vec::new();
    for rule in &settings.training.em_blocking {
        let blocked: Vec<String> = rule
            .keys
            .iter()
            .map(|k| crate::table::key_column(k))
            .collect::<Result<_, _>>()?;
        let estimated: Vec<bool> = settings
            .comparisons
            .iter()
            .map(|c| !blocked.contains(&c.column))
            .collect();
        let keys = Keys::new(input, std::slice::from_ref(rule))?;
        let patterns = fold_pairs(
            input,
            &keys,
            || (FxHashMap::<Vec<u8>, u64>::default(), Vec::new()),
            |(map, g), i, j, _| {
                gamma(settings, left, right, i, j, g);
                // Most pairs repeat a pattern already seen: look it up before copying it.
                match map.get_mut(g.as_slice()) {
                    Some(n) => *n += 1,
                    None => {
                        map.insert(g.clone(), 1);
                    }
                }
            },
            |(mut a, g), (b, _)| {
                for (k, v) in b {
                    *a.entry(k).or_default() += v;
                }
                (a, g)
            },
        )
        .0;
        // A session without pairs teaches nothing; a comparison no session estimated is
        // refused below, naming it.
        if patterns.is_empty() {
            iterations.push(0);
            continue;
        }
        let mut patterns: Vec<(Vec<u8>, u64)> = patterns.into_iter().collect();
        patterns.sort_unstable();
        let (m, its) = em(&patterns, &u, &estimated, settings.training.max_iterations);
        iterations.push(its);
        for (e, mk) in estimates.iter_mut().zip(m) {
            e.extend(mk);
        }
    }
    let mut params = Vec::new();
    for ((c, uk), e) in settings.comparisons.iter().zip(u).zip(estimates) {
        let n = e.len();
        if n == 0 {
            return Err(format!(
                "la comparación «{}» no se estimó: agregue una regla de entrenamiento que no bloquee por «{}»",
                c.name, c.column
            ));
        }
        params.push(Params {
            name: c.name.clone(),
            m: median_m(&e).into_iter().map(|x| x.max(FLOOR)).collect(),
            u: uk,
            sessions: n,
        });
    }
    Ok(Model {
        prior,
        params,
        tf: Vec::new(),
        iterations,
    }
    .with_term_frequencies(settings, input))
}

/// A pair scored.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scored {
    pub left: u32,
    pub right: u32,
    pub weight: f64,
    pub probability: f64,
}

/// A probability from a match weight (log2 of the odds).
pub fn probability(weight: f64) -> f64 {
    1.0 / (1.0 + (-weight).exp2())
}

impl Model {
    /// The model with the term frequencies of `input` (a kept model scoring new data takes
    /// them from that data).
    pub fn with_term_frequencies(mut self, settings: &Settings, input: Input<'_>) -> Model {
        let tables: Vec<&Table> = match input {
            Input::Dedupe(t) => vec![t],
            Input::Link(a, b) => vec![a, b],
        };
        self.tf = settings
            .comparisons
            .iter()
            .enumerate()
            .map(|(k, c)| c.term_frequency.then(|| term_frequencies(k, &tables)))
            .collect();
        self
    }

    /// The prior's weight: log2 of its odds.
    pub fn prior_weight(&self) -> f64 {
        (self.prior / (1.0 - self.prior)).log2()
    }

    /// The term-frequency adjustment of comparison `k` at level `l` for values `a`, `b` (0
    /// unless the level is the comparison's exact one and it uses term frequencies).
    fn tf_adjustment(&self, settings: &Settings, k: usize, l: u8, a: &str, b: &str) -> f64 {
        let Some(Some(tf)) = self.tf.get(k) else {
            return 0.0;
        };
        let Some(c) = settings.comparisons.get(k) else {
            return 0.0;
        };
        if c.levels.get(usize::from(l)) != Some(&Level::Exact) {
            return 0.0;
        }
        let f = tf
            .get(a)
            .copied()
            .unwrap_or(0.0)
            .max(tf.get(b).copied().unwrap_or(0.0));
        let u = self
            .params
            .get(k)
            .and_then(|p| p.u.get(usize::from(l)))
            .copied()
            .unwrap_or(FLOOR);
        if f <= 0.0 {
            return 0.0;
        }
        (u / f).log2()
    }

    /// The match weight of pair `(i, j)` with its comparison vector `g`.
    pub fn weight(
        &self,
        settings: &Settings,
        left: &Table,
        right: &Table,
        i: u32,
        j: u32,
        g: &[u8],
    ) -> f64 {
        let mut w = self.prior_weight();
        for (k, &l) in g.iter().enumerate() {
            if l == NULL {
                continue;
            }
            let Some(p) = self.params.get(k) else {
                continue;
            };
            let (m, u) = (
                p.m.get(usize::from(l)).copied().unwrap_or(FLOOR),
                p.u.get(usize::from(l)).copied().unwrap_or(FLOOR),
            );
            w += (m / u).log2();
            if self.tf.get(k).is_some_and(Option::is_some) {
                fn text(t: &Table, k: usize, r: u32) -> Option<&str> {
                    t.values
                        .get(k)
                        .and_then(|v| v.get(r as usize))
                        .and_then(Option::as_ref)
                        .map(|v| v.text.as_str())
                }
                if let (Some(a), Some(b)) = (text(left, k, i), text(right, k, j)) {
                    w += self.tf_adjustment(settings, k, l, a, b);
                }
            }
        }
        w
    }

    /// Every candidate pair of `input` whose probability reaches `floor`, with how many pairs
    /// were compared.
    pub fn predict(
        &self,
        settings: &Settings,
        input: Input<'_>,
        keys: &Keys,
        floor: f64,
    ) -> (Vec<Scored>, u64) {
        let (left, right) = (input.left(), input.right());
        let (mut pairs, compared, _) = fold_pairs(
            input,
            keys,
            || (Vec::new(), 0u64, Vec::new()),
            |(out, n, g), i, j, _| {
                *n += 1;
                gamma(settings, left, right, i, j, g);
                let weight = self.weight(settings, left, right, i, j, g);
                let probability = probability(weight);
                if probability >= floor {
                    out.push(Scored {
                        left: i,
                        right: j,
                        weight,
                        probability,
                    });
                }
            },
            |(mut a, n, g), (b, m, _)| {
                a.extend(b);
                (a, n + m, g)
            },
        );
        pairs.sort_unstable_by_key(|p| (p.left, p.right));
        (pairs, compared)
    }

    /// How pair `(i, j)` got its score, comparison by comparison.
    pub fn waterfall(
        &self,
        settings: &Settings,
        left: &Table,
        right: &Table,
        i: u32,
        j: u32,
    ) -> Waterfall {
        let mut g = Vec::new();
        gamma(settings, left, right, i, j, &mut g);
        let mut steps = Vec::new();
        for (k, (c, &l)) in settings.comparisons.iter().zip(&g).enumerate() {
            let text = |t: &Table, r: u32| {
                t.values
                    .get(k)
                    .and_then(|v| v.get(r as usize))
                    .and_then(Option::as_ref)
                    .map(|v| v.text.clone())
            };
            let (a, b) = (text(left, i), text(right, j));
            let p = self.params.get(k);
            let (m, u) = if l == NULL {
                (None, None)
            } else {
                (
                    p.and_then(|p| p.m.get(usize::from(l))).copied(),
                    p.and_then(|p| p.u.get(usize::from(l))).copied(),
                )
            };
            let weight = match (m, u) {
                (Some(m), Some(u)) => (m / u).log2(),
                _ => 0.0,
            };
            let tf = match (&a, &b) {
                (Some(a), Some(b)) if l != NULL => self.tf_adjustment(settings, k, l, a, b),
                _ => 0.0,
            };
            steps.push(Step {
                comparison: c.name.clone(),
                level: level_label(c.levels.get(usize::from(l)), l),
                left: a,
                right: b,
                m,
                u,
                weight,
                tf_adjustment: tf,
            });
        }
        let weight = self.prior_weight()
            + steps
                .iter()
                .map(|s| s.weight + s.tf_adjustment)
                .sum::<f64>();
        Waterfall {
            prior_weight: self.prior_weight(),
            steps,
            weight,
            probability: probability(weight),
        }
    }
}

/// A pair's score explained.
#[derive(Debug, Clone, Serialize)]
pub struct Waterfall {
    pub prior_weight: f64,
    pub steps: Vec<Step>,
    pub weight: f64,
    pub probability: f64,
}

/// One comparison's part of a score.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    pub comparison: String,
    /// The level reached, in words.
    pub level: String,
    pub left: Option<String>,
    pub right: Option<String>,
    pub m: Option<f64>,
    pub u: Option<f64>,
    /// log2(m / u).
    pub weight: f64,
    pub tf_adjustment: f64,
}

/// A level in words (Spanish).
pub fn level_label(level: Option<&Level>, index: u8) -> String {
    if index == NULL {
        return "sin dato".into();
    }
    match level {
        None => "distinto".into(),
        Some(Level::Exact) => "igual".into(),
        Some(Level::JaroWinkler(x)) => {
            format!("Jaro–Winkler ≥ {}", x.to_string().replace('.', ","))
        }
        Some(Level::Levenshtein(n)) => format!("a {n} letra(s) o menos"),
        Some(Level::Phonetic) => "suena igual".into(),
        Some(Level::SameWords) => "mismas palabras en otro orden".into(),
        Some(Level::Genderless) => "el mismo nombre en otro género".into(),
        Some(Level::Contained) => "una parte del otro".into(),
        Some(Level::SwappedDayMonth) => "día y mes invertidos".into(),
        Some(Level::SameYearMonth) => "mismo año y mes".into(),
        Some(Level::YearsApart(n)) => format!("a {n} año(s) o menos"),
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn em_recovers_the_parameters_that_generated_the_patterns() {
        // Splink's known-parameters fixture, in expected counts: three binary comparisons with
        // m = (0.7, 0.9, 0.95), u = (0.1, 0.025, 0.2) on agreement, and half the pairs matching.
        let (m, u) = ([0.7, 0.9, 0.95], [0.1, 0.025, 0.2]);
        let mut patterns = FxHashMap::default();
        for bits in 0..8u8 {
            let g: Vec<u8> = (0..3)
                .map(|k| if bits & (1 << k) != 0 { 0 } else { 1 })
                .collect();
            let p = |probs: &[f64; 3]| {
                g.iter()
                    .zip(probs)
                    .map(|(&l, &x)| if l == 0 { x } else { 1.0 - x })
                    .product::<f64>()
            };
            let expected = 1_000_000.0 * (0.5 * p(&m) + 0.5 * p(&u));
            patterns.insert(g, expected.round() as u64);
        }
        let uu: Vec<Vec<f64>> = u.iter().map(|&x| vec![x, 1.0 - x]).collect();
        let mut patterns: Vec<(Vec<u8>, u64)> = patterns.into_iter().collect();
        patterns.sort_unstable();
        let (est, _) = em(&patterns, &uu, &[true, true, true], 200);
        for (k, want) in m.iter().enumerate() {
            let got = est[k].as_ref().unwrap()[0];
            assert!((got - want).abs() < 0.01, "m{k} = {got} (want {want})");
        }
    }

    #[test]
    fn an_exact_agreement_on_a_common_value_weighs_less_than_on_a_rare_one() {
        let settings: Settings = toml::from_str(
            r#"
version = "prueba"
id_column = "id"
[[comparison]]
name = "apellido"
column = "apellido"
levels = ["exact"]
term_frequency = true
[[blocking]]
keys = ["apellido"]
[training]
prior = 0.01
em_blocking = []
[thresholds]
link = 0.9
review = 0.5
"#,
        )
        .unwrap();
        let cols = vec!["id".to_string(), "apellido".to_string()];
        let rows: Vec<Vec<String>> = [
            ("1", "Benítez"),
            ("2", "Benitez"),
            ("3", "Ybarra"),
            ("4", "Ybarra"),
        ]
        .iter()
        .map(|(a, b)| vec![a.to_string(), b.to_string()])
        .collect();
        let t = Table::new(&settings, &cols, &rows).unwrap();
        let model = Model {
            prior: 0.01,
            params: vec![Params {
                name: "apellido".into(),
                m: vec![0.9, 0.1],
                u: vec![0.05, 0.95],
                sessions: 1,
            }],
            tf: vec![Some(
                [("benitez".to_string(), 0.4), ("ybarra".to_string(), 0.01)]
                    .into_iter()
                    .collect(),
            )],
            iterations: vec![],
        };
        let base = model.prior_weight() + (0.9f64 / 0.05).log2();
        let common = model.weight(&settings, &t, &t, 0, 1, &[0]);
        let rare = model.weight(&settings, &t, &t, 2, 3, &[0]);
        assert!((common - (base + (0.05f64 / 0.4).log2())).abs() < 1e-12);
        assert!((rare - (base + (0.05f64 / 0.01).log2())).abs() < 1e-12);
        // The explanation adds up to the same weight.
        let w = model.waterfall(&settings, &t, &t, 0, 1);
        assert!((w.weight - common).abs() < 1e-12);
        assert_eq!(w.steps[0].level, "igual");
    }

    #[test]
    fn a_weight_is_the_prior_plus_each_levels_log_ratio_and_gives_a_probability() {
        let model = Model {
            prior: 0.2,
            params: vec![Params {
                name: "a".into(),
                m: vec![0.9, 0.1],
                u: vec![0.1, 0.9],
                sessions: 1,
            }],
            tf: vec![None],
            iterations: vec![],
        };
        assert!((model.prior_weight() - (0.25f64).log2()).abs() < 1e-12);
        // Prior odds ¼ times Bayes factor 9: odds 9/4, probability 9/13.
        let w = model.prior_weight() + (0.9f64 / 0.1).log2();
        assert!((probability(w) - 9.0 / 13.0).abs() < 1e-12);
    }
}
