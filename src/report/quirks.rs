//! How the terminal names a declared server quirk that met a case that did
//! not pass: nothing a quirk touches goes unmentioned.

use crate::conformance::quirks::AppliedQuirk;

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
