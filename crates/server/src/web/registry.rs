//! Registry views for authorized accounts (`/registro`): search persons by name, cédula and
//! territory, and the household page — its members (only the fields the account may see) and,
//! with the status permission, each member's and the household's status per service with the
//! evidence that decided it.
//!
//! Every read goes through the same use cases as the JSON API (`vamos_app::registry`), so the
//! scope, the field policy and the audit record are exactly the API's; the statuses are
//! computed for the household's community only (`explain_household`) and audited as one
//! "explicar estatus" record naming the household and its members.

use super::Page;
use crate::api::PurposeQuery;
use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use minijinja::context;
use minijinja::value::Value as JValue;
use serde::Deserialize;
use serde_json::Value;
use vamos_app::registry;
use vamos_app::registry::PersonSearch;
use vamos_domain::authz::Permission;
use vamos_domain::{DistrictCode, Territory, TerritoryCode};

#[derive(Deserialize, Default)]
pub struct SearchForm {
    pub nombre: Option<String>,
    pub cedula: Option<String>,
    pub territorio: Option<String>,
    /// The page to continue after (the last id shown).
    pub despues: Option<i64>,
    /// How many were shown before this page (for "101–200 de 8.189").
    pub desde: Option<i64>,
}

pub(super) fn territory_name(code: Option<i64>) -> String {
    code.and_then(DistrictCode::from_stored)
        .map(|d| Territory::official().name_of(TerritoryCode::District(d)))
        .unwrap_or_default()
}

