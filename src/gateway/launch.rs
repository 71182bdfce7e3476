//! Starting a planned stack, waiting until it serves the probe, and
//! stopping it. Nothing here checks flags: `plan` did, before any start.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::cleanup;
use super::error::GatewayError;
use super::event::Event;
use super::plan::{GatewaySpec, How, LaunchPlan, ServerPlan, StackPlan, UrlPlan, UserApp};
use super::process::{describe_status, free_port, python_version, tail, ServerProcess};
use super::proxy::{self, ProxyKind, Upstream};
use super::recipe::{self, Listen};
use super::venv;
use crate::http::tls::{SelfSigned, TlsClient};
use crate::http::{round_trip, Target};
use crate::probe::{self, ProbeFiles, PROBE_HEADER, SCENARIO_HEADER};

/// The stack under test, as every report records it (and reads back from
/// a saved report).
#[derive(Debug, Clone, Serialize, Deserialize)]
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
    /// `none`, `nginx`, `nginx-unix` or `nginx-uwsgi`.
    pub proxy: String,
    /// The proxy's version (`1.22.1`).
    pub proxy_version: Option<String>,
    /// How the proxy was configured.
    pub proxy_options: BTreeMap<String, String>,
    /// How the server listens: `tcp`, `unix` or `uwsgi`.
    pub transport: String,
    /// Where requests went.
    pub target: String,
    /// The user's application the server hosted instead of the probe
    /// (`app:app in /srv/site`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app: Option<String>,
    /// Cases the recipe's own launch makes unfit to judge the server by,
    /// with why (`recipes/servers.toml`, `excuses`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub excuses: BTreeMap<String, String>,
}

impl Stack {
    /// A server wsgiprobe did not start, reached at `url`.
    pub fn for_url(url: &str, target: &Target, server_software: Option<String>) -> Stack {
        Stack {
            gateway: "url".into(),
            version: None,
            server_software,
            python: None,
            command: None,
            options: BTreeMap::new(),
            proxy: "none".into(),
            proxy_version: None,
            proxy_options: BTreeMap::new(),
            transport: match target {
                Target::Unix(_) => "unix".into(),
                Target::Tcp { .. } => "tcp".into(),
                Target::Tls { .. } => "tls".into(),
            },
            target: url.to_string(),
            app: None,
            excuses: BTreeMap::new(),
        }
    }
}

/// A gateway that serves the probe. Dropping it stops the server.
pub struct Gateway {
    pub target: Target,
    /// Path prefix every request target is joined to (`/` for a launched server).
    pub base_path: String,
    pub stack: Stack,
    /// What answers readiness: the probe, or the user's app at its path.
    ready: Ready,
    // Field order matters: the proxy stops first, then the server, then
    // their folder is removed.
    proxy: Option<ServerProcess>,
    process: Option<ServerProcess>,
    workdir: Option<tempfile::TempDir>,
}

impl Gateway {
    /// Starts a planned stack (or reaches its URL) and waits until the probe
    /// answers, telling `events` how it goes.
    pub fn start(plan: &StackPlan, events: &dyn Fn(Event)) -> Result<Gateway, GatewayError> {
        events(Event::StackStarting {
            label: plan.label(),
        });
        let spec = plan.spec();
        let gateway = match &plan.how {
            How::Reach(url) => Self::reach(url, spec.start_timeout)?,
            How::Launch(launch) => {
                let (python, version) = match &launch.server {
                    Some(server) => resolve_python(spec, server, events)?,
                    None => (spec.python.clone(), None),
                };
                Self::launch(spec, launch, python, version)?
            }
        };
        events(Event::StackReady {
            target: gateway.stack.target.clone(),
        });
        Ok(gateway)
    }

