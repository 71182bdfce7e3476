//! Comparing two reports: bench JSON (one run, or several from `bench
//! --server a --server b`) or suite JSON. Each report becomes entries keyed
//! by stack × workload × level, each with its samples: a suite's repeats,
//! or a bench run's seconds (its timeline), since one run has no repeats.
//! Each metric's change is judged by the Mann–Whitney U test on those
//! samples, and `--fail-if` limits apply to significant changes only.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use super::mann_whitney::{min_p, u_test};
use crate::report::{BrokenLimit, CompareReport, CompareRow, Limit, MetricChange, Spread};

/// Metrics a limit may name: throughput and corrected percentiles.
pub const METRICS: [&str; 6] = ["rps", "p50", "p90", "p95", "p99", "p99.9"];

/// Why two reports cannot be compared.
#[derive(Debug, thiserror::Error)]
pub enum CompareError {
    #[error("could not read {path}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not JSON")]
    Json {
        path: String,
        #[source]
        source: serde_json::Error,
    },
    #[error(
        "{path} is neither a bench nor a suite report (write one with `bench --json` or `suite`)"
    )]
    Kind { path: String },
    #[error("bad --fail-if {text:?}: {detail}; write METRIC:+N% or METRIC:-N%, metrics {}", METRICS.join(", "))]
    Limit { text: String, detail: String },
    #[error("nothing to compare: no stack × workload × level is in both reports (before: {before}; after: {after})")]
    NothingInCommon { before: String, after: String },
}

/// One sample: throughput and latency percentiles (µs), those known.
type Sample = BTreeMap<&'static str, f64>;

/// What one report says of one stack × workload × level.
#[derive(Debug, Clone)]
struct Entry {
    stack: String,
    workload: String,
    level: String,
    /// The run's own figures (bench); `None` for a suite (median of samples).
    headline: Option<Sample>,
    samples: Vec<Sample>,
    kind: &'static str,
}

impl Entry {
    fn key(&self) -> (String, String, String) {
        (
            self.stack.clone(),
            self.workload.clone(),
            self.level.clone(),
        )
    }

    fn name(&self) -> String {
        format!("{} · {} · {}", self.stack, self.workload, self.level)
    }
}

/// Parses `p99:+10%,rps:-5%` (also given as several flags).
pub fn parse_limits(texts: &[String]) -> Result<Vec<Limit>, CompareError> {
    let mut out = Vec::new();
    for text in texts {
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let bad = |detail: &str| CompareError::Limit {
                text: part.to_string(),
                detail: detail.to_string(),
            };
            let (metric, amount) = part.split_once(':').ok_or_else(|| bad("no `:`"))?;
            let metric = metric.trim();
            if !METRICS.contains(&metric) {
                return Err(bad(&format!("unknown metric {metric:?}")));
            }
            let amount = amount.trim();
            let rise = match amount.chars().next() {
                Some('+') => true,
                Some('-') => false,
                _ => return Err(bad("the change needs a sign (+ for a rise, - for a fall)")),
            };
            let percent: f64 = amount[1..]
                .trim_end_matches('%')
                .trim()
                .parse()
                .map_err(|_| bad("not a percentage"))?;
            if !(percent.is_finite() && percent >= 0.0) {
                return Err(bad("not a percentage"));
            }
            out.push(Limit {
                metric: metric.to_string(),
                rise,
                percent,
            });
        }
    }
    Ok(out)
}

/// Reads a report file.
pub fn read(path: &Path) -> Result<Value, CompareError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| CompareError::Read {
        path: shown.clone(),
        source,
    })?;
    serde_json::from_str(&text).map_err(|source| CompareError::Json {
        path: shown,
        source,
    })
}

fn latency_sample(rps: f64, latency: &Value) -> Sample {
    let mut s = Sample::new();
    s.insert("rps", rps);
    for k in ["p50", "p90", "p95", "p99", "p99.9"] {
        if let Some(v) = latency.get(k).and_then(Value::as_f64) {
            s.insert(k, v);
        }
    }
    s
}

/// `gunicorn 23.0.0 + nginx` from a bench report's `stack`.
fn bench_stack(stack: &Value) -> String {
    let mut s = stack["gateway"].as_str().unwrap_or("?").to_string();
    if let Some(o) = stack["options"].as_object() {
        for k in ["worker_class", "workers", "threads"] {
            if let Some(v) = o.get(k).and_then(Value::as_str) {
                s.push_str(&format!(" {k}={v}"));
            }
        }
    }
    match stack["proxy"].as_str() {
        Some("none") | None => s,
        Some(p) => format!("{s} + {p}"),
    }
}

