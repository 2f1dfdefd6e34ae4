//! `vamos synth`: a synthetic — **SINTÉTICO** — population of Paraguay, written as the files the
//! registry would receive from the field and from institutions.
//!
//! Why it exists: Vamos must be built, tested, benchmarked and demonstrated without touching
//! real personal data. This crate draws households, persons and communities that look like
//! Paraguay (CNPV 2022 district sizes and urban shares, age pyramid, indigenous communities where
//! they live, EPHC poverty and coverage rates — see `calib`) and writes them exactly as ODK
//! Central exports the FIPS and Entorno forms, plus administrative registry files with real-world
//! defects for record-linkage work. No row describes a real person.
//!
//! Design: deterministic and streaming. Every district draws from its own ChaCha8 streams keyed by
//! (seed, district, purpose), households are generated one at a time into a reused buffer and
//! written at once, so national scale (1.9 M households, ≈ 6.5 M persons) runs in bounded memory,
//! and the same configuration always produces byte-identical files.

mod admin;
mod calib;
mod cedula;
mod geo;
mod manifest;
mod model;
mod names;
mod out;
mod plan;
mod reinterview;
mod rng;
#[cfg(test)]
mod tests;

pub use reinterview::reinterview;

use chrono::NaiveDate;
use std::path::{Path, PathBuf};
use vamos_domain::{DistrictCode, Territory};

/// What to generate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SynthConfig {
    /// Districts to cover (duplicates are ignored; output follows code order).
    pub districts: Vec<DistrictCode>,
    /// Total households across the districts, split by CNPV 2022 population (exact sum).
    pub households: u64,
    /// Seed of every random draw: same configuration → byte-identical files.
    pub seed: u64,
    /// Interviews fall in the 90 days before this date; nothing is dated after it.
    pub reference_date: NaiveDate,
    /// Also write the administrative registries under `admin/`.
    pub admin: bool,
}

/// What was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SynthReport {
    pub files: Vec<WrittenFile>,
    pub households: u64,
    pub persons: u64,
    pub communities: u64,
    /// Rows across all `admin/` files (0 without `admin`).
    pub admin_records: u64,
}

/// One output file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrittenFile {
    pub path: PathBuf,
    /// Data rows (header excluded); 0 for the text and JSON files.
    pub rows: u64,
    /// What the file holds, in Spanish.
    pub what: String,
}

/// Why generation failed.
#[derive(Debug, thiserror::Error)]
pub enum SynthError {
    #[error("no se eligió ningún distrito")]
    NoDistricts,
    #[error("la cantidad de hogares debe ser al menos 1")]
    NoHouseholds,
    #[error("el distrito {0} no tiene datos de población del CNPV 2022")]
    UnknownDistrict(String),
    #[error("no se pudo escribir {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("no se pudo escribir {path}: {source}")]
    Csv { path: PathBuf, source: csv::Error },
    #[error("datos de calibración inválidos: {0}")]
    Calibration(String),
}

/// Every district of the official list (263, CNPV 2022), in code order.
pub fn all_districts() -> Vec<DistrictCode> {
    Territory::official()
        .districts()
        .iter()
        .map(|d| d.code)
        .collect()
}

/// Splits `total` in proportion to `weights` with the largest-remainder method, so the parts
/// add up exactly to `total` (ties go to the earlier entry).
pub(crate) fn split_exact(total: u64, weights: &[u64]) -> Vec<u64> {
    let sum: u128 = weights.iter().map(|&w| u128::from(w)).sum();
    if sum == 0 {
        return vec![0; weights.len()];
    }
    let t = u128::from(total);
    let mut parts: Vec<u64> = weights
        .iter()
        .map(|&w| (t * u128::from(w) / sum) as u64)
        .collect();
    let mut rems: Vec<(u128, usize)> = weights
        .iter()
        .enumerate()
        .map(|(i, &w)| (t * u128::from(w) % sum, i))
        .collect();
    rems.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let assigned: u64 = parts.iter().sum();
    for &(_, i) in rems.iter().take(total.saturating_sub(assigned) as usize) {
        if let Some(p) = parts.get_mut(i) {
            *p += 1;
        }
    }
    parts
}