    fn reach(plan: &UrlPlan, timeout: Duration) -> Result<Gateway, GatewayError> {
        let UrlPlan {
            url,
            target,
            base_path,
        } = plan;
        let deadline = Instant::now() + timeout;
        let software = loop {
            if cleanup::on_signal().is_set() {
                return Err(GatewayError::Interrupted);
            }
            match ping(target, base_path) {
                Ok(Ping::Probe(software)) => break software,
                Ok(Ping::NotProbe(detail)) => {
                    return Err(GatewayError::NotProbe {
                        url: url.clone(),
                        detail,
                    })
                }
                Err(last) if Instant::now() >= deadline => {
                    return Err(GatewayError::NotProbe {
                        url: url.clone(),
                        detail: last,
                    })
                }
                Err(_) => std::thread::sleep(Duration::from_millis(200)),
            }
        };
        Ok(Gateway {
            stack: Stack::for_url(url, target, software),
            target: target.clone(),
            base_path: base_path.clone(),
            ready: Ready::Probe,
            proxy: None,
            process: None,
            workdir: None,
        })
    }

    /// Runs the plan's command with `python` (the server is at `version`).
    fn launch(
        spec: &GatewaySpec,
        how: &LaunchPlan,
        python: String,
        version: Option<String>,
    ) -> Result<Gateway, GatewayError> {
        let python_version = python_version(&python)?;
        // Before anything starts: a missing nginx is the user's to fix.
        let nginx_version = match &spec.proxy {
            Some(p) => Some(proxy::nginx_version(&p.nginx)?),
            None => None,
        };

        // 0700: the probe, the logs and the server's unix socket (which
        // servers create connectable by anyone) are reachable by no other
        // user.
        let workdir = tempfile::Builder::new()
            .prefix("wsgiprobe-")
            .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o700))
            .tempdir()
            .map_err(GatewayError::Probe)?;
        cleanup::register_folder(workdir.path().to_path_buf());
        let files =
            probe::install(&workdir.path().join("app"), false).map_err(GatewayError::Probe)?;
        let files_of_probe = &files;
        let listen = spec.listen();
        let socket = workdir.path().join("server.sock");
        let port = match listen {
            Listen::Tcp => free_port(&spec.host)?,
            _ => 0,
        };
        let command = expand(
            &how.template,
            &Fill {
                python: &python,
                host: &spec.host,
                port,
                socket: &socket,
                files: &files,
                validate: spec.validate,
                app: spec.app.as_ref(),
            },
        )?;
        let log = workdir.path().join("server.log");
        let process = match &spec.app {
            None => spawn(&command, &files, &log, "server")?,
            Some(app) => spawn_app(&command, app, &files, &log)?,
        };

        let server_target = match listen {
            Listen::Tcp => Target::Tcp {
                host: spec.host.clone(),
                port,
            },
            _ => Target::Unix(socket.clone()),
        };
        let mut stack = Stack {
            gateway: match &how.server {
                Some(s) => s.name.clone(),
                None => "command".into(),
            },
            version,
            server_software: None,
            python: Some(python_version),
            command: Some(command.clone()),
            options: how.options.clone(),
            proxy: "none".into(),
            proxy_version: None,
            proxy_options: BTreeMap::new(),
            transport: listen.as_str().into(),
            target: describe_target(&server_target),
            app: spec.app.as_ref().map(UserApp::describe),
            excuses: how.excuses.clone(),
        };
        let (target, proxy_process) = match &spec.proxy {
            None => (server_target, None),
            Some(p) => {
                let dir = workdir.path().join("nginx");
                std::fs::create_dir_all(&dir).map_err(GatewayError::Probe)?;
                let nport = free_port(&spec.host)?;
                let upstream = match listen {
                    Listen::Tcp => Upstream::Tcp {
                        host: &spec.host,
                        port,
                    },
                    _ => Upstream::Unix(&socket),
                };
                let certificate = match p.kind {
                    ProxyKind::NginxTls => Some(write_certificate(&dir, &spec.host)?),
                    _ => None,
                };
                let files = certificate.as_ref().map(|(cert, key, _)| proxy::TlsFiles {
                    cert: cert.as_path(),
                    key: key.as_path(),
                });
                stack.proxy_options =
                    proxy::write_config(&dir, p, (&spec.host, nport), upstream, files)
                        .map_err(GatewayError::Probe)?;
                stack.proxy = p.kind.as_str().into();
                stack.proxy_version = nginx_version;
                let nginx = spawn(
                    &proxy::nginx_command(&p.nginx, &dir),
                    files_of_probe,
                    &dir.join("error.log"),
                    "nginx",
                )?;
                let target = match certificate {
                    Some((_, _, tls)) => Target::Tls {
                        host: spec.host.clone(),
                        port: nport,
                        tls,
                    },
                    None => Target::Tcp {
                        host: spec.host.clone(),
                        port: nport,
                    },
                };
                stack.target = describe_target(&target);
                (target, Some(nginx))
            }
        };

        let mut gateway = Gateway {
            target,
            base_path: match &spec.tuning.prefix {
                Some(prefix) => format!("{prefix}/"),
                None => "/".into(),
            },
            stack,
            ready: match &spec.app {
                None => Ready::Probe,
                Some(app) => Ready::App {
                    path: app.path.clone(),
                    proxied: spec.proxy.is_some(),
                },
            },
            proxy: proxy_process,
            process: Some(process),
            workdir: Some(workdir),
        };
        gateway.stack.server_software = gateway.wait_ready(spec.start_timeout)?;
        Ok(gateway)
    }

    /// Stops the stack, telling `events` when a server (or its proxy) had
    /// exited on its own meanwhile. Dropping it stops it silently.
    pub fn stop(self, events: &dyn Fn(Event)) {
        if let Some(why) = self.exited() {
            events(Event::ServerExited { why });
        }
    }

    /// The launched processes, server first.
    fn processes(&self) -> impl Iterator<Item = &ServerProcess> {
        self.process.iter().chain(self.proxy.iter())
    }

    fn wait_ready(&self, timeout: Duration) -> Result<Option<String>, GatewayError> {
        let deadline = Instant::now() + timeout;
        loop {
            if cleanup::on_signal().is_set() {
                return Err(GatewayError::Interrupted);
            }
            if let Some((process, status)) = self
                .processes()
                .find_map(|p| p.exit_status().map(|s| (p, s)))
            {
                return Err(GatewayError::ExitedAtStart {
                    command: process.command.clone(),
                    status: format!("{}: {}", process.role, describe_status(status)),
                    log_tail: self.log_tail(20),
                });
            }
            let answer = match &self.ready {
                Ready::Probe => ping(&self.target, &self.base_path),
                Ready::App { path, proxied } => ping_app(&self.target, path, *proxied),
            };
            let last = match answer {
                Ok(Ping::Probe(software)) => return Ok(software),
                Ok(Ping::NotProbe(detail)) => detail,
                Err(e) => e,
            };
            if Instant::now() >= deadline {
                return Err(GatewayError::NotReady {
                    command: self
                        .processes()
                        .map(|p| p.command.as_str())
                        .collect::<Vec<_>>()
                        .join("\n  and: "),
                    seconds: timeout.as_secs_f64(),
                    last,
                    log_tail: self.log_tail(20),
                });
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// `Some(why)` once a launched server (or its proxy) has exited; `None`
    /// while they run (and always for `--url`, which the harness does not own).
    pub fn exited(&self) -> Option<String> {
        let (process, status) = self
            .processes()
            .find_map(|p| p.exit_status().map(|s| (p, s)))?;
        Some(format!(
            "the {} exited ({}) during the run; last lines of its log:\n{}",
            process.role,
            describe_status(status),
            self.log_tail(20)
        ))
    }

    /// The last `n` lines the server wrote (and nginx, behind a proxy), or
    /// an empty string.
    pub fn log_tail(&self, n: usize) -> String {
        match (&self.process, &self.proxy) {
            (Some(server), Some(nginx)) => format!(
                "{}\n-- nginx error log --\n{}",
                tail(&server.log, n),
                tail(&nginx.log, n)
            ),
            (Some(server), None) => tail(&server.log, n),
            _ => String::new(),
        }
    }

    /// The server's log file, while the gateway is up.
    pub fn log_path(&self) -> Option<&Path> {
        self.process.as_ref().map(|p| p.log.as_path())
    }

    /// The process groups of a launched server and its proxy.
    pub fn process_groups(&self) -> Vec<i32> {
        self.processes().map(|p| p.pgid).collect()
    }
}

fn describe_target(target: &Target) -> String {
    match target {
        Target::Tcp { .. } | Target::Tls { .. } => {
            format!("{}://{}/", target.scheme(), target.authority())
        }
        Target::Unix(path) => format!("unix:{}", path.display()),
    }
}

/// The certificate and key nginx-tls serves, written into nginx's folder,
/// and a client that trusts exactly that certificate.
fn write_certificate(
    dir: &Path,
    host: &str,
) -> Result<(std::path::PathBuf, std::path::PathBuf, TlsClient), GatewayError> {
    let generated = SelfSigned::generate(&["localhost", host]).map_err(GatewayError::Tls)?;
    let tls = TlsClient::trusting(&generated.der, "the certificate generated for this run")
        .map_err(GatewayError::Tls)?;
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert, &generated.cert_pem).map_err(GatewayError::Probe)?;
    std::fs::write(&key, &generated.key_pem).map_err(GatewayError::Probe)?;
    Ok((cert, key, tls))
}

/// The interpreter that runs the server, and the server's version:
/// `--python` when it has the server, else a managed environment (always
/// for a pinned version).
fn resolve_python(
    spec: &GatewaySpec,
    server: &ServerPlan,
    events: &dyn Fn(Event),
) -> Result<(String, Option<String>), GatewayError> {
    let ServerPlan {
        name,
        version: pinned,
        recipe,
        extra_packages: extra,
    } = server;
    // The standard library's servers: `plan` refused a pinned version.
    let Some(package) = recipe.package.as_deref() else {
        return Ok((spec.python.clone(), None));
    };
    if pinned.is_none() {
        match recipe::version(name, recipe, &spec.python, extra) {
            Ok(v) => return Ok((spec.python.clone(), v)),
            Err(e @ GatewayError::NotImportable { .. }) if !spec.install => return Err(e),
            Err(GatewayError::NotImportable { .. }) => events(Event::ServerNotImportable {
                server: name.clone(),
                python: spec.python.clone(),
            }),
            Err(e) => return Err(e),
        }
    }
    let base_version = python_version(&spec.python)?;
    let request = venv::EnvRequest {
        base_python: &spec.python,
        python_version: &base_version,
        package,
        version: pinned.as_deref(),
        extra,
    };
    let python = if spec.install {
        venv::ensure(&request, events)?
    } else {
        // --no-install creates nothing: an environment made before is
        // used, and otherwise the run stops saying what it would install.
        match venv::ready(&request) {
            (_, Some(python)) => python,
            (dir, None) => {
                return Err(GatewayError::InstallRefused {
                    requirement: venv::requirement(&request),
                    dir: dir.display().to_string(),
                })
            }
        }
    }
    .display()
    .to_string();
    let version = recipe::version(name, recipe, &python, extra)?;
    Ok((python, version))
}

impl Drop for Gateway {
    fn drop(&mut self) {
        // The fields drop after this: nginx, the server, then their folder.
        if let Some(dir) = &self.workdir {
            cleanup::unregister_folder(dir.path());
        }
    }
}

/// Starts a server hosting the user's app: in the app's folder, which is
/// also put on `PYTHONPATH` so that every server imports the module
/// whatever it does with its working directory.
fn spawn_app(
    command: &str,
    app: &UserApp,
    files: &ProbeFiles,
    log: &Path,
) -> Result<ServerProcess, GatewayError> {
    let mut path = std::ffi::OsString::from(app.dir.as_os_str());
    if let Some(old) = std::env::var_os("PYTHONPATH").filter(|p| !p.is_empty()) {
        path.push(":");
        path.push(old);
    }
    ServerProcess::spawn(
        command,
        &app.dir,
        &[
            ("WSGIPROBE_EVENTS_DIR", files.events_dir.as_path()),
            ("PYTHONPATH", Path::new(&path)),
        ],
        log,
        "server",
    )
}

/// Starts a server or nginx in the probe's folder, where the probe finds
/// its events folder.
fn spawn(
    command: &str,
    files: &ProbeFiles,
    log: &Path,
    role: &'static str,
) -> Result<ServerProcess, GatewayError> {
    ServerProcess::spawn(
        command,
        &files.dir,
        &[("WSGIPROBE_EVENTS_DIR", files.events_dir.as_path())],
        log,
        role,
    )
}

/// Time for one readiness request.
const PING_TIMEOUT: Duration = Duration::from_secs(5);

enum Ping {
    /// The probe answered; `SERVER_SOFTWARE` is read separately.
    Probe(Option<String>),
    NotProbe(String),
}

/// What tells that a stack is ready.
enum Ready {
    /// The probe's `ping` scenario answers with its header.
    Probe,
    /// The user's app answers a GET of `path`, whatever the status: the
    /// server is up and the request reached the app (or the server's own
    /// error page for it). Behind a proxy, 502, 503 and 504 are the proxy
    /// saying it cannot reach the server yet. Whether the answer is the
    /// right one is the caller's check (bench validates one response before
    /// measuring).
    App { path: String, proxied: bool },
}

/// One readiness attempt for a user's app.
fn ping_app(target: &Target, path: &str, proxied: bool) -> Result<Ping, String> {
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
        target.authority()
    );
    let response =
        round_trip(target, request.as_bytes(), false, PING_TIMEOUT).map_err(|e| e.to_string())?;
    if proxied && matches!(response.status, 502..=504) {
        return Ok(Ping::NotProbe(format!(
            "the proxy answered {path} with status {}: the server behind it does not answer yet",
            response.status
        )));
    }
    Ok(Ping::Probe(None))
}

