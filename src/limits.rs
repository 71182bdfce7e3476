//! Every numeric command-line flag and the range it takes, in one place.
//!
//! The commands check their values against these when they build their
//! plan, before anything is allocated or started, so an absurd value is an
//! exit 2 that names the flag and its range rather than a panic, a hang or
//! gigabytes of memory. [`annotate`] adds each range to the help text, so
//! what `--help` says and what is enforced cannot drift apart.

use std::fmt;
use std::time::Duration;

/// How a flag's values are counted, for checking and for messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// A plain count.
    Count,
    /// Bytes, written with binary suffixes (`64KiB`, `1MiB`).
    Bytes,
    /// Milliseconds given as a plain number.
    Millis,
    /// Seconds given as a plain (possibly fractional) number.
    Seconds,
    /// A duration with a unit (`500ms`, `15s`).
    Duration,
    /// Requests per second.
    Rate,
}

/// One numeric flag: the commands that have it and the values it takes.
#[derive(Debug, Clone, Copy)]
pub struct Limit {
    /// The flag as the user types it (`-c/--connections`).
    pub flag: &'static str,
    /// The clap argument id (the field name).
    pub id: &'static str,
    /// The subcommands that take it.
    pub commands: &'static [&'static str],
    /// Smallest accepted value, in the unit's base (bytes, ms, seconds...).
    pub min: f64,
    /// Largest accepted value.
    pub max: f64,
    /// Whether `min` itself is excluded (a rate must be above zero).
    pub above_min: bool,
    pub unit: Unit,
}

const KIB: f64 = 1024.0;
const MIB: f64 = 1024.0 * 1024.0;
const GIB: f64 = 1024.0 * 1024.0 * 1024.0;
const HOUR: f64 = 3600.0;
const DAY: f64 = 24.0 * HOUR;

const CHECK: &[&str] = &["check"];
const BENCH: &[&str] = &["bench"];
const BOTH: &[&str] = &["check", "bench"];

const fn limit(
    flag: &'static str,
    id: &'static str,
    commands: &'static [&'static str],
    min: f64,
    max: f64,
    unit: Unit,
) -> Limit {
    Limit {
        flag,
        id,
        commands,
        min,
        max,
        above_min: false,
        unit,
    }
}

/// `--workers` (check, bench): worker processes.
pub const WORKERS: Limit = limit("--workers", "workers", BOTH, 1.0, 1024.0, Unit::Count);
/// `--threads` (check, bench): threads per worker.
pub const THREADS: Limit = limit("--threads", "threads", BOTH, 1.0, 4096.0, Unit::Count);
/// `--start-timeout` (check, bench), in seconds.
pub const START_TIMEOUT: Limit = Limit {
    above_min: true,
    ..limit(
        "--start-timeout",
        "start_timeout",
        BOTH,
        0.0,
        HOUR,
        Unit::Seconds,
    )
};
/// `--max-body` (check, bench): body bytes kept of one response.
pub const MAX_BODY: Limit = limit("--max-body", "max_body", BOTH, KIB, GIB, Unit::Bytes);
/// `check --jobs`: cases in flight.
pub const JOBS: Limit = limit("--jobs", "jobs", CHECK, 1.0, 64.0, Unit::Count);
/// `check --timeout`, in milliseconds.
pub const CASE_TIMEOUT: Limit = limit(
    "--timeout",
    "timeout",
    CHECK,
    1.0,
    HOUR * 1000.0,
    Unit::Millis,
);
/// `bench --size`: body bytes (the probe makes at most 64 MiB).
pub const SIZE: Limit = limit("--size", "size", BENCH, 0.0, 64.0 * MIB, Unit::Bytes);
/// `bench --chunks` (the probe streams at most 100000).
pub const CHUNKS: Limit = limit("--chunks", "chunks", BENCH, 1.0, 100_000.0, Unit::Count);
/// `bench --ms` (the probe sleeps or spins at most 60 s).
pub const MS: Limit = limit("--ms", "ms", BENCH, 0.0, 60_000.0, Unit::Millis);
/// `bench -c/--connections`.
pub const CONNECTIONS: Limit = limit(
    "-c/--connections",
    "connections",
    BENCH,
    1.0,
    100_000.0,
    Unit::Count,
);
/// `bench --rate`, requests per second.
pub const RATE: Limit = Limit {
    above_min: true,
    ..limit("--rate", "rate", BENCH, 0.0, 10_000_000.0, Unit::Rate)
};
/// `bench -d/--duration`.
pub const DURATION: Limit = Limit {
    above_min: true,
    ..limit(
        "-d/--duration",
        "duration",
        BENCH,
        0.0,
        7.0 * DAY,
        Unit::Duration,
    )
};
/// `bench -n/--requests`.
pub const REQUESTS: Limit = limit("-n/--requests", "requests", BENCH, 1.0, 1e12, Unit::Count);
/// `bench --warmup`.
pub const WARMUP: Limit = limit("--warmup", "warmup", BENCH, 0.0, HOUR, Unit::Duration);
/// `bench --timeout`: one request's time limit.
pub const REQUEST_TIMEOUT: Limit = Limit {
    above_min: true,
    ..limit("--timeout", "timeout", BENCH, 0.0, HOUR, Unit::Duration)
};
/// `bench -t/--load-threads`: each thread holds its own histograms
/// (about 0.6 MiB).
pub const LOAD_THREADS: Limit = limit(
    "-t/--load-threads",
    "load_threads",
    BENCH,
    1.0,
    128.0,
    Unit::Count,
);
/// `bench --allow-errors`: any count.
pub const ALLOW_ERRORS: Limit = limit(
    "--allow-errors",
    "allow_errors",
    BENCH,
    0.0,
    u64::MAX as f64,
    Unit::Count,
);
/// `bench --sample-bodies`: one response in N has its bytes compared.
pub const SAMPLE_BODIES: Limit = limit(
    "--sample-bodies",
    "sample_bodies",
    BENCH,
    1.0,
    1_000_000.0,
    Unit::Count,
);

