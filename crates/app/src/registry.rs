//! Reading the registry: persons, households and communities, as every interface shows them —
//! within the caller's territorial scope, with only the person fields its role or its
//! institution's data-sharing agreement allows, and one audit record per read (refused reads
//! included). The JSON API and the web pages both call these functions.

use crate::{Actor, Error, Result};
use serde_json::{json, Map, Value};
use std::collections::BTreeSet;
use vamos_domain::{
    CommunityId, DistrictCode, FieldPolicy, HouseholdId, Permission, PersonId, Scope, TerritoryCode,
};
use vamos_store::accounts;
use vamos_store::views::{self, Filter, Op, PersonColumn};
use vamos_store::{Store, UnitKind};

/// Most rows in one page of a list or search.
pub const MAX_PAGE: i64 = 200;
/// Rows in a page when the caller does not say.
pub const DEFAULT_PAGE: i64 = 50;

/// The person fields `actor` may see (`None` = all), from its role or its institution's
/// agreements in force today.
pub fn visible_fields(store: &mut dyn Store, actor: &Actor) -> Result<Option<BTreeSet<String>>> {
    let Some(role) = actor.role else {
        return Ok(None);
    };
    match role.field_policy() {
        FieldPolicy::All => Ok(None),
        FieldPolicy::Fields(f) => Ok(Some(f.iter().map(|s| s.to_string()).collect())),
        FieldPolicy::None => Err(Error::forbidden(format!(
            "el rol {} no accede a datos personales",
            role.label()
        ))),
        FieldPolicy::Agreement => {
            let inst = actor.institution.clone().unwrap_or_default();
            let today = crate::clock::now().date_naive().to_string();
            match agreed_fields(store, &inst, &today)? {
                Some(set) => Ok(Some(set)),
                None => Err(Error::forbidden(format!(
                    "la institución {inst} no tiene un acuerdo de intercambio de datos vigente"
                ))),
            }
        }
    }
}

/// The person fields the data-sharing agreements of `institution` in force on `day`
/// (`AAAA-MM-DD`) allow, `id` always among them; `None` when none is in force.
pub fn agreed_fields(
    store: &mut dyn Store,
    institution: &str,
    day: &str,
) -> Result<Option<BTreeSet<String>>> {
    let list = accounts::agreements(&mut store.db(), Some(institution), Some(day))?;
    if list.is_empty() {
        return Ok(None);
    }
    let mut set: BTreeSet<String> = list.into_iter().flat_map(|a| a.fields).collect();
    set.insert("id".into());
    Ok(Some(set))
}

/// The person field a search column reads: a caller may filter or sort by a column only when
/// it may see that field.
pub fn column_field(c: PersonColumn) -> &'static str {
    match c {
        PersonColumn::Id => "id",
        PersonColumn::HouseholdId => "household_id",
        PersonColumn::District => "district_code",
        PersonColumn::GivenNames => "given_names",
        PersonColumn::FamilyNames => "family_names",
        PersonColumn::NationalId => "national_id",
        PersonColumn::BirthDate => "birth_date",
        PersonColumn::Sex => "sex",
    }
}

/// Whether the caller may see field `field` (`None`: every field).
pub fn may_see(fields: &Option<BTreeSet<String>>, field: &str) -> bool {
    fields.as_ref().is_none_or(|f| f.contains(field))
}

/// The refusal of a filter or a sort key outside the fields the caller may see. It depends on
/// the field alone, never on the registry's rows, so that it answers the same whether or not any
/// person would match (a filter that were answered would be an oracle: a count or a page that
/// says whether someone has that cédula, that birth date, that sex).
pub fn hidden_field_error(field: &str, what: &str) -> Error {
    Error::forbidden(hidden_field_message(field, what))
}

/// The Spanish text of [`hidden_field_error`] (the DCI API puts it in its own rejection).
pub fn hidden_field_message(field: &str, what: &str) -> String {
    format!(
        "no puede {what} por el campo «{field}»: no está entre los campos de la persona que usted \
         puede ver (rol o acuerdo de intercambio de datos de su institución)"
    )
}

/// The first field a filter tests that the caller may not see, if any.
pub fn hidden_filter_field(
    fields: &Option<BTreeSet<String>>,
    filter: &Filter,
) -> Option<&'static str> {
    match filter {
        Filter::Cmp(c, _, _) | Filter::In(c, _) => {
            Some(column_field(*c)).filter(|f| !may_see(fields, f))
        }
        Filter::And(fs) | Filter::Or(fs) => fs.iter().find_map(|f| hidden_filter_field(fields, f)),
        Filter::Not(f) => hidden_filter_field(fields, f),
    }
}

/// The first sort key the caller may not see, if any.
pub fn hidden_sort_field(
    fields: &Option<BTreeSet<String>>,
    sort: &[(PersonColumn, bool)],
) -> Option<&'static str> {
    sort.iter()
        .map(|(c, _)| column_field(*c))
        .find(|f| !may_see(fields, f))
}

