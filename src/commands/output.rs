//! Writing reports to files.

use std::path::Path;

use anyhow::{Context, Result};

/// Writes a JSON document, pretty-printed, with a final newline.
pub fn write_report(path: &Path, doc: &serde_json::Value) -> Result<()> {
    write_text(
        path,
        &(serde_json::to_string_pretty(doc)? + "\n"),
        "JSON report",
    )
}

/// Writes a text report; `what` names it in the error.
pub fn write_text(path: &Path, text: &str, what: &str) -> Result<()> {
    std::fs::write(path, text)
        .with_context(|| format!("could not write the {what} to {}", path.display()))
}
