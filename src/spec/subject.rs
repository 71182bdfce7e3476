//! What an expectation can look at: the one registry of subjects.
//!
//! A subject is written as a string in a spec (`environ.REQUEST_METHOD`,
//! `wire.second`, `second.status`) and parsed into a [`Subject`] once, when
//! the spec is loaded; an unknown one is a spec error. The runner asks a
//! subject what it needs gathered (side-channel events, a second response),
//! the judge resolves it by matching on the enum, and the facts the runner
//! records about a connection are listed once, in [`WireFact`].

use std::fmt;

use serde::{Deserialize, Serialize};

/// What an expectation looks at.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(try_from = "String", into = "String")]
pub enum Subject {
    /// `environ.KEY`: the probe's report of one environ key (KEY may contain dots).
    Environ(String),
    /// `observation.a.b`: a field of the probe's observation JSON.
    Observation(String),
    /// `status`: the response status code.
    Status,
    /// `header.NAME`: a response header (case-insensitive; the first value).
    Header(String),
    /// `header_lines.NAME`: how many header lines of that name the response
    /// carries (case-insensitive), to see a field sent twice.
    HeaderLines(String),
    /// `body`: the response body, ISO-8859-1 decoded.
    Body,
    /// `event.NAME`: how many side-channel events of that name were recorded.
    Event(String),
    /// `wire.NAME` or `wire.NAME.PATH`: what the runner saw on the connection.
    Wire {
        fact: WireFact,
        /// A path into the fact's value (`wire.concurrency.answered`).
        path: Option<String>,
    },
    /// `second.SUBJECT`: a subject of the response to the case's second
    /// request (status, body, header, environ or observation).
    Second(Box<Subject>),
}

/// The facts the runner records about a connection, as `wire.NAME` names
/// them. Adding one means a variant here and the code that records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum WireFact {
    /// `version`: the protocol version of the response's status line.
    Version,
    /// `keep_alive`: whether the response lets the connection carry another request.
    KeepAlive,
    /// `interim`: the statuses of the 1xx responses before the final one.
    Interim,
    /// `continue`: a `100 Continue` came before the final response.
    Continue,
    /// `first_body_ms`: milliseconds from sending to the first body byte
    /// (`watch_first_body`).
    FirstBodyMs,
    /// `head_to_end_ms`: milliseconds from the end of the response head
    /// to the end of the response (its last byte, or the server breaking
    /// off), `watch_head`. Unlike a time from sending, it does not grow
    /// while the request waits behind others on a busy server.
    HeadToEndMs,
    /// `after_body`: bytes that came after the response's framed end
    /// (`linger_ms`, and every HEAD request without a second one).
    AfterBody,
    /// `closed`: the server closed the connection within the linger.
    Closed,
    /// `disconnected`: the client hung up after the head (`disconnect_after_head`).
    Disconnected,
    /// `second`: what became of the second request: `answered`, `closed`,
    /// `timeout`, `malformed` or `not-sent`.
    Second,
    /// `second_error`: why the second response was malformed.
    SecondError,
    /// `second_seen`: a status line came after the first response, even
    /// behind stray bytes: the server did answer the second request.
    SecondSeen,
    /// `cut`: how a response the case allows to break was cut short:
    /// `closed` or `malformed` (`broken_response_ok`).
    Cut,
    /// `concurrency`: what `concurrent = N` requests showed (an object; see
    /// docs/probe-protocol.md).
    Concurrency,
}

impl WireFact {
    /// Every wire fact.
    pub const ALL: [WireFact; 14] = [
        WireFact::Version,
        WireFact::KeepAlive,
        WireFact::Interim,
        WireFact::Continue,
        WireFact::FirstBodyMs,
        WireFact::HeadToEndMs,
        WireFact::AfterBody,
        WireFact::Closed,
        WireFact::Disconnected,
        WireFact::Second,
        WireFact::SecondError,
        WireFact::SecondSeen,
        WireFact::Cut,
        WireFact::Concurrency,
    ];

    /// The name after `wire.`.
    pub fn name(self) -> &'static str {
        match self {
            WireFact::Version => "version",
            WireFact::KeepAlive => "keep_alive",
            WireFact::Interim => "interim",
            WireFact::Continue => "continue",
            WireFact::FirstBodyMs => "first_body_ms",
            WireFact::HeadToEndMs => "head_to_end_ms",
            WireFact::AfterBody => "after_body",
            WireFact::Closed => "closed",
            WireFact::Disconnected => "disconnected",
            WireFact::Second => "second",
            WireFact::SecondError => "second_error",
            WireFact::SecondSeen => "second_seen",
            WireFact::Cut => "cut",
            WireFact::Concurrency => "concurrency",
        }
    }

    fn named(name: &str) -> Option<WireFact> {
        WireFact::ALL.into_iter().find(|f| f.name() == name)
    }
}

/// The prefixes of subjects that take a name, in the order error messages
/// list them.
const PREFIXES: &str = "environ., observation., header., header_lines., event., wire.";

