//! Black-box tests of the DCI Social Registry API of `vamos serve` (SQLite, and PostgreSQL when
//! configured): synchronous and asynchronous search of the three query types with pagination,
//! transaction status, subscribe / notify / unsubscribe with callbacks to a listening sender,
//! bearer and signature checks, replay refusal, scope and agreement filtering — every request
//! and response shape validated against the standard's YAML (`standards/dci/`).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;
use common::*;

use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use vamos_server::dci;
use vamos_store::testing::all_dbs;

/// The standard, as JSON.
fn spec() -> Value {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../standards/dci/social_api_v1.0.0.yaml"
    ))
    .unwrap();
    serde_yaml::from_str(&text).unwrap()
}

/// Validates `instance` against the schema at JSON pointer `pointer` of the spec.
fn check(spec: &Value, pointer: &str, instance: &Value) {
    let mut root = spec.clone();
    root["$ref"] = Value::String(format!("#{pointer}"));
    let v = jsonschema::validator_for(&root).unwrap();
    let errors: Vec<String> = v
        .iter_errors(instance)
        .map(|e| format!("{} at {}", e, e.instance_path))
        .collect();
    assert!(
        errors.is_empty(),
        "{pointer}: {errors:?}\n{}",
        serde_json::to_string_pretty(instance).unwrap()
    );
}

fn op(path: &str) -> String {
    format!("/paths/{}/post", path.replace('~', "~0").replace('/', "~1"))
}
fn request_schema(path: &str) -> String {
    format!("{}/requestBody/content/application~1json/schema", op(path))
}
fn sync_response(path: &str) -> String {
    format!(
        "{}/responses/default/content/application~1json/schema",
        op(path)
    )
}
const ACK: &str = "/components/responses/Response/content/application~1json/schema";
const HTTP_ERROR: &str = "/components/responses/HttpErrorResponse/content/application~1json/schema";

/// A sender's callback endpoint: records every POST (path, body) and answers ACK.
struct Inbox {
    base: String,
    got: Arc<Mutex<Vec<(String, Value)>>>,
}

fn inbox() -> Inbox {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}/cb", l.local_addr().unwrap());
    let got = Arc::new(Mutex::new(Vec::new()));
    let g = got.clone();
    std::thread::spawn(move || {
        for stream in l.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut r = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            r.read_line(&mut line).unwrap();
            let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
            let mut len = 0usize;
            loop {
                let mut h = String::new();
                r.read_line(&mut h).unwrap();
                if h.trim().is_empty() {
                    break;
                }
                if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap();
                }
            }
            let mut body = vec![0; len];
            r.read_exact(&mut body).unwrap();
            g.lock()
                .unwrap()
                .push((path, serde_json::from_slice(&body).unwrap_or(Value::Null)));
            let ack = r#"{"message":{"ack_status":"ACK","timestamp":"2026-11-23T00:00:00Z","correlation_id":"x"}}"#;
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{ack}",
                ack.len()
            );
        }
    });
    Inbox { base, got }
}

impl Inbox {
    /// The first callback to a path ending in `suffix` whose body satisfies `pred`.
    fn wait(&self, suffix: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let t0 = Instant::now();
        while t0.elapsed() < Duration::from_secs(30) {
            if let Some((_, b)) = self
                .got
                .lock()
                .unwrap()
                .iter()
                .find(|(p, b)| p.ends_with(suffix) && pred(b))
            {
                return b.clone();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "no callback to {suffix}; got {:?}",
            self.got
                .lock()
                .unwrap()
                .iter()
                .map(|x| &x.0)
                .collect::<Vec<_>>()
        );
    }
}

/// A client of the DCI API: a token, a sender id and (optionally) its signing key.
struct Client<'a> {
    s: &'a Server,
    token: String,
    sender: String,
    key: Option<ed25519_dalek::SigningKey>,
    n: std::cell::Cell<u32>,
}

