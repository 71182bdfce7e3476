//! The expectations file: reading it (every mistake named with its file,
//! stack and case), and writing it from a run, merged with what an older
//! file said about cases and stacks this run did not decide.
//!
//! ```toml
//! version = 1
//!
//! [stack."gunicorn"]
//! # gunicorn 27.0.1, Python 3.12.3, transport tcp, workers=1
//! "environ.request-method.extension" = "pass"
//! "input.chunked.decoded" = "fail" # observation.data = "5\r\nhello..."
//! ```

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use serde::Deserialize;
use toml::Spanned;

use crate::conformance::{CaseResult, Outcome};

/// The version of the format this build writes and reads.
const FORMAT_VERSION: i64 = 1;
/// The longest comment written beside an entry.
const COMMENT_CHARS: usize = 110;

/// What the file says about one case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    pub outcome: Outcome,
    /// Where it is written (1-based), for annotations; 0 when not from a file.
    pub line: usize,
}

/// One `[stack."LABEL"]` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackExpectations {
    /// The stack's label, as wsgiprobe names it (`gunicorn w2 + nginx`).
    pub label: String,
    pub cases: BTreeMap<String, Entry>,
}

/// A parsed expectations file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectationsFile {
    /// The file, as given on the command line (for messages).
    pub file: String,
    /// The sections, in file order.
    pub stacks: Vec<StackExpectations>,
}

/// An expectations file that cannot be read, used or written.
#[derive(Debug, thiserror::Error)]
pub enum ExpectationsError {
    #[error("cannot read the expectations file {file}")]
    Read {
        file: String,
        #[source]
        source: std::io::Error,
    },
    /// `entry` names the place: `line 4`, or `stack "gunicorn", case "x" (line 7)`.
    #[error("invalid expectations file {file}: {entry}: {message}")]
    Invalid {
        file: String,
        entry: String,
        message: String,
    },
    #[error("could not write the expectations to {file}")]
    Write {
        file: String,
        #[source]
        source: std::io::Error,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    version: Option<Spanned<toml::Value>>,
    #[serde(default)]
    stack: BTreeMap<String, BTreeMap<String, Spanned<toml::Value>>>,
}

fn line_of(text: &str, at: usize) -> usize {
    text[..at.min(text.len())].matches('\n').count() + 1
}

impl ExpectationsFile {
    /// Reads and checks a file.
    pub fn load(path: &Path) -> Result<ExpectationsFile, ExpectationsError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ExpectationsError::Read {
            file: file.clone(),
            source,
        })?;
        ExpectationsFile::parse(&file, &text)
    }

    /// Parses and checks the text of a file named `file`.
    pub fn parse(file: &str, text: &str) -> Result<ExpectationsFile, ExpectationsError> {
        let invalid = |entry: String, message: String| ExpectationsError::Invalid {
            file: file.to_string(),
            entry,
            message,
        };
        let raw: RawFile = toml::from_str(text).map_err(|e| {
            let at = e.span().map_or(0, |s| s.start);
            invalid(
                format!("line {}", line_of(text, at)),
                e.message().trim().to_string(),
            )
        })?;
        if let Some(v) = &raw.version {
            if v.get_ref().as_integer() != Some(FORMAT_VERSION) {
                return Err(invalid(
                    format!("line {}", line_of(text, v.span().start)),
                    format!(
                        "version {} is not one this wsgiprobe reads (it writes version {FORMAT_VERSION})",
                        v.get_ref()
                    ),
                ));
            }
        }
        let mut stacks = Vec::new();
        for (label, cases) in raw.stack {
            if label.trim().is_empty() {
                return Err(invalid(
                    "stack \"\"".into(),
                    "a stack label must not be empty".into(),
                ));
            }
            let mut entries = BTreeMap::new();
            let mut first = usize::MAX;
            for (id, value) in cases {
                let line = line_of(text, value.span().start);
                first = first.min(value.span().start);
                let entry = format!("stack {label:?}, case {id:?} (line {line})");
                let outcome = match value.get_ref() {
                    toml::Value::String(s) => parse_outcome(s).map_err(|m| invalid(entry, m))?,
                    toml::Value::Table(_) => {
                        return Err(invalid(
                            entry,
                            format!("case ids must be quoted: \"{id}.…\" = \"fail\", not {id}.… = \"fail\""),
                        ))
                    }
                    other => {
                        return Err(invalid(
                            entry,
                            format!("expected an outcome in quotes (\"pass\", \"fail\", \"warn\", \"skip\", \"quirk\"), found {other}"),
                        ))
                    }
                };
                entries.insert(id, Entry { outcome, line });
            }
            stacks.push((
                first,
                StackExpectations {
                    label,
                    cases: entries,
                },
            ));
        }
        stacks.sort_by_key(|(first, _)| *first);
        Ok(ExpectationsFile {
            file: file.to_string(),
            stacks: stacks.into_iter().map(|(_, s)| s).collect(),
        })
    }

    /// The section for the stack labelled `label`. A run of a single
    /// stack also takes the file's only section whatever its label, so a
    /// changed `--cmd` or `--url` does not orphan the file.
    pub fn section_for(&self, label: &str, single_stack_run: bool) -> Option<&StackExpectations> {
        self.stacks
            .iter()
            .find(|s| s.label == label)
            .or(match self.stacks.as_slice() {
                [only] if single_stack_run => Some(only),
                _ => None,
            })
    }

    /// The labels of every section, for messages.
    pub fn labels(&self) -> Vec<&str> {
        self.stacks.iter().map(|s| s.label.as_str()).collect()
    }
}

