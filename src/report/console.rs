//! The terminal views: check results (a summary per area, the detail of
//! every case that did not pass, and a closing list, as pytest ends), the
//! case list and the server list.
//!
//! The check view is plain text wrapped to the terminal, not a table: a case
//! id always stays whole on its line, so it can be copied into `--only`.

use super::check::{CheckReport, Summary};
use super::export::Console;
use super::style::{clip, keep_whole, paint, table, wrap};
use crate::conformance::{CaseResult, Outcome, Stopped};
use crate::spec::LoadedCase;

/// How severe each outcome is, most first: the order of the closing list.
const SEVERITY: [Outcome; 5] = [
    Outcome::Fail,
    Outcome::Error,
    Outcome::Warn,
    Outcome::Quirk,
    Outcome::Skip,
];

/// The check results for the terminal.
pub fn render_check(report: &CheckReport, console: &Console) -> String {
    let width = usize::from(console.width).max(40);
    let color = console.color;
    let mut out = String::new();
    if !console.quiet {
        out.push_str(&heading(report));
        out.push_str(&area_summary(report, console));
        let not_passed: Vec<&CaseResult> = report
            .results
            .iter()
            .filter(|r| r.verdict.outcome != Outcome::Pass)
            .collect();
        if !not_passed.is_empty() {
            out.push_str(&rule("what did not pass", width));
            for r in not_passed {
                out.push_str(&detail(report, r, width, color));
            }
        }
        if let Some(v) = &report.validate {
            out.push_str(&super::render_validate(v));
        }
        if let Some(why) = &report.server_exited {
            out.push_str(&format!("\n{why}\n"));
        }
    }
    if let Some(d) = &report.expectations {
        out.push_str(&super::render_delta(d, None));
    }
    out.push_str(&closing(report, width, color));
    if console.quiet {
        return out.trim_start_matches('\n').to_string();
    }
    out
}

/// The tool, the stack and what the server says it is.
fn heading(report: &CheckReport) -> String {
    let s = &report.stack;
    let mut out = format!(
        "{} {}: {}{}{} at {}\n",
        report.tool.name,
        report.tool.version,
        s.gateway,
        s.version
            .as_ref()
            .map(|v| format!(" {v}"))
            .unwrap_or_default(),
        s.python
            .as_ref()
            .map(|p| format!(" (Python {p})"))
            .unwrap_or_default(),
        s.target
    );
    if s.proxy != "none" {
        out.push_str(&format!(
            "behind {} (nginx {}), server on {}\n",
            s.proxy,
            s.proxy_version.as_deref().unwrap_or("?"),
            s.transport
        ));
    }
    if let Some(sw) = &s.server_software {
        out.push_str(&format!("SERVER_SOFTWARE: {sw}\n"));
    }
    out
}

/// One line of counts per area; with `-v`, every case under its area.
fn area_summary(report: &CheckReport, console: &Console) -> String {
    let mut areas: Vec<(&str, &str)> = Vec::new();
    for r in &report.results {
        let key = (r.case.area.as_str(), r.case.area_title.as_str());
        if !areas.contains(&key) {
            areas.push(key);
        }
    }
    let name_width = areas.iter().map(|(a, _)| a.len()).max().unwrap_or(4).max(4);
    let mut out = String::from("\n");
    if !console.verbose {
        out.push_str(&format!(
            "{:<name_width$}  {:>5}  {:>4}  {:>4}  {:>4}  {:>4}  {:>5}  {:>5}\n",
            "area", "cases", "pass", "fail", "warn", "skip", "error", "quirk"
        ));
    }
    for (area, title) in areas {
        let results: Vec<&CaseResult> = report
            .results
            .iter()
            .filter(|r| r.case.area == area)
            .collect();
        let mut s = Summary::default();
        for r in &results {
            s.add(r.verdict.outcome);
        }
        if console.verbose {
            out.push_str(&format!("{area}: {title} ({})\n", s.counts_text()));
            for r in results {
                let o = r.verdict.outcome;
                out.push_str(&format!(
                    "  {}  {}\n",
                    paint(o, &format!("{:<5}", tag(o)), console.color),
                    r.case.case.id
                ));
            }
            out.push('\n');
            continue;
        }
        let cell = |n: usize, o: Outcome, w: usize| {
            let text = format!("{n:>w$}");
            if n > 0 && o != Outcome::Pass {
                paint(o, &text, console.color)
            } else {
                text
            }
        };
        out.push_str(&format!(
            "{area:<name_width$}  {:>5}  {}  {}  {}  {}  {}  {}\n",
            s.total,
            cell(s.pass, Outcome::Pass, 4),
            cell(s.fail, Outcome::Fail, 4),
            cell(s.warn, Outcome::Warn, 4),
            cell(s.skip, Outcome::Skip, 4),
            cell(s.error, Outcome::Error, 5),
            cell(s.quirk, Outcome::Quirk, 5),
        ));
    }
    out
}

/// The full detail of a case that did not pass.
fn detail(report: &CheckReport, r: &CaseResult, width: usize, color: bool) -> String {
    let c = &r.case.case;
    let o = r.verdict.outcome;
    let mut out = format!(
        "\n{} {} ({}){}\n",
        paint(o, tag(o), color),
        c.id,
        c.level.as_str(),
        if r.security_finding() {
            "  SECURITY FINDING"
        } else {
            ""
        }
    );
    out.push_str(&wrap(
        &r.verdict.expected,
        width,
        "  expected: ",
        "            ",
    ));
    out.push_str(&wrap(
        &r.verdict.actual,
        width,
        "  actual:   ",
        "            ",
    ));
    out.push_str(&wrap(
        &format!("{}: \"{}\"", c.source, first_sentence(&c.requirement)),
        width,
        "  ",
        "  ",
    ));
    if let Some(q) = report.quirks_applied.iter().find(|q| q.case == c.id) {
        out.push_str(&wrap(
            &format!(
                "{} -> {}, {} (source: {})",
                q.was.as_str(),
                q.outcome.as_str(),
                super::quirks::quirk_line(q),
                q.quirk.source
            ),
            width,
            "  ",
            "  ",
        ));
    }
    out
}

