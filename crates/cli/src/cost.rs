//! `vamos cost`: what raising a Logro of a territory to a target by a year costs, per service,
//! institution and year — `vamos_app::costing`, shared with `GET /api/costing`.

// reason: serde_json::Value["key"] yields Null when absent; printing never panics.
#![allow(clippy::indexing_slicing)]

use anyhow::Result;
use clap::Args;
use std::process::ExitCode;
use vamos_app::costing::{self as c, CostQuery};

#[derive(Args)]
pub struct CostArgs {
    /// Base de datos: sqlite:<archivo> o postgres://usuario@servidor/base
    #[arg(long, env = "VAMOS_DB", default_value = crate::DEFAULT_DB)]
    pub db: String,
    /// PY (nación), DD (departamento) o DDdd (distrito): la meta se aplica a cada distrito.
    #[arg(long, required_unless_present = "compare")]
    pub territory: Option<String>,
    /// Número de Logro (1 a 10).
    #[arg(long, required_unless_present_any = ["sweep", "compare"])]
    pub logro: Option<u8>,
    /// Cobertura a alcanzar, de 0 a 1 (0.7 = 70 %).
    #[arg(long, required_unless_present = "compare")]
    pub target: Option<f64>,
    /// Año en que alcanzarla (posterior al de la medición).
    #[arg(long, required_unless_present_any = ["sweep", "compare"])]
    pub by: Option<i32>,
    /// Costea la meta para cada distrito y Logro del territorio y cada año del rango
    /// (AAAA-AAAA), y dice cuánto tardó cada etapa.
    #[arg(long)]
    pub sweep: Option<String>,
    /// Gastos administrativos sobre el costo de los servicios (0.1 = 10 %).
    #[arg(long, default_value_t = 0.0)]
    pub overhead: f64,
    /// Indexación de precios por año (0.04 = 4 % anual).
    #[arg(long, default_value_t = 0.0)]
    pub indexation: f64,
    /// Costo de verificar una unidad sin dato (una actualización de la FIPS), en guaraníes.
    #[arg(long, default_value_t = 0)]
    pub verification_cost: i64,
    /// Número de medición (por defecto, la última).
    #[arg(long)]
    pub measurement: Option<i64>,
    /// Carpeta del catálogo con que se clasificó la medición (por defecto, el ilustrativo).
    #[arg(long)]
    pub catalogue: Option<std::path::PathBuf>,
    /// Cómo se eligen las unidades: menor_costo (por defecto) o proporcional (en proporción a
    /// toda la brecha).
    #[arg(long)]
    pub selection: Option<String>,
    /// El camino hacia la meta: pasos_iguales (por defecto), al_inicio o al_final.
    #[arg(long)]
    pub path: Option<String>,
    /// Un departamento o la nación como un solo conjunto (las unidades más baratas en cualquier
    /// distrito) en lugar de la meta en cada distrito.
    #[arg(long)]
    pub pool: bool,
    /// Fija el costo unitario de un servicio en --territory (SERVICIO=PYG) y termina; con
    /// SERVICIO= lo quita (vuelve a regir el del catálogo).
    #[arg(long, conflicts_with_all = ["sweep", "save", "compare"])]
    pub set_unit_cost: Option<String>,
    /// Lista los costos unitarios fijados por territorio y termina.
    #[arg(long, conflicts_with_all = ["sweep", "save", "compare"])]
    pub unit_costs: bool,
    /// Guarda el costeo como escenario con este nombre, para compararlo con otros y con el
    /// presupuesto (`vamos cost --compare`, `vamos budget show --scenario`).
    #[arg(long, conflicts_with = "sweep")]
    pub save: Option<String>,
    /// Compara escenarios guardados (sus números, separados por comas) y no costea.
    #[arg(long, conflicts_with_all = ["sweep", "save"])]
    pub compare: Option<String>,
    #[arg(long, value_enum, default_value = "text")]
    pub format: crate::Format,
}

/// Guaraníes with thousands separated as people write them (`1.234.567`).
fn pyg(n: i64) -> String {
    vamos_domain::numbers::grouped(n, '.')
}

