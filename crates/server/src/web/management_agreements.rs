//! Interinstitutional management agreements on the web (`/acuerdos-de-gestion`): the list with
//! each agreement's status, the form to write one — parties, territory, period, commitments,
//! internal arrangements and the shared targets it adopts —, and each agreement's page with its
//! management targets followed against the measurements, where it is recorded as signed.
//! Everything goes through `vamos_app::management_agreements`, shared with
//! `/api/management-agreements` and `vamos management-agreements`.

use super::plans::reader;
use super::Page;
use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::Form;
use minijinja::context;
use minijinja::value::Value as JValue;
use std::collections::HashMap;
use vamos_app::management_agreements::{self as m, AgreementInput};
use vamos_domain::Permission;
use vamos_store::management_agreements::{Commitment, TargetRef};

/// `GET /acuerdos-de-gestion`
pub async fn list(State(st): State<AppState>, page: Page) -> Response {
    let actor = match reader(&page) {
        Ok(a) => a,
        Err(e) => return page.error(&e),
    };
    render_list(&st, &page, actor, None, context! {}).await
}

async fn render_list(
    st: &AppState,
    page: &Page,
    actor: vamos_app::Actor,
    refused: Option<(axum::http::StatusCode, String)>,
    form: JValue,
) -> Response {
    let can_edit = actor.can(Permission::PlansEdit);
    let cat = st.catalogue.clone();
    let out = st
        .pool
        .run(move |s| {
            Ok((
                m::list(s, &actor)?,
                vamos_app::targets::list(s, &actor, None).unwrap_or_default(),
            ))
        })
        .await;
    match out {
        Ok((items, targets)) => {
            let institutions: Vec<JValue> = cat
                .institutions
                .iter()
                .map(|i| context! { code => i.code, name => i.name })
                .collect();
            // Territories by name: a code such as `02` would read as a number in a message.
            let targets: Vec<JValue> = targets
                .iter()
                .map(|x| {
                    context! {
                        territory => x.territory, name => vamos_app::plans::territory_name(&x.territory),
                        logro => x.logro, year => x.year, coverage => x.coverage,
                    }
                })
                .collect();
            let (status, refused) =
                refused.map_or((axum::http::StatusCode::OK, None), |(s, m)| (s, Some(m)));
            page.html_status(
                status,
                "acuerdos_de_gestion.html",
                context! { items => JValue::from_serialize(&items), targets, institutions, can_edit, refused, form },
            )
        }
        Err(e) => page.error(&e),
    }
}

#[derive(serde::Deserialize)]
pub struct NewAgreement {
    pub csrf: String,
    pub titulo: String,
    pub territorio: String,
    /// Institution codes, one per checkbox (`partes=MEC&partes=MSPBS`): read from the raw form.
    #[serde(default)]
    pub desde: String,
    #[serde(default)]
    pub hasta: String,
    #[serde(default)]
    pub firma: String,
    #[serde(default)]
    pub arreglos: String,
    /// One commitment per line: `tipo; institución; descripción`.
    #[serde(default)]
    pub compromisos: String,
}

