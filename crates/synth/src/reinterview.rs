//! `vamos synth --reinterview-of <DIR>`: the same synthetic households interviewed again six
//! months later — **SINTÉTICO** like the first wave.
//!
//! Reads the first wave's `fips.csv` and `fips-miembros.csv` as written by `vamos synth` and
//! writes them again with new submission keys and interview dates 182 days later. About one
//! household in ten changed: some moved (the locality — and district — of another household of
//! the wave), some had a baby (a new member born after the first interview), some lost a
//! member (a death or departure: the row is absent), some answered differently (school
//! attendance, work, health insurance). Everything else is copied as it was, so the importer
//! finds those households unchanged. Deterministic by seed; streams both files (memory holds
//! one entry per household).

// reason: CSV columns are located once in the header (a missing one is an error) and rows are
// read with `flexible(false)`, so every record has every column; checked access throughout is a
// pending tidy-up.
#![allow(clippy::indexing_slicing)]

use crate::{SynthError, SynthReport, WrittenFile};
use chrono::{Duration, NaiveDate};
use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Days between the two waves.
const GAP_DAYS: i64 = 182;

/// What happened to one household between the waves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Change {
    None,
    Moved,
    Birth,
    Left,
    Answers,
}

fn draw(rng: &mut ChaCha8Rng) -> Change {
    match rng.next_u64() % 1000 {
        0..=24 => Change::Moved,
        25..=49 => Change::Birth,
        50..=74 => Change::Left,
        75..=99 => Change::Answers,
        _ => Change::None,
    }
}

fn io(path: &Path, e: impl std::fmt::Display) -> SynthError {
    SynthError::Io {
        path: path.to_path_buf(),
        source: std::io::Error::other(e.to_string()),
    }
}

fn reader(path: &Path) -> Result<csv::Reader<std::fs::File>, SynthError> {
    csv::ReaderBuilder::new()
        .flexible(false)
        .from_path(path)
        .map_err(|e| io(path, e))
}

fn writer(path: &Path) -> Result<csv::Writer<std::fs::File>, SynthError> {
    csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_path(path)
        .map_err(|e| io(path, e))
}

fn col(h: &csv::StringRecord, name: &str, path: &Path) -> Result<usize, SynthError> {
    h.iter().position(|c| c == name).ok_or_else(|| {
        io(
            path,
            format!("falta la columna {name}: ¿es una salida de vamos synth?"),
        )
    })
}

fn shift(date: &str) -> String {
    NaiveDate::parse_from_str(date.get(..10).unwrap_or(date), "%Y-%m-%d")
        .map(|d| {
            format!(
                "{}{}",
                d + Duration::days(GAP_DAYS),
                date.get(10..).unwrap_or("")
            )
        })
        .unwrap_or_else(|_| date.to_string())
}

/// The new submission key of a household: the old one with a `-r2` mark (still unique).
fn rekey(key: &str) -> String {
    format!("{key}-r2")
}

/// Per household of the first wave.
struct Seen {
    new_key: String,
    change: Change,
    interview: Option<NaiveDate>,
    members: u32,
    /// For `Left`: the member row (1-based) that is absent (never the head, row 1).
    absent: u32,
}