fn parse_outcome(s: &str) -> Result<Outcome, String> {
    match s {
        "pass" => Ok(Outcome::Pass),
        "fail" => Ok(Outcome::Fail),
        "warn" => Ok(Outcome::Warn),
        "skip" => Ok(Outcome::Skip),
        "quirk" => Ok(Outcome::Quirk),
        "error" => Err(
            "\"error\" cannot be expected: it means the harness could not decide; rerun the check"
                .into(),
        ),
        other => Err(format!(
            "unknown outcome {other:?}: use \"pass\", \"fail\", \"warn\", \"skip\" or \"quirk\""
        )),
    }
}

/// One stack of a finished run, to be written into the file.
#[derive(Debug, Clone, Copy)]
pub struct RunOutcomes<'a> {
    pub label: &'a str,
    /// One line about the stack (versions, options), written as a comment.
    pub description: &'a str,
    pub results: &'a [CaseResult],
}

/// What writing a file did, for the message after it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Written {
    /// The text of the new file.
    pub text: String,
    pub stacks: usize,
    pub cases: usize,
    /// Entries kept from the old file: cases this run did not decide.
    pub kept: usize,
    /// Entries of the old file dropped because their case no longer exists.
    pub dropped: Vec<String>,
}

/// The file that describes `runs`, keeping from `old` what the runs did
/// not decide: cases not selected or in error, and stacks not run. Entries
/// for case ids that no longer exist are dropped. `known` is every case id
/// of the spec set, in spec order: the order entries are written in.
pub fn write(
    old: Option<&ExpectationsFile>,
    runs: &[RunOutcomes],
    known: &[&str],
    header: &str,
) -> Written {
    let exists: HashSet<&str> = known.iter().copied().collect();
    let mut out = Written {
        text: format!("{header}version = {FORMAT_VERSION}\n"),
        ..Written::default()
    };
    let mut used: Vec<&str> = Vec::new();
    for run in runs {
        let previous = old.and_then(|f| f.section_for(run.label, runs.len() == 1));
        if let Some(p) = previous {
            used.push(&p.label);
        }
        out.text.push_str(&format!(
            "\n[stack.{}]\n# {}\n",
            quoted(run.label),
            flat(run.description)
        ));
        out.stacks += 1;
        for id in known {
            let result = run.results.iter().find(|r| r.case.case.id == *id);
            let kept = previous.and_then(|p| p.cases.get(*id));
            match (result, kept) {
                (Some(r), _) if r.verdict.outcome != Outcome::Error => {
                    let o = r.verdict.outcome;
                    out.text
                        .push_str(&format!("{} = \"{}\"", quoted(id), o.as_str()));
                    if o != Outcome::Pass {
                        out.text
                            .push_str(&format!(" # {}", one_line(&r.verdict.actual)));
                    }
                    out.text.push('\n');
                    out.cases += 1;
                }
                (r, Some(e)) => {
                    let why = if r.is_some() {
                        "undecided in this run (error)"
                    } else {
                        "not run this time"
                    };
                    out.text.push_str(&format!(
                        "{} = \"{}\" # kept: {why}\n",
                        quoted(id),
                        e.outcome.as_str()
                    ));
                    out.kept += 1;
                }
                _ => {}
            }
        }
        if let Some(p) = previous {
            out.dropped.extend(
                p.cases
                    .keys()
                    .filter(|id| !exists.contains(id.as_str()))
                    .map(|id| format!("{}: {id}", p.label)),
            );
        }
    }
    for section in old.map(|f| f.stacks.as_slice()).unwrap_or_default() {
        if used.contains(&section.label.as_str()) {
            continue;
        }
        out.text.push_str(&format!(
            "\n[stack.{}]\n# kept: not run this time\n",
            quoted(&section.label)
        ));
        out.stacks += 1;
        for id in known {
            if let Some(e) = section.cases.get(*id) {
                out.text
                    .push_str(&format!("{} = \"{}\"\n", quoted(id), e.outcome.as_str()));
                out.kept += 1;
            }
        }
        out.dropped.extend(
            section
                .cases
                .keys()
                .filter(|id| !exists.contains(id.as_str()))
                .map(|id| format!("{}: {id}", section.label)),
        );
    }
    out
}

