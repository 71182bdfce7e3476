//! `wsgiprobe compare` on synthetic reports drawn from known
//! distributions: a real difference is found and breaks its limits; the
//! same inputs, or two draws from one distribution, are not flagged.

mod common;

use std::path::Path;
use std::time::Duration;

use common::*;
use serde_json::{json, Value};

/// A small deterministic generator (64-bit LCG) for reproducible noise.
struct Noise(u64);

impl Noise {
    /// Roughly normal around 0 with standard deviation 1 (sum of 12 uniforms - 6).
    fn normal(&mut self) -> f64 {
        (0..12)
            .map(|_| {
                self.0 = self
                    .0
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                (self.0 >> 11) as f64 / (1u64 << 53) as f64
            })
            .sum::<f64>()
            - 6.0
    }
}

/// A suite report: `repeats` results per level, rps ~ N(rps, 1%), p99 ~ N(p99, 2%).
fn suite_report(seed: u64, repeats: u32, rps: f64, p99_us: f64) -> Value {
    let mut noise = Noise(seed);
    let mut results = Vec::new();
    for level in ["c1", "c16"] {
        for repeat in 1..=repeats {
            let r = rps * (1.0 + 0.01 * noise.normal());
            let p99 = p99_us * (1.0 + 0.02 * noise.normal());
            results.push(json!({
                "stack": "gunicorn w2",
                "workload": "hello",
                "level": level,
                "repeat": repeat,
                "requests_per_sec": r,
                "latency_us": {"p50": p99 / 4.0, "p90": p99 / 2.0, "p95": p99 / 1.5, "p99": p99, "p99.9": p99 * 1.5, "max": p99 * 2.0},
                "server": {"cpu_s": 1.0, "rss_max_bytes": 1},
                "histogram": {},
            }));
        }
    }
    json!({"kind": "suite", "results": results, "sustainable": [], "environment": {}})
}

fn save(dir: &Path, name: &str, v: &Value) -> String {
    let p = dir.join(name);
    std::fs::write(&p, serde_json::to_string(v).unwrap()).unwrap();
    p.display().to_string()
}

/// Runs compare with a JSON report; returns exit code, the JSON and stdout.
fn compare(dir: &Path, a: &str, b: &str, extra: &[&str]) -> (i32, Value, String) {
    let json = dir.join("cmp.json");
    let mut args = vec!["compare", a, b, "--json", json.to_str().unwrap()];
    args.extend_from_slice(extra);
    let o = wsgiprobe_within(&args, &[], Duration::from_secs(30));
    let report = std::fs::read_to_string(&json)
        .map(|t| serde_json::from_str(&t).unwrap())
        .unwrap_or_else(|e| panic!("no JSON ({e}): {}", text(&o.stderr)));
    (o.status.code().unwrap_or(-1), report, text(&o.stdout))
}

