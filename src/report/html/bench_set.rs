//! The page of `bench --server a --server b`, from its JSON (`kind:
//! "bench-set"`): how much faster the fastest stack was, every stack's
//! latency spectrum on one chart, their timelines side by side, and each
//! run's figures.

use serde_json::Value;

use super::bench::{load_text, spectrum_chart, spectrum_series, workload_text};
use super::chart::{format, thousands, Axis, LineChart, Scale, Series, Unit};
use super::page::{bars, callouts, esc, num, text, Page};

/// The bench-set page.
pub fn page(doc: &Value) -> String {
    let runs: Vec<&Value> = doc["runs"]
        .as_array()
        .map(|r| r.iter().collect())
        .unwrap_or_default();
    let label = |r: &Value| {
        text(r, "/label")
            .map(str::to_string)
            .unwrap_or_else(|| super::stack_label(&r["stack"]))
    };
    let first = runs.first().copied().unwrap_or(&Value::Null);
    let mut sub = Vec::new();
    if !first.is_null() {
        sub.push(format!(
            "workload {}",
            workload_text(&first["plan"]["workload"])
        ));
        sub.push(load_text(&first["plan"]));
        if let Some(s) = num(first, "/measured_s") {
            sub.push(format!("{s:.1} s measured each"));
        }
    }
    let mut page = Page::new(
        &format!(
            "Load on {} stacks",
            runs.len() + doc["failed"].as_array().map_or(0, Vec::len)
        ),
        &sub.join(" · "),
        &[],
    );

    let mut head = summary(doc);
    let failed: Vec<String> = doc["failed"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|f| {
            format!(
                "{} was not measured: {}",
                text(f, "/label").unwrap_or("?"),
                text(f, "/error").unwrap_or("")
            )
        })
        .collect();
    head.push_str(&callouts("bad", &failed));
    page.raw(&format!("<section id=\"summary\">{head}</section>"));

    let open = text(first, "/plan/model") == Some("open");
    let series: Vec<Series> = runs
        .iter()
        .enumerate()
        .flat_map(|(i, r)| spectrum_series(r, &label(r), i, false))
        .collect();
    let mut chart = spectrum_chart(series, open);
    chart.note = "Every stack's requests: the latency each percentile stayed under, on an axis that spreads the nines so the tail shows.".into();
    page.section(
        "latency",
        "Latency by percentile",
        &chart.render("chart-spectrum"),
    );

    let timeline = |key: &str| -> Vec<Series> {
        runs.iter()
            .enumerate()
            .map(|(i, r)| {
                let measured = num(r, "/measured_s").unwrap_or(f64::INFINITY);
                let points = r["timeline"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|p| num(p, "/second").is_some_and(|s| s + 0.5 < measured))
                    .filter_map(|p| Some((num(p, "/second")? + 1.0, num(p, &format!("/{key}"))?)))
                    .collect();
                Series::new(&label(r), i, points)
            })
            .collect()
    };
    let mut x = Axis::new("second", Scale::Linear, Unit::Seconds);
    x.min = Some(1.0);
    let rps = LineChart {
        title: "Throughput".into(),
        note: "Requests each stack completed in each second of its measured window.".into(),
        x: x.clone(),
        y: Axis::new("requests per second", Scale::Linear, Unit::PerSec),
        series: timeline("requests"),
        y_switch: false,
        wide: false,
    };
    let p99 = LineChart {
        title: "p99 latency".into(),
        note: "The p99 of the requests each stack completed in each second.".into(),
        x,
        y: Axis::new("p99 latency", Scale::Linear, Unit::Micros),
        series: timeline("p99_us"),
        y_switch: true,
        wide: false,
    };
    page.section(
        "timeline",
        "Over time",
        &format!(
            "<div class=\"grid2\">{}{}</div>",
            rps.render("chart-throughput"),
            p99.render("chart-latency")
        ),
    );
    page.section("runs", "Every run", &table(&runs, &label));
    page.finish("bench-set", &super::footer(first))
}

/// The hyperfine-style summary: each stack's rate, the fastest first, and
/// how many times faster the fastest ran than each other.
fn summary(doc: &Value) -> String {
    // Colours follow the runs' order on every chart.
    let order: Vec<&str> = doc["runs"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| text(r, "/label"))
        .collect();
    let ranked: Vec<&Value> = doc["summary"]
        .as_array()
        .map(|s| s.iter().collect())
        .unwrap_or_default();
    let rows: Vec<(String, f64, String, String)> = ranked
        .iter()
        .map(|s| {
            let label = text(s, "/label").unwrap_or("?");
            let rps = num(s, "/requests_per_sec").unwrap_or(0.0);
            let c = order.iter().position(|o| *o == label).unwrap_or(0);
            (
                label.to_string(),
                rps,
                format!("{} req/s", thousands(rps)),
                format!("c{}", c % 10),
            )
        })
        .collect();
    let mut out = bars(
        "Throughput",
        "Requests per second each stack achieved, the fastest first.",
        &rows,
    );
    let faster: Vec<String> = ranked
        .iter()
        .skip(1)
        .filter_map(|s| {
            let t = num(s, "/fastest_times_faster").filter(|t| t.is_finite())?;
            let d = num(s, "/stdev_of_ratio")
                .filter(|d| d.is_finite())
                .map(|d| format!(" ± {d:.2}"))
                .unwrap_or_default();
            Some(format!(
                "{t:.2}{d} times faster than {}",
                text(s, "/label").unwrap_or("?")
            ))
        })
        .collect();
    if let (Some(best), false) = (ranked.first(), faster.is_empty()) {
        out.push_str(&format!(
            "<p class=\"callout info\"><b>{}</b> ran {} (± from the spread of the runs' seconds).</p>",
            esc(text(best, "/label").unwrap_or("?")),
            esc(&faster.join(", "))
        ));
    }
    out
}

fn table(runs: &[&Value], label: &dyn Fn(&Value) -> String) -> String {
    let mut out = String::from(
        "<div class=\"panel table-scroll\"><table class=\"numbers\"><thead><tr><th>stack</th><th>req/s</th><th>p50</th><th>p99</th><th>p99.9</th><th>max</th><th>errors</th><th>connections</th></tr></thead><tbody>",
    );
    for r in runs {
        let lat = |k: &str| {
            num(&r["latency_us"], &format!("/{k}"))
                .map(|v| format(Unit::Micros, v))
                .unwrap_or_else(|| "–".into())
        };
        out.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&label(r)),
            thousands(num(r, "/requests_per_sec").unwrap_or(0.0)),
            esc(&lat("p50")),
            esc(&lat("p99")),
            esc(&lat("p99.9")),
            esc(&lat("max")),
            thousands(num(r, "/errors/total").unwrap_or(0.0)),
            thousands(num(r, "/connections/opened").unwrap_or(0.0)),
        ));
    }
    out.push_str("</tbody></table></div>");
    for r in runs {
        out.push_str(&format!(
            "<details class=\"panel\"><summary>{}</summary>{}</details>",
            esc(&label(r)),
            super::stack_facts(&r["stack"])
        ));
    }
    out
}
