//! Names the way Paraguayans write them: folding (case, accents, ñ, Guaraní nasal vowels and
//! the puso), particles, abbreviations and nicknames, married names, surname order, gender
//! variants and a Spanish–Guaraní phonetic code. Every rule is listed here and in
//! `docs/linkage.md`, and each has a unit test with a real-looking case.

/// Letters folded to plain ASCII, spaces kept (one between words), everything else dropped:
/// `"MARÍA  Ña'ẽ-Peña"` → `"maria nae pena"`. The puso (`'`) joins the word; a hyphen separates.
pub fn fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut space = false;
    for c in s.chars().flat_map(char::to_lowercase) {
        let mapped = match c {
            'á' | 'à' | 'â' | 'ä' | 'ã' => 'a',
            'é' | 'è' | 'ê' | 'ë' | 'ẽ' => 'e',
            'í' | 'ì' | 'î' | 'ï' | 'ĩ' => 'i',
            'ó' | 'ò' | 'ô' | 'ö' | 'õ' => 'o',
            'ú' | 'ù' | 'û' | 'ü' | 'ũ' => 'u',
            'ý' | 'ỹ' | 'ÿ' => 'y',
            'ñ' => 'n',
            'ç' => 'c',
            // «Mª», «Nº»: the ordinal marks are the letters they stand for.
            'ª' => 'a',
            'º' => 'o',
            // Guaraní's puso and apostrophes of every kind join the word.
            '\'' | '’' | '‘' | 'ʼ' | '`' | '´' => continue,
            // Combining marks (a decomposed tilde or accent) are dropped.
            '\u{300}'..='\u{36f}' => continue,
            c if c.is_ascii_lowercase() || c.is_ascii_digit() => c,
            _ => ' ',
        };
        if mapped == ' ' {
            space = !out.is_empty();
            continue;
        }
        if space {
            out.push(' ');
            space = false;
        }
        out.push(mapped);
    }
    out
}

/// Words that join a name but do not identify it.
const PARTICLES: [&str; 11] = [
    "de", "del", "la", "las", "los", "y", "e", "da", "dos", "vda", "viuda",
];

/// Titles written before a name (doña, don, ña, karai…).
const TITLES: [&str; 8] = [
    "sr",
    "sra",
    "dona",
    "dna",
    "don",
    "na",
    "karai",
    "kunakarai",
];

/// Abbreviations and common nicknames of given names, with the name they stand for. A list to
/// grow with the registry's own variants; each entry is a folded word.
const GIVEN_ALIASES: [(&str, &str); 40] = [
    ("ma", "maria"),
    ("mari", "maria"),
    ("mary", "maria"),
    ("fco", "francisco"),
    ("fca", "francisca"),
    ("pancho", "francisco"),
    ("paco", "francisco"),
    ("pacho", "francisco"),
    ("pepe", "jose"),
    ("jos", "jose"),
    ("chema", "jose"),
    ("jn", "juan"),
    ("gmo", "guillermo"),
    ("memo", "guillermo"),
    ("fdo", "fernando"),
    ("nando", "fernando"),
    ("ant", "antonio"),
    ("tono", "antonio"),
    ("toto", "antonio"),
    ("quique", "enrique"),
    ("kike", "enrique"),
    ("nacho", "ignacio"),
    ("lucho", "luis"),
    ("lalo", "eduardo"),
    ("edu", "eduardo"),
    ("beto", "alberto"),
    ("tere", "teresa"),
    ("lupe", "guadalupe"),
    ("concha", "concepcion"),
    ("conchi", "concepcion"),
    ("charo", "rosario"),
    ("chayo", "rosario"),
    ("pili", "pilar"),
    ("rafa", "rafael"),
    ("cacho", "carlos"),
    ("kalo", "carlos"),
    ("chiqui", "maria"),
    ("juanca", "juan"),
    ("migue", "miguel"),
    ("pato", "patricia"),
];

/// The name an abbreviation or nickname stands for (itself when none).
pub fn alias(word: &str) -> &str {
    GIVEN_ALIASES
        .iter()
        .find(|(a, _)| *a == word)
        .map_or(word, |(_, full)| full)
}

