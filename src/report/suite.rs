//! The suite report: every level of every stack × workload × repeat, the
//! sustainable rates, the stacks that failed, what the server cost, and the
//! environment; its JSON document (DESIGN's suite contract) and, in
//! suite_view.rs, its tables.
//!
//! Contract relied on by other tools: `results` (one object per stack ×
//! workload × level × repeat with `stack`, `workload`, `level`, `repeat`,
//! `requests_per_sec`, `latency_us`, `server` {`cpu_s`, `rss_max_bytes`},
//! `histogram`), `sustainable` (per stack × workload: `stack`, `workload`,
//! `rate`, the SLO and the probes) and `environment`. Fields may be added;
//! these are never renamed.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{json, Value};

use super::bench::{BenchReport, Generator};
use super::check::ToolInfo;
use super::merged::Merged;
use crate::bench::shard::rfc3339;
use crate::bench::stats::{encode, Percentiles, TimelinePoint};
use crate::bench::{Checked, Model, Shard};
use crate::gateway::Stack;

/// One load level as the report names it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LevelSpec {
    /// `closed` or `open`.
    pub model: &'static str,
    pub connections: usize,
    /// Open model: the offered rate, requests per second.
    pub rate: Option<f64>,
}

impl LevelSpec {
    /// The short, stable name `compare` matches on: `c16`, `r500`.
    pub fn label(&self) -> String {
        match self.rate {
            None => format!("c{}", self.connections),
            Some(r) => format!("r{}", trim_float(r)),
        }
    }

    /// The level of a bench plan's model and connections.
    pub fn of(model: Model, connections: usize) -> LevelSpec {
        match model {
            Model::Closed => LevelSpec {
                model: "closed",
                connections,
                rate: None,
            },
            Model::Open { rate } => LevelSpec {
                model: "open",
                connections,
                rate: Some(rate),
            },
        }
    }

    /// How a table heading shows it: `16 conn`, `500/s`.
    pub fn title(&self) -> String {
        match self.rate {
            None => format!("{} conn", self.connections),
            Some(r) => format!("{}/s", trim_float(r)),
        }
    }
}

/// `500` for 500.0, `0.5` for 0.5.
pub fn trim_float(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else {
        format!("{v}")
    }
}

/// What the stack's processes (server, workers, nginx) used during the
/// measured window, read from /proc.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct ServerCost {
    /// CPU seconds (user + system) of the whole process tree, reaped
    /// children included.
    pub cpu_s: f64,
    /// The highest sum of resident set sizes seen (shared pages count once
    /// per process that maps them).
    pub rss_max_bytes: u64,
    /// The most processes the tree had at once.
    pub processes: usize,
    /// How many times /proc was read.
    pub samples: u32,
}

/// One measured level of one stack, workload and repeat.
#[derive(Debug, Clone)]
pub struct LevelResult {
    pub stack: String,
    pub workload: String,
    pub level: LevelSpec,
    /// 1-based.
    pub repeat: u32,
    pub started: SystemTime,
    pub requests: u64,
    pub errors: u64,
    pub errors_by_kind: BTreeMap<String, u64>,
    pub requests_per_sec: f64,
    pub measured_s: f64,
    pub latency: Percentiles,
    pub latency_uncorrected: Percentiles,
    pub server: Option<ServerCost>,
    pub generator: Generator,
    pub valid: bool,
    /// The workload's thresholds against this level.
    pub thresholds: Vec<Checked>,
    pub warnings: Vec<String>,
    /// Requests, errors, p50/p99 and the latency histogram of each second
    /// of the measured window, for the HTML report's timeline and the
    /// interval logs.
    pub timeline: Vec<TimelinePoint>,
    /// The run's merged histograms, encoded (`bench::stats::encode`).
    pub histogram_corrected: String,
    pub histogram_uncorrected: String,
    /// Open model: the generator's send lag, encoded.
    pub histogram_sched_lag: Option<String>,
    /// When the measured window began, on the wall clock.
    pub measure_start: SystemTime,
    /// One shard of a sharded suite: the load it drove itself (`level` is
    /// the whole plan's).
    pub own_level: Option<LevelSpec>,
    /// A level merged from shards: each shard's figures.
    pub merged: Option<Merged>,
}

