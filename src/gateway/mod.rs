//! Launching gateways: recipes as data, managed environments, nginx in
//! front, free ports, readiness, logs, and teardown of every process group
//! on every exit path.

mod cleanup;
mod launch;
mod proxy;
mod recipe;
mod venv;

pub use cleanup::{exit_if_interrupted, install_signal_handler, interrupted};
pub use launch::{
    expand, python_version, tail, Gateway, GatewayError, GatewayKind, GatewaySpec, Stack,
};
pub use proxy::{nginx_version, ProxyKind, ProxySpec};
pub use recipe::{version, Listen, Recipe, RecipeBook, RecipeFileError, Tuning};
pub use venv::cache_dir;
