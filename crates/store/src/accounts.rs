//! Accounts, browser sessions, API tokens and data-sharing agreements, stored the same way on
//! both backends through [`Sql`].
//!
//! Secrets never reach this module in clear: passwords arrive as argon2id PHC strings, session
//! cookies and API tokens as SHA-256 hex digests (hashed by the server). Timestamps are RFC 3339
//! text passed in by the caller, so the store never reads the clock.

use crate::sql::{in_tx, Param, Row};
use crate::{Result, StoreError};
use serde::Serialize;

/// A stored account (without its password hash).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub role: String,
    pub institution: Option<String>,
    /// Stored scope: comma-separated territory codes, empty = national.
    pub territories: String,
    pub active: bool,
    pub failed_logins: i64,
    pub locked_until: Option<String>,
    pub created_at: String,
}

/// What creating an account needs.
#[derive(Debug, Clone)]
pub struct NewUser<'a> {
    pub username: &'a str,
    pub display_name: &'a str,
    pub password_hash: &'a str,
    pub role: &'a str,
    pub institution: Option<&'a str>,
    pub territories: &'a str,
    pub now: &'a str,
}

const USER_COLUMNS: &str = "id, username, display_name, role, institution, territories, active, failed_logins, locked_until, created_at";

fn user(r: &Row) -> User {
    User {
        id: r.int(0).unwrap_or_default(),
        username: r.text(1),
        display_name: r.text(2),
        role: r.text(3),
        institution: r.string(4),
        territories: r.text(5),
        active: r.int(6) == Some(1),
        failed_logins: r.int(7).unwrap_or_default(),
        locked_until: r.string(8),
        created_at: r.text(9),
    }
}

/// Creates an account; a taken user name is a clear error.
pub fn create_user(sql: &mut crate::sql::Db<'_>, u: &NewUser<'_>) -> Result<i64> {
    let sql = sql.raw();
    in_tx(sql, |sql| {
        if sql
            .query_opt(
                "SELECT 1 FROM users WHERE username = $1",
                &[u.username.into()],
            )?
            .is_some()
        {
            return Err(StoreError::Invalid(format!(
                "ya existe una cuenta «{}»",
                u.username
            )));
        }
        let row = sql.query_opt(
            "INSERT INTO users (username, display_name, password_hash, role, institution, territories, created_at, password_changed_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $7) RETURNING id",
            &[
                u.username.into(),
                u.display_name.into(),
                u.password_hash.into(),
                u.role.into(),
                u.institution.into(),
                u.territories.into(),
                u.now.into(),
            ],
        )?;
        row.and_then(|r| r.int(0))
            .ok_or_else(|| StoreError::Invalid("la cuenta no se creó".into()))
    })
}

/// An account by user name.
pub fn user_by_name(sql: &mut crate::sql::Db<'_>, username: &str) -> Result<Option<User>> {
    let sql = sql.raw();
    Ok(sql
        .query_opt(
            &format!("SELECT {USER_COLUMNS} FROM users WHERE username = $1"),
            &[username.into()],
        )?
        .map(|r| user(&r)))
}

/// An account by id.
pub fn user_by_id(sql: &mut crate::sql::Db<'_>, id: i64) -> Result<Option<User>> {
    let sql = sql.raw();
    Ok(sql
        .query_opt(
            &format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"),
            &[id.into()],
        )?
        .map(|r| user(&r)))
}

/// Every account, by user name.
pub fn users(sql: &mut crate::sql::Db<'_>) -> Result<Vec<User>> {
    let sql = sql.raw();
    Ok(sql
        .query(
            &format!("SELECT {USER_COLUMNS} FROM users ORDER BY username"),
            &[],
        )?
        .iter()
        .map(user)
        .collect())
}

/// The stored password hash of an account.
pub fn password_hash(sql: &mut crate::sql::Db<'_>, user_id: i64) -> Result<Option<String>> {
    let sql = sql.raw();
    Ok(sql
        .query_opt(
            "SELECT password_hash FROM users WHERE id = $1",
            &[user_id.into()],
        )?
        .and_then(|r| r.string(0)))
}

/// Replaces an account's password, clears its failed-login count and ends its sessions — all
/// but the one whose digest is `keep` (the session of an account changing its own password) —
/// in one transaction, so no session opened with the old password outlives it. Answers how
/// many sessions it ended.
pub fn set_password(
    sql: &mut crate::sql::Db<'_>,
    user_id: i64,
    hash: &str,
    now: &str,
    keep: Option<&str>,
) -> Result<u64> {
    let sql = sql.raw();
    in_tx(sql, |sql| {
        sql.execute(
            "UPDATE users SET password_hash = $1, password_changed_at = $2, failed_logins = 0, locked_until = NULL WHERE id = $3",
            &[hash.into(), now.into(), user_id.into()],
        )?;
        Ok(match keep {
            Some(k) => sql.execute(
                "DELETE FROM sessions WHERE user_id = $1 AND token_hash <> $2",
                &[user_id.into(), k.into()],
            )?,
            None => sql.execute("DELETE FROM sessions WHERE user_id = $1", &[user_id.into()])?,
        })
    })
}

