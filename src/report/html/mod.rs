//! The HTML report: one self-contained page per document, drawn from the
//! JSON document itself, so `bench --html` and `wsgiprobe report
//! FILE.json --html` give the same page, and a report saved by an older
//! run still renders. Charts are SVG drawn here (`chart.rs`); the page
//! shell, styles and script are in `page.rs`.

mod bench;
mod bench_set;
mod chart;
mod compare;
mod conformance;
mod page;
mod suite;

use serde_json::Value;

use super::export::{Document, ExportError, Exporter};
use page::{esc, text};

/// The self-contained HTML page.
#[derive(Debug, Clone, Copy, Default)]
pub struct Html;

impl Exporter for Html {
    fn name(&self) -> &'static str {
        "HTML report"
    }

    fn export(&self, doc: &Document) -> Result<String, ExportError> {
        match doc {
            Document::Saved(v) => render(v),
            other => render(&other.to_json()),
        }
        .map_err(ExportError::Html)
    }
}

/// What kind of report a JSON document is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportKind {
    Check,
    Matrix,
    Bench,
    /// `bench --server a --server b`: several runs and how they rank.
    BenchSet,
    Suite,
    Compare,
}

impl ReportKind {
    /// The kind of a JSON document wsgiprobe wrote: its `kind`, or for a
    /// bench report (which has none) its contract fields.
    pub fn of(doc: &Value) -> Result<ReportKind, RenderError> {
        match text(doc, "/kind") {
            Some("check") => Ok(ReportKind::Check),
            Some("matrix") => Ok(ReportKind::Matrix),
            Some("bench") => Ok(ReportKind::Bench),
            Some("bench-set") => Ok(ReportKind::BenchSet),
            Some("suite") => Ok(ReportKind::Suite),
            Some("compare") => Ok(ReportKind::Compare),
            Some(other) => Err(RenderError::UnknownKind(other.to_string())),
            None if doc.get("requests_per_sec").is_some() && doc.get("latency_us").is_some() => {
                Ok(ReportKind::Bench)
            }
            None if doc.get("cases").is_some() && doc.get("summary").is_some() => {
                Ok(ReportKind::Check)
            }
            None => Err(RenderError::NotAReport),
        }
    }
}

/// Why a JSON document could not be drawn.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("this JSON is not a wsgiprobe report (no `kind`, and neither a bench report's `requests_per_sec` nor a check report's `cases`)")]
    NotAReport,
    #[error("wsgiprobe cannot draw a report of kind {0:?}; a newer wsgiprobe may")]
    UnknownKind(String),
}

/// The page for a JSON document wsgiprobe wrote.
pub fn render(doc: &Value) -> Result<String, RenderError> {
    Ok(match ReportKind::of(doc)? {
        ReportKind::Check => conformance::check_page(doc),
        ReportKind::Matrix => conformance::matrix_page(doc),
        ReportKind::Bench => bench::page(doc),
        ReportKind::BenchSet => bench_set::page(doc),
        ReportKind::Suite => suite::page(doc),
        ReportKind::Compare => compare::page(doc),
    })
}

/// A stack's short name from its JSON: `gunicorn 27.0.1 gthread w2 + nginx`.
pub fn stack_label(stack: &Value) -> String {
    let mut s = text(stack, "/gateway").unwrap_or("?").to_string();
    if let Some(v) = text(stack, "/version") {
        s.push(' ');
        s.push_str(v);
    }
    let opt = |k: &str| text(stack, &format!("/options/{k}"));
    if let Some(c) = opt("worker_class") {
        s.push_str(&format!(" {c}"));
    }
    if let Some(w) = opt("workers") {
        s.push_str(&format!(" w{w}"));
    }
    if let Some(t) = opt("threads") {
        s.push_str(&format!(" t{t}"));
    }
    match text(stack, "/proxy") {
        Some("none") | None => {}
        Some(p) => s.push_str(&format!(" + {p}")),
    }
    s
}

/// Header tags for one stack.
fn stack_tags(stack: &Value) -> Vec<(String, String)> {
    let mut tags = Vec::new();
    let mut add = |k: &str, v: Option<&str>| {
        if let Some(v) = v.filter(|v| !v.is_empty()) {
            tags.push((k.to_string(), v.to_string()));
        }
    };
    add("app", text(stack, "/app"));
    add("server", text(stack, "/server_software"));
    add("Python", text(stack, "/python"));
    let proxy = match (text(stack, "/proxy"), text(stack, "/proxy_version")) {
        (Some("none"), _) | (None, _) => None,
        (Some(p), Some(v)) => Some(format!("{p} (nginx {v})")),
        (Some(p), None) => Some(p.to_string()),
    };
    add("proxy", proxy.as_deref());
    add("transport", text(stack, "/transport"));
    tags
}

/// Every fact of one stack, as a table.
fn stack_facts(stack: &Value) -> String {
    let map = |key: &str| {
        stack[key]
            .as_object()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                    .collect::<Vec<_>>()
                    .join("; ")
            })
            .unwrap_or_default()
    };
    let t = |k: &str| text(stack, &format!("/{k}")).unwrap_or("").to_string();
    page::facts(&[
        ("gateway", t("gateway")),
        ("version", t("version")),
        ("app", t("app")),
        ("SERVER_SOFTWARE", t("server_software")),
        ("Python", t("python")),
        ("command", t("command")),
        ("options", map("options")),
        ("proxy", t("proxy")),
        ("proxy version", t("proxy_version")),
        ("proxy options", map("proxy_options")),
        ("transport", t("transport")),
        ("target", t("target")),
    ])
}

/// The footer: which tool made the report.
fn footer(doc: &Value) -> String {
    format!(
        "Made by {} {} · a self-contained page: it needs no network and prints as it shows.",
        esc(text(doc, "/tool/name").unwrap_or("wsgiprobe")),
        esc(text(doc, "/tool/version").unwrap_or(""))
    )
}
