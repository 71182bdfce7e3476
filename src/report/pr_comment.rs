//! The Markdown report sized for a pull-request comment: the summary per
//! stack and what is unexpected come first, unfolded; the stacks, the
//! matrix and the evidence fold into `<details>`, and the folded part is
//! cut short (with a note) when the whole would not fit in one comment.

use super::check::CheckReport;
use super::expectations::counts_line;
use super::matrix::{esc, one_line, MatrixView};
use crate::conformance::Outcome;
use crate::expectations::{Change, Notable};

/// GitHub refuses a comment longer than this many characters.
pub const COMMENT_LIMIT: usize = 65_536;
/// What the report may use of it: room is left for a workflow's own words
/// around it.
const BUDGET: usize = COMMENT_LIMIT - 4_096;

/// The whole document: `head` (title), the summary, what is unexpected,
/// the `differ` lines (cases where the stacks differ, in view), then
/// `stacks`, the `agree` lines (the cases where every stack agrees, and the
/// counts) and the evidence `blocks`, folded.
pub fn compose(
    view: &MatrixView,
    head: String,
    stacks: String,
    differ: Vec<String>,
    agree: Vec<String>,
    blocks: Vec<String>,
) -> String {
    let mut md = head;
    md.push_str(&summary(view));
    let (title, rows) = unexpected(view);
    if !rows.is_empty() {
        md.push_str(&format!("\n## {title}\n\n"));
        let budget = BUDGET.saturating_sub(md.len()) / 2;
        md.push_str(&fit(rows, budget, "rows"));
    }
    let ran = view.columns.iter().filter(|c| c.result.is_ok()).count();
    if ran > 1 && !differ.is_empty() {
        md.push_str("\n## Where the stacks differ\n\n");
        let budget = BUDGET.saturating_sub(md.len()) / 3;
        md.push_str(&fit(differ.clone(), budget, "rows"));
    }
    md.push('\n');
    md.push_str(&fold(&format!("Stacks ({})", view.columns.len()), &stacks));
    let (title, mut matrix) = if ran > 1 {
        let cases = agree.len().saturating_sub(1 + 6);
        (
            format!("Matrix: {cases} cases where every stack agrees, and the counts"),
            agree,
        )
    } else {
        // One stack: every case in one table, what did not pass first.
        let mut all = differ;
        all.extend(agree.into_iter().skip(usize::from(!all.is_empty())));
        (
            format!("Matrix: {} cases", all.len().saturating_sub(1 + 6)),
            all,
        )
    };
    if matrix.is_empty() {
        matrix.push(String::new());
    }
    let budget = BUDGET.saturating_sub(md.len() + 200) * 2 / 3;
    md.push_str(&fold(&title, &fit(matrix, budget, "rows")));
    if !blocks.is_empty() {
        let n = blocks.len();
        let budget = BUDGET.saturating_sub(md.len() + 200);
        md.push_str(&fold(
            &format!("What did not pass: {n} cases, with the evidence"),
            &fit(blocks, budget, "cases"),
        ));
    }
    md
}

/// `<details>` around `body`; GitHub renders Markdown inside it after a
/// blank line.
fn fold(summary: &str, body: &str) -> String {
    format!("<details><summary>{summary}</summary>\n\n{body}\n</details>\n\n")
}

/// As many of `parts` as fit in `budget` characters (the first always), and
/// a line saying how many were left out.
fn fit(parts: Vec<String>, budget: usize, what: &str) -> String {
    let total = parts.len();
    let mut out = String::new();
    let mut kept = 0;
    for p in parts {
        if kept > 0 && out.len() + p.len() > budget {
            break;
        }
        out.push_str(&p);
        kept += 1;
    }
    if kept < total {
        out.push_str(&format!(
            "\n*{} more {what} left out to fit a pull-request comment: the JSON report (`--json`) has everything.*\n",
            total - kept
        ));
    }
    out
}

/// One line per stack: its counts, and its expectations when compared.
fn summary(view: &MatrixView) -> String {
    let with_expectations = view
        .columns
        .iter()
        .any(|c| c.result.is_ok_and(|r| r.expectations.is_some()));
    let mut md =
        String::from("## Summary\n\n| stack | pass | fail | warn | skip | error | quirk |");
    md.push_str(if with_expectations {
        " expectations |\n|---|---:|---:|---:|---:|---:|---:|---|\n"
    } else {
        "\n|---|---:|---:|---:|---:|---:|---:|\n"
    });
    for c in &view.columns {
        match c.result {
            Ok(r) => {
                let s = r.summary();
                md.push_str(&format!(
                    "| {} | {} | {} | {} | {} | {} | {} |",
                    esc(c.label),
                    s.pass,
                    bold_if(s.fail),
                    s.warn,
                    s.skip,
                    bold_if(s.error),
                    s.quirk
                ));
                if with_expectations {
                    let text = r.expectations.as_ref().map_or("-".to_string(), |d| {
                        format!("{} ({})", counts_line(d), esc(&d.file))
                    });
                    md.push_str(&format!(" {text} |"));
                }
                md.push('\n');
            }
            Err(e) => md.push_str(&format!(
                "| {} | **did not start**: {} |\n",
                esc(c.label),
                esc(&one_line(e.lines().next().unwrap_or(""), 200))
            )),
        }
    }
    md.push_str(&format!("\n{}\n", verdict(view)));
    md
}

