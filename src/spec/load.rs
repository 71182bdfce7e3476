//! Loading and validating spec files.
//!
//! The whole set is validated before any server starts ("parse, then build"):
//! a bad file is reported with its name and the id of the offending case, and
//! nothing runs.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;

use serde::Serialize;

use super::deploy::Need;
use super::model::{Case, Expect, Request, Requirement, RequirementsFile, SpecFile, PROXY_KINDS};
use super::stimulus::Stimulus;
use crate::probe::SCENARIOS;

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/specs.rs"));
}

/// A case together with the area it belongs to and what it does on the wire.
#[derive(Debug, Clone)]
pub struct LoadedCase {
    pub case: Case,
    /// What the case sends, built from its fields when it was loaded; the
    /// runner plays this, never the fields.
    pub stimulus: Stimulus,
    /// The file it came from, for messages.
    pub file: String,
    pub area: String,
    pub area_title: String,
}

/// Every case of a spec set, in file order then case order, and the
/// requirement catalogue the cases refer to.
#[derive(Debug, Clone, Default)]
pub struct SpecSet {
    pub cases: Vec<LoadedCase>,
    pub requirements: Vec<Requirement>,
}

/// The file name of the requirement catalogue among the spec files.
pub const REQUIREMENTS_FILE: &str = "requirements.toml";
/// The file name of the built-in server quirks among the spec files.
pub const QUIRKS_FILE: &str = "quirks.toml";

fn file_name(path: &str) -> &str {
    path.rsplit(['/', '\\']).next().unwrap_or(path)
}

fn parse_requirements(file: &str, text: &str) -> Result<Vec<Requirement>, SpecError> {
    let parsed: RequirementsFile = toml::from_str(text).map_err(|e| SpecError {
        file: file.to_string(),
        case: None,
        message: describe_toml_error(text, &e),
    })?;
    let mut seen = std::collections::HashSet::new();
    for r in &parsed.requirements {
        let fail = |message: String| SpecError {
            file: file.to_string(),
            case: Some(r.id.clone()),
            message,
        };
        if !is_id(&r.id) {
            return Err(fail(
                "requirement id must be dot-separated lowercase words".into(),
            ));
        }
        if !seen.insert(r.id.as_str()) {
            return Err(fail("duplicate requirement id".into()));
        }
        if r.text.trim().is_empty() || r.source.trim().is_empty() {
            return Err(fail("`text` and `source` must not be empty".into()));
        }
        if r.uncovered.as_deref().is_some_and(|u| u.trim().is_empty()) {
            return Err(fail("`uncovered` must say why".into()));
        }
    }
    Ok(parsed.requirements)
}

fn builtin_requirements() -> Result<Vec<Requirement>, SpecError> {
    match embedded::BUILTIN_SPECS
        .iter()
        .find(|(n, _)| *n == REQUIREMENTS_FILE)
    {
        Some((n, text)) => parse_requirements(n, text),
        None => Ok(Vec::new()),
    }
}