pub fn cost(a: &CostArgs) -> Result<ExitCode> {
    let mut store = crate::admin::open(&a.db)?;
    let who = crate::identity::actor(store.as_mut())?;
    let catalogue = crate::measure::load_catalogue(a.catalogue.as_ref())?;
    if let Some(ids) = &a.compare {
        let ids: Vec<i64> = ids
            .split(',')
            .map(|x| x.trim().parse::<i64>())
            .collect::<std::result::Result<_, _>>()
            .map_err(|_| {
                anyhow::anyhow!("--compare espera números de escenario separados por comas")
            })?;
        let out = c::compare(store.as_mut(), &who, &ids)?;
        if a.format == crate::Format::Json {
            println!("{out}");
        } else {
            print_comparison(&out);
        }
        return Ok(ExitCode::SUCCESS);
    }
    if a.unit_costs {
        for u in c::unit_cost_list(store.as_mut(), &who)? {
            println!(
                "  {:<5} {:<40} {:>14} PYG ({}, {})",
                u.territory,
                u.service,
                pyg(u.unit_cost),
                u.set_by,
                vamos_app::clock::moment_es(&u.set_at)
            );
        }
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(set) = &a.set_unit_cost {
        let territory = a.territory.as_deref().unwrap_or("PY");
        let (service, cost) = set
            .split_once('=')
            .ok_or_else(|| anyhow::anyhow!("--set-unit-cost espera SERVICIO=PYG"))?;
        let cost = match cost.trim() {
            "" => None,
            x => Some(
                x.replace('.', "")
                    .parse::<i64>()
                    .map_err(|_| anyhow::anyhow!("costo unitario inválido: «{x}»"))?,
            ),
        };
        c::set_unit_cost(
            store.as_mut(),
            &who,
            &catalogue,
            territory,
            service.trim(),
            cost,
        )?;
        println!(
            "Costo unitario de {} en {territory}: {}",
            service.trim(),
            cost.map_or("el del catálogo".to_string(), |c| format!(
                "{} PYG",
                pyg(c)
            ))
        );
        return Ok(ExitCode::SUCCESS);
    }
    let (Some(territory), Some(target)) = (a.territory.clone(), a.target) else {
        anyhow::bail!("indique --territory y --target");
    };
    if let Some(range) = &a.sweep {
        let (from, to) = range
            .split_once('-')
            .and_then(|(x, y)| Some((x.trim().parse::<i32>().ok()?, y.trim().parse::<i32>().ok()?)))
            .ok_or_else(|| anyhow::anyhow!("--sweep espera un rango de años AAAA-AAAA"))?;
        let out = c::sweep(
            store.as_mut(),
            &who,
            &catalogue,
            &territory,
            target,
            from..=to,
        )?;
        if a.format == crate::Format::Json {
            println!("{}", serde_json::to_string(&out)?);
        } else {
            println!(
                "{} escenarios ({} distritos × Logros × años {from}–{to}) de la medición {}: lectura {} ms, brechas {} ms, escenarios {:.1} ms",
                out.scenarios, out.districts, out.measurement, out.load_ms, out.gaps_ms, out.scenarios_ms
            );
            for (year, total) in &out.total_by_year {
                println!("  meta {target} al {year}: {} PYG", pyg(*total));
            }
        }
        return Ok(ExitCode::SUCCESS);
    }
    let (Some(logro), Some(by)) = (a.logro, a.by) else {
        anyhow::bail!("indique --logro y --by (o --sweep AAAA-AAAA)");
    };
    let q = CostQuery {
        territory,
        logro,
        target,
        by,
        overhead: a.overhead,
        indexation: a.indexation,
        verification_cost: a.verification_cost,
        measurement: a.measurement,
        options: c::CostOptions::asked(a.selection.clone(), a.path.clone(), a.pool),
    };
    let out = match &a.save {
        Some(name) => {
            let (id, out) = c::save(store.as_mut(), &who, &catalogue, &q, name)?;
            eprintln!("Escenario {id} guardado: «{name}»");
            out
        }
        None => c::cost(store.as_mut(), &who, &catalogue, &q)?,
    };
    if a.format == crate::Format::Json {
        println!("{}", serde_json::to_string(&out)?);
        return Ok(ExitCode::SUCCESS);
    }
    print_costing(&out);
    Ok(ExitCode::SUCCESS)
}

/// Saved scenarios side by side, one column each.
fn print_comparison(out: &serde_json::Value) {
    let empty = Vec::new();
    let list = out["scenarios"].as_array().unwrap_or(&empty);
    for s in list {
        println!(
            "Escenario {}: «{}» — {} Logro {}, meta {:.1} % al {}: {} unidades, {} PYG",
            s["id"],
            s["name"].as_str().unwrap_or_default(),
            s["territory"]["name"].as_str().unwrap_or_default(),
            s["logro"],
            s["target"].as_f64().unwrap_or(0.0) * 100.0,
            s["by"],
            s["units_to_protect"],
            pyg(s["total_cost"].as_i64().unwrap_or(0))
        );
    }
    for row in out["by_service"].as_array().unwrap_or(&empty) {
        let costs: Vec<String> = row["costs"]
            .as_array()
            .unwrap_or(&empty)
            .iter()
            .map(|c| format!("{:>18}", pyg(c.as_i64().unwrap_or(0))))
            .collect();
        println!(
            "  {:<48} {:<8} {}",
            row["name"].as_str().unwrap_or_default(),
            row["institution"].as_str().unwrap_or_default(),
            costs.join(" ")
        );
    }
}

/// A costing as people read it.
fn print_costing(out: &c::Costing) {
    let pct = |v: Option<f64>| v.map_or("—".to_string(), |x| format!("{:.1} %", x * 100.0));
    println!(
        "Logro {} ({}) en {}: de {} (medición {}) a {} en {} — catálogo {}{}",
        out.logro,
        out.category,
        out.territory
            .get("name")
            .and_then(serde_json::Value::as_str)
            .unwrap_or_default(),
        pct(out
            .baseline
            .get("coverage")
            .and_then(serde_json::Value::as_f64)),
        out.baseline.get("measurement").cloned().unwrap_or_default(),
        pct(Some(out.target)),
        out.by,
        out.catalogue_version,
        if out.synthetic {
            " — datos SINTÉTICOS"
        } else {
            ""
        }
    );
    println!(
        "Unidades a proteger: {} ({} distritos){}",
        out.units_to_protect,
        out.districts,
        if out.unreachable_units > 0 {
            format!(
                "; {} más no alcanzan: la meta supera lo que se logra protegiendo a todos",
                out.unreachable_units
            )
        } else {
            String::new()
        }
    );
    let said = |k: &str| {
        out.parameters
            .get(k)
            .and_then(serde_json::Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    println!(
        "Unidades elegidas: {} · {} · {}",
        said("selection"),
        said("path"),
        said("pool")
    );
    println!(
        "Costo total: {} PYG (registro leído el {})",
        pyg(out.total_cost),
        vamos_app::clock::moment_es(&out.gaps_read_at)
    );
    for s in &out.by_service {
        println!(
            "  {:<48} {:<8} {:>9} × {:>12} = {:>18} PYG",
            s.name,
            s.institution,
            s.units,
            pyg(s.unit_cost),
            pyg(s.cost)
        );
    }
    for y in &out.by_year {
        println!(
            "  {}: {} unidades, {} PYG, cobertura {}",
            y.year,
            y.units,
            pyg(y.cost),
            pct(y.coverage)
        );
    }
    let v = |k: &str| {
        out.verification
            .get(k)
            .and_then(serde_json::Value::as_i64)
            .unwrap_or(0)
    };
    if v("units") > 0 {
        println!(
            "Aparte, verificar {} unidades sin dato (actualización de la FIPS): {} PYG{}",
            v("units"),
            pyg(v("cost")),
            if v("unit_cost") == 0 {
                " (indique --verification-cost)"
            } else {
                ""
            }
        );
    }
}
