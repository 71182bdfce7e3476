//! Running a suite: per workload, every stack started once; then the
//! repeats, interleaved (each repeat runs every stack's levels before the
//! next repeat begins, so drift on a noisy machine hits every stack alike);
//! then the sustainable-rate search per stack. Before each level the stack
//! is checked (still running, the workload still answers) and warmed up;
//! after each level the report is handed to `save`.
//!
//! A stack that does not start, stops answering or dies is recorded with
//! the last lines of its log, and the suite goes on without it. The runner
//! never prints: it sends [`SuiteEvent`]s.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use crate::bench::engine::process_cpu;
use crate::bench::plan::{Model, Plan, ResponseCheck, Stop};
use crate::bench::run::{check_once, run_plan, START_DELAY};
use crate::bench::shard::{check_start_at, hostname, ShardPlan};
use crate::bench::stats::Percentiles;
use crate::gateway::{self, Gateway, GatewayError};
use crate::report::{
    BenchReport, Environment, ExportError, LevelResult, LevelSpec, ProbeResult, ServerCost,
    StackFailure, SuiteReport, SuiteSetup, SuiteSharding, SuiteTiming, SustainableResult, ToolInfo,
};

use super::cost::CostSampler;
use super::file::{SuitePlan, SuiteWorkload, SustainableSpec};
use super::sustainable::{self, ProbeFigures};

