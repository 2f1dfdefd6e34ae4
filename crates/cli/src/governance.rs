//! `vamos governance bodies|member|meetings|meeting|record|agreements|agreement|notices`: the
//! bodies of the Modelo de Gestión, their meetings and agreements — `vamos_app::governance`,
//! shared with `/api/bodies`, `/api/meetings`, `/api/meeting-agreements` and the web's
//! `/gobernanza`.

use anyhow::Result;
use clap::Subcommand;
use std::path::PathBuf;
use std::process::ExitCode;
use vamos_app::governance as g;

#[derive(Subcommand)]
pub enum GovernanceCommand {
    /// Las instancias (Gabinete, Comité, Mesas Técnicas, Mesas de Protección Social), o una
    /// con --body: sus miembros, reuniones y acuerdos abiertos.
    Bodies {
        #[arg(long, env = "VAMOS_DB", default_value = crate::DEFAULT_DB)]
        db: String,
        /// Código de la instancia (p. ej. MPS-1116).
        #[arg(long)]
        body: Option<String>,
        #[arg(long, value_enum, default_value = "text")]
        format: crate::Format,
    },
    /// Agrega un miembro a una instancia.
    Member {
        #[arg(long, env = "VAMOS_DB", default_value = crate::DEFAULT_DB)]
        db: String,
        #[arg(long)]
        body: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        institution: String,
        #[arg(long)]
        role: String,
        /// La cuenta de Vamos que recibe los avisos de acuerdos vencidos de la instancia.
        #[arg(long)]
        account: Option<String>,
        #[arg(long)]
        since: Option<String>,
    },
    /// Termina la membresía de un miembro (deja de recibir los avisos de la instancia).
    MemberEnd {
        #[arg(long, env = "VAMOS_DB", default_value = crate::DEFAULT_DB)]
        db: String,
        #[arg(long)]
        body: String,
        /// El número del miembro (vamos governance bodies --body CÓDIGO --format json).
        #[arg(long)]
        member: i64,
        /// La fecha en que deja la instancia (dd/mm/aaaa).
        #[arg(long)]
        until: String,
    },
    /// Las reuniones, las más recientes primero (de una instancia con --body).
    Meetings {
        #[arg(long, env = "VAMOS_DB", default_value = crate::DEFAULT_DB)]
        db: String,
        #[arg(long)]
        body: Option<String>,
        #[arg(long, value_enum, default_value = "text")]
        format: crate::Format,
    },
    /// Una reunión: su minuta, sus acuerdos y los pendientes que arrastra; con --pdf, la
    /// minuta en PDF.
    Meeting {
        #[arg(long, env = "VAMOS_DB", default_value = crate::DEFAULT_DB)]
        db: String,
        id: i64,
        #[arg(long)]
        pdf: Option<PathBuf>,
        #[arg(long, value_enum, default_value = "text")]
        format: crate::Format,
    },
    /// Registra una reunión desde un archivo JSON (body, title, held_on, place, time_from,
    /// time_to, objectives, agenda, development, annexes, attendance, agreements: ver
    /// docs/governance.md).
    Record {
        #[arg(long, env = "VAMOS_DB", default_value = crate::DEFAULT_DB)]
        db: String,
        file: PathBuf,
    },
    /// Los acuerdos y siguientes pasos: abiertos (por defecto), vencidos o todos.
    Agreements {
        #[arg(long, env = "VAMOS_DB", default_value = crate::DEFAULT_DB)]
        db: String,
        #[arg(long)]
        body: Option<String>,
        /// abiertos, vencidos o todos.
        #[arg(long, default_value = "abiertos")]
        state: String,
        #[arg(long, value_enum, default_value = "text")]
        format: crate::Format,
    },
    /// Actualiza un acuerdo: su estado (pendiente, en_curso, cumplido, cancelado) con una nota,
    /// y si hace falta su responsable, fecha o vínculo.
    Agreement {
        #[arg(long, env = "VAMOS_DB", default_value = crate::DEFAULT_DB)]
        db: String,
        id: i64,
        #[arg(long)]
        status: String,
        #[arg(long)]
        note: Option<String>,
        #[arg(long)]
        owner: Option<String>,
        #[arg(long)]
        owner_account: Option<String>,
        #[arg(long)]
        due: Option<String>,
        /// caso, meta, ae o solicitud.
        #[arg(long)]
        link_kind: Option<String>,
        #[arg(long)]
        link_ref: Option<String>,
    },
    /// El despliegue territorial: los seis procesos de cada distrito (de un distrito con
    /// --district; de un departamento con --territory).
    Rollout {
        #[arg(long, env = "VAMOS_DB", default_value = crate::DEFAULT_DB)]
        db: String,
        #[arg(long)]
        district: Option<String>,
        #[arg(long)]
        territory: Option<String>,
        #[arg(long, value_enum, default_value = "text")]
        format: crate::Format,
    },
    /// Actualiza un proceso del despliegue de un distrito (1 a 6): estado, fechas,
    /// coordinador, un documento de evidencia, nota.
    RolloutUpdate {
        #[arg(long, env = "VAMOS_DB", default_value = crate::DEFAULT_DB)]
        db: String,
        #[arg(long)]
        district: String,
        #[arg(long)]
        process: i64,
        /// pendiente, en_curso o completado.
        #[arg(long)]
        status: String,
        #[arg(long)]
        started: Option<String>,
        #[arg(long)]
        completed: Option<String>,
        #[arg(long)]
        coordinator: Option<String>,
        #[arg(long)]
        evidence: Option<String>,
        #[arg(long)]
        evidence_ref: Option<String>,
        #[arg(long)]
        note: Option<String>,
    },
    /// Las prioridades comunitarias (paso 1D) de un distrito, junto al Logro de Entorno; con
    /// --csv, las de todos los distritos (de --territory) en un archivo.
    Priorities {
        #[arg(long, env = "VAMOS_DB", default_value = crate::DEFAULT_DB)]
        db: String,
        #[arg(long)]
        district: Option<String>,
        #[arg(long)]
        territory: Option<String>,
        #[arg(long)]
        csv: Option<PathBuf>,
        #[arg(long, value_enum, default_value = "text")]
        format: crate::Format,
    },
    /// Vincula una prioridad de un distrito a una acción estratégica (ae) o a una línea
    /// presupuestaria (presupuesto).
    PriorityLink {
        #[arg(long, env = "VAMOS_DB", default_value = crate::DEFAULT_DB)]
        db: String,
        #[arg(long)]
        district: String,
        #[arg(long)]
        priority: String,
        #[arg(long)]
        kind: String,
        #[arg(long)]
        reference: String,
    },
    /// Los avisos de la cuenta (--as): acuerdos vencidos a su cargo o de sus instancias.
    Notices {
        #[arg(long, env = "VAMOS_DB", default_value = crate::DEFAULT_DB)]
        db: String,
    },
}

