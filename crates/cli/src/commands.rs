//! The subcommands: argument structs and the glue that runs each one.

use crate::output::{self, Bar};
use crate::Format;
use anyhow::{bail, Context, Result};
use clap::Args;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use vamos_domain::territory::PILOT_DISTRICTS;
use vamos_domain::{DistrictCode, ImportKind, Territory, TerritoryCode};
use vamos_ingest::ImportSummary;

pub use vamos_app::clock::{now_rfc3339, today};

pub fn parse_date_arg(s: &str) -> Result<chrono::NaiveDate, String> {
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map_err(|_| format!("fecha inválida «{s}»: use AAAA-MM-DD"))
}

#[derive(Args)]
pub struct SynthArgs {
    /// Distritos (códigos DDdd separados por comas) o «all» para todo el país.
    #[arg(long, default_value = "1116,1602,0218,0607")]
    pub districts: String,
    /// Total de hogares a generar (repartidos según la población del CNPV 2022).
    #[arg(long, default_value_t = 2000)]
    pub households: u64,
    /// Semilla: la misma semilla produce exactamente los mismos archivos.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Carpeta de salida.
    #[arg(long, default_value = "sintetico")]
    pub out: PathBuf,
    /// Fecha de referencia (AAAA-MM-DD): las entrevistas caen en los 90 días previos. Por defecto, hoy.
    #[arg(long, value_parser = parse_date_arg)]
    pub reference_date: Option<chrono::NaiveDate>,
    /// No escribir los registros administrativos (carpeta admin/).
    #[arg(long)]
    pub no_admin: bool,
    /// Reentrevista: lee una salida anterior de vamos synth (carpeta) y escribe los mismos
    /// hogares entrevistados de nuevo seis meses después (claves nuevas, fechas +182 días;
    /// alrededor de un hogar de cada diez con mudanza, nacimiento, un miembro menos o respuestas
    /// distintas). Usa --seed y --out; ignora --districts, --households y --reference-date.
    #[arg(long, value_name = "CARPETA")]
    pub reinterview_of: Option<PathBuf>,
}

#[derive(Args)]
pub struct ImportArgs {
    /// Base de datos: sqlite:<archivo> o postgres://usuario@servidor/base
    #[arg(long, env = "VAMOS_DB", default_value = crate::DEFAULT_DB)]
    pub db: String,
    /// Archivos o carpeta a importar (CSV, ZIP de ODK Central, XLSX).
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Institución u operador que envía los datos (UTGS, MEC, MSPBS, IPS…).
    #[arg(long)]
    pub source: Option<String>,
    /// Informe de rechazos (CSV). Por defecto vamos-rechazos-<tipo>-<fecha>.csv si hubo rechazos.
    #[arg(long)]
    pub rejects: Option<PathBuf>,
    /// FIPS: informe de lo que cambió en los hogares reentrevistados (CSV: hogar, persona,
    /// campo, antes, después). Por defecto vamos-cambios-<tipo>-<fecha>.csv si algo cambió.
    #[arg(long)]
    pub changes: Option<PathBuf>,
    /// Registros administrativos: lista de registros cuya cédula no coincide con nadie (CSV).
    #[arg(long)]
    pub unmatched: Option<PathBuf>,
    /// Registros administrativos: configuración del modelo de enlace para los registros sin
    /// coincidencia de cédula (por defecto, la incluida: admin_registro.toml; docs/linkage.md).
    #[arg(long)]
    pub linkage_settings: Option<PathBuf>,
    /// No guardar nada si alguna fila es rechazada (sale con código 1).
    #[arg(long)]
    pub strict: bool,
    /// Marca los datos como SINTÉTICOS (se detecta solo si hay un manifest.json de vamos synth).
    #[arg(long)]
    pub synthetic: bool,
    /// Fecha de la importación (AAAA-MM-DD) para detectar fechas futuras. Por defecto, hoy.
    #[arg(long, value_parser = parse_date_arg)]
    pub date: Option<chrono::NaiveDate>,
    /// Formato de salida (json: la última línea es el resumen).
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
}

