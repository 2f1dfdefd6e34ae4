//! "Already registered?": the persons of the registry a new registration (a self-registration
//! under review) may repeat. The candidates are the active persons born the same day or holding
//! the same cédula; each is scored by the latest model kept for the shipped settings — the
//! one the administrative imports trained — and shown when its probability reaches the
//! model's review threshold. Without a kept model, only a candidate with the same cédula, or
//! with the same birth date and the same names once prepared, is shown (as an exact match).

use super::admin::table;
use crate::Result;
use serde::Serialize;
use vamos_linkage::block::Input;
use vamos_linkage::settings::Kind;
use vamos_linkage::table::prepare;
use vamos_store::linkage::{self as stored, Subject};
use vamos_store::Store;

/// A new person to look for: what a form gives.
#[derive(Debug, Clone)]
pub struct NewPerson {
    pub national_id: Option<i64>,
    pub given_names: String,
    pub family_names: String,
    /// ISO date.
    pub birth_date: String,
    pub sex: String,
    pub district_code: i64,
}

/// A registered person who may be one of the new ones.
#[derive(Debug, Clone, Serialize)]
pub struct Likely {
    /// Which new person (index in the list given).
    pub member: usize,
    pub person_id: i64,
    pub household_id: i64,
    pub given_names: Option<String>,
    pub family_names: Option<String>,
    pub birth_date: Option<String>,
    pub district_code: Option<i64>,
    /// The model's probability; `None` for an exact match found without a model.
    pub probability: Option<f64>,
}

/// At most this many likely registrations are shown per new person.
const PER_PERSON: usize = 3;

/// The shipped settings and the latest model kept for them (none yet: exact matches only),
/// loaded once for a page of submissions.
pub struct Scorer {
    settings: vamos_linkage::Settings,
    model: Option<vamos_linkage::Model>,
}

impl Scorer {
    pub fn load(store: &mut dyn Store) -> Result<Scorer> {
        let (settings, _, _) = super::registry_settings(None)?;
        let model = super::kept_model(store, &settings)?.map(|(_, m)| m);
        Ok(Scorer { settings, model })
    }
}

/// The likely registrations of `people` among the persons of `districts` (`None`: national),
/// likeliest first per person. No audit here: the caller's use case (the review queue)
/// records what it showed.
pub fn likely(
    store: &mut dyn Store,
    scorer: &Scorer,
    people: &[NewPerson],
    districts: Option<&[(i64, i64)]>,
) -> Result<Vec<Likely>> {
    let births: Vec<&str> = people.iter().map(|p| p.birth_date.as_str()).collect();
    let ids: Vec<i64> = people.iter().filter_map(|p| p.national_id).collect();
    let found = stored::persons_like(&mut store.db(), &births, &ids, districts)?;
    if found.is_empty() {
        return Ok(Vec::new());
    }
    let settings = &scorer.settings;
    let left_subjects: Vec<Subject> = people
        .iter()
        .enumerate()
        .map(|(i, p)| Subject {
            id: i as i64,
            national_id: p.national_id,
            given_names: Some(p.given_names.clone()),
            family_names: Some(p.family_names.clone()),
            birth_date: Some(p.birth_date.clone()),
            sex: Some(p.sex.clone()),
            district_code: Some(p.district_code),
        })
        .collect();
    let right_subjects: Vec<Subject> = found.iter().map(|(s, _)| s.clone()).collect();
    let mut out = Vec::new();
    match &scorer.model {
        Some(m) => {
            let left = table(settings, &left_subjects)?;
            let right = table(settings, &right_subjects)?;
            let input = Input::Link(&left, &right);
            let m = m.clone().with_term_frequencies(settings, input);
            // Every candidate was chosen by birth date or cédula: all pairs are scored.
            for i in 0..left.len() as u32 {
                for j in 0..right.len() as u32 {
                    let w = m.waterfall(settings, &left, &right, i, j);
                    if w.probability >= settings.thresholds.review {
                        out.push(likely_of(
                            i as usize,
                            &found,
                            j as usize,
                            Some(w.probability),
                        ));
                    }
                }
            }
        }
        None => {
            let names = |g: &str, f: &str| {
                (
                    prepare(g, Kind::Nombre).map(|v| v.text),
                    prepare(f, Kind::Apellidos).map(|v| v.text),
                )
            };
            for (i, p) in people.iter().enumerate() {
                let mine = names(&p.given_names, &p.family_names);
                for (j, (s, _)) in found.iter().enumerate() {
                    let same_id = p.national_id.is_some() && p.national_id == s.national_id;
                    let theirs = names(
                        s.given_names.as_deref().unwrap_or_default(),
                        s.family_names.as_deref().unwrap_or_default(),
                    );
                    let same_names = s.birth_date.as_deref() == Some(p.birth_date.as_str())
                        && mine.0.is_some()
                        && mine == theirs;
                    if same_id || same_names {
                        out.push(likely_of(i, &found, j, None));
                    }
                }
            }
        }
    }
    out.sort_by(|a, b| {
        a.member.cmp(&b.member).then(
            b.probability
                .unwrap_or(1.0)
                .total_cmp(&a.probability.unwrap_or(1.0)),
        )
    });
    let mut kept = Vec::new();
    for l in out {
        if kept
            .iter()
            .filter(|k: &&Likely| k.member == l.member)
            .count()
            < PER_PERSON
        {
            kept.push(l);
        }
    }
    Ok(kept)
}

fn likely_of(member: usize, found: &[(Subject, i64)], j: usize, p: Option<f64>) -> Likely {
    let (s, household) = found.get(j).cloned().unwrap_or_default();
    Likely {
        member,
        person_id: s.id,
        household_id: household,
        given_names: s.given_names,
        family_names: s.family_names,
        birth_date: s.birth_date,
        district_code: s.district_code,
        probability: p,
    }
}
