//! `vamos cases candidates|list|open|show|check|assign|task|note|close|approve|reopen|accept|notifications|figures`: glue
//! over `vamos_app::cases` (shared with the API and the web pages), acting as the account of
//! `--as` (maker-checker rules compare named accounts).

// reason: serde_json::Value["key"] yields Null when absent, it cannot panic
#![allow(clippy::indexing_slicing)]

use anyhow::Result;
use clap::{Args, Subcommand};
use std::process::ExitCode;
use vamos_app::cases::{self as c, OpenCase, TaskAction};

#[derive(Args, Clone)]
pub struct Common {
    /// Base de datos: sqlite:<archivo> o postgres://usuario@servidor/base
    #[arg(long, env = "VAMOS_DB", default_value = crate::DEFAULT_DB)]
    pub db: String,
    #[arg(long, value_enum, default_value = "text")]
    pub format: crate::Format,
    /// Carpeta del catálogo (por defecto, el catálogo ilustrativo incluido; con su
    /// `canal_verde.toml`, sus criterios, protocolos y barreras).
    #[arg(long)]
    pub catalogue: Option<std::path::PathBuf>,
}

#[derive(Subcommand)]
pub enum CasesCommand {
    /// Candidatas a Canal Verde de un territorio, según los criterios del catálogo y las
    /// referencias abiertas de la última medición (prioridad alta primero).
    Candidates {
        #[command(flatten)]
        common: Common,
        /// Territorio: DDdd (distrito), DD (departamento) o PY.
        #[arg(long)]
        territory: String,
        /// A lo sumo cuántas (mayor prioridad primero; por defecto y como máximo 5000).
        #[arg(long)]
        limit: Option<i64>,
    },
    /// Casos dentro del ámbito de la cuenta (abiertos, salvo --all o --status).
    List {
        #[command(flatten)]
        common: Common,
        #[arg(long)]
        territory: Option<String>,
        /// abierto, en_seguimiento, plan_completo, cierre_pendiente o cerrado.
        #[arg(long)]
        status: Option<String>,
        #[arg(long)]
        all: bool,
    },
    /// Abre un caso para una persona, un hogar o una comunidad; muestra su número.
    #[command(group(clap::ArgGroup::new("unidad").required(true).args(["person_id", "household", "community"])))]
    Open {
        #[command(flatten)]
        common: Common,
        /// Persona (número interno; no la cédula).
        #[arg(long)]
        person_id: Option<i64>,
        #[arg(long)]
        household: Option<i64>,
        #[arg(long)]
        community: Option<i64>,
        /// Por qué se abre.
        #[arg(long)]
        reason: String,
        /// candidato, referencia, mesa (predeterminado), alerta_comunitaria, orientacion, reclamo.
        #[arg(long)]
        origin: Option<String>,
        /// Ruta de protocolo de emergencia (violencia_ninez, trabajo_infantil, desnutricion, …).
        #[arg(long)]
        protocol: Option<String>,
    },
    /// Un caso: su plan y su historia.
    Show {
        #[command(flatten)]
        common: Common,
        id: i64,
    },
    /// Verifica el plan contra la clasificación de hoy: qué servicios ya están protegidos.
    Check {
        #[command(flatten)]
        common: Common,
        id: i64,
    },
    /// Asigna el caso a un miembro de la Mesa (cuenta) y/o a una institución.
    Assign {
        #[command(flatten)]
        common: Common,
        id: i64,
        #[arg(long)]
        to: Option<String>,
        #[arg(long)]
        institution: Option<String>,
    },
    /// Registra un paso de protocolo cumplido (--done) o una barrera de acceso (--barrier).
    Task {
        #[command(flatten)]
        common: Common,
        id: i64,
        /// Número de la tarea (ver «cases show»).
        #[arg(long)]
        task: i64,
        #[arg(long, conflicts_with = "barrier")]
        done: bool,
        /// documentos, distancia, idioma, costo, accesibilidad, rechazo_institucional,
        /// informacion, otra.
        #[arg(long)]
        barrier: Option<String>,
        #[arg(long, default_value = "")]
        note: String,
    },
    /// Anota una visita, un contacto o una nota en la historia del caso.
    Note {
        #[command(flatten)]
        common: Common,
        id: i64,
        /// visita, contacto o nota.
        #[arg(long, default_value = "nota")]
        kind: String,
        #[arg(long)]
        text: String,
    },
    /// Cierra el caso: como protegido solo si la clasificación de hoy lo verifica; otro cierre
    /// (mudanza, fallecimiento, rechazo, sin_contacto) necesita motivo y la aprobación de otra
    /// persona.
    Close {
        #[command(flatten)]
        common: Common,
        id: i64,
        #[arg(long)]
        ending: Option<String>,
        #[arg(long)]
        reason: Option<String>,
    },
    /// Aprueba (o con --reject rechaza) el cierre que pidió otra persona.
    Approve {
        #[command(flatten)]
        common: Common,
        id: i64,
        #[arg(long)]
        reject: bool,
        #[arg(long)]
        reason: Option<String>,
    },
    /// Reabre un caso cerrado (su historia se conserva).
    Reopen {
        #[command(flatten)]
        common: Common,
        id: i64,
        #[arg(long)]
        reason: String,
    },
    /// Acepta un caso ofrecido a su distrito (el hogar se mudó a él): desde ahora lo sigue su
    /// Mesa.
    Accept {
        #[command(flatten)]
        common: Common,
        id: i64,
    },
    /// Avisos de la cuenta: tareas vencidas, casos sin responsable, planes atendidos o
    /// completos, cierres por aprobar y casos ofrecidos.
    Notifications {
        #[command(flatten)]
        common: Common,
    },
    /// Cifras de los casos del ámbito (o de --territory): abiertos, cerrados, con protección
    /// verificada, mediana de días hasta la protección.
    Figures {
        #[command(flatten)]
        common: Common,
        #[arg(long)]
        territory: Option<String>,
    },
}

