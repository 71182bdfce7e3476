//! `wsgiprobe check` and `bench` as a CI gate, against real servers:
//! expectation files written and then met, a regression caught, a fixed
//! case reported (and failing under --strict-expectations), per-stack
//! expectations in a matrix, the JUnit report validated with xmllint
//! against the Jenkins xUnit plugin's schema, GitHub Actions' summary and
//! annotations, and load thresholds that hold and break.
//!
//! The breakable gateway (tests/gateways/broken_gateway.py) breaks one rule
//! per `--break`, so each test knows exactly which case must change.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use serde_json::Value;

/// Cases that `--break header-dashes` (fail), `--break server-port-int`
/// (fail) and `--break query-missing` (warn) change, and one that none does.
const DASHES: &str = "environ.http.dash-name";
const PORT: &str = "environ.server-port.str";
const QUERY: &str = "environ.query-string.present-when-empty";
const METHOD: &str = "environ.request-method.get";
const ONLY: [&str; 8] = [
    "--only", DASHES, "--only", PORT, "--only", QUERY, "--only", METHOD,
];

fn broken_cmd(rules: &[&str]) -> String {
    let breaks: String = rules.iter().map(|r| format!(" --break {r}")).collect();
    format!(
        "{{python}} {} --host {{host}} --port {{port}}{breaks} {{app}}",
        broken_gateway()
    )
}

/// `check --cmd` on the breakable gateway with the four cases, plus `args`;
/// returns (exit code, JSON report, stdout, stderr).
fn check_broken(
    rules: &[&str],
    args: &[&str],
    env: &[(&str, &str)],
) -> (i32, Value, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("r.json");
    let cmd = broken_cmd(rules);
    let mut all = vec![
        "check",
        "--no-color",
        "--cmd",
        &cmd,
        "--json",
        json.to_str().unwrap(),
    ];
    all.extend_from_slice(&ONLY);
    all.extend_from_slice(args);
    let out = wsgiprobe_env(&all, env);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    let report = std::fs::read_to_string(&json)
        .map(|t| serde_json::from_str(&t).unwrap())
        .unwrap_or_else(|e| panic!("no JSON report ({e})\n{stdout}\n{stderr}"));
    (out.status.code().unwrap_or(-1), report, stdout, stderr)
}

fn ids(delta: &Value, change: &str) -> Vec<String> {
    delta[change]
        .as_array()
        .unwrap_or_else(|| panic!("no {change} in {delta:#}"))
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_string())
        .collect()
}

