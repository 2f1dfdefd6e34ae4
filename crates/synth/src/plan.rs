//! District planning: how many urban, rural and indigenous households a district gets, which
//! communities they live in, where those are, and what each community's Entorno form says.
//!
//! District-level shares are derived from department figures (`calib`) with the CNPV 2022
//! district table: the urban share is spread so larger districts are more urban while the
//! department total is kept; indigenous population goes preferentially to districts where many
//! people never attended school (the census index tracks where indigenous communities live —
//! Puerto Pinasco, Irala Fernández, Cerro Corá, Mariscal Estigarribia…).

use crate::calib::{self, DistrictStats};
use crate::geo::Geo;
use crate::model::{form_times, push_uuid, Area, Community, DistrictCtx};
use crate::names;
use crate::out::CommunityAnswers;
use crate::rng::Rng64;
use crate::SynthError;
use chrono::{Days, NaiveDate};
use vamos_domain::DistrictCode;

/// Average persons per household by stratum, *approximate* (CNPV 2022: 6.1 M persons in
/// ≈ 1.8 M households; indigenous census ≈ 4.8), used to turn person shares into household
/// shares.
const SIZE_URBAN: f64 = 3.27;
const SIZE_RURAL: f64 = 3.7;
const SIZE_INDIGENOUS: f64 = 4.8;

/// Households per community, *approximate*: urban barrios are larger than rural compañías;
/// indigenous communities average ≈ 40 households (2022: ≈ 137,500 persons in ≈ 780
/// communities, aldeas and barrios).
const COMMUNITY_URBAN: f64 = 180.0;
const COMMUNITY_RURAL: f64 = 90.0;
const COMMUNITY_INDIGENOUS: f64 = 40.0;

/// National tables computed once per run.
pub(crate) struct National {
    stats: Vec<DistrictStats>,
    /// Per district (same order as `stats`): urban person share, indigenous person share.
    urban: Vec<f64>,
    indigenous: Vec<f64>,
    deprivation_norm: f64,
    districts_per_dept: [u32; 18],
    geo: Geo,
}

/// One district's plan.
pub(crate) struct DistrictPlan {
    pub ctx: DistrictCtx,
    pub communities: Vec<Community>,
}

fn logit(p: f64) -> f64 {
    let p = p.clamp(1e-6, 1.0 - 1e-6);
    (p / (1.0 - p)).ln()
}