/// A person's names split the way they compare.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Names {
    /// Given names, folded, aliases resolved, particles and titles dropped (`maria del carmen` →
    /// `["maria", "carmen"]`).
    pub given: Vec<String>,
    /// Own surnames in the order written (father's first, as registries do).
    pub surnames: Vec<String>,
    /// A married name (`de Pérez` at the end of the surnames): also the last of `surnames`, and
    /// marked here so that a record written without it still meets one written with it.
    pub married: Option<String>,
}

/// Given names and family names as written → [`Names`].
pub fn split(given: &str, family: &str) -> Names {
    let given: Vec<String> = fold(given)
        .split(' ')
        .filter(|w| !w.is_empty() && !PARTICLES.contains(w) && !TITLES.contains(w))
        .map(|w| alias(w).to_string())
        .collect();
    let folded = fold(family);
    let words: Vec<&str> = folded
        .split(' ')
        .filter(|w| !w.is_empty() && !TITLES.contains(w))
        .collect();
    // «González de Pérez»: a lone `de` before the last word marks the husband's surname (a
    // surname of its own such as «de la Cruz» has a further particle, «del Puerto» another word).
    let mut married = None;
    let mut own: &[&str] = &words;
    if let [rest @ .., "de", last] = words.as_slice() {
        if !rest.is_empty() && !PARTICLES.contains(last) {
            married = Some((*last).to_string());
            own = rest;
        }
    }
    // The married name stays among the surnames (a man's «Díaz de Vivar» is one surname, and two
    // women «González de Pérez» and «González de Benítez» are not the same): `Contained`
    // lets a record without it meet one with it.
    let surnames = own
        .iter()
        .filter(|w| !PARTICLES.contains(w))
        .map(|w| (*w).to_string())
        .chain(married.clone())
        .collect();
    Names {
        given,
        surnames,
        married,
    }
}

/// A given name without its gender ending (`francisco`, `francisca` → `francisc`; `julio`,
/// `julia` → `juli`): what two records of the same name written for a man and a woman share.
/// Names of three letters or fewer are kept whole (`ana` is not `ano`).
pub fn genderless(word: &str) -> &str {
    if word.len() > 3 && (word.ends_with('o') || word.ends_with('a')) {
        word.get(..word.len() - 1).unwrap_or(word)
    } else {
        word
    }
}

/// A Spanish–Guaraní phonetic code of one folded word: letters that sound alike in Paraguay
/// written alike, so that spellings of the same name meet. Rules, in order:
/// `h` is silent (except in `ch`); `ch` → `C`; `ll` and consonant `y` → `y`, `y` as a vowel →
/// `i` (`Ybarra`, `Ibarra`); `v`, `w` → `b`; `z`, soft `c` (`ce`, `ci`) → `s`; hard `c`, `qu`,
/// `k` → `k`; `gue`, `gui` → `ge`, `gi` and soft `g` (`ge`, `gi`) → `j` (`Giménez`, `Jiménez`);
/// `x` → `ks`; a leading Guaraní nasal `mb`, `nd` → `b`, `d`; doubled letters once.
pub fn phonetic(word: &str) -> String {
    let b = word.as_bytes();
    let at = |i: usize| b.get(i).copied().unwrap_or(0);
    let vowel = |c: u8| matches!(c, b'a' | b'e' | b'i' | b'o' | b'u');
    let mut out: Vec<u8> = Vec::with_capacity(b.len() + 2);
    let mut i = 0;
    if (at(0) == b'm' && at(1) == b'b') || (at(0) == b'n' && at(1) == b'd') {
        i = 1;
    }
    while i < b.len() {
        let c = at(i);
        let next = at(i + 1);
        let (code, used): (&[u8], usize) = match c {
            b'h' => (b"", 1),
            b'c' if next == b'h' => (b"C", 2),
            b'c' if next == b'e' || next == b'i' => (b"s", 1),
            b'c' => (b"k", 1),
            b'q' if next == b'u' => (b"k", 2),
            b'q' | b'k' => (b"k", 1),
            b'l' if next == b'l' => (b"y", 2),
            b'y' => {
                let before_vowel = vowel(next);
                if before_vowel {
                    (b"y", 1)
                } else {
                    (b"i", 1)
                }
            }
            b'v' | b'w' => (b"b", 1),
            b'z' => (b"s", 1),
            b'g' if next == b'u' && (at(i + 2) == b'e' || at(i + 2) == b'i') => (b"g", 2),
            b'g' if next == b'e' || next == b'i' => (b"j", 1),
            b'x' => (b"ks", 1),
            c if c.is_ascii_alphanumeric() => {
                out.push(c);
                i += 1;
                continue;
            }
            _ => (b"", 1),
        };
        out.extend_from_slice(code);
        i += used;
    }
    out.dedup();
    String::from_utf8(out).unwrap_or_default()
}

