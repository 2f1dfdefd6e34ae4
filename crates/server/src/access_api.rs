//! HTTP handlers of access management: referral reports (JSON, CSV, XLSX) and their life
//! cycle, counter-referrals (one event, a batch, a file), the funnel, personal routes and
//! delivery points. The work itself is in [`vamos_app::referrals`] and [`vamos_app::counter_referrals`], shared with the command line.
//!
//! Who sees what: an institution operator only its institution's referrals, in its territories,
//! with the person fields of its data-sharing agreement; a Mesa member every institution's in
//! its territories with its fixed identification fields; analysts everything. Every report and
//! every counter-referral batch is in the audit trail.

use crate::api::{audit, out_of_scope, parse_territory, purpose_or, visible_fields};
use crate::auth::{now, now_rfc3339, Principal};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use vamos_app::counter_referrals::{self as cr, Sender};
use vamos_app::referrals::{self as acc, summary_ids};
use vamos_domain::{Permission, Role, Scope, TerritoryCode};
use vamos_ingest::counter_referrals::{parse_json, EventInput, Located};
use vamos_store::referrals::ReferralFilter;

#[derive(Deserialize, Default)]
pub struct ReferralQuery {
    pub institution: Option<String>,
    pub territory: Option<String>,
    pub service: Option<String>,
    pub status: Option<String>,
    pub min_priority: Option<i64>,
    pub household: Option<i64>,
    pub limit: Option<i64>,
    pub offset: Option<i64>,
    pub format: Option<String>,
    pub purpose: Option<String>,
}

/// The institution whose referrals `p` may read or work: its own for an operator (another one
/// asked → 403), the one asked (or all) for others.
fn institution_of(p: &Principal, asked: Option<&str>) -> ApiResult<Option<String>> {
    let asked = asked
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_uppercase);
    if p.role == Role::Operador {
        let own = p.user.institution.clone().unwrap_or_default();
        if let Some(a) = asked {
            if a != own {
                return Err(ApiError::forbidden(format!(
                    "su cuenta es de {own}: no puede ver las referencias de {a}"
                )));
            }
        }
        return Ok(Some(own));
    }
    Ok(asked)
}

fn scope_ranges(p: &Principal) -> Option<Vec<(i64, i64)>> {
    match &p.scope {
        Scope::National => None,
        s => Some(s.district_ranges()),
    }
}

const STATUSES_HELP: &str =
    "estado inválido: emitida, recibida, contactada, atendida, rechazada, vencida, cerrada o abierta";

fn check_status(s: &Option<String>) -> ApiResult<()> {
    match s.as_deref() {
        None => Ok(()),
        Some(x) if x == "abierta" || vamos_store::referrals::STATUSES.contains(&x) => Ok(()),
        Some(_) => Err(ApiError::bad_request(STATUSES_HELP)),
    }
}

fn territory_opt(s: Option<&str>) -> ApiResult<Option<TerritoryCode>> {
    s.map(|t| parse_territory(Some(t))).transpose()
}

