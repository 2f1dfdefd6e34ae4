//! Import of FIPS household surveys and simplified registration forms: the household table
//! (one row per submission) and the `miembros` repeat table (one row per person), linked by
//! `KEY` / `PARENT_KEY` (ODK) or `_uuid` / `_submission__uuid` (Kobo).
//!
//! Two streaming passes: households first (kept in memory only as key → id, interview date,
//! head count), then members. A household that is rejected takes its members with it (each
//! reported, pointing at the household's row); a submission already in the registry is
//! skipped whole, which is what makes a re-import change nothing.
//!
//! Re-interviews (issue 36): when the registry already holds households, the members file is
//! read once more first, only to learn which registered households each submission's cédulas
//! point to (parent key → candidate households, and its number of member rows). The households
//! pass then knows each household's target before writing: a new household, a new version of
//! one registered household (its ODK/Kobo `deprecatedID`, or all its cédulas in one household),
//! or review when they point to several. New versions are compared and written by
//! [`crate::reinterview`] on the writer thread.

use crate::answers::AnswerReader;
use crate::dates::{age_at, parse_date};
use crate::forms::{form, FormId};
use crate::reinterview::{Applier, Revisit};
use crate::report::{RejectionLog, RowProblems};
use crate::source::{detect_synthetic, resolve_inputs};
use crate::table::Table;
use crate::text::{clean_text, decode};
use crate::{
    begin, finish, record_refusal, send, with_writer_applying, Batch, ImportOptions, ImportSummary,
    IngestError, Progress, BATCH,
};
use chrono::NaiveDate;
use csv::ByteRecord;
use rustc_hash::{FxHashMap, FxHashSet};
use std::borrow::Cow;
use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::mpsc::SyncSender;
use vamos_domain::limits::Limit;
use vamos_domain::schema::{HOUSEHOLD_FIELDS, PERSON_FIELDS};
use vamos_domain::{
    Community, DepartmentCode, DistrictCode, Household, ImportKind, NationalId, Person, Provenance,
    Sex, Territory, Value,
};
use vamos_store::{RegistrySnapshot, SnapshotNeeds, Store};

/// Reads one field of a row, decoded and trimmed (empty when the column is absent).
pub(crate) fn field(rec: &ByteRecord, col: Option<usize>) -> Cow<'_, str> {
    match col.and_then(|c| rec.get(c)).map(decode) {
        Some(Cow::Borrowed(s)) => Cow::Borrowed(s.trim()),
        Some(Cow::Owned(s)) => Cow::Owned(s.trim().to_string()),
        None => Cow::Borrowed(""),
    }
}

/// Submission keys without the `uuid:` prefix, so ODK and Kobo exports of one submission agree.
pub(crate) fn norm_key(k: &str) -> &str {
    k.strip_prefix("uuid:").unwrap_or(k)
}

/// Parses an ODK geopoint (`lat lon alt acc`) or a latitude/longitude pair and checks it lies
/// in Paraguay's bounding box.
pub(crate) fn parse_gps(
    combined: &str,
    lat: &str,
    lon: &str,
) -> Result<Option<(f64, f64)>, String> {
    let (la, lo) = if !combined.is_empty() {
        let mut it = combined.split_whitespace();
        (it.next().unwrap_or(""), it.next().unwrap_or(""))
    } else {
        (lat, lon)
    };
    if la.is_empty() && lo.is_empty() {
        return Ok(None);
    }
    let (Ok(a), Ok(o)) = (la.parse::<f64>(), lo.parse::<f64>()) else {
        return Err("coordenadas mal formadas: se espera «latitud longitud»".into());
    };
    if !(-27.7..=-19.2).contains(&a) || !(-62.7..=-54.2).contains(&o) {
        return Err("coordenadas fuera de Paraguay".into());
    }
    Ok(Some((a, o)))
}

/// Interview date: `fecha_entrevista`, else the device's `today`, else `SubmissionDate`.
struct HouseholdCols {
    key: Option<usize>,
    consent: Option<usize>,
    /// ODK Central's review state (`rejected` submissions are not registered).
    review: Option<usize>,
    department: Option<usize>,
    district: Option<usize>,
    area: Option<usize>,
    locality: Option<usize>,
    address: Option<usize>,
    gps: Option<usize>,
    lat: Option<usize>,
    lon: Option<usize>,
    date: Option<usize>,
    today: Option<usize>,
    submitted: Option<usize>,
    kobo_index: Option<usize>,
    /// ODK/Kobo edit of an earlier submission: the key it replaces.
    deprecated: Option<usize>,
}

struct MemberCols {
    parent: Option<usize>,
    parent_index: Option<usize>,
    key: Option<usize>,
    given: Option<usize>,
    family: Option<usize>,
    nid: Option<usize>,
    birth: Option<usize>,
    sex: Option<usize>,
    rel: Option<usize>,
}

/// An accepted household during the import.
struct Slot {
    id: i64,
    interview: NaiveDate,
    row: u64,
    head_row: u64,
    members: u32,
    /// Bit n set when member `…/miembros[n]` was seen (n < 64); larger n use `extra_members`.
    lines: u64,
    /// A re-interview of registered household `id` (not a new one).
    revisit: bool,
}

