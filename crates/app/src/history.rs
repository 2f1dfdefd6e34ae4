//! A household's history (issue 36): every version of the household and of its members, with
//! when each became true (`valid_from`), when the registry learnt it (`recorded_at`), where it
//! came from (an import's file and row, or a change request) and what changed from the version
//! before. Read like the household itself: the permission to read the registry, within the
//! caller's territories (a household outside them answers exactly like one that does not
//! exist), only the person fields the caller's role or agreement allows — also in the diff —,
//! and one audit record per read. A community's history is the list of its surveys, read the
//! same way.

// reason: JSON objects built here are indexed by key (a missing key reads as null; writing
// one inserts it).
#![allow(clippy::indexing_slicing)]

use crate::registry::{may_see, purpose_or, visible_fields};
use crate::{Actor, Error, Result};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use vamos_domain::versions::{
    community_diff, household_diff, person_diff, FieldChange, VersionMeta,
};
use vamos_domain::{HouseholdId, Permission, Person};
use vamos_store::versions;
use vamos_store::Store;

fn provenance(
    m: &VersionMeta,
    p: &vamos_domain::Provenance,
    files: &BTreeMap<(i64, i64), String>,
) -> Value {
    match m.change_id {
        Some(c) => json!({ "change_id": c }),
        None => {
            let file = files.get(&(p.import_id, i64::from(p.file_no))).map(|f| {
                std::path::Path::new(f)
                    .file_name()
                    .map_or(f.clone(), |n| n.to_string_lossy().into_owned())
            });
            json!({ "import_id": p.import_id, "file": file, "row": p.row })
        }
    }
}

fn changes(list: Vec<FieldChange>, fields: &Option<BTreeSet<String>>) -> Value {
    Value::Array(
        list.into_iter()
            .filter(|c| may_see(fields, c.field))
            .map(|c| json!({ "field": c.label, "before": c.before, "after": c.after }))
            .collect(),
    )
}

fn version_json(m: &VersionMeta, prov: Value, diff: Value) -> Value {
    json!({
        "version": m.version,
        "valid_from": m.valid_from.map(|d| d.to_string()),
        "recorded_at": m.recorded_at,
        "status": m.status.as_str(),
        "status_label": m.status.label(),
        "provenance": prov,
        "changes": diff,
    })
}

/// Every version of household `id` and of every person ever in it.
pub fn household_history(
    store: &mut dyn Store,
    actor: &Actor,
    id: HouseholdId,
    purpose: &Option<String>,
) -> Result<Value> {
    actor.require(Permission::RegistryRead)?;
    let purpose = purpose_or(purpose, "consulta del historial de un hogar")?;
    let fields = visible_fields(store, actor)?;
    let hv = versions::household_versions(&mut store.db(), id.get())?;
    let in_scope = hv
        .last()
        .is_some_and(|(h, _)| actor.scope.contains(h.district));
    if !in_scope {
        let outcome = if hv.is_empty() {
            "no encontrado"
        } else {
            "denegado: fuera de su ámbito territorial"
        };
        actor.audit(
            store,
            "leer historial de hogar",
            "hogar",
            &id.to_string(),
            &purpose,
            outcome,
        )?;
        // Outside the caller's territories reads exactly like a household that does not exist.
        return Err(Error::not_found(format!("hogar {id} no encontrado")));
    }
    let pv = versions::member_versions(&mut store.db(), id.get())?;
    let imports: Vec<i64> = hv
        .iter()
        .map(|(h, _)| h.provenance.import_id)
        .chain(pv.iter().map(|(p, _)| p.provenance.import_id))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let files = versions::import_files(&mut store.db(), &imports)?;
    let address = may_see(&fields, "household_address");
    let mut out = Vec::with_capacity(hv.len());
    for (i, (h, m)) in hv.iter().enumerate() {
        let diff = match i.checked_sub(1).and_then(|j| hv.get(j)) {
            Some((prev, _)) => changes(household_diff(prev, h), &fields),
            None => Value::Array(Vec::new()),
        };
        let mut v = version_json(m, provenance(m, &h.provenance, &files), diff);
        v["interview_date"] = json!(h.interview_date.to_string());
        v["district_code"] = json!(h.district.get());
        v["community_id"] = json!(h.community_id);
        if address {
            v["address"] = json!(h.address);
        }
        out.push(v);
    }
    let mut by_person: BTreeMap<i64, Vec<(Person, VersionMeta)>> = BTreeMap::new();
    for (p, m) in pv {
        by_person.entry(p.id).or_default().push((p, m));
    }
    let mut members = Vec::with_capacity(by_person.len());
    for (pid, list) in &by_person {
        let mut vs = Vec::with_capacity(list.len());
        for (i, (p, m)) in list.iter().enumerate() {
            let diff = match i.checked_sub(1).and_then(|j| list.get(j)) {
                Some((prev, _)) => changes(person_diff(prev, p), &fields),
                None => Value::Array(Vec::new()),
            };
            vs.push(version_json(m, provenance(m, &p.provenance, &files), diff));
        }
        let mut person = json!({ "id": pid, "versions": vs });
        let last = list.last().map(|(p, _)| p);
        if let Some(p) = last {
            for (k, v) in [
                ("given_names", json!(p.given_names)),
                ("family_names", json!(p.family_names)),
                ("birth_date", json!(p.birth_date.to_string())),
                ("relationship", json!(p.relationship)),
            ] {
                if may_see(&fields, k) {
                    person[k] = v;
                }
            }
        }
        members.push(person);
    }
    actor.audit(
        store,
        "leer historial de hogar",
        "hogar",
        &format!(
            "{id} (miembros {})",
            if by_person.is_empty() {
                "ninguno".to_string()
            } else {
                by_person
                    .keys()
                    .map(i64::to_string)
                    .collect::<Vec<_>>()
                    .join(",")
            }
        ),
        &purpose,
        "ok",
    )?;
    Ok(json!({ "household_id": id.get(), "versions": out, "members": members }))
}