#[derive(Args)]
pub struct DemoArgs {
    /// Base de datos de la demostración.
    #[arg(long, env = "VAMOS_DB", default_value = "sqlite:vamos-demo.sqlite")]
    pub db: String,
    /// Hogares sintéticos para los cuatro distritos piloto.
    #[arg(long, default_value_t = 8000)]
    pub households: u64,
    /// Semilla de la población sintética.
    #[arg(long, default_value_t = 2026)]
    pub seed: u64,
    /// Carpeta donde se escriben los archivos sintéticos.
    #[arg(long, default_value = "vamos-demo-datos")]
    pub out: PathBuf,
    /// Dirección donde servir la aplicación web al terminar (puerto 0 = uno libre).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub addr: String,
    /// Terminar sin servir la aplicación web.
    #[arg(long)]
    pub no_serve: bool,
}

pub fn db_init(url: &str, admin: &str) -> Result<ExitCode> {
    let new_database = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .is_some_and(|p| !Path::new(p).exists());
    let mut store = vamos_store::open(url).with_context(|| format!("no se pudo abrir {url}"))?;
    let applied = store.migrate()?;
    let t = Territory::official();
    if applied.is_empty() {
        println!(
            "Base de datos al día ({url}). Territorio: {} departamentos, {} distritos.",
            t.departments().len(),
            t.districts().len()
        );
    } else {
        println!(
            "Base de datos inicializada ({url}): migraciones aplicadas {}. Territorio: {} departamentos, {} distritos.",
            applied.join(", "),
            t.departments().len(),
            t.districts().len()
        );
    }
    crate::admin::prepare_audit(store.as_mut(), url, new_database)?;
    crate::admin::first_admin(store.as_mut(), admin)?;
    let (bodies, minute) = vamos_app::governance::seed(store.as_mut())?;
    if bodies > 0 || minute {
        println!(
            "Gobernanza: {bodies} instancias del Modelo de Gestión{} (data/governance).",
            if minute {
                " y la minuta de ejemplo del 31/01/2023"
            } else {
                ""
            }
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn parse_districts(s: &str) -> Result<Vec<DistrictCode>> {
    if s.trim().eq_ignore_ascii_case("all") || s.trim().eq_ignore_ascii_case("todos") {
        return Ok(vamos_synth::all_districts());
    }
    let mut out = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        out.push(DistrictCode::try_from(part).map_err(|e| anyhow::anyhow!("{e}"))?);
    }
    if out.is_empty() {
        bail!("indique al menos un distrito (DDdd) o «all»");
    }
    Ok(out)
}

fn run_synth(a: &SynthArgs, quiet: bool) -> Result<vamos_synth::SynthReport> {
    if let Some(prev) = &a.reinterview_of {
        return Ok(vamos_synth::reinterview(prev, &a.out, a.seed)?);
    }
    let districts = parse_districts(&a.districts)?;
    let cfg = vamos_synth::SynthConfig {
        districts,
        households: a.households,
        seed: a.seed,
        reference_date: a.reference_date.unwrap_or_else(today),
        admin: !a.no_admin,
    };
    std::fs::create_dir_all(&a.out)
        .with_context(|| format!("no se pudo crear {}", a.out.display()))?;
    let bar = Bar::new("generando hogares sintéticos", a.households, quiet);
    let report = vamos_synth::generate(&cfg, &a.out, &|done, _| bar.set(done))?;
    bar.finish();
    Ok(report)
}

pub fn synth(a: &SynthArgs) -> Result<ExitCode> {
    let report = run_synth(a, false)?;
    println!(
        "Población SINTÉTICA generada en {} (semilla {}):",
        a.out.display(),
        a.seed
    );
    println!(
        "  {} hogares, {} personas, {} comunidades, {} registros administrativos",
        report.households, report.persons, report.communities, report.admin_records
    );
    for f in &report.files {
        println!(
            "  {:<48} {:>10} filas  {}",
            f.path.display(),
            f.rows,
            f.what
        );
    }
    println!("Estos datos son SINTÉTICOS: no corresponden a personas reales.");
    Ok(ExitCode::SUCCESS)
}

#[allow(clippy::disallowed_methods)]
fn default_rejects(kind: ImportKind) -> PathBuf {
    default_report("rechazos", kind)
}

#[allow(clippy::disallowed_methods)]
fn default_report(what: &str, kind: ImportKind) -> PathBuf {
    let stamp = chrono::Local::now().format("%Y%m%dT%H%M%S%.3f");
    PathBuf::from(format!("vamos-{what}-{}-{stamp}.csv", kind.as_str()))
}

/// Runs one import as the command's actor (audited); returns its summary (also used by `demo`).
pub fn run_import(kind: ImportKind, a: &ImportArgs, quiet: bool) -> Result<ImportSummary> {
    let mut store = crate::admin::connect(&a.db)?;
    let actor = crate::identity::actor(store.as_mut())?;
    let default_rejects_path = a.rejects.is_none().then(|| default_rejects(kind));
    let fips = matches!(kind, ImportKind::Fips | ImportKind::Simplificado);
    let default_changes_path =
        (fips && a.changes.is_none()).then(|| default_report("cambios", kind));
    let req = vamos_app::imports::ImportRequest {
        kind,
        paths: a.paths.clone(),
        source: a.source.clone(),
        strict: a.strict,
        synthetic: a.synthetic.then_some(true),
        import_date: a.date.unwrap_or_else(today),
        rejects: a.rejects.clone().or_else(|| default_rejects_path.clone()),
        changes: a.changes.clone().or_else(|| default_changes_path.clone()),
        unmatched: a.unmatched.clone(),
        linkage_settings: a.linkage_settings.clone(),
        purpose: "carga de datos (línea de órdenes)".into(),
    };
    let progress = output::BarProgress::new(quiet);
    let mut summary = vamos_app::imports::run(store.as_mut(), &actor, &req, &progress)?;
    progress.finish();
    if let Some(p) = default_rejects_path {
        if summary.rows_rejected == 0 {
            let _ = std::fs::remove_file(&p);
            summary.rejects_file = None;
        }
    }
    if let Some(p) = default_changes_path {
        if summary.households_updated == 0 {
            let _ = std::fs::remove_file(&p);
            summary.changes_file = None;
        }
    }
    Ok(summary)
}

pub fn import(kind: ImportKind, a: &ImportArgs) -> Result<ExitCode> {
    let json = a.format == Format::Json;
    let summary = run_import(kind, a, json)?;
    if json {
        println!("{}", serde_json::to_string(&summary)?);
    } else {
        output::print_import(&summary);
    }
    Ok(if summary.committed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn territory_json(t: TerritoryCode) -> serde_json::Value {
    json!({
        "code": t.to_string(),
        "name": Territory::official().name_of(t),
        "level": t.level(),
    })
}

pub fn stats(db: &str, territory: &str, format: Format) -> Result<ExitCode> {
    let t = TerritoryCode::parse(territory).map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut store = vamos_store::open(db).with_context(|| format!("no se pudo abrir {db}"))?;
    let rows: Vec<_> = store
        .district_counts()?
        .into_iter()
        .filter(|r| DistrictCode::from_number(r.district).is_ok_and(|d| t.contains(d)))
        .collect();
    let sum = |f: fn(&vamos_store::DistrictCounts) -> u64| rows.iter().map(f).sum::<u64>();
    let official = Territory::official();
    let districts: Vec<serde_json::Value> = rows
        .iter()
        .map(|r| {
            let code = DistrictCode::from_number(r.district).ok();
            json!({
                "code": code.map(|c| c.to_string()),
                "name": code.and_then(|c| official.district(c)).map(|d| d.name.clone()),
                "department": code.map(|c| c.department().to_string()),
                "persons": r.persons,
                "households": r.households,
                "communities": r.communities,
                "synthetic_households": r.synthetic_households,
                "admin_records_matched": r.admin_records,
            })
        })
        .collect();
    let out = json!({
        "territory": territory_json(t),
        "persons": sum(|r| r.persons),
        "households": sum(|r| r.households),
        "communities": sum(|r| r.communities),
        "synthetic_households": sum(|r| r.synthetic_households),
        "admin_records_matched": sum(|r| r.admin_records),
        "districts": districts,
    });
    match format {
        Format::Json => println!("{}", serde_json::to_string(&out)?),
        _ => output::print_stats(&out),
    }
    Ok(ExitCode::SUCCESS)
}

pub fn imports(db: &str, limit: u32, format: Format) -> Result<ExitCode> {
    let mut store = vamos_store::open(db).with_context(|| format!("no se pudo abrir {db}"))?;
    let rows = store.imports(limit)?;
    match format {
        Format::Json => println!("{}", serde_json::to_string(&rows)?),
        _ => output::print_imports(&rows),
    }
    Ok(ExitCode::SUCCESS)
}

/// `vamos registry history`: a household's versions and its members' (audited).
pub fn history(db: &str, household: i64, format: Format) -> Result<ExitCode> {
    let mut store = crate::admin::connect(db)?;
    let actor = crate::identity::actor(store.as_mut())?;
    let v = vamos_app::history::household_history(
        store.as_mut(),
        &actor,
        vamos_domain::HouseholdId(household),
        &None,
    )?;
    match format {
        Format::Json => println!("{}", serde_json::to_string(&v)?),
        _ => output::print_history(&v),
    }
    Ok(ExitCode::SUCCESS)
}

/// `vamos registry history --community`: a community's surveys (audited).
pub fn community_history(db: &str, community: i64, format: Format) -> Result<ExitCode> {
    let mut store = crate::admin::connect(db)?;
    let actor = crate::identity::actor(store.as_mut())?;
    let v = vamos_app::history::community_history(store.as_mut(), &actor, community, &None)?;
    match format {
        Format::Json => println!("{}", serde_json::to_string(&v)?),
        _ => output::print_community_history(&v),
    }
    Ok(ExitCode::SUCCESS)
}

pub fn territory_list(department: Option<&str>, format: Format) -> Result<ExitCode> {
    let t = Territory::official();
    let dep = department
        .map(|d| vamos_domain::DepartmentCode::try_from(d).map_err(|e| anyhow::anyhow!("{e}")))
        .transpose()?;
    let rows: Vec<serde_json::Value> = t
        .districts()
        .iter()
        .filter(|d| dep.is_none_or(|x| d.code.department() == x))
        .map(|d| {
            json!({
                "department_code": d.code.department().to_string(),
                "department": t.department(d.code.department()).map(|x| x.name.clone()),
                "code": d.code.to_string(),
                "name": d.name,
                "code_source": d.code_source,
                "pilot": PILOT_DISTRICTS.contains(&d.code.get()),
            })
        })
        .collect();
    match format {
        Format::Json => println!("{}", serde_json::to_string(&rows)?),
        _ => {
            println!("{:<4} {:<18} {:<6} distrito", "DD", "departamento", "DDdd");
            for r in &rows {
                println!(
                    "{:<4} {:<18} {:<6} {:<36} {}",
                    r["department_code"].as_str().unwrap_or(""),
                    r["department"].as_str().unwrap_or(""),
                    r["code"].as_str().unwrap_or(""),
                    r["name"].as_str().unwrap_or(""),
                    if r["pilot"].as_bool().unwrap_or(false) {
                        "piloto"
                    } else {
                        ""
                    }
                );
            }
            println!(
                "{} distritos. Fuente: INE, CNPV 2022 (ver data/territory/PROVENANCE.md).",
                rows.len()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn db_path_note(db: &str) -> String {
    db.strip_prefix("sqlite:")
        .map(|p| format!(" (archivo {p})"))
        .unwrap_or_default()
}

pub fn demo(a: &DemoArgs) -> Result<ExitCode> {
    println!("Vamos — demostración con los cuatro distritos piloto (datos SINTÉTICOS)");
    let districts = PILOT_DISTRICTS
        .iter()
        .map(|d| format!("{d:04}"))
        .collect::<Vec<_>>()
        .join(",");
    let synth = SynthArgs {
        districts,
        households: a.households,
        seed: a.seed,
        out: a.out.clone(),
        reference_date: None,
        no_admin: false,
        reinterview_of: None,
    };
    let report = run_synth(&synth, false)?;
    println!(
        "1. Población sintética: {} hogares, {} personas en {}",
        report.households,
        report.persons,
        a.out.display()
    );
    db_init(&a.db, "admin")?;
    let reports = a.out.join("informes");
    std::fs::create_dir_all(&reports)?;
    let args = |paths: Vec<PathBuf>, source: &str, name: &str, admin: bool| ImportArgs {
        db: a.db.clone(),
        paths,
        source: Some(source.to_string()),
        rejects: Some(reports.join(format!("rechazos-{name}.csv"))),
        changes: None,
        unmatched: admin.then(|| reports.join(format!("sin_coincidencia-{name}.csv"))),
        linkage_settings: None,
        strict: false,
        synthetic: true,
        date: None,
        format: Format::Text,
    };
    let fips = run_import(
        ImportKind::Fips,
        &args(vec![a.out.clone()], "UTGS", "fips", false),
        false,
    )?;
    println!(
        "2. FIPS: {} hogares y {} personas aceptados ({} ya registrados), {} filas rechazadas",
        fips.households_accepted,
        fips.persons_accepted,
        fips.households_already_registered,
        fips.rows_rejected
    );
    let com = run_import(
        ImportKind::Comunidades,
        &args(vec![a.out.clone()], "UTGS", "comunidades", false),
        false,
    )?;
    println!(
        "3. Entorno: {} relevamientos de comunidad aceptados ({} ya registrados), {} rechazados",
        com.community_surveys_accepted, com.surveys_already_registered, com.rows_rejected
    );
    let admin_dir = a.out.join("admin");
    let mut total = (0, 0, 0, 0);
    let mut linked = (0, 0);
    if admin_dir.is_dir() {
        for f in list_files(&admin_dir)? {
            let source = institution_of(&f);
            let name = f
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            let s = run_import(
                ImportKind::Admin,
                &args(vec![f.clone()], &source, &name, true),
                false,
            )?;
            total.0 += s.records_accepted;
            total.1 += s.records_unmatched;
            total.2 += s.rows_rejected;
            total.3 += s.records_already_registered;
            linked.0 += s.records_linked;
            linked.1 += s.records_for_review;
        }
    }
    println!(
        "4. Registros administrativos: {} aceptados ({} sin coincidencia de cédula, conservados), {} ya registrados, {} rechazados",
        total.0, total.1, total.3, total.2
    );
    println!(
        "   Enlazados sin cédula (nombre, fecha de nacimiento, sexo, distrito): {}; {} pares en revisión (página Enlace)",
        linked.0, linked.1
    );
    println!(
        "   Informes de rechazos y de registros sin coincidencia: {}",
        reports.display()
    );
    println!();
    stats(&a.db, "PY", Format::Table)?;
    let as_of = today().format("%Y-%m-%d").to_string();
    println!();
    println!("5. Clasificación del estatus de protección al {as_of} (catálogo ilustrativo):");
    let measurement = crate::measure::run_classify(&crate::measure::ClassifyArgs {
        db: a.db.clone(),
        as_of,
        catalogue: None,
        territory: "PY".into(),
        known_at: None,
        format: Format::Text,
    })?;
    // The public pages show only a published measurement: the demo publishes this one, as an
    // analyst would after checking it.
    println!();
    crate::measure::measurements(&crate::measure::MeasurementsCommand::Publish {
        id: measurement,
        db: a.db.clone(),
        format: Format::Text,
    })?;
    println!();
    crate::measure::logros(&crate::measure::LogrosArgs {
        db: a.db.clone(),
        territory: "PY".into(),
        measurement: None,
        format: crate::measure::LogrosFormat::Table,
    })?;
    crate::demo::workflow(&a.db, &a.out)?;
    println!();
    println!("Base de datos: {}{}", a.db, db_path_note(&a.db));
    println!(
        "Siga con:  vamos registry stats --db {} --territory 1116",
        a.db
    );
    println!("           vamos logros --db {} --territory 1116", a.db);
    println!("           vamos measurements list --db {}", a.db);
    println!("           vamos explain --db {} --household 1", a.db);
    println!("           vamos registry imports --db {}", a.db);
    if a.no_serve {
        return Ok(ExitCode::SUCCESS);
    }
    println!();
    println!(
        "12. Aplicación web: ingrese como «admin» o como una de las cuentas de ejemplo con la\n    contraseña mostrada arriba (la Mesa ve sus casos en /casos; el MSPBS, su bandeja; la\n    orientadora busca personas en /registro; la planificadora, /planes); el tablero de Logros,\n    Orientaciones y el catálogo no piden ingresar. Ctrl-C para terminar."
    );
    crate::serve::serve(&crate::serve::ServeArgs {
        db: Some(a.db.clone()),
        addr: Some(a.addr.clone()),
        config: None,
        catalogue: None,
    })
}

fn list_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    v.sort();
    Ok(v)
}

/// Institution code from a registry file name (`mec_matricula.csv` → `MEC`).
fn institution_of(p: &Path) -> String {
    let name = p
        .file_stem()
        .map(|s| s.to_string_lossy().to_string())
        .unwrap_or_default();
    let first = name.split(['_', '-']).next().unwrap_or("").to_uppercase();
    match first.as_str() {
        "PENSION" => "MDS".to_string(),
        "" => "DESCONOCIDA".to_string(),
        other => other.to_string(),
    }
}

/// A `--cedula` argument as people write it (`1234567`, `1.234.567`).
pub fn cedula_arg(s: Option<&str>) -> Result<Option<vamos_domain::NationalId>> {
    match s {
        None => Ok(None),
        Some(s) => match vamos_domain::NationalId::parse_optional(s) {
            Ok(Some(c)) => Ok(Some(c)),
            _ => Err(anyhow::anyhow!(
                "--cedula: de 3 a 9 dígitos (se admiten puntos), no «{}»",
                vamos_domain::limits::echo(s)
            )),
        },
    }
}
