//! `vamos serve`: the one module of the command line that starts the HTTP server (the demo ends
//! through it). Every other command calls `vamos-app` directly and links no HTTP stack.

use anyhow::Result;
use clap::Args;
use serde::Serialize;
use std::path::PathBuf;
use std::process::ExitCode;
use vamos_server::config::{RawConfig, Settings};

/// The flags are the top configuration layer as they are: each field is named after its key,
/// and one left unset is left out so that it does not erase the file's or the environment's.
#[derive(Args, Serialize)]
pub struct ServeArgs {
    /// Base de datos: sqlite:<archivo> o postgres://usuario@servidor/base
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub db: Option<String>,
    /// Dirección IP:PUERTO donde escuchar (127.0.0.1:8080 por defecto; puerto 0 = uno libre).
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub addr: Option<String>,
    /// Archivo de configuración TOML (las variables VAMOS_* y las opciones lo reemplazan).
    #[arg(long, env = "VAMOS_CONFIG")]
    #[serde(skip)]
    pub config: Option<PathBuf>,
    /// Carpeta del catálogo (por defecto, el ilustrativo incluido).
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub catalogue: Option<PathBuf>,
}

/// `vamos serve`: file → VAMOS_* → flags, validated, then the server until Ctrl-C / SIGTERM.
pub fn serve(a: &ServeArgs) -> Result<ExitCode> {
    let settings = Settings::try_from(RawConfig::layered(a.config.as_deref(), a)?)?;
    vamos_server::serve_blocking(settings, |addr| {
        // The one line scripts wait for; stdout, not the JSON log.
        println!("Vamos escuchando en http://{addr}");
    })?;
    Ok(ExitCode::SUCCESS)
}
