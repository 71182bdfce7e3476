//! Why a stack cannot run: refused while planning (nothing started), or
//! failed while starting. Each message says what to do next.

/// A stack the command line asks for that cannot work as given, found
/// before anything starts or any Python runs.
#[derive(Debug, Clone, thiserror::Error)]
pub enum PlanError {
    #[error(
        "unknown server {name:?}{}; known: {known} (a recipe file given with --recipes can add one)",
        suggestion.as_ref().map(|s| format!("; did you mean {s}?")).unwrap_or_default()
    )]
    UnknownServer {
        name: String,
        known: String,
        /// The known name closest to it, when one is close.
        suggestion: Option<String>,
    },
    #[error("{server} does not support {what}")]
    Unsupported { server: String, what: String },
    #[error("{server} has no worker class {class:?}; it takes: {known}")]
    UnknownWorkerClass {
        server: String,
        class: String,
        known: String,
    },
    #[error("--cmd must contain {placeholder} for {why}")]
    CmdPlaceholder {
        placeholder: &'static str,
        why: &'static str,
    },
    #[error("bad --url {url:?}: {detail}")]
    BadUrl { url: String, detail: String },
    #[error("{what} {value:?} has {ch:?} at byte {at}: what goes into a server's command takes no control characters")]
    ControlCharacter {
        what: &'static str,
        value: String,
        at: usize,
        ch: char,
    },
    #[error("bad --app {app:?}: {detail}")]
    BadApp { app: String, detail: String },
}

impl PlanError {
    /// Whether the stack names a server this machine has no recipe for, as
    /// opposed to asking its server for something it lacks. The first is a
    /// stack that cannot start (in a matrix, a column of its own, like a
    /// server that is not installed); the second contradicts itself.
    pub fn is_unknown_server(&self) -> bool {
        matches!(self, PlanError::UnknownServer { .. })
    }
}

/// Why a planned gateway could not be brought up.
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
    #[error("nginx could not be run ({nginx}): {detail}\ninstall it (Debian, Ubuntu: `apt-get install nginx`) or pass --nginx PATH")]
    NginxMissing { nginx: String, detail: String },
    #[error("managed environment {dir}: {detail}")]
    ManagedEnv { dir: String, detail: String },
    #[error("--no-install: {requirement} would be installed into a managed environment in {dir}; drop --no-install to let wsgiprobe install it, or install it into the interpreter --python names")]
    InstallRefused { requirement: String, dir: String },
    #[error("pip found no {requirement}; the newest releases are: {available}")]
    NoSuchVersion {
        requirement: String,
        available: String,
    },
    #[error("the {placeholder} placeholder would be {value:?}, which has a control character; set TMPDIR to a plain folder")]
    Placeholder {
        placeholder: &'static str,
        value: String,
    },
    #[error("interrupted while waiting for the server")]
    Interrupted,
    #[error("could not make the TLS certificate for nginx-tls")]
    Tls(#[source] crate::http::tls::TlsError),
    #[error("no free port on {host}")]
    Port {
        host: String,
        #[source]
        source: std::io::Error,
    },
}
