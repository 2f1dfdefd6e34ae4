//! Synthetic administrative registries (`admin/`): the files institutions would hand over for
//! linkage with the social registry — MEC school enrolment, MSPBS vaccination and prenatal
//! checks, IPS contributions, the Adultos Mayores pension payroll, Registro Civil births and the
//! UTGS guidance service ORIENTACIONES SPS (the núcleo service of every category).
//!
//! They are derived from the synthetic survey population with the defects of real files:
//! missing and mistyped cédulas, spelling variants and upper-case names, swapped day/month in
//! birth dates, and ≈ 5 % records of people who are not in the survey at all. The MEC file is
//! written the way an Excel export on Windows arrives: Windows-1252, `;`-separated, `dd/mm/yyyy`,
//! CRLF line ends, district codes that lost their leading zero, sex as `M`/`F`. The others are
//! UTF-8, `,`, ISO dates, sex as `hombre`/`mujer`.
//!
//! Beside them, outside `admin/` so that importing the folder never reads it, the truth of the
//! linkage (`verdad/enlace_admin.csv`): for each record, the survey member it is about (the
//! member's `KEY`, as the registry keeps it) or nothing for an outsider — what record linkage is
//! measured against. It takes no random draws, so the files themselves are unchanged.
//!
//! The UTGS registry draws from its own random stream (`rng::Stream::Utgs`) and its outsiders
//! take cédulas from the other end of the outsider blocks, so adding it left the five older files
//! byte-identical.

use crate::calib::{ADULTOS_MAYORES_PENSION, MINIMUM_WAGE};
use crate::cedula::CedulaAllocator;
use crate::model::{age_at, Class, Community, Household, Person};
use crate::names::{self, NameParts, NameStyle};
use crate::out::{io_err, push_date, push_date_dmy, Csv};
use crate::rng::Rng64;
use crate::SynthError;
use chrono::{Datelike, Days, NaiveDate};
use encoding_rs::{Encoder, EncoderResult, WINDOWS_1252};
use std::fmt::Write as _;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use vamos_domain::territory::PILOT_DISTRICTS;
use vamos_domain::{DistrictCode, Territory};

/// Columns of every registry file (`forms/SPEC.md`, "Administrative registry files").
pub(crate) const COLUMNS: [&str; 10] = [
    "id_registro",
    "cedula",
    "nombres",
    "apellidos",
    "fecha_nacimiento",
    "sexo",
    "distrito",
    "servicio",
    "fecha_evento",
    "detalle",
];

/// Share of records of people absent from the survey.
const OUTSIDER_RATE: f64 = 0.05;

/// ORIENTACIONES SPS: share of households reached in the year before the reference date. The
/// four pilot districts opened their Espacio SPS first; elsewhere the service is younger.
const UTGS_REACH_PILOT: f64 = 0.90;
const UTGS_REACH_OTHER: f64 = 0.48;
/// Days back the service has been working: the whole validity year in the pilot districts, about
/// eight months elsewhere (every record stays valid for its 365 days at the reference date).
const UTGS_HORIZON_PILOT: i64 = 360;
const UTGS_HORIZON_OTHER: i64 = 240;

/// An `io::Write` that receives UTF-8 (from the csv writer) and stores Windows-1252.
/// Characters without a Windows-1252 form are written without their accent, or as `?`.
pub(crate) struct Latin1Sink {
    inner: BufWriter<File>,
    pending: Vec<u8>,
    out: Vec<u8>,
    encoder: Encoder,
}

impl Latin1Sink {
    fn new(f: File) -> Self {
        Latin1Sink {
            inner: BufWriter::with_capacity(1 << 20, f),
            pending: Vec::with_capacity(1 << 16),
            out: Vec::with_capacity(1 << 16),
            encoder: WINDOWS_1252.new_encoder(),
        }
    }

