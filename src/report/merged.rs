//! What a report merged from shards says of its parts: each shard's own
//! figures, and the window the shards measured together. Carried by a
//! [`BenchReport`](super::BenchReport) or a suite result that `wsgiprobe
//! merge` built; rendered after the whole run's figures.

use serde::Serialize;
use serde_json::{json, Value};

use super::style::{ms, table};
use crate::bench::stats::Percentiles;
use crate::bench::Shard;

/// One shard file as it went into a merge.
#[derive(Debug, Clone, Serialize)]
pub struct MergedShard {
    /// The file it was read from.
    pub file: String,
    pub shard: Shard,
    /// The machine (or pod) that ran it.
    pub host: Option<String>,
    /// When its measured window began, seconds since the epoch.
    pub measure_start_unix: f64,
    pub measured_s: f64,
    pub requests: u64,
    pub errors: u64,
    pub requests_per_sec: f64,
    /// Its own corrected latency.
    pub latency_us: Percentiles,
    pub valid: bool,
    pub generator_bottleneck: bool,
    pub warnings: Vec<String>,
}

/// The wall-clock window of a merge.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct MergeWindow {
    /// The first shard's window start and the last one's end, seconds
    /// since the epoch.
    pub start_unix: f64,
    pub end_unix: f64,
    /// How long every shard was measuring at once.
    pub common_s: f64,
    /// How far apart the earliest and the latest shard started.
    pub skew_s: f64,
}

/// How a report was merged from shards.
#[derive(Debug, Clone, Serialize)]
pub struct Merged {
    /// The plan's shard count.
    pub count: u32,
    pub shards: Vec<MergedShard>,
    /// Shard indexes of the plan that were not given (`merge --partial`).
    pub missing: Vec<u32>,
    pub window: MergeWindow,
}

/// How the figures were put together, for the JSON reader.
const METHOD: &str = "histograms (corrected, uncorrected, send lag, per second) added bucket by bucket, so every percentile is that of one histogram holding every request; counts, errors by kind and connection figures added up; requests_per_sec is the sum of the shards' rates, each over its own window of the same length; timeline seconds aligned on the wall clock";

impl Merged {
    pub fn to_json(&self) -> Value {
        json!({
            "count": self.count,
            "shards": self.shards,
            "missing": self.missing,
            "window": self.window,
            "method": METHOD,
        })
    }

    /// The lines and the per-shard table shown under the whole run.
    pub fn render(&self) -> String {
        let w = &self.window;
        let mut out = format!(
            "merged from {} of {} shards; measured together for {:.1} s (starts {:.3} s apart)\n",
            self.shards.len(),
            self.count,
            w.common_s,
            w.skew_s,
        );
        if !self.missing.is_empty() {
            let list: Vec<String> = self
                .missing
                .iter()
                .map(|i| format!("{i}/{}", self.count))
                .collect();
            out.push_str(&format!(
                "missing shards: {} (the load above is that much less than the plan's)\n",
                list.join(", ")
            ));
        }
        let mut t = table(None);
        t.set_header(vec![
            "shard", "host", "req/s", "requests", "errors", "p50", "p99", "max",
        ]);
        for s in &self.shards {
            t.add_row(vec![
                s.shard.to_string(),
                s.host.clone().unwrap_or_else(|| "-".into()),
                format!("{:.1}", s.requests_per_sec),
                s.requests.to_string(),
                s.errors.to_string(),
                ms(s.latency_us.p50),
                ms(s.latency_us.p99),
                ms(s.latency_us.max),
            ]);
        }
        out.push_str(&t.to_string());
        out.push('\n');
        out
    }
}
