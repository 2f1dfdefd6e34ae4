//! DCI search: the three query types (`idtype-value`, `expression`, `predicate`) become the
//! store's filters; members become DCI records with the fields the sender may see; a search
//! message answers each of its requests, paged, and every disclosure is audited (by
//! `vamos_app::dci::search`, which runs them).

use super::*;

// ---------------------------------------------------------------- queries

/// A query value as a bound parameter of `col`: integers for id columns, ISO dates, and DCI's
/// `male`/`female` as the registry's `hombre`/`mujer`.
pub(super) fn db_value(col: PersonColumn, v: &Value) -> Result<vamos_store::sql::Param, String> {
    if col.is_integer() {
        return match v {
            Value::Number(n) => n
                .as_i64()
                .map(Into::into)
                .ok_or_else(|| format!("{n} no es un número entero")),
            Value::String(s) => {
                s.trim().parse::<i64>().map(Into::into).map_err(|_| {
                    format!("«{}» no es un número entero", vamos_domain::limits::echo(s))
                })
            }
            other => Err(format!(
                "{} no es un número entero",
                vamos_domain::limits::echo(&other.to_string())
            )),
        };
    }
    let text = match v {
        Value::String(s) => s.trim().to_string(),
        Value::Number(n) => n.to_string(),
        other => {
            return Err(format!(
                "{} no es un texto",
                vamos_domain::limits::echo(&other.to_string())
            ))
        }
    };
    if col == PersonColumn::Sex {
        return match text.to_lowercase().as_str() {
            "male" | "m" | "hombre" => Ok("hombre".into()),
            "female" | "f" | "mujer" => Ok("mujer".into()),
            _ => Err(format!(
                "sexo «{}» desconocido: use male o female",
                vamos_domain::limits::echo(&text)
            )),
        };
    }
    if col == PersonColumn::BirthDate {
        // A date-time is compared by its date part.
        let day = text.get(..10).unwrap_or(&text);
        if chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d").is_err() {
            return Err(format!(
                "fecha «{}» inválida: use AAAA-MM-DD",
                vamos_domain::limits::echo(&text)
            ));
        }
        return Ok(day.into());
    }
    Ok(text.into())
}

/// An attribute of a query: a column, or a derived one.
pub(super) enum Attr {
    Col(PersonColumn),
    /// Year of birth.
    Yob,
    /// Department code (its districts).
    Department,
}

/// The queryable attributes (names compared case-insensitively).
pub const ATTRIBUTES: &[(&str, &str)] = &[
    ("UIN, id", "número SIIS de la persona"),
    (
        "NationalID, national_id, CI, NID, cedula",
        "cédula de identidad",
    ),
    ("household_id, group_id", "número SIIS del hogar"),
    (
        "district_code, district, location",
        "distrito (código INE DDdd)",
    ),
    (
        "department_code, department",
        "departamento (código INE DD)",
    ),
    (
        "given_name, given_names",
        "nombres (eq: igual; contains: contiene)",
    ),
    ("surname, family_names", "apellidos"),
    ("birth_date, DOB", "fecha de nacimiento AAAA-MM-DD"),
    ("YOB", "año de nacimiento"),
    ("sex", "male o female"),
];

pub(super) fn attr(name: &str) -> Option<Attr> {
    Some(match name.trim().to_lowercase().as_str() {
        "uin" | "id" | "siis_id" => Attr::Col(PersonColumn::Id),
        "nationalid" | "national_id" | "ci" | "nid" | "cedula" => {
            Attr::Col(PersonColumn::NationalId)
        }
        "household_id" | "group_id" | "groupid" => Attr::Col(PersonColumn::HouseholdId),
        "district_code" | "district" | "location" => Attr::Col(PersonColumn::District),
        "department_code" | "department" => Attr::Department,
        "given_name" | "given_names" => Attr::Col(PersonColumn::GivenNames),
        "surname" | "family_names" | "family_name" => Attr::Col(PersonColumn::FamilyNames),
        "birth_date" | "dob" => Attr::Col(PersonColumn::BirthDate),
        "yob" => Attr::Yob,
        "sex" | "gender" => Attr::Col(PersonColumn::Sex),
        _ => return None,
    })
}

