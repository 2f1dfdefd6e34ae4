//! `vamos`: the command line of the Vamos social information system.
//!
//! Thin glue over the library crates: parse arguments, open the store named by `--db`, call
//! the library, print the result in Spanish (or JSON for machines). The clock is read here and
//! only here, and passed down as dates.

mod admin;
mod barriers;
mod budget;
mod cases;
mod changes;
mod commands;
mod cost;
mod demo;
mod governance;
mod grievances;
mod identity;
mod ipm;
mod linkage;
mod management_agreements;
mod measure;
mod ops;
mod orientations;
mod output;
mod plans;
mod referrals;
mod reports;
mod serve;
mod targets;
mod units;

use clap::{Arg, ArgAction, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;

/// The allocator of the whole program: mimalloc, not the C library's. The counter-referral
/// intake allocates and frees a great many small strings across threads; with the C library's
/// allocator, allocating and freeing took a large share of the single writer's time (measured:
/// BENCHMARKS.md, issue 5).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Default store when neither `--db` nor `VAMOS_DB` is given: a SQLite file in the current directory.
pub const DEFAULT_DB: &str = "sqlite:vamos.sqlite";

#[derive(Parser)]
#[command(
    name = "vamos",
    version,
    about = "Vamos: sistema de información del Sistema de Protección Social ¡Vamos! (Paraguay)",
    long_about = "Registro de personas, hogares y comunidades (FIPS), importación de encuestas y registros \
administrativos, y población sintética para pruebas.\n\nLa base de datos se indica con --db o la variable \
VAMOS_DB: sqlite:<archivo> (predeterminada, sin servidor) o postgres://usuario@servidor/base.",
    after_help = "Ejemplo: vamos demo   (construye los cuatro distritos piloto, sintéticos, en vamos-demo.sqlite)"
)]
struct Cli {
    /// Cuenta con la que actúa la orden (su rol y territorios; queda en la auditoría).
    #[arg(long = "as", global = true, env = "VAMOS_USER", value_name = "CUENTA")]
    as_user: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum Format {
    /// Texto legible (español)
    Text,
    /// Tabla de texto
    Table,
    /// JSON (la última línea impresa)
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Base de datos: crear o migrar el esquema.
    Db {
        #[command(subcommand)]
        command: DbCommand,
    },
    /// Genera una población SINTÉTICA (encuesta FIPS, comunidades y registros administrativos).
    Synth(commands::SynthArgs),
    /// Importa encuestas FIPS, formularios simplificados, comunidades o registros administrativos.
    Import {
        #[command(subcommand)]
        kind: ImportKindArg,
    },
    /// Consultas al registro: conteos por territorio, historial de importaciones.
    Registry {
        #[command(subcommand)]
        command: RegistryCommand,
    },
    /// Territorio oficial: departamentos y distritos (INE, CNPV 2022).
    Territory {
        #[command(subcommand)]
        command: TerritoryCommand,
    },
    /// Catálogo de servicios: validar y ver su versión.
    Catalogue {
        #[command(subcommand)]
        command: CatalogueCommand,
    },
    /// Clasifica el estatus de protección a una fecha de referencia y guarda la medición.
    Classify(measure::ClassifyArgs),
    /// Mediciones guardadas: listar, publicar (sus cifras pasan a ser las cifras públicas).
    Measurements {
        #[command(subcommand)]
        command: measure::MeasurementsCommand,
    },
    /// Los diez Logros de una medición, por territorio.
    Logros(measure::LogrosArgs),
    /// Las unidades detrás de una cifra: quiénes cuenta un Logro (o uno de sus servicios) como
    /// sin protección o sin dato en un distrito, página por página o en CSV.
    Units(units::UnitsArgs),
    /// Costeo desde metas: cuánto cuesta llevar un Logro de un territorio a una meta en un año,
    /// por servicio, institución y año (las unidades más baratas primero).
    Cost(cost::CostArgs),
    /// Metas compartidas de los Logros por territorio y año: definir, listar.
    Targets {
        #[command(subcommand)]
        command: targets::TargetsCommand,
    },
    /// Marco Estratégico: planes con objetivos, acciones estratégicas, indicadores y metas
    /// (importar y exportar XLSX, plantilla, líneas de base).
    Plan {
        #[command(subcommand)]
        command: plans::PlanCommand,
    },
    /// Presupuesto por programas y su ejecución: importar, comparar con lo necesario.
    Budget {
        #[command(subcommand)]
        command: budget::BudgetCommand,
    },
    /// Pobreza multidimensional (Alkire–Foster, método oficial del INE): el índice de un
    /// territorio en una medición, o el de una tabla de privaciones según un método (compute).
    Ipm(ipm::IpmArgs),
    /// Enlace de registros sin cédula (Fellegi–Sunter): evaluar un modelo, enlazar registros
    /// administrativos, revisar pares dudosos, deduplicar el registro.
    Linkage(linkage::LinkageArgs),
    /// Informe de seguimiento trimestral de un territorio, en PDF.
    Report(reports::ReportArgs),
    /// Extracto de microdatos anonimizados (k-anonimato) de una medición, con su informe de
    /// riesgo.
    Microdata(reports::MicrodataArgs),
    /// Gobernanza: instancias, reuniones con sus minutas, acuerdos y siguientes pasos.
    Governance {
        #[command(subcommand)]
        command: governance::GovernanceCommand,
    },
    /// Acuerdos de gestión interinstitucionales: listar, ver, guardar.
    ManagementAgreements {
        #[command(subcommand)]
        command: management_agreements::ManagementAgreementsCommand,
    },
    /// Explica, servicio por servicio, el estatus de una persona, hogar o comunidad.
    Explain(measure::ExplainArgs),
    /// Demostración: los cuatro distritos piloto (SINTÉTICOS) en una base SQLite local.
    Demo(commands::DemoArgs),
    /// Sirve la API HTTP (JSON, OpenAPI en /api/openapi.json, métricas en /metrics).
    Serve(serve::ServeArgs),
    /// Cuentas de usuario: crear, listar, desactivar, cambiar contraseña.
    User {
        #[command(subcommand)]
        command: admin::UserCommand,
    },
    /// Tokens de API para sistemas institucionales: crear (se muestra una vez), listar, revocar.
    Token {
        #[command(subcommand)]
        command: admin::TokenCommand,
    },
    /// Acuerdos de intercambio de datos: qué campos ve cada institución.
    Agreement {
        #[command(subcommand)]
        command: admin::AgreementCommand,
    },
    /// Registro de auditoría: verificar la cadena sellada, exportar, crear la clave.
    Audit {
        #[command(subcommand)]
        command: admin::AuditCommand,
    },
    /// API DCI del Registro Social: emisores autorizados, claves de firma ed25519, firmar mensajes.
    Dci {
        #[command(subcommand)]
        command: ops::DciCommand,
    },
    /// Canal Verde: candidatas, casos con su plan hasta verificar la protección, cierres con
    /// aprobación de otra persona.
    Cases {
        #[command(subcommand)]
        command: cases::CasesCommand,
    },
    /// Innovación social para el acceso: barreras por territorio, facilitadores y su
    /// seguimiento, y la vista territorial de lo que bloquea más casos.
    Barriers {
        #[command(subcommand)]
        command: barriers::BarriersCommand,
    },
    /// Orientaciones en ventanilla: registrar la orientación dada a una persona (evidencia de
    /// ORIENTACIONES SPS, como contra-referencia de la UTGS).
    Orientations {
        #[command(subcommand)]
        command: orientations::OrientationsCommand,
    },
    /// Reclamos: presentar, seguir con el código, gestionar (asignar, comentar, resolver),
    /// escalar los vencidos, apelar.
    Grievances {
        #[command(subcommand)]
        command: grievances::GrievancesCommand,
    },
    /// Referencias: generar desde una medición, exportar el reporte de una institución, embudo.
    Referrals {
        #[command(subcommand)]
        command: referrals::ReferralsCommand,
    },
    /// Solicitudes de cambio al registro con aprobación de otra cuenta (maker-checker).
    Changes {
        #[command(subcommand)]
        command: changes::ChangesCommand,
    },
    /// Contra-referencias: importar los servicios prestados que informan las instituciones.
    CounterReferrals {
        #[command(subcommand)]
        command: referrals::CounterReferralsCommand,
    },
    /// Puntos de atención de los servicios (dónde y cuándo ir): cargar y listar.
    DeliveryPoints {
        #[command(subcommand)]
        command: referrals::DeliveryPointsCommand,
    },
    /// Ruta de servicios de una persona: qué le falta, dónde ir y en qué orden.
    Route(referrals::RouteArgs),
    /// Copia de seguridad de la base (SQLite: archivo compacto; PostgreSQL: pg_dump -Fc).
    Backup(ops::BackupArgs),
    /// Restaura una copia hecha por «vamos backup» y verifica el registro de auditoría.
    Restore(ops::RestoreArgs),
}

#[derive(Subcommand)]
enum CatalogueCommand {
    /// Valida un catálogo (por defecto, el ilustrativo incluido) y muestra su versión.
    Check {
        /// Carpeta con catalogo.toml y servicios/*.toml.
        dir: Option<std::path::PathBuf>,
    },
    /// Escribe la clasificación y los Logros como una consulta SQL (dialecto DuckDB), generada
    /// de las mismas reglas compiladas: para verificar o comparar con otro motor.
    Sql {
        /// Carpeta del catálogo (por defecto, el ilustrativo incluido).
        dir: Option<std::path::PathBuf>,
        /// Fecha de referencia (AAAA-MM-DD).
        #[arg(long)]
        as_of: String,
    },
}

#[derive(Subcommand)]
enum DbCommand {
    /// Crea o actualiza el esquema (idempotente) y carga el territorio oficial.
    Init {
        /// Base de datos: sqlite:<archivo> o postgres://usuario@servidor/base
        #[arg(long, env = "VAMOS_DB", default_value = DEFAULT_DB)]
        db: String,
        /// Nombre del primer administrador, creado si no hay cuentas (contraseña de
        /// VAMOS_ADMIN_PASSWORD, o generada y mostrada una vez).
        #[arg(long, default_value = "admin")]
        admin: String,
    },
}

#[derive(Subcommand)]
enum ImportKindArg {
    /// Encuesta FIPS: hogares + miembros (carpeta, CSV, ZIP de ODK Central o XLSX de Kobo).
    Fips(commands::ImportArgs),
    /// Formulario simplificado (composición y ubicación del hogar, paso 1C).
    Simplificado(commands::ImportArgs),
    /// Formulario de Entorno (comunidades: localidades y barrios).
    Comunidades(commands::ImportArgs),
    /// Registros administrativos de instituciones (una fila por persona y evento de servicio).
    Admin(commands::ImportArgs),
}

#[derive(Subcommand)]
enum RegistryCommand {
    /// Conteos de personas, hogares y comunidades por territorio.
    Stats {
        /// Base de datos: sqlite:<archivo> o postgres://usuario@servidor/base
        #[arg(long, env = "VAMOS_DB", default_value = DEFAULT_DB)]
        db: String,
        /// PY (nación), DD (departamento) o DDdd (distrito).
        #[arg(long, default_value = "PY")]
        territory: String,
        /// Formato de salida.
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
    },
    /// Historial de importaciones (más recientes primero).
    Imports {
        /// Base de datos: sqlite:<archivo> o postgres://usuario@servidor/base
        #[arg(long, env = "VAMOS_DB", default_value = DEFAULT_DB)]
        db: String,
        /// Cuántas importaciones mostrar.
        #[arg(long, default_value_t = 20)]
        limit: u32,
        /// Formato de salida.
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
    },
    /// Historial de un hogar (sus versiones y las de sus miembros: fechas, origen, cambios) o de
    /// una comunidad (sus relevamientos).
    #[command(group(clap::ArgGroup::new("unidad").required(true).args(["household", "community"])))]
    History {
        /// Base de datos: sqlite:<archivo> o postgres://usuario@servidor/base
        #[arg(long, env = "VAMOS_DB", default_value = DEFAULT_DB)]
        db: String,
        /// Número del hogar.
        #[arg(long)]
        household: Option<i64>,
        /// Número de la comunidad.
        #[arg(long)]
        community: Option<i64>,
        /// Formato de salida.
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
    },
}

#[derive(Subcommand)]
enum TerritoryCommand {
    /// Lista departamentos y distritos con sus códigos oficiales.
    List {
        /// Sólo los distritos de este departamento (DD).
        #[arg(long)]
        department: Option<String>,
        /// Formato de salida.
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
    },
}

/// Spanish headings and help texts for clap's generated parts (usage, sections, -h, -V).
fn spanish(cmd: clap::Command, root: bool) -> clap::Command {
    let mut cmd = cmd
        .help_template("{about-with-newline}\nUso: {usage}\n\n{all-args}{after-help}")
        .subcommand_help_heading("Órdenes")
        .subcommand_value_name("ORDEN")
        .disable_help_subcommand(true)
        .disable_help_flag(true)
        .mut_args(|a| {
            let heading = if a.is_positional() {
                "Argumentos"
            } else {
                "Opciones"
            };
            a.help_heading(heading)
        })
        .arg(
            Arg::new("help")
                .short('h')
                .long("help")
                .action(ArgAction::Help)
                .help("Muestra esta ayuda")
                .help_heading("Opciones"),
        );
    if root {
        cmd = cmd.disable_version_flag(true).arg(
            Arg::new("version")
                .short('V')
                .long("version")
                .action(ArgAction::Version)
                .help("Muestra la versión")
                .help_heading("Opciones"),
        );
    }
    cmd.mut_subcommands(|c| spanish(c, false))
}

fn main() -> ExitCode {
    let matches = spanish(Cli::command(), true).get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(c) => c,
        Err(e) => e.exit(),
    };
    identity::set(cli.as_user);
    let result = match cli.command {
        Command::Db {
            command: DbCommand::Init { db, admin },
        } => commands::db_init(&db, &admin),
        Command::Synth(a) => commands::synth(&a),
        Command::Import { kind } => {
            let (k, a) = match kind {
                ImportKindArg::Fips(a) => (vamos_domain::ImportKind::Fips, a),
                ImportKindArg::Simplificado(a) => (vamos_domain::ImportKind::Simplificado, a),
                ImportKindArg::Comunidades(a) => (vamos_domain::ImportKind::Comunidades, a),
                ImportKindArg::Admin(a) => (vamos_domain::ImportKind::Admin, a),
            };
            commands::import(k, &a)
        }
        Command::Registry {
            command:
                RegistryCommand::Stats {
                    db,
                    territory,
                    format,
                },
        } => commands::stats(&db, &territory, format),
        Command::Registry {
            command: RegistryCommand::Imports { db, limit, format },
        } => commands::imports(&db, limit, format),
        Command::Registry {
            command:
                RegistryCommand::History {
                    db,
                    household,
                    community,
                    format,
                },
        } => match (household, community) {
            (Some(h), _) => commands::history(&db, h, format),
            (None, Some(c)) => commands::community_history(&db, c, format),
            (None, None) => Err(anyhow::anyhow!("indique --household o --community")),
        },
        Command::Territory {
            command: TerritoryCommand::List { department, format },
        } => commands::territory_list(department.as_deref(), format),
        Command::Catalogue {
            command: CatalogueCommand::Check { dir },
        } => measure::catalogue_check(dir.as_ref()),
        Command::Catalogue {
            command: CatalogueCommand::Sql { dir, as_of },
        } => measure::catalogue_sql(dir.as_ref(), &as_of),
        Command::Classify(a) => measure::classify(&a),
        Command::Measurements { command } => measure::measurements(&command),
        Command::Logros(a) => measure::logros(&a),
        Command::Units(a) => units::units(&a),
        Command::Cost(a) => cost::cost(&a),
        Command::Targets { command } => targets::targets(&command),
        Command::Plan { command } => plans::plan(&command),
        Command::Ipm(a) => ipm::ipm(&a),
        Command::Linkage(a) => linkage::linkage(&a),
        Command::Budget { command } => budget::budget(&command),
        Command::Governance { command } => governance::governance(&command),
        Command::Report(a) => reports::report(&a),
        Command::Microdata(a) => reports::microdata(&a),
        Command::ManagementAgreements { command } => {
            management_agreements::management_agreements(&command)
        }
        Command::Explain(a) => measure::explain(&a),
        Command::Demo(a) => commands::demo(&a),
        Command::Serve(a) => serve::serve(&a),
        Command::User { command } => admin::user(&command),
        Command::Token { command } => admin::token(&command),
        Command::Agreement { command } => admin::agreement(&command),
        Command::Audit { command } => admin::audit(&command),
        Command::Dci { command } => ops::dci_command(&command),
        Command::Cases { command } => cases::cases(&command),
        Command::Barriers { command } => barriers::run(&command),
        Command::Orientations { command } => orientations::orientations(&command),
        Command::Grievances { command } => grievances::grievances(&command),
        Command::Referrals { command } => referrals::referrals(&command),
        Command::CounterReferrals { command } => referrals::counter_referrals(&command),
        Command::Changes { command } => changes::changes(&command),
        Command::DeliveryPoints { command } => referrals::delivery_points(&command),
        Command::Route(a) => referrals::route(&a),
        Command::Backup(a) => ops::backup(&a),
        Command::Restore(a) => ops::restore(&a),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// Paths given on the command line.
pub type Paths = Vec<PathBuf>;
