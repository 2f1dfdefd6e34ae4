//! Interinstitutional management agreements (issue 38, *acuerdos de gestión
//! interinstitucionales*, Modelo de Gestión §3.2.6) — distinct from the data-sharing agreements
//! of `accounts`: the parties (institutions), the territory and period, the functional and
//! operational commitments and the internal arrangements each institution takes on, and
//! **management targets taken from the shared targets** (a target the agreement adopts must be
//! set first, so both stay one figure). Its status — borrador, firmado, vigente, vencido —
//! follows its signature and period; its page follows each target against the measurements.
//! `planes:editar` edits, `planes:leer` reads; aggregates only, audited.

use crate::{Actor, Error, Result};
use chrono::NaiveDate;
use serde::Deserialize;
use serde_json::{json, Value as Json};
use vamos_catalogue::Catalogue;
use vamos_domain::{Permission, Territory, TerritoryCode};
use vamos_store::management_agreements::{self as sm, Agreement, Commitment, TargetRef};
use vamos_store::Store;

/// Commitment kinds and their labels.
pub const KINDS: [(&str, &str); 3] = [
    ("funcional", "acuerdo funcional"),
    ("operativo", "acuerdo operativo"),
    ("interno", "arreglo interno de la institución"),
];

/// An agreement as written by a planner (dates ISO or dd/mm/aaaa).
#[derive(Debug, Clone, Deserialize)]
pub struct AgreementInput {
    pub title: String,
    pub territory: String,
    pub parties: Vec<String>,
    pub period_from: String,
    pub period_to: String,
    #[serde(default)]
    pub signed_on: Option<String>,
    #[serde(default)]
    pub arrangements: String,
    #[serde(default)]
    pub commitments: Vec<Commitment>,
    #[serde(default)]
    pub targets: Vec<TargetRef>,
}

fn date(s: &str, what: &str) -> Result<NaiveDate> {
    crate::clock::parse_date(s, what)
}

/// The status of an agreement on `today`: `borrador` unsigned, then `firmado` before its period,
/// `vigente` within it, `vencido` after.
pub fn status(a: &Agreement, today: NaiveDate) -> &'static str {
    let from = NaiveDate::parse_from_str(&a.period_from, "%Y-%m-%d").unwrap_or(today);
    let to = NaiveDate::parse_from_str(&a.period_to, "%Y-%m-%d").unwrap_or(today);
    match &a.signed_on {
        None => "borrador",
        Some(_) if today < from => "firmado",
        Some(_) if today > to => "vencido",
        Some(_) => "vigente",
    }
}

