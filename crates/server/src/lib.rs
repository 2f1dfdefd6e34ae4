//! Vamos as a service: `vamos serve` runs this crate's HTTP server over either store.
//!
//! The JSON API is one module per resource ([`api`]), each with its router and the
//! `#[utoipa::path]` annotations from which the OpenAPI 3.1 document at `/api/openapi.json` is
//! generated ([`openapi`]), every operation with its permission. Middleware adds a request id, structured JSON access logs (method, route, status,
//! duration — never query strings, bodies or personal data), metrics, security headers, a
//! body limit, a timeout and rate limits.
//! Architecture invariant: no classification rules here — the engine decides statuses, the
//! store filters by scope, this crate maps HTTP onto permissions and back.

pub mod api;
pub mod auth;
pub mod config;
pub mod dci;
pub mod error;
pub mod openapi;
pub mod pool;
pub mod state;
pub mod telemetry;
pub mod web;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;
use config::Settings;
use state::AppState;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Builds the shared state: opens the pool and checks the database is initialised.
pub fn state(settings: Settings) -> anyhow::Result<AppState> {
    let catalogue = vamos_app::measurements::load_catalogue(settings.catalogue.as_deref())?;
    let mut store = vamos_store::open(&settings.db)
        .map_err(|e| anyhow::anyhow!("no se pudo abrir la base de datos: {e}"))?;
    if !store.is_ready()? {
        anyhow::bail!(
            "la base de datos no está inicializada: ejecute «vamos db init --db {}»",
            config::redact_url(&settings.db)
        );
    }
    // Without the audit chain's key (and a checkpoint it can keep) the server does not start:
    // every answer it gives is audited.
    let audit = Arc::new(
        vamos_app::audit::AuditConfig::load(&settings.db, &settings.audit_files)
            .and_then(|c| c.checkpoint.check_writable().map(|()| c))
            .map_err(|e| anyhow::anyhow!("{e}"))?,
    );
    vamos_app::audit::install(audit.clone());
    let pool = pool::Pool::new(
        &settings.db,
        16,
        Some(pool::AuditWriter::start(&settings.db, audit.clone())?),
    );
    let access_wake = Arc::new(tokio::sync::Notify::new());
    let intake = vamos_app::counter_referrals::intake::Intake::start(
        &settings.db,
        Arc::new(vamos_app::counter_referrals::Codes::new(&catalogue)),
        access_wake.clone(),
        settings.counter_referral_appliers,
        audit,
        settings.counter_referral_misses_per_hour,
    )?;
    let dci_key = match &settings.dci_signing_key_file {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| {
                anyhow::anyhow!(
                    "no se pudo leer dci_signing_key_file {}: {e}",
                    path.display()
                )
            })?;
            Some(Arc::new(dci::read_signing_key(&text)?))
        }
        None => None,
    };
    Ok(AppState {
        dci_key,
        tokens: Arc::new(state::TokenCache::default()),
        intake,
        access_wake,
        resident: Arc::default(),
        places: Arc::default(),
        login_limiter: Arc::new(state::limiter(
            settings.login_rate_per_minute,
            Duration::from_secs(60),
        )),
        api_limiter: Arc::new(state::limiter(
            settings.api_rate_per_minute,
            Duration::from_secs(60),
        )),
        selfreg_limiter: Arc::new(state::limiter(
            state::SELF_REGISTRATIONS.0,
            state::SELF_REGISTRATIONS.1,
        )),
        grievance_lodge_limiter: Arc::new(state::limiter(
            state::GRIEVANCES_LODGED.0,
            state::GRIEVANCES_LODGED.1,
        )),
        grievance_track_limiter: Arc::new(state::limiter(
            state::GRIEVANCE_LOOKUPS.0,
            state::GRIEVANCE_LOOKUPS.1,
        )),
        settings: Arc::new(settings),
        pool,
        catalogue: Arc::new(catalogue),
        metrics: telemetry::handle(),
        started: Instant::now(),
    })
}

/// The application: the JSON API, DCI and the web pages, with middleware.
pub fn app(state: AppState) -> Router {
    let settings = state.settings.clone();
    let router = api::router(settings.body_limit, settings.upload_limit)
        .merge(openapi::router())
        .nest(
            &settings.dci_base_path,
            dci::router().layer(tower_http::limit::RequestBodyLimitLayer::new(
                settings.body_limit,
            )),
        )
        .merge(web::router(settings.upload_limit))
        .fallback(fallback)
        .with_state(state.clone());
    // HSTS: `hsts`, or a `public_url` that is `https` (see `config::Settings::hsts`).
    let hsts = settings.hsts;
    router
        .layer(axum::middleware::from_fn(error::spanish_rejections))
        .layer(axum::middleware::from_fn(observe))
        .layer(axum::middleware::from_fn(move |req, next| {
            security_headers(req, next, hsts)
        }))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            settings.request_timeout,
        ))
        .layer(axum::middleware::from_fn(request_id))
}

