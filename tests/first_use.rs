//! What a new user meets first, end to end against real servers: signals
//! that keep what was gathered, closed pipes, `--no-install`, the check
//! view at 80 columns, the flag conventions, completions and the man page.
//! (A matrix planning every stack before the first starts is pinned in
//! tests/stacks.rs.)

mod common;

use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

fn broken_cmd(marker: &str, rule: &str) -> String {
    format!(
        "WSGIPROBE_TEST_MARK={marker} {{python}} {} --host {{host}} --port {{port}} --break {rule} {{app}}",
        broken_gateway()
    )
}

/// Starts wsgiprobe with `args`, its temporary files in `tmp`, output to pipes.
fn spawn(args: &[&str], tmp: &Path) -> Child {
    Command::new(bin())
        .args(args)
        .env("WSGIPROBE_PYTHON", python())
        .env("TMPDIR", tmp)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start wsgiprobe")
}

fn signal(child: &Child, sig: i32) {
    // SAFETY: signalling our own child.
    unsafe {
        libc::kill(child.id() as i32, sig);
    }
}

/// Waits for the child (bounded) and returns (exit code, stdout, stderr).
fn finish(mut child: Child, limit: Duration) -> (Option<i32>, String, String) {
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let (mut o, mut e) = (String::new(), String::new());
        let _ = out.read_to_string(&mut o);
        let _ = err.read_to_string(&mut e);
        (o, e)
    });
    let code = wait_child(&mut child, limit);
    let (o, e) = reader.join().unwrap();
    (code, o, e)
}

/// The private folders wsgiprobe left in `tmp`.
fn leftovers(tmp: &Path) -> Vec<String> {
    std::fs::read_dir(tmp)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("wsgiprobe-"))
        .collect()
}

/// Interrupts a check whose server hangs on some cases, with `sig`, once
/// the run is under way, and checks what it leaves: the exit status, the
/// partial JSON report, the console's word, no server, no private folder.
fn interrupt_check(sig: i32, name: &str, code: i32) {
    let tmp = tempfile::tempdir().unwrap();
    let json = tmp.path().join("report.json");
    let marker = unique_marker();
    let cmd = broken_cmd(&marker, "input-unbounded");
    let child = spawn(
        &["check", "--cmd", &cmd, "--json", json.to_str().unwrap()],
        tmp.path(),
    );
    assert!(
        wait_until(Duration::from_secs(30), || !processes_marked(&marker)
            .is_empty()),
        "the server never showed up"
    );
    // The quick cases are done within a second or two; the hanging reads
    // keep the run going well past that.
    std::thread::sleep(Duration::from_millis(2500));
    signal(&child, sig);
    let started = Instant::now();
    let (status, stdout, stderr) = finish(child, Duration::from_secs(30));
    assert_eq!(status, Some(code), "exit after {name}\n{stdout}\n{stderr}");
    assert!(started.elapsed() < Duration::from_secs(15), "slow to stop");
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(report["interrupted"], name, "{report:#}");
    assert_eq!(report["stopped"], "interrupted");
    let cases = report["cases"].as_array().unwrap();
    let not_run = report["not_run"].as_array().unwrap();
    assert!(cases.len() > 10, "cases decided before the signal are kept");
    assert!(!not_run.is_empty(), "some cases were cut off");
    assert_eq!(report["summary"]["total"], cases.len());
    assert!(
        cases.iter().all(|c| c["outcome"] != "error"),
        "no case blames the server for being stopped: {:#?}",
        cases_with(&report, "error")
    );
    assert!(
        stderr.contains(&format!("interrupted by {name}")),
        "{stderr}"
    );
    assert!(
        wait_until(Duration::from_secs(2), || processes_marked(&marker)
            .is_empty()),
        "left behind: {:?}",
        processes_marked(&marker)
    );
    assert_eq!(leftovers(tmp.path()), Vec::<String>::new());
}

#[test]
fn ctrl_c_keeps_the_json_and_exits_130() {
    interrupt_check(libc::SIGINT, "SIGINT", 130);
}

#[test]
fn sigterm_keeps_the_json_and_exits_143() {
    interrupt_check(libc::SIGTERM, "SIGTERM", 143);
}

#[test]
fn ctrl_c_while_the_server_starts_leaves_no_private_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let marker = unique_marker();
    // Never binds the port: the interrupt lands during the readiness wait.
    let cmd = format!(
        "WSGIPROBE_TEST_MARK={marker} {{python}} -c 'import time; time.sleep(60)' {{port}}"
    );
    let child = spawn(&["check", "--cmd", &cmd], tmp.path());
    assert!(wait_until(Duration::from_secs(30), || !processes_marked(
        &marker
    )
    .is_empty()));
    signal(&child, libc::SIGTERM);
    let (status, _, stderr) = finish(child, Duration::from_secs(20));
    assert_eq!(status, Some(143), "{stderr}");
    assert!(wait_until(Duration::from_secs(2), || processes_marked(
        &marker
    )
    .is_empty()));
    assert_eq!(leftovers(tmp.path()), Vec::<String>::new());
}

