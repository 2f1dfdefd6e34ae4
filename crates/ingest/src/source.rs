//! Finding the tables of an import among what the analyst points at: a directory, an ODK
//! Central ZIP, an XLSX workbook, one CSV (its `-miembros` sibling found by name) or an
//! explicit list of files.

use crate::table::{xlsx_sheets, zip_csv_entries, TableSource};
use crate::IngestError;
use std::path::{Path, PathBuf};
use vamos_domain::ImportKind;

fn ext(p: &Path) -> String {
    p.extension()
        .map(|e| e.to_string_lossy().to_lowercase())
        .unwrap_or_default()
}

fn stem(name: &str) -> &str {
    let base = name.rsplit('/').next().unwrap_or(name);
    base.strip_suffix(".csv")
        .or_else(|| base.strip_suffix(".CSV"))
        .unwrap_or(base)
}

/// Picks (main, repeat) among CSV names: `<x>.csv` with `<x>-miembros.csv`, preferring the
/// form id of `kind`.
fn pair(names: &[String], kind: ImportKind) -> Option<(String, String)> {
    let preferred = if kind == ImportKind::Simplificado {
        "registro_simplificado"
    } else {
        "fips"
    };
    let mut pairs: Vec<(String, String)> = names
        .iter()
        .filter_map(|r| {
            let base = stem(r).strip_suffix("-miembros")?;
            let main = names.iter().find(|m| stem(m) == base)?;
            Some((main.clone(), r.clone()))
        })
        .collect();
    pairs.sort_by_key(|(m, _)| !stem(m).starts_with(preferred));
    pairs.into_iter().next()
}

fn list_dir(dir: &Path, exts: &[&str]) -> Result<Vec<PathBuf>, IngestError> {
    let rd = std::fs::read_dir(dir).map_err(|e| IngestError::Unreadable {
        file: dir.display().to_string(),
        reason: e.to_string(),
    })?;
    let mut out: Vec<PathBuf> = rd
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && exts.contains(&ext(p).as_str()))
        .collect();
    out.sort();
    Ok(out)
}

fn not_found(what: &str, where_: &Path) -> IngestError {
    IngestError::Input(format!("no se encontró {what} en «{}»", where_.display()))
}

