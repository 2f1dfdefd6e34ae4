//! Import of administrative registry files of institutions (MEC enrolment, MSPBS vaccination,
//! IPS contributions, pension payrolls, civil-registry births…): one record per person and
//! service event, matched to registered persons by cédula. Records whose cédula matches nobody
//! are kept (person unknown) and listed, never dropped: a later survey may register the person.

use crate::dates::parse_date;
use crate::fips::field;
use crate::report::RowProblems;
use crate::source::{detect_synthetic, resolve_inputs};
use crate::text::clean_text;
use crate::{
    begin, finish, record_refusal, send, with_writer, Batch, ImportOptions, ImportSummary,
    IngestError, Progress, BATCH,
};
use csv::ByteRecord;
use rustc_hash::FxHashMap;
use sha2::{Digest, Sha256};
use std::path::PathBuf;
use vamos_domain::limits::Limit;
use vamos_domain::{AdminRecord, DistrictCode, NationalId, Provenance, Sex};
use vamos_store::{SnapshotNeeds, Store};

/// The largest `manifest.json` read (a synthetic folder's is a few kilobytes).
const MANIFEST_LIMIT: u64 = 1 << 20;

/// The institution of each file named by the `manifest.json` of a folder among `paths` (or of
/// its parent, for the `admin/` folder of a synthetic population): `files[].institution`, the
/// paths relative to the manifest, canonicalized. Absent, oversize or unreadable manifests
/// name nothing.
fn manifest_institutions(paths: &[PathBuf]) -> std::collections::HashMap<PathBuf, String> {
    use std::io::Read;
    let mut out = std::collections::HashMap::new();
    for p in paths.iter().filter(|p| p.is_dir()) {
        for dir in [Some(p.as_path()), p.parent()].into_iter().flatten() {
            let Ok(f) = std::fs::File::open(dir.join("manifest.json")) else {
                continue;
            };
            let mut text = String::new();
            if f.take(MANIFEST_LIMIT).read_to_string(&mut text).is_err() {
                continue;
            }
            let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) else {
                continue;
            };
            let files = v.get("files").and_then(serde_json::Value::as_array);
            for f in files.into_iter().flatten() {
                let (Some(path), Some(inst)) = (
                    f.get("path").and_then(serde_json::Value::as_str),
                    f.get("institution").and_then(serde_json::Value::as_str),
                ) else {
                    continue;
                };
                if let Ok(c) = std::fs::canonicalize(dir.join(path)) {
                    out.insert(c, inst.to_string());
                }
            }
        }
    }
    out
}

