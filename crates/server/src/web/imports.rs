//! The imports page (`/importaciones`) for UTGS analysts and administrators: upload FIPS,
//! simplified-registration, Entorno (community) or administrative files (CSV in any encoding and
//! separator, or XLSX), follow the job's progress (the page refreshes itself while it runs — no
//! script), read its summary and download the rejection report (file, row, column, value,
//! reason), and the import history of the database.
//!
//! The import is the importer of `vamos import …` (`vamos_ingest::run_import`) on a thread of its
//! own with its own connection, over the uploaded files saved in a temporary folder that lives
//! as long as the job. The upload, its outcome and every download of a rejection report (it
//! holds the rejected rows' values) are audited. Jobs live in the server's memory: a restart
//! forgets the page of a finished job, not the import (the history shows it).

use super::Page;
use crate::auth::Principal;
use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::{Multipart, Path, State};
use axum::response::Response;
use minijinja::context;
use minijinja::value::Value as JValue;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use vamos_domain::authz::{Permission, Role};
use vamos_domain::ImportKind;
use vamos_ingest::{ImportSummary, Progress};

/// One import started from the page.
pub struct Job {
    pub id: u64,
    pub owner: String,
    /// The import's kind; `None` for a classification run.
    pub kind: Option<ImportKind>,
    pub files: Vec<String>,
    pub started_at: String,
    state: Mutex<JobState>,
    /// The uploaded files (deleted once imported) and the rejection report (removed with the
    /// job).
    dir: tempfile::TempDir,
}

#[derive(Default, Clone)]
struct JobState {
    stage: String,
    total: u64,
    done: u64,
    finished: bool,
    summary: Option<ImportSummary>,
    /// A classification's measurement: (id, as of, persons, synthetic).
    measurement: Option<(i64, String, usize, bool)>,
    error: Option<String>,
}

impl Progress for Job {
    fn stage(&self, name: &str, total: u64) {
        if let Ok(mut s) = self.state.lock() {
            s.stage = name.to_string();
            s.total = total;
            s.done = 0;
        }
    }
    fn advance(&self, done: u64) {
        if let Ok(mut s) = self.state.lock() {
            s.done = s.done.saturating_add(done);
        }
    }
}

/// The jobs of this server process, newest last (at most [`KEEP`]).
fn jobs() -> &'static Mutex<BTreeMap<u64, Arc<Job>>> {
    static JOBS: OnceLock<Mutex<BTreeMap<u64, Arc<Job>>>> = OnceLock::new();
    JOBS.get_or_init(Mutex::default)
}

const KEEP: usize = 50;
static NEXT: AtomicU64 = AtomicU64::new(1);

fn allowed(p: &Principal) -> bool {
    p.can(Permission::RegistryLoad)
}

/// A file name reduced to its last component and safe characters.
pub(super) fn safe_name(raw: &str) -> Option<String> {
    let base = raw.rsplit(['/', '\\']).next()?.trim();
    let clean: String = base
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    // A file name is kept in the import history and shown in every rejection report: no longer
    // than a code (`vamos_domain::limits::CODE`); a longer one is refused with the other bad names.
    (!clean.is_empty()
        && !clean.starts_with('.')
        && vamos_domain::limits::Limit::Code.check(&clean).is_ok())
    .then_some(clean)
}

fn gate(page: &Page) -> Result<Principal, ApiError> {
    let Some(p) = page.user.clone() else {
        return Err(ApiError::unauthorized());
    };
    if !allowed(&p) {
        return Err(ApiError::forbidden(
            "las importaciones son tarea de los analistas y administradores de la UTGS",
        ));
    }
    Ok(p)
}

