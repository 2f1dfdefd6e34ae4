//! Questionnaire answers read from a table row and checked against the form: choice codes must
//! exist in the XLSForm's list, integers must parse and lie in range, free text must fit
//! `vamos_domain::limits::FREE_TEXT`. Columns are resolved
//! once per table, so the per-row work is a lookup and a comparison.

use crate::forms::Form;
use crate::report::RowProblems;
use crate::table::Table;
use crate::text::decode;
use csv::ByteRecord;
use vamos_domain::limits::Limit;
use vamos_domain::{FieldKind, FieldSpec, Value};

enum Check {
    Text,
    Int { min: i64, max: i64 },
    One(&'static [&'static str]),
    Multi(&'static [&'static str]),
}

struct Resolved {
    col: Option<usize>,
    header: String,
    check: Check,
}

/// Reads the answers of one schema (household, person or community fields) from rows.
pub struct AnswerReader {
    fields: Vec<Resolved>,
}

impl AnswerReader {
    /// Resolves each field's column in `table`; fields without a column are listed in
    /// `missing` (answers then read as null — optional columns may be absent).
    pub fn new(
        table: &Table,
        form: &'static Form,
        fields: &[FieldSpec],
        missing: &mut Vec<String>,
    ) -> AnswerReader {
        let fields = fields
            .iter()
            .map(|f| {
                let col = table.col(&[f.name]);
                if col.is_none() {
                    missing.push(format!("{}:{}", table.label, f.name));
                }
                let header = col
                    .and_then(|c| table.headers.get(c).cloned())
                    .unwrap_or_else(|| f.name.to_string());
                let check = match f.kind {
                    FieldKind::Text => Check::Text,
                    FieldKind::Integer { min, max } => Check::Int { min, max },
                    FieldKind::SelectOne(l) => Check::One(form.choice_list(l)),
                    FieldKind::SelectMultiple(l) => Check::Multi(form.choice_list(l)),
                };
                Resolved { col, header, check }
            })
            .collect();
        AnswerReader { fields }
    }

    /// Reads all answers of a row; problems are added to `problems`.
    pub fn read(&self, rec: &ByteRecord, problems: &mut RowProblems<'_>, out: &mut Vec<Value>) {
        out.clear();
        for f in &self.fields {
            let raw = f
                .col
                .and_then(|c| rec.get(c))
                .map(decode)
                .unwrap_or_default();
            let v = raw.trim();
            if v.is_empty() {
                out.push(Value::Null);
                continue;
            }
            let value = match &f.check {
                Check::Text => {
                    let text = crate::text::clean_text(v);
                    if problems.check(&f.header, &text, Limit::FreeText) {
                        Value::Text(text)
                    } else {
                        Value::Null
                    }
                }
                Check::Int { min, max } => match parse_int(v) {
                    Some(n) if n >= *min && n <= *max => Value::Int(n),
                    Some(_) => {
                        problems.add(
                            &f.header,
                            v,
                            format!("valor fuera de rango: se espera entre {min} y {max}"),
                        );
                        Value::Null
                    }
                    None => {
                        problems.add(&f.header, v, "no es un número entero");
                        Value::Null
                    }
                },
                Check::One(list) => match list.iter().find(|c| **c == v) {
                    Some(code) => Value::Code(code),
                    None => {
                        problems.add(&f.header, v, unknown_code(list));
                        Value::Null
                    }
                },
                Check::Multi(list) => {
                    let mut ok = true;
                    for part in v.split_whitespace() {
                        if !list.contains(&part) {
                            problems.add(&f.header, part, unknown_code(list));
                            ok = false;
                        }
                    }
                    if ok {
                        Value::Text(v.split_whitespace().collect::<Vec<_>>().join(" "))
                    } else {
                        Value::Null
                    }
                }
            };
            out.push(value);
        }
    }
}

/// Reads an integer as spreadsheets write it: `3`, `3.0`, ` 1.500.000 ` is NOT accepted
/// (ambiguous thousands separators are refused rather than guessed).
pub fn parse_int(v: &str) -> Option<i64> {
    if let Ok(n) = v.parse::<i64>() {
        return Some(n);
    }
    let f: f64 = v.parse().ok()?;
    (f.fract() == 0.0 && f.abs() < 9e15).then_some(f as i64)
}

/// The Spanish reason for a code outside a choice list, listing the valid codes.
pub fn unknown_code(list: &[&str]) -> String {
    let shown: Vec<&str> = list.iter().take(12).copied().collect();
    let more = if list.len() > 12 { ", …" } else { "" };
    format!(
        "código desconocido (valores válidos: {}{more})",
        shown.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers() {
        assert_eq!(parse_int("3"), Some(3));
        assert_eq!(parse_int("3.0"), Some(3));
        assert_eq!(parse_int("3.5"), None);
        assert_eq!(parse_int("tres"), None);
    }
}
