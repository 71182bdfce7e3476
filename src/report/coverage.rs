//! The requirement catalogue with the cases covering each requirement
//! (`wsgiprobe specs --coverage`).

use serde_json::{json, Value};

use super::style::{clip, table};
use crate::spec::Coverage;

/// Counts: requirements covered by a case, left uncovered with a recorded
/// reason, and neither (a gap in the catalogue).
fn counts(rows: &[Coverage]) -> (usize, usize, usize) {
    let covered = rows.iter().filter(|r| !r.cases.is_empty()).count();
    let explained = rows
        .iter()
        .filter(|r| r.cases.is_empty() && r.requirement.uncovered.is_some())
        .count();
    (covered, explained, rows.len() - covered - explained)
}

/// The JSON form: `requirements` (each with `id`, `level`, `source`,
/// `text`, `cases`, `uncovered`) and `summary`.
pub fn coverage_json(rows: &[Coverage]) -> Value {
    let (covered, explained, unaccounted) = counts(rows);
    json!({
        "requirements": rows,
        "summary": {
            "total": rows.len(),
            "covered": covered,
            "uncovered_with_reason": explained,
            "unaccounted": unaccounted,
        },
    })
}

/// One row per requirement: id, level, the cases (or why there are none)
/// and the quoted text with its source.
pub fn render_coverage(rows: &[Coverage]) -> String {
    let mut t = table(None);
    t.set_header(vec![
        "requirement",
        "level",
        "covered by",
        "source and text",
    ]);
    for r in rows {
        let q = &r.requirement;
        let by = if r.cases.is_empty() {
            match &q.uncovered {
                Some(why) => format!("(uncovered: {why})"),
                None => "(UNCOVERED, no reason recorded)".to_string(),
            }
        } else {
            r.cases.join("\n")
        };
        t.add_row(vec![
            clip(&q.id).into_owned(),
            q.level.as_str().to_string(),
            clip(&by).into_owned(),
            clip(&format!("{}: \"{}\"", q.source, q.text)).into_owned(),
        ]);
    }
    let (covered, explained, unaccounted) = counts(rows);
    format!(
        "{t}\n{} requirements: {covered} covered, {explained} uncovered with a reason, {unaccounted} unaccounted\n",
        rows.len()
    )
}