fn print_json<T: serde::Serialize>(v: &T) -> Result<()> {
    println!("{}", serde_json::to_string(v)?);
    Ok(())
}

#[allow(clippy::too_many_lines)] // reason: one arm per subcommand, each a few calls
pub fn governance(cmd: &GovernanceCommand) -> Result<ExitCode> {
    match cmd {
        GovernanceCommand::Bodies { db, body, format } => {
            let mut store = crate::admin::open(db)?;
            let who = crate::identity::actor(store.as_mut())?;
            match body {
                Some(code) => {
                    let b = g::body(store.as_mut(), &who, code)?;
                    if *format == crate::Format::Json {
                        return print_json(&b).map(|()| ExitCode::SUCCESS);
                    }
                    print_body(&b);
                }
                None => {
                    let list = g::bodies(store.as_mut(), &who)?;
                    if *format == crate::Format::Json {
                        return print_json(&list).map(|()| ExitCode::SUCCESS);
                    }
                    for b in &list {
                        println!(
                            "  {:<9} {} — {} — instalada: {} — {} reuniones, {} acuerdos abiertos ({} vencidos)",
                            b.body.code,
                            b.body.name,
                            b.territory_name,
                            b.installed_on_es.as_deref().unwrap_or("sin fecha en la fuente"),
                            b.meetings,
                            b.open_agreements,
                            b.overdue_agreements
                        );
                    }
                }
            }
        }
        GovernanceCommand::Member {
            db,
            body,
            name,
            institution,
            role,
            account,
            since,
        } => {
            let mut store = crate::admin::open(db)?;
            let who = crate::identity::actor(store.as_mut())?;
            let m = vamos_store::governance::Member {
                name: name.clone(),
                institution: institution.clone(),
                role: role.clone(),
                account: account.clone(),
                since: since.clone(),
                ..Default::default()
            };
            let id = g::add_member(store.as_mut(), &who, body, &m)?;
            println!("Miembro {id} agregado a {body}");
        }
        GovernanceCommand::MemberEnd {
            db,
            body,
            member,
            until,
        } => {
            let mut store = crate::admin::open(db)?;
            let who = crate::identity::actor(store.as_mut())?;
            g::end_member(store.as_mut(), &who, body, *member, until)?;
            println!("Miembro {member} de {body}: membresía terminada el {until}");
        }
        GovernanceCommand::Meetings { db, body, format } => {
            let mut store = crate::admin::open(db)?;
            let who = crate::identity::actor(store.as_mut())?;
            let list = g::meetings(store.as_mut(), &who, body.as_deref())?;
            if *format == crate::Format::Json {
                return print_json(&list).map(|()| ExitCode::SUCCESS);
            }
            if list.is_empty() {
                println!("No hay reuniones registradas.");
            }
            for m in &list {
                println!(
                    "  {:>4}  {}  {} — {}{}",
                    m.id,
                    m.held_on_es,
                    m.body_name,
                    m.title,
                    if m.imported {
                        " (importada de su minuta)"
                    } else {
                        ""
                    }
                );
            }
        }
        GovernanceCommand::Meeting {
            db,
            id,
            pdf,
            format,
        } => {
            let mut store = crate::admin::open(db)?;
            let who = crate::identity::actor(store.as_mut())?;
            if let Some(out) = pdf {
                let bytes = g::minutes_pdf(store.as_mut(), &who, *id)?;
                std::fs::write(out, &bytes)?;
                println!("Minuta de la reunión {id} escrita en {}", out.display());
                return Ok(ExitCode::SUCCESS);
            }
            let m = g::meeting(store.as_mut(), &who, *id)?;
            if *format == crate::Format::Json {
                return print_json(&m).map(|()| ExitCode::SUCCESS);
            }
            print_meeting(&m);
        }
        GovernanceCommand::Record { db, file } => {
            let mut store = crate::admin::open(db)?;
            let who = crate::identity::actor(store.as_mut())?;
            let meta = std::fs::metadata(file)?;
            anyhow::ensure!(
                meta.len() <= 1 << 20,
                "el archivo de la minuta supera 1 MiB"
            );
            let input: g::MeetingInput = serde_json::from_slice(&std::fs::read(file)?)
                .map_err(|e| anyhow::anyhow!("minuta inválida: {e}"))?;
            let id = g::record_meeting(store.as_mut(), &who, &input)?;
            println!("Reunión {id} registrada");
        }
        GovernanceCommand::Agreements {
            db,
            body,
            state,
            format,
        } => {
            let mut store = crate::admin::open(db)?;
            let who = crate::identity::actor(store.as_mut())?;
            let q = g::AgreementQuery {
                body: body.clone(),
                state: Some(state.clone()),
            };
            let list = g::agreements(store.as_mut(), &who, &q)?;
            if *format == crate::Format::Json {
                return print_json(&list).map(|()| ExitCode::SUCCESS);
            }
            if list.is_empty() {
                println!("No hay acuerdos {state}.");
            }
            for a in &list {
                print_agreement(a);
            }
        }
        GovernanceCommand::Agreement {
            db,
            id,
            status,
            note,
            owner,
            owner_account,
            due,
            link_kind,
            link_ref,
        } => {
            let mut store = crate::admin::open(db)?;
            let who = crate::identity::actor(store.as_mut())?;
            let u = g::AgreementUpdate {
                status: status.clone(),
                note: note.clone(),
                owner: owner.clone(),
                owner_account: owner_account.clone(),
                due_on: due.clone(),
                link_kind: link_kind.clone(),
                link_ref: link_ref.clone(),
            };
            let a = g::update_agreement(store.as_mut(), &who, *id, &u)?;
            println!("Acuerdo {id}: {}", a.status_label);
        }
        GovernanceCommand::Rollout {
            db,
            district,
            territory,
            format,
        } => {
            let mut store = crate::admin::open(db)?;
            let who = crate::identity::actor(store.as_mut())?;
            let list = match district {
                Some(d) => vec![vamos_app::rollout::district(store.as_mut(), &who, d)?],
                None => {
                    vamos_app::rollout::national(store.as_mut(), &who, territory.as_deref())?
                        .districts
                }
            };
            if *format == crate::Format::Json {
                return print_json(&list).map(|()| ExitCode::SUCCESS);
            }
            for d in &list {
                println!(
                    "{} ({}, {}) — {} de 6 procesos completados",
                    d.name, d.district, d.department, d.completed
                );
                for s in &d.steps {
                    println!(
                        "  {}. {} — {}{}{}",
                        s.process,
                        s.name,
                        s.status_label,
                        s.coordinator
                            .as_deref()
                            .map(|c| format!(" — {c}"))
                            .unwrap_or_default(),
                        if s.evidence.is_empty() {
                            String::new()
                        } else {
                            format!(" — {} documentos", s.evidence.len())
                        }
                    );
                }
                for e in &d.espacios {
                    println!(
                        "  Espacio SPS: {}{}",
                        e.name,
                        e.hours
                            .as_deref()
                            .map(|h| format!(" · {h}"))
                            .unwrap_or_default()
                    );
                }
            }
        }
        GovernanceCommand::RolloutUpdate {
            db,
            district,
            process,
            status,
            started,
            completed,
            coordinator,
            evidence,
            evidence_ref,
            note,
        } => {
            let mut store = crate::admin::open(db)?;
            let who = crate::identity::actor(store.as_mut())?;
            let input = vamos_app::rollout::StepInput {
                status: status.clone(),
                started_on: started.clone(),
                completed_on: completed.clone(),
                coordinator: coordinator.clone(),
                evidence_title: evidence.clone(),
                evidence_reference: evidence_ref.clone(),
                note: note.clone(),
            };
            let d = vamos_app::rollout::update(store.as_mut(), &who, district, *process, &input)?;
            println!(
                "{}: proceso {process} actualizado ({} de 6 completados)",
                d.name, d.completed
            );
        }
        GovernanceCommand::Priorities {
            db,
            district,
            territory,
            csv,
            format,
        } => {
            let mut store = crate::admin::open(db)?;
            let who = crate::identity::actor(store.as_mut())?;
            if let Some(out) = csv {
                let bytes = vamos_app::priorities::csv(store.as_mut(), &who, territory.as_deref())?;
                std::fs::write(out, bytes)?;
                println!("Prioridades comunitarias escritas en {}", out.display());
                return Ok(ExitCode::SUCCESS);
            }
            let Some(d) = district else {
                anyhow::bail!("indique --district DDdd, o --csv ARCHIVO para todos los distritos");
            };
            let p = vamos_app::priorities::district(store.as_mut(), &who, d)?;
            if *format == crate::Format::Json {
                return print_json(&p).map(|()| ExitCode::SUCCESS);
            }
            println!(
                "{} ({}) — {} comunidades con prioridades",
                p.name, p.district, p.communities
            );
            if let Some(e) = &p.entorno {
                println!(
                    "Logro 10 (Entorno), medición {} al {}: {} de {} comunidades protegidas",
                    e.measurement, e.as_of, e.protected, e.identified
                );
            }
            for x in &p.priorities {
                println!(
                    "  {:<28} {:>5.1} %  (1.º: {}, 2.º: {}, 3.º: {}; {} participantes)",
                    x.label,
                    x.share * 100.0,
                    x.ranked[0],
                    x.ranked[1],
                    x.ranked[2],
                    x.participants
                );
            }
        }
        GovernanceCommand::PriorityLink {
            db,
            district,
            priority,
            kind,
            reference,
        } => {
            let mut store = crate::admin::open(db)?;
            let who = crate::identity::actor(store.as_mut())?;
            let l = vamos_app::priorities::LinkInput {
                district: district.clone(),
                priority: priority.clone(),
                kind: kind.clone(),
                reference: reference.clone(),
            };
            let new = vamos_app::priorities::link(store.as_mut(), &who, &l)?;
            println!(
                "{}",
                if new {
                    "Vínculo agregado"
                } else {
                    "El vínculo ya existía"
                }
            );
        }
        GovernanceCommand::Notices { db } => {
            let mut store = crate::admin::open(db)?;
            let who = crate::identity::actor(store.as_mut())?;
            let list = g::notifications(store.as_mut(), &who)?;
            if list.is_empty() {
                println!("Sin avisos.");
            }
            for n in &list {
                println!(
                    "  acuerdo {} (reunión {}): {}",
                    n.agreement_id, n.meeting_id, n.text
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn print_agreement(a: &g::AgreementView) {
    println!(
        "  {:>4}  [{}{}] {} — responsable: {} — fecha: {} — {} ({})",
        a.agreement.id,
        a.status_label,
        if a.overdue { ", VENCIDO" } else { "" },
        a.agreement.text.chars().take(100).collect::<String>(),
        a.agreement
            .owner
            .as_deref()
            .unwrap_or("la minuta no lo nombra"),
        a.due_on_es.as_deref().unwrap_or("sin fecha"),
        a.body_name,
        a.held_on_es
    );
}

fn print_body(b: &g::BodyDetail) {
    let v = &b.view;
    println!(
        "{} ({}) — {} — {}",
        v.body.name, v.body.code, v.kind_label, v.territory_name
    );
    println!(
        "Instalada: {} — Fuente: {}",
        v.installed_on_es
            .as_deref()
            .unwrap_or("sin fecha en la fuente"),
        v.body.source
    );
    println!("Miembros: {}", b.members_list.len());
    for m in &b.members_list {
        println!(
            "  {:>4}  {} — {} — {}{}",
            m.id,
            m.name,
            m.institution,
            m.role,
            m.until
                .as_deref()
                .map(|u| format!(" (hasta el {})", vamos_app::clock::date_es(u)))
                .unwrap_or_default()
        );
    }
    println!("Reuniones: {}", b.meetings_list.len());
    for m in &b.meetings_list {
        println!(
            "  {:>4}  {}  {}",
            m.id,
            vamos_app::clock::date_es(&m.held_on),
            m.title
        );
    }
    println!("Acuerdos abiertos: {}", b.open.len());
    for a in &b.open {
        print_agreement(a);
    }
}

fn print_meeting(m: &g::MeetingDetail) {
    let mt = &m.meeting;
    println!("{} — {}", m.body.name, mt.title);
    println!(
        "{} · {} · {}",
        m.held_on_es,
        mt.place,
        match (&mt.time_from, &mt.time_to) {
            (Some(a), Some(b)) => format!("{a} a {b} hs."),
            (Some(a), None) => format!("{a} hs."),
            _ => "hora no registrada".into(),
        }
    );
    if let Some(s) = &mt.source {
        println!("Fuente: {s}");
    }
    let list = |title: &str, items: &[String]| {
        println!("{title}");
        for (i, x) in items.iter().enumerate() {
            println!("  {}. {}", i + 1, x);
        }
    };
    list("OBJETIVOS", &mt.objectives);
    list("TEMAS", &mt.agenda);
    list("DESARROLLO", &mt.development);
    println!("ACUERDOS Y SIGUIENTES PASOS");
    for a in &m.agreements_view {
        print_agreement(a);
    }
    if !m.carried.is_empty() {
        println!("PENDIENTES DE REUNIONES ANTERIORES");
        for a in &m.carried {
            print_agreement(a);
        }
    }
    match &mt.attendance {
        None => println!("ASISTENCIA: la minuta no registra la lista de asistentes."),
        Some(list) => {
            println!("ASISTENCIA ({})", list.len());
            for a in list {
                println!("  {} — {}", a.name, a.institution);
            }
        }
    }
    if let Some(e) = &mt.endorsement {
        println!("{e}");
    }
    list("ANEXOS", &mt.annexes);
}
