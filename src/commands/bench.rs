//! `wsgiprobe bench`: its arguments validated into a plan, the run, the report.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use anyhow::{bail, Context, Result};

use super::events;
use super::gate;
use crate::bench::engine::process_cpu;
use crate::bench::plan::{
    HttpRequest, Model, Plan, ResponseCheck, Stop, Workload, WorkloadName, MAX_SIZE,
};
use crate::bench::run::run_plan;
use crate::bench::shard::{check_start_at, rfc3339, ShardPlan};
use crate::cli::{self, BenchArgs, OutputArgs, PlannedStack};
use crate::exit::Exit;
use crate::gateway::{self, Gateway, Stack, UserApp};
use crate::http::{round_trip_capped, HttpError, Target};
use crate::limits::{self, RangeError};
use crate::report::style::{ms, thousands};
use crate::report::{
    BenchReport, BenchSet, BenchSetRun, Console, Destination, Document, Exports, Hlog,
};

/// Bad bench options; each says what to use instead.
#[derive(Debug, thiserror::Error)]
pub enum BenchUsage {
    #[error(
        "--chunks {chunks} of --size {size} bytes make a body of more than {MAX_SIZE} bytes, the most the probe streams; lower one of them"
    )]
    StreamSize { chunks: u32, size: usize },
    #[error("--expect-status and --expect-body check --app or --url responses; the probe's workloads check their own")]
    Expect,
    #[error("-m, -H, --body and --body-file shape the request of --url or --app; the probe's workloads make their own")]
    RequestWithoutTarget,
    #[error("{0}")]
    Request(String),
    #[error("could not read --body-file {path}")]
    BodyFile {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("--shard splits a window of time and -n counts requests, which each shard would end at a different time: give the sharded run a duration (-d)")]
    ShardedCount,
    #[error("{flag} applies to one run: give one stack")]
    OneStack { flag: &'static str },
}

/// Every numeric flag against its range (`limits`), before anything is
/// allocated or started.
fn check_ranges(args: &BenchArgs) -> Result<(), RangeError> {
    use limits::*;
    SIZE.check(args.size as u64)?;
    CHUNKS.check(u64::from(args.chunks))?;
    MS.check(u64::try_from(args.ms.as_millis()).unwrap_or(u64::MAX))?;
    CONNECTIONS.check(args.connections as u64)?;
    if let Some(rate) = args.rate {
        RATE.check_f64(rate)?;
    }
    if let Some(d) = args.duration {
        DURATION.check_duration(d)?;
    }
    if let Some(n) = args.requests {
        REQUESTS.check(n)?;
    }
    WARMUP.check_duration(args.warmup)?;
    REQUEST_TIMEOUT.check_duration(args.timeout)?;
    if let Some(t) = args.load_threads {
        LOAD_THREADS.check(t as u64)?;
    }
    ALLOW_ERRORS.check(args.allow_errors)?;
    SAMPLE_BODIES.check(u64::from(args.sample_bodies))?;
    MAX_BODY.check(args.max_body)?;
    Ok(())
}

impl BenchArgs {
    /// The workload the flags describe (shared with suite files, whose
    /// workloads are bench flags).
    pub(crate) fn workload(&self) -> Result<Workload, BenchUsage> {
        let ms = u64::try_from(self.ms.as_millis()).unwrap_or(u64::MAX);
        let shaped = self.method.is_some()
            || !self.headers.is_empty()
            || self.body.is_some()
            || self.body_file.is_some();
        if self.app.is_some() {
            return Ok(Workload::App {
                path: self.path.clone(),
                request: self.http_request()?,
            });
        }
        Ok(match self.workload {
            None if self.target.url.is_some() => {
                if shaped {
                    Workload::Http(self.http_request()?)
                } else {
                    Workload::Get
                }
            }
            _ if shaped => return Err(BenchUsage::RequestWithoutTarget),
            None | Some(WorkloadName::Hello) => Workload::Hello,
            Some(WorkloadName::Payload) => Workload::Payload { size: self.size },
            Some(WorkloadName::Stream) => Workload::Stream {
                chunks: self.chunks,
                size: self.size,
            },
            Some(WorkloadName::Echo) => Workload::Echo { size: self.size },
            Some(WorkloadName::Sleep) => Workload::Sleep { ms },
            Some(WorkloadName::Cpu) => Workload::Cpu { ms },
        })
    }

