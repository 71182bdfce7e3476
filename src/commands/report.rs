//! `wsgiprobe report FILE.json`: a saved report drawn again, through the
//! same exporters a run uses, so the page is the one the run would have
//! written.

use std::io::Read;

use anyhow::{bail, Context, Result};
use serde_json::Value;

use crate::cli::ReportArgs;
use crate::exit::Exit;
use crate::report::{Document, Exports, ReportKind};

/// Runs `wsgiprobe report`.
pub fn run(args: ReportArgs) -> Result<Exit> {
    if args.html.is_none() {
        bail!("say what to write: --html FILE (or --html - for standard output)");
    }
    let name = args.file.display().to_string();
    let text = if name == "-" {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .context("could not read the report from standard input")?;
        s
    } else {
        std::fs::read_to_string(&args.file).with_context(|| format!("could not read {name}"))?
    };
    let doc: Value = serde_json::from_str(&text).with_context(|| {
        format!("{name} is not JSON; give a report a wsgiprobe command wrote with --json")
    })?;
    ReportKind::of(&doc).with_context(|| format!("cannot draw {name}"))?;
    // No terminal table for a saved report: only the formats asked for.
    let mut exports = Exports::to(Vec::new());
    exports.add_html(args.html.as_deref());
    exports.write(&Document::Saved(&doc))?;
    Ok(Exit::Clean)
}
