//! Multidimensional poverty (issue 39, first part) through `vamos ipm compute`: a method file and
//! a table of deprivations give the hand-worked Alkire–Foster figures; bad cells are named with
//! file, row, column and value.

#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

mod common;

use common::vamos;
use serde_json::Value;

const METHOD: &str = r#"
version = "prueba"
k = 0.5
[[dimension]]
code = "D1"
name = "Primera"
weight = 0.5
[[dimension]]
code = "D2"
name = "Segunda"
weight = 0.5
[[indicator]]
code = "a"
name = "a"
dimension = "D1"
weight_in_dimension = 0.5
[[indicator]]
code = "b"
name = "b"
dimension = "D1"
weight_in_dimension = 0.5
[[indicator]]
code = "c"
name = "c"
dimension = "D2"
weight_in_dimension = 1.0
"#;

#[test]
fn a_table_of_deprivations_gives_the_hand_worked_figures() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("metodo.toml"), METHOD).unwrap();
    std::fs::write(
        d.path().join("privaciones.csv"),
        "a,b,c,weight\n1,0,1,2\n1,0,0,1\n0,0,1,1\n0,0,0,4\n",
    )
    .unwrap();
    let o = vamos(
        &[
            "ipm",
            "compute",
            "--method",
            "metodo.toml",
            "--input",
            "privaciones.csv",
            "--format",
            "json",
        ],
        d.path(),
        &[],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let r: Value = serde_json::from_slice(&o.stdout).unwrap();
    let f = |v: &Value| v.as_f64().unwrap();
    assert!((f(&r["H"]) - 0.375).abs() < 1e-12, "{r}");
    assert!((f(&r["A"]) - 2.0 / 3.0).abs() < 1e-12);
    assert!((f(&r["M0"]) - 0.25).abs() < 1e-12);
    assert!((f(&r["indicators"][0]["censored"]) - 0.25).abs() < 1e-12);
    assert!((f(&r["indicators"][0]["uncensored"]) - 0.375).abs() < 1e-12);
    // A cell that is not 1, 0 or empty is named.
    std::fs::write(d.path().join("mala.csv"), "a,b,c\n1,si,0\n").unwrap();
    let o = vamos(
        &[
            "ipm",
            "compute",
            "--method",
            "metodo.toml",
            "--input",
            "mala.csv",
        ],
        d.path(),
        &[],
    );
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("fila 2, columna «b», valor «si»"), "{err}");
}
