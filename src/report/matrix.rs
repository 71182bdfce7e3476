//! The cross-server matrix: cases as rows, stacks as columns, one summary
//! row per outcome, in the terminal and as Markdown.

use std::collections::BTreeMap;
use std::time::SystemTime;

use comfy_table::Cell;
use serde_json::{json, Value};

use super::check::{rfc3339, CheckReport, Summary, ToolInfo};
use super::style::{keep_whole, outcome_cell, table, trouble_cell};
use crate::conformance::{CaseResult, Outcome};
use crate::gateway::Stack;

/// One column: a stack and what came of checking it.
#[derive(Debug, Clone)]
pub struct StackRun {
    /// Short name (`gunicorn gthread w2 t4 + nginx`).
    pub label: String,
    /// The report, or why the stack could not be checked at all.
    pub result: Result<CheckReport, String>,
}

/// One column of a matrix view: a stack's label and its report, borrowed.
#[derive(Debug, Clone, Copy)]
pub struct Column<'a> {
    pub label: &'a str,
    pub result: Result<&'a CheckReport, &'a str>,
}

/// What the terminal and Markdown views of a matrix read: a whole
/// [`MatrixReport`], or a single stack's report as a one-column matrix.
#[derive(Debug, Clone)]
pub struct MatrixView<'a> {
    pub tool: &'a ToolInfo,
    pub started: SystemTime,
    pub strict: bool,
    pub columns: Vec<Column<'a>>,
}

impl<'a> MatrixView<'a> {
    /// One stack's report as a matrix of one column.
    pub fn single(report: &'a CheckReport, label: &'a str) -> MatrixView<'a> {
        MatrixView {
            tool: &report.tool,
            started: report.started,
            strict: report.strict,
            columns: vec![Column {
                label,
                result: Ok(report),
            }],
        }
    }
}

/// Several stacks checked with the same cases.
#[derive(Debug, Clone)]
pub struct MatrixReport {
    pub tool: ToolInfo,
    pub started: SystemTime,
    pub strict: bool,
    pub runs: Vec<StackRun>,
}

impl MatrixReport {
    /// The matrix as the terminal and Markdown views read it.
    pub fn view(&self) -> MatrixView<'_> {
        MatrixView {
            tool: &self.tool,
            started: self.started,
            strict: self.strict,
            columns: self
                .runs
                .iter()
                .map(|r| Column {
                    label: &r.label,
                    result: r.result.as_ref().map_err(String::as_str),
                })
                .collect(),
        }
    }

    /// The JSON document: every stack's own check report, in order.
    pub fn to_json(&self) -> Value {
        let stacks: Vec<Value> = self
            .runs
            .iter()
            .map(|run| match &run.result {
                Ok(r) => {
                    let mut v = r.to_json();
                    v["label"] = run.label.clone().into();
                    v
                }
                Err(e) => json!({"label": run.label, "kind": "check", "start_error": e}),
            })
            .collect();
        json!({
            "tool": self.tool,
            "kind": "matrix",
            "started_at": rfc3339(self.started),
            "strict": self.strict,
            "stacks": stacks,
        })
    }
}

