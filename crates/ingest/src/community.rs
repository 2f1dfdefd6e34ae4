//! Import of Entorno community surveys (one row per localidad / barrio assembly): location,
//! services within reach and the priorities ranked with the community (§3.6 step 1D).

use crate::answers::AnswerReader;
use crate::dates::parse_date;
use crate::fips::{field, norm_key, parse_gps};
use crate::forms::{form, FormId};
use crate::report::RowProblems;
use crate::source::{detect_synthetic, resolve_inputs};
use crate::text::clean_text;
use crate::{
    begin, finish, record_refusal, send, with_writer, Batch, ImportOptions, ImportSummary,
    IngestError, Progress, BATCH,
};
use csv::ByteRecord;
use rustc_hash::FxHashMap;
use std::path::PathBuf;
use vamos_domain::limits::Limit;
use vamos_domain::schema::{position, COMMUNITY_FIELDS};
use vamos_domain::{Community, CommunitySurvey, DistrictCode, Provenance, Value};
use vamos_store::{SnapshotNeeds, Store};

/// Runs a community (Entorno) import.
#[allow(clippy::too_many_lines)] // reason: one pass over its input, not yet split into steps
pub fn import(
    store: &mut dyn Store,
    paths: &[PathBuf],
    opts: &ImportOptions,
    progress: &dyn Progress,
) -> Result<ImportSummary, IngestError> {
    let started = std::time::Instant::now();
    let tables = resolve_inputs(opts.kind, paths)?;
    let src = tables
        .first()
        .ok_or_else(|| IngestError::Input("no se encontró el archivo de comunidades".into()))?;
    let form = form(FormId::Comunidad);
    let synthetic = opts.synthetic.unwrap_or_else(|| detect_synthetic(paths));
    let mut t = src.open()?;
    let c_key = t.col(&["key", "instanceid", "uuid"]);
    let c_dist = t.col(&["distrito"]);
    let c_loc = t.col(&["localidad"]);
    let c_area = t.col(&["area"]);
    let c_gps = t.col(&["gps"]);
    let (c_lat, c_lon) = (t.col(&["gps_latitude"]), t.col(&["gps_longitude"]));
    let c_date = t
        .col(&["fecha_relevamiento"])
        .or(t.col(&["today"]))
        .or(t.col(&["submissiondate", "submission_time"]));
    let mut missing = Vec::new();
    for (c, n) in [
        (c_key, "KEY"),
        (c_dist, "ubicacion-distrito"),
        (c_loc, "ubicacion-localidad"),
        (c_date, "fecha_relevamiento"),
    ] {
        if c.is_none() {
            missing.push(n);
        }
    }
    if !missing.is_empty() {
        return Err(IngestError::MissingColumns {
            file: t.label.clone(),
            columns: missing.join(", "),
        });
    }
    let mut summary = ImportSummary {
        kind: opts.kind.as_str().into(),
        synthetic,
        files: vec![src.path()],
        rejects_file: opts.rejects.as_ref().map(|p| p.display().to_string()),
        ..Default::default()
    };
    let reader = AnswerReader::new(
        &t,
        form,
        COMMUNITY_FIELDS,
        &mut summary.missing_optional_columns,
    );
    let (h_key, h_dist, h_loc, h_area, h_gps, h_date) = (
        t.header(c_key, "KEY"),
        t.header(c_dist, "ubicacion-distrito"),
        t.header(c_loc, "ubicacion-localidad"),
        t.header(c_area, "ubicacion-area"),
        t.header(c_gps, "ubicacion-gps"),
        t.header(c_date, "fecha_relevamiento"),
    );
    let area_codes = form.choice_list("area");
    let prio: Vec<usize> = ["prioridad_1", "prioridad_2", "prioridad_3"]
        .iter()
        .filter_map(|n| position(COMMUNITY_FIELDS, n))
        .collect();

    let (mut log, tx, mut snap) = begin(
        store,
        opts,
        &mut summary,
        SnapshotNeeds {
            communities: true,
            survey_keys: true,
            ..Default::default()
        },
    )?;
    let import_id = tx.import_id();
    let label = t.label.clone();
    let (mut summary, tx) = with_writer(tx, |ch| {
        progress.stage("comunidades", t.progress().1);
        let mut seen: FxHashMap<String, u64> = FxHashMap::default();
        let mut comms = Vec::new();
        let mut surveys = Vec::new();
        let mut rec = ByteRecord::new();
        let mut vals = Vec::new();
        while let Some(row) = t.next_row(&mut rec)? {
            let mut p = RowProblems::new(&label, row);
            let key = norm_key(&field(&rec, c_key)).to_string();
            p.key = key.clone();
            if key.is_empty() {
                p.add(&h_key, "", "falta la clave del envío (KEY / instanceID)");
            } else if !p.check(&h_key, &key, Limit::Code) {
                log.reject_row(p.into_vec())?;
                continue;
            } else if snap.survey_keys.contains(&key) {
                summary.surveys_already_registered += 1;
                continue;
            } else if let Some(first) = seen.get(&key) {
                p.add(
                    &h_key,
                    &key,
                    format!("envío duplicado: la misma clave ya apareció en la fila {first}"),
                );
            }
            let dist_raw = field(&rec, c_dist);
            let district = match DistrictCode::try_from(dist_raw.as_ref()) {
                Ok(d) => Some(d),
                Err(_) if dist_raw.is_empty() => {
                    p.add(&h_dist, "", "falta el dato obligatorio (distrito)");
                    None
                }
                Err(e) => {
                    p.add(&h_dist, &dist_raw, e.to_string());
                    None
                }
            };
            let name = clean_text(&field(&rec, c_loc));
            if name.is_empty() {
                p.add(&h_loc, "", "falta el dato obligatorio (localidad o barrio)");
            }
            p.check(&h_loc, &name, Limit::Place);
            let area_raw = field(&rec, c_area);
            let area = if area_raw.is_empty() {
                None
            } else if let Some(code) = area_codes.iter().find(|x| **x == area_raw) {
                Some(code.to_string())
            } else {
                p.add(&h_area, &area_raw, crate::answers::unknown_code(area_codes));
                None
            };
            let gps = parse_gps(
                &field(&rec, c_gps),
                &field(&rec, c_lat),
                &field(&rec, c_lon),
            )
            .unwrap_or_else(|reason| {
                p.add(&h_gps, &field(&rec, c_gps), reason);
                None
            });
            let date_raw = field(&rec, c_date);
            let date = match parse_date(&date_raw) {
                Ok(Some(d)) if d > opts.import_date => {
                    p.add(&h_date, &date_raw, "fecha del relevamiento en el futuro");
                    None
                }
                Ok(Some(d)) => Some(d),
                Ok(None) => {
                    p.add(&h_date, "", "falta la fecha del relevamiento");
                    None
                }
                Err(e) => {
                    p.add(&h_date, &date_raw, e.message());
                    None
                }
            };
            reader.read(&rec, &mut p, &mut vals);
            let ranked: Vec<&str> = prio
                .iter()
                .filter_map(|&i| vals.get(i).and_then(Value::as_text))
                .collect();
            for (i, a) in ranked.iter().enumerate() {
                if *a != "otra" && ranked.iter().skip(i + 1).any(|b| b == a) {
                    p.add(
                        "prioridades",
                        a,
                        "la misma prioridad se repite en el orden de prioridades",
                    );
                }
            }
            match (district, date) {
                (Some(district), Some(survey_date)) if p.is_empty() => {
                    seen.insert(key.clone(), row);
                    let ck = (district, Community::name_key(&name));
                    let community_id = match snap.communities.get(&ck) {
                        Some(&id) => id,
                        None => {
                            let id = snap.next_community_id;
                            snap.next_community_id += 1;
                            snap.communities.insert(ck, id);
                            comms.push(Community {
                                id,
                                district,
                                name,
                                area,
                            });
                            summary.communities_created += 1;
                            id
                        }
                    };
                    surveys.push(CommunitySurvey {
                        submission_key: key,
                        community_id,
                        survey_date,
                        latitude: gps.map(|g| g.0),
                        longitude: gps.map(|g| g.1),
                        answers: vals.clone(),
                        provenance: Provenance {
                            import_id,
                            file_no: 0,
                            row,
                        },
                    });
                    summary.community_surveys_accepted += 1;
                    if surveys.len() >= BATCH {
                        send(ch, Batch::Communities(std::mem::take(&mut comms)))?;
                        send(ch, Batch::Surveys(std::mem::take(&mut surveys)))?;
                    }
                }
                _ => {
                    if !key.is_empty() {
                        seen.entry(key).or_insert(row);
                    }
                    log.reject_row(p.into_vec())?;
                }
            }
        }
        send(ch, Batch::Communities(comms))?;
        send(ch, Batch::Surveys(surveys))?;
        progress.advance(t.progress().1);
        Ok(summary)
    })?;
    summary.rows_valid = summary.community_surveys_accepted;
    let (summary, refused) = finish(tx, log, summary, opts, started)?;
    record_refusal(store, refused, summary, opts)
}
