//! wsgiprobe: checks WSGI gateway servers against PEP 3333.
//!
//! `run` is the whole program; `main.rs` only maps its result to an exit code.

pub mod bench;
pub mod cli;
pub mod conformance;
pub mod gateway;
pub mod http;
pub mod probe;
pub mod report;
pub mod spec;

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, Result};

use cli::{CheckArgs, Cli, Command, ProbeArgs, SelectArgs, ServersArgs, SpecsArgs};
use conformance::{run_cases, Outcome, Progress, RunTarget, RunnerConfig};
use gateway::Gateway;
use report::{CheckReport, MatrixReport, StackRun, ToolInfo};

/// How a run ended; `main` turns it into the process exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// No failure (with `--strict`, no warning either).
    Clean,
    /// The gateway broke a requirement.
    Failures,
    /// The harness could not run or could not decide.
    Harness,
}

impl Exit {
    pub fn code(self) -> i32 {
        match self {
            Exit::Clean => 0,
            Exit::Failures => 1,
            Exit::Harness => 2,
        }
    }
}

/// Runs one command line.
pub fn run(cli: Cli) -> Result<Exit> {
    match cli.command {
        Command::Check(args) => check(args),
        Command::Specs(args) => specs(args),
        Command::Probe(args) => probe_out(args),
        Command::Servers(args) => servers(args),
        Command::Bench(args) => bench::bench(args),
    }
}

fn load_set(select: &SelectArgs) -> Result<spec::SpecSet> {
    match &select.specs {
        Some(dir) => spec::load_dir(dir),
        None => spec::load_builtin(),
    }
    .context("invalid spec file")
}

fn load_cases(select: &SelectArgs) -> Result<Vec<spec::LoadedCase>> {
    let set = load_set(select)?;
    Ok(spec::select(&set, &select.selection())?)
}

