//! The check and matrix pages, from their JSON: each stack's outcomes at a
//! glance, the matrix (cases by stacks) whose every cell opens the case's
//! requirement, the request sent and the response head received, and
//! every case that did not pass somewhere, written out for print.

use serde_json::{json, Value};

use super::chart::thousands;
use super::page::{esc, json_script, num, text, Page};
use super::{stack_facts, stack_label};

/// Outcomes in the order summaries show them.
const OUTCOMES: [&str; 6] = ["pass", "fail", "warn", "skip", "error", "quirk"];

/// One column of the matrix: a stack's label and its check document, or
/// why it did not start.
struct Column<'a> {
    label: String,
    report: Result<&'a Value, String>,
}

impl Column<'_> {
    fn case(&self, id: &str) -> Option<&Value> {
        self.report
            .as_ref()
            .ok()?
            .get("cases")?
            .as_array()?
            .iter()
            .find(|c| text(c, "/id") == Some(id))
    }
}

/// A single stack's check.
pub fn check_page(doc: &Value) -> String {
    let label = stack_label(&doc["stack"]);
    let columns = vec![Column {
        label: label.clone(),
        report: Ok(doc),
    }];
    let mut sub = vec![];
    if let Some(t) = text(doc, "/started_at") {
        sub.push(t.to_string());
    }
    if let Some(ms) = num(doc, "/duration_ms") {
        sub.push(format!("{:.1} s", ms / 1000.0));
    }
    if doc["strict"] == Value::Bool(true) {
        sub.push("--strict".into());
    }
    let page = Page::new(
        &format!("PEP 3333 conformance of {label}"),
        &sub.join(" · "),
        &super::stack_tags(&doc["stack"]),
    );
    build(page, doc, &columns, "check")
}

/// Several stacks checked with the same cases.
pub fn matrix_page(doc: &Value) -> String {
    let columns: Vec<Column> = doc["stacks"]
        .as_array()
        .map(|stacks| {
            stacks
                .iter()
                .map(|s| Column {
                    label: text(s, "/label")
                        .map(str::to_string)
                        .unwrap_or_else(|| stack_label(&s["stack"])),
                    report: match text(s, "/start_error") {
                        Some(e) => Err(e.to_string()),
                        None => Ok(s),
                    },
                })
                .collect()
        })
        .unwrap_or_default();
    let mut sub = vec![format!("{} stacks", columns.len())];
    if let Some(t) = text(doc, "/started_at") {
        sub.push(t.to_string());
    }
    if doc["strict"] == Value::Bool(true) {
        sub.push("--strict".into());
    }
    let page = Page::new("PEP 3333 conformance matrix", &sub.join(" · "), &[]);
    build(page, doc, &columns, "matrix")
}

fn build(mut page: Page, doc: &Value, columns: &[Column], kind: &str) -> String {
    let rows = rows(columns);
    page.raw(&format!(
        "<section id=\"summary\">{}</section>",
        summaries(columns)
    ));
    if let Some(why) = text(doc, "/server_exited") {
        page.raw(&super::page::callouts(
            "bad",
            &[format!("The server exited during the run: {why}")],
        ));
    }
    page.section("matrix", "Cases", &matrix(columns, &rows));
    let trouble = not_passed(columns, &rows);
    if !trouble.is_empty() {
        page.section("trouble", "What did not pass", &trouble);
    }
    let validate = validate_findings(columns);
    if !validate.is_empty() {
        page.section("validate", "wsgiref.validate findings", &validate);
    }
    page.section("stacks", "Stacks", &stacks(columns));
    page.finish(kind, &super::footer(doc))
}

/// Case ids in first-seen order, with area and level.
fn rows(columns: &[Column]) -> Vec<(String, String, String)> {
    let mut rows: Vec<(String, String, String)> = Vec::new();
    for c in columns {
        let Ok(r) = &c.report else { continue };
        for case in r["cases"].as_array().into_iter().flatten() {
            let id = text(case, "/id").unwrap_or("").to_string();
            if !rows.iter().any(|(i, _, _)| *i == id) {
                let area = text(case, "/area")
                    .map(str::to_string)
                    .unwrap_or_else(|| id.split('.').next().unwrap_or("").to_string());
                rows.push((id, area, text(case, "/level").unwrap_or("").to_string()));
            }
        }
    }
    rows
}

fn outcome_of(case: Option<&Value>) -> &str {
    case.and_then(|c| text(c, "/outcome")).unwrap_or("none")
}

