//! DCI subscriptions: subscribe and unsubscribe, and the notifications of new registrations
//! sent to each subscriber's callback on behalf of its account — the messages read and
//! answered here, the subscriptions kept and audited by `vamos_app::dci`.

use super::*;

/// Event types a subscription may watch.
pub(super) fn event_type(t: &str) -> Option<&'static str> {
    match t.rsplit(':').next().unwrap_or(t) {
        "REGISTER" | "Register" | "register" => Some("REGISTER"),
        "NewHouseHoldMember" | "NewHouseholdMember" => Some("NewHouseHoldMember"),
        _ => None,
    }
}

/// The type of a `filter` sent without `filter_type`, from its form (the standard's three):
/// a list is a predicate; `{type, value}` naming an identifier type (`{"type": "UIN",
/// "value": "123"}`) is an identifier and value; anything else, `{type: QueryType, value:
/// {expression}}` included, an expression.
pub(super) fn filter_type_of(filter: &Value) -> &'static str {
    if filter.is_array() {
        return "predicate";
    }
    let names_a_query_type = |t: &str| {
        matches!(
            t.rsplit(':').next(),
            Some("expression" | "idtype-value" | "predicate" | "graphql")
        )
    };
    match (
        filter.get("type").and_then(Value::as_str),
        filter.get("value"),
    ) {
        (Some(t), Some(v)) if !names_a_query_type(t) && !v.is_object() => "idtype-value",
        _ => "expression",
    }
}

/// `Ok` when every text of `v` (values and keys, at any depth) fits
/// [`vamos_domain::limits::PLACE`].
fn longest_text_fits(v: &Value) -> Result<(), vamos_domain::limits::TooLong> {
    let place = vamos_domain::limits::Limit::Place;
    match v {
        Value::String(s) => place.check(s),
        Value::Array(a) => a.iter().try_for_each(longest_text_fits),
        Value::Object(o) => o.iter().try_for_each(|(k, x)| {
            place.check(k)?;
            longest_text_fits(x)
        }),
        _ => Ok(()),
    }
}

/// One request of a subscribe message read: the subscription to make and the answer's
/// `filter` as sent, or the item that rejects it.
fn read_subscription(it: &Value) -> Result<(app::SubscribeRequest, Value), Value> {
    let rid = request_reference(it)?;
    let c = it.get("subscribe_criteria").cloned().unwrap_or(Value::Null);
    let Some(ev) = c
        .get("reg_event_type")
        .and_then(Value::as_str)
        .and_then(event_type)
    else {
        return Err(rejected(
            rid,
            "rjct.notify_types.invalid",
            "reg_event_type debe ser REGISTER o NewHouseHoldMember",
        ));
    };
    let filter = c.get("filter").cloned().unwrap_or(Value::Null);
    let ft = c
        .get("filter_type")
        .and_then(Value::as_str)
        .unwrap_or_else(|| filter_type_of(&filter));
    let parsed = match parse_query(ft, &filter) {
        Ok(f) => f,
        Err(e) => return Err(rejected(rid, "rjct.notify_details.invalid", &e)),
    };
    let record_type = c
        .get("notify_record_type")
        .and_then(Value::as_str)
        .unwrap_or("Member");
    if !matches!(
        record_type.rsplit(':').next(),
        Some("Member" | "SRPerson" | "Person")
    ) {
        return Err(rejected(
            rid,
            "rjct.notify_details.invalid",
            "notify_record_type: este registro notifica Member",
        ));
    }
    // The filter is stored with the subscription: each value it compares is a name, a code
    // or a place, so none may be longer than a place (the number of comparisons is bounded
    // by `parse_query`); one 10 MB name in it is refused, not stored.
    if let Err(e) = longest_text_fits(&filter) {
        return Err(rejected(
            rid,
            "rjct.notify_details.invalid",
            &format!("filter: {e}"),
        ));
    }
    let request = app::SubscribeRequest {
        reference_id: rid.to_string(),
        event_type: ev,
        filter_type: ft.to_string(),
        filter: canonical_json(&filter),
        parsed,
    };
    Ok((request, filter))
}

