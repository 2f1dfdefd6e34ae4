//! Self-registration (step 1C of the operating cycle): a public form (`/autorregistro`) where a
//! household gives its composition and location; it lands in a review queue
//! (`self_registrations`, migration 0011) — never directly in the registry — and the applicant
//! is told what happens next. UTGS analysts and administrators review the queue
//! (`/autorregistro/revision`, reads audited): approving imports the household through the
//! simplified-registration importer (the same validation as a field form; its key
//! `autorregistro:<id>` makes a second approval change nothing), rejecting records the reason.
//!
//! Anti-abuse without a CAPTCHA and without any third party: a hidden field that people leave
//! empty, a signed time token (the form must have been open at least 3 seconds and at most two
//! hours), and at most 5 submissions per address in 10 minutes.

use super::Page;
use crate::auth::{self, Principal};
use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::{ConnectInfo, Path, State};
use axum::response::Response;
use axum::Form;
use minijinja::context;
use minijinja::value::Value as JValue;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::OnceLock;
use vamos_app::self_registration::{
    self, split_error, validate, Decided, Decision as Verdict, RELATIONS, SLOTS,
};
use vamos_domain::{DistrictCode, Territory, TerritoryCode};

fn secret() -> &'static str {
    static SECRET: OnceLock<String> = OnceLock::new();
    SECRET.get_or_init(|| auth::random_hex(32).unwrap_or_else(|_| auth::now_rfc3339()))
}

pub(crate) fn sign(ts: i64) -> String {
    let mac = vamos_app::audit::sha256_hex(&format!("{}:{ts}", secret()));
    format!("{ts}.{}", mac.get(..32).unwrap_or(""))
}

/// Whether a time token is genuine and the form was open between 3 s and 2 h.
pub fn token_ok(token: &str, now: i64) -> bool {
    let Some((ts, _)) = token.split_once('.') else {
        return false;
    };
    let Ok(ts) = ts.parse::<i64>() else {
        return false;
    };
    sign(ts) == token && (3..=7200).contains(&(now - ts))
}

fn form_page(
    page: &Page,
    status: axum::http::StatusCode,
    values: &HashMap<String, String>,
    errors: Vec<String>,
) -> Response {
    let now = auth::now().timestamp();
    page.html_status(
        status,
        "autorregistro.html",
        context! {
            token => sign(now),
            districts => super::districts_by_department(),
            relations => RELATIONS.to_vec(),
            slots => (0..SLOTS).collect::<Vec<_>>(),
            v => values.clone(),
            young => errors.iter().any(|e| e.starts_with("self-error-young|")),
            errors => errors
                .iter()
                .map(|e| {
                    let (key, n) = split_error(e);
                    context! { key, n }
                })
                .collect::<Vec<_>>(),
        },
    )
}

/// `GET /autorregistro`
pub async fn form(page: Page) -> Response {
    form_page(
        &page,
        axum::http::StatusCode::OK,
        &HashMap::new(),
        Vec::new(),
    )
}

/// `POST /autorregistro`
pub async fn submit(
    State(st): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    page: Page,
    Form(v): Form<HashMap<String, String>>,
) -> Response {
    let now = auth::now();
    // Bots fill the hidden field or post at once; people do neither.
    if !v.get("sitio_web").is_none_or(|s| s.is_empty())
        || !token_ok(
            v.get("token").map(String::as_str).unwrap_or(""),
            now.timestamp(),
        )
    {
        return form_page(
            &page,
            axum::http::StatusCode::BAD_REQUEST,
            &v,
            vec!["self-error-token|".into()],
        );
    }
    if st.selfreg_limiter.check_key(&addr.ip()).is_err() {
        return form_page(
            &page,
            axum::http::StatusCode::TOO_MANY_REQUESTS,
            &v,
            vec!["self-error-rate|".into()],
        );
    }
    let sub = match validate(&v, now.date_naive()) {
        Ok(x) => x,
        Err(errors) => {
            return form_page(
                &page,
                axum::http::StatusCode::UNPROCESSABLE_ENTITY,
                &v,
                errors,
            )
        }
    };
    let at = auth::now_rfc3339();
    let queued = sub.clone();
    let inserted = st
        .pool
        .run(move |s| Ok(self_registration::submit(s, &queued, &at)?))
        .await;
    match inserted {
        Ok(id) => page.html(
            "autorregistro.html",
            context! {
                received => id,
                district => Territory::official().name_of(TerritoryCode::District(sub.district)),
                members => sub.members.len(),
            },
        ),
        Err(e) => page.error(&e),
    }
}

