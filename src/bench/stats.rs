//! What a load run measures: latency histograms (one set per worker thread,
//! merged at the end), errors by kind, connection counts and the per-second
//! timeline. Memory does not grow with the number of requests.

use std::time::Duration;

use base64::Engine as _;
use hdrhistogram::serialization::{Deserializer, Serializer, V2DeflateSerializer};
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

/// Lowest recordable latency: 1 µs.
pub const LOWEST_US: u64 = 1;
/// Highest recordable latency: one hour (larger values are clamped to it).
pub const HIGHEST_US: u64 = 3_600_000_000;
/// Significant decimal digits kept: values are exact to 0.1%.
pub const SIGFIG: u8 = 3;
/// The per-second timeline only needs p50 and p99 to 1%.
const TIMELINE_SIGFIG: u8 = 2;

/// A latency histogram in microseconds, 1 µs to 1 hour, 3 significant digits.
pub fn latency_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(LOWEST_US, HIGHEST_US, SIGFIG).expect("valid histogram bounds")
}

/// A histogram of the per-second timeline: 2 significant digits.
pub fn timeline_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(LOWEST_US, HIGHEST_US, TIMELINE_SIGFIG)
        .expect("valid histogram bounds")
}

/// Microseconds of a duration, clamped into the histogram's range.
pub fn micros(d: Duration) -> u64 {
    (d.as_micros().min(u128::from(HIGHEST_US)) as u64).max(LOWEST_US)
}

/// Merges `from` into `into`; both come from [`latency_histogram`], so the
/// merge cannot fail on range, and values above range were clamped on entry.
pub fn merge(into: &mut Histogram<u64>, from: &Histogram<u64>) {
    into.add(from).expect("histograms share one range");
}

/// The percentiles every report shows, in microseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Percentiles {
    pub p50: u64,
    pub p90: u64,
    pub p95: u64,
    pub p99: u64,
    #[serde(rename = "p99.9")]
    pub p99_9: u64,
    pub max: u64,
    pub min: u64,
    pub mean: f64,
    /// Standard deviation.
    pub stdev: f64,
    pub count: u64,
}

impl Percentiles {
    pub fn of(h: &Histogram<u64>) -> Percentiles {
        if h.is_empty() {
            return Percentiles::default();
        }
        Percentiles {
            p50: h.value_at_quantile(0.50),
            p90: h.value_at_quantile(0.90),
            p95: h.value_at_quantile(0.95),
            p99: h.value_at_quantile(0.99),
            p99_9: h.value_at_quantile(0.999),
            max: h.max(),
            min: h.min(),
            mean: h.mean(),
            stdev: h.stdev(),
            count: h.len(),
        }
    }
}

/// One point of the percentile spectrum: the latency at or below which
/// `percentile` percent of requests completed.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SpectrumPoint {
    pub percentile: f64,
    pub latency_us: u64,
    pub count: u64,
}

/// Latency at fixed percentiles from 0 to 100, halving the distance to 100
/// at each step as far as the data allows (the classic HdrHistogram output).
pub fn spectrum(h: &Histogram<u64>) -> Vec<SpectrumPoint> {
    const LEVELS: [f64; 14] = [
        0.0, 25.0, 50.0, 75.0, 90.0, 95.0, 99.0, 99.5, 99.9, 99.95, 99.99, 99.995, 99.999, 100.0,
    ];
    if h.is_empty() {
        return Vec::new();
    }
    let total = h.len() as f64;
    LEVELS
        .iter()
        // A level only means something if enough requests lie above it.
        .filter(|&&p| p == 100.0 || (100.0 - p) / 100.0 * total + 1e-9 >= 1.0)
        .map(|&p| {
            let v = h.value_at_quantile(p / 100.0);
            SpectrumPoint {
                percentile: p,
                latency_us: v,
                count: h.count_between(0, v),
            }
        })
        .collect()
}

/// The histogram in HdrHistogram's V2 compressed format, base64: any HDR
/// tool (or another wsgiprobe report) can decode and merge it losslessly.
pub fn encode(h: &Histogram<u64>) -> String {
    let mut bytes = Vec::new();
    V2DeflateSerializer::new()
        .serialize(h, &mut bytes)
        .expect("serializing into memory cannot fail");
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Reads back what [`encode`] wrote.
pub fn decode(text: &str) -> Option<Histogram<u64>> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text)
        .ok()?;
    Deserializer::new().deserialize(&mut bytes.as_slice()).ok()
}

