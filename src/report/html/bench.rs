//! The bench page, from the bench JSON: headline figures, the latency
//! percentile spectrum drawn from the serialized HDR histograms, the
//! timeline, the percentile table and how the run was made.

use std::time::{Duration, UNIX_EPOCH};

use serde_json::Value;

use super::chart::{format, thousands, Axis, LineChart, Scale, Series, Unit};
use super::page::{bars, callouts, esc, facts, num, stats, text, Page};
use super::stack_label;
use crate::bench::stats::decode;
use crate::report::check::rfc3339;

/// The bench page.
pub fn page(doc: &Value) -> String {
    let label = stack_label(&doc["stack"]);
    let plan = &doc["plan"];
    let open = text(plan, "/model") == Some("open");
    let mut subtitle = vec![format!("workload {}", workload_text(&plan["workload"]))];
    subtitle.push(load_text(plan));
    if let (Some(i), Some(n)) = (num(plan, "/shard/index"), num(plan, "/shard/count")) {
        let whole = &plan["whole"];
        let c = thousands(num(whole, "/connections").unwrap_or(0.0));
        subtitle.push(match num(whole, "/rate") {
            Some(r) => format!("shard {i}/{n} of {} req/s on {c} connections", thousands(r)),
            None => format!("shard {i}/{n} of {c} connections"),
        });
    }
    if let Some(s) = num(doc, "/measured_s") {
        subtitle.push(format!("{s:.1} s measured"));
    }
    if let Some(t) = num(doc, "/started_unix").filter(|t| *t > 0.0) {
        subtitle.push(rfc3339(UNIX_EPOCH + Duration::from_secs_f64(t)));
    }
    let mut page = Page::new(
        &format!("Load on {label}"),
        &subtitle.join(" · "),
        &super::stack_tags(&doc["stack"]),
    );

    let mut head = headline(doc);
    let mut warnings: Vec<String> = doc["warnings"]
        .as_array()
        .map(|w| {
            w.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    if doc["valid"] == Value::Bool(false) {
        warnings.insert(
            0,
            format!(
                "Invalid run: {} errors (allowed: {}).",
                num(doc, "/errors/total").unwrap_or(0.0),
                num(doc, "/errors/allowed").unwrap_or(0.0)
            ),
        );
    }
    head.push_str(&callouts("warn", &warnings));
    page.raw(&format!("<section id=\"summary\">{head}</section>"));

    let series = spectrum_series(doc, &label, 0, open);
    page.section(
        "latency",
        "Latency by percentile",
        &spectrum_chart(series, open).render("chart-spectrum"),
    );

    let timeline = timeline_charts(doc, "");
    if !timeline.is_empty() {
        page.section(
            "timeline",
            "Over time",
            &format!("<div class=\"grid2\">{timeline}</div>"),
        );
    }
    let errors = error_bars(doc);
    page.section(
        "percentiles",
        "Percentiles",
        &format!(
            "<div class=\"grid2\"><div class=\"panel\">{}</div>{errors}</div>",
            percentile_table(doc)
        ),
    );
    if let Some(shards) = shards_table(doc) {
        page.section("shards", "Shards", &shards);
    }
    page.section("run", "How the run was made", &run_facts(doc));
    page.finish("bench", &super::footer(doc))
}

/// `sleep (ms 10)`: the workload's name and its arguments.
pub fn workload_text(w: &Value) -> String {
    let name = text(w, "/name").unwrap_or("?");
    let args: Vec<String> = w
        .as_object()
        .map(|m| {
            m.iter()
                .filter(|(k, _)| *k != "name")
                .map(|(k, v)| match v {
                    Value::String(s) => format!("{k} {s}"),
                    other => format!("{k} {other}"),
                })
                .collect()
        })
        .unwrap_or_default();
    if args.is_empty() {
        name.to_string()
    } else {
        format!("{name} ({})", args.join(", "))
    }
}

/// `closed loop, 64 connections` / `open loop at 2000 req/s, up to 64 connections`.
pub fn load_text(plan: &Value) -> String {
    let c = num(plan, "/connections").unwrap_or(0.0);
    match (text(plan, "/model"), num(plan, "/rate")) {
        (Some("open"), Some(r)) => format!(
            "open loop at {} req/s, up to {} connections",
            thousands(r),
            thousands(c)
        ),
        _ => format!("closed loop, {} connections", thousands(c)),
    }
}

fn headline(doc: &Value) -> String {
    let lat = |k: &str| num(&doc["latency_us"], &format!("/{k}"));
    let show = |v: Option<f64>| v.map(|v| format(Unit::Micros, v)).unwrap_or("-".into());
    let errors = num(doc, "/errors/total").unwrap_or(0.0);
    let requests = num(doc, "/requests").unwrap_or(0.0);
    let rate = num(doc, "/requests_per_sec").unwrap_or(0.0);
    let offered = num(doc, "/plan/rate");
    let mut items = vec![(
        "throughput".to_string(),
        format!("{} req/s", thousands(rate)),
        offered
            .map(|r| format!("offered {} req/s", thousands(r)))
            .unwrap_or_default(),
        "accent",
    )];
    for (k, tone) in [("p50", ""), ("p99", ""), ("p99.9", ""), ("max", "")] {
        items.push((k.to_string(), show(lat(k)), String::new(), tone));
    }
    items.push((
        "errors".into(),
        thousands(errors),
        format!("of {} requests", thousands(requests)),
        if errors > 0.0 { "bad" } else { "good" },
    ));
    stats(&items)
}

/// The percentile spectrum of a bench document's corrected histogram (and
/// the service time when `open`), densely from the serialized histogram
/// when it decodes, else from the JSON spectrum.
pub fn spectrum_series(doc: &Value, name: &str, color: usize, open: bool) -> Vec<Series> {
    let mut out = Vec::new();
    let curve = |key: &str| {
        text(doc, &format!("/histogram/{key}"))
            .and_then(decode)
            .map(|h| tail_curve(&h))
    };
    let corrected = curve("corrected").unwrap_or_else(|| {
        doc["spectrum"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|p| Some((num(p, "/percentile")?, num(p, "/latency_us")?)))
                    .filter(|(p, _)| *p < 100.0)
                    .collect()
            })
            .unwrap_or_default()
    });
    out.push(Series::new(name, color, corrected));
    if open {
        if let Some(points) = curve("uncorrected") {
            let mut s = Series::new(&format!("{name} (service time)"), color, points);
            s.dashed = true;
            out.push(s);
        }
    }
    out
}

