//! Suite shards into one suite report: each stack × workload × level ×
//! repeat merged from the shards that measured it, as bench shards merge.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use super::plan::{check_set, Part};
use super::read::{LevelShard, SuiteShard};
use super::MergeError;
use crate::bench::stats::{encode, latency_histogram, merge, Percentiles};
use crate::bench::threshold::{check_all, Figures};
use crate::bench::Threshold;
use crate::report::{
    Generator, LevelResult, MergeWindow, Merged, MergedFiles, MergedShard, SuiteReport,
    SuiteSharding, SuiteTiming, ToolInfo,
};

type Key = (String, String, String, u32);

/// Merges the shards of one suite; `extra` thresholds (`merge --fail-if`)
/// are checked on every merged level besides each workload's own, which
/// are checked again on the merged figures (a shard's part says nothing
/// of the whole).
pub fn merge_suite(
    mut shards: Vec<SuiteShard>,
    partial: bool,
    extra: &[Threshold],
) -> Result<SuiteReport, MergeError> {
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
    let count = first.shard.count;

    // Each level, in the order the first shard that has it lists it.
    let mut order: Vec<Key> = Vec::new();
    let mut levels: BTreeMap<Key, Vec<(&SuiteShard, &LevelShard)>> = BTreeMap::new();
    for s in &shards {
        for r in &s.results {
            let key = (
                r.stack.clone(),
                r.workload.clone(),
                r.level.label(),
                r.repeat,
            );
            let entry = levels.entry(key.clone()).or_default();
            if entry.is_empty() {
                order.push(key);
            }
            entry.push((s, r));
        }
    }
    let thresholds: BTreeMap<&str, Vec<Threshold>> = first
        .setup
        .thresholds
        .iter()
        .map(|(w, texts)| {
            let parsed = texts.iter().filter_map(|t| t.parse().ok()).collect();
            (w.as_str(), parsed)
        })
        .collect();
    let results = order
        .iter()
        .map(|key| {
            let mut all = thresholds.get(key.1.as_str()).cloned().unwrap_or_default();
            all.extend_from_slice(extra);
            merge_level(&levels[key], count, &all, first.setup.duration_s)
        })
        .collect();

    let mut failures = Vec::new();
    for s in &shards {
        for f in &s.failures {
            let mut f = f.clone();
            f.message = format!("shard {}{}: {}", s.shard, on(&s.host), f.message);
            failures.push(f);
        }
    }
    let timing = shards.iter().fold(SuiteTiming::default(), |a, s| {
        let t = &s.timing;
        SuiteTiming {
            wall_s: a.wall_s.max(t.wall_s),
            measured_s: a.measured_s.max(t.measured_s),
            warmup_s: a.warmup_s.max(t.warmup_s),
            start_stop_s: a.start_stop_s.max(t.start_stop_s),
            health_s: a.health_s.max(t.health_s),
            overhead_s: a.overhead_s.max(t.overhead_s),
        }
    });
    let mut environment = first.environment.clone();
    for s in &shards[1..] {
        for (label, stack) in &s.environment.stacks {
            environment
                .stacks
                .entry(label.clone())
                .or_insert_with(|| stack.clone());
        }
    }
    Ok(SuiteReport {
        tool: ToolInfo::default(),
        setup: first.setup.clone(),
        started: shards
            .iter()
            .map(|s| s.started)
            .min()
            .unwrap_or(first.started),
        finished: missing.is_empty() && shards.iter().all(|s| s.finished),
        results,
        sustainable: Vec::new(),
        failures,
        environment,
        timing,
        sharding: SuiteSharding {
            shard: None,
            host: None,
            start_at: first.start_at,
            slot: first.slot,
            merged: Some(MergedFiles {
                count,
                files: shards
                    .iter()
                    .map(|s| (s.file.display().to_string(), s.shard, s.host.clone()))
                    .collect(),
                missing,
            }),
        },
    })
}

fn on(host: &Option<String>) -> String {
    host.as_ref().map_or(String::new(), |h| format!(" ({h})"))
}

