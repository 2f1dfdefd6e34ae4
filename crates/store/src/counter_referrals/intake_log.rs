//! The payload of a row of the counter-referral intake log (`counter_referral_log`): the
//! events of one group, with the ids they were given, as compact text. One line per event,
//! fields separated by tabs, the ids implied (the first id and the count head the payload; a
//! group's ids are consecutive), a field equal to the previous event's written as `\s`. A
//! group takes a fraction of the size of its JSON (the format of earlier versions, still
//! read), and is written and read without a general-purpose parser: the server's single writer
//! writes every event once here and reads it back once (measured: BENCHMARKS.md, issue 5).
//!
//! ```text
//! cr2 <tab> first id <tab> count <newline>
//! institution, event key, digest, person, household, community, district, service,
//! delivered on, place (\N: none), place district (empty: none), channel, received by
//! ```
//!
//! Text fields escape `\` `\t` `\n` `\r` as `\\` `\t` `\n` `\r`, so no field holds a separator.

use super::{NewCounterReferral, PersonPlace};
use crate::{Result, StoreError};

/// The first line's tag.
const TAG: &str = "cr2";
/// A field equal to the same field of the previous event.
const SAME: &str = "\\s";
/// No value (`place`).
const NONE: &str = "\\N";
/// Fields per event line.
const FIELDS: usize = 13;

/// Appends a payload's first line: the id of its first event and how many follow (their
/// lines are appended by [`push_events`], in id order).
pub fn push_header(out: &mut String, first: i64, count: usize) {
    out.push_str(TAG);
    out.push('\t');
    push_int(out, first);
    out.push('\t');
    push_int(out, count as i64);
    out.push('\n');
}

/// Appends one line per event. Lines made apart (a submission's events encoded on the
/// thread that checked them, before the writer gives them ids) are joined as they are: each
/// call's first line repeats nothing.
pub fn push_events<'a>(out: &mut String, events: impl IntoIterator<Item = &'a NewCounterReferral>) {
    let mut prev: Option<&NewCounterReferral> = None;
    for e in events {
        let same = |f: fn(&NewCounterReferral) -> &str| prev.is_some_and(|p| f(p) == f(e));
        push_repeated(out, &e.institution, same(|x| &x.institution));
        out.push('\t');
        push_text(out, &e.event_key);
        out.push('\t');
        push_text(out, &e.digest);
        for n in [
            e.person.person_id,
            e.person.household_id,
            e.person.community_id,
            e.person.district_code,
        ] {
            out.push('\t');
            push_int(out, n);
        }
        out.push('\t');
        push_repeated(out, &e.service, same(|x| &x.service));
        out.push('\t');
        push_repeated(out, &e.delivered_on, same(|x| &x.delivered_on));
        out.push('\t');
        match &e.place {
            Some(p) => push_text(out, p),
            None => out.push_str(NONE),
        }
        out.push('\t');
        if let Some(d) = e.place_district {
            push_int(out, d);
        }
        out.push('\t');
        push_repeated(out, &e.channel, same(|x| &x.channel));
        out.push('\t');
        push_repeated(out, &e.received_by, same(|x| &x.received_by));
        out.push('\n');
        prev = Some(e);
    }
}