/// Every limit, for the help text and the README's table.
pub const ALL: &[Limit] = &[
    WORKERS,
    THREADS,
    START_TIMEOUT,
    MAX_BODY,
    JOBS,
    CASE_TIMEOUT,
    SIZE,
    CHUNKS,
    MS,
    CONNECTIONS,
    RATE,
    DURATION,
    REQUESTS,
    WARMUP,
    REQUEST_TIMEOUT,
    LOAD_THREADS,
    ALLOW_ERRORS,
    SAMPLE_BODIES,
];

/// A flag's value outside its range.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{flag} {given} is out of range: it takes {range}")]
pub struct RangeError {
    pub flag: &'static str,
    pub given: String,
    pub range: String,
}

impl Limit {
    /// The range in words: `1 to 100000`, `1KiB to 1GiB`, `above 0 to 1h`.
    pub fn range(&self) -> String {
        if self.unit == Unit::Count && self.max >= u64::MAX as f64 {
            return format!("{} or more", self.show(self.min));
        }
        let low = if self.above_min {
            format!("above {}", self.show(self.min))
        } else {
            self.show(self.min)
        };
        format!("{low} to {}", self.show(self.max))
    }

    fn show(&self, v: f64) -> String {
        match self.unit {
            Unit::Count => format!("{v}"),
            Unit::Bytes => show_bytes(v),
            Unit::Millis => format!("{v}ms"),
            Unit::Seconds | Unit::Duration => show_seconds(v),
            Unit::Rate => format!("{v}/s"),
        }
    }

    fn holds(&self, v: f64) -> bool {
        let low = if self.above_min {
            v > self.min
        } else {
            v >= self.min
        };
        v.is_finite() && low && v <= self.max
    }

    fn refuse(&self, given: String) -> RangeError {
        RangeError {
            flag: self.flag,
            given,
            range: self.range(),
        }
    }

    /// Checks a count, a byte size or a number of milliseconds.
    pub fn check(&self, v: u64) -> Result<u64, RangeError> {
        if self.holds(v as f64) {
            Ok(v)
        } else {
            Err(self.refuse(match self.unit {
                Unit::Bytes => show_bytes(v as f64),
                Unit::Millis => format!("{v}ms"),
                _ => v.to_string(),
            }))
        }
    }

    /// Checks a fractional number (seconds, a rate).
    pub fn check_f64(&self, v: f64) -> Result<f64, RangeError> {
        if self.holds(v) {
            Ok(v)
        } else {
            Err(self.refuse(v.to_string()))
        }
    }

    /// Checks a duration.
    pub fn check_duration(&self, d: Duration) -> Result<Duration, RangeError> {
        if self.holds(d.as_secs_f64()) {
            Ok(d)
        } else {
            Err(self.refuse(format!("{d:?}")))
        }
    }
}

/// The table of every limit, as Markdown rows (`| flag | commands | range |`),
/// as the README lists them.
pub fn markdown_rows() -> String {
    ALL.iter()
        .map(|l| {
            format!(
                "| `{}` | {} | {} |\n",
                l.flag,
                l.commands.join(", "),
                l.range()
            )
        })
        .collect()
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.flag, self.range())
    }
}

fn show_bytes(v: f64) -> String {
    for (unit, size) in [("GiB", GIB), ("MiB", MIB), ("KiB", KIB)] {
        if v >= size && (v / size).fract() == 0.0 {
            return format!("{}{unit}", v / size);
        }
    }
    format!("{v}")
}