/// The closing list of what did not pass, most severe first, then the
/// counts and the time taken (how pytest ends).
fn closing(report: &CheckReport, width: usize, color: bool) -> String {
    let mut out = String::new();
    let mut listed = Vec::new();
    for o in SEVERITY {
        for r in report.results.iter().filter(|r| r.verdict.outcome == o) {
            let security = if r.security_finding() {
                " (SECURITY)"
            } else {
                ""
            };
            listed.push(format!(
                "{} {}{security}",
                paint(o, tag(o), color),
                r.case.case.id
            ));
        }
    }
    if !listed.is_empty() {
        out.push_str(&rule("summary", width));
        for line in listed {
            out.push_str(&line);
            out.push('\n');
        }
    } else {
        out.push('\n');
    }
    let s = report.summary();
    match (report.stopped, report.interrupted) {
        (Some(Stopped::Cancelled), signal) => out.push_str(&format!(
            "INTERRUPTED by {}: {} of {} cases decided; the others were not run\n",
            signal.map_or("a signal", |s| s.name()),
            s.total,
            s.total + report.not_run.len()
        )),
        (Some(Stopped::FailFast), _) => out.push_str(&format!(
            "stopped at the first failure (--fail-fast): {} cases not run\n",
            report.not_run.len()
        )),
        (None, _) => {}
    }
    let worst = SEVERITY
        .iter()
        .copied()
        .find(|o| report.results.iter().any(|r| r.verdict.outcome == *o))
        .filter(|o| matches!(o, Outcome::Fail | Outcome::Error | Outcome::Warn))
        .unwrap_or(Outcome::Pass);
    let line = format!("{} in {:.1}s", s.line(), report.duration.as_secs_f64());
    out.push_str(&paint(worst, &line, color));
    out.push('\n');
    out
}

/// `FAIL`, `PASS`, ... as the terminal shows outcomes.
fn tag(o: Outcome) -> &'static str {
    match o {
        Outcome::Pass => "PASS",
        Outcome::Fail => "FAIL",
        Outcome::Warn => "WARN",
        Outcome::Skip => "SKIP",
        Outcome::Error => "ERROR",
        Outcome::Quirk => "QUIRK",
    }
}

/// A section rule as wide as the terminal (80 at most): `── summary ───...`.
fn rule(title: &str, width: usize) -> String {
    let used = title.chars().count() + 4;
    format!(
        "\n── {title} {}\n",
        "─".repeat(width.min(80).saturating_sub(used))
    )
}

fn first_sentence(s: &str) -> String {
    let s = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if s.chars().count() <= 200 {
        return s;
    }
    let cut: String = s.chars().take(197).collect();
    format!("{cut}...")
}

/// The list of cases with their ids, levels and sources.
pub fn render_specs(cases: &[LoadedCase]) -> String {
    let mut t = table(None);
    t.set_header(vec!["case", "level", "scenario", "source", "stimulus"]);
    keep_whole(&mut t, 0);
    for lc in cases {
        let c = &lc.case;
        t.add_row(vec![
            clip(&c.id),
            clip(c.level.as_str()),
            clip(&c.scenario),
            clip(&c.source),
            clip(&c.stimulus),
        ]);
    }
    format!("{t}\n{} cases\n", cases.len())
}

/// The servers wsgiprobe can start, as `wsgiprobe servers` found them.
pub fn render_servers(python: &str, python_version: &str, rows: &[serde_json::Value]) -> String {
    let mut t = table(None);
    t.set_header(vec![
        "server",
        "available",
        "version",
        "listens on",
        "takes",
        "what",
    ]);
    let mut missing = Vec::new();
    for r in rows {
        let available = r["available"].as_bool().unwrap_or(false);
        if !available {
            missing.push(r["package"].as_str().unwrap_or_default().to_string());
        }
        let mut listens = vec!["tcp"];
        if r["unix"] == true {
            listens.push("unix");
        }
        if r["uwsgi_protocol"] == true {
            listens.push("uwsgi");
        }
        let mut takes = Vec::new();
        if r["workers"] == true {
            takes.push("--workers".to_string());
        }
        if r["threads"] == true {
            takes.push("--threads".to_string());
        }
        if r["trust_proxy"] == true {
            takes.push("--trust-proxy".to_string());
        }
        if r["prefix"] == true {
            takes.push("--prefix".to_string());
        }
        if let Some(classes) = r["worker_classes"].as_array().filter(|c| !c.is_empty()) {
            let names: Vec<&str> = classes.iter().filter_map(|c| c.as_str()).collect();
            takes.push(format!("--worker-class {}", names.join("|")));
        }
        t.add_row(vec![
            r["server"].as_str().unwrap_or_default().to_string(),
            if available { "yes" } else { "no" }.to_string(),
            r["version"].as_str().unwrap_or("-").to_string(),
            listens.join(", "),
            takes.join("\n"),
            r["description"].as_str().unwrap_or_default().to_string(),
        ]);
    }
    let mut out = format!("servers importable from {python} (Python {python_version}):\n{t}\n");
    if !missing.is_empty() {
        out.push_str(&format!(
            "install the missing ones with: {python} -m pip install {}\n(or let `check --server NAME` install one into a managed environment)\n",
            missing.join(" ")
        ));
    }
    out
}
