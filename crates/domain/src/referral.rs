//! A referral's life cycle: its statuses and which transitions are legal, for whom. The store
//! records the transitions and the use cases ask here whether one may happen — so the rule is
//! written once and tested exhaustively.
//!
//! `emitida → recibida → contactada → atendida | rechazada`; `vencida` when the deadline passes
//! unanswered (a late counter-referral still answers it); `cerrada` when a newer measurement no
//! longer shows the need.

use serde::{Deserialize, Serialize};
use std::fmt;

/// The status of a referral.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReferralStatus {
    Emitida,
    Recibida,
    Contactada,
    Atendida,
    Rechazada,
    Vencida,
    Cerrada,
}

/// Who moves a referral.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mover {
    /// The institution by hand: acknowledge, contact, reject (with a reason).
    Institution,
    /// A counter-referral proving the service was delivered.
    Service,
    /// The system when the deadline passes.
    Deadline,
    /// A newer measurement that no longer shows the need.
    Remeasurement,
}

impl ReferralStatus {
    /// Every status, in funnel order.
    pub const ALL: [ReferralStatus; 7] = [
        ReferralStatus::Emitida,
        ReferralStatus::Recibida,
        ReferralStatus::Contactada,
        ReferralStatus::Atendida,
        ReferralStatus::Rechazada,
        ReferralStatus::Vencida,
        ReferralStatus::Cerrada,
    ];

    /// The stored code (Spanish, lower case).
    pub fn code(self) -> &'static str {
        match self {
            ReferralStatus::Emitida => "emitida",
            ReferralStatus::Recibida => "recibida",
            ReferralStatus::Contactada => "contactada",
            ReferralStatus::Atendida => "atendida",
            ReferralStatus::Rechazada => "rechazada",
            ReferralStatus::Vencida => "vencida",
            ReferralStatus::Cerrada => "cerrada",
        }
    }

    /// The status of a stored code.
    pub fn parse(code: &str) -> Option<ReferralStatus> {
        ReferralStatus::ALL.into_iter().find(|s| s.code() == code)
    }

    /// The institution still owes an answer.
    pub fn is_open(self) -> bool {
        matches!(
            self,
            ReferralStatus::Emitida | ReferralStatus::Recibida | ReferralStatus::Contactada
        )
    }

    /// A counter-referral still answers it: open, or past its deadline.
    pub fn is_answerable(self) -> bool {
        self.is_open() || self == ReferralStatus::Vencida
    }

    /// Whether `mover` may move a referral from `self` to `to`.
    pub fn may_become(self, to: ReferralStatus, mover: Mover) -> bool {
        use ReferralStatus as S;
        match mover {
            Mover::Institution => matches!(
                (self, to),
                (S::Emitida, S::Recibida)
                    | (S::Emitida | S::Recibida, S::Contactada)
                    | (S::Emitida | S::Recibida | S::Contactada, S::Rechazada)
            ),
            Mover::Service => self.is_answerable() && to == S::Atendida,
            Mover::Deadline => self.is_open() && to == S::Vencida,
            Mover::Remeasurement => self.is_open() && to == S::Cerrada,
        }
    }
}

impl fmt::Display for ReferralStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// The Spanish label of a population of special attention.
pub fn population_label(code: &str) -> &str {
    match code {
        "ninos" => "niñez",
        "mujeres" => "mujeres",
        "adultos_mayores" => "personas mayores",
        "discapacidad" => "discapacidad",
        "indigenas" => "pueblos indígenas",
        "pobreza" => "pobreza",
        "rural" => "zona rural",
        other => other,
    }
}

