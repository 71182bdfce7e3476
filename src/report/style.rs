//! Console styling in one place: the table style, the colour of each
//! outcome, and how durations are printed. Every terminal view uses these,
//! so they look alike and a change of style is one edit.

use comfy_table::{presets, Cell, Color, ContentArrangement, Table};

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

#[cfg(test)]
mod tests {
    use super::*;

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
