//! The Mesa's workbench for Canal Verde (`/casos`): its territory's candidates ordered by
//! priority with their reasons, its cases by stage, and the case page (plan, evidence, timeline)
//! with every step of following it. Every read and change goes through `vamos_app::cases`,
//! which checks scope and writes the audit record.

// reason: serde_json::Value["key"] yields Null when absent, it cannot panic
#![allow(clippy::indexing_slicing)]

use super::Page;
use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::Form;
use minijinja::context;
use minijinja::value::Value as JValue;
use std::collections::HashMap;
use vamos_app::cases::{self as c, TaskAction};
use vamos_domain::cases::CaseStatus;
use vamos_domain::Permission;

fn staff(page: &Page) -> Result<vamos_app::Actor, ApiError> {
    let Some(p) = page.user.as_ref() else {
        return Err(ApiError::unauthorized());
    };
    if !p.can(Permission::CasesRead) {
        return Err(ApiError::forbidden(
            "su rol no permite consultar casos de Canal Verde",
        ));
    }
    Ok(p.as_actor())
}

fn csrf_ok(page: &Page, token: &str) -> bool {
    page.user.as_ref().is_some_and(|p| p.csrf() == token)
}

/// `GET /casos`: candidates (the account's whole scope, or `territorio`) and cases by stage.
pub async fn workbench(
    State(st): State<AppState>,
    page: Page,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let actor = match staff(&page) {
        Ok(a) => a,
        Err(e) => return page.error(&e),
    };
    let territory = q.get("territorio").cloned().filter(|t| !t.is_empty());
    let cat = st.catalogue.clone();
    let t2 = territory.clone();
    let out = st
        .pool
        .run(move |s| {
            let candidates = c::candidates_page(s, &actor, &cat, t2.as_deref(), Some(200))?;
            let figures = c::figures(s, &actor, t2.as_deref())?;
            let cases = c::list(
                s,
                &actor,
                &c::ListQuery {
                    territory: t2.filter(|t| t.len() == 4),
                    status: None,
                    all: Some(false),
                    limit: Some(500),
                },
            )?;
            Ok((candidates, cases, figures))
        })
        .await;
    let ((candidates, total), cases, figures) = match out {
        Ok(x) => x,
        Err(e) => return page.error(&e),
    };
    let shown: Vec<_> = candidates
        .into_iter()
        .filter(|c| c.open_case.is_none())
        .take(200)
        .collect();
    let stages: Vec<JValue> = CaseStatus::ALL
        .iter()
        .filter(|s| s.is_open())
        .map(|s| {
            let items: Vec<_> = cases.iter().filter(|c| c.status == s.code()).collect();
            context! { code => s.code(), label => s.label(), items => JValue::from_serialize(&items) }
        })
        .collect();
    page.html(
        "casos.html",
        context! {
            candidates => JValue::from_serialize(&shown),
            total,
            figures => JValue::from_serialize(&figures),
            stages,
            territory,
            can_open => page.can(Permission::CasesOpen) || page.can(Permission::CasesWork),
            done => q.get("hecho").filter(|h| h.starts_with("case-done-")).cloned(),
        },
    )
}

#[derive(serde::Deserialize)]
pub struct OpenForm {
    pub csrf: String,
    pub unidad: String,
    pub numero: i64,
    pub motivo: String,
    pub origen: Option<String>,
    pub protocolo: Option<String>,
    /// The person page the case was opened from (an orientador, who does not follow cases,
    /// goes back there).
    pub volver: Option<String>,
}

/// `POST /casos`: opens a case and shows it.
pub async fn open(State(st): State<AppState>, page: Page, Form(f): Form<OpenForm>) -> Response {
    let Some(p) = page.user.as_ref() else {
        return page.error(&ApiError::unauthorized());
    };
    if !csrf_ok(&page, &f.csrf) {
        return page.error(&ApiError::forbidden(
            "el formulario venció o no es de esta sesión: vuelva a la página e intente de nuevo",
        ));
    }
    let actor = p.as_actor();
    let cat = st.catalogue.clone();
    // Only back to the page of the person the case is opened for (built here, not taken).
    let back = f
        .volver
        .as_deref()
        .filter(|_| f.unidad == "persona")
        .map(|_| format!("/registro/personas/{}", f.numero));
    let o = c::OpenCase {
        unit_kind: f.unidad,
        unit_id: f.numero,
        reason: f.motivo,
        origin: f.origen.filter(|s| !s.is_empty()),
        protocol: f.protocolo.filter(|s| !s.is_empty()),
    };
    match st
        .pool
        .run(move |s| Ok(c::open(s, &actor, &cat, &o)?))
        .await
    {
        Ok(id) => match back {
            Some(b) if !page.can(Permission::CasesRead) => {
                super::redirect(&format!("{b}?hecho=person-done-case&caso={id}"))
            }
            _ => super::redirect(&format!("/casos/{id}?hecho=case-done-abrir")),
        },
        Err(e) => page.error(&e),
    }
}

/// `GET /casos/{id}`: the case, its plan checked against today's classification, its timeline.
pub async fn case_page(
    State(st): State<AppState>,
    page: Page,
    Path(id): Path<i64>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let done = q
        .get("hecho")
        .filter(|h| h.starts_with("case-done-"))
        .cloned();
    render(&st, &page, id, done, None).await
}

