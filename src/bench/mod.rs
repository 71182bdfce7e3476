//! `wsgiprobe bench`: drives load through a stack and reports latency.
//!
//! A [`Plan`] (model, workload, connections, duration) runs on the
//! [`engine`], one event loop per worker thread with its own histograms;
//! [`run_plan`] merges them into a [`RunResult`], and the report turns that
//! into a table and JSON. docs/bench.md describes the method.

pub mod engine;
pub mod parse;
pub mod plan;
pub mod report;
pub mod run;
pub mod stats;

pub use plan::{parse_duration, Model, Plan, ResponseCheck, Stop, Workload, WorkloadName};
pub use report::{BenchReport, Generator};
pub use run::{run_plan, RunResult};