fn check(args: CheckArgs) -> Result<Exit> {
    let specs = args.target.gateway_specs()?;
    if args.timeout == 0 {
        return Err(cli::UsageError::CaseTimeout.into());
    }
    let set = load_set(&args.select)?;
    let cases = spec::select(&set, &args.select.selection())?;
    let quirks = load_quirks(&set, &args)?;
    if specs.len() == 1 {
        let mut report = check_stack(&specs[0], &cases, &args)?;
        report.apply_quirks(&quirks);
        let json_to_stdout = args.json.as_deref().is_some_and(|p| p.as_os_str() == "-");
        if json_to_stdout {
            println!("{}", serde_json::to_string_pretty(&report.to_json())?);
        } else {
            let color = !args.no_color && std::io::stdout().is_terminal();
            print!("{}", report::render_check(&report, color));
        }
        if let Some(path) = args.json.as_deref().filter(|_| !json_to_stdout) {
            write_report(path, &report.to_json())?;
        }
        if let Some(path) = &args.markdown {
            let matrix = MatrixReport {
                tool: ToolInfo::default(),
                started: report.started,
                strict: args.strict,
                runs: vec![StackRun {
                    label: specs[0].label(),
                    result: Ok(report.clone()),
                }],
            };
            write_text(path, &matrix.markdown(), "Markdown report")?;
        }
        return Ok(exit_for(&report));
    }

    // A matrix: the stacks one after another, so none competes with another
    // for the machine; a stack that does not start is a column of its own.
    let started = SystemTime::now();
    let mut runs = Vec::new();
    for (i, spec) in specs.iter().enumerate() {
        let label = spec.label();
        eprintln!("wsgiprobe: stack {}/{}: {label}", i + 1, specs.len());
        let result = check_stack(spec, &cases, &args)
            .map(|mut r| {
                r.apply_quirks(&quirks);
                r
            })
            .map_err(|e| format!("{e:#}"));
        if let Err(e) = &result {
            eprintln!("wsgiprobe: {label} could not be checked: {e}");
        }
        runs.push(StackRun { label, result });
    }
    let matrix = MatrixReport {
        tool: ToolInfo::default(),
        started,
        strict: args.strict,
        runs,
    };
    let json_to_stdout = args.json.as_deref().is_some_and(|p| p.as_os_str() == "-");
    if json_to_stdout {
        println!("{}", serde_json::to_string_pretty(&matrix.to_json())?);
    } else {
        let color = !args.no_color && std::io::stdout().is_terminal();
        print!("{}", matrix.render(color));
    }
    if let Some(path) = args.json.as_deref().filter(|_| !json_to_stdout) {
        write_report(path, &matrix.to_json())?;
    }
    if let Some(path) = &args.markdown {
        write_text(path, &matrix.markdown(), "Markdown report")?;
    }
    let exits: Vec<Exit> = matrix
        .runs
        .iter()
        .map(|r| r.result.as_ref().map_or(Exit::Harness, exit_for))
        .collect();
    Ok(if exits.contains(&Exit::Failures) {
        Exit::Failures
    } else if exits.contains(&Exit::Harness) {
        Exit::Harness
    } else {
        Exit::Clean
    })
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

fn write_report(path: &std::path::Path, doc: &serde_json::Value) -> Result<()> {
    write_text(
        path,
        &(serde_json::to_string_pretty(doc)? + "\n"),
        "JSON report",
    )
}

fn write_text(path: &std::path::Path, text: &str, what: &str) -> Result<()> {
    std::fs::write(path, text)
        .with_context(|| format!("could not write the {what} to {}", path.display()))
}

/// Starts one stack, runs the cases against it, stops it.
fn check_stack(
    spec: &gateway::GatewaySpec,
    cases: &[spec::LoadedCase],
    args: &CheckArgs,
) -> Result<CheckReport> {
    let interactive = std::io::stderr().is_terminal();
    let what = spec.label();
    eprintln!("wsgiprobe: starting {what}...");
    let gateway = Gateway::start(spec).with_context(|| format!("could not start {what}"))?;
    eprintln!(
        "wsgiprobe: running {} cases against {}",
        cases.len(),
        gateway.stack.target
    );

    let started = SystemTime::now();
    let clock = Instant::now();
    let run_id = conformance::new_run_id();
    let config = RunnerConfig {
        jobs: usize::from(args.jobs),
        case_timeout: Duration::from_millis(args.timeout),
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
    let results = run_cases(
        cases,
        &RunTarget {
            target: &gateway.target,
            base_path: &gateway.base_path,
            server_gone: &server_gone,
        },
        &config,
        Some(tx),
    );
    let _ = printer.join();
    let validate = spec
        .validate
        .then(|| validate_findings(&gateway, &run_id, cases, config.case_timeout));

    let mut results = results;
    if let Some(p) = &spec.proxy {
        conformance::apply_proxy_effects(
            &mut results,
            conformance::ProxyInFront {
                kind: p.kind.as_str(),
                keepalive: p.keepalive,
            },
        );
    }
    let report = CheckReport {
        tool: ToolInfo::default(),
        stack: gateway.stack.clone(),
        started,
        duration: clock.elapsed(),
        strict: args.strict,
        server_exited: gateway.exited(),
        results,
        validate,
        quirks_applied: Vec::new(),
    };
    drop(gateway);
    Ok(report)
}

/// Reads back what `wsgiref.validate` found during the run.
fn validate_findings(
    gateway: &Gateway,
    run_id: &str,
    cases: &[spec::LoadedCase],
    timeout: Duration,
) -> conformance::ValidateReport {
    let mut report = conformance::ValidateReport {
        callable: probe::VALIDATED_APP_SPEC.to_string(),
        ..Default::default()
    };
    match conformance::validate::gather(&gateway.target, &gateway.base_path, run_id, timeout) {
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
/// some other case could not be decided.
pub fn exit_for(report: &CheckReport) -> Exit {
    let s = report.summary();
    // wsgiref.validate's own findings never change a verdict; those about
    // the server count like warnings: only with --strict.
    let validate = report.validate.as_ref();
    let server_findings = validate.map_or(0, |v| v.server_findings());
    if s.fail > 0 || (report.strict && (s.warn > 0 || server_findings > 0)) {
        Exit::Failures
    } else if s.error > 0 || validate.is_some_and(|v| v.problem.is_some()) {
        Exit::Harness
    } else {
        Exit::Clean
    }
}

fn specs(args: SpecsArgs) -> Result<Exit> {
    if args.coverage {
        let set = load_set(&args.select)?;
        let cases = spec::select(&set, &args.select.selection())?;
        let rows = spec::coverage(&set, &cases);
        if args.json {
            println!(
                "{}",
                serde_json::to_string_pretty(&report::coverage_json(&rows))?
            );
        } else {
            print!("{}", report::render_coverage(&rows));
        }
        return Ok(Exit::Clean);
    }
    let cases = load_cases(&args.select)?;
    if args.json {
        let list: Vec<_> = cases
            .iter()
            .map(|lc| {
                let mut v = serde_json::to_value(&lc.case).unwrap_or_default();
                v["area"] = lc.area.clone().into();
                v
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&list)?);
    } else {
        print!("{}", report::render_specs(&cases));
    }
    Ok(Exit::Clean)
}

fn probe_out(args: ProbeArgs) -> Result<Exit> {
    let files = probe::install(&args.out)
        .with_context(|| format!("could not write the probe app into {}", args.out.display()))?;
    println!(
        "wrote {} and {}",
        files.app.display(),
        files.wsgiref_runner.display()
    );
    println!(
        "host it with any WSGI server from that folder, for example:\n  cd {} && gunicorn --bind 127.0.0.1:8000 {}\nthen run: wsgiprobe check --url http://127.0.0.1:8000/\n(for check --validate, host {} instead)",
        files.dir.display(),
        probe::APP_SPEC,
        probe::VALIDATED_APP_SPEC
    );
    Ok(Exit::Clean)
}

fn servers(args: ServersArgs) -> Result<Exit> {
    let book = match &args.recipes {
        Some(path) => gateway::RecipeBook::with_file(path).context("invalid recipe file")?,
        None => gateway::RecipeBook::builtin(),
    };
    let python = &args.python;
    let python_version = gateway::python_version(python)
        .with_context(|| format!("cannot look for servers in {python}"))?;
    let names: Vec<&str> = book.names().collect();
    // One interpreter start per server; in parallel, as each import can take a second.
    let found: Vec<Result<Option<String>, String>> = std::thread::scope(|s| {
        let handles: Vec<_> = names
            .iter()
            .map(|name| {
                let recipe = book.get(name).expect("listed");
                s.spawn(move || {
                    gateway::version(name, recipe, python, &[]).map_err(|e| e.to_string())
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("version lookup thread"))
            .collect()
    });
    let rows: Vec<serde_json::Value> = names
        .iter()
        .zip(&found)
        .map(|(name, v)| {
            let recipe = book.get(name).expect("listed");
            let (available, version, problem) = match v {
                Ok(Some(ver)) => (true, Some(ver.clone()), None),
                Ok(None) => (true, Some(format!("Python {python_version}")), None),
                Err(e) => (
                    false,
                    None,
                    Some(e.lines().next().unwrap_or("").to_string()),
                ),
            };
            let mut options = recipe.options.clone();
            options.extend(recipe.defaults.clone());
            serde_json::json!({
                "server": name,
                "description": recipe.description,
                "available": available,
                "version": version,
                "package": recipe.package,
                "command": recipe.tcp,
                "unix": recipe.unix.is_some(),
                "uwsgi_protocol": recipe.uwsgi.is_some(),
                "workers": recipe.workers.is_some(),
                "threads": recipe.threads.is_some(),
                "worker_classes": recipe.worker_classes,
                "options": options,
                "problem": problem,
            })
        })
        .collect();
    let nginx = gateway::nginx_version(&args.nginx).map_err(|e| e.to_string());
    if args.json {
        let doc = serde_json::json!({
            "python": python,
            "python_version": python_version,
            "servers": rows,
            "nginx": match &nginx {
                Ok(v) => serde_json::json!({"available": true, "version": v}),
                Err(e) => serde_json::json!({"available": false, "problem": e}),
            },
            "cache": gateway::cache_dir(),
        });
        println!("{}", serde_json::to_string_pretty(&doc)?);
    } else {
        print!("{}", report::render_servers(python, &python_version, &rows));
        match nginx {
            Ok(v) => println!("nginx {v} ({}), for --proxy", args.nginx),
            Err(e) => println!("nginx: {e}"),
        }
        println!(
            "managed environments (--server NAME==VERSION) live in {}",
            gateway::cache_dir().display()
        );
    }
    Ok(Exit::Clean)
}
