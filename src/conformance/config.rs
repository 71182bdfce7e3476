//! How a run is set up: where the cases go, how to tell whether the server
//! is still there, and the runner's limits.

use std::time::Duration;

use super::judge::Outcome;
use crate::cancel::Cancel;
use crate::http::Target;

/// How the runner behaves.
#[derive(Debug, Clone)]
pub struct RunnerConfig {
    /// Cases in flight at once.
    pub jobs: usize,
    /// Time for one exchange when the case does not set its own.
    pub case_timeout: Duration,
    /// The most body bytes kept of one response (per connection).
    pub max_body: usize,
    /// How long to keep polling the side channel for expected events.
    pub events_wait: Duration,
    /// The prefix of every token the run sends (`RUNID-INDEX`); a fresh one
    /// when absent.
    pub run_id: Option<String>,
    /// Stop taking cases once this is set; cases in flight are dropped.
    pub cancel: Cancel,
    /// Stop taking cases after the first with one of these outcomes
    /// (`--fail-fast`); empty: run them all.
    pub fail_fast: Vec<Outcome>,
}

impl Default for RunnerConfig {
    fn default() -> Self {
        RunnerConfig {
            jobs: 4,
            case_timeout: Duration::from_secs(5),
            max_body: crate::http::DEFAULT_BODY_LIMIT,
            events_wait: Duration::from_secs(2),
            run_id: None,
            cancel: Cancel::default(),
            fail_fast: Vec::new(),
        }
    }
}

/// Where the cases go and how to tell whether the server is still there.
pub struct RunTarget<'a> {
    pub target: &'a Target,
    pub base_path: &'a str,
    /// `Some(why)` once the server has exited.
    pub server_gone: &'a (dyn Fn() -> Option<String> + Sync),
    /// nginx is in front of the server (for cases that need a proxy).
    pub behind_proxy: bool,
}
