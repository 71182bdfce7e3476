//! Suites: stacks × workloads × load levels in one run, the sustainable
//! rate under a latency SLO, what the server itself costs, and comparing
//! two runs.
//!
//! A suite file is validated whole into a [`SuitePlan`] (`file`) before
//! any stack starts; `run` drives it level by level (each a bench plan on
//! the engine), sampling the stack's processes (`cost`) and searching the
//! sustainable rate (`sustainable`); `environment` describes the machine.
//! `compare` reads two bench or suite reports and judges each change with
//! the Mann–Whitney U test (`mann_whitney`). Results are data for
//! `report/`; nothing here prints.

pub mod compare;
pub mod cost;
pub mod environment;
pub mod file;
pub mod mann_whitney;
pub mod run;
pub mod sustainable;

pub use file::{SuiteFileError, SuitePlan, SuiteWorkload, SustainableSpec};
pub use run::{run, SuiteError, SuiteEvent};
