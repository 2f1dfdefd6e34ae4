//! Protection status commands: `catalogue check`, `classify`, `measurements list|publish`,
//! `logros`, `explain` — glue between the store (registry, measurements, audit), the catalogue
//! and the engine.

use crate::Format;
use anyhow::{anyhow, bail, Context, Result};
use clap::{Args, Subcommand};
use serde_json::json;
use std::path::PathBuf;
use std::process::ExitCode;
use vamos_catalogue::Catalogue;
use vamos_domain::services::{Category, Package};
use vamos_domain::{DistrictCode, Territory, TerritoryCode};
use vamos_engine::Status;
use vamos_store::UnitKind;

/// Loads the catalogue of `dir`, or the embedded default.
pub fn load_catalogue(dir: Option<&PathBuf>) -> Result<Catalogue> {
    vamos_app::measurements::load_catalogue(dir.map(PathBuf::as_path))
}

pub fn catalogue_check(dir: Option<&PathBuf>) -> Result<ExitCode> {
    let c = match load_catalogue(dir) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return Ok(ExitCode::from(1));
        }
    };
    println!("{} — versión {} ({})", c.name, c.label, c.version);
    if c.illustrative {
        println!("ILUSTRATIVO: no es la composición oficial de los paquetes; la Mesa Técnica de Servicios puede reemplazarlo.");
    }
    println!(
        "{} instituciones, {} servicios",
        c.institutions.len(),
        c.services.len()
    );
    println!(
        "{:<4} {:<28} {:>7} {:>9} {:>12}",
        "Logro", "categoría", "núcleo", "ampliado", "diferencial"
    );
    for cat in Category::ALL {
        let n = |p| c.package(cat, p).count();
        println!(
            "{:<4} {:<28} {:>7} {:>9} {:>12}",
            cat.logro(),
            cat.label(),
            n(Package::Nucleo),
            n(Package::Ampliado),
            n(Package::Diferencial)
        );
    }
    // Canal Verde's criteria, protocols and barriers: the folder's own file (checked when the
    // folder loaded), or the illustrative ones.
    let cv = vamos_catalogue::canal_verde::of(&c);
    match cv {
        Ok(cv) => println!(
            "Canal Verde {} ({}){}: {} criterios, {} protocolos, {} barreras de acceso",
            cv.label,
            cv.version,
            if cv.illustrative { ", ILUSTRATIVO" } else { "" },
            cv.criteria.len(),
            cv.protocols.len(),
            cv.barriers.len()
        ),
        Err(errors) => {
            for e in errors {
                eprintln!("{e}");
            }
            return Ok(ExitCode::from(1));
        }
    }
    println!("{}", c.version);
    Ok(ExitCode::SUCCESS)
}

/// `vamos catalogue sql`: the measurement as one DuckDB query.
pub fn catalogue_sql(dir: Option<&PathBuf>, as_of: &str) -> Result<ExitCode> {
    let as_of = parse_day(as_of)?;
    let c = load_catalogue(dir)?;
    println!(
        "-- Clasificación y Logros al {as_of}, catálogo {} ({}), generada por vamos.",
        c.label, c.version
    );
    if c.poverty == vamos_catalogue::Poverty::Ipm {
        // The IPM's fifteen indicators are not written in SQL: `pobre` stays unknown there.
        eprintln!(
            "aviso: el catálogo decide la pobreza por el IPM, que esta consulta no calcula: \
             en ella «pobre» queda sin dato y sus cifras por pobreza no son las de Vamos"
        );
        println!("-- Aviso: la pobreza (IPM) queda sin dato en esta consulta.");
    }
    println!("{};", vamos_engine::sql::duckdb_query(&c, as_of));
    Ok(ExitCode::SUCCESS)
}

#[derive(Args)]
pub struct ClassifyArgs {
    /// Base de datos: sqlite:<archivo> o postgres://usuario@servidor/base
    #[arg(long, env = "VAMOS_DB", default_value = crate::DEFAULT_DB)]
    pub db: String,
    /// Fecha de referencia (AAAA-MM-DD): edades, vigencia de la evidencia. Obligatoria.
    #[arg(long)]
    pub as_of: String,
    /// Carpeta del catálogo (por defecto, el catálogo ilustrativo incluido).
    #[arg(long)]
    pub catalogue: Option<PathBuf>,
    /// PY (nación), DD (departamento) o DDdd (distrito).
    #[arg(long, default_value = "PY")]
    pub territory: String,
    /// Leer el registro como se lo conocía en ese momento (dd/mm/aaaa HH:MM, AAAA-MM-DD o
    /// RFC 3339, hora UTC): las versiones registradas después no cuentan. Por defecto, ahora.
    #[arg(long)]
    pub known_at: Option<String>,
    /// Formato de salida: texto (la última línea es el número de medición) o JSON.
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
}

