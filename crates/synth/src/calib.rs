//! Calibration: the public figures the synthetic population is tuned to, in one place.
//!
//! Every number here says where it comes from. Three kinds of source:
//! - **INE CNPV 2022 tables shipped with Vamos** (`data/territory/…`, parsed at run time) and
//!   the INE workbook `ine_cnpv2022_caracterizacion_educacion.xlsx` (Cuadros 2–20, transcribed);
//! - **published headline figures** (`shared/data/paraguay/published_figures.md`: EPHC poverty,
//!   health insurance) and press reports of CNPV 2022 results (cited inline);
//! - **modelling assumptions** where no public table was at hand; these are marked
//!   *approximate* and are meant to be replaced when the INE table is obtained.
//!
//! Nothing here describes a real person: the figures only shape the synthetic distributions.

use crate::SynthError;
use vamos_domain::DistrictCode;

/// Population aged 5+ per district and school attendance, INE CNPV 2022 ("Caracterización de
/// Educación", Cuadros 3.1–20.1). Same 263 `clave` values, in the same order, as the official
/// district list (`distritos_cnpv2022.csv`); a test checks the alignment.
const CENSUS_CSV: &str =
    include_str!("../../../data/territory/cnpv2022_pob5mas_asistencia_escolar_por_distrito.csv");

/// National ratios of the same table (computed from it at run time, kept here for documentation):
/// attending now / pop 5+ = 0.296; never attended / pop 5+ = 0.0278.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DistrictStats {
    pub code: DistrictCode,
    /// Population aged 5+ (CNPV 2022): the district's weight in the household split.
    pub pop5plus: u64,
    /// District "attending now / pop 5+" divided by the national ratio (≈ 0.8 … 1.1).
    pub attendance_ratio: f64,
    /// District "never attended school / pop 5+" divided by the national ratio (≈ 0.3 … 5.7): a
    /// deprivation proxy, high where rural poverty and indigenous communities concentrate.
    pub never_attended_idx: f64,
}

/// Parses the shipped census table.
pub(crate) fn district_stats() -> Result<Vec<DistrictStats>, SynthError> {
    let mut rdr = csv::Reader::from_reader(CENSUS_CSV.as_bytes());
    let headers = rdr
        .headers()
        .map_err(|e| SynthError::Calibration(e.to_string()))?
        .clone();
    let col = |name: &str| {
        headers.iter().position(|h| h == name).ok_or_else(|| {
            SynthError::Calibration(format!("falta la columna {name} en el CNPV 2022"))
        })
    };
    let (c_clave, c_pop, c_att, c_never) = (
        col("clave")?,
        col("pop5plus_total")?,
        col("asiste_actual")?,
        col("nunca_asistio")?,
    );
    let mut raw = Vec::new();
    for rec in rdr.records() {
        let rec = rec.map_err(|e| SynthError::Calibration(e.to_string()))?;
        let field = |i: usize| rec.get(i).unwrap_or("").trim();
        let code = DistrictCode::try_from(field(c_clave))
            .map_err(|e| SynthError::Calibration(e.to_string()))?;
        let num = |i: usize| {
            field(i).parse::<u64>().map_err(|_| {
                SynthError::Calibration(format!("valor no numérico en el distrito {code}"))
            })
        };
        raw.push((code, num(c_pop)?, num(c_att)?, num(c_never)?));
    }
    let pop: u64 = raw.iter().map(|r| r.1).sum();
    let att: u64 = raw.iter().map(|r| r.2).sum();
    let never: u64 = raw.iter().map(|r| r.3).sum();
    if pop == 0 || att == 0 || never == 0 {
        return Err(SynthError::Calibration("tabla del CNPV 2022 vacía".into()));
    }
    let nat_att = att as f64 / pop as f64;
    let nat_never = never as f64 / pop as f64;
    Ok(raw
        .into_iter()
        .filter(|r| r.1 > 0)
        .map(|(code, p, a, n)| DistrictStats {
            code,
            pop5plus: p,
            attendance_ratio: (a as f64 / p as f64) / nat_att,
            never_attended_idx: ((n as f64 / p as f64) / nat_never).max(0.05),
        })
        .collect())
}

