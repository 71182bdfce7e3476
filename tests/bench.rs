//! `wsgiprobe bench` against real local servers: the stall server
//! (src/bin/stall_server.rs) for exact counts, errors, rate and latency
//! accuracy, and the probe app under gunicorn for workload bodies.
//!
//! Every child has a deadline and is killed on drop, so nothing hangs or
//! lingers.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

/// A child process killed (with its stdout reader) when dropped.
struct Server {
    child: Child,
    url: String,
    addr: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn stall_server(args: &[&str]) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_stall_server"))
        .args(args)
        .args(["--max-seconds", "120"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start stall_server");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = match rx.recv_timeout(Duration::from_secs(10)) {
        Ok(l) => l,
        Err(_) => {
            let _ = child.kill();
            panic!("stall_server did not start");
        }
    };
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .expect("listening line")
        .to_string();
    let addr = url
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();
    Server { child, url, addr }
}

/// Requests the stall server has seen (besides this one).
fn server_count(s: &Server) -> u64 {
    let mut c = TcpStream::connect(&s.addr).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    c.write_all(b"GET /_count HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut buf = Vec::new();
    // The server keeps the connection open: read until the body is in.
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut chunk = [0u8; 256];
    loop {
        let n = c.read(&mut chunk).unwrap_or(0);
        buf.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&buf).to_string();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("Content-Length: "))
                .unwrap()
                .parse()
                .unwrap();
            if body.len() >= len {
                return body[..len].parse().unwrap();
            }
        }
        assert!(
            n > 0 && Instant::now() < deadline,
            "no count from the server"
        );
    }
}

