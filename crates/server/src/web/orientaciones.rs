//! Orientaciones SPS (`/orientaciones`), public and without login: a citizen or an orientador
//! chooses a district and describes a person (age, sex, pregnancy, disability, indigenous,
//! work, school, rural area, household income and size) and gets the services of the package
//! they are entitled to — per life-cycle category and for the household, núcleo first — with
//! the provider institution and where to go (the delivery points that serve the district, own
//! district first), numbered as a route, printable.
//!
//! Entitlement is decided by the engine itself, not re-stated here: the description becomes a
//! one-household registry in memory (never stored, never logged) and the catalogue's
//! categories and eligibility rules are evaluated on it as on a surveyed person. A rule that
//! needs an answer the form did not ask is shown as "may apply", with the reason.

use super::Page;
use crate::state::AppState;
use axum::extract::{Query, State};
use axum::response::Response;
use chrono::{Months, NaiveDate};
use minijinja::context;
use minijinja::value::Value as JValue;
use serde::Deserialize;
use vamos_app::measurements::FormVocabulary;
use vamos_catalogue::Catalogue;
use vamos_domain::registry::{AnswerRef, CommunityRow, HouseholdRow, PersonRow, RegistrySink, Sex};
use vamos_domain::schema::{position, COMMUNITY_FIELDS, HOUSEHOLD_FIELDS, PERSON_FIELDS};
use vamos_domain::services::{Category, Package};
use vamos_domain::{DistrictCode, Territory, TerritoryCode};
use vamos_engine::{Because, Classifier, RegistryData, Status, Unit};

/// The form, as sent (every field optional: the page explains what is missing).
#[derive(Deserialize, Default, Debug)]
pub struct Form {
    pub distrito: Option<String>,
    pub edad: Option<String>,
    pub meses: Option<String>,
    pub sexo: Option<String>,
    pub embarazada: Option<String>,
    pub discapacidad: Option<String>,
    pub indigena: Option<String>,
    pub trabaja: Option<String>,
    pub estudia: Option<String>,
    pub area: Option<String>,
    pub ingreso: Option<String>,
    pub personas: Option<String>,
}

/// A described person and household.
#[derive(Debug, Clone, PartialEq)]
pub struct Described {
    pub district: DistrictCode,
    pub years: u32,
    pub months: u32,
    pub woman: bool,
    pub pregnant: bool,
    pub disability: bool,
    pub indigenous: bool,
    pub works: Option<bool>,
    pub studies: Option<bool>,
    pub rural: Option<bool>,
    /// Monthly income of the whole household, guaraníes.
    pub income: Option<i64>,
    pub members: u32,
}

fn yes_no(v: &Option<String>) -> Option<bool> {
    match v.as_deref().map(str::trim) {
        Some("si") => Some(true),
        Some("no") => Some(false),
        _ => None,
    }
}

fn checked(v: &Option<String>) -> bool {
    matches!(v.as_deref(), Some("si" | "on" | "1"))
}

/// Reads the form: `Ok(None)` when it was not sent, `Err(message ids)` for what is wrong.
pub fn read(f: &Form) -> Result<Option<Described>, Vec<&'static str>> {
    if f.distrito.is_none() && f.edad.is_none() {
        return Ok(None);
    }
    let mut errors = Vec::new();
    let district = f
        .distrito
        .as_deref()
        .and_then(|s| s.trim().parse::<u16>().ok())
        .and_then(|n| DistrictCode::from_number(n).ok());
    if district.is_none() {
        errors.push("ori-error-district");
    }
    let years = f.edad.as_deref().and_then(|s| s.trim().parse::<u32>().ok());
    if years.is_none_or(|y| y > 120) {
        errors.push("ori-error-age");
    }
    let months = match f.meses.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => Some(0),
        Some(s) => s.parse::<u32>().ok().filter(|m| *m < 12),
    };
    if months.is_none() {
        errors.push("ori-error-months");
    }
    let woman = match f.sexo.as_deref() {
        Some("mujer") => Some(true),
        Some("hombre") => Some(false),
        _ => None,
    };
    if woman.is_none() {
        errors.push("ori-error-sex");
    }
    let pregnant = checked(&f.embarazada);
    if pregnant && woman == Some(false) {
        errors.push("ori-error-pregnant");
    }
    let income = match f
        .ingreso
        .as_deref()
        .map(|s| s.trim().replace(['.', ' '], ""))
    {
        None => None,
        Some(s) if s.is_empty() => None,
        Some(s) => match s.parse::<i64>() {
            Ok(n) if (0..=1_000_000_000).contains(&n) => Some(n),
            _ => {
                errors.push("ori-error-income");
                None
            }
        },
    };
    let members = match f
        .personas
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        None => 1,
        Some(s) => match s.parse::<u32>() {
            Ok(n) if (1..=30).contains(&n) => n,
            _ => {
                errors.push("ori-error-members");
                1
            }
        },
    };
    match (district, years, months, woman) {
        (Some(district), Some(years), Some(months), Some(woman)) if errors.is_empty() => {
            Ok(Some(Described {
                district,
                years,
                months,
                woman,
                pregnant,
                disability: checked(&f.discapacidad),
                indigenous: checked(&f.indigena),
                works: yes_no(&f.trabaja),
                studies: yes_no(&f.estudia),
                rural: match f.area.as_deref() {
                    Some("rural") => Some(true),
                    Some("urbana") => Some(false),
                    _ => None,
                },
                income,
                members,
            }))
        }
        _ => Err(errors),
    }
}