/// What the pre-scan of the members file learnt about one submission.
#[derive(Default)]
struct Prescan {
    /// Member rows pointing at it (a re-interview is complete once all were read).
    rows: u32,
    /// Registered households its members' cédulas belong to.
    candidates: Vec<i64>,
}

/// A re-interview whose member rows are still being read.
struct Pending {
    revisit: Revisit,
    rows_left: u32,
}

/// Re-interviews sent to the writer per batch.
const REVISITS: usize = 500;

struct State<'a> {
    opts: &'a ImportOptions,
    progress: &'a dyn Progress,
    import_id: i64,
    form: &'static crate::forms::Form,
    snap: RegistrySnapshot,
    accepted: FxHashMap<Box<str>, Slot>,
    rejected: FxHashMap<Box<str>, (String, u64)>,
    kobo_index: FxHashMap<Box<str>, Box<str>>,
    extra_members: FxHashSet<String>,
    seen_nids: FxHashMap<NationalId, (NaiveDate, u64)>,
    pending_communities: Vec<Community>,
    households: Vec<Household>,
    persons: Vec<Person>,
    summary: ImportSummary,
    /// Parent key (or `#<_parent_index>`) → pre-scan; empty when the registry had no cédulas.
    prescan: FxHashMap<Box<str>, Prescan>,
    /// Shared with the writer thread, which numbers the members a re-interview adds.
    next_person_id: &'a AtomicI64,
    /// Registered households already re-interviewed by a submission of this file.
    targeted: FxHashSet<i64>,
    reinterviewed: Vec<Household>,
    pending: FxHashMap<Box<str>, Pending>,
    revisits: Vec<Revisit>,
    /// Member rows of re-interviews that passed every check.
    revisit_rows: u64,
}