fn path_str(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn expectations_written_then_met_on_gunicorn() {
    // gunicorn fails one MUST here (it sends headers before the first body
    // byte), so a plain check exits 1 and can gate nothing.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("expect.toml");
    let only = [
        "--only",
        "response.headers.not-sent-before-body",
        "--only",
        "environ.request-method",
    ];
    let mut args = vec![
        "--server",
        "gunicorn",
        "--update-expectations",
        path_str(&file),
    ];
    args.extend_from_slice(&only);
    let (code, report, stderr) = check_json(&args);
    assert_eq!(report["summary"]["fail"], 1, "{stderr}");
    assert_eq!(code, 0, "the file now describes the run: {stderr}");
    assert!(
        stderr.contains("wrote the expectations of 1 stack(s)"),
        "{stderr}"
    );

    let written = std::fs::read_to_string(&file).unwrap();
    assert!(written.contains("[stack.\"gunicorn\"]"), "{written}");
    assert!(
        written.contains("# gunicorn 27.0.1"),
        "stack described: {written}"
    );
    let failing = written
        .lines()
        .find(|l| l.starts_with("\"response.headers.not-sent-before-body\""))
        .unwrap();
    assert!(
        failing.starts_with("\"response.headers.not-sent-before-body\" = \"fail\" # "),
        "the outcome with what the server did: {failing}"
    );
    assert!(written.contains("\"environ.request-method.get\" = \"pass\"\n"));

    let mut args = vec!["--server", "gunicorn", "--expectations", path_str(&file)];
    args.extend_from_slice(&only);
    let (code, report, stderr) = check_json(&args);
    assert_eq!(code, 0, "every outcome as expected: {stderr}");
    let delta = &report["expectations"];
    assert_eq!(delta["stack"], "gunicorn");
    assert_eq!(delta["fails_run"], false);
    let total = report["summary"]["total"].as_u64().unwrap();
    assert_eq!(
        delta["counts"]["expected"].as_u64(),
        Some(total),
        "{delta:#}"
    );
    let case = report["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "response.headers.not-sent-before-body")
        .unwrap();
    assert_eq!(case["outcome"], "fail", "a verdict is never changed");
    assert_eq!(case["expectation"]["change"], "expected");
}

#[test]
fn a_regression_is_caught_and_named() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("expect.toml");
    let (code, _, _, stderr) = check_broken(&[], &["--update-expectations", path_str(&file)], &[]);
    assert_eq!(code, 0, "{stderr}");

    // The same gateway with one rule broken: the file was written for the
    // correct one (its only section applies to this single stack even
    // though the command, and so the label, differs).
    let (code, report, stdout, stderr) = check_broken(
        &["header-dashes"],
        &["--expectations", path_str(&file)],
        &[],
    );
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    let delta = &report["expectations"];
    assert_eq!(ids(delta, "broken"), [DASHES]);
    assert_eq!(delta["broken"][0]["expected"], "pass");
    assert_eq!(delta["broken"][0]["actual"], "fail");
    assert!(delta["broken"][0]["line"].as_u64().unwrap() > 1);
    assert_eq!(delta["counts"]["expected"], 3);
    assert!(
        stdout.contains(&format!("BROKEN    {DASHES}: expected pass, got fail")),
        "{stdout}"
    );
    assert!(stdout.contains("unexpected failures: exit 1"), "{stdout}");
}

#[test]
fn an_unexpected_pass_is_listed_and_fails_only_under_strict_expectations() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("expect.toml");
    let (code, _, _, stderr) = check_broken(
        &["header-dashes", "query-missing"],
        &["--update-expectations", path_str(&file)],
        &[],
    );
    assert_eq!(code, 0, "{stderr}");
    let written = std::fs::read_to_string(&file).unwrap();
    assert!(
        written.contains(&format!("\"{DASHES}\" = \"fail\" # ")),
        "{written}"
    );
    assert!(
        written.contains(&format!("\"{QUERY}\" = \"warn\" # ")),
        "{written}"
    );

    // The server got fixed: nothing fails, two cases pass unexpectedly.
    let (code, report, stdout, stderr) =
        check_broken(&[], &["--expectations", path_str(&file)], &[]);
    assert_eq!(
        code, 0,
        "fixed cases do not fail the run\n{stdout}\n{stderr}"
    );
    let delta = &report["expectations"];
    assert_eq!(ids(delta, "fixed"), [QUERY, DASHES]);
    assert!(
        stdout.contains(&format!(
            "fixed     {DASHES}: expected fail, got pass: update the expectations"
        )),
        "{stdout}"
    );

    let (code, report, stdout, _) = check_broken(
        &[],
        &["--expectations", path_str(&file), "--strict-expectations"],
        &[],
    );
    assert_eq!(code, 1, "{stdout}");
    assert_eq!(report["expectations"]["fails_run"], true);
    assert!(stdout.contains(&format!("FIXED     {DASHES}")), "{stdout}");
}

#[test]
fn new_and_stale_entries_are_reported_not_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("expect.toml");
    std::fs::write(
        &file,
        format!(
            "[stack.\"mine\"]\n\"{DASHES}\" = \"pass\"\n\"{PORT}\" = \"pass\"\n\"{METHOD}\" = \"pass\"\n\"environ.no-such-case\" = \"fail\"\n"
        ),
    )
    .unwrap();
    // QUERY is not in the file: new, and failing (a warn) once broken.
    let (code, report, stdout, _) = check_broken(&[], &["--expectations", path_str(&file)], &[]);
    assert_eq!(
        code, 0,
        "a new passing case and a stale entry inform\n{stdout}"
    );
    let delta = &report["expectations"];
    assert_eq!(ids(delta, "new"), [QUERY]);
    assert_eq!(delta["stale"][0]["id"], "environ.no-such-case");
    assert_eq!(delta["stale"][0]["line"], 5);
    assert!(
        stdout.contains("stale     environ.no-such-case"),
        "{stdout}"
    );

    let (code, _, stdout, _) = check_broken(
        &[],
        &["--expectations", path_str(&file), "--strict-expectations"],
        &[],
    );
    assert_eq!(code, 1, "{stdout}");

    let (code, report, stdout, _) = check_broken(
        &["query-missing"],
        &["--expectations", path_str(&file)],
        &[],
    );
    assert_eq!(
        code, 1,
        "a new case that warns was expected by no one\n{stdout}"
    );
    assert_eq!(report["expectations"]["counts"]["new_failing"], 1);
    assert!(
        stdout.contains(&format!("NEW       {QUERY}: warn")),
        "{stdout}"
    );
}

