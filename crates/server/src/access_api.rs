//! HTTP handlers of access management: referral reports (JSON, CSV, XLSX) and their life
//! cycle, counter-referrals (one event, a batch, a file), the funnel, personal routes and
//! delivery points. The work itself is in [`vamos_app::referrals`] and [`vamos_app::counter_referrals`], shared with the command line.
//!
//! Who sees what: an institution operator only its institution's referrals, in its territories,
//! with the person fields of its data-sharing agreement; a Mesa member every institution's in
//! its territories with its fixed identification fields; analysts everything. Every report and
//! every counter-referral batch is in the audit trail.

use crate::api::{audit, out_of_scope, purpose_or};
use crate::auth::{now, Principal};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use vamos_app::counter_referrals::{self as cr};
use vamos_app::referrals::{self as acc, work};
use vamos_domain::{Permission, TerritoryCode};
use vamos_ingest::counter_referrals::{parse_json, EventInput, Located};

pub use vamos_app::referrals::work::{
    Acknowledge, FunnelQuery, Generate, ReferralQuery, StatusChange,
};

/// `GET /api/referrals`: the referrals the caller may see (JSON page, or a CSV/XLSX download).
pub async fn list_referrals(
    State(st): State<AppState>,
    p: Principal,
    Query(q): Query<ReferralQuery>,
) -> ApiResult<Response> {
    let actor = p.as_actor();
    let catalogue = st.catalogue.clone();
    let listing = st
        .pool
        .run(move |s| Ok(work::list(s, &actor, &catalogue, &q)?))
        .await?;
    Ok(match listing.download()? {
        Some((bytes, content_type, name)) => download_response(bytes, content_type, name),
        None => Json(listing.json()).into_response(),
    })
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

/// `POST /api/referrals/{id}/status`: acknowledge, mark contacted, or reject with a reason.
pub async fn change_status(
    State(st): State<AppState>,
    p: Principal,
    Path(id): Path<i64>,
    Json(b): Json<StatusChange>,
) -> ApiResult<Json<Value>> {
    let actor = p.as_actor();
    let out = st
        .pool
        .run(move |s| Ok(work::change_status(s, &actor, id, &b)?))
        .await?;
    Ok(Json(out))
}

/// `POST /api/referrals/acknowledge`: the institution has received its list — every `emitida`
/// referral of the territory becomes `recibida`.
pub async fn acknowledge(
    State(st): State<AppState>,
    p: Principal,
    Json(b): Json<Acknowledge>,
) -> ApiResult<Json<Value>> {
    let actor = p.as_actor();
    let out = st
        .pool
        .run(move |s| Ok(work::acknowledge(s, &actor, &b)?))
        .await?;
    Ok(Json(out))
}

/// `POST /api/referrals/generate`: referrals from a measurement (UTGS analysts).
pub async fn generate(
    State(st): State<AppState>,
    p: Principal,
    Json(b): Json<Generate>,
) -> ApiResult<Json<Value>> {
    let actor = p.as_actor();
    let catalogue = st.catalogue.clone();
    let out = st
        .pool
        .run(move |s| Ok(work::generate_for(s, &actor, &catalogue, &b)?))
        .await?;
    Ok(Json(out))
}

/// `GET /api/referrals/funnel`: referred → received → contacted → served, rejected, expired;
/// days to service; served without referral. Aggregates only.
pub async fn funnel(
    State(st): State<AppState>,
    p: Principal,
    Query(q): Query<FunnelQuery>,
) -> ApiResult<Json<Value>> {
    let actor = p.as_actor();
    let out = st
        .pool
        .run(move |s| Ok(work::funnel(s, &actor, &q)?))
        .await?;
    Ok(Json(out))
}

/// Checks and stores counter-referrals from `p` (the API's three routes and the inbox page):
/// checked in parallel on the pool (reads only), stored by the single writer, which groups
/// concurrent submissions into one durable commit (`vamos_app::counter_referrals::intake`).
pub(crate) async fn ingest(
    st: &AppState,
    p: Principal,
    events: Vec<Located>,
    channel: &'static str,
) -> ApiResult<cr::IngestSummary> {
    let actor = p.as_actor();
    let who = cr::sender_for(&actor, channel, events.len())?;
    let catalogue = st.catalogue.clone();
    let codes = st.intake.codes();
    let places = st.places.get();
    let entry = actor.audit_entry(
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
                return Err(out_of_scope(located.is_some(), "persona", id).into());
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
