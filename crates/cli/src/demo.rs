//! The part of `vamos demo` that shows the workflow, not only the figures: the referrals of the
//! measurement, the illustrative delivery points, sample accounts of Villeta (an MSPBS
//! operator with a data-sharing agreement, the Mesa, its coordinator, an orientador) with
//! their passwords printed once, and a few Canal Verde cases opened by the Mesa — so that
//! logging in as any of them leads somewhere.

use anyhow::Result;
use std::path::Path;
use vamos_app::accounts::NewUserBody;
use vamos_store::Store;

/// The illustrative delivery points shipped with Vamos (labelled as such in the file).
const POINTS: &[u8] = include_bytes!("../../../data/delivery_points/puntos_ilustrativos.csv");

/// Villeta, the demo's district of the sample accounts.
const DISTRICT: &str = "1116";

/// The illustrative budget lines shipped with Vamos (labelled as such in the file).
const BUDGET: &[u8] = include_bytes!("../../../data/planning/presupuesto_ilustrativo.csv");

/// The sample accounts: user name, display name, role, institution, territories (empty:
/// national).
const ACCOUNTS: [(&str, &str, &str, Option<&str>, &str); 7] = [
    (
        "mspbs_villeta",
        "Operadora MSPBS Villeta",
        "operador",
        Some("MSPBS"),
        DISTRICT,
    ),
    (
        "mesa_villeta",
        "Mesa de Protección Social de Villeta",
        "mesa",
        None,
        DISTRICT,
    ),
    (
        "coord_villeta",
        "Coordinación de la Mesa de Villeta",
        "supervisor",
        None,
        DISTRICT,
    ),
    (
        "orientador_villeta",
        "Orientadora SPS de Villeta",
        "orientador",
        None,
        DISTRICT,
    ),
    (
        "coordinacion_central",
        "Coordinación territorial de Central (UTGS)",
        "coordinador",
        None,
        DISTRICT,
    ),
    (
        "planificadora",
        "Planificadora (Mesa Técnica de Planificación)",
        "planificador",
        None,
        "",
    ),
    (
        "autoridad",
        "Autoridad del Gabinete Social",
        "autoridad",
        None,
        "",
    ),
];

/// Referrals, delivery points, accounts and cases on the demo database `db` (files go to
/// `out`). Each step says what it did; a re-run keeps what exists.
pub fn workflow(db: &str, out: &Path) -> Result<()> {
    println!();
    println!("6. Referencias de la medición a cada institución:");
    crate::referrals::generate(&crate::referrals::GenerateArgs {
        db: db.to_string(),
        measurement: None,
        territory: None,
        catalogue: None,
        format: crate::Format::Text,
    })?;
    let points = out.join("puntos_ilustrativos.csv");
    std::fs::write(&points, POINTS)?;
    let catalogue = crate::measure::load_catalogue(None)?;
    let mut store = crate::admin::open(db)?;
    let read = crate::referrals::read_points(&points, &catalogue)?;
    let n = vamos_app::referrals::load_delivery_points(store.as_mut(), &read)?;
    println!("7. Puntos de atención (ILUSTRATIVOS): {n} cargados");
    accounts(store.as_mut(), &catalogue, db)?;
    cases(store.as_mut(), &catalogue)?;
    plan(store.as_mut(), &catalogue, db)?;
    planning(store.as_mut(), &catalogue, out)?;
    governance(store.as_mut(), db)?;
    Ok(())
}

/// An illustrative shared target for Villeta, so the dashboard shows a target and its gap, and
/// what reaching it costs.
fn plan(s: &mut dyn Store, catalogue: &vamos_catalogue::Catalogue, db: &str) -> Result<()> {
    let admin = vamos_app::accounts::command_line_actor(s, "admin")?;
    // Two years after the measurement, which the demo takes today.
    let by = chrono::Datelike::year(&vamos_app::clock::today()) + 2;
    vamos_app::targets::set(
        s,
        &admin,
        &vamos_app::targets::SetTarget {
            territory: DISTRICT.into(),
            logro: 4,
            year: by,
            coverage: 0.7,
        },
    )?;
    let cost = vamos_app::costing::cost(
        s,
        &admin,
        catalogue,
        &vamos_app::costing::CostQuery {
            territory: DISTRICT.into(),
            logro: 4,
            target: 0.7,
            by,
            overhead: 0.0,
            indexation: 0.0,
            verification_cost: 0,
            measurement: None,
            options: Default::default(),
        },
    )?;
    println!(
        "10. Meta ILUSTRATIVA: Logro 4 en Villeta al 70 % en {by} — {} unidades, {} PYG con los costos\n    unitarios ilustrativos del catálogo: vamos cost --db {db} --territory {DISTRICT} --logro 4 --target 0.7 --by {by}",
        cost.units_to_protect,
        vamos_domain::numbers::grouped(cost.total_cost, '.')
    );
    Ok(())
}

