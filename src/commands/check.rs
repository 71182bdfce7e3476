//! `wsgiprobe check`: one stack or a matrix of stacks against the cases.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, Result};

use super::events;
use super::gate::GatePlan;
use super::spec_set::load_set;
use crate::cli::{self, CheckArgs, ColorChoice, OutputArgs, PlannedStack};
use crate::conformance::{
    self, run_cases, Outcome, Progress, ProxyInFront, RunTarget, RunnerConfig, Stopped,
    VerdictRules,
};
use crate::exit::Exit;
use crate::gateway::{self, Gateway};
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
    fail_fast: bool,
    /// Progress and start-up messages on stderr.
    chatty: bool,
    exports: Exports,
    gate: GatePlan,
}

impl CheckPlan {
    fn from_args(args: &CheckArgs, output: &OutputArgs) -> Result<CheckPlan> {
        // Ranges first: nothing is read, allocated or started for a value
        // out of range.
        let timeout_ms = u64::try_from(args.timeout.as_millis()).unwrap_or(u64::MAX);
        let case_timeout = Duration::from_millis(limits::CASE_TIMEOUT.check(timeout_ms)?);
        let max_body = limits::MAX_BODY.check(args.max_body)? as usize;
        let mut target = args.target.clone();
        target.validate = args.validate;
        let stacks = target.stack_plans()?;
        let set = load_set(&args.select)?;
        let cases = spec::select(&set, &args.select.selection())?;
        let quirks = load_quirks(&set, args)?;
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
        let mut exports =
            Exports::standard(console, args.json.as_deref(), args.markdown.as_deref());
        exports.add_html(args.html.as_deref());
        if output.no_table {
            exports.drop_table();
        }
        let gate = GatePlan::from_args(args, &set, &mut exports)?;
        Ok(CheckPlan {
            stacks,
            cases,
            quirks,
            jobs: usize::from(args.jobs),
            case_timeout,
            max_body,
            strict: args.strict,
            fail_fast: args.fail_fast,
            chatty: !output.quiet,
            exports,
            gate,
        })
    }

    /// A line on stderr, unless `-q`.
    fn say(&self, line: &str) {
        if self.chatty {
            events::say(line);
        }
    }
}