pub(crate) fn print<T: serde::Serialize>(
    c: &Common,
    v: &T,
    text: impl FnOnce(),
) -> Result<ExitCode> {
    if c.format == crate::Format::Json {
        println!("{}", serde_json::to_string(v)?);
    } else {
        text();
    }
    Ok(ExitCode::SUCCESS)
}

fn print_case(common: &Common, v: &serde_json::Value) -> Result<ExitCode> {
    print(common, v, || {
        println!(
            "Caso {} — {} {} — {} (prioridad {})",
            v["id"],
            v["unit"]["kind"].as_str().unwrap_or(""),
            v["unit"]["id"],
            v["status_label"].as_str().unwrap_or(""),
            v["priority"].as_str().unwrap_or("")
        );
        println!("Motivo: {}", v["reason"].as_str().unwrap_or(""));
        if let Some(a) = v["assigned_to"].as_str() {
            println!("Responsable: {a}");
        }
        println!("Plan:");
        for t in v["tasks"].as_array().into_iter().flatten() {
            let what = t["service_name"]
                .as_str()
                .or(t["service"].as_str())
                .or(t["step"].as_str())
                .unwrap_or("");
            println!(
                "  [{}] {what} — {} — vence {} — {}{}",
                t["id"],
                t["institution"].as_str().unwrap_or(""),
                crate::output::dmy(t["due"].as_str().unwrap_or("")),
                t["status_label"].as_str().unwrap_or(""),
                t["barrier_label"]
                    .as_str()
                    .map(|b| format!(" (barrera: {b})"))
                    .unwrap_or_default()
            );
        }
        if let Some(m) = v["missing"].as_array().filter(|m| !m.is_empty()) {
            println!("Falta verificar:");
            for x in m {
                println!("  {}", x.as_str().unwrap_or(""));
            }
        }
        println!("Historia:");
        for e in v["timeline"].as_array().into_iter().flatten() {
            println!(
                "  {} {} ({}): {}",
                vamos_app::clock::moment_es(e["at"].as_str().unwrap_or("")),
                e["kind_label"].as_str().unwrap_or(""),
                e["actor"].as_str().unwrap_or(""),
                e["detail"].as_str().unwrap_or("")
            );
        }
    })
}