impl Subject {
    /// Parses a subject as written in a spec.
    pub fn parse(text: &str) -> Result<Subject, String> {
        if let Some(inner) = text.strip_prefix("second.") {
            let inner = Subject::parse_one(inner, text)?;
            return match inner {
                Subject::Event(_) | Subject::Wire { .. } => Err(format!(
                    "{text}: events and wire facts belong to the case, not to its second request; drop `second.`"
                )),
                _ => Ok(Subject::Second(Box::new(inner))),
            };
        }
        Subject::parse_one(text, text)
    }

    /// Parses `text` (all of `whole`, or what follows its `second.`).
    fn parse_one(text: &str, whole: &str) -> Result<Subject, String> {
        let named = |prefix: &str| {
            text.strip_prefix(prefix)
                .filter(|rest| !rest.is_empty())
                .map(str::to_string)
        };
        let subject = match text {
            "status" => Subject::Status,
            "body" => Subject::Body,
            _ => {
                if let Some(key) = named("environ.") {
                    Subject::Environ(key)
                } else if let Some(path) = named("observation.") {
                    Subject::Observation(path)
                } else if let Some(name) = named("header.") {
                    Subject::Header(name)
                } else if let Some(name) = named("header_lines.") {
                    Subject::HeaderLines(name)
                } else if let Some(name) = named("event.") {
                    Subject::Event(name)
                } else if let Some(rest) = named("wire.") {
                    let (name, path) = match rest.split_once('.') {
                        Some((name, path)) => (name, Some(path.to_string())),
                        None => (rest.as_str(), None),
                    };
                    let fact = WireFact::named(name).ok_or_else(|| {
                        let known: Vec<_> = WireFact::ALL.iter().map(|f| f.name()).collect();
                        format!(
                            "unknown subject {whole:?}: the runner records no wire fact {name:?}; it records {}",
                            known.join(", ")
                        )
                    })?;
                    Subject::Wire { fact, path }
                } else {
                    return Err(format!(
                        "unknown subject {whole:?}; use status, body, or a name after {PREFIXES} (any of them after second.)"
                    ));
                }
            }
        };
        Ok(subject)
    }

    /// Whether resolving it needs the case's side-channel events read back.
    pub fn needs_events(&self) -> bool {
        matches!(self, Subject::Event(_))
    }

    /// Whether it looks at the response to the case's second request.
    pub fn needs_second(&self) -> bool {
        matches!(self, Subject::Second(_))
    }
}

impl TryFrom<String> for Subject {
    type Error = String;

    fn try_from(text: String) -> Result<Subject, String> {
        Subject::parse(&text)
    }
}

impl From<Subject> for String {
    fn from(s: Subject) -> String {
        s.to_string()
    }
}

/// Writes the subject as a spec would: parsing it back gives the same subject.
impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Subject::Environ(key) => write!(f, "environ.{key}"),
            Subject::Observation(path) => write!(f, "observation.{path}"),
            Subject::Status => f.write_str("status"),
            Subject::Header(name) => write!(f, "header.{name}"),
            Subject::HeaderLines(name) => write!(f, "header_lines.{name}"),
            Subject::Body => f.write_str("body"),
            Subject::Event(name) => write!(f, "event.{name}"),
            Subject::Wire { fact, path: None } => write!(f, "wire.{}", fact.name()),
            Subject::Wire {
                fact,
                path: Some(path),
            } => write!(f, "wire.{}.{path}", fact.name()),
            Subject::Second(inner) => write!(f, "second.{inner}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_form_parses_and_writes_back_unchanged() {
        for text in [
            "status",
            "body",
            "environ.wsgi.url_scheme",
            "observation.input.calls.0.len",
            "header.X-Case",
            "header_lines.Date",
            "event.close",
            "wire.second",
            "wire.concurrency.answered",
            "second.environ.PATH_INFO",
            "second.status",
        ] {
            let s = Subject::parse(text).unwrap();
            assert_eq!(s.to_string(), text);
        }
        assert_eq!(
            Subject::parse("wire.concurrency.answered").unwrap(),
            Subject::Wire {
                fact: WireFact::Concurrency,
                path: Some("answered".into())
            }
        );
    }

    #[test]
    fn unknown_subjects_and_wire_facts_are_refused() {
        for bad in [
            "environment.X",
            "environ.",
            "Status",
            "second.second.status",
            "second.",
            "wire.",
        ] {
            let e = Subject::parse(bad).unwrap_err();
            assert!(e.contains("unknown subject"), "{bad}: {e}");
        }
        let e = Subject::parse("wire.keepalive").unwrap_err();
        assert!(e.contains("keep_alive"), "{e}");
        assert!(Subject::parse("second.event.close").is_err());
        assert!(Subject::parse("second.wire.second").is_err());
    }

    #[test]
    fn wire_fact_names_are_distinct() {
        for f in WireFact::ALL {
            assert_eq!(WireFact::named(f.name()), Some(f));
        }
    }
}
