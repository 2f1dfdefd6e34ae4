//! Change requests (issue 36, item 3): the registry is edited only through a request that
//! another, named account approves (maker-checker).
//!
//! Each kind of request is a row of [`TYPES`] — who may ask for it, which documents it needs,
//! how many approvals by which role, how it may be dated — so that the rule is data, read by
//! every interface and walked by the tests, like the role table of [`crate::authz`].
//! [`plan`] is the heart of applying one: given every version of a unit and the new values of
//! some of its fields, it says which versions to write and how to date them (see
//! [`crate::versions::Effect`]). Architecture invariant: no SQL, no HTTP, no clock here.

use crate::authz::Role;
use crate::versions::{Effect, VersionMeta};
use chrono::NaiveDate;
use serde::Serialize;

/// The kinds of change request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeType {
    /// A person joins a household (a birth, someone who moved in).
    AgregarMiembro,
    /// A person leaves a household (and is not known to be in another).
    RetirarMiembro,
    /// A person moves to another registered household.
    TrasladarMiembro,
    /// Another member becomes the head of the household.
    CambiarJefe,
    /// The household moves (new district or community, new address).
    MudarHogar,
    /// A person's identification data (names, cédula, birth date, sex, relationship).
    CorregirPersona,
    /// A person died.
    MarcarFallecimiento,
    /// Some members form a new household of their own.
    DividirHogar,
    /// Two registrations of the same person: the duplicate is merged into the survivor.
    FusionarPersonas,
    /// Two registrations of the same household: the duplicate is merged into the survivor.
    FusionarHogares,
}

/// Which unit a request names first (the one it edits), as the store's units are called.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UnitKind {
    Persona,
    Hogar,
}

impl UnitKind {
    pub fn as_str(self) -> &'static str {
        match self {
            UnitKind::Persona => "persona",
            UnitKind::Hogar => "hogar",
        }
    }
}

/// How a request of a type may be dated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Dating {
    /// Only as a correction of an error.
    Correccion,
    /// Only as a change from a date.
    Cambio,
    /// Either; the requester says which.
    Cualquiera,
}

impl Dating {
    /// Whether `effect` is allowed.
    pub fn admits(self, effect: Effect) -> bool {
        matches!(
            (self, effect),
            (Dating::Cualquiera, _)
                | (Dating::Correccion, Effect::Correccion)
                | (Dating::Cambio, Effect::Cambio { .. })
        )
    }
}

/// A document kind a request may carry as an attachment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DocumentKind {
    /// Cédula de identidad (copy).
    Cedula,
    /// Certificado de nacimiento.
    CertificadoNacimiento,
    /// Certificado de defunción.
    CertificadoDefuncion,
    /// A signed statement of the household (declaración jurada) or a field visit report.
    Declaracion,
    /// Anything else (proof of address, a note of the Mesa).
    Otro,
}

impl DocumentKind {
    pub const ALL: [DocumentKind; 5] = [
        DocumentKind::Cedula,
        DocumentKind::CertificadoNacimiento,
        DocumentKind::CertificadoDefuncion,
        DocumentKind::Declaracion,
        DocumentKind::Otro,
    ];

    pub fn code(self) -> &'static str {
        match self {
            DocumentKind::Cedula => "cedula",
            DocumentKind::CertificadoNacimiento => "certificado_nacimiento",
            DocumentKind::CertificadoDefuncion => "certificado_defuncion",
            DocumentKind::Declaracion => "declaracion",
            DocumentKind::Otro => "otro",
        }
    }

    pub fn parse(s: &str) -> Option<DocumentKind> {
        Self::ALL.into_iter().find(|k| k.code() == s)
    }

    pub fn label(self) -> &'static str {
        match self {
            DocumentKind::Cedula => "copia de cédula de identidad",
            DocumentKind::CertificadoNacimiento => "certificado de nacimiento",
            DocumentKind::CertificadoDefuncion => "certificado de defunción",
            DocumentKind::Declaracion => "declaración jurada o informe de visita",
            DocumentKind::Otro => "otro documento",
        }
    }
}