/// `GET /api/referrals`: the referral report (by priority), JSON or `format=csv|xlsx`.
pub async fn list_referrals(
    State(st): State<AppState>,
    p: Principal,
    Query(q): Query<ReferralQuery>,
) -> ApiResult<Response> {
    p.require(Permission::ReferralsRead)?;
    let institution = institution_of(&p, q.institution.as_deref())?;
    let territory = territory_opt(q.territory.as_deref())?;
    check_status(&q.status)?;
    let format = q.format.clone().unwrap_or_else(|| "json".into());
    if !["json", "csv", "xlsx"].contains(&format.as_str()) {
        return Err(ApiError::bad_request("formato inválido: json, csv o xlsx"));
    }
    let download = format != "json";
    let limit = match (download, q.limit) {
        (true, _) => None,
        (false, Some(l)) if !(1..=1000).contains(&l) => {
            return Err(ApiError::bad_request("limit debe estar entre 1 y 1000"))
        }
        (false, l) => Some(l.unwrap_or(100)),
    };
    if q.offset.is_some_and(|o| o < 0) {
        return Err(ApiError::bad_request("offset no puede ser negativo"));
    }
    let purpose = purpose_or(&q.purpose, "reporte de referencias")?;
    let catalogue = st.catalogue.clone();
    let (body, total, synthetic) = st
        .pool
        .run(move |s| {
            let fields = visible_fields(s, &p)?;
            let filter = ReferralFilter {
                institution: institution.clone(),
                territory: territory.map(acc::territory_ranges),
                scope: scope_ranges(&p),
                service: q.service.clone(),
                status: q.status.clone(),
                min_priority: q.min_priority,
                household_id: q.household,
                limit,
                offset: limit.and(q.offset),
                ..Default::default()
            };
            let total = vamos_store::referrals::referral_count(s.sql(), &filter)?;
            let rows = vamos_store::referrals::referrals(s.sql(), &filter)?;
            let ids: Vec<String> = rows.iter().map(|(r, _)| r.id.to_string()).collect();
            audit(
                s,
                Some(&p),
                "leer referencias",
                "referencias",
                &summary_ids(&ids),
                &purpose,
                &format!("ok: {} de {total}", ids.len()),
            )?;
            let synthetic = s.has_synthetic_data()?;
            let items: Vec<Value> = rows
                .into_iter()
                .map(|(r, person)| acc::report_row(&r, person, &fields, &catalogue))
                .collect();
            Ok((items, total, synthetic))
        })
        .await?;
    match format.as_str() {
        "csv" => Ok(download_response(
            acc::report_csv(&body)?,
            "text/csv; charset=utf-8",
            "referencias.csv",
        )),
        "xlsx" => Ok(download_response(
            acc::report_xlsx(
                &body,
                synthetic.then_some("DATOS SINTÉTICOS — no corresponden a personas reales"),
            )?,
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "referencias.xlsx",
        )),
        _ => Ok(Json(json!({
            "items": body,
            "total": total,
            "limit": limit,
            "offset": q.offset.unwrap_or(0),
            "synthetic": synthetic,
        }))
        .into_response()),
    }
}

fn download_response(bytes: Vec<u8>, content_type: &'static str, name: &str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        bytes,
    )
        .into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusChange {
    /// `recibida`, `contactada` or `rechazada` (`atendida` comes with a counter-referral).
    pub status: String,
    /// Required for `rechazada`.
    pub reason: Option<String>,
}

