//! `wsgiprobe check`: one stack or a matrix of stacks against the cases.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, Result};

use super::events;
use super::gate::GatePlan;
use super::spec_set::load_set;
use crate::cli::{CheckArgs, PlannedStack};
use crate::conformance::{
    self, run_cases, Outcome, Progress, ProxyInFront, RunTarget, RunnerConfig, VerdictRules,
};
use crate::exit::Exit;
use crate::gateway::Gateway;
use crate::limits;
use crate::probe;
use crate::report::{CheckReport, Console, Document, Exports, MatrixReport, StackRun, ToolInfo};
use crate::spec;

/// A check, validated before any server starts: the stacks in order, the
/// selected cases, the quirks, how the runner behaves and what to write.
struct CheckPlan {
    stacks: Vec<PlannedStack>,
    cases: Vec<spec::LoadedCase>,
    quirks: Vec<conformance::quirks::Quirk>,
    jobs: usize,
    case_timeout: Duration,
    max_body: usize,
    strict: bool,
    exports: Exports,
    gate: GatePlan,
}

impl CheckPlan {
    fn from_args(args: &CheckArgs) -> Result<CheckPlan> {
        // Ranges first: nothing is read, allocated or started for a value
        // out of range.
        let case_timeout = Duration::from_millis(limits::CASE_TIMEOUT.check(args.timeout)?);
        let max_body = limits::MAX_BODY.check(args.max_body)? as usize;
        let stacks = args.target.stack_plans()?;
        let set = load_set(&args.select)?;
        let cases = spec::select(&set, &args.select.selection())?;
        let quirks = load_quirks(&set, args)?;
        let console = Console {
            color: !args.no_color && std::io::stdout().is_terminal(),
        };
        let mut exports =
            Exports::standard(console, args.json.as_deref(), args.markdown.as_deref());
        exports.add_html(args.html.as_deref());
        let gate = GatePlan::from_args(args, &set, &mut exports)?;
        Ok(CheckPlan {
            stacks,
            cases,
            quirks,
            jobs: usize::from(args.jobs),
            case_timeout,
            max_body,
            strict: args.strict,
            exports,
            gate,
        })
    }
}

/// Runs `wsgiprobe check`.
pub fn run(args: CheckArgs) -> Result<Exit> {
    let plan = CheckPlan::from_args(&args)?;
    if let [stack] = plan.stacks.as_slice() {
        let report = check_stack(stack, &plan)?;
        plan.gate.write_update(&[(&stack.label, Some(&report))])?;
        plan.exports.write(&Document::Check {
            report: &report,
            label: &stack.label,
        })?;
        return Ok(exit_for(&report, plan.gate.updates()));
    }

    // A matrix: the stacks one after another, so none competes with another
    // for the machine; a stack that does not start is a column of its own.
    let started = SystemTime::now();
    let mut runs = Vec::new();
    for (i, stack) in plan.stacks.iter().enumerate() {
        let label = stack.label.clone();
        eprintln!("wsgiprobe: stack {}/{}: {label}", i + 1, plan.stacks.len());
        let result = check_stack(stack, &plan).map_err(|e| format!("{e:#}"));
        if let Err(e) = &result {
            eprintln!("wsgiprobe: {label} could not be checked: {e}");
        }
        runs.push(StackRun { label, result });
    }
    let matrix = MatrixReport {
        tool: ToolInfo::default(),
        started,
        strict: plan.strict,
        runs,
    };
    let ran: Vec<(&str, Option<&CheckReport>)> = matrix
        .runs
        .iter()
        .map(|r| (r.label.as_str(), r.result.as_ref().ok()))
        .collect();
    plan.gate.write_update(&ran)?;
    plan.exports.write(&Document::Matrix(&matrix))?;
    Ok(Exit::worst(matrix.runs.iter().map(|r| {
        r.result
            .as_ref()
            .map_or(Exit::Harness, |r| exit_for(r, plan.gate.updates()))
    })))
}

/// The quirks that apply to this run: the built-in ones (or a `--specs`
/// folder's own `quirks.toml`) and those of `--quirks FILE`, validated
/// against the case ids before any server starts.
fn load_quirks(set: &spec::SpecSet, args: &CheckArgs) -> Result<Vec<conformance::quirks::Quirk>> {
    use conformance::quirks;
    let known: std::collections::HashSet<&str> =
        set.cases.iter().map(|c| c.case.id.as_str()).collect();
    let mut all = match &args.select.specs {
        None => quirks::builtin(&known)?,
        Some(dir) => {
            let own = dir.join(spec::QUIRKS_FILE);
            if own.exists() {
                quirks::load_file(&own, &known)?
            } else {
                Vec::new()
            }
        }
    };
    if let Some(path) = &args.quirks {
        all.extend(quirks::load_file(path, &known).context("invalid quirk file")?);
    }
    Ok(all)
}

