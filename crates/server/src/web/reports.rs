//! Follow-up reports and open data on the web. `/gobernanza/informes`: the saved versions of
//! each territory's quarterly report, the draft drawn now, the form where an analyst writes the
//! analysis and saves a version, and publishing. `/datos-abiertos`: the public page of a
//! territory — its published figures and their downloads, the machine-readable metadata of each
//! indicator and the published reports, byte for byte as published. Everything goes through
//! `vamos_app::reports`, shared with `/api/reports` and `vamos report`.

use super::Page;
use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use minijinja::context;
use minijinja::value::Value as JValue;
use std::collections::HashMap;
use vamos_domain::Permission;

/// The reader of the reports page (`logros:leer`).
fn reader(page: &Page) -> Result<vamos_app::Actor, ApiError> {
    let Some(u) = page.user.as_ref() else {
        return Err(ApiError::unauthorized());
    };
    if !u.can(Permission::LogrosRead) {
        return Err(ApiError::forbidden(
            "su rol no permite consultar los informes de seguimiento",
        ));
    }
    Ok(u.as_actor())
}

/// `GET /gobernanza/informes`
pub async fn list(
    State(st): State<AppState>,
    page: Page,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let actor = match reader(&page) {
        Ok(a) => a,
        Err(e) => return page.error(&e),
    };
    let done = q.get("hecho").and_then(|h| match h.as_str() {
        "guardado" => Some("reports-done-saved"),
        "publicado" => Some("reports-done-published"),
        _ => None,
    });
    render_list(&st, &page, actor, done, None, context! {}).await
}

async fn render_list(
    st: &AppState,
    page: &Page,
    actor: vamos_app::Actor,
    done: Option<&str>,
    refused: Option<(StatusCode, String)>,
    form: JValue,
) -> Response {
    let can_publish = actor.can(Permission::ReportsPublish);
    let year = chrono::Datelike::year(&vamos_app::clock::today());
    match st
        .pool
        .run(move |s| {
            Ok((
                vamos_app::reports::list(s, &actor)?,
                vamos_app::reports::calendar(s, &actor, vamos_domain::TerritoryCode::Nation, year)?,
            ))
        })
        .await
    {
        Ok((items, calendar)) => {
            let items: Vec<JValue> = items
                .iter()
                .map(|r| {
                    context! {
                        id => r.id, territory => r.territory, name => vamos_app::plans::territory_name(&r.territory),
                        period => r.period, version => r.version, status => r.status,
                        published_at => r.published_at.as_deref().map(vamos_app::clock::moment_es),
                        digest => r.digest, measurement => r.measurement_id,
                    }
                })
                .collect();
            let (status, refused) = refused.map_or((StatusCode::OK, None), |(s, m)| (s, Some(m)));
            let current = vamos_app::reports::Period::of(vamos_app::clock::today()).code();
            page.html_status(
                status,
                "informes.html",
                context! { items, can_publish, done, refused, form, current, year, calendar => JValue::from_serialize(&calendar) },
            )
        }
        Err(e) => page.error(&e),
    }
}

/// `GET /gobernanza/informes/borrador.pdf?t=&periodo=`: the report drawn now, unsaved.
pub async fn draft(
    State(st): State<AppState>,
    page: Page,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let actor = match reader(&page) {
        Ok(a) => a,
        Err(e) => return page.error(&e),
    };
    let t = q.get("t").cloned().unwrap_or_else(|| "PY".into());
    let period = q.get("periodo").cloned().unwrap_or_default();
    let cat = st.catalogue.clone();
    let k = st.settings.public_min_cell;
    let who = actor.clone();
    match st
        .pool
        .run(move |s| {
            Ok(vamos_app::reports::draft_pdf(
                s, &who, &cat, &t, &period, k, "",
            )?)
        })
        .await
    {
        Ok(pdf) => crate::api::pdf_download("informe-borrador.pdf", pdf),
        Err(e) if matches!(e.status, StatusCode::BAD_REQUEST | StatusCode::NOT_FOUND) => {
            render_list(
                &st,
                &page,
                actor,
                None,
                Some((e.status, e.message)),
                context! {},
            )
            .await
        }
        Err(e) => page.error(&e),
    }
}

/// `POST /gobernanza/informes`: save a version with the analyst's analysis.
pub async fn save(
    State(st): State<AppState>,
    page: Page,
    axum::Form(f): axum::Form<HashMap<String, String>>,
) -> Response {
    let actor = match reader(&page) {
        Ok(a) => a,
        Err(e) => return page.error(&e),
    };
    let get = |k: &str| f.get(k).cloned().unwrap_or_default();
    if let Err(e) = page.form_ok(&get("csrf")) {
        return page.error(&e);
    }
    let (t, period, analysis) = (get("territorio"), get("periodo"), get("analisis"));
    let who = actor.clone();
    match st
        .pool
        .run(move |s| Ok(vamos_app::reports::save(s, &who, &t, &period, &analysis)?))
        .await
    {
        Ok(_) => super::redirect("/gobernanza/informes?hecho=guardado"),
        Err(e)
            if matches!(
                e.status,
                StatusCode::BAD_REQUEST | StatusCode::FORBIDDEN | StatusCode::NOT_FOUND
            ) =>
        {
            let form = JValue::from_serialize(&f);
            render_list(&st, &page, actor, None, Some((e.status, e.message)), form).await
        }
        Err(e) => page.error(&e),
    }
}

