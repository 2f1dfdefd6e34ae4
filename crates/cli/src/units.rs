//! `vamos units`: the units behind a figure (a Logro card or one of its service rows) in a
//! district, as `vamos_app::units` lists them for the API and the web pages too — scoped to the
//! account of `--as`, within its agreement, audited.

use anyhow::Result;
use clap::Args;
use std::io::Write;
use std::process::ExitCode;
use vamos_app::units::{self as u, UnitsQuery};

#[derive(Args)]
pub struct UnitsArgs {
    /// Base de datos: sqlite:<archivo> o postgres://usuario@servidor/base
    #[arg(long, env = "VAMOS_DB", default_value = crate::DEFAULT_DB)]
    pub db: String,
    /// Distrito (DDdd).
    #[arg(long)]
    pub territory: String,
    /// Número de Logro (1 a 10).
    #[arg(long)]
    pub logro: u8,
    /// Un servicio del paquete núcleo del Logro (su fila en lugar de la tarjeta).
    #[arg(long)]
    pub service: Option<String>,
    /// Una población de atención especial (ninos, mujeres, adultos_mayores, discapacidad,
    /// indigenas, pobreza, rural).
    #[arg(long)]
    pub population: Option<String>,
    /// desprotegidos (por defecto) o sin_dato.
    #[arg(long)]
    pub state: Option<String>,
    /// Número de medición (por defecto, la última).
    #[arg(long)]
    pub measurement: Option<i64>,
    /// Página (desde 1).
    #[arg(long, default_value_t = 1)]
    pub page: usize,
    /// Filas por página.
    #[arg(long, default_value_t = u::PAGE)]
    pub limit: usize,
    /// Finalidad de la consulta (queda en la auditoría).
    #[arg(long)]
    pub purpose: Option<String>,
    /// Carpeta del catálogo con que se clasificó la medición (por defecto, el ilustrativo).
    #[arg(long)]
    pub catalogue: Option<std::path::PathBuf>,
    /// text, json o csv (csv: todas las unidades, no una página).
    #[arg(long, default_value = "text")]
    pub format: String,
}

pub fn units(a: &UnitsArgs) -> Result<ExitCode> {
    let mut store = crate::admin::open(&a.db)?;
    let who = crate::identity::actor(store.as_mut())?;
    let catalogue = crate::measure::load_catalogue(a.catalogue.as_ref())?;
    let q = UnitsQuery {
        measurement: a.measurement,
        territory: a.territory.clone(),
        logro: a.logro,
        service: a.service.clone(),
        population: a.population.clone(),
        state: a.state.clone(),
        page: Some(a.page),
        limit: Some(a.limit),
        purpose: a.purpose.clone(),
    };
    match a.format.as_str() {
        "csv" => {
            let p = u::export(store.as_mut(), &who, &catalogue, &q)?;
            std::io::stdout().lock().write_all(&u::csv(&p)?)?;
        }
        "json" => {
            let p = u::list(store.as_mut(), &who, &catalogue, &q)?;
            println!("{}", serde_json::to_string(&p.json())?);
        }
        "text" => {
            let p = u::list(store.as_mut(), &who, &catalogue, &q)?;
            let what = match &p.service {
                Some((_, name)) => format!("servicio «{name}»"),
                None => format!("Logro {} ({})", p.logro, p.category.label()),
            };
            let state = if p.state == "sin_dato" {
                "sin dato"
            } else {
                "sin protección"
            };
            println!(
                "{} unidades {state} — {what} — distrito {} — medición {} al {}{} — página {} de {}:",
                p.total,
                p.district,
                p.measurement,
                vamos_app::clock::date_es(&p.as_of),
                if p.synthetic { " (datos SINTÉTICOS)" } else { "" },
                p.page,
                p.pages
            );
            for r in &p.rows {
                let name = [r.get("given_names"), r.get("family_names")]
                    .into_iter()
                    .flatten()
                    .filter_map(|v| v.as_str())
                    .collect::<Vec<_>>()
                    .join(" ");
                let lacking: Vec<String> = r
                    .get("lacking")
                    .and_then(|l| l.as_array())
                    .into_iter()
                    .flatten()
                    .map(|l| {
                        format!(
                            "{} ({})",
                            l.get("name").and_then(|v| v.as_str()).unwrap_or_default(),
                            l.get("status_label")
                                .and_then(|v| v.as_str())
                                .unwrap_or_default()
                        )
                    })
                    .collect();
                println!(
                    "  {} {}{} — {}",
                    r.get("kind").and_then(|v| v.as_str()).unwrap_or_default(),
                    r.get("id").map(ToString::to_string).unwrap_or_default(),
                    if name.is_empty() {
                        String::new()
                    } else {
                        format!(" {name}")
                    },
                    lacking.join("; ")
                );
            }
        }
        f => anyhow::bail!("formato «{f}» desconocido: text, json o csv"),
    }
    Ok(ExitCode::SUCCESS)
}
