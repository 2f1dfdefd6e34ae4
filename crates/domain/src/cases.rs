//! Canal Verde cases (issue 37): the vocabulary of case management — what a case follows (a
//! person, a household or a community), how urgent it is, where it stands, how it ended and
//! where it came from — and the rule that only a classification can close a case as
//! *protegido* while every other ending needs a second person.

use serde::Serialize;

/// The kind of unit a case follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UnitKind {
    Persona,
    Hogar,
    Comunidad,
}

impl UnitKind {
    pub const ALL: [UnitKind; 3] = [UnitKind::Persona, UnitKind::Hogar, UnitKind::Comunidad];

    /// The stored code, the same as a referral's `unit_kind`.
    pub fn code(self) -> &'static str {
        match self {
            UnitKind::Persona => "persona",
            UnitKind::Hogar => "hogar",
            UnitKind::Comunidad => "comunidad",
        }
    }

    pub fn parse(s: &str) -> Option<UnitKind> {
        UnitKind::ALL.into_iter().find(|k| k.code() == s)
    }

    /// The populations of special attention a criterion on this kind of unit may name: a
    /// person's own; a household's, its members' and its own; a community's.
    pub fn populations(self) -> &'static [&'static str] {
        match self {
            UnitKind::Persona => &PERSON_POPULATIONS,
            UnitKind::Hogar => &HOUSEHOLD_POPULATIONS,
            UnitKind::Comunidad => &["rural"],
        }
    }
}

const PERSON_POPULATIONS: [&str; 6] = [
    "ninos",
    "mujeres",
    "adultos_mayores",
    "discapacidad",
    "indigenas",
    "pobreza",
];
const HOUSEHOLD_POPULATIONS: [&str; 7] = [
    "ninos",
    "mujeres",
    "adultos_mayores",
    "discapacidad",
    "indigenas",
    "pobreza",
    "rural",
];

/// How urgent a candidate or a case is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    Baja,
    Media,
    Alta,
}

impl Priority {
    pub const ALL: [Priority; 3] = [Priority::Alta, Priority::Media, Priority::Baja];

    pub fn code(self) -> &'static str {
        match self {
            Priority::Alta => "alta",
            Priority::Media => "media",
            Priority::Baja => "baja",
        }
    }

    pub fn parse(s: &str) -> Option<Priority> {
        Priority::ALL.into_iter().find(|p| p.code() == s)
    }

    pub fn label(self) -> &'static str {
        match self {
            Priority::Alta => "Alta",
            Priority::Media => "Media",
            Priority::Baja => "Baja",
        }
    }
}

/// Where a case stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CaseStatus {
    /// Opened, no one responsible yet.
    Abierto,
    /// Assigned: the plan is being followed.
    EnSeguimiento,
    /// Every task of the plan is done or its service proven: the Mesa may close it.
    PlanCompleto,
    /// Another ending was asked for and waits for a supervisor's approval.
    CierrePendiente,
    Cerrado,
}

impl CaseStatus {
    pub const ALL: [CaseStatus; 5] = [
        CaseStatus::Abierto,
        CaseStatus::EnSeguimiento,
        CaseStatus::PlanCompleto,
        CaseStatus::CierrePendiente,
        CaseStatus::Cerrado,
    ];

    pub fn code(self) -> &'static str {
        match self {
            CaseStatus::Abierto => "abierto",
            CaseStatus::EnSeguimiento => "en_seguimiento",
            CaseStatus::PlanCompleto => "plan_completo",
            CaseStatus::CierrePendiente => "cierre_pendiente",
            CaseStatus::Cerrado => "cerrado",
        }
    }

    pub fn parse(s: &str) -> Option<CaseStatus> {
        CaseStatus::ALL.into_iter().find(|x| x.code() == s)
    }

    pub fn label(self) -> &'static str {
        match self {
            CaseStatus::Abierto => "Abierto, sin responsable",
            CaseStatus::EnSeguimiento => "En seguimiento",
            CaseStatus::PlanCompleto => "Plan completo: se puede cerrar",
            CaseStatus::CierrePendiente => "Cierre pendiente de aprobación",
            CaseStatus::Cerrado => "Cerrado",
        }
    }

    pub fn is_open(self) -> bool {
        self != CaseStatus::Cerrado
    }
}

/// How a case ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Ending {
    /// Every planned service proven by a classification at the closing date.
    Protegido,
    Mudanza,
    Fallecimiento,
    Rechazo,
    SinContacto,
}

impl Ending {
    pub const ALL: [Ending; 5] = [
        Ending::Protegido,
        Ending::Mudanza,
        Ending::Fallecimiento,
        Ending::Rechazo,
        Ending::SinContacto,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Ending::Protegido => "protegido",
            Ending::Mudanza => "mudanza",
            Ending::Fallecimiento => "fallecimiento",
            Ending::Rechazo => "rechazo",
            Ending::SinContacto => "sin_contacto",
        }
    }

    pub fn parse(s: &str) -> Option<Ending> {
        Ending::ALL.into_iter().find(|x| x.code() == s)
    }

    pub fn label(self) -> &'static str {
        match self {
            Ending::Protegido => "Protección verificada",
            Ending::Mudanza => "Se mudó fuera del distrito",
            Ending::Fallecimiento => "Falleció",
            Ending::Rechazo => "No aceptó el acompañamiento",
            Ending::SinContacto => "Sin contacto",
        }
    }

    /// Whether this ending needs a reason and a second person's approval (every ending the
    /// system cannot verify itself).
    pub fn needs_approval(self) -> bool {
        self != Ending::Protegido
    }
}

