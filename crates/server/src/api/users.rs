//! Accounts: the list, a new account and an administrator's reset of a password (password
//! policy, role, institution and territories checked by `vamos_app::accounts`, which ends the
//! sessions a reset must end and writes the audit record).

use super::{Created, Items};
use crate::auth::Principal;
use crate::error::ApiResult;
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::openapi::{ObjectBuilder, Type};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use vamos_app::accounts;
use vamos_domain::{Permission, Role};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_users, post_user))
        .routes(routes!(reset_password))
}

/// An account (never its password).
#[derive(Serialize, ToSchema)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    /// Código del rol
    pub role: String,
    pub institution: Option<String>,
    /// Códigos de territorio separados por comas; vacío = nacional
    pub territories: String,
    pub active: bool,
    pub failed_logins: i64,
    pub locked_until: Option<String>,
    pub created_at: String,
}

impl From<accounts::User> for User {
    fn from(u: accounts::User) -> Self {
        User {
            id: u.id,
            username: u.username,
            display_name: u.display_name,
            role: u.role,
            institution: u.institution,
            territories: u.territories,
            active: u.active,
            failed_logins: u.failed_logins,
            locked_until: u.locked_until,
            created_at: u.created_at,
        }
    }
}

#[utoipa::path(get, path = "/api/users", tag = "administración",
    summary = "Cuentas",
    responses((status = 200, description = "Correcto", body = Items<User>)),
    extensions(("x-vamos-permission" = json!(Permission::UsersAdmin.code())), ("x-vamos-personal-data" = json!(false))))]
pub async fn list_users(State(st): State<AppState>, p: Principal) -> ApiResult<Json<Items<User>>> {
    let users = p.act(&st, accounts::users).await?;
    Ok(Json(Items {
        items: users.into_iter().map(User::from).collect(),
    }))
}

/// A new account.
#[derive(Deserialize, ToSchema)]
pub struct NewUser {
    pub username: String,
    pub display_name: Option<String>,
    /// Al menos 12 caracteres, difícil de adivinar (zxcvbn ≥ 3), sin el nombre de usuario
    pub password: String,
    #[schema(schema_with = role_codes)]
    pub role: String,
    /// Código de la institución (operadores)
    pub institution: Option<String>,
    /// Códigos separados por comas (DD o DDdd); vacío = nacional, solo para administrador,
    /// analista, coordinador y encuestador (operador, mesa y orientador necesitan territorios)
    pub territories: Option<String>,
}

/// The roles an account may have (every role but the public one), from the table in `domain`.
fn role_codes() -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(
            Role::ALL
                .iter()
                .filter(|r| **r != Role::Publico)
                .map(|r| r.code()),
        ))
}

impl From<NewUser> for vamos_app::accounts::NewUserBody {
    fn from(b: NewUser) -> Self {
        vamos_app::accounts::NewUserBody {
            username: b.username,
            display_name: b.display_name,
            password: b.password,
            role: b.role,
            institution: b.institution,
            territories: b.territories,
        }
    }
}

#[utoipa::path(post, path = "/api/users", tag = "administración",
    summary = "Crear una cuenta",
    request_body = NewUser,
    responses((status = 201, description = "Correcto", body = Created)),
    extensions(("x-vamos-permission" = json!(Permission::UsersAdmin.code())), ("x-vamos-personal-data" = json!(false))))]
pub async fn post_user(
    State(st): State<AppState>,
    p: Principal,
    Json(b): Json<NewUser>,
) -> ApiResult<(StatusCode, Json<Created>)> {
    let cat = st.catalogue.clone();
    let b = vamos_app::accounts::NewUserBody::from(b);
    let id = st
        .pool
        .run(move |s| {
            Ok(vamos_app::accounts::create_user(
                s,
                &p.as_actor(),
                &cat,
                &b,
            )?)
        })
        .await?;
    Ok((StatusCode::CREATED, Json(Created { id })))
}

/// A new password for an account, set by an administrator.
#[derive(Deserialize, ToSchema)]
pub struct PasswordReset {
    /// Al menos 12 caracteres, difícil de adivinar (zxcvbn ≥ 3), sin el nombre de usuario
    #[schema(max_length = 1024)]
    pub password: String,
}

/// What a reset did.
#[derive(Serialize, ToSchema)]
pub struct PasswordResetDone {
    /// Sesiones de la cuenta que se cerraron (todas)
    pub sessions_ended: u64,
}

#[utoipa::path(post, path = "/api/users/{username}/password", tag = "administración",
    summary = "Restablecer la contraseña de una cuenta (la desbloquea y cierra todas sus sesiones; sus tokens de API siguen)",
    params(("username" = String, Path, description = "Nombre de usuario")),
    request_body = PasswordReset,
    responses(
        (status = 200, description = "Correcto", body = PasswordResetDone),
        (status = 400, description = "La contraseña no cumple la política", body = crate::error::ErrorBody),
        (status = 404, description = "No existe la cuenta", body = crate::error::ErrorBody),
    ),
    extensions(("x-vamos-permission" = json!(Permission::UsersAdmin.code())), ("x-vamos-personal-data" = json!(false))))]
pub async fn reset_password(
    State(st): State<AppState>,
    p: Principal,
    Path(username): Path<String>,
    Json(b): Json<PasswordReset>,
) -> ApiResult<Json<PasswordResetDone>> {
    let sessions_ended = p
        .act(&st, move |s, actor| {
            accounts::set_password(s, actor, &username, &b.password)
        })
        .await?;
    Ok(Json(PasswordResetDone { sessions_ended }))
}
