//! The variables a rule may read: every questionnaire answer of the registry's schema plus the
//! values the engine computes (age at the reference date, disability cut-off, household income
//! per capita…). A variable is resolved once, at compile time, to a [`VarId`]: the engine
//! supplies facts by position, never by name.

use vamos_domain::schema::{COMMUNITY_FIELDS, HOUSEHOLD_FIELDS, PERSON_FIELDS};
use vamos_domain::FieldKind;

/// Which unit a variable belongs to (`persona.`, `hogar.`, `comunidad.`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    Person,
    Household,
    Community,
}

impl Scope {
    pub fn prefix(self) -> &'static str {
        match self {
            Scope::Person => "persona",
            Scope::Household => "hogar",
            Scope::Community => "comunidad",
        }
    }
    pub fn parse(s: &str) -> Option<Scope> {
        match s {
            "persona" => Some(Scope::Person),
            "hogar" => Some(Scope::Household),
            "comunidad" => Some(Scope::Community),
            _ => None,
        }
    }
}

/// The type of a variable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VarType {
    Int,
    Bool,
    /// Free text, or one code of the named XLSForm choice list.
    Text(Option<&'static str>),
    /// Space-separated codes of the named choice list.
    Multi(&'static str),
}

/// A resolved variable: its scope and position in that scope's list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct VarId {
    pub scope: Scope,
    pub index: u16,
}

/// One variable: name and type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VarSpec {
    pub name: &'static str,
    pub ty: VarType,
}

const fn v(name: &'static str, ty: VarType) -> VarSpec {
    VarSpec { name, ty }
}

/// Computed person variables, placed after the questionnaire answers.
pub const PERSON_COMPUTED: &[VarSpec] = &[
    v("edad", VarType::Int),
    v("edad_meses", VarType::Int),
    v("sexo", VarType::Text(Some("sexo"))),
    v("relacion_jefe", VarType::Text(Some("relacion"))),
    v("cedula_registrada", VarType::Bool),
    v("discapacidad", VarType::Bool),
];

/// Computed household variables, placed after the dwelling answers.
pub const HOUSEHOLD_COMPUTED: &[VarSpec] = &[
    v("area", VarType::Text(Some("area"))),
    v("miembros", VarType::Int),
    v("ingreso_per_capita", VarType::Int),
    v("pobre", VarType::Bool),
];

/// Computed community variables, placed after the Entorno answers.
pub const COMMUNITY_COMPUTED: &[VarSpec] = &[v("area", VarType::Text(Some("area")))];

fn from_kind(k: FieldKind) -> VarType {
    match k {
        FieldKind::Text => VarType::Text(None),
        FieldKind::Integer { .. } => VarType::Int,
        FieldKind::SelectOne(l) => VarType::Text(Some(l)),
        FieldKind::SelectMultiple(l) => VarType::Multi(l),
    }
}

/// Every variable of a scope, in [`VarId::index`] order: the schema's answers, then the
/// computed ones.
pub fn variables(scope: Scope) -> Vec<VarSpec> {
    let (answers, computed) = match scope {
        Scope::Person => (PERSON_FIELDS, PERSON_COMPUTED),
        Scope::Household => (HOUSEHOLD_FIELDS, HOUSEHOLD_COMPUTED),
        Scope::Community => (COMMUNITY_FIELDS, COMMUNITY_COMPUTED),
    };
    answers
        .iter()
        .map(|f| VarSpec {
            name: f.name,
            ty: from_kind(f.kind),
        })
        .chain(computed.iter().copied())
        .collect()
}

/// Looks a variable up by scope and name.
pub fn lookup(scope: Scope, name: &str) -> Option<(VarId, VarType)> {
    variables(scope)
        .iter()
        .position(|s| s.name == name)
        .and_then(|i| {
            let ty = variables(scope).get(i)?.ty;
            Some((
                VarId {
                    scope,
                    index: u16::try_from(i).ok()?,
                },
                ty,
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_come_first_then_computed() {
        let (id, ty) = lookup(Scope::Person, "embarazada").unwrap();
        assert_eq!((id.index, ty), (0, VarType::Text(Some("si_no"))));
        let (id, ty) = lookup(Scope::Person, "edad").unwrap();
        assert_eq!((id.index as usize, ty), (PERSON_FIELDS.len(), VarType::Int));
        assert_eq!(lookup(Scope::Household, "pobre").unwrap().1, VarType::Bool);
        assert!(lookup(Scope::Community, "edad").is_none());
        for scope in [Scope::Person, Scope::Household, Scope::Community] {
            let vars = variables(scope);
            for (i, a) in vars.iter().enumerate() {
                assert!(
                    vars.iter().skip(i + 1).all(|b| b.name != a.name),
                    "{} twice",
                    a.name
                );
            }
        }
    }
}
