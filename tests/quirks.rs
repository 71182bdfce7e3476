//! Server quirks (`specs/quirks.toml`, `--quirks FILE`): a declared policy
//! turns a warn or skip into `quirk`, never a fail, and is always listed.

mod common;

use common::*;
use serde_json::Value;

fn quirk_file(body: &str) -> tempfile::NamedTempFile {
    let f = tempfile::Builder::new().suffix(".toml").tempfile().unwrap();
    std::fs::write(f.path(), body).unwrap();
    f
}

fn applied<'a>(report: &'a Value, case: &str) -> &'a Value {
    report["quirks_applied"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["case"] == case)
        .unwrap_or_else(|| panic!("no quirk for {case}: {}", report["quirks_applied"]))
}

#[test]
fn a_quirk_turns_a_warn_into_quirk_and_a_must_fail_stands() {
    // wsgiref warns on environ.content-type.absent-without-header (a SHOULD:
    // it supplies text/plain) and fails response.head.no-content (a MUST: it
    // sends a body in reply to HEAD).
    let file = quirk_file(
        r#"
[[quirk]]
server = "wsgiref"
case = "environ.content-type.absent-without-header"
reason = "a policy, for the test"
source = "tests/quirks.rs"

[[quirk]]
server = "wsgiref"
case = "response.head.no-content"
reason = "a policy that cannot excuse a MUST"
source = "tests/quirks.rs"
"#,
    );
    let path = file.path().to_str().unwrap();
    let (code, report, stderr) = check_json(&[
        "--quirks",
        path,
        "--only",
        "environ.content-type.absent-without-header",
        "--only",
        "response.head.no-content",
    ]);
    assert_eq!(
        outcome_of(&report, "environ.content-type.absent-without-header"),
        "quirk"
    );
    let q = applied(&report, "environ.content-type.absent-without-header");
    assert_eq!(q["was"], "warn");
    assert_eq!(q["downgraded"], true);
    assert_eq!(q["reason"], "a policy, for the test");
    assert_eq!(q["file"], path);

    assert_eq!(outcome_of(&report, "response.head.no-content"), "fail");
    let q = applied(&report, "response.head.no-content");
    assert_eq!(q["downgraded"], false);
    assert!(q["note"].as_str().unwrap().contains("MUST"), "{q}");
    let case = report["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "response.head.no-content")
        .unwrap();
    assert_eq!(
        case["quirk"]["downgraded"], false,
        "shown beside the failure"
    );
    assert_eq!(report["summary"]["quirk"], 1);
    assert_eq!(report["summary"]["fail"], 1);
    assert_eq!(code, 1, "the MUST failure still fails the run\n{stderr}");
}

#[test]
fn a_quirked_warn_does_not_fail_a_strict_run() {
    let file = quirk_file(
        "[[quirk]]\nserver = \"wsgiref\"\ncase = \"environ.content-type.absent-without-header\"\nreason = \"r\"\nsource = \"s\"\n",
    );
    let only = [
        "--only",
        "environ.content-type.absent-without-header",
        "--strict",
    ];
    let (code, _, stderr) = check_json(&only);
    assert_eq!(
        code, 1,
        "without the quirk the warn fails --strict\n{stderr}"
    );
    let mut args = vec!["--quirks", file.path().to_str().unwrap()];
    args.extend(only);
    let (code, report, stderr) = check_json(&args);
    assert_eq!(report["summary"]["quirk"], 1);
    assert_eq!(code, 0, "{stderr}");
    let out = wsgiprobe(&[
        "check",
        "--no-color",
        "--quirks",
        file.path().to_str().unwrap(),
        "--only",
        "environ.content-type.absent-without-header",
    ]);
    let stdout = text(&out.stdout);
    assert!(stdout.contains("warn -> quirk, quirk ("), "{stdout}");
    assert!(
        stdout.contains("\nQUIRK environ.content-type.absent-without-header\n"),
        "listed at the end: {stdout}"
    );
}

#[test]
fn the_builtin_gunicorn_quirk_applies_to_gunicorn() {
    let (code, report, stderr) = check_json(&[
        "--server",
        "gunicorn",
        "--only",
        "response.headers.hop-by-hop",
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        outcome_of(&report, "response.headers.hop-by-hop-refused"),
        "quirk"
    );
    // The quirk says gunicorn drops the header: the neighbouring case
    // proves it does.
    assert_eq!(
        outcome_of(&report, "response.headers.hop-by-hop-not-forwarded"),
        "pass"
    );
    let q = applied(&report, "response.headers.hop-by-hop-refused");
    assert!(q["source"]
        .as_str()
        .unwrap()
        .contains("gunicorn/http/wsgi.py"));
}

#[test]
fn the_builtin_wsgiref_quirk_explains_only_the_leading_slashes_collapsed() {
    let (code, report, stderr) = check_json(&["--only", "environ.path-info.slashes-kept"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        outcome_of(&report, "environ.path-info.slashes-kept"),
        "quirk"
    );
    let case = &report["cases"][0];
    assert!(
        case["actual"]
            .as_str()
            .unwrap()
            .starts_with("collapsed the leading slashes only, the inner ones kept: "),
        "the verdict names what wsgiref did: {case}"
    );
    let q = applied(&report, "environ.path-info.slashes-kept");
    assert_eq!(q["was"], "warn");
    assert!(q["source"].as_str().unwrap().contains("gh-87389"), "{q}");
}

#[test]
fn server_software_prefix_matches_a_cmd_server() {
    let file = quirk_file(
        "[[quirk]]\nserver_software = \"broken_gateway/\"\ncase = \"environ.query-string.present-when-empty\"\nreason = \"r\"\nsource = \"s\"\n",
    );
    let cmd = format!(
        "{{python}} {} --host {{host}} --port {{port}} --break query-missing {{app}}",
        broken_gateway()
    );
    let (_, report, stderr) = check_json(&[
        "--cmd",
        &cmd,
        "--quirks",
        file.path().to_str().unwrap(),
        "--only",
        "environ.query-string.present-when-empty",
    ]);
    assert_eq!(
        outcome_of(&report, "environ.query-string.present-when-empty"),
        "quirk",
        "{stderr}"
    );
}

#[test]
fn bad_quirk_files_name_file_and_entry_before_any_server_starts() {
    for (body, wants) in [
        (
            "[[quirk]]\nserver = \"gunicorn\"\ncase = \"environ.request-method.get\"\nreason = \"r\"\nsource = \"s\"\n\n[[quirk]]\nserver = \"gunicorn\"\ncase = \"environ.request-method.get\"\nreasn = \"r\"\nsource = \"s\"\n",
            "quirk 2",
        ),
        (
            "[[quirk]]\nserver = \"gunicorn\"\ncase = \"environ.no-such-case\"\nreason = \"r\"\nsource = \"s\"\n",
            "quirk 1 (environ.no-such-case): unknown case id",
        ),
        (
            "[[quirk]]\ncase = \"environ.request-method.get\"\nreason = \"r\"\nsource = \"s\"\n",
            "name the server",
        ),
    ] {
        let file = quirk_file(body);
        let path = file.path().to_str().unwrap();
        let out = wsgiprobe(&["check", "--quirks", path]);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains(path), "{stderr}");
        assert!(stderr.contains(wants), "{wants}: {stderr}");
        assert!(!stderr.contains("starting"), "{stderr}");
    }
}
