//! Administration commands: `user`, `token`, `agreement`, `audit` — glue over the use cases of
//! `vamos_app::accounts` and `vamos_app::audit`, which check the permission and write the audit
//! records.

use anyhow::{anyhow, bail, Context, Result};
use clap::Subcommand;
use std::path::PathBuf;
use std::process::ExitCode;
use vamos_app::accounts::{self as api, AgreementBody, NewTokenBody, NewUserBody};
use vamos_app::audit::{self as chain, AuditQuery};
use vamos_store::Store;

pub(crate) fn open(db: &str) -> Result<Box<dyn Store>> {
    let mut s = vamos_store::open(db).with_context(|| format!("no se pudo abrir {db}"))?;
    if !s.is_ready()? {
        bail!("la base de datos no está inicializada: ejecute «vamos db init --db {db}»");
    }
    Ok(s)
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
        /// Rol: administrador, analista, coordinador, operador, mesa, encuestador u orientador.
        #[arg(long)]
        role: String,
        /// Institución del catálogo (obligatoria para operadores), p. ej. MSPBS.
        #[arg(long)]
        institution: Option<String>,
        /// Territorios separados por comas: DD (departamento) o DDdd (distrito); vacío = nacional.
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
    /// Cambia la contraseña (de VAMOS_PASSWORD, o generada y mostrada una vez) y desbloquea.
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
            api::set_password(s.as_mut(), &actor, username, &password)?;
            println!("Contraseña de «{username}» cambiada; la cuenta queda desbloqueada.");
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
    /// Verifica la cadena de hashes: sale con 0 si está íntegra; si no, nombra el primer registro roto.
    Verify {
        #[arg(long, env = "VAMOS_DB", default_value = crate::DEFAULT_DB, help = DB_HELP)]
        db: String,
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

pub fn audit(cmd: &AuditCommand) -> Result<ExitCode> {
    match cmd {
        AuditCommand::Verify { db } => {
            let mut s = open(db)?;
            let actor = crate::identity::actor(s.as_mut())?;
            let v = chain::check_chain(s.as_mut(), &actor)?;
            match v.broken {
                None => {
                    println!(
                        "Registro de auditoría íntegro: {} registros; último sello {}.",
                        v.rows,
                        v.head.unwrap_or_else(|| "—".into())
                    );
                    Ok(ExitCode::SUCCESS)
                }
                Some((id, why)) => {
                    eprintln!("Registro de auditoría ROTO: primer registro inválido {id}: {why}.");
                    Ok(ExitCode::from(1))
                }
            }
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
            rows.reverse();
            let csv = chain::audit_csv(&rows)?;
            match out {
                Some(p) => {
                    std::fs::write(p, csv)
                        .with_context(|| format!("no se pudo escribir {}", p.display()))?;
                    eprintln!("{} registros exportados a {}.", rows.len(), p.display());
                }
                None => print!("{csv}"),
            }
            Ok(ExitCode::SUCCESS)
        }
    }
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