/// `POST /acuerdos-de-gestion`
pub async fn create(State(st): State<AppState>, page: Page, body: String) -> Response {
    let actor = match reader(&page) {
        Ok(a) => a,
        Err(e) => return page.error(&e),
    };
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(&body).unwrap_or_default();
    let Ok(a) = serde_urlencoded::from_str::<NewAgreement>(&body) else {
        return page.error(&ApiError::bad_request("formulario incompleto"));
    };
    if let Err(e) = page.form_ok(&a.csrf) {
        return page.error(&e);
    }
    let many = |k: &str| {
        pairs
            .iter()
            .filter(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .take(100)
            .collect::<Vec<_>>()
    };
    let commitments: Vec<Commitment> = a
        .compromisos
        .lines()
        .filter(|l| !l.trim().is_empty())
        .take(101)
        .map(|l| {
            let mut parts = l.splitn(3, ';').map(str::trim);
            Commitment {
                kind: parts.next().unwrap_or_default().to_lowercase(),
                institution: parts.next().unwrap_or_default().to_string(),
                description: parts.next().unwrap_or_default().to_string(),
            }
        })
        .collect();
    let targets: Vec<TargetRef> = many("metas")
        .iter()
        .filter_map(|t| {
            let mut p = t.split(':');
            Some(TargetRef {
                territory: p.next()?.to_string(),
                logro: p.next()?.parse().ok()?,
                year: p.next()?.parse().ok()?,
            })
        })
        .collect();
    let input = AgreementInput {
        title: a.titulo.clone(),
        territory: a.territorio.clone(),
        parties: many("partes"),
        period_from: a.desde.clone(),
        period_to: a.hasta.clone(),
        signed_on: Some(a.firma.clone()).filter(|f| !f.trim().is_empty()),
        arrangements: a.arreglos.clone(),
        commitments,
        targets,
    };
    let cat = st.catalogue.clone();
    let who = actor.clone();
    let out = st
        .pool
        .run(move |s| Ok(m::save(s, &who, &cat, None, &input)?))
        .await;
    match out {
        Ok(id) => super::redirect(&format!("/acuerdos-de-gestion/{id}?hecho=creado")),
        Err(e)
            if e.status == axum::http::StatusCode::BAD_REQUEST
                || e.status == axum::http::StatusCode::FORBIDDEN =>
        {
            let form = context! { titulo => a.titulo, territorio => a.territorio, desde => a.desde, hasta => a.hasta, firma => a.firma, arreglos => a.arreglos, compromisos => a.compromisos, partes => many("partes"), metas => many("metas") };
            render_list(&st, &page, actor, Some((e.status, e.message)), form).await
        }
        Err(e) => page.error(&e),
    }
}

/// `GET /acuerdos-de-gestion/{id}`
pub async fn detail(
    State(st): State<AppState>,
    page: Page,
    Path(id): Path<i64>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let actor = match reader(&page) {
        Ok(a) => a,
        Err(e) => return page.error(&e),
    };
    let done = q.get("hecho").and_then(|h| match h.as_str() {
        "creado" => Some("agreement-done-created"),
        "firmado" => Some("agreement-done-signed"),
        _ => None,
    });
    render_detail(&st, &page, actor, id, done, None).await
}

async fn render_detail(
    st: &AppState,
    page: &Page,
    actor: vamos_app::Actor,
    id: i64,
    done: Option<&str>,
    refused: Option<(axum::http::StatusCode, String)>,
) -> Response {
    let can_edit = actor.can(Permission::PlansEdit);
    let cat = st.catalogue.clone();
    match st
        .pool
        .run(move |s| Ok(m::view(s, &actor, &cat, id)?))
        .await
    {
        Ok(v) => {
            let (status, refused) =
                refused.map_or((axum::http::StatusCode::OK, None), |(s, m)| (s, Some(m)));
            page.html_status(
                status,
                "acuerdo_de_gestion.html",
                context! { v => JValue::from_serialize(&v), can_edit, done, refused },
            )
        }
        Err(e) => page.error(&e),
    }
}

#[derive(serde::Deserialize)]
pub struct Sign {
    pub csrf: String,
    pub fecha: String,
}

/// `POST /acuerdos-de-gestion/{id}`: record it as signed.
pub async fn sign(
    State(st): State<AppState>,
    page: Page,
    Path(id): Path<i64>,
    Form(f): Form<Sign>,
) -> Response {
    let actor = match reader(&page) {
        Ok(a) => a,
        Err(e) => return page.error(&e),
    };
    if let Err(e) = page.form_ok(&f.csrf) {
        return page.error(&e);
    }
    let cat = st.catalogue.clone();
    let who = actor.clone();
    let out = st
        .pool
        .run(move |s| Ok(m::sign(s, &who, &cat, id, &f.fecha)?))
        .await;
    match out {
        Ok(()) => super::redirect(&format!("/acuerdos-de-gestion/{id}?hecho=firmado")),
        Err(e) if e.status == axum::http::StatusCode::BAD_REQUEST => {
            render_detail(&st, &page, actor, id, None, Some((e.status, e.message))).await
        }
        Err(e) => page.error(&e),
    }
}