    /// Transcodes the complete UTF-8 prefix of `pending`.
    fn drain(&mut self) -> std::io::Result<()> {
        let valid = match std::str::from_utf8(&self.pending) {
            Ok(s) => s.len(),
            Err(e) => e.valid_up_to(),
        };
        let text =
            std::str::from_utf8(self.pending.get(..valid).unwrap_or_default()).unwrap_or_default();
        let mut src = text;
        loop {
            if self.out.capacity() - self.out.len() < 16 {
                self.inner.write_all(&self.out)?;
                self.out.clear();
            }
            let (res, read) =
                self.encoder
                    .encode_from_utf8_to_vec_without_replacement(src, &mut self.out, false);
            src = src.get(read..).unwrap_or_default();
            match res {
                EncoderResult::InputEmpty => break,
                EncoderResult::OutputFull => {
                    self.inner.write_all(&self.out)?;
                    self.out.clear();
                }
                EncoderResult::Unmappable(c) => {
                    let plain = names::plain_char(c);
                    let mut buf = [0u8; 4];
                    let (bytes, _, bad) = WINDOWS_1252.encode(plain.encode_utf8(&mut buf));
                    if bad {
                        self.out.push(b'?');
                    } else {
                        self.out.extend_from_slice(&bytes);
                    }
                }
            }
        }
        self.inner.write_all(&self.out)?;
        self.out.clear();
        self.pending.drain(..valid);
        Ok(())
    }
}

impl Write for Latin1Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.pending.extend_from_slice(buf);
        if self.pending.len() >= 1 << 15 {
            self.drain()?;
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.drain()?;
        self.inner.flush()
    }
}

/// The six registries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Registry {
    Mec,
    Mspbs,
    Ips,
    Pension,
    Rc,
    Utgs,
}

impl Registry {
    pub(crate) const ALL: [Registry; 6] = [
        Registry::Mec,
        Registry::Mspbs,
        Registry::Ips,
        Registry::Pension,
        Registry::Rc,
        Registry::Utgs,
    ];

    pub(crate) fn file(self) -> &'static str {
        match self {
            Registry::Mec => "mec_matricula.csv",
            Registry::Mspbs => "mspbs_vacunacion.csv",
            Registry::Ips => "ips_aportes.csv",
            Registry::Pension => "pension_adultos_mayores.csv",
            Registry::Rc => "rc_nacimientos.csv",
            Registry::Utgs => "utgs_orientaciones.csv",
        }
    }

    /// The institution that keeps the registry (its code in the service catalogue), written
    /// in `manifest.json` so that `vamos import admin <folder>` loads each file as its own.
    pub(crate) fn institution(self) -> &'static str {
        match self {
            Registry::Mec => "MEC",
            Registry::Mspbs => "MSPBS",
            Registry::Ips => "IPS",
            Registry::Pension => "MDS",
            Registry::Rc => "RC",
            Registry::Utgs => "UTGS",
        }
    }

    pub(crate) fn what(self) -> &'static str {
        match self {
            Registry::Mec => "MEC: matrícula escolar (Windows-1252, separador «;», fechas dd/mm/aaaa) — SINTÉTICO",
            Registry::Mspbs => "MSPBS: vacunación de niños de 0 a 4 años y controles prenatales — SINTÉTICO",
            Registry::Ips => "IPS: aportes de trabajadores asegurados — SINTÉTICO",
            Registry::Pension => "MDS/MH: nómina de la Pensión Alimentaria para Adultos Mayores — SINTÉTICO",
            Registry::Rc => "Registro Civil: inscripciones de nacimiento — SINTÉTICO",
            Registry::Utgs => "UTGS: atenciones del servicio ORIENTACIONES SPS (Espacios SPS, orientación telefónica, jornadas comunitarias) — SINTÉTICO",
        }
    }

    fn prefix(self) -> &'static str {
        match self {
            Registry::Mec => "MEC",
            Registry::Mspbs => "MSPBS",
            Registry::Ips => "IPS",
            Registry::Pension => "PAM",
            Registry::Rc => "RC",
            Registry::Utgs => "UTGS",
        }
    }

    /// How the institution writes names.
    fn style(self) -> NameStyle {
        match self {
            Registry::Mec => NameStyle {
                upper: 0.8,
                plain: 0.7,
            },
            Registry::Mspbs => NameStyle {
                upper: 0.3,
                plain: 0.4,
            },
            Registry::Ips => NameStyle {
                upper: 0.9,
                plain: 0.6,
            },
            Registry::Pension => NameStyle {
                upper: 0.5,
                plain: 0.5,
            },
            Registry::Rc => NameStyle {
                upper: 0.05,
                plain: 0.1,
            },
            // Typed by the attending officer into a new system: mostly as the person says it.
            Registry::Utgs => NameStyle {
                upper: 0.25,
                plain: 0.35,
            },
        }
    }
}

