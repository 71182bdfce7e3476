//! `check --validate`: the standard library's `wsgiref.validate` as a second
//! opinion.
//!
//! The server loads `wsgiprobe_app:validated_app`, which runs the validator's
//! checks with assertions that record a finding instead of raising (so the
//! server sees what it would see without them). After the run the findings
//! are read back through the probe, tied to the case whose request triggered
//! them, and classified. Findings never change a case verdict.
//!
//! validate.py checks both sides of the interface. What it says about the
//! probe (the application) is either the probe breaking a rule on purpose in
//! a scenario made for that (`expected`), or validate.py asking for more than
//! PEP 3333 does (`stricter_than_pep`); only findings about the server count
//! as findings against it (`server`).

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::http::{round_trip_capped, Target};
use crate::probe::{ARGS_HEADER, SCENARIO_HEADER, TOKEN_HEADER};
use crate::spec::LoadedCase;

/// One finding as the probe recorded it (a line of `validate.jsonl`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct RawFinding {
    pub token: String,
    #[serde(default)]
    pub scenario: String,
    /// `assert` (a failed assertion), `warning` (a `WSGIWarning`) or
    /// `error` (a check that raised).
    #[serde(default)]
    pub kind: String,
    /// The validator function that found it (`check_environ`, `InputWrapper.read`).
    #[serde(default)]
    pub check: String,
    #[serde(default)]
    pub message: String,
}

/// Whose fault a finding is, as far as PEP 3333 goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Classification {
    /// The server did something validate.py rejects and PEP 3333 does not allow.
    Server,
    /// The probe broke the rule on purpose: the scenario exists to see what
    /// the server does with that.
    Expected,
    /// validate.py asks for more than PEP 3333 does.
    StricterThanPep,
    /// A finding about the probe in a scenario that does not mean to break
    /// anything: a fault of wsgiprobe, not of the server.
    Application,
}

impl Classification {
    pub fn as_str(self) -> &'static str {
        match self {
            Classification::Server => "server",
            Classification::Expected => "expected",
            Classification::StricterThanPep => "stricter_than_pep",
            Classification::Application => "application",
        }
    }
}

/// The validator checks that look at what the application does (its
/// status, headers, body, and how it uses the streams); everything else
/// looks at the server.
fn about_application(f: &RawFinding) -> bool {
    let c = f.check.as_str();
    matches!(
        c,
        "check_status"
            | "check_headers"
            | "check_content_type"
            | "check_exc_info"
            | "check_iterator"
            | "checked_start_response"
            | "validated_app"
            | "WriteWrapper.__call__"
            | "ErrorWrapper.write"
            | "ErrorWrapper.close"
            | "InputWrapper.close"
    ) || (c == "IteratorWrapper.__next__" && f.message.contains("non-bytestring"))
        || (c == "IteratorWrapper.__next__" && f.message.contains("start_response has not"))
        || (c.starts_with("InputWrapper.") && f.message.contains("len(args)"))
}

/// Classifies one finding; the reason says why it is not held against the
/// server (absent for `server`).
pub fn classify(f: &RawFinding) -> (Classification, Option<&'static str>) {
    let msg = f.message.as_str();
    if f.check == "InputWrapper.read" && msg.contains("len(args) == 1") {
        return (
            Classification::StricterThanPep,
            Some("PEP 3333 (Input and Error Streams, note): \"A server should allow read() to be called without an argument, and return the remainder of the client's input stream\"; validate.py requires exactly one argument (CPython issue 18610)"),
        );
    }
    if msg.starts_with("Unknown REQUEST_METHOD") {
        return (
            Classification::StricterThanPep,
            Some("REQUEST_METHOD is the request's method, any token (RFC 3875 4.1.12, RFC 9110 9.1 extension methods); validate.py warns about methods outside its short list"),
        );
    }
    if msg.starts_with("QUERY_STRING is not in the WSGI environment") {
        return (
            Classification::StricterThanPep,
            Some("PEP 3333, environ Variables: QUERY_STRING \"may be empty or absent\"; validate.py warns when it is absent"),
        );
    }
    if f.check == "check_content_type" && msg.starts_with("No Content-Type header found") {
        return (
            Classification::StricterThanPep,
            Some("PEP 3333 does not require a Content-Type header (RFC 9110 8.3: a sender SHOULD send one)"),
        );
    }
    if about_application(f) {
        let deliberate = match f.scenario.as_str() {
            "str-body" => msg.contains("non-bytestring"),
            "bad-header" => matches!(
                f.check.as_str(),
                "check_status" | "check_headers" | "check_content_type"
            ),
            _ => false,
        };
        if deliberate {
            return (
                Classification::Expected,
                Some(match f.scenario.as_str() {
                    "str-body" => "the str-body scenario yields a str on purpose, to see that the server refuses it",
                    _ => "the bad-header scenario gives start_response a bad status or header on purpose, to see that the server refuses it",
                }),
            );
        }
        return (
            Classification::Application,
            Some("a finding about the probe application, not the server"),
        );
    }
    (Classification::Server, None)
}

