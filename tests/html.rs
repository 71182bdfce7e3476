//! The HTML reports in headless Chromium: each page's script runs to its
//! end with nothing on the console, and the plots and the matrix are in
//! the DOM afterwards. Pages come from the renderer fixtures and from real
//! runs, through `--html` and through `wsgiprobe report`.

mod common;

use std::path::Path;
use std::time::Duration;

use common::browser::{render, Rendered};
use common::*;
use wsgiprobe::report::{Document, Exporter, Html};

fn draw(doc: &Document, dir: &Path, name: &str) -> Rendered {
    let html = Html.export(doc).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, html).unwrap();
    render(&path)
}

/// Charts whose every series was drawn (a path with at least two points).
fn drawn_series(page: &Rendered) -> usize {
    page.dom
        .match_indices("<path d=\"M")
        .filter(|(i, _)| {
            page.dom[*i..]
                .split('"')
                .nth(1)
                .is_some_and(|d| d.contains('L'))
        })
        .count()
}

#[test]
fn bench_pages_draw_the_spectrum_and_the_timeline() {
    let dir = tempfile::tempdir().unwrap();
    for open in [false, true] {
        let report = fixtures::bench_report(open);
        let page = draw(&Document::Bench(&report), dir.path(), "bench.html");
        let what = if open { "open-loop bench" } else { "bench" };
        page.assert_script_ran(what);
        for id in [
            "id=\"chart-spectrum\"",
            "id=\"chart-throughput\"",
            "id=\"chart-latency\"",
        ] {
            assert_eq!(page.count(id), 1, "{what}: no {id}");
        }
        assert_eq!(page.count("<svg class=\"plot"), 3, "{what}");
        // Spectrum (and service time when open), requests/s and errors/s,
        // p50 and p99: each drawn on every y scale its chart has.
        let series = if open { 2 } else { 1 } * 2 + 2 + 2 * 2;
        assert_eq!(drawn_series(&page), series, "{what}");
        assert_eq!(
            page.count("(service time)</button>"),
            usize::from(open),
            "{what}"
        );
        assert!(
            page.dom.contains("20 ms"),
            "{what}: the tail of the fixture"
        );
    }
}

#[test]
fn matrix_and_check_pages_open_every_case() {
    let dir = tempfile::tempdir().unwrap();
    let matrix = fixtures::matrix_report();
    let page = draw(&Document::Matrix(&matrix), dir.path(), "matrix.html");
    page.assert_script_ran("matrix");
    // Six cases on the two stacks that ran; the third did not start.
    assert_eq!(page.count(" data-c=\""), 12);
    assert_eq!(page.count("<td class=\"o o-fail\"><a "), 2);
    assert!(page
        .dom
        .contains("did not start: granian is not importable"));
    // The script counted the rows it can filter.
    assert!(page.dom.contains("6 of 6 cases"), "the filters were set up");
    // Every case that did not pass is written out for print, with its requirement.
    assert!(page.dom.contains("id=\"t-input.chunked.decoded\""));
    assert!(page.dom.contains("<blockquote>"));
    assert!(page.dom.contains("class=\"matrix-data\""));

    let check = fixtures::check_report("gunicorn", None);
    let page = draw(
        &Document::Check {
            report: &check,
            label: "gunicorn",
        },
        dir.path(),
        "check.html",
    );
    page.assert_script_ran("check");
    assert_eq!(page.count(" data-c=\""), 6);
    assert!(page.dom.contains("PEP 3333 conformance of gunicorn 27.0.1"));
}

