//! The JSON REST API: session, registry (persons, households, communities, search), protection
//! status, measurements and Logros, catalogue, and administration (accounts, tokens,
//! agreements, audit trail).
//!
//! Every handler states the permission it needs; personal data is filtered by the caller's
//! territorial scope in SQL and by its field policy (role or data-sharing agreement) before it
//! is serialised, and every read of it is written to the audit chain in the same blocking call.

use crate::auth::{
    self, now_rfc3339, verify_password, Credential, MaybePrincipal, Principal, SESSION_COOKIE,
};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::net::SocketAddr;
use vamos_app::measurements as status;
use vamos_app::registry;
use vamos_domain::{Permission, Role};
use vamos_store::accounts::{self};
use vamos_store::audit::{self as chain, AuditQuery};
use vamos_store::views::{self};
use vamos_store::{AuditEntry, Store, UnitKind};

/// Writes one audit record for `p`.
pub fn audit(
    store: &mut dyn Store,
    p: Option<&Principal>,
    action: &str,
    subject_kind: &str,
    subject_id: &str,
    purpose: &str,
    outcome: &str,
) -> ApiResult<()> {
    Ok(crate::pool::write_audit(
        store,
        audit_entry(p, action, subject_kind, subject_id, purpose, outcome),
    )?)
}

/// The audit record of an action by `p` (`None`: anonymous), stamped now.
pub fn audit_entry(
    p: Option<&Principal>,
    action: &str,
    subject_kind: &str,
    subject_id: &str,
    purpose: &str,
    outcome: &str,
) -> AuditEntry {
    let actor = p
        .map(Principal::as_actor)
        .unwrap_or_else(|| vamos_app::Actor {
            name: "anónimo".into(),
            role: None,
            ..vamos_app::Actor::public()
        });
    actor.audit_entry(action, subject_kind, subject_id, purpose, outcome)
}

pub use vamos_app::registry::{filter_person, out_of_scope, parse_territory, purpose_or};

/// The person fields `p` may see (`None` = all), from its role or its institution's agreements
/// in force today.
pub fn visible_fields(store: &mut dyn Store, p: &Principal) -> ApiResult<Option<BTreeSet<String>>> {
    Ok(registry::visible_fields(store, &p.as_actor())?)
}

// ---------------------------------------------------------------- service

pub async fn health() -> Json<Value> {
    Json(json!({"status": "ok", "version": env!("CARGO_PKG_VERSION")}))
}

pub async fn ready(State(st): State<AppState>) -> Response {
    match st
        .pool
        .run(|s| {
            if s.is_ready()? {
                Ok(())
            } else {
                Err(vamos_store::StoreError::NotInitialised.into())
            }
        })
        .await
    {
        Ok(()) => Json(json!({
            "status": "ready",
            "backend": st.settings.db.split(':').next(),
            // The Logros updater's registry in memory: ready, loading or none.
            "resident_registry": {
                "state": if st.settings.resident_registry { st.resident.state() } else { "off" },
                "persons": st.resident.persons.load(std::sync::atomic::Ordering::Relaxed),
            },
            // Where every person lives, for counter-referral checks: ready, loading or none.
            "person_places": {
                "state": if st.settings.resident_registry { st.places.state() } else { "off" },
                "persons": st.places.persons(),
            },
            // The counter-referral writer: acknowledged events waiting in the intake log, the
            // fingerprints of received events and of referrals (ready or loading).
            "counter_referral_intake": {
                "pending": st.intake.status.pending.load(std::sync::atomic::Ordering::Relaxed),
                "known": {
                    "state": if st.intake.status.known_ready.load(std::sync::atomic::Ordering::Relaxed) { "ready" } else { "loading" },
                    "events": st.intake.status.known.load(std::sync::atomic::Ordering::Relaxed),
                },
                // The referrals an event may answer (unit, service), held to skip the lookup
                // of those never made: ready or loading.
                "referrals": {
                    "state": if st.intake.status.referrals_ready.load(std::sync::atomic::Ordering::Relaxed) { "ready" } else { "loading" },
                    "pairs": st.intake.status.referral_pairs.load(std::sync::atomic::Ordering::Relaxed),
                },
            },
        }))
        .into_response(),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "not_ready", "error": {"code": e.code, "message": e.message}})),
        )
            .into_response(),
    }
}