/// Whether a service applies to the described unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entitlement {
    /// The category and the eligibility rule include it.
    Yes,
    /// The eligibility rule needs an answer the form does not ask (or that was left blank).
    Maybe,
}

/// The services the described person (and household) are entitled to, per category, in the
/// catalogue's order within each package, núcleo first.
pub fn entitlements(
    catalogue: &Catalogue,
    d: &Described,
    as_of: NaiveDate,
) -> Vec<(Category, Vec<(usize, Entitlement)>)> {
    let mut data = RegistryData::new(&FormVocabulary);
    let area = d.rural.map(|r| if r { "rural" } else { "urbana" });
    let community_answers = vec![AnswerRef::Null; COMMUNITY_FIELDS.len()];
    data.community(&CommunityRow {
        id: 1,
        district: d.district,
        area,
        survey_date: None,
        answers: &community_answers,
    });
    let household_answers = vec![AnswerRef::Null; HOUSEHOLD_FIELDS.len()];
    data.household(&HouseholdRow {
        id: 1,
        district: d.district,
        community_id: 1,
        area,
        interview_date: as_of,
        answers: &household_answers,
    });
    let birth = as_of
        .checked_sub_months(Months::new(d.years * 12 + d.months))
        .unwrap_or(as_of);
    let mut answers = vec![AnswerRef::Null; PERSON_FIELDS.len()];
    let mut set = |field: &str, value: AnswerRef<'static>| {
        if let Some(slot) = position(PERSON_FIELDS, field).and_then(|i| answers.get_mut(i)) {
            *slot = value;
        }
    };
    let si_no = |b: bool| AnswerRef::Text(if b { "si" } else { "no" });
    set("embarazada", si_no(d.pregnant));
    set("indigena", si_no(d.indigenous));
    if d.disability {
        set("wg_caminar", AnswerRef::Text("mucha"));
    } else {
        for f in [
            "wg_ver",
            "wg_oir",
            "wg_caminar",
            "wg_recordar",
            "wg_cuidado",
            "wg_comunicar",
        ] {
            set(f, AnswerRef::Text("sin_dificultad"));
        }
    }
    if let Some(w) = d.works {
        set("trabaja", si_no(w));
    }
    if let Some(s) = d.studies {
        set("asiste_escuela", si_no(s));
    }
    // The household's income sits with the described person when alone, else with one more
    // member (who does not work, so nothing else about the household changes).
    if d.members == 1 {
        if let Some(i) = d.income {
            set("ingreso_mensual", AnswerRef::Int(i));
        }
    }
    data.person(&PersonRow {
        id: 1,
        household_id: 1,
        national_id: None,
        birth_date: birth,
        sex: if d.woman { Sex::Mujer } else { Sex::Hombre },
        relationship: "jefe",
        answers: &answers,
    });
    // The other members: none works, so they change nothing — except that an income left
    // blank must stay unknown (a worker without declared income makes the household's income
    // unknown, as in a survey), not count as no income at all.
    let other_birth = as_of
        .checked_sub_months(Months::new(30 * 12))
        .unwrap_or(as_of);
    let others = match (d.members, d.income) {
        (1, None) => 1,
        (m, _) => m - 1,
    };
    for n in 1..=others {
        let mut other = vec![AnswerRef::Null; PERSON_FIELDS.len()];
        let mut put = |field: &str, value: AnswerRef<'static>| {
            if let Some(slot) = position(PERSON_FIELDS, field).and_then(|i| other.get_mut(i)) {
                *slot = value;
            }
        };
        match (n, d.income) {
            (1, None) => put("trabaja", AnswerRef::Text("si")),
            (1, Some(i)) => {
                put("trabaja", AnswerRef::Text("no"));
                put("ingreso_mensual", AnswerRef::Int(i));
            }
            _ => put("trabaja", AnswerRef::Text("no")),
        }
        data.person(&PersonRow {
            id: 1 + i64::from(n),
            household_id: 1,
            national_id: None,
            birth_date: other_birth,
            sex: Sex::Mujer,
            relationship: "otro",
            answers: &other,
        });
    }
    data.finish();
    // Poverty by the IPM, when the catalogue chose it, stays unknown here: the description
    // does not ask its questions, so a rule reading `pobre` answers "maybe".
    let cls = Classifier::new(catalogue, &data, as_of);
    let mut cats = Vec::new();
    let (Some(p), Some(h)) = (data.person_by_id(1), data.household_by_id(1)) else {
        return Vec::new();
    };
    cls.person_categories(&data, p, &mut cats);
    cats.push(Category::Hogares);
    let mut out = Vec::new();
    let mut decisions = Vec::new();
    // A service offered in several of the person's categories (ORIENTACIONES SPS is in every
    // core package) is one step of the route, shown in the first category that has it.
    let mut seen = std::collections::HashSet::new();
    for c in cats {
        let unit = if c == Category::Hogares {
            Unit::Household(h)
        } else {
            Unit::Person(p)
        };
        decisions.clear();
        cls.classify(&data, unit, c, &mut decisions);
        let mut services = Vec::new();
        for pkg in [Package::Nucleo, Package::Ampliado, Package::Diferencial] {
            for dec in &decisions {
                let Some(s) = catalogue.services.get(dec.service) else {
                    continue;
                };
                if s.package != pkg || dec.status == Status::NoAplica {
                    continue;
                }
                // The catalogue names each category's copy with its range in brackets
                // ("ORIENTACIONES SPS (30 a 59 años)"): the name before them is the service.
                let base = s.name.split(" (").next().unwrap_or(&s.name).to_lowercase();
                if c != Category::Hogares && !seen.insert((base, s.institution.clone())) {
                    continue;
                }
                let e = if dec.because == Because::EligibilityUnknown {
                    Entitlement::Maybe
                } else {
                    Entitlement::Yes
                };
                services.push((dec.service, e));
            }
        }
        out.push((c, services));
    }
    out
}