/// One row of the table of request types.
#[derive(Debug, Clone, Serialize)]
pub struct TypeSpec {
    pub kind: ChangeType,
    /// The code used in the API, the command line and the database.
    pub code: &'static str,
    /// Spanish name shown to users.
    pub label: &'static str,
    /// The unit the request edits (its first unit id).
    pub unit: UnitKind,
    /// The other units it names, in order, after the first (e.g. the survivor of a merge).
    pub other_units: &'static [UnitKind],
    /// Whether it changes the structure of the registry (members move, units merge or split):
    /// no other request may be open on any of its units at the same time.
    pub structural: bool,
    /// Roles that may request it (besides the administrator, who may do everything).
    pub requesters: &'static [Role],
    /// One of these documents must be attached (empty: none needed).
    pub evidence: &'static [DocumentKind],
    /// How many distinct approvals it needs, each by an account of [`TypeSpec::approver`].
    pub approvals: u8,
    pub approver: Role,
    pub dating: Dating,
    /// The fields of the payload it takes (the request's new values).
    pub payload: &'static [&'static str],
}

const FIELD_STAFF: &[Role] = &[
    Role::Orientador,
    Role::Mesa,
    Role::Supervisor,
    Role::Operador,
    Role::Analista,
];
const MESA_UP: &[Role] = &[Role::Mesa, Role::Supervisor, Role::Analista];
const IDENTITY: &[&str] = &[
    "given_names",
    "family_names",
    "national_id",
    "birth_date",
    "sex",
    "relationship",
];

