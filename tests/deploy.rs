//! The deploy area end to end: stacks behind real nginx (TLS terminated
//! with the certificate wsgiprobe generates), the breakable gateway given
//! a recipe with its trust and mount settings, real servers, and
//! `--url https://` against a server wsgiprobe did not start.

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;
use serde_json::Value;

/// A recipe file for the breakable gateway: one server per variant, each
/// with the gateway's own trust and mount flags.
fn broken_recipes(dir: &std::path::Path, variants: &[(&str, &str)]) -> String {
    let mut text = String::new();
    for (name, breaks) in variants {
        text.push_str(&format!(
            "[{name}]\ndescription = \"the breakable gateway\"\n\
             tcp = \"{{python}} {} --host {{host}} --port {{port}} {breaks} {{flags}} {{app}}\"\n\
             trust_proxy = \"--trust-proxy {{proxy_addr}}\"\n\
             trust_covers = [\"scheme\", \"client\", \"host\"]\n\
             prefix = \"--prefix {{prefix}}\"\n\n",
            broken_gateway()
        ));
    }
    let path = dir.join("recipes.toml");
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

fn nginx() -> (&'static str, String) {
    (
        "WSGIPROBE_NGINX",
        std::env::var("WSGIPROBE_NGINX").unwrap_or_else(|_| "nginx".into()),
    )
}

fn case<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("no case {id} in report"))
}

fn deploy_check(args: &[&str]) -> (i32, Value, String) {
    let (k, v) = nginx();
    check_json_env(args, &[(k, v.as_str())])
}

#[test]
fn behind_nginx_tls_a_trusting_server_sees_the_truth_and_only_buffering_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let recipes = broken_recipes(dir.path(), &[("broken", "")]);
    let (code, report, stderr) = deploy_check(&[
        "--recipes",
        &recipes,
        "--server",
        "broken",
        "--proxy",
        "nginx-tls",
        "--trust-proxy",
        "--prefix",
        "/app",
        "--only",
        "deploy",
    ]);
    let stack = &report["stack"];
    assert!(
        stack["target"].as_str().unwrap().starts_with("https://"),
        "{stack}"
    );
    assert!(stack["proxy_options"]["tls"]
        .as_str()
        .unwrap()
        .contains("generated"));
    assert_eq!(stack["options"]["trust_proxy"], "--trust-proxy 127.0.0.1");
    assert_eq!(stack["options"]["prefix"], "--prefix /app");
    for id in [
        "deploy.tls.url-scheme",
        "deploy.tls.https-agrees",
        "deploy.remote-addr.client",
        "deploy.remote-addr.spoofed",
        "deploy.host.http-host",
        "deploy.host.server-name",
        "deploy.host.server-port",
        "deploy.host.spoofed",
        "deploy.prefix.split",
        "deploy.prefix.root",
        "deploy.stream.accel-buffering-no",
    ] {
        assert_eq!(
            case(&report, id)["outcome"],
            "pass",
            "{id}: {}\n{stderr}",
            case(&report, id)
        );
    }
    assert_eq!(
        case(&report, "deploy.url-scheme.spoofed")["outcome"],
        "skip"
    );
    // nginx buffers a stream by default: the deployment's doing, named.
    let stream = case(&report, "deploy.stream.unbuffered");
    assert_eq!(stream["outcome"], "warn", "{stream}");
    assert_eq!(stream["finding"], "deployment");
    assert!(
        stream["fix"]
            .as_str()
            .unwrap()
            .contains("X-Accel-Buffering: no"),
        "{stream}"
    );
    assert_eq!(code, 0, "{stderr}");

    // Reached directly, the unbroken gateway believes no forged header.
    let (code, report, stderr) = check_json(&[
        "--cmd",
        &format!(
            "{{python}} {} --host {{host}} --port {{port}} {{app}}",
            broken_gateway()
        ),
        "--only",
        "deploy.url-scheme.spoofed",
        "--only",
        "deploy.host.spoofed",
        "--only",
        "deploy.remote-addr",
    ]);
    for id in [
        "deploy.url-scheme.spoofed",
        "deploy.host.spoofed",
        "deploy.remote-addr.spoofed",
        "deploy.remote-addr.client",
    ] {
        assert_eq!(case(&report, id)["outcome"], "pass", "{id}\n{stderr}");
    }
    assert_eq!(code, 0);
}

