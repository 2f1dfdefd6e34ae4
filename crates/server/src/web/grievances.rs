//! Grievances on the web: the public page `/reclamos` (lodge without an account, shown the
//! tracking code once; or follow one), `/reclamos/<code>` (state, dates, the answer, an appeal
//! form — no personal data), and the staff's `/reclamos/gestion` (list with filters, CSV) and
//! `/reclamos/gestion/<id>` (detail with assign, comment and resolve).
//!
//! Anti-abuse as on the self-registration form, without a CAPTCHA or any third party: a hidden
//! field people leave empty, a signed time token (the form open between 3 seconds and two
//! hours), and per-address limits — lodging ([`crate::state::GRIEVANCES_LODGED`]) and
//! look-ups and appeals ([`crate::state::GRIEVANCE_LOOKUPS`], shared with the JSON API). A
//! signed-in account lodges as itself only when the form carries its session's CSRF token;
//! otherwise the form lodges as the public.

use super::Page;
use crate::api::grievances::track_limit;
use crate::auth;
use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Form;
use minijinja::context;
use minijinja::value::Value as JValue;
use std::collections::HashMap;
use std::net::SocketAddr;
use vamos_app::grievances::{self as g, FieldError, Handling};
use vamos_domain::grievance::{Outcome, CATEGORIES};
use vamos_domain::Permission;

fn categories() -> Vec<JValue> {
    CATEGORIES
        .iter()
        .map(|c| {
            context! {
                code => c.code,
                label => c.label,
                group => c.group,
                anonymous => c.anonymous,
                deadline => c.deadline.label(),
            }
        })
        .collect()
}

fn form_page(
    page: &Page,
    status: StatusCode,
    values: &HashMap<String, String>,
    errors: &[FieldError],
    general: Option<&str>,
) -> Response {
    page.html_status(
        status,
        "reclamos.html",
        context! {
            token => super::selfreg::sign(auth::now().timestamp()),
            categories => categories(),
            districts => super::districts_by_department(),
            v => values.clone(),
            errors => JValue::from_serialize(errors),
            general,
        },
    )
}

/// `GET /reclamos`
pub async fn form(page: Page) -> Response {
    form_page(&page, StatusCode::OK, &HashMap::new(), &[], None)
}

/// `POST /reclamos`
pub async fn submit(
    State(st): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    page: Page,
    Form(v): Form<HashMap<String, String>>,
) -> Response {
    let now = auth::now();
    if !v.get("sitio_web").is_none_or(|s| s.is_empty())
        || !super::selfreg::token_ok(
            v.get("token").map(String::as_str).unwrap_or(""),
            now.timestamp(),
        )
    {
        return form_page(
            &page,
            StatusCode::BAD_REQUEST,
            &v,
            &[],
            Some("grv-error-token"),
        );
    }
    if st.grievance_lodge_limiter.check_key(&addr.ip()).is_err() {
        return form_page(
            &page,
            StatusCode::TOO_MANY_REQUESTS,
            &v,
            &[],
            Some("grv-error-rate"),
        );
    }
    let lodging = match g::validate(&g::Form::from_fields(&v), now.date_naive()) {
        Ok(l) => l,
        Err(errors) => {
            return form_page(&page, StatusCode::UNPROCESSABLE_ENTITY, &v, &errors, None)
        }
    };
    // An account lodges as itself only from its own session's form (CSRF token); anything else
    // is the public's.
    let actor = match &page.user {
        Some(p) if v.get("csrf").is_some_and(|c| c == p.csrf()) => p.as_actor(),
        _ => vamos_app::Actor::public(),
    };
    let out = st
        .pool
        .run(move |s| Ok(g::lodge(s, &actor, &lodging, now)?))
        .await;
    match out {
        Ok(l) => page.html(
            "reclamos.html",
            context! {
                lodged => context! { code => l.code, due_at => l.due_at, category => l.category },
            },
        ),
        Err(e) => page.error(&e),
    }
}

