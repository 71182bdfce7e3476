//! The parts of the Markdown view of a check or a matrix that a reviewer
//! reads (pr_comment.rs lays them out to fit a pull-request comment): the
//! stacks by name as column heads, the cases where they differ apart from
//! those where every stack agrees, and for every case that did not pass
//! somewhere each stack's expected and actual side by side.
//!
//! Everything a server or a spec file said is escaped, so a control
//! character, a `|` or a stray `<tag>` in a response cannot break the table
//! or inject markup.

use std::fmt::Write as _;

use super::matrix::{one_line, options_text, Column, MatrixView, SUMMARY_ROWS};
use crate::conformance::{CaseResult, Outcome};

impl MatrixView<'_> {
    /// The stacks with their versions and options, one row each.
    pub(super) fn md_stacks(&self) -> String {
        let mut md = String::from(
            "| stack | server | Python | proxy | transport | options |\n|---|---|---|---|---|---|\n",
        );
        for run in &self.columns {
            match &run.result {
                Ok(r) => {
                    let s = &r.stack;
                    let server = match &s.version {
                        Some(v) => format!("{} {v}", s.gateway),
                        None => s.gateway.clone(),
                    };
                    let proxy = match &s.proxy_version {
                        Some(v) => format!("{} (nginx {v})", s.proxy),
                        None => s.proxy.clone(),
                    };
                    let _ = writeln!(
                        md,
                        "| {} | {} | {} | {} | {} | {} |",
                        text(run.label),
                        text(&server),
                        text(s.python.as_deref().unwrap_or("-")),
                        text(&proxy),
                        text(&s.transport),
                        text(&options_text(&s.options, &s.proxy_options)),
                    );
                }
                Err(e) => {
                    let _ = writeln!(
                        md,
                        "| {} | did not start: {} | | | | |",
                        text(run.label),
                        text(e.lines().next().unwrap_or(""))
                    );
                }
            }
        }
        md
    }

    /// The case rows, as table lines with the stacks' labels as column
    /// heads (the header first, so a long table can be cut between rows):
    /// where the stacks differ, and where every stack that ran agrees
    /// (ending with the counts per outcome). With one stack, what did not
    /// pass, and the passes.
    pub(super) fn md_cases(&self) -> (Vec<String>, Vec<String>) {
        let ran = self.columns.iter().filter(|c| c.result.is_ok()).count();
        let mut differ = vec![self.md_header("case", true)];
        let mut agree = vec![self.md_header("case", true)];
        for (id, level) in self.rows() {
            let cells = self.ran_cells(&id);
            let differs = if ran <= 1 {
                cells.iter().any(|o| *o != Some(Outcome::Pass))
            } else {
                cells.windows(2).any(|w| w[0] != w[1])
            };
            let mut line = format!("| {} | {level} |", code(&id));
            for run in &self.columns {
                line.push_str(&format!(
                    " {} |",
                    outcome_text(Self::result(run, &id), false)
                ));
            }
            line.push('\n');
            if differs {
                differ.push(line);
            } else {
                agree.push(line);
            }
        }
        for (name, pick) in SUMMARY_ROWS {
            let mut line = format!("| **{name}** | |");
            for s in self.summaries() {
                let cell = s.map_or_else(|| "no start".to_string(), |s| pick(&s).to_string());
                line.push_str(&format!(" {cell} |"));
            }
            line.push('\n');
            agree.push(line);
        }
        if differ.len() == 1 {
            differ.clear();
        }
        (differ, agree)
    }

    /// A table header with one column per stack, labelled by the stack.
    fn md_header(&self, first: &str, level: bool) -> String {
        let mut head = format!("| {first} |");
        let mut rule = String::from("|---|");
        if level {
            head.push_str(" level |");
            rule.push_str("---|");
        }
        for run in &self.columns {
            head.push_str(&format!(" {} |", text(run.label)));
            rule.push_str("---|");
        }
        format!("{head}\n{rule}\n")
    }

    /// One block per case that did not pass somewhere: the requirement
    /// once, then each stack's own expected and actual, side by side.
    pub(super) fn md_blocks(&self) -> Vec<String> {
        let mut blocks = Vec::new();
        for (id, _) in self.rows() {
            let found: Vec<(&Column, Option<&CaseResult>)> = self
                .columns
                .iter()
                .filter(|c| c.result.is_ok())
                .map(|c| (c, result_of(c, &id)))
                .collect();
            let failing: Vec<(&Column, &CaseResult)> = found
                .iter()
                .filter_map(|(c, r)| r.map(|r| (*c, r)))
                .filter(|(_, r)| r.verdict.outcome != Outcome::Pass)
                .collect();
            let Some((_, first)) = failing.first() else {
                continue;
            };
            let case = &first.case.case;
            let mut md = format!(
                "### {}\n\n{} ({}): \"{}\"\n\n| stack | outcome | expected | actual |\n|---|---|---|---|\n",
                code(&id),
                text(&case.source),
                case.level.as_str().to_uppercase(),
                text(&one_line(&case.requirement, 400)),
            );
            for (column, r) in &failing {
                let _ = writeln!(
                    md,
                    "| {} | {} | {} | {} |",
                    text(column.label),
                    outcome_text(Some(r), true),
                    code(&one_line(&r.verdict.expected, 300)),
                    code(&one_line(&r.verdict.actual, 300)),
                );
            }
            let mut notes = Vec::new();
            for (column, r) in &failing {
                let Ok(report) = column.result else { continue };
                if let Some(q) = report
                    .quirks_applied
                    .iter()
                    .find(|q| q.case == r.case.case.id)
                {
                    notes.push(format!(
                        "- {}: declared quirk{}: {} ({})",
                        text(column.label),
                        if q.downgraded { "" } else { ", not applied" },
                        text(&one_line(&q.quirk.reason, 400)),
                        text(&one_line(&q.quirk.source, 300)),
                    ));
                }
            }
            let passed: Vec<String> = found
                .iter()
                .filter(|(_, r)| r.is_some_and(|r| r.verdict.outcome == Outcome::Pass))
                .map(|(c, _)| text(c.label))
                .collect();
            if !passed.is_empty() {
                notes.push(format!("- passed on: {}", passed.join(", ")));
            }
            if !notes.is_empty() {
                md.push('\n');
                md.push_str(&notes.join("\n"));
                md.push('\n');
            }
            md.push('\n');
            blocks.push(md);
        }
        blocks
    }

    /// The outcome of `id` on each stack that ran (`None`: not run there).
    fn ran_cells(&self, id: &str) -> Vec<Option<Outcome>> {
        self.columns
            .iter()
            .filter(|c| c.result.is_ok())
            .map(|c| Self::cell(c, id))
            .collect()
    }
}

