//! `vamos budget import|show`: budget programmes and their execution — `vamos_app::budget`,
//! shared with `/api/budget` and the web's `/presupuesto`.

// reason: serde_json::Value["key"] yields Null when absent; printing never panics.
#![allow(clippy::indexing_slicing)]

use anyhow::Result;
use clap::Subcommand;
use std::path::PathBuf;
use std::process::ExitCode;
use vamos_app::budget::{self as b, BudgetQuery, Mapping};

#[derive(Subcommand)]
pub enum BudgetCommand {
    /// Importa líneas de presupuesto (CSV o XLSX del Ministerio de Hacienda) con un mapeo de
    /// columnas: todo o nada; reemplaza las líneas de los años que trae el archivo.
    Import {
        #[arg(long, env = "VAMOS_DB", default_value = crate::DEFAULT_DB)]
        db: String,
        file: PathBuf,
        /// Mapeo de columnas (TOML; por defecto el del MH, NO VERIFICADO con archivos reales).
        #[arg(long)]
        mapping: Option<PathBuf>,
        #[arg(long)]
        catalogue: Option<PathBuf>,
    },
    /// Necesario (un escenario guardado) vs asignado vs ejecutado, por fuente, institución,
    /// servicio y acción estratégica.
    Show {
        #[arg(long, env = "VAMOS_DB", default_value = crate::DEFAULT_DB)]
        db: String,
        /// Año (por defecto, el más reciente con presupuesto).
        #[arg(long)]
        year: Option<i64>,
        /// PY o un departamento DD.
        #[arg(long)]
        territory: Option<String>,
        /// Escenario de costeo guardado (vamos cost --save) para la columna «necesario».
        #[arg(long)]
        scenario: Option<i64>,
        #[arg(long)]
        catalogue: Option<PathBuf>,
        #[arg(long, value_enum, default_value = "text")]
        format: crate::Format,
    },
}

fn pyg(n: i64) -> String {
    vamos_domain::numbers::grouped(n, '.')
}

pub fn budget(cmd: &BudgetCommand) -> Result<ExitCode> {
    match cmd {
        BudgetCommand::Import {
            db,
            file,
            mapping,
            catalogue,
        } => {
            let mut store = crate::admin::open(db)?;
            let who = crate::identity::actor(store.as_mut())?;
            let catalogue = crate::measure::load_catalogue(catalogue.as_ref())?;
            let mapping = match mapping {
                Some(p) => Mapping::from_file(p)?,
                None => Mapping::default_mh()?,
            };
            match b::import(store.as_mut(), &who, &catalogue, file, &mapping)? {
                Ok(i) => {
                    println!(
                        "{} líneas de presupuesto de {} ({} reemplazadas); {} vinculadas a servicios, {} de cooperación externa{}",
                        i.lines,
                        i.years.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "),
                        i.replaced,
                        i.linked_to_services,
                        i.cooperation,
                        if i.illustrative { " — datos ILUSTRATIVOS" } else { "" }
                    );
                    if !i.mapping_verified {
                        println!("Mapeo «{}»: NO VERIFICADO con archivos reales del Ministerio de Hacienda.", i.mapping);
                    }
                    Ok(ExitCode::SUCCESS)
                }
                Err(problems) => {
                    eprintln!(
                        "El presupuesto no se importó ({} problemas): nada se guardó.",
                        problems.len()
                    );
                    for x in &problems {
                        eprintln!("  {x}");
                    }
                    Ok(ExitCode::from(2))
                }
            }
        }
        BudgetCommand::Show {
            db,
            year,
            territory,
            scenario,
            catalogue,
            format,
        } => {
            let mut store = crate::admin::open(db)?;
            let who = crate::identity::actor(store.as_mut())?;
            let catalogue = crate::measure::load_catalogue(catalogue.as_ref())?;
            let v = b::summary(
                store.as_mut(),
                &who,
                &catalogue,
                &BudgetQuery {
                    year: *year,
                    territory: territory.clone(),
                    scenario: *scenario,
                },
            )?;
            if *format == crate::Format::Json {
                println!("{v}");
            } else {
                print_summary(&v);
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn print_summary(v: &serde_json::Value) {
    if v["year"].is_null() {
        println!("{}", v["message"].as_str().unwrap_or_default());
        return;
    }
    println!(
        "Presupuesto {} — {}{}",
        v["year"],
        v["territory"]["name"].as_str().unwrap_or_default(),
        if v["illustrative"].as_bool() == Some(true) {
            " — datos ILUSTRATIVOS"
        } else {
            ""
        }
    );
    if let Some(s) = v["scenario"].as_object() {
        println!(
            "Necesario: escenario {} «{}»",
            s["id"],
            s["name"].as_str().unwrap_or_default()
        );
    }
    let n = |x: &serde_json::Value, k: &str| {
        pyg(x["stages"][k].as_i64().or(x[k].as_i64()).unwrap_or(0))
    };
    let pct = |x: &serde_json::Value| {
        x.as_f64()
            .map_or("—".to_string(), |p| format!("{:.0} %", p * 100.0))
    };
    println!(
        "{:<50} {:>20} {:>20} {:>20} {:>20} {:>6}",
        "", "necesario", "vigente", "obligado", "pagado", "ejec."
    );
    let t = &v["total"];
    println!(
        "{:<50} {:>20} {:>20} {:>20} {:>20} {:>6}",
        "Total",
        n(t, "needed"),
        n(t, "current"),
        n(t, "obligated"),
        n(t, "paid"),
        pct(&t["execution"])
    );
    let empty = Vec::new();
    for (title, key, label) in [
        ("Por institución", "by_institution", "name"),
        ("Por servicio", "by_service", "name"),
        ("Por acción estratégica", "by_action", "action"),
        ("Por fuente", "by_source", "label"),
        ("Cooperación externa", "cooperation", "tag"),
    ] {
        let rows = v[key].as_array().unwrap_or(&empty);
        if rows.is_empty() {
            continue;
        }
        println!("{title}:");
        for r in rows {
            let name: String = r[label]
                .as_str()
                .or(r["service"].as_str())
                .unwrap_or_default()
                .chars()
                .take(48)
                .collect();
            println!(
                "  {:<48} {:>20} {:>20} {:>20} {:>20} {:>6}",
                name,
                n(r, "needed"),
                n(r, "current"),
                n(r, "obligated"),
                n(r, "paid"),
                pct(&r["stages"]["execution"])
            );
        }
    }
}
