//! Black-box tests of the DCI Social Registry API of `vamos serve` (SQLite, and PostgreSQL when
//! configured): synchronous and asynchronous search of the three query types with pagination,
//! transaction status, subscribe / notify / unsubscribe with callbacks to a listening sender,
//! bearer and signature checks, replay refusal, scope and agreement filtering — every request
//! and response shape validated against the standard's YAML (`standards/dci/`).
//!
//! One test per behaviour. The registry, the MSPBS system and the server are built once per
//! backend in a `LazyLock` and shared. The exchanges whose steps depend on one another (the
//! synchronous search and its replay, the asynchronous search whose transaction status is then
//! asked, subscribe → new registrations → unsubscribe) run once, on first use, and keep what
//! each step answered; one test checks one step.

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
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, LazyLock, Mutex, OnceLock, PoisonError, RwLock, RwLockReadGuard};
use std::time::{Duration, Instant};
use vamos_server::dci;
use vamos_store::testing::{all_dbs, TestDb};

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
}

/// Message ids, unique in this process (a repeated id is refused as a replay).
static MESSAGES: AtomicU32 = AtomicU32::new(0);

impl Client<'_> {
    fn envelope(&self, action: &str, message: Value, total: usize) -> Value {
        let n = MESSAGES.fetch_add(1, Ordering::Relaxed) + 1;
        let header = json!({
            "version": "1.0.0",
            "message_id": format!("m-{}-{}", self.sender, n),
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

fn base64_of(bytes: [u8; 32]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

// ---------------------------------------------------------------------------------------------
// The fixture: the keys (this registry's and the sender's), then per backend a registry of 300
// synthetic households, the MSPBS system (an operator scoped to Villeta, its agreement, a dci
// token, a sender with its key and callback), and the server.

static SPEC: LazyLock<Value> = LazyLock::new(spec);

struct Keys {
    d: PathBuf,
    sender_public: String,
    sender_key: ed25519_dalek::SigningKey,
    registry_public: String,
    _dir: tempfile::TempDir,
    _at_exit: AtExit,
}

struct Registry {
    url: String,
    s: Server,
    inbox: Inbox,
    token: String,
    /// What registering the sender printed.
    registered: String,
    admin: Who,
    /// Everyone of Villeta before any new registration; a person of Villeta and one of San
    /// Juan Nepomuceno.
    villeta: Vec<Value>,
    pv: i64,
    ps: i64,
    sync_search: OnceLock<SyncSearch>,
    async_search: OnceLock<AsyncSearch>,
    subscription: OnceLock<Subscription>,
    _db: TestDb,
    _at_exit: AtExit,
}

struct Fixture {
    keys: Keys,
    all: Vec<Registry>,
}

static FIXTURE: LazyLock<Fixture> = LazyLock::new(|| {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let at_exit = AtExit::new(&[], &[d], None);
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
    let keys = Keys {
        d: d.to_path_buf(),
        sender_public,
        sender_key,
        registry_public,
        _dir: dir,
        _at_exit: at_exit,
    };
    let all = all_dbs()
        .into_iter()
        .map(|db| registry(db, &keys))
        .collect();
    Fixture { keys, all }
});

/// The tests hold this for reading; the one that verifies the audit chain holds it for
/// writing, so no request is half-way through then.
static QUIET: RwLock<()> = RwLock::new(());

fn fixture() -> (&'static Fixture, RwLockReadGuard<'static, ()>) {
    let f = &*FIXTURE;
    (f, QUIET.read().unwrap_or_else(PoisonError::into_inner))
}

fn registry(db: TestDb, keys: &Keys) -> Registry {
    let (d, url) = (keys.d.as_path(), db.url.as_str());
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
    let registered = ok(&vamos(
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
            &keys.sender_public,
            "--callback-base",
            &inbox.base,
        ],
        d,
        &[],
    ));
    let s = start_with(
        url,
        d,
        &[
            ("VAMOS_DCI_NOTIFY_SECS", "1"),
            ("VAMOS_DCI_SIGNING_KEY_FILE", "registro.key"),
        ],
    );
    let at_exit = AtExit::new(&[s.child.id()], &[], Some(&db));
    // A person of Villeta and one of San Juan Nepomuceno, seen by the administrator.
    let admin = login(&s, "admin", PW);
    let villeta = everyone_in(&s, &admin, "1116");
    let sjn = everyone_in(&s, &admin, "0607");
    let (pv, ps) = (
        villeta[0]["id"].as_i64().unwrap(),
        sjn[0]["id"].as_i64().unwrap(),
    );
    Registry {
        url: db.url.clone(),
        s,
        inbox,
        token,
        registered,
        admin,
        villeta,
        pv,
        ps,
        sync_search: OnceLock::new(),
        async_search: OnceLock::new(),
        subscription: OnceLock::new(),
        _db: db,
        _at_exit: at_exit,
    }
}

/// The synchronous search of the three query types with pagination: the envelope, what it
/// answered, then what the same envelope answered again.
struct SyncSearch {
    env: Value,
    answer: (u16, Value),
    replayed: (u16, Value),
}

/// The asynchronous search: the envelope, the acknowledgement, the callback.
struct AsyncSearch {
    env: Value,
    ack: (u16, Value),
    correlation: String,
    callback: Value,
}

/// Subscribe (twice), new registrations, unsubscribe.
struct Subscription {
    env: Value,
    ack: (u16, Value),
    confirmed: Value,
    code: String,
    again: Value,
    note: Value,
    notified: usize,
    new_in_villeta: usize,
    unsubscribe_env: Value,
    unsubscribed: Value,
}

impl Registry {
    fn client(&self, keys: &Keys) -> Client<'_> {
        Client {
            s: &self.s,
            token: self.token.clone(),
            sender: "his.mspbs".into(),
            key: Some(keys.sender_key.clone()),
        }
    }

    fn sync_search(&self, keys: &Keys) -> &SyncSearch {
        self.sync_search.get_or_init(|| {
            let c = self.client(keys);
            let (pv, ps) = (self.pv, self.ps);
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
            let answer = c.post("/registry/sync/search", &env);
            // Replaying the same message.
            let replayed = c.post("/registry/sync/search", &env);
            SyncSearch {
                env,
                answer,
                replayed,
            }
        })
    }

    /// One item of the synchronous search's answer, by reference id.
    fn searched(&self, keys: &Keys, rid: &str) -> Value {
        self.sync_search(keys).answer.1["message"]["search_response"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["reference_id"] == rid)
            .unwrap()
            .clone()
    }

    /// A fresh signed search for the Villeta person.
    fn fresh(&self, c: &Client) -> Value {
        c.envelope(
            "search",
            search_message(vec![(
                "r1",
                "idtype-value",
                json!({"type": "UIN", "value": self.pv}),
                None,
            )]),
            1,
        )
    }

    fn async_search(&self, keys: &Keys) -> &AsyncSearch {
        self.async_search.get_or_init(|| {
            let c = self.client(keys);
            let env = c.envelope(
                "search",
                search_message(vec![(
                    "a1",
                    "idtype-value",
                    json!({"type": "UIN", "value": self.pv.to_string()}),
                    None,
                )]),
                1,
            );
            let ack = c.post("/registry/search", &env);
            let correlation = ack.1["message"]["correlation_id"]
                .as_str()
                .unwrap()
                .to_string();
            let callback = self.inbox.wait("/registry/on-search", |b| {
                b["message"]["correlation_id"] == correlation.as_str()
            });
            AsyncSearch {
                env,
                ack,
                correlation,
                callback,
            }
        })
    }

    /// The transaction-status request for the asynchronous search.
    fn status_message(&self, keys: &Keys) -> Value {
        let correlation = &self.async_search(keys).correlation;
        json!({"transaction_id": "t-2", "txnstatus_request": {"reference_id": "s1", "txn_type": "search", "attribute_type": "correlation_id", "attribute_value": correlation}})
    }

    fn subscription(&self, keys: &Keys) -> &Subscription {
        self.subscription.get_or_init(|| {
            // New households arrive below: the synchronous search counts Villeta before them.
            self.sync_search(keys);
            let c = self.client(keys);
            // Subscribe to new registrations in Villeta and San Juan (scope keeps only Villeta).
            let sub = json!({"transaction_id": "t-sub", "subscribe_request": [{"reference_id": "sub1", "timestamp": "2026-11-23T10:00:00-03:00",
                "subscribe_criteria": {"reg_event_type": "REGISTER", "filter_type": "expression",
                    "filter": {"expression": {"query": {"$or": [{"district_code": 1116}, {"district_code": 607}]}}}, "notify_record_type": "Member"}}]});
            let env = c.envelope("subscribe", sub.clone(), 1);
            let ack = c.post("/registry/subscribe", &env);
            let cid = ack.1["message"]["correlation_id"]
                .as_str()
                .unwrap()
                .to_string();
            let confirmed = self.inbox.wait("/registry/on-subscribe", |b| {
                b["message"]["correlation_id"] == cid.as_str()
            });
            let code = confirmed["message"]["subscribe_response"][0]["subscriptions"][0]["code"]
                .as_str()
                .unwrap()
                .to_string();
            // The same subscription twice.
            let (_, v) = c.post("/registry/subscribe", &c.envelope("subscribe", sub, 1));
            let cid2 = v["message"]["correlation_id"].as_str().unwrap().to_string();
            let again = self.inbox.wait("/registry/on-subscribe", |b| {
                b["message"]["correlation_id"] == cid2.as_str()
            });
            // New households arrive.
            ok(&vamos(
                &[
                    "import",
                    "fips",
                    "--db",
                    &self.url,
                    "datos2",
                    "--date",
                    "2026-11-24",
                ],
                &keys.d,
                &[],
            ));
            let note = self.inbox.wait("/registry/notify", |_| true);
            let now_villeta = everyone_in(&self.s, &self.admin, "1116").len();
            let notified: usize = self
                .inbox
                .got
                .lock()
                .unwrap()
                .iter()
                .filter(|(p, _)| p.ends_with("/registry/notify"))
                .map(|(_, b)| b["message"]["notify_event"].as_array().unwrap().len())
                .sum();
            // Unsubscribe.
            let uns = json!({"transaction_id": "t-uns", "timestamp": "2026-11-23T10:00:00-03:00", "subscription_codes": [code]});
            let unsubscribe_env = c.envelope("unsubscribe", uns, 1);
            let (_, v) = c.post("/registry/unsubscribe", &unsubscribe_env);
            let cid = v["message"]["correlation_id"].as_str().unwrap().to_string();
            let unsubscribed = self.inbox.wait("/registry/on-unsubscribe", |b| {
                b["message"]["correlation_id"] == cid.as_str()
            });
            Subscription {
                env,
                ack,
                confirmed,
                code,
                again,
                note,
                notified,
                new_in_villeta: now_villeta - self.villeta.len(),
                unsubscribe_env,
                unsubscribed,
            }
        })
    }

    /// The DCI actions of the MSPBS system in the newest thousand audit records.
    fn audited_dci_actions(&self) -> Vec<String> {
        let (_, trail, _) = call(&self.s, &self.admin, "get", "/api/audit?limit=1000", None);
        trail["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["actor"].as_str().unwrap().starts_with("his_mspbs ("))
            .map(|r| r["action"].as_str().unwrap().to_string())
            .collect()
    }
}

#[test]
fn dci_keygen_never_overwrites_a_key() {
    let (f, _busy) = fixture();
    assert!(
        !vamos(&["dci", "keygen", "--out", "his.key"], &f.keys.d, &[])
            .status
            .success(),
        "never overwrites a key"
    );
}

#[test]
fn a_sender_registered_with_a_key_must_sign() {
    let (f, _busy) = fixture();
    for r in &f.all {
        let reg = &r.registered;
        assert!(reg.contains("firma obligatoria"), "{reg}");
    }
}

#[test]
fn a_sender_with_a_bad_key_is_refused() {
    let (f, _busy) = fixture();
    for r in &f.all {
        assert!(
            !vamos(
                &[
                    "dci",
                    "sender",
                    "add",
                    "--db",
                    &r.url,
                    "--id",
                    "x",
                    "--user",
                    "his_mspbs",
                    "--public-key",
                    "nope"
                ],
                &f.keys.d,
                &[]
            )
            .status
            .success(),
            "a bad key is refused"
        );
    }
}

#[test]
fn the_openapi_document_lists_the_dci_endpoints_under_the_base_path() {
    let (f, _busy) = fixture();
    for r in &f.all {
        let (_, doc, _) = call(&r.s, &Who::default(), "get", "/api/openapi.json", None);
        for k in dci::Kind::ALL {
            assert!(
                doc["paths"].get(format!("/dci{}", k.path())).is_some(),
                "{}",
                k.path()
            );
        }
    }
}

#[test]
fn a_sync_search_and_its_answer_follow_the_standard() {
    let (f, _busy) = fixture();
    for r in &f.all {
        let search = r.sync_search(&f.keys);
        check(&SPEC, &request_schema("/registry/sync/search"), &search.env);
        let (st, v) = &search.answer;
        assert_eq!(*st, 200, "{v}");
        check(&SPEC, &sync_response("/registry/sync/search"), v);
        assert_eq!(v["header"]["action"], "on-search");
        assert_eq!(v["header"]["status"], "succ");
    }
}

#[test]
fn a_sync_answer_is_signed_by_this_registry() {
    let (f, _busy) = fixture();
    for r in &f.all {
        let v = &r.sync_search(&f.keys).answer.1;
        dci::verify(
            v["signature"].as_str().unwrap(),
            &f.keys.registry_public,
            "siis.gov.py",
            &v["header"],
            &v["message"],
            vamos_server::auth::now().timestamp(),
        )
        .unwrap();
    }
}

#[test]
fn a_search_by_id_finds_the_person_in_scope() {
    let (f, _busy) = fixture();
    for r in &f.all {
        let r1 = r.searched(&f.keys, "r1");
        assert_eq!(r1["status"], "succ");
        assert_eq!(ids_of(&r1), vec![r.pv.to_string()]);
    }
}

#[test]
fn a_search_discloses_only_the_agreed_fields() {
    let (f, _busy) = fixture();
    for r in &f.all {
        // No cédula, no sex, no survey answers.
        let rec = r.searched(&f.keys, "r1")["data"]["reg_records"][0].clone();
        assert!(rec["demographic_info"].get("identifier").is_none(), "{rec}");
        assert!(
            rec["demographic_info"].get("sex").is_none()
                && rec.get("additional_attributes").is_none(),
            "{rec}"
        );
        assert_eq!(rec["demographic_info"]["address"]["city"], "1116");
    }
}

#[test]
fn a_person_outside_the_senders_territory_is_not_found() {
    let (f, _busy) = fixture();
    for r in &f.all {
        let r2 = r.searched(&f.keys, "r2");
        assert_eq!(
            (
                r2["status"].as_str(),
                r2["pagination"]["total_count"].as_i64()
            ),
            (Some("succ"), Some(0))
        );
    }
}

#[test]
fn an_expression_search_returns_the_requested_page() {
    let (f, _busy) = fixture();
    for r in &f.all {
        let r3 = r.searched(&f.keys, "r3");
        assert_eq!(
            r3["pagination"],
            json!({"page_size": 2, "page_number": 2, "total_count": r.villeta.len()})
        );
        let expected: Vec<String> = r.villeta[2..4]
            .iter()
            .map(|p| p["id"].to_string())
            .collect();
        assert_eq!(ids_of(&r3), expected);
    }
}

#[test]
fn a_predicate_search_counts_everyone_in_scope() {
    let (f, _busy) = fixture();
    for r in &f.all {
        let r4 = r.searched(&f.keys, "r4");
        assert_eq!(
            r4["pagination"]["total_count"].as_u64().unwrap() as usize,
            r.villeta.len()
        );
    }
}

#[test]
fn a_filter_on_an_unknown_attribute_is_rejected() {
    let (f, _busy) = fixture();
    for r in &f.all {
        assert_eq!(
            r.searched(&f.keys, "r5")["status_reason_code"],
            "rjct.filter.invalid"
        );
    }
}

#[test]
fn a_search_for_groups_is_rejected() {
    let (f, _busy) = fixture();
    for r in &f.all {
        assert_eq!(
            r.searched(&f.keys, "r6")["status_reason_code"],
            "rjct.search_criteria.invalid"
        );
    }
}

#[test]
fn a_replayed_message_is_refused_as_a_whole() {
    let (f, _busy) = fixture();
    for r in &f.all {
        let (st, v) = &r.sync_search(&f.keys).replayed;
        assert_eq!(*st, 200);
        check(&SPEC, &sync_response("/registry/sync/search"), v);
        assert_eq!(
            (
                v["header"]["status"].as_str(),
                v["header"]["status_reason_code"].as_str()
            ),
            (Some("rjct"), Some("rjct.message_id.duplicate"))
        );
    }
}

/// Posts `env` to the synchronous search: a transport error with the standard's code.
fn refused(r: &Registry, keys: &Keys, env: Value, status: u16, code: &str) {
    let (st, v) = r.client(keys).post("/registry/sync/search", &env);
    assert_eq!(
        (st, v["errors"][0]["code"].as_str()),
        (status, Some(code)),
        "{v}"
    );
    check(&SPEC, HTTP_ERROR, &v);
}

#[test]
fn an_unsigned_request_is_refused() {
    let (f, _busy) = fixture();
    for r in &f.all {
        let mut unsigned = r.fresh(&r.client(&f.keys));
        unsigned.as_object_mut().unwrap().remove("signature");
        refused(r, &f.keys, unsigned, 401, "err.signature.missing");
    }
}

#[test]
fn a_tampered_request_is_refused() {
    let (f, _busy) = fixture();
    for r in &f.all {
        let mut tampered = r.fresh(&r.client(&f.keys));
        tampered["message"]["transaction_id"] = "otra".into();
        refused(r, &f.keys, tampered, 401, "err.signature.invalid");
    }
}

#[test]
fn a_request_in_the_name_of_another_sender_is_refused() {
    let (f, _busy) = fixture();
    for r in &f.all {
        let mut wrong_sender = r.fresh(&r.client(&f.keys));
        wrong_sender["header"]["sender_id"] = "otro.sistema".into();
        refused(r, &f.keys, wrong_sender, 403, "err.sender_id.invalid");
    }
}

#[test]
fn a_signed_request_for_another_action_is_rejected() {
    let (f, _busy) = fixture();
    for r in &f.all {
        let c = r.client(&f.keys);
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
        let (st, v) = c.post("/registry/sync/search", &wrong_action);
        assert_eq!(
            v["header"]["status_reason_code"], "rjct.action.invalid",
            "{st} {v}"
        );
    }
}

#[test]
fn an_unknown_token_is_unauthorized() {
    let (f, _busy) = fixture();
    for r in &f.all {
        let anon = Client {
            s: &r.s,
            token: "vamos_x_y".into(),
            sender: "his.mspbs".into(),
            key: None,
        };
        let (st, v) = anon.post("/registry/sync/search", &r.fresh(&r.client(&f.keys)));
        assert_eq!(
            (st, v["errors"][0]["code"].as_str()),
            (401, Some("err.request.unauthorized"))
        );
    }
}

#[test]
fn an_async_search_is_acknowledged_then_answered_to_the_senders_on_search() {
    let (f, _busy) = fixture();
    for r in &f.all {
        let a = r.async_search(&f.keys);
        check(&SPEC, &request_schema("/registry/search"), &a.env);
        let (st, v) = &a.ack;
        assert_eq!(
            (*st, v["message"]["ack_status"].as_str()),
            (200, Some("ACK")),
            "{v}"
        );
        check(&SPEC, ACK, v);
        let cb = &a.callback;
        check(&SPEC, &request_schema("/registry/on-search"), cb);
        assert_eq!(
            ids_of(&cb["message"]["search_response"][0]),
            vec![r.pv.to_string()]
        );
    }
}

#[test]
fn an_async_answer_is_signed_by_this_registry() {
    let (f, _busy) = fixture();
    for r in &f.all {
        let cb = &r.async_search(&f.keys).callback;
        dci::verify(
            cb["signature"].as_str().unwrap(),
            &f.keys.registry_public,
            "siis.gov.py",
            &cb["header"],
            &cb["message"],
            vamos_server::auth::now().timestamp(),
        )
        .unwrap();
    }
}

#[test]
fn the_sync_transaction_status_reports_a_search_without_its_records() {
    let (f, _busy) = fixture();
    for r in &f.all {
        let c = r.client(&f.keys);
        let correlation = &r.async_search(&f.keys).correlation;
        let env = c.envelope("txn-status", r.status_message(&f.keys), 1);
        check(&SPEC, &request_schema("/registry/sync/txn/status"), &env);
        let (st, v) = c.post("/registry/sync/txn/status", &env);
        assert_eq!(st, 200, "{v}");
        check(&SPEC, &sync_response("/registry/sync/txn/status"), &v);
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
    }
}

#[test]
fn the_async_transaction_status_is_answered_to_the_senders_on_status() {
    let (f, _busy) = fixture();
    for r in &f.all {
        let c = r.client(&f.keys);
        let (st, v) = c.post(
            "/registry/txn/status",
            &c.envelope("txn-status", r.status_message(&f.keys), 1),
        );
        assert_eq!(
            (st, v["message"]["ack_status"].as_str()),
            (200, Some("ACK"))
        );
        let cid = v["message"]["correlation_id"].as_str().unwrap().to_string();
        let cb = r.inbox.wait("/registry/txn/on-status", |b| {
            b["message"]["correlation_id"] == cid.as_str()
        });
        check(&SPEC, &request_schema("/registry/txn/on-status"), &cb);
    }
}

/// A transaction-status request for a transaction that never was.
fn unknown_transaction() -> Value {
    json!({"transaction_id": "t-3", "txnstatus_request": {"reference_id": "s2", "txn_type": "search", "attribute_type": "transaction_id", "attribute_value": "nunca"}})
}

#[test]
fn a_subscription_is_acknowledged_then_confirmed_with_its_code() {
    let (f, _busy) = fixture();
    for r in &f.all {
        let sub = r.subscription(&f.keys);
        check(&SPEC, &request_schema("/registry/subscribe"), &sub.env);
        let (st, v) = &sub.ack;
        assert_eq!(
            (*st, v["message"]["ack_status"].as_str()),
            (200, Some("ACK")),
            "{v}"
        );
        check(
            &SPEC,
            &request_schema("/registry/on-subscribe"),
            &sub.confirmed,
        );
    }
}

#[test]
fn the_same_subscription_twice_is_refused() {
    let (f, _busy) = fixture();
    for r in &f.all {
        let cb = &r.subscription(&f.keys).again;
        assert_eq!(
            cb["message"]["subscribe_response"][0]["status_reason_code"],
            "rjct.event.already_subscribed"
        );
    }
}

#[test]
fn a_subscriber_is_notified_of_new_registrations_in_its_scope_only() {
    let (f, _busy) = fixture();
    for r in &f.all {
        let note = &r.subscription(&f.keys).note;
        check(&SPEC, &request_schema("/registry/notify"), note);
        let events = note["message"]["notify_event"].as_array().unwrap();
        assert!(!events.is_empty());
        for e in events {
            assert_eq!(e["data"]["reg_event_type"], "REGISTER");
            assert_eq!(
                e["data"]["reg_records"]["demographic_info"]["address"]["city"], "1116",
                "{e}"
            );
        }
    }
}

#[test]
fn each_new_person_in_scope_is_notified_once() {
    let (f, _busy) = fixture();
    for r in &f.all {
        let sub = r.subscription(&f.keys);
        assert_eq!(
            sub.notified, sub.new_in_villeta,
            "each new Villeta person notified once"
        );
    }
}

#[test]
fn unsubscribing_is_confirmed_to_the_senders_on_unsubscribe() {
    let (f, _busy) = fixture();
    for r in &f.all {
        let sub = r.subscription(&f.keys);
        check(
            &SPEC,
            &request_schema("/registry/unsubscribe"),
            &sub.unsubscribe_env,
        );
        let cb = &sub.unsubscribed;
        check(&SPEC, &request_schema("/registry/on-unsubscribe"), cb);
        assert_eq!(
            cb["message"]["subscription_status"][0],
            json!({"code": sub.code, "status": "unsubscribe"})
        );
    }
}

/// Every DCI action (searching, subscribing, notifying, unsubscribing) once the subscription's
/// sequence has run, and the audited actions of the MSPBS system then.
fn audited(r: &Registry, keys: &Keys) -> Vec<String> {
    r.sync_search(keys);
    r.subscription(keys);
    r.audited_dci_actions()
}

#[test]
fn every_dci_disclosure_is_audited() {
    let (f, _busy) = fixture();
    for r in &f.all {
        let actions = audited(r, &f.keys);
        for a in [
            "buscar personas (DCI)",
            "suscribir (DCI)",
            "notificar registros (DCI)",
            "cancelar suscripción (DCI)",
        ] {
            assert!(actions.iter().any(|x| x == a), "{a}: {actions:?}");
        }
    }
}

#[test]
fn the_audit_chain_holds_after_dci_traffic() {
    // Alone: no other test's request is half-way through while the chain is read.
    let f = &*FIXTURE;
    for r in &f.all {
        audited(r, &f.keys);
    }
    let _quiet = QUIET.write().unwrap_or_else(PoisonError::into_inner);
    for r in &f.all {
        ok(&vamos(&["audit", "verify", "--db", &r.url], &f.keys.d, &[]));
    }
}

// ---------------------------------------------------------------------------------------------
// Conformance to the standard (issue 35, items 13–15) and the audit subject of searches that
// find nobody (item 10): an unknown transaction, a failed asynchronous call, identifiers given
// as text, a subscription filter of the identifier form and malformed envelopes are all
// answered in the standard's envelope, each checked against its schema.

/// Posts `body` as it is (not necessarily JSON) to `path` under `/dci` with the MSPBS token.
fn post_text(r: &Registry, path: &str, body: &str) -> (u16, Value) {
    let resp = agent()
        .post(format!("{}/dci{path}", r.s.base))
        .header("authorization", format!("Bearer {}", r.token))
        .header("content-type", "application/json")
        .send(body)
        .unwrap();
    let status = resp.status().as_u16();
    let text = resp.into_body().read_to_string().unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// A search message of one request for `query` (idtype-value), reference `rid`.
fn one_search(rid: &str, id_type: &str, value: Value) -> Value {
    search_message(vec![(
        rid,
        "idtype-value",
        json!({"type": id_type, "value": value}),
        None,
    )])
}

#[test]
fn dci_txn_status_for_an_unknown_transaction_is_an_envelope() {
    let (f, _busy) = fixture();
    for r in &f.all {
        let c = r.client(&f.keys);
        let (st, v) = c.post(
            "/registry/sync/txn/status",
            &c.envelope("txn-status", unknown_transaction(), 1),
        );
        assert_eq!(st, 200, "{v}");
        check(&SPEC, &sync_response("/registry/sync/txn/status"), &v);
        assert_eq!(
            (
                v["header"]["action"].as_str(),
                v["header"]["status"].as_str()
            ),
            (Some("txn-on-status"), Some("succ")),
            "{v}"
        );
        assert_eq!(v["message"]["transaction_id"], "t-3", "{v}");
        assert!(
            v["message"]["correlation_id"]
                .as_str()
                .is_some_and(|c| !c.is_empty()),
            "{v}"
        );
        // Nothing found: an empty list under what was asked for.
        assert_eq!(
            v["message"]["txnstatus_response"],
            json!({"txn_type": "search", "txn_status": {"transaction_id": "nunca", "correlation_id": "", "search_response": []}}),
            "{v}"
        );
        assert!(v["header"]["status_reason_message"]
            .as_str()
            .unwrap()
            .contains("ninguna transacción"));
    }
}

#[test]
fn dci_on_status_callback_always_carries_the_message() {
    let (f, _busy) = fixture();
    for r in &f.all {
        let c = r.client(&f.keys);
        // The status of receipts, which this registry does not keep: rejected, with the code.
        let receipt = json!({"transaction_id": "t-4", "txnstatus_request": {"reference_id": "s4", "txn_type": "receipt", "attribute_type": "transaction_id", "attribute_value": "t-1"}});
        for (msg, status) in [(unknown_transaction(), "succ"), (receipt, "rjct")] {
            let (st, ack) = c.post(
                "/registry/txn/status",
                &c.envelope("txn-status", msg.clone(), 1),
            );
            assert_eq!(
                (st, ack["message"]["ack_status"].as_str()),
                (200, Some("ACK")),
                "{ack}"
            );
            let cid = ack["message"]["correlation_id"]
                .as_str()
                .unwrap()
                .to_string();
            let cb = r.inbox.wait("/registry/txn/on-status", |b| {
                b["message"]["correlation_id"] == cid.as_str()
            });
            check(&SPEC, &request_schema("/registry/txn/on-status"), &cb);
            assert_eq!(cb["header"]["status"], status, "{cb}");
            assert_eq!(
                cb["message"]["transaction_id"], msg["transaction_id"],
                "{cb}"
            );
            if status == "rjct" {
                let item = &cb["message"]["txnstatus_response"]["txn_status"]["search_response"][0];
                assert_eq!(
                    (
                        item["reference_id"].as_str(),
                        item["status_reason_code"].as_str()
                    ),
                    (Some("s4"), Some("rjct.search_criteria.invalid")),
                    "{cb}"
                );
            }
        }
    }
}

/// A sender whose institution has no data-sharing agreement (the work of its messages fails
/// with a refusal): its API client, registered once per backend.
fn sender_without_agreement<'a>(r: &'a Registry, keys: &Keys) -> Client<'a> {
    static TOKENS: Mutex<Vec<(String, String)>> = Mutex::new(Vec::new());
    let mut tokens = TOKENS.lock().unwrap();
    let token = match tokens.iter().find(|(url, _)| *url == r.url) {
        Some((_, t)) => t.clone(),
        None => {
            let d = keys.d.as_path();
            let url = r.url.as_str();
            ok(&vamos(
                &[
                    "user",
                    "create",
                    "--db",
                    url,
                    "minna",
                    "--role",
                    "operador",
                    "--institution",
                    "MINNA",
                    "--territories",
                    "1116",
                ],
                d,
                &[("VAMOS_PASSWORD", PW)],
            ));
            let t = ok(&vamos(
                &[
                    "token", "create", "--db", url, "--user", "minna", "--name", "MINNA",
                    "--scopes", "dci",
                ],
                d,
                &[],
            ));
            ok(&vamos(
                &[
                    "dci",
                    "sender",
                    "add",
                    "--db",
                    url,
                    "--id",
                    "minna",
                    "--user",
                    "minna",
                    "--callback-base",
                    &r.inbox.base,
                ],
                d,
                &[],
            ));
            tokens.push((r.url.clone(), t.clone()));
            t
        }
    };
    Client {
        s: &r.s,
        token,
        sender: "minna".into(),
        key: None,
    }
}

#[test]
fn dci_a_refused_async_search_still_answers_with_the_message() {
    let (f, _busy) = fixture();
    for r in &f.all {
        let c = sender_without_agreement(r, &f.keys);
        let env = c.envelope(
            "search",
            one_search("q1", "UIN", json!(r.pv.to_string())),
            1,
        );
        let (st, ack) = c.post("/registry/search", &env);
        assert_eq!(
            (st, ack["message"]["ack_status"].as_str()),
            (200, Some("ACK")),
            "{ack}"
        );
        let cid = ack["message"]["correlation_id"]
            .as_str()
            .unwrap()
            .to_string();
        let cb = r.inbox.wait("/registry/on-search", |b| {
            b["message"]["correlation_id"] == cid.as_str()
        });
        check(&SPEC, &request_schema("/registry/on-search"), &cb);
        assert_eq!(
            (
                cb["header"]["status"].as_str(),
                cb["header"]["status_reason_code"].as_str()
            ),
            (Some("rjct"), Some("rjct.action.not_supported")),
            "{cb}"
        );
        assert!(cb["header"]["status_reason_message"]
            .as_str()
            .unwrap()
            .contains("acuerdo"));
        assert_eq!(cb["message"]["transaction_id"], "t-1", "{cb}");
        let item = &cb["message"]["search_response"][0];
        assert_eq!(
            (item["reference_id"].as_str(), item["status"].as_str()),
            (Some("q1"), Some("rjct")),
            "{cb}"
        );
        assert!(item.get("data").is_none(), "{cb}");
    }
}

#[test]
fn dci_a_non_numeric_uin_finds_nothing() {
    let (f, _busy) = fixture();
    for r in &f.all {
        let c = r.client(&f.keys);
        // (A NationalID filter needs `national_id` in the agreement, which this client's lacks:
        // refused whatever its value — `dci_predicates_cannot_probe_fields_outside_the_agreement`.)
        for (id_type, value) in [("UIN", "ABC-123"), ("UIN", "PY-4.567.890")] {
            let (st, v) = c.post(
                "/registry/sync/search",
                &c.envelope("search", one_search("n1", id_type, json!(value)), 1),
            );
            assert_eq!(st, 200, "{v}");
            check(&SPEC, &sync_response("/registry/sync/search"), &v);
            let item = &v["message"]["search_response"][0];
            assert_eq!(
                (
                    item["status"].as_str(),
                    item["pagination"]["total_count"].as_i64(),
                    item["data"]["reg_records"].as_array().map(Vec::len)
                ),
                (Some("succ"), Some(0), Some(0)),
                "{id_type} {value}: {v}"
            );
        }
    }
}

/// Posts a subscribe message and waits for its `on-subscribe` callback, both checked against the
/// standard's schemas.
fn subscribe_and_wait(r: &Registry, c: &Client, sub: Value) -> Value {
    let env = c.envelope("subscribe", sub, 1);
    check(&SPEC, &request_schema("/registry/subscribe"), &env);
    let (_, ack) = c.post("/registry/subscribe", &env);
    let cid = ack["message"]["correlation_id"]
        .as_str()
        .unwrap()
        .to_string();
    let cb = r.inbox.wait("/registry/on-subscribe", |b| {
        b["message"]["correlation_id"] == cid.as_str()
    });
    check(&SPEC, &request_schema("/registry/on-subscribe"), &cb);
    cb
}

#[test]
fn dci_subscribe_accepts_an_identifier_filter() {
    let (f, _busy) = fixture();
    for r in &f.all {
        let c = r.client(&f.keys);
        // The standard's identifier form of a filter, without filter_type.
        let sub = json!({"transaction_id": "t-sub-id", "subscribe_request": [{"reference_id": "subid", "timestamp": "2026-11-23T10:00:00-03:00",
            "subscribe_criteria": {"reg_event_type": "REGISTER", "filter": {"type": "UIN", "value": r.pv.to_string()}, "notify_record_type": "Member"}}]});
        let cb = subscribe_and_wait(r, &c, sub);
        let item = &cb["message"]["subscribe_response"][0];
        assert_eq!(item["status"], "succ", "{cb}");
        assert_eq!(
            item["subscriptions"][0]["filter_type"], "idtype-value",
            "{cb}"
        );
    }
}

#[test]
fn dci_malformed_envelopes_get_a_header() {
    let (f, _busy) = fixture();
    let header = json!({"version": "1.0.0", "message_id": "mal-1", "message_ts": "2026-11-23T10:00:00-03:00",
        "action": "search", "sender_id": "his.mspbs", "receiver_id": "siis.gov.py", "total_count": 1});
    let with = |k: &str, v: Value| {
        let mut h = header.clone();
        h[k] = v;
        json!({"header": h, "message": {"transaction_id": "t-1", "search_request": []}}).to_string()
    };
    for r in &f.all {
        for (body, code, says) in [
            ("{\"header\": ".to_string(), None, "no es JSON válido"),
            ("[1, 2]".to_string(), None, "falta header"),
            (json!({"header": "x"}).to_string(), None, "falta header"),
            (json!({"header": header}).to_string(), None, "falta message"),
            (
                with("message_ts", json!("ayer")),
                Some("rjct.message_ts.invalid"),
                "message_ts",
            ),
            (
                with("total_count", json!("uno")),
                Some("rjct.total_count.invalid"),
                "total_count",
            ),
            (
                with("action", json!(7)),
                Some("rjct.action.invalid"),
                "action",
            ),
        ] {
            for (path, action) in [
                ("/registry/sync/search", "on-search"),
                ("/registry/sync/txn/status", "txn-on-status"),
            ] {
                let (st, v) = post_text(r, path, &body);
                assert_eq!(st, 200, "{path} {body}: {v}");
                check(&SPEC, &sync_response(path), &v);
                let h = &v["header"];
                assert_eq!(
                    (
                        h["action"].as_str(),
                        h["status"].as_str(),
                        h["status_reason_code"].as_str()
                    ),
                    (Some(action), Some("rjct"), code),
                    "{path} {body}: {v}"
                );
                assert!(
                    h["status_reason_message"].as_str().unwrap().contains(says),
                    "{path} {body}: {v}"
                );
            }
        }
    }
}

#[test]
fn dci_malformed_envelopes_to_async_endpoints_get_an_err_acknowledgement() {
    let (f, _busy) = fixture();
    for r in &f.all {
        for body in ["no es json", "{\"header\": \"x\"}"] {
            let (st, v) = post_text(r, "/registry/search", body);
            assert_eq!(st, 200, "{body}: {v}");
            check(&SPEC, ACK, &v);
            assert_eq!(
                (
                    v["message"]["ack_status"].as_str(),
                    v["message"]["error"]["code"].as_str()
                ),
                (Some("ERR"), Some("err.request.bad")),
                "{body}: {v}"
            );
        }
    }
}

#[test]
fn dci_zero_record_searches_are_audited_with_a_subject() {
    let (f, _busy) = fixture();
    for r in &f.all {
        let c = r.client(&f.keys);
        // The San Juan person is outside the sender's territory: found nowhere.
        let (_, v) = c.post(
            "/registry/sync/search",
            &c.envelope(
                "search",
                one_search("z1", "UIN", json!(r.ps.to_string())),
                1,
            ),
        );
        assert_eq!(
            v["message"]["search_response"][0]["pagination"]["total_count"], 0,
            "{v}"
        );
        let cid = v["message"]["correlation_id"].as_str().unwrap().to_string();
        let t0 = Instant::now();
        let row = loop {
            let (_, trail, _) = call(&r.s, &r.admin, "get", "/api/audit?limit=200", None);
            let found = trail["items"].as_array().unwrap().iter().find(|x| {
                x["action"] == "buscar personas (DCI)"
                    && x["outcome"].as_str().unwrap().contains(&cid)
            });
            if let Some(row) = found {
                break row.clone();
            }
            assert!(t0.elapsed() < Duration::from_secs(10), "not audited");
            std::thread::sleep(Duration::from_millis(100));
        };
        assert_eq!(
            row["subject_id"], "ninguna persona: solicitudes z1 (idtype-value)",
            "{row}"
        );
    }
}

#[test]
fn dci_a_subscription_filter_outside_the_agreement_is_refused() {
    let (f, _busy) = fixture();
    for r in &f.all {
        let c = r.client(&f.keys);
        // This client's agreement has no `national_id`: every notification of such a
        // subscription would answer "someone with a cédula below N registered".
        let sub = json!({"transaction_id": "t-sub-hidden", "subscribe_request": [{"reference_id": "hidden", "timestamp": "2026-11-23T10:00:00-03:00",
            "subscribe_criteria": {"reg_event_type": "REGISTER", "filter_type": "expression",
                "filter": {"national_id": {"$lt": 5_000_000}}, "notify_record_type": "Member"}}]});
        let cb = subscribe_and_wait(r, &c, sub);
        let item = &cb["message"]["subscribe_response"][0];
        assert_eq!(
            (item["status"].as_str(), item["status_reason_code"].as_str()),
            (Some("rjct"), Some("rjct.notify_details.invalid")),
            "{cb}"
        );
        assert!(
            item["status_reason_message"]
                .as_str()
                .unwrap()
                .contains("«national_id»"),
            "{cb}"
        );
    }
}
