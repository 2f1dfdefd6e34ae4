//! The web application's languages: Spanish (es-PY, the default) and English, every text a
//! Fluent message of `web/i18n/{es,en}.ftl`, chosen per request (the `?lang=` link sets a
//! cookie; else the cookie; else the browser's `Accept-Language`; else Spanish). Numbers and
//! percentages are written the way each language writes them (es-PY: `1.234.567`, `43,2 %`).

use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource, FluentValue};

/// A language of the interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Es,
    En,
}

/// Name of the cookie that remembers the chosen language.
pub const LANG_COOKIE: &str = "vamos_idioma";

impl Lang {
    /// The `lang` attribute of the page.
    pub fn tag(self) -> &'static str {
        match self {
            Lang::Es => "es-PY",
            Lang::En => "en",
        }
    }

    /// The short code used in links and the cookie.
    pub fn code(self) -> &'static str {
        match self {
            Lang::Es => "es",
            Lang::En => "en",
        }
    }

    pub fn parse(s: &str) -> Option<Lang> {
        match s.trim().to_ascii_lowercase().get(..2) {
            Some("es") => Some(Lang::Es),
            Some("en") => Some(Lang::En),
            _ => None,
        }
    }

    /// The language of a request: `query` (`?lang=`), then the cookie, then the first
    /// supported language of `Accept-Language`, else Spanish.
    pub fn choose(query: Option<&str>, cookie: Option<&str>, accept: Option<&str>) -> Lang {
        if let Some(l) = query.and_then(Lang::parse) {
            return l;
        }
        if let Some(l) = cookie.and_then(Lang::parse) {
            return l;
        }
        accept
            .into_iter()
            .flat_map(|a| a.split(','))
            .filter_map(|part| Lang::parse(part.split(';').next().unwrap_or("")))
            .next()
            .unwrap_or(Lang::Es)
    }

    /// Thousands separator and decimal mark.
    fn marks(self) -> (char, char) {
        match self {
            Lang::Es => ('.', ','),
            Lang::En => (',', '.'),
        }
    }

    /// An integer with thousands separators.
    pub fn int(self, n: i64) -> String {
        vamos_domain::numbers::grouped(n, self.marks().0)
    }

    /// A number with one decimal, with the language's decimal mark.
    pub fn dec(self, n: f64) -> String {
        let (_, dec) = self.marks();
        format!("{n:.1}").replace('.', &dec.to_string())
    }

    /// A ratio (0–1) as a percentage with one decimal; `None` reads "—".
    pub fn pct(self, ratio: Option<f64>) -> String {
        let Some(r) = ratio else {
            return "—".into();
        };
        let (_, dec) = self.marks();
        let s = format!("{:.1}", r * 100.0).replace('.', &dec.to_string());
        match self {
            Lang::Es => format!("{s} %"),
            Lang::En => format!("{s}%"),
        }
    }

    /// A probability as a percentage with the decimals it needs to tell it from 100 % (up to
    /// four: `99,998 %`, `72,4 %`).
    pub fn probability(self, p: Option<f64>) -> String {
        let Some(p) = p else {
            return "—".into();
        };
        let pct = p * 100.0;
        let decimals = (1..=4)
            .find(|d| {
                let s = format!("{pct:.d$}", d = *d);
                s != format!("{:.d$}", 100.0, d = *d) || pct >= 100.0
            })
            .unwrap_or(4);
        let (_, dec) = self.marks();
        let s = format!("{pct:.decimals$}").replace('.', &dec.to_string());
        match self {
            Lang::Es => format!("{s} %"),
            Lang::En => format!("{s}%"),
        }
    }

    /// A moment stored as RFC 3339 (UTC), as people in Paraguay write it, in Paraguay's time
    /// (UTC−3 all year since 2024): `06/12/2026 20:37` (`6 Dec 2026, 20:37` in English). Text
    /// that is not such a moment is shown as it is.
    pub fn when(self, rfc3339: &str) -> String {
        let Some(t) = vamos_app::clock::in_paraguay(rfc3339) else {
            return rfc3339.to_string();
        };
        match self {
            Lang::Es => t.format("%d/%m/%Y %H:%M").to_string(),
            Lang::En => t.format("%-d %b %Y, %H:%M").to_string(),
        }
    }

    /// A calendar date (`AAAA-MM-DD`) as people write it.
    pub fn day(self, ymd: &str) -> String {
        let Ok(d) = chrono::NaiveDate::parse_from_str(ymd, "%Y-%m-%d") else {
            return ymd.to_string();
        };
        match self {
            Lang::Es => d.format("%d/%m/%Y").to_string(),
            Lang::En => d.format("%-d %b %Y").to_string(),
        }
    }

    /// A change of a ratio in percentage points, signed (`+1,2 pp`).
    pub fn points(self, delta: f64) -> String {
        let (_, dec) = self.marks();
        let s = format!("{:+.1}", delta * 100.0).replace('.', &dec.to_string());
        format!("{s} pp")
    }
}

/// The message catalogues of both languages.
pub struct Messages {
    es: FluentBundle<FluentResource>,
    en: FluentBundle<FluentResource>,
}

const ES: &str = include_str!("../../web/i18n/es.ftl");
const EN: &str = include_str!("../../web/i18n/en.ftl");

fn bundle(lang: &str, src: &str) -> Result<FluentBundle<FluentResource>, String> {
    let id: unic_langid::LanguageIdentifier =
        lang.parse().map_err(|e| format!("idioma {lang}: {e:?}"))?;
    let res = FluentResource::try_new(src.to_string())
        .map_err(|(_, errs)| format!("{lang}.ftl: {errs:?}"))?;
    let mut b = FluentBundle::new_concurrent(vec![id]);
    // No Unicode isolation marks around arguments: pages are one direction.
    b.set_use_isolating(false);
    b.add_resource(res)
        .map_err(|errs| format!("{lang}.ftl: {errs:?}"))?;
    Ok(b)
}