/// `POST /api/referrals/{id}/status`: acknowledge, mark contacted, or reject with a reason.
pub async fn change_status(
    State(st): State<AppState>,
    p: Principal,
    Path(id): Path<i64>,
    Json(b): Json<StatusChange>,
) -> ApiResult<Json<Value>> {
    p.require(Permission::ReferralsWork)?;
    if !["recibida", "contactada", "rechazada"].contains(&b.status.as_str()) {
        return Err(ApiError::bad_request(
            "estado inválido: recibida, contactada o rechazada (la atención se informa con una contra-referencia)",
        ));
    }
    if b.reason.as_deref().is_some_and(|r| r.chars().count() > 500) {
        return Err(ApiError::bad_request(
            "el motivo no puede superar 500 caracteres",
        ));
    }
    let out = st
        .pool
        .run(move |s| {
            let found = vamos_store::referrals::referral_by_id(s.sql(), id)?;
            let visible = found.as_ref().is_some_and(|r| {
                u16::try_from(r.district_code)
                    .ok()
                    .and_then(|d| vamos_domain::DistrictCode::from_number(d).ok())
                    .is_some_and(|d| p.scope.contains(d))
                    && (p.role != Role::Operador
                        || p.user.institution.as_deref() == Some(r.institution.as_str()))
            });
            if !visible {
                audit(
                    s,
                    Some(&p),
                    "cambiar estado de referencia",
                    "referencia",
                    &id.to_string(),
                    "gestión de acceso",
                    if found.is_some() {
                        "denegado: fuera de su ámbito o de su institución"
                    } else {
                        "no encontrado"
                    },
                )?;
                return Err(out_of_scope(found.is_some(), "referencia", id));
            }
            let r = vamos_store::referrals::transition(
                s.sql(),
                id,
                &b.status,
                b.reason.as_deref(),
                &p.actor(),
                &now_rfc3339(),
            )?;
            audit(
                s,
                Some(&p),
                "cambiar estado de referencia",
                "referencia",
                &id.to_string(),
                "gestión de acceso",
                &match &r {
                    Ok(x) => format!("ok: {}", x.status),
                    Err(why) => format!("rechazado: {why}"),
                },
            )?;
            let r =
                r.map_err(|why| ApiError::new(StatusCode::CONFLICT, "transicion_invalida", why))?;
            let events = vamos_store::referrals::referral_events(s.sql(), id)?;
            Ok(json!({"referral": r, "history": events}))
        })
        .await?;
    Ok(Json(out))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Acknowledge {
    /// Territory whose list was pulled (default: all of the caller's).
    pub territory: Option<String>,
    /// Institution (administrators and analysts; an operator acknowledges its own).
    pub institution: Option<String>,
}

/// `POST /api/referrals/acknowledge`: the institution has received its list — every `emitida`
/// referral of the territory becomes `recibida`.
pub async fn acknowledge(
    State(st): State<AppState>,
    p: Principal,
    Json(b): Json<Acknowledge>,
) -> ApiResult<Json<Value>> {
    p.require(Permission::ReferralsWork)?;
    let institution = institution_of(&p, b.institution.as_deref())?
        .ok_or_else(|| ApiError::bad_request("indique la institución"))?;
    let territory = territory_opt(b.territory.as_deref())?.unwrap_or(TerritoryCode::Nation);
    let out = st
        .pool
        .run(move |s| {
            // Inside both the territory asked and the caller's scope.
            let ranges: Vec<(i64, i64)> = intersect(&acc::territory_ranges(territory), &p.scope.district_ranges());
            let n = vamos_store::referrals::acknowledge_all(s.sql(), &institution, &ranges, &p.actor(), &now_rfc3339())?;
            audit(s, Some(&p), "acusar recibo de referencias", "referencias", &format!("{institution} {territory}"), "gestión de acceso", &format!("ok: {n} recibidas"))?;
            Ok(json!({"institution": institution, "territory": territory.to_string(), "acknowledged": n}))
        })
        .await?;
    Ok(Json(out))
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

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Generate {
    pub measurement: Option<i64>,
    pub territory: Option<String>,
}

/// `POST /api/referrals/generate`: referrals from a measurement (UTGS analysts).
pub async fn generate(
    State(st): State<AppState>,
    p: Principal,
    Json(b): Json<Generate>,
) -> ApiResult<Json<Value>> {
    p.require(Permission::ReferralsWork)?;
    if !p.role.is_national() {
        return Err(ApiError::forbidden(
            "generar referencias corresponde a la UTGS (analistas y administradores)",
        ));
    }
    let territory = territory_opt(b.territory.as_deref())?;
    let catalogue = st.catalogue.clone();
    let out = st
        .pool
        .run(move |s| {
            let Some((m, _)) = s.measurement(b.measurement)? else {
                return Err(ApiError::not_found(match b.measurement {
                    Some(id) => format!("no existe la medición {id}"),
                    None => "todavía no hay mediciones".into(),
                }));
            };
            let measured = TerritoryCode::parse(&m.territory).map_err(ApiError::internal)?;
            if territory.is_some_and(|t| !acc::territory_within(t, measured)) {
                return Err(ApiError::bad_request(format!(
                    "el territorio no está dentro del medido ({measured})"
                )));
            }
            if m.catalogue_version != catalogue.version {
                return Err(ApiError::new(
                    StatusCode::CONFLICT,
                    "catalogo_distinto",
                    format!(
                        "la medición {} se hizo con otro catálogo; clasifique de nuevo",
                        m.id
                    ),
                ));
            }
            let r = acc::generate(
                s,
                &catalogue,
                Some(m.id),
                territory,
                now().date_naive(),
                &now_rfc3339(),
                &p.actor(),
            )?;
            audit(
                s,
                Some(&p),
                "generar referencias",
                "medición",
                &m.id.to_string(),
                "gestión de acceso",
                &format!(
                    "ok: {} nuevas, {} cerradas, {} vencidas",
                    r.outcome.created, r.outcome.closed, r.outcome.expired
                ),
            )?;
            serde_json::to_value(&r).map_err(ApiError::internal)
        })
        .await?;
    Ok(Json(out))
}

#[derive(Deserialize, Default)]
pub struct FunnelQuery {
    pub institution: Option<String>,
    pub territory: Option<String>,
    pub service: Option<String>,
}

/// `GET /api/referrals/funnel`: referred → received → contacted → served, rejected, expired;
/// days to service; served without referral. Aggregates only.
pub async fn funnel(
    State(st): State<AppState>,
    p: Principal,
    Query(q): Query<FunnelQuery>,
) -> ApiResult<Json<Value>> {
    p.require(Permission::LogrosRead)?;
    let institution = institution_of(&p, q.institution.as_deref())?;
    let territory = territory_opt(q.territory.as_deref())?;
    let out = st
        .pool
        .run(move |s| {
            let rows = vamos_store::referrals::funnel(
                s.sql(),
                &ReferralFilter {
                    institution,
                    territory: territory.map(acc::territory_ranges),
                    scope: scope_ranges(&p),
                    service: q.service.clone(),
                    ..Default::default()
                },
            )?;
            let mut total = vamos_store::referrals::FunnelRow::default();
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
            Ok(json!({"rows": rows, "total": {"referred": total.referred, "received": total.received, "contacted": total.contacted, "served": total.served, "rejected": total.rejected, "expired": total.expired, "closed": total.closed, "open": total.open, "served_without_referral": total.served_without_referral}}))
        })
        .await?;
    Ok(Json(out))
}

fn sender(p: &Principal, channel: &str) -> Sender {
    Sender {
        actor: p.actor(),
        // Administrators may load any institution's events; everyone else only their own.
        institution: if p.role == Role::Administrador {
            None
        } else {
            Some(p.user.institution.clone().unwrap_or_default())
        },
        scope: p.scope.clone(),
        channel: channel.to_string(),
    }
}

async fn ingest(
    st: &AppState,
    p: Principal,
    events: Vec<Located>,
    channel: &'static str,
) -> ApiResult<cr::IngestSummary> {
    p.require(Permission::CounterReferralsWrite)?;
    if p.role != Role::Administrador && p.user.institution.is_none() {
        return Err(ApiError::forbidden(
            "su cuenta no pertenece a una institución",
        ));
    }
    if events.len() > cr::MAX_EVENTS {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "demasiados_eventos",
            format!("a lo sumo {} eventos por envío", cr::MAX_EVENTS),
        ));
    }
    // Checked in parallel on the pool (reads only); stored by the single writer, which
    // groups concurrent submissions into one durable commit (see `crate::intake`).
    let catalogue = st.catalogue.clone();
    let codes = st.intake.codes();
    let who = sender(&p, channel);
    let places = st.places.get();
    let entry = crate::api::audit_entry(
        Some(&p),
        "recibir contra-referencias",
        "contra-referencias",
        "",
        channel,
        "",
    );
    enum Checking {
        /// Nothing to store (all rejected or already received).
        Done(cr::IngestSummary),
        ToStore(Box<(cr::Checked, vamos_store::AuditEntry)>),
    }
    let checking = st
        .pool
        .run(move |s| {
            let mut checked = cr::check(
                s,
                &catalogue,
                &codes,
                events,
                &who,
                now().date_naive(),
                places.as_deref(),
            )?;
            if checked.fresh_len() > 0 {
                checked.encode_for_log();
                return Ok(Checking::ToStore(Box::new((checked, entry))));
            }
            // Only the audit record to write.
            let sum = cr::finish(checked, &[]);
            crate::pool::write_audit(
                s,
                vamos_app::counter_referrals::intake::complete_audit(entry, &sum),
            )?;
            Ok(Checking::Done(sum))
        })
        .await?;
    let summary = match checking {
        Checking::Done(sum) => sum,
        Checking::ToStore(pending) => {
            let (checked, entry) = *pending;
            st.intake.submit(checked, entry).await?
        }
    };
    if summary.accepted > 0 {
        st.access_wake.notify_one();
    }
    Ok(summary)
}

