//! `wsgiprobe check` end to end, against real servers: the standard
//! library's wsgiref; gunicorn, waitress, cheroot, granian and uWSGI from the
//! project's virtual environment; and a deliberately breakable gateway
//! (tests/gateways/broken_gateway.py).
//!
//! `scripts/test.sh` installs the servers; run it rather than bare
//! `cargo test` on a fresh machine.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

#[test]
fn default_gateway_wsgiref_runs_every_case_without_error() {
    let (code, report, stderr) = check_json(&[]);
    assert_complete_run(code, &report, &stderr);
    assert_eq!(report["stack"]["gateway"], "wsgiref");
    assert!(report["stack"]["python"].as_str().unwrap().starts_with('3'));
    assert!(report["stack"]["server_software"]
        .as_str()
        .unwrap()
        .contains("WSGIServer"));
}

/// Runs every case against a known server and checks the stack it records;
/// the versions are the pins in tests/requirements.txt.
fn server_runs_every_case_without_error(server: &str, version: &str) -> Value {
    let (code, report, stderr) = check_json(&["--server", server]);
    assert_complete_run(code, &report, &stderr);
    assert_eq!(report["stack"]["gateway"], server);
    assert_eq!(report["stack"]["version"], version);
    assert!(
        !report["stack"]["options"].as_object().unwrap().is_empty(),
        "launch options are recorded"
    );
    report
}

#[test]
fn gunicorn_runs_every_case_without_error() {
    let report = server_runs_every_case_without_error("gunicorn", "27.0.1");
    assert_eq!(report["stack"]["options"]["worker_class"], "sync");
}

#[test]
fn waitress_runs_every_case_without_error() {
    let report = server_runs_every_case_without_error("waitress", "3.0.2");
    assert_eq!(report["stack"]["server_software"], "waitress");
}

#[test]
fn cheroot_runs_every_case_without_error() {
    let report = server_runs_every_case_without_error("cheroot", "11.1.2");
    assert!(report["stack"]["server_software"]
        .as_str()
        .unwrap()
        .starts_with("Cheroot/11.1.2"));
}

#[test]
fn granian_runs_every_case_without_error() {
    let report = server_runs_every_case_without_error("granian", "2.8.7");
    assert_eq!(report["stack"]["options"]["interface"], "wsgi");
}

#[test]
fn bjoern_runs_every_case_without_error() {
    let report = server_runs_every_case_without_error("bjoern", "3.2.2");
    assert!(report["stack"]["command"]
        .as_str()
        .unwrap()
        .contains("bjoern.run"));
}

#[test]
fn uwsgi_runs_every_case_without_error() {
    let report = server_runs_every_case_without_error("uwsgi", "2.0.30.post1");
    assert!(report["stack"]["command"]
        .as_str()
        .unwrap()
        .contains("--http-socket"));
    assert_eq!(report["stack"]["options"]["workers"], "1");
}

