//! The cross-server matrix: cases as rows, stacks as columns, one summary
//! row per outcome, in the terminal and as Markdown.

use std::collections::BTreeMap;
use std::time::SystemTime;

use comfy_table::Cell;
use serde_json::{json, Value};

use super::check::{rfc3339, CheckReport, Summary, ToolInfo};
use super::style::{outcome_cell, table, trouble_cell};
use crate::conformance::Outcome;
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
    fn rows(&self) -> Vec<(String, String)> {
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

    fn cell(run: &Column, id: &str) -> Option<Outcome> {
        let r = run.result.as_ref().ok()?;
        r.results
            .iter()
            .find(|c| c.case.case.id == id)
            .map(|c| c.verdict.outcome)
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
        for (id, level) in self.rows() {
            let mut row = vec![Cell::new(&id), Cell::new(&level)];
            for run in &self.columns {
                row.push(match Self::cell(run, &id) {
                    Some(o) => outcome_cell(o, o.as_str(), color),
                    None => Cell::new("-"),
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
    /// and what is unexpected first, then the stacks, the matrix and the
    /// evidence for every case that did not pass, folded.
    pub fn markdown(&self) -> String {
        let head = format!(
            "# PEP 3333 conformance matrix\n\nGenerated by {} {} on {} (`wsgiprobe check`{}).\n\n",
            self.tool.name,
            self.tool.version,
            rfc3339(self.started),
            if self.strict { ", --strict" } else { "" }
        );
        super::pr_comment::compose(
            self,
            head,
            self.stacks_markdown(),
            self.matrix_markdown(),
            self.did_not_pass_markdown(),
        )
    }

    /// The stacks with versions and options.
    fn stacks_markdown(&self) -> String {
        let mut md = String::from("| # | stack | server | Python | proxy | transport | options |\n|---|---|---|---|---|---|---|\n");
        for (i, run) in self.columns.iter().enumerate() {
            match &run.result {
                Ok(r) => {
                    let s = &r.stack;
                    md.push_str(&format!(
                        "| {} | {} | {} | {} | {} | {} | {} |\n",
                        i + 1,
                        esc(run.label),
                        esc(&format!(
                            "{} {}",
                            s.gateway,
                            s.version.as_deref().unwrap_or("")
                        )),
                        s.python.as_deref().unwrap_or("-"),
                        esc(&match &s.proxy_version {
                            Some(v) => format!("{} (nginx {v})", s.proxy),
                            None => s.proxy.clone(),
                        }),
                        s.transport,
                        esc(&options_text(&s.options, &s.proxy_options)),
                    ));
                }
                Err(e) => md.push_str(&format!(
                    "| {} | {} | did not start: {} | | | | |\n",
                    i + 1,
                    esc(run.label),
                    esc(e.lines().next().unwrap_or(""))
                )),
            }
        }
        md
    }

    /// Cases by stacks, with a summary row per outcome: the table's lines,
    /// header first (so a long table can be cut between rows).
    fn matrix_markdown(&self) -> Vec<String> {
        let mut lines = Vec::new();
        let mut head = String::from("| case | level |");
        for i in 1..=self.columns.len() {
            head.push_str(&format!(" {i} |"));
        }
        head.push_str("\n|---|---|");
        head.push_str(&"---|".repeat(self.columns.len()));
        head.push('\n');
        lines.push(head);
        for (id, level) in self.rows() {
            let mut md = format!("| `{id}` | {level} |");
            for run in &self.columns {
                let text = match Self::cell(run, &id) {
                    Some(Outcome::Pass) => "pass".to_string(),
                    Some(Outcome::Fail) => "**FAIL**".to_string(),
                    Some(o) => o.as_str().to_string(),
                    None => "-".to_string(),
                };
                md.push_str(&format!(" {text} |"));
            }
            md.push('\n');
            lines.push(md);
        }
        for (name, pick) in SUMMARY_ROWS {
            let mut md = format!("| **{name}** | |");
            for s in self.summaries() {
                md.push_str(&format!(
                    " {} |",
                    s.map(|s| pick(&s).to_string())
                        .unwrap_or_else(|| "no start".into())
                ));
            }
            md.push('\n');
            lines.push(md);
        }
        lines
    }

    /// One block per case that did not pass somewhere: the requirement,
    /// what it expects, and what each stack did.
    fn did_not_pass_markdown(&self) -> Vec<String> {
        let mut by_case: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (i, run) in self.columns.iter().enumerate() {
            let Ok(r) = &run.result else { continue };
            for c in r
                .results
                .iter()
                .filter(|c| c.verdict.outcome != Outcome::Pass)
            {
                let quirk = r
                    .quirks_applied
                    .iter()
                    .find(|q| q.case == c.case.case.id)
                    .map(|q| {
                        format!(
                            " (declared quirk{}: {}; {})",
                            if q.downgraded { "" } else { ", not applied" },
                            q.quirk.reason,
                            q.quirk.source
                        )
                    })
                    .unwrap_or_default();
                by_case
                    .entry(c.case.case.id.clone())
                    .or_default()
                    .push(format!(
                        "- [{}] {} **{}**: {}{}",
                        i + 1,
                        esc(run.label),
                        c.verdict.outcome.as_str(),
                        esc(&one_line(&c.verdict.actual, 300)),
                        esc(&quirk)
                    ));
            }
        }
        let mut blocks = Vec::new();
        for (id, _) in self.rows() {
            let Some(lines) = by_case.get(&id) else {
                continue;
            };
            let case = self
                .columns
                .iter()
                .filter_map(|r| r.result.as_ref().ok())
                .flat_map(|r| r.results.iter())
                .find(|c| c.case.case.id == id)
                .map(|c| &c.case.case);
            let mut md = format!("### `{id}`\n\n");
            if let Some(c) = case {
                md.push_str(&format!(
                    "{} ({}): \"{}\"\n\nexpected: {}\n\n",
                    c.source,
                    c.level.as_str().to_uppercase(),
                    esc(&one_line(&c.requirement, 400)),
                    esc(&self.expected_of(&id))
                ));
            }
            md.push_str(&lines.join("\n"));
            md.push_str("\n\n");
            blocks.push(md);
        }
        blocks
    }

    fn expected_of(&self, id: &str) -> String {
        self.columns
            .iter()
            .filter_map(|r| r.result.as_ref().ok())
            .flat_map(|r| r.results.iter())
            .find(|c| c.case.case.id == id)
            .map(|c| one_line(&c.verdict.expected, 300))
            .unwrap_or_default()
    }
}

type SummaryPick = fn(&Summary) -> usize;

const SUMMARY_ROWS: [(&str, SummaryPick); 6] = [
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

fn options_text(server: &BTreeMap<String, String>, proxy: &BTreeMap<String, String>) -> String {
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

/// Markdown table cells: no pipes or line breaks.
pub(super) fn esc(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}
