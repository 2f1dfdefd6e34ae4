//! Working the referrals: the lists institutions, Mesas and the UTGS work from (JSON, CSV,
//! XLSX), the life cycle (acknowledge a list, mark contacted, reject with a reason), generating
//! referrals from a measurement, and the funnel. Shared by the JSON API, the inbox page and the
//! command line.
//!
//! Who sees what: an institution operator only its institution's referrals, in its territories,
//! with the person fields of its data-sharing agreement; a Mesa member every institution's in
//! its territories with its fixed identification fields; analysts everything. Every list and
//! every change is in the audit trail.

use super::{
    filter_text, referral_set_subject, report_csv, report_row, report_xlsx, territory_ranges,
    territory_within,
};
use crate::registry::{agreed_fields, out_of_scope, parse_territory, purpose_or, visible_fields};
use crate::{Actor, Error, ErrorKind, Result};
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use vamos_catalogue::Catalogue;
use vamos_domain::limits::Limit;
use vamos_domain::{
    DistrictCode, HouseholdId, Permission, ReferralId, ReferralStatus, Role, Scope, TerritoryCode,
};
use vamos_store::referrals::{FunnelRow, ReferralFilter, ReportRow};
use vamos_store::Store;

/// A request for a list of referrals.
#[derive(Debug, Clone, Deserialize, Default)]
pub struct ReferralQuery {
    pub institution: Option<String>,
    pub territory: Option<String>,
    pub service: Option<String>,
    pub status: Option<String>,
    pub min_priority: Option<i64>,
    pub household: Option<HouseholdId>,
    pub limit: Option<i64>,
    pub offset: Option<i64>,
    /// `json` (default), `csv` or `xlsx` (a download: every row, no paging).
    pub format: Option<String>,
    pub purpose: Option<String>,
    /// `prioridad` (default) or `privacion`: the household's deprivation score first
    /// ([`by_deprivation`]).
    pub order: Option<String>,
}

/// Whether a list asked to be ordered by deprivation (`orden=privacion`), refused to a caller
/// who may not know poverty: the order itself would tell who is poorest.
pub fn by_deprivation(order: Option<&str>, fields: &Option<BTreeSet<String>>) -> Result<bool> {
    match order {
        None | Some("prioridad") => Ok(false),
        Some("privacion") if super::may_know_deprivation(fields) => Ok(true),
        Some("privacion") => Err(Error::forbidden(format!(
            "ordenar por privaciones muestra quién es más pobre y en qué: lo que usted puede ver \
             (su rol o el acuerdo de intercambio de su institución) debe incluir la pobreza y \
             las respuestas que la deciden ({})",
            crate::ipm_method::fields_read()
                .map(|f| f.join(", "))
                .unwrap_or_default()
        ))),
        Some(_) => Err(Error::bad_request("orden inválido: prioridad o privacion")),
    }
}

/// The format of a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListFormat {
    Json,
    Csv,
    Xlsx,
}

/// A list of referrals as the caller may see it.
#[derive(Debug, Clone)]
pub struct Listing {
    pub format: ListFormat,
    pub items: Vec<Value>,
    pub total: u64,
    pub limit: Option<i64>,
    pub offset: i64,
    pub synthetic: bool,
    /// Whether the caller may order by deprivation and see the scores ([`by_deprivation`]).
    pub deprivation_visible: bool,
}

impl Listing {
    /// The JSON body of a page.
    pub fn json(&self) -> Value {
        json!({
            "items": self.items,
            "total": self.total,
            "limit": self.limit,
            "offset": self.offset,
            "synthetic": self.synthetic,
        })
    }
    /// The download, with its content type and file name (`None` for JSON).
    pub fn download(&self) -> Result<Option<(Vec<u8>, &'static str, &'static str)>> {
        Ok(match self.format {
            ListFormat::Json => None,
            ListFormat::Csv => Some((
                report_csv(&self.items)?,
                "text/csv; charset=utf-8",
                "referencias.csv",
            )),
            ListFormat::Xlsx => Some((
                report_xlsx(
                    &self.items,
                    self.synthetic
                        .then_some("DATOS SINTÉTICOS — no corresponden a personas reales"),
                )?,
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                "referencias.xlsx",
            )),
        })
    }
}