/// Resolves the tables of an import. FIPS and simplified forms give `[households, members]`;
/// community imports `[communities]`; admin imports every table found.
pub fn resolve_inputs(
    kind: ImportKind,
    paths: &[PathBuf],
) -> Result<Vec<TableSource>, IngestError> {
    let first = paths
        .first()
        .ok_or_else(|| IngestError::Input("no se indicó ningún archivo".into()))?;
    for p in paths {
        if !p.exists() {
            return Err(IngestError::Unreadable {
                file: p.display().to_string(),
                reason: "no existe".into(),
            });
        }
    }
    match kind {
        ImportKind::Fips | ImportKind::Simplificado => {
            if paths.len() >= 2 {
                let mut v: Vec<TableSource> = paths
                    .iter()
                    .take(2)
                    .map(|p| TableSource::Csv(p.clone()))
                    .collect();
                // The members file is the one named like the repeat group.
                if v.first().is_some_and(|t| t.label().contains("miembros")) {
                    v.reverse();
                }
                return Ok(v);
            }
            if first.is_dir() {
                let files = list_dir(first, &["csv"])?;
                let names: Vec<String> = files.iter().map(|p| p.display().to_string()).collect();
                let (m, r) = pair(&names, kind).ok_or_else(|| {
                    not_found(
                        "un par de archivos <formulario>.csv y <formulario>-miembros.csv",
                        first,
                    )
                })?;
                return Ok(vec![TableSource::Csv(m.into()), TableSource::Csv(r.into())]);
            }
            match ext(first).as_str() {
                "zip" => {
                    let names = zip_csv_entries(first)?;
                    let (m, r) = pair(&names, kind).ok_or_else(|| {
                        not_found("un par <formulario>.csv y <formulario>-miembros.csv", first)
                    })?;
                    Ok(vec![
                        TableSource::ZipEntry {
                            zip: first.clone(),
                            entry: m,
                        },
                        TableSource::ZipEntry {
                            zip: first.clone(),
                            entry: r,
                        },
                    ])
                }
                "xlsx" | "xlsm" => {
                    let sheets = xlsx_sheets(first)?;
                    let main = sheets
                        .first()
                        .cloned()
                        .ok_or_else(|| not_found("ninguna hoja", first))?;
                    let rep = sheets
                        .iter()
                        .find(|s| s.to_lowercase().contains("miembros"))
                        .cloned()
                        .ok_or_else(|| not_found("la hoja «miembros»", first))?;
                    Ok(vec![
                        TableSource::Sheet {
                            path: first.clone(),
                            sheet: main,
                        },
                        TableSource::Sheet {
                            path: first.clone(),
                            sheet: rep,
                        },
                    ])
                }
                _ => {
                    let name = first
                        .file_name()
                        .map(|s| s.to_string_lossy().into_owned())
                        .unwrap_or_default();
                    let sibling = first.with_file_name(format!("{}-miembros.csv", stem(&name)));
                    if !sibling.exists() {
                        return Err(not_found(
                            &format!("el archivo de miembros «{}»", sibling.display()),
                            first.parent().unwrap_or(first),
                        ));
                    }
                    Ok(vec![
                        TableSource::Csv(first.clone()),
                        TableSource::Csv(sibling),
                    ])
                }
            }
        }
        ImportKind::Comunidades => {
            let p = if first.is_dir() {
                list_dir(first, &["csv", "xlsx"])?
                    .into_iter()
                    .find(|p| {
                        p.file_name()
                            .is_some_and(|n| n.to_string_lossy().starts_with("comunidad"))
                    })
                    .ok_or_else(|| not_found("comunidades.csv", first))?
            } else {
                first.clone()
            };
            single_tables(&p).map(|mut v| {
                v.truncate(1);
                v
            })
        }
        ImportKind::Admin => {
            let mut out = Vec::new();
            for p in paths {
                if p.is_dir() {
                    let sub = p.join("admin");
                    let dir = if sub.is_dir() { sub } else { p.clone() };
                    for f in list_dir(&dir, &["csv", "xlsx", "xlsm"])? {
                        out.extend(single_tables(&f)?);
                    }
                } else {
                    out.extend(single_tables(p)?);
                }
            }
            if out.is_empty() {
                return Err(not_found("ningún archivo CSV o XLSX", first));
            }
            Ok(out)
        }
    }
}

/// Every table of one file: a CSV, each sheet of a workbook, each CSV of a ZIP.
fn single_tables(p: &Path) -> Result<Vec<TableSource>, IngestError> {
    Ok(match ext(p).as_str() {
        "xlsx" | "xlsm" => xlsx_sheets(p)?
            .into_iter()
            .map(|sheet| TableSource::Sheet {
                path: p.to_path_buf(),
                sheet,
            })
            .collect(),
        "zip" => zip_csv_entries(p)?
            .into_iter()
            .map(|entry| TableSource::ZipEntry {
                zip: p.to_path_buf(),
                entry,
            })
            .collect(),
        _ => vec![TableSource::Csv(p.to_path_buf())],
    })
}

/// Whether a `manifest.json` beside the inputs says they were made by `vamos synth`.
pub fn detect_synthetic(paths: &[PathBuf]) -> bool {
    paths.iter().any(|p| {
        let dir = if p.is_dir() {
            p.clone()
        } else {
            p.parent().map(Path::to_path_buf).unwrap_or_default()
        };
        [
            dir.join("manifest.json"),
            dir.join("..").join("manifest.json"),
        ]
        .iter()
        .any(|m| {
            std::fs::read_to_string(m)
                .ok()
                .and_then(|s| serde_json::from_str::<serde_json::Value>(&s).ok())
                .and_then(|v| v.get("synthetic").and_then(serde_json::Value::as_bool))
                .unwrap_or(false)
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_main_and_repeat_files() {
        let names: Vec<String> = ["d/comunidades.csv", "d/fips-miembros.csv", "d/fips.csv"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(
            pair(&names, ImportKind::Fips),
            Some(("d/fips.csv".into(), "d/fips-miembros.csv".into()))
        );
        assert_eq!(pair(&names[..1], ImportKind::Fips), None);
    }
}