/// Starts one stack, runs the cases against it, stops it.
fn check_stack(stack: &PlannedStack, plan: &CheckPlan) -> Result<CheckReport> {
    let cases = &plan.cases;
    let interactive = std::io::stderr().is_terminal();
    let what = &stack.label;
    let stack_plan = stack
        .plan
        .clone()
        .with_context(|| format!("could not start {what}"))?;
    let spec = stack_plan.spec();
    let gateway = Gateway::start(&stack_plan, &events::to_stderr)
        .with_context(|| format!("could not start {what}"))?;
    eprintln!(
        "wsgiprobe: running {} cases against {}",
        cases.len(),
        gateway.stack.target
    );

    let started = SystemTime::now();
    let clock = Instant::now();
    let run_id = conformance::new_run_id();
    let config = RunnerConfig {
        jobs: plan.jobs,
        case_timeout: plan.case_timeout,
        max_body: plan.max_body,
        run_id: Some(run_id.clone()),
        ..RunnerConfig::default()
    };
    let (tx, rx) = std::sync::mpsc::channel();
    let printer = std::thread::spawn(move || {
        for Progress::Finished {
            done,
            total,
            id,
            outcome,
        } in rx
        {
            if interactive {
                eprint!("\r\x1b[2K[{done}/{total}] {} {id}", outcome.as_str());
                let _ = std::io::stderr().flush();
            } else if outcome != Outcome::Pass {
                eprintln!("[{done}/{total}] {} {id}", outcome.as_str());
            }
        }
        if interactive {
            eprint!("\r\x1b[2K");
        }
    });
    let server_gone = || gateway.exited();
    let proxy = spec.proxy.as_ref().map(|p| ProxyInFront {
        kind: p.kind.as_str(),
        keepalive: p.keepalive,
    });
    let results = run_cases(
        cases,
        &RunTarget {
            target: &gateway.target,
            base_path: &gateway.base_path,
            server_gone: &server_gone,
        },
        &config,
        &VerdictRules::for_stack(&gateway.stack, proxy, &plan.quirks),
        Some(tx),
    );
    let _ = printer.join();
    let validate = spec
        .validate
        .then(|| validate_findings(&gateway, &run_id, cases, &config));

    let quirks_applied = results.iter().filter_map(|r| r.quirk.clone()).collect();
    let mut report = CheckReport {
        tool: ToolInfo::default(),
        stack: gateway.stack.clone(),
        started,
        duration: clock.elapsed(),
        strict: plan.strict,
        server_exited: gateway.exited(),
        results,
        validate,
        quirks_applied,
        expectations: None,
    };
    report.expectations = plan
        .gate
        .compare(&report, &stack.label, plan.stacks.len() == 1);
    drop(gateway);
    Ok(report)
}

/// Reads back what `wsgiref.validate` found during the run.
fn validate_findings(
    gateway: &Gateway,
    run_id: &str,
    cases: &[spec::LoadedCase],
    config: &RunnerConfig,
) -> conformance::ValidateReport {
    let mut report = conformance::ValidateReport {
        callable: probe::VALIDATED_APP_SPEC.to_string(),
        ..Default::default()
    };
    match conformance::validate::gather(
        &gateway.target,
        &gateway.base_path,
        run_id,
        config.case_timeout,
        config.max_body,
    ) {
        Ok((validating, raw)) => {
            report.validating = validating;
            report.findings = conformance::ValidateReport::build(&raw, run_id, cases);
            if !validating {
                report.problem = Some(format!(
                    "the server does not host {}: host it instead of {} for --validate",
                    probe::VALIDATED_APP_SPEC,
                    probe::APP_SPEC
                ));
            }
        }
        Err(e) => report.problem = Some(e),
    }
    report
}

/// Failures beat errors: a run that found a broken MUST says so even when
/// some other case could not be decided. With expectations, a failure is
/// what the file did not expect (`CheckReport::fails_run`); after
/// `--update-expectations` the file describes the run, so only harness
/// trouble is left to report.
pub fn exit_for(report: &CheckReport, updated_expectations: bool) -> Exit {
    let s = report.summary();
    // wsgiref.validate's own findings never change a verdict; those about
    // the server count like warnings: only with --strict.
    let validate = report.validate.as_ref();
    let server_findings = validate.map_or(0, |v| v.server_findings());
    let failing = report.results.iter().any(|r| report.fails_run(r))
        || report.expectations.as_ref().is_some_and(|d| d.fails_run())
        || (report.strict && server_findings > 0);
    if failing && !updated_expectations {
        Exit::Failures
    } else if s.error > 0 || validate.is_some_and(|v| v.problem.is_some()) {
        Exit::Harness
    } else {
        Exit::Clean
    }
}
