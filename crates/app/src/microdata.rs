//! Anonymised microdata extracts for evaluators (issue 41, Modelo de Gestión §4.3: *evaluation*
//! needs the system's data; §3.11: openness balanced with the protection of personal data).
//!
//! An extract is one row per person of the registry as a measurement read it, with **no direct
//! identifier** (no name, cédula, address, telephone, coordinates, registry numbers: rows are
//! numbered afresh in a random order, so nothing links back to a household), six declared
//! **quasi-identifiers** — age group (the Logro bands), sex, territory (community → district →
//! department → nation; each community under a pseudonym drawn for the release), urban or
//! rural area, indigenous, disability — and the analysis
//! variables: the person's protection status in the Logro of their age group and how many of
//! its núcleo services they lack. The quasi-identifiers are made **k-anonymous** by global
//! recoding and local suppression (`crate::anonymise`, sdcMicro's semantics: a suppressed value
//! matches any value when counting), and the release carries `riesgo.json`: the
//! quasi-identifiers, the k asked and achieved, records and values suppressed or generalised,
//! and the expected number of re-identifications Σ 1/f before and after.
//!
//! Releasing needs `microdatos:liberar` (analysts, under a data-use agreement named with the
//! release); every release is logged with the SHA-256 of its file and audited.

use crate::anonymise::{self, Generalise, Qi};
use crate::{Actor, Error, Result};
use rayon::prelude::*;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use vamos_catalogue::Catalogue;
use vamos_domain::services::Category;
use vamos_domain::{Permission, TerritoryCode};
use vamos_engine::classify::{Classifier, Unit};
use vamos_engine::RegistryData;
use vamos_engine::Status;
use vamos_store::Store;

const PURPOSE: &str = "extracto de microdatos anonimizados para evaluación";

/// The share of records global recoding may leave to local suppression (sdcMicro's practice:
/// recode until only a small remainder needs suppressing).
const MAX_SUPPRESSED_SHARE: f64 = 0.05;

/// The quasi-identifiers, in the order of the extract's columns.
pub const QUASI_IDENTIFIERS: [&str; 6] = [
    "grupo_edad",
    "sexo",
    "territorio",
    "area",
    "indigena",
    "discapacidad",
];

/// What a person's row says.
struct Person {
    qi: Vec<String>,
    status: &'static str,
    lacking: u16,
}

fn age_band(c: Category) -> &'static str {
    match c {
        Category::AntesDelNacimiento | Category::EnElNacimiento => "0 a 11 meses",
        Category::DespuesDelNacimiento => "1 a 4 años",
        Category::Ninez => "5 a 13 años",
        Category::Adolescencia => "14 a 17 años",
        Category::Juventud => "18 a 29 años",
        Category::Adultez => "30 a 59 años",
        _ => "60 años y más",
    }
}

/// The generalisation hierarchies of the quasi-identifiers (each step maps a value of one
/// level to the next), with sdcMicro's importance (lower: kept longer).
fn hierarchies() -> Vec<Qi> {
    let step = |f: fn(&str) -> String| -> Generalise { Box::new(f) };
    vec![
        Qi {
            name: "grupo_edad".into(),
            levels: vec![
                step(|v| {
                    match v {
                        "0 a 11 meses" | "1 a 4 años" | "5 a 13 años" | "14 a 17 años" => {
                            "0 a 17 años"
                        }
                        "18 a 29 años" | "30 a 59 años" => "18 a 59 años",
                        other => other,
                    }
                    .to_string()
                }),
                step(|_| "todas".to_string()),
            ],
            importance: 1,
        },
        Qi {
            name: "sexo".into(),
            levels: vec![step(|_| "ambos".to_string())],
            importance: 1,
        },
        Qi {
            name: "territorio".into(),
            // community `DDdd-c<n>` → district `DDdd` → department `DD` → nation.
            levels: vec![
                step(|v| v.split('-').next().unwrap_or(v).to_string()),
                step(|v| v.get(..2).unwrap_or(v).to_string()),
                step(|_| "PY".to_string()),
            ],
            importance: 2,
        },
        Qi {
            name: "area".into(),
            levels: vec![step(|_| "ambas".to_string())],
            importance: 3,
        },
        Qi {
            name: "indigena".into(),
            levels: vec![step(|_| "todas".to_string())],
            importance: 4,
        },
        Qi {
            name: "discapacidad".into(),
            levels: vec![step(|_| "todas".to_string())],
            importance: 5,
        },
    ]
}

