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

/// Any text as a linkage model's settings file: reading it never panics; settings it accepts
/// have their thresholds in order and a version that names the text's hash.
pub fn linkage_settings(text: &str) {
    if let Ok((s, version)) = crate::linkage::parse_settings(text, "fuzz.toml") {
        assert!(
            s.thresholds.review <= s.thresholds.link,
            "thresholds out of order"
        );
        assert!(version.contains(" · sha256:"), "version without its hash");
    }
}

/// Any bytes as administrative records (CSV with the columns the shipped model compares),
/// linked to the first half of themselves by the shipped model: never panics; every pair
/// scored has a probability in [0, 1] that its waterfall explains.
pub fn linkage_records(bytes: &[u8]) {
    use vamos_linkage::block::{Input, Keys};
    let Ok((settings, _)) =
        crate::linkage::parse_settings(crate::linkage::admin::SETTINGS, "admin_registro.toml")
    else {
        // The shipped settings always read (their own tests say so): nothing to fuzz without.
        return;
    };
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(bytes);
    let cols: Vec<String> = crate::linkage::admin::COLUMNS
        .iter()
        .map(|c| (*c).to_string())
        .collect();
    let rows: Vec<Vec<String>> = rdr
        .records()
        .take(200)
        .filter_map(std::result::Result::ok)
        .map(|r| r.iter().map(str::to_string).collect())
        .collect();
    let half = rows.len() / 2;
    let (Some(a), Some(b)) = (rows.get(..half), rows.get(half..)) else {
        return;
    };
    let (Ok(left), Ok(right)) = (
        vamos_linkage::Table::new(&settings, &cols, a),
        vamos_linkage::Table::new(&settings, &cols, b),
    ) else {
        return;
    };
    let input = Input::Link(&left, &right);
    let Ok(keys) = Keys::new(input, &settings.blocking) else {
        return;
    };
    // Training may refuse (too few pairs to estimate a comparison): with a reason.
    let model = match vamos_linkage::train(&settings, input) {
        Ok(m) => m,
        Err(e) => {
            assert!(!e.is_empty(), "refused without a reason");
            return;
        }
    };
    let (scored, _) = model.predict(&settings, input, &keys, 0.0);
    for p in scored {
        assert!(
            (0.0..=1.0).contains(&p.probability),
            "probability {}",
            p.probability
        );
        let w = model.waterfall(&settings, &left, &right, p.left, p.right);
        assert!(
            (w.weight - p.weight).abs() < 1e-6 || (w.weight.is_nan() && p.weight.is_nan()),
            "the waterfall does not explain the weight"
        );
    }
}

/// Any bytes as a meeting's minute (`vamos governance record FILE.json`, `POST /api/meetings`):
/// reading and checking it never panics; a minute it accepts is within every bound — at most 50
/// agreements and points per part, texts within their limits, a meeting already held, times as
/// hh:mm — and one it refuses says why.
pub fn meeting_minute(bytes: &[u8]) {
    let Ok(m) = serde_json::from_slice::<crate::governance::MeetingInput>(bytes) else {
        return;
    };
    let today = NaiveDate::from_ymd_opt(2026, 12, 8).unwrap_or_default();
    match crate::governance::checked_minute(&m, today) {
        Ok(x) => {
            assert!(x.agreements.len() <= 50, "too many agreements");
            assert!(x.agreements.iter().all(|a| a.text.chars().count() <= 4000));
            for part in [&x.objectives, &x.agenda, &x.development, &x.annexes] {
                assert!(part.len() <= 50 && part.iter().all(|t| t.chars().count() <= 4000));
            }
            assert!(x.held_on.as_str() <= "2026-12-08", "a meeting not yet held");
            for t in [&x.time_from, &x.time_to].into_iter().flatten() {
                assert!(
                    chrono::NaiveTime::parse_from_str(t, "%H:%M").is_ok(),
                    "time {t}"
                );
            }
            assert!(!x.title.trim().is_empty() && !x.place.trim().is_empty());
        }
        Err(e) => assert!(!e.message.is_empty(), "refused without a reason"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mutated_linkage_settings_and_records_never_panic() {
        let shipped = crate::linkage::admin::SETTINGS;
        let records = "1,4123456,María José,Benítez de Ortiz,1988-03-02,mujer,1116\n\
                       2,,MA. JOSE,BENITEZ,02/03/1988,mujer,1116\n\
                       3,4123465,Fco.,Ortiz,1985-12-01,hombre,1602\n\
                       4,,Francisco,Ortiz Vera,1985-01-12,hombre,1602\n\
                       5,,Ña Tupã,Aquino,2020-02-29,mujer,218\n\
                       6,,Tupa,Akino,2020-02-29,mujer,218\n";
        let mut rng = 0x2545_F491_4F6C_DD1Du64;
        let odd: [&[u8]; 7] = [
            b"",
            b",",
            b"\n",
            b"=1+1",
            "ñ".as_bytes(),
            b"\xff\xfe",
            b"9999-99-99",
        ];
        for _ in 0..300 {
            let mut s = shipped.as_bytes().to_vec();
            let mut r = records.as_bytes().to_vec();
            for _ in 0..1 + next(&mut rng) % 4 {
                for buf in [&mut s, &mut r] {
                    let at = (next(&mut rng) % (buf.len() as u64 + 1)) as usize;
                    match next(&mut rng) % 3 {
                        0 if at < buf.len() => {
                            buf.remove(at);
                        }
                        1 => {
                            let o = odd[(next(&mut rng) % odd.len() as u64) as usize];
                            buf.splice(at..at, o.iter().copied());
                        }
                        _ => {
                            let end = (at + 20).min(buf.len());
                            let copy: Vec<u8> = buf[at..end].to_vec();
                            buf.splice(at..at, copy);
                        }
                    }
                }
            }
            linkage_settings(&String::from_utf8_lossy(&s));
            linkage_records(&r);
        }
    }

    #[test]
    fn mutated_minutes_never_panic_and_are_accepted_only_within_bounds() {
        let minute = include_str!("../../../data/governance/minuta_2023_01_31.json");
        let odd: [&[u8]; 9] = [
            b"",
            b"\"",
            b"{",
            b"]",
            b"\"held_on\": \"31/12/2999\",",
            b"\"time_from\": \"25:99\",",
            "ñ".as_bytes(),
            b"\xff",
            b"\"=1+1\"",
        ];
        let mut rng = 0x1234_5678_9ABC_DEF1u64;
        let mut accepted = 0;
        for _ in 0..400 {
            let mut b = minute.as_bytes().to_vec();
            for _ in 0..next(&mut rng) % 3 {
                let at = (next(&mut rng) % (b.len() as u64 + 1)) as usize;
                match next(&mut rng) % 3 {
                    0 if at < b.len() => {
                        b.remove(at);
                    }
                    1 => {
                        let o = odd[(next(&mut rng) % odd.len() as u64) as usize];
                        b.splice(at..at, o.iter().copied());
                    }
                    _ => {
                        let end = (at + 40).min(b.len());
                        let copy: Vec<u8> = b[at..end].to_vec();
                        b.splice(at..at, copy);
                    }
                }
            }
            if serde_json::from_slice::<crate::governance::MeetingInput>(&b).is_ok() {
                accepted += 1;
            }
            meeting_minute(&b);
        }
        // The unmutated minute (no mutation drawn) reads: the harness saw real minutes.
        assert!(accepted > 0);
    }

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