/// An unknown path: JSON for the API's paths, an HTML page for the web application's.
async fn fallback(State(st): State<AppState>, req: Request) -> Response {
    let path = req.uri().path();
    if path.starts_with("/api/")
        || path == "/api"
        || path.starts_with(&st.settings.dci_base_path)
        || path == "/metrics"
    {
        return error::ApiError::not_found("ruta inexistente: vea /api/openapi.json")
            .into_response();
    }
    let (mut parts, _) = req.into_parts();
    match <web::Page as axum::extract::FromRequestParts<AppState>>::from_request_parts(
        &mut parts, &st,
    )
    .await
    {
        Ok(page) => page.error(&error::ApiError::not_found("")),
        Err(r) => r,
    }
}

static REQUEST_COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// Gives every request an id (a well-formed incoming `X-Request-Id` is kept) and echoes it.
async fn request_id(mut req: Request, next: Next) -> Response {
    let id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= 64
                && v.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        })
        .map(str::to_string)
        .unwrap_or_else(|| {
            let n = REQUEST_COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            format!("{:x}-{n}", std::process::id())
        });
    if let Ok(v) = HeaderValue::from_str(&id) {
        req.headers_mut().insert("x-request-id", v.clone());
        let mut res = next.run(req).await;
        res.headers_mut().insert("x-request-id", v);
        return res;
    }
    next.run(req).await
}

/// Access log and metrics: the route template (never the concrete path with ids, never the
/// query string), status and duration.
async fn observe(req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().to_string();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string())
        .unwrap_or_else(|| "(sin ruta)".into());
    let rid = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let res = next.run(req).await;
    let secs = started.elapsed().as_secs_f64();
    let status = res.status().as_u16();
    telemetry::request(&method, &route, status, secs);
    tracing::info!(
        request_id = %rid,
        method = %method,
        route = %route,
        status,
        duration_ms = (secs * 1000.0),
        "solicitud"
    );
    res
}

/// Security headers on every response.
async fn security_headers(req: Request, next: Next, hsts: bool) -> Response {
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    let set = |h: &mut axum::http::HeaderMap, k: &'static str, v: &'static str| {
        h.insert(HeaderName::from_static(k), HeaderValue::from_static(v));
    };
    set(
        h,
        "content-security-policy",
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    );
    set(h, "x-frame-options", "DENY");
    set(h, "x-content-type-options", "nosniff");
    set(h, "referrer-policy", "no-referrer");
    set(h, "cross-origin-opener-policy", "same-origin");
    set(
        h,
        "permissions-policy",
        "camera=(), microphone=(), geolocation=()",
    );
    if !h.contains_key(header::CACHE_CONTROL) {
        set(h, "cache-control", "no-store");
    }
    if hsts {
        set(
            h,
            "strict-transport-security",
            "max-age=31536000; includeSubDomains",
        );
    }
    res
}

/// Sets up JSON logs on stderr (once per process).
pub fn init_logging(filter: &str) {
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_new(filter)
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_current_span(false)
        .try_init();
}

/// Runs the server until Ctrl-C or SIGTERM, then finishes the requests in flight.
/// `on_bound` receives the actual address (useful with port 0). Build `state` outside the
/// runtime ([`state`] opens a blocking connection).
pub async fn serve(
    state: AppState,
    on_bound: impl FnOnce(std::net::SocketAddr),
) -> anyhow::Result<()> {
    let addr = state.settings.addr;
    tokio::spawn(dci::notifier(state.clone()));
    tokio::spawn(access_updater(state.clone()));
    if state.settings.resident_registry {
        vamos_app::costing::keep_warm();
        tokio::spawn(costing_warmer(state.clone()));
    }
    tokio::spawn(forget_idle_clients(state.clone()));
    tokio::spawn(escalate_grievances(state.clone()));
    tokio::spawn(telemetry::upkeep(state.metrics.clone()));
    let app = app(state);
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| anyhow::anyhow!("no se pudo escuchar en {addr}: {e}"))?;
    let bound = listener.local_addr()?;
    on_bound(bound);
    tracing::info!(addr = %bound, "servidor listo");
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown_signal())
    .await?;
    tracing::info!("servidor detenido");
    Ok(())
}

