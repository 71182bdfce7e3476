//! A run compared with its expectations: what changed, case by case, and
//! whether that fails the run. The reports render it; they decide nothing.

use std::collections::HashSet;

use serde::Serialize;

use super::file::ExpectationsFile;
use crate::conformance::{CaseResult, Outcome};

/// How a case's outcome compares with what the file expects of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Change {
    /// The outcome the file names.
    Expected,
    /// A `fail` or `warn` where the file expects something else.
    Broken,
    /// A `pass` where the file expects something else: update the file.
    Fixed,
    /// A `skip` or `quirk` where the file expects something else.
    Changed,
    /// The file does not name the case.
    New,
    /// The case ended in `error`: nothing was decided, nothing compared.
    Undecided,
}

impl Change {
    pub fn as_str(self) -> &'static str {
        match self {
            Change::Expected => "expected",
            Change::Broken => "broken",
            Change::Fixed => "fixed",
            Change::Changed => "changed",
            Change::New => "new",
            Change::Undecided => "undecided",
        }
    }
}

/// The change for a case the file expects `expected` of (`None`: not in
/// the file) and the run gave `actual`.
pub fn classify(expected: Option<Outcome>, actual: Outcome) -> Change {
    match (expected, actual) {
        (_, Outcome::Error) => Change::Undecided,
        (None, _) => Change::New,
        (Some(e), a) if e == a => Change::Expected,
        (Some(_), Outcome::Fail | Outcome::Warn) => Change::Broken,
        (Some(_), Outcome::Pass) => Change::Fixed,
        (Some(_), Outcome::Skip | Outcome::Quirk) => Change::Changed,
    }
}

/// One case of the run against the file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CaseDelta {
    pub id: String,
    /// What the file says; `None` when it does not name the case.
    pub expected: Option<Outcome>,
    pub actual: Outcome,
    pub change: Change,
    /// The entry's line in the file, when it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
}

impl CaseDelta {
    /// A failure no one expected: it fails the run whatever the flags.
    pub fn is_unexpected_failure(&self) -> bool {
        match self.change {
            Change::Broken => true,
            Change::New => matches!(self.actual, Outcome::Fail | Outcome::Warn),
            _ => false,
        }
    }

    /// Anything the file does not describe exactly (what
    /// `--strict-expectations` fails on), errors aside.
    pub fn is_off(&self) -> bool {
        !matches!(self.change, Change::Expected | Change::Undecided)
    }
}

/// An entry for a case id that no longer exists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StaleEntry {
    pub id: String,
    pub expected: Outcome,
    pub line: usize,
}

/// Counts per change.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct DeltaCounts {
    pub expected: usize,
    pub broken: usize,
    pub fixed: usize,
    pub changed: usize,
    pub new: usize,
    /// New cases that fail or warn (counted in `new` too).
    pub new_failing: usize,
    pub stale: usize,
    pub undecided: usize,
}

/// One stack's run against its section of an expectations file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delta {
    /// The file, as given.
    pub file: String,
    /// The label of the section used; `None` when the file has none for
    /// this stack (then every case is new).
    pub section: Option<String>,
    /// The labels the file has, for the message when none matched.
    pub file_labels: Vec<String>,
    /// `--strict-expectations`: anything off fails the run.
    pub strict: bool,
    /// Every case of the run, in run order.
    pub cases: Vec<CaseDelta>,
    /// Entries of the section whose case id no longer exists.
    pub stale: Vec<StaleEntry>,
    /// Entries of the section for cases that exist but were not selected.
    pub not_run: usize,
}

impl Delta {
    /// Compares one stack's results with the file. `known` holds every
    /// case id of the spec set (selected or not): an entry outside it is
    /// stale, an entry inside it that did not run is only counted.
    pub fn compare(
        file: &ExpectationsFile,
        label: &str,
        single_stack_run: bool,
        results: &[CaseResult],
        known: &HashSet<&str>,
        strict: bool,
    ) -> Delta {
        let section = file.section_for(label, single_stack_run);
        let cases: Vec<CaseDelta> = results
            .iter()
            .map(|r| {
                let id = &r.case.case.id;
                let entry = section.and_then(|s| s.cases.get(id));
                let expected = entry.map(|e| e.outcome);
                CaseDelta {
                    id: id.clone(),
                    expected,
                    actual: r.verdict.outcome,
                    change: classify(expected, r.verdict.outcome),
                    line: entry.map(|e| e.line).filter(|l| *l > 0),
                }
            })
            .collect();
        let ran: HashSet<&str> = cases.iter().map(|c| c.id.as_str()).collect();
        let mut stale = Vec::new();
        let mut not_run = 0;
        for (id, e) in section.map(|s| s.cases.iter()).into_iter().flatten() {
            if !known.contains(id.as_str()) {
                stale.push(StaleEntry {
                    id: id.clone(),
                    expected: e.outcome,
                    line: e.line,
                });
            } else if !ran.contains(id.as_str()) {
                not_run += 1;
            }
        }
        stale.sort_by_key(|s| s.line);
        Delta {
            file: file.file.clone(),
            section: section.map(|s| s.label.clone()),
            file_labels: file.labels().into_iter().map(String::from).collect(),
            strict,
            cases,
            stale,
            not_run,
        }
    }

