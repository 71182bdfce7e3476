//! Starting a gateway, waiting until it serves the probe, and stopping it.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::cleanup;
use super::recipe::{self, ServerName};
use crate::http::{parse_url, Connection, Target, Timeouts};
use crate::probe::{self, ProbeFiles, PROBE_HEADER, SCENARIO_HEADER};

/// What to check: a known server, a command template, or a URL.
#[derive(Debug, Clone)]
pub enum GatewayKind {
    Server(ServerName),
    Command(String),
    Url(String),
}

/// Everything needed to bring a gateway up.
#[derive(Debug, Clone)]
pub struct GatewaySpec {
    pub kind: GatewayKind,
    /// The Python interpreter (`{python}`).
    pub python: String,
    /// Loopback address servers bind to.
    pub host: String,
    /// How long a server has to start serving the probe.
    pub start_timeout: Duration,
}

/// The stack under test, as every report records it.
#[derive(Debug, Clone, Serialize)]
pub struct Stack {
    /// A `--server` name (`wsgiref`, `gunicorn`, ...), `command` or `url`.
    pub gateway: String,
    /// The server's own version, when it can be read.
    pub version: Option<String>,
    /// What the server says of itself in `SERVER_SOFTWARE`.
    pub server_software: Option<String>,
    /// The Python running the server (`3.11.7`), when launched here.
    pub python: Option<String>,
    /// The command that was run, placeholders filled in.
    pub command: Option<String>,
    /// Launch options that change behaviour and so belong with any result.
    pub options: BTreeMap<String, String>,
    pub proxy: String,
    pub transport: String,
    /// Where requests went.
    pub target: String,
}

