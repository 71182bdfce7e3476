//! Fixed reports for the renderer snapshots: real cases from the built-in
//! specs with made-up verdicts, a fixed stack and fixed times, so every
//! renderer's exact output can be pinned.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use wsgiprobe::conformance::{quirk_stage, quirks, CaseResult, Outcome, Verdict, VerdictRules};
use wsgiprobe::gateway::Stack;
use wsgiprobe::report::{CheckReport, MatrixReport, StackRun, ToolInfo};
use wsgiprobe::spec;

/// 2026-11-29T04:33:38Z.
pub fn when() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_795_926_818)
}

/// The tool as the snapshots show it, whatever the crate's version.
pub fn tool() -> ToolInfo {
    ToolInfo {
        name: "wsgiprobe",
        version: "0.0.0-test",
    }
}

pub fn stack(gateway: &str, proxy: Option<&str>) -> Stack {
    let mut options = BTreeMap::new();
    options.insert("workers".to_string(), "1".to_string());
    let mut proxy_options = BTreeMap::new();
    if proxy.is_some() {
        proxy_options.insert("upstream_http".to_string(), "1.0".to_string());
    }
    Stack {
        gateway: gateway.into(),
        version: Some("27.0.1".into()),
        server_software: Some(format!("{gateway}/27.0.1")),
        python: Some("3.11.7".into()),
        command: Some(format!(
            "python -m {gateway} --bind 127.0.0.1:40001 wsgiprobe_app:app"
        )),
        options,
        proxy: proxy.unwrap_or("none").into(),
        proxy_version: proxy.map(|_| "1.22.1".into()),
        proxy_options,
        transport: "tcp".into(),
        target: "127.0.0.1:40001".into(),
        app: None,
        excuses: BTreeMap::new(),
    }
}

/// A result for the built-in case `id`.
pub fn result(id: &str, outcome: Outcome, expected: &str, actual: &str) -> CaseResult {
    let set = spec::load_builtin().expect("built-in specs load");
    let case = set
        .cases
        .into_iter()
        .find(|c| c.case.id == id)
        .unwrap_or_else(|| panic!("no built-in case {id}"));
    CaseResult {
        case,
        verdict: Verdict {
            outcome,
            expected: expected.into(),
            actual: actual.into(),
        },
        quirk: None,
        deployment: None,
        elapsed: Duration::from_millis(12),
        request: "GET / HTTP/1.1\r\nHost: 127.0.0.1:40001\r\n\r\n".into(),
        response_head: Some("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n".into()),
        timed_out: false,
    }
}

/// One of every outcome, and a declared quirk that met a warn.
pub fn check_report(gateway: &str, proxy: Option<&str>) -> CheckReport {
    let mut results = vec![
        result(
            "environ.request-method.extension",
            Outcome::Pass,
            "environ.REQUEST_METHOD equals \"PROPFIND\"",
            "environ.REQUEST_METHOD = \"PROPFIND\" (str)",
        ),
        result(
            "input.chunked.decoded",
            Outcome::Fail,
            "observation.data equals \"hello world\"",
            "observation.data = \"5\\r\\nhello\\r\\n6\\r\\n world\\r\\n0\\r\\n\\r\\n\"",
        ),
        result(
            "environ.content-type.absent-without-header",
            Outcome::Warn,
            "environ.CONTENT_TYPE empty or absent",
            "environ.CONTENT_TYPE = \"text/plain\" (str)",
        ),
        result(
            "response.headers.hop-by-hop-refused",
            Outcome::Warn,
            "status equals 500",
            "status = 200",
        ),
        result(
            "input.readlines.hint",
            Outcome::Skip,
            "precondition: observation.hint_supported equals true",
            "not applicable: observation.hint_supported = false",
        ),
        result(
            "environ.server-port.str",
            Outcome::Error,
            "environ.SERVER_PORT equals \"40001\"",
            "could not connect: connection refused",
        ),
    ];
    let mut stack = stack(gateway, proxy);
    stack.gateway = gateway.into();
    let set = spec::load_builtin().expect("built-in specs load");
    let known = set.cases.iter().map(|c| c.case.id.as_str()).collect();
    let quirks = quirks::builtin(&known).expect("built-in quirks load");
    let rules = VerdictRules::for_stack(&stack, None, &quirks);
    let mut quirks_applied = Vec::new();
    for r in &mut results {
        let (verdict, quirk) = quirk_stage(r.verdict.clone(), &r.case.case, &rules);
        r.verdict = verdict;
        r.quirk = quirk.clone();
        quirks_applied.extend(quirk);
    }
    CheckReport {
        tool: tool(),
        stack,
        started: when(),
        duration: Duration::from_millis(1234),
        strict: false,
        results,
        server_exited: None,
        validate: None,
        quirks_applied,
        expectations: None,
        stopped: None,
        interrupted: None,
        not_run: Vec::new(),
    }
}

