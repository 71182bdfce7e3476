//! The evidence of one case: what its exchange with the server produced,
//! as data the judge reads and no I/O touches.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::http::Response;
use crate::spec::WireFact;

/// What a case's exchange with the server produced.
#[derive(Debug, Clone)]
// One exchange per case, built once and judged once: the size difference
// between variants costs nothing worth an indirection.
#[allow(clippy::large_enum_variant)]
pub enum Exchange {
    /// The server answered.
    Answered {
        response: Response,
        /// The probe's observation, when the body was one.
        observation: Option<Value>,
        /// Side-channel events for the case's token, when they were read back.
        events: Option<Vec<Value>>,
        /// What the runner saw on the connection (`wire.*` subjects).
        wire: WireFacts,
        /// The response to the case's second request and its observation.
        second: Option<Box<(Response, Option<Value>)>>,
    },
    /// The server misbehaved at the HTTP level: it hung (`timed_out`),
    /// closed the connection early or sent a malformed response. That is a
    /// verdict.
    ServerFault { what: String, timed_out: bool },
    /// The harness could not decide (could not connect, the server is gone).
    HarnessFault { what: String },
    /// The case does not apply to this stack (it needs nginx in front, TLS,
    /// a mount path, ...): nothing was sent.
    NotApplicable { why: String },
}

impl Exchange {
    /// An answer with no wire facts and no second response.
    pub fn answered(
        response: Response,
        observation: Option<Value>,
        events: Option<Vec<Value>>,
    ) -> Exchange {
        Exchange::Answered {
            response,
            observation,
            events,
            wire: WireFacts::default(),
            second: None,
        }
    }

    /// Whether the response came from the server itself: not a fault, and
    /// not a proxy's own 502 or 504 (the probe never answers those, so
    /// behind nginx they mean the server did not answer).
    pub fn server_answered(&self) -> bool {
        match self {
            Exchange::Answered { response, .. } => !matches!(response.status, 502 | 504),
            _ => false,
        }
    }

    /// Whether no response came within the case's time limit.
    pub fn timed_out(&self) -> bool {
        matches!(
            self,
            Exchange::ServerFault {
                timed_out: true,
                ..
            }
        )
    }
}

/// What came back for a case: the (first) response, the wire facts, and
/// the response to a second request with its observation.
pub struct Received {
    pub response: Response,
    pub wire: WireFacts,
    pub second: Option<Box<(Response, Option<Value>)>>,
}

/// What the runner saw on a connection, one value per [`WireFact`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WireFacts(BTreeMap<WireFact, Value>);

impl WireFacts {
    /// Records a fact (again: the last value counts).
    pub fn set(&mut self, fact: WireFact, value: impl Into<Value>) {
        self.0.insert(fact, value.into());
    }

    /// A fact, when it was recorded.
    pub fn get(&self, fact: WireFact) -> Option<&Value> {
        self.0.get(&fact)
    }
}

/// The probe's observation, when `body` is one.
pub fn parse_observation(body: &[u8]) -> Option<Value> {
    let v: Value = serde_json::from_slice(body).ok()?;
    (v.get("probe").and_then(Value::as_str) == Some("wsgiprobe")).then_some(v)
}