impl Client<'_> {
    fn envelope(&self, action: &str, message: Value, total: usize) -> Value {
        self.n.set(self.n.get() + 1);
        let header = json!({
            "version": "1.0.0",
            "message_id": format!("m-{}-{}", self.sender, self.n.get()),
            "message_ts": "2026-11-23T10:00:00-03:00",
            "action": action,
            "sender_id": self.sender,
            "receiver_id": "siis.gov.py",
            "total_count": total,
            "is_msg_encrypted": false,
        });
        let mut env = json!({"header": header, "message": message});
        if let Some(k) = &self.key {
            let now = vamos_server::auth::now().timestamp();
            env["signature"] = dci::sign(k, &self.sender, "1", &header, &message, now, 300).into();
        }
        env
    }

    fn post(&self, path: &str, env: &Value) -> (u16, Value) {
        let who = Who {
            bearer: Some(self.token.clone()),
            ..Who::default()
        };
        let (st, v, _) = call(
            self.s,
            &who,
            "post",
            &format!("/dci{path}"),
            Some(env.clone()),
        );
        (st, v)
    }
}

/// One search request: reference id, query type, query, (page size, page number).
type SearchItem<'a> = (&'a str, &'a str, Value, Option<(i64, i64)>);

fn search_message(items: Vec<SearchItem>) -> Value {
    json!({
        "transaction_id": "t-1",
        "search_request": items.into_iter().map(|(rid, qt, q, page)| {
            let mut c = json!({"reg_type": "ns:org:RegistryType:Social", "query_type": qt, "query": q,
                "consent": {"purpose": {"text": "derivación a control prenatal"}}});
            if let Some((size, number)) = page {
                c["pagination"] = json!({"page_size": size, "page_number": number});
            }
            json!({"reference_id": rid, "timestamp": "2026-11-23T10:00:00-03:00", "search_criteria": c})
        }).collect::<Vec<_>>(),
    })
}

