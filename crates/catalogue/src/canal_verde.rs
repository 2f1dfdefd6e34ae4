//! Canal Verde as catalogue data (issue 37): which units qualify for case management and with
//! what priority (`[[criterio]]`), and the protocol routes for emergencies (`[[protocolo]]`,
//! each a list of mandatory steps with an institution and a deadline) and the barriers to
//! access a Mesa may record (`[[barrera]]`, component IV: the Mesa Técnica extends the list).
//! Kept in
//! `canal_verde.toml` next to `catalogo.toml`, maintained by the Mesa Técnica de Servicios,
//! validated with the same `file:line:column` errors as the services, and versioned by its own
//! hash: changing the criteria must not invalidate the measurements taken with the services.

use crate::load::{toml_error, valid_code, Errors};
use crate::{Catalogue, CatalogueError};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use toml::Spanned;
use vamos_domain::cases::{Priority, UnitKind};

/// One criterion: a unit of `unit` kind qualifies when it lacks at least `min_unprotected`
/// services, belongs to one of `populations` (any, when empty) and — when `critical_only` —
/// lacks a service critical for age.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Criterion {
    pub code: String,
    pub name: String,
    pub unit: UnitKind,
    pub populations: Vec<String>,
    pub min_unprotected: u32,
    pub critical_only: bool,
    pub priority: Priority,
}

impl Criterion {
    /// Whether a unit with these figures meets the criterion.
    pub fn met(&self, unprotected: u32, populations: &[&str], critical: bool) -> bool {
        unprotected >= self.min_unprotected.max(1)
            && (!self.critical_only || critical)
            && (self.populations.is_empty()
                || self
                    .populations
                    .iter()
                    .any(|p| populations.contains(&p.as_str())))
    }
}

/// One mandatory step of a protocol route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub name: String,
    pub institution: String,
    pub days: u32,
}

/// An emergency protocol route: the steps a case following it must complete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Protocol {
    pub code: String,
    pub name: String,
    pub steps: Vec<Step>,
}

/// The validated Canal Verde criteria and protocols.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CanalVerde {
    pub label: String,
    /// A hash of the file (`sha256:…`), recorded on each case opened under it.
    pub version: String,
    pub illustrative: bool,
    pub description: String,
    pub criteria: Vec<Criterion>,
    pub protocols: Vec<Protocol>,
    /// The barriers to access: (code, Spanish label), in the file's order.
    pub barriers: Vec<(String, String)>,
}

impl CanalVerde {
    pub fn protocol(&self, code: &str) -> Option<&Protocol> {
        self.protocols.iter().find(|p| p.code == code)
    }