/// `GET /importaciones`
pub async fn page(State(st): State<AppState>, page: Page) -> Response {
    let p = match gate(&page) {
        Ok(p) => p,
        Err(e) => return page.error(&e),
    };
    let history = st
        .pool
        .run(|s| {
            let h = s.imports(30)?;
            let ids: Vec<i64> = h.iter().map(|r| r.id).collect();
            let kept = vamos_app::imports::with_rejects(s, &ids)?;
            Ok((h, kept))
        })
        .await;
    let history: Vec<JValue> = match history {
        Ok((h, kept)) => h
            .into_iter()
            .map(|r| {
                let n = |k: &str| {
                    r.summary
                        .as_ref()
                        .and_then(|s| s.get(k))
                        .and_then(|v| v.as_u64())
                };
                context! {
                    id => r.id, kind => r.kind, source => r.source, synthetic => r.synthetic,
                    status => r.status, started => r.started_at, finished => r.finished_at,
                    households => n("households_accepted"), persons => n("persons_accepted"),
                    surveys => n("community_surveys_accepted"), records => n("records_accepted"),
                    rejected => n("rows_rejected"),
                    report => kept.contains(&r.id),
                }
            })
            .collect(),
        Err(e) => return page.error(&e),
    };
    let mine: Vec<JValue> = jobs()
        .lock()
        .map(|j| {
            j.values()
                .rev()
                .filter(|j| j.owner == p.user.username || p.role == Role::Administrador)
                .map(|j| view(j))
                .collect()
        })
        .unwrap_or_default();
    page.html("importaciones.html", context! { history, jobs => mine })
}

fn view(j: &Job) -> JValue {
    let s = j.state.lock().map(|s| s.clone()).unwrap_or_default();
    let pct = (s.done.min(s.total) * 100)
        .checked_div(s.total)
        .map(|p| p as u32);
    context! {
        id => j.id,
        kind => j.kind.map_or("clasificacion", ImportKind::as_str),
        measurement => s.measurement.as_ref().map(|(id, as_of, persons, synthetic)| context! { id, as_of, persons, synthetic }),
        files => j.files.clone(),
        started => j.started_at.clone(),
        stage => s.stage,
        pct,
        finished => s.finished,
        error => s.error,
        summary => s.summary.as_ref().map(JValue::from_serialize),
        has_rejects => s.summary.as_ref().is_some_and(|x| x.rows_rejected > 0 && x.rejects_file.is_some()),
    }
}

/// `POST /importaciones` (multipart: `csrf`, `tipo`, `fuente`, `estricto`, `archivos`…).
pub async fn upload(State(st): State<AppState>, page: Page, mut form: Multipart) -> Response {
    let p = match gate(&page) {
        Ok(p) => p,
        Err(e) => return page.error(&e),
    };
    let dir = match tempfile::Builder::new()
        .prefix("vamos-importacion-")
        .tempdir()
    {
        Ok(d) => d,
        Err(e) => return page.error(&ApiError::internal(e)),
    };
    let (mut csrf, mut kind, mut source, mut strict) = (String::new(), None, None, false);
    let mut files: Vec<String> = Vec::new();
    loop {
        let field = match form.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => {
                return page.error(&ApiError::bad_request(format!(
                    "el envío no se pudo leer: {e}"
                )))
            }
        };
        let name = field.name().unwrap_or("").to_string();
        match name.as_str() {
            "archivos" => {
                let Some(file) = field.file_name().and_then(safe_name) else {
                    continue;
                };
                let bytes = match field.bytes().await {
                    Ok(b) => b,
                    Err(e) => {
                        return page.error(&ApiError::bad_request(format!(
                            "el archivo {file} no se pudo recibir: {e}"
                        )))
                    }
                };
                if bytes.is_empty() {
                    continue;
                }
                if let Err(e) = std::fs::write(dir.path().join(&file), &bytes) {
                    return page.error(&ApiError::internal(e));
                }
                files.push(file);
            }
            other => {
                let text = field.text().await.unwrap_or_default();
                match other {
                    "csrf" => csrf = text,
                    "tipo" => kind = ImportKind::parse(text.trim()),
                    "fuente" => source = Some(text.trim().to_uppercase()).filter(|s| !s.is_empty()),
                    "estricto" => strict = text == "si",
                    _ => {}
                }
            }
        }
    }
    if csrf != p.csrf() {
        return page.error(&ApiError::forbidden(
            "el formulario venció o no es de esta sesión: vuelva a la página e intente de nuevo",
        ));
    }
    let Some(kind) = kind else {
        return page.error(&ApiError::bad_request(
            "elija el tipo de archivo a importar",
        ));
    };
    if files.is_empty() {
        return page.error(&ApiError::bad_request("elija al menos un archivo"));
    }
    let now = crate::auth::now_rfc3339();
    let job = Arc::new(Job {
        id: NEXT.fetch_add(1, Ordering::Relaxed),
        owner: p.user.username.clone(),
        kind: Some(kind),
        files: files.clone(),
        started_at: now,
        state: Mutex::new(JobState {
            stage: "inicio".into(),
            ..JobState::default()
        }),
        dir,
    });
    register(&job);
    let url = st.settings.db.clone();
    let worker = job.clone();
    let spawned = std::thread::Builder::new()
        .name("importacion-web".into())
        .spawn(move || run(&url, &worker, p, source, strict));
    if let Err(e) = spawned {
        return page.error(&ApiError::internal(e));
    }
    super::redirect(&format!("/importaciones/trabajos/{}", job.id))
}