/// One comparison of a query.
pub(super) fn condition(name: &str, op: &str, value: &Value) -> Result<Filter, String> {
    let a = attr(name).ok_or_else(|| {
        format!(
            "atributo «{}» desconocido; admitidos: {}",
            vamos_domain::limits::echo(name),
            ATTRIBUTES
                .iter()
                .map(|(n, _)| *n)
                .collect::<Vec<_>>()
                .join("; ")
        )
    })?;
    let op = match op.trim_start_matches('$').to_lowercase().as_str() {
        "eq" => Op::Eq,
        "lt" => Op::Lt,
        "le" | "lte" => Op::Le,
        "gt" => Op::Gt,
        "ge" | "gte" => Op::Ge,
        "contains" | "like" => Op::Contains,
        "in" => {
            // A list, or (as the standard's attribute_value cannot be an array) a text of
            // comma-separated values.
            let items: Vec<Value> = match value {
                Value::Array(items) => items.clone(),
                Value::String(t) => t
                    .split(',')
                    .map(|x| Value::String(x.trim().into()))
                    .collect(),
                _ => {
                    return Err(format!(
                        "«in» de {name} necesita una lista o valores separados por comas"
                    ))
                }
            };
            if items.len() > MAX_COMPARISONS {
                return Err(format!(
                    "una lista «in» admite hasta {MAX_COMPARISONS} valores"
                ));
            }
            return Ok(Filter::Or(
                items
                    .iter()
                    .map(|v| condition(name, "eq", v))
                    .collect::<Result<_, _>>()?,
            ));
        }
        other => {
            return Err(format!(
                "operador «{}» desconocido",
                vamos_domain::limits::echo(other)
            ))
        }
    };
    match a {
        Attr::Col(c) => {
            if op == Op::Contains && c.is_integer() {
                return Err(format!("«contains» no aplica a {name}"));
            }
            if op == Op::Eq && is_identifier(c) && identifier_matches_none(value) {
                // Identifier values are text in the standard: one that is not a number of
                // this registry names nobody here — a search with no result, not a fault.
                return Ok(Filter::In(c, Vec::new()));
            }
            Ok(Filter::Cmp(c, op, db_value(c, value)?))
        }
        Attr::Yob | Attr::Department => {
            let n = match value {
                Value::Number(n) => n.as_i64(),
                Value::String(s) => s.trim().parse().ok(),
                _ => None,
            }
            .ok_or_else(|| {
                format!(
                    "{name}: {} no es un número",
                    vamos_domain::limits::echo(&value.to_string())
                )
            })?;
            // A year or a department code: anything else matches nobody, and must not
            // overflow when made a range of districts.
            let n = n.clamp(-1, 9999);
            let (col, lo, hi): (
                PersonColumn,
                vamos_store::sql::Param,
                vamos_store::sql::Param,
            ) = match a {
                Attr::Yob => (
                    PersonColumn::BirthDate,
                    format!("{n:04}-01-01").into(),
                    format!("{n:04}-12-31").into(),
                ),
                _ => (
                    PersonColumn::District,
                    (n * 100).into(),
                    (n * 100 + 99).into(),
                ),
            };
            Ok(match op {
                Op::Eq => Filter::And(vec![
                    Filter::Cmp(col, Op::Ge, lo),
                    Filter::Cmp(col, Op::Le, hi),
                ]),
                Op::Lt => Filter::Cmp(col, Op::Lt, lo),
                Op::Ge => Filter::Cmp(col, Op::Ge, lo),
                Op::Gt => Filter::Cmp(col, Op::Gt, hi),
                Op::Le => Filter::Cmp(col, Op::Le, hi),
                Op::Contains => return Err(format!("«contains» no aplica a {name}")),
            })
        }
    }
}

/// Whether `col` holds an identifier (a person's, a household's, a cédula), whose values the
/// standard gives as text.
fn is_identifier(col: PersonColumn) -> bool {
    matches!(
        col,
        PersonColumn::Id | PersonColumn::HouseholdId | PersonColumn::NationalId
    )
}

/// Whether an identifier `value` given as text can match no row: the registry numbers its
/// identifiers, so a text that is not a whole number (`"ABC-123"`, a passport number) names
/// nobody.
fn identifier_matches_none(value: &Value) -> bool {
    value
        .as_str()
        .is_some_and(|s| s.trim().parse::<i64>().is_err())
}

