//! The household model: who lives together, and what the FIPS would record about them.
//!
//! One household at a time is drawn into a reused buffer (nothing is kept after it is written),
//! in this order: interview date → composition (head, spouse, children, other relatives, with
//! coherent ages) → names → poverty status → each member's answers → dwelling. Later steps
//! condition on earlier ones, which is what makes the answers hang together: poor households
//! have fewer formal jobs, so less IPS coverage and more Tekoporã; older adults carry more
//! disability and more pensions; indigenous households in the Chaco fetch water from a tajamar.
//! Figures are from `calib` where a public source exists; other rates are labelled
//! *approximate* next to where they are used.

use crate::calib::{self, ADULTOS_MAYORES_PENSION, MINIMUM_WAGE};
use crate::cedula::CedulaAllocator;
use crate::geo::Point;
use crate::names::{self, NameParts};
use crate::out::Times;
use crate::rng::Rng64;
use chrono::{Datelike, Days, NaiveDate};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Area {
    #[default]
    Urbana,
    Rural,
}

impl Area {
    pub(crate) fn code(self) -> &'static str {
        match self {
            Area::Urbana => "urbana",
            Area::Rural => "rural",
        }
    }
}

/// Monetary poverty status of the household (EPHC categories plus two non-poor strata).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub(crate) enum Class {
    Extreme,
    Poor,
    Vulnerable,
    #[default]
    Middle,
    Upper,
}

impl Class {
    pub(crate) fn is_poor(self) -> bool {
        self <= Class::Poor
    }
}

/// What the model needs to know about the district.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DistrictCtx {
    pub dept: u8,
    pub chaco: bool,
    pub portuguese: bool,
    /// Share of non-indigenous households of German-speaking Mennonite families.
    pub german: f64,
    /// Poverty multiplier from the census "never attended school" index (≈ 0.6 … 1.8).
    pub deprivation: f64,
    /// Non-attendance multiplier for school-age children (≈ 0.5 … 2.5).
    pub non_attendance: f64,
}

/// One community (barrio, compañía or indigenous community) of a district.
#[derive(Debug, Clone)]
pub(crate) struct Community {
    pub name: String,
    pub area: Area,
    pub indigenous: bool,
    pub pueblos: &'static [(&'static str, f64)],
    pub centre: Point,
    pub households: u64,
    /// Scatter radius of its dwellings, degrees.
    pub spread: f64,
    /// Numbers of the school and health post serving it (used in registry details).
    pub school: u32,
}

