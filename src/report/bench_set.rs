//! Several stacks benched in turn (`bench --server a --server b`): each
//! run's own report, then a hyperfine-style summary of how much faster the
//! fastest was than each other stack.

use serde_json::{json, Value};

use super::bench::BenchReport;
use super::suite_view::rate;

/// One stack of the set: its report, or why it could not run.
#[derive(Debug)]
pub struct BenchSetRun {
    pub label: String,
    pub result: Result<BenchReport, String>,
}

/// The runs of a `bench` with several stacks, in order.
#[derive(Debug)]
pub struct BenchSet {
    pub runs: Vec<BenchSetRun>,
}

/// The throughput of a run and its spread over the run's seconds.
fn rps_and_stdev(r: &BenchReport) -> (f64, f64) {
    let rps = r.result.requests_per_sec();
    // Whole seconds of the window only: the last, partial one would look
    // like a collapse.
    let whole = r.result.measured.as_secs();
    let secs: Vec<f64> = r
        .result
        .timeline
        .iter()
        .filter(|p| p.second < whole)
        .map(|p| p.requests as f64)
        .collect();
    if secs.len() < 2 {
        return (rps, 0.0);
    }
    let mean = secs.iter().sum::<f64>() / secs.len() as f64;
    let var = secs.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (secs.len() - 1) as f64;
    (rps, var.sqrt())
}

/// How many times faster `fast` was than `slow`, with the spread carried
/// through as hyperfine does: σ/r = √((σa/a)² + (σb/b)²).
pub fn ratio((fast, fast_sd): (f64, f64), (slow, slow_sd): (f64, f64)) -> (f64, f64) {
    if fast <= 0.0 || slow <= 0.0 {
        return (f64::NAN, f64::NAN);
    }
    let r = fast / slow;
    (
        r,
        r * ((fast_sd / fast).powi(2) + (slow_sd / slow).powi(2)).sqrt(),
    )
}

impl BenchSet {
    /// The measured runs, fastest (by req/s) first.
    fn ranked(&self) -> Vec<(&str, (f64, f64))> {
        let mut v: Vec<(&str, (f64, f64))> = self
            .runs
            .iter()
            .filter_map(|r| Some((r.label.as_str(), rps_and_stdev(r.result.as_ref().ok()?))))
            .collect();
        v.sort_by(|a, b| b.1 .0.total_cmp(&a.1 .0));
        v
    }

    /// `gunicorn w2 ran\n    1.85 ± 0.07 times faster than waitress t4`.
    pub fn summary(&self) -> String {
        let ranked = self.ranked();
        let Some((best, best_rps)) = ranked.first() else {
            return "Summary: no stack was measured\n".into();
        };
        let mut out = format!(
            "Summary (req/s, ± over the run's seconds)\n  {best} ran ({} req/s)\n",
            rate(best_rps.0)
        );
        for (label, rps) in &ranked[1..] {
            let (r, sd) = ratio(*best_rps, *rps);
            out.push_str(&format!(
                "    {r:.2} ± {sd:.2} times faster than {label} ({} req/s)\n",
                rate(rps.0)
            ));
        }
        for run in &self.runs {
            if let Err(e) = &run.result {
                out.push_str(&format!("  {} was not measured: {e}\n", run.label));
            }
        }
        out
    }

    pub fn to_json(&self) -> Value {
        let ranked = self.ranked();
        let best = ranked.first().map(|(_, r)| *r);
        json!({
            "kind": "bench-set",
            "runs": self.runs.iter().filter_map(|r| r.result.as_ref().ok().map(|b| {
                let mut v = b.to_json();
                v["label"] = json!(r.label);
                v
            })).collect::<Vec<_>>(),
            "failed": self.runs.iter().filter_map(|r| r.result.as_ref().err().map(|e| json!({
                "label": r.label, "error": e,
            }))).collect::<Vec<_>>(),
            "summary": ranked.iter().map(|(label, rps)| {
                let (r, sd) = best.map_or((f64::NAN, f64::NAN), |b| ratio(b, *rps));
                json!({"label": label, "requests_per_sec": rps.0, "stdev": rps.1,
                       "fastest_times_faster": r, "stdev_of_ratio": sd})
            }).collect::<Vec<_>>(),
        })
    }

    /// Each run's Markdown, one after another (a stack not measured says
    /// why), then the summary as a code block.
    pub fn markdown(&self) -> String {
        let mut md = String::new();
        for run in &self.runs {
            match &run.result {
                Ok(r) => md.push_str(&r.markdown().replacen("# ", "## ", 1)),
                Err(e) => md.push_str(&format!(
                    "## {}\n\nnot measured: {}\n",
                    super::markdown::text(&run.label),
                    super::markdown::text(e.lines().next().unwrap_or(""))
                )),
            }
            md.push('\n');
        }
        md.push_str(&format!("## Summary\n\n```\n{}```\n", self.summary()));
        md
    }

    /// Each run's table, then the summary.
    pub fn render(&self, console: &super::export::Console) -> String {
        let mut out = String::new();
        for (i, run) in self.runs.iter().enumerate() {
            out.push_str(&format!(
                "== {}/{}: {}\n",
                i + 1,
                self.runs.len(),
                run.label
            ));
            match &run.result {
                Ok(r) => out.push_str(&r.render(console)),
                Err(e) => out.push_str(&format!("not measured: {e}\n")),
            }
            out.push('\n');
        }
        out.push_str(&self.summary());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratios_carry_the_spread() {
        let (r, sd) = ratio((200.0, 10.0), (100.0, 5.0));
        assert!((r - 2.0).abs() < 1e-12);
        // 2 × √(0.05² + 0.05²)
        assert!((sd - 2.0 * (0.005f64).sqrt()).abs() < 1e-12, "{sd}");
        assert!(ratio((1.0, 0.0), (0.0, 0.0)).0.is_nan());
    }
}
