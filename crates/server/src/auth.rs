//! Authentication and the caller's identity: argon2id passwords with a policy, session cookies
//! with CSRF tokens, API tokens (shown once, stored hashed, scoped, expiring, revocable), and
//! the [`Principal`] every handler receives — role, institution, territorial scope, and which
//! permissions this credential carries.

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, Method};
use vamos_app::accounts::User;
pub use vamos_app::accounts::{
    check_password_policy, hash_password, mint_token, random_hex, verify_password, MintedToken,
};
use vamos_app::audit::sha256_hex;
pub use vamos_app::clock::{now, now_rfc3339};
use vamos_domain::{Permission, Role, Scope};

/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "vamos_sesion";
/// Header carrying the CSRF token on unsafe requests made with a session cookie.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// How the caller proved who they are.
#[derive(Debug, Clone)]
pub enum Credential {
    Session { csrf: String },
    Token { id: i64, scopes: Vec<Permission> },
}

/// The authenticated caller.
#[derive(Debug, Clone)]
pub struct Principal {
    pub user: User,
    pub role: Role,
    pub scope: Scope,
    pub credential: Credential,
    pub request_id: Option<String>,
}

impl Principal {
    /// Whether this credential may use permission `p`: the role grants it and, for a token,
    /// the token's scopes include it.
    pub fn can(&self, p: Permission) -> bool {
        self.role.grants(p)
            && match &self.credential {
                Credential::Session { .. } => true,
                Credential::Token { scopes, .. } => p.within(scopes),
            }
    }

    /// `Ok` when [`Principal::can`], else 403 naming the permission.
    pub fn require(&self, p: Permission) -> ApiResult<()> {
        if self.can(p) {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!(
                "su rol ({}) o su token no permite {}",
                self.role.label(),
                p.label()
            )))
        }
    }

    /// The session's CSRF token (empty for other credentials).
    pub fn csrf(&self) -> &str {
        match &self.credential {
            Credential::Session { csrf } => csrf,
            _ => "",
        }
    }

    /// The actor as written in the audit trail.
    /// Runs a use case of `vamos_app` acting as this caller, on a connection of the server's
    /// pool: the one shape of a handler or page that reads or changes data for an account.
    pub async fn act<T, F>(&self, st: &AppState, f: F) -> ApiResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut dyn vamos_store::Store, &vamos_app::Actor) -> vamos_app::Result<T>
            + Send
            + 'static,
    {
        let actor = self.as_actor();
        st.pool.run(move |s| Ok(f(s, &actor)?)).await
    }

    /// The caller as the use cases of `vamos_app` take it.
    pub fn as_actor(&self) -> vamos_app::Actor {
        vamos_app::Actor {
            name: self.actor(),
            role: Some(self.role),
            institution: self.user.institution.clone(),
            scope: self.scope.clone(),
            request_id: self.request_id.clone(),
            scopes: match &self.credential {
                Credential::Session { .. } => None,
                Credential::Token { scopes, .. } => Some(scopes.clone()),
            },
            operator: false,
        }
    }

    pub fn actor(&self) -> String {
        match &self.credential {
            Credential::Session { .. } => self.user.username.clone(),
            Credential::Token { id, .. } => format!("{} (token {id})", self.user.username),
        }
    }
}

/// The principal from the request, or `None` for an anonymous request.
pub struct MaybePrincipal(pub Option<Principal>);

