//! How each known server is launched, and how its version is read.
//!
//! A recipe is a command template with the same placeholders `--cmd` takes,
//! so a known server and a user's own command start down the same path.

use std::collections::BTreeMap;
use std::time::Duration;

use super::launch::{run_briefly, GatewayError};

/// The servers wsgiprobe knows how to start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ServerName {
    /// `wsgiref.simple_server` from the standard library (threaded).
    Wsgiref,
    /// Gunicorn, its default sync worker.
    Gunicorn,
    /// Waitress, its default four threads.
    Waitress,
    /// Cheroot (CherryPy's server) through its `python -m cheroot` command line.
    Cheroot,
    /// Granian with its WSGI interface, one worker.
    Granian,
    /// uWSGI from the `pyuwsgi` wheel, one process under a master, `--http-socket`.
    Uwsgi,
}

impl ServerName {
    pub fn as_str(self) -> &'static str {
        match self {
            ServerName::Wsgiref => "wsgiref",
            ServerName::Gunicorn => "gunicorn",
            ServerName::Waitress => "waitress",
            ServerName::Cheroot => "cheroot",
            ServerName::Granian => "granian",
            ServerName::Uwsgi => "uwsgi",
        }
    }

    /// The distribution that provides the server (what `pip install` takes).
    pub fn package(self) -> &'static str {
        match self {
            ServerName::Uwsgi => "pyuwsgi",
            other => other.as_str(),
        }
    }
}

/// The command template of a server.
pub fn template(name: ServerName) -> String {
    match name {
        ServerName::Wsgiref => "{python} wsgiprobe_wsgiref.py {host} {port}".into(),
        // Defaults otherwise: one sync worker is what `gunicorn app:app` runs.
        ServerName::Gunicorn => "{python} -m gunicorn --bind {host}:{port} {app}".into(),
        // Defaults otherwise: four threads, as `waitress-serve app:app` runs.
        ServerName::Waitress => "{python} -m waitress --host={host} --port={port} {app}".into(),
        // `cheroot.cli` (the `cheroot` command) serves the app with
        // `cheroot.wsgi.Server`, ten threads by default.
        ServerName::Cheroot => "{python} -m cheroot --bind {host}:{port} {app}".into(),
        ServerName::Granian => {
            "{python} -m granian --interface wsgi --host {host} --port {port} --workers 1 {app}"
                .into()
        }
        // pyuwsgi is uWSGI built as a Python extension: it has no `__main__`,
        // so `run()` is called from `-c` and reads its options from `sys.argv`.
        // `--http-socket` is uWSGI's own HTTP parser in each worker (no
        // keep-alive, no router process); `--die-on-term` makes SIGTERM stop
        // uWSGI 2.0 rather than reload it; `--need-app` makes a failed import
        // an exit instead of a server answering 500. (`--http11-socket`, which
        // adds keep-alive, gives the same verdicts on uWSGI 2.0.30.)
        ServerName::Uwsgi => "{python} -c 'import sys, pyuwsgi; sys.exit(pyuwsgi.run())' \
             --master --processes 1 --http-socket {host}:{port} --module {app} \
             --need-app --die-on-term --strict"
            .into(),
    }
}

/// Launch options that shape behaviour, recorded with every result.
pub fn options(name: ServerName) -> BTreeMap<String, String> {
    let pairs: &[(&str, &str)] = match name {
        ServerName::Wsgiref => &[
            (
                "server_class",
                "ThreadingMixIn + wsgiref.simple_server.WSGIServer",
            ),
            (
                "handler",
                "wsgiref.simple_server.WSGIRequestHandler (HTTP/1.0)",
            ),
        ],
        ServerName::Gunicorn => &[("worker_class", "sync"), ("workers", "1")],
        ServerName::Waitress => &[("threads", "4")],
        ServerName::Cheroot => &[("server_class", "cheroot.wsgi.Server"), ("threads", "10")],
        ServerName::Granian => &[("interface", "wsgi"), ("workers", "1"), ("http", "auto")],
        ServerName::Uwsgi => &[
            ("socket", "http-socket"),
            ("master", "true"),
            ("processes", "1"),
            ("threads", "off"),
        ],
    };
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The server's version, importing it from `python`; an error when it is
/// not importable, because then it could not start either.
pub fn version(name: ServerName, python: &str) -> Result<Option<String>, GatewayError> {
    if name == ServerName::Wsgiref {
        // Part of the standard library: the Python version is its version.
        return Ok(None);
    }
    // Importing first, so a broken install is caught here and not at launch;
    // the version is the installed distribution's (waitress has no
    // `__version__`, and pyuwsgi's wheel version is what pip pins).
    let module = match name {
        ServerName::Uwsgi => "pyuwsgi",
        other => other.as_str(),
    };
    let code = format!(
        "import {module}, importlib.metadata; print(importlib.metadata.version({:?}))",
        name.package()
    );
    let out = run_briefly(python, &["-c", &code], Duration::from_secs(30)).map_err(|source| {
        GatewayError::Python {
            python: python.to_string(),
            source,
        }
    })?;
    match out {
        Some(o) if o.status.success() => {
            Ok(Some(String::from_utf8_lossy(&o.stdout).trim().to_string()))
        }
        Some(o) => {
            let stderr = String::from_utf8_lossy(&o.stderr);
            Err(GatewayError::NotImportable {
                server: name.as_str().to_string(),
                package: name.package().to_string(),
                python: python.to_string(),
                detail: stderr.lines().last().unwrap_or("import failed").to_string(),
            })
        }
        None => Err(GatewayError::NotImportable {
            server: name.as_str().to_string(),
            package: name.package().to_string(),
            python: python.to_string(),
            detail: "the import did not finish within 30 s".into(),
        }),
    }
}
