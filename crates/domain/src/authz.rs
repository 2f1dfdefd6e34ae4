//! Who may do what: the roles of VAMOS.md §2, the permissions they grant, the territorial scope
//! of an account and the person fields each kind of reader may see.
//!
//! The rule of least privilege is written here once, as data, so that the server enforces it
//! on every endpoint and the authorization tests can walk the whole matrix.
//! Architecture invariant: no HTTP and no SQL here — the server maps requests onto
//! [`Permission`]s and the store filters rows by the [`Scope`] it is given.

use crate::schema::PERSON_FIELDS;
use crate::territory::{DistrictCode, TerritoryCode};
use serde::Serialize;

/// An account's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Administrador UTGS: accounts, tokens, agreements, the audit trail; sees everything.
    Administrador,
    /// Analista UTGS (Coordinación de Información Social): the whole registry and its status.
    Analista,
    /// Coordinador territorial: follows territories through aggregated figures.
    Coordinador,
    /// Operador institucional: its institution's agreed fields in its territories.
    Operador,
    /// Miembro de Mesa de Protección Social: identification and status in its territories.
    Mesa,
    /// Coordinador de la Mesa: a Mesa member who also approves the endings of a case the
    /// system cannot verify (moved, deceased, refused, lost contact) — never their own.
    Supervisor,
    /// Encuestador: collects FIPS data in the field; no registry reading through the API.
    Encuestador,
    /// Orientador SPS: a person's status in its territories, to guide them.
    Orientador,
    /// The public: aggregated, suppressed figures and the catalogue only.
    Publico,
    /// Planificador (Mesa Técnica de Planificación Estratégica: UTGS, MH-DGP, STP): the
    /// strategic framework, targets, unit costs, budget and management agreements — aggregates,
    /// nothing personal.
    Planificador,
    /// Autoridad (Gabinete Social, ministers, governors): reads the plans, the figures, the
    /// budget and the agreements; edits nothing.
    Autoridad,
}

