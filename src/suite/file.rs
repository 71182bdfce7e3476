//! Suite files: reading, and validating the whole file into a
//! [`SuitePlan`] before anything starts. Stacks are `--stack` text (parsed
//! and planned by cli.rs, as `check --stack` does); workloads are bench
//! flags (parsed by bench's own clap types, so they mean what they mean on
//! the command line). Every error names the file and the entry.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use clap::parser::ValueSource;
use clap::{CommandFactory, FromArgMatches, Parser};
use serde::Deserialize;

use crate::bench::plan::{ResponseCheck, Workload, MAX_SIZE};
use crate::bench::{Shard, Threshold};
use crate::cli::{split_words, BenchArgs, PlannedStack, TargetArgs, UsageError};
use crate::duration::secs as parse_duration;
use crate::gateway::UserApp;
use crate::report::{LevelSpec, Slo};

/// Bench flags a workload may set; the rest belong to `[load]` or to the
/// suite's command line.
const WORKLOAD_FLAGS: [&str; 16] = [
    "workload",
    "size",
    "chunks",
    "ms",
    "timeout",
    "allow_errors",
    "sample_bodies",
    "load_threads",
    "app",
    "app_dir",
    "path",
    "expect_status",
    "expect_body",
    "method",
    "headers",
    "body",
];

/// Percentiles an SLO may bound.
pub const SLO_PERCENTILES: [&str; 5] = ["p50", "p90", "p95", "p99", "p99.9"];

