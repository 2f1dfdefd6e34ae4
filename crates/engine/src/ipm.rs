//! Multidimensional poverty by the Alkire–Foster method (issue 39): the method as data —
//! dimensions, indicators with nested weights, the poverty cut-off `k` — and the computation over
//! a deprivation matrix, one row per unit of identification (the household) with its weight (the
//! persons living in it: H, A and M0 over persons are INE's convention). A unit is poor when its
//! weighted deprivation score reaches `k`; H is the weighted share of poor units, A their mean
//! score, M0 = H × A = Σ indicator weight × censored headcount. A unit with an indicator
//! *sin dato* is left out of the figures and counted apart (the missing share): a missing answer
//! is never "not deprived". No storage, no clock.

use serde::{Deserialize, Serialize};

pub mod registry;

/// A dimension (its weight: a share of 1).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct Dimension {
    pub code: String,
    pub name: String,
    pub weight: f64,
}

/// An indicator: its dimension and its weight within that dimension (nested weights).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct Indicator {
    pub code: String,
    pub name: String,
    pub dimension: String,
    /// Share of its dimension's weight.
    pub weight_in_dimension: f64,
    /// How the registry decides it (absent in a method used only on deprivation tables).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<IndicatorRule>,
    /// What it means, in words, for the household profile.
    #[serde(default)]
    pub explanation: String,
    /// Where the definition comes from, or why it is an assumption.
    #[serde(default)]
    pub source: String,
}

/// The unit an indicator's rule reads.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum RuleUnit {
    /// A rule over the dwelling's answers (`hogar.`).
    Hogar,
    /// A rule over each member's answers (`persona.`, and `hogar.`), decided for the household
    /// by [`Members`].
    Persona,
}

/// How a household is deprived from its members.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum Members {
    /// Deprived when any eligible member is (OPHI's usual reading).
    #[default]
    Alguno,
    /// Deprived when every eligible member is.
    Todos,
}

/// What a household with no eligible member is (OPHI counts it not deprived).
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum WithoutEligible {
    #[default]
    NoPrivado,
    Privado,
    SinDato,
}

/// An indicator's rule over the FIPS answers, in the catalogue's rule language: `deprived`
/// true is a deprivation, false is none, unknown (a missing answer) is sin dato.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct IndicatorRule {
    pub unit: RuleUnit,
    pub deprived: String,
    /// Members assessed (person rules; all when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eligible: Option<String>,
    #[serde(default)]
    pub members: Members,
    #[serde(default)]
    pub without_eligible: WithoutEligible,
}

/// A method: dimensions, indicators and the poverty cut-off.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct Method {
    pub version: String,
    /// The poverty cut-off as a fraction of the weighted indicators (0.26 = 26 %).
    pub k: f64,
    #[serde(rename = "dimension")]
    pub dimensions: Vec<Dimension>,
    #[serde(rename = "indicator")]
    pub indicators: Vec<Indicator>,
}

impl Method {
    /// Each indicator's weight in the whole index (dimension weight × weight in the dimension),
    /// in the method's order; an error names what does not add up.
    pub fn weights(&self) -> Result<Vec<f64>, String> {
        if !(0.0..=1.0).contains(&self.k) || self.k == 0.0 {
            return Err(format!(
                "k debe estar entre 0 y 1 (0,26 = 26 %): {}",
                self.k
            ));
        }
        if let Some(d) = self
            .dimensions
            .iter()
            .find(|d| !(d.weight.is_finite() && d.weight >= 0.0))
        {
            return Err(format!(
                "el peso de la dimensión {} no puede ser negativo",
                d.code
            ));
        }
        let total: f64 = self.dimensions.iter().map(|d| d.weight).sum();
        if (total - 1.0).abs() > 1e-9 {
            return Err(format!("los pesos de las dimensiones suman {total}, no 1"));
        }
        let mut out = Vec::with_capacity(self.indicators.len());
        let mut seen = std::collections::BTreeSet::new();
        for i in &self.indicators {
            if !seen.insert(i.code.as_str()) {
                return Err(format!("el indicador {} está dos veces", i.code));
            }
            if !(i.weight_in_dimension.is_finite() && i.weight_in_dimension >= 0.0) {
                return Err(format!(
                    "el peso del indicador {} no puede ser negativo",
                    i.code
                ));
            }
            let d = self
                .dimensions
                .iter()
                .find(|d| d.code == i.dimension)
                .ok_or_else(|| {
                    format!(
                        "el indicador {} es de una dimensión desconocida ({})",
                        i.code, i.dimension
                    )
                })?;
            out.push(d.weight * i.weight_in_dimension);
        }
        for d in &self.dimensions {
            let within: f64 = self
                .indicators
                .iter()
                .filter(|i| i.dimension == d.code)
                .map(|i| i.weight_in_dimension)
                .sum();
            if (within - 1.0).abs() > 1e-9 {
                return Err(format!(
                    "los pesos de los indicadores de {} suman {within}, no 1",
                    d.code
                ));
            }
        }
        Ok(out)
    }
}

