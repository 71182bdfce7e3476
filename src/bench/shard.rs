//! Sharded load: one plan split into N equal parts, each run by its own
//! process (on its own machine), and a start time on the wall clock so that
//! the parts measure the same window.
//!
//! Shard `i` of `n` (counted from 0, as a Kubernetes completion index is)
//! takes `1/n` of the connections (the first `connections % n` shards one
//! more) and, in the open model, `1/n` of the rate. Its requests are the
//! whole schedule's requests `i, i + n, i + 2n, ...`: request `j` of the
//! whole plan is due `j / rate` after the start, so shard `i` is offset by
//! `i / rate` and the shards' arrivals interleave instead of arriving in `n`
//! simultaneous bursts (docs/distributed.md).

use std::fmt;
use std::str::FromStr;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use super::plan::Model;

/// The most shards a plan splits into.
pub const MAX_SHARDS: u32 = 10_000;
/// How far ahead `--start-at` may be: further is a wrong date or zone.
pub const MAX_WAIT: Duration = Duration::from_secs(24 * 3600);

/// Which part of a plan this run is: `index` of `count`, from 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

/// A `--shard` that cannot be used, or a plan that cannot be split.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShardError {
    #[error(
        "bad --shard {0:?}: write I/N, the I-th of N parts counted from 0 (0/4, 1/4, 2/4, 3/4)"
    )]
    Syntax(String),
    #[error("bad --shard {text:?}: shards count from 0, so the last of {count} is {last}/{count}")]
    Index { text: String, count: u32, last: u32 },
    #[error("bad --shard {0:?}: N must be from 1 to {MAX_SHARDS}")]
    Count(String),
    #[error("{connections} connections cannot be split into {count} shards: give -c at least {count} (each shard needs one)")]
    Connections { connections: usize, count: u32 },
}

impl FromStr for Shard {
    type Err = ShardError;

    fn from_str(text: &str) -> Result<Shard, ShardError> {
        let syntax = || ShardError::Syntax(text.to_string());
        let (i, n) = text.trim().split_once('/').ok_or_else(syntax)?;
        let index: u32 = i.trim().parse().map_err(|_| syntax())?;
        let count: u32 = n.trim().parse().map_err(|_| syntax())?;
        if count == 0 || count > MAX_SHARDS {
            return Err(ShardError::Count(text.to_string()));
        }
        if index >= count {
            return Err(ShardError::Index {
                text: text.to_string(),
                count,
                last: count - 1,
            });
        }
        Ok(Shard { index, count })
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl Shard {
    /// This shard's part of `whole` (connections, or counted requests):
    /// equal parts, the first `whole % count` shards one more, so the parts
    /// add up to the whole.
    pub fn part(&self, whole: u64) -> u64 {
        let n = u64::from(self.count);
        whole / n + u64::from(u64::from(self.index) < whole % n)
    }

    /// This shard's load model: the whole rate over the shard count.
    pub fn model(&self, whole: Model) -> Model {
        match whole {
            Model::Closed => Model::Closed,
            Model::Open { rate } => Model::Open {
                rate: rate / f64::from(self.count),
            },
        }
    }

    /// Splits a plan's load: this shard's model and connections, and what
    /// the run records of the whole.
    pub fn split(&self, whole: Model, connections: usize) -> Result<ShardPlan, ShardError> {
        if connections < self.count as usize {
            return Err(ShardError::Connections {
                connections,
                count: self.count,
            });
        }
        Ok(ShardPlan {
            shard: *self,
            model: whole,
            connections,
            own_model: self.model(whole),
            own_connections: self.part(connections as u64) as usize,
        })
    }
}

/// A run that is one shard of a larger plan: which one, and the whole
/// plan's load (the run's own `Plan` carries its part).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ShardPlan {
    pub shard: Shard,
    /// The whole plan's model (its rate, in the open model).
    pub model: Model,
    /// The whole plan's connections.
    pub connections: usize,
    /// This shard's part of each.
    pub own_model: Model,
    pub own_connections: usize,
}

impl ShardPlan {
    /// Open model: how long after the schedule's start this shard's first
    /// request is due (`index / whole rate`), so the shards interleave.
    pub fn offset(&self) -> Duration {
        match self.model {
            Model::Open { rate } if rate > 0.0 => {
                Duration::from_secs_f64(f64::from(self.shard.index) / rate)
            }
            _ => Duration::ZERO,
        }
    }
}

/// A `--start-at` that cannot be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StartAtError {
    #[error(
        "bad --start-at {0:?}: give a wall-clock time in RFC 3339, such as 2026-12-01T10:00:00Z"
    )]
    Syntax(String),
    #[error(
        "--start-at {at} is {ahead} s away, more than a day: check the date and the time zone"
    )]
    TooFar { at: String, ahead: u64 },
    #[error("--start-at {at} passed {late:.1} s ago, too late for the measured window it sets (after {warmup:.1} s of warm-up); give every shard a later time")]
    Passed { at: String, late: f64, warmup: f64 },
}

/// Parses an RFC 3339 time (`2026-12-01T10:00:00Z`, `...+02:00`).
pub fn parse_start_at(text: &str) -> Result<SystemTime, StartAtError> {
    let t = chrono::DateTime::parse_from_rfc3339(text.trim())
        .map_err(|_| StartAtError::Syntax(text.to_string()))?;
    let t: SystemTime = t.with_timezone(&chrono::Utc).into();
    Ok(t)
}

