//! Bench shards into one bench report: the whole plan's run as if one
//! generator had driven it.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use hdrhistogram::Histogram;

use super::plan::{check_set, Part};
use super::read::BenchShard;
use super::MergeError;
use crate::bench::stats::{decode, merge, timeline_histogram, Percentiles, TimelinePoint};
use crate::bench::{Model, Plan, ResponseCheck, RunResult, Stop, Totals};
use crate::report::{BenchReport, MergeWindow, Merged, MergedShard};

/// Merges the shards of one bench plan. Every histogram is added bucket by
/// bucket, so the merged percentiles are exactly those of one histogram
/// holding every shard's requests; the rate is the requests of every shard
/// over the plan's window, which is the sum of the shards' rates.
pub fn merge_bench(mut shards: Vec<BenchShard>, partial: bool) -> Result<BenchReport, MergeError> {
    let parts: Vec<Part> = shards
        .iter()
        .map(|s| Part {
            file: &s.file,
            shard: s.shard,
            key: &s.key,
        })
        .collect();
    let missing = check_set(&parts, partial)?;
    shards.sort_by_key(|s| s.shard.index);
    let first = &shards[0];

    let mut totals = Totals::default();
    for s in &shards {
        totals.merge(&s.totals);
    }
    let window = window(&shards);
    let measure_start = shards
        .iter()
        .map(|s| s.measure_start)
        .min()
        .unwrap_or(first.measure_start);
    let (model, connections) = if missing.is_empty() {
        (first.model, first.connections)
    } else {
        let own = |f: fn(&BenchShard) -> f64| shards.iter().map(f).sum::<f64>();
        (
            match first.model {
                Model::Open { .. } => Model::Open {
                    rate: own(|s| s.own_rate.unwrap_or(0.0)),
                },
                Model::Closed => Model::Closed,
            },
            shards.iter().map(|s| s.own_connections).sum(),
        )
    };
    let plan = Plan {
        model,
        connections,
        threads: shards.iter().map(|s| s.threads).sum(),
        stop: Stop::Duration(first.duration),
        warmup: first.warmup,
        timeout: first.timeout,
        request: Arc::from(&b""[..]),
        check: ResponseCheck {
            body: None,
            sample_every: first.sample_every,
            // The JSON does not record it; the shards checked it.
            status: None,
        },
        shard: None,
        start_at: first.start_at,
    };
    let result = RunResult {
        // The merge itself ran to its end; a shard cut short says so in
        // the warnings.
        interrupted: false,
        totals,
        measured: first.duration,
        threads: plan.threads,
        timeline: timeline(
            shards
                .iter()
                .map(|s| (s.measure_start, s.timeline.as_slice())),
            measure_start,
        ),
        measure_start,
    };
    let mut report = BenchReport::new(
        first.stack.clone(),
        shards
            .iter()
            .map(|s| s.started)
            .min()
            .unwrap_or(first.started),
        first.workload.clone(),
        plan,
        result,
        Duration::from_secs_f64(shards.iter().map(|s| s.process_cpu_s).sum()),
        shards.iter().map(|s| s.allow_errors).sum(),
    );
    report
        .warnings
        .extend(warnings(&shards, &window, first.duration));
    report.merged = Some(Merged {
        count: first.shard.count,
        shards: shards.iter().map(summary).collect(),
        missing,
        window,
    });
    Ok(report)
}

/// One shard as the merged report lists it.
fn summary(s: &BenchShard) -> MergedShard {
    MergedShard {
        file: s.file.display().to_string(),
        shard: s.shard,
        host: s.host.clone(),
        measure_start_unix: unix(s.measure_start),
        measured_s: s.measured.as_secs_f64(),
        requests: s.totals.requests,
        errors: s.totals.errors.total(),
        requests_per_sec: s.requests_per_sec,
        latency_us: Percentiles::of(&s.totals.corrected),
        valid: s.valid,
        generator_bottleneck: s.bottleneck,
        warnings: s.warnings.clone(),
    }
}

