//! Load thresholds, k6 style: `p99<50ms`, `p99.9<200ms`, `rps>=1000`,
//! `errors==0`, `errors<1%`. A threshold is a metric, a comparison and a
//! limit; it holds or breaks against the figures of one run.
//!
//! `bench --fail-if EXPR` takes them on the command line; a suite file can
//! carry them per workload as strings, since [`Threshold`] deserializes
//! from one:
//!
//! ```toml
//! [[workload]]
//! name = "hello"
//! thresholds = ["p99<50ms", "rps>=1000", "errors==0"]
//! ```
//!
//! Metrics: `pN` / `p(N)` (any percentile, `p50`, `p99.9`), `med`, `min`,
//! `max`, `mean` / `avg` (latency: a unit is required, `us`, `ms` or `s`);
//! `rps` (requests per second achieved); `errors` (a count, or with `%` a
//! share of the measured requests). Comparisons: `<`, `<=`, `>`, `>=`, `==`.
//! Latency is the corrected figure (from each request's due time in the
//! open model), as in the report's `latency_us`.

use std::fmt;
use std::str::FromStr;

use hdrhistogram::Histogram;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// What a threshold measures.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Metric {
    /// A latency percentile, 0 < p <= 100.
    Percentile(f64),
    Min,
    Max,
    Mean,
    /// Requests per second achieved in the measured window.
    Rps,
    /// Failed requests, counted.
    Errors,
    /// Failed requests as a share of the measured ones (0..1).
    ErrorRate,
}

impl Metric {
    /// Whether the metric is a latency (in microseconds).
    pub fn is_latency(self) -> bool {
        matches!(
            self,
            Metric::Percentile(_) | Metric::Min | Metric::Max | Metric::Mean
        )
    }

    /// The metric's name as the report shows it: `p99.9`, `rps`.
    pub fn name(self) -> String {
        match self {
            Metric::Percentile(p) => format!("p{p}"),
            Metric::Min => "min".into(),
            Metric::Max => "max".into(),
            Metric::Mean => "mean".into(),
            Metric::Rps => "rps".into(),
            Metric::Errors => "errors".into(),
            Metric::ErrorRate => "error rate".into(),
        }
    }
}

/// A comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
}

impl Op {
    fn holds(self, measured: f64, limit: f64) -> bool {
        match self {
            Op::Lt => measured < limit,
            Op::Le => measured <= limit,
            Op::Gt => measured > limit,
            Op::Ge => measured >= limit,
            Op::Eq => measured == limit,
        }
    }
}

/// One threshold, as written and as understood.
#[derive(Debug, Clone, PartialEq)]
pub struct Threshold {
    /// The expression as given (`p99<50ms`).
    pub text: String,
    pub metric: Metric,
    pub op: Op,
    /// In the metric's own unit: microseconds for latency, requests per
    /// second, a count of errors, or a share (0..1) for the error rate.
    pub limit: f64,
}

/// A threshold that cannot be understood, with what to write instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ThresholdError {
    #[error("{0:?}: no comparison; write METRIC OP VALUE, such as p99<50ms, rps>=1000, errors==0")]
    NoOp(String),
    #[error(
        "{text:?}: unknown metric {metric:?}; use pN (p50, p99.9), min, max, mean, rps or errors"
    )]
    Metric { text: String, metric: String },
    #[error("{0:?}: a percentile must be above 0 and at most 100")]
    Percentile(String),
    #[error("{text:?}: {value:?} is not a number")]
    Number { text: String, value: String },
    #[error("{text:?}: latency needs a unit: {value}ms, {value}s or {value}us")]
    NoUnit { text: String, value: String },
    #[error("{text:?}: unknown unit {unit:?} (latency: us, ms, s; errors: a count or N%; rps: a number)")]
    Unit { text: String, unit: String },
}

impl FromStr for Threshold {
    type Err = ThresholdError;

