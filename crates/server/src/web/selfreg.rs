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
use crate::api;
use crate::auth::{self, Principal};
use crate::error::ApiError;
use crate::state::{AppState, RateLimiter};
use axum::extract::{ConnectInfo, Path, State};
use axum::response::Response;
use axum::Form;
use chrono::Datelike;
use minijinja::context;
use minijinja::value::Value as JValue;
use serde_json::Value;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::OnceLock;
use vamos_domain::access::Role;
use vamos_domain::{DistrictCode, ImportKind, Territory, TerritoryCode};

/// Member slots on the form.
pub const SLOTS: usize = 8;
/// The relationship codes of the simplified form (`relacion` of the FIPS).
pub const RELATIONS: [&str; 11] = [
    "jefe",
    "conyuge",
    "hijo",
    "yerno_nuera",
    "nieto",
    "padre_madre",
    "suegro",
    "hermano",
    "otro_pariente",
    "no_pariente",
    "servicio_domestico",
];

fn secret() -> &'static str {
    static SECRET: OnceLock<String> = OnceLock::new();
    SECRET.get_or_init(|| auth::random_hex(32).unwrap_or_else(|_| auth::now_rfc3339()))
}

fn sign(ts: i64) -> String {
    let mac = vamos_store::audit::sha256_hex(&format!("{}:{ts}", secret()));
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

fn limiter() -> &'static RateLimiter {
    static L: OnceLock<RateLimiter> = OnceLock::new();
    L.get_or_init(|| RateLimiter::new(5, std::time::Duration::from_secs(600)))
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

/// A member as submitted.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Member {
    pub nombres: String,
    pub apellidos: String,
    pub cedula: Option<String>,
    pub fecha_nacimiento: String,
    pub sexo: String,
    pub relacion_jefe: String,
}

