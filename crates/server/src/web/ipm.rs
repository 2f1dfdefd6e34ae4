//! Multidimensional poverty on the web (`/ipm`): a territory's official index at a measurement
//! — H, A and M0 over persons and households, each indicator's headcounts and contribution (a
//! bar chart with its table), urban and rural, populations of special attention, the map of the
//! departments or the table of districts, robustness over k and the change from another
//! measurement — and `/ipm/territorios.csv` with every territory. Aggregates for those who read
//! the Logros of that territory; everything comes from `vamos_app::ipm`, shared with `/api/ipm`
//! and `vamos ipm`.

use super::{map, Page};
use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::{Query, State};
use axum::response::Response;
use minijinja::context;
use minijinja::value::Value as JValue;
use serde_json::Value;
use std::collections::HashMap;
use vamos_app::ipm::{self, Ask};
use vamos_domain::{Permission, TerritoryCode};

/// Readers of the index: the Logros' readers (aggregates, not persons).
fn reader(page: &Page) -> Result<vamos_app::Actor, ApiError> {
    let Some(u) = page.user.as_ref() else {
        return Err(ApiError::unauthorized());
    };
    if !u.can(Permission::LogrosRead) {
        return Err(ApiError::forbidden(
            "su rol no permite consultar las cifras internas de las mediciones",
        ));
    }
    Ok(u.as_actor())
}

fn ask_of(q: &HashMap<String, String>) -> Result<Ask, ApiError> {
    let get = |k: &str| q.get(k).map(|s| s.trim()).filter(|s| !s.is_empty());
    let number = |k: &str| -> Result<Option<f64>, ApiError> {
        get(k)
            .map(|s| {
                s.replace(',', ".").parse::<f64>().map_err(|_| {
                    ApiError::bad_request(format!("«{k}» debe ser un número (0,26 = 26 %)"))
                })
            })
            .transpose()
    };
    let id = |k: &str| -> Result<Option<i64>, ApiError> {
        get(k)
            .map(|s| {
                s.parse::<i64>().map_err(|_| {
                    ApiError::bad_request(format!("«{k}» debe ser un número de medición"))
                })
            })
            .transpose()
    };
    let territory = match get("t") {
        None => None,
        Some(t) => Some(TerritoryCode::parse(t).map_err(|e| ApiError::bad_request(e.to_string()))?),
    };
    Ok(Ask {
        measurement: id("m")?,
        territory,
        k: number("k")?,
        ks: Vec::new(),
        compare: id("comparar")?,
        readers: 2,
    })
}

/// `GET /ipm`
pub async fn page(
    State(st): State<AppState>,
    page: Page,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let (actor, ask) = match reader(&page).and_then(|a| Ok((a, ask_of(&q)?))) {
        Ok(x) => x,
        Err(e) => return page.error(&e),
    };
    // An account bound to territories starts at its first one (the nation would be refused).
    let own = match &actor.scope {
        vamos_domain::Scope::Territories(ts) if !actor.operator && !actor.scope.is_nationwide() => {
            ts.first().copied()
        }
        _ => None,
    };
    let t = ask.territory.or(own).unwrap_or(TerritoryCode::Nation);
    let ask = Ask {
        territory: Some(t),
        ..ask
    };
    let national = actor.operator || actor.scope.is_nationwide();
    let list_actor = actor.clone();
    let out = st
        .pool
        .run(move |s| {
            let r = ipm::report(s, &actor, &ask);
            let measurements = vamos_app::measurements::list(s, &list_actor)?;
            Ok((r, measurements))
        })
        .await;
    let (r, measurements) = match out {
        Ok(x) => x,
        Err(e) => return page.error(&e),
    };
    let r = match r {
        Ok(r) => r,
        Err(e) => {
            let e = ApiError::from(e);
            if e.status == axum::http::StatusCode::NOT_FOUND {
                return page.html_status(
                    e.status,
                    "ipm.html",
                    context! { refused => e.message, measurements => JValue::from_serialize(&measurements) },
                );
            }
            return page.error(&e);
        }
    };
    let lang = page.lang;
    let text = |key: &str| {
        super::Web::get()
            .map(|w| w.text(lang, key, &[]))
            .unwrap_or_default()
    };
    let mut bars: Vec<(String, f64)> = r
        .get("indicators")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|i| {
            let code = i.get("indicator").and_then(Value::as_str).unwrap_or("");
            (
                text(&format!("ipm-ind-{}", code.replace('_', "-"))),
                i.get("contribution_share")
                    .and_then(Value::as_f64)
                    .unwrap_or(0.0),
            )
        })
        .collect();
    bars.sort_by(|a, b| b.1.total_cmp(&a.1));
    let bars_svg = map::bars_svg(&bars, lang, &text("ipm-chart-title"));
    let measurement = r
        .pointer("/measurement/id")
        .and_then(Value::as_i64)
        .unwrap_or_default();
    let map_svg = (t == TerritoryCode::Nation).then(|| {
        let values: Vec<(u8, Option<f64>, String)> = r
            .get("territories")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|x| {
                let code = x.get("territory")?.as_str()?.parse::<u8>().ok()?;
                Some((
                    code,
                    x.get("H").and_then(Value::as_f64),
                    x.get("name")?.as_str()?.to_string(),
                ))
            })
            .collect();
        map::choropleth(
            &values,
            None,
            &|code| format!("/ipm?t={code:02}&amp;m={measurement}"),
            &map::SHARE_CLASSES,
            lang,
            &text("ipm-map-title"),
        )
    });
    let legend = map::legend_of(&map::SHARE_CLASSES);
    let k_pct = r
        .get("k")
        .and_then(Value::as_f64)
        .map(|k| lang.pct(Some(k)));
    page.html(
        "ipm.html",
        context! {
            r => JValue::from_serialize(&r),
            territory => t.to_string(),
            bars_svg, map_svg, legend, k_pct, national,
            k => q.get("k").cloned(),
            comparar => q.get("comparar").cloned(),
            measurements => JValue::from_serialize(&measurements),
        },
    )
}

/// `GET /ipm/territorios.csv`: every territory's index.
pub async fn csv(
    State(st): State<AppState>,
    page: Page,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let (actor, ask) = match reader(&page).and_then(|a| Ok((a, ask_of(&q)?))) {
        Ok(x) => x,
        Err(e) => return page.error(&e),
    };
    let out = st
        .pool
        .run(move |s| {
            let (m, rows) = ipm::territories_table(s, &actor, ask.measurement, ask.k, 2)?;
            Ok(ipm::territories_csv(&m, &rows)?)
        })
        .await;
    match out {
        Ok(bytes) => crate::api::csv_download("ipm_territorios.csv", bytes),
        Err(e) => page.error(&e),
    }
}