/// The institution whose referrals `actor` may read or work: its own for an operator (another
/// one asked → refused), the one asked (or all) for others.
fn institution_of(actor: &Actor, asked: Option<&str>) -> Result<Option<String>> {
    let asked = asked
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_uppercase);
    if actor.role == Some(Role::Operador) {
        let own = actor.institution.clone().unwrap_or_default();
        if let Some(a) = asked {
            if a != own {
                return Err(Error::forbidden(format!(
                    "su cuenta es de {own}: no puede ver las referencias de {a}"
                )));
            }
        }
        return Ok(Some(own));
    }
    Ok(asked)
}

fn scope_ranges(actor: &Actor) -> Option<Vec<(i64, i64)>> {
    match &actor.scope {
        Scope::National => None,
        s => Some(s.district_ranges()),
    }
}

const STATUSES_HELP: &str =
    "estado inválido: emitida, recibida, contactada, atendida, rechazada, vencida, cerrada o abierta";

fn check_status(s: &Option<String>) -> Result<()> {
    match s.as_deref() {
        None => Ok(()),
        Some(x) if x == "abierta" || ReferralStatus::parse(x).is_some() => Ok(()),
        Some(_) => Err(Error::bad_request(STATUSES_HELP)),
    }
}

/// An optional territory given by a caller.
pub fn territory_opt(s: Option<&str>) -> Result<Option<TerritoryCode>> {
    s.map(|t| parse_territory(Some(t))).transpose()
}

/// The referrals the caller may see, filtered; an audited read.
pub fn list(
    store: &mut dyn Store,
    actor: &Actor,
    catalogue: &Catalogue,
    q: &ReferralQuery,
) -> Result<Listing> {
    actor.require(Permission::ReferralsRead)?;
    let institution = institution_of(actor, q.institution.as_deref())?;
    let territory = territory_opt(q.territory.as_deref())?;
    check_status(&q.status)?;
    let format = match q.format.as_deref().unwrap_or("json") {
        "json" => ListFormat::Json,
        "csv" => ListFormat::Csv,
        "xlsx" => ListFormat::Xlsx,
        _ => return Err(Error::bad_request("formato inválido: json, csv o xlsx")),
    };
    let limit = match (format != ListFormat::Json, q.limit) {
        (true, _) => None,
        (false, Some(l)) if !(1..=1000).contains(&l) => {
            return Err(Error::bad_request("limit debe estar entre 1 y 1000"))
        }
        (false, l) => Some(l.unwrap_or(100)),
    };
    if q.offset.is_some_and(|o| o < 0) {
        return Err(Error::bad_request("offset no puede ser negativo"));
    }
    let purpose = purpose_or(&q.purpose, "reporte de referencias")?;
    let fields = visible_fields(store, actor)?;
    let by_deprivation = by_deprivation(q.order.as_deref(), &fields)?;
    let filter = ReferralFilter {
        institution,
        territory: territory.map(territory_ranges),
        scope: scope_ranges(actor),
        service: q.service.clone(),
        status: q.status.clone(),
        min_priority: q.min_priority,
        household_id: q.household,
        visible_populations: super::visible_populations(&fields),
        by_deprivation,
        limit,
        offset: limit.and(q.offset),
        ..Default::default()
    };
    let total = vamos_store::referrals::referral_count(&mut store.db(), &filter)?;
    let rows = vamos_store::referrals::referrals(&mut store.db(), &filter)?;
    // Every referral handed out is accounted for: count and digest of all their ids, and the
    // filter asked (issue 35, item 10).
    let ids: Vec<ReferralId> = rows.iter().map(|(r, _)| r.id).collect();
    let asked = filter_text(&[
        ("institucion", filter.institution.clone()),
        ("territorio", q.territory.clone()),
        ("servicio", q.service.clone()),
        ("estado", q.status.clone()),
        ("prioridad_minima", q.min_priority.map(|p| p.to_string())),
        ("hogar", q.household.map(|h| h.to_string())),
        ("limite", limit.map(|l| l.to_string())),
        ("desde", limit.and(q.offset).map(|o| o.to_string())),
        ("formato", q.format.clone()),
        ("orden", q.order.clone()),
    ]);
    actor.audit(
        store,
        "leer referencias",
        "referencias",
        &referral_set_subject(&ids),
        &purpose,
        &format!("ok: {} de {total}; filtro: {asked}", ids.len()),
    )?;
    let synthetic = store.has_synthetic_data()?;
    let items = rows
        .into_iter()
        .map(|(r, person)| report_row(&r, person, &fields, catalogue))
        .collect();
    Ok(Listing {
        format,
        items,
        total,
        limit,
        offset: q.offset.unwrap_or(0),
        synthetic,
        deprivation_visible: super::may_know_deprivation(&fields),
    })
}

