//! `vamos serve`: the one module of the command line that starts the HTTP server (the demo ends
//! through it). Every other command calls `vamos-app` directly and links no HTTP stack.

use anyhow::Result;
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;
use vamos_server::config::{RawConfig, Settings};

#[derive(Args)]
pub struct ServeArgs {
    /// Base de datos: sqlite:<archivo> o postgres://usuario@servidor/base
    #[arg(long)]
    pub db: Option<String>,
    /// Dirección IP:PUERTO donde escuchar (127.0.0.1:8080 por defecto; puerto 0 = uno libre).
    #[arg(long)]
    pub addr: Option<String>,
    /// Archivo de configuración TOML (las variables VAMOS_* y las opciones lo reemplazan).
    #[arg(long, env = "VAMOS_CONFIG")]
    pub config: Option<PathBuf>,
    /// Carpeta del catálogo (por defecto, el ilustrativo incluido).
    #[arg(long)]
    pub catalogue: Option<PathBuf>,
}

/// `vamos serve`: file → VAMOS_* → flags, validated, then the server until Ctrl-C / SIGTERM.
pub fn serve(a: &ServeArgs) -> Result<ExitCode> {
    let file = match &a.config {
        Some(p) => RawConfig::from_file(p)?,
        None => RawConfig::default(),
    };
    let env = RawConfig::from_env(std::env::vars())?;
    let flags = RawConfig {
        db: a.db.clone(),
        addr: a.addr.clone(),
        catalogue: a.catalogue.clone(),
        ..Default::default()
    };
    let settings = Settings::try_from(file.merge(env).merge(flags))?;
    vamos_server::serve_blocking(settings, |addr| {
        // The one line scripts wait for; stdout, not the JSON log.
        println!("Vamos escuchando en http://{addr}");
    })?;
    Ok(ExitCode::SUCCESS)
}
