//! Record linkage (issue 40): `vamos linkage evaluate` trains a model's settings on the shipped
//! labelled data and reports the acceptance fields — deduplicating FEBRL and linking its two
//! halves with high precision and recall —, and bad settings, columns or truth files get a clear
//! Spanish error.

#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

mod common;

use common::vamos;
use serde_json::Value;
use std::path::{Path, PathBuf};

fn data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/linkage")
}

fn evaluate(args: &[&str]) -> std::process::Output {
    let mut a = vec!["linkage", "evaluate"];
    a.extend(args);
    vamos(&a, &data(), &[])
}

fn json(args: &[&str]) -> Value {
    let mut a = args.to_vec();
    a.extend(["--format", "json"]);
    let o = evaluate(&a);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).unwrap()
}

#[test]
fn deduplicating_febrl_gives_the_acceptance_fields_with_high_precision_and_recall() {
    let v = json(&[
        "--settings",
        "settings/febrl.toml",
        "--left",
        "febrl/dataset3.csv",
        "--truth",
        "truth/febrl3.csv",
    ]);
    for field in ["pairs_compared", "precision", "recall", "f1", "seconds"] {
        assert!(v[field].is_number(), "{field}: {v}");
    }
    // FEBRL 3: 5,000 records, 6,538 true pairs (../shared/data/linkage/GROUND_TRUTH.md).
    assert_eq!(v["true_pairs"], 6538);
    assert!(v["precision"].as_f64().unwrap() > 0.99, "{v}");
    assert!(v["recall"].as_f64().unwrap() > 0.95, "{v}");
    // Each rule's comparisons, counted before running: given_name blocks FEBRL 1 into 2,082
    // pairs in recordlinkage's published notebook; here FEBRL 3.
    let rules = v["blocking"].as_array().unwrap();
    assert_eq!(rules.len(), 5);
    let sum: u64 = rules
        .iter()
        .map(|r| r["comparisons"].as_u64().unwrap())
        .sum();
    assert!(
        v["pairs_compared"].as_u64().unwrap() <= sum,
        "a pair is compared once"
    );
}

#[test]
fn blocking_on_given_name_counts_what_recordlinkage_publishes_for_febrl1() {
    let v = json(&[
        "--settings",
        "settings/febrl.toml",
        "--left",
        "febrl/dataset1.csv",
        "--truth",
        "truth/febrl1.csv",
    ]);
    assert_eq!(v["blocking"][0]["keys"][0], "given_name");
    assert_eq!(v["blocking"][0]["comparisons"], 2082);
    assert_eq!(v["true_pairs"], 500);
}

#[test]
fn linking_the_two_halves_of_febrl4_finds_the_one_to_one_pairs() {
    let v = json(&[
        "--settings",
        "settings/febrl.toml",
        "--left",
        "febrl/dataset4a.csv",
        "--right",
        "febrl/dataset4b.csv",
        "--truth",
        "truth/febrl4.csv",
    ]);
    assert_eq!(v["true_pairs"], 5000);
    assert!(v["f1"].as_f64().unwrap() > 0.99, "{v}");
}

#[test]
fn a_column_the_settings_name_but_the_file_lacks_is_named_in_spanish() {
    let d = tempfile::tempdir().unwrap();
    let f = d.path().join("r.csv");
    std::fs::write(&f, "rec_id,given_name\na,ana\n").unwrap();
    let o = evaluate(&[
        "--settings",
        "settings/febrl.toml",
        "--left",
        f.to_str().unwrap(),
        "--truth",
        "truth/febrl1.csv",
    ]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("falta la columna «surname»"), "{err}");
}

#[test]
fn a_truth_file_naming_a_record_twice_is_refused_with_row_column_and_value() {
    let d = tempfile::tempdir().unwrap();
    let t = d.path().join("t.csv");
    std::fs::write(&t, "record_id,cluster_id\nrec-1-org,1\nrec-1-org,2\n").unwrap();
    let o = evaluate(&[
        "--settings",
        "settings/febrl.toml",
        "--left",
        "febrl/dataset1.csv",
        "--truth",
        t.to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("fila 3, columna «record_id», valor «rec-1-org»"),
        "{err}"
    );
}

#[test]
fn settings_with_thresholds_out_of_order_a_rule_too_loose_or_too_large_are_refused() {
    let d = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(data().join("settings/febrl.toml")).unwrap();
    let bad = d.path().join("mal.toml");
    std::fs::write(&bad, text.replace("review = 0.5", "review = 0.95")).unwrap();
    let run = |s: &Path| {
        evaluate(&[
            "--settings",
            s.to_str().unwrap(),
            "--left",
            "febrl/dataset1.csv",
            "--truth",
            "truth/febrl1.csv",
        ])
    };
    let o = run(&bad);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("revisión ≤ enlace"));
    let loose = d.path().join("suelta.toml");
    std::fs::write(&loose, format!("max_comparisons = 1000\n{text}")).unwrap();
    let o = run(&loose);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("[\"given_name\"] generaría 2082 comparaciones"),
        "{err}"
    );
    let big = d.path().join("grande.toml");
    std::fs::write(&big, format!("{text}\n#{}", "x".repeat(1 << 20))).unwrap();
    let o = run(&big);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("no pasa de"));
}

#[test]
fn a_file_of_two_records_is_evaluated_without_a_crash() {
    let d = tempfile::tempdir().unwrap();
    let f = d.path().join("dos.csv");
    let head = "rec_id,given_name,surname,street_number,address_1,suburb,postcode,date_of_birth,soc_sec_id";
    std::fs::write(
        &f,
        format!("{head}\nrec-1-org,ana,ortiz,1,calle,centro,1000,19800101,1\nrec-1-dup-0,ana,ortiz,1,calle,centro,1000,19800101,1\n"),
    )
    .unwrap();
    let t = d.path().join("t.csv");
    std::fs::write(&t, "record_id,cluster_id\nrec-1-org,1\nrec-1-dup-0,1\n").unwrap();
    let v = json(&[
        "--settings",
        "settings/febrl.toml",
        "--left",
        f.to_str().unwrap(),
        "--truth",
        t.to_str().unwrap(),
    ]);
    assert_eq!(v["true_pairs"], 1);
    assert_eq!(v["pairs_compared"], 1);
}