/// A spec file that cannot be used, with where the problem is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct SpecError {
    pub file: String,
    pub case: Option<String>,
    pub message: String,
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.case {
            Some(id) => write!(f, "{}: case {}: {}", self.file, id, self.message),
            None => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

/// The cases built into the binary.
pub fn load_builtin() -> Result<SpecSet, SpecError> {
    load_sources(
        embedded::BUILTIN_SPECS
            .iter()
            .map(|(n, s)| (n.to_string(), s.to_string())),
    )
}

/// Every `*.toml` file of a folder, in name order.
pub fn load_dir(dir: &Path) -> Result<SpecSet, SpecError> {
    let err = |message: String| SpecError {
        file: dir.display().to_string(),
        case: None,
        message,
    };
    let entries = std::fs::read_dir(dir).map_err(|e| err(format!("cannot read folder: {e}")))?;
    let mut paths: Vec<_> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    paths.sort();
    if paths.is_empty() {
        return Err(err("no *.toml spec file in this folder".into()));
    }
    let mut sources = Vec::new();
    for path in paths {
        let text = crate::textfile::read(&path).map_err(|e| SpecError {
            file: path.display().to_string(),
            case: None,
            message: e.to_string(),
        })?;
        sources.push((path.display().to_string(), text));
    }
    load_sources(sources)
}

/// Parses and validates named sources (file name, text) as one set.
pub fn load_sources(
    sources: impl IntoIterator<Item = (String, String)>,
) -> Result<SpecSet, SpecError> {
    let mut set = SpecSet::default();
    let mut seen: HashMap<String, String> = HashMap::new();
    let mut catalogue = None;
    for (file, text) in sources {
        match file_name(&file) {
            REQUIREMENTS_FILE => {
                catalogue = Some(parse_requirements(&file, &text)?);
                continue;
            }
            QUIRKS_FILE => continue,
            _ => {}
        }
        let parsed: SpecFile = toml::from_str(&text).map_err(|e| SpecError {
            file: file.clone(),
            case: case_id_near_error(&text, &e),
            message: describe_toml_error(&text, &e),
        })?;
        validate_area(&file, &parsed)?;
        for case in parsed.cases {
            let fail = |message: String| SpecError {
                file: file.clone(),
                case: Some(case.id.clone()),
                message,
            };
            let stimulus = validate_case(&parsed.area, &case).map_err(fail)?;
            if let Some(other) = seen.insert(case.id.clone(), file.clone()) {
                return Err(fail(format!("duplicate id (also in {other})")));
            }
            set.cases.push(LoadedCase {
                case,
                stimulus,
                file: file.clone(),
                area: parsed.area.clone(),
                area_title: parsed.title.clone(),
            });
        }
    }
    // A folder of cases without its own catalogue refers to the built-in one.
    set.requirements = match catalogue {
        Some(c) => c,
        None => builtin_requirements()?,
    };
    let known: std::collections::HashSet<&str> =
        set.requirements.iter().map(|r| r.id.as_str()).collect();
    for lc in &set.cases {
        if let Some(unknown) = lc
            .case
            .covers
            .iter()
            .find(|id| !known.contains(id.as_str()))
        {
            return Err(SpecError {
                file: lc.file.clone(),
                case: Some(lc.case.id.clone()),
                message: format!(
                    "covers unknown requirement {unknown:?}; requirement ids are listed in {REQUIREMENTS_FILE}"
                ),
            });
        }
    }
    Ok(set)
}

/// One requirement with the ids of the cases that cover it.
#[derive(Debug, Clone, Serialize)]
pub struct Coverage {
    #[serde(flatten)]
    pub requirement: Requirement,
    pub cases: Vec<String>,
}

/// Every requirement of the set's catalogue with the cases (among `cases`)
/// that cover it, in catalogue order.
pub fn coverage(set: &SpecSet, cases: &[LoadedCase]) -> Vec<Coverage> {
    set.requirements
        .iter()
        .map(|r| Coverage {
            requirement: r.clone(),
            cases: cases
                .iter()
                .filter(|lc| lc.case.covers.contains(&r.id))
                .map(|lc| lc.case.id.clone())
                .collect(),
        })
        .collect()
}

/// A TOML error as one line: the field it is about (when the error points
/// at a value), what is wrong, and the line.
pub(crate) fn describe_toml_error(text: &str, e: &toml::de::Error) -> String {
    let field = e
        .span()
        .and_then(|span| field_of_value(text, span.start))
        .map(|f| format!("`{f}`: "))
        .unwrap_or_default();
    format!("{field}{}{}", e.message(), location(text, e))
}

/// The key of the `key = value` whose value starts at `at`, if that is
/// what is there.
fn field_of_value(text: &str, at: usize) -> Option<&str> {
    let before = text.get(..at)?.trim_end_matches([' ', '\t']);
    let before = before.strip_suffix('=')?.trim_end_matches([' ', '\t']);
    let start = before
        .rfind(|c: char| !(c.is_ascii_alphanumeric() || "_-.\"'".contains(c)))
        .map_or(0, |i| i + 1);
    let key = before[start..].trim_matches(['"', '\'']);
    (!key.is_empty()).then_some(key)
}

fn location(text: &str, e: &toml::de::Error) -> String {
    match e.span() {
        Some(span) => {
            let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
            format!(" (line {line})")
        }
        None => String::new(),
    }
}

/// Finds the id of the `[[case]]` an error falls inside, so the message can
/// name the case even when the file does not parse.
fn case_id_near_error(text: &str, e: &toml::de::Error) -> Option<String> {
    let at = e.span()?.start.min(text.len());
    let block_start = text[..at].rfind("[[case]]")?;
    let block_end = text[block_start + 8..]
        .find("[[case]]")
        .map(|i| block_start + 8 + i)
        .unwrap_or(text.len());
    text[block_start..block_end].lines().find_map(|line| {
        let rest = line
            .trim()
            .strip_prefix("id")?
            .trim_start()
            .strip_prefix('=')?;
        Some(rest.trim().trim_matches('"').to_string())
    })
}

fn validate_area(file: &str, spec: &SpecFile) -> Result<(), SpecError> {
    let err = |message: String| SpecError {
        file: file.to_string(),
        case: None,
        message,
    };
    if !is_id(&spec.area) || spec.area.contains('.') {
        return Err(err(format!(
            "area {:?} must be one lowercase word (letters, digits, dashes)",
            spec.area
        )));
    }
    if spec.cases.is_empty() {
        return Err(err("no [[case]] in this file".into()));
    }
    Ok(())
}

fn is_id(s: &str) -> bool {
    !s.is_empty()
        && s.split('.').all(|seg| {
            !seg.is_empty()
                && seg
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        })
}

/// Checks a case and builds its stimulus.
fn validate_case(area: &str, case: &Case) -> Result<Stimulus, String> {
    if !is_id(&case.id) {
        return Err("id must be dot-separated lowercase words (letters, digits, dashes)".into());
    }
    if !case.id.starts_with(&format!("{area}.")) {
        return Err(format!("id must start with the file's area `{area}.`"));
    }
    for (field, value) in [
        ("source", &case.source),
        ("requirement", &case.requirement),
        ("stimulus", &case.stimulus),
    ] {
        if value.trim().is_empty() {
            return Err(format!("`{field}` is empty"));
        }
    }
    validate_scenario(&case.scenario, &case.args)?;
    validate_request(&case.request)?;
    if let Some(second) = &case.second {
        validate_scenario(&second.scenario, &second.args).map_err(|m| format!("second: {m}"))?;
        validate_request(&second.request).map_err(|m| format!("second: {m}"))?;
    }
    let stimulus = Stimulus::of(case)?;
    if case.expect.is_empty() && case.choices.is_empty() {
        return Err("`expect` is empty: a case must check something".into());
    }
    let mut lists = vec![
        ("expect".to_string(), &case.expect),
        ("requires".to_string(), &case.requires),
    ];
    for (i, c) in case.choices.iter().enumerate() {
        if c.name.trim().is_empty() {
            return Err(format!("choice[{i}]: `name` is empty"));
        }
        if c.when.is_empty() {
            return Err(format!(
                "choice[{i}] ({}): `when` is empty: say what shows this behaviour",
                c.name
            ));
        }
        lists.push((format!("choice[{i}].when"), &c.when));
    }
    for (what, list) in lists {
        for (i, e) in list.iter().enumerate() {
            validate_expect(e).map_err(|m| format!("{what}[{i}] ({}): {m}", e.subject))?;
            if e.subject.needs_second() && stimulus.second().is_none() {
                return Err(format!(
                    "{what}[{i}] ({}): the case sends no second request; add a `second` table",
                    e.subject
                ));
            }
        }
    }
    if case.needs.contains(&Need::Tls) && case.needs.contains(&Need::Plain) {
        return Err("needs both tls and plain: no stack has both".into());
    }
    if let Some(source) = case.source_address {
        if !source.is_loopback() {
            return Err(format!(
                "source_address {source} is not a loopback address: the client can bind only those"
            ));
        }
        if matches!(stimulus, Stimulus::Concurrent { .. }) {
            return Err("source_address cannot be combined with concurrent".into());
        }
    }
    if case.events_wait_ms.is_some() && !case.reads_events() {
        return Err("events_wait_ms waits for side-channel events, but no expectation looks at an event.* subject".into());
    }
    for (i, p) in case.proxy.iter().enumerate() {
        if let Some(k) = p.kinds.iter().find(|k| !PROXY_KINDS.contains(&k.as_str())) {
            return Err(format!(
                "proxy[{i}]: unknown proxy {k:?}; known: {}",
                PROXY_KINDS.join(", ")
            ));
        }
        if p.why.trim().is_empty() {
            return Err(format!("proxy[{i}]: `why` is empty"));
        }
    }
    for (what, ms) in [
        ("timeout_ms", case.timeout_ms),
        ("expect_continue_ms", case.expect_continue_ms),
        ("linger_ms", case.linger_ms),
        ("events_wait_ms", case.events_wait_ms),
    ] {
        if ms == Some(0) {
            return Err(format!("{what} must be positive"));
        }
    }
    Ok(stimulus)
}

fn validate_scenario(
    scenario: &str,
    args: &std::collections::BTreeMap<String, String>,
) -> Result<(), String> {
    if !SCENARIOS.contains(&scenario) {
        return Err(format!(
            "unknown scenario {:?}; the probe knows {}",
            scenario,
            SCENARIOS.join(", ")
        ));
    }
    for (k, v) in args {
        let ok = |s: &str| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        };
        if !ok(k) || !ok(v) {
            return Err(format!(
                "scenario argument {k}={v}: names and values are letters, digits, '-' or '_'"
            ));
        }
    }
    Ok(())
}