#[test]
fn a_malformed_expectations_file_is_exit_2_naming_file_and_entry() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.toml");
    std::fs::write(
        &file,
        "[stack.\"gunicorn\"]\n\"environ.request-method.get\" = \"pass\"\n\"environ.server-port.str\" = \"failed\"\n",
    )
    .unwrap();
    // The file is read before any server starts: the server named here
    // does not exist, and that is not what the run stops on.
    let out = wsgiprobe(&[
        "check",
        "--server",
        "gunicorn==0.0.0-never",
        "--no-install",
        "--expectations",
        path_str(&file),
    ]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("invalid expectations file {}", file.display())),
        "{stderr}"
    );
    assert!(
        stderr.contains("stack \"gunicorn\", case \"environ.server-port.str\" (line 3)"),
        "{stderr}"
    );
    assert!(stderr.contains("unknown outcome \"failed\""), "{stderr}");
    assert!(!stderr.contains("could not start"), "{stderr}");

    let out = wsgiprobe(&["check", "--strict-expectations"]);
    assert_eq!(out.status.code(), Some(2), "needs --expectations");
}

/// Two stacks of the breakable gateway, each breaking its own rule, as
/// servers of a recipe file.
fn matrix_recipes(dir: &Path) -> PathBuf {
    let path = dir.join("recipes.toml");
    let gw = broken_gateway();
    std::fs::write(
        &path,
        format!(
            "[broken-dashes]\ndescription = \"breaks header-dashes\"\ntcp = \"{{python}} {gw} --host {{host}} --port {{port}} --break header-dashes {{app}}\"\n\n\
             [broken-port]\ndescription = \"breaks server-port-int\"\ntcp = \"{{python}} {gw} --host {{host}} --port {{port}} --break server-port-int {{app}}\"\n"
        ),
    )
    .unwrap();
    path
}

fn check_matrix(recipes: &Path, servers: &[&str], args: &[&str]) -> (i32, Value, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("r.json");
    let mut all = vec![
        "check",
        "--no-color",
        "--recipes",
        path_str(recipes),
        "--json",
        path_str(&json),
    ];
    for s in servers {
        all.extend(["--server", s]);
    }
    all.extend_from_slice(&ONLY);
    all.extend_from_slice(args);
    let out = wsgiprobe(&all);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    let report = std::fs::read_to_string(&json)
        .map(|t| serde_json::from_str(&t).unwrap())
        .unwrap_or_else(|e| panic!("no JSON report ({e})\n{stdout}\n{stderr}"));
    (out.status.code().unwrap_or(-1), report, stdout, stderr)
}

#[test]
fn a_matrix_keeps_expectations_per_stack() {
    let dir = tempfile::tempdir().unwrap();
    let recipes = matrix_recipes(dir.path());
    let file = dir.path().join("expect.toml");
    let junit = dir.path().join("junit.xml");
    let stacks = ["broken-dashes", "broken-port"];

    // Written with a third stack that cannot start: its column is an
    // error in the JUnit report, and the file has no section for it.
    let (code, _, _, stderr) = check_matrix(
        &recipes,
        &["broken-dashes", "broken-port", "nosuch"],
        &[
            "--update-expectations",
            path_str(&file),
            "--junit",
            path_str(&junit),
        ],
    );
    assert_eq!(code, 2, "a stack did not start: {stderr}");
    let written = std::fs::read_to_string(&file).unwrap();
    let section = |label: &str| {
        let start = written.find(&format!("[stack.\"{label}\"]")).unwrap();
        let rest = &written[start + 1..];
        rest[..rest.find("\n[").unwrap_or(rest.len())].to_string()
    };
    assert!(section("broken-dashes").contains(&format!("\"{DASHES}\" = \"fail\"")));
    assert!(section("broken-dashes").contains(&format!("\"{PORT}\" = \"pass\"")));
    assert!(section("broken-port").contains(&format!("\"{PORT}\" = \"fail\"")));
    assert!(section("broken-port").contains(&format!("\"{DASHES}\" = \"pass\"")));
    assert!(!written.contains("nosuch"), "{written}");
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert_valid_junit(&junit);
    assert!(
        xml.contains("<testsuite name=\"broken-port / environ\""),
        "{xml}"
    );
    assert!(
        xml.contains("<testcase name=\"start\" classname=\"nosuch\">"),
        "{xml}"
    );

    let (code, report, stdout, stderr) =
        check_matrix(&recipes, &stacks, &["--expectations", path_str(&file)]);
    assert_eq!(
        code, 0,
        "each stack meets its own section\n{stdout}\n{stderr}"
    );
    for (i, label) in stacks.iter().enumerate() {
        let delta = &report["stacks"][i]["expectations"];
        assert_eq!(delta["stack"], *label);
        assert_eq!(delta["counts"]["expected"], 4, "{delta:#}");
    }

    // Each stack against the other's section: both regress.
    let swapped = written
        .replace("[stack.\"broken-dashes\"]", "[stack.\"tmp\"]")
        .replace("[stack.\"broken-port\"]", "[stack.\"broken-dashes\"]")
        .replace("[stack.\"tmp\"]", "[stack.\"broken-port\"]");
    std::fs::write(&file, swapped).unwrap();
    let (code, report, stdout, _) =
        check_matrix(&recipes, &stacks, &["--expectations", path_str(&file)]);
    assert_eq!(code, 1, "{stdout}");
    assert_eq!(
        ids(&report["stacks"][0]["expectations"], "broken"),
        [DASHES]
    );
    assert_eq!(ids(&report["stacks"][0]["expectations"], "fixed"), [PORT]);
    assert_eq!(ids(&report["stacks"][1]["expectations"], "broken"), [PORT]);
    assert!(
        stdout.contains("Expectations for [2] broken-port"),
        "the matrix names the stack: {stdout}"
    );
}