pub async fn metrics(State(st): State<AppState>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        format!(
            "{}# HELP vamos_resident_registry_persons Personas del registro en memoria de los Logros (0: se leen de la base).\n# TYPE vamos_resident_registry_persons gauge\nvamos_resident_registry_persons {}\n# HELP vamos_person_places_persons Personas cuyo domicilio está en memoria para verificar contra-referencias (0: se buscan en la base).\n# TYPE vamos_person_places_persons gauge\nvamos_person_places_persons {}\n# HELP vamos_counter_referrals_pending Contra-referencias recibidas que esperan en el registro de entrada para aplicarse.\n# TYPE vamos_counter_referrals_pending gauge\nvamos_counter_referrals_pending {}\n",
            st.metrics.render(st.started.elapsed()),
            st.resident.persons.load(std::sync::atomic::Ordering::Relaxed),
            st.places.persons(),
            st.intake.status.pending.load(std::sync::atomic::Ordering::Relaxed)
        ),
    )
        .into_response()
}

// ---------------------------------------------------------------- session

#[derive(Deserialize)]
pub struct LoginBody {
    pub username: String,
    pub password: String,
}

fn principal_json(p: &Principal) -> Value {
    json!({
        "username": p.user.username,
        "display_name": p.user.display_name,
        "role": p.role.code(),
        "role_label": p.role.label(),
        "institution": p.user.institution,
        "territories": p.scope.to_stored(),
        "permissions": Permission::ALL.iter().filter(|x| p.can(**x)).map(|x| x.code()).collect::<Vec<_>>(),
        "csrf_token": match &p.credential { Credential::Session { csrf } => Some(csrf.clone()), _ => None },
    })
}

pub async fn login(
    State(st): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Json(body): Json<LoginBody>,
) -> ApiResult<Response> {
    let rid = headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let signed = sign_in(&st, addr, rid, body).await?;
    let mut r = Json(json!({
        "username": signed.user.username,
        "display_name": signed.user.display_name,
        "role": signed.user.role,
        "csrf_token": signed.csrf,
        "expires_at": signed.expires,
    }))
    .into_response();
    r.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&session_cookie(&st, &signed.cookie)).map_err(ApiError::internal)?,
    );
    Ok(r)
}

/// A new session: its account, the cookie's secret, the CSRF token and the expiry.
pub struct SignedIn {
    pub user: vamos_store::accounts::User,
    pub cookie: String,
    pub csrf: String,
    pub expires: String,
}

/// The `Set-Cookie` value of a new session.
pub fn session_cookie(st: &AppState, cookie: &str) -> String {
    format!(
        "{SESSION_COOKIE}={cookie}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{}",
        st.settings.session_hours * 3600,
        if st.settings.cookie_secure {
            "; Secure"
        } else {
            ""
        }
    )
}

