//! Sharded load against a real nginx: each shard is its own wsgiprobe
//! process, started together with --start-at, and `wsgiprobe merge` puts
//! their JSON reports back together. What must hold: counts add up, the
//! merged rate is the sum of the shards', the merged maximum is the largest
//! shard maximum, the timeline and the interval log hold every request, and
//! reports of different plans are refused with what differs.
//!
//! nginx runs as one process (`master_process off`) on a free port and is
//! killed when the test ends; every wsgiprobe has a deadline.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, SystemTime};

use common::*;
use serde_json::Value;
use wsgiprobe::bench::stats::decode;

/// nginx answering every request with a short body, killed when dropped.
struct Nginx {
    child: Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn nginx() -> Nginx {
    let program = std::env::var("WSGIPROBE_NGINX").unwrap_or_else(|_| "nginx".into());
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display().to_string();
    let port = free_port();
    std::fs::create_dir_all(dir.path().join("temp")).unwrap();
    let conf = format!(
        "daemon off;\nmaster_process off;\nworker_processes 1;\npid {d}/nginx.pid;\n\
         events {{ worker_connections 1024; }}\n\
         http {{\n    access_log off;\n\
             client_body_temp_path {d}/temp/client_body;\n    proxy_temp_path {d}/temp/proxy;\n\
             fastcgi_temp_path {d}/temp/fastcgi;\n    uwsgi_temp_path {d}/temp/uwsgi;\n\
             scgi_temp_path {d}/temp/scgi;\n\
             server {{ listen 127.0.0.1:{port}; location / {{ return 200 \"hello\\n\"; }} }}\n}}\n"
    );
    std::fs::write(dir.path().join("nginx.conf"), conf).unwrap();
    let child = Command::new(&program)
        .args(["-p", &format!("{d}/"), "-c", &format!("{d}/nginx.conf")])
        .args(["-e", &format!("{d}/error.log")])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("could not start {program} (set WSGIPROBE_NGINX): {e}"));
    let addr = format!("127.0.0.1:{port}");
    assert!(
        wait_until(Duration::from_secs(10), || std::net::TcpStream::connect(
            &addr
        )
        .is_ok()),
        "nginx did not listen on {addr}"
    );
    Nginx {
        child,
        url: format!("http://{addr}/"),
        _dir: dir,
    }
}

/// A start time a few seconds ahead, for every shard of one run.
fn start_at(ahead: u64) -> String {
    wsgiprobe::bench::shard::rfc3339(SystemTime::now() + Duration::from_secs(ahead))
}

/// Runs every `(args, json)` shard as its own process at once; their exit codes.
fn run_shards(shards: Vec<Vec<String>>) -> Vec<(i32, String)> {
    let handles: Vec<_> = shards
        .into_iter()
        .map(|args| {
            std::thread::spawn(move || {
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                let out = wsgiprobe_within(&args, &[], Duration::from_secs(60));
                (
                    out.status.code().unwrap_or(-1),
                    format!("{}\n{}", text(&out.stdout), text(&out.stderr)),
                )
            })
        })
        .collect();
    handles.into_iter().map(|h| h.join().unwrap()).collect()
}

fn read(path: &Path) -> Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("no report at {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

fn u(v: &Value, pointer: &str) -> u64 {
    v.pointer(pointer)
        .and_then(Value::as_u64)
        .unwrap_or_else(|| panic!("no {pointer}"))
}

fn f(v: &Value, pointer: &str) -> f64 {
    v.pointer(pointer)
        .and_then(Value::as_f64)
        .unwrap_or_else(|| panic!("no {pointer}"))
}

/// Runs `n` bench shards of `flags` against `url`; the shards' report paths.
fn bench_shards(dir: &Path, url: &str, flags: &[&str], n: u32) -> Vec<PathBuf> {
    let at = start_at(3);
    let paths: Vec<PathBuf> = (0..n)
        .map(|i| dir.join(format!("shard-{i}.json")))
        .collect();
    let shards = paths
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let mut args: Vec<String> = ["bench", "--url", url, "--shard"]
                .iter()
                .map(|s| s.to_string())
                .collect();
            args.push(format!("{i}/{n}"));
            args.extend(["--start-at".into(), at.clone(), "--json".into()]);
            args.push(p.display().to_string());
            args.extend(flags.iter().map(|s| s.to_string()));
            args
        })
        .collect();
    for (code, out) in run_shards(shards) {
        assert_eq!(code, 0, "a shard failed:\n{out}");
    }
    paths
}