impl Role {
    pub const ALL: [Role; 11] = [
        Role::Administrador,
        Role::Analista,
        Role::Coordinador,
        Role::Operador,
        Role::Mesa,
        Role::Supervisor,
        Role::Encuestador,
        Role::Orientador,
        Role::Publico,
        Role::Planificador,
        Role::Autoridad,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Role::Administrador => "administrador",
            Role::Analista => "analista",
            Role::Coordinador => "coordinador",
            Role::Operador => "operador",
            Role::Mesa => "mesa",
            Role::Supervisor => "supervisor",
            Role::Encuestador => "encuestador",
            Role::Orientador => "orientador",
            Role::Publico => "publico",
            Role::Planificador => "planificador",
            Role::Autoridad => "autoridad",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.code() == s)
    }

    /// Spanish name shown to users.
    pub fn label(self) -> &'static str {
        match self {
            Role::Administrador => "Administrador UTGS",
            Role::Analista => "Analista UTGS",
            Role::Coordinador => "Coordinador territorial",
            Role::Operador => "Operador institucional",
            Role::Mesa => "Miembro de Mesa de Protección Social",
            Role::Supervisor => "Coordinador de Mesa de Protección Social",
            Role::Encuestador => "Encuestador",
            Role::Orientador => "Orientador SPS",
            Role::Publico => "Público",
            Role::Planificador => "Planificador (Mesa Técnica de Planificación)",
            Role::Autoridad => "Autoridad",
        }
    }

    /// The permissions the role grants.
    pub fn grants(self, p: Permission) -> bool {
        use Permission::*;
        // Finding a person comes with reading the registry, and is all the counter needs.
        if p == PersonsFind {
            return self == Role::Orientador || self.grants(RegistryRead);
        }
        match self {
            Role::Administrador => true,
            Role::Analista => matches!(
                p,
                RegistryRead
                    | StatusRead
                    | LogrosRead
                    | CatalogueRead
                    | Dci
                    | ReferralsRead
                    | ReferralsWork
                    | RegistryLoad
                    | MeasurementsPublish
                    | ChangesRequest
                    | ChangesApprove
                    | GrievancesLodge
                    | GrievancesWork
                    | CasesRead
                    | CasesOpen
                    | CasesWork
                    | CasesApprove
                    | OrientationsRecord
                    | TargetsSet
                    | PlansRead
                    | LinkageReview
                    | GovernanceRead
                    | GovernanceRecord
                    | ReportsPublish
                    | MicrodataRelease
            ),
            // Territorial coordinators take their territories through the six processes and
            // sit in their bodies; they read figures, never persons.
            Role::Coordinador => matches!(
                p,
                LogrosRead | CatalogueRead | GrievancesLodge | GovernanceRead | GovernanceRecord
            ),
            Role::Operador => matches!(
                p,
                RegistryRead
                    | StatusRead
                    | LogrosRead
                    | CatalogueRead
                    | Dci
                    | ReferralsRead
                    | ReferralsWork
                    | CounterReferralsWrite
                    | ChangesRequest
                    | GrievancesLodge
                    | GrievancesWork
                    | GovernanceRead
            ),
            Role::Mesa => matches!(
                p,
                RegistryRead
                    | StatusRead
                    | LogrosRead
                    | CatalogueRead
                    | ReferralsRead
                    | ChangesRequest
                    | GrievancesLodge
                    | GrievancesWork
                    | CasesRead
                    | CasesOpen
                    | CasesWork
                    | GovernanceRead
                    | GovernanceRecord
            ),
            Role::Supervisor => Role::Mesa.grants(p) || p == CasesApprove,
            Role::Encuestador => matches!(p, CatalogueRead | GrievancesLodge),
            // An orientador at the counter finds the person (by cédula or name, within its
            // territories, with the Mesa's fields: `PersonsFind`, above), sees their route and
            // records the orientation given — but lists no households or communities; it lodges
            // grievances on their behalf, but handling them (and reading the identification
            // they carry) is for those who can act on them.
            Role::Orientador => {
                matches!(
                    p,
                    StatusRead
                        | CatalogueRead
                        | ChangesRequest
                        | GrievancesLodge
                        | CasesOpen
                        | OrientationsRecord
                )
            }
            Role::Publico => matches!(p, CatalogueRead | GrievancesLodge),
            Role::Planificador => matches!(
                p,
                LogrosRead
                    | CatalogueRead
                    | GrievancesLodge
                    | TargetsSet
                    | PlansRead
                    | PlansEdit
                    | GovernanceRead
                    | GovernanceRecord
            ),
            Role::Autoridad => {
                matches!(
                    p,
                    LogrosRead | CatalogueRead | GrievancesLodge | PlansRead | GovernanceRead
                )
            }
        }
    }

    /// Roles whose personal-data access is national (no territory needed).
    pub fn is_national(self) -> bool {
        matches!(self, Role::Administrador | Role::Analista)
    }

    /// Roles that must be bound to territories when the account is created.
    pub fn needs_territory(self) -> bool {
        matches!(
            self,
            Role::Operador | Role::Mesa | Role::Supervisor | Role::Orientador
        )
    }

    /// Roles that must belong to an institution.
    pub fn needs_institution(self) -> bool {
        matches!(self, Role::Operador)
    }

    /// Whether an account of this role may hold `scope`: a role bound to territories may not
    /// reach the whole country, neither by leaving its territories empty nor by naming `PY`.
    pub fn admits_scope(self, scope: &Scope) -> bool {
        !(self.needs_territory() && scope.is_nationwide())
    }

    /// Which person fields the role may read (operators: their agreement decides).
    pub fn field_policy(self) -> FieldPolicy {
        match self {
            Role::Administrador | Role::Analista => FieldPolicy::All,
            Role::Mesa | Role::Supervisor | Role::Orientador => {
                FieldPolicy::Fields(MESA_FIELDS.to_vec())
            }
            Role::Operador => FieldPolicy::Agreement,
            Role::Coordinador
            | Role::Encuestador
            | Role::Publico
            | Role::Planificador
            | Role::Autoridad => FieldPolicy::None,
        }
    }
}

