//! Signing in and out, and who the caller is: the session cookie (HttpOnly, SameSite=Strict)
//! with its CSRF token, shared with the web login form ([`sign_in`], [`sign_out`]).

use super::audit;
use crate::auth::{
    self, now_rfc3339, verify_password, Credential, MaybePrincipal, Principal, SESSION_COOKIE,
};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use vamos_domain::{Permission, Role};
use vamos_store::accounts;
use vamos_store::AuditEntry;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(login, session_info, logout))
        .routes(routes!(whoami))
}

/// A username and password (also the web login form's fields).
#[derive(Deserialize, ToSchema)]
pub struct LoginBody {
    #[schema(max_length = 100)]
    pub username: String,
    #[schema(max_length = 1024)]
    pub password: String,
}

/// A session just opened (the cookie goes in `Set-Cookie`).
#[derive(Serialize, ToSchema)]
pub struct SessionOpened {
    pub username: String,
    pub display_name: String,
    /// Código del rol
    pub role: String,
    /// Envíelo en la cabecera X-CSRF-Token de las solicitudes que modifican
    pub csrf_token: String,
    pub expires_at: String,
}

/// An account as its credential lets it act: role, scope and permissions.
#[derive(Serialize, ToSchema)]
pub struct Account {
    pub username: String,
    pub display_name: String,
    pub role: &'static str,
    pub role_label: &'static str,
    pub institution: Option<String>,
    /// Códigos de territorio separados por comas; vacío = nacional
    pub territories: String,
    /// Los permisos de esta credencial (rol y, para un token, sus alcances)
    pub permissions: Vec<&'static str>,
    /// Solo con una sesión
    pub csrf_token: Option<String>,
}

impl From<&Principal> for Account {
    fn from(p: &Principal) -> Self {
        Account {
            username: p.user.username.clone(),
            display_name: p.user.display_name.clone(),
            role: p.role.code(),
            role_label: p.role.label(),
            institution: p.user.institution.clone(),
            territories: p.scope.to_stored(),
            permissions: Permission::ALL
                .iter()
                .filter(|x| p.can(**x))
                .map(|x| x.code())
                .collect(),
            csrf_token: match &p.credential {
                Credential::Session { csrf } => Some(csrf.clone()),
                _ => None,
            },
        }
    }
}

/// The public role: what a caller without credential may do.
#[derive(Serialize, ToSchema)]
pub struct Anonymous {
    pub role: &'static str,
    pub role_label: &'static str,
    pub permissions: Vec<&'static str>,
}

/// `GET /api/whoami`: an account, or the public role.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum Caller {
    Account(Account),
    Anonymous(Anonymous),
}

#[utoipa::path(post, path = "/api/session", tag = "sesión",
    summary = "Iniciar sesión (cookie de sesión HttpOnly, SameSite=Strict, y token CSRF)",
    request_body = LoginBody,
    responses(
        (status = 200, description = "Correcto", body = SessionOpened),
        (status = 401, description = "Usuario o contraseña incorrectos", body = crate::error::ErrorBody),
        (status = 429, description = "Demasiados intentos o cuenta bloqueada", body = crate::error::ErrorBody),
    ),
    extensions(("x-vamos-permission" = json!(null)), ("x-vamos-personal-data" = json!(false))))]
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
    let mut r = Json(SessionOpened {
        username: signed.user.username,
        display_name: signed.user.display_name,
        role: signed.user.role,
        csrf_token: signed.csrf,
        expires_at: signed.expires,
    })
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
    if st.login_limiter.check_key(&addr.ip()).is_err() {
        crate::telemetry::rate_limited();
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
    let result = st
        .pool
        .run(move |s| {
            let now = auth::now();
            let now_s = now_rfc3339();
            let user = accounts::user_by_name(&mut s.db(), &body.username)?;
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
            let phc = accounts::password_hash(&mut s.db(), user.id)?.unwrap_or_default();
            if !verify_password(&body.password, &phc) {
                // Back-off: from the threshold on, 1, 2, 4 … minutes (at most a day).
                let over = (user.failed_logins + 1 - settings.lockout_threshold).clamp(0, 11);
                let minutes = 1i64 << over;
                let until = (now + chrono::Duration::minutes(minutes.min(1440)))
                    .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
                accounts::record_failed_login(&mut s.db(), user.id, settings.lockout_threshold, &until)?;
                s.audit(&entry(&user.username, "rechazado: credenciales inválidas", Some(user.role.clone())))?;
                return Ok(Err(ApiError::new(StatusCode::UNAUTHORIZED, "credenciales_invalidas", "usuario o contraseña incorrectos")));
            }
            accounts::record_login(&mut s.db(), user.id)?;
            let cookie = auth::random_hex(32)?;
            let csrf = auth::random_hex(24)?;
            let expires = (now + chrono::Duration::hours(settings.session_hours))
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
            accounts::create_session(&mut s.db(), &vamos_store::audit::sha256_hex(&cookie), user.id, &csrf, &now_s, &expires)?;
            s.audit(&entry(&user.username, "ok", Some(user.role.clone())))?;
            Ok(Ok((user, cookie, csrf, expires)))
        })
        .await?;
    let (user, cookie, csrf, expires) = match result {
        Ok(v) => v,
        Err(e) => {
            crate::telemetry::login(false);
            return Err(e);
        }
    };
    crate::telemetry::login(true);
    Ok(SignedIn {
        user,
        cookie,
        csrf,
        expires,
    })
}

/// The `Set-Cookie` value that ends the session in the browser.
pub const CLEAR_SESSION: &str = "vamos_sesion=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0";

/// Ends the session of the request's cookie (audited): shared by the API and the web.
pub async fn sign_out(st: &AppState, headers: &HeaderMap, p: Principal) -> ApiResult<()> {
    let cookie = auth::cookie(headers, SESSION_COOKIE);
    st.pool
        .run(move |s| {
            if let Some(c) = cookie {
                accounts::delete_session(&mut s.db(), &vamos_store::audit::sha256_hex(&c))?;
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

#[utoipa::path(get, path = "/api/session", tag = "sesión",
    summary = "Cuenta, rol, permisos y token CSRF de la sesión actual",
    responses((status = 200, description = "Correcto", body = Account)),
    security(("bearer" = []), ("session" = [])),
    extensions(("x-vamos-permission" = json!(null)), ("x-vamos-personal-data" = json!(false))))]
pub async fn session_info(p: Principal) -> Json<Account> {
    Json(Account::from(&p))
}

#[utoipa::path(delete, path = "/api/session", tag = "sesión",
    summary = "Cerrar sesión",
    responses((status = 204, description = "Hecho, sin contenido")),
    security(("bearer" = []), ("session" = [])),
    extensions(("x-vamos-permission" = json!(null)), ("x-vamos-personal-data" = json!(false))))]
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

/// `GET /api/whoami`: the caller's account and permissions, or the public role.
#[utoipa::path(get, path = "/api/whoami", tag = "sesión",
    summary = "Quién es el llamador (público si no hay credencial)",
    responses((status = 200, description = "Correcto", body = Caller)),
    extensions(("x-vamos-permission" = json!(null)), ("x-vamos-personal-data" = json!(false))))]
pub async fn whoami(MaybePrincipal(p): MaybePrincipal) -> Json<Caller> {
    Json(match p {
        Some(p) => Caller::Account(Account::from(&p)),
        None => Caller::Anonymous(Anonymous {
            role: Role::Publico.code(),
            role_label: Role::Publico.label(),
            permissions: vec![Permission::CatalogueRead.code()],
        }),
    })
}