/// A field of a JSON row as text (`None` when absent or null).
pub(super) fn text(v: &Value, k: &str) -> Option<String> {
    match v.get(k)? {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

/// Persons per page of the search.
const PAGE: i64 = 100;

/// `GET /registro`
pub async fn search(
    State(st): State<AppState>,
    page: Page,
    Query(f): Query<SearchForm>,
) -> Response {
    let Some(p) = page.user.clone() else {
        return page.error(&ApiError::unauthorized());
    };
    if !p.can(Permission::PersonsFind) {
        return page.error(&ApiError::forbidden(
            "su rol no permite consultar el registro de personas",
        ));
    }
    let nombre = f.nombre.as_deref().map(str::trim).filter(|s| !s.is_empty());
    let cedula_raw = f
        .cedula
        .as_deref()
        .map(|s| s.trim().replace(['.', ' '], ""))
        .filter(|s| !s.is_empty());
    let territorio = f
        .territorio
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty());
    let form = context! { nombre, cedula => f.cedula.clone(), territorio };
    if nombre.is_none() && cedula_raw.is_none() && territorio.is_none() {
        return page.html("registro.html", context! { form });
    }
    let cedula = match cedula_raw.as_deref().map(str::parse::<i64>) {
        None => None,
        Some(Ok(n)) if n > 0 => Some(n),
        Some(_) => {
            return page.html_status(
                axum::http::StatusCode::BAD_REQUEST,
                "registro.html",
                context! { form, error => "reg-error-cedula" },
            )
        }
    };
    let q = PersonSearch {
        q: nombre.map(str::to_string),
        cedula,
        territory: territorio.map(str::to_string),
        after: f.despues.filter(|a| *a > 0),
        limit: Some(PAGE),
        purpose: Some("búsqueda en el registro (aplicación web)".into()),
    };
    let synthetic = st
        .pool
        .run(|s| Ok(s.has_synthetic_data()?))
        .await
        .unwrap_or(false);
    let found = p
        .act(&st, move |s, actor| registry::search_persons(s, actor, &q))
        .await;
    match found.map(|page| page.json()) {
        Ok(v) => {
            let rows: Vec<JValue> = super::items(&v)
                .map(|r| {
                    context! {
                        id => r.get("id").and_then(Value::as_i64),
                        household => r.get("household_id").and_then(Value::as_i64),
                        given => text(r, "given_names"),
                        family => text(r, "family_names"),
                        cedula => text(r, "national_id"),
                        birth => text(r, "birth_date"),
                        district => territory_name(r.get("district_code").and_then(Value::as_i64)),
                    }
                })
                .collect();
            let shown_before = f.desde.unwrap_or(0).clamp(0, 100_000_000);
            let next = v.get("next_after").and_then(Value::as_i64).map(|after| {
                let mut pairs: Vec<(&str, String)> = [
                    ("nombre", nombre),
                    ("cedula", f.cedula.as_deref()),
                    ("territorio", territorio),
                ]
                .into_iter()
                .filter_map(|(k, v)| {
                    v.filter(|x| !x.trim().is_empty())
                        .map(|x| (k, x.to_string()))
                })
                .collect();
                pairs.push(("despues", after.to_string()));
                pairs.push(("desde", (shown_before + PAGE).to_string()));
                format!(
                    "/registro?{}",
                    serde_urlencoded::to_string(&pairs).unwrap_or_default()
                )
            });
            let total = v.get("total").and_then(Value::as_i64);
            let at_least = v
                .get("total_is_lower_bound")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            let first = shown_before + 1;
            let last = shown_before + i64::try_from(rows.len()).unwrap_or(0);
            page.html(
                "registro.html",
                context! { form, rows, searched => true, next, total, at_least, first, last, synthetic, can_households => p.can(Permission::RegistryRead) },
            )
        }
        Err(e)
            if e.status.is_client_error() && e.status != axum::http::StatusCode::UNAUTHORIZED =>
        {
            page.html_status(
                e.status,
                "registro.html",
                context! { form, message => e.message },
            )
        }
        Err(e) => page.error(&e),
    }
}

/// The referrals of a household and its members, for accounts that read referrals (an
/// operator sees its institution's); none otherwise or on error.
pub(super) async fn household_referrals(
    st: &AppState,
    p: &crate::auth::Principal,
    id: vamos_domain::HouseholdId,
) -> Vec<JValue> {
    if !p.can(Permission::ReferralsRead) {
        return Vec::new();
    }
    let rq = vamos_app::referrals::work::ReferralQuery {
        institution: None,
        territory: None,
        service: None,
        status: None,
        min_priority: None,
        household: Some(id),
        limit: Some(200),
        offset: None,
        format: Some("json".into()),
        purpose: Some("referencias de un hogar (aplicación web)".into()),
        order: None,
    };
    let actor = p.as_actor();
    let catalogue = st.catalogue.clone();
    let listed = st
        .pool
        .run(move |s| {
            Ok(vamos_app::referrals::work::list(
                s, &actor, &catalogue, &rq,
            )?)
        })
        .await;
    let Ok(listing) = listed else {
        return Vec::new();
    };
    let v = listing.json();
    super::items(&v)
        .map(|r| {
            context! {
                id => r.get("id").and_then(Value::as_i64),
                service => text(r, "service_name").or_else(|| text(r, "service")),
                institution => text(r, "institution"),
                status => text(r, "status"),
                due => text(r, "due_on"),
                unit => text(r, "unit_kind"),
                unit_id => r.get("unit_id").and_then(Value::as_i64),
            }
        })
        .collect()
}

/// The objects of an array field of a JSON row (none when absent).
fn items_named<'a>(row: &'a Value, key: &str) -> impl Iterator<Item = &'a Value> {
    row.get(key).and_then(Value::as_array).into_iter().flatten()
}

/// Status of one service, for the page (the rule behind it only for analysts: `technical`).
pub(super) fn services_of(explained: &Value, technical: bool) -> Vec<JValue> {
    explained
        .get("categories")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|c| {
            let services: Vec<JValue> = c
                .get("services")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(|s| {
                    context! {
                        name => text(s, "name"),
                        code => text(s, "service"),
                        institution => text(s, "institution"),
                        status => text(s, "status"),
                        source => s.get("evidence").and_then(|e| text(e, "source")),
                        date => s.get("evidence").and_then(|e| text(e, "date")),
                        detail => s.get("evidence").and_then(|e| text(e, "detail")),
                        technical => s.get("evidence").and_then(|e| text(e, "technical")).filter(|_| technical),
                    }
                })
                .collect();
            context! {
                logro => c.get("logro").and_then(Value::as_u64),
                concurrent => c.get("concurrent").and_then(Value::as_bool),
                services,
            }
        })
        .collect()
}

