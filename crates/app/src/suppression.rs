//! Public figures without personal data: the Logros and per-service coverage of every territory
//! of a published measurement, with small-cell suppression — what the public API
//! (`/api/public/logros`) and the public dashboard pages serve, computed here once so that both
//! agree and the server only renders.
//!
//! A count from 1 to k−1 is suppressed (primary). Complementary suppression then makes sure no
//! suppressed count can be recomputed from published ones (issue 35, item 7: Logro 3 published
//! 12 protected and 11 indigenous protected, so one non-indigenous child was protected). Every
//! figure is a cell, and cells are tied by relations of two kinds:
//!
//! - **containment** (a total counts at least the units of its parts, the rest unpublished): a
//!   Logro's identified ⊇ its protected, its without-data, each breakdown's identified and each
//!   service's applicable; its protected ⊇ each breakdown's protected; a breakdown's identified
//!   ⊇ its protected. Breakdowns overlap (a child can be indigenous and poor), so each is
//!   related to its total alone, never summed with the others;
//! - **sums** (a total is exactly the sum of its parts): a service's applicable = protected +
//!   unprotected + without data; a department's cell = the same cell of its districts, the
//!   nation's = its departments'.
//!
//! The rule, for every relation whose total is published: what the published parts leave of
//! the total (the total minus the published parts — for one part, the plain difference T − B)
//! must be 0 or at least k, and a sum may not have exactly one part hidden (it would be the
//! total minus the others); a hidden total of a sum needs a hidden part. Across the territory
//! tree a sum may not have exactly two parts hidden either: each district is read unsuppressed
//! by its own Mesa, who would subtract its own district and get the other. Where a relation
//! breaks the rule another part is hidden — the smallest non-zero one, so as little as possible
//! is lost — or the total when no part is left. Hiding only ever adds cells, so repeating over
//! every relation of every territory at once reaches a fixed point.

use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use vamos_domain::services::Category;
use vamos_domain::{Territory, TerritoryCode};
use vamos_engine::logros::{roll_up, DistrictLogros, LogroCounts};
use vamos_store::MeasurementRecord;

use crate::measurements::{coverage, territory_json};

/// Flattened counts of one territory: key → value.
pub type Cells = BTreeMap<String, u64>;

/// Flattens a Logros table into its published cells.
pub fn cells(table: &[LogroCounts]) -> Cells {
    let mut c = Cells::new();
    for l in table {
        let p = format!("L{}", l.logro);
        c.insert(format!("{p}.all.identified"), l.all.identified);
        c.insert(format!("{p}.all.protected"), l.all.protected);
        c.insert(format!("{p}.all.without_data"), l.all.without_data);
        for (b, v) in &l.breakdowns {
            c.insert(format!("{p}.b.{b}.identified"), v.identified);
            c.insert(format!("{p}.b.{b}.protected"), v.protected);
        }
        for s in &l.services {
            c.insert(format!("{p}.s.{}.applicable", s.service), s.applicable);
            c.insert(format!("{p}.s.{}.protected", s.service), s.protected);
            c.insert(format!("{p}.s.{}.unprotected", s.service), s.unprotected);
            c.insert(format!("{p}.s.{}.without_data", s.service), s.without_data);
        }
    }
    c
}

/// A relation among cells: `total` is the sum of `parts` (`exact`), or counts at least their
/// units with the rest unpublished (containment).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Relation<K> {
    pub total: K,
    pub parts: Vec<K>,
    pub exact: bool,
    /// The parts are territories, each of which someone reads unsuppressed (the Mesa of a
    /// district reads its own district): two hidden parts are no better than one to that
    /// reader, who subtracts its own and gets the other's.
    pub read_apart: bool,
}

fn contains<K>(total: K, part: K) -> Relation<K> {
    Relation {
        total,
        parts: vec![part],
        exact: false,
        read_apart: false,
    }
}

