//! `vamos plan import|export|template|list|show|baselines`: the strategic framework —
//! `vamos_app::plans`, shared with `/api/plans` and the web's `/planes`.

// reason: serde_json::Value["key"] yields Null when absent; printing never panics.
#![allow(clippy::indexing_slicing)]

use anyhow::Result;
use clap::Subcommand;
use std::path::PathBuf;
use std::process::ExitCode;
use vamos_app::plans::{self as p, xlsx};

#[derive(Subcommand)]
pub enum PlanCommand {
    /// Importa un plan desde un libro XLSX con el formato de la plantilla: todo o nada; el mismo
    /// nombre y versión reemplaza el plan, otra versión crea una nueva.
    Import {
        #[arg(long, env = "VAMOS_DB", default_value = crate::DEFAULT_DB)]
        db: String,
        /// El libro XLSX.
        file: PathBuf,
        /// Carpeta del catálogo (instituciones y servicios; por defecto, el ilustrativo).
        #[arg(long)]
        catalogue: Option<PathBuf>,
    },
    /// Exporta un plan como libro XLSX (el formato de la plantilla, con la brecha calculada).
    Export {
        #[arg(long, env = "VAMOS_DB", default_value = crate::DEFAULT_DB)]
        db: String,
        /// Número del plan (por defecto, el vigente).
        #[arg(long)]
        plan: Option<i64>,
        /// Archivo a escribir.
        #[arg(long)]
        out: PathBuf,
    },
    /// Escribe la plantilla vacía (o el plan ilustrativo) como libro XLSX.
    Template {
        #[arg(long)]
        out: PathBuf,
        /// El Marco Estratégico ILUSTRATIVO en lugar de la plantilla vacía.
        #[arg(long)]
        illustrative: bool,
    },
    /// Los planes guardados.
    List {
        #[arg(long, env = "VAMOS_DB", default_value = crate::DEFAULT_DB)]
        db: String,
        #[arg(long, value_enum, default_value = "text")]
        format: crate::Format,
    },
    /// Un plan: objetivos, acciones, indicadores con línea de base, meta, brecha y valor actual.
    Show {
        #[arg(long, env = "VAMOS_DB", default_value = crate::DEFAULT_DB)]
        db: String,
        #[arg(long)]
        plan: Option<i64>,
        #[arg(long, value_enum, default_value = "text")]
        format: crate::Format,
    },
    /// Toma de nuevo las líneas de base de los indicadores medidos de una medición elegida.
    Baselines {
        #[arg(long, env = "VAMOS_DB", default_value = crate::DEFAULT_DB)]
        db: String,
        #[arg(long)]
        plan: Option<i64>,
        /// Número de medición (por defecto, la última).
        #[arg(long)]
        measurement: Option<i64>,
    },
}

/// The plan asked for, or the one in force (else the newest).
fn chosen(
    store: &mut dyn vamos_store::Store,
    who: &vamos_app::Actor,
    plan: Option<i64>,
) -> Result<i64> {
    if let Some(id) = plan {
        return Ok(id);
    }
    let list = p::list(store, who)?;
    list.iter()
        .find(|x| x.status == "vigente")
        .or_else(|| list.iter().max_by_key(|x| x.id))
        .map(|x| x.id)
        .ok_or_else(|| anyhow::anyhow!("no hay planes: vamos plan import <libro.xlsx>"))
}