fn bold_if(n: usize) -> String {
    if n > 0 {
        format!("**{n}**")
    } else {
        n.to_string()
    }
}

/// One sentence on what the exit code will say.
fn verdict(view: &MatrixView) -> String {
    let reports: Vec<&CheckReport> = view.columns.iter().filter_map(|c| c.result.ok()).collect();
    let failing: usize = reports
        .iter()
        .map(|r| r.results.iter().filter(|c| r.fails_run(c)).count())
        .sum();
    let stale_failing = reports
        .iter()
        .filter_map(|r| r.expectations.as_ref())
        .filter(|d| d.strict)
        .map(|d| d.stale.len())
        .sum::<usize>();
    let trouble = view.columns.iter().filter(|c| c.result.is_err()).count()
        + reports.iter().map(|r| r.summary().error).sum::<usize>();
    let expectations = reports.iter().any(|r| r.expectations.is_some());
    let mut words = match (failing + stale_failing, expectations) {
        (0, true) => "**Nothing unexpected.**".to_string(),
        (0, false) => "**No failure.**".to_string(),
        (n, true) => format!("**{n} unexpected result(s)**: the check fails."),
        (n, false) => format!("**{n} failure(s)**: the check fails."),
    };
    if trouble > 0 {
        words.push_str(&format!(
            " {trouble} case(s) or stack(s) could not be decided."
        ));
    }
    words
}

/// The unexpected results, what fails the run first: with expectations,
/// every change against the file; without, every failure.
fn unexpected(view: &MatrixView) -> (&'static str, Vec<String>) {
    let many = view.columns.len() > 1;
    let stack = |label: &str| {
        if many {
            format!(" {} |", esc(label))
        } else {
            String::new()
        }
    };
    let expectations = view
        .columns
        .iter()
        .any(|c| c.result.is_ok_and(|r| r.expectations.is_some()));
    let mut first = Vec::new();
    let mut rest = Vec::new();
    if expectations {
        for c in &view.columns {
            let Ok(r) = c.result else { continue };
            let Some(d) = &r.expectations else { continue };
            for n in d.notable() {
                let failing = n.fails_run(d.strict);
                let (expected, got, detail) = match n {
                    Notable::Case(cd) => {
                        let actual = r
                            .results
                            .iter()
                            .find(|x| x.case.case.id == cd.id)
                            .map(|x| one_line(&x.verdict.actual, 160))
                            .unwrap_or_default();
                        let detail = match cd.change {
                            Change::Fixed => "update the expectations".to_string(),
                            _ => actual,
                        };
                        (
                            cd.expected.map_or("-", Outcome::as_str),
                            cd.actual.as_str(),
                            detail,
                        )
                    }
                    Notable::Stale(s) => (
                        s.expected.as_str(),
                        "-",
                        format!("no such case any more: remove it (line {})", s.line),
                    ),
                };
                let label = if failing {
                    format!("**{}**", n.label())
                } else {
                    n.label().to_string()
                };
                let row = format!(
                    "| {label} | `{}` |{} {expected} | {got} | {} |\n",
                    n.id(),
                    stack(c.label),
                    esc(&detail)
                );
                if failing {
                    first.push(row);
                } else {
                    rest.push(row);
                }
            }
            for e in d.with(Change::Undecided) {
                first.push(format!(
                    "| **error** | `{}` |{} {} | error | could not decide |\n",
                    e.id,
                    stack(c.label),
                    e.expected.map_or("-", Outcome::as_str)
                ));
            }
        }
    } else {
        for c in &view.columns {
            let Ok(r) = c.result else { continue };
            for x in &r.results {
                if r.fails_run(x) || x.verdict.outcome == Outcome::Error {
                    let outcome = match x.finding() {
                        Some(kind) => format!("{} ({kind})", x.verdict.outcome.as_str()),
                        None => x.verdict.outcome.as_str().to_string(),
                    };
                    first.push(format!(
                        "| **{outcome}** | `{}` |{} {} |\n",
                        x.case.case.id,
                        stack(c.label),
                        esc(&one_line(&x.verdict.actual, 160))
                    ));
                }
            }
        }
    }
    if first.is_empty() && rest.is_empty() {
        return ("", Vec::new());
    }
    let head = match (expectations, many) {
        (true, true) => {
            "| change | case | stack | expected | got | detail |\n|---|---|---|---|---|---|\n"
        }
        (true, false) => "| change | case | expected | got | detail |\n|---|---|---|---|---|\n",
        (false, true) => "| outcome | case | stack | what the server did |\n|---|---|---|---|\n",
        (false, false) => "| outcome | case | what the server did |\n|---|---|---|\n",
    };
    let mut rows = vec![head.to_string()];
    rows.extend(first);
    rows.extend(rest);
    (
        if expectations {
            "Unexpected, against the expectations"
        } else {
            "Failures"
        },
        rows,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fit_keeps_what_fits_and_says_what_it_left_out() {
        let parts: Vec<String> = (0..10).map(|i| format!("part {i}\n")).collect();
        let out = fit(parts.clone(), 25, "cases");
        assert!(out.starts_with("part 0\npart 1\npart 2\n"), "{out}");
        assert!(out.contains("*7 more cases left out"), "{out}");
        assert_eq!(fit(parts.clone(), 10_000, "cases"), parts.concat());
        assert!(
            fit(parts, 0, "rows").starts_with("part 0\n"),
            "the first always"
        );
    }
}
