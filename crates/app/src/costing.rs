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
    /// How the units are chosen, the path over the years, pooling, unit costs per territory.
    #[serde(default)]
    pub options: CostOptions,
}

/// The costing's options beyond the defaults (cheapest units first, equal yearly steps, each
/// district its own target, the catalogue's unit costs).
#[derive(Debug, Clone, Default, serde::Deserialize, serde::Serialize, PartialEq)]
pub struct CostOptions {
    /// `menor_costo` (default) or `proporcional`: units in proportion to the whole gap.
    #[serde(default)]
    pub selection: Option<String>,
    /// `pasos_iguales` (default), `al_inicio` (more in the first years) or `al_final`.
    #[serde(default)]
    pub path: Option<String>,
    /// A department's or the nation's target applied to the territory as one pool (the
    /// cheapest units anywhere in it) instead of to each district.
    #[serde(default)]
    pub pool: bool,
    /// Unit costs set for territories (service index, territory, PYG): a district's own, else
    /// its department's, else the nation's, else the catalogue's. They price the services; the
    /// order of the units stays the catalogue's.
    #[serde(skip)]
    pub unit_costs: Vec<(usize, TerritoryCode, i64)>,
}

impl CostOptions {
    /// The options as a caller asks for them (empty words: the defaults); unit costs per
    /// territory are read from the store when costing.
    pub fn asked(selection: Option<String>, path: Option<String>, pool: bool) -> CostOptions {
        let word = |w: Option<String>| w.map(|x| x.trim().to_string()).filter(|x| !x.is_empty());
        CostOptions {
            selection: word(selection),
            path: word(path),
            pool,
            unit_costs: Vec::new(),
        }
    }

    /// Checks the options' words.
    pub fn check(&self) -> Result<()> {
        if !matches!(
            self.selection.as_deref(),
            None | Some("menor_costo" | "proporcional")
        ) {
            return Err(Error::bad_request(
                "selección desconocida: menor_costo o proporcional",
            ));
        }
        if !matches!(
            self.path.as_deref(),
            None | Some("pasos_iguales" | "al_inicio" | "al_final")
        ) {
            return Err(Error::bad_request(
                "camino desconocido: pasos_iguales, al_inicio o al_final",
            ));
        }
        Ok(())
    }

    /// The share of the units protected by the end of year `y` of `years`.
    fn reached(&self, y: u32, years: u32) -> f64 {
        let x = f64::from(y) / f64::from(years.max(1));
        match self.path.as_deref() {
            Some("al_inicio") => 1.0 - (1.0 - x) * (1.0 - x),
            Some("al_final") => x * x,
            _ => x,
        }
    }

    /// The unit cost of catalogue service `s` in district `d`.
    fn price(&self, catalogue: &Catalogue, s: usize, d: vamos_domain::DistrictCode) -> i64 {
        let own = |t: TerritoryCode| {
            self.unit_costs
                .iter()
                .find(|(x, at, _)| *x == s && *at == t)
                .map(|(_, _, c)| *c)
        };
        own(TerritoryCode::District(d))
            .or_else(|| own(TerritoryCode::Department(d.department())))
            .or_else(|| own(TerritoryCode::Nation))
            .unwrap_or_else(|| catalogue.services.get(s).map_or(0, |x| x.unit_cost_pyg))
    }

    /// How the result says it chose and spread the units.
    fn describe(&self) -> serde_json::Value {
        serde_json::json!({
            "selection": match self.selection.as_deref() { Some("proporcional") => "proporcional a toda la brecha", _ => "menor costo primero" },
            "path": match self.path.as_deref() { Some("al_inicio") => "más al inicio", Some("al_final") => "más al final", _ => "pasos iguales por año" },
            "pool": if self.pool { "el territorio como un solo conjunto" } else { "cada distrito con la meta" },
            "unit_costs_set": self.unit_costs.len(),
        })
    }
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
    /// That year's cost per service (catalogue code), what the budget of the year is compared
    /// with.
    pub services: BTreeMap<String, i64>,
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
    /// The options as asked (what a saved scenario is costed again with).
    pub options: CostOptions,
    pub catalogue_version: String,
    /// When the registry behind the gaps was read (RFC 3339): kept gaps answer until the
    /// server reads the figures again as counter-referrals and changes move them.
    pub gaps_read_at: String,
    pub synthetic: bool,
    /// Districts costed (a department's or the nation's target applies to each).
    pub districts: usize,
}

