//! API tokens: the list (never their secrets), a new token (its secret shown once) and
//! revocation.

use super::Items;
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::openapi::{ArrayBuilder, ObjectBuilder, Type};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use vamos_app::accounts;
use vamos_domain::Permission;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_tokens, post_token))
        .routes(routes!(delete_token))
}

/// A stored API token (never its secret).
#[derive(Serialize, ToSchema)]
pub struct Token {
    pub id: i64,
    /// Comienzo visible del token
    pub prefix: String,
    pub user_id: i64,
    pub username: String,
    pub name: String,
    /// Permisos que el token lleva
    pub scopes: Vec<String>,
    pub created_at: String,
    pub expires_at: String,
    pub revoked_at: Option<String>,
    pub last_used_at: Option<String>,
}

impl From<accounts::ApiToken> for Token {
    fn from(t: accounts::ApiToken) -> Self {
        Token {
            id: t.id,
            prefix: t.prefix,
            user_id: t.user_id,
            username: t.username,
            name: t.name,
            scopes: t.scopes,
            created_at: t.created_at,
            expires_at: t.expires_at,
            revoked_at: t.revoked_at,
            last_used_at: t.last_used_at,
        }
    }
}

#[utoipa::path(get, path = "/api/tokens", tag = "administración",
    summary = "Tokens de API (sin sus secretos)",
    responses((status = 200, description = "Correcto", body = Items<Token>)),
    extensions(("x-vamos-permission" = json!(Permission::UsersAdmin.code())), ("x-vamos-personal-data" = json!(false))))]
pub async fn list_tokens(
    State(st): State<AppState>,
    p: Principal,
) -> ApiResult<Json<Items<Token>>> {
    let t = p.act(&st, accounts::tokens).await?;
    Ok(Json(Items {
        items: t.into_iter().map(Token::from).collect(),
    }))
}

/// A new token for an account.
#[derive(Deserialize, ToSchema)]
pub struct NewToken {
    /// La cuenta por la que actúa
    pub username: String,
    pub name: String,
    #[schema(schema_with = permission_codes)]
    pub scopes: Vec<String>,
    /// Días de validez
    #[schema(minimum = 1, maximum = 730)]
    pub days: Option<i64>,
}

/// The permissions a token may carry, from the table in `domain`.
fn permission_codes() -> ArrayBuilder {
    ArrayBuilder::new().items(
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(Permission::ALL.iter().map(|p| p.code()))),
    )
}

impl From<NewToken> for vamos_app::accounts::NewTokenBody {
    fn from(b: NewToken) -> Self {
        vamos_app::accounts::NewTokenBody {
            username: b.username,
            name: b.name,
            scopes: b.scopes,
            days: b.days,
        }
    }
}

/// A token just created: the only time its secret is shown.
#[derive(Serialize, ToSchema)]
pub struct TokenCreated {
    pub id: i64,
    /// El secreto (Authorization: Bearer …)
    pub token: String,
    pub expires_at: String,
    pub note: &'static str,
}

#[utoipa::path(post, path = "/api/tokens", tag = "administración",
    summary = "Crear un token de API (el secreto se muestra una sola vez)",
    request_body = NewToken,
    responses((status = 201, description = "Correcto", body = TokenCreated)),
    extensions(("x-vamos-permission" = json!(Permission::UsersAdmin.code())), ("x-vamos-personal-data" = json!(false))))]
pub async fn post_token(
    State(st): State<AppState>,
    p: Principal,
    Json(b): Json<NewToken>,
) -> ApiResult<(StatusCode, Json<TokenCreated>)> {
    let b = vamos_app::accounts::NewTokenBody::from(b);
    let (id, token, expires_at) = st
        .pool
        .run(move |s| Ok(vamos_app::accounts::create_token(s, &p.as_actor(), &b)?))
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(TokenCreated {
            id,
            token,
            expires_at,
            note: "guarde el token ahora: no se vuelve a mostrar",
        }),
    ))
}

#[utoipa::path(delete, path = "/api/tokens/{id}", tag = "administración",
    summary = "Revocar un token",
    params(("id" = i64, Path, description = "Número interno")),
    responses(
        (status = 204, description = "Hecho, sin contenido"),
        (status = 404, description = "No encontrado (o fuera del ámbito de la cuenta)", body = crate::error::ErrorBody),
    ),
    extensions(("x-vamos-permission" = json!(Permission::UsersAdmin.code())), ("x-vamos-personal-data" = json!(false))))]
pub async fn delete_token(
    State(st): State<AppState>,
    p: Principal,
    Path(id): Path<i64>,
) -> ApiResult<StatusCode> {
    let done = p
        .act(&st, move |s, actor| {
            accounts::revoke_token(s, actor, &id.to_string())
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