/// A permission an endpoint requires. API tokens carry a subset of their owner's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Permission {
    /// Persons, households, communities, search (personal data).
    RegistryRead,
    /// A unit's protection status and its explanation (personal data).
    StatusRead,
    /// Measurements and Logros without suppression (aggregates, internal).
    LogrosRead,
    /// The service catalogue.
    CatalogueRead,
    /// The audit trail.
    AuditRead,
    /// Accounts, tokens and agreements.
    UsersAdmin,
    /// The DCI Social Registry API.
    Dci,
    /// Referral reports (personal data): an operator its institution's, a Mesa its territory's.
    ReferralsRead,
    /// Working referrals: acknowledge, contact, reject; analysts also generate them.
    ReferralsWork,
    /// Sending counter-referrals (services delivered) for its institution.
    CounterReferralsWrite,
    /// Loading files into the registry and classifying it into a new measurement.
    RegistryLoad,
    /// The service's readiness (registry size, intake backlog, version) and its metrics.
    Monitoring,
    /// Publishing a measurement: its figures, frozen, become the public figures.
    MeasurementsPublish,
    /// Requesting a change to the registry (a change request, within its territories).
    ChangesRequest,
    /// Approving or rejecting change requests made by others.
    ChangesApprove,
    /// Lodging a grievance (*reclamo*) for oneself or on behalf of a person.
    GrievancesLodge,
    /// Handling grievances within scope: list, read, assign, comment, resolve.
    GrievancesWork,
    /// Canal Verde cases within scope: candidates, cases, their plans and timelines (personal
    /// data).
    CasesRead,
    /// Opening a case (an orientador at the counter, a community alert) without following it.
    CasesOpen,
    /// Following cases: open, assign, plan, record visits and notes, close once protection is
    /// verified, ask for another ending.
    CasesWork,
    /// Approving or refusing another person's request to end a case otherwise than protected.
    CasesApprove,
    /// Recording the orientation given to a person at the counter: evidence for ORIENTACIONES
    /// SPS, sent as the UTGS's counter-referral.
    OrientationsRecord,
    /// Finding a person by cédula or name and reading that person (personal data): what the
    /// counter needs, without listing households or communities (`RegistryRead`, which implies
    /// it).
    PersonsFind,
    /// Setting shared targets (a Logro's coverage for a territory and year) and costing them.
    TargetsSet,
    /// Reading the strategic framework, saved costing scenarios, the budget and the management
    /// agreements (aggregates, nothing personal).
    PlansRead,
    /// Editing them: plans and their indicators, scenarios, budget imports, management
    /// agreements.
    PlansEdit,
    /// Decide the record-linkage review queue: a registry record and an administrative record
    /// side by side (personal data of both), accepted as the same person or rejected.
    LinkageReview,
    /// Reading the bodies of the Modelo de Gestión, their meetings and agreements, the
    /// territorial rollout and the communities' priorities (no personal data of the registry:
    /// members are public servants in their role).
    GovernanceRead,
    /// Recording them within its territories: meetings, agreements and their status, the
    /// rollout's processes.
    GovernanceRecord,
    /// Writing the analysis of a follow-up report and publishing it.
    ReportsPublish,
    /// Releasing an anonymised microdata extract to an evaluator under a data-use agreement.
    MicrodataRelease,
}

impl Permission {
    pub const ALL: [Permission; 31] = [
        Permission::RegistryRead,
        Permission::StatusRead,
        Permission::LogrosRead,
        Permission::CatalogueRead,
        Permission::AuditRead,
        Permission::UsersAdmin,
        Permission::Dci,
        Permission::ReferralsRead,
        Permission::ReferralsWork,
        Permission::CounterReferralsWrite,
        Permission::RegistryLoad,
        Permission::Monitoring,
        Permission::MeasurementsPublish,
        Permission::ChangesRequest,
        Permission::ChangesApprove,
        Permission::GrievancesLodge,
        Permission::GrievancesWork,
        Permission::CasesRead,
        Permission::CasesOpen,
        Permission::CasesWork,
        Permission::CasesApprove,
        Permission::OrientationsRecord,
        Permission::PersonsFind,
        Permission::TargetsSet,
        Permission::PlansRead,
        Permission::PlansEdit,
        Permission::LinkageReview,
        Permission::GovernanceRead,
        Permission::GovernanceRecord,
        Permission::ReportsPublish,
        Permission::MicrodataRelease,
    ];