#[allow(clippy::too_many_lines)] // reason: one arm per subcommand, each a call and its message
pub fn cases(cmd: &CasesCommand) -> Result<ExitCode> {
    let common = match cmd {
        CasesCommand::Candidates { common, .. }
        | CasesCommand::List { common, .. }
        | CasesCommand::Open { common, .. }
        | CasesCommand::Show { common, .. }
        | CasesCommand::Check { common, .. }
        | CasesCommand::Assign { common, .. }
        | CasesCommand::Task { common, .. }
        | CasesCommand::Note { common, .. }
        | CasesCommand::Close { common, .. }
        | CasesCommand::Approve { common, .. }
        | CasesCommand::Reopen { common, .. }
        | CasesCommand::Accept { common, .. }
        | CasesCommand::Notifications { common, .. }
        | CasesCommand::Figures { common, .. } => common,
    };
    let mut store = crate::admin::open(&common.db)?;
    let who = crate::identity::actor(store.as_mut())?;
    let s = store.as_mut();
    match cmd {
        CasesCommand::Candidates {
            territory, limit, ..
        } => candidates(s, &who, common, territory, *limit),
        CasesCommand::List {
            territory,
            status,
            all,
            ..
        } => list(
            s,
            &who,
            common,
            territory.as_deref(),
            status.as_deref(),
            *all,
        ),
        CasesCommand::Open {
            person_id,
            household,
            community,
            reason,
            origin,
            protocol,
            ..
        } => {
            let (kind, id) = match (person_id, household, community) {
                (Some(p), _, _) => ("persona", *p),
                (None, Some(h), _) => ("hogar", *h),
                (None, None, Some(c)) => ("comunidad", *c),
                _ => anyhow::bail!("indique --person-id, --household o --community"),
            };
            let catalogue = crate::measure::load_catalogue(common.catalogue.as_ref())?;
            let id = c::open(
                s,
                &who,
                &catalogue,
                &OpenCase {
                    unit_kind: kind.into(),
                    unit_id: id,
                    reason: reason.clone(),
                    origin: origin.clone(),
                    protocol: protocol.clone(),
                },
            )?;
            print(common, &serde_json::json!({ "id": id }), || {
                println!("{id}")
            })
        }
        CasesCommand::Show { id, .. } => {
            let catalogue = crate::measure::load_catalogue(common.catalogue.as_ref())?;
            let v = c::show(s, &who, &catalogue, *id)?;
            print_case(common, &v)
        }
        CasesCommand::Check { id, .. } => {
            let catalogue = crate::measure::load_catalogue(common.catalogue.as_ref())?;
            let v = c::check(s, &who, &catalogue, *id)?;
            print_case(common, &v)
        }
        CasesCommand::Assign {
            id,
            to,
            institution,
            ..
        } => {
            let catalogue = crate::measure::load_catalogue(common.catalogue.as_ref())?;
            c::assign(
                s,
                &who,
                &catalogue,
                *id,
                to.as_deref(),
                institution.as_deref(),
            )?;
            print(
                common,
                &serde_json::json!({ "id": id, "assigned": true }),
                || {
                    println!("Caso {id} asignado.");
                },
            )
        }
        CasesCommand::Task {
            id,
            task,
            done,
            barrier,
            note,
            ..
        } => {
            let action = match (done, barrier) {
                (true, _) => TaskAction::Done { note: note.clone() },
                (false, Some(b)) => TaskAction::Barrier {
                    code: b.clone(),
                    note: note.clone(),
                },
                _ => anyhow::bail!("indique --done o --barrier"),
            };
            let catalogue = crate::measure::load_catalogue(common.catalogue.as_ref())?;
            c::task(s, &who, &catalogue, *id, *task, &action)?;
            print(
                common,
                &serde_json::json!({ "id": id, "task": task }),
                || {
                    println!("Tarea {task} del caso {id} actualizada.");
                },
            )
        }
        CasesCommand::Note { id, kind, text, .. } => {
            c::note(s, &who, *id, kind, text)?;
            print(common, &serde_json::json!({ "id": id }), || {
                println!("Anotado en el caso {id}.");
            })
        }
        CasesCommand::Close {
            id, ending, reason, ..
        } => {
            let catalogue = crate::measure::load_catalogue(common.catalogue.as_ref())?;
            let st = c::close(
                s,
                &who,
                &catalogue,
                *id,
                ending.as_deref(),
                reason.as_deref(),
            )?;
            print(
                common,
                &serde_json::json!({ "id": id, "status": st.code() }),
                || {
                    println!("Caso {id}: {}.", st.label());
                },
            )
        }
        CasesCommand::Approve {
            id, reject, reason, ..
        } => {
            let st = c::approve(s, &who, *id, !*reject, reason.as_deref())?;
            print(
                common,
                &serde_json::json!({ "id": id, "status": st.code() }),
                || {
                    println!("Caso {id}: {}.", st.label());
                },
            )
        }
        CasesCommand::Reopen { id, reason, .. } => {
            c::reopen(s, &who, *id, reason)?;
            print(common, &serde_json::json!({ "id": id }), || {
                println!("Caso {id} reabierto.");
            })
        }
        CasesCommand::Accept { id, .. } => {
            c::accept(s, &who, *id)?;
            print(common, &serde_json::json!({ "id": id }), || {
                println!("Caso {id} aceptado: lo sigue la Mesa de su distrito.");
            })
        }
        CasesCommand::Figures { territory, .. } => {
            let f = c::figures(s, &who, territory.as_deref())?;
            print(common, &f, || {
                println!(
                    "Casos abiertos: {}; cerrados: {} ({} con protección verificada; {} esperan aprobación)",
                    f.open, f.closed, f.closed_protected, f.pending_approval
                );
                if let Some(d) = f.median_days_to_protection {
                    println!("Mediana de días hasta la protección verificada: {d}");
                }
                for p in &f.by_population {
                    println!(
                        "  {}: {} abiertos, {} cerrados ({} con protección verificada{})",
                        p.label,
                        p.open,
                        p.closed,
                        p.closed_protected,
                        p.median_days_to_protection
                            .map(|d| format!("; mediana {d} días"))
                            .unwrap_or_default()
                    );
                }
            })
        }
        CasesCommand::Notifications { .. } => {
            let out = c::notifications(s, &who)?;
            print(common, &out, || {
                if out.is_empty() {
                    println!("Sin avisos.");
                }
                for n in &out {
                    println!("  {}", n.text);
                }
            })
        }
    }
}

