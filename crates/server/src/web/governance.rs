//! Governance on the web (`/gobernanza`): the bodies of the Modelo de Gestión, each body's page
//! (members, meetings, open agreements, and the forms to record a meeting and add a member),
//! each meeting's minute with its agreements and the items it carries over (their status
//! updated in place, the minute as PDF), and every agreement, open, overdue or all, with a CSV
//! export. Everything goes through `vamos_app::governance`, shared with `/api/bodies`,
//! `/api/meetings`, `/api/meeting-agreements` and `vamos governance`.

use super::Page;
use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use minijinja::context;
use minijinja::value::Value as JValue;
use std::collections::HashMap;
use vamos_app::governance::{self as g, AgreementInput, AgreementQuery, AgreementUpdate};
use vamos_domain::Permission;

/// The pages of `/gobernanza` and `/datos-abiertos`.
pub(super) fn routes() -> axum::Router<AppState> {
    use axum::routing::{get, post};
    axum::Router::new()
        .route("/gobernanza", get(index))
        .route("/gobernanza/instancias/{code}", get(body))
        .route("/gobernanza/instancias/{code}/reuniones", post(record))
        .route("/gobernanza/instancias/{code}/miembros", post(add_member))
        .route("/gobernanza/reuniones/{id}", get(meeting))
        .route("/gobernanza/reuniones/{id}/minuta.pdf", get(minutes_pdf))
        .route("/gobernanza/despliegue", get(rollout))
        .route("/gobernanza/despliegue/{district}", get(rollout_district))
        .route(
            "/gobernanza/despliegue/{district}/{process}",
            post(rollout_update),
        )
        .route("/gobernanza/prioridades", get(priorities))
        .route("/gobernanza/prioridades.csv", get(priorities_csv))
        .route("/gobernanza/prioridades/vinculos", post(priorities_link))
        .route(
            "/gobernanza/informes",
            get(super::reports::list).post(super::reports::save),
        )
        .route(
            "/gobernanza/informes/borrador.pdf",
            get(super::reports::draft),
        )
        .route(
            "/gobernanza/informes/{id}/publicar",
            post(super::reports::publish),
        )
        .route("/gobernanza/informes/{id}/pdf", get(super::reports::pdf))
        .route("/datos-abiertos", get(super::reports::open_data))
        .route(
            "/datos-abiertos/logros.csv",
            get(super::reports::public_csv),
        )
        .route(
            "/datos-abiertos/indicadores.csv",
            get(super::reports::indicators_csv),
        )
        .route(
            "/datos-abiertos/informes/{file}",
            get(super::reports::published_pdf),
        )
        .route("/gobernanza/acuerdos", get(agreements))
        .route("/gobernanza/acuerdos.csv", get(agreements_csv))
        .route("/gobernanza/acuerdos/{id}", post(update))
}

/// The reader of the governance pages (`gobernanza:leer`).
pub(super) fn reader(page: &Page) -> Result<vamos_app::Actor, ApiError> {
    let Some(u) = page.user.as_ref() else {
        return Err(ApiError::unauthorized());
    };
    if !u.can(Permission::GovernanceRead) {
        return Err(ApiError::forbidden(
            "su rol no permite consultar las instancias, reuniones y acuerdos del Modelo de Gestión",
        ));
    }
    Ok(u.as_actor())
}

fn done_message(q: &HashMap<String, String>) -> Option<&'static str> {
    q.get("hecho").and_then(|h| match h.as_str() {
        "reunion" => Some("gov-done-meeting"),
        "miembro" => Some("gov-done-member"),
        "acuerdo" => Some("gov-done-agreement"),
        _ => None,
    })
}

/// `GET /gobernanza`
pub async fn index(State(st): State<AppState>, page: Page) -> Response {
    let actor = match reader(&page) {
        Ok(a) => a,
        Err(e) => return page.error(&e),
    };
    match st.pool.run(move |s| Ok(g::bodies(s, &actor)?)).await {
        Ok(items) => page.html(
            "gobernanza.html",
            context! { items => JValue::from_serialize(&items) },
        ),
        Err(e) => page.error(&e),
    }
}