/// Refuses (and audits, under `action`) a search whose filter or sort key uses a field the
/// caller may not see.
pub fn check_search_fields(
    store: &mut dyn Store,
    actor: &Actor,
    fields: &Option<BTreeSet<String>>,
    filter: &Filter,
    sort: &[(PersonColumn, bool)],
    action: &str,
    purpose: &str,
) -> Result<()> {
    let refused = match (
        hidden_filter_field(fields, filter),
        hidden_sort_field(fields, sort),
    ) {
        (Some(f), _) => Some((f, "filtrar")),
        (None, Some(f)) => Some((f, "ordenar")),
        (None, None) => None,
    };
    let Some((field, what)) = refused else {
        return Ok(());
    };
    actor.audit(
        store,
        action,
        "persona",
        "ninguna persona (búsqueda denegada)",
        purpose,
        &format!("denegado: {what} por un campo fuera de su acuerdo ({field})"),
    )?;
    Err(hidden_field_error(field, what))
}

/// Keeps only the visible keys of a person row.
pub fn filter_person(
    mut row: Map<String, Value>,
    fields: &Option<BTreeSet<String>>,
) -> Map<String, Value> {
    if let Some(f) = fields {
        row.retain(|k, _| f.contains(k));
    }
    row
}

/// The `id`s of rows, comma-separated (the audit record's subject list); `ninguna` when there
/// are none, never an empty subject.
fn ids_of(rows: &[Map<String, Value>]) -> String {
    if rows.is_empty() {
        return "ninguna".into();
    }
    rows.iter()
        .filter_map(|r| r.get("id").and_then(Value::as_i64))
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

fn district_of(row: &Map<String, Value>) -> Option<DistrictCode> {
    row.get("district_code")
        .and_then(Value::as_i64)
        .and_then(DistrictCode::from_stored)
}

fn in_scope(actor: &Actor, row: &Map<String, Value>) -> bool {
    district_of(row).is_some_and(|d| actor.scope.contains(d))
}

/// The error for a unit that is missing (not found) or outside the caller's territories
/// (forbidden: the caller is told it exists but not what it holds, as the access policy
/// requires).
pub fn out_of_scope(exists: bool, kind_es: &str, id: impl std::fmt::Display) -> Error {
    if exists {
        Error::forbidden(format!("{kind_es} {id}: fuera de su ámbito territorial"))
    } else {
        Error::not_found(format!("{kind_es} {id} no encontrado"))
    }
}

/// A territory given by a caller (`PY` when absent).
pub fn parse_territory(s: Option<&str>) -> Result<TerritoryCode> {
    TerritoryCode::parse(s.unwrap_or("PY"))
        .map_err(|e| Error::bad_request(format!("territorio inválido: {e}")))
}

fn ranges(t: TerritoryCode) -> Vec<(i64, i64)> {
    match t {
        TerritoryCode::Nation => Scope::National,
        other => Scope::Territories(vec![other]),
    }
    .district_ranges()
}

/// The purpose a caller gave for a read (audited), or `default`.
pub fn purpose_or(p: &Option<String>, default: &str) -> Result<String> {
    match p {
        Some(s) if s.chars().count() > 200 => Err(Error::bad_request(
            "el motivo (purpose) no puede superar 200 caracteres",
        )),
        Some(s) if !s.trim().is_empty() => Ok(s.trim().to_string()),
        _ => Ok(default.to_string()),
    }
}

/// A search of persons.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct PersonSearch {
    /// Words of the name (given names or family names).
    pub q: Option<String>,
    pub cedula: Option<i64>,
    /// `PY`, a department `DD` or a district `DDdd`.
    pub territory: Option<String>,
    /// The last id of the previous page.
    pub after: Option<i64>,
    pub limit: Option<i64>,
    pub purpose: Option<String>,
}

/// A page of rows: the rows, the id to continue after, and the page size used.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Page {
    pub items: Vec<Value>,
    pub next_after: Option<i64>,
    pub limit: i64,
    /// How many match in all (a person search: counted up to [`COUNT_CAP`]; `None` elsewhere).
    pub total: Option<i64>,
}

/// A person search counts its matches up to this many ("más de 10.000").
pub const COUNT_CAP: i64 = 10_000;

impl Page {
    pub fn json(&self) -> Value {
        let mut v =
            json!({"items": self.items, "next_after": self.next_after, "limit": self.limit});
        if let (Some(t), Value::Object(o)) = (self.total, &mut v) {
            o.insert("total".into(), json!(t.min(COUNT_CAP)));
            o.insert("total_is_lower_bound".into(), json!(t > COUNT_CAP));
        }
        v
    }
}

