//! Statistical disclosure control for microdata extracts: k-anonymity by global recoding
//! (generalisation) and local suppression, with the semantics of sdcMicro (the R package of
//! Templ, Kowarik and Meindl: `globalRecode`, `localSuppression`/`kAnon`, `freqCalc`,
//! `measure_risk`), so that an extract of the registry can leave the ministry without letting
//! anyone single a person out by a combination of quasi-identifiers (age, sex, district, …).
//!
//! **Frequencies.** A record's `fk` is the number of records whose quasi-identifier values are
//! compatible with its own. As in sdcMicro's `freqCalc`, a suppressed value (NA, `None` here)
//! stands for *any* category of its variable: it matches every value, on either side, so
//! `[a,x] [a,y] [a,NA]` have fk 2, 2 and 3. A record is safe when fk ≥ k; the expected number
//! of re-identifications of a population file (no sampling weights) is Σ 1/fk over its records.
//!
//! **Treatment.** (1) Global recoding: every quasi-identifier has a generalisation hierarchy
//! (age 37 → "35-39" → "30-39" → …); starting from the raw values, the variable whose next level
//! leaves fewest records below k is raised (ties: the higher importance number first), until
//! the share of records below k is at most the share we accept to suppress, or nothing can be
//! raised. Recoding acts on every record alike, as `globalRecode` does. (2) Local suppression:
//! each record still below k loses values one variable at a time, in the order of sdcMicro's
//! importance vector (the highest importance number first — importance 1 is kept longest), its
//! fk re-evaluated after each, until fk ≥ k. Suppressing never lowers anyone's fk (an NA matches
//! everything its value matched), so the records already safe stay safe and the loop ends with
//! every record at fk ≥ k; a fully suppressed record matches all n records. With fewer than k
//! records in all k-anonymity is impossible: everything is suppressed and `achieved_k` says n.
//! (sdcMicro's `localSuppression` searches, record by record, for the variable whose
//! suppression helps most, weighted by importance; a fixed order is simpler, deterministic and
//! always ends, at the price of sometimes suppressing a value more than the search would.)
//!
//! **Scale.** Nothing here is quadratic in records: each quasi-identifier is dictionary-encoded
//! once (the hierarchy functions run once per *distinct* value, not per record), records are
//! grouped into their distinct key combinations, and recoding and suppression work on those
//! combinations. Because suppression follows one fixed order, a record's suppressed variables
//! are always a prefix of that order, so fk with NA-matches-any is a handful of hash look-ups:
//! the records at the same or a shorter prefix, matched on the variables left after the
//! record's own prefix, plus, for every longer prefix, those matched on what that prefix leaves.
//! Most of the time at national scale goes to building the released strings (BENCHMARKS.md).

use rustc_hash::FxHashMap;
use serde::Serialize;
use std::cmp::Reverse;
use std::collections::BTreeMap;
use std::hash::Hash;

/// One step of a generalisation hierarchy: a value of one level → its value one level up.
pub type Generalise = Box<dyn Fn(&str) -> String + Send + Sync>;

/// One quasi-identifier.
pub struct Qi {
    /// Its name, as reported.
    pub name: String,
    /// Its generalisation hierarchy: level 0 is the raw value, and `levels[j]` maps a value of
    /// level `j` to its coarser value of level `j + 1` (so the top level is `levels.len()`).
    /// Called once per distinct value of the previous level, never per record.
    pub levels: Vec<Generalise>,
    /// As sdcMicro's importance vector: lower = kept longer; the variables with the higher
    /// number are suppressed first (and recoded first on a tie).
    pub importance: u8,
}

/// What [`anonymise`] releases.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// The released quasi-identifier values per record, in the order of the `Qi`s, at their
    /// chosen generalisation level; `None` = suppressed.
    pub rows: Vec<Vec<Option<String>>>,
    /// The generalisation level chosen per quasi-identifier.
    pub levels: Vec<usize>,
    pub report: Risk,
}

/// The disclosure-risk report of a treatment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Risk {
    pub quasi_identifiers: Vec<String>,
    /// The k asked for.
    pub k: u64,
    /// The smallest fk after treatment (at least `k`, unless there are fewer than k records:
    /// then the number of records). 0 for an empty file.
    pub achieved_k: u64,
    pub records: u64,
    /// Records with at least one suppressed value.
    pub records_suppressed: u64,
    pub values_suppressed: u64,
    /// Records some value of which was changed by global recoding.
    pub records_generalised: u64,
    pub generalisation_levels: BTreeMap<String, usize>,
    /// Σ 1/fk after treatment.
    pub expected_reidentifications: f64,
    /// Σ 1/fk of the raw values.
    pub expected_reidentifications_before: f64,
    /// Records with fk < k in the raw values.
    pub records_below_k_before: u64,
    /// `records_suppressed / records` (0 for an empty file).
    pub share_suppressed: f64,
}

/// The code of a suppressed value (a real code never reaches it: that would take 2³² − 1
/// distinct values of one variable).
const NA: u32 = u32::MAX;

/// How a key — one code per quasi-identifier, NA allowed — is hashed.
trait Codec: Sync {
    type Key: Hash + Eq + Send;
    fn key(&self, codes: &[u32]) -> Self::Key;
}

/// A key packed into 128 bits: each variable takes the bits its raw cardinality + 1 needs
/// (0 = NA, a code c is c + 1; a coarser level never has more categories than the raw one).
/// Any realistic set of quasi-identifiers fits; no allocation, one cheap hash.
struct Packed {
    shifts: Vec<u32>,
}