/// Checks a username and password (rate limit per address, lock-out with back-off, audit of
/// every attempt) and opens a session: shared by the API and the web login form.
pub async fn sign_in(
    st: &AppState,
    addr: SocketAddr,
    rid: Option<String>,
    body: LoginBody,
) -> ApiResult<SignedIn> {
    if !st.login_limiter.allow(&addr.ip().to_string()) {
        st.metrics
            .rate_limited
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        return Err(ApiError::too_many(
            "demasiados intentos de inicio de sesión desde esta dirección; espere un minuto",
        ));
    }
    if body.username.len() > 100 || body.password.len() > 1024 {
        return Err(ApiError::bad_request(
            "usuario o contraseña demasiado largos",
        ));
    }
    let settings = st.settings.clone();
    let metrics = st.metrics.clone();
    let result = st
        .pool
        .run(move |s| {
            let now = auth::now();
            let now_s = now_rfc3339();
            let user = accounts::user_by_name(s.sql(), &body.username)?;
            let entry = |actor: &str, outcome: &str, role: Option<String>| AuditEntry {
                at: now_s.clone(),
                actor: actor.to_string(),
                action: "iniciar sesión".into(),
                subject_kind: "cuenta".into(),
                subject_id: actor.to_string(),
                purpose: "autenticación".into(),
                outcome: outcome.into(),
                role,
                institution: None,
                request_id: rid.clone(),
            };
            let Some(user) = user.filter(|u| u.active) else {
                // Same work as a real check, so timing does not reveal which names exist.
                let _ = verify_password(&body.password, "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$0Cgl5ZkS3ffKkZoV9U1ZrKVuF9TDsZUbOc5JXDFBuqI");
                s.audit(&entry(&body.username, "rechazado: credenciales inválidas", None))?;
                return Ok(Err(ApiError::new(StatusCode::UNAUTHORIZED, "credenciales_invalidas", "usuario o contraseña incorrectos")));
            };
            if let Some(until) = &user.locked_until {
                if until.as_str() > now_s.as_str() {
                    s.audit(&entry(&user.username, "rechazado: cuenta bloqueada", Some(user.role.clone())))?;
                    return Ok(Err(ApiError::new(
                        StatusCode::TOO_MANY_REQUESTS,
                        "cuenta_bloqueada",
                        format!("cuenta bloqueada temporalmente por intentos fallidos hasta {until}"),
                    )));
                }
            }
            let phc = accounts::password_hash(s.sql(), user.id)?.unwrap_or_default();
            if !verify_password(&body.password, &phc) {
                // Back-off: from the threshold on, 1, 2, 4 … minutes (at most a day).
                let over = (user.failed_logins + 1 - settings.lockout_threshold).clamp(0, 11);
                let minutes = 1i64 << over;
                let until = (now + chrono::Duration::minutes(minutes.min(1440)))
                    .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
                accounts::record_failed_login(s.sql(), user.id, settings.lockout_threshold, &until)?;
                s.audit(&entry(&user.username, "rechazado: credenciales inválidas", Some(user.role.clone())))?;
                return Ok(Err(ApiError::new(StatusCode::UNAUTHORIZED, "credenciales_invalidas", "usuario o contraseña incorrectos")));
            }
            accounts::record_login(s.sql(), user.id)?;
            let cookie = auth::random_hex(32)?;
            let csrf = auth::random_hex(24)?;
            let expires = (now + chrono::Duration::hours(settings.session_hours))
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
            accounts::create_session(s.sql(), &vamos_store::audit::sha256_hex(&cookie), user.id, &csrf, &now_s, &expires)?;
            s.audit(&entry(&user.username, "ok", Some(user.role.clone())))?;
            Ok(Ok((user, cookie, csrf, expires)))
        })
        .await?;
    let (user, cookie, csrf, expires) = match result {
        Ok(v) => v,
        Err(e) => {
            metrics
                .logins_failed
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            return Err(e);
        }
    };
    metrics
        .logins_ok
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    Ok(SignedIn {
        user,
        cookie,
        csrf,
        expires,
    })
}

pub async fn session_info(p: Principal) -> Json<Value> {
    Json(principal_json(&p))
}

pub async fn logout(
    State(st): State<AppState>,
    headers: HeaderMap,
    p: Principal,
) -> ApiResult<Response> {
    sign_out(&st, &headers, p).await?;
    let mut r = StatusCode::NO_CONTENT.into_response();
    r.headers_mut()
        .insert(header::SET_COOKIE, HeaderValue::from_static(CLEAR_SESSION));
    Ok(r)
}

/// The `Set-Cookie` value that ends the session in the browser.
pub const CLEAR_SESSION: &str = "vamos_sesion=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0";

/// Ends the session of the request's cookie (audited): shared by the API and the web.
pub async fn sign_out(st: &AppState, headers: &HeaderMap, p: Principal) -> ApiResult<()> {
    let cookie = auth::cookie(headers, SESSION_COOKIE);
    st.pool
        .run(move |s| {
            if let Some(c) = cookie {
                accounts::delete_session(s.sql(), &vamos_store::audit::sha256_hex(&c))?;
            }
            audit(
                s,
                Some(&p),
                "cerrar sesión",
                "cuenta",
                &p.user.username,
                "autenticación",
                "ok",
            )
        })
        .await
}

// ---------------------------------------------------------------- registry

pub use vamos_app::registry::{ListQuery, PersonSearch};