/// Held while a department or the nation is read and costed (see [`cost`]).
static LARGE: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Which gaps: a measurement classified with a catalogue, read for a territory.
#[derive(Debug, Clone, PartialEq, Eq)]
struct GapsKey {
    measurement: i64,
    catalogue: String,
    territory: TerritoryCode,
}

/// How the figures stood when gaps were computed: counter-referrals and approved changes move
/// them after the measurement.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Stood {
    applied_through: i64,
    updated_at: Option<String>,
    registry_written: Option<String>,
}

/// Gaps kept in memory, with how the figures stood and when they were read (RFC 3339).
struct Kept {
    key: GapsKey,
    stood: Stood,
    read_at: String,
    gaps: std::sync::Arc<Vec<Gap>>,
}

/// The gaps last computed, newest last: a scenario of a territory they cover is then a matter
/// of milliseconds (the nation's, kept by [`warm`], cover every territory). Kept gaps answer
/// until [`warm`] reads the figures again as they moved; every costing says when its gaps were
/// read (`gaps_read_at`).
static GAPS: std::sync::Mutex<Vec<Kept>> = std::sync::Mutex::new(Vec::new());
const GAPS_KEPT: usize = 3;

/// Whether kept gaps answer a costing as they stood when read (set by a process that keeps them
/// warm — the server, see [`keep_warm`]); otherwise a costing reads again once the figures moved.
static SERVE_KEPT: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Declares that this process refreshes the kept gaps ([`warm`] at most every [`WARM_EVERY`]):
/// from then on a costing is answered from them as they stood, and says when they were read.
pub fn keep_warm() {
    SERVE_KEPT.store(true, std::sync::atomic::Ordering::Relaxed);
}

fn stood(store: &mut dyn Store, m: &vamos_store::MeasurementRecord) -> Result<Stood> {
    Ok(Stood {
        applied_through: m.counter_referrals_applied_through,
        updated_at: m.counter_referrals_updated_at.clone(),
        registry_written: vamos_store::versions::latest_write(&mut store.db())?,
    })
}

/// Kept gaps of measurement `m` that cover `t` (those that stand as `now`, when given).
fn kept(
    catalogue: &Catalogue,
    m: &vamos_store::MeasurementRecord,
    t: TerritoryCode,
    now: Option<&Stood>,
) -> Option<(std::sync::Arc<Vec<Gap>>, String)> {
    let mut kept = GAPS.lock().ok()?;
    let i = kept.iter().rposition(|k| {
        k.key.measurement == m.id
            && k.key.catalogue == catalogue.version
            && crate::referrals::territory_within(t, k.key.territory)
            && now.is_none_or(|n| *n == k.stood)
    })?;
    // Most recently used last: the least recently used is the one to go.
    let hit = kept.remove(i);
    let out = (hit.gaps.clone(), hit.read_at.clone());
    kept.push(hit);
    Some(out)
}