/// The case page; `refused` is why the last step was refused (shown above the plan, answered
/// with 409 so the refusal is not taken for success).
async fn render(
    st: &AppState,
    page: &Page,
    id: i64,
    done: Option<String>,
    refused: Option<String>,
) -> Response {
    let actor = match staff(page) {
        Ok(a) => a,
        Err(e) => return page.error(&e),
    };
    let cat = st.catalogue.clone();
    let v = match st
        .pool
        .run(move |s| Ok(c::check(s, &actor, &cat, id)?))
        .await
    {
        Ok(v) => v,
        Err(e) => return page.error(&e),
    };
    let me = page.user.as_ref().map(|u| u.user.username.clone());
    // The barriers of the Canal Verde in force (the catalogue folder's own list, if any).
    let barriers = c::criteria(&st.catalogue)
        .map(|cv| cv.barriers)
        .unwrap_or_default();
    let pending = v["status"] == "cierre_pendiente";
    let own_request = v["ending_requested_by"].as_str() == me.as_deref();
    let ctx = context! {
        c => JValue::from_serialize(&v),
        open => v["status"] != "cerrado",
        can_work => page.can(Permission::CasesWork),
        can_approve => page.can(Permission::CasesApprove) && pending && !own_request,
        barriers => barriers.iter().map(|(code, label)| context! { code, label }).collect::<Vec<_>>(),
        done,
        refused => refused.clone(),
    };
    if refused.is_some() {
        page.html_status(axum::http::StatusCode::CONFLICT, "caso.html", ctx)
    } else {
        page.html("caso.html", ctx)
    }
}

#[derive(serde::Deserialize)]
pub struct Action {
    pub csrf: String,
    /// `asignar`, `anotar`, `paso`, `barrera`, `cerrar`, `otro_cierre`, `aprobar`, `rechazar`,
    /// `reabrir`, `aceptar` (a case offered to the account's district).
    pub accion: String,
    pub cuenta: Option<String>,
    pub institucion: Option<String>,
    pub tipo: Option<String>,
    pub texto: Option<String>,
    pub tarea: Option<i64>,
    pub barrera: Option<String>,
    pub cierre: Option<String>,
    pub motivo: Option<String>,
}

/// `POST /casos/{id}`: one step of following the case.
pub async fn act(
    State(st): State<AppState>,
    page: Page,
    Path(id): Path<i64>,
    Form(a): Form<Action>,
) -> Response {
    let actor = match staff(&page) {
        Ok(a) => a,
        Err(e) => return page.error(&e),
    };
    if !csrf_ok(&page, &a.csrf) {
        return page.error(&ApiError::forbidden(
            "el formulario venció o no es de esta sesión: vuelva al caso e intente de nuevo",
        ));
    }
    let cat = st.catalogue.clone();
    let accion = a.accion.clone();
    let text = a.texto.clone().unwrap_or_default();
    let out = st
        .pool
        .run(move |s| {
            match a.accion.as_str() {
                "asignar" => c::assign(
                    s,
                    &actor,
                    &cat,
                    id,
                    a.cuenta.as_deref(),
                    a.institucion.as_deref(),
                )?,
                "anotar" => c::note(s, &actor, id, a.tipo.as_deref().unwrap_or("nota"), &text)?,
                "paso" => c::task(
                    s,
                    &actor,
                    &cat,
                    id,
                    a.tarea.unwrap_or(0),
                    &TaskAction::Done { note: text },
                )?,
                "barrera" => c::task(
                    s,
                    &actor,
                    &cat,
                    id,
                    a.tarea.unwrap_or(0),
                    &TaskAction::Barrier {
                        code: a.barrera.unwrap_or_default(),
                        note: text,
                    },
                )?,
                "cerrar" => {
                    c::close(s, &actor, &cat, id, None, None)?;
                }
                "otro_cierre" => {
                    c::close(
                        s,
                        &actor,
                        &cat,
                        id,
                        a.cierre.as_deref(),
                        a.motivo.as_deref(),
                    )?;
                }
                "aprobar" => {
                    c::approve(s, &actor, id, true, None)?;
                }
                "rechazar" => {
                    c::approve(s, &actor, id, false, a.motivo.as_deref())?;
                }
                "reabrir" => c::reopen(s, &actor, id, a.motivo.as_deref().unwrap_or(""))?,
                "aceptar" => c::accept(s, &actor, id)?,
                _ => return Err(vamos_app::Error::bad_request("acción desconocida").into()),
            }
            Ok(())
        })
        .await;
    match out {
        Ok(()) => super::redirect(&format!("/casos/{id}?hecho=case-done-{accion}")),
        // A refused step (closing an unverified plan, approving one's own request…) shows the
        // case again with the reason, rather than leaving the page.
        Err(e)
            if e.status == axum::http::StatusCode::CONFLICT
                || e.status == axum::http::StatusCode::BAD_REQUEST =>
        {
            render(&st, &page, id, None, Some(e.message)).await
        }
        Err(e) => page.error(&e),
    }
}
