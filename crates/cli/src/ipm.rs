//! `vamos ipm compute`: the Alkire–Foster figures (H, A, M0, headcounts, contributions) of a
//! table of indicator deprivations by a method file — `vamos_app::ipm`.

use anyhow::Result;
use clap::Subcommand;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Subcommand)]
pub enum IpmCommand {
    /// El índice de una tabla de privaciones (una fila por unidad, una columna por indicador
    /// con 1, 0 o vacío = sin dato, y una columna `weight` opcional) según un método (TOML).
    Compute {
        #[arg(long)]
        method: PathBuf,
        #[arg(long)]
        input: PathBuf,
        /// Corte de pobreza como fracción (0.26 = 26 %); por defecto, el del método.
        #[arg(long)]
        k: Option<f64>,
        #[arg(long, value_enum, default_value = "text")]
        format: crate::Format,
    },
}

pub fn ipm(cmd: &IpmCommand) -> Result<ExitCode> {
    match cmd {
        IpmCommand::Compute {
            method,
            input,
            k,
            format,
        } => {
            let m = vamos_app::ipm::load_method(method)?;
            let r = vamos_app::ipm::compute_table(&m, input, *k)?;
            if *format == crate::Format::Json {
                println!("{}", serde_json::to_string(&r)?);
            } else {
                println!(
                    "Método {} (k = {:.0} %): H = {:.2} %, A = {:.2} %, IPM (M0) = {:.4} — {} unidades, {} sin dato ({:.1} %)",
                    r.method_version,
                    r.k * 100.0,
                    r.h * 100.0,
                    r.a * 100.0,
                    r.m0,
                    r.units,
                    r.units_missing,
                    r.missing_share * 100.0
                );
                for i in &r.indicators {
                    println!(
                        "  {:<24} {:<10} peso {:.4}  sin censura {:6.2} %  censurado {:6.2} %  contribución {:6.2} %",
                        i.indicator,
                        i.dimension,
                        i.weight,
                        i.uncensored * 100.0,
                        i.censored * 100.0,
                        i.contribution_share * 100.0
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