/// The request types: who may ask, what proves it, who approves, how it is dated.
/// Deaths need a certificate; structural edits (merges, splits) need two approvals.
pub const TYPES: &[TypeSpec] = &[
    TypeSpec {
        kind: ChangeType::AgregarMiembro,
        code: "agregar_miembro",
        label: "Agregar un miembro al hogar",
        unit: UnitKind::Hogar,
        other_units: &[],
        structural: false,
        requesters: FIELD_STAFF,
        evidence: &[DocumentKind::Cedula, DocumentKind::CertificadoNacimiento],
        approvals: 1,
        approver: Role::Analista,
        dating: Dating::Cualquiera,
        payload: IDENTITY,
    },
    TypeSpec {
        kind: ChangeType::RetirarMiembro,
        code: "retirar_miembro",
        label: "Retirar un miembro del hogar",
        unit: UnitKind::Persona,
        other_units: &[],
        structural: false,
        requesters: FIELD_STAFF,
        evidence: &[DocumentKind::Declaracion],
        approvals: 1,
        approver: Role::Analista,
        dating: Dating::Cambio,
        payload: &[],
    },
    TypeSpec {
        kind: ChangeType::TrasladarMiembro,
        code: "trasladar_miembro",
        label: "Trasladar un miembro a otro hogar",
        unit: UnitKind::Persona,
        other_units: &[UnitKind::Hogar],
        structural: true,
        requesters: FIELD_STAFF,
        evidence: &[DocumentKind::Declaracion],
        approvals: 1,
        approver: Role::Analista,
        dating: Dating::Cualquiera,
        payload: &["relationship"],
    },
    TypeSpec {
        kind: ChangeType::CambiarJefe,
        code: "cambiar_jefe",
        label: "Cambiar el jefe o la jefa del hogar",
        unit: UnitKind::Hogar,
        other_units: &[UnitKind::Persona],
        structural: false,
        requesters: FIELD_STAFF,
        evidence: &[DocumentKind::Declaracion],
        approvals: 1,
        approver: Role::Analista,
        dating: Dating::Cualquiera,
        payload: &["relacion_anterior"],
    },
    TypeSpec {
        kind: ChangeType::MudarHogar,
        code: "mudar_hogar",
        label: "Mudar el hogar (distrito, comunidad o dirección)",
        unit: UnitKind::Hogar,
        other_units: &[],
        structural: false,
        requesters: FIELD_STAFF,
        evidence: &[],
        approvals: 1,
        approver: Role::Analista,
        dating: Dating::Cualquiera,
        payload: &["district_code", "community_id", "area", "address"],
    },
    TypeSpec {
        kind: ChangeType::CorregirPersona,
        code: "corregir_persona",
        label: "Corregir los datos de una persona",
        unit: UnitKind::Persona,
        other_units: &[],
        structural: false,
        requesters: FIELD_STAFF,
        evidence: &[DocumentKind::Cedula, DocumentKind::CertificadoNacimiento],
        approvals: 1,
        approver: Role::Analista,
        dating: Dating::Cualquiera,
        payload: IDENTITY,
    },
    TypeSpec {
        kind: ChangeType::MarcarFallecimiento,
        code: "marcar_fallecimiento",
        label: "Registrar un fallecimiento",
        unit: UnitKind::Persona,
        other_units: &[],
        structural: false,
        requesters: FIELD_STAFF,
        evidence: &[DocumentKind::CertificadoDefuncion],
        approvals: 1,
        approver: Role::Analista,
        dating: Dating::Cambio,
        payload: &[],
    },
    TypeSpec {
        kind: ChangeType::DividirHogar,
        code: "dividir_hogar",
        label: "Dividir el hogar (algunos miembros forman uno nuevo)",
        unit: UnitKind::Hogar,
        other_units: &[],
        structural: true,
        requesters: MESA_UP,
        evidence: &[DocumentKind::Declaracion],
        approvals: 2,
        approver: Role::Analista,
        dating: Dating::Cambio,
        payload: &["members", "address"],
    },
    TypeSpec {
        kind: ChangeType::FusionarPersonas,
        code: "fusionar_personas",
        label: "Fusionar dos registros de la misma persona",
        unit: UnitKind::Persona,
        other_units: &[UnitKind::Persona],
        structural: true,
        requesters: MESA_UP,
        evidence: &[],
        approvals: 2,
        approver: Role::Analista,
        dating: Dating::Correccion,
        payload: &[],
    },
    TypeSpec {
        kind: ChangeType::FusionarHogares,
        code: "fusionar_hogares",
        label: "Fusionar dos registros del mismo hogar",
        unit: UnitKind::Hogar,
        other_units: &[UnitKind::Hogar],
        structural: true,
        requesters: MESA_UP,
        evidence: &[],
        approvals: 2,
        approver: Role::Analista,
        dating: Dating::Correccion,
        payload: &[],
    },
];

impl ChangeType {
    pub const ALL: [ChangeType; 10] = [
        ChangeType::AgregarMiembro,
        ChangeType::RetirarMiembro,
        ChangeType::TrasladarMiembro,
        ChangeType::CambiarJefe,
        ChangeType::MudarHogar,
        ChangeType::CorregirPersona,
        ChangeType::MarcarFallecimiento,
        ChangeType::DividirHogar,
        ChangeType::FusionarPersonas,
        ChangeType::FusionarHogares,
    ];

    /// Its row of [`TYPES`].
    // reason: TYPES is a non-empty constant listing every type (a test checks it), so the
    // fallback to its first row is never reached.
    #[allow(clippy::indexing_slicing)]
    pub fn spec(self) -> &'static TypeSpec {
        TYPES.iter().find(|t| t.kind == self).unwrap_or(&TYPES[0])
    }

    pub fn code(self) -> &'static str {
        self.spec().code
    }

    pub fn parse(s: &str) -> Option<ChangeType> {
        TYPES.iter().find(|t| t.code == s).map(|t| t.kind)
    }
}

impl TypeSpec {
    /// Whether an account of `role` may request this type (an administrator always may).
    pub fn may_request(&self, role: Role) -> bool {
        role == Role::Administrador || self.requesters.contains(&role)
    }

    /// Whether an account of `role` may approve or reject this type.
    pub fn may_approve(&self, role: Role) -> bool {
        role == Role::Administrador || role == self.approver
    }

