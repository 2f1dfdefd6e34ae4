//! Accounts: the list and a new account (password policy, role, institution and territories
//! checked by `vamos_app::accounts`, which writes the audit record).

use super::{Created, Items};
use crate::auth::Principal;
use crate::error::ApiResult;
use crate::state::AppState;
use axum::extract::State;
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
    OpenApiRouter::new().routes(routes!(list_users, post_user))
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
    /// Al menos 12 caracteres y tres clases (minúsculas, mayúsculas, números, símbolos)
    pub password: String,
    #[schema(schema_with = role_codes)]
    pub role: String,
    /// Código de la institución (operadores)
    pub institution: Option<String>,
    /// Códigos separados por comas (DD o DDdd); vacío = nacional
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