#[derive(serde::Deserialize, Default)]
pub struct Lookup {
    pub codigo: Option<String>,
}

/// `GET /reclamos/seguimiento?codigo=…`: the look-up form's target, sent on to the code's page.
pub async fn lookup(Query(q): Query<Lookup>) -> Response {
    let code: String = q
        .codigo
        .unwrap_or_default()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .take(64)
        .collect();
    if code.is_empty() {
        return super::redirect("/reclamos");
    }
    super::redirect(&format!("/reclamos/{code}"))
}

fn tracking_page(page: &Page, status: StatusCode, code: &str, t: &g::Tracking) -> Response {
    page.html_status(
        status,
        "reclamo.html",
        context! {
            code => code,
            tr => JValue::from_serialize(t),
            token => super::selfreg::sign(auth::now().timestamp()),
        },
    )
}

/// `GET /reclamos/{code}`: what the holder of the code may see. A wrong code: the not-found
/// page, as for a missing one.
pub async fn track(
    State(st): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    page: Page,
    Path(code): Path<String>,
) -> Response {
    if let Err(e) = track_limit(&st, &addr) {
        return page.error(&e);
    }
    let now = auth::now();
    let c = code.clone();
    match st.pool.run(move |s| Ok(g::track(s, &c, now)?)).await {
        Ok(t) => tracking_page(&page, StatusCode::OK, &code, &t),
        Err(e) => page.error(&e),
    }
}

#[derive(serde::Deserialize)]
pub struct AppealForm {
    pub token: String,
    pub motivo: String,
    #[serde(default)]
    pub sitio_web: String,
}

/// `POST /reclamos/{code}/apelar`
pub async fn appeal(
    State(st): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    page: Page,
    Path(code): Path<String>,
    Form(f): Form<AppealForm>,
) -> Response {
    let now = auth::now();
    if !f.sitio_web.is_empty() || !super::selfreg::token_ok(&f.token, now.timestamp()) {
        return page.error(&ApiError::bad_request(
            "el formulario venció: vuelva a abrir la página del reclamo e intente de nuevo",
        ));
    }
    if let Err(e) = track_limit(&st, &addr) {
        return page.error(&e);
    }
    let c = code.clone();
    match st
        .pool
        .run(move |s| Ok(g::appeal(s, &c, &f.motivo, now)?))
        .await
    {
        Ok(t) => tracking_page(&page, StatusCode::OK, &code, &t),
        Err(e) => page.error(&e),
    }
}

fn staff(page: &Page) -> Result<vamos_app::Actor, ApiError> {
    let Some(p) = page.user.as_ref() else {
        return Err(ApiError::unauthorized());
    };
    let actor = p.as_actor();
    g::reach(&actor)?;
    Ok(actor)
}

fn list_query(q: &HashMap<String, String>) -> g::ListQuery {
    g::ListQuery {
        state: q.get("estado").cloned().filter(|s| !s.is_empty()),
        category: q.get("categoria").cloned().filter(|s| !s.is_empty()),
        overdue: q.get("vencidos").is_some_and(|v| v == "1"),
    }
}

/// `GET /reclamos/gestion`: the grievances within the account's reach (an audited read).
pub async fn staff_list(
    State(st): State<AppState>,
    page: Page,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let actor = match staff(&page) {
        Ok(a) => a,
        Err(e) => return page.error(&e),
    };
    let lq = list_query(&q);
    let now = auth::now();
    let rows = match st
        .pool
        .run(move |s| Ok(g::list(s, &actor, &lq, now)?))
        .await
    {
        Ok(r) => r,
        Err(e) => return page.error(&e),
    };
    let query: String = ["estado", "categoria", "vencidos"]
        .iter()
        .filter_map(|k| q.get(*k).map(|v| format!("{k}={}", super::encode(v))))
        .collect::<Vec<_>>()
        .join("&");
    page.html(
        "reclamos_gestion.html",
        context! {
            items => JValue::from_serialize(&rows),
            categories => categories(),
            states => vamos_domain::grievance::GrievanceState::ALL.iter().map(|s| context! { code => s.code(), label => s.label() }).collect::<Vec<_>>(),
            q => q.clone(),
            csv => format!("/reclamos/gestion.csv?{query}"),
        },
    )
}