/// The spectrum chart for `series`.
pub fn spectrum_chart(series: Vec<Series>, open: bool) -> LineChart {
    let mut x = Axis::new("percentile", Scale::Tail, Unit::Percentile);
    x.max = Some(99.9);
    LineChart {
        title: "Latency percentile spectrum".into(),
        note: if open {
            "Each point: the latency that percentile of requests stayed under; the axis spreads the nines so the tail shows. Counted from each request's intended send time; dashed: from the actual send (service time).".into()
        } else {
            "Each point: the latency that percentile of requests stayed under; the axis spreads the nines so the tail shows.".into()
        },
        x,
        y: Axis::new("latency", Scale::Linear, Unit::Micros),
        series,
        y_switch: true,
        wide: true,
    }
}

/// hdr-plot's curve: latency at percentiles evenly spaced on the 1/(1-p)
/// axis, up to where the histogram still has a request beyond.
pub fn tail_curve(h: &hdrhistogram::Histogram<u64>) -> Vec<(f64, f64)> {
    const STEPS_PER_NINE: usize = 40;
    let n = h.len();
    if n == 0 {
        return Vec::new();
    }
    // Past 1 - 1/n the histogram holds no request to tell apart.
    let nines = (n as f64).log10().max(0.5);
    let steps = (nines * STEPS_PER_NINE as f64).ceil() as usize;
    let mut points: Vec<(f64, f64)> = (0..=steps)
        .map(|i| {
            let t = nines * i as f64 / steps as f64;
            let q = 1.0 - 10f64.powf(-t);
            (q * 100.0, h.value_at_quantile(q) as f64)
        })
        .collect();
    points.dedup_by(|b, a| a.1 == b.1 && (b.0 - a.0) < 1e-9);
    points
}