/// One household member. Select-one answers are stored as their XLSForm codes (`""` = not
/// relevant / unanswered), so writing a row needs no lookups.
#[derive(Debug, Clone, Default)]
pub(crate) struct Person {
    pub rel: &'static str,
    pub female: bool,
    /// Age in completed years at the interview date (what the form's `edad` computes).
    pub age: u32,
    pub birth: NaiveDate,
    pub names: NameParts,
    /// The person's cédula number, 0 when none.
    pub cedula: u32,
    /// Whether the informant gave the number (`tiene_cedula` may be `si` with no number).
    pub cedula_reported: bool,
    pub embarazada: &'static str,
    pub controles: Option<u32>,
    pub wg: [&'static str; 6],
    pub indigena: bool,
    pub pueblo: &'static str,
    /// Bit set over `IDIOMAS`.
    pub idiomas: u8,
    pub asiste: &'static str,
    pub nivel: &'static str,
    pub alfabetizado: &'static str,
    pub seguro: &'static str,
    pub carnet: &'static str,
    pub inscripcion: &'static str,
    pub trabaja: &'static str,
    pub tipo_empleo: &'static str,
    pub aporta: &'static str,
    pub pension: &'static str,
    pub ingreso: Option<u64>,
    /// Bit set over `PROGRAMAS`.
    pub programas: u8,
    // Answers the FIPS asks since 2026-12 for the multidimensional poverty index.
    pub horas: Option<u32>,
    pub desea_mas_horas: &'static str,
    pub busca_trabajo: &'static str,
    pub enfermo: &'static str,
    pub consulto: &'static str,
    pub anios: Option<u32>,
}

/// `idioma` choice list, in form order.
pub(crate) const IDIOMAS: [&str; 5] = [
    "guarani",
    "castellano",
    "portugues",
    "lengua_indigena",
    "otro",
];
const GUA: u8 = 1;
const CAS: u8 = 2;
const POR: u8 = 4;
const IND: u8 = 8;
const OTRO: u8 = 16;

/// `programa` choice list, in form order.
pub(crate) const PROGRAMAS: [&str; 8] = [
    "tekopora",
    "adultos_mayores",
    "abrazo",
    "pani",
    "alimentacion_escolar",
    "becas",
    "tenonder",
    "ninguno",
];
const P_TEKOPORA: u8 = 1;
const P_ADULTOS: u8 = 2;
const P_ABRAZO: u8 = 4;
const P_PANI: u8 = 8;
const P_ALIM: u8 = 16;
const P_BECAS: u8 = 32;
const P_TENONDER: u8 = 64;

/// Dwelling answers (group `vivienda`).
#[derive(Debug, Clone, Default)]
pub(crate) struct Dwelling {
    pub tenencia: &'static str,
    pub paredes: &'static str,
    pub piso: &'static str,
    pub techo: &'static str,
    pub cuartos: u32,
    pub dormitorios: u32,
    pub agua: &'static str,
    pub saneamiento: &'static str,
    pub electricidad: &'static str,
    pub tarifa_social: &'static str,
    pub internet: &'static str,
    pub combustible: &'static str,
    pub basura: &'static str,
}

/// One household, reused from one draw to the next.
#[derive(Debug, Clone, Default)]
pub(crate) struct Household {
    pub interview: NaiveDate,
    pub area: Area,
    pub indigenous: bool,
    pub german: bool,
    pub class: Class,
    pub dwelling: Dwelling,
    pub members: Vec<Person>,
    pub gps: Point,
    pub gps_alt: f64,
    pub gps_acc: f64,
    pub times: Times,
    pub direccion: String,
    /// `uuid:…`, both `meta-instanceID` and `KEY`.
    pub key: String,
}

impl Default for Point {
    fn default() -> Self {
        Point {
            lon: -57.6,
            lat: -25.3,
        }
    }
}

/// Age in completed years at `at`.
pub(crate) fn age_at(birth: NaiveDate, at: NaiveDate) -> u32 {
    let mut a = at.year() - birth.year();
    if (at.month(), at.day()) < (birth.month(), birth.day()) {
        a -= 1;
    }
    u32::try_from(a.max(0)).unwrap_or(0)
}

/// `date` minus `years` calendar years (29 February becomes 28 February).
fn minus_years(date: NaiveDate, years: u32) -> NaiveDate {
    let y = date.year() - years as i32;
    NaiveDate::from_ymd_opt(y, date.month(), date.day())
        .or_else(|| NaiveDate::from_ymd_opt(y, date.month(), 28))
        .unwrap_or(date)
}

/// A birth date giving exactly `age` completed years at `at`, uniform over that year of life.
fn birth_for_age(rng: &mut impl Rng64, age: u32, at: NaiveDate) -> NaiveDate {
    let latest = minus_years(at, age); // birthday today → exactly `age`
    let earliest = minus_years(at, age + 1); // one day after this → still `age`
    let span = (latest - earliest).num_days().max(1);
    let back = rng.int(0, span - 1);
    latest
        .checked_sub_days(Days::new(back as u64))
        .unwrap_or(latest)
}

fn poisson(rng: &mut impl Rng64, lambda: f64) -> u32 {
    let l = (-lambda.max(0.0)).exp();
    let mut k = 0;
    let mut p = 1.0;
    loop {
        p *= rng.unit();
        if p <= l || k > 30 {
            return k;
        }
        k += 1;
    }
}

/// Interim member while the composition is drawn.
#[derive(Debug, Clone, Copy)]
struct Proto {
    rel: &'static str,
    female: bool,
    age: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Kind {
    Alone,
    Couple,
    #[default]
    Nuclear,
    SingleParent,
    Extended,
    Compound,
}

/// Household types, *approximate* shares after the EPHC household typology (unipersonal ≈ 11 %,
/// nuclear ≈ 55 %, extended ≈ 30 %, compound ≈ 2 %); indigenous households are larger and
/// more often extended (indigenous census: ≈ 4.8 persons per household).
fn kind(rng: &mut impl Rng64, area: Area, indigenous: bool) -> Kind {
    use Kind::*;
    if indigenous {
        return rng.pick(&[
            (Alone, 0.03),
            (Couple, 0.05),
            (Nuclear, 0.52),
            (SingleParent, 0.07),
            (Extended, 0.33),
        ]);
    }
    match area {
        Area::Urbana => rng.pick(&[
            (Alone, 0.105),
            (Couple, 0.08),
            (Nuclear, 0.39),
            (SingleParent, 0.13),
            (Extended, 0.27),
            (Compound, 0.02),
        ]),
        Area::Rural => rng.pick(&[
            (Alone, 0.095),
            (Couple, 0.09),
            (Nuclear, 0.42),
            (SingleParent, 0.09),
            (Extended, 0.28),
            (Compound, 0.01),
        ]),
    }
}

/// Fertility parameters: expected births per mother, first birth age range, spacing.
/// Total fertility ≈ 2.4 nationally (higher rural, ≈ 4 indigenous), *approximate*.
struct Fertility {
    births: f64,
    first: (i64, i64),
    spacing: (i64, i64),
}

fn fertility(area: Area, indigenous: bool) -> Fertility {
    if indigenous {
        Fertility {
            births: 4.0,
            first: (17, 23),
            spacing: (1, 4),
        }
    } else if area == Area::Rural {
        Fertility {
            births: 2.7,
            first: (17, 27),
            spacing: (2, 5),
        }
    } else {
        Fertility {
            births: 2.15,
            first: (18, 31),
            spacing: (2, 6),
        }
    }
}

/// Probability that a child of this age still lives with the parents.
fn stays(age: u32, extended: bool) -> f64 {
    let p: f64 = match age {
        0..=17 => 0.975,
        18..=20 => 0.92,
        21..=24 => 0.8,
        25..=29 => 0.58,
        30..=34 => 0.3,
        _ => 0.12,
    };
    if extended && age >= 18 {
        (p * 1.6).min(0.95)
    } else {
        p
    }
}

/// Children of a mother aged `mother_age`, as ages (youngest last).
fn births(
    rng: &mut impl Rng64,
    mother_age: u32,
    f: &Fertility,
    extended: bool,
    out: &mut Vec<u32>,
) {
    out.clear();
    let k = 1 + poisson(rng, (f.births - 1.0).max(0.0));
    let mut b = rng.int(f.first.0, f.first.1);
    for _ in 0..k {
        if b > 44 {
            break;
        }
        let child = i64::from(mother_age) - b;
        if child < 0 {
            break;
        }
        let child = child as u32;
        if rng.chance(stays(child, extended)) {
            out.push(child);
        }
        b += rng.int(f.spacing.0, f.spacing.1);
    }
}

/// Age of a mother with children at home (ages 18–62), *approximate*.
fn mother_age(rng: &mut impl Rng64, indigenous: bool) -> u32 {
    let band = if indigenous {
        rng.pick(&[
            ((18, 24), 0.3),
            ((25, 34), 0.38),
            ((35, 44), 0.22),
            ((45, 55), 0.10),
        ])
    } else {
        rng.pick(&[
            ((19, 24), 0.09),
            ((25, 34), 0.27),
            ((35, 44), 0.32),
            ((45, 54), 0.23),
            ((55, 62), 0.09),
        ])
    };
    rng.int(band.0, band.1) as u32
}

/// Husband's age given the wife's: usually a few years older.
fn husband_age(rng: &mut impl Rng64, wife: u32) -> u32 {
    let d = rng.normal(3.0, 3.5).round().clamp(-2.0, 12.0) as i64;
    (i64::from(wife) + d).clamp(18, 105) as u32
}

fn wife_age(rng: &mut impl Rng64, husband: u32) -> u32 {
    let d = rng.normal(3.0, 3.5).round().clamp(-2.0, 12.0) as i64;
    (i64::from(husband) - d).clamp(18, 105) as u32
}

/// Draws who lives in the household: head first, then the others.
#[allow(clippy::too_many_lines)] // reason: one pass over its input, not yet split into steps
fn compose(
    rng: &mut impl Rng64,
    area: Area,
    indigenous: bool,
    out: &mut Vec<Proto>,
    kids: &mut Vec<u32>,
) {
    out.clear();
    let fert = fertility(area, indigenous);
    let male_headed_couple = if area == Area::Rural { 0.76 } else { 0.66 };
    let k = kind(rng, area, indigenous);
    let push = |out: &mut Vec<Proto>, rel: &'static str, female: bool, age: u32| {
        out.push(Proto {
            rel,
            female,
            age: age.min(110),
        });
    };
    match k {
        Kind::Alone => {
            let (lo, hi) = rng.pick(&[
                ((18, 29), 0.12),
                ((30, 44), 0.16),
                ((45, 59), 0.24),
                ((60, 74), 0.33),
                ((75, 95), 0.15),
            ]);
            let age = rng.int(lo, hi) as u32;
            let female = rng.chance(if age >= 60 { 0.58 } else { 0.38 });
            push(out, "jefe", female, age);
        }
        Kind::Couple => {
            let (lo, hi) = rng.pick(&[
                ((20, 34), 0.3),
                ((55, 69), 0.42),
                ((70, 82), 0.23),
                ((83, 92), 0.05),
            ]);
            let head = rng.int(lo, hi) as u32;
            let female_head = !rng.chance(male_headed_couple);
            let other = if female_head {
                husband_age(rng, head)
            } else {
                wife_age(rng, head)
            };
            push(out, "jefe", female_head, head);
            push(out, "conyuge", !female_head, other);
        }
        Kind::Nuclear | Kind::SingleParent | Kind::Compound => {
            let m = mother_age(rng, indigenous);
            let single = k == Kind::SingleParent;
            births(rng, m, &fert, false, kids);
            if single {
                if rng.chance(0.86) {
                    push(out, "jefe", true, m.max(18));
                } else {
                    push(out, "jefe", false, husband_age(rng, m));
                }
            } else {
                let f = husband_age(rng, m);
                if rng.chance(male_headed_couple) {
                    push(out, "jefe", false, f);
                    push(out, "conyuge", true, m);
                } else {
                    push(out, "jefe", true, m);
                    push(out, "conyuge", false, f);
                }
            }
            for &a in kids.iter() {
                push(out, "hijo", rng.chance(0.49), a);
            }
            if k == Kind::Compound {
                if rng.chance(0.5) {
                    push(out, "servicio_domestico", true, rng.int(18, 55) as u32);
                } else {
                    push(out, "no_pariente", rng.chance(0.5), rng.int(18, 60) as u32);
                }
            }
        }
        Kind::Extended => {
            let variant = rng.unit();
            if variant < 0.45 {
                // Older head with adult children and grandchildren (or grandchildren only).
                let (lo, hi) = rng.pick(&[((50, 66), 0.58), ((67, 82), 0.42)]);
                let m = rng.int(lo, hi) as u32;
                births(rng, m, &fert, true, kids);
                let with_husband = rng.chance(0.7);
                if with_husband {
                    let f = husband_age(rng, m);
                    if rng.chance(male_headed_couple) {
                        push(out, "jefe", false, f);
                        push(out, "conyuge", true, m);
                    } else {
                        push(out, "jefe", true, m);
                        push(out, "conyuge", false, f);
                    }
                } else if rng.chance(0.85) {
                    push(out, "jefe", true, m);
                } else {
                    push(out, "jefe", false, husband_age(rng, m));
                }
                let adult = kids.iter().copied().filter(|&a| a >= 18).max();
                for &a in kids.iter() {
                    push(out, "hijo", rng.chance(0.49), a);
                }
                match adult {
                    Some(parent) if rng.chance(0.75) => {
                        // The grandchildren's parent lives here too (an adult child).
                        let parent_female = rng.chance(0.62);
                        if let Some(p) = out.iter_mut().find(|p| p.rel == "hijo" && p.age == parent)
                        {
                            p.female = parent_female;
                        }
                        let mother = if parent_female {
                            parent
                        } else {
                            wife_age(rng, parent)
                        };
                        let f2 = Fertility {
                            births: fert.births * 0.8,
                            first: (17, 27),
                            spacing: fert.spacing,
                        };
                        births(rng, mother, &f2, false, kids);
                        let partner = if parent_female {
                            rng.chance(0.35)
                        } else {
                            rng.chance(0.6)
                        };
                        if partner {
                            let age = if parent_female {
                                husband_age(rng, parent)
                            } else {
                                mother
                            };
                            push(out, "yerno_nuera", !parent_female, age);
                        }
                        for &a in kids.iter() {
                            push(out, "nieto", rng.chance(0.49), a);
                        }
                    }
                    _ => {
                        // Skip-generation household: grandchildren whose parents migrated.
                        let head_age = out.first().map(|p| p.age).unwrap_or(60);
                        let max_age = head_age.saturating_sub(36).min(17);
                        for _ in 0..rng.int(1, 3) {
                            push(
                                out,
                                "nieto",
                                rng.chance(0.49),
                                rng.int(0, i64::from(max_age)) as u32,
                            );
                        }
                    }
                }
            } else {
                // A family with children plus an elderly parent, a sibling or another relative.
                let m = mother_age(rng, indigenous);
                births(rng, m, &fert, false, kids);
                let f = husband_age(rng, m);
                let couple = rng.chance(0.75);
                let female_head = if couple {
                    !rng.chance(male_headed_couple)
                } else {
                    rng.chance(0.85)
                };
                let head_age = if female_head { m } else { f };
                push(out, "jefe", female_head, head_age.max(18));
                if couple {
                    push(
                        out,
                        "conyuge",
                        !female_head,
                        if female_head { f } else { m },
                    );
                }
                for &a in kids.iter() {
                    push(out, "hijo", rng.chance(0.49), a);
                }
                if variant < 0.82 {
                    let rel = if couple && rng.chance(0.3) {
                        "suegro"
                    } else {
                        "padre_madre"
                    };
                    let base = if rel == "suegro" {
                        if female_head {
                            f
                        } else {
                            m
                        }
                    } else {
                        head_age
                    };
                    let old = (base + rng.int(19, 36) as u32).min(100);
                    push(out, rel, rng.chance(0.7), old);
                    if rng.chance(0.2) {
                        push(
                            out,
                            rel,
                            !out.last().is_some_and(|p| p.female),
                            (old + rng.int(0, 5) as u32).min(100),
                        );
                    }
                } else {
                    for _ in 0..rng.int(1, 2) {
                        if rng.chance(0.6) {
                            let a = (i64::from(head_age) + rng.int(-12, 12)).clamp(12, 95) as u32;
                            push(out, "hermano", rng.chance(0.5), a);
                        } else {
                            push(out, "otro_pariente", rng.chance(0.5), rng.int(5, 40) as u32);
                        }
                    }
                }
            }
        }
    }
    out.truncate(20);
}

/// Everything needed to draw one household.
pub(crate) struct Drawer<'a> {
    pub ctx: DistrictCtx,
    pub reference: NaiveDate,
    pub cedulas: &'a mut CedulaAllocator,
    protos: Vec<Proto>,
    kids: Vec<u32>,
}

