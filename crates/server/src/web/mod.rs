//! The web application, server-rendered in the same binary as the API: HTML pages from
//! minijinja templates (`web/templates`), every text through the Fluent catalogues of
//! [`i18n`], one stylesheet served from the binary (no CDN, no script needed to read a page),
//! sessions from the accounts of the server issue (the login form sets the same HttpOnly,
//! SameSite=Strict cookie as `POST /api/session`; every form carries the session's CSRF token
//! in a hidden field, checked here). Pages read through the same functions as the JSON API, so
//! what a page shows is what the API answers.

pub mod account;
pub mod barriers;
pub mod budget;
pub mod cases;
pub mod catalogue;
pub mod changes;
pub mod costing;
pub mod dashboard;
pub mod governance;
pub mod grievances;
pub mod i18n;
pub mod imports;
pub mod inbox;
pub mod ipm;
pub mod linkage;
pub mod management_agreements;
pub mod map;
pub mod orientaciones;
pub mod persons;
pub mod plans;
pub mod registry;
pub mod reports;
pub mod selfreg;
pub mod units;

use crate::api::session::{self as api, LoginBody};
use crate::auth::{self, Principal};
use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::{ConnectInfo, FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Form, Router};
use i18n::{Lang, Messages, LANG_COOKIE};
use minijinja::value::{Kwargs, Value as JValue};
use minijinja::{context, Environment};
use serde::Deserialize;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use vamos_domain::authz::{Permission, Role};

/// The templates and the messages, built once.
pub struct Web {
    env: Environment<'static>,
    messages: Arc<Messages>,
}

/// The stylesheet (served at `/static/vamos.css`).
const CSS: &str = include_str!("../../web/static/vamos.css");

fn lang_of(state: &minijinja::State) -> Lang {
    state
        .lookup("lang")
        .and_then(|v| v.as_str().and_then(Lang::parse))
        .unwrap_or(Lang::Es)
}

fn number(v: &JValue) -> Option<f64> {
    if v.is_none() || v.is_undefined() {
        return None;
    }
    f64::try_from(v.clone()).ok()
}

/// Every file of `web/templates`, embedded by `build.rs` under its file name.
#[allow(clippy::expect_used)] // reason: minijinja-embed's loader panics on a broken template; the tests build every one
fn load_templates(env: &mut Environment<'static>) {
    minijinja_embed::load_templates!(*env);
}

impl Web {
    fn build() -> Result<Web, String> {
        let messages = Arc::new(Messages::load()?);
        let mut env = Environment::new();
        load_templates(&mut env);
        let m = messages.clone();
        env.add_function(
            "t",
            move |state: &minijinja::State, key: &str, kwargs: Kwargs| {
                let mut args = Vec::new();
                for k in kwargs.args() {
                    let v: JValue = kwargs.get(k)?;
                    let text = match v.as_str() {
                        Some(s) => s.to_string(),
                        None => v.to_string(),
                    };
                    args.push((k, text));
                }
                Ok::<_, minijinja::Error>(m.text(lang_of(state), key, &args))
            },
        );
        // Whole numbers with the language's thousands separator; "—" for a hidden figure.
        env.add_filter("int", |state: &minijinja::State, v: JValue| {
            match number(&v) {
                Some(n) => lang_of(state).int(n.round() as i64),
                None => "—".to_string(),
            }
        });
        // A number with one decimal and the language's decimal mark (`12,5` in Spanish).
        env.add_filter("dec", |state: &minijinja::State, v: JValue| {
            match number(&v) {
                Some(n) => lang_of(state).dec(n),
                None => "—".to_string(),
            }
        });
        // A ratio as a percentage; "—" when there is none (nobody identified, or suppressed).
        env.add_filter("pct", |state: &minijinja::State, v: JValue| {
            lang_of(state).pct(number(&v))
        });
        // A match probability: as many decimals as tell it from 100 %.
        env.add_filter("prob", |state: &minijinja::State, v: JValue| {
            lang_of(state).probability(number(&v))
        });
        // A stored moment (RFC 3339) as people write it, in Paraguay's time.
        env.add_filter("when", |state: &minijinja::State, v: JValue| {
            v.as_str()
                .map(|s| lang_of(state).when(s))
                .unwrap_or_default()
        });
        // A calendar date (AAAA-MM-DD) as people write it.
        env.add_filter("day", |state: &minijinja::State, v: JValue| {
            v.as_str()
                .map(|s| lang_of(state).day(s))
                .unwrap_or_default()
        });
        // A ratio such as a poverty index with four decimals (`0,0636` in Spanish).
        env.add_filter("dec4", |state: &minijinja::State, v: JValue| {
            match number(&v) {
                Some(n) => {
                    let s = format!("{n:.4}");
                    match lang_of(state) {
                        i18n::Lang::Es => s.replace('.', ","),
                        i18n::Lang::En => s,
                    }
                }
                None => "—".to_string(),
            }
        });
        env.add_filter("points", |state: &minijinja::State, v: JValue| {
            number(&v)
                .map(|d| lang_of(state).points(d))
                .unwrap_or_default()
        });
        Ok(Web { env, messages })
    }

