//! Data-sharing agreements: which person fields an institution's operators may see, for what
//! purpose and when.

use super::{Created, Items};
use crate::auth::Principal;
use crate::error::ApiResult;
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::openapi::{ArrayBuilder, KnownFormat, ObjectBuilder, SchemaFormat, Type};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use vamos_app::accounts;
use vamos_domain::Permission;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_agreements, post_agreement))
}

/// A data-sharing agreement.
#[derive(Serialize, ToSchema)]
pub struct Agreement {
    pub id: i64,
    /// Código de la institución
    pub institution: String,
    /// Campos de la persona que sus operadores ven
    pub fields: Vec<String>,
    pub purpose: String,
    pub valid_from: String,
    pub valid_to: String,
    /// Referencia del instrumento (convenio, resolución)
    pub reference: Option<String>,
}

impl From<accounts::Agreement> for Agreement {
    fn from(a: accounts::Agreement) -> Self {
        Agreement {
            id: a.id,
            institution: a.institution,
            fields: a.fields,
            purpose: a.purpose,
            valid_from: a.valid_from,
            valid_to: a.valid_to,
            reference: a.reference,
        }
    }
}

#[utoipa::path(get, path = "/api/agreements", tag = "administración",
    summary = "Acuerdos de intercambio de datos",
    responses((status = 200, description = "Correcto", body = Items<Agreement>)),
    extensions(("x-vamos-permission" = json!(Permission::UsersAdmin.code())), ("x-vamos-personal-data" = json!(false))))]
pub async fn list_agreements(
    State(st): State<AppState>,
    p: Principal,
) -> ApiResult<Json<Items<Agreement>>> {
    let a = p.act(&st, accounts::agreements).await?;
    Ok(Json(Items {
        items: a.into_iter().map(Agreement::from).collect(),
    }))
}

/// A new agreement.
#[derive(Deserialize, ToSchema)]
pub struct NewAgreement {
    pub institution: String,
    /// Campos de la persona que sus operadores ven, y los únicos por los que filtran u ordenan;
    /// las clases sensibles (`embarazada`, `indigena`, `discapacidad`, `pobreza`) son campos como
    /// los demás.
    #[schema(schema_with = person_fields)]
    pub fields: Vec<String>,
    pub purpose: String,
    #[schema(schema_with = date)]
    pub valid_from: String,
    #[schema(schema_with = date)]
    pub valid_to: String,
    pub reference: Option<String>,
}

/// The person fields an agreement may grant, from the field policy in `domain`.
fn person_fields() -> ArrayBuilder {
    ArrayBuilder::new().items(
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(vamos_domain::authz::person_field_names())),
    )
}

fn date() -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Date)))
}

impl From<NewAgreement> for vamos_app::accounts::AgreementBody {
    fn from(b: NewAgreement) -> Self {
        vamos_app::accounts::AgreementBody {
            institution: b.institution,
            fields: b.fields,
            purpose: b.purpose,
            valid_from: b.valid_from,
            valid_to: b.valid_to,
            reference: b.reference,
        }
    }
}

#[utoipa::path(post, path = "/api/agreements", tag = "administración",
    summary = "Registrar un acuerdo de intercambio de datos",
    request_body = NewAgreement,
    responses((status = 201, description = "Correcto", body = Created)),
    extensions(("x-vamos-permission" = json!(Permission::UsersAdmin.code())), ("x-vamos-personal-data" = json!(false))))]
pub async fn post_agreement(
    State(st): State<AppState>,
    p: Principal,
    Json(b): Json<NewAgreement>,
) -> ApiResult<(StatusCode, Json<Created>)> {
    let cat = st.catalogue.clone();
    let b = vamos_app::accounts::AgreementBody::from(b);
    let id = st
        .pool
        .run(move |s| {
            Ok(vamos_app::accounts::create_agreement(
                s,
                &p.as_actor(),
                &cat,
                &b,
            )?)
        })
        .await?;
    Ok((StatusCode::CREATED, Json(Created { id })))
}