    fn from_str(text: &str) -> Result<Threshold, ThresholdError> {
        let s: String = text.chars().filter(|c| !c.is_whitespace()).collect();
        let (at, op, len) = ["<=", ">=", "==", "<", ">"]
            .iter()
            .filter_map(|o| s.find(o).map(|i| (i, *o)))
            .min_by_key(|(i, o)| (*i, std::cmp::Reverse(o.len())))
            .map(|(i, o)| {
                let op = match o {
                    "<=" => Op::Le,
                    ">=" => Op::Ge,
                    "==" => Op::Eq,
                    "<" => Op::Lt,
                    _ => Op::Gt,
                };
                (i, op, o.len())
            })
            .ok_or_else(|| ThresholdError::NoOp(text.to_string()))?;
        let name = s[..at].to_ascii_lowercase();
        let value = &s[at + len..];
        let metric = parse_metric(text, &name)?;
        let split = value
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(value.len());
        let (number, unit) = value.split_at(split);
        let n: f64 = number
            .parse()
            .ok()
            .filter(|n: &f64| n.is_finite())
            .ok_or_else(|| ThresholdError::Number {
                text: text.to_string(),
                value: value.to_string(),
            })?;
        let unit_error = || ThresholdError::Unit {
            text: text.to_string(),
            unit: unit.to_string(),
        };
        let (metric, limit) = if metric.is_latency() {
            let scale = match unit {
                "us" | "µs" => 1.0,
                "ms" => 1e3,
                "s" => 1e6,
                "" => {
                    return Err(ThresholdError::NoUnit {
                        text: text.to_string(),
                        value: number.to_string(),
                    })
                }
                _ => return Err(unit_error()),
            };
            (metric, n * scale)
        } else {
            match (metric, unit) {
                (Metric::Errors, "%") => (Metric::ErrorRate, n / 100.0),
                (_, "") => (metric, n),
                _ => return Err(unit_error()),
            }
        };
        Ok(Threshold {
            text: text.trim().to_string(),
            metric,
            op,
            limit,
        })
    }
}

fn parse_metric(text: &str, name: &str) -> Result<Metric, ThresholdError> {
    let pct = name
        .strip_prefix("p(")
        .and_then(|r| r.strip_suffix(')'))
        .or_else(|| name.strip_prefix('p').filter(|r| !r.is_empty()));
    if let Some(p) = pct {
        if let Ok(p) = p.parse::<f64>() {
            if p > 0.0 && p <= 100.0 {
                return Ok(Metric::Percentile(p));
            }
            return Err(ThresholdError::Percentile(text.to_string()));
        }
    }
    Ok(match name {
        "med" | "median" => Metric::Percentile(50.0),
        "min" => Metric::Min,
        "max" => Metric::Max,
        "mean" | "avg" => Metric::Mean,
        "rps" => Metric::Rps,
        "errors" => Metric::Errors,
        _ => {
            return Err(ThresholdError::Metric {
                text: text.to_string(),
                metric: name.to_string(),
            })
        }
    })
}

impl fmt::Display for Threshold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for Threshold {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl Serialize for Threshold {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

/// The figures of one run that thresholds read.
#[derive(Debug, Clone, Copy)]
pub struct Figures<'a> {
    /// Latency in microseconds (corrected in the open model).
    pub latency_us: &'a Histogram<u64>,
    pub requests_per_sec: f64,
    /// Requests measured (answered or failed).
    pub requests: u64,
    pub errors: u64,
}

impl Figures<'_> {
    /// The metric's value; `None` for latency when nothing was measured.
    pub fn value(&self, metric: Metric) -> Option<f64> {
        let h = self.latency_us;
        if metric.is_latency() && h.is_empty() {
            return None;
        }
        Some(match metric {
            Metric::Percentile(p) => h.value_at_quantile(p / 100.0) as f64,
            Metric::Min => h.min() as f64,
            Metric::Max => h.max() as f64,
            Metric::Mean => h.mean(),
            Metric::Rps => self.requests_per_sec,
            Metric::Errors => self.errors as f64,
            Metric::ErrorRate if self.requests == 0 => return None,
            Metric::ErrorRate => self.errors as f64 / self.requests as f64,
        })
    }
}

/// A threshold against a run.
#[derive(Debug, Clone, PartialEq)]
pub struct Checked {
    pub threshold: Threshold,
    /// What the run measured, in the metric's unit (`None`: nothing was
    /// measured, and the threshold counts as broken).
    pub measured: Option<f64>,
    pub held: bool,
}

impl Serialize for Checked {
    /// `{"expr", "metric", "limit", "measured", "unit", "held"}`, limit and
    /// measured in `unit` (`us`, `req/s`, `errors` or `share`).
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let m = self.threshold.metric;
        let unit = match m {
            _ if m.is_latency() => "us",
            Metric::Rps => "req/s",
            Metric::Errors => "errors",
            _ => "share",
        };
        let mut map = s.serialize_map(Some(6))?;
        map.serialize_entry("expr", &self.threshold.text)?;
        map.serialize_entry("metric", &m.name())?;
        map.serialize_entry("limit", &self.threshold.limit)?;
        map.serialize_entry("measured", &self.measured)?;
        map.serialize_entry("unit", unit)?;
        map.serialize_entry("held", &self.held)?;
        map.end()
    }
}

