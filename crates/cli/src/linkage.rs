//! `vamos linkage`: record linkage without a cédula — `evaluate` trains a model's settings on
//! labelled data (FEBRL, Splink's `fake_1000`) and reports pairs compared, precision, recall and
//! F1 against the truth; `admin` links administrative records to registered persons (the admin
//! import runs it too); `reviews`, `decide` and `labels` work the clerical review queue;
//! `dedupe` proposes merges of a territory's duplicates as change requests; `check` measures the
//! links against a synthetic population's truth. Glue over `vamos_app::linkage`.

use anyhow::{anyhow, Result};
use clap::{Args, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args)]
pub struct LinkageArgs {
    #[command(subcommand)]
    pub command: LinkageCommand,
}

#[derive(Subcommand)]
pub enum LinkageCommand {
    /// Entrena un modelo (archivo de configuración) sobre datos etiquetados y mide su acierto:
    /// pares comparados, precisión, exhaustividad (recall) y F1 contra la verdad
    /// (record_id,cluster_id). Con --right enlaza dos archivos; sin él, deduplica uno.
    Evaluate(EvaluateArgs),
    /// Enlaza los registros administrativos sin persona (sin coincidencia de cédula) con las
    /// personas del registro: los de una importación, o todos. Los pares seguros quedan
    /// enlazados; los dudosos, en la cola de revisión.
    Admin {
        #[command(flatten)]
        common: Common,
        /// Solo los registros de esta importación (por defecto, todos los que no tienen persona).
        #[arg(long)]
        import: Option<i64>,
        /// Otra configuración del modelo (por defecto, la incluida: admin_registro.toml).
        #[arg(long)]
        settings: Option<PathBuf>,
    },
    /// Busca personas registradas dos veces en un territorio y propone fusionarlas como
    /// solicitudes de cambio (fusionar_personas), que aprueban los analistas.
    Dedupe {
        #[command(flatten)]
        common: Common,
        /// Territorio: PY, departamento (DD) o distrito (DDdd).
        #[arg(long)]
        territory: String,
        /// Otra configuración del modelo (por defecto, la incluida).
        #[arg(long)]
        settings: Option<PathBuf>,
        /// Solo listar los posibles duplicados, sin crear solicitudes.
        #[arg(long)]
        list_only: bool,
    },
    /// Lista la cola de revisión del enlace (pares entre los dos umbrales).
    Reviews {
        #[command(flatten)]
        common: Common,
        /// pendiente (por defecto), aceptado, rechazado, superado o todos.
        #[arg(long, default_value = "pendiente")]
        state: String,
        #[arg(long, default_value_t = 1)]
        page: i64,
    },
    /// Decide un par de la cola de revisión: aceptar (la misma persona) o rechazar.
    Decide {
        #[command(flatten)]
        common: Common,
        /// Número del par.
        #[arg(long)]
        pair: i64,
        /// aceptar o rechazar.
        #[arg(long)]
        decision: String,
    },
    /// Exporta los pares decididos (etiquetas para evaluar el modelo) como CSV.
    Labels {
        #[command(flatten)]
        common: Common,
    },
    /// Mide los enlaces contra la verdad de una población sintética (verdad/enlace_admin.csv).
    Check {
        #[command(flatten)]
        common: Common,
        /// La verdad: CSV con id_registro,persona.
        #[arg(long)]
        truth: PathBuf,
    },
}

#[derive(Args, Clone)]
pub struct Common {
    /// Base de datos: sqlite:<archivo> o postgres://usuario@servidor/base
    #[arg(long, env = "VAMOS_DB", default_value = crate::DEFAULT_DB)]
    pub db: String,
    #[arg(long, value_enum, default_value = "text")]
    pub format: crate::Format,
}

