//! `vamos changes request|preview|approve|reject|list|show`: change requests with maker-checker
//! approval, glue over `vamos_app::changes` (shared with the JSON API and the web pages). Acts
//! as the account given with `--as`; approving needs one, and never the requester's.

use crate::identity::actor;
use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use serde_json::{Map, Value};
use std::path::PathBuf;
use std::process::ExitCode;
use vamos_app::changes as ch;

#[derive(Subcommand)]
pub enum ChangesCommand {
    /// Solicita un cambio al registro (queda pendiente de aprobación por otra cuenta).
    Request(RequestArgs),
    /// Muestra la vista previa (antes/después de cada versión que escribiría) de una solicitud.
    Preview(IdArgs),
    /// Aprueba una solicitud; la última aprobación requerida la aplica.
    Approve(IdArgs),
    /// Rechaza una solicitud con un motivo.
    Reject(RejectArgs),
    /// Lista las solicitudes de su ámbito (filtros por estado y tipo; CSV con --csv).
    List(ListArgs),
    /// Muestra una solicitud con sus aprobaciones, documentos y vista previa.
    Show(IdArgs),
    /// Los tipos de solicitud: quién solicita, documentos, aprobaciones, efecto.
    Types {
        #[arg(long, value_enum, default_value = "text")]
        format: crate::Format,
    },
}

#[derive(Args)]
pub struct RequestArgs {
    #[arg(long, env = "VAMOS_DB", default_value = crate::DEFAULT_DB)]
    pub db: String,
    /// Tipo: agregar_miembro, retirar_miembro, trasladar_miembro, cambiar_jefe, mudar_hogar,
    /// corregir_persona, marcar_fallecimiento, dividir_hogar, fusionar_personas,
    /// fusionar_hogares.
    #[arg(long)]
    pub tipo: String,
    /// Número de unidad (persona u hogar), en el orden del tipo; repetible.
    #[arg(long = "unidad", required = true)]
    pub unidades: Vec<i64>,
    /// Valor nuevo, campo=valor (p. ej. given_names=Ana); repetible.
    #[arg(long = "set", value_name = "CAMPO=VALOR")]
    pub set: Vec<String>,
    /// correccion (vale desde la fecha original) o cambio (vale desde --desde).
    #[arg(long)]
    pub efecto: String,
    /// Fecha desde la que vale un cambio (dd/mm/aaaa o AAAA-MM-DD).
    #[arg(long)]
    pub desde: Option<String>,
    /// Motivo de la solicitud.
    #[arg(long)]
    pub motivo: String,
    /// Número del reclamo al que responde (queda asociada a él; necesita gestionar reclamos).
    #[arg(long)]
    pub reclamo: Option<i64>,
    /// Documento adjunto (PDF, JPEG o PNG, hasta 10 MB); repetible.
    #[arg(long = "adjunto", value_name = "ARCHIVO")]
    pub adjuntos: Vec<PathBuf>,
    /// Tipo de cada documento, en el orden de --adjunto (cedula, certificado_nacimiento,
    /// certificado_defuncion, declaracion, otro); uno solo vale para todos.
    #[arg(long = "documento")]
    pub documentos: Vec<String>,
    #[arg(long, value_enum, default_value = "text")]
    pub format: crate::Format,
}

#[derive(Args)]
pub struct IdArgs {
    #[arg(long, env = "VAMOS_DB", default_value = crate::DEFAULT_DB)]
    pub db: String,
    /// Número de la solicitud.
    pub id: i64,
    #[arg(long, value_enum, default_value = "text")]
    pub format: crate::Format,
}

#[derive(Args)]
pub struct RejectArgs {
    #[arg(long, env = "VAMOS_DB", default_value = crate::DEFAULT_DB)]
    pub db: String,
    pub id: i64,
    /// Motivo del rechazo.
    #[arg(long)]
    pub motivo: String,
    #[arg(long, value_enum, default_value = "text")]
    pub format: crate::Format,
}