/// Runs a FIPS or simplified-form import.
#[allow(clippy::too_many_lines)] // reason: the steps of one import in order, each a call
pub fn import(
    store: &mut dyn Store,
    paths: &[PathBuf],
    opts: &ImportOptions,
    progress: &dyn Progress,
) -> Result<ImportSummary, IngestError> {
    let started = std::time::Instant::now();
    let tables = resolve_inputs(opts.kind, paths)?;
    let (Some(hsrc), Some(msrc)) = (tables.first(), tables.get(1)) else {
        return Err(IngestError::Input(
            "faltan los archivos de hogares y de miembros".into(),
        ));
    };
    let form = form(if opts.kind == ImportKind::Simplificado {
        FormId::Simplificado
    } else {
        FormId::Fips
    });
    let synthetic = opts.synthetic.unwrap_or_else(|| detect_synthetic(paths));

    // Open both tables before touching the database: an unreadable file or a missing
    // required column stops the import with nothing written.
    let mut ht = hsrc.open()?;
    let mut mt = msrc.open()?;
    let hc = HouseholdCols {
        key: ht.col(&["key", "instanceid", "uuid"]),
        consent: ht.col(&["consentimiento"]),
        review: ht.col(&["reviewstate"]),
        department: ht.col(&["departamento"]),
        district: ht.col(&["distrito"]),
        area: ht.col(&["area"]),
        locality: ht.col(&["localidad"]),
        address: ht.col(&["direccion"]),
        gps: ht.col(&["gps"]),
        lat: ht.col(&["gps_latitude"]),
        lon: ht.col(&["gps_longitude"]),
        date: ht.col(&["fecha_entrevista", "fecha_registro"]),
        today: ht.col(&["today"]),
        submitted: ht.col(&["submissiondate", "submission_time"]),
        kobo_index: ht.col(&["index"]),
        deprecated: ht.col(&["deprecatedid"]),
    };
    let mut missing = Vec::new();
    for (c, name) in [
        (hc.key, "KEY"),
        (hc.district, "ubicacion-distrito"),
        (hc.locality, "ubicacion-localidad"),
    ] {
        if c.is_none() {
            missing.push(name);
        }
    }
    if hc.date.is_none() && hc.today.is_none() && hc.submitted.is_none() {
        missing.push("fecha_entrevista");
    }
    if !missing.is_empty() {
        return Err(IngestError::MissingColumns {
            file: ht.label.clone(),
            columns: missing.join(", "),
        });
    }
    let mc = MemberCols {
        parent: mt.col(&["parent_key", "submission__uuid"]),
        parent_index: mt.col(&["parent_index"]),
        key: mt.col(&["key"]),
        given: mt.col(&["nombres"]),
        family: mt.col(&["apellidos"]),
        nid: mt.col(&["cedula"]),
        birth: mt.col(&["fecha_nacimiento"]),
        sex: mt.col(&["sexo"]),
        rel: mt.col(&["relacion_jefe"]),
    };
    let mut missing = Vec::new();
    if mc.parent.is_none() && mc.parent_index.is_none() {
        missing.push("PARENT_KEY");
    }
    for (c, name) in [
        (mc.given, "miembros-nombres"),
        (mc.family, "miembros-apellidos"),
        (mc.birth, "miembros-fecha_nacimiento"),
        (mc.sex, "miembros-sexo"),
        (mc.rel, "miembros-relacion_jefe"),
    ] {
        if c.is_none() {
            missing.push(name);
        }
    }
    if !missing.is_empty() {
        return Err(IngestError::MissingColumns {
            file: mt.label.clone(),
            columns: missing.join(", "),
        });
    }
    let mut summary = ImportSummary {
        kind: opts.kind.as_str().into(),
        synthetic,
        files: vec![hsrc.path(), msrc.path()],
        rejects_file: opts.rejects.as_ref().map(|p| p.display().to_string()),
        ..Default::default()
    };
    let (hreader, preader) = if opts.kind == ImportKind::Fips {
        (
            Some(AnswerReader::new(
                &ht,
                form,
                HOUSEHOLD_FIELDS,
                &mut summary.missing_optional_columns,
            )),
            Some(AnswerReader::new(
                &mt,
                form,
                PERSON_FIELDS,
                &mut summary.missing_optional_columns,
            )),
        )
    } else {
        (None, None)
    };

    let (mut log, tx, snap) = begin(
        store,
        opts,
        &mut summary,
        SnapshotNeeds {
            household_keys: true,
            national_ids: true,
            communities: true,
            ..Default::default()
        },
    )?;
    let import_id = tx.import_id();
    let next_person_id = AtomicI64::new(snap.next_person_id);
    let applier = Applier::new(&next_person_id, opts.changes.as_deref())?;
    summary.changes_file = opts.changes.as_ref().map(|p| p.display().to_string());

    let mut st = State {
        opts,
        progress,
        import_id,
        form,
        snap,
        accepted: FxHashMap::default(),
        rejected: FxHashMap::default(),
        kobo_index: FxHashMap::default(),
        extra_members: FxHashSet::default(),
        seen_nids: FxHashMap::default(),
        pending_communities: Vec::new(),
        households: Vec::with_capacity(BATCH),
        persons: Vec::with_capacity(BATCH),
        summary,
        prescan: FxHashMap::default(),
        next_person_id: &next_person_id,
        targeted: FxHashSet::default(),
        reinterviewed: Vec::new(),
        pending: FxHashMap::default(),
        revisits: Vec::new(),
        revisit_rows: 0,
    };
    if !st.snap.national_ids.is_empty() {
        // Only a registry with cédulas can be re-interviewed: a first load skips this read.
        st.prescan(&mut msrc.open()?, &mc)?;
    }
    let (mut st, tx, applier) = with_writer_applying(tx, Some(applier), |ch| {
        st.households_pass(&mut ht, &hc, hreader.as_ref(), ch, &mut log)?;
        st.members_pass(&mut mt, &mc, preader.as_ref(), ch, &mut log)?;
        Ok(st)
    })?;
    st.summary.households_without_head =
        st.accepted.values().filter(|s| s.head_row == 0).count() as u64;
    if let Some(a) = applier {
        let c = a.finish()?;
        st.summary.households_updated = c.households_updated;
        st.summary.households_unchanged = c.households_unchanged;
        st.summary.persons_updated = c.persons_updated;
        st.summary.persons_added = c.persons_added;
        st.summary.persons_left = c.persons_left;
    }
    st.summary.rows_valid = st.summary.households_accepted
        + st.summary.persons_accepted
        + st.summary.households_updated
        + st.summary.households_unchanged
        + st.revisit_rows;
    let (summary, refused) = finish(tx, log, st.summary, opts, started)?;
    record_refusal(store, refused, summary, opts)
}