    /// Token scope name.
    pub fn code(self) -> &'static str {
        match self {
            Permission::RegistryRead => "registro:leer",
            Permission::StatusRead => "estatus:leer",
            Permission::LogrosRead => "logros:leer",
            Permission::CatalogueRead => "catalogo:leer",
            Permission::AuditRead => "auditoria:leer",
            Permission::UsersAdmin => "usuarios:administrar",
            Permission::Dci => "dci",
            Permission::ReferralsRead => "referencias:leer",
            Permission::ReferralsWork => "referencias:gestionar",
            Permission::CounterReferralsWrite => "contrarreferencias:enviar",
            Permission::RegistryLoad => "registro:cargar",
            Permission::Monitoring => "monitoreo:leer",
            Permission::MeasurementsPublish => "mediciones:publicar",
            Permission::ChangesRequest => "cambios:solicitar",
            Permission::ChangesApprove => "cambios:aprobar",
            Permission::GrievancesLodge => "reclamos:presentar",
            Permission::GrievancesWork => "reclamos:gestionar",
            Permission::CasesRead => "casos:leer",
            Permission::CasesOpen => "casos:abrir",
            Permission::CasesWork => "casos:gestionar",
            Permission::CasesApprove => "casos:aprobar",
            Permission::OrientationsRecord => "orientaciones:registrar",
            Permission::PersonsFind => "personas:buscar",
            Permission::TargetsSet => "metas:definir",
            Permission::PlansRead => "planes:leer",
            Permission::PlansEdit => "planes:editar",
            Permission::LinkageReview => "enlace:revisar",
            Permission::GovernanceRead => "gobernanza:leer",
            Permission::GovernanceRecord => "gobernanza:registrar",
            Permission::ReportsPublish => "informes:publicar",
            Permission::MicrodataRelease => "microdatos:liberar",
        }
    }

    pub fn parse(s: &str) -> Option<Permission> {
        Permission::ALL.into_iter().find(|p| p.code() == s)
    }

    /// Whether a credential limited to `scopes` may use `self`: listed, or implied by one that
    /// is (reading the registry includes finding a person).
    pub fn within(self, scopes: &[Permission]) -> bool {
        scopes.contains(&self)
            || (self == Permission::PersonsFind && scopes.contains(&Permission::RegistryRead))
    }

    pub fn label(self) -> &'static str {
        match self {
            Permission::RegistryRead => "leer el registro (datos personales)",
            Permission::StatusRead => "consultar el estatus de protección (datos personales)",
            Permission::LogrosRead => "consultar mediciones y Logros",
            Permission::CatalogueRead => "consultar el catálogo de servicios",
            Permission::AuditRead => "leer el registro de auditoría",
            Permission::UsersAdmin => "administrar cuentas, tokens y acuerdos",
            Permission::Dci => "usar la API DCI del Registro Social",
            Permission::ReferralsRead => "leer los reportes de referencias (datos personales)",
            Permission::ReferralsWork => {
                "gestionar referencias (recibir, contactar, rechazar, generar)"
            }
            Permission::CounterReferralsWrite => "enviar contra-referencias de servicios prestados",
            Permission::RegistryLoad => "cargar archivos al registro y clasificarlo",
            Permission::Monitoring => "consultar la preparación y las métricas del servicio",
            Permission::MeasurementsPublish => {
                "publicar una medición (sus cifras pasan a ser las cifras públicas)"
            }
            Permission::ChangesRequest => "solicitar cambios al registro (datos personales)",
            Permission::ChangesApprove => "aprobar o rechazar solicitudes de cambio de otros",
            Permission::GrievancesLodge => "presentar reclamos",
            Permission::GrievancesWork => {
                "gestionar reclamos (asignar, comentar, resolver) dentro de su ámbito"
            }
            Permission::CasesRead => "consultar casos de Canal Verde (datos personales)",
            Permission::CasesOpen => "abrir casos de Canal Verde y alertas comunitarias",
            Permission::CasesWork => {
                "gestionar casos de Canal Verde (asignar, planificar, registrar visitas, cerrar)"
            }
            Permission::CasesApprove => {
                "aprobar o rechazar el cierre de un caso pedido por otra persona"
            }
            Permission::OrientationsRecord => {
                "registrar la orientación dada a una persona (evidencia de ORIENTACIONES SPS)"
            }
            Permission::PersonsFind => {
                "buscar una persona por cédula o nombre y ver su página (datos personales)"
            }
            Permission::TargetsSet => {
                "definir las metas compartidas de los Logros por territorio y año"
            }
            Permission::PlansRead => {
                "consultar planes, escenarios de costeo, presupuesto y acuerdos de gestión"
            }
            Permission::PlansEdit => {
                "editar planes, escenarios de costeo, presupuesto y acuerdos de gestión"
            }
            Permission::LinkageReview => {
                "decidir los pares del enlace de registros en revisión (datos personales)"
            }
            Permission::GovernanceRead => {
                "consultar las instancias, sus reuniones y acuerdos, el despliegue territorial y las prioridades comunitarias"
            }
            Permission::GovernanceRecord => {
                "registrar reuniones, acuerdos y el avance del despliegue territorial en su ámbito"
            }
            Permission::ReportsPublish => {
                "redactar el análisis de un informe de seguimiento y publicarlo"
            }
            Permission::MicrodataRelease => {
                "entregar un extracto de microdatos anonimizados a un evaluador"
            }
        }
    }
}