fn accounts(s: &mut dyn Store, catalogue: &vamos_catalogue::Catalogue, db: &str) -> Result<()> {
    let admin = crate::identity::actor(s)?;
    println!(
        "8. Cuentas de ejemplo de Villeta y de planificación (contraseñas mostradas una sola vez):"
    );
    let mut existed = Vec::new();
    for (user, name, role, institution, territories) in ACCOUNTS {
        if vamos_app::accounts::command_line_actor(s, user).is_ok() {
            existed.push(user);
            continue;
        }
        let password = format!("Vm-{}", vamos_app::accounts::random_hex(12)?);
        let body = NewUserBody {
            username: user.into(),
            display_name: Some(name.into()),
            password: password.clone(),
            role: role.into(),
            institution: institution.map(str::to_string),
            territories: Some(territories.into()),
        };
        vamos_app::accounts::create_user(s, &admin, catalogue, &body)
            .map_err(|e| anyhow::anyhow!("{}", e.message))?;
        println!("   {user:<20} {password}   {name}");
    }
    if !existed.is_empty() {
        println!(
            "   Ya existían: {}. Para darles una contraseña nueva: vamos user password --db {db} <cuenta>",
            existed.join(", ")
        );
    }
    // The operator sees the persons of its referrals only under a data-sharing agreement.
    let today = crate::commands::today();
    let has = vamos_app::registry::agreed_fields(s, "MSPBS", &today.to_string())?.is_some();
    if !has {
        let body = vamos_app::accounts::AgreementBody {
            institution: "MSPBS".into(),
            fields: [
                "id",
                "given_names",
                "family_names",
                "national_id",
                "birth_date",
                "sex",
                "embarazada",
            ]
            .map(str::to_string)
            .to_vec(),
            purpose: "demostración: atender las referencias de salud (ILUSTRATIVO)".into(),
            valid_from: today.to_string(),
            valid_to: (today + chrono::Duration::days(365)).to_string(),
            reference: Some("acuerdo de demostración".into()),
        };
        vamos_app::accounts::create_agreement(s, &admin, catalogue, &body)
            .map_err(|e| anyhow::anyhow!("{}", e.message))?;
        println!("   Acuerdo de intercambio de datos (ILUSTRATIVO) para el MSPBS, un año.");
    }
    Ok(())
}

/// The Mesa of Villeta opens cases for its three highest-priority household candidates.
fn cases(s: &mut dyn Store, catalogue: &vamos_catalogue::Catalogue) -> Result<()> {
    let mesa = vamos_app::accounts::command_line_actor(s, "mesa_villeta")?;
    let (candidates, _) =
        vamos_app::cases::candidates_page(s, &mesa, catalogue, Some(DISTRICT), None)?;
    let mut opened = Vec::new();
    for c in candidates
        .iter()
        .filter(|c| c.open_case.is_none() && c.unit_kind.code() == "hogar")
        .take(3)
    {
        let id = vamos_app::cases::open(
            s,
            &mesa,
            catalogue,
            &vamos_app::cases::OpenCase {
                unit_kind: "hogar".into(),
                unit_id: c.unit_id,
                reason: format!(
                    "caso de demostración (ILUSTRATIVO): {}",
                    c.reasons.join("; ")
                ),
                origin: Some("candidato".into()),
                protocol: None,
            },
        )?;
        opened.push(id.to_string());
    }
    let open = candidates.iter().filter(|c| c.open_case.is_some()).count();
    println!(
        "9. Canal Verde en Villeta: {} candidatas; casos abiertos ahora: {}{}",
        candidates.len(),
        if opened.is_empty() {
            "ninguno nuevo".to_string()
        } else {
            opened.join(", ")
        },
        if open > 0 {
            format!(" (ya había {open})")
        } else {
            String::new()
        }
    );
    Ok(())
}

