//! The judge: a pure function from a case and what was observed to a verdict.
//!
//! Everything the runner gathered (the response, the probe's observation, the
//! side-channel events) comes in as data; no I/O happens here, so every rule
//! of judgement is unit-tested.

use serde::Serialize;
use serde_json::Value;

use super::evidence::{Exchange, WireFacts};
use crate::http::{latin1_string, Response};
use crate::spec::{Case, Choice, Expect, Level, Subject};

/// The result of one case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Pass,
    Fail,
    Warn,
    Skip,
    Error,
    /// A warn or skip that a declared server quirk explains (never a fail).
    Quirk,
}

impl Outcome {
    pub const ALL: [Outcome; 6] = [
        Outcome::Pass,
        Outcome::Fail,
        Outcome::Warn,
        Outcome::Skip,
        Outcome::Error,
        Outcome::Quirk,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Pass => "pass",
            Outcome::Fail => "fail",
            Outcome::Warn => "warn",
            Outcome::Skip => "skip",
            Outcome::Error => "error",
            Outcome::Quirk => "quirk",
        }
    }
}

/// A verdict with the evidence for it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verdict {
    pub outcome: Outcome,
    /// What the case required, one line per expectation that decided it.
    pub expected: String,
    /// What the server really did.
    pub actual: String,
}

/// The outcome of a broken requirement at this level.
fn broken(level: Level) -> Outcome {
    match level {
        Level::Must => Outcome::Fail,
        Level::Should => Outcome::Warn,
        // A MAY describes an optional feature: its absence is not a fault.
        Level::May => Outcome::Skip,
    }
}

/// Judges one case.
pub fn judge(case: &Case, exchange: &Exchange) -> Verdict {
    let expected_all = expected_of(case);
    let parts = match exchange {
        Exchange::HarnessFault { what } => {
            return Verdict {
                outcome: Outcome::Error,
                expected: expected_all,
                actual: what.clone(),
            }
        }
        Exchange::NotApplicable { why } => {
            let needs: Vec<&str> = case.needs.iter().map(|n| n.as_str()).collect();
            return Verdict {
                outcome: Outcome::Skip,
                expected: match needs.as_slice() {
                    [] => expected_all,
                    needs => format!("applies with: {}; {expected_all}", needs.join(", ")),
                },
                actual: format!("not applicable: {why}"),
            };
        }
        Exchange::ServerFault { what, .. } => {
            return Verdict {
                outcome: broken(case.level),
                expected: expected_all,
                actual: what.clone(),
            }
        }
        Exchange::Answered {
            response,
            observation,
            events,
            wire,
            second,
        } => (
            response,
            observation.as_ref(),
            events.as_deref(),
            wire,
            second.as_deref(),
        ),
    };
    let (response, observation, events, wire, second) = parts;
    let facts = Facts {
        response,
        observation,
        events,
        wire,
        second,
    };

    if case.allow_status.contains(&response.status) {
        return Verdict {
            outcome: Outcome::Pass,
            expected: format!(
                "{expected_all}; or a refusal with status {}",
                join_u16(&case.allow_status)
            ),
            actual: format!("refused with status {}", response.status),
        };
    }

    for req in &case.requires {
        match check(req, &facts) {
            Check::Holds(_) => {}
            Check::Broken(actual) => {
                return Verdict {
                    outcome: Outcome::Skip,
                    expected: format!("precondition: {}", describe(req)),
                    actual: format!("not applicable: {actual}"),
                }
            }
            Check::Undecidable(why) => {
                return Verdict {
                    outcome: Outcome::Error,
                    expected: format!("precondition: {}", describe(req)),
                    actual: why,
                }
            }
        }
    }

    let mut broken_lines = (Vec::new(), Vec::new());
    let mut held = Vec::new();
    for exp in &case.expect {
        match check(exp, &facts) {
            Check::Holds(actual) => held.push(actual),
            // Two expectations that fail for one reason (no observation at
            // all) say it once.
            Check::Broken(actual) if broken_lines.1.contains(&actual) => {
                broken_lines.0.push(describe(exp));
            }
            Check::Broken(actual) => {
                broken_lines.0.push(describe(exp));
                broken_lines.1.push(actual);
            }
            Check::Undecidable(why) => {
                return Verdict {
                    outcome: Outcome::Error,
                    expected: describe(exp),
                    actual: why,
                }
            }
        }
    }
    let chosen = match choose(case, &facts) {
        Ok(c) => c,
        Err(why) => {
            return Verdict {
                outcome: Outcome::Error,
                expected: expected_all,
                actual: why,
            }
        }
    };
    if !broken_lines.0.is_empty() {
        let actual = broken_lines.1.join("; ");
        return Verdict {
            outcome: broken(case.level),
            expected: broken_lines.0.join("; "),
            actual: match &chosen {
                Some((choice, _)) => format!("{actual} ({})", choice.name),
                None => actual,
            },
        };
    }
    match chosen {
        Some((choice, seen)) => {
            for s in seen {
                if !held.contains(&s) {
                    held.push(s);
                }
            }
            let actual = format!("{}: {}", choice.name, held.join("; "));
            if choice.legal {
                Verdict {
                    outcome: Outcome::Pass,
                    expected: expected_all,
                    actual,
                }
            } else {
                Verdict {
                    outcome: broken(case.level),
                    expected: expected_all,
                    actual,
                }
            }
        }
        None if case.choices.iter().any(|c| c.legal) => Verdict {
            outcome: broken(case.level),
            expected: expected_all,
            actual: format!("none of these: {}", seen_by_choices(case, &facts)),
        },
        None => Verdict {
            outcome: Outcome::Pass,
            expected: expected_all,
            actual: held.join("; "),
        },
    }
}