/// One level from the shards that measured it.
fn merge_level(
    parts: &[(&SuiteShard, &LevelShard)],
    count: u32,
    thresholds: &[Threshold],
    duration_s: f64,
) -> LevelResult {
    let (_, first) = parts[0];
    let mut corrected = latency_histogram();
    let mut uncorrected = latency_histogram();
    let mut sched_lag = first.sched_lag.as_ref().map(|_| latency_histogram());
    let mut errors_by_kind: BTreeMap<String, u64> = BTreeMap::new();
    let mut g = Generator {
        threads: 0,
        cpu_s: 0.0,
        process_cpu_s: 0.0,
        requests_sent: 0,
        cpu_per_request_us: 0.0,
        busiest_thread: 0.0,
        sched_lag_us: None,
        max_backlog: 0,
        bottleneck: false,
    };
    for (_, r) in parts {
        merge(&mut corrected, &r.corrected);
        merge(&mut uncorrected, &r.uncorrected);
        if let (Some(into), Some(from)) = (sched_lag.as_mut(), &r.sched_lag) {
            merge(into, from);
        }
        for (kind, n) in &r.errors_by_kind {
            *errors_by_kind.entry(kind.clone()).or_default() += n;
        }
        let o = &r.generator;
        g.threads += o.threads;
        g.cpu_s += o.cpu_s;
        g.process_cpu_s += o.process_cpu_s;
        g.requests_sent += o.requests_sent;
        g.busiest_thread = g.busiest_thread.max(o.busiest_thread);
        g.max_backlog += o.max_backlog;
        g.bottleneck |= o.bottleneck;
    }
    if g.requests_sent > 0 {
        g.cpu_per_request_us = g.cpu_s * 1e6 / g.requests_sent as f64;
    }
    g.sched_lag_us = sched_lag.as_ref().map(Percentiles::of);

    let requests = parts.iter().map(|(_, r)| r.requests).sum();
    let errors = parts.iter().map(|(_, r)| r.errors).sum();
    let requests_per_sec = parts.iter().map(|(_, r)| r.requests_per_sec).sum();
    let costs: Vec<_> = parts.iter().filter_map(|(_, r)| r.server).collect();
    // Each shard's stack is its own server: the fleet's cost is the sum.
    let server = (!costs.is_empty()).then(|| crate::report::ServerCost {
        cpu_s: costs.iter().map(|c| c.cpu_s).sum(),
        rss_max_bytes: costs.iter().map(|c| c.rss_max_bytes).sum(),
        processes: costs.iter().map(|c| c.processes).sum(),
        samples: costs.iter().map(|c| c.samples).sum(),
    });
    let figures = Figures {
        latency_us: &corrected,
        requests_per_sec,
        requests,
        errors,
    };
    let window = window(parts);
    let mut warnings = Vec::new();
    if parts.len() < count as usize {
        warnings.push(format!(
            "measured by {} of the {count} shards only: the load was that much less than the plan's",
            parts.len()
        ));
    }
    if window.skew_s > 0.5 + 0.01 * duration_s {
        warnings.push(format!(
            "the shards' windows began up to {:.1} s apart (measured together for {:.1} s): the merged rate adds up runs that were not all under way at once",
            window.skew_s, window.common_s
        ));
    }
    let measured: Vec<MergedShard> = parts
        .iter()
        .map(|(s, r)| MergedShard {
            file: s.file.display().to_string(),
            shard: s.shard,
            host: s.host.clone(),
            measure_start_unix: unix(r.measure_start),
            measured_s: r.measured.as_secs_f64(),
            requests: r.requests,
            errors: r.errors,
            requests_per_sec: r.requests_per_sec,
            latency_us: Percentiles::of(&r.corrected),
            valid: r.valid,
            generator_bottleneck: r.generator.bottleneck,
            warnings: r.warnings.clone(),
        })
        .collect();
    let present: Vec<u32> = parts.iter().map(|(s, _)| s.shard.index).collect();
    let measure_start = parts
        .iter()
        .map(|(_, r)| r.measure_start)
        .min()
        .unwrap_or(first.measure_start);
    LevelResult {
        stack: first.stack.clone(),
        workload: first.workload.clone(),
        level: first.level,
        repeat: first.repeat,
        started: parts
            .iter()
            .map(|(_, r)| r.started)
            .min()
            .unwrap_or(first.started),
        requests,
        errors,
        errors_by_kind,
        requests_per_sec,
        measured_s: first.measured.as_secs_f64(),
        latency: Percentiles::of(&corrected),
        latency_uncorrected: Percentiles::of(&uncorrected),
        server,
        generator: g,
        // Each shard within its own allowance of errors.
        valid: requests > 0 && parts.iter().all(|(_, r)| r.valid),
        thresholds: check_all(thresholds, &figures),
        warnings,
        histogram_corrected: encode(&corrected),
        histogram_uncorrected: encode(&uncorrected),
        histogram_sched_lag: sched_lag.as_ref().map(encode),
        measure_start,
        own_level: None,
        timeline: super::bench::timeline(
            parts
                .iter()
                .map(|(_, r)| (r.measure_start, r.timeline.as_slice())),
            measure_start,
        ),
        merged: Some(Merged {
            count,
            shards: measured,
            missing: (0..count).filter(|i| !present.contains(i)).collect(),
            window,
        }),
    }
}

fn window(parts: &[(&SuiteShard, &LevelShard)]) -> MergeWindow {
    let span = |r: &LevelShard| {
        let start = unix(r.measure_start);
        (start, start + r.measured.as_secs_f64())
    };
    let spans: Vec<(f64, f64)> = parts.iter().map(|(_, r)| span(r)).collect();
    let min = |v: &mut dyn Iterator<Item = f64>| v.fold(f64::INFINITY, f64::min);
    let max = |v: &mut dyn Iterator<Item = f64>| v.fold(f64::NEG_INFINITY, f64::max);
    let first_start = min(&mut spans.iter().map(|s| s.0));
    let last_start = max(&mut spans.iter().map(|s| s.0));
    let first_end = min(&mut spans.iter().map(|s| s.1));
    MergeWindow {
        start_unix: first_start,
        end_unix: max(&mut spans.iter().map(|s| s.1)),
        common_s: (first_end - last_start).max(0.0),
        skew_s: last_start - first_start,
    }
}

fn unix(t: SystemTime) -> f64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs_f64()
}