/// Persons matching a search, within the caller's scope, with the fields it may see.
pub fn search_persons(store: &mut dyn Store, actor: &Actor, q: &PersonSearch) -> Result<Page> {
    actor.require(Permission::PersonsFind)?;
    let t = parse_territory(q.territory.as_deref())?;
    let purpose = purpose_or(&q.purpose, "búsqueda en el registro")?;
    let mut conds = vec![Filter::Or(
        ranges(t)
            .into_iter()
            .map(|(lo, hi)| {
                Filter::And(vec![
                    Filter::Cmp(PersonColumn::District, Op::Ge, lo.into()),
                    Filter::Cmp(PersonColumn::District, Op::Le, hi.into()),
                ])
            })
            .collect(),
    )];
    let fields = visible_fields(store, actor)?;
    // A territory narrower than the country filters by district.
    let mut asked: Vec<Filter> = Vec::new();
    if t != TerritoryCode::Nation {
        asked.push(conds.remove(0));
    }
    if let Some(words) = &q.q {
        if words.chars().count() > 100 {
            return Err(Error::bad_request(
                "la búsqueda no puede superar 100 caracteres",
            ));
        }
        // A word is looked for in the names the caller may see (both, for most): matching a
        // name it may not see would tell it that name.
        let names: Vec<PersonColumn> = [PersonColumn::GivenNames, PersonColumn::FamilyNames]
            .into_iter()
            .filter(|c| may_see(&fields, column_field(*c)))
            .collect();
        for w in words.split_whitespace().take(6) {
            asked.push(if names.is_empty() {
                Filter::Cmp(PersonColumn::GivenNames, Op::Contains, w.into())
            } else {
                Filter::Or(
                    names
                        .iter()
                        .map(|c| Filter::Cmp(*c, Op::Contains, w.into()))
                        .collect(),
                )
            });
        }
    }
    if let Some(c) = q.cedula {
        asked.push(Filter::Cmp(PersonColumn::NationalId, Op::Eq, c.into()));
    }
    if q.q.is_none() && q.cedula.is_none() && t == TerritoryCode::Nation {
        return Err(Error::bad_request(
            "indique al menos un criterio: q (nombre), cedula o territory",
        ));
    }
    // What was asked, for the audit record: a search that finds nobody is still a question
    // about someone (a cédula tried, a name).
    let criteria = [
        q.q.as_deref()
            .map(|w| format!("nombre «{}»", vamos_domain::limits::echo(w))),
        q.cedula.map(|c| format!("cédula {c}")),
        (t != TerritoryCode::Nation).then(|| format!("territorio {t}")),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(", ");
    let asked = Filter::And(asked);
    check_search_fields(
        store,
        actor,
        &fields,
        &asked,
        &[],
        "buscar personas",
        &purpose,
    )?;
    conds.push(asked);
    let limit = q.limit.unwrap_or(DEFAULT_PAGE).clamp(1, MAX_PAGE);
    let filter = Filter::And(conds);
    let page = views::search_persons(
        &mut store.db(),
        &filter,
        &actor.scope.district_ranges(),
        q.after,
        limit,
    )?;
    // The total is counted only when there is more than one page (one past the cap reads
    // "more than").
    let total = if page.next.is_some() || q.after.is_some() {
        views::count_persons_up_to(
            &mut store.db(),
            &filter,
            &actor.scope.district_ranges(),
            COUNT_CAP + 1,
        )?
    } else {
        i64::try_from(page.items.len()).unwrap_or(0)
    };
    actor.audit(
        store,
        "buscar personas",
        "persona",
        &ids_of(&page.items),
        &purpose,
        &format!("ok: {} resultados; criterios: {criteria}", page.items.len()),
    )?;
    Ok(Page {
        items: page
            .items
            .into_iter()
            .map(|r| Value::Object(filter_person(r, &fields)))
            .collect(),
        next_after: page.next,
        limit,
        total: Some(total),
    })
}

/// Audits a refused or failed read of one unit and returns its error.
fn refuse(
    store: &mut dyn Store,
    actor: &Actor,
    action: &str,
    kind_es: &str,
    id: i64,
    purpose: &str,
    exists: bool,
) -> Result<Error> {
    let outcome = if exists {
        "denegado: fuera de su ámbito territorial"
    } else {
        "no encontrado"
    };
    actor.audit(store, action, kind_es, &id.to_string(), purpose, outcome)?;
    Ok(out_of_scope(exists, kind_es, id))
}

/// One person, with the fields the caller may see.
pub fn person(
    store: &mut dyn Store,
    actor: &Actor,
    id: PersonId,
    purpose: &Option<String>,
) -> Result<Value> {
    actor.require(Permission::PersonsFind)?;
    let purpose = purpose_or(purpose, "consulta de una persona")?;
    let fields = visible_fields(store, actor)?;
    match views::person(&mut store.db(), id)? {
        Some(r) if in_scope(actor, &r) => {
            actor.audit(
                store,
                "leer persona",
                "persona",
                &id.to_string(),
                &purpose,
                "ok",
            )?;
            Ok(Value::Object(filter_person(r, &fields)))
        }
        found => Err(refuse(
            store,
            actor,
            "leer persona",
            "persona",
            id.get(),
            &purpose,
            found.is_some(),
        )?),
    }
}

/// A list of units of a territory, within the caller's scope.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct ListQuery {
    pub territory: Option<String>,
    pub after: Option<i64>,
    pub limit: Option<i64>,
    pub purpose: Option<String>,
}

