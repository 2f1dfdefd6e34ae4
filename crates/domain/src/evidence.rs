//! Where a piece of evidence about a person came from: an institution's administrative
//! registry or a counter-referral (a service the institution reports as delivered).
//!
//! The two channels are told apart by type, not by a convention on the institution's name: an
//! `admin` rule of the catalogue takes only administrative records and a `contrarreferencia`
//! rule only counter-referrals, even when both name the same institution.

use std::fmt;

/// The channel evidence arrived by, without the institution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EvidenceKind {
    /// A record of the institution's administrative registry.
    Admin,
    /// A counter-referral: a service the institution reports as delivered.
    CounterReferral,
}

impl EvidenceKind {
    /// Every kind.
    pub const ALL: [EvidenceKind; 2] = [EvidenceKind::Admin, EvidenceKind::CounterReferral];

    /// The code the catalogue's files write in an evidence rule's `fuente`.
    pub fn as_str(self) -> &'static str {
        match self {
            EvidenceKind::Admin => "admin",
            EvidenceKind::CounterReferral => "contrarreferencia",
        }
    }

    /// Reads a catalogue `fuente` code (`admin`, `contrarreferencia`); `None` for any other
    /// (including `fips`, which is not evidence about a person from an institution).
    pub fn parse(s: &str) -> Option<EvidenceKind> {
        EvidenceKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Spanish name of the channel, for people.
    pub fn label(self) -> &'static str {
        match self {
            EvidenceKind::Admin => "registro administrativo",
            EvidenceKind::CounterReferral => "contrarreferencia",
        }
    }

    /// The source of this kind for `institution`.
    pub fn of<S>(self, institution: S) -> EvidenceSource<S> {
        match self {
            EvidenceKind::Admin => EvidenceSource::Admin(institution),
            EvidenceKind::CounterReferral => EvidenceSource::CounterReferral(institution),
        }
    }
}

/// The source of an event: its channel and the institution's code (MEC, MSPBS, …). Owned
/// (`EvidenceSource`) where it is kept, borrowed (`EvidenceSource<&str>`) where a row is read,
/// so reading one allocates nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EvidenceSource<S = String> {
    /// A record of the institution's administrative registry.
    Admin(S),
    /// A counter-referral reported by the institution.
    CounterReferral(S),
}

impl<S: AsRef<str>> EvidenceSource<S> {
    /// The channel.
    pub fn kind(&self) -> EvidenceKind {
        match self {
            EvidenceSource::Admin(_) => EvidenceKind::Admin,
            EvidenceSource::CounterReferral(_) => EvidenceKind::CounterReferral,
        }
    }

    /// The institution's code.
    pub fn institution(&self) -> &str {
        match self {
            EvidenceSource::Admin(i) | EvidenceSource::CounterReferral(i) => i.as_ref(),
        }
    }

    /// The same source, borrowed.
    pub fn as_deref(&self) -> EvidenceSource<&str> {
        self.kind().of(self.institution())
    }

    /// The same source, owned.
    pub fn owned(&self) -> EvidenceSource {
        self.kind().of(self.institution().to_string())
    }
}

/// The Spanish label of the source, as a measurement lists its sources: the institution's code
/// for its administrative registry (`MSPBS`), the channel's label and the code for its
/// counter-referrals (`contrarreferencia:MSPBS`). For people only: no code reads a source back
/// from its label.
impl<S: AsRef<str>> fmt::Display for EvidenceSource<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind() {
            EvidenceKind::Admin => f.write_str(self.institution()),
            EvidenceKind::CounterReferral => {
                write!(f, "{}:{}", self.kind().label(), self.institution())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_institution_by_each_channel_is_a_different_source() {
        let admin = EvidenceSource::Admin("MSPBS");
        let counter = EvidenceKind::CounterReferral.of("MSPBS");
        assert_ne!(admin, counter);
        assert_eq!(admin.institution(), counter.institution());
        assert_eq!(admin.kind(), EvidenceKind::Admin);
        assert_eq!(counter.kind(), EvidenceKind::CounterReferral);
        let owned: EvidenceSource = counter.owned();
        assert_eq!(owned.as_deref(), counter);
        assert_eq!(owned, EvidenceSource::CounterReferral("MSPBS".to_string()));
    }

    #[test]
    fn a_source_reads_as_the_institution_or_as_its_counter_referrals() {
        assert_eq!(EvidenceSource::Admin("MEC").to_string(), "MEC");
        assert_eq!(
            EvidenceSource::CounterReferral("MSPBS").to_string(),
            "contrarreferencia:MSPBS"
        );
        assert_eq!(EvidenceKind::Admin.label(), "registro administrativo");
        assert_eq!(EvidenceKind::CounterReferral.label(), "contrarreferencia");
    }

    #[test]
    fn kinds_parse_from_the_catalogue_fuente_codes_and_nothing_else() {
        for k in EvidenceKind::ALL {
            assert_eq!(EvidenceKind::parse(k.as_str()), Some(k));
        }
        assert_eq!(
            EvidenceKind::parse("contrarreferencia"),
            Some(EvidenceKind::CounterReferral)
        );
        for other in [
            "fips",
            "Admin",
            "contrarreferencia:",
            "contra-referencia",
            "",
        ] {
            assert_eq!(EvidenceKind::parse(other), None, "{other}");
        }
    }
}