    /// The request `-m`, `-H`, `--body` and `--body-file` describe.
    fn http_request(&self) -> Result<HttpRequest, BenchUsage> {
        let body = match (&self.body, &self.body_file) {
            (Some(text), _) => text.clone().into_bytes(),
            (None, Some(path)) => std::fs::read(path).map_err(|source| BenchUsage::BodyFile {
                path: path.display().to_string(),
                source,
            })?,
            (None, None) => Vec::new(),
        };
        HttpRequest::new(self.method.as_deref(), &self.headers, body).map_err(BenchUsage::Request)
    }

    /// The user's app (`--app`, `--app-dir`, `--path`), its folder made
    /// absolute: the server runs there. A suite workload that names an app
    /// puts this in its stacks' `GatewaySpec::app`.
    pub fn user_app(&self) -> Result<Option<UserApp>> {
        let Some(callable) = &self.app else {
            return Ok(None);
        };
        let dir = self.app_dir.clone().unwrap_or_else(|| PathBuf::from("."));
        let dir = std::path::absolute(&dir)
            .with_context(|| format!("could not resolve --app-dir {}", dir.display()))?;
        Ok(Some(UserApp {
            callable: callable.clone(),
            dir,
            path: self.path.clone(),
        }))
    }

    /// How every response to `workload` is checked.
    pub fn response_check(&self, workload: &Workload) -> Result<ResponseCheck, BenchUsage> {
        let own = matches!(
            workload,
            Workload::Get | Workload::Http(_) | Workload::App { .. }
        );
        if !own && (self.expect_status.is_some() || self.expect_body.is_some()) {
            return Err(BenchUsage::Expect);
        }
        Ok(ResponseCheck {
            body: match &self.expect_body {
                Some(b) => Some(Arc::from(b.as_bytes())),
                None => workload.expected_body().map(Arc::from),
            },
            sample_every: self.sample_bodies.max(1),
            status: self.expect_status,
        })
    }

    fn model(&self) -> Model {
        match self.rate {
            None => Model::Closed,
            Some(rate) => Model::Open { rate },
        }
    }

    fn stop(&self) -> Stop {
        match (self.requests, self.duration) {
            (Some(n), _) => Stop::Count(n),
            (None, d) => Stop::Duration(d.unwrap_or(Duration::from_secs(10))),
        }
    }

