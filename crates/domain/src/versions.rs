//! Versions of registry units (issue 36): the registry keeps history instead of overwriting.
//!
//! Every household and person carries a version number and two times: when the version became
//! true (`valid_from`, the interview or event date — `None` on a unit's first registration,
//! which describes the unit since always) and when the registry learnt it (`recorded_at`, the
//! import's or the approval's time). [`pick`] says which version a classification at
//! (`as_of`, `known_at`) reads; it is the one rule every layer follows (the store's SQL renders
//! the same comparison, and a test holds them together).
//!
//! A correction (an error in the data) and a change (something that happened) differ only in
//! the `valid_from` they give the versions they write: see [`Effect`].

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::schema::{FieldSpec, Value, COMMUNITY_FIELDS, HOUSEHOLD_FIELDS, PERSON_FIELDS};
use crate::{CommunitySurvey, Household, Person};

/// Whether a unit is still part of the registry in a version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UnitStatus {
    /// In the registry (persons: a member of their household).
    Activo,
    /// A person who left the household (and is not known to be in another).
    Retirado,
    /// A person who died (the version's `valid_from` is the date of death).
    Fallecido,
    /// A household no longer existing as such (its members left, or it was split up).
    Disuelto,
    /// A duplicate registration merged into `merged_into`.
    Fusionado,
}

impl UnitStatus {
    pub const ALL: [UnitStatus; 5] = [
        UnitStatus::Activo,
        UnitStatus::Retirado,
        UnitStatus::Fallecido,
        UnitStatus::Disuelto,
        UnitStatus::Fusionado,
    ];

    /// The stored code.
    pub fn as_str(self) -> &'static str {
        match self {
            UnitStatus::Activo => "activo",
            UnitStatus::Retirado => "retirado",
            UnitStatus::Fallecido => "fallecido",
            UnitStatus::Disuelto => "disuelto",
            UnitStatus::Fusionado => "fusionado",
        }
    }

    /// The stored code back (`None` for anything else).
    pub fn parse(code: &str) -> Option<UnitStatus> {
        Self::ALL.into_iter().find(|s| s.as_str() == code)
    }

    /// The Spanish label a user reads.
    pub fn label(self) -> &'static str {
        match self {
            UnitStatus::Activo => "Activo",
            UnitStatus::Retirado => "Ya no integra el hogar",
            UnitStatus::Fallecido => "Fallecido",
            UnitStatus::Disuelto => "Hogar disuelto",
            UnitStatus::Fusionado => "Registro fusionado con otro",
        }
    }

    /// Whether a unit in this status is classified and counted.
    pub fn is_active(self) -> bool {
        self == UnitStatus::Activo
    }
}

/// The bitemporal description of one version of a household or person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VersionMeta {
    /// 1 for the first registration, then 2, 3, … in the order versions were written.
    pub version: i64,
    /// When this version became true; `None` for a first registration (true since always).
    pub valid_from: Option<NaiveDate>,
    /// When the registry learnt it: UTC, RFC 3339 to the second (`2026-12-07T14:03:00Z`), so
    /// that text order is time order.
    pub recorded_at: String,
    pub status: UnitStatus,
    /// For a [`UnitStatus::Fusionado`] version: the surviving unit.
    pub merged_into: Option<i64>,
    /// The change request that wrote this version (`None`: an import).
    pub change_id: Option<i64>,
}

impl VersionMeta {
    /// Whether this version may be read at (`as_of`, `known_at`): the registry had learnt it by
    /// `known_at` (always, when `None`) and it had become true by `as_of`.
    pub fn visible(&self, as_of: NaiveDate, known_at: Option<&str>) -> bool {
        known_at.is_none_or(|k| self.recorded_at.as_str() <= k)
            && self.valid_from.is_none_or(|d| d <= as_of)
    }
}

/// Parses the moment of a `--known-at` (what the registry had learnt by then): RFC 3339
/// (`2026-12-07T14:03:00Z`, any offset), `dd/mm/aaaa HH:MM` or `AAAA-MM-DD HH:MM` (UTC), or a
/// date alone (`dd/mm/aaaa`, `AAAA-MM-DD`: the end of that day, UTC — everything learnt that
/// day counts). The error is in Spanish, for the user.
pub fn parse_known_at(text: &str) -> Result<DateTime<Utc>, String> {
    let s = text.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    for f in ["%d/%m/%Y %H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, f) {
            return Ok(t.and_utc());
        }
    }
    for f in ["%d/%m/%Y", "%Y-%m-%d"] {
        if let Ok(d) = NaiveDate::parse_from_str(s, f) {
            if let Some(t) = d.and_hms_opt(23, 59, 59) {
                return Ok(t.and_utc());
            }
        }
    }
    Err(format!(
        "momento no válido: «{}»; use dd/mm/aaaa HH:MM, AAAA-MM-DD o AAAA-MM-DDTHH:MM:SSZ (hora UTC)",
        s.chars().take(40).collect::<String>()
    ))
}