/// An institution's referral report as the command line exports it (`vamos referrals export`).
#[derive(Debug, Clone, Default)]
pub struct InstitutionReport {
    pub institution: String,
    pub territory: Option<TerritoryCode>,
    pub service: Option<String>,
    pub status: Option<String>,
    pub min_priority: Option<i64>,
    /// Highest deprivation score first ([`by_deprivation`]).
    pub by_deprivation: bool,
    /// Why (kept in the audit record).
    pub purpose: String,
}

/// The rows of an institution's report and the person fields they may carry.
#[derive(Debug, Clone)]
pub struct InstitutionRows {
    /// Each referral with its person's row.
    pub rows: Vec<ReportRow>,
    /// The person fields of the institution's data-sharing agreements in force (`id` always);
    /// `None`: it has none in force, so no personal data go out.
    pub agreed: Option<BTreeSet<String>>,
}

/// The referrals of an institution, with the person fields its agreements in force on `today`
/// allow; the export is audited. An operator exports only its own institution's, within its
/// territories.
pub fn institution_report(
    store: &mut dyn Store,
    actor: &Actor,
    r: &InstitutionReport,
    today: chrono::NaiveDate,
) -> Result<InstitutionRows> {
    actor.require(Permission::ReferralsRead)?;
    let institution = institution_of(actor, Some(&r.institution))?;
    let agreed = agreed_fields(store, &r.institution, &today.to_string())?;
    // Without an agreement in force the report carries no personal data (only ids).
    let seen = Some(
        agreed
            .clone()
            .unwrap_or_else(|| BTreeSet::from(["id".to_string()])),
    );
    let by_deprivation = by_deprivation(r.by_deprivation.then_some("privacion"), &seen)?;
    let filter = ReferralFilter {
        institution,
        territory: r.territory.map(territory_ranges),
        scope: scope_ranges(actor),
        service: r.service.clone(),
        status: r.status.clone(),
        min_priority: r.min_priority,
        visible_populations: super::visible_populations(&seen),
        by_deprivation,
        ..Default::default()
    };
    let rows = vamos_store::referrals::referrals(&mut store.db(), &filter)?;
    let ids: Vec<ReferralId> = rows.iter().map(|(x, _)| x.id).collect();
    let asked = filter_text(&[
        ("institucion", filter.institution.clone()),
        ("territorio", r.territory.map(|t| t.to_string())),
        ("servicio", r.service.clone()),
        ("estado", r.status.clone()),
        ("prioridad_minima", r.min_priority.map(|p| p.to_string())),
        ("orden", r.by_deprivation.then(|| "privacion".to_string())),
    ]);
    actor.audit(
        store,
        "exportar referencias",
        "referencias",
        &referral_set_subject(&ids),
        &r.purpose,
        &format!(
            "ok: {} referencias de {}; filtro: {asked}",
            rows.len(),
            r.institution
        ),
    )?;
    Ok(InstitutionRows { rows, agreed })
}

