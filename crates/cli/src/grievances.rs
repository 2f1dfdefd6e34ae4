//! `vamos grievances lodge|list|show|assign|comment|resolve|appeal|escalate|track`: glue over
//! `vamos_app::grievances` (shared with the API and the web pages). Times default to now;
//! `--now` passes another (an escalation run as if at a later date, for tests and catch-up).

use anyhow::{anyhow, Result};
use chrono::{DateTime, Utc};
use clap::{Args, Subcommand};
use std::process::ExitCode;
use vamos_app::grievances::{self as g, Form, Handling, ListQuery};
use vamos_domain::grievance::Outcome;

#[derive(Args, Clone)]
pub struct Common {
    /// Base de datos: sqlite:<archivo> o postgres://usuario@servidor/base
    #[arg(long, env = "VAMOS_DB", default_value = crate::DEFAULT_DB)]
    pub db: String,
    /// Momento de la acción (RFC 3339, p. ej. 2026-12-31T12:00:00Z); por defecto, ahora.
    #[arg(long)]
    pub now: Option<String>,
    #[arg(long, value_enum, default_value = "text")]
    pub format: crate::Format,
}

#[derive(Subcommand)]
pub enum GrievancesCommand {
    /// Presenta un reclamo (como la cuenta de --as, o como operador de la máquina); muestra el
    /// código de seguimiento una sola vez.
    Lodge {
        #[command(flatten)]
        common: Common,
        /// Categoría: registro_datos_incorrectos, registro_no_figuro, registro_cambio_hogar,
        /// estado_proteccion, servicio_no_recibido, servicio_mala_atencion, sistema.
        #[arg(long)]
        category: String,
        /// Qué pasó.
        #[arg(long)]
        description: String,
        /// Cédula de la persona (obligatoria para registro y estado de protección).
        #[arg(long)]
        cedula: Option<String>,
        /// Fecha de nacimiento (AAAA-MM-DD o dd/mm/aaaa).
        #[arg(long)]
        birth_date: Option<String>,
        #[arg(long)]
        given_names: Option<String>,
        #[arg(long)]
        family_names: Option<String>,
        /// Teléfono o correo de contacto.
        #[arg(long)]
        contact: Option<String>,
        /// Distrito (DDdd).
        #[arg(long)]
        district: Option<String>,
        /// Institución que presta el servicio (código del catálogo).
        #[arg(long)]
        institution: Option<String>,
    },
    /// Reclamos dentro del ámbito de la cuenta (reclamos:gestionar).
    List {
        #[command(flatten)]
        common: Common,
        /// Estado (recibido, asignado, escalado, apelado, resuelto, no_corresponde) o «abierto».
        #[arg(long)]
        state: Option<String>,
        #[arg(long)]
        category: Option<String>,
        /// Solo los abiertos con el plazo vencido.
        #[arg(long)]
        overdue: bool,
        /// Exporta en CSV (con las fórmulas neutralizadas).
        #[arg(long)]
        csv: bool,
    },
    /// Un reclamo con sus pasos (y la identificación, para quien puede leer el registro).
    Show {
        #[command(flatten)]
        common: Common,
        id: i64,
    },
    /// Asigna un reclamo a una cuenta y/o a una institución.
    Assign {
        #[command(flatten)]
        common: Common,
        id: i64,
        #[arg(long)]
        account: Option<String>,
        #[arg(long)]
        institution: Option<String>,
    },
    /// Agrega una nota interna (la persona no la ve).
    Comment {
        #[command(flatten)]
        common: Common,
        id: i64,
        #[arg(long)]
        text: String,
    },
    /// Cierra un reclamo: resuelto o no_corresponde, con el motivo interno y la respuesta que
    /// la persona lee con su código.
    Resolve {
        #[command(flatten)]
        common: Common,
        id: i64,
        /// resuelto o no_corresponde
        #[arg(long)]
        outcome: String,
        #[arg(long)]
        reason: String,
        #[arg(long)]
        public_text: String,
    },
    /// Apela la respuesta de un reclamo con su código de seguimiento (una vez, dentro del plazo).
    Appeal {
        #[command(flatten)]
        common: Common,
        code: String,
        #[arg(long)]
        reason: String,
    },
    /// Escala los reclamos abiertos con el plazo vencido al nivel siguiente (el servidor lo
    /// hace cada minuto).
    Escalate {
        #[command(flatten)]
        common: Common,
    },
    /// Estado de un reclamo por su código de seguimiento (lo que ve la persona).
    Track {
        #[command(flatten)]
        common: Common,
        code: String,
    },
}

