//! Runs a plan on worker threads and merges what they measured.

use std::io;
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime};

use super::engine::{run_worker, Clock};
use super::plan::{Model, Plan, ResponseCheck, Stop};
use super::record::Totals;
use super::socket::Addr;
use super::stats::{TimelineCollector, TimelinePoint};
use crate::cancel::Cancel;
use crate::http::{round_trip, HttpError, Target};

/// Time given to worker threads to start before the first request is due:
/// the warm-up starts this long after `run_plan` is called.
pub const START_DELAY: Duration = Duration::from_millis(50);

/// Everything the workers measured, merged.
#[derive(Debug)]
pub struct RunResult {
    /// The workers' totals, added up.
    pub totals: Totals,
    /// The measured window: the duration, or first to last response of a
    /// counted run; up to the signal when one cut the run short.
    pub measured: Duration,
    /// Worker threads that ran.
    pub threads: usize,
    pub timeline: Vec<TimelinePoint>,
    /// A signal cut the run short.
    pub interrupted: bool,
    /// When the measured window began, on the wall clock (what aligns the
    /// shards of a plan, and the timeline's seconds, across machines).
    pub measure_start: SystemTime,
}

impl RunResult {
    /// What the stack achieved: responses received inside the measured
    /// window, per second of it. Never the offered rate: a request the stack
    /// answered only after the window, however long ago it was due, is not
    /// throughput of the window.
    pub fn requests_per_sec(&self) -> f64 {
        let secs = self.measured.as_secs_f64();
        if secs > 0.0 {
            self.totals.window.responses as f64 / secs
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
    cancel: Cancel,
    on_second: &mut dyn FnMut(TimelinePoint),
) -> io::Result<RunResult> {
    let addr = Addr::resolve(target)?;
    let threads = plan.threads.clamp(1, plan.connections.max(1));
    // The open model spaces each worker's requests by the number of workers
    // that really run.
    let plan = &Plan {
        threads,
        ..plan.clone()
    };
    let share = |total: u64, k: usize| {
        total / threads as u64 + u64::from((k as u64) < total % threads as u64)
    };
    let (start, measure_start) = schedule(plan, Instant::now(), SystemTime::now());
    // On a schedule the window's start is known exactly, and the same on
    // every shard: reading it back off the monotonic clock would not be.
    let measure_start_wall = match plan.start_at {
        Some(at) => at + plan.warmup,
        None => wall(measure_start),
    };
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
    let reports: Vec<io::Result<Totals>> = std::thread::scope(|s| {
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
                        run_worker(k, plan, addr, clock, conns, quota, cancel, Some(tx))
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

    let mut totals = Totals::default();
    for report in reports {
        totals.merge(&report?);
    }
    let mut measured = match plan.stop {
        Stop::Duration(d) => d,
        Stop::Count(_) => totals
            .last_response
            .map(|t| t.saturating_duration_since(measure_start))
            .unwrap_or_default(),
    };
    if let Some(at) = totals.cancelled_at {
        measured = measured.min(at.saturating_duration_since(measure_start));
    }
    Ok(RunResult {
        interrupted: totals.cancelled_at.is_some(),
        totals,
        measured,
        threads,
        timeline: collector.finish(),
        measure_start: measure_start_wall,
    })
}

/// When the load starts and when the measured window does, from `now`
/// (and `wall_now`, the same moment on the wall clock).
///
/// Without `start_at` the load starts after [`START_DELAY`], the window a
/// warm-up later. With it the window starts at `start_at` + warm-up exactly,
/// whenever this process got there; the load starts at `start_at`, or as
/// soon as it can if that has passed (a shorter warm-up). In the open
/// model a late start moves by whole periods of each worker's schedule, so
/// the requests stay where a punctual start would have put them and
/// shards keep interleaving.
fn schedule(plan: &Plan, now: Instant, wall_now: SystemTime) -> (Instant, Instant) {
    let Some(at) = plan.start_at else {
        let start = now + START_DELAY;
        return (start, start + plan.warmup);
    };
    let at = match at.duration_since(wall_now) {
        Ok(ahead) => now + ahead,
        Err(e) => now.checked_sub(e.duration()).unwrap_or(now),
    };
    let measure_start = at + plan.warmup;
    let earliest = now + START_DELAY;
    if at >= earliest {
        return (at, measure_start);
    }
    let late = earliest - at;
    let start = match plan.model {
        Model::Open { rate } if rate > 0.0 => {
            let period = Duration::from_secs_f64(plan.threads as f64 / rate);
            let periods = late.as_nanos().div_ceil(period.as_nanos().max(1));
            at + period * u32::try_from(periods).unwrap_or(u32::MAX)
        }
        _ => earliest,
    };
    (start, measure_start)
}

/// An instant on the wall clock.
fn wall(t: Instant) -> SystemTime {
    let (now, wall_now) = (Instant::now(), SystemTime::now());
    match t.checked_duration_since(now) {
        Some(ahead) => wall_now + ahead,
        None => wall_now - now.duration_since(t),
    }
}

/// Why one request before a run did not answer as the workload should.
#[derive(Debug, thiserror::Error)]
pub enum CheckOnceError {
    #[error("no response")]
    Http(#[source] HttpError),
    #[error("status {status} (body: {body:?})")]
    Status { status: u16, body: String },
    #[error("body of {got} bytes differs from the expected {want} bytes (starts {start:?})")]
    Body {
        got: usize,
        want: usize,
        start: String,
    },
}

/// One request on its own connection: the workload must answer 2xx with
/// the right body, or measuring it means nothing (a health check between
/// the levels of a suite, too).
pub fn check_once(
    target: &Target,
    request: &[u8],
    check: &ResponseCheck,
    timeout: Duration,
) -> Result<(), CheckOnceError> {
    let response = round_trip(target, request, false, timeout).map_err(CheckOnceError::Http)?;
    if !(200..300).contains(&response.status) {
        return Err(CheckOnceError::Status {
            status: response.status,
            body: String::from_utf8_lossy(&response.body)
                .chars()
                .take(200)
                .collect(),
        });
    }
    if let Some(want) = &check.body {
        if response.body != **want {
            return Err(CheckOnceError::Body {
                got: response.body.len(),
                want: want.len(),
                start: String::from_utf8_lossy(&response.body[..response.body.len().min(60)])
                    .into_owned(),
            });
        }
    }
    Ok(())
}