fn validate_request(r: &Request) -> Result<(), String> {
    let latin1 = |field: &str, s: &str| -> Result<(), String> {
        match s.chars().find(|c| (*c as u32) > 0xFF) {
            Some(c) => Err(format!(
                "request {field}: {c:?} is not a byte; write bytes as \\u0000..\\u00ff"
            )),
            None => Ok(()),
        }
    };
    if let Some(raw) = &r.raw {
        let structured = r.method.is_some()
            || r.target.is_some()
            || r.version.is_some()
            || !r.headers.is_empty()
            || r.body.is_some()
            || r.chunked.is_some()
            || r.host.is_some()
            || r.content_length.is_some();
        if structured {
            return Err("request: `raw` cannot be combined with structured fields".into());
        }
        if !raw.contains("{probe}") {
            return Err("request.raw must contain {probe} where the control headers go".into());
        }
        latin1("raw", raw)?;
    }
    if r.body.is_some() && r.chunked.is_some() {
        return Err("request: `body` and `chunked` are exclusive".into());
    }
    for (name, value) in &r.headers {
        if name.is_empty() {
            return Err("request: empty header name".into());
        }
        latin1("header name", name)?;
        latin1("header value", value)?;
    }
    for (field, v) in [
        ("method", &r.method),
        ("target", &r.target),
        ("version", &r.version),
        ("body", &r.body),
    ] {
        if let Some(v) = v {
            latin1(field, v)?;
        }
    }
    for chunk in r.chunked.iter().flatten() {
        latin1("chunk", chunk)?;
    }
    Ok(())
}