impl Packed {
    fn new(cardinalities: &[usize]) -> Option<Self> {
        let mut shifts = Vec::with_capacity(cardinalities.len());
        let mut used = 0u32;
        for &c in cardinalities {
            shifts.push(used);
            used = used.saturating_add(u64::BITS - (c as u64).leading_zeros());
        }
        (used <= u128::BITS).then_some(Packed { shifts })
    }
}

impl Codec for Packed {
    type Key = u128;

    fn key(&self, codes: &[u32]) -> u128 {
        codes.iter().zip(&self.shifts).fold(0, |key, (&c, &shift)| {
            if c == NA {
                key
            } else {
                key | (u128::from(c) + 1).checked_shl(shift).unwrap_or(0)
            }
        })
    }
}

/// The general key, for variables too many or too fine to pack in 128 bits.
struct Boxed;

impl Codec for Boxed {
    type Key = Box<[u32]>;

    fn key(&self, codes: &[u32]) -> Box<[u32]> {
        codes.into()
    }
}

/// k-anonymises `rows` (the raw quasi-identifier values per record, in the order of `qis`; a
/// value missing from a short row is read as empty text): global recoding until at most
/// `max_suppressed_share` of the records are below k, then local suppression until none is.
pub fn anonymise(qis: &[Qi], rows: &[Vec<String>], k: u64, max_suppressed_share: f64) -> Outcome {
    let cols = encode_columns(qis, rows);
    let cardinalities: Vec<usize> = cols.iter().map(|c| c.cardinality(0)).collect();
    let max_share = if max_suppressed_share.is_nan() {
        0.0
    } else {
        max_suppressed_share.clamp(0.0, 1.0)
    };
    match Packed::new(&cardinalities) {
        Some(packed) => treat(&packed, qis, &cols, rows.len(), k, max_share),
        None => treat(&Boxed, qis, &cols, rows.len(), k, max_share),
    }
}

/// [`anonymise`] once the columns are encoded, with keys hashed by `codec`.
fn treat<C: Codec>(
    codec: &C,
    qis: &[Qi],
    cols: &[Column],
    records: usize,
    k: u64,
    max_share: f64,
) -> Outcome {
    let codes: Vec<&[u32]> = cols.iter().map(|c| c.codes.as_slice()).collect();
    let (cells, cell_of_record) = group_records(codec, &codes, records);
    let n = cells.counts.iter().sum::<u64>();
    let before = Before {
        expected: cells.counts.iter().map(|&c| ratio(c, c)).sum(),
        below_k: cells.counts.iter().filter(|&&c| c < k).sum(),
    };
    if n < k {
        return suppress_everything(qis, records, k, &before);
    }
    let (levels, keys, key_of_cell) = recode(codec, qis, cols, &cells, k, max_share);
    let order = suppression_order(qis, cols, &levels);
    let (final_level, fk) = suppress(codec, &keys, qis.len(), &order, k);
    let chosen = chosen_values(cols, &levels);
    let lost = |cell: u32| -> usize {
        let key = key_of_cell.get(cell as usize).copied().unwrap_or(0);
        final_level.get(key as usize).copied().unwrap_or(0)
    };
    let mut rank = vec![0usize; qis.len()];
    for (position, &q) in order.iter().enumerate() {
        if let Some(r) = rank.get_mut(q) {
            *r = position;
        }
    }
    let rows_out = release(cols, &chosen, &cell_of_record, &rank, &lost);
    let records_generalised = generalised(cols, &chosen, &cells);
    let mut records_suppressed = 0;
    let mut values_suppressed = 0;
    for (i, &c) in keys.counts.iter().enumerate() {
        let t = final_level.get(i).copied().unwrap_or(0);
        if t > 0 {
            records_suppressed += c;
            values_suppressed += c * t as u64;
        }
    }
    let achieved_k = fk.iter().copied().min().unwrap_or(0);
    let expected = keys
        .counts
        .iter()
        .zip(&fk)
        .map(|(&c, &f)| ratio(c, f))
        .sum();
    let report = Risk {
        quasi_identifiers: qis.iter().map(|q| q.name.clone()).collect(),
        k,
        achieved_k,
        records: n,
        records_suppressed,
        values_suppressed,
        records_generalised,
        generalisation_levels: qis
            .iter()
            .zip(&levels)
            .map(|(q, &l)| (q.name.clone(), l))
            .collect(),
        expected_reidentifications: expected,
        expected_reidentifications_before: before.expected,
        records_below_k_before: before.below_k,
        share_suppressed: ratio(records_suppressed, n),
    };
    Outcome {
        rows: rows_out,
        levels,
        report,
    }
}

/// fk of every record with sdcMicro's semantics: the number of records compatible with it,
/// where a suppressed value (`None`) matches any value of its variable, on either side. A
/// position beyond the end of a short row is read as suppressed. Never quadratic in records:
/// the records are grouped into distinct keys and the keys by their pattern of suppressions;
/// for two patterns S and P, the keys of P that match a key of S are those equal to it on the
/// variables neither suppresses, one hash look-up.
pub fn frequencies(rows: &[Vec<Option<String>>]) -> Vec<u64> {
    let m = rows.iter().map(Vec::len).max().unwrap_or(0);
    let columns: Vec<Vec<u32>> = (0..m)
        .map(|j| {
            let mut dictionary: FxHashMap<&str, u32> = FxHashMap::default();
            rows.iter()
                .map(|row| match row.get(j).and_then(Option::as_deref) {
                    Some(v) => {
                        let next = to_code(dictionary.len());
                        *dictionary.entry(v).or_insert(next)
                    }
                    None => NA,
                })
                .collect()
        })
        .collect();
    let cardinalities: Vec<usize> = columns
        .iter()
        .map(|c| {
            c.iter()
                .filter(|&&x| x != NA)
                .max()
                .map_or(0, |&x| x as usize + 1)
        })
        .collect();
    let codes: Vec<&[u32]> = columns.iter().map(Vec::as_slice).collect();
    match Packed::new(&cardinalities) {
        Some(packed) => count_compatible(&packed, &codes, rows.len()),
        None => count_compatible(&Boxed, &codes, rows.len()),
    }
}