/// A referral's priority as people read it: *alta* for a service critical for the age (before
/// and at birth) or a unit lacking four services or more, *media* for one lacking two or more or
/// belonging to a population of special attention, *baja* otherwise — with the reasons, in
/// Spanish. `score` is the stored numeric priority (critical × 10 000 + services lacking × 100 +
/// populations, see `vamos_engine::needs::Need::priority`), kept for sorting; `populations`, the
/// populations the reader may know of.
pub fn readable_priority(
    score: i64,
    populations: &[String],
) -> (crate::cases::Priority, Vec<String>) {
    use crate::cases::Priority;
    let critical = score >= 10_000;
    let lacking = (score % 10_000) / 100;
    let mut why = Vec::new();
    if critical {
        why.push("servicio crítico para la edad".to_string());
    }
    if lacking > 1 {
        why.push(format!("le faltan {lacking} servicios"));
    }
    if !populations.is_empty() {
        why.push(format!(
            "atención especial: {}",
            populations
                .iter()
                .map(|p| population_label(p))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let band = if critical || lacking >= 4 {
        Priority::Alta
    } else if lacking >= 2 || !populations.is_empty() {
        Priority::Media
    } else {
        Priority::Baja
    };
    if why.is_empty() {
        why.push("un servicio sin proteger".into());
    }
    (band, why)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ReferralStatus as S;

    #[test]
    fn codes_read_back_as_their_status() {
        for s in S::ALL {
            assert_eq!(S::parse(s.code()), Some(s));
            assert_eq!(s.to_string(), s.code());
        }
        assert_eq!(S::parse("abierta"), None);
        assert_eq!(S::parse("Emitida"), None);
    }

    #[test]
    fn every_transition_is_legal_exactly_when_the_life_cycle_says_so() {
        // The whole table, written out: (from, to, who).
        let legal = [
            (S::Emitida, S::Recibida, Mover::Institution),
            (S::Emitida, S::Contactada, Mover::Institution),
            (S::Recibida, S::Contactada, Mover::Institution),
            (S::Emitida, S::Rechazada, Mover::Institution),
            (S::Recibida, S::Rechazada, Mover::Institution),
            (S::Contactada, S::Rechazada, Mover::Institution),
            (S::Emitida, S::Atendida, Mover::Service),
            (S::Recibida, S::Atendida, Mover::Service),
            (S::Contactada, S::Atendida, Mover::Service),
            (S::Vencida, S::Atendida, Mover::Service),
            (S::Emitida, S::Vencida, Mover::Deadline),
            (S::Recibida, S::Vencida, Mover::Deadline),
            (S::Contactada, S::Vencida, Mover::Deadline),
            (S::Emitida, S::Cerrada, Mover::Remeasurement),
            (S::Recibida, S::Cerrada, Mover::Remeasurement),
            (S::Contactada, S::Cerrada, Mover::Remeasurement),
        ];
        let movers = [
            Mover::Institution,
            Mover::Service,
            Mover::Deadline,
            Mover::Remeasurement,
        ];
        let mut checked = 0;
        for from in S::ALL {
            for to in S::ALL {
                for mover in movers {
                    let want = legal.contains(&(from, to, mover));
                    assert_eq!(
                        from.may_become(to, mover),
                        want,
                        "{from} → {to} by {mover:?}"
                    );
                    checked += 1;
                }
            }
        }
        assert_eq!(checked, 7 * 7 * 4);
    }

    #[test]
    fn final_statuses_never_move() {
        for from in [S::Atendida, S::Rechazada, S::Cerrada] {
            for to in S::ALL {
                for mover in [
                    Mover::Institution,
                    Mover::Service,
                    Mover::Deadline,
                    Mover::Remeasurement,
                ] {
                    assert!(!from.may_become(to, mover), "{from} → {to}");
                }
            }
        }
    }

    #[test]
    fn open_and_answerable_statuses() {
        let open: Vec<_> = S::ALL.into_iter().filter(|s| s.is_open()).collect();
        assert_eq!(open, [S::Emitida, S::Recibida, S::Contactada]);
        let answerable: Vec<_> = S::ALL.into_iter().filter(|s| s.is_answerable()).collect();
        assert_eq!(
            answerable,
            [S::Emitida, S::Recibida, S::Contactada, S::Vencida]
        );
    }

    #[test]
    fn a_readable_priority_says_its_band_and_why() {
        use crate::cases::Priority;
        let (band, why) = readable_priority(10_102, &[]);
        assert_eq!(band, Priority::Alta);
        assert_eq!(why, vec!["servicio crítico para la edad".to_string()]);
        let (band, why) = readable_priority(401, &["indigenas".into()]);
        assert_eq!(band, Priority::Alta);
        assert_eq!(
            why,
            vec![
                "le faltan 4 servicios".to_string(),
                "atención especial: pueblos indígenas".to_string()
            ]
        );
        assert_eq!(readable_priority(200, &[]).0, Priority::Media);
        assert_eq!(
            readable_priority(101, &["mujeres".into()]).0,
            Priority::Media
        );
        let (band, why) = readable_priority(100, &[]);
        assert_eq!(band, Priority::Baja);
        assert_eq!(why, vec!["un servicio sin proteger".to_string()]);
    }
}
