//! The service catalogue, owned by the Mesa Técnica de Servicios: services, packages,
//! eligibility and evidence rules, unit costs — as human-editable TOML files (see
//! `catalogue/FORMATO.md`), validated on load with messages that point at file, line and
//! column, rules compiled to evaluators, and a content hash that every measurement records.
//! Architecture invariant: the catalogue knows nothing of where registry data come from; the
//! choice codes it checks rules against are handed in as a [`Vocabulary`].

pub mod canal_verde;
pub mod expr;
mod load;
pub mod vars;

pub use expr::{compile, Compiled, ExprError, Fact, Facts, Tri, Vocabulary};
pub use load::{load_dir, load_files, CatalogueError};
pub use vars::{Scope, VarId, VarType};

use serde::Serialize;
use vamos_domain::services::{Category, DeliveryLevel, Package, Pillar};

/// An institution (OEE) that provides services.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Institution {
    pub code: String,
    pub name: String,
}

/// Where evidence of access comes from.
#[derive(Debug, Clone)]
pub enum EvidenceSource {
    /// A record of the institution's administrative registry with one of these service codes.
    Admin {
        institution: String,
        services: Vec<String>,
    },
    /// A counter-referral (service delivered) reported by the institution.
    CounterReferral {
        institution: String,
        services: Vec<String>,
    },
    /// An answer of the FIPS, as a rule over the unit's variables.
    Fips { rule: Compiled },
}

/// One evidence rule of a service; rules are listed in precedence order.
#[derive(Debug, Clone)]
pub struct Evidence {
    pub source: EvidenceSource,
    /// How long evidence stays valid, in days from its date (record date / interview date).
    pub valid_days: Option<u32>,
    /// Spanish description shown in explanations.
    pub description: String,
    /// Admin / counter-referral: no record means *desprotegido* (the registry is complete).
    pub absence_unprotects: bool,
    /// Line in its file (for messages).
    pub line: usize,
}

/// A service of the catalogue.
#[derive(Debug, Clone)]
pub struct Service {
    pub code: String,
    pub name: String,
    pub institution: String,
    pub pillar: Pillar,
    pub category: Category,
    pub package: Package,
    pub delivery_level: DeliveryLevel,
    pub unit_cost_pyg: i64,
    pub deadline_days: Option<u32>,
    /// Extra eligibility beyond the category (sex, work, rurality…).
    pub eligibility: Option<Compiled>,
    pub evidence: Vec<Evidence>,
    pub file: String,
    pub line: usize,
}

/// INE's multidimensional poverty method as shipped (`catalogue/ipm/ine_paraguay.toml`): the
/// one a catalogue choosing `pobreza = "ipm"` classifies by, so its text is part of such a
/// catalogue's version.
pub const IPM_METHOD: &str = include_str!("../../../catalogue/ipm/ine_paraguay.toml");

/// The measure that decides who belongs to the population of special attention «pobreza»
/// (breakdowns, Canal Verde criteria, the household variable `pobre`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Poverty {
    /// Income per member below `linea_pobreza_mensual_pyg` (the default).
    #[default]
    Ingreso,
    /// Poor by the multidimensional poverty index (INE's method, `catalogue/ipm/`).
    Ipm,
}

/// A validated catalogue.
#[derive(Debug, Clone)]
pub struct Catalogue {
    pub name: String,
    /// The human label (`version = "2026.1"`).
    pub label: String,
    /// The effective version: a hash of the files' content (`sha256:…`).
    pub version: String,
    pub illustrative: bool,
    pub description: String,
    pub poverty_line_pyg: Option<i64>,
    /// Which measure decides the population «pobreza» (`pobreza = "ingreso" | "ipm"`).
    pub poverty: Poverty,
    pub institutions: Vec<Institution>,
    pub services: Vec<Service>,
    /// The folder's own `canal_verde.toml` (its path and text), checked against this catalogue
    /// when the folder was loaded; `None`: the illustrative one applies
    /// ([`canal_verde::of`]).
    pub canal_verde: Option<(String, String)>,
}

impl Catalogue {
    /// The catalogue indices of the núcleo services of `category`, in file order: the services
    /// whose concurrent protection a Logro counts.
    pub fn nucleo(&self, category: Category) -> Vec<usize> {
        self.services
            .iter()
            .enumerate()
            .filter(|(_, s)| s.category == category && s.package == Package::Nucleo)
            .map(|(i, _)| i)
            .collect()
    }

    /// The services of one category and package, in file order.
    pub fn package(&self, category: Category, package: Package) -> impl Iterator<Item = &Service> {
        self.services
            .iter()
            .filter(move |s| s.category == category && s.package == package)
    }
    pub fn institution(&self, code: &str) -> Option<&Institution> {
        self.institutions.iter().find(|i| i.code == code)
    }
}

/// The variables a rule of a category may read.
pub fn scopes_of(category: Category) -> &'static [Scope] {
    match category.unit() {
        vamos_domain::services::Unit::Person => &[Scope::Person, Scope::Household],
        vamos_domain::services::Unit::Household => &[Scope::Household],
        vamos_domain::services::Unit::Community => &[Scope::Community],
    }
}
/// The illustrative default catalogue shipped with Vamos (`catalogue/default/`), embedded.
pub const DEFAULT_FILES: &[(&str, &str)] = &[
    (
        "catalogo.toml",
        include_str!("../../../catalogue/default/catalogo.toml"),
    ),
    (
        "servicios/antes_del_nacimiento.toml",
        include_str!("../../../catalogue/default/servicios/antes_del_nacimiento.toml"),
    ),
    (
        "servicios/en_el_nacimiento.toml",
        include_str!("../../../catalogue/default/servicios/en_el_nacimiento.toml"),
    ),
    (
        "servicios/despues_del_nacimiento.toml",
        include_str!("../../../catalogue/default/servicios/despues_del_nacimiento.toml"),
    ),
    (
        "servicios/ninez.toml",
        include_str!("../../../catalogue/default/servicios/ninez.toml"),
    ),
    (
        "servicios/adolescencia.toml",
        include_str!("../../../catalogue/default/servicios/adolescencia.toml"),
    ),
    (
        "servicios/juventud.toml",
        include_str!("../../../catalogue/default/servicios/juventud.toml"),
    ),
    (
        "servicios/adultez.toml",
        include_str!("../../../catalogue/default/servicios/adultez.toml"),
    ),
    (
        "servicios/adultos_mayores.toml",
        include_str!("../../../catalogue/default/servicios/adultos_mayores.toml"),
    ),
    (
        "servicios/hogares.toml",
        include_str!("../../../catalogue/default/servicios/hogares.toml"),
    ),
    (
        "servicios/entorno.toml",
        include_str!("../../../catalogue/default/servicios/entorno.toml"),
    ),
];

/// Loads the embedded default catalogue.
pub fn default_catalogue(vocab: &dyn Vocabulary) -> Result<Catalogue, Vec<CatalogueError>> {
    let files: Vec<(String, String)> = DEFAULT_FILES
        .iter()
        .map(|(p, t)| (p.to_string(), t.to_string()))
        .collect();
    load_files("catalogue/default", &files, vocab)
}
