//! Access management commands: `referrals generate|export|funnel|expire`,
//! `counter-referrals import`, `delivery-points import|list`, `route` — glue over
//! `vamos_app::referrals` and `vamos_app::counter_referrals` (shared with the HTTP API).

use crate::measure::load_catalogue;
use anyhow::{anyhow, bail, Context, Result};
use clap::{Args, Subcommand, ValueEnum};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::ExitCode;
use vamos_app::counter_referrals as cr;
use vamos_app::referrals::work::{FunnelQuery, InstitutionReport};
use vamos_app::referrals::{self as acc, DeliveryPoint};
use vamos_domain::{Territory, TerritoryCode};

#[derive(Subcommand)]
pub enum ReferralsCommand {
    /// Genera las referencias de una medición: una por unidad y servicio desprotegido,
    /// dirigida a la institución proveedora (y a la Mesa del distrito), por prioridad.
    Generate(GenerateArgs),
    /// Exporta el reporte de referencias de una institución (CSV, XLSX o JSON), con los campos
    /// personales de su acuerdo de intercambio vigente.
    Export(ExportArgs),
    /// Embudo y oportunidad: referidas, recibidas, contactadas, atendidas, rechazadas, vencidas;
    /// días hasta la atención (mediana y percentil 90); atendidas sin referencia.
    Funnel(FunnelArgs),
    /// Marca como vencidas las referencias abiertas cuyo plazo pasó.
    Expire {
        #[arg(long, env = "VAMOS_DB", default_value = crate::DEFAULT_DB)]
        db: String,
    },
}

#[derive(Args)]
pub struct GenerateArgs {
    /// Base de datos: sqlite:<archivo> o postgres://usuario@servidor/base
    #[arg(long, env = "VAMOS_DB", default_value = crate::DEFAULT_DB)]
    pub db: String,
    /// Número de medición (por defecto, la última).
    #[arg(long)]
    pub measurement: Option<i64>,
    /// Territorio (PY, DD o DDdd) dentro del medido; por defecto, el de la medición.
    #[arg(long)]
    pub territory: Option<String>,
    /// Carpeta del catálogo (por defecto, el ilustrativo incluido).
    #[arg(long)]
    pub catalogue: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "text")]
    pub format: crate::Format,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum ExportFormat {
    Csv,
    Xlsx,
    Json,
}

#[derive(Args)]
pub struct ExportArgs {
    #[arg(long, env = "VAMOS_DB", default_value = crate::DEFAULT_DB)]
    pub db: String,
    /// Institución (código del catálogo: MSPBS, MEC, …).
    #[arg(long)]
    pub institution: String,
    /// Territorio: PY, DD o DDdd (por defecto, todo el país).
    #[arg(long)]
    pub territory: Option<String>,
    /// Solo este servicio (código).
    #[arg(long)]
    pub service: Option<String>,
    /// Solo este estado (emitida, recibida, contactada, atendida, rechazada, vencida, cerrada)
    /// o «abierta» (las tres primeras).
    #[arg(long)]
    pub status: Option<String>,
    /// Prioridad mínima.
    #[arg(long)]
    pub min_priority: Option<i64>,
    /// Orden: prioridad, o privacion (primero los hogares con más privaciones del IPM; sólo si
    /// el acuerdo de la institución incluye la pobreza).
    #[arg(long, value_enum, default_value = "prioridad")]
    pub order: ExportOrder,
    #[arg(long, value_enum, default_value = "csv")]
    pub format: ExportFormat,
    /// Archivo de salida (por defecto, la salida estándar; XLSX necesita un archivo).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Motivo (queda en el registro de auditoría).
    #[arg(long, default_value = "reporte de referencias para la institución")]
    pub purpose: String,
}

/// The order of an export.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportOrder {
    /// Críticos, servicios faltantes, poblaciones
    Prioridad,
    /// Privaciones del hogar (IPM), de más a menos
    Privacion,
}

#[derive(Args)]
pub struct FunnelArgs {
    #[arg(long, env = "VAMOS_DB", default_value = crate::DEFAULT_DB)]
    pub db: String,
    #[arg(long)]
    pub institution: Option<String>,
    #[arg(long)]
    pub territory: Option<String>,
    #[arg(long)]
    pub service: Option<String>,
    #[arg(long, value_enum, default_value = "text")]
    pub format: crate::Format,
}

