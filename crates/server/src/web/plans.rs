//! The strategic framework on the web (`/planes`): the plans, each with its objectives down to
//! every indicator's baseline, target, gap and current value; the forms to import a workbook,
//! set a target, take the baselines again from a measurement; the template, the illustrative
//! framework and each plan as XLSX. The planning pages (`/costeo/escenarios`, `/presupuesto`,
//! `/acuerdos-de-gestion`) are linked from here. Every read and change goes through
//! `vamos_app::plans`, shared with `/api/plans` and `vamos plan`.

use super::Page;
use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::{Multipart, Path, State};
use axum::response::Response;
use axum::Form;
use minijinja::context;
use minijinja::value::Value as JValue;
use std::collections::BTreeMap;
use vamos_app::plans::{self as p, xlsx, SetValue};
use vamos_domain::Permission;

/// The reader of the planning pages (`planes:leer`).
pub(super) fn reader(page: &Page) -> Result<vamos_app::Actor, ApiError> {
    let Some(u) = page.user.as_ref() else {
        return Err(ApiError::unauthorized());
    };
    if !u.can(Permission::PlansRead) {
        return Err(ApiError::forbidden(
            "su rol no permite consultar los planes, el presupuesto ni los acuerdos de gestión",
        ));
    }
    Ok(u.as_actor())
}

/// A form with one file, from an editor (`planes:editar`) of this session: its text fields and
/// the file saved in `dir` (its name kept safe) — written only once the form's CSRF token (its
/// first field) matched `csrf`.
pub(super) async fn one_file(
    form: &mut Multipart,
    dir: &std::path::Path,
    field_name: &str,
    csrf: &str,
) -> Result<(BTreeMap<String, String>, Option<std::path::PathBuf>), ApiError> {
    let mut fields = BTreeMap::new();
    let mut file = None;
    loop {
        let field = match form.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => {
                return Err(ApiError::bad_request(format!(
                    "el envío no se pudo leer: {e}"
                )))
            }
        };
        let name = field.name().unwrap_or("").to_string();
        if name == field_name {
            if fields.get("csrf").map(String::as_str) != Some(csrf) {
                return Err(ApiError::forbidden(
                    "el formulario venció o no es de esta sesión: vuelva a la página e intente de nuevo",
                ));
            }
            let Some(safe) = field.file_name().and_then(super::imports::safe_name) else {
                continue;
            };
            let bytes = field.bytes().await.map_err(|e| {
                ApiError::bad_request(format!("el archivo no se pudo recibir: {e}"))
            })?;
            if bytes.is_empty() {
                continue;
            }
            let path = dir.join(safe);
            std::fs::write(&path, &bytes).map_err(ApiError::internal)?;
            file = Some(path);
        } else if fields.len() < 20 {
            let text = field.text().await.unwrap_or_default();
            fields.insert(name, text.chars().take(2000).collect());
        }
    }
    Ok((fields, file))
}

/// `GET /planes`
pub async fn list(State(st): State<AppState>, page: Page) -> Response {
    let actor = match reader(&page) {
        Ok(a) => a,
        Err(e) => return page.error(&e),
    };
    render_list(&st, &page, actor, JValue::from(()), None).await
}

async fn render_list(
    st: &AppState,
    page: &Page,
    actor: vamos_app::Actor,
    outcome: JValue,
    status: Option<axum::http::StatusCode>,
) -> Response {
    let can_edit = actor.can(Permission::PlansEdit);
    match st.pool.run(move |s| Ok(p::list(s, &actor)?)).await {
        Ok(plans) => {
            let ctx = context! { plans => JValue::from_serialize(&plans), can_edit, outcome };
            page.html_status(
                status.unwrap_or(axum::http::StatusCode::OK),
                "planes.html",
                ctx,
            )
        }
        Err(e) => page.error(&e),
    }
}

/// The editor of the planning pages (`planes:editar`) and its session's CSRF token.
pub(super) fn editor(page: &Page) -> Result<(vamos_app::Actor, String), ApiError> {
    let actor = reader(page)?;
    actor.require(Permission::PlansEdit)?;
    let csrf = page
        .user
        .as_ref()
        .map(|u| u.csrf().to_string())
        .unwrap_or_default();
    Ok((actor, csrf))
}

