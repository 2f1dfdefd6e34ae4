//! `vamos orientations record`: the orientation an orientador gave a person at the counter,
//! recorded as the UTGS's counter-referral of ORIENTACIONES SPS — glue over
//! `vamos_app::orientations` (shared with the API and the person page), acting as the account
//! of `--as`.

use anyhow::Result;
use clap::Subcommand;
use std::process::ExitCode;
use vamos_app::orientations::{self as o, Orientation};

#[derive(Subcommand)]
pub enum OrientationsCommand {
    /// Registra la orientación dada hoy a una persona (evidencia de ORIENTACIONES SPS).
    Record {
        #[command(flatten)]
        common: crate::cases::Common,
        /// Número interno de la persona (véalo en el registro).
        #[arg(long = "person-id")]
        person_id: i64,
        /// Dónde se la orientó (oficina, feria, visita).
        #[arg(long)]
        place: Option<String>,
    },
}

pub fn orientations(cmd: &OrientationsCommand) -> Result<ExitCode> {
    let OrientationsCommand::Record {
        common,
        person_id,
        place,
    } = cmd;
    let mut store = crate::admin::open(&common.db)?;
    let who = crate::identity::actor(store.as_mut())?;
    let catalogue = crate::measure::load_catalogue(None)?;
    let sum = o::record(
        store.as_mut(),
        &who,
        &catalogue,
        &Orientation {
            person_id: *person_id,
            place: place.clone(),
        },
    )?;
    if common.format == crate::Format::Json {
        println!("{}", serde_json::to_string(&sum)?);
    } else if sum.accepted + sum.duplicates == 1 {
        println!(
            "Orientación registrada para la persona {person_id}{}.",
            if sum.duplicates == 1 {
                " (ya estaba registrada hoy)"
            } else {
                ""
            }
        );
    } else {
        for e in &sum.errors {
            eprintln!("{}: {}", e.column, e.reason);
        }
    }
    // A refused orientation (a person not found within the account's territories) is a
    // command that did not do what it was asked.
    Ok(if sum.rejected > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