/// The households of a territory, a page at a time.
pub fn households(store: &mut dyn Store, actor: &Actor, q: &ListQuery) -> Result<Page> {
    actor.require(Permission::RegistryRead)?;
    let t = parse_territory(q.territory.as_deref())?;
    let purpose = purpose_or(&q.purpose, "listado de hogares")?;
    let limit = q.limit.unwrap_or(DEFAULT_PAGE).clamp(1, MAX_PAGE);
    visible_fields(store, actor)?;
    let page = views::list_households(
        &mut store.db(),
        &ranges(t),
        &actor.scope.district_ranges(),
        q.after,
        limit,
    )?;
    actor.audit(
        store,
        "listar hogares",
        "hogar",
        &ids_of(&page.items),
        &purpose,
        &format!("ok: {} resultados", page.items.len()),
    )?;
    Ok(Page {
        items: page.items.into_iter().map(Value::Object).collect(),
        next_after: page.next,
        limit,
        total: None,
    })
}

/// One household with its members (the fields the caller may see; the address only with the
/// `household_address` field).
pub fn household(
    store: &mut dyn Store,
    actor: &Actor,
    id: HouseholdId,
    purpose: &Option<String>,
) -> Result<Value> {
    actor.require(Permission::RegistryRead)?;
    let purpose = purpose_or(purpose, "consulta de un hogar")?;
    let fields = visible_fields(store, actor)?;
    match views::household(&mut store.db(), id)? {
        Some((mut h, members)) if in_scope(actor, &h) => {
            actor.audit(
                store,
                "leer hogar",
                "hogar",
                &format!("{id} (miembros {})", ids_of(&members)),
                &purpose,
                "ok",
            )?;
            if fields
                .as_ref()
                .is_some_and(|f| !f.contains("household_address"))
            {
                for k in ["address", "latitude", "longitude"] {
                    h.remove(k);
                }
            }
            let members: Vec<Value> = members
                .into_iter()
                .map(|m| Value::Object(filter_person(m, &fields)))
                .collect();
            h.insert("members".into(), Value::Array(members));
            Ok(Value::Object(h))
        }
        found => Err(refuse(
            store,
            actor,
            "leer hogar",
            "hogar",
            id.get(),
            &purpose,
            found.is_some(),
        )?),
    }
}

/// The communities of a territory, a page at a time.
pub fn communities(store: &mut dyn Store, actor: &Actor, q: &ListQuery) -> Result<Page> {
    actor.require(Permission::RegistryRead)?;
    let t = parse_territory(q.territory.as_deref())?;
    let limit = q.limit.unwrap_or(DEFAULT_PAGE).clamp(1, MAX_PAGE);
    visible_fields(store, actor)?;
    let page = views::list_communities(
        &mut store.db(),
        &ranges(t),
        &actor.scope.district_ranges(),
        q.after,
        limit,
    )?;
    Ok(Page {
        items: page.items.into_iter().map(Value::Object).collect(),
        next_after: page.next,
        limit,
        total: None,
    })
}

/// One community; audited like a person or a household (read, refused or missing).
pub fn community(store: &mut dyn Store, actor: &Actor, id: CommunityId) -> Result<Value> {
    actor.require(Permission::RegistryRead)?;
    visible_fields(store, actor)?;
    let purpose = "consulta de una comunidad";
    match views::community(&mut store.db(), id)? {
        Some(c) if in_scope(actor, &c) => {
            actor.audit(
                store,
                "leer comunidad",
                "comunidad",
                &id.to_string(),
                purpose,
                "ok",
            )?;
            Ok(Value::Object(c))
        }
        found => Err(refuse(
            store,
            actor,
            "leer comunidad",
            "comunidad",
            id.get(),
            purpose,
            found.is_some(),
        )?),
    }
}

/// The protection status of one unit, service by service, with its evidence: at `as_of`, or at
/// the latest measurement's date with the counter-referrals it was brought up to date with.
pub fn unit_status(
    store: &mut dyn Store,
    actor: &Actor,
    catalogue: &vamos_catalogue::Catalogue,
    kind: UnitKind,
    id: i64,
    as_of: Option<&str>,
    purpose: &Option<String>,
) -> Result<Value> {
    actor.require(Permission::StatusRead)?;
    let purpose = purpose_or(purpose, "consulta de estatus de protección")?;
    let as_of = as_of
        .map(|s| {
            chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| {
                Error::bad_request(format!(
                    "fecha «{}» inválida: use AAAA-MM-DD",
                    vamos_domain::limits::echo(s)
                ))
            })
        })
        .transpose()?;
    // Before the look-up: a caller who may see no person field is refused before anything.
    let fields = visible_fields(store, actor)?;
    let (uid, d) = locate_in_scope(store, actor, kind, id, "explicar estatus", &purpose)?;
    let (as_of, until) = match as_of {
        Some(d) => (d, d),
        None => match store.measurement(None)? {
            Some((m, _)) => (
                chrono::NaiveDate::parse_from_str(&m.as_of, "%Y-%m-%d").map_err(Error::internal)?,
                crate::measurements::figures_until(&m)?,
            ),
            None => {
                return Err(Error::bad_request(
                    "indique as_of=AAAA-MM-DD (todavía no hay mediciones)",
                ))
            }
        },
    };
    let mut v = crate::measurements::explain(store, catalogue, kind, uid, d, as_of, until)?;
    redact_explanation(&mut v, catalogue, &fields);
    Ok(v)
}

