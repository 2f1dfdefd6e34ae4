//! Shared targets (issue 38): the coverage a Logro should reach in a territory by a year, set by
//! those who plan (`metas:definir`) and read by whoever reads the Logros. A department's or the
//! nation's target, unless set for it, is the mean of its districts' targets for that year
//! weighted by the units each district's Logro identifies — and says so. Whether the trend
//! reaches a target is a straight line through the measurements' coverage (at least two).

use crate::{Actor, Error, Result};
use serde::Serialize;
use vamos_domain::{Permission, Territory, TerritoryCode};
use vamos_engine::logros::DistrictLogros;
use vamos_store::targets::{self as st, Target};
use vamos_store::Store;

/// A target to set.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct SetTarget {
    /// `PY`, `DD` or `DDdd`.
    pub territory: String,
    pub logro: u8,
    pub year: i32,
    /// 0..=1.
    pub coverage: f64,
}

/// Sets (or replaces) a target, as `actor` (who needs `metas:definir` and the territory in its
/// scope); audited.
pub fn set(store: &mut dyn Store, actor: &Actor, t: &SetTarget) -> Result<()> {
    actor.require(Permission::TargetsSet)?;
    let code = crate::registry::parse_territory(Some(&t.territory))?;
    if !actor.scope.covers(code) {
        return Err(Error::forbidden(format!(
            "{} está fuera de su ámbito territorial",
            Territory::official().name_of(code)
        )));
    }
    if !(1..=10).contains(&t.logro) {
        return Err(Error::bad_request(format!(
            "no existe el Logro {}: son del 1 al 10",
            t.logro
        )));
    }
    if !(2020..=2050).contains(&t.year) {
        return Err(Error::bad_request(format!(
            "año de la meta fuera de rango ({}): entre 2020 y 2050",
            t.year
        )));
    }
    if !(0.0..=1.0).contains(&t.coverage) {
        return Err(Error::bad_request(
            "la meta es una cobertura entre 0 y 1 (0,7 = 70 %)",
        ));
    }
    let at = crate::clock::now_rfc3339();
    st::set(
        &mut store.db(),
        &Target {
            territory: code.to_string(),
            logro: i64::from(t.logro),
            year: i64::from(t.year),
            coverage: t.coverage,
            set_by: actor.name.clone(),
            set_at: at,
        },
    )?;
    actor.audit(
        store,
        "definir meta",
        "meta",
        &format!("{code} logro {} {}", t.logro, t.year),
        "planificación",
        &format!("ok: {}", t.coverage),
    )
}

/// The targets set (for `territory` and what lies in it, when given), for anyone who reads the
/// Logros.
pub fn list(store: &mut dyn Store, actor: &Actor, territory: Option<&str>) -> Result<Vec<Target>> {
    actor.require(Permission::LogrosRead)?;
    let within = match territory.map(str::trim).filter(|t| !t.is_empty()) {
        Some(t) => Some(crate::registry::parse_territory(Some(t))?),
        None => None,
    };
    Ok(st::all(&mut store.db())?
        .into_iter()
        .filter(|x| {
            within.is_none_or(|w| TerritoryCode::parse(&x.territory).is_ok_and(|c| contains(w, c)))
        })
        .collect())
}

fn contains(outer: TerritoryCode, inner: TerritoryCode) -> bool {
    match (outer, inner) {
        (TerritoryCode::Nation, _) => true,
        (TerritoryCode::Department(a), TerritoryCode::Department(b)) => a == b,
        (TerritoryCode::Department(a), TerritoryCode::District(d)) => d.department() == a,
        (TerritoryCode::District(a), TerritoryCode::District(b)) => a == b,
        _ => false,
    }
}

/// A Logro's target as a territory reads it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Effective {
    pub logro: u8,
    pub year: i32,
    pub coverage: f64,
    /// `None`: set for the territory itself; `Some(n)`: the weighted mean of `n` districts'.
    pub from_districts: Option<usize>,
}

