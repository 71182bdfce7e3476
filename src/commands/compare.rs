//! `wsgiprobe compare A.json B.json`: two bench or suite reports, each
//! change judged across repeats; exit 1 when a significant change breaks a
//! `--fail-if` limit.

use anyhow::{bail, Result};

use crate::cli::CompareArgs;
use crate::exit::Exit;
use crate::report::{Console, Document, Exports};
use crate::suite::compare::{compare, parse_limits, read};

/// Runs `wsgiprobe compare`.
pub fn run(args: CompareArgs) -> Result<Exit> {
    if !(args.alpha > 0.0 && args.alpha < 1.0) {
        bail!("--alpha must be between 0 and 1 (0.05, 0.10)");
    }
    let limits = parse_limits(&args.fail_if)?;
    let exports = Exports::standard(
        Console::default(),
        args.json.as_deref(),
        args.markdown.as_deref(),
    );
    let before = read(&args.before)?;
    let after = read(&args.after)?;
    let report = compare(
        (&args.before.display().to_string(), &before),
        (&args.after.display().to_string(), &after),
        args.alpha,
        limits,
    )?;
    exports.write(&Document::Compare(&report))?;
    Ok(if report.broken.is_empty() {
        Exit::Clean
    } else {
        Exit::Failures
    })
}
