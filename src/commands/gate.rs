//! What makes `wsgiprobe check` a CI gate: expectation files (compared
//! and written), the JUnit report, and GitHub Actions' job summary and
//! annotations. Planned with the rest of the check, before any server
//! starts, so a bad expectations file stops the run at once.

use std::collections::HashSet;
use std::path::PathBuf;

use anyhow::Result;

use crate::cli::CheckArgs;
use crate::expectations::{self, Delta, ExpectationsFile, RunOutcomes};
use crate::report::{
    describe_stack, CheckReport, Destination, Exports, GithubAnnotations, GithubSummary, Junit,
};
use crate::spec::SpecSet;

/// `GITHUB_ACTIONS=true` turns on the summary and the annotations.
const GITHUB_ACTIONS: &str = "GITHUB_ACTIONS";
/// The file GitHub shows as the job summary.
const GITHUB_STEP_SUMMARY: &str = "GITHUB_STEP_SUMMARY";

/// Under GitHub Actions (`GITHUB_ACTIONS=true`): annotations on standard
/// error, and the Markdown report appended to the job summary when the
/// runner names its file.
pub fn add_github(exports: &mut Exports) {
    if !std::env::var(GITHUB_ACTIONS).is_ok_and(|v| v == "true") {
        return;
    }
    exports.add(Box::new(GithubAnnotations), Destination::Stderr);
    if let Some(path) = std::env::var_os(GITHUB_STEP_SUMMARY).filter(|p| !p.is_empty()) {
        exports.add(Box::new(GithubSummary), Destination::Append(path.into()));
    }
}

/// The gate's part of a check plan.
pub struct GatePlan {
    /// `--expectations`, read and checked.
    expectations: Option<ExpectationsFile>,
    strict_expectations: bool,
    /// `--update-expectations`: where to write, and what the file held
    /// before (kept for cases and stacks this run does not decide).
    update: Option<(PathBuf, Option<ExpectationsFile>)>,
    /// Every case id of the spec set, in spec order.
    known: Vec<String>,
}

impl GatePlan {
    /// Reads the expectation files and adds the gate's exporters.
    pub fn from_args(args: &CheckArgs, set: &SpecSet, exports: &mut Exports) -> Result<GatePlan> {
        let expectations = args
            .expectations
            .as_deref()
            .map(ExpectationsFile::load)
            .transpose()?;
        let update = match &args.update_expectations {
            None => None,
            Some(path) => {
                // A file that is there must be valid: its entries are kept.
                let old = if path.exists() {
                    Some(ExpectationsFile::load(path)?)
                } else {
                    None
                };
                Some((path.clone(), old))
            }
        };
        if let Some(path) = &args.junit {
            exports.add(Box::new(Junit), Destination::from_arg(path));
        }
        add_github(exports);
        Ok(GatePlan {
            expectations,
            strict_expectations: args.strict_expectations,
            update,
            known: set.cases.iter().map(|c| c.case.id.clone()).collect(),
        })
    }

    /// One stack's report compared with `--expectations`, if given.
    pub fn compare(&self, report: &CheckReport, label: &str, single_stack: bool) -> Option<Delta> {
        let known: HashSet<&str> = self.known.iter().map(String::as_str).collect();
        self.expectations.as_ref().map(|f| {
            Delta::compare(
                f,
                label,
                single_stack,
                &report.results,
                &known,
                self.strict_expectations,
            )
        })
    }

    /// Whether the exit code describes the file just written rather than
    /// the comparison.
    pub fn updates(&self) -> bool {
        self.update.is_some()
    }

    /// Writes `--update-expectations` from the stacks that ran, and says
    /// what was written.
    pub fn write_update(&self, runs: &[(&str, Option<&CheckReport>)]) -> Result<()> {
        let Some((path, old)) = &self.update else {
            return Ok(());
        };
        let descriptions: Vec<(String, &CheckReport, &str)> = runs
            .iter()
            .filter_map(|(label, r)| r.map(|r| (describe_stack(&r.stack), r, *label)))
            .collect();
        let outcomes: Vec<RunOutcomes> = descriptions
            .iter()
            .map(|(d, r, label)| RunOutcomes {
                label,
                description: d,
                results: &r.results,
            })
            .collect();
        let known: Vec<&str> = self.known.iter().map(String::as_str).collect();
        let written = expectations::write(old.as_ref(), &outcomes, &known, &header());
        std::fs::write(path, &written.text).map_err(|source| {
            expectations::ExpectationsError::Write {
                file: path.display().to_string(),
                source,
            }
        })?;
        eprintln!(
            "wsgiprobe: wrote the expectations of {} stack(s), {} case outcomes{}, to {}",
            written.stacks,
            written.cases,
            if written.kept > 0 {
                format!(
                    " ({} kept from the old file: not decided by this run)",
                    written.kept
                )
            } else {
                String::new()
            },
            path.display()
        );
        for d in &written.dropped {
            eprintln!("wsgiprobe: dropped the stale entry {d}: no such case any more");
        }
        Ok(())
    }
}

fn header() -> String {
    format!(
        "# wsgiprobe expectations: the outcome each case is expected to have, per stack.\n\
         # Written by {} {} (`wsgiprobe check --update-expectations`). Review the\n\
         # changes and commit the file: `wsgiprobe check --expectations FILE` then exits 1\n\
         # only on an unexpected fail or warn (docs/ci.md says what counts as expected).\n\
         # Outcomes: pass, fail (a MUST broken), warn (a SHOULD broken), skip, quirk;\n\
         # the comment beside an entry says what the server did.\n",
        env!("CARGO_PKG_NAME"),
        env!("CARGO_PKG_VERSION")
    )
}
