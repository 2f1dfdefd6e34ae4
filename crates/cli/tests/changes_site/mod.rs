//! The site the change-request suites work on: a fresh database per test and backend with the
//! synthetic pilot registry imported and the accounts of the maker-checker flow — an orientador
//! and a Mesa member of Villeta (1116), a Mesa member of another district, two UTGS analysts —
//! plus helpers to run `vamos changes …` as one of them and to read units back.

#![allow(dead_code)]

use crate::common::{synth_pilots, vamos, PW};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::OnceLock;
use vamos_store::sql::Param;
use vamos_store::testing::{all_dbs, RawSql, TestDb};
use vamos_store::versions;
use vamos_store::Store;

/// The smallest valid-looking documents of each accepted type (their first bytes decide).
pub const PDF: &[u8] = b"%PDF-1.4\n%prueba\n";
pub const PNG: &[u8] = &[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 0];
pub const JPEG: &[u8] = &[0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10, b'J', b'F', b'I', b'F'];

pub fn d(s: &str) -> chrono::NaiveDate {
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

/// The synthetic survey, written once per test process.
fn data() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap().keep();
        synth_pilots(&dir, "60", "36");
        dir.join("datos")
    })
}

/// A change request as a test writes it: type and units, then values, dating, reason and
/// documents.
#[derive(Clone)]
pub struct Ask {
    args: Vec<String>,
    docs: Vec<(String, String, Vec<u8>)>,
}

impl Ask {
    pub fn new(tipo: &str, units: &[i64]) -> Ask {
        let mut args = vec!["--tipo".to_string(), tipo.to_string()];
        for u in units {
            args.extend(["--unidad".to_string(), u.to_string()]);
        }
        Ask {
            args,
            docs: Vec::new(),
        }
    }

    fn arg(mut self, flag: &str, value: &str) -> Ask {
        self.args.extend([flag.to_string(), value.to_string()]);
        self
    }

    /// A new value, `campo=valor`.
    pub fn set(self, kv: &str) -> Ask {
        self.arg("--set", kv)
    }

    /// Corrects an error (valid from the original date).
    pub fn correction(self) -> Ask {
        self.arg("--efecto", "correccion")
    }

    /// Records a change valid from `date`.
    pub fn since(self, date: &str) -> Ask {
        self.arg("--efecto", "cambio").arg("--desde", date)
    }

    pub fn reason(self, why: &str) -> Ask {
        self.arg("--motivo", why)
    }

    /// The grievance the request answers.
    pub fn grievance(self, id: i64) -> Ask {
        self.arg("--reclamo", &id.to_string())
    }

    /// A document of `kind` named `name`.
    pub fn doc(mut self, kind: &str, name: &str, bytes: &[u8]) -> Ask {
        self.docs
            .push((kind.to_string(), name.to_string(), bytes.to_vec()));
        self
    }
}

pub struct Site {
    pub db: TestDb,
    pub dir: tempfile::TempDir,
}