fn now(c: &Common) -> Result<DateTime<Utc>> {
    match &c.now {
        None => Ok(vamos_app::clock::now()),
        Some(s) => DateTime::parse_from_rfc3339(s)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|_| anyhow!("--now: se espera un momento RFC 3339 (2026-12-31T12:00:00Z)")),
    }
}

fn print<T: serde::Serialize>(c: &Common, v: &T, text: impl FnOnce()) -> Result<ExitCode> {
    if c.format == crate::Format::Json {
        println!("{}", serde_json::to_string(v)?);
    } else {
        text();
    }
    Ok(ExitCode::SUCCESS)
}

fn print_detail(c: &Common, d: &g::Detail) -> Result<ExitCode> {
    print(c, d, || {
        let s = &d.summary;
        println!(
            "Reclamo {} — {} — {} ({})",
            s.id, s.category_label, s.state_label, s.level_label
        );
        println!(
            "Presentado {} por {}; vence {}{}",
            s.lodged_at,
            d.lodged_by,
            s.due_at,
            if s.overdue { " (VENCIDO)" } else { "" }
        );
        println!("Descripción: {}", d.description);
        if let Some(p) = &d.person {
            println!(
                "Persona: {} {} — cédula {} — nacida {} — {}",
                p.given_names.as_deref().unwrap_or("-"),
                p.family_names.as_deref().unwrap_or("-"),
                p.national_id.map(|n| n.to_string()).unwrap_or("-".into()),
                p.birth_date.as_deref().unwrap_or("-"),
                match p.registry_person {
                    Some(id) => format!("coincide con la persona {id} del registro"),
                    None => "sin coincidencia en el registro".into(),
                }
            );
        }
        for st in &d.steps {
            println!(
                "  {} {} ({}) {}",
                st.at,
                st.label,
                st.actor,
                st.detail.as_deref().unwrap_or("")
            );
        }
    })
}