/// A change of a referral's status asked by an institution or the UTGS.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusChange {
    /// `recibida`, `contactada` or `rechazada` (`atendida` comes with a counter-referral).
    pub status: String,
    /// Required for `rechazada`.
    pub reason: Option<String>,
}

/// Acknowledges, marks contacted, or rejects (with a reason) referral `id`; returns the
/// referral and its history.
pub fn change_status(
    store: &mut dyn Store,
    actor: &Actor,
    id: ReferralId,
    b: &StatusChange,
) -> Result<Value> {
    actor.require(Permission::ReferralsWork)?;
    let to = match ReferralStatus::parse(&b.status) {
        Some(
            s @ (ReferralStatus::Recibida | ReferralStatus::Contactada | ReferralStatus::Rechazada),
        ) => s,
        _ => {
            return Err(Error::bad_request(
                "estado inválido: recibida, contactada o rechazada (la atención se informa con una contra-referencia)",
            ))
        }
    };
    // The reason is free text, kept with the referral and shown in every list and export.
    Limit::FreeText
        .check_opt(b.reason.as_deref())
        .map_err(|e| Error::bad_request(format!("motivo: {e}")))?;
    // What the answer may show of the referral; without any personal data (no agreement in
    // force), no population either.
    let fields = match visible_fields(store, actor) {
        Err(e) if e.kind == ErrorKind::Forbidden => Some(BTreeSet::from(["id".to_string()])),
        other => other?,
    };
    let found = vamos_store::referrals::referral_by_id(&mut store.db(), id)?;
    let visible = found.as_ref().is_some_and(|r| {
        DistrictCode::from_stored(r.district_code).is_some_and(|d| actor.scope.contains(d))
            && (actor.role != Some(Role::Operador)
                || actor.institution.as_deref() == Some(r.institution.as_str()))
    });
    let action = "cambiar estado de referencia";
    if !visible {
        actor.audit(
            store,
            action,
            "referencia",
            &id.to_string(),
            "gestión de acceso",
            if found.is_some() {
                "denegado: fuera de su ámbito o de su institución"
            } else {
                "no encontrado"
            },
        )?;
        return Err(out_of_scope(found.is_some(), "referencia", id.get()));
    }
    let r = vamos_store::referrals::transition(
        &mut store.db(),
        id,
        to,
        b.reason.as_deref(),
        &actor.name,
        &crate::clock::now_rfc3339(),
    )?;
    actor.audit(
        store,
        action,
        "referencia",
        &id.to_string(),
        "gestión de acceso",
        &match &r {
            Ok(x) => format!("ok: {}", x.status),
            Err(why) => format!("rechazado: {why}"),
        },
    )?;
    let r = r.map_err(|why| Error::new(ErrorKind::Conflict, "transicion_invalida", why))?;
    let events = vamos_store::referrals::referral_events(&mut store.db(), id)?;
    Ok(json!({"referral": super::referral_value(&r, &fields), "history": events}))
}

/// An institution's acknowledgement that it received its list.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Acknowledge {
    /// Territory whose list was pulled (default: all of the caller's).
    pub territory: Option<String>,
    /// Institution (administrators and analysts; an operator acknowledges its own).
    pub institution: Option<String>,
}

