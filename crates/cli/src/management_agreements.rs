//! `vamos management-agreements list|show|save`: interinstitutional management agreements —
//! `vamos_app::management_agreements`, shared with `/api/management-agreements` and the web's
//! `/acuerdos-de-gestion`.

// reason: serde_json::Value["key"] yields Null when absent; printing never panics.
#![allow(clippy::indexing_slicing)]

use anyhow::Result;
use clap::Subcommand;
use std::path::PathBuf;
use std::process::ExitCode;
use vamos_app::management_agreements as m;

#[derive(Subcommand)]
pub enum ManagementAgreementsCommand {
    /// Los acuerdos de gestión de su ámbito, con su estado.
    List {
        #[arg(long, env = "VAMOS_DB", default_value = crate::DEFAULT_DB)]
        db: String,
        #[arg(long, value_enum, default_value = "text")]
        format: crate::Format,
    },
    /// Un acuerdo: partes, compromisos y cada meta de gestión frente a las mediciones.
    Show {
        #[arg(long, env = "VAMOS_DB", default_value = crate::DEFAULT_DB)]
        db: String,
        id: i64,
        #[arg(long)]
        catalogue: Option<PathBuf>,
        #[arg(long, value_enum, default_value = "text")]
        format: crate::Format,
    },
    /// Crea (o, con --id, reemplaza) un acuerdo desde un archivo JSON con title, territory,
    /// parties, period_from, period_to, signed_on, arrangements, commitments y targets (ver
    /// docs/api.md).
    Save {
        #[arg(long, env = "VAMOS_DB", default_value = crate::DEFAULT_DB)]
        db: String,
        file: PathBuf,
        #[arg(long)]
        id: Option<i64>,
        #[arg(long)]
        catalogue: Option<PathBuf>,
    },
}

pub fn management_agreements(cmd: &ManagementAgreementsCommand) -> Result<ExitCode> {
    match cmd {
        ManagementAgreementsCommand::List { db, format } => {
            let mut store = crate::admin::open(db)?;
            let who = crate::identity::actor(store.as_mut())?;
            let list = m::list(store.as_mut(), &who)?;
            if *format == crate::Format::Json {
                println!("{}", serde_json::Value::from(list));
            } else if list.is_empty() {
                println!("No hay acuerdos de gestión.");
            } else {
                for a in &list {
                    println!(
                        "  {:>3}  {} — {} — {} — {}",
                        a["id"],
                        a["title"].as_str().unwrap_or_default(),
                        a["territory"]["name"].as_str().unwrap_or_default(),
                        a["period_label"].as_str().unwrap_or_default(),
                        a["status"].as_str().unwrap_or_default()
                    );
                }
            }
        }
        ManagementAgreementsCommand::Show {
            db,
            id,
            catalogue,
            format,
        } => {
            let mut store = crate::admin::open(db)?;
            let who = crate::identity::actor(store.as_mut())?;
            let catalogue = crate::measure::load_catalogue(catalogue.as_ref())?;
            let a = m::view(store.as_mut(), &who, &catalogue, *id)?;
            if *format == crate::Format::Json {
                println!("{a}");
            } else {
                print_agreement(&a);
            }
        }
        ManagementAgreementsCommand::Save {
            db,
            file,
            id,
            catalogue,
        } => {
            let mut store = crate::admin::open(db)?;
            let who = crate::identity::actor(store.as_mut())?;
            let catalogue = crate::measure::load_catalogue(catalogue.as_ref())?;
            let meta = std::fs::metadata(file)?;
            anyhow::ensure!(meta.len() <= 1 << 20, "el archivo del acuerdo supera 1 MiB");
            let input: m::AgreementInput = serde_json::from_slice(&std::fs::read(file)?)
                .map_err(|e| anyhow::anyhow!("acuerdo inválido: {e}"))?;
            let saved = m::save(store.as_mut(), &who, &catalogue, *id, &input)?;
            println!("Acuerdo de gestión {saved} guardado");
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn print_agreement(a: &serde_json::Value) {
    let empty = Vec::new();
    println!(
        "{} — {} — {} — {}",
        a["title"].as_str().unwrap_or_default(),
        a["territory"]["name"].as_str().unwrap_or_default(),
        a["period_label"].as_str().unwrap_or_default(),
        a["status"].as_str().unwrap_or_default()
    );
    let parties: Vec<&str> = a["party_names"]
        .as_array()
        .unwrap_or(&empty)
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    println!("Partes: {}", parties.join("; "));
    for c in a["commitments"].as_array().unwrap_or(&empty) {
        println!(
            "  [{}] {}: {}",
            c["kind_label"].as_str().unwrap_or_default(),
            c["institution"].as_str().unwrap_or_default(),
            c["description"].as_str().unwrap_or_default()
        );
    }
    for t in a["targets"].as_array().unwrap_or(&empty) {
        let pct = |x: &serde_json::Value| {
            x.as_f64()
                .map_or("—".to_string(), |p| format!("{:.1} %", p * 100.0))
        };
        println!(
            "  Meta: Logro {} en {} al {}: {} — actual {} — {}",
            t["logro"],
            t["territory"]["name"].as_str().unwrap_or_default(),
            t["year"],
            pct(&t["coverage"]),
            pct(&t["progress"]["current"]),
            t["progress"]["verdict"]
                .as_str()
                .unwrap_or("sin acceso a las cifras del territorio")
        );
    }
}