/// What an explanation or a route shows instead of a criterion that names an attribute the
/// caller may not see.
pub const WITHHELD: &str = "criterio reservado por el acuerdo de intercambio de datos";

/// The person field whose value tells that a person belongs to category `code`: pregnancy for
/// «antes del nacimiento», age for the others; `None` for households and communities.
fn category_field(code: &str) -> Option<&'static str> {
    match code {
        "antes_del_nacimiento" => Some("embarazada"),
        "hogares" | "entorno" => None,
        _ => Some("birth_date"),
    }
}

/// Whether a caller who sees `fields` may know which units belong to category `code` (the
/// category before birth tells a pregnancy; the others, an age).
pub fn category_code_visible(code: &str, fields: &Option<BTreeSet<String>>) -> bool {
    category_field(code).is_none_or(|f| may_see(fields, f))
}

/// Whether a caller who sees `fields` may know a unit's status for service `code`: not when
/// the service's eligibility names an attribute it may not see (its status would answer it).
pub fn service_status_visible(
    catalogue: &vamos_catalogue::Catalogue,
    code: &str,
    fields: &Option<BTreeSet<String>>,
) -> bool {
    fields.is_none() || !matches!(cut_of(catalogue, code, fields), Cut::Status)
}

/// Whether a catalogue rule names a variable the caller may not see (an unknown one counts as
/// hidden).
pub(crate) fn rule_hidden(
    rule: &vamos_catalogue::Compiled,
    fields: &Option<BTreeSet<String>>,
) -> bool {
    rule.variables().iter().any(|v| {
        let vars = vamos_catalogue::vars::variables(v.scope);
        let Some(spec) = vars.get(usize::from(v.index)) else {
            return true;
        };
        match vamos_domain::authz::rule_variable_field(v.scope.prefix(), spec.name) {
            Ok(None) => false,
            Ok(Some(f)) => !may_see(fields, f),
            Err(()) => true,
        }
    })
}

/// How a service's explanation is cut for a caller: shown whole, its evidence's rule text
/// withheld (the rule names an attribute the caller may not see), or its status withheld too
/// (its eligibility does: whether it applies at all would tell that attribute).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cut {
    Whole,
    RuleText,
    Status,
}

fn cut_of(
    catalogue: &vamos_catalogue::Catalogue,
    code: &str,
    fields: &Option<BTreeSet<String>>,
) -> Cut {
    let Some(s) = catalogue.services.iter().find(|s| s.code == code) else {
        return Cut::Status;
    };
    if s.eligibility
        .as_ref()
        .is_some_and(|e| rule_hidden(e, fields))
    {
        return Cut::Status;
    }
    let fips_hidden = s.evidence.iter().any(|e| match &e.source {
        vamos_catalogue::EvidenceSource::Fips { rule } => rule_hidden(rule, fields),
        _ => false,
    });
    if fips_hidden {
        Cut::RuleText
    } else {
        Cut::Whole
    }
}

/// Keeps the categories of a person whose membership the caller may know: a category that
/// tells pregnancy (or age) is left out whole — a placeholder would tell that there is one.
fn category_visible(c: &Value, fields: &Option<BTreeSet<String>>) -> bool {
    c.get("category")
        .and_then(Value::as_str)
        .and_then(category_field)
        .is_none_or(|f| may_see(fields, f))
}

/// The populations of special attention a caller who sees `fields` may know a unit belongs
/// to (`None`: every one): each only with the field that reveals it
/// ([`vamos_domain::authz::population_field`]) — disability, poverty, indigenous identity only
/// when the agreement lists them like any other field.
pub fn visible_populations(fields: &Option<BTreeSet<String>>) -> Option<Vec<String>> {
    use vamos_engine::logros::{COMMUNITY_BREAKDOWNS, HOUSEHOLD_BREAKDOWNS, PERSON_BREAKDOWNS};
    let f = fields.as_ref()?;
    let mut all: Vec<&str> = Vec::new();
    for p in PERSON_BREAKDOWNS
        .iter()
        .chain(&HOUSEHOLD_BREAKDOWNS)
        .chain(&COMMUNITY_BREAKDOWNS)
    {
        if !all.contains(p) {
            all.push(p);
        }
    }
    Some(
        all.into_iter()
            .filter(|p| vamos_domain::authz::population_field(p).is_some_and(|x| f.contains(x)))
            .map(str::to_string)
            .collect(),
    )
}