/// Who a record is about.
struct Subject {
    names: NameParts,
    birth: NaiveDate,
    female: bool,
    cedula: u32,
    /// Someone not in the survey (the truth names nobody).
    outsider: bool,
}

impl Subject {
    fn of(p: &Person) -> Subject {
        Subject {
            names: p.names,
            birth: p.birth,
            female: p.female,
            cedula: p.cedula,
            outsider: false,
        }
    }
}

/// The truth file's path beside `admin/`.
pub(crate) fn truth_path(admin_dir: &Path) -> PathBuf {
    admin_dir
        .parent()
        .unwrap_or(admin_dir)
        .join("verdad")
        .join("enlace_admin.csv")
}

/// The open registry files.
pub(crate) struct AdminWriter {
    mec: Csv<Latin1Sink>,
    others: [Csv<File>; 5],
    /// `id_registro, persona` (the member's KEY; empty for an outsider).
    truth: Csv<File>,
    /// The KEY of the member whose records are being written.
    member_key: String,
    counters: [u64; 6],
    reference: NaiveDate,
    window_start: NaiveDate,
    s: String,
    nombres: String,
    apellidos: String,
    scratch: String,
    detalle: String,
    f_id: String,
    f_ced: String,
    f_nac: String,
    f_evt: String,
    fecha_evento: NaiveDate,
    /// Name of the district of the current household (for UTGS details), by code.
    district_name: (u16, String),
}

impl AdminWriter {
    pub(crate) fn create(dir: &Path, reference: NaiveDate) -> Result<Self, SynthError> {
        std::fs::create_dir_all(dir).map_err(|e| io_err(dir, e))?;
        let mec_path = dir.join(Registry::Mec.file());
        let f = File::create(&mec_path).map_err(|e| io_err(&mec_path, e))?;
        let mut mec = Csv::from_writer(Latin1Sink::new(f), mec_path, b';', csv::Terminator::CRLF);
        mec.header(COLUMNS)?;
        let mk = |r: Registry| -> Result<Csv<File>, SynthError> {
            let mut c = Csv::create(dir.join(r.file()), b',')?;
            c.header(COLUMNS)?;
            Ok(c)
        };
        let others = [
            mk(Registry::Mspbs)?,
            mk(Registry::Ips)?,
            mk(Registry::Pension)?,
            mk(Registry::Rc)?,
            mk(Registry::Utgs)?,
        ];
        let truth_file = truth_path(dir);
        if let Some(parent) = truth_file.parent() {
            std::fs::create_dir_all(parent).map_err(|e| io_err(parent, e))?;
        }
        let mut truth = Csv::create(truth_file, b',')?;
        truth.header(["id_registro", "persona"])?;
        Ok(AdminWriter {
            mec,
            others,
            truth,
            member_key: String::with_capacity(64),
            counters: [0; 6],
            reference,
            // 18 months back.
            window_start: reference
                .checked_sub_days(Days::new(548))
                .unwrap_or(reference),
            s: String::with_capacity(64),
            nombres: String::with_capacity(64),
            apellidos: String::with_capacity(64),
            scratch: String::with_capacity(64),
            detalle: String::with_capacity(96),
            f_id: String::with_capacity(24),
            f_ced: String::with_capacity(12),
            f_nac: String::with_capacity(12),
            f_evt: String::with_capacity(12),
            fecha_evento: reference,
            district_name: (u16::MAX, String::new()),
        })
    }

    /// The member whose records come next: its KEY as the survey writes it.
    fn member(&mut self, hh: &Household, i: usize) {
        self.member_key.clear();
        let _ = write!(self.member_key, "{}/miembros[{}]", hh.key, i + 1);
    }

    fn in_window(&self, d: NaiveDate) -> bool {
        d >= self.window_start && d <= self.reference
    }

