//! The JUnit XML report, for the test views of CI systems (GitLab,
//! Jenkins, Azure, CircleCI, GitHub test-report actions).
//!
//! The mapping (docs/ci.md shows it with an example):
//! - one `<testsuite>` per area (`environ`, `input`, `response`), named
//!   `LABEL / AREA` in a matrix, one per stack; `classname` is the suite name;
//! - one `<testcase>` per case, named by its id, with its time;
//! - a case that makes the run exit 1 is a `<failure>`: a fail, a warn with
//!   `--strict`, or with `--expectations` an unexpected fail or warn (and,
//!   with `--strict-expectations`, anything the file does not describe);
//!   `type` is the outcome (`fail`, `warn`) or the change (`fixed`, `new`,
//!   `changed`), the message the requirement, the text the evidence:
//!   expected, actual, the requirement, the request and the response head;
//! - a fail or warn the expectations file names is `<skipped
//!   type="expected-fail">` (or `expected-warn`), as pytest writes xfail;
//! - skip is `<skipped type="skip">` with its reason, quirk `<skipped
//!   type="quirk">` with the quirk's reason;
//! - error is `<error>` with what stopped the harness;
//! - a warn that does not fail the run passes, with the evidence in
//!   `<system-out>`;
//! - stale expectation entries are test cases of a suite `LABEL /
//!   expectations`: skipped, or failures with `--strict-expectations`;
//! - a stack that did not start is a suite with one `<error>` case, `start`.
//!
//! The output validates against the Jenkins xUnit plugin's `junit-10.xsd`
//! (the Surefire-derived schema the plugin checks JUnit files with); the
//! test suite runs xmllint on it.

use std::time::Duration;

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

use super::check::CheckReport;
use super::export::{Document, ExportError, Exporter};
use crate::conformance::{CaseResult, Outcome};
use crate::expectations::{Change, Delta};

/// The JUnit XML exporter.
#[derive(Debug, Clone, Copy, Default)]
pub struct Junit;

impl Exporter for Junit {
    fn name(&self) -> &'static str {
        "JUnit report"
    }

    fn export(&self, doc: &Document) -> Result<String, ExportError> {
        let mut report = Report::new("wsgiprobe check");
        match doc {
            Document::Check { report: r, .. } => {
                report.add_test_suites(suites(r, None));
                report.set_time(r.duration);
            }
            Document::Matrix(m) => {
                let mut time = Duration::ZERO;
                for run in &m.runs {
                    match &run.result {
                        Ok(r) => {
                            report.add_test_suites(suites(r, Some(&run.label)));
                            time += r.duration;
                        }
                        Err(e) => {
                            let mut suite = TestSuite::new(run.label.as_str());
                            let mut status = TestCaseStatus::non_success(NonSuccessKind::Error);
                            status
                                .set_type("start")
                                .set_message(first_line(e))
                                .set_description(e.as_str());
                            let mut case = TestCase::new("start", status);
                            case.set_classname(run.label.as_str());
                            suite.add_test_case(case);
                            report.add_test_suite(suite);
                        }
                    }
                }
                report.set_time(time);
            }
            _ => {
                return Err(ExportError::Unsupported {
                    format: "JUnit",
                    document: doc.kind(),
                })
            }
        }
        let xml = report
            .to_string()
            .map_err(|e| ExportError::Xml(self.name(), e))?;
        Ok(without_root_skipped(&xml))
    }
}

/// quick-junit counts skipped tests on `<testsuites>` too, an attribute
/// the Jenkins xUnit schema does not allow there (it does on each
/// `<testsuite>`, which keeps the count): drop it from the root element so
/// the file validates.
fn without_root_skipped(xml: &str) -> String {
    let Some(start) = xml.find("<testsuites") else {
        return xml.to_string();
    };
    let end = start + xml[start..].find('>').unwrap_or(0);
    let root = &xml[start..end];
    let Some(at) = root.find(" skipped=\"") else {
        return xml.to_string();
    };
    let len = root[at + 10..].find('"').map_or(0, |q| 10 + q + 1);
    format!("{}{}", &xml[..start + at], &xml[start + at + len..])
}

/// One suite per area of one stack's report (plus one for stale
/// expectation entries, when there are any).
fn suites(report: &CheckReport, label: Option<&str>) -> Vec<TestSuite> {
    let name = |area: &str| match label {
        Some(l) => format!("{l} / {area}"),
        None => area.to_string(),
    };
    let mut areas: Vec<&str> = Vec::new();
    for r in &report.results {
        if !areas.contains(&r.case.area.as_str()) {
            areas.push(&r.case.area);
        }
    }
    let mut out = Vec::new();
    for area in areas {
        let suite_name = name(area);
        let mut suite = TestSuite::new(suite_name.as_str());
        let mut time = Duration::ZERO;
        for r in report.results.iter().filter(|r| r.case.area == area) {
            let mut case = TestCase::new(r.case.case.id.as_str(), status(report, r));
            case.set_classname(suite_name.as_str()).set_time(r.elapsed);
            if let Some(out) = passing_note(report, r) {
                case.set_system_out(out);
            }
            time += r.elapsed;
            suite.add_test_case(case);
        }
        suite.set_time(time);
        out.push(suite);
    }
    if let Some(d) = report.expectations.as_ref().filter(|d| !d.stale.is_empty()) {
        let suite_name = name("expectations");
        let mut suite = TestSuite::new(suite_name.as_str());
        for s in &d.stale {
            let message = format!(
                "stale entry in {} (line {}): no case {} exists any more; remove it",
                d.file, s.line, s.id
            );
            let mut status = if d.strict {
                TestCaseStatus::non_success(NonSuccessKind::Failure)
            } else {
                TestCaseStatus::skipped()
            };
            status.set_type("stale").set_message(message);
            let mut case = TestCase::new(s.id.as_str(), status);
            case.set_classname(suite_name.as_str());
            suite.add_test_case(case);
        }
        out.push(suite);
    }
    out
}