/// Serves the probe app with gunicorn on a free port, as a user would by
/// hand; killed on drop.
struct Hosted {
    _dir: tempfile::TempDir,
    server: Child,
    url: String,
}

impl Drop for Hosted {
    fn drop(&mut self) {
        stop(&mut self.server);
    }
}

fn host_probe() -> Hosted {
    let dir = tempfile::tempdir().unwrap();
    let out = wsgiprobe(&["probe", "--out", dir.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let port = free_port();
    let server = Command::new(python())
        .args([
            "-m",
            "gunicorn",
            "--workers",
            "2",
            "--bind",
            &format!("127.0.0.1:{port}"),
            "wsgiprobe_app:app",
        ])
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}/");
    assert!(
        wait_until(Duration::from_secs(20), || std::net::TcpStream::connect((
            "127.0.0.1",
            port
        ))
        .is_ok()),
        "gunicorn did not come up"
    );
    Hosted {
        _dir: dir,
        server,
        url,
    }
}

#[test]
fn ctrl_c_in_bench_with_url_keeps_the_measured_part() {
    let hosted = host_probe();
    let tmp = tempfile::tempdir().unwrap();
    let json = tmp.path().join("bench.json");
    let child = spawn(
        &[
            "bench",
            "--url",
            &format!("{}_bench/hello", hosted.url),
            "-c",
            "4",
            "-d",
            "30s",
            "--warmup",
            "500ms",
            "--json",
            json.to_str().unwrap(),
        ],
        tmp.path(),
    );
    std::thread::sleep(Duration::from_millis(3000));
    signal(&child, libc::SIGINT);
    let (status, stdout, stderr) = finish(child, Duration::from_secs(20));
    assert_eq!(status, Some(130), "{stdout}\n{stderr}");
    let r: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(r["interrupted"], "SIGINT");
    let measured = r["measured_s"].as_f64().unwrap();
    assert!(measured > 0.5 && measured < 10.0, "measured {measured} s");
    assert!(r["requests"].as_u64().unwrap() > 0);
    assert_eq!(
        r["errors"]["total"], 0,
        "the interruption is no error: {r:#}"
    );
    assert!(stdout.contains("INTERRUPTED by SIGINT"), "{stdout}");
}

/// A reader that goes away before wsgiprobe writes (`| head -0`) ends its
/// output quietly: no panic, and the exit status of the run itself.
#[test]
fn a_closed_stdout_is_no_panic() {
    let tmp = tempfile::tempdir().unwrap();
    for args in [
        &["specs"][..],
        &["specs", "--json"],
        &["specs", "--coverage"],
        &["servers"],
        &["completions", "bash"],
        &["man"],
        &["--help"],
        &["check", "--only", "environ.request-method.get"],
        &[
            "check",
            "--only",
            "environ.request-method.get",
            "--json",
            "-",
        ],
    ] {
        let mut child = spawn(args, tmp.path());
        drop(child.stdout.take());
        let mut err = String::new();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut err)
            .unwrap();
        let code = wait_child(&mut child, Duration::from_secs(60));
        assert_eq!(code, Some(0), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
}

#[test]
fn no_install_with_a_version_creates_nothing() {
    let cache = tempfile::tempdir().unwrap();
    let out = wsgiprobe_env(
        &["check", "--server", "gunicorn==99.0", "--no-install"],
        &[("WSGIPROBE_CACHE", cache.path().to_str().unwrap())],
    );
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("--no-install: gunicorn==99.0 would be installed"),
        "{stderr}"
    );
    let created: Vec<_> = std::fs::read_dir(cache.path()).unwrap().flatten().collect();
    assert!(created.is_empty(), "created {created:?}");
}

#[test]
fn a_release_that_does_not_exist_is_refused_before_a_venv_is_made() {
    let cache = tempfile::tempdir().unwrap();
    let out = wsgiprobe_within(
        &["check", "--server", "waitress==0.0.999"],
        &[("WSGIPROBE_CACHE", cache.path().to_str().unwrap())],
        Duration::from_secs(240),
    );
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("pip found no waitress==0.0.999"),
        "{stderr}"
    );
    assert!(
        stderr.contains("3.0.2"),
        "the releases are listed: {stderr}"
    );
    assert!(
        !stderr.contains("creating a managed environment"),
        "{stderr}"
    );
    let envs = cache.path().join("envs");
    let made: Vec<_> = std::fs::read_dir(&envs)
        .map(|d| d.flatten().filter(|e| e.path().is_dir()).collect())
        .unwrap_or_default();
    assert!(made.is_empty(), "made {made:?}");
}