/// The wall-clock window the shards measured, and how much of it they
/// measured together.
fn window(shards: &[BenchShard]) -> MergeWindow {
    let starts = shards.iter().map(|s| unix(s.measure_start));
    let ends = shards
        .iter()
        .map(|s| unix(s.measure_start) + s.measured.as_secs_f64());
    let first_start = starts.clone().fold(f64::INFINITY, f64::min);
    let last_start = starts.fold(f64::NEG_INFINITY, f64::max);
    let first_end = ends.clone().fold(f64::INFINITY, f64::min);
    let last_end = ends.fold(f64::NEG_INFINITY, f64::max);
    MergeWindow {
        start_unix: first_start,
        end_unix: last_end,
        common_s: (first_end - last_start).max(0.0),
        skew_s: last_start - first_start,
    }
}

/// The shards' timelines on one clock: each shard's second `k` is the
/// wall-clock second `k` after its own window began (`measure_start`),
/// placed by how long after `start` that was; the seconds that land
/// together are added up, their latency histograms merged.
pub(super) fn timeline<'a>(
    shards: impl IntoIterator<Item = (SystemTime, &'a [TimelinePoint])>,
    start: SystemTime,
) -> Vec<TimelinePoint> {
    let mut seconds: BTreeMap<u64, (u64, u64, Histogram<u64>)> = BTreeMap::new();
    for (measure_start, points) in shards {
        let offset = measure_start
            .duration_since(start)
            .unwrap_or_default()
            .as_secs_f64();
        for p in points {
            let at = (offset + p.second as f64).round() as u64;
            let entry = seconds
                .entry(at)
                .or_insert_with(|| (0, 0, timeline_histogram()));
            entry.0 += p.requests;
            entry.1 += p.errors;
            if let Some(h) = p.histogram.as_deref().and_then(decode) {
                merge(&mut entry.2, &h);
            }
        }
    }
    seconds
        .into_iter()
        .map(|(second, (requests, errors, h))| TimelinePoint::of(second, requests, errors, &h))
        .collect()
}

fn warnings(shards: &[BenchShard], w: &MergeWindow, duration: Duration) -> Vec<String> {
    let mut out = Vec::new();
    let d = duration.as_secs_f64();
    if w.skew_s > 0.5 + 0.01 * d {
        out.push(format!(
            "the shards' windows began up to {:.1} s apart, so they measured together for only {:.1} of {d:.1} s: the merged rate adds up runs that were not all under way at once (start every shard with the same --start-at)",
            w.skew_s, w.common_s
        ));
    }
    for s in shards {
        let cut = (s.measured.as_secs_f64() - d).abs() > 1e-3;
        if cut {
            out.push(format!(
                "shard {} measured {:.1} s of the plan's {d:.1} s{}",
                s.shard,
                s.measured.as_secs_f64(),
                s.interrupted
                    .as_ref()
                    .map_or(String::new(), |sig| format!(" (interrupted by {sig})"))
            ));
        }
    }
    let slow: Vec<String> = shards
        .iter()
        .filter(|s| s.bottleneck)
        .map(|s| match &s.host {
            Some(h) => format!("{} ({h})", s.shard),
            None => s.shard.to_string(),
        })
        .collect();
    if !slow.is_empty() {
        out.push(format!(
            "the load generator was the bottleneck on shard {}: give those machines more CPU or the plan more shards",
            slow.join(", ")
        ));
    }
    out
}

