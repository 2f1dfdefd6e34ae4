//! Change requests with maker-checker approval (issue 36, item 3), as every interface uses
//! them: [`request`] (with its documents), [`preview`], [`approve`], [`reject`], [`list`],
//! [`show`], [`attachment`] and [`export_csv`].
//!
//! A request names its units by id; a unit outside the caller's territories is answered
//! exactly like one that does not exist. What the request writes is computed by
//! [`vamos_domain::changes::plan`] from the unit's versions, shown as a before/after preview,
//! and written — when the last required approval arrives, from another named account than the
//! requester — by `vamos_store::changes::apply` in the same transaction that marks the request
//! applied. Every step writes an audit record.

// reason: field vectors are built in this module with the schema's length, a request's units
// are counted against its type's spec before any is read, and JSON objects are indexed by key
// (a missing key reads as null). Checked access throughout is a pending tidy-up.
#![allow(clippy::indexing_slicing)]

use crate::counter_referrals::Resident;
use crate::versions::Touched;
use crate::{Actor, Error, Result};
use chrono::NaiveDate;
use serde::Deserialize;
use serde_json::{json, Map, Value as Json};
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;
use vamos_catalogue::Catalogue;
use vamos_domain::changes::{
    plan, ChangeState, ChangeType, DocumentKind, Planned, TypeSpec, UnitKind, TYPES,
};
use vamos_domain::limits::{echo, Limit};
use vamos_domain::versions::{Effect, UnitStatus, VersionMeta};
use vamos_domain::{DistrictCode, Household, NationalId, Permission, Person, Sex, Value};
use vamos_store::changes::{self as store, ApplyRefusal, Approval, ChangeRow, Created, Relink};
use vamos_store::versions::{self, VersionSet};
use vamos_store::Store;

/// Largest attachment: 10 MB.
pub const MAX_ATTACHMENT: usize = 10 * 1024 * 1024;
/// Most documents one request carries.
pub const MAX_ATTACHMENTS: usize = 5;
/// Rows in a page of the list.
pub const MAX_LIST: i64 = 500;

/// The person fields a request may edit, in the order [`plan`] sees them.
const PERSON_FIELDS: [&str; 9] = [
    "given_names",
    "family_names",
    "national_id",
    "birth_date",
    "sex",
    "relationship",
    "household_id",
    "status",
    "merged_into",
];
/// The household fields a request may edit.
const HOUSEHOLD_FIELDS: [&str; 6] = [
    "district_code",
    "community_id",
    "area",
    "address",
    "status",
    "merged_into",
];

/// A document as received.
#[derive(Debug, Clone)]
pub struct AttachmentInput {
    /// A [`DocumentKind`] code.
    pub document_kind: String,
    pub file_name: String,
    pub content: Vec<u8>,
}

/// A change request as an interface receives it.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct RequestInput {
    /// A type code of [`TYPES`] (`corregir_persona`, …).
    pub tipo: String,
    /// The unit ids, in the order the type names them (e.g. duplicate, then survivor).
    pub unidades: Vec<i64>,
    /// The new values (field → value).
    #[serde(default)]
    pub valores: Map<String, Json>,
    /// `correccion` or `cambio`.
    pub efecto: String,
    /// For a `cambio`: the date it happened (`AAAA-MM-DD` or `dd/mm/aaaa`).
    pub desde: Option<String>,
    pub motivo: String,
    /// The grievance (reclamo) this request answers, if any.
    pub reclamo: Option<i64>,
    #[serde(skip)]
    pub adjuntos: Vec<AttachmentInput>,
}

/// The media type of a document by its first bytes: PDF, JPEG and PNG only.
pub fn sniff(content: &[u8]) -> Option<&'static str> {
    if content.starts_with(b"%PDF-") {
        Some("application/pdf")
    } else if content.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if content.starts_with(&[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A]) {
        Some("image/png")
    } else {
        None
    }
}

fn not_found_change(id: i64) -> Error {
    Error::not_found(format!("solicitud de cambio {id} no encontrada"))
}

fn not_found_unit(kind: UnitKind, id: i64) -> Error {
    match kind {
        UnitKind::Persona => Error::not_found(format!("persona {id} no encontrada")),
        UnitKind::Hogar => Error::not_found(format!("hogar {id} no encontrado")),
    }
}

fn parse_date(s: &str) -> Result<NaiveDate> {
    vamos_ingest::dates::parse_date(s)
        .ok()
        .flatten()
        .ok_or_else(|| {
            Error::bad_request(format!(
                "fecha inválida «{}»: use dd/mm/aaaa o AAAA-MM-DD",
                echo(s)
            ))
        })
}

fn parse_effect(efecto: &str, desde: Option<&str>) -> Result<Effect> {
    match (
        efecto.trim(),
        desde.map(str::trim).filter(|s| !s.is_empty()),
    ) {
        ("correccion", None) => Ok(Effect::Correccion),
        ("correccion", Some(_)) => Err(Error::bad_request(
            "una corrección vale desde la fecha original: no lleva fecha «desde»",
        )),
        ("cambio", Some(d)) => {
            let desde = parse_date(d)?;
            if desde > crate::clock::today() {
                return Err(Error::bad_request(
                    "la fecha del cambio no puede ser futura",
                ));
            }
            Ok(Effect::Cambio { desde })
        }
        ("cambio", None) => Err(Error::bad_request(
            "un cambio necesita la fecha desde la que vale («desde»)",
        )),
        (other, _) => Err(Error::bad_request(format!(
            "efecto «{}» desconocido: use «correccion» o «cambio»",
            echo(other)
        ))),
    }
}