/// Why a gateway could not be brought up. Each message says what to do next.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    #[error(
        "python interpreter {python:?} could not be run; install Python 3 or pass --python PATH"
    )]
    Python {
        python: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{server} is not importable from {python}: {detail}\ninstall it (`{python} -m pip install {package}`) or pass --python PATH to an interpreter that has it")]
    NotImportable {
        server: String,
        package: String,
        python: String,
        detail: String,
    },
    #[error("could not write the probe app into a private folder")]
    Probe(#[source] std::io::Error),
    #[error("could not start `{command}`")]
    Spawn {
        command: String,
        #[source]
        source: std::io::Error,
    },
    #[error("the server exited ({status}) before it served the probe\ncommand: {command}\nlast lines of its log:\n{log_tail}")]
    ExitedAtStart {
        command: String,
        status: String,
        log_tail: String,
    },
    #[error("the server did not serve the probe within {seconds:.0} s (last attempt: {last})\ncommand: {command}\nlast lines of its log:\n{log_tail}\nraise --start-timeout if it is only slow")]
    NotReady {
        command: String,
        seconds: f64,
        last: String,
        log_tail: String,
    },
    #[error("{url} does not answer as the probe app ({detail}); host the app that `wsgiprobe probe --out DIR` writes, then point --url at it")]
    NotProbe { url: String, detail: String },
    #[error("bad --url {url:?}: {detail}")]
    BadUrl { url: String, detail: String },
    #[error("no free port on {host}")]
    Port {
        host: String,
        #[source]
        source: std::io::Error,
    },
}

/// A gateway that serves the probe. Dropping it stops the server.
pub struct Gateway {
    pub target: Target,
    /// Path prefix every request target is joined to (`/` for a launched server).
    pub base_path: String,
    pub stack: Stack,
    // Field order matters: the server stops before its folder is removed.
    process: Option<ServerProcess>,
    workdir: Option<tempfile::TempDir>,
}

struct ServerProcess {
    child: Mutex<Child>,
    pgid: i32,
    log: PathBuf,
    command: String,
}

impl Gateway {
    /// Starts the gateway (or reaches the URL) and waits until the probe answers.
    pub fn start(spec: &GatewaySpec) -> Result<Gateway, GatewayError> {
        match &spec.kind {
            GatewayKind::Url(url) => Self::reach(url, spec.start_timeout),
            GatewayKind::Server(name) => Self::launch(spec, Some(*name), &recipe::template(*name)),
            GatewayKind::Command(template) => Self::launch(spec, None, template),
        }
    }

    fn reach(url: &str, timeout: Duration) -> Result<Gateway, GatewayError> {
        let (target, base_path) = parse_url(url).map_err(|e| GatewayError::BadUrl {
            url: url.to_string(),
            detail: e.to_string(),
        })?;
        let deadline = Instant::now() + timeout;
        let software = loop {
            match ping(&target, &base_path) {
                Ok(Ping::Probe(software)) => break software,
                Ok(Ping::NotProbe(detail)) => {
                    return Err(GatewayError::NotProbe {
                        url: url.to_string(),
                        detail,
                    })
                }
                Err(last) if Instant::now() >= deadline => {
                    return Err(GatewayError::NotProbe {
                        url: url.to_string(),
                        detail: last,
                    })
                }
                Err(_) => std::thread::sleep(Duration::from_millis(200)),
            }
        };
        Ok(Gateway {
            stack: Stack {
                gateway: "url".into(),
                version: None,
                server_software: software,
                python: None,
                command: None,
                options: BTreeMap::new(),
                proxy: "none".into(),
                transport: match target {
                    Target::Unix(_) => "unix".into(),
                    Target::Tcp { .. } => "tcp".into(),
                },
                target: url.to_string(),
            },
            target,
            base_path,
            process: None,
            workdir: None,
        })
    }

    fn launch(
        spec: &GatewaySpec,
        server: Option<ServerName>,
        template: &str,
    ) -> Result<Gateway, GatewayError> {
        cleanup::install_signal_handler();
        let python_version = python_version(&spec.python)?;
        let version = match server {
            Some(name) => recipe::version(name, &spec.python)?,
            None => None,
        };

        let workdir = tempfile::Builder::new()
            .prefix("wsgiprobe-")
            .tempdir()
            .map_err(GatewayError::Probe)?;
        cleanup::register_folder(workdir.path().to_path_buf());
        let files = probe::install(&workdir.path().join("app")).map_err(GatewayError::Probe)?;
        let port = free_port(&spec.host)?;
        let command = expand(template, &spec.python, &spec.host, port, &files);
        let log = workdir.path().join("server.log");
        let process = spawn(&command, &files, &log)?;

        let mut gateway = Gateway {
            target: Target::Tcp {
                host: spec.host.clone(),
                port,
            },
            base_path: "/".into(),
            stack: Stack {
                gateway: server.map_or("command", |s| s.as_str()).to_string(),
                version,
                server_software: None,
                python: Some(python_version),
                command: Some(command.clone()),
                options: server.map(recipe::options).unwrap_or_default(),
                proxy: "none".into(),
                transport: "tcp".into(),
                target: format!("http://{}:{port}/", spec.host),
            },
            process: Some(process),
            workdir: Some(workdir),
        };
        gateway.stack.server_software = gateway.wait_ready(spec.start_timeout)?;
        Ok(gateway)
    }

    fn wait_ready(&self, timeout: Duration) -> Result<Option<String>, GatewayError> {
        let process = self
            .process
            .as_ref()
            .expect("launched gateways have a process");
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = process.exit_status() {
                return Err(GatewayError::ExitedAtStart {
                    command: process.command.clone(),
                    status: describe_status(status),
                    log_tail: self.log_tail(20),
                });
            }
            let last = match ping(&self.target, &self.base_path) {
                Ok(Ping::Probe(software)) => return Ok(software),
                Ok(Ping::NotProbe(detail)) => detail,
                Err(e) => e,
            };
            if Instant::now() >= deadline {
                return Err(GatewayError::NotReady {
                    command: process.command.clone(),
                    seconds: timeout.as_secs_f64(),
                    last,
                    log_tail: self.log_tail(20),
                });
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// `Some(why)` once a launched server has exited; `None` while it runs
    /// (and always for `--url`, which the harness does not own).
    pub fn exited(&self) -> Option<String> {
        let status = self.process.as_ref()?.exit_status()?;
        Some(format!(
            "the server exited ({}) during the run; last lines of its log:\n{}",
            describe_status(status),
            self.log_tail(20)
        ))
    }

    /// The last `n` lines the server wrote, or an empty string.
    pub fn log_tail(&self, n: usize) -> String {
        self.process
            .as_ref()
            .map(|p| tail(&p.log, n))
            .unwrap_or_default()
    }

    /// The server's log file, while the gateway is up.
    pub fn log_path(&self) -> Option<&Path> {
        self.process.as_ref().map(|p| p.log.as_path())
    }

    /// The process group of a launched server.
    pub fn process_group(&self) -> Option<i32> {
        self.process.as_ref().map(|p| p.pgid)
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        // The fields drop after this: the server first, then its folder.
        if let Some(dir) = &self.workdir {
            cleanup::unregister_folder(dir.path());
        }
    }
}

impl ServerProcess {
    fn exit_status(&self) -> Option<ExitStatus> {
        let mut child = self.child.lock().ok()?;
        child.try_wait().ok().flatten()
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if let Ok(mut child) = self.child.lock() {
            cleanup::stop_groups(&[self.pgid], Duration::from_secs(3), || {
                let _ = child.try_wait();
            });
            let _ = child.wait();
        }
        cleanup::unregister_group(self.pgid);
    }
}

fn spawn(command: &str, files: &ProbeFiles, log: &Path) -> Result<ServerProcess, GatewayError> {
    let spawn_err = |source| GatewayError::Spawn {
        command: command.to_string(),
        source,
    };
    let out = File::create(log).map_err(spawn_err)?;
    let err = out.try_clone().map_err(spawn_err)?;
    let mut cmd = Command::new("/bin/sh");
    cmd.arg("-c")
        .arg(command)
        .current_dir(&files.dir)
        .env("WSGIPROBE_EVENTS_DIR", &files.events_dir)
        .env("PYTHONUNBUFFERED", "1")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .process_group(0);
    // SAFETY: prctl is async-signal-safe and runs in the forked child before
    // exec. If wsgiprobe is killed outright (SIGKILL), the server gets SIGKILL
    // too instead of living on as an orphan.
    unsafe {
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
    let child = cmd.spawn().map_err(spawn_err)?;
    let pgid = child.id() as i32;
    cleanup::register_group(pgid);
    Ok(ServerProcess {
        child: Mutex::new(child),
        pgid,
        log: log.to_path_buf(),
        command: command.to_string(),
    })
}

enum Ping {
    /// The probe answered; `SERVER_SOFTWARE` is read separately.
    Probe(Option<String>),
    NotProbe(String),
}

/// One readiness attempt: the `ping` scenario must answer with the probe's header.
fn ping(target: &Target, base_path: &str) -> Result<Ping, String> {
    let timeouts = Timeouts {
        connect: Duration::from_secs(2),
        io: Duration::from_secs(5),
    };
    let request = |scenario: &str| {
        format!(
            "GET {base_path} HTTP/1.1\r\nHost: {}\r\n{SCENARIO_HEADER}: {scenario}\r\nConnection: close\r\n\r\n",
            target.authority()
        )
    };
    let exchange = |scenario: &str| -> Result<crate::http::Response, String> {
        let mut conn = Connection::open(target, timeouts).map_err(|e| e.to_string())?;
        conn.send(request(scenario).as_bytes())
            .map_err(|e| e.to_string())?;
        conn.read_response(false, Instant::now() + Duration::from_secs(5))
            .map_err(|e| e.to_string())
    };
    let response = exchange("ping")?;
    if response.status != 200 || response.header(PROBE_HEADER).is_none() {
        return Ok(Ping::NotProbe(format!(
            "ping answered status {} without the {PROBE_HEADER} header",
            response.status
        )));
    }
    let software = exchange("environ").ok().and_then(|r| {
        let v: serde_json::Value = serde_json::from_slice(&r.body).ok()?;
        v.pointer("/environ/SERVER_SOFTWARE/value")?
            .as_str()
            .map(str::to_string)
    });
    Ok(Ping::Probe(software))
}

fn free_port(host: &str) -> Result<u16, GatewayError> {
    let listener = std::net::TcpListener::bind((host, 0)).map_err(|source| GatewayError::Port {
        host: host.to_string(),
        source,
    })?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|source| GatewayError::Port {
            host: host.to_string(),
            source,
        })
}

/// Fills the placeholders of a command template, quoting for `sh`.
pub fn expand(template: &str, python: &str, host: &str, port: u16, files: &ProbeFiles) -> String {
    template
        .replace("{python}", &shell_quote(python))
        .replace("{host}", &shell_quote(host))
        .replace("{port}", &port.to_string())
        .replace("{app}", probe::APP_SPEC)
        .replace("{app_dir}", &shell_quote(&files.dir.display().to_string()))
}

fn shell_quote(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_./:=-,+@%".contains(c));
    if plain {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

fn describe_status(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit code {code}"),
        (None, Some(sig)) => format!("killed by signal {sig}"),
        _ => "unknown status".to_string(),
    }
}

/// The last `n` lines of a log file (reads at most its last 64 KiB).
pub fn tail(path: &Path, n: usize) -> String {
    let Ok(mut f) = File::open(path) else {
        return String::new();
    };
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    let _ = f.seek(SeekFrom::Start(len.saturating_sub(64 * 1024)));
    let mut buf = Vec::new();
    let _ = f.read_to_end(&mut buf);
    let text = String::from_utf8_lossy(&buf);
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.len().saturating_sub(n);
    let out = lines[start..].join("\n");
    if out.trim().is_empty() {
        "(the log is empty)".to_string()
    } else {
        out
    }
}

/// Runs a short command with a time limit; `Ok(None)` when it timed out.
pub fn run_briefly(
    program: &str,
    args: &[&str],
    limit: Duration,
) -> std::io::Result<Option<std::process::Output>> {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let deadline = Instant::now() + limit;
    loop {
        if child.try_wait()?.is_some() {
            return child.wait_with_output().map(Some);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Ok(None);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The interpreter's version (`3.11.7`).
pub fn python_version(python: &str) -> Result<String, GatewayError> {
    let out = run_briefly(
        python,
        &["-c", "import sys; print('%d.%d.%d' % sys.version_info[:3])"],
        Duration::from_secs(20),
    )
    .map_err(|source| GatewayError::Python {
        python: python.to_string(),
        source,
    })?;
    match out {
        Some(o) if o.status.success() => Ok(String::from_utf8_lossy(&o.stdout).trim().to_string()),
        Some(o) => Err(GatewayError::Python {
            python: python.to_string(),
            source: std::io::Error::other(String::from_utf8_lossy(&o.stderr).trim().to_string()),
        }),
        None => Err(GatewayError::Python {
            python: python.to_string(),
            source: std::io::Error::other("it did not answer within 20 s"),
        }),
    }
}