/// Checks and stores an agreement (new when `id` is `None`), as `actor` (`planes:editar`, the
/// territory in its scope); its number.
#[allow(clippy::too_many_lines)] // reason: one rule per field
pub fn save(
    store: &mut dyn Store,
    actor: &Actor,
    catalogue: &Catalogue,
    id: Option<i64>,
    a: &AgreementInput,
) -> Result<i64> {
    actor.require(Permission::PlansEdit)?;
    let title = a.title.trim();
    if title.is_empty() || title.chars().count() > 200 {
        return Err(Error::bad_request(
            "el acuerdo necesita un título de 1 a 200 caracteres",
        ));
    }
    let t = crate::registry::parse_territory(Some(&a.territory))?;
    if !actor.scope.covers(t) {
        return Err(Error::forbidden(format!(
            "{} está fuera de su ámbito territorial",
            Territory::official().name_of(t)
        )));
    }
    let mut parties: Vec<String> = a
        .parties
        .iter()
        .map(|p| p.trim().to_string())
        .filter(|p| !p.is_empty())
        .collect();
    parties.sort();
    parties.dedup();
    if parties.len() < 2 {
        return Err(Error::bad_request(
            "un acuerdo interinstitucional tiene al menos dos instituciones",
        ));
    }
    if let Some(p) = parties
        .iter()
        .find(|p| !catalogue.institutions.iter().any(|i| &i.code == *p))
    {
        return Err(Error::bad_request(format!(
            "institución desconocida en el catálogo: «{}»",
            p.chars().take(40).collect::<String>()
        )));
    }
    let (from, to) = (
        date(&a.period_from, "inicio del período")?,
        date(&a.period_to, "fin del período")?,
    );
    if to < from {
        return Err(Error::bad_request("el período termina antes de empezar"));
    }
    let signed = match a
        .signed_on
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        Some(s) => {
            let d = date(s, "fecha de firma")?;
            if d > crate::clock::today() {
                return Err(Error::bad_request("la fecha de firma no puede ser futura"));
            }
            Some(d.to_string())
        }
        None => None,
    };
    if a.arrangements.chars().count() > 4000 || a.commitments.len() > 100 || a.targets.len() > 100 {
        return Err(Error::bad_request("acuerdo demasiado largo: a lo sumo 4000 caracteres de arreglos, 100 compromisos y 100 metas"));
    }
    for c in &a.commitments {
        if !KINDS.iter().any(|(k, _)| *k == c.kind) {
            return Err(Error::bad_request(format!(
                "tipo de compromiso desconocido «{}»: funcional, operativo o interno",
                c.kind.chars().take(20).collect::<String>()
            )));
        }
        if !parties.contains(&c.institution) {
            return Err(Error::bad_request(format!(
                "el compromiso es de «{}», que no es parte del acuerdo",
                c.institution.chars().take(40).collect::<String>()
            )));
        }
        if c.description.trim().is_empty() || c.description.chars().count() > 2000 {
            return Err(Error::bad_request(
                "cada compromiso dice en 1 a 2000 caracteres qué se compromete",
            ));
        }
    }
    let shared = vamos_store::targets::all(&mut store.db())?;
    let mut targets = Vec::new();
    for x in &a.targets {
        let tt = crate::registry::parse_territory(Some(&x.territory))?;
        if !crate::referrals::territory_within(tt, t) {
            return Err(Error::bad_request(format!(
                "la meta de {} está fuera del territorio del acuerdo",
                Territory::official().name_of(tt)
            )));
        }
        let code = tt.to_string();
        if !shared
            .iter()
            .any(|s| s.territory == code && s.logro == x.logro && s.year == x.year)
        {
            return Err(Error::bad_request(format!(
                "no hay meta compartida del Logro {} para {} en {}: defínala primero (vamos targets set); un acuerdo adopta metas compartidas, no otras",
                x.logro, Territory::official().name_of(tt), x.year
            )));
        }
        let r = TargetRef {
            territory: code,
            logro: x.logro,
            year: x.year,
        };
        if !targets.contains(&r) {
            targets.push(r);
        }
    }
    let now = crate::clock::now_rfc3339();
    let id = id.unwrap_or(0);
    if id != 0 {
        let before = sm::get(&mut store.db(), id)?
            .ok_or_else(|| Error::not_found(format!("no existe el acuerdo {id}")))?;
        let bt = crate::registry::parse_territory(Some(&before.territory))?;
        if !actor.scope.covers(bt) {
            return Err(Error::not_found(format!("no existe el acuerdo {id}")));
        }
    }
    let stored = sm::store(
        &mut store.db(),
        &Agreement {
            id,
            title: title.to_string(),
            territory: t.to_string(),
            parties,
            period_from: from.to_string(),
            period_to: to.to_string(),
            signed_on: signed,
            arrangements: a.arrangements.trim().to_string(),
            commitments: a
                .commitments
                .iter()
                .map(|c| Commitment {
                    kind: c.kind.clone(),
                    institution: c.institution.clone(),
                    description: c.description.trim().to_string(),
                })
                .collect(),
            targets,
            created_by: actor.name.clone(),
            created_at: now.clone(),
            updated_at: now,
        },
    )?;
    actor.audit(
        store,
        if id == 0 {
            "crear acuerdo de gestión"
        } else {
            "editar acuerdo de gestión"
        },
        "acuerdo de gestión",
        &stored.to_string(),
        "planificación",
        "ok",
    )?;
    Ok(stored)
}

fn header_json(a: &Agreement, today: NaiveDate) -> Json {
    let st = status(a, today);
    json!({
        "id": a.id, "title": a.title,
        "territory": TerritoryCode::parse(&a.territory).map_or_else(|_| json!({"code": a.territory}), crate::measurements::territory_json),
        "parties": a.parties, "period_from": a.period_from, "period_to": a.period_to,
        "period_label": format!("{} al {}", crate::clock::date_es(&a.period_from), crate::clock::date_es(&a.period_to)),
        "signed_on": a.signed_on, "status": st,
    })
}