    /// The application's templates, built on first use.
    pub fn get() -> Result<&'static Web, ApiError> {
        static WEB: OnceLock<Result<Web, String>> = OnceLock::new();
        WEB.get_or_init(Web::build)
            .as_ref()
            .map_err(ApiError::internal)
    }

    /// Message `key` in `lang` (for texts drawn in Rust, such as the maps' labels).
    pub fn text(&self, lang: Lang, key: &str, args: &[(&str, String)]) -> String {
        self.messages.text(lang, key, args)
    }

    /// Renders template `name` with `ctx` (which must carry `lang`).
    pub fn render(&self, name: &str, ctx: JValue) -> Result<String, ApiError> {
        self.env
            .get_template(name)
            .and_then(|t| t.render(ctx))
            .map_err(|e| ApiError::internal(format!("plantilla {name}: {e:#}")))
    }
}

/// What every page knows about the request: the language, the signed-in account, the path.
pub struct Page {
    pub lang: Lang,
    /// Set when the language came from the `?lang=` link: remembered in a cookie.
    pub lang_chosen: bool,
    pub user: Option<Principal>,
    pub path: String,
    /// The same page in the other language (the query kept, `lang` replaced).
    pub switch: String,
    /// The account's Canal Verde notifications (a count in the header, the list on the home
    /// page); empty for an account that does not follow cases.
    pub notices: Vec<vamos_app::cases::Notification>,
    /// The account's overdue meeting agreements (its own and its bodies'), shown with them.
    pub agreement_notices: Vec<vamos_app::governance::Notice>,
}

impl FromRequestParts<AppState> for Page {
    type Rejection = Response;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let query_lang = parts.uri.query().and_then(|q| {
            q.split('&')
                .filter_map(|kv| kv.split_once('='))
                .find(|(k, _)| *k == "lang")
                .map(|(_, v)| v.to_string())
        });
        let cookie = auth::cookie(&parts.headers, LANG_COOKIE);
        let accept = parts
            .headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok());
        let lang = Lang::choose(query_lang.as_deref(), cookie.as_deref(), accept);
        let lang_chosen = query_lang.as_deref().and_then(Lang::parse).is_some();
        let user = match auth::session(parts, state).await {
            Ok(u) => u,
            Err(e) => return Err(error_page(lang, &e)),
        };
        if let Some(u) = &user {
            if let Err(e) = auth::limit(state, u) {
                return Err(error_page(lang, &e));
            }
        }
        // Only a page that is shown needs them (a form's POST answers with a redirect).
        let notices = match &user {
            Some(u) if u.can(Permission::CasesRead) && parts.method == axum::http::Method::GET => {
                let actor = u.as_actor();
                // A page still renders when the notices cannot be read: they are a reminder.
                state
                    .pool
                    .run(move |s| Ok(vamos_app::cases::notifications(s, &actor)?))
                    .await
                    .unwrap_or_default()
            }
            _ => Vec::new(),
        };
        let agreement_notices = match &user {
            Some(u)
                if u.can(Permission::GovernanceRead) && parts.method == axum::http::Method::GET =>
            {
                let actor = u.as_actor();
                state
                    .pool
                    .run(move |s| Ok(vamos_app::governance::notifications(s, &actor)?))
                    .await
                    .unwrap_or_default()
            }
            _ => Vec::new(),
        };
        let other = match lang {
            Lang::Es => Lang::En,
            Lang::En => Lang::Es,
        };
        let mut query: Vec<&str> = parts
            .uri
            .query()
            .unwrap_or("")
            .split('&')
            .filter(|kv| !kv.is_empty() && !kv.starts_with("lang=") && !kv.starts_with("hecho="))
            .collect();
        let lang_kv = format!("lang={}", other.code());
        query.push(&lang_kv);
        Ok(Page {
            lang,
            lang_chosen,
            user,
            path: parts.uri.path().to_string(),
            switch: format!("{}?{}", parts.uri.path(), query.join("&")),
            notices,
            agreement_notices,
        })
    }
}

