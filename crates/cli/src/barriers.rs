//! `vamos barriers view|record|resolve|facilitator|follow`: glue over `vamos_app::barriers`
//! (shared with the API and the web pages), acting as the account of `--as`.

use anyhow::Result;
use clap::Subcommand;
use std::process::ExitCode;
use vamos_app::barriers::{self as b, NewBarrier, NewFacilitator};

use crate::cases::{print, Common};

#[derive(Subcommand)]
pub enum BarriersCommand {
    /// Vista territorial: las barreras que bloquean más casos y los facilitadores, con su
    /// seguimiento y lo que se superó desde que empezaron.
    View {
        #[command(flatten)]
        common: Common,
        /// PY, DD o DDdd (por defecto, todo el ámbito de la cuenta).
        #[arg(long)]
        territory: Option<String>,
    },
    /// Registra una barrera de acceso encontrada en un distrito.
    Record {
        #[command(flatten)]
        common: Common,
        /// Distrito (DDdd).
        #[arg(long)]
        territory: String,
        /// Código de barrera de canal_verde.toml (documentos, distancia, idioma…).
        #[arg(long)]
        barrier: String,
        /// Servicio al que impide llegar (código del catálogo), si uno.
        #[arg(long)]
        service: Option<String>,
        #[arg(long)]
        description: String,
    },
    /// Marca como superada una barrera registrada.
    Resolve {
        #[command(flatten)]
        common: Common,
        id: i64,
    },
    /// Diseña un facilitador contra una barrera: responsable y período.
    Facilitator {
        #[command(flatten)]
        common: Common,
        #[arg(long)]
        territory: String,
        #[arg(long)]
        barrier: String,
        #[arg(long)]
        name: String,
        /// Institución o persona responsable.
        #[arg(long)]
        owner: String,
        /// Desde (DD/MM/AAAA o AAAA-MM-DD).
        #[arg(long)]
        from: String,
        /// Hasta (DD/MM/AAAA o AAAA-MM-DD).
        #[arg(long)]
        to: String,
        #[arg(long, default_value = "")]
        description: String,
    },
    /// Seguimiento de un facilitador: estado (planificado, en_curso, cumplido, suspendido),
    /// resultado al terminar (funciono, no_funciono) y una nota.
    Follow {
        #[command(flatten)]
        common: Common,
        id: i64,
        #[arg(long)]
        status: String,
        #[arg(long)]
        result: Option<String>,
        #[arg(long, default_value = "")]
        note: String,
    },
}

pub fn run(cmd: &BarriersCommand) -> Result<ExitCode> {
    let common = match cmd {
        BarriersCommand::View { common, .. }
        | BarriersCommand::Record { common, .. }
        | BarriersCommand::Resolve { common, .. }
        | BarriersCommand::Facilitator { common, .. }
        | BarriersCommand::Follow { common, .. } => common,
    };
    let mut store = crate::admin::open(&common.db)?;
    let who = crate::identity::actor(store.as_mut())?;
    let s = store.as_mut();
    let catalogue = crate::measure::load_catalogue(common.catalogue.as_ref())?;
    match cmd {
        BarriersCommand::View { territory, .. } => {
            let v = b::view(s, &who, &catalogue, territory.as_deref())?;
            print(common, &v, || print_view(&v))
        }
        BarriersCommand::Record {
            territory,
            barrier,
            service,
            description,
            ..
        } => {
            let id = b::record(
                s,
                &who,
                &catalogue,
                &NewBarrier {
                    territory: territory.clone(),
                    barrier: barrier.clone(),
                    service: service.clone(),
                    description: description.clone(),
                },
            )?;
            print(common, &serde_json::json!({ "id": id }), || {
                println!("{id}");
            })
        }
        BarriersCommand::Resolve { id, .. } => {
            b::resolve(s, &who, *id)?;
            print(common, &serde_json::json!({ "id": id }), || {
                println!("Barrera {id} superada.");
            })
        }
        BarriersCommand::Facilitator {
            territory,
            barrier,
            name,
            owner,
            from,
            to,
            description,
            ..
        } => {
            let id = b::add_facilitator(
                s,
                &who,
                &catalogue,
                &NewFacilitator {
                    territory: territory.clone(),
                    barrier: barrier.clone(),
                    name: name.clone(),
                    description: description.clone(),
                    owner: owner.clone(),
                    starts_on: from.clone(),
                    ends_on: to.clone(),
                },
            )?;
            print(common, &serde_json::json!({ "id": id }), || {
                println!("{id}");
            })
        }
        BarriersCommand::Follow {
            id,
            status,
            result,
            note,
            ..
        } => {
            b::follow(s, &who, *id, status, result.as_deref(), note)?;
            print(common, &serde_json::json!({ "id": id }), || {
                println!("Facilitador {id}: {status}.");
            })
        }
    }
}

fn print_view(v: &b::View) {
    let name = v
        .territory
        .get("name")
        .and_then(serde_json::Value::as_str)
        .unwrap_or_default();
    println!("Barreras de acceso — {name}");
    println!(
        "{:<46} {:>7} {:>7} {:>9} {:>10} {:>13}",
        "barrera", "casos", "tareas", "superadas", "registros", "facilitadores"
    );
    for r in &v.barriers {
        println!(
            "{:<46} {:>7} {:>7} {:>9} {:>10} {:>13}",
            r.label, r.blocked_cases, r.blocked_tasks, r.overcome_tasks, r.recorded, r.facilitators
        );
    }
    if v.facilitators.is_empty() {
        println!("Sin facilitadores todavía.");
    }
    for f in &v.facilitators {
        println!(
            "Facilitador {} — {} ({}) contra «{}» — {} — {} a {} — {}{} — {} tareas superadas desde el inicio, {} aún bloqueadas",
            f.facilitator.id,
            f.facilitator.name,
            f.district_name,
            f.barrier_label,
            f.facilitator.owner,
            vamos_app::clock::date_es(&f.facilitator.starts_on),
            vamos_app::clock::date_es(&f.facilitator.ends_on),
            f.status_label,
            f.result_label
                .as_deref()
                .map(|r| format!(" ({r})"))
                .unwrap_or_default(),
            f.overcome_since,
            f.still_blocked
        );
    }
}
