//! Gateway stacks end to end: every recipe, worker settings, nginx in front
//! (TCP, unix socket, uwsgi protocol), managed environments, and the
//! cross-server matrix. Real servers from the project's virtual environment
//! and the machine's nginx, as `scripts/test.sh` installs them.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;
use serde_json::Value;

/// A private TMPDIR for one wsgiprobe run. Every process a run starts works
/// in a folder under it, so `/proc/*/cwd` finds them all (nginx workers,
/// which drop their environment, included).
struct Sandbox {
    dir: tempfile::TempDir,
}

impl Sandbox {
    fn new() -> Sandbox {
        Sandbox {
            dir: tempfile::Builder::new()
                .prefix("wsgiprobe-stack-test-")
                .tempdir()
                .unwrap(),
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn env(&self) -> [(&str, &str); 1] {
        [("TMPDIR", self.path().to_str().unwrap())]
    }

    /// Live processes working under this sandbox.
    fn processes(&self) -> Vec<(u32, String)> {
        let mut found = Vec::new();
        for entry in std::fs::read_dir("/proc").unwrap().flatten() {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            let Ok(cwd) = std::fs::read_link(entry.path().join("cwd")) else {
                continue;
            };
            if cwd.starts_with(self.path()) {
                let cmd = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
                let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
                found.push((pid, cmd));
            }
        }
        found
    }

    fn assert_empty(&self) {
        assert!(
            wait_until(Duration::from_secs(3), || self.processes().is_empty()),
            "left behind: {:?}",
            self.processes()
        );
    }
}

fn check_in(sandbox: &Sandbox, args: &[&str]) -> (i32, Value, String) {
    check_json_env(args, &sandbox.env())
}

#[test]
fn every_recipe_starts_and_stops_with_nothing_left_behind() {
    let stacks: &[&[&str]] = &[
        &["--server", "wsgiref"],
        &["--server", "gunicorn", "--workers", "2"],
        &["--server", "uwsgi", "--workers", "2"],
        &["--server", "waitress"],
        &["--server", "cheroot"],
        &["--server", "granian"],
        &["--server", "bjoern"],
        &["--server", "gunicorn", "--unix"],
        &["--server", "waitress", "--proxy", "nginx-unix"],
        &["--server", "uwsgi", "--proxy", "nginx-uwsgi"],
    ];
    for stack in stacks {
        let sandbox = Sandbox::new();
        let mut args = stack.to_vec();
        args.extend(["--only", "environ.request-method"]);
        let (code, report, stderr) = check_in(&sandbox, &args);
        assert_eq!(code, 0, "{stack:?}: {stderr}");
        assert!(
            report["summary"]["pass"].as_u64().unwrap() >= 1,
            "{stack:?}: {}",
            report["summary"]
        );
        sandbox.assert_empty();
    }
}

#[test]
fn worker_settings_reach_the_server_and_the_report() {
    let sandbox = Sandbox::new();
    let (code, report, stderr) = check_in(
        &sandbox,
        &[
            "--server",
            "gunicorn",
            "--worker-class",
            "gthread",
            "--threads",
            "4",
            "--workers",
            "2",
            "--only",
            "environ.wsgi",
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    let stack = &report["stack"];
    let command = stack["command"].as_str().unwrap();
    assert!(
        command.contains("--workers 2 --threads 4 --worker-class gthread"),
        "{command}"
    );
    assert_eq!(stack["options"]["worker_class"], "gthread");
    assert_eq!(stack["options"]["workers"], "2");
    assert_eq!(stack["options"]["threads"], "4");
    assert_eq!(stack["version"], "27.0.1");
    assert!(stack["python"].as_str().unwrap().starts_with('3'));

    // gevent needs its own packages; the recipe names them.
    let (code, report, stderr) = check_in(
        &sandbox,
        &[
            "--server",
            "gunicorn",
            "--worker-class",
            "gevent",
            "--only",
            "environ.request-method",
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(report["stack"]["options"]["worker_class"], "gevent");
    sandbox.assert_empty();
}

#[test]
fn settings_a_server_lacks_are_refused_before_anything_starts() {
    let cases: &[(&[&str], &str)] = &[
        (
            &["--server", "waitress", "--workers", "2"],
            "waitress does not support --workers",
        ),
        (
            &["--server", "gunicorn", "--worker-class", "tornado9"],
            "gunicorn has no worker class \"tornado9\"; it takes: sync, gthread, gevent",
        ),
        (
            &["--server", "wsgiref", "--unix"],
            "wsgiref does not support listening on a unix socket",
        ),
        (
            &["--server", "gunicorn", "--proxy", "nginx-uwsgi"],
            "the uwsgi protocol",
        ),
        (&["--server", "nosuch"], "unknown server \"nosuch\""),
        (
            &["--url", "http://127.0.0.1:9/", "--proxy", "nginx"],
            "--url does not support --proxy",
        ),
        (
            &["--cmd", "{python} serve.py {port}", "--proxy", "nginx-unix"],
            "--cmd must contain {socket}",
        ),
        (&["--server", "wsgiref==1.0"], "pinned version"),
    ];
    for (args, message) in cases {
        let sandbox = Sandbox::new();
        let mut all = vec!["check"];
        all.extend_from_slice(args);
        let out = wsgiprobe_env(&all, &sandbox.env());
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(message), "{args:?}: {stderr}");
    }
}

#[test]
fn a_missing_nginx_says_how_to_install_it() {
    let out = wsgiprobe(&[
        "check",
        "--server",
        "gunicorn",
        "--proxy",
        "nginx",
        "--nginx",
        "/nonexistent/nginx",
    ]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("apt-get install nginx"), "{stderr}");
}

#[test]
fn proxied_stacks_run_every_case_in_one_matrix() {
    let sandbox = Sandbox::new();
    let md = sandbox.path().join("matrix.md");
    let (code, report, stderr) = check_in(
        &sandbox,
        &[
            "--stack",
            "gunicorn --proxy nginx",
            "--stack",
            "gunicorn --worker-class gthread --proxy nginx-unix --proxy-keepalive",
            "--stack",
            "uwsgi --proxy nginx-uwsgi",
            "--markdown",
            md.to_str().unwrap(),
        ],
    );
    assert!(code == 0 || code == 1, "{stderr}");
    assert_eq!(report["kind"], "matrix");
    let stacks = report["stacks"].as_array().unwrap();
    assert_eq!(stacks.len(), 3);
    let expect = [
        ("nginx", "tcp", "off"),
        ("nginx-unix", "unix", "16 connections"),
        ("nginx-uwsgi", "uwsgi", "off"),
    ];
    for (s, (proxy, transport, keepalive)) in stacks.iter().zip(expect) {
        assert_complete_run(if s["summary"]["fail"] == 0 { 0 } else { 1 }, s, &stderr);
        assert_eq!(s["stack"]["proxy"], proxy, "{}", s["stack"]);
        assert_eq!(s["stack"]["transport"], transport);
        assert!(s["stack"]["proxy_version"].is_string());
        assert_eq!(s["stack"]["proxy_options"]["upstream_keepalive"], keepalive);
    }
    // Where nginx legitimately changes what the server receives, the case
    // says so instead of blaming the server; where the stack really loses
    // something, the verdict stands with the explanation.
    let case = |stack: &Value, id: &str| -> (String, String) {
        let c = stack["cases"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == id)
            .unwrap_or_else(|| panic!("no {id}"))
            .clone();
        (
            c["outcome"].as_str().unwrap().to_string(),
            c["actual"].as_str().unwrap().to_string(),
        )
    };
    let (outcome, actual) = case(&stacks[0], "environ.server-protocol.http11");
    assert_eq!(outcome, "skip", "{actual}");
    assert!(
        actual.contains("not judged behind nginx") && actual.contains("HTTP/1.0"),
        "{actual}"
    );
    let (outcome, actual) = case(&stacks[1], "environ.server-protocol.http10");
    assert_eq!(outcome, "skip", "{actual}");
    assert!(actual.contains("HTTP/1.1"), "{actual}");
    let (outcome, actual) = case(&stacks[2], "environ.http.repeated-joined");
    assert_eq!(outcome, "fail", "{actual}");
    assert!(
        actual.contains("(behind nginx-uwsgi: over the uwsgi protocol"),
        "{actual}"
    );

    let text = std::fs::read_to_string(&md).unwrap();
    assert!(text.contains("| gunicorn + nginx | gunicorn "), "{text}");
    assert!(
        text.contains("| case | level | gunicorn + nginx | gunicorn gthread + nginx-unix keepalive | uwsgi + nginx-uwsgi |"),
        "{text}"
    );
    assert!(text.contains("| `environ.request-method"), "{text}");
    assert!(text.contains("| **error** | | 0 | 0 | 0 |"), "{text}");
    sandbox.assert_empty();
}

#[test]
fn a_matrix_keeps_going_past_a_stack_that_does_not_start() {
    let sandbox = Sandbox::new();
    let out = wsgiprobe_env(
        &[
            "check",
            "--no-color",
            "--only",
            "environ.request-method",
            "--server",
            "waitress",
            "--stack",
            "gunicorn --workers 1 --threads 0",
            "--stack",
            "nosuch",
        ],
        &sandbox.env(),
    );
    // --threads 0 is refused while parsing the stack: nothing ran.
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));

    let json = sandbox.path().join("m.json");
    let out = wsgiprobe_env(
        &[
            "check",
            "--no-color",
            "--only",
            "environ.request-method",
            "--server",
            "waitress",
            "--server",
            "nosuch",
            "--server",
            "cheroot",
            "--json",
            json.to_str().unwrap(),
        ],
        &sandbox.env(),
    );
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(stdout.contains("[2] nosuch: did not start"), "{stdout}");
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let stacks = doc["stacks"].as_array().unwrap();
    assert!(stacks[0]["summary"]["pass"].as_u64().unwrap() >= 1);
    assert!(stacks[1]["start_error"]
        .as_str()
        .unwrap()
        .contains("unknown server"));
    assert!(stacks[2]["summary"]["pass"].as_u64().unwrap() >= 1);
    sandbox.assert_empty();
}

#[test]
fn a_bad_flag_on_any_stack_of_a_matrix_stops_it_before_the_first_starts() {
    let sandbox = Sandbox::new();
    // wsgiref under a recipe that leaves a mark when it is launched.
    let marker = sandbox.path().join("marker-started");
    let recipes = sandbox.path().join("marker.toml");
    std::fs::write(
        &recipes,
        format!(
            "[marker]\ndescription = \"wsgiref that leaves a mark\"\n\
             tcp = \"touch {} && exec {{python}} wsgiprobe_wsgiref.py {{host}} {{port}} {{app}}\"\n",
            marker.display()
        ),
    )
    .unwrap();
    let recipes = recipes.to_str().unwrap();
    let check = |stacks: &[&str]| {
        let mut args = vec![
            "check",
            "--no-color",
            "--only",
            "environ.request-method",
            "--recipes",
            recipes,
        ];
        for s in stacks {
            args.extend(["--stack", s]);
        }
        wsgiprobe_env(&args, &sandbox.env())
    };

    // The mark shows when the stack does start.
    let out = check(&["marker"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(marker.exists(), "{}", text(&out.stderr));
    std::fs::remove_file(&marker).unwrap();

    let out = check(&["marker", "gunicorn", "waitress --workers 2"]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("waitress w2") && stderr.contains("waitress does not support --workers"),
        "{stderr}"
    );
    assert!(!stderr.contains("starting"), "{stderr}");
    assert!(!marker.exists(), "the first stack started: {stderr}");
    sandbox.assert_empty();
}

fn managed_cache() -> PathBuf {
    // Inside the project (git-ignored), so later runs reuse it.
    root().join(".cache/test-envs")
}

#[test]
fn a_pinned_version_runs_from_a_managed_environment_reused_next_time() {
    let cache = managed_cache();
    let cache = cache.to_str().unwrap();
    let sandbox = Sandbox::new();
    let env = [("WSGIPROBE_CACHE", cache), sandbox.env()[0]];
    let args = [
        "--server",
        "waitress==3.0.1",
        "--only",
        "environ.request-method",
    ];
    let (code, report, stderr) = check_json_env(&args, &env);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(report["stack"]["version"], "3.0.1");
    assert!(report["stack"]["command"]
        .as_str()
        .unwrap()
        .contains("waitress-3.0.1-py"));
    let (code, _, stderr) = check_json_env(&args, &env);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        !stderr.contains("creating a managed environment"),
        "{stderr}"
    );

    let (code, report, stderr) = check_json_env(
        &[
            "--server",
            "gunicorn==22.0.0",
            "--only",
            "environ.request-method",
        ],
        &env,
    );
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(report["stack"]["version"], "22.0.0");
    sandbox.assert_empty();
}

#[test]
fn a_version_that_does_not_exist_is_a_clear_error() {
    let cache = managed_cache();
    let out = wsgiprobe_env(
        &["check", "--server", "waitress==0.0.0.77"],
        &[("WSGIPROBE_CACHE", cache.to_str().unwrap())],
    );
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("pip found no waitress==0.0.0.77") && stderr.contains("3.0.1"),
        "{stderr}"
    );
    assert!(!cache.join("envs/waitress-0.0.0.77-py3.11").exists());
}

#[test]
fn a_server_python_lacks_is_installed_or_refused() {
    // A bare interpreter: a fresh virtual environment without the servers.
    let dir = tempfile::tempdir().unwrap();
    let venv = dir.path().join("bare");
    let ok = Command::new(python())
        .args(["-m", "venv", "--without-pip", venv.to_str().unwrap()])
        .status()
        .unwrap()
        .success();
    assert!(ok);
    let bare = venv.join("bin/python");
    let bare = bare.to_str().unwrap();
    let out = wsgiprobe(&[
        "check",
        "--python",
        bare,
        "--server",
        "cheroot",
        "--no-install",
    ]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("cheroot is not importable"), "{stderr}");

    let cache = managed_cache();
    let (code, report, stderr) = check_json_env(
        &[
            "--python",
            bare,
            "--server",
            "cheroot",
            "--only",
            "environ.request-method",
        ],
        &[("WSGIPROBE_CACHE", cache.to_str().unwrap())],
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(report["stack"]["version"].is_string());
    assert!(report["stack"]["command"]
        .as_str()
        .unwrap()
        .contains("cheroot-latest-py"));
}

#[test]
fn a_server_dying_behind_nginx_keeps_what_was_gathered() {
    let sandbox = Sandbox::new();
    let cmd = format!(
        "{{python}} {} --host {{host}} --port {{port}} --exit-after 12 {{app}}",
        broken_gateway()
    );
    let (code, report, stderr) = check_in(&sandbox, &["--cmd", &cmd, "--proxy", "nginx"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        report["server_exited"]
            .as_str()
            .unwrap()
            .contains("server exited"),
        "{}",
        report["server_exited"]
    );
    assert!(report["summary"]["pass"].as_u64().unwrap() >= 3);
    assert!(report["summary"]["error"].as_u64().unwrap() >= 1);
    sandbox.assert_empty();
}

#[test]
fn a_server_that_exits_at_start_behind_nginx_shows_its_log() {
    let sandbox = Sandbox::new();
    let out = wsgiprobe_env(
        &[
            "check",
            "--cmd",
            "{python} -c 'import sys; print(\"no luck on {port}\"); sys.exit(3)'",
            "--proxy",
            "nginx",
        ],
        &sandbox.env(),
    );
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("server: exit code 3") && stderr.contains("no luck on"),
        "{stderr}"
    );
    sandbox.assert_empty();
}

#[test]
fn ctrl_c_behind_nginx_stops_server_and_nginx() {
    let sandbox = Sandbox::new();
    // Reads past the body hang until each case's timeout, so the run is
    // still going when the interrupt arrives.
    let cmd = format!(
        "{{python}} {} --host {{host}} --port {{port}} --break input-unbounded {{app}}",
        broken_gateway()
    );
    let mut child = Command::new(bin())
        .args(["check", "--cmd", &cmd, "--proxy", "nginx"])
        .env("WSGIPROBE_PYTHON", python())
        .envs(sandbox.env())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let nginx_up = || {
        sandbox
            .processes()
            .iter()
            .filter(|(_, c)| c.contains("nginx"))
            .count()
            >= 2
    };
    assert!(
        wait_until(Duration::from_secs(30), nginx_up),
        "nginx master and worker never showed up: {:?}",
        sandbox.processes()
    );
    std::thread::sleep(Duration::from_millis(1500));
    assert!(child.try_wait().unwrap().is_none(), "the run ended early");
    // SAFETY: signalling our own child.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGINT);
    }
    assert_eq!(wait_child(&mut child, Duration::from_secs(10)), Some(130));
    sandbox.assert_empty();
}

/// Killed outright (SIGKILL), wsgiprobe runs no handler of its own: the
/// server, its workers and nginx must still go with it. While it runs, its
/// private folder, which holds the server's unix socket, is its own (0700).
#[test]
fn sigkill_leaves_no_server_worker_or_nginx_behind() {
    use std::os::unix::fs::PermissionsExt;
    let sandbox = Sandbox::new();
    let mut child = Command::new(bin())
        .args([
            "bench",
            "--server",
            "gunicorn",
            "--workers",
            "2",
            "--proxy",
            "nginx-unix",
            "-d",
            "60s",
            "--warmup",
            "0s",
        ])
        .env("WSGIPROBE_PYTHON", python())
        .envs(sandbox.env())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // The command lines of the servers themselves (not of the shell that
    // started gunicorn, nor of wsgiprobe's own supervisors).
    let count = |what: &str| {
        sandbox
            .processes()
            .iter()
            .filter(|(_, c)| c.contains(what) && !c.starts_with("/bin/sh") && !c.contains("bench"))
            .count()
    };
    assert!(
        wait_until(Duration::from_secs(60), || count("-m gunicorn") >= 3
            && count("nginx: worker") >= 1),
        "gunicorn's workers and nginx's never showed up: {:?}",
        sandbox.processes()
    );
    let private: Vec<PathBuf> = std::fs::read_dir(sandbox.path())
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("wsgiprobe-")
        })
        .collect();
    assert_eq!(private.len(), 1, "{private:?}");
    let mode = std::fs::metadata(&private[0]).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o700, "{}", private[0].display());
    assert!(private[0].join("server.sock").exists());