/// The gaps of every district and Logro of `t` as measurement `m`'s figures stand (kept ones
/// when a territory containing `t` was read, else read, classified and kept), when they were
/// read, and the measurement's year.
fn gaps_of(
    store: &mut dyn Store,
    catalogue: &Catalogue,
    m: &vamos_store::MeasurementRecord,
    t: TerritoryCode,
    fresh: bool,
) -> Result<(std::sync::Arc<Vec<Gap>>, String, i32)> {
    let base = chrono::NaiveDate::parse_from_str(&m.as_of, "%Y-%m-%d")
        .map(|d| chrono::Datelike::year(&d))
        .map_err(Error::internal)?;
    let now = stood(store, m)?;
    let wanted = fresh.then_some(&now);
    if let Some((g, at)) = kept(catalogue, m, t, wanted) {
        return Ok((g, at, base));
    }
    // A department's or the nation's registry is large (the nation: gigabytes while it is
    // read): one such reading at a time, the others wait their turn — and may then find it
    // kept.
    let large = !matches!(t, TerritoryCode::District(_));
    let _turn = large.then(|| {
        LARGE
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    });
    if let Some((g, at)) = kept(catalogue, m, t, wanted) {
        return Ok((g, at, base));
    }
    let read_at = crate::clock::now_rfc3339();
    let readers = std::thread::available_parallelism().map_or(1, |n| n.get());
    let (data, as_of, until) = crate::measurements::registry_as_figures_stand(store, m, t, readers)
        .map_err(Error::internal)?;
    let cls =
        crate::ipm_method::classifier(catalogue, &data, as_of)?.with_counter_referrals_until(until);
    let gaps = std::sync::Arc::new(gaps(&cls, &data, &unit_costs(catalogue)));
    drop(data);
    if let Ok(mut list) = GAPS.lock() {
        // The same territory read again replaces its entry; else the least recently read goes.
        list.retain(|k| {
            !(k.key.measurement == m.id
                && k.key.territory == t
                && k.key.catalogue == catalogue.version)
        });
        if list.len() >= GAPS_KEPT {
            list.remove(0);
        }
        list.push(Kept {
            key: GapsKey {
                measurement: m.id,
                catalogue: catalogue.version.clone(),
                territory: t,
            },
            stood: now,
            read_at: read_at.clone(),
            gaps: gaps.clone(),
        });
    }
    Ok((gaps, read_at, base))
}

/// Reads the nation's gaps for the latest measurement again unless those kept stand as the
/// figures stand now — so that every costing after it is answered from memory (the server does
/// this in the background when it starts and, at most every [`WARM_EVERY`], once counter-
/// referrals or changes have moved the figures). Nothing when there is no measurement or it was
/// classified with another catalogue; else the number of district × Logro gaps kept.
pub fn warm(store: &mut dyn Store, catalogue: &Catalogue) -> Result<Option<usize>> {
    let Some((m, _)) = store.measurement(None)? else {
        return Ok(None);
    };
    if m.catalogue_version != catalogue.version {
        return Ok(None);
    }
    let (g, _, _) = gaps_of(store, catalogue, &m, TerritoryCode::Nation, true)?;
    Ok(Some(g.len()))
}

/// How often, at most, the server reads the nation's gaps again as the figures move.
pub const WARM_EVERY: std::time::Duration = std::time::Duration::from_secs(30 * 60);

/// Sets the unit cost of catalogue service `service` in `territory` (removes it with `None`),
/// as `actor` (`planes:editar`, the territory in its scope); audited.
pub fn set_unit_cost(
    store: &mut dyn Store,
    actor: &Actor,
    catalogue: &Catalogue,
    territory: &str,
    service: &str,
    cost: Option<i64>,
) -> Result<()> {
    actor.require(Permission::PlansEdit)?;
    let t = crate::registry::parse_territory(Some(territory))?;
    if !actor.scope.covers(t) {
        return Err(Error::forbidden(format!(
            "{} está fuera de su ámbito territorial",
            Territory::official().name_of(t)
        )));
    }
    if !catalogue.services.iter().any(|s| s.code == service) {
        return Err(Error::bad_request(format!(
            "servicio desconocido en el catálogo: «{}»",
            service.chars().take(40).collect::<String>()
        )));
    }
    if cost.is_some_and(|c| !(0..=1_000_000_000_000).contains(&c)) {
        return Err(Error::bad_request(
            "costo unitario entre 0 y un billón de guaraníes",
        ));
    }
    vamos_store::costing::set_unit_cost(
        &mut store.db(),
        &vamos_store::costing::UnitCost {
            territory: t.to_string(),
            service: service.to_string(),
            unit_cost: cost.unwrap_or(0),
            set_by: actor.name.clone(),
            set_at: crate::clock::now_rfc3339(),
        },
        cost.is_none(),
    )?;
    actor.audit(
        store,
        "definir costo unitario",
        "costo unitario",
        &format!("{t} {service}"),
        "planificación",
        &cost.map_or("quitado".to_string(), |c| format!("ok: {c}")),
    )
}

