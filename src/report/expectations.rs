//! The expectation delta in words: the terminal section and the lines the
//! other formats reuse.

use crate::expectations::{Delta, Notable};

/// `31 as expected, 1 broken, 1 fixed, 2 new (1 failing), 1 stale`: the
/// counts that are not zero.
pub fn counts_line(d: &Delta) -> String {
    let c = d.counts();
    let mut parts = vec![format!("{} as expected", c.expected)];
    for (n, what) in [
        (c.broken, "broken"),
        (c.fixed, "fixed"),
        (c.changed, "changed"),
    ] {
        if n > 0 {
            parts.push(format!("{n} {what}"));
        }
    }
    if c.new > 0 {
        parts.push(if c.new_failing > 0 {
            format!("{} new ({} failing)", c.new, c.new_failing)
        } else {
            format!("{} new", c.new)
        });
    }
    for (n, what) in [(c.stale, "stale"), (c.undecided, "undecided")] {
        if n > 0 {
            parts.push(format!("{n} {what}"));
        }
    }
    parts.join(", ")
}

/// Where the comparison came from: `wsgiprobe-expect.toml, stack "gunicorn"`.
pub fn source_line(d: &Delta) -> String {
    match &d.section {
        Some(s) => format!("{}, stack {s:?}", d.file),
        None => format!(
            "{}: no section for this stack ({}), so every case is new",
            d.file,
            if d.file_labels.is_empty() {
                "the file has none".to_string()
            } else {
                format!("it has {}", quoted_list(&d.file_labels))
            }
        ),
    }
}

fn quoted_list(labels: &[String]) -> String {
    labels
        .iter()
        .map(|l| format!("{l:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// What the delta means for the exit code, in words.
pub fn verdict_line(d: &Delta) -> &'static str {
    if d.fails_run() {
        if d.unexpected_failures().next().is_some() {
            "unexpected failures: exit 1"
        } else {
            "the file is out of date and --strict-expectations is set: exit 1"
        }
    } else if d.is_clean() {
        "nothing unexpected"
    } else {
        "nothing unexpected failed; update the expectations to match"
    }
}

/// The terminal section: a header line, then one line per case that is not
/// as expected (unexpected failures first). `label` names the stack in a
/// matrix.
pub fn render_delta(d: &Delta, label: Option<&str>) -> String {
    let mut out = format!(
        "\nExpectations{} ({}): {}; {}\n",
        label.map(|l| format!(" for {l}")).unwrap_or_default(),
        source_line(d),
        counts_line(d),
        verdict_line(d),
    );
    for n in d.notable() {
        out.push_str(&format!(
            "  {:<9} {}: {}\n",
            tag(&n, d.strict),
            n.id(),
            n.explain()
        ));
    }
    out
}

/// `BROKEN` for what fails the run, `fixed` for what only informs.
pub fn tag(n: &Notable, strict: bool) -> String {
    if n.fails_run(strict) {
        n.label().to_uppercase()
    } else {
        n.label().to_string()
    }
}