fn unix(t: SystemTime) -> f64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::shard::Shard;
    use crate::bench::stats::{latency_histogram, spectrum, ErrorKind};
    use crate::bench::Workload;
    use crate::gateway::Stack;
    use crate::http::Target;
    use std::path::Path;

    const RATE: f64 = 900.0;

    /// Shard `index` of 3 of an open-model plan, as its JSON report would be
    /// read back, with `values` as its latencies.
    fn shard(index: u32, values: &[u64]) -> BenchShard {
        let s = Shard { index, count: 3 };
        let split = s.split(Model::Open { rate: RATE }, 30).unwrap();
        let mut totals = Totals::default();
        for &v in values {
            totals.corrected.record(v).unwrap();
            totals.uncorrected.record(v / 2 + 1).unwrap();
            totals.sched_lag.record(10 + v % 7).unwrap();
        }
        totals.requests = values.len() as u64;
        totals.ok = totals.requests - 1;
        totals.errors.add(ErrorKind::Timeout);
        totals.sent_total = totals.requests + 5;
        totals.connections.opened = 10;
        // Every request answered in the window, on the connections opened in it.
        totals.responses_total = totals.requests;
        totals.window.responses = totals.requests;
        totals.window.sent = totals.requests;
        totals.window.connections.opened = 10;
        totals.statuses.add(200, totals.ok);
        let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let plan = Plan {
            model: split.own_model,
            connections: split.own_connections,
            threads: 1,
            stop: Stop::Duration(Duration::from_secs(2)),
            warmup: Duration::from_secs(1),
            timeout: Duration::from_secs(5),
            request: Arc::from(&b"GET / HTTP/1.1\r\n\r\n"[..]),
            check: ResponseCheck {
                body: None,
                sample_every: 16,
                status: None,
            },
            shard: Some(split),
            start_at: Some(start - Duration::from_secs(1)),
        };
        let target = Target::parse("http://svc:8000/").unwrap();
        let result = RunResult {
            totals,
            measured: Duration::from_secs(2),
            threads: 1,
            timeline: Vec::new(),
            measure_start: start,
            interrupted: false,
        };
        let report = BenchReport::new(
            Stack::for_url("http://svc:8000/", &target, None),
            start,
            Workload::Get,
            plan,
            result,
            Duration::from_millis(100),
            1,
        );
        let file = format!("shard-{index}.json");
        BenchShard::from_json(Path::new(&file), &report.to_json()).unwrap()
    }

    /// Latencies with a long tail in one shard only, the case that averaging
    /// percentiles gets most wrong.
    fn samples(index: u32) -> Vec<u64> {
        (0..5000u64)
            .map(|i| {
                let base = 200 + (i * 7919 + u64::from(index) * 31) % 1800;
                if index == 2 && i % 50 == 0 {
                    base * 400
                } else {
                    base
                }
            })
            .collect()
    }

    #[test]
    fn merged_percentiles_are_those_of_one_histogram_holding_every_sample() {
        let shards: Vec<BenchShard> = (0..3).map(|i| shard(i, &samples(i))).collect();
        let averaged_p99 = shards
            .iter()
            .map(|s| s.totals.corrected.value_at_quantile(0.99))
            .sum::<u64>()
            / 3;
        let report = merge_bench(shards, false).unwrap();

        let mut all = latency_histogram();
        for i in 0..3 {
            for v in samples(i) {
                all.record(v).unwrap();
            }
        }
        let t = &report.result.totals;
        assert_eq!(t.corrected, all);
        assert_eq!(Percentiles::of(&t.corrected), Percentiles::of(&all));
        assert_eq!(spectrum(&t.corrected), spectrum(&all));
        // The average of the shards' p99s is not the p99 of the whole.
        assert_ne!(averaged_p99, Percentiles::of(&all).p99);

        assert_eq!(t.requests, 15_000);
        assert_eq!(t.errors.get(ErrorKind::Timeout), 3);
        assert_eq!(t.sched_lag.len(), 15_000);
        assert_eq!(report.plan.model, Model::Open { rate: RATE });
        assert_eq!(report.plan.connections, 30);
        assert_eq!(report.allow_errors, 3);
        let json = report.to_json();
        assert_eq!(json["requests_per_sec"], 15_000.0 / 2.0);
        assert_eq!(json["responses_in_window"], 15_000);
        assert_eq!(json["statuses"]["200"], 3 * 4_999);
        assert_eq!(json["connections"]["opened"], 30);
        assert_eq!(json["connections"]["requests_sent"], 15_000);
        assert_eq!(json["merged"]["count"], 3);
        assert_eq!(json["merged"]["window"]["common_s"], 2.0);
        assert_eq!(json["plan"]["start_at"], "2027-01-15T07:59:59.000Z");
    }

    #[test]
    fn a_merged_report_reads_back_as_a_bench_report() {
        let shards: Vec<BenchShard> = (0..3).map(|i| shard(i, &samples(i))).collect();
        let report = merge_bench(shards, false).unwrap();
        let json = report.to_json();
        // The contract fields, as any bench report has them.
        for key in ["requests_per_sec", "latency_us", "requests", "histogram"] {
            assert!(json.get(key).is_some(), "{key}");
        }
        assert_eq!(
            decode(json["histogram"]["corrected"].as_str().unwrap()).unwrap(),
            report.result.totals.corrected
        );
        // A merged report is no shard: merging it again is refused.
        let e = BenchShard::from_json(Path::new("merged.json"), &json).unwrap_err();
        assert!(matches!(e, MergeError::NotSharded { .. }), "{e}");
    }
}