/// Enables or disables an account; disabling also ends its sessions.
pub fn set_active(sql: &mut crate::sql::Db<'_>, user_id: i64, active: bool) -> Result<bool> {
    let sql = sql.raw();
    in_tx(sql, |sql| {
        let n = sql.execute(
            "UPDATE users SET active = $1 WHERE id = $2",
            &[active.into(), user_id.into()],
        )?;
        if !active {
            sql.execute("DELETE FROM sessions WHERE user_id = $1", &[user_id.into()])?;
        }
        Ok(n == 1)
    })
}

/// Records a failed login: the count goes up and, from `threshold` failures on, the account is
/// locked until `lock_until` (the caller computes the back-off).
pub fn record_failed_login(
    sql: &mut crate::sql::Db<'_>,
    user_id: i64,
    threshold: i64,
    lock_until: &str,
) -> Result<i64> {
    let sql = sql.raw();
    in_tx(sql, |sql| {
        let n = sql
            .query_opt(
                "UPDATE users SET failed_logins = failed_logins + 1 WHERE id = $1 RETURNING failed_logins",
                &[user_id.into()],
            )?
            .and_then(|r| r.int(0))
            .unwrap_or_default();
        if n >= threshold {
            sql.execute(
                "UPDATE users SET locked_until = $1 WHERE id = $2",
                &[lock_until.into(), user_id.into()],
            )?;
        }
        Ok(n)
    })
}

/// Records a successful login (failed count reset).
pub fn record_login(sql: &mut crate::sql::Db<'_>, user_id: i64) -> Result<()> {
    let sql = sql.raw();
    sql.execute(
        "UPDATE users SET failed_logins = 0, locked_until = NULL WHERE id = $1",
        &[user_id.into()],
    )?;
    Ok(())
}

/// Stores a new session.
pub fn create_session(
    sql: &mut crate::sql::Db<'_>,
    token_hash: &str,
    user_id: i64,
    csrf: &str,
    now: &str,
    expires_at: &str,
) -> Result<()> {
    let sql = sql.raw();
    sql.execute(
        "INSERT INTO sessions (token_hash, user_id, csrf_token, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
        &[token_hash.into(), user_id.into(), csrf.into(), now.into(), expires_at.into()],
    )?;
    Ok(())
}

/// A live session: `(user, csrf token)`, when it exists, has not expired and its account is
/// active.
pub fn session(
    sql: &mut crate::sql::Db<'_>,
    token_hash: &str,
    now: &str,
) -> Result<Option<(User, String)>> {
    let sql = sql.raw();
    let cols: Vec<String> = USER_COLUMNS.split(", ").map(|c| format!("u.{c}")).collect();
    let r = sql.query_opt(
        &format!(
            "SELECT {}, s.csrf_token FROM sessions s JOIN users u ON u.id = s.user_id
             WHERE s.token_hash = $1 AND s.expires_at > $2 AND u.active = 1",
            cols.join(", ")
        ),
        &[token_hash.into(), now.into()],
    )?;
    Ok(r.map(|r| (user(&r), r.text(10))))
}

/// Ends a session.
pub fn delete_session(sql: &mut crate::sql::Db<'_>, token_hash: &str) -> Result<()> {
    let sql = sql.raw();
    sql.execute(
        "DELETE FROM sessions WHERE token_hash = $1",
        &[token_hash.into()],
    )?;
    Ok(())
}

/// A stored API token (never its secret).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ApiToken {
    pub id: i64,
    pub prefix: String,
    pub user_id: i64,
    pub username: String,
    pub name: String,
    pub scopes: Vec<String>,
    pub created_at: String,
    pub expires_at: String,
    pub revoked_at: Option<String>,
    pub last_used_at: Option<String>,
}

const TOKEN_COLUMNS: &str = "t.id, t.prefix, t.user_id, u.username, t.name, t.scopes, t.created_at, t.expires_at, t.revoked_at, t.last_used_at";

fn token(r: &Row) -> ApiToken {
    ApiToken {
        id: r.int(0).unwrap_or_default(),
        prefix: r.text(1),
        user_id: r.int(2).unwrap_or_default(),
        username: r.text(3),
        name: r.text(4),
        scopes: r
            .text(5)
            .split(',')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect(),
        created_at: r.text(6),
        expires_at: r.text(7),
        revoked_at: r.string(8),
        last_used_at: r.string(9),
    }
}