/// `GET /gobernanza/instancias/{code}`
pub async fn body(
    State(st): State<AppState>,
    page: Page,
    Path(code): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let actor = match reader(&page) {
        Ok(a) => a,
        Err(e) => return page.error(&e),
    };
    render_body(&st, &page, actor, code, done_message(&q), None, context! {}).await
}

async fn render_body(
    st: &AppState,
    page: &Page,
    actor: vamos_app::Actor,
    code: String,
    done: Option<&str>,
    refused: Option<(StatusCode, String)>,
    form: JValue,
) -> Response {
    let can_record = actor.can(Permission::GovernanceRecord);
    match st.pool.run(move |s| Ok(g::body(s, &actor, &code)?)).await {
        Ok(b) => {
            let (status, refused) = refused.map_or((StatusCode::OK, None), |(s, m)| (s, Some(m)));
            let today = vamos_app::clock::date_es(&vamos_app::clock::today().to_string());
            page.html_status(
                status,
                "instancia.html",
                context! { b => JValue::from_serialize(&b), can_record, done, refused, form, today,
                    slots => (1..=5).collect::<Vec<i32>>(),
                    link_kinds => g::LINK_KINDS.iter().map(|(k, l)| context! { code => *k, label => *l }).collect::<Vec<_>>() },
            )
        }
        Err(e) => page.error(&e),
    }
}

fn lines(s: &str) -> Vec<String> {
    s.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .take(200)
        .collect()
}

/// `POST /gobernanza/instancias/{code}/reuniones`: record a meeting from the body's form —
/// its minute in text areas (one point per line) and up to five agreements.
pub async fn record(
    State(st): State<AppState>,
    page: Page,
    Path(code): Path<String>,
    body: String,
) -> Response {
    let actor = match reader(&page) {
        Ok(a) => a,
        Err(e) => return page.error(&e),
    };
    let f: HashMap<String, String> = serde_urlencoded::from_str::<Vec<(String, String)>>(&body)
        .unwrap_or_default()
        .into_iter()
        .collect();
    let get = |k: &str| f.get(k).cloned().unwrap_or_default();
    if let Err(e) = page.form_ok(&get("csrf")) {
        return page.error(&e);
    }
    let agreements: Vec<AgreementInput> = (1..=5)
        .map(|i| AgreementInput {
            text: get(&format!("acuerdo{i}")),
            owner: Some(get(&format!("responsable{i}"))),
            owner_account: Some(get(&format!("cuenta{i}"))),
            due_on: Some(get(&format!("fecha{i}"))),
            link_kind: Some(get(&format!("vinculo_tipo{i}"))),
            link_ref: Some(get(&format!("vinculo{i}"))),
        })
        .filter(|a| !a.text.trim().is_empty())
        .collect();
    let attendance = lines(&get("asistencia"))
        .into_iter()
        .map(|l| {
            let mut p = l.splitn(2, ';').map(str::trim);
            vamos_store::governance::Attendee {
                name: p.next().unwrap_or_default().to_string(),
                institution: p.next().unwrap_or_default().to_string(),
            }
        })
        .collect::<Vec<_>>();
    let input = g::MeetingInput {
        body: code.clone(),
        number: get("numero").trim().parse().ok(),
        title: get("titulo"),
        held_on: get("fecha"),
        place: get("lugar"),
        time_from: Some(get("desde")),
        time_to: Some(get("hasta")),
        objectives: lines(&get("objetivos")),
        agenda: lines(&get("temas")),
        development: lines(&get("desarrollo")),
        annexes: lines(&get("anexos")),
        attendance: Some(attendance).filter(|a| !a.is_empty()),
        agreements,
    };
    let who = actor.clone();
    let out = st
        .pool
        .run(move |s| Ok(g::record_meeting(s, &who, &input)?))
        .await;
    match out {
        Ok(id) => super::redirect(&format!("/gobernanza/reuniones/{id}?hecho=reunion")),
        Err(e)
            if matches!(
                e.status,
                StatusCode::BAD_REQUEST | StatusCode::FORBIDDEN | StatusCode::CONFLICT
            ) =>
        {
            let form = JValue::from_serialize(&f);
            render_body(
                &st,
                &page,
                actor,
                code,
                None,
                Some((e.status, e.message)),
                form,
            )
            .await
        }
        Err(e) => page.error(&e),
    }
}