/// Which request of a run a token names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Trigger {
    /// The case id, when the token is one of the run's.
    pub case: Option<String>,
    /// `first`, `second` (the case's follow-up request) or the token's own
    /// suffix (`c2`, the third of a case's concurrent requests).
    pub request: String,
    pub scenario: String,
}

/// Maps a token (`RUNID-INDEX[-SUFFIX]`) back to its case.
pub fn trigger(token: &str, scenario: &str, run_id: &str, cases: &[LoadedCase]) -> Trigger {
    let rest = token
        .strip_prefix(run_id)
        .and_then(|r| r.strip_prefix('-'))
        .unwrap_or("");
    let mut parts = rest.splitn(2, '-');
    let case = parts
        .next()
        .and_then(|i| i.parse::<usize>().ok())
        .and_then(|i| cases.get(i))
        .map(|lc| lc.case.id.clone());
    let request = match parts.next() {
        None => "first".to_string(),
        Some("2") => "second".to_string(),
        Some(other) => other.to_string(),
    };
    Trigger {
        case,
        request,
        scenario: scenario.to_string(),
    }
}

/// One distinct finding and every request that triggered it.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub message: String,
    pub check: String,
    pub kind: String,
    pub classification: Classification,
    pub stricter_than_pep: bool,
    pub expected: bool,
    /// Why it is not held against the server.
    pub reason: Option<String>,
    pub count: usize,
    pub triggered_by: Vec<Trigger>,
}

/// What `--validate` found in one run.
#[derive(Debug, Clone, Default)]
pub struct ValidateReport {
    /// The callable the server was asked to load.
    pub callable: String,
    /// Whether the requests really went through `validated_app`.
    pub validating: bool,
    pub findings: Vec<Finding>,
    /// Why the findings could not be gathered.
    pub problem: Option<String>,
}

impl ValidateReport {
    /// Groups raw findings by (check, message), in first-seen order.
    pub fn build(raw: &[RawFinding], run_id: &str, cases: &[LoadedCase]) -> Vec<Finding> {
        let mut out: Vec<Finding> = Vec::new();
        for f in raw {
            let (classification, reason) = classify(f);
            let t = trigger(&f.token, &f.scenario, run_id, cases);
            if let Some(g) = out.iter_mut().find(|g| {
                g.check == f.check && g.message == f.message && g.classification == classification
            }) {
                g.count += 1;
                if !g.triggered_by.contains(&t) {
                    g.triggered_by.push(t);
                }
                continue;
            }
            out.push(Finding {
                message: f.message.clone(),
                check: f.check.clone(),
                kind: f.kind.clone(),
                classification,
                stricter_than_pep: classification == Classification::StricterThanPep,
                expected: classification == Classification::Expected,
                reason: reason.map(str::to_string),
                count: 1,
                triggered_by: vec![t],
            });
        }
        out.sort_by_key(|g| g.classification);
        out
    }

    /// Distinct findings against the server.
    pub fn server_findings(&self) -> usize {
        self.findings
            .iter()
            .filter(|f| f.classification == Classification::Server)
            .count()
    }

    pub fn to_json(&self) -> Value {
        let mut summary = serde_json::Map::new();
        for c in [
            Classification::Server,
            Classification::Expected,
            Classification::StricterThanPep,
            Classification::Application,
        ] {
            let n = self
                .findings
                .iter()
                .filter(|f| f.classification == c)
                .count();
            summary.insert(c.as_str().into(), n.into());
        }
        json!({
            "callable": self.callable,
            "validating": self.validating,
            "problem": self.problem,
            "summary": summary,
            "findings": self.findings,
        })
    }
}

/// Reads back the findings of the run `run_id` through the probe itself, so
/// it works with any number of workers and with `--url`. Also says whether
/// the server really hosts `validated_app`.
///
/// Some findings are recorded after the response is complete (the
/// validator notices an iterable that was never closed only when it is
/// garbage collected, which a busy server does a moment later), so the
/// findings are read again until two reads agree, for at most
/// [`SETTLE_MAX`].
pub fn gather(
    target: &Target,
    base_path: &str,
    run_id: &str,
    timeout: Duration,
    max_body: usize,
) -> Result<(bool, Vec<RawFinding>), String> {
    let deadline = std::time::Instant::now() + SETTLE_MAX;
    let mut last = read_findings(target, base_path, run_id, timeout, max_body)?;
    while std::time::Instant::now() < deadline {
        std::thread::sleep(SETTLE_STEP);
        let next = read_findings(target, base_path, run_id, timeout, max_body)?;
        let settled = next.1.len() == last.1.len();
        last = next;
        if settled {
            break;
        }
    }
    Ok(last)
}

