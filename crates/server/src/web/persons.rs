//! A person's page (`/registro/personas/{id}`): who they are (the fields the account may see),
//! their protection status per service with what decided it, the route of what they still
//! lack and where to get it (printable), their referrals, their Canal Verde cases and the
//! contacts recorded on them — and, at the counter, recording the orientation given (evidence
//! for ORIENTACIONES SPS, sent as the UTGS's counter-referral) and opening a case.
//!
//! Every read goes through the same use cases as the JSON API (`vamos_app::registry`,
//! `vamos_app::cases`, `vamos_app::orientations`): scope, field policy and audit are theirs.
//! The status is read with one load of the person's community, not of the district.

use super::registry::{household_referrals, services_of, territory_name, text};
use super::Page;
use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::Form;
use minijinja::context;
use minijinja::value::Value as JValue;
use serde_json::Value;
use std::collections::HashMap;
use vamos_app::registry;
use vamos_domain::authz::{Permission, Role};
use vamos_domain::cases::CaseStatus;

const PURPOSE: &str = "consulta de una persona (aplicación web)";

/// `GET /registro/personas/{id}`
pub async fn page(
    State(st): State<AppState>,
    page: Page,
    Path(id): Path<vamos_domain::PersonId>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let Some(p) = page.user.clone() else {
        return page.error(&ApiError::unauthorized());
    };
    let technical = matches!(p.role, Role::Administrador | Role::Analista);
    let actor = p.as_actor();
    let person = match st
        .pool
        .run(move |s| Ok(registry::person(s, &actor, id, &Some(PURPOSE.into()))?))
        .await
    {
        Ok(v) => v,
        Err(e) => return page.error(&e),
    };
    let household = person
        .get("household_id")
        .and_then(Value::as_i64)
        .map(vamos_domain::HouseholdId);
    // The status and the route: one load of the household's community, audited once.
    let mut statuses = None;
    if let (true, Some(h)) = (p.can(Permission::StatusRead), household) {
        let catalogue = st.catalogue.clone();
        let actor = p.as_actor();
        match st
            .pool
            .run(move |s| {
                Ok(registry::household_statuses(
                    s, &actor, &catalogue, h, PURPOSE,
                )?)
            })
            .await
        {
            Ok(found) => statuses = found,
            Err(e) => return page.error(&e),
        }
    }
    let pid = id.get();
    let categories = statuses.as_ref().and_then(|s| {
        s.members
            .iter()
            .find(|(i, _)| *i == pid)
            .map(|(_, v)| services_of(v, technical))
    });
    let route: Vec<JValue> = statuses
        .as_ref()
        .map(registry::HouseholdStatuses::route)
        .unwrap_or_default()
        .into_iter()
        .filter(|u| u.person == Some(pid))
        .flat_map(|u| u.services)
        .map(|s| JValue::from_serialize(&s))
        .collect();
    let referrals: Vec<JValue> = match household {
        Some(h) => household_referrals(&st, &p, h)
            .await
            .into_iter()
            .filter(|r| {
                r.get_attr("unit_id")
                    .ok()
                    .and_then(|v| i64::try_from(v).ok())
                    == Some(pid)
                    && r.get_attr("unit").ok().as_ref().and_then(JValue::as_str) == Some("persona")
            })
            .collect(),
        None => Vec::new(),
    };
    let (cases, contacts) = person_cases(&st, &p, pid, household.map(|h| h.get())).await;
    let name = [text(&person, "given_names"), text(&person, "family_names")]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    page.html(
        "persona.html",
        context! {
            id => pid,
            name => (!name.is_empty()).then_some(name),
            cedula => text(&person, "national_id"),
            birth => text(&person, "birth_date"),
            sex => text(&person, "sex"),
            relationship => text(&person, "relationship"),
            household => household.map(|h| h.get()),
            district => territory_name(person.get("district_code").and_then(Value::as_i64)),
            as_of => statuses.as_ref().map(|s| s.as_of.clone()),
            categories,
            route,
            referrals,
            cases,
            contacts,
            can_status => p.can(Permission::StatusRead),
            can_households => p.can(Permission::RegistryRead),
            can_referrals => p.can(Permission::ReferralsRead),
            can_cases => p.can(Permission::CasesRead),
            can_orient => p.can(Permission::OrientationsRecord),
            can_open_case => p.can(Permission::CasesOpen) || p.can(Permission::CasesWork),
            done => q.get("hecho").filter(|h| h.starts_with("person-done-")).cloned(),
            opened_case => q.get("caso").and_then(|c| c.parse::<i64>().ok()),
        },
    )
}