fn summaries(columns: &[Column]) -> String {
    let mut out = String::from("<div class=\"summaries\">");
    for c in columns {
        out.push_str("<div class=\"summary-card\">");
        out.push_str(&format!("<h3>{}</h3>", esc(&c.label)));
        match &c.report {
            Err(e) => out.push_str(&format!(
                "<p class=\"callout bad\">did not start: {}</p>",
                esc(e.lines().next().unwrap_or(""))
            )),
            Ok(r) => {
                let total = num(r, "/summary/total").unwrap_or(0.0);
                out.push_str("<div class=\"stackbar\" role=\"img\" aria-label=\"outcomes\">");
                for o in OUTCOMES {
                    let n = num(r, &format!("/summary/{o}")).unwrap_or(0.0);
                    if n > 0.0 && total > 0.0 {
                        out.push_str(&format!(
                            "<span class=\"o-{o}\" style=\"flex-grow:{n}\" title=\"{n} {o}\"></span>"
                        ));
                    }
                }
                out.push_str("</div><ul class=\"counts\">");
                for o in OUTCOMES {
                    let n = num(r, &format!("/summary/{o}")).unwrap_or(0.0);
                    if n > 0.0 || o == "fail" || o == "pass" {
                        out.push_str(&format!(
                            "<li class=\"o-{o}-text\"><b>{}</b> {o}</li>",
                            thousands(n)
                        ));
                    }
                }
                out.push_str(&format!("<li><b>{}</b> cases</li></ul>", thousands(total)));
            }
        }
        out.push_str("</div>");
    }
    out.push_str("</div>");
    out
}

/// A request or response head as text: CRLF line ends as plain line
/// breaks, and anything else that is not printable (a bare CR or LF, a
/// NUL) written as an escape, since those are what a case is about.
fn visible(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' if chars.peek() == Some(&'\n') => {
                chars.next();
                out.push('\n');
            }
            '\r' => out.push_str("\\r"),
            '\n' => out.push_str("\\n\n"),
            '\t' => out.push('\t'),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out
}

fn matrix(columns: &[Column], rows: &[(String, String, String)]) -> String {
    let mut out = String::from(
        "<div class=\"filters\" role=\"toolbar\"><button type=\"button\" data-filter=\"all\" aria-pressed=\"true\">all cases</button><button type=\"button\" data-filter=\"trouble\" aria-pressed=\"false\">not passing somewhere</button>",
    );
    if columns.len() > 1 {
        out.push_str("<button type=\"button\" data-filter=\"differ\" aria-pressed=\"false\">stacks differ</button>");
    }
    out.push_str("<input type=\"search\" placeholder=\"filter by case id\" aria-label=\"filter by case id\"><span class=\"shown\"></span></div>");
    out.push_str(
        "<div class=\"matrix-wrap\"><table class=\"matrix\"><thead><tr><th>case</th><th>level</th>",
    );
    for c in columns {
        out.push_str(&format!(
            "<th class=\"stack\"><span>{}</span></th>",
            esc(&c.label)
        ));
    }
    out.push_str("</tr></thead><tbody>");
    let mut data_cases = Vec::new();
    let mut data_cells = Vec::new();
    let mut area = String::new();
    for (i, (id, row_area, level)) in rows.iter().enumerate() {
        if *row_area != area {
            area = row_area.clone();
            out.push_str(&format!(
                "<tr class=\"area\"><th colspan=\"{}\">{}</th></tr>",
                columns.len() + 2,
                esc(&area)
            ));
        }
        let cases: Vec<Option<&Value>> = columns.iter().map(|c| c.case(id)).collect();
        let outcomes: Vec<&str> = cases.iter().map(|c| outcome_of(*c)).collect();
        let trouble = outcomes.iter().any(|o| *o != "pass" && *o != "none");
        let first = outcomes.iter().find(|o| **o != "none");
        let differ = outcomes
            .iter()
            .any(|o| Some(&o) != first.as_ref() && *o != "none");
        out.push_str(&format!(
            "<tr data-case=\"{}\" data-trouble=\"{trouble}\" data-differ=\"{differ}\"><td class=\"id\"><code>{}</code></td><td class=\"level {}\">{}</td>",
            esc(id),
            esc(id),
            esc(level),
            esc(level)
        ));
        for (j, o) in outcomes.iter().enumerate() {
            if *o == "none" {
                out.push_str("<td class=\"o none\">–</td>");
                continue;
            }
            let href = if trouble {
                format!("#t-{}", esc(id))
            } else {
                "#matrix".to_string()
            };
            out.push_str(&format!(
                "<td class=\"o o-{o}\"><a href=\"{href}\" data-c=\"{i}\" data-s=\"{j}\" title=\"{}: {o}\">{}</a></td>",
                esc(&columns[j].label),
                if *o == "pass" { "pass".to_string() } else { o.to_uppercase() }
            ));
        }
        out.push_str("</tr>");
        let any = cases.iter().flatten().next();
        data_cases.push(json!({
            "id": id,
            "level": level,
            "source": any.and_then(|c| text(c, "/source")),
            "requirement": any.and_then(|c| text(c, "/requirement")),
            "stimulus": any.and_then(|c| text(c, "/stimulus")),
            "note": any.and_then(|c| text(c, "/note")),
            "covers": any.map(|c| c["covers"].clone()),
        }));
        data_cells.push(
            cases
                .iter()
                .map(|c| {
                    c.map(|c| {
                        json!({
                            "outcome": text(c, "/outcome"),
                            "expected": text(c, "/expected"),
                            "actual": text(c, "/actual"),
                            "request": text(c, "/request").map(visible),
                            "response_head": text(c, "/response_head").map(visible),
                            "elapsed_ms": num(c, "/elapsed_ms"),
                            "quirk": c.get("quirk").filter(|q| !q.is_null()).map(|q| json!({
                                "reason": text(q, "/reason"),
                                "source": text(q, "/source"),
                                "downgraded": q["downgraded"],
                                "note": text(q, "/note"),
                            })),
                        })
                    })
                    .unwrap_or(Value::Null)
                })
                .collect::<Vec<_>>(),
        );
    }
    out.push_str("</tbody></table></div>");
    out.push_str("<p class=\"note\">Select a cell for the requirement, the request sent and the response head received.</p>");
    let stacks: Vec<&str> = columns.iter().map(|c| c.label.as_str()).collect();
    out.push_str(&json_script(
        "matrix-data",
        &json!({"stacks": stacks, "cases": data_cases, "cells": data_cells}),
    ));
    out
}

