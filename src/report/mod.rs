//! Reporters: they turn results into text and never touch the network.

mod bench;
mod bench_set;
mod check;
mod compare;
mod console;
mod coverage;
mod differential;
mod expectations;
mod export;
mod github;
mod hlog;
mod html;
mod junit;
mod markdown;
mod matrix;
mod merged;
mod pr_comment;
mod quirks;
mod saved;
pub mod style;
mod suite;
mod suite_view;
mod thresholds;
mod validate;

pub use bench::{BenchReport, Generator};
pub use bench_set::{BenchSet, BenchSetRun};
pub use check::{CheckReport, Summary, ToolInfo};
pub use compare::{BrokenLimit, CompareReport, CompareRow, Limit, MetricChange};
pub use console::{render_check, render_servers, render_specs};
pub use coverage::{coverage_json, render_coverage};
pub use differential::{describe_reaction, DiffStack, DifferentialReport};
pub use expectations::render_delta;
pub use export::{
    write_atomically, write_stdout, Console, Destination, Document, ExportError, Exporter, Exports,
    Json, Markdown,
};
pub use github::{GithubAnnotations, GithubSummary};
pub use hlog::{interval_log, Hlog};
pub use html::{render as render_html, stack_label, Html, RenderError, ReportKind};
pub use junit::Junit;
pub use matrix::{describe_stack, Column, MatrixReport, MatrixView, StackRun};
pub use merged::{MergeWindow, Merged, MergedShard};
pub use saved::{check_report as saved_check, matrix_report as saved_matrix, SavedError};
pub use suite::{
    trim_float, Environment, LevelResult, LevelSpec, MergedFiles, ProbeResult, ServerCost, Slo,
    StackFailure, SuiteReport, SuiteSetup, SuiteSharding, SuiteTiming, SustainableResult,
};
pub use suite_view::{rate as format_rate, Spread};
pub use thresholds::{bench_markdown, broken_lines, render_thresholds, threshold_annotations};
pub use validate::render_validate;
