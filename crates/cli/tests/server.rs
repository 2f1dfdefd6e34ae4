//! Black-box tests of `vamos serve`: the real binary on a free port over a fresh database
//! (SQLite, and PostgreSQL when configured), spoken to over HTTP — login and lock-out, CSRF,
//! API tokens, the authorization matrix (every role × every GET endpoint of the OpenAPI
//! document × in-scope / out-of-scope), agreement field filtering, the audit chain (an edited
//! row is detected by `vamos audit verify`), public small-cell suppression, OpenAPI 3.1.

// Tests fail loudly on purpose: unwrap, panic and indexing are how they assert.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use serde_json::{json, Value};
use vamos_domain::{Permission, Role};
use vamos_store::testing::all_dbs;

mod common;
use common::*;

#[test]
fn the_server_enforces_roles_scopes_agreements_and_audits_every_read() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let o = vamos(
        &[
            "synth",
            "--households",
            "300",
            "--seed",
            "5",
            "--out",
            "datos",
            "--reference-date",
            "2026-11-01",
        ],
        d,
        &[],
    );
    assert!(o.status.success());
    for db in all_dbs() {
        let url = db.url.as_str();
        let o = vamos(
            &["db", "init", "--db", url],
            d,
            &[("VAMOS_ADMIN_PASSWORD", PW)],
        );
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        assert!(vamos(
            &[
                "import",
                "fips",
                "--db",
                url,
                "datos",
                "--date",
                "2026-11-23"
            ],
            d,
            &[]
        )
        .status
        .success());
        assert!(
            vamos(&["classify", "--db", url, "--as-of", "2026-11-23"], d, &[])
                .status
                .success()
        );
        let s = start(url, d);
        let anon = Who::default();

        // Service endpoints and the OpenAPI document.
        assert_eq!(call(&s, &anon, "get", "/api/health", None).0, 200);
        assert_eq!(call(&s, &anon, "get", "/api/ready", None).0, 200);
        let (st, doc, _) = call(&s, &anon, "get", "/api/openapi.json", None);
        assert_eq!(st, 200);
        assert_eq!(doc["openapi"], "3.1.0");
        let paths = doc["paths"].as_object().unwrap();
        assert!(
            paths.contains_key("/api/persons/{id}") && paths.contains_key("/api/public/logros")
        );

        // Login: wrong password is refused the same as an unknown user; repeated failures lock.
        let admin = login(&s, "admin", PW);
        assert_eq!(
            call(
                &s,
                &anon,
                "post",
                "/api/session",
                Some(json!({"username": "admin", "password": "x"}))
            )
            .0,
            401
        );
        assert_eq!(
            call(
                &s,
                &anon,
                "post",
                "/api/session",
                Some(json!({"username": "nadie", "password": "x"}))
            )
            .0,
            401
        );

        // Find two households in different districts (admin sees the nation).
        let (st, hh, _) = call(&s, &admin, "get", "/api/households?limit=200", None);
        assert_eq!(st, 200, "{hh}");
        let items = hh["items"].as_array().unwrap();
        let first = &items[0];
        let other = items
            .iter()
            .find(|h| h["district_code"] != first["district_code"])
            .expect("two districts");
        let (da, db_) = (
            first["district_code"].as_i64().unwrap(),
            other["district_code"].as_i64().unwrap(),
        );
        let dept_a = da / 100;
        let (_, ha, _) = call(
            &s,
            &admin,
            "get",
            &format!("/api/households/{}", first["id"]),
            None,
        );
        let (_, hb, _) = call(
            &s,
            &admin,
            "get",
            &format!("/api/households/{}", other["id"]),
            None,
        );
        let pa = ha["members"][0]["id"].as_i64().unwrap();
        let pb = hb["members"][0]["id"].as_i64().unwrap();
        let ca = ha["community_id"].as_i64().unwrap();
        let cb = hb["community_id"].as_i64().unwrap();

        // CSRF: a state-changing request with the session cookie but no token is refused.
        let no_csrf = Who {
            csrf: None,
            ..admin.clone()
        };
        let newu = |u: &str, role: &str, inst: Option<&str>, terr: &str| json!({"username": u, "password": PW, "role": role, "institution": inst, "territories": terr});
        assert_eq!(
            call(
                &s,
                &no_csrf,
                "post",
                "/api/users",
                Some(newu("x1", "analista", None, ""))
            )
            .0,
            403
        );
        // Accounts for every role; territorial roles bound to district A.
        let ta = format!("{da:04}");
        for (u, role, inst) in [
            ("ana", "analista", None),
            ("coord", "coordinador", None),
            ("oper", "operador", Some("MSPBS")),
            ("mesa", "mesa", None),
            ("enc", "encuestador", None),
            ("ori", "orientador", None),
        ] {
            let (st, v, _) = call(
                &s,
                &admin,
                "post",
                "/api/users",
                Some(newu(u, role, inst, &ta)),
            );
            assert_eq!(st, 201, "{u}: {v}");
        }
        // Policy and role checks are clear errors.
        let (st, v, _) = call(
            &s,
            &admin,
            "post",
            "/api/users",
            Some(json!({"username": "corto", "password": "abc", "role": "analista"})),
        );
        assert_eq!(st, 400);
        assert!(v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("12 caracteres"));
        assert_eq!(
            call(
                &s,
                &admin,
                "post",
                "/api/users",
                Some(newu("sinterr", "mesa", None, ""))
            )
            .0,
            400
        );

        // The operator sees nothing personal until its institution has an agreement.
        let oper = login(&s, "oper", PW);
        assert_eq!(
            call(&s, &oper, "get", &format!("/api/persons/{pa}"), None).0,
            403
        );
        let (st, v, _) = call(
            &s,
            &admin,
            "post",
            "/api/agreements",
            Some(
                json!({"institution": "MSPBS", "fields": ["given_names", "family_names", "birth_date", "district_code"], "purpose": "referencia de controles prenatales", "valid_from": "2026-01-01", "valid_to": "2030-12-31"}),
            ),
        );
        assert_eq!(st, 201, "{v}");

        // The matrix: every role × every GET endpoint with a permission × in / out of scope.
        let mut who: Vec<(Role, Who)> = vec![
            (Role::Administrador, admin.clone()),
            (Role::Publico, anon.clone()),
        ];
        for (u, r) in [
            ("ana", Role::Analista),
            ("coord", Role::Coordinador),
            ("oper", Role::Operador),
            ("mesa", Role::Mesa),
            ("enc", Role::Encuestador),
            ("ori", Role::Orientador),
        ] {
            who.push((r, login(&s, u, PW)));
        }
        let mut checked = 0;
        for (path, ops) in paths {
            let Some(op) = ops.get("get") else { continue };
            let Some(perm) = op["x-vamos-permission"]
                .as_str()
                .and_then(Permission::parse)
            else {
                continue;
            };
            let personal = op["x-vamos-personal-data"].as_bool().unwrap();
            for inside in [true, false] {
                let (p, h, c) = if inside {
                    (pa, first["id"].as_i64().unwrap(), ca)
                } else {
                    (pb, other["id"].as_i64().unwrap(), cb)
                };
                let concrete = path
                    .replace("/persons/{id}", &format!("/persons/{p}"))
                    .replace("/households/{id}", &format!("/households/{h}"))
                    .replace("/communities/{id}", &format!("/communities/{c}"))
                    .replace("/measurements/{id}", "/measurements/1");
                let concrete = if path.ends_with("/persons") {
                    format!("{concrete}?territory={}", if inside { da } else { db_ })
                } else {
                    concrete
                };
                for (role, w) in &who {
                    let (st, body, _) = call(&s, w, "get", &concrete, None);
                    let expected = if *role == Role::Publico {
                        401
                    } else if !role.grants(perm) {
                        403
                    } else if personal
                        && !inside
                        && !role.is_national()
                        && concrete.contains("/api/")
                        && path.contains("{id}")
                    {
                        // Exists, but outside the account's territories.
                        403
                    } else {
                        200
                    };
                    assert_eq!(st, expected, "{role:?} GET {concrete}: {body}");
                    // Lists filtered by scope: nothing of district B reaches a district-A account.
                    if st == 200 && !role.is_national() && personal {
                        for it in body["items"].as_array().into_iter().flatten() {
                            if let Some(dc) = it.get("district_code").and_then(Value::as_i64) {
                                assert_eq!(dc, da, "{role:?} saw district {dc} at {concrete}");
                            }
                        }
                        if path.ends_with("/persons") && !inside {
                            assert!(
                                body["items"].as_array().unwrap().is_empty(),
                                "{role:?} {concrete}: {body}"
                            );
                        }
                    }
                    checked += 1;
                }
            }
        }
        assert!(checked >= 8 * 2 * 12, "matrix too small: {checked}");

        // Field filtering: the operator sees the agreed fields only; the Mesa its fixed set.
        let (_, v, _) = call(&s, &who[4].1, "get", &format!("/api/persons/{pa}"), None);
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            vec![
                "birth_date",
                "district_code",
                "family_names",
                "given_names",
                "id"
            ],
            "{v}"
        );
        let (_, v, _) = call(&s, &who[5].1, "get", &format!("/api/persons/{pa}"), None);
        assert!(
            v.get("national_id").is_some() && v.get("embarazada").is_none(),
            "{v}"
        );
        // The acceptance case: an MSPBS operator scoped to Villeta (1116) gets 403 for a person
        // of San Juan Nepomuceno (0607), sees only the agreed fields in Villeta, and both reads
        // are in the audit trail.
        let (st, v, _) = call(
            &s,
            &admin,
            "post",
            "/api/users",
            Some(newu("mspbs_villeta", "operador", Some("MSPBS"), "1116")),
        );
        assert_eq!(st, 201, "{v}");
        let first_in = |t: &str| {
            let (st, v, _) = call(
                &s,
                &admin,
                "get",
                &format!("/api/persons?territory={t}&limit=1"),
                None,
            );
            assert_eq!(st, 200, "{v}");
            v["items"][0]["id"]
                .as_i64()
                .expect("a person in the district")
        };
        let (villeta, sjn) = (first_in("1116"), first_in("0607"));
        let op = login(&s, "mspbs_villeta", PW);
        let (st, v, _) = call(&s, &op, "get", &format!("/api/persons/{sjn}"), None);
        assert_eq!(st, 403, "{v}");
        assert!(v["error"]["message"].as_str().unwrap().contains("ámbito"));
        let (st, v, _) = call(&s, &op, "get", &format!("/api/persons/{villeta}"), None);
        assert_eq!(st, 200, "{v}");
        let agreed = [
            "birth_date",
            "district_code",
            "family_names",
            "given_names",
            "id",
        ];
        assert!(
            v.as_object()
                .unwrap()
                .keys()
                .all(|k| agreed.contains(&k.as_str())),
            "{v}"
        );
        let (_, trail, _) = call(&s, &admin, "get", "/api/audit?actor=mspbs_villeta", None);
        let outcomes: Vec<(String, String)> = trail["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["action"] == "leer persona")
            .map(|r| {
                (
                    r["subject_id"].as_str().unwrap().to_string(),
                    r["outcome"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        assert!(
            outcomes.contains(&(
                sjn.to_string(),
                "denegado: fuera de su ámbito territorial".into()
            )) && outcomes.contains(&(villeta.to_string(), "ok".into())),
            "{trail}"
        );

        // A department scope covers its districts.
        let (st, _, _) = call(
            &s,
            &admin,
            "post",
            "/api/users",
            Some(newu("mesadep", "mesa", None, &format!("{dept_a:02}"))),
        );
        assert_eq!(st, 201);
        assert_eq!(
            call(
                &s,
                &login(&s, "mesadep", PW),
                "get",
                &format!("/api/persons/{pa}"),
                None
            )
            .0,
            200
        );

        // Tokens: shown once, scoped, revocable.
        let (st, t, _) = call(
            &s,
            &admin,
            "post",
            "/api/tokens",
            Some(
                json!({"username": "oper", "name": "HIS", "scopes": ["registro:leer"], "days": 30}),
            ),
        );
        assert_eq!(st, 201, "{t}");
        let token = Who {
            bearer: Some(t["token"].as_str().unwrap().to_string()),
            ..Who::default()
        };
        assert_eq!(
            call(&s, &token, "get", &format!("/api/persons/{pa}"), None).0,
            200
        );
        assert_eq!(
            call(
                &s,
                &token,
                "get",
                &format!("/api/persons/{pa}/status"),
                None
            )
            .0,
            403,
            "token without estatus:leer"
        );
        assert_eq!(
            call(&s, &token, "get", &format!("/api/persons/{pb}"), None).0,
            403
        );
        let (_, list, _) = call(&s, &admin, "get", "/api/tokens", None);
        assert!(
            !list.to_string().contains(t["token"].as_str().unwrap()),
            "secret never listed"
        );
        assert_eq!(
            call(
                &s,
                &admin,
                "post",
                "/api/tokens",
                Some(json!({"username": "oper", "name": "x", "scopes": ["auditoria:leer"]}))
            )
            .0,
            400,
            "beyond the role"
        );
        assert_eq!(
            call(
                &s,
                &admin,
                "delete",
                &format!("/api/tokens/{}", t["id"]),
                None
            )
            .0,
            204
        );
        assert_eq!(
            call(&s, &token, "get", &format!("/api/persons/{pa}"), None).0,
            401
        );
        let bogus = Who {
            bearer: Some("vamos_abc_def".into()),
            ..Who::default()
        };
        assert_eq!(call(&s, &bogus, "get", "/api/logros", None).0, 401);

        // Lock-out after repeated failures (threshold 5), with a Spanish message.
        for _ in 0..5 {
            call(
                &s,
                &anon,
                "post",
                "/api/session",
                Some(json!({"username": "enc", "password": "mal"})),
            );
        }
        let (st, v, _) = call(
            &s,
            &anon,
            "post",
            "/api/session",
            Some(json!({"username": "enc", "password": PW})),
        );
        assert_eq!(st, 429, "{v}");
        assert_eq!(v["error"]["code"], "cuenta_bloqueada");

        // Public figures: no login, no cell between 1 and k−1.
        let (st, pubv, _) = call(
            &s,
            &anon,
            "get",
            &format!("/api/public/logros?territory={ta}"),
            None,
        );
        assert_eq!(st, 200, "{pubv}");
        assert_eq!(pubv["min_cell"], 5);
        let mut nulls = 0;
        fn walk(v: &Value, nulls: &mut u32) {
            match v {
                Value::Object(m) => {
                    for (k, x) in m {
                        if [
                            "identified",
                            "protected",
                            "unprotected",
                            "without_data",
                            "applicable",
                        ]
                        .contains(&k.as_str())
                        {
                            match x.as_u64() {
                                Some(n) => {
                                    assert!(n == 0 || n >= 5, "published small cell {k}={n}")
                                }
                                None => *nulls += 1,
                            }
                        } else {
                            walk(x, nulls);
                        }
                    }
                }
                Value::Array(a) => a.iter().for_each(|x| walk(x, nulls)),
                _ => {}
            }
        }
        walk(&pubv["logros"], &mut nulls);
        assert!(
            nulls > 0,
            "a 300-household sample has small cells to suppress"
        );
        assert_eq!(pubv["synthetic_label"], "sintético");

        // Metrics and request ids.
        let (st, m, _) = call(&s, &anon, "get", "/metrics", None);
        assert_eq!(st, 200);
        assert!(m
            .as_str()
            .unwrap()
            .contains("vamos_http_requests_total{method=\"GET\",route=\"/api/persons/{id}\""));

        // The audit trail: reads recorded with actor, role and request id; the chain verifies;
        // an edited row is detected and named.
        let (st, a, _) = call(&s, &admin, "get", "/api/audit?limit=1000", None);
        assert_eq!(st, 200);
        let rows = a["items"].as_array().unwrap();
        assert!(rows.iter().any(|r| r["actor"] == "oper"
            && r["action"] == "leer persona"
            && r["subject_id"].as_str() == Some(pa.to_string().as_str())
            && r["role"] == "operador"
            && r["request_id"].is_string()));
        assert!(rows
            .iter()
            .any(|r| r["outcome"].as_str().unwrap_or("").starts_with("denegado")));
        drop(s);
        let o = vamos(&["audit", "verify", "--db", url], d, &[]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let mut store = vamos_store::open(url).unwrap();
        let original = store
            .sql()
            .query_opt("SELECT actor FROM audit_log WHERE id = 3", &[])
            .unwrap()
            .unwrap()
            .text(0);
        assert_eq!(
            store
                .sql()
                .execute("UPDATE audit_log SET actor = 'otro' WHERE id = 3", &[])
                .unwrap(),
            1
        );
        let o = vamos(&["audit", "verify", "--db", url], d, &[]);
        assert_eq!(o.status.code(), Some(1));
        assert!(
            String::from_utf8_lossy(&o.stderr).contains("registro inválido 3"),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
        store
            .sql()
            .execute(
                "UPDATE audit_log SET actor = $1 WHERE id = 3",
                &[original.into()],
            )
            .unwrap();
        assert!(
            vamos(&["audit", "verify", "--db", url], d, &[])
                .status
                .success(),
            "restored"
        );
        let o = vamos(&["audit", "export", "--db", url], d, &[]);
        assert!(String::from_utf8_lossy(&o.stdout).starts_with("id,fecha_hora,actor"));
        // A deleted row is detected as well.
        store
            .sql()
            .execute("DELETE FROM audit_log WHERE id = 5", &[])
            .unwrap();
        let o = vamos(&["audit", "verify", "--db", url], d, &[]);
        assert_eq!(o.status.code(), Some(1));
        assert!(
            String::from_utf8_lossy(&o.stderr).contains("falta el registro 5"),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
}

/// A web request without following redirects: (status, headers, body).
fn web(
    s: &Server,
    cookies: &str,
    method: &str,
    path: &str,
    form: &[(&str, &str)],
    accept_language: Option<&str>,
) -> (u16, Vec<(String, String)>, String) {
    let a: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into();
    let url = format!("{}{}", s.base, path);
    let resp = if method == "get" {
        let mut r = a.get(&url);
        if !cookies.is_empty() {
            r = r.header("cookie", cookies);
        }
        if let Some(l) = accept_language {
            r = r.header("accept-language", l);
        }
        r.call()
    } else {
        let mut r = a.post(&url);
        if !cookies.is_empty() {
            r = r.header("cookie", cookies);
        }
        r.send_form(form.iter().copied())
    }
    .unwrap();
    let status = resp.status().as_u16();
    let headers = resp
        .headers()
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
        .collect();
    // Templates escape '/' in values as `&#x2f;` (as browsers read it): compare decoded.
    let body = resp
        .into_body()
        .read_to_string()
        .unwrap()
        .replace("&#x2f;", "/");
    (status, headers, body)
}

fn header<'a>(h: &'a [(String, String)], name: &str) -> Vec<&'a str> {
    h.iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
        .collect()
}

/// `name=value` of a `Set-Cookie` for `name`.
fn set_cookie(h: &[(String, String)], name: &str) -> Option<String> {
    header(h, "set-cookie")
        .into_iter()
        .find(|c| c.starts_with(&format!("{name}=")))
        .and_then(|c| c.split(';').next())
        .map(str::to_string)
}

/// The value of hidden field `name` in a page.
fn hidden(body: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let i = body
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} in {body}"))
        + marker.len();
    body[i..]
        .split('"')
        .next()
        .unwrap()
        .replace("&#x2f;", "/")
        .replace("&amp;", "&")
}

#[test]
fn the_web_application_serves_dashboards_catalogue_and_login_in_spanish_and_english() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    synth_pilots(d, "300", "3");
    for db in all_dbs() {
        let url = db.url.as_str();
        init_db(url, d);
        assert!(vamos(
            &[
                "import",
                "fips",
                "--db",
                url,
                "datos",
                "--date",
                "2026-11-23"
            ],
            d,
            &[]
        )
        .status
        .success());
        let s = start(url, d);

        // Before any measurement: the dashboard says what to do, it does not fail.
        let (st, h, body) = web(&s, "", "get", "/logros", &[], None);
        assert_eq!(st, 200, "{body}");
        assert!(body.contains("Todavía no hay mediciones"), "{body}");
        assert!(header(&h, "content-security-policy")[0].contains("default-src 'self'"));
        for date in ["2026-11-01", "2026-11-23"] {
            assert!(vamos(&["classify", "--db", url, "--as-of", date], d, &[])
                .status
                .success());
        }

        // Public home page, Spanish by default, English by browser or by link (remembered).
        let (st, _, body) = web(&s, "", "get", "/", &[], None);
        assert_eq!(st, 200);
        assert!(
            body.starts_with("<!doctype html>\n<html lang=\"es-PY\">"),
            "{body}"
        );
        assert!(body.contains("Ir al contenido") && body.contains("<main id=\"contenido\""));
        let (_, _, body) = web(&s, "", "get", "/", &[], Some("en-US,en;q=0.9"));
        assert!(body.contains("<html lang=\"en\">") && body.contains("Skip to content"));
        let (_, h, body) = web(&s, "", "get", "/catalogo?lang=en", &[], None);
        assert!(body.contains("Service catalogue"), "{body}");
        assert_eq!(
            set_cookie(&h, "vamos_idioma").as_deref(),
            Some("vamos_idioma=en")
        );
        let (_, _, body) = web(
            &s,
            "vamos_idioma=en",
            "get",
            "/logros?t=1116&logro=4",
            &[],
            Some("es"),
        );
        assert!(body.contains("The ten Logros"));
        // The language link keeps the page and its query.
        assert!(
            body.contains("href=\"/logros?t=1116&amp;logro=4&amp;lang=es\""),
            "{body}"
        );

        // The public dashboard: suppressed public figures, labelled synthetic, the same as the API.
        let (st, _, body) = web(&s, "", "get", "/logros?t=1116&logro=7", &[], None);
        assert_eq!(st, 200, "{body}");
        assert!(body.contains("sintético") && body.contains("Cifras públicas"));
        assert!(body.contains("Villeta") && body.contains("Central"));
        assert!(body.contains("<svg class=\"map\"") && body.contains("logro=7"));
        assert!(
            body.contains("comparada con la medición"),
            "previous measurement: {body}"
        );
        let (_, api, _) = call(
            &s,
            &Who::default(),
            "get",
            "/api/public/logros?territory=1116",
            None,
        );
        for l in api["logros"].as_array().unwrap() {
            let shown = match l["coverage"].as_f64() {
                Some(c) => format!("{:.1} %", c * 100.0).replace('.', ","),
                None => "—".to_string(),
            };
            assert!(
                body.contains(&format!("<span class=\"value\">{shown}</span>")),
                "Logro {}: {shown}",
                l["logro"]
            );
        }
        // Drill-down: the nation lists departments, a department its districts.
        let (_, _, body) = web(&s, "", "get", "/logros", &[], None);
        assert!(
            body.contains("Departamentos: cobertura")
                && body.contains("href=\"/logros?t=11&amp;logro=1\"")
        );
        let (_, _, body) = web(&s, "", "get", "/logros?t=11", &[], None);
        assert!(
            body.contains("Distritos: cobertura")
                && body.contains("href=\"/logros?t=1116&amp;logro=1\"")
        );
        let (st, _, body) = web(&s, "", "get", "/logros?t=99", &[], None);
        assert_eq!(st, 400, "{body}");
        assert!(body.contains("territorio inválido"));
        // Every figure downloads as CSV.
        let (st, h, csv) = web(&s, "", "get", "/logros.csv?t=11", &[], None);
        assert_eq!(st, 200);
        assert!(header(&h, "content-type")[0].starts_with("text/csv"));
        assert!(csv.starts_with("medicion,fecha,datos,territorio,nombre,logro"));
        assert!(csv.contains(",sintético,1116,Villeta,"), "{csv}");

        assert!(csv.contains(",poblacion:mujeres,"), "breakdowns in the CSV");
        // The trend: the earlier measurement's Logros of the territory.
        assert!(
            csv.lines()
                .any(|l| l.starts_with("1,2026-11-01,sintético,11,Central,")),
            "{csv}"
        );
        let (_, _, body) = web(&s, "", "get", "/logros?t=11", &[], None);
        assert!(body.contains("El mapa como tabla"));
        // Delivery points of a district on the catalogue page.
        let points = format!(
            "{}/../../data/delivery_points/puntos_ilustrativos.csv",
            env!("CARGO_MANIFEST_DIR")
        );
        let o = vamos(&["delivery-points", "import", "--db", url, &points], d, &[]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let (st, _, body) = web(&s, "", "get", "/catalogo?distrito=1116", &[], None);
        assert_eq!(st, 200);
        assert!(
            body.contains("Puntos de atención de un distrito")
                && !body.contains("No hay puntos de atención"),
            "{body}"
        );
        // The catalogue, readable by anyone.
        let (st, _, body) = web(
            &s,
            "",
            "get",
            "/catalogo?categoria=antes_del_nacimiento",
            &[],
            None,
        );
        assert_eq!(st, 200);
        assert!(body.contains("Paquete núcleo") && body.contains("MSPBS"));

        // Orientaciones SPS: a pregnant woman in Mariscal Estigarribia; errors named in the form.
        let (st, _, body) = web(
            &s,
            "",
            "get",
            "/orientaciones?distrito=1602&edad=24&sexo=mujer&embarazada=si",
            &[],
            None,
        );
        assert_eq!(st, 200, "{body}");
        assert!(
            body.contains("Mariscal")
                && body.contains("0–4 antes del nacimiento")
                && body.contains("Para su hogar"),
            "{body}"
        );
        assert!(body.to_lowercase().contains("prenatal"));
        let (st, _, body) = web(
            &s,
            "",
            "get",
            "/orientaciones?distrito=1602&edad=30&sexo=hombre&embarazada=si",
            &[],
            None,
        );
        assert_eq!(st, 422);
        assert!(body.contains("Sólo una mujer puede estar embarazada"));

        // Unknown pages: HTML for the application, JSON for the API.
        let (st, _, body) = web(&s, "", "get", "/no-existe", &[], None);
        assert_eq!(st, 404);
        assert!(body.contains("Página no encontrada"));
        let (st, v, _) = call(&s, &Who::default(), "get", "/api/no-existe", None);
        assert_eq!(
            (st, v["error"]["code"].as_str()),
            (404, Some("no_encontrado"))
        );

        // Login by form: the form's token must match its cookie; wrong password, then right.
        let (st, h, body) = web(
            &s,
            "",
            "get",
            "/ingresar?volver=/logros%3Ft%3D1116",
            &[],
            None,
        );
        assert_eq!(st, 200);
        let pre = set_cookie(&h, "vamos_ingreso").unwrap();
        let token = hidden(&body, "token");
        assert_eq!(hidden(&body, "volver"), "/logros?t=1116");
        let form = |pw: &'static str, tok: &str| {
            vec![
                ("usuario", "admin".to_string()),
                ("clave", pw.to_string()),
                ("token", tok.to_string()),
                ("volver", "/logros?t=1116".to_string()),
            ]
        };
        let send = |cookie: &str, f: Vec<(&'static str, String)>| {
            let pairs: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
            web(&s, cookie, "post", "/ingresar", &pairs, None)
        };
        let (st, _, body) = send("", form(PW, &token));
        assert_eq!(st, 401);
        assert!(body.contains("El formulario venció"));
        let (st, _, body) = send(&pre, form("Mala-Clave-2026", &token));
        assert_eq!(st, 401);
        assert!(body.contains("Usuario o contraseña incorrectos"));
        let (st, h, _) = send(&pre, form(PW, &token));
        assert_eq!(st, 303);
        assert_eq!(header(&h, "location"), vec!["/logros?t=1116"]);
        let session = set_cookie(&h, "vamos_sesion").unwrap();
        assert!(header(&h, "set-cookie")
            .iter()
            .any(|c| c.contains("HttpOnly") && c.contains("SameSite=Strict")));
        // Signed in: the role's home page and the full figures.
        let (_, _, body) = web(&s, &session, "get", "/", &[], None);
        assert!(
            body.contains("Administrador UTGS") && body.contains("href=\"/logros\""),
            "{body}"
        );
        let (_, _, body) = web(&s, &session, "get", "/logros?t=1116", &[], None);
        assert!(!body.contains("Cifras públicas") && body.contains("protegidos de"));
        // Registry views: search, then a household with its members' statuses, audited.
        let (st, h, _) = web(&s, "", "get", "/registro?territorio=1116", &[], None);
        assert_eq!(
            (st, header(&h, "location")),
            (303, vec!["/ingresar?volver=/registro"])
        );
        let (st, _, body) = web(&s, &session, "get", "/registro?territorio=1116", &[], None);
        assert_eq!(st, 200, "{body}");
        assert!(body.contains("El registro contiene datos sintéticos"));
        let i = body
            .find("href=\"/registro/hogares/")
            .expect("a household link");
        let link = body[i + 6..].split('"').next().unwrap().to_string();
        let hid = link.rsplit('/').next().unwrap().to_string();
        let (st, _, body) = web(&s, &session, "get", &link, &[], None);
        assert_eq!(st, 200, "{body}");
        assert!(
            body.contains(&format!("<title>Hogar {hid} · Vamos</title>")),
            "{body}"
        );
        assert!(
            body.contains("Villeta")
                && body.contains("Miembros (")
                && body.contains("El registro contiene datos sintéticos"),
            "{body}"
        );
        assert!(
            body.contains("class=\"st st-") && body.contains("Para su hogar"),
            "{body}"
        );
        assert!(
            body.contains("Ruta del hogar") && body.contains("Referencias del hogar"),
            "{body}"
        );
        let ci = body
            .find("href=\"/registro/comunidades/")
            .expect("the community link")
            + 6;
        let community = body[ci..].split('"').next().unwrap().to_string();
        let (st, _, cbody) = web(&s, &session, "get", &community, &[], None);
        assert_eq!(st, 200, "{cbody}");
        assert!(
            cbody.contains("Último relevamiento del Entorno") && cbody.contains("Logro 10"),
            "{cbody}"
        );
        let (st, _, body) = web(&s, &session, "get", "/registro?cedula=abc", &[], None);
        assert_eq!(st, 400);
        assert!(body.contains("La cédula debe ser un número"));
        let (_, audit, _) = call(
            &s,
            &login(&s, "admin", PW),
            "get",
            "/api/audit?limit=50",
            None,
        );
        let reads: Vec<(&str, &str)> = audit["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| {
                (
                    a["action"].as_str().unwrap(),
                    a["subject_id"].as_str().unwrap_or(""),
                )
            })
            .collect();
        assert!(
            reads
                .iter()
                .any(|(a, s)| *a == "leer hogar" && s.starts_with(&hid)),
            "{reads:?}"
        );
        assert!(
            reads
                .iter()
                .any(|(a, s)| *a == "explicar estatus" && s.starts_with(&hid)),
            "{reads:?}"
        );
        assert!(
            reads.iter().any(|(a, _)| *a == "buscar personas"),
            "{reads:?}"
        );

        // The referral inbox of an MSPBS operator of Villeta: only MSPBS referrals, worked by form.
        assert!(vamos(&["referrals", "generate", "--db", url], d, &[])
            .status
            .success());
        let o = vamos(
            &[
                "user",
                "create",
                "--db",
                url,
                "mspbs_web",
                "--role",
                "operador",
                "--institution",
                "MSPBS",
                "--territories",
                "1116",
            ],
            d,
            &[("VAMOS_PASSWORD", PW)],
        );
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let o = vamos(
            &[
                "agreement",
                "create",
                "--db",
                url,
                "--institution",
                "MSPBS",
                "--fields",
                "given_names,family_names,national_id,birth_date,district_code",
                "--purpose",
                "referencia de servicios de salud",
                "--from",
                "2026-01-01",
                "--to",
                "2030-12-31",
            ],
            d,
            &[],
        );
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let op = login(&s, "mspbs_web", PW);
        let op_cookie = format!("vamos_sesion={}", op.cookie.clone().unwrap());
        let op_csrf = op.csrf.clone().unwrap();
        let (st, _, body) = web(&s, &op_cookie, "get", "/bandeja", &[], None);
        assert_eq!(st, 200, "{body}");
        assert!(
            body.contains("Bandeja de referencias · MSPBS") && body.contains("Embudo"),
            "{body}"
        );
        let (_, api, _) = call(&s, &op, "get", "/api/referrals?limit=1000", None);
        assert!(api["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["institution"] == "MSPBS" && r["district_code"] == 1116));
        // Mark one contacted; a form without the session's token is refused.
        // The value of the attribute that follows `marker` (the last one before `before`).
        let value_before = |body: &str, before: usize, marker: &str| -> String {
            let i = body[..before].rfind(marker).unwrap() + marker.len();
            body[i..].split('"').next().unwrap().to_string()
        };
        let contact = body.find("name=\"accion\" value=\"contactada\"").unwrap();
        let rid = value_before(&body, contact, "action=\"/bandeja/");
        let path = format!("/bandeja/{rid}");
        let (st, _, _) = web(
            &s,
            &op_cookie,
            "post",
            &path,
            &[("csrf", "otro"), ("accion", "contactada")],
            None,
        );
        assert_eq!(st, 403);
        let (st, h, _) = web(
            &s,
            &op_cookie,
            "post",
            &path,
            &[("csrf", &op_csrf), ("accion", "contactada"), ("volver", "")],
            None,
        );
        assert_eq!(
            (st, header(&h, "location")),
            (303, vec!["/bandeja?hecho=inbox-done-contacted"])
        );
        let (_, r, _) = call(
            &s,
            &op,
            "get",
            "/api/referrals?status=contactada&limit=1000",
            None,
        );
        assert!(
            r["items"]
                .as_array()
                .unwrap()
                .iter()
                .any(|x| x["id"].as_i64() == rid.parse().ok()),
            "{r}"
        );
        // Record the service of a person's referral (twice: recorded once).
        let pi = body
            .find("name=\"persona\" value=\"")
            .expect("a person referral")
            + 1;
        let sid = value_before(&body, pi, "action=\"/bandeja/");
        let person = value_before(&body, pi + 30, "name=\"persona\" value=\"");
        let service = value_before(&body, pi, "name=\"servicio\" value=\"");
        let form = [
            ("csrf", op_csrf.as_str()),
            ("accion", "atendida"),
            ("persona", person.as_str()),
            ("servicio", service.as_str()),
            ("fecha", "2026-11-20"),
            ("lugar", "USF Villeta"),
            ("volver", "estado=abierta"),
        ];
        for _ in 0..2 {
            let (st, h, body) = web(
                &s,
                &op_cookie,
                "post",
                &format!("/bandeja/{sid}"),
                &form,
                None,
            );
            assert_eq!(st, 303, "{body}");
            assert_eq!(
                header(&h, "location"),
                vec!["/bandeja?estado=abierta&hecho=inbox-done-served"]
            );
        }
        let (_, body, _) = call(
            &s,
            &op,
            "get",
            "/api/referrals?status=atendida&limit=1000",
            None,
        );
        assert_eq!(
            body["items"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|x| x["id"].as_i64() == sid.parse().ok())
                .count(),
            1,
            "{body}"
        );
        let (st, _, body) = web(
            &s,
            &op_cookie,
            "get",
            "/bandeja?estado=atendida&hecho=inbox-done-served",
            &[],
            None,
        );
        assert_eq!(st, 200);
        assert!(
            body.contains("la atención quedó registrada")
                && body.contains(&format!("Referencia {sid}"))
        );

        // Signing out needs the session's CSRF token.
        let (_, _, body) = web(&s, &session, "get", "/", &[], None);
        let csrf = hidden(&body, "csrf");
        let (st, _, _) = web(&s, &session, "post", "/salir", &[("csrf", "otro")], None);
        assert_eq!(st, 403);
        let (st, h, _) = web(&s, &session, "post", "/salir", &[("csrf", &csrf)], None);
        assert_eq!(st, 303);
        assert!(header(&h, "set-cookie")
            .iter()
            .any(|c| c.starts_with("vamos_sesion=;")));
        let (_, _, body) = web(&s, &session, "get", "/", &[], None);
        assert!(
            body.contains("Ingresar como servidor público"),
            "the session is gone"
        );
        let o = vamos(&["audit", "verify", "--db", url], d, &[]);
        assert!(o.status.success());
        let (_, audit, _) = call(
            &s,
            &login(&s, "admin", PW),
            "get",
            "/api/audit?limit=50",
            None,
        );
        let actions: Vec<&str> = audit["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|a| a["action"].as_str())
            .collect();
        assert!(
            actions.contains(&"iniciar sesión") && actions.contains(&"cerrar sesión"),
            "{actions:?}"
        );
    }
}

#[test]
fn the_demo_ends_by_serving_the_web_application_at_the_printed_address() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_vamos"))
        .args([
            "demo",
            "--households",
            "120",
            "--db",
            "sqlite:demo.sqlite",
            "--out",
            "datos",
            "--addr",
            "127.0.0.1:0",
        ])
        .env("VAMOS_LOG", "warn")
        .current_dir(dir.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut base = None;
    let mut password = None;
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        if let Some(p) = line.split("cámbiela con «vamos user password»): ").nth(1) {
            password = Some(p.trim().to_string());
        }
        if let Some(b) = line.strip_prefix("Vamos escuchando en ") {
            base = Some(b.trim().to_string());
            break;
        }
    }
    let s = Server {
        child,
        base: base.expect("the demo prints its address"),
    };
    let (st, _, body) = web(&s, "", "get", "/logros", &[], None);
    assert_eq!(st, 200);
    assert!(
        body.contains("<html lang=\"es-PY\">") && body.contains("sintético"),
        "{body}"
    );
    let who = login(
        &s,
        "admin",
        &password.expect("the demo prints the administrator's password"),
    );
    assert!(who.cookie.is_some());
}

/// A multipart/form-data body: text fields and files.
fn multipart(fields: &[(&str, &str)], files: &[(&str, &str, Vec<u8>)]) -> (String, Vec<u8>) {
    let boundary = "vamos-prueba-limite-7f3a";
    let mut body = Vec::new();
    for (k, v) in fields {
        body.extend(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n")
                .as_bytes(),
        );
    }
    for (k, name, bytes) in files {
        body.extend(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"; filename=\"{name}\"\r\nContent-Type: text/csv\r\n\r\n").as_bytes(),
        );
        body.extend(bytes);
        body.extend(b"\r\n");
    }
    body.extend(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

#[test]
fn the_imports_page_imports_files_reports_rejections_and_audits() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    synth_pilots(d, "80", "9");
    for db in all_dbs() {
        let url = db.url.as_str();
        init_db(url, d);
        let s = start(url, d);
        let admin = login(&s, "admin", PW);
        let cookie = format!("vamos_sesion={}", admin.cookie.clone().unwrap());
        let csrf = admin.csrf.clone().unwrap();
        let (st, _, body) = web(&s, &cookie, "get", "/importaciones", &[], None);
        assert_eq!(st, 200, "{body}");
        assert!(body.contains("Todavía no hay importaciones"));
        let file = |n: &str| std::fs::read(d.join("datos").join(n)).unwrap();
        let post = |fields: &[(&str, &str)], files: &[(&str, &str, Vec<u8>)]| {
            let (ct, body) = multipart(fields, files);
            let a: ureq::Agent = ureq::Agent::config_builder()
                .http_status_as_error(false)
                .max_redirects(0)
                .build()
                .into();
            let r = a
                .post(&format!("{}/importaciones", s.base))
                .header("cookie", &cookie)
                .header("content-type", &ct)
                .send(&body[..])
                .unwrap();
            let loc = r
                .headers()
                .get("location")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string();
            (r.status().as_u16(), loc)
        };
        // Until the job is done: the page refreshes itself.
        let wait = |loc: &str| {
            for _ in 0..200 {
                let (st, _, body) = web(&s, &cookie, "get", loc, &[], None);
                assert_eq!(st, 200, "{body}");
                if !body.contains("http-equiv=\"refresh\"") {
                    return body;
                }
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
            panic!("the import did not finish");
        };
        // A form without the session's token is refused.
        let (st, _) = post(
            &[("csrf", "otro"), ("tipo", "fips")],
            &[("archivos", "fips.csv", file("fips.csv"))],
        );
        assert_eq!(st, 403);
        // The FIPS survey with its manifest: imported, labelled synthetic.
        let (st, loc) = post(
            &[("csrf", &csrf), ("tipo", "fips")],
            &[
                ("archivos", "fips.csv", file("fips.csv")),
                ("archivos", "fips-miembros.csv", file("fips-miembros.csv")),
                ("archivos", "manifest.json", file("manifest.json")),
            ],
        );
        assert_eq!(st, 303);
        let body = wait(&loc);
        assert!(
            body.contains("completada") && body.contains("sintético"),
            "{body}"
        );
        assert!(body.contains(">80</td>"), "80 households: {body}");
        // Members without their households file: the importer's error is shown.
        let (st, loc) = post(
            &[("csrf", &csrf), ("tipo", "fips")],
            &[("archivos", "fips-miembros.csv", file("fips-miembros.csv"))],
        );
        assert_eq!(st, 303);
        let body = wait(&loc);
        assert!(body.contains("No se pudo importar"), "{body}");
        // A household with an unknown district: rejected, reported, the report downloadable.
        let fips = String::from_utf8(file("fips.csv")).unwrap();
        let mut lines: Vec<String> = fips.lines().map(str::to_string).collect();
        let mut cells: Vec<String> = lines[1].split(',').map(str::to_string).collect();
        cells[8] = "9999".into();
        *cells.last_mut().unwrap() = "uuid:prueba-rechazo".into();
        lines[1] = cells.join(",");
        let broken = format!("{}\n", lines.join("\n")).into_bytes();
        let (st, loc) = post(
            &[("csrf", &csrf), ("tipo", "fips")],
            &[
                ("archivos", "fips.csv", broken),
                ("archivos", "fips-miembros.csv", file("fips-miembros.csv")),
            ],
        );
        assert_eq!(st, 303);
        let body = wait(&loc);
        assert!(body.contains("Motivos de rechazo"), "{body}");
        let report = format!("{loc}/rechazos.csv");
        assert!(body.contains(&report), "{body}");
        let (st, h, csv) = web(&s, &cookie, "get", &report, &[], None);
        assert_eq!(st, 200);
        assert!(header(&h, "content-type")[0].starts_with("text/csv"));
        assert!(csv.contains("9999"), "{csv}");
        // Classify from the page: a new measurement, then the dashboard has figures.
        let a: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .build()
            .into();
        let r = a
            .post(&format!("{}/importaciones/clasificar", s.base))
            .header("cookie", &cookie)
            .send_form([
                ("csrf", csrf.as_str()),
                ("fecha", "2026-11-23"),
                ("territorio", "PY"),
            ])
            .unwrap();
        assert_eq!(r.status().as_u16(), 303);
        let loc = r
            .headers()
            .get("location")
            .unwrap()
            .to_str()
            .unwrap()
            .to_string();
        let body = wait(&loc);
        assert!(body.contains("Medición 1 al 2026-11-23 guardada"), "{body}");
        let (_, _, body) = web(&s, "", "get", "/logros", &[], None);
        assert!(body.contains("Medición 1 al 2026-11-23"), "{body}");
        // The history and the audit trail.
        let (_, _, body) = web(&s, &cookie, "get", "/importaciones", &[], None);
        assert!(body.contains("Historial de importaciones") && body.contains("Encuesta FIPS"));
        let (_, audit, _) = call(&s, &admin, "get", "/api/audit?limit=50", None);
        let actions: Vec<&str> = audit["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|a| a["action"].as_str())
            .collect();
        assert!(
            actions.contains(&"importar archivos")
                && actions.contains(&"descargar informe de rechazos"),
            "{actions:?}"
        );
        // Self-registration: the public form lands in the review queue; an analyst approves.
        let (st, _, body) = web(&s, "", "get", "/autorregistro", &[], None);
        assert_eq!(st, 200);
        let token = hidden(&body, "token");
        let household = [
            ("distrito", "1116"),
            ("area", "urbana"),
            ("localidad", "Barrio Prueba"),
            ("m0_nombres", "Ramona Autorregistro"),
            ("m0_apellidos", "Prueba Web"),
            ("m0_fecha", "1988-03-02"),
            ("m0_sexo", "mujer"),
            ("m0_relacion", "jefe"),
            ("m1_nombres", "Tobías"),
            ("m1_apellidos", "Prueba Web"),
            ("m1_fecha", "2019-07-15"),
            ("m1_sexo", "hombre"),
            ("m1_relacion", "hijo"),
        ];
        let with = |extra: &[(&'static str, &str)]| {
            let mut f: Vec<(&str, String)> =
                household.iter().map(|(k, v)| (*k, v.to_string())).collect();
            f.extend(extra.iter().map(|(k, v)| (*k, v.to_string())));
            f
        };
        let send = |f: Vec<(&str, String)>| {
            let pairs: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
            web(&s, "", "post", "/autorregistro", &pairs, None)
        };
        // Too fast (the token is seconds old at most) and the hidden field filled: refused.
        let (st, _, body) = send(with(&[("token", &token)]));
        assert_eq!(st, 400, "{body}");
        std::thread::sleep(std::time::Duration::from_millis(3100));
        let (st, _, _) = send(with(&[("token", &token), ("sitio_web", "http://spam")]));
        assert_eq!(st, 400);
        let (st, _, body) = send(with(&[("token", &token), ("m1_fecha", "2030-01-01")]));
        assert_eq!(st, 422);
        assert!(
            body.contains("Persona 2: la fecha de nacimiento no es válida"),
            "{body}"
        );
        let (st, _, body) = send(with(&[("token", &token)]));
        assert_eq!(st, 200, "{body}");
        assert!(
            body.contains("Recibimos su solicitud") && body.contains("2 personas en Villeta"),
            "{body}"
        );
        // Not in the registry before review.
        let (_, found, _) = call(&s, &admin, "get", "/api/persons?q=Autorregistro", None);
        assert_eq!(found["items"].as_array().unwrap().len(), 0);
        let (st, _, body) = web(&s, &cookie, "get", "/autorregistro/revision", &[], None);
        assert_eq!(st, 200);
        assert!(
            body.contains("Ramona Autorregistro") && body.contains("pendiente"),
            "{body}"
        );
        let i = body.find("action=\"/autorregistro/revision/").unwrap() + "action=\"".len();
        let path = body[i..].split('"').next().unwrap().to_string();
        let (st, h, _) = web(
            &s,
            &cookie,
            "post",
            &path,
            &[("csrf", &csrf), ("accion", "aprobar")],
            None,
        );
        assert_eq!(
            (st, header(&h, "location")),
            (
                303,
                vec!["/autorregistro/revision?hecho=self-done-approved"]
            )
        );
        let (_, found, _) = call(&s, &admin, "get", "/api/persons?q=Autorregistro", None);
        assert_eq!(found["items"].as_array().unwrap().len(), 1, "{found}");
        // Approving twice changes nothing.
        let (st, h, _) = web(
            &s,
            &cookie,
            "post",
            &path,
            &[("csrf", &csrf), ("accion", "aprobar")],
            None,
        );
        assert_eq!(
            (st, header(&h, "location")),
            (303, vec!["/autorregistro/revision?hecho=self-done-already"])
        );

        // Other roles may not import.
        let o = vamos(
            &[
                "user",
                "create",
                "--db",
                url,
                "orient",
                "--role",
                "orientador",
                "--territories",
                "1116",
            ],
            d,
            &[("VAMOS_PASSWORD", PW)],
        );
        assert!(o.status.success());
        let or = login(&s, "orient", PW);
        let (st, _, _) = web(
            &s,
            &format!("vamos_sesion={}", or.cookie.unwrap()),
            "get",
            "/importaciones",
            &[],
            None,
        );
        assert_eq!(st, 403);
    }
}