/// The row of person `p`: its quasi-identifiers and its status in its age group's Logro.
fn person_row(
    cls: &Classifier<'_>,
    data: &RegistryData,
    p: usize,
    nucleo: &[Vec<usize>],
    indigena: Option<&vamos_engine::data::Column>,
    scratch: &mut (Vec<Category>, Vec<vamos_engine::classify::Decision>),
) -> Option<Person> {
    let (cats, dec) = scratch;
    cls.person_categories(data, p, cats);
    // The age group's category: the last one (a pregnancy or a first year come before it).
    let c = *cats.last()?;
    let h = *data.person_household.get(p)? as usize;
    let district = *data.household_district.get(h)?;
    let community = data
        .household_community
        .get(h)
        .and_then(|c| data.community_id.get(*c as usize))
        .map_or_else(|| "sin-comunidad".to_string(), i64::to_string);
    let area = data
        .household_area
        .get(h)
        .and_then(|a| data.area_list.get(*a as usize))
        .copied()
        .unwrap_or("sin dato");
    let ind = indigena.and_then(|col| col.code(p)).unwrap_or("sin dato");
    let disability = match data.person_disability.get(p) {
        Some(1) => "con discapacidad",
        Some(0) => "sin discapacidad",
        _ => "sin dato",
    };
    dec.clear();
    cls.classify(data, Unit::Person(p), c, dec);
    let nuc = nucleo.get(c.logro() as usize - 1)?;
    let in_nucleo = |d: &&vamos_engine::classify::Decision| nuc.contains(&d.service);
    let status = if cls.concurrent(dec) {
        "protegido"
    } else if dec
        .iter()
        .filter(in_nucleo)
        .any(|d| d.status == Status::SinDato)
    {
        "sin dato"
    } else {
        "desprotegido"
    };
    let lacking = dec
        .iter()
        .filter(in_nucleo)
        .filter(|d| d.status == Status::Desprotegido)
        .count();
    Some(Person {
        qi: vec![
            age_band(c).to_string(),
            if data.person_woman.get(p) == Some(&true) {
                "mujer"
            } else {
                "hombre"
            }
            .to_string(),
            format!("{district}-{community}"),
            area.to_string(),
            ind.to_string(),
            disability.to_string(),
        ],
        status,
        lacking: u16::try_from(lacking).unwrap_or(u16::MAX),
    })
}

/// A release as made: where its files are and what its risk report says.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Release {
    pub id: i64,
    pub csv: PathBuf,
    pub risk_file: PathBuf,
    pub risk: Value,
    pub seconds: f64,
}

