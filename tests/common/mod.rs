//! Helpers shared by the integration tests: running wsgiprobe with a time
//! limit, reading its JSON report, and finding processes left behind.
#![allow(dead_code)]

pub mod browser;
pub mod fixtures;

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_wsgiprobe")
}

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The interpreter with the test servers installed.
pub fn python() -> String {
    if let Ok(p) = std::env::var("WSGIPROBE_TEST_PYTHON") {
        return p;
    }
    let venv = root().join(".venv/bin/python");
    assert!(
        venv.exists(),
        "no .venv with the test servers: run scripts/test.sh (it creates .venv and installs them)"
    );
    venv.display().to_string()
}

pub fn broken_gateway() -> String {
    root()
        .join("tests/gateways/broken_gateway.py")
        .display()
        .to_string()
}

/// Runs wsgiprobe with a time limit, so a hang fails the test instead of the
/// suite. The pipes are drained while it runs: a child blocked on a full pipe
/// would otherwise never exit.
pub fn wsgiprobe(args: &[&str]) -> Output {
    wsgiprobe_env(args, &[])
}

/// `wsgiprobe` with extra environment variables.
pub fn wsgiprobe_env(args: &[&str], envs: &[(&str, &str)]) -> Output {
    wsgiprobe_within(args, envs, Duration::from_secs(180))
}

/// `wsgiprobe` with extra environment variables and a time limit of its own.
pub fn wsgiprobe_within(args: &[&str], envs: &[(&str, &str)], limit: Duration) -> Output {
    use std::io::Read;
    let mut child = Command::new(bin())
        .args(args)
        .env("WSGIPROBE_PYTHON", python())
        // A test that wants GitHub Actions' behaviour sets these itself; a
        // suite run under Actions must not write to the real job summary.
        .env_remove("GITHUB_ACTIONS")
        .env_remove("GITHUB_STEP_SUMMARY")
        .envs(envs.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start wsgiprobe");
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = pipe.read_to_end(&mut buf);
            buf
        })
    };
    let out = drain(Box::new(child.stdout.take().unwrap()));
    let err = drain(Box::new(child.stderr.take().unwrap()));
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("wsgiprobe {args:?} did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output {
        status,
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    }
}

/// Peak resident memory of a finished child, in KiB.
#[derive(Debug, Clone, Copy)]
pub struct PeakMemory {
    /// `ru_maxrss` from wait4: the highest of the process and of the
    /// children it waited for, counting the test process's own memory as
    /// it was when forked (the kernel keeps the pre-exec figure): an upper
    /// bound, never missed.
    pub maxrss_kib: u64,
    /// The highest `VmHWM` read from /proc while it ran (every 5 ms): the
    /// program's own figure, though a rise in its last moments may be missed.
    pub hwm_kib: u64,
}

fn vm_hwm_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// `wsgiprobe` with a time limit, and the peak resident memory of its own
/// process (measure runs that start no server: a server it waited for
/// would count in `maxrss_kib`).
// The child is reaped by wait4 (for its rusage), which clippy cannot see.
#[allow(clippy::zombie_processes)]
pub fn wsgiprobe_measured(args: &[&str], limit: Duration) -> (Output, PeakMemory) {
    use std::io::Read;
    use std::os::unix::process::ExitStatusExt;
    let mut child = Command::new(bin())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start wsgiprobe");
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = pipe.read_to_end(&mut buf);
            buf
        })
    };
    let out = drain(Box::new(child.stdout.take().unwrap()));
    let err = drain(Box::new(child.stderr.take().unwrap()));
    let pid = child.id() as libc::pid_t;
    let deadline = Instant::now() + limit;
    let mut status = 0;
    let mut hwm_kib = 0;
    // SAFETY: a zeroed rusage is a valid value for wait4 to fill.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        hwm_kib = hwm_kib.max(vm_hwm_kib(child.id()).unwrap_or(0));
        // SAFETY: waiting for our own child, with valid out-pointers.
        let r = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut usage) };
        if r == pid {
            break;
        }
        assert!(r == 0, "wait4: {}", std::io::Error::last_os_error());
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("wsgiprobe {args:?} did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let output = Output {
        status: std::process::ExitStatus::from_raw(status),
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    };
    let peak = PeakMemory {
        maxrss_kib: usage.ru_maxrss as u64,
        hwm_kib,
    };
    (output, peak)
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Runs `check` with a JSON report and returns (exit code, report, stderr).
pub fn check_json(args: &[&str]) -> (i32, Value, String) {
    check_json_env(args, &[])
}

