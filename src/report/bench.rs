//! The bench report: judgement of a run (valid or not, who was the
//! bottleneck), its JSON document and its terminal rendering.

use std::time::{Duration, SystemTime};

use comfy_table::CellAlignment;
use serde_json::{json, Value};

use super::check::{rfc3339, ToolInfo};
use super::export::Console;
use super::markdown::{code, text};
use super::merged::Merged;
use super::style::{bytes, ms, table, thousands};
use crate::bench::plan::{HttpRequest, Model, Plan, Stop, Workload};
use crate::bench::run::RunResult;
use crate::bench::shard::{self, hostname};
use crate::bench::stats::{encode, spectrum, Percentiles};
use crate::bench::threshold::{check_all, Checked, Figures, Threshold};
use crate::exit::Signal;
use crate::gateway::Stack;

/// A worker thread busier than this was itself the bottleneck.
const BUSY_LIMIT: f64 = 0.90;
/// Open model: a generator whose sends run this late (p99) fell behind.
const LAG_LIMIT_US: u64 = 5_000;
/// Open model: the stack held the offered rate if it answered at least this
/// share of it in the window (the window's edges cost a request or two).
const HELD_SHARE: f64 = 0.95;

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
    /// The signal that cut the run short, if one did.
    pub interrupted: Option<Signal>,
    /// Set on a report `wsgiprobe merge` put together from shards.
    pub merged: Option<Merged>,
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
        let w = &t.window;
        // Only closes the server made after answering count: a client that
        // drops the connection after each failed request, or one with more
        // connections than requests, opens as many without the server
        // closing any. The measured window's figures alone.
        if w.responses >= 20 && w.connections.closed_by_server * 10 >= w.responses * 9 {
            warnings.push(format!(
                "the server closed the connection after almost every request ({} closes for {} answered requests in the measured window): the figures include connection set-up; this server (or its mode) does not keep connections alive",
                thousands(w.connections.closed_by_server as f64),
                thousands(w.responses as f64)
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
            interrupted: None,
            merged: None,
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

    /// Open model: the rate asked for.
    pub fn offered_rate(&self) -> Option<f64> {
        match self.plan.model {
            Model::Open { rate } => Some(rate),
            Model::Closed => None,
        }
    }

    /// Open model: whether the stack answered the offered rate in the
    /// window (within 5%, less a request or two lost at the window's edges).
    pub fn rate_held(&self) -> Option<bool> {
        let rate = self.offered_rate()?;
        let secs = self.result.measured.as_secs_f64();
        let answered = self.result.totals.window.responses as f64;
        Some(secs > 0.0 && answered >= HELD_SHARE * rate * secs - 2.0)
    }

    /// Bytes read per second of the window (heads and bodies).
    pub fn bytes_per_sec(&self) -> f64 {
        let secs = self.result.measured.as_secs_f64();
        if secs > 0.0 {
            self.result.totals.window.bytes_read as f64 / secs
        } else {
            0.0
        }
    }

    /// Requests per connection in the window: those sent over the
    /// connections open at its start and opened during it.
    fn requests_per_connection(&self) -> f64 {
        let w = &self.result.totals.window;
        let conns = w.open_at_start + w.connections.opened;
        if conns > 0 {
            w.sent as f64 / conns as f64
        } else {
            0.0
        }
    }

    /// The throughput headline, with the offered rate beside it in the
    /// open model and, when the stack did not keep up, that said in words.
    pub fn headline(&self) -> String {
        let achieved = self.result.requests_per_sec();
        let mut line = format!("{} req/s", thousands(achieved));
        if let (Some(rate), Some(held)) = (self.offered_rate(), self.rate_held()) {
            if held {
                line.push_str(&format!(" (offered {}/s: held)", thousands(rate)));
            } else {
                line.push_str(&format!(
                    " (asked {}/s, achieved {}/s: the stack did not keep up)",
                    thousands(rate),
                    thousands(achieved)
                ));
            }
        }
        line
    }

    /// `200 ×9,990, 500 ×10`.
    fn statuses_text(&self) -> String {
        let list = self.result.totals.statuses.sorted();
        if list.is_empty() {
            return "none".into();
        }
        list.iter()
            .map(|(s, n)| format!("{s} ×{}", thousands(*n as f64)))
            .collect::<Vec<_>>()
            .join(", ")
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
        let statuses: serde_json::Map<String, Value> = t
            .statuses
            .sorted()
            .into_iter()
            .map(|(s, n)| (s.to_string(), json!(n)))
            .collect();
        let w = &t.window;
        let mut doc = json!({
            "tool": {"name": self.tool.name, "version": self.tool.version},
            "stack": self.stack,
            "started_unix": started,
            "interrupted": self.interrupted.map(Signal::name),
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
            "responses_in_window": w.responses,
            "offered_rate": self.offered_rate(),
            "rate_held": self.rate_held(),
            "statuses": statuses,
            "bytes_read": w.bytes_read,
            "bytes_per_sec": self.bytes_per_sec(),
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
                "note": "the measured window only",
                "open_at_start": w.open_at_start,
                "opened": w.connections.opened,
                "closed_by_server": w.connections.closed_by_server,
                "closed_by_client": w.connections.closed_by_client,
                "retried_after_close": w.connections.retried_after_close,
                "requests_per_connection": self.requests_per_connection(),
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
        self.add_distributed(&mut doc);
        doc
    }

    /// The terminal summary.
    pub fn render(&self, console: &Console) -> String {
        let r = &self.result;
        let totals = &r.totals;
        let s = &self.stack;
        let corrected = Percentiles::of(&totals.corrected);
        let uncorrected = Percentiles::of(&totals.uncorrected);
        let open = matches!(self.plan.model, Model::Open { .. });
        // Without one answered request the histogram only times failures
        // (often near zero): no figure is better than a misleading one.
        let answered = totals.answered() > 0;
        let latency = |us: u64| if answered { ms(us) } else { "-".into() };
        let mut out = String::new();
        out.push_str(&format!(
            "{} {}: {}{} at {} ({}, {})\nworkload {} ({}), {}, {} measured\n",
            self.tool.name,
            self.tool.version,
            s.gateway,
            s.version
                .as_ref()
                .map(|v| format!(" {v}"))
                .unwrap_or_default(),
            s.target,
            s.transport,
            if s.proxy == "none" {
                "no proxy".to_string()
            } else {
                format!("behind {}", s.proxy)
            },
            self.workload.name(),
            workload_args(&self.workload),
            self.load_text(),
            crate::duration::show(r.measured),
        ));
        if let Some(sw) = &s.server_software {
            out.push_str(&format!("SERVER_SOFTWARE: {sw}\n"));
        }
        out.push('\n');
        let field = |name: &str, value: String| format!("  {name:<12}{value}\n");
        out.push_str(&field("throughput", self.headline()));
        out.push_str(&field(
            "requests",
            format!(
                "{} ({} ok, {} errors)",
                thousands(totals.requests as f64),
                thousands(totals.ok as f64),
                thousands(totals.errors.total() as f64)
            ),
        ));
        out.push_str(&field("statuses", self.statuses_text()));
        out.push_str(&field(
            "transfer",
            format!(
                "{}/s ({} read in the window)",
                bytes(self.bytes_per_sec()),
                bytes(totals.window.bytes_read as f64)
            ),
        ));
        out.push_str(&field(
            "latency",
            format!(
                "mean {}, stdev {}{}",
                latency(corrected.mean.round() as u64),
                latency(corrected.stdev.round() as u64),
                if open {
                    ", from each request's due time"
                } else {
                    ""
                }
            ),
        ));

        if !console.quiet {
            let mut t = table(Some(console.width));
            t.set_header(vec!["latency", "p50", "p90", "p99", "p99.9", "max"]);
            let row = |label: &str, p: &Percentiles| {
                vec![
                    label.to_string(),
                    latency(p.p50),
                    latency(p.p90),
                    latency(p.p99),
                    latency(p.p99_9),
                    latency(p.max),
                ]
            };
            t.add_row(row(if open { "corrected" } else { "measured" }, &corrected));
            if open {
                t.add_row(row("service", &uncorrected));
            }
            for i in 1..6 {
                if let Some(col) = t.column_mut(i) {
                    col.set_cell_alignment(CellAlignment::Right);
                }
            }
            out.push_str(&format!("{t}\n"));
            if open {
                out.push_str("corrected: from each request's due time (waiting for a connection included); service: from the actual send\n");
            }
            if !answered {
                out.push_str("no request was answered: there is no latency to show\n");
            }
            let spec = spectrum(&totals.corrected);
            if answered && !spec.is_empty() {
                let mut t = table(Some(console.width));
                t.set_header(vec!["percentile", "latency", "requests ≤"]);
                for p in &spec {
                    t.add_row(vec![
                        format!("{}", p.percentile),
                        ms(p.latency_us),
                        thousands(p.count as f64),
                    ]);
                }
                for i in 0..3 {
                    if let Some(col) = t.column_mut(i) {
                        col.set_cell_alignment(CellAlignment::Right);
                    }
                }
                out.push_str(&format!("{t}\n"));
            }
        }

        if totals.errors.total() > 0 {
            let kinds: Vec<String> = totals
                .errors
                .nonzero()
                .map(|(k, n)| format!("{} {}", k.as_str(), thousands(n as f64)))
                .collect();
            out.push_str(&format!("errors: {}\n", kinds.join(", ")));
            if let Some(e) = &totals.first_error {
                out.push_str(&format!("first error: {e}\n"));
            }
        }
        let w = &totals.window;
        out.push_str(&format!(
            "connections (measured window): {} open at its start, {} opened, {:.1} requests each, {} closed by the server, {} closed after errors, {} requests resent after an idle close\n",
            w.open_at_start,
            w.connections.opened,
            self.requests_per_connection(),
            w.connections.closed_by_server,
            w.connections.closed_by_client,
            w.connections.retried_after_close,
        ));
        if !console.quiet {
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
        }
        for w in &self.warnings {
            out.push_str(&format!("warning: {w}\n"));
        }
        if let Some(m) = &self.merged {
            out.push_str(&m.render());
        }
        out.push_str(&crate::report::render_thresholds(&self.thresholds));
        if let Some(signal) = self.interrupted {
            out.push_str(&format!(
                "INTERRUPTED by {} after {} of the measured window: the figures are for that part\n",
                signal.name(),
                crate::duration::show(r.measured)
            ));
        } else if !self.valid() {
            out.push_str(&format!(
                "INVALID RUN: {} errors (allowed: {}; raise with --allow-errors)\n",
                totals.errors.total(),
                self.allow_errors
            ));
        }
        out
    }

    /// `open loop at 2,000/s, up to 64 connections, 1 load thread`.
    fn load_text(&self) -> String {
        let threads = self.result.threads;
        let threads = format!(
            "{threads} load thread{}",
            if threads == 1 { "" } else { "s" }
        );
        match self.plan.model {
            Model::Closed => format!(
                "closed loop, {} connections, {threads}",
                self.plan.connections
            ),
            Model::Open { rate } => format!(
                "open loop at {}/s, up to {} connections, {threads}",
                thousands(rate),
                self.plan.connections
            ),
        }
    }

    /// The summary as Markdown, for a pull request or a notebook.
    pub fn markdown(&self) -> String {
        let r = &self.result;
        let t = &r.totals;
        let s = &self.stack;
        let p = Percentiles::of(&t.corrected);
        let server = match &s.version {
            Some(v) => format!("{} {v}", s.gateway),
            None => s.gateway.clone(),
        };
        let mut md = format!(
            "# wsgiprobe bench: {} ({})\n\nGenerated by {} {} on {}.\n\n",
            text(&server),
            self.workload.name(),
            self.tool.name,
            self.tool.version,
            rfc3339(self.started),
        );
        md.push_str("| stack | workload | load | measured |\n|---|---|---|---|\n");
        md.push_str(&format!(
            "| {} at {} ({}, {}) | {} ({}) | {} | {} |\n\n",
            text(&server),
            code(&s.target),
            s.transport,
            if s.proxy == "none" {
                "no proxy".to_string()
            } else {
                format!("behind {}", text(&s.proxy))
            },
            self.workload.name(),
            text(&workload_args(&self.workload)),
            self.load_text(),
            crate::duration::show(r.measured),
        ));
        md.push_str("| throughput | requests | errors | mean | stdev | p50 | p90 | p99 | p99.9 | max |\n|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
        md.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n\n",
            text(&self.headline()),
            thousands(t.requests as f64),
            thousands(t.errors.total() as f64),
            ms(p.mean.round() as u64),
            ms(p.stdev.round() as u64),
            ms(p.p50),
            ms(p.p90),
            ms(p.p99),
            ms(p.p99_9),
            ms(p.max),
        ));
        md.push_str(&format!(
            "- statuses: {}\n- transfer: {}/s\n- connections (measured window): {} open at its start, {} opened, {:.1} requests each\n",
            self.statuses_text(),
            bytes(self.bytes_per_sec()),
            t.window.open_at_start,
            t.window.connections.opened,
            self.requests_per_connection(),
        ));
        if matches!(self.plan.model, Model::Open { .. }) {
            md.push_str(
                "- latency counts from each request's due time (coordinated omission corrected)\n",
            );
        }
        for w in &self.warnings {
            md.push_str(&format!("- warning: {}\n", text(w)));
        }
        if !self.thresholds.is_empty() {
            md.push_str("\n| threshold | measured | |\n|---|---|---|\n");
            for c in &self.thresholds {
                md.push_str(&format!(
                    "| {} | {} | {} |\n",
                    code(&c.threshold.text),
                    text(&super::thresholds::measured_text(c)),
                    if c.held { "held" } else { "**broken**" }
                ));
            }
        }
        if let Some(signal) = self.interrupted {
            md.push_str(&format!(
                "\n**Interrupted** by {} after {} of the measured window.\n",
                signal.name(),
                crate::duration::show(r.measured)
            ));
        } else if !self.valid() {
            md.push_str(&format!(
                "\n**Invalid run**: {} errors (allowed: {}).\n",
                t.errors.total(),
                self.allow_errors
            ));
        }
        md
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
        Workload::Http(h) => format!("{}, any 2xx", request_args(h)),
        Workload::App { path, request } => format!("{} {path} on the app", request_args(request)),
    }
}

fn request_args(h: &HttpRequest) -> String {
    format!(
        "{}{}{}",
        h.method,
        if h.headers.is_empty() {
            String::new()
        } else {
            format!(", {} headers", h.headers.len())
        },
        if h.body_bytes > 0 {
            format!(", {} body bytes", h.body_bytes)
        } else {
            String::new()
        }
    )
}

impl BenchReport {
    /// What merging needs beyond the single-run contract: the wall-clock
    /// window, the send-lag histogram, and, for one shard of a plan, the
    /// shard and the whole plan; for a merged report, its shards. A run
    /// that is neither reads as before, but for its window.
    fn add_distributed(&self, doc: &mut Value) {
        let plan = &self.plan;
        doc["measure_start_unix"] = json!(unix(self.result.measure_start));
        // With `requests_per_connection`'s divisor, what merging adds up.
        doc["connections"]["requests_sent"] = json!(self.result.totals.window.sent);
        if let Some(at) = plan.start_at {
            doc["plan"]["start_at"] = json!(shard::rfc3339(at));
        }
        if matches!(plan.model, Model::Open { .. }) {
            doc["histogram"]["sched_lag"] = json!(encode(&self.result.totals.sched_lag));
        }
        if let Some(s) = &plan.shard {
            doc["plan"]["shard"] = json!({
                "index": s.shard.index,
                "count": s.shard.count,
                "host": hostname(),
            });
            let rate = match s.model {
                Model::Open { rate } => Some(rate),
                Model::Closed => None,
            };
            doc["plan"]["whole"] = json!({"rate": rate, "connections": s.connections});
        }
        if let Some(m) = &self.merged {
            doc["merged"] = m.to_json();
        }
    }
}

fn unix(t: SystemTime) -> f64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}
