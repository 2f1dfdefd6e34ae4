//! Operations commands: DCI senders and signing keys (`vamos dci …`) and backups of either
//! store (`vamos backup`, `vamos restore`).

use crate::admin::{open, DB_HELP};
use crate::identity::actor;
use anyhow::{anyhow, bail, Context, Result};
use clap::Subcommand;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use vamos_app::backup;
use vamos_app::dci::{self as senders, NewSender};
use vamos_app::dci_signing as dci;

#[derive(Subcommand)]
pub enum DciCommand {
    /// Genera un par de claves ed25519: la privada (semilla base64) va al archivo, la pública se imprime.
    Keygen {
        /// Archivo donde guardar la clave privada (se crea con permisos 0600; no se sobrescribe).
        #[arg(long)]
        out: PathBuf,
    },
    /// Emisores DCI: qué cuenta habla por cada sender_id, su clave pública y su URL de retorno.
    Sender {
        #[command(subcommand)]
        command: SenderCommand,
    },
    /// Firma un sobre DCI {header, message} leído de la entrada estándar y lo imprime con signature.
    Sign {
        /// Archivo con la clave privada (vamos dci keygen).
        #[arg(long)]
        key: PathBuf,
        /// Identificador del emisor (el sender_id del encabezado).
        #[arg(long)]
        sender: String,
        /// Identificador de la clave dentro del emisor.
        #[arg(long, default_value = "1")]
        key_id: String,
        /// Segundos de validez de la firma.
        #[arg(long, default_value_t = 300)]
        ttl: i64,
    },
}

#[derive(Subcommand)]
pub enum SenderCommand {
    /// Registra (o actualiza) un emisor DCI.
    Add {
        #[arg(long, env = "VAMOS_DB", default_value = crate::DEFAULT_DB, help = DB_HELP)]
        db: String,
        /// sender_id del emisor (p. ej. his.mspbs.gov.py).
        #[arg(long)]
        id: String,
        /// Cuenta cuyos tokens de API hablan por el emisor (rol con permiso dci).
        #[arg(long)]
        user: String,
        /// Clave pública ed25519 en base64: con ella, los mensajes sin firma válida se rechazan.
        #[arg(long)]
        public_key: Option<String>,
        /// URL bajo la cual reciben las respuestas asíncronas y notificaciones (https://…).
        #[arg(long)]
        callback_base: Option<String>,
    },
    /// Lista los emisores.
    List {
        #[arg(long, env = "VAMOS_DB", default_value = crate::DEFAULT_DB, help = DB_HELP)]
        db: String,
    },
    /// Desactiva un emisor (sus mensajes se rechazan con err.sender_id.invalid).
    Disable {
        #[arg(long, env = "VAMOS_DB", default_value = crate::DEFAULT_DB, help = DB_HELP)]
        db: String,
        id: String,
    },
}