/// Every `emitida` referral of the institution in the territory (and the caller's scope)
/// becomes `recibida`.
pub fn acknowledge(store: &mut dyn Store, actor: &Actor, b: &Acknowledge) -> Result<Value> {
    actor.require(Permission::ReferralsWork)?;
    let institution = institution_of(actor, b.institution.as_deref())?
        .ok_or_else(|| Error::bad_request("indique la institución"))?;
    let territory = territory_opt(b.territory.as_deref())?.unwrap_or(TerritoryCode::Nation);
    // Inside both the territory asked and the caller's scope.
    let ranges = intersect(&territory_ranges(territory), &actor.scope.district_ranges());
    let n = vamos_store::referrals::acknowledge_all(
        &mut store.db(),
        &institution,
        &ranges,
        &actor.name,
        &crate::clock::now_rfc3339(),
    )?;
    actor.audit(
        store,
        "acusar recibo de referencias",
        "referencias",
        &format!("{institution} {territory}"),
        "gestión de acceso",
        &format!("ok: {n} recibidas"),
    )?;
    Ok(json!({"institution": institution, "territory": territory.to_string(), "acknowledged": n}))
}

/// The intersection of two lists of inclusive ranges.
fn intersect(a: &[(i64, i64)], b: &[(i64, i64)]) -> Vec<(i64, i64)> {
    let mut out = Vec::new();
    for (a0, a1) in a {
        for (b0, b1) in b {
            let (lo, hi) = ((*a0).max(*b0), (*a1).min(*b1));
            if lo <= hi {
                out.push((lo, hi));
            }
        }
    }
    out
}

/// A request to generate referrals.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Generate {
    pub measurement: Option<i64>,
    pub territory: Option<String>,
}

/// Referrals from a measurement (a task of the UTGS: analysts and administrators).
pub fn generate_for(
    store: &mut dyn Store,
    actor: &Actor,
    catalogue: &Catalogue,
    b: &Generate,
) -> Result<Value> {
    actor.require(Permission::ReferralsWork)?;
    if !actor.role.is_some_and(|r| r.is_national()) {
        return Err(Error::forbidden(
            "generar referencias corresponde a la UTGS (analistas y administradores)",
        ));
    }
    let territory = territory_opt(b.territory.as_deref())?;
    let Some((m, _)) = store.measurement(b.measurement)? else {
        return Err(Error::not_found(match b.measurement {
            Some(id) => format!("no existe la medición {id}"),
            None => "todavía no hay mediciones".into(),
        }));
    };
    let measured = TerritoryCode::parse(&m.territory).map_err(Error::internal)?;
    if territory.is_some_and(|t| !territory_within(t, measured)) {
        return Err(Error::bad_request(format!(
            "el territorio no está dentro del medido ({measured})"
        )));
    }
    if m.catalogue_version != catalogue.version {
        return Err(Error::new(
            ErrorKind::Conflict,
            "catalogo_distinto",
            format!(
                "la medición {} se hizo con otro catálogo; clasifique de nuevo",
                m.id
            ),
        ));
    }
    let r = super::generate(
        store,
        catalogue,
        Some(m.id),
        territory,
        crate::clock::now().date_naive(),
        &crate::clock::now_rfc3339(),
        &actor.name,
    )?;
    actor.audit(
        store,
        "generar referencias",
        "medición",
        &m.id.to_string(),
        "gestión de acceso",
        &format!(
            "ok: {} nuevas, {} cerradas, {} vencidas",
            r.outcome.created, r.outcome.closed, r.outcome.expired
        ),
    )?;
    serde_json::to_value(&r).map_err(Error::internal)
}

/// A request for the funnel.
#[derive(Debug, Clone, Deserialize, Default)]
pub struct FunnelQuery {
    pub institution: Option<String>,
    pub territory: Option<String>,
    pub service: Option<String>,
}

/// The funnel's rows, per institution, service and district, as the caller may see them
/// (`vamos referrals funnel`; [`funnel`] adds their total).
pub fn funnel_rows(
    store: &mut dyn Store,
    actor: &Actor,
    q: &FunnelQuery,
) -> Result<Vec<FunnelRow>> {
    actor.require(Permission::LogrosRead)?;
    let institution = institution_of(actor, q.institution.as_deref())?;
    let territory = territory_opt(q.territory.as_deref())?;
    Ok(vamos_store::referrals::funnel(
        &mut store.db(),
        &ReferralFilter {
            institution,
            territory: territory.map(territory_ranges),
            scope: scope_ranges(actor),
            service: q.service.clone(),
            ..Default::default()
        },
    )?)
}

