//! Registry records: households, persons, communities and administrative registry events,
//! each with the provenance (import, file, row) it was accepted from.
//!
//! These are the validated forms of import rows: the importer builds them only after every
//! check passed, and the store writes them as they are.

use crate::evidence::EvidenceSource;
use crate::ids::NationalId;
use crate::schema::Value;
use crate::territory::DistrictCode;
use chrono::NaiveDate;
use serde::Serialize;

/// Where an accepted record came from: the import run, the file within it and the data row
/// (1-based, counting the header as row 1, as a spreadsheet shows it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Provenance {
    pub import_id: i64,
    pub file_no: u32,
    pub row: u64,
}

/// What an import run loads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ImportKind {
    /// FIPS household survey (households + members).
    Fips,
    /// Simplified registration form (composition and location only, step 1C).
    Simplificado,
    /// Entorno community form.
    Comunidades,
    /// Administrative registry file of an institution.
    Admin,
}

impl ImportKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ImportKind::Fips => "fips",
            ImportKind::Simplificado => "simplificado",
            ImportKind::Comunidades => "comunidades",
            ImportKind::Admin => "admin",
        }
    }
    pub fn parse(s: &str) -> Option<ImportKind> {
        Some(match s {
            "fips" => ImportKind::Fips,
            "simplificado" => ImportKind::Simplificado,
            "comunidades" => ImportKind::Comunidades,
            "admin" => ImportKind::Admin,
            _ => return None,
        })
    }
}

/// Sex as recorded by the FIPS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Sex {
    Hombre,
    Mujer,
}

impl Sex {
    pub fn as_str(self) -> &'static str {
        match self {
            Sex::Hombre => "hombre",
            Sex::Mujer => "mujer",
        }
    }
    /// Reads the form code or the usual spellings of administrative files (M/F/H, 1/2).
    pub fn parse(s: &str) -> Option<Sex> {
        match s.trim().to_lowercase().as_str() {
            "hombre" | "h" | "m" | "masculino" | "varon" | "varón" | "1" => Some(Sex::Hombre),
            "mujer" | "f" | "femenino" | "2" => Some(Sex::Mujer),
            _ => None,
        }
    }
}

/// A household (*hogar*) as registered.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Household {
    pub id: i64,
    /// Submission key (ODK `KEY` / instanceID, Kobo `_uuid`): what makes a re-import a no-op.
    pub submission_key: String,
    pub district: DistrictCode,
    pub community_id: i64,
    /// `urbana` or `rural` (XLSForm choice code), when answered.
    pub area: Option<String>,
    pub address: Option<String>,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub interview_date: NaiveDate,
    /// `fips` (full questionnaire) or `simplificado` (composition and location only).
    pub form: ImportKind,
    /// Dwelling answers in the order of [`crate::schema::HOUSEHOLD_FIELDS`].
    pub answers: Vec<Value>,
    pub provenance: Provenance,
}

/// A person (*miembro del hogar*) as registered.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Person {
    pub id: i64,
    pub household_id: i64,
    pub submission_key: String,
    pub given_names: String,
    pub family_names: String,
    pub national_id: Option<NationalId>,
    pub birth_date: NaiveDate,
    pub sex: Sex,
    /// Relationship to the head (`jefe`, `conyuge`, `hijo`, …).
    pub relationship: String,
    /// Answers in the order of [`crate::schema::PERSON_FIELDS`] (all null for simplified forms).
    pub answers: Vec<Value>,
    pub provenance: Provenance,
}

/// A community (*localidad* / *barrio*): the unit of the Entorno category.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Community {
    pub id: i64,
    pub district: DistrictCode,
    pub name: String,
    pub area: Option<String>,
}

impl Community {
    /// The key a community is known by inside its district: the name, case- and
    /// accent-folded, with runs of spaces collapsed ("Barrio  San José" = "barrio san jose").
    pub fn name_key(name: &str) -> String {
        let mut out = String::with_capacity(name.len());
        let mut space = false;
        for c in name.trim().chars() {
            let c = match c {
                'á' | 'Á' | 'à' | 'ä' | 'â' | 'ã' => 'a',
                'é' | 'É' | 'è' | 'ë' | 'ê' | 'ẽ' => 'e',
                'í' | 'Í' | 'ì' | 'ï' | 'î' | 'ĩ' => 'i',
                'ó' | 'Ó' | 'ò' | 'ö' | 'ô' | 'õ' => 'o',
                'ú' | 'Ú' | 'ù' | 'ü' | 'û' | 'ũ' => 'u',
                'ñ' | 'Ñ' => 'n',
                'ỹ' | 'Ỹ' => 'y',
                c => c,
            };
            if c.is_whitespace() {
                space = true;
                continue;
            }
            if space && !out.is_empty() {
                out.push(' ');
            }
            space = false;
            out.extend(c.to_lowercase());
        }
        out
    }
}

