//! The XLSForms shipped in `forms/` read at run time for their choice lists, so the codes an
//! import accepts are exactly the codes the enumerators' form offers.

use crate::bounded::{sheet, workbook, SheetLimits};
use rustc_hash::FxHashMap;
use std::sync::OnceLock;

const FIPS_XLSX: &[u8] = include_bytes!("../../../forms/fips.xlsx");
const COMUNIDAD_XLSX: &[u8] = include_bytes!("../../../forms/comunidad.xlsx");
const SIMPLIFICADO_XLSX: &[u8] = include_bytes!("../../../forms/registro_simplificado.xlsx");

/// Which shipped form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormId {
    Fips,
    Comunidad,
    Simplificado,
}

/// A parsed XLSForm: survey rows (type, name) and choice lists (list name → codes).
#[derive(Debug, Default)]
pub struct Form {
    pub survey: Vec<(String, String)>,
    pub choices: FxHashMap<String, Vec<&'static str>>,
    /// The Spanish label of each question, by name.
    pub question_labels: FxHashMap<String, String>,
    /// The Spanish label of each choice, by list and code.
    pub choice_labels: FxHashMap<(String, String), String>,
}

impl Form {
    /// The codes of a choice list (empty when the list does not exist).
    pub fn choice_list(&self, list: &str) -> &[&'static str] {
        self.choices.get(list).map(Vec::as_slice).unwrap_or(&[])
    }

    /// The question as the enumerator read it (Spanish), if the form has it.
    pub fn question_label(&self, name: &str) -> Option<&str> {
        self.question_labels.get(name).map(String::as_str)
    }

    /// What a choice code means in words (Spanish), if the list has it.
    pub fn choice_label(&self, list: &str, code: &str) -> Option<&str> {
        self.choice_labels
            .get(&(list.to_string(), code.to_string()))
            .map(String::as_str)
    }
}

/// The column of the Spanish label (`label::Español (es)`, or a plain `label`).
fn label_column(rows: &[Vec<(u32, String)>]) -> Option<u32> {
    column(rows, "label::Español (es)").or_else(|| column(rows, "label"))
}

/// The rows of a sheet as (column, text) cells, texts trimmed (forms are small: read whole).
fn sheet_rows(bytes: &[u8], name: &str) -> Result<Vec<Vec<(u32, String)>>, String> {
    let mut wb = workbook::open_bytes(bytes, "formulario").map_err(|e| e.to_string())?;
    let mut rows = Vec::new();
    sheet::stream(&mut wb, name, name, &SheetLimits::DEFAULT, |_, cells| {
        rows.push(
            cells
                .iter()
                .map(|(c, t)| (*c, t.trim().to_string()))
                .collect(),
        );
        Ok(())
    })
    .map_err(|e| e.to_string())?;
    Ok(rows)
}

/// The column of the header `name` in a sheet's first row.
fn column(rows: &[Vec<(u32, String)>], name: &str) -> Option<u32> {
    rows.first()?
        .iter()
        .find(|(_, t)| t == name)
        .map(|(c, _)| *c)
}

/// The text of column `col` in a row (empty when absent).
fn text(row: &[(u32, String)], col: u32) -> &str {
    row.iter()
        .find(|(c, _)| *c == col)
        .map_or("", |(_, t)| t.as_str())
}

/// Parses an XLSForm workbook from bytes.
pub fn parse_form(bytes: &[u8]) -> Result<Form, String> {
    let mut form = Form::default();
    let survey = sheet_rows(bytes, "survey")?;
    let ti = column(&survey, "type").ok_or("survey sin columna type")?;
    let ni = column(&survey, "name").ok_or("survey sin columna name")?;
    let sl = label_column(&survey);
    for r in survey.iter().skip(1) {
        let t = text(r, ti);
        if !t.is_empty() {
            let name = text(r, ni).to_string();
            if let Some(label) = sl.map(|c| text(r, c)).filter(|l| !l.is_empty()) {
                form.question_labels.insert(name.clone(), label.to_string());
            }
            form.survey.push((t.to_string(), name));
        }
    }
    let choices = sheet_rows(bytes, "choices")?;
    let li = column(&choices, "list_name").ok_or("choices sin list_name")?;
    let ni = column(&choices, "name").ok_or("choices sin name")?;
    let cl = label_column(&choices);
    for r in choices.iter().skip(1) {
        let (l, n) = (text(r, li), text(r, ni));
        if let Some(label) = cl.map(|c| text(r, c)).filter(|x| !x.is_empty()) {
            if !l.is_empty() && !n.is_empty() {
                form.choice_labels
                    .insert((l.to_string(), n.to_string()), label.to_string());
            }
        }
        if !l.is_empty() && !n.is_empty() {
            // Interned once per process: answers then carry `&'static str` codes.
            let code: &'static str = Box::leak(n.to_string().into_boxed_str());
            form.choices.entry(l.to_string()).or_default().push(code);
        }
    }
    Ok(form)
}

/// The shipped form, parsed once.
pub fn form(id: FormId) -> &'static Form {
    static FIPS: OnceLock<Form> = OnceLock::new();
    static COM: OnceLock<Form> = OnceLock::new();
    static SIM: OnceLock<Form> = OnceLock::new();
    let (cell, bytes) = match id {
        FormId::Fips => (&FIPS, FIPS_XLSX),
        FormId::Comunidad => (&COM, COMUNIDAD_XLSX),
        FormId::Simplificado => (&SIM, SIMPLIFICADO_XLSX),
    };
    // The shipped workbooks are checked by tests and by `forms/check_forms.sh`.
    cell.get_or_init(|| parse_form(bytes).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use vamos_domain::schema::{FieldKind, COMMUNITY_FIELDS, HOUSEHOLD_FIELDS, PERSON_FIELDS};
    use vamos_domain::FieldSpec;

    fn check(form: &Form, fields: &[FieldSpec]) {
        for f in fields {
            let ty = &form
                .survey
                .iter()
                .find(|(_, n)| n == f.name)
                .unwrap_or_else(|| panic!("{} missing from the form", f.name))
                .0;
            let expected = match f.kind {
                FieldKind::Text => "text".to_string(),
                FieldKind::Integer { .. } => "integer".to_string(),
                FieldKind::SelectOne(l) => format!("select_one {l}"),
                FieldKind::SelectMultiple(l) => format!("select_multiple {l}"),
            };
            assert_eq!(ty, &expected, "type of {}", f.name);
            if let FieldKind::SelectOne(l) | FieldKind::SelectMultiple(l) = f.kind {
                assert!(!form.choice_list(l).is_empty(), "choice list {l}");
            }
        }
    }

    #[test]
    fn schema_matches_the_shipped_forms() {
        check(form(FormId::Fips), HOUSEHOLD_FIELDS);
        check(form(FormId::Fips), PERSON_FIELDS);
        check(form(FormId::Comunidad), COMMUNITY_FIELDS);
        assert_eq!(form(FormId::Fips).choice_list("distrito").len(), 263);
        assert!(form(FormId::Fips).choice_list("distrito").contains(&"0218"));
        let simp = form(FormId::Simplificado);
        for name in [
            "nombres",
            "apellidos",
            "cedula",
            "fecha_nacimiento",
            "sexo",
            "relacion_jefe",
            "distrito",
        ] {
            assert!(simp.survey.iter().any(|(_, n)| n == name), "{name}");
        }
    }
}
