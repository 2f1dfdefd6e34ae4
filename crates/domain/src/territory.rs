//! Paraguay's territory as data: departments (`DD`) and districts (`DDdd`) with INE codes.
//!
//! The official list ships in `data/territory/distritos_cnpv2022.csv` (263 districts of the
//! 2022 census, see `data/territory/PROVENANCE.md`) and is compiled into the binary, so a code
//! is validated against the real list, never against a pattern alone.

use serde::Serialize;
use std::fmt;
use std::sync::OnceLock;

/// The district list shipped with Vamos (INE, CNPV 2022).
pub const DISTRICTS_CSV: &str = include_str!("../../../data/territory/distritos_cnpv2022.csv");

/// A department code `00` (Asunción) .. `17` (Alto Paraguay).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(into = "String")]
pub struct DepartmentCode(u8);

/// A district code `DDdd`: department `DD` and district `dd` within it.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, serde::Deserialize,
)]
#[serde(into = "String", try_from = "String")]
pub struct DistrictCode(u16);

impl TryFrom<String> for DistrictCode {
    type Error = TerritoryError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        DistrictCode::try_from(s.as_str())
    }
}

/// The refused text as an error repeats it: cut at [`crate::limits::ECHO`] characters.
fn echo(s: &str) -> String {
    crate::limits::echo(s).into_owned()
}

/// Why a territory code was refused (the code given, cut if long).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TerritoryError {
    #[error(
        "código de territorio mal formado «{0}»: se espera DD (departamento) o DDdd (distrito)"
    )]
    Malformed(String),
    #[error("departamento desconocido «{0}»: los códigos válidos van de 00 (Asunción) a 17")]
    UnknownDepartment(String),
    #[error("distrito desconocido «{0}»: no figura en la lista oficial del INE (CNPV 2022)")]
    UnknownDistrict(String),
}

impl DepartmentCode {
    /// The numeric code (0..=17).
    pub fn get(self) -> u8 {
        self.0
    }
}

impl DistrictCode {
    /// The numeric `DDdd` value, e.g. 1116 for Villeta.
    pub fn get(self) -> u16 {
        self.0
    }
    /// The department this district belongs to.
    pub fn department(self) -> DepartmentCode {
        // DDdd / 100 is at most 99; only constructed from the official list (DD <= 17).
        DepartmentCode((self.0 / 100) as u8)
    }
    /// A code read back from a store (a `DDdd` number); `None` if it is not an official district.
    pub fn from_stored(n: i64) -> Option<DistrictCode> {
        u16::try_from(n)
            .ok()
            .and_then(|d| DistrictCode::from_number(d).ok())
    }

    /// Builds a code from its numeric value, checked against the official list.
    pub fn from_number(n: u16) -> Result<Self, TerritoryError> {
        let code = DistrictCode(n);
        if Territory::official().district(code).is_some() {
            Ok(code)
        } else {
            Err(TerritoryError::UnknownDistrict(code.to_string()))
        }
    }
}

impl fmt::Display for DepartmentCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}", self.0)
    }
}
impl DistrictCode {
    /// The district as people read it: its official name and its four-digit code,
    /// `Villeta (1116)`.
    pub fn label(self) -> String {
        format!(
            "{} ({self})",
            Territory::official().name_of(TerritoryCode::District(self))
        )
    }
}

impl fmt::Display for DistrictCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}", self.0)
    }
}
impl From<DepartmentCode> for String {
    fn from(c: DepartmentCode) -> String {
        c.to_string()
    }
}
impl From<DistrictCode> for String {
    fn from(c: DistrictCode) -> String {
        c.to_string()
    }
}

fn parse_digits(s: &str, len: usize) -> Option<u16> {
    if s.len() == len && s.bytes().all(|b| b.is_ascii_digit()) {
        s.parse().ok()
    } else {
        None
    }
}

impl TryFrom<&str> for DepartmentCode {
    type Error = TerritoryError;
    fn try_from(s: &str) -> Result<Self, Self::Error> {
        let t = s.trim();
        let n = parse_digits(t, 2)
            .or_else(|| parse_digits(t, 1))
            .ok_or_else(|| TerritoryError::Malformed(echo(s)))?;
        if n <= 17 {
            Ok(DepartmentCode(n as u8))
        } else {
            Err(TerritoryError::UnknownDepartment(echo(s)))
        }
    }
}