/// The phonetic code of every word of a folded text, space-separated.
pub fn phonetic_text(folded: &str) -> String {
    folded
        .split(' ')
        .filter(|w| !w.is_empty())
        .map(phonetic)
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn folding_drops_case_accents_the_puso_and_guarani_nasals() {
        assert_eq!(fold("MARÍA  Ña'ẽ-Peña"), "maria nae pena");
        assert_eq!(fold("  José   Asunción "), "jose asuncion");
        assert_eq!(fold("Güiraú"), "guirau");
        // A decomposed accent (e + combining acute) folds like the composed one.
        assert_eq!(fold("Jose\u{301}"), "jose");
        assert_eq!(fold("Mbaʼe"), "mbae");
    }

    #[test]
    fn particles_titles_and_aliases_leave_the_names_that_identify() {
        let n = split("Ma. del Carmen", "Benítez");
        assert_eq!(n.given, vec!["maria", "carmen"]);
        assert_eq!(split("Mª José", "").given, vec!["maria", "jose"]);
        assert_eq!(split("Dña. Rosa", "").given, vec!["rosa"]);
        let n = split("Doña Fco. José", "de la Cruz");
        assert_eq!(n.given, vec!["francisco", "jose"]);
        assert_eq!(n.surnames, vec!["cruz"]);
        assert_eq!(n.married, None);
        assert_eq!(split("Pepe", "Ayala").given, vec!["jose"]);
    }

    #[test]
    fn a_married_name_is_kept_apart_from_own_surnames() {
        let n = split("María", "González de Pérez");
        assert_eq!(n.surnames, vec!["gonzalez", "perez"]);
        assert_eq!(n.married.as_deref(), Some("perez"));
        // Two surnames then the husband's; a widow's «Vda. de».
        let n = split("Rosa", "Ortiz Villalba de Gómez");
        assert_eq!(n.surnames, vec!["ortiz", "villalba", "gomez"]);
        assert_eq!(n.married.as_deref(), Some("gomez"));
        let n = split("Rosa", "Ortiz Vda. de Gómez");
        assert_eq!(n.surnames, vec!["ortiz", "gomez"]);
        // «del Puerto» is a surname, not a married name.
        let n = split("Ana", "Duarte del Puerto");
        assert_eq!(n.surnames, vec!["duarte", "puerto"]);
        assert_eq!(n.married, None);
    }

    #[test]
    fn gender_variants_share_a_stem() {
        assert_eq!(genderless("francisco"), genderless("francisca"));
        assert_eq!(genderless("julio"), genderless("julia"));
        assert_ne!(genderless("ana"), genderless("ano"));
    }

    #[test]
    fn spellings_that_sound_alike_share_a_phonetic_code() {
        for (a, b) in [
            ("ybarra", "ibarra"),
            ("gimenez", "jimenez"),
            ("vazquez", "baskes"),
            ("zarate", "sarate"),
            ("hernandez", "ernandes"),
            ("benitez", "venites"),
            ("quinonez", "kinones"),
            ("yegros", "llegros"),
            ("mbururu", "bururu"),
            ("guillermo", "guiyermo"),
            ("cecilia", "sesilia"),
            ("rodriguez", "rodrigues"),
        ] {
            assert_eq!(phonetic(a), phonetic(b), "{a} / {b}");
        }
        for (a, b) in [("gomez", "jomes"), ("carlos", "carla"), ("rojas", "rosas")] {
            assert_ne!(phonetic(a), phonetic(b), "{a} / {b}");
        }
    }
}
