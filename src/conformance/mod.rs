//! Conformance checking: the runner (case -> request -> observation) and the
//! judge (a pure function of case and observation).

mod concurrent;
mod judge;
mod proxied;
pub mod quirks;
mod runner;
pub mod validate;

pub use judge::{describe, judge, Exchange, Outcome, Verdict};
pub use proxied::{apply_proxy_effects, ProxyInFront};
pub use runner::{
    build_request, new_run_id, run_cases, CaseResult, Progress, RunTarget, RunnerConfig,
};
pub use validate::ValidateReport;
