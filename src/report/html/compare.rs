//! The comparison page, from the compare JSON: what got faster or slower
//! and whether the change is significant, each metric's change as a bar
//! either side of zero, the limits a significant change broke.

use serde_json::Value;

use super::chart::{format, thousands, Unit};
use super::page::{callouts, esc, num, stats, text, Page};

/// Metrics drawn as bars, with what a rise means.
const DRAWN: [(&str, &str); 3] = [
    ("rps", "throughput"),
    ("p50", "p50 latency"),
    ("p99", "p99 latency"),
];

/// The comparison page.
pub fn page(doc: &Value) -> String {
    let before = text(doc, "/before").unwrap_or("before");
    let after = text(doc, "/after").unwrap_or("after");
    let mut sub = Vec::new();
    if let Some(t) = text(doc, "/test") {
        sub.push(t.to_string());
    }
    if let Some(a) = num(doc, "/alpha") {
        sub.push(format!("significant below p {a}"));
    }
    let limits: Vec<&str> = doc["limits"]
        .as_array()
        .map(|l| l.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if !limits.is_empty() {
        sub.push(format!("--fail-if {}", limits.join(",")));
    }
    let mut page = Page::new(&format!("{before} → {after}"), &sub.join(" · "), &[]);
    let rows: Vec<&Value> = doc["rows"]
        .as_array()
        .map(|r| r.iter().collect())
        .unwrap_or_default();
    let verdicts = |v: &str| {
        rows.iter()
            .filter(|r| text(r, "/verdict") == Some(v))
            .count()
    };
    let broken: Vec<&Value> = doc["broken"]
        .as_array()
        .map(|b| b.iter().collect())
        .unwrap_or_default();
    let mut head = stats(&[
        (
            "faster".into(),
            verdicts("faster").to_string(),
            String::new(),
            "good",
        ),
        (
            "slower".into(),
            verdicts("slower").to_string(),
            String::new(),
            if verdicts("slower") > 0 { "bad" } else { "" },
        ),
        (
            "mixed".into(),
            verdicts("mixed").to_string(),
            String::new(),
            "",
        ),
        (
            "no significant difference".into(),
            verdicts("no significant difference").to_string(),
            String::new(),
            "",
        ),
        (
            "limits broken".into(),
            broken.len().to_string(),
            String::new(),
            if broken.is_empty() { "good" } else { "bad" },
        ),
    ]);
    let broken_text: Vec<String> = broken
        .iter()
        .map(|b| {
            format!(
                "{} · {} · {}: {} broken ({:+.1}%{})",
                text(b, "/stack").unwrap_or("?"),
                text(b, "/workload").unwrap_or("?"),
                text(b, "/level").unwrap_or("?"),
                text(b, "/limit").unwrap_or("?"),
                num(b, "/change").unwrap_or(0.0) * 100.0,
                num(b, "/p")
                    .map(|p| format!(", p {p:.3}"))
                    .unwrap_or_default()
            )
        })
        .collect();
    head.push_str(&callouts("bad", &broken_text));
    page.raw(&format!("<section id=\"summary\">{head}</section>"));

    let mut charts = String::from("<div class=\"grid2\">");
    for (metric, title) in DRAWN {
        charts.push_str(&diverging(&rows, metric, title));
    }
    charts.push_str("</div>");
    page.section("changes", "Changes", &charts);
    page.section("rows", "Every match", &table(&rows));

    let mut notes: Vec<String> = doc["notes"]
        .as_array()
        .map(|n| {
            n.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    for (key, side) in [("only_before", before), ("only_after", after)] {
        let only: Vec<&str> = doc[key]
            .as_array()
            .map(|o| o.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        if !only.is_empty() {
            notes.push(format!("Only in {side}: {}", only.join("; ")));
        }
    }
    if !notes.is_empty() {
        page.section("notes", "Notes", &callouts("info", &notes));
    }
    page.finish("compare", &super::footer(doc))
}

fn key(r: &Value) -> String {
    format!(
        "{} · {} · {}",
        text(r, "/stack").unwrap_or("?"),
        text(r, "/workload").unwrap_or("?"),
        text(r, "/level").unwrap_or("?")
    )
}

fn metric<'a>(r: &'a Value, name: &str) -> Option<&'a Value> {
    r["metrics"]
        .as_array()?
        .iter()
        .find(|m| text(m, "/metric") == Some(name))
}

/// Bars either side of zero, one per match: green when significant and
/// better, red when significant and worse, grey otherwise.
fn diverging(rows: &[&Value], name: &str, title: &str) -> String {
    let changes: Vec<(String, &Value)> = rows
        .iter()
        .filter_map(|r| Some((key(r), metric(r, name)?)))
        .collect();
    let max = changes
        .iter()
        .filter_map(|(_, m)| num(m, "/change"))
        .fold(0.0f64, |a, c| a.max(c.abs()))
        .max(0.05);
    let mut out = format!(
        "<figure class=\"bars diverge\"><figcaption><b>{}</b><span>Change from before to after; solid when the test finds it significant.</span></figcaption>",
        esc(title)
    );
    for (label, m) in &changes {
        let c = num(m, "/change").unwrap_or(0.0);
        let tone = match (m["significant"].as_bool(), m["better"].as_bool()) {
            (Some(true), Some(true)) => "better",
            (Some(true), Some(false)) => "worse",
            _ => "same",
        };
        let width = (c.abs() / max * 50.0).min(50.0);
        let left = if c < 0.0 { 50.0 - width } else { 50.0 };
        out.push_str(&format!(
            "<div class=\"bar\"><span class=\"label\" title=\"{0}\">{0}</span><span class=\"track zero\"><span class=\"fill {tone}\" style=\"left:{left:.1}%;width:{width:.1}%\"></span></span><span class=\"value\">{1:+.1}%</span></div>",
            esc(label),
            c * 100.0
        ));
    }
    out.push_str("</figure>");
    out
}

fn table(rows: &[&Value]) -> String {
    let mut out = String::from(
        "<div class=\"panel table-scroll\"><table class=\"verdicts\"><thead><tr><th>stack · workload · level</th><th>req/s</th><th>p50</th><th>p99</th><th>verdict</th></tr></thead><tbody>",
    );
    for r in rows {
        out.push_str(&format!("<tr><td>{}</td>", esc(&key(r))));
        for name in ["rps", "p50", "p99"] {
            let cell = match metric(r, name) {
                None => "–".to_string(),
                Some(m) => {
                    let show = |v: f64| {
                        if name == "rps" {
                            thousands(v)
                        } else {
                            format(Unit::Micros, v)
                        }
                    };
                    let sig = m["significant"].as_bool() == Some(true);
                    format!(
                        "{} → {} <span class=\"{}\">({:+.1}%{})</span>",
                        esc(&show(num(m, "/before").unwrap_or(0.0))),
                        esc(&show(num(m, "/after").unwrap_or(0.0))),
                        if sig { "sig" } else { "muted" },
                        num(m, "/change").unwrap_or(0.0) * 100.0,
                        num(m, "/p")
                            .map(|p| format!(", p {p:.2}"))
                            .unwrap_or_default()
                    )
                }
            };
            out.push_str(&format!("<td>{cell}</td>"));
        }
        out.push_str(&format!(
            "<td>{}</td></tr>",
            esc(text(r, "/verdict").unwrap_or(""))
        ));
    }
    out.push_str("</tbody></table></div>");
    out
}
