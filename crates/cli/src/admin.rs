//! Administration commands: `user`, `token`, `agreement`, `audit` — glue over the use cases of
//! `vamos_app::accounts` and `vamos_app::audit`, which check the permission and write the audit
//! records.

use anyhow::{anyhow, bail, Context, Result};
use clap::Subcommand;
use std::path::PathBuf;
use std::process::ExitCode;
use vamos_app::accounts::{self as api, AgreementBody, NewTokenBody, NewUserBody};
use vamos_app::audit::{self as chain, AuditConfig, AuditFiles, AuditQuery};
use vamos_store::Store;

/// Opens an initialised database for a command that writes audit records: without the audit
/// chain's key, or a checkpoint it can keep, the command does not start.
pub(crate) fn open(db: &str) -> Result<Box<dyn Store>> {
    let s = open_ready(db)?;
    install_audit(db, true)?;
    Ok(s)
}

/// Opens an initialised database, and installs its audit configuration if it can be read (for
/// `audit verify`, which writes nothing).
fn open_ready(db: &str) -> Result<Box<dyn Store>> {
    let mut s = vamos_store::open(db).with_context(|| format!("no se pudo abrir {db}"))?;
    if !s.is_ready()? {
        bail!("la base de datos no está inicializada: ejecute «vamos db init --db {db}»");
    }
    Ok(s)
}

/// Opens a database for a command that writes audit records once it runs (imports,
/// classification, referrals): as [`open`] when it is initialised; an uninitialised one is
/// left for the command to report as it always has.
pub(crate) fn connect(db: &str) -> Result<Box<dyn Store>> {
    let mut s = vamos_store::open(db).with_context(|| format!("no se pudo abrir {db}"))?;
    if s.is_ready()? {
        install_audit(db, true)?;
    }
    Ok(s)
}

/// Installs the audit configuration of `db` for this process (the files named by
/// `VAMOS_AUDIT_KEY_FILE` and `VAMOS_AUDIT_CHECKPOINT_FILE`, else the defaults); a writer also
/// checks that it can keep the checkpoint.
pub(crate) fn install_audit(db: &str, writes: bool) -> Result<()> {
    let config = AuditConfig::load(db, &AuditFiles::from_env()).map_err(api_err)?;
    if writes {
        config.checkpoint.check_writable().map_err(api_err)?;
    }
    vamos_app::audit::install(std::sync::Arc::new(config));
    Ok(())
}

pub(crate) fn api_err(e: vamos_app::Error) -> anyhow::Error {
    anyhow!("{}", e.message)
}

pub(crate) const DB_HELP: &str =
    "Base de datos: sqlite:<archivo> o postgres://usuario@servidor/base";

#[derive(Subcommand)]
pub enum UserCommand {
    /// Crea una cuenta. La contraseña se lee de VAMOS_PASSWORD o se genera y se muestra una vez.
    Create {
        #[arg(long, env = "VAMOS_DB", default_value = crate::DEFAULT_DB, help = DB_HELP)]
        db: String,
        /// Nombre de usuario (letras, números, '.', '_', '-', '@').
        username: String,
        /// Rol: administrador, analista, coordinador, operador, mesa, supervisor (coordinador de Mesa), encuestador, orientador, planificador o autoridad.
        #[arg(long)]
        role: String,
        /// Institución del catálogo (obligatoria para operadores), p. ej. MSPBS.
        #[arg(long)]
        institution: Option<String>,
        /// Territorios separados por comas: DD (departamento) o DDdd (distrito); vacío = nacional
        /// (no para operador, mesa ni orientador, que necesitan territorios).
        #[arg(long, default_value = "")]
        territories: String,
        /// Nombre para mostrar.
        #[arg(long)]
        name: Option<String>,
    },
    /// Lista las cuentas.
    List {
        #[arg(long, env = "VAMOS_DB", default_value = crate::DEFAULT_DB, help = DB_HELP)]
        db: String,
    },
    /// Desactiva una cuenta (y cierra sus sesiones).
    Disable {
        #[arg(long, env = "VAMOS_DB", default_value = crate::DEFAULT_DB, help = DB_HELP)]
        db: String,
        username: String,
    },
    /// Reactiva una cuenta.
    Enable {
        #[arg(long, env = "VAMOS_DB", default_value = crate::DEFAULT_DB, help = DB_HELP)]
        db: String,
        username: String,
    },
    /// Cambia la contraseña (de VAMOS_PASSWORD, o generada y mostrada una vez), desbloquea la
    /// cuenta y cierra todas sus sesiones (sus tokens de API siguen: «vamos token revoke»).
    Password {
        #[arg(long, env = "VAMOS_DB", default_value = crate::DEFAULT_DB, help = DB_HELP)]
        db: String,
        username: String,
    },
}