/// `POST /planes`: a workbook to import.
pub async fn upload(State(st): State<AppState>, page: Page, mut form: Multipart) -> Response {
    let (actor, csrf) = match editor(&page) {
        Ok(a) => a,
        Err(e) => return page.error(&e),
    };
    let dir = match tempfile::Builder::new().prefix("vamos-plan-").tempdir() {
        Ok(d) => d,
        Err(e) => return page.error(&ApiError::internal(e)),
    };
    let (fields, file) = match one_file(&mut form, dir.path(), "archivo", &csrf).await {
        Ok(x) => x,
        Err(e) => return page.error(&e),
    };
    // A form without a file has not shown its token yet.
    if let Err(e) = page.form_ok(fields.get("csrf").map_or("", String::as_str)) {
        return page.error(&e);
    }
    let Some(path) = file else {
        return page.error(&ApiError::bad_request("elija un libro XLSX"));
    };
    let cat = st.catalogue.clone();
    let who = actor.clone();
    let out = st
        .pool
        .run(move |s| {
            let label = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let (f, rows, problems) =
                xlsx::read(&path).map_err(|e| vamos_app::Error::bad_request(e.to_string()))?;
            if !problems.is_empty() {
                return Ok(Err(problems));
            }
            Ok(p::store(s, &who, &cat, f, &rows, &label)?)
        })
        .await;
    drop(dir);
    match out {
        Ok(Ok(stored)) => super::redirect(&format!("/planes/{}?hecho=importado", stored.plan)),
        Ok(Err(problems)) => {
            let outcome = context! { problems => JValue::from_serialize(&problems) };
            render_list(
                &st,
                &page,
                actor,
                outcome,
                Some(axum::http::StatusCode::UNPROCESSABLE_ENTITY),
            )
            .await
        }
        Err(e) if e.status == axum::http::StatusCode::BAD_REQUEST => {
            let outcome = context! { message => e.message };
            render_list(&st, &page, actor, outcome, Some(e.status)).await
        }
        Err(e) => page.error(&e),
    }
}

/// `GET /planes/plantilla.xlsx`
pub async fn template(page: Page) -> Response {
    workbook(&page, false)
}

/// `GET /planes/ilustrativo.xlsx`
pub async fn illustrative(page: Page) -> Response {
    workbook(&page, true)
}

fn workbook(page: &Page, illustrative: bool) -> Response {
    if let Err(e) = reader(page) {
        return page.error(&e);
    }
    let (f, name) = if illustrative {
        match xlsx::illustrative() {
            Ok(f) => (f, "marco_estrategico_ilustrativo.xlsx"),
            Err(e) => return page.error(&ApiError::internal(e)),
        }
    } else {
        (
            vamos_store::plans::Framework::default(),
            "plantilla_marco_estrategico.xlsx",
        )
    };
    match xlsx::write(&f) {
        Ok(body) => crate::api::xlsx_download(name, body),
        Err(e) => page.error(&ApiError::internal(e)),
    }
}

/// `GET /planes/{id}`
pub async fn detail(
    State(st): State<AppState>,
    page: Page,
    Path(id): Path<i64>,
    axum::extract::Query(q): axum::extract::Query<std::collections::HashMap<String, String>>,
) -> Response {
    let actor = match reader(&page) {
        Ok(a) => a,
        Err(e) => return page.error(&e),
    };
    let done = q.get("hecho").and_then(|h| match h.as_str() {
        "importado" => Some((axum::http::StatusCode::OK, "plan-done-imported")),
        "guardado" => Some((axum::http::StatusCode::OK, "plan-done-saved")),
        _ => None,
    });
    render_detail(
        &st,
        &page,
        actor,
        id,
        done.map(|(s, k)| (s, format!("@{k}"))),
    )
    .await
}

async fn render_detail(
    st: &AppState,
    page: &Page,
    actor: vamos_app::Actor,
    id: i64,
    message: Option<(axum::http::StatusCode, String)>,
) -> Response {
    let can_edit = actor.can(Permission::PlansEdit);
    match st.pool.run(move |s| Ok(p::view(s, &actor, id)?)).await {
        Ok(v) => {
            let (status, message) =
                message.map_or((axum::http::StatusCode::OK, None), |(s, m)| (s, Some(m)));
            // `@key`: a confirmation message of the page's own; anything else, a refusal.
            let done = message
                .as_deref()
                .and_then(|m| m.strip_prefix('@'))
                .map(str::to_string);
            let refused = message.filter(|m| !m.starts_with('@'));
            page.html_status(
                status,
                "plan.html",
                context! { v => JValue::from_serialize(&v), can_edit, done, refused },
            )
        }
        Err(e) => page.error(&e),
    }
}