/// Which person fields a reader sees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldPolicy {
    All,
    Fields(Vec<&'static str>),
    /// Whatever the institution's valid data-sharing agreements list.
    Agreement,
    None,
}

/// Identification and location: what a Mesa member or an orientador sees of a person
/// (`household_address`: the household's address and coordinates).
pub const MESA_FIELDS: &[&str] = &[
    "id",
    "household_id",
    "district_code",
    "given_names",
    "family_names",
    "national_id",
    "birth_date",
    "sex",
    "relationship",
    "household_address",
];

/// Sensitive classes the registry derives rather than stores as one answer: a reader sees that
/// a person belongs to one (a referral's populations, an explanation's rule) only when its
/// agreement lists the class like any other field. Pregnancy and indigenous identity are the
/// FIPS answers `embarazada` and `indigena`, which agreements already list by name.
pub const SENSITIVE_CLASSES: &[&str] = &["discapacidad", "pobreza"];

/// Every person field a data-sharing agreement may list: the registry's core columns, the
/// FIPS answers and the derived sensitive classes ([`SENSITIVE_CLASSES`]).
pub fn person_field_names() -> Vec<&'static str> {
    let mut v = MESA_FIELDS.to_vec();
    v.extend(PERSON_FIELDS.iter().map(|f| f.name));
    v.extend(SENSITIVE_CLASSES);
    v
}

/// The person field a reader must see to learn that a unit belongs to population of special
/// attention `population` (a breakdown key of the Logros): age for children and older adults,
/// sex for women, the class itself for the sensitive ones, the household's location for rural.
/// `None` for a population this table does not know: withheld from everyone with a field list.
pub fn population_field(population: &str) -> Option<&'static str> {
    Some(match population {
        "ninos" | "adultos_mayores" => "birth_date",
        "mujeres" => "sex",
        "discapacidad" => "discapacidad",
        "indigenas" => "indigena",
        "pobreza" => "pobreza",
        "rural" => "household_address",
        _ => return None,
    })
}