/// A password from the environment variable `var`, or a generated one (`true`: print it once).
fn password_input(var: &str) -> Result<(String, bool)> {
    match std::env::var(var) {
        Ok(p) if !p.is_empty() => Ok((p, false)),
        _ => Ok((format!("Vm-{}", vamos_app::accounts::random_hex(12)?), true)),
    }
}

pub fn user(cmd: &UserCommand) -> Result<ExitCode> {
    match cmd {
        UserCommand::Create {
            db,
            username,
            role,
            institution,
            territories,
            name,
        } => {
            let mut s = open(db)?;
            let catalogue = crate::measure::load_catalogue(None)?;
            let (password, generated) = password_input("VAMOS_PASSWORD")?;
            let body = NewUserBody {
                username: username.clone(),
                display_name: name.clone(),
                password: password.clone(),
                role: role.clone(),
                institution: institution.clone(),
                territories: Some(territories.clone()),
            };
            let actor = crate::identity::actor(s.as_mut())?;
            let id = api::create_user(s.as_mut(), &actor, &catalogue, &body).map_err(api_err)?;
            println!("Cuenta «{username}» creada (número {id}, rol {role}).");
            if generated {
                println!("Contraseña (se muestra una sola vez): {password}");
            }
        }
        UserCommand::List { db } => {
            let mut s = open(db)?;
            let actor = crate::identity::actor(s.as_mut())?;
            let users = api::users(s.as_mut(), &actor)?;
            println!(
                "{:<20} {:<14} {:<10} {:<16} {:<7} bloqueada hasta",
                "usuario", "rol", "institución", "territorios", "activa"
            );
            for u in users {
                println!(
                    "{:<20} {:<14} {:<10} {:<16} {:<7} {}",
                    u.username,
                    u.role,
                    u.institution.unwrap_or_default(),
                    if u.territories.is_empty() {
                        "nacional".into()
                    } else {
                        u.territories
                    },
                    if u.active { "sí" } else { "no" },
                    u.locked_until.unwrap_or_default()
                );
            }
        }
        UserCommand::Disable { db, username } | UserCommand::Enable { db, username } => {
            let active = matches!(cmd, UserCommand::Enable { .. });
            let mut s = open(db)?;
            let actor = crate::identity::actor(s.as_mut())?;
            api::set_active(s.as_mut(), &actor, username, active)?;
            println!(
                "Cuenta «{username}» {}.",
                if active {
                    "reactivada"
                } else {
                    "desactivada; sus sesiones se cerraron"
                }
            );
        }
        UserCommand::Password { db, username } => {
            let mut s = open(db)?;
            let actor = crate::identity::actor(s.as_mut())?;
            let (password, generated) = password_input("VAMOS_PASSWORD")?;
            let ended =
                api::set_password(s.as_mut(), &actor, username, &password).map_err(api_err)?;
            println!(
                "Contraseña de «{username}» cambiada; la cuenta queda desbloqueada y sus \
                 sesiones abiertas ({ended}) se cerraron."
            );
            if generated {
                println!("Contraseña (se muestra una sola vez): {password}");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Subcommand)]
pub enum TokenCommand {
    /// Crea un token de API para la cuenta de un sistema institucional; se imprime una sola vez.
    Create {
        #[arg(long, env = "VAMOS_DB", default_value = crate::DEFAULT_DB, help = DB_HELP)]
        db: String,
        /// Cuenta dueña del token (el token actúa con su rol, institución y territorios).
        #[arg(long)]
        user: String,
        /// Nombre descriptivo (p. ej. «sistema HIS del MSPBS»).
        #[arg(long)]
        name: String,
        /// Alcances separados por comas: registro:leer, estatus:leer, logros:leer, catalogo:leer, auditoria:leer, usuarios:administrar, dci.
        #[arg(long)]
        scopes: String,
        /// Días de vigencia (1 a 730).
        #[arg(long, default_value_t = 90)]
        days: i64,
    },
    /// Lista los tokens (nunca sus secretos).
    List {
        #[arg(long, env = "VAMOS_DB", default_value = crate::DEFAULT_DB, help = DB_HELP)]
        db: String,
    },
    /// Revoca un token por número o prefijo.
    Revoke {
        #[arg(long, env = "VAMOS_DB", default_value = crate::DEFAULT_DB, help = DB_HELP)]
        db: String,
        token: String,
    },
}

pub fn token(cmd: &TokenCommand) -> Result<ExitCode> {
    match cmd {
        TokenCommand::Create {
            db,
            user,
            name,
            scopes,
            days,
        } => {
            let mut s = open(db)?;
            let body = NewTokenBody {
                username: user.clone(),
                name: name.clone(),
                scopes: scopes
                    .split(',')
                    .map(|x| x.trim().to_string())
                    .filter(|x| !x.is_empty())
                    .collect(),
                days: Some(*days),
            };
            let actor = crate::identity::actor(s.as_mut())?;
            let (id, secret, expires) =
                api::create_token(s.as_mut(), &actor, &body).map_err(api_err)?;
            eprintln!("Token {id} para «{user}», vence {expires}. Guárdelo ahora: no se vuelve a mostrar.");
            println!("{secret}");
        }
        TokenCommand::List { db } => {
            let mut s = open(db)?;
            let actor = crate::identity::actor(s.as_mut())?;
            let tokens = api::tokens(s.as_mut(), &actor)?;
            println!(
                "{:>4} {:<14} {:<16} {:<28} {:<22} estado",
                "nº", "prefijo", "cuenta", "alcances", "vence"
            );
            for t in tokens {
                println!(
                    "{:>4} {:<14} {:<16} {:<28} {:<22} {}",
                    t.id,
                    t.prefix,
                    t.username,
                    t.scopes.join(","),
                    t.expires_at,
                    t.revoked_at
                        .map(|r| format!("revocado {r}"))
                        .unwrap_or_else(|| "vigente".into())
                );
            }
        }
        TokenCommand::Revoke { db, token } => {
            let mut s = open(db)?;
            let actor = crate::identity::actor(s.as_mut())?;
            let done = api::revoke_token(s.as_mut(), &actor, token)?;
            if !done {
                bail!("no hay un token vigente «{token}»");
            }
            println!("Token {token} revocado.");
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Subcommand)]
pub enum AgreementCommand {
    /// Registra un acuerdo de intercambio de datos: qué campos de las personas ve una institución.
    Create {
        #[arg(long, env = "VAMOS_DB", default_value = crate::DEFAULT_DB, help = DB_HELP)]
        db: String,
        /// Institución del catálogo (p. ej. MSPBS).
        #[arg(long)]
        institution: String,
        /// Campos separados por comas (p. ej. id,given_names,family_names,national_id,birth_date).
        /// Las clases sensibles son campos como los demás: embarazada, indigena, discapacidad,
        /// pobreza; sin ellas la institución no las ve en referencias ni explicaciones, y sólo
        /// filtra u ordena por campos que ve.
        #[arg(long)]
        fields: String,
        /// Finalidad del intercambio.
        #[arg(long)]
        purpose: String,
        /// Vigente desde (AAAA-MM-DD).
        #[arg(long)]
        from: String,
        /// Vigente hasta (AAAA-MM-DD).
        #[arg(long)]
        to: String,
        /// Referencia del convenio (número de resolución, etc.).
        #[arg(long)]
        reference: Option<String>,
    },
    /// Lista los acuerdos.
    List {
        #[arg(long, env = "VAMOS_DB", default_value = crate::DEFAULT_DB, help = DB_HELP)]
        db: String,
    },
}

pub fn agreement(cmd: &AgreementCommand) -> Result<ExitCode> {
    match cmd {
        AgreementCommand::Create {
            db,
            institution,
            fields,
            purpose,
            from,
            to,
            reference,
        } => {
            let mut s = open(db)?;
            let catalogue = crate::measure::load_catalogue(None)?;
            let body = AgreementBody {
                institution: institution.clone(),
                fields: fields
                    .split(',')
                    .map(|x| x.trim().to_string())
                    .filter(|x| !x.is_empty())
                    .collect(),
                purpose: purpose.clone(),
                valid_from: from.clone(),
                valid_to: to.clone(),
                reference: reference.clone(),
            };
            let actor = crate::identity::actor(s.as_mut())?;
            let id =
                api::create_agreement(s.as_mut(), &actor, &catalogue, &body).map_err(api_err)?;
            println!(
                "Acuerdo {id} registrado para {institution}: {} campos, vigente {from} a {to}.",
                body.fields.len()
            );
        }
        AgreementCommand::List { db } => {
            let mut s = open(db)?;
            let actor = crate::identity::actor(s.as_mut())?;
            for a in api::agreements(s.as_mut(), &actor)? {
                println!(
                    "{:>3} {:<8} {} a {} — {} — campos: {}",
                    a.id,
                    a.institution,
                    a.valid_from,
                    a.valid_to,
                    a.purpose,
                    a.fields.join(",")
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Subcommand)]
pub enum AuditCommand {
    /// Verifica la cadena sellada con la clave y su punto de control: sale con 0 si está íntegra; si no, nombra el primer registro roto.
    Verify {
        #[arg(long, env = "VAMOS_DB", default_value = crate::DEFAULT_DB, help = DB_HELP)]
        db: String,
    },
    /// La clave con que se sella la cadena de auditoría.
    Key {
        #[command(subcommand)]
        command: AuditKeyCommand,
    },
    /// Exporta el registro de auditoría en CSV (para el responsable de protección de datos).
    Export {
        #[arg(long, env = "VAMOS_DB", default_value = crate::DEFAULT_DB, help = DB_HELP)]
        db: String,
        /// Archivo de salida (por defecto, la salida estándar).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Desde (RFC 3339, p. ej. 2026-11-01T00:00:00Z).
        #[arg(long)]
        from: Option<String>,
        /// Hasta (RFC 3339).
        #[arg(long)]
        to: Option<String>,
    },
}

#[derive(Subcommand)]
pub enum AuditKeyCommand {
    /// Crea la clave (32 bytes al azar, permisos 0600; nunca sobre una existente) en --out, en VAMOS_AUDIT_KEY_FILE o, para una base SQLite, junto a ella.
    Init {
        #[arg(long, env = "VAMOS_DB", default_value = crate::DEFAULT_DB, help = DB_HELP)]
        db: String,
        /// Archivo de la clave (fuera del servidor de la base y de sus copias).
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

/// The checkpoint in a sentence.
pub(crate) fn describe_checkpoint(c: &chain::Checkpoint) -> String {
    format!(
        "{} registros, el último el {} (sello {}…), sellado el {} con la clave {}",
        c.rows,
        c.head_id,
        c.head_hash.get(..16).unwrap_or(&c.head_hash),
        c.at,
        c.key_id
    )
}

/// `vamos audit verify`: exit code 0 when intact, 1 naming the first problem.
fn verify(db: &str) -> Result<ExitCode> {
    let mut s = open_ready(db)?;
    install_audit(db, false)?;
    let actor = crate::identity::actor(s.as_mut())?;
    let v = chain::check_chain(s.as_mut(), &actor)?;
    match v.broken {
        None => {
            println!(
                "Registro de auditoría íntegro: {} registros; último sello {}.",
                v.rows,
                v.head.unwrap_or_else(|| "—".into())
            );
            if let Some(c) = &v.checkpoint {
                println!("Punto de control: {}.", describe_checkpoint(c));
            }
            if v.unkeyed_rows > 0 {
                println!(
                    "Los primeros {} registros son anteriores a la clave (sellados sin ella y anclados por el primero sellado con ella).",
                    v.unkeyed_rows
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Some((0, why)) => {
            eprintln!("Registro de auditoría ROTO: {why}.");
            Ok(ExitCode::from(1))
        }
        Some((id, why)) => {
            eprintln!("Registro de auditoría ROTO: primer registro inválido {id}: {why}.");
            Ok(ExitCode::from(1))
        }
    }
}

pub fn audit(cmd: &AuditCommand) -> Result<ExitCode> {
    match cmd {
        AuditCommand::Verify { db } => verify(db),
        AuditCommand::Key {
            command: AuditKeyCommand::Init { db, out },
        } => {
            let (path, id) = chain::create_key_for(db, &AuditFiles::from_env(), out.as_deref())
                .map_err(api_err)?;
            println!(
                "Clave de auditoría {id} creada en {} (permisos 0600). Guárdela fuera de la base y de sus copias: sin ella no se verifica la cadena. Indíquela a cada orden y al servidor con VAMOS_AUDIT_KEY_FILE{}.",
                path.display(),
                if out.is_some() { "" } else { " (o déjela donde está, junto a la base SQLite)" }
            );
            Ok(ExitCode::SUCCESS)
        }
        AuditCommand::Export { db, out, from, to } => {
            let mut s = open(db)?;
            let actor = crate::identity::actor(s.as_mut())?;
            let query = AuditQuery {
                from: from.clone(),
                to: to.clone(),
                limit: 100_000_000,
                ..Default::default()
            };
            let mut rows = chain::list(s.as_mut(), &actor, &query, true)?;
            let checkpoint = chain::current_checkpoint(&actor)?;
            rows.reverse();
            let csv = chain::audit_csv(&rows)?;
            let sealed = checkpoint
                .as_ref()
                .map(serde_json::to_string_pretty)
                .transpose()?;
            match out {
                Some(p) => {
                    std::fs::write(p, csv)
                        .with_context(|| format!("no se pudo escribir {}", p.display()))?;
                    eprintln!("{} registros exportados a {}.", rows.len(), p.display());
                    // The checkpoint travels with the export, beside it.
                    if let Some(text) = sealed {
                        let side = checkpoint_beside(p);
                        std::fs::write(&side, text + "\n")
                            .with_context(|| format!("no se pudo escribir {}", side.display()))?;
                        eprintln!("Punto de control de la cadena en {}.", side.display());
                    }
                }
                None => {
                    print!("{csv}");
                    if let Some(c) = &checkpoint {
                        eprintln!(
                            "Punto de control de la cadena: {}",
                            serde_json::to_string(c)?
                        );
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Where an export's checkpoint is written: `<file>.punto-de-control.json`.
pub(crate) fn checkpoint_beside(p: &std::path::Path) -> PathBuf {
    let mut name = p.as_os_str().to_os_string();
    name.push(".punto-de-control.json");
    PathBuf::from(name)
}

/// At `db init`, once migrated: the audit chain's key — read, or created for a new database
/// or one whose chain predates keys (then anchored) —, installed for the rest of the command,
/// and the checkpoint brought up to the chain's head; says what it did.
pub fn prepare_audit(s: &mut dyn Store, db: &str, new_database: bool) -> Result<()> {
    let actor = vamos_app::Actor {
        name: "inicialización (línea de órdenes)".into(),
        ..crate::identity::actor(s)?
    };
    let p =
        chain::prepare(s, &actor, db, &AuditFiles::from_env(), new_database).map_err(api_err)?;
    if p.created_key {
        println!(
            "Clave de auditoría {} creada en {} (permisos 0600): sella cada registro de auditoría. Guárdela fuera de las copias de la base; en producción, fuera del servidor de la base, indicada con VAMOS_AUDIT_KEY_FILE.",
            p.config.key().id(),
            p.config.paths.key.display()
        );
    }
    if p.anchored > 0 {
        println!(
            "{} registros de auditoría anteriores a la clave quedaron anclados a ella.",
            p.anchored
        );
    }
    if let Some(old) = &p.set_aside {
        println!(
            "El punto de control de auditoría de una base anterior quedó apartado en {}.",
            old.display()
        );
    }
    Ok(())
}

/// At `db init`: the first administrator when there is no account yet. Its password comes from
/// `VAMOS_ADMIN_PASSWORD` or is generated and printed once.
pub fn first_admin(s: &mut dyn Store, username: &str) -> Result<()> {
    if api::has_accounts(s)? {
        return Ok(());
    }
    let (password, generated) = password_input("VAMOS_ADMIN_PASSWORD")?;
    let catalogue = crate::measure::load_catalogue(None)?;
    let body = NewUserBody {
        username: username.to_string(),
        display_name: Some("Administrador UTGS".into()),
        password: password.clone(),
        role: "administrador".into(),
        institution: None,
        territories: None,
    };
    // The database has no account yet: the creation is recorded as the initialisation's.
    let actor = vamos_app::Actor {
        name: "inicialización (línea de órdenes)".into(),
        ..crate::identity::actor(s)?
    };
    api::create_user(s, &actor, &catalogue, &body).map_err(api_err)?;
    println!("Primer administrador creado: «{username}».");
    if generated {
        println!(
            "Contraseña (se muestra una sola vez; cámbiela con «vamos user password»): {password}"
        );
    }
    Ok(())
}