/// The chain the planners follow, with illustrative data, as the planner account: the
/// illustrative strategic framework, San Pedro's Logro 4 target (70 %, two years after the
/// measurement), its costing saved as a scenario, the illustrative budget beside it, and a
/// management agreement that adopts the target. A re-run replaces the plan and the budget and
/// keeps the scenario and the agreement it finds.
fn planning(s: &mut dyn Store, catalogue: &vamos_catalogue::Catalogue, out: &Path) -> Result<()> {
    let planner = vamos_app::accounts::command_line_actor(s, "planificadora")?;
    let by = chrono::Datelike::year(&vamos_app::clock::today()) + 2;
    let framework = vamos_app::plans::xlsx::illustrative()?;
    let stored = vamos_app::plans::store(
        s,
        &planner,
        catalogue,
        framework,
        &vamos_app::plans::Rows::default(),
        "demostración",
    )?
    .map_err(|p| {
        anyhow::anyhow!(
            "el plan ilustrativo no pasa sus propias reglas: {:?}",
            p.first()
        )
    })?;
    vamos_app::targets::set(
        s,
        &planner,
        &vamos_app::targets::SetTarget {
            territory: "02".into(),
            logro: 4,
            year: by,
            coverage: 0.7,
        },
    )?;
    let name = format!("San Pedro: Logro 4 al 70 % en {by} (ilustrativo)");
    let scenario = match vamos_app::costing::scenarios(s, &planner)?
        .into_iter()
        .find(|x| x.name == name)
    {
        Some(x) => x.id,
        None => {
            let q = vamos_app::costing::CostQuery {
                territory: "02".into(),
                logro: 4,
                target: 0.7,
                by,
                overhead: 0.1,
                indexation: 0.04,
                verification_cost: 0,
                measurement: None,
                options: Default::default(),
            };
            vamos_app::costing::save(s, &planner, catalogue, &q, &name)?.0
        }
    };
    let file = out.join("presupuesto_ilustrativo.csv");
    std::fs::write(&file, BUDGET)?;
    let mapping = vamos_app::budget::Mapping::default_mh()?;
    let budget =
        vamos_app::budget::import(s, &planner, catalogue, &file, &mapping)?.map_err(|p| {
            anyhow::anyhow!(
                "el presupuesto ilustrativo no pasa sus propias reglas: {:?}",
                p.first()
            )
        })?;
    let title = "Acuerdo de gestión por la niñez de San Pedro (ILUSTRATIVO)";
    let agreement = match vamos_app::management_agreements::list(s, &planner)?
        .iter()
        .find(|a| a["title"] == title)
    {
        Some(a) => a["id"].as_i64().unwrap_or_default(),
        None => {
            let today = vamos_app::clock::today();
            let input: vamos_app::management_agreements::AgreementInput = serde_json::from_value(
                serde_json::json!({
                    "title": title, "territory": "02", "parties": ["MEC", "MSPBS", "DGIC", "UTGS"],
                    "period_from": today.to_string(), "period_to": format!("{by}-12-31"), "signed_on": today.to_string(),
                    "arrangements": "Cada institución designa un punto focal ante la Mesa departamental de San Pedro.",
                    "commitments": [
                        {"kind": "funcional", "institution": "MEC", "description": "Matricular a cada niña y niño sin escuela que la Mesa refiera"},
                        {"kind": "operativo", "institution": "MSPBS", "description": "Vacunación en las escuelas de los distritos rezagados"},
                        {"kind": "operativo", "institution": "DGIC", "description": "Jornadas móviles de cedulación cada trimestre"},
                        {"kind": "interno", "institution": "UTGS", "description": "Un orientador SPS asignado a cada distrito"}
                    ],
                    "targets": [{"territory": "02", "logro": 4, "year": by}],
                }),
            )?;
            vamos_app::management_agreements::save(s, &planner, catalogue, None, &input)?
        }
    };
    let year = budget.years.first().copied().unwrap_or(i64::from(by));
    println!(
        "11. Planificación (ILUSTRATIVA), como «planificadora»: Marco Estratégico {} («{}»), meta del Logro 4\n    en San Pedro al 70 % en {by}, su costeo guardado como escenario {scenario}, {} líneas de presupuesto\n    ilustrativas y el acuerdo de gestión {agreement}. En la web: /planes, /presupuesto?anio={year}&t=02&escenario={scenario}\n    y /acuerdos-de-gestion/{agreement}",
        stored.plan, stored.name, budget.lines
    );
    Ok(())
}

/// What the demo shows of governance: the shipped bodies and the real minute (loaded by
/// `db init`), and where to see them and the quarterly report.
fn governance(s: &mut dyn Store, db: &str) -> Result<()> {
    let who = vamos_app::Actor::command_line("demo");
    let bodies = vamos_app::governance::bodies(s, &who)?;
    let overdue: usize = bodies.iter().map(|b| b.overdue_agreements).sum();
    let period = vamos_app::reports::Period::of(vamos_app::clock::today()).code();
    println!(
        "12. Gobernanza: {} instancias del Modelo de Gestión (fechas de instalación con su fuente), la minuta real\n    del 31/01/2023 con sus 4 acuerdos ({overdue} vencidos). En la web: /gobernanza, /gobernanza/despliegue,\n    /gobernanza/prioridades, /gobernanza/informes, /datos-abiertos. Informe trimestral de Villeta:\n    vamos report --db {db} --territory 1116 --period {period} --out informe-villeta.pdf",
        bodies.len()
    );
    Ok(())
}