/// Decodes a log payload: this module's format or the JSON of earlier versions
/// (`[[id, event], …]`). `row`: the log row's id, for the error message.
pub fn decode(payload: &str, row: i64) -> Result<Vec<(i64, NewCounterReferral)>> {
    let bad = |why: String| {
        StoreError::Invalid(format!(
            "registro de contra-referencias {row} ilegible: {why}"
        ))
    };
    if payload.starts_with('[') {
        return serde_json::from_str(payload).map_err(|e| bad(e.to_string()));
    }
    let mut lines = payload.split_terminator('\n');
    let head: Vec<&str> = lines.next().unwrap_or_default().split('\t').collect();
    let (first, count) = match head.as_slice() {
        [TAG, first, count] => (
            first
                .parse::<i64>()
                .map_err(|_| bad(format!("primer id {first:?}")))?,
            count
                .parse::<usize>()
                .map_err(|_| bad(format!("cantidad {count:?}")))?,
        ),
        _ => return Err(bad("encabezado desconocido".into())),
    };
    let mut out: Vec<(i64, NewCounterReferral)> = Vec::with_capacity(count);
    for (i, line) in lines.enumerate() {
        let at = |why: String| bad(format!("evento {}: {why}", i + 1));
        let mut f = [""; FIELDS];
        let mut parts = line.split('\t');
        for slot in &mut f {
            *slot = parts.next().ok_or_else(|| at("faltan campos".into()))?;
        }
        if parts.next().is_some() {
            return Err(at("sobran campos".into()));
        }
        let prev = out.last().map(|(_, e)| e);
        let repeated = |v: &str, pick: fn(&NewCounterReferral) -> &String| -> Result<String> {
            if v == SAME {
                prev.map(|p| pick(p).clone())
                    .ok_or_else(|| at("repite un evento anterior inexistente".into()))
            } else {
                unescape(v).map_err(&at)
            }
        };
        let int = |v: &str, what: &str| -> Result<i64> {
            v.parse::<i64>().map_err(|_| at(format!("{what} {v:?}")))
        };
        let [institution, key, digest, person, household, community, district, service, day, place, place_district, channel, received_by] =
            f;
        let event = NewCounterReferral {
            institution: repeated(institution, |e| &e.institution)?,
            event_key: unescape(key).map_err(&at)?,
            digest: unescape(digest).map_err(&at)?,
            person: PersonPlace {
                person_id: int(person, "persona")?,
                household_id: int(household, "hogar")?,
                community_id: int(community, "comunidad")?,
                district_code: int(district, "distrito")?,
            },
            service: repeated(service, |e| &e.service)?,
            delivered_on: repeated(day, |e| &e.delivered_on)?,
            place: if place == NONE {
                None
            } else {
                Some(unescape(place).map_err(&at)?)
            },
            place_district: if place_district.is_empty() {
                None
            } else {
                Some(int(place_district, "distrito del lugar")?)
            },
            channel: repeated(channel, |e| &e.channel)?,
            received_by: repeated(received_by, |e| &e.received_by)?,
        };
        out.push((first + i as i64, event));
    }
    if out.len() != count {
        return Err(bad(format!(
            "{} eventos, el encabezado dice {count}",
            out.len()
        )));
    }
    Ok(out)
}