#[derive(Args)]
pub struct ListArgs {
    #[arg(long, env = "VAMOS_DB", default_value = crate::DEFAULT_DB)]
    pub db: String,
    /// pendiente, aplicada o rechazada.
    #[arg(long)]
    pub estado: Option<String>,
    #[arg(long)]
    pub tipo: Option<String>,
    #[arg(long)]
    pub limite: Option<i64>,
    /// Imprime CSV (celdas neutralizadas contra fórmulas).
    #[arg(long)]
    pub csv: bool,
    #[arg(long, value_enum, default_value = "text")]
    pub format: crate::Format,
}

pub fn changes(cmd: &ChangesCommand) -> Result<ExitCode> {
    match cmd {
        ChangesCommand::Request(a) => request(a),
        ChangesCommand::Preview(a) | ChangesCommand::Show(a) => {
            let mut store = crate::admin::connect(&a.db)?;
            let who = actor(store.as_mut())?;
            let v = ch::show(store.as_mut(), &who, a.id)?;
            print(&v, a.format);
            Ok(ExitCode::SUCCESS)
        }
        ChangesCommand::Approve(a) => {
            let mut store = crate::admin::connect(&a.db)?;
            let who = actor(store.as_mut())?;
            // The latest measurement's Logros follow an applied change (no copy is held here).
            let catalogue = crate::measure::load_catalogue(None)?;
            let follow = ch::Follow {
                catalogue: &catalogue,
                resident: &mut None,
            };
            let v = ch::approve(store.as_mut(), &who, a.id, follow)?;
            print(&v, a.format);
            Ok(ExitCode::SUCCESS)
        }
        ChangesCommand::Reject(a) => {
            let mut store = crate::admin::connect(&a.db)?;
            let who = actor(store.as_mut())?;
            let v = ch::reject(store.as_mut(), &who, a.id, &a.motivo)?;
            print(&v, a.format);
            Ok(ExitCode::SUCCESS)
        }
        ChangesCommand::List(a) => list(a),
        ChangesCommand::Types { format } => {
            let t = ch::types();
            if *format == crate::Format::Json {
                println!("{}", serde_json::to_string(&t)?);
            } else {
                for x in t.as_array().into_iter().flatten() {
                    println!(
                        "{:<22} {} — unidades: {}; documentos: {}; {} aprobación(es) de {}",
                        x["tipo"].as_str().unwrap_or(""),
                        x["nombre"].as_str().unwrap_or(""),
                        join(&x["unidades"]),
                        join(&x["documentos"]),
                        x["aprobaciones"],
                        x["aprueba"].as_str().unwrap_or("")
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn join(v: &Value) -> String {
    let parts: Vec<&str> = v
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    if parts.is_empty() {
        "—".into()
    } else {
        parts.join(", ")
    }
}

fn request(a: &RequestArgs) -> Result<ExitCode> {
    let mut valores = Map::new();
    for s in &a.set {
        let Some((k, v)) = s.split_once('=') else {
            bail!("--set espera campo=valor, no «{s}»");
        };
        valores.insert(k.trim().to_string(), Value::String(v.to_string()));
    }
    if a.documentos.len() > 1 && a.documentos.len() != a.adjuntos.len() {
        bail!("indique un --documento por cada --adjunto (o uno solo para todos)");
    }
    let mut adjuntos = Vec::new();
    for (i, path) in a.adjuntos.iter().enumerate() {
        // Refused before reading a huge file whole.
        let len = std::fs::metadata(path)
            .with_context(|| format!("no se pudo leer {}", path.display()))?
            .len();
        if len > ch::MAX_ATTACHMENT as u64 {
            bail!("el documento {} pesa más de 10 MB", path.display());
        }
        adjuntos.push(ch::AttachmentInput {
            document_kind: a
                .documentos
                .get(i)
                .or(a.documentos.first())
                .cloned()
                .unwrap_or_else(|| "otro".into()),
            file_name: path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            content: std::fs::read(path)
                .with_context(|| format!("no se pudo leer {}", path.display()))?,
        });
    }
    let input = ch::RequestInput {
        tipo: a.tipo.clone(),
        unidades: a.unidades.clone(),
        valores,
        efecto: a.efecto.clone(),
        desde: a.desde.clone(),
        motivo: a.motivo.clone(),
        reclamo: a.reclamo,
        adjuntos,
    };
    let mut store = crate::admin::connect(&a.db)?;
    let who = actor(store.as_mut())?;
    let v = ch::request(store.as_mut(), &who, &input)?;
    print(&v, a.format);
    Ok(ExitCode::SUCCESS)
}

fn list(a: &ListArgs) -> Result<ExitCode> {
    let mut store = crate::admin::connect(&a.db)?;
    let who = actor(store.as_mut())?;
    let q = ch::ListQuery {
        estado: a.estado.clone(),
        tipo: a.tipo.clone(),
        antes: None,
        limite: a.limite,
    };
    if a.csv {
        print!("{}", ch::export_csv(store.as_mut(), &who, &q)?);
        return Ok(ExitCode::SUCCESS);
    }
    let rows = ch::list(store.as_mut(), &who, &q)?;
    if a.format == crate::Format::Json {
        println!(
            "{}",
            serde_json::to_string(&serde_json::json!({ "solicitudes": rows }))?
        );
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{:>5}  {:<22} {:<10} {:<11} {:<16} unidades",
        "n.º", "tipo", "estado", "efecto", "solicitó"
    );
    for r in &rows {
        println!(
            "{:>5}  {:<22} {:<10} {:<11} {:<16} {}",
            r["id"],
            r["tipo"].as_str().unwrap_or(""),
            r["estado"].as_str().unwrap_or(""),
            r["efecto"].as_str().unwrap_or(""),
            r["solicitado_por"].as_str().unwrap_or(""),
            units(r)
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn units(r: &Value) -> String {
    r["unidades"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|u| format!("{} {}", u["tipo"].as_str().unwrap_or(""), u["id"]))
        .collect::<Vec<_>>()
        .join(", ")
}

fn date(s: &str) -> String {
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map(|d| d.format("%d/%m/%Y").to_string())
        .unwrap_or_else(|_| s.to_string())
}

fn print(v: &Value, format: crate::Format) {
    if format == crate::Format::Json {
        println!("{v}");
        return;
    }
    println!(
        "Solicitud de cambio {} — {} ({})",
        v["id"],
        v["tipo_nombre"].as_str().unwrap_or(""),
        v["estado"].as_str().unwrap_or("")
    );
    println!("  unidades: {}", units(v));
    match v["desde"].as_str() {
        Some(d) => println!("  efecto: cambio desde el {}", date(d)),
        None => println!("  efecto: corrección (vale desde la fecha original)"),
    }
    println!("  motivo: {}", v["motivo"].as_str().unwrap_or(""));
    println!(
        "  solicitó: {} el {}",
        v["solicitado_por"].as_str().unwrap_or(""),
        v["solicitado_en"].as_str().unwrap_or("")
    );
    for ap in v["aprobaciones"].as_array().into_iter().flatten() {
        println!(
            "  aprobó: {} ({}) el {}",
            ap["cuenta"].as_str().unwrap_or(""),
            ap["rol"].as_str().unwrap_or(""),
            ap["en"].as_str().unwrap_or("")
        );
    }
    println!(
        "  aprobaciones requeridas: {}",
        v["aprobaciones_requeridas"]
    );
    if let Some(r) = v["motivo_decision"].as_str() {
        println!("  motivo del rechazo: {r}");
    }
    for d in v["adjuntos"].as_array().into_iter().flatten() {
        println!(
            "  documento {}: {} ({}, {} bytes)",
            d["n"],
            d["nombre"].as_str().unwrap_or(""),
            d["tipo_documento"].as_str().unwrap_or(""),
            d["bytes"]
        );
    }
    if let Some(e) = v["vista_previa_error"].as_str() {
        println!("  vista previa: {e}");
    }
    for pv in v["vista_previa"].as_array().into_iter().flatten() {
        println!(
            "  {} → versión {}{}{}",
            pv["unidad"].as_str().unwrap_or(""),
            pv["version"],
            pv["valida_desde"]
                .as_str()
                .map(|d| format!(", vale desde el {d}"))
                .unwrap_or_else(|| ", vale desde siempre".into()),
            if pv["vigente"].as_bool() == Some(true) {
                " (vigente)"
            } else {
                " (historia)"
            }
        );
        for c in pv["cambios"].as_array().into_iter().flatten() {
            println!(
                "      {}: {} → {}",
                c["campo"].as_str().unwrap_or(""),
                c["antes"].as_str().unwrap_or("—"),
                c["despues"].as_str().unwrap_or("—")
            );
        }
    }
}