/// Nesting limit of expressions.
pub(super) const MAX_DEPTH: usize = 8;

/// A MongoDB-style expression: `{"$and": [...]}`, `{"$or": [...]}`, `{"$not": {...}}`,
/// `{"attr": {"$lt": 5}}`, `{"attr": "value"}` (equality).
pub(super) fn expression(v: &Value, depth: usize) -> Result<Filter, String> {
    if depth > MAX_DEPTH {
        return Err("expresión demasiado anidada".into());
    }
    let Value::Object(m) = v else {
        return Err("cada expresión debe ser un objeto".into());
    };
    if m.is_empty() {
        return Err("expresión vacía".into());
    }
    let mut parts = Vec::new();
    for (k, x) in m {
        let f = match k.as_str() {
            "$and" | "$or" => {
                let Value::Array(items) = x else {
                    return Err(format!("{k} necesita una lista"));
                };
                let fs = items
                    .iter()
                    .map(|i| expression(i, depth + 1))
                    .collect::<Result<Vec<_>, _>>()?;
                if k == "$and" {
                    Filter::And(fs)
                } else {
                    Filter::Or(fs)
                }
            }
            "$not" => Filter::Not(Box::new(expression(x, depth + 1)?)),
            name => match x {
                Value::Object(ops) if ops.keys().all(|o| o.starts_with('$')) && !ops.is_empty() => {
                    all_of(
                        ops.iter()
                            .map(|(o, val)| condition(name, o, val))
                            .collect::<Result<_, _>>()?,
                    )
                }
                other => condition(name, "eq", other)?,
            },
        };
        parts.push(f);
    }
    Ok(all_of(parts))
}

/// AND of `parts` (the part itself when there is one).
pub(super) fn all_of(mut parts: Vec<Filter>) -> Filter {
    if parts.len() == 1 {
        if let Some(f) = parts.pop() {
            return f;
        }
    }
    Filter::And(parts)
}

/// The standard's predicate list: items in `seq_num` order, each
/// `expression1 [condition expression2]`, all items combined with AND
/// (`not`: expression1 AND NOT expression2).
pub(super) fn predicate(v: &Value) -> Result<Filter, String> {
    let Value::Array(items) = v else {
        return Err("predicate necesita una lista de expresiones".into());
    };
    if items.is_empty() || items.len() > 50 {
        return Err("predicate admite de 1 a 50 expresiones".into());
    }
    let mut sorted: Vec<&Value> = items.iter().collect();
    sorted.sort_by(|a, b| {
        let n = |v: &Value| v.get("seq_num").and_then(Value::as_f64).unwrap_or(0.0);
        n(a).total_cmp(&n(b))
    });
    let one = |e: Option<&Value>| -> Result<Filter, String> {
        let e = e
            .and_then(Value::as_object)
            .ok_or("falta expression1 (objeto)")?;
        let name = e
            .get("attribute_name")
            .and_then(Value::as_str)
            .ok_or("falta attribute_name")?;
        let op = e
            .get("operator")
            .and_then(Value::as_str)
            .ok_or("falta operator")?;
        let value = e.get("attribute_value").ok_or("falta attribute_value")?;
        condition(name, op, value)
    };
    let mut all = Vec::new();
    for it in sorted {
        let first = one(it.get("expression1"))?;
        let cond = it.get("condition").and_then(Value::as_str);
        let second = match it.get("expression2") {
            Some(Value::Null) | None => None,
            Some(e) => Some(one(Some(e))?),
        };
        all.push(match (cond, second) {
            (None, None) => first,
            (Some("not"), None) => Filter::Not(Box::new(first)),
            (Some("and") | None, Some(s)) => Filter::And(vec![first, s]),
            (Some("or"), Some(s)) => Filter::Or(vec![first, s]),
            (Some("not"), Some(s)) => Filter::And(vec![first, Filter::Not(Box::new(s))]),
            (Some(c), _) => {
                return Err(format!(
                    "condition «{}» desconocida: and, or o not",
                    vamos_domain::limits::echo(c)
                ))
            }
        });
    }
    Ok(Filter::And(all))
}