impl<'a> Drawer<'a> {
    pub(crate) fn new(
        ctx: DistrictCtx,
        reference: NaiveDate,
        cedulas: &'a mut CedulaAllocator,
    ) -> Self {
        Drawer {
            ctx,
            reference,
            cedulas,
            protos: Vec::with_capacity(24),
            kids: Vec::with_capacity(16),
        }
    }

    /// Draws one household of `comm` into `hh` (its previous content is overwritten).
    pub(crate) fn draw(
        &mut self,
        rng: &mut impl Rng64,
        comm: &Community,
        geo: &crate::geo::Geo,
        hh: &mut Household,
    ) {
        let ctx = self.ctx;
        hh.interview = self
            .reference
            .checked_sub_days(Days::new(rng.int(1, 90) as u64))
            .unwrap_or(self.reference);
        hh.area = comm.area;
        hh.indigenous = comm.indigenous;
        hh.german = !comm.indigenous && rng.chance(ctx.german);
        hh.gps = geo.scatter(rng, ctx.dept, comm.centre, comm.spread);
        hh.gps_alt = (rng.float(80.0, if ctx.chaco { 220.0 } else { 420.0 }) * 10.0).round() / 10.0;
        hh.gps_acc = (rng.float(3.0, 20.0) * 10.0).round() / 10.0;
        push_uuid(rng, &mut hh.key);
        address(rng, comm, &mut hh.direccion);
        compose(
            rng,
            comm.area,
            comm.indigenous,
            &mut self.protos,
            &mut self.kids,
        );
        hh.class = class(rng, &ctx, comm, self.protos.len());

        hh.members.clear();
        for proto in &self.protos {
            let birth = birth_for_age(rng, proto.age, hh.interview);
            hh.members.push(Person {
                rel: proto.rel,
                female: proto.female,
                age: age_at(birth, hh.interview),
                birth,
                ..Person::default()
            });
        }
        name_members(rng, hh);
        let pueblo = if hh.indigenous {
            rng.pick(comm.pueblos)
        } else {
            ""
        };
        let langs = household_languages(rng, &ctx, hh);
        for i in 0..hh.members.len() {
            if let Some(p) = hh.members.get_mut(i) {
                person(
                    rng,
                    &ctx,
                    hh.area,
                    hh.indigenous,
                    hh.class,
                    pueblo,
                    langs,
                    self.reference,
                    self.cedulas,
                    p,
                );
            }
        }
        insurance(rng, hh);
        incomes(rng, hh);
        programmes(rng, hh);
        hh.dwelling = dwelling(rng, &ctx, hh);
        poverty_answers(hh);
        let minutes = 12 + 5 * hh.members.len() as i64 + rng.int(0, 15);
        hh.times = form_times(rng, hh.interview, minutes, self.reference);
    }
}

/// The answers added for the multidimensional poverty index (hours worked and the wish to work
/// more, job search, illness and consultation in the last 90 days, years of schooling), drawn
/// from a generator seeded by the household's key: the main stream keeps its order of draws. Rates are *approximate*, set so that the national
/// synthetic index lands near INE's 2024 figures (see `docs/ipm.md`): time-related
/// underemployment ≈ 6 % and open unemployment ≈ 6 % of the labour force (EPH), about a quarter
/// of people ill or injured in 90 days of whom about seven in ten consult (more in poor and rural
/// households), schooling consistent with the level passed and a two-year lag for ≈ 5 % of
/// pupils (more among the poor, rural and indigenous).
fn poverty_answers(hh: &mut Household) {
    use rand::SeedableRng;
    let seed = hh.key.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let rng = &mut rng;
    let hardship: f64 = match hh.class {
        Class::Extreme => 1.9,
        Class::Poor => 1.45,
        Class::Vulnerable => 1.05,
        Class::Middle => 0.8,
        Class::Upper => 0.5,
    } * if hh.area == Area::Rural { 1.1 } else { 1.0 }
        * if hh.indigenous { 1.4 } else { 1.0 };
    for p in &mut hh.members {
        let age = p.age;
        if p.trabaja == "si" {
            let part_time = (0.1 * hardship).min(0.6);
            let h = if rng.chance(part_time) {
                rng.int(4, 29)
            } else {
                rng.int(30, 66)
            };
            p.horas = Some(h as u32);
            let wants = if h < 30 {
                (0.3 * hardship).min(0.9)
            } else {
                0.03
            };
            p.desea_mas_horas = if rng.chance(wants) { "si" } else { "no" };
        } else if p.trabaja == "no" {
            let looks: f64 = match age {
                10..=17 => 0.02,
                18..=24 => 0.15,
                25..=59 => 0.08,
                60..=64 => 0.04,
                _ => 0.008,
            } * hardship;
            p.busca_trabajo = if rng.chance(looks.min(0.8)) {
                "si"
            } else {
                "no"
            };
        }
        let ill = match age {
            0..=4 => 0.34,
            5..=14 => 0.2,
            15..=59 => 0.21,
            _ => 0.36,
        };
        p.enfermo = if rng.chance(ill) { "si" } else { "no" };
        if p.enfermo == "si" {
            let no_consult = (0.12 * hardship).min(0.8);
            p.consulto = if rng.chance(no_consult) { "no" } else { "si" };
        }
        if age >= 5 {
            let (lo, hi) = match p.nivel {
                "ninguno" | "inicial" => (0, 0),
                "eeb_1_6" => (1, 6),
                "eeb_7_9" => (7, 9),
                "media" => (10, 12),
                "tecnica" => (13, 15),
                _ => (13, 18),
            };
            // On time, a pupil has passed one grade a year since entering the first at six.
            let on_time = i64::from(age).saturating_sub(6).max(0);
            let lag = if p.asiste == "si" && (8..=17).contains(&age) {
                let behind = (0.05 * hardship).min(0.5);
                if rng.chance(behind) {
                    rng.int(2, 4)
                } else if rng.chance(0.2) {
                    1
                } else {
                    0
                }
            } else {
                rng.int(0, 1)
            };
            let years = (on_time - lag).clamp(lo, hi).min(i64::from(age));
            p.anios = Some(years.max(0) as u32);
        }
    }
}

/// `uuid:` followed by a random UUID in version-4 layout, from the seeded generator.
pub(crate) fn push_uuid(rng: &mut impl Rng64, s: &mut String) {
    use std::fmt::Write as _;
    s.clear();
    s.push_str("uuid:");
    let mut bytes = [0u8; 16];
    for (chunk, v) in bytes.chunks_mut(8).zip([rng.bits(), rng.bits()]) {
        chunk.copy_from_slice(&v.to_be_bytes());
    }
    if let Some(b) = bytes.get_mut(6) {
        *b = (*b & 0x0f) | 0x40;
    }
    if let Some(b) = bytes.get_mut(8) {
        *b = (*b & 0x3f) | 0x80;
    }
    for (i, b) in bytes.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            s.push('-');
        }
        let _ = write!(s, "{b:02x}");
    }
}

