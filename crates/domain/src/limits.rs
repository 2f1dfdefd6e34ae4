//! How long a text a person may give us, in one place: names, addresses and places, free text,
//! codes and keys — and how much of a value an error message may repeat back.
//!
//! Without limits a 10 MB name typed into a form or a cell is stored and then carried into
//! every page, list and export that shows the person, and an error that repeats a 20 MB header
//! line sends it back whole (issue 35, item 9). Every entry point — the importers, the
//! self-registration form, the JSON API, counter-referral files and bodies, delivery points,
//! DCI — checks a value against its [`Limit`] before it is stored and refuses it with the
//! usual row report or JSON error; every message that repeats a value cuts it with [`echo`].
//! Lengths are counted in characters (Unicode scalar values), not bytes, so a name in Guaraní
//! with `ñ` and `ỹ` has the same room as one without. Documented for users in
//! `docs/import.md` and `docs/api.md`.

use std::borrow::Cow;

/// Most characters of a person's given names or family names (each field on its own).
pub const NAME: usize = 100;
/// Most characters of an address, a locality or barrio, a place of delivery, a community's or
/// delivery point's name, opening hours or a contact.
pub const PLACE: usize = 200;
/// Most characters of free text: a reason, a detail, an answer typed in full.
pub const FREE_TEXT: usize = 2_000;
/// Most characters of a code or key: submission keys, record and event ids, institution and
/// service codes.
pub const CODE: usize = 100;
/// Most characters of a value an error message repeats back; the rest is cut with `…`.
pub const ECHO: usize = 200;

/// The kinds of text with a length limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// [`NAME`].
    Name,
    /// [`PLACE`].
    Place,
    /// [`FREE_TEXT`].
    FreeText,
    /// [`CODE`].
    Code,
}

impl Limit {
    /// The most characters a value of this kind may have.
    pub const fn max(self) -> usize {
        match self {
            Limit::Name => NAME,
            Limit::Place => PLACE,
            Limit::FreeText => FREE_TEXT,
            Limit::Code => CODE,
        }
    }

    /// What the limit applies to, in Spanish, for the reason of a refusal.
    pub const fn what(self) -> &'static str {
        match self {
            Limit::Name => "un nombre",
            Limit::Place => "una dirección o un lugar",
            Limit::FreeText => "un texto libre",
            Limit::Code => "un código o identificador",
        }
    }

    /// `Ok` when `value` fits; otherwise why not, in Spanish.
    pub fn check(self, value: &str) -> Result<(), TooLong> {
        // A character is at least one byte: most values are decided without counting.
        if value.len() <= self.max() {
            return Ok(());
        }
        let chars = value.chars().count();
        if chars <= self.max() {
            Ok(())
        } else {
            Err(TooLong { limit: self, chars })
        }
    }

    /// [`Limit::check`] of an optional value (absent fits).
    pub fn check_opt(self, value: Option<&str>) -> Result<(), TooLong> {
        value.map_or(Ok(()), |v| self.check(v))
    }
}

/// A value longer than its limit allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("texto demasiado largo: {chars} caracteres; {} admite a lo sumo {}", .limit.what(), .limit.max())]
pub struct TooLong {
    pub limit: Limit,
    /// How many characters the value had.
    pub chars: usize,
}

/// `value` as an error message may repeat it: whole when it has at most [`ECHO`] characters,
/// else its first [`ECHO`] characters followed by `…`.
pub fn echo(value: &str) -> Cow<'_, str> {
    if value.len() <= ECHO {
        return Cow::Borrowed(value);
    }
    match value.char_indices().nth(ECHO) {
        None => Cow::Borrowed(value),
        Some((end, _)) => {
            let mut cut = String::with_capacity(end + '…'.len_utf8());
            cut.push_str(value.get(..end).unwrap_or(value));
            cut.push('…');
            Cow::Owned(cut)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_count_characters_not_bytes() {
        let name = "ñ".repeat(NAME);
        assert!(name.len() > NAME);
        assert_eq!(Limit::Name.check(&name), Ok(()));
        let longer = format!("{name}a");
        assert_eq!(
            Limit::Name.check(&longer),
            Err(TooLong {
                limit: Limit::Name,
                chars: NAME + 1
            })
        );
        assert_eq!(Limit::Place.check(&"x".repeat(PLACE)), Ok(()));
        assert!(Limit::Place.check(&"x".repeat(PLACE + 1)).is_err());
        assert!(Limit::FreeText.check(&"x".repeat(FREE_TEXT + 1)).is_err());
        assert!(Limit::Code.check(&"x".repeat(CODE + 1)).is_err());
        assert_eq!(Limit::Name.check_opt(None), Ok(()));
    }

    #[test]
    fn a_refusal_says_how_long_and_the_limit_in_spanish() {
        let e = Limit::Place.check(&"x".repeat(10_000_000)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "texto demasiado largo: 10000000 caracteres; una dirección o un lugar admite a lo sumo 200"
        );
    }

    #[test]
    fn echoed_values_are_cut_at_two_hundred_characters() {
        assert_eq!(echo("corto"), "corto");
        let exact = "á".repeat(ECHO);
        assert_eq!(echo(&exact), exact.as_str());
        let long = format!("{}{}", "é".repeat(ECHO), "x".repeat(20_000_000));
        let cut = echo(&long);
        assert_eq!(cut.chars().count(), ECHO + 1);
        assert!(cut.ends_with("é…"));
    }
}