/// Runs `wsgiprobe bench ARGS --json FILE` with a deadline; (exit code, report, output).
fn bench(args: &[&str], limit: Duration) -> (i32, Value, String) {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("bench.json");
    let mut all = vec!["bench"];
    all.extend_from_slice(args);
    all.extend(["--json", json.to_str().unwrap()]);
    let out = wsgiprobe_within(&all, &[], limit);
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

fn u(v: &Value, path: &str) -> u64 {
    v.pointer(path)
        .and_then(Value::as_u64)
        .unwrap_or_else(|| panic!("no {path} in {v:#}"))
}

fn f(v: &Value, path: &str) -> f64 {
    v.pointer(path)
        .and_then(Value::as_f64)
        .unwrap_or_else(|| panic!("no {path} in {v:#}"))
}

#[test]
fn a_counted_run_sends_exactly_n_requests() {
    let s = stall_server(&[]);
    let (code, r, out) = bench(
        &["--url", &s.url, "-n", "5000", "-c", "16", "--warmup", "0s"],
        Duration::from_secs(30),
    );
    assert_eq!(code, 0, "{out}");
    assert_eq!(u(&r, "/requests"), 5000);
    assert_eq!(u(&r, "/ok"), 5000);
    // One more: the validation request before the run.
    assert_eq!(server_count(&s), 5001);
    let hist = r["histogram"]["corrected"].as_str().unwrap();
    assert!(hist.len() > 20, "the histogram is serialized");
    for key in ["p50", "p90", "p95", "p99", "p99.9", "max"] {
        assert!(r["latency_us"][key].as_u64().unwrap() > 0, "{key}");
    }
    // A keep-alive server: 16 connections carry the whole run.
    assert!(u(&r, "/connections/opened") <= 17, "{:#}", r["connections"]);
}

#[test]
fn errors_are_counted_by_kind_and_make_the_run_invalid() {
    // Requests are numbered from 1 (the validation request), so of the 1000
    // measured (2..=1001) every 10th is a 500: exactly 100.
    let s = stall_server(&["--fail-every", "10"]);
    let (code, r, out) = bench(
        &["--url", &s.url, "-n", "1000", "-c", "4", "--warmup", "0s"],
        Duration::from_secs(30),
    );
    assert_eq!(code, 1, "{out}");
    assert_eq!(u(&r, "/errors/by_kind/status"), 100, "{:#}", r["errors"]);
    assert_eq!(u(&r, "/errors/total"), 100);
    assert_eq!(r["valid"], Value::Bool(false));
    assert!(out.contains("INVALID RUN"), "{out}");

    let (code, r, out) = bench(
        &[
            "--url",
            &s.url,
            "-n",
            "1000",
            "-c",
            "4",
            "--warmup",
            "0s",
            "--allow-errors",
            "100",
        ],
        Duration::from_secs(30),
    );
    assert_eq!(code, 0, "{out}");
    assert_eq!(r["valid"], Value::Bool(true));

    // Cut responses: the connection closes mid-body, every 7th request.
    let s = stall_server(&["--cut-every", "7"]);
    let (code, r, out) = bench(
        &["--url", &s.url, "-n", "1000", "-c", "4", "--warmup", "0s"],
        Duration::from_secs(30),
    );
    assert_eq!(code, 1, "{out}");
    let seen = server_count(&s);
    assert_eq!(seen, 1001, "no request was sent twice");
    assert_eq!(
        u(&r, "/errors/by_kind/closed"),
        1001 / 7,
        "{:#}",
        r["errors"]
    );
    assert_eq!(u(&r, "/requests"), 1000);
    assert!(u(&r, "/connections/opened") >= 1001 / 7);
}

#[test]
fn connection_refused_is_an_error_not_a_hang() {
    // Bind and drop a listener: nothing serves that port.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}/");
    let (code, _, out) = bench(&["--url", &url, "-d", "1s"], Duration::from_secs(20));
    assert_eq!(code, 2, "the validation request fails first: {out}");
    assert!(out.contains("does not answer as it should"), "{out}");
}

#[test]
fn the_open_model_holds_its_rate() {
    let s = stall_server(&[]);
    let (code, r, out) = bench(
        &[
            "--url", &s.url, "--rate", "1000", "-d", "3s", "--warmup", "500ms", "-c", "16",
        ],
        Duration::from_secs(30),
    );
    assert_eq!(code, 0, "{out}");
    let n = u(&r, "/requests") as f64;
    assert!(
        (n - 3000.0).abs() <= 30.0,
        "{n} requests, expected 3000 ± 1%"
    );
    let rate = f(&r, "/requests_per_sec");
    assert!((rate - 1000.0).abs() <= 10.0, "{rate} req/s");
    let timeline = r["timeline"].as_array().unwrap();
    assert!(timeline.len() >= 3, "{timeline:?}");
    for p in &timeline[..3] {
        let per_second = p["requests"].as_u64().unwrap();
        assert!((950..=1050).contains(&per_second), "{p}");
    }
    assert_eq!(r["plan"]["model"], "open");
}

#[test]
fn a_stall_is_measured_from_the_intended_send_time() {
    // 1000 req/s for 4 s; every request arriving in second 1..2 is held until
    // second 2. 1000 of 4000 requests wait 1 s down to 0 s, uniformly: the
    // slowest 1% (40) waited more than 1 - 40/1000 = 0.96 s and the slowest
    // 10% (400) more than 0.6 s (docs/bench.md).
    let s = stall_server(&["--stall-after", "1", "--stall-for", "1"]);
    let (code, r, out) = bench(
        &[
            "--url", &s.url, "--rate", "1000", "-d", "4s", "--warmup", "0s", "-c", "32",
        ],
        Duration::from_secs(30),
    );
    assert_eq!(code, 0, "{out}");
    let p99 = f(&r, "/latency_us/p99") / 1e6;
    let p90 = f(&r, "/latency_us/p90") / 1e6;
    assert!(
        (p99 - 0.96).abs() <= 0.96 * 0.05,
        "p99 {p99} s, expected 0.96 s"
    );
    assert!(
        (p90 - 0.6).abs() <= 0.6 * 0.15,
        "p90 {p90} s, expected 0.6 s"
    );
    // 32 connections: only the 32 requests in flight saw the stall from the
    // send; the rest waited in the generator, invisible to a closed-loop tool.
    let service_p99 = f(&r, "/latency_uncorrected_us/p99") / 1e6;
    assert!(service_p99 < 0.1, "service time p99 {service_p99} s");
    assert!(u(&r, "/generator/max_backlog") > 500);
}

#[test]
fn gunicorn_workloads_answer_the_right_bodies() {
    let py = python();
    let (code, r, out) = bench(
        &[
            "--server",
            "gunicorn",
            "--python",
            &py,
            "--workload",
            "hello",
            "-n",
            "300",
            "-c",
            "4",
            "--warmup",
            "0s",
            "--sample-bodies",
            "1",
        ],
        Duration::from_secs(60),
    );
    assert_eq!(code, 0, "{out}");
    assert_eq!(u(&r, "/ok"), 300);
    assert_eq!(r["stack"]["gateway"], "gunicorn");
    // The sync worker closes every connection: the report says so.
    assert!(u(&r, "/connections/opened") >= 300);
    assert!(
        r["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w.as_str().unwrap().contains("connection set-up")),
        "{:#}",
        r["warnings"]
    );

    let (code, r, out) = bench(
        &[
            "--server",
            "gunicorn",
            "--python",
            &py,
            "--workload",
            "echo",
            "--size",
            "4096",
            "-n",
            "200",
            "-c",
            "4",
            "--warmup",
            "0s",
            "--sample-bodies",
            "1",
        ],
        Duration::from_secs(60),
    );
    assert_eq!(code, 0, "{out}");
    assert_eq!(u(&r, "/ok"), 200);
    assert!(u(&r, "/bytes_read") > 200 * 4096);

    let (code, r, out) = bench(
        &[
            "--server",
            "gunicorn",
            "--python",
            &py,
            "--workload",
            "stream",
            "--chunks",
            "5",
            "--size",
            "100",
            "-n",
            "100",
            "-c",
            "2",
            "--warmup",
            "0s",
            "--sample-bodies",
            "1",
        ],
        Duration::from_secs(60),
    );
    assert_eq!(code, 0, "{out}");
    assert_eq!(u(&r, "/ok"), 100);
}

#[test]
fn a_workload_the_server_does_not_serve_stops_before_measuring() {
    // The stall server answers `ok\n`, not the probe's hello body.
    let s = stall_server(&[]);
    let (code, _, out) = bench(
        &["--url", &s.url, "--workload", "hello", "-d", "1s"],
        Duration::from_secs(30),
    );
    assert_eq!(code, 2, "{out}");
}

#[test]
fn timeouts_are_recorded_at_the_timeout_and_end_the_run() {
    // Everything after the first 0.2 s is held for 5 s: every measured
    // request times out at 300 ms.
    let s = stall_server(&["--stall-after", "0.2", "--stall-for", "5"]);
    let started = Instant::now();
    let (code, r, out) = bench(
        &[
            "--url",
            &s.url,
            "-d",
            "1s",
            "--warmup",
            "200ms",
            "-c",
            "4",
            "--timeout",
            "300ms",
        ],
        Duration::from_secs(30),
    );
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "the run waited too long"
    );
    assert_eq!(code, 1, "{out}");
    let timeouts = u(&r, "/errors/by_kind/timeout");
    assert!(timeouts >= 4, "{:#}", r["errors"]);
    assert_eq!(u(&r, "/errors/total"), timeouts);
    // Recorded at the timeout (3 significant digits; housekeeping runs every 10 ms).
    let max = u(&r, "/latency_us/max");
    assert!((299_000..=320_000).contains(&max), "max {max} µs");
    let p50 = u(&r, "/latency_us/p50");
    assert!(
        p50 >= 299_000,
        "p50 {p50} µs: timeouts must not vanish from the histogram"
    );
}

#[test]
fn every_finished_request_is_counted_once_and_recorded_once() {
    // Every 10th response is a 500, every 7th is cut short (the server
    // closes mid-body), and everything arriving between 0.6 s and 3 s is
    // held past the 250 ms timeout: one run with successes and errors of
    // three kinds, each of which must reach the histograms exactly once.
    let s = stall_server(&[
        "--fail-every",
        "10",
        "--cut-every",
        "7",
        "--stall-after",
        "0.6",
        "--stall-for",
        "2.4",
    ]);
    let (code, r, out) = bench(
        &[
            "--url",
            &s.url,
            "-d",
            "1s",
            "--warmup",
            "0s",
            "-c",
            "4",
            "--timeout",
            "250ms",
        ],
        Duration::from_secs(30),
    );
    assert_eq!(code, 1, "{out}");
    let requests = u(&r, "/requests");
    let ok = u(&r, "/ok");
    let errors = u(&r, "/errors/total");
    for kind in ["status", "closed", "timeout"] {
        assert!(
            u(&r, &format!("/errors/by_kind/{kind}")) > 0,
            "no {kind} error: {:#}",
            r["errors"]
        );
    }
    assert!(ok > 0, "no success: {r:#}");
    assert_eq!(ok + errors, requests, "{:#}", r["errors"]);
    assert_eq!(u(&r, "/latency_us/count"), requests, "corrected histogram");
    assert_eq!(
        u(&r, "/latency_uncorrected_us/count"),
        requests,
        "service-time histogram"
    );
    // The timeline is fed from the same record point.
    let timeline = r["timeline"].as_array().unwrap();
    let sum = |key: &str| -> u64 { timeline.iter().map(|p| p[key].as_u64().unwrap()).sum() };
    assert_eq!(sum("requests"), requests, "{timeline:?}");
    assert_eq!(sum("errors"), errors, "{timeline:?}");
}

#[test]
fn unsent_requests_are_requests_without_service_time_or_throughput() {
    // 500 req/s on 2 connections; after 0.3 s the server holds everything
    // past the 300 ms timeout, so due requests pile up in the generator and
    // those still waiting when the run gives up end as `unsent`.
    let s = stall_server(&["--stall-after", "0.3", "--stall-for", "5"]);
    let (code, r, out) = bench(
        &[
            "--url",
            &s.url,
            "--rate",
            "500",
            "-d",
            "1s",
            "--warmup",
            "0s",
            "-c",
            "2",
            "--timeout",
            "300ms",
        ],
        Duration::from_secs(30),
    );
    assert_eq!(code, 1, "{out}");
    let requests = u(&r, "/requests");
    let unsent = u(&r, "/errors/by_kind/unsent");
    assert!(unsent > 0, "{:#}", r["errors"]);
    assert!(u(&r, "/errors/by_kind/timeout") > 0, "{:#}", r["errors"]);
    assert!(u(&r, "/ok") > 0, "{r:#}");
    assert_eq!(u(&r, "/ok") + u(&r, "/errors/total"), requests);
    assert_eq!(u(&r, "/latency_us/count"), requests);
    assert_eq!(u(&r, "/latency_uncorrected_us/count"), requests - unsent);
    // Throughput is what was answered inside the window: neither the
    // requests that never went out nor those that went out and timed out.
    let answered = f(&r, "/requests_per_sec") * f(&r, "/measured_s");
    assert!(
        (answered - u(&r, "/responses_in_window") as f64).abs() < 0.5,
        "the rate counts {answered} responses: {r:#}"
    );
    assert!(
        answered <= (u(&r, "/ok") + 2) as f64 && answered > 0.0,
        "{answered} answered, {} ok",
        u(&r, "/ok")
    );
}

/// The open model against a stack that cannot keep up: the headline is
/// what it achieved, the offered rate stands beside it, and the shortfall
/// is said in words (`asked 400/s, achieved ...`). Every request here takes
/// 10 ms on gunicorn's one sync worker, so about 100 a second is all it can
/// do; the requests due meanwhile are still answered after the window ends
/// (within the timeout) and must not count.
#[test]
fn the_open_loop_headline_is_what_a_slow_stack_achieved() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("bench.json");
    let out = wsgiprobe_within(
        &[
            "bench",
            "--server",
            "gunicorn",
            "--workload",
            "sleep",
            "--ms",
            "10ms",
            "-R",
            "400",
            "-c",
            "8",
            "-d",
            "2s",
            "--warmup",
            "500ms",
            "--json",
            json.to_str().unwrap(),
        ],
        &[],
        Duration::from_secs(90),
    );
    let stdout = text(&out.stdout);
    let r: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let achieved = f(&r, "/requests_per_sec");
    assert!(
        achieved > 20.0 && achieved < 200.0,
        "{achieved} req/s from a stack that does about 100\n{stdout}"
    );
    assert_eq!(f(&r, "/offered_rate"), 400.0);
    assert_eq!(r["rate_held"], false, "{r:#}");
    // As the console writes it: one decimal below 100, unless whole.
    let shown = if achieved < 100.0 && achieved.fract() != 0.0 {
        format!("{achieved:.1}")
    } else {
        format!("{achieved:.0}")
    };
    let words = format!("asked 400/s, achieved {shown}/s: the stack did not keep up");
    assert!(stdout.contains(&words), "{words:?} not in\n{stdout}");
    // Connections are counted for the window alone: the warm-up's 8 were
    // open at its start and gunicorn's sync worker keeps none alive, so
    // about one per request answered, not the warm-up's on top.
    let opened = u(&r, "/connections/opened") as f64;
    let sent = achieved * f(&r, "/measured_s");
    assert!(
        opened <= sent * 1.2 + 10.0,
        "{opened} connections for {sent} requests"
    );
}

