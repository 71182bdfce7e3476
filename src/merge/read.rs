//! Reading a shard's JSON report back into typed figures: the histograms
//! decoded, the counts into a `Totals`, the plan into a [`PlanKey`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use hdrhistogram::Histogram;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::plan::PlanKey;
use super::MergeError;
use crate::bench::stats::{decode, ErrorKind, TimelinePoint};
use crate::bench::{Model, Shard, Totals, Workload};
use crate::gateway::Stack;
use crate::report::{
    describe_stack, Environment, Generator, LevelSpec, ServerCost, StackFailure, SuiteSetup,
    SuiteTiming,
};

/// Reads a file as JSON.
pub fn document(path: &Path) -> Result<Value, MergeError> {
    let text = std::fs::read_to_string(path).map_err(|source| MergeError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    serde_json::from_str(&text).map_err(|source| MergeError::Json {
        path: path.to_path_buf(),
        source,
    })
}

/// `bench` or `suite`, for a report merge can take.
pub fn kind(doc: &Value) -> Option<&'static str> {
    if doc["kind"] == "suite" && doc["results"].is_array() {
        Some("suite")
    } else if doc["plan"].is_object() && doc["histogram"].is_object() {
        Some("bench")
    } else {
        None
    }
}

/// Reads fields of one document, naming the file and the field in errors.
pub(super) struct Fields<'a> {
    pub path: &'a Path,
}

impl Fields<'_> {
    pub fn missing(&self, field: &str) -> MergeError {
        MergeError::Field {
            path: self.path.to_path_buf(),
            field: field.to_string(),
            version: env!("CARGO_PKG_VERSION"),
        }
    }

    /// The value at a `/`-separated pointer (`plan/shard/index`).
    pub fn at<'v>(&self, doc: &'v Value, pointer: &str) -> Result<&'v Value, MergeError> {
        doc.pointer(&format!("/{pointer}"))
            .filter(|v| !v.is_null())
            .ok_or_else(|| self.missing(pointer))
    }

    pub fn u64(&self, doc: &Value, pointer: &str) -> Result<u64, MergeError> {
        self.at(doc, pointer)?
            .as_u64()
            .ok_or_else(|| self.missing(pointer))
    }

    pub fn f64(&self, doc: &Value, pointer: &str) -> Result<f64, MergeError> {
        self.at(doc, pointer)?
            .as_f64()
            .ok_or_else(|| self.missing(pointer))
    }

    /// A count that may be absent (zero then).
    pub fn count(&self, doc: &Value, pointer: &str) -> u64 {
        self.u64(doc, pointer).unwrap_or(0)
    }

    pub fn histogram(&self, doc: &Value, pointer: &str) -> Result<Histogram<u64>, MergeError> {
        self.at(doc, pointer)?
            .as_str()
            .and_then(decode)
            .ok_or_else(|| self.missing(pointer))
    }

    pub fn typed<T: DeserializeOwned>(&self, doc: &Value, pointer: &str) -> Result<T, MergeError> {
        serde_json::from_value(self.at(doc, pointer)?.clone()).map_err(|_| self.missing(pointer))
    }

    pub fn time(&self, doc: &Value, pointer: &str) -> Result<SystemTime, MergeError> {
        let s = self.f64(doc, pointer)?;
        if !(s.is_finite() && s >= 0.0) {
            return Err(self.missing(pointer));
        }
        Ok(SystemTime::UNIX_EPOCH + Duration::from_secs_f64(s))
    }

    /// The per-second timeline, each second with its histogram (none in a
    /// report that has no timeline).
    pub fn timeline(&self, doc: &Value) -> Result<Vec<TimelinePoint>, MergeError> {
        let timeline: Vec<TimelinePoint> = match doc.get("timeline") {
            Some(Value::Array(_)) => self.typed(doc, "timeline")?,
            _ => Vec::new(),
        };
        if timeline.iter().any(|p| p.histogram.is_none()) {
            return Err(self.missing("timeline/histogram"));
        }
        Ok(timeline)
    }

    /// Which shard of how many, and where it ran.
    pub fn shard(&self, doc: &Value, pointer: &str) -> Result<(Shard, Option<String>), MergeError> {
        let v = doc
            .pointer(&format!("/{pointer}"))
            .filter(|v| v.is_object())
            .ok_or_else(|| MergeError::NotSharded {
                path: self.path.to_path_buf(),
            })?;
        let shard: Shard = self.typed(doc, pointer)?;
        if shard.count == 0 || shard.index >= shard.count {
            return Err(self.missing(pointer));
        }
        Ok((shard, v["host"].as_str().map(str::to_string)))
    }
}

