//! DCI subscriptions: subscribe and unsubscribe, and the notifications of new registrations
//! sent to each subscriber's callback on behalf of its account.

use super::*;

/// Event types a subscription may watch.
pub(super) fn event_type(t: &str) -> Option<&'static str> {
    match t.rsplit(':').next().unwrap_or(t) {
        "REGISTER" | "Register" | "register" => Some("REGISTER"),
        "NewHouseHoldMember" | "NewHouseholdMember" => Some("NewHouseHoldMember"),
        _ => None,
    }
}

pub(super) fn subscribe(
    s: &mut dyn Store,
    p: &Principal,
    sender: &Sender,
    message: &Value,
    cid: &str,
) -> Result<Outcome, ApiError> {
    visible_fields(s, p)?;
    let existing = store::active_subscriptions(&mut s.db(), Some(&sender.sender_id))?;
    let (last_p, last_h) = store::registry_watermarks(&mut s.db())?;
    let mut items = Vec::new();
    let mut codes = Vec::new();
    for it in message["subscribe_request"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let rid = match request_reference(it) {
            Ok(r) => r,
            Err(rejection) => {
                items.push(rejection);
                continue;
            }
        };
        let c = it.get("subscribe_criteria").cloned().unwrap_or(Value::Null);
        let Some(ev) = c
            .get("reg_event_type")
            .and_then(Value::as_str)
            .and_then(event_type)
        else {
            items.push(rejected(
                rid,
                "rjct.notify_types.invalid",
                "reg_event_type debe ser REGISTER o NewHouseHoldMember",
            ));
            continue;
        };
        let ft = c
            .get("filter_type")
            .and_then(Value::as_str)
            .unwrap_or("expression");
        let filter = c.get("filter").cloned().unwrap_or(Value::Null);
        if let Err(e) = parse_query(ft, &filter) {
            items.push(rejected(rid, "rjct.notify_details.invalid", &e));
            continue;
        }
        let record_type = c
            .get("notify_record_type")
            .and_then(Value::as_str)
            .unwrap_or("Member");
        if !matches!(
            record_type.rsplit(':').next(),
            Some("Member" | "SRPerson" | "Person")
        ) {
            items.push(rejected(
                rid,
                "rjct.notify_details.invalid",
                "notify_record_type: este registro notifica Member",
            ));
            continue;
        }
        let filter_text = canonical_json(&filter);
        if existing
            .iter()
            .any(|e| e.reg_event_type == ev && e.filter == filter_text && e.filter_type == ft)
        {
            items.push(rejected(
                rid,
                "rjct.event.already_subscribed",
                "ya existe una suscripción igual de este emisor",
            ));
            continue;
        }
        let code = auth::random_hex(10).map_err(ApiError::internal)?;
        let now = now_ts();
        store::insert_subscription(
            &mut s.db(),
            &Subscription {
                code: code.clone(),
                sender_id: sender.sender_id.clone(),
                username: p.user.username.clone(),
                transaction_id: message["transaction_id"]
                    .as_str()
                    .unwrap_or_default()
                    .into(),
                reference_id: rid.into(),
                reg_event_type: ev.into(),
                filter_type: ft.into(),
                filter: filter_text,
                notify_record_type: "Member".into(),
                status: "subscribe".into(),
                last_person_id: last_p,
                last_household_id: last_h,
                created_at: now.clone(),
                updated_at: now.clone(),
            },
        )?;
        codes.push(code.clone());
        items.push(json!({
            "reference_id": rid,
            "timestamp": now,
            "status": "succ",
            "subscriptions": [{
                "version": VERSION,
                "code": code,
                "status": "subscribe",
                "timestamp": now,
                "reg_type": REG_TYPE,
                "reg_event_type": ev,
                "filter_type": ft,
                "filter": filter,
                "notify_record_type": "Member",
            }],
            "locale": "spa",
        }));
    }
    audit(
        s,
        Some(p),
        "suscribir (DCI)",
        "suscripción",
        &codes.join(","),
        "notificación de nuevos registros",
        &format!("ok: {} suscripciones, correlación {cid}", codes.len()),
    )?;
    let status = overall(&items);
    let summary = summarise(&items);
    Ok((
        json!({"transaction_id": message["transaction_id"], "correlation_id": cid, "subscribe_response": items}),
        summary,
        status,
    ))
}