/// Comparisons a query may make in all (each value of an `in` list is one): every one is a
/// bound parameter and a term of the search's SQL, whose parameters and expression depth the
/// databases cap (SQLite: an expression at most 1000 deep, and `a OR b OR …` nests).
pub(super) const MAX_COMPARISONS: usize = 500;

/// How many comparisons `f` makes.
fn comparisons(f: &Filter) -> usize {
    match f {
        Filter::Cmp(..) => 1,
        Filter::In(_, values) => values.len(),
        Filter::And(fs) | Filter::Or(fs) => fs.iter().map(comparisons).sum(),
        Filter::Not(f) => comparisons(f),
    }
}

/// A query or filter of one of the standard's types, as a filter over persons; refused when
/// it makes more than [`MAX_COMPARISONS`] comparisons.
pub fn parse_query(query_type: &str, query: &Value) -> Result<Filter, String> {
    let f = parse_query_unbounded(query_type, query)?;
    if comparisons(&f) > MAX_COMPARISONS {
        return Err(format!(
            "consulta demasiado grande: admite hasta {MAX_COMPARISONS} comparaciones"
        ));
    }
    Ok(f)
}

fn parse_query_unbounded(query_type: &str, query: &Value) -> Result<Filter, String> {
    match query_type.rsplit(':').next().unwrap_or(query_type) {
        "idtype-value" => {
            let t = query
                .get("type")
                .and_then(Value::as_str)
                .ok_or("idtype-value necesita type")?;
            let v = query.get("value").ok_or("idtype-value necesita value")?;
            condition(t, "eq", v)
        }
        "expression" => {
            // {type, value: {expression: {collection, query}}} or {expression: …} or the query.
            let e = query
                .get("value")
                .and_then(|v| v.get("expression"))
                .or_else(|| query.get("expression"))
                .unwrap_or(query);
            if let Some(c) = e.get("collection").and_then(Value::as_str) {
                if !matches!(c.to_lowercase().as_str(), "member" | "person" | "persons") {
                    return Err(format!(
                        "colección «{}» no admitida: use Member",
                        vamos_domain::limits::echo(c)
                    ));
                }
            }
            expression(e.get("query").unwrap_or(e), 0)
        }
        "predicate" => predicate(query),
        other => Err(format!(
            "query_type «{}» no admitido: idtype-value, expression o predicate",
            vamos_domain::limits::echo(other)
        )),
    }
}

// ---------------------------------------------------------------- records

/// A person row as a DCI `Member` record, with only the fields `fields` allows.
pub fn member_record(row: Map<String, Value>, fields: &Option<BTreeSet<String>>) -> Value {
    let row = filter_person(row, fields);
    let s = |k: &str| row.get(k).filter(|v| !v.is_null());
    let mut rec = Map::new();
    rec.insert("@type".into(), "Member".into());
    if let Some(id) = s("id") {
        rec.insert(
            "member_identifier".into(),
            json!([{"@type": "Identifier", "identifier_type": "UIN", "identifier_value": id.to_string()}]),
        );
    }
    let mut demo = Map::new();
    demo.insert("@type".into(), "SRPerson".into());
    if let Some(c) = s("national_id") {
        demo.insert(
            "identifier".into(),
            json!([{"@type": "Identifier", "identifier_type": "NationalID", "identifier_value": c.to_string()}]),
        );
    }
    if s("given_names").is_some() || s("family_names").is_some() {
        let mut name = Map::new();
        name.insert("@type".into(), "Name".into());
        if let Some(v) = s("given_names") {
            name.insert("given_name".into(), v.clone());
        }
        if let Some(v) = s("family_names") {
            name.insert("surname".into(), v.clone());
        }
        demo.insert("name".into(), Value::Object(name));
    }
    if let Some(v) = s("sex").and_then(Value::as_str) {
        demo.insert(
            "sex".into(),
            match v {
                "hombre" => "male",
                "mujer" => "female",
                other => other,
            }
            .into(),
        );
    }
    if let Some(v) = s("birth_date") {
        demo.insert("birth_date".into(), v.clone());
    }
    if let Some(d) = s("district_code").and_then(Value::as_i64) {
        demo.insert(
            "address".into(),
            json!({"@type": "Address", "region": format!("{:02}", d / 100), "city": format!("{d:04}"), "country": "PY"}),
        );
    }
    rec.insert("demographic_info".into(), Value::Object(demo));
    if let Some(h) = s("household_id") {
        rec.insert(
            "group_identifier".into(),
            json!([{"@type": "Identifier", "identifier_type": "HouseholdID", "identifier_value": h.to_string()}]),
        );
    }
    const MAPPED: &[&str] = &[
        "id",
        "national_id",
        "given_names",
        "family_names",
        "sex",
        "birth_date",
        "district_code",
        "household_id",
    ];
    let extra: Vec<Value> = row
        .iter()
        .filter(|(k, v)| !MAPPED.contains(&k.as_str()) && !v.is_null())
        .map(|(k, v)| json!({"name": k, "value": v}))
        .collect();
    if !extra.is_empty() {
        rec.insert("additional_attributes".into(), Value::Array(extra));
    }
    Value::Object(rec)
}