/// A subscribe message: each request read, the valid ones made by
/// `vamos_app::dci::subscribe` (which audits them), each answered in order.
pub(super) fn subscribe(
    s: &mut dyn Store,
    p: &Principal,
    sender: &Sender,
    message: &Value,
    cid: &str,
) -> Result<Outcome, ApiError> {
    let read: Vec<Result<(app::SubscribeRequest, Value), Value>> = message["subscribe_request"]
        .as_array()
        .into_iter()
        .flatten()
        .map(read_subscription)
        .collect();
    let requests: Vec<app::SubscribeRequest> = read
        .iter()
        .filter_map(|r| r.as_ref().ok().map(|(q, _)| q.clone()))
        .collect();
    let transaction_id = message["transaction_id"].as_str().unwrap_or_default();
    let made = app::subscribe(s, &p.as_actor(), sender, transaction_id, &requests, cid)?;
    let mut made = made.into_iter();
    let mut items = Vec::with_capacity(read.len());
    for r in read {
        let (q, filter) = match r {
            Ok(x) => x,
            Err(rejection) => {
                items.push(rejection);
                continue;
            }
        };
        match made.next() {
            Some(app::Subscribed::New { code, at }) => items.push(json!({
                "reference_id": q.reference_id,
                "timestamp": at,
                "status": "succ",
                "subscriptions": [{
                    "version": VERSION,
                    "code": code,
                    "status": "subscribe",
                    "timestamp": at,
                    "reg_type": REG_TYPE,
                    "reg_event_type": q.event_type,
                    "filter_type": q.filter_type,
                    "filter": filter,
                    "notify_record_type": "Member",
                }],
                "locale": "spa",
            })),
            Some(app::Subscribed::AlreadySubscribed) => items.push(rejected(
                &q.reference_id,
                "rjct.event.already_subscribed",
                "ya existe una suscripción igual de este emisor",
            )),
            Some(app::Subscribed::HiddenField(why)) => items.push(rejected(
                &q.reference_id,
                "rjct.notify_details.invalid",
                &why,
            )),
            None => break,
        }
    }
    let status = overall(&items);
    let summary = summarise(&items);
    Ok((
        json!({"transaction_id": message["transaction_id"], "correlation_id": cid, "subscribe_response": items}),
        summary,
        status,
    ))
}

/// An unsubscribe message: the codes cancelled by `vamos_app::dci::unsubscribe` (which audits
/// them), and the first problem met, if any, as the answer's reason.
pub(super) fn unsubscribe(
    s: &mut dyn Store,
    p: &Principal,
    sender: &Sender,
    message: &Value,
    cid: &str,
) -> Result<Outcome, ApiError> {
    let codes: Vec<&str> = message["subscription_codes"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| c.as_str().unwrap_or_default())
        .collect();
    let results = app::unsubscribe(s, &p.as_actor(), &sender.sender_id, &codes, cid)?;
    let mut statuses = Vec::new();
    let mut problem: Option<(&str, String)> = None;
    for (code, r) in codes.iter().zip(results) {
        match r {
            app::Unsubscribed::Unknown => {
                problem.get_or_insert((
                    "rjct.subscription_code.invalid",
                    format!("código «{}» inexistente", vamos_domain::limits::echo(code)),
                ));
            }
            app::Unsubscribed::OtherSender => {
                problem.get_or_insert((
                    "rjct.requester.invalid",
                    format!(
                        "la suscripción «{}» es de otro emisor",
                        vamos_domain::limits::echo(code)
                    ),
                ));
            }
            app::Unsubscribed::AlreadyCancelled => {
                problem.get_or_insert((
                    "rjct.event.already_unsubscribed",
                    format!(
                        "la suscripción «{}» ya estaba cancelada",
                        vamos_domain::limits::echo(code)
                    ),
                ));
                statuses.push(json!({"code": code, "status": "unsubscribe"}));
            }
            app::Unsubscribed::Cancelled => {
                statuses.push(json!({"code": code, "status": "unsubscribe"}));
            }
        }
    }
    let mut msg = json!({
        "transaction_id": message["transaction_id"],
        "correlation_id": cid,
        "timestamp": now_ts(),
        "status": if problem.is_some() { "rjct" } else { "succ" },
        "subscription_status": statuses,
    });
    if let (Some((code, why)), Some(o)) = (&problem, msg.as_object_mut()) {
        o.insert("status_reason_code".into(), (*code).into());
        o.insert("status_reason_message".into(), why.clone().into());
    }
    let status = msg
        .get("status")
        .and_then(Value::as_str)
        .unwrap_or("succ")
        .to_string();
    let summary = json!([{"reference_id": message["transaction_id"], "timestamp": now_ts(), "status": status}]);
    Ok((msg, summary, status))
}

// ---------------------------------------------------------------- notifications

/// Most records in one notification.
pub(super) const NOTIFY_BATCH: i64 = 500;

/// One pending notification: the subscription, its records and the watermarks to move to.
pub(super) struct Pending {
    pub(super) sub: Subscription,
    pub(super) callback: String,
    /// The subscription's account, as which it is sent and audited.
    pub(super) actor: vamos_app::Actor,
    pub(super) ids: Vec<String>,
    pub(super) records: Vec<Value>,
    pub(super) marks: (i64, i64),
}