/// Validates the form: the district, the members (names, a real birth date not in the future,
/// sex, relationship, a numeric cédula if any), exactly one head. Errors are message ids with
/// the member's number.
pub fn validate(
    v: &HashMap<String, String>,
    today: chrono::NaiveDate,
) -> Result<(DistrictCode, Vec<Member>), Vec<String>> {
    let get = |k: &str| v.get(k).map(|s| s.trim().to_string()).unwrap_or_default();
    let mut errors = Vec::new();
    let district = get("distrito")
        .parse::<u16>()
        .ok()
        .and_then(|n| DistrictCode::from_number(n).ok());
    if district.is_none() {
        errors.push("self-error-district|".to_string());
    }
    // The registry places every household in a community (barrio, compañía or localidad).
    if get("localidad").is_empty() {
        errors.push("self-error-locality|".to_string());
    }
    let mut members = Vec::new();
    for i in 0..SLOTS {
        let f = |k: &str| get(&format!("m{i}_{k}"));
        let (nombres, apellidos) = (f("nombres"), f("apellidos"));
        let any = [&nombres, &apellidos, &f("fecha"), &f("cedula")]
            .iter()
            .any(|x| !x.is_empty());
        if !any {
            continue;
        }
        let n = i + 1;
        if nombres.is_empty()
            || apellidos.is_empty()
            || nombres.chars().count() > 100
            || apellidos.chars().count() > 100
        {
            errors.push(format!("self-error-names|{n}"));
        }
        let birth = vamos_ingest::dates::parse_date(&f("fecha")).ok().flatten();
        match birth {
            Some(d) if d <= today && d.year_ce().1 >= 1900 => {}
            _ => errors.push(format!("self-error-birth|{n}")),
        }
        let sexo = f("sexo");
        if sexo != "mujer" && sexo != "hombre" {
            errors.push(format!("self-error-sex|{n}"));
        }
        let rel = f("relacion");
        if !RELATIONS.contains(&rel.as_str()) {
            errors.push(format!("self-error-relation|{n}"));
        }
        let ced = f("cedula").replace(['.', ' '], "");
        if !ced.is_empty() && (ced.len() > 9 || !ced.chars().all(|c| c.is_ascii_digit())) {
            errors.push(format!("self-error-cedula|{n}"));
        }
        members.push(Member {
            nombres,
            apellidos,
            cedula: (!ced.is_empty()).then_some(ced),
            fecha_nacimiento: birth.map(|d| d.to_string()).unwrap_or_default(),
            sexo,
            relacion_jefe: rel,
        });
    }
    if members.is_empty() {
        errors.push("self-error-no-members|".to_string());
    } else if members.iter().filter(|m| m.relacion_jefe == "jefe").count() != 1 {
        errors.push("self-error-head|".to_string());
    }
    match district {
        Some(d) if errors.is_empty() => Ok((d, members)),
        _ => Err(errors),
    }
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
    if !limiter().allow(&addr.ip().to_string()) {
        return form_page(
            &page,
            axum::http::StatusCode::TOO_MANY_REQUESTS,
            &v,
            vec!["self-error-rate|".into()],
        );
    }
    let (district, members) = match validate(&v, now.date_naive()) {
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
    let get = |k: &str| {
        v.get(k)
            .map(|s| s.trim().chars().take(200).collect::<String>())
            .filter(|s| !s.is_empty())
    };
    let area = get("area").filter(|a| a == "urbana" || a == "rural");
    let (locality, address, phone) = (get("localidad"), get("direccion"), get("telefono"));
    let members_json = serde_json::to_string(&members).unwrap_or_else(|_| "[]".into());
    let at = auth::now_rfc3339();
    let inserted = st
        .pool
        .run(move |s| {
            let row = s.sql().query_opt(
                "INSERT INTO self_registrations (submitted_at, district_code, area, locality, address, phone, members, status)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, 'pendiente') RETURNING id",
                &[
                    at.as_str().into(),
                    i64::from(district.get()).into(),
                    area.into(),
                    locality.into(),
                    address.into(),
                    phone.into(),
                    members_json.as_str().into(),
                ],
            )?;
            let id = row.and_then(|r| r.int(0)).unwrap_or_default();
            // The applicant is nobody's account: the record names the submission, not persons.
            s.audit(&vamos_store::AuditEntry {
                at: at.clone(),
                actor: "público".into(),
                action: "autorregistro recibido".into(),
                subject_kind: "autorregistro".into(),
                subject_id: id.to_string(),
                purpose: "registro simplificado (paso 1C)".into(),
                outcome: "pendiente de revisión".into(),
                role: Some("publico".into()),
                institution: None,
                request_id: None,
            })?;
            Ok(id)
        })
        .await;
    match inserted {
        Ok(id) => page.html(
            "autorregistro.html",
            context! {
                received => id,
                district => Territory::official().name_of(TerritoryCode::District(district)),
                members => members.len(),
            },
        ),
        Err(e) => page.error(&e),
    }
}

fn reviewer(page: &Page) -> Result<Principal, ApiError> {
    let Some(p) = page.user.clone() else {
        return Err(ApiError::unauthorized());
    };
    if !matches!(p.role, Role::Administrador | Role::Analista) {
        return Err(ApiError::forbidden(
            "la revisión del autorregistro es tarea de la UTGS",
        ));
    }
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
    let who = p.clone();
    let rows = st
        .pool
        .run(move |s| {
            let rows = s.sql().query(
                "SELECT id, submitted_at, district_code, area, locality, address, phone, members, status, reason
                 FROM self_registrations ORDER BY (status = 'pendiente') DESC, id DESC LIMIT 100",
                &[],
            )?;
            let ids: Vec<String> = rows.iter().filter_map(|r| r.int(0)).map(|i| i.to_string()).collect();
            api::audit(
                s,
                Some(&who),
                "leer autorregistros",
                "autorregistro",
                &ids.join(","),
                "revisión del autorregistro",
                &format!("ok: {}", ids.len()),
            )?;
            Ok(rows.iter().map(|r| r.object()).collect::<Vec<_>>())
        })
        .await;
    let rows = match rows {
        Ok(r) => r,
        Err(e) => return page.error(&e),
    };
    let items: Vec<JValue> = rows
        .iter()
        .map(|r| {
            let members: Vec<Member> = r
                .get("members")
                .and_then(Value::as_str)
                .and_then(|m| serde_json::from_str(m).ok())
                .unwrap_or_default();
            let district = r
                .get("district_code")
                .and_then(Value::as_i64)
                .and_then(|d| u16::try_from(d).ok())
                .and_then(|d| DistrictCode::from_number(d).ok())
                .map(|d| Territory::official().name_of(TerritoryCode::District(d)))
                .unwrap_or_default();
            context! {
                id => r.get("id").and_then(Value::as_i64),
                submitted => r.get("submitted_at").and_then(Value::as_str),
                district,
                area => r.get("area").and_then(Value::as_str),
                locality => r.get("locality").and_then(Value::as_str),
                address => r.get("address").and_then(Value::as_str),
                phone => r.get("phone").and_then(Value::as_str),
                status => r.get("status").and_then(Value::as_str),
                reason => r.get("reason").and_then(Value::as_str),
                members => JValue::from_serialize(&members),
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
    let who = p.clone();
    let outcome = st
        .pool
        .run(move |s| {
            let Some(r) = s.sql().query_opt(
                "SELECT district_code, area, locality, address, phone, members, status FROM self_registrations WHERE id = $1",
                &[id.into()],
            )?
            else {
                return Err(ApiError::not_found(format!("autorregistro {id} no encontrado")));
            };
            if r.text(6) != "pendiente" {
                return Ok("self-done-already");
            }
            let now = auth::now_rfc3339();
            if d.accion == "rechazar" {
                let reason = d.motivo.as_deref().map(str::trim).filter(|m| !m.is_empty()).ok_or_else(|| {
                    ApiError::bad_request("indique el motivo del rechazo")
                })?;
                s.sql().execute(
                    "UPDATE self_registrations SET status = 'rechazada', reviewed_by = $1, reviewed_at = $2, reason = $3 WHERE id = $4",
                    &[who.actor().as_str().into(), now.as_str().into(), reason.into(), id.into()],
                )?;
                api::audit(s, Some(&who), "rechazar autorregistro", "autorregistro", &id.to_string(), "revisión del autorregistro", "ok")?;
                return Ok("self-done-rejected");
            }
            if d.accion != "aprobar" {
                return Err(ApiError::bad_request("acción desconocida"));
            }
            // Approve: the household as a simplified-registration form, through its importer.
            let dir = tempfile::tempdir().map_err(ApiError::internal)?;
            let district = r.int(0).unwrap_or_default();
            let key = format!("autorregistro:{id}");
            let members: Vec<Member> = serde_json::from_str(&r.text(5)).map_err(ApiError::internal)?;
            let mut hh = csv::Writer::from_path(dir.path().join("registro_simplificado.csv")).map_err(ApiError::internal)?;
            hh.write_record(["today", "ubicacion-departamento", "ubicacion-distrito", "ubicacion-area", "ubicacion-localidad", "ubicacion-direccion", "contacto-telefono", "KEY"]).map_err(ApiError::internal)?;
            let dist = format!("{district:04}");
            hh.write_record([
                &now.get(..10).unwrap_or("").to_string(),
                &dist.get(..2).unwrap_or("").to_string(),
                &dist,
                &r.text(1),
                &r.text(2),
                &r.text(3),
                &r.text(4),
                &key,
            ]).map_err(ApiError::internal)?;
            hh.flush().map_err(ApiError::internal)?;
            let mut pp = csv::Writer::from_path(dir.path().join("registro_simplificado-miembros.csv")).map_err(ApiError::internal)?;
            pp.write_record(["miembros-nombres", "miembros-apellidos", "miembros-cedula", "miembros-fecha_nacimiento", "miembros-sexo", "miembros-relacion_jefe", "PARENT_KEY", "KEY"]).map_err(ApiError::internal)?;
            for (i, m) in members.iter().enumerate() {
                pp.write_record([
                    m.nombres.as_str(), m.apellidos.as_str(), m.cedula.as_deref().unwrap_or(""), m.fecha_nacimiento.as_str(),
                    m.sexo.as_str(), m.relacion_jefe.as_str(), key.as_str(), &format!("{key}/miembros[{}]", i + 1),
                ]).map_err(ApiError::internal)?;
            }
            pp.flush().map_err(ApiError::internal)?;
            drop((hh, pp));
            let opts = vamos_ingest::ImportOptions {
                kind: ImportKind::Simplificado,
                source: Some("AUTORREGISTRO".into()),
                strict: true,
                synthetic: Some(false),
                import_date: auth::now().date_naive(),
                started_at: now.clone(),
                rejects: Some(dir.path().join("rechazos.csv")),
                unmatched: None,
                clock: auth::now_rfc3339,
            };
            let mut store = vamos_store::open(&url).map_err(ApiError::from)?;
            let summary = vamos_ingest::run_import(store.as_mut(), &[dir.path().to_path_buf()], &opts, &vamos_ingest::NoProgress)
                .map_err(|e| ApiError::bad_request(format!("el formulario no se pudo importar: {e}")))?;
            if !summary.committed {
                let reasons: Vec<String> = summary.rejections_by_reason.keys().cloned().collect();
                api::audit(s, Some(&who), "aprobar autorregistro", "autorregistro", &id.to_string(), "revisión del autorregistro", &format!("rechazado por el importador: {}", reasons.join("; ")))?;
                return Err(ApiError::new(
                    axum::http::StatusCode::UNPROCESSABLE_ENTITY,
                    "autorregistro_invalido",
                    format!("el importador rechazó el formulario: {}", reasons.join("; ")),
                ));
            }
            s.sql().execute(
                "UPDATE self_registrations SET status = 'aprobada', reviewed_by = $1, reviewed_at = $2, import_id = $3 WHERE id = $4",
                &[who.actor().as_str().into(), now.as_str().into(), summary.import_id.into(), id.into()],
            )?;
            api::audit(
                s,
                Some(&who),
                "aprobar autorregistro",
                "autorregistro",
                &id.to_string(),
                "revisión del autorregistro",
                &format!("ok: importación {} ({} personas)", summary.import_id.unwrap_or_default(), summary.persons_accepted),
            )?;
            Ok("self-done-approved")
        })
        .await;
    match outcome {
        Ok(done) => super::redirect(&format!("/autorregistro/revision?hecho={done}")),
        Err(e) => page.error(&e),
    }
}

/// An error id of [`validate`] as (message id, member number).
pub fn split_error(e: &str) -> (String, String) {
    match e.split_once('|') {
        Some((k, n)) => (k.to_string(), n.to_string()),
        None => (e.to_string(), String::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn the_form_needs_a_district_real_members_and_one_head() {
        let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 23).unwrap();
        let ok = form(&[
            ("distrito", "1116"),
            ("localidad", "Barrio Centro"),
            ("m0_nombres", "Ana"),
            ("m0_apellidos", "Benítez"),
            ("m0_fecha", "04/05/1990"),
            ("m0_sexo", "mujer"),
            ("m0_relacion", "jefe"),
            ("m0_cedula", "4.123.456"),
            ("m1_nombres", "Luis"),
            ("m1_apellidos", "Benítez"),
            ("m1_fecha", "2015-02-01"),
            ("m1_sexo", "hombre"),
            ("m1_relacion", "hijo"),
        ]);
        let (d, m) = validate(&ok, today).unwrap();
        assert_eq!(d.get(), 1116);
        assert_eq!(m.len(), 2);
        assert_eq!(m[0].cedula.as_deref(), Some("4123456"));
        assert_eq!(m[0].fecha_nacimiento, "1990-05-04");
        let bad = form(&[
            ("distrito", "9999"),
            ("m0_nombres", "Ana"),
            ("m0_apellidos", ""),
            ("m0_fecha", "31/02/2026"),
            ("m0_sexo", "x"),
            ("m0_relacion", "hijo"),
            ("m0_cedula", "12ab"),
        ]);
        let e = validate(&bad, today).unwrap_err();
        for want in [
            "self-error-district|",
            "self-error-names|1",
            "self-error-birth|1",
            "self-error-sex|1",
            "self-error-cedula|1",
            "self-error-head|",
        ] {
            assert!(e.iter().any(|x| x == want), "{want}: {e:?}");
        }
        assert_eq!(
            validate(&form(&[("distrito", "1116")]), today).unwrap_err(),
            vec![
                "self-error-locality|".to_string(),
                "self-error-no-members|".to_string()
            ]
        );
        assert_eq!(
            split_error("self-error-birth|2"),
            ("self-error-birth".into(), "2".into())
        );
    }

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
