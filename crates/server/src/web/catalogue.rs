//! The catalogue browser (`/catalogo`), readable by anyone: for each life-cycle category (in
//! Logro order) its packages and services — provider institution, pillar, where it is
//! delivered, the service-level deadline of its referrals and the evidence that proves it was
//! delivered — the delivery points serving a chosen district, and the catalogue's own version,
//! marked *ilustrativo* when it is the shipped example rather than an agreed one.

use super::Page;
use crate::state::AppState;
use axum::extract::{Query, State};
use axum::response::Response;
use minijinja::context;
use minijinja::value::Value as JValue;
use serde::Deserialize;
use vamos_domain::services::{Category, Package};

#[derive(Deserialize, Default)]
pub struct CatalogueQuery {
    /// A category code, to show one only.
    pub categoria: Option<String>,
    /// A district (`DDdd`) whose delivery points to list.
    pub distrito: Option<String>,
}

/// `GET /catalogo`
pub async fn page(
    State(st): State<AppState>,
    page: Page,
    Query(q): Query<CatalogueQuery>,
) -> Response {
    let c = &st.catalogue;
    let only = q.categoria.as_deref().and_then(Category::parse);
    let institution = |code: &str| {
        c.institutions
            .iter()
            .find(|i| i.code == code)
            .map(|i| i.name.clone())
            .unwrap_or_else(|| code.to_string())
    };
    let categories: Vec<JValue> = Category::ALL
        .into_iter()
        .filter(|cat| only.is_none_or(|o| o == *cat))
        .map(|cat| {
            let packages: Vec<JValue> = Package::ALL
                .iter()
                .filter_map(|pkg| {
                    let services: Vec<JValue> = c
                        .services
                        .iter()
                        .filter(|s| s.category == cat && s.package == *pkg)
                        .map(|s| {
                            context! {
                                code => s.code.clone(),
                                name => s.name.clone(),
                                institution => s.institution.clone(),
                                institution_name => institution(&s.institution),
                                pillar => s.pillar.code(),
                                level => s.delivery_level.code(),
                                deadline => s.deadline_days,
                                evidence => s.evidence.iter().map(|e| e.description.clone()).collect::<Vec<_>>(),
                            }
                        })
                        .collect();
                    (!services.is_empty())
                        .then(|| context! { code => pkg.code(), services })
                })
                .collect();
            context! {
                code => cat.code(),
                logro => cat.logro(),
                packages,
            }
        })
        .collect();
    // Delivery points serving a district (public data: places, not persons).
    let district = q
        .distrito
        .as_deref()
        .and_then(|d| d.trim().parse::<u16>().ok())
        .and_then(|n| vamos_domain::DistrictCode::from_number(n).ok());
    let mut points: Option<Vec<JValue>> = None;
    if let Some(d) = district {
        let found = st
            .pool
            .run(move |s| {
                Ok(vamos_app::referrals::delivery_points(
                    s,
                    &vamos_app::Actor::public(),
                    Some(&d.to_string()),
                )?)
            })
            .await;
        match found {
            Ok(list) => points = Some(
                list.into_iter()
                    .map(|p| {
                        let service = c
                            .services
                            .iter()
                            .find(|x| x.code == p.service)
                            .map(|x| x.name.clone())
                            .unwrap_or_else(|| p.service.clone());
                        context! {
                            service, institution => p.institution, level => p.level, name => p.name,
                            address => p.address, hours => p.hours, contact => p.contact,
                            hosted_services => p.hosted_services, mesa_body => p.mesa_body,
                        }
                    })
                    .collect(),
            ),
            Err(e) => return page.error(&e),
        }
    }
    let t = vamos_domain::Territory::official();
    let districts: Vec<JValue> = t
        .districts()
        .iter()
        .map(|x| context! { code => x.code.to_string(), name => x.name.clone() })
        .collect();
    page.html(
        "catalogo.html",
        context! {
            points,
            districts,
            distrito => district.map(|d| d.to_string()),
            label => c.label.clone(),
            version => c.version.clone(),
            illustrative => c.illustrative,
            categories,
            all => Category::ALL.iter().map(|x| context! { code => x.code(), logro => x.logro() }).collect::<Vec<_>>(),
            only => only.map(|x| x.code()),
        },
    )
}
