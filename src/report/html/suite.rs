//! The suite page, from the suite JSON: per workload, throughput and p99
//! against the load level with one line per stack, the latency spectrum
//! of every stack at each level (merged over the repeats from the
//! serialized histograms), the timeline of each run, what the server cost
//! (CPU per request, peak RSS), the sustainable rates, and the
//! environment the figures belong to.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;
use serde_json::Value;

use super::bench::{spectrum_chart, tail_curve};
use super::chart::{format, thousands, Axis, LineChart, Scale, Series, Unit};
use super::page::{bars, callouts, esc, facts, num, prose, text, Page};
use crate::bench::stats::{decode, latency_histogram, merge};
use crate::report::check::rfc3339;

/// One load level as the results name it.
#[derive(Debug, Clone, PartialEq)]
struct Level {
    /// `c16`, `r500`.
    label: String,
    open: bool,
    /// Connections (closed) or the offered rate (open).
    x: f64,
}

/// The results of one workload, by stack and level.
struct Workload<'a> {
    name: String,
    stacks: Vec<String>,
    levels: Vec<Level>,
    /// (stack, level label) -> its repeats.
    cells: BTreeMap<(String, String), Vec<&'a Value>>,
}

impl Workload<'_> {
    fn repeats(&self, stack: &str, level: &str) -> &[&Value] {
        self.cells
            .get(&(stack.to_string(), level.to_string()))
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// The median over the repeats of a figure at `pointer`.
    fn median(&self, stack: &str, level: &str, pointer: &str) -> Option<f64> {
        median(
            self.repeats(stack, level)
                .iter()
                .filter_map(|r| num(r, pointer)),
        )
    }

    /// One point per level of `model` that has the figure.
    fn line(&self, stack: &str, open: bool, pointer: &str) -> Vec<(f64, f64)> {
        self.levels
            .iter()
            .filter(|l| l.open == open)
            .filter_map(|l| Some((l.x, self.median(stack, &l.label, pointer)?)))
            .collect()
    }
}