#[test]
fn a_server_not_told_to_trust_the_proxy_gets_warns_that_name_the_setting() {
    let dir = tempfile::tempdir().unwrap();
    let recipes = broken_recipes(dir.path(), &[("broken", "")]);
    let (code, report, stderr) = deploy_check(&[
        "--recipes",
        &recipes,
        "--server",
        "broken",
        "--proxy",
        "nginx-tls",
        "--only",
        "deploy.tls",
        "--only",
        "deploy.remote-addr",
        "--only",
        "deploy.host",
    ]);
    for id in [
        "deploy.tls.url-scheme",
        "deploy.remote-addr.client",
        "deploy.host.server-port",
    ] {
        let c = case(&report, id);
        assert_eq!(c["outcome"], "warn", "{id}: {c}");
        assert_eq!(c["finding"], "deployment", "{id}");
        let fix = c["fix"].as_str().unwrap();
        assert!(
            fix.contains("`--trust-proxy 127.0.0.1` fixes it") && fix.contains("ProxyFix"),
            "{id}: {fix}"
        );
    }
    assert_eq!(
        case(&report, "deploy.remote-addr.spoofed")["outcome"],
        "pass"
    );
    assert_eq!(code, 0, "warns only: {stderr}");
}

#[test]
fn a_broken_trusting_server_fails_and_a_forged_address_believed_is_a_security_finding() {
    let dir = tempfile::tempdir().unwrap();
    let recipes = broken_recipes(
        dir.path(),
        &[
            (
                "broken",
                "--break xff-first --break trust-ignores-proto --break prefix-in-path --break buffer-body",
            ),
            (
                "broken-host",
                "--break trust-ignores-for --break trust-ignores-host --break http-host-rewritten --break https-off",
            ),
        ],
    );
    let (k, v) = nginx();
    let out = wsgiprobe_env(
        &[
            "check",
            "--recipes",
            &recipes,
            "--server",
            "broken",
            "--proxy",
            "nginx-tls",
            "--trust-proxy",
            "--prefix",
            "/app",
            "--only",
            "deploy.tls.url-scheme",
            "--only",
            "deploy.remote-addr.spoofed",
            "--only",
            "deploy.prefix",
            "--only",
            "deploy.stream.accel-buffering-no",
            "--json",
            "-",
        ],
        &[(k, v.as_str())],
    );
    let report: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}{}", text(&out.stdout), text(&out.stderr)));
    assert_eq!(out.status.code(), Some(1));
    // Told to trust the proxy and still wrong: the server's own findings,
    // at the case's level, with no deployment setting to blame.
    for (id, outcome) in [
        ("deploy.tls.url-scheme", "fail"),
        ("deploy.prefix.split", "fail"),
        ("deploy.prefix.root", "warn"),
        ("deploy.stream.accel-buffering-no", "fail"),
    ] {
        let c = case(&report, id);
        assert_eq!(c["outcome"], outcome, "{id}: {c}");
        assert!(c["fix"].is_null(), "{id}: {c}");
    }
    let spoofed = case(&report, "deploy.remote-addr.spoofed");
    assert_eq!(spoofed["outcome"], "fail", "{spoofed}");
    assert_eq!(spoofed["finding"], "security");
    assert!(spoofed["actual"].as_str().unwrap().contains("203.0.113.7"));
    assert_eq!(report["summary"]["security"], 1);

    let (_, report, stderr) = deploy_check(&[
        "--recipes",
        &recipes,
        "--server",
        "broken-host",
        "--proxy",
        "nginx-tls",
        "--trust-proxy",
        "--only",
        "deploy.tls.https-agrees",
        "--only",
        "deploy.remote-addr.client",
        "--only",
        "deploy.host",
    ]);
    for (id, outcome) in [
        ("deploy.tls.https-agrees", "warn"),
        ("deploy.remote-addr.client", "fail"),
        ("deploy.host.http-host", "fail"),
        ("deploy.host.server-name", "warn"),
        ("deploy.host.server-port", "warn"),
    ] {
        let c = case(&report, id);
        assert_eq!(c["outcome"], outcome, "{id}: {c}\n{stderr}");
        assert!(c["fix"].is_null(), "{id}: {c}");
    }

    // Believing forwarded headers from any peer: forged ones sent
    // straight to the server are believed.
    let (code, report, stderr) = check_json(&[
        "--cmd",
        &format!(
            "{{python}} {} --host {{host}} --port {{port}} --break forwarded-any-peer {{app}}",
            broken_gateway()
        ),
        "--only",
        "deploy.url-scheme.spoofed",
        "--only",
        "deploy.host.spoofed",
        "--only",
        "deploy.remote-addr.spoofed",
    ]);
    for id in [
        "deploy.url-scheme.spoofed",
        "deploy.host.spoofed",
        "deploy.remote-addr.spoofed",
    ] {
        let c = case(&report, id);
        assert_eq!(c["outcome"], "fail", "{id}: {c}\n{stderr}");
        assert_eq!(c["finding"], "security", "{id}");
    }
    assert_eq!(code, 1);
}