#[derive(Args)]
pub struct EvaluateArgs {
    /// Configuración del modelo (TOML: comparaciones, reglas de bloqueo, entrenamiento, umbrales).
    #[arg(long)]
    pub settings: PathBuf,
    /// Registros (CSV con encabezado).
    #[arg(long)]
    pub left: PathBuf,
    /// Segundo archivo de registros, para enlazar con el primero.
    #[arg(long)]
    pub right: Option<PathBuf>,
    /// La verdad: CSV con record_id,cluster_id (registros del mismo cluster son la misma entidad).
    #[arg(long)]
    pub truth: PathBuf,
    #[arg(long, value_enum, default_value = "text")]
    pub format: crate::Format,
}

pub fn linkage(a: &LinkageArgs) -> Result<ExitCode> {
    match &a.command {
        LinkageCommand::Evaluate(e) => evaluate(e),
        LinkageCommand::Admin {
            common,
            import,
            settings,
        } => {
            let (mut store, actor) = connect(common)?;
            let o = vamos_app::linkage::admin::link(
                store.as_mut(),
                &actor,
                *import,
                settings.as_deref(),
            )?;
            print(common.format, &o, || {
                if o.records_linked_by_national_id > 0 {
                    println!(
                        "{} registros enlazados por su cédula (registrada después)",
                        o.records_linked_by_national_id
                    );
                }
                println!(
                    "{} registros sin persona comparados con {} personas ({} pares)",
                    o.records, o.persons, o.pairs_compared
                );
                println!(
                    "enlazados (≥ {}): {} · a revisión (≥ {}): {}",
                    o.link_threshold, o.records_linked, o.review_threshold, o.records_for_review
                );
                if let Some(v) = &o.model_version {
                    println!("modelo: {v}");
                }
                println!("{:.1} s", o.seconds);
            })
        }
        LinkageCommand::Dedupe {
            common,
            territory,
            settings,
            list_only,
        } => {
            let t = vamos_domain::TerritoryCode::parse(territory).map_err(|e| anyhow!("{e}"))?;
            let (mut store, actor) = connect(common)?;
            let o = vamos_app::linkage::dedupe::dedupe(
                store.as_mut(),
                &actor,
                t,
                settings.as_deref(),
                !*list_only,
            )?;
            print(common.format, &o, || print_dedupe(&o))
        }
        LinkageCommand::Reviews {
            common,
            state,
            page,
        } => {
            let (mut store, actor) = connect(common)?;
            let st = (state != "todos").then_some(state.as_str());
            let p = vamos_app::linkage::reviews::list(store.as_mut(), &actor, st, *page)?;
            print(common.format, &p, || {
                println!(
                    "{} pares · página {} de {}",
                    p.total,
                    p.pagina,
                    p.paginas.max(1)
                );
                for i in &p.pares {
                    println!(
                        "  par {} · {:.3} · {} · {} {} ({}) ↔ persona {}: {} {}",
                        i.id,
                        i.probabilidad,
                        i.estado_nombre,
                        i.registro.nombres.as_deref().unwrap_or("—"),
                        i.registro.apellidos.as_deref().unwrap_or("—"),
                        i.institucion,
                        i.persona.id,
                        i.persona.nombres.as_deref().unwrap_or("—"),
                        i.persona.apellidos.as_deref().unwrap_or("—"),
                    );
                }
            })
        }
        LinkageCommand::Decide {
            common,
            pair,
            decision,
        } => {
            let accept = match decision.as_str() {
                "aceptar" => true,
                "rechazar" => false,
                other => {
                    return Err(anyhow!(
                        "decisión «{other}» desconocida: aceptar o rechazar"
                    ))
                }
            };
            let (mut store, actor) = connect(common)?;
            let i = vamos_app::linkage::reviews::decide(store.as_mut(), &actor, *pair, accept)?;
            print(common.format, &i, || {
                println!("par {}: {}", i.id, i.estado_nombre);
            })
        }
        LinkageCommand::Labels { common } => {
            let (mut store, actor) = connect(common)?;
            let csv = vamos_app::linkage::reviews::labels_csv(store.as_mut(), &actor)?;
            print!("{csv}");
            Ok(ExitCode::SUCCESS)
        }
        LinkageCommand::Check { common, truth } => {
            let (mut store, actor) = connect(common)?;
            let c = vamos_app::linkage::admin::check(store.as_mut(), &actor, truth)?;
            print(common.format, &c, || {
                let pct = |x: f64| vamos_domain::numbers::decimal_es(x * 100.0, 2);
                println!("{} registros administrativos", c.records);
                println!(
                    "  por cédula {} · por el modelo {} · por revisión {} · en revisión {} · sin persona {}",
                    c.linked_by_national_id,
                    c.linked_by_model,
                    c.linked_by_review,
                    c.waiting_review,
                    c.unmatched
                );
                println!(
                    "  sin persona o en revisión: {} % · precisión {} % (del modelo: {} %) · {} enlaces errados",
                    pct(c.share_unmatched_or_in_review),
                    pct(c.precision),
                    pct(c.precision_model),
                    c.wrong_links
                );
            })
        }
    }
}