pub fn plan(cmd: &PlanCommand) -> Result<ExitCode> {
    match cmd {
        PlanCommand::Import {
            db,
            file,
            catalogue,
        } => {
            let mut store = crate::admin::open(db)?;
            let who = crate::identity::actor(store.as_mut())?;
            let catalogue = crate::measure::load_catalogue(catalogue.as_ref())?;
            let (f, rows, mut problems) = xlsx::read(file)?;
            if problems.is_empty() {
                let label = file
                    .file_name()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default();
                match p::store(store.as_mut(), &who, &catalogue, f, &rows, &label)? {
                    Ok(s) => {
                        println!(
                            "Plan {} «{}» versión {}: {} objetivos, {} acciones estratégicas, {} indicadores, {} metas{}",
                            s.plan, s.name, s.version, s.objectives, s.actions, s.indicators, s.values,
                            s.measurement.map_or(String::new(), |m| format!("; {} líneas de base de la medición {m}", s.baselines_filled))
                        );
                        return Ok(ExitCode::SUCCESS);
                    }
                    Err(found) => problems = found,
                }
            }
            eprintln!(
                "El plan no se importó ({} problemas): nada se guardó.",
                problems.len()
            );
            for x in &problems {
                eprintln!("  {x}");
            }
            Ok(ExitCode::from(2))
        }
        PlanCommand::Export { db, plan, out } => {
            let mut store = crate::admin::open(db)?;
            let who = crate::identity::actor(store.as_mut())?;
            let id = chosen(store.as_mut(), &who, *plan)?;
            let f = p::get(store.as_mut(), &who, id)?;
            std::fs::write(out, xlsx::write(&f)?)?;
            println!("Plan {id} exportado a {}", out.display());
            Ok(ExitCode::SUCCESS)
        }
        PlanCommand::Template { out, illustrative } => {
            let f = if *illustrative {
                xlsx::illustrative()?
            } else {
                vamos_store::plans::Framework::default()
            };
            std::fs::write(out, xlsx::write(&f)?)?;
            println!(
                "{} escrito en {}",
                if *illustrative {
                    "Marco Estratégico ILUSTRATIVO"
                } else {
                    "Plantilla"
                },
                out.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        PlanCommand::List { db, format } => {
            let mut store = crate::admin::open(db)?;
            let who = crate::identity::actor(store.as_mut())?;
            let list = p::list(store.as_mut(), &who)?;
            if *format == crate::Format::Json {
                println!("{}", serde_json::to_string(&list)?);
            } else if list.is_empty() {
                println!("No hay planes: vamos plan import <libro.xlsx>");
            } else {
                for x in &list {
                    println!(
                        "  {:>3}  {} (versión {}, {}–{}) — {}{}",
                        x.id,
                        x.name,
                        x.version,
                        x.period_from,
                        x.period_to,
                        x.status,
                        if x.illustrative {
                            " — ILUSTRATIVO"
                        } else {
                            ""
                        }
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        PlanCommand::Show { db, plan, format } => {
            let mut store = crate::admin::open(db)?;
            let who = crate::identity::actor(store.as_mut())?;
            let id = chosen(store.as_mut(), &who, *plan)?;
            let v = p::view(store.as_mut(), &who, id)?;
            if *format == crate::Format::Json {
                println!("{v}");
            } else {
                print_plan(&v);
            }
            Ok(ExitCode::SUCCESS)
        }
        PlanCommand::Baselines {
            db,
            plan,
            measurement,
        } => {
            let mut store = crate::admin::open(db)?;
            let who = crate::identity::actor(store.as_mut())?;
            let id = chosen(store.as_mut(), &who, *plan)?;
            let (n, m) = p::rebase(store.as_mut(), &who, id, *measurement)?;
            println!("Plan {id}: {n} líneas de base tomadas de la medición {m}");
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn print_plan(v: &serde_json::Value) {
    let pct = |x: &serde_json::Value| {
        x.as_f64()
            .map_or("—".to_string(), |x| format!("{:.1} %", x * 100.0))
    };
    let plan = &v["plan"];
    println!(
        "{} (versión {}, {}–{}) — {}{}",
        plan["name"].as_str().unwrap_or_default(),
        plan["version"],
        plan["period_from"],
        plan["period_to"],
        v["status_label"].as_str().unwrap_or_default(),
        if plan["illustrative"].as_bool() == Some(true) {
            " — ILUSTRATIVO"
        } else {
            ""
        }
    );
    let empty = Vec::new();
    let arr = |x: &serde_json::Value| x.as_array().unwrap_or(&empty).clone();
    for g in arr(&v["objectives"]) {
        println!(
            "{} [{}] {}",
            g["code"].as_str().unwrap_or_default(),
            g["category_label"].as_str().unwrap_or_default(),
            g["description"].as_str().unwrap_or_default()
        );
        for s in arr(&g["specific"]) {
            println!(
                "  {} {}",
                s["code"].as_str().unwrap_or_default(),
                s["description"].as_str().unwrap_or_default()
            );
            for a in arr(&s["actions"]) {
                let inst: Vec<String> = arr(&a["institutions"])
                    .iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect();
                println!(
                    "    {} {} ({})",
                    a["code"].as_str().unwrap_or_default(),
                    a["description"].as_str().unwrap_or_default(),
                    inst.join(", ")
                );
                for i in arr(&a["indicators"]) {
                    println!(
                        "      {} {} — {}",
                        i["code"].as_str().unwrap_or_default(),
                        i["name"].as_str().unwrap_or_default(),
                        i["kind_label"].as_str().unwrap_or_default()
                    );
                    for x in arr(&i["values"]) {
                        let manual = i["kind"] == "manual";
                        let show = |y: &serde_json::Value| {
                            if manual {
                                y.as_f64().map_or("—".into(), |n| n.to_string())
                            } else {
                                pct(y)
                            }
                        };
                        println!(
                            "        {:<22} {}: base {}{} · meta {} · brecha {} · actual {}",
                            x["territory"]["name"]
                                .as_str()
                                .or(x["territory"]["code"].as_str())
                                .unwrap_or_default(),
                            x["year"],
                            show(&x["baseline"]),
                            x["baseline_measurement"]
                                .as_i64()
                                .map_or(String::new(), |m| format!(" (medición {m})")),
                            show(&x["target"]),
                            show(&x["gap"]),
                            show(&x["current"]),
                        );
                    }
                }
            }
        }
    }
}
