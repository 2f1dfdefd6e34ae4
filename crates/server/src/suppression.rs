//! Public figures without personal data: Logros and per-service coverage of a territory, with
//! small-cell suppression — shared by the public API (`api::public`) and the
//! dashboard pages.
//!
//! A count from 1 to k−1 is suppressed (primary). Complementary suppression then hides what
//! would let a reader recompute it: a part whose complement (total − part) is small, every part
//! of a suppressed total, a second part when only one part of a sum is hidden, and — across the
//! territory tree — a second sibling when only one district (or department) of a parent is
//! hidden for a cell, since the parent's published total minus the others would reveal it.

use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use vamos_app::measurements::{coverage, territory_json};
use vamos_domain::services::Category;
use vamos_domain::{Territory, TerritoryCode};
use vamos_engine::logros::{roll_up, DistrictLogros, LogroCounts};

/// Flattened counts of one territory: key → value.
pub type Cells = BTreeMap<String, u64>;

/// Flattens a Logros table.
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

/// `(total, parts)` relations among the keys of `c`.
fn relations(c: &Cells) -> Vec<(String, Vec<String>)> {
    let mut out = Vec::new();
    for k in c.keys() {
        if let Some(base) = k.strip_suffix(".identified") {
            let part = format!("{base}.protected");
            if c.contains_key(&part) {
                out.push((k.clone(), vec![part]));
            }
            // A breakdown is part of its Logro's total.
            if let Some((logro, _)) = base.split_once(".b.") {
                out.push((format!("{logro}.all.identified"), vec![k.clone()]));
            }
        }
        if let Some(base) = k.strip_suffix(".applicable") {
            out.push((
                k.clone(),
                ["protected", "unprotected", "without_data"]
                    .iter()
                    .map(|p| format!("{base}.{p}"))
                    .collect(),
            ));
        }
    }
    out
}

fn small(v: u64, k: u64) -> bool {
    v > 0 && v < k
}

/// The keys of `c` to suppress within one table (primary and complementary).
pub fn suppress_table(c: &Cells, k: u64, mut hidden: BTreeSet<String>) -> BTreeSet<String> {
    for (key, v) in c {
        if small(*v, k) {
            hidden.insert(key.clone());
        }
    }
    let rels = relations(c);
    loop {
        let before = hidden.len();
        for (total, parts) in &rels {
            let t = c.get(total).copied().unwrap_or(0);
            if hidden.contains(total) {
                hidden.extend(parts.iter().cloned());
                continue;
            }
            if let [p] = parts.as_slice() {
                let v = c.get(p).copied().unwrap_or(0);
                if small(t.saturating_sub(v), k) {
                    hidden.insert(p.clone());
                }
            } else {
                let open: Vec<&String> = parts.iter().filter(|p| !hidden.contains(*p)).collect();
                if open.len() + 1 == parts.len() {
                    // Exactly one part hidden: hide the smallest other non-zero part too.
                    if let Some(p) = open
                        .iter()
                        .filter(|p| c.get(**p).copied().unwrap_or(0) > 0)
                        .min_by_key(|p| c.get(**p).copied().unwrap_or(0))
                    {
                        hidden.insert((*p).clone());
                    }
                }
            }
        }
        if hidden.len() == before {
            return hidden;
        }
    }
}

/// Suppression across siblings: for each key hidden in exactly one sibling, hide it in the
/// sibling with the smallest non-zero value too. Returns the extra keys per sibling index.
pub fn suppress_siblings(siblings: &[Cells], hidden: &mut [BTreeSet<String>]) {
    let keys: BTreeSet<&String> = siblings.iter().flat_map(|c| c.keys()).collect();
    for key in keys {
        let hidden_in: Vec<usize> = (0..siblings.len())
            .filter(|i| hidden.get(*i).is_some_and(|h| h.contains(key)))
            .collect();
        if hidden_in.len() != 1 {
            continue;
        }
        let other = (0..siblings.len())
            .filter(|i| !hidden_in.contains(i))
            .filter(|i| {
                siblings
                    .get(*i)
                    .and_then(|c| c.get(key))
                    .copied()
                    .unwrap_or(0)
                    > 0
            })
            .min_by_key(|i| {
                siblings
                    .get(*i)
                    .and_then(|c| c.get(key))
                    .copied()
                    .unwrap_or(0)
            });
        if let Some(i) = other {
            if let Some(h) = hidden.get_mut(i) {
                h.insert(key.clone());
            }
        }
    }
}