/// `GET /planes/{id}/xlsx`
pub async fn export(State(st): State<AppState>, page: Page, Path(id): Path<i64>) -> Response {
    let actor = match reader(&page) {
        Ok(a) => a,
        Err(e) => return page.error(&e),
    };
    match st.pool.run(move |s| Ok(p::get(s, &actor, id)?)).await {
        Ok(f) => match xlsx::write(&f) {
            Ok(body) => {
                crate::api::xlsx_download(&format!("plan_{id}_v{}.xlsx", f.plan.version), body)
            }
            Err(e) => page.error(&ApiError::internal(e)),
        },
        Err(e) => page.error(&e),
    }
}

#[derive(serde::Deserialize)]
pub struct Action {
    pub csrf: String,
    /// `meta` (set a target) or `lineas` (baselines again).
    pub accion: String,
    pub indicador: Option<String>,
    pub territorio: Option<String>,
    pub anio: Option<String>,
    /// Coverage in percent (70) or, for a manual indicator, the number itself.
    pub meta: Option<String>,
    pub reportado: Option<String>,
    pub medicion: Option<String>,
}

/// `POST /planes/{id}`
pub async fn act(
    State(st): State<AppState>,
    page: Page,
    Path(id): Path<i64>,
    Form(a): Form<Action>,
) -> Response {
    let actor = match reader(&page) {
        Ok(a) => a,
        Err(e) => return page.error(&e),
    };
    if let Err(e) = page.form_ok(&a.csrf) {
        return page.error(&e);
    }
    let cat = st.catalogue.clone();
    let who = actor.clone();
    let out = st
        .pool
        .run(move |s| {
            match a.accion.as_str() {
                "meta" => {
                    let number = |v: &Option<String>| {
                        v.as_deref()
                            .filter(|x| !x.trim().is_empty())
                            .map(|x| {
                                xlsx::parse_number(x).ok_or_else(|| {
                                    vamos_app::Error::bad_request(format!(
                                        "«{}» no es un número",
                                        x.chars().take(20).collect::<String>()
                                    ))
                                })
                            })
                            .transpose()
                    };
                    let f = p::get(s, &who, id)?;
                    let indicator = a.indicador.clone().unwrap_or_default();
                    let manual = f
                        .indicators
                        .iter()
                        .any(|i| i.code == indicator && i.kind == "manual");
                    // A coverage is typed in percent on the page (the field says so): `70`
                    // or `70 %` is 0.7; a decimal below 1 (`0,7`) is read as the fraction it is.
                    let typed_percent = a.meta.as_deref().is_some_and(|m| m.contains('%'));
                    let scale = |x: Option<f64>| {
                        if manual || typed_percent {
                            x
                        } else {
                            x.map(|v| {
                                if v < 1.0 && v.fract() != 0.0 {
                                    v
                                } else {
                                    v / 100.0
                                }
                            })
                        }
                    };
                    p::set_values(
                        s,
                        &who,
                        &cat,
                        id,
                        &[SetValue {
                            indicator,
                            territory: a.territorio.clone().unwrap_or_default(),
                            year: a
                                .anio
                                .as_deref()
                                .and_then(|y| y.trim().parse().ok())
                                .unwrap_or(0),
                            target: scale(number(&a.meta)?),
                            reported: if manual { number(&a.reportado)? } else { None },
                        }],
                    )?;
                }
                "lineas" => {
                    let m = a
                        .medicion
                        .as_deref()
                        .map(str::trim)
                        .filter(|m| !m.is_empty());
                    let m = m
                        .map(|m| {
                            m.parse::<i64>().map_err(|_| {
                                vamos_app::Error::bad_request(
                                    "el número de medición es un número entero",
                                )
                            })
                        })
                        .transpose()?;
                    p::rebase(s, &who, id, m)?;
                }
                _ => return Err(vamos_app::Error::bad_request("acción desconocida").into()),
            }
            Ok(())
        })
        .await;
    match out {
        Ok(()) => super::redirect(&format!("/planes/{id}?hecho=guardado")),
        Err(e)
            if e.status == axum::http::StatusCode::BAD_REQUEST
                || e.status == axum::http::StatusCode::NOT_FOUND =>
        {
            render_detail(&st, &page, actor, id, Some((e.status, e.message))).await
        }
        Err(e) => page.error(&e),
    }
}