/// Units of identification that share their deprivations (per indicator of the method, in
/// its order: `Some(true)` deprived, `Some(false)` not, `None` sin dato): how many (`count`,
/// 1 for one household) and their weight (the persons living in them, for INE's figures).
#[derive(Debug, Clone, PartialEq)]
pub struct Unit {
    pub deprived: Vec<Option<bool>>,
    pub weight: f64,
    pub count: u64,
}

/// One indicator's figures.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct IndicatorFigures {
    pub indicator: String,
    pub dimension: String,
    pub weight: f64,
    /// Weighted share of units deprived in it.
    pub uncensored: f64,
    /// Weighted share of units poor and deprived in it.
    pub censored: f64,
    /// weight × censored (Σ = M0).
    pub contribution: f64,
    /// contribution / M0 (0 when M0 is 0).
    pub contribution_share: f64,
}

/// The index over some units.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Figures {
    pub method_version: String,
    pub k: f64,
    /// Incidence: weighted share of poor units.
    #[serde(rename = "H")]
    pub h: f64,
    /// Intensity: mean deprivation score of the poor.
    #[serde(rename = "A")]
    pub a: f64,
    /// The adjusted headcount ratio, the IPM: H × A.
    #[serde(rename = "M0")]
    pub m0: f64,
    pub indicators: Vec<IndicatorFigures>,
    /// Weighted share of units left out for an indicator sin dato.
    pub missing_share: f64,
    /// Units counted (with every indicator) and left out.
    pub units: u64,
    pub units_missing: u64,
    /// Total weight counted (persons, when units are weighted by their members).
    pub weight: f64,
}

/// A unit's weighted deprivation score (`None` with an indicator sin dato).
pub fn score(unit: &Unit, weights: &[f64]) -> Option<f64> {
    let mut c = 0.0;
    for (g, w) in unit.deprived.iter().zip(weights) {
        if (*g)? {
            c += w;
        }
    }
    Some(c)
}

/// Whether score `c` is poor at cut-off `k` (a tolerance absorbs the sums of weights such as
/// 1/12, so that a score equal to `k` in exact arithmetic counts as reaching it).
pub fn poor(c: f64, k: f64) -> bool {
    c + 1e-12 >= k
}

/// Whether a unit with deprivations `deprived` is poor at `k`: by its score, or — with an
/// indicator sin dato — only when the deprivations known already reach `k` (`None`: undecided).
/// The index leaves such a unit out; a priority need not wait for the missing answer.
pub fn decide(deprived: &[Option<bool>], weights: &[f64], k: f64) -> Option<bool> {
    let mut known = 0.0;
    let mut missing = false;
    for (g, w) in deprived.iter().zip(weights) {
        match g {
            Some(true) => known += w,
            Some(false) => {}
            None => missing = true,
        }
    }
    match (poor(known, k), missing) {
        (true, _) => Some(true),
        (false, false) => Some(false),
        (false, true) => None,
    }
}

