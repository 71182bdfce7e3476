//! Runs a plan on worker threads and merges what they measured.

use std::io;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use super::engine::{run_worker, Addr, Clock, WorkerReport};
use super::plan::{Plan, Stop};
use super::stats::{
    latency_histogram, merge, Connections, Errors, TimelineCollector, TimelinePoint,
};
use crate::http::Target;

/// Time given to worker threads to start before the first request is due.
const START_DELAY: Duration = Duration::from_millis(50);

/// Everything the workers measured, merged.
#[derive(Debug)]
pub struct RunResult {
    /// Latency from when each request was due (open) or sent (closed), µs.
    pub corrected: Histogram<u64>,
    /// Latency from the actual send (service time), µs.
    pub uncorrected: Histogram<u64>,
    /// Open model: lateness of sends on free connections (the generator's lag), µs.
    pub sched_lag: Histogram<u64>,
    /// Measured requests that ended (answered or failed).
    pub requests: u64,
    pub ok: u64,
    pub errors: Errors,
    pub connections: Connections,
    /// Responses read in all, warm-up included.
    pub sent_total: u64,
    pub bytes_read: u64,
    pub max_backlog: u64,
    /// The measured window: the duration, or first to last response of a counted run.
    pub measured: Duration,
    /// Threads that ran, their summed CPU time, and the busiest one's share of its wall time.
    pub threads: usize,
    pub cpu: Duration,
    pub busiest_thread: f64,
    pub timeline: Vec<TimelinePoint>,
    pub first_error: Option<String>,
}

impl RunResult {
    pub fn requests_per_sec(&self) -> f64 {
        let secs = self.measured.as_secs_f64();
        if secs > 0.0 {
            self.requests as f64 / secs
        } else {
            0.0
        }
    }
}

/// Runs `plan` against `target`; `on_second` sees each second of the
/// timeline as soon as every worker has finished it (for a progress line).
pub fn run_plan(
    plan: &Plan,
    target: &Target,
    on_second: &mut dyn FnMut(TimelinePoint),
) -> io::Result<RunResult> {
    let addr = Addr::resolve(target)?;
    let threads = plan.threads.clamp(1, plan.connections.max(1));
    let share = |total: u64, k: usize| {
        total / threads as u64 + u64::from((k as u64) < total % threads as u64)
    };
    let start = Instant::now() + START_DELAY;
    let measure_start = start + plan.warmup;
    let clock = Clock {
        start,
        measure_start,
        end: match plan.stop {
            Stop::Duration(d) => Some(measure_start + d),
            Stop::Count(_) => None,
        },
    };
    let (tx, rx) = mpsc::channel();
    let mut collector = TimelineCollector::new(threads);
    let reports: Vec<io::Result<WorkerReport>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|k| {
                let tx = tx.clone();
                let addr = &addr;
                let conns = share(plan.connections as u64, k) as usize;
                let quota = match plan.stop {
                    Stop::Count(n) => Some(share(n, k)),
                    Stop::Duration(_) => None,
                };
                std::thread::Builder::new()
                    .name(format!("bench-{k}"))
                    .spawn_scoped(s, move || {
                        run_worker(k, plan, addr, clock, conns, quota, Some(tx))
                    })
                    .expect("spawn a worker thread")
            })
            .collect();
        drop(tx);
        for snapshot in rx {
            if let Some(point) = collector.add(snapshot) {
                on_second(point);
            }
        }
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(io::Error::other("a worker thread panicked")))
            })
            .collect()
    });

    let mut r = RunResult {
        corrected: latency_histogram(),
        uncorrected: latency_histogram(),
        sched_lag: latency_histogram(),
        requests: 0,
        ok: 0,
        errors: Errors::default(),
        connections: Connections::default(),
        sent_total: 0,
        bytes_read: 0,
        max_backlog: 0,
        measured: Duration::ZERO,
        threads,
        cpu: Duration::ZERO,
        busiest_thread: 0.0,
        timeline: Vec::new(),
        first_error: None,
    };
    let mut last = None;
    for report in reports {
        let w = report?;
        merge(&mut r.corrected, &w.corrected);
        merge(&mut r.uncorrected, &w.uncorrected);
        merge(&mut r.sched_lag, &w.sched_lag);
        r.requests += w.requests;
        r.ok += w.ok;
        r.errors.merge(&w.errors);
        r.connections.merge(&w.connections);
        r.sent_total += w.sent_total;
        r.bytes_read += w.bytes_read;
        r.max_backlog += w.max_backlog;
        r.cpu += w.cpu;
        if w.wall > Duration::ZERO {
            r.busiest_thread = r
                .busiest_thread
                .max(w.cpu.as_secs_f64() / w.wall.as_secs_f64());
        }
        last = last.max(w.last_completion);
        if r.first_error.is_none() {
            r.first_error = w.first_error;
        }
    }
    r.measured = match plan.stop {
        Stop::Duration(d) => d,
        Stop::Count(_) => last
            .map(|t| t.saturating_duration_since(measure_start))
            .unwrap_or_default(),
    };
    r.timeline = collector.finish();
    Ok(r)
}