#[derive(Subcommand)]
pub enum CounterReferralsCommand {
    /// Importa contra-referencias de un archivo CSV, XLSX o JSON (columnas: id_evento,
    /// institucion, persona_id o cedula, servicio, fecha_entrega, lugar, distrito_lugar) e
    /// imprime el resumen (aceptadas, duplicadas, rechazadas con fila, columna, valor y motivo).
    Import(ImportArgs),
}

#[derive(Args)]
pub struct ImportArgs {
    #[arg(long, env = "VAMOS_DB", default_value = crate::DEFAULT_DB)]
    pub db: String,
    /// Archivo CSV (cualquier codificación y separador), XLSX (primera hoja) o JSON.
    pub file: PathBuf,
    /// Institución de los eventos sin columna «institucion».
    #[arg(long)]
    pub institution: Option<String>,
    #[arg(long)]
    pub catalogue: Option<PathBuf>,
    /// Formato del resumen.
    #[arg(long, value_enum, default_value = "text")]
    pub format: crate::Format,
}

#[derive(Subcommand)]
pub enum DeliveryPointsCommand {
    /// Carga puntos de atención de un CSV (institucion, servicio, nivel, territorio, nombre,
    /// direccion, horario, contacto); reemplaza los de igual servicio, territorio y nombre.
    Import {
        #[arg(long, env = "VAMOS_DB", default_value = crate::DEFAULT_DB)]
        db: String,
        file: PathBuf,
    },
    /// Lista los puntos de atención que sirven a un distrito.
    List {
        #[arg(long, env = "VAMOS_DB", default_value = crate::DEFAULT_DB)]
        db: String,
        /// Distrito (DDdd).
        #[arg(long)]
        district: String,
    },
}

#[derive(Args)]
pub struct RouteArgs {
    #[arg(long, env = "VAMOS_DB", default_value = crate::DEFAULT_DB)]
    pub db: String,
    /// Persona por su número interno.
    #[arg(long, group = "persona", required = true)]
    pub person_id: Option<i64>,
    /// Persona por su cédula (1234567 o 1.234.567).
    #[arg(long, group = "persona")]
    pub cedula: Option<String>,
    #[arg(long)]
    pub catalogue: Option<PathBuf>,
    #[arg(long, default_value = "orientación: ruta de servicios")]
    pub purpose: String,
    #[arg(long, value_enum, default_value = "text")]
    pub format: crate::Format,
}

fn territory(s: &str) -> Result<TerritoryCode> {
    TerritoryCode::parse(s).map_err(|e| anyhow!("{e}"))
}

fn open(db: &str) -> Result<Box<dyn vamos_store::Store>> {
    crate::admin::connect(db)
}

use crate::identity::actor;

pub fn referrals(cmd: &ReferralsCommand) -> Result<ExitCode> {
    match cmd {
        ReferralsCommand::Generate(a) => generate(a),
        ReferralsCommand::Export(a) => export(a),
        ReferralsCommand::Funnel(a) => funnel(a),
        ReferralsCommand::Expire { db } => {
            let mut store = open(db)?;
            let n = acc::expire_overdue(
                store.as_mut(),
                crate::commands::today(),
                &crate::commands::now_rfc3339(),
            )?;
            println!("{n} referencias vencidas");
            Ok(ExitCode::SUCCESS)
        }
    }
}

