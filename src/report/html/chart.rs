//! Line charts drawn as SVG here, so a page needs no chart library and
//! works offline: linear, log and percentile-tail axes (hdr-plot's
//! 1/(1-p) scale), a legend that toggles series, and the data each chart
//! was drawn from, for the page's script to show values under the pointer.

use serde_json::{json, Value};

use super::page::{esc, json_script};

/// Width and height of a chart's drawing, in SVG units, close to its size
/// on a wide screen so that text keeps its size; the page scales it to the
/// column.
const WIDE: (f64, f64) = (1180.0, 400.0);
const HALF: (f64, f64) = (570.0, 300.0);
/// Room around the plot for ticks and axis titles.
const LEFT: f64 = 70.0;
const RIGHT: f64 = 18.0;
const TOP: f64 = 14.0;
const BOTTOM: f64 = 46.0;

/// How values map onto an axis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scale {
    Linear,
    Log,
    /// Percentiles on hdr-plot's axis: position `log10(1 / (1 - p))`, so
    /// 90, 99, 99.9 and 99.99 are evenly spaced and the tail is visible.
    Tail,
}

impl Scale {
    fn name(self) -> &'static str {
        match self {
            Scale::Linear => "linear",
            Scale::Log => "log",
            Scale::Tail => "tail",
        }
    }
}

/// What a number on an axis is, for its labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Microseconds, shown as µs, ms or s.
    Micros,
    /// A rate (requests per second).
    PerSec,
    /// A percentile (0 to 100).
    Percentile,
    Seconds,
    Bytes,
    /// A plain count (connections).
    Count,
}

impl Unit {
    fn name(self) -> &'static str {
        match self {
            Unit::Micros => "us",
            Unit::PerSec => "rate",
            Unit::Percentile => "pct",
            Unit::Seconds => "s",
            Unit::Bytes => "bytes",
            Unit::Count => "count",
        }
    }
}

/// A number as a reader wants it: `4.20 ms`, `12,345`, `99.9%`, `1.5 GiB`.
pub fn format(unit: Unit, v: f64) -> String {
    match unit {
        Unit::Micros => {
            let a = v.abs();
            if a >= 1e6 {
                format!("{} s", sig(v / 1e6))
            } else if a >= 1e3 {
                format!("{} ms", sig(v / 1e3))
            } else {
                format!("{} µs", sig(v))
            }
        }
        Unit::PerSec | Unit::Count => {
            if v.abs() >= 100.0 || v.fract() == 0.0 {
                thousands(v.round())
            } else {
                sig(v)
            }
        }
        Unit::Percentile => {
            let s = format!("{v:.5}");
            let s = s.trim_end_matches('0').trim_end_matches('.');
            format!("{s}%")
        }
        Unit::Seconds => format!("{} s", sig(v)),
        Unit::Bytes => {
            let units = ["B", "KiB", "MiB", "GiB", "TiB"];
            let mut x = v;
            let mut i = 0;
            while x.abs() >= 1024.0 && i + 1 < units.len() {
                x /= 1024.0;
                i += 1;
            }
            format!("{} {}", sig(x), units[i])
        }
    }
}

