//! Human output in Spanish: import summaries, registry tables, progress bars on stderr.

use indicatif::{ProgressBar, ProgressStyle};
use std::sync::Mutex;
use vamos_ingest::{ImportSummary, Progress};
use vamos_store::ImportRecord;

/// A progress bar on stderr (drawn only on a terminal; silent when `quiet`).
pub struct Bar(Option<ProgressBar>);

impl Bar {
    pub fn new(msg: &str, total: u64, quiet: bool) -> Bar {
        if quiet {
            return Bar(None);
        }
        let pb = ProgressBar::new(total);
        if let Ok(style) = ProgressStyle::with_template(
            "{msg:28} [{bar:40}] {percent:>3}% {elapsed_precise} (quedan {eta})",
        ) {
            pb.set_style(style.progress_chars("=> "));
        }
        pb.set_message(msg.to_string());
        Bar(Some(pb))
    }
    pub fn set(&self, n: u64) {
        if let Some(p) = &self.0 {
            p.set_position(n);
        }
    }
    pub fn finish(&self) {
        if let Some(p) = &self.0 {
            p.finish_and_clear();
        }
    }
}

/// Import progress: one bar per stage.
pub struct BarProgress {
    quiet: bool,
    bar: Mutex<Option<ProgressBar>>,
}

impl BarProgress {
    pub fn new(quiet: bool) -> Self {
        BarProgress {
            quiet,
            bar: Mutex::new(None),
        }
    }
    pub fn finish(&self) {
        if let Ok(mut b) = self.bar.lock() {
            if let Some(p) = b.take() {
                p.finish_and_clear();
            }
        }
    }
}

impl Progress for BarProgress {
    fn stage(&self, name: &str, total: u64) {
        if self.quiet {
            return;
        }
        if let Ok(mut b) = self.bar.lock() {
            if let Some(p) = b.take() {
                p.finish_and_clear();
            }
            let pb = ProgressBar::new(total);
            if let Ok(style) = ProgressStyle::with_template(
                "importando {msg:20} [{bar:40}] {percent:>3}% {elapsed_precise} (quedan {eta})",
            ) {
                pb.set_style(style.progress_chars("=> "));
            }
            pb.set_message(name.to_string());
            *b = Some(pb);
        }
    }
    fn advance(&self, done: u64) {
        if let Ok(b) = self.bar.lock() {
            if let Some(p) = b.as_ref() {
                p.set_position(done);
            }
        }
    }
}

/// What an import read, in words.
fn import_kind(kind: &str) -> &'static str {
    match kind {
        "fips" => "encuesta FIPS",
        "simplificado" => "formulario simplificado",
        "comunidades" => "formulario de Entorno (comunidades)",
        _ => "registros administrativos",
    }
}

/// An import's status, in words.
fn import_status(status: &str) -> &str {
    match status {
        "en_curso" => "en curso",
        other => other,
    }
}