fn ids_of(item: &Value) -> Vec<String> {
    item["data"]["reg_records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            r["member_identifier"][0]["identifier_value"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect()
}

/// Every person of a territory, in id order (following the pages).
fn everyone_in(s: &Server, admin: &Who, territory: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut after = String::new();
    loop {
        let (st, v, _) = call(
            s,
            admin,
            "get",
            &format!("/api/persons?territory={territory}&limit=200{after}"),
            None,
        );
        assert_eq!(st, 200, "{v}");
        out.extend(v["items"].as_array().unwrap().iter().cloned());
        match v["next_after"].as_i64() {
            Some(n) => after = format!("&after={n}"),
            None => return out,
        }
    }
}

fn ok(o: &std::process::Output) -> String {
    assert!(
        o.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

#[test]
fn the_dci_social_registry_api_follows_the_standard() {
    let spec = spec();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let synth = |seed: &str, out: &str| {
        ok(&vamos(
            &[
                "synth",
                "--households",
                "300",
                "--seed",
                seed,
                "--out",
                out,
                "--reference-date",
                "2026-11-01",
            ],
            d,
            &[],
        ))
    };
    synth("5", "datos");
    synth("6", "datos2");
    // This registry's signing key, and the sender's.
    ok(&vamos(&["dci", "keygen", "--out", "registro.key"], d, &[]));
    let registry_public = {
        let seed = std::fs::read_to_string(d.join("registro.key")).unwrap();
        let k = dci::read_signing_key(&seed).unwrap();
        base64_of(k.verifying_key().to_bytes())
    };
    let sender_public = ok(&vamos(&["dci", "keygen", "--out", "his.key"], d, &[]));
    let sender_key =
        dci::read_signing_key(&std::fs::read_to_string(d.join("his.key")).unwrap()).unwrap();
    assert!(
        !vamos(&["dci", "keygen", "--out", "his.key"], d, &[])
            .status
            .success(),
        "never overwrites a key"
    );

    for db in all_dbs() {
        let url = db.url.as_str();
        run_against(&spec, d, url, &sender_public, &sender_key, &registry_public);
    }
}

fn base64_of(bytes: [u8; 32]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[allow(clippy::too_many_lines)] // reason: a scenario test, to be split into one test per behaviour
fn run_against(
    spec: &Value,
    d: &Path,
    url: &str,
    sender_public: &str,
    sender_key: &ed25519_dalek::SigningKey,
    registry_public: &str,
) {
    ok(&vamos(
        &["db", "init", "--db", url],
        d,
        &[("VAMOS_ADMIN_PASSWORD", PW)],
    ));
    ok(&vamos(
        &[
            "import",
            "fips",
            "--db",
            url,
            "datos",
            "--date",
            "2026-11-23",
        ],
        d,
        &[],
    ));
    let inbox = inbox();
    // The MSPBS system: an operator account scoped to Villeta, its agreement, a dci token.
    ok(&vamos(
        &[
            "user",
            "create",
            "--db",
            url,
            "his_mspbs",
            "--role",
            "operador",
            "--institution",
            "MSPBS",
            "--territories",
            "1116",
        ],
        d,
        &[("VAMOS_PASSWORD", PW)],
    ));
    ok(&vamos(
        &[
            "agreement",
            "create",
            "--db",
            url,
            "--institution",
            "MSPBS",
            "--fields",
            "given_names,family_names,birth_date,district_code,household_id",
            "--purpose",
            "controles prenatales",
            "--from",
            "2026-01-01",
            "--to",
            "2030-12-31",
        ],
        d,
        &[],
    ));
    let token = ok(&vamos(
        &[
            "token",
            "create",
            "--db",
            url,
            "--user",
            "his_mspbs",
            "--name",
            "HIS",
            "--scopes",
            "dci",
        ],
        d,
        &[],
    ));
    let reg = ok(&vamos(
        &[
            "dci",
            "sender",
            "add",
            "--db",
            url,
            "--id",
            "his.mspbs",
            "--user",
            "his_mspbs",
            "--public-key",
            sender_public,
            "--callback-base",
            &inbox.base,
        ],
        d,
        &[],
    ));
    assert!(reg.contains("firma obligatoria"), "{reg}");
    assert!(
        !vamos(
            &[
                "dci",
                "sender",
                "add",
                "--db",
                url,
                "--id",
                "x",
                "--user",
                "his_mspbs",
                "--public-key",
                "nope"
            ],
            d,
            &[]
        )
        .status
        .success(),
        "a bad key is refused"
    );
    let s = start_with(
        url,
        d,
        &[
            ("VAMOS_DCI_NOTIFY_SECS", "1"),
            ("VAMOS_DCI_SIGNING_KEY_FILE", "registro.key"),
        ],
    );
    let c = Client {
        s: &s,
        token: token.clone(),
        sender: "his.mspbs".into(),
        key: Some(sender_key.clone()),
        n: std::cell::Cell::new(0),
    };
    // The document lists the DCI endpoints under the base path.
    let (_, doc, _) = call(&s, &Who::default(), "get", "/api/openapi.json", None);
    for k in dci::Kind::ALL {
        assert!(
            doc["paths"].get(format!("/dci{}", k.path())).is_some(),
            "{}",
            k.path()
        );
    }

    // A person of Villeta and one of San Juan Nepomuceno, seen by the administrator.
    let admin = login(&s, "admin", PW);
    let villeta = everyone_in(&s, &admin, "1116");
    let sjn = everyone_in(&s, &admin, "0607");
    let (pv, ps) = (
        villeta[0]["id"].as_i64().unwrap(),
        sjn[0]["id"].as_i64().unwrap(),
    );

    // Synchronous search, the three query types, with pagination.
    let msg = search_message(vec![
        (
            "r1",
            "idtype-value",
            json!({"type": "UIN", "value": pv.to_string()}),
            None,
        ),
        (
            "r2",
            "idtype-value",
            json!({"type": "UIN", "value": ps.to_string()}),
            None,
        ),
        (
            "r3",
            "expression",
            json!({"type": "ns:org:QueryType:expression", "value": {"expression": {"collection": "Member", "query": {"$and": [{"district_code": {"$eq": 1116}}]}}}}),
            Some((2, 2)),
        ),
        (
            "r4",
            "predicate",
            json!([{"seq_num": 1, "expression1": {"attribute_name": "YOB", "operator": "ge", "attribute_value": "1900"}, "condition": "and", "expression2": {"attribute_name": "district_code", "operator": "in", "attribute_value": "1116,0607"}}]),
            Some((1000, 1)),
        ),
        (
            "r5",
            "expression",
            json!({"expression": {"query": {"shoe_size": {"$gt": 40}}}}),
            None,
        ),
        (
            "r6",
            "expression",
            json!({"expression": {"query": {"district_code": 1116}}}),
            None,
        ),
    ]);
    let mut msg = msg;
    msg["search_request"][5]["search_criteria"]["response_entity"] = "Group".into();
    let env = c.envelope("search", msg, 6);
    check(spec, &request_schema("/registry/sync/search"), &env);
    let (st, v) = c.post("/registry/sync/search", &env);
    assert_eq!(st, 200, "{v}");
    check(spec, &sync_response("/registry/sync/search"), &v);
    assert_eq!(v["header"]["action"], "on-search");
    assert_eq!(v["header"]["status"], "succ");
    // The answer is signed by this registry.
    dci::verify(
        v["signature"].as_str().unwrap(),
        registry_public,
        "siis.gov.py",
        &v["header"],
        &v["message"],
        vamos_server::auth::now().timestamp(),
    )
    .unwrap();
    let items = v["message"]["search_response"].as_array().unwrap();
    let by = |rid: &str| {
        items
            .iter()
            .find(|i| i["reference_id"] == rid)
            .unwrap()
            .clone()
    };
    let r1 = by("r1");
    assert_eq!(r1["status"], "succ");
    assert_eq!(ids_of(&r1), vec![pv.to_string()]);
    // Only the agreed fields: no cédula, no sex, no survey answers.
    let rec = r1["data"]["reg_records"][0].clone();
    assert!(rec["demographic_info"].get("identifier").is_none(), "{rec}");
    assert!(
        rec["demographic_info"].get("sex").is_none() && rec.get("additional_attributes").is_none(),
        "{rec}"
    );
    assert_eq!(rec["demographic_info"]["address"]["city"], "1116");
    // Out of scope: San Juan Nepomuceno is not in the operator's territory.
    let r2 = by("r2");
    assert_eq!(
        (
            r2["status"].as_str(),
            r2["pagination"]["total_count"].as_i64()
        ),
        (Some("succ"), Some(0))
    );
    let r3 = by("r3");
    assert_eq!(
        r3["pagination"],
        json!({"page_size": 2, "page_number": 2, "total_count": villeta.len()})
    );
    let expected: Vec<String> = villeta[2..4].iter().map(|p| p["id"].to_string()).collect();
    assert_eq!(ids_of(&r3), expected);
    let r4 = by("r4");
    assert_eq!(
        r4["pagination"]["total_count"].as_u64().unwrap() as usize,
        villeta.len()
    );
    assert_eq!(by("r5")["status_reason_code"], "rjct.filter.invalid");
    assert_eq!(
        by("r6")["status_reason_code"],
        "rjct.search_criteria.invalid"
    );

    // Replaying the same message is refused as a whole.
    let (st, v) = c.post("/registry/sync/search", &env);
    assert_eq!(st, 200);
    check(spec, &sync_response("/registry/sync/search"), &v);
    assert_eq!(
        (
            v["header"]["status"].as_str(),
            v["header"]["status_reason_code"].as_str()
        ),
        (Some("rjct"), Some("rjct.message_id.duplicate"))
    );

    // Transport errors: HttpErrorResponse with the standard's codes.
    let fresh = || {
        c.envelope(
            "search",
            search_message(vec![(
                "r1",
                "idtype-value",
                json!({"type": "UIN", "value": pv}),
                None,
            )]),
            1,
        )
    };
    let mut unsigned = fresh();
    unsigned.as_object_mut().unwrap().remove("signature");
    let mut tampered = fresh();
    tampered["message"]["transaction_id"] = "otra".into();
    let mut wrong_sender = fresh();
    wrong_sender["header"]["sender_id"] = "otro.sistema".into();
    // Signed, but with another action.
    let wrong_action = c.envelope(
        "subscribe",
        search_message(vec![(
            "r1",
            "idtype-value",
            json!({"type": "UIN", "value": "1"}),
            None,
        )]),
        1,
    );
    for (env, status, code) in [
        (unsigned, 401, "err.signature.missing"),
        (tampered, 401, "err.signature.invalid"),
        (wrong_sender, 403, "err.sender_id.invalid"),
        (json!({"header": "x"}), 400, "err.request.bad"),
    ] {
        let (st, v) = c.post("/registry/sync/search", &env);
        assert_eq!(
            (st, v["errors"][0]["code"].as_str()),
            (status, Some(code)),
            "{v}"
        );
        check(spec, HTTP_ERROR, &v);
    }
    let (st, v) = c.post("/registry/sync/search", &wrong_action);
    assert_eq!(
        v["header"]["status_reason_code"], "rjct.action.invalid",
        "{st} {v}"
    );
    let anon = Client {
        s: &s,
        token: "vamos_x_y".into(),
        sender: c.sender.clone(),
        key: None,
        n: std::cell::Cell::new(100),
    };
    let (st, v) = anon.post("/registry/sync/search", &fresh());
    assert_eq!(
        (st, v["errors"][0]["code"].as_str()),
        (401, Some("err.request.unauthorized"))
    );

    // Asynchronous search: ACK now, the answer POSTed to the sender's on-search.
    let env = c.envelope(
        "search",
        search_message(vec![(
            "a1",
            "idtype-value",
            json!({"type": "UIN", "value": pv.to_string()}),
            None,
        )]),
        1,
    );
    check(spec, &request_schema("/registry/search"), &env);
    let (st, v) = c.post("/registry/search", &env);
    assert_eq!(
        (st, v["message"]["ack_status"].as_str()),
        (200, Some("ACK")),
        "{v}"
    );
    check(spec, ACK, &v);
    let correlation = v["message"]["correlation_id"].as_str().unwrap().to_string();
    let cb = inbox.wait("/registry/on-search", |b| {
        b["message"]["correlation_id"] == correlation.as_str()
    });
    check(spec, &request_schema("/registry/on-search"), &cb);
    assert_eq!(
        ids_of(&cb["message"]["search_response"][0]),
        vec![pv.to_string()]
    );
    dci::verify(
        cb["signature"].as_str().unwrap(),
        registry_public,
        "siis.gov.py",
        &cb["header"],
        &cb["message"],
        vamos_server::auth::now().timestamp(),
    )
    .unwrap();

    // Transaction status, synchronous and asynchronous.
    let status_msg = json!({"transaction_id": "t-2", "txnstatus_request": {"reference_id": "s1", "txn_type": "search", "attribute_type": "correlation_id", "attribute_value": correlation}});
    let env = c.envelope("txn-status", status_msg.clone(), 1);
    check(spec, &request_schema("/registry/sync/txn/status"), &env);
    let (st, v) = c.post("/registry/sync/txn/status", &env);
    assert_eq!(st, 200, "{v}");
    check(spec, &sync_response("/registry/sync/txn/status"), &v);
    let ts = &v["message"]["txnstatus_response"]["txn_status"];
    assert_eq!(
        (
            ts["correlation_id"].as_str(),
            ts["search_response"][0]["status"].as_str()
        ),
        (Some(correlation.as_str()), Some("succ")),
        "{v}"
    );
    assert!(
        ts["search_response"][0].get("data").is_none(),
        "status never carries records"
    );
    let (st, v) = c.post(
        "/registry/txn/status",
        &c.envelope("txn-status", status_msg, 1),
    );
    assert_eq!(
        (st, v["message"]["ack_status"].as_str()),
        (200, Some("ACK"))
    );
    let cid = v["message"]["correlation_id"].as_str().unwrap().to_string();
    let cb = inbox.wait("/registry/txn/on-status", |b| {
        b["message"]["correlation_id"] == cid.as_str()
    });
    check(spec, &request_schema("/registry/txn/on-status"), &cb);
    let unknown = json!({"transaction_id": "t-3", "txnstatus_request": {"reference_id": "s2", "txn_type": "search", "attribute_type": "transaction_id", "attribute_value": "nunca"}});
    let (st, v) = c.post(
        "/registry/sync/txn/status",
        &c.envelope("txn-status", unknown.clone(), 1),
    );
    assert_eq!(
        (st, v["errors"][0]["code"].as_str()),
        (404, Some("err.request.not_found")),
        "{v}"
    );
    // Asynchronously, the sender still hears back: a rejected header with the reason.
    let (_, v) = c.post(
        "/registry/txn/status",
        &c.envelope("txn-status", unknown, 1),
    );
    assert_eq!(v["message"]["ack_status"], "ACK", "{v}");
    let cb = inbox.wait("/registry/txn/on-status", |b| {
        b["header"]["status"] == "rjct"
    });
    check(spec, &request_schema("/registry/txn/on-status"), &cb);
    assert!(cb["header"]["status_reason_message"]
        .as_str()
        .unwrap()
        .contains("transacción"));

    // Subscribe to new registrations in Villeta and San Juan (scope keeps only Villeta).
    let sub = json!({"transaction_id": "t-sub", "subscribe_request": [{"reference_id": "sub1", "timestamp": "2026-11-23T10:00:00-03:00",
        "subscribe_criteria": {"reg_event_type": "REGISTER", "filter_type": "expression",
            "filter": {"expression": {"query": {"$or": [{"district_code": 1116}, {"district_code": 607}]}}}, "notify_record_type": "Member"}}]});
    let env = c.envelope("subscribe", sub.clone(), 1);
    check(spec, &request_schema("/registry/subscribe"), &env);
    let (st, v) = c.post("/registry/subscribe", &env);
    assert_eq!(
        (st, v["message"]["ack_status"].as_str()),
        (200, Some("ACK")),
        "{v}"
    );
    let cid = v["message"]["correlation_id"].as_str().unwrap().to_string();
    let cb = inbox.wait("/registry/on-subscribe", |b| {
        b["message"]["correlation_id"] == cid.as_str()
    });
    check(spec, &request_schema("/registry/on-subscribe"), &cb);
    let code = cb["message"]["subscribe_response"][0]["subscriptions"][0]["code"]
        .as_str()
        .unwrap()
        .to_string();
    // The same subscription twice is refused.
    let (_, v) = c.post("/registry/subscribe", &c.envelope("subscribe", sub, 1));
    let cid2 = v["message"]["correlation_id"].as_str().unwrap().to_string();
    let cb = inbox.wait("/registry/on-subscribe", |b| {
        b["message"]["correlation_id"] == cid2.as_str()
    });
    assert_eq!(
        cb["message"]["subscribe_response"][0]["status_reason_code"],
        "rjct.event.already_subscribed"
    );

    // New households arrive: the subscriber is notified of the Villeta ones only.
    ok(&vamos(
        &[
            "import",
            "fips",
            "--db",
            url,
            "datos2",
            "--date",
            "2026-11-24",
        ],
        d,
        &[],
    ));
    let note = inbox.wait("/registry/notify", |_| true);
    check(spec, &request_schema("/registry/notify"), &note);
    let events = note["message"]["notify_event"].as_array().unwrap();
    assert!(!events.is_empty());
    for e in events {
        assert_eq!(e["data"]["reg_event_type"], "REGISTER");
        assert_eq!(
            e["data"]["reg_records"]["demographic_info"]["address"]["city"], "1116",
            "{e}"
        );
    }
    let now_villeta = everyone_in(&s, &admin, "1116").len();
    let notified: usize = inbox
        .got
        .lock()
        .unwrap()
        .iter()
        .filter(|(p, _)| p.ends_with("/registry/notify"))
        .map(|(_, b)| b["message"]["notify_event"].as_array().unwrap().len())
        .sum();
    assert_eq!(
        notified,
        now_villeta - villeta.len(),
        "each new Villeta person notified once"
    );

    // Unsubscribe.
    let uns = json!({"transaction_id": "t-uns", "timestamp": "2026-11-23T10:00:00-03:00", "subscription_codes": [code]});
    let env = c.envelope("unsubscribe", uns, 1);
    check(spec, &request_schema("/registry/unsubscribe"), &env);
    let (_, v) = c.post("/registry/unsubscribe", &env);
    let cid = v["message"]["correlation_id"].as_str().unwrap().to_string();
    let cb = inbox.wait("/registry/on-unsubscribe", |b| {
        b["message"]["correlation_id"] == cid.as_str()
    });
    check(spec, &request_schema("/registry/on-unsubscribe"), &cb);
    assert_eq!(
        cb["message"]["subscription_status"][0],
        json!({"code": code, "status": "unsubscribe"})
    );

    // Every disclosure is in the audit trail, and the chain holds.
    let (_, trail, _) = call(&s, &admin, "get", "/api/audit?limit=1000", None);
    let actions: Vec<&str> = trail["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["actor"].as_str().unwrap().starts_with("his_mspbs ("))
        .map(|r| r["action"].as_str().unwrap())
        .collect();
    for a in [
        "buscar personas (DCI)",
        "suscribir (DCI)",
        "notificar registros (DCI)",
        "cancelar suscripción (DCI)",
    ] {
        assert!(actions.contains(&a), "{a}: {actions:?}");
    }
    drop(s);
    ok(&vamos(&["audit", "verify", "--db", url], d, &[]));
}