/// Extracts measurement `measurement`'s registry as anonymised microdata with minimum
/// frequency `k` into `out` (`microdatos.csv` and `riesgo.json`), for `recipient` (the
/// evaluator and their data-use agreement). Logged and audited, refused or not.
#[allow(clippy::too_many_lines)] // reason: read, classify, treat, write, log — one pass each
pub fn extract(
    store: &mut dyn Store,
    actor: &Actor,
    catalogue: &Catalogue,
    measurement: i64,
    k: u64,
    recipient: &str,
    out: &Path,
) -> Result<Release> {
    let started = std::time::Instant::now();
    let subject = measurement.to_string();
    if let Err(e) = actor.require(Permission::MicrodataRelease) {
        actor.audit(
            store,
            "extraer",
            "microdatos",
            &subject,
            PURPOSE,
            "denegado",
        )?;
        return Err(e);
    }
    // The extract is the whole country's: only a nationwide account may take it.
    if !actor.operator && !actor.scope.is_nationwide() {
        actor.audit(
            store,
            "extraer",
            "microdatos",
            &subject,
            PURPOSE,
            "denegado: ámbito no nacional",
        )?;
        return Err(Error::forbidden(
            "un extracto de microdatos es del registro nacional: hace falta una cuenta de ámbito nacional",
        ));
    }
    let recipient = recipient.trim();
    let refused = if recipient.is_empty() || recipient.chars().count() > 300 {
        Some("indique el destinatario y su acuerdo de uso de datos (1 a 300 caracteres)")
    } else if !(2..=100).contains(&k) {
        Some("k: de 2 a 100")
    } else {
        None
    };
    if let Some(why) = refused {
        actor.audit(
            store,
            "extraer",
            "microdatos",
            &subject,
            PURPOSE,
            &format!("rechazado: {why}"),
        )?;
        return Err(Error::bad_request(why));
    }
    let Some((m, _)) = store.measurement(Some(measurement))? else {
        actor.audit(
            store,
            "extraer",
            "microdatos",
            &subject,
            PURPOSE,
            "no encontrada",
        )?;
        return Err(Error::not_found(format!(
            "no existe la medición {measurement}"
        )));
    };
    let readers = std::thread::available_parallelism().map_or(2, |n| n.get().min(4));
    let (data, as_of, until) =
        crate::measurements::registry_as_figures_stand(store, &m, TerritoryCode::Nation, readers)
            .map_err(Error::internal)?;
    let cls =
        crate::ipm_method::classifier(catalogue, &data, as_of)?.with_counter_referrals_until(until);
    let nucleo: Vec<Vec<usize>> = Category::ALL.iter().map(|c| catalogue.nucleo(*c)).collect();
    let indigena = vamos_domain::schema::position(vamos_domain::schema::PERSON_FIELDS, "indigena")
        .and_then(|i| data.person_answers.get(i));
    let people: Vec<Person> = (0..data.persons())
        .into_par_iter()
        .map_init(
            || (Vec::new(), Vec::new()),
            |scratch, p| person_row(&cls, &data, p, &nucleo, indigena, scratch),
        )
        .flatten()
        .collect();
    drop(data);
    let mut rng = {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(Error::internal)?;
        <rand_chacha::ChaCha20Rng as rand::SeedableRng>::from_seed(seed)
    };
    let rows = pseudonymise_communities(people.iter().map(|p| p.qi.clone()).collect(), &mut rng);
    let outcome = anonymise::anonymise(&hierarchies(), &rows, k, MAX_SUPPRESSED_SHARE);
    drop(rows);
    // A random order: the registry's order (by household) would let rows be grouped back.
    let mut order: Vec<usize> = (0..people.len()).collect();
    {
        use rand::seq::SliceRandom as _;
        order.shuffle(&mut rng);
    }
    std::fs::create_dir_all(out).map_err(Error::internal)?;
    let csv_path = out.join("microdatos.csv");
    let file = std::fs::File::create(&csv_path).map_err(Error::internal)?;
    let mut hasher = HashingWriter::new(std::io::BufWriter::new(file));
    {
        let mut w = vamos_domain::csv_safe::CsvWriter::from_writer(&mut hasher);
        let mut header: Vec<&str> = vec!["fila"];
        header.extend(QUASI_IDENTIFIERS);
        header.extend(["estatus_logro", "servicios_nucleo_faltantes"]);
        w.write_record(&header).map_err(Error::internal)?;
        let mut cells: Vec<String> = Vec::with_capacity(9);
        for (n, &i) in order.iter().enumerate() {
            let (Some(p), Some(q)) = (people.get(i), outcome.rows.get(i)) else {
                continue;
            };
            cells.clear();
            cells.push((n + 1).to_string());
            cells.extend(q.iter().map(|v| v.clone().unwrap_or_default()));
            cells.push(p.status.to_string());
            cells.push(p.lacking.to_string());
            w.write_record(&cells).map_err(Error::internal)?;
        }
        w.flush().map_err(Error::internal)?;
    }
    let digest = hasher.finish().map_err(Error::internal)?;
    let r = &outcome.report;
    let mut risk = json!({
        "medicion": {"numero": m.id, "fecha": m.as_of, "sintetica": m.synthetic},
        "metodo": "k-anonimato por recodificación global y supresión local (semántica de sdcMicro: un valor suprimido coincide con cualquier valor al contar)",
        "valor_suprimido": "celda vacía",
        "cuasi_identificadores": r.quasi_identifiers,
        "k": r.k,
        "k_logrado": r.achieved_k,
        "registros": r.records,
        "registros_con_supresion": r.records_suppressed,
        "valores_suprimidos": r.values_suppressed,
        "proporcion_de_registros_con_supresion": r.share_suppressed,
        "registros_generalizados": r.records_generalised,
        "niveles_de_generalizacion": r.generalisation_levels,
        "registros_bajo_k_antes": r.records_below_k_before,
        "reidentificaciones_esperadas": r.expected_reidentifications,
        "reidentificaciones_esperadas_antes": r.expected_reidentifications_before,
        "identificadores_directos_quitados": ["nombres", "apellidos", "cédula", "fecha de nacimiento", "dirección", "teléfono", "coordenadas", "números de persona, hogar y comunidad del registro (las comunidades llevan un seudónimo propio de esta entrega)"],
        "variables_de_analisis": ["estatus_logro", "servicios_nucleo_faltantes"],
        "destinatario": recipient,
        "archivo": {"nombre": "microdatos.csv", "sha256": digest},
    });
    if m.synthetic {
        if let Some(o) = risk.as_object_mut() {
            o.insert("etiqueta".into(), json!("sintético"));
        }
    }
    let release_id = vamos_store::microdata::insert(
        &mut store.db(),
        &vamos_store::microdata::Release {
            id: 0,
            measurement_id: m.id,
            k: i64::try_from(k).unwrap_or(i64::MAX),
            recipient: recipient.to_string(),
            risk: risk.clone(),
            digest,
            released_by: actor.name.clone(),
            released_at: crate::clock::now_rfc3339(),
        },
    )?;
    if let Some(o) = risk.as_object_mut() {
        o.insert("entrega".into(), json!(release_id));
    }
    let risk_file = out.join("riesgo.json");
    std::fs::write(
        &risk_file,
        serde_json::to_vec_pretty(&risk).map_err(Error::internal)?,
    )
    .map_err(Error::internal)?;
    actor.audit(
        store,
        "extraer",
        "microdatos",
        &subject,
        PURPOSE,
        &format!(
            "ok: entrega {release_id}, k={k}, {} registros",
            outcome.report.records
        ),
    )?;
    Ok(Release {
        id: release_id,
        csv: csv_path,
        risk_file,
        risk,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// Every release, newest first (`microdatos:liberar`).
pub fn releases(
    store: &mut dyn Store,
    actor: &Actor,
) -> Result<Vec<vamos_store::microdata::Release>> {
    actor.require(Permission::MicrodataRelease)?;
    let list = vamos_store::microdata::list(&mut store.db())?;
    actor.audit(store, "listar", "entregas de microdatos", "", PURPOSE, "ok")?;
    Ok(list)
}

/// Replaces each community's registry number in the territory column (`DDdd-<id>`) by a
/// pseudonym drawn afresh for this release (`DDdd-c<n>`, numbered in a random order within
/// its district): the extract keeps who lives in the same community, never which one.
fn pseudonymise_communities(
    mut rows: Vec<Vec<String>>,
    rng: &mut rand_chacha::ChaCha20Rng,
) -> Vec<Vec<String>> {
    use rand::seq::SliceRandom as _;
    let mut distinct: Vec<String> = rows
        .iter()
        .filter_map(|r| r.get(2).cloned())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    distinct.shuffle(rng);
    let mut next: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    let map: std::collections::HashMap<String, String> = distinct
        .into_iter()
        .map(|v| {
            let district = v.split('-').next().unwrap_or("").to_string();
            let n = next.entry(district.clone()).or_insert(0);
            *n += 1;
            let pseudo = format!("{district}-c{n}");
            (v, pseudo)
        })
        .collect();
    for r in &mut rows {
        if let Some(cell) = r.get_mut(2) {
            if let Some(p) = map.get(cell.as_str()) {
                cell.clone_from(p);
            }
        }
    }
    rows
}

/// A writer that hashes what it writes (the release's digest, without reading the file back).
struct HashingWriter<W: std::io::Write> {
    inner: W,
    hash: sha2::Sha256,
}

impl<W: std::io::Write> HashingWriter<W> {
    fn new(inner: W) -> Self {
        use sha2::Digest;
        HashingWriter {
            inner,
            hash: sha2::Sha256::new(),
        }
    }

    fn finish(mut self) -> std::io::Result<String> {
        use sha2::Digest;
        self.inner.flush()?;
        Ok(self
            .hash
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect())
    }
}

impl<W: std::io::Write> std::io::Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        use sha2::Digest;
        let n = self.inner.write(buf)?;
        self.hash.update(buf.get(..n).unwrap_or(buf));
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}