    /// How many unit ids a request of this type names.
    pub fn unit_count(&self) -> usize {
        1 + self.other_units.len()
    }
}

/// The state of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeState {
    /// Waiting for approvals.
    Pendiente,
    /// Approved and written as new versions.
    Aplicada,
    /// Rejected with a reason.
    Rechazada,
}

impl ChangeState {
    pub const ALL: [ChangeState; 3] = [
        ChangeState::Pendiente,
        ChangeState::Aplicada,
        ChangeState::Rechazada,
    ];
    pub fn code(self) -> &'static str {
        match self {
            ChangeState::Pendiente => "pendiente",
            ChangeState::Aplicada => "aplicada",
            ChangeState::Rechazada => "rechazada",
        }
    }
    pub fn parse(s: &str) -> Option<ChangeState> {
        Self::ALL.into_iter().find(|k| k.code() == s)
    }
}

/// One version [`plan`] writes.
#[derive(Debug, Clone, PartialEq)]
pub struct Planned<T> {
    /// The version number it gets (unique for the unit; the current one gets the highest).
    pub version: i64,
    /// The version it rewrites or follows (its values are the "before" of a preview).
    pub base: i64,
    pub valid_from: Option<NaiveDate>,
    /// The full field values of the new version.
    pub values: Vec<T>,
    /// Whether it becomes the unit's current version (else it is history only).
    pub current: bool,
}

/// Why [`plan`] cannot date an edit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlanError {
    /// The unit has no version.
    NoVersions,
    /// A change dated before the unit existed (its first version is dated later).
    BeforeFirst(NaiveDate),
    /// The edit changes nothing.
    NothingChanges,
    /// An edit names a field the versions do not have (a programming error upstream).
    NoSuchField(usize),
}

impl std::fmt::Display for PlanError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PlanError::NoVersions => write!(f, "la unidad no tiene versiones"),
            PlanError::NoSuchField(i) => write!(f, "el campo {i} no existe en la unidad"),
            PlanError::BeforeFirst(d) => write!(
                f,
                "la fecha {} es anterior al primer registro de la unidad",
                d.format("%d/%m/%Y")
            ),
            PlanError::NothingChanges => {
                write!(f, "los valores nuevos son iguales a los registrados")
            }
        }
    }
}

/// The versions "as known now": for each `valid_from`, the one [`crate::versions::pick`]
/// would read (latest `recorded_at`, then highest version), in `valid_from` order.
fn effective<T>(versions: &[(VersionMeta, Vec<T>)]) -> Vec<&(VersionMeta, Vec<T>)> {
    let mut by_date: Vec<&(VersionMeta, Vec<T>)> = Vec::new();
    for v in versions {
        match by_date
            .iter_mut()
            .find(|w| w.0.valid_from == v.0.valid_from)
        {
            Some(w) => {
                if (v.0.recorded_at.as_str(), v.0.version) > (w.0.recorded_at.as_str(), w.0.version)
                {
                    *w = v;
                }
            }
            None => by_date.push(v),
        }
    }
    by_date.sort_by_key(|a| a.0.valid_from);
    by_date
}

