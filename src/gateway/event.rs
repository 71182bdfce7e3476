//! What happens while a stack comes up and goes down, as data. The gateway
//! emits these to a sink the caller hands it and never renders them; the
//! command layer decides what the user sees.

use std::path::PathBuf;

/// One thing worth telling the user about a stack's life.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A planned stack is being brought up (`label` as `GatewaySpec::label`).
    StackStarting { label: String },
    /// `--python` cannot import the server, so a managed environment runs it.
    ServerNotImportable { server: String, python: String },
    /// A managed environment is being created (it takes a while: pip runs).
    InstallingEnvironment {
        /// What pip installs (`gunicorn==22.0.0 gevent`).
        requirement: String,
        dir: PathBuf,
    },
    /// One line `python -m venv` (`tool` is `venv`) or pip wrote, as progress.
    InstallOutput { tool: &'static str, line: String },
    /// The managed environment was created and marked ready.
    EnvironmentReady,
    /// The stack serves the probe at `target` (`http://127.0.0.1:8000/`).
    StackReady { target: String },
    /// A launched server (or its proxy) had exited by the time the stack
    /// was stopped; `why` holds its status and the end of its log.
    ServerExited { why: String },
}