/// How an edit is dated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "tipo", rename_all = "snake_case")]
pub enum Effect {
    /// The data were wrong: the corrected values hold from the date of the version they
    /// correct (each version carrying the wrong value is rewritten with its own `valid_from`).
    Correccion,
    /// Something happened on `desde`: the new values hold from that date; earlier versions stay
    /// as they were.
    Cambio { desde: NaiveDate },
}

/// Which of a unit's versions a reading at (`as_of`, `known_at`) sees: among the
/// [`visible`](VersionMeta::visible) ones, the latest `valid_from` (a first registration's
/// `None` is the earliest), ties to the latest `recorded_at`, then the highest version number.
/// `None` when no version is visible (the unit was not yet registered, or not yet born or
/// joined). The caller still checks the picked version's status.
pub fn pick<'a>(
    versions: impl IntoIterator<Item = &'a VersionMeta>,
    as_of: NaiveDate,
    known_at: Option<&str>,
) -> Option<&'a VersionMeta> {
    versions
        .into_iter()
        .filter(|v| v.visible(as_of, known_at))
        .max_by(|a, b| {
            a.valid_from
                .cmp(&b.valid_from)
                .then_with(|| a.recorded_at.cmp(&b.recorded_at))
                .then_with(|| a.version.cmp(&b.version))
        })
}

/// A stable digest of a unit's content (the fields a re-interview compares), the first 8
/// bytes of SHA-256 over a length-prefixed encoding of each part: equal content gives equal
/// digests on every machine and every build.
pub fn content_hash<'a>(parts: impl IntoIterator<Item = ContentPart<'a>>) -> i64 {
    let mut h = Sha256::new();
    for part in parts {
        match part {
            ContentPart::Null => h.update([0u8]),
            ContentPart::Int(n) => {
                h.update([1u8]);
                h.update(n.to_le_bytes());
            }
            ContentPart::Real(x) => {
                h.update([2u8]);
                h.update(x.to_bits().to_le_bytes());
            }
            ContentPart::Text(s) => {
                h.update([3u8]);
                h.update((s.len() as u64).to_le_bytes());
                h.update(s.as_bytes());
            }
            ContentPart::Date(d) => {
                h.update([4u8]);
                h.update(i64::from(d.num_days_from_ce()).to_le_bytes());
            }
        }
    }
    let d = h.finalize();
    let mut b = [0u8; 8];
    for (x, y) in b.iter_mut().zip(d.iter()) {
        *x = *y;
    }
    i64::from_le_bytes(b)
}

/// One part of the content [`content_hash`] digests.
#[derive(Debug, Clone, Copy)]
pub enum ContentPart<'a> {
    Null,
    Int(i64),
    Real(f64),
    Text(&'a str),
    Date(NaiveDate),
}

impl<'a> From<&'a Value> for ContentPart<'a> {
    fn from(v: &'a Value) -> Self {
        match v {
            Value::Null => ContentPart::Null,
            Value::Int(n) => ContentPart::Int(*n),
            Value::Text(s) => ContentPart::Text(s),
            Value::Code(s) => ContentPart::Text(s),
            Value::Date(d) => ContentPart::Date(*d),
        }
    }
}

impl<'a> From<Option<&'a str>> for ContentPart<'a> {
    fn from(v: Option<&'a str>) -> Self {
        v.map_or(ContentPart::Null, ContentPart::Text)
    }
}

/// The digest of what a household's version says (not where or when it was read): its place,
/// form and answers. Two interviews that found the same dwelling give the same digest.
pub fn household_hash(h: &crate::Household) -> i64 {
    let head = [
        ContentPart::Int(i64::from(h.district.get())),
        ContentPart::Int(h.community_id),
        h.area.as_deref().into(),
        h.address.as_deref().into(),
        h.latitude.map_or(ContentPart::Null, ContentPart::Real),
        h.longitude.map_or(ContentPart::Null, ContentPart::Real),
        ContentPart::Text(h.form.as_str()),
    ];
    content_hash(
        head.into_iter()
            .chain(h.answers.iter().map(ContentPart::from)),
    )
}

