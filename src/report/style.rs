//! Console styling in one place: the table style, the colour of each
//! outcome, and how durations are printed. Every terminal view uses these,
//! so they look alike and a change of style is one edit.

use comfy_table::{presets, Cell, Color, ColumnConstraint, ContentArrangement, Table};

use crate::conformance::Outcome;

/// Width for output that has no terminal (a pipe, a file): wide enough
/// for the detail columns to stay readable.
const PIPED_WIDTH: u16 = 140;

/// The most characters of one text shown in a table cell. The table
/// library wraps a word longer than its column in time that grows with the
/// square of its length (a megabyte-long spec string took minutes), and a
/// terminal is no place for such a text anyway: JSON output has it whole.
pub const MAX_CELL: usize = 1000;

/// `text`, cut to [`MAX_CELL`] characters for a table cell.
pub fn clip(text: &str) -> std::borrow::Cow<'_, str> {
    match text.char_indices().nth(MAX_CELL) {
        None => text.into(),
        Some((cut, _)) => format!(
            "{}... ({} more characters; JSON output has them all)",
            &text[..cut],
            text[cut..].chars().count()
        )
        .into(),
    }
}

/// A table in the house style, as wide as the terminal (or `width` when
/// there is none).
pub fn table(width: Option<u16>) -> Table {
    let mut t = Table::new();
    t.load_style(presets::UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic);
    if t.width().is_none() {
        t.set_width(width.unwrap_or(PIPED_WIDTH));
    }
    t
}

/// Keeps column `i` as wide as its widest cell, so an id in it is never
/// split across lines (it can still be copied into `--only`).
pub fn keep_whole(t: &mut Table, i: usize) {
    if let Some(col) = t.column_mut(i) {
        col.set_constraint(ColumnConstraint::ContentWidth);
    }
}

/// Columns of the terminal on standard output: its own width, else
/// `$COLUMNS`, else 80 (a pipe or a file gets what fits a classic terminal).
pub fn terminal_width() -> u16 {
    // SAFETY: TIOCGWINSZ fills the zeroed winsize it is given, or fails.
    let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
    if unsafe { libc::ioctl(libc::STDOUT_FILENO, libc::TIOCGWINSZ, &mut ws) } == 0 && ws.ws_col > 0
    {
        return ws.ws_col;
    }
    std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse().ok())
        .filter(|c: &u16| *c >= 20)
        .unwrap_or(80)
}

/// `text` wrapped to `width` columns: the first line starts with `first`,
/// the others with `rest`. Words are never broken, so an id or a URL stays
/// whole even when it is longer than the line.
pub fn wrap(text: &str, width: usize, first: &str, rest: &str) -> String {
    let options = textwrap::Options::new(width.max(20))
        .initial_indent(first)
        .subsequent_indent(rest)
        .break_words(false)
        // Only at spaces: the Unicode rules would break after `-` and `/`,
        // inside ids and URLs.
        .word_separator(textwrap::WordSeparator::AsciiSpace)
        .word_splitter(textwrap::WordSplitter::NoHyphenation);
    let mut out = String::new();
    for line in textwrap::wrap(text, options) {
        out.push_str(&line);
        out.push('\n');
    }
    out
}

/// `text` in the outcome's colour (ANSI) when `color` is on.
pub fn paint(o: Outcome, text: &str, color: bool) -> String {
    if !color {
        return text.to_string();
    }
    let code = match o {
        Outcome::Pass => "32",
        Outcome::Fail => "1;31",
        Outcome::Warn => "33",
        Outcome::Skip => "90",
        Outcome::Error => "35",
        Outcome::Quirk => "36",
    };
    format!("\x1b[{code}m{text}\x1b[0m")
}

/// The colour an outcome is shown in.
pub fn outcome_color(o: Outcome) -> Color {
    match o {
        Outcome::Pass => Color::Green,
        Outcome::Fail => Color::Red,
        Outcome::Warn => Color::Yellow,
        Outcome::Skip => Color::Grey,
        Outcome::Error => Color::Magenta,
        Outcome::Quirk => Color::Cyan,
    }
}

/// A cell with `text`, in the outcome's colour when `color` is on.
pub fn outcome_cell(o: Outcome, text: impl Into<String>, color: bool) -> Cell {
    let cell = Cell::new(text.into());
    if color {
        cell.fg(outcome_color(o))
    } else {
        cell
    }
}

/// A cell in the colour for trouble the harness met (a stack that did not start).
pub fn trouble_cell(text: &str, color: bool) -> Cell {
    let cell = Cell::new(text);
    if color {
        cell.fg(Color::Magenta)
    } else {
        cell
    }
}

/// Microseconds as milliseconds with sensible precision.
pub fn ms(us: u64) -> String {
    let v = us as f64 / 1000.0;
    if v >= 100.0 {
        format!("{v:.0} ms")
    } else if v >= 10.0 {
        format!("{v:.1} ms")
    } else {
        format!("{v:.3} ms")
    }
}

/// A count or a rate with thousands separators: `6,812`, `10,000`; below
/// 100, one decimal (`12.5`).
pub fn thousands(v: f64) -> String {
    if !v.is_finite() {
        return "-".into();
    }
    if v.abs() < 100.0 && v.fract() != 0.0 {
        return format!("{v:.1}");
    }
    let digits = format!("{:.0}", v.abs());
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if v < 0.0 {
        out.insert(0, '-');
    }
    out
}

/// Bytes in binary units with three significant figures: `512 B`,
/// `1.41 KiB`, `23.4 MiB`.
pub fn bytes(n: f64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{v:.0} B")
    } else if v >= 100.0 {
        format!("{v:.0} {}", UNITS[unit])
    } else if v >= 10.0 {
        format!("{v:.1} {}", UNITS[unit])
    } else {
        format!("{v:.2} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapping_never_breaks_a_word() {
        let id = "response.headers.no-transfer-encoding-for-http10";
        let text = format!("see {id} and {id} again, https://example.org/a/b/c");
        let out = wrap(&text, 30, "  ", "    ");
        assert!(out.lines().filter(|l| l.trim() == id).count() == 2, "{out}");
        assert!(out.lines().all(|l| l.starts_with("  ")), "{out}");
        assert!(out.contains("https://example.org/a/b/c"), "{out}");
    }

    #[test]
    fn counts_and_sizes_read_easily() {
        assert_eq!(thousands(6812.4), "6,812");
        assert_eq!(thousands(10000.0), "10,000");
        assert_eq!(thousands(1234567.0), "1,234,567");
        assert_eq!(thousands(12.5), "12.5");
        assert_eq!(thousands(12.0), "12");
        assert_eq!(bytes(512.0), "512 B");
        assert_eq!(bytes(1444.0), "1.41 KiB");
        assert_eq!(bytes(24_536_678.0), "23.4 MiB");
    }

    #[test]
    fn milliseconds_keep_three_significant_figures() {
        assert_eq!(ms(1_234), "1.234 ms");
        assert_eq!(ms(12_345), "12.3 ms");
        assert_eq!(ms(123_456), "123 ms");
    }

    #[test]
    fn long_cells_are_clipped_and_say_so() {
        assert_eq!(clip("short"), "short");
        let long = "é".repeat(MAX_CELL + 5);
        let c = clip(&long);
        assert!(c.starts_with(&"é".repeat(MAX_CELL)));
        assert!(c.ends_with("... (5 more characters; JSON output has them all)"));
    }
}