/// The person's and household's cases, and the contacts (visits, calls, notes) recorded on
/// the open one, for accounts that read cases; none otherwise or on error.
async fn person_cases(
    st: &AppState,
    p: &crate::auth::Principal,
    pid: i64,
    household: Option<i64>,
) -> (Vec<JValue>, Vec<JValue>) {
    if !p.can(Permission::CasesRead) {
        return (Vec::new(), Vec::new());
    }
    let actor = p.as_actor();
    let catalogue = st.catalogue.clone();
    let found = st
        .pool
        .run(move |s| {
            let cases = vamos_app::cases::of_person(s, &actor, pid, household)?;
            let open = cases
                .iter()
                .find(|c| c.status != CaseStatus::Cerrado.code());
            let shown = match open {
                Some(c) => Some(vamos_app::cases::show(s, &actor, &catalogue, c.id)?),
                None => None,
            };
            Ok((cases, shown))
        })
        .await;
    let Ok((cases, shown)) = found else {
        return (Vec::new(), Vec::new());
    };
    let rows = cases
        .iter()
        .map(|c| {
            context! {
                id => c.id,
                unit => c.unit_kind.clone(),
                status => CaseStatus::parse(&c.status).map(CaseStatus::label),
                priority => c.priority.clone(),
                opened_at => c.opened_at.clone(),
            }
        })
        .collect();
    let contacts = shown
        .as_ref()
        .and_then(|v| v.get("timeline"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|e| {
            matches!(
                e.get("kind").and_then(Value::as_str),
                Some("visita" | "contacto" | "nota")
            )
        })
        .map(|e| {
            context! {
                at => text(e, "at"),
                kind => text(e, "kind"),
                actor => text(e, "actor"),
                detail => text(e, "detail"),
            }
        })
        .collect();
    (rows, contacts)
}

#[derive(serde::Deserialize)]
pub struct OrientForm {
    pub csrf: String,
    pub lugar: Option<String>,
}

/// `POST /registro/personas/{id}`: records the orientation given today.
pub async fn orient(
    State(st): State<AppState>,
    page: Page,
    Path(id): Path<vamos_domain::PersonId>,
    Form(f): Form<OrientForm>,
) -> Response {
    let Some(p) = page.user.clone() else {
        return page.error(&ApiError::unauthorized());
    };
    if p.csrf() != f.csrf {
        return page.error(&ApiError::forbidden(
            "el formulario venció o no es de esta sesión: vuelva a la página e intente de nuevo",
        ));
    }
    let today = crate::auth::now().date_naive();
    let o = vamos_app::orientations::Orientation {
        person_id: id.get(),
        place: f.lugar,
    };
    let (utgs, events) = match vamos_app::orientations::sender(&p.as_actor(), &o, today) {
        Ok(x) => x,
        Err(e) => return page.error(&ApiError::from(e)),
    };
    match crate::api::counter_referrals::ingest_as(&st, utgs, events, "orientacion").await {
        Ok(sum) if sum.accepted + sum.duplicates == 1 => super::redirect(&format!(
            "/registro/personas/{}?hecho=person-done-oriented",
            id.get()
        )),
        Ok(sum) => page.error(&ApiError::new(
            axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            "orientacion_rechazada",
            format!(
                "la orientación no se registró: {}",
                sum.errors
                    .iter()
                    .map(|e| e.reason.clone())
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
        )),
        Err(e) => page.error(&e),
    }
}