/// Ways a request can fail; each is counted separately.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The connection could not be opened.
    Connect,
    /// No complete response within `--timeout` (recorded at the timeout value).
    Timeout,
    /// The response status was not 2xx.
    Status,
    /// The body had the wrong length or the wrong bytes.
    Body,
    /// The server closed or reset the connection mid-response.
    Closed,
    /// The response was not valid HTTP/1.x.
    Parse,
    /// Some other socket error.
    Io,
    /// Still waiting for a free connection when the run ended.
    Unsent,
}

impl ErrorKind {
    pub const ALL: [ErrorKind; 8] = [
        ErrorKind::Connect,
        ErrorKind::Timeout,
        ErrorKind::Status,
        ErrorKind::Body,
        ErrorKind::Closed,
        ErrorKind::Parse,
        ErrorKind::Io,
        ErrorKind::Unsent,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Connect => "connect",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Status => "status",
            ErrorKind::Body => "body",
            ErrorKind::Closed => "closed",
            ErrorKind::Parse => "parse",
            ErrorKind::Io => "io",
            ErrorKind::Unsent => "unsent",
        }
    }
}

/// Error counts by kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Errors([u64; 8]);

impl Errors {
    pub fn add(&mut self, kind: ErrorKind) {
        self.add_n(kind, 1);
    }
    pub fn add_n(&mut self, kind: ErrorKind, n: u64) {
        self.0[kind as usize] += n;
    }
    pub fn get(&self, kind: ErrorKind) -> u64 {
        self.0[kind as usize]
    }
    pub fn total(&self) -> u64 {
        self.0.iter().sum()
    }
    pub fn merge(&mut self, other: &Errors) {
        for (a, b) in self.0.iter_mut().zip(other.0) {
            *a += b;
        }
    }
    /// Kinds with a non-zero count.
    pub fn nonzero(&self) -> impl Iterator<Item = (ErrorKind, u64)> + '_ {
        ErrorKind::ALL
            .into_iter()
            .map(|k| (k, self.get(k)))
            .filter(|(_, n)| *n > 0)
    }
}

/// What happened to connections.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Connections {
    /// Connections opened successfully.
    pub opened: u64,
    /// Closed by the server (`Connection: close`, or end of stream between responses).
    pub closed_by_server: u64,
    /// Requests sent again on a fresh connection because the server had
    /// closed a kept-alive one before answering (as any HTTP client does).
    pub retried_after_close: u64,
    /// Closed here after a timeout or an error.
    pub closed_by_client: u64,
}

impl Connections {
    pub fn merge(&mut self, o: &Connections) {
        self.opened += o.opened;
        self.closed_by_server += o.closed_by_server;
        self.retried_after_close += o.retried_after_close;
        self.closed_by_client += o.closed_by_client;
    }
}

/// One second of one worker, sent to the collector as the second ends.
#[derive(Debug)]
pub struct SecondSnapshot {
    pub worker: usize,
    /// Seconds since measurement began.
    pub second: u64,
    pub requests: u64,
    pub errors: u64,
    pub latency: Histogram<u64>,
}

/// One second of the whole run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimelinePoint {
    /// Seconds since the measured window began.
    pub second: u64,
    pub requests: u64,
    pub errors: u64,
    pub p50_us: u64,
    pub p99_us: u64,
    /// The (corrected) latency of the requests that ended in this second,
    /// encoded as [`encode`] does, at the timeline's precision (2
    /// significant digits): what shards' timelines merge with and what an
    /// interval log (`--hlog`) holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub histogram: Option<String>,
}

impl TimelinePoint {
    /// The point of `second` from the latency of its requests.
    pub fn of(second: u64, requests: u64, errors: u64, h: &Histogram<u64>) -> TimelinePoint {
        let at = |q| {
            if h.is_empty() {
                0
            } else {
                h.value_at_quantile(q)
            }
        };
        TimelinePoint {
            second,
            requests,
            errors,
            p50_us: at(0.5),
            p99_us: at(0.99),
            histogram: Some(encode(h)),
        }
    }
}

/// Merges per-worker seconds into timeline points. Each second is held only
/// until every worker has reported it, so memory stays bounded however long
/// the run.
#[derive(Debug)]
pub struct TimelineCollector {
    workers: usize,
    open: std::collections::BTreeMap<u64, (usize, u64, u64, Histogram<u64>)>,
    pub points: Vec<TimelinePoint>,
}

impl TimelineCollector {
    pub fn new(workers: usize) -> Self {
        TimelineCollector {
            workers,
            open: Default::default(),
            points: Vec::new(),
        }
    }

