//! GitHub Actions: the job summary (Markdown appended to
//! `$GITHUB_STEP_SUMMARY`) and workflow-command annotations (`::error`,
//! `::notice`), which the runner reads from standard output and standard
//! error alike; wsgiprobe writes them to standard error so a `--json -` on
//! standard output stays clean.

use super::check::CheckReport;
use super::export::{Document, ExportError, Exporter, Markdown};
use crate::conformance::Outcome;
use crate::expectations::Notable;

/// The job summary: the Markdown report (what is unexpected first).
#[derive(Debug, Clone, Copy, Default)]
pub struct GithubSummary;

impl Exporter for GithubSummary {
    fn name(&self) -> &'static str {
        "GitHub job summary"
    }

    fn export(&self, doc: &Document) -> Result<String, ExportError> {
        match doc {
            Document::Bench(b) => Ok(super::thresholds::bench_markdown(b)),
            Document::BenchSet(set) => Ok(set
                .runs
                .iter()
                .filter_map(|r| r.result.as_ref().ok())
                .map(super::thresholds::bench_markdown)
                .collect::<Vec<_>>()
                .join("\n")),
            _ => Ok(Markdown.export(doc)? + "\n"),
        }
    }
}

/// One workflow command per finding: `::error` for what fails the run,
/// `::notice` for what only asks for an update of the expectations.
#[derive(Debug, Clone, Copy, Default)]
pub struct GithubAnnotations;

impl Exporter for GithubAnnotations {
    fn name(&self) -> &'static str {
        "GitHub annotations"
    }

    fn export(&self, doc: &Document) -> Result<String, ExportError> {
        let mut out = String::new();
        match doc {
            Document::Check { report, .. } => annotate(&mut out, report, None),
            Document::Bench(b) => out.push_str(&super::thresholds::threshold_annotations(b)),
            Document::BenchSet(set) => {
                for b in set.runs.iter().filter_map(|r| r.result.as_ref().ok()) {
                    out.push_str(&super::thresholds::threshold_annotations(b));
                }
            }
            Document::Differential(d) => {
                for row in d.rows() {
                    for (s, finding) in &row.findings {
                        out.push_str(&command(
                            "error",
                            &[],
                            &format!(
                                "wsgiprobe {}: {} (security)",
                                d.stacks[*s].label, row.entry.id
                            ),
                            &finding.describe(),
                        ));
                    }
                }
            }
            Document::Matrix(m) => {
                for run in &m.runs {
                    match &run.result {
                        Ok(r) => annotate(&mut out, r, Some(&run.label)),
                        Err(e) => out.push_str(&command(
                            "error",
                            &[],
                            &format!("wsgiprobe: {}", run.label),
                            &format!("the stack did not start: {e}"),
                        )),
                    }
                }
            }
            // Load reports of several runs carry no findings to annotate.
            _ => {}
        }
        Ok(out)
    }
}

/// The annotations of one stack; `label` names it in a matrix (a single
/// stack's label can be a whole `--cmd`, too long for a title).
fn annotate(out: &mut String, report: &CheckReport, label: Option<&str>) {
    let title = |id: &str| match label {
        Some(l) => format!("wsgiprobe {l}: {id}"),
        None => format!("wsgiprobe: {id}"),
    };
    let delta = report.expectations.as_ref();
    let file = delta.map(|d| d.file.as_str());
    for r in &report.results {
        let id = &r.case.case.id;
        let change = delta.and_then(|d| d.of(id));
        let line = change.and_then(|c| c.line);
        let at = location(file, line);
        let title = match r.security_finding() {
            true => format!("{} (security)", title(id)),
            false => title(id),
        };
        if r.verdict.outcome == Outcome::Error {
            out.push_str(&command(
                "error",
                &at,
                &title,
                &format!("could not decide: {}", r.verdict.actual),
            ));
        } else if report.fails_run(r) {
            let what = match change {
                Some(c) => Notable::Case(c).explain(),
                None => r.verdict.outcome.as_str().to_string(),
            };
            out.push_str(&command(
                "error",
                &at,
                &title,
                &format!(
                    "{what}\n{} ({}): {}\nexpected: {}\nactual: {}",
                    r.case.case.source,
                    r.case.case.level.as_str().to_uppercase(),
                    r.case
                        .case
                        .requirement
                        .split_whitespace()
                        .collect::<Vec<_>>()
                        .join(" "),
                    r.verdict.expected,
                    r.verdict.actual
                ),
            ));
        } else if let Some(c) = change.filter(|c| c.is_off()) {
            out.push_str(&command("notice", &at, &title, &Notable::Case(c).explain()));
        }
    }
    if let Some(d) = delta {
        for s in &d.stale {
            let n = Notable::Stale(s);
            out.push_str(&command(
                if d.strict { "error" } else { "notice" },
                &location(file, Some(s.line)),
                &title(&s.id),
                &n.explain(),
            ));
        }
    }
}

fn location(file: Option<&str>, line: Option<usize>) -> Vec<(&'static str, String)> {
    let mut at = Vec::new();
    if let Some(f) = file {
        at.push(("file", f.to_string()));
        if let Some(l) = line {
            at.push(("line", l.to_string()));
        }
    }
    at
}

/// One workflow command line, escaped as the runner unescapes it.
pub fn command(kind: &str, props: &[(&str, String)], title: &str, message: &str) -> String {
    let mut p: Vec<String> = props
        .iter()
        .map(|(k, v)| format!("{k}={}", escape_property(v)))
        .collect();
    p.push(format!("title={}", escape_property(title)));
    format!("::{kind} {}::{}\n", p.join(","), escape_data(message))
}

fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_escaped_as_the_runner_reads_them() {
        let c = command(
            "error",
            &[("file", "a,b.toml".into()), ("line", "3".into())],
            "wsgiprobe x: environ.a",
            "100% broken\nline two",
        );
        assert_eq!(
            c,
            "::error file=a%2Cb.toml,line=3,title=wsgiprobe x%3A environ.a::100%25 broken%0Aline two\n"
        );
    }
}