fn result_of<'a>(column: &Column<'a>, id: &str) -> Option<&'a CaseResult> {
    let report = column.result.ok()?;
    report.results.iter().find(|r| r.case.case.id == id)
}

/// How a cell shows an outcome: a failure stands out, a security finding
/// says so; with `finding`, a deployment setting's finding too.
fn outcome_text(r: Option<&CaseResult>, finding: bool) -> String {
    let Some(r) = r else {
        return "-".into();
    };
    let o = r.verdict.outcome.as_str();
    let text = match r.finding() {
        Some(kind) if finding || r.security_finding() => format!("{o} ({kind})"),
        _ => o.to_string(),
    };
    if r.verdict.outcome == Outcome::Fail {
        format!("**{}**", text.to_uppercase())
    } else {
        text
    }
}

/// A control character as the reader can see it (`\x1b`, `\u{2028}`).
fn visible(c: char, out: &mut String) -> bool {
    match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        c if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}') => {
            if (c as u32) < 0x100 {
                let _ = write!(out, "\\x{:02x}", c as u32);
            } else {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
        }
        _ => return false,
    }
    true
}

/// `s` with every control character made visible and nothing else changed.
pub(super) fn visible_controls(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if !visible(c, &mut out) {
            out.push(c);
        }
    }
    out
}

/// Prose in a table cell or a paragraph: Markdown's punctuation and HTML
/// escaped, control characters made visible.
pub fn text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if visible(c, &mut out) {
            continue;
        }
        if matches!(c, '\\' | '`' | '*' | '_' | '<' | '>' | '|' | '[' | ']') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A value as inline code: shown literally, whatever it holds. Only `|`
/// needs escaping inside a table cell; the fence is longer than any run of
/// backticks in the value.
pub fn code(s: &str) -> String {
    let mut body = String::with_capacity(s.len());
    for c in s.chars() {
        if visible(c, &mut body) {
            continue;
        }
        if c == '|' {
            body.push('\\');
        }
        body.push(c);
    }
    let mut longest = 0;
    let mut run = 0;
    for c in body.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    let fence = "`".repeat(longest + 1);
    let pad = if body.starts_with('`') || body.ends_with('`') {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{body}{pad}{fence}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_and_markup_are_escaped() {
        assert_eq!(text("a|b\r\n<x>*y*"), "a\\|b\\r\\n\\<x\\>\\*y\\*");
        assert_eq!(text("esc\x1b[31m"), "esc\\x1b\\[31m");
        assert_eq!(text("nul\0 line\u{2028}"), "nul\\x00 line\\u{2028}");
        assert_eq!(code("a|b"), "`a\\|b`");
        assert_eq!(code("x = \"\r\n\""), "`x = \"\\r\\n\"`");
        assert_eq!(code("has `tick`"), "`` has `tick` ``");
        assert_eq!(code("`edge"), "`` `edge ``");
    }
}