fn text_of(v: &Json) -> Option<String> {
    match v {
        Json::String(s) => Some(s.trim().to_string()),
        Json::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn bounded(field: &str, v: &str, limit: Limit) -> Result<()> {
    limit
        .check(v)
        .map_err(|e| Error::bad_request(format!("«{field}»: {e}")))
}

/// One payload value, checked and typed.
fn payload_value(field: &str, v: &Json) -> Result<Value> {
    let bad = |why: &str| Error::bad_request(format!("«{field}»: {why}"));
    if field == "members" {
        return Err(bad("no es un valor de un campo"));
    }
    let s = text_of(v).ok_or_else(|| bad("debe ser texto o número"))?;
    Ok(match field {
        "given_names" | "family_names" => {
            bounded(field, &s, Limit::Name)?;
            if s.is_empty() {
                return Err(bad("no puede quedar vacío"));
            }
            Value::Text(s)
        }
        "national_id" => match NationalId::parse_optional(&s)
            .map_err(|e| bad(&format!("cédula inválida: {e}")))?
        {
            Some(n) => Value::Int(i64::from(n.get())),
            None => Value::Null,
        },
        "birth_date" => {
            let d = parse_date(&s)?;
            if d > crate::clock::today() {
                return Err(bad("la fecha de nacimiento no puede ser futura"));
            }
            Value::Date(d)
        }
        "sex" => Value::Text(
            Sex::parse(&s)
                .ok_or_else(|| bad("use «hombre» o «mujer»"))?
                .as_str()
                .into(),
        ),
        "relationship" | "relacion_anterior" => {
            bounded(field, &s, Limit::Code)?;
            if s.is_empty() {
                return Err(bad("no puede quedar vacío"));
            }
            Value::Text(s)
        }
        "district_code" => {
            let n: u16 = s.parse().map_err(|_| bad("código de distrito inválido"))?;
            let d = DistrictCode::from_number(n).map_err(|e| bad(&e.to_string()))?;
            Value::Int(i64::from(d.get()))
        }
        "community_id" => Value::Int(s.parse().map_err(|_| bad("número inválido"))?),
        "area" => match s.as_str() {
            "urbana" | "rural" => Value::Text(s),
            _ => return Err(bad("use «urbana» o «rural»")),
        },
        "address" => {
            bounded(field, &s, Limit::Place)?;
            Value::Text(s)
        }
        _ => return Err(bad("campo desconocido")),
    })
}

fn members_of(v: Option<&Json>) -> Result<Vec<i64>> {
    let bad = || Error::bad_request("«members»: lista de números de persona (p. ej. 12,15)");
    let ids: Vec<i64> = match v {
        Some(Json::Array(a)) => a
            .iter()
            .map(|x| text_of(x).and_then(|s| s.parse().ok()).ok_or_else(bad))
            .collect::<Result<_>>()?,
        Some(Json::String(s)) => s
            .split(',')
            .map(|x| x.trim().parse().map_err(|_| bad()))
            .collect::<Result<_>>()?,
        _ => return Err(bad()),
    };
    if ids.is_empty() || ids.len() > 100 {
        return Err(bad());
    }
    Ok(ids)
}

/// Where field `name` sits among a unit's editable fields (the payload names come from the
/// type's spec, so a miss is a programming error, never the caller's).
fn field_index(fields: &[&str], name: &str) -> Result<usize> {
    fields
        .iter()
        .position(|f| *f == name)
        .ok_or_else(|| Error::internal(format!("campo editable desconocido: {name}")))
}

fn person_values(p: &Person, m: &VersionMeta) -> Vec<Value> {
    vec![
        Value::Text(p.given_names.clone()),
        Value::Text(p.family_names.clone()),
        p.national_id
            .map_or(Value::Null, |n| Value::Int(i64::from(n.get()))),
        Value::Date(p.birth_date),
        Value::Text(p.sex.as_str().into()),
        Value::Text(p.relationship.clone()),
        Value::Int(p.household_id),
        Value::Text(m.status.as_str().into()),
        m.merged_into.map_or(Value::Null, Value::Int),
    ]
}

fn household_values(h: &Household, m: &VersionMeta) -> Vec<Value> {
    vec![
        Value::Int(i64::from(h.district.get())),
        Value::Int(h.community_id),
        h.area.clone().map_or(Value::Null, Value::Text),
        h.address.clone().map_or(Value::Null, Value::Text),
        Value::Text(m.status.as_str().into()),
        m.merged_into.map_or(Value::Null, Value::Int),
    ]
}

fn as_text(v: &Value) -> Option<String> {
    match v {
        Value::Text(s) => Some(s.clone()),
        Value::Code(s) => Some((*s).to_string()),
        Value::Int(n) => Some(n.to_string()),
        Value::Date(d) => Some(d.to_string()),
        Value::Null => None,
    }
}

fn as_int(v: &Value) -> Option<i64> {
    match v {
        Value::Int(n) => Some(*n),
        _ => None,
    }
}

fn status_of(v: &Value) -> Result<UnitStatus> {
    as_text(v)
        .as_deref()
        .and_then(UnitStatus::parse)
        .ok_or_else(|| Error::internal("estado de versión ilegible"))
}

fn put_person(p: &mut Person, m: &mut VersionMeta, v: &[Value]) -> Result<()> {
    p.given_names = as_text(&v[0]).unwrap_or_default();
    p.family_names = as_text(&v[1]).unwrap_or_default();
    p.national_id =
        as_int(&v[2]).and_then(|n| NationalId::parse_optional(&n.to_string()).ok().flatten());
    p.birth_date = match &v[3] {
        Value::Date(d) => *d,
        _ => p.birth_date,
    };
    p.sex = as_text(&v[4])
        .as_deref()
        .and_then(Sex::parse)
        .unwrap_or(p.sex);
    p.relationship = as_text(&v[5]).unwrap_or_default();
    p.household_id = as_int(&v[6]).unwrap_or(p.household_id);
    m.status = status_of(&v[7])?;
    m.merged_into = as_int(&v[8]);
    Ok(())
}

fn put_household(h: &mut Household, m: &mut VersionMeta, v: &[Value]) -> Result<()> {
    if let Some(d) = as_int(&v[0]).and_then(DistrictCode::from_stored) {
        h.district = d;
    }
    h.community_id = as_int(&v[1]).unwrap_or(h.community_id);
    h.area = as_text(&v[2]);
    h.address = as_text(&v[3]);
    m.status = status_of(&v[4])?;
    m.merged_into = as_int(&v[5]);
    Ok(())
}

/// The district (`DDdd` as a number) of community `id`, if it exists.
fn community_district(store: &mut dyn Store, id: i64) -> Result<Option<i64>> {
    Ok(store
        .locate(vamos_store::UnitKind::Community, id)?
        .map(|(_, d)| i64::from(d)))
}

/// Keeps a moved household's district and community consistent (a household always belongs
/// to a community of its own district): another district needs a community of that district;
/// a community alone brings its district, returned when it is not among `edits` already and
/// differs from `current`.
fn place_of_move(
    store: &mut dyn Store,
    current: i64,
    edits: &[(&'static str, Value)],
) -> Result<Option<i64>> {
    let given = |f: &str| {
        edits
            .iter()
            .find(|(k, _)| *k == f)
            .and_then(|(_, v)| as_int(v))
    };
    let district = given("district_code");
    let Some(c) = given("community_id") else {
        return match district {
            Some(d) if d != current => Err(Error::bad_request(format!(
                "community_id: al mudar el hogar al distrito {d:04} indique también la comunidad de \
                 ese distrito (un hogar pertenece siempre a una comunidad de su distrito)"
            ))),
            _ => Ok(None),
        };
    };
    let Some(cd) = community_district(store, c)? else {
        return Err(Error::bad_request(format!(
            "community_id: la comunidad {c} no existe"
        )));
    };
    match district {
        Some(d) if d != cd => Err(Error::bad_request(format!(
            "community_id: la comunidad {c} es del distrito {cd:04}, no del {d:04}"
        ))),
        Some(_) => Ok(None),
        None => Ok((cd != current).then_some(cd)),
    }
}

/// One version a request writes, for the preview: what each edited field held and will hold.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PreviewVersion {
    pub unidad: String,
    pub version: i64,
    /// The version it rewrites or follows (`None`: a new unit).
    pub base: Option<i64>,
    /// `dd/mm/aaaa`, or `None` for "since always".
    pub valida_desde: Option<String>,
    pub vigente: bool,
    pub cambios: Vec<FieldChange>,
}

/// One field of a [`PreviewVersion`].
#[derive(Debug, Clone, serde::Serialize)]
pub struct FieldChange {
    pub campo: String,
    pub antes: Option<String>,
    pub despues: Option<String>,
}

/// Everything an approval writes, computed afresh from the unit's versions.
struct Built {
    set: VersionSet,
    relink: Relink,
    preview: Vec<PreviewVersion>,
    /// (unit kind, id, current version) of every unit read.
    expected: Vec<(&'static str, i64, i64)>,
    /// The fields each unit's edit touches, for conflict detection (`*`: structural).
    touched: Vec<(String, i64, String)>,
}

fn show_value(v: &Value) -> Option<String> {
    match v {
        Value::Date(d) => Some(d.format("%d/%m/%Y").to_string()),
        other => as_text(other),
    }
}

/// How [`Ctx::plan_unit`] reads and writes one kind of unit's fields.
struct Unit<T: 'static> {
    kind: UnitKind,
    label: &'static str,
    fields: &'static [&'static str],
    values: fn(&T, &VersionMeta) -> Vec<Value>,
    put: fn(&mut T, &mut VersionMeta, &[Value]) -> Result<()>,
}

fn diff(
    unit: &str,
    fields: &[&str],
    before: Option<&[Value]>,
    p: &Planned<Value>,
) -> PreviewVersion {
    let cambios = fields
        .iter()
        .enumerate()
        .filter(|(i, _)| before.is_none_or(|b| b[*i] != p.values[*i]))
        .map(|(i, f)| {
            // A district as its name and four-digit code, not the stored number.
            let shown = |v: &Value| match (*f, v) {
                ("district_code", Value::Int(n)) => u16::try_from(*n)
                    .ok()
                    .and_then(|n| DistrictCode::from_number(n).ok())
                    .map(DistrictCode::label),
                _ => show_value(v),
            };
            FieldChange {
                campo: (*f).to_string(),
                antes: before.and_then(|b| shown(&b[i])),
                despues: shown(&p.values[i]),
            }
        })
        .collect();
    PreviewVersion {
        unidad: unit.to_string(),
        version: p.version,
        base: before.map(|_| p.base),
        valida_desde: p.valid_from.map(|d| d.format("%d/%m/%Y").to_string()),
        vigente: p.current,
        cambios,
    }
}

struct Ctx<'a> {
    store: &'a mut dyn Store,
    now: String,
    change_id: Option<i64>,
    built: Built,
}

impl Ctx<'_> {
    fn meta(&self, p: &Planned<Value>) -> VersionMeta {
        VersionMeta {
            version: p.version,
            valid_from: p.valid_from,
            recorded_at: self.now.clone(),
            status: UnitStatus::Activo,
            merged_into: None,
            change_id: self.change_id,
        }
    }

    /// Plans an edit of person `id` and adds its versions.
    fn edit_person(&mut self, id: i64, edits: &[(&str, Value)], effect: Effect) -> Result<()> {
        let versions = versions::person_versions(&mut self.store.db(), id)?;
        let unit = Unit {
            kind: UnitKind::Persona,
            label: "persona",
            fields: &PERSON_FIELDS,
            values: person_values,
            put: put_person,
        };
        for (person, meta, current) in self.plan_unit(id, &versions, &unit, edits, effect)? {
            if current {
                self.built.set.persons.push((person, meta));
            } else {
                self.built.set.past_persons.push((person, meta));
            }
        }
        Ok(())
    }

    fn edit_household(&mut self, id: i64, edits: &[(&str, Value)], effect: Effect) -> Result<()> {
        let versions = versions::household_versions(&mut self.store.db(), id)?;
        let unit = Unit {
            kind: UnitKind::Hogar,
            label: "hogar",
            fields: &HOUSEHOLD_FIELDS,
            values: household_values,
            put: put_household,
        };
        for (h, meta, current) in self.plan_unit(id, &versions, &unit, edits, effect)? {
            if current {
                self.built.set.households.push((h, meta));
            } else {
                self.built.set.past_households.push((h, meta));
            }
        }
        Ok(())
    }

    /// Plans an edit of one unit (person or household) from all its versions: records the
    /// version it read, adds the preview of each version written and returns those versions
    /// with whether each becomes the current one.
    fn plan_unit<T: Clone>(
        &mut self,
        id: i64,
        versions: &[(T, VersionMeta)],
        unit: &Unit<T>,
        edits: &[(&str, Value)],
        effect: Effect,
    ) -> Result<Vec<(T, VersionMeta, bool)>> {
        let cur = versions
            .last()
            .ok_or_else(|| not_found_unit(unit.kind, id))?;
        self.built.expected.push((unit.label, id, cur.1.version));
        let vals: Vec<(VersionMeta, Vec<Value>)> = versions
            .iter()
            .map(|(x, m)| (m.clone(), (unit.values)(x, m)))
            .collect();
        let idx: Vec<(usize, Value)> = edits
            .iter()
            .map(|(f, v)| Ok((field_index(unit.fields, f)?, v.clone())))
            .collect::<Result<_>>()?;
        let planned = plan(&vals, &idx, effect)
            .map_err(|e| Error::bad_request(format!("{} {id}: {e}", unit.label)))?;
        let mut out = Vec::with_capacity(planned.len());
        for p in planned {
            let (base, _) = versions
                .iter()
                .find(|(_, m)| m.version == p.base)
                .ok_or_else(|| Error::internal("versión base perdida"))?;
            let before = vals
                .iter()
                .find(|(m, _)| m.version == p.base)
                .map(|x| &x.1[..]);
            self.built.preview.push(diff(
                &format!("{} {id}", unit.label),
                unit.fields,
                before,
                &p,
            ));
            let mut x = base.clone();
            let mut meta = self.meta(&p);
            (unit.put)(&mut x, &mut meta, &p.values)?;
            out.push((x, meta, p.current));
        }
        Ok(out)
    }

    fn touch(&mut self, kind: &str, id: i64, field: &str) {
        self.built
            .touched
            .push((kind.to_string(), id, field.to_string()));
    }
}