/// The person field a reader must see to read a catalogue rule that names variable `name` of
/// unit `unit` (`persona`, `hogar`, `comunidad`): a FIPS answer is its own field, the computed
/// ones the field they come from. `Ok(None)`: no person field is involved (the dwelling's and
/// the community's answers); `Err(())`: a variable this table does not know — withheld.
#[allow(clippy::result_unit_err)] // reason: the only failure is "unknown", there is nothing to say
pub fn rule_variable_field(unit: &str, name: &str) -> Result<Option<&'static str>, ()> {
    match unit {
        "persona" => {
            if let Some(f) = PERSON_FIELDS.iter().find(|f| f.name == name) {
                return Ok(Some(f.name));
            }
            Ok(Some(match name {
                "edad" | "edad_meses" => "birth_date",
                "sexo" => "sex",
                "relacion_jefe" => "relationship",
                "cedula_registrada" => "national_id",
                "discapacidad" => "discapacidad",
                _ => return Err(()),
            }))
        }
        "hogar" => Ok(match name {
            // Income per member and the poverty line's verdict are the poverty class; the
            // area is where the household lives.
            "ingreso_per_capita" | "pobre" => Some("pobreza"),
            "area" => Some("household_address"),
            _ => None,
        }),
        "comunidad" => Ok(None),
        _ => Err(()),
    }
}

/// The territories an account may see personal data of: `National`, or a list of departments
/// and districts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    National,
    Territories(Vec<TerritoryCode>),
}

impl Scope {
    /// Whether a unit in `district` is inside the scope.
    pub fn contains(&self, district: DistrictCode) -> bool {
        match self {
            Scope::National => true,
            Scope::Territories(ts) => ts.iter().any(|t| match t {
                TerritoryCode::Nation => true,
                TerritoryCode::Department(d) => district.department() == *d,
                TerritoryCode::District(x) => *x == district,
            }),
        }
    }

    /// Whether every unit of territory `t` is inside the scope.
    pub fn covers(&self, t: TerritoryCode) -> bool {
        match (self, t) {
            (Scope::National, _) => true,
            (Scope::Territories(_), TerritoryCode::District(d)) => self.contains(d),
            (Scope::Territories(ts), TerritoryCode::Department(d)) => ts.iter().any(|x| {
                matches!(x, TerritoryCode::Nation)
                    || matches!(x, TerritoryCode::Department(y) if *y == d)
            }),
            (Scope::Territories(ts), TerritoryCode::Nation) => ts.contains(&TerritoryCode::Nation),
        }
    }

    /// Whether the scope reaches every district: national, or a list that names the nation.
    pub fn is_nationwide(&self) -> bool {
        match self {
            Scope::National => true,
            Scope::Territories(ts) => ts.contains(&TerritoryCode::Nation),
        }
    }

    /// Inclusive district-number ranges the scope spans (`DDdd` numbers), for SQL filters.
    pub fn district_ranges(&self) -> Vec<(i64, i64)> {
        match self {
            Scope::National => vec![(0, i64::MAX)],
            Scope::Territories(ts) => ts
                .iter()
                .map(|t| match t {
                    TerritoryCode::Nation => (0, i64::MAX),
                    TerritoryCode::Department(d) => {
                        let base = i64::from(d.get()) * 100;
                        (base, base + 99)
                    }
                    TerritoryCode::District(x) => (i64::from(x.get()), i64::from(x.get())),
                })
                .collect(),
        }
    }

    /// Comma-separated codes (the stored form); empty for national.
    pub fn to_stored(&self) -> String {
        match self {
            Scope::National => String::new(),
            Scope::Territories(ts) => ts
                .iter()
                .map(|t| t.to_string())
                .collect::<Vec<_>>()
                .join(","),
        }
    }

