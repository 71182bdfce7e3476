//! `wsgiprobe merge FILES...`: the shards' reports read, checked to be the
//! parts of one plan, merged, thresholds checked on the whole, and the
//! merged report exported as a run's would be.

use std::io::IsTerminal;

use anyhow::{bail, Result};

use super::{bench, suite};
use crate::cli::{MergeArgs, OutputArgs};
use crate::exit::Exit;
use crate::merge::{merge_files, MergedReport};
use crate::report::{Console, Destination, Document, Exports, Hlog};

/// Runs `wsgiprobe merge`.
pub fn run(args: MergeArgs, output: &OutputArgs) -> Result<Exit> {
    let merged = merge_files(&args.files, args.partial, &args.fail_if)?;
    let json = args.json.as_deref();
    match merged {
        MergedReport::Bench(mut report) => {
            if args.markdown.is_some() {
                bail!("--markdown is for merged suites; a bench report is written with --json (and shown as a table)");
            }
            report.check_thresholds(&args.fail_if);
            // The table as bench shows it, under the same output flags.
            let console = Console {
                color: output.color.enabled(std::io::stdout().is_terminal()),
                quiet: output.quiet,
                width: crate::report::style::terminal_width(),
                ..Console::default()
            };
            let mut exports = Exports::standard(console, json, None);
            if output.no_table {
                exports.drop_table();
            }
            exports.add_html(args.html.as_deref());
            if let Some(path) = &args.hlog {
                exports.add(Box::new(Hlog), Destination::File(path.clone()));
            }
            exports.write(&Document::Bench(&report))?;
            if json.is_some_and(|p| p.as_os_str() == "-") {
                for line in crate::report::broken_lines(&report.thresholds) {
                    eprintln!("wsgiprobe: {line}");
                }
            }
            Ok(bench::exit_for(&report))
        }
        MergedReport::Suite(report) => {
            if args.hlog.is_some() {
                bail!("--hlog writes one run's log and a suite has one per level: run each shard's suite with --hlog for its levels' logs");
            }
            let mut exports = Exports::standard(Console::default(), json, args.markdown.as_deref());
            exports.add_html(args.html.as_deref());
            exports.write(&Document::Suite(&report))?;
            Ok(suite::exit_for(&report))
        }
    }
}
