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
    let text = Console::default().export(&doc(&report)).unwrap();
    insta::assert_snapshot!(text);
}

#[test]
fn check_table_behind_a_proxy() {
    let report = fixtures::check_report("waitress", Some("nginx"));
    let text = Console::default().export(&doc(&report)).unwrap();
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

/// `-v`: every case under its area, passes included.
#[test]
fn check_table_verbose() {
    let report = fixtures::check_report("gunicorn", None);
    let console = Console {
        verbose: true,
        ..Console::default()
    };
    let text = console.export(&doc(&report)).unwrap();
    insta::assert_snapshot!(text);
}

/// `-q`: the closing list and the counts only.
#[test]
fn check_table_quiet() {
    let report = fixtures::check_report("gunicorn", None);
    let console = Console {
        quiet: true,
        ..Console::default()
    };
    let text = console.export(&doc(&report)).unwrap();
    insta::assert_snapshot!(text);
}

/// Every line of the default view fits 80 columns, and every case id that
/// appears is whole on its line.
#[test]
fn check_table_fits_80_columns_with_ids_whole() {
    let report = fixtures::check_report("gunicorn", None);
    let text = Console::default().export(&doc(&report)).unwrap();
    for line in text.lines() {
        assert!(
            line.chars().count() <= 80,
            "{} columns: {line}",
            line.chars().count()
        );
    }
    for r in &report.results {
        let id = &r.case.case.id;
        if r.verdict.outcome != wsgiprobe::conformance::Outcome::Pass {
            assert!(text.contains(id.as_str()), "{id} missing:\n{text}");
        }
    }
}

/// A run cut short by Ctrl-C: what was decided, and what was not run.
#[test]
fn check_table_interrupted() {
    let mut report = fixtures::check_report("gunicorn", None);
    report.stopped = Some(wsgiprobe::conformance::Stopped::Cancelled);
    report.interrupted = Some(wsgiprobe::exit::Signal::Interrupt);
    report.not_run = vec![
        "response.close.normal".into(),
        "response.head.no-content".into(),
    ];
    let text = Console {
        quiet: true,
        ..Console::default()
    }
    .export(&doc(&report))
    .unwrap();
    insta::assert_snapshot!(text);
    let json: serde_json::Value =
        serde_json::from_str(&Json.export(&doc(&report)).unwrap()).unwrap();
    assert_eq!(json["interrupted"], "SIGINT");
    assert_eq!(json["stopped"], "interrupted");
    assert_eq!(json["not_run"][1], "response.head.no-content");
}

/// A security finding and a deployment setting's finding are labelled in
/// every format: the table, the JSON (`finding`, `fix`, `summary.security`)
/// and the Markdown.
#[test]
fn deploy_findings_in_every_format() {
    let report = fixtures::deploy_report();
    let doc = Document::Check {
        report: &report,
        label: "waitress + nginx-tls",
    };
    let table = Console::default().export(&doc).unwrap();
    assert!(table.contains("SECURITY FINDING"), "{table}");
    insta::assert_snapshot!("deploy_table", table);
    let json: serde_json::Value = serde_json::from_str(&Json.export(&doc).unwrap()).unwrap();
    assert_eq!(json["summary"]["security"], 1);
    insta::assert_json_snapshot!("deploy_json", json["cases"], {
        "[].elapsed_ms" => "[elapsed]",
    });
    let md = Markdown.export(&doc).unwrap();
    assert!(md.contains("**FAIL (SECURITY)**"), "{md}");
    insta::assert_snapshot!("deploy_markdown", md);
}
