//! Launching gateways: recipes as data, managed environments, nginx in
//! front, free ports, readiness, logs, and teardown of every process group
//! on every exit path.

mod cleanup;
mod error;
mod event;
mod launch;
mod process;
mod proxy;
mod recipe;
mod venv;

pub use cleanup::{exit_if_interrupted, install_signal_handler, interrupted, on_interrupt};
pub use error::GatewayError;
pub use event::Event;
pub use launch::{expand, Gateway, GatewayKind, GatewaySpec, Stack};
pub use process::{python_version, tail};
pub use proxy::{nginx_version, ProxyKind, ProxySpec};
pub use recipe::{version, Listen, Recipe, RecipeBook, RecipeFileError, Tuning};
pub use venv::cache_dir;