fn parse_day(s: &str) -> Result<chrono::NaiveDate> {
    crate::commands::parse_date_arg(s).map_err(|e| anyhow!(e))
}

fn territory(s: &str) -> Result<TerritoryCode> {
    TerritoryCode::parse(s).map_err(|e| anyhow!("{e}"))
}

/// `vamos classify`: runs and stores a measurement; in text mode the last stdout line is its id.
pub fn classify(a: &ClassifyArgs) -> Result<ExitCode> {
    let id = run_classify(a)?;
    if a.format != Format::Json {
        println!("{id}");
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs and stores a measurement, reporting on stderr (text) or stdout (JSON); returns its id.
pub fn run_classify(a: &ClassifyArgs) -> Result<i64> {
    let as_of = parse_day(&a.as_of)?;
    let t = territory(&a.territory)?;
    let known_at = a
        .known_at
        .as_deref()
        .map(vamos_domain::versions::parse_known_at)
        .transpose()
        .map_err(|e| anyhow!(e))?;
    let catalogue = load_catalogue(a.catalogue.as_ref())?;
    let mut store = crate::admin::connect(&a.db)?;
    let readers = std::thread::available_parallelism().map_or(1, |n| n.get());
    let actor = crate::identity::actor(store.as_mut())?;
    let c = vamos_app::measurements::classify_as(
        store.as_mut(),
        &actor,
        &catalogue,
        as_of,
        known_at,
        t,
        readers,
        "medición del estatus de protección (línea de órdenes)",
    )?;
    let vamos_app::measurements::Classified {
        id,
        synthetic,
        districts,
        known_at: read_at,
        rolled,
        persons,
        households,
        communities,
        events,
        load,
        evaluate,
        aggregate,
        ipm,
        stored,
    } = c;
    if a.format == Format::Json {
        println!(
            "{}",
            json!({"measurement": id, "as_of": a.as_of, "known_at": read_at, "catalogue_version": catalogue.version, "territory": t.to_string(),
                   "synthetic": synthetic, "persons": persons, "households": households, "communities": communities,
                   "stages_ms": {"load": load.as_millis(), "evaluate": evaluate.as_millis(), "aggregate": aggregate.as_millis(), "ipm": ipm.as_millis(), "store": stored.as_millis()},
                   "levels": rolled.iter().map(|(l, logros)| json!({"territory": l.to_string(), "logros": logros.iter().map(|x| json!({"logro": x.logro, "identified": x.all.identified, "protected": x.all.protected, "without_data": x.all.without_data})).collect::<Vec<_>>()})).collect::<Vec<_>>()})
        );
    } else {
        eprintln!(
            "Medición {id}: {} al {as_of}, catálogo {} ({}){}",
            Territory::official().name_of(t),
            catalogue.label,
            catalogue.version,
            if synthetic {
                " — datos SINTÉTICOS"
            } else {
                ""
            }
        );
        if let Some(k) = read_at
            .as_deref()
            .and_then(|k| chrono::DateTime::parse_from_rfc3339(k).ok())
        {
            eprintln!(
                "  registro tal como se lo conocía el {} UTC",
                k.format("%d/%m/%Y %H:%M:%S")
            );
        }
        eprintln!(
            "  {persons} personas, {households} hogares, {communities} comunidades, {events} registros administrativos"
        );
        eprintln!(
            "  etapas: carga {:.2} s, clasificación {:.2} s, agregación {:.3} s, IPM {:.2} s, guardado {:.2} s",
            load.as_secs_f64(),
            evaluate.as_secs_f64(),
            aggregate.as_secs_f64(),
            ipm.as_secs_f64(),
            stored.as_secs_f64()
        );
        if let Some((_, nation)) = rolled.first() {
            let line: Vec<String> = nation
                .iter()
                .map(|x| format!("L{} {}/{}", x.logro, x.all.protected, x.all.identified))
                .collect();
            eprintln!(
                "  agregado: {} distritos, {} departamentos y la nación (protegidos/identificados: {})",
                districts,
                rolled.len() - 1,
                line.join(", ")
            );
        }
        eprintln!(
            "  vea los Logros con: vamos logros --db {} --measurement {id}\n  y la pobreza multidimensional con: vamos ipm --db {} --measurement {id}",
            a.db, a.db
        );
    }
    Ok(id)
}

#[derive(Args)]
pub struct LogrosArgs {
    /// Base de datos: sqlite:<archivo> o postgres://usuario@servidor/base
    #[arg(long, env = "VAMOS_DB", default_value = crate::DEFAULT_DB)]
    pub db: String,
    /// PY (nación, por defecto), DD (departamento) o DDdd (distrito).
    #[arg(long, default_value = "PY")]
    pub territory: String,
    /// Número de medición (por defecto, la última).
    #[arg(long)]
    pub measurement: Option<i64>,
    /// Formato de salida.
    #[arg(long, value_enum, default_value = "table")]
    pub format: LogrosFormat,
}

#[derive(Clone, Copy, clap::ValueEnum, PartialEq, Eq)]
pub enum LogrosFormat {
    /// Tabla de texto
    Table,
    /// JSON
    Json,
    /// CSV (una fila por Logro)
    Csv,
}

pub fn logros(a: &LogrosArgs) -> Result<ExitCode> {
    let t = territory(&a.territory)?;
    let mut store =
        vamos_store::open(&a.db).with_context(|| format!("no se pudo abrir {}", a.db))?;
    // As an account (`--as`), only within its territorial scope, like the API.
    let actor = crate::identity::actor(store.as_mut())?;
    let Some((m, table)) =
        vamos_app::measurements::logros_in_scope(store.as_mut(), &actor, a.measurement, t)?
    else {
        bail!(
            "no hay mediciones{}: ejecute «vamos classify --db {} --as-of AAAA-MM-DD»",
            a.measurement
                .map(|i| format!(" con el número {i}"))
                .unwrap_or_default(),
            a.db
        );
    };
    let out = vamos_app::measurements::logros_json(&m, t, &table);
    match a.format {
        LogrosFormat::Json => println!("{}", serde_json::to_string(&out)?),
        LogrosFormat::Csv => {
            // Through the neutralising writer, like every CSV (`vamos_domain::csv_safe`).
            let mut w = vamos_domain::csv_safe::CsvWriter::from_writer(std::io::stdout().lock());
            w.write_record([
                "medicion",
                "fecha_referencia",
                "territorio",
                "logro",
                "categoria",
                "identificados",
                "protegidos",
                "cobertura",
                "sin_dato",
                "sintetico",
            ])?;
            for l in &table {
                w.write_record([
                    m.id.to_string(),
                    m.as_of.clone(),
                    t.to_string(),
                    l.logro.to_string(),
                    l.category.to_string(),
                    l.all.identified.to_string(),
                    l.all.protected.to_string(),
                    l.all
                        .coverage()
                        .map(|c| format!("{c:.4}"))
                        .unwrap_or_default(),
                    l.all.without_data.to_string(),
                    if m.synthetic { "si" } else { "no" }.to_string(),
                ])?;
            }
            w.flush()?;
        }
        LogrosFormat::Table => {
            println!(
                "Logros — {} ({}) — medición {} al {}, catálogo {}{}",
                Territory::official().name_of(t),
                t,
                m.id,
                vamos_app::clock::date_es(&m.as_of),
                m.catalogue_label,
                if m.synthetic {
                    " — datos SINTÉTICOS"
                } else {
                    ""
                }
            );
            if let Some(at) = &m.counter_referrals_updated_at {
                println!(
                    "  actualizada con las contra-referencias recibidas hasta {at} (sin reclasificar)"
                );
            }
            println!(
                "{:>5} {:<28} {:>12} {:>11} {:>9} {:>9}",
                "Logro", "categoría", "identificados", "protegidos", "cobertura", "sin dato"
            );
            for l in &table {
                let label = Category::parse(&l.category)
                    .map(|c| c.label())
                    .unwrap_or("");
                let cov = l
                    .all
                    .coverage()
                    .map(|c| format!("{:.1} %", c * 100.0))
                    .unwrap_or_else(|| "—".into());
                println!(
                    "{:>5} {:<28} {:>12} {:>11} {:>9} {:>9}",
                    l.logro, label, l.all.identified, l.all.protected, cov, l.all.without_data
                );
            }
            println!("Protegidos = en protección concurrente: todos los servicios núcleo que les aplican, con evidencia vigente.");
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Args)]
pub struct ExplainArgs {
    /// Base de datos: sqlite:<archivo> o postgres://usuario@servidor/base
    #[arg(long, env = "VAMOS_DB", default_value = crate::DEFAULT_DB)]
    pub db: String,
    /// Persona por su número interno (el de la lista del registro).
    #[arg(long, group = "unit")]
    pub person_id: Option<i64>,
    /// Persona por su cédula (1234567 o 1.234.567).
    #[arg(long, group = "unit")]
    pub cedula: Option<String>,
    /// Hogar: número interno.
    #[arg(long, group = "unit")]
    pub household: Option<i64>,
    /// Comunidad: número interno.
    #[arg(long, group = "unit")]
    pub community: Option<i64>,
    /// Fecha de referencia (por defecto, la de la última medición).
    #[arg(long)]
    pub as_of: Option<String>,
    /// Carpeta del catálogo (por defecto, el ilustrativo incluido).
    #[arg(long)]
    pub catalogue: Option<PathBuf>,
    /// Motivo de la consulta (queda en el registro de auditoría).
    #[arg(long, default_value = "consulta de estatus de protección")]
    pub purpose: String,
    /// Formato de salida.
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
}

#[allow(clippy::indexing_slicing)] // reason: serde_json::Value["key"] yields Null when absent, it cannot panic
pub fn explain(a: &ExplainArgs) -> Result<ExitCode> {
    let cedula = crate::commands::cedula_arg(a.cedula.as_deref())?;
    let (kind, key) = match (a.person_id, cedula, a.household, a.community) {
        (Some(k), _, _, _) => (UnitKind::Person, k),
        (_, Some(c), _, _) => (UnitKind::Person, i64::from(c.get())),
        (_, _, Some(k), _) => (UnitKind::Household, k),
        (_, _, _, Some(k)) => (UnitKind::Community, k),
        _ => bail!("indique --person-id, --cedula, --household o --community"),
    };
    let mut store = crate::admin::connect(&a.db)?;
    // By default, the latest measurement's date, counting the counter-referrals its figures
    // count (so the explanation agrees with `vamos logros`).
    let (as_of, until) = match &a.as_of {
        Some(s) => {
            let d = parse_day(s)?;
            (d, d)
        }
        None => match store.measurement(None)? {
            Some((m, _)) => (
                parse_day(&m.as_of)?,
                vamos_app::measurements::figures_until(&m)?,
            ),
            None => bail!("indique --as-of AAAA-MM-DD (todavía no hay mediciones)"),
        },
    };
    let catalogue = load_catalogue(a.catalogue.as_ref())?;
    let kind_es = vamos_app::measurements::kind_es(kind);
    let who = crate::identity::actor(store.as_mut())?;
    let located = match cedula {
        Some(c) => vamos_app::registry::locate_cedula_recorded(
            store.as_mut(),
            &who,
            c,
            "explicar estatus",
            &a.purpose,
        )?,
        None => vamos_app::registry::locate_recorded(
            store.as_mut(),
            &who,
            kind,
            key,
            "explicar estatus",
            &a.purpose,
        )?,
    };
    let Some((id, district)) = located else {
        bail!("no se encontró la {kind_es} {key}")
    };
    let district = DistrictCode::from_number(district).map_err(|e| anyhow!("{e}"))?;
    let mut result = vamos_app::measurements::explain(
        store.as_mut(),
        &catalogue,
        kind,
        id,
        district,
        as_of,
        until,
    )?;
    let fields = vamos_app::registry::visible_fields(store.as_mut(), &who)?;
    vamos_app::registry::redact_explanation(&mut result, &catalogue, &fields);
    let out = result["categories"].as_array().cloned().unwrap_or_default();
    if a.format == Format::Json {
        println!("{}", serde_json::to_string(&result)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "Estatus de protección de la {kind_es} {id} al {as_of} (catálogo {})",
        catalogue.version
    );
    for c in &out {
        let cat = c["category"].as_str().and_then(Category::parse);
        println!(
            "\nCategoría {} (Logro {}): {}",
            cat.map(|c| c.label()).unwrap_or(""),
            c["logro"],
            if c["concurrent"].as_bool() == Some(true) {
                "EN PROTECCIÓN CONCURRENTE"
            } else {
                "sin protección concurrente"
            }
        );
        for s in c["services"].as_array().into_iter().flatten() {
            let status: Status =
                serde_json::from_value(s["status"].clone()).unwrap_or(Status::SinDato);
            println!(
                "  [{:<12}] {} ({}, {}) — {}{}",
                vamos_app::measurements::status_es(status),
                s["name"].as_str().unwrap_or(""),
                s["institution"].as_str().unwrap_or(""),
                vamos_domain::services::package_label(s["package"].as_str().unwrap_or("")),
                s["evidence"]["detail"].as_str().unwrap_or(""),
                s["evidence"]["date"]
                    .as_str()
                    .map(|d| format!(" [{}, {d}]", s["evidence"]["source"].as_str().unwrap_or("")))
                    .unwrap_or_default()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Subcommand)]
pub enum MeasurementsCommand {
    /// Lista las mediciones guardadas (la última primero), con quién y cuándo publicó cada una.
    List {
        /// Base de datos: sqlite:<archivo> o postgres://usuario@servidor/base
        #[arg(long, env = "VAMOS_DB", default_value = crate::DEFAULT_DB)]
        db: String,
        /// Formato de salida.
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
    },
    /// Publica una medición: sus cifras de este momento pasan a ser las cifras públicas (API
    /// pública y tablero sin cuenta) hasta la próxima publicación. Requiere el permiso
    /// mediciones:publicar (analista o administrador, con --as) y queda en la auditoría.
    Publish {
        /// Número de la medición (vamos measurements list).
        id: i64,
        /// Base de datos: sqlite:<archivo> o postgres://usuario@servidor/base
        #[arg(long, env = "VAMOS_DB", default_value = crate::DEFAULT_DB)]
        db: String,
        /// Formato de salida.
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
}

pub fn measurements(c: &MeasurementsCommand) -> Result<ExitCode> {
    match c {
        MeasurementsCommand::List { db, format } => {
            let mut store = crate::admin::connect(db)?;
            let actor = crate::identity::actor(store.as_mut())?;
            let rows = vamos_app::measurements::list(store.as_mut(), &actor)?;
            if *format == Format::Json {
                println!("{}", serde_json::to_string(&rows)?);
                return Ok(ExitCode::SUCCESS);
            }
            println!(
                "{:>8} {:<10} {:<8} {:<10} publicada",
                "medición", "fecha", "ámbito", "datos"
            );
            for r in &rows {
                let text = |k: &str| r[k].as_str().unwrap_or("").to_string();
                let published = match r["published_at"].as_str() {
                    Some(at) => format!("{at} por {}", text("published_by")),
                    None => "no".to_string(),
                };
                // The moment of the registry it read, as users read dates (UTC).
                let known = r["known_at"]
                    .as_str()
                    .and_then(|k| chrono::DateTime::parse_from_rfc3339(k).ok())
                    .map(|k| format!(" (registro al {} UTC)", k.format("%d/%m/%Y %H:%M")))
                    .unwrap_or_default();
                println!(
                    "{:>8} {:<10} {:<8} {:<10} {published}{known}",
                    r["id"],
                    text("as_of"),
                    text("territory"),
                    if r["synthetic"] == true {
                        "sintético"
                    } else {
                        ""
                    },
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        MeasurementsCommand::Publish { id, db, format } => {
            let mut store = crate::admin::connect(db)?;
            let actor = crate::identity::actor(store.as_mut())?;
            let p = vamos_app::measurements::publish(store.as_mut(), &actor, *id)?;
            if *format == Format::Json {
                println!(
                    "{}",
                    json!({"measurement": p.measurement_id, "published_at": p.published_at, "published_by": p.published_by})
                );
            } else {
                println!(
                    "Medición {} publicada el {} por {}: sus cifras de este momento son ahora las cifras públicas.",
                    p.measurement_id, p.published_at, p.published_by
                );
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