pub(super) fn unsubscribe(
    s: &mut dyn Store,
    p: &Principal,
    sender: &Sender,
    message: &Value,
    cid: &str,
) -> Result<Outcome, ApiError> {
    let mut statuses = Vec::new();
    let mut problem: Option<(&str, String)> = None;
    for code in message["subscription_codes"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let code = code.as_str().unwrap_or_default();
        match store::subscription_by_code(&mut s.db(), code)? {
            None => {
                problem.get_or_insert((
                    "rjct.subscription_code.invalid",
                    format!("código «{code}» inexistente"),
                ));
            }
            Some(sub) if sub.sender_id != sender.sender_id => {
                problem.get_or_insert((
                    "rjct.requester.invalid",
                    format!("la suscripción «{code}» es de otro emisor"),
                ));
            }
            Some(sub) if sub.status == "unsubscribe" => {
                problem.get_or_insert((
                    "rjct.event.already_unsubscribed",
                    format!("la suscripción «{code}» ya estaba cancelada"),
                ));
                statuses.push(json!({"code": code, "status": "unsubscribe"}));
            }
            Some(_) => {
                store::set_subscription_status(&mut s.db(), code, "unsubscribe", &now_ts())?;
                statuses.push(json!({"code": code, "status": "unsubscribe"}));
            }
        }
    }
    audit(
        s,
        Some(p),
        "cancelar suscripción (DCI)",
        "suscripción",
        &statuses
            .iter()
            .filter_map(|x| x["code"].as_str())
            .collect::<Vec<_>>()
            .join(","),
        "notificación de nuevos registros",
        &format!("ok: {} canceladas, correlación {cid}", statuses.len()),
    )?;
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
    pub(super) principal: Principal,
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
        let (code, marks, ids, principal) =
            (p.sub.code.clone(), p.marks, p.ids.join(","), p.principal);
        st.pool
            .run(move |s| {
                audit(
                    s,
                    Some(&principal),
                    "notificar registros (DCI)",
                    "persona",
                    &ids,
                    &format!("suscripción {code}"),
                    &outcome,
                )?;
                if ok {
                    store::advance_subscription(&mut s.db(), &code, marks.0, marks.1, &now_ts())?;
                }
                Ok(())
            })
            .await
            .map_err(|e| e.message)?;
        if ok {
            delivered += n;
        }
    }
    Ok(delivered)
}

pub(super) fn collect_notifications(s: &mut dyn Store) -> Result<Vec<Pending>, ApiError> {
    let subs = store::active_subscriptions(&mut s.db(), None)?;
    if subs.is_empty() {
        return Ok(Vec::new());
    }
    let (max_p, max_h) = store::registry_watermarks(&mut s.db())?;
    let mut out = Vec::new();
    for sub in subs {
        if sub.last_person_id >= max_p {
            continue;
        }
        let Some(sender) = store::sender_by_id(&mut s.db(), &sub.sender_id)?.filter(|x| x.active)
        else {
            continue;
        };
        let Some(user) =
            vamos_store::accounts::user_by_name(&mut s.db(), &sub.username)?.filter(|u| u.active)
        else {
            continue;
        };
        let Ok(principal) = auth::principal_for_subscription(user, &sub.code) else {
            continue;
        };
        if !principal.role.grants(Permission::Dci) {
            continue;
        }
        let Ok(fields) = visible_fields(s, &principal) else {
            continue;
        };
        let Ok(filter) = parse_query(
            &sub.filter_type,
            &serde_json::from_str(&sub.filter).unwrap_or(Value::Null),
        ) else {
            continue;
        };
        let mut conds = vec![filter];
        if sub.reg_event_type == "NewHouseHoldMember" {
            conds.push(Filter::Cmp(
                PersonColumn::HouseholdId,
                Op::Le,
                sub.last_household_id.into(),
            ));
        }
        let page = views::search_persons(
            &mut s.db(),
            &Filter::And(conds),
            &principal.scope.district_ranges(),
            Some(sub.last_person_id),
            NOTIFY_BATCH,
        )?;
        // A full page: continue after its last id next round; else everything up to now is seen.
        let marks = match page.next {
            Some(last) => (last, sub.last_household_id),
            None => (max_p, max_h),
        };
        let Ok(callback) = callback_url(&sender, None, "/registry/notify") else {
            continue;
        };
        if page.items.is_empty() {
            store::advance_subscription(&mut s.db(), &sub.code, marks.0, marks.1, &now_ts())?;
            continue;
        }
        let ids = page
            .items
            .iter()
            .filter_map(|r| r.get("id").and_then(Value::as_i64))
            .map(|i| i.to_string())
            .collect();
        let records = page
            .items
            .into_iter()
            .map(|r| member_record(r, &fields))
            .collect();
        out.push(Pending {
            sub,
            callback,
            principal,
            ids,
            records,
            marks,
        });
    }
    Ok(out)
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