/// Every minute, drops from the rate limiters the keys whose quota is whole again: they would
/// be allowed as if never seen, and without this every address that ever called would stay.
async fn forget_idle_clients(st: AppState) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        st.login_limiter.retain_recent();
        st.api_limiter.retain_recent();
        st.selfreg_limiter.retain_recent();
        st.grievance_lodge_limiter.retain_recent();
        st.grievance_track_limiter.retain_recent();
    }
}

/// Every minute, raises the open grievances whose deadline passed to the next level
/// ([`vamos_app::grievances::escalate_overdue`]; `vamos grievances escalate` does the same).
async fn escalate_grievances(st: AppState) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let r = st
            .pool
            .run(|s| Ok(vamos_app::grievances::escalate_overdue(s, auth::now())?))
            .await;
        match r {
            Ok(ids) if ids.is_empty() => {}
            Ok(ids) => tracing::info!(reclamos = ids.len(), "reclamos escalados por plazo vencido"),
            Err(e) => tracing::warn!(motivo = %e.message, "escalamiento de reclamos"),
        }
    }
}

/// Keeps the latest measurement's Logros up to date with the counter-referrals received: woken
/// when a batch is accepted (and every minute, which also expires overdue referrals). Updates
/// are incremental (see [`vamos_app::counter_referrals::update_logros`]), on the registry kept in memory once it has
/// been read (in the background, from the start: see [`load_resident`]).
async fn access_updater(st: AppState) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    if st.settings.resident_registry {
        load_resident(&st);
        load_places(&st);
    }
    loop {
        tokio::select! {
            _ = tick.tick() => {
                let r = st.pool.run(|s| {
                    Ok(vamos_app::referrals::expire_overdue(s, auth::now().date_naive(), &auth::now_rfc3339())?)
                }).await;
                match r {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(referencias = n, "referencias vencidas"),
                    Err(e) => tracing::warn!(motivo = %e.message, "vencimiento de referencias"),
                }
            }
            _ = st.access_wake.notified() => {}
        }
        let catalogue = st.catalogue.clone();
        let started = std::time::Instant::now();
        let submissions = st.intake.submissions();
        let slot = st.resident.clone();
        let places = st.places.get();
        let r = st
            .pool
            .run(move |s| {
                let mut copy = slot.copy.lock().ok().and_then(|mut c| c.take());
                let had = copy.is_some();
                let out = vamos_app::counter_referrals::update_logros(
                    s,
                    &catalogue,
                    auth::now().date_naive(),
                    &auth::now_rfc3339(),
                    &mut copy,
                    places.as_deref(),
                );
                match copy {
                    Some(c) => {
                        if let Ok(mut g) = slot.copy.lock() {
                            *g = Some(c);
                        }
                    }
                    // Dropped as stale: read again below.
                    None if had => slot.persons.store(0, std::sync::atomic::Ordering::Relaxed),
                    None => {}
                }
                Ok(out?)
            })
            .await;
        if st.settings.resident_registry {
            load_resident(&st);
            load_places(&st);
        }
        match r {
            Ok(Some(u)) => {
                tracing::info!(
                    medicion = u.measurement,
                    contrarreferencias = u.counter_referrals,
                    personas = u.persons,
                    en_memoria = u.resident,
                    segundos = started.elapsed().as_secs_f64(),
                    "Logros actualizados con contra-referencias"
                );
                // Under a stream of counter-referrals the next pass takes everything received
                // meanwhile; resting as long as the pass took leaves at least half the time to
                // the ingestion. Once the stream stops, the backlog is worked off without rests.
                let streaming = st.intake.submissions() != submissions;
                tokio::time::sleep(updater_rest(started.elapsed(), streaming)).await;
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(motivo = %e.message, "actualización de Logros"),
        }
    }
}

