//! Tidy tests: the house rules of the code base that a compiler does not check (ENGINEERING.md,
//! ARCHITECTURE.md's invariants), read from the source tree itself — a `//!` doc atop every file,
//! no SQL text outside the store, no circle of imports between a crate's modules, the command
//! line's one door to the HTTP server, no HTTP stack under the use cases, the interfaces
//! reaching the store and the audit trail only through the use cases, and every CSV written
//! through the writer that neutralises formulas.

#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)] // reason: test helpers: a failure is a panic with its message

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Every `.rs` file under `dir`, recursively.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// The text of a source file without its unit tests (`#[cfg(test)]` to the end).
fn without_tests(text: &str) -> &str {
    text.find("#[cfg(test)]").map_or(text, |i| &text[..i])
}

/// House rule (ENGINEERING.md, style 7): every Rust file opens with a `//!` doc saying why it exists.
#[test]
fn every_rust_file_opens_with_a_module_doc() {
    let mut checked = 0;
    for dir in ["crates", "fuzz/fuzz_targets"] {
        for p in rust_files(&root().join(dir)) {
            let text = std::fs::read_to_string(&p).unwrap();
            assert!(
                text.starts_with("//!"),
                "{} has no //! doc on its first line",
                p.display()
            );
            checked += 1;
        }
    }
    assert!(checked > 20, "only {checked} files found");
}

/// Whether a line holds SQL text in a string literal.
fn holds_sql(line: &str) -> bool {
    const STATEMENTS: [&str; 9] = [
        "SELECT ",
        "INSERT INTO",
        "DELETE FROM",
        "PRAGMA ",
        "CREATE TABLE",
        "CREATE INDEX",
        "ALTER TABLE",
        "VACUUM",
        "BEGIN IMMEDIATE",
    ];
    let Some(start) = line.find('"') else {
        return false;
    };
    let literal = &line[start..];
    STATEMENTS.iter().any(|s| literal.contains(s))
        || (literal.contains("UPDATE ") && literal.contains(" SET "))
}