/// Every rule the breakable gateway can break, the case that must catch it,
/// and the outcome: a broken MUST fails; a broken SHOULD warns, which
/// `--strict` turns into exit 1.
const BROKEN: &[(&str, &str, &str)] = &[
    ("method-lowercase", "environ.request-method.get", "fail"),
    ("method-fixed", "environ.request-method.extension", "fail"),
    ("path-raw", "environ.path-info.percent-decoded", "fail"),
    ("path-utf8", "environ.path-info.latin1-bytes", "fail"),
    ("bytes-path", "environ.path-info.present", "fail"),
    ("query-decoded", "environ.query-string.raw", "fail"),
    (
        "query-missing",
        "environ.query-string.present-when-empty",
        "warn",
    ),
    ("content-as-http", "environ.content-type.post", "fail"),
    (
        "content-length-empty-body",
        "environ.content-length.absent-without-body",
        "fail",
    ),
    ("header-utf8", "environ.latin1.header-byte", "fail"),
    ("header-dashes", "environ.http.dash-name", "fail"),
    ("repeat-header-last", "environ.http.repeated-joined", "fail"),
    ("environ-subclass", "environ.call.builtin-dict", "fail"),
    ("keyword-call", "environ.call.no-keywords", "fail"),
    ("wsgi-version-list", "environ.wsgi-version.tuple", "fail"),
    ("no-url-scheme", "environ.wsgi-url-scheme.http", "fail"),
    ("no-server-name", "environ.server-name.nonempty", "fail"),
    ("server-port-int", "environ.server-port.str", "fail"),
    ("no-errors", "environ.wsgi-errors.methods", "fail"),
    ("no-multithread", "environ.wsgi-multithread.present", "fail"),
    (
        "multithread-false",
        "environ.wsgi-multithread.truthful",
        "warn",
    ),
    (
        "forking-multiprocess-false",
        "environ.wsgi-multiprocess.truthful",
        "warn",
    ),
    ("run-once-true", "environ.wsgi-run-once.truthful", "warn"),
    ("protocol-fixed", "environ.server-protocol.http10", "fail"),
    (
        "no-write",
        "environ.start-response.returns-callable",
        "fail",
    ),
    ("no-close", "response.close.normal", "fail"),
    ("no-chunked", "input.chunked.decoded", "fail"),
    ("head-body", "response.head.no-content", "fail"),
    // The read past the body hangs: the case becomes a verdict at its timeout.
    ("input-unbounded", "input.read.past-content-length", "warn"),
    // ... and on a kept-alive connection it reads the next request as body.
    ("input-unbounded", "input.keep-alive.body-boundary", "warn"),
    (
        "slash-kept-encoded",
        "environ.path-info.encoded-slash",
        "fail",
    ),
    ("path-collapse", "environ.path-info.slashes-kept", "warn"),
    ("script-name-overlap", "environ.script-name.split", "fail"),
    ("path-utf8", "environ.latin1.path-raw-byte", "fail"),
    ("query-utf8", "environ.query-string.raw-byte", "fail"),
    (
        "chunked-length-zero",
        "environ.content-length.chunked",
        "fail",
    ),
    (
        "underscore-merge",
        "environ.http.underscore-not-merged",
        "warn",
    ),
    ("errors-bytes", "environ.wsgi-errors.write-str", "fail"),
    ("errors-ascii-only", "environ.wsgi-errors.non-ascii", "warn"),
    ("read-zero-all", "input.read.zero", "fail"),
    ("eof-raises", "input.readline.exhausted", "warn"),
    ("no-continue", "input.expect-continue.interim-sent", "warn"),
    (
        "continue-http10",
        "input.expect-continue.not-for-http10",
        "fail",
    ),
    (
        "exc-info-append",
        "response.exc-info.replaces-unsent",
        "warn",
    ),
    (
        "exc-info-ignored",
        "response.exc-info.raises-after-sent",
        "fail",
    ),
    (
        "exc-info-other-error",
        "response.exc-info.reraises-original",
        "warn",
    ),
    (
        "start-twice-ok",
        "response.start-response.second-call-refused",
        "warn",
    ),
    (
        "sr-before-iter",
        "response.start-response.lazy-call",
        "fail",
    ),
    (
        "hop-by-hop-ok",
        "response.headers.hop-by-hop-refused",
        "warn",
    ),
    (
        "hop-by-hop-ok",
        "response.headers.hop-by-hop-not-forwarded",
        "warn",
    ),
    (
        "hop-by-hop-ok",
        "response.headers.no-transfer-encoding-for-http10",
        "fail",
    ),
    (
        "header-unchecked",
        "response.headers.crlf-not-emitted",
        "fail",
    ),
    (
        "header-unchecked",
        "response.headers.checked-at-start-response",
        "warn",
    ),
    (
        "header-utf8-out",
        "response.headers.non-latin1-refused",
        "warn",
    ),
    (
        "status-unchecked",
        "response.status.crlf-not-emitted",
        "fail",
    ),
    (
        "status-unchecked",
        "response.status.malformed-refused",
        "fail",
    ),
    (
        "eager-headers",
        "response.headers.not-sent-before-body",
        "fail",
    ),
    ("buffer-body", "response.body.unbuffered", "fail"),
    ("str-body-ok", "response.body.str-refused", "warn"),
    (
        "no-truncate",
        "response.content-length.not-exceeded",
        "warn",
    ),
    (
        "underflow-keepalive",
        "response.content-length.short-closes",
        "warn",
    ),
    ("head-body", "response.head.pipelined-next", "fail"),
    (
        "iter-attrs",
        "response.iterable.no-other-attributes",
        "fail",
    ),
    (
        "no-close-on-disconnect",
        "response.close.client-disconnect",
        "fail",
    ),
    ("no-close", "response.close.iteration-error", "fail"),
    ("no-close", "response.close.head", "fail"),
    (
        "wrapper-needs-fileno",
        "response.file-wrapper.no-fileno",
        "fail",
    ),
    (
        "wrapper-rewinds",
        "response.file-wrapper.current-position",
        "warn",
    ),
    (
        "wrapper-ignores-length",
        "response.file-wrapper.content-length",
        "warn",
    ),
    ("wrapper-no-close", "response.file-wrapper.close", "fail"),
    (
        "wrapper-eager",
        "response.file-wrapper.no-early-transmission",
        "fail",
    ),
    // Reads that mix methods, and reads to the end of the body.
    ("readline-size-ignored", "input.readline.size-limit", "fail"),
    (
        "readline-own-buffer",
        "input.mixed.readline-then-read",
        "fail",
    ),
    (
        "readline-own-buffer",
        "input.mixed.readline-then-iter",
        "fail",
    ),
    (
        "readline-own-buffer",
        "input.mixed.readline-then-readlines",
        "fail",
    ),
    (
        "iter-past-content-length",
        "input.iter.stops-at-content-length",
        "warn",
    ),
    // Request framing and connection handling.
    ("unread-body-kept", "input.unread-body.next-request", "fail"),
    (
        "chunk-extension-refused",
        "input.framing.chunk-extension",
        "fail",
    ),
    (
        "length-and-chunked-by-length",
        "input.framing.length-and-chunked",
        "fail",
    ),
    (
        "coding-not-final-ok",
        "input.framing.chunked-not-final",
        "fail",
    ),
    (
        "unknown-coding-ignored",
        "input.framing.unknown-coding",
        "warn",
    ),
    (
        "lenient-content-length",
        "input.framing.bad-content-length",
        "fail",
    ),
    (
        "http10-transfer-encoding-kept",
        "input.framing.http10-transfer-encoding",
        "fail",
    ),
    (
        "continue-in-http10-answer",
        "input.expect-continue.interim-sent",
        "warn",
    ),
    (
        "server-name-product",
        "environ.server-name.host-http11",
        "fail",
    ),
    (
        "server-name-product",
        "environ.server-name.host-http10",
        "fail",
    ),
    ("dots-dropped", "environ.path-info.dot-segments", "fail"),
    ("path-lowercase", "environ.path-info.case-kept", "fail"),
    (
        "absolute-form-raw",
        "environ.path-info.absolute-form",
        "fail",
    ),
    ("long-target-400", "environ.path-info.long-target", "fail"),
    (
        "target-space-joined",
        "environ.request-line.space-refused",
        "warn",
    ),
    (
        "empty-line-refused",
        "environ.request-line.empty-line-first",
        "warn",
    ),
    ("remote-addr-name", "environ.remote-addr.address", "fail"),
    (
        "remote-user-from-auth",
        "environ.remote-user.absent",
        "warn",
    ),
    ("host-unchecked", "environ.host.missing-refused", "fail"),
    ("host-unchecked", "environ.host.repeated-refused", "fail"),
    (
        "space-before-colon-ok",
        "environ.http.space-before-colon-refused",
        "fail",
    ),
    ("obs-fold-kept", "environ.http.obs-fold", "fail"),
    ("nul-kept", "environ.http.nul-refused", "fail"),
    ("bare-cr-line-end", "environ.http.bare-cr", "fail"),
    (
        "whitespace-line-kept",
        "environ.http.whitespace-line",
        "fail",
    ),
    ("value-untrimmed", "environ.http.value-trimmed", "fail"),
    ("large-field-dropped", "environ.http.large-field", "fail"),
    (
        "leading-slashes-collapsed",
        "environ.path-info.slashes-kept",
        "warn",
    ),
    (
        "underscore-overwrite",
        "environ.http.underscore-not-merged",
        "warn",
    ),
    // When the head goes out, and framing on the other code paths.
    (
        "eager-empty-headers",
        "response.headers.not-sent-before-body",
        "fail",
    ),
    (
        "stored-status-after-error",
        "response.headers.not-sent-after-error",
        "fail",
    ),
    (
        "no-truncate-sequence",
        "response.content-length.not-exceeded-list",
        "warn",
    ),
    (
        "no-truncate-sequence",
        "response.content-length.over-pipelined",
        "warn",
    ),
    (
        "underflow-keepalive-sequence",
        "response.content-length.short-closes-tuple",
        "warn",
    ),
    (
        "underflow-keepalive-sequence",
        "response.content-length.under-pipelined",
        "warn",
    ),
    (
        "te-plus-length",
        "response.headers.app-transfer-encoding",
        "fail",
    ),
    ("own-date-server-added", "response.headers.app-date", "fail"),
    (
        "own-date-server-added",
        "response.headers.app-server",
        "fail",
    ),
    ("date-rfc850", "response.date.imf-fixdate", "fail"),
    ("framing-on-204", "response.no-content.204-framing", "fail"),
    ("body-on-204", "response.no-content.204-body", "fail"),
    ("body-on-204", "response.no-content.304-body", "fail"),
    ("head-length-zero", "response.head.content-length", "fail"),
    ("head-drops-length", "response.head.same-headers", "warn"),
    (
        "silent-close",
        "response.connection.close-announced",
        "fail",
    ),
    (
        "close-ignored",
        "response.connection.close-requested",
        "fail",
    ),
    (
        "close-sent-keeps-serving",
        "response.connection.close-sent",
        "fail",
    ),
    ("pipeline-skip-first", "response.pipelined.in-order", "fail"),
    (
        "wrapper-needs-blksize",
        "response.file-wrapper.block-size-optional",
        "fail",
    ),
    (
        "bad-header-dropped",
        "response.headers.crlf-not-emitted",
        "fail",
    ),
    (
        "bad-header-dropped",
        "response.headers.non-latin1-refused",
        "warn",
    ),
    ("str-body-late", "response.body.str-refused", "warn"),
];