/// One shard's bench report, read back.
#[derive(Debug)]
pub struct BenchShard {
    pub file: PathBuf,
    pub shard: Shard,
    pub host: Option<String>,
    pub key: PlanKey,
    pub stack: Stack,
    pub workload: Workload,
    /// The whole plan's model and connections.
    pub model: Model,
    pub connections: usize,
    /// This shard's own rate (open model) and connections.
    pub own_rate: Option<f64>,
    pub own_connections: usize,
    pub duration: Duration,
    pub warmup: Duration,
    pub timeout: Duration,
    pub sample_every: u32,
    pub start_at: Option<SystemTime>,
    pub started: SystemTime,
    pub measure_start: SystemTime,
    pub measured: Duration,
    pub requests_per_sec: f64,
    pub threads: usize,
    pub process_cpu_s: f64,
    pub allow_errors: u64,
    pub totals: Totals,
    pub timeline: Vec<TimelinePoint>,
    pub valid: bool,
    pub bottleneck: bool,
    pub warnings: Vec<String>,
    /// The signal that cut the shard's run short, if one did.
    pub interrupted: Option<String>,
}

impl BenchShard {
    /// Reads a bench report written with `--shard`.
    pub fn from_json(path: &Path, doc: &Value) -> Result<BenchShard, MergeError> {
        let f = Fields { path };
        let (shard, host) = f.shard(doc, "plan/shard")?;
        let plan = f.at(doc, "plan")?;
        let stack: Stack = f.typed(doc, "stack")?;
        let workload: Workload = f.typed(doc, "plan/workload")?;
        let model = match f.at(doc, "plan/model")?.as_str() {
            Some("open") => Model::Open {
                rate: f.f64(doc, "plan/whole/rate")?,
            },
            Some("closed") => Model::Closed,
            _ => return Err(f.missing("plan/model")),
        };
        let connections = f.u64(doc, "plan/whole/connections")? as usize;
        let duration = Duration::from_secs_f64(f.f64(doc, "plan/duration_s")?);
        let warmup = Duration::from_secs_f64(f.f64(doc, "plan/warmup_s")?);
        let timeout = Duration::from_secs_f64(f.f64(doc, "plan/timeout_s")?);
        let start_at = plan["start_at"].as_str().map(str::to_string);

        let mut key = PlanKey::default();
        key.add("target", target(&stack));
        key.add(
            "workload",
            serde_json::to_string(&workload).unwrap_or_default(),
        );
        key.add("model", f.at(doc, "plan/model")?.as_str().unwrap_or("?"));
        if let Model::Open { rate } = model {
            key.add("rate", format!("{rate} req/s"));
        }
        key.add("connections", connections);
        key.add("duration", format!("{:?}", duration));
        key.add("warm-up", format!("{:?}", warmup));
        key.add("timeout", format!("{:?}", timeout));
        key.add("shards", shard.count);
        key.add("start", start_at.as_deref().unwrap_or("(none)"));

        let mut totals = Totals {
            corrected: f.histogram(doc, "histogram/corrected")?,
            uncorrected: f.histogram(doc, "histogram/uncorrected")?,
            requests: f.u64(doc, "requests")?,
            ok: f.u64(doc, "ok")?,
            sent_total: f.count(doc, "generator/requests_sent"),
            // The report keeps the window's figures; the running totals
            // behind them (warm-up included) are not needed once merged.
            bytes_read: f.count(doc, "bytes_read"),
            max_backlog: f.count(doc, "generator/max_backlog"),
            cpu: Duration::from_secs_f64(f.f64(doc, "generator/cpu_s").unwrap_or(0.0).max(0.0)),
            busiest_thread: f.f64(doc, "generator/busiest_thread").unwrap_or(0.0),
            first_error: doc["errors"]["first"]
                .as_str()
                .map(|e| format!("shard {shard}: {e}")),
            ..Totals::default()
        };
        if doc["histogram"]["sched_lag"].is_string() {
            totals.sched_lag = f.histogram(doc, "histogram/sched_lag")?;
        }
        if let Some(kinds) = doc["errors"]["by_kind"].as_object() {
            for (name, n) in kinds {
                let kind = ErrorKind::ALL
                    .into_iter()
                    .find(|k| k.as_str() == name)
                    .ok_or_else(|| f.missing(&format!("errors/by_kind/{name}")))?;
                totals.errors.add_n(kind, n.as_u64().unwrap_or(0));
            }
        }
        if let Some(statuses) = doc["statuses"].as_object() {
            for (code, n) in statuses {
                let code: u16 = code
                    .parse()
                    .map_err(|_| f.missing(&format!("statuses/{code}")))?;
                totals.statuses.add(code, n.as_u64().unwrap_or(0));
            }
        }
        let w = &mut totals.window;
        w.responses = f.u64(doc, "responses_in_window")?;
        w.bytes_read = totals.bytes_read;
        w.sent = f.u64(doc, "connections/requests_sent")?;
        w.open_at_start = f.count(doc, "connections/open_at_start");
        let c = &mut w.connections;
        c.opened = f.count(doc, "connections/opened");
        c.closed_by_server = f.count(doc, "connections/closed_by_server");
        c.closed_by_client = f.count(doc, "connections/closed_by_client");
        c.retried_after_close = f.count(doc, "connections/retried_after_close");
        totals.connections = *c;
        totals.responses_total = w.responses;

        let timeline = f.timeline(doc)?;
        Ok(BenchShard {
            file: path.to_path_buf(),
            shard,
            host,
            key,
            model,
            connections,
            own_rate: plan["rate"].as_f64(),
            own_connections: f.u64(doc, "plan/connections")? as usize,
            duration,
            warmup,
            timeout,
            sample_every: plan["body_sample_every"].as_u64().unwrap_or(1) as u32,
            start_at: start_at
                .as_deref()
                .and_then(|s| crate::bench::shard::parse_start_at(s).ok()),
            started: f.time(doc, "started_unix")?,
            measure_start: f.time(doc, "measure_start_unix")?,
            measured: Duration::from_secs_f64(f.f64(doc, "measured_s")?.max(0.0)),
            requests_per_sec: f.f64(doc, "requests_per_sec")?,
            threads: f.count(doc, "generator/threads") as usize,
            process_cpu_s: f.f64(doc, "generator/process_cpu_s").unwrap_or(0.0),
            allow_errors: f.count(doc, "errors/allowed"),
            valid: doc["valid"].as_bool().unwrap_or(false),
            bottleneck: doc["generator"]["bottleneck"].as_bool().unwrap_or(false),
            warnings: serde_json::from_value(doc["warnings"].clone()).unwrap_or_default(),
            interrupted: doc["interrupted"].as_str().map(str::to_string),
            stack,
            workload,
            totals,
            timeline,
        })
    }
}

