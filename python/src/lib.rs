//! `wsgiprobe._wsgiprobe`: the Rust side of the Python package.
//!
//! Two entry points, both on the library's command layer in this process
//! (no subprocess):
//!
//! - [`main`] is the `wsgiprobe` command of the wheel: the same
//!   [`wsgiprobe::main_from`] the binary runs, signal handler included (the
//!   console script gives SIGINT back to the default action first, so the
//!   command behaves as the binary does and the process ends with 130).
//! - [`run`] is what the Python API (`wsgiprobe.check`, `bench`, `suite`,
//!   the pytest plugin) calls. It installs no signal handler: the command
//!   runs on a thread of its own while the calling thread, the GIL released
//!   between looks, lets Python run its signal handlers. When one raises
//!   (KeyboardInterrupt on Ctrl-C), the servers are stopped through
//!   `wsgiprobe::gateway::interrupt`, the command is waited for, and the
//!   exception goes to the caller; Python's own SIGINT handling is never
//!   replaced.

use std::sync::Mutex;
use std::time::Duration;

use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;

use wsgiprobe::exit::Signal;
use wsgiprobe::gateway;

create_exception!(
    _wsgiprobe,
    WsgiprobeError,
    PyException,
    "A run could not be done; the message is the command line's."
);
create_exception!(
    _wsgiprobe,
    UsageError,
    WsgiprobeError,
    "Bad arguments: an unknown option, a value out of range, a combination that does not work."
);
create_exception!(
    _wsgiprobe,
    ServerError,
    WsgiprobeError,
    "A server, proxy or stack could not be planned or started."
);

/// One command at a time: the interruption flag the runners poll is the
/// process's.
static RUNNING: Mutex<()> = Mutex::new(());

/// How often the waiting thread lets Python look at pending signals.
const SIGNAL_POLL: Duration = Duration::from_millis(50);

/// Runs the `wsgiprobe` command line `argv` (its first item is the program
/// name) as the binary does and returns the exit code.
#[pyfunction]
fn main(py: Python<'_>, argv: Vec<String>) -> i32 {
    py.detach(|| wsgiprobe::main_from(argv))
}

/// Runs one command line (`argv` without the program name) in this
/// process, without the terminal table, and returns its exit code.
///
/// Raises UsageError for bad arguments, ServerError when a stack cannot be
/// started, WsgiprobeError for anything else the command line reports as an
/// error, and whatever a Python signal handler raises (KeyboardInterrupt)
/// once the servers are stopped.
#[pyfunction]
fn run(py: Python<'_>, argv: Vec<String>) -> PyResult<i32> {
    let args = std::iter::once("wsgiprobe".to_string()).chain(argv);
    let mut cli = wsgiprobe::cli::try_parse_from(args)
        .map_err(|e| UsageError::new_err(e.render().to_string().trim_end().to_string()))?;
    cli.output.no_table = true;

    let _one = loop {
        match RUNNING.try_lock() {
            Ok(guard) => break guard,
            Err(std::sync::TryLockError::Poisoned(p)) => break p.into_inner(),
            Err(std::sync::TryLockError::WouldBlock) => {
                py.detach(|| std::thread::sleep(SIGNAL_POLL));
                py.check_signals()?;
            }
        }
    };
    gateway::reset_interrupt();
    let worker = std::thread::Builder::new()
        .name("wsgiprobe".into())
        .spawn(move || wsgiprobe::dispatch(cli))
        .map_err(|e| WsgiprobeError::new_err(format!("could not start a thread: {e}")))?;
    let mut raised = None;
    while !worker.is_finished() {
        py.detach(|| std::thread::sleep(SIGNAL_POLL));
        if raised.is_none() {
            if let Err(e) = py.check_signals() {
                // Stop the servers now; the command sees the flag, lets the
                // work in flight come back and returns.
                py.detach(|| gateway::interrupt(Signal::Interrupt));
                raised = Some(e);
            }
        }
    }
    let result = worker.join();
    gateway::reset_interrupt();
    if let Some(e) = raised {
        return Err(e);
    }
    match result {
        Ok(Ok(exit)) => Ok(exit.code()),
        Ok(Err(e)) => Err(to_python(&e)),
        Err(_) => Err(WsgiprobeError::new_err(
            "the run panicked; its message is on standard error",
        )),
    }
}

/// The error as the command line prints it (without `wsgiprobe: error: `),
/// as the exception its cause calls for.
fn to_python(e: &anyhow::Error) -> PyErr {
    let mut text = e.to_string();
    for cause in e.chain().skip(1) {
        text.push_str(&format!("\n  caused by: {cause}"));
    }
    let usage = e.chain().any(|c| {
        c.is::<wsgiprobe::limits::RangeError>()
            || c.is::<wsgiprobe::commands::bench::BenchUsage>()
            || c.is::<wsgiprobe::cli::UsageError>()
    });
    if usage {
        UsageError::new_err(text)
    } else if e
        .chain()
        .any(|c| c.is::<gateway::GatewayError>() || c.is::<gateway::PlanError>())
    {
        ServerError::new_err(text)
    } else {
        WsgiprobeError::new_err(text)
    }
}

