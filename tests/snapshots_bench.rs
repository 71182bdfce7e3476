//! The exact output of the bench renderers, pinned on fixed runs with a
//! known latency distribution: the terminal summary and the JSON document
//! (the contract: requests_per_sec, latency_us percentiles, histograms).

mod common;

use common::fixtures;
use wsgiprobe::bench::Model;
use wsgiprobe::report::{Console, Document, Exporter, Json, Markdown};

#[test]
fn bench_table_closed_loop() {
    let report = fixtures::bench_report(false);
    let text = Console::default()
        .export(&Document::Bench(&report))
        .unwrap();
    insta::assert_snapshot!(text);
}

#[test]
fn bench_table_open_loop() {
    let report = fixtures::bench_report(true);
    let text = Console::default()
        .export(&Document::Bench(&report))
        .unwrap();
    insta::assert_snapshot!(text);
}

#[test]
fn bench_table_every_request_failed() {
    let report = fixtures::bench_report_every_request_failed();
    let text = Console::default()
        .export(&Document::Bench(&report))
        .unwrap();
    // Failures timed in microseconds are no latency of the server's, and
    // the client dropping each connection is no sign of the server
    // refusing keep-alive.
    let row = text.lines().find(|l| l.contains("│ measured")).unwrap();
    assert_eq!(row.matches(" - ").count(), 5, "{text}");
    assert!(text.contains("latency     mean -, stdev -"), "{text}");
    // Nothing was answered in the window: that is the throughput.
    assert!(text.contains("throughput  0 req/s"), "{text}");
    assert!(!text.contains("closed the connection after"), "{text}");
    assert!(text.contains("no request was answered"), "{text}");
    assert!(text.contains("invalid HTTP version"), "{text}");
    insta::assert_snapshot!(text);
}

#[test]
fn bench_json() {
    let report = fixtures::bench_report(false);
    let text = Json.export(&Document::Bench(&report)).unwrap();
    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
    // The contract fields, whatever else the document holds.
    for key in ["requests_per_sec", "latency_us", "requests", "histogram"] {
        assert!(value.get(key).is_some(), "no {key}");
    }
    for p in ["p50", "p90", "p95", "p99", "p99.9", "max"] {
        assert!(value["latency_us"].get(p).is_some(), "no latency_us.{p}");
    }
    insta::assert_json_snapshot!(value);
}

/// The open model where the stack did not keep up: the headline is what it
/// achieved, the offered rate beside it, and the shortfall said in words.
#[test]
fn bench_table_open_loop_not_kept_up() {
    let mut report = fixtures::bench_report(true);
    report.plan.model = Model::Open { rate: 10_000.0 };
    report.result.totals.window.responses = 34_060;
    let text = Console::default()
        .export(&Document::Bench(&report))
        .unwrap();
    assert!(text.contains("asked 10,000/s, achieved 6,812/s"), "{text}");
    let json: serde_json::Value =
        serde_json::from_str(&Json.export(&Document::Bench(&report)).unwrap()).unwrap();
    assert_eq!(json["offered_rate"], 10_000.0);
    assert_eq!(json["rate_held"], false);
    assert_eq!(json["requests_per_sec"], 6_812.0);
    insta::assert_snapshot!(text);
}

#[test]
fn bench_markdown() {
    let report = fixtures::bench_report(true);
    let text = Markdown.export(&Document::Bench(&report)).unwrap();
    insta::assert_snapshot!(text);
}