/// Where a case came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// A candidate flagged from the latest measurement.
    Candidato,
    /// A referral of the institutions' inbox.
    Referencia,
    /// A decision of the Mesa.
    Mesa,
    /// An alert from the community.
    AlertaComunitaria,
    /// An orientador at the counter.
    Orientacion,
    /// A grievance.
    Reclamo,
}

impl Origin {
    pub const ALL: [Origin; 6] = [
        Origin::Candidato,
        Origin::Referencia,
        Origin::Mesa,
        Origin::AlertaComunitaria,
        Origin::Orientacion,
        Origin::Reclamo,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Origin::Candidato => "candidato",
            Origin::Referencia => "referencia",
            Origin::Mesa => "mesa",
            Origin::AlertaComunitaria => "alerta_comunitaria",
            Origin::Orientacion => "orientacion",
            Origin::Reclamo => "reclamo",
        }
    }

    pub fn parse(s: &str) -> Option<Origin> {
        Origin::ALL.into_iter().find(|x| x.code() == s)
    }

    pub fn label(self) -> &'static str {
        match self {
            Origin::Candidato => "Candidata de la medición",
            Origin::Referencia => "Referencia",
            Origin::Mesa => "Decisión de la Mesa",
            Origin::AlertaComunitaria => "Alerta comunitaria",
            Origin::Orientacion => "Orientación",
            Origin::Reclamo => "Reclamo",
        }
    }
}

/// Where one task of a plan stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskStatus {
    Pendiente,
    /// A protocol step marked done, or a service the institution reported delivered (a
    /// counter-referral) — not yet proven by a classification.
    Hecha,
    /// The service is `protegido` in a classification of the unit.
    Verificada,
}

impl TaskStatus {
    pub fn code(self) -> &'static str {
        match self {
            TaskStatus::Pendiente => "pendiente",
            TaskStatus::Hecha => "hecha",
            TaskStatus::Verificada => "verificada",
        }
    }

    pub fn parse(s: &str) -> Option<TaskStatus> {
        [
            TaskStatus::Pendiente,
            TaskStatus::Hecha,
            TaskStatus::Verificada,
        ]
        .into_iter()
        .find(|x| x.code() == s)
    }

    pub fn label(self) -> &'static str {
        match self {
            TaskStatus::Pendiente => "Pendiente",
            TaskStatus::Hecha => "Hecha",
            TaskStatus::Verificada => "Protección verificada",
        }
    }
}

/// The Spanish label of a step of a case's timeline (its `kind`); an unknown one as it is.
pub fn event_label(kind: &str) -> &str {
    match kind {
        "abierto" => "Caso abierto",
        "asignado" => "Asignado",
        "paso_cumplido" => "Paso de protocolo cumplido",
        "barrera" => "Barrera de acceso",
        "verificacion" => "Verificación del plan",
        "cierre_pedido" => "Cierre pedido",
        "cierre_aprobado" => "Cierre aprobado",
        "cierre_rechazado" => "Cierre rechazado",
        "cerrado" => "Cerrado con protección verificada",
        "reabierto" => "Reabierto",
        "ofrecido" => "Ofrecido a la Mesa de otro distrito",
        "oferta_retirada" => "Oferta retirada",
        "traspasado" => "Traspasado a otra Mesa",
        "visita" => "Visita",
        "contacto" => "Contacto",
        "nota" => "Nota",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_parses_back_to_itself() {
        for k in UnitKind::ALL {
            assert_eq!(UnitKind::parse(k.code()), Some(k));
        }
        for p in Priority::ALL {
            assert_eq!(Priority::parse(p.code()), Some(p));
        }
        for s in CaseStatus::ALL {
            assert_eq!(CaseStatus::parse(s.code()), Some(s));
        }
        for e in Ending::ALL {
            assert_eq!(Ending::parse(e.code()), Some(e));
        }
        for o in Origin::ALL {
            assert_eq!(Origin::parse(o.code()), Some(o));
        }
    }

    #[test]
    fn only_a_verified_protection_ends_a_case_without_a_second_person() {
        let unapproved: Vec<_> = Ending::ALL
            .into_iter()
            .filter(|e| !e.needs_approval())
            .collect();
        assert_eq!(unapproved, vec![Ending::Protegido]);
        assert!(Priority::Alta > Priority::Media && Priority::Media > Priority::Baja);
    }

    #[test]
    fn timeline_steps_read_as_words() {
        assert_eq!(event_label("cierre_pedido"), "Cierre pedido");
        assert_eq!(event_label("traspasado"), "Traspasado a otra Mesa");
        assert_eq!(event_label("desconocido"), "desconocido");
    }
}