fn reviewer(page: &Page) -> Result<Principal, ApiError> {
    let Some(p) = page.user.clone() else {
        return Err(ApiError::unauthorized());
    };
    self_registration::require_reviewer(&p.as_actor())?;
    Ok(p)
}

/// `GET /autorregistro/revision`: the pending submissions (audited read of personal data).
pub async fn queue(
    State(st): State<AppState>,
    page: Page,
    axum::extract::Query(q): axum::extract::Query<HashMap<String, String>>,
) -> Response {
    let p = match reviewer(&page) {
        Ok(p) => p,
        Err(e) => return page.error(&e),
    };
    let who = p.as_actor();
    let rows = st
        .pool
        .run(move |s| {
            let rows = self_registration::queue(s, &who)?;
            let likely = self_registration::already_registered(s, &who, &rows)?;
            Ok((rows, likely))
        })
        .await;
    let (rows, likely) = match rows {
        Ok(r) => r,
        Err(e) => return page.error(&e),
    };
    let items: Vec<JValue> = rows
        .iter()
        .zip(&likely)
        .map(|((r, members), likely)| {
            let likely: Vec<JValue> = likely
                .iter()
                .map(|l| {
                    let member = members.get(l.member);
                    context! {
                        member => member.map(|m| format!("{}, {}", m.apellidos, m.nombres)),
                        person => l.person_id,
                        household => l.household_id,
                        names => format!("{}, {}", l.family_names.clone().unwrap_or_default(), l.given_names.clone().unwrap_or_default()),
                        birth => l.birth_date,
                        district => l.district_code.and_then(DistrictCode::from_stored)
                            .map(|d| Territory::official().name_of(TerritoryCode::District(d))),
                        probability => l.probability,
                    }
                })
                .collect();
            let district = DistrictCode::from_stored(r.district_code)
                .map(|d| Territory::official().name_of(TerritoryCode::District(d)))
                .unwrap_or_default();
            context! {
                id => r.id,
                submitted => r.submitted_at,
                district,
                area => r.area,
                locality => r.locality,
                address => r.address,
                phone => r.phone,
                status => r.status,
                reason => r.reason,
                members => JValue::from_serialize(members),
                likely,
            }
        })
        .collect();
    let done = q
        .get("hecho")
        .filter(|h| h.starts_with("self-done-"))
        .cloned();
    page.html("revision.html", context! { items, done })
}

#[derive(serde::Deserialize)]
pub struct Decision {
    pub csrf: String,
    /// `aprobar` or `rechazar`.
    pub accion: String,
    pub motivo: Option<String>,
}

/// `POST /autorregistro/revision/{id}`
pub async fn decide(
    State(st): State<AppState>,
    page: Page,
    Path(id): Path<i64>,
    Form(d): Form<Decision>,
) -> Response {
    let p = match reviewer(&page) {
        Ok(p) => p,
        Err(e) => return page.error(&e),
    };
    if d.csrf != p.csrf() {
        return page.error(&ApiError::forbidden(
            "el formulario venció o no es de esta sesión: vuelva a la revisión e intente de nuevo",
        ));
    }
    let url = st.settings.db.clone();
    let who = p.as_actor();
    let decision = match d.accion.as_str() {
        "rechazar" => Verdict::Reject {
            reason: d.motivo.clone().unwrap_or_default(),
        },
        "aprobar" => Verdict::Approve,
        _ => return page.error(&ApiError::bad_request("acción desconocida")),
    };
    let outcome = st
        .pool
        .run(move |s| {
            Ok(
                match self_registration::decide(s, &url, &who, id, &decision)? {
                    Decided::Approved => "self-done-approved",
                    Decided::Rejected => "self-done-rejected",
                    Decided::AlreadyDecided => "self-done-already",
                },
            )
        })
        .await;
    match outcome {
        Ok(done) => super::redirect(&format!("/autorregistro/revision?hecho={done}")),
        Err(e) => page.error(&e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_time_token_is_signed_and_must_age_between_3_seconds_and_2_hours() {
        let t = sign(1_000);
        assert!(!token_ok(&t, 1_001));
        assert!(token_ok(&t, 1_005));
        assert!(!token_ok(&t, 1_000 + 7_201));
        assert!(!token_ok("1000.falso", 1_005));
        assert!(!token_ok("", 1_005));
    }
}
