//! The terminal section for `check --validate`: what wsgiref.validate found,
//! apart from the case verdicts.

use super::style::{clip, table};
use crate::conformance::validate::{Classification, Finding};
use crate::conformance::ValidateReport;

/// The findings table, server findings first, then the ones not held
/// against the server with the reason why.
pub fn render_validate(v: &ValidateReport) -> String {
    let mut out = format!("\nwsgiref.validate ({})\n", v.callable);
    if let Some(problem) = &v.problem {
        out.push_str(&format!("could not validate: {problem}\n"));
        return out;
    }
    if v.findings.is_empty() {
        out.push_str("no findings\n");
        return out;
    }
    let mut t = table(None);
    t.set_header(vec!["finding", "check", "seen in", "message"]);
    for f in &v.findings {
        let mut message = f.message.clone();
        if let Some(reason) = &f.reason {
            message.push_str(&format!("\n({reason})"));
        }
        t.add_row(vec![
            f.classification.as_str().to_string(),
            clip(&f.check).into_owned(),
            clip(&seen_in(f)).into_owned(),
            clip(&message).into_owned(),
        ]);
    }
    out.push_str(&format!("{t}\n"));
    let count = |c: Classification| v.findings.iter().filter(|f| f.classification == c).count();
    out.push_str(&format!(
        "{} distinct findings: {} about the server, {} expected (deliberate), {} stricter than PEP 3333, {} about the probe\n",
        v.findings.len(),
        count(Classification::Server),
        count(Classification::Expected),
        count(Classification::StricterThanPep),
        count(Classification::Application),
    ));
    out
}

fn seen_in(f: &Finding) -> String {
    let mut ids: Vec<String> = Vec::new();
    for t in &f.triggered_by {
        let id = match (&t.case, t.request.as_str()) {
            (Some(c), "first") => c.clone(),
            (Some(c), r) => format!("{c} ({r})"),
            (None, _) => "(outside the cases)".to_string(),
        };
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    let shown = ids.len().min(3);
    let mut s = ids[..shown].join("\n");
    if ids.len() > shown {
        s.push_str(&format!("\n... {} more", ids.len() - shown));
    }
    format!("{s}\n[{} requests]", f.count)
}