/// Keeps the nation's costing gaps of the latest measurement in memory
/// ([`vamos_app::costing::warm`]): read in the background when the server starts, then again at
/// most every [`vamos_app::costing::WARM_EVERY`] once counter-referrals or changes have moved the
/// figures — so that costing one scenario from the web is answered from memory.
async fn costing_warmer(st: AppState) {
    loop {
        let url = st.settings.db.clone();
        let catalogue = st.catalogue.clone();
        let t0 = std::time::Instant::now();
        let done = tokio::task::spawn_blocking(move || {
            let mut s = vamos_store::open(&url)?;
            Ok::<_, anyhow::Error>(vamos_app::costing::warm(s.as_mut(), &catalogue)?)
        })
        .await;
        match done {
            Ok(Ok(Some(n))) => tracing::info!(
                brechas = n,
                segundos = t0.elapsed().as_secs_f64(),
                "brechas de costeo de la última medición en memoria"
            ),
            Ok(Ok(None)) => {}
            Ok(Err(e)) => tracing::warn!(motivo = %e, "brechas de costeo no leídas"),
            Err(e) => tracing::warn!(motivo = %e, "brechas de costeo no leídas"),
        }
        tokio::time::sleep(vamos_app::costing::WARM_EVERY).await;
    }
}

/// Reads the registry of the latest measurement into memory for the Logros updater, on a thread
/// and connections of its own, unless a copy is held or being read, or the last reading started
/// less than [`state::ResidentSlot::RETRY`] ago. Meanwhile updates read the affected districts
/// from the database.
fn load_resident(st: &AppState) {
    use std::sync::atomic::Ordering;
    let slot = st.resident.clone();
    if slot.copy.lock().map_or(true, |c| c.is_some()) || slot.loading.load(Ordering::Relaxed) {
        return;
    }
    if !claim_reading(&slot.last_load, &slot.loading) {
        return;
    }
    let url = st.settings.db.clone();
    let catalogue = st.catalogue.clone();
    let worker = slot.clone();
    let spawned = std::thread::Builder::new()
        .name("registro-en-memoria".into())
        .spawn(move || {
            let t0 = std::time::Instant::now();
            let readers = std::thread::available_parallelism().map_or(1, |n| n.get());
            let read = vamos_store::open(&url)
                .map_err(anyhow::Error::from)
                .and_then(|mut s| {
                    vamos_app::counter_referrals::Resident::load(s.as_mut(), &catalogue, readers)
                });
            match read {
                Ok(Some(r)) => {
                    tracing::info!(
                        personas = r.persons(),
                        segundos = t0.elapsed().as_secs_f64(),
                        "registro de la última medición en memoria para actualizar los Logros"
                    );
                    worker.persons.store(r.persons() as u64, Ordering::Relaxed);
                    if let Ok(mut c) = worker.copy.lock() {
                        c.get_or_insert(r);
                    }
                }
                Ok(None) => {}
                Err(e) => tracing::warn!(
                    motivo = %e,
                    "registro en memoria no leído: los Logros se actualizan leyendo cada distrito"
                ),
            }
            worker.loading.store(false, Ordering::Relaxed);
        });
    if spawned.is_err() {
        slot.loading.store(false, Ordering::Relaxed);
    }
}

/// Whether a background reading may start now: none is under way and the last one started at
/// least [`state::ResidentSlot::RETRY`] ago. If so, marks it started (`loading` set, to be
/// cleared by the reading when it ends).
fn claim_reading(
    last_load: &std::sync::Mutex<Option<std::time::Instant>>,
    loading: &std::sync::atomic::AtomicBool,
) -> bool {
    {
        let Ok(mut last) = last_load.lock() else {
            return false;
        };
        if last.is_some_and(|t| t.elapsed() < state::ResidentSlot::RETRY) {
            return false;
        }
        *last = Some(std::time::Instant::now());
    }
    !loading.swap(true, std::sync::atomic::Ordering::Relaxed)
}

/// Reads where every registered person lives into memory for the counter-referral checks
/// ([`vamos_store::places::PersonPlaces`]), on a thread and a connection of its own: at
/// start-up, and again when an import has committed since the copy was read. Checked at most
/// every [`state::ResidentSlot::RETRY`] (the Logros updater calls this after every pass and
/// every minute). Meanwhile the checks use the copy held, if any, and the database for what
/// it does not hold.
fn load_places(st: &AppState) {
    use std::sync::atomic::Ordering;
    let slot = st.places.clone();
    if !claim_reading(&slot.last_load, &slot.loading) {
        return;
    }
    let url = st.settings.db.clone();
    let worker = slot.clone();
    let spawned = std::thread::Builder::new()
        .name("lugares-en-memoria".into())
        .spawn(move || {
            let t0 = std::time::Instant::now();
            let read = vamos_store::open(&url)
                .map_err(anyhow::Error::from)
                .and_then(|mut s| {
                    let held = worker.get().and_then(|p| p.state());
                    vamos_app::counter_referrals::read_places(s.as_mut(), held)
                });
            match read {
                Ok(Some(p)) => {
                    tracing::info!(
                        personas = p.persons(),
                        segundos = t0.elapsed().as_secs_f64(),
                        "domicilio de cada persona en memoria para verificar contra-referencias"
                    );
                    if let Ok(mut c) = worker.copy.write() {
                        *c = Some(Arc::new(p));
                    }
                }
                Ok(None) => {}
                Err(e) => tracing::warn!(
                    motivo = %e,
                    "domicilios no leídos: las contra-referencias se verifican en la base"
                ),
            }
            worker.loading.store(false, Ordering::Relaxed);
        });
    if spawned.is_err() {
        slot.loading.store(false, Ordering::Relaxed);
    }
}