/// `2026-12-01T10:00:00.000Z`: how reports write a wall-clock time.
pub fn rfc3339(t: SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(t).to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Checks `at` against `now` for a run with `warmup`: not more than a day
/// ahead, and not so late that the measured window (which starts at `at +
/// warmup`) has already begun. A shard that starts late inside the warm-up
/// still measures the same window, with a shorter warm-up.
pub fn check_start_at(
    at: SystemTime,
    now: SystemTime,
    warmup: Duration,
) -> Result<(), StartAtError> {
    if let Ok(ahead) = at.duration_since(now) {
        if ahead > MAX_WAIT {
            return Err(StartAtError::TooFar {
                at: rfc3339(at),
                ahead: ahead.as_secs(),
            });
        }
        return Ok(());
    }
    let late = now.duration_since(at).unwrap_or_default();
    if late >= warmup {
        return Err(StartAtError::Passed {
            at: rfc3339(at),
            late: late.as_secs_f64(),
            warmup: warmup.as_secs_f64(),
        });
    }
    Ok(())
}

/// The local host's name, so that a merged report can say which machine
/// ran each shard (a Kubernetes pod's name).
pub fn hostname() -> Option<String> {
    let mut buf = [0u8; 256];
    // SAFETY: gethostname writes at most `len` bytes into the buffer.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return None;
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    let name = String::from_utf8_lossy(&buf[..end]).into_owned();
    (!name.is_empty()).then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_parse_and_are_explained() {
        assert_eq!("3/8".parse(), Ok(Shard { index: 3, count: 8 }));
        assert_eq!(" 0 / 1 ".parse(), Ok(Shard { index: 0, count: 1 }));
        assert!(matches!(
            "8/8".parse::<Shard>(),
            Err(ShardError::Index { last: 7, .. })
        ));
        assert!(matches!("1/0".parse::<Shard>(), Err(ShardError::Count(_))));
        for bad in ["3", "a/b", "-1/4", "1/4/2", ""] {
            assert!(
                matches!(bad.parse::<Shard>(), Err(ShardError::Syntax(_))),
                "{bad}"
            );
        }
        assert_eq!(Shard { index: 3, count: 8 }.to_string(), "3/8");
    }

    #[test]
    fn parts_add_up_to_the_whole() {
        for (whole, n) in [(512u64, 8u32), (10, 3), (7, 7), (100_001, 16)] {
            let parts: Vec<u64> = (0..n)
                .map(|index| Shard { index, count: n }.part(whole))
                .collect();
            assert_eq!(parts.iter().sum::<u64>(), whole, "{whole}/{n}");
            let (min, max) = (parts.iter().min().unwrap(), parts.iter().max().unwrap());
            assert!(max - min <= 1, "{parts:?}");
        }
        let s = Shard { index: 1, count: 4 };
        assert_eq!(
            s.model(Model::Open { rate: 20_000.0 }),
            Model::Open { rate: 5_000.0 }
        );
        assert_eq!(s.model(Model::Closed), Model::Closed);
        assert!(matches!(
            s.split(Model::Closed, 3),
            Err(ShardError::Connections { .. })
        ));
        let p = s.split(Model::Open { rate: 1000.0 }, 10).unwrap();
        assert_eq!((p.connections, p.own_connections), (10, 3));
        assert_eq!(p.offset(), Duration::from_millis(1));
    }

    /// The shards' schedules, put together, are the whole plan's schedule:
    /// every request of the whole is due once, at its own time.
    #[test]
    fn shard_schedules_interleave_into_the_whole() {
        let rate = 1000.0;
        let n = 4u32;
        let mut due: Vec<u64> = Vec::new();
        for index in 0..n {
            let p = Shard { index, count: n }
                .split(Model::Open { rate }, 8)
                .unwrap();
            let Model::Open { rate: own } = p.own_model else {
                panic!("open")
            };
            for m in 0..250u64 {
                let ns = p.offset().as_nanos() as f64 + m as f64 * 1e9 / own;
                due.push(ns.round() as u64);
            }
        }
        due.sort_unstable();
        let whole: Vec<u64> = (0..1000u64).map(|j| j * 1_000_000).collect();
        assert_eq!(due, whole);
    }

    #[test]
    fn start_times() {
        let at = parse_start_at("2026-12-01T10:00:00Z").unwrap();
        assert_eq!(
            at,
            parse_start_at("2026-12-01T11:00:00+01:00").unwrap(),
            "zones"
        );
        assert_eq!(rfc3339(at), "2026-12-01T10:00:00.000Z");
        assert!(matches!(
            parse_start_at("tomorrow"),
            Err(StartAtError::Syntax(_))
        ));
        let s = Duration::from_secs;
        assert_eq!(check_start_at(at, at - s(60), s(2)), Ok(()));
        assert!(matches!(
            check_start_at(at, at - s(2 * 86_400), s(2)),
            Err(StartAtError::TooFar { .. })
        ));
        // Late inside the warm-up: the window is still ahead.
        assert_eq!(check_start_at(at, at + s(1), s(2)), Ok(()));
        assert!(matches!(
            check_start_at(at, at + s(3), s(2)),
            Err(StartAtError::Passed { .. })
        ));
    }
}
