//! Accounts, API tokens, data-sharing agreements and sessions: the password policy and argon2id
//! hashing; listing, creating and changing users, tokens and agreements — shared by the API and
//! `vamos user`, `vamos token`, `vamos agreement` —; signing in and out, and finding the account
//! behind a session cookie or an API token (the server's authentication); the account the
//! command line acts as. Each administrative change writes its audit record (a creation refused
//! or not), and every sign-in attempt too.

use crate::clock::now_rfc3339;
use crate::error::{Error, ErrorKind, Result};
use crate::Actor;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use serde::Deserialize;
use vamos_domain::{Permission, Role, Scope};
use vamos_store::accounts::{self, NewToken, NewUser};
use vamos_store::audit::sha256_hex;
use vamos_store::{AuditEntry, Store};

pub use vamos_store::accounts::{Agreement, ApiToken, User};

/// `n` random bytes as hexadecimal, from the operating system.
pub fn random_hex(n: usize) -> anyhow::Result<String> {
    let mut buf = vec![0u8; n];
    getrandom::fill(&mut buf)
        .map_err(|e| anyhow::anyhow!("sin fuente aleatoria del sistema: {e}"))?;
    Ok(vamos_store::audit::hex(&buf))
}

/// Checks the password policy; the error says what to fix, in Spanish.
pub fn check_password_policy(password: &str, username: &str) -> std::result::Result<(), String> {
    let n = password.chars().count();
    if n < 12 {
        return Err(format!(
            "la contraseña debe tener al menos 12 caracteres (tiene {n})"
        ));
    }
    if n > 256 {
        return Err("la contraseña no puede superar 256 caracteres".into());
    }
    let classes = [
        password.chars().any(|c| c.is_lowercase()),
        password.chars().any(|c| c.is_uppercase()),
        password.chars().any(|c| c.is_ascii_digit()),
        password.chars().any(|c| !c.is_alphanumeric()),
    ]
    .iter()
    .filter(|b| **b)
    .count();
    if classes < 3 {
        return Err(
            "la contraseña debe combinar al menos tres de: minúsculas, mayúsculas, números y símbolos"
                .into(),
        );
    }
    if !username.is_empty() && password.to_lowercase().contains(&username.to_lowercase()) {
        return Err("la contraseña no puede contener el nombre de usuario".into());
    }
    Ok(())
}

/// An argon2id PHC string for `password`.
pub fn hash_password(password: &str) -> anyhow::Result<String> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| anyhow::anyhow!("sin fuente aleatoria: {e}"))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .to_string())
}