/// Which versions an edit of a unit writes. `versions` are all of the unit's versions (any
/// order) with their field values; `edits` the new value of some fields (by index).
///
/// - [`Effect::Correccion`]: the values were wrong. Every version as known now whose value of
///   an edited field equals the wrong one (the value the latest version holds) is rewritten
///   with the right value and its own `valid_from`; versions that held another value (say the
///   address before a move) are left alone.
/// - [`Effect::Cambio`] from `D`: a new version dated `D`, based on the version read at `D`;
///   later versions are rewritten only for the fields they did not change themselves (a later
///   version that changed the field keeps its own value, and so do those after it).
///
/// The rewritten versions get new numbers above every existing one; the one that is read
/// today (latest `valid_from`) is `current` and gets the highest number.
// reason: every index is checked against every version's fields on entry.
#[allow(clippy::indexing_slicing)]
pub fn plan<T: Clone + PartialEq>(
    versions: &[(VersionMeta, Vec<T>)],
    edits: &[(usize, T)],
    effect: Effect,
) -> Result<Vec<Planned<T>>, PlanError> {
    if let Some((i, _)) = edits
        .iter()
        .find(|(i, _)| versions.iter().any(|v| *i >= v.1.len()))
    {
        return Err(PlanError::NoSuchField(*i));
    }
    let eff = effective(versions);
    let latest = *eff.last().ok_or(PlanError::NoVersions)?;
    let mut out: Vec<Planned<T>> = Vec::new();
    match effect {
        Effect::Correccion => {
            for v in &eff {
                let mut values = v.1.clone();
                let mut changed = false;
                for (i, new) in edits {
                    let wrong = &latest.1[*i];
                    if &values[*i] == wrong && &values[*i] != new {
                        values[*i] = new.clone();
                        changed = true;
                    }
                }
                if changed {
                    out.push(Planned {
                        version: 0,
                        base: v.0.version,
                        valid_from: v.0.valid_from,
                        values,
                        current: std::ptr::eq(*v, latest),
                    });
                }
            }
        }
        Effect::Cambio { desde } => {
            let at = eff
                .iter()
                .rposition(|v| v.0.valid_from.is_none_or(|f| f <= desde))
                .ok_or(PlanError::BeforeFirst(desde))?;
            let base = eff[at];
            let mut values = base.1.clone();
            for (i, new) in edits {
                values[*i] = new.clone();
            }
            if values != base.1 {
                out.push(Planned {
                    version: 0,
                    base: base.0.version,
                    valid_from: Some(desde),
                    values,
                    current: at + 1 == eff.len(),
                });
            }
            // Carry each edit forward while later versions kept the value they inherited.
            let mut carry: Vec<Option<&T>> = edits.iter().map(|(_, n)| Some(n)).collect();
            let mut prev = &base.1;
            for (k, v) in eff.iter().enumerate().skip(at + 1) {
                let mut values = v.1.clone();
                for (j, (i, _)) in edits.iter().enumerate() {
                    match carry[j] {
                        Some(new) if v.1[*i] == prev[*i] => values[*i] = new.clone(),
                        _ => carry[j] = None,
                    }
                }
                if values != v.1 {
                    out.push(Planned {
                        version: 0,
                        base: v.0.version,
                        valid_from: v.0.valid_from,
                        values,
                        current: k + 1 == eff.len(),
                    });
                }
                prev = &v.1;
            }
        }
    }
    if out.is_empty() {
        return Err(PlanError::NothingChanges);
    }
    // Numbers: history rows first, the current one last (highest).
    let first = versions.iter().map(|v| v.0.version).max().unwrap_or(0) + 1;
    out.sort_by_key(|p| p.current);
    for (next, p) in (first..).zip(out.iter_mut()) {
        p.version = next;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::versions::{pick, UnitStatus};

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn v(
        version: i64,
        from: Option<&str>,
        rec: &str,
        vals: &[&'static str],
    ) -> (VersionMeta, Vec<&'static str>) {
        (
            VersionMeta {
                version,
                valid_from: from.map(d),
                recorded_at: rec.into(),
                status: UnitStatus::Activo,
                merged_into: None,
                change_id: None,
            },
            vals.to_vec(),
        )
    }

    /// Field 0: name; field 1: address.
    fn history() -> Vec<(VersionMeta, Vec<&'static str>)> {
        vec![
            v(1, None, "2026-01-01T00:00:00Z", &["Ana", "Calle 1"]),
            v(
                2,
                Some("2026-03-01"),
                "2026-03-05T00:00:00Z",
                &["Ana", "Calle 2"],
            ),
        ]
    }

    /// Applies a plan to the history (as the store does) and reads field `i` at `as_of`.
    fn read(
        mut vs: Vec<(VersionMeta, Vec<&'static str>)>,
        planned: &[Planned<&'static str>],
        as_of: &str,
        i: usize,
    ) -> &'static str {
        for p in planned {
            vs.push(v(p.version, None, "2026-09-01T00:00:00Z", &p.values));
            vs.last_mut().unwrap().0.valid_from = p.valid_from;
        }
        let metas: Vec<VersionMeta> = vs.iter().map(|x| x.0.clone()).collect();
        let m = pick(&metas, d(as_of), None).unwrap();
        vs.iter().find(|x| x.0.version == m.version).unwrap().1[i]
    }

    #[test]
    fn a_correction_rewrites_every_version_carrying_the_wrong_value() {
        let p = plan(&history(), &[(0, "Ana María")], Effect::Correccion).unwrap();
        assert_eq!(p.len(), 2);
        assert_eq!(
            (p[0].valid_from, p[0].current, p[0].version),
            (None, false, 3)
        );
        assert_eq!(
            (p[1].valid_from, p[1].current, p[1].version),
            (Some(d("2026-03-01")), true, 4)
        );
        assert_eq!(read(history(), &p, "2025-01-01", 0), "Ana María");
        assert_eq!(read(history(), &p, "2026-06-01", 0), "Ana María");
        // Other fields keep each version's own value.
        assert_eq!(read(history(), &p, "2025-01-01", 1), "Calle 1");
    }

    #[test]
    fn a_correction_leaves_versions_that_held_another_value() {
        let p = plan(&history(), &[(1, "Calle 2 c/ 3")], Effect::Correccion).unwrap();
        assert_eq!(p.len(), 1);
        assert!(p[0].current);
        assert_eq!(p[0].base, 2);
        assert_eq!(read(history(), &p, "2025-01-01", 1), "Calle 1");
        assert_eq!(read(history(), &p, "2026-04-01", 1), "Calle 2 c/ 3");
    }

    #[test]
    fn a_correction_reads_versions_as_known_now() {
        // v3 already corrected v1's name: the wrong value lives only in v2 now.
        let mut h = history();
        h.push(v(3, None, "2026-04-01T00:00:00Z", &["Anna", "Calle 1"]));
        let p = plan(&h, &[(0, "Ana Sofía")], Effect::Correccion).unwrap();
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].base, 2);
        assert_eq!(p[0].version, 4);
    }

    #[test]
    fn a_change_after_the_latest_version_becomes_current() {
        let p = plan(
            &history(),
            &[(1, "Calle 3")],
            Effect::Cambio {
                desde: d("2026-08-01"),
            },
        )
        .unwrap();
        assert_eq!(p.len(), 1);
        assert_eq!((p[0].base, p[0].current, p[0].version), (2, true, 3));
        assert_eq!(read(history(), &p, "2026-07-31", 1), "Calle 2");
        assert_eq!(read(history(), &p, "2026-08-01", 1), "Calle 3");
    }

    #[test]
    fn a_change_in_the_past_rewrites_later_versions_that_did_not_change_the_field() {
        // The name changed on 2026-02-01; v2 (a move on 2026-03-01) did not touch the name.
        let p = plan(
            &history(),
            &[(0, "Ana B.")],
            Effect::Cambio {
                desde: d("2026-02-01"),
            },
        )
        .unwrap();
        assert_eq!(p.len(), 2);
        assert_eq!(
            (p[0].valid_from, p[0].current),
            (Some(d("2026-02-01")), false)
        );
        assert_eq!(p[0].base, 1);
        assert_eq!((p[1].base, p[1].current), (2, true));
        assert_eq!(p[1].values, vec!["Ana B.", "Calle 2"]);
        assert_eq!(read(history(), &p, "2026-01-31", 0), "Ana");
        assert_eq!(read(history(), &p, "2026-02-15", 0), "Ana B.");
        assert_eq!(read(history(), &p, "2026-02-15", 1), "Calle 1");
        assert_eq!(read(history(), &p, "2026-05-01", 0), "Ana B.");
    }

    #[test]
    fn a_change_in_the_past_keeps_what_a_later_version_changed_itself() {
        // The address changed on 2026-02-01 to Calle 1b; v2 moved to Calle 2 itself.
        let p = plan(
            &history(),
            &[(1, "Calle 1b")],
            Effect::Cambio {
                desde: d("2026-02-01"),
            },
        )
        .unwrap();
        assert_eq!(p.len(), 1);
        assert!(!p[0].current);
        assert_eq!(read(history(), &p, "2026-02-15", 1), "Calle 1b");
        assert_eq!(read(history(), &p, "2026-05-01", 1), "Calle 2");
    }

    #[test]
    fn a_change_stops_carrying_after_a_version_that_changed_the_field() {
        let mut h = history();
        h.push(v(
            3,
            Some("2026-05-01"),
            "2026-05-02T00:00:00Z",
            &["Ana", "Calle 2"],
        ));
        // v2 changed the address, so v3 (which kept v2's) is not rewritten either.
        let p = plan(
            &h,
            &[(1, "Calle 1b")],
            Effect::Cambio {
                desde: d("2026-02-01"),
            },
        )
        .unwrap();
        assert_eq!(p.len(), 1);
        assert_eq!(read(h, &p, "2026-06-01", 1), "Calle 2");
    }

    #[test]
    fn a_change_on_the_date_of_a_version_supersedes_it() {
        let p = plan(
            &history(),
            &[(1, "Calle 9")],
            Effect::Cambio {
                desde: d("2026-03-01"),
            },
        )
        .unwrap();
        assert_eq!(p.len(), 1);
        assert!(p[0].current);
        assert_eq!(read(history(), &p, "2026-03-01", 1), "Calle 9");
    }

    #[test]
    fn a_change_before_the_unit_existed_is_refused() {
        let h = vec![v(
            1,
            Some("2026-05-01"),
            "2026-05-02T00:00:00Z",
            &["Bebé", "X"],
        )];
        assert_eq!(
            plan(
                &h,
                &[(0, "B")],
                Effect::Cambio {
                    desde: d("2026-04-01")
                }
            ),
            Err(PlanError::BeforeFirst(d("2026-04-01")))
        );
    }

    #[test]
    fn an_edit_that_changes_nothing_is_refused() {
        assert_eq!(
            plan(&history(), &[(0, "Ana")], Effect::Correccion),
            Err(PlanError::NothingChanges)
        );
        assert_eq!(
            plan(&[], &[(0, "Ana")], Effect::Correccion),
            Err(PlanError::NoVersions)
        );
    }

    #[test]
    fn planned_version_numbers_are_new_and_the_current_is_highest() {
        let p = plan(&history(), &[(0, "Z")], Effect::Correccion).unwrap();
        let nums: Vec<i64> = p.iter().map(|x| x.version).collect();
        assert_eq!(nums, vec![3, 4]);
        assert!(p.last().unwrap().current);
    }

    #[test]
    fn every_type_has_one_row_with_a_unique_code() {
        for t in ChangeType::ALL {
            assert_eq!(ChangeType::parse(t.code()), Some(t));
        }
        assert_eq!(TYPES.len(), ChangeType::ALL.len());
    }

    #[test]
    fn a_death_needs_a_certificate_and_is_a_change() {
        let s = ChangeType::MarcarFallecimiento.spec();
        assert_eq!(s.evidence, &[DocumentKind::CertificadoDefuncion]);
        assert!(!s.dating.admits(Effect::Correccion));
    }

    #[test]
    fn analysts_approve_and_field_roles_do_not() {
        for t in TYPES {
            assert!(t.may_approve(Role::Analista));
            for r in [Role::Orientador, Role::Mesa, Role::Operador, Role::Publico] {
                assert!(!t.may_approve(r), "{} {:?}", t.code, r);
            }
            assert!(!t.may_request(Role::Publico));
            assert!(!t.may_request(Role::Coordinador));
        }
    }
}
