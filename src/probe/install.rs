//! Writing the probe's files into a folder a gateway can load them from.

use std::io;
use std::path::{Path, PathBuf};

use super::{APP_PY, WSGIREF_PY};

/// The module name of the probe (`{app}` is `wsgiprobe_app:app`).
pub const APP_MODULE: &str = "wsgiprobe_app";
/// `module:callable`, the form every gateway takes.
pub const APP_SPEC: &str = "wsgiprobe_app:app";
/// The probe behind the standard library's `wsgiref.validate` checks, which
/// record what they find instead of raising (`check --validate`).
pub const VALIDATED_APP_SPEC: &str = "wsgiprobe_app:validated_app";

/// The callable a gateway is told to load (`{app}`).
pub fn app_spec(validate: bool) -> &'static str {
    if validate {
        VALIDATED_APP_SPEC
    } else {
        APP_SPEC
    }
}

/// Where the probe was written.
#[derive(Debug, Clone)]
pub struct ProbeFiles {
    /// The folder holding the module (`{app_dir}`).
    pub dir: PathBuf,
    /// `wsgiprobe_app.py`.
    pub app: PathBuf,
    /// `wsgiprobe_wsgiref.py`.
    pub wsgiref_runner: PathBuf,
    /// Where the side channel's events go.
    pub events_dir: PathBuf,
}

/// Writes the probe app and its wsgiref runner into `dir` (created if missing).
pub fn install(dir: &Path) -> io::Result<ProbeFiles> {
    std::fs::create_dir_all(dir)?;
    let app = dir.join(format!("{APP_MODULE}.py"));
    let wsgiref_runner = dir.join("wsgiprobe_wsgiref.py");
    std::fs::write(&app, APP_PY)?;
    std::fs::write(&wsgiref_runner, WSGIREF_PY)?;
    Ok(ProbeFiles {
        dir: dir.to_path_buf(),
        app,
        wsgiref_runner,
        events_dir: dir.join(".wsgiprobe-events"),
    })
}
