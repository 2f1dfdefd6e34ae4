//! Social innovation for access (`/barreras`): the territorial view of the barriers that block
//! most cases and the facilitators designed against them, with the forms to record a barrier of
//! the district, mark it removed, design a facilitator and follow it up. Every read and change
//! goes through `vamos_app::barriers`, which checks scope and writes the audit record.

use super::Page;
use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::{Query, State};
use axum::response::Response;
use axum::Form;
use minijinja::context;
use minijinja::value::Value as JValue;
use std::collections::HashMap;
use vamos_app::barriers::{self as b, NewBarrier, NewFacilitator};
use vamos_domain::authz::Scope;
use vamos_domain::{Permission, TerritoryCode};

fn reader(page: &Page) -> Result<vamos_app::Actor, ApiError> {
    let Some(p) = page.user.as_ref() else {
        return Err(ApiError::unauthorized());
    };
    if !p.can(Permission::CasesRead) {
        return Err(ApiError::forbidden(
            "su rol no permite consultar las barreras de acceso de las Mesas",
        ));
    }
    Ok(p.as_actor())
}

/// `GET /barreras`
pub async fn page(
    State(st): State<AppState>,
    page: Page,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let actor = match reader(&page) {
        Ok(a) => a,
        Err(e) => return page.error(&e),
    };
    let territory = q
        .get("territorio")
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty());
    // The district the forms record in: the one shown, or the account's only one.
    let district = territory
        .clone()
        .filter(|t| t.len() == 4)
        .or_else(|| match &actor.scope {
            Scope::Territories(ts) => match ts.as_slice() {
                [TerritoryCode::District(d)] => Some(d.to_string()),
                _ => None,
            },
            Scope::National => None,
        });
    render(
        &st,
        &page,
        actor,
        territory,
        district,
        q.get("hecho").cloned(),
        None,
    )
    .await
}

async fn render(
    st: &AppState,
    page: &Page,
    actor: vamos_app::Actor,
    territory: Option<String>,
    district: Option<String>,
    done: Option<String>,
    refused: Option<String>,
) -> Response {
    let cat = st.catalogue.clone();
    let t2 = territory.clone();
    let view = match st
        .pool
        .run(move |s| Ok(b::view(s, &actor, &cat, t2.as_deref())?))
        .await
    {
        Ok(v) => v,
        Err(e) => return page.error(&e),
    };
    let barriers = vamos_app::cases::criteria(&st.catalogue)
        .map(|cv| cv.barriers)
        .unwrap_or_default();
    let services: Vec<JValue> = st
        .catalogue
        .services
        .iter()
        .map(|s| context! { code => s.code.clone(), name => s.name.clone() })
        .collect();
    let is_refused = refused.is_some();
    let ctx = context! {
        v => JValue::from_serialize(&view),
        territory,
        district,
        barriers => barriers.iter().map(|(code, label)| context! { code, label }).collect::<Vec<_>>(),
        services,
        statuses => b::STATUSES.iter().map(|(code, label)| context! { code, label }).collect::<Vec<_>>(),
        results => b::RESULTS.iter().map(|(code, label)| context! { code, label }).collect::<Vec<_>>(),
        can_work => page.can(Permission::CasesWork),
        done => done.filter(|d| d.starts_with("barrier-done-")),
        refused,
    };
    if is_refused {
        page.html_status(axum::http::StatusCode::BAD_REQUEST, "barreras.html", ctx)
    } else {
        page.html("barreras.html", ctx)
    }
}

#[derive(serde::Deserialize)]
pub struct Action {
    pub csrf: String,
    /// `registrar`, `superar`, `facilitador`, `seguir`.
    pub accion: String,
    pub distrito: Option<String>,
    pub barrera: Option<String>,
    pub servicio: Option<String>,
    pub descripcion: Option<String>,
    pub nombre: Option<String>,
    pub responsable: Option<String>,
    pub desde: Option<String>,
    pub hasta: Option<String>,
    pub numero: Option<i64>,
    pub estado: Option<String>,
    pub resultado: Option<String>,
    pub nota: Option<String>,
}

/// `POST /barreras`
pub async fn act(State(st): State<AppState>, page: Page, Form(a): Form<Action>) -> Response {
    let actor = match reader(&page) {
        Ok(a) => a,
        Err(e) => return page.error(&e),
    };
    if page.user.as_ref().is_none_or(|p| p.csrf() != a.csrf) {
        return page.error(&ApiError::forbidden(
            "el formulario venció o no es de esta sesión: vuelva a la página e intente de nuevo",
        ));
    }
    let cat = st.catalogue.clone();
    let accion = a.accion.clone();
    let district = a.distrito.clone().filter(|d| !d.trim().is_empty());
    let who = actor.clone();
    let out = st
        .pool
        .run(move |s| {
            let get = |v: &Option<String>| v.clone().unwrap_or_default();
            match a.accion.as_str() {
                "registrar" => {
                    b::record(
                        s,
                        &who,
                        &cat,
                        &NewBarrier {
                            territory: get(&a.distrito),
                            barrier: get(&a.barrera),
                            service: a.servicio.clone(),
                            description: get(&a.descripcion),
                        },
                    )?;
                }
                "superar" => b::resolve(s, &who, a.numero.unwrap_or(0))?,
                "facilitador" => {
                    b::add_facilitator(
                        s,
                        &who,
                        &cat,
                        &NewFacilitator {
                            territory: get(&a.distrito),
                            barrier: get(&a.barrera),
                            name: get(&a.nombre),
                            description: get(&a.descripcion),
                            owner: get(&a.responsable),
                            starts_on: get(&a.desde),
                            ends_on: get(&a.hasta),
                        },
                    )?;
                }
                "seguir" => b::follow(
                    s,
                    &who,
                    a.numero.unwrap_or(0),
                    &get(&a.estado),
                    a.resultado.as_deref(),
                    &get(&a.nota),
                )?,
                _ => return Err(vamos_app::Error::bad_request("acción desconocida").into()),
            }
            Ok(())
        })
        .await;
    let back = district
        .as_deref()
        .map(|d| format!("territorio={d}&"))
        .unwrap_or_default();
    match out {
        Ok(()) => super::redirect(&format!("/barreras?{back}hecho=barrier-done-{accion}")),
        // A refused form shows the page again with the reason.
        Err(e) if e.status == axum::http::StatusCode::BAD_REQUEST => {
            render(
                &st,
                &page,
                actor,
                district.clone(),
                district,
                None,
                Some(e.message),
            )
            .await
        }
        Err(e) => page.error(&e),
    }
}