/// The next target of each Logro of `t` from year `from` on (the earliest year ≥ `from` with a
/// target): the territory's own, or derived from its districts' in `districts` (the figures of a
/// measurement: their identified units weigh).
pub fn effective(
    targets: &[Target],
    districts: &[DistrictLogros],
    t: TerritoryCode,
    from: i32,
) -> Vec<Effective> {
    let code = t.to_string();
    let mut out = Vec::new();
    for logro in 1..=10u8 {
        let own: Vec<&Target> = targets
            .iter()
            .filter(|x| {
                x.territory == code && x.logro == i64::from(logro) && x.year >= i64::from(from)
            })
            .collect();
        let below: Vec<&Target> = targets
            .iter()
            .filter(|x| {
                x.logro == i64::from(logro)
                    && x.year >= i64::from(from)
                    && matches!(TerritoryCode::parse(&x.territory), Ok(TerritoryCode::District(d)) if contains(t, TerritoryCode::District(d)) && t != TerritoryCode::District(d))
            })
            .collect();
        let year = own.iter().chain(&below).map(|x| x.year).min();
        let Some(year) = year else { continue };
        if let Some(x) = own.iter().find(|x| x.year == year) {
            out.push(Effective {
                logro,
                year: year as i32,
                coverage: x.coverage,
                from_districts: None,
            });
            continue;
        }
        let (mut sum, mut weight, mut n) = (0.0, 0.0, 0);
        for x in below.iter().filter(|x| x.year == year) {
            let Ok(TerritoryCode::District(d)) = TerritoryCode::parse(&x.territory) else {
                continue;
            };
            let identified = districts
                .iter()
                .find(|g| g.district == d)
                .and_then(|g| g.logros.iter().find(|l| l.logro == logro))
                .map_or(0, |l| l.all.identified) as f64;
            sum += x.coverage * identified;
            weight += identified;
            n += 1;
        }
        if weight > 0.0 {
            out.push(Effective {
                logro,
                year: year as i32,
                coverage: sum / weight,
                from_districts: Some(n),
            });
        }
    }
    out
}

/// [`effective`] with the targets as stored: what a dashboard of `t` reads beside a
/// measurement's districts (aggregates only: nothing personal, not audited).
pub fn effective_stored(
    store: &mut dyn Store,
    districts: &[DistrictLogros],
    t: TerritoryCode,
    from: i32,
) -> Result<Vec<Effective>> {
    Ok(effective(&st::all(&mut store.db())?, districts, t, from))
}

/// Whether a straight line through `points` (date, coverage; at least two) reaches `target` by
/// the end of `year` (`None`: fewer than two points).
pub fn trend_reaches(points: &[(chrono::NaiveDate, f64)], year: i32, target: f64) -> Option<bool> {
    if points.len() < 2 {
        return None;
    }
    let xs: Vec<f64> = points
        .iter()
        .map(|(d, _)| f64::from(chrono::Datelike::num_days_from_ce(d)))
        .collect();
    let n = points.len() as f64;
    let mx = xs.iter().sum::<f64>() / n;
    let my = points.iter().map(|(_, y)| y).sum::<f64>() / n;
    let sxx: f64 = xs.iter().map(|x| (x - mx).powi(2)).sum();
    let sxy: f64 = xs
        .iter()
        .zip(points)
        .map(|(x, (_, y))| (x - mx) * (y - my))
        .sum();
    let end = chrono::NaiveDate::from_ymd_opt(year, 12, 31)?;
    let at = f64::from(chrono::Datelike::num_days_from_ce(&end));
    let projected = if sxx > 0.0 {
        my + sxy / sxx * (at - mx)
    } else {
        my
    };
    Some(projected + 1e-9 >= target)
}

/// A target to follow: territory, Logro, year, coverage.
pub type Followed = (TerritoryCode, u8, i32, f64);

