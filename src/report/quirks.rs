//! The terminal section listing every declared server quirk that met a case
//! that did not pass: nothing a quirk touches goes unmentioned.

use super::style::{clip, table};
use crate::conformance::quirks::AppliedQuirk;

/// `Quirks applied` with each quirk's case, what it did and why.
pub fn render_quirks(applied: &[AppliedQuirk]) -> String {
    if applied.is_empty() {
        return String::new();
    }
    let mut t = table(None);
    t.set_header(vec!["case", "level", "outcome", "server's policy"]);
    for q in applied {
        let outcome = if q.downgraded {
            format!("{} -> quirk", q.was.as_str())
        } else {
            format!("{} (stands)", q.was.as_str())
        };
        let mut why = format!("{}\nsource: {}", q.quirk.reason, q.quirk.source);
        if let Some(note) = &q.note {
            why.push_str(&format!("\n{note}"));
        }
        t.add_row(vec![
            clip(&q.case).into_owned(),
            q.level.as_str().to_string(),
            outcome,
            clip(&why).into_owned(),
        ]);
    }
    format!("\nQuirks applied\n{t}\n")
}

/// The line a case row carries when a quirk met it.
pub fn quirk_line(q: &AppliedQuirk) -> String {
    if q.downgraded {
        format!("quirk ({}): {}", q.quirk.file, q.quirk.reason)
    } else {
        format!(
            "quirk declared ({}), not applied: {}",
            q.quirk.file,
            q.note.as_deref().unwrap_or_default()
        )
    }
}
