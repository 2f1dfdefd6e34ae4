//! Which level of a comparison two prepared values reach: the first of the settings' levels
//! they pass, the last ("distinto") when none, or [`NULL`] when either is missing.

use crate::names;
use crate::settings::Level;
use crate::table::Value;

/// The level of a pair with a missing value: it weighs nothing either way.
pub const NULL: u8 = u8::MAX;

/// Jaro–Winkler similarity of two prepared values (folded text is ASCII: compared as bytes).
fn jaro_winkler(a: &Value, b: &Value) -> f64 {
    rapidfuzz::distance::jaro_winkler::similarity(a.text.bytes(), b.text.bytes())
}

/// Levenshtein distance of two prepared values.
fn levenshtein(a: &Value, b: &Value) -> usize {
    rapidfuzz::distance::levenshtein::distance(a.text.bytes(), b.text.bytes())
}

/// Whether `a` and `b` pass `level`.
pub fn passes(level: &Level, a: &Value, b: &Value) -> bool {
    match level {
        Level::Exact => a.text == b.text,
        Level::JaroWinkler(min) => jaro_winkler(a, b) >= *min,
        Level::Levenshtein(max) => {
            a.text.len().abs_diff(b.text.len()) <= *max && levenshtein(a, b) <= *max
        }
        Level::Phonetic => !a.phonetic.is_empty() && a.phonetic == b.phonetic,
        Level::SameWords => same_words(&a.text, &b.text),
        Level::Genderless => {
            let first = |v: &Value| {
                v.text
                    .split(' ')
                    .next()
                    .map(names::genderless)
                    .map(str::to_string)
            };
            first(a).is_some() && first(a) == first(b)
        }
        Level::Contained => contained(a, b) || contained(b, a),
        Level::SwappedDayMonth => match (a.date, b.date) {
            (Some((ya, ma, da)), Some((yb, mb, db))) => {
                ya == yb && ma == db && da == mb && ma != da
            }
            _ => false,
        },
        Level::SameYearMonth => match (a.date, b.date) {
            (Some((ya, ma, _)), Some((yb, mb, _))) => ya == yb && ma == mb,
            _ => false,
        },
        Level::YearsApart(max) => match (a.date, b.date) {
            (Some((ya, ma, da)), Some((yb, mb, db))) => {
                let months =
                    |y: i32, m: u32, d: u32| i64::from(y) * 372 + i64::from(m) * 31 + i64::from(d);
                (months(ya, ma, da) - months(yb, mb, db)).abs() <= i64::from(*max) * 372
            }
            _ => false,
        },
    }
}

/// The same words in any order (`benitez gomez` / `gomez benitez`).
fn same_words(a: &str, b: &str) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut x: Vec<&str> = a.split(' ').collect();
    let mut y: Vec<&str> = b.split(' ').collect();
    x.sort_unstable();
    y.sort_unstable();
    x == y
}

/// Every word of `a` is a word of `b` (or `b`'s married name): `gonzalez` in `gonzalez
/// villalba`; `perez` as a woman's married name alone.
fn contained(a: &Value, b: &Value) -> bool {
    let words: Vec<&str> = b.text.split(' ').chain(b.married.as_deref()).collect();
    !a.text.is_empty() && a.text.split(' ').all(|w| words.contains(&w))
}

/// The level index of a pair (0 is the most alike; `levels.len()` is "distinto"; [`NULL`]).
/// A similarity several levels test at different thresholds is computed once.
pub fn level(levels: &[Level], a: Option<&Value>, b: Option<&Value>) -> u8 {
    let (Some(a), Some(b)) = (a, b) else {
        return NULL;
    };
    let mut jw: Option<f64> = None;
    let mut lev: Option<usize> = None;
    levels
        .iter()
        .position(|l| match l {
            Level::JaroWinkler(min) => *jw.get_or_insert_with(|| jaro_winkler(a, b)) >= *min,
            Level::Levenshtein(max) => {
                a.text.len().abs_diff(b.text.len()) <= *max
                    && *lev.get_or_insert_with(|| levenshtein(a, b)) <= *max
            }
            other => passes(other, a, b),
        })
        .unwrap_or(levels.len()) as u8
}

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::settings::Kind;
    use crate::table::prepare;

    fn v(s: &str, kind: Kind) -> Value {
        prepare(s, kind).unwrap()
    }

    #[test]
    fn the_first_level_passed_is_the_pairs_and_a_missing_value_is_null() {
        let levels = [Level::Exact, Level::JaroWinkler(0.9), Level::Phonetic];
        let n = |s| v(s, Kind::Apellidos);
        assert_eq!(level(&levels, Some(&n("Benítez")), Some(&n("BENITEZ"))), 0);
        assert_eq!(level(&levels, Some(&n("Benitez")), Some(&n("Benites"))), 1);
        assert_eq!(level(&levels, Some(&n("Ybarra")), Some(&n("Ibarra"))), 2);
        assert_eq!(level(&levels, Some(&n("Benitez")), Some(&n("Ortiz"))), 3);
        assert_eq!(level(&levels, None, Some(&n("Ortiz"))), NULL);
    }

    #[test]
    fn surnames_in_either_order_or_one_left_out_are_levels_of_their_own() {
        let n = |s| v(s, Kind::Apellidos);
        assert!(passes(
            &Level::SameWords,
            &n("Benítez Gómez"),
            &n("Gómez Benítez")
        ));
        assert!(passes(
            &Level::Contained,
            &n("González"),
            &n("González Villalba")
        ));
        // A married name written on one record only; two different ones are not the same.
        assert!(passes(
            &Level::Contained,
            &n("Pérez"),
            &n("González de Pérez")
        ));
        assert!(passes(
            &Level::Contained,
            &n("González"),
            &n("González de Pérez")
        ));
        assert!(!passes(
            &Level::Exact,
            &n("González de Benítez"),
            &n("González de Pérez")
        ));
        // A man's compound surname keeps both words.
        assert!(!passes(&Level::Exact, &n("Díaz de Vivar"), &n("Díaz")));
        assert!(!passes(
            &Level::Contained,
            &n("Ortiz"),
            &n("González Villalba")
        ));
    }

    #[test]
    fn given_names_of_either_gender_and_nicknames_meet() {
        let g = |s| v(s, Kind::Nombre);
        assert!(passes(
            &Level::Genderless,
            &g("Francisco Javier"),
            &g("Francisca")
        ));
        assert!(passes(&Level::Exact, &g("Pepe"), &g("José")));
        assert!(!passes(&Level::Genderless, &g("Ana"), &g("Ano")));
    }

    #[test]
    fn dates_agree_in_part_or_with_day_and_month_swapped() {
        let d = |s| v(s, Kind::Fecha);
        assert!(passes(
            &Level::SwappedDayMonth,
            &d("1981-03-05"),
            &d("03/05/1981")
        ));
        assert!(passes(
            &Level::SwappedDayMonth,
            &d("1981-03-05"),
            &d("1981-05-03")
        ));
        assert!(!passes(
            &Level::SwappedDayMonth,
            &d("1981-03-03"),
            &d("1981-03-03")
        ));
        assert!(passes(
            &Level::SameYearMonth,
            &d("1981-03-05"),
            &d("1981-03-28")
        ));
        assert!(passes(
            &Level::YearsApart(1),
            &d("1981-03-05"),
            &d("1982-02-05")
        ));
        assert!(!passes(
            &Level::YearsApart(1),
            &d("1981-03-05"),
            &d("1983-03-05")
        ));
        assert!(passes(
            &Level::Levenshtein(1),
            &d("19810305"),
            &d("19810306")
        ));
    }
}