/// Two stacks that ran and one that did not start. The second expected
/// another port and saw control characters, so each stack's expected and
/// actual must stay with that stack, escaped.
pub fn matrix_report() -> MatrixReport {
    let mut behind_nginx = check_report("waitress", Some("nginx"));
    for r in &mut behind_nginx.results {
        if r.case.case.id == "environ.server-port.str" {
            r.verdict.expected = "environ.SERVER_PORT equals \"40002\"".into();
            r.verdict.actual = "environ.SERVER_PORT = \"4|0\u{1b}[31m\" (str)".into();
        }
    }
    MatrixReport {
        tool: tool(),
        started: when(),
        strict: false,
        runs: vec![
            StackRun {
                label: "gunicorn".into(),
                result: Ok(check_report("gunicorn", None)),
            },
            StackRun {
                label: "waitress + nginx".into(),
                result: Ok(behind_nginx),
            },
            StackRun {
                label: "granian".into(),
                result: Err(
                    "granian is not importable from python3: No module named 'granian'".into(),
                ),
            },
        ],
    }
}

/// A closed-loop bench run against gunicorn with a known latency
/// distribution (1 ms to 20 ms), a few status errors and a fixed timeline.
pub fn bench_report(open: bool) -> wsgiprobe::report::BenchReport {
    use std::sync::Arc;
    use wsgiprobe::bench::stats::{ErrorKind, TimelinePoint};
    use wsgiprobe::bench::{Model, Plan, ResponseCheck, RunResult, Stop, Totals, Workload};

    let mut totals = Totals::default();
    for i in 0..10_000u64 {
        // 1 ms .. 20 ms, a long tail at the end.
        let us = 1_000 + (i * i) / 5_300;
        totals
            .corrected
            .record(us + if open { 2_000 } else { 0 })
            .unwrap();
        totals.uncorrected.record(us).unwrap();
    }
    totals.requests = 10_000;
    totals.ok = 9_990;
    for _ in 0..10 {
        totals.errors.add(ErrorKind::Status);
    }
    totals.first_error = Some("status: 500 Internal Server Error".into());
    totals.connections.opened = 64;
    totals.sent_total = 12_000;
    totals.bytes_read = 1_480_000;
    totals.cpu = Duration::from_millis(900);
    totals.busiest_thread = 0.45;
    if open {
        for _ in 0..10_000 {
            totals.sched_lag.record(40).unwrap();
        }
    }
    let timeline = (0..5)
        .map(|second| TimelinePoint {
            second,
            requests: 2_000,
            errors: 2,
            p50_us: 4_200,
            p99_us: 18_000,
            histogram: None,
        })
        .collect();
    // The measured window: 5 s, every request answered inside it, over the
    // 64 connections the warm-up opened.
    totals.responses_total = 12_000;
    totals.window.responses = 10_000;
    totals.window.sent = 10_000;
    totals.window.bytes_read = 1_480_000;
    totals.window.open_at_start = 64;
    for _ in 0..9_990 {
        totals.statuses.add(200, 1);
    }
    totals.statuses.add(500, 10);
    let result = RunResult {
        totals,
        measured: Duration::from_secs(5),
        threads: 1,
        timeline,
        interrupted: false,
        measure_start: when(),
    };
    let plan = Plan {
        model: if open {
            Model::Open { rate: 2_000.0 }
        } else {
            Model::Closed
        },
        connections: 64,
        threads: 1,
        stop: Stop::Duration(Duration::from_secs(5)),
        warmup: Duration::from_secs(2),
        timeout: Duration::from_secs(10),
        request: Arc::from(&b"GET / HTTP/1.1\r\n\r\n"[..]),
        check: ResponseCheck {
            body: None,
            sample_every: 16,
            status: None,
        },
        shard: None,
        start_at: None,
    };
    let mut report = wsgiprobe::report::BenchReport::new(
        stack("gunicorn", None),
        when(),
        Workload::Hello,
        plan,
        result,
        Duration::from_millis(950),
        0,
    );
    report.tool = tool();
    report
}