/// A suite file that cannot run as written.
#[derive(Debug, thiserror::Error)]
pub enum SuiteFileError {
    #[error("could not read the suite file {path}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not a valid suite file (see suites/README.md for the format)")]
    Toml {
        path: String,
        #[source]
        source: toml::de::Error,
    },
    #[error("{path}: {entry}: {detail}")]
    Invalid {
        path: String,
        entry: String,
        detail: String,
    },
    #[error("{path}: stack {index} ({text:?}) cannot run as given")]
    Stack {
        path: String,
        index: usize,
        text: String,
        #[source]
        source: Box<UsageError>,
    },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSuite {
    title: Option<String>,
    /// What a reader should know about the figures (Markdown).
    notes: Option<String>,
    stacks: Vec<String>,
    #[serde(rename = "workload", default)]
    workloads: Vec<RawWorkload>,
    load: RawLoad,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWorkload {
    name: String,
    #[serde(default)]
    args: String,
    /// `--fail-if` expressions checked against every level of the workload.
    #[serde(default)]
    thresholds: Vec<Threshold>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLoad {
    #[serde(default)]
    connections: Vec<i64>,
    #[serde(default)]
    rates: Vec<f64>,
    open_connections: Option<i64>,
    duration: Option<toml::Value>,
    warmup: Option<toml::Value>,
    repeats: Option<i64>,
    sustainable: Option<toml::Table>,
}

/// One workload of the suite, its flags resolved.
#[derive(Debug, Clone)]
pub struct SuiteWorkload {
    pub name: String,
    /// The bench flags as written.
    pub args: String,
    pub workload: Workload,
    pub timeout: Duration,
    pub allow_errors: u64,
    pub sample_bodies: u32,
    pub threads: usize,
    /// Checked against every level (each repeat); a broken one fails the suite.
    pub thresholds: Vec<Threshold>,
    /// The user's application the stacks host for this workload instead of
    /// the probe (`--app`, `--app-dir` relative to the suite file, `--path`).
    pub app: Option<UserApp>,
    /// What every response must be (the probe workload's body, or an app's
    /// `--expect-status` and `--expect-body`).
    pub check: ResponseCheck,
}

/// How the sustainable rate is searched.
#[derive(Debug, Clone)]
pub struct SustainableSpec {
    pub slo: Slo,
    /// Where the search starts; default: the best closed-loop rate measured
    /// for the stack, or a short closed-loop estimate.
    pub start: Option<f64>,
    /// Measured time of one probe.
    pub probe: Duration,
    pub probe_warmup: Duration,
    pub max_probes: u32,
    /// The search stops once the bracket is this narrow (0.05: within 5%).
    pub precision: f64,
    pub connections: usize,
}

/// A suite, validated: everything the run needs, nothing started.
#[derive(Debug)]
pub struct SuitePlan {
    pub path: PathBuf,
    pub text: String,
    pub title: String,
    /// Markdown shown with the report: the machine, what explains a figure.
    pub notes: Option<String>,
    /// Each stack planned (an unknown server is a stack that will not start).
    pub stacks: Vec<PlannedStack>,
    pub workloads: Vec<SuiteWorkload>,
    pub levels: Vec<LevelSpec>,
    pub duration: Duration,
    pub warmup: Duration,
    pub repeats: u32,
    pub sustainable: Option<SustainableSpec>,
    /// `suite --shard`: every level runs this shard's part of its load.
    pub shard: Option<Shard>,
    /// `suite --start-at`: the first level's load starts then, each next
    /// level a [`SuitePlan::slot`] later, so shards run each level together.
    pub start_at: Option<SystemTime>,
}

/// `--workload ...` text, parsed with bench's own flags.
#[derive(Debug, Parser)]
#[command(name = "workload args", no_binary_name = true)]
struct WorkloadLine {
    #[command(flatten)]
    bench: BenchArgs,
}

impl SuitePlan {
    /// Reads and validates `path`; `target` holds the command line's target
    /// options (`--python`, `--recipes`, tuning), which apply to every stack
    /// that does not set its own.
    pub fn load(path: &Path, target: &TargetArgs) -> Result<SuitePlan, SuiteFileError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| SuiteFileError::Read {
            path: shown.clone(),
            source,
        })?;
        let raw: RawSuite = toml::from_str(&text).map_err(|source| SuiteFileError::Toml {
            path: shown.clone(),
            source,
        })?;
        let invalid = |entry: &str, detail: String| SuiteFileError::Invalid {
            path: shown.clone(),
            entry: entry.to_string(),
            detail,
        };

        if raw.stacks.is_empty() {
            return Err(invalid("stacks", "list at least one stack".into()));
        }
        let mut stacks = Vec::new();
        for (i, text) in raw.stacks.iter().enumerate() {
            let mut planned =
                target
                    .stack_plans_for(std::slice::from_ref(text))
                    .map_err(|source| SuiteFileError::Stack {
                        path: shown.clone(),
                        index: i + 1,
                        text: text.clone(),
                        source: Box::new(source),
                    })?;
            stacks.push(planned.remove(0));
        }
        let mut seen = HashSet::new();
        for s in &stacks {
            if !seen.insert(s.label.clone()) {
                return Err(invalid(
                    "stacks",
                    format!("two stacks are both {:?}; make them differ", s.label),
                ));
            }
        }

        if raw.workloads.is_empty() {
            return Err(invalid(
                "workload",
                "add at least one [[workload]] with a name and bench flags (args = \"--workload hello\")".into(),
            ));
        }
        let mut workloads: Vec<SuiteWorkload> = Vec::new();
        for w in &raw.workloads {
            let entry = format!("workload {:?}", w.name);
            if w.name.trim().is_empty() {
                return Err(invalid("workload", "every workload needs a name".into()));
            }
            if workloads.iter().any(|o| o.name == w.name) {
                return Err(invalid(&entry, "two workloads have this name".into()));
            }
            let base = path.parent().unwrap_or(Path::new("."));
            let workload = parse_workload(w, base).map_err(|d| invalid(&entry, d))?;
            // A stack that cannot host the app is refused now, as a flag
            // the server lacks is, before any stack starts.
            if let Some(app) = &workload.app {
                for s in &stacks {
                    if let Ok(plan) = &s.plan {
                        plan.with_app(app)
                            .map_err(|e| invalid(&entry, format!("{}: {e}", s.label)))?;
                    }
                }
            }
            workloads.push(workload);
        }

        let load = &raw.load;
        let count = |v: i64, what: &str| -> Result<usize, SuiteFileError> {
            usize::try_from(v)
                .ok()
                .filter(|n| (1..=100_000).contains(n))
                .ok_or_else(|| invalid("load", format!("{what} must be from 1 to 100000, not {v}")))
        };
        let open_connections = match load.open_connections {
            Some(v) => count(v, "open_connections")?,
            None => 64,
        };
        let mut levels = Vec::new();
        for &c in &load.connections {
            levels.push(LevelSpec {
                model: "closed",
                connections: count(c, "connections")?,
                rate: None,
            });
        }
        for &r in &load.rates {
            if !(r.is_finite() && r > 0.0) {
                return Err(invalid(
                    "load",
                    format!("rates must be positive requests per second, not {r}"),
                ));
            }
            levels.push(LevelSpec {
                model: "open",
                connections: open_connections,
                rate: Some(r),
            });
        }
        let labels: HashSet<String> = levels.iter().map(LevelSpec::label).collect();
        if labels.len() != levels.len() {
            return Err(invalid("load", "a level is listed twice".into()));
        }
        let duration = duration_of(load.duration.as_ref(), "duration", Duration::from_secs(10))
            .map_err(|d| invalid("load", d))?;
        let warmup = duration_of(load.warmup.as_ref(), "warmup", Duration::from_secs(2))
            .map_err(|d| invalid("load", d))?;
        if duration.is_zero() {
            return Err(invalid("load", "duration must be longer than zero".into()));
        }
        let repeats = match load.repeats {
            None => 3,
            Some(n) if (1..=1000).contains(&n) => n as u32,
            Some(n) => {
                return Err(invalid(
                    "load",
                    format!("repeats must be 1 to 1000, not {n}"),
                ))
            }
        };
        let sustainable = match &load.sustainable {
            None => None,
            Some(t) => Some(
                parse_sustainable(t, open_connections)
                    .map_err(|d| invalid("load.sustainable", d))?,
            ),
        };
        if levels.is_empty() && sustainable.is_none() {
            return Err(invalid(
                "load",
                "give connections (closed-loop levels), rates (open-loop levels) or sustainable"
                    .into(),
            ));
        }
        let title = raw.title.clone().unwrap_or_else(|| {
            path.file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "suite".into())
        });
        Ok(SuitePlan {
            path: path.to_path_buf(),
            text,
            title,
            notes: raw
                .notes
                .as_deref()
                .map(str::trim)
                .filter(|n| !n.is_empty())
                .map(str::to_string),
            stacks,
            workloads,
            levels,
            duration,
            warmup,
            repeats,
            sustainable,
            shard: None,
            start_at: None,
        })
    }