/// What a case expects, in words: its expectations and, when it names
/// them, the behaviours the source allows.
fn expected_of(case: &Case) -> String {
    let mut parts: Vec<String> = case.expect.iter().map(describe).collect();
    let legal: Vec<&str> = case
        .choices
        .iter()
        .filter(|c| c.legal)
        .map(|c| c.name.as_str())
        .collect();
    if !legal.is_empty() {
        parts.push(format!("one of: {}", legal.join(" | ")));
    }
    let illegal: Vec<&str> = case
        .choices
        .iter()
        .filter(|c| !c.legal)
        .map(|c| c.name.as_str())
        .collect();
    if !illegal.is_empty() {
        parts.push(format!("not: {}", illegal.join(" | ")));
    }
    parts.join("; ")
}

/// The first of the case's choices whose conditions all hold, with what
/// was seen for them; an error when one could not be decided.
fn choose<'c>(case: &'c Case, facts: &Facts) -> Result<Option<(&'c Choice, Vec<String>)>, String> {
    'choices: for choice in &case.choices {
        let mut seen = Vec::new();
        for e in &choice.when {
            match check(e, facts) {
                Check::Holds(actual) => seen.push(actual),
                Check::Broken(_) => continue 'choices,
                Check::Undecidable(why) => return Err(why),
            }
        }
        return Ok(Some((choice, seen)));
    }
    Ok(None)
}

/// What the subjects the choices look at were, each once.
fn seen_by_choices(case: &Case, facts: &Facts) -> String {
    let mut seen: Vec<String> = Vec::new();
    for e in case.choices.iter().flat_map(|c| &c.when) {
        let text = match resolve(&e.subject, facts) {
            Ok(v) => v.render(&e.subject),
            Err(Check::Broken(t) | Check::Undecidable(t) | Check::Holds(t)) => t,
        };
        if !seen.contains(&text) {
            seen.push(text);
        }
    }
    seen.join("; ")
}

fn join_u16(v: &[u16]) -> String {
    v.iter()
        .map(u16::to_string)
        .collect::<Vec<_>>()
        .join(" or ")
}

struct Facts<'a> {
    response: &'a Response,
    observation: Option<&'a Value>,
    events: Option<&'a [Value]>,
    wire: &'a WireFacts,
    second: Option<&'a (Response, Option<Value>)>,
}

fn path_in<'v>(root: &'v Value, path: &str) -> Option<&'v Value> {
    path.split('.').try_fold(root, |v, seg| match v {
        Value::Object(m) => m.get(seg),
        Value::Array(a) => seg.parse::<usize>().ok().and_then(|i| a.get(i)),
        _ => None,
    })
}

