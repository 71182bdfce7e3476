//! The comparison of two reports: per stack × workload × level the change
//! in req/s and latency with the test's judgement, the limits a significant
//! change broke; as JSON, a terminal table, and Markdown sized for a
//! pull-request comment (the unchanged rows folded away).

use serde::Serialize;
use serde_json::{json, Value};

use super::style::{ms, table};
use super::suite_view::rate;

/// How one metric moved.
#[derive(Debug, Clone, Serialize)]
pub struct MetricChange {
    /// `rps`, `p50`, `p99`, ...
    pub metric: String,
    /// The figure before and after: the run's own for a bench report, the
    /// median of the repeats for a suite.
    pub before: f64,
    pub after: f64,
    /// after / before - 1.
    pub change: f64,
    /// Two-sided p of the Mann–Whitney U test, when both sides have samples.
    pub p: Option<f64>,
    pub significant: bool,
    /// For a significant change: whether it is for the better.
    pub better: Option<bool>,
}

/// One stack × workload × level found in both reports.
#[derive(Debug, Clone, Serialize)]
pub struct CompareRow {
    pub stack: String,
    pub workload: String,
    pub level: String,
    /// Samples a side, and what they are (`repeats` or `seconds`).
    pub n_before: usize,
    pub n_after: usize,
    pub samples: &'static str,
    pub metrics: Vec<MetricChange>,
    /// `faster`, `slower`, `mixed` or `no significant difference`.
    pub verdict: &'static str,
}

impl CompareRow {
    pub fn metric(&self, name: &str) -> Option<&MetricChange> {
        self.metrics.iter().find(|m| m.metric == name)
    }

    fn key(&self) -> String {
        format!("{} · {} · {}", self.stack, self.workload, self.level)
    }
}

/// A `--fail-if` limit: `p99:+10%` (a rise beyond 10%) or `rps:-5%`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Limit {
    pub metric: String,
    /// A rise (true) or a fall (false) beyond `percent` breaks it.
    pub rise: bool,
    pub percent: f64,
}

impl std::fmt::Display for Limit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sign = if self.rise { '+' } else { '-' };
        write!(f, "{}:{sign}{}%", self.metric, self.percent)
    }
}

/// A significant change beyond a limit.
#[derive(Debug, Clone, Serialize)]
pub struct BrokenLimit {
    pub stack: String,
    pub workload: String,
    pub level: String,
    pub limit: String,
    pub change: f64,
    pub p: Option<f64>,
}

/// Two reports compared.
#[derive(Debug, Clone)]
pub struct CompareReport {
    pub before: String,
    pub after: String,
    pub alpha: f64,
    pub rows: Vec<CompareRow>,
    /// Stack · workload · level found in one report only.
    pub only_before: Vec<String>,
    pub only_after: Vec<String>,
    pub limits: Vec<Limit>,
    pub broken: Vec<BrokenLimit>,
    /// What the reader should know about the test (its power, pairing).
    pub notes: Vec<String>,
}

fn percent(change: f64) -> String {
    let v = change * 100.0;
    if v.abs() < 0.05 {
        "±0.0%".into()
    } else {
        format!("{}{:.1}%", if v > 0.0 { "+" } else { "−" }, v.abs())
    }
}

fn figure(metric: &str, v: f64) -> String {
    if metric == "rps" {
        rate(v)
    } else {
        ms(v.round() as u64)
    }
}

/// `3,210 → 2,950 (−8.1%, p 0.10)`, bold when significant.
fn cell(m: Option<&MetricChange>, markdown: bool) -> String {
    let Some(m) = m else {
        return "—".into();
    };
    let p = m.p.map_or(String::new(), |p| format!(", p {p:.2}"));
    let text = format!(
        "{} → {} ({}{p})",
        figure(&m.metric, m.before),
        figure(&m.metric, m.after),
        percent(m.change)
    );
    if markdown && m.significant {
        format!("**{text}**")
    } else {
        text
    }
}

const SHOWN: [&str; 3] = ["rps", "p50", "p99"];

impl CompareReport {
    /// Rows judged faster, slower or mixed; the rest.
    fn changed(&self) -> (Vec<&CompareRow>, Vec<&CompareRow>) {
        self.rows
            .iter()
            .partition(|r| r.verdict != "no significant difference")
    }

