//! Harnesses shared by the fuzz targets (`fuzz/`) and the in-tree tests that run the same
//! invariants on deterministic mutations, so CI checks them without a nightly toolchain.

use crate::grievances::{validate, Form};
use chrono::NaiveDate;
use std::collections::HashMap;

/// The grievance form as the public page posts it, already decoded into name–value pairs (a
/// repeated name keeps its last value, as the server's form extractor does): checking it never
/// panics; a form it accepts has a description within its limit and identifies the person
/// whenever its category requires it; one it refuses says why, field by field.
pub fn grievance_form(pairs: Vec<(String, String)>) {
    let fields: HashMap<String, String> = pairs.into_iter().collect();
    let today = NaiveDate::from_ymd_opt(2026, 12, 7).unwrap_or_default();
    match validate(&Form::from_fields(&fields), today) {
        Ok(l) => {
            assert!(!l.description.trim().is_empty(), "empty description");
            assert!(
                l.description.chars().count() <= vamos_domain::limits::FREE_TEXT,
                "description over its limit"
            );
            assert!(
                l.category.anonymous || l.person.is_some(),
                "{} accepted without the person",
                l.category.code
            );
            if let Some(p) = &l.person {
                assert!(p.birth_date <= today, "birth date in the future");
            }
        }
        Err(errors) => {
            assert!(!errors.is_empty(), "refused without a reason");
            assert!(errors.iter().all(|e| !e.message.is_empty()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// xorshift: deterministic mutations without a dependency.
    fn next(s: &mut u64) -> u64 {
        *s ^= *s << 13;
        *s ^= *s >> 7;
        *s ^= *s << 17;
        *s
    }

    #[test]
    fn mutated_grievance_forms_never_panic_and_are_accepted_only_when_sound() {
        let valid = [
            ("categoria", "registro_no_figuro"),
            ("descripcion", "No figuro en el registro"),
            ("cedula", "4.123.456"),
            ("fecha_nacimiento", "04/05/1990"),
            ("nombres", "Ana"),
            ("apellidos", "Benítez"),
            ("contacto", "0981 123 456"),
            ("distrito", "1116"),
            ("institucion", "MSPBS"),
        ];
        let odd = [
            "",
            " ",
            "0",
            "31/02/2030",
            "servicio_mala_atencion",
            "ñ\u{0}",
            "=1+1",
        ];
        let mut rng = 0x9E37_79B9_7F4A_7C15u64;
        for _ in 0..2000 {
            let mut pairs: Vec<(String, String)> = valid
                .iter()
                .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
                .collect();
            for _ in 0..1 + next(&mut rng) % 3 {
                let i = (next(&mut rng) % pairs.len() as u64) as usize;
                match next(&mut rng) % 4 {
                    0 => {
                        pairs.remove(i);
                    }
                    1 => pairs[i].1 = odd[(next(&mut rng) % odd.len() as u64) as usize].into(),
                    2 => pairs[i].1 = pairs[i].1.repeat(1 + (next(&mut rng) % 400) as usize),
                    _ => pairs.push((pairs[i].0.clone(), String::new())),
                }
                if pairs.is_empty() {
                    break;
                }
            }
            grievance_form(pairs);
        }
    }
}
