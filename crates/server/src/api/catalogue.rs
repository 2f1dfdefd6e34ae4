//! The service catalogue as the public may read it: institutions, services, packages and the
//! evidence of access each service accepts.

use crate::state::AppState;
use axum::extract::State;
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(catalogue))
}

/// The catalogue in force.
#[derive(Serialize, ToSchema)]
pub struct Catalogue {
    pub name: String,
    pub label: String,
    /// Versión (hash del contenido)
    pub version: String,
    /// Catálogo ilustrativo, no oficial
    pub illustrative: bool,
    pub description: String,
    pub institutions: Vec<Institution>,
    pub services: Vec<Service>,
}

#[derive(Serialize, ToSchema)]
pub struct Institution {
    pub code: String,
    pub name: String,
}

#[derive(Serialize, ToSchema)]
pub struct Service {
    pub code: String,
    pub name: String,
    /// Código de la institución
    pub institution: String,
    /// Categoría del ciclo de vida
    pub category: &'static str,
    /// El Logro al que cuenta (1 a 10)
    pub logro: u8,
    pub package: &'static str,
    /// Plazo de atención de una referencia, en días
    pub deadline_days: Option<u32>,
    /// Qué se acepta como evidencia de acceso
    pub evidence: Vec<String>,
}

impl From<&vamos_catalogue::Catalogue> for Catalogue {
    fn from(c: &vamos_catalogue::Catalogue) -> Self {
        Catalogue {
            name: c.name.clone(),
            label: c.label.clone(),
            version: c.version.clone(),
            illustrative: c.illustrative,
            description: c.description.clone(),
            institutions: c
                .institutions
                .iter()
                .map(|i| Institution {
                    code: i.code.clone(),
                    name: i.name.clone(),
                })
                .collect(),
            services: c
                .services
                .iter()
                .map(|s| Service {
                    code: s.code.clone(),
                    name: s.name.clone(),
                    institution: s.institution.clone(),
                    category: s.category.code(),
                    logro: s.category.logro(),
                    package: s.package.code(),
                    deadline_days: s.deadline_days,
                    evidence: s.evidence.iter().map(|e| e.description.clone()).collect(),
                })
                .collect(),
        }
    }
}

#[utoipa::path(get, path = "/api/catalogue", tag = "catálogo",
    summary = "Catálogo de servicios: instituciones, servicios, paquetes y evidencia",
    responses((status = 200, description = "Correcto", body = Catalogue)),
    extensions(("x-vamos-permission" = json!(null)), ("x-vamos-personal-data" = json!(false))))]
pub async fn catalogue(State(st): State<AppState>) -> Json<Catalogue> {
    Json(Catalogue::from(st.catalogue.as_ref()))
}