/// Writes the re-interview wave of `prev` into `out_dir`.
#[allow(clippy::too_many_lines)] // reason: one pass over each file, not yet split into steps
pub fn reinterview(prev: &Path, out_dir: &Path, seed: u64) -> Result<SynthReport, SynthError> {
    std::fs::create_dir_all(out_dir).map_err(|e| io(out_dir, e))?;
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5EED_2E1E_u64);
    let (hin, min) = (prev.join("fips.csv"), prev.join("fips-miembros.csv"));
    let (hout, mout) = (out_dir.join("fips.csv"), out_dir.join("fips-miembros.csv"));

    // A household is matched by cédula only when one is sure to be there again: the head's
    // (the head never leaves) or two of them (at most one member leaves). Otherwise the
    // enumerator edits the earlier submission instead (ODK `meta-deprecatedID`), which ties them.
    let mut sure_nid: std::collections::HashSet<String> = std::collections::HashSet::new();
    {
        let mut r = reader(&min)?;
        let mh = r.headers().map_err(|e| io(&min, e))?.clone();
        let parent = col(&mh, "PARENT_KEY", &min)?;
        let nid = col(&mh, "miembros-cedula", &min)?;
        // Per household: members seen so far, and cédulas seen so far.
        let mut tally: HashMap<String, (u32, u32)> = HashMap::new();
        for rec in r.records() {
            let rec = rec.map_err(|e| io(&min, e))?;
            let p = rec.get(parent).unwrap_or("");
            let t = tally.entry(p.to_string()).or_insert((0, 0));
            t.0 += 1;
            if !rec.get(nid).unwrap_or("").is_empty() {
                t.1 += 1;
                if t.0 == 1 || t.1 == 2 {
                    sure_nid.insert(p.to_string());
                }
            }
        }
    }
    // Households: new keys and dates; movers take another household's place.
    let mut r = reader(&hin)?;
    let h = r.headers().map_err(|e| io(&hin, e))?.clone();
    let key = col(&h, "KEY", &hin)?;
    let inst = col(&h, "meta-instanceID", &hin)?;
    let dist = col(&h, "ubicacion-distrito", &hin)?;
    let dept = col(&h, "ubicacion-departamento", &hin)?;
    let loc = col(&h, "ubicacion-localidad", &hin)?;
    let date = col(&h, "fecha_entrevista", &hin)?;
    let dates: Vec<usize> = [
        "SubmissionDate",
        "start",
        "end",
        "today",
        "fecha_entrevista",
    ]
    .iter()
    .filter_map(|n| h.iter().position(|c| c == *n))
    .collect();
    let mut w = writer(&hout)?;
    w.write_record(h.iter().chain(["meta-deprecatedID"]))
        .map_err(|e| io(&hout, e))?;
    let mut seen: HashMap<String, Seen> = HashMap::new();
    // A small pool of places seen so far: where movers go (same set of districts).
    let mut places: Vec<(String, String, String)> = Vec::new();
    let mut households = 0u64;
    for rec in r.records() {
        let rec = rec.map_err(|e| io(&hin, e))?;
        let mut row: Vec<String> = rec.iter().map(String::from).collect();
        let old_key = row[key].clone();
        let change = draw(&mut rng);
        let place = (row[dept].clone(), row[dist].clone(), row[loc].clone());
        if change == Change::Moved && !places.is_empty() {
            let (d, di, l) = places[(rng.next_u64() % places.len() as u64) as usize].clone();
            if (di.as_str(), l.as_str()) != (row[dist].as_str(), row[loc].as_str()) {
                row[dept] = d;
                row[dist] = di;
                row[loc] = l;
            }
        }
        if places.len() < 4096 {
            places.push(place);
        } else {
            let i = (rng.next_u64() % places.len() as u64) as usize;
            places[i] = place;
        }
        let interview = NaiveDate::parse_from_str(&row[date], "%Y-%m-%d").ok();
        for &c in &dates {
            row[c] = shift(&row[c]);
        }
        let new_key = rekey(&old_key);
        row[key] = new_key.clone();
        row[inst] = new_key.clone();
        row.push(if sure_nid.contains(&old_key) {
            String::new()
        } else {
            old_key.clone()
        });
        w.write_record(&row).map_err(|e| io(&hout, e))?;
        seen.insert(
            old_key,
            Seen {
                new_key,
                change,
                interview,
                members: 0,
                absent: 0,
            },
        );
        households += 1;
    }
    w.flush().map_err(|e| io(&hout, e))?;

    // Members: pass 1 counts them (who may be absent), pass 2 writes.
    let mut r = reader(&min)?;
    let mh = r.headers().map_err(|e| io(&min, e))?.clone();
    let parent = col(&mh, "PARENT_KEY", &min)?;
    let mkey = col(&mh, "KEY", &min)?;
    for rec in r.records() {
        let rec = rec.map_err(|e| io(&min, e))?;
        if let Some(s) = seen.get_mut(rec.get(parent).unwrap_or("")) {
            s.members += 1;
        }
    }
    for s in seen.values_mut() {
        if s.change == Change::Left && s.members > 1 {
            s.absent = 2 + (s.new_key.len() as u32 % (s.members - 1));
        }
    }
    let answers: Vec<(usize, [&str; 2])> = [
        ("miembros-asiste_escuela", ["si", "no"]),
        ("miembros-trabaja", ["si", "no"]),
        ("miembros-seguro_salud", ["ips", "ninguno"]),
    ]
    .iter()
    .filter_map(|(n, v)| mh.iter().position(|c| c == *n).map(|i| (i, *v)))
    .collect();
    let mcol = |n: &str| mh.iter().position(|c| c == n);
    let (given, family, nid, birth, age, sex, rel) = (
        mcol("miembros-nombres"),
        mcol("miembros-apellidos"),
        mcol("miembros-cedula"),
        mcol("miembros-fecha_nacimiento"),
        mcol("miembros-edad"),
        mcol("miembros-sexo"),
        mcol("miembros-relacion_jefe"),
    );
    let mut r = reader(&min)?;
    let mut w = writer(&mout)?;
    w.write_record(&mh).map_err(|e| io(&mout, e))?;
    let mut persons = 0u64;
    let mut line: HashMap<String, u32> = HashMap::new();
    let mut births: Vec<Vec<String>> = Vec::new();
    for rec in r.records() {
        let rec = rec.map_err(|e| io(&min, e))?;
        let mut row: Vec<String> = rec.iter().map(String::from).collect();
        let Some(s) = seen.get(&row[parent]) else {
            continue;
        };
        let n = line.entry(row[parent].clone()).or_insert(0);
        *n += 1;
        if s.change == Change::Left && *n == s.absent {
            continue;
        }
        if s.change == Change::Answers && *n == 1 + (s.members.saturating_sub(1) / 2) {
            for (c, [a, b]) in &answers {
                row[*c] = if row[*c] == *a {
                    (*b).into()
                } else {
                    (*a).into()
                };
            }
        }
        if s.change == Change::Birth && *n == 1 {
            let born = s.interview.unwrap_or_default() + Duration::days(30 + i64::from(s.members));
            let mut baby = vec![String::new(); row.len()];
            let set = |b: &mut Vec<String>, c: Option<usize>, v: String| {
                if let Some(c) = c {
                    b[c] = v;
                }
            };
            set(&mut baby, given, "Bebé".into());
            set(
                &mut baby,
                family,
                family.map(|c| row[c].clone()).unwrap_or_default(),
            );
            set(&mut baby, nid, String::new());
            set(&mut baby, birth, born.to_string());
            set(&mut baby, age, "0".into());
            set(
                &mut baby,
                sex,
                if s.members % 2 == 0 {
                    "mujer"
                } else {
                    "hombre"
                }
                .into(),
            );
            set(&mut baby, rel, "hijo".into());
            baby[parent] = s.new_key.clone();
            baby[mkey] = format!("{}/miembros[{}]", s.new_key, s.members + 1);
            births.push(baby);
        }
        let old_parent = row[parent].clone();
        row[parent] = s.new_key.clone();
        row[mkey] = row[mkey].replacen(&old_parent, &s.new_key, 1);
        w.write_record(&row).map_err(|e| io(&mout, e))?;
        persons += 1;
    }
    for b in births {
        w.write_record(&b).map_err(|e| io(&mout, e))?;
        persons += 1;
    }
    w.flush().map_err(|e| io(&mout, e))?;

    let manifest = out_dir.join("manifest.json");
    let json = serde_json::json!({
        "synthetic": true,
        "generator": "vamos synth --reinterview-of",
        "reinterview_of": prev.display().to_string(),
        "seed": seed,
        "gap_days": GAP_DAYS,
        "households": households,
        "persons": persons,
        "files": {
            "fips.csv": {"encoding": "utf-8", "separator": ","},
            "fips-miembros.csv": {"encoding": "utf-8", "separator": ","}
        }
    });
    std::fs::write(
        &manifest,
        serde_json::to_string_pretty(&json).unwrap_or_default(),
    )
    .map_err(|e| io(&manifest, e))?;
    let leeme = out_dir.join("LEEME_SINTETICO.txt");
    std::fs::write(
        &leeme,
        format!(
            "DATOS SINTÉTICOS — NO SON PERSONAS REALES\n\nReentrevista, seis meses después, de los hogares sintéticos de {}\n(semilla {seed}). Hogares: {households}. Personas: {persons}.\nAlrededor de un hogar de cada diez cambió: mudanzas, nacimientos, miembros que ya no están,\nrespuestas distintas. Ninguna fila corresponde a una persona real.\n",
            prev.display()
        ),
    )
    .map_err(|e| io(&leeme, e))?;
    let file = |path: PathBuf, rows: u64, what: &str| WrittenFile {
        path,
        rows,
        what: what.into(),
    };
    Ok(SynthReport {
        files: vec![
            file(hout, households, "hogares reentrevistados (FIPS)"),
            file(mout, persons, "miembros de los hogares reentrevistados"),
            file(manifest, 0, "manifiesto (sintético, reentrevista)"),
            file(leeme, 0, "aviso de datos sintéticos"),
        ],
        households,
        persons,
        communities: 0,
        admin_records: 0,
    })
}
