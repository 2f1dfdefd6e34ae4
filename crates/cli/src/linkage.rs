//! `vamos linkage`: record linkage without a cédula — `evaluate` trains a model's settings on
//! labelled data (FEBRL, Splink's `fake_1000`) and reports pairs compared, precision, recall and
//! F1 against the truth (`vamos_app::linkage`).

use anyhow::Result;
use clap::{Args, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args)]
pub struct LinkageArgs {
    #[command(subcommand)]
    pub command: LinkageCommand,
}

#[derive(Subcommand)]
pub enum LinkageCommand {
    /// Entrena un modelo (archivo de configuración) sobre datos etiquetados y mide su acierto:
    /// pares comparados, precisión, exhaustividad (recall) y F1 contra la verdad
    /// (record_id,cluster_id). Con --right enlaza dos archivos; sin él, deduplica uno.
    Evaluate(EvaluateArgs),
}

#[derive(Args)]
pub struct EvaluateArgs {
    /// Configuración del modelo (TOML: comparaciones, reglas de bloqueo, entrenamiento, umbrales).
    #[arg(long)]
    pub settings: PathBuf,
    /// Registros (CSV con encabezado).
    #[arg(long)]
    pub left: PathBuf,
    /// Segundo archivo de registros, para enlazar con el primero.
    #[arg(long)]
    pub right: Option<PathBuf>,
    /// La verdad: CSV con record_id,cluster_id (registros del mismo cluster son la misma entidad).
    #[arg(long)]
    pub truth: PathBuf,
    #[arg(long, value_enum, default_value = "text")]
    pub format: crate::Format,
}

pub fn linkage(a: &LinkageArgs) -> Result<ExitCode> {
    match &a.command {
        LinkageCommand::Evaluate(e) => evaluate(e),
    }
}

fn evaluate(a: &EvaluateArgs) -> Result<ExitCode> {
    let e = vamos_app::linkage::evaluate(&a.settings, &a.left, a.right.as_deref(), &a.truth)?;
    match a.format {
        crate::Format::Json => println!("{}", serde_json::to_string(&e)?),
        crate::Format::Text | crate::Format::Table => {
            let pct = |x: f64| vamos_domain::numbers::decimal_es(x * 100.0, 2);
            println!("modelo: {}", e.settings_version);
            match e.records_right {
                None => println!("registros: {} (deduplicación)", e.records_left),
                Some(r) => println!("registros: {} × {} (enlace)", e.records_left, r),
            }
            for b in &e.blocking {
                println!("  bloqueo {:?}: {} comparaciones", b.keys, b.comparisons);
            }
            println!(
                "pares comparados: {} · probabilidad previa {:.6}",
                e.pairs_compared, e.prior
            );
            println!(
                "enlaces (≥ {}): {} · para revisión: {} · pares verdaderos: {}",
                e.link_threshold, e.accuracy.predicted, e.pairs_for_review, e.accuracy.true_pairs
            );
            println!(
                "precisión {} % · exhaustividad {} % · F1 {} % · {:.2} s",
                pct(e.accuracy.precision),
                pct(e.accuracy.recall),
                pct(e.accuracy.f1),
                e.seconds
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
