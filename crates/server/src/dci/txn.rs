//! DCI transaction status: what became of an earlier request of the same sender.

use super::*;

pub(super) fn txn_status(
    s: &mut dyn Store,
    sender: &Sender,
    message: &Value,
    cid: &str,
) -> Result<Outcome, ApiError> {
    let r = message
        .get("txnstatus_request")
        .cloned()
        .unwrap_or(Value::Null);
    let txn_type = r
        .get("txn_type")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if !matches!(txn_type, "search" | "subscribe") {
        return Err(ApiError::bad_request(format!(
            "txn_type «{}» no admitido: search o subscribe",
            vamos_domain::limits::echo(txn_type)
        )));
    }
    let attr_type = r
        .get("attribute_type")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let value = r.get("attribute_value").cloned().unwrap_or(Value::Null);
    let (by_txn, by_cid, refs): (Option<&str>, Option<&str>, Option<Vec<&str>>) = match attr_type {
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
            return Err(ApiError::bad_request(format!(
                "attribute_type «{}»: transaction_id, reference_id_list o correlation_id",
                vamos_domain::limits::echo(other)
            )))
        }
    };
    if by_txn.is_none() && by_cid.is_none() && refs.is_none() {
        return Err(ApiError::bad_request(
            "attribute_value no corresponde a attribute_type",
        ));
    }
    let found = app::transactions(s, &sender.sender_id, txn_type, by_txn, by_cid)?;
    let mut hit: Option<(Transaction, Vec<Value>)> = None;
    for t in found {
        if t.correlation_id == cid {
            continue;
        }
        let items: Vec<Value> = serde_json::from_str::<Value>(&t.summary)
            .ok()
            .and_then(|v| v.as_array().cloned())
            .unwrap_or_default();
        let items = match &refs {
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
        if refs.is_some() && items.is_empty() {
            continue;
        }
        hit = Some((t, items));
        break;
    }
    let Some((t, items)) = hit else {
        return Err(ApiError::not_found(
            "no hay una transacción de este emisor con ese dato",
        ));
    };
    let items: Vec<Value> = if items.is_empty() && t.status == "pdng" {
        vec![json!({"reference_id": t.transaction_id, "timestamp": t.updated_at, "status": "pdng"})]
    } else {
        items
    };
    let msg = json!({
        "transaction_id": message["transaction_id"],
        "correlation_id": cid,
        "txnstatus_response": {
            "txn_type": txn_type,
            "txn_status": {
                "transaction_id": t.transaction_id,
                "correlation_id": t.correlation_id,
                "search_response": items,
            },
        },
    });
    let summary = json!([{"reference_id": r.get("reference_id").cloned().unwrap_or_default(), "timestamp": now_ts(), "status": "succ"}]);
    Ok((msg, summary, "succ".into()))
}