/// Whether `id` appears in `text` as a whole id, not as the start of a
/// longer one (`input.mixed.readline-then-read` in `...-then-readlines`).
fn shows_id(text: &str, id: &str) -> bool {
    text.match_indices(id).any(|(at, _)| {
        !text[at + id.len()..]
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.' || c == '_')
    })
}

#[test]
fn the_default_view_fits_80_columns_with_ids_whole() {
    let tmp = tempfile::tempdir().unwrap();
    let json = tmp.path().join("r.json");
    let started = Instant::now();
    let out = wsgiprobe_env(
        &["check", "--json", json.to_str().unwrap()],
        &[("COLUMNS", "80")],
    );
    let elapsed = started.elapsed();
    let stdout = text(&out.stdout);
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    for line in stdout.lines() {
        assert!(line.chars().count() <= 80, "too wide: {line:?}");
    }
    let mut not_passed = 0;
    for c in report["cases"].as_array().unwrap() {
        let id = c["id"].as_str().unwrap();
        if c["outcome"] == "pass" {
            assert!(!shows_id(&stdout, id), "a pass shown without -v: {id}");
            continue;
        }
        not_passed += 1;
        let tag = c["outcome"].as_str().unwrap().to_uppercase();
        assert!(
            stdout.contains(&format!("\n{tag} {id} (")),
            "{id}: detail not whole"
        );
        assert!(
            stdout.contains(&format!("\n{tag} {id}\n")),
            "{id}: not in the closing list"
        );
    }
    assert!(not_passed > 0, "wsgiref breaks a few rules");
    let last = stdout.lines().last().unwrap();
    let total = report["cases"].as_array().unwrap().len();
    assert!(
        last.starts_with(&format!("{total} cases: ")) && last.ends_with('s'),
        "{last}"
    );
    assert!(stdout.contains("area      cases"), "{stdout}");
    // The bound the default run is held to (measured on a loaded 2-core
    // machine at about 9 s), with room for a busier one.
    assert!(elapsed < Duration::from_secs(30), "took {elapsed:?}");
}

#[test]
fn verbose_shows_every_case_and_quiet_only_the_end() {
    let only = ["--only", "environ.request-method"];
    let out = wsgiprobe(&[&["check", "-v"][..], &only].concat());
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    for id in [
        "environ.request-method.get",
        "environ.request-method.post",
        "environ.request-method.extension",
    ] {
        assert!(stdout.contains(&format!("PASS   {id}\n")), "{stdout}");
    }
    let out = wsgiprobe(&[&["check", "-q"][..], &only].concat());
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    assert!(
        stdout.contains(" cases: ") && stdout.contains(" pass"),
        "{stdout}"
    );
    assert!(!stderr.contains("starting"), "quiet: {stderr}");
}