/// `report` compared with the expectations file `text` (named
/// `expect.toml`), as `check --expectations` does.
pub fn with_expectations(
    mut report: CheckReport,
    label: &str,
    text: &str,
    strict: bool,
) -> CheckReport {
    let file = wsgiprobe::expectations::ExpectationsFile::parse("expect.toml", text)
        .expect("fixture expectations parse");
    let set = spec::load_builtin().expect("built-in specs load");
    let known = set.cases.iter().map(|c| c.case.id.as_str()).collect();
    report.expectations = Some(wsgiprobe::expectations::Delta::compare(
        &file,
        label,
        true,
        &report.results,
        &known,
        strict,
    ));
    report
}

/// Expectations for `check_report`: the fail expected, the warn expected
/// to pass (broken), the quirk expected to warn (changed), the pass
/// expected to fail (fixed), the skip missing (new), the error expected to
/// pass (undecided), and an entry for a case that does not exist (stale).
pub const EXPECTATIONS: &str = r#"
[stack."gunicorn"]
"environ.request-method.extension" = "fail"
"input.chunked.decoded" = "fail"
"environ.content-type.absent-without-header" = "pass"
"response.headers.hop-by-hop-refused" = "warn"
"environ.server-port.str" = "pass"
"environ.no-longer-a-case" = "warn"
"#;

/// A closed-loop bench run in which every request failed: each response
/// was garbage, read and refused within microseconds, and the client
/// dropped each connection after its error.
pub fn bench_report_every_request_failed() -> wsgiprobe::report::BenchReport {
    use std::sync::Arc;
    use wsgiprobe::bench::stats::ErrorKind;
    use wsgiprobe::bench::{Model, Plan, ResponseCheck, RunResult, Stop, Totals, Workload};

    let mut totals = Totals::default();
    for i in 0..100u64 {
        totals.corrected.record(20 + i % 7).unwrap();
        totals.uncorrected.record(20 + i % 7).unwrap();
        totals.errors.add(ErrorKind::Parse);
    }
    totals.requests = 100;
    totals.first_error = Some(
        "parse: malformed response: the response head is not HTTP/1.x (invalid HTTP version); it starts \"garbage\\r\\n\"".into(),
    );
    totals.connections.opened = 100;
    totals.connections.closed_by_client = 100;
    totals.sent_total = 100;
    totals.bytes_read = 900;
    totals.cpu = Duration::from_millis(20);
    totals.busiest_thread = 0.05;
    // In the window: 100 requests sent on 100 connections the client
    // opened and dropped, no response read whole.
    totals.window.sent = 100;
    totals.window.bytes_read = 900;
    totals.window.connections.opened = 100;
    totals.window.connections.closed_by_client = 100;
    let result = RunResult {
        totals,
        measured: Duration::from_secs(1),
        threads: 1,
        timeline: Vec::new(),
        interrupted: false,
        measure_start: when(),
    };
    let plan = Plan {
        model: Model::Closed,
        connections: 4,
        threads: 1,
        stop: Stop::Duration(Duration::from_secs(1)),
        warmup: Duration::ZERO,
        timeout: Duration::from_secs(1),
        request: Arc::from(&b"GET / HTTP/1.1\r\n\r\n"[..]),
        check: ResponseCheck {
            body: None,
            sample_every: 16,
            status: None,
        },
        shard: None,
        start_at: None,
    };
    let mut report = wsgiprobe::report::BenchReport::new(
        stack("url", None),
        when(),
        Workload::Get,
        plan,
        result,
        Duration::from_millis(25),
        0,
    );
    report.tool = tool();
    report
}