pub async fn search_persons(
    State(st): State<AppState>,
    p: Principal,
    Query(q): Query<PersonSearch>,
) -> ApiResult<Json<Value>> {
    let actor = p.as_actor();
    let page = st
        .pool
        .run(move |s| Ok(registry::search_persons(s, &actor, &q)?))
        .await?;
    Ok(Json(page.json()))
}

#[derive(Deserialize, Default)]
pub struct PurposeQuery {
    pub purpose: Option<String>,
}

pub async fn get_person(
    State(st): State<AppState>,
    p: Principal,
    Path(id): Path<i64>,
    Query(q): Query<PurposeQuery>,
) -> ApiResult<Json<Value>> {
    let actor = p.as_actor();
    let out = st
        .pool
        .run(move |s| Ok(registry::person(s, &actor, id, &q.purpose)?))
        .await?;
    Ok(Json(out))
}

pub async fn list_households(
    State(st): State<AppState>,
    p: Principal,
    Query(q): Query<ListQuery>,
) -> ApiResult<Json<Value>> {
    let actor = p.as_actor();
    let page = st
        .pool
        .run(move |s| Ok(registry::households(s, &actor, &q)?))
        .await?;
    Ok(Json(page.json()))
}

pub async fn get_household(
    State(st): State<AppState>,
    p: Principal,
    Path(id): Path<i64>,
    Query(q): Query<PurposeQuery>,
) -> ApiResult<Json<Value>> {
    let actor = p.as_actor();
    let out = st
        .pool
        .run(move |s| Ok(registry::household(s, &actor, id, &q.purpose)?))
        .await?;
    Ok(Json(out))
}

pub async fn list_communities(
    State(st): State<AppState>,
    p: Principal,
    Query(q): Query<ListQuery>,
) -> ApiResult<Json<Value>> {
    let actor = p.as_actor();
    let page = st
        .pool
        .run(move |s| Ok(registry::communities(s, &actor, &q)?))
        .await?;
    Ok(Json(page.json()))
}

pub async fn get_community(
    State(st): State<AppState>,
    p: Principal,
    Path(id): Path<i64>,
) -> ApiResult<Json<Value>> {
    let actor = p.as_actor();
    let out = st
        .pool
        .run(move |s| Ok(registry::community(s, &actor, id)?))
        .await?;
    Ok(Json(out))
}

#[derive(Deserialize, Default)]
pub struct StatusQuery {
    pub as_of: Option<String>,
    pub purpose: Option<String>,
}

async fn unit_status(
    st: AppState,
    p: Principal,
    kind: UnitKind,
    id: i64,
    q: StatusQuery,
) -> ApiResult<Json<Value>> {
    let actor = p.as_actor();
    let catalogue = st.catalogue.clone();
    let out = st
        .pool
        .run(move |s| {
            Ok(registry::unit_status(
                s,
                &actor,
                &catalogue,
                kind,
                id,
                q.as_of.as_deref(),
                &q.purpose,
            )?)
        })
        .await?;
    Ok(Json(out))
}

pub async fn person_status(
    State(st): State<AppState>,
    p: Principal,
    Path(id): Path<i64>,
    Query(q): Query<StatusQuery>,
) -> ApiResult<Json<Value>> {
    unit_status(st, p, UnitKind::Person, id, q).await
}
pub async fn household_status(
    State(st): State<AppState>,
    p: Principal,
    Path(id): Path<i64>,
    Query(q): Query<StatusQuery>,
) -> ApiResult<Json<Value>> {
    unit_status(st, p, UnitKind::Household, id, q).await
}
pub async fn community_status(
    State(st): State<AppState>,
    p: Principal,
    Path(id): Path<i64>,
    Query(q): Query<StatusQuery>,
) -> ApiResult<Json<Value>> {
    unit_status(st, p, UnitKind::Community, id, q).await
}

// ---------------------------------------------------------------- measurements, Logros, catalogue

pub async fn list_measurements(State(st): State<AppState>, p: Principal) -> ApiResult<Json<Value>> {
    p.require(Permission::LogrosRead)?;
    let rows = st.pool.run(|s| Ok(views::measurements(s.sql())?)).await?;
    Ok(Json(json!({"items": rows})))
}

