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

/// The lowest zxcvbn score (0 to 4) a password must reach: 3 is "safely unguessable: moderate
/// protection from an offline slow-hash scenario", which argon2id storage is.
pub const MIN_PASSWORD_SCORE: u8 = 3;

/// Words of this system and this country that zxcvbn's (English) dictionaries do not know and
/// that a person choosing a password here reaches for first: they count as guessable.
const LOCAL_WORDS: &[&str] = &[
    "vamos",
    "paraguay",
    "asuncion",
    "siis",
    "utgs",
    "contraseña",
    "contrasena",
    "clave",
    "usuario",
    "administrador",
];

/// Checks the password policy for an account: 12 to 256 characters, not containing the user
/// name (the first of `user_inputs`), and hard to guess — a zxcvbn score of at least
/// [`MIN_PASSWORD_SCORE`], with the account's own words (`user_inputs`: user name, display
/// name…) and [`LOCAL_WORDS`] counted as guessable. No rule on character classes: `Password1234` satisfies such rules and is among
/// the first guesses, while a long passphrase without digits is strong (NIST SP 800-63B §5.1.1).
/// The error says what to fix, in Spanish.
pub fn check_password_policy(
    password: &str,
    user_inputs: &[&str],
) -> std::result::Result<(), String> {
    let n = password.chars().count();
    if n < 12 {
        return Err(format!(
            "la contraseña debe tener al menos 12 caracteres (tiene {n})"
        ));
    }
    if n > 256 {
        return Err("la contraseña no puede superar 256 caracteres".into());
    }
    // The user name, first of the inputs, may not appear at all; the others (a display name
    // such as "Ana") only make zxcvbn count them as guessable, so "Banana…" is not refused.
    if let Some(name) = user_inputs.first().filter(|u| !u.is_empty()) {
        if password.to_lowercase().contains(&name.to_lowercase()) {
            return Err("la contraseña no puede contener el nombre de usuario".into());
        }
    }
    let mut inputs: Vec<&str> = user_inputs.to_vec();
    inputs.extend_from_slice(LOCAL_WORDS);
    let entropy = zxcvbn::zxcvbn(password, &inputs);
    let score = u8::from(entropy.score());
    if score >= MIN_PASSWORD_SCORE {
        return Ok(());
    }
    let why = entropy
        .feedback()
        .and_then(|f| f.warning())
        .map(spanish_warning)
        .unwrap_or("sigue patrones que se adivinan pronto");
    Err(format!(
        "la contraseña es demasiado fácil de adivinar ({why}; fuerza {score} de 4, se exige \
         {MIN_PASSWORD_SCORE}): use una frase de varias palabras poco comunes, o una \
         contraseña generada por un gestor de contraseñas"
    ))
}

/// zxcvbn's warning, in Spanish.
fn spanish_warning(w: zxcvbn::feedback::Warning) -> &'static str {
    use zxcvbn::feedback::Warning as W;
    match w {
        W::StraightRowsOfKeysAreEasyToGuess => "las filas seguidas del teclado se adivinan pronto",
        W::ShortKeyboardPatternsAreEasyToGuess => {
            "los patrones cortos del teclado se adivinan pronto"
        }
        W::RepeatsLikeAaaAreEasyToGuess => "las repeticiones como «aaa» se adivinan pronto",
        W::RepeatsLikeAbcAbcAreOnlySlightlyHarderToGuess => {
            "las repeticiones como «abcabc» apenas cuestan más que «abc»"
        }
        W::ThisIsATop10Password | W::ThisIsATop100Password | W::ThisIsACommonPassword => {
            "es una de las contraseñas más usadas"
        }
        W::ThisIsSimilarToACommonlyUsedPassword => "se parece a una contraseña muy usada",
        W::SequencesLikeAbcAreEasyToGuess => "las secuencias como «abc» o «123» se adivinan pronto",
        W::RecentYearsAreEasyToGuess => "los años recientes se adivinan pronto",
        W::AWordByItselfIsEasyToGuess => "una palabra sola se adivina pronto",
        W::DatesAreOftenEasyToGuess => "las fechas se adivinan pronto",
        W::NamesAndSurnamesByThemselvesAreEasyToGuess | W::CommonNamesAndSurnamesAreEasyToGuess => {
            "los nombres y apellidos se adivinan pronto"
        }
    }
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
    let display_name = b.display_name.as_deref().unwrap_or(&b.username);
    check_password_policy(&b.password, &[&b.username, display_name]).map_err(Error::bad_request)?;
    let scope =
        Scope::from_stored(b.territories.as_deref().unwrap_or("")).map_err(Error::bad_request)?;
    check_scope(role, &scope)?;
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
            display_name,
            password_hash: &hash,
            role: role.code(),
            institution,
            territories: &territories,
            now: &now,
        },
    )?)
}