/// A suite of two stacks, one workload, a closed and an open level, three
/// repeats, a sustainable search and a stack that failed: every part of the
/// suite renderers, with fixed figures.
pub fn suite_report(finished: bool) -> wsgiprobe::report::SuiteReport {
    use wsgiprobe::bench::stats::Percentiles;
    use wsgiprobe::report::{
        Environment, LevelResult, LevelSpec, ProbeResult, ServerCost, Slo, StackFailure,
        SuiteReport, SuiteSetup, SuiteTiming, SustainableResult,
    };

    let bench = bench_report(false);
    let levels = [
        LevelSpec {
            model: "closed",
            connections: 16,
            rate: None,
        },
        LevelSpec {
            model: "open",
            connections: 64,
            rate: Some(500.0),
        },
    ];
    let stacks = ["gunicorn w2", "waitress t4"];
    let mut results = Vec::new();
    for repeat in 1..=3u32 {
        for (s, stack) in stacks.iter().enumerate() {
            for (l, level) in levels.iter().enumerate() {
                let mut r = LevelResult::from_bench(
                    stack,
                    "hello",
                    *level,
                    repeat,
                    &bench,
                    Some(ServerCost {
                        cpu_s: 1.5 + s as f64,
                        rss_max_bytes: (40 + 10 * s as u64) << 20,
                        processes: 3,
                        samples: 50,
                    }),
                );
                let base = if l == 0 { 2000.0 } else { 500.0 };
                r.requests_per_sec = base / (1.0 + s as f64) + f64::from(repeat) * 10.0;
                r.latency.p99 = 10_000 * (1 + s as u64) + u64::from(repeat) * 100;
                r.generator.bottleneck = s == 1 && l == 0 && repeat == 2;
                r.thresholds = vec![wsgiprobe::bench::Checked {
                    threshold: "p99<15ms".parse().unwrap(),
                    measured: Some(r.latency.p99 as f64),
                    held: r.latency.p99 < 15_000,
                }];
                results.push(r);
            }
        }
    }
    let slo = Slo {
        latency_us: BTreeMap::from([("p99".to_string(), 100_000)]),
        errors: 0,
        min_throughput: 0.97,
    };
    let probe = |phase, rate: f64, holds| ProbeResult {
        phase,
        rate,
        requests_per_sec: rate,
        latency_us: Percentiles {
            p99: if holds { 20_000 } else { 400_000 },
            ..Percentiles::default()
        },
        errors: 0,
        holds,
        broken: if holds {
            Vec::new()
        } else {
            vec!["p99 400000 µs > 100000 µs".into()]
        },
        generator_bottleneck: false,
    };
    let sustainable = vec![SustainableResult {
        stack: "gunicorn w2".into(),
        workload: "hello".into(),
        rate: Some(1_875.0),
        slo: slo.clone(),
        bracket: Some((1_875.0, 1_937.5)),
        converged: true,
        probes_after_bracket: 4,
        probes: vec![
            probe("bracket", 2_000.0, false),
            probe("bracket", 1_000.0, true),
            probe("bisect", 1_500.0, true),
            probe("bisect", 1_750.0, true),
            probe("bisect", 1_875.0, true),
            probe("bisect", 1_937.5, false),
        ],
        note: None,
    }];
    let mut environment = Environment {
        cpu_model: Some("Test CPU @ 3.0GHz".into()),
        cores: 2,
        kernel: Some("Linux 6.1.0".into()),
        python: Some("3.11.7".into()),
        nginx: None,
        wsgiprobe: "0.0.0-test".into(),
        date: "2026-11-29T04:33:38Z".into(),
        suite_file: "suites/test.toml".into(),
        suite_text: "title = \"test\"\n".into(),
        ..Environment::default()
    };
    environment
        .stacks
        .insert("gunicorn w2".into(), stack("gunicorn", None));
    SuiteReport {
        tool: tool(),
        setup: SuiteSetup {
            title: "test suite".into(),
            notes: Some(
                "Two cores, shared with the load generator.\n\n- `waitress t4` queues past four connections.\n- <b>markup</b> stays text on the HTML page."
                    .into(),
            ),
            stacks: vec!["gunicorn w2".into(), "waitress t4".into(), "nosuch".into()],
            workloads: vec![("hello".into(), "--workload hello".into())],
            thresholds: BTreeMap::from([("hello".to_string(), vec!["p99<15ms".to_string()])]),
            levels: levels.to_vec(),
            duration_s: 5.0,
            warmup_s: 2.0,
            repeats: 3,
            sustainable: Some(slo),
        },
        started: when(),
        finished,
        results,
        sustainable,
        failures: vec![StackFailure {
            stack: "nosuch".into(),
            workload: "hello".into(),
            repeat: None,
            level: None,
            phase: "start",
            message: "the server exited (server: exit code 3) before it served the probe".into(),
            log_tail: "Traceback (most recent call last):\nImportError: nosuch".into(),
        }],
        environment,
        timing: SuiteTiming {
            wall_s: 100.0,
            measured_s: 60.0,
            warmup_s: 24.0,
            start_stop_s: 10.0,
            health_s: 1.0,
            overhead_s: 5.0,
        },
        sharding: Default::default(),
    }
}

