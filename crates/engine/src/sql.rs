//! The classification and the Logros written as one SQL query (DuckDB dialect), generated from
//! the same compiled catalogue: the peer side of the benchmark runs exactly our rules, so the
//! comparison is of engines, not of two hand-written interpretations. Also a readable
//! statement of the semantics for analysts who know SQL.

use chrono::NaiveDate;
use vamos_catalogue::{Catalogue, EvidenceSource, Service};
use vamos_domain::services::{Category, Package, Unit};

fn q(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// Whole years and months at `D`, as in the engine.
fn computed_person(d: &str) -> String {
    let wg = [
        "wg_ver",
        "wg_oir",
        "wg_caminar",
        "wg_recordar",
        "wg_cuidado",
        "wg_comunicar",
    ];
    let any = wg
        .iter()
        .map(|w| format!("p.{w} IN ('mucha', 'no_puede')"))
        .collect::<Vec<_>>()
        .join(" OR ");
    let all = wg
        .iter()
        .map(|w| format!("p.{w}"))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "p.*, p.sex AS sexo, p.relationship AS relacion_jefe, (p.national_id IS NOT NULL) AS cedula_registrada,
         (year({d}) - year(p.birth_date)) - CASE WHEN month({d}) * 100 + day({d}) < month(p.birth_date) * 100 + day(p.birth_date) THEN 1 ELSE 0 END AS edad,
         (year({d}) - year(p.birth_date)) * 12 + month({d}) - month(p.birth_date) - CASE WHEN day({d}) < day(p.birth_date) THEN 1 ELSE 0 END AS edad_meses,
         CASE WHEN {any} THEN true WHEN coalesce({all}) IS NULL THEN NULL ELSE false END AS discapacidad"
    )
}

/// The status of one service as a SQL CASE over the unit's aliases.
fn status(s: &Service, unit: Unit, d: &str) -> String {
    let mut arms = Vec::new();
    if let Some(e) = &s.eligibility {
        arms.push(format!("WHEN ({}) IS FALSE THEN 'no_aplica'", e.sql()));
        arms.push(format!("WHEN ({}) IS NULL THEN 'sin_dato'", e.sql()));
    }
    let evidence_day = match unit {
        Unit::Community => "comunidad.survey_date",
        _ => "hogar.interview_date",
    };
    for r in &s.evidence {
        let valid = |col: &str| match r.valid_days {
            Some(v) => format!("{col} <= {d} AND date_diff('day', {col}, {d}) <= {v}"),
            None => format!("{col} <= {d}"),
        };
        match &r.source {
            EvidenceSource::Fips { rule } => {
                let ok = format!("{evidence_day} IS NOT NULL AND {}", valid(evidence_day));
                arms.push(format!("WHEN {ok} AND ({}) THEN 'protegido'", rule.sql()));
                arms.push(format!(
                    "WHEN {ok} AND NOT ({}) THEN 'desprotegido'",
                    rule.sql()
                ));
            }
            EvidenceSource::Admin {
                institution,
                services,
            }
            | EvidenceSource::CounterReferral {
                institution,
                services,
            } => {
                // Counter-referrals: delivered by `as_of` (the Rust engine reads them up to the
                // measurement's watermark, the same set unless some were delivered later).
                let (table, date) = match &r.source {
                    EvidenceSource::Admin { .. } => ("admin_records", "a.event_date"),
                    _ => ("counter_referrals", "a.delivered_on"),
                };
                let list = services.iter().map(|x| q(x)).collect::<Vec<_>>().join(", ");
                let cond = format!(
                    "a.institution = {} AND a.service IN ({list}) AND {}",
                    q(institution),
                    valid(date)
                );
                let exists = match unit {
                    Unit::Person => Some(format!("EXISTS (SELECT 1 FROM {table} a WHERE a.person_id = persona.id AND {cond})")),
                    Unit::Household => Some(format!(
                        "EXISTS (SELECT 1 FROM {table} a JOIN persons m ON m.id = a.person_id WHERE m.household_id = hogar.id AND {cond})"
                    )),
                    // A community: a record of any of its registered residents (e.g. a
                    // community activity they attended).
                    Unit::Community => Some(format!(
                        "EXISTS (SELECT 1 FROM {table} a JOIN persons m ON m.id = a.person_id JOIN households hh ON hh.id = m.household_id WHERE hh.community_id = comunidad.id AND {cond})"
                    )),
                };
                if let Some(e) = exists {
                    arms.push(format!("WHEN {e} THEN 'protegido'"));
                }
                if r.absence_unprotects {
                    arms.push("WHEN true THEN 'desprotegido'".into());
                }
            }
        }
    }
    if arms.is_empty() {
        // No rule can decide for this unit.
        return "'sin_dato'".to_string();
    }
    format!("CASE {} ELSE 'sin_dato' END", arms.join(" "))
}