/// Throughput and latency per second; empty without a timeline. `suffix`
/// keeps chart ids unique when a page has several runs.
pub fn timeline_charts(doc: &Value, suffix: &str) -> String {
    let Some(points) = doc["timeline"].as_array().filter(|p| !p.is_empty()) else {
        return String::new();
    };
    // A last second mostly outside the window would read as a collapse.
    let measured = num(doc, "/measured_s").unwrap_or(f64::INFINITY);
    let get = |key: &str| -> Vec<(f64, f64)> {
        points
            .iter()
            .filter(|p| num(p, "/second").is_some_and(|s| s + 0.5 < measured))
            .filter_map(|p| Some((num(p, "/second")? + 1.0, num(p, &format!("/{key}"))?)))
            .collect()
    };
    let mut x = Axis::new("second", Scale::Linear, Unit::Seconds);
    x.min = Some(1.0);
    let mut rate = vec![Series::new("requests/s", 0, get("requests"))];
    let errors = get("errors");
    if errors.iter().any(|(_, e)| *e > 0.0) {
        rate.push(Series::new("errors/s", 3, errors));
    }
    for s in &mut rate {
        s.markers = s.points.len() <= 30;
    }
    let throughput = LineChart {
        title: "Throughput".into(),
        note: "Requests completed in each second of the measured window.".into(),
        x: x.clone(),
        y: Axis::new("requests per second", Scale::Linear, Unit::PerSec),
        series: rate,
        y_switch: false,
        wide: false,
    };
    let mut lat = vec![
        Series::new("p50", 0, get("p50_us")),
        Series::new("p99", 1, get("p99_us")),
    ];
    for s in &mut lat {
        s.markers = s.points.len() <= 30;
    }
    let latency = LineChart {
        title: "Latency".into(),
        note: "p50 and p99 of the requests completed in each second.".into(),
        x,
        y: Axis::new("latency", Scale::Linear, Unit::Micros),
        series: lat,
        y_switch: true,
        wide: false,
    };
    throughput.render(&format!("chart-throughput{suffix}"))
        + &latency.render(&format!("chart-latency{suffix}"))
}

fn percentile_table(doc: &Value) -> String {
    let Some(spectrum) = doc["spectrum"].as_array().filter(|s| !s.is_empty()) else {
        return "<p class=\"empty\">no request completed</p>".into();
    };
    let service =
        doc["latency_uncorrected_us"].is_object() && text(doc, "/plan/model") == Some("open");
    let mut out = String::from(
        "<table class=\"numbers\"><thead><tr><th>percentile</th><th>latency</th><th>requests ≤</th></tr></thead><tbody>",
    );
    for p in spectrum {
        out.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&format(
                Unit::Percentile,
                num(p, "/percentile").unwrap_or(0.0)
            )),
            esc(&format(Unit::Micros, num(p, "/latency_us").unwrap_or(0.0))),
            thousands(num(p, "/count").unwrap_or(0.0))
        ));
    }
    out.push_str("</tbody></table>");
    if service {
        out.push_str("<p class=\"note\">Counted from each request's intended send time (the open model's correction for coordinated omission).</p>");
    }
    out
}

/// A merged report's shards: what each measured, and the window they
/// shared; `None` for a run that is no merge.
fn shards_table(doc: &Value) -> Option<String> {
    let merged = doc["merged"].as_object()?;
    let shards = merged.get("shards")?.as_array()?;
    let count = merged.get("count").and_then(Value::as_u64).unwrap_or(0);
    let w = &doc["merged"]["window"];
    let mut out = format!(
        "<p class=\"note\">Merged from {} of {count} shards: their histograms added bucket by bucket, so every percentile above is that of all their requests; the rate is the sum of theirs. Measured together for {:.1} s, their windows starting {:.3} s apart.</p>",
        shards.len(),
        num(w, "/common_s").unwrap_or(0.0),
        num(w, "/skew_s").unwrap_or(0.0),
    );
    let missing: Vec<String> = merged
        .get("missing")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_u64)
        .map(|i| format!("{i}/{count}"))
        .collect();
    if !missing.is_empty() {
        out.push_str(&callouts(
            "warn",
            &[format!("Missing shards: {}.", missing.join(", "))],
        ));
    }
    out.push_str("<table class=\"numbers\"><thead><tr><th>shard</th><th>host</th><th>req/s</th><th>requests</th><th>errors</th><th>p50</th><th>p99</th><th>max</th><th>file</th></tr></thead><tbody>");
    for s in shards {
        let lat = |k: &str| {
            format(
                Unit::Micros,
                num(&s["latency_us"], &format!("/{k}")).unwrap_or(0.0),
            )
        };
        out.push_str(&format!(
            "<tr><td>{}/{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            num(s, "/shard/index").unwrap_or(0.0),
            num(s, "/shard/count").unwrap_or(0.0),
            esc(text(s, "/host").unwrap_or("")),
            thousands(num(s, "/requests_per_sec").unwrap_or(0.0)),
            thousands(num(s, "/requests").unwrap_or(0.0)),
            thousands(num(s, "/errors").unwrap_or(0.0)),
            esc(&lat("p50")),
            esc(&lat("p99")),
            esc(&lat("max")),
            esc(text(s, "/file").unwrap_or("")),
        ));
    }
    out.push_str("</tbody></table>");
    Some(out)
}