/// The updater's rest after a pass that took `pass`: as long (between 0.1 s and 30 s) while
/// counter-referrals keep `streaming` in, else none (the next event is applied as soon as it is
/// committed; a quiet server answered the second of two events 0.1 s late when it rested 0.1 s).
fn updater_rest(pass: std::time::Duration, streaming: bool) -> std::time::Duration {
    if streaming {
        pass.clamp(
            std::time::Duration::from_millis(100),
            std::time::Duration::from_secs(30),
        )
    } else {
        std::time::Duration::ZERO
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

/// How much lower the runtime's threads run than the rest of the server (a `nice` value; the
/// counter-referral writer and its checkpointer keep the process's). The writer is the one
/// serial stage of the intake: under a sustained load of batches it waited in the run queue up
/// to a sixth of the time behind the requests it was to serve, and 5 here raised what the intake
/// sustains by about a twentieth (BENCHMARKS.md, issue 5, ninth session). Requests still get
/// the processor whenever the writer does not want it.
pub const RUNTIME_NICE: i32 = 5;

/// Sets the calling thread [`RUNTIME_NICE`] below the process's main thread (on Linux
/// `setpriority` of a thread id acts on that thread only; relative to the main thread, not to
/// the thread itself, since a thread starts with its creator's priority). Not being allowed to
/// is no error: the server runs as before.
fn yield_to_the_writer() {
    #[cfg(target_os = "linux")]
    {
        let main = rustix::process::getpriority_process(Some(rustix::process::getpid()));
        let tid = rustix::thread::gettid();
        let nice = main.unwrap_or(0) + RUNTIME_NICE;
        if let Err(e) = rustix::process::setpriority_process(Some(tid), nice) {
            tracing::debug!(motivo = %e, "prioridad de los hilos del servidor sin cambiar");
        }
    }
}

/// Runs [`serve`] on a new multi-threaded runtime (for the command line).
pub fn serve_blocking(
    settings: Settings,
    on_bound: impl FnOnce(std::net::SocketAddr),
) -> anyhow::Result<()> {
    init_logging(&settings.log);
    let state = state(settings)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .on_thread_start(yield_to_the_writer)
        .build()?;
    let out = rt.block_on(serve(state, on_bound));
    // Requests have been answered; blocking work still running (a Logros update over a large
    // backlog) is abandoned rather than waited for: its transaction is not committed and the
    // next start resumes from the stored watermark.
    rt.shutdown_timeout(std::time::Duration::from_secs(5));
    out
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    #[cfg(target_os = "linux")]
    #[test]
    fn runtime_threads_run_below_the_main_thread_once_however_often_set() {
        use rustix::process::{getpid, getpriority_process};
        let main = getpriority_process(Some(getpid())).unwrap();
        let (first, again) = std::thread::spawn(|| {
            let own = || getpriority_process(Some(rustix::thread::gettid())).unwrap();
            super::yield_to_the_writer();
            let first = own();
            // A thread started by a lowered one starts lowered: set again, not lower still.
            super::yield_to_the_writer();
            (first, own())
        })
        .join()
        .unwrap();
        assert_eq!(first, (main + super::RUNTIME_NICE).min(19));
        assert_eq!(again, first);
        assert_eq!(getpriority_process(Some(getpid())).unwrap(), main);
    }

    #[test]
    fn the_updater_rests_as_long_as_its_pass_while_events_stream_in() {
        let ms = Duration::from_millis;
        assert_eq!(super::updater_rest(ms(5), true), ms(100));
        assert_eq!(super::updater_rest(ms(1_500), true), ms(1_500));
        assert_eq!(super::updater_rest(ms(90_000), true), ms(30_000));
        // Nothing arrived during the pass: the next event or the backlog is taken at once.
        assert_eq!(super::updater_rest(ms(1_500), false), ms(0));
    }
}
