//! Grievances and claims (*reclamos*, issue 36 item 4): what a person may complain about, how
//! long the system has to answer each kind, who handles it first, the life cycle (received →
//! assigned → escalated → resolved | not applicable → appealed) and the tracking code a
//! citizen keeps to follow it without an account.
//!
//! Categories are data ([`CATEGORIES`]): adding one is a row, not a code path. Time arrives as a
//! parameter (no clock here) and so does the randomness of a tracking code (the caller draws it
//! from the operating system's CSPRNG).

use chrono::{DateTime, Datelike, Duration, Utc, Weekday};
use std::fmt;

/// How long the system has to answer a grievance of a category.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deadline {
    /// Monday to Friday (public holidays are not known here: a conservative reading).
    WorkingDays(u32),
    /// Calendar days.
    Days(u32),
}

impl Deadline {
    /// The moment a grievance received (or escalated, or appealed) at `from` falls due.
    pub fn due(self, from: DateTime<Utc>) -> DateTime<Utc> {
        match self {
            Deadline::Days(n) => from + Duration::days(i64::from(n)),
            Deadline::WorkingDays(n) => {
                let mut at = from;
                let mut left = n;
                while left > 0 {
                    at += Duration::days(1);
                    if !matches!(at.weekday(), Weekday::Sat | Weekday::Sun) {
                        left -= 1;
                    }
                }
                at
            }
        }
    }

    /// In Spanish, for pages and listings.
    pub fn label(self) -> String {
        match self {
            Deadline::WorkingDays(n) => format!("{n} días hábiles"),
            Deadline::Days(n) => format!("{n} días corridos"),
        }
    }
}

/// Who handles a grievance of a category at its first level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Assignee {
    /// The UTGS (registry analysts): registration data.
    Utgs,
    /// The district's Mesa de Protección Social: status and local questions.
    Mesa,
    /// The institution that provides the service complained about (named by the person; the
    /// UTGS when none is named).
    Institution,
}

/// What a grievance is about, as data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Category {
    /// Stable code (stored, in the API and the form).
    pub code: &'static str,
    /// What people read.
    pub label: &'static str,
    /// Group on the form: `registro`, `estado`, `servicio`, `sistema`.
    pub group: &'static str,
    pub deadline: Deadline,
    pub assignee: Assignee,
    /// Whether it may be lodged without saying who one is: only complaints about a service or
    /// the system; one about a registration or a status needs the person identified.
    pub anonymous: bool,
}

/// The categories of grievance.
pub const CATEGORIES: &[Category] = &[
    Category {
        code: "registro_datos_incorrectos",
        label: "Registro: mis datos están mal",
        group: "registro",
        deadline: Deadline::WorkingDays(10),
        assignee: Assignee::Utgs,
        anonymous: false,
    },
    Category {
        code: "registro_no_figuro",
        label: "Registro: no figuro en el registro",
        group: "registro",
        deadline: Deadline::WorkingDays(10),
        assignee: Assignee::Utgs,
        anonymous: false,
    },
    Category {
        code: "registro_cambio_hogar",
        label: "Registro: cambió mi hogar (alguien llegó, se fue, nació o falleció)",
        group: "registro",
        deadline: Deadline::WorkingDays(15),
        assignee: Assignee::Utgs,
        anonymous: false,
    },
    Category {
        code: "estado_proteccion",
        label: "Estado de protección: no estoy de acuerdo con mi estado",
        group: "estado",
        deadline: Deadline::WorkingDays(15),
        assignee: Assignee::Mesa,
        anonymous: false,
    },
    Category {
        code: "servicio_no_recibido",
        label: "Servicio: no recibí un servicio que me corresponde",
        group: "servicio",
        deadline: Deadline::WorkingDays(10),
        assignee: Assignee::Institution,
        anonymous: true,
    },
    Category {
        code: "servicio_mala_atencion",
        label: "Servicio: mala atención",
        group: "servicio",
        deadline: Deadline::WorkingDays(10),
        assignee: Assignee::Institution,
        anonymous: true,
    },
    Category {
        code: "sistema",
        label: "Sistema: la página o el sistema no funciona bien",
        group: "sistema",
        deadline: Deadline::Days(30),
        assignee: Assignee::Utgs,
        anonymous: true,
    },
];

/// The category with `code`.
pub fn category(code: &str) -> Option<&'static Category> {
    CATEGORIES.iter().find(|c| c.code == code)
}