/// The import itself (on its own thread; the use case writes its audit record).
fn run(url: &str, job: &Job, p: Principal, source: Option<String>, strict: bool) {
    let Some(kind) = job.kind else {
        return;
    };
    let paths: Vec<std::path::PathBuf> = job.files.iter().map(|f| job.dir.path().join(f)).collect();
    let req = vamos_app::imports::ImportRequest {
        kind,
        paths: paths.clone(),
        source,
        strict,
        synthetic: None,
        import_date: crate::auth::now().date_naive(),
        rejects: Some(job.dir.path().join("rechazos.csv")),
        changes: matches!(kind, ImportKind::Fips | ImportKind::Simplificado)
            .then(|| job.dir.path().join("cambios.csv")),
        unmatched: (kind == ImportKind::Admin).then(|| job.dir.path().join("sin_coincidencia.csv")),
        linkage_settings: None,
        purpose: "carga de datos (aplicación web)".into(),
    };
    let outcome = vamos_store::open(url)
        .map_err(|e| e.to_string())
        .and_then(|mut store| {
            let r = vamos_app::imports::run(store.as_mut(), &p.as_actor(), &req, job)
                .map_err(|e| e.message);
            // The uploaded files hold personal data: gone once imported (the rejection report,
            // which the page offers, stays with the job).
            for p in &paths {
                let _ = std::fs::remove_file(p);
            }
            r
        });
    if let Ok(mut s) = job.state.lock() {
        s.finished = true;
        match outcome {
            Ok(summary) => s.summary = Some(summary),
            Err(e) => s.error = Some(e),
        }
    }
}

fn register(job: &Arc<Job>) {
    if let Ok(mut j) = jobs().lock() {
        j.insert(job.id, job.clone());
        while j.len() > KEEP {
            let Some(first) = j.keys().next().copied() else {
                break;
            };
            j.remove(&first);
        }
    }
}

#[derive(serde::Deserialize)]
pub struct ClassifyForm {
    pub csrf: String,
    /// `AAAA-MM-DD` (default today).
    pub fecha: Option<String>,
    /// `PY`, `DD` or `DDdd` (default the nation).
    pub territorio: Option<String>,
}

/// `POST /importaciones/clasificar`: classifies the registry into a new measurement (a job, as
/// an import; audited), the same run as `vamos classify`.
pub async fn classify(
    State(st): State<AppState>,
    page: Page,
    axum::Form(f): axum::Form<ClassifyForm>,
) -> Response {
    let p = match gate(&page) {
        Ok(p) => p,
        Err(e) => return page.error(&e),
    };
    if f.csrf != p.csrf() {
        return page.error(&ApiError::forbidden(
            "el formulario venció o no es de esta sesión: vuelva a la página e intente de nuevo",
        ));
    }
    let today = crate::auth::now().date_naive();
    let as_of = match f.fecha.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => today,
        Some(s) => match chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d") {
            Ok(d) if d <= today => d,
            _ => {
                return page.error(&ApiError::bad_request(format!(
                    "fecha «{}» inválida: use AAAA-MM-DD, no posterior a hoy",
                    vamos_domain::limits::echo(s)
                )))
            }
        },
    };
    let t = match vamos_domain::TerritoryCode::parse(
        f.territorio
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .unwrap_or("PY"),
    ) {
        Ok(t) => t,
        Err(e) => return page.error(&ApiError::bad_request(format!("territorio inválido: {e}"))),
    };
    let dir = match tempfile::Builder::new()
        .prefix("vamos-clasificacion-")
        .tempdir()
    {
        Ok(d) => d,
        Err(e) => return page.error(&ApiError::internal(e)),
    };
    let job = Arc::new(Job {
        id: NEXT.fetch_add(1, Ordering::Relaxed),
        owner: p.user.username.clone(),
        kind: None,
        files: vec![format!("{t} al {as_of}")],
        started_at: crate::auth::now_rfc3339(),
        state: Mutex::new(JobState {
            stage: "clasificación".into(),
            ..JobState::default()
        }),
        dir,
    });
    register(&job);
    let url = st.settings.db.clone();
    let catalogue = st.catalogue.clone();
    let worker = job.clone();
    let spawned = std::thread::Builder::new()
        .name("clasificacion-web".into())
        .spawn(move || {
            let outcome =
                vamos_store::open(&url)
                    .map_err(|e| e.to_string())
                    .and_then(|mut store| {
                        let readers = std::thread::available_parallelism().map_or(1, |n| n.get());
                        vamos_app::measurements::classify_as(
                            store.as_mut(),
                            &p.as_actor(),
                            &catalogue,
                            as_of,
                            None,
                            t,
                            readers,
                            "medición del estatus de protección (aplicación web)",
                        )
                        .map_err(|e| e.message)
                    });
            if let Ok(mut s) = worker.state.lock() {
                s.finished = true;
                match outcome {
                    Ok(c) => {
                        s.measurement = Some((c.id, as_of.to_string(), c.persons, c.synthetic))
                    }
                    Err(e) => s.error = Some(e),
                }
            }
        });
    if let Err(e) = spawned {
        return page.error(&ApiError::internal(e));
    }
    super::redirect(&format!("/importaciones/trabajos/{}", job.id))
}

