//! The sustainable rate: the highest open-loop rate at which a stack holds
//! a latency SLO (corrected percentiles), fails no more requests than
//! allowed, and achieves the rate it is offered.
//!
//! Bracket, then bisect. From the start rate the search doubles while the
//! SLO holds, or halves while it breaks, until one rate holds and one twice
//! as high does not; then it probes the middle of the bracket until the
//! bracket is narrower than the precision asked for (5%: five probes from a
//! 2× bracket). Each probe is a short open-loop run; every probe is kept.

use crate::bench::stats::Percentiles;
use crate::report::{ProbeResult, Slo, SustainableResult};

use super::file::SustainableSpec;

/// Below this rate the search gives up: nothing sustainable.
const FLOOR: f64 = 0.5;

/// What one probe measured.
#[derive(Debug, Clone, Copy)]
pub struct ProbeFigures {
    pub requests_per_sec: f64,
    pub latency: Percentiles,
    pub errors: u64,
    pub generator_bottleneck: bool,
}

/// The value of a percentile named as in an SLO (`p99.9`).
pub fn percentile(p: &Percentiles, name: &str) -> Option<u64> {
    Some(match name {
        "p50" => p.p50,
        "p90" => p.p90,
        "p95" => p.p95,
        "p99" => p.p99,
        "p99.9" => p.p99_9,
        "max" => p.max,
        _ => return None,
    })
}

/// What broke the SLO at `rate` (empty when it held).
pub fn broken(slo: &Slo, rate: f64, f: &ProbeFigures) -> Vec<String> {
    let mut out = Vec::new();
    for (name, &limit) in &slo.latency_us {
        let v = percentile(&f.latency, name).unwrap_or(u64::MAX);
        if v > limit {
            out.push(format!("{name} {v} µs > {limit} µs"));
        }
    }
    if f.errors > slo.errors {
        out.push(format!("{} errors > {}", f.errors, slo.errors));
    }
    if f.requests_per_sec < rate * slo.min_throughput {
        out.push(format!(
            "achieved {:.1} req/s < {:.0}% of {rate:.1}",
            f.requests_per_sec,
            slo.min_throughput * 100.0
        ));
    }
    out
}

