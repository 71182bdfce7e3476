//! `wsgiprobe bench`: its arguments validated into a plan, the run, the report.

use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use anyhow::{bail, Context, Result};

use super::events;
use super::gate;
use crate::bench::engine::process_cpu;
use crate::bench::plan::{Model, Plan, ResponseCheck, Stop, Workload, WorkloadName, MAX_SIZE};
use crate::bench::run::run_plan;
use crate::cli::BenchArgs;
use crate::exit::Exit;
use crate::gateway::{Gateway, Stack};
use crate::http::{round_trip, Target};
use crate::report::style::ms;
use crate::report::{BenchReport, Console, Document, Exports};

/// Bad bench options; each says what to use instead.
#[derive(Debug, thiserror::Error)]
pub enum BenchUsage {
    #[error("-c/--connections must be at least 1")]
    Connections,
    #[error("--rate must be a positive number of requests per second")]
    Rate,
    #[error("-n/--requests must be at least 1")]
    Requests,
    #[error("-d/--duration must be longer than zero")]
    Duration,
    #[error("--timeout must be longer than zero")]
    Timeout,
    #[error("--size must be at most {MAX_SIZE} bytes")]
    Size,
    #[error("--load-threads must be at least 1")]
    Threads,
}

impl BenchArgs {
    fn workload(&self) -> Workload {
        match self.workload {
            None if self.target.url.is_some() => Workload::Get,
            None | Some(WorkloadName::Hello) => Workload::Hello,
            Some(WorkloadName::Payload) => Workload::Payload { size: self.size },
            Some(WorkloadName::Stream) => Workload::Stream {
                chunks: self.chunks,
                size: self.size,
            },
            Some(WorkloadName::Echo) => Workload::Echo { size: self.size },
            Some(WorkloadName::Sleep) => Workload::Sleep { ms: self.ms },
            Some(WorkloadName::Cpu) => Workload::Cpu { ms: self.ms },
        }
    }

    fn model(&self) -> Result<Model, BenchUsage> {
        match self.rate {
            None => Ok(Model::Closed),
            Some(r) if r.is_finite() && r > 0.0 => Ok(Model::Open { rate: r }),
            Some(_) => Err(BenchUsage::Rate),
        }
    }

    fn stop(&self) -> Result<Stop, BenchUsage> {
        match (self.requests, self.duration) {
            (Some(0), _) => Err(BenchUsage::Requests),
            (Some(n), _) => Ok(Stop::Count(n)),
            (None, Some(d)) if d.is_zero() => Err(BenchUsage::Duration),
            (None, d) => Ok(Stop::Duration(d.unwrap_or(Duration::from_secs(10)))),
        }
    }

    fn threads(&self) -> Result<usize, BenchUsage> {
        match self.load_threads {
            Some(0) => Err(BenchUsage::Threads),
            Some(n) => Ok(n),
            None => Ok(default_threads()),
        }
    }
}

/// Half the CPUs: on the machine that also runs the stack, the generator
/// must not take the cores the server needs.
pub fn default_threads() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get() / 2)
        .unwrap_or(1)
        .max(1)
}

