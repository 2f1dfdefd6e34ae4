//! Signing in and out, and who the caller is: the session cookie (HttpOnly, SameSite=Strict)
//! with its CSRF token, shared with the web login form ([`sign_in`], [`sign_out`]); the checks,
//! the lock-out and the audit records are `vamos_app::accounts::sign_in` and `sign_out`; and an
//! account changing its own password ([`change_password`]), which ends its other sessions.

use crate::auth::{self, Credential, MaybePrincipal, Principal, SESSION_COOKIE};
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
use vamos_app::accounts::{LoginPolicy, SignIn};
use vamos_domain::{Permission, Role};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(login, session_info, logout))
        .routes(routes!(whoami))
        .routes(routes!(change_password))
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
        (status = 401, description = "Usuario o contraseña incorrectos, o cuenta bloqueada: la misma respuesta en los tres casos, para no revelar qué cuentas existen", body = crate::error::ErrorBody),
        (status = 429, description = "Demasiados intentos desde esta dirección", body = crate::error::ErrorBody),
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
    pub user: vamos_app::accounts::User,
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
    let policy = LoginPolicy {
        lockout_threshold: st.settings.lockout_threshold,
        session_hours: st.settings.session_hours,
    };
    let result = st
        .pool
        .run(move |s| {
            Ok(vamos_app::accounts::sign_in(
                s,
                &body.username,
                &body.password,
                rid,
                policy,
            )?)
        })
        .await?;
    let opened = match result {
        SignIn::Opened(o) => o,
        SignIn::Refused(e) => {
            crate::telemetry::login(false);
            return Err(e.into());
        }
    };
    crate::telemetry::login(true);
    Ok(SignedIn {
        user: opened.user,
        cookie: opened.cookie,
        csrf: opened.csrf,
        expires: opened.expires,
    })
}

/// The `Set-Cookie` value that ends the session in the browser.
pub const CLEAR_SESSION: &str = "vamos_sesion=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0";

/// Ends the session of the request's cookie (audited): shared by the API and the web.
pub async fn sign_out(st: &AppState, headers: &HeaderMap, p: Principal) -> ApiResult<()> {
    let cookie = auth::cookie(headers, SESSION_COOKIE);
    let username = p.user.username.clone();
    p.act(st, move |s, actor| {
        vamos_app::accounts::sign_out(s, actor, cookie.as_deref(), &username)
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

/// A change of one's own password: the current one, and the new one (the policy of
/// `vamos_app::accounts::check_password_policy`).
#[derive(Deserialize, ToSchema)]
pub struct PasswordChange {
    #[schema(max_length = 1024)]
    pub current_password: String,
    /// Al menos 12 caracteres, difícil de adivinar (zxcvbn ≥ 3), sin el nombre de usuario
    #[schema(max_length = 1024)]
    pub new_password: String,
}

/// What a change of password did.
#[derive(Serialize, ToSchema)]
pub struct PasswordChanged {
    /// Sesiones de la cuenta que se cerraron (todas menos la actual)
    pub sessions_ended: u64,
}

#[utoipa::path(post, path = "/api/session/password", tag = "sesión",
    summary = "Cambiar la propia contraseña (cierra las demás sesiones de la cuenta; la actual sigue)",
    request_body = PasswordChange,
    responses(
        (status = 200, description = "Correcto", body = PasswordChanged),
        (status = 400, description = "La nueva contraseña no cumple la política", body = crate::error::ErrorBody),
        (status = 403, description = "La contraseña actual no es correcta, o la credencial es un token", body = crate::error::ErrorBody),
    ),
    security(("session" = [])),
    extensions(("x-vamos-permission" = json!(null)), ("x-vamos-personal-data" = json!(false))))]
pub async fn change_password(
    State(st): State<AppState>,
    headers: HeaderMap,
    p: Principal,
    Json(body): Json<PasswordChange>,
) -> ApiResult<Json<PasswordChanged>> {
    // A token is an institution's system, not a person who knows the password.
    let (Credential::Session { .. }, Some(cookie)) =
        (&p.credential, auth::cookie(&headers, SESSION_COOKIE))
    else {
        return Err(ApiError::forbidden(
            "la contraseña se cambia desde una sesión iniciada con usuario y contraseña, no con un token",
        ));
    };
    if body.current_password.len() > 1024 || body.new_password.len() > 1024 {
        return Err(ApiError::bad_request("contraseña demasiado larga"));
    }
    let policy = LoginPolicy {
        lockout_threshold: st.settings.lockout_threshold,
        session_hours: st.settings.session_hours,
    };
    let username = p.user.username.clone();
    let sessions_ended = p
        .act(&st, move |s, actor| {
            vamos_app::accounts::change_own_password(
                s,
                actor,
                &username,
                &cookie,
                &body.current_password,
                &body.new_password,
                policy,
            )
        })
        .await?;
    Ok(Json(PasswordChanged { sessions_ended }))
}