/// The relations among the keys of one table (see the module doc).
pub fn table_relations(keys: &BTreeSet<String>) -> Vec<Relation<String>> {
    let mut out = Vec::new();
    for k in keys {
        let Some(rest) = k.strip_prefix('L') else {
            continue;
        };
        let Some((n, rest)) = rest.split_once('.') else {
            continue;
        };
        let all = |f: &str| format!("L{n}.all.{f}");
        if rest == "all.identified" {
            out.push(contains(k.clone(), all("protected")));
            out.push(contains(k.clone(), all("without_data")));
            // Identified − protected − without data: the unprotected, unpublished.
            out.push(Relation {
                total: k.clone(),
                parts: vec![all("protected"), all("without_data")],
                exact: false,
                read_apart: false,
            });
        } else if let Some(b) = rest
            .strip_prefix("b.")
            .and_then(|b| b.strip_suffix(".identified"))
        {
            out.push(contains(all("identified"), k.clone()));
            out.push(contains(k.clone(), format!("L{n}.b.{b}.protected")));
            out.push(contains(all("protected"), format!("L{n}.b.{b}.protected")));
        } else if let Some(s) = rest
            .strip_prefix("s.")
            .and_then(|s| s.strip_suffix(".applicable"))
        {
            out.push(contains(all("identified"), k.clone()));
            out.push(Relation {
                total: k.clone(),
                parts: ["protected", "unprotected", "without_data"]
                    .iter()
                    .map(|f| format!("L{n}.s.{s}.{f}"))
                    .collect(),
                exact: true,
                read_apart: false,
            });
        }
    }
    // Keep only relations among cells the table has.
    out.retain(|r| keys.contains(&r.total) && r.parts.iter().all(|p| keys.contains(p)));
    out
}

fn small(v: u64, k: u64) -> bool {
    v > 0 && v < k
}

/// Suppression over cells by index: values, which are hidden, and the relations among them.
pub struct Solver {
    pub values: Vec<u64>,
    pub hidden: Vec<bool>,
    pub relations: Vec<Relation<usize>>,
    pub k: u64,
}

impl Solver {
    fn value(&self, i: usize) -> u64 {
        self.values.get(i).copied().unwrap_or(0)
    }

    fn is_hidden(&self, i: usize) -> bool {
        self.hidden.get(i).copied().unwrap_or(false)
    }

    fn hide(&mut self, i: usize) {
        if let Some(h) = self.hidden.get_mut(i) {
            *h = true;
        }
    }

    /// The smallest non-zero published part of `r`.
    fn smallest_open_part(&self, r: &Relation<usize>) -> Option<usize> {
        r.parts
            .iter()
            .copied()
            .filter(|p| !self.is_hidden(*p) && self.value(*p) > 0)
            .min_by_key(|p| self.value(*p))
    }

    /// Applies the rule to one relation; whether it hid a cell.
    fn apply(&mut self, r: &Relation<usize>) -> bool {
        let hidden_parts = r.parts.iter().filter(|p| self.is_hidden(**p)).count();
        if self.is_hidden(r.total) {
            // A hidden sum whose parts are all published is their sum.
            if r.exact && hidden_parts == 0 && self.value(r.total) > 0 {
                if let Some(p) = self.smallest_open_part(r) {
                    self.hide(p);
                    return true;
                }
            }
            return false;
        }
        let published: u64 = r
            .parts
            .iter()
            .filter(|p| !self.is_hidden(**p))
            .map(|p| self.value(*p))
            .sum();
        let left = self.value(r.total).saturating_sub(published);
        let exposed = small(left, self.k)
            || (r.exact && hidden_parts == 1 && left > 0)
            || (r.read_apart && hidden_parts == 2 && left > 0);
        if !exposed {
            return false;
        }
        match self.smallest_open_part(r) {
            Some(p) => self.hide(p),
            None => self.hide(r.total),
        }
        true
    }