/// Current members of household `id` that are active, with their current versions.
fn active_members(store: &mut dyn Store, id: i64) -> Result<Vec<Person>> {
    let all = versions::member_versions(&mut store.db(), id)?;
    let mut out: Vec<Person> = Vec::new();
    let ids: BTreeSet<i64> = all.iter().map(|(p, _)| p.id).collect();
    for pid in ids {
        if let Some((p, m)) = versions::person(&mut store.db(), pid)? {
            if p.household_id == id && m.status.is_active() {
                out.push(p);
            }
        }
    }
    Ok(out)
}

fn active_person(store: &mut dyn Store, id: i64) -> Result<(Person, VersionMeta)> {
    match versions::person(&mut store.db(), id)? {
        Some((p, m)) if m.status.is_active() => Ok((p, m)),
        Some((_, m)) => Err(Error::conflict(format!(
            "persona {id}: su registro está en estado «{}»",
            m.status.label()
        ))),
        None => Err(not_found_unit(UnitKind::Persona, id)),
    }
}

fn active_household(store: &mut dyn Store, id: i64) -> Result<(Household, VersionMeta)> {
    match versions::household(&mut store.db(), id)? {
        Some((h, m)) if m.status.is_active() => Ok((h, m)),
        Some((_, m)) => Err(Error::conflict(format!(
            "hogar {id}: su registro está en estado «{}»",
            m.status.label()
        ))),
        None => Err(not_found_unit(UnitKind::Hogar, id)),
    }
}