fn broken_cmd(rule: Option<&str>) -> String {
    let brk = rule.map(|r| format!(" --break {r}")).unwrap_or_default();
    format!(
        "{{python}} {} --host {{host}} --port {{port}}{brk} {{app}}",
        broken_gateway()
    )
}

#[test]
fn correct_gateway_passes_every_case_the_broken_one_fails() {
    let mut args = vec!["--cmd".to_string(), broken_cmd(None)];
    for (_, id, _) in BROKEN {
        args.push("--only".into());
        args.push(id.to_string());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, report, stderr) = check_json(&args);
    let not_passing: Vec<_> = report["cases"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["outcome"] != "pass")
        .map(|c| format!("{} {}: {}", c["id"], c["outcome"], c["actual"]))
        .collect();
    assert!(not_passing.is_empty(), "{not_passing:#?}\n{stderr}");
    assert_eq!(code, 0);
}

/// Runs `--break rule --only id`; None when the case came out `expected`
/// with exit 1, else what happened.
fn broken_rule_mismatch(rule: &str, id: &str, expected: &str) -> Option<String> {
    let cmd = broken_cmd(Some(rule));
    let mut args = vec!["--cmd", &cmd, "--only", id];
    if expected == "warn" {
        args.push("--strict");
    }
    let (code, report, stderr) = check_json(&args);
    let outcome = outcome_of(&report, id);
    (code != 1 || outcome != expected)
        .then(|| format!("--break {rule}: exit {code}, {id} {outcome}\n{stderr}"))
}