/// The value of cookie `name` in the request headers.
pub fn cookie(headers: &axum::http::HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

fn request_id(parts: &Parts) -> Option<String> {
    parts
        .headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

async fn authenticate(parts: &Parts, state: &AppState) -> ApiResult<Option<Principal>> {
    let rid = request_id(parts);
    let bearer = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(|v| v.trim().to_string());
    if let Some(token) = bearer {
        let prefix = token
            .strip_prefix("vamos_")
            .and_then(|t| t.split('_').next())
            .map(str::to_string)
            .ok_or_else(ApiError::unauthorized)?;
        let now = now_rfc3339();
        let digest = sha256_hex(&token);
        let found = match state.tokens.get(&digest) {
            Some((t, user)) if t.expires_at > now => Some((t, user)),
            _ => {
                let key = digest.clone();
                let found = state
                    .pool
                    .run(move |s| Ok(vamos_app::accounts::token_account(s, &prefix, &key, &now)?))
                    .await?;
                if let Some((t, user)) = &found {
                    state.tokens.put(digest, t.clone(), user.clone());
                }
                found
            }
        };
        let Some((t, user)) = found else {
            return Err(ApiError::unauthorized());
        };
        let scopes = t
            .scopes
            .iter()
            .filter_map(|s| Permission::parse(s))
            .collect();
        return principal(user, Credential::Token { id: t.id, scopes }, rid).map(Some);
    }
    let Some(p) = session(parts, state).await? else {
        return Ok(None);
    };
    // Unsafe methods made with a cookie must echo the session's CSRF token.
    if !matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS) {
        let sent = parts.headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok());
        if Some(p.csrf()) != sent {
            return Err(ApiError::forbidden(
                "falta o no coincide el token CSRF (cabecera X-CSRF-Token) de la sesión",
            ));
        }
    }
    Ok(Some(p))
}

/// The principal of the request's session cookie, if it names a live session (no CSRF check:
/// web forms carry the token in a field, checked by their handlers with [`Principal::csrf`]).
pub async fn session(parts: &Parts, state: &AppState) -> ApiResult<Option<Principal>> {
    let Some(c) = cookie(&parts.headers, SESSION_COOKIE) else {
        return Ok(None);
    };
    let now = now_rfc3339();
    let found = state
        .pool
        .run(move |s| Ok(vamos_app::accounts::session_of(s, &c, &now)?))
        .await?;
    let Some((user, csrf)) = found else {
        return Ok(None);
    };
    principal(user, Credential::Session { csrf }, request_id(parts)).map(Some)
}

/// [`authenticate`] plus the per-account API rate limit (for handlers that answer errors in
/// their own format, such as the DCI API).
pub async fn authenticate_limited(parts: &Parts, state: &AppState) -> ApiResult<Option<Principal>> {
    let Some(p) = authenticate(parts, state).await? else {
        return Ok(None);
    };
    limit(state, &p)?;
    Ok(Some(p))
}

/// The per-account API rate limit (the web pages of a signed-in account count too).
pub(crate) fn limit(state: &AppState, p: &Principal) -> ApiResult<()> {
    if state.api_limiter.check_key(&p.user.id).is_err() {
        crate::telemetry::rate_limited();
        return Err(ApiError::too_many(
            "demasiadas solicitudes de esta cuenta; espere un minuto",
        ));
    }
    Ok(())
}

fn principal(
    user: User,
    credential: Credential,
    request_id: Option<String>,
) -> ApiResult<Principal> {
    let role = Role::parse(&user.role)
        .ok_or_else(|| ApiError::internal(format!("rol desconocido «{}»", user.role)))?;
    let scope = if role.is_national() {
        Scope::National
    } else {
        Scope::from_stored(&user.territories).map_err(ApiError::internal)?
    };
    // An account stored with a scope its role may not hold (an operador reaching the whole
    // country, made before account creation refused it) acts nowhere rather than everywhere.
    if !role.admits_scope(&scope) {
        return Err(ApiError::forbidden(format!(
            "la cuenta «{}» ({}) no tiene territorios asignados: pida al administrador que la corrija",
            user.username,
            role.label()
        )));
    }
    Ok(Principal {
        user,
        role,
        scope,
        credential,
        request_id,
    })
}

impl FromRequestParts<AppState> for MaybePrincipal {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> ApiResult<Self> {
        Ok(MaybePrincipal(authenticate(parts, state).await?))
    }
}

impl FromRequestParts<AppState> for Principal {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> ApiResult<Self> {
        let p = authenticate(parts, state)
            .await?
            .ok_or_else(ApiError::unauthorized)?;
        limit(state, &p)?;
        Ok(p)
    }
}