/// [`frequencies`] on dictionary-encoded columns (NA = suppressed).
fn count_compatible<C: Codec>(codec: &C, codes: &[&[u32]], records: usize) -> Vec<u64> {
    let m = codes.len();
    let (table, key_of_record) = group_records(codec, codes, records);
    let mut patterns: FxHashMap<Box<[bool]>, Vec<usize>> = FxHashMap::default();
    for i in 0..table.counts.len() {
        let pattern: Box<[bool]> = table.row(i, m).iter().map(|&c| c == NA).collect();
        patterns.entry(pattern).or_default().push(i);
    }
    let mut fk = vec![0u64; table.counts.len()];
    let mut mask = vec![false; m];
    let mut buf = Vec::with_capacity(m);
    for (s, queries) in &patterns {
        for (p, sources) in &patterns {
            for ((u, &a), &b) in mask.iter_mut().zip(s.iter()).zip(p.iter()) {
                *u = a || b;
            }
            let mut counts: FxHashMap<C::Key, u64> = FxHashMap::default();
            for &i in sources {
                masked(&mut buf, table.row(i, m), &mask);
                let c = table.counts.get(i).copied().unwrap_or(0);
                *counts.entry(codec.key(&buf)).or_insert(0) += c;
            }
            for &i in queries {
                masked(&mut buf, table.row(i, m), &mask);
                let found = counts.get(&codec.key(&buf)).copied().unwrap_or(0);
                if let Some(f) = fk.get_mut(i) {
                    *f += found;
                }
            }
        }
    }
    key_of_record
        .iter()
        .map(|&key| fk.get(key as usize).copied().unwrap_or(0))
        .collect()
}

/// Σ 1/fk over the records: the expected number of correct re-identifications of a population
/// file (sdcMicro's global risk without sampling weights). An fk of 0 (impossible for a real
/// record, which matches itself) adds nothing.
pub fn expected_reidentifications(fk: &[u64]) -> f64 {
    fk.iter().map(|&f| ratio(1, f)).sum()
}

/// The risk of the raw values.
struct Before {
    expected: f64,
    below_k: u64,
}

/// One quasi-identifier dictionary-encoded.
struct Column {
    /// The distinct values of each level; a code is an index into its level's list.
    values: Vec<Vec<String>>,
    /// `step[l][code at level l]` = its code at level `l + 1`.
    step: Vec<Vec<u32>>,
    /// The raw (level 0) code of every record.
    codes: Vec<u32>,
}

impl Column {
    fn cardinality(&self, level: usize) -> usize {
        self.values.get(level).map_or(0, Vec::len)
    }

    /// The code at `level` of every raw code.
    fn at_level(&self, level: usize) -> Vec<u32> {
        let raw = self.cardinality(0);
        let mut at: Vec<u32> = (0..raw).map(to_code).collect();
        for step in self.step.iter().take(level) {
            for code in &mut at {
                *code = lookup(step, *code);
            }
        }
        at
    }

    fn value(&self, level: usize, code: u32) -> &str {
        self.values
            .get(level)
            .and_then(|v| v.get(code as usize))
            .map_or("", String::as_str)
    }
}

/// Distinct keys (rows of codes, flat) with their record counts.
#[derive(Default, Clone)]
struct Table {
    codes: Vec<u32>,
    counts: Vec<u64>,
}

impl Table {
    fn row(&self, i: usize, m: usize) -> &[u32] {
        self.codes.get(i * m..(i + 1) * m).unwrap_or(&[])
    }
}

/// Groups keys into a [`Table`], giving each distinct key its id.
struct Grouper<K> {
    index: FxHashMap<K, u32>,
    table: Table,
}

impl<K: Hash + Eq> Grouper<K> {
    fn new() -> Self {
        Grouper {
            index: FxHashMap::default(),
            table: Table::default(),
        }
    }

    /// Adds `count` records of the key `codes` (hashed as `key`); returns its id.
    fn add(&mut self, key: K, codes: &[u32], count: u64) -> u32 {
        let next = to_code(self.table.counts.len());
        let id = *self.index.entry(key).or_insert(next);
        if id == next {
            self.table.codes.extend_from_slice(codes);
            self.table.counts.push(count);
        } else if let Some(c) = self.table.counts.get_mut(id as usize) {
            *c += count;
        }
        id
    }
}

fn to_code(i: usize) -> u32 {
    u32::try_from(i).unwrap_or(NA)
}

fn lookup(map: &[u32], code: u32) -> u32 {
    map.get(code as usize).copied().unwrap_or(NA)
}

/// `a / b` as a float, 0 when b is 0.
fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

fn lower<K: Hash + Eq>(map: &mut FxHashMap<K, u64>, key: &K, delta: u64) {
    if let Some(v) = map.get_mut(key) {
        *v = v.saturating_sub(delta);
    }
}

/// `key` with the variables of `mask` set to NA, into `buf`.
fn masked(buf: &mut Vec<u32>, key: &[u32], mask: &[bool]) {
    buf.clear();
    buf.extend(
        key.iter()
            .zip(mask)
            .map(|(&c, &na)| if na { NA } else { c }),
    );
}