fn median(values: impl Iterator<Item = f64>) -> Option<f64> {
    let mut v: Vec<f64> = values.filter(|v| v.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

fn level_of(r: &Value) -> Level {
    let spec = &r["level_spec"];
    let open = text(spec, "/model") == Some("open") || num(spec, "/rate").is_some();
    let x = if open {
        num(spec, "/rate")
    } else {
        num(spec, "/connections")
    };
    let label = text(r, "/level")
        .map(str::to_string)
        .unwrap_or_else(|| match (open, x) {
            (true, Some(x)) => format!("r{x}"),
            (false, Some(x)) => format!("c{x}"),
            _ => "?".into(),
        });
    // Without a level_spec, the label itself says what it is.
    let x = x.or_else(|| label.get(1..)?.parse().ok()).unwrap_or(0.0);
    let open = open || label.starts_with('r');
    Level { label, open, x }
}

fn workloads(doc: &Value) -> Vec<Workload<'_>> {
    let mut out: Vec<Workload> = Vec::new();
    for r in doc["results"].as_array().into_iter().flatten() {
        let name = text(r, "/workload").unwrap_or("?").to_string();
        let stack = text(r, "/stack").unwrap_or("?").to_string();
        let level = level_of(r);
        let w = match out.iter_mut().position(|w| w.name == name) {
            Some(i) => &mut out[i],
            None => {
                out.push(Workload {
                    name,
                    stacks: Vec::new(),
                    levels: Vec::new(),
                    cells: BTreeMap::new(),
                });
                out.last_mut().expect("just pushed")
            }
        };
        if !w.stacks.contains(&stack) {
            w.stacks.push(stack.clone());
        }
        if !w.levels.iter().any(|l| l.label == level.label) {
            w.levels.push(level.clone());
        }
        w.cells.entry((stack, level.label)).or_default().push(r);
    }
    for w in &mut out {
        w.levels
            .sort_by(|a, b| a.open.cmp(&b.open).then(a.x.total_cmp(&b.x)));
    }
    out
}

/// The suite page.
pub fn page(doc: &Value) -> String {
    let title = text(doc, "/title")
        .or_else(|| text(doc, "/setup/title"))
        .unwrap_or("Benchmark suite");
    let env = &doc["environment"];
    let setup = &doc["setup"];
    let mut sub = Vec::new();
    if let Some(d) = text(env, "/date") {
        sub.push(d.to_string());
    } else if let Some(t) = num(doc, "/started_unix").filter(|t| *t > 0.0) {
        sub.push(rfc3339(
            std::time::UNIX_EPOCH + std::time::Duration::from_secs_f64(t),
        ));
    }
    let count = |k: &str| setup[k].as_array().map_or(0, Vec::len);
    sub.push(format!(
        "{} stacks × {} workloads × {} levels",
        count("stacks"),
        count("workloads"),
        count("levels")
    ));
    if let Some(r) = num(setup, "/repeats") {
        sub.push(format!("{r} repeats (median shown)"));
    }
    if let Some(d) = num(setup, "/duration_s") {
        sub.push(format!("{d} s per level"));
    }
    if let (Some(i), Some(n)) = (num(doc, "/shard/index"), num(doc, "/shard/count")) {
        sub.push(format!("shard {i}/{n}: each level drove 1/{n} of its load"));
    }
    let merged = &doc["merged"];
    if let Some(n) = num(merged, "/count") {
        let given = merged["shards"].as_array().map_or(0, Vec::len);
        sub.push(format!(
            "merged from {given} of {n} shards (histograms added, rates summed)"
        ));
    }
    let mut tags = Vec::new();
    for (k, p) in [
        ("CPU", "/cpu_model"),
        ("kernel", "/kernel"),
        ("Python", "/python"),
        ("nginx", "/nginx"),
    ] {
        if let Some(v) = text(env, p) {
            tags.push((k.to_string(), v.to_string()));
        }
    }
    if let Some(c) = num(env, "/cores") {
        tags.push(("cores".into(), format!("{c}")));
    }
    let mut page = Page::new(title, &sub.join(" · "), &tags);

    let mut notes = Vec::new();
    if doc["finished"] == Value::Bool(false) {
        notes.push(
            "This suite did not finish: the figures are the levels measured before it stopped."
                .to_string(),
        );
    }
    let missing: Vec<String> = merged["missing"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_u64)
        .map(|i| format!("{i}/{}", num(merged, "/count").unwrap_or(0.0)))
        .collect();
    if !missing.is_empty() {
        notes.push(format!(
            "Merged without shards {}: each level carried that much less than the plan's load.",
            missing.join(", ")
        ));
    }
    for f in doc["failures"].as_array().into_iter().flatten() {
        notes.push(format!(
            "{} ({}) {}{}: {}",
            text(f, "/stack").unwrap_or("?"),
            text(f, "/workload").unwrap_or("?"),
            match text(f, "/phase") {
                Some("start") => "did not start",
                Some("died") => "died",
                Some("health") => "stopped answering",
                _ => "failed",
            },
            text(f, "/level")
                .map(|l| format!(" at {l}"))
                .unwrap_or_default(),
            text(f, "/message").unwrap_or("")
        ));
    }
    if !notes.is_empty() {
        page.raw(&format!(
            "<section id=\"notes\">{}</section>",
            callouts("warn", &notes)
        ));
    }

    if let Some(n) = text(setup, "/notes") {
        page.section("about", "Notes", &prose(n));
    }

    let workloads = workloads(doc);
    let sustainable = sustainable(doc, &workloads);
    for (i, w) in workloads.iter().enumerate() {
        let mut body = sweep_charts(w, i);
        body.push_str(&spectra(w, i));
        body.push_str(&timelines(w, i));
        body.push_str(&cost_charts(w, i));
        if let Some(s) = sustainable.get(&w.name) {
            body.push_str(s);
        }
        body.push_str(&level_table(w));
        page.section(&format!("w{i}"), &format!("Workload {}", w.name), &body);
    }
    page.section("environment", "Where it ran", &environment(doc));
    page.finish("suite", &super::footer(doc))
}

/// The stacks' colours follow their order in the suite, on every chart.
fn color(w: &Workload, stack: &str) -> usize {
    w.stacks.iter().position(|s| s == stack).unwrap_or(0)
}

fn x_axis(levels: &[&Level], open: bool) -> Axis {
    let (lo, hi) = levels.iter().fold((f64::INFINITY, 0.0f64), |(lo, hi), l| {
        (lo.min(l.x), hi.max(l.x))
    });
    let scale = if lo > 0.0 && hi / lo >= 8.0 {
        Scale::Log
    } else {
        Scale::Linear
    };
    let mut axis = if open {
        Axis::new("offered rate (requests per second)", scale, Unit::PerSec)
    } else {
        Axis::new("connections", scale, Unit::Count)
    };
    // A few levels high up the scale would otherwise sit in its right half.
    axis.min = Some(lo);
    axis
}

fn sweep_charts(w: &Workload, i: usize) -> String {
    let mut out = String::new();
    for open in [false, true] {
        let levels: Vec<&Level> = w.levels.iter().filter(|l| l.open == open).collect();
        // One level is a point, not a curve: the table shows it.
        if levels.len() < 2 {
            continue;
        }
        let x = x_axis(&levels, open);
        let lines = |pointer: &str| -> Vec<Series> {
            w.stacks
                .iter()
                .map(|s| {
                    let mut series = Series::new(s, color(w, s), w.line(s, open, pointer));
                    series.markers = true;
                    series
                })
                .collect()
        };
        let mut achieved = lines("/requests_per_sec");
        if open {
            let mut offered =
                Series::new("offered", 8, levels.iter().map(|l| (l.x, l.x)).collect());
            offered.dashed = true;
            achieved.push(offered);
        }
        let rps = LineChart {
            title: if open {
                "Achieved against offered rate".into()
            } else {
                "Throughput against concurrency".into()
            },
            note: if open {
                "Requests per second each stack completed at each offered rate (median of the repeats); a stack that keeps up follows the diagonal.".into()
            } else {
                "Requests per second each stack completed with that many connections, each waiting for its response (median of the repeats).".into()
            },
            x: x.clone(),
            y: Axis::new("requests per second", Scale::Linear, Unit::PerSec),
            series: achieved,
            y_switch: false,
            wide: false,
        };
        let p99 = LineChart {
            title: if open {
                "p99 latency against offered rate".into()
            } else {
                "p99 latency against concurrency".into()
            },
            note: "The latency 99% of requests stayed under (median of the repeats; open loop: from each request's intended send time).".into(),
            x,
            y: Axis::new("p99 latency", Scale::Linear, Unit::Micros),
            series: lines("/latency_us/p99"),
            y_switch: true,
            wide: false,
        };
        let kind = if open { "open" } else { "closed" };
        out.push_str(&format!(
            "<div class=\"grid2\">{}{}</div>",
            rps.render(&format!("chart-rps-{kind}-{i}")),
            p99.render(&format!("chart-p99-{kind}-{i}"))
        ));
    }
    out
}

/// The repeats of one stack and level merged into one histogram.
fn merged(repeats: &[&Value], key: &str) -> Option<Histogram<u64>> {
    let mut all = latency_histogram();
    let mut any = false;
    for r in repeats {
        if let Some(h) = text(r, &format!("/histogram/{key}")).and_then(decode) {
            merge(&mut all, &h);
            any = true;
        }
    }
    any.then_some(all)
}

/// A `<select>` that shows one pane per level; the highest level first.
fn level_panes(w: &Workload, i: usize, what: &str, pane: impl Fn(&Level) -> String) -> String {
    let mut select =
        format!("<label class=\"levelpick\">level <select data-levels=\"{what}-{i}\">");
    let mut panes = String::new();
    let chosen = w.levels.len().saturating_sub(1);
    for (k, l) in w.levels.iter().enumerate() {
        select.push_str(&format!(
            "<option value=\"{}\"{}>{}</option>",
            esc(&l.label),
            if k == chosen { " selected" } else { "" },
            esc(&level_title(l))
        ));
        panes.push_str(&format!(
            "<div class=\"levelpane\" data-levels=\"{what}-{i}\" data-level=\"{}\"{}>{}</div>",
            esc(&l.label),
            if k == chosen { "" } else { " hidden" },
            pane(l)
        ));
    }
    select.push_str("</select></label>");
    format!("<div class=\"levelset\">{select}{panes}</div>")
}

fn level_title(l: &Level) -> String {
    if l.open {
        format!("{} req/s offered", thousands(l.x))
    } else {
        format!("{} connections", thousands(l.x))
    }
}

fn spectra(w: &Workload, i: usize) -> String {
    level_panes(w, i, "spectrum", |l| {
        let series: Vec<Series> = w
            .stacks
            .iter()
            .filter_map(|s| {
                let h = merged(w.repeats(s, &l.label), "corrected")?;
                Some(Series::new(s, color(w, s), tail_curve(&h)))
            })
            .collect();
        let mut chart = spectrum_chart(series, l.open);
        chart.title = format!("Latency percentile spectrum at {}", level_title(l));
        chart.note = "Every stack's requests at this level, all repeats merged: the latency each percentile stayed under, on an axis that spreads the nines so the tail shows.".into();
        chart.render(&format!("chart-spectrum-{i}-{}", l.label))
    })
}

fn timelines(w: &Workload, i: usize) -> String {
    let any = w
        .cells
        .values()
        .flatten()
        .any(|r| r["timeline"].as_array().is_some_and(|t| !t.is_empty()));
    if !any {
        return String::new();
    }
    level_panes(w, i, "timeline", |l| {
        let first = |s: &String| w.repeats(s, &l.label).first().copied();
        let line = |r: &Value, key: &str| -> Vec<(f64, f64)> {
            let measured = num(r, "/measured_s").unwrap_or(f64::INFINITY);
            r["timeline"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|p| num(p, "/second").is_some_and(|s| s + 0.5 < measured))
                .filter_map(|p| Some((num(p, "/second")? + 1.0, num(p, &format!("/{key}"))?)))
                .collect()
        };
        let series = |key: &str| -> Vec<Series> {
            w.stacks
                .iter()
                .filter_map(|s| Some(Series::new(s, color(w, s), line(first(s)?, key))))
                .collect()
        };
        let mut x = Axis::new("second", Scale::Linear, Unit::Seconds);
        x.min = Some(1.0);
        let rps = LineChart {
            title: format!("Throughput over time at {}", level_title(l)),
            note: "Requests completed in each second of the first repeat's measured window.".into(),
            x: x.clone(),
            y: Axis::new("requests per second", Scale::Linear, Unit::PerSec),
            series: series("requests"),
            y_switch: false,
            wide: false,
        };
        let p99 = LineChart {
            title: format!("p99 latency over time at {}", level_title(l)),
            note: "The p99 of the requests completed in each second of the first repeat.".into(),
            x,
            y: Axis::new("p99 latency", Scale::Linear, Unit::Micros),
            series: series("p99_us"),
            y_switch: true,
            wide: false,
        };
        format!(
            "<div class=\"grid2\">{}{}</div>",
            rps.render(&format!("chart-trps-{i}-{}", l.label)),
            p99.render(&format!("chart-tp99-{i}-{}", l.label))
        )
    })
}

fn cost_charts(w: &Workload, i: usize) -> String {
    let has = w.cells.values().flatten().any(|r| r["server"].is_object());
    if !has {
        return String::new();
    }
    let mut out = String::from("<div class=\"grid2\">");
    for (open, kind) in [(false, "closed"), (true, "open")] {
        let levels: Vec<&Level> = w.levels.iter().filter(|l| l.open == open).collect();
        if levels.len() < 2 {
            continue;
        }
        let lines = |pointer: &str| -> Vec<Series> {
            w.stacks
                .iter()
                .map(|s| {
                    let mut series = Series::new(s, color(w, s), w.line(s, open, pointer));
                    series.markers = true;
                    series
                })
                .collect()
        };
        let cpu = LineChart {
            title: "Server CPU per request".into(),
            note: "CPU time of the whole stack (server, workers, nginx) divided by the requests it served (median of the repeats).".into(),
            x: x_axis(&levels, open),
            y: Axis::new("CPU per request", Scale::Linear, Unit::Micros),
            series: lines("/server/cpu_per_request_us"),
            y_switch: false,
            wide: false,
        };
        let rss = LineChart {
            title: "Peak memory (RSS)".into(),
            note: "The largest resident set of the stack's processes together, per level.".into(),
            x: x_axis(&levels, open),
            y: Axis::new("RSS", Scale::Linear, Unit::Bytes),
            series: lines("/server/rss_max_bytes"),
            y_switch: false,
            wide: false,
        };
        out.push_str(&cpu.render(&format!("chart-cpu-{kind}-{i}")));
        out.push_str(&rss.render(&format!("chart-rss-{kind}-{i}")));
    }
    out.push_str("</div>");
    out
}

/// The sustainable-rate bars of each workload, by workload name, each
/// stack in its colour on the workload's charts.
fn sustainable(doc: &Value, workloads: &[Workload]) -> BTreeMap<String, String> {
    let mut by: BTreeMap<String, Vec<&Value>> = BTreeMap::new();
    for s in doc["sustainable"].as_array().into_iter().flatten() {
        by.entry(text(s, "/workload").unwrap_or("?").to_string())
            .or_default()
            .push(s);
    }
    by.into_iter()
        .map(|(w, list)| {
            let slo = list
                .first()
                .map(|s| slo_text(&s["slo"]))
                .unwrap_or_default();
            let workload = workloads.iter().find(|x| x.name == w);
            let rows: Vec<(String, f64, String, String)> = list
                .iter()
                .enumerate()
                .map(|(k, s)| {
                    let rate = num(s, "/rate");
                    let stack = text(s, "/stack").unwrap_or("?");
                    let c = workload.map_or(k, |x| color(x, stack));
                    (
                        stack.to_string(),
                        rate.unwrap_or(0.0),
                        rate.map(|r| format!("{} req/s", thousands(r)))
                            .unwrap_or_else(|| "none held".into()),
                        format!("c{}", c % 10),
                    )
                })
                .collect();
            let chart = bars(
                "Sustainable rate",
                &format!("The highest open-loop rate each stack served while {slo}."),
                &rows,
            );
            (w, chart)
        })
        .collect()
}

fn slo_text(slo: &Value) -> String {
    let mut parts: Vec<String> = slo["latency_us"]
        .as_object()
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some(format!("{k} ≤ {}", format(Unit::Micros, v.as_f64()?))))
                .collect()
        })
        .unwrap_or_default();
    match num(slo, "/errors") {
        Some(0.0) => parts.push("no request failing".into()),
        Some(e) => parts.push(format!("at most {e} errors")),
        None => {}
    }
    if parts.is_empty() {
        "holding its SLO".into()
    } else {
        format!("holding {}", parts.join(" and "))
    }
}