    /// Makes this run shard `shard` of the suite (each level's connections
    /// and rate split as `bench --shard` splits them) and puts its levels on
    /// a schedule from `start_at`; refused when a part cannot be split.
    pub fn distribute(
        &mut self,
        shard: Option<Shard>,
        start_at: Option<SystemTime>,
    ) -> Result<(), SuiteFileError> {
        let invalid = |entry: &str, detail: String| SuiteFileError::Invalid {
            path: self.path.display().to_string(),
            entry: entry.to_string(),
            detail,
        };
        if let Some(shard) = shard {
            if self.sustainable.is_some() {
                return Err(invalid(
                    "load.sustainable",
                    "the sustainable-rate search picks each probe's rate from the last one's result, which shards on other machines cannot share: drop `sustainable` to run the suite with --shard, or search without --shard".into(),
                ));
            }
            if let Some(l) = self
                .levels
                .iter()
                .find(|l| l.connections < shard.count as usize)
            {
                return Err(invalid(
                    "load",
                    format!(
                        "level {} has {} connections, fewer than the {} shards: each shard needs one",
                        l.label(),
                        l.connections,
                        shard.count
                    ),
                ));
            }
        }
        self.shard = shard;
        self.start_at = start_at;
        Ok(())
    }

    /// The time each level has on the `--start-at` schedule: warm-up,
    /// window, the longest a request may still take after it, and a pause
    /// for the health check (and, between workloads, for starting stacks).
    pub fn slot(&self) -> Duration {
        let timeout = self
            .workloads
            .iter()
            .map(|w| w.timeout)
            .max()
            .unwrap_or_default();
        self.warmup + self.duration + timeout + SLOT_PAUSE
    }
}

/// The pause that ends each level's slot on a `--start-at` schedule.
pub const SLOT_PAUSE: Duration = Duration::from_secs(5);

