//! The exact output of the suite and compare renderers, pinned on a fixed
//! suite: the Markdown report, the terminal tables, the JSON contract, and
//! the comparison of two suites as a pull-request comment.

mod common;

use common::fixtures;
use wsgiprobe::report::{Console, Document, Exporter, Json, Markdown};
use wsgiprobe::suite::compare::{compare, parse_limits};

#[test]
fn suite_markdown() {
    let report = fixtures::suite_report(false);
    let text = Markdown.export(&Document::Suite(&report)).unwrap();
    insta::assert_snapshot!(text);
}

#[test]
fn suite_table() {
    let report = fixtures::suite_report(true);
    let text = Console::default()
        .export(&Document::Suite(&report))
        .unwrap();
    insta::assert_snapshot!(text);
}

#[test]
fn suite_json() {
    let report = fixtures::suite_report(true);
    let text = Json.export(&Document::Suite(&report)).unwrap();
    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
    // DESIGN's suite contract, whatever else the document holds.
    for key in ["results", "sustainable", "environment"] {
        assert!(value.get(key).is_some(), "no {key}");
    }
    let r = &value["results"][0];
    for key in [
        "stack",
        "workload",
        "level",
        "repeat",
        "requests_per_sec",
        "latency_us",
        "histogram",
    ] {
        assert!(r.get(key).is_some(), "no results[].{key}");
    }
    assert!(r["server"]["cpu_s"].is_number() && r["server"]["rss_max_bytes"].is_number());
    let s = &value["sustainable"][0];
    for key in ["stack", "workload", "rate", "slo", "probes"] {
        assert!(s.get(key).is_some(), "no sustainable[].{key}");
    }
    insta::assert_json_snapshot!(value, {
        ".results[].histogram.corrected" => "[histogram]",
        ".results[].histogram.uncorrected" => "[histogram]",
    });
}

#[test]
fn compare_markdown() {
    let before = Json
        .export(&Document::Suite(&fixtures::suite_report(true)))
        .unwrap();
    let mut slower = fixtures::suite_report(true);
    for r in slower
        .results
        .iter_mut()
        .filter(|r| r.stack == "waitress t4")
    {
        r.requests_per_sec *= 0.8;
        r.latency.p99 = r.latency.p99 * 13 / 10;
    }
    let after = Json.export(&Document::Suite(&slower)).unwrap();
    let (a, b) = (
        serde_json::from_str(&before).unwrap(),
        serde_json::from_str(&after).unwrap(),
    );
    let report = compare(
        ("before.json", &a),
        ("after.json", &b),
        0.10,
        parse_limits(&["p99:+10%".into()]).unwrap(),
    )
    .unwrap();
    assert_eq!(report.broken.len(), 2);
    insta::assert_snapshot!(Markdown.export(&Document::Compare(&report)).unwrap());
    insta::assert_snapshot!(
        "compare_table",
        Console::default()
            .export(&Document::Compare(&report))
            .unwrap()
    );
}
