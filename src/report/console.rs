//! Terminal tables: check results grouped by area, and the case list.

use comfy_table::Cell;

use super::check::CheckReport;
use super::style::{clip, outcome_cell, table};
use crate::conformance::Outcome;
use crate::spec::LoadedCase;

/// The check results: one table per area, failures with expected and actual.
pub fn render_check(report: &CheckReport, color: bool) -> String {
    let mut out = String::new();
    let s = &report.stack;
    out.push_str(&format!(
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
    ));
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

    let mut areas: Vec<(&str, &str)> = Vec::new();
    for r in &report.results {
        let key = (r.case.area.as_str(), r.case.area_title.as_str());
        if !areas.contains(&key) {
            areas.push(key);
        }
    }
    for (area, title) in areas {
        let mut t = table(None);
        t.set_header(vec!["outcome", "case", "level", "detail"]);
        for r in report.results.iter().filter(|r| r.case.area == area) {
            let c = &r.case.case;
            let mut detail = if r.verdict.outcome == Outcome::Pass {
                c.stimulus.clone()
            } else {
                format!(
                    "expected: {}\nactual:   {}\n({}: \"{}\")",
                    r.verdict.expected,
                    r.verdict.actual,
                    c.source,
                    first_sentence(&c.requirement)
                )
            };
            if let Some(q) = report.quirks_applied.iter().find(|q| q.case == c.id) {
                detail.push_str(&format!("\n{}", super::quirks::quirk_line(q)));
            }
            t.add_row(vec![
                outcome_cell(
                    r.verdict.outcome,
                    r.verdict.outcome.as_str().to_uppercase(),
                    color,
                ),
                Cell::new(clip(&c.id)),
                Cell::new(c.level.as_str()),
                Cell::new(clip(&detail)),
            ]);
        }
        out.push_str(&format!("\n{title} ({area})\n{t}\n"));
    }
    out.push_str(&super::render_quirks(&report.quirks_applied));
    if let Some(v) = &report.validate {
        out.push_str(&super::render_validate(v));
    }
    if let Some(why) = &report.server_exited {
        out.push_str(&format!("\n{why}\n"));
    }
    if let Some(d) = &report.expectations {
        out.push_str(&super::render_delta(d, None));
    }
    out.push_str(&format!("\n{}\n", report.summary().line()));
    out
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