/// A navigation entry: its path, its message id, whether it is the current section.
fn nav(page: &Page) -> Vec<JValue> {
    let mut items = vec![("/", "nav-home"), ("/logros", "nav-logros")];
    if page.can(Permission::PersonsFind) {
        items.push(("/registro", "nav-registry"));
    }
    if page.can(Permission::ReferralsRead) {
        items.push(("/bandeja", "nav-inbox"));
    }
    if page.can(Permission::GrievancesWork) {
        items.push(("/reclamos/gestion", "nav-grievances"));
    }
    if page.can(Permission::CasesRead) {
        items.push(("/casos", "nav-cases"));
    }
    if page.can(Permission::PlansRead) {
        items.push(("/planes", "nav-plans"));
    }
    if page.can(Permission::GovernanceRead) {
        items.push(("/gobernanza", "nav-governance"));
    }
    if page
        .user
        .as_ref()
        .is_some_and(|u| matches!(u.role, Role::Administrador | Role::Analista))
    {
        items.push(("/importaciones", "nav-imports"));
    }
    if page.can(Permission::ChangesRequest) || page.can(Permission::ChangesApprove) {
        items.push(("/cambios", "nav-changes"));
    }
    if page.can(Permission::LinkageReview) {
        items.push(("/enlace", "nav-linkage"));
    }
    items.push(("/orientaciones", "nav-orientaciones"));
    items.push(("/datos-abiertos", "nav-open-data"));
    items.push(("/catalogo", "nav-catalogue"));
    items
        .into_iter()
        .map(|(href, key)| {
            let current = if href == "/" {
                page.path == "/"
            } else {
                page.path.starts_with(href)
            };
            context! { href, key, current }
        })
        .collect()
}

impl Page {
    /// Whether a form's CSRF token is this session's: else the refusal to show (a stale or
    /// foreign form changes nothing).
    pub fn form_ok(&self, token: &str) -> Result<(), ApiError> {
        if self.user.as_ref().is_some_and(|u| u.csrf() == token) {
            Ok(())
        } else {
            Err(ApiError::forbidden(
                "el formulario venció o no es de esta sesión: vuelva a la página e intente de nuevo",
            ))
        }
    }

    /// Whether the signed-in account may use `p` (false when nobody is signed in).
    pub fn can(&self, p: Permission) -> bool {
        self.user.as_ref().is_some_and(|u| u.can(p))
    }

    /// The context every template receives, merged with the page's own.
    pub fn context(&self, own: JValue) -> JValue {
        let user = self.user.as_ref().map(|u| {
            context! {
                name => if u.user.display_name.is_empty() { u.user.username.clone() } else { u.user.display_name.clone() },
                username => u.user.username.clone(),
                role => u.role.code(),
                institution => u.user.institution.clone(),
                territories => u.scope.to_stored(),
            }
        });
        let csrf = self.user.as_ref().map(|u| u.csrf().to_string());
        let other = match self.lang {
            Lang::Es => Lang::En,
            Lang::En => Lang::Es,
        };
        context! {
            lang => self.lang.code(),
            lang_tag => self.lang.tag(),
            other_lang => other.code(),
            user,
            csrf,
            path => self.path.clone(),
            switch => self.switch.clone(),
            nav => nav(self),
            notices => self.notices.iter().map(|n| context! {
                href => format!("/casos/{}", n.case_id),
                case_id => n.case_id,
                kind => n.kind.clone(),
                count => n.count,
                text => n.text.clone(),
            }).chain(self.agreement_notices.iter().map(|n| context! {
                href => format!("/gobernanza/reuniones/{}#acuerdo-{}", n.meeting_id, n.agreement_id),
                kind => n.kind.clone(),
                body => n.body_name.clone(),
                due => n.due_on_es.clone(),
                excerpt => n.excerpt.clone(),
                text => n.text.clone(),
            })).collect::<Vec<_>>(),
            ..own
        }
    }