/// `POST /gobernanza/instancias/{code}/miembros`
pub async fn add_member(
    State(st): State<AppState>,
    page: Page,
    Path(code): Path<String>,
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
    let m = vamos_store::governance::Member {
        name: get("nombre"),
        institution: get("institucion"),
        role: get("rol"),
        account: Some(get("cuenta")).filter(|c| !c.trim().is_empty()),
        since: Some(get("desde")).filter(|c| !c.trim().is_empty()),
        ..Default::default()
    };
    let who = actor.clone();
    let c = code.clone();
    match st
        .pool
        .run(move |s| Ok(g::add_member(s, &who, &c, &m)?))
        .await
    {
        Ok(_) => super::redirect(&format!(
            "/gobernanza/instancias/{}?hecho=miembro",
            super::encode(&code)
        )),
        Err(e) if matches!(e.status, StatusCode::BAD_REQUEST | StatusCode::FORBIDDEN) => {
            let form = JValue::from_serialize(&f);
            render_body(
                &st,
                &page,
                actor,
                code,
                None,
                Some((e.status, e.message)),
                form,
            )
            .await
        }
        Err(e) => page.error(&e),
    }
}

/// `GET /gobernanza/reuniones/{id}`
pub async fn meeting(
    State(st): State<AppState>,
    page: Page,
    Path(id): Path<i64>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let actor = match reader(&page) {
        Ok(a) => a,
        Err(e) => return page.error(&e),
    };
    render_meeting(&st, &page, actor, id, done_message(&q), None).await
}

async fn render_meeting(
    st: &AppState,
    page: &Page,
    actor: vamos_app::Actor,
    id: i64,
    done: Option<&str>,
    refused: Option<(StatusCode, String)>,
) -> Response {
    let can_record = actor.can(Permission::GovernanceRecord);
    match st.pool.run(move |s| Ok(g::meeting(s, &actor, id)?)).await {
        Ok(m) => {
            let (status, refused) = refused.map_or((StatusCode::OK, None), |(s, m)| (s, Some(m)));
            page.html_status(
                status,
                "reunion.html",
                context! { m => JValue::from_serialize(&m), can_record, done, refused,
                    statuses => g::STATUSES.iter().map(|(k, l)| context! { code => *k, label => *l }).collect::<Vec<_>>() },
            )
        }
        Err(e) => page.error(&e),
    }
}

/// `GET /gobernanza/reuniones/{id}/minuta.pdf`
pub async fn minutes_pdf(State(st): State<AppState>, page: Page, Path(id): Path<i64>) -> Response {
    let actor = match reader(&page) {
        Ok(a) => a,
        Err(e) => return page.error(&e),
    };
    match st
        .pool
        .run(move |s| Ok(g::minutes_pdf(s, &actor, id)?))
        .await
    {
        Ok(pdf) => crate::api::pdf_download(&format!("minuta-{id}.pdf"), pdf),
        Err(e) => page.error(&e),
    }
}

/// `POST /gobernanza/acuerdos/{id}`: an agreement's status (from a meeting's page, which it
/// returns to).
pub async fn update(
    State(st): State<AppState>,
    page: Page,
    Path(id): Path<i64>,
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
    let meeting: i64 = get("reunion").parse().unwrap_or(0);
    let u = AgreementUpdate {
        status: get("estado"),
        note: Some(get("nota")),
        due_on: Some(get("fecha")),
        ..AgreementUpdate::default()
    };
    let who = actor.clone();
    match st
        .pool
        .run(move |s| Ok(g::update_agreement(s, &who, id, &u)?))
        .await
    {
        Ok(_) if meeting > 0 => super::redirect(&format!(
            "/gobernanza/reuniones/{meeting}?hecho=acuerdo#acuerdo-{id}"
        )),
        Ok(_) => super::redirect("/gobernanza/acuerdos?hecho=acuerdo"),
        Err(e)
            if meeting > 0
                && matches!(e.status, StatusCode::BAD_REQUEST | StatusCode::FORBIDDEN) =>
        {
            render_meeting(
                &st,
                &page,
                actor,
                meeting,
                None,
                Some((e.status, e.message)),
            )
            .await
        }
        Err(e) => page.error(&e),
    }
}