/// Age pyramid target, percent of the population in 5-year bands 0–4 … 105–109.
///
/// Anchored on CNPV 2022 totals: population 6,109,903; aged 5+ 5,644,232 (so 0–4 = 7.6 %);
/// aged 15+ 4,580,873 (so under 15 = 25.0 %) — INE, Caracterización de Educación, Cuadro 2;
/// median age 29 and dependency ratio 51 per 100 (INE presentation, reported by Última Hora,
/// "Consultora destaca transición demográfica", 2024), which with the under-15 share gives
/// 65+ = 8.8 % ("9 de cada 100", same press). The split inside those anchors is smooth and
/// approximate. Used to size the cédula number blocks and, in tests, as the target the household
/// composition model is checked against.
pub(crate) const AGE_BANDS_PCT: [f64; 22] = [
    7.6, 8.6, 8.8, // 0–14: 25.0
    8.7, 8.4, 7.9, // 15–29: 25.0 (median 29)
    7.4, 7.0, 6.6, 5.9, 5.2, 4.8, 4.3, // 30–64: 41.2
    3.2, 2.3, 1.5, 0.95, 0.55, 0.22, 0.06, 0.02, 0.0, // 65+: 8.8
];

/// Urban share of the population aged 5+ by department (index = department code 00..17),
/// CNPV 2022, INE "Caracterización de Educación" Cuadros 3–20 (urban / total 5+). National
/// 3,907,470 / 5,644,232 = 69.2 %. Asunción is entirely urban.
pub(crate) const URBAN_SHARE_BY_DEPT: [f64; 18] = [
    1.0,                       // 00 Asunción 436,289 / 436,289
    102_191.0 / 188_688.0,     // 01 Concepción
    83_083.0 / 324_887.0,      // 02 San Pedro
    101_069.0 / 249_428.0,     // 03 Cordillera
    72_096.0 / 166_852.0,      // 04 Guairá
    175_570.0 / 395_438.0,     // 05 Caaguazú
    30_673.0 / 127_991.0,      // 06 Caazapá
    210_735.0 / 416_221.0,     // 07 Itapúa
    62_652.0 / 103_433.0,      // 08 Misiones
    68_398.0 / 187_585.0,      // 09 Paraguarí
    571_851.0 / 700_519.0,     // 10 Alto Paraná
    1_653_044.0 / 1_746_444.0, // 11 Central
    48_756.0 / 72_235.0,       // 12 Ñeembucú
    127_204.0 / 162_983.0,     // 13 Amambay
    67_454.0 / 172_713.0,      // 14 Canindeyú
    55_282.0 / 112_554.0,      // 15 Presidente Hayes
    33_218.0 / 64_355.0,       // 16 Boquerón
    7_905.0 / 15_617.0,        // 17 Alto Paraguay
];

/// Indigenous persons by department (index = department code), *approximate*: the department
/// distribution of the 2012 indigenous census (DGEEC, III Censo Nacional Indígena) rescaled to
/// the 2022 total of 140,039 (INE, IV Censo Nacional Indígena 2022, first final results, La
/// Nación 2023-12-24). The 2022 census covered communities in 14 departments plus Asunción —
/// none in Cordillera, Misiones or Ñeembucú. Replace with INE's 2022 department table.
pub(crate) const INDIGENOUS_PERSONS_BY_DEPT: [f64; 18] = [
    600.0,    // 00 Asunción
    4_300.0,  // 01 Concepción
    7_100.0,  // 02 San Pedro
    0.0,      // 03 Cordillera
    1_400.0,  // 04 Guairá
    6_900.0,  // 05 Caaguazú
    3_900.0,  // 06 Caazapá
    5_700.0,  // 07 Itapúa
    0.0,      // 08 Misiones
    400.0,    // 09 Paraguarí
    8_300.0,  // 10 Alto Paraná
    2_400.0,  // 11 Central
    0.0,      // 12 Ñeembucú
    10_700.0, // 13 Amambay
    16_600.0, // 14 Canindeyú
    38_600.0, // 15 Presidente Hayes
    29_700.0, // 16 Boquerón
    3_600.0,  // 17 Alto Paraguay
];

/// Total population by department, approximated as pop 5+ (CNPV 2022) / 0.924 (national share
/// aged 5+, 5,644,232 / 6,109,903). Used only to turn indigenous counts into shares.
pub(crate) fn dept_population(pop5plus: u64) -> f64 {
    pop5plus as f64 / 0.924
}