    /// Adds a snapshot; returns the point for its second once it is complete.
    pub fn add(&mut self, s: SecondSnapshot) -> Option<TimelinePoint> {
        let entry = self
            .open
            .entry(s.second)
            .or_insert_with(|| (0, 0, 0, timeline_histogram()));
        entry.0 += 1;
        entry.1 += s.requests;
        entry.2 += s.errors;
        merge(&mut entry.3, &s.latency);
        if entry.0 < self.workers {
            return None;
        }
        let (_, requests, errors, h) = self.open.remove(&s.second)?;
        let point = TimelinePoint::of(s.second, requests, errors, &h);
        self.points.push(point.clone());
        Some(point)
    }

    /// Closes the seconds some worker never reached (it ended early) and
    /// returns the timeline in order.
    pub fn finish(mut self) -> Vec<TimelinePoint> {
        for (second, (_, requests, errors, h)) in std::mem::take(&mut self.open) {
            self.points
                .push(TimelinePoint::of(second, requests, errors, &h));
        }
        self.points.sort_by_key(|p| p.second);
        self.points
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_of_a_uniform_distribution() {
        let mut h = latency_histogram();
        for v in 1..=10_000u64 {
            h.record(v).unwrap();
        }
        let p = Percentiles::of(&h);
        // 3 significant digits: within 0.1% of the exact rank value.
        let close = |got: u64, want: u64| (got as f64 - want as f64).abs() <= want as f64 * 0.001;
        assert!(close(p.p50, 5_000), "{p:?}");
        assert!(close(p.p90, 9_000), "{p:?}");
        assert!(close(p.p99, 9_900), "{p:?}");
        assert!(close(p.p99_9, 9_990), "{p:?}");
        assert!(close(p.max, 10_000), "{p:?}");
        assert_eq!(p.count, 10_000);
    }

    #[test]
    fn merged_histograms_equal_one_histogram_of_everything() {
        let mut all = latency_histogram();
        let mut parts = [
            latency_histogram(),
            latency_histogram(),
            latency_histogram(),
        ];
        for v in 0..30_000u64 {
            let value = 1 + v * v % 1_000_003;
            all.record(value).unwrap();
            parts[(v % 3) as usize].record(value).unwrap();
        }
        let mut merged = latency_histogram();
        for p in &parts {
            merge(&mut merged, p);
        }
        assert_eq!(Percentiles::of(&merged), Percentiles::of(&all));
        assert_eq!(merged, all);
    }

    #[test]
    fn an_hour_fits_and_longer_is_clamped() {
        let mut h = latency_histogram();
        h.record(micros(Duration::from_secs(3600))).unwrap();
        h.record(micros(Duration::from_secs(7200))).unwrap();
        h.record(micros(Duration::from_nanos(10))).unwrap();
        assert!(h.max() >= 3_600_000_000 * 999 / 1000);
        assert_eq!(h.min(), 1);
    }

    #[test]
    fn encoding_round_trips() {
        let mut h = latency_histogram();
        for v in [1u64, 10, 100, 1000, 1_000_000, 3_000_000_000] {
            h.record_n(v, v % 7 + 1).unwrap();
        }
        let back = decode(&encode(&h)).unwrap();
        assert_eq!(back, h);
    }

    #[test]
    fn spectrum_is_monotonic_and_ends_at_max() {
        let mut h = latency_histogram();
        for v in 1..=1000u64 {
            h.record(v * 10).unwrap();
        }
        let s = spectrum(&h);
        assert!(s.windows(2).all(|w| w[0].latency_us <= w[1].latency_us));
        assert_eq!(s.last().unwrap().latency_us, h.max());
        // 1000 values: 99.9 is meaningful, 99.95 is not.
        assert!(s.iter().any(|p| p.percentile == 99.9));
        assert!(!s.iter().any(|p| p.percentile == 99.95));
    }

    #[test]
    fn timeline_waits_for_every_worker() {
        let mut c = TimelineCollector::new(2);
        let snap = |worker, second, requests| {
            let mut latency = timeline_histogram();
            latency.record(100).unwrap();
            SecondSnapshot {
                worker,
                second,
                requests,
                errors: 1,
                latency,
            }
        };
        assert!(c.add(snap(0, 0, 5)).is_none());
        let p = c.add(snap(1, 0, 7)).unwrap();
        assert_eq!((p.requests, p.errors), (12, 2));
        assert!(c.add(snap(0, 1, 3)).is_none());
        let points = c.finish();
        assert_eq!(points.len(), 2);
        assert_eq!(points[1].requests, 3);
    }
}