/// Every version of community `id`: its surveys, oldest first, each valid from its survey date
/// (the first one since always, as a classification reads it) and known since its import
/// finished, with its provenance and what changed from the survey before. A community's
/// answers are not personal data, but it is read like a household all the same: the permission
/// to read the registry, within the caller's territories (outside them it answers like a
/// community that does not exist), audited.
pub fn community_history(
    store: &mut dyn Store,
    actor: &Actor,
    id: i64,
    purpose: &Option<String>,
) -> Result<Value> {
    actor.require(Permission::RegistryRead)?;
    let purpose = purpose_or(purpose, "consulta del historial de una comunidad")?;
    let found = versions::community_versions(&mut store.db(), id)?;
    let Some((district, name, surveys)) = found.filter(|(d, _, _)| actor.scope.contains(*d)) else {
        actor.audit(
            store,
            "leer historial de comunidad",
            "comunidad",
            &id.to_string(),
            &purpose,
            "no encontrado o fuera de su ámbito territorial",
        )?;
        return Err(Error::not_found(format!("comunidad {id} no encontrada")));
    };
    let imports: Vec<i64> = surveys
        .iter()
        .map(|(s, _)| s.provenance.import_id)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let files = versions::import_files(&mut store.db(), &imports)?;
    let mut out = Vec::with_capacity(surveys.len());
    for (i, (s, known)) in surveys.iter().enumerate() {
        let diff = match i.checked_sub(1).and_then(|j| surveys.get(j)) {
            Some((prev, _)) => changes(community_diff(prev, s), &None),
            None => Value::Array(Vec::new()),
        };
        let meta = VersionMeta {
            version: i as i64 + 1,
            valid_from: (i > 0).then_some(s.survey_date),
            // A survey is read only once its import committed, which sets its finish.
            recorded_at: known.clone().unwrap_or_default(),
            status: vamos_domain::versions::UnitStatus::Activo,
            merged_into: None,
            change_id: None,
        };
        let mut v = version_json(&meta, provenance(&meta, &s.provenance, &files), diff);
        v["survey_date"] = json!(s.survey_date.to_string());
        v["submission_key"] = json!(s.submission_key);
        out.push(v);
    }
    actor.audit(
        store,
        "leer historial de comunidad",
        "comunidad",
        &id.to_string(),
        &purpose,
        "ok",
    )?;
    Ok(json!({
        "community_id": id,
        "name": name,
        "district_code": district.get(),
        "versions": out,
    }))
}
