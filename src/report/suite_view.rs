//! The suite report's tables: Markdown (for a published report) and the
//! terminal. Per workload, stacks × levels with req/s as the median of the
//! repeats and their range, latency percentiles, errors, what the server
//! cost per request, its memory, and the ratio to the first stack; then the
//! sustainable rates, the stacks that failed, the environment and timing.

use comfy_table::CellAlignment;

use super::style::{ms, table};
use super::suite::{LevelResult, LevelSpec, SuiteReport, SustainableResult};

/// Median and range of some figures.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spread {
    pub median: f64,
    pub min: f64,
    pub max: f64,
}

impl Spread {
    /// `None` for no figures; the median of an even count is the mean of the middle two.
    pub fn of(values: impl IntoIterator<Item = f64>) -> Option<Spread> {
        let mut v: Vec<f64> = values.into_iter().filter(|x| x.is_finite()).collect();
        if v.is_empty() {
            return None;
        }
        v.sort_by(f64::total_cmp);
        let n = v.len();
        let median = if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        };
        Some(Spread {
            median,
            min: v[0],
            max: v[n - 1],
        })
    }
}

/// `3,210`, `92.4`, `0.50`.
pub fn rate(v: f64) -> String {
    if v >= 1000.0 {
        let s = format!("{:.0}", v);
        let mut out = String::new();
        for (i, c) in s.chars().enumerate() {
            if i > 0 && (s.len() - i) % 3 == 0 {
                out.push(',');
            }
            out.push(c);
        }
        out
    } else if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 1.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

fn mib(bytes: f64) -> String {
    format!("{:.1} MiB", bytes / (1024.0 * 1024.0))
}

fn us(v: f64) -> String {
    if v >= 1000.0 {
        format!("{:.2} ms", v / 1000.0)
    } else {
        format!("{v:.0} µs")
    }
}

/// One row of a workload table: a stack at a level, over its repeats.
struct Row {
    level: String,
    stack: String,
    rps: String,
    relative: String,
    p50: String,
    p99: String,
    p99_9: String,
    errors: String,
    cpu: String,
    rss: String,
}

fn rows(report: &SuiteReport, workload: &str) -> Vec<Row> {
    let mut out = Vec::new();
    for level in &report.setup.levels {
        let mut first: Option<f64> = None;
        for (i, stack) in report.setup.stacks.iter().enumerate() {
            let runs = report.repeats(stack, workload, level);
            if runs.is_empty() {
                continue;
            }
            out.push(row(level, stack, &runs, i == 0, &mut first));
        }
    }
    out
}

fn row(
    level: &LevelSpec,
    stack: &str,
    runs: &[&LevelResult],
    is_first: bool,
    first: &mut Option<f64>,
) -> Row {
    let rps = Spread::of(runs.iter().map(|r| r.requests_per_sec)).expect("at least one run");
    if is_first {
        *first = Some(rps.median);
    }
    let median = |f: &dyn Fn(&LevelResult) -> f64| Spread::of(runs.iter().map(|r| f(r)));
    let lat = |f: &dyn Fn(&LevelResult) -> u64| {
        median(&|r| f(r) as f64).map_or("—".into(), |s| ms(s.median as u64))
    };
    let bottleneck = runs.iter().any(|r| r.generator.bottleneck);
    let invalid = runs.iter().filter(|r| !r.valid).count();
    Row {
        level: level.title(),
        stack: stack.to_string(),
        rps: format!(
            "{}{} [{}–{}]",
            if bottleneck { "⚠ " } else { "" },
            rate(rps.median),
            rate(rps.min),
            rate(rps.max)
        ),
        relative: match *first {
            Some(f) if f > 0.0 => format!("{:.2}×", rps.median / f),
            _ => "—".into(),
        },
        p50: lat(&|r| r.latency.p50),
        p99: lat(&|r| r.latency.p99),
        p99_9: lat(&|r| r.latency.p99_9),
        errors: {
            let total: u64 = runs.iter().map(|r| r.errors).sum();
            if invalid > 0 {
                format!("{total} ({invalid} invalid)")
            } else {
                total.to_string()
            }
        },
        cpu: median(&|r| r.cpu_per_request_us().unwrap_or(f64::NAN))
            .map_or("—".into(), |s| us(s.median)),
        rss: median(&|r| r.server.map_or(f64::NAN, |s| s.rss_max_bytes as f64))
            .map_or("—".into(), |s| mib(s.median)),
    }
}

const HEADER: [&str; 10] = [
    "level",
    "stack",
    "req/s median [min–max]",
    "vs first",
    "p50",
    "p99",
    "p99.9",
    "errors",
    "server CPU/req",
    "RSS",
];

fn slo_text(report: &SuiteReport) -> String {
    let Some(slo) = &report.setup.sustainable else {
        return String::new();
    };
    let mut parts: Vec<String> = slo
        .latency_us
        .iter()
        .map(|(k, v)| format!("{k} ≤ {}", ms(*v)))
        .collect();
    parts.push(if slo.errors == 0 {
        "no errors".into()
    } else {
        format!("at most {} errors", slo.errors)
    });
    parts.push(format!(
        "at least {:.0}% of the offered rate achieved",
        slo.min_throughput * 100.0
    ));
    parts.join(", ")
}

fn sustainable_cells(s: &SustainableResult) -> [String; 5] {
    [
        s.workload.clone(),
        s.stack.clone(),
        s.rate.map_or("none".into(), rate),
        s.bracket.map_or("—".into(), |(lo, hi)| {
            format!("{}–{}", rate(lo), rate(hi))
        }),
        format!(
            "{}{}",
            s.probes.len(),
            match &s.note {
                Some(n) => format!(" ({n})"),
                None if !s.converged => " (not converged)".into(),
                None => String::new(),
            }
        ),
    ]
}

fn md_escape(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

impl SuiteReport {
    /// `gunicorn w2 · hello · 16 conn · repeat 2: threshold p99<50ms broken: p99 = 73.2 ms`.
    pub fn broken_thresholds(&self) -> Vec<String> {
        self.results
            .iter()
            .flat_map(|r| {
                super::thresholds::broken_lines(&r.thresholds)
                    .into_iter()
                    .map(move |line| {
                        format!(
                            "{} · {} · {} · repeat {}: {line}",
                            r.stack,
                            r.workload,
                            r.level.title(),
                            r.repeat
                        )
                    })
            })
            .collect()
    }

    /// The report as Markdown.
    pub fn markdown(&self) -> String {
        let s = &self.setup;
        let mut out = format!("# {}\n\n", md_escape(&s.title));
        out.push_str(&format!(
            "{} stacks × {} workloads × {} levels × {} repeats; {} s measured per level after {} s of warm-up. Repeats are interleaved: each runs every stack before the next begins.\n\n",
            s.stacks.len(),
            s.workloads.len(),
            s.levels.len(),
            s.repeats,
            super::suite::trim_float(s.duration_s),
            super::suite::trim_float(s.warmup_s),
        ));
        if !self.finished {
            out.push_str("**Incomplete:** the run stopped before its end; every level listed here was measured in full.\n\n");
        }
        if let Some(line) = self.sharding.describe() {
            out.push_str(&format!("{line}.\n\n"));
        }
        if let Some(notes) = &s.notes {
            out.push_str(&format!("## Notes\n\n{}\n\n", notes.trim()));
        }
        for (name, args) in &s.workloads {
            out.push_str(&format!("## Workload `{name}` (`{args}`)\n\n"));
            if let Some(t) = s.thresholds.get(name) {
                out.push_str(&format!(
                    "Thresholds, checked at every level: {}.\n\n",
                    t.iter()
                        .map(|t| format!("`{t}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            let rows = rows(self, name);
            if rows.is_empty() {
                out.push_str("No level was measured.\n\n");
                continue;
            }
            out.push_str(&format!("| {} |\n", HEADER.join(" | ")));
            out.push_str(&format!("|{}\n", "---|".repeat(HEADER.len())));
            let mut last_level = String::new();
            for r in rows {
                let level = if r.level == last_level {
                    String::new()
                } else {
                    r.level.clone()
                };
                last_level = r.level.clone();
                out.push_str(&format!(
                    "| {level} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
                    md_escape(&r.stack),
                    r.rps,
                    r.relative,
                    r.p50,
                    r.p99,
                    r.p99_9,
                    r.errors,
                    r.cpu,
                    r.rss
                ));
            }
            out.push('\n');
        }
        out.push_str("Latency is corrected (open levels count from each request's due time); each figure is the median of the repeats. \"vs first\" is the median req/s against the first stack's at the same level. Server CPU and RSS cover the stack's whole process tree (master, workers, nginx). ⚠ marks a level where the load generator was the bottleneck in a repeat: those figures describe the generator more than the stack.\n\n");

        if !self.sustainable.is_empty() {
            out.push_str(&format!("## Sustainable rate\n\nThe highest open-loop rate holding {}, found by bracketing then bisecting; every probe is in the JSON.\n\n", slo_text(self)));
            out.push_str("| workload | stack | sustainable req/s | bracket | probes |\n|---|---|---|---|---|\n");
            for r in &self.sustainable {
                let c = sustainable_cells(r).map(|c| md_escape(&c));
                out.push_str(&format!("| {} |\n", c.join(" | ")));
            }
            out.push('\n');
        }

        let broken = self.broken_thresholds();
        if !broken.is_empty() {
            out.push_str("## Thresholds broken\n\n");
            for line in &broken {
                out.push_str(&format!("- {}\n", md_escape(line)));
            }
            out.push('\n');
        }

        if !self.failures.is_empty() {
            out.push_str("## Stacks that failed\n\n");
            for f in &self.failures {
                let at = match (&f.repeat, &f.level) {
                    (Some(r), Some(l)) => format!(", repeat {r}, level {l}"),
                    _ => String::new(),
                };
                out.push_str(&format!(
                    "**{}** ({}{at}, {}): {}\n\n",
                    md_escape(&f.stack),
                    md_escape(&f.workload),
                    f.phase,
                    md_escape(f.message.lines().next().unwrap_or(""))
                ));
                if !f.log_tail.trim().is_empty() {
                    out.push_str(&format!(
                        "<details><summary>last lines of its log</summary>\n\n```\n{}\n```\n</details>\n\n",
                        f.log_tail.trim_end().replace("```", "'''")
                    ));
                }
            }
        }

        let e = &self.environment;
        out.push_str("## Environment\n\n");
        let none = || "unknown".to_string();
        out.push_str(&format!(
            "- CPU: {}, {} cores\n- kernel: {}\n- Python: {}\n- nginx: {}\n- wsgiprobe: {}\n- date: {}\n",
            e.cpu_model.clone().unwrap_or_else(none),
            e.cores,
            e.kernel.clone().unwrap_or_else(none),
            e.python.clone().unwrap_or_else(none),
            e.nginx.clone().unwrap_or_else(|| "not used".into()),
            e.wsgiprobe,
            e.date
        ));
        for (label, st) in &e.stacks {
            out.push_str(&format!(
                "- `{}`: {} {}{}\n",
                md_escape(label),
                st.gateway,
                st.version.clone().unwrap_or_default(),
                st.command
                    .as_ref()
                    .map(|c| format!(" — `{}`", md_escape(c)))
                    .unwrap_or_default()
            ));
        }
        let t = &self.timing;
        out.push_str(&format!(
            "\nTime: {:.0} s in all, {:.0} s measured, {:.0} s warming up, {:.0} s starting and stopping stacks, {:.1} s of health checks, {:.1} s of other overhead between levels ({:.1}% of the measured time).\n\n",
            t.wall_s, t.measured_s, t.warmup_s, t.start_stop_s, t.health_s, t.overhead_s, t.overhead_ratio() * 100.0
        ));
        out.push_str(&format!(
            "<details><summary>Suite file {}</summary>\n\n```toml\n{}\n```\n</details>\n",
            md_escape(&e.suite_file),
            e.suite_text.trim_end().replace("```", "'''")
        ));
        out
    }

    /// The terminal summary.
    pub fn render(&self) -> String {
        let mut out = format!(
            "{}{}\n",
            self.setup.title,
            if self.finished { "" } else { " (incomplete)" }
        );
        if let Some(line) = self.sharding.describe() {
            out.push_str(&format!("{line}\n"));
        }
        for (name, _) in &self.setup.workloads {
            let rows = rows(self, name);
            if rows.is_empty() {
                continue;
            }
            out.push_str(&format!("\nworkload {name}\n"));
            let mut t = table(None);
            t.set_header(HEADER.to_vec());
            for r in rows {
                t.add_row(vec![
                    r.level, r.stack, r.rps, r.relative, r.p50, r.p99, r.p99_9, r.errors, r.cpu,
                    r.rss,
                ]);
            }
            for i in 2..HEADER.len() {
                if let Some(col) = t.column_mut(i) {
                    col.set_cell_alignment(CellAlignment::Right);
                }
            }
            out.push_str(&t.to_string());
            out.push('\n');
        }
        if !self.sustainable.is_empty() {
            out.push_str(&format!("\nsustainable rate ({})\n", slo_text(self)));
            let mut t = table(None);
            t.set_header(vec![
                "workload",
                "stack",
                "sustainable req/s",
                "bracket",
                "probes",
            ]);
            for r in &self.sustainable {
                t.add_row(sustainable_cells(r).to_vec());
            }
            out.push_str(&t.to_string());
            out.push('\n');
        }
        for line in self.broken_thresholds() {
            out.push_str(&format!("{line}\n"));
        }
        for f in &self.failures {
            out.push_str(&format!(
                "failed: {} ({}, {}): {}\n",
                f.stack,
                f.workload,
                f.phase,
                f.message.lines().next().unwrap_or("")
            ));
        }
        let t = &self.timing;
        out.push_str(&format!(
            "time: {:.0} s, {:.0} s measured; overhead between levels {:.1}% of measured time\n",
            t.wall_s,
            t.measured_s,
            t.overhead_ratio() * 100.0
        ));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spreads_and_numbers() {
        let s = Spread::of([3.0, 1.0, 2.0]).unwrap();
        assert_eq!((s.median, s.min, s.max), (2.0, 1.0, 3.0));
        assert_eq!(Spread::of([1.0, 2.0]).unwrap().median, 1.5);
        assert!(Spread::of([f64::NAN]).is_none());
        assert_eq!(rate(1_234_567.0), "1,234,567");
        assert_eq!(rate(123.4), "123");
        assert_eq!(rate(92.44), "92.4");
        assert_eq!(us(1500.0), "1.50 ms");
    }
}