/// The public figures of territory `t` (see [`logros`]): its table suppressed, and the cells
/// its siblings' suppression adds.
pub fn public_territory(
    districts: &[DistrictLogros],
    m: &vamos_store::MeasurementRecord,
    t: TerritoryCode,
    k: u64,
) -> Value {
    let table = roll_up(districts, t);
    let mut hidden = suppress_table(&cells(&table), k, BTreeSet::new());
    if let Some((sibs, me)) = siblings(t) {
        let sib_cells: Vec<Cells> = sibs
            .iter()
            .map(|x| cells(&roll_up(districts, *x)))
            .collect();
        let mut sib_hidden: Vec<BTreeSet<String>> = sib_cells
            .iter()
            .map(|c| suppress_table(c, k, BTreeSet::new()))
            .collect();
        suppress_siblings(&sib_cells, &mut sib_hidden);
        if let (Some(extra), Some(mine)) = (sib_hidden.get(me), sib_cells.get(me)) {
            hidden = suppress_table(mine, k, extra.clone());
        }
    }
    public_json(t, m, &table, &hidden, k)
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

/// The public figures of every child of `t` at once — each exactly what [`public_territory`]
/// gives for it, with the siblings' cells computed once rather than once per child.
pub fn public_children(
    districts: &[DistrictLogros],
    m: &vamos_store::MeasurementRecord,
    t: TerritoryCode,
    k: u64,
) -> Vec<(TerritoryCode, Value)> {
    let kids = children(t);
    let tables: Vec<Vec<LogroCounts>> = kids.iter().map(|x| roll_up(districts, *x)).collect();
    let kid_cells: Vec<Cells> = tables.iter().map(|t| cells(t)).collect();
    let mut hidden: Vec<BTreeSet<String>> = kid_cells
        .iter()
        .map(|c| suppress_table(c, k, BTreeSet::new()))
        .collect();
    suppress_siblings(&kid_cells, &mut hidden);
    kids.iter()
        .zip(tables.iter().zip(kid_cells.iter().zip(hidden)))
        .map(|(x, (table, (c, extra)))| {
            let h = suppress_table(c, k, extra);
            (*x, public_json(*x, m, table, &h, k))
        })
        .collect()
}

/// The children of a territory's parent (the territory's siblings, itself included), and its
/// index among them; `None` for the nation.
pub fn siblings(t: TerritoryCode) -> Option<(Vec<TerritoryCode>, usize)> {
    let official = Territory::official();
    let list: Vec<TerritoryCode> = match t {
        TerritoryCode::Nation => return None,
        TerritoryCode::Department(_) => official
            .departments()
            .iter()
            .map(|d| TerritoryCode::Department(d.code))
            .collect(),
        TerritoryCode::District(d) => official
            .districts()
            .iter()
            .filter(|x| x.code.department() == d.department())
            .map(|x| TerritoryCode::District(x.code))
            .collect(),
    };
    let i = list.iter().position(|x| *x == t)?;
    Some((list, i))
}

/// The public JSON of a table with `hidden` keys replaced by `null`.
pub fn public_json(
    t: TerritoryCode,
    measurement: &vamos_store::MeasurementRecord,
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
        "measurement": {"id": measurement.id, "as_of": measurement.as_of, "catalogue_label": measurement.catalogue_label, "synthetic": measurement.synthetic},
        "synthetic_label": if measurement.synthetic { Some("sintético") } else { None },
        "min_cell": k,
        "suppressed_cells": hidden.len(),
        "note": format!("Cifras agregadas sin datos personales. Las celdas con menos de {k} casos, y las que permitirían deducirlas, se publican como null."),
        "logros": logros,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(pairs: &[(&str, u64)]) -> Cells {
        pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
    }

    #[test]
    fn small_cells_and_their_complements_are_hidden() {
        // 3 protected of 100: primary. 98 of 100: complement of 2 is small, so hidden too.
        let t = c(&[
            ("L1.all.identified", 100),
            ("L1.all.protected", 3),
            ("L1.b.mujeres.identified", 98),
            ("L1.b.mujeres.protected", 50),
            ("L1.s.x.applicable", 100),
            ("L1.s.x.protected", 2),
            ("L1.s.x.unprotected", 60),
            ("L1.s.x.without_data", 38),
        ]);
        let h = suppress_table(&t, 5, BTreeSet::new());
        assert!(h.contains("L1.all.protected"));
        assert!(!h.contains("L1.all.identified"));
        assert!(h.contains("L1.b.mujeres.identified"), "complement 2 < 5");
        assert!(h.contains("L1.s.x.protected"));
        assert!(h.contains("L1.s.x.without_data"), "second part of the sum");
        assert!(!h.contains("L1.s.x.unprotected"));
        // A suppressed total hides its parts.
        let t2 = c(&[("L2.all.identified", 4), ("L2.all.protected", 0)]);
        let h2 = suppress_table(&t2, 5, BTreeSet::new());
        assert!(h2.contains("L2.all.identified") && h2.contains("L2.all.protected"));
        // Zero is published; large values are published.
        let t3 = c(&[("L3.all.identified", 50), ("L3.all.protected", 0)]);
        assert!(suppress_table(&t3, 5, BTreeSet::new()).is_empty());
    }

    #[test]
    fn a_lone_hidden_sibling_gets_a_partner() {
        let sib = vec![
            c(&[("L1.all.protected", 3)]),
            c(&[("L1.all.protected", 40)]),
            c(&[("L1.all.protected", 9)]),
        ];
        let mut hidden: Vec<_> = sib
            .iter()
            .map(|x| suppress_table(x, 5, BTreeSet::new()))
            .collect();
        suppress_siblings(&sib, &mut hidden);
        assert!(hidden[0].contains("L1.all.protected"));
        assert!(
            hidden[2].contains("L1.all.protected"),
            "smallest other sibling"
        );
        assert!(!hidden[1].contains("L1.all.protected"));
    }
}
