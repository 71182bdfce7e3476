//! Launching gateways: recipes as data, free ports, readiness, logs, and
//! teardown of the whole process group on every exit path.

mod cleanup;
mod launch;
mod recipe;

pub use cleanup::{install_signal_handler, INTERRUPTED_EXIT};
pub use launch::{
    expand, python_version, tail, Gateway, GatewayError, GatewayKind, GatewaySpec, Stack,
};
pub use recipe::{options, template, version, ServerName};