/// Finds new registrations for every active subscription and POSTs them to the subscribers'
/// `/registry/notify`; watermarks move only after a 2xx answer, so nothing is lost while a
/// subscriber is down. Returns how many records were delivered.
pub async fn notify_once(st: &AppState) -> Result<usize, String> {
    let pending = st
        .pool
        .run(collect_notifications)
        .await
        .map_err(|e| e.message)?;
    let mut delivered = 0;
    for p in pending {
        let events: Vec<Value> = p
            .records
            .iter()
            .map(|r| {
                json!({
                    "reference_id": p.sub.reference_id,
                    "timestamp": now_ts(),
                    "data": {
                        "version": VERSION,
                        "reg_type": REG_TYPE,
                        "reg_event_type": p.sub.reg_event_type,
                        "reg_record_type": "Member",
                        "reg_records": r,
                    },
                    "locale": "spa",
                })
            })
            .collect();
        let n = events.len();
        let msg = json!({"transaction_id": p.sub.transaction_id, "notify_event": events});
        let h = answer_header(st, "notify", "succ", None, &p.sub.sender_id, n)
            .map_err(|e| e.message)?;
        let result = post_json(p.callback.clone(), envelope(st, h, Some(msg))).await;
        let ok = result.is_ok();
        let outcome = match &result {
            Ok(code) => format!("ok: {n} registros entregados (HTTP {code})"),
            Err(e) => format!("error: no entregado ({e})"),
        };
        let (code, marks, ids, actor) = (p.sub.code.clone(), p.marks, p.ids.join(","), p.actor);
        st.pool
            .run(move |s| {
                Ok(app::record_notification(
                    s,
                    &actor,
                    &code,
                    &ids,
                    &outcome,
                    ok.then_some(marks),
                )?)
            })
            .await
            .map_err(|e| e.message)?;
        if ok {
            delivered += n;
        }
    }
    Ok(delivered)
}

/// The notifications due (`vamos_app::dci::pending_notifications`, reading each subscription's
/// filter with the DCI query language), their persons as `Member` records.
pub(super) fn collect_notifications(s: &mut dyn Store) -> Result<Vec<Pending>, ApiError> {
    let filter_of = |sub: &Subscription| {
        parse_query(
            &sub.filter_type,
            &serde_json::from_str(&sub.filter).unwrap_or(Value::Null),
        )
        .ok()
    };
    let due = app::pending_notifications(s, &filter_of, NOTIFY_BATCH)?;
    Ok(due
        .into_iter()
        .map(|n| Pending {
            records: n
                .rows
                .into_iter()
                .map(|r| member_record(r, &n.fields))
                .collect(),
            sub: n.sub,
            callback: n.callback,
            actor: n.actor,
            ids: n.ids,
            marks: n.marks,
        })
        .collect())
}

/// Runs [`notify_once`] every `dci_notify` seconds until the process ends.
pub async fn notifier(st: AppState) {
    let mut tick = tokio::time::interval(st.settings.dci_notify);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match notify_once(&st).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(registros = n, "notificaciones DCI entregadas"),
            Err(e) => tracing::warn!(motivo = %e, "notificaciones DCI"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dci_a_filter_without_filter_type_is_read_by_its_form() {
        for (filter, expected) in [
            (json!({"type": "UIN", "value": "123"}), "idtype-value"),
            (
                json!({"type": "NationalID", "value": 1234567}),
                "idtype-value",
            ),
            (
                json!({"type": "ns:org:QueryType:expression", "value": {"expression": {"query": {"district_code": 1116}}}}),
                "expression",
            ),
            (
                json!({"expression": {"query": {"district_code": 1116}}}),
                "expression",
            ),
            (
                json!([{"expression1": {"attribute_name": "YOB", "operator": "ge", "attribute_value": 2000}}]),
                "predicate",
            ),
        ] {
            assert_eq!(filter_type_of(&filter), expected, "{filter}");
            assert!(parse_query(expected, &filter).is_ok(), "{filter}");
        }
    }

    fn request(filter: Value) -> Value {
        json!({"reference_id": "r1", "timestamp": "2026-11-23T10:00:00-03:00",
            "subscribe_criteria": {"reg_event_type": "REGISTER", "filter_type": "expression",
                "filter": filter}})
    }

    #[test]
    fn an_oversize_value_in_a_subscription_filter_is_refused() {
        let huge = request(json!({"given_names": "x".repeat(10_000_000)}));
        let item = read_subscription(&huge).unwrap_err();
        assert_eq!(item["status_reason_code"], "rjct.notify_details.invalid");
        assert_eq!(
            item["status_reason_message"],
            "filter: texto demasiado largo: 10000000 caracteres; una dirección o un lugar admite a lo sumo 200"
        );
        let fits = request(json!({"given_names": "x".repeat(200)}));
        assert!(read_subscription(&fits).is_ok());
    }
}