    /// Records of one survey household. `rng` drives the five original registries and
    /// `utgs_rng` (a stream of its own) the UTGS one, so neither shifts the other's draws.
    pub(crate) fn household(
        &mut self,
        rng: &mut impl Rng64,
        utgs_rng: &mut impl Rng64,
        hh: &Household,
        comm: &Community,
        district: u16,
        cedulas: &mut CedulaAllocator,
    ) -> Result<(), SynthError> {
        for (i, p) in hh.members.iter().enumerate() {
            self.member(hh, i);
            self.mec(rng, p, comm, district, cedulas)?;
            self.mspbs(rng, hh, p, comm, district, cedulas)?;
            self.ips(rng, p, district, cedulas)?;
            self.pension(rng, hh, p, district, cedulas)?;
            self.rc(rng, hh, p, district, cedulas)?;
        }
        self.utgs(utgs_rng, hh, comm, district, cedulas)
    }

    fn mec(
        &mut self,
        rng: &mut impl Rng64,
        p: &Person,
        comm: &Community,
        district: u16,
        cedulas: &mut CedulaAllocator,
    ) -> Result<(), SynthError> {
        if !(5..=17).contains(&p.age) || p.asiste != "si" || !rng.chance(0.97) {
            return Ok(());
        }
        // Enrolment for the school year in course (classes start in late February).
        let mut year = self.reference.year();
        let mut date = enrolment_date(rng, year);
        if date > self.reference {
            year -= 1;
            date = enrolment_date(rng, year);
        }
        self.fecha_evento = date;
        grade_detail(&mut self.detalle, p.age, comm.school);
        self.emit(
            rng,
            Registry::Mec,
            &Subject::of(p),
            district,
            "matricula_escolar",
        )?;
        self.maybe_outsider(
            rng,
            Registry::Mec,
            p.age,
            district,
            "matricula_escolar",
            cedulas,
        )
    }

    fn mspbs(
        &mut self,
        rng: &mut impl Rng64,
        hh: &Household,
        p: &Person,
        comm: &Community,
        district: u16,
        cedulas: &mut CedulaAllocator,
    ) -> Result<(), SynthError> {
        if let Some(c) = p.controles {
            for j in 0..c {
                let back = 28 * u64::from(j) + rng.int(0, 6) as u64;
                let d = hh
                    .interview
                    .checked_sub_days(Days::new(back))
                    .unwrap_or(hh.interview);
                if self.in_window(d) && rng.chance(0.9) {
                    self.fecha_evento = d;
                    self.detalle.clear();
                    let _ = write!(
                        self.detalle,
                        "control N° {} - USF N° {}",
                        c - j,
                        comm.school
                    );
                    self.emit(
                        rng,
                        Registry::Mspbs,
                        &Subject::of(p),
                        district,
                        "control_prenatal",
                    )?;
                }
            }
        }
        if p.age > 4 {
            return Ok(());
        }
        let take = match p.carnet {
            "si" => 0.95,
            "no_sabe" => 0.7,
            _ => 0.45,
        };
        // BCG at birth; pentavalent at 2, 4 and 6 months; MMR (SPR) at 12 months.
        let schedule: [(&str, u64, u64, &str); 5] = [
            ("bcg", 0, 3, "dosis única"),
            ("pentavalente", 60, 20, "dosis 1"),
            ("pentavalente", 120, 20, "dosis 2"),
            ("pentavalente", 180, 20, "dosis 3"),
            ("srp", 365, 30, "dosis 1"),
        ];
        let mut emitted = false;
        for (servicio, at, jitter, dosis) in schedule {
            let d = p
                .birth
                .checked_add_days(Days::new(at + rng.int(0, jitter as i64) as u64))
                .unwrap_or(p.birth);
            if self.in_window(d) && rng.chance(take) {
                self.fecha_evento = d;
                self.detalle.clear();
                let _ = write!(self.detalle, "{dosis} - USF N° {}", comm.school);
                self.emit(rng, Registry::Mspbs, &Subject::of(p), district, servicio)?;
                emitted = true;
            }
        }
        if p.carnet == "si" && p.age >= 2 && rng.chance(0.6) {
            let d = hh
                .interview
                .checked_sub_days(Days::new(rng.int(10, 300) as u64))
                .unwrap_or(hh.interview);
            if self.in_window(d) {
                self.fecha_evento = d;
                self.detalle.clear();
                let _ = write!(
                    self.detalle,
                    "esquema completo para la edad - USF N° {}",
                    comm.school
                );
                self.emit(
                    rng,
                    Registry::Mspbs,
                    &Subject::of(p),
                    district,
                    "vacunacion_completa",
                )?;
                emitted = true;
            }
        }
        if emitted {
            self.maybe_outsider(
                rng,
                Registry::Mspbs,
                p.age,
                district,
                "pentavalente",
                cedulas,
            )?;
        }
        Ok(())
    }