/// Form start/end (local time, during the working day of `day`) and the upload time (UTC),
/// minutes to days later but never after the reference date.
pub(crate) fn form_times(
    rng: &mut impl Rng64,
    day: NaiveDate,
    minutes: i64,
    reference: NaiveDate,
) -> Times {
    use chrono::{Duration, NaiveTime};
    let start_s = rng.int(7 * 3600, 17 * 3600 + 1800) as u32;
    let start =
        day.and_time(NaiveTime::from_num_seconds_from_midnight_opt(start_s, 0).unwrap_or_default());
    let end = start + Duration::seconds(minutes * 60 + rng.int(0, 59));
    let delay = if rng.chance(0.6) {
        rng.int(60, 4 * 3600)
    } else {
        rng.int(4 * 3600, 72 * 3600)
    };
    let latest = reference.and_time(NaiveTime::from_hms_opt(23, 59, 59).unwrap_or_default());
    let local_submitted = (end + Duration::seconds(delay)).min(latest).max(end);
    // Paraguay keeps UTC−03:00 all year since October 2024; ODK Central stores UTC.
    Times {
        start,
        end,
        submitted: local_submitted + Duration::hours(3),
    }
}

/// A street address, a rural reference, or nothing (the field is optional).
fn address(rng: &mut impl Rng64, comm: &Community, s: &mut String) {
    use std::fmt::Write as _;
    s.clear();
    if rng.chance(if comm.indigenous { 0.6 } else { 0.08 }) {
        return;
    }
    if comm.indigenous {
        let _ = write!(s, "Aldea {}", rng.int(1, 8));
    } else if comm.area == Area::Urbana {
        let a = rng.choose(names::STREETS);
        if rng.chance(0.6) {
            let _ = write!(s, "{a} N° {}", rng.int(100, 3999));
        } else {
            let b = rng.choose(names::STREETS);
            let b = if b == a { "Sin nombre" } else { b };
            let _ = write!(s, "{a} c/ {b}");
        }
    } else if rng.chance(0.6) {
        let _ = write!(
            s,
            "A {} m de {}",
            rng.int(1, 30) * 100,
            rng.choose(names::LANDMARKS)
        );
    } else {
        let _ = write!(s, "Camino vecinal, km {}", rng.int(1, 40));
    }
}

/// Poverty status. Person-level EPHC 2024 rates by area (`calib`), raised for indigenous
/// households and by the district deprivation index, and for larger households (poverty is
/// measured per capita, so big households are poorer); the size factor is normalised so the
/// person-level rate stays near the published one.
fn class(rng: &mut impl Rng64, ctx: &DistrictCtx, comm: &Community, size: usize) -> Class {
    let (mut ext, mut poor, vuln, mut upper) = match comm.area {
        Area::Urbana => (calib::EXTREME_URBAN, calib::POVERTY_URBAN, 0.28, 0.15),
        Area::Rural => (calib::EXTREME_RURAL, calib::POVERTY_RURAL, 0.34, 0.05),
    };
    if comm.indigenous {
        ext = calib::EXTREME_INDIGENOUS;
        poor = calib::POVERTY_INDIGENOUS;
        upper = 0.0;
    } else {
        let size_factor = ((size as f64) / 3.4).powf(0.5).clamp(0.6, 1.6) / 1.07;
        ext *= ctx.deprivation * size_factor;
        poor *= ctx.deprivation * size_factor;
        upper /= ctx.deprivation;
    }
    let poor = poor.min(0.9);
    let ext = ext.min(poor);
    let u = rng.unit();
    if u < ext {
        Class::Extreme
    } else if u < poor {
        Class::Poor
    } else if u < poor + vuln {
        Class::Vulnerable
    } else if u > 1.0 - upper {
        Class::Upper
    } else {
        Class::Middle
    }
}

/// Names: given names by sex and era; Paraguayan double surnames (father's first surname,
/// then mother's first surname), so children carry the head's surname.
fn name_members<R: Rng64>(rng: &mut R, hh: &mut Household) {
    let german = hh.german;
    let draw_surname = |rng: &mut R| -> &'static str {
        if german {
            rng.choose(names::GERMAN_SURNAMES)
        } else {
            names::surname(rng)
        }
    };
    let mut head = NameParts::default();
    let mut spouse: Option<NameParts> = None;
    let mut head_female = false;
    // The adult child whose children (nietos) live here, and that child's partner.
    let mut parent_of_nietos: Option<(NameParts, bool)> = None;
    let mut in_law: Option<NameParts> = None;
    let oldest_adult_child = hh
        .members
        .iter()
        .filter(|p| p.rel == "hijo" && p.age >= 18)
        .map(|p| p.age)
        .max();
    for i in 0..hh.members.len() {
        let Some(p) = hh.members.get(i) else { continue };
        let (rel, female, year) = (p.rel, p.female, p.birth.year());
        let g1 = names::given(rng, female, year, german);
        let two = rng.chance(if year < 1980 { 0.7 } else { 0.55 });
        let mut g2 = if two {
            names::given(rng, female, year, german)
        } else {
            ""
        };
        if g2 == g1 {
            g2 = "";
        }
        let (s1, s2) = match rel {
            "jefe" => (draw_surname(rng), draw_surname(rng)),
            "conyuge" | "no_pariente" | "servicio_domestico" | "yerno_nuera" => {
                (draw_surname(rng), draw_surname(rng))
            }
            "hijo" => {
                let father_s = match (head_female, spouse) {
                    (false, _) => head.surname1,
                    (true, Some(sp)) => sp.surname1,
                    (true, None) => "",
                };
                if father_s.is_empty() {
                    // Single mother: the child carries the mother's surname (first or second).
                    if rng.chance(0.5) {
                        (head.surname1, head.surname2)
                    } else {
                        (draw_surname(rng), head.surname1)
                    }
                } else {
                    let mother_s = if head_female {
                        head.surname1
                    } else {
                        spouse
                            .map(|s| s.surname1)
                            .unwrap_or_else(|| draw_surname(rng))
                    };
                    (father_s, mother_s)
                }
            }
            "nieto" => match parent_of_nietos {
                Some((par, false)) => (
                    par.surname1,
                    in_law
                        .map(|s| s.surname1)
                        .unwrap_or_else(|| draw_surname(rng)),
                ),
                Some((par, true)) => (
                    in_law
                        .map(|s| s.surname1)
                        .unwrap_or_else(|| draw_surname(rng)),
                    par.surname1,
                ),
                None => {
                    if rng.chance(0.5) {
                        (head.surname1, draw_surname(rng))
                    } else {
                        (draw_surname(rng), head.surname1)
                    }
                }
            },
            "padre_madre" => {
                if female {
                    (head.surname2, draw_surname(rng))
                } else {
                    (head.surname1, draw_surname(rng))
                }
            }
            "suegro" => match spouse {
                Some(sp) if female => (sp.surname2, draw_surname(rng)),
                Some(sp) => (sp.surname1, draw_surname(rng)),
                None => (draw_surname(rng), draw_surname(rng)),
            },
            "hermano" => (head.surname1, head.surname2),
            _ => {
                if rng.chance(0.5) {
                    (head.surname1, draw_surname(rng))
                } else {
                    (draw_surname(rng), draw_surname(rng))
                }
            }
        };
        let parts = NameParts {
            given1: g1,
            given2: g2,
            surname1: s1,
            surname2: s2,
        };
        match rel {
            "jefe" => {
                head = parts;
                head_female = female;
            }
            "conyuge" => spouse = Some(parts),
            "hijo" if Some(p.age) == oldest_adult_child && parent_of_nietos.is_none() => {
                parent_of_nietos = Some((parts, female));
            }
            "yerno_nuera" => in_law = Some(parts),
            _ => {}
        }
        if let Some(m) = hh.members.get_mut(i) {
            m.names = parts;
        }
    }
}

/// The languages spoken at home. Guaraní is spoken by most Paraguayans, Spanish-only is an
/// urban trait, Guaraní-only a rural one (*approximate* shares after CNPV language tables);
/// Portuguese on the Brazilian border; German (`otro`) in the Mennonite colonies; indigenous
/// households speak their own language.
fn household_languages(rng: &mut impl Rng64, ctx: &DistrictCtx, hh: &Household) -> u8 {
    if hh.indigenous {
        let mut l = IND;
        let (gua, cas) = if ctx.chaco { (0.3, 0.5) } else { (0.65, 0.3) };
        if rng.chance(gua) {
            l |= GUA;
        }
        if rng.chance(cas) {
            l |= CAS;
        }
        return l;
    }
    if hh.german {
        return OTRO | CAS | if rng.chance(0.2) { GUA } else { 0 };
    }
    let mut l = match hh.area {
        Area::Urbana => rng.pick(&[(GUA | CAS, 0.57), (CAS, 0.35), (GUA, 0.08)]),
        Area::Rural => rng.pick(&[(GUA | CAS, 0.55), (GUA, 0.38), (CAS, 0.07)]),
    };
    if ctx.portuguese && rng.chance(0.15) {
        l |= POR;
    }
    l
}