/// A suite report as the suite command writes it (DESIGN's suite JSON
/// contract): three stacks, a closed-loop sweep and an open-loop level,
/// two repeats, server costs, per-second timelines, the sustainable rates
/// and a stack that died. Latencies grow with the level and differ by
/// stack, so every curve has a shape.
pub fn suite_json() -> serde_json::Value {
    use serde_json::json;
    use wsgiprobe::bench::stats::{encode, latency_histogram, Percentiles};

    let stacks = ["gunicorn w2", "uwsgi w2 + nginx-uwsgi", "waitress"];
    let levels: [(&str, &str, u64, Option<f64>); 5] = [
        ("c1", "closed", 1, None),
        ("c16", "closed", 16, None),
        ("c64", "closed", 64, None),
        ("r500", "open", 64, Some(500.0)),
        ("r1000", "open", 64, Some(1000.0)),
    ];
    let mut results = Vec::new();
    for workload in ["hello", "io-10ms"] {
        for (s, stack) in stacks.iter().enumerate() {
            for (l, (label, model, connections, rate)) in levels.iter().enumerate() {
                for repeat in 1..=2u64 {
                    let base = if workload == "hello" { 400 } else { 10_400 };
                    let scale = (1 + s as u64) * (1 + l as u64);
                    let mut h = latency_histogram();
                    for i in 0..2_000u64 {
                        h.record(base * scale + (i * i) / 400 * scale + repeat * 10)
                            .unwrap();
                    }
                    let p = Percentiles::of(&h);
                    let rps = match rate {
                        Some(r) => r * (0.97 - 0.02 * s as f64),
                        None => {
                            *connections as f64 * 1e6 / p.mean / (1.0 + (s as f64) * 0.3)
                                + repeat as f64 * 7.0
                        }
                    };
                    let timeline: Vec<_> = (0..5)
                        .map(|sec| {
                            json!({"second": sec, "requests": (rps * (0.9 + 0.04 * sec as f64)) as u64,
                                   "errors": 0, "p50_us": p.p50 + sec * 20, "p99_us": p.p99 + sec * 90})
                        })
                        .collect();
                    results.push(json!({
                        "stack": stack, "workload": workload, "level": label,
                        "level_spec": {"model": model, "connections": connections, "rate": rate},
                        "repeat": repeat, "requests": 2_000, "errors": 0, "valid": true,
                        "measured_s": 5.0, "requests_per_sec": rps,
                        "latency_us": p, "latency_uncorrected_us": p,
                        "server": {"cpu_s": 0.4 * scale as f64, "rss_max_bytes": (40 + 20 * s as u64 + 2 * l as u64) << 20,
                                   "processes": 3, "samples": 50,
                                   "cpu_per_request_us": 200.0 * scale as f64},
                        "generator_bottleneck": false, "warnings": [],
                        "timeline": timeline,
                        "histogram": {"corrected": encode(&h), "uncorrected": encode(&h)},
                    }));
                }
            }
        }
    }
    let probes = json!([{"phase": "bracket", "rate": 400.0, "requests_per_sec": 399.0,
                         "latency_us": {"p99": 41_000}, "errors": 0, "holds": true, "broken": []}]);
    json!({
        "kind": "suite",
        "tool": {"name": "wsgiprobe", "version": "0.0.0-test"},
        "title": "WSGI servers, direct and behind nginx",
        "started_unix": 1_795_926_818.0,
        "finished": true,
        "setup": {"title": "WSGI servers", "stacks": stacks,
                  "workloads": [["hello", "--workload hello"], ["io-10ms", "--workload sleep --ms 10"]],
                  "levels": levels.iter().map(|(_, model, connections, rate)| json!(
                      {"model": model, "connections": connections, "rate": rate})).collect::<Vec<_>>(),
                  "duration_s": 5.0, "warmup_s": 1.0, "repeats": 2},
        "results": results,
        "sustainable": stacks.iter().enumerate().map(|(s, stack)| json!({
            "stack": stack, "workload": "io-10ms",
            "rate": if s == 2 { None } else { Some(420.0 / (s + 1) as f64) },
            "slo": {"latency_us": {"p99": 100_000}, "errors": 0, "min_throughput": 0.95},
            "bracket": [400.0, 440.0], "converged": true, "probes_after_bracket": 4, "probes": probes,
        })).collect::<Vec<_>>(),
        "failures": [{"stack": "granian", "workload": "hello", "repeat": 1, "level": "c64",
                      "phase": "died", "message": "the server exited (killed by signal 9)", "log_tail": "..."}],
        "environment": {"cpu_model": "Test CPU @ 3.00GHz", "cores": 2, "kernel": "Linux 6.1.0",
                        "python": "3.11.7", "nginx": "1.22.1", "wsgiprobe": "0.0.0-test",
                        "date": "2026-11-29T04:33:38Z",
                        "stacks": {"waitress": stack("waitress", None)},
                        "suite_file": "suites/servers.toml", "suite_text": "title = \"WSGI servers\"\n"},
        "timing": {"wall_s": 130.0, "measured_s": 120.0, "overhead_ratio": 0.04},
    })
}