    fn ips(
        &mut self,
        rng: &mut impl Rng64,
        p: &Person,
        district: u16,
        cedulas: &mut CedulaAllocator,
    ) -> Result<(), SynthError> {
        // Formal employment requires a cédula.
        if p.aporta != "si" || p.cedula == 0 {
            return Ok(());
        }
        // Public servants mostly contribute to the Caja Fiscal, not IPS.
        let at_ips = match p.tipo_empleo {
            "asalariado_publico" => 0.1,
            _ => 0.96,
        };
        if !rng.chance(at_ips) {
            return Ok(());
        }
        // Last month declared before the reference date.
        let month_start = self.reference.with_day(1).unwrap_or(self.reference);
        let last = month_start
            .checked_sub_days(Days::new(1))
            .unwrap_or(self.reference);
        self.fecha_evento = last;
        let declared = p
            .ingreso
            .map(|i| (i as f64 * rng.float(0.6, 1.0)) as u64)
            .unwrap_or(MINIMUM_WAGE);
        let declared = declared.max(MINIMUM_WAGE) / 1000 * 1000;
        self.detalle.clear();
        let _ = write!(
            self.detalle,
            "aporte {:02}/{:04}; salario declarado Gs {declared}",
            last.month(),
            last.year()
        );
        self.emit(rng, Registry::Ips, &Subject::of(p), district, "aporte_ips")?;
        self.maybe_outsider(rng, Registry::Ips, p.age, district, "aporte_ips", cedulas)
    }

    fn pension(
        &mut self,
        rng: &mut impl Rng64,
        hh: &Household,
        p: &Person,
        district: u16,
        cedulas: &mut CedulaAllocator,
    ) -> Result<(), SynthError> {
        // Payroll: nearly all who say they receive it, plus some poor older adults who did not
        // mention it in the interview.
        if p.cedula == 0 {
            // Enrolment in the pension requires a cédula.
            return Ok(());
        }
        let on_payroll = if p.pension == "adultos_mayores" {
            rng.chance(0.96)
        } else {
            p.age >= 65 && p.pension == "ninguna" && hh.class <= Class::Poor && rng.chance(0.06)
        };
        if !on_payroll {
            return Ok(());
        }
        let paid = self
            .reference
            .with_day(1)
            .and_then(|d| d.checked_sub_days(Days::new(rng.int(5, 20) as u64)));
        self.fecha_evento = paid.unwrap_or(self.reference);
        self.detalle.clear();
        let _ = write!(self.detalle, "pago mensual Gs {ADULTOS_MAYORES_PENSION}");
        self.emit(
            rng,
            Registry::Pension,
            &Subject::of(p),
            district,
            "pension_alimentaria",
        )?;
        self.maybe_outsider(
            rng,
            Registry::Pension,
            p.age,
            district,
            "pension_alimentaria",
            cedulas,
        )
    }

    fn rc(
        &mut self,
        rng: &mut impl Rng64,
        hh: &Household,
        p: &Person,
        district: u16,
        cedulas: &mut CedulaAllocator,
    ) -> Result<(), SynthError> {
        if p.age > 4 || p.inscripcion != "si" {
            return Ok(());
        }
        let lag = match rng.unit() {
            u if u < 0.7 => rng.int(1, 30),
            u if u < 0.9 => rng.int(31, 365),
            _ => rng.int(366, 1460),
        };
        let d = p
            .birth
            .checked_add_days(Days::new(lag as u64))
            .unwrap_or(p.birth)
            .min(hh.interview);
        if !self.in_window(d) || !rng.chance(0.98) {
            return Ok(());
        }
        self.fecha_evento = d;
        self.detalle.clear();
        let _ = write!(
            self.detalle,
            "Oficina N° {} - Libro {} - Acta {}",
            rng.int(1, 300),
            rng.int(1, 40),
            rng.int(1, 999)
        );
        self.emit(
            rng,
            Registry::Rc,
            &Subject::of(p),
            district,
            "inscripcion_nacimiento",
        )?;
        self.maybe_outsider(
            rng,
            Registry::Rc,
            p.age,
            district,
            "inscripcion_nacimiento",
            cedulas,
        )
    }