    /// Primary suppression, then every relation again until nothing changes.
    pub fn run(&mut self) {
        for i in 0..self.values.len() {
            if small(self.value(i), self.k) {
                self.hide(i);
            }
        }
        let relations = std::mem::take(&mut self.relations);
        loop {
            let mut changed = false;
            for r in &relations {
                changed |= self.apply(r);
            }
            if !changed {
                break;
            }
        }
        self.relations = relations;
    }
}

/// The keys of `c` to suppress when the table stands alone (no other territory published).
pub fn suppress_table(c: &Cells, k: u64) -> BTreeSet<String> {
    let keys: Vec<&String> = c.keys().collect();
    let index: HashMap<&String, usize> = keys.iter().enumerate().map(|(i, k)| (*k, i)).collect();
    let set: BTreeSet<String> = c.keys().cloned().collect();
    let relations = table_relations(&set)
        .into_iter()
        .filter_map(|r| {
            Some(Relation {
                total: *index.get(&r.total)?,
                parts: r
                    .parts
                    .iter()
                    .map(|p| index.get(p).copied())
                    .collect::<Option<_>>()?,
                exact: r.exact,
                read_apart: false,
            })
        })
        .collect();
    let mut s = Solver {
        values: c.values().copied().collect(),
        hidden: vec![false; keys.len()],
        relations,
        k,
    };
    s.run();
    keys.into_iter()
        .zip(s.hidden)
        .filter(|(_, h)| *h)
        .map(|(k, _)| k.clone())
        .collect()
}

/// The territories one level below `t` (the departments of the nation, the districts of a
/// department; none below a district).
pub fn children(t: TerritoryCode) -> Vec<TerritoryCode> {
    let official = Territory::official();
    match t {
        TerritoryCode::Nation => official
            .departments()
            .iter()
            .map(|d| TerritoryCode::Department(d.code))
            .collect(),
        TerritoryCode::Department(dep) => official
            .districts()
            .iter()
            .filter(|x| x.code.department() == dep)
            .map(|x| TerritoryCode::District(x.code))
            .collect(),
        TerritoryCode::District(_) => Vec::new(),
    }
}

/// Every territory of the official list, nation first, then each department followed by its
/// districts.
fn every_territory() -> Vec<TerritoryCode> {
    let mut out = vec![TerritoryCode::Nation];
    for d in children(TerritoryCode::Nation) {
        out.push(d);
        out.extend(children(d));
    }
    out
}

/// The minimum cell of public figures unless the server is configured otherwise
/// (`public_min_cell`): what the command line's reports and extracts use too.
pub const DEFAULT_MIN_CELL: u64 = 5;

/// The public figures of one measurement: every territory's table with its suppressed cells,
/// decided for the whole territory tree at once (a district's suppression and its department's
/// hold together).
pub struct PublicFigures {
    k: u64,
    tables: HashMap<TerritoryCode, (Vec<LogroCounts>, BTreeSet<String>)>,
}