pub(super) type Outcome = (Value, Value, String);

/// What one request of a search message became: its rejection, or a search to run.
enum Asked {
    Rejected(Value),
    Search(String, app::Search),
}

/// Reads one request of a search message (criteria, query, sort, pagination) into a search,
/// or the item that rejects it; a consent's or authorisation's purpose replaces `purpose`.
fn read_search(it: &Value, purpose: &mut String) -> Asked {
    let rid = match request_reference(it) {
        Ok(r) => r,
        Err(rejection) => return Asked::Rejected(rejection),
    };
    let reject = |code: &str, why: &str| Asked::Rejected(rejected(rid, code, why));
    let Some(c) = it.get("search_criteria").and_then(Value::as_object) else {
        return reject("rjct.search_criteria.invalid", "falta search_criteria");
    };
    if let Some(t) = c
        .get("consent")
        .or_else(|| c.get("authorize"))
        .and_then(|x| x.get("purpose"))
        .and_then(|x| x.get("text"))
        .and_then(Value::as_str)
    {
        *purpose = format!("búsqueda DCI: {}", t.chars().take(150).collect::<String>());
    }
    let entity = c
        .get("response_entity")
        .or_else(|| c.get("reg_record_type"))
        .and_then(Value::as_str)
        .unwrap_or("Member");
    if !matches!(
        entity.rsplit(':').next(),
        Some("Member" | "SRPerson" | "Person")
    ) {
        return reject(
            "rjct.search_criteria.invalid",
            &format!(
                "response_entity «{}» no admitido: este registro responde Member",
                vamos_domain::limits::echo(entity)
            ),
        );
    }
    let (Some(qt), Some(q)) = (c.get("query_type").and_then(Value::as_str), c.get("query")) else {
        return reject("rjct.search_criteria.invalid", "faltan query_type y query");
    };
    let filter = match parse_query(qt, q) {
        Ok(f) => f,
        Err(e) => {
            let code = if qt.ends_with("idtype-value")
                || qt.ends_with("expression")
                || qt.ends_with("predicate")
            {
                "rjct.filter.invalid"
            } else {
                "rjct.search_criteria.invalid"
            };
            return reject(code, &e);
        }
    };
    let sort = match read_sort(c) {
        Ok(s) => s,
        Err(e) => return reject("rjct.sort.invalid", &e),
    };
    match read_pagination(c.get("pagination")) {
        Ok((size, number)) => Asked::Search(
            rid.to_string(),
            app::Search {
                reference_id: rid.to_string(),
                query_type: qt.rsplit(':').next().unwrap_or(qt).to_string(),
                filter,
                sort,
                size,
                number,
            },
        ),
        Err(e) => reject("rjct.pagination.invalid", &e),
    }
}

/// The columns a search is ordered by (descending when `true`), or why they cannot be.
fn read_sort(c: &Map<String, Value>) -> Result<Vec<(PersonColumn, bool)>, String> {
    let mut sort = Vec::new();
    for x in c
        .get("sort")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let name = x
            .get("attribute_name")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let desc = match x.get("sort_order").and_then(Value::as_str) {
            None | Some("asc") => false,
            Some("desc") => true,
            Some(o) => {
                return Err(format!(
                    "sort_order «{}»: use asc o desc",
                    vamos_domain::limits::echo(o)
                ))
            }
        };
        match attr(name) {
            Some(Attr::Col(col)) => sort.push((col, desc)),
            _ => {
                return Err(format!(
                    "no se puede ordenar por «{}»",
                    vamos_domain::limits::echo(name)
                ))
            }
        }
    }
    Ok(sort)
}