/// Computes what a request writes, from the units' versions as they are now.
#[allow(clippy::too_many_lines)] // reason: one arm per change type, each a few lines
fn build(
    store: &mut dyn Store,
    kind: ChangeType,
    units: &[i64],
    payload: &Map<String, Json>,
    effect: Effect,
    change_id: Option<i64>,
    now: &str,
) -> Result<Built> {
    let mut cx = Ctx {
        store,
        now: now.to_string(),
        change_id,
        built: Built {
            set: VersionSet::default(),
            relink: Relink::default(),
            preview: Vec::new(),
            expected: Vec::new(),
            touched: Vec::new(),
        },
    };
    let cid = change_id.map_or("(nueva)".to_string(), |c| c.to_string());
    let fields = |names: &[&str]| -> Result<Vec<(&'static str, Value)>> {
        let mut out = Vec::new();
        for name in names {
            if let Some(v) = payload.get(*name) {
                let f: &'static str = kind
                    .spec()
                    .payload
                    .iter()
                    .find(|p| *p == name)
                    .copied()
                    .unwrap_or("");
                out.push((f, payload_value(name, v)?));
            }
        }
        Ok(out)
    };
    let u0 = units[0];
    match kind {
        ChangeType::AgregarMiembro => {
            let (h, _) = active_household(cx.store, u0)?;
            let vals = fields(kind.spec().payload)?;
            for need in [
                "given_names",
                "family_names",
                "birth_date",
                "sex",
                "relationship",
            ] {
                if !vals.iter().any(|(f, _)| *f == need) {
                    return Err(Error::bad_request(format!(
                        "agregar un miembro necesita «{need}»"
                    )));
                }
            }
            let id = versions::next_person_id(&mut cx.store.db())?;
            let valid_from = match effect {
                Effect::Correccion => None,
                Effect::Cambio { desde } => Some(desde),
            };
            let mut p = Person {
                id,
                household_id: h.id,
                submission_key: format!("cambio-{cid}-persona"),
                given_names: String::new(),
                family_names: String::new(),
                national_id: None,
                birth_date: valid_from.unwrap_or(h.interview_date),
                sex: Sex::Mujer,
                relationship: String::new(),
                answers: vec![Value::Null; vamos_domain::schema::PERSON_FIELDS.len()],
                provenance: h.provenance,
            };
            let mut m = VersionMeta {
                version: 1,
                valid_from,
                recorded_at: now.to_string(),
                status: UnitStatus::Activo,
                merged_into: None,
                change_id,
            };
            let mut values = person_values(&p, &m);
            for (f, v) in &vals {
                values[field_index(&PERSON_FIELDS, f)?] = v.clone();
            }
            put_person(&mut p, &mut m, &values)?;
            let planned = Planned {
                version: 1,
                base: 0,
                valid_from,
                values,
                current: true,
            };
            cx.built.preview.push(diff(
                &format!("persona nueva {id}"),
                &PERSON_FIELDS,
                None,
                &planned,
            ));
            cx.built.set.new_persons.push((p, m));
            cx.built
                .expected
                .push(("hogar", h.id, current_version_of_household(cx.store, h.id)?));
            cx.touch("hogar", u0, "members");
        }
        ChangeType::RetirarMiembro | ChangeType::MarcarFallecimiento => {
            active_person(cx.store, u0)?;
            let (status, why) = if kind == ChangeType::RetirarMiembro {
                (
                    UnitStatus::Retirado,
                    format!("la persona dejó el hogar (solicitud de cambio {cid})"),
                )
            } else {
                let d = match effect {
                    Effect::Cambio { desde } => desde.format("%d/%m/%Y").to_string(),
                    Effect::Correccion => String::new(),
                };
                (
                    UnitStatus::Fallecido,
                    format!("la persona falleció el {d} (solicitud de cambio {cid})"),
                )
            };
            cx.edit_person(
                u0,
                &[("status", Value::Text(status.as_str().into()))],
                effect,
            )?;
            cx.built.relink.close_referrals.push((u0, why));
            cx.touch("persona", u0, "status");
        }
        ChangeType::TrasladarMiembro => {
            let (p, _) = active_person(cx.store, u0)?;
            let (target, _) = active_household(cx.store, units[1])?;
            if p.household_id == target.id {
                return Err(Error::bad_request(format!(
                    "la persona {u0} ya integra el hogar {}",
                    target.id
                )));
            }
            let mut edits = vec![("household_id", Value::Int(target.id))];
            edits.extend(fields(&["relationship"])?);
            cx.edit_person(u0, &edits, effect)?;
            cx.touch("persona", u0, "*");
            cx.touch("hogar", p.household_id, "*");
            cx.touch("hogar", target.id, "*");
        }
        ChangeType::CambiarJefe => {
            active_household(cx.store, u0)?;
            let (p, _) = active_person(cx.store, units[1])?;
            if p.household_id != u0 {
                return Err(Error::bad_request(format!(
                    "la persona {} no integra el hogar {u0}",
                    p.id
                )));
            }
            if p.relationship == "jefe" {
                return Err(Error::bad_request(format!(
                    "la persona {} ya es jefe o jefa del hogar",
                    p.id
                )));
            }
            let previous = fields(&["relacion_anterior"])?
                .into_iter()
                .next()
                .map(|(_, v)| v)
                .ok_or_else(|| {
                    Error::bad_request(
                        "cambiar el jefe necesita «relacion_anterior»: la nueva relación de quien \
                         era jefe o jefa",
                    )
                })?;
            for m in active_members(cx.store, u0)? {
                if m.relationship == "jefe" {
                    cx.edit_person(m.id, &[("relationship", previous.clone())], effect)?;
                    cx.touch("persona", m.id, "relationship");
                }
            }
            cx.edit_person(
                p.id,
                &[("relationship", Value::Text("jefe".into()))],
                effect,
            )?;
            cx.touch("persona", p.id, "relationship");
            cx.touch("hogar", u0, "jefe");
        }
        ChangeType::MudarHogar => {
            let (h, _) = active_household(cx.store, u0)?;
            let mut edits = fields(kind.spec().payload)?;
            if edits.is_empty() {
                return Err(Error::bad_request(
                    "mudar el hogar necesita al menos uno de: district_code, community_id, area, \
                     address",
                ));
            }
            if let Some(d) = place_of_move(cx.store, i64::from(h.district.get()), &edits)? {
                edits.push(("district_code", Value::Int(d)));
            }
            cx.edit_household(u0, &edits, effect)?;
            for (f, _) in &edits {
                cx.touch("hogar", u0, f);
            }
        }
        ChangeType::CorregirPersona => {
            active_person(cx.store, u0)?;
            let edits = fields(kind.spec().payload)?;
            if edits.is_empty() {
                return Err(Error::bad_request(
                    "indique al menos un dato a corregir (given_names, family_names, national_id, \
                     birth_date, sex, relationship)",
                ));
            }
            cx.edit_person(u0, &edits, effect)?;
            for (f, _) in &edits {
                cx.touch("persona", u0, f);
            }
        }
        ChangeType::DividirHogar => {
            let (h, hm) = active_household(cx.store, u0)?;
            let chosen = members_of(payload.get("members"))?;
            let members = active_members(cx.store, u0)?;
            for c in &chosen {
                if !members.iter().any(|m| m.id == *c) {
                    return Err(Error::bad_request(format!(
                        "la persona {c} no es miembro activo del hogar {u0}"
                    )));
                }
            }
            if chosen.len() >= members.len() {
                return Err(Error::bad_request(
                    "al menos un miembro debe quedar en el hogar original",
                ));
            }
            let nh = versions::next_household_id(&mut cx.store.db())?;
            let mut new_h = h.clone();
            new_h.id = nh;
            new_h.submission_key = format!("cambio-{cid}-hogar");
            if let Some(a) = payload.get("address") {
                new_h.address = as_text(&payload_value("address", a)?);
            }
            let valid_from = match effect {
                Effect::Cambio { desde } => Some(desde),
                Effect::Correccion => None,
            };
            let meta = VersionMeta {
                version: 1,
                valid_from,
                recorded_at: now.to_string(),
                status: UnitStatus::Activo,
                merged_into: None,
                change_id,
            };
            let planned = Planned {
                version: 1,
                base: 0,
                valid_from,
                values: household_values(&new_h, &meta),
                current: true,
            };
            cx.built.preview.push(diff(
                &format!("hogar nuevo {nh}"),
                &HOUSEHOLD_FIELDS,
                None,
                &planned,
            ));
            cx.built.set.new_households.push((new_h, meta));
            cx.built.expected.push(("hogar", u0, hm.version));
            for c in &chosen {
                cx.edit_person(*c, &[("household_id", Value::Int(nh))], effect)?;
                cx.touch("persona", *c, "*");
            }
            cx.touch("hogar", u0, "*");
        }
        ChangeType::FusionarPersonas => {
            let (dup, _) = active_person(cx.store, u0)?;
            let (survivor, _) = active_person(cx.store, units[1])?;
            if dup.id == survivor.id {
                return Err(Error::bad_request(
                    "una persona no puede fusionarse consigo misma",
                ));
            }
            cx.edit_person(
                dup.id,
                &[
                    ("status", Value::Text(UnitStatus::Fusionado.as_str().into())),
                    ("merged_into", Value::Int(survivor.id)),
                ],
                effect,
            )?;
            cx.built.expected.push((
                "persona",
                survivor.id,
                current_version_of_person(cx.store, survivor.id)?,
            ));
            cx.built.relink.persons.push((dup.id, survivor.id));
            cx.touch("persona", dup.id, "*");
            cx.touch("persona", survivor.id, "*");
        }
        ChangeType::FusionarHogares => {
            let (dup, _) = active_household(cx.store, u0)?;
            let (survivor, _) = active_household(cx.store, units[1])?;
            if dup.id == survivor.id {
                return Err(Error::bad_request(
                    "un hogar no puede fusionarse consigo mismo",
                ));
            }
            for m in active_members(cx.store, dup.id)? {
                cx.edit_person(m.id, &[("household_id", Value::Int(survivor.id))], effect)?;
                cx.touch("persona", m.id, "*");
            }
            cx.edit_household(
                dup.id,
                &[
                    ("status", Value::Text(UnitStatus::Fusionado.as_str().into())),
                    ("merged_into", Value::Int(survivor.id)),
                ],
                effect,
            )?;
            cx.built.expected.push((
                "hogar",
                survivor.id,
                current_version_of_household(cx.store, survivor.id)?,
            ));
            cx.built.relink.households.push((dup.id, survivor.id));
            cx.touch("hogar", dup.id, "*");
            cx.touch("hogar", survivor.id, "*");
        }
    }
    Ok(cx.built)
}

fn current_version_of_household(store: &mut dyn Store, id: i64) -> Result<i64> {
    Ok(versions::household(&mut store.db(), id)?
        .ok_or_else(|| not_found_unit(UnitKind::Hogar, id))?
        .1
        .version)
}

fn current_version_of_person(store: &mut dyn Store, id: i64) -> Result<i64> {
    Ok(versions::person(&mut store.db(), id)?
        .ok_or_else(|| not_found_unit(UnitKind::Persona, id))?
        .1
        .version)
}

/// The district a unit lies in now (a person: its household's), `None` when missing.
fn district_of(store: &mut dyn Store, kind: UnitKind, id: i64) -> Result<Option<DistrictCode>> {
    Ok(match kind {
        UnitKind::Hogar => versions::household(&mut store.db(), id)?.map(|(h, _)| h.district),
        UnitKind::Persona => match versions::person(&mut store.db(), id)? {
            Some((p, _)) => {
                versions::household(&mut store.db(), p.household_id)?.map(|(h, _)| h.district)
            }
            None => None,
        },
    })
}