/// Checks every threshold against the figures, in order.
pub fn check_all(thresholds: &[Threshold], figures: &Figures) -> Vec<Checked> {
    thresholds
        .iter()
        .map(|t| {
            let measured = figures.value(t.metric);
            Checked {
                threshold: t.clone(),
                measured,
                held: measured.is_some_and(|v| t.op.holds(v, t.limit)),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Threshold {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn parses_the_k6_forms() {
        assert_eq!(t("p99<50ms").metric, Metric::Percentile(99.0));
        assert_eq!(t("p99<50ms").limit, 50_000.0);
        assert_eq!(t("p99.9 < 200ms").metric, Metric::Percentile(99.9));
        assert_eq!(t("p(95)<=0.2s").limit, 200_000.0);
        assert_eq!(t("p(95)<=0.2s").op, Op::Le);
        assert_eq!(t("max<1s").metric, Metric::Max);
        assert_eq!(t("mean<800us").limit, 800.0);
        assert_eq!(t("avg<800µs").metric, Metric::Mean);
        assert_eq!(t("med<1ms").metric, Metric::Percentile(50.0));
        assert_eq!(
            (t("rps>=1000").metric, t("rps>=1000").op),
            (Metric::Rps, Op::Ge)
        );
        assert_eq!(
            (t("errors==0").metric, t("errors==0").op),
            (Metric::Errors, Op::Eq)
        );
        let rate = t("errors<0.5%");
        assert_eq!((rate.metric, rate.limit), (Metric::ErrorRate, 0.005));
        assert_eq!(t("rps>10").op, Op::Gt);
        assert_eq!(t(" p99 < 50ms ").text, "p99 < 50ms");
    }

    #[test]
    fn mistakes_say_what_to_write() {
        for (bad, hint) in [
            ("p99 50ms", "no comparison"),
            ("p99<50", "needs a unit"),
            ("p99<50m", "unknown unit"),
            ("latency<5ms", "unknown metric"),
            ("p0<5ms", "above 0"),
            ("p101<5ms", "above 0"),
            ("rps>=fast", "not a number"),
            ("rps>=10ms", "unknown unit"),
        ] {
            let e = bad.parse::<Threshold>().unwrap_err().to_string();
            assert!(e.contains(hint), "{bad}: {e}");
        }
    }

    #[test]
    fn holds_and_breaks_against_figures() {
        let mut h = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).unwrap();
        for v in 1..=1000u64 {
            h.record(v * 100).unwrap(); // 0.1 ms .. 100 ms
        }
        let f = Figures {
            latency_us: &h,
            requests_per_sec: 2500.0,
            requests: 1000,
            errors: 3,
        };
        let checked = check_all(
            &[
                t("p50<60ms"),
                t("p99<50ms"),
                t("max<=100ms"),
                t("rps>=3000"),
                t("errors==0"),
                t("errors<1%"),
            ],
            &f,
        );
        let held: Vec<bool> = checked.iter().map(|c| c.held).collect();
        assert_eq!(held, [true, false, false, false, false, true]);
        assert_eq!(checked[1].measured, Some(99_007.0));
        assert_eq!(checked[5].measured, Some(0.003));

        let empty = Histogram::<u64>::new(3).unwrap();
        let none = Figures {
            latency_us: &empty,
            requests_per_sec: 0.0,
            requests: 0,
            errors: 0,
        };
        let c = &check_all(&[t("p99<1s")], &none)[0];
        assert!(
            !c.held && c.measured.is_none(),
            "nothing measured breaks it"
        );
    }

    #[test]
    fn suite_files_carry_thresholds_as_strings() {
        #[derive(Deserialize)]
        struct Workload {
            thresholds: Vec<Threshold>,
        }
        let w: Workload = toml::from_str("thresholds = [\"p99<50ms\", \"rps>=1000\"]").unwrap();
        assert_eq!(w.thresholds[1].metric, Metric::Rps);
        let e = toml::from_str::<Workload>("thresholds = [\"p99<50\"]")
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("needs a unit"), "{e}");
    }
}