    assert!(child.try_wait().unwrap().is_none(), "the run ended early");
    // SAFETY: signalling our own child.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGKILL);
    }
    let _ = child.wait();
    assert!(
        wait_until(Duration::from_secs(10), || sandbox.processes().is_empty()),
        "left behind: {:?}",
        sandbox.processes()
    );
}

#[test]
fn the_flask_development_server_starts_and_stops_with_nothing_left_behind() {
    for stack in [
        &["--server", "flask-dev"][..],
        &["--server", "flask-dev-threaded", "--proxy", "nginx-unix"],
    ] {
        let sandbox = Sandbox::new();
        let mut args = stack.to_vec();
        args.extend(["--only", "environ.request-method"]);
        let (code, report, stderr) = check_in(&sandbox, &args);
        assert_eq!(code, 0, "{stack:?}: {stderr}");
        assert!(report["summary"]["pass"].as_u64().unwrap() >= 1);
        let s = &report["stack"];
        assert!(
            s["server_software"]
                .as_str()
                .unwrap()
                .starts_with("Werkzeug/"),
            "{s}"
        );
        let threaded = stack[1] == "flask-dev-threaded";
        assert_eq!(s["options"]["threaded"], threaded.to_string(), "{s}");
        sandbox.assert_empty();
    }
}

