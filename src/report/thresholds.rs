//! Load thresholds in words: the terminal lines of `bench --fail-if`, the
//! job summary and the annotations GitHub Actions shows.

use crate::bench::threshold::Metric;
use crate::bench::Checked;

use super::bench::BenchReport;
use super::github::command;
use super::style::ms;

/// What the run measured for a threshold: `p99 = 12.4 ms`, `rps = 2874.3`,
/// `error rate = 0.310%`.
pub fn measured_text(c: &Checked) -> String {
    let m = c.threshold.metric;
    let Some(v) = c.measured else {
        return format!("{}: nothing measured", m.name());
    };
    let value = match m {
        _ if m.is_latency() => ms(v.round() as u64),
        Metric::Rps => format!("{v:.1}"),
        Metric::Errors => format!("{v:.0}"),
        _ => format!("{:.3}%", v * 100.0),
    };
    format!("{} = {value}", m.name())
}

/// The terminal section: one line per threshold, broken ones in capitals.
pub fn render_thresholds(checked: &[Checked]) -> String {
    if checked.is_empty() {
        return String::new();
    }
    let held = checked.iter().filter(|c| c.held).count();
    let mut out = format!("thresholds: {held} of {} held\n", checked.len());
    let width = checked
        .iter()
        .map(|c| c.threshold.text.chars().count())
        .max()
        .unwrap_or(0);
    for c in checked {
        out.push_str(&format!(
            "  {:<6}  {:<width$}  {}\n",
            if c.held { "held" } else { "BROKEN" },
            c.threshold.text,
            measured_text(c)
        ));
    }
    out
}

/// `threshold p99<50ms broken: p99 = 73.2 ms`, one line per broken threshold.
pub fn broken_lines(checked: &[Checked]) -> Vec<String> {
    checked
        .iter()
        .filter(|c| !c.held)
        .map(|c| {
            format!(
                "threshold {} broken: {}",
                c.threshold.text,
                measured_text(c)
            )
        })
        .collect()
}

/// An `::error` annotation per broken threshold.
pub fn threshold_annotations(report: &BenchReport) -> String {
    let title = format!("wsgiprobe bench {}", report.stack.gateway);
    report
        .thresholds
        .iter()
        .filter(|c| !c.held)
        .map(|c| {
            command(
                "error",
                &[],
                &title,
                &format!(
                    "threshold {} broken: {}",
                    c.threshold.text,
                    measured_text(c)
                ),
            )
        })
        .collect()
}

/// A short Markdown block for the job summary: the headline figures and
/// every threshold.
pub fn bench_markdown(report: &BenchReport) -> String {
    let r = &report.result;
    let t = &r.totals;
    let p = crate::bench::stats::Percentiles::of(&t.corrected);
    let broken = report.thresholds.iter().filter(|c| !c.held).count();
    let mut md = format!(
        "### wsgiprobe bench: {} ({})\n\n{}\n\n| req/s | requests | errors | p50 | p90 | p99 | p99.9 | max |\n|---:|---:|---:|---:|---:|---:|---:|---:|\n| {:.1} | {} | {} | {} | {} | {} | {} | {} |\n",
        report.stack.gateway,
        report.workload.name(),
        if !report.valid() {
            "**Invalid run**: more errors than allowed.".to_string()
        } else if broken > 0 {
            format!("**{broken} threshold(s) broken.**")
        } else if report.thresholds.is_empty() {
            "Valid run.".to_string()
        } else {
            "Every threshold held.".to_string()
        },
        r.requests_per_sec(),
        t.requests,
        t.errors.total(),
        ms(p.p50),
        ms(p.p90),
        ms(p.p99),
        ms(p.p99_9),
        ms(p.max),
    );
    if !report.thresholds.is_empty() {
        md.push_str("\n| threshold | measured | |\n|---|---|---|\n");
        for c in &report.thresholds {
            md.push_str(&format!(
                "| `{}` | {} | {} |\n",
                c.threshold.text,
                measured_text(c),
                if c.held { "held" } else { "**broken**" }
            ));
        }
    }
    md.push('\n');
    md
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::threshold::{check_all, Figures, Threshold};

    #[test]
    fn measured_values_read_in_their_units() {
        let mut h = hdrhistogram::Histogram::<u64>::new(3).unwrap();
        h.record(12_400).unwrap();
        let f = Figures {
            latency_us: &h,
            requests_per_sec: 2874.25,
            requests: 1000,
            errors: 3,
        };
        let t: Vec<Threshold> = ["p99<10ms", "rps>=1", "errors==0", "errors<1%"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        let c = check_all(&t, &f);
        let text: Vec<String> = c.iter().map(measured_text).collect();
        assert_eq!(
            text,
            [
                "p99 = 12.4 ms",
                "rps = 2874.2",
                "errors = 3",
                "error rate = 0.300%"
            ]
        );
        let shown = render_thresholds(&c);
        assert!(shown.starts_with("thresholds: 2 of 4 held\n"), "{shown}");
        assert!(
            shown.contains("BROKEN  p99<10ms   p99 = 12.4 ms"),
            "{shown}"
        );
        assert_eq!(
            broken_lines(&c),
            [
                "threshold p99<10ms broken: p99 = 12.4 ms",
                "threshold errors==0 broken: errors = 3"
            ]
        );
    }
}
