//! `wsgiprobe suite` against real servers: the sustainable rate where the
//! physics puts it, what the server costs, stacks that fail to start or die
//! in the middle of a suite, an interrupted suite keeping what it measured,
//! and suite files refused before anything starts.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;
use serde_json::Value;

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

/// Runs a suite into `dir/out`; returns the exit code, report.json, report.md and stderr.
fn suite(dir: &Path, file: &str, extra: &[&str]) -> (i32, Value, String, String) {
    let out = dir.join("out");
    let mut args = vec!["suite", file, "--out", out.to_str().unwrap()];
    args.extend_from_slice(extra);
    let o = wsgiprobe_within(&args, &[], Duration::from_secs(150));
    let stderr = text(&o.stderr);
    let json = std::fs::read_to_string(out.join("report.json"))
        .unwrap_or_else(|e| panic!("no report.json ({e}); exit {:?}\n{stderr}", o.status.code()));
    let md = std::fs::read_to_string(out.join("report.md")).expect("report.md");
    (
        o.status.code().unwrap_or(-1),
        serde_json::from_str(&json).unwrap(),
        md,
        stderr,
    )
}

fn sustainable<'a>(report: &'a Value, stack: &str) -> &'a Value {
    report["sustainable"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["stack"] == stack)
        .unwrap_or_else(|| panic!("no sustainable rate for {stack}: {report:#}"))
}

/// One sync worker whose requests sleep 10 ms can serve at most 100 req/s;
/// four threads at most 400. The search must land below those, and well
/// above what a broken search would find.
#[test]
fn the_sustainable_rate_obeys_the_physics_of_sleeping_workers() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "capacity.toml",
        r#"
title = "capacity"
stacks = ["gunicorn", "gunicorn --worker-class gthread --threads 4"]

[[workload]]
name = "sleep"
args = "--workload sleep --ms 10"
thresholds = ["errors==0", "p99<2s"]

[load]
connections = [4]
duration = "1s"
warmup = "300ms"
repeats = 1
sustainable = { p99 = "100ms", probe = "1s", probe_warmup = "300ms" }
"#,
    );
    let (code, report, md, stderr) = suite(dir.path(), &file, &[]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(report["finished"], true);

    let sync = sustainable(&report, "gunicorn");
    let threads = sustainable(&report, "gunicorn gthread t4");
    let rate = |s: &Value| s["rate"].as_f64().unwrap_or_else(|| panic!("{s:#}"));
    let (one, four) = (rate(sync), rate(threads));
    assert!(
        (30.0..=100.0).contains(&one),
        "one sync worker: {one} req/s\n{sync:#}"
    );
    assert!(
        four <= 400.0 && four >= 2.0 * one,
        "four threads: {four} req/s against {one}\n{threads:#}"
    );
    for s in [sync, threads] {
        // Started from the closed-loop level's rate; a 2x bracket, then
        // bisection to 5%.
        let (lo, hi) = (
            s["bracket"][0].as_f64().unwrap(),
            s["bracket"][1].as_f64().unwrap(),
        );
        assert!(hi / lo <= 1.05 && s["converged"] == true, "{s:#}");
        assert!(s["probes_after_bracket"].as_u64().unwrap() <= 5, "{s:#}");
        let probes = s["probes"].as_array().unwrap();
        assert!(probes.iter().any(|p| p["holds"] == false), "{s:#}");
        assert!(probes
            .iter()
            .all(|p| p["holds"] == (p["broken"].as_array().unwrap().is_empty())));
    }

    // What the server cost: the master and its worker, from /proc.
    let results = report["results"].as_array().unwrap();
    assert_eq!(results.len(), 2);
    for r in results {
        let server = &r["server"];
        let cpu = server["cpu_s"].as_f64().unwrap();
        let rss = server["rss_max_bytes"].as_u64().unwrap();
        assert!(cpu > 0.0 && cpu < 2.5, "{server}");
        assert!(rss > 10 << 20 && rss < 2 << 30, "{server}");
        assert!(server["processes"].as_u64().unwrap() >= 2, "{server}");
        assert!(server["requests_per_cpu_s"].as_f64().unwrap() > 0.0);
        assert!(r["histogram"]["corrected"].as_str().unwrap().len() > 20);
        assert_eq!(r["level"], "c4");
        let held: Vec<bool> = r["thresholds"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["held"].as_bool().unwrap())
            .collect();
        assert_eq!(held, [true, true], "{r:#}");
    }
    let env = &report["environment"];
    assert!(env["python"].as_str().unwrap().starts_with("3."), "{env}");
    assert!(env["stacks"]["gunicorn"]["version"].is_string(), "{env}");
    assert!(env["suite_text"].as_str().unwrap().contains("capacity"));
    assert!(
        md.contains("## Sustainable rate") && md.contains("| sleep | gunicorn |"),
        "{md}"
    );
}