/// How each target of `targets` stands (a management agreement's): the target, the coverage of
/// the latest measurement, the gap left, and whether a straight line through the last
/// measurements that cover the territory (at most six) reaches it — for a reader of the
/// territory's Logros without suppression (`None` for others: the figures stay theirs). Each
/// measurement is read once, whatever the number of targets.
pub fn progress_all(
    store: &mut dyn Store,
    actor: &Actor,
    targets: &[Followed],
) -> Result<Vec<Option<serde_json::Value>>> {
    const TREND: usize = 6;
    let readable: Vec<bool> = targets
        .iter()
        .map(|(t, ..)| crate::measurements::reads_unsuppressed(actor, *t))
        .collect();
    // Per target: (measurement id, as_of, coverage), newest first.
    let mut seen: Vec<Vec<(i64, String, f64)>> = vec![Vec::new(); targets.len()];
    if readable.iter().any(|r| *r) {
        for r in crate::measurements::saved(store)?.iter().take(2 * TREND) {
            let Some(id) = r["id"].as_i64() else { continue };
            let outer = r["territory"]
                .as_str()
                .and_then(|s| TerritoryCode::parse(s).ok());
            let wanted: Vec<usize> = (0..targets.len())
                .filter(|&i| {
                    readable.get(i).copied().unwrap_or(false)
                        && seen.get(i).is_some_and(|s| s.len() < TREND)
                        && targets
                            .get(i)
                            .is_some_and(|(t, ..)| outer.is_none_or(|o| contains(o, *t)))
                })
                .collect();
            if wanted.is_empty() {
                continue;
            }
            let Some((m, districts)) = crate::measurements::measurement_districts(store, Some(id))
                .map_err(Error::internal)?
            else {
                continue;
            };
            for i in wanted {
                let Some((t, logro, ..)) = targets.get(i) else {
                    continue;
                };
                let table = vamos_engine::logros::roll_up(&districts, *t);
                let c = table.iter().find(|l| l.logro == *logro).and_then(|l| {
                    (l.all.identified > 0).then(|| l.all.protected as f64 / l.all.identified as f64)
                });
                if let (Some(c), Some(s)) = (c, seen.get_mut(i)) {
                    s.push((m.id, m.as_of.clone(), c));
                }
            }
        }
    }
    Ok(targets
        .iter()
        .zip(readable)
        .zip(seen)
        .map(|(((_, _, year, target), readable), seen)| {
            if !readable {
                return None;
            }
            let latest = seen.first();
            let mut points: Vec<(chrono::NaiveDate, f64)> = seen
                .iter()
                .filter_map(|(_, as_of, c)| {
                    Some((chrono::NaiveDate::parse_from_str(as_of, "%Y-%m-%d").ok()?, *c))
                })
                .collect();
            points.reverse();
            let reaches = trend_reaches(&points, *year, *target);
            Some(serde_json::json!({
                "current": latest.map(|(_, _, c)| c),
                "measurement": latest.map(|(id, as_of, _)| serde_json::json!({"id": id, "as_of": as_of})),
                "gap": latest.map(|(_, _, c)| (target - c).max(0.0)),
                "measurements": points.len(),
                "reaches": reaches,
                "verdict": match reaches {
                    Some(true) => "en camino: la tendencia alcanza la meta",
                    Some(false) => "no alcanza la meta al ritmo actual",
                    None => "sin tendencia todavía (hace falta más de una medición)",
                },
            }))
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn day(y: i32, m: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, 1).unwrap_or_default()
    }

    fn target(territory: &str, year: i64, coverage: f64) -> Target {
        Target {
            territory: territory.into(),
            logro: 4,
            year,
            coverage,
            set_by: "planificador".into(),
            set_at: String::new(),
        }
    }

    fn district(code: u16, identified: u64) -> DistrictLogros {
        DistrictLogros {
            district: vamos_domain::DistrictCode::from_number(code)
                .unwrap_or_else(|_| unreachable!()),
            logros: vec![vamos_engine::logros::LogroCounts {
                logro: 4,
                all: vamos_engine::logros::Counts {
                    identified,
                    ..Default::default()
                },
                ..Default::default()
            }],
        }
    }

    #[test]
    fn a_departments_target_is_its_districts_weighted_by_identified_units_unless_set() {
        let central = TerritoryCode::parse("11").unwrap_or(TerritoryCode::Nation);
        let figures = [district(1116, 100), district(1101, 300)];
        let mut targets = vec![target("1116", 2028, 0.7), target("1101", 2028, 0.5)];
        let derived = effective(&targets, &figures, central, 2026);
        let four = derived.iter().find(|e| e.logro == 4).cloned();
        let four = four.unwrap_or_else(|| unreachable!("no target for Logro 4"));
        assert!((four.coverage - 0.55).abs() < 1e-9, "{four:?}");
        assert_eq!(four.from_districts, Some(2));
        // Its own target wins.
        targets.push(target("11", 2028, 0.8));
        let own = effective(&targets, &figures, central, 2026);
        assert_eq!(
            own.first().map(|e| (e.coverage, e.from_districts)),
            Some((0.8, None))
        );
        // The next year on or after the one asked.
        targets.push(target("11", 2027, 0.6));
        assert_eq!(
            effective(&targets, &figures, central, 2026)
                .first()
                .map(|e| e.year),
            Some(2027)
        );
        assert_eq!(
            effective(&targets, &figures, central, 2028)
                .first()
                .map(|e| e.year),
            Some(2028)
        );
    }

    #[test]
    fn a_rising_trend_reaches_a_target_a_flat_one_does_not() {
        let rising = [(day(2025, 1), 0.30), (day(2026, 1), 0.40)];
        assert_eq!(trend_reaches(&rising, 2028, 0.60), Some(true));
        assert_eq!(trend_reaches(&rising, 2028, 0.80), Some(false));
        let flat = [(day(2025, 1), 0.40), (day(2026, 1), 0.40)];
        assert_eq!(trend_reaches(&flat, 2030, 0.41), Some(false));
        assert_eq!(
            trend_reaches(&rising[..1], 2030, 0.1),
            None,
            "one measurement: no trend"
        );
    }
}