fn validate_expect(e: &Expect) -> Result<(), String> {
    let predicates = [
        e.present.is_some(),
        e.type_name.is_some(),
        e.equals.is_some(),
        e.one_of.is_some(),
        e.not_equals.is_some(),
        e.nonempty.is_some(),
        e.latin1.is_some(),
        e.contains.is_some(),
        e.at_least.is_some(),
        e.at_most.is_some(),
        e.empty_or_absent.is_some(),
        e.methods.is_some(),
        e.matches.is_some(),
    ];
    if !predicates.iter().any(|p| *p) {
        return Err("no predicate: say what must hold (equals, present, type, ...)".into());
    }
    if let Some(pattern) = &e.matches {
        regex_lite::Regex::new(pattern)
            .map_err(|err| format!("`matches` is not a regular expression: {err}"))?;
    }
    if e.or_absent.is_some() && (e.present.is_some() || e.empty_or_absent.is_some()) {
        return Err("`or_absent` cannot be combined with `present` or `empty_or_absent`".into());
    }
    if e.present == Some(false) && predicates.iter().filter(|p| **p).count() > 1 {
        return Err("`present = false` cannot be combined with other predicates".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
area = "environ"
title = "The environ"

[[case]]
id = "environ.request-method.get"
level = "must"
source = "PEP 3333, environ Variables"
requirement = "REQUEST_METHOD ... This cannot ever be an empty string"
stimulus = "GET /"
expect = [{ subject = "environ.REQUEST_METHOD", equals = "GET" }]
"#;

    fn load_one(text: &str) -> Result<SpecSet, SpecError> {
        load_sources([("environ.toml".to_string(), text.to_string())])
    }

    #[test]
    fn loads_a_good_file() {
        let set = load_one(GOOD).unwrap();
        assert_eq!(set.cases.len(), 1);
        assert_eq!(set.cases[0].case.scenario, "environ");
        assert_eq!(set.cases[0].area_title, "The environ");
    }

    #[test]
    fn unknown_field_names_file_and_case() {
        let bad = GOOD.replace(
            "stimulus = \"GET /\"",
            "stimulus = \"GET /\"\nsenario = \"x\"",
        );
        let err = load_one(&bad).unwrap_err();
        assert_eq!(err.file, "environ.toml");
        assert_eq!(err.case.as_deref(), Some("environ.request-method.get"));
        assert!(err.message.contains("senario"), "{err}");
    }

    #[test]
    fn type_errors_name_the_field_and_what_it_takes() {
        let bad = GOOD.replace("level = \"must\"", "level = 5");
        let err = load_one(&bad).unwrap_err();
        assert_eq!(
            err.message,
            "`level`: invalid type: integer `5`, expected one of `must`, `should`, `may` (line 7)"
        );
        let bad = GOOD.replace(
            "stimulus = \"GET /\"",
            "stimulus = \"GET /\"\nproxy = [{ effect = 1, why = \"w\" }]",
        );
        let err = load_one(&bad).unwrap_err();
        assert!(
            err.message.starts_with(
                "`effect`: invalid type: integer `1`, expected one of `excuse`, `note`"
            ),
            "{err}"
        );
        let bad = GOOD.replace("stimulus = \"GET /\"", "stimulus = \"GET /\"\nserial = 3");
        assert!(load_one(&bad)
            .unwrap_err()
            .message
            .starts_with("`serial`: "));
    }

    #[test]
    fn unknown_predicate_is_rejected() {
        let bad = GOOD.replace("equals = \"GET\"", "equal = \"GET\"");
        let err = load_one(&bad).unwrap_err();
        assert!(
            err.to_string().contains("environ.request-method.get"),
            "{err}"
        );
        assert!(err.message.contains("equal"), "{err}");
    }

    #[test]
    fn id_outside_area_is_rejected() {
        let bad = GOOD.replace("id = \"environ.", "id = \"input.");
        let err = load_one(&bad).unwrap_err();
        assert!(err.message.contains("area"), "{err}");
        assert_eq!(err.case.as_deref(), Some("input.request-method.get"));
    }

    #[test]
    fn duplicate_ids_across_files_are_rejected() {
        let err = load_sources([
            ("a.toml".to_string(), GOOD.to_string()),
            ("b.toml".to_string(), GOOD.to_string()),
        ])
        .unwrap_err();
        assert_eq!(err.file, "b.toml");
        assert!(
            err.message.contains("duplicate id (also in a.toml)"),
            "{err}"
        );
    }

    #[test]
    fn empty_expect_and_predicate_free_expect_are_rejected() {
        let none = GOOD.replace(
            "expect = [{ subject = \"environ.REQUEST_METHOD\", equals = \"GET\" }]",
            "expect = []",
        );
        assert!(load_one(&none).unwrap_err().message.contains("expect"));
        let bare = GOOD.replace(", equals = \"GET\"", "");
        assert!(load_one(&bare)
            .unwrap_err()
            .message
            .contains("no predicate"));
    }

    #[test]
    fn unknown_subject_and_scenario_are_rejected() {
        let subj = GOOD.replace("environ.REQUEST_METHOD", "environment.REQUEST_METHOD");
        assert!(load_one(&subj)
            .unwrap_err()
            .message
            .contains("unknown subject"));
        let scen = GOOD.replace(
            "stimulus = \"GET /\"",
            "stimulus = \"GET /\"\nscenario = \"eval\"",
        );
        assert!(load_one(&scen)
            .unwrap_err()
            .message
            .contains("unknown scenario"));
    }

    #[test]
    fn raw_request_needs_probe_placeholder_and_bytes_only() {
        let raw = GOOD.replace(
            "stimulus = \"GET /\"",
            "stimulus = \"GET /\"\nrequest = { raw = \"GET / HTTP/1.1\\r\\n\\r\\n\" }",
        );
        assert!(load_one(&raw).unwrap_err().message.contains("{probe}"));
        let wide = GOOD.replace(
            "stimulus = \"GET /\"",
            "stimulus = \"GET /\"\nrequest = { target = \"/\\u20ac\" }",
        );
        assert!(load_one(&wide).unwrap_err().message.contains("not a byte"));
    }

    #[test]
    fn stimulus_combinations_that_make_no_sense_name_file_and_case() {
        let both = GOOD.replace(
            "stimulus = \"GET /\"",
            "stimulus = \"GET /\"\ndisconnect_after_head = true\nlinger_ms = 100",
        );
        let err = load_one(&both).unwrap_err();
        assert_eq!(err.file, "environ.toml");
        assert_eq!(err.case.as_deref(), Some("environ.request-method.get"));
        assert!(err.message.contains("disconnect_after_head"), "{err}");
        let good = load_one(GOOD).unwrap();
        assert!(matches!(
            good.cases[0].stimulus,
            crate::spec::Stimulus::Single { .. }
        ));
    }

    #[test]
    fn subjects_must_have_something_to_look_at() {
        let no_second = GOOD.replace("environ.REQUEST_METHOD", "second.environ.REQUEST_METHOD");
        let err = load_one(&no_second).unwrap_err();
        assert!(err.message.contains("no second request"), "{err}");
        let no_wire_fact = GOOD.replace("environ.REQUEST_METHOD", "wire.secnd");
        let err = load_one(&no_wire_fact).unwrap_err();
        assert_eq!(err.case.as_deref(), Some("environ.request-method.get"));
        assert!(err.message.contains("no wire fact \"secnd\""), "{err}");
        let no_events = GOOD.replace(
            "stimulus = \"GET /\"",
            "stimulus = \"GET /\"\nevents_wait_ms = 100",
        );
        let err = load_one(&no_events).unwrap_err();
        assert!(err.message.contains("event.*"), "{err}");
    }

    #[test]
    fn syntax_error_reports_line() {
        let err = load_one("area = \"environ\"\ntitle = \n").unwrap_err();
        assert_eq!(err.file, "environ.toml");
        assert!(err.message.contains("line 2"), "{err}");
    }

    #[test]
    fn builtin_specs_are_valid() {
        let set = load_builtin().unwrap();
        assert!(
            set.cases.len() >= 25,
            "only {} builtin cases",
            set.cases.len()
        );
    }

    #[test]
    fn builtin_catalogue_is_complete() {
        let set = load_builtin().unwrap();
        assert!(set.cases.len() >= 90, "only {} cases", set.cases.len());
        let cov = coverage(&set, &set.cases);
        assert!(cov.len() >= 60, "only {} requirements", cov.len());
        let unaccounted: Vec<_> = cov
            .iter()
            .filter(|c| c.cases.is_empty() && c.requirement.uncovered.is_none())
            .map(|c| c.requirement.id.clone())
            .collect();
        assert!(
            unaccounted.is_empty(),
            "neither covered nor explained: {unaccounted:?}"
        );
        let without: Vec<_> = set
            .cases
            .iter()
            .filter(|lc| lc.case.covers.is_empty())
            .map(|lc| lc.case.id.clone())
            .collect();
        assert!(without.is_empty(), "cases covering nothing: {without:?}");
    }

    #[test]
    fn unknown_requirement_in_covers_names_file_and_case() {
        let bad = GOOD.replace(
            "stimulus = \"GET /\"",
            "stimulus = \"GET /\"\ncovers = [\"pep3333.no-such-rule\"]",
        );
        let err = load_one(&bad).unwrap_err();
        assert_eq!(err.file, "environ.toml");
        assert_eq!(err.case.as_deref(), Some("environ.request-method.get"));
        assert!(err.message.contains("pep3333.no-such-rule"), "{err}");
    }

    #[test]
    fn a_folder_may_bring_its_own_catalogue() {
        let catalogue = "[[requirement]]\nid = \"local.rule\"\nlevel = \"must\"\nsource = \"s\"\ntext = \"t\"\n";
        let case = GOOD.replace(
            "stimulus = \"GET /\"",
            "stimulus = \"GET /\"\ncovers = [\"local.rule\"]",
        );
        let set = load_sources([
            ("dir/requirements.toml".to_string(), catalogue.to_string()),
            ("dir/environ.toml".to_string(), case),
        ])
        .unwrap();
        assert_eq!(set.requirements.len(), 1);
        assert_eq!(
            coverage(&set, &set.cases)[0].cases,
            ["environ.request-method.get"]
        );
        let dup = format!("{catalogue}{catalogue}");
        let err = load_sources([("requirements.toml".to_string(), dup)]).unwrap_err();
        assert!(err.message.contains("duplicate"), "{err}");
    }
}