#[test]
fn each_broken_rule_fails_its_case_with_exit_1() {
    // One server per rule, twelve at a time: enough to keep the suite short;
    // more only crowd the machine, and each started server picks a free port
    // another may take before it binds.
    let suspects: Vec<&(&str, &str, &str)> = std::thread::scope(|s| {
        let handles: Vec<_> = BROKEN
            .chunks(BROKEN.len().div_ceil(12))
            .map(|group| {
                s.spawn(move || {
                    group
                        .iter()
                        .filter(|(rule, id, expected)| {
                            broken_rule_mismatch(rule, id, expected).is_some()
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    // A case timed in tens of milliseconds, or a port taken by another
    // test's server, can come out wrong on a crowded machine: each rule that
    // did is run again alone, and only a second miss counts.
    let failures: Vec<String> = suspects
        .into_iter()
        .filter_map(|(rule, id, expected)| broken_rule_mismatch(rule, id, expected))
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn a_hanging_read_becomes_a_verdict_after_the_timeout() {
    let cmd = broken_cmd(Some("input-unbounded"));
    let started = Instant::now();
    let (code, report, stderr) =
        check_json(&["--cmd", &cmd, "--only", "input.read.past-content-length"]);
    assert_eq!(
        code, 0,
        "a broken SHOULD alone does not fail the run\n{stderr}"
    );
    let case = &report["cases"][0];
    assert_eq!(case["outcome"], "warn");
    assert!(
        case["actual"]
            .as_str()
            .unwrap()
            .contains("no response within"),
        "{case}"
    );
    assert!(started.elapsed() < Duration::from_secs(30));
}

#[test]
fn a_server_dying_mid_run_keeps_what_was_gathered() {
    let cmd = format!(
        "{{python}} {} --host {{host}} --port {{port}} --exit-after 12 {{app}}",
        broken_gateway()
    );
    let (code, report, stderr) = check_json(&["--cmd", &cmd, "--jobs", "1"]);
    assert_eq!(
        code, 2,
        "errors and no failure: the harness could not decide\n{stderr}"
    );
    let exited = report["server_exited"].as_str().unwrap_or_default();
    assert!(exited.contains("exit code 3"), "{exited}");
    assert!(
        exited.contains("exiting after"),
        "log tail in the report: {exited}"
    );
    let passed = report["summary"]["pass"].as_u64().unwrap();
    let errors = report["summary"]["error"].as_u64().unwrap();
    // Readiness takes two requests, so ten cases were answered before the exit.
    assert!(
        passed >= 8,
        "results before the exit are kept: {}",
        report["summary"]
    );
    assert!(errors > 0);
    assert_eq!(
        report["summary"]["total"].as_u64().unwrap(),
        report["cases"].as_array().unwrap().len() as u64
    );
}

#[test]
fn server_that_exits_at_start_gives_exit_2_and_its_log() {
    let out = wsgiprobe(&[
        "check",
        "--cmd",
        "{python} -c 'import sys; print(\"boom: cannot bind\", flush=True); sys.exit(3)' {port}",
    ]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("boom: cannot bind"), "{stderr}");
    assert!(stderr.contains("exit code 3"), "{stderr}");
}

#[test]
fn missing_interpreter_is_a_clear_exit_2() {
    let out = wsgiprobe(&["check", "--python", "/nonexistent/python9"]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--python"), "{stderr}");
}

#[test]
fn bad_spec_file_names_file_and_case() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("environ.toml"),
        "area = \"environ\"\ntitle = \"t\"\n\n[[case]]\nid = \"environ.bad\"\nlevel = \"must\"\n\
         source = \"s\"\nrequirement = \"r\"\nstimulus = \"x\"\n\
         expect = [{ subject = \"environ.X\", equls = 1 }]\n",
    )
    .unwrap();
    let out = wsgiprobe(&["check", "--specs", dir.path().to_str().unwrap()]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("environ.toml"), "{stderr}");
    assert!(stderr.contains("environ.bad"), "{stderr}");
    assert!(stderr.contains("equls"), "{stderr}");
    // Validation happens before any server starts.
    assert!(!stderr.contains("starting"), "{stderr}");
}

#[test]
fn servers_lists_every_recipe_with_its_installed_version() {
    let out = wsgiprobe(&["servers", "--json", "--python", &python()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let versions: Vec<(String, String)> = doc["servers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            assert_eq!(s["available"], true, "{s}");
            (
                s["server"].as_str().unwrap().to_string(),
                s["version"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    for (server, version) in [
        ("gunicorn", "27.0.1"),
        ("waitress", "3.0.2"),
        ("cheroot", "11.1.2"),
        ("granian", "2.8.7"),
        ("uwsgi", "2.0.30.post1"),
        ("bjoern", "3.2.2"),
    ] {
        assert!(
            versions.contains(&(server.to_string(), version.to_string())),
            "{server} {version} not in {versions:?}"
        );
    }
    assert!(versions
        .iter()
        .any(|(s, v)| s == "wsgiref" && v.starts_with("Python 3")));

    let out = wsgiprobe(&["servers", "--python", "/nonexistent/python9"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("--python"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn unknown_only_prefix_is_an_error() {
    let out = wsgiprobe(&["specs", "--only", "nosuch.area"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("nosuch.area"));
}

#[test]
fn specs_lists_every_case_with_an_id() {
    let out = wsgiprobe(&["specs", "--json"]);
    assert_eq!(out.status.code(), Some(0));
    let list: Value = serde_json::from_slice(&out.stdout).unwrap();
    let list = list.as_array().unwrap();
    assert!(list.len() >= 25);
    assert!(list
        .iter()
        .all(|c| c["id"].is_string() && c["requirement"].is_string()));
}

#[test]
fn no_server_process_outlives_a_run() {
    let marker = unique_marker();
    let cmd = format!(
        "WSGIPROBE_TEST_MARK={marker} {{python}} -m gunicorn --workers 2 --bind {{host}}:{{port}} {{app}}"
    );
    let (code, report, stderr) = check_json(&["--cmd", &cmd, "--only", "environ.request-method"]);
    assert!(code == 0 || code == 1, "{stderr}");
    assert!(report["summary"]["total"].as_u64().unwrap() > 0);
    assert!(
        wait_until(Duration::from_secs(2), || processes_marked(&marker)
            .is_empty()),
        "left behind: {:?}",
        processes_marked(&marker)
    );
}

/// Starts `wsgiprobe check` with `cmd`, waits until `ready` of its marked
/// server processes are up, interrupts it and checks that none is left.
fn interrupt_and_check_teardown(cmd: &str, marker: &str, ready: usize, settle: Duration) {
    let mut child = Command::new(bin())
        .args(["check", "--start-timeout", "60", "--cmd", cmd])
        .env("WSGIPROBE_PYTHON", python())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    assert!(
        wait_until(Duration::from_secs(30), || processes_marked(marker).len()
            >= ready),
        "the server processes never showed up"
    );
    std::thread::sleep(settle);
    assert!(
        child.try_wait().unwrap().is_none(),
        "the run ended before the interrupt"
    );
    // SAFETY: signalling our own child.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGINT);
    }
    let status = wait_child(&mut child, Duration::from_secs(10));
    assert_eq!(status, Some(130), "exit status after SIGINT");
    assert!(
        wait_until(Duration::from_secs(2), || processes_marked(marker)
            .is_empty()),
        "left behind: {:?}",
        processes_marked(marker)
    );
}

#[test]
fn ctrl_c_while_waiting_for_the_server_stops_it_and_its_workers() {
    let marker = unique_marker();
    // Gunicorn comes up on a unix socket, never on the port wsgiprobe waits
    // on, so the interrupt lands during the readiness wait.
    let cmd = format!(
        "WSGIPROBE_TEST_MARK={marker} {{python}} -m gunicorn --workers 2 \
         --bind unix:{}/gunicorn-{{port}}.sock {{app}}",
        std::env::temp_dir().display()
    );
    interrupt_and_check_teardown(&cmd, &marker, 3, Duration::from_millis(200));
}

#[test]
fn ctrl_c_during_a_run_stops_the_server() {
    let marker = unique_marker();
    // Reads past the body hang until each case's timeout, so the run is
    // still going when the interrupt arrives.
    let cmd = format!(
        "WSGIPROBE_TEST_MARK={marker} {{python}} {} --host {{host}} --port {{port}} \\
         --break input-unbounded {{app}}",
        broken_gateway()
    );
    interrupt_and_check_teardown(&cmd, &marker, 1, Duration::from_millis(1500));
}

/// Writes the probe with `wsgiprobe probe --out` and hosts it with gunicorn
/// bound to `bind`, as a user would by hand.
fn host_probe_with_gunicorn(
    bind: impl Fn(&std::path::Path) -> String,
) -> (tempfile::TempDir, std::process::Child) {
    let dir = tempfile::tempdir().unwrap();
    let out = wsgiprobe(&["probe", "--out", dir.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(dir.path().join("wsgiprobe_app.py").exists());
    let server = Command::new(python())
        .args([
            "-m",
            "gunicorn",
            "--bind",
            &bind(dir.path()),
            "wsgiprobe_app:app",
        ])
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    (dir, server)
}

#[test]
fn url_target_checks_a_server_started_by_hand() {
    let port = free_port();
    let (_dir, mut server) = host_probe_with_gunicorn(|_| format!("127.0.0.1:{port}"));
    let url = format!("http://127.0.0.1:{port}/");
    let (code, report, stderr) = check_json(&["--url", &url, "--start-timeout", "20"]);
    stop(&mut server);
    assert_complete_run(code, &report, &stderr);
    assert_eq!(report["stack"]["gateway"], "url");
    assert!(report["stack"]["server_software"]
        .as_str()
        .unwrap()
        .contains("gunicorn"));
}

#[test]
fn url_target_over_a_unix_socket() {
    let (dir, mut server) =
        host_probe_with_gunicorn(|d| format!("unix:{}", d.join("probe.sock").display()));
    let url = format!("unix:{}", dir.path().join("probe.sock").display());
    let (code, report, stderr) = check_json(&["--url", &url, "--only", "environ.request-method"]);
    stop(&mut server);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(report["stack"]["transport"], "unix");
    assert!(
        report["summary"]["pass"].as_u64().unwrap() >= 4,
        "{}",
        report["summary"]
    );
}

#[test]
fn url_without_the_probe_is_refused() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        use std::io::{Read, Write};
        if let Ok((mut s, _)) = listener.accept() {
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            let _ =
                s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi");
        }
    });
    let out = wsgiprobe(&["check", "--url", &format!("http://127.0.0.1:{port}/")]);
    let _ = server.join();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("probe --out"), "{stderr}");
}