pub async fn get_measurement(
    State(st): State<AppState>,
    p: Principal,
    Path(id): Path<i64>,
) -> ApiResult<Json<Value>> {
    p.require(Permission::LogrosRead)?;
    let m = st
        .pool
        .run(move |s| s.measurement(Some(id)).map_err(ApiError::from))
        .await?
        .ok_or_else(|| ApiError::not_found(format!("medición {id} no encontrada")))?;
    Ok(Json(json!({
        "id": m.0.id, "as_of": m.0.as_of, "catalogue_version": m.0.catalogue_version,
        "catalogue_label": m.0.catalogue_label, "territory": m.0.territory, "synthetic": m.0.synthetic,
        "created_at": m.0.created_at, "details": m.0.details, "districts": m.1.len(),
    })))
}

#[derive(Deserialize, Default)]
pub struct LogrosQuery {
    pub territory: Option<String>,
    pub measurement: Option<i64>,
}

pub async fn logros(
    State(st): State<AppState>,
    p: Principal,
    Query(q): Query<LogrosQuery>,
) -> ApiResult<Json<Value>> {
    p.require(Permission::LogrosRead)?;
    let t = parse_territory(q.territory.as_deref())?;
    let out = st
        .pool
        .run(move |s| {
            let Some((m, table)) = status::logros_of(s, q.measurement, t)? else {
                return Err(ApiError::not_found(
                    "no hay mediciones: ejecute «vamos classify»",
                ));
            };
            Ok(status::logros_json(&m, t, &table))
        })
        .await?;
    Ok(Json(out))
}

