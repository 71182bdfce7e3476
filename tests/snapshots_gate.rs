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

#[test]
fn markdown_with_expectations() {
    let r = report();
    insta::assert_snapshot!(wsgiprobe::report::Markdown.export(&doc(&r)).unwrap());
}

#[test]
fn markdown_fits_a_pull_request_comment() {
    use wsgiprobe::conformance::Outcome;
    use wsgiprobe::report::{MatrixReport, StackRun};
    // Every built-in case failing on six stacks, each with a long story.
    let set = wsgiprobe::spec::load_builtin().unwrap();
    let long = "the server did something unexpected here; ".repeat(40);
    let runs = (0..6)
        .map(|i| {
            let mut r = fixtures::check_report("gunicorn", None);
            let template = fixtures::result(&set.cases[0].case.id, Outcome::Fail, "x", &long);
            r.results = set
                .cases
                .iter()
                .map(|c| wsgiprobe::conformance::CaseResult {
                    case: c.clone(),
                    ..template.clone()
                })
                .collect();
            r.quirks_applied.clear();
            StackRun {
                label: format!("stack-{i}"),
                result: Ok(r),
            }
        })
        .collect();
    let m = MatrixReport {
        tool: fixtures::tool(),
        started: fixtures::when(),
        strict: false,
        runs,
    };
    let md = wsgiprobe::report::Markdown
        .export(&Document::Matrix(&m))
        .unwrap();
    assert!(
        md.chars().count() <= 65_536,
        "{} characters",
        md.chars().count()
    );
    assert!(
        md.contains("left out to fit a pull-request comment"),
        "{md}"
    );
    let summary = md.find("## Summary").unwrap();
    let folded = md.find("<details>").unwrap();
    assert!(summary < folded, "the summary comes before anything folded");
    assert!(
        md[..folded].contains("| **fail** | `environ."),
        "failures unfolded"
    );
}