#[test]
fn the_sql_check_recognises_statements_in_literals() {
    assert!(holds_sql(r#"    let q = "SELECT 1 FROM households";"#));
    assert!(holds_sql(r#"  .query_opt("PRAGMA integrity_check", &[])"#));
    assert!(holds_sql(r#"  "UPDATE referrals SET status = $1""#));
    assert!(!holds_sql("// SELECT in a comment, no literal"));
    assert!(!holds_sql(r#"  let label = "Seleccione un distrito";"#));
}

/// Architecture invariant (ARCHITECTURE.md, `crates/store`): all SQL text lives in the store;
/// the one exception renders the DuckDB peer's query for the benchmark.
#[test]
fn no_sql_text_outside_the_store() {
    let crates = root().join("crates");
    let mut found = Vec::new();
    for p in rust_files(&crates) {
        let rel = p
            .strip_prefix(&crates)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        if rel.starts_with("store/") || rel == "engine/src/sql.rs" || rel.contains("/tests/") {
            continue;
        }
        let text = std::fs::read_to_string(&p).unwrap();
        for (n, line) in without_tests(&text).lines().enumerate() {
            if holds_sql(line) {
                found.push(format!("{rel}:{}: {}", n + 1, line.trim()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "SQL text outside crates/store:\n{}",
        found.join("\n")
    );
}

/// Architecture invariant (ARCHITECTURE.md, `crates/store`): the crates above the store hold an
/// opaque `Db` and cannot run SQL through it (the compiler sees to that: the executor is private
/// to the store); the one door to raw SQL, `vamos_store::testing::RawSql`, is for test suites.
#[test]
fn only_tests_open_the_stores_raw_sql_door() {
    let crates = root().join("crates");
    let mut found = Vec::new();
    for p in rust_files(&crates) {
        let rel = p
            .strip_prefix(&crates)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        if rel.starts_with("store/") || rel.contains("/tests/") {
            continue;
        }
        let text = std::fs::read_to_string(&p).unwrap();
        for (n, line) in without_tests(&text).lines().enumerate() {
            if line.contains("RawSql") || line.contains("vamos_store::testing") {
                found.push(format!("{rel}:{}: {}", n + 1, line.trim()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "raw SQL outside tests:\n{}",
        found.join("\n")
    );
}

/// Whether `line` builds or names a CSV writer of the `csv` crate (not a reader).
fn builds_a_csv_writer(line: &str) -> bool {
    let code = line.split("//").next().unwrap_or("");
    code.contains("csv::Writer")
        || code.contains("WriterBuilder")
        || (code.contains("use csv::") && code.contains("Writer"))
}

#[test]
fn the_csv_writer_check_recognises_writers_and_not_readers() {
    assert!(builds_a_csv_writer("let w = csv::Writer::from_writer(f);"));
    assert!(builds_a_csv_writer(
        "    writer: Option<csv::Writer<File>>,"
    ));
    assert!(builds_a_csv_writer("let w = csv::WriterBuilder::new()"));
    assert!(builds_a_csv_writer("use csv::{ReaderBuilder, Writer};"));
    assert!(!builds_a_csv_writer("let r = csv::ReaderBuilder::new();"));
    assert!(!builds_a_csv_writer("use csv::ByteRecord;"));
    assert!(!builds_a_csv_writer("// see csv::Writer"));
}

/// Security rule (issue 35, CSV formula injection): every CSV handed to a person is written by
/// `vamos_domain::csv_safe::CsvWriter`, which neutralises cells a spreadsheet would run as a
/// formula; no other module builds a `csv::Writer`. Two files write CSV no person opens and
/// must keep it byte for byte: the generators of simulated ODK Central inputs, first wave and
/// re-interview (a geopoint
/// `-25.3 -57.6 0 0` must stay as ODK writes it) and the self-registration's intermediate
/// files, read back at once by the importer (a phone `+595 981 …` must not gain an apostrophe).
#[test]
fn every_csv_is_written_through_the_neutralising_writer() {
    const EXEMPT: [&str; 4] = [
        "domain/src/csv_safe.rs",
        "synth/src/out.rs",
        "synth/src/reinterview.rs",
        "app/src/self_registration.rs",
    ];
    let crates = root().join("crates");
    let mut found = Vec::new();
    for p in rust_files(&crates) {
        let rel = p
            .strip_prefix(&crates)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        if EXEMPT.contains(&rel.as_str()) || rel.contains("/tests/") || rel.ends_with("/tests.rs") {
            continue;
        }
        let text = std::fs::read_to_string(&p).unwrap();
        for (n, line) in without_tests(&text).lines().enumerate() {
            if builds_a_csv_writer(line) {
                found.push(format!("{rel}:{}: {}", n + 1, line.trim()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "a CSV writer outside vamos_domain::csv_safe (use CsvWriter, which neutralises formulas):\n{}",
        found.join("\n")
    );
}

/// The store's per-area modules: their functions are the use cases' to call (`crates/app`).
const STORE_AREAS: [&str; 9] = [
    "cases",
    "accounts",
    "audit",
    "views",
    "referrals",
    "counter_referrals",
    "delivery_points",
    "dci",
    "self_registrations",
];

/// The identifier at the start of `s` and what follows it.
fn ident(s: &str) -> (&str, &str) {
    let end = s
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(s.len());
    s.split_at(end)
}

/// Whether a line calls the store past the use cases: a function of a per-area module named by
/// its path (`vamos_store::accounts::users(`, through submodules too), or the store's connection
/// (`.db()`), which only the store's functions take.
fn calls_the_store(line: &str) -> bool {
    if line.contains(".db()") {
        return true;
    }
    line.match_indices("vamos_store::").any(|(i, m)| {
        let (area, mut rest) = ident(&line[i + m.len()..]);
        if !STORE_AREAS.contains(&area) {
            return false;
        }
        while let Some(after) = rest.strip_prefix("::") {
            let (name, next) = ident(after);
            if !name.starts_with(|c: char| c.is_ascii_lowercase()) {
                return false;
            }
            if next.trim_start().starts_with('(') {
                return true;
            }
            rest = next;
        }
        false
    })
}

/// The paths a `use` declaration brings in, aliases dropped: `use a::{b as c, d::{self, E}};`
/// gives `a::b`, `a::d` and `a::d::E`.
fn use_paths(declaration: &str) -> Vec<String> {
    fn expand(prefix: &str, tree: &str, out: &mut Vec<String>) {
        let tree = tree.trim();
        let join = |p: &str| {
            if prefix.is_empty() {
                p.to_string()
            } else if p.is_empty() {
                prefix.to_string()
            } else {
                format!("{prefix}::{p}")
            }
        };
        let Some(open) = tree.find('{') else {
            let path = tree.split(" as ").next().unwrap_or("").trim();
            out.push(join(if path == "self" { "" } else { path }));
            return;
        };
        let head = join(tree[..open].trim().trim_end_matches("::"));
        let inner = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
        let (mut depth, mut start) = (0, 0);
        for (i, c) in inner.char_indices() {
            match c {
                '{' => depth += 1,
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    expand(&head, &inner[start..i], out);
                    start = i + 1;
                }
                _ => {}
            }
        }
        if !inner[start..].trim().is_empty() {
            expand(&head, &inner[start..], out);
        }
    }
    let body = declaration.trim().trim_end_matches(';');
    let body = body.split_once("use ").map_or(body, |(_, b)| b);
    let mut out = Vec::new();
    expand(
        "",
        &body.split_whitespace().collect::<Vec<_>>().join(" "),
        &mut out,
    );
    out
}

/// Whether a `use` declaration brings in what would let a store function be called without its
/// path: a per-area module itself (`use vamos_store::accounts;`, `…::audit::{self as chain}`),
/// one of its functions or submodules (`use vamos_store::audit::sha256_hex;`), or all of it
/// (`…::dci::*`). Its types are plain data and may be named.
fn imports_store_functions(declaration: &str) -> bool {
    use_paths(declaration).iter().any(|p| {
        let parts: Vec<&str> = p.split("::").collect();
        parts.first() == Some(&"vamos_store")
            && parts.get(1).is_some_and(|a| STORE_AREAS.contains(a))
            && (parts.len() == 2
                || parts
                    .last()
                    .is_some_and(|l| *l == "*" || l.starts_with(|c: char| c.is_ascii_lowercase())))
    })
}

#[test]
fn the_store_call_check_recognises_calls_and_imports() {
    assert!(calls_the_store(
        "    let u = vamos_store::accounts::users(&mut x)?;"
    ));
    assert!(calls_the_store(
        "vamos_store::counter_referrals::registry_state (sql)"
    ));
    assert!(calls_the_store(
        "    let n = accounts::users(&mut s.db())?;"
    ));
    assert!(!calls_the_store(
        "fn f(u: vamos_store::accounts::User) -> vamos_store::Result<()> {"
    ));
    assert!(!calls_the_store("    let s = vamos_store::open(url)?;"));
    assert!(!calls_the_store(
        "    Arc<vamos_store::places::PersonPlaces>"
    ));
    assert!(!calls_the_store("    vamos_app::accounts::users(s, actor)"));
    assert!(imports_store_functions("use vamos_store::accounts;"));
    assert!(imports_store_functions("use vamos_store::dci as store;"));
    assert!(imports_store_functions(
        "use vamos_store::audit::{self as chain, AuditQuery};"
    ));
    assert!(imports_store_functions(
        "use vamos_store::{accounts, Store};"
    ));
    assert!(imports_store_functions(
        "use vamos_store::audit::sha256_hex;"
    ));
    assert!(imports_store_functions("use vamos_store::views::*;"));
    assert!(imports_store_functions(
        "use vamos_store::{\n    views::{Filter, search_persons},\n    Store,\n};"
    ));
    assert!(!imports_store_functions(
        "use vamos_store::views::{Filter, Op, PersonColumn};"
    ));
    assert!(!imports_store_functions(
        "use vamos_store::{AuditEntry, Store};"
    ));
    assert!(!imports_store_functions(
        "pub use vamos_app::accounts::{random_hex, User};"
    ));
}

/// Architecture invariant (ARCHITECTURE.md, `crates/server`, `crates/cli`): the JSON API, the web
/// pages, DCI and the command line reach the store's per-area functions only through the use
/// cases of `crates/app`, which check the caller's permission and write the audit record; above
/// the store they may name its types (plain data), open it and use the `Store` trait.
#[test]
fn the_server_and_the_command_line_call_the_store_only_through_app() {
    let crates = root().join("crates");
    let mut found = Vec::new();
    let mut files = 0;
    for dir in ["server/src", "cli/src"] {
        for p in rust_files(&crates.join(dir)) {
            files += 1;
            let rel = p
                .strip_prefix(&crates)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            let text = std::fs::read_to_string(&p).unwrap();
            let mut declaration: Option<(usize, String)> = None;
            for (n, line) in without_tests(&text).lines().enumerate() {
                let code = line.trim_start();
                if code.starts_with("//") {
                    continue;
                }
                if calls_the_store(code) {
                    found.push(format!("{rel}:{}: {}", n + 1, code));
                }
                let starts =
                    code.starts_with("use ") || (code.starts_with("pub") && code.contains(" use "));
                if let Some((_, d)) = declaration.as_mut() {
                    d.push(' ');
                    d.push_str(code);
                } else if starts {
                    declaration = Some((n + 1, code.to_string()));
                }
                if declaration.as_ref().is_some_and(|(_, d)| d.ends_with(';')) {
                    if let Some((at, d)) = declaration.take() {
                        if imports_store_functions(&d) {
                            found.push(format!("{rel}:{at}: {d}"));
                        }
                    }
                }
            }
        }
    }
    assert!(files > 20, "only {files} files found");
    assert!(
        found.is_empty(),
        "the store called around the use cases (call crates/app instead):\n{}",
        found.join("\n")
    );
}

/// Whether a line writes an audit record itself, or builds one to write.
fn writes_an_audit_record(line: &str) -> bool {
    [".audit(", "audit_entry(", "write_audit", "AuditEntry"]
        .iter()
        .any(|w| line.contains(w))
}

#[test]
fn the_audit_check_recognises_records_written_around_the_use_cases() {
    assert!(writes_an_audit_record("    s.audit(&entry)?;"));
    assert!(writes_an_audit_record(
        "    actor.audit(s, \"leer\", \"persona\", \"1\", \"p\", \"ok\")?;"
    ));
    assert!(writes_an_audit_record(
        "    crate::pool::write_audit(s, e)?;"
    ));
    assert!(!writes_an_audit_record(
        "    let rows = vamos_app::audit::list(s, actor, &q, false)?;"
    ));
    assert!(!writes_an_audit_record(
        "pub use vamos_app::audit::{set_thread_writer, AuditWriter};"
    ));
}

/// Architecture invariant (ARCHITECTURE.md, `crates/app`): the use cases write the audit records
/// — every read of personal data and every administrative action — so the server and the command
/// line neither write one nor build one.
#[test]
fn the_server_and_the_command_line_leave_the_audit_records_to_app() {
    let crates = root().join("crates");
    let mut found = Vec::new();
    for dir in ["server/src", "cli/src"] {
        for p in rust_files(&crates.join(dir)) {
            let rel = p
                .strip_prefix(&crates)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            let text = std::fs::read_to_string(&p).unwrap();
            for (n, line) in without_tests(&text).lines().enumerate() {
                let code = line.trim_start();
                if !code.starts_with("//") && writes_an_audit_record(code) {
                    found.push(format!("{rel}:{}: {}", n + 1, code));
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "audit records written around the use cases (let crates/app write them):\n{}",
        found.join("\n")
    );
}

/// Where a classifier may be built, or its poverty rule set, without `ipm_method::classifier`
/// (which decides poverty as the catalogue chose): how many such lines, and why.
const CLASSIFIERS_APART: [(&str, usize, &str); 3] = [
    ("app/src/ipm_method.rs", usize::MAX, "the builders"),
    (
        "app/src/counter_referrals/mod.rs",
        2,
        "the classifier after new events takes the poverty decided before them",
    ),
    (
        "server/src/web/orientaciones.rs",
        1,
        "a described person, not a registered one: poverty by the IPM is unknown there",
    ),
];

/// What builds a classifier or sets how it decides poverty.
const CLASSIFIER_MAKERS: [&str; 4] = [
    "Classifier::new(",
    "PovertyRule::",
    "NO_POVERTY",
    ".poverty = ",
];

/// Invariant (the population «pobreza» means the same everywhere): every classification of the
/// application decides poverty as the catalogue chose, so classifiers are built by one module.
#[test]
fn every_classifier_decides_poverty_as_the_catalogue_chose() {
    let crates = root().join("crates");
    let mut found = Vec::new();
    for dir in ["app/src", "server/src", "cli/src"] {
        for p in rust_files(&crates.join(dir)) {
            let rel = p
                .strip_prefix(&crates)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            let allowed = CLASSIFIERS_APART
                .iter()
                .find(|(f, _, _)| *f == rel)
                .map_or(0, |(_, n, _)| *n);
            let text = std::fs::read_to_string(&p).unwrap();
            let lines: Vec<String> = without_tests(&text)
                .lines()
                .enumerate()
                .filter(|(_, line)| {
                    let code = line.trim_start();
                    !code.starts_with("//") && CLASSIFIER_MAKERS.iter().any(|m| code.contains(m))
                })
                .map(|(n, line)| format!("{rel}:{}: {}", n + 1, line.trim()))
                .collect();
            if lines.len() > allowed {
                found.extend(lines);
            }
        }
    }
    assert!(
        found.is_empty(),
        "classifiers built or their poverty set apart from vamos_app::ipm_method:\n{}",
        found.join("\n")
    );
}

/// The top-level modules of a crate and, for each, the others it names through `crate::…`
/// (a folder module counts with its files; unit tests are left out).
fn module_graph(krate: &str) -> BTreeMap<String, BTreeSet<String>> {
    let src = root().join("crates").join(krate).join("src");
    let mut graph = BTreeMap::new();
    for e in std::fs::read_dir(&src).unwrap() {
        let p = e.unwrap().path();
        let (name, files) = if p.is_dir() {
            (
                p.file_name().unwrap().to_string_lossy().to_string(),
                rust_files(&p),
            )
        } else if p.extension().is_some_and(|x| x == "rs") {
            (
                p.file_stem().unwrap().to_string_lossy().to_string(),
                vec![p.clone()],
            )
        } else {
            continue;
        };
        if name == "lib" || name == "main" {
            continue;
        }
        let mut uses = BTreeSet::new();
        for f in files {
            let text = std::fs::read_to_string(&f).unwrap();
            let body = without_tests(&text);
            for (i, _) in body.match_indices("crate::") {
                let rest = &body[i + "crate::".len()..];
                let module: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_lowercase() || *c == '_' || c.is_ascii_digit())
                    .collect();
                if !module.is_empty() && module != name {
                    uses.insert(module);
                }
            }
        }
        graph.insert(name, uses);
    }
    graph
}

/// A circle in `graph`, if any (as the modules along it).
fn circle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        n: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(i) = path.iter().position(|p| p == n) {
            let mut c = path[i..].to_vec();
            c.push(n.to_string());
            return Some(c);
        }
        if done.contains(n) {
            return None;
        }
        path.push(n.to_string());
        for d in graph.get(n).into_iter().flatten() {
            if graph.contains_key(d) {
                if let Some(c) = visit(d, graph, path, done) {
                    return Some(c);
                }
            }
        }
        path.pop();
        done.insert(n.to_string());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|n| visit(n, graph, &mut Vec::new(), &mut done))
}

#[test]
fn the_circle_check_finds_a_circle_and_only_one() {
    let g = |edges: &[(&str, &str)]| {
        let mut m: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (a, b) in edges {
            m.entry(a.to_string()).or_default().insert(b.to_string());
            m.entry(b.to_string()).or_default();
        }
        m
    };
    assert!(circle(&g(&[("a", "b"), ("b", "c")])).is_none());
    assert_eq!(
        circle(&g(&[("a", "b"), ("b", "c"), ("c", "a")]))
            .unwrap()
            .len(),
        4
    );
}

/// Issue 34: no module of `server`, `store` or `app` imports another in a circle, so each can
/// be read (and changed) from the bottom up.
#[test]
fn no_module_imports_another_in_a_circle() {
    for krate in ["server", "store", "app"] {
        let graph = module_graph(krate);
        assert!(
            graph.len() > 3,
            "{krate}: only {} modules found",
            graph.len()
        );
        if let Some(c) = circle(&graph) {
            panic!(
                "{krate}: modules import one another in a circle: {}",
                c.join(" → ")
            );
        }
    }
}

/// Architecture invariant (ARCHITECTURE.md, `crates/cli`): only the serve module starts the HTTP
/// server; every other command calls the use cases directly.
#[test]
fn only_the_serve_module_of_the_command_line_uses_the_server() {
    let src = root().join("crates/cli/src");
    let users: Vec<String> = rust_files(&src)
        .into_iter()
        .filter(|p| std::fs::read_to_string(p).unwrap().contains("vamos_server"))
        .map(|p| p.file_name().unwrap().to_string_lossy().to_string())
        .collect();
    assert_eq!(users, ["serve.rs"]);
}

/// The `[dependencies]` of a crate's manifest (names only).
fn dependencies(manifest: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(manifest).unwrap();
    let mut out = Vec::new();
    let mut inside = false;
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            inside = line == "[dependencies]";
            continue;
        }
        if inside {
            if let Some((name, _)) = line.split_once(['=', '.']) {
                if !name.trim().is_empty() && !name.starts_with('#') {
                    out.push(name.trim().to_string());
                }
            }
        }
    }
    out
}

/// Architecture invariant (ARCHITECTURE.md, `crates/app`): no HTTP stack under the use cases —
/// neither the app crate nor any workspace crate it builds on depends on axum, tower or hyper.
#[test]
fn the_use_cases_build_on_no_http_stack() {
    let crates = root().join("crates");
    let mut todo = vec!["app".to_string()];
    let mut seen = BTreeSet::new();
    while let Some(c) = todo.pop() {
        if !seen.insert(c.clone()) {
            continue;
        }
        for d in dependencies(&crates.join(&c).join("Cargo.toml")) {
            assert!(
                !["axum", "tower", "tower-http", "hyper", "vamos-server"].contains(&d.as_str()),
                "crates/{c} depends on {d}"
            );
            if let Some(inner) = d.strip_prefix("vamos-") {
                todo.push(inner.to_string());
            }
        }
    }
    assert!(
        seen.contains("store") && seen.contains("engine"),
        "{seen:?}"
    );
}
