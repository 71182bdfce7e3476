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
use gateway::{Gateway, GatewayKind};
use report::{CheckReport, ToolInfo};

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

fn load_cases(select: &SelectArgs) -> Result<Vec<spec::LoadedCase>> {
    let set = match &select.specs {
        Some(dir) => spec::load_dir(dir),
        None => spec::load_builtin(),
    }
    .context("invalid spec file")?;
    Ok(spec::select(&set, &select.selection())?)
}

fn check(args: CheckArgs) -> Result<Exit> {
    let gateway_spec = args.target.gateway_spec()?;
    if args.timeout == 0 {
        return Err(cli::UsageError::CaseTimeout.into());
    }
    let cases = load_cases(&args.select)?;
    let interactive = std::io::stderr().is_terminal();

    let what = match &gateway_spec.kind {
        GatewayKind::Server(name) => name.as_str().to_string(),
        GatewayKind::Command(cmd) => format!("`{cmd}`"),
        GatewayKind::Url(url) => url.clone(),
    };
    eprintln!("wsgiprobe: starting {what}...");
    let gateway =
        Gateway::start(&gateway_spec).with_context(|| format!("could not start {what}"))?;
    eprintln!(
        "wsgiprobe: running {} cases against {}",
        cases.len(),
        gateway.stack.target
    );

    let started = SystemTime::now();
    let clock = Instant::now();
    let config = RunnerConfig {
        jobs: usize::from(args.jobs),
        case_timeout: Duration::from_millis(args.timeout),
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
        &cases,
        &RunTarget {
            target: &gateway.target,
            base_path: &gateway.base_path,
            server_gone: &server_gone,
        },
        &config,
        Some(tx),
    );
    let _ = printer.join();

    let report = CheckReport {
        tool: ToolInfo::default(),
        stack: gateway.stack.clone(),
        started,
        duration: clock.elapsed(),
        strict: args.strict,
        server_exited: gateway.exited(),
        results,
    };
    drop(gateway);

    let json_to_stdout = args.json.as_deref().is_some_and(|p| p.as_os_str() == "-");
    if json_to_stdout {
        println!("{}", serde_json::to_string_pretty(&report.to_json())?);
    } else {
        let color = !args.no_color && std::io::stdout().is_terminal();
        print!("{}", report::render_check(&report, color));
    }
    if let Some(path) = args.json.as_deref().filter(|_| !json_to_stdout) {
        let text = serde_json::to_string_pretty(&report.to_json())?;
        std::fs::write(path, text + "\n")
            .with_context(|| format!("could not write the JSON report to {}", path.display()))?;
    }
    Ok(exit_for(&report))
}

/// Failures beat errors: a run that found a broken MUST says so even when
/// some other case could not be decided.
pub fn exit_for(report: &CheckReport) -> Exit {
    let s = report.summary();
    if s.fail > 0 || (report.strict && s.warn > 0) {
        Exit::Failures
    } else if s.error > 0 {
        Exit::Harness
    } else {
        Exit::Clean
    }
}

fn specs(args: SpecsArgs) -> Result<Exit> {
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
        "host it with any WSGI server from that folder, for example:\n  cd {} && gunicorn --bind 127.0.0.1:8000 {}\nthen run: wsgiprobe check --url http://127.0.0.1:8000/",
        files.dir.display(),
        probe::APP_SPEC
    );
    Ok(Exit::Clean)
}

fn servers(args: ServersArgs) -> Result<Exit> {
    use clap::ValueEnum;
    use gateway::ServerName;

    let python = &args.python;
    let python_version = gateway::python_version(python)
        .with_context(|| format!("cannot look for servers in {python}"))?;
    // One interpreter start per server; in parallel, as each import can take a second.
    let found: Vec<(ServerName, Result<Option<String>, String>)> = std::thread::scope(|s| {
        let handles: Vec<_> = ServerName::value_variants()
            .iter()
            .map(|name| {
                s.spawn(move || {
                    let v = gateway::version(*name, python).map_err(|e| e.to_string());
                    (*name, v)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("version lookup thread"))
            .collect()
    });
    let rows: Vec<serde_json::Value> = found
        .iter()
        .map(|(name, v)| {
            let (available, version, problem) = match v {
                Ok(Some(ver)) => (true, Some(ver.clone()), None),
                Ok(None) => (true, Some(format!("Python {python_version}")), None),
                Err(e) => (
                    false,
                    None,
                    Some(e.lines().next().unwrap_or("").to_string()),
                ),
            };
            serde_json::json!({
                "server": name.as_str(),
                "available": available,
                "version": version,
                "package": name.package(),
                "command": gateway::template(*name),
                "options": gateway::options(*name),
                "problem": problem,
            })
        })
        .collect();
    if args.json {
        let doc = serde_json::json!({"python": python, "python_version": python_version, "servers": rows});
        println!("{}", serde_json::to_string_pretty(&doc)?);
    } else {
        print!("{}", report::render_servers(python, &python_version, &rows));
    }
    Ok(Exit::Clean)
}