impl PublicFigures {
    /// Suppresses the figures of `districts` with minimum cell `k`.
    pub fn new(districts: &[DistrictLogros], k: u64) -> PublicFigures {
        let territories = every_territory();
        let tables: Vec<Vec<LogroCounts>> = territories
            .iter()
            .map(|t| match t {
                TerritoryCode::District(d) => {
                    roll_up(districts.iter().filter(|x| x.district == *d), *t)
                }
                _ => roll_up(districts, *t),
            })
            .collect();
        let cell_tables: Vec<Cells> = tables.iter().map(|t| cells(t)).collect();
        // One key list for every territory (the nation's table has every key); a key a
        // territory lacks counts 0 there.
        let keys: BTreeSet<String> = cell_tables.iter().flat_map(|c| c.keys().cloned()).collect();
        let keys: Vec<String> = keys.into_iter().collect();
        let nk = keys.len();
        let index: HashMap<&str, usize> = keys
            .iter()
            .enumerate()
            .map(|(i, k)| (k.as_str(), i))
            .collect();
        let position: HashMap<TerritoryCode, usize> = territories
            .iter()
            .enumerate()
            .map(|(i, t)| (*t, i))
            .collect();
        let mut values = vec![0u64; territories.len() * nk];
        for (ti, c) in cell_tables.iter().enumerate() {
            for (k, v) in c {
                let slot = index
                    .get(k.as_str())
                    .and_then(|ki| values.get_mut(ti * nk + ki));
                if let Some(x) = slot {
                    *x = *v;
                }
            }
        }
        let mut relations = Vec::new();
        for (ti, c) in cell_tables.iter().enumerate() {
            let set: BTreeSet<String> = c.keys().cloned().collect();
            for r in table_relations(&set) {
                let at = |k: &String| index.get(k.as_str()).map(|ki| ti * nk + ki);
                if let (Some(total), Some(parts)) = (
                    at(&r.total),
                    r.parts.iter().map(at).collect::<Option<Vec<_>>>(),
                ) {
                    relations.push(Relation {
                        total,
                        parts,
                        exact: r.exact,
                        read_apart: false,
                    });
                }
            }
        }
        // Across the tree: each parent's cell is the sum of its children's.
        for (pi, parent) in territories.iter().enumerate() {
            let kids: Vec<usize> = children(*parent)
                .iter()
                .filter_map(|c| position.get(c).copied())
                .collect();
            if kids.is_empty() {
                continue;
            }
            for ki in 0..nk {
                relations.push(Relation {
                    total: pi * nk + ki,
                    parts: kids.iter().map(|c| c * nk + ki).collect(),
                    exact: true,
                    read_apart: true,
                });
            }
        }
        let mut solver = Solver {
            hidden: vec![false; values.len()],
            values,
            relations,
            k,
        };
        solver.run();
        let tables = territories
            .iter()
            .zip(tables)
            .enumerate()
            .map(|(ti, (t, table))| {
                let hidden: BTreeSet<String> = keys
                    .iter()
                    .enumerate()
                    .filter(|(ki, _)| solver.hidden.get(ti * nk + ki).copied().unwrap_or(false))
                    .map(|(_, k)| k.clone())
                    .collect();
                (*t, (table, hidden))
            })
            .collect();
        PublicFigures { k, tables }
    }

    /// The table of `t` and its suppressed keys.
    pub fn table(&self, t: TerritoryCode) -> Option<(&[LogroCounts], &BTreeSet<String>)> {
        self.tables.get(&t).map(|(t, h)| (t.as_slice(), h))
    }

    /// The public JSON of territory `t` of published measurement `m`.
    pub fn json(&self, t: TerritoryCode, m: &MeasurementRecord, published_at: &str) -> Value {
        let empty = BTreeSet::new();
        match self.table(t) {
            Some((table, hidden)) => public_json(t, m, published_at, table, hidden, self.k),
            None => public_json(t, m, published_at, &[], &empty, self.k),
        }
    }

    /// The public JSON of every territory one level below `t`.
    pub fn children_json(
        &self,
        t: TerritoryCode,
        m: &MeasurementRecord,
        published_at: &str,
    ) -> Vec<(TerritoryCode, Value)> {
        children(t)
            .into_iter()
            .map(|c| (c, self.json(c, m, published_at)))
            .collect()
    }
}

/// A publication's figures as last suppressed: (measurement, published_at, k, fingerprint).
type Key = (i64, String, u64, u64);

/// How many publications' suppressed figures are kept.
const RECENT: usize = 16;