fn candidates(
    s: &mut dyn vamos_store::Store,
    who: &vamos_app::Actor,
    common: &Common,
    territory: &str,
    limit: Option<i64>,
) -> Result<ExitCode> {
    let catalogue = crate::measure::load_catalogue(common.catalogue.as_ref())?;
    let (out, total) = c::candidates_page(s, who, &catalogue, Some(territory), limit)?;
    print(common, &out, || {
        println!(
            "{total} candidatas en {territory} según la última medición; {} con referencias aún sin atender, mayor prioridad primero:",
            out.len()
        );
        for x in &out {
            println!(
                "  {} {} — prioridad {} — {} servicios sin proteger — {}{}",
                x.unit_kind.code(),
                x.unit_id,
                x.priority.code(),
                x.unprotected,
                x.reasons.join("; "),
                x.open_case
                    .map(|c| format!(" (caso abierto {c})"))
                    .unwrap_or_default()
            );
        }
    })
}

fn list(
    s: &mut dyn vamos_store::Store,
    who: &vamos_app::Actor,
    common: &Common,
    territory: Option<&str>,
    status: Option<&str>,
    all: bool,
) -> Result<ExitCode> {
    let q = c::ListQuery {
        territory: territory.map(str::to_string),
        status: status.map(str::to_string),
        all: Some(all),
        limit: None,
    };
    let out = c::list(s, who, &q)?;
    print(common, &out, || {
        if out.is_empty() {
            println!("No hay casos.");
        }
        for x in &out {
            println!(
                "  caso {} — {} {} — {} — prioridad {} — {}",
                x.id,
                x.unit_kind,
                x.unit_id,
                vamos_domain::cases::CaseStatus::parse(&x.status)
                    .map_or(x.status.as_str(), |s| s.label()),
                x.priority,
                x.assigned_to.as_deref().unwrap_or("sin responsable")
            );
        }
    })
}