pub fn print_import(s: &ImportSummary) {
    let what = import_kind(&s.kind);
    let id = s.import_id.map(|i| format!(" n.º {i}")).unwrap_or_default();
    let state = if s.committed {
        "completada"
    } else {
        "RECHAZADA: no se guardó nada (--strict)"
    };
    let synthetic = if s.synthetic {
        " — datos SINTÉTICOS"
    } else {
        ""
    };
    println!("Importación{id} de {what}: {state}{synthetic}");
    for f in &s.files {
        println!("  archivo: {f}");
    }
    match s.kind.as_str() {
        "fips" | "simplificado" => {
            println!(
                "  hogares:  {} aceptados, {} ya registrados, {} rechazados",
                s.households_accepted, s.households_already_registered, s.households_rejected
            );
            println!(
                "  personas: {} aceptadas, {} ya registradas, {} rechazadas",
                s.persons_accepted, s.persons_already_registered, s.persons_rejected
            );
            let revisited = s.households_updated + s.households_unchanged + s.households_to_review;
            if revisited > 0 {
                println!(
                    "  reentrevistas: {} hogares actualizados (nueva versión), {} sin cambios, {} en revisión",
                    s.households_updated, s.households_unchanged, s.households_to_review
                );
                println!(
                    "  en esos hogares: {} personas con datos nuevos, {} personas nuevas, {} ya no integran el hogar",
                    s.persons_updated, s.persons_added, s.persons_left
                );
                if let Some(c) = &s.changes_file {
                    println!("  informe de cambios (hogar, persona, campo, antes, después): {c}");
                }
            }
            println!(
                "  comunidades (localidades/barrios) nuevas: {}",
                s.communities_created
            );
            if s.households_without_head > 0 {
                println!(
                    "  aviso: {} hogares aceptados no tienen jefe de hogar registrado",
                    s.households_without_head
                );
            }
        }
        "comunidades" => {
            println!(
                "  relevamientos: {} aceptados, {} ya registrados; comunidades nuevas: {}",
                s.community_surveys_accepted, s.surveys_already_registered, s.communities_created
            );
        }
        _ => {
            println!(
                "  registros: {} aceptados ({} sin coincidencia de cédula, conservados), {} ya registrados",
                s.records_accepted, s.records_unmatched, s.records_already_registered
            );
            if let Some(u) = &s.unmatched_file {
                println!("  registros sin coincidencia: {u}");
            }
            if s.records_unmatched + s.records_national_id_doubted > 0 {
                println!(
                    "  enlace sin cédula: {} enlazados a una persona, {} en revisión, {} sin persona",
                    s.records_linked,
                    s.records_for_review,
                    (s.records_unmatched + s.records_national_id_doubted)
                        .saturating_sub(s.records_linked + s.records_for_review)
                );
                if s.records_national_id_doubted > 0 {
                    println!(
                        "  de ellos, {} cuya cédula era de alguien nacido otro día (revisados con todos los datos)",
                        s.records_national_id_doubted
                    );
                }
                if let Some(m) = &s.linkage_model {
                    println!("  modelo de enlace: {m}");
                }
                if let Some(e) = &s.linkage_error {
                    println!("  el enlace no se hizo ({e}): ejecute «vamos linkage admin»");
                }
            }
        }
    }
    if s.rows_rejected > 0 {
        println!(
            "  filas rechazadas: {} ({} problemas)",
            s.rows_rejected, s.problems
        );
        if s.members_of_rejected_households > 0 {
            println!(
                "  (de ellas, {} son miembros de hogares rechazados: se aceptarán al corregir el hogar)",
                s.members_of_rejected_households
            );
        }
        for (reason, n) in &s.rejections_by_reason {
            println!("    {n:>8}  {reason}");
        }
        if let Some(r) = &s.rejects_file {
            println!("  informe de rechazos (archivo, fila, columna, valor, motivo): {r}");
            println!(
                "  corrija esas filas y vuelva a importar el archivo: lo ya aceptado no se duplica"
            );
        }
    } else {
        println!("  ninguna fila rechazada");
    }
    if !s.missing_optional_columns.is_empty() {
        println!(
            "  columnas opcionales ausentes (se guardan vacías): {}",
            s.missing_optional_columns.join(", ")
        );
    }
    println!("  tiempo: {:.1} s", s.seconds);
}

fn n(v: &serde_json::Value) -> u64 {
    v.as_u64().unwrap_or(0)
}

pub fn print_stats(v: &serde_json::Value) {
    let t = &v["territory"];
    let level = match t["level"].as_str() {
        Some("nation") => "nación",
        Some("department") => "departamento",
        _ => "distrito",
    };
    println!(
        "Registro — {} ({level} {})",
        t["name"].as_str().unwrap_or(""),
        t["code"].as_str().unwrap_or("")
    );
    println!(
        "{:<6} {:<34} {:>10} {:>9} {:>11} {:>11}",
        "código", "distrito", "personas", "hogares", "comunidades", "sintéticos"
    );
    if let Some(rows) = v["districts"].as_array() {
        for r in rows {
            println!(
                "{:<6} {:<34} {:>10} {:>9} {:>11} {:>11}",
                r["code"].as_str().unwrap_or(""),
                r["name"].as_str().unwrap_or(""),
                n(&r["persons"]),
                n(&r["households"]),
                n(&r["communities"]),
                n(&r["synthetic_households"])
            );
        }
    }
    println!(
        "{:<6} {:<34} {:>10} {:>9} {:>11} {:>11}",
        "",
        "total",
        n(&v["persons"]),
        n(&v["households"]),
        n(&v["communities"]),
        n(&v["synthetic_households"])
    );
    if v["synthetic_households"].as_u64().unwrap_or(0) > 0 {
        println!(
            "Los hogares marcados como sintéticos provienen de datos SINTÉTICOS (vamos synth)."
        );
    }
}