impl LevelResult {
    /// The figures of one bench run, with what the server cost.
    pub fn from_bench(
        stack: &str,
        workload: &str,
        level: LevelSpec,
        repeat: u32,
        bench: &BenchReport,
        server: Option<ServerCost>,
    ) -> LevelResult {
        let t = &bench.result.totals;
        LevelResult {
            stack: stack.to_string(),
            workload: workload.to_string(),
            level,
            repeat,
            started: bench.started,
            requests: t.requests,
            errors: t.errors.total(),
            errors_by_kind: t
                .errors
                .nonzero()
                .map(|(k, n)| (k.as_str().to_string(), n))
                .collect(),
            requests_per_sec: bench.result.requests_per_sec(),
            measured_s: bench.result.measured.as_secs_f64(),
            latency: Percentiles::of(&t.corrected),
            latency_uncorrected: Percentiles::of(&t.uncorrected),
            server,
            generator: bench.generator.clone(),
            valid: bench.valid(),
            thresholds: bench.thresholds.clone(),
            warnings: bench.warnings.clone(),
            histogram_corrected: encode(&t.corrected),
            histogram_uncorrected: encode(&t.uncorrected),
            histogram_sched_lag: matches!(bench.plan.model, Model::Open { .. })
                .then(|| encode(&t.sched_lag)),
            measure_start: bench.result.measure_start,
            own_level: bench
                .plan
                .shard
                .map(|_| LevelSpec::of(bench.plan.model, bench.plan.connections)),
            timeline: bench.result.timeline.clone(),
            merged: None,
        }
    }

    /// Server CPU microseconds per request, when both are known.
    pub fn cpu_per_request_us(&self) -> Option<f64> {
        let s = self.server?;
        (self.requests > 0).then(|| s.cpu_s * 1e6 / self.requests as f64)
    }

    pub fn to_json(&self) -> Value {
        let per_cpu_s = self
            .server
            .filter(|s| s.cpu_s > 0.0)
            .map(|s| self.requests as f64 / s.cpu_s);
        let mut doc = json!({
            "stack": self.stack,
            "workload": self.workload,
            "level": self.level.label(),
            "level_spec": self.level,
            "repeat": self.repeat,
            "started_unix": unix(self.started),
            "requests": self.requests,
            "errors": self.errors,
            "errors_by_kind": self.errors_by_kind,
            "valid": self.valid,
            "thresholds": self.thresholds,
            "measured_s": self.measured_s,
            "requests_per_sec": self.requests_per_sec,
            "latency_us": self.latency,
            "latency_uncorrected_us": self.latency_uncorrected,
            "server": self.server.map(|s| json!({
                "cpu_s": s.cpu_s,
                "rss_max_bytes": s.rss_max_bytes,
                "processes": s.processes,
                "samples": s.samples,
                "requests_per_cpu_s": per_cpu_s,
                "cpu_per_request_us": self.cpu_per_request_us(),
            })),
            "generator": self.generator,
            "generator_bottleneck": self.generator.bottleneck,
            "warnings": self.warnings,
            "timeline": self.timeline,
            "histogram": {
                "format": "HdrHistogram V2 compressed (deflate), base64; values in microseconds",
                "corrected": self.histogram_corrected,
                "uncorrected": self.histogram_uncorrected,
            },
            "measure_start_unix": unix(self.measure_start),
        });
        if let Some(h) = &self.histogram_sched_lag {
            doc["histogram"]["sched_lag"] = json!(h);
        }
        if let Some(own) = &self.own_level {
            doc["shard_load"] = json!(own);
        }
        if let Some(m) = &self.merged {
            doc["merged"] = m.to_json();
        }
        doc
    }
}

/// A stack that could not start, or died, or stopped answering.
#[derive(Debug, Clone, Serialize)]
pub struct StackFailure {
    pub stack: String,
    pub workload: String,
    /// Which repeat and level it was at, when it failed during the levels.
    pub repeat: Option<u32>,
    pub level: Option<String>,
    /// `start`, `died`, `health` or `generator`.
    pub phase: &'static str,
    pub message: String,
    /// The last lines the server (and nginx) wrote.
    pub log_tail: String,
}

/// One short open-loop run of the sustainable-rate search.
#[derive(Debug, Clone, Serialize)]
pub struct ProbeResult {
    /// `estimate` (a closed-loop run to find where to start), `bracket` or `bisect`.
    pub phase: &'static str,
    /// Offered rate (requests per second); for `estimate`, the connections' achieved rate.
    pub rate: f64,
    pub requests_per_sec: f64,
    pub latency_us: Percentiles,
    pub errors: u64,
    /// Whether the SLO held at this rate.
    pub holds: bool,
    /// Why it did not hold.
    pub broken: Vec<String>,
    pub generator_bottleneck: bool,
}