#[test]
fn color_is_asked_for_with_color_and_never_forced() {
    let only = ["--only", "environ.request-method.get"];
    let out = wsgiprobe(&[&["check", "--color", "always"][..], &only].concat());
    assert!(text(&out.stdout).contains("\x1b["), "{}", text(&out.stdout));
    for (flags, env) in [
        (&["--color", "never"][..], ("NO_COLOR", "")),
        (&["--color", "auto"], ("NO_COLOR", "1")),
        (&["--color", "auto"], ("TERM", "dumb")),
        (&["--no-color"], ("NO_COLOR", "")),
    ] {
        let out = wsgiprobe_env(&[&["check"][..], flags, &only].concat(), &[env]);
        assert_eq!(out.status.code(), Some(0));
        assert!(!text(&out.stdout).contains('\x1b'), "{flags:?} {env:?}");
        assert!(!text(&out.stderr).contains('\x1b'), "{flags:?} {env:?}");
    }
    // Every command takes --color and -q.
    for args in [
        &["specs", "--color", "never", "-q"][..],
        &["servers", "--color", "never"],
        &["probe", "--help", "--color", "never"],
        &["completions", "fish", "--color", "always"],
    ] {
        let out = wsgiprobe(args);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
}

#[test]
fn fail_fast_stops_at_the_first_failure() {
    let tmp = tempfile::tempdir().unwrap();
    let json = tmp.path().join("r.json");
    let cmd = broken_cmd(&unique_marker(), "method-lowercase");
    let out = wsgiprobe(&[
        "check",
        "--cmd",
        &cmd,
        "--only",
        "environ",
        "--jobs",
        "1",
        "-x",
        "--json",
        json.to_str().unwrap(),
    ]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    let r: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(r["stopped"], "fail-fast");
    assert_eq!(r["summary"]["fail"], 1, "{:#}", r["summary"]);
    assert!(!r["not_run"].as_array().unwrap().is_empty());
    assert!(stdout.contains("stopped at the first failure (--fail-fast)"));
}

#[test]
fn time_flags_take_durations() {
    // Parsed as durations: the run gets as far as the unreachable URL.
    for args in [
        &["check", "--timeout", "1.5s", "--start-timeout", "1s"][..],
        &["check", "--timeout", "2000", "--start-timeout", "1"],
        &[
            "bench",
            "-d",
            "1m30s",
            "--warmup",
            "500ms",
            "--timeout",
            "1s",
        ],
    ] {
        let out = wsgiprobe(&[args, &["--url", "http://127.0.0.1:9/"]].concat());
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(!stderr.contains("invalid value"), "{args:?}: {stderr}");
    }
    let out = wsgiprobe(&["bench", "-d", "soon", "--url", "http://127.0.0.1:9/"]);
    assert!(text(&out.stderr).contains("1m30s"), "{}", text(&out.stderr));
}

#[test]
fn bench_url_takes_method_headers_body_and_writes_markdown() {
    let hosted = host_probe();
    let tmp = tempfile::tempdir().unwrap();
    let (json, md) = (tmp.path().join("b.json"), tmp.path().join("b.md"));
    let body = tmp.path().join("body.txt");
    std::fs::write(&body, "hello from a file").unwrap();
    for extra in [
        &["--body", "hello"][..],
        &["--body-file", body.to_str().unwrap()],
    ] {
        let out = wsgiprobe(
            &[
                &[
                    "bench",
                    "--url",
                    &format!("{}_bench/echo", hosted.url),
                    "-m",
                    "POST",
                    "-H",
                    "Content-Type: text/plain",
                    "-H",
                    "X-Trace: 1",
                    "-R",
                    "50",
                    "-c",
                    "2",
                    "-d",
                    "1s",
                    "--warmup",
                    "0s",
                    "--json",
                    json.to_str().unwrap(),
                    "--markdown",
                    md.to_str().unwrap(),
                ][..],
                extra,
            ]
            .concat(),
        );
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        let r: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
        let w = &r["plan"]["workload"];
        assert_eq!(w["name"], "http", "{w}");
        assert_eq!(w["method"], "POST");
        assert_eq!(w["headers"][1][0], "X-Trace");
        assert_eq!(r["offered_rate"], 50.0);
        assert!(r["statuses"]["200"].as_u64().unwrap() > 20, "{r:#}");
        let text = std::fs::read_to_string(&md).unwrap();
        assert!(text.starts_with("# wsgiprobe bench: url (http)"), "{text}");
        assert!(text.contains("| throughput |"), "{text}");
    }
    // The request flags are --url's alone.
    let out = wsgiprobe(&["bench", "-m", "POST"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn help_shows_examples_and_only_the_flags_that_apply() {
    let help = |cmd: &str| text(&wsgiprobe(&[cmd, "--help"]).stdout);
    let bench = help("bench");
    assert!(!bench.contains("--validate"), "{bench}");
    assert!(bench.contains("-R, --rate"), "{bench}");
    assert!(bench.contains("Any HTTP/1.1 server"), "{bench}");
    assert!(!bench.contains("repeat for a matrix"), "{bench}");
    assert!(bench.contains("Output:\n"), "{bench}");
    let check = help("check");
    assert!(
        check.contains("--validate") && check.contains("--fail-fast"),
        "{check}"
    );
    for cmd in [
        "check",
        "bench",
        "specs",
        "servers",
        "probe",
        "completions",
        "man",
    ] {
        assert!(help(cmd).contains("Example"), "{cmd} --help has no example");
    }
}

#[test]
fn completions_and_a_man_page() {
    for (shell, mark) in [
        ("bash", "_wsgiprobe()"),
        ("zsh", "#compdef wsgiprobe"),
        ("fish", "complete -c wsgiprobe"),
    ] {
        let out = wsgiprobe(&["completions", shell]);
        assert_eq!(out.status.code(), Some(0));
        let script = text(&out.stdout);
        assert!(script.contains(mark), "{shell}: {script}");
        assert!(script.contains("fail-fast"), "{shell} knows check's flags");
    }
    let out = wsgiprobe(&["man"]);
    let page = text(&out.stdout);
    assert!(
        page.starts_with(".ie") || page.contains(".TH wsgiprobe"),
        "{page}"
    );
    let dir = tempfile::tempdir().unwrap();
    let out = wsgiprobe(&["man", "--out", dir.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    for page in ["wsgiprobe.1", "wsgiprobe-check.1", "wsgiprobe-bench.1"] {
        assert!(dir.path().join(page).exists(), "no {page}");
    }
}

#[test]
fn a_misspelt_server_gets_a_suggestion() {
    let out = wsgiprobe(&["check", "--server", "gunicron"]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("did you mean gunicorn?"), "{stderr}");
}