fn not_passed(columns: &[Column], rows: &[(String, String, String)]) -> String {
    let mut out = String::new();
    for (id, _, level) in rows {
        let cases: Vec<Option<&Value>> = columns.iter().map(|c| c.case(id)).collect();
        if !cases
            .iter()
            .any(|c| !matches!(outcome_of(*c), "pass" | "none"))
        {
            continue;
        }
        let any = cases
            .iter()
            .flatten()
            .next()
            .copied()
            .unwrap_or(&Value::Null);
        out.push_str(&format!(
            "<article class=\"case\" id=\"t-{}\"><h3><code>{}</code> <span class=\"level {}\">{}</span></h3>",
            esc(id),
            esc(id),
            esc(level),
            esc(&level.to_uppercase())
        ));
        if let Some(req) = text(any, "/requirement") {
            out.push_str(&format!(
                "<blockquote>{}<cite>{}</cite></blockquote>",
                esc(req),
                esc(text(any, "/source").unwrap_or(""))
            ));
        }
        out.push_str("<table class=\"verdicts\"><thead><tr><th>stack</th><th>outcome</th><th>expected</th><th>actual</th></tr></thead><tbody>");
        for (c, case) in columns.iter().zip(&cases) {
            let Some(case) = case else { continue };
            let o = outcome_of(Some(case));
            let quirk = case
                .get("quirk")
                .filter(|q| !q.is_null())
                .map(|q| {
                    format!(
                        "<div class=\"quirk\">declared quirk{}: {} <cite>{}</cite></div>",
                        if q["downgraded"] == Value::Bool(false) {
                            " (not applied)"
                        } else {
                            ""
                        },
                        esc(text(q, "/reason").unwrap_or("")),
                        esc(text(q, "/source").unwrap_or(""))
                    )
                })
                .unwrap_or_default();
            out.push_str(&format!(
                "<tr><td>{}</td><td class=\"o o-{o}\">{}</td><td>{}</td><td>{}{quirk}</td></tr>",
                esc(&c.label),
                esc(o),
                esc(text(case, "/expected").unwrap_or("")),
                esc(text(case, "/actual").unwrap_or(""))
            ));
        }
        out.push_str("</tbody></table></article>");
    }
    out
}

fn validate_findings(columns: &[Column]) -> String {
    let mut out = String::new();
    for c in columns {
        let Ok(r) = &c.report else { continue };
        let Some(findings) = r["validate"]["findings"].as_array() else {
            continue;
        };
        out.push_str(&format!("<h3>{}</h3>", esc(&c.label)));
        if findings.is_empty() {
            out.push_str("<p class=\"good-text\">No finding.</p>");
            continue;
        }
        out.push_str("<table class=\"verdicts\"><thead><tr><th>finding</th><th>classification</th><th>count</th></tr></thead><tbody>");
        for f in findings {
            out.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(text(f, "/message").unwrap_or("")),
                esc(text(f, "/classification").unwrap_or("")),
                num(f, "/count").unwrap_or(0.0)
            ));
        }
        out.push_str("</tbody></table>");
    }
    out
}

fn stacks(columns: &[Column]) -> String {
    let mut out = String::from("<div class=\"grid2\">");
    for c in columns {
        out.push_str(&format!("<div class=\"panel\"><h3>{}</h3>", esc(&c.label)));
        match &c.report {
            Ok(r) => out.push_str(&stack_facts(&r["stack"])),
            Err(e) => out.push_str(&format!("<pre class=\"log\">{}</pre>", esc(e))),
        }
        out.push_str("</div>");
    }
    out.push_str("</div>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_bytes_are_shown_and_line_ends_kept() {
        assert_eq!(
            visible("GET / HTTP/1.1\r\nX: \u{1}\r\nY: a\nZ\r\r\n"),
            "GET / HTTP/1.1\nX: \\x01\nY: a\\n\nZ\\r\n"
        );
    }
}