/// Levels a grievance climbs when its deadline passes: the first handler, the coordination
/// above it, the UTGS's direction (the last: it stays there, still overdue).
pub const LEVELS: u8 = 3;

/// Spanish name of handling level `n` (1-based).
pub fn level_label(n: i64) -> &'static str {
    match n {
        1 => "primer nivel",
        2 => "coordinación",
        _ => "dirección de la UTGS",
    }
}

/// Days after its resolution within which the person may appeal with the tracking code.
pub const APPEAL_DAYS: i64 = 15;

/// Where a grievance is in its life cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrievanceState {
    /// Lodged, not yet taken by anyone.
    Recibido,
    /// Assigned to an account or an institution.
    Asignado,
    /// Its deadline passed: raised to the next level.
    Escalado,
    /// Reopened by the person's appeal, at a higher level.
    Apelado,
    /// Answered: the person was right and something was done.
    Resuelto,
    /// Answered: nothing to do (not the registry's, unfounded, duplicate).
    NoCorresponde,
}

impl GrievanceState {
    pub const ALL: [GrievanceState; 6] = [
        GrievanceState::Recibido,
        GrievanceState::Asignado,
        GrievanceState::Escalado,
        GrievanceState::Apelado,
        GrievanceState::Resuelto,
        GrievanceState::NoCorresponde,
    ];
    pub fn code(self) -> &'static str {
        match self {
            GrievanceState::Recibido => "recibido",
            GrievanceState::Asignado => "asignado",
            GrievanceState::Escalado => "escalado",
            GrievanceState::Apelado => "apelado",
            GrievanceState::Resuelto => "resuelto",
            GrievanceState::NoCorresponde => "no_corresponde",
        }
    }
    pub fn parse(s: &str) -> Option<GrievanceState> {
        GrievanceState::ALL.into_iter().find(|x| x.code() == s)
    }
    pub fn label(self) -> &'static str {
        match self {
            GrievanceState::Recibido => "Recibido",
            GrievanceState::Asignado => "En atención",
            GrievanceState::Escalado => "Escalado por vencimiento del plazo",
            GrievanceState::Apelado => "Apelado: en nueva revisión",
            GrievanceState::Resuelto => "Resuelto",
            GrievanceState::NoCorresponde => "Cerrado: no corresponde",
        }
    }
    /// Still waiting for an answer.
    pub fn is_open(self) -> bool {
        !self.is_closed()
    }
    pub fn is_closed(self) -> bool {
        matches!(
            self,
            GrievanceState::Resuelto | GrievanceState::NoCorresponde
        )
    }
    /// Whether an action may move a grievance from this state (closed ones only by appeal).
    pub fn may(self, action: Action) -> bool {
        match action {
            Action::Assign | Action::Comment | Action::Resolve => self.is_open(),
            Action::Appeal => self.is_closed(),
        }
    }
}

/// What moves a grievance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Assign,
    Comment,
    Resolve,
    Appeal,
}

/// How a grievance was closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Resuelto,
    NoCorresponde,
}

impl Outcome {
    pub fn parse(s: &str) -> Option<Outcome> {
        match s {
            "resuelto" => Some(Outcome::Resuelto),
            "no_corresponde" => Some(Outcome::NoCorresponde),
            _ => None,
        }
    }
    pub fn state(self) -> GrievanceState {
        match self {
            Outcome::Resuelto => GrievanceState::Resuelto,
            Outcome::NoCorresponde => GrievanceState::NoCorresponde,
        }
    }
}

/// How a grievance came in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    /// The public page, without an account.
    Web,
    /// An account (orientador, institution, Mesa) through the web, the API or the command line.
    Account,
    /// The command line without an account (the machine's operator).
    Operator,
}

impl Channel {
    pub fn code(self) -> &'static str {
        match self {
            Channel::Web => "web_publica",
            Channel::Account => "cuenta",
            Channel::Operator => "operador",
        }
    }
}

/// Characters of a tracking code: Crockford's base32 (no I, L, O, U — nothing to misread).
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
/// Characters in a code: 20 × 5 bits = 100 bits of randomness (the issue asks ≥ 80).
pub const CODE_CHARS: usize = 20;
/// Random bytes a code is drawn from (the last 4 bits are dropped).
pub const CODE_BYTES: usize = 13;

/// A grievance's tracking code: 100 random bits shown as five groups of four characters
/// (`7KQ2-M9XD-…`). Only its hash is stored; whoever holds it may see the grievance's state.
#[derive(Clone, PartialEq, Eq)]
pub struct TrackingCode(String);

