//! Conformance checking: the runner (case -> request -> observation) and the
//! judge (a pure function of case and observation).

mod judge;
mod proxied;
mod runner;

pub use judge::{describe, judge, Exchange, Outcome, Verdict};
pub use proxied::{apply_proxy_effects, ProxyInFront};
pub use runner::{build_request, run_cases, CaseResult, Progress, RunTarget, RunnerConfig};
