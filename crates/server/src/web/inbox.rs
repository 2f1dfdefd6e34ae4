//! The referral inbox (`/bandeja`) for institution operators, Mesas and analysts: the referrals
//! of the account's institution in its territories, filtered by territory, service, status and
//! priority; acknowledge the list, mark a referral contacted, reject it with a reason, or record
//! the service delivered (a counter-referral); export the same list as CSV or XLSX; and the
//! funnel and timeliness of the institution.
//!
//! Every action goes through the same use cases as the JSON API (`vamos_app::referrals::work`,
//! and the API's counter-referral intake) acting as the signed-in account, so the permissions,
//! the scope, the agreed fields, the life-cycle rules and the audit are the API's.
//! Forms carry the session's CSRF token; a counter-referral recorded here has the event id
//! `web-<referral>`, so sending the form twice records it once.

use super::registry::text;
use super::Page;
use crate::api::counter_referrals;
use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::Form;
use minijinja::context;
use minijinja::value::Value as JValue;
use serde::Deserialize;
use serde_json::Value;
use vamos_app::referrals::work::{self, Acknowledge, FunnelQuery, ReferralQuery, StatusChange};
use vamos_domain::authz::Permission;
use vamos_ingest::counter_referrals::{EventInput, Located};

#[derive(Deserialize, Default, Clone)]
pub struct InboxQuery {
    pub territorio: Option<String>,
    pub servicio: Option<String>,
    pub estado: Option<String>,
    pub prioridad: Option<i64>,
    pub institucion: Option<String>,
    /// One household's referrals (a group's "see all").
    pub hogar: Option<i64>,
    pub pagina: Option<i64>,
    /// `privacion`: the households with most deprivations first.
    pub orden: Option<String>,
    /// The message id of what the last action did (shown once).
    pub hecho: Option<String>,
}

const PAGE: i64 = 50;

/// The statuses a list can be filtered by.
const STATUSES: [&str; 7] = [
    "abierta",
    "emitida",
    "recibida",
    "contactada",
    "atendida",
    "rechazada",
    "vencida",
];

