//! Reporters: they turn results into text and never touch the network.

mod check;
mod console;
mod coverage;

pub use check::{CheckReport, Summary, ToolInfo};
pub use console::{render_check, render_servers, render_specs};
pub use coverage::{coverage_json, render_coverage};
