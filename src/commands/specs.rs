//! `wsgiprobe specs`: the cases, or the requirement catalogue with its coverage.

use anyhow::Result;

use super::spec_set::{load_cases, load_set};
use crate::cli::SpecsArgs;
use crate::exit::Exit;
use crate::{report, spec};

/// Runs `wsgiprobe specs`.
pub fn run(args: SpecsArgs) -> Result<Exit> {
    if args.coverage {
        let set = load_set(&args.select)?;
        let cases = spec::select(&set, &args.select.selection())?;
        let rows = spec::coverage(&set, &cases);
        let text = if args.json {
            serde_json::to_string_pretty(&report::coverage_json(&rows))? + "\n"
        } else {
            report::render_coverage(&rows)
        };
        report::write_stdout(&text)?;
        return Ok(Exit::Clean);
    }
    let cases = load_cases(&args.select)?;
    let text = if args.json {
        let list: Vec<_> = cases
            .iter()
            .map(|lc| {
                let mut v = serde_json::to_value(&lc.case).unwrap_or_default();
                v["area"] = lc.area.clone().into();
                v
            })
            .collect();
        serde_json::to_string_pretty(&list)? + "\n"
    } else {
        report::render_specs(&cases)
    };
    report::write_stdout(&text)?;
    Ok(Exit::Clean)
}