/// `GET /orientaciones`
pub async fn page(State(st): State<AppState>, page: Page, Query(f): Query<Form>) -> Response {
    let form = context! {
        distrito => f.distrito.clone(), edad => f.edad.clone(), meses => f.meses.clone(),
        sexo => f.sexo.clone(), embarazada => checked(&f.embarazada),
        discapacidad => checked(&f.discapacidad), indigena => checked(&f.indigena),
        trabaja => f.trabaja.clone(), estudia => f.estudia.clone(), area => f.area.clone(),
        ingreso => f.ingreso.clone(), personas => f.personas.clone(),
    };
    let described = match read(&f) {
        Ok(None) => {
            return page.html(
                "orientaciones.html",
                context! { form, districts => super::districts_by_department(), poverty_by_ipm => st.catalogue.poverty == vamos_catalogue::Poverty::Ipm },
            )
        }
        Err(errors) => {
            return page.html_status(
                axum::http::StatusCode::UNPROCESSABLE_ENTITY,
                "orientaciones.html",
                context! { form, districts => super::districts_by_department(), poverty_by_ipm => st.catalogue.poverty == vamos_catalogue::Poverty::Ipm, errors },
            )
        }
        Ok(Some(d)) => d,
    };
    let as_of = crate::auth::now().date_naive();
    let list = entitlements(&st.catalogue, &described, as_of);
    let district = described.district.to_string();
    let points = st
        .pool
        .run(move |s| {
            Ok(vamos_app::referrals::delivery_points(
                s,
                &vamos_app::Actor::public(),
                Some(&district),
            )?)
        })
        .await;
    let points = match points {
        Ok(p) => p,
        Err(e) => return page.error(&e),
    };
    let c = &st.catalogue;
    let mut step = 0;
    let categories: Vec<JValue> = list
        .iter()
        .map(|(cat, services)| {
            let rows: Vec<JValue> = services
                .iter()
                .filter_map(|(si, e)| {
                    let s = c.services.get(*si)?;
                    step += 1;
                    let places: Vec<JValue> = points
                        .iter()
                        .filter(|p| p.service == s.code)
                        .map(|p| {
                            context! {
                                name => p.name.clone(), level => p.level.clone(),
                                address => p.address.clone(), hours => p.hours.clone(),
                                contact => p.contact.clone(),
                                hosted => p.hosted_services.clone(),
                                mesa => p.mesa_body.is_some(),
                            }
                        })
                        .collect();
                    Some(context! {
                        step,
                        code => s.code.clone(),
                        name => s.name.clone(),
                        institution => s.institution.clone(),
                        institution_name => c.institution(&s.institution).map(|i| i.name.clone()),
                        package => s.package.code(),
                        level => s.delivery_level.code(),
                        maybe => *e == Entitlement::Maybe,
                        places,
                    })
                })
                .collect();
            context! { code => cat.code(), logro => cat.logro(), household => *cat == Category::Hogares, services => rows }
        })
        .collect();
    page.html(
        "orientaciones.html",
        context! {
            form,
            districts => super::districts_by_department(), poverty_by_ipm => st.catalogue.poverty == vamos_catalogue::Poverty::Ipm,
            result => context! {
                district => Territory::official().name_of(TerritoryCode::District(described.district)),
                as_of => as_of.to_string(),
                categories,
                total => step,
                illustrative => c.illustrative,
            },
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn describe(f: &[(&str, &str)]) -> Result<Option<Described>, Vec<&'static str>> {
        let get = |k: &str| f.iter().find(|(x, _)| *x == k).map(|(_, v)| v.to_string());
        read(&Form {
            distrito: get("distrito"),
            edad: get("edad"),
            meses: get("meses"),
            sexo: get("sexo"),
            embarazada: get("embarazada"),
            discapacidad: get("discapacidad"),
            indigena: get("indigena"),
            trabaja: get("trabaja"),
            estudia: get("estudia"),
            area: get("area"),
            ingreso: get("ingreso"),
            personas: get("personas"),
        })
    }

    fn codes(
        c: &Catalogue,
        list: &[(Category, Vec<(usize, Entitlement)>)],
        cat: Category,
    ) -> Vec<String> {
        list.iter()
            .find(|(x, _)| *x == cat)
            .map(|(_, s)| {
                s.iter()
                    .filter_map(|(i, _)| c.services.get(*i).map(|s| s.code.clone()))
                    .collect()
            })
            .unwrap_or_default()
    }

    #[test]
    fn a_service_of_several_categories_is_one_step_of_the_route() {
        let c = vamos_catalogue::default_catalogue(&FormVocabulary).unwrap();
        let d = describe(&[
            ("distrito", "1116"),
            ("edad", "30"),
            ("sexo", "mujer"),
            ("embarazada", "si"),
            ("discapacidad", "si"),
            ("indigena", "si"),
        ])
        .unwrap()
        .unwrap();
        let as_of = NaiveDate::from_ymd_opt(2026, 11, 23).unwrap();
        let list = entitlements(&c, &d, as_of);
        let persons: Vec<_> = list
            .iter()
            .filter(|(k, _)| *k != Category::Hogares)
            .collect();
        assert!(persons.len() > 1, "the person has several categories");
        let orientations = persons
            .iter()
            .flat_map(|(_, s)| s.iter())
            .filter_map(|(i, _)| c.services.get(*i))
            .filter(|s| s.name.to_uppercase().contains("ORIENTACIONES"))
            .count();
        assert_eq!(orientations, 1);
    }

    #[test]
    fn the_form_is_read_with_its_errors_named() {
        assert_eq!(describe(&[]), Ok(None));
        let e = describe(&[("distrito", "9999"), ("edad", "200"), ("sexo", "x")]).unwrap_err();
        assert_eq!(
            e,
            vec!["ori-error-district", "ori-error-age", "ori-error-sex"]
        );
        let e = describe(&[
            ("distrito", "1602"),
            ("edad", "30"),
            ("sexo", "hombre"),
            ("embarazada", "si"),
        ])
        .unwrap_err();
        assert_eq!(e, vec!["ori-error-pregnant"]);
        let d = describe(&[
            ("distrito", "1602"),
            ("edad", "24"),
            ("sexo", "mujer"),
            ("embarazada", "si"),
            ("ingreso", "1.500.000"),
            ("personas", "3"),
        ])
        .unwrap()
        .unwrap();
        assert_eq!(d.income, Some(1_500_000));
        assert_eq!(d.members, 3);
        assert!(d.pregnant && d.woman);
    }

    #[test]
    fn a_pregnant_woman_is_entitled_to_prenatal_care_and_her_age_group() {
        let c = vamos_app::measurements::load_catalogue(None).unwrap();
        let as_of = NaiveDate::from_ymd_opt(2026, 11, 23).unwrap();
        let d = describe(&[
            ("distrito", "1602"),
            ("edad", "24"),
            ("sexo", "mujer"),
            ("embarazada", "si"),
        ])
        .unwrap()
        .unwrap();
        let list = entitlements(&c, &d, as_of);
        let cats: Vec<Category> = list.iter().map(|(c, _)| *c).collect();
        assert_eq!(
            cats,
            vec![
                Category::AntesDelNacimiento,
                Category::Juventud,
                Category::Hogares
            ]
        );
        let prenatal = codes(&c, &list, Category::AntesDelNacimiento);
        assert!(
            prenatal.iter().any(|s| s.contains("prenatal")),
            "{prenatal:?}"
        );
        // Not pregnant, or a man: no prenatal category.
        let d = describe(&[("distrito", "1602"), ("edad", "24"), ("sexo", "hombre")])
            .unwrap()
            .unwrap();
        let cats: Vec<Category> = entitlements(&c, &d, as_of)
            .iter()
            .map(|(c, _)| *c)
            .collect();
        assert_eq!(cats, vec![Category::Juventud, Category::Hogares]);
        // A baby of 3 months: at birth and after birth.
        let d = describe(&[
            ("distrito", "1116"),
            ("edad", "0"),
            ("meses", "3"),
            ("sexo", "mujer"),
        ])
        .unwrap()
        .unwrap();
        let cats: Vec<Category> = entitlements(&c, &d, as_of)
            .iter()
            .map(|(c, _)| *c)
            .collect();
        assert_eq!(
            cats,
            vec![
                Category::EnElNacimiento,
                Category::DespuesDelNacimiento,
                Category::Hogares
            ]
        );
    }

    #[test]
    fn eligibility_follows_the_catalogue_rules_and_unknowns_are_maybe() {
        let c = vamos_app::measurements::load_catalogue(None).unwrap();
        let as_of = NaiveDate::from_ymd_opt(2026, 11, 23).unwrap();
        // The pension for older adults is ruled by age (`persona.edad >= 65`).
        let old = describe(&[("distrito", "1116"), ("edad", "70"), ("sexo", "hombre")])
            .unwrap()
            .unwrap();
        let younger = describe(&[("distrito", "1116"), ("edad", "62"), ("sexo", "hombre")])
            .unwrap()
            .unwrap();
        let a = codes(&c, &entitlements(&c, &old, as_of), Category::AdultosMayores);
        let b = codes(
            &c,
            &entitlements(&c, &younger, as_of),
            Category::AdultosMayores,
        );
        assert!(a.len() > b.len(), "{a:?} vs {b:?}");
        // Poverty: unknown income makes the poverty-ruled services "maybe"; a poor household
        // makes them apply; a rich one removes them.
        let rule_poor = c
            .services
            .iter()
            .position(|s| s.category == Category::Hogares && s.eligibility.is_some())
            .unwrap();
        let find = |f: &[(&str, &str)]| {
            let d = describe(f).unwrap().unwrap();
            entitlements(&c, &d, as_of)
                .into_iter()
                .flat_map(|(_, s)| s)
                .find(|(i, _)| *i == rule_poor)
                .map(|(_, e)| e)
        };
        let base = [
            ("distrito", "1116"),
            ("edad", "40"),
            ("sexo", "mujer"),
            ("personas", "4"),
        ];
        assert_eq!(find(&base), Some(Entitlement::Maybe));
        assert_eq!(
            find(&[&base[..], &[("ingreso", "400000")]].concat()),
            Some(Entitlement::Yes)
        );
        assert_eq!(
            find(&[&base[..], &[("ingreso", "90000000")]].concat()),
            None
        );
    }
}