/// `POST /gobernanza/informes/{id}/publicar`
pub async fn publish(
    State(st): State<AppState>,
    page: Page,
    Path(id): Path<i64>,
    axum::Form(f): axum::Form<HashMap<String, String>>,
) -> Response {
    let actor = match reader(&page) {
        Ok(a) => a,
        Err(e) => return page.error(&e),
    };
    if let Err(e) = page.form_ok(f.get("csrf").map_or("", String::as_str)) {
        return page.error(&e);
    }
    let cat = st.catalogue.clone();
    let k = st.settings.public_min_cell;
    let who = actor.clone();
    match st
        .pool
        .run(move |s| Ok(vamos_app::reports::publish(s, &who, &cat, id, k)?))
        .await
    {
        Ok(_) => super::redirect("/gobernanza/informes?hecho=publicado"),
        Err(e)
            if matches!(
                e.status,
                StatusCode::BAD_REQUEST | StatusCode::FORBIDDEN | StatusCode::CONFLICT
            ) =>
        {
            render_list(
                &st,
                &page,
                actor,
                None,
                Some((e.status, e.message)),
                context! {},
            )
            .await
        }
        Err(e) => page.error(&e),
    }
}

/// `GET /gobernanza/informes/{id}/pdf`
pub async fn pdf(State(st): State<AppState>, page: Page, Path(id): Path<i64>) -> Response {
    let actor = match reader(&page) {
        Ok(a) => a,
        Err(e) => return page.error(&e),
    };
    let cat = st.catalogue.clone();
    let k = st.settings.public_min_cell;
    match st
        .pool
        .run(move |s| Ok(vamos_app::reports::pdf(s, &actor, &cat, id, k)?))
        .await
    {
        Ok(pdf) => crate::api::pdf_download(&format!("informe-{id}.pdf"), pdf),
        Err(e) => page.error(&e),
    }
}

// ---------------------------------------------------------------------------- open data

/// `GET /datos-abiertos?t=`: a territory's published figures, their downloads, the
/// indicators' metadata and the published reports — public.
pub async fn open_data(
    State(st): State<AppState>,
    page: Page,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let t = q.get("t").cloned().unwrap_or_else(|| "PY".into());
    let k = st.settings.public_min_cell;
    let tt = t.clone();
    match st
        .pool
        .run(move |s| {
            let territory = vamos_app::registry::parse_territory(Some(&tt))?;
            let figures = match vamos_app::measurements::published_figures(s, None)? {
                Some(p) => {
                    let f = vamos_app::suppression::for_publication(&p, k);
                    Some(f.json(territory, &p.measurement, &p.published_at))
                }
                None => None,
            };
            let reports = vamos_app::reports::published(s, Some(territory))?;
            Ok((territory, figures, reports))
        })
        .await
    {
        Ok((territory, figures, reports)) => {
            let reports: Vec<JValue> = reports
                .iter()
                .map(|r| context! { id => r.id, period => r.period, version => r.version, digest => r.digest,
                    published_at => r.published_at.as_deref().map(vamos_app::clock::moment_es) })
                .collect();
            page.html(
                "datos_abiertos.html",
                context! { territory => territory.to_string(), name => vamos_domain::Territory::official().name_of(territory),
                    figures => JValue::from_serialize(&figures), reports, k },
            )
        }
        Err(e) => page.error(&e),
    }
}

/// `GET /datos-abiertos/logros.csv?t=`: the territory's published figures — public.
pub async fn public_csv(
    State(st): State<AppState>,
    page: Page,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let t = q.get("t").cloned().unwrap_or_else(|| "PY".into());
    let k = st.settings.public_min_cell;
    match st
        .pool
        .run(move |s| {
            let t = vamos_app::registry::parse_territory(Some(&t))?;
            Ok(vamos_app::reports::public_csv(s, t, k)?)
        })
        .await
    {
        Ok(csv) => crate::api::csv_download("logros-publicados.csv", csv),
        Err(e) => page.error(&e),
    }
}

/// `GET /datos-abiertos/indicadores.csv`: each indicator's definition, source, period and
/// suppression rule — public.
pub async fn indicators_csv(State(st): State<AppState>, page: Page) -> Response {
    let cat = st.catalogue.clone();
    let k = st.settings.public_min_cell;
    match st
        .pool
        .run(move |s| Ok(vamos_app::reports::indicators_csv(s, &cat, k)?))
        .await
    {
        Ok(csv) => crate::api::csv_download("indicadores.csv", csv),
        Err(e) => page.error(&e),
    }
}

/// `GET /datos-abiertos/informes/{id}.pdf`: a published report as published — public.
pub async fn published_pdf(
    State(st): State<AppState>,
    page: Page,
    Path(file): Path<String>,
) -> Response {
    let Some(id) = file
        .strip_suffix(".pdf")
        .and_then(|n| n.parse::<i64>().ok())
    else {
        return page.error(&ApiError::not_found("informe no encontrado"));
    };
    match st
        .pool
        .run(move |s| Ok(vamos_app::reports::published_pdf(s, id)?))
        .await
    {
        Ok(pdf) => crate::api::pdf_download(&format!("informe-{id}.pdf"), pdf),
        Err(e) => page.error(&e),
    }
}