fn error_bars(doc: &Value) -> String {
    let Some(kinds) = doc["errors"]["by_kind"]
        .as_object()
        .filter(|k| !k.is_empty())
    else {
        return "<div class=\"panel\"><h3>Errors</h3><p class=\"good-text\">No request failed.</p></div>".into();
    };
    let rows: Vec<(String, f64, String, String)> = kinds
        .iter()
        .map(|(k, v)| {
            let n = v.as_f64().unwrap_or(0.0);
            (k.clone(), n, thousands(n), "c3".to_string())
        })
        .collect();
    let first = text(doc, "/errors/first")
        .map(|f| format!("<p class=\"note\">First error: <code>{}</code></p>", esc(f)))
        .unwrap_or_default();
    format!(
        "<div class=\"panel\">{}{first}</div>",
        bars("Errors by kind", "", &rows)
    )
}

fn run_facts(doc: &Value) -> String {
    let plan = &doc["plan"];
    let s = |p: &str| num(doc, p).map(|v| format!("{v}")).unwrap_or_default();
    let secs = |p: &str| num(doc, p).map(|v| format!("{v} s")).unwrap_or_default();
    let workload = workload_text(&plan["workload"]);
    let c = &doc["connections"];
    let g = &doc["generator"];
    let load = facts(&[
        ("load", load_text(plan)),
        ("workload", workload),
        ("duration", secs("/plan/duration_s")),
        ("requests asked", s("/plan/requests")),
        ("warm-up", secs("/plan/warmup_s")),
        ("timeout", secs("/plan/timeout_s")),
        ("load threads", s("/plan/threads")),
        (
            "bodies compared",
            s("/plan/body_sample_every")
                .is_empty()
                .then(String::new)
                .unwrap_or_else(|| format!("one response in {}", s("/plan/body_sample_every"))),
        ),
        (
            "bytes read",
            num(doc, "/bytes_read")
                .map(|b| format(Unit::Bytes, b))
                .unwrap_or_default(),
        ),
        (
            "connections",
            format!(
                "{} opened, {:.1} requests each, {} closed by the server",
                num(c, "/opened").unwrap_or(0.0),
                num(c, "/requests_per_connection").unwrap_or(0.0),
                num(c, "/closed_by_server").unwrap_or(0.0)
            ),
        ),
        (
            "generator",
            format!(
                "{:.2} s CPU on {} thread(s), {:.1} µs per request, busiest thread {:.0}%",
                num(g, "/cpu_s").unwrap_or(0.0),
                num(g, "/threads").unwrap_or(0.0),
                num(g, "/cpu_per_request_us").unwrap_or(0.0),
                num(g, "/busiest_thread").unwrap_or(0.0) * 100.0
            ),
        ),
        (
            "latency",
            text(doc, "/latency_note").unwrap_or("").to_string(),
        ),
    ]);
    format!(
        "<div class=\"grid2\"><div class=\"panel\"><h3>Load</h3>{load}</div><div class=\"panel\"><h3>Stack</h3>{}</div></div>",
        super::stack_facts(&doc["stack"])
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tail_curve_rises_to_the_tail() {
        let mut h = crate::bench::stats::latency_histogram();
        for v in 1..=10_000u64 {
            h.record(v).unwrap();
        }
        let c = tail_curve(&h);
        assert!(c.windows(2).all(|w| w[0].0 < w[1].0 && w[0].1 <= w[1].1));
        let last = c.last().unwrap();
        assert!((last.0 - 99.99).abs() < 1e-6, "{last:?}");
        assert!(last.1 >= 9_980.0, "{last:?}");
        // p90 sits a third of the way along four nines.
        let p90 = c.iter().find(|p| (p.0 - 90.0).abs() < 1e-6).unwrap();
        assert!((p90.1 - 9_000.0).abs() <= 10.0, "{p90:?}");
    }
}
