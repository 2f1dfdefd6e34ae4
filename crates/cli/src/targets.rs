//! `vamos targets set|list`: shared targets of the Logros — `vamos_app::targets`, shared with
//! `GET/POST /api/targets` and the dashboards.

use anyhow::Result;
use clap::Subcommand;
use std::process::ExitCode;
use vamos_app::targets::{self as t, SetTarget};

#[derive(Subcommand)]
pub enum TargetsCommand {
    /// Define (o reemplaza) la meta de cobertura de un Logro en un territorio para un año.
    Set {
        #[arg(long, env = "VAMOS_DB", default_value = crate::DEFAULT_DB)]
        db: String,
        /// PY, DD o DDdd.
        #[arg(long)]
        territory: String,
        #[arg(long)]
        logro: u8,
        #[arg(long)]
        year: i32,
        /// Cobertura a alcanzar, de 0 a 1 (0.7 = 70 %).
        #[arg(long)]
        coverage: f64,
    },
    /// Las metas definidas (de un territorio y lo que contiene, si se indica).
    List {
        #[arg(long, env = "VAMOS_DB", default_value = crate::DEFAULT_DB)]
        db: String,
        #[arg(long)]
        territory: Option<String>,
        #[arg(long, value_enum, default_value = "text")]
        format: crate::Format,
    },
}

pub fn targets(cmd: &TargetsCommand) -> Result<ExitCode> {
    match cmd {
        TargetsCommand::Set {
            db,
            territory,
            logro,
            year,
            coverage,
        } => {
            let mut store = crate::admin::open(db)?;
            let who = crate::identity::actor(store.as_mut())?;
            t::set(
                store.as_mut(),
                &who,
                &SetTarget {
                    territory: territory.clone(),
                    logro: *logro,
                    year: *year,
                    coverage: *coverage,
                },
            )?;
            println!(
                "Meta del Logro {logro} en {territory} para {year}: {:.1} %",
                coverage * 100.0
            );
        }
        TargetsCommand::List {
            db,
            territory,
            format,
        } => {
            let mut store = crate::admin::open(db)?;
            let who = crate::identity::actor(store.as_mut())?;
            let list = t::list(store.as_mut(), &who, territory.as_deref())?;
            if *format == crate::Format::Json {
                println!("{}", serde_json::to_string(&list)?);
            } else if list.is_empty() {
                println!("No hay metas definidas.");
            } else {
                for x in &list {
                    println!(
                        "  {:<5} Logro {:>2} {}: {:.1} % ({}, {})",
                        x.territory,
                        x.logro,
                        x.year,
                        x.coverage * 100.0,
                        x.set_by,
                        vamos_app::clock::moment_es(&x.set_at)
                    );
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
