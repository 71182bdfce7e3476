//! `wsgiprobe suite FILE`: the suite file validated whole (every stack
//! planned) before any stack starts, the run, its progress on stderr, and
//! the report written to DIR/report.json, DIR/report.md and
//! DIR/report.html after every level.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use anyhow::{bail, Context, Result};

use super::events;
use crate::bench::shard::{check_start_at, rfc3339};
use crate::cli::{OutputArgs, SuiteArgs};
use crate::exit::Exit;
use crate::report::style::ms;
use crate::report::{
    format_rate, interval_log, write_atomically, Console, Destination, Document, Exports, Html,
    Json, LevelResult, Markdown, SuiteReport,
};
use crate::suite::{self, SuiteEvent, SuitePlan};

/// Runs `wsgiprobe suite`.
pub fn run(args: SuiteArgs, output: &OutputArgs) -> Result<Exit> {
    let t = &args.target;
    if !t.server.is_empty() || !t.stack.is_empty() || t.cmd.is_some() || t.url.is_some() {
        bail!("a suite takes its stacks from the suite file's `stacks`; drop --server, --stack, --cmd and --url");
    }
    if t.validate {
        bail!("--validate is for check; a suite measures load");
    }
    let mut plan = SuitePlan::load(&args.file, &args.target)?;
    let d = &args.distributed;
    plan.distribute(d.shard, d.start_at)?;
    if let Some(at) = d.start_at {
        check_start_at(at, SystemTime::now(), plan.warmup)?;
    }
    if args.dry_run {
        print!("{}", describe(&plan));
        return Ok(Exit::Clean);
    }
    let out = args.out.clone().unwrap_or_else(|| default_out(&plan));
    std::fs::create_dir_all(&out)
        .with_context(|| format!("could not create the report folder {}", out.display()))?;
    let files = Exports::to(vec![
        (Box::new(Json), Destination::File(out.join("report.json"))),
        (Box::new(Markdown), Destination::File(out.join("report.md"))),
        (Box::new(Html), Destination::File(out.join("report.html"))),
    ]);

    let nginx = plan
        .stacks
        .iter()
        .any(|s| s.plan.as_ref().is_ok_and(|p| p.spec().proxy.is_some()))
        .then_some(t.nginx.as_str());
    let environment = suite::environment::gather(
        &t.python,
        nginx,
        &plan.path.display().to_string(),
        &plan.text,
    );
    eprintln!(
        "wsgiprobe: suite {:?}: {} stacks × {} workloads × {} levels × {} repeats; writing {}",
        plan.title,
        plan.stacks.len(),
        plan.workloads.len(),
        plan.levels.len(),
        plan.repeats,
        out.display()
    );
    let interactive = std::io::stderr().is_terminal();
    let hlog_dir = args.hlog.then(|| out.join("hlog"));
    let on_event = |e: SuiteEvent| {
        if let (SuiteEvent::Measured(r), Some(dir)) = (&e, &hlog_dir) {
            if let Err(e) = write_hlog(dir, r) {
                eprintln!("wsgiprobe: could not write the interval log: {e:#}");
            }
        }
        show(&e, interactive);
    };
    let report = suite::run(&plan, environment, &on_event, &mut |r| {
        files.write(&Document::Suite(r))
    })?;
    if !output.no_table {
        Exports::to(vec![(Box::new(Console::default()), Destination::Stdout)])
            .write(&Document::Suite(&report))?;
    }
    eprintln!(
        "wsgiprobe: wrote {}, {} and {}",
        out.join("report.json").display(),
        out.join("report.md").display(),
        out.join("report.html").display()
    );
    Ok(exit_for(&report))
}

/// Writes a level's per-second latency to DIR/STACK.WORKLOAD.LEVEL.rN.hlog.
fn write_hlog(dir: &Path, r: &LevelResult) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("could not create {}", dir.display()))?;
    let safe = |s: &str| -> String {
        s.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "._-".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .collect()
    };
    let name = format!(
        "{}.{}.{}.r{}.hlog",
        safe(&r.stack),
        safe(&r.workload),
        r.level.label(),
        r.repeat
    );
    let about = format!(
        "wsgiprobe {}: corrected latency of {} · {} · {} · repeat {}, microseconds, one interval a second; Interval_Max in milliseconds",
        env!("CARGO_PKG_VERSION"),
        r.stack,
        r.workload,
        r.level.title(),
        r.repeat
    );
    let text = interval_log(&about, &r.timeline, r.measure_start, r.measured_s);
    let path = dir.join(name);
    write_atomically(&path, &text).with_context(|| format!("could not write {}", path.display()))
}

