//! `check --differential` end to end: the breakable gateway broken so that
//! it reads a request hidden in the bytes as a request of its own, directly
//! and behind real nginx (where it is request smuggling), and real servers.

mod common;

use common::*;
use serde_json::Value;

/// A recipe file for the breakable gateway, one server per variant.
fn broken_recipes(dir: &std::path::Path, variants: &[(&str, &str)]) -> String {
    let mut text = String::new();
    for (name, breaks) in variants {
        text.push_str(&format!(
            "[{name}]\ndescription = \"the breakable gateway\"\n\
             tcp = \"{{python}} {} --host {{host}} --port {{port}} {breaks} {{flags}} {{app}}\"\n\n",
            broken_gateway()
        ));
    }
    let path = dir.join("recipes.toml");
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

/// Runs `check --differential` with a JSON report on standard output.
fn differential(args: &[&str]) -> (i32, Value, String) {
    let mut all = vec!["check", "--differential", "--json", "-"];
    all.extend_from_slice(args);
    let nginx = std::env::var("WSGIPROBE_NGINX").unwrap_or_else(|_| "nginx".into());
    let out = wsgiprobe_env(&all, &[("WSGIPROBE_NGINX", nginx.as_str())]);
    let stderr = text(&out.stderr);
    let report = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}\n{stderr}", text(&out.stdout)));
    (out.status.code().unwrap_or(-1), report, stderr)
}

fn request<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["requests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == id)
        .unwrap_or_else(|| panic!("no request {id}"))
}

#[test]
fn a_server_that_runs_the_request_hidden_in_a_body_is_a_security_finding() {
    let dir = tempfile::tempdir().unwrap();
    let recipes = broken_recipes(
        dir.path(),
        &[("broken", ""), ("broken-desync", "--break te-cl-keepalive")],
    );
    let (code, report, stderr) = differential(&[
        "--recipes",
        &recipes,
        "--server",
        "broken",
        "--server",
        "broken-desync",
        "--only",
        "baseline",
        "--only",
        "te.with-content-length",
    ]);
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(report["kind"], "differential");
    assert_eq!(report["summary"]["security_findings"], 1, "{report:#}");
    // The baselines agree: the comparison itself is sound.
    for id in [
        "baseline.get",
        "baseline.content-length",
        "baseline.chunked",
    ] {
        assert_eq!(request(&report, id)["disagree"], false, "{id}");
    }
    let te = request(&report, "te.with-content-length");
    assert_eq!(te["disagree"], true);
    assert!(te["bytes"]
        .as_str()
        .unwrap()
        .contains("Transfer-Encoding: chunked\\r\\n\\r\\n0\\r\\n\\r\\nGET /diff/smuggled"));
    let findings = te["security_findings"].as_array().unwrap();
    assert_eq!(findings.len(), 1, "{te:#}");
    assert_eq!(findings[0]["stack"], 1);
    assert_eq!(findings[0]["finding"]["kind"], "desync");
    assert_eq!(te["reactions"][0]["view"]["kind"], "refused");
    let seen = te["reactions"][1]["reaction"]["seen"].as_array().unwrap();
    assert_eq!(seen.len(), 2, "{te:#}");
    assert_eq!(seen[1]["path"], "/diff/smuggled");
}

#[test]
fn behind_nginx_a_request_the_server_finds_in_a_body_is_request_smuggling() {
    let dir = tempfile::tempdir().unwrap();
    let recipes = broken_recipes(dir.path(), &[("broken-get", "--break get-body-ignored")]);
    let (code, report, stderr) = differential(&[
        "--recipes",
        &recipes,
        "--stack",
        "broken-get --proxy nginx --proxy-keepalive",
        "--only",
        "cl.get-body-smuggle",
    ]);
    assert_eq!(code, 1, "{stderr}");
    let r = request(&report, "cl.get-body-smuggle");
    let findings = r["security_findings"].as_array().unwrap();
    assert_eq!(findings.len(), 1, "{r:#}");
    assert_eq!(findings[0]["finding"]["kind"], "smuggled");
    assert!(findings[0]["what"]
        .as_str()
        .unwrap()
        .contains("never reached the client"));
    assert_eq!(report["stacks"][0]["behind_proxy"], true);
}

#[test]
fn real_servers_compared() {
    // Waitress reads Transfer-Encoding over Content-Length but keeps the
    // connection open, and so runs the request after the last chunk
    // (RFC 9112 6.1 asks it to close the connection); gunicorn refuses.
    let (code, report, stderr) = differential(&[
        "--server",
        "gunicorn",
        "--server",
        "waitress",
        "--only",
        "te.with-content-length",
        "--only",
        "header.obs-fold",
        "--only",
        "baseline.get",
    ]);
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(request(&report, "baseline.get")["disagree"], false);
    let te = request(&report, "te.with-content-length");
    let findings = te["security_findings"].as_array().unwrap();
    assert_eq!(findings.len(), 1, "{te:#}");
    assert_eq!(findings[0]["stack"], 1, "the finding is waitress's");
    assert_eq!(te["reactions"][0]["view"]["kind"], "refused");
    // obs-fold: gunicorn refuses it, waitress replaces it with a space;
    // RFC 9112 5.2 allows both, and the report shows the difference.
    let fold = request(&report, "header.obs-fold");
    assert_eq!(fold["disagree"], true);
    let seen = &fold["reactions"][1]["reaction"]["seen"][0];
    assert_eq!(seen["fields"]["HTTP_X_FOLDED"], "first second", "{fold:#}");

    // The console view: findings first, then each disagreement with its bytes.
    let out = wsgiprobe(&[
        "check",
        "--differential",
        "--server",
        "waitress",
        "--only",
        "te.with-content-length",
    ]);
    let console = text(&out.stdout);
    let findings_at = console.find("SECURITY FINDINGS").expect(&console);
    assert!(
        findings_at < console.find("DISAGREEMENTS").unwrap(),
        "{console}"
    );
    assert!(
        console.contains("bytes: \"POST /diff/te-cl HTTP/1.1\\r\\n"),
        "{console}"
    );
}

#[test]
fn outputs_the_differential_report_has_none_of_are_refused_before_anything_starts() {
    for flag in ["--html", "--junit"] {
        let out = wsgiprobe(&[
            "check",
            "--differential",
            "--server",
            "wsgiref",
            flag,
            "out.file",
        ]);
        assert_eq!(out.status.code(), Some(2), "{flag}");
        let stderr = text(&out.stderr);
        assert!(stderr.contains("cannot be used with"), "{flag}: {stderr}");
        assert!(out.stdout.is_empty(), "{flag}");
    }
}
