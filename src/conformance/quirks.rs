//! Server quirks as data: a server's documented policy that departs from a
//! case's expectation, shown as information rather than as a finding.
//!
//! A quirk names a server (its `--server` name, or a prefix of its
//! `SERVER_SOFTWARE`), a case id, and the reason with its source. When a
//! stack matches and the case did not pass:
//! - a `warn` (a broken SHOULD) or a `skip` becomes `quirk`;
//! - a `fail` (a broken MUST) stands: a quirk never excuses a MUST, it is
//!   only shown beside the failure;
//! - an `error` stands: nothing was decided.
//!
//! Every quirk that matched a non-pass outcome is listed in the report
//! (`quirks_applied`), downgraded or not, so nothing is hidden silently.
//!
//! This file reads and checks quirk files; applying a quirk is the last
//! stage of the verdict pipeline (`verdict.rs`).

use std::collections::HashSet;
use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::judge::Outcome;
use crate::gateway::Stack;
use crate::spec::Level;

/// The built-in quirks.
pub const BUILTIN_QUIRKS: &str = include_str!("../../specs/quirks.toml");

/// A quirk file as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct QuirksFile {
    #[serde(default, rename = "quirk")]
    quirks: Vec<Quirk>,
}

/// One server's documented policy for one case.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Quirk {
    /// The stack's gateway name (`gunicorn`, as given to `--server`).
    #[serde(default)]
    pub server: Option<String>,
    /// A prefix of the server's `SERVER_SOFTWARE` (`gunicorn/`); matches
    /// servers started with `--cmd` or reached with `--url` too.
    #[serde(default)]
    pub server_software: Option<String>,
    /// The case id.
    pub case: String,
    /// The server's policy, in a sentence.
    pub reason: String,
    /// Where the policy is stated: documentation link, or source file.
    pub source: String,
    /// The file the quirk came from.
    #[serde(skip_deserializing, default)]
    pub file: String,
}

impl Quirk {
    /// A quirk matches a stack when its server name is the stack's gateway,
    /// or its `SERVER_SOFTWARE` prefix starts what the server reported.
    pub fn matches(&self, stack: &Stack) -> bool {
        self.server.as_deref() == Some(stack.gateway.as_str())
            || self.server_software.as_deref().is_some_and(|p| {
                stack
                    .server_software
                    .as_deref()
                    .is_some_and(|s| s.starts_with(p))
            })
    }
}

/// A quirk file that cannot be used, with where the problem is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct QuirkError {
    pub file: String,
    /// `quirk 2 (environ.x)`.
    pub entry: Option<String>,
    pub message: String,
}