    /// The page rendered as a response (remembering a language chosen by link).
    pub fn html(&self, name: &str, own: JValue) -> Response {
        self.html_status(StatusCode::OK, name, own)
    }

    pub fn html_status(&self, status: StatusCode, name: &str, own: JValue) -> Response {
        let body = match Web::get().and_then(|w| w.render(name, self.context(own))) {
            Ok(b) => b,
            Err(e) => return plain_error(&e),
        };
        let mut r = (
            status,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            body,
        )
            .into_response();
        if self.lang_chosen {
            let c = format!(
                "{LANG_COOKIE}={}; Path=/; SameSite=Lax; Max-Age=31536000",
                self.lang.code()
            );
            if let Ok(v) = HeaderValue::from_str(&c) {
                r.headers_mut().append(header::SET_COOKIE, v);
            }
        }
        r
    }

    /// An error as a page in the user's language (the message of `e` is the API's Spanish
    /// text; the title says what kind of error it is).
    pub fn error(&self, e: &ApiError) -> Response {
        if e.status == StatusCode::UNAUTHORIZED {
            return redirect(&format!("/ingresar?volver={}", encode(&self.path)));
        }
        self.html_status(
            e.status,
            "error.html",
            context! { status => titled(e.status), message => e.message.clone() },
        )
    }
}

/// Statuses whose error page has its own title (`error-NNN`); others take 400's or 500's.
const TITLED: [u16; 11] = [400, 401, 403, 404, 405, 408, 413, 422, 429, 500, 503];

fn titled(s: StatusCode) -> u16 {
    let n = s.as_u16();
    if TITLED.contains(&n) {
        n
    } else if n >= 500 {
        500
    } else {
        400
    }
}

/// An error page when nothing is known of the request but its language.
fn error_page(lang: Lang, e: &ApiError) -> Response {
    let page = Page {
        lang,
        lang_chosen: false,
        user: None,
        path: String::new(),
        switch: format!("/?lang={}", if lang == Lang::Es { "en" } else { "es" }),
        notices: Vec::new(),
        agreement_notices: Vec::new(),
    };
    page.html_status(
        e.status,
        "error.html",
        context! { status => titled(e.status), message => e.message.clone() },
    )
}

/// When even the templates fail: a bare page, no detail.
fn plain_error(e: &ApiError) -> Response {
    (
        e.status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "Error interno del servidor / Internal server error",
    )
        .into_response()
}

/// The districts for a form's list, grouped by department (`<optgroup>`).
pub(crate) fn districts_by_department() -> Vec<JValue> {
    let t = vamos_domain::Territory::official();
    t.departments()
        .iter()
        .map(|dep| {
            let list: Vec<JValue> = t
                .districts()
                .iter()
                .filter(|x| x.code.department() == dep.code)
                .map(|x| context! { code => x.code.to_string(), name => x.name.clone() })
                .collect();
            context! { name => dep.name.clone(), districts => list }
        })
        .collect()
}

/// A 303 to `to` (after a form).
/// The rows of a JSON list answer of the API (`{"items": [...]}`; none when absent).
pub(crate) fn items(v: &serde_json::Value) -> impl Iterator<Item = &serde_json::Value> {
    v.get("items")
        .and_then(serde_json::Value::as_array)
        .into_iter()
        .flatten()
}

pub fn redirect(to: &str) -> Response {
    let mut r = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(to) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r
}

/// Percent-encoding of a query value (paths and codes only need the ASCII cases).
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Where to go back after signing in: a local path only (never another site).
fn local_path(to: Option<&str>) -> String {
    to.and_then(safe_return_path).unwrap_or("/").to_string()
}

/// `to` when it is a path on this site to send a browser back to, else `None`: one leading `/`
/// not followed by `/` or `\` (`//host` and `/\host` name another site), and only visible
/// ASCII — no control character (browsers drop tabs and newlines, so `/\t/host` becomes
/// `//host`), no space, no backslash anywhere. Every return path the web accepts goes through
/// here; the caller falls back to a page of its own.
pub fn safe_return_path(to: &str) -> Option<&str> {
    let rest = to.strip_prefix('/')?;
    let local = !rest.starts_with('/') && to.bytes().all(|b| b.is_ascii_graphic() && b != b'\\');
    local.then_some(to)
}