/// Washington Group short set: share of persons with at least one domain "mucha dificultad"
/// or "no puede" rises with age (≈ 5 % overall; CNPV 2022 and WG-based surveys report 4–6 %
/// nationally, *approximate* age profile); "alguna" is more common.
fn washington_group(rng: &mut impl Rng64, age: u32, wg: &mut [&'static str; 6]) -> bool {
    *wg = ["sin_dificultad"; 6];
    let (severe, some) = match age {
        0..=4 => (0.01, 0.02),
        5..=17 => (0.02, 0.04),
        18..=49 => (0.028, 0.10),
        50..=64 => (0.07, 0.25),
        65..=79 => (0.17, 0.40),
        _ => (0.38, 0.45),
    };
    // Domain weights: seeing and walking are the most common difficulties.
    const DOMAINS: [(usize, f64); 6] = [
        (0, 0.3),
        (1, 0.15),
        (2, 0.3),
        (3, 0.1),
        (4, 0.08),
        (5, 0.07),
    ];
    if rng.chance(some) {
        for _ in 0..rng.int(1, 2) {
            if let Some(d) = wg.get_mut(rng.pick(&DOMAINS)) {
                *d = "alguna";
            }
        }
    }
    let is_severe = rng.chance(severe);
    if is_severe {
        for _ in 0..rng.int(1, 3) {
            if let Some(d) = wg.get_mut(rng.pick(&DOMAINS)) {
                *d = if rng.chance(0.25) {
                    "no_puede"
                } else {
                    "mucha"
                };
            }
        }
    }
    is_severe
}

/// Probability of attending school now, by age. 6–14 and 15–17 from CNPV 2022 (Cuadro 2:
/// 880,378 attending aged 6–14 and 260,452 aged 15–17, i.e. ≈ 93 % and ≈ 82 % of all children
/// of those ages counting non-response as not attending; 97.6 % and 89.4 % excluding it);
/// other ages *approximate*. Adjusted by area, indigenous status, poverty and the district's
/// attendance ratio (CNPV 2022 district table).
fn attendance(age: u32, area: Area, indigenous: bool, class: Class, ctx: &DistrictCtx) -> f64 {
    let base: f64 = match age {
        0..=2 => 0.0,
        3 => 0.28,
        4 => 0.55,
        5 => 0.85,
        6..=14 => 0.955,
        15..=17 => 0.83,
        18..=19 => 0.48,
        20..=24 => 0.30,
        25..=29 => 0.12,
        30..=39 => 0.05,
        _ => 0.012,
    };
    let mut non = 1.0 - base;
    if (5..=17).contains(&age) {
        non *= ctx.non_attendance;
    }
    if area == Area::Rural {
        non *= if age >= 15 { 1.5 } else { 1.2 };
    }
    if indigenous {
        non *= if age <= 14 { 3.0 } else { 2.2 };
    }
    if class.is_poor() && age >= 13 {
        non *= 1.4;
    }
    if class == Class::Upper {
        non *= 0.5;
    }
    (1.0 - non).clamp(0.0, 0.995)
}

/// Highest level passed for adults, by cohort and area (*approximate*, consistent with CNPV
/// 2022 Cuadro 2: of the population 5+, 32 % primary 1st–2nd cycle, 13 % 3rd cycle, 23 %
/// secondary, 18 % tertiary; rural far below urban).
fn adult_level(
    rng: &mut impl Rng64,
    age: u32,
    area: Area,
    indigenous: bool,
    class: Class,
) -> &'static str {
    const LEVELS: [&str; 6] = [
        "ninguno",
        "eeb_1_6",
        "eeb_7_9",
        "media",
        "tecnica",
        "universitaria",
    ];
    let mut w: [f64; 6] = if indigenous {
        [0.30, 0.50, 0.12, 0.07, 0.01, 0.0]
    } else {
        match (area, age) {
            (Area::Urbana, 0..=44) => [0.01, 0.14, 0.13, 0.41, 0.06, 0.25],
            (Area::Urbana, 45..=64) => [0.03, 0.30, 0.14, 0.30, 0.05, 0.18],
            (Area::Urbana, _) => [0.07, 0.52, 0.10, 0.17, 0.03, 0.11],
            (Area::Rural, 0..=44) => [0.02, 0.33, 0.21, 0.33, 0.04, 0.07],
            (Area::Rural, 45..=64) => [0.05, 0.60, 0.14, 0.15, 0.02, 0.04],
            (Area::Rural, _) => [0.12, 0.72, 0.07, 0.06, 0.01, 0.02],
        }
    };
    let shift = match class {
        Class::Extreme => 0.35,
        Class::Poor => 0.55,
        Class::Vulnerable => 0.9,
        Class::Middle => 1.15,
        Class::Upper => 2.2,
    };
    for x in w.iter_mut().skip(3) {
        *x *= shift;
    }
    if age < 25 {
        // Still young: university may be under way, not yet passed.
        if let Some(u) = w.get_mut(5) {
            *u *= 0.3;
        }
    }
    let items: [(&'static str, f64); 6] = std::array::from_fn(|i| {
        (
            LEVELS.get(i).copied().unwrap_or("ninguno"),
            w.get(i).copied().unwrap_or(0.0),
        )
    });
    rng.pick(&items)
}

/// Probability of a pregnancy in progress reported at the interview, by age: ≈ 3–4 % of women
/// 15–44 (≈ 110,000 births a year over ≈ 1.45 M women of those ages, times the share of a
/// pregnancy already known), *approximate*.
fn pregnancy_rate(age: u32) -> f64 {
    match age {
        10..=13 => 0.002,
        14 => 0.01,
        15..=19 => 0.032,
        20..=24 => 0.055,
        25..=29 => 0.05,
        30..=34 => 0.035,
        35..=39 => 0.02,
        40..=44 => 0.007,
        45..=55 => 0.001,
        _ => 0.0,
    }
}

/// Whether a person holds a cédula: ≈ 95 % of adults, ≈ 75 % of 5–17, ≈ 40 % of 0–4
/// (*approximate*; indigenous coverage lower). Requires a registered birth.
fn cedula_rate(age: u32, indigenous: bool) -> f64 {
    let r: f64 = match age {
        0..=4 => 0.40,
        5..=9 => 0.66,
        10..=17 => 0.85,
        _ => 0.965,
    };
    if indigenous {
        r * if age >= 18 { 0.88 } else { 0.7 }
    } else {
        r
    }
}