    /// ORIENTACIONES SPS: a household is reached (more often in the pilot districts, a little more
    /// often when poor), and then nearly every member gets a record in their own name — the
    /// mother or head brings the children — mostly on the same visit. A few adults of households
    /// not reached were guided on their own (by phone, usually). Persons without a cédula are
    /// reached as often; their records simply carry none.
    fn utgs(
        &mut self,
        rng: &mut impl Rng64,
        hh: &Household,
        comm: &Community,
        district: u16,
        cedulas: &mut CedulaAllocator,
    ) -> Result<(), SynthError> {
        let pilot = PILOT_DISTRICTS.contains(&district);
        let (reach, horizon) = if pilot {
            (UTGS_REACH_PILOT, UTGS_HORIZON_PILOT)
        } else {
            (UTGS_REACH_OTHER, UTGS_HORIZON_OTHER)
        };
        let class = match hh.class {
            Class::Extreme | Class::Poor => 1.06,
            Class::Vulnerable => 1.0,
            Class::Middle => 0.97,
            Class::Upper => 0.85,
        };
        let reached = rng.chance(reach * class);
        // The household's visit: when and how.
        let (visit, channel) = if reached {
            (self.utgs_date(rng, horizon), utgs_channel(rng, pilot))
        } else {
            (self.reference, UtgsChannel::Phone)
        };
        for (i, p) in hh.members.iter().enumerate() {
            self.member(hh, i);
            let covered = if reached {
                rng.chance(if p.age < 18 { 0.96 } else { 0.92 })
            } else {
                p.age >= 18 && rng.chance(0.03)
            };
            if !covered {
                continue;
            }
            let (mut date, channel) = if reached && rng.chance(0.85) {
                (visit, channel)
            } else if reached {
                // Came back on another day (or called).
                (self.utgs_date(rng, horizon), utgs_channel(rng, pilot))
            } else {
                let c = if rng.chance(0.7) {
                    UtgsChannel::Phone
                } else {
                    UtgsChannel::Espacio
                };
                (self.utgs_date(rng, horizon), c)
            };
            if date < p.birth {
                // Born after the household's visit: registered at a later contact.
                date = p
                    .birth
                    .checked_add_days(Days::new(rng.int(3, 45) as u64))
                    .unwrap_or(p.birth)
                    .min(self.reference);
            }
            self.fecha_evento = date;
            self.utgs_detail(channel, district, comm);
            // Attendance at a community activity is recorded under its own service code:
            // it evidences the orientation of the person and of the community.
            let service = match channel {
                UtgsChannel::Jornada => "orientacion_comunitaria",
                UtgsChannel::Espacio | UtgsChannel::Phone => "orientacion",
            };
            self.emit(rng, Registry::Utgs, &Subject::of(p), district, service)?;
            self.maybe_outsider(rng, Registry::Utgs, p.age, district, service, cedulas)?;
        }
        Ok(())
    }

    /// A contact date in the `horizon` days before the reference date, more often recent (the
    /// service is growing).
    fn utgs_date(&self, rng: &mut impl Rng64, horizon: i64) -> NaiveDate {
        let back = (horizon as f64 * rng.unit().powf(1.3)) as u64;
        self.reference
            .checked_sub_days(Days::new(back))
            .unwrap_or(self.reference)
    }

    /// `Espacio SPS Villeta`, `Orientación telefónica`, `Jornada comunitaria - Barrio San Miguel`.
    fn utgs_detail(&mut self, channel: UtgsChannel, district: u16, comm: &Community) {
        if self.district_name.0 != district {
            let name = DistrictCode::from_number(district)
                .ok()
                .and_then(|c| Territory::official().district(c))
                .map(|d| d.name.as_str())
                .unwrap_or("");
            self.district_name = (district, name.to_string());
        }
        self.detalle.clear();
        let _ = match channel {
            UtgsChannel::Espacio => write!(self.detalle, "Espacio SPS {}", self.district_name.1),
            UtgsChannel::Phone => write!(self.detalle, "Orientación telefónica"),
            UtgsChannel::Jornada => write!(self.detalle, "Jornada comunitaria - {}", comm.name),
        };
    }