/// Whether `password` matches the PHC string.
pub fn verify_password(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A freshly made API token: the secret (shown once) and its stored parts.
pub struct MintedToken {
    pub secret: String,
    pub prefix: String,
    pub hash: String,
}

/// Makes a token `vamos_<prefix>_<secret>`; only its SHA-256 is stored.
pub fn mint_token() -> anyhow::Result<MintedToken> {
    let prefix = random_hex(6)?;
    let secret = format!("vamos_{prefix}_{}", random_hex(24)?);
    let hash = sha256_hex(&secret);
    Ok(MintedToken {
        secret,
        prefix,
        hash,
    })
}

/// The audit outcome of an administrative action: `ok…` or `rechazado: <reason>`.
fn outcome<T>(r: &Result<T>, ok: impl FnOnce(&T) -> String) -> String {
    match r {
        Ok(v) => ok(v),
        Err(e) => format!("rechazado: {}", e.message),
    }
}

#[derive(Deserialize)]
pub struct NewUserBody {
    pub username: String,
    pub display_name: Option<String>,
    pub password: String,
    pub role: String,
    pub institution: Option<String>,
    pub territories: Option<String>,
}

fn insert_user(
    s: &mut dyn Store,
    catalogue: &vamos_catalogue::Catalogue,
    b: &NewUserBody,
) -> Result<i64> {
    let role = Role::parse(&b.role).ok_or_else(|| {
        Error::bad_request(format!(
            "rol «{}» desconocido; use uno de: {}",
            vamos_domain::limits::echo(&b.role),
            Role::ALL
                .iter()
                .filter(|r| **r != Role::Publico)
                .map(|r| r.code())
                .collect::<Vec<_>>()
                .join(", ")
        ))
    })?;
    if role == Role::Publico {
        return Err(Error::bad_request(
            "el público no tiene cuentas: usa las rutas /api/public",
        ));
    }
    let valid_name = !b.username.is_empty()
        && b.username.len() <= 64
        && b.username
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-@".contains(c));
    if !valid_name {
        return Err(Error::bad_request(
            "nombre de usuario inválido: 1 a 64 letras, números, '.', '_', '-' o '@'",
        ));
    }
    check_password_policy(&b.password, &b.username).map_err(Error::bad_request)?;
    let scope =
        Scope::from_stored(b.territories.as_deref().unwrap_or("")).map_err(Error::bad_request)?;
    if role.needs_territory() && scope == Scope::National {
        return Err(Error::bad_request(format!(
            "el rol {} necesita territorios (departamentos DD o distritos DDdd)",
            role.label()
        )));
    }
    let institution = b.institution.as_deref().filter(|i| !i.is_empty());
    if let Some(i) = institution {
        if catalogue.institution(i).is_none() {
            return Err(Error::bad_request(format!(
                "institución «{}» no está en el catálogo",
                vamos_domain::limits::echo(i)
            )));
        }
    } else if role.needs_institution() {
        return Err(Error::bad_request(format!(
            "el rol {} necesita una institución del catálogo",
            role.label()
        )));
    }
    let hash = hash_password(&b.password)?;
    let now = now_rfc3339();
    let territories = if role.is_national() {
        String::new()
    } else {
        scope.to_stored()
    };
    Ok(accounts::create_user(
        &mut s.db(),
        &NewUser {
            username: &b.username,
            display_name: b.display_name.as_deref().unwrap_or(&b.username),
            password_hash: &hash,
            role: role.code(),
            institution,
            territories: &territories,
            now: &now,
        },
    )?)
}

#[derive(Deserialize)]
pub struct NewTokenBody {
    pub username: String,
    pub name: String,
    pub scopes: Vec<String>,
    pub days: Option<i64>,
}

fn insert_token(s: &mut dyn Store, b: &NewTokenBody) -> Result<(i64, String, String)> {
    let user = accounts::user_by_name(&mut s.db(), &b.username)?.ok_or_else(|| {
        Error::bad_request(format!(
            "no existe la cuenta «{}»",
            vamos_domain::limits::echo(&b.username)
        ))
    })?;
    let role = Role::parse(&user.role).ok_or_else(|| Error::internal("rol desconocido"))?;
    if b.scopes.is_empty() {
        return Err(Error::bad_request(format!(
            "indique al menos un alcance: {}",
            Permission::ALL
                .iter()
                .map(|p| p.code())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    for sc in &b.scopes {
        let perm = Permission::parse(sc).ok_or_else(|| {
            Error::bad_request(format!(
                "alcance «{}» desconocido",
                vamos_domain::limits::echo(sc)
            ))
        })?;
        if !role.grants(perm) {
            return Err(Error::bad_request(format!(
                "el rol {} de «{}» no permite el alcance {sc}",
                role.label(),
                user.username
            )));
        }
    }
    let days = b.days.unwrap_or(90);
    if !(1..=730).contains(&days) {
        return Err(Error::bad_request(
            "la vigencia del token debe estar entre 1 y 730 días",
        ));
    }
    let t = mint_token()?;
    let now = crate::clock::now();
    let expires =
        (now + chrono::Duration::days(days)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let id = accounts::create_token(
        &mut s.db(),
        &NewToken {
            prefix: &t.prefix,
            token_hash: &t.hash,
            user_id: user.id,
            name: &b.name,
            scopes: &b.scopes,
            now: &now_rfc3339(),
            expires_at: &expires,
        },
    )?;
    Ok((id, t.secret, expires))
}

#[derive(Deserialize)]
pub struct AgreementBody {
    pub institution: String,
    pub fields: Vec<String>,
    pub purpose: String,
    pub valid_from: String,
    pub valid_to: String,
    pub reference: Option<String>,
}

fn insert_agreement(
    s: &mut dyn Store,
    catalogue: &vamos_catalogue::Catalogue,
    b: &AgreementBody,
) -> Result<i64> {
    if catalogue.institution(&b.institution).is_none() {
        return Err(Error::bad_request(format!(
            "institución «{}» no está en el catálogo",
            vamos_domain::limits::echo(&b.institution)
        )));
    }
    let known = vamos_domain::authz::person_field_names();
    for f in &b.fields {
        if !known.contains(&f.as_str()) {
            return Err(Error::bad_request(format!(
                "campo «{}» desconocido; campos posibles: {}",
                vamos_domain::limits::echo(f),
                known.join(", ")
            )));
        }
    }
    let d = |s: &str| {
        chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| {
            Error::bad_request(format!(
                "fecha «{}» inválida: use AAAA-MM-DD",
                vamos_domain::limits::echo(s)
            ))
        })
    };
    if d(&b.valid_from)? > d(&b.valid_to)? {
        return Err(Error::bad_request("la vigencia termina antes de empezar"));
    }
    if b.purpose.trim().is_empty() {
        return Err(Error::bad_request("indique la finalidad del acuerdo"));
    }
    Ok(accounts::create_agreement(
        &mut s.db(),
        &Agreement {
            id: 0,
            institution: b.institution.clone(),
            fields: b.fields.clone(),
            purpose: b.purpose.clone(),
            valid_from: b.valid_from.clone(),
            valid_to: b.valid_to.clone(),
            reference: b.reference.clone(),
        },
        &now_rfc3339(),
    )?)
}

/// Validates and creates an account (API and `vamos user create`), for a caller who may
/// administer accounts; audited, refused or not.
pub fn create_user(
    s: &mut dyn Store,
    actor: &Actor,
    catalogue: &vamos_catalogue::Catalogue,
    b: &NewUserBody,
) -> Result<i64> {
    actor.require(Permission::UsersAdmin)?;
    let r = insert_user(s, catalogue, b);
    let outcome = outcome(&r, |_| "ok".into());
    actor.audit(
        s,
        "crear cuenta",
        "cuenta",
        &b.username,
        "administración de cuentas",
        &outcome,
    )?;
    r
}

/// Validates and creates a token (API and `vamos token create`), for a caller who may
/// administer accounts; returns its id, the secret (shown once) and its expiry; audited,
/// refused or not.
pub fn create_token(
    s: &mut dyn Store,
    actor: &Actor,
    b: &NewTokenBody,
) -> Result<(i64, String, String)> {
    actor.require(Permission::UsersAdmin)?;
    let r = insert_token(s, b);
    let outcome = outcome(&r, |(id, _, _)| format!("ok: token {id}"));
    actor.audit(
        s,
        "crear token de API",
        "cuenta",
        &b.username,
        "administración de tokens",
        &outcome,
    )?;
    r
}

/// Validates and stores a data-sharing agreement (API and `vamos agreement create`), for a
/// caller who may administer accounts; audited, refused or not.
pub fn create_agreement(
    s: &mut dyn Store,
    actor: &Actor,
    catalogue: &vamos_catalogue::Catalogue,
    b: &AgreementBody,
) -> Result<i64> {
    actor.require(Permission::UsersAdmin)?;
    let r = insert_agreement(s, catalogue, b);
    let outcome = outcome(&r, |id| format!("ok: acuerdo {id}"));
    actor.audit(
        s,
        "registrar acuerdo de intercambio",
        "institución",
        &b.institution,
        "administración de acuerdos",
        &outcome,
    )?;
    r
}

// ---------------------------------------------------------------- administration

/// The accounts (API `GET /api/users`, `vamos user list`).
pub fn users(s: &mut dyn Store, actor: &Actor) -> Result<Vec<User>> {
    actor.require(Permission::UsersAdmin)?;
    Ok(accounts::users(&mut s.db())?)
}

/// Whether the database holds any account yet (`vamos db init` creates the first
/// administrator when it does not).
pub fn has_accounts(s: &mut dyn Store) -> Result<bool> {
    Ok(!accounts::users(&mut s.db())?.is_empty())
}

/// The account named `username`, or the error that says there is none.
fn named(s: &mut dyn Store, username: &str) -> Result<User> {
    accounts::user_by_name(&mut s.db(), username)?.ok_or_else(|| {
        Error::not_found(format!(
            "no existe la cuenta «{}»",
            vamos_domain::limits::echo(username)
        ))
    })
}

/// Re-enables an account, or disables it and ends its sessions (`vamos user enable|disable`);
/// audited.
pub fn set_active(s: &mut dyn Store, actor: &Actor, username: &str, active: bool) -> Result<()> {
    actor.require(Permission::UsersAdmin)?;
    let u = named(s, username)?;
    accounts::set_active(&mut s.db(), u.id, active)?;
    actor.audit(
        s,
        if active {
            "reactivar cuenta"
        } else {
            "desactivar cuenta"
        },
        "cuenta",
        username,
        "administración de cuentas",
        "ok",
    )
}

/// Replaces an account's password, checked against the policy, and unlocks the account
/// (`vamos user password`); audited.
pub fn set_password(
    s: &mut dyn Store,
    actor: &Actor,
    username: &str,
    password: &str,
) -> Result<()> {
    actor.require(Permission::UsersAdmin)?;
    let u = named(s, username)?;
    check_password_policy(password, username).map_err(Error::bad_request)?;
    let hash = hash_password(password)?;
    accounts::set_password(&mut s.db(), u.id, &hash, &now_rfc3339())?;
    actor.audit(
        s,
        "cambiar contraseña",
        "cuenta",
        username,
        "administración de cuentas",
        "ok",
    )
}

/// The API tokens, never their secrets (API `GET /api/tokens`, `vamos token list`).
pub fn tokens(s: &mut dyn Store, actor: &Actor) -> Result<Vec<ApiToken>> {
    actor.require(Permission::UsersAdmin)?;
    Ok(accounts::tokens(&mut s.db())?)
}

/// Revokes the token in force whose number or prefix is `key` (API `DELETE /api/tokens/{id}`,
/// `vamos token revoke`); `false` when there was none. Audited either way.
pub fn revoke_token(s: &mut dyn Store, actor: &Actor, key: &str) -> Result<bool> {
    actor.require(Permission::UsersAdmin)?;
    let done = accounts::revoke_token(&mut s.db(), key, &now_rfc3339())?;
    actor.audit(
        s,
        "revocar token de API",
        "token",
        key,
        "administración de tokens",
        if done { "ok" } else { "no encontrado" },
    )?;
    Ok(done)
}

/// The data-sharing agreements (API `GET /api/agreements`, `vamos agreement list`).
pub fn agreements(s: &mut dyn Store, actor: &Actor) -> Result<Vec<Agreement>> {
    actor.require(Permission::UsersAdmin)?;
    Ok(accounts::agreements(&mut s.db(), None, None)?)
}

/// The actor of a command run as the account `name` (`--as`, `VAMOS_USER`): it must exist and
/// be active; the command then acts with its role, institution and territories.
pub fn command_line_actor(s: &mut dyn Store, name: &str) -> Result<Actor> {
    let Some(u) = accounts::user_by_name(&mut s.db(), name)? else {
        return Err(Error::not_found(format!(
            "no existe la cuenta «{name}» (indicada con --as o VAMOS_USER)"
        )));
    };
    if !u.active {
        return Err(Error::forbidden(format!(
            "la cuenta «{name}» está desactivada"
        )));
    }
    let Some(role) = Role::parse(&u.role) else {
        return Err(Error::bad_request(format!(
            "la cuenta «{name}» tiene un rol desconocido «{}»",
            u.role
        )));
    };
    let scope = Scope::from_stored(&u.territories).map_err(Error::bad_request)?;
    Ok(Actor {
        name: format!("{name} (línea de órdenes)"),
        role: Some(role),
        institution: u.institution,
        scope,
        request_id: None,
        scopes: None,
        operator: false,
    })
}

// ---------------------------------------------------------------- sessions and tokens

/// What signing in takes from the server's settings.
#[derive(Debug, Clone, Copy)]
pub struct LoginPolicy {
    /// Failed attempts from which an account is locked (with back-off).
    pub lockout_threshold: i64,
    /// How long a session lasts.
    pub session_hours: i64,
}

/// A session just opened: its account, the cookie's secret (only its digest is stored), the
/// CSRF token and the expiry.
#[derive(Debug, Clone)]
pub struct OpenedSession {
    pub user: User,
    pub cookie: String,
    pub csrf: String,
    pub expires: String,
}

/// How a sign-in attempt ended: a session, or the refusal to answer (wrong credentials, a
/// locked account).
#[derive(Debug, Clone)]
pub enum SignIn {
    Opened(Box<OpenedSession>),
    Refused(Error),
}

/// An argon2id hash of nothing anyone types: checked against when the account does not exist,
/// so the time taken does not reveal which names exist.
const DECOY_PHC: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$0Cgl5ZkS3ffKkZoV9U1ZrKVuF9TDsZUbOc5JXDFBuqI";

/// Checks a user name and password — a locked account is refused; failures count towards the
/// lock-out, from the threshold on with a back-off of 1, 2, 4 … minutes (at most a day) — and
/// opens a session. Every attempt is in the audit trail, under the name tried.
pub fn sign_in(
    s: &mut dyn Store,
    username: &str,
    password: &str,
    request_id: Option<String>,
    policy: LoginPolicy,
) -> Result<SignIn> {
    let now = crate::clock::now();
    let now_s = now_rfc3339();
    let user = accounts::user_by_name(&mut s.db(), username)?;
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
        request_id: request_id.clone(),
    };
    let invalid = || {
        SignIn::Refused(Error::new(
            ErrorKind::Unauthenticated,
            "credenciales_invalidas",
            "usuario o contraseña incorrectos",
        ))
    };
    let Some(user) = user.filter(|u| u.active) else {
        let _ = verify_password(password, DECOY_PHC);
        crate::audit::write_audit(
            s,
            entry(username, "rechazado: credenciales inválidas", None),
        )?;
        return Ok(invalid());
    };
    let role = Some(user.role.clone());
    if let Some(until) = &user.locked_until {
        if until.as_str() > now_s.as_str() {
            crate::audit::write_audit(
                s,
                entry(&user.username, "rechazado: cuenta bloqueada", role),
            )?;
            return Ok(SignIn::Refused(Error::new(
                ErrorKind::TooMany,
                "cuenta_bloqueada",
                format!("cuenta bloqueada temporalmente por intentos fallidos hasta {until}"),
            )));
        }
    }
    let phc = accounts::password_hash(&mut s.db(), user.id)?.unwrap_or_default();
    if !verify_password(password, &phc) {
        let over = (user.failed_logins + 1 - policy.lockout_threshold).clamp(0, 11);
        let minutes = 1i64 << over;
        let until = (now + chrono::Duration::minutes(minutes.min(1440)))
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        accounts::record_failed_login(&mut s.db(), user.id, policy.lockout_threshold, &until)?;
        crate::audit::write_audit(
            s,
            entry(&user.username, "rechazado: credenciales inválidas", role),
        )?;
        return Ok(invalid());
    }
    accounts::record_login(&mut s.db(), user.id)?;
    let cookie = random_hex(32)?;
    let csrf = random_hex(24)?;
    let expires = (now + chrono::Duration::hours(policy.session_hours))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    accounts::create_session(
        &mut s.db(),
        &sha256_hex(&cookie),
        user.id,
        &csrf,
        &now_s,
        &expires,
    )?;
    crate::audit::write_audit(s, entry(&user.username, "ok", role))?;
    Ok(SignIn::Opened(Box::new(OpenedSession {
        user,
        cookie,
        csrf,
        expires,
    })))
}

/// Ends the session whose cookie is `cookie`, if any, and records that `username` signed out.
pub fn sign_out(
    s: &mut dyn Store,
    actor: &Actor,
    cookie: Option<&str>,
    username: &str,
) -> Result<()> {
    if let Some(c) = cookie {
        accounts::delete_session(&mut s.db(), &sha256_hex(c))?;
    }
    actor.audit(
        s,
        "cerrar sesión",
        "cuenta",
        username,
        "autenticación",
        "ok",
    )
}

/// The live session of cookie `cookie` at `now`: its account and CSRF token (none when the
/// session has expired or its account is disabled).
pub fn session_of(s: &mut dyn Store, cookie: &str, now: &str) -> Result<Option<(User, String)>> {
    Ok(accounts::session(&mut s.db(), &sha256_hex(cookie), now)?)
}

/// The token whose prefix is `prefix` and whose SHA-256 is `digest`, with its account, when the
/// token is in force at `now` and the account is active; its "last used" is kept to the minute.
pub fn token_account(
    s: &mut dyn Store,
    prefix: &str,
    digest: &str,
    now: &str,
) -> Result<Option<(ApiToken, User)>> {
    let Some((t, hash)) = accounts::token_by_prefix(&mut s.db(), prefix)? else {
        return Ok(None);
    };
    if hash != digest || t.revoked_at.is_some() || t.expires_at.as_str() <= now {
        return Ok(None);
    }
    let Some(user) = accounts::user_by_id(&mut s.db(), t.user_id)? else {
        return Ok(None);
    };
    if !user.active {
        return Ok(None);
    }
    // "Last used" to the minute is enough and spares a write per request.
    if t.last_used_at.as_deref().map(|l| &l[..l.len().min(16)]) != Some(&now[..now.len().min(16)]) {
        accounts::touch_token(&mut s.db(), t.id, now)?;
    }
    Ok(Some((t, user)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_policy_and_hashing() {
        assert!(check_password_policy("corta", "ana").is_err());
        assert!(check_password_policy("solominusculas", "ana").is_err());
        assert!(check_password_policy("Ana-Ana-Ana-2026", "ana").is_err());
        assert!(check_password_policy("Correcta-2026-xyz", "ana").is_ok());
        let h = hash_password("Correcta-2026-xyz").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("Correcta-2026-xyz", &h));
        assert!(!verify_password("Correcta-2026-xyZ", &h));
        let t = mint_token().unwrap();
        assert!(t.secret.starts_with(&format!("vamos_{}_", t.prefix)));
        assert_eq!(t.hash, sha256_hex(&t.secret));
    }
}