    pub fn counts(&self) -> DeltaCounts {
        let mut c = DeltaCounts {
            stale: self.stale.len(),
            ..DeltaCounts::default()
        };
        for d in &self.cases {
            *match d.change {
                Change::Expected => &mut c.expected,
                Change::Broken => &mut c.broken,
                Change::Fixed => &mut c.fixed,
                Change::Changed => &mut c.changed,
                Change::New => &mut c.new,
                Change::Undecided => &mut c.undecided,
            } += 1;
            if d.change == Change::New && d.is_unexpected_failure() {
                c.new_failing += 1;
            }
        }
        c
    }

    /// The cases of one kind of change, in run order.
    pub fn with(&self, change: Change) -> impl Iterator<Item = &CaseDelta> {
        self.cases.iter().filter(move |c| c.change == change)
    }

    /// Failures no one expected (broken cases, new cases that fail or warn).
    pub fn unexpected_failures(&self) -> impl Iterator<Item = &CaseDelta> {
        self.cases.iter().filter(|c| c.is_unexpected_failure())
    }

    /// What the file says about `id`, when the run compared it.
    pub fn of(&self, id: &str) -> Option<&CaseDelta> {
        self.cases.iter().find(|c| c.id == id)
    }

    /// Whether the comparison fails the run (exit 1): an unexpected
    /// failure; with `--strict-expectations`, anything the file does not
    /// describe exactly (fixed, changed, new or stale).
    pub fn fails_run(&self) -> bool {
        self.unexpected_failures().next().is_some()
            || (self.strict && (self.cases.iter().any(CaseDelta::is_off) || !self.stale.is_empty()))
    }

    /// Nothing differs from the file.
    pub fn is_clean(&self) -> bool {
        !self.cases.iter().any(CaseDelta::is_off) && self.stale.is_empty()
    }

    /// Every case and stale entry that is not as expected, unexpected
    /// failures first, then the rest in the order fixed, changed, new,
    /// stale (as the reports list them).
    pub fn notable(&self) -> Vec<Notable<'_>> {
        let mut out: Vec<Notable> = self.unexpected_failures().map(Notable::Case).collect();
        for change in [Change::Fixed, Change::Changed, Change::New] {
            out.extend(
                self.with(change)
                    .filter(|c| !c.is_unexpected_failure())
                    .map(Notable::Case),
            );
        }
        out.extend(self.stale.iter().map(Notable::Stale));
        out
    }

    /// The JSON form.
    pub fn to_json(&self) -> serde_json::Value {
        let list = |change: Change| -> Vec<&CaseDelta> { self.with(change).collect() };
        serde_json::json!({
            "file": self.file,
            "stack": self.section,
            "strict": self.strict,
            "fails_run": self.fails_run(),
            "counts": self.counts(),
            "broken": list(Change::Broken),
            "fixed": list(Change::Fixed),
            "changed": list(Change::Changed),
            "new": list(Change::New),
            "stale": self.stale,
            "undecided": list(Change::Undecided),
            "not_run": self.not_run,
        })
    }
}

