//! Records prepared once for comparing: each compared value folded (names split the Paraguayan
//! way, dates parsed) with its phonetic code, and each blocking key worked out — so a pair
//! costs only the comparisons themselves.

use crate::names;
use crate::settings::{Blocking, Kind, Settings};
use rayon::prelude::*;

/// One prepared value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Value {
    /// The canonical text (names: the words that identify, space-separated; dates:
    /// `AAAAMMDD`).
    pub text: String,
    /// Its Spanish–Guaraní phonetic code, word by word.
    pub phonetic: String,
    /// A date's year, month and day.
    pub date: Option<(i32, u32, u32)>,
    /// A married name set apart from own surnames.
    pub married: Option<String>,
}

/// A blocking key expression.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Key {
    Plain(usize),
    Phonetic(usize),
    Prefix(usize, usize),
    Year(usize),
}

/// Records as the model compares them.
#[derive(Debug, Clone, Default)]
pub struct Table {
    pub ids: Vec<String>,
    /// Per comparison, per record (`None`: missing).
    pub values: Vec<Vec<Option<Value>>>,
    /// The raw columns blocking keys read, folded, per column, per record.
    raw: Vec<Vec<String>>,
    raw_names: Vec<String>,
    raw_kinds: Vec<Kind>,
}

/// A date as people and systems write it: `AAAAMMDD`, `AAAA-MM-DD` or `DD/MM/AAAA`.
pub fn parse_date(s: &str) -> Option<(i32, u32, u32)> {
    let s = s.trim();
    let digits: String = s.chars().filter(char::is_ascii_digit).collect();
    let (y, m, d) = if s.contains('/') {
        let mut p = s.split('/');
        let d = p.next()?.trim().parse().ok()?;
        let m = p.next()?.trim().parse().ok()?;
        let y = p.next()?.trim().parse().ok()?;
        (y, m, d)
    } else if digits.len() == 8 {
        (
            digits.get(0..4)?.parse().ok()?,
            digits.get(4..6)?.parse().ok()?,
            digits.get(6..8)?.parse().ok()?,
        )
    } else {
        return None;
    };
    ((1..=12).contains(&m) && (1..=31).contains(&d) && (1800..=2200).contains(&y))
        .then_some((y, m, d))
}

/// A raw value prepared as `kind` says (`None`: missing or unreadable).
pub fn prepare(raw: &str, kind: Kind) -> Option<Value> {
    prepare_with(raw, kind, true)
}

/// [`prepare`], with the phonetic code only when `phonetic` (a comparison that never tests it
/// need not hold it: memory is what bounds a national table).
pub fn prepare_with(raw: &str, kind: Kind, phonetic: bool) -> Option<Value> {
    let code = |text: &str| {
        if phonetic {
            names::phonetic_text(text)
        } else {
            String::new()
        }
    };
    let value = match kind {
        Kind::Fecha => {
            let (y, m, d) = parse_date(raw)?;
            Value {
                text: format!("{y:04}{m:02}{d:02}"),
                phonetic: String::new(),
                date: Some((y, m, d)),
                married: None,
            }
        }
        Kind::Texto => {
            let text = names::fold(raw);
            Value {
                phonetic: code(&text),
                text,
                ..Value::default()
            }
        }
        Kind::Nombre => {
            let n = names::split(raw, "");
            let text = n.given.join(" ");
            Value {
                phonetic: code(&text),
                text,
                ..Value::default()
            }
        }
        Kind::Apellidos => {
            let n = names::split("", raw);
            let text = n.surnames.join(" ");
            Value {
                phonetic: code(&text),
                text,
                date: None,
                married: n.married,
            }
        }
    };
    (!value.text.is_empty()).then_some(value)
}