/// The routes of the web application (`upload_limit`: the largest import upload, bytes).
pub fn router(upload_limit: usize) -> Router<AppState> {
    Router::new()
        .merge(governance::routes())
        .route("/", get(home))
        .route("/ingresar", get(login_form).post(login_submit))
        .route("/salir", axum::routing::post(logout_submit))
        .route("/cuenta", get(account::page).post(account::submit))
        .route("/logros", get(dashboard::page))
        .route("/logros.csv", get(dashboard::csv))
        .route("/costeo", get(costing::page))
        .route("/costeo/meta", axum::routing::post(costing::adopt))
        .route(
            "/costeo/escenarios/borrar",
            axum::routing::post(costing::delete),
        )
        .route(
            "/costeo/escenarios",
            get(costing::scenarios).post(costing::save),
        )
        .route(
            "/planes",
            get(plans::list)
                .post(plans::upload)
                .layer(axum::extract::DefaultBodyLimit::max(upload_limit)),
        )
        .route("/planes/plantilla.xlsx", get(plans::template))
        .route("/planes/ilustrativo.xlsx", get(plans::illustrative))
        .route("/planes/{id}", get(plans::detail).post(plans::act))
        .route("/planes/{id}/xlsx", get(plans::export))
        .route(
            "/presupuesto",
            get(budget::page)
                .post(budget::upload)
                .layer(axum::extract::DefaultBodyLimit::max(upload_limit)),
        )
        .route(
            "/acuerdos-de-gestion",
            get(management_agreements::list).post(management_agreements::create),
        )
        .route(
            "/acuerdos-de-gestion/{id}",
            get(management_agreements::detail).post(management_agreements::sign),
        )
        .route("/ipm", get(ipm::page))
        .route("/ipm/territorios.csv", get(ipm::csv))
        .route("/logros/unidades", get(units::page))
        .route("/logros/unidades.csv", get(units::csv))
        .route("/logros/publicar", axum::routing::post(dashboard::publish))
        .route("/catalogo", get(catalogue::page))
        .route("/orientaciones", get(orientaciones::page))
        .route("/autorregistro", get(selfreg::form).post(selfreg::submit))
        .route("/autorregistro/revision", get(selfreg::queue))
        .route(
            "/autorregistro/revision/{id}",
            axum::routing::post(selfreg::decide),
        )
        .route("/reclamos", get(grievances::form).post(grievances::submit))
        .route("/reclamos/seguimiento", get(grievances::lookup))
        .route("/casos", get(cases::workbench).post(cases::open))
        .route("/casos/{id}", get(cases::case_page).post(cases::act))
        .route("/barreras", get(barriers::page).post(barriers::act))
        .route("/reclamos/gestion", get(grievances::staff_list))
        .route("/reclamos/gestion.csv", get(grievances::staff_csv))
        .route(
            "/reclamos/gestion/{id}",
            get(grievances::staff_detail).post(grievances::staff_act),
        )
        .route("/reclamos/{code}", get(grievances::track))
        .route(
            "/reclamos/{code}/apelar",
            axum::routing::post(grievances::appeal),
        )
        .route("/registro", get(registry::search))
        .route("/bandeja", get(inbox::page))
        .route(
            "/importaciones",
            get(imports::page)
                .post(imports::upload)
                .layer(axum::extract::DefaultBodyLimit::max(upload_limit)),
        )
        .route(
            "/importaciones/clasificar",
            axum::routing::post(imports::classify),
        )
        .route("/importaciones/trabajos/{id}", get(imports::job))
        .route(
            "/importaciones/{id}/rechazos.csv",
            get(imports::past_rejects),
        )
        .route(
            "/importaciones/trabajos/{id}/rechazos.csv",
            get(imports::rejects),
        )
        .route("/bandeja/{id}", axum::routing::post(inbox::act))
        .route(
            "/cambios",
            get(changes::list)
                .post(changes::create)
                .layer(axum::extract::DefaultBodyLimit::max(
                    crate::api::change_upload_limit(),
                )),
        )
        .route("/enlace", get(linkage::queue))
        .route("/enlace/etiquetas.csv", get(linkage::labels))
        .route("/enlace/{id}", get(linkage::pair).post(linkage::decide))
        .route("/cambios.csv", get(changes::csv))
        .route("/cambios/nueva", get(changes::new_form))
        .route("/cambios/{id}", get(changes::detail).post(changes::decide))
        .route("/cambios/{id}/documentos/{n}", get(changes::document))
        .route(
            "/registro/personas/{id}",
            get(persons::page).post(persons::orient),
        )
        .route("/registro/hogares/{id}", get(registry::household))
        .route(
            "/registro/hogares/{id}/historial",
            get(registry::household_history),
        )
        .route("/registro/comunidades/{id}", get(registry::community))
        .route("/static/vamos.css", get(stylesheet))
        .route("/static/vamos.svg", get(logo))
}