impl fmt::Display for QuirkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.entry {
            Some(e) => write!(f, "{}: {}: {}", self.file, e, self.message),
            None => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

/// Parses and validates one quirk file against the case ids that exist.
pub fn parse(file: &str, text: &str, known: &HashSet<&str>) -> Result<Vec<Quirk>, QuirkError> {
    parse_ids(file, text, Some(known))
}

fn parse_ids(
    file: &str,
    text: &str,
    known: Option<&HashSet<&str>>,
) -> Result<Vec<Quirk>, QuirkError> {
    let parsed: QuirksFile = toml::from_str(text).map_err(|e| QuirkError {
        file: file.to_string(),
        entry: quirk_near(text, &e),
        message: e.message().trim().to_string(),
    })?;
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for (i, mut q) in parsed.quirks.into_iter().enumerate() {
        let fail = |message: String| QuirkError {
            file: file.to_string(),
            entry: Some(format!("quirk {} ({})", i + 1, q.case)),
            message,
        };
        if q.server.is_none() && q.server_software.is_none() {
            return Err(fail(
                "name the server: `server` (its --server name) or `server_software` (a prefix of SERVER_SOFTWARE)".into(),
            ));
        }
        if [&q.server, &q.server_software]
            .iter()
            .any(|s| s.as_deref().is_some_and(|s| s.trim().is_empty()))
        {
            return Err(fail(
                "`server` and `server_software` must not be empty".into(),
            ));
        }
        if known.is_some_and(|k| !k.contains(q.case.as_str())) {
            return Err(fail(format!(
                "unknown case id {:?} (`wsgiprobe specs` lists them)",
                q.case
            )));
        }
        if q.reason.trim().is_empty() || q.source.trim().is_empty() {
            return Err(fail(
                "`reason` and `source` must say what the server's policy is and where it is stated"
                    .into(),
            ));
        }
        let key = (q.server.clone(), q.server_software.clone(), q.case.clone());
        if !seen.insert(key) {
            return Err(fail("the same server and case appear twice".into()));
        }
        q.file = file.to_string();
        out.push(q);
    }
    Ok(out)
}

/// The index of the `[[quirk]]` an error falls in, so a file that does not
/// parse still names its entry.
fn quirk_near(text: &str, e: &toml::de::Error) -> Option<String> {
    let at = e.span()?.start.min(text.len());
    let line = text[..at].matches('\n').count() + 1;
    let n = text[..at].matches("[[quirk]]").count();
    Some(if n == 0 {
        format!("line {line}")
    } else {
        format!("quirk {n} (line {line})")
    })
}

/// Reads a quirk file from disk.
pub fn load_file(path: &Path, known: &HashSet<&str>) -> Result<Vec<Quirk>, QuirkError> {
    let text = crate::textfile::read(path).map_err(|e| QuirkError {
        file: path.display().to_string(),
        entry: None,
        message: e.to_string(),
    })?;
    parse(&path.display().to_string(), &text, known)
}

/// The built-in quirks for the case ids that exist (a spec folder of one's
/// own may lack the built-in cases they name).
/// (A unit test holds every built-in quirk to the built-in case ids.)
pub fn builtin(known: &HashSet<&str>) -> Result<Vec<Quirk>, QuirkError> {
    Ok(
        parse_ids("specs/quirks.toml (built in)", BUILTIN_QUIRKS, None)?
            .into_iter()
            .filter(|q| known.contains(q.case.as_str()))
            .collect(),
    )
}

/// A quirk that met a case that did not pass.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AppliedQuirk {
    pub case: String,
    pub level: Level,
    /// The outcome before the quirk.
    pub was: Outcome,
    /// The outcome shown: `quirk`, or `was` when the quirk may not change it.
    pub outcome: Outcome,
    pub downgraded: bool,
    /// Why a quirk did not change the outcome.
    pub note: Option<String>,
    #[serde(flatten)]
    pub quirk: Quirk,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known() -> HashSet<&'static str> {
        ["environ.a", "environ.b"].into_iter().collect()
    }

    const GOOD: &str = r#"
[[quirk]]
server = "gunicorn"
case = "environ.a"
reason = "drops them"
source = "https://example.org/doc"
"#;

    #[test]
    fn parses_and_names_file_and_entry_on_errors() {
        let q = parse("q.toml", GOOD, &known()).unwrap();
        assert_eq!(q[0].file, "q.toml");
        let unknown = GOOD.replace("environ.a", "environ.zzz");
        let e = parse("q.toml", &unknown, &known()).unwrap_err();
        assert_eq!(e.entry.as_deref(), Some("quirk 1 (environ.zzz)"));
        assert!(e.message.contains("unknown case id"), "{e}");
        let typo = format!("{GOOD}\n[[quirk]]\nserver = \"x\"\ncase = \"environ.b\"\nreasn = \"r\"\nsource = \"s\"\n");
        let e = parse("q.toml", &typo, &known()).unwrap_err();
        assert!(e.to_string().starts_with("q.toml: quirk 2"), "{e}");
        assert!(e.message.contains("reasn"), "{e}");
        let nameless = GOOD.replace("server = \"gunicorn\"\n", "");
        assert!(parse("q.toml", &nameless, &known())
            .unwrap_err()
            .message
            .contains("name the server"));
    }

    #[test]
    fn builtin_quirks_are_valid() {
        let set = crate::spec::load_builtin().unwrap();
        let ids: HashSet<&str> = set.cases.iter().map(|c| c.case.id.as_str()).collect();
        let q = parse("quirks.toml", BUILTIN_QUIRKS, &ids).unwrap();
        assert!(!q.is_empty());
        for q in &q {
            assert!(
                q.source.contains("http") || q.source.contains(".py"),
                "{q:?}"
            );
        }
    }
}