/// Refuses a scope the role may not hold: an operador, a mesa or an orientador works in the
/// territories named on its account, never the whole country — whether its territories are left
/// empty or name the nation (`PY`). Only the national roles (administrador, analista) see all.
fn check_scope(role: Role, scope: &Scope) -> Result<()> {
    if role.admits_scope(scope) {
        return Ok(());
    }
    Err(Error::bad_request(format!(
        "el rol {} no puede tener alcance nacional: indique sus territorios (departamentos DD o \
         distritos DDdd), no «PY» ni una lista vacía",
        role.label()
    )))
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

/// Resets an account's password (an administrator: `vamos user password`, API
/// `POST /api/users/{username}/password`), checked against the policy; unlocks the account and
/// ends **every** session of it, since a reset is what follows a forgotten or stolen password.
/// API tokens stay: an administrator issues them to an institution's system, the password
/// never gave them, and each is revoked on its own (`vamos token revoke`). Answers how many
/// sessions ended; audited, refused or not.
pub fn set_password(
    s: &mut dyn Store,
    actor: &Actor,
    username: &str,
    password: &str,
) -> Result<u64> {
    actor.require(Permission::UsersAdmin)?;
    let u = named(s, username)?;
    let r = replace_password(s, &u, password, None);
    let outcome = outcome(&r, |n| format!("ok: {n} sesiones cerradas"));
    actor.audit(
        s,
        "cambiar contraseña",
        "cuenta",
        username,
        "administración de cuentas",
        &outcome,
    )?;
    r
}

/// Checks `password` against the policy for account `u`, stores its hash and ends the
/// account's sessions but `keep` (a session cookie, not its digest).
fn replace_password(
    s: &mut dyn Store,
    u: &User,
    password: &str,
    keep: Option<&str>,
) -> Result<u64> {
    check_password_policy(password, &[&u.username, &u.display_name]).map_err(Error::bad_request)?;
    let hash = hash_password(password)?;
    let keep = keep.map(sha256_hex);
    Ok(accounts::set_password(
        &mut s.db(),
        u.id,
        &hash,
        &now_rfc3339(),
        keep.as_deref(),
    )?)
}

/// The refusal of a password check — in signing in and in changing one's own password — the
/// same whether the name is unknown, the password wrong or the account locked, so that the
/// answer does not tell which names exist (or which are locked).
fn wrong_credentials() -> Error {
    Error::new(
        ErrorKind::Unauthenticated,
        "credenciales_invalidas",
        "usuario o contraseña incorrectos (tras varios intentos fallidos la cuenta se bloquea \
         unos minutos)",
    )
}

/// Counts a failed password check of `user` towards the lock-out: from the threshold on the
/// account is locked with a back-off of 1, 2, 4 … minutes (at most a day).
fn record_failure(s: &mut dyn Store, user: &User, threshold: i64) -> Result<()> {
    let over = (user.failed_logins + 1 - threshold).clamp(0, 11);
    let minutes = 1i64 << over;
    let until = (crate::clock::now() + chrono::Duration::minutes(minutes.min(1440)))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    accounts::record_failed_login(&mut s.db(), user.id, threshold, &until)?;
    Ok(())
}

/// Whether `user` is locked at `now` (RFC 3339).
fn locked(user: &User, now: &str) -> bool {
    user.locked_until
        .as_deref()
        .is_some_and(|until| until > now)
}

/// An account changes its own password (API `POST /api/session/password`), proving it knows
/// the current one — a borrowed or stolen session cookie alone cannot take the account over;
/// a wrong current password counts towards the lock-out like a failed sign-in. Every other
/// session of the account ends; the session `cookie` it acts from stays open, so the person
/// goes on working where they are. Answers how many sessions ended; audited, refused or not.
pub fn change_own_password(
    s: &mut dyn Store,
    actor: &Actor,
    username: &str,
    cookie: &str,
    current: &str,
    new: &str,
    policy: LoginPolicy,
) -> Result<u64> {
    let u = named(s, username)?;
    let r = (|| {
        let phc = accounts::password_hash(&mut s.db(), u.id)?.unwrap_or_default();
        let is_locked = locked(&u, &now_rfc3339());
        // The hash is checked even when the account is locked, so the time taken says nothing.
        if !verify_password(current, &phc) || is_locked {
            if !is_locked {
                record_failure(s, &u, policy.lockout_threshold)?;
            }
            return Err(Error::new(
                ErrorKind::Forbidden,
                "credenciales_invalidas",
                "la contraseña actual no es correcta (tras varios intentos fallidos la cuenta se \
                 bloquea unos minutos)",
            ));
        }
        if current == new {
            return Err(Error::bad_request(
                "la nueva contraseña debe ser distinta de la actual",
            ));
        }
        replace_password(s, &u, new, Some(cookie))
    })();
    let outcome = outcome(&r, |n| format!("ok: {n} otras sesiones cerradas"));
    actor.audit(
        s,
        "cambiar la propia contraseña",
        "cuenta",
        username,
        "autenticación",
        &outcome,
    )?;
    r
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
    // An account stored with a scope its role may not hold (made before the check existed)
    // acts nowhere rather than everywhere.
    check_scope(role, &scope)?;
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

/// An argon2id hash, made with the same parameters as every stored one, of a random password
/// nobody knows: checked against when the account does not exist or is disabled, so the time
/// taken does not reveal which names exist.
fn decoy_phc() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| {
        random_hex(16)
            .and_then(|p| hash_password(&p))
            .unwrap_or_default()
    })
}