/// Generates the synthetic population into `out_dir` (created if missing; files are
/// overwritten). `progress` is called with (households done, total) every few thousand
/// households and once at the end.
pub fn generate(
    cfg: &SynthConfig,
    out_dir: &Path,
    progress: &dyn Fn(u64, u64),
) -> Result<SynthReport, SynthError> {
    let mut districts = cfg.districts.clone();
    districts.sort();
    districts.dedup();
    if districts.is_empty() {
        return Err(SynthError::NoDistricts);
    }
    if cfg.households == 0 {
        return Err(SynthError::NoHouseholds);
    }
    let national = plan::National::load()?;
    let mut chosen = Vec::with_capacity(districts.len());
    for d in &districts {
        let s = national
            .stats(*d)
            .ok_or_else(|| SynthError::UnknownDistrict(d.to_string()))?;
        chosen.push(s);
    }
    let quotas = split_exact(
        cfg.households,
        &chosen.iter().map(|s| s.pop5plus).collect::<Vec<_>>(),
    );

    std::fs::create_dir_all(out_dir).map_err(|e| out::io_err(out_dir, e))?;
    let mut survey = out::SurveyWriter::create(out_dir)?;
    let mut admin = if cfg.admin {
        Some(admin::AdminWriter::create(
            &out_dir.join("admin"),
            cfg.reference_date,
        )?)
    } else {
        None
    };
    let mut cedulas = cedula::CedulaAllocator::new(&mut rng::global(cfg.seed));
    let mut hh = model::Household::default();
    let (mut done, mut persons, mut communities) = (0u64, 0u64, 0u64);
    let mut answers = out::CommunityAnswers::default();

    for (stats, quota) in chosen.iter().zip(quotas) {
        if quota == 0 {
            continue;
        }
        let code = stats.code;
        let dept = code.department().to_string();
        let district = code.to_string();
        let mut crng = rng::stream(cfg.seed, code.get(), rng::Stream::Communities);
        let district_plan = national.plan(&mut crng, stats, quota)?;
        for comm in &district_plan.communities {
            let (alt, acc) = plan::community_answers(
                &mut crng,
                comm,
                &district_plan.ctx,
                cfg.reference_date,
                &mut answers,
            );
            survey.community(&answers, &dept, &district, comm, alt, acc)?;
            communities += 1;
        }
        let mut hrng = rng::stream(cfg.seed, code.get(), rng::Stream::Households);
        let mut arng = rng::stream(cfg.seed, code.get(), rng::Stream::Admin);
        let mut urng = rng::stream(cfg.seed, code.get(), rng::Stream::Utgs);
        let mut drawer = model::Drawer::new(district_plan.ctx, cfg.reference_date, &mut cedulas);
        for comm in &district_plan.communities {
            for _ in 0..comm.households {
                drawer.draw(&mut hrng, comm, national.geo(), &mut hh);
                survey.household(&hh, &dept, &district, comm)?;
                if let Some(a) = admin.as_mut() {
                    a.household(&mut arng, &mut urng, &hh, comm, code.get(), drawer.cedulas)?;
                }
                persons += hh.members.len() as u64;
                done += 1;
                if done % 4096 == 0 {
                    progress(done, cfg.households);
                }
            }
        }
    }
    progress(done, cfg.households);

    let mut files = Vec::new();
    let [fips, miembros, comunidades] = survey.finish()?;
    let descr = [
        "Fichas de hogar (FIPS), una fila por hogar, formato ODK Central — SINTÉTICO",
        "Integrantes de los hogares (repetición «miembros» de la FIPS) — SINTÉTICO",
        "Fichas de Entorno, una fila por comunidad (barrio, compañía o comunidad indígena) — SINTÉTICO",
    ];
    for ((path, rows), what) in [fips, miembros, comunidades].into_iter().zip(descr) {
        files.push(WrittenFile {
            path,
            rows,
            what: what.to_string(),
        });
    }
    let mut admin_records = 0;
    if let Some(a) = admin {
        let truth = admin::truth_path(&out_dir.join("admin"));
        for (path, rows, what) in a.finish()? {
            if path != truth {
                admin_records += rows;
            }
            files.push(WrittenFile {
                path,
                rows,
                what: what.to_string(),
            });
        }
    }
    let mut report = SynthReport {
        files,
        households: done,
        persons,
        communities,
        admin_records,
    };
    manifest::write(cfg, &districts, out_dir, &mut report)?;
    Ok(report)
}
