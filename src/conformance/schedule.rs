//! The runner's schedule: which case runs when. Cases run `jobs` at a time.
//! Cases with a time limit of their own (those that may hang, or take long
//! by design) go first, but never in every slot at once: one slot keeps
//! taking the quick cases, so a run does not end waiting on them and the
//! quick cases show whether the server was free while one waited (once
//! they are all done, a ping every so often does). A case that timed out
//! among others is tried again alone, unless the server answered a later
//! case or ping while it waited (then the hang was its own);
//! `serial` cases run alone at the end; once the server is gone the
//! remaining cases are not run. A cancelled run (a signal) stops taking
//! cases and drops those in flight, whose evidence the stopped server
//! spoiled; `--fail-fast` stops taking cases after the first that fails.
//! Each case is played (`case.rs`) and decided by the verdict pipeline
//! (`verdict.rs`). It never prints; progress goes out over a channel.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::Sender;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::case::{case_limit, play_case};
use super::config::{RunTarget, RunnerConfig};
use super::deploy::not_applicable;
use super::evidence::Exchange;
use super::judge::{Outcome, Verdict};
use super::quirks::AppliedQuirk;
use super::verdict::{decide, Decision, VerdictRules};
use crate::http::round_trip;
use crate::spec::LoadedCase;

/// One decided case with its evidence.
#[derive(Debug, Clone)]
pub struct CaseResult {
    pub case: LoadedCase,
    /// The final verdict, after every stage of the pipeline.
    pub verdict: Verdict,
    /// The declared quirk that met the case, when it did not pass.
    pub quirk: Option<AppliedQuirk>,
    /// The deployment setting the stack lacks that explains the finding,
    /// with what fixes it.
    pub deployment: Option<String>,
    pub elapsed: Duration,
    /// The request as sent (ISO-8859-1 view of the bytes), for reports.
    pub request: String,
    /// The response's status line and headers as received, when there was one.
    pub response_head: Option<String>,
    /// No response came within the case's time limit.
    pub timed_out: bool,
}

impl CaseResult {
    /// A case marked `security` that failed: a security finding, which
    /// every report labels as such.
    pub fn security_finding(&self) -> bool {
        self.case.case.security && self.verdict.outcome == Outcome::Fail
    }

    /// What kind of finding a non-pass is beyond its outcome: `security`,
    /// or `deployment` (a setting the stack lacks explains it).
    pub fn finding(&self) -> Option<&'static str> {
        if self.security_finding() {
            Some("security")
        } else if self.deployment.is_some() {
            Some("deployment")
        } else {
            None
        }
    }
}

/// Progress, for whoever shows it.
#[derive(Debug, Clone)]
pub enum Progress {
    /// A case has its final outcome.
    Finished {
        done: usize,
        total: usize,
        id: String,
        outcome: Outcome,
    },
}

/// Why a run stopped before every case was decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stopped {
    /// The run was cancelled (a signal).
    Cancelled,
    /// A case failed and the run was asked to stop at the first failure.
    FailFast,
}

/// What a run came to: the decided cases in the order given, and those
/// that were not (a stopped run).
#[derive(Debug, Clone)]
pub struct CaseRun {
    pub results: Vec<CaseResult>,
    /// Ids of the cases that were not decided, in the order given.
    pub not_run: Vec<String>,
    pub stopped: Option<Stopped>,
}

/// When a case that answered started and when its answer was in, for
/// telling a case's own hang from queueing behind another.
#[derive(Default)]
struct Answers(Mutex<Vec<(Instant, Instant)>>);

impl Answers {
    fn record(&self, started: Instant, r: &CaseResult) {
        if r.response_head.is_some() {
            self.answered(started, started + r.elapsed);
        }
    }

    fn answered(&self, started: Instant, done: Instant) {
        if let Ok(mut a) = self.0.lock() {
            a.push((started, done));
        }
    }

    /// Whether the server answered a case that started after `started`
    /// before `deadline`. A server that serves one connection at a time
    /// takes them in the order they came, so such an answer means it was
    /// not stuck behind anything while this case waited: the hang was the
    /// case's own, and running it again alone would only cost its limit
    /// twice.
    fn later_answered_before(&self, started: Instant, deadline: Instant) -> bool {
        self.0
            .lock()
            .map(|a| a.iter().any(|(s, done)| *s > started && *done < deadline))
            .unwrap_or(false)
    }
}