async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        CSS,
    )
        .into_response()
}

const LOGO: &str = include_str!("../../web/static/vamos.svg");

async fn logo() -> Response {
    (
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        LOGO,
    )
        .into_response()
}

/// The home page: for the public, what the system is and where to look; for an account, the
/// tasks of its role.
async fn home(page: Page) -> Response {
    let tasks: Vec<JValue> = match &page.user {
        None => Vec::new(),
        Some(_) => {
            let mut t = Vec::new();
            if page.can(Permission::LogrosRead) {
                // A territorial account starts from its own territory, not the national page.
                let href = match page.user.as_ref().map(|u| u.scope.to_stored()) {
                    Some(t) if !t.is_empty() => {
                        format!("/logros?t={}", t.split(',').next().unwrap_or_default())
                    }
                    _ => "/logros".to_string(),
                };
                t.push(context! { href, key => "task-logros" });
            }
            if page
                .user
                .as_ref()
                .is_some_and(|u| matches!(u.role, Role::Administrador | Role::Analista))
            {
                t.push(context! { href => "/importaciones", key => "task-imports" });
                t.push(context! { href => "/autorregistro/revision", key => "task-review" });
            }
            if page.can(Permission::ReferralsRead) {
                t.push(context! { href => "/bandeja", key => "task-inbox" });
            }
            if page.can(Permission::PersonsFind) {
                t.push(context! { href => "/registro", key => "task-registry" });
            }
            if page.can(Permission::CasesRead) {
                t.push(context! { href => "/casos", key => "task-cases" });
                t.push(context! { href => "/barreras", key => "task-barriers" });
            }
            if page.can(Permission::LogrosRead) {
                t.push(context! { href => "/ipm", key => "task-ipm" });
            }
            if page.can(Permission::TargetsSet) || page.can(Permission::PlansRead) {
                t.push(context! { href => "/costeo", key => "task-costing" });
            }
            if page.can(Permission::PlansRead) {
                t.push(context! { href => "/planes", key => "task-plans" });
                t.push(context! { href => "/presupuesto", key => "task-budget" });
                t.push(context! { href => "/acuerdos-de-gestion", key => "task-agreements" });
            }
            if page.can(Permission::GrievancesWork) {
                t.push(context! { href => "/reclamos/gestion", key => "task-grievances" });
            }
            t.push(context! { href => "/orientaciones", key => "task-orientaciones" });
            if page.can(Permission::CatalogueRead) {
                t.push(context! { href => "/catalogo", key => "task-catalogue" });
            }
            t
        }
    };
    page.html("home.html", context! { tasks })
}

#[derive(Deserialize, Default)]
struct LoginQuery {
    volver: Option<String>,
}

/// Name of the cookie that carries the login form's anti-forgery token (double submit: the
/// form's hidden field must match it).
const LOGIN_COOKIE: &str = "vamos_ingreso";

async fn login_form(page: Page, Query(q): Query<LoginQuery>) -> Response {
    login_page(&page, q.volver.as_deref(), None, "")
}

fn login_page(page: &Page, back: Option<&str>, error: Option<&str>, username: &str) -> Response {
    let token = match auth::random_hex(16) {
        Ok(t) => t,
        Err(e) => return page.error(&ApiError::internal(e)),
    };
    let status = if error.is_some() {
        StatusCode::UNAUTHORIZED
    } else {
        StatusCode::OK
    };
    let mut r = page.html_status(
        status,
        "login.html",
        context! { token => token.clone(), back => local_path(back), error, username },
    );
    let c =
        format!("{LOGIN_COOKIE}={token}; Path=/ingresar; HttpOnly; SameSite=Strict; Max-Age=3600");
    if let Ok(v) = HeaderValue::from_str(&c) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    r
}

