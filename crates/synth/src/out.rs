//! Writing the survey exports: `fips.csv`, `fips-miembros.csv` and `comunidades.csv`, in the
//! layout ODK Central produces ("CSV with group names"), streamed row by row.
//!
//! Column order follows `forms/SPEC.md` and the schema lists of `vamos_domain::schema`: the
//! answer columns are generated from `HOUSEHOLD_FIELDS`, `PERSON_FIELDS` and `COMMUNITY_FIELDS`,
//! resolved once to an enum per column so each row is written without string lookups. A schema
//! field this generator does not know is still written (empty), so the export never silently
//! drops a column.

use crate::model::{Community, Household, Person, IDIOMAS, PROGRAMAS};
use crate::SynthError;
use chrono::{Datelike, NaiveDate, NaiveDateTime, Timelike};
use std::fmt::Write as _;
use std::fs::File;
use std::path::{Path, PathBuf};
use vamos_domain::schema::{FieldSpec, COMMUNITY_FIELDS, HOUSEHOLD_FIELDS, PERSON_FIELDS};

/// Device id written on every synthetic submission, so no one mistakes them for field data.
pub(crate) const DEVICE_ID: &str = "vamos-synth (sintético)";

/// A CSV file being written, with its row count.
pub(crate) struct Csv<W: std::io::Write> {
    w: csv::Writer<W>,
    pub path: PathBuf,
    pub rows: u64,
}

pub(crate) fn io_err(path: &Path, e: std::io::Error) -> SynthError {
    SynthError::Io {
        path: path.to_path_buf(),
        source: e,
    }
}

impl Csv<File> {
    pub(crate) fn create(path: PathBuf, delimiter: u8) -> Result<Self, SynthError> {
        let f = File::create(&path).map_err(|e| io_err(&path, e))?;
        Ok(Csv::from_writer(
            f,
            path,
            delimiter,
            csv::Terminator::Any(b'\n'),
        ))
    }
}

impl<W: std::io::Write> Csv<W> {
    pub(crate) fn from_writer(w: W, path: PathBuf, delimiter: u8, term: csv::Terminator) -> Self {
        let w = csv::WriterBuilder::new()
            .delimiter(delimiter)
            .terminator(term)
            .buffer_capacity(1 << 20)
            .from_writer(w);
        Csv { w, path, rows: 0 }
    }

    fn err(&self, e: csv::Error) -> SynthError {
        SynthError::Csv {
            path: self.path.clone(),
            source: e,
        }
    }

    pub(crate) fn field(&mut self, s: impl AsRef<[u8]>) -> Result<(), SynthError> {
        self.w.write_field(s).map_err(|e| SynthError::Csv {
            path: self.path.clone(),
            source: e,
        })
    }

    /// Ends the current row (counts data rows, not the header).
    pub(crate) fn end(&mut self) -> Result<(), SynthError> {
        self.w
            .write_record(None::<&[u8]>)
            .map_err(|e| self.err(e))?;
        self.rows += 1;
        Ok(())
    }

    pub(crate) fn header<'a>(
        &mut self,
        cols: impl IntoIterator<Item = &'a str>,
    ) -> Result<(), SynthError> {
        for c in cols {
            self.field(c)?;
        }
        self.w.write_record(None::<&[u8]>).map_err(|e| self.err(e))
    }

    pub(crate) fn finish(mut self) -> Result<(PathBuf, u64), SynthError> {
        self.w.flush().map_err(|e| io_err(&self.path, e))?;
        let path = self.path.clone();
        let inner = self
            .w
            .into_inner()
            .map_err(|e| io_err(&path, e.into_error()))?;
        drop(inner);
        Ok((self.path, self.rows))
    }
}

/// `2026-10-02`
pub(crate) fn push_date(s: &mut String, d: NaiveDate) {
    let _ = write!(s, "{:04}-{:02}-{:02}", d.year(), d.month(), d.day());
}

/// `02/10/2026` (as exported from a spreadsheet with Spanish locale).
pub(crate) fn push_date_dmy(s: &mut String, d: NaiveDate) {
    let _ = write!(s, "{:02}/{:02}/{:04}", d.day(), d.month(), d.year());
}

/// ODK local timestamp, Paraguay time (UTC−03:00): `2026-10-02T10:03:11.000-03:00`.
fn push_local(s: &mut String, t: NaiveDateTime) {
    push_date(s, t.date());
    let _ = write!(
        s,
        "T{:02}:{:02}:{:02}.000-03:00",
        t.hour(),
        t.minute(),
        t.second()
    );
}

