//! Conformance checking. A case flows through these modules in order:
//!
//! - `schedule`: which case runs when (concurrency, retries, serial cases,
//!   progress events);
//! - `case`: one case from its request bytes (`request`) through its
//!   stimulus, played on the connection by `exchange` (or on several by
//!   `concurrent`), to its evidence (`evidence`: the [`Exchange`]);
//! - `verdict`: the one verdict pipeline, judge -> server gone -> proxy
//!   effect -> quirk; `judge` is its first stage, a pure function of case
//!   and exchange, and `quirks` reads the quirk files its last stage uses.
//!
//! `validate` gathers what `wsgiref.validate` found, beside the verdicts.

mod case;
mod concurrent;
mod config;
mod deploy;
mod evidence;
mod exchange;
mod judge;
pub mod quirks;
mod request;
mod schedule;
pub mod validate;
mod verdict;

pub use config::{RunTarget, RunnerConfig};
pub use evidence::{Exchange, WireFacts};
pub use judge::{describe, judge, Outcome, Verdict};
pub use request::build_request;
pub use schedule::{new_run_id, run_cases, CaseResult, CaseRun, Progress, Stopped};
pub use validate::ValidateReport;
pub use verdict::{decide, quirk_stage, Decision, ProxyInFront, VerdictRules};