fn parse_workload(w: &RawWorkload, base: &Path) -> Result<SuiteWorkload, String> {
    let words = split_words(&w.args).ok_or("unbalanced quote in args")?;
    let command = WorkloadLine::command();
    let args: HashSet<&str> = command
        .get_arguments()
        .map(|a| a.get_id().as_str())
        .collect();
    let matches = command
        .clone()
        .try_get_matches_from(words)
        .map_err(|e| e.to_string().lines().next().unwrap_or("").to_string())?;
    let mut ids: Vec<String> = matches
        .ids()
        .map(|id| id.as_str().to_string())
        // Argument groups are reported too: only flags count.
        .filter(|id| args.contains(id.as_str()))
        .filter(|id| matches.value_source(id) == Some(ValueSource::CommandLine))
        .filter(|id| !WORKLOAD_FLAGS.contains(&id.as_str()))
        .collect();
    if !ids.is_empty() {
        ids.sort();
        return Err(format!(
            "{} cannot be set per workload: levels and durations go in [load], stacks in `stacks`, target options on the command line (a workload takes --{})",
            ids.iter()
                .map(|i| format!("--{}", i.replace('_', "-")))
                .collect::<Vec<_>>()
                .join(", "),
            WORKLOAD_FLAGS
                .iter()
                .map(|f| f.replace('_', "-"))
                .collect::<Vec<_>>()
                .join(", --")
        ));
    }
    let line = WorkloadLine::from_arg_matches(&matches).map_err(|e| e.to_string())?;
    let b = &line.bench;
    if b.size > MAX_SIZE {
        return Err(format!("--size must be at most {MAX_SIZE} bytes"));
    }
    if b.timeout.is_zero() {
        return Err("--timeout must be longer than zero".into());
    }
    if b.load_threads == Some(0) {
        return Err("--load-threads must be at least 1".into());
    }
    let workload = b.workload().map_err(|e| e.to_string())?;
    let check = b.response_check(&workload).map_err(|e| e.to_string())?;
    // A suite file runs the same from any folder: the app's folder is
    // found from the file's own.
    let app = match &b.app {
        None => None,
        Some(callable) => Some(UserApp {
            callable: callable.clone(),
            dir: std::path::absolute(base.join(b.app_dir.clone().unwrap_or_default()))
                .map_err(|e| format!("--app-dir: {e}"))?,
            path: b.path.clone(),
        }),
    };
    Ok(SuiteWorkload {
        name: w.name.clone(),
        args: w.args.clone(),
        app,
        check,
        workload,
        timeout: b.timeout,
        allow_errors: b.allow_errors,
        sample_bodies: b.sample_bodies.max(1),
        threads: b.load_threads.unwrap_or_else(default_threads),
        thresholds: w.thresholds.clone(),
    })
}

/// Half the CPUs, as bench's default: the stack needs the rest.
fn default_threads() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get() / 2)
        .unwrap_or(1)
        .max(1)
}

fn duration_of(v: Option<&toml::Value>, what: &str, default: Duration) -> Result<Duration, String> {
    match v {
        None => Ok(default),
        Some(toml::Value::String(s)) => parse_duration(s).map_err(|e| format!("{what}: {e}")),
        Some(toml::Value::Integer(n)) if *n >= 0 => Ok(Duration::from_secs(*n as u64)),
        Some(toml::Value::Float(f)) if f.is_finite() && *f >= 0.0 => {
            Ok(Duration::from_secs_f64(*f))
        }
        Some(other) => Err(format!(
            "{what} must be a duration such as \"10s\" or \"500ms\", not {other}"
        )),
    }
}