/// One SELECT per category: (district_code, logro, concurrent, without_data) per unit; each
/// núcleo status is computed once (inner query) and then tested twice.
fn category_select(cat: &Catalogue, c: Category, d: &str) -> Option<String> {
    let nucleo: Vec<&Service> = cat.package(c, Package::Nucleo).collect();
    let statuses: Vec<String> = nucleo
        .iter()
        .enumerate()
        .map(|(i, s)| format!("{} AS s{i}", status(s, c.unit(), d)))
        .collect();
    let names: Vec<String> = (0..nucleo.len()).map(|i| format!("s{i}")).collect();
    let concurrent = if names.is_empty() {
        "true".to_string()
    } else {
        names
            .iter()
            .map(|s| format!("{s} IN ('protegido', 'no_aplica')"))
            .collect::<Vec<_>>()
            .join(" AND ")
    };
    let without = if names.is_empty() {
        "false".to_string()
    } else {
        names
            .iter()
            .map(|s| format!("{s} = 'sin_dato'"))
            .collect::<Vec<_>>()
            .join(" OR ")
    };
    let from = match c.unit() {
        Unit::Person => format!(
            "pcat JOIN persona ON persona.id = pcat.pid JOIN hogar ON hogar.id = persona.household_id WHERE pcat.cat = {}",
            q(c.code())
        ),
        Unit::Household => "hogar".to_string(),
        Unit::Community => "comunidad".to_string(),
    };
    let district = match c.unit() {
        Unit::Community => "comunidad.district_code",
        _ => "hogar.district_code",
    };
    let inner = std::iter::once(format!("{district} AS district_code"))
        .chain(statuses)
        .collect::<Vec<_>>()
        .join(", ");
    Some(format!(
        "SELECT district_code, {} AS logro, ({concurrent}) AS concurrent, ({without}) AS without_data FROM (SELECT {inner} FROM {from})",
        c.logro()
    ))
}

/// The whole measurement as one query over tables `persons`, `households`, `communities`,
/// `community_surveys` and `admin_records` (the registry's own columns), returning
/// `district_code, logro, identified, protected, without_data`.
pub fn duckdb_query(cat: &Catalogue, as_of: NaiveDate) -> String {
    let d = format!("DATE '{}'", as_of.format("%Y-%m-%d"));
    // Poverty by the IPM is not written here: with it, `pobre` is unknown (NULL).
    let line = match cat.poverty {
        vamos_catalogue::Poverty::Ingreso => cat.poverty_line_pyg,
        vamos_catalogue::Poverty::Ipm => None,
    }
    .map_or("NULL".to_string(), |l| l.to_string());
    let selects: Vec<String> = Category::ALL
        .iter()
        .filter_map(|c| category_select(cat, *c, &d))
        .collect();
    format!(
        "WITH
hh_stats AS (
  SELECT household_id, count(*) AS miembros, sum(coalesce(ingreso_mensual, 0)) AS income,
         bool_or(trabaja = 'si' AND ingreso_mensual IS NULL) AS unknown
  FROM persons GROUP BY household_id),
hogar AS (
  SELECT h.*, coalesce(s.miembros, 0) AS miembros,
         CASE WHEN s.unknown OR coalesce(s.miembros, 0) = 0 THEN NULL ELSE s.income // s.miembros END AS ingreso_per_capita,
         (CASE WHEN s.unknown OR coalesce(s.miembros, 0) = 0 THEN NULL ELSE s.income // s.miembros END) < {line} AS pobre
  FROM households h LEFT JOIN hh_stats s ON s.household_id = h.id),
persona AS (SELECT {person} FROM persons p WHERE p.birth_date <= {d}),
comunidad AS (
  SELECT c.id, c.district_code, c.area, s.* EXCLUDE (community_id, submission_key)
  FROM communities c LEFT JOIN (
    SELECT *, row_number() OVER (PARTITION BY community_id ORDER BY survey_date DESC, submission_key DESC) AS rn
    FROM community_surveys) s ON s.community_id = c.id AND s.rn = 1),
pcat AS (
  SELECT persona.id AS pid, 'antes_del_nacimiento' AS cat FROM persona JOIN hogar h ON h.id = persona.household_id
   WHERE persona.embarazada = 'si' AND persona.sex = 'mujer' AND h.interview_date <= {d} AND date_diff('day', h.interview_date, {d}) <= {pregnancy}
  UNION ALL SELECT id, 'en_el_nacimiento' FROM persona WHERE edad_meses < 12
  UNION ALL SELECT id, CASE WHEN edad <= 4 THEN 'despues_del_nacimiento' WHEN edad <= 13 THEN 'ninez' WHEN edad <= 17 THEN 'adolescencia'
                            WHEN edad <= 29 THEN 'juventud' WHEN edad <= 59 THEN 'adultez' ELSE 'adultos_mayores' END FROM persona),
units AS (
{units})
SELECT district_code, logro, count(*) AS identified, count(*) FILTER (WHERE concurrent) AS protected,
       count(*) FILTER (WHERE without_data AND NOT concurrent) AS without_data
FROM units GROUP BY district_code, logro ORDER BY district_code, logro",
        person = computed_person(&d),
        pregnancy = crate::classify::PREGNANCY_DAYS,
        units = selects.join("\nUNION ALL\n"),
    )
}