/// ODK Central `SubmissionDate`, UTC: `2026-10-02T14:03:11.000Z`.
fn push_utc(s: &mut String, t: NaiveDateTime) {
    push_date(s, t.date());
    let _ = write!(
        s,
        "T{:02}:{:02}:{:02}.000Z",
        t.hour(),
        t.minute(),
        t.second()
    );
}

/// Submission times of one form.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Times {
    pub start: NaiveDateTime,
    pub end: NaiveDateTime,
    /// UTC.
    pub submitted: NaiveDateTime,
}

#[derive(Debug, Clone, Copy)]
enum HCol {
    Tenencia,
    Paredes,
    Piso,
    Techo,
    Cuartos,
    Dormitorios,
    Agua,
    Saneamiento,
    Electricidad,
    TarifaSocial,
    Internet,
    Combustible,
    Basura,
    Unknown,
}

fn hcol(name: &str) -> HCol {
    match name {
        "tenencia" => HCol::Tenencia,
        "material_paredes" => HCol::Paredes,
        "material_piso" => HCol::Piso,
        "material_techo" => HCol::Techo,
        "cuartos" => HCol::Cuartos,
        "dormitorios" => HCol::Dormitorios,
        "fuente_agua" => HCol::Agua,
        "saneamiento" => HCol::Saneamiento,
        "electricidad" => HCol::Electricidad,
        "tarifa_social" => HCol::TarifaSocial,
        "internet" => HCol::Internet,
        "combustible_cocina" => HCol::Combustible,
        "basura" => HCol::Basura,
        _ => HCol::Unknown,
    }
}

#[derive(Debug, Clone, Copy)]
enum PCol {
    Embarazada,
    Controles,
    Wg(usize),
    Indigena,
    Pueblo,
    Idiomas,
    Asiste,
    Nivel,
    Alfabetizado,
    Seguro,
    Carnet,
    Inscripcion,
    TieneCedula,
    Trabaja,
    TipoEmpleo,
    Aporta,
    Pension,
    Ingreso,
    Programas,
    Horas,
    DeseaMas,
    Busca,
    Enfermo,
    Consulto,
    Anios,
    Unknown,
}

fn pcol(name: &str) -> PCol {
    match name {
        "embarazada" => PCol::Embarazada,
        "controles_prenatales" => PCol::Controles,
        "wg_ver" => PCol::Wg(0),
        "wg_oir" => PCol::Wg(1),
        "wg_caminar" => PCol::Wg(2),
        "wg_recordar" => PCol::Wg(3),
        "wg_cuidado" => PCol::Wg(4),
        "wg_comunicar" => PCol::Wg(5),
        "indigena" => PCol::Indigena,
        "pueblo_indigena" => PCol::Pueblo,
        "idiomas" => PCol::Idiomas,
        "asiste_escuela" => PCol::Asiste,
        "nivel_educativo" => PCol::Nivel,
        "alfabetizado" => PCol::Alfabetizado,
        "seguro_salud" => PCol::Seguro,
        "carnet_vacunacion" => PCol::Carnet,
        "inscripcion_nacimiento" => PCol::Inscripcion,
        "tiene_cedula" => PCol::TieneCedula,
        "trabaja" => PCol::Trabaja,
        "tipo_empleo" => PCol::TipoEmpleo,
        "aporta_jubilacion" => PCol::Aporta,
        "recibe_pension" => PCol::Pension,
        "ingreso_mensual" => PCol::Ingreso,
        "programas" => PCol::Programas,
        "horas_trabajo" => PCol::Horas,
        "desea_mas_horas" => PCol::DeseaMas,
        "busca_trabajo" => PCol::Busca,
        "enfermo_accidentado" => PCol::Enfermo,
        "consulto_profesional" => PCol::Consulto,
        "anios_estudio" => PCol::Anios,
        _ => PCol::Unknown,
    }
}

#[derive(Debug, Clone, Copy)]
enum CCol {
    PuestoSalud,
    Escuela,
    AguaComunitaria,
    Camino,
    Conectividad,
    Prioridad(usize),
    Participantes,
    Unknown,
}