pub fn print_imports(rows: &[ImportRecord]) {
    println!(
        "{:>4} {:<36} {:<8} {:<11} {:<16} {:>9} {:>9} {:>9}",
        "n.º", "tipo", "fuente", "estado", "inicio", "aceptadas", "rechaz.", "sintético"
    );
    for r in rows {
        let s = r.summary.as_ref();
        let get = |k: &str| {
            s.and_then(|s| s.get(k))
                .and_then(|v| v.as_u64())
                .unwrap_or(0)
        };
        let accepted = get("persons_accepted")
            + get("households_accepted")
            + get("records_accepted")
            + get("community_surveys_accepted");
        println!(
            "{:>4} {:<36} {:<8} {:<11} {:<16} {:>9} {:>9} {:>9}",
            r.id,
            import_kind(&r.kind),
            r.source.as_deref().unwrap_or("—"),
            import_status(&r.status),
            vamos_app::clock::moment_es(&r.started_at),
            accepted,
            get("rows_rejected"),
            if r.synthetic { "sí" } else { "no" }
        );
    }
}

/// `2026-06-01` → `01/06/2026` (dates as users read them); anything else as it is.
pub fn dmy(iso: &str) -> String {
    vamos_app::clock::date_es(iso)
}

fn print_versions(indent: &str, versions: &serde_json::Value) {
    for v in versions.as_array().into_iter().flatten() {
        let from = v["valid_from"]
            .as_str()
            .map_or("desde siempre (primer registro)".to_string(), |d| {
                format!("desde el {}", dmy(d))
            });
        let p = &v["provenance"];
        let origin = match p["change_id"].as_i64() {
            Some(c) => format!("solicitud de cambio {c}"),
            None => format!(
                "importación {}, {} fila {}",
                p["import_id"],
                p["file"].as_str().unwrap_or("?"),
                p["row"]
            ),
        };
        println!(
            "{indent}versión {} — {from}; registrada {}; {}; {origin}",
            v["version"],
            v["recorded_at"].as_str().unwrap_or(""),
            v["status_label"].as_str().unwrap_or("")
        );
        for c in v["changes"].as_array().into_iter().flatten() {
            println!(
                "{indent}    {}: «{}» → «{}»",
                c["field"].as_str().unwrap_or(""),
                c["before"].as_str().unwrap_or(""),
                c["after"].as_str().unwrap_or("")
            );
        }
    }
}

pub fn print_community_history(v: &serde_json::Value) {
    println!(
        "Historial de la comunidad {} — {} (distrito {})",
        v["community_id"],
        v["name"].as_str().unwrap_or(""),
        v["district_code"]
    );
    if v["versions"].as_array().is_none_or(Vec::is_empty) {
        println!("  sin relevamientos comunitarios");
    }
    print_versions("  ", &v["versions"]);
}

pub fn print_history(v: &serde_json::Value) {
    println!("Historial del hogar {}", v["household_id"]);
    print_versions("  ", &v["versions"]);
    for m in v["members"].as_array().into_iter().flatten() {
        let name = format!(
            "{} {}",
            m["given_names"].as_str().unwrap_or(""),
            m["family_names"].as_str().unwrap_or("")
        );
        println!("  persona {} {}", m["id"], name.trim());
        print_versions("    ", &m["versions"]);
    }
}