/// The agreements of the territories `actor` reads (its scope), newest first.
pub fn list(store: &mut dyn Store, actor: &Actor) -> Result<Vec<Json>> {
    actor.require(Permission::PlansRead)?;
    let today = crate::clock::today();
    Ok(sm::list(&mut store.db())?
        .iter()
        .filter(|a| TerritoryCode::parse(&a.territory).is_ok_and(|t| actor.scope.covers(t)))
        .map(|a| header_json(a, today))
        .collect())
}

/// Agreement `id` whole, each management target with its coverage (from the shared targets)
/// and how it stands against the measurements ([`crate::targets::progress`]).
pub fn view(store: &mut dyn Store, actor: &Actor, catalogue: &Catalogue, id: i64) -> Result<Json> {
    actor.require(Permission::PlansRead)?;
    let missing = || Error::not_found(format!("no existe el acuerdo {id}"));
    let a = sm::get(&mut store.db(), id)?.ok_or_else(missing)?;
    let t = TerritoryCode::parse(&a.territory).map_err(|_| missing())?;
    if !actor.scope.covers(t) {
        return Err(missing());
    }
    let shared = vamos_store::targets::all(&mut store.db())?;
    let mut followed = Vec::new();
    let mut rows = Vec::new();
    for x in &a.targets {
        let coverage = shared
            .iter()
            .find(|s| s.territory == x.territory && s.logro == x.logro && s.year == x.year)
            .map(|s| s.coverage);
        let tt = TerritoryCode::parse(&x.territory).map_err(Error::internal)?;
        if let Some(c) = coverage {
            followed.push((tt, u8::try_from(x.logro).unwrap_or(0), x.year as i32, c));
        }
        rows.push((tt, x, coverage));
    }
    let mut progress = crate::targets::progress_all(store, actor, &followed)?.into_iter();
    let targets: Vec<Json> = rows
        .into_iter()
        .map(|(tt, x, coverage)| {
            let p = if coverage.is_some() { progress.next().flatten() } else { None };
            json!({
                "territory": crate::measurements::territory_json(tt), "logro": x.logro, "year": x.year,
                "coverage": coverage, "progress": p,
            })
        })
        .collect();
    let name = |code: &str| {
        catalogue
            .institutions
            .iter()
            .find(|i| i.code == code)
            .map_or_else(|| code.to_string(), |i| i.name.clone())
    };
    actor.audit(
        store,
        "consultar acuerdo de gestión",
        "acuerdo de gestión",
        &id.to_string(),
        "planificación",
        "ok",
    )?;
    let mut out = header_json(&a, crate::clock::today());
    if let Some(o) = out.as_object_mut() {
        o.insert(
            "party_names".into(),
            json!(a
                .parties
                .iter()
                .map(|p| json!({"code": p, "name": name(p)}))
                .collect::<Vec<_>>()),
        );
        o.insert("arrangements".into(), json!(a.arrangements));
        o.insert("commitments".into(), json!(a.commitments.iter().map(|c| json!({"kind": c.kind, "kind_label": KINDS.iter().find(|(k, _)| *k == c.kind).map(|(_, l)| *l), "institution": c.institution, "description": c.description})).collect::<Vec<_>>()));
        o.insert("targets".into(), json!(targets));
        o.insert("created_by".into(), json!(a.created_by));
        o.insert("updated_at".into(), json!(a.updated_at));
    }
    Ok(out)
}

/// Records agreement `id` as signed on `on` (dd/mm/aaaa or ISO), as `actor` (`planes:editar`);
/// everything else stays as it is.
pub fn sign(
    store: &mut dyn Store,
    actor: &Actor,
    catalogue: &Catalogue,
    id: i64,
    on: &str,
) -> Result<()> {
    actor.require(Permission::PlansEdit)?;
    if on.trim().is_empty() {
        return Err(Error::bad_request("indique la fecha de firma (dd/mm/aaaa)"));
    }
    let a = sm::get(&mut store.db(), id)?
        .ok_or_else(|| Error::not_found(format!("no existe el acuerdo {id}")))?;
    let input = AgreementInput {
        title: a.title,
        territory: a.territory,
        parties: a.parties,
        period_from: a.period_from,
        period_to: a.period_to,
        signed_on: Some(on.to_string()),
        arrangements: a.arrangements,
        commitments: a.commitments,
        targets: a.targets,
    };
    save(store, actor, catalogue, Some(id), &input).map(|_| ())
}
