//! One file per subcommand. Each turns its arguments into a validated plan
//! before any work starts, runs it, and renders what came back; only this
//! layer and `report/` print.

pub mod bench;
pub mod check;
pub mod compare;
pub mod completions;
pub mod differential;
pub mod events;
pub(crate) mod gate;
pub mod merge;
pub mod probe;
pub mod report;
pub mod servers;
mod spec_set;
pub mod specs;
pub mod suite;
