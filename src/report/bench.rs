//! The bench report: judgement of a run (valid or not, who was the
//! bottleneck), its JSON document and its terminal rendering.

use std::time::{Duration, SystemTime};

use comfy_table::CellAlignment;
use serde_json::{json, Value};

use super::check::ToolInfo;
use super::style::{ms, table};
use crate::bench::plan::{Model, Plan, Stop, Workload};
use crate::bench::run::RunResult;
use crate::bench::stats::{encode, spectrum, Percentiles};
use crate::bench::threshold::{check_all, Checked, Figures, Threshold};
use crate::gateway::Stack;

/// A worker thread busier than this was itself the bottleneck.
const BUSY_LIMIT: f64 = 0.90;
/// Open model: a generator whose sends run this late (p99) fell behind.
const LAG_LIMIT_US: u64 = 5_000;

/// How the load generator itself fared.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Generator {
    pub threads: usize,
    /// CPU seconds of the worker threads (user + system).
    pub cpu_s: f64,
    /// CPU seconds of the whole process, from getrusage.
    pub process_cpu_s: f64,
    /// Requests sent in all (validation and warm-up included): what the CPU was spent on.
    pub requests_sent: u64,
    pub cpu_per_request_us: f64,
    /// The busiest worker thread's CPU time over its wall time.
    pub busiest_thread: f64,
    /// Open model: how late requests went out on free connections.
    pub sched_lag_us: Option<Percentiles>,
    /// Open model: most requests due at once with no free connection.
    pub max_backlog: u64,
    /// The generator, not the stack, limited the run.
    pub bottleneck: bool,
}

/// One bench run, ready for rendering.
#[derive(Debug)]
pub struct BenchReport {
    pub tool: ToolInfo,
    pub stack: Stack,
    pub started: SystemTime,
    pub workload: Workload,
    pub plan: Plan,
    pub result: RunResult,
    pub generator: Generator,
    pub allow_errors: u64,
    /// Things the reader should know (reconnects, bottlenecks, ...).
    pub warnings: Vec<String>,
    /// `--fail-if` thresholds against this run, in the order given.
    pub thresholds: Vec<Checked>,
}

impl BenchReport {
    pub fn new(
        stack: Stack,
        started: SystemTime,
        workload: Workload,
        plan: Plan,
        result: RunResult,
        process_cpu: Duration,
        allow_errors: u64,
    ) -> BenchReport {
        let open = matches!(plan.model, Model::Open { .. });
        let t = &result.totals;
        let sched = Percentiles::of(&t.sched_lag);
        let bottleneck =
            t.busiest_thread > BUSY_LIMIT || (open && sched.count > 0 && sched.p99 > LAG_LIMIT_US);
        let generator = Generator {
            threads: result.threads,
            cpu_s: t.cpu.as_secs_f64(),
            process_cpu_s: process_cpu.as_secs_f64(),
            requests_sent: t.sent_total,
            cpu_per_request_us: if t.sent_total > 0 {
                t.cpu.as_secs_f64() * 1e6 / t.sent_total as f64
            } else {
                0.0
            },
            busiest_thread: t.busiest_thread,
            sched_lag_us: open.then_some(sched),
            max_backlog: t.max_backlog,
            bottleneck,
        };
        let mut warnings = Vec::new();
        let c = &t.connections;
        // Only closes the server made after answering count: a client that
        // drops the connection after each failed request, or one with more
        // connections than requests, opens as many without the server
        // closing any.
        if t.answered() >= 20 && c.closed_by_server * 10 >= t.answered() * 9 {
            warnings.push(format!(
                "the server closed the connection after almost every request ({} closes for {} answered requests): the figures include connection set-up; this server (or its mode) does not keep connections alive",
                c.closed_by_server,
                t.answered()
            ));
        }
        if bottleneck {
            warnings.push(if t.busiest_thread > BUSY_LIMIT {
                format!(
                    "the load generator was the bottleneck (a worker thread was {:.0}% busy): add --load-threads or use a faster machine for the generator",
                    t.busiest_thread * 100.0
                )
            } else {
                format!(
                    "the load generator fell behind its schedule (p99 send lag {:.1} ms on free connections)",
                    sched.p99 as f64 / 1000.0
                )
            });
        }
        if open && t.max_backlog > 0 {
            let per = t.max_backlog;
            warnings.push(format!(
                "up to {per} due requests waited for a free connection: the stack did not keep up with the rate on {} connections (their wait is part of the latency)",
                plan.connections
            ));
        }
        if t.requests == 0 {
            warnings.push("no request completed in the measured window".into());
        }
        BenchReport {
            tool: ToolInfo::default(),
            stack,
            started,
            workload,
            plan,
            result,
            generator,
            allow_errors,
            warnings,
            thresholds: Vec::new(),
        }
    }

