//! The check report: the JSON document of a conformance run.
//!
//! Contract relied on by other tools: top-level `cases` (each with `id`,
//! `level`, `outcome`, `requirement`, `expected`, `actual`) and `summary`
//! (counts per outcome). Fields may be added; these are never renamed.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;
use serde_json::{json, Value};

use crate::conformance::quirks::AppliedQuirk;
use crate::conformance::{CaseResult, Outcome, Stopped, ValidateReport};
use crate::exit::Signal;
use crate::expectations::Delta;
use crate::gateway::Stack;

/// The tool that made a report.
#[derive(Debug, Clone, Serialize)]
pub struct ToolInfo {
    pub name: &'static str,
    pub version: &'static str,
}

impl Default for ToolInfo {
    fn default() -> Self {
        ToolInfo {
            name: env!("CARGO_PKG_NAME"),
            version: env!("CARGO_PKG_VERSION"),
        }
    }
}

/// Counts per outcome.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub total: usize,
    pub pass: usize,
    pub fail: usize,
    pub warn: usize,
    pub skip: usize,
    pub error: usize,
    /// Warns and skips a declared server quirk explains.
    pub quirk: usize,
    /// Failures of security cases (counted in `fail` too).
    #[serde(skip_serializing_if = "is_zero")]
    pub security: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl Summary {
    pub fn of(results: &[CaseResult]) -> Summary {
        let mut s = Summary {
            total: results.len(),
            ..Summary::default()
        };
        for r in results {
            s.add_outcome(r.verdict.outcome);
            s.security += usize::from(r.security_finding());
        }
        s.total = results.len();
        s
    }

    /// Counts one more case with outcome `o`.
    pub fn add(&mut self, o: Outcome) {
        self.total += 1;
        self.add_outcome(o);
    }

    fn add_outcome(&mut self, o: Outcome) {
        *match o {
            Outcome::Pass => &mut self.pass,
            Outcome::Fail => &mut self.fail,
            Outcome::Warn => &mut self.warn,
            Outcome::Skip => &mut self.skip,
            Outcome::Error => &mut self.error,
            Outcome::Quirk => &mut self.quirk,
        } += 1;
    }

    /// The outcomes that occurred, with their counts: `3 pass, 1 fail`.
    pub fn counts_text(&self) -> String {
        let parts: Vec<String> = [
            (self.pass, "pass"),
            (self.fail, "fail"),
            (self.warn, "warn"),
            (self.skip, "skip"),
            (self.error, "error"),
            (self.quirk, "quirk"),
        ]
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, name)| format!("{n} {name}"))
        .collect();
        parts.join(", ")
    }

    /// One line: `31 cases: 28 pass, 2 fail, 1 warn, 0 skip, 0 error`
    /// (and `, N quirk` when quirks explained some).
    pub fn line(&self) -> String {
        let mut s = format!(
            "{} cases: {} pass, {} fail, {} warn, {} skip, {} error",
            self.total, self.pass, self.fail, self.warn, self.skip, self.error
        );
        if self.quirk > 0 {
            s.push_str(&format!(", {} quirk", self.quirk));
        }
        if self.security > 0 {
            let plural = if self.security == 1 { "" } else { "s" };
            s.push_str(&format!(
                "; {} SECURITY finding{plural} among the failures",
                self.security
            ));
        }
        s
    }
}

/// Everything a conformance run produced.
#[derive(Debug, Clone)]
pub struct CheckReport {
    pub tool: ToolInfo,
    pub stack: Stack,
    pub started: SystemTime,
    pub duration: Duration,
    pub strict: bool,
    pub results: Vec<CaseResult>,
    /// Set when the server exited during the run.
    pub server_exited: Option<String>,
    /// What `--validate` found; `None` without it.
    pub validate: Option<ValidateReport>,
    /// Every declared quirk that met a case that did not pass, in case
    /// order (each result's own `quirk`, gathered).
    pub quirks_applied: Vec<AppliedQuirk>,
    /// The run compared with `--expectations`; `None` without it.
    pub expectations: Option<Delta>,
    /// Why the run stopped before every case was decided, if it did.
    pub stopped: Option<Stopped>,
    /// The signal that stopped it, when one did.
    pub interrupted: Option<Signal>,
    /// Ids of the cases a stopped run did not decide.
    pub not_run: Vec<String>,
}