impl MatrixView<'_> {
    /// Case ids in first-seen order, with their level.
    pub(super) fn rows(&self) -> Vec<(String, String)> {
        let mut rows: Vec<(String, String)> = Vec::new();
        for run in &self.columns {
            if let Ok(r) = &run.result {
                for c in &r.results {
                    if !rows.iter().any(|(id, _)| *id == c.case.case.id) {
                        rows.push((c.case.case.id.clone(), c.case.case.level.as_str().into()));
                    }
                }
            }
        }
        rows
    }

    pub(super) fn cell(run: &Column, id: &str) -> Option<Outcome> {
        Self::result(run, id).map(|c| c.verdict.outcome)
    }

    pub(super) fn result<'r>(run: &'r Column, id: &str) -> Option<&'r CaseResult> {
        let r = run.result.as_ref().ok()?;
        r.results.iter().find(|c| c.case.case.id == id)
    }

    /// The outcome as a cell shows it: `fail (security)` for a security finding.
    pub(super) fn cell_text(run: &Column, id: &str) -> Option<String> {
        let c = Self::result(run, id)?;
        let o = c.verdict.outcome.as_str();
        Some(if c.security_finding() {
            format!("{o} (security)")
        } else {
            o.to_string()
        })
    }

    /// Summaries per stack (`None` for a stack that did not start).
    pub fn summaries(&self) -> Vec<Option<Summary>> {
        self.columns
            .iter()
            .map(|r| r.result.ok().map(CheckReport::summary))
            .collect()
    }

    /// The terminal view.
    pub fn render(&self, color: bool) -> String {
        let mut t = table(Some(200));
        let mut header = vec![Cell::new("case"), Cell::new("level")];
        header.extend((1..=self.columns.len()).map(|i| Cell::new(format!("[{i}]"))));
        t.set_header(header);
        keep_whole(&mut t, 0);
        for (id, level) in self.rows() {
            let mut row = vec![Cell::new(&id), Cell::new(&level)];
            for run in &self.columns {
                row.push(match (Self::cell(run, &id), Self::cell_text(run, &id)) {
                    (Some(o), Some(text)) => outcome_cell(o, text, color),
                    _ => Cell::new("-"),
                });
            }
            t.add_row(row);
        }
        for (name, pick) in SUMMARY_ROWS {
            let mut row = vec![Cell::new(name), Cell::new("")];
            for s in self.summaries() {
                row.push(match s {
                    Some(s) => Cell::new(pick(&s)),
                    None => trouble_cell("no start", color),
                });
            }
            t.add_row(row);
        }
        let mut out = format!("{t}\n");
        for (i, run) in self.columns.iter().enumerate() {
            out.push_str(&format!("[{}] {}", i + 1, run.label));
            match &run.result {
                Ok(r) => out.push_str(&format!(": {}\n", describe_stack(&r.stack))),
                Err(e) => out.push_str(&format!(
                    ": did not start: {}\n",
                    e.lines().next().unwrap_or("")
                )),
            }
        }
        for (i, run) in self.columns.iter().enumerate() {
            if let Some(d) = run.result.ok().and_then(|r| r.expectations.as_ref()) {
                out.push_str(&super::render_delta(
                    d,
                    Some(&format!("[{}] {}", i + 1, run.label)),
                ));
            }
        }
        out
    }

    /// The Markdown view, sized for a pull-request comment: the summary
    /// and what is unexpected first, then where the stacks differ (stacks
    /// named as column heads), then the stacks, the cases where every stack
    /// agrees and each stack's expected and actual for every case that did
    /// not pass, folded (report/markdown.rs renders the parts).
    pub fn markdown(&self) -> String {
        let head = format!(
            "# PEP 3333 conformance matrix\n\nGenerated by {} {} on {} (`wsgiprobe check`{}).\n\n",
            self.tool.name,
            self.tool.version,
            rfc3339(self.started),
            if self.strict { ", --strict" } else { "" }
        );
        let (differ, agree) = self.md_cases();
        super::pr_comment::compose(
            self,
            head,
            self.md_stacks(),
            differ,
            agree,
            self.md_blocks(),
        )
    }
}

pub(super) type SummaryPick = fn(&Summary) -> usize;

pub(super) const SUMMARY_ROWS: [(&str, SummaryPick); 6] = [
    ("pass", |s| s.pass),
    ("fail", |s| s.fail),
    ("warn", |s| s.warn),
    ("skip", |s| s.skip),
    ("error", |s| s.error),
    ("quirk", |s| s.quirk),
];

/// One line about a stack: version, Python, proxy, options.
pub fn describe_stack(s: &Stack) -> String {
    let mut parts = vec![format!(
        "{}{}",
        s.gateway,
        s.version
            .as_ref()
            .map(|v| format!(" {v}"))
            .unwrap_or_default()
    )];
    if let Some(p) = &s.python {
        parts.push(format!("Python {p}"));
    }
    if s.proxy != "none" {
        parts.push(format!(
            "behind {}{}",
            s.proxy,
            s.proxy_version
                .as_ref()
                .map(|v| format!(" (nginx {v})"))
                .unwrap_or_default()
        ));
    }
    parts.push(format!("transport {}", s.transport));
    let opts = options_text(&s.options, &BTreeMap::new());
    if !opts.is_empty() {
        parts.push(opts);
    }
    parts.join(", ")
}

pub(super) fn options_text(
    server: &BTreeMap<String, String>,
    proxy: &BTreeMap<String, String>,
) -> String {
    let mut parts: Vec<String> = server.iter().map(|(k, v)| format!("{k}={v}")).collect();
    parts.extend(proxy.iter().map(|(k, v)| format!("nginx {k}={v}")));
    parts.join("; ")
}

pub(super) fn one_line(s: &str, max: usize) -> String {
    let s = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if s.chars().count() <= max {
        return s;
    }
    let cut: String = s.chars().take(max - 3).collect();
    format!("{cut}...")
}

/// Markdown table cells: no pipes or line breaks, and every other control
/// character made visible (`\x1b`), so what a server sent cannot break the
/// table or reach the reader's terminal.
pub(super) fn esc(s: &str) -> String {
    super::markdown::visible_controls(&s.replace('|', "\\|").replace('\n', " "))
}
