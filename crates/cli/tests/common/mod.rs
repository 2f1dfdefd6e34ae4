//! Helpers shared by the black-box tests of `vamos serve`: start the real binary on a free
//! port, call it over HTTP as a session, a token or nobody, run other `vamos` commands.

#![allow(
    dead_code, // reason: each test binary uses its own subset of the helpers
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

pub struct Server {
    pub child: Child,
    pub base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn start(url: &str, cwd: &Path) -> Server {
    start_with(url, cwd, &[])
}

/// Starts the server with extra environment (`VAMOS_*` settings).
pub fn start_with(url: &str, cwd: &Path, env: &[(&str, &str)]) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_vamos"))
        .args(["serve", "--db", url, "--addr", "127.0.0.1:0"])
        .env("VAMOS_LOG", "warn")
        .env("VAMOS_LOGIN_RATE_PER_MINUTE", "1000")
        .envs(audit_env(&["--db", url], env))
        .envs(env.iter().copied())
        .current_dir(cwd)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let base = line
        .trim()
        .strip_prefix("Vamos escuchando en ")
        .unwrap_or_else(|| panic!("unexpected first line: {line}"))
        .to_string();
    Server { child, base }
}

/// A client identity: a session (cookie + CSRF), a bearer token, or nobody.
#[derive(Clone, Default)]
pub struct Who {
    pub cookie: Option<String>,
    pub csrf: Option<String>,
    pub bearer: Option<String>,
}

pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into()
}

pub fn call(
    s: &Server,
    who: &Who,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (u16, Value, String) {
    let url = format!("{}{}", s.base, path);
    let a = agent();
    let mut headers: Vec<(&str, String)> = Vec::new();
    if let Some(c) = &who.cookie {
        headers.push(("cookie", format!("vamos_sesion={c}")));
    }
    if let Some(c) = &who.csrf {
        headers.push(("x-csrf-token", c.clone()));
    }
    if let Some(b) = &who.bearer {
        headers.push(("authorization", format!("Bearer {b}")));
    }
    let resp = match (method, body) {
        ("get", _) => {
            let mut r = a.get(&url);
            for (k, v) in &headers {
                r = r.header(*k, v);
            }
            r.call()
        }
        ("delete", _) => {
            let mut r = a.delete(&url);
            for (k, v) in &headers {
                r = r.header(*k, v);
            }
            r.call()
        }
        (_, b) => {
            let mut r = a.post(&url);
            for (k, v) in &headers {
                r = r.header(*k, v);
            }
            r.send_json(b.unwrap_or(json!({})))
        }
    }
    .unwrap();
    let status = resp.status().as_u16();
    let set_cookie = resp
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let text = resp.into_body().read_to_string().unwrap_or_default();
    let v = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, v, set_cookie)
}

pub fn login(s: &Server, user: &str, password: &str) -> Who {
    let (st, v, cookie) = call(
        s,
        &Who::default(),
        "post",
        "/api/session",
        Some(json!({"username": user, "password": password})),
    );
    assert_eq!(st, 200, "login {user}: {v}");
    assert!(
        cookie.contains("HttpOnly")
            && cookie.contains("SameSite=Strict")
            && cookie.contains("Secure"),
        "{cookie}"
    );
    let value = cookie
        .strip_prefix("vamos_sesion=")
        .and_then(|c| c.split(';').next())
        .unwrap()
        .to_string();
    Who {
        cookie: Some(value),
        csrf: v["csrf_token"].as_str().map(str::to_string),
        bearer: None,
    }
}

pub fn vamos(args: &[&str], cwd: &Path, env: &[(&str, &str)]) -> std::process::Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_vamos"));
    c.args(args).current_dir(cwd);
    c.envs(audit_env(args, env));
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

/// The audit key and checkpoint files of the PostgreSQL database a command names with `--db`
/// (`vamos_store::testing::audit_env`), unless `env` names them itself.
pub fn audit_env(args: &[&str], env: &[(&str, &str)]) -> Vec<(&'static str, String)> {
    let url = args
        .windows(2)
        .find(|w| w[0] == "--db")
        .map_or("", |w| w[1]);
    vamos_store::testing::audit_env(url)
        .into_iter()
        .filter(|(k, _)| !env.iter().any(|(given, _)| given == k))
        .collect()
}

pub const PW: &str = "Prueba-Segura-2026";