enum Check {
    /// Holds; the string says what was seen.
    Holds(String),
    /// Does not hold; the string says what was seen instead.
    Broken(String),
    /// The harness lacks what it needs to decide.
    Undecidable(String),
}

/// A resolved subject: its value (None = absent) and what the probe said
/// about its Python type.
struct SubjectValue {
    value: Option<Value>,
    py_type: Option<String>,
    latin1: Option<bool>,
    methods: Option<Vec<String>>,
}

impl SubjectValue {
    fn plain(value: Option<Value>) -> SubjectValue {
        SubjectValue {
            value,
            py_type: None,
            latin1: None,
            methods: None,
        }
    }

    fn render(&self, subject: &Subject) -> String {
        match &self.value {
            None => format!("{subject} absent"),
            Some(v) => match &self.py_type {
                Some(t) => format!("{subject} = {} ({t})", short(v)),
                None => format!("{subject} = {}", short(v)),
            },
        }
    }
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 160 {
        let cut: String = s.chars().take(157).collect();
        format!("{cut}...")
    } else {
        s
    }
}

/// Why a subject that needs the probe's observation could not be read.
fn no_observation(response: &Response) -> String {
    let body = latin1_string(&response.body);
    let body = body.trim();
    let excerpt: String = body.chars().take(200).collect();
    format!(
        "no probe observation: status {} {}{}",
        response.status,
        response.reason,
        if excerpt.is_empty() {
            String::new()
        } else {
            format!(", body: {excerpt}")
        }
    )
}

fn resolve(subject: &Subject, facts: &Facts) -> Result<SubjectValue, Check> {
    let observation = || {
        facts
            .observation
            .ok_or_else(|| Check::Broken(no_observation(facts.response)))
    };
    Ok(match subject {
        Subject::Second(inner) => match facts.second {
            None => SubjectValue::plain(None),
            Some((response, observation)) => resolve(
                inner,
                &Facts {
                    response,
                    observation: observation.as_ref(),
                    events: facts.events,
                    wire: &WireFacts::default(),
                    second: None,
                },
            )?,
        },
        Subject::Wire { fact, path } => {
            let value = facts.wire.get(*fact);
            let value = match path {
                None => value,
                Some(path) => value.and_then(|v| path_in(v, path)),
            };
            SubjectValue::plain(value.cloned())
        }
        Subject::Environ(key) => match observation()?.get("environ").and_then(|e| e.get(key)) {
            None => SubjectValue::plain(None),
            Some(entry) => SubjectValue {
                value: Some(entry.get("value").cloned().unwrap_or(Value::Null)),
                py_type: entry
                    .get("type")
                    .and_then(Value::as_str)
                    .map(str::to_string),
                latin1: entry.get("latin1").and_then(Value::as_bool),
                methods: entry.get("methods").and_then(Value::as_array).map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_string)
                        .collect()
                }),
            },
        },
        Subject::Observation(path) => SubjectValue::plain(path_in(observation()?, path).cloned()),
        Subject::Header(name) => SubjectValue::plain(
            facts
                .response
                .header(name)
                .map(|v| Value::String(v.to_string())),
        ),
        Subject::HeaderLines(name) => {
            SubjectValue::plain(Some(Value::from(facts.response.header_all(name).len())))
        }
        Subject::Event(name) => {
            let events = facts.events.ok_or_else(|| {
                Check::Undecidable("side-channel events were not read back".to_string())
            })?;
            let n = events
                .iter()
                .filter(|e| e.get("name").and_then(Value::as_str) == Some(name.as_str()))
                .count();
            SubjectValue::plain(Some(Value::from(n)))
        }
        Subject::Status => SubjectValue::plain(Some(Value::from(facts.response.status))),
        Subject::Body => {
            SubjectValue::plain(Some(Value::String(latin1_string(&facts.response.body))))
        }
    })
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn to_json(v: &toml::Value) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

/// Equality that treats 1 and 1.0 alike, and nothing else loosely.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b))
        }
        _ => a == b,
    }
}