/// The page size and number asked for (100 and 1 by default), or why they cannot be.
fn read_pagination(pg: Option<&Value>) -> Result<(i64, i64), String> {
    let size = pg.and_then(|x| x.get("page_size")).map(|v| v.as_f64());
    let number = pg.and_then(|x| x.get("page_number")).map(|v| v.as_f64());
    let size = match size {
        None => Some(100.0),
        Some(v) => v,
    };
    let number = match number {
        None => Some(1.0),
        Some(v) => v,
    };
    let (Some(size), Some(number)) = (size, number) else {
        return Err("page_size y page_number deben ser números".into());
    };
    if size.fract() != 0.0
        || number.fract() != 0.0
        || !(1.0..=MAX_PAGE_SIZE as f64).contains(&size)
        || !(1.0..=1.0e6).contains(&number)
    {
        return Err(format!(
            "page_size de 1 a {MAX_PAGE_SIZE} y page_number desde 1"
        ));
    }
    Ok((size as i64, number as i64))
}

/// A search message: each request read, the valid ones run by `vamos_app::dci::search` (which
/// audits the disclosure), each answered in order — its page of `Member` records with the
/// fields the sender may see, or its rejection.
pub(super) fn search(
    s: &mut dyn Store,
    p: &Principal,
    message: &Value,
    cid: &str,
) -> Result<Outcome, ApiError> {
    let mut purpose = String::from("búsqueda DCI");
    let asked: Vec<Asked> = message["search_request"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|it| read_search(it, &mut purpose))
        .collect();
    let searches: Vec<app::Search> = asked
        .iter()
        .filter_map(|a| match a {
            Asked::Search(_, q) => Some(q.clone()),
            Asked::Rejected(_) => None,
        })
        .collect();
    let (fields, pages) = app::search(s, &p.as_actor(), &searches, &purpose, cid)?;
    let mut pages = searches.iter().zip(pages);
    let mut items = Vec::with_capacity(asked.len());
    for a in asked {
        let rid = match a {
            Asked::Rejected(item) => {
                items.push(item);
                continue;
            }
            Asked::Search(rid, _) => rid,
        };
        let Some((q, found)) = pages.next() else {
            break;
        };
        let found = match found {
            Ok(f) => f,
            Err(refused) => {
                items.push(rejected(&rid, refused.code, &refused.message));
                continue;
            }
        };
        let records: Vec<Value> = found
            .rows
            .into_iter()
            .map(|r| member_record(r, &fields))
            .collect();
        items.push(json!({
            "reference_id": rid,
            "timestamp": now_ts(),
            "status": "succ",
            "data": {
                "version": VERSION,
                "reg_type": REG_TYPE,
                "reg_record_type": "Member",
                "reg_records": records,
            },
            "pagination": {"page_size": q.size, "page_number": q.number, "total_count": found.total},
            "locale": "spa",
        }));
    }
    let status = overall(&items);
    let summary = summarise(&items);
    Ok((
        json!({
            "transaction_id": message["transaction_id"],
            "correlation_id": cid,
            "search_response": items,
        }),
        summary,
        status,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_query_of_more_than_the_maximum_comparisons_is_refused() {
        let or = |n: usize| json!({"$or": (0..n).map(|i| json!({"UIN": {"$in": [i]}})).collect::<Vec<_>>()});
        assert!(parse_query("expression", &or(MAX_COMPARISONS)).is_ok());
        let e = parse_query("expression", &or(MAX_COMPARISONS + 1)).unwrap_err();
        assert!(e.starts_with("consulta demasiado grande"), "{e}");
        let lists: Vec<Value> = (0..2)
            .map(|_| json!({"expression1": {"attribute_name": "UIN", "operator": "in", "attribute_value": (0..300).collect::<Vec<_>>()}}))
            .collect();
        assert!(parse_query("predicate", &json!(lists)).is_err());
    }

    #[test]
    fn queries_of_the_three_types_become_filters() {
        let f = parse_query("idtype-value", &json!({"type": "UIN", "value": "42"})).unwrap();
        assert_eq!(f, Filter::Cmp(PersonColumn::Id, Op::Eq, 42i64.into()));
        let f = parse_query(
            "idtype-value",
            &json!({"type": "NationalID", "value": 1234567}),
        )
        .unwrap();
        assert_eq!(
            f,
            Filter::Cmp(PersonColumn::NationalId, Op::Eq, 1234567i64.into())
        );
        assert!(parse_query("idtype-value", &json!({"type": "pasaporte", "value": "1"})).is_err());
        let f = parse_query(
            "expression",
            &json!({"type": "ns:org:QueryType:expression", "value": {"expression": {"collection": "Member", "query": {"$and": [{"district_code": {"$eq": 1116}}, {"sex": "female"}]}}}}),
        )
        .unwrap();
        assert_eq!(
            f,
            Filter::And(vec![
                Filter::Cmp(PersonColumn::District, Op::Eq, 1116i64.into()),
                Filter::Cmp(PersonColumn::Sex, Op::Eq, "mujer".into()),
            ])
        );
        let f = parse_query(
            "predicate",
            &json!([
                {"seq_num": 2, "expression1": {"attribute_name": "YOB", "operator": "ge", "attribute_value": 2000}},
                {"seq_num": 1, "expression1": {"attribute_name": "district", "operator": "in", "attribute_value": [1116, 607]}, "condition": "not", "expression2": {"attribute_name": "sex", "operator": "eq", "attribute_value": "male"}},
            ]),
        )
        .unwrap();
        let Filter::And(parts) = f else { panic!("and") };
        assert_eq!(parts.len(), 2);
        assert!(matches!(&parts[0], Filter::And(x) if matches!(x[1], Filter::Not(_))));
        assert_eq!(
            parts[1],
            Filter::Cmp(PersonColumn::BirthDate, Op::Ge, "2000-01-01".into())
        );
        for bad in [
            json!({"nope": {"$eq": 1}}),
            json!({"id": {"$regex": "x"}}),
            json!({"birth_date": "31/12/2000"}),
            json!({"id": {"$lt": "abc"}}),
        ] {
            assert!(parse_query("expression", &bad).is_err(), "{bad}");
        }
        assert!(parse_query("graphql", &json!({})).is_err());
    }

    #[test]
    fn dci_a_non_numeric_identifier_is_a_filter_matching_nobody() {
        for (t, v) in [
            ("UIN", json!("abc")),
            ("NationalID", json!("A-123")),
            ("household_id", json!("")),
            ("UIN", json!("99999999999999999999999")),
        ] {
            let f = parse_query("idtype-value", &json!({"type": t, "value": v})).unwrap();
            assert!(
                matches!(&f, Filter::In(_, values) if values.is_empty()),
                "{t} {v}: {f:?}"
            );
        }
        let f = parse_query("expression", &json!({"id": {"$in": ["7", "x"]}})).unwrap();
        assert_eq!(
            f,
            Filter::Or(vec![
                Filter::Cmp(PersonColumn::Id, Op::Eq, 7i64.into()),
                Filter::In(PersonColumn::Id, Vec::new()),
            ])
        );
        // Order comparisons and other attributes still need a value of their kind.
        assert!(parse_query("expression", &json!({"UIN": {"$gt": "abc"}})).is_err());
        assert!(parse_query("expression", &json!({"district_code": "abc"})).is_err());
    }

    #[test]
    fn member_records_keep_only_agreed_fields() {
        let row: Map<String, Value> = serde_json::from_value(json!({
            "id": 7, "household_id": 3, "district_code": 1116, "given_names": "Ana", "family_names": "Benítez",
            "national_id": 1234567, "birth_date": "1990-05-01", "sex": "mujer", "embarazada": "si"
        }))
        .unwrap();
        let all = member_record(row.clone(), &None);
        assert_eq!(all["demographic_info"]["sex"], "female");
        assert_eq!(
            all["demographic_info"]["identifier"][0]["identifier_value"],
            "1234567"
        );
        assert_eq!(all["additional_attributes"][0]["name"], "embarazada");
        let some: BTreeSet<String> = ["id", "given_names"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let r = member_record(row, &Some(some));
        let text = r.to_string();
        assert!(
            text.contains("Ana")
                && !text.contains("Benítez")
                && !text.contains("1234567")
                && !text.contains("embarazada"),
            "{text}"
        );
    }
}