/// The service-level objective of the search.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Slo {
    /// Corrected-latency limits by percentile name (`p99` -> µs).
    pub latency_us: BTreeMap<String, u64>,
    /// Errors allowed in a probe.
    pub errors: u64,
    /// Least share of the offered rate the stack must achieve.
    pub min_throughput: f64,
}

/// The sustainable rate of one stack × workload.
#[derive(Debug, Clone, Serialize)]
pub struct SustainableResult {
    pub stack: String,
    pub workload: String,
    /// The highest rate that held the SLO; `None` if none did.
    pub rate: Option<f64>,
    pub slo: Slo,
    /// The last rate that held and the first above it that did not.
    pub bracket: Option<(f64, f64)>,
    /// Whether the bracket narrowed to the precision asked for.
    pub converged: bool,
    /// Probes run after a 2× bracket was found.
    pub probes_after_bracket: usize,
    pub probes: Vec<ProbeResult>,
    /// Why the search stopped early, if it did.
    pub note: Option<String>,
}

/// Where the suite ran.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Environment {
    pub cpu_model: Option<String>,
    pub cores: usize,
    pub kernel: Option<String>,
    pub python: Option<String>,
    pub nginx: Option<String>,
    pub wsgiprobe: String,
    /// When the suite started, RFC 3339 UTC.
    pub date: String,
    /// Each stack as it ran (version, command, options), by label.
    pub stacks: BTreeMap<String, Stack>,
    pub suite_file: String,
    /// The suite file's text, as read.
    pub suite_text: String,
}

/// Where the time went.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub struct SuiteTiming {
    pub wall_s: f64,
    /// Measured windows of levels and probes.
    pub measured_s: f64,
    pub warmup_s: f64,
    /// Starting and stopping stacks.
    pub start_stop_s: f64,
    pub health_s: f64,
    /// Everything else between the levels (setting up, draining, saving).
    pub overhead_s: f64,
}

impl SuiteTiming {
    /// Overhead between levels as a share of measured time.
    pub fn overhead_ratio(&self) -> f64 {
        if self.measured_s > 0.0 {
            self.overhead_s / self.measured_s
        } else {
            0.0
        }
    }
}

/// What the suite was asked to do.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SuiteSetup {
    pub title: String,
    /// The suite file's `notes` (Markdown), shown with the figures.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
    pub stacks: Vec<String>,
    /// Workload names with their bench arguments.
    pub workloads: Vec<(String, String)>,
    /// Each workload's thresholds, by name (only those that have some).
    pub thresholds: BTreeMap<String, Vec<String>>,
    pub levels: Vec<LevelSpec>,
    pub duration_s: f64,
    pub warmup_s: f64,
    pub repeats: u32,
    pub sustainable: Option<Slo>,
}

/// A whole suite, as far as it has run.
#[derive(Debug, Clone)]
pub struct SuiteReport {
    pub tool: ToolInfo,
    pub setup: SuiteSetup,
    pub started: SystemTime,
    /// False until the last level ran: a report read after an interruption
    /// or a crash says so.
    pub finished: bool,
    pub results: Vec<LevelResult>,
    pub sustainable: Vec<SustainableResult>,
    pub failures: Vec<StackFailure>,
    pub environment: Environment,
    pub timing: SuiteTiming,
    /// How the suite relates to a sharded plan (nothing for a plain suite).
    pub sharding: SuiteSharding,
}

/// A suite run as one shard of a plan (`suite --shard`), on a schedule
/// (`--start-at`), or merged from shards.
#[derive(Debug, Clone, Default)]
pub struct SuiteSharding {
    /// This run's shard.
    pub shard: Option<Shard>,
    pub host: Option<String>,
    /// When the first level's load started; each next one a `slot` later.
    pub start_at: Option<SystemTime>,
    pub slot: Option<Duration>,
    /// Merged from these shards' reports.
    pub merged: Option<MergedFiles>,
}

/// The files a merged suite came from.
#[derive(Debug, Clone, Serialize)]
pub struct MergedFiles {
    /// The plan's shard count.
    pub count: u32,
    /// Each file with its shard and host.
    pub files: Vec<(String, Shard, Option<String>)>,
    /// Shards of the plan that were not given.
    pub missing: Vec<u32>,
}