fn bench_entry(v: &Value) -> Option<Entry> {
    let plan = &v["plan"];
    let level = match plan["model"].as_str()? {
        "open" => format!("r{}", crate::report::trim_float(plan["rate"].as_f64()?)),
        _ => format!("c{}", plan["connections"].as_u64()?),
    };
    let samples = v["timeline"]
        .as_array()
        .map(|points| {
            // Whole seconds of the window: the last, partial one would
            // look like a collapse.
            let whole = v["measured_s"].as_f64().unwrap_or(f64::MAX).floor();
            points
                .iter()
                .filter(|p| p["second"].as_f64().map_or(true, |s| s < whole))
                .filter(|p| p["requests"].as_f64().unwrap_or(0.0) > 0.0)
                .map(|p| {
                    let mut s = Sample::new();
                    s.insert("rps", p["requests"].as_f64().unwrap_or(0.0));
                    s.insert("p50", p["p50_us"].as_f64().unwrap_or(0.0));
                    s.insert("p99", p["p99_us"].as_f64().unwrap_or(0.0));
                    s
                })
                .collect()
        })
        .unwrap_or_default();
    Some(Entry {
        stack: v["label"]
            .as_str()
            .map_or_else(|| bench_stack(&v["stack"]), str::to_string),
        workload: plan["workload"]["name"].as_str().unwrap_or("?").to_string(),
        level,
        headline: Some(latency_sample(
            v["requests_per_sec"].as_f64()?,
            &v["latency_us"],
        )),
        samples,
        kind: "seconds",
    })
}

/// The entries of a report, in the order they appear.
fn entries(v: &Value, path: &str) -> Result<Vec<Entry>, CompareError> {
    let kind = || CompareError::Kind {
        path: path.to_string(),
    };
    if let Some(results) = v["results"].as_array() {
        let mut out: Vec<Entry> = Vec::new();
        for r in results {
            let (Some(stack), Some(workload), Some(level), Some(rps)) = (
                r["stack"].as_str(),
                r["workload"].as_str(),
                r["level"].as_str(),
                r["requests_per_sec"].as_f64(),
            ) else {
                return Err(kind());
            };
            let sample = latency_sample(rps, &r["latency_us"]);
            match out
                .iter_mut()
                .find(|e| e.stack == stack && e.workload == workload && e.level == level)
            {
                Some(e) => e.samples.push(sample),
                None => out.push(Entry {
                    stack: stack.to_string(),
                    workload: workload.to_string(),
                    level: level.to_string(),
                    headline: None,
                    samples: vec![sample],
                    kind: "repeats",
                }),
            }
        }
        return Ok(out);
    }
    if let Some(runs) = v["runs"].as_array() {
        return runs
            .iter()
            .map(|r| bench_entry(r).ok_or_else(kind))
            .collect();
    }
    if v.get("requests_per_sec").is_some() {
        return Ok(vec![bench_entry(v).ok_or_else(kind)?]);
    }
    Err(kind())
}

fn median(samples: &[Sample], metric: &str) -> Option<f64> {
    Spread::of(samples.iter().filter_map(|s| s.get(metric).copied())).map(|s| s.median)
}

fn judge(a: &Entry, b: &Entry, alpha: f64) -> CompareRow {
    let mut metrics = Vec::new();
    for metric in METRICS {
        let figure = |e: &Entry| {
            e.headline
                .as_ref()
                .and_then(|h| h.get(metric).copied())
                .or_else(|| median(&e.samples, metric))
        };
        let (Some(before), Some(after)) = (figure(a), figure(b)) else {
            continue;
        };
        let xs: Vec<f64> = a
            .samples
            .iter()
            .filter_map(|s| s.get(metric).copied())
            .collect();
        let ys: Vec<f64> = b
            .samples
            .iter()
            .filter_map(|s| s.get(metric).copied())
            .collect();
        let test = u_test(&xs, &ys);
        let p = test.map(|t| t.p);
        let significant = p.is_some_and(|p| p <= alpha);
        let higher = median(&b.samples, metric) > median(&a.samples, metric);
        metrics.push(MetricChange {
            metric: metric.to_string(),
            before,
            after,
            change: if before != 0.0 {
                after / before - 1.0
            } else {
                0.0
            },
            p,
            significant,
            better: significant.then_some(if metric == "rps" { higher } else { !higher }),
        });
    }
    let better = metrics.iter().any(|m| m.better == Some(true));
    let worse = metrics.iter().any(|m| m.better == Some(false));
    CompareRow {
        stack: b.stack.clone(),
        workload: b.workload.clone(),
        level: b.level.clone(),
        n_before: a.samples.len(),
        n_after: b.samples.len(),
        samples: b.kind,
        metrics,
        verdict: match (better, worse) {
            (true, true) => "mixed",
            (false, true) => "slower",
            (true, false) => "faster",
            (false, false) => "no significant difference",
        },
    }
}