fn results_broke_threshold(report: &Value) -> bool {
    report["results"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["thresholds"][0]["expr"] == "p99<1us" && r["thresholds"][0]["held"] == false)
}

/// A recipe file with a server that exits at once and one that dies after
/// a few seconds of serving.
fn broken_recipes(dir: &Path) -> String {
    write(
        dir,
        "recipes.toml",
        r#"
[exits]
description = "exits before it serves"
tcp = "{python} -c 'import sys; print(\"exits-marker: no luck\"); sys.exit(3)' {port}"

[dies]
description = "serves, then dies"
tcp = "timeout 4 {python} wsgiprobe_wsgiref.py {host} {port} {app}; echo dies-marker: exit $?"
"#,
    )
}

#[test]
fn a_stack_that_fails_to_start_or_dies_is_recorded_and_the_suite_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let recipes = broken_recipes(dir.path());
    let file = write(
        dir.path(),
        "broken.toml",
        r#"
stacks = ["wsgiref", "exits", "dies", "waitress"]

[[workload]]
name = "hello"
args = "--workload hello --timeout 2s"
thresholds = ["p99<1us"]

[load]
connections = [1, 2]
duration = "1s"
warmup = "200ms"
repeats = 2
"#,
    );
    let (code, report, md, stderr) = suite(dir.path(), &file, &["--recipes", &recipes]);
    // A stack failed (2), and every level broke its threshold (1): the
    // failure wins.
    assert_eq!(code, 1, "{stderr}");
    assert!(results_broke_threshold(&report), "{report:#}");
    assert!(md.contains("## Thresholds broken"), "{md}");
    assert_eq!(report["finished"], true, "the suite went on");
    let results = report["results"].as_array().unwrap();
    let count = |stack: &str| results.iter().filter(|r| r["stack"] == stack).count();
    assert_eq!(count("wsgiref"), 4, "{stderr}");
    assert_eq!(
        count("waitress"),
        4,
        "the stack after the failures ran: {stderr}"
    );
    assert_eq!(count("exits"), 0);

    let failures = report["failures"].as_array().unwrap();
    let failure = |stack: &str| {
        failures
            .iter()
            .find(|f| f["stack"] == stack)
            .unwrap_or_else(|| panic!("no failure for {stack}: {failures:#?}"))
    };
    let exits = failure("exits");
    assert_eq!(exits["phase"], "start");
    assert!(
        exits["log_tail"].as_str().unwrap().contains("exits-marker"),
        "{exits:#}"
    );
    let dies = failure("dies");
    assert!(
        ["died", "health"].contains(&dies["phase"].as_str().unwrap()),
        "{dies:#}"
    );
    assert!(
        dies["log_tail"].as_str().unwrap().contains("dies-marker"),
        "{dies:#}"
    );
    assert!(count("dies") < 4, "it died before its last level");
    assert!(
        md.contains("## Stacks that failed") && md.contains("exits-marker"),
        "{md}"
    );
}

#[test]
fn an_interrupted_suite_keeps_its_finished_levels() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "long.toml",
        r#"
stacks = ["wsgiref"]

[[workload]]
name = "hello"
args = "--workload hello"

[load]
connections = [1, 2, 4, 8]
duration = "1s"
warmup = "100ms"
repeats = 5
"#,
    );
    let out = dir.path().join("out");
    let mut child = Command::new(bin())
        .args(["suite", &file, "--out", out.to_str().unwrap()])
        .env("WSGIPROBE_PYTHON", python())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let json = out.join("report.json");
    let measured = |n: usize| {
        std::fs::read_to_string(&json)
            .ok()
            .and_then(|t| serde_json::from_str::<Value>(&t).ok())
            .is_some_and(|v| v["results"].as_array().is_some_and(|r| r.len() >= n))
    };
    assert!(
        wait_until(Duration::from_secs(60), || measured(2)),
        "no level was saved"
    );
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let code = wait_child(&mut child, Duration::from_secs(30));
    assert_eq!(code, Some(130));

    let report: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let results = report["results"].as_array().unwrap();
    assert!(
        results.len() >= 2 && results.len() < 20,
        "{}",
        results.len()
    );
    assert_eq!(report["finished"], false);
    for r in results {
        assert!(r["requests"].as_u64().unwrap() > 0, "{r:#}");
        assert!(r["latency_us"]["p99"].as_u64().unwrap() > 0);
    }
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(md.contains("**Incomplete:**"), "{md}");
}

