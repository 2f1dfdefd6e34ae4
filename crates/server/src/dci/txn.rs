//! DCI transaction status: what became of an earlier request of the same sender. Every status
//! request is answered in the standard's envelope — found, not found (an empty list: nothing
//! of this sender matches) or rejected (criteria it cannot read, with the standard's reason
//! code on the item) — since the standard keeps the HTTP error body for 401, 403 and 500.

use super::*;

/// The answer to a status request: message, summary kept on the transaction, header status and
/// the header's note.
pub(super) type StatusOutcome = (Value, Value, String, Option<String>);

/// What a status request asks for, as read from `txnstatus_request`.
struct StatusQuery<'a> {
    txn_type: &'a str,
    by_txn: Option<&'a str>,
    by_cid: Option<&'a str>,
    refs: Option<Vec<&'a str>>,
}

/// Reads `txnstatus_request`; `Err` is the standard's reason code and what to fix.
fn read_query(r: &Value) -> Result<StatusQuery<'_>, (&'static str, String)> {
    let invalid = |why: String| ("rjct.search_criteria.invalid", why);
    let rid = r
        .get("reference_id")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if rid.is_empty() || rid.len() > 99 {
        return Err((
            "rjct.reference_id.invalid",
            "falta txnstatus_request.reference_id (hasta 99 caracteres)".into(),
        ));
    }
    let txn_type = r
        .get("txn_type")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if !matches!(txn_type, "search" | "subscribe") {
        return Err(invalid(format!(
            "txn_type «{}» no admitido: search o subscribe",
            vamos_domain::limits::echo(txn_type)
        )));
    }
    let attr_type = r
        .get("attribute_type")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let value = r.get("attribute_value").unwrap_or(&Value::Null);
    let (by_txn, by_cid, refs) = match attr_type {
        "transaction_id" => (value.as_str(), None, None),
        "correlation_id" => (None, value.as_str(), None),
        "reference_id_list" => (
            None,
            None,
            value
                .as_array()
                .map(|a| a.iter().filter_map(Value::as_str).collect()),
        ),
        other => {
            return Err(invalid(format!(
                "attribute_type «{}»: transaction_id, reference_id_list o correlation_id",
                vamos_domain::limits::echo(other)
            )))
        }
    };
    if by_txn.is_none() && by_cid.is_none() && refs.is_none() {
        return Err(invalid(
            "attribute_value no corresponde a attribute_type".into(),
        ));
    }
    Ok(StatusQuery {
        txn_type,
        by_txn,
        by_cid,
        refs,
    })
}

/// `txnstatus_response` of a status request that could not be answered: its `reference_id`
/// rejected with `code` (when the standard has one) and `why`. `txn_type` is echoed when it is
/// one of the standard's, else `search`, as the schema wants one of them.
pub(super) fn status_failed(
    txn_type: Option<&str>,
    reference_id: &str,
    code: Option<&str>,
    why: &str,
) -> Value {
    let txn_type = txn_type
        .filter(|t| matches!(*t, "search" | "subscribe" | "receipt"))
        .unwrap_or("search");
    let mut item = json!({
        "reference_id": reference_id,
        "timestamp": now_ts(),
        "status": "rjct",
        "status_reason_message": why,
    });
    if let (Some(c), Some(o)) = (code, item.as_object_mut()) {
        o.insert("status_reason_code".into(), c.into());
    }
    json!({
        "txn_type": txn_type,
        "txn_status": {"transaction_id": "", "correlation_id": "", "search_response": [item]},
    })
}

pub(super) fn txn_status(
    s: &mut dyn Store,
    sender: &Sender,
    message: &Value,
    cid: &str,
) -> Result<StatusOutcome, ApiError> {
    let r = message.get("txnstatus_request").unwrap_or(&Value::Null);
    let reference_id = r.get("reference_id").cloned().unwrap_or_default();
    let answer = |response: Value, status: &str, note: Option<String>| -> StatusOutcome {
        let msg = json!({
            "transaction_id": message["transaction_id"],
            "correlation_id": cid,
            "txnstatus_response": response,
        });
        let summary =
            json!([{"reference_id": reference_id, "timestamp": now_ts(), "status": status}]);
        (msg, summary, status.into(), note)
    };
    let q = match read_query(r) {
        Ok(q) => q,
        Err((code, why)) => {
            let response = status_failed(
                r.get("txn_type").and_then(Value::as_str),
                reference_id.as_str().unwrap_or_default(),
                Some(code),
                &why,
            );
            return Ok(answer(response, "rjct", Some(why)));
        }
    };
    let found = app::transactions(s, &sender.sender_id, q.txn_type, q.by_txn, q.by_cid)?;
    let mut hit: Option<(Transaction, Vec<Value>)> = None;
    for t in found {
        if t.correlation_id == cid {
            continue;
        }
        let items: Vec<Value> = serde_json::from_str::<Value>(&t.summary)
            .ok()
            .and_then(|v| v.as_array().cloned())
            .unwrap_or_default();
        let items = match &q.refs {
            Some(list) => items
                .into_iter()
                .filter(|i| {
                    i["reference_id"]
                        .as_str()
                        .is_some_and(|r| list.contains(&r))
                })
                .collect(),
            None => items,
        };
        if q.refs.is_some() && items.is_empty() {
            continue;
        }
        hit = Some((t, items));
        break;
    }
    let Some((t, items)) = hit else {
        // Nothing of this sender matches: an empty list under what was asked for. The same
        // answer whether the transaction never was or is another sender's.
        let response = json!({
            "txn_type": q.txn_type,
            "txn_status": {
                "transaction_id": q.by_txn.unwrap_or_default(),
                "correlation_id": q.by_cid.unwrap_or_default(),
                "search_response": [],
            },
        });
        return Ok(answer(
            response,
            "succ",
            Some("ninguna transacción de este emisor corresponde a ese dato".into()),
        ));
    };
    let items: Vec<Value> = if items.is_empty() && t.status == "pdng" {
        vec![json!({"reference_id": t.transaction_id, "timestamp": t.updated_at, "status": "pdng"})]
    } else {
        items
    };
    let response = json!({
        "txn_type": q.txn_type,
        "txn_status": {
            "transaction_id": t.transaction_id,
            "correlation_id": t.correlation_id,
            "search_response": items,
        },
    });
    Ok(answer(response, "succ", None))
}
