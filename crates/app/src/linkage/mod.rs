//! Record linkage: a model's settings read from their file, tables read from CSV (bounded), the
//! model trained, candidate pairs scored and judged against a truth file (`record_id,
//! cluster_id`) — `vamos linkage evaluate`. The uses on the registry are its parts: linking
//! administrative records ([`admin`]), the clerical review queue ([`reviews`]) and registry
//! deduplication ([`dedupe`]).

pub mod admin;
pub mod dedupe;
pub mod registered;
pub mod reviews;

use crate::{Error, Result};
use serde::Serialize;
use std::path::Path;
use vamos_linkage::block::{counts, Input, Keys};
use vamos_linkage::evaluate::{accuracy, Accuracy};
use vamos_linkage::{Settings, Table};

/// The most records a linkage table holds (the national registry, with room).
pub const ROWS_MAX: usize = 10_000_000;

/// The most bytes of a settings file.
const SETTINGS_MAX: u64 = 1 << 20;

/// A model's settings from their text (`file` names it in errors), with the effective version
/// (label and hash of the text: the same text, the same settings).
pub fn parse_settings(text: &str, file: &str) -> Result<(Settings, String)> {
    let settings: Settings =
        toml::from_str(text).map_err(|e| Error::bad_request(format!("{file}: {e}")))?;
    settings
        .check()
        .map_err(|e| Error::bad_request(format!("{file}: {e}")))?;
    let version = format!("{} · sha256:{}", settings.version, short_hash(text));
    Ok((settings, version))
}

/// What a model's training depends on — comparisons, blocking, training —, not its thresholds:
/// settings that differ only in thresholds share their trained models.
pub(crate) fn training_key(s: &Settings) -> String {
    short_hash(&format!(
        "{}|{:?}|{:?}|{:?}|{}",
        s.id_column, s.comparisons, s.blocking, s.training, s.max_comparisons
    ))
}