/// `GET /reclamos/gestion.csv`: the same list as CSV (cells neutralised).
pub async fn staff_csv(
    State(st): State<AppState>,
    page: Page,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let actor = match staff(&page) {
        Ok(a) => a,
        Err(e) => return page.error(&e),
    };
    let lq = list_query(&q);
    let now = auth::now();
    match st
        .pool
        .run(move |s| Ok(g::export_csv(s, &actor, &lq, now)?))
        .await
    {
        Ok(bytes) => crate::api::csv_download("reclamos.csv", bytes),
        Err(e) => page.error(&e),
    }
}

/// `GET /reclamos/gestion/{id}`
pub async fn staff_detail(
    State(st): State<AppState>,
    page: Page,
    Path(id): Path<i64>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let actor = match staff(&page) {
        Ok(a) => a,
        Err(e) => return page.error(&e),
    };
    let now = auth::now();
    match st.pool.run(move |s| Ok(g::show(s, &actor, id, now)?)).await {
        Ok(d) => page.html(
            "reclamo_gestion.html",
            context! {
                d => JValue::from_serialize(&d),
                closed => d.summary.closed,
                personal => page.can(Permission::RegistryRead),
                can_request_change => page.can(Permission::ChangesRequest),
                done => q.get("hecho").filter(|h| h.starts_with("grv-done-")).cloned(),
            },
        ),
        Err(e) => page.error(&e),
    }
}

#[derive(serde::Deserialize)]
pub struct Action {
    pub csrf: String,
    /// `asignar`, `comentar` or `resolver`.
    pub accion: String,
    pub cuenta: Option<String>,
    pub institucion: Option<String>,
    pub texto: Option<String>,
    pub resultado: Option<String>,
    pub motivo: Option<String>,
    pub respuesta: Option<String>,
}

/// `POST /reclamos/gestion/{id}`
pub async fn staff_act(
    State(st): State<AppState>,
    page: Page,
    Path(id): Path<i64>,
    Form(a): Form<Action>,
) -> Response {
    let actor = match staff(&page) {
        Ok(a) => a,
        Err(e) => return page.error(&e),
    };
    if page.user.as_ref().is_none_or(|p| p.csrf() != a.csrf) {
        return page.error(&ApiError::forbidden(
            "el formulario venció o no es de esta sesión: vuelva al reclamo e intente de nuevo",
        ));
    }
    let h = match a.accion.as_str() {
        "asignar" => Handling::Assign {
            account: a.cuenta,
            institution: a.institucion,
        },
        "comentar" => Handling::Comment {
            text: a.texto.unwrap_or_default(),
        },
        "resolver" => match a.resultado.as_deref().and_then(Outcome::parse) {
            Some(outcome) => Handling::Resolve {
                outcome,
                reason: a.motivo.unwrap_or_default(),
                public_text: a.respuesta.unwrap_or_default(),
            },
            None => return page.error(&ApiError::bad_request("elija cómo se cierra el reclamo")),
        },
        _ => return page.error(&ApiError::bad_request("acción desconocida")),
    };
    let done = format!("grv-done-{}", a.accion);
    let now = auth::now();
    match st
        .pool
        .run(move |s| Ok(g::handle(s, &actor, id, &h, now)?))
        .await
    {
        Ok(_) => super::redirect(&format!("/reclamos/gestion/{id}?hecho={done}")),
        Err(e) => page.error(&e),
    }
}