/// What `--dry-run` shows: the plan and how long it takes at least.
fn describe(plan: &SuitePlan) -> String {
    let mut out = format!(
        "suite {:?} ({})
stacks:\n",
        plan.title,
        plan.path.display()
    );
    for s in &plan.stacks {
        match &s.plan {
            Ok(_) => out.push_str(&format!("  {}\n", s.label)),
            Err(e) => out.push_str(&format!("  {} (will not start: {e})\n", s.label)),
        }
    }
    out.push_str("workloads:\n");
    for w in &plan.workloads {
        out.push_str(&format!("  {}: {}\n", w.name, w.args));
    }
    let levels: Vec<String> = plan.levels.iter().map(|l| l.title()).collect();
    out.push_str(&format!(
        "levels: {}\nrepeats: {}, {:?} measured after {:?} of warm-up each\n",
        if levels.is_empty() {
            "none".into()
        } else {
            levels.join(", ")
        },
        plan.repeats,
        plan.duration,
        plan.warmup
    ));
    let runs = plan.stacks.len() * plan.workloads.len();
    let mut secs = (runs * plan.levels.len() * plan.repeats as usize) as f64
        * (plan.duration + plan.warmup).as_secs_f64();
    if let Some(s) = &plan.sustainable {
        out.push_str(&format!(
            "sustainable: {:?}, up to {} probes of {:?} each\n",
            s.slo.latency_us, s.max_probes, s.probe
        ));
        // A typical search: a 2x bracket in two or three probes, then five.
        secs += (runs * 8) as f64 * (s.probe + s.probe_warmup).as_secs_f64();
    }
    if let Some(s) = plan.shard {
        out.push_str(&format!(
            "shard {s}: each level drives 1/{} of its connections and rate\n",
            s.count
        ));
    }
    if let Some(at) = plan.start_at {
        out.push_str(&format!(
            "schedule: the first level's load starts at {}, each next one {:?} later\n",
            rfc3339(at),
            plan.slot()
        ));
    }
    out.push_str(&format!(
        "at least {:.0} min of load (starting stacks and searches vary)\n",
        secs / 60.0
    ));
    out
}

/// `reports/NAME-YYYY-MM-DD`.
fn default_out(plan: &SuitePlan) -> PathBuf {
    let stem = plan
        .path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "suite".into());
    PathBuf::from("reports").join(format!("{stem}-{}", chrono::Utc::now().format("%Y-%m-%d")))
}

/// A stack that failed is trouble of the harness (2), as in a matrix; a
/// level with more errors than allowed, or that broke a workload's
/// threshold, is a failure (1), which wins.
pub fn exit_for(report: &SuiteReport) -> Exit {
    let invalid = report
        .results
        .iter()
        .any(|r| !r.valid || r.thresholds.iter().any(|t| !t.held));
    Exit::worst([
        if invalid { Exit::Failures } else { Exit::Clean },
        if report.failures.is_empty() && report.finished {
            Exit::Clean
        } else {
            Exit::Harness
        },
    ])
}

fn show(event: &SuiteEvent, interactive: bool) {
    match event {
        SuiteEvent::Gateway(e) => events::to_stderr(e.clone()),
        SuiteEvent::Level {
            stack,
            workload,
            level,
            repeat,
            index,
            total,
        } => {
            eprint!(
                "[{index}/{total}] {stack} · {workload} · {} · repeat {repeat}",
                level.title()
            );
            if interactive {
                eprint!(" …");
            }
            let _ = std::io::stderr().flush();
        }
        SuiteEvent::Measured(r) => {
            if interactive {
                eprint!("\x08\x08");
            }
            let server = r.server.map_or(String::new(), |s| {
                format!(
                    ", server {:.2} CPU-s, {:.0} MiB",
                    s.cpu_s,
                    s.rss_max_bytes as f64 / 1048576.0
                )
            });
            eprintln!(
                ": {} req/s, p99 {}, {} errors{server}{}",
                format_rate(r.requests_per_sec),
                ms(r.latency.p99),
                r.errors,
                if r.generator.bottleneck {
                    " (the generator was the bottleneck)"
                } else {
                    ""
                }
            );
        }
        SuiteEvent::Failed(f) => {
            let at = f.level.as_ref().map_or(String::new(), |_| "\n".to_string());
            eprintln!(
                "{at}wsgiprobe: {} ({}) {}: {}",
                f.stack,
                f.workload,
                match f.phase {
                    "start" => "did not start",
                    "died" => "died",
                    "health" => "stopped answering",
                    _ => "could not be measured",
                },
                f.message
            );
        }
        SuiteEvent::Probe {
            stack,
            workload,
            probe,
        } => eprintln!(
            "  sustainable {stack} · {workload}: {} {} req/s → {} req/s, p99 {}, {} errors: {}",
            probe.phase,
            format_rate(probe.rate),
            format_rate(probe.requests_per_sec),
            ms(probe.latency_us.p99),
            probe.errors,
            if probe.holds { "holds" } else { "breaks" }
        ),
        SuiteEvent::Sustainable(s) => eprintln!(
            "  sustainable {} · {}: {} after {} probes",
            s.stack,
            s.workload,
            s.rate.map_or("no rate held".into(), |r| format!(
                "{} req/s",
                format_rate(r)
            )),
            s.probes.len()
        ),
    }
}