    /// With probability ≈ 5 %, a record of someone not in the survey, of similar age, same
    /// district and service (`detalle` and `fecha_evento` are reused from the last record).
    fn maybe_outsider(
        &mut self,
        rng: &mut impl Rng64,
        reg: Registry,
        age: u32,
        district: u16,
        servicio: &'static str,
        cedulas: &mut CedulaAllocator,
    ) -> Result<(), SynthError> {
        if !rng.chance(OUTSIDER_RATE / (1.0 - OUTSIDER_RATE)) {
            return Ok(());
        }
        let age = (i64::from(age) + rng.int(-1, 1)).clamp(0, 105) as u32;
        let female = match reg {
            Registry::Mspbs if servicio == "control_prenatal" => true,
            _ => rng.chance(0.5),
        };
        let latest = self.fecha_evento.min(self.reference);
        let year_start = latest
            .with_year(latest.year() - age as i32)
            .unwrap_or(latest);
        let birth = year_start
            .checked_sub_days(Days::new(rng.int(0, 364) as u64))
            .unwrap_or(year_start);
        let year = birth.year();
        let names = NameParts {
            given1: names::given(rng, female, year, false),
            given2: if rng.chance(0.5) {
                names::given(rng, female, year, false)
            } else {
                ""
            },
            surname1: names::surname(rng),
            surname2: names::surname(rng),
        };
        let holder = match age {
            0..=4 => 0.4,
            5..=17 => 0.75,
            _ => 0.97,
        };
        let cedula = if rng.chance(holder) {
            let age = age_at(birth, self.reference);
            match reg {
                Registry::Utgs => cedulas.outsider_utgs(age),
                _ => cedulas.outsider(age),
            }
            .unwrap_or(0)
        } else {
            0
        };
        let subject = Subject {
            names,
            birth,
            female,
            cedula,
            outsider: true,
        };
        self.emit(rng, reg, &subject, district, servicio)
    }

    /// Writes one record with the registry's noise.
    fn emit(
        &mut self,
        rng: &mut impl Rng64,
        reg: Registry,
        who: &Subject,
        district: u16,
        servicio: &str,
    ) -> Result<(), SynthError> {
        let idx = reg as usize;
        let n = match self.counters.get_mut(idx) {
            Some(c) => {
                *c += 1;
                *c
            }
            None => 0,
        };
        names::noisy_name(
            rng,
            reg.style(),
            &who.names,
            &mut self.scratch,
            &mut self.nombres,
            &mut self.apellidos,
        );
        let (id, cedula, nacimiento, evento) = (
            &mut self.f_id,
            &mut self.f_ced,
            &mut self.f_nac,
            &mut self.f_evt,
        );
        id.clear();
        cedula.clear();
        nacimiento.clear();
        evento.clear();
        let _ = write!(id, "{}-{}-{:06}", reg.prefix(), self.fecha_evento.year(), n);
        // Cédula: ≈ 3 % missing, ≈ 2 % mistyped.
        if who.cedula != 0 {
            let u = rng.unit();
            if u >= 0.03 {
                let _ = write!(cedula, "{}", who.cedula);
                if u < 0.05 {
                    mistype(rng, cedula);
                }
            }
        }
        let birth = noisy_birth(rng, who.birth);
        let dmy = reg == Registry::Mec;
        if dmy {
            push_date_dmy(nacimiento, birth);
            push_date_dmy(evento, self.fecha_evento);
        } else {
            push_date(nacimiento, birth);
            push_date(evento, self.fecha_evento);
        }
        self.s.clear();
        if dmy {
            // A spreadsheet read the code as a number: `0218` became `218` (kept to at least three
            // digits, the form the domain parser still recognises: Asunción is `000`).
            let _ = write!(self.s, "{district:03}");
        } else {
            let _ = write!(self.s, "{district:04}");
        }
        let sexo = match (dmy, who.female) {
            (true, true) => "F",
            (true, false) => "M",
            (false, true) => "mujer",
            (false, false) => "hombre",
        };
        self.truth.field(id.as_str())?;
        self.truth
            .field(if who.outsider { "" } else { &self.member_key })?;
        self.truth.end()?;
        let row: [&str; 10] = [
            id,
            cedula,
            &self.nombres,
            &self.apellidos,
            nacimiento,
            sexo,
            &self.s,
            servicio,
            evento,
            &self.detalle,
        ];
        match reg {
            Registry::Mec => {
                for f in row {
                    self.mec.field(f)?;
                }
                self.mec.end()
            }
            _ => {
                let Some(w) = self.others.get_mut(idx.saturating_sub(1)) else {
                    return Ok(());
                };
                for f in row {
                    w.field(f)?;
                }
                w.end()
            }
        }
    }