/// `GET /gobernanza/acuerdos?estado=abiertos|vencidos|todos&instancia=`
pub async fn agreements(
    State(st): State<AppState>,
    page: Page,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let actor = match reader(&page) {
        Ok(a) => a,
        Err(e) => return page.error(&e),
    };
    let state = q
        .get("estado")
        .cloned()
        .unwrap_or_else(|| "abiertos".into());
    let body = q.get("instancia").cloned().filter(|s| !s.is_empty());
    let query = AgreementQuery {
        body: body.clone(),
        state: Some(state.clone()),
    };
    let done = done_message(&q);
    let csv_href = format!(
        "/gobernanza/acuerdos.csv?estado={}&instancia={}",
        super::encode(&state),
        super::encode(body.as_deref().unwrap_or(""))
    );
    match st
        .pool
        .run(move |s| Ok((g::agreements(s, &actor, &query)?, g::bodies(s, &actor)?)))
        .await
    {
        Ok((items, bodies)) => page.html(
            "acuerdos_reuniones.html",
            context! { items => JValue::from_serialize(&items), bodies => JValue::from_serialize(&bodies), done, csv_href,
                state, body },
        ),
        Err(e) => page.error(&e),
    }
}

/// `GET /gobernanza/acuerdos.csv?estado=&instancia=`: the same list, every cell neutralised.
pub async fn agreements_csv(
    State(st): State<AppState>,
    page: Page,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let actor = match reader(&page) {
        Ok(a) => a,
        Err(e) => return page.error(&e),
    };
    let query = AgreementQuery {
        body: q.get("instancia").cloned().filter(|s| !s.is_empty()),
        state: q.get("estado").cloned(),
    };
    match st
        .pool
        .run(move |s| Ok(g::agreements_csv(s, &actor, &query)?))
        .await
    {
        Ok(csv) => crate::api::csv_download("acuerdos.csv", csv),
        Err(e) => page.error(&e),
    }
}

// ------------------------------------------------------------------------------ rollout

/// `GET /gobernanza/despliegue?t=`: where each territory stands in the six processes.
pub async fn rollout(
    State(st): State<AppState>,
    page: Page,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let actor = match reader(&page) {
        Ok(a) => a,
        Err(e) => return page.error(&e),
    };
    let t = q.get("t").cloned().filter(|s| !s.is_empty());
    let tt = t.clone();
    match st
        .pool
        .run(move |s| Ok(vamos_app::rollout::national(s, &actor, tt.as_deref())?))
        .await
    {
        Ok(v) => page.html(
            "despliegue.html",
            context! { v => JValue::from_serialize(&v), territory => t,
                processes => vamos_app::rollout::PROCESSES.iter().map(|(n, name, _)| context! { n => *n, name => *name }).collect::<Vec<_>>() },
        ),
        Err(e) => page.error(&e),
    }
}

/// `GET /gobernanza/despliegue/{district}`
pub async fn rollout_district(
    State(st): State<AppState>,
    page: Page,
    Path(district): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let actor = match reader(&page) {
        Ok(a) => a,
        Err(e) => return page.error(&e),
    };
    let done = q.get("hecho").map(|_| "rollout-done-msg");
    render_rollout_district(&st, &page, actor, district, done, None).await
}

async fn render_rollout_district(
    st: &AppState,
    page: &Page,
    actor: vamos_app::Actor,
    district: String,
    done: Option<&str>,
    refused: Option<(StatusCode, String)>,
) -> Response {
    let can_record = actor.can(Permission::GovernanceRecord);
    match st
        .pool
        .run(move |s| Ok(vamos_app::rollout::district(s, &actor, &district)?))
        .await
    {
        Ok(d) => {
            let (status, refused) = refused.map_or((StatusCode::OK, None), |(s, m)| (s, Some(m)));
            page.html_status(
                status,
                "despliegue_distrito.html",
                context! { d => JValue::from_serialize(&d), can_record, done, refused,
                    statuses => vamos_app::rollout::STATUSES.iter().map(|(k, l)| context! { code => *k, label => *l }).collect::<Vec<_>>() },
            )
        }
        Err(e) => page.error(&e),
    }
}

