//! The probe app: the WSGI application every gateway under test loads.
//!
//! It is Python, carried in the binary and written to a folder at run time
//! (docs/probe-protocol.md describes what it answers).

mod install;

pub use install::{app_spec, install, ProbeFiles, APP_MODULE, APP_SPEC, VALIDATED_APP_SPEC};

/// The probe's source.
pub const APP_PY: &str = include_str!("wsgiprobe_app.py");
/// Runs the probe under the standard library's `wsgiref.simple_server`.
pub const WSGIREF_PY: &str = include_str!("wsgiprobe_wsgiref.py");

/// The scenarios a request may select; a spec naming another is rejected.
pub const SCENARIOS: &[&str] = &[
    "ping",
    "environ",
    "read",
    "close",
    "close-raise",
    "write",
    "events",
    "errors",
    "exc-info-replace",
    "exc-info-sent",
    "start-twice",
    "bad-header",
    "empty-then-raise",
    "lazy-start",
    "slow-blocks",
    "str-body",
    "length-over",
    "length-under",
    "attrs",
    "close-slow",
    "file-wrapper",
    "validate-findings",
    "hold",
    "app-headers",
    "status",
    "stream",
    "differential",
];

/// Request headers that steer the probe (the probe hides them from the
/// environ it reports).
pub const SCENARIO_HEADER: &str = "X-Wsgiprobe-Scenario";
pub const TOKEN_HEADER: &str = "X-Wsgiprobe-Token";
pub const ARGS_HEADER: &str = "X-Wsgiprobe-Args";
/// Response header by which `ping` proves the probe is what answers.
pub const PROBE_HEADER: &str = "X-Wsgiprobe-Probe";