/// Indigenous peoples present in each department, with rough weights. Sizes of the largest
/// peoples are from the 2022 indigenous census (Mbyá Guaraní 28,123; Avá Guaraní 22,694; Paĩ
/// Tavyterã 17,706; Nivaclé 18,280; Enlhet 9,874; Guaná 556; Tomárãho 213 — La Nación
/// 2023-12-24); where they live follows the community listings of the indigenous censuses
/// (approximate). Codes are the `pueblo` choice list of `forms/fips.xlsx`.
pub(crate) fn pueblos(dept: u8) -> &'static [(&'static str, f64)] {
    match dept {
        0 => &[("mbya_guarani", 0.5), ("ava_guarani", 0.3), ("qom", 0.2)],
        1 => &[
            ("pai_tavytera", 0.45),
            ("mbya_guarani", 0.35),
            ("guana", 0.1),
            ("enxet_sur", 0.1),
        ],
        2 => &[
            ("mbya_guarani", 0.5),
            ("ava_guarani", 0.45),
            ("pai_tavytera", 0.05),
        ],
        4 => &[("mbya_guarani", 0.8), ("ache", 0.2)],
        5 => &[("mbya_guarani", 0.8), ("ava_guarani", 0.1), ("ache", 0.1)],
        6 => &[("mbya_guarani", 0.9), ("ache", 0.1)],
        10 => &[("ava_guarani", 0.6), ("mbya_guarani", 0.35), ("ache", 0.05)],
        11 => &[
            ("maka", 0.5),
            ("mbya_guarani", 0.3),
            ("qom", 0.1),
            ("nivacle", 0.1),
        ],
        13 => &[("pai_tavytera", 0.9), ("ava_guarani", 0.1)],
        14 => &[
            ("ava_guarani", 0.7),
            ("ache", 0.1),
            ("mbya_guarani", 0.1),
            ("pai_tavytera", 0.1),
        ],
        15 => &[
            ("enxet_sur", 0.25),
            ("enlhet_norte", 0.2),
            ("nivacle", 0.15),
            ("sanapana", 0.1),
            ("angaite", 0.1),
            ("toba_maskoy", 0.07),
            ("qom", 0.07),
            ("maka", 0.03),
            ("guana", 0.03),
        ],
        16 => &[
            ("nivacle", 0.55),
            ("enlhet_norte", 0.15),
            ("guarani_nandeva", 0.09),
            ("guarani_occidental", 0.09),
            ("ayoreo", 0.08),
            ("manjui", 0.04),
        ],
        17 => &[
            ("ishir_ybytoso", 0.4),
            ("ayoreo", 0.25),
            ("angaite", 0.12),
            ("sanapana", 0.1),
            ("toba_maskoy", 0.08),
            ("tomaraho", 0.05),
        ],
        _ => &[("mbya_guarani", 1.0)],
    }
}

/// Whether a department is in the Chaco (Región Occidental): scarce water, long distances.
pub(crate) fn is_chaco(dept: u8) -> bool {
    matches!(dept, 15..=17)
}

/// Departments on the Brazilian border where Portuguese is common (brasiguayos).
pub(crate) fn portuguese_border(dept: u8) -> bool {
    matches!(dept, 10 | 13 | 14)
}

/// Monetary poverty, EPHC 2024 (INE, published_figures.md): total 20.1 % (urban 16.6, rural
/// 25.9); extreme 4.1 % (urban 1.9, rural 7.9). Person-level rates.
pub(crate) const POVERTY_URBAN: f64 = 0.166;
pub(crate) const POVERTY_RURAL: f64 = 0.259;
pub(crate) const EXTREME_URBAN: f64 = 0.019;
pub(crate) const EXTREME_RURAL: f64 = 0.079;
/// Indigenous persons, *approximate*: EPHC-based estimates put indigenous monetary poverty near
/// two thirds and extreme poverty near one third.
pub(crate) const POVERTY_INDIGENOUS: f64 = 0.66;
pub(crate) const EXTREME_INDIGENOUS: f64 = 0.34;

/// Monthly minimum wage, Gs, *approximate* 2025 value (the legal minimum is readjusted every
/// July by decree; replace with the one in force). Formal wage earners are paid at least this.
pub(crate) const MINIMUM_WAGE: u64 = 2_899_048;
/// Pensión Alimentaria para Adultos Mayores: by law a quarter of the minimum wage.
pub(crate) const ADULTOS_MAYORES_PENSION: u64 = MINIMUM_WAGE / 4;
/// Per-capita monthly poverty lines, Gs, *approximate* (INE 2023–2024 lines, rounded): used
/// only to keep declared incomes consistent with the drawn poverty status.
pub(crate) const POVERTY_LINE_URBAN: f64 = 950_000.0;
pub(crate) const POVERTY_LINE_RURAL: f64 = 680_000.0;