/// Checks a user name and password and opens a session. An unknown name, a wrong password and
/// a locked account are refused with one same answer ([`wrong_credentials`]), after the same
/// argon2id work, so that an attacker learns neither which names exist nor which are locked;
/// the lock-out still holds (a locked account is refused even with the right password), and
/// failures count towards it, from the threshold on with a back-off of 1, 2, 4 … minutes (at
/// most a day). Every attempt is in the audit trail, under the name tried, with the true reason.
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
    let Some(user) = user.filter(|u| u.active) else {
        let _ = verify_password(password, decoy_phc());
        crate::audit::write_audit(
            s,
            entry(username, "rechazado: credenciales inválidas", None),
        )?;
        return Ok(SignIn::Refused(wrong_credentials()));
    };
    let role = Some(user.role.clone());
    let phc = accounts::password_hash(&mut s.db(), user.id)?.unwrap_or_default();
    // Checked before looking at the lock, so that a locked account costs the same time.
    let matches = verify_password(password, &phc);
    if locked(&user, &now_s) {
        crate::audit::write_audit(
            s,
            entry(&user.username, "rechazado: cuenta bloqueada", role),
        )?;
        return Ok(SignIn::Refused(wrong_credentials()));
    }
    if !matches {
        record_failure(s, &user, policy.lockout_threshold)?;
        crate::audit::write_audit(
            s,
            entry(&user.username, "rechazado: credenciales inválidas", role),
        )?;
        return Ok(SignIn::Refused(wrong_credentials()));
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
        assert!(check_password_policy("corta", &["ana"]).is_err());
        assert!(check_password_policy("Ana-Ana-Ana-2026", &["ana"]).is_err());
        assert!(check_password_policy("Correcta-2026-xyz", &["ana"]).is_ok());
        let h = hash_password("Correcta-2026-xyz").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("Correcta-2026-xyz", &h));
        assert!(!verify_password("Correcta-2026-xyZ", &h));
        let t = mint_token().unwrap();
        assert!(t.secret.starts_with(&format!("vamos_{}_", t.prefix)));
        assert_eq!(t.hash, sha256_hex(&t.secret));
    }

    /// The policy's verdicts: common and patterned passwords that satisfy length and character
    /// classes are refused with a Spanish reason; passphrases and generated ones pass.
    #[test]
    fn the_password_policy_refuses_guessable_passwords() {
        for weak in [
            "Password1234",
            "Qwerty123456",
            "Password1234!",
            "Contraseña2026",
            "Paraguay2026!",
            "123456789012",
            "aaaaaaaaaaaa",
            "abcdefghijkl",
            "Vamos-Vamos-2026",
            "Vamos12345678",
        ] {
            let e = check_password_policy(weak, &["ana.perez", "Ana Pérez"]).expect_err(weak);
            assert!(e.starts_with("la contraseña"), "{weak}: {e}");
        }
        let e = check_password_policy("ana.perez-2026-ok", &["ana.perez"]).unwrap_err();
        assert!(e.contains("nombre de usuario"), "{e}");
        assert_eq!(
            check_password_policy("Banana-Colorada-Tardía", &["ana.perez", "Ana"]),
            Ok(())
        );
        for strong in [
            "Correcta-2026-xyz",
            "mandioca tereré lapacho guaraní",
            "Vm-3f9a1c07d2be44a1b0c9e8f7",
        ] {
            assert_eq!(
                check_password_policy(strong, &["ana.perez"]),
                Ok(()),
                "{strong}"
            );
        }
    }

    /// Any text a person may type is judged, none makes the estimator fail, and the longest
    /// password allowed is judged quickly (the check runs on every password set).
    #[test]
    fn the_password_policy_judges_any_text_quickly() {
        for odd in [
            "ñandutí-ñandutí-ñandutí",
            "🙂🙃🙂🙃🙂🙃🙂🙃🙂🙃🙂🙃",
            "e\u{301}e\u{301}e\u{301}e\u{301}e\u{301}e\u{301}",
            "\u{202e}abc\u{202d}defghijklmn",
            "ÅÅÅÅÅÅÅÅÅÅÅÅ\u{0}\u{0}",
            "İİİİİİİİİİİİ",
            "ﬃﬃﬃﬃﬃﬃﬃﬃﬃﬃﬃﬃ",
        ] {
            let _ = check_password_policy(odd, &["ana", "İ"]);
        }
        let long: String = "Kurupí-ñandutí-9-".repeat(15).chars().take(256).collect();
        let t = std::time::Instant::now();
        assert_eq!(check_password_policy(&long, &["ana"]), Ok(()));
        assert!(
            t.elapsed() < std::time::Duration::from_secs(2),
            "{:?}",
            t.elapsed()
        );
    }

    /// The decoy against which unknown names are checked is a real argon2id hash with the
    /// stored hashes' parameters, so checking it costs what checking a real one does.
    #[test]
    fn the_decoy_hash_costs_what_a_real_one_does() {
        let decoy = PasswordHash::new(decoy_phc()).unwrap();
        let real_phc = hash_password("Correcta-2026-xyz").unwrap();
        let real = PasswordHash::new(&real_phc).unwrap();
        assert_eq!(decoy.algorithm, real.algorithm);
        assert_eq!(
            decoy.params.iter().collect::<Vec<_>>(),
            real.params.iter().collect::<Vec<_>>()
        );
        assert!(!verify_password("", decoy_phc()));
    }
}