/// `GET /registro/hogares/{id}`
pub async fn household(
    State(st): State<AppState>,
    page: Page,
    Path(id): Path<vamos_domain::HouseholdId>,
) -> Response {
    let Some(p) = page.user.clone() else {
        return page.error(&ApiError::unauthorized());
    };
    let technical = matches!(
        p.role,
        vamos_domain::authz::Role::Administrador | vamos_domain::authz::Role::Analista
    );
    let q = PurposeQuery {
        purpose: Some("consulta de un hogar (aplicación web)".into()),
    };
    let actor = p.as_actor();
    let h = match st
        .pool
        .run(move |s| Ok(registry::household(s, &actor, id, &q.purpose)?))
        .await
    {
        Ok(h) => h,
        Err(e) => return page.error(&e),
    };
    let synthetic = st
        .pool
        .run(move |s| Ok(registry::household_is_synthetic(s, id)?))
        .await
        .unwrap_or(false);
    // Statuses, when the account may read them: one load of the community, one audit record.
    let mut statuses: Option<registry::HouseholdStatuses> = None;
    if p.can(Permission::StatusRead) {
        let catalogue = st.catalogue.clone();
        let actor = p.as_actor();
        let r = st
            .pool
            .run(move |s| {
                Ok(registry::household_statuses(
                    s,
                    &actor,
                    &catalogue,
                    id,
                    "consulta de un hogar (aplicación web)",
                )?)
            })
            .await;
        match r {
            Ok(found) => statuses = found,
            Err(e) => return page.error(&e),
        }
    }
    let name_of = |pid: i64| {
        items_named(&h, "members")
            .find(|m| m.get("id").and_then(Value::as_i64) == Some(pid))
            .map(|m| {
                [text(m, "given_names"), text(m, "family_names")]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .filter(|n| !n.is_empty())
    };
    let members: Vec<JValue> = items_named(&h, "members")
        .map(|m| {
            let pid = m.get("id").and_then(Value::as_i64);
            let explained = statuses
                .as_ref()
                .and_then(|s| s.members.iter().find(|(i, _)| Some(*i) == pid))
                .map(|(_, v)| services_of(v, technical));
            context! {
                id => pid,
                given => text(m, "given_names"),
                family => text(m, "family_names"),
                cedula => text(m, "national_id"),
                birth => text(m, "birth_date"),
                sex => text(m, "sex"),
                relationship => text(m, "relationship"),
                categories => explained,
            }
        })
        .collect();
    let household_services = statuses
        .as_ref()
        .map(|s| services_of(&s.household, technical));
    // The household's route, with the members' names.
    let route: Vec<JValue> = statuses
        .as_ref()
        .map(registry::HouseholdStatuses::route)
        .unwrap_or_default()
        .into_iter()
        .map(|u| {
            context! {
                person => u.person,
                name => u.person.and_then(name_of),
                services => u.services,
            }
        })
        .collect();
    let as_of = statuses.as_ref().map(|s| s.as_of.clone());
    let referrals = household_referrals(&st, &p, id).await;
    // The deprivation profile, where the account's agreement lists poverty (a refusal hides
    // the section and says why; nothing of the profile is sent).
    let (actor, seen) = (p.as_actor(), h.clone());
    let profile = st
        .pool
        .run(move |s| {
            Ok(vamos_app::ipm::profile_of(
                s,
                &actor,
                id,
                &seen,
                &Some("consulta de un hogar (aplicación web)".into()),
            ))
        })
        .await;
    let (ipm, ipm_refused) = match profile {
        Ok(Ok(v)) => (Some(JValue::from_serialize(&v)), None),
        Ok(Err(e)) if e.kind == vamos_app::ErrorKind::Forbidden => (None, Some(e.message)),
        Ok(Err(e)) => return page.error(&ApiError::from(e)),
        Err(e) => return page.error(&e),
    };
    page.html(
        "hogar.html",
        context! {
            id,
            district => territory_name(h.get("district_code").and_then(Value::as_i64)),
            district_code => h.get("district_code").and_then(Value::as_i64).map(|d| format!("{d:04}")),
            community => text(&h, "community_name"),
            area => text(&h, "area"),
            address => text(&h, "address"),
            interview => text(&h, "interview_date"),
            members,
            household_services,
            as_of,
            can_status => p.can(Permission::StatusRead),
            synthetic,
            route,
            referrals,
            ipm,
            ipm_refused,
            can_referrals => p.can(Permission::ReferralsRead),
            can_request => p.can(Permission::ChangesRequest),
            community_id => h.get("community_id").and_then(Value::as_i64),
        },
    )
}

/// `GET /registro/comunidades/{id}`: a community (counts, latest Entorno survey) and, with the
/// status permission, its Entorno services' status with evidence (audited).
pub async fn community(
    State(st): State<AppState>,
    page: Page,
    Path(id): Path<vamos_domain::CommunityId>,
) -> Response {
    let Some(p) = page.user.clone() else {
        return page.error(&ApiError::unauthorized());
    };
    let technical = matches!(
        p.role,
        vamos_domain::authz::Role::Administrador | vamos_domain::authz::Role::Analista
    );
    let actor = p.as_actor();
    let c = match st
        .pool
        .run(move |s| Ok(registry::community(s, &actor, id)?))
        .await
    {
        Ok(c) => c,
        Err(e) => return page.error(&e),
    };
    let mut explained = None;
    let mut as_of = None;
    if p.can(Permission::StatusRead) {
        let catalogue = st.catalogue.clone();
        let actor = p.as_actor();
        let r = st
            .pool
            .run(move |s| {
                Ok(registry::community_statuses(
                    s,
                    &actor,
                    &catalogue,
                    id,
                    "consulta de una comunidad (aplicación web)",
                )?)
            })
            .await;
        match r {
            Ok(Some((day, v))) => {
                as_of = Some(day);
                explained = Some(services_of(&v, technical));
            }
            Ok(None) => {}
            Err(e) => return page.error(&e),
        }
    }
    page.html(
        "comunidad.html",
        context! {
            id,
            name => text(&c, "name"),
            district => territory_name(c.get("district_code").and_then(Value::as_i64)),
            district_code => c.get("district_code").and_then(Value::as_i64).map(|d| format!("{d:04}")),
            area => text(&c, "area"),
            households => c.get("households").and_then(Value::as_i64),
            persons => c.get("persons").and_then(Value::as_i64),
            last_survey => text(&c, "last_survey"),
            categories => explained,
            as_of,
            can_status => p.can(Permission::StatusRead),
        },
    )
}

/// `GET /registro/hogares/{id}/historial`: every version of the household and of its members,
/// dated, with where each came from and what changed (one audited read).
pub async fn household_history(
    State(st): State<AppState>,
    page: Page,
    Path(id): Path<vamos_domain::HouseholdId>,
) -> Response {
    let Some(p) = page.user.clone() else {
        return page.error(&ApiError::unauthorized());
    };
    let purpose = Some("consulta del historial de un hogar (aplicación web)".to_string());
    let actor = p.as_actor();
    match st
        .pool
        .run(move |s| {
            Ok(vamos_app::history::household_history(
                s, &actor, id, &purpose,
            )?)
        })
        .await
    {
        Ok(h) => page.html(
            "hogar_historial.html",
            context! {
                id,
                h => JValue::from_serialize(&h),
                can_request => p.can(Permission::ChangesRequest),
            },
        ),
        Err(e) => page.error(&e),
    }
}
