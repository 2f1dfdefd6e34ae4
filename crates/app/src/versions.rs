//! The fast paths follow versions (issue 36): after a change writes new versions of some
//! households and persons, [`refresh`] brings the latest measurement's Logros and the
//! server's in-memory registry in line with them, as a counter-referral does for its events.
//!
//! Classification itself reads versions through `vamos_store::Reading` (see
//! `docs/design/versions.md`); this module only keeps what is held between classifications —
//! the stored figures being updated incrementally and the `Resident` copy — from going stale.

use std::collections::BTreeSet;

use chrono::NaiveDate;
use serde::Serialize;
use vamos_catalogue::Catalogue;
use vamos_domain::{DistrictCode, TerritoryCode};
use vamos_engine::logros::{apply_change, measure};
use vamos_engine::RegistryData;
use vamos_store::{Reading, Store};

use crate::counter_referrals::Resident;
use crate::measurements::FormVocabulary;

/// The units a change wrote versions of (every version they had before and after counts: a
/// household that moved touches both districts).
#[derive(Debug, Clone, Default)]
pub struct Touched {
    pub households: Vec<i64>,
    pub persons: Vec<i64>,
}

/// What [`refresh`] did.
#[derive(Debug, Clone, Serialize)]
pub struct RefreshReport {
    pub measurement: i64,
    /// The districts whose Logros were measured again (`DDdd`).
    pub districts: Vec<String>,
    /// Whether an in-memory copy was held (it is then read again by its owner).
    pub resident_dropped: bool,
}

/// Brings the latest measurement's Logros and the in-memory registry in line with change
/// request `change` (whose versions carry its id) that touched `touched`.
///
/// Each district any version of a touched unit lives in is measured twice at the
/// measurement's date, with the counter-referrals its figures count: as the registry knows it
/// without the change's versions and with them; the difference goes to the stored district
/// figures, like [`crate::counter_referrals::update_logros`] does for events (a person who died
/// or left leaves the figures, a household that moved leaves one district for the other). The
/// resident copy is dropped for its owner to read again, as after an import (it is read at the
/// measurement's date as known now, so the next reading holds the change). `at` is the time of
/// the update (the caller reads the clock). `None` when there is no measurement to keep up to
/// date or it was made with another catalogue.
pub fn refresh(
    store: &mut dyn Store,
    catalogue: &Catalogue,
    touched: &Touched,
    change: i64,
    at: &str,
    resident: &mut Option<Resident>,
) -> anyhow::Result<Option<RefreshReport>> {
    let resident_dropped = resident.take().is_some();
    // The Logros updater may save the same figures meanwhile (its counter-referral watermark
    // guards the write): read them again and retry, a few times.
    for _ in 0..3 {
        if let Some(r) = refresh_once(store, catalogue, touched, change, at, resident_dropped)? {
            return Ok(r);
        }
    }
    anyhow::bail!("las cifras de la medición cambiaron mientras se actualizaban: se cuentan en la próxima clasificación")
}

/// One attempt of [`refresh`]: `Ok(None)` when the stored figures changed while it measured.
fn refresh_once(
    store: &mut dyn Store,
    catalogue: &Catalogue,
    touched: &Touched,
    change: i64,
    at: &str,
    resident_dropped: bool,
) -> anyhow::Result<Option<Option<RefreshReport>>> {
    let Some((m, rows)) = store.measurement(None)? else {
        return Ok(Some(None));
    };
    if m.catalogue_version != catalogue.version {
        return Ok(Some(None));
    }
    let as_of = NaiveDate::parse_from_str(&m.as_of, "%Y-%m-%d")?;
    let measured = TerritoryCode::parse(&m.territory).map_err(|e| anyhow::anyhow!("{e}"))?;
    let districts: Vec<DistrictCode> = districts_of(store, touched)?
        .into_iter()
        .filter(|d| measured.contains(*d))
        .collect();
    let until = crate::measurements::figures_until(&m)?;
    let applied = m.counter_referrals_applied_through;
    let now_at = Reading::at(as_of);
    let before_at = now_at.clone().without_change(change);
    let mut stored = crate::counter_referrals::stored_logros(&rows);
    for d in &districts {
        let figures = |store: &mut dyn Store, reading: &Reading| -> anyhow::Result<_> {
            let mut data = RegistryData::new(&FormVocabulary);
            crate::counter_referrals::load_district(store, *d, reading, applied, &mut data)?;
            data.finish();
            let cls = crate::ipm_method::classifier(catalogue, &data, as_of)?
                .with_counter_referrals_until(until);
            Ok(measure(&cls, &data))
        };
        let before = figures(store, &before_at)?;
        let after = figures(store, &now_at)?;
        apply_change(&mut stored, &before, &after);
    }
    let out: Vec<(i64, String)> = stored
        .iter()
        .filter(|s| districts.contains(&s.district))
        .map(|s| {
            Ok((
                i64::from(s.district.get()),
                serde_json::to_string(&s.logros)?,
            ))
        })
        .collect::<anyhow::Result<_>>()?;
    if !vamos_store::counter_referrals::save_progress(
        &mut store.db(),
        m.id,
        applied,
        applied,
        &out,
        at,
    )? {
        return Ok(None);
    }
    Ok(Some(Some(RefreshReport {
        measurement: m.id,
        districts: districts.iter().map(ToString::to_string).collect(),
        resident_dropped,
    })))
}

/// Every district a version of a touched unit was in.
fn districts_of(
    store: &mut dyn Store,
    touched: &Touched,
) -> anyhow::Result<BTreeSet<DistrictCode>> {
    let mut db = store.db();
    let mut households: BTreeSet<i64> = touched.households.iter().copied().collect();
    for &p in &touched.persons {
        for (person, _) in vamos_store::versions::person_versions(&mut db, p)? {
            households.insert(person.household_id);
        }
    }
    let mut out = BTreeSet::new();
    for h in households {
        for (household, _) in vamos_store::versions::household_versions(&mut db, h)? {
            out.insert(household.district);
        }
    }
    Ok(out)
}