/// Searches from `start`; `probe(rate)` runs one short open-loop run (an
/// `Err` ends the search with that note: the stack died, say).
pub fn search(
    stack: &str,
    workload: &str,
    spec: &SustainableSpec,
    start: f64,
    probe: &mut dyn FnMut(f64) -> Result<ProbeFigures, String>,
) -> SustainableResult {
    let mut out = SustainableResult {
        stack: stack.to_string(),
        workload: workload.to_string(),
        rate: None,
        slo: spec.slo.clone(),
        bracket: None,
        converged: false,
        probes_after_bracket: 0,
        probes: Vec::new(),
        note: None,
    };
    let (mut lo, mut hi): (Option<f64>, Option<f64>) = (None, None);
    let mut rate = start.max(FLOOR);
    let mut bracketed_at = None;
    let mut run = 0;
    loop {
        if let (Some(l), Some(h)) = (lo, hi) {
            bracketed_at.get_or_insert(run);
            if h / l - 1.0 <= spec.precision {
                out.converged = true;
                break;
            }
            rate = (l + h) / 2.0;
        }
        if run >= spec.max_probes as usize {
            out.note = Some(format!(
                "stopped after {} probes (max_probes) before the bracket was within {:.0}%",
                spec.max_probes,
                spec.precision * 100.0
            ));
            break;
        }
        let figures = match probe(rate) {
            Ok(f) => f,
            Err(e) => {
                out.note = Some(e);
                break;
            }
        };
        run += 1;
        let why = broken(&spec.slo, rate, &figures);
        let holds = why.is_empty();
        out.probes.push(ProbeResult {
            phase: if bracketed_at.is_some() {
                "bisect"
            } else {
                "bracket"
            },
            rate,
            requests_per_sec: figures.requests_per_sec,
            latency_us: figures.latency,
            errors: figures.errors,
            holds,
            broken: why,
            generator_bottleneck: figures.generator_bottleneck,
        });
        if holds {
            lo = Some(lo.map_or(rate, |l: f64| l.max(rate)));
            if hi.is_none() {
                rate *= 2.0;
            }
        } else {
            hi = Some(hi.map_or(rate, |h: f64| h.min(rate)));
            if lo.is_none() {
                rate /= 2.0;
                if rate < FLOOR {
                    out.note = Some(format!("the SLO broke even at {:.2} req/s", rate * 2.0));
                    break;
                }
            }
        }
    }
    out.rate = lo;
    out.bracket = lo.zip(hi);
    out.probes_after_bracket = bracketed_at.map_or(0, |at| run - at);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use std::time::Duration;

    fn spec() -> SustainableSpec {
        SustainableSpec {
            slo: Slo {
                latency_us: BTreeMap::from([("p99".to_string(), 100_000)]),
                errors: 0,
                min_throughput: 0.97,
            },
            start: None,
            probe: Duration::from_secs(1),
            probe_warmup: Duration::ZERO,
            max_probes: 20,
            precision: 0.05,
            connections: 64,
        }
    }

    /// A stack that serves up to `capacity` req/s at 10 ms and falls apart above.
    fn stack(capacity: f64) -> impl FnMut(f64) -> Result<ProbeFigures, String> {
        move |rate| {
            let over = rate > capacity;
            Ok(ProbeFigures {
                requests_per_sec: rate.min(capacity),
                latency: Percentiles {
                    p99: if over { 900_000 } else { 10_000 },
                    ..Percentiles::default()
                },
                errors: 0,
                generator_bottleneck: false,
            })
        }
    }

    #[test]
    fn lands_within_the_precision_below_capacity() {
        for (capacity, start) in [(100.0, 100.0), (95.0, 60.0), (380.0, 90.0), (50.0, 1000.0)] {
            let r = search("s", "w", &spec(), start, &mut stack(capacity));
            let rate = r.rate.unwrap();
            assert!(
                rate <= capacity && rate >= capacity * 0.95,
                "capacity {capacity} from {start}: {r:?}"
            );
            assert!(r.converged, "{r:?}");
            let (lo, hi) = r.bracket.unwrap();
            assert!(lo <= capacity && hi > capacity, "{r:?}");
            // From a 2× bracket, 5% takes five probes.
            assert!(r.probes_after_bracket <= 5, "{r:?}");
            assert!(r.probes.iter().any(|p| !p.holds));
        }
    }

    #[test]
    fn a_start_within_twice_capacity_converges_within_eight_probes() {
        for start in [60.0, 80.0, 100.0, 150.0, 199.0] {
            let r = search("s", "w", &spec(), start, &mut stack(100.0));
            assert!(
                r.probes.len() <= 8,
                "from {start}: {} probes",
                r.probes.len()
            );
        }
    }

    #[test]
    fn errors_and_throughput_break_the_slo_too() {
        let slo = spec().slo;
        let ok = ProbeFigures {
            requests_per_sec: 100.0,
            latency: Percentiles::default(),
            errors: 0,
            generator_bottleneck: false,
        };
        assert!(broken(&slo, 100.0, &ok).is_empty());
        assert_eq!(
            broken(&slo, 100.0, &ProbeFigures { errors: 1, ..ok }).len(),
            1
        );
        assert_eq!(broken(&slo, 110.0, &ok).len(), 1, "achieved 100 of 110");
    }

    #[test]
    fn a_probe_that_fails_ends_the_search_with_its_reason() {
        let mut n = 0;
        let r = search("s", "w", &spec(), 100.0, &mut |rate| {
            n += 1;
            if n > 2 {
                return Err("the server exited".into());
            }
            stack(1000.0)(rate)
        });
        assert_eq!(r.probes.len(), 2);
        assert_eq!(r.rate, Some(200.0));
        assert!(!r.converged && r.note.as_deref() == Some("the server exited"));
        let never = search("s", "w", &spec(), 10.0, &mut stack(0.1));
        assert!(never.rate.is_none() && never.note.is_some(), "{never:?}");
    }
}