/// Checks each unit exists and lies in the caller's territories; out of scope answers exactly
/// like missing. Returns the units' districts.
fn units_in_scope(
    store: &mut dyn Store,
    actor: &Actor,
    spec: &TypeSpec,
    units: &[i64],
) -> Result<Vec<DistrictCode>> {
    let kinds: Vec<UnitKind> = std::iter::once(spec.unit)
        .chain(spec.other_units.iter().copied())
        .collect();
    let mut out = Vec::new();
    for (k, id) in kinds.iter().zip(units) {
        match district_of(store, *k, *id)? {
            Some(d) if actor.scope.contains(d) => out.push(d),
            _ => return Err(not_found_unit(*k, *id)),
        }
    }
    Ok(out)
}

fn may_see_fields(store: &mut dyn Store, actor: &Actor) -> Result<Option<BTreeSet<String>>> {
    match actor.role {
        // Orientadores do not read the registry but see identification (MESA_FIELDS).
        Some(_) => crate::registry::visible_fields(store, actor),
        None => Ok(None),
    }
}

/// The person field that guards a preview field.
fn guard_field(campo: &str) -> &'static str {
    match campo {
        "given_names" => "given_names",
        "family_names" => "family_names",
        "national_id" => "national_id",
        "birth_date" => "birth_date",
        "sex" => "sex",
        "relationship" => "relationship",
        "household_id" | "status" | "merged_into" => "household_id",
        "district_code" => "district_code",
        _ => "household_address",
    }
}

fn redact(preview: &mut [PreviewVersion], fields: &Option<BTreeSet<String>>) {
    for v in preview {
        for c in &mut v.cambios {
            if !crate::registry::may_see(fields, guard_field(&c.campo)) {
                c.antes = c.antes.as_ref().map(|_| "(oculto)".into());
                c.despues = c.despues.as_ref().map(|_| "(oculto)".into());
            }
        }
    }
}

fn effect_code(e: Effect) -> (&'static str, Option<String>) {
    match e {
        Effect::Correccion => ("correccion", None),
        Effect::Cambio { desde } => ("cambio", Some(desde.to_string())),
    }
}

fn stored_effect(row: &ChangeRow) -> Result<Effect> {
    match (row.effect.as_str(), row.effect_date.as_deref()) {
        ("cambio", Some(d)) => Ok(Effect::Cambio {
            desde: parse_date(d)?,
        }),
        _ => Ok(Effect::Correccion),
    }
}

/// The units a request names, with their kinds, in the type's order.
fn row_units(row: &ChangeRow) -> Vec<(&'static str, i64)> {
    let Some(kind) = ChangeType::parse(&row.kind) else {
        return Vec::new();
    };
    let spec = kind.spec();
    std::iter::once(spec.unit)
        .chain(spec.other_units.iter().copied())
        .map(UnitKind::as_str)
        .zip(row.unit_ids.iter().copied())
        .collect()
}

fn row_json(row: &ChangeRow, units: &[(String, i64)]) -> Json {
    let spec = ChangeType::parse(&row.kind).map(|k| k.spec());
    json!({
        "id": row.id,
        "tipo": row.kind,
        "tipo_nombre": spec.map_or("", |s| s.label),
        "unidades": row_units(row).iter().map(|(k, i)| json!({"tipo": k, "id": i})).collect::<Vec<_>>(),
        "unidades_afectadas": units.iter().map(|(k, i)| json!({"tipo": k, "id": i})).collect::<Vec<_>>(),
        "efecto": row.effect,
        "desde": row.effect_date,
        "desde_fecha": row.effect_date.as_deref().and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
            .map(|d| d.format("%d/%m/%Y").to_string()),
        "motivo": row.reason,
        "estado": row.state,
        "solicitado_por": row.requested_by,
        "solicitado_en": row.requested_at,
        "decidido_por": row.decided_by,
        "decidido_en": row.decided_at,
        "motivo_decision": row.decision_reason,
        "reclamo": row.grievance_id,
        "aprobaciones_requeridas": spec.map_or(0, |s| s.approvals),
        "valores": serde_json::from_str::<Json>(&row.payload).unwrap_or(Json::Null),
    })
}