fn show_seconds(v: f64) -> String {
    if v >= DAY && (v / DAY).fract() == 0.0 {
        format!("{}d", v / DAY)
    } else if v >= HOUR && (v / HOUR).fract() == 0.0 {
        format!("{}h", v / HOUR)
    } else {
        format!("{v}s")
    }
}

/// Parses a byte size: `65536`, `64KiB`, `1MiB`, `2GiB` (also `K`, `M`,
/// `G`, `KB`, `MB`, `GB`, all powers of 1024).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a size (try 65536, 64KiB, 1MiB)"))?;
    let scale: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        _ => return Err(format!("unknown unit in {s:?} (use KiB, MiB or GiB)")),
    };
    n.checked_mul(scale)
        .ok_or_else(|| format!("{s:?} is too large"))
}

/// Adds each flag's range to its help text, for every command that has it.
pub fn annotate(mut cmd: clap::Command) -> clap::Command {
    for l in ALL {
        for name in l.commands {
            cmd = cmd.mut_subcommand(*name, |sub| {
                if !sub.get_arguments().any(|a| a.get_id() == l.id) {
                    return sub;
                }
                sub.mut_arg(l.id, |a| {
                    let with_range = |h: Option<&clap::builder::StyledStr>| {
                        let h = h.map(|h| h.to_string()).unwrap_or_default();
                        format!("{} [range: {}]", h.trim_end(), l.range())
                    };
                    let help = with_range(a.get_help());
                    let long = a.get_long_help().map(|h| with_range(Some(h)));
                    let a = a.help(help);
                    match long {
                        Some(long) => a.long_help(long),
                        None => a,
                    }
                })
            });
        }
    }
    cmd
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn ranges_read_as_words() {
        assert_eq!(CONNECTIONS.range(), "1 to 100000");
        assert_eq!(MAX_BODY.range(), "1KiB to 1GiB");
        assert_eq!(RATE.range(), "above 0/s to 10000000/s");
        assert_eq!(DURATION.range(), "above 0s to 7d");
        assert_eq!(START_TIMEOUT.range(), "above 0s to 1h");
        assert_eq!(ALLOW_ERRORS.range(), "0 or more");
    }

    #[test]
    fn values_outside_are_refused_naming_flag_and_range() {
        assert_eq!(CONNECTIONS.check(64), Ok(64));
        let e = CONNECTIONS.check(10_000_000).unwrap_err();
        assert_eq!(
            e.to_string(),
            "-c/--connections 10000000 is out of range: it takes 1 to 100000"
        );
        assert!(RATE.check_f64(1e12).is_err());
        assert!(RATE.check_f64(0.0).is_err());
        assert!(RATE.check_f64(f64::NAN).is_err());
        assert!(START_TIMEOUT.check_f64(1e19).is_err());
        assert!(START_TIMEOUT.check_f64(30.0).is_ok());
        assert!(DURATION.check_duration(Duration::ZERO).is_err());
        assert!(WARMUP.check_duration(Duration::ZERO).is_ok());
        assert!(SIZE.check(64 << 20).is_ok());
        assert!(SIZE
            .check((64 << 20) + 1)
            .unwrap_err()
            .to_string()
            .contains("64MiB"));
        assert_eq!(ALLOW_ERRORS.check(u64::MAX), Ok(u64::MAX));
    }

    #[test]
    fn the_readme_lists_every_range() {
        let readme = include_str!("../README.md");
        let rows = markdown_rows();
        assert!(
            readme.contains(&rows),
            "README.md's Limits table should read:\n{rows}"
        );
    }

    #[test]
    fn sizes_parse_with_binary_suffixes() {
        assert_eq!(parse_size("65536"), Ok(65536));
        assert_eq!(parse_size("64KiB"), Ok(64 << 10));
        assert_eq!(parse_size("1MiB"), Ok(1 << 20));
        assert_eq!(parse_size("2g"), Ok(2 << 30));
        assert!(parse_size("1.5MiB").is_err());
        assert!(parse_size("lots").is_err());
        assert!(parse_size("99999999999999GiB").is_err());
    }

    #[test]
    fn every_limit_names_an_argument_of_its_commands_and_shows_in_help() {
        let cmd = annotate(crate::cli::Cli::command());
        for l in ALL {
            for name in l.commands {
                let sub = cmd
                    .find_subcommand(name)
                    .unwrap_or_else(|| panic!("no command {name}"));
                let arg = sub
                    .get_arguments()
                    .find(|a| a.get_id() == l.id)
                    .unwrap_or_else(|| panic!("{name} has no argument {}", l.id));
                let help = arg.get_help().map(|h| h.to_string()).unwrap_or_default();
                assert!(help.contains(&l.range()), "{name} {}: {help}", l.flag);
                let long = arg.get_long().map(|l| format!("--{l}")).unwrap_or_default();
                assert!(l.flag.ends_with(&long), "{} is not {long}", l.flag);
            }
        }
    }
}