/// Runs the cases; every case is decided unless the run is stopped.
pub fn run_cases(
    cases: &[LoadedCase],
    to: &RunTarget,
    config: &RunnerConfig,
    rules: &VerdictRules,
    progress: Option<Sender<Progress>>,
) -> CaseRun {
    let run_id = config.run_id.clone().unwrap_or_else(new_run_id);
    let total = cases.len();
    let done = AtomicUsize::new(0);
    let progress = progress.map(Mutex::new);
    let gone: Mutex<Option<String>> = Mutex::new(None);
    let failed_fast = AtomicBool::new(false);
    let stopping = || config.cancel.is_set() || failed_fast.load(Ordering::SeqCst);
    let answers = Answers::default();
    let report = |r: &CaseResult| {
        let n = done.fetch_add(1, Ordering::SeqCst) + 1;
        if config.fail_fast.contains(&r.verdict.outcome) {
            failed_fast.store(true, Ordering::SeqCst);
        }
        if let Some(tx) = &progress {
            if let Ok(tx) = tx.lock() {
                let _ = tx.send(Progress::Finished {
                    done: n,
                    total,
                    id: r.case.case.id.clone(),
                    outcome: r.verdict.outcome,
                });
            }
        }
    };
    // `None` when the run was cancelled while the case was in flight.
    let run_one = |index: usize| -> Option<(CaseResult, Instant)> {
        let already_gone = gone.lock().ok().and_then(|g| g.clone());
        let started = Instant::now();
        let (result, why_gone) = run_case(
            &cases[index],
            to,
            config,
            rules,
            &format!("{run_id}-{index}"),
            already_gone.as_deref(),
        );
        if config.cancel.is_set() {
            return None;
        }
        if let Some(why) = why_gone {
            if let Ok(mut g) = gone.lock() {
                g.get_or_insert(why);
            }
        }
        answers.record(started, &result);
        Some((result, started))
    };

    let mut results: Vec<Option<CaseResult>> = vec![None; total];
    let concurrent: Vec<usize> = (0..total).filter(|i| !cases[*i].case.serial).collect();
    let serial: Vec<usize> = (0..total).filter(|i| cases[*i].case.serial).collect();

    let jobs = config.jobs.max(1).min(concurrent.len().max(1));
    let queue = Mutex::new(Queue::new(&concurrent, cases, jobs));
    let slots = Mutex::new(&mut results);
    let retry = Mutex::new(Vec::new());
    let workers_done = AtomicUsize::new(0);
    std::thread::scope(|s| {
        if jobs > 1 {
            s.spawn(|| {
                // While long cases wait, a ping now and then shows whether
                // the server answers others meanwhile.
                while workers_done.load(Ordering::SeqCst) < jobs && !stopping() {
                    if queue.lock().unwrap().long_in_flight > 0 {
                        let started = Instant::now();
                        if ping(to, PING_EVERY * 4) {
                            answers.answered(started, Instant::now());
                        }
                    }
                    std::thread::sleep(PING_EVERY);
                }
            });
        }
        for _ in 0..jobs {
            s.spawn(|| loop {
                if stopping() {
                    workers_done.fetch_add(1, Ordering::SeqCst);
                    break;
                }
                let Some((index, long)) = queue.lock().unwrap().take() else {
                    workers_done.fetch_add(1, Ordering::SeqCst);
                    break;
                };
                let ran = run_one(index);
                if long {
                    queue.lock().unwrap().long_in_flight -= 1;
                }
                let Some((r, started)) = ran else {
                    workers_done.fetch_add(1, Ordering::SeqCst);
                    break;
                };
                // A case that timed out while others were in flight may only
                // have waited behind them (a one-worker server): it is tried
                // again alone before it counts, unless the server answered a
                // later case meanwhile.
                let deadline = started + case_limit(&cases[index].case, config);
                if r.timed_out
                    && config.jobs > 1
                    && !answers.later_answered_before(started, deadline)
                {
                    retry.lock().unwrap().push(index);
                } else {
                    report(&r);
                    slots.lock().unwrap()[index] = Some(r);
                }
            });
        }
    });
    let mut again = retry.into_inner().unwrap();
    again.sort_unstable();
    for index in again.into_iter().chain(serial) {
        if stopping() {
            break;
        }
        let Some((r, _)) = run_one(index) else {
            break;
        };
        report(&r);
        results[index] = Some(r);
    }
    let stopped = if config.cancel.is_set() {
        Some(Stopped::Cancelled)
    } else if failed_fast.load(Ordering::SeqCst) {
        Some(Stopped::FailFast)
    } else {
        None
    };
    let mut run = CaseRun {
        results: Vec::new(),
        not_run: Vec::new(),
        stopped,
    };
    for (lc, r) in cases.iter().zip(results) {
        match r {
            Some(r) => run.results.push(r),
            None => run.not_run.push(lc.case.id.clone()),
        }
    }
    debug_assert!(
        run.stopped.is_some() || run.not_run.is_empty(),
        "only a stop leaves cases undecided"
    );
    run
}