/// Runs an administrative-registry import over one or more tables.
#[allow(clippy::too_many_lines)] // reason: one pass over its input, not yet split into steps
pub fn import(
    store: &mut dyn Store,
    paths: &[PathBuf],
    opts: &ImportOptions,
    progress: &dyn Progress,
) -> Result<ImportSummary, IngestError> {
    let started = std::time::Instant::now();
    let sources = resolve_inputs(opts.kind, paths)?;
    let synthetic = opts.synthetic.unwrap_or_else(|| detect_synthetic(paths));
    // The institution of each table without an `institucion` column: `--source`, else the one
    // its folder's `manifest.json` names for the file.
    let named = manifest_institutions(paths);
    let defaults: Vec<Option<String>> = sources
        .iter()
        .map(|s| {
            opts.source.clone().or_else(|| match s {
                crate::table::TableSource::Csv(p) => std::fs::canonicalize(p)
                    .ok()
                    .and_then(|c| named.get(&c).cloned()),
                _ => None,
            })
        })
        .collect();
    // Open every table first: a missing required column stops everything before writing.
    let mut tables = Vec::new();
    for (s, default) in sources.iter().zip(&defaults) {
        let t = s.open()?;
        let mut missing = Vec::new();
        if t.col(&["servicio", "prestacion"]).is_none() {
            missing.push("servicio");
        }
        if t.col(&["fecha_evento", "fecha"]).is_none() {
            missing.push("fecha_evento");
        }
        if t.col(&[
            "cedula",
            "ci",
            "nro_cedula",
            "numero_documento",
            "documento",
        ])
        .is_none()
        {
            missing.push("cedula");
        }
        if default.is_none() && t.col(&["institucion"]).is_none() {
            missing.push("institucion (o indique --source)");
        }
        if !missing.is_empty() {
            return Err(IngestError::MissingColumns {
                file: t.label.clone(),
                columns: missing.join(", "),
            });
        }
        tables.push(t);
    }
    let mut summary = ImportSummary {
        kind: opts.kind.as_str().into(),
        synthetic,
        files: sources.iter().map(|s| s.path()).collect(),
        rejects_file: opts.rejects.as_ref().map(|p| p.display().to_string()),
        unmatched_file: opts.unmatched.as_ref().map(|p| p.display().to_string()),
        ..Default::default()
    };
    // Neutralised cells: the list is opened in a spreadsheet (`vamos_domain::csv_safe`).
    let mut unmatched = opts
        .unmatched
        .as_deref()
        .map(|p| {
            crate::report::csv_file(
                p,
                "de cédulas sin coincidencia",
                &[
                    "archivo",
                    "fila",
                    "institucion",
                    "cedula",
                    "servicio",
                    "fecha_evento",
                    "motivo",
                ],
            )
        })
        .transpose()?;
    let (mut log, tx, mut snap) = begin(
        store,
        opts,
        &mut summary,
        SnapshotNeeds {
            national_ids: true,
            admin_keys: true,
            ..Default::default()
        },
    )?;
    let import_id = tx.import_id();
    let (mut summary, tx) = with_writer(tx, |ch| {
        let mut seen: FxHashMap<(String, String), (String, u64)> = FxHashMap::default();
        let mut batch = Vec::with_capacity(BATCH);
        for (file_no, t) in tables.iter_mut().enumerate() {
            progress.stage(&format!("registro {}", t.label), t.progress().1);
            let label = t.label.clone();
            let col = |names: &[&str]| t.col(names);
            let c_id = col(&["id_registro", "id"]);
            let c_inst = col(&["institucion"]);
            let c_nid = col(&[
                "cedula",
                "ci",
                "nro_cedula",
                "numero_documento",
                "documento",
            ]);
            let c_given = col(&["nombres", "nombre"]);
            let c_family = col(&["apellidos", "apellido"]);
            let c_birth = col(&["fecha_nacimiento"]);
            let c_sex = col(&["sexo"]);
            let c_dist = col(&["distrito"]);
            let c_serv = col(&["servicio", "prestacion"]);
            let c_date = col(&["fecha_evento", "fecha"]);
            let c_detail = col(&["detalle", "observacion"]);
            let (h_inst, h_nid, h_birth, h_sex, h_dist, h_serv, h_date, h_id) = (
                t.header(c_inst, "institucion"),
                t.header(c_nid, "cedula"),
                t.header(c_birth, "fecha_nacimiento"),
                t.header(c_sex, "sexo"),
                t.header(c_dist, "distrito"),
                t.header(c_serv, "servicio"),
                t.header(c_date, "fecha_evento"),
                t.header(c_id, "id_registro"),
            );
            let mut rec = ByteRecord::new();
            let mut n = 0u64;
            while let Some(row) = t.next_row(&mut rec)? {
                n += 1;
                if n.is_multiple_of(8192) {
                    progress.advance(t.progress().0);
                }
                let mut p = RowProblems::new(&label, row);
                let inst_col = field(&rec, c_inst).to_uppercase();
                let institution = if !inst_col.is_empty() {
                    inst_col
                } else {
                    defaults
                        .get(file_no)
                        .cloned()
                        .flatten()
                        .unwrap_or_default()
                        .to_uppercase()
                };
                if institution.is_empty() {
                    p.add(
                        &h_inst,
                        "",
                        "falta la institución (columna institucion o --source)",
                    );
                }
                p.check(&h_inst, &institution, Limit::Code);
                let nid_raw = field(&rec, c_nid);
                let nid = NationalId::parse_optional(&nid_raw).unwrap_or_else(|e| {
                    p.add(&h_nid, &nid_raw, e.to_string());
                    None
                });
                let given = Some(clean_text(&field(&rec, c_given))).filter(|s| !s.is_empty());
                let family = Some(clean_text(&field(&rec, c_family))).filter(|s| !s.is_empty());
                for (c, fallback, name) in [
                    (c_given, "nombres", &given),
                    (c_family, "apellidos", &family),
                ] {
                    if let Some(n) = name {
                        p.check(&t.header(c, fallback), n, Limit::Name);
                    }
                }
                let birth_raw = field(&rec, c_birth);
                let birth = parse_date(&birth_raw).unwrap_or_else(|e| {
                    p.add(&h_birth, &birth_raw, e.message());
                    None
                });
                if birth.is_some_and(|b| b > opts.import_date) {
                    p.add(&h_birth, &birth_raw, "fecha de nacimiento en el futuro");
                }
                // The FIPS refuses an age over 120 at the interview; so does an administrative
                // record at its import (a birth year like 1890 is a typing error, not a person).
                if let Some(age) = birth
                    .map(|b| crate::dates::age_at(b, opts.import_date))
                    .filter(|a| *a > 120)
                {
                    p.add(
                        &h_birth,
                        &birth_raw,
                        format!("edad mayor a 120 años ({age} años a la fecha de importación)"),
                    );
                }
                let sex_raw = field(&rec, c_sex);
                let sex = if sex_raw.is_empty() {
                    None
                } else {
                    let s = Sex::parse(&sex_raw);
                    if s.is_none() {
                        p.add(
                            &h_sex,
                            &sex_raw,
                            "sexo desconocido (use hombre/mujer, M/F o 1/2)",
                        );
                    }
                    s
                };
                let dist_raw = field(&rec, c_dist);
                let district = if dist_raw.is_empty() {
                    None
                } else {
                    DistrictCode::try_from(dist_raw.as_ref())
                        .map_err(|e| p.add(&h_dist, &dist_raw, e.to_string()))
                        .ok()
                };
                let service = clean_text(&field(&rec, c_serv));
                if service.is_empty() {
                    p.add(&h_serv, "", "falta el dato obligatorio (servicio)");
                }
                p.check(&h_serv, &service, Limit::Code);
                let date_raw = field(&rec, c_date);
                let event_date = match parse_date(&date_raw) {
                    Ok(Some(d)) if d > opts.import_date => {
                        p.add(&h_date, &date_raw, "fecha del evento en el futuro");
                        None
                    }
                    Ok(Some(d)) if birth.is_some_and(|b| d < b) => {
                        p.add(
                            &h_date,
                            &date_raw,
                            "fecha del evento anterior al nacimiento",
                        );
                        None
                    }
                    Ok(Some(d)) => Some(d),
                    Ok(None) => {
                        p.add(&h_date, "", "falta el dato obligatorio (fecha del evento)");
                        None
                    }
                    Err(e) => {
                        p.add(&h_date, &date_raw, e.message());
                        None
                    }
                };
                let detail = Some(clean_text(&field(&rec, c_detail))).filter(|s| !s.is_empty());
                if let Some(d) = &detail {
                    p.check(&t.header(c_detail, "detalle"), d, Limit::FreeText);
                }
                let own_id = field(&rec, c_id);
                p.check(&h_id, &own_id, Limit::Code);
                let record_key = if !own_id.is_empty() {
                    own_id.to_string()
                } else {
                    // No id from the institution: the record's content is its identity.
                    let mut h = Sha256::new();
                    for part in [
                        nid_raw.as_ref(),
                        birth_raw.as_ref(),
                        service.as_str(),
                        date_raw.as_ref(),
                        dist_raw.as_ref(),
                    ] {
                        h.update(part.as_bytes());
                        h.update([0x1f]);
                    }
                    h.update(detail.as_deref().unwrap_or("").as_bytes());
                    let d = h.finalize();
                    format!(
                        "sha256:{}",
                        d.iter()
                            .take(16)
                            .map(|b| format!("{b:02x}"))
                            .collect::<String>()
                    )
                };
                p.key = record_key.clone();
                let k = (institution.clone(), record_key.clone());
                if snap.admin_keys.contains(&k) {
                    summary.records_already_registered += 1;
                    continue;
                }
                if let Some((f0, r0)) = seen.get(&k) {
                    p.add(
                        &h_id,
                        &record_key,
                        format!("registro duplicado: ya apareció en {f0}, fila {r0}"),
                    );
                }
                match event_date {
                    Some(event_date) if p.is_empty() => {
                        seen.insert(k, (label.clone(), row));
                        let person_id = nid
                            .and_then(|n| snap.national_ids.get(&n))
                            .map(|k| k.person_id);
                        if person_id.is_none() {
                            summary.records_unmatched += 1;
                            if let Some(w) = &mut unmatched {
                                let why = if nid.is_some() {
                                    "cédula no registrada en el SIIS"
                                } else {
                                    "registro sin cédula"
                                };
                                w.write_record([
                                    label.as_str(),
                                    &row.to_string(),
                                    &institution,
                                    &nid_raw,
                                    &service,
                                    &event_date.to_string(),
                                    why,
                                ])
                                .map_err(IngestError::csv)?;
                            }
                        }
                        let id = snap.next_admin_id;
                        snap.next_admin_id += 1;
                        batch.push(AdminRecord {
                            id,
                            institution,
                            record_key,
                            national_id: nid,
                            person_id,
                            given_names: given,
                            family_names: family,
                            birth_date: birth,
                            sex,
                            district,
                            service,
                            event_date,
                            detail,
                            provenance: Provenance {
                                import_id,
                                file_no: file_no as u32,
                                row,
                            },
                        });
                        summary.records_accepted += 1;
                        if batch.len() >= BATCH {
                            send(
                                ch,
                                Batch::Admin(std::mem::replace(
                                    &mut batch,
                                    Vec::with_capacity(BATCH),
                                )),
                            )?;
                        }
                    }
                    _ => log.reject_row(p.into_vec())?,
                }
            }
            progress.advance(t.progress().1);
        }
        send(ch, Batch::Admin(batch))?;
        Ok(summary)
    })?;
    if let Some(mut w) = unmatched {
        w.flush().map_err(IngestError::io)?;
    }
    summary.rows_valid = summary.records_accepted;
    let (summary, refused) = finish(tx, log, summary, opts, started)?;
    record_refusal(store, refused, summary, opts)
}