impl TrackingCode {
    /// The code of `random` bytes (drawn by the caller from a CSPRNG).
    pub fn from_random(random: &[u8; CODE_BYTES]) -> TrackingCode {
        let mut out = String::with_capacity(CODE_CHARS);
        let (mut acc, mut bits) = (0u32, 0u32);
        for &b in random {
            acc = (acc << 8) | u32::from(b);
            bits += 8;
            while bits >= 5 && out.len() < CODE_CHARS {
                bits -= 5;
                let i = ((acc >> bits) & 31) as usize;
                out.push(char::from(ALPHABET.get(i).copied().unwrap_or(b'0')));
            }
            acc &= (1 << bits) - 1;
        }
        TrackingCode(out)
    }

    /// Parses a code as a person types it: any case, with or without dashes or spaces, `O` read
    /// as `0` and `I`/`L` as `1`. `None` unless it has exactly [`CODE_CHARS`] characters of the
    /// alphabet (a wrong code is then answered like a missing one).
    pub fn parse(s: &str) -> Option<TrackingCode> {
        if s.len() > 64 {
            return None;
        }
        let mut out = String::with_capacity(CODE_CHARS);
        for c in s.chars() {
            let c = match c.to_ascii_uppercase() {
                '-' | ' ' => continue,
                'O' => '0',
                'I' | 'L' => '1',
                c => c,
            };
            if !c.is_ascii() || !ALPHABET.contains(&(c as u8)) {
                return None;
            }
            out.push(c);
        }
        (out.len() == CODE_CHARS).then_some(TrackingCode(out))
    }

    /// The canonical form (no dashes) that is hashed.
    pub fn canonical(&self) -> &str {
        &self.0
    }

    /// As shown to people: groups of four joined by dashes.
    pub fn display(&self) -> String {
        self.0
            .as_bytes()
            .chunks(4)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect::<Vec<_>>()
            .join("-")
    }
}

impl fmt::Debug for TrackingCode {
    // A code is a bearer secret: never in logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TrackingCode(…)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn working_days_skip_the_weekend() {
        // Friday + 1 working day = Monday; + 5 = next Friday.
        let fri = at("2026-12-04T10:00:00Z");
        assert_eq!(
            Deadline::WorkingDays(1).due(fri),
            at("2026-12-07T10:00:00Z")
        );
        assert_eq!(
            Deadline::WorkingDays(5).due(fri),
            at("2026-12-11T10:00:00Z")
        );
        assert_eq!(Deadline::Days(3).due(fri), at("2026-12-07T10:00:00Z"));
    }

    #[test]
    fn only_service_and_system_grievances_may_be_anonymous() {
        for c in CATEGORIES {
            assert_eq!(
                c.anonymous,
                matches!(c.group, "servicio" | "sistema"),
                "{}",
                c.code
            );
            assert_eq!(category(c.code), Some(c));
        }
        assert_eq!(category("otra"), None);
    }

    #[test]
    fn a_tracking_code_carries_100_bits_and_reads_back_however_typed() {
        let c = TrackingCode::from_random(&[0xff; CODE_BYTES]);
        assert_eq!(c.canonical(), "ZZZZZZZZZZZZZZZZZZZZ");
        let c = TrackingCode::from_random(&[
            0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0, 0x01, 0x23, 0x45, 0x67, 0x89,
        ]);
        assert_eq!(c.canonical().len(), CODE_CHARS);
        let shown = c.display();
        assert_eq!(shown.len(), CODE_CHARS + 4);
        assert_eq!(TrackingCode::parse(&shown), Some(c.clone()));
        assert_eq!(
            TrackingCode::parse(&shown.to_lowercase().replace('-', " ")),
            Some(c.clone())
        );
        assert_eq!(
            TrackingCode::parse("0000-0000-0000-0000-000O"),
            TrackingCode::parse("00000000000000000000")
        );
        assert_eq!(TrackingCode::parse("ABCD"), None);
        assert_eq!(TrackingCode::parse("UUUU-UUUU-UUUU-UUUU-UUUU"), None);
        assert_eq!(TrackingCode::parse(&"A".repeat(10_000)), None);
        assert_eq!(format!("{c:?}"), "TrackingCode(…)");
    }

    #[test]
    fn closed_grievances_move_only_by_appeal() {
        for s in GrievanceState::ALL {
            assert_eq!(GrievanceState::parse(s.code()), Some(s));
            assert_eq!(s.may(Action::Appeal), s.is_closed());
            assert_eq!(s.may(Action::Resolve), s.is_open());
        }
    }
}