/// The ids of the cases a check with these `only`/`skip` prefixes (and
/// `specs` folder) would run, in order, without starting anything.
#[pyfunction]
#[pyo3(signature = (only=Vec::new(), skip=Vec::new(), specs=None))]
fn case_ids(only: Vec<String>, skip: Vec<String>, specs: Option<String>) -> PyResult<Vec<String>> {
    use wsgiprobe::spec;
    let set = match &specs {
        Some(dir) => spec::load_dir(std::path::Path::new(dir)),
        None => spec::load_builtin(),
    }
    .map_err(|e| to_python(&anyhow::Error::from(e).context("invalid spec file")))?;
    let cases = spec::select(&set, &spec::Selection { only, skip })
        .map_err(|e| UsageError::new_err(e.to_string()))?;
    Ok(cases.into_iter().map(|c| c.case.id).collect())
}

/// A running stack (a server, and nginx in front when asked), started by
/// [`start_stack`] and stopped by `stop()` or when it is collected.
#[pyclass(module = "wsgiprobe._wsgiprobe")]
struct RunningStack {
    gateway: Mutex<Option<gateway::Gateway>>,
    /// `http://host:port/path` or `unix:/path.sock`.
    #[pyo3(get)]
    url: String,
    /// The stack's short name (`gunicorn+nginx`).
    #[pyo3(get)]
    label: String,
    /// The server's command line.
    #[pyo3(get)]
    command: Option<String>,
}

#[pymethods]
impl RunningStack {
    /// Stops the proxy, then the server, and removes their folder; a
    /// second call does nothing.
    fn stop(&self, py: Python<'_>) {
        let gateway = self.gateway.lock().ok().and_then(|mut g| g.take());
        py.detach(move || drop(gateway));
    }

    /// Whether the stack is still up (not stopped, server not exited).
    fn alive(&self) -> bool {
        self.gateway
            .lock()
            .ok()
            .is_some_and(|g| g.as_ref().is_some_and(|g| g.exited().is_none()))
    }
}

/// Starts the stack a `bench` command line (`argv` without the program
/// name) describes: `--server` or `--cmd`, tuning, `--proxy`, and the
/// user's `--app`/`--app-dir`/`--path`. Returns it running and ready.
#[pyfunction]
fn start_stack(py: Python<'_>, argv: Vec<String>) -> PyResult<RunningStack> {
    use wsgiprobe::cli::{self, Command};
    let args = std::iter::once("wsgiprobe".to_string()).chain(argv);
    let cli = cli::try_parse_from(args)
        .map_err(|e| UsageError::new_err(e.render().to_string().trim_end().to_string()))?;
    let Command::Bench(args) = cli.command else {
        return Err(UsageError::new_err("a stack is described by bench options"));
    };
    let chatty = !cli.output.quiet;
    let plan = (|| -> anyhow::Result<gateway::StackPlan> {
        let app = args.user_app()?;
        let mut specs = args.target.gateway_specs()?;
        if specs.len() != 1 {
            anyhow::bail!("a stack is one server: give one --server (or --cmd)");
        }
        let mut spec = specs.remove(0);
        spec.app = app;
        let planned = cli::planned(&spec)?;
        let label = planned.label;
        planned
            .plan
            .map_err(|e| anyhow::Error::from(e).context(format!("could not start {label}")))
    })()
    .map_err(|e| to_python(&e))?;
    let label = plan.label();
    let started = py.detach(|| {
        let sink = wsgiprobe::commands::events::sink(chatty);
        gateway::Gateway::start(&plan, &sink)
    });
    let gateway = started.map_err(|e| {
        to_python(&anyhow::Error::from(e).context(format!("could not start {label}")))
    })?;
    let url = match &gateway.target {
        wsgiprobe::http::Target::Unix(_) => gateway.target.to_string(),
        target => format!("http://{target}{}", gateway.base_path),
    };
    Ok(RunningStack {
        url,
        label,
        command: gateway.stack.command.clone(),
        gateway: Mutex::new(Some(gateway)),
    })
}

/// The compiled half of the `wsgiprobe` package.
#[pymodule]
fn _wsgiprobe(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(main, m)?)?;
    m.add_function(wrap_pyfunction!(run, m)?)?;
    m.add_function(wrap_pyfunction!(start_stack, m)?)?;
    m.add_function(wrap_pyfunction!(case_ids, m)?)?;
    m.add_class::<RunningStack>()?;
    m.add("WsgiprobeError", m.py().get_type::<WsgiprobeError>())?;
    m.add("UsageError", m.py().get_type::<UsageError>())?;
    m.add("ServerError", m.py().get_type::<ServerError>())?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
