//! `wsgiprobe check --differential`: the differential corpus against one
//! stack or several, one after another, and the report comparing them.

use std::io::IsTerminal;
use std::time::SystemTime;

use anyhow::{Context, Result};

use super::events;
use crate::cli::{CheckArgs, ColorChoice, OutputArgs, PlannedStack};
use crate::conformance::new_run_id;
use crate::differential::{corpus, escape_bytes, run_corpus, Entry, Stage};
use crate::exit::Exit;
use crate::gateway::Gateway;
use crate::http::latin1_bytes;
use crate::report::{Console, DiffStack, DifferentialReport, Document, Exports, ToolInfo};

/// Runs `check --differential`. Exit 1 when a stack handed its application
/// a request the bytes did not frame as one (a security finding), 2 when
/// a stack could not be run, else 0: disagreements alone are information.
pub fn run(args: &CheckArgs, output: &OutputArgs) -> Result<Exit> {
    let stacks = args.target.stack_plans()?;
    let entries = corpus::load(args.select.specs.as_deref())
        .and_then(|all| corpus::select(all, &args.select.only, &args.select.skip))
        .context("invalid differential corpus")?;
    let color = if args.no_color {
        ColorChoice::Never
    } else {
        output.color
    };
    let console = Console {
        color: color.enabled(std::io::stdout().is_terminal()),
        verbose: args.verbose,
        quiet: output.quiet,
        width: crate::report::style::terminal_width(),
    };
    let say = |line: &str| {
        if !output.quiet {
            events::say(line);
        }
    };
    let mut exports = Exports::standard(console, args.json.as_deref(), args.markdown.as_deref());
    super::gate::add_github(&mut exports);
    let jobs = usize::from(args.jobs);
    let started = SystemTime::now();
    let mut runs = Vec::new();
    for (i, stack) in stacks.iter().enumerate() {
        say(&format!(
            "wsgiprobe: stack {}/{}: {} ({} requests)",
            i + 1,
            stacks.len(),
            stack.label,
            entries.len()
        ));
        let result = run_stack(stack, &entries, jobs, !output.quiet).map_err(|e| format!("{e:#}"));
        if let Err(e) = &result {
            events::say(&format!("wsgiprobe: {} could not be run: {e}", stack.label));
        }
        runs.push(DiffStack {
            label: stack.label.clone(),
            behind_proxy: stack.plan.as_ref().is_ok_and(|p| p.spec().proxy.is_some()),
            result,
        });
    }
    let report = DifferentialReport {
        tool: ToolInfo::default(),
        started,
        shown_bytes: entries.iter().map(shown_bytes).collect(),
        entries,
        stacks: runs,
    };
    exports.write(&Document::Differential(&report))?;
    Ok(if report.security_findings() > 0 {
        Exit::Failures
    } else if report.stack_failed() {
        Exit::Harness
    } else {
        Exit::Clean
    })
}

/// Starts a stack, sends it the corpus, stops it.
fn run_stack(
    stack: &PlannedStack,
    entries: &[Entry],
    jobs: usize,
    chatty: bool,
) -> Result<(crate::gateway::Stack, Vec<crate::differential::Reaction>)> {
    let what = &stack.label;
    let plan = stack
        .plan
        .clone()
        .with_context(|| format!("could not start {what}"))?;
    let sink = events::sink(chatty);
    let gateway =
        Gateway::start(&plan, &sink).with_context(|| format!("could not start {what}"))?;
    let gone = || gateway.exited();
    let reactions = run_corpus(
        entries,
        &Stage {
            target: &gateway.target,
            base_path: &gateway.base_path,
            gone: &gone,
        },
        jobs,
        &new_run_id(),
    );
    let stack = gateway.stack.clone();
    gateway.stop(&sink);
    Ok((stack, reactions))
}

/// The bytes of an entry as reports show them: escaped, with what differs
/// from stack to stack left as placeholders (`{host}`, the probe's control
/// headers, a Content-Length computed from them, the 64 KiB run).
fn shown_bytes(entry: &Entry) -> String {
    escape_bytes(&latin1_bytes(&entry.raw).unwrap_or_default())
}