pub fn dci_command(cmd: &DciCommand) -> Result<ExitCode> {
    match cmd {
        DciCommand::Keygen { out } => {
            if out.exists() {
                bail!("{} ya existe: no se sobrescribe una clave", out.display());
            }
            let (secret, public) = dci::keygen()?;
            write_private(out, &secret)?;
            eprintln!(
                "Clave privada guardada en {} (no la comparta). Clave pública:",
                out.display()
            );
            println!("{public}");
        }
        DciCommand::Sign {
            key,
            sender,
            key_id,
            ttl,
        } => {
            let text = std::fs::read_to_string(key)
                .with_context(|| format!("no se pudo leer {}", key.display()))?;
            let key = dci::read_signing_key(&text)?;
            let mut input = String::new();
            std::io::stdin().read_to_string(&mut input)?;
            let mut env: serde_json::Value = serde_json::from_str(&input)
                .map_err(|e| anyhow!("la entrada no es un JSON válido: {e}"))?;
            let (Some(h), Some(m)) = (env.get("header").cloned(), env.get("message").cloned())
            else {
                bail!("el sobre necesita header y message");
            };
            let now = vamos_app::clock::now().timestamp();
            let sig = dci::sign(&key, sender, key_id, &h, &m, now, (*ttl).clamp(1, 86_400));
            if let Some(o) = env.as_object_mut() {
                o.insert("signature".into(), sig.into());
            }
            println!("{env}");
        }
        DciCommand::Sender { command } => sender(command)?,
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes a secret file readable only by its owner.
fn write_private(path: &Path, text: &str) -> Result<()> {
    use std::io::Write;
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    let mut f = o
        .open(path)
        .with_context(|| format!("no se pudo crear {}", path.display()))?;
    writeln!(f, "{text}")?;
    Ok(())
}

fn sender(cmd: &SenderCommand) -> Result<()> {
    match cmd {
        SenderCommand::Add {
            db,
            id,
            user,
            public_key,
            callback_base,
        } => {
            let mut s = open(db)?;
            let new = NewSender {
                id: id.clone(),
                username: user.clone(),
                public_key: public_key.clone(),
                callback_base: callback_base.clone(),
            };
            let who = actor(s.as_mut())?;
            senders::add_sender(s.as_mut(), &who, &new)?;
            println!(
                "Emisor {id} registrado para «{user}»{}{}.",
                if public_key.is_some() {
                    ", con firma obligatoria"
                } else {
                    ", SIN firma (solo token)"
                },
                callback_base
                    .as_ref()
                    .map(|c| format!(", respuestas a {c}"))
                    .unwrap_or_default()
            );
        }
        SenderCommand::List { db } => {
            let mut s = open(db)?;
            let who = actor(s.as_mut())?;
            let list = senders::senders(s.as_mut(), &who)?;
            println!(
                "{:<28} {:<16} {:<8} {:<8} retorno",
                "emisor", "cuenta", "firma", "estado"
            );
            for x in list {
                println!(
                    "{:<28} {:<16} {:<8} {:<8} {}",
                    x.sender_id,
                    x.username,
                    if x.public_key.is_some() {
                        "ed25519"
                    } else {
                        "no"
                    },
                    if x.active { "activo" } else { "inactivo" },
                    x.callback_base.unwrap_or_else(|| "—".into())
                );
            }
        }
        SenderCommand::Disable { db, id } => {
            let mut s = open(db)?;
            let who = actor(s.as_mut())?;
            let done = senders::disable_sender(s.as_mut(), &who, id)?;
            if !done {
                bail!("no existe el emisor «{id}»");
            }
            println!("Emisor {id} desactivado.");
        }
    }
    Ok(())
}

// ---------------------------------------------------------------- backup and restore

#[derive(clap::Args)]
pub struct BackupArgs {
    #[arg(long, env = "VAMOS_DB", default_value = crate::DEFAULT_DB, help = DB_HELP)]
    pub db: String,
    /// Archivo de la copia (SQLite: una base SQLite compacta; PostgreSQL: formato de pg_dump -Fc).
    #[arg(long)]
    pub out: PathBuf,
}

#[derive(clap::Args)]
pub struct RestoreArgs {
    /// Base de destino. SQLite: el archivo no debe existir (salvo --force). PostgreSQL: una base
    /// existente; sus tablas se reemplazan por las de la copia.
    #[arg(long, env = "VAMOS_DB", default_value = crate::DEFAULT_DB, help = DB_HELP)]
    pub db: String,
    /// Reemplaza una base SQLite existente.
    #[arg(long)]
    pub force: bool,
    /// Archivo hecho por vamos backup.
    pub file: PathBuf,
}

fn sqlite_path(url: &str) -> Option<&str> {
    url.strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
}

fn is_postgres(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// Runs a PostgreSQL client tool, with a clear error when it is missing.
fn run_tool(tool: &str, args: &[&str]) -> Result<()> {
    let out = std::process::Command::new(tool)
        .args(args)
        .output()
        .map_err(|e| {
            anyhow!("no se pudo ejecutar {tool} ({e}): instale el cliente de PostgreSQL (paquete postgresql-client)")
        })?;
    if !out.status.success() {
        bail!(
            "{tool} falló: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

pub fn backup(a: &BackupArgs) -> Result<ExitCode> {
    if a.out.exists() {
        bail!("{} ya existe: elija otro nombre", a.out.display());
    }
    let mut s = open(&a.db)?;
    let who = actor(s.as_mut())?;
    let started = std::time::Instant::now();
    // Recorded in the database before the copy, so that the copy carries it.
    let checkpoint = backup::record_checkpoint(s.as_mut())?;
    if sqlite_path(&a.db).is_some() {
        // A consistent, compacted copy while others may keep reading and writing.
        let path = a
            .out
            .to_str()
            .ok_or_else(|| anyhow!("ruta de salida no es UTF-8"))?;
        backup::copy_sqlite(s.as_mut(), path)?;
    } else if is_postgres(&a.db) {
        let out = a
            .out
            .to_str()
            .ok_or_else(|| anyhow!("ruta de salida no es UTF-8"))?;
        run_tool("pg_dump", &["-Fc", "--no-owner", "-f", out, &a.db])?;
    } else {
        bail!("base desconocida: {}", a.db);
    }
    let size = std::fs::metadata(&a.out).map(|m| m.len()).unwrap_or(0);
    backup::record_backup(s.as_mut(), &who, size)?;
    eprintln!(
        "Copia escrita en {} ({:.1} MB, {:.1} s). Contiene datos personales: guárdela cifrada y con acceso restringido.",
        a.out.display(),
        size as f64 / 1e6,
        started.elapsed().as_secs_f64()
    );
    if let Some(c) = &checkpoint {
        eprintln!(
            "La copia lleva el punto de control de auditoría: {}.",
            crate::admin::describe_checkpoint(c)
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub fn restore(a: &RestoreArgs) -> Result<ExitCode> {
    let mut head = [0u8; 16];
    let n = std::fs::File::open(&a.file)
        .with_context(|| format!("no se pudo abrir {}", a.file.display()))?
        .read(&mut head)?;
    let head = head.get(..n).unwrap_or_default();
    let is_sqlite_file = head.starts_with(b"SQLite format 3\0");
    let is_pg_dump = head.starts_with(b"PGDMP");
    // The key that sealed the copy must be at hand before anything is replaced (a copy of the
    // other backend is refused below, before that).
    if (sqlite_path(&a.db).is_some() && is_sqlite_file) || (is_postgres(&a.db) && is_pg_dump) {
        crate::admin::install_audit(&a.db, true)?;
    }
    if let Some(path) = sqlite_path(&a.db) {
        if !is_sqlite_file {
            bail!(
                "{} no es una copia de SQLite (¿es de PostgreSQL? restáurela en una base postgres://)",
                a.file.display()
            );
        }
        let target = Path::new(path);
        if target.exists() && !a.force {
            bail!("{path} ya existe: use --force para reemplazarla");
        }
        let tmp = target.with_extension("restaurando");
        std::fs::copy(&a.file, &tmp)
            .with_context(|| format!("no se pudo copiar a {}", tmp.display()))?;
        {
            let tmp_url = format!("sqlite:{}", tmp.display());
            let mut s = vamos_store::open(&tmp_url)?;
            let ok = backup::integrity_check(s.as_mut())?;
            if ok != "ok" || !s.is_ready()? {
                let _ = std::fs::remove_file(&tmp);
                bail!("la copia está dañada o no es una base de Vamos ({ok})");
            }
        }
        // The replaced database's write-ahead log must not be replayed onto the copy.
        for side in ["wal", "shm"] {
            let _ = std::fs::remove_file(format!("{path}-{side}"));
        }
        std::fs::rename(&tmp, target).with_context(|| format!("no se pudo reemplazar {path}"))?;
    } else if is_postgres(&a.db) {
        if !is_pg_dump {
            bail!(
                "{} no es una copia de PostgreSQL (pg_dump -Fc); ¿es de SQLite? restáurela en sqlite:<archivo>",
                a.file.display()
            );
        }
        let file = a.file.to_str().ok_or_else(|| anyhow!("ruta no es UTF-8"))?;
        run_tool(
            "pg_restore",
            &[
                "--clean",
                "--if-exists",
                "--no-owner",
                "--single-transaction",
                "--exit-on-error",
                "-d",
                &a.db,
                file,
            ],
        )?;
    } else {
        bail!("base desconocida: {}", a.db);
    }
    let mut s = open(&a.db)?;
    let who = actor(s.as_mut())?;
    let restored = backup::record_restore(s.as_mut(), &who)?;
    eprintln!(
        "Copia restaurada en {}. {}",
        a.db,
        match (&restored.checkpoint, &restored.other_key) {
            (Some(c), _) => format!(
                "Restaurada al punto de control de auditoría de la copia: {}.",
                crate::admin::describe_checkpoint(c)
            ),
            (None, Some(other)) => format!(
                "La copia trae puntos de control sellados con otra clave ({other}): restáurela con la clave que la selló (VAMOS_AUDIT_KEY_FILE)."
            ),
            (None, None) => "La copia no trae punto de control de auditoría (es anterior a ellos): el punto de control parte de la cadena restaurada.".into(),
        }
    );
    let chain = &restored.chain;
    eprintln!(
        "Registro de auditoría: {}.",
        match &chain.broken {
            None => format!("íntegro, {} registros", chain.rows),
            Some((0, why)) => format!("ROTO: {why}"),
            Some((id, why)) => format!("ROTO en el registro {id}: {why}"),
        }
    );
    Ok(ExitCode::SUCCESS)
}