/// One member's answers (identity and household links are already set).
#[allow(clippy::too_many_arguments)] // reason: a private step of `draw`, all inputs are context
#[allow(clippy::too_many_lines)] // reason: one pass over its input, not yet split into steps
fn person(
    rng: &mut impl Rng64,
    ctx: &DistrictCtx,
    area: Area,
    indigenous: bool,
    class: Class,
    pueblo: &'static str,
    langs: u8,
    reference: NaiveDate,
    cedulas: &mut CedulaAllocator,
    p: &mut Person,
) {
    let age = p.age;
    let poor = class.is_poor();
    // Pregnancy (relevant: women 10–55).
    if p.female && (10..=55).contains(&age) {
        if rng.chance(pregnancy_rate(age)) {
            p.embarazada = "si";
            let month = rng.int(1, 9);
            let coverage = if indigenous {
                0.55
            } else if poor {
                0.8
            } else {
                0.95
            };
            // About one check-up a month after the first trimester when covered.
            let max = (month - 1).max(0);
            let c = if rng.chance(coverage) {
                rng.int(max / 2, max).min(10)
            } else {
                0
            };
            p.controles = Some(c as u32);
        } else {
            p.embarazada = "no";
        }
    }
    let severe = washington_group(rng, age, &mut p.wg);
    p.indigena = indigenous;
    p.pueblo = pueblo;
    // Languages: the household's, with some individual variation (young people more Spanish).
    let mut l = langs;
    if age >= 6 && !indigenous && l == GUA && rng.chance(if age < 30 { 0.3 } else { 0.1 }) {
        l |= CAS;
    }
    if age < 2 {
        // Infants: the household's main language only.
        l = if l & IND != 0 {
            IND
        } else if l & GUA != 0 {
            GUA
        } else if l & CAS != 0 {
            CAS
        } else {
            l
        };
    }
    p.idiomas = l;

    // Education.
    let attends = age >= 3 && rng.chance(attendance(age, area, indigenous, class, ctx));
    p.asiste = if age >= 3 {
        if attends {
            "si"
        } else {
            "no"
        }
    } else {
        ""
    };
    p.nivel = match age {
        0..=2 => "ninguno",
        3..=5 => {
            if attends {
                "inicial"
            } else {
                "ninguno"
            }
        }
        6..=11 => {
            if attends || rng.chance(0.7) {
                "eeb_1_6"
            } else {
                "ninguno"
            }
        }
        12..=14 => {
            if rng.chance(if attends { 0.8 } else { 0.3 }) {
                "eeb_7_9"
            } else {
                "eeb_1_6"
            }
        }
        15..=17 => {
            if attends {
                if rng.chance(0.75) {
                    "media"
                } else {
                    "eeb_7_9"
                }
            } else {
                rng.pick(&[("eeb_1_6", 0.35), ("eeb_7_9", 0.5), ("media", 0.15)])
            }
        }
        18..=24 if attends => {
            rng.pick(&[("media", 0.75), ("tecnica", 0.1), ("universitaria", 0.15)])
        }
        _ => adult_level(rng, age, area, indigenous, class),
    };
    p.alfabetizado = if age < 6 {
        ""
    } else {
        let r = match (age, p.nivel) {
            (6..=7, _) => 0.6,
            (8..=9, _) => 0.9,
            (_, "ninguno") => {
                if indigenous {
                    0.15
                } else {
                    0.35
                }
            }
            (_, "eeb_1_6") => {
                if indigenous {
                    0.8
                } else if age >= 65 {
                    0.93
                } else {
                    0.985
                }
            }
            _ => 1.0,
        };
        if rng.chance(r) {
            "si"
        } else {
            "no"
        }
    };

    // Documents. Birth registration ≈ 95 % (*approximate*, lower for infants and indigenous).
    let reg_rate = match (age, indigenous) {
        (0, false) => 0.86,
        (1..=4, false) => 0.95,
        (_, false) => 0.975,
        (0..=4, true) => 0.7,
        (_, true) => 0.85,
    };
    let registered = rng.chance(reg_rate);
    let ref_age = age_at(p.birth, reference);
    let has_cedula = registered && rng.chance(cedula_rate(age, indigenous));
    p.cedula = if has_cedula {
        cedulas.survey(ref_age).unwrap_or(0)
    } else {
        0
    };
    p.cedula_reported = p.cedula != 0 && rng.chance(0.975);
    p.inscripcion = if registered {
        "si"
    } else if rng.chance(0.6) {
        "no"
    } else {
        "no_sabe"
    };
    // Vaccination card up to date (under 18): ≈ 80 % for young children (*approximate*, PAI
    // coverage), lower in the Chaco and in indigenous communities.
    if age < 18 {
        let mut si: f64 = if age < 5 { 0.82 } else { 0.66 };
        if ctx.chaco {
            si *= 0.85;
        }
        if indigenous {
            si *= 0.72;
        }
        if poor {
            si *= 0.95;
        }
        let ns = if age < 5 { 0.04 } else { 0.14 };
        let u = rng.unit();
        p.carnet = if u < si {
            "si"
        } else if u < si + ns {
            "no_sabe"
        } else {
            "no"
        };
    }

    // Work (relevant: 10+). ≈ 70 % of adults 18–64 work; ≈ 65 % of workers are informal
    // (EPHC: works and does not contribute to a pension fund), *approximate* split by type.
    if age >= 10 {
        let mut w: f64 = match (age, p.female) {
            (10..=13, _) => {
                if area == Area::Rural {
                    0.10
                } else {
                    0.04
                }
            }
            (14..=17, _) => {
                if area == Area::Rural {
                    0.30
                } else {
                    0.17
                }
            }
            (18..=24, false) => 0.74,
            (18..=24, true) => 0.52,
            (25..=59, false) => 0.91,
            (25..=59, true) => 0.64,
            (60..=64, false) => 0.72,
            (60..=64, true) => 0.36,
            (65..=74, false) => 0.42,
            (65..=74, true) => 0.18,
            (_, false) => 0.15,
            (_, true) => 0.05,
        };
        if attends && (15..=24).contains(&age) {
            w *= 0.5;
        }
        if age < 18 && poor {
            w *= 1.5;
        }
        if severe {
            w *= 0.4;
        }
        let works = rng.chance(w);
        p.trabaja = if works { "si" } else { "no" };
        if works {
            p.tipo_empleo = job_type(rng, area, class, p.female, age);
            let contrib: f64 = match p.tipo_empleo {
                "asalariado_publico" => 0.95,
                "asalariado_privado" => {
                    let base = if area == Area::Urbana { 0.56 } else { 0.32 };
                    base * match class {
                        Class::Extreme => 0.2,
                        Class::Poor => 0.45,
                        Class::Vulnerable => 0.9,
                        Class::Middle => 1.25,
                        Class::Upper => 1.5,
                    }
                }
                "empleador" => 0.35,
                "cuenta_propia" => 0.06,
                "domestico" => 0.18,
                _ => 0.0,
            };
            let contrib = if age < 18 { contrib * 0.1 } else { contrib };
            p.aporta = if rng.chance(contrib.min(0.97)) {
                "si"
            } else {
                "no"
            };
        }
    }

    // Pensions. Contributory (IPS or another fund) for ≈ 20 % of people 65+; the
    // non-contributory Pensión Alimentaria for Adultos Mayores (MDS/MH) for ≈ 45 % of 65+,
    // concentrated in poor and vulnerable households (*approximate*).
    p.pension = "ninguna";
    if age >= 60 {
        let urban = area == Area::Urbana;
        let class_f = match class {
            Class::Extreme => 0.1,
            Class::Poor => 0.3,
            Class::Vulnerable => 0.8,
            Class::Middle => 1.4,
            Class::Upper => 2.0,
        };
        let (ips, other) = if age >= 65 {
            (
                if urban { 0.16 } else { 0.06 },
                if urban { 0.07 } else { 0.025 },
            )
        } else {
            (if urban { 0.05 } else { 0.02 }, 0.025)
        };
        let u = rng.unit();
        if u < ips * class_f {
            p.pension = "ips_jubilacion";
        } else if u < (ips + other) * class_f {
            p.pension = "otra_caja";
        } else if age >= 65 {
            let am = match class {
                Class::Extreme => 0.9,
                Class::Poor => 0.88,
                Class::Vulnerable => 0.68,
                Class::Middle => 0.36,
                Class::Upper => 0.03,
            };
            if rng.chance(am) {
                p.pension = "adultos_mayores";
                p.programas |= P_ADULTOS;
            }
        }
    }
    if p.pension == "ninguna" && age >= 18 && rng.chance(if severe { 0.08 } else { 0.01 }) {
        // Survivor's, disability or veterans' pensions.
        p.pension = "otra";
    }
    if p.pension != "ninguna" && age >= 60 && p.trabaja == "si" && rng.chance(0.4) {
        // Most retirees who still "work" do so informally; keep the answers plausible.
        p.aporta = "no";
    }
}

fn job_type(
    rng: &mut impl Rng64,
    area: Area,
    class: Class,
    female: bool,
    age: u32,
) -> &'static str {
    if age < 18 {
        return rng.pick(&[
            ("familiar_no_remunerado", 0.5),
            ("asalariado_privado", 0.28),
            ("cuenta_propia", 0.14),
            ("domestico", if female { 0.08 } else { 0.01 }),
        ]);
    }
    let mut w: [(&'static str, f64); 6] = match area {
        Area::Urbana => [
            ("asalariado_privado", 0.44),
            ("asalariado_publico", 0.11),
            ("cuenta_propia", 0.27),
            ("empleador", 0.05),
            ("familiar_no_remunerado", 0.04),
            ("domestico", if female { 0.15 } else { 0.01 }),
        ],
        Area::Rural => [
            ("asalariado_privado", 0.25),
            ("asalariado_publico", 0.06),
            ("cuenta_propia", 0.45),
            ("empleador", 0.03),
            ("familiar_no_remunerado", 0.16),
            ("domestico", if female { 0.10 } else { 0.01 }),
        ],
    };
    let f: [f64; 6] = match class {
        Class::Extreme | Class::Poor => [0.9, 0.35, 1.1, 0.3, 1.5, 1.6],
        Class::Vulnerable => [1.0, 0.9, 1.0, 0.8, 1.0, 1.1],
        Class::Middle => [1.05, 1.25, 0.9, 1.2, 0.7, 0.7],
        Class::Upper => [1.0, 1.6, 0.7, 3.0, 0.3, 0.1],
    };
    for (x, k) in w.iter_mut().zip(f) {
        x.1 *= k;
    }
    rng.pick(&w)
}

