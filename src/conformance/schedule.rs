//! The runner's schedule: which case runs when. Cases run `jobs` at a time;
//! one that timed out among others is tried again alone; `serial` cases run
//! alone at the end; once the server is gone the remaining cases are not
//! run. Each case is played (`case.rs`) and decided by the verdict pipeline
//! (`verdict.rs`). It never prints; progress goes out over a channel.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::Sender;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::case::play_case;
use super::config::{RunTarget, RunnerConfig};
use super::evidence::Exchange;
use super::judge::{Outcome, Verdict};
use super::quirks::AppliedQuirk;
use super::verdict::{decide, Decision, VerdictRules};
use crate::spec::LoadedCase;

/// One decided case with its evidence.
#[derive(Debug, Clone)]
pub struct CaseResult {
    pub case: LoadedCase,
    /// The final verdict, after every stage of the pipeline.
    pub verdict: Verdict,
    /// The declared quirk that met the case, when it did not pass.
    pub quirk: Option<AppliedQuirk>,
    pub elapsed: Duration,
    /// The request as sent (ISO-8859-1 view of the bytes), for reports.
    pub request: String,
    /// The response's status line and headers as received, when there was one.
    pub response_head: Option<String>,
    /// No response came within the case's time limit.
    pub timed_out: bool,
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

/// Runs the cases and returns one result per case, in the order given.
pub fn run_cases(
    cases: &[LoadedCase],
    to: &RunTarget,
    config: &RunnerConfig,
    rules: &VerdictRules,
    progress: Option<Sender<Progress>>,
) -> Vec<CaseResult> {
    let run_id = config.run_id.clone().unwrap_or_else(new_run_id);
    let total = cases.len();
    let done = AtomicUsize::new(0);
    let progress = progress.map(Mutex::new);
    let gone: Mutex<Option<String>> = Mutex::new(None);
    let report = |r: &CaseResult| {
        let n = done.fetch_add(1, Ordering::SeqCst) + 1;
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
    let run_one = |index: usize, quiet: bool| -> CaseResult {
        let already_gone = gone.lock().ok().and_then(|g| g.clone());
        let result = run_case(
            &cases[index],
            to,
            config,
            rules,
            &format!("{run_id}-{index}"),
            already_gone.as_deref(),
        );
        if let Some(why) = &result.1 {
            if let Ok(mut g) = gone.lock() {
                g.get_or_insert(why.clone());
            }
        }
        if !quiet {
            report(&result.0);
        }
        result.0
    };

    let mut results: Vec<Option<CaseResult>> = vec![None; total];
    let concurrent: Vec<usize> = (0..total).filter(|i| !cases[*i].case.serial).collect();
    let serial: Vec<usize> = (0..total).filter(|i| cases[*i].case.serial).collect();

    let next = AtomicUsize::new(0);
    let slots = Mutex::new(&mut results);
    let retry = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..config.jobs.max(1).min(concurrent.len().max(1)) {
            s.spawn(|| loop {
                let k = next.fetch_add(1, Ordering::SeqCst);
                let Some(&index) = concurrent.get(k) else {
                    break;
                };
                // A case that timed out while others were in flight may only
                // have waited behind them (a one-worker server): it is tried
                // again alone before it counts.
                let r = run_one(index, true);
                if r.timed_out {
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
        results[index] = Some(run_one(index, false));
    }
    results
        .into_iter()
        .map(|r| r.expect("every case ran"))
        .collect()
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
    let started = Instant::now();
    let played = play_case(lc, to, config, token);
    let elapsed = started.elapsed();
    let is_gone = || gone_within(to.server_gone, EXIT_GRACE);
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