fn level_table(w: &Workload) -> String {
    let mut out = String::from(
        "<div class=\"panel table-scroll\"><h3>Every level</h3><table class=\"numbers levels\"><thead><tr><th>stack</th>",
    );
    for l in &w.levels {
        out.push_str(&format!("<th>{}</th>", esc(&level_title(l))));
    }
    out.push_str("</tr></thead><tbody>");
    for s in &w.stacks {
        out.push_str(&format!("<tr><th>{}</th>", esc(s)));
        for l in &w.levels {
            let reps = w.repeats(s, &l.label);
            let rates: Vec<f64> = reps
                .iter()
                .filter_map(|r| num(r, "/requests_per_sec"))
                .collect();
            let cell = match median(rates.iter().copied()) {
                None => "–".to_string(),
                Some(m) => {
                    let lo = rates.iter().copied().fold(f64::INFINITY, f64::min);
                    let hi = rates.iter().copied().fold(0.0f64, f64::max);
                    let range = if rates.len() > 1 {
                        format!("<small>{}–{}</small>", thousands(lo), thousands(hi))
                    } else {
                        String::new()
                    };
                    let p99 = w
                        .median(s, &l.label, "/latency_us/p99")
                        .map(|v| format!("<small>p99 {}</small>", esc(&format(Unit::Micros, v))))
                        .unwrap_or_default();
                    let errors: f64 = reps.iter().filter_map(|r| num(r, "/errors")).sum();
                    let errors = if errors > 0.0 {
                        format!(
                            "<small class=\"bad-text\">{} errors</small>",
                            thousands(errors)
                        )
                    } else {
                        String::new()
                    };
                    format!("<b>{}</b>{range}{p99}{errors}", thousands(m))
                }
            };
            out.push_str(&format!("<td>{cell}</td>"));
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table><p class=\"note\">Requests per second, median of the repeats with their range, and the median p99.</p></div>");
    out
}

fn environment(doc: &Value) -> String {
    let env = &doc["environment"];
    let t = |p: &str| text(env, p).unwrap_or("").to_string();
    let timing = &doc["timing"];
    let mut out = String::from("<div class=\"grid2\"><div class=\"panel\"><h3>Machine</h3>");
    out.push_str(&facts(&[
        ("CPU", t("/cpu_model")),
        (
            "cores",
            num(env, "/cores")
                .map(|c| format!("{c}"))
                .unwrap_or_default(),
        ),
        ("kernel", t("/kernel")),
        ("Python", t("/python")),
        ("nginx", t("/nginx")),
        ("wsgiprobe", t("/wsgiprobe")),
        ("date", t("/date")),
        (
            "time",
            num(timing, "/wall_s")
                .map(|w| {
                    format!(
                        "{:.0} s in all, {:.0} s measured",
                        w,
                        num(timing, "/measured_s").unwrap_or(0.0)
                    )
                })
                .unwrap_or_default(),
        ),
    ]));
    out.push_str("</div>");
    if let Some(stacks) = env["stacks"].as_object().filter(|s| !s.is_empty()) {
        out.push_str("<div class=\"panel\"><h3>Stacks</h3>");
        for (label, s) in stacks {
            out.push_str(&format!(
                "<details><summary>{}</summary>{}</details>",
                esc(label),
                super::stack_facts(s)
            ));
        }
        out.push_str("</div>");
    }
    out.push_str("</div>");
    if let Some(suite) = text(env, "/suite_text") {
        out.push_str(&format!(
            "<details class=\"panel\"><summary>The suite file{}</summary><pre class=\"log\">{}</pre></details>",
            text(env, "/suite_file")
                .map(|f| format!(" ({})", esc(f)))
                .unwrap_or_default(),
            esc(suite)
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn levels_are_ordered_and_repeats_meet_in_their_median() {
        let r = |stack: &str, level: &str, conns: u64, rps: f64| {
            json!({"stack": stack, "workload": "hello", "level": level,
                   "level_spec": {"model": "closed", "connections": conns, "rate": null},
                   "requests_per_sec": rps})
        };
        let doc = json!({"results": [
            r("a", "c16", 16, 300.0), r("a", "c1", 1, 100.0), r("a", "c16", 16, 500.0),
            r("a", "c16", 16, 400.0), r("b", "c1", 1, 50.0),
        ]});
        let w = &workloads(&doc)[0];
        assert_eq!(w.stacks, ["a", "b"]);
        let labels: Vec<_> = w.levels.iter().map(|l| l.label.as_str()).collect();
        assert_eq!(labels, ["c1", "c16"]);
        assert_eq!(
            w.line("a", false, "/requests_per_sec"),
            [(1.0, 100.0), (16.0, 400.0)]
        );
        assert_eq!(w.line("b", false, "/requests_per_sec"), [(1.0, 50.0)]);
        assert_eq!(median([1.0, 4.0].into_iter()), Some(2.5));
    }
}
