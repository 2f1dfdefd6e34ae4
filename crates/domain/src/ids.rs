//! Identifiers: the registry's row ids as types of their own (a person's id cannot be passed
//! where a household's is expected), and the national identity number (*cédula de identidad*).
//!
//! A cédula is optional in the registry (many children and some adults have none) and is
//! never the primary key; when present it links administrative records to registered persons.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Declares a row id: a copyable `i64` newtype, serialised as the bare number (the JSON API
/// and DCI keep their shape), shown as the number, parsed from a path segment.
macro_rules! row_id {
    ($(#[$doc:meta] $name:ident),+ $(,)?) => {$(
        #[$doc]
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
        )]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl $name {
            /// The number as stored.
            pub fn get(self) -> i64 {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}", self.0)
            }
        }

        impl std::str::FromStr for $name {
            type Err = std::num::ParseIntError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                s.trim().parse().map($name)
            }
        }
    )+};
}

row_id!(
    /// A registered person (`persons.id`).
    PersonId,
    /// A registered household (`households.id`).
    HouseholdId,
    /// A registered community (`communities.id`).
    CommunityId,
    /// A referral (`referrals.id`).
    ReferralId,
);

/// A Paraguayan cédula number: 3 to 9 digits, stored without thousands separators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(into = "String")]
pub struct NationalId(u32);

/// Why a cédula was refused (the text given, cut if long).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cédula inválida «{0}»: se esperan de 3 a 9 dígitos (se admiten puntos de miles)")]
pub struct NationalIdError(pub String);

impl NationalId {
    pub fn get(self) -> u32 {
        self.0
    }
    /// Parses a cédula as people write it: `1234567`, `1.234.567`, ` 1 234 567 `.
    /// Returns `Ok(None)` for an empty value.
    pub fn parse_optional(s: &str) -> Result<Option<NationalId>, NationalIdError> {
        let t = s.trim();
        if t.is_empty() {
            return Ok(None);
        }
        let mut n: u64 = 0;
        let mut digits = 0;
        for b in t.bytes() {
            match b {
                b'0'..=b'9' => {
                    n = n * 10 + u64::from(b - b'0');
                    digits += 1;
                    if digits > 9 {
                        return Err(NationalIdError(crate::limits::echo(s).into_owned()));
                    }
                }
                b'.' | b' ' => {}
                _ => return Err(NationalIdError(crate::limits::echo(s).into_owned())),
            }
        }
        if !(3..=9).contains(&digits) || n == 0 {
            return Err(NationalIdError(crate::limits::echo(s).into_owned()));
        }
        u32::try_from(n)
            .map(|v| Some(NationalId(v)))
            .map_err(|_| NationalIdError(crate::limits::echo(s).into_owned()))
    }
    /// From a stored number (already validated when it was written).
    pub fn from_stored(n: i64) -> Option<NationalId> {
        u32::try_from(n).ok().filter(|&v| v > 0).map(NationalId)
    }
}

impl fmt::Display for NationalId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}
impl From<NationalId> for String {
    fn from(c: NationalId) -> String {
        c.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_ids_serialise_as_bare_numbers_and_parse_from_paths() {
        assert_eq!(serde_json::to_string(&PersonId(42)).unwrap(), "42");
        assert_eq!(
            serde_json::from_str::<HouseholdId>("7").unwrap(),
            HouseholdId(7)
        );
        assert_eq!(" 15 ".parse::<ReferralId>().unwrap(), ReferralId(15));
        assert!("x15".parse::<CommunityId>().is_err());
        assert_eq!(PersonId(9).to_string(), "9");
    }

    #[test]
    fn parses_written_forms() {
        assert_eq!(
            NationalId::parse_optional("1.234.567")
                .unwrap()
                .unwrap()
                .get(),
            1_234_567
        );
        assert_eq!(
            NationalId::parse_optional(" 4567890 ")
                .unwrap()
                .unwrap()
                .get(),
            4_567_890
        );
        assert_eq!(NationalId::parse_optional("").unwrap(), None);
        assert!(NationalId::parse_optional("12").is_err());
        assert!(NationalId::parse_optional("12a456").is_err());
        assert!(NationalId::parse_optional("1234567890").is_err());
        assert!(NationalId::parse_optional("000").is_err());
    }
}