fn opt(s: &Option<String>) -> Option<String> {
    s.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// The query string of the current filters (to come back to the same list after an action).
fn back_query(q: &InboxQuery) -> String {
    let mut parts = Vec::new();
    for (k, v) in [
        ("territorio", opt(&q.territorio)),
        ("servicio", opt(&q.servicio)),
        ("estado", opt(&q.estado)),
        ("institucion", opt(&q.institucion)),
        ("prioridad", q.prioridad.map(|p| p.to_string())),
        ("hogar", q.hogar.map(|h| h.to_string())),
        ("orden", opt(&q.orden)),
    ] {
        if let Some(v) = v {
            parts.push(format!("{k}={}", super::encode(&v)));
        }
    }
    parts.join("&")
}

/// The rows of a page grouped by the household (or community) they reach, in the order of each
/// group's first — highest-priority — referral: one visit can answer several referrals.
fn group(rows: &[JValue]) -> Vec<JValue> {
    let mut keys: Vec<(String, i64)> = Vec::new();
    let mut members: Vec<Vec<JValue>> = Vec::new();
    for r in rows {
        let attr = |k: &str| r.get_attr(k).ok().and_then(|v| i64::try_from(v).ok());
        let kind = r
            .get_attr("unit_kind")
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        let key = match (kind.as_str(), attr("household")) {
            ("comunidad", _) => ("comunidad".to_string(), attr("unit_id").unwrap_or(0)),
            (_, Some(h)) => ("hogar".to_string(), h),
            (k, None) => (k.to_string(), attr("unit_id").unwrap_or(0)),
        };
        match keys.iter().position(|x| *x == key) {
            Some(i) => {
                if let Some(m) = members.get_mut(i) {
                    m.push(r.clone());
                }
            }
            None => {
                keys.push(key);
                members.push(vec![r.clone()]);
            }
        }
    }
    keys.into_iter()
        .zip(members)
        .map(|((kind, id), rows)| context! { kind, id, count => rows.len(), rows })
        .collect()
}

/// `GET /bandeja`
#[allow(clippy::too_many_lines)] // reason: one pass over its input, not yet split into steps
pub async fn page(State(st): State<AppState>, page: Page, Query(q): Query<InboxQuery>) -> Response {
    let Some(p) = page.user.clone() else {
        return page.error(&ApiError::unauthorized());
    };
    if !p.can(Permission::ReferralsRead) {
        return page.error(&ApiError::forbidden(
            "su rol no recibe referencias: la bandeja es de las instituciones, las Mesas y la UTGS",
        ));
    }
    let status = opt(&q.estado).unwrap_or_else(|| "abierta".into());
    let offset = q.pagina.unwrap_or(0).max(0) * PAGE;
    let rq = ReferralQuery {
        institution: opt(&q.institucion),
        territory: opt(&q.territorio),
        service: opt(&q.servicio),
        status: Some(status.clone()).filter(|s| s != "todas"),
        min_priority: q.prioridad,
        household: q.hogar.map(vamos_domain::HouseholdId),
        limit: Some(PAGE),
        offset: Some(offset),
        format: Some("json".into()),
        purpose: Some("bandeja de referencias (aplicación web)".into()),
        order: opt(&q.orden),
    };
    let catalogue = st.catalogue.clone();
    let listed = p
        .act(&st, move |s, actor| work::list(s, actor, &catalogue, &rq))
        .await;
    let (v, deprivation_visible) = match listed {
        Ok(l) => (l.json(), l.deprivation_visible),
        Err(e) if e.status.is_client_error() && e.status.as_u16() != 401 => {
            return page.html_status(
                e.status,
                "bandeja.html",
                context! { message => e.message, statuses => STATUSES.to_vec(), filters => context! { estado => status, orden => opt(&q.orden) } },
            )
        }
        Err(e) => return page.error(&e),
    };
    let rows: Vec<JValue> = super::items(&v)
        .map(|r| {
            let person = r.get("person");
            let name = person.map(|p| {
                [text(p, "family_names"), text(p, "given_names")]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join(", ")
            });
            let st = text(r, "status").unwrap_or_default();
            context! {
                id => r.get("id").and_then(Value::as_i64),
                status => st.clone(),
                open => ["emitida", "recibida", "contactada", "vencida"].contains(&st.as_str()),
                priority => r.get("priority").and_then(Value::as_i64),
                band => text(r, "priority_band"),
                band_label => text(r, "priority_label"),
                why => r.get("priority_why").map(JValue::from_serialize),
                critical => r.get("critical").and_then(Value::as_bool),
                service => text(r, "service"),
                service_name => text(r, "service_name"),
                district => text(r, "district_name"),
                unit_kind => text(r, "unit_kind"),
                unit_id => r.get("unit_id").and_then(Value::as_i64),
                household => r.get("household_id").and_then(Value::as_i64),
                due => text(r, "due_on"),
                name => name.filter(|n| !n.is_empty()),
                cedula => person.and_then(|p| text(p, "national_id")),
                reason => text(r, "reason"),
                deprivation => r.get("deprivation_score").and_then(Value::as_f64).map(|x| vamos_domain::numbers::decimal_es(x * 100.0, 1)),
            }
        })
        .collect();
    let groups = group(&rows);
    let total = v.get("total").and_then(Value::as_i64).unwrap_or(0);
    let synthetic = v.get("synthetic").and_then(Value::as_bool).unwrap_or(false);
    // The funnel of the same institution, territory and service (aggregates).
    let funnel = if p.can(Permission::LogrosRead) {
        let fq = FunnelQuery {
            institution: opt(&q.institucion),
            territory: opt(&q.territorio),
            service: opt(&q.servicio),
        };
        let actor = p.as_actor();
        st.pool
            .run(move |s| Ok(work::funnel(s, &actor, &fq)?))
            .await
            .ok()
    } else {
        None
    };
    let funnel_rows: Vec<JValue> = funnel
        .as_ref()
        .and_then(|f| f.get("rows"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .take(40)
        .map(|f| {
            // Names, not codes: the service's and the district's.
            let code = f.get("service").and_then(Value::as_str).unwrap_or_default();
            let district = f
                .get("district_code")
                .and_then(Value::as_i64)
                .and_then(vamos_domain::DistrictCode::from_stored);
            context! {
                institution => text(f, "institution"),
                service => st.catalogue.services.iter().find(|s| s.code == code).map_or_else(|| code.to_string(), |s| s.name.clone()),
                district => district.map(|d| format!("{} ({d})", vamos_domain::Territory::official().name_of(vamos_domain::TerritoryCode::District(d)))),
                referred => f.get("referred").map(JValue::from_serialize),
                served => f.get("served").map(JValue::from_serialize),
                median_days => f.get("median_days").map(JValue::from_serialize),
                p90_days => f.get("p90_days").map(JValue::from_serialize),
            }
        })
        .collect();
    let catalogue = &st.catalogue;
    let institution = opt(&q.institucion).or_else(|| p.user.institution.clone());
    let services: Vec<JValue> = catalogue
        .services
        .iter()
        .filter(|s| institution.as_deref().is_none_or(|i| s.institution == i))
        .map(|s| context! { code => s.code.clone(), name => s.name.clone() })
        .collect();
    let back = back_query(&q);
    let export = |format: &str| {
        let mut qs = vec![format!("format={format}")];
        if let Some(i) = opt(&q.institucion) {
            qs.push(format!("institution={}", super::encode(&i)));
        }
        if let Some(t) = opt(&q.territorio) {
            qs.push(format!("territory={}", super::encode(&t)));
        }
        if let Some(s) = opt(&q.servicio) {
            qs.push(format!("service={}", super::encode(&s)));
        }
        if status != "todas" {
            qs.push(format!("status={}", super::encode(&status)));
        }
        if let Some(pr) = q.prioridad {
            qs.push(format!("min_priority={pr}"));
        }
        if let Some(o) = opt(&q.orden) {
            qs.push(format!("order={}", super::encode(&o)));
        }
        format!("/api/referrals?{}", qs.join("&"))
    };
    let pagina = q.pagina.unwrap_or(0).max(0);
    page.html(
        "bandeja.html",
        context! {
            rows,
            groups,
            household => q.hogar,
            total,
            synthetic,
            institution,
            can_work => p.can(Permission::ReferralsWork),
            can_serve => p.can(Permission::CounterReferralsWrite),
            filters => context! {
                territorio => opt(&q.territorio), servicio => opt(&q.servicio), estado => status.clone(),
                prioridad => q.prioridad, institucion => opt(&q.institucion), orden => opt(&q.orden),
            },
            statuses => STATUSES.to_vec(),
            services,
            deprivation_visible,
            back,
            done => q.hecho.clone().filter(|h| h.starts_with("inbox-done-")),
            export_csv => export("csv"),
            export_xlsx => export("xlsx"),
            funnel => funnel.as_ref().and_then(|f| f.get("total")).map(JValue::from_serialize),
            funnel_rows,
            today => crate::auth::now().date_naive().to_string(),
            page_no => pagina,
            prev => (pagina > 0).then(|| pagina - 1),
            next => (offset + PAGE < total).then_some(pagina + 1),
        },
    )
}

#[derive(Deserialize)]
pub struct ActionForm {
    pub csrf: String,
    /// `contactada`, `rechazada`, `atendida` or `recibo` (the whole list).
    pub accion: String,
    pub motivo: Option<String>,
    pub fecha: Option<String>,
    pub lugar: Option<String>,
    pub servicio: Option<String>,
    pub persona: Option<String>,
    pub territorio: Option<String>,
    pub institucion: Option<String>,
    /// The list's filters, to return to.
    pub volver: Option<String>,
}

/// `POST /bandeja/{id}` (and `POST /bandeja/0` with `accion=recibo` for the whole list).
pub async fn act(
    State(st): State<AppState>,
    page: Page,
    Path(id): Path<vamos_domain::ReferralId>,
    Form(f): Form<ActionForm>,
) -> Response {
    let Some(p) = page.user.clone() else {
        return page.error(&ApiError::unauthorized());
    };
    if p.csrf() != f.csrf {
        return page.error(&ApiError::forbidden(
            "el formulario venció o no es de esta sesión: vuelva a la bandeja e intente de nuevo",
        ));
    }
    // The list's query string, sent back after `/bandeja?`: a local path once prefixed.
    let back = f
        .volver
        .as_deref()
        .filter(|v| super::safe_return_path(&format!("/bandeja?{v}")).is_some())
        .unwrap_or("")
        .to_string();
    let outcome: Result<&'static str, ApiError> = match f.accion.as_str() {
        "recibo" => {
            let actor = p.as_actor();
            let b = Acknowledge {
                territory: opt(&f.territorio),
                institution: opt(&f.institucion),
            };
            st.pool
                .run(move |s| Ok(work::acknowledge(s, &actor, &b)?))
                .await
                .map(|_| "inbox-done-acknowledged")
        }
        "contactada" | "rechazada" => {
            let actor = p.as_actor();
            let b = StatusChange {
                status: f.accion.clone(),
                reason: opt(&f.motivo),
            };
            st.pool
                .run(move |s| Ok(work::change_status(s, &actor, id, &b)?))
                .await
        }
        .map(|_| {
            if f.accion == "contactada" {
                "inbox-done-contacted"
            } else {
                "inbox-done-rejected"
            }
        }),
        "atendida" => {
            let e = EventInput {
                event_id: Some(format!("web-{id}")),
                institution: None,
                person_id: opt(&f.persona),
                cedula: None,
                service: opt(&f.servicio),
                delivered_on: opt(&f.fecha),
                place: opt(&f.lugar),
                place_district: None,
            };
            let events = vec![Located {
                file: "solicitud".into(),
                row: 1,
                event: e,
            }];
            match counter_referrals::ingest(&st, p.clone(), events, "api").await {
                Ok(sum) if sum.accepted + sum.duplicates == 1 => Ok("inbox-done-served"),
                Ok(sum) => {
                    let reasons: Vec<String> =
                        sum.errors.iter().map(|e| e.reason.clone()).collect();
                    Err(ApiError::new(
                        axum::http::StatusCode::UNPROCESSABLE_ENTITY,
                        "contrarreferencia_rechazada",
                        format!("la atención no se registró: {}", reasons.join("; ")),
                    ))
                }
                Err(e) => Err(e),
            }
        }
        _ => Err(ApiError::bad_request("acción desconocida")),
    };
    match outcome {
        Ok(done) => super::redirect(&format!(
            "/bandeja?{}{}hecho={done}",
            back,
            if back.is_empty() { "" } else { "&" }
        )),
        Err(e) => page.error(&e),
    }
}
