//! Durations on the command line, as wrk, oha and hyperfine take them:
//! `500ms`, `15s`, `2m`, `1m30s`, `1h`, `1.5s`, `250us`. A bare number is
//! read in the flag's own unit (seconds for most, milliseconds where the
//! flag always took milliseconds), so old command lines keep working.

use std::time::Duration;

/// A bare number means seconds: `--duration`, `--warmup`, `--start-timeout`.
pub fn secs(s: &str) -> Result<Duration, String> {
    parse(s, 1.0)
}

/// A bare number means milliseconds: `check --timeout`, `bench --ms`.
pub fn millis(s: &str) -> Result<Duration, String> {
    parse(s, 1e-3)
}

/// Parses `s`; a bare number is `bare_unit` seconds each.
pub fn parse(s: &str, bare_unit: f64) -> Result<Duration, String> {
    let text = s.trim();
    let bad = || format!("{text:?} is not a duration (try 500ms, 15s, 2m or 1m30s)");
    if text.is_empty() {
        return Err(bad());
    }
    if let Ok(v) = text.parse::<f64>() {
        return finish(text, v * bare_unit);
    }
    let mut total = 0.0;
    let mut rest = text;
    while !rest.is_empty() {
        let num_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (num, after) = rest.split_at(num_end);
        let value: f64 = num.parse().map_err(|_| bad())?;
        let unit_end = after
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(after.len());
        let (unit, next) = after.split_at(unit_end);
        let scale = match unit.trim() {
            "h" => 3600.0,
            "m" | "min" => 60.0,
            "s" => 1.0,
            "ms" => 1e-3,
            "us" | "µs" => 1e-6,
            "" => return Err(bad()),
            other => {
                return Err(format!(
                    "unknown unit {other:?} in {text:?} (use h, m, s, ms or us)"
                ))
            }
        };
        total += value * scale;
        rest = next;
    }
    finish(text, total)
}

/// A number of seconds as a duration. How long is too long is each flag's
/// range to say (limits.rs); only what no duration can hold is refused here.
fn finish(text: &str, secs: f64) -> Result<Duration, String> {
    if !secs.is_finite() || secs < 0.0 {
        return Err(format!("{text:?} is not a duration"));
    }
    Duration::try_from_secs_f64(secs).map_err(|_| format!("{text:?} is too long"))
}

/// A duration as the flags take it back: `1m30s`, `500ms`, `2s`, `1.5s`.
pub fn show(d: Duration) -> String {
    let ms = d.as_millis();
    if ms == 0 && !d.is_zero() {
        return format!("{}us", d.as_micros());
    }
    if ms < 1000 {
        return format!("{ms}ms");
    }
    if ms % 1000 != 0 || ms < 60_000 {
        let s = d.as_secs_f64();
        return if ms % 1000 == 0 {
            format!("{}s", ms / 1000)
        } else {
            format!("{}s", (s * 1000.0).round() / 1000.0)
        };
    }
    let secs = ms / 1000;
    let (h, m, s) = (secs / 3600, secs % 3600 / 60, secs % 60);
    let mut out = String::new();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if m > 0 {
        out.push_str(&format!("{m}m"));
    }
    if s > 0 {
        out.push_str(&format!("{s}s"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_and_compounds() {
        let d = Duration::from_millis;
        assert_eq!(secs("15s"), Ok(d(15_000)));
        assert_eq!(secs("500ms"), Ok(d(500)));
        assert_eq!(secs("2m"), Ok(d(120_000)));
        assert_eq!(secs("1m30s"), Ok(d(90_000)));
        assert_eq!(secs("1h2m3.5s"), Ok(d(3_723_500)));
        assert_eq!(secs("1.5"), Ok(d(1_500)));
        assert_eq!(secs("250us"), Ok(Duration::from_micros(250)));
        assert_eq!(millis("5000"), Ok(d(5_000)));
        assert_eq!(millis("2s"), Ok(d(2_000)));
        assert!(
            secs("1e19").is_ok(),
            "a flag's range refuses it, not the parser"
        );
        for bad in ["soon", "5 parsecs", "", "1m30", "-1s", "s", "1e30"] {
            assert!(secs(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn shown_as_typed() {
        let d = Duration::from_millis;
        assert_eq!(show(d(500)), "500ms");
        assert_eq!(show(d(2_000)), "2s");
        assert_eq!(show(d(1_500)), "1.5s");
        assert_eq!(show(d(90_000)), "1m30s");
        assert_eq!(show(d(3_600_000)), "1h");
        for text in ["500ms", "2s", "1.5s", "1m30s", "1h"] {
            assert_eq!(show(secs(text).unwrap()), text);
        }
    }
}
