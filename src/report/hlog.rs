//! HdrHistogram interval logs (`.hlog`): the per-second latency of a run in
//! the text format HdrHistogram's `HistogramLogReader`,
//! `HistogramLogProcessor` and HistogramLogAnalyzer read (and the Rust
//! crate's `interval_log`), so a run can be re-cut into any percentiles over
//! any span of time with HdrHistogram's own tools.
//!
//! The format: `#` comment lines, among them `#[StartTime: S (seconds since
//! epoch), ...]` and `#[BaseTime: S (seconds since epoch)]`; an optional
//! legend line starting `"StartTimestamp"`; then one line per interval,
//! `START,LENGTH,MAX,HISTOGRAM`: the start in seconds after BaseTime, the
//! length in seconds, the interval's largest value (for people; readers
//! take it from the histogram) and the histogram in the V2 compressed
//! encoding, base64. Values are microseconds, so HistogramLogProcessor
//! shows milliseconds with `-outputValueUnitRatio 1000`.

use std::time::SystemTime;

use super::bench::BenchReport;
use super::export::{Document, ExportError, Exporter};
use crate::bench::shard::rfc3339;
use crate::bench::stats::{decode, TimelinePoint};

/// The version of the log format written (HdrHistogram's current one).
const FORMAT_VERSION: &str = "1.3";
/// `Interval_Max` is written in milliseconds: values are microseconds.
const MAX_UNIT_RATIO: f64 = 1000.0;

/// The interval log of a bench report (one run, or a merge of shards).
#[derive(Debug, Clone, Copy, Default)]
pub struct Hlog;

impl Exporter for Hlog {
    fn name(&self) -> &'static str {
        "interval log"
    }

    fn export(&self, doc: &Document) -> Result<String, ExportError> {
        match doc {
            Document::Bench(b) => Ok(bench_log(b)),
            _ => Err(ExportError::Unsupported {
                format: "interval log",
                document: doc.kind(),
            }),
        }
    }
}

fn bench_log(b: &BenchReport) -> String {
    let about = format!(
        "{} {}: corrected latency of {} ({}), microseconds, one interval a second; Interval_Max in milliseconds",
        b.tool.name,
        b.tool.version,
        b.stack.target,
        b.workload.name()
    );
    interval_log(
        &about,
        &b.result.timeline,
        b.result.measure_start,
        b.result.measured.as_secs_f64(),
    )
}

/// The log of a timeline whose second 0 began at `start`; `measured_s`
/// shortens the interval of a last, partial second of the window.
pub fn interval_log(
    about: &str,
    timeline: &[TimelinePoint],
    start: SystemTime,
    measured_s: f64,
) -> String {
    let start_s = start
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0);
    let mut out = String::new();
    out.push_str(&format!("#{}\n", about.replace('\n', " ")));
    out.push_str(&format!(
        "#[Histogram log format version {FORMAT_VERSION}]\n"
    ));
    out.push_str(&format!(
        "#[StartTime: {start_s:.3} (seconds since epoch), {}]\n",
        rfc3339(start)
    ));
    out.push_str(&format!(
        "#[BaseTime: {start_s:.3} (seconds since epoch)]\n"
    ));
    out.push_str("\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\"\n");
    for p in timeline {
        let Some(encoded) = &p.histogram else {
            continue;
        };
        let max = decode(encoded).map_or(0, |h| h.max());
        let second = p.second as f64;
        let rest = measured_s - second;
        let length = if rest > 0.0 && rest < 1.0 { rest } else { 1.0 };
        out.push_str(&format!(
            "{second:.3},{length:.3},{:.3},{encoded}\n",
            max as f64 / MAX_UNIT_RATIO
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::stats::{timeline_histogram, TimelinePoint};
    use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};
    use hdrhistogram::serialization::Deserializer;
    use std::time::Duration;

    /// The log reads back, through the hdrhistogram crate's own parser,
    /// into the same intervals and histograms, with the times in place.
    #[test]
    fn the_log_reads_back_with_hdrhistograms_parser() {
        let start = SystemTime::UNIX_EPOCH + Duration::from_millis(1_764_583_202_500);
        let timeline: Vec<TimelinePoint> = (0..3u64)
            .map(|second| {
                let mut h = timeline_histogram();
                for v in 1..=100 * (second + 1) {
                    h.record(v * 37).unwrap();
                }
                TimelinePoint::of(second, h.len(), 0, &h)
            })
            .collect();
        let text = interval_log("test run", &timeline, start, 2.5);
        let mut lines = text.lines();
        assert_eq!(lines.next(), Some("#test run"));
        assert_eq!(lines.next(), Some("#[Histogram log format version 1.3]"));
        assert!(text.contains(
            "#[StartTime: 1764583202.500 (seconds since epoch), 2025-12-01T10:00:02.500Z]\n"
        ));
        assert!(text.contains("\n\"StartTimestamp\",\"Interval_Length\","));

        let mut intervals = Vec::new();
        let mut start_time = None;
        let mut base_time = None;
        for entry in IntervalLogIterator::new(text.as_bytes()) {
            match entry.expect("the crate parses every line") {
                LogEntry::StartTime(t) => start_time = Some(t),
                LogEntry::BaseTime(t) => base_time = Some(t),
                LogEntry::Interval(i) => {
                    let bytes = base64::Engine::decode(
                        &base64::engine::general_purpose::STANDARD,
                        i.encoded_histogram(),
                    )
                    .unwrap();
                    let h: hdrhistogram::Histogram<u64> = Deserializer::new()
                        .deserialize(&mut bytes.as_slice())
                        .unwrap();
                    intervals.push((i.start_timestamp(), i.duration(), h));
                }
            }
        }
        let epoch = start.duration_since(SystemTime::UNIX_EPOCH).unwrap();
        assert_eq!(start_time, Some(epoch));
        assert_eq!(base_time, Some(epoch));
        assert_eq!(intervals.len(), 3);
        for (k, (at, length, h)) in intervals.iter().enumerate() {
            assert_eq!(*at, Duration::from_secs(k as u64));
            let want = decode(timeline[k].histogram.as_ref().unwrap()).unwrap();
            assert_eq!(*h, want);
            assert_eq!(h.len(), 100 * (k as u64 + 1));
            let l = if k == 2 { 500 } else { 1000 };
            assert_eq!(*length, Duration::from_millis(l));
        }
    }
}