/// How often the server is pinged while long cases wait.
const PING_EVERY: Duration = Duration::from_millis(200);

/// Whether the probe answers its `ping` scenario within `limit`.
fn ping(to: &RunTarget, limit: Duration) -> bool {
    let request = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\n{}: ping\r\nConnection: close\r\n\r\n",
        to.base_path,
        to.target.authority(),
        crate::probe::SCENARIO_HEADER
    );
    round_trip(to.target, request.as_bytes(), false, limit).is_ok_and(|r| r.status == 200)
}

/// The concurrent cases in the order they are taken: the long ones (a time
/// limit of their own) first, at most `jobs - 1` of them in flight.
struct Queue {
    long: Vec<usize>,
    quick: Vec<usize>,
    long_in_flight: usize,
    long_lanes: usize,
}

impl Queue {
    fn new(concurrent: &[usize], cases: &[LoadedCase], jobs: usize) -> Queue {
        let (mut long, mut quick): (Vec<usize>, Vec<usize>) = concurrent
            .iter()
            .partition(|i| cases[**i].case.timeout_ms.is_some());
        // Taken from the back.
        long.reverse();
        quick.reverse();
        Queue {
            long,
            quick,
            long_in_flight: 0,
            long_lanes: jobs.saturating_sub(1).max(1),
        }
    }

    /// The next case, and whether it is a long one.
    fn take(&mut self) -> Option<(usize, bool)> {
        let lane_free = self.long_in_flight < self.long_lanes;
        if (lane_free || self.quick.is_empty()) && !self.long.is_empty() {
            self.long_in_flight += 1;
            return self.long.pop().map(|i| (i, true));
        }
        self.quick.pop().map(|i| (i, false))
    }
}

/// Plays one case and decides it; also says why the server is gone when
/// this case found it so. A case after the server is gone is not played.
fn run_case(
    lc: &LoadedCase,
    to: &RunTarget,
    config: &RunnerConfig,
    rules: &VerdictRules,
    token: &str,
    already_gone: Option<&str>,
) -> (CaseResult, Option<String>) {
    let result = |decision: Decision, elapsed, request, response_head, timed_out| CaseResult {
        case: lc.clone(),
        verdict: decision.verdict,
        quirk: decision.quirk,
        deployment: decision.deployment,
        elapsed,
        request,
        response_head,
        timed_out,
    };
    if let Some(why) = already_gone {
        let not_run = Exchange::HarnessFault {
            what: format!("not run: {}", why.lines().next().unwrap_or(why)),
        };
        // The exchange already says the server was gone: nothing to ask.
        let decision = decide(&lc.case, &not_run, &|| None, rules);
        return (
            result(decision, Duration::ZERO, String::new(), None, false),
            None,
        );
    }
    if let Some(why) = not_applicable(&lc.case, to) {
        let decision = decide(&lc.case, &Exchange::NotApplicable { why }, &|| None, rules);
        return (
            result(decision, Duration::ZERO, String::new(), None, false),
            None,
        );
    }
    let started = Instant::now();
    let played = play_case(lc, to, config, token);
    let elapsed = started.elapsed();
    // A server that held the connection open until the limit was not in
    // the moment of dying when the case began: one look is enough, and a
    // real hang does not also pay the grace.
    let grace = if played.exchange.timed_out() {
        Duration::ZERO
    } else {
        EXIT_GRACE
    };
    let is_gone = || gone_within(to.server_gone, grace);
    let decision = decide(&lc.case, &played.exchange, &is_gone, rules);
    let gone = decision.server_gone.clone();
    // A dead server, not a slow one: trying again alone would not help.
    let timed_out = played.exchange.timed_out() && gone.is_none();
    let r = result(
        decision,
        elapsed,
        played.request,
        played.response_head,
        timed_out,
    );
    (r, gone)
}

/// A dying server closes its connections a moment before its process can
/// be reaped; a fault seen in that moment must not count against it.
const EXIT_GRACE: Duration = Duration::from_secs(1);

fn gone_within(
    server_gone: &(dyn Fn() -> Option<String> + Sync),
    grace: Duration,
) -> Option<String> {
    let deadline = Instant::now() + grace;
    loop {
        if let Some(why) = server_gone() {
            return Some(why);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A token prefix no other run shares.
pub fn new_run_id() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("r{:x}{:x}", std::process::id(), nanos)
}