    /// Checks `thresholds` against the run (corrected latency, achieved
    /// rate, errors) and keeps the results in the report.
    pub fn check_thresholds(&mut self, thresholds: &[Threshold]) {
        let figures = Figures {
            latency_us: &self.result.totals.corrected,
            requests_per_sec: self.result.requests_per_sec(),
            requests: self.result.totals.requests,
            errors: self.result.totals.errors.total(),
        };
        self.thresholds = check_all(thresholds, &figures);
    }

    /// Thresholds the run did not meet.
    pub fn broken_thresholds(&self) -> impl Iterator<Item = &Checked> {
        self.thresholds.iter().filter(|c| !c.held)
    }

    /// A run with more errors than allowed (or with nothing measured) does not count.
    pub fn valid(&self) -> bool {
        self.result.totals.errors.total() <= self.allow_errors && self.result.totals.requests > 0
    }

    pub fn to_json(&self) -> Value {
        let r = &self.result;
        let t = &r.totals;
        let corrected = Percentiles::of(&t.corrected);
        let uncorrected = Percentiles::of(&t.uncorrected);
        let plan = &self.plan;
        let (model, rate) = match plan.model {
            Model::Closed => ("closed", None),
            Model::Open { rate } => ("open", Some(rate)),
        };
        let by_kind: serde_json::Map<String, Value> = t
            .errors
            .nonzero()
            .map(|(k, n)| (k.as_str().to_string(), json!(n)))
            .collect();
        let started = self
            .started
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0);
        let mut doc = json!({
            "tool": {"name": self.tool.name, "version": self.tool.version},
            "stack": self.stack,
            "started_unix": started,
            "plan": {
                "model": model,
                "rate": rate,
                "connections": plan.connections,
                "threads": r.threads,
                "duration_s": match plan.stop { Stop::Duration(d) => Some(d.as_secs_f64()), Stop::Count(_) => None },
                "requests": match plan.stop { Stop::Count(n) => Some(n), Stop::Duration(_) => None },
                "warmup_s": plan.warmup.as_secs_f64(),
                "timeout_s": plan.timeout.as_secs_f64(),
                "workload": self.workload,
                "body_sample_every": plan.check.sample_every,
            },
            "valid": self.valid(),
            "requests": t.requests,
            "ok": t.ok,
            "measured_s": r.measured.as_secs_f64(),
            "requests_per_sec": r.requests_per_sec(),
            "bytes_read": t.bytes_read,
            "latency_us": corrected,
            "latency_uncorrected_us": uncorrected,
            "latency_note": match plan.model {
                Model::Open { .. } => "latency_us counts from each request's intended send time (includes waiting for a free connection); latency_uncorrected_us from the actual send",
                Model::Closed => "closed model: both count from the send (latency_uncorrected_us equals latency_us)",
            },
            "spectrum": spectrum(&t.corrected),
            "errors": {
                "total": t.errors.total(),
                "allowed": self.allow_errors,
                "by_kind": by_kind,
                "first": t.first_error,
            },
            "connections": {
                "opened": t.connections.opened,
                "closed_by_server": t.connections.closed_by_server,
                "closed_by_client": t.connections.closed_by_client,
                "retried_after_close": t.connections.retried_after_close,
                "requests_per_connection": if t.connections.opened > 0 { t.sent_total as f64 / t.connections.opened as f64 } else { 0.0 },
            },
            "generator": self.generator,
            "warnings": self.warnings,
            "timeline": r.timeline,
            "histogram": {
                "format": "HdrHistogram V2 compressed (deflate), base64; values in microseconds",
                "corrected": encode(&t.corrected),
                "uncorrected": encode(&t.uncorrected),
            },
        });
        // Only with --fail-if, so a run without thresholds reads as before.
        if !self.thresholds.is_empty() {
            doc["thresholds"] = json!(self.thresholds);
        }
        doc
    }

    /// The terminal summary.
    pub fn render(&self) -> String {
        let r = &self.result;
        let totals = &r.totals;
        let s = &self.stack;
        let mut out = String::new();
        let what = match self.plan.model {
            Model::Closed => format!("closed loop, {} connections", self.plan.connections),
            Model::Open { rate } => format!(
                "open loop at {rate} req/s, up to {} connections",
                self.plan.connections
            ),
        };
        out.push_str(&format!(
            "{} {}: {}{} at {} ({}, proxy {})\nworkload {} ({}), {what}, {} load thread(s), {:.1} s measured\n",
            self.tool.name,
            self.tool.version,
            s.gateway,
            s.version.as_ref().map(|v| format!(" {v}")).unwrap_or_default(),
            s.target,
            s.transport,
            s.proxy,
            self.workload.name(),
            workload_args(&self.workload),
            r.threads,
            r.measured.as_secs_f64(),
        ));
        if let Some(sw) = &s.server_software {
            out.push_str(&format!("SERVER_SOFTWARE: {sw}\n"));
        }

        let mut t = table(None);
        let corrected = Percentiles::of(&totals.corrected);
        let uncorrected = Percentiles::of(&totals.uncorrected);
        let open = matches!(self.plan.model, Model::Open { .. });
        t.set_header(vec![
            "req/s", "requests", "errors", "p50", "p90", "p99", "p99.9", "max",
        ]);
        // Without one answered request the histogram only times failures
        // (often near zero): no figure is better than a misleading one.
        let answered = totals.answered() > 0;
        let latency = |us: u64| if answered { ms(us) } else { "-".into() };
        let row = |label: String, p: &Percentiles| {
            vec![
                label,
                totals.requests.to_string(),
                totals.errors.total().to_string(),
                latency(p.p50),
                latency(p.p90),
                latency(p.p99),
                latency(p.p99_9),
                latency(p.max),
            ]
        };
        t.add_row(row(format!("{:.1}", r.requests_per_sec()), &corrected));
        if open {
            let mut service = row("(service time)".into(), &uncorrected);
            service[1].clear();
            service[2].clear();
            t.add_row(service);
        }
        for i in 0..8 {
            if let Some(col) = t.column_mut(i) {
                col.set_cell_alignment(CellAlignment::Right);
            }
        }
        out.push_str(&t.to_string());
        out.push('\n');
        if open {
            out.push_str("latency counts from each request's intended send time; service time from the actual send\n");
        }

        if !answered {
            out.push_str("no request was answered: there is no latency to show\n");
        }
        let spec = spectrum(&totals.corrected);
        if answered && !spec.is_empty() {
            let mut t = table(None);
            t.set_header(vec!["percentile", "latency", "requests ≤"]);
            for p in &spec {
                t.add_row(vec![
                    format!("{}", p.percentile),
                    ms(p.latency_us),
                    p.count.to_string(),
                ]);
            }
            out.push_str(&t.to_string());
            out.push('\n');
        }

        if totals.errors.total() > 0 {
            let kinds: Vec<String> = totals
                .errors
                .nonzero()
                .map(|(k, n)| format!("{} {n}", k.as_str()))
                .collect();
            out.push_str(&format!("errors: {}\n", kinds.join(", ")));
            if let Some(e) = &totals.first_error {
                out.push_str(&format!("first error: {e}\n"));
            }
        }
        let c = &totals.connections;
        out.push_str(&format!(
            "connections: {} opened, {:.1} requests each, {} closed by the server, {} closed after errors, {} requests resent after an idle close\n",
            c.opened,
            if c.opened > 0 { totals.sent_total as f64 / c.opened as f64 } else { 0.0 },
            c.closed_by_server,
            c.closed_by_client,
            c.retried_after_close,
        ));
        let g = &self.generator;
        out.push_str(&format!(
            "generator: {:.2} s CPU on {} thread(s) ({:.1} µs per request), busiest thread {:.0}%",
            g.cpu_s,
            g.threads,
            g.cpu_per_request_us,
            g.busiest_thread * 100.0
        ));
        if let Some(lag) = &g.sched_lag_us {
            out.push_str(&format!(
                ", send lag p99 {} max {}",
                ms(lag.p99),
                ms(lag.max)
            ));
        }
        out.push('\n');
        for w in &self.warnings {
            out.push_str(&format!("warning: {w}\n"));
        }
        out.push_str(&crate::report::render_thresholds(&self.thresholds));
        if !self.valid() {
            out.push_str(&format!(
                "INVALID RUN: {} errors (allowed: {}; raise with --allow-errors)\n",
                totals.errors.total(),
                self.allow_errors
            ));
        }
        out
    }
}

fn workload_args(w: &Workload) -> String {
    match w {
        Workload::Hello => "14-byte body".into(),
        Workload::Payload { size } => format!("{size} bytes"),
        Workload::Stream { chunks, size } => format!("{chunks} chunks of {size} bytes"),
        Workload::Echo { size } => format!("POST {size} bytes, echoed"),
        Workload::Sleep { ms } => format!("{ms} ms sleep"),
        Workload::Cpu { ms } => format!("{ms} ms CPU"),
        Workload::Get => "plain GET, any 2xx".into(),
        Workload::App { path } => format!("GET {path} on the app"),
    }
}
