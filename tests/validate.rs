//! `check --validate`: the standard library's wsgiref.validate as a second
//! opinion, against real servers and the breakable gateway.

mod common;

use common::*;
use serde_json::Value;

fn findings(report: &Value) -> &Vec<Value> {
    report["validate"]["findings"]
        .as_array()
        .unwrap_or_else(|| panic!("no validate section: {}", report["validate"]))
}

/// The finding whose message starts with `message`, if any.
fn finding<'a>(report: &'a Value, message: &str) -> Option<&'a Value> {
    findings(report)
        .iter()
        .find(|f| f["message"].as_str().unwrap().starts_with(message))
}

fn triggered_by(f: &Value) -> Vec<&str> {
    f["triggered_by"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["case"].as_str())
        .collect()
}

fn server_findings(report: &Value) -> Vec<String> {
    findings(report)
        .iter()
        .filter(|f| f["classification"] == "server")
        .map(|f| format!("{}: {}", f["check"], f["message"]))
        .collect()
}

/// What every correct server shows: validate.py's complaint about read()
/// without a size, held as stricter than PEP 3333, and its complaint about
/// the str body the probe yields on purpose, held as expected.
fn assert_probe_side_findings_only(report: &Value) {
    assert_findings(report, &[]);
}

/// The probe-side findings every server shows, and about the server exactly
/// `server_side`: (the message's start, the case that triggered it), each a
/// case the server fails on its own.
fn assert_findings(report: &Value, server_side: &[(&str, &str)]) {
    assert_eq!(
        report["validate"]["validating"], true,
        "{}",
        report["validate"]
    );
    assert_eq!(
        report["validate"]["callable"],
        "wsgiprobe_app:validated_app"
    );
    let read = finding(report, "assert_(len(args) == 1)").expect("read() finding");
    assert_eq!(read["classification"], "stricter_than_pep");
    assert_eq!(read["stricter_than_pep"], true);
    assert!(read["reason"]
        .as_str()
        .unwrap()
        .contains("without an argument"));
    assert_eq!(triggered_by(read), ["input.read.no-argument"]);
    let str_body = finding(report, "Iterator yielded non-bytestring").expect("str body finding");
    assert_eq!(str_body["classification"], "expected");
    assert_eq!(triggered_by(str_body), ["response.body.str-refused"]);
    assert_eq!(
        server_findings(report).len(),
        server_side.len(),
        "{:#?}",
        server_findings(report)
    );
    for (message, case) in server_side {
        let f = finding(report, message)
            .unwrap_or_else(|| panic!("no finding {message:?}: {:#?}", server_findings(report)));
        assert_eq!(f["classification"], "server", "{f:#}");
        assert_eq!(triggered_by(f), [*case], "{f:#}");
        assert_eq!(outcome_of(report, case), "fail", "{case}");
    }
    assert_eq!(report["validate"]["summary"]["application"], 0);
}

#[test]
fn wsgiref_under_validate_runs_every_case_and_finds_what_the_cases_find() {
    let (code, report, stderr) = check_json(&["--validate"]);
    assert_complete_run(code, &report, &stderr);
    assert!(report["stack"]["command"]
        .as_str()
        .unwrap()
        .ends_with("wsgiprobe_app:validated_app"));
    // wsgiref hands the application an absolute-form target as PATH_INFO and
    // a Content-Length it never parsed: validate.py sees both in the environ.
    assert_findings(
        &report,
        &[
            (
                "PATH_INFO doesn't start with /",
                "environ.path-info.absolute-form",
            ),
            (
                "ValueError: invalid literal for int()",
                "input.framing.bad-content-length",
            ),
        ],
    );
}

#[test]
fn gunicorn_under_validate_runs_every_case_and_finds_nothing_about_the_server() {
    let (code, report, stderr) = check_json(&["--server", "gunicorn", "--validate"]);
    assert_complete_run(code, &report, &stderr);
    assert_probe_side_findings_only(&report);
    assert!(
        finding(&report, "Unknown REQUEST_METHOD: 'PROPFIND'")
            .is_some_and(|f| f["classification"] == "stricter_than_pep"),
        "{:#?}",
        findings(&report)
    );
}

