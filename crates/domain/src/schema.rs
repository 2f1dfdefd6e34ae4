//! The questionnaire schema: which answers a household, person or community record carries.
//!
//! The XLSForms in `forms/` are what enumerators fill in; this module is the registry's view of
//! the same fields (name, type, choice list). Choice *values* are read from the XLSForm itself by
//! the importer, so the form stays the single source of truth for codes; a test checks that every
//! field listed here exists in the form with the same type. Identity and location answers
//! (names, cédula, birth date, district…) are typed fields of the records, not listed here.

use chrono::NaiveDate;
use serde::Serialize;

/// What kind of answer a field holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    /// Free text.
    Text,
    /// Whole number within an inclusive range.
    Integer { min: i64, max: i64 },
    /// One code of the named XLSForm choice list.
    SelectOne(&'static str),
    /// Space-separated codes of the named XLSForm choice list (ODK convention).
    SelectMultiple(&'static str),
}

/// One questionnaire field stored as an answer column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldSpec {
    /// XLSForm `name`, also the database column name.
    pub name: &'static str,
    /// XLSForm group it lives in (export column prefix), `""` for top level.
    pub group: &'static str,
    pub kind: FieldKind,
}

/// A stored answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Value {
    Null,
    Int(i64),
    Text(String),
    /// A choice code validated against the form (interned: no allocation per answer).
    Code(&'static str),
    Date(NaiveDate),
}

impl Value {
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Value::Text(s) => Some(s),
            Value::Code(s) => Some(s),
            _ => None,
        }
    }
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }
}

const fn f(name: &'static str, group: &'static str, kind: FieldKind) -> FieldSpec {
    FieldSpec { name, group, kind }
}
use FieldKind::{Integer, SelectMultiple as Multi, SelectOne as One};

/// Dwelling answers of a FIPS household (group `vivienda`).
pub const HOUSEHOLD_FIELDS: &[FieldSpec] = &[
    f("tenencia", "vivienda", One("tenencia")),
    f("material_paredes", "vivienda", One("paredes")),
    f("material_piso", "vivienda", One("piso")),
    f("material_techo", "vivienda", One("techo")),
    f("cuartos", "vivienda", Integer { min: 1, max: 30 }),
    f("dormitorios", "vivienda", Integer { min: 0, max: 30 }),
    f("fuente_agua", "vivienda", One("agua")),
    f("saneamiento", "vivienda", One("saneamiento")),
    f("electricidad", "vivienda", One("electricidad")),
    f("tarifa_social", "vivienda", One("si_no")),
    f("internet", "vivienda", One("si_no")),
    f("combustible_cocina", "vivienda", One("combustible")),
    f("basura", "vivienda", One("basura")),
];

/// Answers of a FIPS household member (repeat `miembros`) beyond identity.
pub const PERSON_FIELDS: &[FieldSpec] = &[
    f("embarazada", "miembros", One("si_no")),
    f(
        "controles_prenatales",
        "miembros",
        Integer { min: 0, max: 20 },
    ),
    f("wg_ver", "miembros", One("wg")),
    f("wg_oir", "miembros", One("wg")),
    f("wg_caminar", "miembros", One("wg")),
    f("wg_recordar", "miembros", One("wg")),
    f("wg_cuidado", "miembros", One("wg")),
    f("wg_comunicar", "miembros", One("wg")),
    f("indigena", "miembros", One("si_no")),
    f("pueblo_indigena", "miembros", One("pueblo")),
    f("idiomas", "miembros", Multi("idioma")),
    f("asiste_escuela", "miembros", One("si_no")),
    f("nivel_educativo", "miembros", One("nivel")),
    f("alfabetizado", "miembros", One("si_no")),
    f("seguro_salud", "miembros", One("seguro")),
    f("carnet_vacunacion", "miembros", One("si_no_ns")),
    f("inscripcion_nacimiento", "miembros", One("si_no_ns")),
    f("tiene_cedula", "miembros", One("si_no")),
    f("trabaja", "miembros", One("si_no")),
    f("tipo_empleo", "miembros", One("empleo")),
    f("aporta_jubilacion", "miembros", One("si_no")),
    f("recibe_pension", "miembros", One("pension")),
    f(
        "ingreso_mensual",
        "miembros",
        Integer {
            min: 0,
            max: 1_000_000_000,
        },
    ),
    f("programas", "miembros", Multi("programa")),
    // Asked since 2026-12 for the multidimensional poverty index (issue 39): appended, so
    // that older rows and submissions keep their positions and read these as sin dato.
    f("horas_trabajo", "miembros", Integer { min: 1, max: 140 }),
    f("desea_mas_horas", "miembros", One("si_no")),
    f("busca_trabajo", "miembros", One("si_no")),
    f("enfermo_accidentado", "miembros", One("si_no")),
    f("consulto_profesional", "miembros", One("si_no")),
    f("anios_estudio", "miembros", Integer { min: 0, max: 25 }),
];

/// Answers of the Entorno (community) form.
pub const COMMUNITY_FIELDS: &[FieldSpec] = &[
    f("puesto_salud", "servicios", One("distancia")),
    f("escuela", "servicios", One("distancia")),
    f("agua_comunitaria", "servicios", One("si_no")),
    f("camino_todo_tiempo", "servicios", One("si_no")),
    f("punto_conectividad", "servicios", One("si_no")),
    f("prioridad_1", "prioridades", One("prioridad")),
    f("prioridad_2", "prioridades", One("prioridad")),
    f("prioridad_3", "prioridades", One("prioridad")),
    f(
        "participantes",
        "prioridades",
        Integer {
            min: 1,
            max: 10_000,
        },
    ),
];

/// Position of a field in a schema, by name.
pub fn position(fields: &[FieldSpec], name: &str) -> Option<usize> {
    fields.iter().position(|s| s.name == name)
}

/// The six domains of the Washington Group Short Set.
pub const WG_FIELDS: [&str; 6] = [
    "wg_ver",
    "wg_oir",
    "wg_caminar",
    "wg_recordar",
    "wg_cuidado",
    "wg_comunicar",
];

/// The Washington Group cut-off over the six domains' codes: a disability when at least one
/// domain is answered "mucha dificultad" or "no puede" (WG recommended cut-off); `None` when no
/// domain was answered.
pub fn washington_group_cut_off<'a>(
    codes: impl IntoIterator<Item = Option<&'a str>>,
) -> Option<bool> {
    let mut any_answer = false;
    for code in codes.into_iter().flatten() {
        any_answer = true;
        if code == "mucha" || code == "no_puede" {
            return Some(true);
        }
    }
    any_answer.then_some(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_names_are_unique_and_column_safe() {
        for fields in [HOUSEHOLD_FIELDS, PERSON_FIELDS, COMMUNITY_FIELDS] {
            for (i, a) in fields.iter().enumerate() {
                assert!(a
                    .name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'));
                assert!(
                    fields.iter().skip(i + 1).all(|b| b.name != a.name),
                    "{}",
                    a.name
                );
            }
        }
    }

    #[test]
    fn washington_group_cut_off_rule() {
        assert_eq!(washington_group_cut_off([None, None]), None);
        assert_eq!(
            washington_group_cut_off([Some("alguna"), None]),
            Some(false)
        );
        assert_eq!(
            washington_group_cut_off([Some("alguna"), Some("mucha")]),
            Some(true)
        );
        assert_eq!(washington_group_cut_off([Some("no_puede")]), Some(true));
        assert!(WG_FIELDS
            .iter()
            .all(|f| position(PERSON_FIELDS, f).is_some()));
    }
}
