//! Launching gateways: recipes as data, managed environments, nginx in
//! front, free ports, readiness, logs, and teardown of every process group
//! on every exit path.
//!
//! A stack is planned first (`plan`: flags checked against the recipe,
//! nothing started), then started (`Gateway::start`), which reports what
//! happens as `Event`s and never prints. Inside, the modules depend one
//! way only: launch on plan and venv, plan on recipe and proxy; recipe,
//! proxy and venv on process, process on cleanup; error and event on
//! nothing.

mod cleanup;
mod error;
mod event;
mod launch;
mod plan;
mod process;
mod proxy;
mod recipe;
mod venv;

pub use cleanup::{
    gather_on_interrupt, install_signal_handler, interrupt, interrupted, on_interrupt, on_signal,
    remove_registered_folders, reset_interrupt, GATHER_LIMIT,
};
pub use error::{GatewayError, PlanError};
pub use event::Event;
pub use launch::{expand, Fill, Gateway, Stack};
pub use plan::{plan, Deployment, GatewayKind, GatewaySpec, StackPlan, UrlPlan, UserApp};
pub use process::{python_version, tail};
pub use proxy::{nginx_version, ProxyKind, ProxySpec};
pub use recipe::{version, Listen, Recipe, RecipeBook, RecipeFileError, Tuning};
pub use venv::cache_dir;