impl TryFrom<&str> for DistrictCode {
    type Error = TerritoryError;
    /// Accepts `DDdd`; a 3-digit `Ddd` (leading zero lost by a spreadsheet) is read as `0Ddd`.
    fn try_from(s: &str) -> Result<Self, Self::Error> {
        let t = s.trim();
        let n = parse_digits(t, 4)
            .or_else(|| parse_digits(t, 3))
            .ok_or_else(|| TerritoryError::Malformed(echo(s)))?;
        DistrictCode::from_number(n).map_err(|_| TerritoryError::UnknownDistrict(echo(t)))
    }
}

/// One department of the official list.
#[derive(Debug, Clone, Serialize)]
pub struct Department {
    pub code: DepartmentCode,
    pub name: String,
}

/// One district of the official list, with the provenance of its code.
#[derive(Debug, Clone, Serialize)]
pub struct District {
    pub code: DistrictCode,
    pub name: String,
    /// Where the code comes from (INE table order, creation law to verify, …).
    pub code_source: String,
}

/// Level of a territorial unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TerritoryLevel {
    Nation,
    Department,
    District,
}

/// A territory selector: the nation, one department or one district.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum TerritoryCode {
    Nation,
    Department(DepartmentCode),
    District(DistrictCode),
}

impl TerritoryCode {
    /// Parses `PY` (or empty) for the nation, `DD` for a department, `DDdd` for a district.
    pub fn parse(s: &str) -> Result<Self, TerritoryError> {
        let t = s.trim();
        if t.is_empty() || t.eq_ignore_ascii_case("PY") {
            return Ok(TerritoryCode::Nation);
        }
        match t.len() {
            1 | 2 => DepartmentCode::try_from(t).map(TerritoryCode::Department),
            3 | 4 => DistrictCode::try_from(t).map(TerritoryCode::District),
            _ => Err(TerritoryError::Malformed(echo(s))),
        }
    }
    pub fn level(self) -> TerritoryLevel {
        match self {
            TerritoryCode::Nation => TerritoryLevel::Nation,
            TerritoryCode::Department(_) => TerritoryLevel::Department,
            TerritoryCode::District(_) => TerritoryLevel::District,
        }
    }
    /// Whether a district lies inside this territory.
    pub fn contains(self, d: DistrictCode) -> bool {
        match self {
            TerritoryCode::Nation => true,
            TerritoryCode::Department(dep) => d.department() == dep,
            TerritoryCode::District(x) => x == d,
        }
    }
}

impl fmt::Display for TerritoryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TerritoryCode::Nation => f.write_str("PY"),
            TerritoryCode::Department(d) => d.fmt(f),
            TerritoryCode::District(d) => d.fmt(f),
        }
    }
}

/// The whole territory: departments and districts, sorted by code.
#[derive(Debug, Clone)]
pub struct Territory {
    departments: Vec<Department>,
    districts: Vec<District>,
}