/// Health insurance (EPHC 2024: 28.6 % insured, urban 36.2 %, rural 16.1 %; EPHC 2018: IPS
/// 19.4 %). IPS covers contributing workers and their dependants (spouse, children, parents);
/// public servants have IPS or an institutional private plan; police and military their own
/// health service; better-off households buy private plans.
fn insurance(rng: &mut impl Rng64, hh: &mut Household) {
    let mut household_cover: &'static str = "";
    for p in hh.members.iter_mut() {
        p.seguro = "ninguno";
        if p.aporta == "si" {
            p.seguro = match p.tipo_empleo {
                "asalariado_publico" => rng.pick(&[
                    ("ips", 0.5),
                    ("privado", 0.3),
                    ("militar_policial", 0.15),
                    ("ninguno", 0.05),
                ]),
                _ => "ips",
            };
        } else if p.pension == "ips_jubilacion" {
            p.seguro = "ips";
        } else if p.pension == "otra_caja" {
            p.seguro = rng.pick(&[
                ("privado", 0.5),
                ("militar_policial", 0.2),
                ("ninguno", 0.3),
            ]);
        }
        if p.seguro != "ninguno"
            && (p.rel == "jefe" || p.rel == "conyuge" || household_cover.is_empty())
        {
            household_cover = p.seguro;
        }
    }
    let class = hh.class;
    for p in hh.members.iter_mut() {
        if p.seguro != "ninguno" {
            continue;
        }
        let dependant = matches!(p.rel, "jefe" | "conyuge" | "padre_madre" | "suegro")
            || (matches!(p.rel, "hijo" | "nieto")
                && (p.age < 18 || (p.age < 26 && p.asiste == "si")));
        // Registered dependants: spouses, children and (less often) parents of the insured.
        let registered = if matches!(p.rel, "padre_madre" | "suegro") {
            0.15
        } else {
            0.33
        };
        if !household_cover.is_empty() && dependant && rng.chance(registered) {
            p.seguro = household_cover;
        } else {
            let private = match class {
                Class::Upper => 0.35,
                Class::Middle => 0.05,
                Class::Vulnerable => 0.015,
                _ => 0.0,
            };
            if rng.chance(private) {
                p.seguro = "privado";
            }
        }
    }
}

/// Monthly incomes (Gs): a per-capita household income consistent with the poverty status is
/// split among the earners; pensions have their legal or typical amounts; formal wage earners
/// earn at least the minimum wage. Reported amounts are rounded, ≈ 7 % of earners decline.
fn incomes(rng: &mut impl Rng64, hh: &mut Household) {
    let line = if hh.area == Area::Urbana {
        calib::POVERTY_LINE_URBAN
    } else {
        calib::POVERTY_LINE_RURAL
    };
    let pc = line
        * match hh.class {
            Class::Extreme => rng.float(0.25, 0.48),
            Class::Poor => rng.float(0.5, 1.0),
            Class::Vulnerable => rng.float(1.0, 1.8),
            Class::Middle => rng.float(1.8, 4.0),
            Class::Upper => rng.float(4.0, 12.0),
        };
    let total = pc * hh.members.len() as f64;
    let mut pensions = 0.0;
    let mut weights = 0.0;
    for p in hh.members.iter_mut() {
        let pension = match p.pension {
            "adultos_mayores" => ADULTOS_MAYORES_PENSION as f64,
            "ips_jubilacion" => (MINIMUM_WAGE as f64 * rng.float(1.0, 2.5)).round(),
            "otra_caja" => (MINIMUM_WAGE as f64 * rng.float(1.2, 3.5)).round(),
            "otra" => (MINIMUM_WAGE as f64 * rng.float(0.3, 1.0)).round(),
            _ => 0.0,
        };
        pensions += pension;
        p.ingreso = Some(pension as u64);
        weights += earner_weight(p);
    }
    let rest = (total - pensions).max(total * 0.15);
    if weights == 0.0 && pensions == 0.0 {
        // Nobody works or draws a pension: the household lives on help from relatives,
        // remittances or odd jobs, declared by the head.
        if let Some(head) = hh.members.first_mut() {
            head.ingreso = Some(total as u64);
        }
    }
    for p in hh.members.iter_mut() {
        let w = earner_weight(p);
        let mut inc = p.ingreso.unwrap_or(0) as f64;
        if w > 0.0 && weights > 0.0 {
            let mut wage = rest * w / weights * rng.float(0.85, 1.15);
            if p.aporta == "si" && p.tipo_empleo.starts_with("asalariado") {
                wage = wage.max(MINIMUM_WAGE as f64);
            }
            inc += wage;
        }
        // People round what they report.
        let step = if inc >= 3_000_000.0 {
            100_000.0
        } else {
            50_000.0
        };
        let rounded = ((inc / step).round() * step) as u64;
        // Not asked of young children; ≈ 7 % of those with income decline to say.
        let declined = rounded > 0 && rng.chance(0.07);
        p.ingreso = if (p.age < 10 && rounded == 0) || declined {
            None
        } else {
            Some(rounded)
        };
    }
}

fn earner_weight(p: &Person) -> f64 {
    if p.trabaja != "si" {
        return 0.0;
    }
    let w = match (p.tipo_empleo, p.aporta) {
        ("familiar_no_remunerado", _) => 0.0,
        ("empleador", _) => 3.0,
        ("asalariado_publico", _) => 2.0,
        (_, "si") => 2.0,
        ("domestico", _) => 0.8,
        _ => 1.0,
    };
    if p.age < 18 {
        w * 0.4
    } else {
        w
    }
}

/// Social programmes (*approximate* targeting): Tekoporã (MDS) for poor households with
/// children or a pregnant woman, recorded on the titular (the mother); PANI (INAN) for poor
/// children under 5 and pregnant women; school meals (Hambre Cero) for pupils of public
/// inicial/básica; Abrazo (MINNA) for working children; Tenondera for adults of Tekoporã
/// households; scholarships for some students; Adultos Mayores already set with the pension.
fn programmes(rng: &mut impl Rng64, hh: &mut Household) {
    let class = hh.class;
    let has_target = hh
        .members
        .iter()
        .any(|p| p.age < 18 || p.embarazada == "si");
    // Tekoporã reaches ≈ 170,000 households (≈ 9 % of all), nearly all poor.
    let tekopora_rate = match class {
        Class::Extreme => 0.8,
        Class::Poor => 0.5,
        Class::Vulnerable => 0.08,
        _ => 0.0,
    } * if hh.indigenous { 1.2 } else { 1.0 };
    let tekopora = has_target && rng.chance(tekopora_rate);
    let titular = if tekopora {
        hh.members
            .iter()
            .position(|p| p.female && p.age >= 18 && matches!(p.rel, "jefe" | "conyuge"))
            .unwrap_or(0)
    } else {
        usize::MAX
    };
    for (i, p) in hh.members.iter_mut().enumerate() {
        if i == titular {
            p.programas |= P_TEKOPORA;
        }
        if class.is_poor()
            && ((p.age < 5 && rng.chance(0.3)) || (p.embarazada == "si" && rng.chance(0.3)))
        {
            p.programas |= P_PANI;
        }
        if p.asiste == "si" && (4..=17).contains(&p.age) {
            let r = match (class, p.age) {
                (Class::Upper, _) => 0.15,
                (_, 4..=14) => 0.85,
                _ => 0.3,
            };
            if rng.chance(r) {
                p.programas |= P_ALIM;
            }
        }
        if p.trabaja == "si" && p.age < 14 && class <= Class::Vulnerable && rng.chance(0.3) {
            p.programas |= P_ABRAZO;
        }
        if p.asiste == "si"
            && (16..=29).contains(&p.age)
            && class != Class::Upper
            && rng.chance(0.05)
        {
            p.programas |= P_BECAS;
        }
        if tekopora && (18..=64).contains(&p.age) && rng.chance(0.1) {
            p.programas |= P_TENONDER;
        }
    }
}