fn broken_cmd(rules: &[&str]) -> String {
    let brk: String = rules.iter().map(|r| format!(" --break {r}")).collect();
    format!(
        "{{python}} {} --host {{host}} --port {{port}}{brk} {{app}}",
        broken_gateway()
    )
}

#[test]
fn correct_broken_gateway_shows_only_expected_and_stricter_findings() {
    let (code, report, stderr) = check_json(&["--validate", "--cmd", &broken_cmd(&[])]);
    assert_complete_run(code, &report, &stderr);
    assert_eq!(report["summary"]["fail"], 0, "{stderr}");
    assert_probe_side_findings_only(&report);
    for f in findings(&report) {
        assert!(
            f["classification"] == "expected" || f["classification"] == "stricter_than_pep",
            "{f}"
        );
        assert!(f["reason"].is_string(), "{f}");
    }
}

#[test]
fn validate_flags_what_the_broken_gateway_breaks() {
    let cmd = broken_cmd(&["environ-subclass", "no-close", "content-as-http"]);
    let (_, report, stderr) = check_json(&[
        "--validate",
        "--cmd",
        &cmd,
        "--only",
        "environ.content-type.post",
        "--only",
        "response.close.normal",
    ]);
    let server = server_findings(&report);
    for message in [
        "Environment is not of the right type: <class '__main__.EnvironDict'>",
        "Environment should not have the key: HTTP_CONTENT_TYPE",
        "Iterator garbage collected without being closed",
    ] {
        let f = finding(&report, message)
            .unwrap_or_else(|| panic!("no finding {message:?}: {server:#?}\n{stderr}"));
        assert_eq!(f["classification"], "server", "{f}");
        assert!(!triggered_by(f).is_empty(), "{f}");
    }
    // The whole environ the message quotes is left out, so one finding
    // covers every request.
    let env = finding(&report, "Environment is not of the right type").unwrap();
    assert_eq!(env["count"], 2, "{env}");

    let (_, report, _) = check_json(&[
        "--validate",
        "--cmd",
        &broken_cmd(&["keyword-call"]),
        "--only",
        "environ.call.no-keywords",
    ]);
    let f = finding(&report, "No keyword arguments allowed").expect("keyword finding");
    assert_eq!(f["classification"], "server");
    assert_eq!(triggered_by(f), ["environ.call.no-keywords"]);
}

#[test]
fn server_findings_change_the_exit_code_only_with_strict() {
    // close() is never called, but the case run does not look at close():
    // it passes, and only the validator notices.
    let cmd = broken_cmd(&["no-close"]);
    let args = [
        "--validate",
        "--cmd",
        &cmd,
        "--only",
        "environ.request-method.get",
    ];
    let (code, report, stderr) = check_json(&args);
    assert_eq!(report["summary"]["pass"], 1, "{stderr}");
    assert!(
        finding(&report, "Iterator garbage collected without being closed").is_some(),
        "{:#?}",
        findings(&report)
    );
    assert_eq!(code, 0, "{stderr}");
    let mut strict = args.to_vec();
    strict.push("--strict");
    let (code, report, stderr) = check_json(&strict);
    assert_eq!(report["summary"]["pass"], 1, "{stderr}");
    assert_eq!(code, 1, "{stderr}");
}

#[test]
fn validate_without_the_validated_callable_is_exit_2() {
    // The command loads the plain probe, not {app}.
    let (code, report, stderr) = check_json(&[
        "--validate",
        "--cmd",
        "{python} -m gunicorn --bind {host}:{port} wsgiprobe_app:app",
        "--only",
        "environ.request-method.get",
    ]);
    assert_eq!(code, 2, "{stderr}");
    assert_eq!(report["validate"]["validating"], false);
    assert!(report["validate"]["problem"]
        .as_str()
        .unwrap()
        .contains("wsgiprobe_app:validated_app"));
}

#[test]
fn validate_section_shows_in_the_terminal() {
    let out = wsgiprobe(&[
        "check",
        "--validate",
        "--no-color",
        "--only",
        "input.read.no-argument",
    ]);
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("wsgiref.validate (wsgiprobe_app:validated_app)"),
        "{stdout}"
    );
    assert!(stdout.contains("stricter_than_pep"), "{stdout}");
    assert!(stdout.contains("0 about the server"), "{stdout}");
}