/// The suppressed figures of a published measurement, computed once per publication and kept:
/// they cannot change until the measurement is published again (a new `published_at` and new
/// frozen figures, hence a new key), and the public pages ask for the same few measurements —
/// the latest and its trend — on every view. The key carries a digest of the stored figures,
/// so two databases served by one process never share an entry they should not.
pub fn for_publication(
    p: &crate::measurements::PublishedFigures,
    k: u64,
) -> std::sync::Arc<PublicFigures> {
    use std::sync::{Arc, Mutex, PoisonError};
    static KEPT: Mutex<Vec<(Key, Arc<PublicFigures>)>> = Mutex::new(Vec::new());
    let key: Key = (p.measurement.id, p.published_at.clone(), k, p.fingerprint);
    let found = KEPT
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .iter()
        .find(|(x, _)| *x == key)
        .map(|(_, f)| Arc::clone(f));
    if let Some(f) = found {
        return f;
    }
    // Computed outside the lock: two first requests may both compute it, harmlessly.
    let f = Arc::new(PublicFigures::new(&p.districts, k));
    let mut kept = KEPT.lock().unwrap_or_else(PoisonError::into_inner);
    if kept.len() >= RECENT {
        kept.remove(0);
    }
    kept.push((key, Arc::clone(&f)));
    f
}