/// One readiness attempt: the `ping` scenario must answer with the probe's header.
fn ping(target: &Target, base_path: &str) -> Result<Ping, String> {
    let request = |scenario: &str| {
        format!(
            "GET {base_path} HTTP/1.1\r\nHost: {}\r\n{SCENARIO_HEADER}: {scenario}\r\nConnection: close\r\n\r\n",
            target.authority()
        )
    };
    let exchange = |scenario: &str| {
        round_trip(target, request(scenario).as_bytes(), false, PING_TIMEOUT)
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

/// What the placeholders of a command template stand for.
pub struct Fill<'a> {
    pub python: &'a str,
    pub host: &'a str,
    pub port: u16,
    pub socket: &'a Path,
    pub files: &'a ProbeFiles,
    /// `{app}` is the probe behind `wsgiref.validate`.
    pub validate: bool,
    /// The user's app, hosted instead of the probe.
    pub app: Option<&'a UserApp>,
}

/// Fills the placeholders of a command template, quoting for `sh`.
/// `{app}` and `{app_dir}` are the user's app when there is one, else the
/// probe; `{probe_dir}` is always the probe's folder (where the wsgiref
/// runner lives). A value with a control character is refused: quoted or
/// not, a newline in a command line is asking for trouble.
pub fn expand(template: &str, f: &Fill) -> Result<String, GatewayError> {
    let socket = f.socket.display().to_string();
    let probe_dir = f.files.dir.display().to_string();
    let (app, app_dir) = match f.app {
        Some(a) => (a.callable.clone(), a.dir.display().to_string()),
        None => (probe::app_spec(f.validate).to_string(), probe_dir.clone()),
    };
    for (placeholder, value) in [
        ("{python}", f.python),
        ("{host}", f.host),
        ("{socket}", &socket),
        ("{app_dir}", &app_dir),
        ("{probe_dir}", &probe_dir),
    ] {
        if value.chars().any(char::is_control) {
            return Err(GatewayError::Placeholder {
                placeholder,
                value: value.to_string(),
            });
        }
    }
    Ok(template
        .replace("{python}", &shell_quote(f.python))
        .replace("{socket}", &shell_quote(&socket))
        .replace("{host}", &shell_quote(f.host))
        .replace("{port}", &f.port.to_string())
        .replace("{app}", &app)
        .replace("{app_dir}", &shell_quote(&app_dir))
        .replace("{probe_dir}", &shell_quote(&probe_dir)))
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
