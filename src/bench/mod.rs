//! `wsgiprobe bench`: drives load through a stack and reports latency.
//!
//! A [`Plan`] (model, workload, connections, duration) runs on the
//! [`engine`], one event loop per worker thread; each records every request
//! that ends in one place, [`record::Recorder::finish`], into its own
//! [`Totals`]. [`run_plan`] merges them into a [`RunResult`], and the report
//! turns that into a table and JSON (src/report/bench.rs). docs/bench.md describes the method.
//!
//! Files: `engine` (the worker loop and scheduling), `conn` (one
//! connection's I/O and judging of responses), `socket`, `parse` (the
//! response reader), `record` (the record point and [`Totals`]), `stats`
//! (histograms, error kinds, timeline), `run`, `plan`.

mod conn;
pub mod engine;
pub mod parse;
pub mod plan;
pub mod record;
pub mod run;
pub mod shard;
pub mod socket;
pub mod stats;
pub mod threshold;

pub use plan::{HttpRequest, Model, Plan, ResponseCheck, Stop, Workload, WorkloadName};
pub use record::Totals;
pub use run::{run_plan, RunResult};
pub use shard::{Shard, ShardPlan};
pub use threshold::{check_all, Checked, Figures, Threshold};
