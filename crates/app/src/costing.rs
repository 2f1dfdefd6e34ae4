//! Costing from targets (issue 38): what it costs to raise a Logro of a territory from its
//! coverage in the latest measurement to a target by a year — *the resources needed, estimated
//! from the target to be reached*. A unit reaches a Logro when every núcleo service it lacks is
//! given, so its cost is the sum of the unit costs of its missing services; the units are taken
//! cheapest first (the least it can cost), units *sin dato* count as unprotected and verifying
//! them (a FIPS update) is costed apart. A target for a department or the nation applies to each
//! of its districts, so their cost is the sum of their districts'. The path to the target goes
//! in equal steps, one per year after the measurement's; administrative overhead and price
//! indexation (per year) are parameters. Every result names the measurement and the catalogue
//! version it used. Aggregates only, but read from the registry: audited.

use crate::{Actor, Error, Result};
use serde::Serialize;
use std::collections::BTreeMap;
use vamos_catalogue::Catalogue;
use vamos_domain::services::Category;
use vamos_domain::{Permission, Territory, TerritoryCode};
use vamos_engine::classify::Classifier;
use vamos_engine::costing::{gaps, Gap};
use vamos_store::Store;

/// What to cost.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct CostQuery {
    /// `PY`, `DD` or `DDdd`.
    pub territory: String,
    pub logro: u8,
    /// The coverage to reach, 0..=1.
    pub target: f64,
    /// The year to reach it by (after the measurement's).
    pub by: i32,
    /// Administrative overhead over the services' cost (0.1 = 10 %).
    #[serde(default)]
    pub overhead: f64,
    /// Price indexation per year after the measurement's (0.04 = 4 % a year).
    #[serde(default)]
    pub indexation: f64,
    /// Cost of verifying one unit without data (a FIPS update), PYG.
    #[serde(default)]
    pub verification_cost: i64,
    /// The measurement (the latest when absent).
    #[serde(default)]
    pub measurement: Option<i64>,
}

/// One service's share.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ServiceCost {
    pub service: String,
    pub name: String,
    pub institution: String,
    /// Units to protect that lack it.
    pub units: u64,
    pub unit_cost: i64,
    pub cost: i64,
}

/// One year of the path.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct YearCost {
    pub year: i32,
    /// Units protected that year, and the coverage reached at its end.
    pub units: u64,
    pub coverage: Option<f64>,
    pub cost: i64,
}

/// What a target costs.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Costing {
    pub territory: serde_json::Value,
    pub logro: u8,
    pub category: String,
    pub target: f64,
    pub by: i32,
    pub baseline: serde_json::Value,
    pub units_to_protect: u64,
    /// Units a target needs that the territory does not have unprotected (a target above what
    /// protecting everyone reaches).
    pub unreachable_units: u64,
    pub by_service: Vec<ServiceCost>,
    pub by_institution: Vec<(String, i64)>,
    pub by_year: Vec<YearCost>,
    pub total_cost: i64,
    pub verification: serde_json::Value,
    pub parameters: serde_json::Value,
    pub catalogue_version: String,
    pub synthetic: bool,
    /// Districts costed (a department's or the nation's target applies to each).
    pub districts: usize,
}

/// Held while a department or the nation is read and costed (see [`cost`]).
static LARGE: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// The unit cost of every catalogue service (its `costo_unitario_pyg`).
pub fn unit_costs(catalogue: &Catalogue) -> Vec<i64> {
    catalogue.services.iter().map(|s| s.unit_cost_pyg).collect()
}

/// What every costing checks first: `actor` reads the Logros of `territory` without suppression,
/// the target is a coverage, and the measurement (the latest when `None`) was classified with
/// `catalogue`. The territory and the measurement.
fn costed(
    store: &mut dyn Store,
    actor: &Actor,
    catalogue: &Catalogue,
    territory: &str,
    target: f64,
    measurement: Option<i64>,
) -> Result<(TerritoryCode, vamos_store::MeasurementRecord)> {
    actor.require(Permission::LogrosRead)?;
    let t = crate::registry::parse_territory(Some(territory))?;
    if !crate::measurements::reads_unsuppressed(actor, t) {
        return Err(Error::forbidden(format!(
            "{} está fuera de su ámbito territorial",
            Territory::official().name_of(t)
        )));
    }
    if !(0.0..=1.0).contains(&target) {
        return Err(Error::bad_request(
            "la meta es una cobertura entre 0 y 1 (0,7 = 70 %)",
        ));
    }
    let Some((m, _)) = store.measurement(measurement)? else {
        return Err(Error::not_found(
            "no hay mediciones: clasifique primero (vamos classify)",
        ));
    };
    if m.catalogue_version != catalogue.version {
        return Err(Error::conflict(format!(
            "la medición {} se hizo con otro catálogo ({}): use ese catálogo o clasifique de nuevo",
            m.id, m.catalogue_version
        )));
    }
    Ok((t, m))
}