/// What a stack's shards must share: the URL of a server reached with
/// `--url`; for a stack each shard started itself, what was started (its
/// port differs from machine to machine).
fn target(stack: &Stack) -> String {
    if stack.gateway == "url" {
        stack.target.clone()
    } else {
        describe_stack(stack)
    }
}

/// One shard's suite report, read back.
#[derive(Debug)]
pub struct SuiteShard {
    pub file: PathBuf,
    pub shard: Shard,
    pub host: Option<String>,
    pub key: PlanKey,
    pub setup: SuiteSetup,
    pub started: SystemTime,
    pub finished: bool,
    pub results: Vec<LevelShard>,
    pub failures: Vec<StackFailure>,
    pub environment: Environment,
    pub timing: SuiteTiming,
    pub start_at: Option<SystemTime>,
    pub slot: Option<Duration>,
}

/// One level of one shard's suite.
#[derive(Debug)]
pub struct LevelShard {
    pub stack: String,
    pub workload: String,
    pub level: LevelSpec,
    pub repeat: u32,
    pub started: SystemTime,
    pub measure_start: SystemTime,
    pub measured: Duration,
    pub requests: u64,
    pub errors: u64,
    pub errors_by_kind: BTreeMap<String, u64>,
    pub requests_per_sec: f64,
    pub server: Option<ServerCost>,
    pub generator: Generator,
    pub valid: bool,
    pub warnings: Vec<String>,
    pub corrected: Histogram<u64>,
    pub uncorrected: Histogram<u64>,
    pub sched_lag: Option<Histogram<u64>>,
    /// Each second of the window, with its latency histogram.
    pub timeline: Vec<TimelinePoint>,
}