#[test]
fn a_bad_suite_file_is_refused_naming_file_and_entry_before_any_start() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "stacks = [\"gunicorn\"]\n[[workload]]\nname = \"hi\"\nargs = \"--workload hello -c 4\"\n[load]\nconnections = [1]\n",
            &["workload \"hi\"", "--connections", "[load]"][..],
        ),
        (
            "stacks = [\"gunicorn\", \"waitress --workers 2\"]\n[[workload]]\nname = \"hi\"\n[load]\nconnections = [1]\n",
            &["stack 2", "waitress --workers 2", "--workers"],
        ),
        (
            "stacks = [\"gunicorn\"]\n[[workload]]\nname = \"hi\"\nargs = \"--workload nap\"\n[load]\nconnections = [1]\n",
            &["workload \"hi\"", "nap"],
        ),
        (
            "stacks = [\"gunicorn\"]\n[[workload]]\nname = \"hi\"\n[load]\nsustainable = { p98 = \"1s\" }\n",
            &["load.sustainable", "p98"],
        ),
        (
            "stacks = [\"gunicorn\"]\n[[workload]]\nname = \"hi\"\n[load]\nconections = [1]\n",
            &["bad.toml", "conections"],
        ),
    ];
    for (toml_text, wanted) in cases {
        let file = write(dir.path(), "bad.toml", toml_text);
        let out = dir.path().join("never");
        let o = wsgiprobe_within(
            &["suite", &file, "--out", out.to_str().unwrap()],
            &[],
            Duration::from_secs(20),
        );
        let err = text(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{toml_text}\n{err}");
        for w in wanted {
            assert!(err.contains(w), "{w:?} missing for\n{toml_text}\n{err}");
        }
        assert!(err.contains("bad.toml"), "{err}");
        assert!(!err.contains("starting"), "nothing starts: {err}");
        assert!(!out.exists(), "no report folder for a refused suite");
    }
}

#[test]
fn bench_with_several_servers_runs_each_and_ends_with_a_relative_summary() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("set.json");
    let o = wsgiprobe_within(
        &[
            "bench",
            "--server",
            "wsgiref",
            "--server",
            "nosuch",
            "--server",
            "waitress",
            "-c",
            "4",
            "-d",
            "1s",
            "--warmup",
            "200ms",
            "--json",
            json.to_str().unwrap(),
        ],
        &[],
        Duration::from_secs(60),
    );
    let stderr = text(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "a stack did not start: {stderr}");
    let set: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(set["kind"], "bench-set");
    let runs = set["runs"].as_array().unwrap();
    let labels: Vec<&str> = runs.iter().map(|r| r["label"].as_str().unwrap()).collect();
    assert_eq!(labels, ["wsgiref", "waitress"], "in the order given");
    assert!(runs.iter().all(|r| r["requests"].as_u64().unwrap() > 0));
    assert_eq!(set["failed"][0]["label"], "nosuch");
    // Fastest first; the others as multiples of it.
    let summary = set["summary"].as_array().unwrap();
    let rps: Vec<f64> = summary
        .iter()
        .map(|s| s["requests_per_sec"].as_f64().unwrap())
        .collect();
    assert!(rps[0] >= rps[1], "{summary:?}");
    let times = summary[1]["fastest_times_faster"].as_f64().unwrap();
    assert!((times - rps[0] / rps[1]).abs() < 1e-9, "{summary:?}");

    // The same command with the table: each run, then the summary.
    let o = wsgiprobe_within(
        &[
            "bench", "--server", "wsgiref", "--server", "waitress", "-c", "2", "-d", "1s",
            "--warmup", "100ms",
        ],
        &[],
        Duration::from_secs(60),
    );
    let stdout = text(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert!(
        stdout.contains("== 1/2: wsgiref") && stdout.contains("== 2/2: waitress"),
        "{stdout}"
    );
    assert!(
        stdout.contains(" ran (") && stdout.contains("times faster than"),
        "{stdout}"
    );
}