pub async fn catalogue(State(st): State<AppState>) -> Json<Value> {
    let c = &st.catalogue;
    Json(json!({
        "name": c.name, "label": c.label, "version": c.version, "illustrative": c.illustrative,
        "description": c.description,
        "institutions": c.institutions.iter().map(|i| json!({"code": i.code, "name": i.name})).collect::<Vec<_>>(),
        "services": c.services.iter().map(|s| json!({
            "code": s.code, "name": s.name, "institution": s.institution,
            "category": s.category.code(), "logro": s.category.logro(), "package": s.package.code(),
            "deadline_days": s.deadline_days,
            "evidence": s.evidence.iter().map(|e| e.description.clone()).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    }))
}

// ---------------------------------------------------------------- administration

pub use vamos_app::accounts::{
    create_agreement, create_token, create_user, AgreementBody, NewTokenBody, NewUserBody,
};

pub async fn list_users(State(st): State<AppState>, p: Principal) -> ApiResult<Json<Value>> {
    p.require(Permission::UsersAdmin)?;
    let users = st.pool.run(|s| Ok(accounts::users(s.sql())?)).await?;
    Ok(Json(json!({"items": users})))
}

pub async fn post_user(
    State(st): State<AppState>,
    p: Principal,
    Json(b): Json<NewUserBody>,
) -> ApiResult<Response> {
    p.require(Permission::UsersAdmin)?;
    let cat = st.catalogue.clone();
    let id = st
        .pool
        .run(move |s| Ok(create_user(s, &p.as_actor(), &cat, &b)?))
        .await?;
    Ok((StatusCode::CREATED, Json(json!({"id": id}))).into_response())
}

pub async fn list_tokens(State(st): State<AppState>, p: Principal) -> ApiResult<Json<Value>> {
    p.require(Permission::UsersAdmin)?;
    let t = st.pool.run(|s| Ok(accounts::tokens(s.sql())?)).await?;
    Ok(Json(json!({"items": t})))
}

pub async fn post_token(
    State(st): State<AppState>,
    p: Principal,
    Json(b): Json<NewTokenBody>,
) -> ApiResult<Response> {
    p.require(Permission::UsersAdmin)?;
    let (id, secret, expires) = st
        .pool
        .run(move |s| Ok(create_token(s, &p.as_actor(), &b)?))
        .await?;
    Ok((StatusCode::CREATED, Json(json!({"id": id, "token": secret, "expires_at": expires, "note": "guarde el token ahora: no se vuelve a mostrar"}))).into_response())
}

pub async fn delete_token(
    State(st): State<AppState>,
    p: Principal,
    Path(id): Path<i64>,
) -> ApiResult<StatusCode> {
    p.require(Permission::UsersAdmin)?;
    let done = st
        .pool
        .run(move |s| {
            let done = accounts::revoke_token(s.sql(), &id.to_string(), &now_rfc3339())?;
            audit(
                s,
                Some(&p),
                "revocar token de API",
                "token",
                &id.to_string(),
                "administración de tokens",
                if done { "ok" } else { "no encontrado" },
            )?;
            Ok(done)
        })
        .await?;
    st.tokens.clear();
    if done {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(format!(
            "token {id} no encontrado o ya revocado"
        )))
    }
}

pub async fn list_agreements(State(st): State<AppState>, p: Principal) -> ApiResult<Json<Value>> {
    p.require(Permission::UsersAdmin)?;
    let a = st
        .pool
        .run(|s| Ok(accounts::agreements(s.sql(), None, None)?))
        .await?;
    Ok(Json(json!({"items": a})))
}

pub async fn post_agreement(
    State(st): State<AppState>,
    p: Principal,
    Json(b): Json<AgreementBody>,
) -> ApiResult<Response> {
    p.require(Permission::UsersAdmin)?;
    let cat = st.catalogue.clone();
    let id = st
        .pool
        .run(move |s| Ok(create_agreement(s, &p.as_actor(), &cat, &b)?))
        .await?;
    Ok((StatusCode::CREATED, Json(json!({"id": id}))).into_response())
}

#[derive(Deserialize, Default)]
pub struct AuditListQuery {
    pub actor: Option<String>,
    pub subject: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub before: Option<i64>,
    pub limit: Option<i64>,
    pub format: Option<String>,
}

pub async fn list_audit(
    State(st): State<AppState>,
    p: Principal,
    Query(q): Query<AuditListQuery>,
) -> ApiResult<Response> {
    p.require(Permission::AuditRead)?;
    let csv = q.format.as_deref() == Some("csv");
    let rows = st
        .pool
        .run(move |s| {
            let rows = chain::list(
                s.sql(),
                &AuditQuery {
                    actor: q.actor.clone(),
                    subject_id: q.subject.clone(),
                    from: q.from.clone(),
                    to: q.to.clone(),
                    before: q.before,
                    limit: q.limit.unwrap_or(if csv { 100_000 } else { 100 }),
                },
            )?;
            audit(
                s,
                Some(&p),
                if csv {
                    "exportar auditoría"
                } else {
                    "leer auditoría"
                },
                "auditoría",
                "",
                "control de protección de datos",
                &format!("ok: {} registros", rows.len()),
            )?;
            Ok(rows)
        })
        .await?;
    if csv {
        return Ok((
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
                (
                    header::CONTENT_DISPOSITION,
                    "attachment; filename=\"auditoria.csv\"",
                ),
            ],
            audit_csv(&rows),
        )
            .into_response());
    }
    let next = if rows.len() as i64 >= 1 {
        rows.last().map(|r| r.id)
    } else {
        None
    };
    Ok(Json(json!({"items": rows, "next_before": next})).into_response())
}

pub use vamos_app::audit::audit_csv;

pub async fn verify_audit(State(st): State<AppState>, p: Principal) -> ApiResult<Json<Value>> {
    p.require(Permission::AuditRead)?;
    let v = st
        .pool
        .run(move |s| {
            let v = chain::verify(s.sql())?;
            audit(
                s,
                Some(&p),
                "verificar auditoría",
                "auditoría",
                "",
                "control de integridad",
                if v.broken.is_none() {
                    "ok: íntegra"
                } else {
                    "rota"
                },
            )?;
            Ok(v)
        })
        .await?;
    Ok(Json(json!({
        "intact": v.broken.is_none(),
        "rows": v.rows,
        "head": v.head,
        "first_broken": v.broken.as_ref().map(|(id, why)| json!({"id": id, "reason": why})),
    })))
}

/// `GET /api/whoami`: the caller's account and permissions, or the public role.
pub async fn whoami(MaybePrincipal(p): MaybePrincipal) -> Json<Value> {
    Json(match p {
        Some(p) => principal_json(&p),
        None => {
            json!({"role": Role::Publico.code(), "role_label": Role::Publico.label(), "permissions": [Permission::CatalogueRead.code()]})
        }
    })
}
