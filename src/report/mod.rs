//! Reporters: they turn results into text and never touch the network.

mod check;
mod console;

pub use check::{CheckReport, Summary, ToolInfo};
pub use console::{render_check, render_servers, render_specs};