fn check(e: &Expect, facts: &Facts) -> Check {
    let seen = match resolve(&e.subject, facts) {
        Ok(s) => s,
        Err(c) => return c,
    };
    let actual = seen.render(&e.subject);
    let ok = |b: bool| {
        if b {
            Check::Holds(actual.clone())
        } else {
            Check::Broken(actual.clone())
        }
    };

    if let Some(want) = e.empty_or_absent {
        let empty = match &seen.value {
            None => true,
            Some(Value::String(s)) => s.is_empty(),
            Some(_) => false,
        };
        if empty != want {
            return ok(false);
        }
    }
    if let Some(want) = e.present {
        if seen.value.is_some() != want {
            return ok(false);
        }
    }
    let only_absence_checks = e.present != Some(true)
        && e.type_name.is_none()
        && e.equals.is_none()
        && e.one_of.is_none()
        && e.not_equals.is_none()
        && e.nonempty.is_none()
        && e.latin1.is_none()
        && e.contains.is_none()
        && e.matches.is_none()
        && e.at_least.is_none()
        && e.at_most.is_none()
        && e.methods.is_none();
    let value = match &seen.value {
        Some(v) => v,
        None => return ok(only_absence_checks || e.or_absent == Some(true)),
    };

    if let Some(want) = &e.type_name {
        let got = seen.py_type.as_deref().unwrap_or_else(|| json_type(value));
        if got != want {
            return ok(false);
        }
    }
    if let Some(want) = &e.equals {
        if !same(value, &to_json(want)) {
            return ok(false);
        }
    }
    if let Some(options) = &e.one_of {
        if !options.iter().any(|o| same(value, &to_json(o))) {
            return ok(false);
        }
    }
    if let Some(not) = &e.not_equals {
        if same(value, &to_json(not)) {
            return ok(false);
        }
    }
    if let Some(want) = e.nonempty {
        let nonempty = match value {
            Value::String(s) => !s.is_empty(),
            Value::Array(a) => !a.is_empty(),
            Value::Object(o) => !o.is_empty(),
            Value::Null => false,
            _ => true,
        };
        if nonempty != want {
            return ok(false);
        }
    }
    if let Some(want) = e.latin1 {
        let is = match (seen.latin1, value) {
            (Some(flag), _) => flag,
            (None, Value::String(s)) => s.chars().all(|c| (c as u32) < 256),
            _ => false,
        };
        if is != want {
            return ok(false);
        }
    }
    if let Some(needle) = &e.contains {
        let needle = to_json(needle);
        let has = match (value, &needle) {
            (Value::String(s), Value::String(n)) => s.contains(n.as_str()),
            (Value::Array(a), n) => a.iter().any(|x| same(x, n)),
            _ => false,
        };
        if !has {
            return ok(false);
        }
    }
    if let Some(pattern) = &e.matches {
        // The pattern was compiled once when the spec was loaded; a bad
        // one never gets this far.
        let Ok(re) = regex_lite::Regex::new(pattern) else {
            return Check::Undecidable(format!("bad pattern {pattern:?}"));
        };
        match value {
            Value::String(s) if re.is_match(s) => {}
            _ => return ok(false),
        }
    }
    if e.at_least.is_some() || e.at_most.is_some() {
        let Some(n) = value.as_f64() else {
            return ok(false);
        };
        if e.at_least.is_some_and(|min| n < min) || e.at_most.is_some_and(|max| n > max) {
            return ok(false);
        }
    }
    if let Some(want) = &e.methods {
        let have = seen.methods.clone().unwrap_or_default();
        let missing: Vec<_> = want.iter().filter(|m| !have.contains(m)).collect();
        if !missing.is_empty() {
            return Check::Broken(format!(
                "{} lacks {}",
                e.subject,
                missing
                    .iter()
                    .map(|m| m.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
    }
    ok(true)
}

/// One expectation in words: `environ.REQUEST_METHOD equals "GET"`.
pub fn describe(e: &Expect) -> String {
    let mut parts = Vec::new();
    if let Some(p) = e.present {
        parts.push(if p { "present" } else { "absent" }.to_string());
    }
    if let Some(t) = &e.type_name {
        parts.push(format!("of type {t}"));
    }
    if let Some(v) = &e.equals {
        parts.push(format!("equals {}", to_json(v)));
    }
    if let Some(v) = &e.one_of {
        let opts: Vec<_> = v.iter().map(|o| to_json(o).to_string()).collect();
        parts.push(format!("one of {}", opts.join(", ")));
    }
    if let Some(v) = &e.not_equals {
        parts.push(format!("not {}", to_json(v)));
    }
    if let Some(b) = e.nonempty {
        parts.push(if b { "non-empty" } else { "empty" }.to_string());
    }
    if let Some(b) = e.latin1 {
        parts.push(
            if b {
                "ISO-8859-1 only"
            } else {
                "not ISO-8859-1 only"
            }
            .to_string(),
        );
    }
    if let Some(v) = &e.contains {
        parts.push(format!("contains {}", to_json(v)));
    }
    if let Some(p) = &e.matches {
        parts.push(format!("matches /{p}/"));
    }
    if let Some(n) = e.at_least {
        parts.push(format!(">= {n}"));
    }
    if let Some(n) = e.at_most {
        parts.push(format!("<= {n}"));
    }
    if let Some(b) = e.empty_or_absent {
        parts.push(
            if b {
                "empty or absent"
            } else {
                "present and non-empty"
            }
            .to_string(),
        );
    }
    if let Some(m) = &e.methods {
        parts.push(format!("has {}", m.join(", ")));
    }
    if e.or_absent == Some(true) {
        parts.push("or absent".to_string());
    }
    format!("{} {}", e.subject, parts.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::Framing;
    use serde_json::json;

    fn case(level: &str, expect: &str) -> Case {
        let text = format!(
            "id = \"environ.t\"\nlevel = \"{level}\"\nsource = \"s\"\nrequirement = \"r\"\n\
             stimulus = \"x\"\nexpect = [{expect}]\n"
        );
        toml::from_str(&text).unwrap()
    }

    fn response(status: u16, body: &str) -> Response {
        Response {
            version: "HTTP/1.1".into(),
            status,
            reason: "OK".into(),
            headers: vec![("Date".into(), "Mon, 01 Jan 2024 00:00:00 GMT".into())],
            body: body.as_bytes().to_vec(),
            framing: Framing::ContentLength(body.len() as u64),
            trailers: vec![],
            interim: vec![],
            raw_head: vec![],
            bare_lf: false,
        }
    }

    fn answered(obs: Value) -> Exchange {
        Exchange::answered(
            response(200, "{}"),
            Some(obs),
            Some(vec![json!({"name": "close"})]),
        )
    }

    fn env(key: &str, ty: &str, value: Value) -> Value {
        json!({"environ": {key: {"type": ty, "value": value, "latin1": true}}})
    }

    #[test]
    fn equal_value_passes() {
        let c = case(
            "must",
            r#"{ subject = "environ.REQUEST_METHOD", equals = "PROPFIND", type = "str" }"#,
        );
        let v = judge(
            &c,
            &answered(env("REQUEST_METHOD", "str", json!("PROPFIND"))),
        );
        assert_eq!(v.outcome, Outcome::Pass, "{v:?}");
    }

    #[test]
    fn levels_map_to_fail_warn_skip() {
        let obs = env("REQUEST_METHOD", "str", json!("propfind"));
        for (level, outcome) in [
            ("must", Outcome::Fail),
            ("should", Outcome::Warn),
            ("may", Outcome::Skip),
        ] {
            let c = case(
                level,
                r#"{ subject = "environ.REQUEST_METHOD", equals = "PROPFIND" }"#,
            );
            let v = judge(&c, &answered(obs.clone()));
            assert_eq!(v.outcome, outcome);
            assert!(v.expected.contains("\"PROPFIND\""), "{v:?}");
            assert!(v.actual.contains("\"propfind\" (str)"), "{v:?}");
        }
    }

    #[test]
    fn python_type_is_checked_for_environ() {
        let c = case(
            "must",
            r#"{ subject = "environ.SERVER_PORT", type = "str" }"#,
        );
        let v = judge(&c, &answered(env("SERVER_PORT", "int", json!(8000))));
        assert_eq!(v.outcome, Outcome::Fail);
        assert!(v.actual.contains("(int)"));
    }

    #[test]
    fn absent_key_fails_value_checks_but_passes_absence_checks() {
        let obs = json!({"environ": {}});
        let c = case(
            "must",
            r#"{ subject = "environ.QUERY_STRING", type = "str" }"#,
        );
        assert_eq!(judge(&c, &answered(obs.clone())).outcome, Outcome::Fail);
        let c = case(
            "must",
            r#"{ subject = "environ.HTTP_CONTENT_TYPE", present = false }"#,
        );
        assert_eq!(judge(&c, &answered(obs.clone())).outcome, Outcome::Pass);
        let c = case(
            "must",
            r#"{ subject = "environ.CONTENT_TYPE", empty_or_absent = true }"#,
        );
        assert_eq!(judge(&c, &answered(obs)).outcome, Outcome::Pass);
    }

    #[test]
    fn empty_or_absent_rejects_a_value() {
        let c = case(
            "must",
            r#"{ subject = "environ.CONTENT_TYPE", empty_or_absent = true }"#,
        );
        let v = judge(
            &c,
            &answered(env("CONTENT_TYPE", "str", json!("text/plain"))),
        );
        assert_eq!(v.outcome, Outcome::Fail);
    }

    #[test]
    fn tuple_value_compares_as_array() {
        let c = case(
            "must",
            r#"{ subject = "environ.wsgi.version", type = "tuple", equals = [1, 0] }"#,
        );
        let v = judge(&c, &answered(env("wsgi.version", "tuple", json!([1, 0]))));
        assert_eq!(v.outcome, Outcome::Pass, "{v:?}");
        let v = judge(&c, &answered(env("wsgi.version", "list", json!([1, 0]))));
        assert_eq!(v.outcome, Outcome::Fail);
    }

    #[test]
    fn one_of_and_latin1() {
        let c = case(
            "must",
            r#"{ subject = "environ.HTTP_X", one_of = ["a,b", "a, b"], latin1 = true }"#,
        );
        assert_eq!(
            judge(&c, &answered(env("HTTP_X", "str", json!("a, b")))).outcome,
            Outcome::Pass
        );
        assert_eq!(
            judge(&c, &answered(env("HTTP_X", "str", json!("b")))).outcome,
            Outcome::Fail
        );
        let obs = json!({"environ": {"HTTP_X": {"type": "str", "value": "a,b", "latin1": false}}});
        assert_eq!(judge(&c, &answered(obs)).outcome, Outcome::Fail);
    }

    #[test]
    fn methods_lists_what_is_missing() {
        let c = case(
            "must",
            r#"{ subject = "environ.wsgi.input", methods = ["read", "readline"] }"#,
        );
        let obs =
            json!({"environ": {"wsgi.input": {"type": "X", "value": "<X>", "methods": ["read"]}}});
        let v = judge(&c, &answered(obs));
        assert_eq!(v.outcome, Outcome::Fail);
        assert!(v.actual.contains("lacks readline"), "{v:?}");
    }

    #[test]
    fn observation_path_and_json_type() {
        let c = case(
            "must",
            r#"{ subject = "observation.call.positional", type = "number", equals = 2 }"#,
        );
        let v = judge(&c, &answered(json!({"call": {"positional": 2}})));
        assert_eq!(v.outcome, Outcome::Pass, "{v:?}");
        let v = judge(&c, &answered(json!({"call": {"positional": 0}})));
        assert_eq!(v.outcome, Outcome::Fail);
    }

    #[test]
    fn events_are_counted() {
        let c = case("must", r#"{ subject = "event.close", at_least = 1 }"#);
        assert_eq!(judge(&c, &answered(json!({}))).outcome, Outcome::Pass);
        let none = Exchange::answered(response(200, "x"), None, Some(vec![]));
        let v = judge(&c, &none);
        assert_eq!(v.outcome, Outcome::Fail);
        assert!(v.actual.contains("event.close = 0"), "{v:?}");
        let unread = Exchange::answered(response(200, "x"), None, None);
        assert_eq!(judge(&c, &unread).outcome, Outcome::Error);
    }

    #[test]
    fn missing_observation_is_the_servers_fault() {
        let c = case(
            "must",
            r#"{ subject = "environ.REQUEST_METHOD", equals = "GET" }"#,
        );
        let ex = Exchange::answered(response(500, "Internal Server Error"), None, None);
        let v = judge(&c, &ex);
        assert_eq!(v.outcome, Outcome::Fail);
        assert!(v.actual.contains("status 500"), "{v:?}");
    }

    #[test]
    fn allowed_refusal_passes() {
        let mut c = case(
            "must",
            r#"{ subject = "environ.PATH_INFO", equals = "/x" }"#,
        );
        c.allow_status = vec![400];
        let ex = Exchange::answered(response(400, "Bad Request"), None, None);
        let v = judge(&c, &ex);
        assert_eq!(v.outcome, Outcome::Pass);
        assert!(v.actual.contains("refused with status 400"));
    }

    #[test]
    fn unmet_precondition_skips() {
        let mut c = case("must", r#"{ subject = "status", equals = 200 }"#);
        c.requires =
            vec![
                toml::from_str("subject = \"environ.wsgi.file_wrapper\"\npresent = true").unwrap(),
            ];
        let v = judge(&c, &answered(json!({"environ": {}})));
        assert_eq!(v.outcome, Outcome::Skip);
        assert!(v.actual.starts_with("not applicable"));
    }

    #[test]
    fn faults_map_to_level_or_error() {
        let c = case("should", r#"{ subject = "status", equals = 200 }"#);
        let hung = Exchange::ServerFault {
            what: "no response within 5000 ms".into(),
            timed_out: true,
        };
        assert_eq!(judge(&c, &hung).outcome, Outcome::Warn);
        let gone = Exchange::HarnessFault {
            what: "could not connect".into(),
        };
        assert_eq!(judge(&c, &gone).outcome, Outcome::Error);
    }

    #[test]
    fn header_and_body_subjects() {
        let c = case(
            "must",
            r#"{ subject = "header.date", present = true }, { subject = "body", equals = "{}" }"#,
        );
        assert_eq!(judge(&c, &answered(json!({}))).outcome, Outcome::Pass);
    }

    #[test]
    fn or_absent_lets_a_missing_subject_hold() {
        let c = case(
            "must",
            r#"{ subject = "environ.CONTENT_LENGTH", one_of = ["", "11"], or_absent = true }"#,
        );
        assert_eq!(
            judge(&c, &answered(json!({"environ": {}}))).outcome,
            Outcome::Pass
        );
        let v = judge(&c, &answered(env("CONTENT_LENGTH", "str", json!("0"))));
        assert_eq!(v.outcome, Outcome::Fail);
        assert!(v.expected.contains("or absent"), "{v:?}");
    }

    fn with_choices(level: &str, expect: &str, choices: &str) -> Case {
        let text = format!(
            "id = \"environ.t\"\nlevel = \"{level}\"\nsource = \"s\"\nrequirement = \"r\"\n\
             stimulus = \"x\"\nexpect = [{expect}]\n{choices}"
        );
        toml::from_str(&text).unwrap()
    }

    const DOTS: &str = r#"
[[choice]]
name = "passed through"
when = [{ subject = "environ.PATH_INFO", equals = "/a/../b" }]

[[choice]]
name = "resolved"
when = [{ subject = "environ.PATH_INFO", equals = "/b" }]

[[choice]]
name = "dropped the dots"
legal = false
when = [{ subject = "environ.PATH_INFO", equals = "/a/b" }]
"#;

    #[test]
    fn a_legal_choice_passes_and_names_what_the_server_did() {
        let c = with_choices("must", "", DOTS);
        let v = judge(&c, &answered(env("PATH_INFO", "str", json!("/b"))));
        assert_eq!(v.outcome, Outcome::Pass, "{v:?}");
        assert!(v.actual.starts_with("resolved: environ.PATH_INFO"), "{v:?}");
        assert!(
            v.expected.contains("one of: passed through | resolved"),
            "{v:?}"
        );
    }

    #[test]
    fn an_illegal_choice_breaks_the_case_with_its_reason() {
        let c = with_choices("should", "", DOTS);
        let v = judge(&c, &answered(env("PATH_INFO", "str", json!("/a/b"))));
        assert_eq!(v.outcome, Outcome::Warn, "{v:?}");
        assert!(v.actual.starts_with("dropped the dots: "), "{v:?}");
    }

    #[test]
    fn no_legal_choice_holding_breaks_the_case() {
        let c = with_choices("must", "", DOTS);
        let v = judge(&c, &answered(env("PATH_INFO", "str", json!("/elsewhere"))));
        assert_eq!(v.outcome, Outcome::Fail, "{v:?}");
        assert!(
            v.actual
                .starts_with("none of these: environ.PATH_INFO = \"/elsewhere\""),
            "{v:?}"
        );
        // Only illegal choices: none holding is a pass.
        let only_bad = with_choices(
            "must",
            r#"{ subject = "status", equals = 200 }"#,
            "[[choice]]\nname = \"bad\"\nlegal = false\nwhen = [{ subject = \"status\", equals = 500 }]",
        );
        assert_eq!(
            judge(&only_bad, &answered(json!({}))).outcome,
            Outcome::Pass
        );
    }

    #[test]
    fn broken_expectations_come_first_and_keep_the_choice_name() {
        let c = with_choices(
            "must",
            r#"{ subject = "environ.REQUEST_METHOD", equals = "GET" }"#,
            DOTS,
        );
        let obs = json!({"environ": {
            "PATH_INFO": {"type": "str", "value": "/b", "latin1": true},
            "REQUEST_METHOD": {"type": "str", "value": "PUT", "latin1": true}}});
        let v = judge(&c, &answered(obs));
        assert_eq!(v.outcome, Outcome::Fail, "{v:?}");
        assert!(v.actual.starts_with("environ.REQUEST_METHOD"), "{v:?}");
        assert!(v.actual.ends_with("(resolved)"), "{v:?}");
    }

    #[test]
    fn matches_and_header_lines() {
        let c = case(
            "must",
            r#"{ subject = "header.Date", matches = "^[A-Z][a-z]{2}, [0-9]{2} " }, { subject = "header_lines.Date", equals = 1 }"#,
        );
        assert_eq!(judge(&c, &answered(json!({}))).outcome, Outcome::Pass);
        let mut twice = response(200, "{}");
        twice.headers.push(("date".into(), "yesterday".into()));
        let v = judge(&c, &Exchange::answered(twice, None, None));
        assert_eq!(v.outcome, Outcome::Fail);
        assert!(v.actual.contains("header_lines.Date = 2"), "{v:?}");
        let mut bad = response(200, "{}");
        bad.headers[0].1 = "yesterday".into();
        let v = judge(&c, &Exchange::answered(bad, None, None));
        assert!(v.expected.contains("matches /^[A-Z]"), "{v:?}");
    }

    #[test]
    fn wire_and_second_subjects() {
        let c = case(
            "should",
            r#"{ subject = "wire.second", equals = "answered" }, { subject = "second.environ.PATH_INFO", equals = "/next" }, { subject = "second.status", equals = 200 }"#,
        );
        let with = |state: &str, second: Option<Value>| {
            let mut wire = WireFacts::default();
            wire.set(crate::spec::WireFact::Second, state);
            Exchange::Answered {
                response: response(200, "{}"),
                observation: None,
                events: None,
                wire,
                second: second.map(|obs| Box::new((response(200, "{}"), Some(obs)))),
            }
        };
        let ok = with("answered", Some(env("PATH_INFO", "str", json!("/next"))));
        assert_eq!(judge(&c, &ok).outcome, Outcome::Pass);
        let desync = with("malformed", None);
        let v = judge(&c, &desync);
        assert_eq!(v.outcome, Outcome::Warn);
        assert!(v.actual.contains("wire.second = \"malformed\""), "{v:?}");
        assert!(
            v.actual.contains("second.environ.PATH_INFO absent"),
            "{v:?}"
        );
    }
}