/// A status explanation ([`crate::measurements::explain`]) as a caller who sees `fields` may
/// read it: the sensitive classes (disability, poverty, pregnancy, indigenous identity) and
/// every other attribute outside its role's fields or its institution's agreement stay out —
/// categories that would tell them are left out, a rule naming them is replaced by
/// [`WITHHELD`], and a service whose eligibility names them shows neither status nor evidence.
/// `None`: everything is shown.
pub fn redact_explanation(
    v: &mut Value,
    catalogue: &vamos_catalogue::Catalogue,
    fields: &Option<BTreeSet<String>>,
) {
    if fields.is_none() {
        return;
    }
    let Some(categories) = v.get_mut("categories").and_then(Value::as_array_mut) else {
        return;
    };
    categories.retain(|c| category_visible(c, fields));
    for c in categories.iter_mut() {
        let services = c
            .get_mut("services")
            .and_then(Value::as_array_mut)
            .into_iter()
            .flatten();
        for sv in services {
            let code = sv
                .get("service")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            match cut_of(catalogue, &code, fields) {
                Cut::Whole => {}
                Cut::Status => {
                    set(sv, "status", json!("reservado"));
                    set(
                        sv,
                        "evidence",
                        json!({"source": null, "date": null, "detail": WITHHELD}),
                    );
                }
                Cut::RuleText => {
                    let from_answers = sv
                        .pointer("/evidence/source")
                        .and_then(Value::as_str)
                        .is_some_and(|s| s == "FIPS" || s == "relevamiento del Entorno");
                    if let Some(e) = sv.get_mut("evidence").filter(|_| from_answers) {
                        set(e, "detail", json!(WITHHELD));
                        // The answers recorded and the rule would say what the detail withholds.
                        if let Some(o) = e.as_object_mut() {
                            o.remove("recorded");
                            o.remove("technical");
                        }
                    }
                }
            }
        }
    }
    let first = categories.first().cloned().unwrap_or(Value::Null);
    let part = |k: &str, none: Value| first.get(k).cloned().unwrap_or(none);
    let (category, concurrent, services) = (
        part("category", Value::Null),
        part("concurrent", json!(false)),
        part("services", json!([])),
    );
    set(v, "category", category);
    set(v, "concurrent", concurrent);
    set(v, "services", services);
}

/// Sets key `k` of an object (nothing for another value).
fn set(v: &mut Value, k: &str, x: Value) {
    if let Some(o) = v.as_object_mut() {
        o.insert(k.to_string(), x);
    }
}

/// A person's service route (the referrals module's `person_route`) as a caller who sees `fields`
/// may read it: the categories [`redact_explanation`] leaves out are left out, and so is every
/// service whose eligibility names a hidden attribute — a route lists only the services that
/// apply to the person, so such a service's mere presence would answer its rule (a service for
/// poor households shown only to members of poor households); a category left with none goes
/// too. The count of missing services is recounted.
pub fn redact_route(
    v: &mut Value,
    catalogue: &vamos_catalogue::Catalogue,
    fields: &Option<BTreeSet<String>>,
) {
    if fields.is_none() {
        return;
    }
    let Some(steps) = v.get_mut("route").and_then(Value::as_array_mut) else {
        return;
    };
    steps.retain(|c| category_visible(c, fields));
    let mut missing = 0;
    steps.retain_mut(|step| {
        let Some(services) = step.get_mut("services").and_then(Value::as_array_mut) else {
            return true;
        };
        let before = services.len();
        services.retain(|sv| {
            let code = sv
                .get("service")
                .and_then(Value::as_str)
                .unwrap_or_default();
            cut_of(catalogue, code, fields) != Cut::Status
        });
        missing += services
            .iter()
            .filter(|sv| sv.get("missing") == Some(&json!(true)))
            .count();
        !(services.is_empty() && before > 0)
    });
    set(v, "missing", json!(missing));
}

/// Finds unit `id` and checks it lies within the caller's territories; audits the look-up
/// under `action` either way (found, refused, or missing).
pub fn locate_in_scope(
    store: &mut dyn Store,
    actor: &Actor,
    kind: UnitKind,
    id: i64,
    action: &str,
    purpose: &str,
) -> Result<(i64, DistrictCode)> {
    let kind_es = crate::measurements::kind_es(kind);
    let located = store.locate(kind, id)?;
    let district = located.and_then(|(_, d)| DistrictCode::from_number(d).ok());
    let allowed = district.is_some_and(|d| actor.scope.contains(d));
    let outcome = match (located, allowed) {
        (None, _) => "no encontrado",
        (Some(_), false) => "denegado: fuera de su ámbito territorial",
        _ => "ok",
    };
    let subject = located
        .map(|(i, _)| i.to_string())
        .unwrap_or_else(|| id.to_string());
    actor.audit(store, action, kind_es, &subject, purpose, outcome)?;
    match (located, district, allowed) {
        (Some((uid, _)), Some(d), true) => Ok((uid, d)),
        _ => Err(out_of_scope(located.is_some(), kind_es, id)),
    }
}

/// Finds unit `key` for a command of the command line and audits the look-up under `action`
/// (found or missing: `vamos explain`, `vamos route`); the caller needs the permission to read
/// statuses. The unit's id and district number, `None` when there is no such unit.
pub fn locate_recorded(
    store: &mut dyn Store,
    actor: &Actor,
    kind: UnitKind,
    key: i64,
    action: &str,
    purpose: &str,
) -> Result<Option<(i64, u16)>> {
    actor.require(Permission::StatusRead)?;
    let located = store.locate(kind, key)?;
    record_lookup(store, actor, kind, key, located, action, purpose)
}