/// The digest of what a person's version says: identity, membership and answers.
pub fn person_hash(p: &crate::Person) -> i64 {
    let head = [
        ContentPart::Int(p.household_id),
        ContentPart::Text(&p.given_names),
        ContentPart::Text(&p.family_names),
        p.national_id
            .map_or(ContentPart::Null, |n| ContentPart::Int(i64::from(n.get()))),
        ContentPart::Date(p.birth_date),
        ContentPart::Text(p.sex.as_str()),
        ContentPart::Text(&p.relationship),
    ];
    content_hash(
        head.into_iter()
            .chain(p.answers.iter().map(ContentPart::from)),
    )
}

/// One field that differs between two versions, as the analyst reads it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldChange {
    /// The field as access policies name it (`national_id`, `household_address`, an answer).
    pub field: &'static str,
    /// The export column it comes from (`miembros-cedula`), shown in reports.
    pub label: String,
    pub before: String,
    pub after: String,
}

impl FieldChange {
    pub fn new(field: &'static str, label: &str, before: String, after: String) -> FieldChange {
        FieldChange {
            field,
            label: label.to_string(),
            before,
            after,
        }
    }
}

/// An answer as the analyst reads it (codes and numbers as stored, empty for no answer).
fn shown(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => String::new(),
        Some(Value::Int(n)) => n.to_string(),
        Some(Value::Text(s)) => s.clone(),
        Some(Value::Code(s)) => (*s).to_string(),
        Some(Value::Date(d)) => d.format("%d/%m/%Y").to_string(),
    }
}

fn column(f: &FieldSpec) -> String {
    if f.group.is_empty() {
        f.name.to_string()
    } else {
        format!("{}-{}", f.group, f.name)
    }
}

/// (field, before, after) for each field that differs.
fn answer_diff(fields: &[FieldSpec], old: &[Value], new: &[Value]) -> Vec<FieldChange> {
    fields
        .iter()
        .enumerate()
        .filter_map(|(i, f)| {
            let (a, b) = (shown(old.get(i)), shown(new.get(i)));
            (a != b).then(|| FieldChange::new(f.name, &column(f), a, b))
        })
        .collect()
}

fn opt(s: Option<&str>) -> String {
    s.unwrap_or_default().to_string()
}

/// What differs between two versions of a household, field by field (place, form, answers).
pub fn household_diff(old: &Household, new: &Household) -> Vec<FieldChange> {
    let mut d = Vec::new();
    let mut push = |f: &'static str, c: &str, a: String, b: String| {
        if a != b {
            d.push(FieldChange::new(f, c, a, b));
        }
    };
    push(
        "district_code",
        "ubicacion-distrito",
        old.district.label(),
        new.district.label(),
    );
    push(
        "community_id",
        "ubicacion-comunidad",
        old.community_id.to_string(),
        new.community_id.to_string(),
    );
    push(
        "area",
        "ubicacion-area",
        opt(old.area.as_deref()),
        opt(new.area.as_deref()),
    );
    push(
        "household_address",
        "ubicacion-direccion",
        opt(old.address.as_deref()),
        opt(new.address.as_deref()),
    );
    let gps = |h: &Household| match (h.latitude, h.longitude) {
        (Some(a), Some(o)) => format!("{a} {o}"),
        _ => String::new(),
    };
    push("household_address", "ubicacion-gps", gps(old), gps(new));
    push(
        "form",
        "formulario",
        old.form.as_str().into(),
        new.form.as_str().into(),
    );
    d.extend(answer_diff(HOUSEHOLD_FIELDS, &old.answers, &new.answers));
    d
}

/// What differs between two surveys of a community (its versions), field by field (place,
/// answers).
pub fn community_diff(old: &CommunitySurvey, new: &CommunitySurvey) -> Vec<FieldChange> {
    let gps = |s: &CommunitySurvey| match (s.latitude, s.longitude) {
        (Some(a), Some(o)) => format!("{a} {o}"),
        _ => String::new(),
    };
    let mut d = Vec::new();
    if gps(old) != gps(new) {
        d.push(FieldChange::new("gps", "gps", gps(old), gps(new)));
    }
    d.extend(answer_diff(COMMUNITY_FIELDS, &old.answers, &new.answers));
    d
}