/// Three significant digits, without trailing zeros.
fn sig(v: f64) -> String {
    let a = v.abs();
    let decimals = if a >= 100.0 || a == 0.0 {
        0
    } else if a >= 10.0 {
        1
    } else if a >= 1.0 {
        2
    } else {
        3
    };
    let s = format!("{v:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// `12345` as `12,345`.
pub fn thousands(v: f64) -> String {
    let n = v.abs().round() as u64;
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if v < 0.0 && n > 0 {
        out.insert(0, '-');
    }
    out
}

/// One axis: its title, scale, unit and the range it must show (the data
/// widen it as needed).
#[derive(Debug, Clone)]
pub struct Axis {
    pub title: String,
    pub scale: Scale,
    pub unit: Unit,
    /// Lowest value shown (linear axes start at zero unless told).
    pub min: Option<f64>,
    pub max: Option<f64>,
}

impl Axis {
    pub fn new(title: &str, scale: Scale, unit: Unit) -> Axis {
        Axis {
            title: title.to_string(),
            scale,
            unit,
            min: None,
            max: None,
        }
    }
}

/// One line of a chart.
#[derive(Debug, Clone)]
pub struct Series {
    pub name: String,
    /// Index into the page's palette (`c0` ... `c9`).
    pub color: usize,
    pub points: Vec<(f64, f64)>,
    pub dashed: bool,
    /// Draw a dot at each point (few points: a sweep of levels).
    pub markers: bool,
}

impl Series {
    pub fn new(name: &str, color: usize, points: Vec<(f64, f64)>) -> Series {
        Series {
            name: name.to_string(),
            color,
            points,
            dashed: false,
            markers: false,
        }
    }
}

/// A line chart with its title, axes and series.
#[derive(Debug, Clone)]
pub struct LineChart {
    pub title: String,
    /// One sentence under the title: how to read it.
    pub note: String,
    pub x: Axis,
    pub y: Axis,
    pub series: Vec<Series>,
    /// Draw the y axis both linear and log, with a switch (latency, where
    /// one stack's tail can flatten every other curve).
    pub y_switch: bool,
    /// Drawn across the page rather than in half a column.
    pub wide: bool,
}

/// Where a domain sits in pixels.
#[derive(Debug, Clone, Copy)]
struct Map {
    scale: Scale,
    lo: f64,
    hi: f64,
    p0: f64,
    p1: f64,
}

impl Map {
    fn pos(&self, v: f64) -> f64 {
        let t = (transform(self.scale, v) - transform(self.scale, self.lo))
            / (transform(self.scale, self.hi) - transform(self.scale, self.lo));
        self.p0 + t.clamp(-0.02, 1.02) * (self.p1 - self.p0)
    }

    fn to_json(self) -> Value {
        json!({"scale": self.scale.name(), "domain": [self.lo, self.hi], "px": [self.p0, self.p1]})
    }
}

fn transform(scale: Scale, v: f64) -> f64 {
    match scale {
        Scale::Linear => v,
        Scale::Log => v.max(f64::MIN_POSITIVE).log10(),
        Scale::Tail => -(1.0 - (v / 100.0).min(1.0 - 1e-12)).log10(),
    }
}

fn untransform(scale: Scale, t: f64) -> f64 {
    match scale {
        Scale::Linear => t,
        Scale::Log => 10f64.powf(t),
        Scale::Tail => 100.0 * (1.0 - 10f64.powf(-t)),
    }
}

/// The range an axis shows and its ticks.
fn domain(axis: &Axis, scale: Scale, values: impl Iterator<Item = f64>) -> (f64, f64, Vec<f64>) {
    let vals: Vec<f64> = values
        .filter(|v| v.is_finite() && (scale != Scale::Log || *v > 0.0))
        .collect();
    let data_lo = vals.iter().copied().fold(f64::INFINITY, f64::min);
    let data_hi = vals.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    match scale {
        Scale::Linear => {
            let lo = axis.min.unwrap_or(0.0).min(data_lo);
            let hi = axis.max.unwrap_or(f64::NEG_INFINITY).max(data_hi);
            let (lo, hi) = if lo.is_finite() && hi.is_finite() && hi > lo {
                (lo, hi)
            } else if lo.is_finite() {
                (lo, lo + 1.0)
            } else {
                (0.0, 1.0)
            };
            let step = nice_step((hi - lo) / 5.0);
            let lo = (lo / step).floor() * step;
            let hi = (hi / step).ceil() * step;
            let mut ticks = Vec::new();
            let mut t = lo;
            while t <= hi + step * 1e-9 {
                ticks.push(t);
                t += step;
            }
            (lo, hi, ticks)
        }
        Scale::Log => {
            let lo = axis
                .min
                .filter(|m| *m > 0.0)
                .unwrap_or(f64::INFINITY)
                .min(data_lo);
            let hi = axis.max.unwrap_or(f64::NEG_INFINITY).max(data_hi);
            let (lo, hi) = if lo.is_finite() && hi.is_finite() && lo > 0.0 {
                (lo, hi.max(lo * 10.0))
            } else {
                (1.0, 10.0)
            };
            let (d0, d1) = (lo.log10().floor() as i32, hi.log10().ceil() as i32);
            let mut ticks = Vec::new();
            let between: &[f64] = if d1 - d0 <= 2 { &[2.0, 5.0] } else { &[] };
            for d in d0..=d1 {
                let base = 10f64.powi(d);
                ticks.push(base);
                if d < d1 {
                    ticks.extend(between.iter().map(|m| m * base));
                }
            }
            (10f64.powi(d0), 10f64.powi(d1), ticks)
        }
        Scale::Tail => {
            let hi_t = vals
                .iter()
                .map(|v| transform(Scale::Tail, *v))
                .fold(1.0f64, f64::max)
                .max(axis.max.map(|m| transform(Scale::Tail, m)).unwrap_or(0.0))
                .ceil();
            let ticks = (0..=hi_t as i32)
                .map(|n| untransform(Scale::Tail, f64::from(n)))
                .collect();
            (0.0, untransform(Scale::Tail, hi_t), ticks)
        }
    }
}

/// 1, 2 or 5 times a power of ten, at least `raw`.
fn nice_step(raw: f64) -> f64 {
    if !(raw.is_finite() && raw > 0.0) {
        return 1.0;
    }
    let mag = 10f64.powf(raw.log10().floor());
    let r = raw / mag;
    let m = if r <= 1.0 {
        1.0
    } else if r <= 2.0 {
        2.0
    } else if r <= 5.0 {
        5.0
    } else {
        10.0
    };
    m * mag
}

/// A tick label: round values without the noise of the unit's formatter.
fn tick_label(unit: Unit, v: f64) -> String {
    match unit {
        Unit::Percentile => format(unit, v),
        Unit::PerSec | Unit::Count if v >= 10_000.0 => {
            let k = v / 1000.0;
            format!("{}k", sig(k))
        }
        _ => format(unit, v),
    }
}

impl LineChart {
    /// The chart as a `<figure>`: SVG, legend, and its data for the script.
    pub fn render(&self, id: &str) -> String {
        let (w, h) = if self.wide { WIDE } else { HALF };
        let plot = (LEFT, w - RIGHT, TOP, h - BOTTOM);
        let xs = self
            .series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.0));
        let (xlo, xhi, xticks) = domain(&self.x, self.x.scale, xs);
        let xmap = Map {
            scale: self.x.scale,
            lo: xlo,
            hi: xhi,
            p0: plot.0,
            p1: plot.1,
        };
        let ys = || {
            self.series
                .iter()
                .flat_map(|s| s.points.iter().map(|p| p.1))
        };
        let mut yscales = vec![self.y.scale];
        if self.y_switch {
            yscales = vec![Scale::Linear, Scale::Log];
        }
        let default_log = self.y_switch && spread(ys()) > 30.0;

        let mut svg = format!(
            "<div class=\"plot-wrap\"><svg class=\"plot{}\" viewBox=\"0 0 {w} {h}\" role=\"img\" aria-label=\"{}\" preserveAspectRatio=\"xMidYMid meet\">",
            if self.wide { " wide" } else { "" },
            esc(&self.title)
        );
        // x grid and labels, shared by both y scales.
        svg.push_str("<g class=\"grid x\">");
        for t in &xticks {
            let x = xmap.pos(*t);
            svg.push_str(&format!(
                "<line x1=\"{x:.1}\" x2=\"{x:.1}\" y1=\"{:.1}\" y2=\"{:.1}\"/><text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
                plot.2,
                plot.3,
                plot.3 + 16.0,
                esc(&tick_label(self.x.unit, *t))
            ));
        }
        svg.push_str("</g>");
        svg.push_str(&format!(
            "<text class=\"axis-title\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
            (plot.0 + plot.1) / 2.0,
            h - 8.0,
            esc(&self.x.title)
        ));
        svg.push_str(&format!(
            "<text class=\"axis-title\" transform=\"translate(14 {:.1}) rotate(-90)\" text-anchor=\"middle\">{}</text>",
            (plot.2 + plot.3) / 2.0,
            esc(&self.y.title)
        ));

        let mut ymaps = Vec::new();
        for scale in &yscales {
            let (ylo, yhi, yticks) = domain(&self.y, *scale, ys());
            let ymap = Map {
                scale: *scale,
                lo: ylo,
                hi: yhi,
                p0: plot.3,
                p1: plot.2,
            };
            ymaps.push(ymap);
            let hidden = self.y_switch && ((*scale == Scale::Log) != default_log);
            svg.push_str(&format!(
                "<g class=\"yscale\" data-scale=\"{}\"{}>",
                scale.name(),
                if hidden { " display=\"none\"" } else { "" }
            ));
            svg.push_str("<g class=\"grid y\">");
            for t in &yticks {
                let y = ymap.pos(*t);
                svg.push_str(&format!(
                    "<line x1=\"{:.1}\" x2=\"{:.1}\" y1=\"{y:.1}\" y2=\"{y:.1}\"/><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
                    plot.0,
                    plot.1,
                    plot.0 - 6.0,
                    y + 4.0,
                    esc(&tick_label(self.y.unit, *t))
                ));
            }
            svg.push_str("</g>");
            for (i, s) in self.series.iter().enumerate() {
                svg.push_str(&self.series_svg(i, s, &xmap, &ymap));
            }
            svg.push_str("</g>");
        }
        svg.push_str(&format!(
            "<rect class=\"frame\" x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\"/>",
            plot.0,
            plot.2,
            plot.1 - plot.0,
            plot.3 - plot.2
        ));
        svg.push_str("<g class=\"hover\"></g></svg></div>");

        let mut legend = String::from("<div class=\"legend\">");
        for (i, s) in self.series.iter().enumerate() {
            legend.push_str(&format!(
                "<button type=\"button\" data-series=\"{i}\" aria-pressed=\"true\"><i class=\"sw c{}{}\"></i>{}</button>",
                s.color % 10,
                if s.dashed { " dashed" } else { "" },
                esc(&s.name)
            ));
        }
        if self.y_switch {
            legend.push_str(&format!(
                "<button type=\"button\" class=\"yswitch\" data-log=\"{}\" title=\"switch the y axis between linear and log\">{}</button>",
                default_log,
                if default_log {
                    "y axis: log"
                } else {
                    "y axis: linear"
                }
            ));
        }
        legend.push_str("</div>");

        let data = json!({
            "x": {"map": xmap.to_json(), "unit": self.x.unit.name(), "title": self.x.title},
            "y": {
                "maps": ymaps.iter().map(|m| m.to_json()).collect::<Vec<_>>(),
                "unit": self.y.unit.name(),
                "title": self.y.title,
            },
            "series": self.series.iter().map(|s| json!({
                "name": s.name,
                "color": s.color % 10,
                "points": s.points.iter().map(|(x, y)| [round(*x), round(*y)]).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
        });
        let empty = self.series.iter().all(|s| s.points.is_empty());
        format!(
            "<figure class=\"chart{}\" id=\"{}\" data-chart><figcaption><b>{}</b>{}</figcaption>{svg}{legend}{}</figure>",
            if default_log { " ylog" } else { "" },
            esc(id),
            esc(&self.title),
            if self.note.is_empty() {
                String::new()
            } else {
                format!("<span>{}</span>", esc(&self.note))
            },
            if empty {
                "<p class=\"empty\">no data</p>".to_string()
            } else {
                json_script("chart-data", &data)
            }
        )
    }

    fn series_svg(&self, i: usize, s: &Series, x: &Map, y: &Map) -> String {
        let pts: Vec<(f64, f64)> = s
            .points
            .iter()
            .filter(|(a, b)| {
                a.is_finite()
                    && b.is_finite()
                    && (x.scale != Scale::Log || *a > 0.0)
                    && (y.scale != Scale::Log || *b > 0.0)
            })
            .map(|(a, b)| (x.pos(*a), y.pos(*b)))
            .collect();
        let mut d = String::new();
        for (k, (px, py)) in pts.iter().enumerate() {
            d.push_str(&format!(
                "{}{px:.1},{py:.1}",
                if k == 0 { "M" } else { "L" }
            ));
        }
        let mut out = format!(
            "<g class=\"series c{}{}\" data-series=\"{i}\"><path d=\"{d}\"/>",
            s.color % 10,
            if s.dashed { " dashed" } else { "" }
        );
        if s.markers || pts.len() == 1 {
            for ((px, py), (vx, vy)) in pts.iter().zip(&s.points) {
                out.push_str(&format!(
                    "<circle cx=\"{px:.1}\" cy=\"{py:.1}\" r=\"3.5\"><title>{}: {} at {}</title></circle>",
                    esc(&s.name),
                    esc(&format(self.y.unit, *vy)),
                    esc(&format(self.x.unit, *vx))
                ));
            }
        }
        out.push_str("</g>");
        out
    }
}

/// Ratio of the largest positive value to the smallest.
fn spread(values: impl Iterator<Item = f64>) -> f64 {
    let (lo, hi) = values
        .filter(|v| v.is_finite() && *v > 0.0)
        .fold((f64::INFINITY, 0.0f64), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
    if lo.is_finite() && lo > 0.0 {
        hi / lo
    } else {
        1.0
    }
}

/// Four significant digits are plenty for drawing and reading back.
fn round(v: f64) -> f64 {
    if v == 0.0 || !v.is_finite() {
        return 0.0;
    }
    let mag = 10f64.powi(3 - v.abs().log10().floor() as i32);
    (v * mag).round() / mag
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_as_people_write_them() {
        assert_eq!(format(Unit::Micros, 850.0), "850 µs");
        assert_eq!(format(Unit::Micros, 4_200.0), "4.2 ms");
        assert_eq!(format(Unit::Micros, 1_250_000.0), "1.25 s");
        assert_eq!(format(Unit::PerSec, 12_345.4), "12,345");
        assert_eq!(format(Unit::PerSec, 12.5), "12.5");
        assert_eq!(format(Unit::Percentile, 99.9), "99.9%");
        assert_eq!(format(Unit::Percentile, 90.0), "90%");
        assert_eq!(format(Unit::Bytes, 3.0 * 1024.0 * 1024.0), "3 MiB");
        assert_eq!(thousands(-1_234_567.0), "-1,234,567");
    }

    #[test]
    fn the_tail_axis_spaces_the_nines_evenly() {
        let a = transform(Scale::Tail, 90.0);
        let b = transform(Scale::Tail, 99.0);
        let c = transform(Scale::Tail, 99.9);
        assert!((a - 1.0).abs() < 1e-9 && (b - 2.0).abs() < 1e-9 && (c - 3.0).abs() < 1e-9);
        assert!((untransform(Scale::Tail, 2.0) - 99.0).abs() < 1e-9);
        let axis = Axis::new("p", Scale::Tail, Unit::Percentile);
        let (lo, hi, ticks) = domain(&axis, Scale::Tail, [0.0, 50.0, 99.95].into_iter());
        assert_eq!(lo, 0.0);
        assert!((hi - 99.99).abs() < 1e-9, "{hi}");
        assert_eq!(ticks.len(), 5);
    }

    #[test]
    fn linear_and_log_domains_cover_the_data_on_round_ticks() {
        let axis = Axis::new("y", Scale::Linear, Unit::PerSec);
        let (lo, hi, ticks) = domain(&axis, Scale::Linear, [3.0, 97.0].into_iter());
        assert_eq!((lo, hi), (0.0, 100.0));
        assert_eq!(ticks, [0.0, 20.0, 40.0, 60.0, 80.0, 100.0]);
        let (lo, hi, ticks) = domain(&axis, Scale::Log, [300.0, 45_000.0].into_iter());
        assert_eq!((lo, hi), (100.0, 100_000.0));
        assert_eq!(ticks, [100.0, 1_000.0, 10_000.0, 100_000.0]);
    }

    #[test]
    fn a_chart_carries_its_series_and_data() {
        let chart = LineChart {
            title: "t <x>".into(),
            note: String::new(),
            x: Axis::new("x", Scale::Linear, Unit::PerSec),
            y: Axis::new("y", Scale::Linear, Unit::Micros),
            series: vec![
                Series::new("a", 0, vec![(1.0, 10.0), (2.0, 20.0)]),
                Series::new("b", 1, vec![(1.0, 5.0), (2.0, 1e4)]),
            ],
            y_switch: true,
            wide: false,
        };
        let html = chart.render("c1");
        assert_eq!(html.matches("class=\"series ").count(), 4, "two scales");
        assert!(html.contains("t &lt;x&gt;"));
        assert!(
            html.contains("class=\"chart ylog\""),
            "wide spread: log first"
        );
        assert!(html.contains("application/json"));
    }
}