/// Costs `q` for `actor`, who needs to read the Logros of the territory without suppression.
pub fn cost(
    store: &mut dyn Store,
    actor: &Actor,
    catalogue: &Catalogue,
    q: &CostQuery,
) -> Result<Costing> {
    let (t, m) = costed(
        store,
        actor,
        catalogue,
        &q.territory,
        q.target,
        q.measurement,
    )?;
    let category = Category::ALL
        .into_iter()
        .find(|c| c.logro() == q.logro)
        .ok_or_else(|| {
            Error::bad_request(format!("no existe el Logro {}: son del 1 al 10", q.logro))
        })?;
    if !(0.0..=10.0).contains(&q.overhead) || !(-0.5..=1.0).contains(&q.indexation) {
        return Err(Error::bad_request(
            "gastos administrativos entre 0 y 10 (0,1 = 10 %); indexación anual entre -0,5 y 1",
        ));
    }
    // A department's or the nation's registry is large (the nation: gigabytes while it is
    // costed): one such costing at a time, the others wait their turn.
    let large = !matches!(t, TerritoryCode::District(_));
    let _turn = large.then(|| {
        LARGE
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    });
    let readers = std::thread::available_parallelism().map_or(1, |n| n.get());
    let (data, as_of, until) =
        crate::measurements::registry_as_figures_stand(store, &m, t, readers)
            .map_err(Error::internal)?;
    let base = chrono::Datelike::year(&as_of);
    if q.by <= base {
        return Err(Error::bad_request(format!(
            "el año meta debe ser posterior al de la medición ({base})"
        )));
    }
    let cls = Classifier::new(catalogue, &data, as_of).with_counter_referrals_until(until);
    let costs = unit_costs(catalogue);
    let all = gaps(&cls, &data, &costs);
    let mine: Vec<&Gap> = all.iter().filter(|g| g.category == category).collect();
    let out = scenario(catalogue, &mine, q, base);
    actor.audit(
        store,
        "costear meta",
        "territorio",
        &format!("{t} logro {} meta {} al {}", q.logro, q.target, q.by),
        "planificación",
        &format!("ok: {} unidades, {} PYG", out.units, out.total),
    )?;
    let identified: u64 = mine.iter().map(|g| g.identified).sum();
    let protected: u64 = mine.iter().map(|g| g.protected).sum();
    Ok(Costing {
        territory: crate::measurements::territory_json(t),
        logro: q.logro,
        category: category.label().to_string(),
        target: q.target,
        by: q.by,
        baseline: serde_json::json!({
            "measurement": m.id, "as_of": m.as_of, "identified": identified, "protected": protected,
            "coverage": (identified > 0).then(|| protected as f64 / identified as f64),
        }),
        units_to_protect: out.units,
        unreachable_units: out.unreachable,
        by_institution: out.by_institution,
        by_service: out.by_service,
        by_year: out.by_year,
        total_cost: out.total,
        verification: serde_json::json!({
            "units": out.unknown, "unit_cost": q.verification_cost,
            "cost": out.unknown as i64 * q.verification_cost,
        }),
        parameters: serde_json::json!({"overhead": q.overhead, "indexation": q.indexation, "path": "pasos iguales por año", "selection": "menor costo primero"}),
        catalogue_version: catalogue.version.clone(),
        synthetic: m.synthetic,
        districts: mine.len(),
    })
}

/// A target's cost over some districts' gaps (see the module comment).
pub struct Scenario {
    pub units: u64,
    pub unreachable: u64,
    pub unknown: u64,
    pub by_service: Vec<ServiceCost>,
    pub by_institution: Vec<(String, i64)>,
    pub by_year: Vec<YearCost>,
    pub total: i64,
}