/// The public JSON of a table with `hidden` keys replaced by `null`.
pub fn public_json(
    t: TerritoryCode,
    measurement: &MeasurementRecord,
    published_at: &str,
    table: &[LogroCounts],
    hidden: &BTreeSet<String>,
    k: u64,
) -> Value {
    let n = |key: String, v: u64| -> Value {
        if hidden.contains(&key) {
            Value::Null
        } else {
            json!(v)
        }
    };
    let cov = |part: String, total: String, p: u64, tot: u64| -> Value {
        if hidden.contains(&part) || hidden.contains(&total) {
            Value::Null
        } else {
            coverage(p, tot)
        }
    };
    let logros: Vec<Value> = table
        .iter()
        .map(|l| {
            let p = format!("L{}", l.logro);
            json!({
                "logro": l.logro,
                "category": l.category,
                "label": Category::parse(&l.category).map(|c| c.label()),
                "identified": n(format!("{p}.all.identified"), l.all.identified),
                "protected": n(format!("{p}.all.protected"), l.all.protected),
                "coverage": cov(format!("{p}.all.protected"), format!("{p}.all.identified"), l.all.protected, l.all.identified),
                "without_data": n(format!("{p}.all.without_data"), l.all.without_data),
                "breakdowns": l.breakdowns.iter().map(|(b, v)| (b.clone(), json!({
                    "identified": n(format!("{p}.b.{b}.identified"), v.identified),
                    "protected": n(format!("{p}.b.{b}.protected"), v.protected),
                    "coverage": cov(format!("{p}.b.{b}.protected"), format!("{p}.b.{b}.identified"), v.protected, v.identified),
                }))).collect::<serde_json::Map<_, _>>(),
                "services": l.services.iter().map(|s| json!({
                    "service": s.service,
                    "applicable": n(format!("{p}.s.{}.applicable", s.service), s.applicable),
                    "protected": n(format!("{p}.s.{}.protected", s.service), s.protected),
                    "unprotected": n(format!("{p}.s.{}.unprotected", s.service), s.unprotected),
                    "without_data": n(format!("{p}.s.{}.without_data", s.service), s.without_data),
                    "coverage": cov(format!("{p}.s.{}.protected", s.service), format!("{p}.s.{}.applicable", s.service), s.protected, s.applicable),
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    json!({
        "territory": territory_json(t),
        "measurement": {"id": measurement.id, "as_of": measurement.as_of, "catalogue_label": measurement.catalogue_label, "synthetic": measurement.synthetic, "published_at": published_at},
        "synthetic_label": if measurement.synthetic { Some("sintético") } else { None },
        "min_cell": k,
        "suppressed_cells": hidden.len(),
        "note": format!("Cifras agregadas sin datos personales, de la medición publicada. Las celdas con menos de {k} casos, y las que permitirían deducirlas, se publican como null."),
        "logros": logros,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)] // reason: tests fail loudly on purpose
mod tests {
    use super::*;
    use vamos_domain::DistrictCode;
    use vamos_engine::logros::{Counts, ServiceCounts};

    const K: u64 = 5;

    fn counts(identified: u64, protected: u64, without_data: u64) -> Counts {
        Counts {
            identified,
            protected,
            without_data,
        }
    }

    /// Logro 3 of one district: its totals, breakdowns and services.
    fn district(
        code: u16,
        all: Counts,
        breakdowns: &[(&str, Counts)],
        services: &[(&str, [u64; 3])],
    ) -> DistrictLogros {
        DistrictLogros {
            district: DistrictCode::from_number(code).unwrap(),
            logros: vec![LogroCounts {
                logro: 3,
                category: "despues_del_nacimiento".into(),
                all,
                breakdowns: breakdowns
                    .iter()
                    .map(|(b, c)| (b.to_string(), *c))
                    .collect(),
                services: services
                    .iter()
                    .map(|(s, [p, u, w])| ServiceCounts {
                        service: s.to_string(),
                        applicable: p + u + w,
                        protected: *p,
                        unprotected: *u,
                        without_data: *w,
                    })
                    .collect(),
            }],
        }
    }

    fn cell(v: &Value, path: &[&str]) -> Value {
        let l = v["logros"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["logro"] == 3)
            .unwrap();
        path.iter().fold(l.clone(), |x, k| x[*k].clone())
    }

    fn record() -> MeasurementRecord {
        MeasurementRecord {
            id: 1,
            as_of: "2026-11-23".into(),
            catalogue_version: "v".into(),
            catalogue_label: "prueba".into(),
            territory: "PY".into(),
            synthetic: true,
            created_at: String::new(),
            details: Value::Null,
            counter_referrals_applied_through: 0,
            counter_referrals_updated_at: None,
            known_at: None,
        }
    }

    fn t(code: &str) -> TerritoryCode {
        TerritoryCode::parse(code).unwrap()
    }

    /// The 12/11 attack: 12 protected, 11 of them indigenous — one protected non-indigenous
    /// child; poverty, 9 of the 12, gave 3. Neither breakdown may be published beside the total.
    #[test]
    fn a_breakdown_cannot_be_subtracted_from_its_total() {
        let d = district(
            1602,
            counts(40, 12, 6),
            &[
                ("indigenas", counts(30, 11, 2)),
                ("pobreza", counts(25, 9, 1)),
                ("mujeres", counts(20, 6, 1)),
            ],
            &[],
        );
        // Alone, and as part of the published tree (a big neighbour so the department stays).
        let alone = suppress_table(&cells(&d.logros), K);
        let big = district(1604, counts(400, 120, 60), &[], &[]);
        let figures = PublicFigures::new(&[d.clone(), big], K);
        let v = figures.json(t("1602"), &record(), "2026-11-24T00:00:00Z");
        assert!(alone.contains("L3.b.indigenas.protected"), "{alone:?}");
        assert!(alone.contains("L3.b.pobreza.protected"), "{alone:?}");
        assert_eq!(cell(&v, &["protected"]), json!(12), "{v}");
        assert_eq!(
            cell(&v, &["breakdowns", "indigenas", "protected"]),
            Value::Null
        );
        assert_eq!(
            cell(&v, &["breakdowns", "pobreza", "protected"]),
            Value::Null
        );
        // 12 − 6 = 6 ≥ k: women stay published.
        assert_eq!(cell(&v, &["breakdowns", "mujeres", "protected"]), json!(6));
        // And no coverage recomputes a hidden count.
        assert_eq!(
            cell(&v, &["breakdowns", "indigenas", "coverage"]),
            Value::Null
        );
    }

    /// A department of 53 protected whose districts publish 50 (the other, 3, hidden) would give
    /// the 3 away: a second district is hidden (or the department).
    #[test]
    fn a_department_cannot_be_subtracted_from_its_districts() {
        let ds = vec![
            district(1604, counts(80, 50, 0), &[], &[]),
            district(1602, counts(10, 3, 0), &[], &[]),
            district(1605, counts(60, 30, 0), &[], &[]),
        ];
        let f = PublicFigures::new(&ds, K);
        let m = record();
        let dept = f.json(t("16"), &m, "");
        let kids = f.children_json(t("16"), &m, "");
        let published: Vec<u64> = kids
            .iter()
            .filter_map(|(_, v)| cell(v, &["protected"]).as_u64())
            .collect();
        let total = cell(&dept, &["protected"]).as_u64();
        assert!(
            kids.iter()
                .any(|(c, v)| *c == t("1602") && cell(v, &["protected"]).is_null()),
            "the small district is hidden"
        );
        if let Some(total) = total {
            let left = total - published.iter().sum::<u64>();
            assert!(left == 0 || left >= K, "{total} − {published:?} = {left}");
            assert!(published.len() <= 1 || left >= K);
        }
        // The nation against its departments, likewise (here 16 is the only department: the
        // nation equals it, so it may be published only with it).
        let nation = f.json(TerritoryCode::Nation, &m, "");
        assert_eq!(
            cell(&nation, &["protected"]),
            cell(&dept, &["protected"]),
            "{nation}"
        );
    }

    #[test]
    fn a_mesa_cannot_subtract_its_own_district_from_the_department() {
        // 1602 is small; hiding 1605 as well would leave the department minus 1604 = 1602 +
        // 1605, and the Mesa of 1605, which reads its district unsuppressed, would get 1602.
        let ds = vec![
            district(1604, counts(80, 50, 0), &[], &[]),
            district(1602, counts(10, 3, 0), &[], &[]),
            district(1605, counts(60, 30, 0), &[], &[]),
            district(1606, counts(70, 40, 0), &[], &[]),
        ];
        let f = PublicFigures::new(&ds, K);
        let m = record();
        let dept = cell(&f.json(t("16"), &m, ""), &["protected"]).as_u64();
        let kids = f.children_json(t("16"), &m, "");
        let shown: Vec<Option<u64>> = kids
            .iter()
            .filter(|(c, _)| [t("1602"), t("1604"), t("1605"), t("1606")].contains(c))
            .map(|(_, v)| cell(v, &["protected"]).as_u64())
            .collect();
        let hidden = shown.iter().filter(|v| v.is_none()).count();
        if let Some(total) = dept {
            assert!(
                hidden == 0 || hidden >= 3,
                "department {total}, districts {shown:?}"
            );
        }
    }

    /// splitmix64: a deterministic stream of numbers for the property test.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        }
        fn upto(&mut self, n: u64) -> u64 {
            self.next() % (n + 1)
        }
    }

    /// A random but consistent Logro 3 of one district: small numbers, so that small cells
    /// and small differences are common.
    fn random_district(rng: &mut Rng, code: u16) -> DistrictLogros {
        let identified = rng.upto(40);
        let protected = rng.upto(identified);
        let without = rng.upto(identified - protected);
        let breakdowns: Vec<(String, Counts)> = ["indigenas", "pobreza", "mujeres"]
            .iter()
            .map(|b| {
                let i = rng.upto(identified);
                let p = rng.upto(i.min(protected));
                (b.to_string(), counts(i, p, 0))
            })
            .collect();
        let services: Vec<(String, [u64; 3])> = ["vacunas", "control"]
            .iter()
            .map(|s| {
                let a = rng.upto(identified);
                let p = rng.upto(a);
                let u = rng.upto(a - p);
                (s.to_string(), [p, u, a - p - u])
            })
            .collect();
        let b: Vec<(&str, Counts)> = breakdowns.iter().map(|(b, c)| (b.as_str(), *c)).collect();
        let s: Vec<(&str, [u64; 3])> = services.iter().map(|(s, c)| (s.as_str(), *c)).collect();
        district(code, counts(identified, protected, without), &b, &s)
    }

    /// Over many random territory trees, no published cell is small, no published total and
    /// published part of it differ by a small number, and no sum leaves a single hidden part
    /// or a small remainder to recompute — within a table and across the tree.
    #[test]
    fn no_published_cell_pair_yields_a_small_difference() {
        let districts = [1602, 1604, 1605, 1606, 1101, 1102, 1116, 607];
        for seed in 0..60 {
            let mut rng = Rng(seed);
            let mut ds: Vec<DistrictLogros> = Vec::new();
            for d in districts {
                if rng.upto(4) > 0 {
                    ds.push(random_district(&mut rng, d));
                }
            }
            let f = PublicFigures::new(&ds, K);
            // Per territory: what is published, and every cell.
            let tables: HashMap<TerritoryCode, (Cells, Cells)> = every_territory()
                .into_iter()
                .map(|t| {
                    let (table, hidden) = f.table(t).unwrap();
                    let all = cells(table);
                    let shown = all
                        .iter()
                        .filter(|(k, _)| !hidden.contains(*k))
                        .map(|(k, v)| (k.clone(), *v))
                        .collect();
                    (t, (shown, all))
                })
                .collect();
            let shown = |t: TerritoryCode| &tables[&t].0;
            let all = |t: TerritoryCode| &tables[&t].1;
            let mut checked = 0;
            let check = |total: Option<u64>, parts: &[Option<u64>], exact: bool, what: &str| {
                let Some(total) = total else { return };
                let published: u64 = parts.iter().flatten().sum();
                let left = total.saturating_sub(published);
                assert!(
                    !small(left, K),
                    "seed {seed}: {what}: {total} − {parts:?} = {left}"
                );
                if exact {
                    let hidden = parts.iter().filter(|p| p.is_none()).count();
                    assert!(
                        hidden != 1 || left == 0,
                        "seed {seed}: {what}: one hidden part"
                    );
                }
            };
            for ter in every_territory() {
                let (s, a) = (shown(ter), all(ter));
                for (k, v) in s {
                    assert!(!small(*v, K), "seed {seed}: {ter} {k} = {v}");
                }
                let keys: BTreeSet<String> = a.keys().cloned().collect();
                for r in table_relations(&keys) {
                    let parts: Vec<Option<u64>> =
                        r.parts.iter().map(|p| s.get(p).copied()).collect();
                    check(
                        s.get(&r.total).copied(),
                        &parts,
                        r.exact,
                        &format!("{ter} {}", r.total),
                    );
                    checked += 1;
                }
                let kids = children(ter);
                if kids.is_empty() {
                    continue;
                }
                for k in &keys {
                    let parts: Vec<Option<u64>> = kids
                        .iter()
                        .map(|c| {
                            let (sc, ac) = (shown(*c), all(*c));
                            match ac.get(k) {
                                None => Some(0),
                                Some(_) => sc.get(k).copied(),
                            }
                        })
                        .collect();
                    check(
                        s.get(k).copied(),
                        &parts,
                        true,
                        &format!("{ter} {k} over its children"),
                    );
                    // Nor two: the Mesa of one would subtract its own and get the other.
                    if let Some(total) = s.get(k) {
                        let published: u64 = parts.iter().flatten().sum();
                        let hidden = parts.iter().filter(|p| p.is_none()).count();
                        assert!(
                            hidden != 2 || *total == published,
                            "seed {seed}: {ter} {k}: two hidden children"
                        );
                    }
                    // A hidden sum needs a hidden part.
                    if !s.contains_key(k) && a.get(k).copied().unwrap_or(0) > 0 {
                        assert!(parts.iter().any(Option::is_none), "seed {seed}: {ter} {k}");
                    }
                }
            }
            assert!(checked > 0);
        }
    }
}
