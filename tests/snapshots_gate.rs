//! The CI gate's renderings pinned on fixed reports: the expectation
//! delta in the terminal and the JSON, the JUnit XML (single stack and a
//! matrix with a stack that did not start) and GitHub's annotations.

mod common;

use common::fixtures;
use wsgiprobe::report::{render_delta, Document, Exporter, GithubAnnotations, Json, Junit};

fn report() -> wsgiprobe::report::CheckReport {
    fixtures::with_expectations(
        fixtures::check_report("gunicorn", None),
        "gunicorn",
        fixtures::EXPECTATIONS,
        false,
    )
}

fn doc(report: &wsgiprobe::report::CheckReport) -> Document<'_> {
    Document::Check {
        report,
        label: "gunicorn",
    }
}

#[test]
fn delta_in_the_terminal() {
    let r = report();
    insta::assert_snapshot!(render_delta(r.expectations.as_ref().unwrap(), None));
}

#[test]
fn delta_in_the_terminal_strict() {
    let r = fixtures::with_expectations(
        fixtures::check_report("gunicorn", None),
        "gunicorn",
        fixtures::EXPECTATIONS,
        true,
    );
    insta::assert_snapshot!(render_delta(r.expectations.as_ref().unwrap(), None));
}

#[test]
fn delta_in_the_json() {
    let r = report();
    let text = Json.export(&doc(&r)).unwrap();
    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
    let per_case: Vec<_> = value["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| serde_json::json!({"id": c["id"], "outcome": c["outcome"], "expectation": c["expectation"]}))
        .collect();
    insta::assert_json_snapshot!(serde_json::json!({
        "expectations": value["expectations"],
        "cases": per_case,
    }));
}

#[test]
fn junit_with_expectations() {
    let r = report();
    insta::assert_snapshot!(Junit.export(&doc(&r)).unwrap());
}

#[test]
fn junit_without_expectations() {
    let r = fixtures::check_report("gunicorn", None);
    insta::assert_snapshot!(Junit.export(&doc(&r)).unwrap());
}

#[test]
fn junit_of_a_matrix() {
    let m = fixtures::matrix_report();
    insta::assert_snapshot!(Junit.export(&Document::Matrix(&m)).unwrap());
}

#[test]
fn github_annotations() {
    let r = report();
    insta::assert_snapshot!(GithubAnnotations.export(&doc(&r)).unwrap());
}