/// The status element of one case.
fn status(report: &CheckReport, r: &CaseResult) -> TestCaseStatus {
    let outcome = r.verdict.outcome;
    let delta = report.expectations.as_ref();
    let change = delta.and_then(|d| d.of(&r.case.case.id));
    if outcome == Outcome::Error {
        let mut s = TestCaseStatus::non_success(NonSuccessKind::Error);
        s.set_type("error")
            .set_message(first_line(&r.verdict.actual))
            .set_description(evidence(r, delta));
        return s;
    }
    if report.fails_run(r) {
        let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
        let ty = match change.map(|c| c.change) {
            Some(Change::Fixed) => "fixed",
            Some(Change::Changed) => "changed",
            Some(Change::New) if !matches!(outcome, Outcome::Fail | Outcome::Warn) => "new",
            _ => outcome.as_str(),
        };
        s.set_type(ty)
            .set_message(requirement_line(r))
            .set_description(evidence(r, delta));
        return s;
    }
    match outcome {
        Outcome::Fail | Outcome::Warn if change.is_some_and(|c| c.change == Change::Expected) => {
            let mut s = TestCaseStatus::skipped();
            s.set_type(format!("expected-{}", outcome.as_str()))
                .set_message(format!(
                    "expected {} ({}): {}",
                    outcome.as_str(),
                    delta.map_or("", |d| d.file.as_str()),
                    requirement_line(r)
                ))
                .set_description(evidence(r, delta));
            s
        }
        Outcome::Skip => {
            let mut s = TestCaseStatus::skipped();
            s.set_type("skip")
                .set_message(first_line(&r.verdict.actual));
            s
        }
        Outcome::Quirk => {
            let mut s = TestCaseStatus::skipped();
            let reason = r
                .quirk
                .as_ref()
                .map_or(r.verdict.actual.as_str(), |q| q.quirk.reason.as_str());
            s.set_type("quirk").set_message(first_line(reason));
            s
        }
        _ => TestCaseStatus::success(),
    }
}

/// For a case that passes the gate but deserves a word: a warn that does
/// not fail the run, a fixed or new case.
fn passing_note(report: &CheckReport, r: &CaseResult) -> Option<String> {
    if report.fails_run(r) {
        return None;
    }
    let delta = report.expectations.as_ref();
    let change = delta.and_then(|d| d.of(&r.case.case.id));
    match (r.verdict.outcome, change.map(|c| c.change)) {
        (Outcome::Warn, None) => Some(format!(
            "warn (a SHOULD broken; a failure with --strict)\n{}",
            evidence(r, delta)
        )),
        (Outcome::Pass, Some(Change::Fixed)) => Some(format!(
            "fixed: expected {}, passes now: update the expectations",
            change.and_then(|c| c.expected).map_or("?", |o| o.as_str())
        )),
        (_, Some(Change::New)) => Some("new: not in the expectations file".into()),
        _ => None,
    }
}

/// `PEP 3333 (MUST): "the sentence"`, on one line.
fn requirement_line(r: &CaseResult) -> String {
    let c = &r.case.case;
    format!(
        "{} ({}): {}",
        c.source,
        c.level.as_str().to_uppercase(),
        c.requirement
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    )
}

/// Everything a reader needs to see why: expected and actual, the
/// requirement, the expectation, the request and the response head.
fn evidence(r: &CaseResult, delta: Option<&Delta>) -> String {
    let c = &r.case.case;
    let mut text = format!(
        "case: {}\nstimulus: {}\nexpected: {}\nactual: {}\nrequirement: {}\n",
        c.id,
        c.stimulus,
        r.verdict.expected,
        r.verdict.actual,
        requirement_line(r)
    );
    if let Some(d) = delta {
        if let Some(cd) = d.of(&c.id) {
            text.push_str(&format!(
                "expectation ({}): {} -> {}\n",
                d.file,
                cd.expected.map_or("none (new case)", |o| o.as_str()),
                cd.change.as_str()
            ));
        }
    }
    if let Some(q) = &r.quirk {
        text.push_str(&format!("quirk: {} ({})\n", q.quirk.reason, q.quirk.source));
    }
    text.push_str(&format!("\nrequest:\n{}\n", crlf_to_lf(&r.request)));
    match &r.response_head {
        Some(h) => text.push_str(&format!("\nresponse head:\n{}\n", crlf_to_lf(h))),
        None => text.push_str("\nresponse head: none received\n"),
    }
    text
}

fn crlf_to_lf(s: &str) -> String {
    s.replace("\r\n", "\n").trim_end().to_string()
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or("").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_skipped_goes_suite_skipped_stays() {
        let xml = "<?xml version=\"1.0\"?>\n<testsuites name=\"x\" tests=\"2\" skipped=\"1\" failures=\"0\">\n<testsuite name=\"a\" skipped=\"1\">";
        let out = without_root_skipped(xml);
        assert_eq!(
            out,
            "<?xml version=\"1.0\"?>\n<testsuites name=\"x\" tests=\"2\" failures=\"0\">\n<testsuite name=\"a\" skipped=\"1\">"
        );
        assert_eq!(without_root_skipped("<a/>"), "<a/>");
    }
}