#[test]
fn real_servers_behind_nginx() {
    // Waitress told to trust nginx takes scheme, address and host from it.
    let (_, report, stderr) = deploy_check(&[
        "--server",
        "waitress",
        "--proxy",
        "nginx-tls",
        "--trust-proxy",
        "--only",
        "deploy.tls",
        "--only",
        "deploy.remote-addr",
        "--only",
        "deploy.host",
    ]);
    let not_passed = cases_with(&report, "fail")
        .into_iter()
        .chain(cases_with(&report, "warn"))
        .collect::<Vec<_>>();
    assert!(not_passed.is_empty(), "{not_passed:#?}\n{stderr}");
    assert!(report["stack"]["options"]["trust_proxy"]
        .as_str()
        .unwrap()
        .contains("--trusted-proxy=127.0.0.1"));

    // Gunicorn has no setting for REMOTE_ADDR: the finding says the
    // application must apply X-Forwarded-For itself.
    let (_, report, _) = deploy_check(&[
        "--server",
        "gunicorn",
        "--proxy",
        "nginx",
        "--only",
        "deploy.remote-addr.client",
    ]);
    let c = case(&report, "deploy.remote-addr.client");
    assert_eq!(c["outcome"], "warn", "{c}");
    assert!(
        c["fix"]
            .as_str()
            .unwrap()
            .contains("gunicorn has no setting"),
        "{c}"
    );

    // uWSGI believes X-Forwarded-Proto and X-Forwarded-Ssl from any client.
    let (code, report, _) =
        check_json(&["--server", "uwsgi", "--only", "deploy.url-scheme.spoofed"]);
    let c = case(&report, "deploy.url-scheme.spoofed");
    assert_eq!(
        (c["outcome"].as_str(), c["finding"].as_str()),
        (Some("fail"), Some("security")),
        "{c}"
    );
    assert_eq!(code, 1);
}

/// The breakable gateway serving HTTPS itself, with a certificate made for
/// the test; stopped when dropped.
struct HttpsGateway {
    child: std::process::Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for HttpsGateway {
    fn drop(&mut self) {
        stop(&mut self.child);
    }
}

fn https_gateway() -> HttpsGateway {
    let dir = tempfile::tempdir().unwrap();
    let cert = wsgiprobe::http::tls::SelfSigned::generate(&["127.0.0.1"]).unwrap();
    std::fs::write(dir.path().join("cert.pem"), &cert.cert_pem).unwrap();
    std::fs::write(dir.path().join("key.pem"), &cert.key_pem).unwrap();
    let app = dir.path().join("app");
    assert!(wsgiprobe(&["probe", "--out", app.to_str().unwrap()])
        .status
        .success());
    let port = free_port();
    let child = Command::new(python())
        .args([
            broken_gateway().as_str(),
            "--host",
            "127.0.0.1",
            "--port",
            &port.to_string(),
            "--tls-cert",
            dir.path().join("cert.pem").to_str().unwrap(),
            "--tls-key",
            dir.path().join("key.pem").to_str().unwrap(),
            "wsgiprobe_app:app",
        ])
        .current_dir(&app)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    HttpsGateway {
        child,
        port,
        _dir: dir,
    }
}

#[test]
fn check_and_bench_speak_https_and_insecure_accepts_a_self_signed_certificate() {
    let gw = https_gateway();
    let url = format!("https://127.0.0.1:{}/", gw.port);
    // The system's roots do not know the certificate: exit 2, and the
    // message says what to do.
    let out = wsgiprobe_within(
        &[
            "check",
            "--url",
            &url,
            "--start-timeout",
            "3",
            "--only",
            "deploy.tls",
        ],
        &[],
        Duration::from_secs(60),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("--insecure"),
        "{}",
        text(&out.stderr)
    );

    let (code, report, stderr) = check_json(&[
        "--url",
        &url,
        "--insecure",
        "--only",
        "deploy.tls",
        "--only",
        "environ.wsgi-url-scheme",
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(report["stack"]["transport"], "tls");
    assert_eq!(case(&report, "deploy.tls.url-scheme")["outcome"], "pass");
    // Over TLS the plain-HTTP scheme case does not apply.
    assert_eq!(
        case(&report, "environ.wsgi-url-scheme.http")["outcome"],
        "skip"
    );

    let out = wsgiprobe(&[
        "bench",
        "--url",
        &url,
        "--insecure",
        "-n",
        "300",
        "-c",
        "4",
        "--warmup",
        "0s",
        "--json",
        "-",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let bench: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(bench["requests"], 300, "{bench}");
    assert_eq!(bench["errors"]["total"], 0, "{bench}");
}
