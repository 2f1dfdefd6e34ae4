//! The model as data: the columns compared and how (levels from most to least alike), the
//! blocking rules, how it is trained and its two thresholds — read from a TOML file
//! (`data/linkage/settings/*.toml`, format in `docs/linkage.md`).

use serde::Deserialize;

/// A linkage model's settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// A label for people; the effective version adds the hash of the file.
    pub version: String,
    /// The column that identifies a record.
    pub id_column: String,
    /// The comparisons, each over one column.
    #[serde(rename = "comparison")]
    pub comparisons: Vec<Comparison>,
    /// Candidate pairs are those agreeing on every key of at least one rule.
    #[serde(rename = "blocking")]
    pub blocking: Vec<Blocking>,
    pub training: Training,
    pub thresholds: Thresholds,
    /// The most comparisons one blocking rule (of prediction, EM or the prior) may generate:
    /// a rule that would exceed it is refused before any pair is compared.
    #[serde(default = "default_max_comparisons")]
    pub max_comparisons: u64,
}

/// How one column is compared.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Comparison {
    /// A name for people (`nombre`, `fecha_nacimiento`).
    pub name: String,
    pub column: String,
    /// How the column's values are prepared.
    #[serde(default)]
    pub kind: Kind,
    /// The levels, most alike first; a pair at none of them is at the last level, "distinto".
    pub levels: Vec<Level>,
    /// Whether an exact agreement weighs by how rare the value is.
    #[serde(default)]
    pub term_frequency: bool,
}

/// How a column's values are prepared before comparing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Folded text (case, accents, punctuation).
    #[default]
    Texto,
    /// Given names: folded, particles and titles dropped, abbreviations and nicknames resolved.
    Nombre,
    /// Family names: folded, particles dropped, a married name («de Pérez») set apart.
    Apellidos,
    /// A date: `AAAAMMDD`, `AAAA-MM-DD` or `DD/MM/AAAA`.
    Fecha,
}

/// One level of a comparison: a test two values pass.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Level {
    /// The prepared values are equal.
    Exact,
    /// Jaro–Winkler similarity at least this.
    JaroWinkler(f64),
    /// Levenshtein distance at most this.
    Levenshtein(usize),
    /// Every word has the same Spanish–Guaraní phonetic code.
    Phonetic,
    /// Names: the same words in another order (both surnames swapped, given names reordered).
    SameWords,
    /// Names: the first words agree once gender endings are dropped (Francisco / Francisca).
    Genderless,
    /// Names: one value's words are a part of the other's (a second given name or surname
    /// left out, a married name written or not).
    Contained,
    /// Dates: day and month swapped.
    SwappedDayMonth,
    /// Dates: same year and month.
    SameYearMonth,
    /// Dates: at most this many years apart.
    YearsApart(i32),
}

/// A blocking rule: the keys two records must share.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Blocking {
    /// Each key: `columna`, `fonetico(columna)`, `inicio(columna, n)` (first n letters) or
    /// `anio(columna)` (a date's year).
    pub keys: Vec<String>,
}

/// How the model is trained.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Training {
    /// Random pairs drawn to estimate u (how often unrelated records agree).
    #[serde(default = "default_u_pairs")]
    pub u_pairs: usize,
    /// The seed of that draw (the same seed, the same model).
    #[serde(default)]
    pub seed: u64,
    /// One EM session per rule, like Splink: m is estimated for the comparisons whose column
    /// the rule does not block on, then averaged over sessions.
    pub em_blocking: Vec<Blocking>,
    /// The prior share of random pairs that match: estimated from `deterministic` rules when
    /// not given.
    pub prior: Option<f64>,
    /// Rules whose pairs are taken as matches to estimate the prior, and the share of all
    /// matches they are assumed to find.
    #[serde(default)]
    pub deterministic: Vec<Blocking>,
    #[serde(default = "default_recall")]
    pub deterministic_recall: f64,
    #[serde(default = "default_iterations")]
    pub max_iterations: usize,
}

/// Match probabilities: at or above `link` the pair is the same entity; from `review` to
/// `link`, a person decides.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Thresholds {
    pub link: f64,
    pub review: f64,
}

fn default_max_comparisons() -> u64 {
    200_000_000
}

fn default_u_pairs() -> usize {
    1_000_000
}

fn default_recall() -> f64 {
    0.8
}

fn default_iterations() -> usize {
    25
}

impl Settings {
    /// Checks what the types cannot: thresholds in order, levels that fit their kind, columns
    /// named.
    pub fn check(&self) -> Result<(), String> {
        let t = self.thresholds;
        if !(0.0..=1.0).contains(&t.review) || !(0.0..=1.0).contains(&t.link) || t.review > t.link {
            return Err(format!(
                "umbrales inválidos: revisión {} y enlace {} deben estar entre 0 y 1, revisión ≤ enlace",
                t.review, t.link
            ));
        }
        if self.comparisons.is_empty() {
            return Err("el modelo no compara ninguna columna".into());
        }
        if self.blocking.is_empty() {
            return Err("el modelo no tiene reglas de bloqueo".into());
        }
        for c in &self.comparisons {
            if c.levels.is_empty() {
                return Err(format!("la comparación «{}» no tiene niveles", c.name));
            }
            for l in &c.levels {
                let date_level = matches!(
                    l,
                    Level::SwappedDayMonth | Level::SameYearMonth | Level::YearsApart(_)
                );
                let name_level =
                    matches!(l, Level::SameWords | Level::Genderless | Level::Contained);
                if date_level && c.kind != Kind::Fecha {
                    return Err(format!(
                        "la comparación «{}» usa un nivel de fechas sobre una columna que no es fecha",
                        c.name
                    ));
                }
                if name_level && c.kind == Kind::Fecha {
                    return Err(format!(
                        "la comparación «{}» usa un nivel de nombres sobre una fecha",
                        c.name
                    ));
                }
                if let Level::JaroWinkler(x) = l {
                    if !(0.0..=1.0).contains(x) {
                        return Err(format!("«{}»: jaro_winkler debe estar entre 0 y 1", c.name));
                    }
                }
            }
        }
        if let Some(c) = self.comparisons.iter().find(|c| c.levels.len() >= 250) {
            return Err(format!(
                "la comparación «{}» tiene demasiados niveles (hasta 249)",
                c.name
            ));
        }
        let tr = &self.training;
        if tr.u_pairs == 0 || tr.max_iterations == 0 {
            return Err("training: u_pairs y max_iterations deben ser mayores que 0".into());
        }
        if !(tr.deterministic_recall > 0.0 && tr.deterministic_recall <= 1.0) {
            return Err(format!(
                "training: deterministic_recall {} debe estar entre 0 (excluido) y 1",
                tr.deterministic_recall
            ));
        }
        if self.max_comparisons == 0 {
            return Err("max_comparisons debe ser mayor que 0".into());
        }
        if let Some(p) = self.training.prior {
            if !(p > 0.0 && p < 1.0) {
                return Err("la probabilidad previa debe estar entre 0 y 1".into());
            }
        } else if self.training.deterministic.is_empty() {
            return Err(
                "sin probabilidad previa (training.prior) hacen falta reglas deterministas para estimarla"
                    .into(),
            );
        }
        Ok(())
    }

    /// Every column the model reads (id first).
    pub fn columns(&self) -> Vec<String> {
        let mut out = vec![self.id_column.clone()];
        for c in &self.comparisons {
            if !out.contains(&c.column) {
                out.push(c.column.clone());
            }
        }
        out
    }
}
