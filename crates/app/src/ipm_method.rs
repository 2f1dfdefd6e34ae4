//! The official multidimensional poverty method (INE's, shipped as data in `catalogue/ipm/`)
//! with its rules compiled against the FIPS, and the cells a classification keeps of it — apart
//! from `ipm`, which reads measurements, so that the classification (`measurements`) can
//! compute them from the registry it has loaded without the two modules needing each other.

use crate::{Error, Result};
use vamos_engine::ipm::registry::RegistryMethod;
use vamos_engine::ipm::Method;

/// INE's method as shipped (`catalogue/ipm/ine_paraguay.toml`).
pub const OFFICIAL_METHOD: &str = vamos_catalogue::IPM_METHOD;

/// The official method with its rules compiled against the FIPS (once per process).
pub fn official() -> Result<&'static RegistryMethod> {
    static M: std::sync::OnceLock<std::result::Result<RegistryMethod, String>> =
        std::sync::OnceLock::new();
    M.get_or_init(|| {
        let mut m: Method = toml::from_str(OFFICIAL_METHOD)
            .map_err(|e| format!("catalogue/ipm/ine_paraguay.toml: {e}"))?;
        m.version = versioned(&m.version, OFFICIAL_METHOD);
        RegistryMethod::compile(m, &crate::vocabulary::FormVocabulary)
    })
    .as_ref()
    .map_err(|e| Error::internal(format!("el método del IPM no compila: {e}")))
}

/// A method's label with the hash of its file: any change to the file is a new version, so
/// figures kept with a measurement are never read under a method they were not computed by.
fn versioned(label: &str, text: &str) -> String {
    use sha2::{Digest, Sha256};
    let hash = Sha256::digest(text.as_bytes());
    let hex: String = hash.iter().take(8).map(|b| format!("{b:02x}")).collect();
    format!("{label} · sha256:{hex}")
}

/// Each district's cells of a loaded registry at `as_of`, as stored (`(district, JSON)`).
pub fn district_cells(
    method: &RegistryMethod,
    data: &vamos_engine::RegistryData,
    as_of: chrono::NaiveDate,
) -> Result<Vec<(u16, String)>> {
    stored(method.cells(data, as_of))
}

/// A classification's classifier and the IPM cells it keeps, from one pass over the
/// registry's deprivations (the cells' pass also decides who is poor when the catalogue chose
/// the IPM).
pub fn classifier_and_cells<'c>(
    catalogue: &'c vamos_catalogue::Catalogue,
    data: &vamos_engine::RegistryData,
    as_of: chrono::NaiveDate,
) -> Result<(vamos_engine::classify::Classifier<'c>, Vec<(u16, String)>)> {
    let (cells, poor) = official()?.cells_and_poor(data, as_of);
    let cls = vamos_engine::classify::Classifier::new(catalogue, data, as_of);
    let cls = match catalogue.poverty {
        vamos_catalogue::Poverty::Ingreso => cls,
        vamos_catalogue::Poverty::Ipm => cls.with_multidimensional_poverty(poor),
    };
    Ok((cls, stored(cells)?))
}

/// Cells as stored: `(district, JSON)`.
fn stored(cells: Vec<(u16, vamos_engine::ipm::registry::Cells)>) -> Result<Vec<(u16, String)>> {
    cells
        .into_iter()
        .map(|(d, c)| {
            Ok((
                d,
                serde_json::to_string(&c).map_err(|e| Error::internal(e.to_string()))?,
            ))
        })
        .collect()
}

/// The classifier of `catalogue` over `data` at `as_of`, with poverty decided as the catalogue
/// chose: by income, or by the official IPM household by household. Every classification of the
/// application is built here, so the population «pobreza» means the same everywhere.
pub fn classifier<'c>(
    catalogue: &'c vamos_catalogue::Catalogue,
    data: &vamos_engine::RegistryData,
    as_of: chrono::NaiveDate,
) -> Result<vamos_engine::classify::Classifier<'c>> {
    classifier_among(catalogue, data, as_of, None)
}

/// [`classifier`] and every household's deprivation score (as referrals keep it), from one
/// pass over the registry.
pub fn classifier_with_scores<'c>(
    catalogue: &'c vamos_catalogue::Catalogue,
    data: &vamos_engine::RegistryData,
    as_of: chrono::NaiveDate,
) -> Result<(vamos_engine::classify::Classifier<'c>, Vec<Option<f64>>)> {
    let (poor, scores): (Vec<Option<bool>>, Vec<Option<f64>>) =
        official()?.assess(data, as_of).into_iter().unzip();
    let cls = vamos_engine::classify::Classifier::new(catalogue, data, as_of);
    let cls = match catalogue.poverty {
        vamos_catalogue::Poverty::Ingreso => cls,
        vamos_catalogue::Poverty::Ipm => cls.with_multidimensional_poverty(poor),
    };
    Ok((cls, scores))
}

/// [`classifier`] with the IPM decided only for `households` when given (a few units remeasured
/// in a registry held in memory: the others are never asked about).
pub fn classifier_among<'c>(
    catalogue: &'c vamos_catalogue::Catalogue,
    data: &vamos_engine::RegistryData,
    as_of: chrono::NaiveDate,
    households: Option<&[usize]>,
) -> Result<vamos_engine::classify::Classifier<'c>> {
    let cls = vamos_engine::classify::Classifier::new(catalogue, data, as_of);
    Ok(match catalogue.poverty {
        vamos_catalogue::Poverty::Ingreso => cls,
        vamos_catalogue::Poverty::Ipm => {
            let method = official()?;
            cls.with_multidimensional_poverty(match households {
                None => method.poor_households(data, as_of),
                Some(hs) => method.poor_households_among(data, as_of, hs),
            })
        }
    })
}

/// The person fields of a data-sharing agreement the official method's rules read (sorted): with
/// `pobreza`, what a caller must see to know a household's deprivation score.
pub fn fields_read() -> Result<Vec<&'static str>> {
    let m = official()?;
    let mut out: Vec<&'static str> = Vec::new();
    for j in 0..m.method.indicators.len() {
        for rule in m.rules_of(j) {
            for v in rule.variables() {
                let name = vamos_catalogue::vars::variables(v.scope)
                    .get(usize::from(v.index))
                    .map(|s| s.name)
                    .unwrap_or_default();
                match vamos_domain::authz::rule_variable_field(v.scope.prefix(), name) {
                    Ok(Some(f)) if !out.contains(&f) => out.push(f),
                    Ok(_) => {}
                    Err(()) => {
                        return Err(Error::internal(format!(
                            "el método del IPM lee «{name}», que ningún campo del acuerdo cubre"
                        )))
                    }
                }
            }
        }
    }
    out.sort_unstable();
    Ok(out)
}