/// What differs between two versions of a person, field by field (identity, answers).
pub fn person_diff(old: &Person, new: &Person) -> Vec<FieldChange> {
    let mut d = Vec::new();
    let mut push = |f: &'static str, c: &str, a: String, b: String| {
        if a != b {
            d.push(FieldChange::new(f, c, a, b));
        }
    };
    push(
        "given_names",
        "miembros-nombres",
        old.given_names.clone(),
        new.given_names.clone(),
    );
    push(
        "family_names",
        "miembros-apellidos",
        old.family_names.clone(),
        new.family_names.clone(),
    );
    let nid = |p: &Person| {
        p.national_id
            .map(|n| n.get().to_string())
            .unwrap_or_default()
    };
    push("national_id", "miembros-cedula", nid(old), nid(new));
    let birth = |p: &Person| p.birth_date.format("%d/%m/%Y").to_string();
    push(
        "birth_date",
        "miembros-fecha_nacimiento",
        birth(old),
        birth(new),
    );
    push(
        "sex",
        "miembros-sexo",
        old.sex.as_str().into(),
        new.sex.as_str().into(),
    );
    push(
        "relationship",
        "miembros-relacion_jefe",
        old.relationship.clone(),
        new.relationship.clone(),
    );
    d.extend(answer_diff(PERSON_FIELDS, &old.answers, &new.answers));
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn v(version: i64, from: Option<&str>, rec: &str) -> VersionMeta {
        VersionMeta {
            version,
            valid_from: from.map(d),
            recorded_at: rec.into(),
            status: UnitStatus::Activo,
            merged_into: None,
            change_id: None,
        }
    }

    #[test]
    fn pick_reads_the_first_registration_at_any_earlier_date() {
        let vs = [v(1, None, "2026-01-10T10:00:00Z")];
        assert_eq!(pick(&vs, d("1990-01-01"), None).unwrap().version, 1);
    }

    #[test]
    fn pick_follows_a_change_only_from_its_date() {
        let vs = [
            v(1, None, "2026-01-10T10:00:00Z"),
            v(2, Some("2026-07-01"), "2026-07-05T10:00:00Z"),
        ];
        assert_eq!(pick(&vs, d("2026-06-30"), None).unwrap().version, 1);
        assert_eq!(pick(&vs, d("2026-07-01"), None).unwrap().version, 2);
    }

    #[test]
    fn pick_at_known_at_ignores_what_was_learnt_later() {
        let vs = [
            v(1, None, "2026-01-10T10:00:00Z"),
            v(2, Some("2026-07-01"), "2026-07-05T10:00:00Z"),
        ];
        let before = Some("2026-07-04T23:59:59Z");
        assert_eq!(pick(&vs, d("2026-12-31"), before).unwrap().version, 1);
        assert!(pick(&vs, d("2026-12-31"), Some("2025-12-31T00:00:00Z")).is_none());
    }

    #[test]
    fn pick_prefers_a_correction_over_the_version_it_corrects() {
        // v3 corrects v2 (same valid_from, learnt later); v4 corrects v1.
        let vs = [
            v(1, None, "2026-01-10T10:00:00Z"),
            v(2, Some("2026-07-01"), "2026-07-05T10:00:00Z"),
            v(3, Some("2026-07-01"), "2026-08-01T10:00:00Z"),
            v(4, None, "2026-08-01T10:00:00Z"),
        ];
        assert_eq!(pick(&vs, d("2026-03-01"), None).unwrap().version, 4);
        assert_eq!(pick(&vs, d("2026-09-01"), None).unwrap().version, 3);
        let mid = Some("2026-07-31T00:00:00Z");
        assert_eq!(pick(&vs, d("2026-09-01"), mid).unwrap().version, 2);
        assert_eq!(pick(&vs, d("2026-03-01"), mid).unwrap().version, 1);
    }

    #[test]
    fn pick_sees_nobody_before_a_birth() {
        let vs = [v(1, Some("2026-09-15"), "2026-10-01T10:00:00Z")];
        assert!(pick(&vs, d("2026-09-14"), None).is_none());
        assert!(pick(&vs, d("2026-09-15"), None).is_some());
    }

    #[test]
    fn unit_status_codes_round_trip() {
        for s in UnitStatus::ALL {
            assert_eq!(UnitStatus::parse(s.as_str()), Some(s));
        }
        assert_eq!(UnitStatus::parse("otro"), None);
    }

    #[test]
    fn content_hash_tells_field_boundaries_apart() {
        let a = content_hash([ContentPart::Text("ab"), ContentPart::Text("c")]);
        let b = content_hash([ContentPart::Text("a"), ContentPart::Text("bc")]);
        assert_ne!(a, b);
        let n = content_hash([ContentPart::Null, ContentPart::Text("x")]);
        let e = content_hash([ContentPart::Text(""), ContentPart::Text("x")]);
        assert_ne!(n, e);
        assert_eq!(
            a,
            content_hash([ContentPart::Text("ab"), ContentPart::Text("c")])
        );
    }
}