/// Creates a change request (from an interface, or from a grievance with `reclamo`): checks
/// permission, type, scope, field policy, evidence and documents, computes its preview, refuses
/// a conflict with an open request naming the first, and audits. Returns the request with its
/// preview.
#[allow(clippy::too_many_lines)] // reason: the checks of a request in the order they are made
pub fn request(store: &mut dyn Store, actor: &Actor, input: &RequestInput) -> Result<Json> {
    actor.require(Permission::ChangesRequest)?;
    let kind = ChangeType::parse(input.tipo.trim()).ok_or_else(|| {
        Error::bad_request(format!(
            "tipo de solicitud «{}» desconocido; tipos: {}",
            echo(&input.tipo),
            TYPES.iter().map(|t| t.code).collect::<Vec<_>>().join(", ")
        ))
    })?;
    let spec = kind.spec();
    if let Some(g) = input.reclamo {
        crate::grievances::check_for_change(store, actor, g)?;
    }
    if let Some(role) = actor.role {
        if !spec.may_request(role) {
            return Err(Error::forbidden(format!(
                "su rol ({}) no puede solicitar «{}»",
                role.label(),
                spec.label
            )));
        }
    }
    let reason = input.motivo.trim();
    if reason.is_empty() {
        return Err(Error::bad_request("indique el motivo de la solicitud"));
    }
    bounded("motivo", reason, Limit::FreeText)?;
    if input.unidades.len() != spec.unit_count() {
        return Err(Error::bad_request(format!(
            "«{}» nombra {} unidad(es): {}",
            spec.label,
            spec.unit_count(),
            std::iter::once(spec.unit)
                .chain(spec.other_units.iter().copied())
                .map(UnitKind::as_str)
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    for k in input.valores.keys() {
        if !spec.payload.contains(&k.as_str()) {
            return Err(Error::bad_request(format!(
                "«{}» no es un valor de «{}»; admite: {}",
                echo(k),
                spec.label,
                if spec.payload.is_empty() {
                    "ninguno".to_string()
                } else {
                    spec.payload.join(", ")
                }
            )));
        }
    }
    let effect = parse_effect(&input.efecto, input.desde.as_deref())?;
    if !spec.dating.admits(effect) {
        return Err(Error::bad_request(format!(
            "«{}» no admite el efecto «{}»",
            spec.label,
            effect_code(effect).0
        )));
    }
    let purpose = format!("solicitud de cambio: {}", spec.code);
    let districts = match units_in_scope(store, actor, spec, &input.unidades) {
        Ok(d) => d,
        Err(e) => {
            actor.audit(
                store,
                "solicitar cambio",
                spec.unit.as_str(),
                &ids_text(&input.unidades),
                &purpose,
                "no encontrado",
            )?;
            return Err(e);
        }
    };
    // A move into a district outside the requester's territories is refused like a missing one,
    // whether the district is named or comes with the community.
    if let Some(d) = input.valores.get("district_code") {
        if let Value::Int(n) = payload_value("district_code", d)? {
            if !DistrictCode::from_stored(n).is_some_and(|d| actor.scope.contains(d)) {
                return Err(Error::not_found(format!("distrito {n} no encontrado")));
            }
        }
    }
    if let Some(c) = input.valores.get("community_id") {
        if let Value::Int(n) = payload_value("community_id", c)? {
            let district = community_district(store, n)?;
            if !district
                .and_then(DistrictCode::from_stored)
                .is_some_and(|d| actor.scope.contains(d))
            {
                return Err(Error::not_found(format!("comunidad {n} no encontrada")));
            }
        }
    }
    let fields = may_see_fields(store, actor)?;
    for k in input.valores.keys() {
        let g = guard_field(k);
        if k != "members" && k != "relacion_anterior" && !crate::registry::may_see(&fields, g) {
            return Err(crate::registry::hidden_field_error(g, "modificar"));
        }
    }
    let docs = check_attachments(spec, &input.adjuntos)?;
    let now = crate::clock::now_rfc3339();
    let built = build(
        store,
        kind,
        &input.unidades,
        &input.valores,
        effect,
        None,
        &now,
    )?;
    let base: Map<String, Json> = built
        .expected
        .iter()
        .map(|(k, id, v)| (format!("{k}:{id}"), json!(v)))
        .collect();
    let mut touched = built.touched.clone();
    if spec.structural {
        for t in &mut touched {
            t.2 = "*".into();
        }
    }
    let (effect_s, effect_date) = effect_code(effect);
    let new = store::NewChange {
        kind: spec.code.into(),
        unit_kind: spec.unit.as_str().into(),
        unit_id: input.unidades[0],
        unit_ids: input.unidades.clone(),
        district_code: i64::from(districts[0].get()),
        other_district: districts.get(1).map(|d| i64::from(d.get())),
        payload: Json::Object(input.valores.clone()).to_string(),
        effect: effect_s.into(),
        effect_date,
        reason: reason.into(),
        base_versions: Json::Object(base).to_string(),
        requested_by: actor
            .account()
            .map_or_else(|| actor.name.clone(), str::to_string),
        requested_at: now,
        grievance_id: input.reclamo,
        units: touched,
    };
    match store::create(&mut store.db(), &new, &docs)? {
        Created::Conflict(other, k, uid) => {
            actor.audit(
                store,
                "solicitar cambio",
                spec.unit.as_str(),
                &ids_text(&input.unidades),
                &purpose,
                &format!("rechazado: conflicto con la solicitud {other}"),
            )?;
            Err(Error::conflict(format!(
                "ya hay una solicitud abierta, la {other}, sobre {k} {uid}: espere a que se \
                 apruebe o rechace antes de pedir otro cambio de lo mismo"
            )))
        }
        Created::Id(id) => {
            if let Some(g) = input.reclamo {
                crate::grievances::link_change(store, actor, g, id, crate::clock::now())?;
            }
            actor.audit(
                store,
                "solicitar cambio",
                "solicitud de cambio",
                &format!(
                    "{id} ({} {})",
                    spec.unit.as_str(),
                    ids_text(&input.unidades)
                ),
                &purpose,
                "ok",
            )?;
            let mut preview = built.preview;
            redact(&mut preview, &fields);
            let row = store::get(&mut store.db(), id)?.ok_or_else(|| not_found_change(id))?;
            let units = store::units(&mut store.db(), id)?;
            let mut out = row_json(&row, &units);
            out["vista_previa"] = json!(preview);
            Ok(out)
        }
    }
}

fn ids_text(ids: &[i64]) -> String {
    ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",")
}

fn check_attachments(
    spec: &TypeSpec,
    docs: &[AttachmentInput],
) -> Result<Vec<store::NewAttachment>> {
    if docs.len() > MAX_ATTACHMENTS {
        return Err(Error::new(
            crate::ErrorKind::TooLarge,
            "demasiados_adjuntos",
            format!("a lo sumo {MAX_ATTACHMENTS} documentos por solicitud"),
        ));
    }
    let mut out = Vec::new();
    for d in docs {
        let kind = DocumentKind::parse(d.document_kind.trim()).ok_or_else(|| {
            Error::bad_request(format!(
                "tipo de documento «{}» desconocido; tipos: {}",
                echo(&d.document_kind),
                DocumentKind::ALL.map(DocumentKind::code).join(", ")
            ))
        })?;
        if d.content.len() > MAX_ATTACHMENT {
            return Err(Error::new(
                crate::ErrorKind::TooLarge,
                "adjunto_muy_grande",
                format!("el documento «{}» pesa más de 10 MB", echo(&d.file_name)),
            ));
        }
        let media = sniff(&d.content).ok_or_else(|| {
            Error::bad_request(format!(
                "el documento «{}» no es PDF, JPEG ni PNG (se revisa su contenido, no su nombre)",
                echo(&d.file_name)
            ))
        })?;
        let name: String = d.file_name.chars().filter(|c| !c.is_control()).collect();
        bounded("nombre del documento", &name, Limit::Place)?;
        out.push(store::NewAttachment {
            document_kind: kind.code().into(),
            media_type: media.into(),
            file_name: name,
            sha256: vamos_store::audit::hex(&Sha256::digest(&d.content)),
            content: d.content.clone(),
        });
    }
    if !spec.evidence.is_empty()
        && !out
            .iter()
            .any(|a| spec.evidence.iter().any(|k| k.code() == a.document_kind))
    {
        return Err(Error::bad_request(format!(
            "«{}» necesita adjuntar: {}",
            spec.label,
            spec.evidence
                .iter()
                .map(|k| k.label())
                .collect::<Vec<_>>()
                .join(" o ")
        )));
    }
    Ok(out)
}

/// Loads request `id` if the caller may see it: it holds a change permission and every unit
/// the request names lies in its territories (else: not found, like a missing one).
pub(crate) fn visible(
    store: &mut dyn Store,
    actor: &Actor,
    id: i64,
    action: &str,
) -> Result<(ChangeRow, Vec<(String, i64)>)> {
    if !actor.can(Permission::ChangesRequest) && !actor.can(Permission::ChangesApprove) {
        actor.require(Permission::ChangesApprove)?;
    }
    let row = store::get(&mut store.db(), id)?;
    let units = store::units(&mut store.db(), id)?;
    let in_scope = match &row {
        Some(r) => {
            let mut ok = DistrictCode::from_stored(r.district_code)
                .is_some_and(|d| actor.scope.contains(d))
                && r.other_district
                    .and_then(DistrictCode::from_stored)
                    .is_none_or(|d| actor.scope.contains(d));
            for (k, uid) in &units {
                let kind = if k == "hogar" {
                    UnitKind::Hogar
                } else {
                    UnitKind::Persona
                };
                if let Some(d) = district_of(store, kind, *uid)? {
                    ok &= actor.scope.contains(d);
                }
            }
            ok
        }
        None => false,
    };
    let outcome = match (&row, in_scope) {
        (None, _) => "no encontrado",
        (Some(_), false) => "denegado: fuera de su ámbito territorial",
        _ => "ok",
    };
    actor.audit(
        store,
        action,
        "solicitud de cambio",
        &id.to_string(),
        "solicitudes de cambio",
        outcome,
    )?;
    match row {
        Some(r) if in_scope => Ok((r, units)),
        _ => Err(not_found_change(id)),
    }
}

fn payload_of(row: &ChangeRow) -> Map<String, Json> {
    match serde_json::from_str::<Json>(&row.payload) {
        Ok(Json::Object(m)) => m,
        _ => Map::new(),
    }
}

/// Whether the units moved on since the request: (kind, id) of the first that did.
fn stale_unit(store: &mut dyn Store, row: &ChangeRow) -> Result<Option<(String, i64)>> {
    let base: Map<String, Json> = match serde_json::from_str::<Json>(&row.base_versions) {
        Ok(Json::Object(m)) => m,
        _ => Map::new(),
    };
    for (key, v) in base {
        let Some((k, id)) = key.split_once(':') else {
            continue;
        };
        let id: i64 = id.parse().unwrap_or_default();
        let now = if k == "hogar" {
            versions::household(&mut store.db(), id)?.map(|x| x.1.version)
        } else {
            versions::person(&mut store.db(), id)?.map(|x| x.1.version)
        };
        if now != v.as_i64() {
            return Ok(Some((k.to_string(), id)));
        }
    }
    Ok(None)
}

fn stale_error(k: &str, id: i64) -> Error {
    Error::conflict(format!(
        "{k} {id} cambió desde que se hizo la solicitud (otra solicitud o una reentrevista): \
         revise de nuevo la vista previa; si sigue siendo correcta, rechace esta solicitud y \
         haga una nueva"
    ))
}

fn built_for(store: &mut dyn Store, row: &ChangeRow, now: &str) -> Result<Built> {
    let kind = ChangeType::parse(&row.kind)
        .ok_or_else(|| Error::internal("tipo de solicitud desconocido"))?;
    build(
        store,
        kind,
        &row.unit_ids,
        &payload_of(row),
        stored_effect(row)?,
        Some(row.id),
        now,
    )
}

/// A request with its approvals, documents and — while pending — its before/after preview.
pub fn show(store: &mut dyn Store, actor: &Actor, id: i64) -> Result<Json> {
    let (row, units) = visible(store, actor, id, "ver solicitud de cambio")?;
    detail(store, actor, &row, &units)
}

/// A request just decided by `actor`, read again for the answer (the decision is its audit
/// record; no second one for reading it).
fn decided(store: &mut dyn Store, actor: &Actor, id: i64) -> Result<Json> {
    let row = store::get(&mut store.db(), id)?.ok_or_else(|| not_found_change(id))?;
    let units = store::units(&mut store.db(), id)?;
    detail(store, actor, &row, &units)
}

/// What [`show`] answers for a request the caller was found to see (read and audited already).
fn detail(
    store: &mut dyn Store,
    actor: &Actor,
    row: &ChangeRow,
    units: &[(String, i64)],
) -> Result<Json> {
    let id = row.id;
    let mut out = row_json(row, units);
    // What the caller may do with it, for the interfaces' buttons (the decision checks again).
    let approvals = store::approvals(&mut store.db(), id)?;
    let mine = actor.account();
    out["propia"] = json!(mine == Some(row.requested_by.as_str()));
    out["puede_decidir"] = json!(
        row.state == ChangeState::Pendiente.code()
            && ChangeType::parse(&row.kind)
                .is_some_and(|k| may_decide(actor, k.spec(), row).is_ok())
            && !approvals.iter().any(|a| Some(a.approver.as_str()) == mine)
    );
    out["aprobaciones"] = json!(approvals
        .iter()
        .map(|a| json!({"cuenta": a.approver, "rol": a.role, "en": a.at}))
        .collect::<Vec<_>>());
    out["adjuntos"] = json!(store::attachments(&mut store.db(), id)?
        .iter()
        .map(|a| json!({
            "n": a.n, "tipo_documento": a.document_kind,
            "tipo_documento_etiqueta": vamos_domain::changes::DocumentKind::parse(&a.document_kind).map(|k| k.label()),
            "tipo": a.media_type,
            "nombre": a.file_name, "bytes": a.size, "sha256": a.sha256,
        }))
        .collect::<Vec<_>>());
    if row.state == ChangeState::Pendiente.code() {
        match stale_unit(store, row)? {
            Some((k, uid)) => out["vista_previa_error"] = json!(stale_error(&k, uid).message),
            None => match built_for(store, row, &crate::clock::now_rfc3339()) {
                Ok(b) => {
                    let fields = may_see_fields(store, actor)?;
                    let mut preview = b.preview;
                    redact(&mut preview, &fields);
                    out["vista_previa"] = json!(preview);
                }
                Err(e) => out["vista_previa_error"] = json!(e.message),
            },
        }
    }
    Ok(out)
}

fn may_decide(actor: &Actor, spec: &TypeSpec, row: &ChangeRow) -> Result<String> {
    actor.require(Permission::ChangesApprove)?;
    let Some(account) = actor.account() else {
        return Err(Error::forbidden(
            "aprobar o rechazar una solicitud requiere una cuenta con nombre (--as)",
        ));
    };
    if let Some(role) = actor.role {
        if !spec.may_approve(role) {
            return Err(Error::forbidden(format!(
                "su rol ({}) no puede aprobar «{}»: la aprueba {}",
                role.label(),
                spec.label,
                spec.approver.label()
            )));
        }
    }
    if account == row.requested_by {
        return Err(Error::forbidden(
            "no puede aprobar ni rechazar su propia solicitud: debe hacerlo otra cuenta",
        ));
    }
    Ok(account.to_string())
}

/// Approves request `id`: refuses the requester, a role the type does not name, a second
/// approval by the same account and a request whose units moved on since; the last required
/// approval applies it (new versions, evidence moved, referrals closed) in one transaction.
pub fn approve(store: &mut dyn Store, actor: &Actor, id: i64, follow: Follow<'_>) -> Result<Json> {
    let (row, _) = visible(store, actor, id, "aprobar cambio")?;
    let kind = ChangeType::parse(&row.kind)
        .ok_or_else(|| Error::internal("tipo de solicitud desconocido"))?;
    let spec = kind.spec();
    let account = match may_decide(actor, spec, &row) {
        Ok(a) => a,
        Err(e) => {
            actor.audit(
                store,
                "aprobar cambio",
                "solicitud de cambio",
                &id.to_string(),
                "aprobación",
                &format!("denegado: {}", e.message),
            )?;
            return Err(e);
        }
    };
    if row.state != ChangeState::Pendiente.code() {
        return Err(Error::conflict(format!(
            "la solicitud {id} ya está {}",
            row.state
        )));
    }
    let approvals = store::approvals(&mut store.db(), id)?;
    if approvals.iter().any(|a| a.approver == account) {
        return Err(Error::conflict(format!(
            "usted ya aprobó la solicitud {id}: falta la aprobación de otra cuenta"
        )));
    }
    if let Some((k, uid)) = stale_unit(store, &row)? {
        actor.audit(
            store,
            "aprobar cambio",
            "solicitud de cambio",
            &id.to_string(),
            "aprobación",
            "rechazado: la unidad cambió",
        )?;
        return Err(stale_error(&k, uid));
    }
    let now = crate::clock::now_rfc3339();
    let approval = Approval {
        approver: account,
        role: actor
            .role
            .map_or("operador_local", |r| r.code())
            .to_string(),
        at: now.clone(),
    };
    let applied = approvals.len() + 1 >= usize::from(spec.approvals);
    let mut refreshed = None;
    if applied {
        let built = built_for(store, &row, &now)?;
        match store::apply(
            &mut store.db(),
            id,
            &approval,
            &built.expected,
            &built.set,
            &built.relink,
        )? {
            Ok(()) => {}
            Err(ApplyRefusal::Stale(k, uid)) => return Err(stale_error(k, uid)),
            Err(ApplyRefusal::IdTaken) => {
                return Err(Error::conflict(
                    "el registro sumó personas u hogares mientras se aprobaba: apruebe de nuevo",
                ))
            }
        }
        // Open referrals of those who died or left were closed in the same transaction; the
        // latest measurement's Logros and the in-memory copy follow now.
        refreshed = Some(follow_change(store, id, &built.set, &now, follow));
        if kind == ChangeType::MudarHogar {
            // The change is applied: a failure to offer its cases is recorded, not undone.
            if let Err(e) = crate::cases::follow_move(store, actor, row.unit_id) {
                actor.audit(
                    store,
                    "ofrecer casos del hogar mudado",
                    "hogar",
                    &row.unit_id.to_string(),
                    "gestión de casos",
                    &format!("error: {}", e.message),
                )?;
            }
        }
    } else {
        store::approve(&mut store.db(), id, &approval)?;
    }
    actor.audit(
        store,
        "aprobar cambio",
        "solicitud de cambio",
        &id.to_string(),
        "aprobación",
        if applied {
            "ok: aplicada"
        } else {
            "ok: aprobación registrada"
        },
    )?;
    if let (Some(g), true) = (row.grievance_id, applied) {
        crate::grievances::note_change_decision(store, actor, g, id, true, crate::clock::now())?;
    }
    let mut out = decided(store, actor, id)?;
    if let Some(r) = refreshed {
        out["logros"] = r;
    }
    Ok(out)
}

/// Resolves grievance `id` with the change request `input` that corrects the registry — only
/// as `resuelto`: the request is created first (with every check of a request, naming the
/// grievance, which must be open and in reach) and the grievance closed after; nothing is
/// created when the outcome is another or the resolution's texts are missing or too long. The
/// grievance as staff now see it.
#[allow(clippy::too_many_arguments)] // reason: the resolution's parts and the request, as given
pub fn resolve_grievance(
    store: &mut dyn Store,
    actor: &Actor,
    id: i64,
    outcome: vamos_domain::grievance::Outcome,
    reason: &str,
    public_text: &str,
    input: &RequestInput,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<crate::grievances::Detail> {
    if outcome != vamos_domain::grievance::Outcome::Resuelto {
        return Err(Error::bad_request(
            "una solicitud de cambio acompaña solo una resolución «resuelto»",
        ));
    }
    crate::grievances::check_resolution(reason, public_text)?;
    let mut input = input.clone();
    input.reclamo = Some(id);
    request(store, actor, &input)?;
    crate::grievances::handle(
        store,
        actor,
        id,
        &crate::grievances::Handling::Resolve {
            outcome,
            reason: reason.to_string(),
            public_text: public_text.to_string(),
        },
        now,
    )
}

/// What an applied change keeps up to date besides the registry: the latest measurement's
/// Logros and the in-memory registry of whoever holds one (see [`crate::versions::refresh`]).
pub struct Follow<'a> {
    pub catalogue: &'a Catalogue,
    pub resident: &'a mut Option<Resident>,
}

/// Runs [`crate::versions::refresh`] for the versions change `change` wrote (`set`, at
/// `recorded_at`); what it did, for the answer (`null`: no measurement to keep up to date). The
/// change is committed already, so a failure here is logged and reported, not returned: the
/// next classification counts the change anyway.
fn follow_change(
    store: &mut dyn Store,
    change: i64,
    set: &VersionSet,
    recorded_at: &str,
    f: Follow<'_>,
) -> Json {
    let ids = |v: &[(Household, VersionMeta)]| v.iter().map(|(h, _)| h.id).collect::<Vec<_>>();
    let pids = |v: &[(Person, VersionMeta)]| v.iter().map(|(p, _)| p.id).collect::<Vec<_>>();
    let touched = Touched {
        households: [
            ids(&set.households),
            ids(&set.new_households),
            ids(&set.past_households),
        ]
        .concat(),
        persons: [
            pids(&set.persons),
            pids(&set.new_persons),
            pids(&set.past_persons),
        ]
        .concat(),
    };
    let result = crate::versions::refresh(
        store,
        f.catalogue,
        &touched,
        change,
        recorded_at,
        f.resident,
    );
    match result {
        Ok(r) => json!(r),
        Err(e) => {
            tracing::warn!(motivo = %e, "Logros no actualizados tras aplicar un cambio");
            json!({"error": "los Logros no se actualizaron ahora: la próxima clasificación cuenta el cambio"})
        }
    }
}

/// Rejects request `id` with a reason (not by its requester).
pub fn reject(store: &mut dyn Store, actor: &Actor, id: i64, reason: &str) -> Result<Json> {
    let (row, _) = visible(store, actor, id, "rechazar cambio")?;
    let kind = ChangeType::parse(&row.kind)
        .ok_or_else(|| Error::internal("tipo de solicitud desconocido"))?;
    let account = may_decide(actor, kind.spec(), &row)?;
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(Error::bad_request("indique el motivo del rechazo"));
    }
    bounded("motivo", reason, Limit::FreeText)?;
    if row.state != ChangeState::Pendiente.code() {
        return Err(Error::conflict(format!(
            "la solicitud {id} ya está {}",
            row.state
        )));
    }
    store::reject(
        &mut store.db(),
        id,
        &account,
        &crate::clock::now_rfc3339(),
        reason,
    )?;
    actor.audit(
        store,
        "rechazar cambio",
        "solicitud de cambio",
        &id.to_string(),
        "rechazo",
        "ok",
    )?;
    if let Some(g) = row.grievance_id {
        crate::grievances::note_change_decision(store, actor, g, id, false, crate::clock::now())?;
    }
    decided(store, actor, id)
}

/// Filters of [`list`].
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ListQuery {
    pub estado: Option<String>,
    pub tipo: Option<String>,
    /// Requests with a lower id than this (the next page).
    pub antes: Option<i64>,
    pub limite: Option<i64>,
}

/// The requests within the caller's territories, newest first.
pub fn list(store: &mut dyn Store, actor: &Actor, q: &ListQuery) -> Result<Vec<Json>> {
    if !actor.can(Permission::ChangesRequest) {
        actor.require(Permission::ChangesApprove)?;
    }
    let state = q
        .estado
        .as_deref()
        .filter(|s| !s.is_empty())
        .map(|s| {
            ChangeState::parse(s).ok_or_else(|| {
                Error::bad_request(format!(
                    "estado «{}» desconocido: pendiente, aplicada o rechazada",
                    echo(s)
                ))
            })
        })
        .transpose()?;
    let kind = q
        .tipo
        .as_deref()
        .filter(|s| !s.is_empty())
        .map(|s| {
            ChangeType::parse(s)
                .ok_or_else(|| Error::bad_request(format!("tipo «{}» desconocido", echo(s))))
        })
        .transpose()?;
    let limit = q.limite.unwrap_or(100).clamp(1, MAX_LIST);
    let rows = store::list(
        &mut store.db(),
        state.map(ChangeState::code),
        kind.map(ChangeType::code),
        &actor.scope.district_ranges(),
        q.antes,
        limit,
    )?;
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    actor.audit(
        store,
        "listar solicitudes de cambio",
        "solicitud de cambio",
        &if ids.is_empty() {
            "ninguna".to_string()
        } else {
            crate::referrals::summary_ids(&ids)
        },
        "solicitudes de cambio",
        &format!("ok: {} resultados", rows.len()),
    )?;
    let mut units = store::units_of(&mut store.db(), &ids)?;
    Ok(rows
        .iter()
        .map(|r| row_json(r, &units.remove(&r.id).unwrap_or_default()))
        .collect())
}

/// The list as CSV (cells neutralised against formula injection).
pub fn export_csv(store: &mut dyn Store, actor: &Actor, q: &ListQuery) -> Result<String> {
    let rows = list(store, actor, q)?;
    // UTF-8 with BOM, so a spreadsheet reads the accents.
    let mut w = vamos_domain::csv_safe::CsvWriter::from_writer(b"\xEF\xBB\xBF".to_vec());
    let header = [
        "id",
        "tipo",
        "unidades",
        "efecto",
        "desde",
        "estado",
        "solicitado_por",
        "solicitado_en",
        "decidido_por",
        "motivo",
    ];
    w.write_record(header).map_err(Error::internal)?;
    for r in rows {
        let units = r["unidades"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|u| format!("{} {}", u["tipo"].as_str().unwrap_or(""), u["id"]))
                    .collect::<Vec<_>>()
                    .join("; ")
            })
            .unwrap_or_default();
        let s = |k: &str| crate::referrals::cell_text(&r[k]);
        w.write_record([
            s("id"),
            s("tipo"),
            units,
            s("efecto"),
            s("desde"),
            s("estado"),
            s("solicitado_por"),
            s("solicitado_en"),
            s("decidido_por"),
            s("motivo"),
        ])
        .map_err(Error::internal)?;
    }
    let bytes = w.into_inner().map_err(Error::internal)?;
    String::from_utf8(bytes).map_err(Error::internal)
}