#[derive(Deserialize)]
struct LoginForm {
    usuario: String,
    clave: String,
    token: String,
    volver: Option<String>,
}

async fn login_submit(
    State(st): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    page: Page,
    Form(f): Form<LoginForm>,
) -> Response {
    let back = local_path(f.volver.as_deref());
    if auth::cookie(&headers, LOGIN_COOKIE).as_deref() != Some(f.token.as_str())
        || f.token.is_empty()
    {
        return login_page(&page, Some(&back), Some("login-expired"), &f.usuario);
    }
    let rid = headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body = LoginBody {
        username: f.usuario.trim().to_string(),
        password: f.clave,
    };
    match api::sign_in(&st, addr, rid, body).await {
        Ok(signed) => {
            let mut r = redirect(&back);
            if let Ok(v) = HeaderValue::from_str(&api::session_cookie(&st, &signed.cookie)) {
                r.headers_mut().append(header::SET_COOKIE, v);
            }
            r
        }
        Err(e) => {
            let key = match e.code {
                "credenciales_invalidas" => "login-invalid",
                "demasiadas_solicitudes" => "login-rate",
                "solicitud_invalida" => "login-invalid",
                _ => return page.error(&e),
            };
            login_page(&page, Some(&back), Some(key), &f.usuario)
        }
    }
}

#[derive(Deserialize)]
struct CsrfForm {
    csrf: String,
}