/// Dwelling and services (*approximate* shares after CNPV 2022 housing results and EPHC:
/// electricity ≈ 98–99 %, internet ≈ 65 % urban / 35 % rural, firewood mostly rural, garbage
/// collection mostly urban), worse for poor households, the Chaco and indigenous communities.
#[allow(clippy::too_many_lines)] // reason: one pass over its input, not yet split into steps
fn dwelling(rng: &mut impl Rng64, ctx: &DistrictCtx, hh: &Household) -> Dwelling {
    let poor = hh.class.is_poor();
    let upper = hh.class >= Class::Middle;
    let urban = hh.area == Area::Urbana;
    let ind = hh.indigenous;
    let b = |x: bool| if x { 1.0 } else { 0.0 };
    let tenencia = rng.pick(&[
        ("propia", if urban { 0.70 } else { 0.86 }),
        (
            "alquilada",
            if urban { 0.17 } else { 0.03 } * if poor { 0.6 } else { 1.0 },
        ),
        ("cedida", 0.08),
        ("ocupada", 0.01 + 0.04 * b(poor)),
        ("otra", 0.01),
    ]);
    let paredes = if ind {
        rng.pick(&[
            ("madera", 0.38),
            ("estaqueo", 0.25),
            ("carton_hule", 0.12),
            ("adobe", 0.1),
            ("ladrillo", 0.13),
            ("otro", 0.02),
        ])
    } else if urban {
        rng.pick(&[
            ("ladrillo", 0.80 - 0.15 * b(poor)),
            ("bloque_cemento", 0.08),
            ("madera", 0.07 + 0.12 * b(poor)),
            ("adobe", 0.01),
            ("estaqueo", 0.005),
            ("carton_hule", 0.005 + 0.02 * b(poor)),
            ("otro", 0.01),
        ])
    } else {
        rng.pick(&[
            ("ladrillo", 0.58 - 0.2 * b(poor)),
            ("bloque_cemento", 0.03),
            ("madera", 0.30 + 0.15 * b(poor)),
            ("adobe", 0.04),
            ("estaqueo", 0.02 + 0.02 * b(poor)),
            ("carton_hule", 0.01),
            ("otro", 0.01),
        ])
    };
    let piso = if ind {
        rng.pick(&[
            ("tierra", 0.62),
            ("cemento", 0.2),
            ("madera", 0.06),
            ("ladrillo", 0.08),
            ("baldosa", 0.04),
        ])
    } else {
        rng.pick(&[
            (
                "baldosa",
                if urban { 0.58 } else { 0.25 } * if upper { 1.3 } else { 0.7 },
            ),
            ("ladrillo", if urban { 0.12 } else { 0.22 }),
            ("cemento", if urban { 0.23 } else { 0.33 }),
            ("madera", 0.02),
            (
                "tierra",
                if urban { 0.03 } else { 0.06 } * if poor { 1.8 } else { 1.0 },
            ),
            ("otro", 0.005),
        ])
    };
    let techo = if ind {
        rng.pick(&[
            ("paja", 0.3),
            ("zinc", 0.3),
            ("fibrocemento", 0.2),
            ("carton_hule", 0.12),
            ("teja", 0.08),
        ])
    } else {
        rng.pick(&[
            ("teja", if urban { 0.28 } else { 0.38 }),
            (
                "losa",
                if urban { 0.18 } else { 0.03 } * if upper { 1.6 } else { 0.6 },
            ),
            (
                "zinc",
                if urban { 0.22 } else { 0.28 } * if poor { 1.5 } else { 1.0 },
            ),
            ("fibrocemento", if urban { 0.30 } else { 0.27 }),
            ("paja", if urban { 0.002 } else { 0.03 }),
            ("carton_hule", 0.005 + 0.01 * b(poor)),
            ("otro", 0.01),
        ])
    };
    let n = hh.members.len() as i64;
    let cuartos = if ind {
        rng.int(1, 2)
    } else {
        (rng.int(1, 3) + i64::from(upper) * rng.int(1, 3) + (n / 3)).clamp(1, 12)
    };
    // About half the rooms or more are bedrooms (one draw, as before the index needed it):
    // overcrowding (more than three persons a bedroom) stays near the survey's few per cent.
    let dormitorios = rng
        .int((cuartos + 1) / 2, cuartos.max(1))
        .clamp(1, cuartos.max(1));
    let agua = if ctx.chaco {
        if ind {
            rng.pick(&[
                ("tajamar_rio", 0.3),
                ("aguatero", 0.28),
                ("lluvia", 0.22),
                ("pozo_sin_bomba", 0.08),
                ("junta_saneamiento", 0.12),
            ])
        } else if urban {
            rng.pick(&[
                ("red_privada", 0.25),
                ("junta_saneamiento", 0.25),
                ("lluvia", 0.3),
                ("aguatero", 0.1),
                ("pozo_artesiano", 0.1),
            ])
        } else {
            rng.pick(&[
                ("lluvia", 0.4),
                ("tajamar_rio", 0.15),
                ("aguatero", 0.15),
                ("pozo_artesiano", 0.15),
                ("junta_saneamiento", 0.15),
            ])
        }
    } else if ind {
        rng.pick(&[
            ("pozo_sin_bomba", 0.35),
            ("junta_saneamiento", 0.25),
            ("tajamar_rio", 0.2),
            ("pozo_artesiano", 0.1),
            ("otro", 0.1),
        ])
    } else if urban {
        rng.pick(&[
            (
                "red_essap_senasa",
                if ctx.dept == 0 || ctx.dept == 11 {
                    0.5
                } else {
                    0.3
                },
            ),
            ("junta_saneamiento", 0.18),
            ("red_privada", 0.34),
            ("pozo_artesiano", 0.08),
            ("pozo_sin_bomba", 0.03 + 0.03 * b(poor)),
            ("aguatero", 0.005),
            ("otro", 0.005),
        ])
    } else {
        rng.pick(&[
            ("red_essap_senasa", 0.04),
            ("junta_saneamiento", 0.42),
            ("red_privada", 0.12),
            ("pozo_artesiano", 0.14),
            ("pozo_sin_bomba", 0.2 + 0.08 * b(poor)),
            ("tajamar_rio", 0.02),
            ("lluvia", 0.02),
            ("otro", 0.01),
        ])
    };
    let saneamiento = if ind {
        rng.pick(&[
            ("letrina_comun", 0.5),
            ("hoyo_abierto", 0.18),
            ("ninguno", 0.2),
            ("letrina_ventilada", 0.07),
            ("pozo_ciego", 0.05),
        ])
    } else if urban {
        rng.pick(&[
            (
                "red_cloacal",
                if ctx.dept == 0 {
                    0.75
                } else if ctx.dept == 11 {
                    0.2
                } else {
                    0.12
                },
            ),
            ("pozo_ciego", 0.78),
            ("letrina_ventilada", 0.03),
            ("letrina_comun", 0.03 + 0.05 * b(poor)),
            ("hoyo_abierto", 0.002),
            ("ninguno", 0.002),
        ])
    } else {
        rng.pick(&[
            ("red_cloacal", 0.01),
            ("pozo_ciego", 0.62 - 0.15 * b(poor)),
            ("letrina_ventilada", 0.14),
            ("letrina_comun", 0.08 + 0.07 * b(poor)),
            ("hoyo_abierto", 0.02),
            ("ninguno", 0.02),
        ])
    };
    let no_power = if ind {
        if ctx.chaco {
            0.3
        } else {
            0.2
        }
    } else if urban {
        0.003
    } else if ctx.chaco {
        0.1
    } else {
        0.025
    };
    let electricidad = if rng.chance(no_power) {
        if rng.chance(0.35) {
            "generador_solar"
        } else {
            "ninguna"
        }
    } else {
        "ande"
    };
    let tarifa_social = if electricidad == "ande" {
        let r = match hh.class {
            Class::Extreme => 0.45,
            Class::Poor => 0.3,
            Class::Vulnerable => 0.06,
            _ => 0.01,
        };
        if rng.chance(r) {
            "si"
        } else {
            "no"
        }
    } else {
        ""
    };
    let net = if ind {
        0.2
    } else {
        (if urban { 0.68 } else { 0.38 })
            * match hh.class {
                Class::Extreme => 0.45,
                Class::Poor => 0.7,
                Class::Vulnerable => 0.95,
                Class::Middle => 1.1,
                Class::Upper => 1.35,
            }
    };
    let internet = if rng.chance(net) { "si" } else { "no" };
    let combustible = if ind {
        rng.pick(&[("lena", 0.88), ("carbon", 0.05), ("gas", 0.07)])
    } else if urban {
        rng.pick(&[
            ("gas", 0.74),
            ("electricidad", 0.1 * if upper { 1.5 } else { 1.0 }),
            ("lena", 0.05 + 0.1 * b(poor)),
            ("carbon", 0.07),
            ("otro", 0.005),
            ("no_cocina", 0.02),
        ])
    } else {
        rng.pick(&[
            ("gas", 0.42 - 0.15 * b(poor)),
            ("electricidad", 0.04),
            ("lena", 0.38 + 0.1 * b(poor)),
            ("carbon", 0.07),
            ("otro", 0.005),
            ("no_cocina", 0.01),
        ])
    };
    let basura = if ind {
        rng.pick(&[
            ("quema", 0.6),
            ("tira_baldio", 0.2),
            ("entierra", 0.15),
            ("otro", 0.05),
        ])
    } else if urban {
        rng.pick(&[
            (
                "recoleccion_publica",
                if ctx.dept == 0 { 0.9 } else { 0.45 },
            ),
            ("recoleccion_privada", 0.22),
            ("quema", 0.28 + 0.1 * b(poor)),
            ("entierra", 0.01),
            ("tira_baldio", 0.02),
            ("otro", 0.005),
        ])
    } else {
        rng.pick(&[
            ("recoleccion_publica", 0.1 * if poor { 0.5 } else { 1.5 }),
            ("recoleccion_privada", 0.08 * if poor { 0.5 } else { 1.5 }),
            ("quema", 0.72),
            ("entierra", 0.05),
            ("tira_baldio", 0.04),
            ("otro", 0.01),
        ])
    };
    Dwelling {
        tenencia,
        paredes,
        piso,
        techo,
        cuartos: cuartos as u32,
        dormitorios: dormitorios as u32,
        agua,
        saneamiento,
        electricidad,
        tarifa_social,
        internet,
        combustible,
        basura,
    }
}
