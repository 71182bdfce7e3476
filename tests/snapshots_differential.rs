//! The exact output of every renderer of `check --differential`, pinned on
//! a fixed report: findings first, the disagreements with their bytes,
//! then the agreements; in the terminal, as JSON and as Markdown.

mod common;

use common::fixtures;
use wsgiprobe::report::{Console, Document, Exporter, Json, Markdown};

#[test]
fn differential_in_every_format() {
    let report = fixtures::differential_report();
    let doc = Document::Differential(&report);
    let table = Console::default().export(&doc).unwrap();
    assert!(
        table.find("SECURITY FINDINGS (1)").unwrap() < table.find("DISAGREEMENTS").unwrap(),
        "{table}"
    );
    insta::assert_snapshot!("differential_table", table);
    let json: serde_json::Value = serde_json::from_str(&Json.export(&doc).unwrap()).unwrap();
    assert_eq!(json["summary"]["security_findings"], 1);
    assert_eq!(json["summary"]["disagreements"], 2);
    insta::assert_json_snapshot!("differential_json", json);
    insta::assert_snapshot!("differential_markdown", Markdown.export(&doc).unwrap());
}
