//! Protection status commands: `catalogue check`, `classify`, `logros`, `explain` — glue between
//! the store (registry, measurements, audit), the catalogue and the engine.

use crate::Format;
use anyhow::{anyhow, bail, Context, Result};
use clap::Args;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;
use vamos_catalogue::{Catalogue, EvidenceSource, Vocabulary};
use vamos_domain::services::{Category, Package};
use vamos_domain::{DistrictCode, Territory, TerritoryCode};
use vamos_engine::logros::{roll_up, DistrictLogros, LogroCounts};
use vamos_engine::{Because, Classifier, RegistryData, Status, Unit};
use vamos_ingest::forms::{form, FormId};
use vamos_store::{AuditEntry, MeasurementMeta, UnitKind};

/// The choice codes of the shipped forms, for compiling rules.
pub struct FormVocabulary;

impl Vocabulary for FormVocabulary {
    fn choices(&self, list: &str) -> Option<&'static [&'static str]> {
        [FormId::Fips, FormId::Comunidad]
            .into_iter()
            .map(|f| form(f).choice_list(list))
            .find(|l| !l.is_empty())
    }
}

/// Loads the catalogue of `dir`, or the embedded default.
pub fn load_catalogue(dir: Option<&PathBuf>) -> Result<Catalogue> {
    let r = match dir {
        Some(d) => vamos_catalogue::load_dir(d, &FormVocabulary),
        None => vamos_catalogue::default_catalogue(&FormVocabulary),
    };
    r.map_err(|errors| {
        let list: Vec<String> = errors.iter().map(|e| format!("  {e}")).collect();
        anyhow!(
            "catálogo inválido ({} errores):\n{}",
            errors.len(),
            list.join("\n")
        )
    })
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
    let catalogue = load_catalogue(a.catalogue.as_ref())?;
    let mut store =
        vamos_store::open(&a.db).with_context(|| format!("no se pudo abrir {}", a.db))?;
    let t0 = Instant::now();
    let mut data = RegistryData::new(&FormVocabulary);
    let readers = std::thread::available_parallelism().map_or(1, |n| n.get());
    vamos_store::load_registry_parallel(store.as_mut(), t, &mut data, readers)?;
    data.finish();
    let load = t0.elapsed();
    let t1 = Instant::now();
    let cls = Classifier::new(&catalogue, &data, as_of);
    let districts = vamos_engine::logros::measure(&cls, &data);
    let evaluate = t1.elapsed();
    // Aggregate: every department and the nation from their districts (what `logros` reads).
    let t_agg = Instant::now();
    let levels: Vec<TerritoryCode> = std::iter::once(TerritoryCode::Nation)
        .chain(
            Territory::official()
                .departments()
                .iter()
                .map(|d| TerritoryCode::Department(d.code)),
        )
        .collect();
    let rolled: Vec<(TerritoryCode, Vec<LogroCounts>)> = levels
        .iter()
        .map(|&l| (l, roll_up(&districts, l)))
        .collect();
    let aggregate = t_agg.elapsed();
    let t2 = Instant::now();
    let synthetic = store.has_synthetic_data()?;
    let rows: Vec<(u16, String)> = districts
        .iter()
        .map(|d| Ok((d.district.get(), serde_json::to_string(&d.logros)?)))
        .collect::<Result<_>>()?;
    let imports: Vec<serde_json::Value> = store
        .imports(u32::MAX)?
        .into_iter()
        .filter(|i| i.status == "completada")
        .map(|i| json!({"import": i.id, "kind": i.kind, "source": i.source, "synthetic": i.synthetic, "finished_at": i.finished_at}))
        .collect();
    let stages = json!({"load": load.as_millis(), "evaluate": evaluate.as_millis(), "aggregate": aggregate.as_millis()});
    let details = json!({
        "sources": data.sources(),
        "imports": imports,
        "registry": {"persons": data.persons(), "households": data.households(), "communities": data.communities(), "admin_events": data.events.len()},
        "stages_ms": stages,
        "orphans": data.orphans,
    });
    let meta = MeasurementMeta {
        as_of,
        catalogue_version: catalogue.version.clone(),
        catalogue_label: catalogue.label.clone(),
        territory: t.to_string(),
        synthetic,
        created_at: crate::commands::now_rfc3339(),
        details: details.to_string(),
    };
    let id = store.save_measurement(&meta, &rows)?;
    let stored = t2.elapsed();
    if a.format == Format::Json {
        println!(
            "{}",
            json!({"measurement": id, "as_of": a.as_of, "catalogue_version": catalogue.version, "territory": t.to_string(),
                   "synthetic": synthetic, "persons": data.persons(), "households": data.households(), "communities": data.communities(),
                   "stages_ms": {"load": load.as_millis(), "evaluate": evaluate.as_millis(), "aggregate": aggregate.as_millis(), "store": stored.as_millis()},
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
        eprintln!(
            "  {} personas, {} hogares, {} comunidades, {} registros administrativos",
            data.persons(),
            data.households(),
            data.communities(),
            data.events.len()
        );
        eprintln!(
            "  etapas: carga {:.2} s, clasificación {:.2} s, agregación {:.3} s, guardado {:.2} s",
            load.as_secs_f64(),
            evaluate.as_secs_f64(),
            aggregate.as_secs_f64(),
            stored.as_secs_f64()
        );
        if let Some((_, nation)) = rolled.first() {
            let line: Vec<String> = nation
                .iter()
                .map(|x| format!("L{} {}/{}", x.logro, x.all.protected, x.all.identified))
                .collect();
            eprintln!(
                "  agregado: {} distritos, {} departamentos y la nación (protegidos/identificados: {})",
                districts.len(),
                rolled.len() - 1,
                line.join(", ")
            );
        }
        eprintln!(
            "  vea los Logros con: vamos logros --db {} --measurement {id}",
            a.db
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

fn coverage(protected: u64, identified: u64) -> Value {
    if identified == 0 {
        Value::Null
    } else {
        json!((protected as f64 / identified as f64 * 10000.0).round() / 10000.0)
    }
}

fn logro_json(l: &LogroCounts) -> Value {
    let cat = Category::parse(&l.category);
    json!({
        "logro": l.logro,
        "category": l.category,
        "label": cat.map(|c| c.label()),
        "identified": l.all.identified,
        "protected": l.all.protected,
        "coverage": coverage(l.all.protected, l.all.identified),
        "without_data": l.all.without_data,
        "breakdowns": l.breakdowns.iter().map(|(k, c)| (k.clone(), json!({"identified": c.identified, "protected": c.protected, "coverage": coverage(c.protected, c.identified), "without_data": c.without_data}))).collect::<serde_json::Map<_, _>>(),
        "services": l.services.iter().map(|s| json!({"service": s.service, "applicable": s.applicable, "protected": s.protected, "unprotected": s.unprotected, "without_data": s.without_data, "coverage": coverage(s.protected, s.applicable)})).collect::<Vec<_>>(),
    })
}

pub fn logros(a: &LogrosArgs) -> Result<ExitCode> {
    let t = territory(&a.territory)?;
    let mut store =
        vamos_store::open(&a.db).with_context(|| format!("no se pudo abrir {}", a.db))?;
    let Some((m, rows)) = store.measurement(a.measurement)? else {
        bail!(
            "no hay mediciones{}: ejecute «vamos classify --db {} --as-of AAAA-MM-DD»",
            a.measurement
                .map(|i| format!(" con el número {i}"))
                .unwrap_or_default(),
            a.db
        );
    };
    let districts: Vec<DistrictLogros> = rows
        .iter()
        .filter_map(|(d, j)| {
            Some(DistrictLogros {
                district: DistrictCode::from_number(*d).ok()?,
                logros: serde_json::from_str(j).ok()?,
            })
        })
        .collect();
    let table = roll_up(&districts, t);
    let out = json!({
        "measurement": {"id": m.id, "as_of": m.as_of, "catalogue_version": m.catalogue_version, "catalogue_label": m.catalogue_label, "synthetic": m.synthetic},
        "territory": {"code": t.to_string(), "name": Territory::official().name_of(t), "level": t.level()},
        "logros": table.iter().map(logro_json).collect::<Vec<_>>(),
    });
    match a.format {
        LogrosFormat::Json => println!("{}", serde_json::to_string(&out)?),
        LogrosFormat::Csv => {
            println!("medicion,fecha_referencia,territorio,logro,categoria,identificados,protegidos,cobertura,sin_dato,sintetico");
            for l in &table {
                println!(
                    "{},{},{},{},{},{},{},{},{},{}",
                    m.id,
                    m.as_of,
                    t,
                    l.logro,
                    l.category,
                    l.all.identified,
                    l.all.protected,
                    l.all
                        .coverage()
                        .map(|c| format!("{c:.4}"))
                        .unwrap_or_default(),
                    l.all.without_data,
                    if m.synthetic { "si" } else { "no" }
                );
            }
        }
        LogrosFormat::Table => {
            println!(
                "Logros — {} ({}) — medición {} al {}, catálogo {}{}",
                Territory::official().name_of(t),
                t,
                m.id,
                m.as_of,
                m.catalogue_label,
                if m.synthetic {
                    " — datos SINTÉTICOS"
                } else {
                    ""
                }
            );
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
    /// Persona: número interno o cédula.
    #[arg(long, group = "unit")]
    pub person: Option<i64>,
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

fn status_es(s: Status) -> &'static str {
    match s {
        Status::Protegido => "protegido",
        Status::Desprotegido => "desprotegido",
        Status::NoAplica => "no aplica",
        Status::SinDato => "sin dato",
    }
}

#[allow(clippy::indexing_slicing)] // reason: serde_json::Value["key"] yields Null when absent, it cannot panic
pub fn explain(a: &ExplainArgs) -> Result<ExitCode> {
    let (kind, key) = match (a.person, a.household, a.community) {
        (Some(k), _, _) => (UnitKind::Person, k),
        (_, Some(k), _) => (UnitKind::Household, k),
        (_, _, Some(k)) => (UnitKind::Community, k),
        _ => bail!("indique --person, --household o --community"),
    };
    let mut store =
        vamos_store::open(&a.db).with_context(|| format!("no se pudo abrir {}", a.db))?;
    let as_of = match &a.as_of {
        Some(s) => parse_day(s)?,
        None => match store.measurement(None)? {
            Some((m, _)) => parse_day(&m.as_of)?,
            None => bail!("indique --as-of AAAA-MM-DD (todavía no hay mediciones)"),
        },
    };
    let catalogue = load_catalogue(a.catalogue.as_ref())?;
    let kind_es = match kind {
        UnitKind::Person => "persona",
        UnitKind::Household => "hogar",
        UnitKind::Community => "comunidad",
    };
    let actor = std::env::var("USER").unwrap_or_else(|_| "desconocido".into());
    let located = store.locate(kind, key)?;
    store.audit(&AuditEntry {
        at: crate::commands::now_rfc3339(),
        actor,
        action: "explicar estatus".into(),
        subject_kind: kind_es.into(),
        subject_id: located
            .map(|(id, _)| id.to_string())
            .unwrap_or_else(|| format!("no encontrado ({key})")),
        purpose: a.purpose.clone(),
        outcome: if located.is_some() {
            "ok".into()
        } else {
            "no encontrado".into()
        },
    })?;
    let Some((id, district)) = located else {
        bail!("no se encontró la {kind_es} {key}")
    };
    let district = DistrictCode::from_number(district).map_err(|e| anyhow!("{e}"))?;
    let mut data = RegistryData::new(&FormVocabulary);
    store.load_registry(TerritoryCode::District(district), &mut data)?;
    data.finish();
    let cls = Classifier::new(&catalogue, &data, as_of);
    let (unit, categories) = match kind {
        UnitKind::Person => {
            let p = data
                .person_by_id(id)
                .ok_or_else(|| anyhow!("persona {id} fuera del registro cargado"))?;
            let mut cats = Vec::new();
            cls.person_categories(&data, p, &mut cats);
            (Unit::Person(p), cats)
        }
        UnitKind::Household => (
            Unit::Household(
                data.household_by_id(id)
                    .ok_or_else(|| anyhow!("hogar {id} no encontrado"))?,
            ),
            vec![Category::Hogares],
        ),
        UnitKind::Community => (
            Unit::Community(
                data.community_by_id(id)
                    .ok_or_else(|| anyhow!("comunidad {id} no encontrada"))?,
            ),
            vec![Category::Entorno],
        ),
    };
    let mut out = Vec::new();
    for c in &categories {
        let mut dec = Vec::new();
        cls.classify(&data, unit, *c, &mut dec);
        let concurrent = cls.concurrent(&dec);
        let services: Vec<Value> = dec
            .iter()
            .filter_map(|d| {
                let s = catalogue.services.get(d.service)?;
                let evidence = match d.because {
                    Because::Rule { rule, day } => {
                        let r = s.evidence.get(rule)?;
                        let source = match &r.source {
                            EvidenceSource::Admin { institution, .. } => format!("registro administrativo ({institution})"),
                            EvidenceSource::CounterReferral { institution, .. } => format!("contra-referencia ({institution})"),
                            // A community's answers come from the Entorno survey.
                            EvidenceSource::Fips { .. } if matches!(unit, Unit::Community(_)) => "relevamiento del Entorno".to_string(),
                            EvidenceSource::Fips { .. } => "FIPS".to_string(),
                        };
                        let date = chrono::NaiveDate::default() + chrono::Days::new(day.max(0) as u64);
                        let rule_text = match &r.source {
                            EvidenceSource::Fips { rule } => format!(" (regla: {})", rule.source()),
                            _ => String::new(),
                        };
                        json!({"source": source, "date": date.to_string(), "detail": format!("{}{rule_text}", r.description)})
                    }
                    Because::NotEligible => json!({"source": "catálogo", "date": null, "detail": format!("no cumple la condición de elegibilidad: {}", s.eligibility.as_ref().map(|e| e.source()).unwrap_or(""))}),
                    Because::EligibilityUnknown => json!({"source": "catálogo", "date": null, "detail": "faltan datos para saber si el servicio le corresponde"}),
                    Because::NoEvidence => json!({"source": null, "date": null, "detail": "ninguna fuente de evidencia vigente (registros, contra-referencias o FIPS) permite decidir"}),
                };
                Some(json!({"service": s.code, "name": s.name, "institution": s.institution, "package": s.package.code(), "status": d.status, "evidence": evidence}))
            })
            .collect();
        out.push(json!({"category": c.code(), "logro": c.logro(), "concurrent": concurrent, "services": services}));
    }
    let first = out
        .first()
        .cloned()
        .unwrap_or(json!({"category": null, "concurrent": false, "services": []}));
    let result = json!({
        "unit": {"kind": kind_es, "id": id, "district": district.to_string()},
        "as_of": as_of.to_string(),
        "catalogue_version": catalogue.version,
        "category": first["category"],
        "concurrent": first["concurrent"],
        "services": first["services"],
        "categories": out,
    });
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
                status_es(status),
                s["name"].as_str().unwrap_or(""),
                s["institution"].as_str().unwrap_or(""),
                s["package"].as_str().unwrap_or(""),
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