/// The example Flask app, copied into the sandbox so that the servers
/// hosting it (which run in its folder) are found there afterwards.
fn flask_app(sandbox: &Sandbox) -> PathBuf {
    let dir = sandbox.path().join("flaskapp");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(root().join("examples/flaskapp/app.py"), dir.join("app.py")).unwrap();
    dir
}

/// `bench ARGS --json FILE` in the sandbox: (exit code, report, stderr).
fn bench_in(sandbox: &Sandbox, args: &[&str]) -> (i32, Value, String) {
    let json = sandbox.path().join("bench.json");
    let _ = std::fs::remove_file(&json);
    let mut all = vec!["bench", "--json", json.to_str().unwrap()];
    all.extend_from_slice(args);
    let out = wsgiprobe_env(&all, &sandbox.env());
    let report = std::fs::read_to_string(&json)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or(Value::Null);
    (out.status.code().unwrap_or(-1), report, text(&out.stderr))
}

#[test]
fn the_users_own_app_runs_under_gunicorn_direct_and_behind_nginx() {
    for proxy in [None, Some("nginx"), Some("nginx-unix")] {
        let sandbox = Sandbox::new();
        let dir = flask_app(&sandbox);
        let mut args = vec![
            "--server",
            "gunicorn",
            "--app",
            "app:app",
            "--app-dir",
            dir.to_str().unwrap(),
            "--path",
            "/hello",
            "--expect-status",
            "200",
            "--expect-body",
            "Hello, world!\n",
            "--sample-bodies",
            "1",
            "-n",
            "200",
            "-c",
            "4",
            "--warmup",
            "0s",
        ];
        if let Some(p) = proxy {
            args.extend(["--proxy", p]);
        }
        let (code, r, stderr) = bench_in(&sandbox, &args);
        assert_eq!(code, 0, "{proxy:?}: {stderr}");
        assert_eq!(r["ok"], 200, "{proxy:?}: {r:#}");
        assert_eq!(r["plan"]["workload"]["name"], "app");
        assert_eq!(r["plan"]["workload"]["path"], "/hello");
        let app = r["stack"]["app"].as_str().unwrap();
        assert!(
            app.starts_with("app:app in ") && app.ends_with("flaskapp"),
            "{app}"
        );
        assert_eq!(r["stack"]["proxy"], proxy.unwrap_or("none"));
        // The server ran in the app's folder, and stopped with the run.
        let command = r["stack"]["command"].as_str().unwrap();
        assert!(command.ends_with(" app:app"), "{command}");
        sandbox.assert_empty();
    }
}

