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
        timeline: timeline(&shards, measure_start),
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
/// wall-clock second `k` after its own window began, placed by how long
/// after `start` that was; the seconds that land together are added up,
/// their latency histograms merged.
fn timeline(shards: &[BenchShard], start: SystemTime) -> Vec<TimelinePoint> {
    let mut seconds: BTreeMap<u64, (u64, u64, Histogram<u64>)> = BTreeMap::new();
    for s in shards {
        let offset = s
            .measure_start
            .duration_since(start)
            .unwrap_or_default()
            .as_secs_f64();
        for p in &s.timeline {
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
