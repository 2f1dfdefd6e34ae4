//! Multidimensional poverty (issue 39, first part): the method read from its file and the
//! Alkire–Foster figures of any table of indicator deprivations — what `vamos ipm compute`
//! checks a method with, on any dataset. The computation is `vamos_engine::ipm`; the registry's
//! own deprivations and the official method file are still to come.

use crate::{Error, Result};
use std::path::Path;
use vamos_engine::ipm::{compute, Figures, Method, Unit};

/// The most rows a deprivation table holds (every household of the country, with room).
pub const ROWS_MAX: usize = 5_000_000;

/// A method from its TOML file (`version`, `k`, `[[dimension]]`, `[[indicator]]`), checked.
pub fn load_method(path: &Path) -> Result<Method> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        Error::bad_request(format!(
            "no se puede leer el método {}: {e}",
            path.display()
        ))
    })?;
    let m: Method = toml::from_str(&text)
        .map_err(|e| Error::bad_request(format!("método {} inválido: {e}", path.display())))?;
    m.weights().map_err(Error::bad_request)?;
    Ok(m)
}

/// The figures of a CSV table: a column per indicator of `method` (by its code; 1 deprived,
/// 0 not, empty sin dato) and an optional `weight` column (1 when absent).
pub fn compute_table(method: &Method, table: &Path, k: Option<f64>) -> Result<Figures> {
    let file = table.display().to_string();
    let mut rdr = csv::ReaderBuilder::new()
        .flexible(false)
        .from_path(table)
        .map_err(|e| Error::bad_request(format!("no se puede leer {file}: {e}")))?;
    let headers = rdr
        .headers()
        .map_err(|e| Error::bad_request(format!("{file}: {e}")))?
        .clone();
    let column = |name: &str| headers.iter().position(|h| h.trim() == name);
    let mut cols = Vec::with_capacity(method.indicators.len());
    for i in &method.indicators {
        cols.push(column(&i.code).ok_or_else(|| {
            Error::bad_request(format!(
                "{file}: falta la columna del indicador «{}»",
                i.code
            ))
        })?);
    }
    let weight = column("weight").or_else(|| column("peso"));
    let mut units = Vec::new();
    for (n, rec) in rdr.records().enumerate() {
        let row = n + 2;
        let rec = rec.map_err(|e| Error::bad_request(format!("{file}, fila {row}: {e}")))?;
        if units.len() >= ROWS_MAX {
            return Err(Error::bad_request(format!(
                "{file}: más de {ROWS_MAX} filas"
            )));
        }
        let mut deprived = Vec::with_capacity(cols.len());
        for (c, i) in cols.iter().zip(&method.indicators) {
            let v = rec.get(*c).unwrap_or("").trim();
            deprived.push(match v {
                "1" => Some(true),
                "0" => Some(false),
                "" => None,
                other => {
                    return Err(Error::bad_request(format!(
                        "{file}, fila {row}, columna «{}», valor «{}»: se espera 1 (privado), 0 (no) o vacío (sin dato)",
                        i.code,
                        other.chars().take(20).collect::<String>()
                    )))
                }
            });
        }
        let w = match weight.and_then(|c| rec.get(c)).map(str::trim) {
            None | Some("") => 1.0,
            Some(x) => x.parse::<f64>().ok().filter(|w| w.is_finite() && *w >= 0.0).ok_or_else(|| {
                Error::bad_request(format!(
                    "{file}, fila {row}, columna «weight», valor «{}»: un peso es un número no negativo",
                    x.chars().take(20).collect::<String>()
                ))
            })?,
        };
        units.push(Unit {
            deprived,
            weight: w,
        });
    }
    compute(method, &units, k).map_err(Error::bad_request)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_shipped_paraguay_method_has_four_dimensions_of_a_quarter_fifteen_indicators_and_k_26() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../catalogue/ipm/ine_paraguay.toml");
        let m = super::load_method(&path).unwrap_or_else(|e| panic!("{}", e.message));
        assert!((m.k - 0.26).abs() < 1e-12);
        assert_eq!(m.dimensions.len(), 4);
        assert!(m.dimensions.iter().all(|d| (d.weight - 0.25).abs() < 1e-12));
        assert_eq!(m.indicators.len(), 15);
        let w = m.weights().unwrap_or_default();
        assert!((w.iter().sum::<f64>() - 1.0).abs() < 1e-9);
    }
}
