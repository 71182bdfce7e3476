//! Writing the probe's files into a folder a gateway can load them from.

use std::io::{self, Write};
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

/// Writes the probe app and its wsgiref runner into `dir` (created if
/// missing). A file of that name already there is an
/// [`io::ErrorKind::AlreadyExists`] error unless `replace`; either way a
/// symbolic link is never followed (with `replace`, the link itself is
/// replaced), so nothing is written outside `dir`.
pub fn install(dir: &Path, replace: bool) -> io::Result<ProbeFiles> {
    std::fs::create_dir_all(dir)?;
    let app = dir.join(format!("{APP_MODULE}.py"));
    let wsgiref_runner = dir.join("wsgiprobe_wsgiref.py");
    // Both checked before either is written: a refusal leaves the folder as it was.
    if !replace {
        for path in [&app, &wsgiref_runner] {
            if path.symlink_metadata().is_ok() {
                return Err(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    format!("{} already exists", path.display()),
                ));
            }
        }
    }
    write_new(&app, APP_PY, replace)?;
    write_new(&wsgiref_runner, WSGIREF_PY, replace)?;
    Ok(ProbeFiles {
        dir: dir.to_path_buf(),
        app,
        wsgiref_runner,
        events_dir: dir.join(".wsgiprobe-events"),
    })
}

/// Creates `path` afresh (O_EXCL: an existing name, a symbolic link
/// included, is never opened), removing what is there first if `replace`.
fn write_new(path: &Path, text: &str, replace: bool) -> io::Result<()> {
    if replace {
        match std::fs::symlink_metadata(path) {
            Ok(m) if m.is_dir() => {
                return Err(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    format!("{} is a folder", path.display()),
                ))
            }
            Ok(_) => std::fs::remove_file(path)?,
            Err(_) => {}
        }
    }
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)?;
    f.write_all(text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_overwrites_unless_told_and_never_follows_a_link() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let target = outside.path().join("victim.py");
        std::fs::write(&target, "precious").unwrap();
        let app = dir.path().join("wsgiprobe_app.py");
        std::os::unix::fs::symlink(&target, &app).unwrap();

        let e = install(dir.path(), false).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::AlreadyExists, "{e}");
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "precious");
        assert!(!dir.path().join("wsgiprobe_wsgiref.py").exists());

        let files = install(dir.path(), true).unwrap();
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "precious");
        assert!(!files.app.symlink_metadata().unwrap().is_symlink());
        assert_eq!(std::fs::read_to_string(&files.app).unwrap(), APP_PY);

        // A plain file already there: refused, then replaced with --force.
        std::fs::write(&files.app, "mine").unwrap();
        assert!(install(dir.path(), false).is_err());
        assert_eq!(std::fs::read_to_string(&files.app).unwrap(), "mine");
        install(dir.path(), true).unwrap();
        assert_eq!(std::fs::read_to_string(&files.app).unwrap(), APP_PY);
    }
}