/// The cost of reaching `q.target` by `q.by` in each of `gaps` (one Logro, several districts),
/// from a measurement of year `base`.
pub fn scenario(catalogue: &Catalogue, gaps: &[&Gap], q: &CostQuery, base: i32) -> Scenario {
    let years = u32::try_from(q.by - base).unwrap_or(1).max(1);
    let factor = |year: u32| (1.0 + q.overhead) * (1.0 + q.indexation).powi(year as i32);
    // Per service (catalogue index): units and cost in PYG (not yet rounded).
    let mut services: BTreeMap<usize, (u64, f64)> = BTreeMap::new();
    let mut by_year: Vec<(u64, f64)> = vec![(0, 0.0); years as usize];
    let (mut units, mut unreachable, mut unknown) = (0u64, 0u64, 0u64);
    let identified: u64 = gaps.iter().map(|g| g.identified).sum();
    let mut protected_by: Vec<u64> = vec![gaps.iter().map(|g| g.protected).sum(); years as usize];
    for g in gaps {
        let goal = (q.target * g.identified as f64 - 1e-9).ceil().max(0.0) as u64;
        let need = g.needed(q.target);
        unreachable += goal.saturating_sub(g.protected).saturating_sub(need);
        units += need;
        unknown += g.take(need).unknown;
        let mut before = g.take(0);
        for y in 1..=years {
            let k = (need as f64 * f64::from(y) / f64::from(years)).round() as u64;
            let now = g.take(k);
            let f = factor(y);
            for (s, (a, b)) in g
                .services
                .iter()
                .zip(now.by_service.iter().zip(&before.by_service))
            {
                let cost = catalogue.services.get(*s).map_or(0, |x| x.unit_cost_pyg) as f64;
                let e = services.entry(*s).or_insert((0, 0.0));
                e.0 += a - b;
                e.1 += (a - b) as f64 * cost * f;
                if let Some(row) = by_year.get_mut(y as usize - 1) {
                    row.1 += (a - b) as f64 * cost * f;
                }
            }
            if let Some(row) = by_year.get_mut(y as usize - 1) {
                row.0 += now.units - before.units;
            }
            for p in protected_by.iter_mut().skip(y as usize - 1) {
                *p += now.units - before.units;
            }
            before = now;
        }
    }
    let by_service: Vec<ServiceCost> = services
        .into_iter()
        .filter_map(|(i, (n, c))| {
            let s = catalogue.services.get(i)?;
            (n > 0).then(|| ServiceCost {
                service: s.code.clone(),
                name: s.name.clone(),
                institution: s.institution.clone(),
                units: n,
                unit_cost: s.unit_cost_pyg,
                cost: c.round() as i64,
            })
        })
        .collect();
    let mut by_institution: BTreeMap<String, i64> = BTreeMap::new();
    for s in &by_service {
        *by_institution.entry(s.institution.clone()).or_default() += s.cost;
    }
    let total = by_service.iter().map(|s| s.cost).sum();
    Scenario {
        units,
        unreachable,
        unknown,
        by_service,
        by_institution: by_institution.into_iter().collect(),
        by_year: by_year
            .into_iter()
            .zip(protected_by)
            .enumerate()
            .map(|(i, ((n, c), p))| YearCost {
                year: base + i as i32 + 1,
                units: n,
                coverage: (identified > 0).then(|| p as f64 / identified as f64),
                cost: c.round() as i64,
            })
            .collect(),
        total,
    }
}

/// Every district × Logro × target year of a territory costed at once (what a planner's table
/// of the whole country needs), with how long each stage took.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Sweep {
    pub measurement: i64,
    pub districts: usize,
    pub scenarios: usize,
    /// Reading the registry as the figures stand, classifying it and ordering every gap.
    pub load_ms: u128,
    pub gaps_ms: u128,
    /// Costing every scenario once the gaps are known.
    pub scenarios_ms: f64,
    /// Per target year: the cost of every district and Logro reaching the target by then.
    pub total_by_year: Vec<(i32, i64)>,
}

/// Costs target `target` for every district and Logro of `territory` by each year of `years`.
pub fn sweep(
    store: &mut dyn Store,
    actor: &Actor,
    catalogue: &Catalogue,
    territory: &str,
    target: f64,
    years: std::ops::RangeInclusive<i32>,
) -> Result<Sweep> {
    let (t, m) = costed(store, actor, catalogue, territory, target, None)?;
    let _turn = LARGE
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let t0 = std::time::Instant::now();
    let readers = std::thread::available_parallelism().map_or(1, |n| n.get());
    let (data, as_of, until) =
        crate::measurements::registry_as_figures_stand(store, &m, t, readers)
            .map_err(Error::internal)?;
    let load_ms = t0.elapsed().as_millis();
    let t1 = std::time::Instant::now();
    let cls = Classifier::new(catalogue, &data, as_of).with_counter_referrals_until(until);
    let all = gaps(&cls, &data, &unit_costs(catalogue));
    let gaps_ms = t1.elapsed().as_millis();
    let base = chrono::Datelike::year(&as_of);
    let t2 = std::time::Instant::now();
    let mut totals: Vec<(i32, i64)> = Vec::new();
    let mut scenarios = 0;
    for by in years {
        let q = CostQuery {
            territory: territory.to_string(),
            logro: 0,
            target,
            by,
            overhead: 0.0,
            indexation: 0.0,
            verification_cost: 0,
            measurement: None,
        };
        let mut total = 0;
        for g in &all {
            total += scenario(catalogue, &[g], &q, base).total;
            scenarios += 1;
        }
        totals.push((by, total));
    }
    let scenarios_ms = t2.elapsed().as_secs_f64() * 1000.0;
    let mut districts: Vec<_> = all.iter().map(|g| g.district).collect();
    districts.dedup();
    actor.audit(
        store,
        "costear metas",
        "territorio",
        &format!("{t} meta {target}"),
        "planificación",
        &format!("ok: {scenarios} escenarios"),
    )?;
    Ok(Sweep {
        measurement: m.id,
        districts: districts.len(),
        scenarios,
        load_ms,
        gaps_ms,
        scenarios_ms,
        total_by_year: totals,
    })
}
