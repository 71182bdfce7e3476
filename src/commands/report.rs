//! `wsgiprobe report FILE.json`: a saved report drawn again, through the
//! same exporters a run uses, so the page is the one the run would have
//! written.

use std::io::Read;

use anyhow::{bail, Context, Result};
use serde_json::Value;

use crate::cli::ReportArgs;
use crate::exit::Exit;
use crate::report::{
    saved_check, saved_matrix, stack_label, write_stdout, Destination, Document, Exporter, Exports,
    Markdown, ReportKind,
};

/// Runs `wsgiprobe report`.
pub fn run(args: ReportArgs) -> Result<Exit> {
    if args.html.is_none() && args.markdown.is_none() {
        bail!("say what to write: --html FILE or --markdown FILE (- for standard output)");
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
    let kind = ReportKind::of(&doc).with_context(|| format!("cannot draw {name}"))?;
    // Both formats are made before either is written, so a report that
    // cannot give its Markdown leaves no half of the output behind.
    let markdown = match &args.markdown {
        None => None,
        Some(path) => Some((
            path,
            markdown(&doc, kind).with_context(|| format!("no Markdown for {name}"))?,
        )),
    };
    // No terminal table for a saved report: only the formats asked for.
    let mut exports = Exports::to(Vec::new());
    exports.add_html(args.html.as_deref());
    exports.write(&Document::Saved(&doc))?;
    if let Some((path, text)) = markdown {
        match Destination::from_arg(path) {
            Destination::File(p) => std::fs::write(&p, text)
                .with_context(|| format!("could not write the Markdown to {}", p.display()))?,
            _ => write_stdout(&text).context("could not write the Markdown to standard output")?,
        }
    }
    Ok(Exit::Clean)
}

/// The Markdown the run itself would have written, from its rebuilt
/// report; the formats that have no Markdown say so, as the run would.
fn markdown(doc: &Value, kind: ReportKind) -> Result<String> {
    Ok(match kind {
        ReportKind::Check => {
            let report = saved_check(doc)?;
            let label = stack_label(&doc["stack"]);
            Markdown.export(&Document::Check {
                report: &report,
                label: &label,
            })?
        }
        ReportKind::Matrix => Markdown.export(&Document::Matrix(&saved_matrix(doc)?))?,
        ReportKind::Bench | ReportKind::BenchSet | ReportKind::Suite | ReportKind::Compare => bail!(
            "Markdown from a saved report is made for check and matrix reports; draw this one with --html"
        ),
    })
}