/// The funnel's total alone, as [`funnel`]'s `total` (the same filter and scope), without the
/// rows: one pass over the referrals, what a report of a whole territory needs.
pub fn funnel_total(store: &mut dyn Store, actor: &Actor, q: &FunnelQuery) -> Result<Value> {
    actor.require(Permission::LogrosRead)?;
    let institution = institution_of(actor, q.institution.as_deref())?;
    let territory = territory_opt(q.territory.as_deref())?;
    let t = vamos_store::referrals::funnel_totals(
        &mut store.db(),
        &ReferralFilter {
            institution,
            territory: territory.map(territory_ranges),
            scope: scope_ranges(actor),
            service: q.service.clone(),
            ..Default::default()
        },
    )?;
    Ok(json!({
        "referred": t.referred, "received": t.received, "contacted": t.contacted,
        "served": t.served, "rejected": t.rejected, "expired": t.expired,
        "closed": t.closed, "open": t.open,
        "served_without_referral": t.served_without_referral,
    }))
}

/// Referred → received → contacted → served, rejected, expired; days to service; served
/// without referral — per institution, service and district, and their total. Aggregates only.
pub fn funnel(store: &mut dyn Store, actor: &Actor, q: &FunnelQuery) -> Result<Value> {
    let rows = funnel_rows(store, actor, q)?;
    let mut total = FunnelRow::default();
    for r in &rows {
        total.referred += r.referred;
        total.received += r.received;
        total.contacted += r.contacted;
        total.served += r.served;
        total.rejected += r.rejected;
        total.expired += r.expired;
        total.closed += r.closed;
        total.open += r.open;
        total.served_without_referral += r.served_without_referral;
    }
    Ok(json!({"rows": rows, "total": {
        "referred": total.referred, "received": total.received, "contacted": total.contacted,
        "served": total.served, "rejected": total.rejected, "expired": total.expired,
        "closed": total.closed, "open": total.open,
        "served_without_referral": total.served_without_referral,
    }}))
}

/// A person's service route at the latest measurement (or today, before any): the services of
/// their package in order, the missing ones with where to go, and their open referrals.
pub fn person_route_for(
    store: &mut dyn Store,
    actor: &Actor,
    catalogue: &vamos_catalogue::Catalogue,
    id: i64,
    purpose: &Option<String>,
) -> Result<Value> {
    actor.require(Permission::StatusRead)?;
    let purpose = purpose_or(purpose, "orientación: ruta de servicios")?;
    let fields = visible_fields(store, actor)?;
    let (pid, d) = crate::registry::locate_in_scope(
        store,
        actor,
        vamos_store::UnitKind::Person,
        id,
        "ruta de servicios",
        &purpose,
    )?;
    let today = crate::clock::now().date_naive();
    let (as_of, until) = match store.measurement(None)? {
        Some((m, _)) => (
            chrono::NaiveDate::parse_from_str(&m.as_of, "%Y-%m-%d").map_err(Error::internal)?,
            crate::measurements::figures_until(&m)?,
        ),
        None => (today, today),
    };
    let mut v = super::person_route(store, catalogue, pid, d, as_of, until)?;
    crate::registry::redact_route(&mut v, catalogue, &fields);
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_intersect() {
        assert_eq!(
            intersect(&[(0, i64::MAX)], &[(1116, 1116)]),
            vec![(1116, 1116)]
        );
        assert_eq!(intersect(&[(1100, 1199)], &[(607, 607)]), vec![]);
        assert_eq!(
            intersect(&[(1100, 1199)], &[(1116, 1116), (1101, 1101)]),
            vec![(1116, 1116), (1101, 1101)]
        );
    }
}