/// The Jenkins xUnit plugin's JUnit schema: scripts/test.sh takes it from
/// pytest's source distribution (testing/example_scripts/junit-10.xsd).
fn junit_xsd() -> PathBuf {
    let path = std::env::var_os("WSGIPROBE_JUNIT_XSD")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join(".venv/share/junit-10.xsd"));
    assert!(
        path.exists(),
        "no JUnit schema at {}: run scripts/test.sh (it fetches junit-10.xsd) or set WSGIPROBE_JUNIT_XSD",
        path.display()
    );
    path
}

fn assert_valid_junit(xml: &Path) {
    let out = Command::new("xmllint")
        .args(["--noout", "--schema"])
        .arg(junit_xsd())
        .arg(xml)
        .output()
        .expect("xmllint (apt-get install libxml2-utils; scripts/test.sh installs it)");
    assert!(
        out.status.success(),
        "{} does not validate:\n{}\n{}",
        xml.display(),
        text(&out.stderr),
        std::fs::read_to_string(xml).unwrap_or_default()
    );
}

#[test]
fn junit_validates_and_github_actions_gets_a_summary_and_annotations() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("expect.toml");
    let junit = dir.path().join("junit.xml");
    let summary = dir.path().join("summary.md");
    std::fs::write(&summary, "earlier step\n").unwrap();
    let (code, _, _, stderr) = check_broken(
        &["header-dashes"],
        &["--update-expectations", path_str(&file)],
        &[],
    );
    assert_eq!(code, 0, "{stderr}");

    // DASHES fails as expected, PORT fails and QUERY warns unexpectedly.
    let env = [
        ("GITHUB_ACTIONS", "true"),
        ("GITHUB_STEP_SUMMARY", path_str(&summary)),
    ];
    let (code, report, _, stderr) = check_broken(
        &["header-dashes", "server-port-int", "query-missing"],
        &[
            "--expectations",
            path_str(&file),
            "--junit",
            path_str(&junit),
        ],
        &env,
    );
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(ids(&report["expectations"], "broken"), [QUERY, PORT]);

    assert_valid_junit(&junit);
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(
        xml.contains("<testsuite name=\"environ\" tests=\"4\""),
        "{xml}"
    );
    assert_eq!(xml.matches("<failure ").count(), 2, "{xml}");
    assert!(
        xml.contains("<failure message=\"PEP 3333, environ Variables (MUST): SERVER_NAME"),
        "the requirement as the message: {xml}"
    );
    assert!(xml.contains("type=\"warn\""), "{xml}");
    assert!(xml.contains("<skipped message=\"expected fail ("), "{xml}");
    assert!(xml.contains("type=\"expected-fail\""), "{xml}");
    assert!(
        xml.contains("response head:"),
        "evidence in the text: {xml}"
    );

    // Unexpected failures in case order: QUERY (a warn), then PORT.
    let line = |i: usize| {
        report["expectations"]["broken"][i]["line"]
            .as_u64()
            .unwrap()
    };
    let errors: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("::error "))
        .collect();
    assert_eq!(errors.len(), 2, "one per unexpected failure:\n{stderr}");
    for (i, (id, what)) in [(QUERY, "got warn"), (PORT, "got fail")].iter().enumerate() {
        let at = format!(
            "::error file={},line={},title=wsgiprobe%3A {id}::expected pass, {what}%0A",
            file.display(),
            line(i)
        );
        assert!(errors[i].starts_with(&at), "{}", errors[i]);
    }

    let md = std::fs::read_to_string(&summary).unwrap();
    assert!(md.starts_with("earlier step\n"), "appended, not replaced");
    assert!(md.contains(PORT) && md.contains(QUERY), "{md}");
}