/// `wsgiprobe merge FILES --json DIR/merged.json EXTRA`: exit code, report, output.
fn merge(dir: &Path, files: &[PathBuf], extra: &[&str]) -> (i32, Value, String) {
    let json = dir.join("merged.json");
    let _ = std::fs::remove_file(&json);
    let mut args = vec!["merge".to_string()];
    args.extend(files.iter().map(|p| p.display().to_string()));
    args.extend(["--json".into(), json.display().to_string()]);
    args.extend(extra.iter().map(|s| s.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = wsgiprobe_within(&args, &[], Duration::from_secs(30));
    let report = std::fs::read_to_string(&json)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or(Value::Null);
    (
        out.status.code().unwrap_or(-1),
        report,
        format!("{}\n{}", text(&out.stdout), text(&out.stderr)),
    )
}

/// What must hold of any merge: every count is the sum of the shards', the
/// rate too, the maximum is the largest shard's, and the histograms hold
/// every request.
fn assert_adds_up(merged: &Value, shards: &[Value]) {
    let sum = |p: &str| shards.iter().map(|s| u(s, p)).sum::<u64>();
    for p in [
        "/requests",
        "/ok",
        "/errors/total",
        "/bytes_read",
        "/responses_in_window",
        "/statuses/200",
        "/connections/opened",
        "/connections/open_at_start",
        "/connections/closed_by_server",
        "/connections/requests_sent",
        "/generator/requests_sent",
    ] {
        assert_eq!(u(merged, p), sum(p), "{p}");
    }
    let rate: f64 = shards.iter().map(|s| f(s, "/requests_per_sec")).sum();
    let merged_rate = f(merged, "/requests_per_sec");
    assert!(
        (merged_rate - rate).abs() <= rate * 1e-9,
        "merged rate {merged_rate} is not the sum {rate}"
    );
    let max = shards
        .iter()
        .map(|s| u(s, "/latency_us/max"))
        .max()
        .unwrap();
    assert_eq!(u(merged, "/latency_us/max"), max);
    let min = shards
        .iter()
        .map(|s| u(s, "/latency_us/min"))
        .min()
        .unwrap();
    assert_eq!(u(merged, "/latency_us/min"), min);
    for h in ["corrected", "uncorrected"] {
        let hist = |v: &Value| decode(v["histogram"][h].as_str().unwrap()).unwrap();
        let mut all = wsgiprobe::bench::stats::latency_histogram();
        for s in shards {
            all.add(hist(s)).unwrap();
        }
        assert_eq!(hist(merged), all, "{h} histogram");
    }
    assert_eq!(u(merged, "/latency_us/count"), u(merged, "/requests"));
    // Every request ended in some second of the merged timeline.
    let timeline: u64 = merged["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| u(p, "/requests"))
        .sum();
    assert_eq!(timeline, u(merged, "/requests"));
    assert_eq!(
        merged["merged"]["shards"].as_array().unwrap().len(),
        shards.len()
    );
}

#[test]
fn open_model_shards_merge_into_the_whole_plan() {
    let server = nginx();
    let dir = tempfile::tempdir().unwrap();
    let rate = 300.0;
    let duration = 2.0;
    let flags = [
        "--rate", "300", "-c", "6", "-d", "2s", "--warmup", "500ms", "-t", "1",
    ];
    let paths = bench_shards(dir.path(), &server.url, &flags, 3);
    let shards: Vec<Value> = paths.iter().map(|p| read(p)).collect();
    for (i, s) in shards.iter().enumerate() {
        assert_eq!(u(s, "/plan/shard/index"), i as u64);
        assert_eq!(u(s, "/plan/shard/count"), 3);
        assert_eq!(f(s, "/plan/whole/rate"), rate);
        assert_eq!(u(s, "/plan/whole/connections"), 6);
        assert_eq!(f(s, "/plan/rate"), rate / 3.0);
        assert_eq!(u(s, "/plan/connections"), 2);
        // The shards measured one window.
        assert_eq!(
            f(s, "/measure_start_unix"),
            f(&shards[0], "/measure_start_unix")
        );
    }
    let hlog = dir.path().join("merged.hlog");
    let html = dir.path().join("merged.html");
    let (code, merged, out) = merge(
        dir.path(),
        &paths,
        &[
            "--hlog",
            hlog.to_str().unwrap(),
            "--html",
            html.to_str().unwrap(),
            "--fail-if",
            "errors==0",
        ],
    );
    assert_eq!(code, 0, "{out}");
    assert_adds_up(&merged, &shards);
    // The merged file renders with `report`, as the merge drew it, and the
    // page says what it was merged from.
    let page = std::fs::read_to_string(&html).unwrap();
    let json = dir.path().join("merged.json");
    let drawn = wsgiprobe_within(
        &["report", json.to_str().unwrap(), "--html", "-"],
        &[],
        Duration::from_secs(30),
    );
    assert!(drawn.status.success(), "{}", text(&drawn.stderr));
    assert_eq!(text(&drawn.stdout), page);
    assert!(
        page.contains("Merged from 3 of 3 shards"),
        "no shards section"
    );
    for s in &shards {
        let file = s["plan"]["shard"]["index"].as_u64().unwrap();
        assert!(page.contains(&format!("shard-{file}.json")));
    }
    assert_eq!(f(&merged, "/plan/rate"), rate);
    assert_eq!(u(&merged, "/plan/connections"), 6);
    assert!(merged["plan"].get("shard").is_none());
    assert!(f(&merged, "/merged/window/common_s") > duration - 0.05);
    // A steady nginx answers every due request: the whole plan's load.
    let due = (rate * duration) as u64;
    let requests = u(&merged, "/requests");
    assert!(
        requests.abs_diff(due) <= 3,
        "{requests} requests, {due} were due"
    );
    assert!(out.contains("merged from 3 of 3 shards"), "{out}");
    assert_eq!(merged["thresholds"][0]["held"], true);

    // HdrHistogram's own log reader (its Python port) reads every request
    // back out of the interval log.
    let script = "import sys\n\
        from hdrh.log import HistogramLogReader\n\
        from hdrh.histogram import HdrHistogram\n\
        r = HistogramLogReader(sys.argv[1], HdrHistogram(1, 3600000000, 2))\n\
        n = total = 0\n\
        while True:\n\
        \x20   h = r.get_next_interval_histogram()\n\
        \x20   if h is None: break\n\
        \x20   n += 1; total += h.get_total_count()\n\
        print(n, total, r.start_time_sec)\n";
    let out = Command::new(python())
        .args(["-c", script, hlog.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let words: Vec<f64> = text(&out.stdout)
        .split_whitespace()
        .map(|w| w.parse().unwrap())
        .collect();
    assert_eq!(
        words[0] as usize,
        merged["timeline"].as_array().unwrap().len()
    );
    assert_eq!(words[1] as u64, requests);
    assert!((words[2] - f(&merged, "/measure_start_unix")).abs() < 0.001);
}

#[test]
fn closed_model_shards_split_connections_and_thresholds_apply_to_the_merge() {
    let server = nginx();
    let dir = tempfile::tempdir().unwrap();
    let flags = ["-c", "5", "-d", "1s", "--warmup", "200ms", "-t", "1"];
    let paths = bench_shards(dir.path(), &server.url, &flags, 2);
    let shards: Vec<Value> = paths.iter().map(|p| read(p)).collect();
    // 5 connections in two parts: 3 and 2.
    assert_eq!(u(&shards[0], "/plan/connections"), 3);
    assert_eq!(u(&shards[1], "/plan/connections"), 2);
    let (code, merged, out) = merge(dir.path(), &paths, &[]);
    assert_eq!(code, 0, "{out}");
    assert_adds_up(&merged, &shards);
    assert_eq!(u(&merged, "/plan/connections"), 5);
    assert_eq!(merged["plan"]["model"], "closed");

    // A threshold the whole breaks is a failure of the merge (exit 1),
    // even though each shard alone met it.
    let rps_each = shards
        .iter()
        .map(|s| f(s, "/requests_per_sec"))
        .fold(0.0, f64::max);
    let threshold = format!("rps<{}", rps_each.ceil() + 1.0);
    let (code, merged, out) = merge(dir.path(), &paths, &["--fail-if", &threshold]);
    assert_eq!(code, 1, "{out}");
    assert_eq!(merged["thresholds"][0]["held"], false, "{out}");
}

#[test]
fn reports_of_different_plans_or_shards_are_refused() {
    let server = nginx();
    let dir = tempfile::tempdir().unwrap();
    let at = start_at(2);
    let other_url = format!("{}other", server.url);
    let shard_of = |url: &str, name: &str, i: u32, rate: &str| -> Vec<String> {
        [
            "bench",
            "--url",
            url,
            "--rate",
            rate,
            "-c",
            "2",
            "-d",
            "300ms",
            "--warmup",
            "0s",
            "-t",
            "1",
            "--start-at",
            &at,
            "--shard",
            &format!("{i}/2"),
            "--json",
            dir.path()
                .join(format!("{name}{rate}-{i}.json"))
                .to_str()
                .unwrap(),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };
    let shard = |i: u32, rate: &str| shard_of(&server.url, "r", i, rate);
    for (code, out) in run_shards(vec![
        shard(0, "100"),
        shard(1, "200"),
        shard(1, "100"),
        shard_of(&other_url, "other", 1, "100"),
    ]) {
        assert_eq!(code, 0, "{out}");
    }
    let p = |name: &str| dir.path().join(name);

    let (code, _, out) = merge(dir.path(), &[p("r100-0.json"), p("r200-1.json")], &[]);
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("is not a shard of the same plan")
            && out.contains("rate 100 req/s vs 200 req/s"),
        "{out}"
    );
    assert!(!out.contains("workload"), "only what differs: {out}");

    let (code, _, out) = merge(dir.path(), &[p("r100-0.json"), p("other100-1.json")], &[]);
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains(&format!("target {} vs {other_url}", server.url)),
        "{out}"
    );
    assert!(!out.contains("rate"), "only what differs: {out}");

    let (code, _, out) = merge(dir.path(), &[p("r100-1.json"), p("r100-1.json")], &[]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("shard 1/2 is given twice"), "{out}");

    let (code, _, out) = merge(dir.path(), &[p("r100-1.json")], &[]);
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("0/2 is missing") && out.contains("--partial"),
        "{out}"
    );
    let (code, merged, out) = merge(dir.path(), &[p("r100-1.json")], &["--partial"]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(merged["merged"]["missing"], serde_json::json!([0]));
    assert_eq!(f(&merged, "/plan/rate"), 50.0, "the load that ran");

    // A run without --shard is not a part of anything.
    let plain = p("plain.json");
    let out = wsgiprobe_within(
        &[
            "bench",
            "--url",
            &server.url,
            "-c",
            "1",
            "-d",
            "500ms",
            "--warmup",
            "0s",
            "-t",
            "1",
            "--json",
            plain.to_str().unwrap(),
        ],
        &[],
        Duration::from_secs(30),
    );
    // Only its report matters here (on a loaded machine the short run may
    // be judged invalid, exit 1).
    assert!(
        plain.exists(),
        "exit {:?}\n{}\n{}",
        out.status.code(),
        text(&out.stdout),
        text(&out.stderr)
    );
    let (code, _, out) = merge(dir.path(), &[plain], &[]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("was not run with --shard"), "{out}");
}

/// `bench ARGS` started in the background, its output discarded.
fn spawn_bench(args: &[String]) -> Child {
    Command::new(bin())
        .arg("bench")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

fn interrupt(child: &Child) {
    // SAFETY: signalling our own child.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGINT);
    }
}

/// Ctrl-C in a shard keeps what it gathered, as in any bench run: while
/// waiting for --start-at it ends at once with an empty report, and during
/// the window it writes the part measured, which merges with a warning.
#[test]
fn an_interrupted_shard_keeps_what_it_gathered() {
    let server = nginx();
    let dir = tempfile::tempdir().unwrap();
    let args = |i: u32, at: &str, json: &Path| -> Vec<String> {
        let mut a: Vec<String> = [
            "--url",
            &server.url,
            "--rate",
            "200",
            "-c",
            "4",
            "-d",
            "3s",
            "--warmup",
            "500ms",
            "-t",
            "1",
            "--start-at",
            at,
            "--json",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        a.push(json.display().to_string());
        a.extend(["--shard".into(), format!("{i}/2")]);
        a
    };

    // Interrupted while waiting for a start far ahead: no 20 s grace, no wait.
    let early = dir.path().join("early.json");
    let mut child = spawn_bench(&args(0, &start_at(60), &early));
    std::thread::sleep(Duration::from_millis(1500));
    let sent = std::time::Instant::now();
    interrupt(&child);
    assert_eq!(wait_child(&mut child, Duration::from_secs(20)), Some(130));
    assert!(
        sent.elapsed() < Duration::from_secs(5),
        "the wait for --start-at ignored the signal for {:?}",
        sent.elapsed()
    );
    let r = read(&early);
    assert_eq!(r["interrupted"], "SIGINT");
    assert_eq!(u(&r, "/requests"), 0);
    assert_eq!(u(&r, "/plan/shard/index"), 0);

    // Interrupted a second into the window: the shard keeps that second.
    let at = start_at(2);
    let paths: Vec<PathBuf> = (0..2)
        .map(|i| dir.path().join(format!("shard-{i}.json")))
        .collect();
    let mut whole = spawn_bench(&args(0, &at, &paths[0]));
    let mut cut = spawn_bench(&args(1, &at, &paths[1]));
    // The window starts 2.5 s from now (start, then the warm-up).
    std::thread::sleep(Duration::from_millis(3500));
    interrupt(&cut);
    assert_eq!(wait_child(&mut cut, Duration::from_secs(20)), Some(130));
    assert_eq!(wait_child(&mut whole, Duration::from_secs(20)), Some(0));
    let shards: Vec<Value> = paths.iter().map(|p| read(p)).collect();
    assert_eq!(shards[1]["interrupted"], "SIGINT");
    let measured = f(&shards[1], "/measured_s");
    assert!(measured > 0.3 && measured < 2.5, "measured {measured} s");
    assert!(u(&shards[1], "/requests") > 0);

    let (code, merged, out) = merge(dir.path(), &paths, &[]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(
        u(&merged, "/requests"),
        u(&shards[0], "/requests") + u(&shards[1], "/requests")
    );
    let warnings = merged["warnings"].to_string();
    assert!(
        warnings.contains("shard 1/2 measured") && warnings.contains("interrupted by SIGINT"),
        "{warnings}"
    );
}

#[test]
fn an_open_rate_holds_with_fewer_connections_than_load_threads() {
    let server = nginx();
    let out = wsgiprobe_within(
        &[
            "bench",
            "--url",
            &server.url,
            "--rate",
            "200",
            "-c",
            "1",
            "-t",
            "4",
            "-d",
            "1s",
            "--warmup",
            "0s",
            "--json",
            "-",
        ],
        &[],
        Duration::from_secs(30),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    // One connection runs one worker thread; it must send the whole rate,
    // not a quarter of it.
    let requests = u(&report, "/requests");
    assert!(requests.abs_diff(200) <= 2, "{requests} requests");
}

#[test]
fn sharding_flags_are_checked_before_anything_starts() {
    for (args, says) in [
        (
            &["--shard", "2/2"][..],
            "shards count from 0, so the last of 2 is 1/2",
        ),
        (
            &["--shard", "0/2", "-n", "100"],
            "give the sharded run a duration",
        ),
        (&["--shard", "0/8", "-c", "4"], "give -c at least 8"),
        (&["--start-at", "2001-01-01T00:00:00Z"], "passed"),
        (&["--start-at", "tomorrow"], "RFC 3339"),
    ] {
        let mut all = vec!["bench", "--url", "http://127.0.0.1:9/"];
        all.extend_from_slice(args);
        let out = wsgiprobe_within(&all, &[], Duration::from_secs(20));
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
    }
}

const SUITE: &str = r#"
title = "sharded"
stacks = ["wsgiref"]

[[workload]]
name = "hello"
args = "--workload hello --timeout 1s --load-threads 1"

[load]
connections = [2]
rates = [40]
open_connections = 2
duration = "1s"
warmup = "200ms"
repeats = 1
"#;

#[test]
fn suite_shards_run_each_level_together_and_merge() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("sharded.toml");
    std::fs::write(&file, SUITE).unwrap();
    let at = start_at(6);
    let shards = (0..2)
        .map(|i| {
            [
                "suite",
                file.to_str().unwrap(),
                "--shard",
                &format!("{i}/2"),
                "--start-at",
                &at,
                "--out",
                dir.path().join(format!("s{i}")).to_str().unwrap(),
                "--hlog",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect()
        })
        .collect();
    for (code, out) in run_shards(shards) {
        assert_eq!(code, 0, "a suite shard failed:\n{out}");
    }
    let paths: Vec<PathBuf> = (0..2)
        .map(|i| dir.path().join(format!("s{i}/report.json")))
        .collect();
    let shards: Vec<Value> = paths.iter().map(|p| read(p)).collect();
    for (i, s) in shards.iter().enumerate() {
        assert_eq!(u(s, "/shard/index"), i as u64);
        let results = s["results"].as_array().unwrap();
        assert_eq!(results.len(), 2);
        // Each level ran 1/2 of its load, on the same schedule everywhere.
        assert_eq!(results[0]["level"], "c2");
        assert_eq!(u(&results[0], "/shard_load/connections"), 1);
        assert_eq!(results[1]["level"], "r40");
        assert_eq!(f(&results[1], "/shard_load/rate"), 20.0);
        for (k, r) in results.iter().enumerate() {
            assert_eq!(
                f(r, "/measure_start_unix"),
                f(&shards[0]["results"][k], "/measure_start_unix")
            );
        }
        // --hlog: each level's interval log beside the report.
        let log = dir
            .path()
            .join(format!("s{i}/hlog/wsgiref.hello.r40.r1.hlog"));
        let log = std::fs::read_to_string(&log).unwrap();
        assert!(log.contains("#[BaseTime: "), "{log}");
        let intervals = log
            .lines()
            .filter(|l| !l.starts_with('#') && !l.starts_with('"'))
            .count();
        assert!(intervals >= 1, "{log}");
    }
    let md = dir.path().join("merged.md");
    let (code, merged, out) = merge(
        dir.path(),
        &paths,
        &["--markdown", md.to_str().unwrap(), "--fail-if", "p99<5s"],
    );
    assert_eq!(code, 0, "{out}");
    assert_eq!(merged["kind"], "suite");
    let results = merged["results"].as_array().unwrap();
    assert_eq!(results.len(), 2);
    for (k, r) in results.iter().enumerate() {
        let of = |p: &str| -> u64 { shards.iter().map(|s| u(&s["results"][k], p)).sum() };
        assert_eq!(u(r, "/requests"), of("/requests"));
        // The shards' timelines, aligned, hold every request of the level.
        let seconds: u64 = r["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| u(p, "/requests"))
            .sum();
        assert_eq!(seconds, u(r, "/requests"), "timeline of {}", r["level"]);
        assert_eq!(u(r, "/errors"), of("/errors"));
        let rate: f64 = shards
            .iter()
            .map(|s| f(&s["results"][k], "/requests_per_sec"))
            .sum();
        assert!((f(r, "/requests_per_sec") - rate).abs() <= rate * 1e-9);
        let max = shards
            .iter()
            .map(|s| u(&s["results"][k], "/latency_us/max"))
            .max()
            .unwrap();
        assert_eq!(u(r, "/latency_us/max"), max);
        assert_eq!(u(r, "/merged/count"), 2);
        assert!(r.get("shard_load").is_none());
        assert_eq!(r["thresholds"][0]["held"], true);
    }
    // The open level's whole rate was driven: 40/s over 1 s.
    assert!(u(&results[1], "/requests").abs_diff(40) <= 2, "{results:?}");
    assert!(merged.get("shard").is_none());
    assert_eq!(u(&merged, "/merged/count"), 2);
    let md = std::fs::read_to_string(md).unwrap();
    assert!(md.contains("Merged from 2 of 2 shards"), "{md}");
    // The merged suite renders with `report` too.
    let json = dir.path().join("merged.json");
    let drawn = wsgiprobe_within(
        &["report", json.to_str().unwrap(), "--html", "-"],
        &[],
        Duration::from_secs(30),
    );
    assert!(drawn.status.success(), "{}", text(&drawn.stderr));
    let page = text(&drawn.stdout);
    assert!(page.contains("merged from 2 of 2 shards"), "{page}");
}

#[test]
fn a_sustainable_search_cannot_be_sharded() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("search.toml");
    std::fs::write(
        &file,
        SUITE.replace(
            "repeats = 1",
            "repeats = 1\nsustainable = { p99 = \"100ms\" }",
        ),
    )
    .unwrap();
    let out = wsgiprobe_within(
        &[
            "suite",
            file.to_str().unwrap(),
            "--shard",
            "0/2",
            "--dry-run",
        ],
        &[],
        Duration::from_secs(20),
    );
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("load.sustainable") && err.contains("drop `sustainable`"),
        "{err}"
    );
}

/// The documents of deploy/kubernetes/bench-job.yaml, as JSON values.
fn manifests() -> Vec<Value> {
    use serde::Deserialize;
    let path = root().join("deploy/kubernetes/bench-job.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    serde_yaml_ng::Deserializer::from_str(&text)
        .map(|doc| Value::deserialize(doc).expect("each document is YAML"))
        .filter(|v| !v.is_null())
        .collect()
}

fn manifest<'a>(docs: &'a [Value], kind: &str, name: &str) -> &'a Value {
    docs.iter()
        .find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name}"))
}

/// The one script a container runs (`sh -c SCRIPT`).
fn script(container: &Value) -> String {
    assert_eq!(container["command"], serde_json::json!(["sh", "-c"]));
    container["args"][0].as_str().unwrap().to_string()
}

/// The Jobs have what an Indexed Job of shards and its merge need, and
/// their scripts, run for real (at a small scale, against nginx, with the
/// volume a folder here), produce the shards' reports and the merge.
#[test]
fn the_kubernetes_jobs_shard_by_completion_index_and_merge() {
    let docs = manifests();
    let plan = &manifest(&docs, "ConfigMap", "wsgiprobe-plan")["data"];
    let shards: u64 = plan["SHARDS"].as_str().unwrap().parse().unwrap();
    let pvc = manifest(&docs, "PersistentVolumeClaim", "wsgiprobe-results");
    assert_eq!(
        pvc["spec"]["accessModes"],
        serde_json::json!(["ReadWriteMany"])
    );

    let bench = manifest(&docs, "Job", "wsgiprobe-bench");
    let spec = &bench["spec"];
    assert_eq!(spec["completionMode"], "Indexed");
    assert_eq!(u(spec, "/completions"), shards);
    assert_eq!(u(spec, "/parallelism"), shards);
    assert_eq!(u(spec, "/backoffLimit"), 0);
    let merge_job = manifest(&docs, "Job", "wsgiprobe-merge");
    for job in [bench, merge_job] {
        let pod = &job["spec"]["template"]["spec"];
        assert_eq!(pod["restartPolicy"], "Never");
        assert_eq!(
            pod["volumes"][0]["persistentVolumeClaim"]["claimName"],
            pvc["metadata"]["name"]
        );
        let containers = pod["containers"]
            .as_array()
            .unwrap()
            .iter()
            .chain(pod["initContainers"].as_array().into_iter().flatten());
        for c in containers {
            assert_eq!(c["volumeMounts"][0]["mountPath"], "/results");
            assert_eq!(c["envFrom"][0]["configMapRef"]["name"], "wsgiprobe-plan");
        }
    }
    let shard = &spec["template"]["spec"]["containers"][0];
    let index = shard["env"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "SHARD")
        .expect("SHARD in the env");
    assert_eq!(
        index["valueFrom"]["fieldRef"]["fieldPath"],
        "metadata.annotations['batch.kubernetes.io/job-completion-index']"
    );
    let shard_script = script(shard);
    for flag in [
        "--shard \"$SHARD/$SHARDS\"",
        "--start-at \"$START_AT\"",
        "--json ",
    ] {
        assert!(shard_script.contains(flag), "{flag}: {shard_script}");
    }
    let merge_pod = &merge_job["spec"]["template"]["spec"];
    let wait_script = script(&merge_pod["initContainers"][0]);
    let merge_script = script(&merge_pod["containers"][0]);
    assert!(merge_script.contains("wsgiprobe merge"), "{merge_script}");

    // The scripts, run as the pods would run them: two shards at once,
    // then the wait and the merge.
    let server = nginx();
    let dir = tempfile::tempdir().unwrap();
    let results = dir.path().display().to_string();
    let local = |s: &str| s.replace("/results", &results);
    let bin_dir = Path::new(bin()).parent().unwrap().display().to_string();
    let path = format!("{bin_dir}:{}", std::env::var("PATH").unwrap_or_default());
    let at = start_at(3);
    let env: Vec<(String, String)> = [
        ("TARGET_URL", server.url.as_str()),
        ("RATE", "100"),
        ("CONNECTIONS", "4"),
        ("DURATION", "1s"),
        ("WARMUP", "200ms"),
        ("SHARDS", "2"),
        ("START_AT", at.as_str()),
        ("THRESHOLD", "errors==0"),
        ("PATH", path.as_str()),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let sh = |script: &str, extra: &[(&str, &str)]| {
        let mut child = Command::new("sh")
            .args(["-c", &local(script)])
            .envs(env.iter().map(|(k, v)| (k, v)))
            .envs(extra.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::spawn(move || wait_child(&mut child, Duration::from_secs(60)))
    };
    let running: Vec<_> = ["0", "1"]
        .iter()
        .map(|i| sh(&shard_script, &[("SHARD", i)]))
        .collect();
    for r in running {
        assert_eq!(r.join().unwrap(), Some(0), "a shard's script failed");
    }
    assert_eq!(sh(&wait_script, &[]).join().unwrap(), Some(0));
    assert_eq!(sh(&merge_script, &[]).join().unwrap(), Some(0));
    let out = dir.path().join(format!("run-{}", at.replace(':', "-")));
    let merged = read(&out.join("merged.json"));
    assert_eq!(u(&merged, "/merged/count"), 2);
    assert_eq!(f(&merged, "/plan/rate"), 100.0);
    assert!(out.join("merged.hlog").exists());
    let page = std::fs::read_to_string(out.join("merged.html")).unwrap();
    assert!(page.contains("Merged from 2 of 2 shards"));
    assert!(out.join("shard-1.hlog").exists());
}