#[test]
fn report_draws_a_saved_run_as_the_run_drew_it() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("bench.json");
    let html = dir.path().join("bench.html");
    let out = wsgiprobe_within(
        &[
            "bench",
            "--server",
            "gunicorn",
            "-n",
            "400",
            "-c",
            "4",
            "--warmup",
            "0s",
            "--json",
            json.to_str().unwrap(),
            "--html",
            html.to_str().unwrap(),
        ],
        &[],
        Duration::from_secs(60),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let again = dir.path().join("again.html");
    let out = wsgiprobe(&[
        "report",
        json.to_str().unwrap(),
        "--html",
        again.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        std::fs::read_to_string(&html).unwrap(),
        std::fs::read_to_string(&again).unwrap(),
        "report FILE.json draws the page the run drew"
    );
    let page = render(&again);
    page.assert_script_ran("bench from a real run");
    assert_eq!(page.count("<svg class=\"plot"), 3);
    assert!(drawn_series(&page) >= 2);

    // A check, written by the run itself.
    let check = dir.path().join("check.html");
    let out = wsgiprobe(&[
        "check",
        "--only",
        "environ.request-method",
        "--html",
        check.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let page = render(&check);
    page.assert_script_ran("check from a real run");
    assert!(page.count(" data-c=\"") >= 4);
    assert!(
        page.dom.contains("GET /"),
        "the request sent is in the page"
    );
}

#[test]
fn report_refuses_what_it_cannot_draw() {
    let dir = tempfile::tempdir().unwrap();
    let not_json = dir.path().join("x.json");
    std::fs::write(&not_json, "hello").unwrap();
    let other = dir.path().join("y.json");
    std::fs::write(&other, "{\"name\": \"not a report\"}").unwrap();
    let out_html = dir.path().join("out.html");
    for (file, message) in [
        (&not_json, "is not JSON"),
        (&other, "not a wsgiprobe report"),
    ] {
        let out = wsgiprobe(&[
            "report",
            file.to_str().unwrap(),
            "--html",
            out_html.to_str().unwrap(),
        ]);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains(message), "{stderr}");
    }
    assert!(!out_html.exists());
    let out = wsgiprobe(&["report", other.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("--html FILE"));
}

#[test]
fn suite_and_compare_pages_draw_every_stack() {
    let dir = tempfile::tempdir().unwrap();
    let suite = dir.path().join("suite.json");
    std::fs::write(&suite, fixtures::suite_json().to_string()).unwrap();
    let html = dir.path().join("suite.html");
    let out = wsgiprobe(&[
        "report",
        suite.to_str().unwrap(),
        "--html",
        html.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let page = render(&html);
    page.assert_script_ran("suite");
    // Per workload: throughput and p99 against concurrency and against the
    // offered rate, a spectrum and a timeline pair for each of the five
    // levels, server CPU and RSS for both models.
    for w in 0..2 {
        for id in [
            format!("chart-rps-closed-{w}"),
            format!("chart-p99-open-{w}"),
            format!("chart-spectrum-{w}-c64"),
            format!("chart-trps-{w}-c16"),
            format!("chart-cpu-closed-{w}"),
            format!("chart-rss-open-{w}"),
        ] {
            assert_eq!(page.count(&format!("id=\"{id}\"")), 1, "no {id}");
        }
    }
    assert_eq!(page.count("<svg class=\"plot"), 2 * (2 + 2 + 5 + 5 * 2 + 4));
    // Three stacks on every sweep chart.
    assert!(page.count("data-series=\"2\"") >= 2 * 8 * 2);
    assert!(page.dom.contains("Sustainable rate"));
    assert!(page.dom.contains("none held"), "a stack that held no rate");
    assert!(page.dom.contains("granian (hello) died at c64"));
    assert!(page.dom.contains("Test CPU @ 3.00GHz"));

    let compare = dir.path().join("compare.json");
    std::fs::write(&compare, fixtures::compare_json().to_string()).unwrap();
    let out = wsgiprobe(&[
        "report",
        compare.to_str().unwrap(),
        "--html",
        html.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let page = render(&html);
    page.assert_script_ran("compare");
    assert_eq!(page.count("class=\"fill better\""), 3);
    assert_eq!(page.count("class=\"fill worse\""), 3);
    assert!(page.dom.contains("p99:+10% broken (+58.0%"));
    assert!(page.dom.contains("Only in before/report.json: granian"));
}

#[test]
fn report_writes_the_markdown_the_run_would_have_written() {
    use wsgiprobe::report::{stack_label, Json, Markdown};
    let dir = tempfile::tempdir().unwrap();
    let matrix = fixtures::matrix_report();
    let check = fixtures::check_report("waitress", Some("nginx"));
    let label = stack_label(&check.to_json()["stack"]);
    for (name, doc) in [
        ("matrix", Document::Matrix(&matrix)),
        (
            "check",
            Document::Check {
                report: &check,
                label: &label,
            },
        ),
    ] {
        let json = dir.path().join(format!("{name}.json"));
        std::fs::write(&json, Json.export(&doc).unwrap()).unwrap();
        let md = dir.path().join(format!("{name}.md"));
        let out = wsgiprobe(&[
            "report",
            json.to_str().unwrap(),
            "--markdown",
            md.to_str().unwrap(),
        ]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        assert_eq!(
            std::fs::read_to_string(&md).unwrap(),
            Markdown.export(&doc).unwrap(),
            "{name}"
        );
    }

    // A bench report has no Markdown, saved or not; nothing is written.
    let bench = fixtures::bench_report(false);
    let json = dir.path().join("bench.json");
    std::fs::write(&json, Json.export(&Document::Bench(&bench)).unwrap()).unwrap();
    let html = dir.path().join("bench.html");
    let out = wsgiprobe(&[
        "report",
        json.to_str().unwrap(),
        "--markdown",
        "-",
        "--html",
        html.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("--html"),
        "{}",
        text(&out.stderr)
    );
    assert!(!html.exists());
}

#[test]
fn a_real_suite_and_bench_set_write_pages_that_draw() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tiny.toml");
    std::fs::write(
        &file,
        "title = \"two servers\"\n\
         stacks = [\"gunicorn\", \"waitress\"]\n\
         [[workload]]\nname = \"hello\"\nargs = \"--workload hello\"\n\
         [load]\nconnections = [1, 4]\nduration = \"1s\"\nwarmup = \"200ms\"\nrepeats = 1\n",
    )
    .unwrap();
    let out = dir.path().join("out");
    let run = wsgiprobe_within(
        &[
            "suite",
            file.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
        &[],
        Duration::from_secs(120),
    );
    assert_eq!(run.status.code(), Some(0), "{}", text(&run.stderr));
    let page = render(&out.join("report.html"));
    page.assert_script_ran("suite");
    // Two levels: throughput and p99 against concurrency, a spectrum and a
    // timeline pair for each level, CPU and RSS.
    for id in [
        "chart-rps-closed-0",
        "chart-p99-closed-0",
        "chart-spectrum-0-c4",
        "chart-trps-0-c1",
        "chart-cpu-closed-0",
    ] {
        assert_eq!(page.count(&format!("id=\"{id}\"")), 1, "no {id}");
    }
    assert_eq!(page.count("<svg class=\"plot"), 2 + 2 + 2 * 2 + 2);
    assert!(drawn_series(&page) >= 2 * 2 * 2, "every stack's lines");

    // Several stacks in one bench: one page ranks them.
    let html = dir.path().join("set.html");
    let json = dir.path().join("set.json");
    let run = wsgiprobe_within(
        &[
            "bench",
            "--server",
            "gunicorn",
            "--server",
            "waitress",
            "-n",
            "300",
            "-c",
            "4",
            "--warmup",
            "0s",
            "--json",
            json.to_str().unwrap(),
            "--html",
            html.to_str().unwrap(),
        ],
        &[],
        Duration::from_secs(120),
    );
    assert_eq!(run.status.code(), Some(0), "{}", text(&run.stderr));
    let page = render(&html);
    page.assert_script_ran("bench set");
    assert_eq!(page.count("<svg class=\"plot"), 3);
    assert!(page.dom.contains(" times faster than "), "the ranking");
    assert!(drawn_series(&page) >= 2 * 2, "both stacks on the spectrum");
}