impl Table {
    /// Prepares `rows` (cells in the order of `columns`) for `settings`. A column the settings
    /// name but `columns` lacks is an error that names it.
    pub fn new(
        settings: &Settings,
        columns: &[String],
        rows: &[Vec<String>],
    ) -> Result<Table, String> {
        let at = |name: &str| {
            columns
                .iter()
                .position(|c| c == name)
                .ok_or_else(|| format!("falta la columna «{name}»"))
        };
        let id = at(&settings.id_column)?;
        fn cell(row: &[String], i: usize) -> &str {
            row.get(i).map_or("", String::as_str)
        }
        let mut values = Vec::with_capacity(settings.comparisons.len());
        for c in &settings.comparisons {
            let i = at(&c.column)?;
            let phonetic = c.levels.contains(&crate::settings::Level::Phonetic);
            values.push(
                rows.par_iter()
                    .map(|r| prepare_with(cell(r, i), c.kind, phonetic))
                    .collect(),
            );
        }
        let mut t = Table {
            ids: rows
                .iter()
                .map(|r| cell(r, id).trim().to_string())
                .collect(),
            values,
            ..Table::default()
        };
        // The columns blocking keys read.
        let mut wanted: Vec<String> = Vec::new();
        for b in settings
            .blocking
            .iter()
            .chain(&settings.training.em_blocking)
            .chain(&settings.training.deterministic)
        {
            for k in &b.keys {
                let col = key_column(k)?;
                if !wanted.contains(&col) {
                    wanted.push(col);
                }
            }
        }
        for col in wanted {
            let i = at(&col)?;
            let kind = settings
                .comparisons
                .iter()
                .find(|c| c.column == col)
                .map_or(Kind::Texto, |c| c.kind);
            t.raw.push(
                rows.par_iter()
                    .map(|r| {
                        prepare_with(cell(r, i), kind, false)
                            .map(|v| v.text)
                            .unwrap_or_default()
                    })
                    .collect(),
            );
            t.raw_names.push(col);
            t.raw_kinds.push(kind);
        }
        Ok(t)
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// The compiled keys of a rule.
    pub fn keys(&self, rule: &Blocking) -> Result<Vec<KeyOf>, String> {
        rule.keys
            .iter()
            .map(|k| {
                let k = k.trim();
                let col = key_column(k)?;
                let i = self
                    .raw_names
                    .iter()
                    .position(|c| *c == col)
                    .ok_or_else(|| format!("falta la columna «{col}»"))?;
                let key = if k.starts_with("fonetico(") {
                    Key::Phonetic(i)
                } else if k.starts_with("anio(") {
                    if self.raw_kinds.get(i) != Some(&Kind::Fecha) {
                        return Err(format!(
                            "«{k}»: anio() necesita una columna comparada como fecha"
                        ));
                    }
                    Key::Year(i)
                } else if k.starts_with("inicio(") {
                    let n = k
                        .rsplit(',')
                        .next()
                        .map(|x| x.trim_end_matches(')').trim())
                        .and_then(|x| x.parse().ok())
                        .filter(|n| *n > 0)
                        .ok_or_else(|| format!("«{k}»: inicio(columna, n) necesita n > 0"))?;
                    Key::Prefix(i, n)
                } else {
                    Key::Plain(i)
                };
                Ok(KeyOf(key))
            })
            .collect()
    }

    /// Record `r`'s value of `key` (`None`: missing — a missing key blocks nothing).
    pub fn key_value(&self, key: &KeyOf, r: usize) -> Option<String> {
        let col = |i: usize| {
            self.raw
                .get(i)
                .and_then(|c| c.get(r))
                .filter(|s| !s.is_empty())
        };
        match key.0 {
            Key::Plain(i) => col(i).cloned(),
            Key::Phonetic(i) => col(i).map(|s| names::phonetic_text(s)),
            Key::Prefix(i, n) => col(i).map(|s| s.chars().take(n).collect()),
            Key::Year(i) => col(i).and_then(|s| s.get(0..4)).map(str::to_string),
        }
    }

    /// Record `r`'s key of a whole rule (`None` when any part is missing).
    pub fn rule_key(&self, keys: &[KeyOf], r: usize) -> Option<String> {
        let mut out = String::new();
        for k in keys {
            out.push_str(&self.key_value(k, r)?);
            out.push('\u{1f}');
        }
        Some(out)
    }
}

/// A compiled blocking key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyOf(Key);

/// The column a key expression reads.
pub fn key_column(k: &str) -> Result<String, String> {
    let k = k.trim();
    match k.find('(') {
        None => Ok(k.to_string()),
        Some(open) => {
            let f = k.get(..open).unwrap_or_default();
            if !["fonetico", "inicio", "anio"].contains(&f) || !k.ends_with(')') {
                return Err(format!(
                    "clave de bloqueo «{k}» inválida: columna, fonetico(columna), inicio(columna, n) o anio(columna)"
                ));
            }
            let inner = k.get(open + 1..k.len() - 1).unwrap_or_default();
            Ok(inner
                .split(',')
                .next()
                .unwrap_or_default()
                .trim()
                .to_string())
        }
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_read_as_people_and_systems_write_them() {
        assert_eq!(parse_date("19810315"), Some((1981, 3, 15)));
        assert_eq!(parse_date("1981-03-15"), Some((1981, 3, 15)));
        assert_eq!(parse_date("15/03/1981"), Some((1981, 3, 15)));
        assert_eq!(parse_date("1981-13-15"), None);
        assert_eq!(parse_date(""), None);
    }

    #[test]
    fn names_are_prepared_by_their_kind() {
        let v = prepare("Ma. del Carmen", Kind::Nombre).unwrap();
        assert_eq!(v.text, "maria carmen");
        let v = prepare("González de Pérez", Kind::Apellidos).unwrap();
        assert_eq!(v.text, "gonzalez perez");
        assert_eq!(v.married.as_deref(), Some("perez"));
        assert_eq!(prepare("  ", Kind::Texto), None);
    }

    #[test]
    fn key_expressions_name_their_column() {
        assert_eq!(key_column("surname").unwrap(), "surname");
        assert_eq!(key_column("fonetico(surname)").unwrap(), "surname");
        assert_eq!(key_column("inicio(given_name, 3)").unwrap(), "given_name");
        assert!(key_column("drop(surname)").is_err());
    }
}