/// The unit costs set per territory, for those who read the Logros.
pub fn unit_cost_list(
    store: &mut dyn Store,
    actor: &Actor,
) -> Result<Vec<vamos_store::costing::UnitCost>> {
    actor.require(Permission::LogrosRead)?;
    Ok(vamos_store::costing::unit_costs(&mut store.db())?)
}

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
    q.options.check()?;
    let mut q = q.clone();
    q.options.unit_costs = vamos_store::costing::unit_costs(&mut store.db())?
        .iter()
        .filter_map(|u| {
            let s = catalogue
                .services
                .iter()
                .position(|x| x.code == u.service)?;
            Some((s, TerritoryCode::parse(&u.territory).ok()?, u.unit_cost))
        })
        .collect();
    let q = &q;
    let served = SERVE_KEPT.load(std::sync::atomic::Ordering::Relaxed);
    let (all, gaps_read_at, base) = gaps_of(store, catalogue, &m, t, !served)?;
    if q.by <= base {
        return Err(Error::bad_request(format!(
            "el año meta debe ser posterior al de la medición ({base})"
        )));
    }
    let mine: Vec<&Gap> = all
        .iter()
        .filter(|g| g.category == category && t.contains(g.district))
        .collect();
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
        parameters: {
            let mut p = q.options.describe();
            if let Some(o) = p.as_object_mut() {
                o.insert("overhead".into(), q.overhead.into());
                o.insert("indexation".into(), q.indexation.into());
            }
            p
        },
        options: q.options.clone(),
        gaps_read_at,
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
    let mut services: BTreeMap<usize, (u64, f64, f64)> = BTreeMap::new();
    let mut by_year: Vec<(u64, f64)> = vec![(0, 0.0); years as usize];
    let mut year_services: Vec<BTreeMap<usize, f64>> = vec![BTreeMap::new(); years as usize];
    let (mut units, mut unreachable, mut unknown) = (0u64, 0u64, 0u64);
    let identified: u64 = gaps.iter().map(|g| g.identified).sum();
    let mut protected_by: Vec<u64> = vec![gaps.iter().map(|g| g.protected).sum(); years as usize];
    let o = &q.options;
    let goal = |identified: u64| (q.target * identified as f64 - 1e-9).ceil().max(0.0) as u64;
    // Per gap, the units protected by the end of each year (index 0: none yet).
    let counts: Vec<Vec<u64>> = if o.pool && gaps.len() > 1 {
        let protected: u64 = gaps.iter().map(|g| g.protected).sum();
        let open: u64 = gaps.iter().map(|g| g.unprotected()).sum();
        let need = goal(identified).saturating_sub(protected).min(open);
        unreachable += goal(identified)
            .saturating_sub(protected)
            .saturating_sub(need);
        let per_year: Vec<Vec<u64>> = (0..=years)
            .map(|y| {
                let k = (need as f64 * o.reached(y, years)).round() as u64;
                vamos_engine::costing::pooled(gaps, k)
            })
            .collect();
        (0..gaps.len())
            .map(|i| {
                per_year
                    .iter()
                    .map(|c| c.get(i).copied().unwrap_or(0))
                    .collect()
            })
            .collect()
    } else {
        gaps.iter()
            .map(|g| {
                let need = g.needed(q.target);
                unreachable += goal(g.identified)
                    .saturating_sub(g.protected)
                    .saturating_sub(need);
                (0..=years)
                    .map(|y| (need as f64 * o.reached(y, years)).round() as u64)
                    .collect()
            })
            .collect()
    };
    let take = |g: &Gap, k: u64| {
        if o.selection.as_deref() == Some("proporcional") {
            g.take_share(k)
        } else {
            g.take(k)
        }
    };
    for (g, steps) in gaps.iter().zip(&counts) {
        let need = steps.last().copied().unwrap_or(0);
        units += need;
        unknown += take(g, need).unknown;
        let mut before = take(g, 0);
        for y in 1..=years {
            let now = take(g, steps.get(y as usize).copied().unwrap_or(need));
            let f = factor(y);
            for (s, (a, b)) in g
                .services
                .iter()
                .zip(now.by_service.iter().zip(&before.by_service))
            {
                let cost = o.price(catalogue, *s, g.district) as f64;
                let added = a.saturating_sub(*b);
                let e = services.entry(*s).or_insert((0, 0.0, 0.0));
                e.0 += added;
                e.1 += added as f64 * cost * f;
                e.2 += added as f64 * cost;
                if let Some(row) = by_year.get_mut(y as usize - 1) {
                    row.1 += added as f64 * cost * f;
                }
                if let Some(row) = year_services.get_mut(y as usize - 1) {
                    *row.entry(*s).or_default() += added as f64 * cost * f;
                }
            }
            let added = now.units.saturating_sub(before.units);
            if let Some(row) = by_year.get_mut(y as usize - 1) {
                row.0 += added;
            }
            for p in protected_by.iter_mut().skip(y as usize - 1) {
                *p += added;
            }
            before = now;
        }
    }
    let by_service: Vec<ServiceCost> = services
        .into_iter()
        .filter_map(|(i, (n, c, plain))| {
            let s = catalogue.services.get(i)?;
            // With unit costs set per territory, the mean over the units (before overhead
            // and indexation); else the catalogue's.
            let unit_cost = if q.options.unit_costs.iter().any(|(x, ..)| *x == i) {
                (plain / n.max(1) as f64).round() as i64
            } else {
                s.unit_cost_pyg
            };
            (n > 0).then(|| ServiceCost {
                service: s.code.clone(),
                name: s.name.clone(),
                institution: s.institution.clone(),
                units: n,
                unit_cost,
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
            .zip(year_services)
            .enumerate()
            .map(|(i, (((n, c), p), services))| YearCost {
                year: base + i as i32 + 1,
                units: n,
                coverage: (identified > 0).then(|| p as f64 / identified as f64),
                cost: c.round() as i64,
                services: services
                    .into_iter()
                    .filter_map(|(s, c)| {
                        let s = catalogue.services.get(s)?;
                        (c > 0.0).then(|| (s.code.clone(), c.round() as i64))
                    })
                    .collect(),
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
    let cls =
        crate::ipm_method::classifier(catalogue, &data, as_of)?.with_counter_referrals_until(until);
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
            options: Default::default(),
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

/// Costs `q` and keeps the answer as scenario `name`, as `actor` (`planes:editar` besides what
/// [`cost`] needs); the scenario's number and the costing.
pub fn save(
    store: &mut dyn Store,
    actor: &Actor,
    catalogue: &Catalogue,
    q: &CostQuery,
    name: &str,
) -> Result<(i64, Costing)> {
    actor.require(Permission::PlansEdit)?;
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(Error::bad_request(
            "el escenario necesita un nombre de 1 a 200 caracteres",
        ));
    }
    let c = cost(store, actor, catalogue, q)?;
    let id = vamos_store::costing::save(
        &mut store.db(),
        &vamos_store::costing::Scenario {
            id: 0,
            name: name.to_string(),
            territory: c
                .territory
                .get("code")
                .and_then(serde_json::Value::as_str)
                .unwrap_or_default()
                .to_string(),
            logro: i64::from(q.logro),
            target: q.target,
            by_year: i64::from(q.by),
            measurement: c
                .baseline
                .get("measurement")
                .and_then(serde_json::Value::as_i64)
                .unwrap_or(0),
            catalogue_version: c.catalogue_version.clone(),
            total_cost: c.total_cost,
            result: serde_json::to_value(&c).map_err(Error::internal)?,
            saved_by: actor.name.clone(),
            saved_at: crate::clock::now_rfc3339(),
        },
    )?;
    actor.audit(
        store,
        "guardar escenario",
        "escenario",
        &id.to_string(),
        "planificación",
        "ok",
    )?;
    Ok((id, c))
}

/// The saved scenarios (without their answers), for those who read plans.
pub fn scenarios(
    store: &mut dyn Store,
    actor: &Actor,
) -> Result<Vec<vamos_store::costing::Scenario>> {
    actor.require(Permission::PlansRead)?;
    Ok(vamos_store::costing::list(&mut store.db())?
        .into_iter()
        .filter(|s| {
            TerritoryCode::parse(&s.territory)
                .is_ok_and(|t| crate::measurements::reads_unsuppressed(actor, t))
        })
        .collect())
}

/// Saved scenario `id` with its answer, for those who read plans and the Logros of its
/// territory.
pub fn scenario_saved(
    store: &mut dyn Store,
    actor: &Actor,
    id: i64,
) -> Result<vamos_store::costing::Scenario> {
    actor.require(Permission::PlansRead)?;
    let s = vamos_store::costing::get(&mut store.db(), id)?
        .ok_or_else(|| Error::not_found(format!("no existe el escenario {id}")))?;
    let t = crate::registry::parse_territory(Some(&s.territory))?;
    if !crate::measurements::reads_unsuppressed(actor, t) {
        return Err(Error::not_found(format!("no existe el escenario {id}")));
    }
    Ok(s)
}

/// Deletes saved scenario `id`, as `actor` (`planes:editar`).
pub fn scenario_delete(store: &mut dyn Store, actor: &Actor, id: i64) -> Result<()> {
    actor.require(Permission::PlansEdit)?;
    // Found (and in scope) first: outside it, a scenario reads like a missing one.
    scenario_saved(store, actor, id)?;
    if !vamos_store::costing::delete(&mut store.db(), id)? {
        return Err(Error::not_found(format!("no existe el escenario {id}")));
    }
    actor.audit(
        store,
        "borrar escenario",
        "escenario",
        &id.to_string(),
        "planificación",
        "ok",
    )
}

/// `v[k]`, or null: a saved answer read back (JSON indexing without a panic path).
fn field<'a>(v: &'a serde_json::Value, k: &str) -> &'a serde_json::Value {
    v.get(k).unwrap_or(&serde_json::Value::Null)
}

/// Saved scenarios side by side: per scenario its target, units, total and verification, and
/// per service the cost in each (0 where a scenario does not need it).
pub fn compare(store: &mut dyn Store, actor: &Actor, ids: &[i64]) -> Result<serde_json::Value> {
    if ids.len() < 2 || ids.len() > 6 {
        return Err(Error::bad_request("se comparan de 2 a 6 escenarios"));
    }
    let mut all = Vec::new();
    for id in ids {
        all.push(scenario_saved(store, actor, *id)?);
    }
    let mut services: BTreeMap<String, (String, String, Vec<i64>)> = BTreeMap::new();
    for (i, s) in all.iter().enumerate() {
        for x in field(&s.result, "by_service")
            .as_array()
            .into_iter()
            .flatten()
        {
            let code = x["service"].as_str().unwrap_or_default().to_string();
            let e = services.entry(code).or_insert_with(|| {
                (
                    x["name"].as_str().unwrap_or_default().to_string(),
                    x["institution"].as_str().unwrap_or_default().to_string(),
                    vec![0; ids.len()],
                )
            });
            if let Some(c) = e.2.get_mut(i) {
                *c = x["cost"].as_i64().unwrap_or(0);
            }
        }
    }
    Ok(serde_json::json!({
        "scenarios": all.iter().map(|s| serde_json::json!({
            "id": s.id, "name": s.name, "territory": field(&s.result, "territory"), "logro": s.logro,
            "target": s.target, "by": s.by_year, "baseline": field(&s.result, "baseline"),
            "units_to_protect": field(&s.result, "units_to_protect"), "total_cost": s.total_cost,
            "verification": field(&s.result, "verification"), "parameters": field(&s.result, "parameters"), "measurement": s.measurement,
            "catalogue_version": s.catalogue_version, "saved_by": s.saved_by, "saved_at": s.saved_at,
        })).collect::<Vec<_>>(),
        "by_service": services.into_iter().map(|(code, (name, institution, costs))| serde_json::json!({
            "service": code, "name": name, "institution": institution, "costs": costs,
        })).collect::<Vec<_>>(),
    }))
}