impl State<'_> {
    /// Reads the members file once for cédula → registered household, per submission.
    fn prescan(&mut self, t: &mut Table, c: &MemberCols) -> Result<(), IngestError> {
        self.progress
            .stage("miembros (reentrevistas)", t.progress().1);
        let mut rec = ByteRecord::new();
        while t.next_row(&mut rec)?.is_some() {
            let parent_raw = field(&rec, c.parent);
            let parent = if !parent_raw.is_empty() {
                norm_key(&parent_raw).to_string()
            } else {
                let ix = field(&rec, c.parent_index);
                if ix.is_empty() {
                    continue;
                }
                format!("#{ix}")
            };
            // An oversize key is refused in the members pass; not kept here.
            if Limit::Code.check(&parent).is_err() {
                continue;
            }
            let nid = NationalId::parse_optional(&field(&rec, c.nid))
                .ok()
                .flatten()
                .and_then(|n| self.snap.national_ids.get(&n))
                .map(|k| k.household_id);
            let e = self.prescan.entry(parent.into()).or_default();
            e.rows = e.rows.saturating_add(1);
            if let Some(h) = nid {
                if !e.candidates.contains(&h) {
                    e.candidates.push(h);
                }
            }
        }
        self.progress.advance(t.progress().1);
        Ok(())
    }

    /// Which registered household a submission re-interviews: `Ok(None)` a new household,
    /// `Ok(Some(id))` a new version of `id`, `Err((reason, first candidate))` review.
    fn target(
        &self,
        key: &str,
        kobo_ix: Option<&str>,
        deprecated: &str,
    ) -> Result<Option<i64>, (String, i64)> {
        let pre = self
            .prescan
            .get(key)
            .or_else(|| kobo_ix.and_then(|ix| self.prescan.get(format!("#{ix}").as_str())));
        let candidates = pre.map_or(&[][..], |p| p.candidates.as_slice());
        let edited = (!deprecated.is_empty())
            .then(|| self.snap.household_keys.get(deprecated).copied())
            .flatten();
        let list = |ids: &[i64]| {
            ids.iter()
                .map(i64::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        };
        let target = match (edited, candidates) {
            (Some(t), c) if c.iter().all(|&x| x == t) => Some(t),
            (Some(t), c) => {
                let mut ids = vec![t];
                ids.extend(c.iter().filter(|&&x| x != t));
                return Err((format!(
                    "reentrevista en revisión: la clave editada (deprecatedID) es del hogar {t} pero las cédulas de sus miembros son de otro hogar (hogares {}); no se registra hasta que un analista decida",
                    list(&ids)
                ), t));
            }
            (None, []) => None,
            (None, [one]) => Some(*one),
            (None, many) => {
                return Err((format!(
                    "reentrevista en revisión: las cédulas de sus miembros corresponden a varios hogares registrados (hogares {}); no se registra hasta que un analista decida",
                    list(many)
                ), many.first().copied().unwrap_or_default()))
            }
        };
        match target {
            Some(t) if self.targeted.contains(&t) => Err((format!(
                "reentrevista en revisión: otro envío de este archivo ya es una reentrevista del hogar {t}"
            ), t)),
            t => Ok(t),
        }
    }

    fn flush_revisits(&mut self, ch: &SyncSender<Batch>) -> Result<(), IngestError> {
        if !self.revisits.is_empty() {
            send(ch, Batch::Revisits(std::mem::take(&mut self.revisits)))?;
        }
        Ok(())
    }

    fn flush_households(&mut self, ch: &SyncSender<Batch>) -> Result<(), IngestError> {
        if !self.pending_communities.is_empty() {
            send(
                ch,
                Batch::Communities(std::mem::take(&mut self.pending_communities)),
            )?;
        }
        if !self.households.is_empty() {
            send(
                ch,
                Batch::Households(std::mem::replace(
                    &mut self.households,
                    Vec::with_capacity(BATCH),
                )),
            )?;
        }
        if !self.reinterviewed.is_empty() {
            send(
                ch,
                Batch::Reinterviewed(std::mem::take(&mut self.reinterviewed)),
            )?;
        }
        Ok(())
    }

    fn community_id(&mut self, district: DistrictCode, name: &str, area: Option<&str>) -> i64 {
        let key = (district, vamos_domain::Community::name_key(name));
        if let Some(&id) = self.snap.communities.get(&key) {
            return id;
        }
        let id = self.snap.next_community_id;
        self.snap.next_community_id += 1;
        self.snap.communities.insert(key, id);
        self.pending_communities.push(Community {
            id,
            district,
            name: name.to_string(),
            area: area.map(String::from),
        });
        self.summary.communities_created += 1;
        id
    }

    #[allow(clippy::too_many_lines)] // reason: one pass over its input, not yet split into steps
    fn households_pass(
        &mut self,
        t: &mut Table,
        c: &HouseholdCols,
        answers: Option<&AnswerReader>,
        ch: &SyncSender<Batch>,
        log: &mut RejectionLog,
    ) -> Result<(), IngestError> {
        let (import_id, progress) = (self.import_id, self.progress);
        progress.stage("hogares", t.progress().1);
        let label = t.label.clone();
        let h_key = t.header(c.key, "KEY");
        let h_dist = t.header(c.district, "ubicacion-distrito");
        let h_dep = t.header(c.department, "ubicacion-departamento");
        let h_area = t.header(c.area, "ubicacion-area");
        let h_loc = t.header(c.locality, "ubicacion-localidad");
        let h_gps = t.header(c.gps.or(c.lat), "ubicacion-gps");
        let h_date = t.header(c.date.or(c.today).or(c.submitted), "fecha_entrevista");
        let h_consent = t.header(c.consent, "consentimiento");
        let h_review = t.header(c.review, "ReviewState");
        let h_deprecated = t.header(c.deprecated, "meta-deprecatedID");
        let mut review_rows: Vec<vamos_store::HouseholdInterview> = Vec::new();
        let area_codes = self.form.choice_list("area");
        let cuartos = vamos_domain::schema::position(HOUSEHOLD_FIELDS, "cuartos");
        let dormitorios = vamos_domain::schema::position(HOUSEHOLD_FIELDS, "dormitorios");
        let mut rec = ByteRecord::new();
        let mut vals: Vec<Value> = Vec::with_capacity(HOUSEHOLD_FIELDS.len());
        let mut n = 0u64;
        while let Some(row) = t.next_row(&mut rec)? {
            n += 1;
            if n.is_multiple_of(4096) {
                progress.advance(t.progress().0);
            }
            let mut p = RowProblems::new(&label, row);
            let key_raw = field(&rec, c.key);
            let key = norm_key(&key_raw).to_string();
            p.key = key.clone();
            let mut kobo_ix = None;
            if let Some(ix) = c.kobo_index {
                let ix = field(&rec, Some(ix));
                if !ix.is_empty() {
                    self.kobo_index
                        .insert(ix.as_ref().into(), key.clone().into());
                    kobo_ix = Some(ix.into_owned());
                }
            }
            let deprecated_raw = field(&rec, c.deprecated);
            let deprecated = norm_key(&deprecated_raw).to_string();
            if !deprecated.is_empty() {
                p.check(&h_deprecated, &deprecated, Limit::Code);
            }
            if key.is_empty() {
                p.add(&h_key, "", "falta la clave del envío (KEY / instanceID)");
            } else if !p.check(&h_key, &key, Limit::Code) {
                // Refused for its length; not remembered, so its members point at nothing.
                log.reject_row(p.into_vec())?;
                self.summary.households_rejected += 1;
                continue;
            } else if self.snap.household_keys.contains_key(&key) {
                self.summary.households_already_registered += 1;
                continue;
            } else if let Some(first) = self
                .accepted
                .get(key.as_str())
                .map(|s| s.row)
                .or_else(|| self.rejected.get(key.as_str()).map(|r| r.1))
            {
                p.add(
                    &h_key,
                    &key,
                    format!("envío duplicado: la misma clave ya apareció en la fila {first}"),
                );
                log.reject_row(p.into_vec())?;
                self.summary.households_rejected += 1;
                continue;
            }
            if c.review.is_some() && field(&rec, c.review) == "rejected" {
                p.add(
                    &h_review,
                    "rejected",
                    "envío marcado como rechazado en la revisión de ODK Central",
                );
            }
            if c.consent.is_some() && field(&rec, c.consent) == "no" {
                p.add(
                    &h_consent,
                    "no",
                    "el hogar no dio su consentimiento informado: no se registra",
                );
            }
            let dist_raw = field(&rec, c.district);
            let district = if dist_raw.is_empty() {
                p.add(&h_dist, "", "falta el dato obligatorio (distrito)");
                None
            } else {
                match DistrictCode::try_from(dist_raw.as_ref()) {
                    Ok(d) => Some(d),
                    Err(e) => {
                        p.add(&h_dist, &dist_raw, e.to_string());
                        None
                    }
                }
            };
            let dep_raw = field(&rec, c.department);
            if !dep_raw.is_empty() {
                match DepartmentCode::try_from(dep_raw.as_ref()) {
                    Ok(dep) => {
                        if let Some(d) = district.filter(|d| d.department() != dep) {
                            let name = Territory::official()
                                .district(d)
                                .map(|x| x.name.as_str())
                                .unwrap_or("");
                            p.add(
                                &h_dep,
                                &dep_raw,
                                format!(
                                    "el distrito {d} ({name}) no pertenece al departamento {dep}"
                                ),
                            );
                        }
                    }
                    Err(e) => p.add(&h_dep, &dep_raw, e.to_string()),
                }
            }
            let area_raw = field(&rec, c.area);
            let area = if area_raw.is_empty() {
                None
            } else if let Some(code) = area_codes.iter().find(|x| **x == area_raw) {
                Some(*code)
            } else {
                p.add(&h_area, &area_raw, crate::answers::unknown_code(area_codes));
                None
            };
            let locality = clean_text(&field(&rec, c.locality));
            if locality.is_empty() {
                p.add(&h_loc, "", "falta el dato obligatorio (localidad o barrio)");
            }
            p.check(&h_loc, &locality, Limit::Place);
            let address = Some(clean_text(&field(&rec, c.address))).filter(|s| !s.is_empty());
            if let Some(a) = &address {
                p.check(&t.header(c.address, "ubicacion-direccion"), a, Limit::Place);
            }
            let gps = match parse_gps(
                &field(&rec, c.gps),
                &field(&rec, c.lat),
                &field(&rec, c.lon),
            ) {
                Ok(g) => g,
                Err(reason) => {
                    let v = field(&rec, c.gps.or(c.lat)).into_owned();
                    p.add(&h_gps, &v, reason);
                    None
                }
            };
            let date_raw = [c.date, c.today, c.submitted]
                .iter()
                .map(|&col| field(&rec, col))
                .find(|v| !v.is_empty());
            let interview = match date_raw.as_deref().map(parse_date) {
                None => {
                    p.add(&h_date, "", "falta la fecha de la entrevista");
                    None
                }
                Some(Ok(Some(d))) if d > self.opts.import_date => {
                    p.add(
                        &h_date,
                        date_raw.as_deref().unwrap_or(""),
                        "fecha de entrevista en el futuro",
                    );
                    None
                }
                Some(Ok(d)) => d,
                Some(Err(e)) => {
                    p.add(&h_date, date_raw.as_deref().unwrap_or(""), e.message());
                    None
                }
            };
            match answers {
                Some(r) => r.read(&rec, &mut p, &mut vals),
                None => {
                    vals.clear();
                    vals.resize(HOUSEHOLD_FIELDS.len(), Value::Null);
                }
            }
            if let (Some(Value::Int(rooms)), Some(Value::Int(beds))) = (
                cuartos.and_then(|i| vals.get(i)),
                dormitorios.and_then(|i| vals.get(i)),
            ) {
                if beds > rooms {
                    p.add(
                        "vivienda-dormitorios",
                        &beds.to_string(),
                        format!("más dormitorios que cuartos ({rooms})"),
                    );
                }
            }
            match (district, interview) {
                (Some(district), Some(interview)) if p.is_empty() => {
                    let target = match self.target(&key, kobo_ix.as_deref(), &deprecated) {
                        Ok(t) => t,
                        Err((reason, first)) => {
                            // Not a guess: recorded (listed under the first candidate) and
                            // reported; its members follow it into the rejects file.
                            p.add(&h_key, &key, reason);
                            log.reject_row(p.into_vec())?;
                            self.summary.households_to_review += 1;
                            review_rows.push(vamos_store::HouseholdInterview {
                                submission_key: key.clone(),
                                household_id: first,
                                interview_date: interview,
                                outcome: "en_revision",
                            });
                            self.rejected.insert(key.into(), (label.clone(), row));
                            continue;
                        }
                    };
                    let community_id = self.community_id(district, &locality, area);
                    let id = match target {
                        Some(t) => {
                            self.targeted.insert(t);
                            t
                        }
                        None => {
                            self.snap.next_household_id += 1;
                            self.snap.next_household_id - 1
                        }
                    };
                    self.accepted.insert(
                        key.clone().into(),
                        Slot {
                            id,
                            interview,
                            row,
                            head_row: 0,
                            members: 0,
                            lines: 0,
                            revisit: target.is_some(),
                        },
                    );
                    let provenance = Provenance {
                        import_id,
                        file_no: 0,
                        row,
                    };
                    if target.is_some() {
                        let rows_left = self
                            .prescan
                            .get(key.as_str())
                            .or_else(|| {
                                kobo_ix
                                    .as_deref()
                                    .and_then(|ix| self.prescan.get(format!("#{ix}").as_str()))
                            })
                            .map_or(0, |p| p.rows);
                        self.pending.insert(
                            key.clone().into(),
                            Pending {
                                revisit: Revisit {
                                    target: id,
                                    key: key.clone(),
                                    interview,
                                    provenance,
                                    members: Vec::new(),
                                },
                                rows_left,
                            },
                        );
                    }
                    let household = Household {
                        id,
                        submission_key: key,
                        district,
                        community_id,
                        area: area.map(String::from),
                        address,
                        latitude: gps.map(|g| g.0),
                        longitude: gps.map(|g| g.1),
                        interview_date: interview,
                        form: self.opts.kind,
                        answers: vals.clone(),
                        provenance,
                    };
                    if target.is_some() {
                        self.reinterviewed.push(household);
                    } else {
                        self.households.push(household);
                        self.summary.households_accepted += 1;
                    }
                    if self.households.len() + self.reinterviewed.len() >= BATCH {
                        self.flush_households(ch)?;
                    }
                }
                _ => {
                    if !key.is_empty() {
                        self.rejected.insert(key.into(), (label.clone(), row));
                    }
                    log.reject_row(p.into_vec())?;
                    self.summary.households_rejected += 1;
                }
            }
        }
        self.flush_households(ch)?;
        if !review_rows.is_empty() {
            send(ch, Batch::Interviews(review_rows))?;
        }
        // Re-interviews without member rows are complete already (all members left).
        let done: Vec<Box<str>> = self
            .pending
            .iter()
            .filter(|(_, p)| p.rows_left == 0)
            .map(|(k, _)| k.clone())
            .collect();
        for k in done {
            if let Some(p) = self.pending.remove(&k) {
                self.revisits.push(p.revisit);
            }
        }
        self.flush_revisits(ch)?;
        progress.advance(t.progress().1);
        Ok(())
    }

    /// One member row of a re-interview was read (accepted or not): once all were, the
    /// household goes to the writer.
    fn member_read(&mut self, parent: &str, ch: &SyncSender<Batch>) -> Result<(), IngestError> {
        let Some(p) = self.pending.get_mut(parent) else {
            return Ok(());
        };
        p.rows_left = p.rows_left.saturating_sub(1);
        if p.rows_left == 0 {
            if let Some(p) = self.pending.remove(parent) {
                self.revisits.push(p.revisit);
            }
            if self.revisits.len() >= REVISITS {
                self.flush_revisits(ch)?;
            }
        }
        Ok(())
    }

    #[allow(clippy::too_many_lines)] // reason: one pass over its input, not yet split into steps
    fn members_pass(
        &mut self,
        t: &mut Table,
        c: &MemberCols,
        answers: Option<&AnswerReader>,
        ch: &SyncSender<Batch>,
        log: &mut RejectionLog,
    ) -> Result<(), IngestError> {
        let (import_id, progress) = (self.import_id, self.progress);
        progress.stage("miembros", t.progress().1);
        let label = t.label.clone();
        let h_parent = t.header(c.parent.or(c.parent_index), "PARENT_KEY");
        let h_key = t.header(c.key, "KEY");
        let h_given = t.header(c.given, "miembros-nombres");
        let h_family = t.header(c.family, "miembros-apellidos");
        let h_nid = t.header(c.nid, "miembros-cedula");
        let h_birth = t.header(c.birth, "miembros-fecha_nacimiento");
        let h_sex = t.header(c.sex, "miembros-sexo");
        let h_rel = t.header(c.rel, "miembros-relacion_jefe");
        let sex_codes = self.form.choice_list("sexo");
        let rel_codes = self.form.choice_list("relacion");
        let preg = vamos_domain::schema::position(PERSON_FIELDS, "embarazada");
        let mut rec = ByteRecord::new();
        let mut vals: Vec<Value> = Vec::with_capacity(PERSON_FIELDS.len());
        let mut n = 0u64;
        while let Some(row) = t.next_row(&mut rec)? {
            n += 1;
            if n.is_multiple_of(8192) {
                progress.advance(t.progress().0);
            }
            let mut p = RowProblems::new(&label, row);
            let parent_raw = field(&rec, c.parent);
            let parent: String = if !parent_raw.is_empty() {
                norm_key(&parent_raw).to_string()
            } else {
                let ix = field(&rec, c.parent_index);
                self.kobo_index
                    .get(ix.as_ref())
                    .map(|k| k.to_string())
                    .unwrap_or_default()
            };
            let key_raw = field(&rec, c.key);
            p.key = norm_key(&key_raw).to_string();
            if parent.is_empty() {
                p.add(
                    &h_parent,
                    "",
                    "miembro sin hogar: falta la referencia al hogar (PARENT_KEY)",
                );
                log.reject_row(p.into_vec())?;
                self.summary.persons_rejected += 1;
                continue;
            }
            if self.snap.household_keys.contains_key(&parent) {
                self.summary.persons_already_registered += 1;
                continue;
            }
            if let Some((file, hrow)) = self.rejected.get(parent.as_str()) {
                let reason =
                    format!("el hogar de este miembro fue rechazado ({file}, fila {hrow})");
                p.add(&h_parent, &parent, reason);
                log.reject_row(p.into_vec())?;
                self.summary.persons_rejected += 1;
                self.summary.members_of_rejected_households += 1;
                continue;
            }
            let Some(slot) = self.accepted.get(parent.as_str()) else {
                p.add(&h_parent, &parent, "miembro sin hogar: no hay hogar con esa clave en el archivo de hogares ni en el registro");
                log.reject_row(p.into_vec())?;
                self.summary.persons_rejected += 1;
                continue;
            };
            let (household_id, interview, head_row, members, revisit) = (
                slot.id,
                slot.interview,
                slot.head_row,
                slot.members,
                slot.revisit,
            );
            let member_key = if p.key.is_empty() {
                format!("{parent}/miembros[{}]", members + 1)
            } else {
                p.key.clone()
            };
            // Duplicate member rows (same KEY twice) are refused.
            let line = member_key
                .rsplit_once("/miembros[")
                .and_then(|(pre, n)| (pre == parent).then_some(n))
                .and_then(|n| n.strip_suffix(']'))
                .and_then(|n| n.parse::<u32>().ok())
                .filter(|&n| (1..=64).contains(&n));
            let duplicate = match line {
                Some(l) => slot.lines & (1u64 << (l - 1)) != 0,
                None => self.extra_members.contains(&member_key),
            };
            if duplicate {
                p.add(
                    &h_key,
                    &member_key,
                    "miembro duplicado: la misma clave ya apareció en el archivo",
                );
            }
            // A member's key is its household's (already within the limit) and its place in
            // the repeat, `<KEY>/miembros[n]`: what follows the household's key is checked.
            p.check(
                &h_key,
                member_key
                    .strip_prefix(parent.as_str())
                    .unwrap_or(&member_key),
                Limit::Code,
            );
            let given = clean_text(&field(&rec, c.given));
            if given.is_empty() {
                p.add(&h_given, "", "falta el dato obligatorio (nombres)");
            }
            p.check(&h_given, &given, Limit::Name);
            let family = clean_text(&field(&rec, c.family));
            if family.is_empty() {
                p.add(&h_family, "", "falta el dato obligatorio (apellidos)");
            }
            p.check(&h_family, &family, Limit::Name);
            let nid_raw = field(&rec, c.nid);
            let nid = match NationalId::parse_optional(&nid_raw) {
                Ok(n) => n,
                Err(e) => {
                    p.add(&h_nid, &nid_raw, e.to_string());
                    None
                }
            };
            let birth_raw = field(&rec, c.birth);
            let birth = match parse_date(&birth_raw) {
                Ok(None) => {
                    p.add(
                        &h_birth,
                        "",
                        "falta el dato obligatorio (fecha de nacimiento)",
                    );
                    None
                }
                Ok(Some(b)) if b > interview || b > self.opts.import_date => {
                    p.add(&h_birth, &birth_raw, format!("fecha de nacimiento en el futuro (posterior a la entrevista del {interview})"));
                    None
                }
                Ok(Some(b)) => {
                    let age = age_at(b, interview);
                    if age > 120 {
                        p.add(
                            &h_birth,
                            &birth_raw,
                            format!(
                                "edad mayor a 120 años ({age} años a la fecha de la entrevista)"
                            ),
                        );
                        None
                    } else {
                        Some(b)
                    }
                }
                Err(e) => {
                    p.add(&h_birth, &birth_raw, e.message());
                    None
                }
            };
            let sex_raw = field(&rec, c.sex);
            let sex = match sex_codes
                .iter()
                .find(|x| **x == sex_raw)
                .and_then(|code| Sex::parse(code))
            {
                Some(s) => Some(s),
                None => {
                    if sex_raw.is_empty() {
                        p.add(&h_sex, "", "falta el dato obligatorio (sexo)");
                    } else {
                        p.add(&h_sex, &sex_raw, crate::answers::unknown_code(sex_codes));
                    }
                    None
                }
            };
            let rel_raw = field(&rec, c.rel);
            let rel = rel_codes.iter().find(|x| **x == rel_raw).copied();
            match rel {
                None if rel_raw.is_empty() => p.add(
                    &h_rel,
                    "",
                    "falta el dato obligatorio (relación con el jefe)",
                ),
                None => p.add(&h_rel, &rel_raw, crate::answers::unknown_code(rel_codes)),
                Some("jefe") if head_row != 0 => p.add(
                    &h_rel,
                    "jefe",
                    format!("segundo jefe de hogar: el hogar ya tiene jefe (fila {head_row})"),
                ),
                Some(_) => {}
            }
            match answers {
                Some(r) => r.read(&rec, &mut p, &mut vals),
                None => {
                    vals.clear();
                    vals.resize(PERSON_FIELDS.len(), Value::Null);
                }
            }
            if sex == Some(Sex::Hombre)
                && preg.and_then(|i| vals.get(i)).and_then(Value::as_text) == Some("si")
            {
                p.add(
                    "miembros-embarazada",
                    "si",
                    "embarazo registrado para un hombre",
                );
            }
            if let (Some(nid), Some(b)) = (nid, birth) {
                let own = |k: &vamos_store::KnownPerson| revisit && k.household_id == household_id;
                if let Some(known) = self.snap.national_ids.get(&nid).filter(|k| !own(k)) {
                    if known.birth_date != b {
                        p.add(
                            &h_nid,
                            &nid_raw,
                            format!(
                            "cédula ya registrada con otra fecha de nacimiento ({}, persona {})",
                            known.birth_date, known.person_id
                        ),
                        );
                    } else {
                        p.add(
                            &h_nid,
                            &nid_raw,
                            format!(
                                "persona ya registrada con esta cédula (persona {})",
                                known.person_id
                            ),
                        );
                    }
                } else if let Some((b0, r0)) = self.seen_nids.get(&nid) {
                    if *b0 != b {
                        p.add(&h_nid, &nid_raw, format!("la misma cédula aparece con otra fecha de nacimiento ({b0}) en la fila {r0}"));
                    } else {
                        p.add(&h_nid, &nid_raw, format!("persona repetida: misma cédula y fecha de nacimiento que la fila {r0}"));
                    }
                }
            }
            match (birth, sex, rel) {
                (Some(birth), Some(sex), Some(rel)) if p.is_empty() => {
                    if let Some(slot) = self.accepted.get_mut(parent.as_str()) {
                        slot.members += 1;
                        if rel == "jefe" {
                            slot.head_row = row;
                        }
                        match line {
                            Some(l) => slot.lines |= 1u64 << (l - 1),
                            None => {
                                self.extra_members.insert(member_key.clone());
                            }
                        }
                    }
                    if let Some(nid) = nid {
                        self.seen_nids.insert(nid, (birth, row));
                    }
                    // A re-interview's member gets its id on the writer thread, and only if
                    // it matches nobody already in the household.
                    let id = if revisit {
                        0
                    } else {
                        self.next_person_id.fetch_add(1, Ordering::Relaxed)
                    };
                    let person = Person {
                        id,
                        household_id,
                        submission_key: member_key,
                        given_names: given,
                        family_names: family,
                        national_id: nid,
                        birth_date: birth,
                        sex,
                        relationship: rel.to_string(),
                        answers: vals.clone(),
                        provenance: Provenance {
                            import_id,
                            file_no: 1,
                            row,
                        },
                    };
                    if revisit {
                        if let Some(p) = self.pending.get_mut(parent.as_str()) {
                            p.revisit.members.push(person);
                        }
                        self.revisit_rows += 1;
                    } else {
                        self.persons.push(person);
                        self.summary.persons_accepted += 1;
                    }
                    if self.persons.len() >= BATCH {
                        send(
                            ch,
                            Batch::Persons(std::mem::replace(
                                &mut self.persons,
                                Vec::with_capacity(BATCH),
                            )),
                        )?;
                    }
                }
                _ => {
                    log.reject_row(p.into_vec())?;
                    self.summary.persons_rejected += 1;
                }
            }
            if revisit {
                self.member_read(&parent, ch)?;
            }
        }
        if !self.persons.is_empty() {
            send(ch, Batch::Persons(std::mem::take(&mut self.persons)))?;
        }
        // Whatever is still pending had member rows the pre-scan counted but this pass did not
        // reach (it cannot happen with one file read twice, but a short read must not drop it).
        let rest: Vec<Pending> = self.pending.drain().map(|(_, p)| p).collect();
        self.revisits.extend(rest.into_iter().map(|p| p.revisit));
        self.flush_revisits(ch)?;
        progress.advance(t.progress().1);
        Ok(())
    }
}