    /// The label of a barrier code (`None`: not in this version of the list).
    pub fn barrier(&self, code: &str) -> Option<&str> {
        self.barriers
            .iter()
            .find(|(c, _)| c == code)
            .map(|(_, l)| l.as_str())
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCanalVerde {
    version: String,
    ilustrativo: bool,
    #[serde(default)]
    descripcion: String,
    #[serde(default)]
    criterio: Vec<RawCriterion>,
    #[serde(default)]
    protocolo: Vec<RawProtocol>,
    #[serde(default)]
    barrera: Vec<RawBarrier>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBarrier {
    codigo: Spanned<String>,
    nombre: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCriterion {
    codigo: Spanned<String>,
    nombre: String,
    unidad: Spanned<String>,
    #[serde(default)]
    poblaciones: Vec<Spanned<String>>,
    #[serde(default)]
    min_desprotecciones: Option<Spanned<u32>>,
    #[serde(default)]
    solo_criticos: bool,
    prioridad: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProtocol {
    codigo: Spanned<String>,
    nombre: String,
    paso: Vec<RawStep>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStep {
    nombre: String,
    institucion: Spanned<String>,
    plazo_dias: Spanned<u32>,
}

/// The illustrative Canal Verde shipped with Vamos (`catalogue/default/canal_verde.toml`).
pub const DEFAULT_CANAL_VERDE: &str = include_str!("../../../catalogue/default/canal_verde.toml");

/// Loads the embedded illustrative criteria and protocols against `catalogue`.
pub fn default_canal_verde(catalogue: &Catalogue) -> Result<CanalVerde, Vec<CatalogueError>> {
    load_canal_verde(
        "catalogue/default/canal_verde.toml",
        DEFAULT_CANAL_VERDE,
        catalogue,
    )
}

/// The Canal Verde of `catalogue`: its folder's own `canal_verde.toml` when it has one (see
/// [`Catalogue::canal_verde`]), else the illustrative one shipped with Vamos.
pub fn of(catalogue: &Catalogue) -> Result<CanalVerde, Vec<CatalogueError>> {
    match &catalogue.canal_verde {
        Some((file, text)) => load_canal_verde(file, text, catalogue),
        None => default_canal_verde(catalogue),
    }
}

/// The barrier list: codes valid and unique, at least one.
fn barriers(raw: Vec<RawBarrier>, err: &mut Errors<'_>) -> Vec<(String, String)> {
    let mut barriers: Vec<(String, String)> = Vec::new();
    for b in raw {
        let code = b.codigo.get_ref().clone();
        if !valid_code(&code) {
            err.at(
                b.codigo.span().start,
                format!("código de barrera inválido «{code}»: minúsculas, dígitos y _"),
            );
        } else if barriers.iter().any(|(c, _)| *c == code) {
            err.at(b.codigo.span().start, format!("barrera repetida «{code}»"));
        }
        barriers.push((code, b.nombre));
    }
    if barriers.is_empty() {
        err.at(
            0,
            "declare al menos una [[barrera]]: las Mesas registran las barreras de acceso con ellas",
        );
    }
    barriers
}

/// Loads `canal_verde.toml` (`file` names it in errors): every criterion with a unique code, a
/// known unit kind, populations of that kind of unit and a priority; every protocol with at
/// least one step, each of an institution of `catalogue` and a deadline of 1 to 365 days.
/// Every problem is reported, each at its line and column.
pub fn load_canal_verde(
    file: &str,
    text: &str,
    catalogue: &Catalogue,
) -> Result<CanalVerde, Vec<CatalogueError>> {
    let raw: RawCanalVerde = toml::from_str(text).map_err(|e| vec![toml_error(file, text, &e)])?;
    let mut list = Vec::new();
    let mut err = Errors {
        file,
        text,
        list: &mut list,
    };
    let mut criteria: Vec<Criterion> = Vec::new();
    for c in raw.criterio {
        let code = c.codigo.get_ref().clone();
        if !valid_code(&code) {
            err.at(
                c.codigo.span().start,
                format!("código de criterio inválido «{code}»: minúsculas, dígitos y _"),
            );
        } else if criteria.iter().any(|x| x.code == code) {
            err.at(c.codigo.span().start, format!("criterio repetido «{code}»"));
        }
        let Some(unit) = UnitKind::parse(c.unidad.get_ref()) else {
            err.at(
                c.unidad.span().start,
                format!(
                    "unidad desconocida «{}» (persona, hogar, comunidad)",
                    c.unidad.get_ref()
                ),
            );
            continue;
        };
        for p in &c.poblaciones {
            if !unit.populations().contains(&p.get_ref().as_str()) {
                err.at(
                    p.span().start,
                    format!(
                        "población desconocida «{}» para {} ({})",
                        p.get_ref(),
                        unit.code(),
                        unit.populations().join(", ")
                    ),
                );
            }
        }
        let min = c.min_desprotecciones.as_ref().map_or(1, |m| *m.get_ref());
        if let Some(m) = &c.min_desprotecciones {
            if *m.get_ref() == 0 {
                err.at(
                    m.span().start,
                    "min_desprotecciones es al menos 1: un caso sigue servicios sin proteger",
                );
            }
        }
        let Some(priority) = Priority::parse(c.prioridad.get_ref()) else {
            err.at(
                c.prioridad.span().start,
                format!(
                    "prioridad desconocida «{}» (alta, media, baja)",
                    c.prioridad.get_ref()
                ),
            );
            continue;
        };
        criteria.push(Criterion {
            code,
            name: c.nombre,
            unit,
            populations: c.poblaciones.iter().map(|p| p.get_ref().clone()).collect(),
            min_unprotected: min,
            critical_only: c.solo_criticos,
            priority,
        });
    }
    let mut protocols: Vec<Protocol> = Vec::new();
    for p in raw.protocolo {
        let code = p.codigo.get_ref().clone();
        if !valid_code(&code) {
            err.at(
                p.codigo.span().start,
                format!("código de protocolo inválido «{code}»: minúsculas, dígitos y _"),
            );
        } else if protocols.iter().any(|x| x.code == code) {
            err.at(
                p.codigo.span().start,
                format!("protocolo repetido «{code}»"),
            );
        }
        if p.paso.is_empty() {
            err.at(
                p.codigo.span().start,
                format!("el protocolo «{code}» no tiene pasos"),
            );
        }
        let mut steps = Vec::new();
        for s in p.paso {
            if catalogue.institution(s.institucion.get_ref()).is_none() {
                err.at(
                    s.institucion.span().start,
                    format!(
                        "institución desconocida «{}»: declárela en catalogo.toml",
                        s.institucion.get_ref()
                    ),
                );
            }
            if !(1..=365).contains(s.plazo_dias.get_ref()) {
                err.at(s.plazo_dias.span().start, "plazo_dias va de 1 a 365 días");
            }
            steps.push(Step {
                name: s.nombre,
                institution: s.institucion.into_inner(),
                days: s.plazo_dias.into_inner(),
            });
        }
        protocols.push(Protocol {
            code,
            name: p.nombre,
            steps,
        });
    }
    let barriers = barriers(raw.barrera, &mut err);
    if !list.is_empty() {
        return Err(list);
    }
    let digest = Sha256::digest(text.as_bytes());
    Ok(CanalVerde {
        label: raw.version,
        version: format!(
            "sha256:{}",
            digest
                .iter()
                .take(8)
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        ),
        illustrative: raw.ilustrativo,
        description: raw.descripcion,
        criteria,
        protocols,
        barriers,
    })
}