fn bench(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let mut all = vec![
        "bench", "--server", "gunicorn", "-c", "4", "-d", "1s", "--warmup", "200ms",
    ];
    all.extend_from_slice(args);
    let out = wsgiprobe_env(&all, env);
    (
        out.status.code().unwrap_or(-1),
        text(&out.stdout),
        text(&out.stderr),
    )
}

#[test]
fn load_thresholds_hold_and_break_with_the_measured_value() {
    let (code, stdout, stderr) = bench(
        &[
            "--fail-if",
            "p99<10s",
            "--fail-if",
            "rps>=1",
            "--threshold",
            "errors==0",
        ],
        &[],
    );
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(stdout.contains("thresholds: 3 of 3 held"), "{stdout}");

    let dir = tempfile::tempdir().unwrap();
    let summary = dir.path().join("summary.md");
    let env = [
        ("GITHUB_ACTIONS", "true"),
        ("GITHUB_STEP_SUMMARY", path_str(&summary)),
    ];
    let (code, stdout, stderr) = bench(
        &[
            "--fail-if",
            "rps>=10000000",
            "--fail-if",
            "p99.9<1us",
            "--fail-if",
            "errors<1%",
            "--json",
            "-",
        ],
        &env,
    );
    assert_eq!(code, 1, "{stderr}");
    let report: Value = serde_json::from_str(&stdout).expect("JSON on standard output");
    let t = report["thresholds"].as_array().unwrap();
    let held: Vec<bool> = t.iter().map(|c| c["held"].as_bool().unwrap()).collect();
    assert_eq!(held, [false, false, true]);
    let rps = report["requests_per_sec"].as_f64().unwrap();
    assert_eq!(t[0]["measured"].as_f64(), Some(rps), "the run's own figure");
    assert_eq!(t[1]["unit"], "us");
    assert!(t[1]["measured"].as_f64().unwrap() >= 1.0);
    assert!(
        stderr.contains(&format!(
            "wsgiprobe: threshold rps>=10000000 broken: rps = {rps:.1}"
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains("wsgiprobe: threshold p99.9<1us broken: p99.9 = "),
        "{stderr}"
    );
    assert!(!stderr.contains("errors<1% broken"), "{stderr}");
    assert_eq!(
        stderr.lines().filter(|l| l.starts_with("::error ")).count(),
        2,
        "{stderr}"
    );
    let md = std::fs::read_to_string(&summary).unwrap();
    assert!(md.contains("**2 threshold(s) broken.**"), "{md}");
    assert!(md.contains("| `rps>=10000000` |"), "{md}");
}

#[test]
fn junit_with_every_outcome_and_change_validates() {
    use wsgiprobe::report::{Document, Exporter, Junit};
    let dir = tempfile::tempdir().unwrap();
    let report = fixtures_with_expectations(true);
    let matrix = common::fixtures::matrix_report();
    for (name, doc) in [
        (
            "single.xml",
            Document::Check {
                report: &report,
                label: "gunicorn",
            },
        ),
        ("matrix.xml", Document::Matrix(&matrix)),
    ] {
        let path = dir.path().join(name);
        std::fs::write(&path, Junit.export(&doc).unwrap()).unwrap();
        assert_valid_junit(&path);
    }
}

/// The fixed report with one of every outcome, compared with expectations
/// that give one of every change (strict: stale entries are failures).
fn fixtures_with_expectations(strict: bool) -> wsgiprobe::report::CheckReport {
    common::fixtures::with_expectations(
        common::fixtures::check_report("gunicorn", None),
        "gunicorn",
        common::fixtures::EXPECTATIONS,
        strict,
    )
}