fn threads() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// Dictionary-encodes every quasi-identifier (one thread each) with its hierarchy.
fn encode_columns(qis: &[Qi], rows: &[Vec<String>]) -> Vec<Column> {
    std::thread::scope(|scope| {
        let handles: Vec<_> = qis
            .iter()
            .enumerate()
            .map(|(j, qi)| scope.spawn(move || encode_column(qi, rows, j)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    })
}

fn encode_column(qi: &Qi, rows: &[Vec<String>], j: usize) -> Column {
    let mut index: FxHashMap<&str, u32> = FxHashMap::default();
    let mut raw: Vec<String> = Vec::new();
    let codes = rows
        .iter()
        .map(|row| {
            let v = row.get(j).map_or("", String::as_str);
            *index.entry(v).or_insert_with(|| {
                raw.push(v.to_owned());
                to_code(raw.len() - 1)
            })
        })
        .collect();
    let mut values = vec![raw];
    let mut steps = Vec::with_capacity(qi.levels.len());
    for generalise in &qi.levels {
        let previous = values.last().map_or(&[][..], Vec::as_slice);
        let mut index: FxHashMap<String, u32> = FxHashMap::default();
        let mut next: Vec<String> = Vec::new();
        let step: Vec<u32> = previous
            .iter()
            .map(|v| {
                let coarse = generalise(v);
                if let Some(&c) = index.get(&coarse) {
                    return c;
                }
                let c = to_code(next.len());
                next.push(coarse.clone());
                index.insert(coarse, c);
                c
            })
            .collect();
        steps.push(step);
        values.push(next);
    }
    Column {
        values,
        step: steps,
        codes,
    }
}

/// The distinct key combinations of the records ("cells") with their counts, and every
/// record's cell; `codes` has one column of codes per variable.
fn group_records<C: Codec>(codec: &C, codes: &[&[u32]], records: usize) -> (Table, Vec<u32>) {
    let mut cells = Grouper::new();
    let mut buf = vec![0u32; codes.len()];
    let cell_of_record = (0..records)
        .map(|r| {
            for (slot, column) in buf.iter_mut().zip(codes) {
                *slot = column.get(r).copied().unwrap_or(NA);
            }
            cells.add(codec.key(&buf), &buf, 1)
        })
        .collect();
    (cells.table, cell_of_record)
}

fn violations(table: &Table, k: u64) -> u64 {
    table.counts.iter().filter(|&&c| c < k).sum()
}

/// `table` with variable `q` raised one level by `step`, and each old key's new key.
fn raise<C: Codec>(
    codec: &C,
    table: &Table,
    m: usize,
    q: usize,
    step: &[u32],
) -> (Table, Vec<u32>) {
    let mut grouper = Grouper::new();
    let mut buf = Vec::with_capacity(m);
    let moved = table
        .counts
        .iter()
        .enumerate()
        .map(|(i, &c)| {
            buf.clear();
            buf.extend_from_slice(table.row(i, m));
            if let Some(code) = buf.get_mut(q) {
                *code = lookup(step, *code);
            }
            grouper.add(codec.key(&buf), &buf, c)
        })
        .collect();
    (grouper.table, moved)
}

/// The records below k once variable `q` of `table` is raised one level by `step`.
fn violations_raised<C: Codec>(
    codec: &C,
    table: &Table,
    m: usize,
    q: usize,
    step: &[u32],
    k: u64,
) -> u64 {
    let mut counts: FxHashMap<C::Key, u64> = FxHashMap::default();
    let mut buf = Vec::with_capacity(m);
    for (i, &c) in table.counts.iter().enumerate() {
        buf.clear();
        buf.extend_from_slice(table.row(i, m));
        if let Some(code) = buf.get_mut(q) {
            *code = lookup(step, *code);
        }
        *counts.entry(codec.key(&buf)).or_insert(0) += c;
    }
    counts.values().filter(|&&c| c < k).sum()
}

/// Every candidate raise (variable, its next step) with the records it would leave below k,
/// spread over the available cores.
fn evaluate<'a, C: Codec>(
    codec: &C,
    table: &Table,
    m: usize,
    k: u64,
    candidates: &[(usize, &'a [u32])],
) -> Vec<(u64, usize, &'a [u32])> {
    let workers = threads().min(candidates.len()).max(1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|w| {
                scope.spawn(move || {
                    candidates
                        .iter()
                        .skip(w)
                        .step_by(workers)
                        .map(|&(q, step)| (violations_raised(codec, table, m, q, step, k), q, step))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    })
}

/// Global recoding (greedy, as described in the module doc) on the distinct cells. Returns
/// the chosen levels, the distinct keys at those levels and each cell's key.
fn recode<C: Codec>(
    codec: &C,
    qis: &[Qi],
    cols: &[Column],
    cells: &Table,
    k: u64,
    max_share: f64,
) -> (Vec<usize>, Table, Vec<u32>) {
    let m = cols.len();
    let n = cells.counts.iter().sum::<u64>();
    let mut levels = vec![0usize; m];
    let mut current = cells.clone();
    let mut key_of_cell: Vec<u32> = (0..cells.counts.len()).map(to_code).collect();
    let mut below = violations(&current, k);
    while ratio(below, n) > max_share {
        let candidates: Vec<(usize, &[u32])> = cols
            .iter()
            .zip(&levels)
            .enumerate()
            .filter_map(|(q, (col, &l))| col.step.get(l).map(|s| (q, s.as_slice())))
            .collect();
        let importance = |q: usize| qis.get(q).map_or(0, |qi| qi.importance);
        let Some((below_after, q, step)) = evaluate(codec, &current, m, k, &candidates)
            .into_iter()
            .min_by_key(|&(v, q, _)| (v, Reverse(importance(q)), q))
        else {
            break;
        };
        let (table, moved) = raise(codec, &current, m, q, step);
        for key in &mut key_of_cell {
            *key = lookup(&moved, *key);
        }
        if let Some(l) = levels.get_mut(q) {
            *l += 1;
        }
        below = below_after;
        current = table;
    }
    (levels, current, key_of_cell)
}

/// The order in which variables are suppressed: the highest importance number first; on a
/// tie the one with more categories at its chosen level (sdcMicro's default importance deems
/// those less important), then the first.
fn suppression_order(qis: &[Qi], cols: &[Column], levels: &[usize]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..qis.len()).collect();
    order.sort_by_key(|&q| {
        let importance = qis.get(q).map_or(0, |qi| qi.importance);
        let level = levels.get(q).copied().unwrap_or(0);
        let categories = cols.get(q).map_or(0, |c| c.cardinality(level));
        (Reverse(importance), Reverse(categories), q)
    });
    order
}

/// Compatible counts of keys whose suppressed variables are a prefix of one order.
/// `upto[t]`: the records suppressed on at most the first t variables of the order, projected
/// on the others (the first t set to NA); `exact[t]`: those suppressed on exactly the first t,
/// likewise. A key suppressed on the first t is compatible with the first kind on what t leaves
/// and, for every t2 > t, with `exact[t2]` on what t2 leaves.
struct Compat<'a, C: Codec> {
    codec: &'a C,
    order: &'a [usize],
    upto: Vec<FxHashMap<C::Key, u64>>,
    exact: Vec<FxHashMap<C::Key, u64>>,
    buf: Vec<u32>,
}

impl<'a, C: Codec> Compat<'a, C> {
    fn new(codec: &'a C, keys: &Table, m: usize, order: &'a [usize]) -> Self {
        let mut upto: Vec<FxHashMap<C::Key, u64>> = (0..=m).map(|_| FxHashMap::default()).collect();
        let mut buf = Vec::with_capacity(m);
        for (i, &c) in keys.counts.iter().enumerate() {
            for (t, map) in upto.iter_mut().enumerate() {
                project(&mut buf, keys.row(i, m), order, t);
                *map.entry(codec.key(&buf)).or_insert(0) += c;
            }
        }
        Compat {
            codec,
            order,
            upto,
            exact: (0..=m).map(|_| FxHashMap::default()).collect(),
            buf,
        }
    }

    /// `key` with the first `t` variables of the order suppressed, hashed.
    fn projected(&mut self, key: &[u32], t: usize) -> C::Key {
        project(&mut self.buf, key, self.order, t);
        self.codec.key(&self.buf)
    }

    /// fk of a (complete) key once suppressed on the first `t` variables of the order.
    fn fk(&mut self, key: &[u32], t: usize) -> u64 {
        let projected = self.projected(key, t);
        let mut f = self
            .upto
            .get(t)
            .and_then(|map| map.get(&projected))
            .copied()
            .unwrap_or(0);
        for t2 in t + 1..self.exact.len() {
            let projected = self.projected(key, t2);
            f += self
                .exact
                .get(t2)
                .and_then(|map| map.get(&projected))
                .copied()
                .unwrap_or(0);
        }
        f
    }

    /// Moves `count` records of `key` from the first `t` variables suppressed to `t + 1`.
    fn suppress_next(&mut self, key: &[u32], t: usize, count: u64) {
        let from = self.projected(key, t);
        if let Some(map) = self.upto.get_mut(t) {
            lower(map, &from, count);
        }
        if t > 0 {
            if let Some(map) = self.exact.get_mut(t) {
                lower(map, &from, count);
            }
        }
        let to = self.projected(key, t + 1);
        if let Some(map) = self.exact.get_mut(t + 1) {
            *map.entry(to).or_insert(0) += count;
        }
    }
}

/// `key` with the first `t` variables of `order` set to NA, into `buf`.
fn project(buf: &mut Vec<u32>, key: &[u32], order: &[usize], t: usize) {
    buf.clear();
    buf.extend_from_slice(key);
    for &q in order.iter().take(t) {
        if let Some(code) = buf.get_mut(q) {
            *code = NA;
        }
    }
}

/// Local suppression of the keys below k (the rarest first), as in the module doc. Returns,
/// per key, how many variables of the order it lost and its fk afterwards.
fn suppress<C: Codec>(
    codec: &C,
    keys: &Table,
    m: usize,
    order: &[usize],
    k: u64,
) -> (Vec<usize>, Vec<u64>) {
    let mut compat = Compat::new(codec, keys, m, order);
    let mut pending: Vec<(u64, usize)> = keys
        .counts
        .iter()
        .enumerate()
        .filter(|&(_, &c)| c < k)
        .map(|(i, &c)| (c, i))
        .collect();
    pending.sort_unstable();
    let mut final_level = vec![0usize; keys.counts.len()];
    for (count, i) in pending {
        let key = keys.row(i, m);
        let mut t = 0;
        while t < m && compat.fk(key, t) < k {
            compat.suppress_next(key, t, count);
            t += 1;
        }
        if let Some(level) = final_level.get_mut(i) {
            *level = t;
        }
    }
    let fk = final_level
        .iter()
        .enumerate()
        .map(|(i, &t)| compat.fk(keys.row(i, m), t))
        .collect();
    (final_level, fk)
}

/// Every variable's raw code → its value at the chosen level.
fn chosen_values<'a>(cols: &'a [Column], levels: &[usize]) -> Vec<Vec<&'a str>> {
    cols.iter()
        .zip(levels)
        .map(|(col, &l)| {
            col.at_level(l)
                .into_iter()
                .map(|code| col.value(l, code))
                .collect()
        })
        .collect()
}

/// Records some value of which recoding changed.
fn generalised(cols: &[Column], chosen: &[Vec<&str>], cells: &Table) -> u64 {
    let changed: Vec<Vec<bool>> = cols
        .iter()
        .zip(chosen)
        .map(|(col, values)| {
            values
                .iter()
                .enumerate()
                .map(|(raw, &v)| v != col.value(0, to_code(raw)))
                .collect()
        })
        .collect();
    let m = cols.len();
    (0..cells.counts.len())
        .filter(|&i| {
            cells
                .row(i, m)
                .iter()
                .zip(&changed)
                .any(|(&raw, ch)| ch.get(raw as usize).copied().unwrap_or(false))
        })
        .map(|i| cells.counts.get(i).copied().unwrap_or(0))
        .sum()
}

/// The released rows, built in parallel: record r's value of a variable is its value at the
/// chosen level, or `None` when the variable's rank in the suppression order is below the
/// number of variables its key lost.
fn release(
    cols: &[Column],
    chosen: &[Vec<&str>],
    cell_of_record: &[u32],
    rank: &[usize],
    lost: &(dyn Fn(u32) -> usize + Sync),
) -> Vec<Vec<Option<String>>> {
    let n = cell_of_record.len();
    let mut out: Vec<Vec<Option<String>>> = Vec::new();
    out.resize_with(n, Vec::new);
    let chunk = n.div_ceil(threads()).max(1);
    std::thread::scope(|scope| {
        let parts = out.chunks_mut(chunk).zip(cell_of_record.chunks(chunk));
        for (p, (part, cells)) in parts.enumerate() {
            let start = p * chunk;
            scope.spawn(move || {
                for (j, (row, &cell)) in part.iter_mut().zip(cells).enumerate() {
                    let t = lost(cell);
                    *row = cols
                        .iter()
                        .zip(chosen)
                        .zip(rank)
                        .map(|((col, values), &r)| {
                            if r < t {
                                return None;
                            }
                            let raw = col.codes.get(start + j).copied().unwrap_or(NA);
                            values.get(raw as usize).map(|&v| v.to_owned())
                        })
                        .collect();
                }
            });
        }
    });
    out
}

/// Fewer records than k: every value suppressed, and the report says what k that leaves.
fn suppress_everything(qis: &[Qi], n: usize, k: u64, before: &Before) -> Outcome {
    let records = n as u64;
    let m = qis.len() as u64;
    let records_suppressed = if m > 0 { records } else { 0 };
    let report = Risk {
        quasi_identifiers: qis.iter().map(|q| q.name.clone()).collect(),
        k,
        achieved_k: records,
        records,
        records_suppressed,
        values_suppressed: records * m,
        records_generalised: 0,
        generalisation_levels: qis.iter().map(|q| (q.name.clone(), 0)).collect(),
        expected_reidentifications: ratio(records, records),
        expected_reidentifications_before: before.expected,
        records_below_k_before: before.below_k,
        share_suppressed: ratio(records_suppressed, records),
    };
    Outcome {
        rows: vec![vec![None; qis.len()]; n],
        levels: vec![0; qis.len()],
        report,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)] // reason: tests fail loudly on purpose
mod tests {
    use super::*;

    /// A small deterministic generator (splitmix64) for synthetic data.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        }

        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    fn qi(name: &str, importance: u8, levels: Vec<Generalise>) -> Qi {
        Qi {
            name: name.to_owned(),
            levels,
            importance,
        }
    }

    /// Age: 5-year bands, 10-year bands, three broad groups.
    fn age(importance: u8) -> Qi {
        let years = |v: &str| {
            v.split('-')
                .next()
                .unwrap_or("0")
                .parse::<u32>()
                .unwrap_or(0)
        };
        qi(
            "edad",
            importance,
            vec![
                Box::new(move |v| {
                    let a = years(v) / 5 * 5;
                    format!("{a}-{}", a + 4)
                }),
                Box::new(move |v| {
                    let a = years(v) / 10 * 10;
                    format!("{a}-{}", a + 9)
                }),
                Box::new(move |v| match years(v) {
                    0..=17 => "0-17".to_owned(),
                    18..=59 => "18-59".to_owned(),
                    _ => "60+".to_owned(),
                }),
            ],
        )
    }

    /// District "DDdd" → department "DD" → region.
    fn district(importance: u8) -> Qi {
        qi(
            "distrito",
            importance,
            vec![
                Box::new(|v| v.chars().take(2).collect()),
                Box::new(|v| {
                    if v.parse::<u32>().unwrap_or(0) >= 15 {
                        "Occidental".to_owned()
                    } else {
                        "Oriental".to_owned()
                    }
                }),
            ],
        )
    }

    fn flat(name: &str, importance: u8) -> Qi {
        qi(name, importance, Vec::new())
    }

    fn household(importance: u8) -> Qi {
        qi(
            "tamaño_hogar",
            importance,
            vec![Box::new(|v| match v.parse::<u32>().unwrap_or(0) {
                0..=1 => "1".to_owned(),
                2..=3 => "2-3".to_owned(),
                4..=6 => "4-6".to_owned(),
                _ => "7+".to_owned(),
            })],
        )
    }

    /// Synthetic persons (no real data): age, sex, district, household size, area, language.
    fn synthetic(n: usize, seed: u64, districts: u64) -> Vec<Vec<String>> {
        let mut rng = Rng(seed);
        (0..n)
            .map(|_| {
                let age = (rng.below(90) + rng.below(20)) % 100;
                let department = 1 + rng.below(17);
                let district = format!("{department:02}{:02}", 1 + rng.below(districts));
                let size = 1 + rng.below(4) + rng.below(4) + rng.below(4) * rng.below(3);
                let area = if rng.below(10) < 6 { "urbana" } else { "rural" };
                let language = match rng.below(100) {
                    0..=44 => "guaraní",
                    45..=74 => "ambos",
                    75..=96 => "castellano",
                    _ => "otro",
                };
                vec![
                    age.to_string(),
                    (if rng.below(2) == 0 { "F" } else { "M" }).to_owned(),
                    district,
                    size.to_string(),
                    area.to_owned(),
                    language.to_owned(),
                ]
            })
            .collect()
    }

    fn national_qis() -> Vec<Qi> {
        vec![
            age(3),
            flat("sexo", 1),
            district(5),
            household(4),
            flat("area", 2),
            flat("idioma", 6),
        ]
    }

    /// An independent O(n²) count: how many records are compatible with each record.
    fn brute_force(rows: &[Vec<Option<String>>]) -> Vec<u64> {
        rows.iter()
            .map(|a| {
                rows.iter()
                    .filter(|b| {
                        a.iter()
                            .zip(b.iter())
                            .all(|(x, y)| x.is_none() || y.is_none() || x == y)
                    })
                    .count() as u64
            })
            .collect()
    }

    fn some(values: &[&str]) -> Vec<Option<String>> {
        values.iter().map(|v| Some((*v).to_owned())).collect()
    }

    fn raw(rows: &[&[&str]]) -> Vec<Vec<String>> {
        rows.iter()
            .map(|r| r.iter().map(|v| (*v).to_owned()).collect())
            .collect()
    }

    #[test]
    fn a_suppressed_value_matches_any_value_when_counting() {
        let rows = vec![
            some(&["a", "x"]),
            some(&["a", "y"]),
            vec![Some("a".to_owned()), None],
        ];
        assert_eq!(frequencies(&rows), vec![2, 2, 3]);
        // NA on both sides matches too, and a fully suppressed record matches everyone.
        let rows = vec![
            vec![None, Some("x".to_owned())],
            vec![Some("b".to_owned()), None],
            some(&["c", "y"]),
            vec![None, None],
        ];
        assert_eq!(frequencies(&rows), vec![3, 3, 2, 4]);
    }

    #[test]
    fn frequencies_agree_with_a_brute_force_count_for_any_suppression_pattern() {
        let mut rng = Rng(7);
        let rows: Vec<Vec<Option<String>>> = (0..1500)
            .map(|_| {
                (0..4)
                    .map(|j| (rng.below(5) != 0).then(|| format!("{}", rng.below(2 + j))))
                    .collect()
            })
            .collect();
        assert_eq!(frequencies(&rows), brute_force(&rows));
    }

    #[test]
    fn every_record_reaches_k_after_anonymise() {
        for (seed, k, share) in [(1, 3, 0.0), (2, 5, 0.05), (3, 2, 1.0), (4, 10, 0.2)] {
            let rows = synthetic(2000, seed, 15);
            let qis = national_qis();
            let out = anonymise(&qis, &rows, k, share);
            let fk = brute_force(&out.rows);
            assert!(
                fk.iter().all(|&f| f >= k),
                "seed {seed}: a record below k={k}"
            );
            assert_eq!(frequencies(&out.rows), fk);
            let r = &out.report;
            assert_eq!(r.achieved_k, *fk.iter().min().unwrap());
            assert!((r.expected_reidentifications - expected_reidentifications(&fk)).abs() < 1e-9);
            let before = brute_force(
                &rows
                    .iter()
                    .map(|row| row.iter().map(|v| Some(v.clone())).collect())
                    .collect::<Vec<_>>(),
            );
            assert!(
                (r.expected_reidentifications_before - expected_reidentifications(&before)).abs()
                    < 1e-9
            );
            assert_eq!(
                r.records_below_k_before,
                before.iter().filter(|&&f| f < k).count() as u64
            );
            // Released values are the raw ones generalised to the chosen levels.
            let mut generalised = 0;
            for (raw_row, released) in rows.iter().zip(&out.rows) {
                let mut changed = false;
                for ((q, v), (value, &level)) in qis
                    .iter()
                    .zip(raw_row)
                    .zip(released.iter().zip(&out.levels))
                {
                    let mut g = v.clone();
                    for f in q.levels.iter().take(level) {
                        g = f(&g);
                    }
                    changed |= g != *v;
                    if let Some(value) = value {
                        assert_eq!(*value, g);
                    }
                }
                generalised += u64::from(changed);
            }
            assert_eq!(r.records_generalised, generalised);
            let suppressed = out
                .rows
                .iter()
                .filter(|r| r.iter().any(Option::is_none))
                .count();
            let values = out.rows.iter().flatten().filter(|v| v.is_none()).count();
            assert_eq!(r.records_suppressed, suppressed as u64);
            assert_eq!(r.values_suppressed, values as u64);
            assert_eq!(r.records, 2000);
        }
    }

    #[test]
    fn global_recoding_is_preferred_before_suppression() {
        // Ages 30..=39, one person each, all women: alone at the raw level; the 10-year band
        // (level 2 of the hierarchy) makes them one group, so nothing is suppressed.
        let rows: Vec<Vec<String>> = (30..40)
            .map(|a| vec![a.to_string(), "F".to_owned()])
            .collect();
        let qis = vec![age(2), flat("sexo", 1)];
        let out = anonymise(&qis, &rows, 10, 0.0);
        assert_eq!(out.levels, vec![2, 0]);
        assert_eq!(out.report.values_suppressed, 0);
        assert_eq!(out.report.records_generalised, 10);
        assert_eq!(out.report.achieved_k, 10);
        assert_eq!(out.report.records_below_k_before, 10);
        assert!(out.rows.iter().all(|r| r[0].as_deref() == Some("30-39")));
    }

    #[test]
    fn importance_decides_which_variable_is_suppressed_first() {
        let rows = raw(&[
            &["a", "x"],
            &["a", "x"],
            &["a", "x"],
            &["b", "y"],
            &["b", "y"],
            &["b", "y"],
            &["a", "y"],
        ]);
        // The second variable has the higher importance number: it goes first.
        let out = anonymise(&[flat("v1", 1), flat("v2", 2)], &rows, 2, 1.0);
        assert_eq!(out.rows[6], vec![Some("a".to_owned()), None]);
        assert_eq!(out.report.values_suppressed, 1);
        assert_eq!(frequencies(&out.rows), vec![4, 4, 4, 3, 3, 3, 4]);
        assert_eq!(out.report.achieved_k, 3);
        // The other way round.
        let out = anonymise(&[flat("v1", 2), flat("v2", 1)], &rows, 2, 1.0);
        assert_eq!(out.rows[6], vec![None, Some("y".to_owned())]);
        assert_eq!(out.report.values_suppressed, 1);
        assert_eq!(frequencies(&out.rows), vec![3, 3, 3, 4, 4, 4, 4]);
        assert!(out.rows[..6].iter().all(|r| r.iter().all(Option::is_some)));
    }

    #[test]
    fn expected_reidentifications_is_the_sum_of_inverse_frequencies() {
        // fk = 2, 2, 3 → 1/2 + 1/2 + 1/3.
        let rows = vec![
            some(&["a", "x"]),
            some(&["a", "y"]),
            vec![Some("a".to_owned()), None],
        ];
        let e = expected_reidentifications(&frequencies(&rows));
        assert!((e - (0.5 + 0.5 + 1.0 / 3.0)).abs() < 1e-12);
        // Untreated (k = 1): fk = 2, 2, 1 → 2, before and after.
        let out = anonymise(
            &[flat("v1", 1), flat("v2", 1)],
            &raw(&[&["a", "x"], &["a", "x"], &["b", "y"]]),
            1,
            0.0,
        );
        assert!((out.report.expected_reidentifications - 2.0).abs() < 1e-12);
        assert!((out.report.expected_reidentifications_before - 2.0).abs() < 1e-12);
        assert_eq!(out.report.achieved_k, 1);
    }

    #[test]
    fn fewer_records_than_k_suppresses_everything_and_reports_the_k_achieved() {
        let rows = raw(&[&["a", "x"], &["b", "y"], &["b", "y"]]);
        let out = anonymise(&[flat("v1", 1), flat("v2", 2)], &rows, 5, 0.5);
        assert!(out.rows.iter().all(|r| r == &vec![None, None]));
        let r = &out.report;
        assert_eq!(r.achieved_k, 3);
        assert_eq!(r.k, 5);
        assert_eq!(r.records_suppressed, 3);
        assert_eq!(r.values_suppressed, 6);
        assert!((r.share_suppressed - 1.0).abs() < 1e-12);
        assert!((r.expected_reidentifications - 1.0).abs() < 1e-12);
        assert_eq!(frequencies(&out.rows), vec![3, 3, 3]);
        let empty = anonymise(&[flat("v1", 1)], &[], 2, 0.0);
        assert!(empty.rows.is_empty());
        assert_eq!(empty.report.achieved_k, 0);
    }

    #[test]
    fn the_general_key_treats_alike_what_the_packed_key_does() {
        let rows = synthetic(3000, 11, 15);
        let qis = national_qis();
        let cols = encode_columns(&qis, &rows);
        let cardinalities: Vec<usize> = cols.iter().map(|c| c.cardinality(0)).collect();
        let packed = Packed::new(&cardinalities).unwrap();
        for (k, share) in [(3, 0.0), (5, 0.1), (8, 1.0)] {
            let a = treat(&packed, &qis, &cols, rows.len(), k, share);
            let b = treat(&Boxed, &qis, &cols, rows.len(), k, share);
            assert_eq!(a, b);
            let codes: Vec<Vec<u32>> = (0..qis.len())
                .map(|j| {
                    (0..rows.len())
                        .map(|r| {
                            if r % (j + 3) == 0 {
                                NA
                            } else {
                                cols[j].codes[r]
                            }
                        })
                        .collect()
                })
                .collect();
            let codes: Vec<&[u32]> = codes.iter().map(Vec::as_slice).collect();
            assert_eq!(
                count_compatible(&packed, &codes, rows.len()),
                count_compatible(&Boxed, &codes, rows.len())
            );
        }
        // Too many bits for 128: the general key is chosen.
        assert!(Packed::new(&[1 << 30; 5]).is_none());
    }

    /// The national registry's size (6.5 million persons, 6 quasi-identifiers), synthetic.
    /// `cargo test --release -p vamos-app --lib anonymise -- --ignored --nocapture`
    #[test]
    #[ignore = "benchmark: national scale, run in release"]
    fn national_scale_is_anonymised_quickly() {
        let n = 6_500_000;
        let generated = std::time::Instant::now();
        let rows = synthetic(n, 2024, 15);
        let qis = national_qis();
        eprintln!("synthetic rows generated in {:?}", generated.elapsed());
        let started = std::time::Instant::now();
        let out = anonymise(&qis, &rows, 5, 0.02);
        let elapsed = started.elapsed();
        eprintln!("anonymised {n} records × {} QIs in {elapsed:?}", qis.len());
        eprintln!("{}", serde_json::to_string_pretty(&out.report).unwrap());
        assert!(out.report.achieved_k >= 5);
        assert_eq!(out.rows.len(), n);
        assert!(elapsed.as_secs() < 30);
        // An independent check at full scale: the general counter (any suppression pattern).
        let counted = std::time::Instant::now();
        let fk = frequencies(&out.rows);
        eprintln!(
            "frequencies of the released rows in {:?}",
            counted.elapsed()
        );
        assert_eq!(fk.iter().min().copied(), Some(out.report.achieved_k));
        let expected = expected_reidentifications(&fk);
        assert!((expected - out.report.expected_reidentifications).abs() < 1e-6 * expected);
    }
}
