//! `vamos`: the command line of the Vamos social information system.
//!
//! Thin glue over the library crates: parse arguments, open the store named by `--db`, call
//! the library, print the result in Spanish (or JSON for machines). The clock is read here and
//! only here, and passed down as dates.

mod commands;
mod output;

use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;

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
    /// Demostración: los cuatro distritos piloto (SINTÉTICOS) en una base SQLite local.
    Demo(commands::DemoArgs),
}

#[derive(Subcommand)]
enum DbCommand {
    /// Crea o actualiza el esquema (idempotente) y carga el territorio oficial.
    Init {
        #[arg(long, env = "VAMOS_DB", default_value = DEFAULT_DB)]
        db: String,
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
        #[arg(long, env = "VAMOS_DB", default_value = DEFAULT_DB)]
        db: String,
        /// PY (nación), DD (departamento) o DDdd (distrito).
        #[arg(long, default_value = "PY")]
        territory: String,
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
    },
    /// Historial de importaciones (más recientes primero).
    Imports {
        #[arg(long, env = "VAMOS_DB", default_value = DEFAULT_DB)]
        db: String,
        #[arg(long, default_value_t = 20)]
        limit: u32,
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
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Db {
            command: DbCommand::Init { db },
        } => commands::db_init(&db),
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
        Command::Territory {
            command: TerritoryCommand::List { department, format },
        } => commands::territory_list(department.as_deref(), format),
        Command::Demo(a) => commands::demo(&a),
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