impl Territory {
    /// The official list compiled into the binary (parsed once).
    pub fn official() -> &'static Territory {
        static T: OnceLock<Territory> = OnceLock::new();
        T.get_or_init(|| {
            // The shipped CSV is checked by this crate's tests; a broken file is a build defect.
            Territory::from_csv(DISTRICTS_CSV).unwrap_or_else(|_| Territory {
                departments: Vec::new(),
                districts: Vec::new(),
            })
        })
    }

    /// Parses a district list with columns `dpto_code,dpto_name,dist_code,clave,dist_name,code_source`.
    pub fn from_csv(text: &str) -> Result<Territory, String> {
        let mut rdr = csv::Reader::from_reader(text.as_bytes());
        let mut departments: Vec<Department> = Vec::new();
        let mut districts = Vec::new();
        for (i, rec) in rdr.records().enumerate() {
            let rec = rec.map_err(|e| format!("fila {}: {e}", i + 2))?;
            let get = |k: usize| rec.get(k).unwrap_or("").trim().to_string();
            let dep_n = parse_digits(&get(0), 2).ok_or(format!("fila {}: dpto_code", i + 2))?;
            let clave = parse_digits(&get(3), 4).ok_or(format!("fila {}: clave", i + 2))?;
            if dep_n > 17 || clave / 100 != dep_n {
                return Err(format!(
                    "fila {}: clave {clave:04} fuera del departamento",
                    i + 2
                ));
            }
            let dep = DepartmentCode(dep_n as u8);
            if !departments.iter().any(|d| d.code == dep) {
                departments.push(Department {
                    code: dep,
                    name: get(1),
                });
            }
            districts.push(District {
                code: DistrictCode(clave),
                name: get(4),
                code_source: get(5),
            });
        }
        departments.sort_by_key(|d| d.code);
        districts.sort_by_key(|d| d.code);
        Ok(Territory {
            departments,
            districts,
        })
    }

    pub fn departments(&self) -> &[Department] {
        &self.departments
    }
    pub fn districts(&self) -> &[District] {
        &self.districts
    }
    pub fn district(&self, code: DistrictCode) -> Option<&District> {
        self.districts
            .binary_search_by_key(&code, |d| d.code)
            .ok()
            .and_then(|i| self.districts.get(i))
    }
    pub fn department(&self, code: DepartmentCode) -> Option<&Department> {
        self.departments.iter().find(|d| d.code == code)
    }
    /// Human name of a territory selector ("Paraguay", "Central", "Villeta").
    pub fn name_of(&self, t: TerritoryCode) -> String {
        match t {
            TerritoryCode::Nation => "Paraguay".to_string(),
            TerritoryCode::Department(d) => self
                .department(d)
                .map(|x| x.name.clone())
                .unwrap_or_default(),
            TerritoryCode::District(d) => {
                self.district(d).map(|x| x.name.clone()).unwrap_or_default()
            }
        }
    }
}

/// The four pilot districts of the first phase (Gabinete Social, 10 Dec 2019).
pub const PILOT_DISTRICTS: [u16; 4] = [1116, 1602, 218, 607];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ships_263_districts_and_18_departments() {
        let t = Territory::official();
        assert_eq!(t.districts().len(), 263);
        assert_eq!(t.departments().len(), 18);
        assert_eq!(t.department(DepartmentCode(16)).unwrap().name, "Boquerón");
    }

    #[test]
    fn pilot_districts_resolve() {
        let names: Vec<String> = PILOT_DISTRICTS
            .iter()
            .map(|&n| {
                Territory::official()
                    .district(DistrictCode::from_number(n).unwrap())
                    .unwrap()
                    .name
                    .clone()
            })
            .collect();
        assert_eq!(
            names,
            [
                "Villeta",
                "Mariscal José Félix Estigarribia",
                "Santa Rosa del Aguaray",
                "San Juan Nepomuceno"
            ]
        );
    }

    #[test]
    fn parses_and_rejects_codes() {
        assert_eq!(DistrictCode::try_from("0218").unwrap().get(), 218);
        assert_eq!(DistrictCode::try_from("218").unwrap().to_string(), "0218");
        assert_eq!(
            DistrictCode::try_from("1116")
                .unwrap()
                .department()
                .to_string(),
            "11"
        );
        assert!(matches!(
            DistrictCode::try_from("9999"),
            Err(TerritoryError::UnknownDistrict(_))
        ));
        assert!(matches!(
            DistrictCode::try_from("11a6"),
            Err(TerritoryError::Malformed(_))
        ));
        assert!(matches!(
            DepartmentCode::try_from("18"),
            Err(TerritoryError::UnknownDepartment(_))
        ));
        assert_eq!(TerritoryCode::parse("").unwrap(), TerritoryCode::Nation);
        assert_eq!(
            TerritoryCode::parse("16").unwrap().level(),
            TerritoryLevel::Department
        );
        assert!(TerritoryCode::parse("16")
            .unwrap()
            .contains(DistrictCode::try_from("1602").unwrap()));
        assert!(!TerritoryCode::parse("11")
            .unwrap()
            .contains(DistrictCode::try_from("1602").unwrap()));
    }

    #[test]
    fn a_district_reads_as_its_name_and_four_digits() {
        let d = DistrictCode::from_number(101).unwrap_or_else(|_| unreachable!());
        assert!(d.label().ends_with("(0101)"), "{}", d.label());
        let villeta = DistrictCode::from_number(1116).unwrap_or_else(|_| unreachable!());
        assert_eq!(villeta.label(), "Villeta (1116)");
    }
}