    fn headline(&self) -> String {
        let count = |v: &str| self.rows.iter().filter(|r| r.verdict == v).count();
        let mut parts = Vec::new();
        for v in ["slower", "faster", "mixed"] {
            let n = count(v);
            if n > 0 {
                parts.push(format!("{n} {v}"));
            }
        }
        parts.push(format!(
            "{} without significant difference",
            count("no significant difference")
        ));
        parts.join(", ")
    }

    pub fn to_json(&self) -> Value {
        json!({
            "kind": "compare",
            "before": self.before,
            "after": self.after,
            "test": "Mann-Whitney U, two-sided",
            "alpha": self.alpha,
            "rows": self.rows,
            "only_before": self.only_before,
            "only_after": self.only_after,
            "limits": self.limits.iter().map(ToString::to_string).collect::<Vec<_>>(),
            "broken": self.broken,
            "notes": self.notes,
        })
    }

    fn md_table(rows: &[&CompareRow]) -> String {
        let mut out = String::from(
            "| stack | workload | level | req/s | p50 | p99 | verdict |\n|---|---|---|---|---|---|---|\n",
        );
        for r in rows {
            let verdict = if r.verdict == "no significant difference" {
                "no significant difference".to_string()
            } else {
                format!("**{}**", r.verdict)
            };
            out.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} | {verdict} |\n",
                r.stack.replace('|', "\\|"),
                r.workload.replace('|', "\\|"),
                r.level,
                cell(r.metric("rps"), true),
                cell(r.metric("p50"), true),
                cell(r.metric("p99"), true),
            ));
        }
        out
    }

    /// Markdown for a pull-request comment: changed rows first, the rest folded.
    pub fn markdown(&self) -> String {
        let mut out = format!(
            "### wsgiprobe compare: `{}` → `{}`\n\n**{}**\n\n",
            self.before,
            self.after,
            self.headline()
        );
        if !self.limits.is_empty() {
            if self.broken.is_empty() {
                out.push_str(&format!(
                    "Limits held: {}.\n\n",
                    self.limits
                        .iter()
                        .map(|l| format!("`{l}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            } else {
                out.push_str("**Limits broken:**\n\n");
                for b in &self.broken {
                    out.push_str(&format!(
                        "- `{}` {} · {} · {}: {}\n",
                        b.limit,
                        b.stack,
                        b.workload,
                        b.level,
                        percent(b.change)
                    ));
                }
                out.push('\n');
            }
        }
        let (changed, same) = self.changed();
        if !changed.is_empty() {
            out.push_str(&Self::md_table(&changed));
            out.push('\n');
        }
        if !same.is_empty() {
            out.push_str(&format!(
                "<details><summary>{} without significant difference</summary>\n\n{}\n</details>\n\n",
                same.len(),
                Self::md_table(&same)
            ));
        }
        for (side, list) in [("before", &self.only_before), ("after", &self.only_after)] {
            if !list.is_empty() {
                out.push_str(&format!(
                    "Only in the {side} report: {}.\n\n",
                    list.join("; ")
                ));
            }
        }
        out.push_str(&format!("<sub>{}</sub>\n", self.notes.join(" ")));
        out
    }

    /// The terminal table.
    pub fn render(&self) -> String {
        let mut out = format!("{} → {}: {}\n", self.before, self.after, self.headline());
        let mut t = table(None);
        t.set_header(vec![
            "stack", "workload", "level", "req/s", "p50", "p99", "verdict",
        ]);
        for r in &self.rows {
            let mut row = vec![r.stack.clone(), r.workload.clone(), r.level.clone()];
            row.extend(SHOWN.iter().map(|m| cell(r.metric(m), false)));
            row.push(r.verdict.to_string());
            t.add_row(row);
        }
        out.push_str(&t.to_string());
        out.push('\n');
        for b in &self.broken {
            out.push_str(&format!(
                "limit broken: {} at {} · {} · {}: {}\n",
                b.limit,
                b.stack,
                b.workload,
                b.level,
                percent(b.change)
            ));
        }
        for (side, list) in [("before", &self.only_before), ("after", &self.only_after)] {
            if !list.is_empty() {
                out.push_str(&format!("only in the {side} report: {}\n", list.join("; ")));
            }
        }
        for n in &self.notes {
            out.push_str(&format!("note: {n}\n"));
        }
        out
    }

    /// The rows as keys, for messages.
    pub fn keys(&self) -> Vec<String> {
        self.rows.iter().map(CompareRow::key).collect()
    }
}