    fn threads(&self) -> usize {
        self.load_threads.unwrap_or_else(default_threads)
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
pub fn run(args: BenchArgs, output: &OutputArgs) -> Result<Exit> {
    check_ranges(&args)?;
    let workload = args.workload()?;
    if let Workload::Stream { chunks, size } = workload {
        if (chunks as usize).saturating_mul(size) > MAX_SIZE {
            return Err(BenchUsage::StreamSize { chunks, size }.into());
        }
    }
    let model = args.model();
    let stop = args.stop();
    let threads = args.threads();
    let shard = sharding(&args, model)?;
    let console = Console {
        color: output.color.enabled(std::io::stdout().is_terminal()),
        quiet: output.quiet,
        width: crate::report::style::terminal_width(),
        ..Console::default()
    };
    let mut exports = Exports::standard(console, args.json.as_deref(), args.markdown.as_deref());
    exports.add_html(args.html.as_deref());
    if output.no_table {
        exports.drop_table();
    }
    if let Some(path) = &args.hlog {
        exports.add(Box::new(Hlog), Destination::File(path.clone()));
    }
    gate::add_github(&mut exports);
    let check = args.response_check(&workload)?;
    let app = args.user_app()?;
    let stacks = args
        .target
        .gateway_specs()?
        .into_iter()
        .map(|mut spec| {
            spec.app = app.clone();
            cli::planned(&spec)
        })
        .collect::<Result<Vec<_>, _>>()?;
    if stacks.len() > 1 {
        let given = [
            (args.distributed.shard.is_some(), "--shard"),
            (args.distributed.start_at.is_some(), "--start-at"),
            (args.hlog.is_some(), "--hlog"),
        ];
        if let Some((_, flag)) = given.into_iter().find(|(on, _)| *on) {
            return Err(BenchUsage::OneStack { flag }.into());
        }
    }
    let settings = Settings {
        workload,
        model,
        stop,
        threads,
        check,
        chatty: !output.quiet,
        shard,
    };
    // From here a signal ends the measuring; what was measured is written
    // below and the exit status says which signal it was.
    gateway::gather_on_interrupt();
    if let [planned] = stacks.as_slice() {
        let report = bench_stack(&args, &settings, planned)?;
        exports.write(&Document::Bench(&report))?;
        if args.json.as_deref().is_some_and(|p| p.as_os_str() == "-") {
            // The terminal summary, which names them, is not on standard output.
            for line in crate::report::broken_lines(&report.thresholds) {
                events::say(&format!("wsgiprobe: {line}"));
            }
        }
        return Ok(exit_for(&report));
    }

    // Several stacks: one after another, so none competes with another for
    // the machine; a stack that does not start is reported and the rest run.
    let mut runs = Vec::new();
    for (i, planned) in stacks.iter().enumerate() {
        if settings.chatty {
            events::say(&format!(
                "wsgiprobe: stack {}/{}: {}",
                i + 1,
                stacks.len(),
                planned.label
            ));
        }
        let result = bench_stack(&args, &settings, planned).map_err(|e| format!("{e:#}"));
        if gateway::interrupted().is_some() {
            // The stack cut short keeps what it measured; no later one starts.
            if let Ok(report) = result {
                runs.push(BenchSetRun {
                    label: planned.label.clone(),
                    result: Ok(report),
                });
            }
            break;
        }
        if let Err(e) = &result {
            events::say(&format!(
                "wsgiprobe: {} was not measured: {e}",
                planned.label
            ));
        }
        runs.push(BenchSetRun {
            label: planned.label.clone(),
            result,
        });
    }
    let set = BenchSet { runs };
    exports.write(&Document::BenchSet(&set))?;
    let interrupted = gateway::interrupted().map(Exit::Interrupted);
    Ok(Exit::worst(
        set.runs
            .iter()
            .map(|r| r.result.as_ref().map_or(Exit::Harness, exit_for))
            .chain(interrupted),
    ))
}

/// The flags every stack of a run shares, validated.
struct Settings {
    workload: Workload,
    model: Model,
    stop: Stop,
    threads: usize,
    check: ResponseCheck,
    /// Progress and start-up messages on stderr (not with `-q`).
    chatty: bool,
    /// `--shard`: this run's part of the plan.
    shard: Option<ShardPlan>,
}

/// `--shard` and `--start-at`, checked before anything starts.
fn sharding(args: &BenchArgs, model: Model) -> Result<Option<ShardPlan>> {
    let d = &args.distributed;
    if let Some(at) = d.start_at {
        check_start_at(at, SystemTime::now(), args.warmup)?;
    }
    let Some(shard) = d.shard else {
        return Ok(None);
    };
    if args.requests.is_some() {
        return Err(BenchUsage::ShardedCount.into());
    }
    Ok(Some(shard.split(model, args.connections)?))
}

pub(crate) fn exit_for(report: &BenchReport) -> Exit {
    if let Some(signal) = report.interrupted {
        return Exit::Interrupted(signal);
    }
    if report.valid() && report.broken_thresholds().next().is_none() {
        Exit::Clean
    } else {
        Exit::Failures
    }
}

/// Starts one stack (or reaches its URL), measures it, stops it.
fn bench_stack(
    args: &BenchArgs,
    settings: &Settings,
    planned: &PlannedStack,
) -> Result<BenchReport> {
    let Settings {
        workload,
        model,
        stop,
        threads,
        check,
        chatty,
        shard,
    } = settings;
    let chatty = *chatty;
    let (model, stop, threads) = (*model, *stop, *threads);
    let workload = workload.clone();
    let what = &planned.label;
    let plan = planned
        .plan
        .clone()
        .with_context(|| format!("could not start {what}"))?;

    // A plain GET needs no probe, so any server will do; everything else
    // goes through the gateway, which checks that the probe answers.
    let (gateway, target, base_path, stack) = match (plan.url(), &workload) {
        (Some(url), Workload::Get | Workload::Http(_)) => {
            let stack = Stack::for_url(&url.url, &url.target, None);
            (None, url.target.clone(), url.base_path.clone(), stack)
        }
        _ => {
            let g = Gateway::start(&plan, &events::sink(chatty))
                .with_context(|| format!("could not start {what}"))?;
            let (t, b, s) = (g.target.clone(), g.base_path.clone(), g.stack.clone());
            (Some(g), t, b, s)
        }
    };

    let request: Arc<[u8]> = workload.request(&base_path, &target.authority()).into();
    let check = check.clone();
    // The validation request keeps a probe workload's whole body, and at
    // most --max-body of anything else.
    let max_body = (args.max_body as usize).max(check.body.as_ref().map_or(0, |b| b.len()));
    validate(&target, &request, &check, args.timeout, max_body).with_context(|| {
        format!(
            "the {} workload does not answer as it should at {}",
            workload.name(),
            stack.target
        )
    })?;

    let plan = Plan {
        model: shard.map_or(model, |s| s.own_model),
        connections: shard.map_or(args.connections, |s| s.own_connections),
        threads,
        stop,
        warmup: args.warmup,
        timeout: args.timeout,
        request,
        check,
        shard: *shard,
        start_at: args.distributed.start_at,
    };
    if let Some(at) = plan.start_at {
        // The stack may have taken a while to start.
        check_start_at(at, SystemTime::now(), plan.warmup)
            .context("the stack was not ready in time")?;
        if chatty {
            events::say(&format!(
                "wsgiprobe: {}waiting for {} to start the load",
                shard.map_or(String::new(), |s| format!("shard {}: ", s.shard)),
                rfc3339(at)
            ));
        }
    }
    let interactive = chatty && std::io::stderr().is_terminal() && cli::fancy_terminal();
    if chatty {
        events::say(&format!(
            "wsgiprobe: {} load on {} ({}), warm-up {}",
            match plan.model {
                Model::Closed => "closed-loop".to_string(),
                Model::Open { rate } => format!("open-loop {}/s", thousands(rate)),
            },
            stack.target,
            workload.name(),
            crate::duration::show(plan.warmup)
        ));
    }
    let started = SystemTime::now();
    let cpu_before = process_cpu();
    let total = match stop {
        Stop::Duration(d) => format!("/{}", crate::duration::show(d)),
        Stop::Count(_) => String::new(),
    };
    let mut progress = |p: crate::bench::stats::TimelinePoint| {
        if interactive {
            let mut err = std::io::stderr().lock();
            let _ = write!(
                err,
                "\r\x1b[2K[{}s{total}] {}/s, {} errors, p50 {}, p99 {}",
                p.second + 1,
                thousands(p.requests as f64),
                p.errors,
                ms(p.p50_us),
                ms(p.p99_us)
            );
            let _ = err.flush();
        }
    };
    let result = run_plan(&plan, &target, gateway::on_signal(), &mut progress)
        .context("the load generator failed")?;
    if interactive {
        let _ = write!(std::io::stderr(), "\r\x1b[2K");
    }
    let process_cpu_used = process_cpu().saturating_sub(cpu_before);
    let interrupted = result.interrupted.then(gateway::interrupted).flatten();
    if let Some(g) = gateway {
        if interrupted.is_none() {
            g.stop(&events::sink(chatty));
        }
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
    report.interrupted = interrupted;
    report.check_thresholds(&args.fail_if);
    Ok(report)
}

/// One request before any load: the workload must answer with the right
/// status (any 2xx unless --expect-status) and body, or measuring it means
/// nothing.
fn validate(
    target: &Target,
    request: &[u8],
    check: &ResponseCheck,
    timeout: Duration,
    max_body: usize,
) -> Result<()> {
    let response = match round_trip_capped(target, request, false, timeout, max_body) {
        Err(HttpError::BodyTooLarge { limit }) => bail!(
            "the response body went past {limit} bytes, the most kept of it; raise --max-body if the server really sends that much"
        ),
        other => other?,
    };
    if !check.status_ok(response.status) {
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