/// A comparison of two suite reports as `compare` writes it: one stack
/// faster, one slower beyond a limit, one unchanged.
pub fn compare_json() -> serde_json::Value {
    use serde_json::json;
    let metric = |m: &str, before: f64, after: f64, sig: bool, better: bool| {
        json!({"metric": m, "before": before, "after": after, "change": after / before - 1.0,
               "p": if sig { 0.01 } else { 0.6 }, "significant": sig,
               "better": if sig { Some(better) } else { None }})
    };
    json!({
        "kind": "compare",
        "before": "before/report.json",
        "after": "after/report.json",
        "test": "Mann-Whitney U, two-sided",
        "alpha": 0.05,
        "rows": [
            {"stack": "gunicorn", "workload": "hello", "level": "c16", "n_before": 5, "n_after": 5,
             "samples": "repeats", "verdict": "faster",
             "metrics": [metric("rps", 3000.0, 3600.0, true, true), metric("p50", 5000.0, 4200.0, true, true),
                         metric("p99", 9000.0, 8000.0, true, true)]},
            {"stack": "waitress", "workload": "hello", "level": "c16", "n_before": 5, "n_after": 5,
             "samples": "repeats", "verdict": "slower",
             "metrics": [metric("rps", 2000.0, 1500.0, true, false), metric("p50", 7000.0, 9000.0, true, false),
                         metric("p99", 12000.0, 19000.0, true, false)]},
            {"stack": "uwsgi", "workload": "hello", "level": "c16", "n_before": 5, "n_after": 5,
             "samples": "repeats", "verdict": "no significant difference",
             "metrics": [metric("rps", 2500.0, 2520.0, false, true), metric("p50", 6000.0, 6010.0, false, true),
                         metric("p99", 11000.0, 10800.0, false, true)]},
        ],
        "only_before": ["granian · hello · c16"],
        "only_after": [],
        "limits": ["p99:+10%", "rps:-5%"],
        "broken": [{"stack": "waitress", "workload": "hello", "level": "c16", "limit": "p99:+10%",
                    "change": 0.58, "p": 0.01}],
        "notes": ["5 repeats a side: the smallest p the test can give is 0.008."],
    })
}