/// What creating a token needs (the secret stays with the caller; only its hash is stored).
#[derive(Debug, Clone)]
pub struct NewToken<'a> {
    pub prefix: &'a str,
    pub token_hash: &'a str,
    pub user_id: i64,
    pub name: &'a str,
    pub scopes: &'a [String],
    pub now: &'a str,
    pub expires_at: &'a str,
}

pub fn create_token(sql: &mut crate::sql::Db<'_>, t: &NewToken<'_>) -> Result<i64> {
    let sql = sql.raw();
    sql.query_opt(
        "INSERT INTO api_tokens (prefix, token_hash, user_id, name, scopes, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        &[
            t.prefix.into(),
            t.token_hash.into(),
            t.user_id.into(),
            t.name.into(),
            t.scopes.join(",").into(),
            t.now.into(),
            t.expires_at.into(),
        ],
    )?
    .and_then(|r| r.int(0))
    .ok_or_else(|| StoreError::Invalid("el token no se creó".into()))
}

/// A token by its public prefix, with its stored hash.
pub fn token_by_prefix(
    sql: &mut crate::sql::Db<'_>,
    prefix: &str,
) -> Result<Option<(ApiToken, String)>> {
    let sql = sql.raw();
    Ok(sql
        .query_opt(
            &format!("SELECT {TOKEN_COLUMNS}, t.token_hash FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.prefix = $1"),
            &[prefix.into()],
        )?
        .map(|r| (token(&r), r.text(10))))
}

/// Marks a token used (at most once a minute per token is enough for "last used").
pub fn touch_token(sql: &mut crate::sql::Db<'_>, id: i64, now: &str) -> Result<()> {
    let sql = sql.raw();
    sql.execute(
        "UPDATE api_tokens SET last_used_at = $1 WHERE id = $2",
        &[now.into(), id.into()],
    )?;
    Ok(())
}

pub fn tokens(sql: &mut crate::sql::Db<'_>) -> Result<Vec<ApiToken>> {
    let sql = sql.raw();
    Ok(sql
        .query(
            &format!("SELECT {TOKEN_COLUMNS} FROM api_tokens t JOIN users u ON u.id = t.user_id ORDER BY t.id"),
            &[],
        )?
        .iter()
        .map(token)
        .collect())
}

/// Revokes a token by id or prefix; returns whether one was revoked now.
pub fn revoke_token(sql: &mut crate::sql::Db<'_>, key: &str, now: &str) -> Result<bool> {
    let sql = sql.raw();
    let id: i64 = key.parse().unwrap_or(-1);
    Ok(sql.execute(
        "UPDATE api_tokens SET revoked_at = $1 WHERE (id = $2 OR prefix = $3) AND revoked_at IS NULL",
        &[now.into(), id.into(), key.into()],
    )? > 0)
}

/// A data-sharing agreement.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Agreement {
    pub id: i64,
    pub institution: String,
    pub fields: Vec<String>,
    pub purpose: String,
    pub valid_from: String,
    pub valid_to: String,
    pub reference: Option<String>,
}

fn agreement(r: &Row) -> Agreement {
    Agreement {
        id: r.int(0).unwrap_or_default(),
        institution: r.text(1),
        fields: r
            .text(2)
            .split(',')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect(),
        purpose: r.text(3),
        valid_from: r.text(4),
        valid_to: r.text(5),
        reference: r.string(6),
    }
}

/// Stores an agreement (validated by the caller).
pub fn create_agreement(sql: &mut crate::sql::Db<'_>, a: &Agreement, now: &str) -> Result<i64> {
    let sql = sql.raw();
    sql.query_opt(
        "INSERT INTO agreements (institution, fields, purpose, valid_from, valid_to, reference, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        &[
            a.institution.as_str().into(),
            a.fields.join(",").into(),
            a.purpose.as_str().into(),
            a.valid_from.as_str().into(),
            a.valid_to.as_str().into(),
            a.reference.clone().into(),
            now.into(),
        ],
    )?
    .and_then(|r| r.int(0))
    .ok_or_else(|| StoreError::Invalid("el acuerdo no se guardó".into()))
}

/// Agreements, all or of one institution; `valid_on` (YYYY-MM-DD) keeps the ones in force.
pub fn agreements(
    sql: &mut crate::sql::Db<'_>,
    institution: Option<&str>,
    valid_on: Option<&str>,
) -> Result<Vec<Agreement>> {
    let sql = sql.raw();
    let rows = sql.query(
        "SELECT id, institution, fields, purpose, valid_from, valid_to, reference FROM agreements
         WHERE (CAST($1 AS TEXT) IS NULL OR institution = CAST($1 AS TEXT))
           AND (CAST($2 AS TEXT) IS NULL OR (valid_from <= CAST($2 AS TEXT) AND valid_to >= CAST($2 AS TEXT)))
         ORDER BY id",
        &[Param::from(institution), Param::from(valid_on)],
    )?;
    Ok(rows.iter().map(agreement).collect())
}
