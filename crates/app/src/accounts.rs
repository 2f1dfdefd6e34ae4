//! Accounts, API tokens and data-sharing agreements: the password policy and argon2id hashing,
//! validating and creating users, tokens and agreements — shared by the API and `vamos user`,
//! `vamos token`, `vamos agreement`. Each creation writes its audit record, refused or not.

use crate::clock::now_rfc3339;
use crate::error::{Error, Result};
use crate::Actor;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use serde::Deserialize;
use vamos_domain::{Permission, Role, Scope};
use vamos_store::accounts::{self, Agreement, NewToken, NewUser};
use vamos_store::audit::sha256_hex;
use vamos_store::Store;

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
            b.role,
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
                "institución «{i}» no está en el catálogo"
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
    let user = accounts::user_by_name(&mut s.db(), &b.username)?
        .ok_or_else(|| Error::bad_request(format!("no existe la cuenta «{}»", b.username)))?;
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
        let perm = Permission::parse(sc)
            .ok_or_else(|| Error::bad_request(format!("alcance «{sc}» desconocido")))?;
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
            b.institution
        )));
    }
    let known = vamos_domain::authz::person_field_names();
    for f in &b.fields {
        if !known.contains(&f.as_str()) {
            return Err(Error::bad_request(format!(
                "campo «{f}» desconocido; campos posibles: {}",
                known.join(", ")
            )));
        }
    }
    let d = |s: &str| {
        chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .map_err(|_| Error::bad_request(format!("fecha «{s}» inválida: use AAAA-MM-DD")))
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

/// Validates and creates an account (API and `vamos user create`); audited, refused or not.
pub fn create_user(
    s: &mut dyn Store,
    actor: &Actor,
    catalogue: &vamos_catalogue::Catalogue,
    b: &NewUserBody,
) -> Result<i64> {
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

/// Validates and creates a token (API and `vamos token create`); returns its id, the secret
/// (shown once) and its expiry; audited, refused or not.
pub fn create_token(
    s: &mut dyn Store,
    actor: &Actor,
    b: &NewTokenBody,
) -> Result<(i64, String, String)> {
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

/// Validates and stores a data-sharing agreement (API and `vamos agreement create`); audited,
/// refused or not.
pub fn create_agreement(
    s: &mut dyn Store,
    actor: &Actor,
    catalogue: &vamos_catalogue::Catalogue,
    b: &AgreementBody,
) -> Result<i64> {
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