fn push_int(out: &mut String, n: i64) {
    // Digits last first.
    let mut digits = [0u8; 20];
    let mut len = 0;
    let mut v = n.unsigned_abs();
    for slot in &mut digits {
        *slot = b'0' + (v % 10) as u8;
        len += 1;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    if n < 0 {
        out.push('-');
    }
    out.extend(digits.iter().take(len).rev().map(|&d| char::from(d)));
}

fn push_repeated(out: &mut String, v: &str, same: bool) {
    if same {
        out.push_str(SAME);
    } else {
        push_text(out, v);
    }
}

fn push_text(out: &mut String, v: &str) {
    if !v
        .bytes()
        .any(|b| matches!(b, b'\\' | b'\t' | b'\n' | b'\r'))
    {
        out.push_str(v);
        return;
    }
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
}

fn unescape(v: &str) -> std::result::Result<String, String> {
    if !v.contains('\\') {
        return Ok(v.to_string());
    }
    let mut out = String::with_capacity(v.len());
    let mut chars = v.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('\\') => out.push('\\'),
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            other => return Err(format!("escape desconocido en {v:?}: {other:?}")),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(key: &str, person: i64) -> NewCounterReferral {
        NewCounterReferral {
            institution: "MSPBS".into(),
            event_key: key.into(),
            digest: format!("{person:064x}"),
            person: PersonPlace {
                person_id: person,
                household_id: person / 3,
                community_id: 7,
                district_code: 1107,
            },
            service: "control_prenatal".into(),
            delivered_on: "2026-11-20".into(),
            place: None,
            place_district: None,
            channel: "api".into(),
            received_by: "operador_mspbs".into(),
        }
    }

    /// The payload of `rows` (ids consecutive).
    fn encode(rows: &[(i64, NewCounterReferral)]) -> String {
        let mut out = String::new();
        push_header(&mut out, rows.first().map_or(0, |r| r.0), rows.len());
        push_events(&mut out, rows.iter().map(|(_, e)| e));
        out
    }

    fn round_trip(rows: &[(i64, NewCounterReferral)]) -> Vec<(i64, NewCounterReferral)> {
        decode(&encode(rows), 1).unwrap()
    }

    #[test]
    fn round_trips_events_with_awkward_text() {
        let mut b = event("clave\tcon\ttabs\\y\nsaltos\r", 2);
        b.place = Some("Puesto de salud \\N «Ñandutí»\t2".into());
        b.place_district = Some(1101);
        b.institution = "MEC".into();
        let mut c = event("", 3);
        c.place = Some(String::new());
        c.channel = String::new();
        c.received_by = "\\s".into();
        let mut d = event("\\N", 4);
        d.place = Some("\\N".into());
        let mut e = event("a-2", i64::MAX);
        e.person.household_id = -1;
        e.person.community_id = 0;
        e.place_district = Some(i64::MIN);
        let rows = vec![(41, event("a-1", 1)), (42, b), (43, c), (44, d), (45, e)];
        assert_eq!(round_trip(&rows), rows);
    }

    #[test]
    fn repeated_fields_are_written_once() {
        let rows: Vec<(i64, NewCounterReferral)> = (0..1000)
            .map(|i| (1 + i, event(&format!("k{i}"), i)))
            .collect();
        let refs: Vec<(i64, &NewCounterReferral)> = rows.iter().map(|(i, e)| (*i, e)).collect();
        let payload = encode(&rows);
        let json = serde_json::to_string(&refs).unwrap();
        assert!(
            payload.len() * 2 < json.len(),
            "{} vs {}",
            payload.len(),
            json.len()
        );
        assert_eq!(payload.matches("control_prenatal").count(), 1);
        assert_eq!(decode(&payload, 1).unwrap(), rows);
    }

    #[test]
    fn lines_encoded_apart_join_into_one_payload() {
        let rows: Vec<(i64, NewCounterReferral)> = (0..6)
            .map(|i| (10 + i, event(&format!("k{i}"), i)))
            .collect();
        let mut payload = String::new();
        push_header(&mut payload, 10, 6);
        let mut block = String::new();
        push_events(&mut block, rows.iter().take(4).map(|(_, e)| e));
        payload.push_str(&block);
        push_events(&mut payload, rows.iter().skip(4).map(|(_, e)| e));
        assert_eq!(decode(&payload, 1).unwrap(), rows);
    }

    #[test]
    fn reads_the_json_of_earlier_versions() {
        let rows = vec![(7, event("x", 1)), (8, event("y", 2))];
        let refs: Vec<(i64, &NewCounterReferral)> = rows.iter().map(|(i, e)| (*i, e)).collect();
        let json = serde_json::to_string(&refs).unwrap();
        assert_eq!(decode(&json, 1).unwrap(), rows);
    }

    #[test]
    fn empty_group() {
        assert_eq!(decode(&encode(&[]), 1).unwrap(), Vec::new());
    }

    #[test]
    fn damaged_payloads_are_errors_not_panics() {
        let rows = vec![(5, event("a", 1)), (6, event("b", 2))];
        let good = encode(&rows);
        let cases = [
            String::new(),
            "cr9\t1\t1\n".to_string(),
            good.replacen("\t2\n", "\t3\n", 1),
            good.replacen("control_prenatal", "control\\xprenatal", 1),
            good.replacen("\t1107\t", "\t11x7\t", 1),
            good.lines().take(2).collect::<Vec<_>>().join("\n") + "\textra\n",
            format!("cr2\t1\t1\n{}", good.lines().nth(2).unwrap_or_default()),
            "[{\"no\": 1}]".to_string(),
        ];
        for (i, bad) in cases.iter().enumerate() {
            let err = decode(bad, 9);
            assert!(err.is_err(), "caso {i}: {bad:?}");
            assert!(err
                .unwrap_err()
                .to_string()
                .contains("registro de contra-referencias 9"));
        }
        // No prefix of a good payload makes the decoder panic.
        for cut in 0..good.len() {
            if good.is_char_boundary(cut) {
                let _ = decode(&good[..cut], 1);
            }
        }
    }
}