/// What the runner tells the command while it works.
#[derive(Debug)]
pub enum SuiteEvent<'a> {
    /// A stack starting, installing, exiting.
    Gateway(gateway::Event),
    /// A level is about to warm up.
    Level {
        stack: &'a str,
        workload: &'a str,
        level: &'a LevelSpec,
        repeat: u32,
        /// 1-based position among all levels of the suite, and their number.
        index: usize,
        total: usize,
    },
    /// A level was measured.
    Measured(&'a LevelResult),
    /// A stack could not start, died or stopped answering.
    Failed(&'a StackFailure),
    /// One probe of the sustainable-rate search.
    Probe {
        stack: &'a str,
        workload: &'a str,
        probe: &'a ProbeResult,
    },
    /// A search ended.
    Sustainable(&'a SustainableResult),
}

/// Why a suite stopped before its end (a stack's trouble never stops it).
#[derive(Debug, thiserror::Error)]
pub enum SuiteError {
    #[error("could not save the results so far")]
    Save(#[source] ExportError),
}

/// One run on the engine: its load, how long, and whether to sample the
/// stack's cost.
#[derive(Debug, Clone, Copy)]
struct Run {
    model: Model,
    connections: usize,
    measured: Duration,
    warmup: Duration,
    sample_cost: bool,
    /// One shard's part of the level (`model` and `connections` are then its own).
    shard: Option<ShardPlan>,
    /// When the load starts on the wall clock (a `--start-at` schedule).
    start_at: Option<SystemTime>,
}

impl Run {
    /// A probe of the sustainable-rate search (or its estimate).
    fn probe(model: Model, spec: &SustainableSpec) -> Run {
        Run {
            model,
            connections: spec.connections,
            measured: spec.probe,
            warmup: spec.probe_warmup,
            sample_cost: false,
            shard: None,
            start_at: None,
        }
    }
}

/// A started stack with the workload's request.
struct Live {
    label: String,
    gateway: Gateway,
    request: Arc<[u8]>,
    check: ResponseCheck,
}

struct Runner<'a> {
    plan: &'a SuitePlan,
    report: SuiteReport,
    events: &'a dyn Fn(SuiteEvent),
    save: &'a mut dyn FnMut(&SuiteReport) -> Result<(), ExportError>,
    clock: Instant,
    done: usize,
    total: usize,
    /// The current level's place in the plan (its slot on a schedule).
    position: usize,
}

/// Runs the whole suite; `save` is called after every level, probe and
/// failure with the report so far (and once more at the end, `finished`).
pub fn run(
    plan: &SuitePlan,
    environment: Environment,
    events: &dyn Fn(SuiteEvent),
    save: &mut dyn FnMut(&SuiteReport) -> Result<(), ExportError>,
) -> Result<SuiteReport, SuiteError> {
    let report = SuiteReport {
        tool: ToolInfo::default(),
        setup: SuiteSetup {
            title: plan.title.clone(),
            notes: plan.notes.clone(),
            stacks: plan.stacks.iter().map(|s| s.label.clone()).collect(),
            workloads: plan
                .workloads
                .iter()
                .map(|w| (w.name.clone(), w.args.clone()))
                .collect(),
            thresholds: plan
                .workloads
                .iter()
                .filter(|w| !w.thresholds.is_empty())
                .map(|w| {
                    let texts = w.thresholds.iter().map(|t| t.text.clone()).collect();
                    (w.name.clone(), texts)
                })
                .collect(),
            levels: plan.levels.clone(),
            duration_s: plan.duration.as_secs_f64(),
            warmup_s: plan.warmup.as_secs_f64(),
            repeats: plan.repeats,
            sustainable: plan.sustainable.as_ref().map(|s| s.slo.clone()),
        },
        started: SystemTime::now(),
        finished: false,
        results: Vec::new(),
        sustainable: Vec::new(),
        failures: Vec::new(),
        environment,
        timing: SuiteTiming::default(),
        sharding: SuiteSharding {
            shard: plan.shard,
            host: plan.shard.and_then(|_| hostname()),
            start_at: plan.start_at,
            slot: plan.start_at.map(|_| plan.slot()),
            merged: None,
        },
    };
    let total =
        plan.workloads.len() * plan.stacks.len() * plan.levels.len() * plan.repeats as usize;
    let mut runner = Runner {
        plan,
        report,
        events,
        save,
        clock: Instant::now(),
        done: 0,
        total,
        position: 0,
    };
    for (w, workload) in plan.workloads.iter().enumerate() {
        if gateway::interrupted().is_some() {
            break;
        }
        runner.workload(w, workload)?;
    }
    runner.report.finished = gateway::interrupted().is_none();
    runner.save()?;
    Ok(runner.report)
}

impl Runner<'_> {
    fn save(&mut self) -> Result<(), SuiteError> {
        let t = &mut self.report.timing;
        t.wall_s = self.clock.elapsed().as_secs_f64();
        // Between the levels: everything but measuring, warming up,
        // starting and stopping stacks and checking their health.
        t.overhead_s =
            (t.wall_s - t.measured_s - t.warmup_s - t.start_stop_s - t.health_s).max(0.0);
        (self.save)(&self.report).map_err(SuiteError::Save)
    }

    fn fail(&mut self, failure: StackFailure) -> Result<(), SuiteError> {
        (self.events)(SuiteEvent::Failed(&failure));
        self.report.failures.push(failure);
        self.save()
    }

    fn workload(&mut self, w: usize, workload: &SuiteWorkload) -> Result<(), SuiteError> {
        let plan = self.plan;
        let mut stacks: Vec<Option<Live>> = Vec::new();
        for stack in &plan.stacks {
            let t = Instant::now();
            let live = self.start(&stack.label, &stack.plan, workload);
            self.report.timing.start_stop_s += t.elapsed().as_secs_f64();
            stacks.push(match live {
                Ok(live) => Some(live),
                Err(failure) => {
                    self.fail(*failure)?;
                    None
                }
            });
        }
        for repeat in 1..=plan.repeats {
            for (s, slot) in stacks.iter_mut().enumerate() {
                let Some(live) = slot else {
                    continue;
                };
                for (l, level) in plan.levels.iter().enumerate() {
                    if gateway::interrupted().is_some() {
                        return Ok(());
                    }
                    self.done += 1;
                    // The level's place in the plan, whatever failed before
                    // it here, so every shard gives it the same slot.
                    let r = repeat as usize - 1;
                    self.position = ((w * plan.repeats as usize + r) * plan.stacks.len() + s)
                        * plan.levels.len()
                        + l;
                    (self.events)(SuiteEvent::Level {
                        stack: &live.label,
                        workload: &workload.name,
                        level,
                        repeat,
                        index: self.done,
                        total: self.total,
                    });
                    let measured = self.level(live, workload, *level, repeat);
                    // A level a signal cut short is not a level measured in
                    // full: the report keeps only those.
                    if gateway::interrupted().is_some() {
                        return Ok(());
                    }
                    match measured {
                        Ok(result) => {
                            (self.events)(SuiteEvent::Measured(&result));
                            self.report.results.push(result);
                            self.save()?;
                        }
                        Err(failure) => {
                            *slot = None;
                            self.fail(*failure)?;
                            break;
                        }
                    }
                }
            }
        }
        if let Some(spec) = &plan.sustainable {
            for live in stacks.iter().flatten() {
                if gateway::interrupted().is_some() {
                    return Ok(());
                }
                let result = self.sustainable(live, workload, spec);
                if gateway::interrupted().is_some() {
                    return Ok(());
                }
                (self.events)(SuiteEvent::Sustainable(&result));
                self.report.sustainable.push(result);
                self.save()?;
            }
        }
        let t = Instant::now();
        for live in stacks.into_iter().flatten() {
            live.gateway
                .stop(&|e| (self.events)(SuiteEvent::Gateway(e)));
        }
        self.report.timing.start_stop_s += t.elapsed().as_secs_f64();
        Ok(())
    }

    fn start(
        &mut self,
        label: &str,
        plan: &Result<gateway::StackPlan, gateway::PlanError>,
        workload: &SuiteWorkload,
    ) -> Result<Live, Box<StackFailure>> {
        let failure = |phase, message: String, log_tail: String| {
            Box::new(StackFailure {
                stack: label.to_string(),
                workload: workload.name.clone(),
                repeat: None,
                level: None,
                phase,
                message,
                log_tail,
            })
        };
        let plan = plan
            .as_ref()
            .map_err(|e| failure("start", e.to_string(), String::new()))?;
        // A workload that names an app: the same stack, hosting it.
        let with_app;
        let plan = match &workload.app {
            None => plan,
            Some(app) => {
                with_app = plan
                    .with_app(app)
                    .map_err(|e| failure("start", e.to_string(), String::new()))?;
                &with_app
            }
        };
        let events = |e| (self.events)(SuiteEvent::Gateway(e));
        let gateway = Gateway::start(plan, &events).map_err(|e| {
            let tail = match &e {
                GatewayError::ExitedAtStart { log_tail, .. }
                | GatewayError::NotReady { log_tail, .. } => log_tail.clone(),
                _ => String::new(),
            };
            failure("start", e.to_string(), tail)
        })?;
        self.report
            .environment
            .stacks
            .entry(label.to_string())
            .or_insert_with(|| gateway.stack.clone());
        let request: Arc<[u8]> = workload
            .workload
            .request(&gateway.base_path, &gateway.target.authority())
            .into();
        let check = workload.check.clone();
        if let Err(e) = check_once(&gateway.target, &request, &check, workload.timeout) {
            return Err(failure(
                "health",
                format!(
                    "the {} workload does not answer as it should: {e}",
                    workload.workload.name()
                ),
                gateway.log_tail(20),
            ));
        }
        Ok(Live {
            label: label.to_string(),
            gateway,
            request,
            check,
        })
    }

    /// The stack still runs and the workload still answers.
    fn health(
        &mut self,
        live: &Live,
        workload: &SuiteWorkload,
    ) -> Result<(), (&'static str, String)> {
        if let Some(why) = live.gateway.exited() {
            return Err(("died", why));
        }
        let t = Instant::now();
        let r = check_once(
            &live.gateway.target,
            &live.request,
            &live.check,
            workload.timeout,
        );
        self.report.timing.health_s += t.elapsed().as_secs_f64();
        r.map_err(|e| {
            (
                "health",
                format!(
                    "the {} workload no longer answers: {e}",
                    workload.workload.name()
                ),
            )
        })
    }

    /// One bench run on a live stack, with what the stack cost.
    fn measure(
        &mut self,
        live: &Live,
        workload: &SuiteWorkload,
        run: Run,
    ) -> Result<(BenchReport, Option<ServerCost>), String> {
        let Run {
            model,
            connections,
            measured,
            warmup,
            sample_cost,
            shard,
            start_at,
        } = run;
        let plan = Plan {
            model,
            connections,
            threads: workload.threads,
            stop: Stop::Duration(measured),
            warmup,
            timeout: workload.timeout,
            request: live.request.clone(),
            check: live.check.clone(),
            shard,
            start_at,
        };
        let from =
            match start_at.and_then(|at| (at + warmup).duration_since(SystemTime::now()).ok()) {
                Some(ahead) => Instant::now() + ahead,
                None => Instant::now() + START_DELAY + warmup,
            };
        let sampler = sample_cost
            .then(|| CostSampler::start(live.gateway.process_groups(), from, from + measured));
        let cpu = process_cpu();
        let started = SystemTime::now();
        let result = run_plan(
            &plan,
            &live.gateway.target,
            gateway::on_signal(),
            &mut |_| {},
        );
        let cost = sampler.map(CostSampler::finish);
        let result = result.map_err(|e| format!("the load generator failed: {e}"))?;
        self.report.timing.measured_s += measured.as_secs_f64();
        self.report.timing.warmup_s += warmup.as_secs_f64();
        let bench = BenchReport::new(
            live.gateway.stack.clone(),
            started,
            workload.workload.clone(),
            plan,
            result,
            process_cpu().saturating_sub(cpu),
            workload.allow_errors,
        );
        Ok((bench, cost))
    }

    fn level(
        &mut self,
        live: &Live,
        workload: &SuiteWorkload,
        level: LevelSpec,
        repeat: u32,
    ) -> Result<LevelResult, Box<StackFailure>> {
        let failure = |(phase, message): (&'static str, String)| {
            Box::new(StackFailure {
                stack: live.label.clone(),
                workload: workload.name.clone(),
                repeat: Some(repeat),
                level: Some(level.label()),
                phase,
                message,
                log_tail: live.gateway.log_tail(20),
            })
        };
        self.health(live, workload).map_err(failure)?;
        let model = match level.rate {
            None => Model::Closed,
            Some(rate) => Model::Open { rate },
        };
        let (duration, warmup) = (self.plan.duration, self.plan.warmup);
        let shard = match self.plan.shard {
            Some(s) => Some(
                s.split(model, level.connections)
                    .map_err(|e| failure(("generator", e.to_string())))?,
            ),
            None => None,
        };
        let (start_at, late) = self.slot(warmup);
        let (mut bench, cost) = self
            .measure(
                live,
                workload,
                Run {
                    model: shard.map_or(model, |s| s.own_model),
                    connections: shard.map_or(level.connections, |s| s.own_connections),
                    measured: duration,
                    warmup,
                    sample_cost: true,
                    shard,
                    start_at,
                },
            )
            .map_err(|m| failure(("generator", m)))?;
        bench.warnings.extend(late);
        bench.check_thresholds(&workload.thresholds);
        Ok(LevelResult::from_bench(
            &live.label,
            &workload.name,
            level,
            repeat,
            &bench,
            cost,
        ))
    }

    /// On a `--start-at` schedule, when this level's load starts: its slot
    /// (the first level's at the start time, each next one a slot later).
    /// A level late for its slot (a stack slow to start) starts at once
    /// and says so, as the merge will.
    fn slot(&self, warmup: Duration) -> (Option<SystemTime>, Option<String>) {
        let Some(at) = self.plan.start_at else {
            return (None, None);
        };
        let k = u32::try_from(self.position).unwrap_or(u32::MAX);
        let start = at + self.plan.slot() * k;
        match check_start_at(start, SystemTime::now(), warmup) {
            Ok(()) => (Some(start), None),
            Err(e) => (
                None,
                Some(format!(
                    "this level missed its slot on the --start-at schedule ({e}); it started at once, so its window is not the other shards'"
                )),
            ),
        }
    }

    /// Where the search starts: the suite's `start`, else the best
    /// closed-loop rate measured for this stack and workload (median of
    /// the repeats), else a short closed-loop run.
    fn search_start(
        &mut self,
        live: &Live,
        workload: &SuiteWorkload,
        spec: &SustainableSpec,
    ) -> Result<(f64, Option<ProbeResult>), String> {
        if let Some(start) = spec.start {
            return Ok((start, None));
        }
        let best = self
            .plan
            .levels
            .iter()
            .filter(|l| l.rate.is_none())
            .filter_map(|l| {
                let mut rps: Vec<f64> = self
                    .report
                    .repeats(&live.label, &workload.name, l)
                    .iter()
                    .map(|r| r.requests_per_sec)
                    .collect();
                rps.sort_by(f64::total_cmp);
                rps.get(rps.len() / 2).copied()
            })
            .fold(0.0, f64::max);
        if best > 0.0 {
            return Ok((best, None));
        }
        self.health(live, workload).map_err(|(_, m)| m)?;
        let (bench, _) = self.measure(live, workload, Run::probe(Model::Closed, spec))?;
        let rps = bench.result.requests_per_sec();
        let probe = ProbeResult {
            phase: "estimate",
            rate: rps,
            requests_per_sec: rps,
            latency_us: Percentiles::of(&bench.result.totals.corrected),
            errors: bench.result.totals.errors.total(),
            holds: true,
            broken: Vec::new(),
            generator_bottleneck: bench.generator.bottleneck,
        };
        if rps <= 0.0 {
            return Err("the closed-loop estimate completed no request".into());
        }
        Ok((rps, Some(probe)))
    }

    fn sustainable(
        &mut self,
        live: &Live,
        workload: &SuiteWorkload,
        spec: &SustainableSpec,
    ) -> SustainableResult {
        let events = self.events;
        let (start, estimate) = match self.search_start(live, workload, spec) {
            Ok(s) => s,
            Err(note) => {
                return sustainable::search(&live.label, &workload.name, spec, 1.0, &mut |_| {
                    Err(note.clone())
                })
            }
        };
        if let Some(p) = &estimate {
            events(SuiteEvent::Probe {
                stack: &live.label,
                workload: &workload.name,
                probe: p,
            });
        }
        let mut probe = |rate: f64| -> Result<ProbeFigures, String> {
            if gateway::interrupted().is_some() {
                return Err("interrupted".into());
            }
            self.health(live, workload).map_err(|(_, m)| m)?;
            let (bench, _) =
                self.measure(live, workload, Run::probe(Model::Open { rate }, spec))?;
            let t = &bench.result.totals;
            let figures = ProbeFigures {
                requests_per_sec: bench.result.requests_per_sec(),
                latency: Percentiles::of(&t.corrected),
                errors: t.errors.total(),
                generator_bottleneck: bench.generator.bottleneck,
            };
            let shown = ProbeResult {
                phase: "probe",
                rate,
                requests_per_sec: figures.requests_per_sec,
                latency_us: figures.latency,
                errors: figures.errors,
                holds: sustainable::broken(&spec.slo, rate, &figures).is_empty(),
                broken: Vec::new(),
                generator_bottleneck: figures.generator_bottleneck,
            };
            events(SuiteEvent::Probe {
                stack: &live.label,
                workload: &workload.name,
                probe: &shown,
            });
            Ok(figures)
        };
        let mut result = sustainable::search(&live.label, &workload.name, spec, start, &mut probe);
        if let Some(p) = estimate {
            result.probes.insert(0, p);
        }
        result
    }
}