pub(crate) fn short_hash(text: &str) -> String {
    use sha2::{Digest, Sha256};
    let hash = Sha256::digest(text.as_bytes());
    hash.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// A model's settings from their file, with the effective version (label and hash of the
/// file: the same text, the same model).
pub fn read_settings(path: &Path) -> Result<(Settings, String)> {
    let text = read_settings_text(path)?;
    parse_settings(&text, &path.display().to_string())
}

/// The settings of a registry use (the file given, else the shipped `admin_registro.toml`):
/// the settings, their text (kept with each trained model) and their version.
pub(crate) fn registry_settings(file: Option<&Path>) -> Result<(Settings, String, String)> {
    let (text, name) = match file {
        Some(p) => (read_settings_text(p)?, p.display().to_string()),
        None => (admin::SETTINGS.to_string(), "admin_registro.toml".into()),
    };
    let (settings, version) = parse_settings(&text, &name)?;
    Ok((settings, text, version))
}

/// The latest model kept for the training of `settings`, ready to score (`None`: none kept).
pub(crate) fn kept_model(
    store: &mut dyn vamos_store::Store,
    settings: &Settings,
) -> Result<Option<(vamos_store::linkage::StoredModel, vamos_linkage::Model)>> {
    let Some(k) = vamos_store::linkage::kept_model(&mut store.db(), &training_key(settings))?
    else {
        return Ok(None);
    };
    let m = serde_json::from_str(&k.parameters)
        .map_err(|e| Error::internal(format!("modelo {} ilegible: {e}", k.id)))?;
    Ok(Some((k, m)))
}

/// A settings file's text, bounded.
pub(crate) fn read_settings_text(path: &Path) -> Result<String> {
    use std::io::Read;
    let file = path.display().to_string();
    let unreadable =
        |e: std::io::Error| Error::bad_request(format!("no se puede leer {file}: {e}"));
    // The read itself is bounded: a file that grows after a size check cannot get past it.
    let mut text = String::new();
    std::fs::File::open(path)
        .map_err(unreadable)?
        .take(SETTINGS_MAX + 1)
        .read_to_string(&mut text)
        .map_err(unreadable)?;
    if text.len() as u64 > SETTINGS_MAX {
        return Err(Error::bad_request(format!(
            "{file}: un archivo de configuración no pasa de {SETTINGS_MAX} bytes"
        )));
    }
    Ok(text)
}

/// A CSV file's header and rows (cells trimmed: FEBRL writes `, value`), at most
/// [`ROWS_MAX`] rows.
pub fn read_csv(path: &Path) -> Result<(Vec<String>, Vec<Vec<String>>)> {
    let file = path.display().to_string();
    let mut rdr = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(false)
        .from_path(path)
        .map_err(|e| Error::bad_request(format!("no se puede leer {file}: {e}")))?;
    let headers: Vec<String> = rdr
        .headers()
        .map_err(|e| Error::bad_request(format!("{file}: {e}")))?
        .iter()
        .map(str::to_string)
        .collect();
    let mut rows = Vec::new();
    for (n, rec) in rdr.records().enumerate() {
        let rec = rec.map_err(|e| Error::bad_request(format!("{file}, fila {}: {e}", n + 2)))?;
        if rows.len() >= ROWS_MAX {
            return Err(Error::bad_request(format!(
                "{file}: más de {ROWS_MAX} filas"
            )));
        }
        rows.push(rec.iter().map(str::to_string).collect());
    }
    Ok((headers, rows))
}

/// The truth file: record id → entity (`record_id, cluster_id`).
pub fn read_truth(path: &Path) -> Result<rustc_hash::FxHashMap<String, String>> {
    let file = path.display().to_string();
    let (headers, rows) = read_csv(path)?;
    let at = |name: &str| {
        headers.iter().position(|h| h == name).ok_or_else(|| {
            Error::bad_request(format!(
                "{file}: falta la columna «{name}» (record_id, cluster_id)"
            ))
        })
    };
    let (r, c) = (at("record_id")?, at("cluster_id")?);
    let mut truth = rustc_hash::FxHashMap::default();
    for (n, row) in rows.iter().enumerate() {
        let (Some(id), Some(cluster)) = (row.get(r), row.get(c)) else {
            continue;
        };
        if truth.insert(id.clone(), cluster.clone()).is_some() {
            return Err(Error::bad_request(format!(
                "{file}, fila {}, columna «record_id», valor «{id}»: el registro aparece dos veces",
                n + 2
            )));
        }
    }
    Ok(truth)
}

/// Counts every rule's comparisons before any is made: one that would exceed the settings'
/// bound is refused, named with its count.
fn check_rules(settings: &Settings, input: Input<'_>) -> Result<()> {
    for rules in [
        &settings.blocking,
        &settings.training.em_blocking,
        &settings.training.deterministic,
    ] {
        let k = Keys::new(input, rules).map_err(Error::bad_request)?;
        for (rule, n) in rules.iter().zip(counts(input, &k)) {
            if n > settings.max_comparisons {
                return Err(Error::bad_request(format!(
                    "la regla de bloqueo {:?} generaría {n} comparaciones, más que max_comparisons ({}): agregue claves a la regla",
                    rule.keys, settings.max_comparisons
                )));
            }
        }
    }
    Ok(())
}

/// What `vamos linkage evaluate` reports.
#[derive(Debug, Clone, Serialize)]
pub struct Evaluation {
    pub settings_version: String,
    pub records_left: usize,
    pub records_right: Option<usize>,
    /// Per blocking rule, the comparisons it generates on its own (counted before any is made).
    pub blocking: Vec<RuleCount>,
    /// Candidate pairs compared (each once).
    pub pairs_compared: u64,
    pub prior: f64,
    pub link_threshold: f64,
    pub review_threshold: f64,
    /// Pairs between the thresholds (for a person to decide).
    pub pairs_for_review: u64,
    #[serde(flatten)]
    pub accuracy: Accuracy,
    /// Training and scoring, reading the files excluded.
    pub seconds: f64,
    pub model: vamos_linkage::Model,
}

/// A blocking rule and its comparisons.
#[derive(Debug, Clone, Serialize)]
pub struct RuleCount {
    pub keys: Vec<String>,
    pub comparisons: u64,
}

/// Trains the model of `settings` on `left` (deduplicated) or `left` × `right` (linked), scores
/// every candidate pair and judges the links against `truth`.
pub fn evaluate(
    settings_path: &Path,
    left: &Path,
    right: Option<&Path>,
    truth: &Path,
) -> Result<Evaluation> {
    let (settings, version) = read_settings(settings_path)?;
    let table = |p: &Path| -> Result<Table> {
        let (cols, rows) = read_csv(p)?;
        Table::new(&settings, &cols, &rows)
            .map_err(|e| Error::bad_request(format!("{}: {e}", p.display())))
    };
    let lt = table(left)?;
    let rt = right.map(table).transpose()?;
    let truth = read_truth(truth)?;
    let started = std::time::Instant::now();
    let input = match &rt {
        None => Input::Dedupe(&lt),
        Some(r) => Input::Link(&lt, r),
    };
    check_rules(&settings, input)?;
    let keys = Keys::new(input, &settings.blocking).map_err(Error::bad_request)?;
    let blocking = settings
        .blocking
        .iter()
        .zip(counts(input, &keys))
        .map(|(b, comparisons)| RuleCount {
            keys: b.keys.clone(),
            comparisons,
        })
        .collect();
    let model = vamos_linkage::train(&settings, input).map_err(Error::bad_request)?;
    let t = settings.thresholds;
    let (scored, compared) = model.predict(&settings, input, &keys, t.review);
    let links: Vec<vamos_linkage::Scored> = scored
        .iter()
        .copied()
        .filter(|p| p.probability >= t.link)
        .collect();
    let seconds = started.elapsed().as_secs_f64();
    let accuracy = accuracy(&lt, rt.as_ref(), &links, &truth);
    Ok(Evaluation {
        settings_version: version,
        records_left: lt.len(),
        records_right: rt.as_ref().map(Table::len),
        blocking,
        pairs_compared: compared,
        prior: model.prior,
        link_threshold: t.link,
        review_threshold: t.review,
        pairs_for_review: (scored.len() - links.len()) as u64,
        accuracy,
        seconds,
        model,
    })
}