fn find(page: &Page, id: u64) -> Result<Arc<Job>, ApiError> {
    let p = gate(page)?;
    let job = jobs().lock().ok().and_then(|j| j.get(&id).cloned());
    match job {
        Some(j) if j.owner == p.user.username || p.role == Role::Administrador => Ok(j),
        _ => Err(ApiError::not_found(
            "importación no encontrada en este servidor (vea el historial)",
        )),
    }
}

/// `GET /importaciones/trabajos/{id}`
pub async fn job(page: Page, Path(id): Path<u64>) -> Response {
    let j = match find(&page, id) {
        Ok(j) => j,
        Err(e) => return page.error(&e),
    };
    page.html("importacion.html", context! { job => view(&j) })
}

/// `GET /importaciones/{id}/rechazos.csv`: the rejection report kept with a past import
/// (audited: it holds the rejected rows).
pub async fn past_rejects(State(st): State<AppState>, page: Page, Path(id): Path<i64>) -> Response {
    let p = match gate(&page) {
        Ok(p) => p,
        Err(e) => return page.error(&e),
    };
    match p
        .act(&st, move |s, actor| {
            vamos_app::imports::rejects(s, actor, id)
        })
        .await
    {
        // A report cut short says so in its name (its first rows only).
        Ok((bytes, truncated)) => crate::api::csv_download(
            &format!(
                "rechazos-importacion-{id}{}.csv",
                if truncated { "-primeras-filas" } else { "" }
            ),
            bytes,
        ),
        Err(e) => page.error(&e),
    }
}

/// `GET /importaciones/trabajos/{id}/rechazos.csv` (audited: it holds the rejected rows).
pub async fn rejects(State(st): State<AppState>, page: Page, Path(id): Path<u64>) -> Response {
    let j = match find(&page, id) {
        Ok(j) => j,
        Err(e) => return page.error(&e),
    };
    let Some(p) = page.user.clone() else {
        return page.error(&ApiError::unauthorized());
    };
    let path = j.dir.path().join("rechazos.csv");
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(_) => return page.error(&ApiError::not_found("esta importación no rechazó filas")),
    };
    let subject = format!("trabajo {id} ({})", j.files.join(", "));
    let audited = p
        .act(&st, move |s, actor| {
            vamos_app::imports::record_rejects_download(s, actor, &subject)
        })
        .await;
    if let Err(e) = audited {
        return page.error(&e);
    }
    crate::api::csv_download(&format!("rechazos-importacion-{id}.csv"), bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uploaded_names_keep_only_their_last_safe_component() {
        assert_eq!(
            safe_name("datos/hogares.csv").as_deref(),
            Some("hogares.csv")
        );
        assert_eq!(
            safe_name("C:\\x\\Miembros 2026.xlsx").as_deref(),
            Some("Miembros_2026.xlsx")
        );
        assert_eq!(safe_name("../../etc/passwd").as_deref(), Some("passwd"));
        assert_eq!(safe_name(".."), None);
        assert_eq!(safe_name(""), None);
        assert_eq!(safe_name(&format!("{}.csv", "a".repeat(200))), None);
    }
}
