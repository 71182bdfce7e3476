//! Managed Python environments: `--server NAME==VERSION`, or a server that
//! `--python` cannot import, runs from a virtual environment in a cache
//! folder, created once with pip and reused.
//!
//! The cache is `$WSGIPROBE_CACHE`, else `$XDG_CACHE_HOME/wsgiprobe`, else
//! `~/.cache/wsgiprobe`. Each environment is `envs/PACKAGE-VERSION-pyX.Y`
//! (plus any extra packages), marked ready only once pip succeeded; a lock
//! file keeps two runs from installing into the same one at once.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::error::GatewayError;
use super::event::Event;
use super::process::{run_briefly, run_streaming};

/// How long pip may take for one environment.
const PIP_LIMIT: Duration = Duration::from_secs(900);
const READY_MARK: &str = ".wsgiprobe-ready";

/// The cache folder for managed environments.
pub fn cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("WSGIPROBE_CACHE").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    if let Some(dir) = std::env::var_os("XDG_CACHE_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir).join("wsgiprobe");
    }
    let home = std::env::var_os("HOME").unwrap_or_else(|| "/tmp".into());
    PathBuf::from(home).join(".cache/wsgiprobe")
}

/// What to install.
#[derive(Debug, Clone)]
pub struct EnvRequest<'a> {
    /// The interpreter that creates the environment.
    pub base_python: &'a str,
    /// Its version (`3.11.7`): environments are per minor version.
    pub python_version: &'a str,
    pub package: &'a str,
    /// `None`: the newest release.
    pub version: Option<&'a str>,
    pub extra: &'a [String],
}

impl EnvRequest<'_> {
    fn folder_name(&self) -> String {
        let minor: Vec<&str> = self.python_version.split('.').take(2).collect();
        let mut name = format!(
            "{}-{}-py{}",
            self.package,
            self.version.unwrap_or("latest"),
            minor.join(".")
        );
        for e in self.extra {
            name.push('+');
            name.push_str(e);
        }
        name.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "._+-".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .collect()
    }

    fn requirements(&self) -> Vec<String> {
        let mut r = vec![match self.version {
            Some(v) => format!("{}=={v}", self.package),
            None => self.package.to_string(),
        }];
        r.extend(self.extra.iter().cloned());
        r
    }
}

/// Where the environment for `req` lives, and the interpreter in it when
/// it is ready; looks only, creates nothing (`--no-install`).
pub fn ready(req: &EnvRequest) -> (PathBuf, Option<PathBuf>) {
    let dir = cache_dir().join("envs").join(req.folder_name());
    let python = dir.join("bin/python");
    let ready = dir.join(READY_MARK).exists() && python.exists();
    (dir, ready.then_some(python))
}

/// The requirement `req` installs (`gunicorn==22.0.0`).
pub fn requirement(req: &EnvRequest) -> String {
    req.requirements().join(" ")
}

/// The releases of `package` the package index has, oldest first, as
/// `pip index versions` lists them; `None` when that cannot be asked (an
/// old pip, no index), and then pip's own install says.
fn index_versions(python: &str, package: &str) -> Option<Vec<String>> {
    let out = run_briefly(
        python,
        &[
            "-m",
            "pip",
            "index",
            "versions",
            package,
            "--disable-pip-version-check",
        ],
        Duration::from_secs(60),
    )
    .ok()??;
    let text = String::from_utf8_lossy(&out.stdout);
    let list = text
        .lines()
        .find_map(|l| l.strip_prefix("Available versions:"))?;
    let mut versions: Vec<String> = list
        .split(',')
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .collect();
    versions.reverse();
    Some(versions)
}

/// `22.0` and `22.0.0` are one release.
fn same_release(a: &str, b: &str) -> bool {
    let trim = |v: &str| v.trim().trim_end_matches(".0").to_string();
    a == b || trim(a) == trim(b)
}