pub fn grievances(cmd: &GrievancesCommand) -> Result<ExitCode> {
    match cmd {
        GrievancesCommand::Lodge {
            common,
            category,
            description,
            cedula,
            birth_date,
            given_names,
            family_names,
            contact,
            district,
            institution,
        } => {
            let mut store = crate::admin::open(&common.db)?;
            let who = crate::identity::actor(store.as_mut())?;
            let at = now(common)?;
            let form = Form {
                categoria: category.clone(),
                descripcion: description.clone(),
                cedula: cedula.clone(),
                fecha_nacimiento: birth_date.clone(),
                nombres: given_names.clone(),
                apellidos: family_names.clone(),
                contacto: contact.clone(),
                distrito: district.clone(),
                institucion: institution.clone(),
            };
            let l = g::validate(&form, at.date_naive())
                .map_err(|e| anyhow!("{}", g::field_errors_message(&e)))?;
            let out = g::lodge(store.as_mut(), &who, &l, at)?;
            print(common, &out, || {
                println!("Reclamo {} presentado ({}).", out.id, out.category);
                println!("Código de seguimiento: {}", out.code);
                println!(
                    "Guárdelo: no se vuelve a mostrar. Plazo de respuesta: {}",
                    out.due_at
                );
            })
        }
        GrievancesCommand::List {
            common,
            state,
            category,
            overdue,
            csv,
        } => {
            let mut store = crate::admin::open(&common.db)?;
            let who = crate::identity::actor(store.as_mut())?;
            let q = ListQuery {
                state: state.clone(),
                category: category.clone(),
                overdue: *overdue,
            };
            if *csv {
                let bytes = g::export_csv(store.as_mut(), &who, &q, now(common)?)?;
                use std::io::Write;
                std::io::stdout().write_all(&bytes)?;
                return Ok(ExitCode::SUCCESS);
            }
            let rows = g::list(store.as_mut(), &who, &q, now(common)?)?;
            print(common, &rows, || {
                for r in &rows {
                    println!(
                        "{:>6}  {:<15} {:<26} nivel {}  vence {}{}  {}",
                        r.id,
                        r.state,
                        r.category,
                        r.level,
                        r.due_at,
                        if r.overdue { " VENCIDO" } else { "" },
                        r.district.as_deref().unwrap_or("")
                    );
                }
                println!("{} reclamos", rows.len());
            })
        }
        GrievancesCommand::Show { common, id } => {
            let mut store = crate::admin::open(&common.db)?;
            let who = crate::identity::actor(store.as_mut())?;
            let d = g::show(store.as_mut(), &who, *id, now(common)?)?;
            print_detail(common, &d)
        }
        GrievancesCommand::Assign {
            common,
            id,
            account,
            institution,
        } => handle(
            common,
            *id,
            Handling::Assign {
                account: account.clone(),
                institution: institution.clone(),
            },
        ),
        GrievancesCommand::Comment { common, id, text } => {
            handle(common, *id, Handling::Comment { text: text.clone() })
        }
        GrievancesCommand::Resolve {
            common,
            id,
            outcome,
            reason,
            public_text,
        } => {
            let outcome = Outcome::parse(outcome)
                .ok_or_else(|| anyhow!("--outcome: resuelto o no_corresponde"))?;
            handle(
                common,
                *id,
                Handling::Resolve {
                    outcome,
                    reason: reason.clone(),
                    public_text: public_text.clone(),
                },
            )
        }
        GrievancesCommand::Appeal {
            common,
            code,
            reason,
        } => {
            let mut store = crate::admin::open(&common.db)?;
            let t = g::appeal(store.as_mut(), code, reason, now(common)?)?;
            print_tracking(common, &t)
        }
        GrievancesCommand::Escalate { common } => {
            let mut store = crate::admin::open(&common.db)?;
            let ids = g::escalate_overdue(store.as_mut(), now(common)?)?;
            print(common, &serde_json::json!({ "escalated": ids }), || {
                println!("{} reclamos escalados", ids.len());
            })
        }
        GrievancesCommand::Track { common, code } => {
            let mut store = crate::admin::open(&common.db)?;
            let t = g::track(store.as_mut(), code, now(common)?)?;
            print_tracking(common, &t)
        }
    }
}

fn print_tracking(common: &Common, t: &g::Tracking) -> Result<ExitCode> {
    print(common, t, || {
        println!(
            "{} — {} ({})",
            t.category_label, t.state_label, t.level_label
        );
        println!("Presentado {}; plazo {}", t.lodged_at, t.due_at);
        if let Some(r) = &t.resolution_text {
            println!("Respuesta: {r}");
        }
        if let Some(u) = &t.appeal_until {
            println!("Puede apelar hasta {u}");
        }
        for s in &t.steps {
            println!("  {} {}", s.at, s.label);
        }
    })
}

fn handle(common: &Common, id: i64, h: Handling) -> Result<ExitCode> {
    let mut store = crate::admin::open(&common.db)?;
    let who = crate::identity::actor(store.as_mut())?;
    let d = g::handle(store.as_mut(), &who, id, &h, now(common)?)?;
    print_detail(common, &d)
}