fn ccol(name: &str) -> CCol {
    match name {
        "puesto_salud" => CCol::PuestoSalud,
        "escuela" => CCol::Escuela,
        "agua_comunitaria" => CCol::AguaComunitaria,
        "camino_todo_tiempo" => CCol::Camino,
        "punto_conectividad" => CCol::Conectividad,
        "prioridad_1" => CCol::Prioridad(0),
        "prioridad_2" => CCol::Prioridad(1),
        "prioridad_3" => CCol::Prioridad(2),
        "participantes" => CCol::Participantes,
        _ => CCol::Unknown,
    }
}

/// Whether every schema field is known to this generator (checked by a test, so a new field in
/// the schema is noticed here).
#[cfg(test)]
pub(crate) fn unknown_fields() -> Vec<&'static str> {
    let mut v: Vec<&'static str> = HOUSEHOLD_FIELDS
        .iter()
        .filter(|f| matches!(hcol(f.name), HCol::Unknown))
        .map(|f| f.name)
        .collect();
    v.extend(
        PERSON_FIELDS
            .iter()
            .filter(|f| matches!(pcol(f.name), PCol::Unknown))
            .map(|f| f.name),
    );
    v.extend(
        COMMUNITY_FIELDS
            .iter()
            .filter(|f| matches!(ccol(f.name), CCol::Unknown))
            .map(|f| f.name),
    );
    v
}

fn prefixed(fields: &[FieldSpec]) -> Vec<String> {
    fields
        .iter()
        .map(|f| {
            if f.group.is_empty() {
                f.name.to_string()
            } else {
                format!("{}-{}", f.group, f.name)
            }
        })
        .collect()
}

/// The Entorno answers of one community.
#[derive(Debug, Clone, Default)]
pub(crate) struct CommunityAnswers {
    pub fecha: NaiveDate,
    pub times: Times,
    pub puesto_salud: &'static str,
    pub escuela: &'static str,
    pub agua: &'static str,
    pub camino: &'static str,
    pub conectividad: &'static str,
    pub prioridades: [&'static str; 3],
    pub participantes: u32,
    pub key: String,
}

/// The three survey files.
pub(crate) struct SurveyWriter {
    fips: Csv<File>,
    miembros: Csv<File>,
    comunidades: Csv<File>,
    hcols: Vec<HCol>,
    pcols: Vec<PCol>,
    ccols: Vec<CCol>,
    s: String,
    key: String,
}

impl SurveyWriter {
    pub(crate) fn create(dir: &Path) -> Result<Self, SynthError> {
        let mut fips = Csv::create(dir.join("fips.csv"), b',')?;
        let mut miembros = Csv::create(dir.join("fips-miembros.csv"), b',')?;
        let mut comunidades = Csv::create(dir.join("comunidades.csv"), b',')?;
        let h = prefixed(HOUSEHOLD_FIELDS);
        fips.header(
            [
                "SubmissionDate",
                "start",
                "end",
                "today",
                "deviceid",
                "consentimiento",
                "fecha_entrevista",
                "ubicacion-departamento",
                "ubicacion-distrito",
                "ubicacion-area",
                "ubicacion-localidad",
                "ubicacion-direccion",
                "ubicacion-gps",
            ]
            .into_iter()
            .chain(h.iter().map(String::as_str))
            .chain(["meta-instanceID", "KEY"]),
        )?;
        let p = prefixed(PERSON_FIELDS);
        miembros.header(
            [
                "miembros-nombres",
                "miembros-apellidos",
                "miembros-cedula",
                "miembros-fecha_nacimiento",
                "miembros-edad",
                "miembros-sexo",
                "miembros-relacion_jefe",
            ]
            .into_iter()
            .chain(p.iter().map(String::as_str))
            .chain(["PARENT_KEY", "KEY"]),
        )?;
        let c = prefixed(COMMUNITY_FIELDS);
        comunidades.header(
            [
                "SubmissionDate",
                "start",
                "end",
                "today",
                "deviceid",
                "fecha_relevamiento",
                "ubicacion-departamento",
                "ubicacion-distrito",
                "ubicacion-area",
                "ubicacion-localidad",
                "ubicacion-gps",
            ]
            .into_iter()
            .chain(c.iter().map(String::as_str))
            .chain(["meta-instanceID", "KEY"]),
        )?;
        Ok(SurveyWriter {
            fips,
            miembros,
            comunidades,
            hcols: HOUSEHOLD_FIELDS.iter().map(|f| hcol(f.name)).collect(),
            pcols: PERSON_FIELDS.iter().map(|f| pcol(f.name)).collect(),
            ccols: COMMUNITY_FIELDS.iter().map(|f| ccol(f.name)).collect(),
            s: String::with_capacity(256),
            key: String::with_capacity(96),
        })
    }