/// A TOML basic string: always in double quotes, so every key and label
/// in the file looks the same.
fn quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Text fit for a comment: one line, no control characters.
fn flat(s: &str) -> String {
    let flat: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    flat.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A comment beside an entry: one line, bounded.
fn one_line(s: &str) -> String {
    let flat = flat(s);
    if flat.chars().count() <= COMMENT_CHARS {
        return flat;
    }
    let cut: String = flat.chars().take(COMMENT_CHARS - 1).collect();
    format!("{cut}…")
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
version = 1

[stack."gunicorn w2 + nginx"]
"environ.a" = "pass"
"environ.b" = "fail" # what it did

[stack."waitress"]
"environ.a" = "quirk"
"#;

    #[test]
    fn parses_sections_in_file_order_with_lines() {
        let f = ExpectationsFile::parse("e.toml", GOOD).unwrap();
        assert_eq!(f.labels(), ["gunicorn w2 + nginx", "waitress"]);
        let b = f.stacks[0].cases["environ.b"];
        assert_eq!((b.outcome, b.line), (Outcome::Fail, 6));
        assert_eq!(f.stacks[1].cases["environ.a"].outcome, Outcome::Quirk);
    }

    #[test]
    fn every_mistake_names_file_and_entry() {
        let cases = [
            (
                GOOD.replace("\"fail\"", "\"failed\""),
                "case \"environ.b\" (line 6)",
                "unknown outcome \"failed\"",
            ),
            (
                GOOD.replace("\"fail\"", "\"error\""),
                "case \"environ.b\"",
                "cannot be expected",
            ),
            (
                GOOD.replace("\"fail\"", "3"),
                "case \"environ.b\"",
                "expected an outcome",
            ),
            (
                GOOD.replace("\"environ.b\"", "environ.b"),
                "case \"environ\"",
                "must be quoted",
            ),
            (
                GOOD.replace("version = 1", "version = 2"),
                "line 2",
                "version 2",
            ),
            (
                GOOD.replace("[stack.", "[stacks."),
                "line 4",
                "unknown field",
            ),
            (
                format!("{GOOD}\"environ.a\" = \"pass\"\n"),
                "line",
                "duplicate",
            ),
        ];
        for (text, entry, message) in cases {
            let e = ExpectationsFile::parse("e.toml", &text).unwrap_err();
            let s = e.to_string();
            assert!(s.starts_with("invalid expectations file e.toml: "), "{s}");
            assert!(s.contains(entry) && s.contains(message), "{s}");
        }
    }

    #[test]
    fn a_single_stack_run_takes_the_only_section() {
        let f = ExpectationsFile::parse("e.toml", GOOD).unwrap();
        assert_eq!(f.section_for("waitress", false).unwrap().label, "waitress");
        assert!(f.section_for("granian", true).is_none(), "two sections");
        let one = ExpectationsFile::parse("e.toml", "[stack.\"a\"]\n\"x\" = \"pass\"\n").unwrap();
        assert_eq!(one.section_for("b", true).unwrap().label, "a");
        assert!(one.section_for("b", false).is_none());
    }

    fn result(case: &crate::spec::LoadedCase, outcome: Outcome, actual: &str) -> CaseResult {
        CaseResult {
            case: case.clone(),
            verdict: crate::conformance::Verdict {
                outcome,
                expected: String::new(),
                actual: actual.into(),
            },
            quirk: None,
            deployment: None,
            elapsed: std::time::Duration::ZERO,
            request: String::new(),
            response_head: None,
            timed_out: false,
        }
    }

    #[test]
    fn writing_keeps_what_the_run_did_not_decide() {
        let set = crate::spec::load_builtin().unwrap();
        let c: Vec<&crate::spec::LoadedCase> = set.cases.iter().take(3).collect();
        let ids: Vec<&str> = c.iter().map(|c| c.case.id.as_str()).collect();
        let old = ExpectationsFile::parse(
            "e.toml",
            &format!(
                "[stack.\"a\"]\n\"{}\" = \"fail\"\n\"{}\" = \"warn\"\n\"gone.case\" = \"fail\"\n[stack.\"b\"]\n\"{}\" = \"pass\"\n",
                ids[0], ids[1], ids[0]
            ),
        )
        .unwrap();
        let results = [
            result(c[0], Outcome::Fail, "status = 200\r\nand more"),
            result(c[1], Outcome::Error, "could not connect"),
        ];
        let runs = [RunOutcomes {
            label: "a",
            description: "gunicorn 27.0.1",
            results: &results,
        }];
        let w = write(Some(&old), &runs, &ids, "# header\n");
        assert!(w.text.starts_with("# header\nversion = 1\n"), "{}", w.text);
        assert!(
            w.text.contains(&format!(
                "\"{}\" = \"fail\" # status = 200 and more\n",
                ids[0]
            )),
            "{}",
            w.text
        );
        assert!(w.text.contains(&format!(
            "\"{}\" = \"warn\" # kept: undecided in this run (error)\n",
            ids[1]
        )));
        assert!(!w.text.contains(ids[2]), "neither run nor kept");
        assert_eq!((w.stacks, w.cases, w.kept), (2, 1, 2));
        assert_eq!(w.dropped, ["a: gone.case"]);
        let back = ExpectationsFile::parse("e.toml", &w.text).unwrap();
        assert_eq!(back.labels(), ["a", "b"]);
        assert_eq!(back.stacks[0].cases[ids[0]].outcome, Outcome::Fail);
        assert_eq!(back.stacks[1].cases[ids[0]].outcome, Outcome::Pass);
        assert!(!back.stacks[0].cases.contains_key("gone.case"));
    }

    #[test]
    fn comments_are_one_bounded_line() {
        assert_eq!(one_line("a\r\nb\tc"), "a b c");
        let long = "x".repeat(500);
        assert_eq!(one_line(&long).chars().count(), COMMENT_CHARS);
        assert_eq!(quoted("a\"b\\c\u{1}"), r#""a\"b\\c\u0001""#);
        let back: toml::Table = toml::from_str(&format!("{} = 1", quoted("a\"b\\c\u{1}"))).unwrap();
        assert!(back.contains_key("a\"b\\c\u{1}"));
    }
}