/// `POST /api/counter-referrals`: one event. 201 accepted, 200 already received (idempotent),
/// 422 rejected with the reasons.
pub async fn post_one(
    State(st): State<AppState>,
    p: Principal,
    Json(e): Json<EventInput>,
) -> ApiResult<Response> {
    let events = vec![Located {
        file: "solicitud".into(),
        row: 1,
        event: e,
    }];
    let sum = ingest(&st, p, events, "api").await?;
    let status = if sum.accepted == 1 {
        StatusCode::CREATED
    } else if sum.duplicates == 1 {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let result = sum.results.first().cloned();
    Ok((
        status,
        Json(json!({"result": result, "errors": sum.errors})),
    )
        .into_response())
}

/// `POST /api/counter-referrals/batch`: a JSON list of events (or `{"events": [...]}`); the
/// valid ones are committed together, each invalid one is reported.
pub async fn post_batch(
    State(st): State<AppState>,
    p: Principal,
    body: Bytes,
) -> ApiResult<Json<cr::IngestSummary>> {
    let events = parse_json("lote", &body).map_err(|e| ApiError::bad_request(e.to_string()))?;
    Ok(Json(ingest(&st, p, events, "lote").await?))
}

/// `POST /api/counter-referrals/file`: a CSV (any encoding, `,` or `;`) or XLSX file as the
/// body (`Content-Type: text/csv` or the XLSX type).
pub async fn post_file(
    State(st): State<AppState>,
    p: Principal,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<cr::IngestSummary>> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let ext = if ct.contains("spreadsheetml") {
        "xlsx"
    } else if ct.contains("json") {
        "json"
    } else {
        "csv"
    };
    let dir = tempfile::tempdir().map_err(ApiError::internal)?;
    let path = dir.path().join(format!("contrarreferencias.{ext}"));
    std::fs::write(&path, &body).map_err(ApiError::internal)?;
    let events = tokio::task::spawn_blocking(move || vamos_ingest::counter_referrals::read(&path))
        .await
        .map_err(ApiError::internal)?
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    Ok(Json(ingest(&st, p, events, "archivo").await?))
}

#[derive(Deserialize, Default)]
pub struct PurposeQuery {
    pub purpose: Option<String>,
}

/// `GET /api/persons/{id}/route`: the personal service route.
pub async fn person_route(
    State(st): State<AppState>,
    p: Principal,
    Path(id): Path<i64>,
    Query(q): Query<PurposeQuery>,
) -> ApiResult<Json<Value>> {
    p.require(Permission::StatusRead)?;
    let purpose = purpose_or(&q.purpose, "orientación: ruta de servicios")?;
    let catalogue = st.catalogue.clone();
    let out = st
        .pool
        .run(move |s| {
            let located = s.locate(vamos_store::UnitKind::Person, id)?;
            let district =
                located.and_then(|(_, d)| vamos_domain::DistrictCode::from_number(d).ok());
            let allowed = district.is_some_and(|d| p.scope.contains(d));
            let outcome = match (located, allowed) {
                (None, _) => "no encontrado",
                (Some(_), false) => "denegado: fuera de su ámbito territorial",
                _ => "ok",
            };
            audit(
                s,
                Some(&p),
                "ruta de servicios",
                "persona",
                &located
                    .map(|(i, _)| i.to_string())
                    .unwrap_or_else(|| id.to_string()),
                &purpose,
                outcome,
            )?;
            let (Some((pid, _)), Some(d), true) = (located, district, allowed) else {
                return Err(out_of_scope(located.is_some(), "persona", id));
            };
            let today = now().date_naive();
            let (as_of, until) = match s.measurement(None)? {
                Some((m, _)) => (
                    chrono::NaiveDate::parse_from_str(&m.as_of, "%Y-%m-%d")
                        .map_err(ApiError::internal)?,
                    vamos_app::measurements::figures_until(&m)?,
                ),
                None => (today, today),
            };
            Ok(acc::person_route(s, &catalogue, pid, d, as_of, until)?)
        })
        .await?;
    Ok(Json(out))
}

#[derive(Deserialize, Default)]
pub struct PointsQuery {
    pub district: Option<String>,
}

/// `GET /api/delivery-points`: where services are delivered (all, or those serving a district).
pub async fn delivery_points(
    State(st): State<AppState>,
    p: Principal,
    Query(q): Query<PointsQuery>,
) -> ApiResult<Json<Value>> {
    p.require(Permission::CatalogueRead)?;
    let district = match q.district.as_deref() {
        None => None,
        Some(d) => match TerritoryCode::parse(d) {
            Ok(TerritoryCode::District(x)) => Some(x.to_string()),
            _ => {
                return Err(ApiError::bad_request(
                    "district debe ser un código de distrito DDdd",
                ))
            }
        },
    };
    let out = st
        .pool
        .run(move |s| {
            let items = match district {
                Some(d) => vamos_store::delivery_points::delivery_points_for(s.sql(), &d)?,
                None => vamos_store::delivery_points::delivery_points_all(s.sql())?,
            };
            Ok(json!({"items": items}))
        })
        .await?;
    Ok(Json(out))
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