fn connect(c: &Common) -> Result<(Box<dyn vamos_store::Store>, vamos_app::Actor)> {
    let mut store = crate::admin::connect(&c.db)?;
    let actor = crate::identity::actor(store.as_mut())?;
    Ok((store, actor))
}

fn print<T: serde::Serialize>(
    format: crate::Format,
    v: &T,
    text: impl FnOnce(),
) -> Result<ExitCode> {
    match format {
        crate::Format::Json => println!("{}", serde_json::to_string(v)?),
        crate::Format::Text | crate::Format::Table => text(),
    }
    Ok(ExitCode::SUCCESS)
}

fn evaluate(a: &EvaluateArgs) -> Result<ExitCode> {
    let e = vamos_app::linkage::evaluate(&a.settings, &a.left, a.right.as_deref(), &a.truth)?;
    match a.format {
        crate::Format::Json => println!("{}", serde_json::to_string(&e)?),
        crate::Format::Text | crate::Format::Table => {
            let pct = |x: f64| vamos_domain::numbers::decimal_es(x * 100.0, 2);
            println!("modelo: {}", e.settings_version);
            match e.records_right {
                None => println!("registros: {} (deduplicación)", e.records_left),
                Some(r) => println!("registros: {} × {} (enlace)", e.records_left, r),
            }
            for b in &e.blocking {
                println!("  bloqueo {:?}: {} comparaciones", b.keys, b.comparisons);
            }
            println!(
                "pares comparados: {} · probabilidad previa {:.6}",
                e.pairs_compared, e.prior
            );
            println!(
                "enlaces (≥ {}): {} · para revisión: {} · pares verdaderos: {}",
                e.link_threshold, e.accuracy.predicted, e.pairs_for_review, e.accuracy.true_pairs
            );
            println!(
                "precisión {} % · exhaustividad {} % · F1 {} % · {:.2} s",
                pct(e.accuracy.precision),
                pct(e.accuracy.recall),
                pct(e.accuracy.f1),
                e.seconds
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn print_dedupe(o: &vamos_app::linkage::dedupe::Outcome) {
    println!(
        "territorio {}: {} personas, {} pares comparados, {} sobre el umbral",
        o.territory, o.persons, o.pairs_compared, o.pairs_linked
    );
    println!(
        "{} personas con duplicados: {} fusiones propuestas, {} solicitudes creadas",
        o.entities_with_duplicates,
        o.proposals.len(),
        o.requests_created
    );
    for p in &o.proposals {
        let what = match (p.change_request, &p.note) {
            (Some(id), _) => format!("solicitud {id}"),
            (None, Some(n)) => format!("sin solicitud: {n}"),
            (None, None) => "solo listado".into(),
        };
        println!(
            "  persona {} → {} ({:.3}): {what}",
            p.duplicate, p.survivor, p.probability
        );
    }
}