/// `check_json` with extra environment variables.
pub fn check_json_env(args: &[&str], envs: &[(&str, &str)]) -> (i32, Value, String) {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("report.json");
    let mut all = vec!["check", "--json", json.to_str().unwrap()];
    all.extend_from_slice(args);
    let out = wsgiprobe_env(&all, envs);
    let stderr = text(&out.stderr);
    let report: Value = match std::fs::read_to_string(&json) {
        Ok(t) => serde_json::from_str(&t).expect("report is JSON"),
        Err(e) => panic!(
            "no JSON report ({e}); exit {:?}\nstdout:\n{}\nstderr:\n{stderr}",
            out.status.code(),
            text(&out.stdout)
        ),
    };
    (out.status.code().unwrap_or(-1), report, stderr)
}

pub fn outcome_of<'a>(report: &'a Value, id: &str) -> &'a str {
    report["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("no case {id} in report"))["outcome"]
        .as_str()
        .unwrap()
}

pub fn cases_with(report: &Value, outcome: &str) -> Vec<String> {
    report["cases"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["outcome"] == outcome)
        .map(|c| format!("{}: {}", c["id"], c["actual"]))
        .collect()
}

/// Asserts the contract of the check JSON and that nothing ended in error.
pub fn assert_complete_run(code: i32, report: &Value, stderr: &str) {
    let summary = &report["summary"];
    let cases = report["cases"].as_array().unwrap();
    assert!(cases.len() >= 25, "only {} cases ran", cases.len());
    for c in cases {
        for key in [
            "id",
            "level",
            "outcome",
            "requirement",
            "expected",
            "actual",
        ] {
            assert!(c.get(key).is_some(), "case {} lacks {key}", c["id"]);
        }
    }
    assert_eq!(
        summary["error"],
        0,
        "cases in error: {:#?}\nstderr: {stderr}",
        cases_with(report, "error")
    );
    let failures = summary["fail"].as_u64().unwrap();
    assert_eq!(code, if failures > 0 { 1 } else { 0 }, "stderr: {stderr}");
    assert_eq!(
        summary["total"].as_u64().unwrap(),
        cases.len() as u64,
        "summary total"
    );
}

/// Processes whose environment carries `marker`.
pub fn processes_marked(marker: &str) -> Vec<u32> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        if let Ok(env) = std::fs::read(entry.path().join("environ")) {
            if env
                .split(|b| *b == 0)
                .any(|kv| kv == format!("WSGIPROBE_TEST_MARK={marker}").as_bytes())
            {
                // Zombies have an empty environ, so a match is a live process.
                found.push(pid);
            }
        }
    }
    found
}

pub fn unique_marker() -> String {
    format!(
        "m{}x{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos()
    )
}

pub fn wait_until(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    f()
}

pub fn wait_child(child: &mut std::process::Child, limit: Duration) -> Option<i32> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s.code();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Stops a server started by a test: TERM, so gunicorn takes its workers
/// down with it, then KILL if it lingers.
pub fn stop(server: &mut std::process::Child) {
    // SAFETY: signalling our own child.
    unsafe {
        libc::kill(server.id() as i32, libc::SIGTERM);
    }
    if wait_child(server, Duration::from_secs(10)).is_none() {
        let _ = server.wait();
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
