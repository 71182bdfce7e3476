//! Merging the reports of a sharded run (`bench --shard I/N`, `suite
//! --shard I/N`) into the report of the whole plan, without loss.
//!
//! Percentiles cannot be averaged: the p99 of eight shards is not the mean
//! of their eight p99s. Every report carries its HDR histograms, so the
//! merge adds them bucket by bucket (corrected and uncorrected latency, the
//! generator's send lag, and each second of the timeline) and every
//! percentile of the merge is that of one histogram holding every request.
//! Counts, errors by kind and connection figures add up; the rate is the
//! sum of the shards' rates; timelines are aligned on the wall clock.
//!
//! `read` turns each file into a typed shard, `plan` checks that the files
//! are the shards of one plan (and says what differs when they are not),
//! `bench` and `suite` put them together into the report types the other
//! commands export, so a merged report renders as any other.

mod bench;
mod plan;
mod read;
mod suite;

use std::path::{Path, PathBuf};

pub use bench::merge_bench;
pub use plan::PlanKey;
pub use read::{BenchShard, LevelShard, SuiteShard};
pub use suite::merge_suite;

use crate::bench::Threshold;
use crate::report::{BenchReport, SuiteReport};

/// Why the files cannot be merged.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    #[error("could not read {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not JSON")]
    Json {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("{path} is neither a bench nor a suite report; give the JSON reports of `bench --shard` or `suite --shard`")]
    Kind { path: PathBuf },
    #[error("{path} was not run with --shard: merge takes the shards of one sharded plan (run each part with --shard I/N)")]
    NotSharded { path: PathBuf },
    #[error("{path} has no usable {field}: it was not written by wsgiprobe {version} (or was edited); run the shard again")]
    Field {
        path: PathBuf,
        field: String,
        version: &'static str,
    },
    #[error("{first} is a {first_kind} report and {other} a {other_kind} report: merge the shards of one run")]
    Mixed {
        first: PathBuf,
        first_kind: &'static str,
        other: PathBuf,
        other_kind: &'static str,
    },
    #[error("{other} is not a shard of the same plan as {first}: {}; run every shard with the same command line but for --shard", .differences.join("; "))]
    Plans {
        first: PathBuf,
        other: PathBuf,
        differences: Vec<String>,
    },
    #[error("shard {shard} is given twice ({first} and {other}); give each shard's report once")]
    Duplicate {
        shard: String,
        first: PathBuf,
        other: PathBuf,
    },
    #[error("the plan has {count} shards and {} {} missing; merge all of them, or pass --partial to merge those given", .missing.join(", "), if .missing.len() == 1 { "is" } else { "are" })]
    Missing { count: u32, missing: Vec<String> },
}

/// What a set of shard files merged into.
#[derive(Debug)]
pub enum MergedReport {
    Bench(Box<BenchReport>),
    Suite(Box<SuiteReport>),
}

/// Reads `paths` and merges them; `partial` allows shards to be missing.
/// Suite levels are checked against `thresholds` and their workloads' own;
/// a bench merge leaves thresholds to its caller, as bench does.
pub fn merge_files(
    paths: &[PathBuf],
    partial: bool,
    thresholds: &[Threshold],
) -> Result<MergedReport, MergeError> {
    let mut bench = Vec::new();
    let mut suite = Vec::new();
    let mut first: Option<(&Path, &'static str)> = None;
    for path in paths {
        let doc = read::document(path)?;
        let kind = read::kind(&doc).ok_or_else(|| MergeError::Kind { path: path.clone() })?;
        match first {
            None => first = Some((path, kind)),
            Some((p, k)) if k != kind => {
                return Err(MergeError::Mixed {
                    first: p.to_path_buf(),
                    first_kind: k,
                    other: path.clone(),
                    other_kind: kind,
                })
            }
            Some(_) => {}
        }
        match kind {
            "bench" => bench.push(BenchShard::from_json(path, &doc)?),
            _ => suite.push(SuiteShard::from_json(path, &doc)?),
        }
    }
    if !bench.is_empty() {
        return Ok(MergedReport::Bench(Box::new(merge_bench(bench, partial)?)));
    }
    Ok(MergedReport::Suite(Box::new(merge_suite(
        suite, partial, thresholds,
    )?)))
}