/// The interpreter of a ready environment for `req`, creating it (with
/// venv's and pip's output as progress `events`) when it does not exist yet.
pub fn ensure(req: &EnvRequest, events: &dyn Fn(Event)) -> Result<PathBuf, GatewayError> {
    let envs = cache_dir().join("envs");
    let dir = envs.join(req.folder_name());
    let python = dir.join("bin/python");
    let env_err = |detail: String| GatewayError::ManagedEnv {
        dir: dir.display().to_string(),
        detail,
    };
    std::fs::create_dir_all(&envs)
        .map_err(|e| env_err(format!("cannot create the cache folder: {e}")))?;
    let lock = File::create(envs.join(format!("{}.lock", req.folder_name())))
        .map_err(|e| env_err(format!("cannot create its lock file: {e}")))?;
    // Held until `lock` drops; released by the kernel if the process dies.
    // SAFETY: flock on a descriptor this function owns.
    if unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX) } != 0 {
        return Err(env_err(format!(
            "cannot lock it: {}",
            std::io::Error::last_os_error()
        )));
    }
    if dir.join(READY_MARK).exists() && python.exists() {
        return Ok(python);
    }
    // A release that does not exist is refused before any environment is
    // made for it.
    if let Some(version) = req.version {
        if let Some(known) = index_versions(req.base_python, req.package) {
            if !known.iter().any(|v| same_release(v, version)) {
                return Err(GatewayError::NoSuchVersion {
                    requirement: requirement(req),
                    available: shorten_versions(&known.join(", ")),
                });
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    let wanted = req.requirements().join(" ");
    events(Event::InstallingEnvironment {
        requirement: wanted.clone(),
        dir: dir.clone(),
    });
    let result = create(req, &dir, &python, events);
    if let Err(e) = result {
        // A half-made environment would be taken for a ready one next time.
        let _ = std::fs::remove_dir_all(&dir);
        return Err(e);
    }
    std::fs::write(dir.join(READY_MARK), wanted + "\n")
        .map_err(|e| env_err(format!("cannot mark it ready: {e}")))?;
    events(Event::EnvironmentReady);
    Ok(python)
}

fn create(
    req: &EnvRequest,
    dir: &Path,
    python: &Path,
    events: &dyn Fn(Event),
) -> Result<(), GatewayError> {
    let env_err = |detail: String| GatewayError::ManagedEnv {
        dir: dir.display().to_string(),
        detail,
    };
    let progress = |tool: &'static str| {
        move |line: &str| {
            events(Event::InstallOutput {
                tool,
                line: line.to_string(),
            })
        }
    };
    let dir_arg = dir.display().to_string();
    let (ok, lines) = run_streaming(
        req.base_python,
        &["-m", "venv", &dir_arg],
        Duration::from_secs(120),
        &mut progress("venv"),
    )
    .map_err(|e| env_err(format!("cannot run {}: {e}", req.base_python)))?;
    if !ok {
        let hint = if lines
            .iter()
            .any(|l| l.contains("ensurepip") || l.contains("venv"))
        {
            "\nthe venv module is missing or incomplete: on Debian and Ubuntu, `apt-get install python3-venv`"
        } else {
            ""
        };
        return Err(env_err(format!(
            "`{} -m venv` failed:\n{}{hint}",
            req.base_python,
            last_lines(&lines, 8)
        )));
    }
    let mut args = vec![
        "-m".to_string(),
        "pip".into(),
        "install".into(),
        "--disable-pip-version-check".into(),
        "--progress-bar".into(),
        "off".into(),
        "--timeout".into(),
        "30".into(),
    ];
    args.extend(req.requirements());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let py = python.display().to_string();
    let (ok, lines) = run_streaming(&py, &args, PIP_LIMIT, &mut progress("pip"))
        .map_err(|e| env_err(format!("cannot run pip: {e}")))?;
    if ok {
        return Ok(());
    }
    if lines.iter().any(|l| l.contains("No module named pip")) {
        return Err(env_err(
            "the environment has no pip: on Debian and Ubuntu, `apt-get install python3-venv python3-pip`".into(),
        ));
    }
    if let Some(line) = lines
        .iter()
        .find(|l| l.contains("Could not find a version that satisfies"))
    {
        let available = line
            .split("(from versions:")
            .nth(1)
            .map(|v| v.trim_end_matches(')').trim().to_string())
            .unwrap_or_default();
        return Err(GatewayError::NoSuchVersion {
            requirement: req.requirements().join(" "),
            available: shorten_versions(&available),
        });
    }
    Err(env_err(format!(
        "pip could not install {}:\n{}",
        req.requirements().join(" "),
        last_lines(&lines, 12)
    )))
}

/// The newest few of pip's "from versions" list.
fn shorten_versions(list: &str) -> String {
    let all: Vec<&str> = list
        .split(',')
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .collect();
    if all.is_empty() {
        return "none (is the package name right, and is the package index reachable?)".into();
    }
    let start = all.len().saturating_sub(12);
    let prefix = if start > 0 { "..., " } else { "" };
    format!("{prefix}{}", all[start..].join(", "))
}

fn last_lines(lines: &[String], n: usize) -> String {
    lines[lines.len().saturating_sub(n)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folder_names_separate_versions_pythons_and_extras() {
        let extra = vec!["gevent".to_string()];
        let a = EnvRequest {
            base_python: "python3",
            python_version: "3.11.7",
            package: "gunicorn",
            version: Some("22.0.0"),
            extra: &[],
        };
        assert_eq!(a.folder_name(), "gunicorn-22.0.0-py3.11");
        let b = EnvRequest {
            version: None,
            extra: &extra,
            ..a.clone()
        };
        assert_eq!(b.folder_name(), "gunicorn-latest-py3.11+gevent");
        assert_eq!(b.requirements(), vec!["gunicorn", "gevent"]);
        let odd = EnvRequest {
            version: Some("1/../../x"),
            ..a
        };
        assert!(!odd.folder_name().contains('/'));
    }

    #[test]
    fn releases_compare_without_trailing_zeros() {
        assert!(same_release("22.0.0", "22.0"));
        assert!(same_release("22", "22.0.0"));
        assert!(!same_release("22.0.1", "22.0"));
        assert!(!same_release("2.0", "20"));
    }

    #[test]
    fn version_lists_are_shortened_to_the_newest() {
        let list = (1..=20)
            .map(|i| format!("1.{i}"))
            .collect::<Vec<_>>()
            .join(", ");
        let s = shorten_versions(&list);
        assert!(s.starts_with("..., 1.9") && s.ends_with("1.20"), "{s}");
        assert!(shorten_versions(" none").contains("none"));
        assert!(shorten_versions("").contains("package name"));
    }
}