/// A synthetic population of the pilot districts in `d/datos` (reference date 2026-11-01).
pub fn synth_pilots(d: &Path, households: &str, seed: &str) {
    let o = vamos(
        &[
            "synth",
            "--households",
            households,
            "--seed",
            seed,
            "--out",
            "datos",
            "--reference-date",
            "2026-11-01",
        ],
        d,
        &[],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

/// `vamos db init` with the first administrator's password [`PW`].
pub fn init_db(url: &str, d: &Path) {
    let o = vamos(
        &["db", "init", "--db", url],
        d,
        &[("VAMOS_ADMIN_PASSWORD", PW)],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

/// What a fixture kept in a `static` leaves behind, undone when the test process ends: a
/// `static`'s destructor never runs, so a watcher (`sh`) waits for this handle's pipe to close —
/// the kernel closes it when the process exits, however it exits — then ends the servers,
/// removes the folders and drops the PostgreSQL database.
pub struct AtExit {
    _pipe: std::process::ChildStdin,
    /// Never waited for: it outlives this process by design.
    _watcher: Child,
}

impl AtExit {
    /// Create it as soon as the process, folder or database exists, so that a test process
    /// ending early (a filtered run) leaves nothing behind either.
    pub fn new(pids: &[u32], dirs: &[&Path], db: Option<&vamos_store::testing::TestDb>) -> Self {
        let mut script = String::from("cat >/dev/null;");
        for p in pids {
            script += &format!(" kill {p} 2>/dev/null;");
        }
        let mut dirs: Vec<std::path::PathBuf> = dirs.iter().map(|d| d.to_path_buf()).collect();
        if let Some(db) = db {
            if let Some(file) = db.url.strip_prefix("sqlite:") {
                dirs.extend(Path::new(file).parent().map(Path::to_path_buf));
            } else if let Ok(admin) = std::env::var(vamos_store::testing::POSTGRES_ENV) {
                let name = db
                    .url
                    .rsplit('/')
                    .next()
                    .unwrap()
                    .split('?')
                    .next()
                    .unwrap();
                script += &format!(
                    " psql '{admin}' -qc 'DROP DATABASE IF EXISTS {name} WITH (FORCE)' >/dev/null 2>&1; rm -f '{}/{name}.'*;",
                    vamos_store::testing::audit_dir().display()
                );
            }
        }
        for d in dirs {
            script += &format!(" rm -rf '{}';", d.display());
        }
        let mut watcher = Command::new("sh")
            .args(["-c", &script])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        AtExit {
            _pipe: watcher.stdin.take().unwrap(),
            _watcher: watcher,
        }
    }
}

/// A token of the first administrator with the monitoring scope only (`monitoreo:leer`), for
/// `/api/ready` and `/metrics`; `name` must be new for the database.
pub fn monitoring(url: &str, cwd: &Path, name: &str) -> Who {
    let o = vamos(
        &[
            "token",
            "create",
            "--db",
            url,
            "--user",
            "admin",
            "--name",
            name,
            "--days",
            "1",
            "--scopes",
            "monitoreo:leer",
        ],
        cwd,
        &[],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    Who {
        bearer: Some(String::from_utf8_lossy(&o.stdout).trim().to_string()),
        ..Who::default()
    }
}

/// A multipart/form-data body: text fields and files.
pub fn multipart(fields: &[(&str, &str)], files: &[(&str, &str, Vec<u8>)]) -> (String, Vec<u8>) {
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

/// Posts text fields as multipart/form-data as `who` (session cookie and CSRF header, or
/// token): the status and the JSON answer.
pub fn call_multipart(s: &Server, who: &Who, path: &str, fields: &[(&str, &str)]) -> (u16, Value) {
    let (ct, body) = multipart(fields, &[]);
    let mut r = agent()
        .post(format!("{}{}", s.base, path))
        .header("content-type", &ct);
    if let Some(c) = &who.cookie {
        r = r.header("cookie", &format!("vamos_sesion={c}"));
    }
    if let Some(c) = &who.csrf {
        r = r.header("x-csrf-token", c);
    }
    if let Some(b) = &who.bearer {
        r = r.header("authorization", &format!("Bearer {b}"));
    }
    let resp = r.send(&body[..]).unwrap();
    let status = resp.status().as_u16();
    let text = resp.into_body().read_to_string().unwrap_or_default();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}
