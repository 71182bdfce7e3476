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
        if args.json {
            println!(
                "{}",
                serde_json::to_string_pretty(&report::coverage_json(&rows))?
            );
        } else {
            print!("{}", report::render_coverage(&rows));
        }
        return Ok(Exit::Clean);
    }
    let cases = load_cases(&args.select)?;
    if args.json {
        let list: Vec<_> = cases
            .iter()
            .map(|lc| {
                let mut v = serde_json::to_value(&lc.case).unwrap_or_default();
                v["area"] = lc.area.clone().into();
                v
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&list)?);
    } else {
        print!("{}", report::render_specs(&cases));
    }
    Ok(Exit::Clean)
}