/// Runs `wsgiprobe bench`.
pub fn run(args: BenchArgs) -> Result<Exit> {
    let workload = args.workload();
    let model = args.model()?;
    let stop = args.stop()?;
    let threads = args.threads()?;
    let mut exports = Exports::standard(Console::default(), args.json.as_deref(), None);
    gate::add_github(&mut exports);
    if args.connections == 0 {
        return Err(BenchUsage::Connections.into());
    }
    if args.timeout.is_zero() {
        return Err(BenchUsage::Timeout.into());
    }
    if args.size > MAX_SIZE {
        return Err(BenchUsage::Size.into());
    }
    let planned = args.target.stack_plan()?;
    let what = &planned.label;
    let plan = planned
        .plan
        .with_context(|| format!("could not start {what}"))?;

    // A plain GET needs no probe, so any server will do; everything else
    // goes through the gateway, which checks that the probe answers.
    let (gateway, target, base_path, stack) = match (plan.url(), &workload) {
        (Some(url), Workload::Get) => {
            let stack = Stack::for_url(&url.url, &url.target, None);
            (None, url.target.clone(), url.base_path.clone(), stack)
        }
        _ => {
            let g = Gateway::start(&plan, &events::to_stderr)
                .with_context(|| format!("could not start {what}"))?;
            let (t, b, s) = (g.target.clone(), g.base_path.clone(), g.stack.clone());
            (Some(g), t, b, s)
        }
    };

    let request: Arc<[u8]> = workload.request(&base_path, &target.authority()).into();
    let check = ResponseCheck {
        body: workload.expected_body().map(Arc::from),
        sample_every: args.sample_bodies.max(1),
    };
    validate(&target, &request, &check, args.timeout).with_context(|| {
        format!(
            "the {} workload does not answer as it should at {}",
            workload.name(),
            stack.target
        )
    })?;

    let plan = Plan {
        model,
        connections: args.connections,
        threads,
        stop,
        warmup: args.warmup,
        timeout: args.timeout,
        request,
        check,
    };
    let interactive = std::io::stderr().is_terminal();
    eprintln!(
        "wsgiprobe: {} load on {} ({}), warm-up {:?}",
        match model {
            Model::Closed => "closed-loop".to_string(),
            Model::Open { rate } => format!("open-loop {rate} req/s"),
        },
        stack.target,
        workload.name(),
        plan.warmup
    );
    let started = SystemTime::now();
    let cpu_before = process_cpu();
    let total = match stop {
        Stop::Duration(d) => format!("/{}s", d.as_secs()),
        Stop::Count(_) => String::new(),
    };
    let mut progress = |p: crate::bench::stats::TimelinePoint| {
        if interactive {
            eprint!(
                "\r\x1b[2K[{}s{total}] {} req/s, {} errors, p50 {}, p99 {}",
                p.second + 1,
                p.requests,
                p.errors,
                ms(p.p50_us),
                ms(p.p99_us)
            );
            let _ = std::io::stderr().flush();
        }
    };
    let result = run_plan(&plan, &target, &mut progress).context("the load generator failed")?;
    if interactive {
        eprint!("\r\x1b[2K");
    }
    let process_cpu_used = process_cpu().saturating_sub(cpu_before);
    if let Some(g) = gateway {
        g.stop(&events::to_stderr);
    }

    let mut report = BenchReport::new(
        stack,
        started,
        workload,
        plan,
        result,
        process_cpu_used,
        args.allow_errors,
    );
    report.check_thresholds(&args.fail_if);
    exports.write(&Document::Bench(&report))?;
    if args.json.as_deref().is_some_and(|p| p.as_os_str() == "-") {
        // The terminal summary, which names them, is not on standard output.
        for line in crate::report::broken_lines(&report.thresholds) {
            eprintln!("wsgiprobe: {line}");
        }
    }
    Ok(
        if report.valid() && report.broken_thresholds().next().is_none() {
            Exit::Clean
        } else {
            Exit::Failures
        },
    )
}

/// One request before any load: the workload must answer 2xx with the
/// right body, or measuring it means nothing.
fn validate(
    target: &Target,
    request: &[u8],
    check: &ResponseCheck,
    timeout: Duration,
) -> Result<()> {
    let response = round_trip(target, request, false, timeout)?;
    if !(200..300).contains(&response.status) {
        let body = String::from_utf8_lossy(&response.body);
        bail!(
            "status {} (body: {:?})",
            response.status,
            body.chars().take(200).collect::<String>()
        );
    }
    if let Some(want) = &check.body {
        if response.body != **want {
            bail!(
                "body of {} bytes differs from the expected {} bytes (starts {:?})",
                response.body.len(),
                want.len(),
                String::from_utf8_lossy(&response.body[..response.body.len().min(60)])
            );
        }
    }
    Ok(())
}