    /// One household row and its member rows.
    pub(crate) fn household(
        &mut self,
        hh: &Household,
        dept: &str,
        district: &str,
        comm: &Community,
    ) -> Result<(), SynthError> {
        let t = hh.times;
        for (i, f) in [t.submitted, t.start, t.end].into_iter().enumerate() {
            self.s.clear();
            if i == 0 {
                push_utc(&mut self.s, f);
            } else {
                push_local(&mut self.s, f);
            }
            self.fips.field(&self.s)?;
        }
        let key = hh.key.as_str();
        let w = &mut self.fips;
        self.s.clear();
        push_date(&mut self.s, hh.interview);
        w.field(&self.s)?; // today
        w.field(DEVICE_ID)?;
        w.field("si")?;
        w.field(&self.s)?; // fecha_entrevista
        w.field(dept)?;
        w.field(district)?;
        w.field(hh.area.code())?;
        w.field(&comm.name)?;
        w.field(&hh.direccion)?;
        self.s.clear();
        push_gps(&mut self.s, hh.gps.lat, hh.gps.lon, hh.gps_alt, hh.gps_acc);
        w.field(&self.s)?;
        let d = &hh.dwelling;
        for c in &self.hcols {
            match c {
                HCol::Tenencia => w.field(d.tenencia)?,
                HCol::Paredes => w.field(d.paredes)?,
                HCol::Piso => w.field(d.piso)?,
                HCol::Techo => w.field(d.techo)?,
                HCol::Cuartos => {
                    self.s.clear();
                    let _ = write!(self.s, "{}", d.cuartos);
                    w.field(&self.s)?
                }
                HCol::Dormitorios => {
                    self.s.clear();
                    let _ = write!(self.s, "{}", d.dormitorios);
                    w.field(&self.s)?
                }
                HCol::Agua => w.field(d.agua)?,
                HCol::Saneamiento => w.field(d.saneamiento)?,
                HCol::Electricidad => w.field(d.electricidad)?,
                HCol::TarifaSocial => w.field(d.tarifa_social)?,
                HCol::Internet => w.field(d.internet)?,
                HCol::Combustible => w.field(d.combustible)?,
                HCol::Basura => w.field(d.basura)?,
                HCol::Unknown => w.field("")?,
            }
        }
        w.field(key)?;
        w.field(key)?;
        w.end()?;
        for (i, p) in hh.members.iter().enumerate() {
            self.key.clear();
            let _ = write!(self.key, "{key}/miembros[{}]", i + 1);
            self.member(p)?;
        }
        Ok(())
    }

    fn member(&mut self, p: &Person) -> Result<(), SynthError> {
        let w = &mut self.miembros;
        let s = &mut self.s;
        s.clear();
        s.push_str(p.names.given1);
        if !p.names.given2.is_empty() {
            s.push(' ');
            s.push_str(p.names.given2);
        }
        w.field(&*s)?;
        s.clear();
        s.push_str(p.names.surname1);
        if !p.names.surname2.is_empty() {
            s.push(' ');
            s.push_str(p.names.surname2);
        }
        w.field(&*s)?;
        s.clear();
        if p.cedula_reported {
            let _ = write!(s, "{}", p.cedula);
        }
        w.field(&*s)?;
        s.clear();
        push_date(s, p.birth);
        w.field(&*s)?;
        s.clear();
        let _ = write!(s, "{}", p.age);
        w.field(&*s)?;
        w.field(if p.female { "mujer" } else { "hombre" })?;
        w.field(p.rel)?;
        for c in &self.pcols {
            match *c {
                PCol::Embarazada => w.field(p.embarazada)?,
                PCol::Controles => {
                    s.clear();
                    if let Some(n) = p.controles {
                        let _ = write!(s, "{n}");
                    }
                    w.field(&*s)?
                }
                PCol::Wg(i) => w.field(p.wg.get(i).copied().unwrap_or(""))?,
                PCol::Indigena => w.field(if p.indigena { "si" } else { "no" })?,
                PCol::Pueblo => w.field(p.pueblo)?,
                PCol::Idiomas => {
                    s.clear();
                    push_set(s, p.idiomas, &IDIOMAS);
                    w.field(&*s)?
                }
                PCol::Asiste => w.field(p.asiste)?,
                PCol::Nivel => w.field(p.nivel)?,
                PCol::Alfabetizado => w.field(p.alfabetizado)?,
                PCol::Seguro => w.field(p.seguro)?,
                PCol::Carnet => w.field(p.carnet)?,
                PCol::Inscripcion => w.field(p.inscripcion)?,
                PCol::TieneCedula => w.field(if p.cedula != 0 { "si" } else { "no" })?,
                PCol::Trabaja => w.field(p.trabaja)?,
                PCol::TipoEmpleo => w.field(p.tipo_empleo)?,
                PCol::Aporta => w.field(p.aporta)?,
                PCol::Pension => w.field(p.pension)?,
                PCol::Ingreso => {
                    s.clear();
                    if let Some(n) = p.ingreso {
                        let _ = write!(s, "{n}");
                    }
                    w.field(&*s)?
                }
                PCol::Programas => {
                    s.clear();
                    if p.programas == 0 {
                        s.push_str("ninguno");
                    } else {
                        push_set(s, p.programas, &PROGRAMAS);
                    }
                    w.field(&*s)?
                }
                PCol::Horas | PCol::Anios => {
                    s.clear();
                    let n = if matches!(*c, PCol::Horas) {
                        p.horas
                    } else {
                        p.anios
                    };
                    if let Some(n) = n {
                        let _ = write!(s, "{n}");
                    }
                    w.field(&*s)?
                }
                PCol::DeseaMas => w.field(p.desea_mas_horas)?,
                PCol::Busca => w.field(p.busca_trabajo)?,
                PCol::Enfermo => w.field(p.enfermo)?,
                PCol::Consulto => w.field(p.consulto)?,
                PCol::Unknown => w.field("")?,
            }
        }
        let parent = self.key.split('/').next().unwrap_or("");
        w.field(parent)?;
        w.field(&self.key)?;
        w.end()
    }