/// The Alkire–Foster figures of `units` by `method` at cut-off `k` (the method's when `None`).
pub fn compute(method: &Method, units: &[Unit], k: Option<f64>) -> Result<Figures, String> {
    let weights = method.weights()?;
    let k = k.unwrap_or(method.k);
    if !(0.0..=1.0).contains(&k) || k == 0.0 {
        return Err(format!("k debe estar entre 0 y 1: {k}"));
    }
    let n = weights.len();
    let (mut total, mut missing, mut poor_w, mut score_w) = (0.0, 0.0, 0.0, 0.0);
    let (mut counted, mut left_out) = (0u64, 0u64);
    let mut uncensored = vec![0.0; n];
    let mut censored = vec![0.0; n];
    for u in units {
        if u.deprived.len() != n {
            return Err(format!(
                "una unidad tiene {} indicadores; el método, {n}",
                u.deprived.len()
            ));
        }
        let Some(c) = score(u, &weights) else {
            missing += u.weight;
            left_out += u.count;
            continue;
        };
        counted += u.count;
        total += u.weight;
        let is_poor = poor(c, k);
        if is_poor {
            poor_w += u.weight;
            score_w += u.weight * c;
        }
        for (j, g) in u.deprived.iter().enumerate() {
            if *g == Some(true) {
                if let Some(x) = uncensored.get_mut(j) {
                    *x += u.weight;
                }
                if is_poor {
                    if let Some(x) = censored.get_mut(j) {
                        *x += u.weight;
                    }
                }
            }
        }
    }
    let share = |x: f64| if total > 0.0 { x / total } else { 0.0 };
    let h = share(poor_w);
    let a = if poor_w > 0.0 { score_w / poor_w } else { 0.0 };
    let m0 = h * a;
    let indicators = method
        .indicators
        .iter()
        .zip(&weights)
        .enumerate()
        .map(|(j, (i, w))| {
            let cen = share(censored.get(j).copied().unwrap_or(0.0));
            IndicatorFigures {
                indicator: i.code.clone(),
                dimension: i.dimension.clone(),
                weight: *w,
                uncensored: share(uncensored.get(j).copied().unwrap_or(0.0)),
                censored: cen,
                contribution: w * cen,
                contribution_share: if m0 > 0.0 { w * cen / m0 } else { 0.0 },
            }
        })
        .collect();
    Ok(Figures {
        method_version: method.version.clone(),
        k,
        h,
        a,
        m0,
        indicators,
        missing_share: if total + missing > 0.0 {
            missing / (total + missing)
        } else {
            0.0
        },
        units: counted,
        units_missing: left_out,
        weight: total,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two dimensions of ½; the first with two indicators of ½ each (¼ of the index), the
    /// second with one (½).
    fn method(k: f64) -> Method {
        let dim = |c: &str| Dimension {
            code: c.into(),
            name: c.into(),
            weight: 0.5,
        };
        let ind = |c: &str, d: &str, w: f64| Indicator {
            code: c.into(),
            name: c.into(),
            dimension: d.into(),
            weight_in_dimension: w,
            rule: None,
            explanation: String::new(),
            source: String::new(),
        };
        Method {
            version: "prueba".into(),
            k,
            dimensions: vec![dim("D1"), dim("D2")],
            indicators: vec![
                ind("a", "D1", 0.5),
                ind("b", "D1", 0.5),
                ind("c", "D2", 1.0),
            ],
        }
    }

    fn unit(g: [Option<bool>; 3], weight: f64) -> Unit {
        Unit {
            deprived: g.to_vec(),
            weight,
            count: 1,
        }
    }

    #[test]
    fn a_household_sin_dato_is_poor_only_when_its_known_deprivations_reach_k() {
        let w = [0.25, 0.25, 0.5];
        // Complete: the score decides (¼ + ¼ = ½ reaches k = ½).
        assert_eq!(
            decide(&[Some(true), Some(true), Some(false)], &w, 0.5),
            Some(true)
        );
        assert_eq!(
            decide(&[Some(true), Some(false), Some(false)], &w, 0.5),
            Some(false)
        );
        // c missing: a and b already reach ½ — poor whatever c says.
        assert_eq!(decide(&[Some(true), Some(true), None], &w, 0.5), Some(true));
        // c missing and only a known: c could make it ¾ or leave it ¼ — undecided.
        assert_eq!(decide(&[Some(true), Some(false), None], &w, 0.5), None);
    }

    #[test]
    fn a_hand_worked_example_gives_h_a_m0_headcounts_and_contributions() {
        let (t, f) = (Some(true), Some(false));
        // Scores: 0.75, 0.25, 0.5, 0 — weights 2, 1, 1, 4 (persons).
        let units = [
            unit([t, f, t], 2.0),
            unit([t, f, f], 1.0),
            unit([f, f, t], 1.0),
            unit([f, f, f], 4.0),
        ];
        let r = compute(&method(0.5), &units, None).unwrap_or_else(|e| panic!("{e}"));
        // Poor (score ≥ 0.5): the first (2 persons) and the third (1): H = 3/8.
        assert!((r.h - 3.0 / 8.0).abs() < 1e-12, "{r:?}");
        // A = (2 × 0.75 + 1 × 0.5) / 3 = 2/3.
        assert!((r.a - 2.0 / 3.0).abs() < 1e-12);
        assert!((r.m0 - 0.25).abs() < 1e-12, "M0 = H × A = 1/4");
        // Indicator a: deprived 3 persons of 8, but the second unit is not poor — censoring
        // lowers its headcount from 3/8 to 2/8.
        let a = &r.indicators[0];
        assert!((a.uncensored - 3.0 / 8.0).abs() < 1e-12 && (a.censored - 2.0 / 8.0).abs() < 1e-12);
        let c = &r.indicators[2];
        assert!((c.censored - 3.0 / 8.0).abs() < 1e-12);
        // M0 = Σ weight × censored headcount; the shares add to 1.
        let sum: f64 = r.indicators.iter().map(|i| i.contribution).sum();
        assert!((sum - r.m0).abs() < 1e-12);
        let shares: f64 = r.indicators.iter().map(|i| i.contribution_share).sum();
        assert!((shares - 1.0).abs() < 1e-12);
        assert!(
            (c.contribution_share - 0.75).abs() < 1e-12,
            "0.5 × 3/8 of 1/4"
        );
    }

    #[test]
    fn a_unit_with_an_indicator_sin_dato_is_left_out_and_counted_apart() {
        let (t, f) = (Some(true), Some(false));
        let units = [
            unit([t, None, t], 3.0),
            unit([t, f, t], 1.0),
            unit([f, f, f], 1.0),
        ];
        let r = compute(&method(0.26), &units, None).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((r.units, r.units_missing), (2, 1));
        assert!((r.missing_share - 0.6).abs() < 1e-12);
        assert!((r.h - 0.5).abs() < 1e-12, "one of the two counted persons");
    }

    #[test]
    fn a_score_equal_to_k_is_poor_and_weights_must_add_up() {
        let t = Some(true);
        let f = Some(false);
        let r =
            compute(&method(0.25), &[unit([t, f, f], 1.0)], None).unwrap_or_else(|e| panic!("{e}"));
        assert!((r.h - 1.0).abs() < 1e-12);
        let mut bad = method(0.26);
        bad.indicators[0].weight_in_dimension = 0.6;
        assert!(compute(&bad, &[], None).unwrap_err().contains("suman"));
        assert!(compute(&method(0.26), &[], Some(1.5)).is_err());
        let mut twice = method(0.26);
        twice.indicators[1].code = "a".into();
        assert!(compute(&twice, &[], None)
            .unwrap_err()
            .contains("dos veces"));
        let mut negative = method(0.26);
        negative.indicators[0].weight_in_dimension = -0.5;
        negative.indicators[1].weight_in_dimension = 1.5;
        assert!(compute(&negative, &[], None)
            .unwrap_err()
            .contains("negativo"));
    }
}