impl CheckReport {
    pub fn summary(&self) -> Summary {
        Summary::of(&self.results)
    }

    /// Whether this case, by itself, makes the run exit 1. Without
    /// expectations: a fail (and a warn with `--strict`). With them: an
    /// unexpected fail or warn (and anything the file does not describe
    /// with `--strict-expectations`).
    pub fn fails_run(&self, r: &CaseResult) -> bool {
        match &self.expectations {
            Some(d) => d
                .of(&r.case.case.id)
                .is_some_and(|c| c.is_unexpected_failure() || (d.strict && c.is_off())),
            None => {
                r.verdict.outcome == Outcome::Fail
                    || (self.strict && r.verdict.outcome == Outcome::Warn)
            }
        }
    }

    /// The JSON document.
    pub fn to_json(&self) -> Value {
        let cases: Vec<Value> = self
            .results
            .iter()
            .map(|r| {
                let c = &r.case.case;
                let quirk = self.quirks_applied.iter().find(|q| q.case == c.id);
                let mut case = json!({
                    "id": c.id,
                    "area": r.case.area,
                    "level": c.level.as_str(),
                    "outcome": r.verdict.outcome.as_str(),
                    "source": c.source,
                    "requirement": c.requirement,
                    "covers": c.covers,
                    "stimulus": c.stimulus,
                    "expected": r.verdict.expected,
                    "actual": r.verdict.actual,
                    "note": c.note,
                    "elapsed_ms": r.elapsed.as_secs_f64() * 1000.0,
                    "request": r.request,
                    "response_head": r.response_head,
                    "quirk": quirk,
                    "security": c.security,
                    "finding": r.finding(),
                    "fix": r.deployment,
                });
                if let Some(d) = self.expectations.as_ref().and_then(|d| d.of(&c.id)) {
                    case["expectation"] = json!({
                        "outcome": d.expected,
                        "change": d.change,
                    });
                }
                case
            })
            .collect();
        let mut doc = json!({
            "tool": self.tool,
            "kind": "check",
            "started_at": rfc3339(self.started),
            "duration_ms": self.duration.as_millis() as u64,
            "strict": self.strict,
            "stack": self.stack,
            "server_exited": self.server_exited,
            "stopped": self.stopped.map(|s| match s {
                Stopped::Cancelled => "interrupted",
                Stopped::FailFast => "fail-fast",
            }),
            "interrupted": self.interrupted.map(Signal::name),
            "not_run": self.not_run,
            "summary": self.summary(),
            "cases": cases,
            "quirks_applied": self.quirks_applied,
        });
        if let Some(v) = &self.validate {
            doc["validate"] = v.to_json();
        }
        if let Some(d) = &self.expectations {
            doc["expectations"] = d.to_json();
        }
        doc
    }
}

/// `2026-11-24T04:33:38Z` from a system time, without a date crate.
pub fn rfc3339(t: SystemTime) -> String {
    let secs = t
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil-from-days (Howard Hinnant's algorithm), valid for any date after 1970.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// The time [`rfc3339`] wrote (`2026-11-29T04:33:38Z`), for a saved report.
pub fn parse_rfc3339(text: &str) -> Option<SystemTime> {
    let b = text.as_bytes();
    if b.len() != 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[19] != b'Z' {
        return None;
    }
    let n = |r: std::ops::Range<usize>| text.get(r)?.parse::<i64>().ok();
    let (year, month, day) = (n(0..4)?, n(5..7)?, n(8..10)?);
    let (h, m, s) = (n(11..13)?, n(14..16)?, n(17..19)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || h > 23 || m > 59 || s > 60 {
        return None;
    }
    // Days-from-civil (Howard Hinnant's algorithm), the inverse of rfc3339's.
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + h * 3600 + m * 60 + s;
    Some(UNIX_EPOCH + Duration::from_secs(u64::try_from(secs).ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_known_dates() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        let t = UNIX_EPOCH + Duration::from_secs(1_795_926_818);
        assert_eq!(rfc3339(t), "2026-11-29T04:33:38Z");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400);
        assert_eq!(rfc3339(leap), "2000-02-29T00:00:00Z");
    }
}