impl Messages {
    pub fn load() -> Result<Messages, String> {
        Ok(Messages {
            es: bundle("es-PY", ES)?,
            en: bundle("en", EN)?,
        })
    }

    /// Message `key` in `lang` with `args`; a missing message reads as its key (and the
    /// tests check that none is missing).
    pub fn text(&self, lang: Lang, key: &str, args: &[(&str, String)]) -> String {
        let b = match lang {
            Lang::Es => &self.es,
            Lang::En => &self.en,
        };
        let Some(pattern) = b.get_message(key).and_then(|m| m.value()) else {
            return key.to_string();
        };
        let mut fa = FluentArgs::new();
        for (k, v) in args {
            // A plain whole number is passed as a number so that plurals choose their form
            // ("1 persona", "2 personas"); a figure already written with separators stays text.
            let value = match v.parse::<i64>() {
                Ok(n) if !v.starts_with('+') => FluentValue::from(n),
                _ => FluentValue::from(v.clone()),
            };
            fa.set(*k, value);
        }
        let mut errors = Vec::new();
        b.format_pattern(pattern, Some(&fa), &mut errors)
            .into_owned()
    }

    /// The message ids of a catalogue source (for the tests).
    pub fn ids(src: &str) -> Vec<String> {
        src.lines()
            .filter(|l| l.chars().next().is_some_and(|c| c.is_ascii_alphabetic()))
            .filter_map(|l| l.split_once(" ="))
            .map(|(k, _)| k.trim().to_string())
            .collect()
    }

    pub const SOURCES: [(&'static str, &'static str); 2] = [("es", ES), ("en", EN)];
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_probability_keeps_the_decimals_that_tell_it_from_certainty() {
        assert_eq!(Lang::Es.probability(Some(0.99998)), "99,998 %");
        assert_eq!(Lang::Es.probability(Some(0.724)), "72,4 %");
        assert_eq!(Lang::Es.probability(Some(1.0)), "100,0 %");
        assert_eq!(Lang::En.probability(Some(0.9995)), "99.95%");
        assert_eq!(Lang::Es.probability(None), "—");
    }

    #[test]
    fn moments_are_shown_as_people_write_them_in_paraguay_time() {
        assert_eq!(Lang::Es.when("2026-12-06T23:37:27Z"), "06/12/2026 20:37");
        assert_eq!(Lang::En.when("2026-12-06T23:37:27Z"), "6 Dec 2026, 20:37");
        assert_eq!(Lang::Es.when("ayer"), "ayer");
    }

    #[test]
    fn both_languages_have_the_same_messages() {
        let es = Messages::ids(ES);
        let en = Messages::ids(EN);
        assert!(es.len() > 50, "{}", es.len());
        for k in &es {
            assert!(en.contains(k), "falta «{k}» en en.ftl");
        }
        for k in &en {
            assert!(es.contains(k), "falta «{k}» en es.ftl");
        }
        let m = Messages::load().unwrap();
        assert_eq!(m.text(Lang::Es, "nav-logros", &[]), "Logros");
        assert_eq!(m.text(Lang::En, "nav-login", &[]), "Sign in");
    }

    #[test]
    fn the_language_follows_link_cookie_browser_then_spanish() {
        assert_eq!(Lang::choose(Some("en"), Some("es"), None), Lang::En);
        assert_eq!(Lang::choose(None, Some("en"), Some("es-PY")), Lang::En);
        assert_eq!(Lang::choose(None, None, Some("en-US,en;q=0.9")), Lang::En);
        assert_eq!(Lang::choose(None, None, Some("gn,es;q=0.8")), Lang::Es);
        assert_eq!(Lang::choose(None, None, Some("fr-FR")), Lang::Es);
        assert_eq!(Lang::choose(Some("xx"), None, None), Lang::Es);
    }

    #[test]
    fn a_count_of_one_takes_the_singular_form() {
        let m = Messages::load().unwrap();
        let one = m.text(Lang::Es, "notices-count", &[("count", "1".into())]);
        let two = m.text(Lang::Es, "notices-count", &[("count", "2".into())]);
        assert_eq!(one, "1 aviso");
        assert_eq!(two, "2 avisos");
        let found = m.text(Lang::Es, "reg-results", &[("n", "1".into())]);
        assert!(!found.contains("personas"), "{found}");
        let many = m.text(Lang::Es, "reg-results", &[("n", "8.189".into())]);
        assert!(many.contains("8.189 personas"), "{many}");
    }

    #[test]
    fn a_decimal_takes_the_languages_mark() {
        assert_eq!(Lang::Es.dec(12.5), "12,5");
        assert_eq!(Lang::En.dec(12.5), "12.5");
    }

    #[test]
    fn numbers_are_written_as_each_language_writes_them() {
        assert_eq!(Lang::Es.int(6_512_345), "6.512.345");
        assert_eq!(Lang::En.int(6_512_345), "6,512,345");
        assert_eq!(Lang::Es.int(-1200), "-1.200");
        assert_eq!(Lang::Es.int(999), "999");
        assert_eq!(Lang::Es.pct(Some(0.4321)), "43,2 %");
        assert_eq!(Lang::En.pct(Some(0.4321)), "43.2%");
        assert_eq!(Lang::Es.pct(None), "—");
        assert_eq!(Lang::Es.points(0.012), "+1,2 pp");
        assert_eq!(Lang::En.points(-0.5), "-50.0 pp");
    }
}