/// A stack behind nginx-tls with a security finding (a forged
/// X-Forwarded-For believed) and a finding a deployment setting explains.
pub fn deploy_report() -> CheckReport {
    let spoofed = result(
        "deploy.remote-addr.spoofed",
        Outcome::Fail,
        "environ.REMOTE_ADDR not equal to \"203.0.113.7\"",
        "environ.REMOTE_ADDR = \"203.0.113.7\" (str)",
    );
    let mut scheme = result(
        "deploy.tls.url-scheme",
        Outcome::Warn,
        "environ.wsgi.url_scheme equals \"https\"",
        "environ.wsgi.url_scheme = \"http\" (str); deployment setting trust-scheme: waitress was not told to trust the proxy's X-Forwarded-Proto: `--trusted-proxy=127.0.0.1` fixes it (wsgiprobe --trust-proxy)",
    );
    scheme.deployment = Some(
        "waitress was not told to trust the proxy's X-Forwarded-Proto: `--trusted-proxy=127.0.0.1` fixes it (wsgiprobe --trust-proxy)".into(),
    );
    let passed = result(
        "deploy.host.http-host",
        Outcome::Pass,
        "environ.HTTP_HOST equals \"wsgiprobe.test:40001\"",
        "environ.HTTP_HOST = \"wsgiprobe.test:40001\" (str)",
    );
    let mut stack = stack("waitress", Some("nginx-tls"));
    stack.target = "https://127.0.0.1:40001/".into();
    CheckReport {
        tool: tool(),
        stack,
        started: when(),
        duration: Duration::from_millis(1234),
        strict: false,
        results: vec![scheme, spoofed, passed],
        server_exited: None,
        validate: None,
        quirks_applied: Vec::new(),
        expectations: None,
        stopped: None,
        interrupted: None,
        not_run: Vec::new(),
    }
}

/// A differential run over three requests of the built-in corpus and
/// three stacks: an agreement, a disagreement, and a request the third
/// stack (behind nginx) hands on hidden in another (smuggling).
pub fn differential_report() -> wsgiprobe::report::DifferentialReport {
    use wsgiprobe::differential::{corpus, escape_bytes, Reaction, Seen};
    use wsgiprobe::report::{DiffStack, DifferentialReport};

    let all = corpus::builtin();
    let entries: Vec<_> = ["baseline.get", "header.obs-fold", "cl.get-body-smuggle"]
        .iter()
        .map(|id| all.iter().find(|e| e.id == *id).unwrap().clone())
        .collect();
    let seen = |path: &str, fields: &[(&str, &str)], body: &str, request: usize| Seen {
        request,
        method: Some("GET".into()),
        path: Some(path.into()),
        query: Some(String::new()),
        fields: fields
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        body: Some(body.into()),
        body_length: Some(body.len() as u64),
        body_error: None,
    };
    let answered = |seen: Vec<Seen>, statuses: &[u16], ended: &str| Reaction {
        answered_by_app: seen.len().min(statuses.len()),
        responses: statuses.to_vec(),
        ended: ended.into(),
        seen,
        error: None,
    };
    let refused = Reaction {
        responses: vec![400],
        ended: "closed".into(),
        ..Reaction::default()
    };
    let get = seen("/diff/get", &[], "", 1);
    let body = "GET /diff/smuggled HTTP/1.1\r\nHost: {host}\r\n{probe2}\r\n";
    let reactions = |fold: Reaction, smuggle: Reaction| {
        vec![answered(vec![get.clone()], &[200], "closed"), fold, smuggle]
    };
    let cl0 = || answered(vec![seen("/diff/cl0", &[], body, 1)], &[200], "silent");
    let stacks = vec![
        DiffStack {
            label: "gunicorn".into(),
            behind_proxy: false,
            result: Ok((stack("gunicorn", None), reactions(refused.clone(), cl0()))),
        },
        DiffStack {
            label: "waitress".into(),
            behind_proxy: false,
            result: Ok((
                stack("waitress", None),
                reactions(
                    answered(
                        vec![seen(
                            "/diff/fold",
                            &[("HTTP_X_FOLDED", "first second")],
                            "",
                            1,
                        )],
                        &[200],
                        "closed",
                    ),
                    cl0(),
                ),
            )),
        },
        DiffStack {
            label: "broken + nginx keepalive".into(),
            behind_proxy: true,
            result: Ok((
                stack("broken", Some("nginx")),
                reactions(
                    refused,
                    answered(
                        vec![
                            seen("/diff/cl0", &[], "", 1),
                            seen("/diff/smuggled", &[], "", 2),
                        ],
                        &[200],
                        "silent",
                    ),
                ),
            )),
        },
    ];
    DifferentialReport {
        tool: tool(),
        started: when(),
        shown_bytes: entries
            .iter()
            .map(|e| escape_bytes(&wsgiprobe::http::latin1_bytes(&e.raw).unwrap()))
            .collect(),
        entries,
        stacks,
    }
}