#[test]
fn the_users_own_app_is_checked_before_and_during_the_run() {
    let sandbox = Sandbox::new();
    let dir = flask_app(&sandbox);
    let dir = dir.to_str().unwrap();
    let app = ["--app", "app:app", "--app-dir", dir, "-n", "50", "-c", "2"];
    let run = |extra: &[&str]| {
        let mut args = vec!["--server", "waitress", "--warmup", "0s"];
        args.extend_from_slice(&app);
        args.extend_from_slice(extra);
        bench_in(&sandbox, &args)
    };
    // A path the app does not serve: refused before measuring, with the status.
    let (code, _, stderr) = run(&["--path", "/nowhere"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("status 404"), "{stderr}");
    // The wrong body, and a status the app does not send.
    let (code, _, stderr) = run(&["--path", "/hello", "--expect-body", "Goodbye\n"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("differs from the expected"), "{stderr}");
    let (code, _, stderr) = run(&["--path", "/hello", "--expect-status", "201"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("status 200"), "{stderr}");
    // One sync worker whose requests wait 10 ms serves at most 100 a second.
    let mut args = vec![
        "--server",
        "gunicorn",
        "--path",
        "/io",
        "--expect-body",
        "waited 10 ms\n",
        "--warmup",
        "0s",
    ];
    args.extend_from_slice(&app);
    let (code, r, stderr) = bench_in(&sandbox, &args);
    assert_eq!(code, 0, "{stderr}");
    let rate = r["requests_per_sec"].as_f64().unwrap();
    assert!(rate > 0.0 && rate <= 101.0, "{rate} req/s");
    assert!(r["latency_us"]["p50"].as_u64().unwrap() >= 10_000);
    sandbox.assert_empty();

    // Refused before anything starts: a module the folder lacks, --url.
    for (args, message) in [
        (
            &["--app", "nosuch:app", "--app-dir", dir][..],
            "has no nosuch.py",
        ),
        (
            &["--app", "app:app; touch /tmp/x", "--app-dir", dir],
            "Python names only",
        ),
        (
            &["--app", "app:app", "--url", "http://127.0.0.1:9/"],
            "--url",
        ),
        (&["--path", "/x"], "--app"),
        (
            &["--workload", "hello", "--expect-status", "200"],
            "--workload",
        ),
    ] {
        let (code, _, stderr) = bench_in(&sandbox, args);
        assert_eq!(code, 2, "{args:?}: {stderr}");
        assert!(stderr.contains(message), "{args:?}: {stderr}");
        sandbox.assert_empty();
    }
}

#[test]
fn flask_dev_serves_one_request_at_a_time_and_its_threaded_mode_does_not() {
    // Four connections, each request sleeping 50 ms: one at a time is at
    // most 20 a second; a thread per request, up to 80.
    let sandbox = Sandbox::new();
    let rate = |server: &str| {
        let (code, r, stderr) = bench_in(
            &sandbox,
            &[
                "--server",
                server,
                "--workload",
                "sleep",
                "--ms",
                "50",
                "-c",
                "4",
                "-d",
                "2s",
                "--warmup",
                "500ms",
            ],
        );
        assert_eq!(code, 0, "{server}: {stderr}");
        r["requests_per_sec"].as_f64().unwrap()
    };
    let single = rate("flask-dev");
    assert!(single > 5.0 && single <= 20.5, "flask-dev: {single} req/s");
    let threaded = rate("flask-dev-threaded");
    assert!(
        threaded >= 2.0 * single,
        "flask-dev-threaded: {threaded} req/s"
    );
    sandbox.assert_empty();
}

#[test]
fn a_suite_hosts_the_users_app_as_a_workload() {
    let sandbox = Sandbox::new();
    flask_app(&sandbox);
    // The app's folder is found from the suite file's own.
    let suite = sandbox.path().join("classic.toml");
    std::fs::write(
        &suite,
        "stacks = [\"gunicorn\", \"waitress --proxy nginx\"]\n\
         [[workload]]\nname = \"flask-hello\"\n\
         args = \"--app app:app --app-dir flaskapp --path /hello --expect-body 'Hello, world!\\n'\"\n\
         [[workload]]\nname = \"probe-hello\"\nargs = \"--workload hello\"\n\
         [load]\nconnections = [2]\nduration = \"1s\"\nwarmup = \"200ms\"\nrepeats = 1\n",
    )
    .unwrap();
    let out = sandbox.path().join("out");
    let run = wsgiprobe_env(
        &[
            "suite",
            suite.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
        &sandbox.env(),
    );
    assert_eq!(run.status.code(), Some(0), "{}", text(&run.stderr));
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    let results = report["results"].as_array().unwrap();
    assert_eq!(results.len(), 4, "{results:#?}");
    for r in results {
        assert!(r["requests"].as_u64().unwrap() > 0, "{r}");
        assert_eq!(r["errors"], 0, "{r}");
    }
    assert!(out.join("report.html").exists());
    sandbox.assert_empty();

    // An app the folder does not hold is refused before any stack starts.
    std::fs::write(
        &suite,
        "stacks = [\"gunicorn\"]\n\
         [[workload]]\nname = \"missing\"\nargs = \"--app nosuch:app --app-dir flaskapp\"\n\
         [load]\nconnections = [2]\nduration = \"1s\"\n",
    )
    .unwrap();
    let run = wsgiprobe_env(&["suite", suite.to_str().unwrap()], &sandbox.env());
    let stderr = text(&run.stderr);
    assert_eq!(run.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("workload \"missing\"") && stderr.contains("no nosuch.py"),
        "{stderr}"
    );
    sandbox.assert_empty();
}