/// A downloaded document: media type, file name and content.
#[derive(Debug, Clone)]
pub struct Download {
    pub media_type: String,
    pub file_name: String,
    pub content: Vec<u8>,
}

/// Document `n` of request `id`, under the scope and audit of personal data.
pub fn attachment(store: &mut dyn Store, actor: &Actor, id: i64, n: i64) -> Result<Download> {
    visible(
        store,
        actor,
        id,
        "descargar documento de solicitud de cambio",
    )?;
    let found = store::attachment(&mut store.db(), id, n)?;
    actor.audit(
        store,
        "descargar documento",
        "solicitud de cambio",
        &format!("{id} documento {n}"),
        "solicitudes de cambio",
        if found.is_some() {
            "ok"
        } else {
            "no encontrado"
        },
    )?;
    let (meta, content) = found.ok_or_else(|| {
        Error::not_found(format!("documento {n} de la solicitud {id} no encontrado"))
    })?;
    Ok(Download {
        media_type: meta.media_type,
        file_name: meta.file_name,
        content,
    })
}

/// The types as data, for the forms and `GET` of the API.
pub fn types() -> Json {
    json!(TYPES
        .iter()
        .map(|t| json!({
            "tipo": t.code,
            "nombre": t.label,
            "unidades": std::iter::once(t.unit).chain(t.other_units.iter().copied())
                .map(UnitKind::as_str).collect::<Vec<_>>(),
            "estructural": t.structural,
            "solicitan": t.requesters.iter().map(|r| r.code()).collect::<Vec<_>>(),
            "documentos": t.evidence.iter().map(|d| d.code()).collect::<Vec<_>>(),
            "aprobaciones": t.approvals,
            "aprueba": t.approver.code(),
            "efecto": t.dating,
            "valores": t.payload,
        }))
        .collect::<Vec<_>>())
}