fn logistic(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

impl National {
    pub(crate) fn load() -> Result<National, SynthError> {
        let stats = calib::district_stats()?;
        let geo = Geo::load()?;
        let dept_of = |s: &DistrictStats| s.code.department().get();
        let mut urban = vec![0.0; stats.len()];
        let mut indigenous = vec![0.0; stats.len()];
        let mut districts_per_dept = [0u32; 18];
        for d in 0..18u8 {
            let idx: Vec<usize> = (0..stats.len())
                .filter(|&i| stats.get(i).map(dept_of) == Some(d))
                .collect();
            if let Some(c) = districts_per_dept.get_mut(usize::from(d)) {
                *c = idx.len() as u32;
            }
            let members: Vec<&DistrictStats> = idx.iter().filter_map(|&i| stats.get(i)).collect();
            let pop: f64 = members.iter().map(|s| s.pop5plus as f64).sum();
            if pop <= 0.0 {
                continue;
            }
            // Urban share: logit(u_d) = logit(U) + 0.8·(ln pop_d − mean ln pop) + c, with c found
            // by bisection so the population-weighted mean equals the department's U.
            let target = calib::URBAN_SHARE_BY_DEPT
                .get(usize::from(d))
                .copied()
                .unwrap_or(0.6);
            let mean_ln = members
                .iter()
                .map(|s| (s.pop5plus as f64).ln() * s.pop5plus as f64)
                .sum::<f64>()
                / pop;
            let score = |s: &DistrictStats, c: f64| {
                if target >= 0.999 {
                    1.0
                } else {
                    logistic(logit(target) + 0.8 * ((s.pop5plus as f64).ln() - mean_ln) + c)
                }
            };
            let (mut lo, mut hi) = (-10.0, 10.0);
            for _ in 0..60 {
                let mid = (lo + hi) / 2.0;
                let m = members
                    .iter()
                    .map(|s| score(s, mid) * s.pop5plus as f64)
                    .sum::<f64>()
                    / pop;
                if m < target {
                    lo = mid;
                } else {
                    hi = mid;
                }
            }
            let c = (lo + hi) / 2.0;
            // Indigenous share: department total spread ∝ pop · idx².
            let ind_total = calib::INDIGENOUS_PERSONS_BY_DEPT
                .get(usize::from(d))
                .copied()
                .unwrap_or(0.0);
            let denom: f64 = members
                .iter()
                .map(|s| s.pop5plus as f64 * s.never_attended_idx.powi(2))
                .sum();
            for &i in &idx {
                let Some(s) = stats.get(i) else { continue };
                if let Some(u) = urban.get_mut(i) {
                    *u = score(s, c);
                }
                if let Some(x) = indigenous.get_mut(i) {
                    let persons = ind_total * s.pop5plus as f64 * s.never_attended_idx.powi(2)
                        / denom.max(1.0);
                    *x = (persons / calib::dept_population(s.pop5plus)).min(0.9);
                }
            }
        }
        let total_pop: f64 = stats.iter().map(|s| s.pop5plus as f64).sum();
        let deprivation_norm = stats
            .iter()
            .map(|s| s.never_attended_idx.powf(0.35) * s.pop5plus as f64)
            .sum::<f64>()
            / total_pop.max(1.0);
        Ok(National {
            stats,
            urban,
            indigenous,
            deprivation_norm,
            districts_per_dept,
            geo,
        })
    }

    pub(crate) fn geo(&self) -> &Geo {
        &self.geo
    }

    fn index(&self, code: DistrictCode) -> Option<usize> {
        self.stats.iter().position(|s| s.code == code)
    }

    pub(crate) fn stats(&self, code: DistrictCode) -> Option<DistrictStats> {
        self.index(code).and_then(|i| self.stats.get(i).copied())
    }

    /// (urban person share, indigenous person share) of a district.
    pub(crate) fn shares(&self, code: DistrictCode) -> (f64, f64) {
        match self.index(code) {
            Some(i) => (
                self.urban.get(i).copied().unwrap_or(0.0),
                self.indigenous.get(i).copied().unwrap_or(0.0),
            ),
            None => (0.0, 0.0),
        }
    }

    /// Plans one district with `quota` households.
    pub(crate) fn plan(
        &self,
        rng: &mut impl Rng64,
        stats: &DistrictStats,
        quota: u64,
    ) -> Result<DistrictPlan, SynthError> {
        let code = stats.code;
        let dept = code.department().get();
        let (urban, indigenous) = self.shares(code);
        // Mennonite colonies of the central Chaco (Fernheim: Filadelfia; Menno: Loma Plata;
        // Neuland: Boquerón), share of non-indigenous households, *approximate*.
        let german = match code.get() {
            1604 => 0.45,
            1605 => 0.5,
            1606 => 0.25,
            _ => 0.0,
        };
        let ctx = DistrictCtx {
            dept,
            chaco: calib::is_chaco(dept),
            portuguese: calib::portuguese_border(dept),
            german,
            deprivation: (stats.never_attended_idx.powf(0.35) / self.deprivation_norm)
                .clamp(0.6, 1.8),
            non_attendance: (stats.never_attended_idx.powf(0.3) / stats.attendance_ratio)
                .clamp(0.5, 2.5),
        };
        // Household counts by stratum (person shares → household shares). The census urban
        // share covers everyone; indigenous communities are counted apart (mostly rural), so the
        // urban share of the remaining population is raised accordingly.
        let urban = if dept == 0 || dept == 11 {
            urban
        } else {
            (urban / (1.0 - indigenous).max(0.1)).min(1.0)
        };
        let ind_hh = indigenous / SIZE_INDIGENOUS;
        let non_hh = (1.0 - indigenous) * (urban / SIZE_URBAN + (1.0 - urban) / SIZE_RURAL);
        let ind_share = if ind_hh + non_hh > 0.0 {
            ind_hh / (ind_hh + non_hh)
        } else {
            0.0
        };
        let urban_hh = {
            let u = urban / SIZE_URBAN;
            let r = (1.0 - urban) / SIZE_RURAL;
            if u + r > 0.0 {
                u / (u + r)
            } else {
                0.0
            }
        };
        let stochastic_round = |rng: &mut dyn FnMut() -> f64, x: f64| -> u64 {
            let f = x.floor();
            f as u64 + u64::from(rng() < x - f)
        };
        let mut unit = || rng.unit();
        let n_ind = stochastic_round(&mut unit, quota as f64 * ind_share).min(quota);
        let n_urb =
            stochastic_round(&mut unit, (quota - n_ind) as f64 * urban_hh).min(quota - n_ind);
        let n_rur = quota - n_ind - n_urb;

        let centre = self.geo.district_centre(dept, code.get());
        let per_dept = f64::from(
            self.districts_per_dept
                .get(usize::from(dept))
                .copied()
                .unwrap_or(1)
                .max(1),
        );
        let radius = 0.35 * self.geo.extent(dept) / per_dept.sqrt();
        let mut communities = Vec::new();
        // Indigenous communities in Asunción and Central are urban barrios.
        let ind_area = if dept == 0 || dept == 11 {
            Area::Urbana
        } else {
            Area::Rural
        };
        // How many communities the district really has, by stratum: its CNPV 2022 households
        // (pop 5+ / 0.924 / persons per household) over the typical community size. A sample
        // smaller than the country keeps that structure (fewer households per community), down
        // to about five sampled households per community.
        let real_households =
            |share: f64, size: f64| calib::dept_population(stats.pop5plus) * share / size;
        for (count, area, ind, real) in [
            (
                n_urb,
                Area::Urbana,
                false,
                real_households((1.0 - indigenous) * urban, SIZE_URBAN) / COMMUNITY_URBAN,
            ),
            (
                n_rur,
                Area::Rural,
                false,
                real_households((1.0 - indigenous) * (1.0 - urban), SIZE_RURAL) / COMMUNITY_RURAL,
            ),
            (
                n_ind,
                ind_area,
                true,
                real_households(indigenous, SIZE_INDIGENOUS) / COMMUNITY_INDIGENOUS,
            ),
        ] {
            if count == 0 {
                continue;
            }
            let k = (real.ceil() as u64).clamp(1, count.div_ceil(5).max(1));
            let weights: Vec<u64> = (0..k).map(|_| rng.int(500, 1500) as u64).collect();
            let quotas = crate::split_exact(count, &weights);
            let list: &[&str] = match (ind, area) {
                (true, _) if calib::is_chaco(dept) => names::COMUNIDADES_CHACO,
                (true, _) => names::COMUNIDADES_ORIENTAL,
                (false, Area::Urbana) => names::BARRIOS,
                (false, Area::Rural) => names::COMPANIAS,
            };
            let len = list.len().max(1) as u64;
            let start = rng.int(0, len as i64 - 1) as u64;
            let stride = coprime_stride(rng, len);
            let pueblos = calib::pueblos(dept);
            for (j, households) in quotas.into_iter().enumerate() {
                if households == 0 {
                    continue;
                }
                let j = j as u64;
                let base = list
                    .get(((start + j * stride) % len) as usize)
                    .copied()
                    .unwrap_or("Comunidad");
                let round = j / len;
                let mut name = if ind {
                    if rng.chance(0.7) {
                        format!("Comunidad Indígena {base}")
                    } else {
                        let p = rng.pick(pueblos);
                        format!("Comunidad {} {base}", pueblo_label(p))
                    }
                } else {
                    base.to_string()
                };
                if round > 0 {
                    name.push_str(&format!(" {}", round + 1));
                }
                let r = match (ind, area) {
                    (false, Area::Urbana) => radius * 0.35,
                    (false, Area::Rural) => radius,
                    (true, _) => radius * 1.2,
                };
                let c = self.geo.scatter(rng, dept, centre, r);
                communities.push(Community {
                    name,
                    area,
                    indigenous: ind,
                    pueblos,
                    centre: c,
                    households,
                    spread: match (ind, area) {
                        (true, _) => 0.006,
                        (false, Area::Urbana) => 0.004,
                        (false, Area::Rural) => 0.02,
                    },
                    school: rng.int(1, 8999) as u32,
                });
            }
        }
        Ok(DistrictPlan { ctx, communities })
    }
}

/// A stride coprime with `len`, so `start + j·stride mod len` visits every name once.
fn coprime_stride(rng: &mut impl Rng64, len: u64) -> u64 {
    if len <= 1 {
        return 1;
    }
    let mut s = rng.int(1, len as i64 - 1) as u64;
    while gcd(s, len) != 1 {
        s = if s + 1 >= len { 1 } else { s + 1 };
    }
    s
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// How a people's name is written in a community name.
fn pueblo_label(code: &str) -> &'static str {
    match code {
        "nivacle" => "Nivaclé",
        "enlhet_norte" => "Enlhet",
        "enxet_sur" => "Enxet",
        "ayoreo" => "Ayoreo",
        "guarani_occidental" => "Guaraní Occidental",
        "guarani_nandeva" => "Guaraní Ñandeva",
        "manjui" => "Manjui",
        "sanapana" => "Sanapaná",
        "angaite" => "Angaité",
        "toba_maskoy" => "Toba Maskoy",
        "qom" => "Qom",
        "maka" => "Maká",
        "guana" => "Guaná",
        "ishir_ybytoso" => "Ybytoso",
        "tomaraho" => "Tomárãho",
        "mbya_guarani" => "Mbyá",
        "ava_guarani" => "Avá Guaraní",
        "pai_tavytera" => "Paĩ Tavyterã",
        "ache" => "Aché",
        _ => "Indígena",
    }
}

/// The Entorno (community) form of one community. Distances, services and priorities are
/// *approximate* profiles by stratum: urban barrios close to services asking for security and
/// jobs; rural compañías asking for roads and water; indigenous communities, above all in the
/// Chaco, asking for water, housing and health. Returns the GPS altitude and accuracy.
pub(crate) fn community_answers(
    rng: &mut impl Rng64,
    comm: &Community,
    ctx: &DistrictCtx,
    reference: NaiveDate,
    a: &mut CommunityAnswers,
) -> (f64, f64) {
    a.fecha = reference
        .checked_sub_days(Days::new(rng.int(1, 90) as u64))
        .unwrap_or(reference);
    let minutes = rng.int(60, 150);
    a.times = form_times(rng, a.fecha, minutes, reference);
    const D: [&str; 4] = ["en_la_comunidad", "hasta_5km", "de_5_a_15km", "mas_15km"];
    let dist = |rng: &mut dyn FnMut() -> f64, w: [f64; 4]| -> &'static str {
        let total: f64 = w.iter().sum();
        let mut u = rng() * total;
        for (code, x) in D.iter().zip(w) {
            if u < x {
                return code;
            }
            u -= x;
        }
        "mas_15km"
    };
    let mut unit = || rng.unit();
    let (salud, escuela) = match (comm.indigenous, comm.area, ctx.chaco) {
        (true, _, true) => ([0.15, 0.2, 0.3, 0.35], [0.6, 0.2, 0.12, 0.08]),
        (true, _, false) => ([0.2, 0.3, 0.35, 0.15], [0.65, 0.2, 0.1, 0.05]),
        (false, Area::Urbana, _) => ([0.45, 0.5, 0.05, 0.0], [0.6, 0.4, 0.0, 0.0]),
        (false, Area::Rural, true) => ([0.15, 0.3, 0.35, 0.2], [0.45, 0.35, 0.15, 0.05]),
        (false, Area::Rural, false) => ([0.2, 0.42, 0.3, 0.08], [0.55, 0.37, 0.07, 0.01]),
    };
    a.puesto_salud = dist(&mut unit, salud);
    a.escuela = dist(&mut unit, escuela);
    let si_no = |b: bool| if b { "si" } else { "no" };
    let (agua, camino, conect) = match (comm.indigenous, comm.area) {
        (true, _) => (0.3, if ctx.chaco { 0.2 } else { 0.35 }, 0.05),
        (false, Area::Urbana) => (0.85, 0.9, 0.3),
        (false, Area::Rural) => (0.6, if ctx.chaco { 0.25 } else { 0.45 }, 0.08),
    };
    a.agua = si_no(rng.chance(agua));
    a.camino = si_no(rng.chance(camino));
    a.conectividad = si_no(rng.chance(conect));
    let mut w: [(&'static str, f64); 10] = match (comm.indigenous, comm.area) {
        (true, _) => [
            ("agua", if ctx.chaco { 5.0 } else { 4.0 }),
            ("vivienda", 2.5),
            ("salud", 2.5),
            ("caminos", 2.0),
            ("educacion", 1.5),
            ("electricidad", 1.5),
            ("empleo", 1.5),
            ("otra", 0.5),
            ("conectividad", 0.5),
            ("seguridad", 0.3),
        ],
        (false, Area::Urbana) => [
            ("seguridad", 3.0),
            ("empleo", 3.0),
            ("salud", 2.5),
            ("vivienda", 1.5),
            ("caminos", 1.5),
            ("educacion", 1.5),
            ("agua", 1.0),
            ("conectividad", 1.0),
            ("electricidad", 0.3),
            ("otra", 0.3),
        ],
        (false, Area::Rural) => [
            ("caminos", 3.5),
            ("agua", if ctx.chaco { 4.0 } else { 2.5 }),
            ("salud", 2.5),
            ("empleo", 2.0),
            ("educacion", 1.5),
            ("conectividad", 1.2),
            ("vivienda", 1.0),
            ("seguridad", 0.6),
            ("electricidad", 0.6),
            ("otra", 0.3),
        ],
    };
    // Three distinct priorities: draw, then remove the drawn one.
    for slot in a.prioridades.iter_mut() {
        let p = rng.pick(&w);
        *slot = p;
        for x in w.iter_mut() {
            if x.0 == p {
                x.1 = 0.0;
            }
        }
    }
    let (lo, hi) = match (comm.indigenous, comm.area) {
        (true, _) => (20, 200),
        (false, Area::Urbana) => (15, 120),
        (false, Area::Rural) => (10, 80),
    };
    a.participantes = rng.int(lo, hi).clamp(5, 300) as u32;
    push_uuid(rng, &mut a.key);
    let alt = (rng.float(80.0, if ctx.chaco { 220.0 } else { 420.0 }) * 10.0).round() / 10.0;
    let acc = (rng.float(3.0, 15.0) * 10.0).round() / 10.0;
    (alt, acc)
}
