//! The exact output of every renderer of a single-stack check, pinned on a
//! fixed report: the terminal table, the JSON document (the contract other
//! tools read) and the Markdown.

mod common;

use common::fixtures;
use wsgiprobe::report::{Console, Document, Exporter, Json, Markdown};

fn doc(report: &wsgiprobe::report::CheckReport) -> Document<'_> {
    Document::Check {
        report,
        label: "gunicorn",
    }
}

#[test]
fn check_table() {
    let report = fixtures::check_report("gunicorn", None);
    let text = Console { color: false }.export(&doc(&report)).unwrap();
    insta::assert_snapshot!(text);
}

#[test]
fn check_table_behind_a_proxy() {
    let report = fixtures::check_report("waitress", Some("nginx"));
    let text = Console { color: false }.export(&doc(&report)).unwrap();
    insta::assert_snapshot!(text);
}

#[test]
fn check_json() {
    let report = fixtures::check_report("gunicorn", None);
    let text = Json.export(&doc(&report)).unwrap();
    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
    insta::assert_json_snapshot!(value, {
        ".cases[].elapsed_ms" => "[elapsed]",
        ".duration_ms" => "[duration]",
    });
}

#[test]
fn check_markdown() {
    let report = fixtures::check_report("gunicorn", None);
    let text = Markdown.export(&doc(&report)).unwrap();
    insta::assert_snapshot!(text);
}