/// Memory grows with the connections used, not with `-c`: a counted run of
/// 20 requests opens a handful of its 100,000 connections, and no read
/// buffer is allocated for the others.
#[test]
fn connections_never_opened_cost_no_read_buffer() {
    let s = stall_server(&[]);
    let (out, peak) = wsgiprobe_measured(
        &[
            "bench", "--url", &s.url, "-c", "100000", "-n", "20", "--warmup", "0s",
        ],
        Duration::from_secs(60),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(peak.hwm_kib <= 64 * 1024, "{peak:?}");
    // The keep-alive warning counts closes the server made, and it made
    // none: one connection per request here is the client's doing.
    assert!(
        !text(&out.stdout).contains("closed the connection after"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn url_runs_check_the_status_and_body_asked_for() {
    let s = stall_server(&[]);
    let (code, r, out) = bench(
        &[
            "--url",
            &s.url,
            "-n",
            "200",
            "-c",
            "2",
            "--warmup",
            "0s",
            "--expect-status",
            "200",
            "--expect-body",
            "ok\n",
            "--sample-bodies",
            "1",
        ],
        Duration::from_secs(30),
    );
    assert_eq!(code, 0, "{out}");
    assert_eq!(u(&r, "/ok"), 200);
    for (flag, value, message) in [
        ("--expect-status", "201", "status 200"),
        ("--expect-body", "nope\n", "differs from the expected"),
    ] {
        let (code, _, out) = bench(
            &["--url", &s.url, "-n", "10", "--warmup", "0s", flag, value],
            Duration::from_secs(30),
        );
        assert_eq!(code, 2, "{flag}: {out}");
        assert!(out.contains(message), "{flag}: {out}");
    }
}