/// The longest wait for late findings.
const SETTLE_MAX: Duration = Duration::from_secs(2);
/// The pause between two reads of the findings.
const SETTLE_STEP: Duration = Duration::from_millis(250);

fn read_findings(
    target: &Target,
    base_path: &str,
    run_id: &str,
    timeout: Duration,
    max_body: usize,
) -> Result<(bool, Vec<RawFinding>), String> {
    // The token does not start with `RUNID-`, so whatever this request
    // triggers stays out of the answer.
    let request = format!(
        "GET {base_path} HTTP/1.1\r\nHost: {}\r\n{SCENARIO_HEADER}: validate-findings\r\n{TOKEN_HEADER}: {run_id}v\r\n{ARGS_HEADER}: run={run_id}-\r\nConnection: close\r\n\r\n",
        target.authority()
    );
    let fail = |e: &dyn std::fmt::Display| format!("could not read the validator's findings: {e}");
    let r = round_trip_capped(target, request.as_bytes(), false, timeout, max_body)
        .map_err(|e| fail(&e))?;
    let v: Value = serde_json::from_slice(&r.body)
        .map_err(|_| fail(&format!("status {} without JSON", r.status)))?;
    let validating = v
        .get("validating")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let findings = v
        .get("findings")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|f| serde_json::from_value(f.clone()).ok())
                .collect()
        })
        .unwrap_or_default();
    Ok((validating, findings))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(scenario: &str, check: &str, message: &str) -> RawFinding {
        RawFinding {
            token: "r1-0".into(),
            scenario: scenario.into(),
            kind: "assert".into(),
            check: check.into(),
            message: message.into(),
        }
    }

    #[test]
    fn read_without_size_is_stricter_than_the_pep() {
        let (c, why) = classify(&raw("read", "InputWrapper.read", "assert_(len(args) == 1)"));
        assert_eq!(c, Classification::StricterThanPep);
        assert!(why.unwrap().contains("without an argument"));
    }

    #[test]
    fn deliberate_misbehaviour_is_expected_only_in_its_scenario() {
        let str_body = raw(
            "str-body",
            "IteratorWrapper.__next__",
            "Iterator yielded non-bytestring ('x')",
        );
        assert_eq!(classify(&str_body).0, Classification::Expected);
        let elsewhere = RawFinding {
            scenario: "environ".into(),
            ..str_body
        };
        assert_eq!(classify(&elsewhere).0, Classification::Application);
        let header = raw("bad-header", "check_headers", "Bad header value: 'a\\r\\n'");
        assert_eq!(classify(&header).0, Classification::Expected);
    }

    #[test]
    fn environ_and_close_findings_are_about_the_server() {
        for (check, msg) in [
            ("check_environ", "Environment is not of the right type"),
            ("check_environ", "KeyError: 'wsgi.url_scheme'"),
            (
                "IteratorWrapper.__del__",
                "Iterator garbage collected without being closed",
            ),
            ("InputWrapper.read", "assert_(type(v) is bytes)"),
            ("lint_app", "No keyword arguments allowed"),
        ] {
            let (c, why) = classify(&raw("environ", check, msg));
            assert_eq!(c, Classification::Server, "{check}: {msg}");
            assert!(why.is_none());
        }
    }

    #[test]
    fn missing_query_string_and_extension_methods_are_stricter() {
        let q = raw(
            "environ",
            "check_environ",
            "QUERY_STRING is not in the WSGI environment; the cgi ...",
        );
        assert_eq!(classify(&q).0, Classification::StricterThanPep);
        let m = raw("environ", "check_environ", "Unknown REQUEST_METHOD: 'FOO'");
        assert_eq!(classify(&m).0, Classification::StricterThanPep);
    }

    #[test]
    fn tokens_map_back_to_cases_and_findings_group() {
        let set = crate::spec::load_builtin().unwrap();
        let cases = &set.cases[..3];
        let t = trigger("rX-1-2", "environ", "rX", cases);
        assert_eq!(t.case.as_deref(), Some(cases[1].case.id.as_str()));
        assert_eq!(t.request, "second");
        assert_eq!(trigger("other", "environ", "rX", cases).case, None);

        let mut a = raw(
            "environ",
            "check_environ",
            "Environment is not of the right type",
        );
        a.token = "rX-0".into();
        let mut b = a.clone();
        b.token = "rX-2".into();
        let c = raw("read", "InputWrapper.read", "assert_(len(args) == 1)");
        let groups = ValidateReport::build(&[a.clone(), b, a, c], "rX", cases);
        assert_eq!(groups.len(), 2);
        assert_eq!(groups[0].classification, Classification::Server);
        assert_eq!(groups[0].count, 3);
        assert_eq!(groups[0].triggered_by.len(), 2);
        assert!(groups[1].stricter_than_pep);
    }
}