/// A line of the delta worth showing.
#[derive(Debug, Clone, Copy)]
pub enum Notable<'a> {
    Case(&'a CaseDelta),
    Stale(&'a StaleEntry),
}

impl<'a> Notable<'a> {
    /// `broken`, `new`, `stale`, ...
    pub fn label(&self) -> &'static str {
        match self {
            Notable::Case(c) => c.change.as_str(),
            Notable::Stale(_) => "stale",
        }
    }

    pub fn id(&self) -> &'a str {
        match self {
            Notable::Case(c) => &c.id,
            Notable::Stale(s) => &s.id,
        }
    }

    /// Whether this line alone fails the run.
    pub fn fails_run(&self, strict: bool) -> bool {
        match self {
            Notable::Case(c) => c.is_unexpected_failure() || (strict && c.is_off()),
            Notable::Stale(_) => strict,
        }
    }

    /// What happened and what to do, in words: `expected pass, got fail`.
    pub fn explain(&self) -> String {
        match self {
            Notable::Case(c) => match (c.change, c.expected) {
                (Change::New, _) => format!("{} (not in the expectations file)", c.actual.as_str()),
                (Change::Fixed, Some(e)) => {
                    format!("expected {}, got pass: update the expectations", e.as_str())
                }
                (_, Some(e)) => format!("expected {}, got {}", e.as_str(), c.actual.as_str()),
                (_, None) => c.actual.as_str().to_string(),
            },
            Notable::Stale(s) => format!(
                "expected {} (line {}), but no such case exists any more: remove the entry",
                s.expected.as_str(),
                s.line
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Outcome::*;

    #[test]
    fn every_pair_has_its_change() {
        assert_eq!(classify(Some(Fail), Fail), Change::Expected);
        assert_eq!(classify(Some(Quirk), Quirk), Change::Expected);
        assert_eq!(classify(Some(Pass), Fail), Change::Broken);
        assert_eq!(classify(Some(Quirk), Warn), Change::Broken);
        assert_eq!(classify(Some(Warn), Fail), Change::Broken);
        assert_eq!(classify(Some(Fail), Pass), Change::Fixed);
        assert_eq!(classify(Some(Fail), Skip), Change::Changed);
        assert_eq!(classify(Some(Pass), Quirk), Change::Changed);
        assert_eq!(classify(None, Pass), Change::New);
        assert_eq!(classify(None, Fail), Change::New);
        assert_eq!(classify(Some(Pass), Error), Change::Undecided);
        assert_eq!(classify(None, Error), Change::Undecided);
    }

    fn delta(cases: &[(Option<Outcome>, Outcome)], strict: bool, stale: bool) -> Delta {
        Delta {
            file: "e.toml".into(),
            section: Some("s".into()),
            file_labels: vec!["s".into()],
            strict,
            cases: cases
                .iter()
                .enumerate()
                .map(|(i, (e, a))| CaseDelta {
                    id: format!("c{i}"),
                    expected: *e,
                    actual: *a,
                    change: classify(*e, *a),
                    line: None,
                })
                .collect(),
            stale: if stale {
                vec![StaleEntry {
                    id: "gone".into(),
                    expected: Fail,
                    line: 3,
                }]
            } else {
                vec![]
            },
            not_run: 0,
        }
    }

    #[test]
    fn what_fails_the_run() {
        let as_expected = [(Some(Fail), Fail), (Some(Warn), Warn), (Some(Pass), Pass)];
        assert!(!delta(&as_expected, true, false).fails_run());
        assert!(delta(&as_expected, true, false).is_clean());
        assert!(delta(&[(Some(Pass), Fail)], false, false).fails_run());
        assert!(delta(&[(Some(Pass), Warn)], false, false).fails_run());
        assert!(delta(&[(None, Fail)], false, false).fails_run());
        for off in [(Some(Fail), Pass), (Some(Fail), Skip), (None, Pass)] {
            assert!(!delta(&[off], false, false).fails_run(), "{off:?}");
            assert!(delta(&[off], true, false).fails_run(), "{off:?} strict");
        }
        assert!(!delta(&[], false, true).fails_run());
        assert!(delta(&[], true, true).fails_run());
        // An error decides nothing: the exit code says so (2), not the delta.
        assert!(!delta(&[(Some(Pass), Error)], true, false).fails_run());
    }

    #[test]
    fn unexpected_failures_come_first() {
        let d = delta(
            &[
                (Some(Fail), Pass),
                (None, Pass),
                (Some(Pass), Fail),
                (None, Warn),
            ],
            false,
            true,
        );
        let order: Vec<(&str, &str)> = d.notable().iter().map(|n| (n.label(), n.id())).collect();
        assert_eq!(
            order,
            [
                ("broken", "c2"),
                ("new", "c3"),
                ("fixed", "c0"),
                ("new", "c1"),
                ("stale", "gone")
            ]
        );
        let c = d.counts();
        assert_eq!(
            (c.broken, c.fixed, c.new, c.new_failing, c.stale),
            (1, 1, 2, 1, 1)
        );
    }
}