/// Compares `before` with `after` (the parsed reports, and their names).
pub fn compare(
    (before_name, before): (&str, &Value),
    (after_name, after): (&str, &Value),
    alpha: f64,
    limits: Vec<Limit>,
) -> Result<CompareReport, CompareError> {
    let a = entries(before, before_name)?;
    let b = entries(after, after_name)?;
    let mut notes = Vec::new();
    let mut pairs: Vec<(&Entry, &Entry)> = Vec::new();
    if let ([x], [y]) = (a.as_slice(), b.as_slice()) {
        // One run against one run: the same thing measured twice, whatever
        // its label now says (a new server version, say).
        if x.key() != y.key() {
            notes.push(format!(
                "Compared the only entry of each report: {} against {}.",
                x.name(),
                y.name()
            ));
        }
        pairs.push((x, y));
    } else {
        for y in &b {
            if let Some(x) = a.iter().find(|x| x.key() == y.key()) {
                pairs.push((x, y));
            }
        }
    }
    let names = |list: &[Entry]| list.iter().map(Entry::name).collect::<Vec<_>>();
    if pairs.is_empty() {
        return Err(CompareError::NothingInCommon {
            before: names(&a).join("; "),
            after: names(&b).join("; "),
        });
    }
    let paired_a: Vec<String> = pairs.iter().map(|(x, _)| x.name()).collect();
    let paired_b: Vec<String> = pairs.iter().map(|(_, y)| y.name()).collect();
    let only_before = names(&a)
        .into_iter()
        .filter(|n| !paired_a.contains(n))
        .collect();
    let only_after = names(&b)
        .into_iter()
        .filter(|n| !paired_b.contains(n))
        .collect();

    let rows: Vec<CompareRow> = pairs.iter().map(|(x, y)| judge(x, y, alpha)).collect();
    let mut broken = Vec::new();
    for row in &rows {
        for limit in &limits {
            let Some(m) = row.metric(&limit.metric) else {
                continue;
            };
            let beyond = if limit.rise {
                m.change * 100.0 > limit.percent
            } else {
                m.change * 100.0 < -limit.percent
            };
            if m.significant && beyond {
                broken.push(BrokenLimit {
                    stack: row.stack.clone(),
                    workload: row.workload.clone(),
                    level: row.level.clone(),
                    limit: limit.to_string(),
                    change: m.change,
                    p: m.p,
                });
            }
        }
    }

    notes.push(format!(
        "Each change is judged by the Mann–Whitney U test (two-sided, α = {alpha}) on per-repeat figures (a bench report has no repeats: its per-second figures stand in, which only p50, p99 and req/s have); only a significant change can break a --fail-if limit."
    ));
    let mut sizes: Vec<(usize, usize)> = rows.iter().map(|r| (r.n_before, r.n_after)).collect();
    sizes.sort_unstable();
    sizes.dedup();
    for (m, n) in sizes {
        let best = min_p(m, n);
        if best > alpha {
            notes.push(format!(
                "With {m} against {n} samples the smallest p the test can give is {best:.2}, above α: no change there can be called significant. Run more repeats (5 a side reach p = 0.008)."
            ));
        } else if m <= 3 || n <= 3 {
            notes.push(format!(
                "With {m} against {n} samples the test has little power: a change is significant only when every repeat of one run beats every repeat of the other (p = {best:.2})."
            ));
        }
    }
    Ok(CompareReport {
        before: before_name.to_string(),
        after: after_name.to_string(),
        alpha,
        rows,
        only_before,
        only_after,
        limits,
        broken,
        notes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_parse_and_explain_mistakes() {
        let l = parse_limits(&["p99:+10%, rps:-5%".into(), "p99.9:+20".into()]).unwrap();
        assert_eq!(l.len(), 3);
        assert_eq!(l[0].to_string(), "p99:+10%");
        assert!(!l[1].rise && l[1].percent == 5.0);
        for bad in ["p99:10%", "p98:+1%", "p99", "rps:-x%"] {
            let e = parse_limits(&[bad.into()]).unwrap_err().to_string();
            assert!(e.contains(bad), "{e}");
        }
    }
}