pub fn generate(a: &GenerateArgs) -> Result<ExitCode> {
    let catalogue = load_catalogue(a.catalogue.as_ref())?;
    let mut store = open(&a.db)?;
    let t = a.territory.as_deref().map(territory).transpose()?;
    let started = std::time::Instant::now();
    let who = actor(store.as_mut())?;
    let r = acc::generate_as(
        store.as_mut(),
        &who,
        &catalogue,
        a.measurement,
        t,
        crate::commands::today(),
        &crate::commands::now_rfc3339(),
    )?;
    if a.format == crate::Format::Json {
        println!("{}", serde_json::to_string(&r)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "Referencias de la medición {} (al {}, {}){}",
        r.measurement,
        r.as_of,
        Territory::official().name_of(territory(&r.territory)?),
        if r.synthetic {
            " — datos SINTÉTICOS"
        } else {
            ""
        }
    );
    println!(
        "  necesidades (unidad × servicio desprotegido): {}",
        r.needs
    );
    println!(
        "  nuevas: {}   ya abiertas: {}   ya resueltas en esta medición: {}   cerradas (sin necesidad): {}   vencidas: {}",
        r.outcome.created, r.outcome.kept, r.outcome.resolved, r.outcome.closed, r.outcome.expired
    );
    for (inst, n) in &r.outcome.by_institution {
        println!("  {inst:<8} {n}");
    }
    println!(
        "  candidatas de Canal Verde: {} (marcadas en {:.1} s, guardadas en {:.1} s): vamos cases candidates --db {} --territory 1116",
        r.candidates.candidates, r.candidates.flag_seconds, r.candidates.store_seconds, a.db
    );
    println!("  ({:.1} s) exporte el reporte de una institución con: vamos referrals export --db {} --institution MSPBS --territory 1116 --format csv", started.elapsed().as_secs_f64(), a.db);
    Ok(ExitCode::SUCCESS)
}

fn export(a: &ExportArgs) -> Result<ExitCode> {
    let catalogue = load_catalogue(None)?;
    if catalogue.institution(&a.institution).is_none() {
        bail!(
            "institución desconocida «{}»: vea los códigos con `vamos catalogue check`",
            a.institution
        );
    }
    if a.format == ExportFormat::Xlsx && a.out.is_none() {
        bail!("el formato XLSX necesita --out ARCHIVO.xlsx");
    }
    let mut store = open(&a.db)?;
    let t = a.territory.as_deref().map(territory).transpose()?;
    let who = actor(store.as_mut())?;
    let report = InstitutionReport {
        institution: a.institution.clone(),
        territory: t,
        service: a.service.clone(),
        status: a.status.clone(),
        min_priority: a.min_priority,
        by_deprivation: a.order == ExportOrder::Privacion,
        purpose: a.purpose.clone(),
    };
    let found =
        acc::work::institution_report(store.as_mut(), &who, &report, crate::commands::today())?;
    let fields = match found.agreed {
        Some(f) => Some(f),
        None => {
            eprintln!("aviso: {} no tiene un acuerdo de intercambio de datos vigente: el reporte sale sin datos personales (solo números de persona y hogar)", a.institution);
            Some(BTreeSet::from(["id".to_string()]))
        }
    };
    let rows = found.rows;
    let count = rows.len();
    let synthetic = store.has_synthetic_data()?;
    let values: Vec<Value> = rows
        .into_iter()
        .map(|(r, p)| acc::report_row(&r, p, &fields, &catalogue))
        .collect();
    let bytes = match a.format {
        ExportFormat::Csv => acc::report_csv(&values)?,
        ExportFormat::Xlsx => acc::report_xlsx(
            &values,
            synthetic.then_some("DATOS SINTÉTICOS — no corresponden a personas reales"),
        )?,
        ExportFormat::Json => {
            let mut v = serde_json::to_vec(
                &json!({"institution": a.institution, "territory": t.map(|t| t.to_string()), "synthetic": synthetic, "count": values.len(), "referrals": values}),
            )?;
            v.push(b'\n');
            v
        }
    };
    match &a.out {
        Some(p) => {
            std::fs::write(p, &bytes)
                .with_context(|| format!("no se pudo escribir {}", p.display()))?;
            eprintln!(
                "{} referencias escritas en {}{}",
                count,
                p.display(),
                if synthetic {
                    " (datos SINTÉTICOS)"
                } else {
                    ""
                }
            );
        }
        None => {
            use std::io::Write;
            std::io::stdout().write_all(&bytes)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn funnel(a: &FunnelArgs) -> Result<ExitCode> {
    let mut store = open(&a.db)?;
    a.territory.as_deref().map(territory).transpose()?;
    let who = actor(store.as_mut())?;
    let rows = acc::work::funnel_rows(
        store.as_mut(),
        &who,
        &FunnelQuery {
            institution: a.institution.clone(),
            territory: a.territory.clone(),
            service: a.service.clone(),
        },
    )?;
    if a.format == crate::Format::Json {
        println!("{}", serde_json::to_string(&json!({"funnel": rows}))?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{:<8} {:<28} {:>5} {:>8} {:>8} {:>10} {:>8} {:>9} {:>8} {:>7} {:>8} {:>7} {:>10}",
        "inst.",
        "servicio",
        "dist.",
        "referid.",
        "recibid.",
        "contactad.",
        "atendid.",
        "rechazad.",
        "vencidas",
        "abiertas",
        "mediana",
        "p90",
        "sin_ref."
    );
    let days = |d: Option<f64>| d.map(|x| format!("{x:.0} d")).unwrap_or_else(|| "—".into());
    for r in &rows {
        println!(
            "{:<8} {:<28} {:>5} {:>8} {:>8} {:>10} {:>8} {:>9} {:>8} {:>7} {:>8} {:>7} {:>10}",
            r.institution,
            r.service,
            format!("{:04}", r.district_code),
            r.referred,
            r.received,
            r.contacted,
            r.served,
            r.rejected,
            r.expired,
            r.open,
            days(r.median_days),
            days(r.p90_days),
            r.served_without_referral
        );
    }
    if rows.is_empty() {
        println!("(sin referencias ni contra-referencias para ese filtro)");
    }
    Ok(ExitCode::SUCCESS)
}

pub fn counter_referrals(cmd: &CounterReferralsCommand) -> Result<ExitCode> {
    let CounterReferralsCommand::Import(a) = cmd;
    let catalogue = load_catalogue(a.catalogue.as_ref())?;
    let mut events = vamos_ingest::counter_referrals::read(&a.file).map_err(|e| anyhow!("{e}"))?;
    if let Some(i) = &a.institution {
        for e in &mut events {
            if e.event.institution.is_none() {
                e.event.institution = Some(i.clone());
            }
        }
    }
    let mut store = open(&a.db)?;
    let who = actor(store.as_mut())?;
    let summary = cr::import_file(
        store.as_mut(),
        &who,
        &catalogue,
        events,
        &a.file.display().to_string(),
        crate::commands::today(),
        &crate::commands::now_rfc3339(),
    )?;
    // The Logros move now, without a new classification (reading the districts concerned:
    // a one-off command keeps no registry in memory).
    let update = cr::update_logros(
        store.as_mut(),
        &catalogue,
        crate::commands::today(),
        &crate::commands::now_rfc3339(),
        &mut None,
        None,
    )?;
    if a.format == crate::Format::Json {
        let mut v = serde_json::to_value(&summary)?;
        if let Some(o) = v.as_object_mut() {
            o.insert("logros_update".into(), serde_json::to_value(&update)?);
        }
        println!("{}", serde_json::to_string(&v)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "Contra-referencias de {}: {} recibidas",
        a.file.display(),
        summary.received
    );
    println!(
        "  aceptadas: {} ({} respondieron una referencia, {} sin referencia previa)",
        summary.accepted, summary.answered_referrals, summary.without_referral
    );
    println!(
        "  duplicadas (ya recibidas, sin cambios): {}",
        summary.duplicates
    );
    println!("  rechazadas: {}", summary.rejected);
    for e in summary.errors.iter().take(20) {
        println!(
            "    {} fila {} [{}] «{}»: {}",
            e.file, e.row, e.column, e.value, e.reason
        );
    }
    if summary.errors.len() > 20 {
        println!(
            "    … y {} problemas más (use --format json para verlos todos)",
            summary.errors.len() - 20
        );
    }
    match update {
        Some(u) => println!("  Logros de la medición {} actualizados con {} contra-referencias ({} personas; distritos {})", u.measurement, u.counter_referrals, u.persons, u.districts.join(", ")),
        None => println!("  (no hay Logros que actualizar)"),
    }
    Ok(ExitCode::SUCCESS)
}

pub fn delivery_points(cmd: &DeliveryPointsCommand) -> Result<ExitCode> {
    match cmd {
        DeliveryPointsCommand::Import { db, file } => {
            let catalogue = load_catalogue(None)?;
            let points = read_points(file, &catalogue)?;
            let mut store = open(db)?;
            let n = acc::load_delivery_points(store.as_mut(), &points)?;
            println!("{n} puntos de atención cargados de {}", file.display());
            Ok(ExitCode::SUCCESS)
        }
        DeliveryPointsCommand::List { db, district } => {
            let mut store = open(db)?;
            territory(district)?;
            let who = actor(store.as_mut())?;
            for p in acc::delivery_points(store.as_mut(), &who, Some(district))? {
                println!(
                    "{:<28} {:<12} {:<5} {} — {} — {} — {}",
                    p.service,
                    p.level,
                    p.territory,
                    p.name,
                    p.address.unwrap_or_default(),
                    p.hours.unwrap_or_default(),
                    p.contact.unwrap_or_default()
                );
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Reads a delivery-point CSV, refusing the whole file on any invalid row (listed).
pub fn read_points(
    file: &std::path::Path,
    catalogue: &vamos_catalogue::Catalogue,
) -> Result<Vec<DeliveryPoint>> {
    let mut table = vamos_ingest::table::TableSource::Csv(file.to_path_buf())
        .open()
        .map_err(|e| anyhow!("{e}"))?;
    let names = [
        "institucion",
        "servicio",
        "nivel",
        "territorio",
        "nombre",
        "direccion",
        "horario",
        "contacto",
        "servicios_alojados",
        "mesa",
    ];
    let cols: Vec<Option<usize>> = names.iter().map(|n| table.col(&[n])).collect();
    let missing: Vec<&str> = names
        .iter()
        .zip(&cols)
        .take(5)
        .filter(|(_, c)| c.is_none())
        .map(|(n, _)| *n)
        .collect();
    if !missing.is_empty() {
        bail!(
            "{}: faltan columnas obligatorias: {}",
            file.display(),
            missing.join(", ")
        );
    }
    let mut out = Vec::new();
    let mut problems = Vec::new();
    let mut rec = csv::ByteRecord::new();
    while let Some(row) = table.next_row(&mut rec).map_err(|e| anyhow!("{e}"))? {
        let get = |i: usize| -> Option<String> {
            let c = cols.get(i).copied().flatten()?;
            let v = vamos_ingest::text::clean_text(&vamos_ingest::text::decode(rec.get(c)?));
            (!v.is_empty()).then_some(v)
        };
        let p = DeliveryPoint {
            institution: get(0).unwrap_or_default().to_uppercase(),
            service: get(1).unwrap_or_default(),
            level: get(2).unwrap_or_default().to_lowercase(),
            territory: get(3).unwrap_or_default(),
            name: get(4).unwrap_or_default(),
            address: get(5),
            hours: get(6),
            contact: get(7),
            hosted_services: get(8),
            mesa_body: get(9),
        };
        let mut bad = |col: &str, val: &str, why: &str| {
            let val = vamos_domain::limits::echo(val);
            problems.push(format!("fila {row} [{col}] «{val}»: {why}"))
        };
        // Places and their details are shown on public pages: none longer than a place may be.
        for (col, val) in [
            ("nombre", Some(&p.name)),
            ("direccion", p.address.as_ref()),
            ("horario", p.hours.as_ref()),
            ("contacto", p.contact.as_ref()),
            ("servicios_alojados", p.hosted_services.as_ref()),
        ] {
            if let Some(Err(e)) = val.map(|v| vamos_domain::limits::Limit::Place.check(v)) {
                bad(col, val.map_or("", |v| v.as_str()), &e.to_string());
            }
        }
        for (col, val) in [
            ("servicios_alojados", p.hosted_services.as_ref()),
            ("mesa", p.mesa_body.as_ref()),
        ] {
            if val.is_some() && !p.service.starts_with("orientaciones_sps") {
                bad(
                    col,
                    val.map_or("", |v| v.as_str()),
                    "sólo un punto de ORIENTACIONES SPS (un Espacio SPS) lo tiene",
                );
            }
        }
        if let Some(Err(e)) = p
            .mesa_body
            .as_ref()
            .map(|v| vamos_domain::limits::Limit::Code.check(v))
        {
            bad("mesa", p.mesa_body.as_deref().unwrap_or(""), &e.to_string());
        }
        if catalogue.institution(&p.institution).is_none() {
            bad(
                "institucion",
                &p.institution,
                "institución desconocida en el catálogo",
            );
        }
        if !catalogue.services.iter().any(|s| s.code == p.service) {
            bad(
                "servicio",
                &p.service,
                "servicio desconocido en el catálogo",
            );
        }
        let level_ok = matches!(
            (p.level.as_str(), TerritoryCode::parse(&p.territory)),
            ("distrito", Ok(TerritoryCode::District(_)))
                | ("departamento", Ok(TerritoryCode::Department(_)))
                | ("nacional" | "remoto", Ok(TerritoryCode::Nation))
        );
        if !level_ok {
            bad("territorio", &format!("{} {}", p.level, p.territory), "nivel y territorio no concuerdan (distrito DDdd, departamento DD, nacional o remoto PY)");
        }
        if p.name.is_empty() {
            bad("nombre", "", "falta el nombre del punto de atención");
        }
        out.push(p);
    }
    if !problems.is_empty() {
        bail!(
            "{}: {} problemas, no se cargó nada:\n  {}",
            file.display(),
            problems.len(),
            problems.join("\n  ")
        );
    }
    Ok(out)
}

#[allow(clippy::indexing_slicing)] // reason: serde_json::Value["key"] yields Null when absent, it cannot panic
pub fn route(a: &RouteArgs) -> Result<ExitCode> {
    let catalogue = load_catalogue(a.catalogue.as_ref())?;
    let mut store = open(&a.db)?;
    let who = actor(store.as_mut())?;
    let cedula = crate::commands::cedula_arg(a.cedula.as_deref())?;
    let located = match (a.person_id, cedula) {
        (Some(p), _) => vamos_app::registry::locate_recorded(
            store.as_mut(),
            &who,
            vamos_store::UnitKind::Person,
            p,
            "ruta de servicios",
            &a.purpose,
        )?,
        (None, Some(c)) => vamos_app::registry::locate_cedula_recorded(
            store.as_mut(),
            &who,
            c,
            "ruta de servicios",
            &a.purpose,
        )?,
        (None, None) => bail!("indique --person-id o --cedula"),
    };
    let Some((id, district)) = located else {
        bail!("no se encontró la persona")
    };
    let district = vamos_domain::DistrictCode::from_number(district).map_err(|e| anyhow!("{e}"))?;
    let (as_of, until) = match store.measurement(None)? {
        Some((m, _)) => (
            chrono::NaiveDate::parse_from_str(&m.as_of, "%Y-%m-%d")?,
            vamos_app::measurements::figures_until(&m)?,
        ),
        None => (crate::commands::today(), crate::commands::today()),
    };
    let mut v = acc::person_route(store.as_mut(), &catalogue, id, district, as_of, until)?;
    let fields = vamos_app::registry::visible_fields(store.as_mut(), &who)?;
    vamos_app::registry::redact_route(&mut v, &catalogue, &fields);
    if a.format == crate::Format::Json {
        println!("{}", serde_json::to_string(&v)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "Ruta de servicios de la persona {id} ({}) al {as_of}: {} servicios por recibir",
        v["district"]["name"].as_str().unwrap_or(""),
        v["missing"]
    );
    for step in v["route"].as_array().into_iter().flatten() {
        println!(
            "\n{} (Logro {})",
            step["label"].as_str().unwrap_or(""),
            step["logro"]
        );
        for s in step["services"].as_array().into_iter().flatten() {
            let mark = if s["missing"].as_bool() == Some(true) {
                "→ FALTA"
            } else {
                "  ok   "
            };
            println!(
                "  {mark} {}. {} — {} ({})",
                s["order"],
                s["name"].as_str().unwrap_or(""),
                s["institution"].as_str().unwrap_or(""),
                vamos_domain::services::package_label(s["package"].as_str().unwrap_or(""))
            );
            if s["missing"].as_bool() == Some(true) {
                for w in s["where"].as_array().into_iter().flatten() {
                    println!(
                        "           dónde: {} ({}) {} {}",
                        w["name"].as_str().unwrap_or(""),
                        w["level"].as_str().unwrap_or(""),
                        w["address"].as_str().unwrap_or(""),
                        w["hours"].as_str().unwrap_or("")
                    );
                }
                if let Some(r) = s["referral"].as_object() {
                    println!(
                        "           referencia {} ({}), plazo {}",
                        r["id"],
                        r["status"].as_str().unwrap_or(""),
                        r["due_on"].as_str().unwrap_or("")
                    );
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