/// [`locate_recorded`] for a person given by cédula (never tried as an internal number).
pub fn locate_cedula_recorded(
    store: &mut dyn Store,
    actor: &Actor,
    cedula: vamos_domain::NationalId,
    action: &str,
    purpose: &str,
) -> Result<Option<(i64, u16)>> {
    actor.require(Permission::StatusRead)?;
    let located = store.locate_national_id(i64::from(cedula.get()))?;
    record_lookup(
        store,
        actor,
        UnitKind::Person,
        i64::from(cedula.get()),
        located,
        action,
        purpose,
    )
}

fn record_lookup(
    store: &mut dyn Store,
    actor: &Actor,
    kind: UnitKind,
    key: i64,
    located: Option<(i64, u16)>,
    action: &str,
    purpose: &str,
) -> Result<Option<(i64, u16)>> {
    actor.audit(
        store,
        action,
        crate::measurements::kind_es(kind),
        &located
            .map(|(id, _)| id.to_string())
            .unwrap_or_else(|| format!("no encontrado ({key})")),
        purpose,
        if located.is_some() {
            "ok"
        } else {
            "no encontrado"
        },
    )?;
    Ok(located)
}

/// Whether a household came from an import labelled synthetic (its page then says so).
pub fn household_is_synthetic(store: &mut dyn Store, id: HouseholdId) -> Result<bool> {
    Ok(views::household_is_synthetic(&mut store.db(), id)?)
}

/// The statuses of a household and of each of its members at the latest measurement, with the
/// district's delivery points: what a household page shows.
#[derive(Debug, Clone)]
pub struct HouseholdStatuses {
    /// The measurement's reference date.
    pub as_of: String,
    /// The household's explanation.
    pub household: Value,
    /// Each member's explanation, by person id.
    pub members: Vec<(i64, Value)>,
    pub delivery_points: Vec<vamos_store::delivery_points::DeliveryPoint>,
}

/// A service a unit still lacks, with where to go for it in the district.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct MissingService {
    pub name: Option<String>,
    pub institution: Option<String>,
    /// `desprotegido` or `sin_dato`.
    pub status: String,
    /// Delivery points of the service: name · address · hours.
    pub places: Vec<String>,
}

/// The services one unit of a household still lacks, núcleo package first.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct UnitRoute {
    /// The member (`None`: the household itself).
    pub person: Option<i64>,
    pub services: Vec<MissingService>,
}

impl HouseholdStatuses {
    /// The household's route: per member, then the household, the services still missing —
    /// núcleo first, then ampliado, then the rest — with where to go in the district. Units
    /// that lack nothing are left out.
    pub fn route(&self) -> Vec<UnitRoute> {
        self.members
            .iter()
            .map(|(pid, v)| (Some(*pid), v))
            .chain(std::iter::once((None, &self.household)))
            .filter_map(|(person, explained)| {
                let services = missing_services(explained, &self.delivery_points);
                (!services.is_empty()).then_some(UnitRoute { person, services })
            })
            .collect()
    }
}

/// The unprotected (or unknown) services of one explanation, núcleo first.
fn missing_services(
    explained: &Value,
    points: &[vamos_store::delivery_points::DeliveryPoint],
) -> Vec<MissingService> {
    let text = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
    let services = explained
        .get("categories")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|c| c.get("services").and_then(Value::as_array))
        .flatten();
    let mut missing: Vec<(u8, MissingService)> = Vec::new();
    for sv in services {
        let status = text(sv, "status").unwrap_or_default();
        if status != "desprotegido" && status != "sin_dato" {
            continue;
        }
        let code = text(sv, "service").unwrap_or_default();
        let rank = match text(sv, "package").as_deref() {
            Some("nucleo") => 0,
            Some("ampliado") => 1,
            _ => 2,
        };
        let places = points
            .iter()
            .filter(|p| p.service == code)
            .map(|p| {
                [Some(p.name.clone()), p.address.clone(), p.hours.clone()]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join(" · ")
            })
            .collect();
        missing.push((
            rank,
            MissingService {
                name: text(sv, "name"),
                institution: text(sv, "institution"),
                status,
                places,
            },
        ));
    }
    // Stable: within a package, catalogue order.
    missing.sort_by_key(|(r, _)| *r);
    missing.into_iter().map(|(_, m)| m).collect()
}

/// The latest measurement, its reference date and the date up to which its counter-referrals
/// count (statuses are explained as of then); `None` before the first classification.
fn latest_measurement(
    store: &mut dyn Store,
) -> Result<Option<(String, chrono::NaiveDate, chrono::NaiveDate)>> {
    let Some((m, _)) = store.measurement(None)? else {
        return Ok(None);
    };
    let day = chrono::NaiveDate::parse_from_str(&m.as_of, "%Y-%m-%d").map_err(Error::internal)?;
    let until = crate::measurements::figures_until(&m)?;
    Ok(Some((m.as_of, day, until)))
}