impl SuiteSharding {
    /// One line for the tables: which shard this is, or what was merged.
    pub fn describe(&self) -> Option<String> {
        if let Some(m) = &self.merged {
            let mut line = format!(
                "Merged from {} of {} shards: rates added, histograms merged",
                m.files.len(),
                m.count
            );
            if !m.missing.is_empty() {
                let list: Vec<String> = m
                    .missing
                    .iter()
                    .map(|i| format!("{i}/{}", m.count))
                    .collect();
                line.push_str(&format!(" (missing: {})", list.join(", ")));
            }
            return Some(line);
        }
        self.shard.map(|s| {
            format!(
                "Shard {s} of the plan: each level drove 1/{} of its load (merge the shards' report.json with wsgiprobe merge)",
                s.count
            )
        })
    }

    fn add_to(&self, doc: &mut Value) {
        if let Some(s) = &self.shard {
            doc["shard"] = json!({"index": s.index, "count": s.count, "host": self.host});
        }
        if let Some(at) = self.start_at {
            doc["start_at"] = json!(rfc3339(at));
            doc["slot_s"] = json!(self.slot.map(|s| s.as_secs_f64()));
        }
        if let Some(m) = &self.merged {
            doc["merged"] = json!({
                "count": m.count,
                "shards": m.files.iter().map(|(file, shard, host)| json!({
                    "file": file, "shard": shard, "host": host,
                })).collect::<Vec<_>>(),
                "missing": m.missing,
            });
        }
    }
}

impl<'de> Deserialize<'de> for LevelSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<LevelSpec, D::Error> {
        #[derive(Deserialize)]
        struct Raw {
            model: String,
            connections: usize,
            rate: Option<f64>,
        }
        let raw = Raw::deserialize(d)?;
        let model = ["closed", "open"]
            .into_iter()
            .find(|m| *m == raw.model)
            .ok_or_else(|| serde::de::Error::unknown_variant(&raw.model, &["closed", "open"]))?;
        Ok(LevelSpec {
            model,
            connections: raw.connections,
            rate: raw.rate,
        })
    }
}

/// A [`StackFailure`] as read back from JSON.
#[derive(Deserialize)]
struct RawFailure {
    stack: String,
    workload: String,
    repeat: Option<u32>,
    level: Option<String>,
    phase: String,
    message: String,
    log_tail: String,
}

impl<'de> Deserialize<'de> for StackFailure {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<StackFailure, D::Error> {
        const PHASES: [&str; 4] = ["start", "died", "health", "generator"];
        let r = RawFailure::deserialize(d)?;
        let phase = PHASES
            .into_iter()
            .find(|p| *p == r.phase)
            .ok_or_else(|| serde::de::Error::unknown_variant(&r.phase, &PHASES))?;
        Ok(StackFailure {
            stack: r.stack,
            workload: r.workload,
            repeat: r.repeat,
            level: r.level,
            phase,
            message: r.message,
            log_tail: r.log_tail,
        })
    }
}

impl SuiteReport {
    pub fn to_json(&self) -> Value {
        let mut doc = json!({
            "kind": "suite",
            "tool": {"name": self.tool.name, "version": self.tool.version},
            "title": self.setup.title,
            "started_unix": unix(self.started),
            "finished": self.finished,
            "setup": self.setup,
            "results": self.results.iter().map(LevelResult::to_json).collect::<Vec<_>>(),
            "sustainable": self.sustainable,
            "failures": self.failures,
            "environment": self.environment,
            "timing": {
                "wall_s": self.timing.wall_s,
                "measured_s": self.timing.measured_s,
                "warmup_s": self.timing.warmup_s,
                "start_stop_s": self.timing.start_stop_s,
                "health_s": self.timing.health_s,
                "overhead_s": self.timing.overhead_s,
                "overhead_ratio": self.timing.overhead_ratio(),
            },
        });
        self.sharding.add_to(&mut doc);
        doc
    }

    /// The results of one stack, workload and level, in repeat order.
    pub fn repeats(&self, stack: &str, workload: &str, level: &LevelSpec) -> Vec<&LevelResult> {
        self.results
            .iter()
            .filter(|r| r.stack == stack && r.workload == workload && r.level == *level)
            .collect()
    }
}

fn unix(t: SystemTime) -> f64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}