    /// One Entorno row.
    pub(crate) fn community(
        &mut self,
        a: &CommunityAnswers,
        dept: &str,
        district: &str,
        comm: &Community,
        alt: f64,
        acc: f64,
    ) -> Result<(), SynthError> {
        for (i, f) in [a.times.submitted, a.times.start, a.times.end]
            .into_iter()
            .enumerate()
        {
            self.s.clear();
            if i == 0 {
                push_utc(&mut self.s, f);
            } else {
                push_local(&mut self.s, f);
            }
            self.comunidades.field(&self.s)?;
        }
        let w = &mut self.comunidades;
        self.s.clear();
        push_date(&mut self.s, a.fecha);
        w.field(&self.s)?; // today
        w.field(DEVICE_ID)?;
        w.field(&self.s)?; // fecha_relevamiento
        w.field(dept)?;
        w.field(district)?;
        w.field(comm.area.code())?;
        w.field(&comm.name)?;
        self.s.clear();
        push_gps(&mut self.s, comm.centre.lat, comm.centre.lon, alt, acc);
        w.field(&self.s)?;
        for c in &self.ccols {
            match *c {
                CCol::PuestoSalud => w.field(a.puesto_salud)?,
                CCol::Escuela => w.field(a.escuela)?,
                CCol::AguaComunitaria => w.field(a.agua)?,
                CCol::Camino => w.field(a.camino)?,
                CCol::Conectividad => w.field(a.conectividad)?,
                CCol::Prioridad(i) => w.field(a.prioridades.get(i).copied().unwrap_or(""))?,
                CCol::Participantes => {
                    self.s.clear();
                    let _ = write!(self.s, "{}", a.participantes);
                    w.field(&self.s)?
                }
                CCol::Unknown => w.field("")?,
            }
        }
        w.field(&a.key)?;
        w.field(&a.key)?;
        w.end()
    }

    pub(crate) fn finish(self) -> Result<[(PathBuf, u64); 3], SynthError> {
        Ok([
            self.fips.finish()?,
            self.miembros.finish()?,
            self.comunidades.finish()?,
        ])
    }
}

/// ODK geopoint: `lat lon altitude accuracy`.
fn push_gps(s: &mut String, lat: f64, lon: f64, alt: f64, acc: f64) {
    let _ = write!(s, "{lat:.6} {lon:.6} {alt:.1} {acc:.1}");
}

/// Space-separated codes of a `select_multiple`, in choice-list order (ODK convention).
fn push_set(s: &mut String, bits: u8, codes: &[&str]) {
    for (i, code) in codes.iter().enumerate() {
        if bits & (1 << i) != 0 {
            if !s.is_empty() {
                s.push(' ');
            }
            s.push_str(code);
        }
    }
}
