//! `vamos report`: the quarterly follow-up report of a territory as PDF — `vamos_app::reports`,
//! shared with `/api/reports` and the web's `/gobernanza/informes`. Without `--publish` it draws
//! a draft (nothing saved); with `--publish --analysis FILE` it saves a new version with the
//! analyst's text and publishes it.

use anyhow::Result;
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args)]
pub struct ReportArgs {
    #[arg(long, env = "VAMOS_DB", default_value = crate::DEFAULT_DB)]
    pub db: String,
    /// PY (nación), DD (departamento) o DDdd (distrito).
    #[arg(long, default_value = "PY")]
    pub territory: String,
    /// El trimestre: AAAA-Tn (también AAAA-Qn), p. ej. 2026-T3.
    #[arg(long, required_unless_present = "calendar")]
    pub period: Option<String>,
    /// El calendario de monitoreo del año (cortes, mediciones publicadas e informes por
    /// trimestre) en lugar del informe.
    #[arg(long)]
    pub calendar: Option<i32>,
    /// Declara la fecha de corte del trimestre (dd/mm/aaaa) en lugar de dibujar el informe.
    #[arg(long)]
    pub cut_off: Option<String>,
    /// El PDF a escribir.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// El análisis del analista (texto plano, hasta 20 000 caracteres).
    #[arg(long)]
    pub analysis: Option<PathBuf>,
    /// Guardar una nueva versión con el análisis y publicarla.
    #[arg(long)]
    pub publish: bool,
    /// Escribir los datos del informe en JSON (las mismas cifras que la API) en lugar del PDF.
    #[arg(long)]
    pub json: bool,
    #[arg(long)]
    pub catalogue: Option<PathBuf>,
    /// Celda mínima de las cifras públicas.
    #[arg(long, default_value_t = vamos_app::suppression::DEFAULT_MIN_CELL)]
    pub min_cell: u64,
}

pub fn report(a: &ReportArgs) -> Result<ExitCode> {
    let mut store = crate::admin::open(&a.db)?;
    let who = crate::identity::actor(store.as_mut())?;
    if let Some(year) = a.calendar {
        let t = vamos_app::registry::parse_territory(Some(&a.territory))?;
        for q in vamos_app::reports::calendar(store.as_mut(), &who, t, year)? {
            println!(
                "  {}  corte {}{}  {}  {} versiones ({} publicadas)  {}",
                q.period,
                q.cut_off,
                if q.declared { " (declarado)" } else { "" },
                q.measurement
                    .map_or("sin medición publicada".to_string(), |(id, d)| format!(
                        "medición {id} al {d}"
                    )),
                q.versions,
                q.published,
                q.state
            );
        }
        return Ok(ExitCode::SUCCESS);
    }
    let period = a.period.clone().unwrap_or_default();
    if let Some(cut) = &a.cut_off {
        vamos_app::reports::declare_cut_off(store.as_mut(), &who, &a.territory, &period, cut)?;
        println!("Corte del {period} declarado: {cut}");
        return Ok(ExitCode::SUCCESS);
    }
    let catalogue = crate::measure::load_catalogue(a.catalogue.as_ref())?;
    let analysis = match &a.analysis {
        Some(f) => {
            anyhow::ensure!(
                std::fs::metadata(f)?.len() <= 256 * 1024,
                "el análisis supera 256 KiB"
            );
            std::fs::read_to_string(f)?
        }
        None => String::new(),
    };
    if a.json {
        let t = vamos_app::registry::parse_territory(Some(&a.territory))?;
        let p = vamos_app::reports::Period::parse(&period)?;
        let d = vamos_app::reports::data(store.as_mut(), &who, &catalogue, t, p, a.min_cell)?;
        println!("{d}");
        return Ok(ExitCode::SUCCESS);
    }
    let Some(out) = &a.out else {
        anyhow::bail!("indique --out informe.pdf (o --json para ver los datos)");
    };
    let started = std::time::Instant::now();
    let pdf = if a.publish {
        let r = vamos_app::reports::save(store.as_mut(), &who, &a.territory, &period, &analysis)?;
        let r = vamos_app::reports::publish(store.as_mut(), &who, &catalogue, r.id, a.min_cell)?;
        println!(
            "Informe {} (versión {}) publicado; SHA-256 {}",
            r.id,
            r.version,
            r.digest.as_deref().unwrap_or("")
        );
        vamos_app::reports::pdf(store.as_mut(), &who, &catalogue, r.id, a.min_cell)?
    } else {
        vamos_app::reports::draft_pdf(
            store.as_mut(),
            &who,
            &catalogue,
            &a.territory,
            &period,
            a.min_cell,
            &analysis,
        )?
    };
    std::fs::write(out, &pdf)?;
    println!(
        "Informe de seguimiento escrito en {} ({} KB, {:.1} s)",
        out.display(),
        pdf.len() / 1024,
        started.elapsed().as_secs_f64()
    );
    Ok(ExitCode::SUCCESS)
}

#[derive(Args)]
pub struct MicrodataArgs {
    #[arg(long, env = "VAMOS_DB", default_value = crate::DEFAULT_DB)]
    pub db: String,
    /// Número de la medición cuyo registro se extrae.
    #[arg(long)]
    pub measurement: i64,
    /// Frecuencia mínima de cada combinación de cuasi-identificadores.
    #[arg(long, default_value_t = 5)]
    pub k: u64,
    /// Carpeta donde escribir microdatos.csv y riesgo.json.
    #[arg(long)]
    pub out: PathBuf,
    /// Destinatario y acuerdo de uso de datos (p. ej. «Equipo evaluador X, acuerdo 12/2026»).
    #[arg(long, default_value = "sin destinatario declarado (línea de órdenes)")]
    pub recipient: String,
    #[arg(long)]
    pub catalogue: Option<PathBuf>,
}

pub fn microdata(a: &MicrodataArgs) -> Result<ExitCode> {
    let mut store = crate::admin::open(&a.db)?;
    let who = crate::identity::actor(store.as_mut())?;
    let catalogue = crate::measure::load_catalogue(a.catalogue.as_ref())?;
    let r = vamos_app::microdata::extract(
        store.as_mut(),
        &who,
        &catalogue,
        a.measurement,
        a.k,
        &a.recipient,
        &a.out,
    )?;
    let get = |k: &str| r.risk.get(k).cloned().unwrap_or_default();
    println!(
        "Entrega {}: {} registros en {}; k pedido {}, logrado {}; {} registros con valores suprimidos ({:.2} %), {} generalizados; re-identificaciones esperadas Σ1/f: {:.1} (antes {:.1}). Riesgo en {} ({:.1} s)",
        r.id,
        get("registros"),
        r.csv.display(),
        get("k"),
        get("k_logrado"),
        get("registros_con_supresion"),
        get("proporcion_de_registros_con_supresion").as_f64().unwrap_or(0.0) * 100.0,
        get("registros_generalizados"),
        get("reidentificaciones_esperadas").as_f64().unwrap_or(0.0),
        get("reidentificaciones_esperadas_antes").as_f64().unwrap_or(0.0),
        r.risk_file.display(),
        r.seconds
    );
    Ok(ExitCode::SUCCESS)
}