async fn logout_submit(
    State(st): State<AppState>,
    headers: HeaderMap,
    page: Page,
    Form(f): Form<CsrfForm>,
) -> Response {
    let Some(user) = page.user.clone() else {
        return redirect("/");
    };
    if user.csrf() != f.csrf {
        return page.error(&ApiError::forbidden(
            "el formulario venció o no es de esta sesión: vuelva a intentarlo",
        ));
    }
    if let Err(e) = api::sign_out(&st, &headers, user).await {
        return page.error(&e);
    }
    let mut r = redirect("/");
    r.headers_mut().append(
        header::SET_COOKIE,
        HeaderValue::from_static(api::CLEAR_SESSION),
    );
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_builds_and_every_text_exists_in_both_languages() {
        let web = Web::get().unwrap();
        let ids: Vec<String> = Messages::ids(Messages::SOURCES[0].1);
        let re_start = "t(\"";
        for (name, template) in web.env.templates() {
            let src = template.source();
            let mut rest = src;
            while let Some(i) = rest.find(re_start) {
                let after = &rest[i + re_start.len()..];
                let end = after.find('"').unwrap();
                let key = &after[..end];
                // `t("logro-" ~ n)`: a family of messages, checked one by one below.
                let family = after[end + 1..].trim_start().starts_with('~');
                assert!(
                    ids.iter()
                        .any(|k| if family { k.starts_with(key) } else { k == key }),
                    "{name}: falta el mensaje «{key}»"
                );
                rest = &after[end..];
            }
        }
        // A page title is text: no markup may end up inside `<title>`.
        for (name, template) in web.env.templates() {
            let src = template.source();
            if let Some(i) = src.find("{% block title %}") {
                let rest = &src[i..];
                let title = &rest[..rest.find("{% endblock %}").unwrap()];
                assert!(!title.contains('<'), "{name}: marcado en el título");
            }
        }
        let mut families: Vec<String> = Vec::new();
        families.extend(
            vamos_domain::authz::Role::ALL
                .iter()
                .map(|r| format!("role-{}", r.code())),
        );
        families.extend((1..=10).map(|n| format!("logro-{n}")));
        families.extend(
            vamos_domain::services::Package::ALL
                .iter()
                .map(|p| format!("package-{}", p.code())),
        );
        families.extend(
            vamos_domain::services::DeliveryLevel::ALL
                .iter()
                .map(|l| format!("level-{}", l.code())),
        );
        families.extend(TITLED.map(|s| format!("error-{s}")));
        families.extend(["pendiente", "aprobada", "rechazada"].map(|s| format!("rev-status-{s}")));
        families.extend(
            [
                "district",
                "names",
                "birth",
                "sex",
                "relation",
                "cedula",
                "head",
                "no-members",
                "token",
                "rate",
                "too-long",
            ]
            .map(|s| format!("self-error-{s}")),
        );
        families.extend(["approved", "rejected", "already"].map(|s| format!("self-done-{s}")));
        families.extend(vamos_app::self_registration::RELATIONS.map(|s| format!("rel-{s}")));
        families.extend(
            ["fips", "simplificado", "comunidades", "admin"].map(|s| format!("imp-kind-{s}")),
        );
        families.extend(["completada", "rechazada", "en_curso"].map(|s| format!("imp-status-{s}")));
        families.extend(
            [
                "abierta",
                "emitida",
                "recibida",
                "contactada",
                "atendida",
                "rechazada",
                "vencida",
                "cerrada",
            ]
            .map(|s| format!("ref-{s}")),
        );
        families.extend(["persona", "hogar", "comunidad"].map(|s| format!("inbox-unit-{s}")));
        families.extend(
            ["acknowledged", "contacted", "rejected", "served"].map(|s| format!("inbox-done-{s}")),
        );
        families.extend(
            ["protegido", "desprotegido", "no_aplica", "sin_dato"].map(|s| format!("status-{s}")),
        );
        families.extend(
            vamos_domain::services::DeliveryLevel::ALL
                .iter()
                .map(|l| format!("ori-where-{}", l.code())),
        );
        assert_eq!(titled(StatusCode::CONFLICT), 400);
        assert_eq!(titled(StatusCode::BAD_GATEWAY), 500);
        families.extend(["departamento", "distrito"].map(|l| format!("children-title-{l}")));
        let breakdowns = vamos_engine::logros::PERSON_BREAKDOWNS
            .iter()
            .chain(vamos_engine::logros::HOUSEHOLD_BREAKDOWNS.iter())
            .chain(vamos_engine::logros::COMMUNITY_BREAKDOWNS.iter());
        families.extend(breakdowns.map(|b| format!("breakdown-{}", b.replace('_', "-"))));
        for key in &families {
            assert!(ids.contains(key), "falta el mensaje «{key}»");
        }
        for src in [
            include_str!("dashboard.rs"),
            include_str!("mod.rs"),
            include_str!("catalogue.rs"),
            include_str!("orientaciones.rs"),
            include_str!("registry.rs"),
            include_str!("inbox.rs"),
            include_str!("imports.rs"),
            include_str!("selfreg.rs"),
            include_str!("changes.rs"),
            include_str!("cases.rs"),
        ] {
            for line in src.lines() {
                for marker in ["key => \"", "Some(\"", "push(\""] {
                    if let Some(i) = line.find(marker) {
                        let after = &line[i + marker.len()..];
                        let key = &after[..after.find('"').unwrap()];
                        // `"self-error-birth|{n}"`: the message id before the member number.
                        let key = key.split('|').next().unwrap();
                        if key.contains('-') && !key.contains(' ') {
                            assert!(ids.iter().any(|k| k == key), "falta el mensaje «{key}»");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn every_file_of_the_templates_folder_is_a_template_under_its_name() {
        let folder = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("web/templates");
        let mut files: Vec<String> = std::fs::read_dir(folder)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        files.sort();
        let web = Web::get().unwrap();
        let mut names: Vec<&str> = web.env.templates().map(|(name, _)| name).collect();
        names.sort();
        assert_eq!(names, files);
        assert!(web.env.get_template("autorregistro.html").is_ok());
    }

    #[test]
    fn only_local_paths_are_followed_after_login() {
        assert_eq!(local_path(Some("/logros?t=11")), "/logros?t=11");
        assert_eq!(local_path(Some("//evil.example")), "/");
        assert_eq!(local_path(Some("https://evil.example")), "/");
        assert_eq!(local_path(Some("/\\evil")), "/");
        assert_eq!(local_path(None), "/");
        assert_eq!(encode("/logros?t=11"), "/logros%3Ft%3D11");
    }

    #[test]
    fn only_local_paths_are_return_paths() {
        for ok in [
            "/",
            "/bandeja?estado=pendiente",
            "/logros?t=1602",
            "/a/b%2F/c",
        ] {
            assert_eq!(safe_return_path(ok), Some(ok));
        }
        for bad in [
            "",
            "x",
            "https://evil.example/",
            "//evil.example/x",
            "/\\evil.example/x",
            "/\t/evil.example/x",
            "/\n/evil.example",
            "/a\\b",
            "/a b",
            "/caf\u{e9}",
            "/\u{7f}",
        ] {
            assert_eq!(safe_return_path(bad), None, "{bad:?}");
        }
    }
}