/// Explains household `id` and its members, reading only its community: one audited
/// "explicar estatus" record naming the household and its members. `None` before the first
/// measurement.
pub fn household_statuses(
    store: &mut dyn Store,
    actor: &Actor,
    catalogue: &vamos_catalogue::Catalogue,
    id: HouseholdId,
    purpose: &str,
) -> Result<Option<HouseholdStatuses>> {
    actor.require(Permission::StatusRead)?;
    let fields = visible_fields(store, actor)?;
    let found = views::household(&mut store.db(), id)?;
    let exists = found.is_some();
    let Some((h, members)) = found.filter(|(h, _)| in_scope(actor, h)) else {
        let why = refuse(
            store,
            actor,
            "explicar estatus",
            "hogar",
            id.get(),
            purpose,
            exists,
        )?;
        return Err(why);
    };
    let (Some(district), Some(community)) = (
        district_of(&h),
        h.get("community_id").and_then(Value::as_i64),
    ) else {
        return Err(Error::internal("hogar sin distrito o comunidad"));
    };
    let Some((as_of, day, until)) = latest_measurement(store)? else {
        return Ok(None);
    };
    let ids: Vec<String> = members
        .iter()
        .filter_map(|m| m.get("id").and_then(Value::as_i64))
        .map(|i| i.to_string())
        .collect();
    let subject = format!("{id} (miembros {})", ids.join(","));
    actor.audit(store, "explicar estatus", "hogar", &subject, purpose, "ok")?;
    let (mut household, mut members) = crate::measurements::explain_household(
        store,
        catalogue,
        id,
        CommunityId(community),
        district,
        day,
        until,
    )?;
    redact_explanation(&mut household, catalogue, &fields);
    for (_, m) in &mut members {
        redact_explanation(m, catalogue, &fields);
    }
    let delivery_points =
        vamos_store::delivery_points::delivery_points_for(&mut store.db(), &district.to_string())?;
    Ok(Some(HouseholdStatuses {
        as_of,
        household,
        members,
        delivery_points,
    }))
}

/// Explains community `id` (its Entorno services), reading only that community; audited.
/// Returns the measurement's reference date and the explanation; `None` before the first
/// measurement.
pub fn community_statuses(
    store: &mut dyn Store,
    actor: &Actor,
    catalogue: &vamos_catalogue::Catalogue,
    id: CommunityId,
    purpose: &str,
) -> Result<Option<(String, Value)>> {
    actor.require(Permission::StatusRead)?;
    let found = views::community(&mut store.db(), id)?;
    let exists = found.is_some();
    let Some(district) = found
        .as_ref()
        .filter(|c| in_scope(actor, c))
        .and_then(district_of)
    else {
        let why = refuse(
            store,
            actor,
            "explicar estatus",
            "comunidad",
            id.get(),
            purpose,
            exists,
        )?;
        return Err(why);
    };
    let Some((as_of, day, until)) = latest_measurement(store)? else {
        return Ok(None);
    };
    actor.audit(
        store,
        "explicar estatus",
        "comunidad",
        &id.to_string(),
        purpose,
        "ok",
    )?;
    let v = crate::measurements::explain_community(store, catalogue, id, district, day, until)?;
    Ok(Some((as_of, v)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(service: &str, name: &str) -> vamos_store::delivery_points::DeliveryPoint {
        vamos_store::delivery_points::DeliveryPoint {
            institution: "MSPBS".into(),
            service: service.into(),
            level: "distrito".into(),
            territory: "1116".into(),
            name: name.into(),
            address: Some("Calle 1".into()),
            hours: None,
            contact: None,
            hosted_services: None,
            mesa_body: None,
        }
    }

    #[test]
    fn a_household_route_lists_what_each_unit_lacks_nucleo_first_with_where_to_go() {
        let member = json!({"categories": [{"services": [
            {"service": "b", "name": "B", "status": "desprotegido", "package": "ampliado"},
            {"service": "a", "name": "A", "status": "sin_dato", "package": "nucleo"},
            {"service": "c", "name": "C", "status": "protegido", "package": "nucleo"},
        ]}]});
        let household = json!({"categories": [{"services": [
            {"service": "c", "name": "C", "status": "protegido", "package": "nucleo"},
        ]}]});
        let s = HouseholdStatuses {
            as_of: "2026-11-23".into(),
            household,
            members: vec![(7, member)],
            delivery_points: vec![point("a", "USF Centro"), point("z", "Otro")],
        };
        let route = s.route();
        assert_eq!(route.len(), 1, "the household lacks nothing: left out");
        assert_eq!(route[0].person, Some(7));
        let names: Vec<_> = route[0].services.iter().map(|m| m.name.clone()).collect();
        assert_eq!(names, vec![Some("A".into()), Some("B".into())]);
        assert_eq!(route[0].services[0].places, vec!["USF Centro · Calle 1"]);
        assert!(route[0].services[1].places.is_empty());
    }
}