/// An Entorno survey of a community (participatory, one per submission).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CommunitySurvey {
    pub submission_key: String,
    pub community_id: i64,
    pub survey_date: NaiveDate,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    /// Answers in the order of [`crate::schema::COMMUNITY_FIELDS`].
    pub answers: Vec<Value>,
    pub provenance: Provenance,
}

/// One record of an institution's administrative registry: a person and a service event.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AdminRecord {
    pub id: i64,
    /// Institution code (MEC, MSPBS, IPS, MDS, RC, …).
    pub institution: String,
    /// Idempotency key: the institution's record id, or a digest of the row's content.
    pub record_key: String,
    pub national_id: Option<NationalId>,
    /// The registered person the cédula matched, if any. Unmatched records are kept.
    pub person_id: Option<i64>,
    pub given_names: Option<String>,
    pub family_names: Option<String>,
    pub birth_date: Option<NaiveDate>,
    pub sex: Option<Sex>,
    pub district: Option<DistrictCode>,
    /// Service or event code as the institution names it (e.g. `matricula_escolar`).
    pub service: String,
    pub event_date: NaiveDate,
    pub detail: Option<String>,
    pub provenance: Provenance,
}

/// Registry counts for a territory.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RegistryCounts {
    pub persons: u64,
    pub households: u64,
    pub communities: u64,
    pub admin_records: u64,
    pub admin_records_unmatched: u64,
    /// How many of the households come from imports labelled synthetic (*sintético*).
    pub synthetic_households: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn community_name_key_folds_case_accents_and_spaces() {
        assert_eq!(
            Community::name_key("  Barrio  San José "),
            "barrio san jose"
        );
        assert_eq!(
            Community::name_key("COMPAÑÍA Ñu Guasú"),
            "compania nu guasu"
        );
    }

    #[test]
    fn sex_spellings() {
        assert_eq!(Sex::parse("F"), Some(Sex::Mujer));
        assert_eq!(Sex::parse("masculino"), Some(Sex::Hombre));
        assert_eq!(Sex::parse("x"), None);
    }
}

/// An answer as read back from the store, borrowed from the row being read (no allocation).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum AnswerRef<'a> {
    Null,
    Int(i64),
    Text(&'a str),
}

/// What the classification needs of a household, borrowed from the store's row.
#[derive(Debug, Clone, Copy)]
pub struct HouseholdRow<'a> {
    pub id: i64,
    pub district: DistrictCode,
    pub community_id: i64,
    pub area: Option<&'a str>,
    pub interview_date: NaiveDate,
    /// In the order of [`crate::schema::HOUSEHOLD_FIELDS`].
    pub answers: &'a [AnswerRef<'a>],
}

/// What the classification needs of a person (no names: they are not needed to classify).
#[derive(Debug, Clone, Copy)]
pub struct PersonRow<'a> {
    pub id: i64,
    pub household_id: i64,
    pub national_id: Option<NationalId>,
    pub birth_date: NaiveDate,
    pub sex: Sex,
    pub relationship: &'a str,
    /// In the order of [`crate::schema::PERSON_FIELDS`].
    pub answers: &'a [AnswerRef<'a>],
}

/// A community with its latest Entorno survey, if any.
#[derive(Debug, Clone, Copy)]
pub struct CommunityRow<'a> {
    pub id: i64,
    pub district: DistrictCode,
    pub area: Option<&'a str>,
    pub survey_date: Option<NaiveDate>,
    /// In the order of [`crate::schema::COMMUNITY_FIELDS`] (all null without a survey).
    pub answers: &'a [AnswerRef<'a>],
}

/// Evidence about one person: a matched administrative record or a counter-referral.
#[derive(Debug, Clone, Copy)]
pub struct AdminEventRow<'a> {
    pub person_id: i64,
    /// The channel and the institution.
    pub source: EvidenceSource<&'a str>,
    pub service: &'a str,
    pub event_date: NaiveDate,
}

/// Receives the registry as the store reads it, row by row, in this order: communities (by
/// id), households (by id), persons (by id), events (in no particular order:
/// sorting them is the sink's job, cheaper than an indexed walk). Implemented by the engine;
/// keeps the store ignorant of how the data are used and the engine ignorant of SQL.
pub trait RegistrySink {
    fn community(&mut self, row: &CommunityRow<'_>);
    fn household(&mut self, row: &HouseholdRow<'_>);
    fn person(&mut self, row: &PersonRow<'_>);
    fn admin_event(&mut self, row: &AdminEventRow<'_>);
}

/// A [`RegistrySink`] that can take persons and administrative events read on several
/// connections at once: each connection fills its own [`part`](PartitionedSink::part) with the
/// events or with a contiguous slice of person ids, and the parts are absorbed in order.
/// Persons and events must therefore not need the households or persons at the moment they
/// arrive (the sink links them when loading ends).
pub trait PartitionedSink: RegistrySink + Send + Sized {
    /// An empty sink for one part: a slice of the persons, or the events.
    fn part(&self) -> Self;
    /// Appends the persons and events of `part`; its persons' ids all follow those received
    /// so far.
    fn absorb(&mut self, part: Self);
}