fn verdicts(report: &Value) -> Vec<String> {
    report["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["verdict"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn a_real_slowdown_is_found_and_breaks_its_limits() {
    let dir = tempfile::tempdir().unwrap();
    let before = save(dir.path(), "a.json", &suite_report(1, 5, 1000.0, 10_000.0));
    // 10% fewer requests per second, p99 20% higher.
    let after = save(dir.path(), "b.json", &suite_report(2, 5, 900.0, 12_000.0));
    let (code, report, stdout) = compare(
        dir.path(),
        &before,
        &after,
        &["--fail-if", "p99:+10%,rps:-5%"],
    );
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(verdicts(&report), ["slower", "slower"]);
    let row = &report["rows"][0];
    let rps = row["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["metric"] == "rps")
        .unwrap();
    assert!(
        (rps["change"].as_f64().unwrap() + 0.10).abs() < 0.02,
        "{rps}"
    );
    assert!(
        rps["p"].as_f64().unwrap() < 0.01,
        "5 against 5, fully apart: {rps}"
    );
    let broken: Vec<&str> = report["broken"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["limit"].as_str().unwrap())
        .collect();
    assert_eq!(broken, ["p99:+10%", "rps:-5%", "p99:+10%", "rps:-5%"]);
    assert!(stdout.contains("limit broken: p99:+10%"), "{stdout}");

    // A limit the change stays within is not broken.
    let (code, report, _) = compare(dir.path(), &before, &after, &["--fail-if", "p99:+50%"]);
    assert_eq!(code, 0);
    assert!(report["broken"].as_array().unwrap().is_empty());

    // Markdown for a pull request: the verdict first, the limits named.
    let md = dir.path().join("pr.md");
    let o = wsgiprobe_within(
        &[
            "compare",
            &before,
            &after,
            "--fail-if",
            "rps:-5%",
            "--markdown",
            md.to_str().unwrap(),
        ],
        &[],
        Duration::from_secs(30),
    );
    assert_eq!(o.status.code(), Some(1));
    let md = std::fs::read_to_string(md).unwrap();
    assert!(
        md.contains("**2 slower, 0 without significant difference**"),
        "{md}"
    );
    assert!(
        md.contains("**Limits broken:**") && md.contains("`rps:-5%`"),
        "{md}"
    );
    assert!(md.lines().count() < 40, "sized for a comment:\n{md}");
}

#[test]
fn identical_reports_and_two_draws_of_one_distribution_are_not_flagged() {
    let dir = tempfile::tempdir().unwrap();
    let a = save(dir.path(), "a.json", &suite_report(7, 3, 1000.0, 10_000.0));
    let (code, report, _) = compare(dir.path(), &a, &a, &["--fail-if", "p99:+1%,rps:-1%"]);
    assert_eq!(code, 0);
    assert_eq!(verdicts(&report), ["no significant difference"; 2]);
    for m in report["rows"][0]["metrics"].as_array().unwrap() {
        assert_eq!(m["change"].as_f64().unwrap(), 0.0, "{m}");
        assert!(m["p"].as_f64().unwrap() > 0.9, "{m}");
    }
    // Three repeats a side: the notes say how little the test can tell.
    let notes = report["notes"].to_string();
    assert!(notes.contains("little power"), "{notes}");

    // Same distribution, different draws, five repeats a side.
    let x = save(dir.path(), "x.json", &suite_report(11, 5, 1000.0, 10_000.0));
    let y = save(dir.path(), "y.json", &suite_report(12, 5, 1000.0, 10_000.0));
    let (code, report, _) = compare(dir.path(), &x, &y, &["--fail-if", "p99:+1%,rps:-1%"]);
    assert_eq!(code, 0, "{report:#}");
    assert!(report["broken"].as_array().unwrap().is_empty());

    // At α = 0.05 three repeats can never differ significantly, and it says so.
    let b = save(dir.path(), "b.json", &suite_report(8, 3, 500.0, 50_000.0));
    let (code, report, _) = compare(
        dir.path(),
        &a,
        &b,
        &["--alpha", "0.05", "--fail-if", "rps:-5%"],
    );
    assert_eq!(code, 0);
    assert_eq!(verdicts(&report), ["no significant difference"; 2]);
    assert!(report["notes"]
        .to_string()
        .contains("smallest p the test can give is 0.10"));
    // At the default α = 0.10 the same halving is found.
    let (code, report, _) = compare(dir.path(), &a, &b, &["--fail-if", "rps:-5%"]);
    assert_eq!(code, 1);
    assert_eq!(verdicts(&report), ["slower"; 2]);
}

/// A bench report with a per-second timeline.
fn bench_report(seed: u64, rps: f64, p99_us: f64) -> Value {
    let mut noise = Noise(seed);
    let timeline: Vec<Value> = (0..10)
        .map(|s| {
            json!({"second": s, "requests": (rps * (1.0 + 0.02 * noise.normal())).round(),
                   "errors": 0, "p50_us": p99_us / 3.0, "p99_us": p99_us * (1.0 + 0.03 * noise.normal())})
        })
        .collect();
    json!({
        "stack": {"gateway": "waitress", "proxy": "none", "options": {"threads": "4"}},
        "plan": {"model": "closed", "connections": 16, "rate": null, "workload": {"name": "hello"}},
        "requests_per_sec": rps,
        "latency_us": {"p50": p99_us / 3.0, "p90": p99_us / 2.0, "p95": p99_us / 1.5, "p99": p99_us, "p99.9": p99_us * 2.0, "max": p99_us * 3.0},
        "timeline": timeline,
    })
}

#[test]
fn bench_reports_compare_on_their_seconds() {
    let dir = tempfile::tempdir().unwrap();
    let a = save(dir.path(), "a.json", &bench_report(3, 2000.0, 8_000.0));
    let b = save(dir.path(), "b.json", &bench_report(4, 2000.0, 8_000.0));
    let c = save(dir.path(), "c.json", &bench_report(5, 1500.0, 12_000.0));
    let (code, report, _) = compare(dir.path(), &a, &b, &["--fail-if", "p99:+10%"]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["rows"][0]["samples"], "seconds");
    assert_eq!(report["rows"][0]["level"], "c16");
    let (code, report, _) = compare(dir.path(), &a, &c, &["--fail-if", "p99:+10%"]);
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(verdicts(&report), ["slower"]);
    // A bench report against a suite report of another stack: nothing in
    // common is an error, not a silent pass.
    let s = save(dir.path(), "s.json", &suite_report(1, 3, 1.0, 1.0));
    let o = wsgiprobe_within(&["compare", &s, &a], &[], Duration::from_secs(30));
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr).contains("nothing to compare"),
        "{}",
        text(&o.stderr)
    );
}