    /// Parses the stored form; unknown codes are an error naming them.
    pub fn from_stored(s: &str) -> Result<Scope, String> {
        let parts: Vec<&str> = s
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .collect();
        if parts.is_empty() {
            return Ok(Scope::National);
        }
        let mut ts = Vec::new();
        for p in parts {
            ts.push(TerritoryCode::parse(p).map_err(|e| {
                format!("territorio «{}» no reconocido: {e}", crate::limits::echo(p))
            })?);
        }
        Ok(Scope::Territories(ts))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(n: u16) -> DistrictCode {
        DistrictCode::from_number(n).unwrap()
    }

    #[test]
    fn scopes_contain_their_districts_only() {
        let s = Scope::from_stored("11,0101").unwrap();
        assert!(s.contains(d(1116)));
        assert!(s.contains(d(101)));
        assert!(!s.contains(d(102)));
        assert!(!s.contains(d(1502)));
        assert!(s.covers(TerritoryCode::parse("11").unwrap()));
        assert!(!s.covers(TerritoryCode::parse("01").unwrap()));
        assert!(!s.covers(TerritoryCode::Nation));
        assert_eq!(s.district_ranges(), vec![(1100, 1199), (101, 101)]);
        assert_eq!(s.to_stored(), "11,0101");
        assert!(Scope::from_stored("99").is_err());
        assert_eq!(Scope::from_stored("").unwrap(), Scope::National);
    }

    #[test]
    fn an_operator_cannot_have_national_scope() {
        for stored in ["", "PY", "py", "1116,PY", " , "] {
            let s = Scope::from_stored(stored).unwrap();
            assert!(s.is_nationwide(), "{stored:?}");
            for r in [
                Role::Operador,
                Role::Mesa,
                Role::Supervisor,
                Role::Orientador,
            ] {
                assert!(!r.admits_scope(&s), "{r:?} {stored:?}");
            }
            assert!(Role::Analista.admits_scope(&s));
        }
        let villeta = Scope::from_stored("1116").unwrap();
        assert!(!villeta.is_nationwide());
        assert!(Role::Operador.admits_scope(&villeta));
    }

    #[test]
    fn governance_reports_and_microdata_follow_least_privilege() {
        for r in Role::ALL {
            // Releasing person-level extracts and publishing reports: the UTGS's analysts.
            assert_eq!(
                r.grants(Permission::MicrodataRelease),
                matches!(r, Role::Administrador | Role::Analista),
                "{r:?}"
            );
            assert_eq!(
                r.grants(Permission::ReportsPublish),
                matches!(r, Role::Administrador | Role::Analista),
                "{r:?}"
            );
            // Whoever records in a body reads them; the public, the surveyor and the counter
            // neither read nor record.
            if r.grants(Permission::GovernanceRecord) {
                assert!(r.grants(Permission::GovernanceRead), "{r:?}");
            }
            if matches!(r, Role::Publico | Role::Encuestador | Role::Orientador) {
                assert!(!r.grants(Permission::GovernanceRead), "{r:?}");
            }
        }
        // Authorities and operators read the bodies' work but record nothing in them.
        assert!(!Role::Autoridad.grants(Permission::GovernanceRecord));
        assert!(!Role::Operador.grants(Permission::GovernanceRecord));
    }

    #[test]
    fn least_privilege_in_the_role_table() {
        assert!(Role::Administrador.grants(Permission::AuditRead));
        assert!(!Role::Analista.grants(Permission::AuditRead));
        assert!(Role::Analista.grants(Permission::RegistryLoad));
        assert!(!Role::Operador.grants(Permission::RegistryLoad));
        assert!(!Role::Mesa.grants(Permission::RegistryLoad));
        assert!(!Role::Coordinador.grants(Permission::RegistryRead));
        assert!(!Role::Encuestador.grants(Permission::StatusRead));
        assert!(Role::Orientador.grants(Permission::StatusRead));
        // The orientador finds a person at the counter, but lists no households and reads no
        // institution's lists; whoever reads the registry also finds persons.
        assert!(Role::Orientador.grants(Permission::PersonsFind));
        assert!(!Role::Orientador.grants(Permission::RegistryRead));
        assert!(!Role::Orientador.grants(Permission::ReferralsRead));
        for r in Role::ALL {
            if r.grants(Permission::RegistryRead) {
                assert!(r.grants(Permission::PersonsFind), "{r:?}");
            }
        }
        assert!(Permission::PersonsFind.within(&[Permission::RegistryRead]));
        assert!(!Permission::RegistryRead.within(&[Permission::PersonsFind]));
        assert!(!Role::Publico.grants(Permission::LogrosRead));
        for r in Role::ALL {
            assert_eq!(
                r.grants(Permission::MeasurementsPublish),
                matches!(r, Role::Administrador | Role::Analista),
                "{r:?}"
            );
        }
        for r in Role::ALL {
            assert_eq!(
                r.grants(Permission::TargetsSet),
                matches!(r, Role::Administrador | Role::Analista | Role::Planificador),
                "{r:?}"
            );
            // Planners edit plans, budgets and agreements; authorities (and analysts) read them.
            assert_eq!(
                r.grants(Permission::PlansEdit),
                matches!(r, Role::Administrador | Role::Planificador),
                "{r:?}"
            );
            assert_eq!(
                r.grants(Permission::PlansRead),
                matches!(
                    r,
                    Role::Administrador | Role::Analista | Role::Planificador | Role::Autoridad
                ),
                "{r:?}"
            );
            // Neither reads a person.
            if matches!(r, Role::Planificador | Role::Autoridad) {
                assert_eq!(r.field_policy(), FieldPolicy::None);
                assert!(!r.grants(Permission::RegistryRead) && !r.grants(Permission::StatusRead));
            }
        }
        for r in Role::ALL {
            assert_eq!(
                r.grants(Permission::Monitoring),
                r == Role::Administrador,
                "{r:?}"
            );
        }
        for r in Role::ALL {
            assert_eq!(Role::parse(r.code()), Some(r));
            assert!(r.grants(Permission::CatalogueRead));
        }
        for p in Permission::ALL {
            assert_eq!(Permission::parse(p.code()), Some(p));
        }
        for r in Role::ALL {
            assert!(r.grants(Permission::GrievancesLodge), "{r:?}");
            assert_eq!(
                r.grants(Permission::GrievancesWork),
                matches!(
                    r,
                    Role::Administrador
                        | Role::Analista
                        | Role::Mesa
                        | Role::Supervisor
                        | Role::Operador
                ),
                "{r:?}"
            );
        }
        // Only a Mesa's coordinator (and the UTGS) approves an ending the system cannot verify.
        for r in Role::ALL {
            assert_eq!(
                r.grants(Permission::CasesApprove),
                matches!(r, Role::Administrador | Role::Analista | Role::Supervisor),
                "{r:?}"
            );
        }
        assert!(Role::Orientador.grants(Permission::CasesOpen));
        // Orientations are recorded by the orientador (and the UTGS), not by the institutions.
        for r in Role::ALL {
            assert_eq!(
                r.grants(Permission::OrientationsRecord),
                matches!(r, Role::Administrador | Role::Analista | Role::Orientador),
                "{r:?}"
            );
        }
        assert!(!Role::Orientador.grants(Permission::CasesWork));
        assert!(person_field_names().contains(&"embarazada"));
        assert!(person_field_names().contains(&"discapacidad"));
        assert!(person_field_names().contains(&"pobreza"));
    }

    #[test]
    fn every_population_and_rule_variable_names_the_field_that_reveals_it() {
        for p in [
            "ninos",
            "mujeres",
            "adultos_mayores",
            "discapacidad",
            "indigenas",
            "pobreza",
            "rural",
        ] {
            let f = population_field(p).unwrap();
            assert!(person_field_names().contains(&f), "{p} → {f}");
        }
        assert_eq!(population_field("nueva"), None);
        assert_eq!(rule_variable_field("persona", "sexo"), Ok(Some("sex")));
        assert_eq!(
            rule_variable_field("persona", "trabaja"),
            Ok(Some("trabaja"))
        );
        assert_eq!(rule_variable_field("hogar", "pobre"), Ok(Some("pobreza")));
        assert_eq!(rule_variable_field("hogar", "fuente_agua"), Ok(None));
        assert_eq!(rule_variable_field("persona", "nueva"), Err(()));
    }
}