/// `POST /gobernanza/despliegue/{district}/{process}`
pub async fn rollout_update(
    State(st): State<AppState>,
    page: Page,
    Path((district, process)): Path<(String, i64)>,
    axum::Form(f): axum::Form<HashMap<String, String>>,
) -> Response {
    let actor = match reader(&page) {
        Ok(a) => a,
        Err(e) => return page.error(&e),
    };
    let get = |k: &str| f.get(k).cloned().filter(|v| !v.trim().is_empty());
    if let Err(e) = page.form_ok(&get("csrf").unwrap_or_default()) {
        return page.error(&e);
    }
    let input = vamos_app::rollout::StepInput {
        status: get("estado").unwrap_or_default(),
        started_on: get("inicio"),
        completed_on: get("fin"),
        coordinator: get("coordinador"),
        evidence_title: get("documento"),
        evidence_reference: get("referencia"),
        note: get("nota"),
    };
    let who = actor.clone();
    let d = district.clone();
    match st
        .pool
        .run(move |s| Ok(vamos_app::rollout::update(s, &who, &d, process, &input)?))
        .await
    {
        Ok(_) => super::redirect(&format!(
            "/gobernanza/despliegue/{}?hecho=1#proceso-{process}",
            super::encode(&district)
        )),
        Err(e) if matches!(e.status, StatusCode::BAD_REQUEST | StatusCode::FORBIDDEN) => {
            render_rollout_district(
                &st,
                &page,
                actor,
                district,
                None,
                Some((e.status, e.message)),
            )
            .await
        }
        Err(e) => page.error(&e),
    }
}

// --------------------------------------------------------------------------- priorities

/// `GET /gobernanza/prioridades?distrito=&t=`: a district's community priorities beside its
/// Entorno Logro, or the districts that have them.
pub async fn priorities(
    State(st): State<AppState>,
    page: Page,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let actor = match reader(&page) {
        Ok(a) => a,
        Err(e) => return page.error(&e),
    };
    let district = q.get("distrito").cloned().filter(|s| !s.is_empty());
    let t = q.get("t").cloned().filter(|s| !s.is_empty());
    let can_link = actor.can(Permission::PlansEdit);
    let (dd, tt) = (district.clone(), t.clone());
    let done = q.get("hecho").map(|_| "priorities-done");
    match st
        .pool
        .run(move |s| {
            let all = vamos_app::priorities::all(s, &actor, tt.as_deref())?;
            let one = match dd {
                Some(d) => Some(vamos_app::priorities::district(s, &actor, &d)?),
                None => None,
            };
            Ok((all, one))
        })
        .await
    {
        Ok((all, one)) => {
            let districts: Vec<JValue> = all
                .iter()
                .map(|(code, name, list)| context! { code => code, name => name, top => list.first().map(|p| p.label.clone()), n => list.len() })
                .collect();
            page.html(
                "prioridades.html",
                context! { districts, one => JValue::from_serialize(&one), district, can_link, done,
                    csv_href => match &t { Some(t) => format!("/gobernanza/prioridades.csv?t={}", super::encode(t)), None => "/gobernanza/prioridades.csv".to_string() } },
            )
        }
        Err(e) => page.error(&e),
    }
}

/// `GET /gobernanza/prioridades.csv?t=`
pub async fn priorities_csv(
    State(st): State<AppState>,
    page: Page,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let actor = match reader(&page) {
        Ok(a) => a,
        Err(e) => return page.error(&e),
    };
    let t = q.get("t").cloned().filter(|s| !s.is_empty());
    match st
        .pool
        .run(move |s| Ok(vamos_app::priorities::csv(s, &actor, t.as_deref())?))
        .await
    {
        Ok(csv) => crate::api::csv_download("prioridades-comunitarias.csv", csv),
        Err(e) => page.error(&e),
    }
}

/// `POST /gobernanza/prioridades/vinculos`
pub async fn priorities_link(
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
    let l = vamos_app::priorities::LinkInput {
        district: get("distrito"),
        priority: get("prioridad"),
        kind: get("tipo"),
        reference: get("referencia"),
    };
    let district = l.district.clone();
    match st
        .pool
        .run(move |s| Ok(vamos_app::priorities::link(s, &actor, &l)?))
        .await
    {
        Ok(_) => super::redirect(&format!(
            "/gobernanza/prioridades?distrito={}&hecho=1",
            super::encode(&district)
        )),
        Err(e) => page.error(&e),
    }
}