fn must(o: Output) -> Output {
    assert!(
        o.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

/// One site per backend under test.
pub fn sites() -> Vec<Site> {
    all_dbs()
        .into_iter()
        .map(|db| {
            let dir = tempfile::tempdir().unwrap();
            let url = db.url.clone();
            let d = dir.path();
            must(vamos(
                &["db", "init", "--db", &url],
                d,
                &[("VAMOS_ADMIN_PASSWORD", PW)],
            ));
            let datos = data().to_string_lossy().into_owned();
            must(vamos(
                &[
                    "import",
                    "fips",
                    "--db",
                    &url,
                    &datos,
                    "--date",
                    "2026-11-23",
                ],
                d,
                &[],
            ));
            for (name, role, terr) in [
                ("ori", "orientador", Some("1116")),
                ("mesa", "mesa", Some("1116")),
                ("mesa_lejos", "mesa", Some("1602")),
                ("ana1", "analista", None),
                ("ana2", "analista", None),
                ("coord", "coordinador", None),
            ] {
                let mut args = vec!["user", "create", "--db", &url, name, "--role", role];
                if let Some(t) = terr {
                    args.extend(["--territories", t]);
                }
                must(vamos(&args, d, &[("VAMOS_PASSWORD", PW)]));
            }
            Site { db, dir }
        })
        .collect()
}

impl Site {
    pub fn label(&self) -> &'static str {
        self.db.label
    }

    pub fn store(&self) -> Box<dyn Store> {
        self.db.open()
    }

    /// `vamos <args> --db <url>` as account `user`.
    pub fn run(&self, user: &str, args: &[&str]) -> Output {
        let mut a: Vec<&str> = args.to_vec();
        a.extend(["--db", &self.db.url]);
        vamos(&a, self.dir.path(), &[("VAMOS_USER", user)])
    }

    /// A successful command's JSON answer.
    pub fn ok(&self, user: &str, args: &[&str]) -> Value {
        let mut a: Vec<&str> = args.to_vec();
        a.extend(["--format", "json"]);
        let o = must(self.run(user, &a));
        let out = String::from_utf8_lossy(&o.stdout);
        serde_json::from_str(out.lines().last().unwrap_or("")).unwrap()
    }

    /// A successful command's text.
    pub fn text(&self, user: &str, args: &[&str]) -> String {
        String::from_utf8_lossy(&must(self.run(user, args)).stdout).into_owned()
    }

    /// A refused command's message (it must fail).
    pub fn refused(&self, user: &str, args: &[&str]) -> String {
        let o = self.run(user, args);
        assert!(
            !o.status.success(),
            "{}: should have been refused: {}",
            self.label(),
            String::from_utf8_lossy(&o.stdout)
        );
        String::from_utf8_lossy(&o.stderr).into_owned()
    }

    /// The arguments of `vamos changes request` for `ask`, its documents written to files.
    pub fn ask_args(&self, ask: &Ask) -> Vec<String> {
        let mut a: Vec<String> = vec!["changes".into(), "request".into()];
        a.extend(ask.args.iter().cloned());
        for (kind, name, bytes) in &ask.docs {
            let path = self.dir.path().join(name);
            std::fs::write(&path, bytes).unwrap();
            a.extend([
                "--adjunto".to_string(),
                path.to_string_lossy().into_owned(),
                "--documento".to_string(),
                kind.clone(),
            ]);
        }
        a
    }

    /// Requests `ask` as `user`, which must be accepted as pending: its id.
    pub fn ask(&self, user: &str, ask: &Ask) -> i64 {
        let a = self.ask_args(ask);
        let v = self.ok(user, &a.iter().map(String::as_str).collect::<Vec<_>>());
        assert_eq!(v["estado"], "pendiente", "{}", self.label());
        v["id"].as_i64().unwrap()
    }

    /// Requests `ask` as `user`, which must be refused: the message.
    pub fn ask_refused(&self, user: &str, ask: &Ask) -> String {
        let a = self.ask_args(ask);
        self.refused(user, &a.iter().map(String::as_str).collect::<Vec<_>>())
    }

    /// Households of Villeta, in id order, with their active members.
    pub fn villeta(&self) -> Vec<(i64, Vec<i64>)> {
        let mut st = self.store();
        let mut db = st.db();
        let rows = db
            .query(
                "SELECT id FROM households WHERE district_code = 1116 AND status = 'activo' ORDER BY id",
                &[],
            )
            .unwrap();
        rows.iter()
            .map(|r| {
                let h = r.int(0).unwrap();
                (h, self.members(h))
            })
            .collect()
    }

    /// A community of district `d`.
    pub fn community_in(&self, d: i64) -> i64 {
        let mut st = self.store();
        let mut db = st.db();
        db.query(
            "SELECT MIN(id) FROM communities WHERE district_code = $1",
            &[Param::Int(Some(d))],
        )
        .unwrap()[0]
            .int(0)
            .unwrap()
    }

    /// The active members of household `h`, in id order.
    pub fn members(&self, h: i64) -> Vec<i64> {
        let mut st = self.store();
        let mut db = st.db();
        db.query(
            "SELECT id FROM persons WHERE household_id = $1 AND status = 'activo' ORDER BY id",
            &[Param::Int(Some(h))],
        )
        .unwrap()
        .iter()
        .map(|r| r.int(0).unwrap())
        .collect()
    }

    pub fn active_members(&self, h: i64) -> usize {
        self.members(h).len()
    }

    /// The first household of Villeta with at least `n` members.
    pub fn household_with(&self, n: usize) -> (i64, Vec<i64>) {
        self.villeta()
            .into_iter()
            .find(|(_, m)| m.len() >= n)
            .unwrap_or_else(|| panic!("{}: no household with {n} members", self.label()))
    }

    /// Another household of Villeta with members.
    pub fn other_household(&self, not: i64) -> (i64, Vec<i64>) {
        self.villeta()
            .into_iter()
            .rev()
            .find(|(h, m)| *h != not && !m.is_empty())
            .unwrap()
    }

    /// The active head of household `h`.
    pub fn head_of(&self, h: i64) -> Option<i64> {
        let mut st = self.store();
        self.members(h).into_iter().find(|p| {
            versions::person(&mut st.db(), *p)
                .unwrap()
                .is_some_and(|(x, _)| x.relationship == "jefe")
        })
    }

    pub fn household_count(&self) -> i64 {
        let mut st = self.store();
        let mut db = st.db();
        db.query_opt(
            "SELECT COUNT(*) FROM households WHERE status = 'activo'",
            &[],
        )
        .unwrap()
        .unwrap()
        .int(0)
        .unwrap()
    }

    /// Gives person `p` an open referral, a counter-referral and an administrative record
    /// (after a classification, for the referral's measurement): their ids.
    pub fn evidence_for(&self, p: i64) -> (i64, i64, i64) {
        must(self.run("", &["classify", "--as-of", "2026-11-23"]));
        let mut st = self.store();
        let mut db = st.db();
        let m = db
            .query_opt("SELECT MAX(id) FROM measurements", &[])
            .unwrap()
            .unwrap()
            .int(0)
            .unwrap();
        let (r, c, a) = (900_000 + p, 800_000 + p, 700_000 + p);
        db.execute(
            "INSERT INTO referrals (id, measurement_id, unit_kind, unit_id, district_code, category,
               service, institution, priority, unprotected, populations, critical, status,
               emitted_at, due_on, updated_at)
             VALUES ($1, $2, 'persona', $3, 1116, 'salud', 'servicio_prueba', 'MSPBS', 1, 1, '',
               0, 'emitida', '2026-11-23T00:00:00Z', '2026-12-31', '2026-11-23T00:00:00Z')",
            &[Param::Int(Some(r)), Param::Int(Some(m)), Param::Int(Some(p))],
        )
        .unwrap();
        db.execute(
            "INSERT INTO counter_referrals (id, institution, event_key, digest, person_id, service,
               delivered_on, channel, received_at, received_by)
             VALUES ($1, 'MSPBS', $2, 'x', $3, 'otro_servicio', '2026-11-20', 'api',
               '2026-11-21T00:00:00Z', 'prueba')",
            &[
                Param::Int(Some(c)),
                Param::Text(Some(format!("ev-{p}"))),
                Param::Int(Some(p)),
            ],
        )
        .unwrap();
        db.execute(
            "INSERT INTO admin_records (id, institution, record_key, person_id, service,
               event_date, import_id, file_no, source_row)
             VALUES ($1, 'MSPBS', $2, $3, 'vacuna', '2026-10-01', 1, 1, 1)",
            &[
                Param::Int(Some(a)),
                Param::Text(Some(format!("rec-{p}"))),
                Param::Int(Some(p)),
            ],
        )
        .unwrap();
        (r, c, a)
    }
}
