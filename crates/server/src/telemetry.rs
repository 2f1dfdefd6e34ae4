//! What `GET /metrics` exports, through the `metrics` facade and its Prometheus exporter: the
//! exporter keeps the registry and writes the exposition text; this module names the series
//! (dashboards and alerts know them by these names), describes them in Spanish, installs the
//! recorder once per process and, at each scrape, sets the gauges read from the server's state.

use crate::state::AppState;
use metrics::{counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::sync::atomic::Ordering;
use std::sync::OnceLock;

const REQUESTS: &str = "vamos_http_requests_total";
/// A histogram: the exporter writes its `_bucket`, `_sum` and `_count` series.
const DURATION: &str = "vamos_http_request_duration_seconds";
const LOGINS: &str = "vamos_logins_total";
const RATE_LIMITED: &str = "vamos_rate_limited_total";
const UPTIME: &str = "vamos_uptime_seconds";
const RESIDENT: &str = "vamos_resident_registry_persons";
const PLACES: &str = "vamos_person_places_persons";
const PENDING: &str = "vamos_counter_referrals_pending";

/// Bounds (seconds) of the duration buckets: from an answer out of memory to the longest
/// request timeout worth telling apart.
const DURATION_BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0, 30.0,
];

/// The exporter's handle. The `metrics` macros write to one recorder per process, so it is
/// installed on first use and shared by every server the process runs.
pub fn handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(install).clone()
}

fn install() -> PrometheusHandle {
    // Only an empty bucket list is refused; durations would then be summaries.
    let recorder = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Full(DURATION.into()), &DURATION_BUCKETS)
        .unwrap_or_else(|_| PrometheusBuilder::new())
        .build_recorder();
    let handle = recorder.handle();
    if metrics::set_global_recorder(recorder).is_err() {
        tracing::warn!("otro registro de métricas ya estaba instalado: /metrics queda vacío");
    }
    describe_counter!(REQUESTS, "Solicitudes HTTP atendidas.");
    describe_histogram!(DURATION, "Tiempo de servidor por ruta, en segundos.");
    describe_counter!(LOGINS, "Inicios de sesión.");
    describe_counter!(
        RATE_LIMITED,
        "Solicitudes rechazadas por límite de frecuencia."
    );
    describe_gauge!(UPTIME, "Segundos desde el arranque.");
    describe_gauge!(
        RESIDENT,
        "Personas del registro en memoria de los Logros (0: se leen de la base)."
    );
    describe_gauge!(
        PLACES,
        "Personas cuyo domicilio está en memoria para verificar contra-referencias (0: se buscan en la base)."
    );
    describe_gauge!(
        PENDING,
        "Contra-referencias recibidas que esperan en el registro de entrada para aplicarse."
    );
    // Counters a scraper should see at 0 before their first event (rates need a start).
    counter!(LOGINS, "result" => "ok").increment(0);
    counter!(LOGINS, "result" => "failed").increment(0);
    counter!(RATE_LIMITED).increment(0);
    handle
}

/// One request answered: by method, route template (never the concrete path) and status.
pub fn request(method: &str, route: &str, status: u16, secs: f64) {
    let labels = [
        ("method", method.to_string()),
        ("route", route.to_string()),
        ("status", status.to_string()),
    ];
    counter!(REQUESTS, &labels).increment(1);
    histogram!(DURATION, &labels).record(secs);
}

/// A login attempt that reached the password check (or the lock-out).
pub fn login(ok: bool) {
    counter!(LOGINS, "result" => if ok { "ok" } else { "failed" }).increment(1);
}

/// A request refused by a rate limit (login per address, API per account).
pub fn rate_limited() {
    counter!(RATE_LIMITED).increment(1);
}

/// The exposition text, with the gauges set from `st` as they are now.
pub fn render(st: &AppState) -> String {
    gauge!(UPTIME).set(st.started.elapsed().as_secs() as f64);
    gauge!(RESIDENT).set(st.resident.persons.load(Ordering::Relaxed) as f64);
    gauge!(PLACES).set(st.places.persons() as f64);
    gauge!(PENDING).set(st.intake.status.pending.load(Ordering::Relaxed) as f64);
    st.metrics.render()
}

/// Drains the histograms' recent samples into their buckets (the exporter's upkeep: without a
/// scrape they would pile up in memory).
pub async fn upkeep(handle: PrometheusHandle) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(5));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        handle.run_upkeep();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The exposition text's lines (each test uses its own route, as the recorder is shared).
    fn lines() -> Vec<String> {
        handle().render().lines().map(str::to_string).collect()
    }

    #[test]
    fn requests_are_counted_per_method_route_and_status() {
        handle();
        request("GET", "/prueba/contar", 200, 0.001);
        request("GET", "/prueba/contar", 200, 0.002);
        request("POST", "/prueba/contar", 404, 0.001);
        let l = lines();
        assert!(l.contains(&"# TYPE vamos_http_requests_total counter".to_string()));
        assert!(l.contains(&"vamos_http_requests_total{method=\"GET\",route=\"/prueba/contar\",status=\"200\"} 2".to_string()), "{l:#?}");
        assert!(l.contains(
            &"vamos_http_requests_total{method=\"POST\",route=\"/prueba/contar\",status=\"404\"} 1"
                .to_string()
        ));
    }

    #[test]
    fn request_durations_are_a_histogram_with_buckets_sum_and_count() {
        handle();
        request("GET", "/prueba/tiempo", 200, 0.003);
        request("GET", "/prueba/tiempo", 200, 2.0);
        let l = lines();
        let series = "{method=\"GET\",route=\"/prueba/tiempo\",status=\"200\"";
        assert!(l.contains(&"# TYPE vamos_http_request_duration_seconds histogram".to_string()));
        assert!(
            l.contains(&format!(
                "vamos_http_request_duration_seconds_bucket{series},le=\"0.0025\"}} 0"
            )),
            "{l:#?}"
        );
        assert!(l.contains(&format!(
            "vamos_http_request_duration_seconds_bucket{series},le=\"0.005\"}} 1"
        )));
        assert!(l.contains(&format!(
            "vamos_http_request_duration_seconds_bucket{series},le=\"5\"}} 2"
        )));
        assert!(l.contains(&format!(
            "vamos_http_request_duration_seconds_bucket{series},le=\"+Inf\"}} 2"
        )));
        assert!(l.contains(&format!(
            "vamos_http_request_duration_seconds_sum{series}}} 2.003"
        )));
        assert!(l.contains(&format!(
            "vamos_http_request_duration_seconds_count{series}}} 2"
        )));
    }

    #[test]
    fn login_and_rate_limit_counters_show_before_their_first_event() {
        let l = lines();
        assert!(
            l.contains(&"# HELP vamos_logins_total Inicios de sesión.".to_string()),
            "{l:#?}"
        );
        assert!(l.contains(&"# TYPE vamos_logins_total counter".to_string()));
        assert!(l.contains(&"vamos_logins_total{result=\"ok\"} 0".to_string()));
        assert!(l.contains(&"vamos_logins_total{result=\"failed\"} 0".to_string()));
        assert!(l.contains(&"# TYPE vamos_rate_limited_total counter".to_string()));
        assert!(l.contains(&"vamos_rate_limited_total 0".to_string()));
    }
}