/// Runs `wsgiprobe check`.
pub fn run(args: CheckArgs, output: &OutputArgs) -> Result<Exit> {
    if args.differential {
        return super::differential::run(&args, output);
    }
    let plan = CheckPlan::from_args(&args, output)?;
    // From here a signal lets the cases in flight come back; the partial
    // report is written below and the exit status says which signal it was.
    gateway::gather_on_interrupt();
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
        plan.say(&format!(
            "wsgiprobe: stack {}/{}: {label}",
            i + 1,
            plan.stacks.len()
        ));
        let result = check_stack(stack, &plan).map_err(|e| format!("{e:#}"));
        if gateway::interrupted().is_some() {
            // A stack cut short by the signal is kept when it got as far
            // as its cases; the stacks after it are not started.
            if let Ok(report) = result {
                runs.push(StackRun {
                    label,
                    result: Ok(report),
                });
            }
            break;
        }
        if let Err(e) = &result {
            plan.say(&format!("wsgiprobe: {label} could not be checked: {e}"));
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
    let interrupted = gateway::interrupted().map(Exit::Interrupted);
    Ok(Exit::worst(
        matrix
            .runs
            .iter()
            .map(|r| {
                r.result
                    .as_ref()
                    .map_or(Exit::Harness, |r| exit_for(r, plan.gate.updates()))
            })
            .chain(interrupted),
    ))
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
    let interactive = plan.chatty && std::io::stderr().is_terminal() && cli::fancy_terminal();
    let chatty = plan.chatty;
    let what = &stack.label;
    let stack_plan = stack
        .plan
        .clone()
        .with_context(|| format!("could not start {what}"))?;
    let spec = stack_plan.spec();
    let sink = events::sink(plan.chatty);
    let gateway =
        Gateway::start(&stack_plan, &sink).with_context(|| format!("could not start {what}"))?;
    plan.say(&format!(
        "wsgiprobe: running {} cases against {}",
        cases.len(),
        gateway.stack.target
    ));

    let started = SystemTime::now();
    let clock = Instant::now();
    let run_id = conformance::new_run_id();
    let fail_fast = match (plan.fail_fast, plan.strict) {
        (false, _) => vec![],
        (true, false) => vec![Outcome::Fail],
        (true, true) => vec![Outcome::Fail, Outcome::Warn],
    };
    let config = RunnerConfig {
        jobs: plan.jobs,
        case_timeout: plan.case_timeout,
        max_body: plan.max_body,
        run_id: Some(run_id.clone()),
        cancel: gateway::on_signal(),
        fail_fast,
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
            // The outcome as the report will show it (QUIRK, not the warn
            // the quirk explained).
            let tag = outcome.as_str().to_uppercase();
            let mut err = std::io::stderr().lock();
            if interactive {
                let _ = write!(err, "\r\x1b[2K[{done}/{total}] {tag} {id}");
                let _ = err.flush();
            } else if chatty && outcome != Outcome::Pass {
                let _ = writeln!(err, "[{done}/{total}] {tag} {id}");
            }
        }
        if interactive {
            let _ = write!(std::io::stderr(), "\r\x1b[2K");
        }
    });
    let server_gone = || gateway.exited();
    let proxy = spec.proxy.as_ref().map(|p| ProxyInFront {
        kind: p.kind.as_str(),
        keepalive: p.keepalive,
    });
    let deployment = stack_plan.deployment();
    let cases = &with_placeholders(cases, &gateway);
    let run = run_cases(
        cases,
        &RunTarget {
            target: &gateway.target,
            base_path: &gateway.base_path,
            server_gone: &server_gone,
            behind_proxy: spec.proxy.is_some(),
        },
        &config,
        &VerdictRules::for_stack(&gateway.stack, proxy, &plan.quirks).with_deployment(&deployment),
        Some(tx),
    );
    let _ = printer.join();
    let interrupted = (run.stopped == Some(Stopped::Cancelled))
        .then(gateway::interrupted)
        .flatten();
    let validate = (spec.validate && interrupted.is_none())
        .then(|| validate_findings(&gateway, &run_id, cases, &config));

    let quirks_applied = run.results.iter().filter_map(|r| r.quirk.clone()).collect();
    let mut report = CheckReport {
        tool: ToolInfo::default(),
        stack: gateway.stack.clone(),
        started,
        duration: clock.elapsed(),
        strict: plan.strict,
        // A server stopped by the signal handler did not exit on its own.
        server_exited: if interrupted.is_some() {
            None
        } else {
            gateway.exited()
        },
        results: run.results,
        validate,
        quirks_applied,
        expectations: None,
        stopped: run.stopped,
        interrupted,
        not_run: run.not_run,
    };
    report.expectations = plan
        .gate
        .compare(&report, &stack.label, plan.stacks.len() == 1);
    drop(gateway);
    Ok(report)
}

/// The cases with the stack's own values in their placeholders (`{port}`,
/// `{prefix}`, ...), as the client addresses it.
fn with_placeholders(cases: &[spec::LoadedCase], gateway: &Gateway) -> Vec<spec::LoadedCase> {
    let (hostname, port) = match gateway.target.host_port() {
        Some((host, port)) => (host.to_string(), Some(port)),
        None => ("localhost".to_string(), None),
    };
    let placeholders = spec::Placeholders {
        hostname,
        port,
        prefix: gateway.base_path.trim_end_matches('/').to_string(),
    };
    cases
        .iter()
        .map(|lc| spec::LoadedCase {
            case: placeholders.apply(&lc.case),
            ..lc.clone()
        })
        .collect()
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
    if let Some(signal) = report.interrupted {
        return Exit::Interrupted(signal);
    }
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