impl SuiteShard {
    /// Reads a suite report written with `--shard`.
    pub fn from_json(path: &Path, doc: &Value) -> Result<SuiteShard, MergeError> {
        let f = Fields { path };
        let (shard, host) = f.shard(doc, "shard")?;
        let setup: SuiteSetup = f.typed(doc, "setup")?;
        let start_at = doc["start_at"].as_str();
        let mut key = PlanKey::default();
        key.add("stacks", setup.stacks.join(", "));
        let workloads: Vec<String> = setup
            .workloads
            .iter()
            .map(|(name, args)| format!("{name} ({args})"))
            .collect();
        key.add("workloads", workloads.join(", "));
        let levels: Vec<String> = setup.levels.iter().map(LevelSpec::label).collect();
        key.add("levels", levels.join(", "));
        key.add("duration", format!("{} s", setup.duration_s));
        key.add("warm-up", format!("{} s", setup.warmup_s));
        key.add("repeats", setup.repeats);
        key.add("thresholds", format!("{:?}", setup.thresholds));
        key.add("shards", shard.count);
        key.add("start", start_at.unwrap_or("(none)"));

        let results = doc["results"]
            .as_array()
            .map(|rs| rs.iter().map(|r| LevelShard::from_json(&f, r)).collect())
            .transpose()?
            .unwrap_or_default();
        Ok(SuiteShard {
            file: path.to_path_buf(),
            shard,
            host,
            key,
            setup,
            started: f.time(doc, "started_unix")?,
            finished: doc["finished"].as_bool().unwrap_or(false),
            results,
            failures: f.typed(doc, "failures").unwrap_or_default(),
            environment: f.typed(doc, "environment").unwrap_or_default(),
            timing: f.typed(doc, "timing").unwrap_or_default(),
            start_at: start_at.and_then(|s| crate::bench::shard::parse_start_at(s).ok()),
            slot: doc["slot_s"]
                .as_f64()
                .filter(|s| s.is_finite() && *s >= 0.0)
                .map(Duration::from_secs_f64),
        })
    }
}

impl LevelShard {
    fn from_json(f: &Fields, r: &Value) -> Result<LevelShard, MergeError> {
        let text = |pointer: &str| -> Result<String, MergeError> {
            f.at(r, pointer)?
                .as_str()
                .map(str::to_string)
                .ok_or_else(|| f.missing(&format!("results/{pointer}")))
        };
        let g = &r["generator"];
        let number = |v: &Value| v.as_f64().unwrap_or(0.0);
        let generator = Generator {
            threads: g["threads"].as_u64().unwrap_or(0) as usize,
            cpu_s: number(&g["cpu_s"]),
            process_cpu_s: number(&g["process_cpu_s"]),
            requests_sent: g["requests_sent"].as_u64().unwrap_or(0),
            cpu_per_request_us: number(&g["cpu_per_request_us"]),
            busiest_thread: number(&g["busiest_thread"]),
            sched_lag_us: None,
            max_backlog: g["max_backlog"].as_u64().unwrap_or(0),
            bottleneck: g["bottleneck"].as_bool().unwrap_or(false),
        };
        Ok(LevelShard {
            stack: text("stack")?,
            workload: text("workload")?,
            level: f.typed(r, "level_spec")?,
            repeat: f.u64(r, "repeat")? as u32,
            started: f.time(r, "started_unix")?,
            measure_start: f.time(r, "measure_start_unix")?,
            measured: Duration::from_secs_f64(f.f64(r, "measured_s")?.max(0.0)),
            requests: f.u64(r, "requests")?,
            errors: f.u64(r, "errors")?,
            errors_by_kind: f.typed(r, "errors_by_kind").unwrap_or_default(),
            requests_per_sec: f.f64(r, "requests_per_sec")?,
            server: r
                .get("server")
                .filter(|s| s.is_object())
                .and_then(|s| serde_json::from_value(s.clone()).ok()),
            generator,
            valid: r["valid"].as_bool().unwrap_or(false),
            warnings: serde_json::from_value(r["warnings"].clone()).unwrap_or_default(),
            corrected: f.histogram(r, "histogram/corrected")?,
            uncorrected: f.histogram(r, "histogram/uncorrected")?,
            sched_lag: match r["histogram"]["sched_lag"].is_string() {
                true => Some(f.histogram(r, "histogram/sched_lag")?),
                false => None,
            },
            timeline: f.timeline(r)?,
        })
    }
}
