//! Check and matrix reports read back from their JSON (`wsgiprobe report
//! FILE.json --markdown`), rebuilt as the types their Markdown is written
//! from, so a saved run's Markdown is the one the run itself would have
//! written. The HTML needs none of this: it is drawn from the JSON.

use std::time::Duration;

use serde_json::{json, Value};

use super::check::{parse_rfc3339, CheckReport, ToolInfo};
use super::matrix::{MatrixReport, StackRun};
use crate::conformance::quirks::{AppliedQuirk, Quirk};
use crate::conformance::Stopped;
use crate::conformance::{CaseResult, Outcome, Verdict};
use crate::exit::Signal;
use crate::spec::{Case, LoadedCase, Stimulus};

/// Why a saved report cannot be rebuilt.
#[derive(Debug, thiserror::Error)]
pub enum SavedError {
    #[error("the report has no {0}")]
    Missing(String),
    #[error("case {id:?}: {detail}")]
    Case { id: String, detail: String },
    #[error("the report's stack cannot be read")]
    Stack(#[source] serde_json::Error),
    #[error("the report holds a comparison with an expectations file, which its Markdown shows and the JSON keeps only in part; write that Markdown with the run itself (check --expectations FILE --markdown OUT)")]
    Expectations,
}

/// A check report from its JSON.
pub fn check_report(doc: &Value) -> Result<CheckReport, SavedError> {
    if doc.get("expectations").is_some_and(|e| !e.is_null()) {
        return Err(SavedError::Expectations);
    }
    let cases = doc["cases"]
        .as_array()
        .ok_or_else(|| SavedError::Missing("cases".into()))?;
    let results = cases
        .iter()
        .map(case_result)
        .collect::<Result<Vec<_>, _>>()?;
    let quirks_applied = results.iter().filter_map(|r| r.quirk.clone()).collect();
    Ok(CheckReport {
        tool: tool(doc),
        stack: serde_json::from_value(doc["stack"].clone()).map_err(SavedError::Stack)?,
        started: doc["started_at"]
            .as_str()
            .and_then(parse_rfc3339)
            .ok_or_else(|| SavedError::Missing("started_at".into()))?,
        duration: Duration::from_millis(doc["duration_ms"].as_u64().unwrap_or(0)),
        strict: doc["strict"].as_bool().unwrap_or(false),
        results,
        server_exited: doc["server_exited"].as_str().map(str::to_string),
        // The validator's findings are not part of the Markdown.
        validate: None,
        quirks_applied,
        expectations: None,
        stopped: match doc["stopped"].as_str() {
            Some("interrupted") => Some(Stopped::Cancelled),
            Some("fail-fast") => Some(Stopped::FailFast),
            _ => None,
        },
        interrupted: match doc["interrupted"].as_str() {
            Some("SIGINT") => Some(Signal::Interrupt),
            Some("SIGTERM") => Some(Signal::Terminate),
            Some("SIGHUP") => Some(Signal::Hangup),
            _ => None,
        },
        not_run: doc["not_run"]
            .as_array()
            .map(|ids| {
                ids.iter()
                    .filter_map(|id| id.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default(),
    })
}

/// A matrix report from its JSON: every stack's check report, and the
/// stacks that did not start.
pub fn matrix_report(doc: &Value) -> Result<MatrixReport, SavedError> {
    let stacks = doc["stacks"]
        .as_array()
        .ok_or_else(|| SavedError::Missing("stacks".into()))?;
    let mut runs = Vec::new();
    for s in stacks {
        let label = s["label"].as_str().unwrap_or("?").to_string();
        let result = match s["start_error"].as_str() {
            Some(e) => Err(e.to_string()),
            None => Ok(check_report(s)?),
        };
        runs.push(StackRun { label, result });
    }
    Ok(MatrixReport {
        tool: tool(doc),
        started: doc["started_at"]
            .as_str()
            .and_then(parse_rfc3339)
            .ok_or_else(|| SavedError::Missing("started_at".into()))?,
        strict: doc["strict"].as_bool().unwrap_or(false),
        runs,
    })
}

/// The tool that wrote the report. `ToolInfo` holds static strings (the
/// running binary's own); a saved report names another version, leaked
/// once for the life of this short command.
fn tool(doc: &Value) -> ToolInfo {
    let keep = |s: &str| -> &'static str { Box::leak(s.to_string().into_boxed_str()) };
    let mine = ToolInfo::default();
    ToolInfo {
        name: doc["tool"]["name"].as_str().map_or(mine.name, keep),
        version: doc["tool"]["version"].as_str().map_or(mine.version, keep),
    }
}

fn case_result(c: &Value) -> Result<CaseResult, SavedError> {
    let id = c["id"].as_str().unwrap_or("?").to_string();
    let bad = |detail: String| SavedError::Case {
        id: id.clone(),
        detail,
    };
    // What the Markdown reads of a case; what it sent on the wire is not
    // needed again, so the case is rebuilt as a plain request.
    let case: Case = serde_json::from_value(json!({
        "id": id,
        "level": c["level"],
        "source": c["source"],
        "requirement": c["requirement"],
        "stimulus": c["stimulus"],
        "expect": [],
        "note": c["note"],
        "covers": c.get("covers").cloned().unwrap_or(json!([])),
        "security": c.get("security").cloned().unwrap_or(json!(false)),
    }))
    .map_err(|e| bad(e.to_string()))?;
    let stimulus = Stimulus::of(&case).map_err(bad)?;
    let outcome = outcome(c["outcome"].as_str().unwrap_or(""))
        .ok_or_else(|| bad(format!("unknown outcome {}", c["outcome"])))?;
    let quirk = match c.get("quirk").filter(|q| !q.is_null()) {
        None => None,
        Some(q) => Some(applied_quirk(q).ok_or_else(|| bad("unreadable quirk".into()))?),
    };
    let text = |k: &str| c[k].as_str().unwrap_or("").to_string();
    Ok(CaseResult {
        case: LoadedCase {
            stimulus,
            file: "(saved report)".into(),
            area: c["area"]
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| id.split('.').next().unwrap_or("").to_string()),
            area_title: String::new(),
            case,
        },
        verdict: Verdict {
            outcome,
            expected: text("expected"),
            actual: text("actual"),
        },
        quirk,
        deployment: c["fix"].as_str().map(str::to_string),
        elapsed: Duration::from_secs_f64(c["elapsed_ms"].as_f64().unwrap_or(0.0).max(0.0) / 1000.0),
        request: text("request"),
        response_head: c["response_head"].as_str().map(str::to_string),
        timed_out: false,
    })
}

fn outcome(s: &str) -> Option<Outcome> {
    Outcome::ALL.into_iter().find(|o| o.as_str() == s)
}

fn applied_quirk(q: &Value) -> Option<AppliedQuirk> {
    let s = |k: &str| q[k].as_str().map(str::to_string);
    Some(AppliedQuirk {
        case: s("case")?,
        level: serde_json::from_value(q["level"].clone()).ok()?,
        was: outcome(q["was"].as_str()?)?,
        outcome: outcome(q["outcome"].as_str()?)?,
        downgraded: q["downgraded"].as_bool()?,
        note: s("note"),
        quirk: Quirk {
            server: s("server"),
            server_software: s("server_software"),
            case: s("case")?,
            reason: s("reason")?,
            source: s("source")?,
            file: s("file").unwrap_or_default(),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_read_back() {
        let t = std::time::UNIX_EPOCH + Duration::from_secs(1_795_926_818);
        let text = crate::report::check::rfc3339(t);
        assert_eq!(parse_rfc3339(&text), Some(t));
        assert_eq!(
            parse_rfc3339("2000-02-29T00:00:00Z"),
            Some(std::time::UNIX_EPOCH + Duration::from_secs(951_782_400))
        );
        assert_eq!(parse_rfc3339("yesterday"), None);
    }
}