fn parse_sustainable(t: &toml::Table, open_connections: usize) -> Result<SustainableSpec, String> {
    let mut latency = BTreeMap::new();
    let mut spec = SustainableSpec {
        slo: Slo {
            latency_us: BTreeMap::new(),
            errors: 0,
            min_throughput: 0.97,
        },
        start: None,
        probe: Duration::from_secs(2),
        probe_warmup: Duration::from_millis(500),
        max_probes: 12,
        precision: 0.05,
        connections: open_connections,
    };
    let number = |v: &toml::Value| match v {
        toml::Value::Integer(n) => Some(*n as f64),
        toml::Value::Float(f) => Some(*f),
        _ => None,
    };
    for (key, v) in t {
        let k = key.as_str();
        match k {
            _ if SLO_PERCENTILES.contains(&k) => {
                let d = duration_of(Some(v), k, Duration::ZERO)?;
                if d.is_zero() {
                    return Err(format!("{k} must be longer than zero"));
                }
                latency.insert(k.to_string(), d.as_micros() as u64);
            }
            "errors" => {
                spec.slo.errors = v
                    .as_integer()
                    .filter(|n| *n >= 0)
                    .ok_or("errors must be a count (0 for none)")? as u64
            }
            "start" => {
                spec.start = Some(
                    number(v)
                        .filter(|r| r.is_finite() && *r > 0.0)
                        .ok_or("start must be a positive rate")?,
                )
            }
            "probe" => spec.probe = duration_of(Some(v), k, spec.probe)?,
            "probe_warmup" => spec.probe_warmup = duration_of(Some(v), k, spec.probe_warmup)?,
            "max_probes" => {
                spec.max_probes = v
                    .as_integer()
                    .filter(|n| (2..=100).contains(n))
                    .ok_or("max_probes must be 2 to 100")? as u32
            }
            "precision" => {
                spec.precision = number(v)
                    .filter(|p| *p > 0.0 && *p < 1.0)
                    .ok_or("precision must be between 0 and 1 (0.05: within 5%)")?
            }
            "min_throughput" => {
                spec.slo.min_throughput = number(v)
                    .filter(|p| *p > 0.0 && *p <= 1.0)
                    .ok_or("min_throughput must be above 0 and at most 1")?
            }
            "connections" => {
                spec.connections = v
                    .as_integer()
                    .filter(|n| (1..=100_000).contains(n))
                    .ok_or("connections must be 1 to 100000")? as usize
            }
            other => {
                return Err(format!(
                    "unknown key {other:?}; it takes {}, errors, start, probe, probe_warmup, max_probes, precision, min_throughput, connections",
                    SLO_PERCENTILES.join(", ")
                ))
            }
        }
    }
    if latency.is_empty() {
        return Err(format!(
            "give a latency limit, e.g. p99 = \"100ms\" (any of {})",
            SLO_PERCENTILES.join(", ")
        ));
    }
    if spec.probe.is_zero() {
        return Err("probe must be longer than zero".into());
    }
    spec.slo.latency_us = latency;
    Ok(spec)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Cli, Command};

    fn load(text: &str) -> Result<SuitePlan, SuiteFileError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.toml");
        std::fs::write(&path, text).unwrap();
        let cli = Cli::try_parse_from(["wsgiprobe", "suite", "t.toml", "--workers", "3"]).unwrap();
        let Command::Suite(args) = cli.command else {
            panic!("suite")
        };
        SuitePlan::load(&path, &args.target)
    }

    #[test]
    fn a_suite_file_becomes_a_plan_with_its_defaults() {
        let plan = load(
            r#"
stacks = ["gunicorn", "gunicorn --workers 2 --proxy nginx", "nosuch"]
[[workload]]
name = "io"
args = "--workload sleep --ms 25 --timeout 3s"
thresholds = ["p99<50ms", "errors==0"]
[[workload]]
name = "hello"
[load]
connections = [1, 16]
rates = [500, 0.5]
open_connections = 32
sustainable = { p99 = "100ms", "p99.9" = "1s", errors = 2 }
"#,
        )
        .unwrap();
        assert_eq!(plan.title, "t");
        assert_eq!(plan.notes, None, "no notes, none in the report");
        let labels: Vec<&str> = plan.stacks.iter().map(|s| s.label.as_str()).collect();
        // Command-line tuning applies where the stack sets none.
        assert_eq!(labels, ["gunicorn w3", "gunicorn w2 + nginx", "nosuch w3"]);
        assert!(
            plan.stacks[2].plan.is_err(),
            "an unknown server will not start"
        );
        assert_eq!(plan.workloads[0].workload, Workload::Sleep { ms: 25 });
        assert_eq!(plan.workloads[0].timeout, Duration::from_secs(3));
        assert_eq!(plan.workloads[1].workload, Workload::Hello);
        let t: Vec<&str> = plan.workloads[0]
            .thresholds
            .iter()
            .map(|t| t.text.as_str())
            .collect();
        assert_eq!(t, ["p99<50ms", "errors==0"]);
        let levels: Vec<String> = plan.levels.iter().map(LevelSpec::label).collect();
        assert_eq!(levels, ["c1", "c16", "r500", "r0.5"]);
        assert_eq!(plan.levels[2].connections, 32);
        assert_eq!(
            (plan.duration, plan.warmup, plan.repeats),
            (Duration::from_secs(10), Duration::from_secs(2), 3)
        );
        let s = plan.sustainable.unwrap();
        assert_eq!(s.slo.latency_us["p99.9"], 1_000_000);
        assert_eq!((s.slo.errors, s.connections, s.max_probes), (2, 32, 12));
    }

    #[test]
    fn notes_are_kept_trimmed_and_blank_ones_dropped() {
        let file = |notes: &str| {
            format!("notes = {notes:?}\nstacks = [\"gunicorn\"]\n[[workload]]\nname = \"w\"\n[load]\nconnections = [1]\n")
        };
        let plan = load(&file("\n2 cores, shared.\n\n- one\n")).unwrap();
        assert_eq!(plan.notes.as_deref(), Some("2 cores, shared.\n\n- one"));
        assert_eq!(load(&file("  \n")).unwrap().notes, None);
    }

    #[test]
    fn mistakes_name_the_entry() {
        let base = "stacks = [\"gunicorn\"]\n[[workload]]\nname = \"w\"\n";
        for (rest, want) in [
            ("[load]\n", "give connections"),
            ("[load]\nconnections = [0]\n", "connections must be from 1"),
            ("[load]\nrates = [-1.0]\n", "rates must be positive"),
            ("[load]\nconnections = [1, 1]\n", "listed twice"),
            (
                "[load]\nconnections = [1]\nduration = \"soon\"\n",
                "duration",
            ),
            ("[load]\nconnections = [1]\nrepeats = 0\n", "repeats"),
            ("[load]\nsustainable = { errors = 0 }\n", "latency limit"),
            (
                "[load]\nsustainable = { p99 = \"1s\", precision = 2 }\n",
                "precision",
            ),
        ] {
            let e = load(&format!("{base}{rest}")).unwrap_err().to_string();
            assert!(e.contains(want) && e.contains("t.toml"), "{rest:?}: {e}");
        }
        let e = load("stacks = [\"gunicorn\", \"gunicorn\"]\n[[workload]]\nname = \"w\"\n[load]\nconnections = [1]\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("two stacks"), "{e}");
        let e = load("stacks = [\"gunicorn\"]\n[[workload]]\nname = \"w\"\nargs = \"--rate 5 --url x\"\n[load]\nconnections = [1]\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("--rate, --url") && e.contains("workload \"w\""),
            "{e}"
        );
    }

    #[test]
    fn the_shipped_suites_are_valid_and_servers_covers_every_recipe() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("suites");
        let cli = Cli::try_parse_from(["wsgiprobe", "suite", "x"]).unwrap();
        let Command::Suite(args) = cli.command else {
            panic!("suite")
        };
        let mut loaded = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "toml") {
                let plan = SuitePlan::load(&path, &args.target)
                    .unwrap_or_else(|e| panic!("{}: {e:#}", path.display()));
                assert!(plan.stacks.iter().all(|s| s.plan.is_ok()), "{path:?}");
                loaded += 1;
            }
        }
        assert!(loaded >= 4, "suites/ holds the published suites");
        let servers = SuitePlan::load(&dir.join("servers.toml"), &args.target).unwrap();
        let names: HashSet<&str> = servers
            .stacks
            .iter()
            .filter_map(|s| s.label.split_whitespace().next())
            .collect();
        for recipe in crate::gateway::RecipeBook::builtin().names() {
            assert!(
                names.contains(recipe),
                "suites/servers.toml has no {recipe} stack"
            );
        }
    }
}