    /// Closes the files: (path, rows, description) per registry.
    pub(crate) fn finish(self) -> Result<Vec<(PathBuf, u64, &'static str)>, SynthError> {
        let mut v = Vec::with_capacity(Registry::ALL.len() + 1);
        let (p, r) = self.truth.finish()?;
        v.push((p, r, "verdad del enlace: el miembro de la encuesta de cada registro administrativo (vacío: alguien fuera de la encuesta)"));
        let (p, r) = self.mec.finish()?;
        v.push((p, r, Registry::Mec.what()));
        for (c, reg) in self
            .others
            .into_iter()
            .zip(Registry::ALL.into_iter().skip(1))
        {
            let (p, r) = c.finish()?;
            v.push((p, r, reg.what()));
        }
        Ok(v)
    }
}

/// How ORIENTACIONES SPS attended someone.
#[derive(Debug, Clone, Copy)]
enum UtgsChannel {
    /// At the district's Espacio SPS.
    Espacio,
    /// By phone.
    Phone,
    /// At a community day of the service.
    Jornada,
}

fn utgs_channel(rng: &mut impl Rng64, pilot: bool) -> UtgsChannel {
    let (espacio, phone) = if pilot { (0.7, 0.2) } else { (0.5, 0.35) };
    let u = rng.unit();
    if u < espacio {
        UtgsChannel::Espacio
    } else if u < espacio + phone {
        UtgsChannel::Phone
    } else {
        UtgsChannel::Jornada
    }
}

/// A date between 1 February and 15 March of `year`.
fn enrolment_date(rng: &mut impl Rng64, year: i32) -> NaiveDate {
    let base = NaiveDate::from_ymd_opt(year, 2, 1).unwrap_or_default();
    base.checked_add_days(Days::new(rng.int(0, 42) as u64))
        .unwrap_or(base)
}

/// `3° grado - Escuela Básica N° 1234` / `2° curso - Colegio Nacional N° 5234`.
fn grade_detail(s: &mut String, age: u32, school: u32) {
    s.clear();
    let _ = match age {
        0..=5 => write!(s, "Preescolar - Escuela Básica N° {school}"),
        6..=14 => write!(s, "{}° grado - Escuela Básica N° {school}", age - 5),
        _ => write!(
            s,
            "{}° curso - Colegio Nacional N° {}",
            age.saturating_sub(14).min(3),
            school + 4000
        ),
    };
}

/// One digit changed, or two neighbouring digits swapped.
fn mistype(rng: &mut impl Rng64, s: &mut String) {
    let mut digits: Vec<u8> = s.bytes().collect();
    let n = digits.len();
    if n < 2 {
        return;
    }
    let i = rng.int(0, n as i64 - 2) as usize;
    if rng.chance(0.5) {
        digits.swap(i, i + 1);
        if digits.first() == Some(&b'0') {
            digits.swap(i, i + 1);
        }
    }
    if digits.as_slice() == s.as_bytes() {
        // Swapping equal digits changes nothing: change one digit instead (never the first to 0).
        let j = rng.int(1, n as i64 - 1) as usize;
        if let Some(d) = digits.get_mut(j) {
            *d = b'0' + ((*d - b'0' + rng.int(1, 9) as u8) % 10);
        }
    }
    s.clear();
    s.extend(digits.into_iter().map(char::from));
}

/// ≈ 2 % day and month swapped (when that is still a date), ≈ 1 % one day off.
fn noisy_birth(rng: &mut impl Rng64, d: NaiveDate) -> NaiveDate {
    let u = rng.unit();
    if u < 0.02 && d.day() <= 12 && d.day() != d.month() {
        NaiveDate::from_ymd_opt(d.year(), d.day(), d.month()).unwrap_or(d)
    } else if u < 0.03 {
        if rng.chance(0.5) {
            d.succ_opt().unwrap_or(d)
        } else {
            d.pred_opt().unwrap_or(d)
        }
    } else {
        d
    }
}
